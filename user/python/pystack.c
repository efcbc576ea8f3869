// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Userspace twin of the BPF walker for one-shot stacks. Everything read is
 * bounded the same way: thread and interpreter lists, frame chains, and
 * the chunk sizes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "python/memread.h"
#include "python/pystack.h"

#define MAX_INTERPS 4
#define MAX_THREADS 1024
#define FRAME_CHUNK 128

static unsigned long long rd_u64(pid_t pid, unsigned long long addr)
{
	unsigned long long v = 0;

	if (mem_read(pid_ctx(pid), addr, &v, sizeof(v)))
		return 0;
	return v;
}

static unsigned long long chunk_u64(const unsigned char *c, unsigned int off)
{
	unsigned long long v = 0;

	if (off <= FRAME_CHUNK - 8)
		memcpy(&v, c + off, 8);
	return v;
}

__u32 pystack_code_tag(pid_t pid, const struct py_proc *p,
		       unsigned long long code)
{
	unsigned char b[TAG_CHUNK];
	__u32 first;

	if (!p->tag_len || p->tag_len > TAG_CHUNK ||
	    mem_read(pid_ctx(pid), code + p->tag_start, b, p->tag_len))
		return 0;
	if (p->tag_first + 4 > p->tag_len || p->tag_file + 8 > p->tag_len ||
	    p->tag_name + 8 > p->tag_len || p->tag_lt + 8 > p->tag_len)
		return 0;
	memcpy(&first, b + p->tag_first, 4);
	return py_code_tag(first, chunk_u64(b, p->tag_file),
			   chunk_u64(b, p->tag_name), chunk_u64(b, p->tag_lt));
}

static void walk(pid_t pid, const struct py_proc *p, struct py_thread *t)
{
	const struct py_offsets *o = &p->off;
	unsigned char c[FRAME_CHUNK];
	unsigned long long frame, code, prev, instr;

	frame = rd_u64(pid, t->tstate + o->tstate_frame);
	if (o->frame_link == PY_LINK_CFRAME && frame)
		frame = rd_u64(pid, frame + o->cframe_current_frame);
	for (int i = 0; frame && i < MAX_FRAME_STEPS; i++) {
		if (t->nframes >= MAX_PY_FRAMES) {
			t->flags |= SAMPLE_TRUNCATED;
			return;
		}
		memset(c, 0, sizeof(c));
		if (mem_read(pid_ctx(pid), frame, c, sizeof(c))) {
			/* near the end of a mapping: the fields one by one */
			unsigned int offs[] = { o->frame_code, o->frame_previous,
						o->frame_instr };

			for (int k = 0; k < 3; k++)
				if (offs[k] <= FRAME_CHUNK - 8 &&
				    mem_read(pid_ctx(pid), frame + offs[k],
					     c + offs[k], 8) &&
				    k == 0) {
					t->flags |= SAMPLE_READ_ERROR;
					return;
				}
			if (o->frame_owner < FRAME_CHUNK)
				mem_read(pid_ctx(pid), frame + o->frame_owner,
					 c + o->frame_owner, 1);
		}
		code = chunk_u64(c, o->frame_code) & ~(unsigned long long)o->code_tag_mask;
		prev = chunk_u64(c, o->frame_previous);
		if (o->frame_owner != PY_OFF_NONE && o->frame_owner < FRAME_CHUNK &&
		    c[o->frame_owner] >= o->owner_skip_min) {
			if (t->nframes)
				t->frames[t->nframes - 1].instr |= PY_INSTR_ENTRY;
			frame = prev;
			continue;
		}
		if (prev == frame) {
			t->flags |= SAMPLE_READ_ERROR;
			prev = 0;
		}
		if (code) {
			struct py_frame *f = &t->frames[t->nframes++];

			if (o->instr_kind == PY_INSTR_PTR) {
				unsigned long long ip = chunk_u64(c, o->frame_instr);
				unsigned long long base = code + o->code_adaptive;

				instr = ip >= base ? (ip - base) / 2 : 0;
			} else {
				instr = (__u32)chunk_u64(c, o->frame_instr);
			}
			f->code = code;
			f->instr = instr > 0xffffffffULL ? 0xffffffff : (__u32)instr;
			if (o->instr_kind == PY_INSTR_PTR && instr > 0x7fffffff)
				f->instr = 0x7fffffff;
			if (o->frame_is_entry < FRAME_CHUNK && c[o->frame_is_entry])
				f->instr |= PY_INSTR_ENTRY;
			f->tag = pystack_code_tag(pid, p, code);
		}
		frame = prev;
	}
	if (frame && !(t->flags & SAMPLE_READ_ERROR))
		t->flags |= SAMPLE_TRUNCATED;
}

int pystack_threads(pid_t pid, const struct py_proc *p,
		    struct py_thread_state *out, int max)
{
	const struct py_offsets *o = &p->off;
	unsigned long long interp, ts, holder = 0;
	int n = 0;
	__u32 locked = 0;

	if (!p->runtime)
		return -ENOTSUP;
	if (p->gil_addr &&
	    !mem_read(pid_ctx(pid), p->gil_addr + p->gil_locked, &locked,
		      sizeof(locked)) && locked)
		holder = rd_u64(pid, p->gil_addr + p->gil_last_holder);
	interp = rd_u64(pid, p->runtime + o->runtime_interp_head);
	if (!interp)
		return -EFAULT;
	for (int i = 0; i < MAX_INTERPS && interp; i++) {
		ts = rd_u64(pid, interp + o->interp_threads_head);
		for (int k = 0; k < MAX_THREADS && ts && n < max; k++) {
			struct py_thread_state *t = &out[n++];

			t->tstate = ts;
			t->thread_id = rd_u64(pid, ts + o->tstate_thread_id);
			t->holds_gil = holder && holder == ts;
			ts = rd_u64(pid, ts + o->tstate_next);
		}
		interp = rd_u64(pid, interp + o->interp_next);
	}
	return n;
}

void pystack_walk(pid_t pid, const struct py_proc *p, struct py_thread *t)
{
	t->flags = 0;
	t->nframes = 0;
	walk(pid, p, t);
}

int pystack_read(pid_t pid, const struct py_proc *p, struct py_thread *out,
		 int max)
{
	struct py_thread_state *st;
	int n;

	if (max <= 0)
		return 0;
	st = calloc(max, sizeof(*st));
	if (!st)
		return -ENOMEM;
	n = pystack_threads(pid, p, st, max);
	for (int i = 0; i < n; i++) {
		struct py_thread *t = &out[i];

		memset(t, 0, offsetof(struct py_thread, frames));
		t->tstate = st[i].tstate;
		t->thread_id = st[i].thread_id;
		t->holds_gil = st[i].holds_gil;
		walk(pid, p, t);
	}
	free(st);
	return n;
}

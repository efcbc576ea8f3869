// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "native/mixed.h"

#define MAX_NATIVE 256
#define NAME_LEN 512

struct native_frame {
	char text[NAME_LEN];
	bool eval; /* a C call of the eval loop: stands for Python frames */
};

/* The eval loop's C function: one call per Python frame before 3.11, per
 * run of inlined Python calls from 3.11 on. */
static bool is_eval_loop(const char *sym)
{
	return !strcmp(sym, "_PyEval_EvalFrameDefault") ||
	       !strcmp(sym, "PyEval_EvalFrameDefault");
}

/*
 * Symbolized PCs: elfutils looks a symbol up by scanning the module's
 * whole table (~1 ms for a libpython with debug symbols), and the same PCs
 * come back sample after sample. Bounded; entries of a process are
 * dropped when it exits or execs (mixed_forget).
 */
#define SYMTAB_CAP 65536
struct sym_entry {
	uint64_t pc;
	int pid;	/* 0: free */
	bool caller;
	bool eval;
	char *text;
};
static struct sym_entry *symtab;
static size_t symtab_n;

static size_t sym_hash(int pid, uint64_t pc, bool caller)
{
	uint64_t h = (pc ^ ((uint64_t)pid << 40) ^ caller) * 0x9e3779b97f4a7c15ULL;

	return (h >> 20) & (SYMTAB_CAP - 1);
}

static void symtab_clear(void)
{
	for (size_t i = 0; symtab && i < SYMTAB_CAP; i++) {
		free(symtab[i].text);
		symtab[i] = (struct sym_entry){ 0 };
	}
	symtab_n = 0;
}

void mixed_forget(int pid)
{
	bool any = false;

	for (size_t i = 0; symtab && i < SYMTAB_CAP; i++)
		if (symtab[i].pid == pid)
			any = true;
	/* Open addressing: removing entries would break probe chains, so a
	 * process leaving clears the table; it refills from hot PCs. */
	if (any)
		symtab_clear();
}

void mixed_free(void)
{
	symtab_clear();
	free(symtab);
	symtab = NULL;
}

static void symbolize(struct unwinder *u, int pid, uint64_t pc, bool caller,
		      struct native_frame *out)
{
	char sym[NAME_LEN], mod[128];
	struct sym_entry *e = NULL;
	uint64_t moff = 0;

	if (!symtab)
		symtab = calloc(SYMTAB_CAP, sizeof(*symtab));
	if (symtab) {
		size_t i = sym_hash(pid, pc, caller);

		while (symtab[i].pid && !(symtab[i].pid == pid &&
					  symtab[i].pc == pc &&
					  symtab[i].caller == caller))
			i = (i + 1) & (SYMTAB_CAP - 1);
		e = &symtab[i];
		if (e->pid) {
			snprintf(out->text, NAME_LEN, "%s", e->text);
			out->eval = e->eval;
			return;
		}
	}
	if (unwinder_symbolize(u, pid, pc, caller, sym, sizeof(sym), mod,
			       sizeof(mod), &moff) == 0) {
		out->eval = is_eval_loop(sym);
		snprintf(out->text, NAME_LEN, "%s [%s]", sym, mod[0] ? mod : "?");
	} else {
		out->eval = false;
		snprintf(out->text, NAME_LEN, "0x%llx [%s]",
			 (unsigned long long)moff, mod[0] ? mod : "?");
	}
	/* Names go into ';'-separated stacks. */
	for (char *c = out->text; *c; c++)
		if (*c == ';')
			*c = '_';
	if (!e)
		return;
	if (symtab_n * 4 >= SYMTAB_CAP * 3) {
		symtab_clear();
		e = &symtab[sym_hash(pid, pc, caller)];
	}
	e->text = strdup(out->text);
	if (!e->text)
		return;
	e->pid = pid;
	e->pc = pc;
	e->caller = caller;
	e->eval = out->eval;
	symtab_n++;
}

/* Index one past the outermost frame of the segment starting at i (frames
 * innermost first): up to the frame marked as the eval call's entry. */
static __u32 segment_end(const struct py_offsets *off,
			 const struct sample_event *e, __u32 i)
{
	if (off->instr_kind != PY_INSTR_PTR)
		return i + 1; /* < 3.11: every frame is its own eval call */
	for (; i < e->nframes; i++)
		if (e->frames[i].instr & PY_INSTR_ENTRY)
			return i + 1;
	return e->nframes;
}

unsigned int mixed_stack(struct unwinder *u, struct symcache *sc,
			 const struct py_offsets *off,
			 const struct sample_event *e, size_t size,
			 frame_fn fn, void *ctx)
{
	static struct native_frame nat[MAX_NATIVE];
	/* (kind, index) pairs, innermost first: 0 native, 1 Python */
	static struct {
		unsigned char py;
		unsigned int idx;
	} order[MAX_NATIVE + MAX_PY_FRAMES + 1];
	char frame[NAME_LEN * 2];
	uint64_t pcs[MAX_NATIVE];
	size_t hdr = offsetof(struct sample_event, frames) +
		     (size_t)e->nframes * sizeof(e->frames[0]);
	unsigned int bad = 0, no = 0, split;
	int nn = 0;
	__u32 pi = 0;
	bool truncated = false;

	if (u && e->ustack_len && hdr + e->ustack_len <= size) {
		struct unw_regs regs = {
			.ip = e->regs.ip, .sp = e->regs.sp, .bp = e->regs.bp,
			.bx = e->regs.bx, .r12 = e->regs.r12, .r13 = e->regs.r13,
			.r14 = e->regs.r14, .r15 = e->regs.r15,
		};

		nn = unwinder_unwind(u, e->pid, &regs, (const char *)e + hdr,
				     e->ustack_len, pcs, MAX_NATIVE);
		if (nn < 0)
			nn = 0;
	}
	for (int i = 0; i < nn; i++)
		symbolize(u, e->pid, pcs[i], i > 0, &nat[i]);
	/* Inner ends agree (both start at the sampled instruction): match
	 * eval calls to Python segments from the innermost out. */
	for (int i = 0; i < nn; i++) {
		if (nat[i].eval && pi < e->nframes) {
			__u32 end = segment_end(off, e, pi);

			for (; pi < end; pi++)
				order[no++] = (typeof(order[0])){ 1, pi };
			continue;
		}
		if (nat[i].eval)
			continue; /* an eval call with no frame left: startup */
		order[no++] = (typeof(order[0])){ 0, (unsigned int)i };
	}
	/* Python frames the copied native stack did not reach: outermost. */
	split = no;
	truncated = pi < e->nframes && nn > 0;
	for (; pi < e->nframes; pi++)
		order[no++] = (typeof(order[0])){ 1, pi };
	if (e->flags & SAMPLE_TRUNCATED)
		fn(ctx, "[truncated]");
	else if (e->flags & SAMPLE_READ_ERROR)
		fn(ctx, "[unreadable frames]");
	for (unsigned int k = no; k-- > 0;) {
		if (order[k].py) {
			if (symcache__frame(sc, &e->frames[order[k].idx], frame,
					    sizeof(frame)))
				bad++;
			fn(ctx, frame);
		} else {
			fn(ctx, nat[order[k].idx].text);
		}
		if (truncated && k == split)
			fn(ctx, "[native stack truncated]");
	}
	return bad;
}

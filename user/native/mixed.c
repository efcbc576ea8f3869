// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/array.h"
#include "model/hashidx.h"
#include "native/mixed.h"

#define MAX_NATIVE 256
#define NAME_LEN 512

struct native_frame {
	frame_id id;
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
#define SYMTAB_MAX 65536
struct sym_entry {
	uint64_t pc;
	int pid;
	bool caller;
	bool eval;
	frame_id id;
};
static struct sym_entry *symtab;
static size_t symtab_n, symtab_cap;
static struct hashidx symtab_ix;
static const struct frame_table *symtab_ft; /* the table ids belong to */

static uint64_t sym_hash(int pid, uint64_t pc, bool caller)
{
	return hash_mix(pc ^ ((uint64_t)pid << 40) ^ caller);
}

struct sym_key {
	uint64_t pc;
	int pid;
	bool caller;
};

static bool sym_eq(const void *ctx, uint32_t pos)
{
	const struct sym_key *k = ctx;
	const struct sym_entry *e = &symtab[pos];

	return e->pc == k->pc && e->pid == k->pid && e->caller == k->caller;
}

static void symtab_clear(void)
{
	symtab_n = 0;
	hashidx_clear(&symtab_ix);
}

void mixed_forget(int pid)
{
	/* Entries are not removed one by one: a process leaving clears the
	 * table, and it refills from hot PCs. */
	for (size_t i = 0; i < symtab_n; i++) {
		if (symtab[i].pid == pid) {
			symtab_clear();
			return;
		}
	}
}

void mixed_free(void)
{
	symtab_clear();
	free(symtab);
	hashidx_free(&symtab_ix);
	symtab = NULL;
	symtab_cap = 0;
	symtab_ft = NULL;
}

/* Remembers what PC (pid, caller) symbolized to; bounded, starts over. */
static void sym_keep(const struct sym_key *k, const struct native_frame *out)
{
	if (symtab_n >= SYMTAB_MAX)
		symtab_clear();
	if (array_reserve(&symtab, &symtab_cap, symtab_n + 1, sizeof(*symtab), 1024))
		return;
	if (hashidx_insert(&symtab_ix, sym_hash(k->pid, k->pc, k->caller),
			   (uint32_t)symtab_n))
		return;
	symtab[symtab_n++] = (struct sym_entry){
		.pc = k->pc, .pid = k->pid, .caller = k->caller,
		.eval = out->eval, .id = out->id,
	};
}

/* A native frame "sym [module]"; names go into ';'-separated stacks. */
static frame_id native_frame(struct frame_table *ft, const char *sym,
			     const char *mod)
{
	char name[NAME_LEN];

	snprintf(name, sizeof(name), "%s", sym);
	for (char *c = name; *c; c++)
		if (*c == ';')
			*c = '_';
	return frames_native(ft, name, mod[0] ? mod : "?");
}

static void symbolize(struct unwinder *u, struct frame_table *ft, int pid,
		      uint64_t pc, bool caller, struct native_frame *out)
{
	struct sym_key k = { .pc = pc, .pid = pid, .caller = caller };
	char sym[NAME_LEN], mod[128];
	uint64_t moff = 0;
	long pos;

	if (symtab_ft != ft) { /* another session's table: start over */
		symtab_clear();
		symtab_ft = ft;
	}
	pos = hashidx_find(&symtab_ix, sym_hash(pid, pc, caller), sym_eq, &k);
	if (pos >= 0) {
		out->id = symtab[pos].id;
		out->eval = symtab[pos].eval;
		return;
	}
	if (unwinder_symbolize(u, pid, pc, caller, sym, sizeof(sym), mod,
			       sizeof(mod), &moff) == 0) {
		out->eval = is_eval_loop(sym);
	} else {
		out->eval = false;
		snprintf(sym, sizeof(sym), "0x%llx", (unsigned long long)moff);
	}
	out->id = native_frame(ft, sym, mod);
	if (out->id != FRAME_NONE)
		sym_keep(&k, out);
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

uint32_t mixed_stack(struct unwinder *u, struct frame_table *ft,
		     const struct py_offsets *off, const struct sample_event *e,
		     size_t size, mixed_python_fn python, void *ctx,
		     frame_id *out, uint32_t max)
{
	static struct native_frame nat[MAX_NATIVE];
	/* (kind, index) pairs, innermost first: 0 native, 1 Python */
	static struct {
		unsigned char py;
		unsigned int idx;
	} order[MAX_NATIVE + MAX_PY_FRAMES + 1];
	uint64_t pcs[MAX_NATIVE];
	size_t hdr = offsetof(struct sample_event, frames) +
		     (size_t)e->nframes * sizeof(e->frames[0]);
	unsigned int no = 0, split;
	uint32_t n = 0;
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
		symbolize(u, ft, e->pid, pcs[i], i > 0, &nat[i]);
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
	if ((e->flags & (SAMPLE_TRUNCATED | SAMPLE_READ_ERROR)) && n < max)
		out[n++] = frames_synthetic(ft, (e->flags & SAMPLE_TRUNCATED) ?
							"[truncated]" :
							"[unreadable frames]");
	for (unsigned int k = no; k-- > 0 && n < max;) {
		out[n++] = order[k].py ? python(ctx, &e->frames[order[k].idx]) :
					 nat[order[k].idx].id;
		if (truncated && k == split && n < max)
			out[n++] = frames_synthetic(ft, "[native stack truncated]");
	}
	/* a frame the table had no room for is left out */
	nn = 0;
	for (uint32_t i = 0; i < n; i++)
		if (out[i] != FRAME_NONE)
			out[nn++] = out[i];
	return (uint32_t)nn;
}

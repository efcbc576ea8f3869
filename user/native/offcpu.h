/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_OFFCPU_H
#define PYROGRAPH_OFFCPU_H

#include <stdint.h>

#include "model/frames.h"

/*
 * Joins EV_OFFCPU (the stack when a thread left the CPU) with EV_ONCPU (how
 * long it stayed away), by tid. At most one open interval per thread.
 */
struct offcpu;

/* An interval of thread tid (process pid) that began at start (ktime). */
typedef void (*offcpu_fn)(void *ctx, uint32_t pid, uint32_t tid,
			  const frame_id *stack, uint32_t n, uint32_t nroot,
			  uint64_t start, uint64_t ns);

struct offcpu *offcpu__new(void);
void offcpu__free(struct offcpu *o);
/* Opens an interval with a copy of its stack (nroot root frames first); an older one of the same tid is closed unmeasured
 * (its EV_ONCPU was lost) and counted. Returns 0 or -ENOMEM. */
int offcpu__begin(struct offcpu *o, uint32_t tid, uint32_t pid, uint64_t ktime,
		  const frame_id *stack, uint32_t n, uint32_t nroot);
/* The same for a thread found blocked (blocked since before the recording
 * or before its process was found): no EV_OFFCPU opened it. Replaced by a
 * later begin without counting a loss (the thread ran in between). */
int offcpu__seed(struct offcpu *o, uint32_t tid, uint32_t pid, uint64_t ktime,
		 const frame_id *stack, uint32_t n, uint32_t nroot);
/* Closes tid's interval with ns off the CPU: fn gets its stack. Returns
 * 0, or -ENOENT when no interval was open. */
int offcpu__end(struct offcpu *o, uint32_t tid, uint64_t ns, offcpu_fn fn,
		void *ctx);
/* Closes every open interval at now (same clock as ktime); pid 0: all
 * processes. Threads still blocked when a recording ends count until then. */
void offcpu__close_all(struct offcpu *o, uint32_t pid, uint64_t now,
		       offcpu_fn fn, void *ctx);
/* Intervals closed unmeasured so far. */
uint64_t offcpu__lost(const struct offcpu *o);

#endif

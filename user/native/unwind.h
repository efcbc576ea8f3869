/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_UNWIND_H
#define PYROGRAPH_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Native (C) stacks of other processes, unwound in userspace from a copy of
 * the user stack and registers taken in BPF at the sample. Unwinding uses
 * the modules' CFI (.eh_frame, else .debug_frame) through elfutils libdwfl,
 * because distribution builds have no frame pointers. Only the snapshot is
 * read: the target has moved on by the time we unwind, so its live memory
 * would describe another stack.
 *
 * x86-64 only (unwinder_new() fails with ENOTSUP elsewhere). Not thread
 * safe: one unwinder per thread.
 */

/* The user registers at the sample; those CFI may need to restore callers. */
struct unw_regs {
	uint64_t ip, sp, bp, bx, r12, r13, r14, r15;
};

struct unwinder;

/* NULL and errno on failure. */
struct unwinder *unwinder_new(void);
void unwinder_free(struct unwinder *u);

/* pid exited or exec'd: drop its cached modules (its pid may be reused). */
void unwinder_forget(struct unwinder *u, int pid);

/*
 * Unwinds pid's stack. stack is a copy of the target's memory
 * [regs->sp, regs->sp + len). Fills pcs[] innermost first: pcs[0] is
 * regs->ip, later entries are return addresses (symbolize them with
 * is_caller). Returns the count (>= 1), or a negative errno: -EINVAL for
 * bad arguments or ip 0, -ESRCH when pid's modules cannot be read (gone).
 */
int unwinder_unwind(struct unwinder *u, int pid, const struct unw_regs *regs,
		    const void *stack, size_t len, uint64_t *pcs, int max);

/*
 * Symbolizes pc of pid. is_caller: pc is a return address (pcs[i], i > 0),
 * so pc - 1 is looked up: a call that ends its function returns past it.
 *
 * Fills buf with the function name and module with the module's basename
 * ("[vdso]" for the vDSO, "" when pc is in no module), and *mod_off with the
 * looked-up address in the module's ELF address space (what addr2line -e
 * takes; for shared objects and PIEs the offset from the module's first
 * mapping). module and mod_off may be NULL. Returns 0; -ENOENT when no
 * symbol covers pc (module and mod_off are still filled when pc is in a
 * module, so the caller can print module+offset); -ESRCH when pid's
 * modules cannot be read; -EINVAL for bad arguments.
 */
int unwinder_symbolize(struct unwinder *u, int pid, uint64_t pc, bool is_caller,
		       char *buf, size_t len, char *module, size_t mlen,
		       uint64_t *mod_off);

#endif

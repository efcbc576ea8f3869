/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_HELD_HOOKS_H
#define PYROGRAPH_HELD_HOOKS_H

#include <stdbool.h>

#include "core/syscall_hooks.h"

/*
 * mem's held view: the BPF programs that see a process map, unmap, remap
 * and grow its heaps. The per-syscall tracepoints of mmap, munmap, mremap,
 * brk and mprotect (only those syscalls run BPF), or, where the kernel has
 * none or tracefs cannot be mounted, BPF on every syscall of the host (it
 * tests the number first; a warning says it costs every syscall): the
 * choice is syscall_hooks.h's, as for the event-loop hooks' epoll
 * syscalls.
 */
struct profile_bpf;

#define HELD_HOOK_SYSCALLS 5

struct held_hooks {
	bool on; /* the held view is on */
	struct syscall_hooks sys;
};

/* Before the object is loaded: which programs load (none unless on).
 * Mounts tracefs when needed (so before the capabilities are dropped). */
void held_hooks_choose(struct profile_bpf *skel, bool on, struct held_hooks *h);
/* After the skeleton is attached: the tracepoints. Returns 0 or -errno
 * (and says what failed). */
int held_hooks_attach(struct profile_bpf *skel, struct held_hooks *h);
/* Detaches every hook (the fallback's too). */
void held_hooks_detach(struct profile_bpf *skel, struct held_hooks *h);

#endif

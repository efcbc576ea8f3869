/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_LOOP_HOOKS_H
#define PYROGRAPH_LOOP_HOOKS_H

#include <stdbool.h>

#include "core/syscall_hooks.h"

/*
 * Event-loop timing (async, check, the agent's metrics): the BPF programs
 * that see a thread enter and leave its epoll wait. Either the per-syscall
 * tracepoints of the epoll syscalls (only those syscalls run BPF), or,
 * where the kernel has none or tracefs cannot be mounted, BPF on every
 * syscall of the host (with a warning: it costs every syscall); the choice
 * is syscall_hooks.h's.
 */
struct profile_bpf;

#define LOOP_HOOK_SYSCALLS 3

struct loop_hooks {
	bool on; /* event loops are timed */
	bool have
		[LOOP_HOOK_SYSCALLS]; /* which epoll syscalls have tracepoints */
	struct syscall_hooks sys;
};

/* Before the object is loaded: which programs load (none unless on).
 * Mounts tracefs when needed (so before the capabilities are dropped). */
void loop_hooks_choose(struct profile_bpf *skel, bool on, struct loop_hooks *h);
/* After the skeleton is attached: the tracepoints. Returns 0 or -errno
 * (and says what failed). */
int loop_hooks_attach(struct profile_bpf *skel, struct loop_hooks *h);
/* Detaches every hook (the fallback's too). */
void loop_hooks_detach(struct profile_bpf *skel, struct loop_hooks *h);

#endif

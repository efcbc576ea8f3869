/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_SYSCALL_HOOKS_H
#define PYROGRAPH_SYSCALL_HOOKS_H

#include <stdbool.h>

/*
 * Where BPF sees a few syscalls enter and leave: their own tracepoints
 * (syscalls/sys_enter_NAME, sys_exit_NAME: only those syscalls run BPF),
 * or, where the kernel has none or tracefs cannot be mounted, the
 * fallback of tp_btf/sys_enter and sys_exit, which run for every syscall
 * of the host (~300 ns more per syscall on this VM) and so come with a
 * warning. Event-loop timing (loop_hooks.c) and mem's held view
 * (held_hooks.c) make this choice for their syscalls.
 */
struct bpf_program;
struct bpf_link;

#define SYSCALL_HOOKS_MAX 8 /* syscalls per feature */

struct syscall_hooks {
	bool raw;	 /* the every-syscall fallback */
	const char *dir; /* the tracing directory (tracepoints) */
	int n;
	struct bpf_link *links[2 * SYSCALL_HOOKS_MAX];
};

/*
 * Before the object is loaded: tracepoints or the fallback, for the n
 * syscalls in names. have[i] is set for each syscall with both
 * tracepoints; with need_all, one missing takes the fallback. what names
 * the feature in the warnings ("event loops are timed"). Mounts tracefs
 * when needed (so before the capabilities are dropped).
 */
void syscall_hooks_choose(struct syscall_hooks *h, const char *what,
			  const char *const *names, int n, bool need_all,
			  bool *have);
/* Attaches enter and exit to syscall name's tracepoints; 0, or -errno
 * (said, and every link of h destroyed). */
int syscall_hooks_attach(struct syscall_hooks *h, const char *name,
			 struct bpf_program *enter, struct bpf_program *exit);
/* Destroys the tracepoint links. */
void syscall_hooks_detach(struct syscall_hooks *h);

#endif

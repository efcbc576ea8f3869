// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Which hooks see memory taken and given back (mem's held view), and
 * attaching them: the tracepoints of the five mapping syscalls when the
 * kernel has all of them, else tp_btf/sys_enter and sys_exit, which run
 * for every syscall of the host (~300 ns more per syscall on this VM, as
 * loop_hooks.c measured for the epoll ones). The choice, tracefs and the
 * attaching are syscall_hooks.c's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "core/held_hooks.h"
#include "profile.skel.h"
#include "sys/log.h"

static const char *const held_syscalls[HELD_HOOK_SYSCALLS] = {
	"mmap",
	"munmap",
	"mremap",
	"brk",
	"mprotect",
};

/* The entry program of held_syscalls[i]: the kernel refuses one that
 * reads past the syscall's arguments, so each reads only as many as its
 * syscall has (held.bpf.h). */
static struct bpf_program *enter_prog(struct profile_bpf *skel, int i)
{
	switch (i) {
	case 1:
		return skel->progs.py_held_tp_enter2; /* munmap */
	case 3:
		return skel->progs.py_held_tp_enter0; /* brk */
	case 4:
		return skel->progs.py_held_tp_enter3; /* mprotect */
	default:
		return skel->progs.py_held_tp_enter; /* mmap, mremap */
	}
}

void held_hooks_choose(struct profile_bpf *skel, bool on, struct held_hooks *h)
{
	bool have[HELD_HOOK_SYSCALLS], raw;

	*h = (struct held_hooks){.on = on};
	/* All five, entry and exit: one missing would leave memory taken
	 * and never given back (or the reverse). */
	if (on)
		syscall_hooks_choose(&h->sys, "memory held is watched",
				     held_syscalls, HELD_HOOK_SYSCALLS, true,
				     have);
	raw = h->sys.raw;
	for (int i = 0; i < HELD_HOOK_SYSCALLS; i++) {
		bpf_program__set_autoload(enter_prog(skel, i), on && !raw);
		bpf_program__set_autoattach(enter_prog(skel, i), false);
	}
	bpf_program__set_autoload(skel->progs.py_held_tp_exit, on && !raw);
	bpf_program__set_autoattach(skel->progs.py_held_tp_exit, false);
	bpf_program__set_autoload(skel->progs.py_held_enter, on && raw);
	bpf_program__set_autoload(skel->progs.py_held_exit, on && raw);
}

int held_hooks_attach(struct profile_bpf *skel, struct held_hooks *h)
{
	int err;

	if (!h->on)
		return 0;
	if (h->sys.raw) {
		pr_debug(
			"memory held: seen at tp_btf/sys_enter and sys_exit (every syscall)");
		return 0;
	}
	for (int i = 0; i < HELD_HOOK_SYSCALLS; i++) {
		err = syscall_hooks_attach(&h->sys, held_syscalls[i],
					   enter_prog(skel, i),
					   skel->progs.py_held_tp_exit);
		if (err)
			return err;
	}
	pr_debug(
		"memory held: seen at the tracepoints of mmap, munmap, mremap, brk and mprotect");
	return 0;
}

void held_hooks_detach(struct profile_bpf *skel, struct held_hooks *h)
{
	syscall_hooks_detach(&h->sys);
	bpf_link__destroy(skel->links.py_held_enter);
	skel->links.py_held_enter = NULL;
	bpf_link__destroy(skel->links.py_held_exit);
	skel->links.py_held_exit = NULL;
}

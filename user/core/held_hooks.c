// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Which hooks see memory taken and given back (mem's held view), and
 * attaching them: the tracepoints of the four mapping syscalls when the
 * kernel has all of them, else tp_btf/sys_enter and sys_exit, which run
 * for every syscall of the host (~300 ns more per syscall on this VM, as
 * loop_hooks.c measured for the epoll ones).
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
#include "sys/tracefs.h"

static const char *const held_syscalls[HELD_HOOK_SYSCALLS] = {
	"mmap", "munmap", "mremap", "brk",
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
	default:
		return skel->progs.py_held_tp_enter; /* mmap, mremap */
	}
}

/* All four, entry and exit: one missing would leave memory taken and
 * never given back (or the reverse). */
static bool have_tracepoints(const char *dir)
{
	char name[64];

	for (int i = 0; i < HELD_HOOK_SYSCALLS; i++) {
		snprintf(name, sizeof(name), "sys_enter_%s", held_syscalls[i]);
		if (!tracefs_has_event(dir, "syscalls", name))
			return false;
		snprintf(name, sizeof(name), "sys_exit_%s", held_syscalls[i]);
		if (!tracefs_has_event(dir, "syscalls", name))
			return false;
	}
	return true;
}

/* Tests set this to take the fallback, as loop_hooks.c does (the only way
 * to exercise it here); not a user option. */
#define FORCE_RAW_ENV "PYROGRAPH_TEST_NO_SYSCALL_TRACEPOINTS"

void held_hooks_choose(struct profile_bpf *skel, bool on, struct held_hooks *h)
{
	const char *force = getenv(FORCE_RAW_ENV);
	int err;

	*h = (struct held_hooks){ .on = on };
	if (on && force && *force && strcmp(force, "0")) {
		pr_warn("%s is set: memory held is watched on every syscall (the fallback)",
			FORCE_RAW_ENV);
		h->raw = true;
	} else if (on) {
		h->dir = tracefs_prepare(&err);
		if (!h->dir) {
			pr_warn("cannot mount tracefs at /sys/kernel/tracing (%s): memory held is watched on every syscall instead, which slows every syscall of the host by a few hundred ns; mount it (mount -t tracefs nodev /sys/kernel/tracing) to avoid this",
				strerror(-err));
			h->raw = true;
		} else if (!have_tracepoints(h->dir)) {
			pr_warn("this kernel lacks tracepoints of mmap, munmap, mremap or brk (%s/events/syscalls): memory held is watched on every syscall instead, which slows every syscall of the host by a few hundred ns",
				h->dir);
			h->raw = true;
		}
	}
	for (int i = 0; i < HELD_HOOK_SYSCALLS; i++) {
		bpf_program__set_autoload(enter_prog(skel, i), on && !h->raw);
		bpf_program__set_autoattach(enter_prog(skel, i), false);
	}
	bpf_program__set_autoload(skel->progs.py_held_tp_exit, on && !h->raw);
	bpf_program__set_autoattach(skel->progs.py_held_tp_exit, false);
	bpf_program__set_autoload(skel->progs.py_held_enter, on && h->raw);
	bpf_program__set_autoload(skel->progs.py_held_exit, on && h->raw);
}

int held_hooks_attach(struct profile_bpf *skel, struct held_hooks *h)
{
	char name[64];

	if (!h->on)
		return 0;
	if (h->raw) {
		pr_debug("memory held: seen at tp_btf/sys_enter and sys_exit (every syscall)");
		return 0;
	}
	for (int i = 0; i < HELD_HOOK_SYSCALLS; i++) {
		for (int d = 0; d < 2; d++) {
			struct bpf_program *prog = d ? skel->progs.py_held_tp_exit :
						       enter_prog(skel, i);
			struct bpf_link *l;

			snprintf(name, sizeof(name), "sys_%s_%s", d ? "exit" : "enter",
				 held_syscalls[i]);
			l = bpf_program__attach_tracepoint(prog, "syscalls", name);
			if (!l) {
				int err = -errno;

				pr_err("cannot attach to the tracepoint syscalls/%s: %s",
				       name, strerror(-err));
				held_hooks_detach(skel, h);
				return err;
			}
			h->links[h->n++] = l;
		}
	}
	pr_debug("memory held: seen at the tracepoints of mmap, munmap, mremap and brk");
	return 0;
}

void held_hooks_detach(struct profile_bpf *skel, struct held_hooks *h)
{
	while (h->n)
		bpf_link__destroy(h->links[--h->n]);
	bpf_link__destroy(skel->links.py_held_enter);
	skel->links.py_held_enter = NULL;
	bpf_link__destroy(skel->links.py_held_exit);
	skel->links.py_held_exit = NULL;
}

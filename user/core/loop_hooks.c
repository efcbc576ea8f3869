// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Which hooks time event-loop iterations, and attaching them. The epoll
 * syscalls' own tracepoints (syscalls/sys_enter_epoll_wait and the like)
 * run BPF only for those syscalls; tp_btf/sys_enter and sys_exit run it for
 * every syscall of the host, to test the number: ~300 ns more per syscall
 * on this VM. libbpf finds a tracepoint by its id in tracefs, which some
 * systems do not mount: mounted here when missing (sys/tracefs.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "core/loop_hooks.h"
#include "profile.skel.h"
#include "sys/log.h"
#include "sys/tracefs.h"

static const char *const poll_syscalls[LOOP_HOOK_SYSCALLS] = {
	"epoll_wait", "epoll_pwait", "epoll_pwait2",
};

/*
 * Tests set this to take the fallback as on a kernel without syscall
 * tracepoints (the only way to exercise it here); not a user option.
 */
#define FORCE_RAW_ENV "PYROGRAPH_TEST_NO_SYSCALL_TRACEPOINTS"

/* Which epoll syscalls have both tracepoints; returns how many. */
static int find_tracepoints(struct loop_hooks *h)
{
	char enter[64], exit_[64];
	int n = 0;

	for (int i = 0; i < LOOP_HOOK_SYSCALLS; i++) {
		snprintf(enter, sizeof(enter), "sys_enter_%s", poll_syscalls[i]);
		snprintf(exit_, sizeof(exit_), "sys_exit_%s", poll_syscalls[i]);
		h->have[i] = tracefs_has_event(h->dir, "syscalls", enter) &&
			     tracefs_has_event(h->dir, "syscalls", exit_);
		n += h->have[i];
	}
	return n;
}

void loop_hooks_choose(struct profile_bpf *skel, bool on, struct loop_hooks *h)
{
	const char *force = getenv(FORCE_RAW_ENV);
	int err;

	*h = (struct loop_hooks){ .on = on };
	if (on && force && *force && strcmp(force, "0")) {
		pr_warn("%s is set: event loops are timed on every syscall (the fallback)",
			FORCE_RAW_ENV);
		h->raw = true;
	} else if (on) {
		h->dir = tracefs_prepare(&err);
		if (!h->dir) {
			pr_warn("cannot mount tracefs at /sys/kernel/tracing (%s): event loops are timed on every syscall instead, which slows every syscall of the host by a few hundred ns; mount it (mount -t tracefs nodev /sys/kernel/tracing) to avoid this",
				strerror(-err));
			h->raw = true;
		} else if (!find_tracepoints(h)) {
			pr_warn("this kernel has no tracepoints for the epoll syscalls (%s/events/syscalls): event loops are timed on every syscall instead, which slows every syscall of the host by a few hundred ns",
				h->dir);
			h->raw = true;
		}
	}
	bpf_program__set_autoload(skel->progs.py_poll_enter, on && !h->raw);
	bpf_program__set_autoload(skel->progs.py_poll_exit, on && !h->raw);
	bpf_program__set_autoattach(skel->progs.py_poll_enter, false);
	bpf_program__set_autoattach(skel->progs.py_poll_exit, false);
	bpf_program__set_autoload(skel->progs.py_sys_enter, on && h->raw);
	bpf_program__set_autoload(skel->progs.py_sys_exit, on && h->raw);
}

int loop_hooks_attach(struct profile_bpf *skel, struct loop_hooks *h)
{
	char name[64], list[128] = "";

	if (!h->on)
		return 0;
	if (h->raw) {
		pr_debug("event loops: timed at tp_btf/sys_enter and sys_exit (every syscall)");
		return 0;
	}
	for (int i = 0; i < LOOP_HOOK_SYSCALLS; i++) {
		static const char *const dirs[2] = { "enter", "exit" };

		if (!h->have[i])
			continue;
		for (int d = 0; d < 2; d++) {
			struct bpf_program *prog = d ? skel->progs.py_poll_exit :
						       skel->progs.py_poll_enter;
			struct bpf_link *l;

			snprintf(name, sizeof(name), "sys_%s_%s", dirs[d],
				 poll_syscalls[i]);
			l = bpf_program__attach_tracepoint(prog, "syscalls", name);
			if (!l) {
				int err = -errno;

				pr_err("cannot attach to the tracepoint syscalls/%s: %s",
				       name, strerror(-err));
				loop_hooks_detach(skel, h);
				return err;
			}
			h->links[h->n++] = l;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 list[0] ? ", " : "", poll_syscalls[i]);
	}
	pr_debug("event loops: timed at the tracepoints syscalls/sys_enter_* and sys_exit_* of %s",
		 list);
	return 0;
}

void loop_hooks_detach(struct profile_bpf *skel, struct loop_hooks *h)
{
	while (h->n)
		bpf_link__destroy(h->links[--h->n]);
	bpf_link__destroy(skel->links.py_sys_enter);
	skel->links.py_sys_enter = NULL;
	bpf_link__destroy(skel->links.py_sys_exit);
	skel->links.py_sys_exit = NULL;
}

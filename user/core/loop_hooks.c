// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Which hooks time event-loop iterations, and attaching them. The epoll
 * syscalls' own tracepoints (syscalls/sys_enter_epoll_wait and the like)
 * run BPF only for those syscalls; tp_btf/sys_enter and sys_exit run it for
 * every syscall of the host, to test the number: ~300 ns more per syscall
 * on this VM. The choice, tracefs and the attaching are syscall_hooks.c's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "core/loop_hooks.h"
#include "profile.skel.h"
#include "sys/log.h"

static const char *const poll_syscalls[LOOP_HOOK_SYSCALLS] = {
	"epoll_wait",
	"epoll_pwait",
	"epoll_pwait2",
};

void loop_hooks_choose(struct profile_bpf *skel, bool on, struct loop_hooks *h)
{
	bool raw;

	*h = (struct loop_hooks){.on = on};
	if (on)
		syscall_hooks_choose(&h->sys, "event loops are timed",
				     poll_syscalls, LOOP_HOOK_SYSCALLS, false,
				     h->have);
	raw = h->sys.raw;
	bpf_program__set_autoload(skel->progs.py_poll_enter, on && !raw);
	bpf_program__set_autoload(skel->progs.py_poll_exit, on && !raw);
	bpf_program__set_autoattach(skel->progs.py_poll_enter, false);
	bpf_program__set_autoattach(skel->progs.py_poll_exit, false);
	bpf_program__set_autoload(skel->progs.py_sys_enter, on && raw);
	bpf_program__set_autoload(skel->progs.py_sys_exit, on && raw);
}

int loop_hooks_attach(struct profile_bpf *skel, struct loop_hooks *h)
{
	char list[128] = "";
	int err;

	if (!h->on)
		return 0;
	if (h->sys.raw) {
		pr_debug(
			"event loops: timed at tp_btf/sys_enter and sys_exit (every syscall)");
		return 0;
	}
	for (int i = 0; i < LOOP_HOOK_SYSCALLS; i++) {
		if (!h->have[i])
			continue;
		err = syscall_hooks_attach(&h->sys, poll_syscalls[i],
					   skel->progs.py_poll_enter,
					   skel->progs.py_poll_exit);
		if (err)
			return err;
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", list[0] ? ", " : "", poll_syscalls[i]);
	}
	pr_debug(
		"event loops: timed at the tracepoints syscalls/sys_enter_* and sys_exit_* of %s",
		list);
	return 0;
}

void loop_hooks_detach(struct profile_bpf *skel, struct loop_hooks *h)
{
	syscall_hooks_detach(&h->sys);
	bpf_link__destroy(skel->links.py_sys_enter);
	skel->links.py_sys_enter = NULL;
	bpf_link__destroy(skel->links.py_sys_exit);
	skel->links.py_sys_exit = NULL;
}

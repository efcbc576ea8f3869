// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The per-syscall tracepoints, or the every-syscall fallback, for a
 * feature that watches a few syscalls (see syscall_hooks.h). libbpf finds
 * a tracepoint by its id in tracefs, which some systems do not mount:
 * mounted here when missing (sys/tracefs.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "core/syscall_hooks.h"
#include "sys/log.h"
#include "sys/tracefs.h"

/*
 * Tests set this to take the fallback as on a kernel without syscall
 * tracepoints (the only way to exercise it here); not a user option.
 */
#define FORCE_RAW_ENV "PYROGRAPH_TEST_NO_SYSCALL_TRACEPOINTS"

/* How many of the syscalls have both tracepoints (have[i] for each). */
static int find_tracepoints(const char *dir, const char *const *names, int n,
			    bool *have)
{
	char enter[64], exit_[64];
	int found = 0;

	for (int i = 0; i < n; i++) {
		snprintf(enter, sizeof(enter), "sys_enter_%s", names[i]);
		snprintf(exit_, sizeof(exit_), "sys_exit_%s", names[i]);
		have[i] = tracefs_has_event(dir, "syscalls", enter) &&
			  tracefs_has_event(dir, "syscalls", exit_);
		found += have[i];
	}
	return found;
}

void syscall_hooks_choose(struct syscall_hooks *h, const char *what,
			  const char *const *names, int n, bool need_all,
			  bool *have)
{
	const char *force = getenv(FORCE_RAW_ENV);
	char list[128] = "";
	int err, found;

	*h = (struct syscall_hooks){0};
	if (force && *force && strcmp(force, "0")) {
		pr_warn("%s is set: %s on every syscall (the fallback)",
			FORCE_RAW_ENV, what);
		h->raw = true;
		return;
	}
	h->dir = tracefs_prepare(&err);
	if (!h->dir) {
		pr_warn("cannot mount tracefs at /sys/kernel/tracing (%s): %s on every syscall instead, which slows every syscall of the host by a few hundred ns; mount it (mount -t tracefs nodev /sys/kernel/tracing) to avoid this",
			strerror(-err), what);
		h->raw = true;
		return;
	}
	found = find_tracepoints(h->dir, names, n, have);
	if (found == n || (found && !need_all))
		return;
	for (int i = 0; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", i ? ", " : "", names[i]);
	pr_warn("this kernel lacks tracepoints of %s (%s/events/syscalls): %s on every syscall instead, which slows every syscall of the host by a few hundred ns",
		list, h->dir, what);
	h->raw = true;
}

int syscall_hooks_attach(struct syscall_hooks *h, const char *name,
			 struct bpf_program *enter, struct bpf_program *exit)
{
	char tp[64];

	for (int d = 0; d < 2; d++) {
		struct bpf_link *l;

		if (h->n >= 2 * SYSCALL_HOOKS_MAX) {
			pr_err("more than %d syscalls hooked for one feature",
			       SYSCALL_HOOKS_MAX);
			syscall_hooks_detach(h);
			return -E2BIG;
		}
		snprintf(tp, sizeof(tp), "sys_%s_%s", d ? "exit" : "enter",
			 name);
		l = bpf_program__attach_tracepoint(d ? exit : enter, "syscalls",
						   tp);
		if (!l) {
			int err = -errno;

			pr_err("cannot attach to the tracepoint syscalls/%s: %s",
			       tp, strerror(-err));
			syscall_hooks_detach(h);
			return err;
		}
		h->links[h->n++] = l;
	}
	return 0;
}

void syscall_hooks_detach(struct syscall_hooks *h)
{
	while (h->n)
		bpf_link__destroy(h->links[--h->n]);
}

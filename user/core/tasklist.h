/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_TASKLIST_H
#define PYROGRAPH_TASKLIST_H

#include <sys/types.h>

#include "profile.h"

/*
 * A process's threads as the kernel sees them (bpf/tasks.bpf.c): tid, fs
 * base (a PyThreadState's thread_id), whether and why each is blocked.
 * The program is loaded once and lists any number of processes; on 6.1+
 * kernels a listing visits only that process's threads.
 */
struct tasklist;

/* Loads the iterator (needs CAP_BPF and CAP_PERFMON). 0 or -errno. */
int tasklist_open(struct tasklist **out);
void tasklist_close(struct tasklist *tl);

/* pid's threads, at most max, in *out (malloc'd, the caller frees it).
 * Returns how many, or -errno. */
int tasklist_read(struct tasklist *tl, pid_t pid, struct task_entry **out,
		  int max);

#endif

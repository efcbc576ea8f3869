/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_PROCFS_H
#define PYROGRAPH_PROCFS_H

#include <sys/types.h>

/* The fields of /proc/PID/stat pyrograph uses. */
struct proc_stat {
	char state;			/* R, S, D, Z, X, ... */
	pid_t ppid;
	unsigned long long start_ticks; /* since boot, in clock ticks */
};

/* Returns 0 or a negative errno (-ENOENT once the process is gone). */
int procfs_stat(pid_t pid, struct proc_stat *st);

/* Milliseconds since pid started, or -1. */
long long procfs_age_ms(pid_t pid);

#endif

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

/*
 * Reads up to len-1 bytes of /proc/PID/NAME into buf and NUL-terminates it.
 * Returns the bytes read or a negative errno (-ENOENT once pid is gone).
 */
ssize_t procfs_read(pid_t pid, const char *name, char *buf, size_t len);

/* Returns 0 or a negative errno (-ENOENT once the process is gone). */
int procfs_stat(pid_t pid, struct proc_stat *st);

/* Milliseconds since pid started, or -1. */
long long procfs_age_ms(pid_t pid);

#endif

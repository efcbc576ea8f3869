/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_PROCFS_H
#define PYROGRAPH_PROCFS_H

#include <limits.h>
#include <stdio.h>
#include <sys/types.h>

/* The fields of /proc/PID/stat pyrograph uses. */
struct proc_stat {
	char state;			/* R, S, D, Z, X, ... */
	pid_t ppid;
	unsigned long long start_ticks; /* since boot, in clock ticks */
	unsigned long long cpu_ticks;	/* utime + stime, in clock ticks */
};

/*
 * Reads up to len-1 bytes of /proc/PID/NAME into buf and NUL-terminates it.
 * Returns the bytes read or a negative errno (-ENOENT once pid is gone).
 */
ssize_t procfs_read(pid_t pid, const char *name, char *buf, size_t len);

/* Returns 0 or a negative errno (-ENOENT once the process is gone). */
int procfs_stat(pid_t pid, struct proc_stat *st);

/* One line of /proc/PID/maps. */
struct proc_mapping {
	unsigned long long start, end, offset;
	unsigned long dev_major, dev_minor, inode;
	char perms[5]; /* "r-xp" */
	char path[PATH_MAX]; /* empty for anonymous mappings */
};
/* Parses one maps line into *m; returns 0 or -EINVAL. */
int procfs_parse_maps_line(const char *line, struct proc_mapping *m);

/*
 * The one reader of /proc/PID/maps, a mapping at a time:
 *
 *	struct procfs_maps it;
 *	const struct proc_mapping *m;
 *
 *	if (procfs_maps_open(&it, pid))
 *		return ...;	(-ENOENT: no such process)
 *	while ((m = procfs_maps_next(&it)))
 *		...;
 *	procfs_maps_close(&it);
 *
 * Lines that do not parse are skipped; *m is valid until the next call.
 */
struct procfs_maps {
	FILE *f;
	char *line;
	size_t cap;
	struct proc_mapping m;
};
int procfs_maps_open(struct procfs_maps *it, pid_t pid);
const struct proc_mapping *procfs_maps_next(struct procfs_maps *it);
void procfs_maps_close(struct procfs_maps *it);
/* The mapping of pid that starts at start: 0, or -ENOENT. */
int procfs_mapping_at(pid_t pid, unsigned long long start,
		      struct proc_mapping *m);
/* Resident bytes of pid (/proc/PID/statm), or -1 once it is gone. */
long long procfs_rss_bytes(pid_t pid);
/* Thread tid of process pid as its innermost pid namespace numbers it
 * (the last NSpid of /proc/PID/task/TID/status), or a negative errno. */
pid_t procfs_nstid(pid_t pid, pid_t tid);
/* Milliseconds since pid started, or -1. */
long long procfs_age_ms(pid_t pid);

#endif

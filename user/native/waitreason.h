/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_WAITREASON_H
#define PYROGRAPH_WAITREASON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Why a thread is off the CPU, from what the kernel saw when it left: the
 * syscall it was in, its first argument, and the kernel stack (function
 * names, innermost first). Shared by record --idle and dump.
 */
struct wait_info {
	int syscall;	     /* -1: not in a syscall */
	uint64_t sysarg;     /* first argument (futex word for a futex wait) */
	bool preempted;	     /* still runnable: lost the CPU, did not block */
	bool gil;	     /* the futex word lies in the GIL */
	const char **kfuncs; /* kernel stack, innermost first; may be NULL */
	size_t nkfuncs;
	/* For read/write-like calls (the first argument is a fd): what the fd
	 * points to (readlink of /proc/PID/fd/N), or NULL if unknown. Used
	 * when the kernel stack does not tell. */
	const char *fd_target;
};

/* Whether syscall nr takes a file descriptor as its first argument and
 * may block on what it refers to (read, write, preadv, sendfile, ...). */
bool syscall_io_fd(int nr);

/*
 * A bracketed leaf label: "[sleep]", "[lock]", "[GIL wait]", ...; a
 * syscall without a category is named ("[fsync]"), formatted into buf.
 */
const char *wait_reason(const struct wait_info *w, char *buf, size_t len);

/* Name of an x86-64 syscall for display, or NULL when not in the table. */
const char *syscall_name(int nr);

#endif

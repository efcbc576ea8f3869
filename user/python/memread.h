/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_MEMREAD_H
#define PYROGRAPH_MEMREAD_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Reads len bytes at addr of process pid without stopping it.
 * Returns 0 on a full read, a negative errno otherwise (-ESRCH once the
 * process is gone, -EFAULT for unmapped memory or a short read).
 * Signature matches py_read_fn with ctx = (void *)(long)pid.
 */
int mem_read(void *pid_ctx, unsigned long long addr, void *buf, size_t len);

static inline void *pid_ctx(pid_t pid)
{
	return (void *)(long)pid;
}

#endif

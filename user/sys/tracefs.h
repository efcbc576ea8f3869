/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_TRACEFS_H
#define PYROGRAPH_TRACEFS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The tracing directory libbpf reads tracepoint ids from: the debugfs one
 * when it exists (mounted on demand by the kernel), else tracefs's own
 * mount point, which is mounted here (tracefs, "nodev") when nothing is:
 * it is not by default on some systems. Left mounted, as a system that
 * mounts it at boot has it. Needs CAP_SYS_ADMIN: call before the
 * capabilities are dropped. Returns the directory, or NULL with *err set
 * to the negative errno of the failed mount.
 */
const char *tracefs_prepare(int *err);

/* Does the tracing directory dir have the event category/name? */
bool tracefs_has_event(const char *dir, const char *category, const char *name);

#endif

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "sys/log.h"
#include "sys/tracefs.h"

#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC 0x74726163
#endif

/* The same two places, in the same order, as libbpf's tracefs_path(). */
#define DEBUGFS_TRACING "/sys/kernel/debug/tracing"
#define TRACEFS_DIR "/sys/kernel/tracing"

const char *tracefs_prepare(int *err)
{
	struct statfs sf;
	struct stat st;

	*err = 0;
	if (!stat(DEBUGFS_TRACING, &st))
		return DEBUGFS_TRACING;
	if (!statfs(TRACEFS_DIR, &sf) && sf.f_type == TRACEFS_MAGIC)
		return TRACEFS_DIR;
	if (mount("nodev", TRACEFS_DIR, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL)) {
		*err = -errno;
		return NULL;
	}
	pr_debug("mounted tracefs at %s (it was not mounted)", TRACEFS_DIR);
	return TRACEFS_DIR;
}

bool tracefs_has_event(const char *dir, const char *category, const char *name)
{
	char path[256];
	int n = snprintf(path, sizeof(path), "%s/events/%s/%s/id", dir, category,
			 name);

	return n > 0 && (size_t)n < sizeof(path) && !access(path, R_OK);
}

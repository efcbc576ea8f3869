/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_TARGETFILE_H
#define PYROGRAPH_TARGETFILE_H

#include <sys/types.h>

#include "sys/procfs.h"

/*
 * A file of a target process (an ELF it maps, a source file its code
 * names), opened so that the target cannot steer us to another file: see
 * targetfile.c. fd is read-only and a regular file; path names that same
 * open file ("/proc/self/fd/N") for libraries that take a path (libbpf's
 * attach calls, libdwfl), so what they parse and probe is what was checked.
 * Keep it open until they are done.
 */
struct target_file {
	int fd; /* -1: not open */
	dev_t dev;
	ino_t ino;
	off_t size;
	char path[32];
	/* how it was reached: map_files, its name in the process's root, or
	 * its name in ours (a chroot's maps name files from our root) */
	enum { TF_MAP_FILES, TF_IN_ROOT, TF_OUR_ROOT } via;
};
#define TARGET_FILE_INIT { .fd = -1 }

/*
 * The file behind mapping m of process pid (a line of its /proc/PID/maps):
 * /proc/PID/map_files/START-END, else m->path looked up in the process's
 * root (RESOLVE_IN_ROOT) or, for a process that only chroot'ed, in ours,
 * kept only if it is the mapped device and inode. Returns 0, or:
 *   -ESTALE  a file is at that path, but not the one mapped: refused
 *   -EINVAL  not a regular file (a FIFO, a device): never opened
 *   -ENOENT  nothing there (an anonymous mapping, a deleted file and no
 *            map_files), or another negative errno.
 */
int targetfile_open_mapped(pid_t pid, const struct proc_mapping *m,
			   struct target_file *tf);

/*
 * A file process pid names by path, with nothing to check it against (a
 * code object's file): looked up inside its root only (RESOLVE_IN_ROOT:
 * absolute symlinks and ".." stay in it, no /proc magic links), a regular
 * file of at most max_size bytes (0: any size), not on a pseudo file
 * system (/proc, /sys, ...). Returns 0, -EINVAL (not a regular file),
 * -EFBIG, -ENOSYS (no openat2: refused) or another negative errno.
 */
int targetfile_open_in_root(pid_t pid, const char *path, off_t max_size,
			    struct target_file *tf);

/* Closes tf; safe on a closed one (or one set to TARGET_FILE_INIT). */
void targetfile_close(struct target_file *tf);

/* Why targetfile_open_* failed, for a message ("not the file it maps"). */
const char *targetfile_strerror(int err);

#endif

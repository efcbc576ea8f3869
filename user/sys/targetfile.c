// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The one way pyrograph reaches a target's files.
 *
 * A path under /proc/PID/root is walked inside the target's root, but an
 * absolute symlink met on the way restarts from our root: a container that
 * plants /tmp/x -> /etc/shadow makes /proc/PID/root/tmp/x the host's file.
 * A path read from /proc/PID/maps can also be swapped for a symlink before
 * it is opened. So:
 *  - a mapped file is opened through /proc/PID/map_files/START-END, the
 *    mapped file itself whatever is at its path now; where the kernel
 *    refuses that, by its path (openat2 with RESOLVE_IN_ROOT from the
 *    process's root, or from ours for a process that only chroot'ed, whose
 *    maps name files from our root) and kept only if it is the mapped
 *    device and inode;
 *  - a file the target only names (a source file) is looked up inside its
 *    root only, with RESOLVE_IN_ROOT, and never on /proc, /sys and the like;
 *  - every lookup is O_PATH first and only a regular file is opened for
 *    reading: opening a FIFO or a device can block or have side effects;
 *  - the caller parses the fd, and hands /proc/self/fd/N (the same open
 *    file) to libraries that take a path, so what is parsed, and what is
 *    probed, is the file that was checked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sys/targetfile.h"

#ifndef SYS_openat2
#define SYS_openat2 437 /* the same number on every architecture */
#endif

/* O_PATH lookup of path inside the root of pid: -errno, or the fd. */
static int lookup_in_root(pid_t pid, const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	char root[64];
	int rootfd, fd;

	snprintf(root, sizeof(root), "/proc/%d/root", pid);
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return -errno;
	/* Without openat2 (before Linux 5.6, or a seccomp filter) there is
	 * no confined lookup: -ENOSYS/-EPERM, and nothing is opened. */
	fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	if (fd < 0)
		fd = -errno;
	close(rootfd);
	return fd;
}

/* Files there are the kernel's, not sources or programs. */
static bool pseudo_fs(int fd)
{
	static const long magic[] = {
		PROC_SUPER_MAGIC, SYSFS_MAGIC,	      DEBUGFS_MAGIC,
		TRACEFS_MAGIC,	  SECURITYFS_MAGIC,   SELINUX_MAGIC,
		CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC, EFIVARFS_MAGIC,
		BPF_FS_MAGIC,	  PSTOREFS_MAGIC,     NSFS_MAGIC,
		DEVPTS_SUPER_MAGIC,
	};
	struct statfs sf;

	if (fstatfs(fd, &sf))
		return true;
	for (size_t i = 0; i < sizeof(magic) / sizeof(magic[0]); i++)
		if ((long)sf.f_type == magic[i])
			return true;
	return false;
}

/*
 * Opens the O_PATH fd pfd (closed here) for reading if it is a regular
 * file and, when m is given, the inode m maps (and its device, unless
 * same_file: map_files is the mapped file, and btrfs shows subvolume
 * devices in stat() but not in the maps).
 */
static int open_checked(int pfd, const struct proc_mapping *m, bool same_file,
			off_t max_size, struct target_file *tf)
{
	char self[32];
	struct stat st;
	int fd, ret = 0;

	if (fstat(pfd, &st)) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		goto out;
	}
	if (m && (st.st_ino != m->inode ||
		  (!same_file && (major(st.st_dev) != m->dev_major ||
				  minor(st.st_dev) != m->dev_minor)))) {
		ret = -ESTALE;
		goto out;
	}
	if (max_size && st.st_size > max_size) {
		ret = -EFBIG;
		goto out;
	}
	/* The O_PATH fd's own inode, now for reading: no second lookup. */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	tf->fd = fd;
	tf->dev = st.st_dev;
	tf->ino = st.st_ino;
	tf->size = st.st_size;
	snprintf(tf->path, sizeof(tf->path), "/proc/self/fd/%d", fd);
out:
	close(pfd);
	return ret;
}

/* Keeps the most telling of two failures: a refusal over "not found". */
static int worse(int a, int b)
{
	if (a == -ESTALE || b == -ESTALE)
		return -ESTALE;
	if (a == -EINVAL || b == -EINVAL)
		return -EINVAL;
	return a && a != -ENOENT ? a : b;
}

int targetfile_open_mapped(pid_t pid, const struct proc_mapping *m,
			   struct target_file *tf)
{
	char path[96];
	int pfd, ret, err, how;

	*tf = (struct target_file)TARGET_FILE_INIT;
	if (!m->inode)
		return -ENOENT;
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", pid,
		 m->start, m->end);
	pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd >= 0) {
		tf->via = TF_MAP_FILES;
		return open_checked(pfd, m, true, 0, tf);
	}
	/* map_files needs CAP_CHECKPOINT_RESTORE (CAP_SYS_ADMIN before
	 * 5.9), and the mapping may have moved: then the name, checked
	 * against the mapping, inside the process's root, then in ours. */
	ret = -errno;
	if (m->path[0] != '/')
		return ret;
	for (how = 0; how < 2; how++) {
		if (how == 0) {
			pfd = lookup_in_root(pid, m->path);
		} else {
			pfd = open(m->path, O_PATH | O_CLOEXEC);
			pfd = pfd < 0 ? -errno : pfd;
		}
		err = pfd < 0 ? pfd : open_checked(pfd, m, false, 0, tf);
		if (!err) {
			tf->via = how == 0 ? TF_IN_ROOT : TF_OUR_ROOT;
			return 0;
		}
		ret = worse(ret, err);
	}
	return ret;
}

int targetfile_open_in_root(pid_t pid, const char *path, off_t max_size,
			    struct target_file *tf)
{
	int pfd;

	*tf = (struct target_file)TARGET_FILE_INIT;
	if (path[0] != '/' || strlen(path) >= PATH_MAX)
		return -EINVAL;
	pfd = lookup_in_root(pid, path);
	if (pfd < 0)
		return pfd;
	if (pseudo_fs(pfd)) {
		close(pfd);
		return -EINVAL;
	}
	tf->via = TF_IN_ROOT;
	return open_checked(pfd, NULL, false, max_size, tf);
}

void targetfile_close(struct target_file *tf)
{
	if (tf->fd >= 0)
		close(tf->fd);
	*tf = (struct target_file)TARGET_FILE_INIT;
}

const char *targetfile_strerror(int err)
{
	switch (err) {
	case -ESTALE:
		return "another file than the one it maps is at its path";
	case -EINVAL:
		return "not a regular file";
	case -EFBIG:
		return "too large";
	case -ENOSYS:
		return "no openat2() to look it up inside the process's root";
	default:
		return strerror(-err);
	}
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * user/sys/targetfile.c and the maps iterator (user/sys/procfs.c), run as
 * root against this process and a child chrooted into a scratch tree:
 * the mapped file is the mapped inode, a planted symlink (absolute or
 * "..") never leads out of the child's root, a file at a mapping's path
 * that is not the mapped inode is refused, FIFOs and pseudo-file-system
 * files are never opened (an alarm fails the test if an open blocks).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sys/procfs.h"
#include "sys/targetfile.h"

#include "check.h"

CHECK_COUNTERS;

static char dir[] = "/tmp/test_targetfile.XXXXXX";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f)) {
		perror(path);
		exit(2);
	}
}

static char *at(const char *rel)
{
	static char buf[4][PATH_MAX];
	static int i;
	char *p = buf[i++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", dir, rel);
	return p;
}

/* The content of tf, NUL-terminated, or "" on error. */
static const char *slurp(const struct target_file *tf)
{
	static char buf[256];
	ssize_t n = pread(tf->fd, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* A mapping line for path as it is now, at an address range no process
 * has mapped (so map_files has nothing there and the name is used). */
static struct proc_mapping fake_mapping(const char *name, const char *ino_of)
{
	struct proc_mapping m = { .start = 0x1000, .end = 0x2000 };
	struct stat st;

	if (stat(ino_of, &st)) {
		perror(ino_of);
		exit(2);
	}
	m.inode = st.st_ino;
	m.dev_major = major(st.st_dev);
	m.dev_minor = minor(st.st_dev);
	snprintf(m.path, sizeof(m.path), "%s", name);
	return m;
}

static void test_maps_iterator(void)
{
	unsigned long long self = (unsigned long long)(uintptr_t)&test_maps_iterator;
	const struct proc_mapping *m;
	struct proc_mapping at_start;
	char exe[PATH_MAX] = "";
	struct procfs_maps it;
	int n = 0, hits = 0;
	ssize_t len;

	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[len > 0 ? len : 0] = '\0';
	CHECK(procfs_maps_open(&it, getpid()) == 0, "open own maps");
	while ((m = procfs_maps_next(&it))) {
		n++;
		if (m->start <= self && self < m->end) {
			hits++;
			CHECK(!strcmp(m->path, exe), "%s vs %s", m->path, exe);
			CHECK(m->perms[2] == 'x' && m->inode, "%s %lu", m->perms, m->inode);
			at_start = *m;
		}
	}
	procfs_maps_close(&it);
	CHECK(n > 5 && hits == 1, "%d mappings, %d with this function", n, hits);
	CHECK(procfs_mapping_at(getpid(), at_start.start, &at_start) == 0 &&
		      at_start.start <= self && self < at_start.end,
	      "mapping at %llx", at_start.start);
	CHECK(procfs_mapping_at(getpid(), 1, &at_start) == -ENOENT, "no mapping at 1");
	CHECK(procfs_maps_open(&it, 0x7ffffff0) == -ENOENT, "no such process");
	procfs_maps_close(&it);
}

static void test_own_mapping(void)
{
	unsigned long long self = (unsigned long long)(uintptr_t)&test_own_mapping;
	struct target_file tf = TARGET_FILE_INIT;
	struct proc_mapping m, fake;
	struct stat exe, viapath;
	char path[32];
	struct procfs_maps it;
	const struct proc_mapping *cur;

	CHECK(procfs_maps_open(&it, getpid()) == 0, "maps");
	while ((cur = procfs_maps_next(&it)))
		if (cur->start <= self && self < cur->end)
			m = *cur;
	procfs_maps_close(&it);
	CHECK(stat("/proc/self/exe", &exe) == 0, "stat exe");
	/* through map_files */
	CHECK(targetfile_open_mapped(getpid(), &m, &tf) == 0, "own text");
	CHECK(tf.fd >= 0 && tf.ino == exe.st_ino && tf.dev == exe.st_dev, "inode %lu", (unsigned long)tf.ino);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", tf.fd);
	CHECK(!strcmp(tf.path, path), "%s", tf.path);
	CHECK(stat(tf.path, &viapath) == 0 && viapath.st_ino == exe.st_ino, "path names the fd");
	targetfile_close(&tf);
	CHECK(tf.fd == -1, "closed");
	targetfile_close(&tf);
	/* by name, at a range with nothing mapped: still the mapped inode */
	fake = m;
	fake.start = 0x1000;
	fake.end = 0x2000;
	CHECK(targetfile_open_mapped(getpid(), &fake, &tf) == 0 && tf.ino == exe.st_ino,
	      "by name");
	targetfile_close(&tf);
	/* the mapping's inode number on another device: refused */
	fake.dev_minor ^= 1;
	CHECK(targetfile_open_mapped(getpid(), &fake, &tf) == -ESTALE && tf.fd == -1,
	      "another device");
	fake.inode = 0;
	CHECK(targetfile_open_mapped(getpid(), &fake, &tf) == -ENOENT, "anonymous");
}

/* The file at a mapping's path is swapped: a symlink to another file,
 * a FIFO, a file with another inode. Only the mapped inode is opened. */
static void test_swapped_path(void)
{
	struct target_file tf = TARGET_FILE_INIT;
	struct proc_mapping m;

	write_file(at("lib.so"), "the mapped file\n");
	write_file(at("host.so"), "HOST FILE\n");
	m = fake_mapping(at("lib.so"), at("lib.so"));
	CHECK(targetfile_open_mapped(getpid(), &m, &tf) == 0 &&
		      !strcmp(slurp(&tf), "the mapped file\n"),
	      "the mapped file by name: %s", slurp(&tf));
	targetfile_close(&tf);
	/* the same name, now an absolute symlink to another file */
	CHECK(rename(at("lib.so"), at("lib.so.moved")) == 0, "rename");
	CHECK(symlink(at("host.so"), at("lib.so")) == 0, "symlink");
	CHECK(targetfile_open_mapped(getpid(), &m, &tf) == -ESTALE && tf.fd == -1,
	      "symlink to another file refused");
	unlink(at("lib.so"));
	CHECK(mkfifo(at("lib.so"), 0600) == 0, "mkfifo");
	CHECK(targetfile_open_mapped(getpid(), &m, &tf) == -EINVAL && tf.fd == -1,
	      "FIFO never opened");
	unlink(at("lib.so"));
	CHECK(targetfile_open_mapped(getpid(), &m, &tf) == -ENOENT, "gone");
	CHECK(!strcmp(targetfile_strerror(-ESTALE),
		      "another file than the one it maps is at its path"), "message");
}

/* A child chrooted into dir/root: looked up inside its root only. */
static void test_in_root(void)
{
	struct target_file tf = TARGET_FILE_INIT;
	struct proc_mapping m;
	char big[4096];
	int go[2], ret;
	pid_t child;

	if (mkdir(at("root"), 0755) || mkdir(at("root/tmp"), 0755) ||
	    mkdir(at("root/lib"), 0755)) {
		perror("mkdir");
		exit(2);
	}
	write_file(at("secret.txt"), "HOST SECRET await x\n");
	write_file(at("root/tmp/own.py"), "x = 1\nawait y\n");
	write_file(at("root/lib/libc.so"), "tenant libc\n");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file(at("root/tmp/big.py"), big);
	/* an absolute symlink, and a relative one climbing out */
	CHECK(symlink(at("secret.txt"), at("root/tmp/evil.py")) == 0, "abs symlink");
	CHECK(symlink("../../../../../../../secret.txt", at("root/tmp/climb.py")) == 0, "rel symlink");
	CHECK(symlink("/lib/libc.so", at("root/tmp/inside.py")) == 0, "inside symlink");
	CHECK(mkfifo(at("root/tmp/fifo.py"), 0600) == 0, "fifo");
	if (pipe(go)) {
		perror("pipe");
		exit(2);
	}
	child = fork();
	if (child == 0) {
		if (chroot(at("root")) || chdir("/"))
			_exit(1);
		write(go[1], "x", 1);
		pause();
		_exit(0);
	}
	close(go[1]);
	CHECK(read(go[0], big, 1) == 1, "child chrooted");
	close(go[0]);

	ret = targetfile_open_in_root(child, "/tmp/own.py", 0, &tf);
	CHECK(ret == 0 && !strcmp(slurp(&tf), "x = 1\nawait y\n"), "own file: %d", ret);
	targetfile_close(&tf);
	ret = targetfile_open_in_root(child, "/tmp/evil.py", 0, &tf);
	CHECK(ret == -ENOENT && tf.fd == -1, "absolute symlink stays inside: %d %s", ret,
	      slurp(&tf));
	ret = targetfile_open_in_root(child, "/tmp/climb.py", 0, &tf);
	CHECK(ret == -ENOENT && tf.fd == -1, "'..' stays inside: %d", ret);
	ret = targetfile_open_in_root(child, "/tmp/inside.py", 0, &tf);
	CHECK(ret == 0 && !strcmp(slurp(&tf), "tenant libc\n"), "symlink inside the root: %d", ret);
	targetfile_close(&tf);
	ret = targetfile_open_in_root(child, "/tmp/fifo.py", 0, &tf);
	CHECK(ret == -EINVAL && tf.fd == -1, "FIFO: %d", ret);
	ret = targetfile_open_in_root(child, "/tmp/big.py", 100, &tf);
	CHECK(ret == -EFBIG && tf.fd == -1, "size bound: %d", ret);
	ret = targetfile_open_in_root(child, "tmp/own.py", 0, &tf);
	CHECK(ret == -EINVAL, "relative name: %d", ret);
	/* pseudo file systems, in our own root */
	ret = targetfile_open_in_root(getpid(), "/proc/self/status", 0, &tf);
	CHECK(ret == -EINVAL && tf.fd == -1, "/proc: %d", ret);
	ret = targetfile_open_in_root(getpid(), "/sys/kernel/mm/transparent_hugepage/enabled", 0, &tf);
	CHECK(ret == -EINVAL || ret == -ENOENT, "/sys: %d", ret);

	/* a mapping of the child named by a path in its root (map_files has
	 * nothing at the fake range): the mapped inode or nothing */
	m = fake_mapping("/lib/libc.so", at("root/lib/libc.so"));
	ret = targetfile_open_mapped(child, &m, &tf);
	CHECK(ret == 0 && !strcmp(slurp(&tf), "tenant libc\n"), "mapped in root: %d", ret);
	targetfile_close(&tf);
	/* its name swapped for an absolute symlink to a host file */
	CHECK(rename(at("root/lib/libc.so"), at("root/lib/libc.so.real")) == 0, "rename");
	CHECK(symlink(at("secret.txt"), at("root/lib/libc.so")) == 0, "symlink");
	ret = targetfile_open_mapped(child, &m, &tf);
	CHECK(ret != 0 && tf.fd == -1, "swapped libc refused: %d", ret);
	/* ... even with the host file's own inode in the mapping line, the
	 * lookup in its root never reaches the host file */
	m = fake_mapping("/lib/libc.so", at("secret.txt"));
	ret = targetfile_open_mapped(child, &m, &tf);
	CHECK(ret != 0 && tf.fd == -1, "host file never reached: %d", ret);

	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

static void cleanup(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "test_targetfile needs root (chroot, map_files)\n");
		printf("0 passed, 1 failed\n");
		return 1;
	}
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	/* an open that blocks (a FIFO) fails the test instead of hanging it */
	alarm(60);
	test_maps_iterator();
	test_own_mapping();
	test_swapped_path();
	test_in_root();
	cleanup();
	return CHECK_SUMMARY();
}

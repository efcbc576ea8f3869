// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Off-CPU reasons. The syscall number says what the thread asked for; the
 * kernel stack says what it is actually waiting on where the syscall alone
 * is ambiguous (a read() may wait on a disk, a socket, a pipe or a tty).
 */
#include <stdio.h>
#include <string.h>

#include "native/waitreason.h"

static const struct {
	int nr;
	const char *name;
} sysnames[] = {
	{ 0, "read" },		{ 1, "write" },		{ 2, "open" },
	{ 3, "close" },		{ 7, "poll" },		{ 17, "pread64" },
	{ 18, "pwrite64" },	{ 19, "readv" },	{ 20, "writev" },
	{ 23, "select" },	{ 34, "pause" },	{ 35, "nanosleep" },
	{ 40, "sendfile" },	{ 42, "connect" },	{ 43, "accept" },
	{ 44, "sendto" },	{ 45, "recvfrom" },	{ 46, "sendmsg" },
	{ 47, "recvmsg" },	{ 61, "wait4" },	{ 74, "fsync" },
	{ 75, "fdatasync" },	{ 128, "rt_sigtimedwait" }, { 130, "rt_sigsuspend" },
	{ 162, "sync" },	{ 202, "futex" },	{ 230, "clock_nanosleep" },
	{ 232, "epoll_wait" },	{ 247, "waitid" },	{ 257, "openat" },
	{ 270, "pselect6" },	{ 271, "ppoll" },	{ 275, "splice" },
	{ 277, "sync_file_range" }, { 281, "epoll_pwait" }, { 285, "fallocate" },
	{ 288, "accept4" },	{ 295, "preadv" },	{ 296, "pwritev" },
	{ 299, "recvmmsg" },	{ 306, "syncfs" },	{ 307, "sendmmsg" },
	{ 326, "copy_file_range" }, { 327, "preadv2" },	{ 328, "pwritev2" },
	{ 441, "epoll_pwait2" }, { 449, "futex_waitv" },
};

const char *syscall_name(int nr)
{
	for (size_t i = 0; i < sizeof(sysnames) / sizeof(sysnames[0]); i++)
		if (sysnames[i].nr == nr)
			return sysnames[i].name;
	return NULL;
}

static bool prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

/* What the kernel stack says a blocked I/O call waits on, or NULL. */
static const char *kstack_kind(const struct wait_info *w)
{
	static const struct {
		const char *prefix;
		const char *reason;
	} pats[] = {
		{ "exc_page_fault", "[page fault]" },
		{ "asm_exc_page_fault", "[page fault]" },
		{ "handle_mm_fault", "[page fault]" },
		{ "tcp_", "[network]" },
		{ "udp", "[network]" },
		{ "unix_", "[network]" },
		{ "inet_", "[network]" },
		{ "sk_wait", "[network]" },
		{ "sock_", "[network]" },
		{ "__skb_wait", "[network]" },
		{ "pipe_", "[pipe]" },
		{ "n_tty", "[tty]" },
		{ "tty_", "[tty]" },
		{ "io_schedule", "[disk I/O]" },
		{ "folio_wait", "[disk I/O]" },
		{ "blk", "[disk I/O]" },
		{ "bio_", "[disk I/O]" },
		{ "submit_bio", "[disk I/O]" },
		{ "iomap_dio", "[disk I/O]" },
		{ "__iomap_dio", "[disk I/O]" },
		{ "jbd2", "[disk I/O]" },
		{ "ext4_", "[disk I/O]" },
		{ "xfs_", "[disk I/O]" },
		{ "btrfs_", "[disk I/O]" },
		{ "filemap_", "[disk I/O]" },
		{ "ep_poll", "[poll]" },
		{ "do_sys_poll", "[poll]" },
		{ "do_select", "[poll]" },
		{ "futex_", "[lock]" },
	};

	/* Innermost match wins: a socket read that faults is a page fault. */
	for (size_t i = 0; i < w->nkfuncs; i++) {
		const char *f = w->kfuncs[i];

		if (!f)
			continue;
		for (size_t j = 0; j < sizeof(pats) / sizeof(pats[0]); j++)
			if (prefix(f, pats[j].prefix))
				return pats[j].reason;
	}
	return NULL;
}

bool syscall_io_fd(int nr)
{
	switch (nr) {
	case 0: case 1: case 17: case 18: case 19: case 20: case 40: case 275:
	case 295: case 296: case 326: case 327: case 328:
		return true;
	}
	return false;
}

/* What an I/O call on a fd waits for, from what the fd is. */
static const char *fd_kind(const char *t)
{
	if (!t)
		return "[I/O]";
	if (prefix(t, "socket:"))
		return "[network]";
	if (prefix(t, "pipe:"))
		return "[pipe]";
	if (prefix(t, "/dev/pts/") || prefix(t, "/dev/tty"))
		return "[tty]";
	if (t[0] == '/' && !prefix(t, "/dev/") && !prefix(t, "/proc/") &&
	    !prefix(t, "/sys/"))
		return "[disk I/O]";
	return "[I/O]";
}

const char *wait_reason(const struct wait_info *w, char *buf, size_t len)
{
	const char *k;

	if (w->preempted)
		return "[preempted]";
	if (w->gil)
		return "[GIL wait]";
	/* A fault comes from any instruction, also inside a syscall. */
	for (size_t i = 0; i < w->nkfuncs; i++)
		if (w->kfuncs[i] && (strstr(w->kfuncs[i], "exc_page_fault") ||
				     !strcmp(w->kfuncs[i], "handle_mm_fault")))
			return "[page fault]";
	k = kstack_kind(w);
	switch (w->syscall) {
	case 202: /* futex */
	case 449: /* futex_waitv */
		return "[lock]";
	case 35: /* nanosleep */
	case 230: /* clock_nanosleep */
		return "[sleep]";
	case 7: case 23: case 270: case 271:
		/* select(0, ...) and poll(NULL, 0, t) are how time.sleep()
		 * waits before 3.11: nothing to poll, just a timeout. */
		return w->sysarg ? "[poll]" : "[sleep]";
	case 232: case 281: case 441:
		return "[poll]";
	case 42: case 43: case 44: case 45: case 46: case 47: case 288:
	case 299: case 307:
		return "[network]";
	case 61: case 247:
		return "[child wait]";
	case 34: case 128: case 130:
		return "[signal wait]";
	case 74: case 75: case 162: case 277: case 285: case 306:
		return "[disk I/O]";
	case 0: case 1: case 17: case 18: case 19: case 20: case 40: case 275:
	case 295: case 296: case 326: case 327: case 328:
		if (k && strcmp(k, "[lock]") && strcmp(k, "[poll]"))
			return k;
		return fd_kind(w->fd_target);
	}
	if (k)
		return k;
	if (w->syscall < 0)
		return "[blocked]";
	if (syscall_name(w->syscall))
		snprintf(buf, len, "[%s]", syscall_name(w->syscall));
	else
		snprintf(buf, len, "[syscall %d]", w->syscall);
	return buf;
}

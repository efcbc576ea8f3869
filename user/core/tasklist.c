// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "core/tasklist.h"
#include "sys/log.h"
#include "tasks.skel.h"

struct tasklist {
	struct tasks_bpf *skel;
	bool whole_system; /* the kernel cannot list one process: filter here */
};

int tasklist_open(struct tasklist **out)
{
	struct tasklist *tl = calloc(1, sizeof(*tl));
	int err;

	*out = NULL;
	if (!tl)
		return -ENOMEM;
	tl->skel = tasks_bpf__open();
	if (!tl->skel) {
		err = -errno;
		goto fail;
	}
	err = tasks_bpf__load(tl->skel);
	if (err)
		goto fail;
	*out = tl;
	return 0;
fail:
	tasklist_close(tl);
	return err;
}

void tasklist_close(struct tasklist *tl)
{
	if (!tl)
		return;
	tasks_bpf__destroy(tl->skel);
	free(tl);
}

/* An iterator link over pid's threads, or over every task before 6.1. */
static struct bpf_link *attach(struct tasklist *tl, pid_t pid)
{
	union bpf_iter_link_info linfo;
	LIBBPF_OPTS(bpf_iter_attach_opts, opts);
	struct bpf_link *link;

	tl->skel->bss->want_tgid = (__u32)pid;
	if (!tl->whole_system) {
		memset(&linfo, 0, sizeof(linfo));
		linfo.task.pid = (__u32)pid;
		opts.link_info = &linfo;
		opts.link_info_len = sizeof(linfo);
		link = bpf_program__attach_iter(tl->skel->progs.list_threads, &opts);
		if (link || errno != EINVAL)
			return link;
		pr_debug("the kernel lists no single process's tasks: filtering every task");
		tl->whole_system = true;
	}
	return bpf_program__attach_iter(tl->skel->progs.list_threads, NULL);
}

int tasklist_read(struct tasklist *tl, pid_t pid, struct task_entry **out,
		  int max)
{
	struct bpf_link *link = attach(tl, pid);
	struct task_entry *v = NULL;
	int fd = -1, n = 0, cap = 0, err;
	ssize_t r;

	*out = NULL;
	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	/* Records are fixed-size; read() may return several at once. */
	for (;;) {
		if (n == cap) {
			int ncap = cap ? 2 * cap : 64;
			struct task_entry *nv;

			if (ncap > max)
				ncap = max;
			if (ncap <= cap)
				break;
			nv = realloc(v, (size_t)ncap * sizeof(*v));
			if (!nv) {
				err = -ENOMEM;
				goto out;
			}
			v = nv;
			cap = ncap;
		}
		r = read(fd, v + n, (size_t)(cap - n) * sizeof(*v));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (int)(r / (ssize_t)sizeof(*v));
	}
	*out = v;
	v = NULL;
	err = n;
out:
	if (fd >= 0)
		close(fd);
	bpf_link__destroy(link);
	free(v);
	return err;
}

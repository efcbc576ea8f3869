// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Probes placed in one process at a time: the task-step uprobe of
 * _asyncio, the GC USDT probes, the allocator probes of --allocations and
 * --live. Each is attached for that process only (the breakpoint traps
 * nowhere else), and its links are kept until the process goes or the
 * recording ends.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "model/array.h"
#include "profile.skel.h"
#include "core/profiler_int.h"
#include "sys/log.h"

enum { LINKS_STEPS, LINKS_MEM };

static bool has_links(const struct profiler *p, pid_t pid, int kind)
{
	for (size_t i = 0; i < p->nsteps; i++)
		if (p->steps[i].pid == pid && p->steps[i].kind == kind)
			return true;
	return false;
}

/* Keeps l's links until the process goes (or destroys them on ENOMEM). */
static int keep_links(struct profiler *p, struct pid_links *l)
{
	if (array_reserve(&p->steps, &p->cap_steps, p->nsteps + 1,
			  sizeof(*p->steps), 16)) {
		while (l->n--)
			bpf_link__destroy(l->l[l->n]);
		return -ENOMEM;
	}
	p->steps[p->nsteps++] = *l;
	return 0;
}

static int attach_steps(struct profiler *p, pid_t pid, const char *path,
			const char *func, const unsigned long long *offsets,
			int n)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = func);
	struct pid_links l = {.pid = pid, .kind = LINKS_STEPS};

	if (!p->skel->progs.py_send_enter ||
	    !bpf_program__autoload(p->skel->progs.py_send_enter))
		return -EOPNOTSUPP;
	if (has_links(p, pid, LINKS_STEPS))
		return 0;
	/* Per process: the breakpoint goes only into that process. */
	if (n < 1 || n > PROFILER_STEP_SITES)
		return -EINVAL;
	for (l.n = 0; l.n < n; l.n++) {
		l.l[l.n] = bpf_program__attach_uprobe_opts(
			p->skel->progs.py_send_enter, pid, path, offsets[l.n],
			&opts);
		if (!l.l[l.n]) {
			int err = -errno;

			while (l.n--)
				bpf_link__destroy(l.l[l.n]);
			return err;
		}
	}
	return keep_links(p, &l);
}

/*
 * mem --live: the C allocator's entries, and the returns of those that hand
 * memory out, all or none (a missing free would leave everything live).
 */
static int attach_live(struct profiler *p, pid_t pid, const char *lib,
		       struct pid_links *l)
{
	const struct {
		const char *func;
		struct bpf_program *prog;
		bool ret;
	} probes[] = {
		{"free", p->skel->progs.py_live_free, false},
		{"malloc", p->skel->progs.py_live_malloc, false},
		{"calloc", p->skel->progs.py_live_calloc, false},
		{"realloc", p->skel->progs.py_live_realloc, false},
		{"malloc", p->skel->progs.py_live_ret, true},
		{"calloc", p->skel->progs.py_live_ret, true},
		{"realloc", p->skel->progs.py_live_ret, true},
	};
	int first = l->n, err;

	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = probes[i].func,
			    .retprobe = probes[i].ret);

		if (l->n >= PROFILER_PID_LINKS) {
			err = -E2BIG;
			goto fail;
		}
		l->l[l->n] = bpf_program__attach_uprobe_opts(
			probes[i].prog, pid, lib, 0, &opts);
		if (!l->l[l->n]) {
			err = -errno;
			goto fail;
		}
		l->n++;
	}
	return 0;
fail:
	while (l->n > first)
		bpf_link__destroy(l->l[--l->n]);
	return err;
}

int profiler__attach_mem(struct profiler *p, pid_t pid, const char *path,
			 bool allocations, const char *malloc_lib)
{
	static const struct {
		const char *func;
		int prog; /* 0 malloc(size), 1 calloc(n, size), 2 realloc(p, size) */
	} allocators[] = {
		{"PyObject_Malloc", 0},	 {"PyObject_Calloc", 1},
		{"PyObject_Realloc", 2}, {"PyMem_Malloc", 0},
		{"PyMem_Calloc", 1},	 {"PyMem_Realloc", 2},
	};
	struct bpf_program *progs[] = {p->skel->progs.py_alloc_malloc,
				       p->skel->progs.py_alloc_calloc,
				       p->skel->progs.py_alloc_realloc};
	struct pid_links l = {.pid = pid, .kind = LINKS_MEM};
	int what = 0, before;

	if (!bpf_program__autoload(p->skel->progs.py_gc_start))
		return -EOPNOTSUPP;
	if (has_links(p, pid, LINKS_MEM))
		return -EALREADY;
	/* Collections: CPython's USDT probes, in --with-dtrace builds only.
	 * libbpf raises their semaphores so the probe sites fire. */
	l.l[0] = bpf_program__attach_usdt(p->skel->progs.py_gc_start, pid, path,
					  "python", "gc__start", NULL);
	if (l.l[0]) {
		l.l[1] = bpf_program__attach_usdt(p->skel->progs.py_gc_done,
						  pid, path, "python",
						  "gc__done", NULL);
		if (l.l[1]) {
			l.n = 2;
			what |= PROFILER_MEM_GC;
		} else {
			bpf_link__destroy(l.l[0]);
		}
	}
	before = l.n;
	/* The allocator's public entry points: PyObject_* and PyMem_* do not
	 * call each other (each goes to its domain's allocator directly), so
	 * no allocation is counted twice. PyMem_Raw* (below them) is not
	 * probed. */
	for (size_t i = 0;
	     allocations && i < sizeof(allocators) / sizeof(allocators[0]);
	     i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, opts,
			    .func_name = allocators[i].func);

		l.l[l.n] = bpf_program__attach_uprobe_opts(
			progs[allocators[i].prog], pid, path, 0, &opts);
		if (l.l[l.n])
			l.n++;
	}
	if (l.n > before)
		what |= PROFILER_MEM_ALLOC;
	if (malloc_lib && bpf_program__autoload(p->skel->progs.py_live_free)) {
		int err = attach_live(p, pid, malloc_lib, &l);

		if (!err)
			what |= PROFILER_MEM_LIVE;
		else
			pr_debug("process %d: no --live probes in %s: %s", pid,
				 malloc_lib, strerror(-err));
	}
	if (!l.n)
		return 0;
	return keep_links(p, &l) ?: what;
}

int profiler__attach_steps(struct profiler *p, pid_t pid, const char *path)
{
	unsigned long long zero = 0;

	return attach_steps(p, pid, path, "PyIter_Send", &zero, 1);
}

int profiler__attach_steps_at(struct profiler *p, pid_t pid, const char *path,
			      const unsigned long long *offsets, int n)
{
	return attach_steps(p, pid, path, NULL, offsets, n);
}

/*
 * mem --live: what a process that exited or exec'd still held is dropped,
 * so a later process with its pid cannot find (and free) its addresses.
 */
static void live_purge(struct profiler *p, pid_t pid)
{
	struct live_key k, next, del[64];
	int fd = bpf_map__fd(p->skel->maps.live), n;
	bool more = true;

	if (!bpf_program__autoload(p->skel->progs.py_live_free))
		return;
	/* The next key after a deleted one is the first again: collect a
	 * batch, delete it, and start over until a pass finds none (the
	 * process is gone, so its entries do not come back). */
	while (more) {
		void *prev = NULL;

		n = 0;
		more = false;
		while (!bpf_map_get_next_key(fd, prev, &next)) {
			k = next;
			prev = &k;
			if (k.pid != (__u32)pid)
				continue;
			del[n++] = k;
			if (n == (int)(sizeof(del) / sizeof(del[0]))) {
				more = true;
				break;
			}
		}
		for (int i = 0; i < n; i++)
			bpf_map_delete_elem(fd, &del[i]);
	}
}

void profiler__detach_steps(struct profiler *p, pid_t pid)
{
	for (size_t i = 0; i < p->nsteps;) {
		if (p->steps[i].pid != pid) {
			i++;
			continue;
		}
		for (int k = 0; k < p->steps[i].n; k++)
			bpf_link__destroy(p->steps[i].l[k]);
		p->steps[i] = p->steps[--p->nsteps];
	}
	live_purge(p, pid);
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Memory (mem, check, the agent's metrics): BPF sends each change of a
 * Python process's resident memory (tp_btf/rss_stat), each collection
 * (CPython's USDT probes, placed per process here) and, with
 * --allocations, sampled allocator calls; with --live, the large C
 * allocations until they are freed (uprobes on the process's malloc and
 * free). Each comes with the Python stack of the thread that made it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/session_int.h"
#include "sys/log.h"
#include "sys/procfs.h"

static bool wanted(const struct session_opts *o)
{
	return o->mem.on;
}

static void configure(struct session *s, struct profiler_opts *po)
{
	po->mem = true;
	po->no_rss = !s->o.mem.rss;
	po->alloc_period = s->o.mem.alloc_period;
	po->live_min = s->o.mem.live_min;
	po->live_max = s->o.mem.live_max;
}

/*
 * --live: the library the process's malloc and free come from, as this
 * process can open it: a preloaded allocator if one is mapped (it takes
 * malloc over for the whole process), else libc. Returns 0 or -ENOENT.
 */
static int malloc_lib(pid_t pid, char *out, size_t len)
{
	static const char *const preloaded[] = { "libjemalloc.so", "libtcmalloc",
						 "libmimalloc.so" };
	char path[64], line[PATH_MAX + 128], libc[PATH_MAX] = "";
	struct proc_mapping mp;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		const char *base;

		if (procfs_parse_maps_line(line, &mp) || mp.perms[2] != 'x' ||
		    mp.path[0] != '/')
			continue;
		base = strrchr(mp.path, '/') + 1;
		for (size_t i = 0; i < sizeof(preloaded) / sizeof(preloaded[0]); i++) {
			if (!strncmp(base, preloaded[i], strlen(preloaded[i]))) {
				snprintf(libc, sizeof(libc), "%s", mp.path);
				fclose(f);
				goto found;
			}
		}
		if (!libc[0] && (!strncmp(base, "libc.so", 7) || !strncmp(base, "libc-", 5)))
			snprintf(libc, sizeof(libc), "%s", mp.path);
	}
	fclose(f);
	if (!libc[0])
		return -ENOENT;
found:
	snprintf(out, len, "/proc/%d/root%s", pid, libc);
	if (access(out, R_OK))
		snprintf(out, len, "%s", libc);
	return 0;
}

/* Collection probes (and allocator probes) in the interpreter's ELF. */
static void attach(struct session *s, struct tracked *t)
{
	char bin[PATH_MAX + 32], lib[PATH_MAX + 32];
	bool live = s->o.mem.live_min > 0;
	int what;

	snprintf(bin, sizeof(bin), "/proc/%d/root%s", t->pid, t->info.binary);
	if (access(bin, R_OK))
		snprintf(bin, sizeof(bin), "%s", t->info.binary);
	if (live && malloc_lib(t->pid, lib, sizeof(lib))) {
		pr_warn("process %d: no libc mapped: its allocations are not tracked",
			t->pid);
		live = false;
	}
	what = profiler__attach_mem(s->prof, t->pid, bin, s->o.mem.alloc_period > 0,
				    live ? lib : NULL);
	if (what < 0)
		pr_debug("process %d: no memory probes in %s: %s", t->pid, bin,
			 strerror(-what));
	else
		pr_debug("process %d: probes in %s:%s%s%s", t->pid, bin,
			 (what & PROFILER_MEM_GC) ? " collections" : "",
			 (what & PROFILER_MEM_ALLOC) ? " allocations" : "",
			 (what & PROFILER_MEM_LIVE) ? " live (C allocator)" : "");
	t->mem_probes = what;
}

/* An event with the stack of the thread that made it. */
static void on_stack_event(struct session *s, const struct sample_event *e,
			   size_t size)
{
	struct session_mem_event m = {
		.pid = e->pid, .type = e->type, .value = e->value,
		.aux0 = e->aux[0], .aux1 = e->aux[1], .ktime = e->ktime,
	};
	struct tracked *t;

	if (e->nframes > MAX_PY_FRAMES ||
	    size < offsetof(struct sample_event, frames) +
			   e->nframes * sizeof(e->frames[0]) ||
	    !(t = targets_find(s, e->pid)) || !t->python) {
		s->lost_samples++;
		return;
	}
	m.n = stackbuild_sample(s, t, e, size, &m.nroot);
	m.frames = s->stack;
	SINKS_CALL(s, mem, &m);
}

static bool event(struct session *s, __u32 type, const void *data, size_t size)
{
	switch (type) {
	case EV_MEM:
	case EV_GC:
	case EV_ALLOC:
	case EV_LIVE:
		if (size >= offsetof(struct sample_event, frames))
			on_stack_event(s, data, size);
		return true;
	case EV_LIVE_FREE:
		if (size >= sizeof(struct live_free)) {
			const struct live_free *lf = data;
			struct session_mem_event m = {
				.pid = lf->pid, .type = EV_LIVE_FREE,
				.value = (long long)lf->bytes,
				.aux0 = (long long)lf->addr, .ktime = lf->ktime,
			};

			SINKS_CALL(s, mem, &m);
		}
		return true;
	}
	return false;
}

const struct feature feature_mem = {
	.name = "memory",
	.wanted = wanted,
	.configure = configure,
	.attach = attach,
	.event = event,
};

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Memory (mem, check, the agent's metrics): BPF sends each change of a
 * Python process's resident memory (tp_btf/rss_stat), each collection
 * (CPython's USDT probes, placed per process here) and, with
 * --allocations, sampled allocator calls; with --live, the large C
 * allocations until they are freed (uprobes on the process's malloc and
 * free); by default, the memory it maps and the heap it grows until given
 * back (held.bpf.h). Each comes with the Python stack of the thread that
 * made it; what is given back comes without one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/session_int.h"
#include "sys/log.h"
#include "sys/procfs.h"
#include "sys/targetfile.h"

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
	po->held = s->o.mem.held;
}

/*
 * mem --live: the mapping of the library the process's malloc and free
 * come from: a preloaded allocator if one is mapped (it takes malloc over
 * for the whole process), else libc. Returns 0 or -ENOENT.
 */
static int malloc_lib(pid_t pid, struct proc_mapping *out)
{
	static const char *const preloaded[] = { "libjemalloc.so", "libtcmalloc",
						 "libmimalloc.so" };
	const struct proc_mapping *m;
	struct procfs_maps it;
	int ret = -ENOENT;

	if (procfs_maps_open(&it, pid))
		return -ENOENT;
	while ((m = procfs_maps_next(&it))) {
		const char *base = strrchr(m->path, '/');

		if (m->perms[2] != 'x' || m->path[0] != '/' || !m->inode)
			continue;
		base++;
		for (size_t i = 0; i < sizeof(preloaded) / sizeof(preloaded[0]); i++) {
			if (!strncmp(base, preloaded[i], strlen(preloaded[i]))) {
				*out = *m;
				ret = 0;
				goto out;
			}
		}
		if (ret && (!strncmp(base, "libc.so", 7) || !strncmp(base, "libc-", 5))) {
			*out = *m;
			ret = 0;
		}
	}
out:
	procfs_maps_close(&it);
	return ret;
}

/* --live probes the C allocator: a process that just exec'd may not have
 * mapped its libc yet (the interpreter is found before the loader runs). */
static bool ready(struct session *s, pid_t pid)
{
	struct proc_mapping m;

	return !s->o.mem.live_min || !malloc_lib(pid, &m);
}

/*
 * mem: collection probes (and allocator probes) in the interpreter's ELF,
 * --live probes in its C allocator. Each file is opened as the process
 * maps it (targetfile.h), and libbpf parses and probes that open file; a
 * file that is not the mapped one gets no probe (one warning).
 */
static void attach(struct session *s, struct tracked *t)
{
	struct target_file bin, lib = TARGET_FILE_INIT;
	bool live = s->o.mem.live_min > 0;
	struct proc_mapping libm;
	int what, err;

	err = targetfile_open_mapped(t->pid, &t->info.elf_map, &bin);
	if (err) {
		pr_warn("process %d: no memory probes placed: its %s cannot be opened as the file it maps (%s)",
			t->pid, t->info.elf_map.path, targetfile_strerror(err));
		s->probes_refused++;
		t->mem_probes = err;
		return;
	}
	if (live && malloc_lib(t->pid, &libm)) {
		pr_warn("process %d: no libc mapped: its allocations are not tracked",
			t->pid);
		live = false;
	} else if (live && (err = targetfile_open_mapped(t->pid, &libm, &lib))) {
		pr_warn("process %d: its allocations are not tracked: its %s cannot be opened as the file it maps (%s)",
			t->pid, libm.path, targetfile_strerror(err));
		s->probes_refused++;
		live = false;
	}
	what = profiler__attach_mem(s->prof, t->pid, bin.path, s->o.mem.alloc_period > 0,
				    live ? lib.path : NULL);
	if (what < 0)
		pr_debug("process %d: no memory probes in %s: %s", t->pid,
			 t->info.elf_map.path, strerror(-what));
	else
		pr_debug("process %d: probes in %s (inode %lu):%s%s%s", t->pid,
			 t->info.elf_map.path, (unsigned long)bin.ino,
			 (what & PROFILER_MEM_GC) ? " collections" : "",
			 (what & PROFILER_MEM_ALLOC) ? " allocations" : "",
			 (what & PROFILER_MEM_LIVE) ? " live (C allocator)" : "");
	if (what > 0 && (what & PROFILER_MEM_LIVE))
		pr_debug("process %d: C allocator probes in %s (inode %lu)",
			 t->pid, libm.path, (unsigned long)lib.ino);
	targetfile_close(&bin);
	targetfile_close(&lib);
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
	case EV_MAP:
		if (size >= offsetof(struct sample_event, frames))
			on_stack_event(s, data, size);
		return true;
	case EV_LIVE_FREE:
	case EV_UNMAP:
		if (size >= sizeof(struct live_free)) {
			const struct live_free *lf = data;
			struct session_mem_event m = {
				.pid = lf->pid, .type = type,
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
	.ready = ready,
	.attach = attach,
	.event = event,
};

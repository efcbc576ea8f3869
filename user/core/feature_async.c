// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * asyncio event loops (async, check, the agent's metrics): BPF times each
 * iteration of every thread that polls with epoll and sends the stalls;
 * stacks are sampled and off-CPU waits traced only for loop threads inside
 * an iteration (unless every sample is wanted). Task steps: one uprobe per
 * process inside _asyncio, on its call of PyIter_Send, so each step of a C
 * Task costs one trap; the await chain of a suspended task is kept in BPF
 * until its next step, which gives the await site and its latency.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/session_int.h"
#include "python/pltstub.h"
#include "sys/log.h"
#include "sys/procfs.h"

static bool wanted(const struct session_opts *o)
{
	return o->async.on;
}

static void configure(struct session *s, struct profiler_opts *po)
{
	po->loops = true;
	po->stall_ns = s->o.async.stall_ns;
	po->sample_all = s->o.async.sample_all;
	po->loops_reap = s->o.async.reap_loops;
	po->no_step_events = !s->o.async.step_events;
}

/* A path we can open for the file a process maps with inode ino. */
static int open_mapped(pid_t pid, const char *file, unsigned long long ino,
		       char *path, size_t len)
{
	struct stat st;

	/* as the process sees it, through its root (containers); a chroot's
	 * maps already name it from ours */
	snprintf(path, len, "/proc/%d/root%s", pid, file);
	if (!stat(path, &st) && st.st_ino == ino)
		return 0;
	snprintf(path, len, "%s", file);
	if (!stat(path, &st) && st.st_ino == ino)
		return 0;
	return -ENOENT;
}

/*
 * Where to probe the task steps in the _asyncio file at path: its call
 * instructions of PyIter_Send (emulated by the kernel: one trap per step),
 * else the PLT stub they go through (its indirect jump is single-stepped:
 * a second trap, ~9 us more per step in a VM). Returns how many offsets.
 */
static int asyncio_sites(const char *path, unsigned long long *off, int max)
{
	Elf *elf;
	int fd, n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	n = plt_call_sites(elf, "PyIter_Send", off, max);
	if (n <= 0)
		n = plt_stub_offset(elf, "PyIter_Send", off) ? -ENOENT : 1;
	elf_end(elf);
	close(fd);
	return n;
}

/*
 * Once t has imported _asyncio, trace its task steps: each calls
 * PyIter_Send from _asyncio. Probing inside _asyncio sees only those calls;
 * PyIter_Send's own entry (the fallback, with the caller checked in BPF)
 * also traps for the eval loop's calls on 3.11 (every await's SEND).
 */
static void find_asyncio(struct session *s, struct tracked *t)
{
	unsigned long long lo = 0, hi = 0, ino = 0;
	unsigned long long sites[PROFILER_STEP_SITES];
	char path[64], line[4096], file[PATH_MAX] = "";
	char open_path[PATH_MAX + 32], bin[PATH_MAX + 32];
	struct proc_mapping m;
	FILE *f;
	int err = -ENOENT, n;

	snprintf(path, sizeof(path), "/proc/%d/maps", t->pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		const char *slash;

		if (procfs_parse_maps_line(line, &m) || m.perms[2] != 'x' ||
		    !(slash = strrchr(m.path, '/')) ||
		    strncmp(slash, "/_asyncio.", 10))
			continue;
		if (!lo || m.start < lo)
			lo = m.start;
		if (m.end > hi)
			hi = m.end;
		if (!file[0]) {
			ino = m.inode;
			snprintf(file, sizeof(file), "%s", m.path);
		}
	}
	fclose(f);
	if (!lo)
		return; /* not imported yet */
	t->asyncio_text = true;
	if (!open_mapped(t->pid, file, ino, open_path, sizeof(open_path)) &&
	    (n = asyncio_sites(open_path, sites, PROFILER_STEP_SITES)) > 0) {
		err = profiler__attach_steps_at(s->prof, t->pid, open_path, sites, n);
		if (!err)
			err = profiler__set_asyncio_text(s->prof, t->pid, 0, ~0ULL);
		if (!err) {
			pr_debug("process %d: task steps at %d place%s in %s (first %#llx)",
				 t->pid, n, n == 1 ? "" : "s", open_path, sites[0]);
			return;
		}
	}
	snprintf(bin, sizeof(bin), "/proc/%d/root%s", t->pid, t->info.binary);
	if (access(bin, R_OK))
		snprintf(bin, sizeof(bin), "%s", t->info.binary);
	err = profiler__attach_steps(s->prof, t->pid, bin);
	if (!err)
		err = profiler__set_asyncio_text(s->prof, t->pid, lo, hi);
	if (err) {
		pr_warn("process %d: cannot trace asyncio task steps: %s", t->pid,
			strerror(-err));
		return;
	}
	pr_debug("process %d: task steps at PyIter_Send in %s, callers %llx-%llx",
		 t->pid, bin, lo, hi);
}

/*
 * Task steps need 3.11+ (coroutine frames inside the coroutine object);
 * traced once _asyncio is imported (looked for again every second).
 */
static void attach(struct session *s, struct tracked *t)
{
	if (t->info.bpf.off.gen_iframe == PY_OFF_NONE || !s->o.async.steps)
		return;
	t->steps_wanted = true;
	find_asyncio(s, t);
}

/* Processes whose _asyncio was not loaded yet: look again. */
static void tick(struct session *s)
{
	for (int i = 0; i < TRACKED_BUCKETS; i++)
		for (struct tracked *t = s->buckets[i]; t; t = t->next)
			if (t->python && t->steps_wanted && !t->asyncio_text)
				find_asyncio(s, t);
}

static void on_step(struct session *s, const struct step_event *e)
{
	struct tracked *t = targets_find(s, e->pid);
	struct session_step st;

	if (!t || !t->python)
		return;
	st = (struct session_step){
		.pid = e->pid, .tid = e->tid, .coro = e->coro,
		.code = stackbuild_python_frame(s, t, &e->code),
		.start = e->start, .ns = e->ns, .result = e->result,
	};
	if (st.code != FRAME_NONE)
		SINKS_CALL(s, step, &st);
}

static void on_await(struct session *s, const struct await_event *e)
{
	struct tracked *t = targets_find(s, e->pid);
	frame_id chain[AWAIT_DEPTH];
	struct session_resume r = {
		.pid = e->pid, .tid = e->tid, .coro = e->coro, .chain = chain,
		.at = e->ktime, .ns = e->ns,
	};

	if (!t || !t->python || !e->n)
		return;
	for (__u32 i = 0; i < e->n && i < AWAIT_DEPTH; i++) {
		chain[r.n] = stackbuild_python_frame(s, t, &e->frames[i]);
		if (chain[r.n] != FRAME_NONE)
			r.n++;
	}
	SINKS_CALL(s, resume, &r);
}

static bool event(struct session *s, __u32 type, const void *data, size_t size)
{
	switch (type) {
	case EV_STEP:
		if (size >= sizeof(struct step_event))
			on_step(s, data);
		return true;
	case EV_AWAIT:
		if (size >= sizeof(struct await_event))
			on_await(s, data);
		return true;
	case EV_STALL:
		if (size >= sizeof(struct stall_event)) {
			s->stalls++;
			SINKS_CALL(s, stall, data);
		}
		return true;
	}
	return false;
}

const struct feature feature_async = {
	.name = "asyncio",
	.wanted = wanted,
	.configure = configure,
	.attach = attach,
	.tick = tick,
	.event = event,
};

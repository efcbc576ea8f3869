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
#include <libelf.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/await_chains.h"
#include "core/session_int.h"
#include "python/debugfile.h"
#include "python/pltstub.h"
#include "sys/log.h"
#include "sys/procfs.h"
#include "sys/targetfile.h"

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
	po->steps = s->o.async.steps;
	po->no_step_events = !s->o.async.step_events;
}

/*
 * Where to probe the task steps in the _asyncio file tf: its call
 * instructions of PyIter_Send (emulated by the kernel: one trap per step),
 * else the PLT stub they go through (its indirect jump is single-stepped:
 * a second trap, ~9 us more per step in a VM). Returns how many offsets.
 */
static int asyncio_sites(const struct target_file *tf, unsigned long long *off,
			 int max)
{
	Elf *elf = elf_begin(tf->fd, ELF_C_READ_MMAP, NULL);
	int n;

	if (!elf)
		return -ENOEXEC;
	n = plt_call_sites(elf, "PyIter_Send", off, max);
	if (n <= 0)
		n = plt_stub_offset(elf, "PyIter_Send", off) ? -ENOENT : 1;
	elf_end(elf);
	return n;
}

/*
 * _asyncio linked into the interpreter (Debian's 3.15, which then exports
 * PyInit__asyncio): its task steps are task_step_impl's calls of
 * PyIter_Send, found by that static function's symbol in the ELF's
 * .symtab or its debug file (pythonX.Y-dbg). Probes them; returns 0, or
 * -ENOENT where _asyncio is not built in or has no symbols (or -errno).
 */
static int find_builtin_asyncio(struct session *s, struct tracked *t)
{
	unsigned long long sites[PROFILER_STEP_SITES];
	struct target_file tf = TARGET_FILE_INIT, dtf = TARGET_FILE_INIT;
	Elf *elf = NULL, *debug = NULL;
	int n, err;

	n = targetfile_open_mapped(t->pid, &t->info.elf_map, &tf);
	if (!n && !(elf = elf_begin(tf.fd, ELF_C_READ_MMAP, NULL)))
		n = -ENOEXEC;
	if (!n && !elf_exported(elf, "PyInit__asyncio"))
		n = -ENOENT;
	if (!n) {
		n = elf_calls_from(elf, elf, "task_step_impl", "PyIter_Send",
				   sites, PROFILER_STEP_SITES);
		if (n == -ENOENT && !debugfile_open(t->pid, elf, &dtf, &debug))
			n = elf_calls_from(elf, debug, "task_step_impl",
					   "PyIter_Send", sites,
					   PROFILER_STEP_SITES);
	}
	err = n;
	if (n > 0)
		err = profiler__attach_steps_at(s->prof, t->pid, tf.path, sites,
						n);
	if (!err)
		err = profiler__set_asyncio_text(s->prof, t->pid, 0, ~0ULL);
	if (!err)
		pr_debug("process %d: task steps at %d place%s in task_step_impl of %s",
			 t->pid, n, n == 1 ? "" : "s", t->info.elf_map.path);
	if (debug)
		elf_end(debug);
	targetfile_close(&dtf);
	if (elf)
		elf_end(elf);
	targetfile_close(&tf);
	return err;
}

/*
 * async: once t has imported _asyncio, trace its task steps: each calls
 * PyIter_Send from _asyncio. Probing inside _asyncio sees only those calls;
 * PyIter_Send's own entry (the fallback, with the caller checked in BPF)
 * also traps for the eval loop's calls on 3.11 (every await's SEND). Both
 * files are opened as the process maps them (targetfile.h): the offsets
 * are read from, and the probes placed in, that same open file; a file
 * that is not the mapped one gets no probe (one warning).
 */
static void find_asyncio(struct session *s, struct tracked *t)
{
	unsigned long long lo = 0, hi = 0;
	unsigned long long sites[PROFILER_STEP_SITES];
	const struct proc_mapping *m;
	struct proc_mapping text = { 0 };
	struct target_file tf;
	struct procfs_maps it;
	int err, n;

	if (procfs_maps_open(&it, t->pid))
		return;
	while ((m = procfs_maps_next(&it))) {
		const char *slash = strrchr(m->path, '/');

		if (m->perms[2] != 'x' || !slash || strncmp(slash, "/_asyncio.", 10))
			continue;
		if (!lo || m->start < lo)
			lo = m->start;
		if (m->end > hi)
			hi = m->end;
		if (!text.inode)
			text = *m;
	}
	procfs_maps_close(&it);
	if (!lo && !t->asyncio_builtin_looked) {
		t->asyncio_builtin_looked = true;
		err = find_builtin_asyncio(s, t);
		if (!err)
			t->asyncio_text = true;
		else if (err == -ENOENT)
			pr_debug("process %d: no _asyncio module mapped yet, and no task_step_impl (with symbols) in %s",
				 t->pid, t->info.elf_map.path);
		else
			pr_warn("process %d: cannot trace asyncio task steps in its %s: %s",
				t->pid, t->info.elf_map.path, strerror(-err));
	}
	if (!lo)
		return; /* not imported yet, or linked in */
	t->asyncio_text = true;
	err = targetfile_open_mapped(t->pid, &text, &tf);
	if (!err) {
		n = asyncio_sites(&tf, sites, PROFILER_STEP_SITES);
		err = n > 0 ? profiler__attach_steps_at(s->prof, t->pid, tf.path,
							sites, n) : n;
		if (!err)
			err = profiler__set_asyncio_text(s->prof, t->pid, 0, ~0ULL);
		if (!err)
			pr_debug("process %d: task steps at %d place%s in %s (inode %lu, first %#llx)",
				 t->pid, n, n == 1 ? "" : "s", text.path,
				 (unsigned long)tf.ino, sites[0]);
		targetfile_close(&tf);
		if (!err)
			return;
	} else {
		pr_debug("process %d: cannot open %s as the file it maps: %s",
			 t->pid, text.path, targetfile_strerror(err));
	}
	err = targetfile_open_mapped(t->pid, &t->info.elf_map, &tf);
	if (err) {
		pr_warn("process %d: asyncio task steps not traced: its %s cannot be opened as the file it maps (%s)",
			t->pid, t->info.elf_map.path, targetfile_strerror(err));
		s->probes_refused++;
		return;
	}
	err = profiler__attach_steps(s->prof, t->pid, tf.path);
	if (!err)
		err = profiler__set_asyncio_text(s->prof, t->pid, lo, hi);
	if (err)
		pr_warn("process %d: cannot trace asyncio task steps: %s", t->pid,
			strerror(-err));
	else
		pr_debug("process %d: task steps at PyIter_Send in %s (inode %lu), callers %llx-%llx",
			 t->pid, t->info.elf_map.path, (unsigned long)tf.ino, lo, hi);
	targetfile_close(&tf);
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
		.start = e->start, .ns = e->ns, .born = e->born,
		.off_ns = e->off_ns, .preempt_ns = e->preempt_ns,
		.result = e->result,
	};
	if (st.code != FRAME_NONE)
		SINKS_CALL(s, step, &st);
}

/*
 * A chain BPF walked: levels [0, e->n), of which the innermost
 * min(n, AWAIT_DEPTH) were sent, level i in frames[i % AWAIT_DEPTH]. Outer
 * levels not kept, or inner ones not walked, are a [truncated] frame at
 * that end.
 */
static void on_chain(struct session *s, const struct chain_event *e, size_t size)
{
	static frame_id chain[AWAIT_DEPTH + 2];
	struct tracked *t = targets_find(s, e->pid);
	__u32 kept = e->n > AWAIT_DEPTH ? AWAIT_DEPTH : e->n, first, n = 0;

	if (!t || !t->python || !kept ||
	    size < offsetof(struct chain_event, frames) + kept * sizeof(e->frames[0]))
		return;
	if (!s->chains && !(s->chains = await_chains_new()))
		return;
	first = e->n - kept;
	if (first)
		chain[n++] = s->f_truncated;
	for (__u32 i = first; i < e->n; i++) {
		frame_id f = stackbuild_python_frame(s, t, &e->frames[i % AWAIT_DEPTH]);

		if (f != FRAME_NONE)
			chain[n++] = f;
	}
	if (e->flags & AWAIT_TRUNCATED)
		chain[n++] = s->f_truncated;
	if (await_chains_add(s->chains, e->pid, e->hash, chain, n))
		pr_debug("process %d: await chain %#llx not kept", e->pid,
			 (unsigned long long)e->hash);
}

static void on_await(struct session *s, const struct await_event *e)
{
	struct tracked *t = targets_find(s, e->pid);
	struct session_resume r = {
		.pid = e->pid, .tid = e->tid, .coro = e->coro,
		.at = e->ktime, .ns = e->ns, .queued_ns = e->queued_ns,
	};

	if (!t || !t->python)
		return;
	r.chain = s->chains ? await_chains_get(s->chains, e->pid, e->chain, &r.n) : NULL;
	if (!r.chain) {
		/* sent before this process was known, or not kept: have BPF
		 * send it again at its next suspension */
		s->chains_unknown++;
		profiler__forget_chain(s->prof, e->pid, e->chain);
		return;
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
	case EV_CHAIN:
		if (size >= offsetof(struct chain_event, frames))
			on_chain(s, data, size);
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

static void exit_fn(struct session *s, pid_t pid, unsigned long long ktime)
{
	(void)ktime;
	await_chains_forget_pid(s->chains, pid);
}

static void close_fn(struct session *s)
{
	await_chains_free(s->chains);
	s->chains = NULL;
}

const struct feature feature_async = {
	.name = "asyncio",
	.wanted = wanted,
	.configure = configure,
	.attach = attach,
	.tick = tick,
	.event = event,
	.exit = exit_fn,
	.close = close_fn,
};

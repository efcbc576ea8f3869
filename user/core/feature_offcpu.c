// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Off-CPU time (--idle, --gil, and the loop threads of async): when a
 * Python thread leaves the CPU, BPF sends its stack with the syscall and
 * kernel stack that say why (EV_OFFCPU); when it comes back, only the time
 * away (EV_ONCPU). The two are joined here by tid into one interval, handed
 * to the sinks as an off-CPU sample whose leaf is the reason.
 *
 * A thread already blocked when the recording starts (or when its process
 * is found) sends no EV_OFFCPU: with --idle, each process's threads are
 * listed when it is found (core/tasklist.c), and every blocked one gets an
 * interval from then, with its Python stack read from userspace and its
 * reason from what the kernel says it waits in, the way BPF would have
 * sent them. BPF is told to send its EV_ONCPU (profiler__offcpu_seed).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/session_int.h"
#include "core/tasklist.h"
#include "native/offcpu.h"
#include "python/pystack.h"
#include "sys/clock.h"
#include "sys/log.h"

/* Threads of one process looked at for being blocked. */
#define SEED_THREADS_MAX 1024
#define NR_FUTEX 202 /* x86-64 */

static bool wanted(const struct session_opts *o)
{
	return o->offcpu || o->gil || o->async.on;
}

static void configure(struct session *s, struct profiler_opts *po)
{
	int err;

	po->offcpu = s->o.offcpu;
	po->gil_only = s->o.gil;
	if (!s->offcpu)
		s->offcpu = offcpu__new();
	if (s->o.offcpu && !s->tasks && (err = tasklist_open(&s->tasks)))
		pr_warn("cannot list threads (%s): threads blocked since before the recording will be missing",
			strerror(-err));
}

/* A closed interval: to the sinks. */
static void deliver(void *ctx, uint32_t pid, uint32_t tid, const frame_id *stack,
		    uint32_t n, uint32_t nroot, uint64_t start, uint64_t ns)
{
	struct session *s = ctx;
	unsigned long long t0 = s->start_ms * 1000000ULL;
	struct session_sample ss = {
		.pid = (pid_t)pid,
		.tid = (pid_t)tid,
		.frames = stack,
		.n = n,
		.nroot = nroot,
		.start = start,
		.ns = ns,
		.oncpu = false,
		.count = 1,
		.in_loop = s->o.async.on, /* BPF sends only loop threads' */
	};

	/* Only the part inside the recording: a thread found blocked while
	 * the recording was being set up was seeded from then. */
	if (start < t0) {
		if (start + ns <= t0)
			return;
		ss.ns -= t0 - start;
		ss.start = t0;
	}
	s->offcpu_ns += ss.ns;
	s->offcpu_intervals++;
	session_deliver(s, &ss);
}

/* What BPF would have sent when thread te left the CPU: an EV_OFFCPU. */
static size_t blocked_event(const struct tracked *t, const struct task_entry *te,
			    const struct py_thread *th, unsigned long long now,
			    struct sample_event *e)
{
	const struct py_proc *p = &t->info.bpf;

	memset(e, 0, offsetof(struct sample_event, frames));
	e->type = EV_OFFCPU;
	e->pid = (__u32)t->pid;
	e->tid = te->tid;
	e->flags = th->flags & (SAMPLE_TRUNCATED | SAMPLE_READ_ERROR);
	/* as bpf/offcpu.bpf.h: a futex wait on the GIL's word */
	if (te->syscall == NR_FUTEX && p->gil_addr && te->sysarg >= p->gil_addr &&
	    te->sysarg < p->gil_addr + p->gil_size)
		e->flags |= SAMPLE_GIL_WAIT;
	e->ktime = now;
	memcpy(e->comm, te->comm, TASK_COMM_LEN);
	e->syscall = te->syscall;
	e->sysarg = te->sysarg;
	e->nkstack = te->nkstack < MAX_KSTACK ? te->nkstack : MAX_KSTACK;
	memcpy(e->kstack, te->kstack, e->nkstack * sizeof(e->kstack[0]));
	e->nframes = th->nframes;
	memcpy(e->frames, th->frames, th->nframes * sizeof(e->frames[0]));
	return offsetof(struct sample_event, frames) +
	       th->nframes * sizeof(e->frames[0]);
}

struct seed_scratch {
	struct py_thread th;
	struct sample_event ev;
	struct py_thread_state st[SEED_THREADS_MAX];
};

/* One blocked thread: its stack, then its interval in BPF and here. */
static int seed_one(struct session *s, struct tracked *t,
		    const struct task_entry *te, const struct py_thread_state *ps,
		    unsigned long long now, struct seed_scratch *w)
{
	uint32_t n, nroot;
	size_t size;

	memset(&w->th, 0, offsetof(struct py_thread, frames));
	w->th.tstate = ps->tstate;
	w->th.thread_id = ps->thread_id;
	pystack_walk(t->pid, &t->info.bpf, &w->th);
	if (!w->th.nframes)
		return -ENOENT; /* as in BPF: no Python stack, no interval */
	size = blocked_event(t, te, &w->th, now, &w->ev);
	/* It switched since it was listed: its EV_OFFCPU says the rest. */
	if (profiler__offcpu_seed(s->prof, (pid_t)te->tid, now))
		return -EEXIST;
	n = stackbuild_sample(s, t, &w->ev, size, &nroot);
	return offcpu__seed(s->offcpu, te->tid, (__u32)t->pid, now, s->stack, n,
			    nroot);
}

/*
 * The threads of t blocked now get an interval from now. Bounded: one
 * listing of the process's threads and of its thread states (at most
 * SEED_THREADS_MAX each), and one stack walk per blocked Python thread.
 */
static void seed_blocked(struct session *s, struct tracked *t)
{
	unsigned long long now = clock_mono_ns();
	struct task_entry *tasks = NULL;
	struct seed_scratch *w = NULL;
	int nt, ns = 0, nblocked = 0, nseeded = 0;

	nt = tasklist_read(s->tasks, t->pid, &tasks, SEED_THREADS_MAX);
	for (int i = 0; i < nt; i++)
		nblocked += tasks[i].state && !tasks[i].on_cpu;
	if (nblocked && (w = malloc(sizeof(*w))))
		ns = pystack_threads(t->pid, &t->info.bpf, w->st, SEED_THREADS_MAX);
	for (int i = 0; i < nt && ns > 0; i++) {
		if (!tasks[i].state || tasks[i].on_cpu)
			continue;
		for (int k = 0; k < ns; k++)
			if (w->st[k].thread_id == tasks[i].fsbase) {
				nseeded += !seed_one(s, t, &tasks[i], &w->st[k], now, w);
				break;
			}
	}
	pr_debug("process %d: %d threads, %d blocked, %d with a Python stack and an interval from now (%.2f ms)",
		 t->pid, nt, nblocked, nseeded, (clock_mono_ns() - now) / 1e6);
	free(w);
	free(tasks);
}

static void attach(struct session *s, struct tracked *t)
{
	if (s->o.offcpu && s->tasks && s->offcpu)
		seed_blocked(s, t);
}

static bool event(struct session *s, __u32 type, const void *data, size_t size)
{
	if (type == EV_OFFCPU) {
		const struct sample_event *e = data;
		struct tracked *t;
		uint32_t n, nroot;

		if (size < offsetof(struct sample_event, frames) ||
		    e->nframes > MAX_PY_FRAMES ||
		    size < offsetof(struct sample_event, frames) +
				   e->nframes * sizeof(e->frames[0]) ||
		    !(t = targets_find(s, e->pid)) || !t->python) {
			s->lost_samples++;
			return true;
		}
		n = stackbuild_sample(s, t, e, size, &nroot);
		if (!s->offcpu ||
		    offcpu__begin(s->offcpu, e->tid, e->pid, e->ktime, s->stack,
				  n, nroot))
			s->lost_samples++;
		return true;
	}
	if (type == EV_ONCPU) {
		const struct oncpu_event *oe = data;

		if (size >= sizeof(*oe) && s->offcpu)
			offcpu__end(s->offcpu, oe->tid, oe->offcpu_ns, deliver, s);
		return true;
	}
	return false;
}

/* Threads still blocked when their process exits, or when the recording
 * ends (pid 0), were off the CPU until then. */
static void exit_fn(struct session *s, pid_t pid, unsigned long long ktime)
{
	if (s->offcpu)
		offcpu__close_all(s->offcpu, (uint32_t)pid, ktime, deliver, s);
}

static void close_fn(struct session *s)
{
	offcpu__free(s->offcpu);
	s->offcpu = NULL;
	tasklist_close(s->tasks);
	s->tasks = NULL;
}

const struct feature feature_offcpu = {
	.name = "off-CPU",
	.wanted = wanted,
	.configure = configure,
	.attach = attach,
	.event = event,
	.exit = exit_fn,
	.close = close_fn,
};

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Off-CPU time (--idle, --gil, and the loop threads of async): when a
 * Python thread leaves the CPU, BPF sends its stack with the syscall and
 * kernel stack that say why (EV_OFFCPU); when it comes back, only the time
 * away (EV_ONCPU). The two are joined here by tid into one interval, handed
 * to the sinks as an off-CPU sample whose leaf is the reason.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/session_int.h"
#include "native/offcpu.h"

static bool wanted(const struct session_opts *o)
{
	return o->offcpu || o->gil || o->async.on;
}

static void configure(struct session *s, struct profiler_opts *po)
{
	po->offcpu = s->o.offcpu;
	po->gil_only = s->o.gil;
	if (!s->offcpu)
		s->offcpu = offcpu__new();
}

/* A closed interval: to the sinks. */
static void deliver(void *ctx, uint32_t pid, uint32_t tid, const frame_id *stack,
		    uint32_t n, uint32_t nroot, uint64_t start, uint64_t ns)
{
	struct session *s = ctx;
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

	s->offcpu_ns += ns;
	s->offcpu_intervals++;
	session_deliver(s, &ss);
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
}

const struct feature feature_offcpu = {
	.name = "off-CPU",
	.wanted = wanted,
	.configure = configure,
	.event = event,
	.exit = exit_fn,
	.close = close_fn,
};

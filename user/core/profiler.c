// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sys/log.h"
#include "profile.skel.h"
#include "model/array.h"
#include "core/loop_hooks.h"
#include "core/profiler.h"
#include "core/profiler_int.h"
#include "sys/clock.h"

/* xorshift64*: cheap, and quality is not critical for timer jitter. */
static unsigned long long next_rand(unsigned long long *state)
{
	unsigned long long x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/*
 * A timer with a fixed period ticks in lockstep with periodic work (a
 * 100 Hz timer against a 10 ms loop sees one phase only), and so does any
 * fixed lattice of ticks, whatever its spacing. So each CPU's rate is
 * re-drawn uniformly from [0.5, 1.5] x the asked rate every 25 mean periods
 * or 250 ms, whichever is longer (setting the period restarts the cpu-clock
 * hrtimer): sample times have no lattice to align with. Not more often:
 * setting a CPU's period is an IPI to it (measured: re-drawn every 20 ms,
 * the ioctls were ~40% of pyrograph's CPU in a steady 1 kHz recording).
 * The rate, not the period, is drawn uniformly because each draw holds
 * for a stretch of time, so the time average of the rate is the mean of
 * the draws (a uniform period would average to ln(3)/period, 10% fast).
 * Draws come in antithetic pairs (u, then 1 - u): with a few draws a
 * second, independent ones would leave a short recording's rate off by
 * ~12% (1 sigma over 1.5 s); a pair averages to the asked rate exactly.
 */
int profiler__jitter(struct profiler *p)
{
	bool fresh = !(p->draws++ & 1);

	for (int cpu = 0; p->pfds && cpu < p->ncpu; cpu++) {
		double u = 1.0 - p->draw_u[cpu];
		__u64 period;

		if (fresh) /* 53 random bits in [0, 1) */
			u = (double)(next_rand(&p->rng) >> 11) / (double)(1ULL << 53);
		p->draw_u[cpu] = u;
		period = (__u64)(p->period_ns / (0.5 + u));

		if (p->pfds[cpu] < 0)
			continue;
		if (period < 10000)
			period = 10000;
		if (ioctl(p->pfds[cpu], PERF_EVENT_IOC_PERIOD, &period) < 0)
			return -errno;
	}
	return 0;
}

static int open_perf_events(struct profiler *p)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.size = sizeof(attr),
		.sample_period = p->period_ns,
		.disabled = 1,
	};
	int cpu, opened = 0;

	p->pfds = calloc(p->ncpu, sizeof(*p->pfds));
	p->links = calloc(p->ncpu, sizeof(*p->links));
	p->draw_u = calloc(p->ncpu, sizeof(*p->draw_u));
	if (!p->pfds || !p->links || !p->draw_u)
		return -ENOMEM;
	for (cpu = 0; cpu < p->ncpu; cpu++) {
		int fd = syscall(__NR_perf_event_open, &attr, -1, cpu, -1,
				 PERF_FLAG_FD_CLOEXEC);

		p->pfds[cpu] = -1;
		if (fd < 0) {
			if (errno == ENODEV)
				continue; /* offline CPU */
			pr_err("failed to open the cpu-clock perf event on CPU %d: %s",
			       cpu, strerror(errno));
			return -errno;
		}
		p->pfds[cpu] = fd;
		p->links[cpu] = bpf_program__attach_perf_event(
			p->skel->progs.py_sample, fd);
		if (!p->links[cpu]) {
			int err = -errno;

			pr_err("failed to attach the sampler on CPU %d: %s", cpu,
			       strerror(-err));
			p->links[cpu] = NULL;
			return err;
		}
		opened++;
	}
	if (!opened)
		return -ENODEV;
	p->nevents = opened;
	return profiler__jitter(p);
}

/*
 * The host's busy CPU time so far in ns (user, nice, system, irq and softirq
 * of /proc/stat), or 0 when unreadable. Idle, iowait and steal are not
 * busy: no task of ours runs then, and in steal time the vCPU does not run
 * at all.
 */
static unsigned long long busy_ns(void)
{
	static long tck;
	unsigned long long user, nice, sys, idle, iowait, irq, softirq;
	FILE *f;
	int n;

	if (!tck)
		tck = sysconf(_SC_CLK_TCK);
	f = fopen("/proc/stat", "re");
	if (!f)
		return 0;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu", &user, &nice,
		   &sys, &idle, &iowait, &irq, &softirq);
	fclose(f);
	if (n != 7 || tck <= 0)
		return 0;
	return (user + nice + sys + irq + softirq) * (1000000000ULL / tck);
}

/*
 * Setting the period restarts the timer, discarding the part of the
 * current interval already elapsed, so re-drawing at arbitrary times makes
 * the timers fire less often than the drawn periods say (25% less at
 * 100 Hz with the 20 ms re-draw of earlier builds). Rather than model
 * that, measure it: BPF counts every expiry on a busy CPU (STAT_TICKS),
 * and the mean period is scaled by observed/target, observed being those
 * expiries per second of busy CPU time. Expiries on idle CPUs do not
 * count: an idle CPU's timer was seen here to fire at its rate in one run
 * and hardly at all in the next, and calibrating on the host-wide count
 * then raised the busy CPUs' rate by a fifth (and halved the rate the
 * outputs convert samples with).
 */
int profiler__calibrate(struct profiler *p)
{
	unsigned long long st[STAT_NR], busy = busy_ns();
	unsigned long long ticks, dbusy;
	double observed, want, scale;

	profiler__stats(p, st);
	ticks = st[STAT_TICKS] - p->cal_ticks;
	dbusy = busy > p->cal_busy ? busy - p->cal_busy : 0;
	if (p->started && dbusy > 200000000ULL && ticks > 20) {
		observed = ticks * 1e9 / (double)dbusy;
		want = 1e9 / (double)p->target_ns;
		scale = observed / want;
		/* damped, and bounded so a bad window cannot run away */
		scale = 1.0 + (scale - 1.0) * 0.7;
		p->period_ns = (unsigned long long)(p->period_ns * scale);
		if (p->period_ns < p->target_ns / 4)
			p->period_ns = p->target_ns / 4;
		if (p->period_ns > p->target_ns * 4)
			p->period_ns = p->target_ns * 4;
		if (p->period_ns < 10000)
			p->period_ns = 10000;
	}
	if (!p->started) {
		p->start_ticks = st[STAT_TICKS];
		p->start_busy = busy;
		p->started = true;
	} else if (!p->nevents) {
		p->mean_hz = 0; /* no sampler (mem) */
	} else if (busy > p->start_busy + 100000000ULL) {
		/* what the summary and the outputs use: samples per second of
		 * busy CPU over the whole run */
		p->mean_hz = (st[STAT_TICKS] - p->start_ticks) * 1e9 /
			     (double)(busy - p->start_busy);
	}
	p->cal_ticks = st[STAT_TICKS];
	p->cal_busy = busy;
	return 0;
}

unsigned int profiler__jitter_ms(const struct profiler *p)
{
	return p->jitter_ms;
}

/* The mean period for rate_hz, how often it is re-drawn, and a first guess
 * at what each re-draw loses (see profiler__calibrate). */
static void set_rate(struct profiler *p, unsigned int rate_hz)
{
	unsigned long long jitter_ns;
	double loss;

	p->period_ns = 1000000000ULL / rate_hz;
	if (p->period_ns < 10000)
		p->period_ns = 10000; /* the kernel's floor for cpu-clock */
	p->target_ns = p->period_ns;
	p->mean_hz = 1e9 / (double)p->period_ns;
	jitter_ns = 25 * p->target_ns;
	if (jitter_ns < 250000000ULL)
		jitter_ns = 250000000ULL;
	p->jitter_ms = jitter_ns / 1000000;
	/* about 0.6 of a mean period lost per re-draw */
	loss = 0.6 * p->target_ns / (double)jitter_ns;
	p->period_ns = (unsigned long long)(p->target_ns * (1.0 - (loss < 0.5 ? loss : 0.5)));
}

/* Before the load: the BPF knobs (rodata), which programs load and how
 * big each map is. Maps of features not in use get one entry: no memory. */
static void configure(struct profiler *p, const struct profiler_opts *o)
{
	p->skel->rodata->target_all = o->all;
	p->skel->rodata->follow_children = o->follow_children;
	p->skel->rodata->wakeup_bytes = o->ringbuf_bytes / 4;
	p->skel->rodata->track_offcpu = o->offcpu || o->gil_only || o->loops;
	p->skel->rodata->track_loops = o->loops;
	p->skel->rodata->loops_only = !o->sample_all;
	p->skel->rodata->loops_reap = o->loops_reap;
	p->skel->rodata->step_events = !o->no_step_events;
	p->skel->rodata->track_steps = o->loops && o->steps;
	if (o->stall_ns)
		p->skel->rodata->stall_ns = o->stall_ns;
	p->skel->rodata->gil_only = o->gil_only;
	p->skel->rodata->count_stacks = o->count_stacks;
	p->skel->rodata->count_tid = o->count_tid;
	p->skel->rodata->track_tasks = o->tasks;
	/* unused: no memory for it */
	bpf_map__set_max_entries(p->skel->maps.stack_counts,
				 !o->count_stacks ? 1 : o->stack_map ? o->stack_map : 16384);
	p->skel->rodata->want_kstack = o->kstack;
	p->skel->rodata->ustack_bytes =
		o->ustack_bytes > MAX_USTACK ? MAX_USTACK : o->ustack_bytes;
	/* Without --idle/--gil, do not run on every context switch host-wide. */
	bpf_program__set_autoload(p->skel->progs.py_switch,
				  o->offcpu || o->gil_only || o->loops);
	/* The epoll syscalls' hooks only when timing event loops. */
	loop_hooks_choose(p->skel, o->loops, &p->loop_hooks);
	bpf_program__set_autoload(p->skel->progs.py_send_enter, o->loops && o->steps);
	/* mem: resident-memory changes, collections, allocations. */
	bpf_program__set_autoload(p->skel->progs.py_rss, o->mem && !o->no_rss);
	bpf_program__set_autoload(p->skel->progs.py_gc_start, o->mem);
	bpf_program__set_autoload(p->skel->progs.py_gc_done, o->mem);
	bpf_program__set_autoload(p->skel->progs.py_alloc_malloc, o->alloc_period);
	bpf_program__set_autoload(p->skel->progs.py_alloc_calloc, o->alloc_period);
	bpf_program__set_autoload(p->skel->progs.py_alloc_realloc, o->alloc_period);
	if (o->alloc_period)
		p->skel->rodata->alloc_period = o->alloc_period;
	bpf_program__set_autoload(p->skel->progs.py_live_malloc, o->live_min);
	bpf_program__set_autoload(p->skel->progs.py_live_calloc, o->live_min);
	bpf_program__set_autoload(p->skel->progs.py_live_realloc, o->live_min);
	bpf_program__set_autoload(p->skel->progs.py_live_free, o->live_min);
	bpf_program__set_autoload(p->skel->progs.py_live_ret, o->live_min);
	if (o->live_min) {
		p->skel->rodata->live_min = o->live_min;
		if (o->live_max)
			bpf_map__set_max_entries(p->skel->maps.live, o->live_max);
	} else {
		/* unused: no memory for it */
		bpf_map__set_max_entries(p->skel->maps.live, 1);
		bpf_map__set_max_entries(p->skel->maps.live_calls, 1);
	}
	/* mem: memory taken and given back, at the mapping syscalls */
	held_hooks_choose(p->skel, o->held, &p->held_hooks);
	if (!o->held)
		bpf_map__set_max_entries(p->skel->maps.held_calls, 1);
	bpf_map__set_max_entries(p->skel->maps.mem_last, o->mem ? o->max_procs : 1);
	/* maps of features not in use hold nothing: no memory for them */
	if (!o->loops)
		bpf_map__set_max_entries(p->skel->maps.loops, 1);
	if (!o->loops || !o->steps) {
		bpf_map__set_max_entries(p->skel->maps.steps, 1);
		bpf_map__set_max_entries(p->skel->maps.suspended_map, 1);
		bpf_map__set_max_entries(p->skel->maps.asyncio_text, 1);
		bpf_map__set_max_entries(p->skel->maps.chain_seen, 1);
	}
	if (!(o->offcpu || o->gil_only || o->loops))
		bpf_map__set_max_entries(p->skel->maps.offcpu_start, 1);
	if (!o->mem) {
		bpf_map__set_max_entries(p->skel->maps.gc_runs, 1);
		bpf_map__set_max_entries(p->skel->maps.alloc_left, 1);
	}
	bpf_map__set_max_entries(p->skel->maps.events, o->ringbuf_bytes);
	bpf_map__set_max_entries(p->skel->maps.procs, o->max_procs);
	bpf_map__set_max_entries(p->skel->maps.walk_scratch, p->ncpu);
}

int profiler__open(struct profiler **out, const struct profiler_opts *o,
		   profiler_event_fn fn, void *ctx)
{
	struct profiler *p;
	int err;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->ncpu = libbpf_num_possible_cpus();
	if (p->ncpu <= 0) {
		free(p);
		return -EINVAL;
	}
	unsigned long long t0 = clock_mono_ns(), t1, t2, t3;

	p->skel = profile_bpf__open();
	if (!p->skel) {
		err = -errno;
		pr_err("failed to open the BPF program: %s", strerror(-err));
		goto fail;
	}
	set_rate(p, o->rate_hz);
	p->rng = (clock_mono_ns() ^ ((unsigned long long)getpid() << 32)) | 1;
	configure(p, o);

	t1 = clock_mono_ns();
	err = profile_bpf__load(p->skel);
	if (err) {
		pr_err("failed to load the BPF program (%s); run with -v for the verifier log",
		       strerror(-err));
		goto fail;
	}
	t2 = clock_mono_ns();
	err = profile_bpf__attach(p->skel);
	if (err) {
		pr_err("failed to attach the process tracepoints: %s",
		       strerror(-err));
		goto fail;
	}
	err = loop_hooks_attach(p->skel, &p->loop_hooks);
	if (!err)
		err = held_hooks_attach(p->skel, &p->held_hooks);
	if (err)
		goto fail;
	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.events),
				 (ring_buffer_sample_fn)fn, ctx, NULL);
	if (!p->rb) {
		err = -errno;
		pr_err("failed to set up the ring buffer: %s", strerror(-err));
		goto fail;
	}
	/* mem alone watches memory, not the CPU: no sampler (check, which
	 * times event loops too, needs it for the stacks of stalls). */
	t3 = clock_mono_ns();
	err = o->no_sampler ? 0 : open_perf_events(p);
	if (err)
		goto fail;
	pr_debug("BPF: open %.1f ms, load (verifier) %.1f ms, attach %.1f ms, perf events %.1f ms",
		 (t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t2) / 1e6,
		 (clock_mono_ns() - t3) / 1e6);
	*out = p;
	return 0;
fail:
	profiler__close(p);
	return err;
}

int profiler__start(struct profiler *p)
{
	for (int cpu = 0; p->pfds && cpu < p->ncpu; cpu++)
		if (p->pfds[cpu] >= 0 &&
		    ioctl(p->pfds[cpu], PERF_EVENT_IOC_ENABLE, 0) < 0)
			return -errno;
	return profiler__calibrate(p);
}

int profiler__stop(struct profiler *p)
{
	profiler__calibrate(p); /* final mean_hz */
	/* The loop hooks first: an iteration they end after the
	 * context-switch tracer is gone would have its off-CPU time missing
	 * (detaching six tracepoints takes tens of ms). */
	loop_hooks_detach(p->skel, &p->loop_hooks);
	/* The context-switch tracer keeps producing events after the timers
	 * stop; detach it so the final drain has an end. */
	bpf_link__destroy(p->skel->links.py_switch);
	p->skel->links.py_switch = NULL;
	bpf_link__destroy(p->skel->links.py_rss);
	p->skel->links.py_rss = NULL;
	/* The held view's hooks stay until close: detaching eight syscall
	 * tracepoints takes a while, and the collection probes would count
	 * on past the end meanwhile (test_gc_pauses: ~8% too many). A
	 * mapping is rare: the few after the end change little. */
	while (p->nsteps)
		profiler__detach_steps(p, p->steps[p->nsteps - 1].pid);
	for (int cpu = 0; p->pfds && cpu < p->ncpu; cpu++)
		if (p->pfds[cpu] >= 0 &&
		    ioctl(p->pfds[cpu], PERF_EVENT_IOC_DISABLE, 0) < 0)
			return -errno;
	return 0;
}

void profiler__close(struct profiler *p)
{
	if (!p)
		return;
	while (p->nsteps)
		profiler__detach_steps(p, p->steps[p->nsteps - 1].pid);
	free(p->steps);
	if (p->skel) {
		loop_hooks_detach(p->skel, &p->loop_hooks);
		held_hooks_detach(p->skel, &p->held_hooks);
	}
	for (int cpu = 0; p->links && cpu < p->ncpu; cpu++)
		bpf_link__destroy(p->links[cpu]);
	for (int cpu = 0; p->pfds && cpu < p->ncpu; cpu++)
		if (p->pfds[cpu] >= 0)
			close(p->pfds[cpu]);
	free(p->links);
	free(p->pfds);
	free(p->draw_u);
	ring_buffer__free(p->rb);
	profile_bpf__destroy(p->skel);
	free(p);
}

int profiler__add_target(struct profiler *p, pid_t pid)
{
	__u32 k = pid;
	__u8 one = 1;

	return bpf_map__update_elem(p->skel->maps.targets, &k, sizeof(k), &one,
				    sizeof(one), BPF_ANY);
}

int profiler__add_proc(struct profiler *p, pid_t pid, const struct py_proc *pp)
{
	struct py_proc v = *pp;
	__u32 k = pid;

	v.since = clock_mono_ns(); /* bpf_ktime_get_ns()'s clock */
	return bpf_map__update_elem(p->skel->maps.procs, &k, sizeof(k), &v,
				    sizeof(v), BPF_ANY);
}

int profiler__offcpu_seed(struct profiler *p, pid_t tid, unsigned long long ktime)
{
	__u32 k = (__u32)tid;
	__u64 v = ktime;

	return bpf_map__update_elem(p->skel->maps.offcpu_start, &k, sizeof(k),
				    &v, sizeof(v), BPF_NOEXIST);
}

int profiler__del_proc(struct profiler *p, pid_t pid)
{
	__u32 k = pid;

	return bpf_map__delete_elem(p->skel->maps.procs, &k, sizeof(k), 0);
}

int profiler__forget_chain(struct profiler *p, pid_t pid, unsigned long long hash)
{
	struct chain_key k = { .hash = hash, .pid = (__u32)pid };

	return bpf_map__delete_elem(p->skel->maps.chain_seen, &k, sizeof(k), 0);
}

int profiler__poll(struct profiler *p, int timeout_ms)
{
	int n = ring_buffer__poll(p->rb, timeout_ms), m;

	/* -EAGAIN: the callback used up its time budget (see profiler.h) */
	if (n == -EAGAIN)
		return 0;
	if (n < 0 && n != -EINTR)
		return n;
	/* Samples do not wake us (see wakeup_bytes): a poll that timed out
	 * has consumed nothing, so drain explicitly. */
	m = ring_buffer__consume(p->rb);
	if (m == -EAGAIN)
		return n > 0 ? n : 0;
	if (m < 0)
		return m;
	return (n > 0 ? n : 0) + m;
}

int profiler__set_asyncio_text(struct profiler *p, pid_t pid,
			       unsigned long long lo, unsigned long long hi)
{
	struct asyncio_text t = { .lo = lo, .hi = hi };
	__u32 k = pid;

	return bpf_map__update_elem(p->skel->maps.asyncio_text, &k, sizeof(k),
				    &t, sizeof(t), BPF_ANY);
}

int profiler__loops(struct profiler *p, profiler_loop_fn fn, void *ctx)
{
	int fd = bpf_map__fd(p->skel->maps.loops), ret = 0;
	struct loop_state ls;
	__u32 key, next;
	bool first = true;

	/* A bounded walk: the map holds at most max_entries keys. */
	for (unsigned int i = 0; i < bpf_map__max_entries(p->skel->maps.loops);
	     i++) {
		if (bpf_map_get_next_key(fd, first ? NULL : &key, &next))
			break;
		first = false;
		key = next;
		if (bpf_map_lookup_elem(fd, &key, &ls))
			continue;
		ret = fn(ctx, key, &ls);
		if (ret)
			break;
	}
	return ret;
}

/* Every counter of every CPU in one syscall (vals: STAT_NR x CPUs), or
 * false where the kernel has no batch lookup for per-CPU arrays. */
static bool stats_batch(int fd, __u64 *vals)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 keys[STAT_NR], count = STAT_NR, out;
	int err;

	err = bpf_map_lookup_batch(fd, NULL, &out, keys, vals, &count, &opts);
	if (err && err != -ENOENT)
		return false;
	return count == STAT_NR;
}

void profiler__stats(struct profiler *p, unsigned long long st[STAT_NR])
{
	int fd = bpf_map__fd(p->skel->maps.stats);
	__u64 *vals = calloc((size_t)p->ncpu * STAT_NR, sizeof(__u64));

	memset(st, 0, sizeof(st[0]) * STAT_NR);
	if (!vals)
		return;
	/* read twice a second: one syscall, not one per counter */
	if (stats_batch(fd, vals)) {
		for (__u32 i = 0; i < STAT_NR; i++)
			for (int c = 0; c < p->ncpu; c++)
				st[i] += vals[(size_t)i * p->ncpu + c];
		free(vals);
		return;
	}
	for (__u32 i = 0; i < STAT_NR; i++) {
		if (bpf_map_lookup_elem(fd, &i, vals))
			continue;
		for (int c = 0; c < p->ncpu; c++)
			st[i] += vals[c];
	}
	free(vals);
}

void profiler__timing(const struct profiler *p, unsigned long long *period_ns,
		      double *mean_hz)
{
	*period_ns = p->period_ns;
	*mean_hz = p->mean_hz;
}


/* One batch of the count map: keys and per-CPU values. */
#define COUNT_BATCH 256

static int counts_one_by_one(struct profiler *p, int fd, __u64 *vals,
			     profiler_count_fn fn, void *ctx)
{
	struct stack_key key, next;
	unsigned int max = bpf_map__max_entries(p->skel->maps.stack_counts);
	int n = 0;

	/* bounded: the map holds at most max keys */
	for (unsigned int i = 0; i < max; i++) {
		unsigned long long total = 0;

		if (bpf_map_get_next_key(fd, i ? &key : NULL, &next))
			break;
		key = next;
		if (bpf_map_lookup_elem(fd, &key, vals))
			continue;
		for (int c = 0; c < p->ncpu; c++)
			total += vals[c];
		fn(ctx, &key, total);
		n++;
	}
	return n;
}

int profiler__counts(struct profiler *p, profiler_count_fn fn, void *ctx)
{
	int fd = bpf_map__fd(p->skel->maps.stack_counts), n = 0, err = 0;
	struct stack_key *keys = calloc(COUNT_BATCH, sizeof(*keys));
	__u64 *vals = calloc((size_t)COUNT_BATCH * p->ncpu, sizeof(*vals));
	struct stack_key in, out;
	bool first = true;

	if (!keys || !vals) {
		n = -ENOMEM;
		goto out;
	}
	/* in batches: a syscall per 256 stacks, not two per stack */
	while (!err) {
		__u32 count = COUNT_BATCH;

		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals,
					   &count, NULL);
		if (err && errno != ENOENT) {
			if (first && (errno == EINVAL || errno == ENOTSUP)) {
				n = counts_one_by_one(p, fd, vals, fn, ctx);
				goto out;
			}
			n = -errno;
			goto out;
		}
		for (__u32 i = 0; i < count; i++) {
			unsigned long long total = 0;

			for (int c = 0; c < p->ncpu; c++)
				total += vals[(size_t)i * p->ncpu + c];
			fn(ctx, &keys[i], total);
			n++;
		}
		in = out;
		first = false;
	}
out:
	free(keys);
	free(vals);
	return n;
}

long long profiler__forget_count(struct profiler *p, const struct stack_key *k)
{
	int fd = bpf_map__fd(p->skel->maps.stack_counts);
	__u64 *vals = calloc(p->ncpu, sizeof(*vals));
	long long total = -1;

	if (vals && !bpf_map_lookup_and_delete_elem(fd, k, vals)) {
		total = 0;
		for (int c = 0; c < p->ncpu; c++)
			total += vals[c];
	} else {
		bpf_map_delete_elem(fd, k);
	}
	free(vals);
	return total;
}

unsigned int profiler__count_capacity(const struct profiler *p)
{
	return bpf_map__max_entries(p->skel->maps.stack_counts);
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The recording session: options in, typed stacks out to the sinks.
 *
 * The life of a sample: a cpu-clock perf event fires, BPF walks the
 * thread's Python frames and sends (code, instruction, tag) per frame
 * through the ring buffer; on_event() -> on_sample() finds the process in
 * the table (targets.c), stackbuild_sample() turns the frames into frame
 * ids of the session's frame table through the process's symbol cache,
 * and session_deliver() hands the stack to every sink (the record command
 * adds it to its profile; the writers render it at the end).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/session_int.h"
#include "native/ksyms.h"
#include "native/mixed.h"
#include "native/unwind.h"
#include "python/pyproc.h"
#include "sys/caps.h"
#include "sys/clock.h"
#include "sys/ctrnames.h"
#include "sys/log.h"
#include "sys/procfs.h"

static volatile sig_atomic_t stop_requested, stats_requested;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		stats_requested = 1;
	else
		stop_requested = 1;
}

unsigned long long session_now_ms(void)
{
	return clock_mono_ns() / 1000000;
}

void session_opts_init(struct session_opts *o)
{
	*o = (struct session_opts){
		.rate = 100,
		.ringbuf_mb = 8,
		.max_procs = 4096,
		.ready_fd = -1,
		.cpu = true,
		.group = GROUP_PROCESS,
	};
}

static const struct feature *const all_features[] = {
	&feature_offcpu, &feature_async, &feature_mem, &feature_threads,
	&feature_tasks,
};

/* --idle/--gil weights: the time since the CPU's previous tick. */
static unsigned long long sample_ns(const struct session *s,
				    const struct sample_event *e)
{
	unsigned long long ns = e->weight_ns;

	/* The first tick on a CPU has no predecessor; a gap far beyond the
	 * slowest drawn period means the timer was stopped meanwhile. */
	if (!ns || ns > 4 * s->sample_ns)
		ns = s->sample_ns;
	return (ns + 500) / 1000 * 1000;
}

void session_deliver(struct session *s, const struct session_sample *ss)
{
	unsigned long long count = ss->oncpu ? ss->count : 1;
	int lost = 0;

	for (int i = 0; i < s->nsinks; i++)
		if (s->sinks[i].sample &&
		    s->sinks[i].sample(s->sinks[i].ctx, ss))
			lost = 1;
	if (lost)
		s->lost_samples += count;
	else if (ss->oncpu)
		s->py_samples += count;
}

static void on_sample(struct session *s, const struct sample_event *e,
		      size_t size)
{
	struct session_sample ss = {
		.pid = e->pid, .tid = e->tid, .oncpu = true, .count = 1,
	};
	struct tracked *t;

	if (e->nframes > MAX_PY_FRAMES ||
	    size < offsetof(struct sample_event, frames) +
			   e->nframes * sizeof(e->frames[0])) {
		s->lost_samples++;
		return;
	}
	t = targets_find(s, e->pid);
	if (!t || !t->python) {
		s->lost_samples++;
		return;
	}
	ss.n = stackbuild_sample(s, t, e, size, &ss.nroot);
	ss.frames = s->stack;
	ss.ns = sample_ns(s, e);
	ss.start = e->ktime - ss.ns;
	ss.in_loop = e->flags & SAMPLE_IN_LOOP;
	t->samples++;
	session_deliver(s, &ss);
	/* its next samples are counted in the kernel under this stack */
	if (e->flags & SAMPLE_NEW_STACK)
		stackcount_learn(s, e, ss.frames, ss.n, ss.nroot);
}

static void on_proc_event(struct session *s, const struct pyproc_event *pe)
{
	switch (pe->type) {
	case EV_DISCOVER:
	case EV_FORK:
		targets_detect(s, pe->pid, 0, false);
		break;
	case EV_EXEC:
		/* New image: forget the old layout and symbols. */
		targets_drop(s, pe->pid);
		targets_detect(s, pe->pid, 0, true);
		break;
	case EV_EXIT:
		for (int i = 0; i < s->nfeatures; i++)
			if (s->features[i]->exit)
				s->features[i]->exit(s, pe->pid, pe->ktime);
		targets_drop(s, pe->pid);
		break;
	}
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct session *s = ctx;
	const struct pyproc_event *pe = data;
	int ret = 0;

	/* A drain longer than this yields to the loop (timers, -d, keys);
	 * the rest stays queued in the ring buffer. */
	if ((++s->drained & 63) == 0 && clock_mono_ns() > s->drain_deadline)
		ret = -EAGAIN;
	if (size < sizeof(__u32))
		return ret;
	switch (pe->type) {
	case EV_SAMPLE:
		if (size >= offsetof(struct sample_event, frames))
			on_sample(s, data, size);
		return ret;
	case EV_DISCOVER:
	case EV_FORK:
	case EV_EXEC:
	case EV_EXIT:
		if (size >= sizeof(*pe))
			on_proc_event(s, pe);
		return ret;
	}
	for (int i = 0; i < s->nfeatures; i++)
		if (s->features[i]->event &&
		    s->features[i]->event(s, pe->type, data, size))
			break;
	return ret;
}

static int configure(struct session *s, struct profiler_opts *po)
{
	const struct session_opts *o = &s->o;

	po->all = o->all;
	po->follow_children = o->subprocesses;
	po->rate_hz = o->rate;
	po->ringbuf_bytes = (size_t)o->ringbuf_mb << 20;
	po->max_procs = o->max_procs;
	po->kstack = o->kernel;
	po->ustack_bytes = o->native ? MAX_USTACK : 0;
	po->no_sampler = !o->cpu;
	/* Samples of stacks seen before are counted in the kernel unless a
	 * sink needs each of them: in time order, weighed, or with kernel or
	 * native frames (samples inside event-loop iterations are always
	 * sent: they belong to a stall). */
	po->count_stacks = o->cpu && !o->timeline && !o->offcpu && !o->gil &&
			   !o->kernel && !o->native && !o->tasks;
	po->count_tid = o->threads;
	po->stack_map = o->stack_map;
	if (po->count_stacks && stackcount_init(s))
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(all_features) / sizeof(all_features[0]); i++) {
		if (!all_features[i]->wanted(o))
			continue;
		s->features[s->nfeatures++] = all_features[i];
		all_features[i]->configure(s, po);
	}
	if (o->offcpu || o->gil || o->kernel || o->async.on) {
		s->ksyms = ksyms__load("/proc/kallsyms");
		if (!s->ksyms)
			pr_warn("cannot read kernel symbols (%s): off-CPU reasons will be coarse",
				strerror(errno));
	}
	if (o->native) {
		/* symbols come from local files only: no network lookups */
		unsetenv("DEBUGINFOD_URLS");
		s->unwinder = unwinder_new();
		if (!s->unwinder) {
			pr_err("cannot set up the native unwinder: %s", strerror(errno));
			return -errno;
		}
	}
	return 0;
}

/* The command waits on a pipe until the sampler is attached; a second
 * pipe, closed by a successful exec, carries exec's errno back so that a
 * command that cannot run is an error rather than an empty profile. */
static int start_child(struct session *s)
{
	int go[2], ex[2];
	pid_t pid;

	if (pipe2(go, O_CLOEXEC))
		return -errno;
	if (pipe2(ex, O_CLOEXEC)) {
		close(go[0]);
		close(go[1]);
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(go[0]);
		close(go[1]);
		close(ex[0]);
		close(ex[1]);
		return err;
	}
	if (pid == 0) {
		char c;
		int err;

		close(go[1]);
		close(ex[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		execvp(s->o.cmd[0], s->o.cmd);
		err = errno;
		if (write(ex[1], &err, sizeof(err)) != sizeof(err))
			_exit(127);
		_exit(err == ENOENT ? 127 : 126);
	}
	close(go[0]);
	close(ex[1]);
	s->go_fd = go[1];
	s->exec_fd = ex[0];
	s->child = pid;
	return 0;
}

/* Let the command run, and wait for its exec: 0 or exec's -errno. */
static int release_child(struct session *s)
{
	int err = 0;
	ssize_t n;

	if (write(s->go_fd, "g", 1) != 1)
		pr_warn("could not start the command");
	close(s->go_fd);
	s->go_fd = -1;
	do
		n = read(s->exec_fd, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(s->exec_fd);
	s->exec_fd = -1;
	if (n != sizeof(err))
		return 0;
	pr_err("cannot run %s: %s", s->o.cmd[0], strerror(err));
	waitpid(s->child, NULL, 0);
	s->child = 0;
	return -err;
}

/* Targets named by pid must exist and run CPython: say so up front. */
static int check_pids(const struct session_opts *o)
{
	for (int i = 0; i < o->npids; i++) {
		struct pyproc_info info;
		char err[512];
		int ret = pyproc_detect_young(o->pids[i], &info, err, sizeof(err));

		if (ret) {
			pr_err("%s", err);
			return ret == -ESRCH ? -ESRCH : -EINVAL;
		}
	}
	return 0;
}

int session_open(struct session **out, const struct session_opts *o)
{
	struct profiler_opts po = { 0 };
	struct session *s;
	int ret;

	*out = NULL;
	ret = check_privileges();
	if (ret)
		return ret;
	ret = check_pids(o);
	if (ret)
		return ret;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = *o;
	s->go_fd = -1;
	s->exec_fd = -1;
	frames_init(&s->ft);
	s->sample_ns = 1000000000ULL / (o->rate ? o->rate : 100);
	ret = stackbuild_init(s);
	if (!ret)
		ret = configure(s, &po);
	if (!ret)
		ret = profiler__open(&s->prof, &po, on_event, s);
	if (!ret && o->cmd) {
		ret = start_child(s);
		if (ret)
			pr_err("cannot start %s: %s", o->cmd[0], strerror(-ret));
	}
	if (ret) {
		session_close(s);
		return ret;
	}
	for (int i = 0; i < o->npids; i++)
		profiler__add_target(s->prof, o->pids[i]);
	if (s->child > 0)
		profiler__add_target(s->prof, s->child);
	*out = s;
	return 0;
}

struct frame_table *session_frames(struct session *s)
{
	return &s->ft;
}

int session_add_sink(struct session *s, const struct session_sink *sink)
{
	if (s->nsinks >= SESSION_MAX_SINKS)
		return -E2BIG;
	s->sinks[s->nsinks++] = *sink;
	return 0;
}

/*
 * kill -USR1: one line of memory figures on stderr. The profile (the
 * sinks' data, the frames and the counted stacks) grows with every
 * distinct stack it records; the heap besides it must not (scripts/soak.py
 * reads this line to tell the two apart).
 */
static void print_stats(struct session *s)
{
	struct mallinfo2 mi = mallinfo2();
	size_t stacks = 0, bytes = frames_bytes(&s->ft) + stackcount_bytes(s);

	for (int i = 0; i < s->nsinks; i++) {
		size_t n = 0;

		if (s->sinks[i].bytes)
			bytes += s->sinks[i].bytes(s->sinks[i].ctx, &n);
		stacks += n;
	}
	fprintf(stderr,
		"pyrograph: stats: stacks %zu, profile bytes %zu, heap in use %zu, processes %u live %u seen\n",
		stacks, bytes, mi.uordblks + mi.hblkhd, s->nprocs_live, s->nprocs_seen);
}

void session_health(struct session *s, struct session_health *h)
{
	unsigned long long period;

	*h = (struct session_health){
		.py_samples = s->py_samples,
		.lost_samples = s->lost_samples,
		.stalls = s->stalls,
		.nprocs_live = s->nprocs_live,
		.nprocs_seen = s->nprocs_seen,
		.start_mono_ns = s->start_ms * 1000000ULL,
		.start_wall_ns = s->start_wall_ns,
		.elapsed = s->end_elapsed > 0 ? s->end_elapsed :
			   s->start_ms ? (session_now_ms() - s->start_ms) / 1000.0 : 0,
	};
	profiler__stats(s->prof, h->stats);
	profiler__timing(s->prof, &period, &h->hz);
	if (!(h->hz > 0))
		h->hz = s->o.rate;
}

/* Every second: loop timings (when reaped), then the sinks' tick. */
static int tick(struct session *s)
{
	struct session_health h;

	if (s->o.async.reap_loops)
		for (int i = 0; i < s->nsinks; i++)
			if (s->sinks[i].loop)
				profiler__loops(s->prof, s->sinks[i].loop,
						s->sinks[i].ctx);
	stackcount_drain(s);
	session_health(s, &h);
	for (int i = 0; i < s->nsinks; i++)
		if (s->sinks[i].tick && s->sinks[i].tick(s->sinks[i].ctx, &h))
			return 1;
	return 0;
}

static void announce_start(struct session *s)
{
	const struct session_opts *o = &s->o;
	const char *what = o->container || o->cgroup ? "the selected containers" :
			   o->all ? "all Python processes" :
			   o->cmd ? o->cmd[0] : "the selected processes";

	if (o->quiet)
		return;
	if (!o->cpu)
		pr_info("watching the memory of %s; Ctrl-C to stop", what);
	else
		pr_info("recording %s at %u Hz; Ctrl-C to stop", what, o->rate);
}

static int start(struct session *s)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int ret;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	s->running = true;
	if (s->o.all) {
		unsigned long long t0 = clock_mono_ns();

		targets_scan(s);
		pr_debug("/proc scan: %.1f ms, %u Python processes",
			 (clock_mono_ns() - t0) / 1e6, s->nprocs_seen);
		/* A filter that matches nothing yet is likely a typo, or a
		 * container still starting: say so rather than record nothing
		 * in silence. */
		if (!s->nprocs_seen && (s->o.container || s->o.cgroup))
			pr_warn("no Python process in %s %s yet; waiting for one",
				s->o.container ? "container" : "cgroup",
				s->o.container ? s->o.container : s->o.cgroup);
	}
	for (int i = 0; i < s->o.npids; i++)
		targets_detect(s, s->o.pids[i], TARGETS_RETRY_MAX, false);
	/* Everything privileged is set up: keep only what reading needs, and
	 * what probing the processes found from now on needs. */
	ret = drop_capabilities((s->o.async.on && s->o.async.steps) || s->o.mem.on);
	if (ret)
		pr_warn("could not drop capabilities: %s", strerror(-ret));
	ret = profiler__start(s->prof);
	if (ret) {
		pr_err("cannot enable the perf events: %s", strerror(-ret));
		return ret;
	}
	if (s->go_fd >= 0) {
		ret = release_child(s);
		if (ret)
			return ret;
	}
	if (s->o.ready_fd >= 0) {
		if (write(s->o.ready_fd, "ready\n", 6) != 6)
			pr_warn("could not write to --ready-fd %d", s->o.ready_fd);
		close(s->o.ready_fd);
		s->o.ready_fd = -1;
	}
	s->start_ms = session_now_ms();
	s->start_wall_ns = clock_real_ns();
	if (s->o.duration > 0)
		s->end_ms = s->start_ms + (unsigned long long)(s->o.duration * 1000);
	if (!s->o.quiet && !isatty(STDERR_FILENO))
		s->o.quiet = true;
	announce_start(s);
	return 0;
}

/* Should the loop end now? */
static bool finished(struct session *s, unsigned long long now)
{
	int status;

	if (s->end_ms && now >= s->end_ms)
		return true;
	if (s->child > 0 && !s->child_done &&
	    waitpid(s->child, &status, WNOHANG) == s->child)
		s->child_done = true;
	if (s->child_done)
		return true;
	if (!s->o.cmd && !s->o.all && !targets_alive(s)) {
		pr_info("every target process has exited");
		return true;
	}
	return false;
}

/* Once a second: rate calibration, features' rescans, heap trimming. */
static void every_second(struct session *s)
{
	profiler__calibrate(s->prof);
	for (int i = 0; i < s->nfeatures; i++)
		if (s->features[i]->tick)
			s->features[i]->tick(s);
	/* Per-process symbol caches come and go with churn; give the freed
	 * heap back instead of letting it fragment. */
	if (++s->trims % 30 == 0)
		malloc_trim(0);
}

/*
 * Events sent without a wake-up (samples, off-CPU intervals, loop and
 * memory events) are drained every SESSION_POLL_MS, and so are the
 * features' and sinks' polls and detection retries. When only stacks
 * counted in the kernel flow (a plain recording), the kernel wakes us for
 * each new stack and process, so the loop sleeps until its next duty.
 */
#define SESSION_POLL_MS 20

static bool polls_needed(const struct session *s)
{
	/* s->counts: stacks are counted in the kernel (no per-sample events) */
	if (!s->counts || s->nfeatures || s->npending)
		return true;
	for (int i = 0; i < s->nsinks; i++)
		if (s->sinks[i].poll)
			return true;
	return false;
}

static int poll_ms(const struct session *s, unsigned long long now,
		   unsigned long long due)
{
	if (polls_needed(s))
		return SESSION_POLL_MS;
	if (s->end_ms && s->end_ms < due)
		due = s->end_ms;
	/* a child's exit is noticed by waitpid here, not by a wake-up */
	if (s->child > 0 && due > now + 100)
		due = now + 100;
	return due > now ? (int)(due - now) : 0;
}

static unsigned long long min_ull(unsigned long long a, unsigned long long b)
{
	return a < b ? a : b;
}

static int loop(struct session *s)
{
	unsigned long long next_status, next_jitter = 0, next_second = 0;
	unsigned long long next_tick = 0, due, now;
	unsigned int jitter_ms = profiler__jitter_ms(s->prof);
	int ret = 0;

	next_status = s->start_ms + 1000;
	/* the periods drawn at the start hold for a whole interval: the
	 * draws pair up (profiler__jitter) */
	next_jitter = session_now_ms() + jitter_ms;
	while (!stop_requested) {
		due = min_ull(min_ull(next_jitter, next_second), next_tick);
		if (!s->o.quiet)
			due = min_ull(due, next_status);
		s->drain_deadline = clock_mono_ns() + 200000000ULL;
		ret = profiler__poll(s->prof, poll_ms(s, session_now_ms(), due));
		if (ret < 0) {
			pr_err("error reading samples: %s", strerror(-ret));
			return ret;
		}
		ret = 0;
		targets_run_pending(s);
		if (stats_requested) {
			stats_requested = 0;
			print_stats(s);
		}
		now = session_now_ms();
		if (now >= next_jitter) {
			profiler__jitter(s->prof);
			next_jitter = now + jitter_ms;
		}
		if (now >= next_second) {
			every_second(s);
			next_second = now + 1000;
		}
		if (finished(s, now))
			break;
		if (!s->o.quiet && now >= next_status) {
			summary_status_line(s, false);
			next_status = now + 1000;
		}
		for (int i = 0; i < s->nfeatures; i++)
			if (s->features[i]->poll)
				s->features[i]->poll(s);
		for (int i = 0; i < s->nsinks; i++)
			if (s->sinks[i].poll && s->sinks[i].poll(s->sinks[i].ctx))
				return 0;
		if (now >= next_tick) {
			if (tick(s))
				return 0;
			next_tick = now + 1000;
		}
	}
	return 0;
}

/* Whatever is still in the ring buffer belongs to this recording. */
static void finish(struct session *s)
{
	struct session_health h;

	/* stop the timers first so the counters and the samples agree */
	profiler__stop(s->prof);
	/* The final drain takes what was queued when sampling stopped: at
	 * most the ring buffer; bounded anyway, a slow consumer (--native on
	 * a loaded machine) must not keep us past the end. */
	s->drain_deadline = clock_mono_ns() + 5000000000ULL;
	while (profiler__poll(s->prof, 0) > 0 && clock_mono_ns() < s->drain_deadline)
		;
	/* and what was counted in the kernel, now that every first sample of
	 * a stack has been read */
	stackcount_drain(s);
	/* Threads still blocked now were off the CPU until now. */
	for (int i = 0; i < s->nfeatures; i++)
		if (s->features[i]->exit)
			s->features[i]->exit(s, 0, clock_mono_ns());
	if (!s->o.async.reap_loops)
		for (int i = 0; i < s->nsinks; i++)
			if (s->sinks[i].loop)
				profiler__loops(s->prof, s->sinks[i].loop,
						s->sinks[i].ctx);
	s->end_elapsed = (session_now_ms() - s->start_ms) / 1000.0;
	session_health(s, &h);
	h.elapsed = s->end_elapsed;
	SINKS_CALL(s, done, &h);
	s->running = false;
}

int session_run(struct session *s)
{
	int ret = start(s);

	if (!ret)
		ret = loop(s);
	finish(s);
	return ret;
}

void session_close(struct session *s)
{
	if (!s)
		return;
	if (s->o.ready_fd >= 0)
		close(s->o.ready_fd); /* never ready: the waiter sees EOF */
	if (s->go_fd >= 0)
		close(s->go_fd); /* the child sees EOF and exits */
	if (s->exec_fd >= 0)
		close(s->exec_fd);
	if (s->child > 0 && !s->child_done) {
		/* We started it; like timeout(1), stop it with the recording. */
		kill(s->child, SIGTERM);
		waitpid(s->child, NULL, 0);
	}
	s->running = false;
	profiler__close(s->prof);
	s->prof = NULL; /* targets_drop() below must not touch it */
	targets_drop_all(s);
	for (int i = 0; i < s->nfeatures; i++)
		if (s->features[i]->close)
			s->features[i]->close(s);
	stackcount_free(s);
	ksyms__free(s->ksyms);
	unwinder_free(s->unwinder);
	ctrnames_free(s->names);
	mixed_free();
	stackbuild_free(s);
	frames_free(&s->ft);
	free(s);
	pyproc_cache_free();
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_PROFILER_H
#define PYROGRAPH_PROFILER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "profile.h"

/* Loader for bpf/profile.bpf.c: the on-CPU sampler and process tracking. */
struct profiler;

struct profiler_opts {
	bool all;	       /* every process (else only added targets) */
	bool follow_children;  /* forked children of targets become targets */
	unsigned int rate_hz;  /* mean samples per second per CPU */
	size_t ringbuf_bytes;  /* ring buffer size (power of two) */
	unsigned int max_procs; /* Python processes tracked at once */
	bool offcpu;	       /* trace context switches (EV_OFFCPU/EV_ONCPU) */
	bool gil_only;	       /* only GIL holders on CPU, only GIL waits off it */
	bool kstack;	       /* kernel stacks with on-CPU samples */
	unsigned int ustack_bytes; /* user stack copied per sample (--native) */
	bool loops;	       /* async: time event-loop iterations (implies offcpu) */
	unsigned long long stall_ns; /* async: iterations this long are EV_STALL */
	bool sample_all;       /* with loops: CPU samples of every Python thread */
	bool loops_reap;       /* with loops: a thread's timing goes when it exits */
	bool steps;	       /* with loops: task-step probes (py_send_enter) */
	bool no_step_events;   /* with loops: no EV_STEP (resumes still sent) */
	bool mem;	       /* mem: resident-memory changes and collections;
				* no CPU sampler */
	unsigned long long alloc_period; /* mem --allocations: bytes per sample (0: off) */
	bool no_rss;	       /* with mem: collections only, no RSS-change hook
				* (the agent's metrics read RSS from /proc) */
	unsigned long long live_min; /* mem --live: C allocations this large are
				      * tracked until freed (0: off) */
	unsigned int live_max;	     /* ... at most this many at once */
	bool held;		     /* mem: mappings and heap growth until
				      * given back (held.bpf.h) */
	bool no_sampler;       /* no CPU sampler (memory only) */
	bool count_stacks;     /* CPU samples of stacks seen before counted in
				* BPF (profiler__counts), not sent */
	bool count_tid;	       /* ... per thread */
	unsigned int stack_map; /* stacks counted at once (0: default) */
	bool tasks;	       /* record --tasks: samples carry the running
				* coroutine's frame (sample_event.aux) */
};

/*
 * Called for each ring buffer record (struct sample_event or pyproc_event).
 * Returning -EAGAIN (after handling the record) ends this drain early, so a
 * consumer slower than the samples still gets back to its loop.
 */
typedef int (*profiler_event_fn)(void *ctx, void *data, size_t size);

/* open -> configure -> load -> attach; returns negative errno and prints why. */
int profiler__open(struct profiler **out, const struct profiler_opts *o,
		   profiler_event_fn fn, void *ctx);
/* Start sampling (perf events are created disabled until here). */
int profiler__start(struct profiler *p);
/* Stop sampling, so the counters hold still for the summary. */
int profiler__stop(struct profiler *p);
void profiler__close(struct profiler *p);

int profiler__add_target(struct profiler *p, pid_t pid);
int profiler__add_proc(struct profiler *p, pid_t pid, const struct py_proc *pp);
int profiler__del_proc(struct profiler *p, pid_t pid);
/*
 * --idle: thread tid, found blocked, is off the CPU since ktime
 * (CLOCK_MONOTONIC): when it runs again BPF sends its EV_ONCPU, as for an
 * interval an EV_OFFCPU opened. -EEXIST when it has one already (it left
 * the CPU since it was found blocked).
 */
int profiler__offcpu_seed(struct profiler *p, pid_t tid, unsigned long long ktime);
/* Drain the ring buffer; returns records consumed or negative errno. */
int profiler__poll(struct profiler *p, int timeout_ms);
/* Calls fn for each polling thread's loop timing (async); stops on non-zero. */
typedef int (*profiler_loop_fn)(void *ctx, __u32 tid, const struct loop_state *ls);
int profiler__loops(struct profiler *p, profiler_loop_fn fn, void *ctx);
/*
 * Task steps (async): uprobes on PyIter_Send in the ELF at path for process
 * pid only, and where its _asyncio code lies. Returns 0 or negative errno.
 * Here and below, path is a target_file's /proc/self/fd/N (targetfile.h):
 * libbpf parses, and the kernel probes, the file the process maps.
 */
int profiler__attach_steps(struct profiler *p, pid_t pid, const char *path);
/* The same at file offsets in _asyncio (its calls of PyIter_Send, or the
 * PLT stub they go through: see pltstub.h), where every hit is a task
 * step, so no caller filter is needed. At most PROFILER_STEP_SITES. */
#define PROFILER_STEP_SITES 4
/* Probes per process at most (task steps, or collections + allocators +
 * the C allocator's five entries and three returns for --live). */
#define PROFILER_PID_LINKS 16
int profiler__attach_steps_at(struct profiler *p, pid_t pid, const char *path,
			      const unsigned long long *offsets, int n);
/* Removes the probes placed in process pid (steps, collections, allocators). */
void profiler__detach_steps(struct profiler *p, pid_t pid);
/*
 * mem: probes in process pid's interpreter ELF at path: CPython's gc__start
 * and gc__done USDT probes, and with allocations the allocator entry points;
 * with malloc_lib (the library the process's malloc and free are in;
 * NULL: none) the --live probes. Returns what was
 * placed (PROFILER_MEM_* bits; 0: nothing, e.g. a build without USDT
 * probes) or negative errno.
 */
#define PROFILER_MEM_GC 1
#define PROFILER_MEM_ALLOC 2
#define PROFILER_MEM_LIVE 4
int profiler__attach_mem(struct profiler *p, pid_t pid, const char *path,
			 bool allocations, const char *malloc_lib);
/* async: have BPF send the await chain (pid, hash) again at its next
 * suspension (userspace does not know it). */
int profiler__forget_chain(struct profiler *p, pid_t pid, unsigned long long hash);
int profiler__set_asyncio_text(struct profiler *p, pid_t pid,
			       unsigned long long lo, unsigned long long hi);
/*
 * Stacks counted in BPF: fn(ctx, key, total) for each, total the samples
 * counted under key so far (all CPUs). Returns the keys walked or a
 * negative errno.
 */
typedef void (*profiler_count_fn)(void *ctx, const struct stack_key *k,
				  unsigned long long total);
int profiler__counts(struct profiler *p, profiler_count_fn fn, void *ctx);
/* Takes key k out of the counts (a process gone, a stack not seen lately);
 * its next sample is sent again as new. Returns its total at that moment
 * (read as it was deleted: no sample is lost in between), or -1. */
long long profiler__forget_count(struct profiler *p, const struct stack_key *k);
/* Entries the count map holds at most. */
unsigned int profiler__count_capacity(const struct profiler *p);
/* Sums the per-CPU counters. */
void profiler__stats(struct profiler *p, unsigned long long st[STAT_NR]);
/*
 * Re-draws each CPU's timer period around the mean (see profiler.c); call
 * it every profiler__jitter_ms() while recording.
 */
int profiler__jitter(struct profiler *p);
/* How often to call profiler__jitter: every 25 mean periods, at least
 * every 250 ms (each re-draw is an IPI to every CPU). */
unsigned int profiler__jitter_ms(const struct profiler *p);
/* Keeps the mean timer rate at the asked rate; call it about once a second. */
int profiler__calibrate(struct profiler *p);
/* Effective sampling: the timer period, and mean_hz, the measured samples
 * per second of busy CPU (what a sample stands for). */
void profiler__timing(const struct profiler *p, unsigned long long *period_ns,
		      double *mean_hz);

#endif

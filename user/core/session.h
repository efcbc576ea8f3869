/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_SESSION_H
#define PYROGRAPH_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "profile.h"
#include "model/frames.h"

struct container_info;

/*
 * A recording session: the engine every command runs on. It is opened from
 * session_opts (targets, duration, rate, features), given one or more
 * sinks, run until its end, and closed:
 *
 *	session_open(&s, &opts) -> session_add_sink(s, &sink)... ->
 *	session_run(s) -> session_close(s)
 *
 * The session finds the Python processes, loads and attaches the BPF
 * programs of the features asked for, turns what BPF sends into typed
 * stacks (model/frames.h) and hands them to the sinks; it keeps the
 * accounting of every sample. Sinks aggregate, report or serve; they never
 * see BPF or the process table.
 */

#define SESSION_MAX_PIDS 64
#define SESSION_MAX_SINKS 4

enum group_by {
	GROUP_CONTAINER, /* container frame (when in one), then process */
	GROUP_PROCESS,
	GROUP_NONE,
};

struct session_opts {
	/* targets: -p PIDs, -a, or a command to run (NULL-terminated) */
	pid_t pids[SESSION_MAX_PIDS];
	int npids;
	bool all;
	char **cmd;
	bool subprocesses;     /* children of -p / the command too */
	const char *container; /* only this container: name or id prefix */
	const char *cgroup;    /* only this cgroup (v2 path) or below */
	/* the recording */
	double duration;       /* seconds; 0: until stopped */
	unsigned int rate;     /* mean samples per second of busy CPU */
	bool quiet;	       /* no live status line */
	int ready_fd;	       /* written "ready\n" and closed once sampling; -1 */
	unsigned int ringbuf_mb;
	unsigned int max_procs;
	/* stacks */
	enum group_by group;
	bool threads; /* a thread frame under each process */
	bool timeline; /* a sink needs every sample in time order */
	unsigned int stack_map; /* stacks counted in BPF at once (0: default) */
	bool kernel;  /* kernel frames under the Python (and native) ones */
	bool native;  /* native frames between the Python ones */
	bool tasks;   /* record --tasks: a running coroutine's stack continues
		       * through the asyncio tasks awaiting it */
	/* features */
	bool cpu;     /* the CPU sampler (off: memory only) */
	bool offcpu;  /* off-CPU intervals (--idle) */
	bool gil;     /* GIL holders on CPU, GIL waits off it (--gil) */
	struct session_async {
		bool on;			/* time event-loop iterations */
		unsigned long long stall_ns;	/* iterations this long are stalls */
		bool steps;			/* task-step and await probes */
		bool step_events;		/* ... and every step sent */
		bool sample_all;		/* CPU samples of every Python thread */
		bool reap_loops;		/* a loop thread's timing goes with it */
	} async;
	struct session_mem {
		bool on;			/* collections (USDT) */
		bool rss;			/* resident-memory changes */
		unsigned long long alloc_period;/* --allocations: bytes per sample */
		unsigned long long live_min;	/* --live: tracked from this size */
		unsigned int live_max;		/* ... at most this many at once */
		bool held;			/* mappings until given back */
	} mem;
};

/* Defaults every command starts from (rate 100 Hz, all processes...). */
void session_opts_init(struct session_opts *o);

/* A Python process the session now tracks. */
struct session_target {
	pid_t pid;
	const char *version;	/* "3.11.2" */
	const char *binary;	/* the ELF with _PyRuntime */
	const char *cmd;	/* its command line */
	const struct container_info *ci; /* where it runs */
	const char *where;	/* "container ID", "cgroup PATH" or NULL */
	const frame_id *root;	/* root frames: container, process */
	uint32_t nroot;
	const char *label;	/* their folded text */
	int mem_probes;		/* mem: PROFILER_MEM_* bits, or -errno */
};

/* A stack of a thread: on the CPU (a sample standing for ns of CPU time up
 * to start + ns) or off it (from start, for ns; its leaf is the reason). */
struct session_sample {
	pid_t pid, tid;
	const frame_id *frames; /* root frames first */
	uint32_t n, nroot;
	/* on the CPU: how many samples of this stack this stands for (more
	 * than one when they were counted in the kernel) */
	unsigned long long count;
	unsigned long long start, ns; /* ktime */
	bool oncpu;
	bool in_loop; /* async: a loop thread inside an iteration */
};

/* mem: a change of resident memory (EV_MEM), a collection (EV_GC), a
 * sampled (EV_ALLOC) or tracked (EV_LIVE) allocation with its stack, or a
 * tracked allocation freed (EV_LIVE_FREE, no stack). See profile.h. */
struct session_mem_event {
	pid_t pid;
	__u32 type;
	const frame_id *frames;
	uint32_t n, nroot;
	long long value, aux0, aux1;
	unsigned long long ktime;
};

/* async: a task step of coroutine coro (code: its function) ended;
 * result 1: suspended, 0: the task ended (returned or raised), -1: not
 * known. born: when its task began (the loop iteration of its first step;
 * 0: before it was seen). */
struct session_step {
	pid_t pid, tid;
	unsigned long long coro;
	frame_id code;
	unsigned long long start, ns, born;
	unsigned long long off_ns, preempt_ns; /* of ns: off the CPU, and
						 * of that preempted */
	int result;
};

/* async: task coro resumed after ns suspended at chain (its coroutine
 * frames where it awaited, outermost first; [truncated] at an end whose
 * levels were not kept), of which queued_ns ready (since the loop
 * iteration that resumed it began). */
struct session_resume {
	pid_t pid, tid;
	unsigned long long coro;
	const frame_id *chain;
	uint32_t n;
	unsigned long long at, ns, queued_ns;
};

/* The session's own figures. */
struct session_health {
	unsigned long long stats[STAT_NR]; /* the BPF counters (STAT_*) */
	unsigned long long py_samples;	   /* Python samples taken in */
	unsigned long long lost_samples;   /* ... and lost in userspace */
	unsigned long long stalls;	   /* async: stall events received */
	unsigned int nprocs_live;	   /* Python processes tracked now */
	unsigned int nprocs_seen;	   /* ... since the start */
	double hz;			   /* measured samples per busy CPU second */
	double elapsed;			   /* seconds since sampling started */
	unsigned long long start_mono_ns;  /* when: CLOCK_MONOTONIC (ms steps) */
	unsigned long long start_wall_ns;  /* ... and CLOCK_REALTIME */
};

/*
 * What a consumer plugs in. Every callback may be NULL. A callback that
 * returns non-zero: sample() lost it (counted), tick()/poll() stop the run.
 */
struct session_sink {
	void *ctx;
	void (*found)(void *ctx, const struct session_target *t);
	/* a tracked process exited or exec'd (it may come back, under the
	 * same pid, through found()) */
	void (*gone)(void *ctx, pid_t pid);
	int (*sample)(void *ctx, const struct session_sample *s);
	void (*stall)(void *ctx, const struct stall_event *e);
	void (*step)(void *ctx, const struct session_step *s);
	void (*resume)(void *ctx, const struct session_resume *r);
	void (*mem)(void *ctx, const struct session_mem_event *m);
	/* each polling thread's timing: every tick when the loops are reaped
	 * (cumulative figures), otherwise once at the end */
	int (*loop)(void *ctx, __u32 tid, const struct loop_state *ls);
	/* every second; non-zero stops */
	int (*tick)(void *ctx, const struct session_health *h);
	/* every pass of the loop (a few tens of ms): keys, sockets */
	int (*poll)(void *ctx);
	/* the end: everything was handed over */
	void (*done)(void *ctx, const struct session_health *h);
	/* the heap the sink's data holds (what was asked for grows with
	 * what runs) and its number of stacks, for kill -USR1 */
	size_t (*bytes)(void *ctx, size_t *stacks);
};

struct session;

/*
 * Checks the environment (privileges, BTF), the -p targets (they must run
 * CPython), loads the BPF programs of the features asked for and, with a
 * command, forks it (it waits for the session to start). Prints one line
 * saying what is wrong and returns a negative errno.
 */
int session_open(struct session **s, const struct session_opts *o);
/* The frame table the session's stacks refer to. */
struct frame_table *session_frames(struct session *s);
int session_add_sink(struct session *s, const struct session_sink *sink);
/*
 * Finds the processes, starts sampling, drops the capabilities setup
 * needed, and hands everything to the sinks until the duration ends, the
 * targets are gone, a signal or a sink stops it. 0 or a negative errno.
 */
int session_run(struct session *s);
/* The figures as of now (and, after session_run, of the whole run). */
void session_health(struct session *s, struct session_health *h);
/* The live status line's last state, and the summary lines (stderr). */
void session_print_status(struct session *s);
void session_print_summary(struct session *s);
void session_close(struct session *s);

#endif

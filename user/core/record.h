/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_RECORD_H
#define PYROGRAPH_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "model/stackagg.h" /* struct stack_count */
#include "output/flamegraph.h"
#include "profile.h"

/*
 * pyrograph async: the recording loop times event-loop iterations in BPF
 * and hands over, instead of aggregating them, the stacks of loop threads
 * inside iterations, the stalls, and at the end each loop's histogram.
 */
struct async_hooks {
	void *ctx;
	unsigned long long stall_ns; /* iterations this long are stalls */
	bool no_steps;		     /* no task-step/await uprobes */
	/* CPU samples of every Python thread, not only of loop threads inside
	 * iterations; also aggregated for the view's refresh (check). */
	bool sample_all;
	/* A loop thread's timing is dropped when the thread exits, so a run
	 * without end cannot fill the table (the agent reads it every tick;
	 * async, which reads it at the end, keeps it). */
	bool reap_loops;
	/* A Python process now tracked: its root frame text. */
	void (*proc)(void *ctx, pid_t pid, const char *label);
	/* A loop thread's stack inside an iteration: on the CPU (a sample
	 * standing for ns of CPU time up to start + ns) or off it (from start,
	 * for ns; the leaf frame is the reason). */
	void (*stack)(void *ctx, pid_t pid, pid_t tid, const char *stack,
		      bool oncpu, unsigned long long start,
		      unsigned long long ns);
	/* An iteration over stall_ns; every stack inside it came before. */
	void (*stall)(void *ctx, const struct stall_event *e);
	/* A task step of coroutine object coro (code: its function) ended;
	 * result as PyIter_Send's (1 suspended, 0 returned, -1 raised).
	 * May be NULL. */
	void (*step)(void *ctx, pid_t pid, pid_t tid, unsigned long long coro,
		     const char *code, unsigned long long start,
		     unsigned long long ns, int result);
	/* Task coro resumed after ns suspended at chain (its coroutine
	 * frames where it awaited, outermost first, ';' between). */
	void (*resume)(void *ctx, pid_t pid, pid_t tid, unsigned long long coro,
		       const char *chain, unsigned long long at,
		       unsigned long long ns);
	/* At the end, each polling thread's timing. */
	int (*loop)(void *ctx, __u32 tid, const struct loop_state *ls);
};

/*
 * pyrograph mem: no CPU sampler; BPF sends each change of a Python
 * process's resident memory, each collection (USDT) and, with allocations,
 * sampled allocator calls, each with the Python stack of the thread.
 */
struct mem_hooks {
	void *ctx;
	unsigned long long alloc_period; /* --allocations: bytes per sample; 0 off */
	bool gc_only; /* collections only: no EV_MEM (RSS changes) at all */
	unsigned long long live_min; /* --live: allocations this large are
				      * tracked until freed; 0 off */
	unsigned int live_max; /* ... at most this many at once */
	/* A Python process now tracked: its root frame text, its version, and
	 * what could be probed in it (PROFILER_MEM_* bits, negative errno). */
	void (*proc)(void *ctx, pid_t pid, const char *label, const char *version,
		     int probes);
	/* EV_MEM, EV_GC, EV_ALLOC or EV_LIVE (see include/profile.h), stack
	 * with the process's root frame first; EV_LIVE_FREE with no stack,
	 * value the bytes and aux0 the address. */
	void (*event)(void *ctx, pid_t pid, __u32 type, const char *stack,
		      long long value, long long aux0, long long aux1,
		      unsigned long long ktime);
	/* From the loop, every few tens of milliseconds (may be NULL). */
	void (*tick)(void *ctx);
	/* At the end, the BPF counters (may be NULL). */
	void (*done)(void *ctx, const unsigned long long *stats);
};

/* What the mem hooks keep between calls (user/mem.c). */
#define MEM_WATCH_MAX 4096
struct memrep;
struct mem_watch {
	struct memrep *rep;
	unsigned long long interval_ns, start_ns, next_ns, end_ns;
	bool started;
	pid_t watch[MEM_WATCH_MAX]; /* processes whose RSS is read */
	int nwatch;
};

/* The mem hooks feeding rep, RSS read every interval_ns (user/mem.c). */
void mem_hooks_init(struct mem_hooks *h, struct mem_watch *w, struct memrep *rep,
		    unsigned long long interval_ns, unsigned long long alloc_period,
		    unsigned long long live_min);
/* Seconds watched: from the loop's first tick to its last. */
double mem_watch_seconds(const struct mem_watch *w);

struct asyncrep;
/* The async hooks feeding rep (user/async.c). */
void async_hooks_init(struct async_hooks *h, struct asyncrep *rep,
		      unsigned long long stall_ns, bool no_steps);

/* The recording's own figures, for a view's tick (the agent's metrics). */
struct record_health {
	unsigned long long stats[STAT_NR]; /* the BPF counters (STAT_*) */
	unsigned long long py_samples;	   /* Python samples taken in */
	unsigned long long lost_samples;   /* ... and lost in userspace */
	unsigned long long stalls;	   /* async: stall events received */
	unsigned int nprocs_live;	   /* Python processes tracked now */
	unsigned int nprocs_seen;	   /* ... since the start */
};

/*
 * A live consumer of the recording loop (pyrograph top): instead of writing
 * a file at the end, the loop hands it the stacks of each interval.
 */
struct live_view {
	void *ctx;
	unsigned int interval_ms;
	/*
	 * Stacks since the last call ("command (pid);frame;..." with sample
	 * counts), the sampling rate per CPU, the interval's length and the
	 * number of Python processes being sampled. Non-zero stops.
	 */
	int (*refresh)(void *ctx, const struct stack_count *stacks, size_t n,
		       double hz, double seconds, unsigned int nprocs);
	/* Called every few milliseconds for keys; non-zero stops. */
	int (*input)(void *ctx);
	/* Root frames "container ID;command (pid)" instead of the process only. */
	bool group_container;
	/* One last refresh with what was recorded since the previous one when
	 * the loop ends (the agent sends it; top has nothing to show). */
	bool refresh_on_exit;
	/* pyrograph async (refresh and input may then be NULL). */
	const struct async_hooks *async;
	/* pyrograph mem (likewise). */
	const struct mem_hooks *mem;
	/*
	 * Every second, when set: first async->loop for every polling thread
	 * (cumulative figures; otherwise it is called at the end only), then
	 * this with the recording's counters. Non-zero stops.
	 */
	int (*tick)(void *ctx, const struct record_health *h);
	/* A tracked Python process exited or exec'd (it may come back, under
	 * the same pid, through the hooks' proc). */
	void (*gone)(void *ctx, pid_t pid);
};

/*
 * async and mem run the recording loop with record's options: those of
 * their options that are record's (-p, -a, --container, --cgroup, -d,
 * --buffer-size, -q, -v; getopt values 'p', 'a', 'C', 'G', 'd', 'B', 'q',
 * 'v') are passed on in record's spelling. Appends to argv (room for two
 * more is the caller's to ensure) and returns true for one of them.
 */
bool record_forward_opt(int opt, char *arg, char **argv, int *argc);
/*
 * Appends "-- COMMAND ARGS" (argv[optind..argc), if any) and the closing
 * NULL to rargv, which holds max entries. Returns 0, or -E2BIG (and says
 * so) when they do not fit.
 */
int record_forward_command(int argc, char **argv, int optind, char **rargv, int *rargc,
			   int max);

/* The help of the targets those commands pass on to record. */
#define RECORD_TARGETS_HELP                                                              \
	"Targets (default: -a):\n"                                                       \
	"  -p, --pid PID          this process (repeatable)\n"                           \
	"  -a, --all              every Python process on the host\n"                    \
	"  -- COMMAND [ARGS]      run COMMAND and watch it until it exits\n"             \
	"      --container ID     only processes in containers whose id starts with ID\n" \
	"      --cgroup PATH      only processes in cgroup PATH (v2 path) or below\n"

/*
 * A time: a number with us, ms or s, or a bare number in unit_ns. Returns
 * 0 and *ns, or -EINVAL (garbage, or outside [min_ns, max_ns]).
 */
int parse_time(const char *s, double unit_ns, double min_ns, double max_ns,
	       unsigned long long *ns);

/* The recording loop with record's options; view NULL: pyrograph record. */
int record_main(int argc, char **argv, const struct live_view *view);

#endif

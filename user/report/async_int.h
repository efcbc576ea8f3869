/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_ASYNC_INT_H
#define PYROGRAPH_ASYNC_INT_H

/*
 * The asyncio report's insides, shared by its collecting (asyncrep.c), its
 * analysis (async_analysis.c) and its writers (async_text.c, async_json.c).
 * Everything is kept as ids: frames of the session's frame table, stacks of
 * the report's own stack tables, strings of the frame table.
 */
#include "report/asyncrep.h"
#include "model/hashidx.h"

#define MAX_TIDS 1024	    /* loop threads followed at once */
#define TBUF_MAX 16384	    /* stacks buffered per loop thread */
#define TBUF_AGE_NS (30ULL * 1000000000ULL) /* older ones cannot matter */
#define MAX_STALLS 10000    /* kept; more are counted */
#define STALL_STACKS 64	    /* distinct stacks kept per stall */
#define MAX_LOOPS 4096
#define TEXT_STALLS 20	    /* printed in the text report */
#define TEXT_SITES 30
#define DIST_KEEP 20000	    /* durations kept per coroutine or site */
#define TASKS 65536	    /* tasks remembered for sequential awaits */
#define MAX_DISTS 100000    /* records per table: sites, coroutines... */
#define MIN_PAIR_NS 1000000ULL /* an await worth gathering: 1 ms or more */
#define MAX_CAUSES 64

/* A stack of a loop thread, buffered until a stall takes it or ages out. */
struct tev {
	unsigned long long start, ns;
	stack_id stack; /* in asyncrep.stacks */
	bool oncpu;
};

struct tbuf {
	pid_t tid;
	size_t n, cap;
	struct tev *ev;
};

struct stall_stack {
	stack_id stack;
	unsigned long long cpu_ns, off_ns;
};

struct stall {
	pid_t pid, tid;
	unsigned long long start, ns, off_ns, preempt_ns; /* the kernel's */
	/* from the stacks: sampled on the CPU, blocked (off the CPU, not
	 * preempted), and every off-CPU stack (preempted ones too) */
	unsigned long long ev_cpu_ns, ev_block_ns, ev_off_ns;
	bool began_before; /* running when its thread was first seen */
	size_t n;
	struct stall_stack st[STALL_STACKS];
};

struct loop {
	pid_t pid, tid;
	char comm[TASK_COMM_LEN + 1];
	struct loop_state ls;
};

struct proc {
	pid_t pid;
	char *label; /* where and root frames, as printed */
	bool uvloop;
};

/*
 * What a record is about: a process and up to four ids. Its meaning is the
 * table's:
 *   sites   culprit frame, reason frame
 *   steps   the coroutine's code frame
 *   awaits  the await chain (in asyncrep.chains)
 *   pairs   function name and file (string ids), first line, second line
 */
struct rkey {
	int32_t pid;
	uint32_t k[4];
};

/* Durations: every one counted, up to DIST_KEEP kept (reservoir sample)
 * for the percentiles. Blocking-call sites keep no durations. */
struct dist {
	struct rkey key;
	stack_id stack; /* sites: the first stack seen there, in stacks */
	unsigned long long count, total_ns, max_ns;
	unsigned long long *ns;
	size_t n, cap;
	/* pairs of sequential awaits: the second site's durations */
	unsigned long long total_b_ns;
	/* endpoints: the frame naming it, the slowest tasks, how many were
	 * over --slow */
	frame_id frame;
	struct slow_task *slow;
	unsigned long long over;
};

/* Records in first-seen order, found by their key. */
struct dist_table {
	struct dist *d;
	size_t n, cap;
	struct hashidx ix;
};

/* A task's previous suspension, for sequential awaits. */
struct task_slot {
	unsigned long long coro;
	pid_t pid;
	uint32_t chain; /* stack id in chains + 1; 0: empty */
	unsigned long long ns;
};

/* Where a task's time went (async_tasks.c). */
#define TASK_WAITS 3 /* await sites kept per task: its longest waits */
#define SLOW_KEEP 3  /* slowest tasks kept per endpoint */
struct task_wait {
	uint32_t chain; /* stack id in chains + 1; 0: none */
	unsigned long long ns;
};
struct slow_task {
	/* running: in its steps, of which blocked (off the CPU, not
	 * runnable) and preempted (runnable, not running) */
	unsigned long long life, running, blocked, preempted, queued, waiting;
	uint32_t steps;
	struct task_wait waits[TASK_WAITS];
};
/* A task followed from its first step to its end. */
struct task_life {
	unsigned long long coro; /* 0: free */
	pid_t pid;
	unsigned long long born; /* 0: began before it was seen */
	frame_id endpoint;	 /* FRAME_NONE until a chain names it */
	struct slow_task t;
};

struct asyncrep {
	struct frame_table *ft;
	unsigned long long stall_ns;
	unsigned long long mono0, wall0;
	double seconds;
	double hz; /* CPU samples per second of a running thread (0: unknown) */
	struct stack_table stacks; /* stacks of loop threads */
	struct tbuf tids[MAX_TIDS];
	size_t ntids;
	struct stall *stalls;
	size_t nstalls, cap_stalls;
	struct dist_table sites, steps, awaits, pairs;
	struct dist_table endpoints; /* task lives by endpoint (name, file) */
	struct task_life *lives;
	unsigned long long slow_ns;
	unsigned long long tasks_ended, tasks_unknown_start, tasks_forgotten;
	struct stack_table chains; /* await chains */
	struct loop *loops;
	size_t nloops, cap_loops;
	struct proc *procs;
	size_t nprocs, cap_procs;
	struct profile stall_prof; /* stacks inside stalls */
	struct task_slot *tasks;
	unsigned long long rng;
	unsigned long long steps_seen, resumes_seen;
	asyncrep_source_fn source;
	void *source_ctx;
	/* what could not be kept, shown in the report */
	unsigned long long lost_stacks, lost_stalls, lost_other;
};

/* Records by key (asyncrep.c): the record of k, created if new (NULL: out
 * of memory or MAX_DISTS); a duration into d. */
struct dist *async_dist_get(struct dist_table *t, const struct rkey *k);
void async_dist_add(struct asyncrep *a, struct dist *d, unsigned long long ns);

/* ---- async_tasks.c: task lives, requests by endpoint ---- */
void async_task_step(struct asyncrep *a, const struct asyncrep_step *st);
void async_task_resume(struct asyncrep *a, pid_t pid, unsigned long long coro,
		       stack_id chain, unsigned long long ns,
		       unsigned long long queued_ns);
/* The threshold over which an endpoint's tasks are shown as slow. */
unsigned long long async_slow_threshold(const struct asyncrep *a,
					const struct dist *d);

/* The process pid, or NULL. */
struct proc *async_proc_find(const struct asyncrep *a, pid_t pid);

/* ---- async_analysis.c: what the stacks and records say ---- */

/* What a stack says: its Python leaf, its innermost frame of the user's
 * code, the reason of an off-CPU stack, and the coroutine the loop was
 * running. FRAME_NONE: there is none. */
struct stack_info {
	const frame_id *f;
	uint32_t n;
	frame_id leaf, app, coro, reason;
	uint32_t first_py; /* index of the first Python frame; n: none */
	uint32_t coro_idx; /* index of coro in f */
};

void async_stack_info(const struct asyncrep *a, stack_id id, struct stack_info *si);
/* The frame to blame: the innermost app frame if there is one (a blocking
 * call inside a library called from the user's code), else the leaf. */
static inline frame_id stack_culprit(const struct stack_info *si)
{
	return si->app != FRAME_NONE ? si->app : si->leaf;
}
/* A blocking call: off the CPU, not merely preempted, inside a step. */
bool async_stack_blocking(const struct asyncrep *a, const struct stack_info *si);
/* What to do about a stall or blocking call of reason (NULL: none). */
const char *async_advice_for(const char *reason, bool cpu);

/*
 * What a stall was, from what was measured inside it: CPU samples, stacks
 * of blocking calls, and the kernel's off-CPU and preempted times.
 *   CPU        sampled running (preemption counts with it: it wanted the CPU)
 *   BLOCKING   blocked in a call whose stack was seen
 *   PREEMPTED  runnable but not running, never sampled running
 *   UNSEEN     blocked, but the start of the wait was not seen (its
 *              switch-out lost, or sent without a stack, or the thread was
 *              already off the CPU when the iteration began): the kernel
 *              counted off-CPU time no stack explains, or the stall was
 *              long enough "on the CPU" to be sampled and was not, and it
 *              was running when its thread was first seen
 *   UNSAMPLED  on the CPU by the kernel's count, every switch-out seen, and
 *              long enough to be sampled but not: the samples did not come
 *              (a VM whose host took its CPU away: guests without steal
 *              accounting see that time as the running task's; or samples
 *              lost, see the summary)
 *   UNKNOWN    nothing says
 * Never CPU without a CPU sample.
 */
enum stall_kind { STALL_CPU, STALL_BLOCKING, STALL_PREEMPTED, STALL_UNSEEN,
		  STALL_UNSAMPLED, STALL_UNKNOWN };

/* Its name in the JSON report, and in the text report. */
const char *async_stall_kind_json(enum stall_kind k);
const char *async_stall_kind_text(enum stall_kind k);

/* The stall's main stack (the heaviest of the dominant kind, CPU or
 * blocked) and what it says; sorts the stall's stacks, heaviest first.
 * has_culprit: the stack names a culprit (CPU and BLOCKING only); the
 * others may still have a stack that names the coroutine that ran. */
struct stall_view {
	struct stack_info si;
	enum stall_kind kind;
	bool has_stack, has_culprit;
	bool cpu; /* kind == STALL_CPU */
};
void async_stall_view(const struct asyncrep *a, struct stall *st, struct stall_view *v);
/* The stalls, longest first. */
void async_stalls_sort(struct asyncrep *a);
unsigned long long async_loop_stalls(const struct asyncrep *a, const struct loop *l);
/* A stall's reason ("[sleep]", "[preempted]") or NULL; its advice or NULL. */
const char *async_stall_reason(const struct asyncrep *a, const struct stall_view *v);
const char *async_stall_advice(const struct asyncrep *a, const struct stall_view *v);

/* Stalls grouped by what caused them: culprit frame, kind and reason. */
struct cause {
	bool no_stack; /* no culprit: grouped by kind alone */
	enum stall_kind kind;
	bool cpu;
	frame_id culprit, reason, coro;
	unsigned long long count, total_ns, max_ns;
};
/* Into c[0..max), by total time; returns how many. */
size_t async_stall_causes(const struct asyncrep *a, struct cause *c, size_t max);
/* "culprit (file:line) KIND" of a cause, as both reports print it. */
void async_cause_text(const struct asyncrep *a, const struct cause *c, char *buf,
		size_t len);

/* A pair of sequential awaits with its source lines and verdict. */
struct pair_view {
	char func[512]; /* "name (file)" */
	long la, lb;
	char src_a[512], src_b[512];
	int independent; /* await_independent(), -1 unknown */
};
void async_pair_view(const struct asyncrep *a, const struct dist *d,
	       struct pair_view *v);
/* A pair worth reporting: both awaits take real time, seen repeatedly,
 * and the second does not use the first's result. */
bool async_pair_flagged(const struct dist *d, const struct pair_view *v);

/* p50, p95, p99 of d in ns (nearest rank over the kept durations). */
void async_dist_pcts(const struct dist *d, double out[3]);
/* Pointers to t's records, most total time first (malloc'ed). */
const struct dist **async_dists_sorted(const struct dist_table *t);

/* How both reports name things. */
const char *async_proc_label(const struct asyncrep *a, pid_t pid, char *buf,
		       size_t len);
const char *async_loop_kind(const struct asyncrep *a, pid_t pid);
/* When a stall started (ktime): wall-clock time of day if known. */
void async_wall_time(const struct asyncrep *a, unsigned long long ktime, char *buf,
	       size_t len);
/* "name (file:line)" of a frame; file "" and line 0 when it has none. */
void async_put_frame(FILE *f, const struct asyncrep *a, frame_id id);
/* Blocking-call sites, most total time first, by index (malloc'ed). */
size_t *async_sites_sorted(const struct asyncrep *a);

#endif

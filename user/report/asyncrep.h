/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_ASYNCREP_H
#define PYROGRAPH_ASYNCREP_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include "profile.h"
#include "model/frames.h"
#include "model/stacks.h"

/*
 * The asyncio report of pyrograph async, built from what a session hands
 * over: typed stacks of loop threads inside iterations (frame ids of ft,
 * root frames first; an off-CPU stack ends in its reason), stalls, task
 * steps, resumes and each loop's iteration histogram. No BPF here: the unit
 * tests and fuzzers drive it. Frames are told apart by their kind in the
 * frame table, never by their text; text is made only to print.
 */
struct asyncrep;

/* ft: the frame table every frame id handed over refers to (not owned). */
struct asyncrep *asyncrep__new(unsigned long long stall_ns,
			       struct frame_table *ft);
void asyncrep__free(struct asyncrep *a);

/* ktime (CLOCK_MONOTONIC) and CLOCK_REALTIME read at the same moment, to
 * print when a stall happened. */
void asyncrep__set_clock(struct asyncrep *a, unsigned long long mono_ns,
			 unsigned long long wall_ns);
/* The recording's length, for the header. */
void asyncrep__set_duration(struct asyncrep *a, double seconds);
/* CPU samples per second of a running thread (0: unknown): a stall long on
 * the CPU without a sample was not on the CPU (its wait was not seen). */
void asyncrep__set_rate(struct asyncrep *a, double hz);

/* A Python process: where it runs ("container ID", or NULL) and its root
 * frames, which name it in the report; uvloop: it has uvloop loaded. */
void asyncrep__proc(struct asyncrep *a, pid_t pid, const char *where,
		    const frame_id *root, uint32_t nroot, bool uvloop);
/* It turned out to have uvloop loaded after all. */
void asyncrep__proc_uvloop(struct asyncrep *a, pid_t pid);
/* A stack f[0..n) of loop thread tid inside an iteration: on the CPU (a
 * sample standing for ns up to start + ns) or off it (from start, for ns).
 * Returns 0 or -ENOMEM (counted). */
int asyncrep__stack(struct asyncrep *a, pid_t pid, pid_t tid,
		    const frame_id *f, uint32_t n, bool oncpu,
		    unsigned long long start, unsigned long long ns);
/* A stall, as the kernel sent it (profile.h: its span, of which off_ns
 * off the CPU, preempt_ns of that runnable but not running, for which no
 * stack is sent; flags): attributes the buffered stacks of its thread
 * inside its span. */
int asyncrep__stall(struct asyncrep *a, const struct stall_event *e);
/* A polling thread's iteration timing; comm may be NULL. */
int asyncrep__loop(struct asyncrep *a, pid_t tid, const char *comm,
		   const struct loop_state *ls);

/* A task step of coroutine object coro (code: its function's frame). */
int asyncrep__step(struct asyncrep *a, pid_t pid, unsigned long long coro,
		   frame_id code, unsigned long long ns, int result);
/* The same, with when it began (ktime), when its task began (born, 0: not
 * known), how much of ns its thread was off the CPU (off_ns, of which
 * preempt_ns preempted) and result 0: the task ended, which gives its
 * life. */
struct asyncrep_step {
	pid_t pid;
	unsigned long long coro;
	frame_id code;
	unsigned long long start, ns, born, off_ns, preempt_ns;
	int result;
};
int asyncrep__step_at(struct asyncrep *a, const struct asyncrep_step *st);
/* Task coro resumed after ns suspended at chain[0..n) (the coroutine
 * frames where it awaited, outermost first). */
int asyncrep__resume(struct asyncrep *a, pid_t pid, unsigned long long coro,
		     const frame_id *chain, uint32_t n, unsigned long long ns);
/* The same, of which queued_ns ready but waiting for the loop. */
int asyncrep__resume_at(struct asyncrep *a, pid_t pid, unsigned long long coro,
			const frame_id *chain, uint32_t n, unsigned long long ns,
			unsigned long long queued_ns);
/* Tasks slower than ns are shown with where their time went (0: those
 * over their endpoint's p95). */
void asyncrep__set_slow(struct asyncrep *a, unsigned long long ns);
/*
 * Reads line `line` of source file `file` as process pid sees it into buf
 * (for telling whether one await uses the result of the one before).
 * Returns 0 or -errno.
 */
typedef int (*asyncrep_source_fn)(void *ctx, pid_t pid, const char *file,
				  long line, char *buf, size_t len);
void asyncrep__set_source(struct asyncrep *a, asyncrep_source_fn fn, void *ctx);

/* One event loop, for pyrograph check. */
struct asyncrep_loop_verdict {
	pid_t pid, tid;
	double p99_ms, max_ms;
	unsigned long long iterations, stalls;
	double worst_stall_ms;
	/* the culprits (and coroutines) of the stalls at least limit_ns
	 * long, longest first, distinct, at most three; "" if none */
	char worst[1024];
};
/* Fills up to max loops; returns how many there are. */
size_t asyncrep__loop_verdicts(struct asyncrep *a, struct asyncrep_loop_verdict *out,
			       size_t max, unsigned long long limit_ns);

int asyncrep__write_text(struct asyncrep *a, FILE *f);
int asyncrep__write_json(struct asyncrep *a, FILE *f);
/* The stacks inside stalls, values in microseconds (off-CPU ones end in
 * their reason), counts in samples and intervals: for --stalls-svg. Owned
 * by the report. */
struct profile *asyncrep__stall_stacks(struct asyncrep *a);

/*
 * Does the await on line b leave alone what line a assigned? a must be
 * "NAME[, NAME...] = await ..." or "await ..."; b must contain "await".
 * 1: independent, 0: b uses a's result, -1: cannot tell.
 */
int await_independent(const char *a, const char *b);

/*
 * Percentile q (0..1) of a log2 histogram of microseconds (bucket 0: below
 * 2 us, bucket i: [2^i, 2^(i+1)) us), interpolated inside the bucket and
 * capped at max_us. Returns microseconds; 0 for an empty histogram.
 */
double loop_hist_percentile(const __u64 hist[LOOP_BUCKETS], double q,
			    double max_us);

#endif

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_METRICS_H
#define PYROGRAPH_METRICS_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include "profile.h"
#include "core/session.h"
#include "net/http.h"

/*
 * The agent's metrics in the Prometheus text exposition format (0.0.4):
 * per event loop, per Python process and per await site, plus the agent's
 * own health. Everything is cumulative from when the process was first
 * seen; a process that exits (or execs) is forgotten, so its series
 * disappear. Histograms use the kernel's log2 buckets of microseconds
 * (include/profile.h, LOOP_BUCKETS) as their `le` bounds. No BPF here: the
 * unit tests and fuzzers drive it.
 */
struct metrics;

/* max_sites: await sites with their own series per process; the rest are
 * folded into site="other". */
struct metrics *metrics__new(const char *host, unsigned int max_sites);
void metrics__free(struct metrics *m);

/* A Python process (again, after an exec: its figures start over). */
void metrics__proc(struct metrics *m, pid_t pid, const char *service,
		   const char *container);
/* The Kubernetes pod of its container (labels pod, namespace). */
void metrics__proc_pod(struct metrics *m, pid_t pid, const char *ns,
		       const char *pod);
/* The process has (or lacks) CPython's collection probes. */
void metrics__proc_gc(struct metrics *m, pid_t pid, bool probes);
void metrics__forget(struct metrics *m, pid_t pid);

/* Forgets the loops of pid whose thread alive() says is gone. */
void metrics__prune(struct metrics *m, pid_t pid,
		    bool (*alive)(void *ctx, pid_t pid, pid_t tid), void *ctx);
/* A polling thread's cumulative timing (from the BPF loops map). */
void metrics__loop(struct metrics *m, pid_t tid, const struct loop_state *ls);
/* An iteration of tid's loop at least the stall threshold long. */
void metrics__stall(struct metrics *m, pid_t pid, pid_t tid,
		    unsigned long long ns);
/* A loop thread off the CPU inside an iteration for ns, because of
 * reason (a "[sleep]"-style label, see waitreason.h). */
void metrics__blocking(struct metrics *m, pid_t pid, pid_t tid,
		       const char *reason, unsigned long long ns);
/* A task resumed after ns suspended at site ("func (file:line)"). */
void metrics__await(struct metrics *m, pid_t pid, const char *site,
		    unsigned long long ns);
/* A task of endpoint ("func (file)") lived ns, from its first step to its
 * end; endpoints have the same bound as await sites. */
void metrics__request(struct metrics *m, pid_t pid, const char *endpoint,
		      unsigned long long ns);
/* A collection of generation gen that took ns. */
void metrics__gc(struct metrics *m, pid_t pid, int gen, unsigned long long ns);
/* The process's resident bytes and CPU seconds read at mono_ns; also
 * kept for the growth rate (the last minute or so). */
void metrics__usage(struct metrics *m, pid_t pid, long long rss_bytes,
		    double cpu_seconds, unsigned long long mono_ns);
/* Calls fn for every process known (to read its usage). */
void metrics__each_proc(struct metrics *m, void (*fn)(void *ctx, pid_t pid),
			void *ctx);

/* The agent's own figures. */
struct metrics_health {
	struct session_health rec; /* the session's counters */
	double cpu_seconds;
	/* uploads, when the agent sends profiles (else all 0) */
	bool uploading;
	unsigned long long sent, rejected, dropped, unencoded;
	size_t queued_bytes;
	/* failed tries by reason (a profile retried counts at each) */
	unsigned long long upload_failures[HTTP_FAIL_N];
};
void metrics__health(struct metrics *m, const struct metrics_health *h);

/* The whole exposition. Returns 0 or -EIO. */
int metrics__write(struct metrics *m, FILE *f);
/* Series written by the last metrics__write (for the agent's own gauge). */
size_t metrics__series(const struct metrics *m);

/* Processes, loops per process and sites per process kept at most. */
#define METRICS_MAX_PROCS 4096
#define METRICS_MAX_LOOPS 16
#define METRICS_MAX_SITES 256
#define METRICS_MAX_KINDS 16

/* Escapes s as a label value (backslash, quote, newline; invalid UTF-8
 * and control bytes become '?') into out; returns out. */
char *metrics_label_value(const char *s, char *out, size_t len);

#endif

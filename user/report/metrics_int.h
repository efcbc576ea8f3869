/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The insides of report/metrics.c, shared with its writer only. */
#ifndef PYROGRAPH_METRICS_INT_H
#define PYROGRAPH_METRICS_INT_H

#include "report/metrics.h"

#define NBUCKETS_HASH 1024
#define GC_GENS	      4	 /* 0..2, and 3 for anything else a build reports */
#define RSS_READINGS  16 /* one per RSS_EVERY_NS: a bit over a minute */
#define RSS_EVERY_NS  5000000000ULL
#define SITE_LEN      256
#define KIND_LEN      32
#define REFUSED_TIDS  8 /* loop threads refused, remembered to count each once */

struct hist {
	unsigned long long b[LOOP_BUCKETS];
	unsigned long long count;
	double sum; /* seconds */
};

struct loop {
	pid_t tid;
	bool timed; /* the loops map had it (a stall can come first) */
	struct hist lag;
	unsigned long long stalls;
	double stalled;
	struct {
		char kind[KIND_LEN];
		double seconds;
	} blk[METRICS_MAX_KINDS + 1]; /* the last one is "other" */
	int nblk;
};

struct site {
	char name[SITE_LEN];
	struct hist h;
	bool own; /* has its own series (for good: counters must not move) */
};

/* Histograms by a label of unbounded cardinality (await sites, request
 * endpoints): the busiest get their own series, the rest are "other". */
struct site_set {
	struct site *v;
	int n, cap, nown;
	struct hist other; /* sites without their own series */
	bool has_other;
};

struct proc {
	pid_t pid;
	struct proc *next;
	char service[128], container[128], pod[128], ns[64];
	bool gc_probes, gc_known;
	struct hist gc[GC_GENS];
	struct loop *loops;
	int nloops, cap_loops;
	pid_t refused[REFUSED_TIDS]; /* loop threads beyond the cap */
	int nrefused;
	struct site_set awaits;	  /* by await site */
	struct site_set requests; /* task lives by endpoint */
	long long rss;
	double cpu;
	bool usage;
	struct {
		unsigned long long t;
		long long rss;
	} readings[RSS_READINGS];
	int nread, rpos;
};

struct metrics {
	char host[256];
	unsigned int max_sites;
	struct proc *buckets[NBUCKETS_HASH];
	unsigned int nprocs;
	unsigned long long dropped_procs, dropped_loops;
	struct metrics_health health;
	bool have_health;
	size_t series;
};

/* Bytes of the valid UTF-8 sequence at s (at most n), 0 if none. */
size_t metrics_utf8_len(const unsigned char *s, size_t n);
/* Gives the busiest sites of set their own series, for good. */
void metrics_promote_sites(struct metrics *m, struct site_set *set);
void metrics_hist_merge(struct hist *to, const struct hist *from);

#endif

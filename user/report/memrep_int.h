/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_MEMREP_INT_H
#define PYROGRAPH_MEMREP_INT_H

/*
 * The inside of pyrograph mem's report, shared by its parts:
 *   memrep.c        collecting: processes, RSS, growth, collections,
 *                   allocations, tracked allocations (--live)
 *   mem_analysis.c  intervals, leak candidates, growth by function,
 *                   the verdicts of pyrograph check
 *   mem_text.c      the text report
 *   mem_json.c      the JSON report
 *   mem_plot.c      RSS over time as SVG
 * Every stack an event comes with is interned once (model/stacks.h: an
 * array of frame ids, found by its hash); its figures -- growth, what its
 * tracked allocations hold, collections, allocation samples -- are kept
 * in an array indexed by its stack id, and charged to the process of its
 * first event. Functions are leaf frame ids. Text is made only to be
 * written.
 */
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "model/stacks.h"
#include "report/memrep.h"

#define MAX_PROCS 4096
#define MAX_STACKS 200000  /* distinct growth stacks kept; beyond, folded */
#define MAX_INTERVALS 4096 /* longer runs fold the tail into the last */
#define MAX_RSS 8192	   /* readings kept per process; then every other */
#define GC_GENS 3
#define GC_BUCKETS 32 /* log2 microseconds */
#define GC_KEEP 65536 /* pauses kept per generation for percentiles */
#define TOP 10
/* Tracked allocations held at once (mem --live) unless set; beyond, not
 * itemised. */
#define MAX_LIVE (1 << 20)
#define INTERVALS_SHOWN 100 /* the last ones, in the per-interval view */
#define PER_INTERVAL 3
/* The longest stack text written (a stack's frames joined by ';'). */
#define MEM_TEXT_MAX (1 << 20)
/* A tracked allocation whose stack is not itemised (beyond MAX_STACKS). */
#define MEM_NO_STACK UINT32_MAX
/* Heap (brk) extents kept per process; beyond, growth joins the top one. */
#define MAX_HEAP_EXT 65536

struct gc_gen {
	unsigned long long count, sum_ns, max_ns, collected;
	unsigned long long hist[GC_BUCKETS];
	unsigned long long *ns; /* first GC_KEEP pauses */
	size_t n, cap;
	size_t sorted; /* ns[0..sorted) is in order (pct sorts once) */
};

struct mproc {
	pid_t pid;
	char *label, *version;
	int probes;
	struct {
		unsigned long long t;
		long long bytes;
	} *rss;
	size_t nrss, cap_rss, rss_every, rss_skip;
	long long first_rss, last_rss, peak_rss;
	long long grown, returned;
	/* held maps: the heap's extents, lowest first, each grown by one
	 * stack (MEM_NO_STACK: not itemised); what was taken and given back */
	struct heap_ext {
		unsigned long long start, end;
		stack_id stack;
	} *heap;
	size_t nheap, cap_heap;
	long long taken, given;
	struct gc_gen gen[GC_GENS];
	unsigned long long gc_other; /* generations beyond GC_GENS */
};

/* The figures of one stack (memrep.figs[its stack id]). */
struct mstack {
	pid_t pid;	/* of its first event */
	uint32_t nroot; /* its root frames (the process) */
	/* resident growth charged to it */
	long long net, grown, returned;
	long long *iv; /* net per interval */
	size_t niv;
	/* --live: bytes its tracked allocations hold, allocated, freed, and
	 * the change of what they hold per interval */
	long long live, lalloc, lfreed;
	long long *liv;
	size_t nliv;
	/* collections it set off; sampled allocations and their bytes */
	unsigned long long gcs, allocs, alloc_bytes;
};

/* A tracked allocation (--live), in an open-addressing table by address:
 * entries are removed on free, which the shared index does not do. */
struct lentry {
	unsigned long long addr;
	pid_t pid;
	bool used;
	stack_id stack; /* MEM_NO_STACK: not itemised */
	long long bytes;
};

struct memrep {
	struct frame_table *ft; /* the session's: not owned */
	unsigned long long interval_ns, start_ns, alloc_period;
	double seconds;
	struct mproc *procs;
	size_t nprocs;
	struct stack_table st; /* every stack an event came with */
	struct mstack *figs;   /* by stack id */
	size_t figs_cap;
	long long folded; /* growth of stacks beyond MAX_STACKS */
	unsigned long long changes, no_stack, lost_changes, lost_gc, lost_alloc;
	/* the profiles handed out (memrep__*_stacks) */
	struct profile growth_out, live_out, alloc_out;
	/* what the held view tracks (memrep__set_held); --live's threshold */
	enum memrep_held held;
	unsigned long long live_min;
	size_t live_max;
	struct lentry *ltab;
	size_t lcap, ln;
	long long live_folded;	   /* held by stacks beyond MAX_STACKS */
	unsigned long long loverflow; /* allocations beyond MAX_LIVE */
	unsigned long long ltracked, lfull, llost, lfree_lost;
	/* held maps: mappings sent, lost; unmappings lost; unmappings of
	 * memory taken before the start or not at a mapping's start */
	unsigned long long maps_sent, maps_lost, unmaps_lost, unmatched;
	char *text; /* one stack's text, for the writers */
	size_t text_cap;
};

/* ---- stacks (memrep.c) ---- */

static inline const frame_id *mem_frames(const struct memrep *m, stack_id id,
					 uint32_t *n)
{
	return stacks_get(&m->st, id, n);
}

/* The last frame of a stack: where memory was touched, collected or
 * allocated. */
frame_id mem_leaf(const struct stack_table *st, stack_id id);
/* The folded text of f[0..n), in m->text ("" when out of memory); valid
 * until the next call. */
const char *mem_text(struct memrep *m, const frame_id *f, uint32_t n);
/* A stack's text without its root frames (those naming the process). */
const char *mem_text_below_root(struct memrep *m, const frame_id *f,
				uint32_t n, uint32_t nroot);

/* ---- analysis (mem_analysis.c) ---- */

/* One function (a leaf frame) of one process, its stacks summed. */
struct site {
	frame_id leaf;
	pid_t pid;
	long long net, grown, returned;
	size_t grew, since;
	bool leak;
	long long live, lalloc, lfreed; /* --live */
	size_t lgrew;
};

/* Intervals the run covered (the last one may be partial). */
size_t mem_nintervals(const struct memrep *m);
/* Is s judged by what it holds (the held view: its mappings, or with
 * --live its tracked allocations)? */
bool mem_by_live(const struct memrep *m, const struct mstack *s);
/* The intervals in which s grew, and those since it first grew. */
void mem_growth_intervals(const struct memrep *m, const struct mstack *s,
			  size_t *grew, size_t *since);
/* What a leak candidate is measured by: bytes held, or net growth. */
long long mem_leak_bytes(const struct memrep *m, const struct mstack *s);
/* s's growth (or, live, the change of what it holds) in interval k. */
long long mem_iv_at(const struct mstack *s, size_t k, bool live);
/* Growth summed by leaf frame per process, by net growth (malloc'ed). */
struct site *mem_sites_by_leaf(const struct memrep *m, size_t *nout);
/* The sites that made tracked allocations, by bytes held (a copy). */
struct site *mem_live_sites(const struct site *v, size_t n, size_t *nout);
/* Sampled allocated bytes summed by leaf frame (in net), largest first. */
struct site *mem_alloc_sites(struct memrep *m, size_t *nout);
/* The stacks that grew most in interval k (at most PER_INTERVAL). */
size_t mem_top_in_interval(const struct memrep *m, size_t k, bool live,
			   stack_id *out);
/* The process's RSS at the last reading at or before t (-1: none). */
long long mem_rss_at(const struct mproc *p, unsigned long long t);
/* Leak-candidate stacks, largest first (malloc'ed). */
stack_id *mem_leaks(const struct memrep *m, size_t *nout);
/* Nearest-rank percentile of the kept pauses (sorted in place). */
unsigned long long mem_pct(struct gc_gen *g, double q);
/*
 * The stacks that set collections off (gc) or were sampled allocating
 * (!gc), in the order of their folded texts (the collapsed lines'); those
 * that set collections off by process first. Malloc'ed; NULL (*n 0) when
 * out of memory.
 */
stack_id *mem_sorted_stacks(struct memrep *m, bool gc, size_t *n);
/* The run of process pid's stacks in ids[0..n) sorted with gc: its length,
 * from *first. */
size_t mem_gc_run(const struct memrep *m, const stack_id *ids, size_t n,
		  pid_t pid, size_t *first);
/* The positions in ids[0..n) of the k stacks that set off most
 * collections, most first (ties: the earlier); returns how many. */
size_t mem_top_gcs(const struct memrep *m, const stack_id *ids, size_t n,
		   size_t *idx, size_t k);
const char *mem_label_of(const struct memrep *m, pid_t pid);

/* ---- formats (mem_text.c) ---- */

void mem_bytes_str(long long b, char *buf, size_t len, bool sign);
void mem_dur_str(unsigned long long ns, char *buf, size_t len);

#endif

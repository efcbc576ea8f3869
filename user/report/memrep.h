/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_MEMREP_H
#define PYROGRAPH_MEMREP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "model/stacks.h"

/*
 * The report of pyrograph mem: resident-memory growth by Python stack and
 * by interval, leak candidates, RSS over time, collection pauses and
 * sampled allocations. Stacks are typed (model/stacks.h): frame ids of the
 * session's frame table, the process's root frames first; the last frame
 * is where the memory was touched, collected or allocated.
 */
struct memrep;

/* A stack as the session hands it over: f[0..n), outermost first, of
 * which f[0..nroot) are root frames (container, process, thread). */
struct memrep_stack {
	const frame_id *f;
	uint32_t n, nroot;
};

/*
 * ft: the frame table the stacks refer to (not owned: valid while the
 * report is fed and written; memrep__free does not use it).
 * interval_ns: the length of one interval; start_ns: CLOCK_MONOTONIC at 0.
 */
struct memrep *memrep__new(struct frame_table *ft,
			   unsigned long long interval_ns,
			   unsigned long long start_ns);
void memrep__free(struct memrep *m);
/* probes: PROFILER_MEM_* bits, or a negative errno. */
void memrep__proc(struct memrep *m, pid_t pid, const char *label,
		  const char *version, int probes);
/* A reading of the process's RSS at mono_ns (CLOCK_MONOTONIC). */
void memrep__rss(struct memrep *m, pid_t pid, unsigned long long mono_ns,
		 long long bytes);
/* bytes gained (> 0) or returned (< 0) at mono_ns by stack. */
void memrep__growth(struct memrep *m, pid_t pid, const struct memrep_stack *s,
		    long long bytes, unsigned long long mono_ns);
/* A collection of generation gen that paused ns and collected objects,
 * set off by stack s. */
void memrep__gc(struct memrep *m, pid_t pid, const struct memrep_stack *s,
		int gen, unsigned long long ns, long long collected);
/* A sampled allocation: bytes (the sampling period's share) by s. */
void memrep__alloc(struct memrep *m, pid_t pid, const struct memrep_stack *s,
		   unsigned long long bytes);
/*
 * Live tracking (mem --live): a C allocation of bytes at addr made by
 * stack, and its free. Both at mono_ns. Frees of addresses not seen are
 * ignored; an allocation at an address still held replaces it (its free
 * was lost).
 */
void memrep__live(struct memrep *m, pid_t pid, const struct memrep_stack *s,
		  unsigned long long addr, long long bytes,
		  unsigned long long mono_ns);
void memrep__live_free(struct memrep *m, pid_t pid, unsigned long long addr,
		       unsigned long long mono_ns);
/*
 * What the held view tracks: nothing, the memory each stack takes from the
 * kernel until given back (mappings and heap growth: mem's default), or
 * C allocations of at least --live-bytes (mem --live).
 */
enum memrep_held { MEMREP_HELD_NONE, MEMREP_HELD_MAPS, MEMREP_HELD_MALLOC };
void memrep__set_held(struct memrep *m, enum memrep_held held);
/*
 * Held maps: [addr, addr + bytes) taken by stack at mono_ns, by a mapping
 * or (heap) by growing the heap; and given back. What is given back is
 * taken off the stacks that took it (a mapping's maker; the heap's top
 * extents), never charged to the thread that gives it back. Memory taken
 * before the start, and unmappings that begin inside a mapping, are
 * counted as unmatched.
 */
void memrep__map(struct memrep *m, pid_t pid, const struct memrep_stack *s,
		 unsigned long long addr, long long bytes, bool heap,
		 unsigned long long mono_ns);
void memrep__unmap(struct memrep *m, pid_t pid, unsigned long long addr,
		   long long bytes, unsigned long long mono_ns);
/* The BPF side's counts: mappings sent, lost; unmappings lost. */
void memrep__map_counts(struct memrep *m, unsigned long long sent,
			unsigned long long lost, unsigned long long unmaps_lost);
/* Allocations of at least min_bytes are tracked (0: off, the default),
 * at most max_held at once (0: a built-in bound): leak candidates then come
 * from what stacks keep, not what they touch. */
void memrep__set_live(struct memrep *m, unsigned long long min_bytes,
		      size_t max_held);
/* The BPF side's counts: tracked, not tracked (map full, ring buffer full),
 * frees lost. */
void memrep__live_counts(struct memrep *m, unsigned long long tracked,
			 unsigned long long map_full, unsigned long long lost,
			 unsigned long long frees_lost);
/* What was lost or seen without a stack (for the report's last lines). */
void memrep__counts(struct memrep *m, unsigned long long changes,
		    unsigned long long no_stack, unsigned long long lost_changes,
		    unsigned long long lost_gc, unsigned long long lost_alloc);
/* The allocation sampling period, shown in the report (0: not sampled). */
void memrep__set_alloc_period(struct memrep *m, unsigned long long bytes);
void memrep__set_duration(struct memrep *m, double seconds);
/* When the watching began (CLOCK_MONOTONIC): interval 0 starts there. */
void memrep__set_start(struct memrep *m, unsigned long long start_ns);

/* One process, for pyrograph check. */
struct memrep_proc_verdict {
	pid_t pid;
	const char *label; /* valid until memrep__free */
	double rss_growth_per_min; /* bytes, first to last reading; 0: too few */
	long long rss_first, rss_last;
	bool gc_probes;
	double max_gc_pause_ms;
	int max_gc_gen;
	char gc_where[512];	/* the stack that set the most collections off */
	char growth_where[512]; /* the function that grew most, and whether a
				 * leak candidate */
};
/* Fills up to max processes; returns how many there are. */
size_t memrep__proc_verdicts(struct memrep *m, struct memrep_proc_verdict *out, size_t max);

int memrep__write_text(struct memrep *m, FILE *f);
int memrep__write_json(struct memrep *m, FILE *f);
/* RSS over time, one line per process, as an SVG plot. */
int memrep__write_plot(struct memrep *m, FILE *f);
/*
 * The profiles for the flame graph and collapsed outputs (value: bytes),
 * owned by the report and valid until the same call again or
 * memrep__free; NULL when out of memory.
 * Stacks weighted by their net growth in bytes (only those that grew).
 */
struct profile *memrep__growth_stacks(struct memrep *m);
/* Stacks weighted by the bytes of their tracked allocations still held. */
struct profile *memrep__live_stacks(struct memrep *m);
/* Stacks weighted by sampled allocated bytes (count: the samples). */
struct profile *memrep__alloc_stacks(struct memrep *m);

/* A stack grew in at least this many intervals, in most of those since it
 * first grew, and kept most of it: a leak candidate (mem_analysis.c). With
 * live tracking, "grew" and "kept" are of the bytes its allocations hold. */
#define MEMREP_LEAK_MIN_INTERVALS 3

#endif

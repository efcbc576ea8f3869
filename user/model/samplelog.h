/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_SAMPLELOG_H
#define PYROGRAPH_SAMPLELOG_H

#include <stddef.h>
#include <stdint.h>

#include "model/frames.h"
#include "model/stacks.h"

/*
 * Every sample in time order, for formats that show when things happened
 * (speedscope): per thread, the stacks it ran and when. A thread is its
 * root frames (container, process, thread) and its tid; the rest of each
 * stack is interned in the log's own stack table. Each entry is 24 bytes.
 */
struct samplelog;

struct log_entry {
	uint64_t start_ns; /* CLOCK_MONOTONIC: when the sampled span began */
	uint32_t dur_us;   /* how long it stands for */
	uint32_t stack;	   /* in samplelog__stacks(): frames without the roots */
	uint32_t thread;   /* thread index, in first-seen order */
	uint32_t _pad;
};

struct samplelog *samplelog__new(struct frame_table *ft);
void samplelog__free(struct samplelog *l);
/* A sample of thread tid: stack f[0..n) (root frames first) ran from
 * start_ns for dur_ns. 0 or -errno (-ENOSPC: the log is full). */
int samplelog__add(struct samplelog *l, const frame_id *f, uint32_t n, int tid,
		   uint64_t start_ns, uint64_t dur_ns);

size_t samplelog__nthreads(const struct samplelog *l);
/* The profile name of thread i: "ROOT;FRAMES / thread TID" (the root
 * frames' folded text), or "thread TID" without root frames. */
const char *samplelog__thread_name(const struct samplelog *l, size_t i);
/* The stacks the entries refer to (root frames left out). */
const struct stack_table *samplelog__stacks(const struct samplelog *l);
struct frame_table *samplelog__frames(const struct samplelog *l);
/* Entries sorted by (thread, start); valid until the next add. */
const struct log_entry *samplelog__sorted(struct samplelog *l, size_t *n);
/* Heap bytes of the log. */
size_t samplelog__bytes(const struct samplelog *l);

#endif

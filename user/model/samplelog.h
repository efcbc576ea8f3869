/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_SAMPLELOG_H
#define PYROGRAPH_SAMPLELOG_H

#include <stddef.h>
#include <stdint.h>

/*
 * Every sample in time order, for formats that show when things happened
 * (speedscope). Stacks are interned; each entry is 24 bytes.
 */
struct samplelog;

struct log_entry {
	uint64_t start_ns; /* CLOCK_MONOTONIC: when the sampled span began */
	uint32_t dur_us;   /* how long it stands for */
	uint32_t stack;	   /* interned stack (frames only, no root) */
	uint32_t thread;   /* thread index */
	uint32_t _pad;
};

struct samplelog *samplelog__new(void);
void samplelog__free(struct samplelog *l);
/* thread_name: the profile's name (root frames and thread). 0 or -errno. */
int samplelog__add(struct samplelog *l, const char *thread_name,
		   const char *stack, uint64_t start_ns, uint64_t dur_ns);

size_t samplelog__nthreads(const struct samplelog *l);
const char *samplelog__thread_name(const struct samplelog *l, size_t i);
size_t samplelog__nstacks(const struct samplelog *l);
const char *samplelog__stack(const struct samplelog *l, size_t i);
/* Entries sorted by (thread, start); valid until the next add. */
const struct log_entry *samplelog__sorted(struct samplelog *l, size_t *n);

#endif

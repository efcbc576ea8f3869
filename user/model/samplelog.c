// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/intern.h"
#include "model/samplelog.h"

/* Bounded: at 1000 Hz on 64 CPUs this is ~4 minutes; beyond it, later
 * samples are dropped (counted by the caller through the return value). */
#define MAX_ENTRIES (16u << 20)

struct samplelog {
	struct intern stacks, threads;
	struct log_entry *e;
	size_t n, cap;
	int sorted;
};

struct samplelog *samplelog__new(void)
{
	return calloc(1, sizeof(struct samplelog));
}

void samplelog__free(struct samplelog *l)
{
	if (!l)
		return;
	intern_free(&l->stacks);
	intern_free(&l->threads);
	free(l->e);
	free(l);
}

int samplelog__add(struct samplelog *l, const char *thread_name,
		   const char *stack, uint64_t start_ns, uint64_t dur_ns)
{
	long th, st;

	if (l->n >= MAX_ENTRIES)
		return -ENOSPC;
	th = intern_id(&l->threads, thread_name, strlen(thread_name));
	st = intern_id(&l->stacks, stack, strlen(stack));
	if (th < 0 || st < 0)
		return -ENOMEM;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		struct log_entry *ne = realloc(l->e, cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		l->e = ne;
		l->cap = cap;
	}
	l->e[l->n++] = (struct log_entry){
		.start_ns = start_ns,
		.dur_us = dur_ns / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(dur_ns / 1000),
		.stack = (uint32_t)st,
		.thread = (uint32_t)th,
	};
	l->sorted = 0;
	return 0;
}

size_t samplelog__nthreads(const struct samplelog *l)
{
	return l->threads.n;
}

const char *samplelog__thread_name(const struct samplelog *l, size_t i)
{
	return i < l->threads.n ? l->threads.s[i] : NULL;
}

size_t samplelog__nstacks(const struct samplelog *l)
{
	return l->stacks.n;
}

const char *samplelog__stack(const struct samplelog *l, size_t i)
{
	return i < l->stacks.n ? l->stacks.s[i] : NULL;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct log_entry *x = a, *y = b;

	if (x->thread != y->thread)
		return x->thread < y->thread ? -1 : 1;
	return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

const struct log_entry *samplelog__sorted(struct samplelog *l, size_t *n)
{
	if (!l->sorted) {
		qsort(l->e, l->n, sizeof(*l->e), cmp_entry);
		l->sorted = 1;
	}
	*n = l->n;
	return l->e;
}

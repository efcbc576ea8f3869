// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/array.h"
#include "model/samplelog.h"

/* Bounded: at 1000 Hz on 64 CPUs this is ~4 minutes; beyond it, later
 * samples are dropped (counted by the caller through the return value). */
#define MAX_ENTRIES (16u << 20)

/* A thread: the stack of its root frames (in roots) and its tid. */
struct log_thread {
	uint32_t roots;
	int32_t tid;
	char *name; /* its profile name, made when the thread is first seen */
};

struct samplelog {
	struct frame_table *ft;
	struct stack_table stacks; /* frames below the roots */
	struct stack_table roots;  /* the root frames of each thread */
	struct log_thread *th;
	size_t nth, thcap, name_bytes;
	struct hashidx thix;
	struct log_entry *e;
	size_t n, cap;
	int sorted;
};

struct samplelog *samplelog__new(struct frame_table *ft)
{
	struct samplelog *l = calloc(1, sizeof(*l));

	if (l)
		l->ft = ft;
	return l;
}

void samplelog__free(struct samplelog *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nth; i++)
		free(l->th[i].name);
	free(l->th);
	hashidx_free(&l->thix);
	stacks_free(&l->stacks);
	stacks_free(&l->roots);
	free(l->e);
	free(l);
}

/* "ROOT;ROOT / thread TID", or "thread TID" without root frames. */
static char *thread_name(struct samplelog *l, const frame_id *f, uint32_t n,
			 int tid)
{
	size_t len = 32;
	char *name, *p;

	for (uint32_t i = 0; i < n; i++)
		len += strlen(frame_text(l->ft, f[i])) + 1;
	name = malloc(len + 3);
	if (!name)
		return NULL;
	p = name;
	for (uint32_t i = 0; i < n; i++) {
		const char *t = frame_text(l->ft, f[i]);
		size_t tl = strlen(t);

		if (i)
			*p++ = ';';
		memcpy(p, t, tl);
		p += tl;
	}
	snprintf(p, len + 3 - (size_t)(p - name), "%sthread %d", n ? " / " : "", tid);
	l->name_bytes += len + 3;
	return name;
}

struct thread_key {
	const struct samplelog *l;
	uint32_t roots;
	int32_t tid;
};

static bool thread_eq(const void *ctx, uint32_t pos)
{
	const struct thread_key *k = ctx;

	return k->l->th[pos].roots == k->roots && k->l->th[pos].tid == k->tid;
}

/* The index of the thread of root frames f[0..n) and tid, added if new. */
static long thread_of(struct samplelog *l, const frame_id *f, uint32_t n, int tid)
{
	long roots = stacks_add(&l->roots, f, n), id;
	struct thread_key k = { l, 0, tid };
	uint64_t h;

	if (roots < 0)
		return roots;
	k.roots = (uint32_t)roots;
	h = hash_mix((uint64_t)k.roots << 32 | (uint32_t)tid);
	id = hashidx_find(&l->thix, h, thread_eq, &k);
	if (id >= 0)
		return id;
	if (array_reserve(&l->th, &l->thcap, l->nth + 1, sizeof(*l->th), 64))
		return -ENOMEM;
	l->th[l->nth] = (struct log_thread){ k.roots, tid, thread_name(l, f, n, tid) };
	if (!l->th[l->nth].name || hashidx_insert(&l->thix, h, (uint32_t)l->nth)) {
		free(l->th[l->nth].name);
		return -ENOMEM;
	}
	return (long)l->nth++;
}

int samplelog__add(struct samplelog *l, const frame_id *f, uint32_t n, int tid,
		   uint64_t start_ns, uint64_t dur_ns)
{
	uint32_t nroots = 0;
	long th, st;

	if (l->n >= MAX_ENTRIES)
		return -ENOSPC;
	while (nroots < n && frame_is_root(l->ft, f[nroots]))
		nroots++;
	th = thread_of(l, f, nroots, tid);
	if (th < 0)
		return (int)th;
	st = stacks_add(&l->stacks, f + nroots, n - nroots);
	if (st < 0)
		return (int)st;
	if (array_reserve(&l->e, &l->cap, l->n + 1, sizeof(*l->e), 4096))
		return -ENOMEM;
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
	return l->nth;
}

const char *samplelog__thread_name(const struct samplelog *l, size_t i)
{
	return i < l->nth ? l->th[i].name : NULL;
}

const struct stack_table *samplelog__stacks(const struct samplelog *l)
{
	return &l->stacks;
}

struct frame_table *samplelog__frames(const struct samplelog *l)
{
	return l->ft;
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

size_t samplelog__bytes(const struct samplelog *l)
{
	return sizeof(*l) + l->cap * sizeof(*l->e) + l->thcap * sizeof(*l->th) +
	       l->name_bytes + hashidx_bytes(&l->thix) + stacks_bytes(&l->stacks) +
	       stacks_bytes(&l->roots);
}

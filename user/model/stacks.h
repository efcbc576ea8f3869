/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_STACKS_H
#define PYROGRAPH_STACKS_H

#include <stddef.h>
#include <stdint.h>

#include "model/frames.h"
#include "model/hashidx.h"

/*
 * Stacks as arrays of frame ids (outermost first), interned: equal arrays
 * get one stack id, found by a hash of the array, never by text.
 */
typedef uint32_t stack_id;

struct stack_table {
	frame_id *pool; /* every stack's frames, one after the other */
	size_t npool, pool_cap;
	struct stack_ent {
		size_t off;
		uint32_t n;
	} *e;
	size_t n, cap;
	struct hashidx ix;
};

void stacks_init(struct stack_table *t);
void stacks_free(struct stack_table *t);
/* The id of the stack f[0..n), added if new; -ENOMEM. */
long stacks_add(struct stack_table *t, const frame_id *f, uint32_t n);
/* The id of f[0..n) if present, else -1. */
long stacks_find(const struct stack_table *t, const frame_id *f, uint32_t n);

static inline const frame_id *stacks_get(const struct stack_table *t,
					 stack_id id, uint32_t *n)
{
	*n = t->e[id].n;
	return t->pool + t->e[id].off;
}

size_t stacks_bytes(const struct stack_table *t);

/*
 * The order of the stacks' folded texts (frame texts joined by ';'),
 * without building them: what a sort of the collapsed lines gives, so
 * every output lists stacks as the collapsed file does.
 */
int stacks_cmp_text(struct frame_table *ft, const frame_id *a, uint32_t na,
		    const frame_id *b, uint32_t nb);

/* The folded text of f[0..n) (frame texts joined by ';') into buf, cut
 * to fit; returns the length written. */
size_t stacks_text(struct frame_table *ft, const frame_id *f, uint32_t n,
		   char *buf, size_t len);

/*
 * A profile: stacks with a value (samples, or microseconds when timed;
 * bytes for memory) and a count of the events behind it.
 */
struct profile {
	struct frame_table *ft; /* shared: not owned */
	struct stack_table st;
	struct profile_weight {
		uint64_t value, count;
	} *w;
	size_t wcap;
	uint64_t total; /* sum of the values */
};

void profile_init(struct profile *p, struct frame_table *ft);
void profile_free(struct profile *p);
/* Adds an event of value to the stack f[0..n). 0 or -ENOMEM. */
int profile_add(struct profile *p, const frame_id *f, uint32_t n,
		uint64_t value, uint64_t count);
/* The same for a stack already in the profile's table. */
int profile_add_id(struct profile *p, stack_id id, uint64_t value,
		   uint64_t count);

static inline size_t profile_count(const struct profile *p)
{
	return p->st.n;
}

/* Heap bytes of the profile (not of its frame table). */
size_t profile_bytes(const struct profile *p);
/*
 * Every stack id in folded-text order (see stacks_cmp_text): a malloc'ed
 * array of profile_count() ids the caller frees; NULL when out of memory
 * (or empty: *n 0).
 */
stack_id *profile_sorted(struct profile *p, size_t *n);

#endif

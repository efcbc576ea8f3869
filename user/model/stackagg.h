/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_STACKAGG_H
#define PYROGRAPH_STACKAGG_H

#include <stddef.h>


/* A folded stack ("a;b;c", outermost first) and its weight. */
struct stack_count {
	const char *stack;
	unsigned long long count;
};

/* Folded stack string ("a;b;c") -> weight: what the reports still keep
 * until they use typed stacks (model/stacks.h). */
struct stackagg;

struct stackagg *stackagg__new(void);
void stackagg__free(struct stackagg *a);
int stackagg__add(struct stackagg *a, const char *stack, unsigned long long w);
/* The weight of one stack, 0 if absent. */
unsigned long long stackagg__get(const struct stackagg *a, const char *stack);
/* Number of distinct stacks and the sum of all weights. */
size_t stackagg__count(const struct stackagg *a);
unsigned long long stackagg__total(const struct stackagg *a);
/* Heap bytes the aggregate holds: its table and the stack strings. */
size_t stackagg__bytes(const struct stackagg *a);
/*
 * An array of every stack, sorted by stack text (stable output), owned by
 * the aggregator and valid until the next add or free.
 */
const struct stack_count *stackagg__sorted(struct stackagg *a, size_t *n);

struct profile;
/*
 * The folded stacks of a, read into p's typed stacks (value: the weight,
 * count 1): for the reports that still keep folded text. 0 or -ENOMEM
 * (also for a NULL a, an aggregate that could not be made).
 */
int stackagg__to_profile(struct stackagg *a, struct profile *p);

#endif

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "model/stackagg.h"
#include "model/folded.h"
#include "model/stacks.h"

struct slot {
	char *stack;
	unsigned long long count;
	unsigned long long hash;
};

struct stackagg {
	struct slot *tab;
	size_t cap, n;
	size_t text_bytes; /* heap held by the stack strings */
	unsigned long long total;
	struct stack_count *sorted;
};

struct stackagg *stackagg__new(void)
{
	struct stackagg *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->cap = 1024;
	a->tab = calloc(a->cap, sizeof(*a->tab));
	if (!a->tab) {
		free(a);
		return NULL;
	}
	return a;
}

void stackagg__free(struct stackagg *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->cap; i++)
		free(a->tab[i].stack);
	free(a->tab);
	free(a->sorted);
	free(a);
}

static unsigned long long fnv1a(const char *s)
{
	unsigned long long h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static int grow(struct stackagg *a)
{
	size_t ncap = a->cap * 2;
	struct slot *nt = calloc(ncap, sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	for (size_t i = 0; i < a->cap; i++) {
		size_t j;

		if (!a->tab[i].stack)
			continue;
		j = a->tab[i].hash & (ncap - 1);
		while (nt[j].stack)
			j = (j + 1) & (ncap - 1);
		nt[j] = a->tab[i];
	}
	free(a->tab);
	a->tab = nt;
	a->cap = ncap;
	return 0;
}

int stackagg__add(struct stackagg *a, const char *stack, unsigned long long w)
{
	unsigned long long h = fnv1a(stack);
	size_t i;

	if ((a->n + 1) * 10 > a->cap * 7 && grow(a))
		return -ENOMEM;
	i = h & (a->cap - 1);
	while (a->tab[i].stack) {
		if (a->tab[i].hash == h && !strcmp(a->tab[i].stack, stack)) {
			a->tab[i].count += w;
			a->total += w;
			return 0;
		}
		i = (i + 1) & (a->cap - 1);
	}
	a->tab[i].stack = strdup(stack);
	if (!a->tab[i].stack)
		return -ENOMEM;
	a->text_bytes += malloc_usable_size(a->tab[i].stack);
	a->tab[i].hash = h;
	a->tab[i].count = w;
	a->n++;
	a->total += w;
	return 0;
}

unsigned long long stackagg__get(const struct stackagg *a, const char *stack)
{
	unsigned long long h = fnv1a(stack);
	size_t i = h & (a->cap - 1);

	while (a->tab[i].stack) {
		if (a->tab[i].hash == h && !strcmp(a->tab[i].stack, stack))
			return a->tab[i].count;
		i = (i + 1) & (a->cap - 1);
	}
	return 0;
}

size_t stackagg__count(const struct stackagg *a)
{
	return a->n;
}

size_t stackagg__bytes(const struct stackagg *a)
{
	return a->text_bytes + a->cap * sizeof(*a->tab);
}

unsigned long long stackagg__total(const struct stackagg *a)
{
	return a->total;
}

static int cmp_stack(const void *x, const void *y)
{
	return strcmp(((const struct stack_count *)x)->stack,
		      ((const struct stack_count *)y)->stack);
}

const struct stack_count *stackagg__sorted(struct stackagg *a, size_t *n)
{
	size_t k = 0;

	free(a->sorted);
	a->sorted = calloc(a->n ? a->n : 1, sizeof(*a->sorted));
	if (!a->sorted) {
		*n = 0;
		return NULL;
	}
	for (size_t i = 0; i < a->cap; i++) {
		if (!a->tab[i].stack)
			continue;
		a->sorted[k].stack = a->tab[i].stack;
		a->sorted[k].count = a->tab[i].count;
		k++;
	}
	qsort(a->sorted, k, sizeof(*a->sorted), cmp_stack);
	*n = k;
	return a->sorted;
}

int stackagg__to_profile(struct stackagg *a, struct profile *p)
{
	struct folded_buf b = { 0 };
	const struct stack_count *sc;
	size_t n;
	int ret = 0;

	if (!a) /* its creation failed */
		return -ENOMEM;
	sc = stackagg__sorted(a, &n);
	for (size_t i = 0; sc && i < n && !ret; i++)
		ret = folded_add(p, sc[i].stack, strlen(sc[i].stack), sc[i].count, 1, &b);
	folded_buf_free(&b);
	return sc || !n ? ret : -ENOMEM;
}

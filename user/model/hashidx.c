// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/hashidx.h"

long hashidx_find(const struct hashidx *t, uint64_t h, hashidx_eq_fn eq,
		  const void *ctx)
{
	uint32_t h32 = (uint32_t)(h ^ (h >> 32));
	size_t mask = t->cap - 1, i;

	if (!t->cap)
		return -1;
	for (i = h32 & mask; t->slots[i].pos1; i = (i + 1) & mask)
		if (t->slots[i].h == h32 && eq(ctx, t->slots[i].pos1 - 1))
			return (long)(t->slots[i].pos1 - 1);
	return -1;
}

static void place(struct hashidx_slot *slots, size_t cap, uint32_t h32,
		  uint32_t pos1)
{
	size_t i = h32 & (cap - 1);

	while (slots[i].pos1)
		i = (i + 1) & (cap - 1);
	slots[i].pos1 = pos1;
	slots[i].h = h32;
}

static int grow(struct hashidx *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 64;
	struct hashidx_slot *ns = calloc(ncap, sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].pos1)
			place(ns, ncap, t->slots[i].h, t->slots[i].pos1);
	free(t->slots);
	t->slots = ns;
	t->cap = ncap;
	return 0;
}

int hashidx_insert(struct hashidx *t, uint64_t h, uint32_t pos)
{
	/* at most 5/8 full: probes stay short */
	if ((t->n + 1) * 8 > t->cap * 5 && grow(t))
		return -ENOMEM;
	place(t->slots, t->cap, (uint32_t)(h ^ (h >> 32)), pos + 1);
	t->n++;
	return 0;
}

void hashidx_clear(struct hashidx *t)
{
	if (t->slots)
		memset(t->slots, 0, t->cap * sizeof(*t->slots));
	t->n = 0;
}

void hashidx_free(struct hashidx *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

size_t hashidx_bytes(const struct hashidx *t)
{
	return t->cap * sizeof(*t->slots);
}

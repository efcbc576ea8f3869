// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/array.h"
#include "model/intern.h"

struct key {
	const struct intern *t;
	const char *s;
	size_t len;
};

static bool key_eq(const void *ctx, uint32_t pos)
{
	const struct key *k = ctx;
	const char *c = k->t->s[pos];

	return !strncmp(c, k->s, k->len) && c[k->len] == '\0';
}

long intern_find(const struct intern *t, const char *s, size_t len)
{
	struct key k = { t, s, len };

	return hashidx_find(&t->ix, hash_bytes(s, len), key_eq, &k);
}

long intern_id(struct intern *t, const char *s, size_t len)
{
	uint64_t h = hash_bytes(s, len);
	struct key k = { t, s, len };
	long id = hashidx_find(&t->ix, h, key_eq, &k);

	if (id >= 0)
		return id;
	if (t->n >= UINT32_MAX - 1)
		return -ENOMEM;
	if (array_reserve(&t->s, &t->cap, t->n + 1, sizeof(*t->s), 256))
		return -ENOMEM;
	t->s[t->n] = strndup(s, len);
	if (!t->s[t->n])
		return -ENOMEM;
	if (hashidx_insert(&t->ix, h, (uint32_t)t->n)) {
		free(t->s[t->n]);
		return -ENOMEM;
	}
	t->bytes += malloc_usable_size(t->s[t->n]);
	return (long)t->n++;
}

size_t intern_bytes(const struct intern *t)
{
	return t->bytes + t->cap * sizeof(*t->s) + hashidx_bytes(&t->ix);
}

void intern_free(struct intern *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->s[i]);
	free(t->s);
	hashidx_free(&t->ix);
	memset(t, 0, sizeof(*t));
}

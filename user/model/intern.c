// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/intern.h"

static uint64_t hash_mem(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static int rehash(struct intern *t)
{
	size_t ncap = t->icap ? t->icap * 2 : 1024, i;
	size_t *ni = calloc(ncap, sizeof(*ni));

	if (!ni)
		return -ENOMEM;
	for (size_t k = 0; k < t->n; k++) {
		i = hash_mem(t->s[k], strlen(t->s[k])) & (ncap - 1);
		while (ni[i])
			i = (i + 1) & (ncap - 1);
		ni[i] = k + 1;
	}
	free(t->idx);
	t->idx = ni;
	t->icap = ncap;
	return 0;
}

long intern_id(struct intern *t, const char *s, size_t len)
{
	size_t i;

	if ((t->n + 1) * 2 > t->icap && rehash(t))
		return -ENOMEM;
	i = hash_mem(s, len) & (t->icap - 1);
	while (t->idx[i]) {
		const char *c = t->s[t->idx[i] - 1];

		if (!strncmp(c, s, len) && c[len] == '\0')
			return (long)(t->idx[i] - 1);
		i = (i + 1) & (t->icap - 1);
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		char **ns = realloc(t->s, cap * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		t->s = ns;
		t->cap = cap;
	}
	t->s[t->n] = strndup(s, len);
	if (!t->s[t->n])
		return -ENOMEM;
	t->idx[i] = t->n + 1;
	return (long)t->n++;
}

void intern_free(struct intern *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->s[i]);
	free(t->s);
	free(t->idx);
	memset(t, 0, sizeof(*t));
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * /proc/kallsyms as a sorted array. Only text symbols are kept; names are
 * stored in one arena so the ~200k entries cost two allocations.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/array.h"
#include "native/ksyms.h"

struct ksym {
	uint64_t addr;
	uint32_t name; /* offset in the arena */
};

struct ksyms {
	struct ksym *syms;
	size_t n, cap;
	char *names;
	size_t nlen, ncap;
};

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int push(struct ksyms *ks, uint64_t addr, const char *name)
{
	size_t l = strlen(name) + 1;

	if (array_reserve(&ks->syms, &ks->cap, ks->n + 1, sizeof(*ks->syms), 65536))
		return -ENOMEM;
	if (ks->nlen + l > ks->ncap) {
		size_t cap = ks->ncap ? ks->ncap * 2 : 1 << 20;
		char *s;

		if (cap > UINT32_MAX) /* name offsets are 32 bits */
			return -ENOMEM;
		s = realloc(ks->names, cap);
		if (!s)
			return -ENOMEM;
		ks->names = s;
		ks->ncap = cap;
	}
	memcpy(ks->names + ks->nlen, name, l);
	ks->syms[ks->n].addr = addr;
	ks->syms[ks->n].name = ks->nlen;
	ks->n++;
	ks->nlen += l;
	return 0;
}

struct ksyms *ksyms__load(const char *path)
{
	struct ksyms *ks = calloc(1, sizeof(*ks));
	char line[512], name[256], type;
	unsigned long long addr;
	FILE *f;

	if (!ks)
		return NULL;
	f = fopen(path, "re");
	if (!f) {
		free(ks);
		return NULL;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3)
			continue;
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		if (!addr)
			continue; /* kptr_restrict hides addresses */
		if (push(ks, addr, name)) {
			fclose(f);
			ksyms__free(ks);
			errno = ENOMEM;
			return NULL;
		}
	}
	fclose(f);
	if (!ks->n) {
		ksyms__free(ks);
		errno = EPERM;
		return NULL;
	}
	qsort(ks->syms, ks->n, sizeof(*ks->syms), cmp_ksym);
	return ks;
}

void ksyms__free(struct ksyms *ks)
{
	if (!ks)
		return;
	free(ks->syms);
	free(ks->names);
	free(ks);
}

const char *ksyms__name(const struct ksyms *ks, uint64_t addr)
{
	size_t lo = 0, hi;

	if (!ks || !ks->n || addr < ks->syms[0].addr)
		return NULL;
	hi = ks->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (ks->syms[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	return ks->names + ks->syms[lo].name;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/array.h"
#include "model/stacks.h"

void stacks_init(struct stack_table *t)
{
	memset(t, 0, sizeof(*t));
}

void stacks_free(struct stack_table *t)
{
	free(t->pool);
	free(t->e);
	hashidx_free(&t->ix);
	memset(t, 0, sizeof(*t));
}

struct stack_key {
	const struct stack_table *t;
	const frame_id *f;
	uint32_t n;
};

static bool stack_eq(const void *ctx, uint32_t pos)
{
	const struct stack_key *k = ctx;
	const struct stack_ent *e = &k->t->e[pos];

	/* an empty stack may come as NULL: memcmp must not see it */
	return e->n == k->n &&
	       (!k->n || !memcmp(k->t->pool + e->off, k->f, k->n * sizeof(*k->f)));
}

long stacks_find(const struct stack_table *t, const frame_id *f, uint32_t n)
{
	struct stack_key k = { t, f, n };

	return hashidx_find(&t->ix, hash_u32s(f, n), stack_eq, &k);
}


long stacks_add(struct stack_table *t, const frame_id *f, uint32_t n)
{
	uint64_t h = hash_u32s(f, n);
	struct stack_key k = { t, f, n };
	long id = hashidx_find(&t->ix, h, stack_eq, &k);

	if (id >= 0)
		return id;
	if (t->n >= UINT32_MAX - 1 ||
	    /* room for one frame even for an empty stack: stacks_get()
	     * never offsets a NULL pool */
	    array_reserve(&t->pool, &t->pool_cap, t->npool + (n ? n : 1),
		    sizeof(*t->pool), 4096) ||
	    array_reserve(&t->e, &t->cap, t->n + 1, sizeof(*t->e), 256))
		return -ENOMEM;
	if (n)
		memcpy(t->pool + t->npool, f, n * sizeof(*f));
	t->e[t->n] = (struct stack_ent){ .off = t->npool, .n = n };
	if (hashidx_insert(&t->ix, h, (uint32_t)t->n))
		return -ENOMEM;
	t->npool += n;
	return (long)t->n++;
}

size_t stacks_bytes(const struct stack_table *t)
{
	return t->pool_cap * sizeof(*t->pool) + t->cap * sizeof(*t->e) +
	       hashidx_bytes(&t->ix);
}

int stacks_cmp_text(struct frame_table *ft, const frame_id *a, uint32_t na,
		    const frame_id *b, uint32_t nb)
{
	uint32_t i;

	for (i = 0; i < na && i < nb; i++) {
		const unsigned char *x, *y;

		if (a[i] == b[i])
			continue;
		x = (const unsigned char *)frame_text(ft, a[i]);
		y = (const unsigned char *)frame_text(ft, b[i]);
		while (*x && *x == *y)
			x++, y++;
		if (*x && *y)
			return *x < *y ? -1 : 1;
		if (!*x && !*y)
			continue; /* two frames with one text */
		/* One text is a prefix of the other: in the joined text the
		 * shorter one is followed by ';', or ends the stack. */
		if (!*x)
			return (i + 1 < na ? ';' : 0) < *y ? -1 : 1;
		return *x < (i + 1 < nb ? ';' : 0) ? -1 : 1;
	}
	return na == nb ? 0 : na < nb ? -1 : 1;
}

size_t stacks_text(struct frame_table *ft, const frame_id *f, uint32_t n,
		   char *buf, size_t len)
{
	size_t pos = 0;

	if (!len)
		return 0;
	buf[0] = '\0';
	for (uint32_t i = 0; i < n; i++) {
		const char *t = frame_text(ft, f[i]);
		size_t l = strlen(t);

		if (pos + l + 2 >= len)
			break;
		if (i)
			buf[pos++] = ';';
		memcpy(buf + pos, t, l);
		pos += l;
		buf[pos] = '\0';
	}
	return pos;
}

void profile_init(struct profile *p, struct frame_table *ft)
{
	memset(p, 0, sizeof(*p));
	p->ft = ft;
	stacks_init(&p->st);
}

void profile_free(struct profile *p)
{
	stacks_free(&p->st);
	free(p->w);
	p->w = NULL;
	p->wcap = 0;
	p->total = 0;
}

int profile_add_id(struct profile *p, stack_id id, uint64_t value,
		   uint64_t count)
{
	if (id >= p->st.n)
		return -EINVAL;
	p->w[id].value += value;
	p->w[id].count += count;
	p->total += value;
	return 0;
}

int profile_add(struct profile *p, const frame_id *f, uint32_t n,
		uint64_t value, uint64_t count)
{
	size_t before = p->st.n;
	long id;

	/* room for a new stack's weight first: a stack in the table always
	 * has one */
	if (array_reserve(&p->w, &p->wcap, before + 1, sizeof(*p->w), 256))
		return -ENOMEM;
	id = stacks_add(&p->st, f, n);
	if (id < 0)
		return (int)id;
	if (p->st.n > before)
		p->w[id] = (struct profile_weight){ 0 };
	p->w[id].value += value;
	p->w[id].count += count;
	p->total += value;
	return 0;
}

size_t profile_bytes(const struct profile *p)
{
	return stacks_bytes(&p->st) + p->wcap * sizeof(*p->w);
}

static __thread struct profile *sort_p;

static int cmp_ids(const void *x, const void *y)
{
	uint32_t na, nb;
	const frame_id *a = stacks_get(&sort_p->st, *(const stack_id *)x, &na);
	const frame_id *b = stacks_get(&sort_p->st, *(const stack_id *)y, &nb);

	return stacks_cmp_text(sort_p->ft, a, na, b, nb);
}

stack_id *profile_sorted(struct profile *p, size_t *n)
{
	stack_id *ids;

	*n = p->st.n;
	ids = malloc((*n ? *n : 1) * sizeof(*ids));
	if (!ids) {
		*n = 0;
		return NULL;
	}
	for (size_t i = 0; i < *n; i++)
		ids[i] = (stack_id)i;
	sort_p = p;
	qsort(ids, *n, sizeof(*ids), cmp_ids);
	sort_p = NULL;
	return ids;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The await chains of async, by (process, hash). A chain's frames are kept
 * in a stack table (chains of the same frames are stored once); entries of
 * exited processes are cleared in place (pid 0) and their slots are not
 * reused: AWAIT_CHAINS_MAX bounds the entries of the whole run.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/await_chains.h"
#include "model/hashidx.h"
#include "model/stacks.h"

struct chain_ent {
	uint64_t hash;
	pid_t pid;
	uint32_t stack;
};

struct await_chains {
	struct stack_table frames;
	struct chain_ent *e;
	size_t n, cap;
	struct hashidx ix;
};

struct chain_find {
	const struct await_chains *c;
	pid_t pid;
	uint64_t hash;
};

static bool ent_eq(const void *ctx, uint32_t pos)
{
	const struct chain_find *q = ctx;

	return q->c->e[pos].hash == q->hash && q->c->e[pos].pid == q->pid;
}

static uint64_t key_hash(pid_t pid, uint64_t hash)
{
	return hash_mix(hash ^ (uint64_t)(uint32_t)pid * 0x9e3779b97f4a7c15ULL);
}

static long find(const struct await_chains *c, pid_t pid, uint64_t hash)
{
	struct chain_find q = { .c = c, .pid = pid, .hash = hash };

	return hashidx_find(&c->ix, key_hash(pid, hash), ent_eq, &q);
}

struct await_chains *await_chains_new(void)
{
	struct await_chains *c = calloc(1, sizeof(*c));

	if (c)
		stacks_init(&c->frames);
	return c;
}

void await_chains_free(struct await_chains *c)
{
	if (!c)
		return;
	stacks_free(&c->frames);
	hashidx_free(&c->ix);
	free(c->e);
	free(c);
}

int await_chains_add(struct await_chains *c, pid_t pid, uint64_t hash,
		     const frame_id *f, uint32_t n)
{
	long id;

	if (!pid || !n)
		return -EINVAL;
	if (find(c, pid, hash) >= 0)
		return 0;
	if (c->n >= AWAIT_CHAINS_MAX)
		return -ENOSPC;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct chain_ent *e = realloc(c->e, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		c->e = e;
		c->cap = cap;
	}
	id = stacks_add(&c->frames, f, n);
	if (id < 0)
		return (int)id;
	if (hashidx_insert(&c->ix, key_hash(pid, hash), (uint32_t)c->n))
		return -ENOMEM;
	c->e[c->n++] = (struct chain_ent){ .hash = hash, .pid = pid,
					   .stack = (uint32_t)id };
	return 0;
}

const frame_id *await_chains_get(const struct await_chains *c, pid_t pid,
				 uint64_t hash, uint32_t *n)
{
	long pos = pid ? find(c, pid, hash) : -1;

	if (pos < 0)
		return NULL;
	return stacks_get(&c->frames, c->e[pos].stack, n);
}

void await_chains_forget_pid(struct await_chains *c, pid_t pid)
{
	for (size_t i = 0; c && pid && i < c->n; i++)
		if (c->e[i].pid == pid)
			c->e[i].pid = 0;
}

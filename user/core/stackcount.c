// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Stacks counted in the kernel. When no sink needs every sample on its own
 * (no time order, no weights, no kernel or native frames), BPF sends a
 * stack only the first time it sees it (SAMPLE_NEW_STACK, with the hash of
 * its key) and then only counts it in the stack_counts map. Here the first
 * one is remembered under its key, as the typed stack it was resolved to
 * while the process was alive; stackcount_drain() reads the counts (once a
 * second and at the end) and hands each stack's new samples to the sinks
 * at once.
 *
 * Everything stays accounted: counts of a key the session does not know
 * (its first sample was lost) are lost samples, and the key is taken out so
 * the stack is sent again; keys of processes gone, and of stacks not seen
 * for a minute, leave the map so it does not fill.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/session_int.h"
#include "model/array.h"
#include "model/stacks.h"
#include "sys/clock.h"

/* Drains a key may go without a sample before it leaves the map. */
#define IDLE_DRAINS 60

struct counted {
	struct stack_key key;
	long stack;	  /* in the session's counted table; -1: unknown */
	uint32_t nroot;
	unsigned long long last; /* the total drained so far */
	unsigned int idle;	 /* drains without a new sample */
	bool dead;
};

struct stackcount {
	struct stack_table stacks; /* the frames of every counted stack */
	struct counted *e;
	size_t n, cap, ndead;
	struct hashidx ix;
	unsigned long long counted, unknown;
};

static uint64_t key_hash(const struct stack_key *k)
{
	return hash_mix(k->hash ^ ((uint64_t)k->pid << 32 | k->tid) ^
			((uint64_t)k->flags << 17));
}

struct key_ctx {
	const struct stackcount *sc;
	const struct stack_key *k;
};

static bool key_eq(const void *ctx, uint32_t pos)
{
	const struct key_ctx *c = ctx;
	const struct counted *e = &c->sc->e[pos];

	return !e->dead && e->key.hash == c->k->hash && e->key.pid == c->k->pid &&
	       e->key.tid == c->k->tid && e->key.flags == c->k->flags;
}

static struct counted *find(struct stackcount *sc, const struct stack_key *k)
{
	struct key_ctx c = { sc, k };
	long pos = hashidx_find(&sc->ix, key_hash(k), key_eq, &c);

	return pos < 0 ? NULL : &sc->e[pos];
}

static struct counted *add(struct stackcount *sc, const struct stack_key *k)
{
	if (array_reserve(&sc->e, &sc->cap, sc->n + 1, sizeof(*sc->e), 1024))
		return NULL;
	if (hashidx_insert(&sc->ix, key_hash(k), (uint32_t)sc->n))
		return NULL;
	sc->e[sc->n] = (struct counted){ .key = *k, .stack = -1 };
	return &sc->e[sc->n++];
}

int stackcount_init(struct session *s)
{
	s->counts = calloc(1, sizeof(*s->counts));
	if (!s->counts)
		return -ENOMEM;
	stacks_init(&s->counts->stacks);
	return 0;
}

void stackcount_free(struct session *s)
{
	if (!s->counts)
		return;
	stacks_free(&s->counts->stacks);
	hashidx_free(&s->counts->ix);
	free(s->counts->e);
	free(s->counts);
	s->counts = NULL;
}

void stackcount_learn(struct session *s, const struct sample_event *e,
		      const frame_id *f, uint32_t n, uint32_t nroot)
{
	struct stackcount *sc = s->counts;
	struct stack_key k = {
		.hash = e->stack_hash,
		.pid = e->pid,
		.tid = s->o.threads ? e->tid : 0,
		.flags = e->flags & (SAMPLE_TRUNCATED | SAMPLE_READ_ERROR),
	};
	struct counted *c;

	if (!sc)
		return;
	c = find(sc, &k);
	if (!c && !(c = add(sc, &k)))
		return; /* its counts will be lost, and said so */
	c->stack = stacks_add(&sc->stacks, f, n);
	c->nroot = nroot;
}

/* Once in a while the dead entries go and the index is built again. */
static void compact(struct stackcount *sc)
{
	size_t j = 0;

	if (sc->ndead < 1024 || sc->ndead * 2 < sc->n)
		return;
	hashidx_clear(&sc->ix);
	for (size_t i = 0; i < sc->n; i++) {
		if (sc->e[i].dead)
			continue;
		sc->e[j] = sc->e[i];
		if (hashidx_insert(&sc->ix, key_hash(&sc->e[j].key), (uint32_t)j))
			break; /* out of memory: the rest are forgotten */
		j++;
	}
	sc->n = j;
	sc->ndead = 0;
}


/* A key's new samples: to the sinks, all at once. */
static void deliver(struct session *s, struct counted *c,
		    unsigned long long delta)
{
	struct stackcount *sc = s->counts;
	struct session_sample ss = {
		.pid = (pid_t)c->key.pid,
		.tid = (pid_t)c->key.tid,
		.oncpu = true,
		.count = delta,
		.nroot = c->nroot,
	};

	ss.frames = stacks_get(&sc->stacks, (stack_id)c->stack, &ss.n);
	ss.ns = s->sample_ns * delta;
	ss.start = clock_mono_ns() - ss.ns;
	sc->counted += delta;
	session_deliver(s, &ss);
}

static void drain_one(void *ctx, const struct stack_key *k,
		      unsigned long long total)
{
	struct session *s = ctx;
	struct stackcount *sc = s->counts;
	struct counted *c = find(sc, k);
	struct tracked *t;
	unsigned long long delta;

	if (!c || c->stack < 0) {
		/* its first sample never became a stack: what it counted is
		 * lost, and it goes, so its next sample is sent again */
		s->lost_samples += total;
		sc->unknown += total;
		profiler__forget_count(s->prof, k);
		if (c) {
			c->dead = true;
			sc->ndead++;
		}
		return;
	}
	delta = total >= c->last ? total - c->last : 0;
	c->idle = delta ? 0 : c->idle + 1;
	t = targets_find(s, (pid_t)k->pid);
	if (!t || !t->python || c->idle >= IDLE_DRAINS) {
		/* read again as it goes: a sample counted in between is kept */
		long long last = profiler__forget_count(s->prof, k);

		if (last >= 0 && (unsigned long long)last > total)
			delta += (unsigned long long)last - total;
		c->dead = true;
		sc->ndead++;
	}
	c->last = total;
	if (delta)
		deliver(s, c, delta);
}

void stackcount_forget_thread(struct session *s, pid_t pid, pid_t tid)
{
	struct stackcount *sc = s->counts;

	if (!sc || !s->o.threads)
		return;
	for (size_t i = 0; i < sc->n; i++) {
		struct counted *c = &sc->e[i];
		long long last;

		if (c->dead || c->key.pid != (__u32)pid || c->key.tid != (__u32)tid)
			continue;
		/* read as it goes: a sample counted in between is kept */
		last = profiler__forget_count(s->prof, &c->key);
		if (c->stack >= 0 && last > 0 && (unsigned long long)last > c->last)
			deliver(s, c, (unsigned long long)last - c->last);
		c->dead = true;
		sc->ndead++;
	}
}

int stackcount_drain(struct session *s)
{
	int n;

	if (!s->counts)
		return 0;
	n = profiler__counts(s->prof, drain_one, s);
	compact(s->counts);
	return n;
}

void stackcount_summary(struct session *s, unsigned long long full)
{
	struct stackcount *sc = s->counts;

	if (!sc)
		return;
	fprintf(stderr,
		"pyrograph: stacks counted in the kernel: %llu samples of %zu distinct stacks; %llu new stacks sent while the map (%u) was full; %llu samples of stacks not learnt (lost)\n",
		sc->counted, sc->stacks.n, full, profiler__count_capacity(s->prof),
		sc->unknown);
}

size_t stackcount_bytes(struct session *s)
{
	struct stackcount *sc = s->counts;

	return sc ? stacks_bytes(&sc->stacks) + sc->cap * sizeof(*sc->e) +
			    hashidx_bytes(&sc->ix) :
		    0;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The asyncio report: loop lag, stalls with the stack responsible, and
 * blocking calls made from coroutines. This file collects what a session
 * hands over; async_analysis.c says what it means, async_text.c and
 * async_json.c write it.
 *
 * Stacks arrive in ring-buffer order, which is reservation order: every
 * sample and off-CPU interval inside an iteration was queued before the
 * stall that ends it (the thread had to come back and reach its poll). So
 * each loop thread keeps a short buffer of its recent stacks, and a stall
 * takes the ones inside its time span and discards everything before.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report/async_int.h"

struct asyncrep *asyncrep__new(unsigned long long stall_ns,
			       struct frame_table *ft)
{
	struct asyncrep *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->ft = ft;
	a->stall_ns = stall_ns;
	a->rng = 0x9e3779b97f4a7c15ULL;
	stacks_init(&a->stacks);
	stacks_init(&a->chains);
	profile_init(&a->stall_prof, ft);
	return a;
}

static void dists_free(struct dist_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->d[i].ns);
		free(t->d[i].slow);
	}
	free(t->d);
	hashidx_free(&t->ix);
}

void asyncrep__free(struct asyncrep *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->ntids; i++)
		free(a->tids[i].ev);
	for (size_t i = 0; i < a->nprocs; i++)
		free(a->procs[i].label);
	free(a->procs);
	free(a->stalls);
	free(a->loops);
	stacks_free(&a->stacks);
	stacks_free(&a->chains);
	dists_free(&a->sites);
	dists_free(&a->steps);
	dists_free(&a->awaits);
	dists_free(&a->pairs);
	dists_free(&a->endpoints);
	free(a->tasks);
	free(a->lives);
	profile_free(&a->stall_prof);
	free(a);
}

void asyncrep__set_clock(struct asyncrep *a, unsigned long long mono_ns,
			 unsigned long long wall_ns)
{
	a->mono0 = mono_ns;
	a->wall0 = wall_ns;
}

void asyncrep__set_duration(struct asyncrep *a, double seconds)
{
	a->seconds = seconds;
}

void asyncrep__set_rate(struct asyncrep *a, double hz)
{
	a->hz = hz > 0 && hz < 1e7 ? hz : 0;
}

void asyncrep__set_source(struct asyncrep *a, asyncrep_source_fn fn, void *ctx)
{
	a->source = fn;
	a->source_ctx = ctx;
}

struct profile *asyncrep__stall_stacks(struct asyncrep *a)
{
	return &a->stall_prof;
}

/* Grows *arr (elements of size sz) to hold at least want; false on ENOMEM. */
static bool grow(void **arr, size_t *cap, size_t want, size_t sz)
{
	size_t n = *cap ? *cap : 16;
	void *p;

	if (want <= *cap)
		return true;
	while (n < want)
		n *= 2;
	p = realloc(*arr, n * sz);
	if (!p)
		return false;
	*arr = p;
	*cap = n;
	return true;
}

/* ---- processes ---- */

struct proc *async_proc_find(const struct asyncrep *a, pid_t pid)
{
	for (size_t i = 0; i < a->nprocs; i++)
		if (a->procs[i].pid == pid)
			return &a->procs[i];
	return NULL;
}

void asyncrep__proc(struct asyncrep *a, pid_t pid, const char *where,
		    const frame_id *root, uint32_t nroot, bool uvloop)
{
	struct proc *p = async_proc_find(a, pid);
	char text[1024], label[1400];
	char *l;

	/* the report names a container's processes with it */
	stacks_text(a->ft, root, nroot, text, sizeof(text));
	snprintf(label, sizeof(label), "%s%s%s", where ? where : "",
		 where ? ": " : "", where || nroot ? text : "?");
	l = strdup(label);
	if (!l) {
		a->lost_other++;
		return;
	}
	if (p) {
		/* a new image in the same process (exec) */
		free(p->label);
	} else {
		if (!grow((void **)&a->procs, &a->cap_procs, a->nprocs + 1,
			  sizeof(*a->procs))) {
			free(l);
			a->lost_other++;
			return;
		}
		p = &a->procs[a->nprocs++];
		p->pid = pid;
	}
	p->label = l;
	p->uvloop = uvloop;
}

void asyncrep__proc_uvloop(struct asyncrep *a, pid_t pid)
{
	struct proc *p = async_proc_find(a, pid);

	if (p)
		p->uvloop = true;
}

/* ---- records by key: sites, coroutines, await sites, pairs ---- */

struct dist_key {
	const struct dist_table *t;
	const struct rkey *k;
};

static bool dist_eq(const void *ctx, uint32_t pos)
{
	const struct dist_key *dk = ctx;

	return !memcmp(&dk->t->d[pos].key, dk->k, sizeof(*dk->k));
}

/* The record of key k, created empty if new; NULL when out of memory or
 * past MAX_DISTS records. */
struct dist *async_dist_get(struct dist_table *t, const struct rkey *k)
{
	struct dist_key dk = { t, k };
	uint64_t h = hash_u32s((const uint32_t *)k, sizeof(*k) / sizeof(uint32_t));
	long id = hashidx_find(&t->ix, h, dist_eq, &dk);

	if (id >= 0)
		return &t->d[id];
	if (t->n >= MAX_DISTS ||
	    !grow((void **)&t->d, &t->cap, t->n + 1, sizeof(*t->d)) ||
	    hashidx_insert(&t->ix, h, (uint32_t)t->n))
		return NULL;
	memset(&t->d[t->n], 0, sizeof(t->d[t->n]));
	t->d[t->n].key = *k;
	return &t->d[t->n++];
}

void async_dist_add(struct asyncrep *a, struct dist *d, unsigned long long ns)
{
	d->count++;
	d->total_ns += ns;
	if (ns > d->max_ns)
		d->max_ns = ns;
	if (d->n < DIST_KEEP) {
		if (d->n == d->cap &&
		    !grow((void **)&d->ns, &d->cap, d->n + 1, sizeof(*d->ns))) {
			a->lost_other++;
			return;
		}
		d->ns[d->n++] = ns;
	} else {
		/* reservoir: each of the count durations kept with equal odds */
		unsigned long long r;

		a->rng ^= a->rng << 13;
		a->rng ^= a->rng >> 7;
		a->rng ^= a->rng << 17;
		r = a->rng % d->count;
		if (r < DIST_KEEP)
			d->ns[r] = ns;
	}
}

/* ---- stacks and stalls ---- */

static struct tbuf *tbuf_get(struct asyncrep *a, pid_t tid, bool add)
{
	for (size_t i = 0; i < a->ntids; i++)
		if (a->tids[i].tid == tid)
			return &a->tids[i];
	if (!add || a->ntids >= MAX_TIDS)
		return NULL;
	a->tids[a->ntids] = (struct tbuf){ .tid = tid };
	return &a->tids[a->ntids++];
}

/* Drops the first k events of b. */
static void tbuf_drop(struct tbuf *b, size_t k)
{
	if (k > b->n)
		k = b->n;
	if (!k)
		return;
	memmove(b->ev, b->ev + k, (b->n - k) * sizeof(*b->ev));
	b->n -= k;
}

/* An off-CPU stack: a blocking call at its call site, if it is one. */
static void add_site(struct asyncrep *a, pid_t pid, stack_id stack,
		     unsigned long long ns)
{
	struct stack_info si;
	struct rkey k = { .pid = pid };
	struct dist *d;

	async_stack_info(a, stack, &si);
	if (!async_stack_blocking(a, &si) || si.leaf == FRAME_NONE)
		return;
	k.k[0] = stack_culprit(&si);
	k.k[1] = si.reason;
	d = async_dist_get(&a->sites, &k);
	if (!d) {
		a->lost_other++;
		return;
	}
	if (!d->count)
		d->stack = stack;
	d->count++;
	d->total_ns += ns;
	if (ns > d->max_ns)
		d->max_ns = ns;
}

int asyncrep__stack(struct asyncrep *a, pid_t pid, pid_t tid,
		    const frame_id *f, uint32_t n, bool oncpu,
		    unsigned long long start, unsigned long long ns)
{
	struct tbuf *b;
	long id;

	if (!n)
		return 0; /* no frame: nothing to attribute */
	b = tbuf_get(a, tid, true);
	if (!b) {
		a->lost_stacks++;
		return -ENOMEM;
	}
	if (b->n == b->cap) {
		size_t k = 0;

		/* Age out first; only a thread that sends a flood of stacks
		 * without a stall in 30 s loses its oldest half. */
		while (k < b->n && b->ev[k].start + TBUF_AGE_NS < start)
			k++;
		if (!k && b->n >= TBUF_MAX) {
			k = b->n / 2;
			a->lost_stacks += k;
		}
		tbuf_drop(b, k);
		if (b->n == b->cap &&
		    !grow((void **)&b->ev, &b->cap, b->n + 1, sizeof(*b->ev))) {
			a->lost_stacks++;
			return -ENOMEM;
		}
	}
	id = stacks_add(&a->stacks, f, n);
	if (id < 0) {
		a->lost_stacks++;
		return -ENOMEM;
	}
	b->ev[b->n++] = (struct tev){ .start = start, .ns = ns,
				      .stack = (stack_id)id, .oncpu = oncpu };
	if (!oncpu)
		add_site(a, pid, (stack_id)id, ns);
	return 0;
}

static struct stall *stall_new(struct asyncrep *a, pid_t pid, pid_t tid,
			       unsigned long long start, unsigned long long ns,
			       unsigned long long off_ns,
			       unsigned long long preempt_ns)
{
	struct stall *st;

	if (a->nstalls >= MAX_STALLS ||
	    !grow((void **)&a->stalls, &a->cap_stalls, a->nstalls + 1,
		  sizeof(*a->stalls))) {
		a->lost_stalls++;
		return NULL;
	}
	st = &a->stalls[a->nstalls++];
	memset(st, 0, sizeof(*st));
	st->pid = pid;
	st->tid = tid;
	st->start = start;
	st->ns = ns;
	st->off_ns = off_ns;
	st->preempt_ns = preempt_ns < off_ns ? preempt_ns : off_ns;
	return st;
}

/* A buffered stack inside stall st: its time, and its frames to the
 * stall stacks (weights in microseconds). */
static void stall_take(struct asyncrep *a, struct stall *st,
		       const struct tev *e)
{
	const frame_id *f;
	uint32_t nf;
	size_t j;

	for (j = 0; j < st->n; j++)
		if (st->st[j].stack == e->stack)
			break;
	if (j == st->n) {
		if (st->n >= STALL_STACKS) {
			a->lost_other++;
			return;
		}
		st->st[st->n++] = (struct stall_stack){ .stack = e->stack };
	}
	if (e->oncpu) {
		st->st[j].cpu_ns += e->ns;
		st->ev_cpu_ns += e->ns;
	} else {
		st->st[j].off_ns += e->ns;
		st->ev_off_ns += e->ns;
	}
	f = stacks_get(&a->stacks, e->stack, &nf);
	if (profile_add(&a->stall_prof, f, nf, (e->ns + 500) / 1000, 1))
		a->lost_other++;
}

/* When a buffered stack happened: a sample's span may begin before the
 * iteration (the time since the CPU's previous tick) but its end lies
 * inside; an off-CPU interval begins inside. */
static unsigned long long tev_at(const struct tev *e)
{
	return e->oncpu ? e->start + e->ns : e->start;
}

int asyncrep__stall(struct asyncrep *a, const struct stall_event *e)
{
	pid_t pid = (pid_t)e->pid, tid = (pid_t)e->tid;
	unsigned long long start = e->start, ns = e->ns;
	struct tbuf *b = tbuf_get(a, tid, false);
	struct stall *st = stall_new(a, pid, tid, start, ns, e->off_ns,
				     e->preempt_ns);
	unsigned long long end = start + ns;
	size_t k = 0;

	if (st)
		st->began_before = e->flags & STALL_BEGAN_BEFORE;
	for (size_t i = 0; st && b && i < b->n; i++) {
		unsigned long long at = tev_at(&b->ev[i]);

		if (at > start && at <= end)
			stall_take(a, st, &b->ev[i]);
	}
	/* blocked time proper: off-CPU stacks that are not preemption */
	for (size_t j = 0; st && j < st->n; j++) {
		struct stack_info si;

		if (!st->st[j].off_ns)
			continue;
		async_stack_info(a, st->st[j].stack, &si);
		if (async_stack_blocking(a, &si))
			st->ev_block_ns += st->st[j].off_ns;
	}
	/* Everything up to the stall's end has been accounted for. */
	while (b && k < b->n && tev_at(&b->ev[k]) <= end)
		k++;
	if (b)
		tbuf_drop(b, k);
	return st ? 0 : -ENOMEM;
}

int asyncrep__loop(struct asyncrep *a, pid_t tid, const char *comm,
		   const struct loop_state *ls)
{
	struct loop *l;

	if (!ls->iters)
		return 0; /* polled once, never came back */
	if (a->nloops >= MAX_LOOPS ||
	    !grow((void **)&a->loops, &a->cap_loops, a->nloops + 1,
		  sizeof(*a->loops))) {
		a->lost_other++;
		return 0;
	}
	l = &a->loops[a->nloops++];
	memset(l, 0, sizeof(*l));
	l->pid = ls->pid;
	l->tid = tid;
	snprintf(l->comm, sizeof(l->comm), "%s", comm ? comm : "?");
	l->ls = *ls;
	return 0;
}

/* ---- task steps and resumes ---- */

int asyncrep__step(struct asyncrep *a, pid_t pid, unsigned long long coro,
		   frame_id code, unsigned long long ns, int result)
{
	struct asyncrep_step st = { .pid = pid, .coro = coro, .code = code,
				    .ns = ns, .result = result };

	return asyncrep__step_at(a, &st);
}

int asyncrep__step_at(struct asyncrep *a, const struct asyncrep_step *st)
{
	struct rkey k = { .pid = st->pid, .k = { st->code } };
	frame_id code = st->code;
	unsigned long long ns = st->ns;
	struct dist *d;

	a->steps_seen++;
	if (code < a->ft->n)
		async_task_step(a, st);
	if (code >= a->ft->n || !(d = async_dist_get(&a->steps, &k))) {
		a->lost_other++;
		return -ENOMEM;
	}
	async_dist_add(a, d, ns);
	return 0;
}

/*
 * Two consecutive suspensions of one task: where their chains first
 * differ, is it one coroutine awaiting at two lines, the second below the
 * first (not a loop going round)? Then that is a pair of sequential awaits.
 */
static void note_pair(struct asyncrep *a, pid_t pid, stack_id c1,
		      unsigned long long ns1, stack_id c2,
		      unsigned long long ns2)
{
	uint32_t n1, n2;
	const frame_id *f1 = stacks_get(&a->chains, c1, &n1);
	const frame_id *f2 = stacks_get(&a->chains, c2, &n2);

	for (uint32_t i = 0; i < n1 && i < n2; i++) {
		const struct frame *p1, *p2;
		const char *file;
		struct rkey k = { .pid = pid };
		struct dist *d;

		if (f1[i] == f2[i])
			continue;
		p1 = frames_get(a->ft, f1[i]);
		p2 = frames_get(a->ft, f2[i]);
		if (p1->kind != FRAME_PYTHON || p2->kind != FRAME_PYTHON ||
		    p1->name != p2->name || p1->file != p2->file ||
		    p2->line <= p1->line)
			return;
		/* the application's code only: a server's or framework's own
		 * sequential awaits are not the user's to change */
		file = frames_s(a->ft, p1->file);
		if (!file || frame_origin(file, strlen(file)) != ORIGIN_APP)
			return;
		k.k[0] = p1->name;
		k.k[1] = p1->file;
		k.k[2] = (uint32_t)p1->line;
		k.k[3] = (uint32_t)p2->line;
		d = async_dist_get(&a->pairs, &k);
		if (!d) {
			a->lost_other++;
			return;
		}
		async_dist_add(a, d, ns1);
		d->total_b_ns += ns2;
		return;
	}
}

int asyncrep__resume(struct asyncrep *a, pid_t pid, unsigned long long coro,
		     const frame_id *chain, uint32_t n, unsigned long long ns)
{
	return asyncrep__resume_at(a, pid, coro, chain, n, ns, 0);
}

int asyncrep__resume_at(struct asyncrep *a, pid_t pid, unsigned long long coro,
			const frame_id *chain, uint32_t n, unsigned long long ns,
			unsigned long long queued_ns)
{
	struct rkey k = { .pid = pid };
	struct task_slot *ts;
	struct dist *d;
	long id;

	a->resumes_seen++;
	id = n ? stacks_add(&a->chains, chain, n) : -EINVAL;
	if (id >= 0)
		k.k[0] = (uint32_t)id;
	if (id < 0 || !(d = async_dist_get(&a->awaits, &k))) {
		a->lost_other++;
		return -ENOMEM;
	}
	async_dist_add(a, d, ns);
	async_task_resume(a, pid, coro, (stack_id)id, ns, queued_ns);

	if (!a->tasks && !(a->tasks = calloc(TASKS, sizeof(*a->tasks))))
		return -ENOMEM;
	ts = &a->tasks[((coro >> 4) ^ (unsigned long long)pid * 0x9e3779b1ULL) % TASKS];
	if (ts->chain && ts->coro == coro && ts->pid == pid)
		note_pair(a, pid, ts->chain - 1, ts->ns, (stack_id)id, ns);
	/* a slot shared by two tasks just forgets the older one */
	*ts = (struct task_slot){ .coro = coro, .pid = pid,
				  .chain = (uint32_t)id + 1, .ns = ns };
	return 0;
}

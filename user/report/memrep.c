// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph mem's report. Everything here comes from the target (stack
 * texts name its files and functions) or from the kernel; nothing is
 * trusted to be short, sorted or well-formed, and every table is bounded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/intern.h"
#include "model/json.h"
#include "report/memrep.h"
#include "core/profiler.h"

#define MAX_PROCS 4096
#define MAX_STACKS 200000  /* distinct growth stacks kept; beyond, folded */
#define MAX_INTERVALS 4096 /* longer runs fold the tail into the last */
#define MAX_RSS 8192	   /* readings kept per process; then every other */
#define GC_GENS 3
#define GC_BUCKETS 32 /* log2 microseconds */
#define GC_KEEP 65536 /* pauses kept per generation for percentiles */
#define TOP 10
/* Tracked allocations held at once (mem --live) unless set; beyond, not
 * itemised. */
#define MAX_LIVE (1 << 20)

struct gc_gen {
	unsigned long long count, sum_ns, max_ns, collected;
	unsigned long long hist[GC_BUCKETS];
	unsigned long long *ns; /* first GC_KEEP pauses */
	size_t n, cap;
	size_t sorted; /* ns[0..sorted) is in order (pct sorts once) */
};

struct mproc {
	pid_t pid;
	char *label, *version;
	int probes;
	struct {
		unsigned long long t;
		long long bytes;
	} *rss;
	size_t nrss, cap_rss, rss_every, rss_skip;
	long long first_rss, last_rss, peak_rss;
	long long grown, returned;
	struct gc_gen gen[GC_GENS];
	unsigned long long gc_other; /* generations beyond GC_GENS */
	struct stackagg *gc_stacks;  /* stacks that set collections off */
};

struct mstack {
	char *stack;
	unsigned long long hash;
	pid_t pid;
	long long net, grown, returned;
	long long *iv; /* net per interval */
	size_t niv;
	/* --live: bytes its tracked allocations hold, allocated, freed, and
	 * the change of what they hold per interval */
	long long live, lalloc, lfreed;
	long long *liv;
	size_t nliv;
};

/* A tracked allocation (--live), in an open-addressing table. */
struct lentry {
	unsigned long long addr;
	pid_t pid;
	bool used;
	const char *stack; /* the mstack's string (stable), NULL: not itemised */
	unsigned long long hash; /* of the stack, to find its mstack */
	long long bytes;
};

struct memrep {
	unsigned long long interval_ns, start_ns, alloc_period;
	double seconds;
	struct mproc *procs;
	size_t nprocs;
	struct mstack *tab;
	size_t cap, n;
	long long folded; /* growth of stacks beyond MAX_STACKS */
	struct stackagg *alloc;
	unsigned long long changes, no_stack, lost_changes, lost_gc, lost_alloc;
	struct stackagg *growth_out;
	/* --live */
	unsigned long long live_min;
	size_t live_max;
	struct lentry *ltab;
	size_t lcap, ln;
	long long live_folded;	   /* held by stacks beyond MAX_STACKS */
	unsigned long long loverflow; /* allocations beyond MAX_LIVE */
	unsigned long long ltracked, lfull, llost, lfree_lost;
	struct stackagg *live_out;
};

struct memrep *memrep__new(unsigned long long interval_ns,
			   unsigned long long start_ns)
{
	struct memrep *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->interval_ns = interval_ns ? interval_ns : 1000000000ULL;
	m->start_ns = start_ns;
	m->alloc = stackagg__new();
	if (!m->alloc) {
		free(m);
		return NULL;
	}
	return m;
}

void memrep__free(struct memrep *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nprocs; i++) {
		struct mproc *p = &m->procs[i];

		free(p->label);
		free(p->version);
		free(p->rss);
		for (int g = 0; g < GC_GENS; g++)
			free(p->gen[g].ns);
		stackagg__free(p->gc_stacks);
	}
	free(m->procs);
	for (size_t i = 0; i < m->cap; i++) {
		free(m->tab[i].stack);
		free(m->tab[i].iv);
		free(m->tab[i].liv);
	}
	free(m->tab);
	free(m->ltab);
	stackagg__free(m->alloc);
	stackagg__free(m->growth_out);
	stackagg__free(m->live_out);
	free(m);
}

static struct mproc *proc_get(struct memrep *m, pid_t pid, bool add)
{
	struct mproc *n;

	for (size_t i = 0; i < m->nprocs; i++)
		if (m->procs[i].pid == pid)
			return &m->procs[i];
	if (!add || m->nprocs >= MAX_PROCS)
		return NULL;
	n = realloc(m->procs, (m->nprocs + 1) * sizeof(*n));
	if (!n)
		return NULL;
	m->procs = n;
	n = &m->procs[m->nprocs++];
	memset(n, 0, sizeof(*n));
	n->pid = pid;
	n->rss_every = 1;
	n->first_rss = -1;
	return n;
}

void memrep__proc(struct memrep *m, pid_t pid, const char *label,
		  const char *version, int probes)
{
	struct mproc *p = proc_get(m, pid, true);

	if (!p)
		return;
	free(p->label);
	free(p->version);
	p->label = strdup(label ? label : "");
	p->version = strdup(version ? version : "");
	p->probes = probes;
}

void memrep__rss(struct memrep *m, pid_t pid, unsigned long long mono_ns,
		 long long bytes)
{
	struct mproc *p = proc_get(m, pid, false);

	if (!p || bytes < 0)
		return;
	if (p->first_rss < 0)
		p->first_rss = bytes;
	p->last_rss = bytes;
	if (bytes > p->peak_rss)
		p->peak_rss = bytes;
	if (p->rss_skip++ % p->rss_every)
		return;
	if (p->nrss == MAX_RSS) {
		/* keep every other reading, and from now on every other one */
		for (size_t i = 0; i < MAX_RSS / 2; i++)
			p->rss[i] = p->rss[2 * i];
		p->nrss = MAX_RSS / 2;
		p->rss_every *= 2;
	}
	if (p->nrss == p->cap_rss) {
		size_t cap = p->cap_rss ? 2 * p->cap_rss : 64;
		void *n = realloc(p->rss, cap * sizeof(*p->rss));

		if (!n)
			return;
		p->rss = n;
		p->cap_rss = cap;
	}
	p->rss[p->nrss].t = mono_ns;
	p->rss[p->nrss].bytes = bytes;
	p->nrss++;
}

static unsigned long long fnv1a(const char *s)
{
	unsigned long long h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static int grow_tab(struct memrep *m)
{
	size_t ncap = m->cap ? 2 * m->cap : 1024;
	struct mstack *nt = calloc(ncap, sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->tab[i].stack)
			continue;
		j = m->tab[i].hash & (ncap - 1);
		while (nt[j].stack)
			j = (j + 1) & (ncap - 1);
		nt[j] = m->tab[i];
	}
	free(m->tab);
	m->tab = nt;
	m->cap = ncap;
	return 0;
}

static struct mstack *stack_get(struct memrep *m, pid_t pid, const char *stack)
{
	unsigned long long h = fnv1a(stack);
	size_t i;

	if ((m->n + 1) * 10 > m->cap * 7 && (m->n >= MAX_STACKS || grow_tab(m)))
		return NULL;
	i = h & (m->cap - 1);
	while (m->tab[i].stack) {
		if (m->tab[i].hash == h && !strcmp(m->tab[i].stack, stack))
			return &m->tab[i];
		i = (i + 1) & (m->cap - 1);
	}
	m->tab[i].stack = strdup(stack);
	if (!m->tab[i].stack)
		return NULL;
	m->tab[i].hash = h;
	m->tab[i].pid = pid;
	m->n++;
	return &m->tab[i];
}

static size_t interval_of(const struct memrep *m, unsigned long long t)
{
	unsigned long long k = t > m->start_ns ? (t - m->start_ns) / m->interval_ns : 0;

	return k >= MAX_INTERVALS ? MAX_INTERVALS - 1 : (size_t)k;
}

/* Adds bytes to (*iv)[k], growing the array to k + 1. */
static void iv_add(long long **iv, size_t *n, size_t k, long long bytes)
{
	if (k >= *n) {
		long long *v = realloc(*iv, (k + 1) * sizeof(*v));

		if (!v)
			return;
		memset(v + *n, 0, (k + 1 - *n) * sizeof(*v));
		*iv = v;
		*n = k + 1;
	}
	(*iv)[k] += bytes;
}

void memrep__growth(struct memrep *m, pid_t pid, const char *stack,
		    long long bytes, unsigned long long mono_ns)
{
	struct mproc *p = proc_get(m, pid, false);
	struct mstack *s;
	size_t k;

	if (!p || !bytes)
		return;
	if (bytes > 0)
		p->grown += bytes;
	else
		p->returned -= bytes;
	s = stack_get(m, pid, stack);
	if (!s) {
		m->folded += bytes;
		return;
	}
	s->net += bytes;
	if (bytes > 0)
		s->grown += bytes;
	else
		s->returned -= bytes;
	k = interval_of(m, mono_ns);
	iv_add(&s->iv, &s->niv, k, bytes);
}

static unsigned int log2_bucket(unsigned long long us)
{
	unsigned int b = 0;

	while (us > 1 && b < GC_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	return b;
}

void memrep__gc(struct memrep *m, pid_t pid, const char *stack, int gen,
		unsigned long long ns, long long collected)
{
	struct mproc *p = proc_get(m, pid, false);
	struct gc_gen *g;

	if (!p)
		return;
	if (gen < 0 || gen >= GC_GENS) {
		p->gc_other++;
		return;
	}
	g = &p->gen[gen];
	g->count++;
	g->sum_ns += ns;
	if (ns > g->max_ns)
		g->max_ns = ns;
	if (collected > 0)
		g->collected += collected;
	g->hist[log2_bucket(ns / 1000)]++;
	if (g->n == g->cap && g->cap < GC_KEEP) {
		size_t cap = g->cap ? 2 * g->cap : 64;
		unsigned long long *n = realloc(g->ns, cap * sizeof(*n));

		if (n) {
			g->ns = n;
			g->cap = cap;
		}
	}
	if (g->n < g->cap)
		g->ns[g->n++] = ns;
	if (!p->gc_stacks)
		p->gc_stacks = stackagg__new();
	if (p->gc_stacks)
		stackagg__add(p->gc_stacks, stack, 1);
}

void memrep__alloc(struct memrep *m, pid_t pid, const char *stack,
		   unsigned long long bytes)
{
	(void)pid;
	stackagg__add(m->alloc, stack, bytes);
}

/* ---- live tracking (--live) ---- */

static unsigned long long lhash(pid_t pid, unsigned long long addr)
{
	unsigned long long x = addr ^ ((unsigned long long)(unsigned int)pid << 47);

	/* splitmix64's finaliser: allocator addresses share their low bits */
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static struct lentry *lfind(struct memrep *m, pid_t pid, unsigned long long addr)
{
	size_t i;

	if (!m->lcap)
		return NULL;
	for (i = lhash(pid, addr) & (m->lcap - 1); m->ltab[i].used;
	     i = (i + 1) & (m->lcap - 1))
		if (m->ltab[i].addr == addr && m->ltab[i].pid == pid)
			return &m->ltab[i];
	return NULL;
}

/* Removes e, shifting later entries of its probe run back (no tombstones). */
static void ldel(struct memrep *m, struct lentry *e)
{
	size_t i = e - m->ltab, j = i;

	for (;;) {
		size_t h;

		j = (j + 1) & (m->lcap - 1);
		if (!m->ltab[j].used)
			break;
		h = lhash(m->ltab[j].pid, m->ltab[j].addr) & (m->lcap - 1);
		/* j may fill the hole at i unless its home lies in (i, j] */
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		m->ltab[i] = m->ltab[j];
		i = j;
	}
	m->ltab[i].used = false;
	m->ln--;
}

static int lgrow(struct memrep *m)
{
	size_t ncap = m->lcap ? 2 * m->lcap : 4096;
	struct lentry *nt = calloc(ncap, sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	for (size_t i = 0; i < m->lcap; i++) {
		size_t j;

		if (!m->ltab[i].used)
			continue;
		j = lhash(m->ltab[i].pid, m->ltab[i].addr) & (ncap - 1);
		while (nt[j].used)
			j = (j + 1) & (ncap - 1);
		nt[j] = m->ltab[i];
	}
	free(m->ltab);
	m->ltab = nt;
	m->lcap = ncap;
	return 0;
}

/* The mstack whose string is stack (a pointer into the table). */
static struct mstack *stack_at(struct memrep *m, const char *stack,
			       unsigned long long hash)
{
	for (size_t i = hash & (m->cap - 1); m->tab[i].stack;
	     i = (i + 1) & (m->cap - 1))
		if (m->tab[i].stack == stack)
			return &m->tab[i];
	return NULL;
}

/* e's bytes are no longer held, as of mono_ns. */
static void lrelease(struct memrep *m, struct lentry *e, unsigned long long mono_ns)
{
	struct mstack *s = e->stack ? stack_at(m, e->stack, e->hash) : NULL;

	if (s) {
		s->live -= e->bytes;
		s->lfreed += e->bytes;
		iv_add(&s->liv, &s->nliv, interval_of(m, mono_ns), -e->bytes);
	} else {
		m->live_folded -= e->bytes;
	}
	ldel(m, e);
}

void memrep__live(struct memrep *m, pid_t pid, const char *stack,
		  unsigned long long addr, long long bytes,
		  unsigned long long mono_ns)
{
	struct mstack *s;
	struct lentry *e;
	size_t i;

	if (!proc_get(m, pid, false) || bytes <= 0 || !stack)
		return;
	e = lfind(m, pid, addr);
	if (e) /* its free was lost: it is gone now */
		lrelease(m, e, mono_ns);
	if (m->ln >= m->live_max ||
	    ((m->ln + 1) * 10 > m->lcap * 7 && lgrow(m))) {
		m->loverflow++;
		return;
	}
	s = stack_get(m, pid, stack);
	i = lhash(pid, addr) & (m->lcap - 1);
	while (m->ltab[i].used)
		i = (i + 1) & (m->lcap - 1);
	e = &m->ltab[i];
	*e = (struct lentry){ .addr = addr, .pid = pid, .used = true, .bytes = bytes };
	m->ln++;
	if (!s) {
		m->live_folded += bytes;
		return;
	}
	e->stack = s->stack;
	e->hash = s->hash;
	s->live += bytes;
	s->lalloc += bytes;
	iv_add(&s->liv, &s->nliv, interval_of(m, mono_ns), bytes);
}

void memrep__live_free(struct memrep *m, pid_t pid, unsigned long long addr,
		       unsigned long long mono_ns)
{
	struct lentry *e = lfind(m, pid, addr);

	if (e)
		lrelease(m, e, mono_ns);
}

void memrep__set_live(struct memrep *m, unsigned long long min_bytes,
		      size_t max_held)
{
	m->live_min = min_bytes;
	m->live_max = max_held && max_held < MAX_LIVE ? max_held : MAX_LIVE;
}

void memrep__live_counts(struct memrep *m, unsigned long long tracked,
			 unsigned long long map_full, unsigned long long lost,
			 unsigned long long frees_lost)
{
	m->ltracked = tracked;
	m->lfull = map_full;
	m->llost = lost;
	m->lfree_lost = frees_lost;
}

void memrep__counts(struct memrep *m, unsigned long long changes,
		    unsigned long long no_stack, unsigned long long lost_changes,
		    unsigned long long lost_gc, unsigned long long lost_alloc)
{
	m->changes = changes;
	m->no_stack = no_stack;
	m->lost_changes = lost_changes;
	m->lost_gc = lost_gc;
	m->lost_alloc = lost_alloc;
}

void memrep__set_alloc_period(struct memrep *m, unsigned long long bytes)
{
	m->alloc_period = bytes;
}

void memrep__set_duration(struct memrep *m, double seconds)
{
	m->seconds = seconds;
}

void memrep__set_start(struct memrep *m, unsigned long long start_ns)
{
	m->start_ns = start_ns;
}

/* ---- analysis ---- */

/* Intervals the run covered (the last one may be partial). */
static size_t nintervals(const struct memrep *m)
{
	double k = m->seconds * 1e9 / (double)m->interval_ns;
	/* a tail under a tenth of an interval (the end of -d) is not one */
	size_t n = k > 0 ? (size_t)floor(k + 0.9) : 1;

	return n < 1 ? 1 : n > MAX_INTERVALS ? MAX_INTERVALS : n;
}

/* Intervals in which iv grew, and those from its first growth on. */
static void iv_intervals(const struct memrep *m, const long long *iv, size_t niv,
			 size_t *grew, size_t *since)
{
	size_t first = SIZE_MAX, n = nintervals(m);

	*grew = 0;
	for (size_t k = 0; k < niv && k < n; k++) {
		if (iv[k] > 0) {
			(*grew)++;
			if (first == SIZE_MAX)
				first = k;
		}
	}
	*since = first == SIZE_MAX ? 0 : n - first;
}

/* Those of s's resident growth, or with live tracking of s's tracked
 * allocations if it made any. */
static bool by_live(const struct memrep *m, const struct mstack *s)
{
	return m->live_min && s->lalloc > 0;
}

static void growth_intervals(const struct memrep *m, const struct mstack *s,
			     size_t *grew, size_t *since)
{
	if (by_live(m, s))
		iv_intervals(m, s->liv, s->nliv, grew, since);
	else
		iv_intervals(m, s->iv, s->niv, grew, since);
}

/*
 * A leak candidate keeps growing: it grew in at least
 * MEMREP_LEAK_MIN_INTERVALS intervals and in at least two thirds of the
 * intervals since it first grew, and gave back less than a quarter of what
 * it took. A cache that fills and is trimmed gives back; a buffer reused
 * after its first use grows once.
 *
 * With live tracking, a stack whose large allocations were tracked is
 * judged by what they hold, not by the pages it touched first: a function
 * that frees what it allocates is no leak even when the C heap makes it
 * the one that extends the heap, and one that keeps memory is a leak even
 * when it keeps blocks another function touched first. Stacks with no
 * tracked allocation (leaks of small objects) keep the resident rule.
 */
static bool is_leak(const struct memrep *m, const struct mstack *s)
{
	size_t grew, since;

	if (by_live(m, s)) {
		if (s->live <= 0 || s->lfreed * 4 > s->lalloc)
			return false;
	} else if (s->net <= 0 || s->returned * 4 > s->grown) {
		return false;
	}
	growth_intervals(m, s, &grew, &since);
	return grew >= MEMREP_LEAK_MIN_INTERVALS && 3 * grew >= 2 * since;
}

/* What a leak candidate is measured by: bytes held, or net growth. */
static long long leak_bytes(const struct memrep *m, const struct mstack *s)
{
	return by_live(m, s) ? s->live : s->net;
}

/* The last frame of a folded stack. */
static const char *leaf_of(const char *stack)
{
	const char *semi = strrchr(stack, ';');

	return semi ? semi + 1 : stack;
}

/* The stack without its root frame (the process). */
static const char *below_root(const char *stack)
{
	const char *semi = strchr(stack, ';');

	return semi ? semi + 1 : stack;
}

struct site {
	const char *leaf; /* points into a stack string */
	size_t len;
	pid_t pid;
	long long net, grown, returned;
	size_t grew, since;
	bool leak;
	long long live, lalloc, lfreed; /* --live */
	size_t lgrew;
};

static int cmp_site(const void *a, const void *b)
{
	const struct site *x = a, *y = b;

	return x->net < y->net ? 1 : x->net > y->net ? -1 : 0;
}

static int cmp_site_live(const void *a, const void *b)
{
	const struct site *x = a, *y = b;

	return x->live < y->live ? 1 : x->live > y->live ? -1 :
	       x->lalloc < y->lalloc ? 1 : x->lalloc > y->lalloc ? -1 : 0;
}

/* The sites that made tracked allocations, by bytes held (a copy). */
static struct site *live_sites(const struct site *v, size_t n, size_t *nout)
{
	struct site *l = calloc(n ? n : 1, sizeof(*l));

	*nout = 0;
	if (!l)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (v[i].lalloc > 0)
			l[(*nout)++] = v[i];
	qsort(l, *nout, sizeof(*l), cmp_site_live);
	return l;
}

/* Growth summed by leaf frame (function and file:line) per process. */
static struct site *sites_by_leaf(const struct memrep *m, size_t *nout)
{
	struct site *v = calloc(m->n ? m->n : 1, sizeof(*v));
	struct intern ids = { 0 };
	char key[64 + 1024];

	*nout = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < m->cap; i++) {
		const struct mstack *s = &m->tab[i];
		const char *leaf;
		size_t grew, since;
		long k;
		int len;

		if (!s->stack)
			continue;
		leaf = leaf_of(s->stack);
		len = snprintf(key, sizeof(key), "%d;%s", s->pid, leaf);

		/* a frame longer than the key is told apart by its first KiB */
		if (len < 0)
			continue;
		k = intern_id(&ids, key, (size_t)len < sizeof(key) ? (size_t)len : sizeof(key) - 1);
		if (k < 0 || (size_t)k >= m->n)
			continue;
		if (!v[k].leaf) {
			v[k].leaf = leaf;
			v[k].len = strlen(leaf);
			v[k].pid = s->pid;
		}
		v[k].net += s->net;
		v[k].grown += s->grown;
		v[k].returned += s->returned;
		v[k].live += s->live;
		v[k].lalloc += s->lalloc;
		v[k].lfreed += s->lfreed;
		iv_intervals(m, s->liv, s->nliv, &grew, &since);
		if (grew > v[k].lgrew)
			v[k].lgrew = grew;
		iv_intervals(m, s->iv, s->niv, &grew, &since);
		if (grew > v[k].grew)
			v[k].grew = grew;
		if (since > v[k].since)
			v[k].since = since;
		v[k].leak |= is_leak(m, s);
	}
	*nout = ids.n;
	intern_free(&ids);
	qsort(v, *nout, sizeof(*v), cmp_site);
	return v;
}


#define INTERVALS_SHOWN 100 /* the last ones, in the per-interval view */
#define PER_INTERVAL 3

static long long iv_at(const struct mstack *s, size_t k, bool live)
{
	if (live)
		return k < s->nliv ? s->liv[k] : 0;
	return k < s->niv ? s->iv[k] : 0;
}

/* The stacks that grew most in interval k (at most PER_INTERVAL): in
 * resident memory, or (live) in what their tracked allocations hold. */
static size_t top_in_interval(const struct memrep *m, size_t k, bool live,
			      const struct mstack **out)
{
	size_t n = 0;

	for (size_t i = 0; i < m->cap; i++) {
		const struct mstack *s = &m->tab[i];
		long long b;
		size_t j;

		if (!s->stack || (b = iv_at(s, k, live)) <= 0)
			continue;
		if (n == PER_INTERVAL && b <= iv_at(out[n - 1], k, live))
			continue;
		j = n < PER_INTERVAL ? n++ : n - 1;
		while (j > 0 && iv_at(out[j - 1], k, live) < b) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = s;
	}
	return n;
}

/* The process's RSS at the last reading at or before t (-1: none). */
static long long rss_at(const struct mproc *p, unsigned long long t)
{
	long long v = -1;

	for (size_t i = 0; i < p->nrss && p->rss[i].t <= t; i++)
		v = p->rss[i].bytes;
	return v;
}

static void bytes_str(long long b, char *buf, size_t len, bool sign);

static void write_intervals(const struct memrep *m, FILE *f)
{
	size_t n = nintervals(m), first = n > INTERVALS_SHOWN ? n - INTERVALS_SHOWN : 0;
	const struct mstack *top[PER_INTERVAL];
	char a[32], b[32];

	fprintf(f, "\nGrowth by interval (RSS change of each process; the stacks that grew most)%s\n",
		first ? " -- the last 100" : "");
	for (size_t k = first; k < n; k++) {
		unsigned long long t0 = m->start_ns + k * m->interval_ns;
		size_t nt = top_in_interval(m, k, false, top);

		fprintf(f, "  %7.1f-%-7.1f s", k * m->interval_ns / 1e9,
			(k + 1) * m->interval_ns / 1e9);
		for (size_t i = 0; i < m->nprocs && i < 4; i++) {
			long long r0 = rss_at(&m->procs[i], t0);
			long long r1 = rss_at(&m->procs[i], t0 + m->interval_ns);

			if (r0 < 0 || r1 < 0)
				continue;
			bytes_str(r1 - r0, a, sizeof(a), true);
			fprintf(f, "  RSS %s (%d)", a, m->procs[i].pid);
		}
		fputc('\n', f);
		for (size_t i = 0; i < nt; i++) {
			bytes_str(top[i]->iv[k], b, sizeof(b), true);
			fprintf(f, "      %10s  %s\n", b, leaf_of(top[i]->stack));
		}
		nt = m->live_min ? top_in_interval(m, k, true, top) : 0;
		for (size_t i = 0; i < nt; i++) {
			bytes_str(top[i]->liv[k], b, sizeof(b), true);
			fprintf(f, "      %10s  %s  (held)\n", b, leaf_of(top[i]->stack));
		}
	}
}

struct leak_ref {
	long long bytes; /* leak_bytes() */
	const struct mstack *s;
};

static int cmp_leak(const void *a, const void *b)
{
	const struct leak_ref *x = a, *y = b;

	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

/* Leak-candidate stacks, largest first. */
static const struct mstack **leaks(const struct memrep *m, size_t *nout)
{
	const struct mstack **v = calloc(m->n ? m->n : 1, sizeof(*v));
	struct leak_ref *r = calloc(m->n ? m->n : 1, sizeof(*r));
	size_t n = 0;

	*nout = 0;
	if (!v || !r) {
		free(v);
		free(r);
		return NULL;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->tab[i].stack && is_leak(m, &m->tab[i]))
			r[n++] = (struct leak_ref){ leak_bytes(m, &m->tab[i]), &m->tab[i] };
	qsort(r, n, sizeof(*r), cmp_leak);
	for (size_t i = 0; i < n; i++)
		v[i] = r[i].s;
	free(r);
	*nout = n;
	return v;
}

static void bytes_str(long long b, char *buf, size_t len, bool sign)
{
	double a = (double)(b < 0 ? -b : b);
	const char *s = b < 0 ? "-" : sign ? "+" : "";

	if (a >= 1024.0 * 1024 * 1024)
		snprintf(buf, len, "%s%.1f GiB", s, a / (1024.0 * 1024 * 1024));
	else if (a >= 1024.0 * 1024)
		snprintf(buf, len, "%s%.1f MiB", s, a / (1024.0 * 1024));
	else if (a >= 1024.0)
		snprintf(buf, len, "%s%.0f KiB", s, a / 1024.0);
	else
		snprintf(buf, len, "%s%lld B", s, (long long)a);
}

static void dur_str(unsigned long long ns, char *buf, size_t len)
{
	if (ns >= 1000000000ULL)
		snprintf(buf, len, "%.2f s", ns / 1e9);
	else if (ns >= 1000000ULL)
		snprintf(buf, len, "%.1f ms", ns / 1e6);
	else
		snprintf(buf, len, "%.0f us", ns / 1e3);
}

static int cmp_ull(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a;
	unsigned long long y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

/* The indices of the k largest counts of sc, largest first; returns how many. */
static size_t top_counts(const struct stack_count *sc, size_t n, size_t *idx, size_t k)
{
	size_t got = 0;

	for (size_t i = 0; sc && i < n; i++) {
		size_t j;

		if (!sc[i].count || (got == k && sc[i].count <= sc[idx[got - 1]].count))
			continue;
		j = got < k ? got++ : got - 1;
		while (j > 0 && sc[idx[j - 1]].count < sc[i].count) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = i;
	}
	return got;
}

/* Nearest-rank percentile of the kept pauses (sorted in place). */
static unsigned long long pct(struct gc_gen *g, double q)
{
	size_t i;

	if (!g->n)
		return 0;
	if (g->sorted != g->n) {
		qsort(g->ns, g->n, sizeof(*g->ns), cmp_ull);
		g->sorted = g->n;
	}
	i = (size_t)ceil(q * g->n);
	return g->ns[i ? i - 1 : 0];
}

/* RSS readings as a one-line sparkline of at most width cells. */
static void sparkline(FILE *f, const struct mproc *p, size_t width)
{
	static const char *const bars[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
	long long lo = LLONG_MAX, hi = 0;
	size_t cells = p->nrss < width ? p->nrss : width;

	for (size_t i = 0; i < p->nrss; i++) {
		if (p->rss[i].bytes < lo)
			lo = p->rss[i].bytes;
		if (p->rss[i].bytes > hi)
			hi = p->rss[i].bytes;
	}
	for (size_t c = 0; c < cells; c++) {
		/* the highest reading of the cell's share of readings */
		size_t a = c * p->nrss / cells, b = (c + 1) * p->nrss / cells;
		long long v = 0;
		int k;

		for (size_t i = a; i < b; i++)
			if (p->rss[i].bytes > v)
				v = p->rss[i].bytes;
		k = hi > lo ? (int)((v - lo) * 7 / (hi - lo)) : 0;
		fputs(bars[k < 0 ? 0 : k > 7 ? 7 : k], f);
	}
}

static const char *label_of(const struct memrep *m, pid_t pid)
{
	for (size_t i = 0; i < m->nprocs; i++)
		if (m->procs[i].pid == pid)
			return m->procs[i].label;
	return "?";
}

size_t memrep__proc_verdicts(struct memrep *m, struct memrep_proc_verdict *out, size_t max)
{
	size_t nsites = 0;
	struct site *sites = sites_by_leaf(m, &nsites);

	for (size_t i = 0; i < m->nprocs && i < max; i++) {
		struct mproc *p = &m->procs[i];
		struct memrep_proc_verdict *v = &out[i];
		long long best_live = 0;
		char held[32];

		memset(v, 0, sizeof(*v));
		v->pid = p->pid;
		v->label = p->label;
		v->rss_first = p->first_rss;
		v->rss_last = p->last_rss;
		v->max_gc_gen = -1;
		if (p->nrss >= 2 && p->rss[p->nrss - 1].t > p->rss[0].t + 1000000000ULL)
			v->rss_growth_per_min = (double)(p->rss[p->nrss - 1].bytes - p->rss[0].bytes) /
						(double)(p->rss[p->nrss - 1].t - p->rss[0].t) * 60e9;
		v->gc_probes = p->probes > 0 && (p->probes & PROFILER_MEM_GC);
		for (int g = 0; g < GC_GENS; g++) {
			if (p->gen[g].count && p->gen[g].max_ns / 1e6 >= v->max_gc_pause_ms) {
				v->max_gc_pause_ms = p->gen[g].max_ns / 1e6;
				v->max_gc_gen = g;
			}
		}
		if (p->gc_stacks) {
			size_t ns;
			const struct stack_count *sc = stackagg__sorted(p->gc_stacks, &ns);
			size_t best;

			if (top_counts(sc, ns, &best, 1))
				snprintf(v->gc_where, sizeof(v->gc_where), "%s", leaf_of(sc[best].stack));
		}
		/* live: the site holding most, if it is a leak candidate */
		for (size_t k = 0; m->live_min && sites && k < nsites; k++) {
			if (sites[k].pid != p->pid || !sites[k].leak || sites[k].live <= 0 ||
			    (v->growth_where[0] && sites[k].live <= best_live))
				continue;
			best_live = sites[k].live;
			bytes_str(sites[k].live, held, sizeof(held), false);
			snprintf(v->growth_where, sizeof(v->growth_where),
				 "%.*s (leak candidate), holding %s",
				 (int)(sites[k].len < 400 ? sites[k].len : 400), sites[k].leaf,
				 held);
		}
		/* sites are sorted by net growth: the first of this process */
		for (size_t k = 0; sites && !v->growth_where[0] && k < nsites; k++) {
			if (sites[k].pid != p->pid || sites[k].net <= 0)
				continue;
			snprintf(v->growth_where, sizeof(v->growth_where), "%.*s%s",
				 (int)(sites[k].len < 400 ? sites[k].len : 400), sites[k].leaf,
				 sites[k].leak ? " (leak candidate)" : "");
			break;
		}
	}
	free(sites);
	return m->nprocs;
}

/* --live: bytes held by function, the answer to "who keeps memory". */
static void write_live(const struct memrep *m, FILE *f, const struct site *sites,
		       size_t nsites, size_t n)
{
	size_t nl = 0;
	struct site *l = live_sites(sites, nsites, &nl);
	char a[32], b[32], c[32];

	bytes_str(m->live_min, a, sizeof(a), false);
	fprintf(f, "\nHeld by function (C allocations of %s or more not freed, by the stack that made them; top %d)\n",
		a, TOP);
	if (!nl)
		fprintf(f, "  (no tracked allocations)\n");
	else
		fprintf(f, "  %10s %10s %10s  %9s  %s\n", "held", "allocated", "freed",
			"intervals", "function (file:line)  [process]");
	for (size_t i = 0; l && i < nl && i < TOP; i++) {
		bytes_str(l[i].live, a, sizeof(a), false);
		bytes_str(l[i].lalloc, b, sizeof(b), false);
		bytes_str(l[i].lfreed, c, sizeof(c), false);
		fprintf(f, "  %10s %10s %10s  %4zu/%-4zu  %.*s  [%s]%s\n", a, b, c,
			l[i].lgrew, n, (int)l[i].len, l[i].leaf, label_of(m, l[i].pid),
			l[i].leak ? "  LEAK CANDIDATE" : "");
	}
	free(l);
}

int memrep__write_text(struct memrep *m, FILE *f)
{
	size_t nsites = 0, nleaks = 0, n = nintervals(m), nrss = 0;
	struct site *sites = sites_by_leaf(m, &nsites);
	const struct mstack **lk = leaks(m, &nleaks);
	char a[32], b[32], c[32], d[32];

	fprintf(f, "pyrograph mem: %.1f s, %zu Python process%s, %zu interval%s of %.1f s\n",
		m->seconds, m->nprocs, m->nprocs == 1 ? "" : "es", n,
		n == 1 ? "" : "s", m->interval_ns / 1e9);
	for (size_t i = 0; i < m->nprocs; i++) {
		struct mproc *p = &m->procs[i];

		fprintf(f, "\n%s  Python %s\n", p->label, p->version);
		if (p->first_rss >= 0) {
			bytes_str(p->first_rss, a, sizeof(a), false);
			bytes_str(p->last_rss, b, sizeof(b), false);
			bytes_str(p->last_rss - p->first_rss, c, sizeof(c), true);
			bytes_str(p->peak_rss, d, sizeof(d), false);
			fprintf(f, "  RSS %s -> %s (%s), peak %s  ", a, b, c, d);
			sparkline(f, p, 60);
			fputc('\n', f);
		}
		bytes_str(p->grown, a, sizeof(a), false);
		bytes_str(p->returned, b, sizeof(b), false);
		bytes_str(p->grown - p->returned, c, sizeof(c), true);
		fprintf(f, "  resident memory gained %s, returned %s, net %s\n", a, b, c);
		if (m->live_min && (p->probes < 0 || !(p->probes & PROFILER_MEM_LIVE)))
			fprintf(f, "  its allocations are not tracked: no probes on its C allocator (-v says why)\n");
	}
	if (m->live_min)
		write_live(m, f, sites, nsites, n);
	fprintf(f, "\nGrowth by function (net resident bytes gained where the pages were first touched; top %d)\n",
		TOP);
	/* sites known only from tracked allocations (--live) touched nothing */
	for (size_t i = 0; i < nsites; i++)
		nrss += sites[i].grown || sites[i].returned;
	if (!nrss)
		fprintf(f, "  (no growth seen)\n");
	else
		fprintf(f, "  %10s %10s %10s  %9s  %s\n", "net", "gained", "returned",
			"intervals", "function (file:line)  [process]");
	for (size_t i = 0, shown = 0; i < nsites && shown < TOP; i++) {
		if (!sites[i].grown && !sites[i].returned)
			continue;
		shown++;
		bytes_str(sites[i].net, a, sizeof(a), true);
		bytes_str(sites[i].grown, b, sizeof(b), false);
		bytes_str(sites[i].returned, c, sizeof(c), false);
		fprintf(f, "  %10s %10s %10s  %4zu/%-4zu  %.*s  [%s]%s\n", a, b, c,
			sites[i].grew, n, (int)sites[i].len, sites[i].leaf,
			label_of(m, sites[i].pid), sites[i].leak ? "  LEAK CANDIDATE" : "");
	}
	write_intervals(m, f);
	fprintf(f, "\nLeak candidates (grew in at least %d intervals and in 2 of every 3 since it began, kept 3/4 or more%s)\n",
		MEMREP_LEAK_MIN_INTERVALS,
		m->live_min ? "; of the bytes held, for stacks with tracked allocations" : "");
	if (!nleaks)
		fprintf(f, "  none\n");
	for (size_t i = 0; i < nleaks && i < TOP; i++) {
		size_t grew, since;

		growth_intervals(m, lk[i], &grew, &since);
		bytes_str(leak_bytes(m, lk[i]), a, sizeof(a), !by_live(m, lk[i]));
		fprintf(f, "  %s in %s: %s%s, grew in %zu of %zu intervals\n",
			leaf_of(lk[i]->stack), label_of(m, lk[i]->pid), a,
			by_live(m, lk[i]) ? " held" : "", grew, since);
		fprintf(f, "    stack: %s\n", below_root(lk[i]->stack));
	}
	/* first touch is not keeping: say how to tell them apart */
	if (nleaks && !m->live_min)
		fprintf(f, "  (charged where pages were first touched; the C allocator may have handed\n"
			   "   another function's freed memory to the one that keeps it: `mem --live -p PID`\n"
			   "   shows which function holds the memory)\n");
	fprintf(f, "\nGarbage collections\n");
	for (size_t i = 0; i < m->nprocs; i++) {
		struct mproc *p = &m->procs[i];
		unsigned long long total = 0;

		for (int g = 0; g < GC_GENS; g++)
			total += p->gen[g].count;
		if (p->probes < 0) {
			fprintf(f, "  %s: no GC probes: they could not be placed (the warning above, or -v, says why)\n",
				p->label);
			continue;
		}
		if (!(p->probes & PROFILER_MEM_GC)) {
			fprintf(f, "  %s: no GC probes in this build (CPython's gc__start/gc__done USDT probes need a --with-dtrace build, such as Debian's)\n",
				p->label);
			continue;
		}
		if (!total) {
			fprintf(f, "  %s: no collections\n", p->label);
			continue;
		}
		fprintf(f, "  %s:\n    %3s %8s %10s %10s %10s %10s %10s\n", p->label,
			"gen", "count", "total", "p50", "p95", "max", "collected");
		for (int g = 0; g < GC_GENS; g++) {
			struct gc_gen *gg = &p->gen[g];

			if (!gg->count)
				continue;
			dur_str(gg->sum_ns, a, sizeof(a));
			dur_str(pct(gg, 0.5), b, sizeof(b));
			dur_str(pct(gg, 0.95), c, sizeof(c));
			dur_str(gg->max_ns, d, sizeof(d));
			fprintf(f, "    %3d %8llu %10s %10s %10s %10s %10llu\n", g,
				gg->count, a, b, c, d, gg->collected);
		}
		for (int g = 0; g < GC_GENS; g++) {
			struct gc_gen *gg = &p->gen[g];
			unsigned long long mx = 0;

			if (!gg->count)
				continue;
			fprintf(f, "    gen %d pauses:\n", g);
			for (int k = 0; k < GC_BUCKETS; k++)
				if (gg->hist[k] > mx)
					mx = gg->hist[k];
			for (int k = 0; k < GC_BUCKETS; k++) {
				int w;

				if (!gg->hist[k])
					continue;
				w = (int)(gg->hist[k] * 40 / (mx ? mx : 1));
				fprintf(f, "      %8llu-%-8llu us %8llu |%.*s\n",
					k ? 1ULL << k : 0ULL, (1ULL << (k + 1)) - 1, gg->hist[k],
					w ? w : 1,
					"########################################");
			}
		}
		if (p->gc_stacks) {
			size_t ns;
			const struct stack_count *sc = stackagg__sorted(p->gc_stacks, &ns);
			size_t top[3], nt = top_counts(sc, ns, top, 3);

			fprintf(f, "    set off by (top 3):\n");
			for (size_t k = 0; k < nt; k++)
				fprintf(f, "      %6llu  %s\n", (unsigned long long)sc[top[k]].count,
					below_root(sc[top[k]].stack));
		}
	}
	if (m->alloc_period) {
		size_t na;
		const struct stack_count *sc = stackagg__sorted(m->alloc, &na);
		struct site *as = calloc(na ? na : 1, sizeof(*as));
		size_t nas = 0;
		unsigned long long tot = stackagg__total(m->alloc);
		struct intern ids = { 0 };

		bytes_str(m->alloc_period, a, sizeof(a), false);
		fprintf(f, "\nAllocations (sampled: one per %s allocated on average; top %d by bytes)\n",
			a, TOP);
		for (size_t i = 0; as && sc && i < na; i++) {
			const char *leaf = leaf_of(sc[i].stack);
			long k = intern_id(&ids, leaf, strlen(leaf));

			if (k < 0 || (size_t)k >= na)
				continue;
			as[k].leaf = leaf;
			as[k].len = strlen(leaf);
			as[k].net += (long long)sc[i].count;
		}
		nas = ids.n;
		intern_free(&ids);
		if (as)
			qsort(as, nas, sizeof(*as), cmp_site);
		if (!nas)
			fprintf(f, "  (no samples)\n");
		for (size_t i = 0; as && i < nas && i < TOP; i++) {
			bytes_str(as[i].net, a, sizeof(a), false);
			fprintf(f, "  %10s %5.1f%%  %.*s\n", a,
				tot ? 100.0 * as[i].net / tot : 0.0, (int)as[i].len, as[i].leaf);
		}
		free(as);
	}
	fprintf(f, "\n%llu resident-memory changes seen (%llu without a Python stack); lost: %llu changes, %llu collections, %llu allocation samples",
		m->changes, m->no_stack, m->lost_changes, m->lost_gc, m->lost_alloc);
	if (m->folded) {
		bytes_str(m->folded, a, sizeof(a), true);
		fprintf(f, "; %s beyond %d distinct stacks not itemised", a, MAX_STACKS);
	}
	fputc('\n', f);
	if (m->live_min) {
		fprintf(f, "%llu allocations tracked; not tracked: %llu (map full), %llu (ring buffer full), %llu beyond %zu held at once; frees lost: %llu",
			m->ltracked, m->lfull, m->llost, m->loverflow, m->live_max,
			m->lfree_lost);
		if (m->live_folded) {
			bytes_str(m->live_folded, a, sizeof(a), false);
			fprintf(f, "; %s held beyond %d distinct stacks not itemised", a,
				MAX_STACKS);
		}
		fputc('\n', f);
	}
	free(sites);
	free(lk);
	return ferror(f) ? -EIO : 0;
}

/* {"stack": ..., "<weight>": N} for each stack of a (none if NULL). */
static void json_stacks(FILE *f, struct stackagg *a, const char *weight)
{
	size_t n = 0;
	const struct stack_count *sc = a ? stackagg__sorted(a, &n) : NULL;

	for (size_t i = 0; sc && i < n; i++) {
		fputs(i ? ",{\"stack\":" : "{\"stack\":", f);
		json_str(f, sc[i].stack);
		fprintf(f, ",\"%s\":%llu}", weight, (unsigned long long)sc[i].count);
	}
}

int memrep__write_json(struct memrep *m, FILE *f)
{
	size_t nsites = 0, nleaks = 0, n = nintervals(m);
	struct site *sites = sites_by_leaf(m, &nsites);
	const struct mstack **lk = leaks(m, &nleaks);

	fprintf(f, "{\"duration_s\":%.3f,\"interval_s\":%.3f,\"intervals\":%zu,\"processes\":[",
		m->seconds, m->interval_ns / 1e9, n);
	for (size_t i = 0; i < m->nprocs; i++) {
		struct mproc *p = &m->procs[i];

		fprintf(f, "%s{\"pid\":%d,\"label\":", i ? "," : "", p->pid);
		json_str(f, p->label);
		fputs(",\"version\":", f);
		json_str(f, p->version);
		fprintf(f, ",\"gc_probes\":%s,\"alloc_probes\":%s,\"live_probes\":%s,\"rss_first\":%lld,\"rss_last\":%lld,\"rss_peak\":%lld,\"gained\":%lld,\"returned\":%lld,\"rss\":[",
			p->probes > 0 && (p->probes & PROFILER_MEM_GC) ? "true" : "false",
			p->probes > 0 && (p->probes & PROFILER_MEM_ALLOC) ? "true" : "false",
			p->probes > 0 && (p->probes & PROFILER_MEM_LIVE) ? "true" : "false",
			p->first_rss, p->last_rss, p->peak_rss, p->grown, p->returned);
		for (size_t k = 0; k < p->nrss; k++)
			fprintf(f, "%s[%.3f,%lld]", k ? "," : "",
				p->rss[k].t > m->start_ns ? (p->rss[k].t - m->start_ns) / 1e9 : 0.0,
				p->rss[k].bytes);
		fputs("],\"gc\":[", f);
		for (int g = 0, first = 1; g < GC_GENS; g++) {
			struct gc_gen *gg = &p->gen[g];

			if (!gg->count)
				continue;
			fprintf(f, "%s{\"generation\":%d,\"count\":%llu,\"total_ns\":%llu,\"p50_ns\":%llu,\"p95_ns\":%llu,\"max_ns\":%llu,\"collected\":%llu,\"hist_log2_us\":[",
				first ? "" : ",", g, gg->count, gg->sum_ns, pct(gg, 0.5),
				pct(gg, 0.95), gg->max_ns, gg->collected);
			for (int k = 0; k < GC_BUCKETS; k++)
				fprintf(f, "%s%llu", k ? "," : "", gg->hist[k]);
			fputs("]}", f);
			first = 0;
		}
		fputs("],\"gc_set_off_by\":[", f);
		json_stacks(f, p->gc_stacks, "count");
		fputs("]}", f);
	}
	fputs("],\"growth_by_function\":[", f);
	for (size_t i = 0, first = 1; i < nsites; i++) {
		if (!sites[i].grown && !sites[i].returned)
			continue;
		fprintf(f, "%s{\"pid\":%d,\"frame\":", first ? "" : ",", sites[i].pid);
		first = 0;
		{
			char *leaf = strndup(sites[i].leaf, sites[i].len);

			json_str(f, leaf);
			free(leaf);
		}
		fprintf(f, ",\"net\":%lld,\"gained\":%lld,\"returned\":%lld,\"intervals_grown\":%zu,\"leak_candidate\":%s}",
			sites[i].net, sites[i].grown, sites[i].returned, sites[i].grew,
			sites[i].leak ? "true" : "false");
	}
	fputs("],\"live_by_function\":[", f);
	{
		size_t nl = 0;
		struct site *l = m->live_min ? live_sites(sites, nsites, &nl) : NULL;

		for (size_t i = 0; l && i < nl; i++) {
			char *leaf = strndup(l[i].leaf, l[i].len);

			fprintf(f, "%s{\"pid\":%d,\"frame\":", i ? "," : "", l[i].pid);
			json_str(f, leaf ? leaf : "");
			free(leaf);
			fprintf(f, ",\"held\":%lld,\"allocated\":%lld,\"freed\":%lld,\"intervals_grown\":%zu,\"leak_candidate\":%s}",
				l[i].live, l[i].lalloc, l[i].lfreed, l[i].lgrew,
				l[i].leak ? "true" : "false");
		}
		free(l);
	}
	fputs("],\"by_interval\":[", f);
	for (size_t k = 0; k < n; k++) {
		const struct mstack *top[PER_INTERVAL];
		size_t nt = top_in_interval(m, k, false, top);

		fprintf(f, "%s{\"start_s\":%.3f,\"top\":[", k ? "," : "",
			k * m->interval_ns / 1e9);
		for (size_t i = 0; i < nt; i++) {
			fprintf(f, "%s{\"pid\":%d,\"stack\":", i ? "," : "", top[i]->pid);
			json_str(f, top[i]->stack);
			fprintf(f, ",\"bytes\":%lld}", top[i]->iv[k]);
		}
		fputs("],\"held_top\":[", f);
		nt = m->live_min ? top_in_interval(m, k, true, top) : 0;
		for (size_t i = 0; i < nt; i++) {
			fprintf(f, "%s{\"pid\":%d,\"stack\":", i ? "," : "", top[i]->pid);
			json_str(f, top[i]->stack);
			fprintf(f, ",\"bytes\":%lld}", top[i]->liv[k]);
		}
		fputs("]}", f);
	}
	fputs("],\"leak_candidates\":[", f);
	for (size_t i = 0; i < nleaks; i++) {
		size_t grew, since;

		growth_intervals(m, lk[i], &grew, &since);
		fprintf(f, "%s{\"pid\":%d,\"stack\":", i ? "," : "", lk[i]->pid);
		json_str(f, lk[i]->stack);
		/* net: what it grew by, in bytes held when "by" says so */
		fprintf(f, ",\"net\":%lld,\"intervals_grown\":%zu,\"intervals_since_first\":%zu,\"per_interval\":[",
			leak_bytes(m, lk[i]), grew, since);
		for (size_t k = 0; k < n; k++)
			fprintf(f, "%s%lld", k ? "," : "", iv_at(lk[i], k, by_live(m, lk[i])));
		fprintf(f, "],\"by\":\"%s\"}", by_live(m, lk[i]) ? "held" : "resident");
	}
	fputs("],\"allocations\":[", f);
	if (m->alloc_period)
		json_stacks(f, m->alloc, "bytes");
	fprintf(f, "],\"alloc_period\":%llu,\"changes\":%llu,\"no_stack\":%llu,\"lost\":{\"changes\":%llu,\"collections\":%llu,\"allocations\":%llu,\"live_map_full\":%llu,\"live_ring_full\":%llu,\"live_overflow\":%llu,\"live_frees\":%llu},\"not_itemised\":%lld,\"live_min\":%llu,\"live_tracked\":%llu,\"held_not_itemised\":%lld}\n",
		m->alloc_period, m->changes, m->no_stack, m->lost_changes, m->lost_gc,
		m->lost_alloc, m->lfull, m->llost, m->loverflow, m->lfree_lost, m->folded,
		m->live_min, m->ltracked, m->live_folded);
	free(sites);
	free(lk);
	return ferror(f) ? -EIO : 0;
}

/* Text from the target inside SVG markup, at most max bytes; printable
 * ASCII only, so a cut or invalid UTF-8 sequence cannot break the XML. */
static void xml_text(FILE *f, const char *s, size_t max)
{
	for (size_t i = 0; s && s[i] && i < max; i++) {
		unsigned char c = s[i];

		if (c == '<')
			fputs("&lt;", f);
		else if (c == '>')
			fputs("&gt;", f);
		else if (c == '&')
			fputs("&amp;", f);
		else
			fputc(c >= 0x20 && c < 0x7f ? c : '?', f);
	}
}

int memrep__write_plot(struct memrep *m, FILE *f)
{
	static const char *const colours[] = { "#d62728", "#1f77b4", "#2ca02c",
					       "#ff7f0e", "#9467bd", "#8c564b" };
	const double W = 900, H = 420, L = 80, R = 20, T = 30, B = 40;
	long long hi = 0;
	double tmax = m->seconds > 0 ? m->seconds : 1;
	char a[32];

	for (size_t i = 0; i < m->nprocs; i++)
		for (size_t k = 0; k < m->procs[i].nrss; k++)
			if (m->procs[i].rss[k].bytes > hi)
				hi = m->procs[i].rss[k].bytes;
	if (!hi)
		hi = 1;
	fprintf(f, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
		   "<svg version=\"1.1\" width=\"%.0f\" height=\"%.0f\" xmlns=\"http://www.w3.org/2000/svg\" font-family=\"Verdana\" font-size=\"12\">\n"
		   "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
		   "<text x=\"%.0f\" y=\"20\" font-size=\"15\">pyrograph mem: RSS over time</text>\n"
		   "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n"
		   "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n",
		W, H, L, L, H - B, W - R, H - B, L, T, L, H - B);
	bytes_str(hi, a, sizeof(a), false);
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%s</text>\n", L - 4, T + 4, a);
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">0</text>\n", L - 4, H - B);
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.1f s</text>\n", W - R, H - B + 16, tmax);
	for (size_t i = 0; i < m->nprocs; i++) {
		const struct mproc *p = &m->procs[i];
		const char *col = colours[i % 6];

		if (!p->nrss)
			continue;
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", col);
		for (size_t k = 0; k < p->nrss; k++) {
			double t = p->rss[k].t > m->start_ns ? (p->rss[k].t - m->start_ns) / 1e9 : 0;

			fprintf(f, "%.1f,%.1f ", L + (W - L - R) * (t > tmax ? 1 : t / tmax),
				H - B - (H - T - B) * (double)p->rss[k].bytes / (double)hi);
		}
		/* the label is the target's command line: escaped */
		fprintf(f, "\"><title>");
		xml_text(f, p->label, 4096);
		fprintf(f, "</title></polyline>\n");
		if (i < 12) {
			fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\">", L + 10, T + 16 + 14.0 * i, col);
			xml_text(f, p->label, 100);
			fputs("</text>\n", f);
		}
	}
	fputs("</svg>\n", f);
	return ferror(f) ? -EIO : 0;
}

struct stackagg *memrep__growth_stacks(struct memrep *m)
{
	stackagg__free(m->growth_out);
	m->growth_out = stackagg__new();
	for (size_t i = 0; m->growth_out && i < m->cap; i++)
		if (m->tab[i].stack && m->tab[i].net > 0)
			stackagg__add(m->growth_out, m->tab[i].stack,
				      (unsigned long long)m->tab[i].net);
	return m->growth_out;
}

struct stackagg *memrep__live_stacks(struct memrep *m)
{
	stackagg__free(m->live_out);
	m->live_out = stackagg__new();
	for (size_t i = 0; m->live_out && i < m->cap; i++)
		if (m->tab[i].stack && m->tab[i].live > 0)
			stackagg__add(m->live_out, m->tab[i].stack,
				      (unsigned long long)m->tab[i].live);
	return m->live_out;
}

struct stackagg *memrep__alloc_stacks(struct memrep *m)
{
	return m->alloc;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph mem's report: what the figures mean. Intervals, leak
 * candidates, growth summed by function, the stacks that grew most per
 * interval, and the per-process verdicts of pyrograph check.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/profiler.h"
#include "model/hashidx.h"
#include "report/memrep_int.h"

size_t mem_nintervals(const struct memrep *m)
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
	size_t first = SIZE_MAX, n = mem_nintervals(m);

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
bool mem_by_live(const struct memrep *m, const struct mstack *s)
{
	return m->held && s->lalloc > 0;
}

void mem_growth_intervals(const struct memrep *m, const struct mstack *s,
			  size_t *grew, size_t *since)
{
	if (mem_by_live(m, s))
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
 * The held view of mappings sees small objects too (pymalloc's arenas are
 * mappings): there, only what stacks hold makes a leak candidate, and
 * first touch never does.
 */
static bool is_leak(const struct memrep *m, const struct mstack *s)
{
	size_t grew, since;

	if (m->held == MEMREP_HELD_MAPS && !mem_by_live(m, s))
		return false;
	if (mem_by_live(m, s)) {
		if (s->live <= 0 || s->lfreed * 4 > s->lalloc)
			return false;
	} else if (s->net <= 0 || s->returned * 4 > s->grown) {
		return false;
	}
	mem_growth_intervals(m, s, &grew, &since);
	return grew >= MEMREP_LEAK_MIN_INTERVALS && 3 * grew >= 2 * since;
}

long long mem_leak_bytes(const struct memrep *m, const struct mstack *s)
{
	return mem_by_live(m, s) ? s->live : s->net;
}

/* Did s grow, return or make a tracked allocation (not only collections
 * or allocation samples)? */
static bool has_growth(const struct mstack *s)
{
	return s->grown || s->returned || s->lalloc;
}

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

struct site *mem_live_sites(const struct site *v, size_t n, size_t *nout)
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

/* Sites are found by their function and process. */
struct site_key {
	const struct site *v;
	frame_id leaf;
	pid_t pid;
};

static bool site_eq(const void *ctx, uint32_t pos)
{
	const struct site_key *k = ctx;

	return k->v[pos].leaf == k->leaf && k->v[pos].pid == k->pid;
}

/* The site of (pid, leaf) in v[0..*n), added if new; NULL when out of
 * memory. */
static struct site *site_of(struct hashidx *ix, struct site *v, size_t *n,
			    pid_t pid, frame_id leaf)
{
	struct site_key k = { v, leaf, pid };
	uint64_t h = hash_mix((uint64_t)(uint32_t)pid << 32 | leaf);
	long pos = hashidx_find(ix, h, site_eq, &k);

	if (pos >= 0)
		return &v[pos];
	if (hashidx_insert(ix, h, (uint32_t)*n))
		return NULL;
	v[*n] = (struct site){ .leaf = leaf, .pid = pid };
	return &v[(*n)++];
}

/* Growth summed by leaf frame (function and file:line) per process. */
struct site *mem_sites_by_leaf(const struct memrep *m, size_t *nout)
{
	struct site *v = calloc(m->st.n ? m->st.n : 1, sizeof(*v));
	struct hashidx ix = { 0 };

	*nout = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < m->st.n; i++) {
		const struct mstack *s = &m->figs[i];
		struct site *t;
		size_t grew, since;

		if (!has_growth(s))
			continue;
		t = site_of(&ix, v, nout, s->pid, mem_leaf(&m->st, (stack_id)i));
		if (!t)
			continue;
		t->net += s->net;
		t->grown += s->grown;
		t->returned += s->returned;
		t->live += s->live;
		t->lalloc += s->lalloc;
		t->lfreed += s->lfreed;
		iv_intervals(m, s->liv, s->nliv, &grew, &since);
		if (grew > t->lgrew)
			t->lgrew = grew;
		iv_intervals(m, s->iv, s->niv, &grew, &since);
		if (grew > t->grew)
			t->grew = grew;
		if (since > t->since)
			t->since = since;
		t->leak |= is_leak(m, s);
	}
	hashidx_free(&ix);
	qsort(v, *nout, sizeof(*v), cmp_site);
	return v;
}

struct site *mem_alloc_sites(struct memrep *m, size_t *nout)
{
	size_t n;
	stack_id *ids = mem_sorted_stacks(m, false, &n);
	struct site *v = calloc(n ? n : 1, sizeof(*v));
	struct hashidx ix = { 0 };

	*nout = 0;
	if (!v) {
		free(ids);
		return NULL;
	}
	/* by function, whichever process: in the order of the stacks' texts,
	 * so that equal sums keep one order */
	for (size_t i = 0; i < n; i++) {
		struct site *t = site_of(&ix, v, nout, 0, mem_leaf(&m->st, ids[i]));

		if (t)
			t->net += (long long)m->figs[ids[i]].alloc_bytes;
	}
	hashidx_free(&ix);
	free(ids);
	qsort(v, *nout, sizeof(*v), cmp_site);
	return v;
}

long long mem_iv_at(const struct mstack *s, size_t k, bool live)
{
	if (live)
		return k < s->nliv ? s->liv[k] : 0;
	return k < s->niv ? s->iv[k] : 0;
}

size_t mem_top_in_interval(const struct memrep *m, size_t k, bool live,
			   stack_id *out)
{
	size_t n = 0;

	for (size_t i = 0; i < m->st.n; i++) {
		long long b = mem_iv_at(&m->figs[i], k, live);
		size_t j;

		if (b <= 0)
			continue;
		if (n == PER_INTERVAL && b <= mem_iv_at(&m->figs[out[n - 1]], k, live))
			continue;
		j = n < PER_INTERVAL ? n++ : n - 1;
		while (j > 0 && mem_iv_at(&m->figs[out[j - 1]], k, live) < b) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = (stack_id)i;
	}
	return n;
}

long long mem_rss_at(const struct mproc *p, unsigned long long t)
{
	long long v = -1;

	for (size_t i = 0; i < p->nrss && p->rss[i].t <= t; i++)
		v = p->rss[i].bytes;
	return v;
}

struct leak_ref {
	long long bytes; /* mem_leak_bytes() */
	stack_id id;
};

static int cmp_leak(const void *a, const void *b)
{
	const struct leak_ref *x = a, *y = b;

	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

stack_id *mem_leaks(const struct memrep *m, size_t *nout)
{
	stack_id *v = calloc(m->st.n ? m->st.n : 1, sizeof(*v));
	struct leak_ref *r = calloc(m->st.n ? m->st.n : 1, sizeof(*r));
	size_t n = 0;

	*nout = 0;
	if (!v || !r) {
		free(v);
		free(r);
		return NULL;
	}
	for (size_t i = 0; i < m->st.n; i++)
		if (is_leak(m, &m->figs[i]))
			r[n++] = (struct leak_ref){ mem_leak_bytes(m, &m->figs[i]),
						    (stack_id)i };
	qsort(r, n, sizeof(*r), cmp_leak);
	for (size_t i = 0; i < n; i++)
		v[i] = r[i].id;
	free(r);
	*nout = n;
	return v;
}

static int cmp_ull(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a;
	unsigned long long y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

unsigned long long mem_pct(struct gc_gen *g, double q)
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

struct sort_ctx {
	struct memrep *m;
	bool by_pid;
};

static int cmp_stack_text(const void *a, const void *b, void *ctx)
{
	const struct sort_ctx *c = ctx;
	stack_id x = *(const stack_id *)a, y = *(const stack_id *)b;
	pid_t px = c->m->figs[x].pid, py = c->m->figs[y].pid;
	const frame_id *fx, *fy;
	uint32_t nx, ny;

	if (c->by_pid && px != py)
		return px < py ? -1 : 1;
	fx = mem_frames(c->m, x, &nx);
	fy = mem_frames(c->m, y, &ny);
	return stacks_cmp_text(c->m->ft, fx, nx, fy, ny);
}

stack_id *mem_sorted_stacks(struct memrep *m, bool gc, size_t *n)
{
	struct sort_ctx c = { m, gc };
	stack_id *ids = malloc((m->st.n ? m->st.n : 1) * sizeof(*ids));

	*n = 0;
	if (!ids)
		return NULL;
	for (size_t i = 0; i < m->st.n; i++)
		if (gc ? m->figs[i].gcs : m->figs[i].allocs)
			ids[(*n)++] = (stack_id)i;
	qsort_r(ids, *n, sizeof(*ids), cmp_stack_text, &c);
	return ids;
}

size_t mem_gc_run(const struct memrep *m, const stack_id *ids, size_t n,
		  pid_t pid, size_t *first)
{
	size_t lo = 0, hi = n, k;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->figs[ids[mid]].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (k = lo; k < n && m->figs[ids[k]].pid == pid; k++)
		;
	*first = lo;
	return k - lo;
}

size_t mem_top_gcs(const struct memrep *m, const stack_id *ids, size_t n,
		   size_t *idx, size_t k)
{
	size_t got = 0;

	for (size_t i = 0; ids && i < n; i++) {
		unsigned long long c = m->figs[ids[i]].gcs;
		size_t j;

		if (!c || (got == k && c <= m->figs[ids[idx[got - 1]]].gcs))
			continue;
		j = got < k ? got++ : got - 1;
		while (j > 0 && m->figs[ids[idx[j - 1]]].gcs < c) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = i;
	}
	return got;
}

const char *mem_label_of(const struct memrep *m, pid_t pid)
{
	for (size_t i = 0; i < m->nprocs; i++)
		if (m->procs[i].pid == pid)
			return m->procs[i].label;
	return "?";
}

/* What grew most in p: with --live the leak candidate holding most, else
 * the function that grew most (sites are sorted by net growth). */
static void growth_where(struct memrep *m, const struct mproc *p,
			 const struct site *sites, size_t nsites, char *out,
			 size_t len)
{
	long long best_live = 0;
	char held[32];

	for (size_t k = 0; m->held && sites && k < nsites; k++) {
		if (sites[k].pid != p->pid || !sites[k].leak || sites[k].live <= 0 ||
		    (out[0] && sites[k].live <= best_live))
			continue;
		best_live = sites[k].live;
		mem_bytes_str(sites[k].live, held, sizeof(held), false);
		snprintf(out, len, "%.400s (leak candidate), holding %s",
			 frame_text(m->ft, sites[k].leaf), held);
	}
	for (size_t k = 0; sites && !out[0] && k < nsites; k++) {
		if (sites[k].pid != p->pid || sites[k].net <= 0)
			continue;
		snprintf(out, len, "%.400s%s", frame_text(m->ft, sites[k].leaf),
			 sites[k].leak ? " (leak candidate)" : "");
		break;
	}
}

static void proc_verdict(struct memrep *m, const struct mproc *p,
			 const stack_id *gcs, size_t ngcs,
			 struct memrep_proc_verdict *v)
{
	size_t first, nrun = mem_gc_run(m, gcs, ngcs, p->pid, &first), best;

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
	if (gcs && mem_top_gcs(m, gcs + first, nrun, &best, 1))
		snprintf(v->gc_where, sizeof(v->gc_where), "%s",
			 frame_text(m->ft, mem_leaf(&m->st, gcs[first + best])));
}

size_t memrep__proc_verdicts(struct memrep *m, struct memrep_proc_verdict *out, size_t max)
{
	size_t nsites = 0, ngcs = 0;
	struct site *sites = mem_sites_by_leaf(m, &nsites);
	stack_id *gcs = mem_sorted_stacks(m, true, &ngcs);

	for (size_t i = 0; i < m->nprocs && i < max; i++) {
		proc_verdict(m, &m->procs[i], gcs, ngcs, &out[i]);
		growth_where(m, &m->procs[i], sites, nsites, out[i].growth_where,
			     sizeof(out[i].growth_where));
	}
	free(gcs);
	free(sites);
	return m->nprocs;
}

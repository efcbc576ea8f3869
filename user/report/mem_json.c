// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* pyrograph mem's report as JSON: the same figures, for programs. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "core/profiler.h"
#include "model/json.h"
#include "report/memrep_int.h"

/* A stack's folded text. */
static void json_stack(struct memrep *m, struct json *j, stack_id id)
{
	uint32_t n;
	const frame_id *fr = mem_frames(m, id, &n);

	json_s(j, "stack", mem_text(m, fr, n));
}

/* [{"stack": ..., "<weight>": N}...] of ids[0..n): the collections they
 * set off, or the bytes of their allocation samples. */
static void json_stacks(struct memrep *m, struct json *j, const char *key,
			const stack_id *ids, size_t n, bool gc)
{
	json_arr(j, key);
	for (size_t i = 0; ids && i < n; i++) {
		const struct mstack *s = &m->figs[ids[i]];

		json_obj(j, NULL);
		json_stack(m, j, ids[i]);
		json_u(j, gc ? "count" : "bytes", gc ? s->gcs : s->alloc_bytes);
		json_end(j);
	}
	json_end(j);
}

static void json_gc(struct json *j, struct mproc *p)
{
	json_arr(j, "gc");
	for (int g = 0; g < GC_GENS; g++) {
		struct gc_gen *gg = &p->gen[g];

		if (!gg->count)
			continue;
		json_obj(j, NULL);
		json_i(j, "generation", g);
		json_u(j, "count", gg->count);
		json_u(j, "total_ns", gg->sum_ns);
		json_u(j, "p50_ns", mem_pct(gg, 0.5));
		json_u(j, "p95_ns", mem_pct(gg, 0.95));
		json_u(j, "max_ns", gg->max_ns);
		json_u(j, "collected", gg->collected);
		json_arr(j, "hist_log2_us");
		for (int k = 0; k < GC_BUCKETS; k++)
			json_u(j, NULL, gg->hist[k]);
		json_end(j);
		json_end(j);
	}
	json_end(j);
}

static void json_proc(struct memrep *m, struct json *j, struct mproc *p,
		      const stack_id *gcs, size_t ngcs)
{
	size_t first = 0, n = gcs ? mem_gc_run(m, gcs, ngcs, p->pid, &first) : 0;

	json_obj(j, NULL);
	json_i(j, "pid", p->pid);
	json_s(j, "label", p->label);
	json_s(j, "version", p->version);
	json_b(j, "gc_probes", p->probes > 0 && (p->probes & PROFILER_MEM_GC));
	json_b(j, "alloc_probes", p->probes > 0 && (p->probes & PROFILER_MEM_ALLOC));
	json_b(j, "live_probes", p->probes > 0 && (p->probes & PROFILER_MEM_LIVE));
	json_i(j, "rss_first", p->first_rss);
	json_i(j, "rss_last", p->last_rss);
	json_i(j, "rss_peak", p->peak_rss);
	json_i(j, "gained", p->grown);
	json_i(j, "returned", p->returned);
	/* [seconds since the start, bytes] */
	json_arr(j, "rss");
	for (size_t k = 0; k < p->nrss; k++) {
		json_arr(j, NULL);
		json_f(j, NULL, "%.3f",
		       p->rss[k].t > m->start_ns ? (p->rss[k].t - m->start_ns) / 1e9 : 0.0);
		json_i(j, NULL, p->rss[k].bytes);
		json_end(j);
	}
	json_end(j);
	json_gc(j, p);
	json_stacks(m, j, "gc_set_off_by", n ? gcs + first : NULL, n, true);
	json_end(j);
}

static void json_procs(struct memrep *m, struct json *j)
{
	size_t ngcs = 0;
	stack_id *gcs = mem_sorted_stacks(m, true, &ngcs);

	json_arr(j, "processes");
	for (size_t i = 0; i < m->nprocs; i++)
		json_proc(m, j, &m->procs[i], gcs, ngcs);
	json_end(j);
	free(gcs);
}

static void json_sites(struct memrep *m, struct json *j, const struct site *sites,
		       size_t nsites)
{
	size_t nl = 0;
	struct site *l;

	json_arr(j, "growth_by_function");
	for (size_t i = 0; i < nsites; i++) {
		if (!sites[i].grown && !sites[i].returned)
			continue;
		json_obj(j, NULL);
		json_i(j, "pid", sites[i].pid);
		json_s(j, "frame", frame_text(m->ft, sites[i].leaf));
		json_i(j, "net", sites[i].net);
		json_i(j, "gained", sites[i].grown);
		json_i(j, "returned", sites[i].returned);
		json_u(j, "intervals_grown", sites[i].grew);
		json_b(j, "leak_candidate", sites[i].leak);
		json_end(j);
	}
	json_end(j);
	json_arr(j, "live_by_function");
	l = m->held ? mem_live_sites(sites, nsites, &nl) : NULL;
	for (size_t i = 0; l && i < nl; i++) {
		json_obj(j, NULL);
		json_i(j, "pid", l[i].pid);
		json_s(j, "frame", frame_text(m->ft, l[i].leaf));
		json_i(j, "held", l[i].live);
		json_i(j, "allocated", l[i].lalloc);
		json_i(j, "freed", l[i].lfreed);
		json_u(j, "intervals_grown", l[i].lgrew);
		json_b(j, "leak_candidate", l[i].leak);
		json_end(j);
	}
	json_end(j);
	free(l);
}

/* [{"pid":..,"stack":..,"bytes":..}] of the stacks that grew most in k
 * (none unless wanted). */
static void json_interval_tops(struct memrep *m, struct json *j, const char *key,
			       size_t k, bool live, bool wanted)
{
	stack_id top[PER_INTERVAL];
	size_t nt = wanted ? mem_top_in_interval(m, k, live, top) : 0;

	json_arr(j, key);
	for (size_t i = 0; i < nt; i++) {
		json_obj(j, NULL);
		json_i(j, "pid", m->figs[top[i]].pid);
		json_stack(m, j, top[i]);
		json_i(j, "bytes", mem_iv_at(&m->figs[top[i]], k, live));
		json_end(j);
	}
	json_end(j);
}

static void json_intervals(struct memrep *m, struct json *j, size_t n)
{
	json_arr(j, "by_interval");
	for (size_t k = 0; k < n; k++) {
		json_obj(j, NULL);
		json_f(j, "start_s", "%.3f", k * m->interval_ns / 1e9);
		json_interval_tops(m, j, "top", k, false, true);
		json_interval_tops(m, j, "held_top", k, true, m->held);
		json_end(j);
	}
	json_end(j);
}

static void json_leaks(struct memrep *m, struct json *j, const stack_id *lk,
		       size_t nleaks, size_t n)
{
	json_arr(j, "leak_candidates");
	for (size_t i = 0; i < nleaks; i++) {
		const struct mstack *s = &m->figs[lk[i]];
		bool live = mem_by_live(m, s);
		size_t grew, since;

		mem_growth_intervals(m, s, &grew, &since);
		json_obj(j, NULL);
		json_i(j, "pid", s->pid);
		json_stack(m, j, lk[i]);
		/* net: what it grew by, in bytes held when "by" says so */
		json_i(j, "net", mem_leak_bytes(m, s));
		json_u(j, "intervals_grown", grew);
		json_u(j, "intervals_since_first", since);
		json_arr(j, "per_interval");
		for (size_t k = 0; k < n; k++)
			json_i(j, NULL, mem_iv_at(s, k, live));
		json_end(j);
		json_s(j, "by", live ? "held" : "resident");
		json_end(j);
	}
	json_end(j);
}

/* What was lost, and what was seen but not itemised. */
static void json_tail(struct memrep *m, struct json *j)
{
	json_u(j, "alloc_period", m->alloc_period);
	json_u(j, "changes", m->changes);
	json_u(j, "no_stack", m->no_stack);
	json_obj(j, "lost");
	json_u(j, "changes", m->lost_changes);
	json_u(j, "collections", m->lost_gc);
	json_u(j, "allocations", m->lost_alloc);
	json_u(j, "live_map_full", m->lfull);
	json_u(j, "live_ring_full", m->llost);
	json_u(j, "live_overflow", m->loverflow);
	json_u(j, "live_frees", m->lfree_lost);
	json_end(j);
	json_i(j, "not_itemised", m->folded);
	json_u(j, "live_min", m->live_min);
	/* what "held" means: "maps" (memory taken from the kernel until
	 * given back, the default), "malloc" (--live) or "none" */
	json_s(j, "held_view", m->held == MEMREP_HELD_MAPS ? "maps" :
			       m->held == MEMREP_HELD_MALLOC ? "malloc" : "none");
	json_u(j, "maps_sent", m->maps_sent);
	json_u(j, "maps_lost", m->maps_lost);
	json_u(j, "unmaps_lost", m->unmaps_lost);
	json_u(j, "unmaps_unmatched", m->unmatched);
	json_u(j, "live_tracked", m->ltracked);
	json_i(j, "held_not_itemised", m->live_folded);
}

int memrep__write_json(struct memrep *m, FILE *f)
{
	size_t nsites = 0, nleaks = 0, na = 0, n = mem_nintervals(m);
	struct site *sites = mem_sites_by_leaf(m, &nsites);
	stack_id *lk = mem_leaks(m, &nleaks);
	stack_id *allocs = m->alloc_period ? mem_sorted_stacks(m, false, &na) : NULL;
	struct json j;
	int ret;

	json_init(&j, f);
	json_obj(&j, NULL);
	json_f(&j, "duration_s", "%.3f", m->seconds);
	json_f(&j, "interval_s", "%.3f", m->interval_ns / 1e9);
	json_u(&j, "intervals", n);
	json_procs(m, &j);
	json_sites(m, &j, sites, nsites);
	json_intervals(m, &j, n);
	json_leaks(m, &j, lk, nleaks, n);
	json_stacks(m, &j, "allocations", allocs, na, false);
	json_tail(m, &j);
	json_end(&j);
	fputc('\n', f);
	ret = json_done(&j);
	free(allocs);
	free(sites);
	free(lk);
	return ret;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* pyrograph mem's report as JSON: the same figures, for programs. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "core/profiler.h"
#include "model/json.h"
#include "report/memrep_int.h"

/* A stack's folded text as a JSON string. */
static void json_stack(struct memrep *m, FILE *f, stack_id id)
{
	uint32_t n;
	const frame_id *fr = mem_frames(m, id, &n);

	json_str(f, mem_text(m, fr, n));
}

/* {"stack": ..., "<weight>": N} for each of ids[0..n): the collections
 * they set off, or the bytes of their allocation samples. */
static void json_stacks(struct memrep *m, FILE *f, const stack_id *ids,
			size_t n, bool gc)
{
	for (size_t i = 0; ids && i < n; i++) {
		const struct mstack *s = &m->figs[ids[i]];

		fputs(i ? ",{\"stack\":" : "{\"stack\":", f);
		json_stack(m, f, ids[i]);
		fprintf(f, ",\"%s\":%llu}", gc ? "count" : "bytes",
			gc ? s->gcs : s->alloc_bytes);
	}
}

static void json_gc(FILE *f, struct mproc *p)
{
	for (int g = 0, first = 1; g < GC_GENS; g++) {
		struct gc_gen *gg = &p->gen[g];

		if (!gg->count)
			continue;
		fprintf(f, "%s{\"generation\":%d,\"count\":%llu,\"total_ns\":%llu,\"p50_ns\":%llu,\"p95_ns\":%llu,\"max_ns\":%llu,\"collected\":%llu,\"hist_log2_us\":[",
			first ? "" : ",", g, gg->count, gg->sum_ns, mem_pct(gg, 0.5),
			mem_pct(gg, 0.95), gg->max_ns, gg->collected);
		for (int k = 0; k < GC_BUCKETS; k++)
			fprintf(f, "%s%llu", k ? "," : "", gg->hist[k]);
		fputs("]}", f);
		first = 0;
	}
}

static void json_procs(struct memrep *m, FILE *f)
{
	size_t ngcs = 0;
	stack_id *gcs = mem_sorted_stacks(m, true, &ngcs);

	for (size_t i = 0; i < m->nprocs; i++) {
		struct mproc *p = &m->procs[i];
		size_t first = 0, n = gcs ? mem_gc_run(m, gcs, ngcs, p->pid, &first) : 0;

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
		json_gc(f, p);
		fputs("],\"gc_set_off_by\":[", f);
		json_stacks(m, f, n ? gcs + first : NULL, n, true);
		fputs("]}", f);
	}
	free(gcs);
}

static void json_sites(struct memrep *m, FILE *f, const struct site *sites,
		       size_t nsites)
{
	size_t nl = 0;
	struct site *l;

	fputs("],\"growth_by_function\":[", f);
	for (size_t i = 0, first = 1; i < nsites; i++) {
		if (!sites[i].grown && !sites[i].returned)
			continue;
		fprintf(f, "%s{\"pid\":%d,\"frame\":", first ? "" : ",", sites[i].pid);
		first = 0;
		json_str(f, frame_text(m->ft, sites[i].leaf));
		fprintf(f, ",\"net\":%lld,\"gained\":%lld,\"returned\":%lld,\"intervals_grown\":%zu,\"leak_candidate\":%s}",
			sites[i].net, sites[i].grown, sites[i].returned, sites[i].grew,
			sites[i].leak ? "true" : "false");
	}
	fputs("],\"live_by_function\":[", f);
	l = m->live_min ? mem_live_sites(sites, nsites, &nl) : NULL;
	for (size_t i = 0; l && i < nl; i++) {
		fprintf(f, "%s{\"pid\":%d,\"frame\":", i ? "," : "", l[i].pid);
		json_str(f, frame_text(m->ft, l[i].leaf));
		fprintf(f, ",\"held\":%lld,\"allocated\":%lld,\"freed\":%lld,\"intervals_grown\":%zu,\"leak_candidate\":%s}",
			l[i].live, l[i].lalloc, l[i].lfreed, l[i].lgrew,
			l[i].leak ? "true" : "false");
	}
	free(l);
}

/* {"pid":..,"stack":..,"bytes":..} of the stacks that grew most in k. */
static void json_interval_tops(struct memrep *m, FILE *f, size_t k, bool live)
{
	stack_id top[PER_INTERVAL];
	size_t nt = mem_top_in_interval(m, k, live, top);

	for (size_t i = 0; i < nt; i++) {
		fprintf(f, "%s{\"pid\":%d,\"stack\":", i ? "," : "",
			m->figs[top[i]].pid);
		json_stack(m, f, top[i]);
		fprintf(f, ",\"bytes\":%lld}", mem_iv_at(&m->figs[top[i]], k, live));
	}
}

static void json_intervals(struct memrep *m, FILE *f, size_t n)
{
	fputs("],\"by_interval\":[", f);
	for (size_t k = 0; k < n; k++) {
		fprintf(f, "%s{\"start_s\":%.3f,\"top\":[", k ? "," : "",
			k * m->interval_ns / 1e9);
		json_interval_tops(m, f, k, false);
		fputs("],\"held_top\":[", f);
		if (m->live_min)
			json_interval_tops(m, f, k, true);
		fputs("]}", f);
	}
}

static void json_leaks(struct memrep *m, FILE *f, const stack_id *lk,
		       size_t nleaks, size_t n)
{
	fputs("],\"leak_candidates\":[", f);
	for (size_t i = 0; i < nleaks; i++) {
		const struct mstack *s = &m->figs[lk[i]];
		bool live = mem_by_live(m, s);
		size_t grew, since;

		mem_growth_intervals(m, s, &grew, &since);
		fprintf(f, "%s{\"pid\":%d,\"stack\":", i ? "," : "", s->pid);
		json_stack(m, f, lk[i]);
		/* net: what it grew by, in bytes held when "by" says so */
		fprintf(f, ",\"net\":%lld,\"intervals_grown\":%zu,\"intervals_since_first\":%zu,\"per_interval\":[",
			mem_leak_bytes(m, s), grew, since);
		for (size_t k = 0; k < n; k++)
			fprintf(f, "%s%lld", k ? "," : "", mem_iv_at(s, k, live));
		fprintf(f, "],\"by\":\"%s\"}", live ? "held" : "resident");
	}
}

int memrep__write_json(struct memrep *m, FILE *f)
{
	size_t nsites = 0, nleaks = 0, n = mem_nintervals(m);
	struct site *sites = mem_sites_by_leaf(m, &nsites);
	stack_id *lk = mem_leaks(m, &nleaks);

	fprintf(f, "{\"duration_s\":%.3f,\"interval_s\":%.3f,\"intervals\":%zu,\"processes\":[",
		m->seconds, m->interval_ns / 1e9, n);
	json_procs(m, f);
	json_sites(m, f, sites, nsites);
	json_intervals(m, f, n);
	json_leaks(m, f, lk, nleaks, n);
	fputs("],\"allocations\":[", f);
	if (m->alloc_period) {
		size_t na = 0;
		stack_id *ids = mem_sorted_stacks(m, false, &na);

		json_stacks(m, f, ids, na, false);
		free(ids);
	}
	fprintf(f, "],\"alloc_period\":%llu,\"changes\":%llu,\"no_stack\":%llu,\"lost\":{\"changes\":%llu,\"collections\":%llu,\"allocations\":%llu,\"live_map_full\":%llu,\"live_ring_full\":%llu,\"live_overflow\":%llu,\"live_frees\":%llu},\"not_itemised\":%lld,\"live_min\":%llu,\"live_tracked\":%llu,\"held_not_itemised\":%lld}\n",
		m->alloc_period, m->changes, m->no_stack, m->lost_changes, m->lost_gc,
		m->lost_alloc, m->lfull, m->llost, m->loverflow, m->lfree_lost, m->folded,
		m->live_min, m->ltracked, m->live_folded);
	free(sites);
	free(lk);
	return ferror(f) ? -EIO : 0;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* pyrograph mem's report as text: the part a person reads. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "core/profiler.h"
#include "report/memrep_int.h"

void mem_bytes_str(long long b, char *buf, size_t len, bool sign)
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

void mem_dur_str(unsigned long long ns, char *buf, size_t len)
{
	if (ns >= 1000000000ULL)
		snprintf(buf, len, "%.2f s", ns / 1e9);
	else if (ns >= 1000000ULL)
		snprintf(buf, len, "%.1f ms", ns / 1e6);
	else
		snprintf(buf, len, "%.0f us", ns / 1e3);
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

static void write_head(const struct memrep *m, FILE *f, size_t n)
{
	char a[32], b[32], c[32], d[32];

	fprintf(f, "pyrograph mem: %.1f s, %zu Python process%s, %zu interval%s of %.1f s\n",
		m->seconds, m->nprocs, m->nprocs == 1 ? "" : "es", n,
		n == 1 ? "" : "s", m->interval_ns / 1e9);
	for (size_t i = 0; i < m->nprocs; i++) {
		const struct mproc *p = &m->procs[i];

		fprintf(f, "\n%s  Python %s\n", p->label, p->version);
		if (p->first_rss >= 0) {
			mem_bytes_str(p->first_rss, a, sizeof(a), false);
			mem_bytes_str(p->last_rss, b, sizeof(b), false);
			mem_bytes_str(p->last_rss - p->first_rss, c, sizeof(c), true);
			mem_bytes_str(p->peak_rss, d, sizeof(d), false);
			fprintf(f, "  RSS %s -> %s (%s), peak %s  ", a, b, c, d);
			sparkline(f, p, 60);
			fputc('\n', f);
		}
		mem_bytes_str(p->grown, a, sizeof(a), false);
		mem_bytes_str(p->returned, b, sizeof(b), false);
		mem_bytes_str(p->grown - p->returned, c, sizeof(c), true);
		fprintf(f, "  resident memory gained %s, returned %s, net %s\n", a, b, c);
		if (m->held == MEMREP_HELD_MAPS) {
			mem_bytes_str(p->taken, a, sizeof(a), false);
			mem_bytes_str(p->given, b, sizeof(b), false);
			mem_bytes_str(p->taken - p->given, c, sizeof(c), true);
			fprintf(f, "  memory taken from the kernel %s, given back %s, net %s\n",
				a, b, c);
		}
		if (m->held == MEMREP_HELD_MALLOC && (p->probes < 0 || !(p->probes & PROFILER_MEM_LIVE)))
			fprintf(f, "  its allocations are not tracked: no probes on its C allocator (-v says why)\n");
	}
}

/* --live: bytes held by function, the answer to "who keeps memory". */
static void write_live(const struct memrep *m, FILE *f, const struct site *sites,
		       size_t nsites, size_t n)
{
	size_t nl = 0;
	struct site *l = mem_live_sites(sites, nsites, &nl);
	char a[32], b[32], c[32];

	mem_bytes_str(m->live_min, a, sizeof(a), false);
	if (m->held == MEMREP_HELD_MAPS)
		fprintf(f, "\nHeld by function (memory taken from the kernel and not given back --\n"
			   "pymalloc arenas of small objects, large blocks, heap growth -- by the stack\n"
			   "that took it; top %d)\n", TOP);
	else
		fprintf(f, "\nHeld by function (C allocations of %s or more not freed, by the stack that made them; top %d)\n",
			a, TOP);
	if (!nl)
		fprintf(f, "  %s\n", m->held == MEMREP_HELD_MAPS ? "(no memory taken)" :
							  "(no tracked allocations)");
	else
		fprintf(f, "  %10s %10s %10s  %9s  %s\n", "held",
			m->held == MEMREP_HELD_MAPS ? "taken" : "allocated",
			m->held == MEMREP_HELD_MAPS ? "given" : "freed",
			"intervals", "function (file:line)  [process]");
	for (size_t i = 0; l && i < nl && i < TOP; i++) {
		mem_bytes_str(l[i].live, a, sizeof(a), false);
		mem_bytes_str(l[i].lalloc, b, sizeof(b), false);
		mem_bytes_str(l[i].lfreed, c, sizeof(c), false);
		fprintf(f, "  %10s %10s %10s  %4zu/%-4zu  %s  [%s]%s\n", a, b, c,
			l[i].lgrew, n, frame_text(m->ft, l[i].leaf),
			mem_label_of(m, l[i].pid), l[i].leak ? "  LEAK CANDIDATE" : "");
	}
	free(l);
}

/*
 * The second view beside memory held: resident pages by the function that
 * touched them first. Pages returned count for the process only (the
 * head's line): the thread that returns them is rarely the one that took
 * them.
 */
static void write_touched(const struct memrep *m, FILE *f, const struct site *sites,
			  size_t nsites, size_t n)
{
	char a[32];
	size_t shown = 0;

	fprintf(f, "\nResident memory by function (second view: pages where first touched; the C\n"
		   "allocator reuses freed memory, so this is who touched it, not who keeps it; top %d)\n",
		TOP);
	for (size_t i = 0; i < nsites && shown < TOP; i++) {
		if (sites[i].grown <= 0)
			continue;
		if (!shown++)
			fprintf(f, "  %10s  %9s  %s\n", "touched", "intervals",
				"function (file:line)  [process]");
		mem_bytes_str(sites[i].grown, a, sizeof(a), false);
		fprintf(f, "  %10s  %4zu/%-4zu  %s  [%s]\n", a, sites[i].grew, n,
			frame_text(m->ft, sites[i].leaf), mem_label_of(m, sites[i].pid));
	}
	if (!shown)
		fprintf(f, "  (no growth seen)\n");
}

static void write_growth(const struct memrep *m, FILE *f, const struct site *sites,
			 size_t nsites, size_t n)
{
	char a[32], b[32], c[32];
	size_t nrss = 0;

	if (m->held == MEMREP_HELD_MAPS) {
		write_touched(m, f, sites, nsites, n);
		return;
	}
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
		mem_bytes_str(sites[i].net, a, sizeof(a), true);
		mem_bytes_str(sites[i].grown, b, sizeof(b), false);
		mem_bytes_str(sites[i].returned, c, sizeof(c), false);
		fprintf(f, "  %10s %10s %10s  %4zu/%-4zu  %s  [%s]%s\n", a, b, c,
			sites[i].grew, n, frame_text(m->ft, sites[i].leaf),
			mem_label_of(m, sites[i].pid),
			sites[i].leak ? "  LEAK CANDIDATE" : "");
	}
}

/* The stacks that grew most in interval k, by their functions. */
static void write_interval_tops(const struct memrep *m, FILE *f, size_t k,
				bool live)
{
	stack_id top[PER_INTERVAL];
	size_t nt = mem_top_in_interval(m, k, live, top);
	char b[32];

	for (size_t i = 0; i < nt; i++) {
		mem_bytes_str(mem_iv_at(&m->figs[top[i]], k, live), b, sizeof(b), true);
		fprintf(f, "      %10s  %s%s\n", b,
			frame_text(m->ft, mem_leaf(&m->st, top[i])),
			live ? "  (held)" : "");
	}
}

static void write_intervals(const struct memrep *m, FILE *f)
{
	size_t n = mem_nintervals(m);
	size_t first = n > INTERVALS_SHOWN ? n - INTERVALS_SHOWN : 0;
	char a[32];

	fprintf(f, "\nGrowth by interval (RSS change of each process; the stacks that grew most)%s\n",
		first ? " -- the last 100" : "");
	for (size_t k = first; k < n; k++) {
		unsigned long long t0 = m->start_ns + k * m->interval_ns;

		fprintf(f, "  %7.1f-%-7.1f s", k * m->interval_ns / 1e9,
			(k + 1) * m->interval_ns / 1e9);
		for (size_t i = 0; i < m->nprocs && i < 4; i++) {
			long long r0 = mem_rss_at(&m->procs[i], t0);
			long long r1 = mem_rss_at(&m->procs[i], t0 + m->interval_ns);

			if (r0 < 0 || r1 < 0)
				continue;
			mem_bytes_str(r1 - r0, a, sizeof(a), true);
			fprintf(f, "  RSS %s (%d)", a, m->procs[i].pid);
		}
		fputc('\n', f);
		write_interval_tops(m, f, k, false);
		if (m->held)
			write_interval_tops(m, f, k, true);
	}
}

static void write_leaks(struct memrep *m, FILE *f, const stack_id *lk,
			size_t nleaks)
{
	char a[32];

	fprintf(f, "\nLeak candidates (grew in at least %d intervals and in 2 of every 3 since it began, kept 3/4 or more%s)\n",
		MEMREP_LEAK_MIN_INTERVALS,
		m->held == MEMREP_HELD_MAPS ? "; of the bytes held" :
		m->held ? "; of the bytes held, for stacks with tracked allocations" : "");
	if (!nleaks)
		fprintf(f, "  none\n");
	for (size_t i = 0; i < nleaks && i < TOP; i++) {
		const struct mstack *s = &m->figs[lk[i]];
		size_t grew, since;
		uint32_t nf;
		const frame_id *fr = mem_frames(m, lk[i], &nf);

		mem_growth_intervals(m, s, &grew, &since);
		mem_bytes_str(mem_leak_bytes(m, s), a, sizeof(a), !mem_by_live(m, s));
		fprintf(f, "  %s in %s: %s%s, grew in %zu of %zu intervals\n",
			frame_text(m->ft, mem_leaf(&m->st, lk[i])),
			mem_label_of(m, s->pid), a, mem_by_live(m, s) ? " held" : "",
			grew, since);
		fprintf(f, "    stack: %s\n", mem_text_below_root(m, fr, nf, s->nroot));
	}
	/* first touch is not keeping: say how to tell them apart */
	if (nleaks && !m->held)
		fprintf(f, "  (charged where pages were first touched; the C allocator may have handed\n"
			   "   another function's freed memory to the one that keeps it: `mem --live -p PID`\n"
			   "   shows which function holds the memory)\n");
}

/* One generation's pauses as a histogram of log2 microseconds. */
static void write_gc_hist(FILE *f, int g, const struct gc_gen *gg)
{
	unsigned long long mx = 0;

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
			w ? w : 1, "########################################");
	}
}

/* p's collections: a row per generation, the histograms, and the stacks
 * (gcs[0..n), its own) that set them off. */
static void write_gc_proc(struct memrep *m, FILE *f, struct mproc *p,
			  const stack_id *gcs, size_t n)
{
	char a[32], b[32], c[32], d[32];
	size_t top[3], nt;

	fprintf(f, "  %s:\n    %3s %8s %10s %10s %10s %10s %10s\n", p->label,
		"gen", "count", "total", "p50", "p95", "max", "collected");
	for (int g = 0; g < GC_GENS; g++) {
		struct gc_gen *gg = &p->gen[g];

		if (!gg->count)
			continue;
		mem_dur_str(gg->sum_ns, a, sizeof(a));
		mem_dur_str(mem_pct(gg, 0.5), b, sizeof(b));
		mem_dur_str(mem_pct(gg, 0.95), c, sizeof(c));
		mem_dur_str(gg->max_ns, d, sizeof(d));
		fprintf(f, "    %3d %8llu %10s %10s %10s %10s %10llu\n", g,
			gg->count, a, b, c, d, gg->collected);
	}
	for (int g = 0; g < GC_GENS; g++)
		if (p->gen[g].count)
			write_gc_hist(f, g, &p->gen[g]);
	if (!n)
		return;
	nt = mem_top_gcs(m, gcs, n, top, 3);
	fprintf(f, "    set off by (top 3):\n");
	for (size_t k = 0; k < nt; k++) {
		const struct mstack *s = &m->figs[gcs[top[k]]];
		uint32_t nf;
		const frame_id *fr = mem_frames(m, gcs[top[k]], &nf);

		fprintf(f, "      %6llu  %s\n", s->gcs,
			mem_text_below_root(m, fr, nf, s->nroot));
	}
}

static void write_gc(struct memrep *m, FILE *f)
{
	size_t ngcs = 0;
	stack_id *gcs = mem_sorted_stacks(m, true, &ngcs);

	fprintf(f, "\nGarbage collections\n");
	for (size_t i = 0; i < m->nprocs; i++) {
		struct mproc *p = &m->procs[i];
		unsigned long long total = 0;
		size_t first, n;

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
		n = gcs ? mem_gc_run(m, gcs, ngcs, p->pid, &first) : 0;
		write_gc_proc(m, f, p, n ? gcs + first : NULL, n);
	}
	free(gcs);
}

static void write_allocs(struct memrep *m, FILE *f)
{
	size_t nas = 0;
	struct site *as = mem_alloc_sites(m, &nas);
	unsigned long long tot = 0;
	char a[32];

	for (size_t i = 0; i < m->st.n; i++)
		tot += m->figs[i].alloc_bytes;
	mem_bytes_str(m->alloc_period, a, sizeof(a), false);
	fprintf(f, "\nAllocations (sampled: one per %s allocated on average; top %d by bytes)\n",
		a, TOP);
	if (!nas)
		fprintf(f, "  (no samples)\n");
	for (size_t i = 0; as && i < nas && i < TOP; i++) {
		mem_bytes_str(as[i].net, a, sizeof(a), false);
		fprintf(f, "  %10s %5.1f%%  %s\n", a,
			tot ? 100.0 * as[i].net / tot : 0.0,
			frame_text(m->ft, as[i].leaf));
	}
	free(as);
}

/* What was seen, lost and not itemised. */
static void write_tail(const struct memrep *m, FILE *f)
{
	char a[32];

	fprintf(f, "\n%llu resident-memory changes seen (%llu without a Python stack); lost: %llu changes, %llu collections, %llu allocation samples",
		m->changes, m->no_stack, m->lost_changes, m->lost_gc, m->lost_alloc);
	if (m->folded) {
		mem_bytes_str(m->folded, a, sizeof(a), true);
		fprintf(f, "; %s beyond %d distinct stacks not itemised", a, MAX_STACKS);
	}
	fputc('\n', f);
	if (m->held == MEMREP_HELD_MAPS) {
		fprintf(f, "%llu mappings and heap growths seen (%llu lost); unmappings lost: %llu; not matched to memory taken since the start: %llu",
			m->maps_sent, m->maps_lost, m->unmaps_lost, m->unmatched);
		if (m->loverflow)
			fprintf(f, "; %llu beyond %zu held at once", m->loverflow,
				m->live_max);
		if (m->live_folded) {
			mem_bytes_str(m->live_folded, a, sizeof(a), false);
			fprintf(f, "; %s held beyond %d distinct stacks not itemised", a,
				MAX_STACKS);
		}
		fputc('\n', f);
		return;
	}
	if (!m->live_min)
		return;
	fprintf(f, "%llu allocations tracked; not tracked: %llu (map full), %llu (ring buffer full), %llu beyond %zu held at once; frees lost: %llu",
		m->ltracked, m->lfull, m->llost, m->loverflow, m->live_max,
		m->lfree_lost);
	if (m->live_folded) {
		mem_bytes_str(m->live_folded, a, sizeof(a), false);
		fprintf(f, "; %s held beyond %d distinct stacks not itemised", a,
			MAX_STACKS);
	}
	fputc('\n', f);
}

int memrep__write_text(struct memrep *m, FILE *f)
{
	size_t nsites = 0, nleaks = 0, n = mem_nintervals(m);
	struct site *sites = mem_sites_by_leaf(m, &nsites);
	stack_id *lk = mem_leaks(m, &nleaks);

	write_head(m, f, n);
	if (m->held)
		write_live(m, f, sites, nsites, n);
	write_growth(m, f, sites, nsites, n);
	write_intervals(m, f);
	write_leaks(m, f, lk, nleaks);
	write_gc(m, f);
	if (m->alloc_period)
		write_allocs(m, f);
	write_tail(m, f);
	free(sites);
	free(lk);
	return ferror(f) ? -EIO : 0;
}

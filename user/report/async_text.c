// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The asyncio report as text: what pyrograph async prints by default. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report/async_int.h"
#include "report/await_site.h"

static void fmt_ms(char *buf, size_t len, double ns)
{
	if (ns >= 1e9)
		snprintf(buf, len, "%.2f s", ns / 1e9);
	else if (ns >= 1e6)
		snprintf(buf, len, "%.1f ms", ns / 1e6);
	else
		snprintf(buf, len, "%.0f us", ns / 1e3);
}

static void text_hist(FILE *f, const struct loop *l)
{
	int lo = LOOP_BUCKETS, hi = -1;
	__u64 top = 0;

	for (int i = 0; i < LOOP_BUCKETS; i++) {
		if (!l->ls.hist[i])
			continue;
		lo = i < lo ? i : lo;
		hi = i;
		top = l->ls.hist[i] > top ? l->ls.hist[i] : top;
	}
	for (int i = lo; i <= hi; i++) {
		char a[32], b[32];
		int w = (int)(40.0 * l->ls.hist[i] / (double)top + 0.5);

		fmt_ms(a, sizeof(a), i ? (double)(1ULL << i) * 1000 : 0);
		fmt_ms(b, sizeof(b), (double)(2ULL << i) * 1000);
		fprintf(f, "    %9s - %-9s |%-40.*s| %llu\n", a, b, w,
			"########################################",
			(unsigned long long)l->ls.hist[i]);
	}
}

static void text_loops(const struct asyncrep *a, FILE *f)
{
	char b1[32], b2[32], b3[32], b4[32], b5[32], lb[64];

	fmt_ms(b1, sizeof(b1), (double)a->stall_ns);
	fprintf(f, "pyrograph async: %zu event loop%s, %.1f s, stall threshold %s\n",
		a->nloops, a->nloops == 1 ? "" : "s", a->seconds, b1);
	if (!a->nloops)
		fprintf(f, "\nNo event loop iterated during the recording (no thread of the selected\n"
			   "Python processes left an epoll wait and came back to it).\n");
	for (size_t i = 0; i < a->nloops; i++) {
		const struct loop *l = &a->loops[i];
		double max_us = l->ls.max_ns / 1e3;
		unsigned long long ns = async_loop_stalls(a, l);

		fmt_ms(b1, sizeof(b1), l->ls.sum_ns / (double)l->ls.iters);
		fmt_ms(b2, sizeof(b2), 1e3 * loop_hist_percentile(l->ls.hist, 0.50, max_us));
		fmt_ms(b3, sizeof(b3), 1e3 * loop_hist_percentile(l->ls.hist, 0.95, max_us));
		fmt_ms(b4, sizeof(b4), 1e3 * loop_hist_percentile(l->ls.hist, 0.99, max_us));
		fmt_ms(b5, sizeof(b5), (double)l->ls.max_ns);
		fprintf(f, "\nLoop lag: %s, thread %d (%s), %s\n",
			async_proc_label(a, l->pid, lb, sizeof(lb)), l->tid, l->comm,
			async_loop_kind(a, l->pid));
		fprintf(f, "  %llu iterations, mean %s, p50 %s, p95 %s, p99 %s, max %s; %llu stall%s\n",
			(unsigned long long)l->ls.iters, b1, b2, b3, b4, b5,
			ns, ns == 1 ? "" : "s");
		text_hist(f, l);
	}
}

/* The kind column of the causes table: short. */
static const char *cause_kind(enum stall_kind k)
{
	switch (k) {
	case STALL_CPU:
		return "CPU";
	case STALL_BLOCKING:
		return "blocking";
	case STALL_PREEMPTED:
		return "preempted";
	case STALL_UNSEEN:
		return "not seen";
	case STALL_UNSAMPLED:
		return "unsampled";
	default:
		return "unknown";
	}
}

static void text_causes(const struct asyncrep *a, FILE *f)
{
	struct cause *c;
	size_t nc;
	char b1[32], b2[32], key[512];

	if (!a->nstalls)
		return;
	c = calloc(MAX_CAUSES, sizeof(*c));
	nc = c ? async_stall_causes(a, c, MAX_CAUSES) : 0;
	fprintf(f, "\nStall causes (by culprit; total time of the stalls they were in)\n");
	fprintf(f, "  %7s %10s %10s  %-9s %s\n", "stalls", "total", "max", "kind",
		"culprit  [coroutine]");
	for (size_t i = 0; i < nc; i++) {
		fmt_ms(b1, sizeof(b1), (double)c[i].total_ns);
		fmt_ms(b2, sizeof(b2), (double)c[i].max_ns);
		async_cause_text(a, &c[i], key, sizeof(key));
		fprintf(f, "  %7llu %10s %10s  %-9s %s", c[i].count, b1, b2,
			cause_kind(c[i].kind), key);
		if (c[i].coro != FRAME_NONE)
			fprintf(f, "  [%s]", frame_name(a->ft, c[i].coro));
		fprintf(f, "\n");
	}
	free(c);
}

/* From the coroutine down: the loop's own frames above it say nothing. */
static void put_stack_text(FILE *f, const struct asyncrep *a,
			   const struct stack_info *si)
{
	bool first = true;

	if (si->coro != FRAME_NONE)
		fprintf(f, "(event loop) >\n                ");
	for (uint32_t i = si->coro != FRAME_NONE ? si->coro_idx : si->first_py;
	     i < si->n; i++) {
		fprintf(f, "%s%s", first ? "" : "\n                ",
			frame_text(a->ft, si->f[i]));
		first = false;
	}
}

/* The other stacks of a stall, after its main one: at most three. */
static void text_also(const struct asyncrep *a, FILE *f, const struct stall *st)
{
	char b[32];

	if (st->n <= 1)
		return;
	fprintf(f, "    also        ");
	for (size_t j = 1; j < st->n && j < 4; j++) {
		struct stack_info si;

		async_stack_info(a, st->st[j].stack, &si);
		fmt_ms(b, sizeof(b), (double)(st->st[j].cpu_ns + st->st[j].off_ns));
		fprintf(f, "%s%s in ", j > 1 ? ", " : "", b);
		if (si.leaf != FRAME_NONE)
			async_put_frame(f, a, stack_culprit(&si));
		if (si.reason != FRAME_NONE)
			fprintf(f, " %s", frame_name(a->ft, si.reason));
	}
	fprintf(f, "\n");
}

/* "(on CPU a, off CPU b[, preempted c])", or for a wait whose start was
 * not seen (the kernel's split is then wrong) what the samples say, or for
 * a stall the samples missed both. */
static void text_split(FILE *f, const struct stall *st, const struct stall_view *v)
{
	char b1[32], b2[32], b3[32];

	if (v->kind == STALL_UNSAMPLED) {
		fmt_ms(b1, sizeof(b1), (double)(st->ns - st->off_ns));
		fmt_ms(b2, sizeof(b2), (double)st->ev_cpu_ns);
		fprintf(f, "(on CPU %s by the kernel's clock, sampled %s)", b1,
			st->ev_cpu_ns ? b2 : "never");
		return;
	}
	if (v->kind == STALL_UNSEEN) {
		fmt_ms(b1, sizeof(b1), (double)st->ev_cpu_ns);
		fmt_ms(b2, sizeof(b2), (double)st->off_ns);
		fprintf(f, "(sampled on CPU %s, counted off CPU %s)", st->ev_cpu_ns ? b1 : "never", b2);
		return;
	}
	fmt_ms(b1, sizeof(b1), (double)(st->ns - st->off_ns));
	fmt_ms(b2, sizeof(b2), (double)st->off_ns);
	fmt_ms(b3, sizeof(b3), (double)st->preempt_ns);
	fprintf(f, "(on CPU %s, off CPU %s%s%s)", b1, b2,
		st->preempt_ns ? ", preempted " : "", st->preempt_ns ? b3 : "");
}

static void text_stall(const struct asyncrep *a, FILE *f, struct stall *st)
{
	char b1[32], when[64], lb[64];
	const char *reason, *advice;
	struct stall_view v;

	async_stall_view(a, st, &v);
	async_wall_time(a, st->start, when, sizeof(when));
	fmt_ms(b1, sizeof(b1), (double)st->ns);
	fprintf(f, "\n  %s  %s  %s ", when, b1, async_stall_kind_text(v.kind));
	text_split(f, st, &v);
	fprintf(f, "  %s thread %d\n", async_proc_label(a, st->pid, lb, sizeof(lb)),
		st->tid);
	if (st->began_before)
		fprintf(f, "    began       before its thread was first seen (it was running when\n"
			   "                pyrograph found the process): at least this long\n");
	reason = async_stall_reason(a, &v);
	advice = async_stall_advice(a, &v);
	if (v.has_stack && v.si.coro != FRAME_NONE) {
		fprintf(f, "    coroutine   ");
		async_put_frame(f, a, v.si.coro);
		fprintf(f, "\n");
	}
	if (v.has_culprit && v.si.leaf != FRAME_NONE) {
		fprintf(f, "    culprit     ");
		async_put_frame(f, a, stack_culprit(&v.si));
		if (!v.cpu)
			fprintf(f, " %s", reason ? reason : "");
		fprintf(f, "\n");
	}
	if (advice)
		fprintf(f, "    advice      %s\n", advice);
	if (!v.has_culprit)
		return;
	fprintf(f, "    stack       ");
	put_stack_text(f, a, &v.si);
	fprintf(f, "\n");
	text_also(a, f, st);
}

static void text_stalls(struct asyncrep *a, FILE *f)
{
	size_t shown = a->nstalls < TEXT_STALLS ? a->nstalls : TEXT_STALLS;
	char b[32];

	fmt_ms(b, sizeof(b), (double)a->stall_ns);
	fprintf(f, "\nStalls: %zu iteration%s of %s or more", a->nstalls,
		a->nstalls == 1 ? "" : "s", b);
	if (shown < a->nstalls)
		fprintf(f, " (the %zu longest shown; --format json has all)", shown);
	fprintf(f, "\n");
	for (size_t i = 0; i < shown; i++)
		text_stall(a, f, &a->stalls[i]);
}

static void text_sites(const struct asyncrep *a, FILE *f)
{
	size_t *idx = async_sites_sorted(a);
	char b1[32], b2[32], b3[32], lb[64];

	fprintf(f, "\nBlocking calls in coroutines (off CPU inside a loop iteration), by call site: %zu\n",
		a->sites.n);
	if (a->sites.n)
		fprintf(f, "  %7s %10s %10s %10s  %-13s %s\n", "count", "total",
			"mean", "max", "reason", "call site");
	for (size_t i = 0; idx && i < a->sites.n && i < TEXT_SITES; i++) {
		const struct dist *st = &a->sites.d[idx[i]];
		const char *reason = frame_name(a->ft, st->key.k[1]);

		fmt_ms(b1, sizeof(b1), (double)st->total_ns);
		fmt_ms(b2, sizeof(b2), (double)st->total_ns / (double)st->count);
		fmt_ms(b3, sizeof(b3), (double)st->max_ns);
		fprintf(f, "  %7llu %10s %10s %10s  %-13s ", st->count, b1, b2,
			b3, reason);
		async_put_frame(f, a, st->key.k[0]);
		fprintf(f, "  [%s]\n", async_proc_label(a, st->key.pid, lb, sizeof(lb)));
		fprintf(f, "  %7s %s\n", "", async_advice_for(reason, false));
	}
	free(idx);
}

/* One table of durations, the most total time first: steps or awaits. */
static void text_dists(const struct asyncrep *a, FILE *f,
		       const struct dist_table *t, const char *what, bool chain)
{
	const struct dist **v = async_dists_sorted(t);
	char b[5][32], lb[64];
	double pc[3];

	if (v && t->n)
		fprintf(f, "  %8s %10s %10s %10s %10s %10s  %s\n", what, "total",
			"p50", "p95", "p99", "max", chain ? "site" : "coroutine");
	for (size_t i = 0; v && i < t->n && i < TEXT_SITES; i++) {
		async_dist_pcts(v[i], pc);
		fmt_ms(b[0], 32, (double)v[i]->total_ns);
		fmt_ms(b[1], 32, pc[0]);
		fmt_ms(b[2], 32, pc[1]);
		fmt_ms(b[3], 32, pc[2]);
		fmt_ms(b[4], 32, (double)v[i]->max_ns);
		fprintf(f, "  %8llu %10s %10s %10s %10s %10s  ", v[i]->count, b[0],
			b[1], b[2], b[3], b[4]);
		if (chain) {
			uint32_t n;
			const frame_id *c = stacks_get(&a->chains, v[i]->key.k[0], &n);
			char site[1024];

			await_site_text(a->ft, c, n, site, sizeof(site));
			fprintf(f, "%s  [%s]", site,
				async_proc_label(a, v[i]->key.pid, lb, sizeof(lb)));
		} else {
			fprintf(f, "%s  [%s]", frame_text(a->ft, v[i]->key.k[0]),
				async_proc_label(a, v[i]->key.pid, lb, sizeof(lb)));
		}
		fprintf(f, "\n");
	}
	free(v);
}

static void text_pairs(const struct asyncrep *a, FILE *f)
{
	const struct dist **v = async_dists_sorted(&a->pairs);
	char b[3][32], lb[64];
	size_t shown = 0;
	double pc[3];

	fprintf(f, "\nSequential awaits that could run concurrently (asyncio.gather):\n");
	for (size_t i = 0; v && i < a->pairs.n; i++) {
		const struct dist *d = v[i];
		struct pair_view pv;

		async_pair_view(a, d, &pv);
		if (!async_pair_flagged(d, &pv))
			continue;
		async_dist_pcts(d, pc);
		fmt_ms(b[0], 32, pc[0]);
		fmt_ms(b[1], 32, (double)d->total_b_ns / d->count);
		fmt_ms(b[2], 32, (double)(d->total_ns < d->total_b_ns ?
					  d->total_ns : d->total_b_ns) / d->count);
		fprintf(f, "  %s: line %ld (p50 %s) then line %ld (mean %s), %llu times  [%s]\n",
			pv.func, pv.la, b[0], pv.lb, b[1], d->count,
			async_proc_label(a, d->key.pid, lb, sizeof(lb)));
		fprintf(f, "    %ld: %s\n    %ld: %s\n", pv.la, pv.src_a, pv.lb, pv.src_b);
		fprintf(f, "    the second does not use the first's result: await both with asyncio.gather() to save ~%s each time\n",
			b[2]);
		shown++;
	}
	if (!shown)
		fprintf(f, "  none found\n");
	free(v);
}

/* Where one slow task's time went. */
static void text_slow_task(const struct asyncrep *a, FILE *f,
			   const struct slow_task *t)
{
	char b[6][32], site[1024];
	int order[TASK_WAITS];

	fmt_ms(b[0], 32, (double)t->life);
	fmt_ms(b[1], 32, (double)t->running);
	fmt_ms(b[2], 32, (double)t->queued);
	fmt_ms(b[3], 32, (double)t->waiting);
	fprintf(f, "    %s: running %s in %u step%s (", b[0], b[1], t->steps,
		t->steps == 1 ? "" : "s");
	fmt_ms(b[1], 32, (double)(t->running - t->blocked - t->preempted));
	fmt_ms(b[4], 32, (double)t->blocked);
	fmt_ms(b[5], 32, (double)t->preempted);
	fprintf(f, "on the CPU %s, blocking the loop %s, preempted %s), ready but queued behind other tasks %s, waiting %s\n",
		b[1], b[4], b[5], b[2], b[3]);
	for (int i = 0; i < TASK_WAITS; i++)
		order[i] = i;
	for (int i = 1; i < TASK_WAITS; i++)
		for (int j = i; j > 0 && t->waits[order[j]].ns > t->waits[order[j - 1]].ns; j--) {
			int x = order[j];

			order[j] = order[j - 1];
			order[j - 1] = x;
		}
	for (int i = 0; i < TASK_WAITS; i++) {
		const struct task_wait *w = &t->waits[order[i]];
		uint32_t n;
		const frame_id *c;

		if (!w->chain)
			continue;
		c = stacks_get(&a->chains, w->chain - 1, &n);
		await_site_text(a->ft, c, n, site, sizeof(site));
		fmt_ms(b[0], 32, (double)w->ns);
		fprintf(f, "      %10s at %s\n", b[0], site);
	}
}

/* Requests by endpoint, the most total time first; under each, its
 * slowest tasks over the threshold. */
static void text_endpoints(const struct asyncrep *a, FILE *f)
{
	const struct dist **v = async_dists_sorted(&a->endpoints);
	char b[6][32], lb[64];
	double pc[3];

	fprintf(f, "\nRequests by endpoint: %llu tasks of %zu endpoint%s (a task from the loop iteration\nof its first step to its end; its endpoint: the application coroutine under\nthe server's and framework's, or the task's own)\n",
		a->tasks_ended, a->endpoints.n, a->endpoints.n == 1 ? "" : "s");
	if (v && a->endpoints.n)
		fprintf(f, "  %8s %10s %10s %10s %10s %10s  %s\n", "tasks", "total",
			"p50", "p95", "p99", "max", "endpoint");
	for (size_t i = 0; v && i < a->endpoints.n && i < TEXT_SITES; i++) {
		const struct dist *d = v[i];
		unsigned long long over = async_slow_threshold(a, d);
		size_t shown = 0;

		async_dist_pcts(d, pc);
		fmt_ms(b[0], 32, (double)d->total_ns);
		fmt_ms(b[1], 32, pc[0]);
		fmt_ms(b[2], 32, pc[1]);
		fmt_ms(b[3], 32, pc[2]);
		fmt_ms(b[4], 32, (double)d->max_ns);
		fprintf(f, "  %8llu %10s %10s %10s %10s %10s  %s (%s)  [%s]\n", d->count,
			b[0], b[1], b[2], b[3], b[4], frames_s(a->ft, d->key.k[0]),
			frames_s(a->ft, d->key.k[1]),
			async_proc_label(a, d->key.pid, lb, sizeof(lb)));
		for (int k = 0; d->slow && k < SLOW_KEEP; k++) {
			/* the slowest first */
			const struct slow_task *t = NULL;

			for (int j = 0; j < SLOW_KEEP; j++)
				if (d->slow[j].life && d->slow[j].life >= over &&
				    (!t || d->slow[j].life > t->life) &&
				    (k == 0 || d->slow[j].life < shown))
					t = &d->slow[j];
			if (!t)
				break;
			if (k == 0) {
				fmt_ms(b[5], 32, (double)over);
				if (a->slow_ns)
					fprintf(f, "    slowest (%llu over --slow %s):\n", d->over, b[5]);
				else
					fprintf(f, "    slowest (over p95 %s):\n", b[5]);
			}
			text_slow_task(a, f, t);
			shown = t->life;
		}
	}
	if (a->tasks_unknown_start || a->tasks_forgotten)
		fprintf(f, "  not counted: %llu tasks that began before the recording, %llu not followed (table full)\n",
			a->tasks_unknown_start, a->tasks_forgotten);
	free(v);
}

static void text_steps_awaits(const struct asyncrep *a, FILE *f)
{
	fprintf(f, "\nTask steps by coroutine: %llu steps of %zu coroutine%s\n",
		a->steps_seen, a->steps.n, a->steps.n == 1 ? "" : "s");
	text_dists(a, f, &a->steps, "steps", false);
	fprintf(f, "\nAwait latency by await site: %llu resumes at %zu site%s (where each task\nwaited, named by the innermost coroutines of the application: the task's\ncoroutine > ...levels... > the application's awaiting coroutines > what they awaited)\n",
		a->resumes_seen, a->awaits.n, a->awaits.n == 1 ? "" : "s");
	text_dists(a, f, &a->awaits, "awaits", true);
	text_pairs(a, f);
	text_endpoints(a, f);
}

int asyncrep__write_text(struct asyncrep *a, FILE *f)
{
	async_stalls_sort(a);
	text_loops(a, f);
	text_causes(a, f);
	text_stalls(a, f);
	text_sites(a, f);
	text_steps_awaits(a, f);
	if (a->lost_stacks || a->lost_stalls || a->lost_other)
		fprintf(f, "\nNot kept (memory bounds): %llu stacks, %llu stalls, %llu other records\n",
			a->lost_stacks, a->lost_stalls, a->lost_other);
	return ferror(f) ? -EIO : 0;
}

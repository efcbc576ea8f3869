// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The asyncio report as JSON (pyrograph async --format json): every stall,
 * not only the longest, and frames as function, file and line. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report/async_int.h"
#include "report/await_site.h"
#include "model/json.h"

static void json_frame(FILE *f, const struct asyncrep *a, frame_id id)
{
	const char *file = frame_file(a->ft, id);

	fprintf(f, "{\"function\":");
	json_str(f, frame_name(a->ft, id));
	fprintf(f, ",\"file\":");
	json_str(f, file ? file : "");
	fprintf(f, ",\"line\":%d}", frames_get(a->ft, id)->line);
}

/* A frame or null. */
static void json_frame_or_null(FILE *f, const struct asyncrep *a, frame_id id)
{
	if (id != FRAME_NONE)
		json_frame(f, a, id);
	else
		fprintf(f, "null");
}

/* A stack's frames from its first Python frame, as their texts. */
static void json_frames(FILE *f, const struct asyncrep *a, stack_id stack)
{
	struct stack_info si;

	async_stack_info(a, stack, &si);
	fprintf(f, "[");
	for (uint32_t i = si.first_py; i < si.n; i++) {
		fprintf(f, "%s", i > si.first_py ? "," : "");
		json_str(f, frame_text(a->ft, si.f[i]));
	}
	fprintf(f, "]");
}

static void json_loops(const struct asyncrep *a, FILE *f)
{
	char lb[64];

	for (size_t i = 0; i < a->nloops; i++) {
		const struct loop *l = &a->loops[i];
		double max_us = l->ls.max_ns / 1e3;

		fprintf(f, "%s{\"pid\":%d,\"tid\":%d,\"process\":", i ? "," : "",
			l->pid, l->tid);
		json_str(f, async_proc_label(a, l->pid, lb, sizeof(lb)));
		fprintf(f, ",\"thread\":");
		json_str(f, l->comm);
		fprintf(f, ",\"kind\":\"%s\",\"iterations\":%llu,\"mean_ms\":%.3f,"
			   "\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
			   "\"stalls\":%llu,\"histogram\":[",
			async_loop_kind(a, l->pid), (unsigned long long)l->ls.iters,
			l->ls.sum_ns / (double)l->ls.iters / 1e6,
			loop_hist_percentile(l->ls.hist, 0.50, max_us) / 1e3,
			loop_hist_percentile(l->ls.hist, 0.95, max_us) / 1e3,
			loop_hist_percentile(l->ls.hist, 0.99, max_us) / 1e3,
			l->ls.max_ns / 1e6, async_loop_stalls(a, l));
		for (int b = 0, first = 1; b < LOOP_BUCKETS; b++) {
			if (!l->ls.hist[b])
				continue;
			fprintf(f, "%s{\"from_us\":%llu,\"to_us\":%llu,\"count\":%llu}",
				first ? "" : ",", b ? 1ULL << b : 0, 2ULL << b,
				(unsigned long long)l->ls.hist[b]);
			first = 0;
		}
		fprintf(f, "]}");
	}
}

static void json_stall(const struct asyncrep *a, FILE *f, struct stall *st)
{
	char lb[64], when[64];
	struct stall_view v;

	async_stall_view(a, st, &v);
	async_wall_time(a, st->start, when, sizeof(when));
	fprintf(f, "{\"time\":\"%s\",\"pid\":%d,\"tid\":%d,\"process\":", when,
		st->pid, st->tid);
	json_str(f, async_proc_label(a, st->pid, lb, sizeof(lb)));
	fprintf(f, ",\"duration_ms\":%.3f,\"oncpu_ms\":%.3f,\"offcpu_ms\":%.3f,"
		   "\"preempted_ms\":%.3f,\"sampled_oncpu_ms\":%.3f,\"kind\":\"%s\"",
		st->ns / 1e6, (st->ns - st->off_ns) / 1e6, st->off_ns / 1e6,
		st->preempt_ns / 1e6, st->ev_cpu_ns / 1e6, async_stall_kind_json(v.kind));
	fprintf(f, ",\"began_before_recording\":%s", st->began_before ? "true" : "false");
	/* without a stack, v.si names no frame */
	fprintf(f, ",\"coroutine\":");
	json_frame_or_null(f, a, v.si.coro);
	fprintf(f, ",\"culprit\":");
	json_frame_or_null(f, a, v.has_culprit && v.si.leaf != FRAME_NONE ?
					 stack_culprit(&v.si) : FRAME_NONE);
	fprintf(f, ",\"reason\":");
	json_str(f, async_stall_reason(a, &v));
	fprintf(f, ",\"advice\":");
	json_str(f, async_stall_advice(a, &v));
	fprintf(f, ",\"stacks\":[");
	for (size_t j = 0; j < st->n; j++) {
		fprintf(f, "%s{\"oncpu_ms\":%.3f,\"offcpu_ms\":%.3f,\"frames\":",
			j ? "," : "", st->st[j].cpu_ns / 1e6,
			st->st[j].off_ns / 1e6);
		json_frames(f, a, st->st[j].stack);
		fprintf(f, "}");
	}
	fprintf(f, "]}");
}

static void json_causes(const struct asyncrep *a, FILE *f)
{
	struct cause *c = calloc(MAX_CAUSES, sizeof(*c));
	size_t nc = c ? async_stall_causes(a, c, MAX_CAUSES) : 0;
	char key[512];

	for (size_t i = 0; i < nc; i++) {
		async_cause_text(a, &c[i], key, sizeof(key));
		/* no culprit: null, as a stall's (the kind says what it was) */
		fprintf(f, "%s{\"culprit\":", i ? "," : "");
		json_str(f, c[i].no_stack ? NULL : key);
		fprintf(f, ",\"kind\":\"%s\",\"stalls\":%llu,\"total_ms\":%.3f,\"max_ms\":%.3f,\"coroutine\":",
			async_stall_kind_json(c[i].kind), c[i].count,
			c[i].total_ns / 1e6, c[i].max_ns / 1e6);
		json_frame_or_null(f, a, c[i].coro);
		fprintf(f, "}");
	}
	free(c);
}

static void json_sites(const struct asyncrep *a, FILE *f)
{
	size_t *idx = async_sites_sorted(a);
	char lb[64];

	for (size_t i = 0; idx && i < a->sites.n; i++) {
		const struct dist *st = &a->sites.d[idx[i]];
		const char *reason = frame_name(a->ft, st->key.k[1]);

		fprintf(f, "%s{\"pid\":%d,\"process\":", i ? "," : "", st->key.pid);
		json_str(f, async_proc_label(a, st->key.pid, lb, sizeof(lb)));
		fprintf(f, ",\"site\":");
		json_frame(f, a, st->key.k[0]);
		fprintf(f, ",\"reason\":");
		json_str(f, reason);
		fprintf(f, ",\"count\":%llu,\"total_ms\":%.3f,\"max_ms\":%.3f,\"advice\":",
			st->count, st->total_ns / 1e6, st->max_ns / 1e6);
		json_str(f, async_advice_for(reason, false));
		fprintf(f, ",\"stack\":");
		json_frames(f, a, st->stack);
		fprintf(f, "}");
	}
	free(idx);
}

/* Task steps (by coroutine) or await sites (by chain). */
static void json_dists(const struct asyncrep *a, FILE *f,
		       const struct dist_table *t, const char *what, bool chain)
{
	const struct dist **v = async_dists_sorted(t);
	char lb[64];
	double pc[3];

	for (size_t i = 0; v && i < t->n; i++) {
		async_dist_pcts(v[i], pc);
		fprintf(f, "%s{\"pid\":%d,\"process\":", i ? "," : "", v[i]->key.pid);
		json_str(f, async_proc_label(a, v[i]->key.pid, lb, sizeof(lb)));
		fprintf(f, ",\"%s\":", what);
		if (chain) {
			uint32_t n;
			const frame_id *c = stacks_get(&a->chains, v[i]->key.k[0], &n);

			struct await_site st;
			char text[1024];

			fprintf(f, "[");
			for (uint32_t j = 0; j < n; j++) {
				fprintf(f, "%s", j ? "," : "");
				json_frame(f, a, c[j]);
			}
			await_site_find(a->ft, c, n, &st);
			await_site_text(a->ft, c, n, text, sizeof(text));
			fprintf(f, "],\"depth\":%u,\"site\":", n);
			json_frame_or_null(f, a, st.site < n ? c[st.site] : FRAME_NONE);
			fprintf(f, ",\"site_is_app\":%s,\"site_text\":",
				st.app ? "true" : "false");
			json_str(f, text);
		} else {
			json_frame(f, a, v[i]->key.k[0]);
		}
		fprintf(f, ",\"count\":%llu,\"total_ms\":%.3f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}",
			v[i]->count, v[i]->total_ns / 1e6, pc[0] / 1e6, pc[1] / 1e6,
			pc[2] / 1e6, v[i]->max_ns / 1e6);
	}
	free(v);
}

static void json_pairs(const struct asyncrep *a, FILE *f)
{
	const struct dist **v = async_dists_sorted(&a->pairs);
	char lb[64];
	double pc[3];

	for (size_t i = 0; v && i < a->pairs.n; i++) {
		const struct dist *d = v[i];
		struct pair_view pv;

		async_pair_view(a, d, &pv);
		async_dist_pcts(d, pc);
		fprintf(f, "%s{\"pid\":%d,\"process\":", i ? "," : "", d->key.pid);
		json_str(f, async_proc_label(a, d->key.pid, lb, sizeof(lb)));
		fprintf(f, ",\"coroutine\":");
		json_str(f, pv.func);
		fprintf(f, ",\"line_first\":%ld,\"line_second\":%ld,\"count\":%llu,"
			   "\"p50_first_ms\":%.3f,\"mean_second_ms\":%.3f,\"source_first\":",
			pv.la, pv.lb, d->count, pc[0] / 1e6,
			d->total_b_ns / 1e6 / d->count);
		json_str(f, pv.src_a[0] ? pv.src_a : NULL);
		fprintf(f, ",\"source_second\":");
		json_str(f, pv.src_b[0] ? pv.src_b : NULL);
		fprintf(f, ",\"independent\":%s,\"gather_candidate\":%s}",
			pv.independent < 0 ? "null" : pv.independent ? "true" : "false",
			async_pair_flagged(d, &pv) ? "true" : "false");
	}
	free(v);
}

/* One slow task: where its time went. */
static void json_slow_task(const struct asyncrep *a, FILE *f,
			   const struct slow_task *t)
{
	char site[1024];
	bool first = true;

	fprintf(f, "{\"ms\":%.3f,\"running_ms\":%.3f,\"oncpu_ms\":%.3f,\"blocking_ms\":%.3f,\"preempted_ms\":%.3f,\"steps\":%u,\"queued_ms\":%.3f,\"waiting_ms\":%.3f,\"waits\":[",
		t->life / 1e6, t->running / 1e6,
		(t->running - t->blocked - t->preempted) / 1e6, t->blocked / 1e6,
		t->preempted / 1e6, t->steps, t->queued / 1e6, t->waiting / 1e6);
	for (int i = 0; i < TASK_WAITS; i++) {
		const struct task_wait *w = &t->waits[i];
		struct await_site st;
		const frame_id *c;
		uint32_t n;

		if (!w->chain)
			continue;
		c = stacks_get(&a->chains, w->chain - 1, &n);
		await_site_find(a->ft, c, n, &st);
		await_site_text(a->ft, c, n, site, sizeof(site));
		fprintf(f, "%s{\"ms\":%.3f,\"site\":", first ? "" : ",", w->ns / 1e6);
		json_frame_or_null(f, a, st.site < n ? c[st.site] : FRAME_NONE);
		fprintf(f, ",\"site_text\":");
		json_str(f, site);
		fprintf(f, "}");
		first = false;
	}
	fprintf(f, "]}");
}

/* Requests by endpoint, with their slowest tasks over the threshold. */
static void json_endpoints(const struct asyncrep *a, FILE *f)
{
	const struct dist **v = async_dists_sorted(&a->endpoints);
	char lb[64];
	double pc[3];

	for (size_t i = 0; v && i < a->endpoints.n; i++) {
		const struct dist *d = v[i];
		unsigned long long over = async_slow_threshold(a, d);
		bool first = true;

		async_dist_pcts(d, pc);
		fprintf(f, "%s{\"pid\":%d,\"process\":", i ? "," : "", d->key.pid);
		json_str(f, async_proc_label(a, d->key.pid, lb, sizeof(lb)));
		fprintf(f, ",\"endpoint\":{\"function\":");
		json_str(f, frames_s(a->ft, d->key.k[0]));
		fprintf(f, ",\"file\":");
		json_str(f, frames_s(a->ft, d->key.k[1]));
		fprintf(f, "},\"count\":%llu,\"total_ms\":%.3f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"slow_ms\":%.3f,",
			d->count, d->total_ns / 1e6, pc[0] / 1e6, pc[1] / 1e6,
			pc[2] / 1e6, d->max_ns / 1e6, over / 1e6);
		if (a->slow_ns)
			fprintf(f, "\"over_slow\":%llu,", d->over);
		fprintf(f, "\"slowest\":[");
		for (int j = 0; d->slow && j < SLOW_KEEP; j++) {
			if (!d->slow[j].life || d->slow[j].life < over)
				continue;
			fprintf(f, "%s", first ? "" : ",");
			json_slow_task(a, f, &d->slow[j]);
			first = false;
		}
		fprintf(f, "]}");
	}
	free(v);
}

int asyncrep__write_json(struct asyncrep *a, FILE *f)
{
	async_stalls_sort(a);
	fprintf(f, "{\"duration_s\":%.3f,\"threshold_ms\":%.3f,\"loops\":[",
		a->seconds, a->stall_ns / 1e6);
	json_loops(a, f);
	fprintf(f, "],\"stalls\":[");
	for (size_t i = 0; i < a->nstalls; i++) {
		fprintf(f, "%s", i ? "," : "");
		json_stall(a, f, &a->stalls[i]);
	}
	fprintf(f, "],\"stall_causes\":[");
	json_causes(a, f);
	fprintf(f, "],\"blocking_calls\":[");
	json_sites(a, f);
	fprintf(f, "],\"task_steps\":[");
	json_dists(a, f, &a->steps, "coroutine", false);
	fprintf(f, "],\"await_sites\":[");
	json_dists(a, f, &a->awaits, "chain", true);
	fprintf(f, "],\"sequential_awaits\":[");
	json_pairs(a, f);
	fprintf(f, "],\"endpoints\":[");
	json_endpoints(a, f);
	fprintf(f, "],\"tasks\":{\"ended\":%llu,\"began_before\":%llu,\"not_followed\":%llu}",
		a->tasks_ended, a->tasks_unknown_start, a->tasks_forgotten);
	fprintf(f, ",\"not_kept\":{\"stacks\":%llu,\"stalls\":%llu,\"other\":%llu}}\n",
		a->lost_stacks, a->lost_stalls, a->lost_other);
	return ferror(f) ? -EIO : 0;
}

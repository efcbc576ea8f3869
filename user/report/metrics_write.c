// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The agent's metrics in the Prometheus text exposition format (0.0.4):
 * families, label values escaped, histograms on the kernel's log2 buckets.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/metrics_int.h"

char *metrics_label_value(const char *s, char *out, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), k = 0;

	if (!len)
		return out;
	for (size_t i = 0; i < n && k + 5 < len;) {
		size_t l = metrics_utf8_len(u + i, n - i);

		if (!l || (l == 1 && (u[i] < 0x20 || u[i] == 0x7f))) {
			if (u[i] == '\n') {
				out[k++] = '\\';
				out[k++] = 'n';
			} else {
				out[k++] = '?';
			}
			i += 1;
			continue;
		}
		if (l == 1 && (u[i] == '\\' || u[i] == '"'))
			out[k++] = '\\';
		memcpy(out + k, u + i, l);
		k += l;
		i += l;
	}
	out[k] = '\0';
	return out;
}

/* Room for proc_labels' text: each value's escaped buffer below, and
 * the names and quotes */
#define PROC_LABELS 2048

/* The labels every per-process series carries; pod and namespace where
 * the container is a Kubernetes pod's. */
static void proc_labels(const struct metrics *m, const struct proc *p,
			char *buf, size_t len)
{
	char host[512], ctr[300], svc[300], pod[300], ns[200];
	int n;

	n = snprintf(buf, len, "host=\"%s\",container=\"%s\",",
		     metrics_label_value(m->host, host, sizeof(host)),
		     metrics_label_value(p->container, ctr, sizeof(ctr)));
	if (p->pod[0] && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n,
			      "pod=\"%s\",namespace=\"%s\",",
			      metrics_label_value(p->pod, pod, sizeof(pod)),
			      metrics_label_value(p->ns, ns, sizeof(ns)));
	if (n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "service=\"%s\",pid=\"%d\"",
			 metrics_label_value(p->service, svc, sizeof(svc)),
			 p->pid);
}

static void family(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* le bounds: the upper end of kernel bucket i, 2^(i+1) us, in seconds. */
static void write_le(FILE *f, unsigned int i)
{
	char buf[64];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "%.6f",
				    (double)(2ULL << i) / 1e6);

	while (n > 1 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (buf[n - 1] == '.')
		buf[--n] = '\0';
	fputs(buf, f);
}

static void write_hist(struct metrics *m, FILE *f, const char *name,
		       const char *labels, const struct hist *h)
{
	unsigned long long cum = 0;

	for (unsigned int i = 0; i < LOOP_BUCKETS - 1; i++) {
		cum += h->b[i];
		fprintf(f, "%s_bucket{%s,le=\"", name, labels);
		write_le(f, i);
		fprintf(f, "\"} %llu\n", cum);
	}
	fprintf(f, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels, h->count);
	fprintf(f, "%s_sum{%s} %.9g\n", name, labels, h->sum);
	fprintf(f, "%s_count{%s} %llu\n", name, labels, h->count);
	m->series += LOOP_BUCKETS + 2;
}

#define EACH_PROC(m, p)                            \
	for (int _b = 0; _b < NBUCKETS_HASH; _b++) \
		for (struct proc *p = (m)->buckets[_b]; p; p = p->next)

static struct site_set *awaits_of(struct proc *p)
{
	return &p->awaits;
}

static struct site_set *requests_of(struct proc *p)
{
	return &p->requests;
}

/* A histogram family by the sites of each process's set_of(), under label
 * `label`. */
static void write_site_family(struct metrics *m, FILE *f, const char *name,
			      const char *help, const char *label,
			      struct site_set *(*set_of)(struct proc *))
{
	char pl[PROC_LABELS], l[PROC_LABELS + 32];

	family(f, name, "histogram", help);
	EACH_PROC(m, p)
	{
		struct site_set *ss = set_of(p);
		char site[SITE_LEN * 2 + 8], l2[sizeof(pl) + sizeof(site) + 32];
		struct hist other = ss->other;
		bool has_other = ss->has_other;

		metrics_promote_sites(m, ss);
		proc_labels(m, p, pl, sizeof(pl));
		for (int i = 0; i < ss->n; i++) {
			if (!ss->v[i].own) {
				metrics_hist_merge(&other, &ss->v[i].h);
				has_other = true;
				continue;
			}
			snprintf(l2, sizeof(l2), "%s,%s=\"%s\"", pl, label,
				 metrics_label_value(ss->v[i].name, site, sizeof(site)));
			write_hist(m, f, name, l2, &ss->v[i].h);
		}
		if (has_other) {
			snprintf(l, sizeof(l), "%s,%s=\"other\"", pl, label);
			write_hist(m, f, name, l, &other);
		}
	}
}

static void write_loops(struct metrics *m, FILE *f)
{
	char pl[PROC_LABELS], l[PROC_LABELS + 100], kind[100];

	family(f, "pyrograph_asyncio_loop_lag_seconds", "histogram",
	       "Event-loop iterations by length: the callbacks run between two polls, "
	       "which is how long a ready callback can wait (kernel log2 buckets).");
	EACH_PROC(m, p)
	{
		proc_labels(m, p, pl, sizeof(pl));
		for (int i = 0; i < p->nloops; i++) {
			snprintf(l, sizeof(l), "%s,tid=\"%d\"", pl,
				 p->loops[i].tid);
			write_hist(m, f, "pyrograph_asyncio_loop_lag_seconds",
				   l, &p->loops[i].lag);
		}
	}
	family(f, "pyrograph_asyncio_stalls_total", "counter",
	       "Event-loop iterations at least the stall threshold (--stall) long.");
	EACH_PROC(m, p)
	{
		proc_labels(m, p, pl, sizeof(pl));
		for (int i = 0; i < p->nloops; i++, m->series++)
			fprintf(f,
				"pyrograph_asyncio_stalls_total{%s,tid=\"%d\"} %llu\n",
				pl, p->loops[i].tid, p->loops[i].stalls);
	}
	family(f, "pyrograph_asyncio_stalled_seconds_total", "counter",
	       "Time event loops spent in stalls.");
	EACH_PROC(m, p)
	{
		proc_labels(m, p, pl, sizeof(pl));
		for (int i = 0; i < p->nloops; i++, m->series++)
			fprintf(f,
				"pyrograph_asyncio_stalled_seconds_total{%s,tid=\"%d\"} %.9g\n",
				pl, p->loops[i].tid, p->loops[i].stalled);
	}
	family(f, "pyrograph_asyncio_blocking_seconds_total", "counter",
	       "Time loop threads spent off the CPU inside iterations (blocking calls), "
	       "by kind: sleep, lock, network, disk I/O, GIL wait, preempted...");
	EACH_PROC(m, p)
	{
		proc_labels(m, p, pl, sizeof(pl));
		for (int i = 0; i < p->nloops; i++) {
			const struct loop *lp = &p->loops[i];

			for (int k = 0; k <= METRICS_MAX_KINDS; k++) {
				if (k == lp->nblk && k < METRICS_MAX_KINDS)
					k = METRICS_MAX_KINDS; /* then "other", if used */
				if (!lp->blk[k].kind[0])
					continue;
				fprintf(f,
					"pyrograph_asyncio_blocking_seconds_total{%s,tid=\"%d\",kind=\"%s\"} %.9g\n",
					pl, lp->tid,
					metrics_label_value(lp->blk[k].kind,
							    kind, sizeof(kind)),
					lp->blk[k].seconds);
				m->series++;
			}
		}
	}
	write_site_family(m, f, "pyrograph_asyncio_await_latency_seconds",
			  "How long tasks stayed suspended at an await, by the await's site "
			  "(the busiest sites get their own series; the rest are site=\"other\").",
			  "site", awaits_of);
	write_site_family(m, f, "pyrograph_asyncio_request_seconds",
			  "How long tasks lived, from their first step to their end, by "
			  "endpoint: for a web server's task the endpoint function, for "
			  "others their coroutine (the busiest get their own series; the "
			  "rest are endpoint=\"other\").",
			  "endpoint", requests_of);
}

/* One sample of a per-process family, with prec decimals. */
static void proc_value(struct metrics *m, FILE *f, const char *name,
		       const struct proc *p, int prec, double value)
{
	char pl[PROC_LABELS];

	proc_labels(m, p, pl, sizeof(pl));
	fprintf(f, "%s{%s} %.*f\n", name, pl, prec, value);
	m->series++;
}

static void write_procs(struct metrics *m, FILE *f)
{
	char pl[PROC_LABELS], l[PROC_LABELS + 100];

	family(f, "pyrograph_python_gc_pause_seconds", "histogram",
	       "Garbage-collection pauses by generation (CPython's gc__start/gc__done "
	       "USDT probes; builds without them have no series).");
	EACH_PROC(m, p)
	{
		if (!p->gc_probes)
			continue;
		proc_labels(m, p, pl, sizeof(pl));
		for (int g = 0; g < GC_GENS; g++) {
			if (g == GC_GENS - 1 && !p->gc[g].count)
				continue;
			snprintf(l, sizeof(l), "%s,generation=\"%d\"", pl, g);
			write_hist(m, f, "pyrograph_python_gc_pause_seconds", l,
				   &p->gc[g]);
		}
	}
	family(f, "pyrograph_python_gc_probes", "gauge",
	       "1 when the interpreter has CPython's collection probes (--with-dtrace).");
	EACH_PROC(m, p)
	{
		if (p->gc_known)
			proc_value(m, f, "pyrograph_python_gc_probes", p, 0,
				   (double)p->gc_probes);
	}
	family(f, "pyrograph_process_resident_memory_bytes", "gauge",
	       "Resident memory of the process (RSS, /proc/PID/statm).");
	EACH_PROC(m, p)
	{
		if (p->usage)
			proc_value(m, f, "pyrograph_process_resident_memory_bytes",
				   p, 0, (double)p->rss);
	}
	family(f, "pyrograph_process_resident_memory_growth_bytes_per_second",
	       "gauge",
	       "RSS change per second over about the last minute (readings 5 s apart).");
	EACH_PROC(m, p)
	{
		int first = (p->rpos + RSS_READINGS - p->nread) % RSS_READINGS;
		int last = (p->rpos + RSS_READINGS - 1) % RSS_READINGS;
		unsigned long long dt;
		double growth;

		if (p->nread < 2)
			continue;
		dt = p->readings[last].t - p->readings[first].t;
		if (dt < 2 * RSS_EVERY_NS - RSS_EVERY_NS / 2)
			continue;
		growth = (double)(p->readings[last].rss -
				  p->readings[first].rss) / (dt / 1e9);
		proc_value(m, f,
			   "pyrograph_process_resident_memory_growth_bytes_per_second",
			   p, 0, growth);
	}
	family(f, "pyrograph_process_cpu_seconds_total", "counter",
	       "CPU time of the process, user and system (/proc/PID/stat).");
	EACH_PROC(m, p)
	{
		if (p->usage)
			proc_value(m, f, "pyrograph_process_cpu_seconds_total",
				   p, 2, p->cpu);
	}
}

#define HTTP_FAILURE_LABEL(e, label) [e] = label,
static const char *const upload_failure_reasons[HTTP_FAIL_N] = {
	HTTP_FAILURES(HTTP_FAILURE_LABEL)
};
#undef HTTP_FAILURE_LABEL

static void write_health(struct metrics *m, FILE *f)
{
	const struct metrics_health *h = &m->health;
	const unsigned long long *st = h->rec.stats;
	char host[512], hl[600];
	const struct {
		const char *reason;
		unsigned long long n;
	} drops[] = {
		{"ring_buffer_full", st[STAT_T_RINGBUF_FULL]},
		{"unreadable_stack", st[STAT_T_UNREADABLE]},
		{"unsupported_build", st[STAT_T_UNSUPPORTED]},
		{"process_events_lost", st[STAT_DROP_EVENTS]},
		{"offcpu_events_lost", st[STAT_OFF_LOST] + st[STAT_ON_LOST]},
		{"stall_events_lost", st[STAT_STALL_LOST]},
		{"await_events_lost", st[STAT_STEP_LOST]},
		{"await_chains_lost", st[STAT_CHAIN_LOST]},
		{"gc_events_lost", st[STAT_GC_LOST]},
		{"loop_table_full", st[STAT_LOOP_FULL]},
		{"userspace", h->rec.lost_samples},
		{"metrics_process_table_full", m->dropped_procs},
		{"metrics_loop_table_full", m->dropped_loops},
		{"upload_queue_full", h->dropped},
	};

	snprintf(hl, sizeof(hl), "host=\"%s\"",
		 metrics_label_value(m->host, host, sizeof(host)));
	family(f, "pyrograph_agent_samples_total", "counter",
	       "Python stack samples the agent received.");
	fprintf(f, "pyrograph_agent_samples_total{%s} %llu\n", hl,
		h->rec.py_samples);
	family(f, "pyrograph_agent_ticks_total", "counter",
	       "Sampling timer ticks that selected a task (every one is a sample or a drop).");
	fprintf(f, "pyrograph_agent_ticks_total{%s} %llu\n", hl,
		st[STAT_TICKS]);
	family(f, "pyrograph_agent_dropped_total", "counter",
	       "Samples, events and series the agent lost or refused, by reason.");
	for (size_t i = 0; i < sizeof(drops) / sizeof(drops[0]); i++)
		fprintf(f,
			"pyrograph_agent_dropped_total{%s,reason=\"%s\"} %llu\n",
			hl, drops[i].reason, drops[i].n);
	family(f, "pyrograph_agent_cpu_seconds_total", "counter",
	       "CPU time of the agent itself, user and system.");
	fprintf(f, "pyrograph_agent_cpu_seconds_total{%s} %.3f\n", hl,
		h->cpu_seconds);
	family(f, "pyrograph_agent_targets", "gauge",
	       "Python processes being watched.");
	fprintf(f, "pyrograph_agent_targets{%s} %u\n", hl, h->rec.nprocs_live);
	m->series += 4 + sizeof(drops) / sizeof(drops[0]);
	if (h->uploading) {
		family(f, "pyrograph_agent_uploads_total", "counter",
		       "Profiles uploaded (sent) or refused by the server (rejected).");
		fprintf(f,
			"pyrograph_agent_uploads_total{%s,result=\"sent\"} %llu\n",
			hl, h->sent);
		fprintf(f,
			"pyrograph_agent_uploads_total{%s,result=\"rejected\"} %llu\n",
			hl, h->rejected);
		family(f, "pyrograph_agent_upload_queue_bytes", "gauge",
		       "Profiles waiting to be uploaded, in bytes.");
		fprintf(f, "pyrograph_agent_upload_queue_bytes{%s} %zu\n", hl,
			h->queued_bytes);
		family(f, "pyrograph_agent_upload_failures_total", "counter",
		       "Upload tries that failed, by reason (a profile retried counts at each try).");
		for (int i = 0; i < HTTP_FAIL_N; i++)
			fprintf(f,
				"pyrograph_agent_upload_failures_total{%s,reason=\"%s\"} %llu\n",
				hl, upload_failure_reasons[i], h->upload_failures[i]);
		m->series += 3 + HTTP_FAIL_N;
	}
	family(f, "pyrograph_agent_series", "gauge",
	       "Series in this exposition besides this one (cardinality watch).");
	fprintf(f, "pyrograph_agent_series{%s} %zu\n", hl, m->series);
}

int metrics__write(struct metrics *m, FILE *f)
{
	m->series = 0;
	write_loops(m, f);
	write_procs(m, f);
	write_health(m, f);
	return ferror(f) ? -EIO : 0;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The agent's Prometheus metrics: cumulative figures per process, event
 * loop and await site, written in the text exposition format. Memory is
 * bounded: processes, loops, blocking kinds and sites have caps, and what
 * does not fit is counted (pyrograph_agent_dropped_total) or folded into
 * an "other" series, so a host with churning processes or a program with
 * thousands of await sites cannot blow up the scrape.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report/metrics.h"

#define NBUCKETS_HASH 1024
#define GC_GENS	      4	 /* 0..2, and 3 for anything else a build reports */
#define RSS_READINGS  16 /* one per RSS_EVERY_NS: a bit over a minute */
#define RSS_EVERY_NS  5000000000ULL
#define SITE_LEN      256
#define KIND_LEN      32
#define REFUSED_TIDS  8 /* loop threads refused, remembered to count each once */

struct hist {
	unsigned long long b[LOOP_BUCKETS];
	unsigned long long count;
	double sum; /* seconds */
};

struct loop {
	pid_t tid;
	bool timed; /* the loops map had it (a stall can come first) */
	struct hist lag;
	unsigned long long stalls;
	double stalled;
	struct {
		char kind[KIND_LEN];
		double seconds;
	} blk[METRICS_MAX_KINDS + 1]; /* the last one is "other" */
	int nblk;
};

struct site {
	char name[SITE_LEN];
	struct hist h;
	bool own; /* has its own series (for good: counters must not move) */
};

struct proc {
	pid_t pid;
	struct proc *next;
	char service[128], container[80];
	bool gc_probes, gc_known;
	struct hist gc[GC_GENS];
	struct loop *loops;
	int nloops, cap_loops;
	pid_t refused[REFUSED_TIDS]; /* loop threads beyond the cap */
	int nrefused;
	struct site *sites;
	int nsites, cap_sites, nown;
	struct hist other; /* sites without their own series */
	bool has_other;
	long long rss;
	double cpu;
	bool usage;
	struct {
		unsigned long long t;
		long long rss;
	} readings[RSS_READINGS];
	int nread, rpos;
};

struct metrics {
	char host[256];
	unsigned int max_sites;
	struct proc *buckets[NBUCKETS_HASH];
	unsigned int nprocs;
	unsigned long long dropped_procs, dropped_loops;
	struct metrics_health health;
	bool have_health;
	size_t series;
};

struct metrics *metrics__new(const char *host, unsigned int max_sites)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	snprintf(m->host, sizeof(m->host), "%s", host ? host : "");
	m->max_sites =
		max_sites > METRICS_MAX_SITES ? METRICS_MAX_SITES : max_sites;
	return m;
}

static void proc_free(struct proc *p)
{
	free(p->loops);
	free(p->sites);
	free(p);
}

void metrics__free(struct metrics *m)
{
	if (!m)
		return;
	for (int i = 0; i < NBUCKETS_HASH; i++)
		while (m->buckets[i]) {
			struct proc *p = m->buckets[i];

			m->buckets[i] = p->next;
			proc_free(p);
		}
	free(m);
}

static struct proc **slot(struct metrics *m, pid_t pid)
{
	struct proc **pp = &m->buckets[(unsigned int)pid % NBUCKETS_HASH];

	while (*pp && (*pp)->pid != pid)
		pp = &(*pp)->next;
	return pp;
}

static struct proc *find(struct metrics *m, pid_t pid)
{
	return *slot(m, pid);
}

void metrics__forget(struct metrics *m, pid_t pid)
{
	struct proc **pp = slot(m, pid), *p = *pp;

	if (!p)
		return;
	*pp = p->next;
	proc_free(p);
	m->nprocs--;
}

void metrics__proc(struct metrics *m, pid_t pid, const char *service,
		   const char *container)
{
	struct proc *p;

	metrics__forget(m, pid); /* an exec: a new program under the same pid */
	if (m->nprocs >= METRICS_MAX_PROCS) {
		m->dropped_procs++;
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		m->dropped_procs++;
		return;
	}
	p->pid = pid;
	snprintf(p->service, sizeof(p->service), "%s", service ? service : "");
	snprintf(p->container, sizeof(p->container), "%s",
		 container ? container : "");
	p->next = m->buckets[(unsigned int)pid % NBUCKETS_HASH];
	m->buckets[(unsigned int)pid % NBUCKETS_HASH] = p;
	m->nprocs++;
}

void metrics__proc_gc(struct metrics *m, pid_t pid, bool probes)
{
	struct proc *p = find(m, pid);

	if (p) {
		p->gc_probes = probes;
		p->gc_known = true;
	}
}

/* The kernel's bucket for a length: 0 below 2 us, i for [2^i, 2^(i+1)) us. */
static unsigned int bucket_of(unsigned long long ns)
{
	unsigned long long us = ns / 1000;
	unsigned int b = 0;

	while (us > 1 && b < LOOP_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	return b;
}

static void hist_add(struct hist *h, unsigned long long ns)
{
	h->b[bucket_of(ns)]++;
	h->count++;
	h->sum += ns / 1e9;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * A label value made safe once, where it enters: invalid UTF-8 and control
 * bytes become '?', a literal "other" (the name of the folded series)
 * becomes "other (site)", and a cut never splits a character. Names are
 * compared in this form, so two raw names that would be written alike are
 * one series, never two with the same labels.
 */
static void clean_name(const char *s, char *out, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), k = 0;

	for (size_t i = 0; i < n;) {
		size_t l = utf8_len(u + i, n - i);

		if (!l || (l == 1 && (u[i] < 0x20 || u[i] == 0x7f))) {
			if (k + 1 >= len)
				break;
			out[k++] = '?';
			i++;
			continue;
		}
		if (k + l >= len)
			break;
		memcpy(out + k, u + i, l);
		k += l;
		i += l;
	}
	out[k] = '\0';
	if (!strcmp(out, "other"))
		snprintf(out, len, "other (site)");
}

static struct loop *loop_of(struct metrics *m, struct proc *p, pid_t tid)
{
	for (int i = 0; i < p->nloops; i++)
		if (p->loops[i].tid == tid)
			return &p->loops[i];
	if (p->nloops == METRICS_MAX_LOOPS) {
		/* counted once per thread refused (a few remembered) */
		for (int i = 0; i < REFUSED_TIDS; i++)
			if (p->refused[i] == tid)
				return NULL;
		p->refused[p->nrefused++ % REFUSED_TIDS] = tid;
		m->dropped_loops++;
		return NULL;
	}
	if (p->nloops == p->cap_loops) {
		int cap = p->cap_loops ? 2 * p->cap_loops : 1;
		struct loop *n = realloc(p->loops, cap * sizeof(*n));

		if (!n) {
			m->dropped_loops++;
			return NULL;
		}
		p->loops = n;
		p->cap_loops = cap;
	}
	memset(&p->loops[p->nloops], 0, sizeof(p->loops[0]));
	p->loops[p->nloops].tid = tid;
	return &p->loops[p->nloops++];
}

void metrics__prune(struct metrics *m, pid_t pid,
		    bool (*alive)(void *ctx, pid_t pid, pid_t tid), void *ctx)
{
	struct proc *p = find(m, pid);

	for (int i = 0; p && i < p->nloops;) {
		if (alive(ctx, pid, p->loops[i].tid)) {
			i++;
			continue;
		}
		/* order kept: the exposition lists loops as they came */
		memmove(&p->loops[i], &p->loops[i + 1],
			(p->nloops - i - 1) * sizeof(p->loops[0]));
		p->nloops--;
	}
}

void metrics__loop(struct metrics *m, pid_t tid, const struct loop_state *ls)
{
	struct proc *p = find(m, (pid_t)ls->pid);
	struct loop *l;
	unsigned long long n = 0;

	if (!p || !(l = loop_of(m, p, tid)))
		return;
	/* the map's figures are cumulative already; a count going back means
	 * the tid was reused by a new thread, which Prometheus takes as a
	 * counter reset */
	memcpy(l->lag.b, ls->hist, sizeof(l->lag.b));
	for (int i = 0; i < LOOP_BUCKETS; i++)
		n += ls->hist[i];
	l->lag.count = n;
	l->lag.sum = ls->sum_ns / 1e9;
	l->timed = true;
}

void metrics__stall(struct metrics *m, pid_t pid, pid_t tid,
		    unsigned long long ns)
{
	struct proc *p = find(m, pid);
	struct loop *l = p ? loop_of(m, p, tid) : NULL;

	if (!l)
		return;
	l->stalls++;
	l->stalled += ns / 1e9;
}

void metrics__blocking(struct metrics *m, pid_t pid, pid_t tid,
		       const char *reason, unsigned long long ns)
{
	struct proc *p = find(m, pid);
	struct loop *l = p ? loop_of(m, p, tid) : NULL;
	char raw[KIND_LEN], kind[KIND_LEN];
	size_t len;
	int i;

	if (!l || !reason)
		return;
	/* "[disk I/O]" -> "disk I/O" */
	if (reason[0] == '[')
		reason++;
	len = strcspn(reason, "]");
	snprintf(raw, sizeof(raw), "%.*s",
		 (int)(len < sizeof(raw) ? len : sizeof(raw) - 1), reason);
	clean_name(raw, kind, sizeof(kind));
	for (i = 0; i < l->nblk; i++)
		if (!strcmp(l->blk[i].kind, kind))
			break;
	if (i == l->nblk) {
		if (l->nblk == METRICS_MAX_KINDS) {
			i = METRICS_MAX_KINDS;
			snprintf(l->blk[i].kind, sizeof(l->blk[i].kind),
				 "other");
		} else {
			snprintf(l->blk[i].kind, sizeof(l->blk[i].kind), "%s",
				 kind);
			l->nblk++;
		}
	}
	l->blk[i].seconds += ns / 1e9;
}

void metrics__await(struct metrics *m, pid_t pid, const char *site,
		    unsigned long long ns)
{
	struct proc *p = find(m, pid);
	char name[SITE_LEN];
	int i;

	if (!p || !site)
		return;
	clean_name(site, name, sizeof(name));
	for (i = 0; i < p->nsites; i++)
		if (!strcmp(p->sites[i].name, name))
			break;
	if (i == p->nsites) {
		/* once every own series is handed out, a new site can only
		 * ever be "other" */
		if (p->nown >= (int)m->max_sites ||
		    p->nsites == METRICS_MAX_SITES) {
			hist_add(&p->other, ns);
			p->has_other = true;
			return;
		}
		if (p->nsites == p->cap_sites) {
			int cap = p->cap_sites ? 2 * p->cap_sites : 4;
			struct site *n = realloc(p->sites, cap * sizeof(*n));

			if (!n) {
				hist_add(&p->other, ns);
				p->has_other = true;
				return;
			}
			p->sites = n;
			p->cap_sites = cap;
		}
		memset(&p->sites[i], 0, sizeof(p->sites[i]));
		snprintf(p->sites[i].name, sizeof(p->sites[i].name), "%s",
			 name);
		p->nsites++;
	}
	hist_add(&p->sites[i].h, ns);
}

/*
 * At a scrape, the busiest sites not yet shown get their own series while
 * there is room; the others are shown as "other" from then on. A site is
 * never moved out of "other" (nor into it), so every series only grows.
 */
static void promote_sites(struct metrics *m, struct proc *p)
{
	while (p->nown < (int)m->max_sites) {
		int best = -1;

		for (int i = 0; i < p->nsites; i++)
			if (!p->sites[i].own &&
			    (best < 0 ||
			     p->sites[i].h.count > p->sites[best].h.count))
				best = i;
		if (best < 0)
			return;
		p->sites[best].own = true;
		p->nown++;
	}
}

static void hist_merge(struct hist *to, const struct hist *from)
{
	for (int i = 0; i < LOOP_BUCKETS; i++)
		to->b[i] += from->b[i];
	to->count += from->count;
	to->sum += from->sum;
}

void metrics__gc(struct metrics *m, pid_t pid, int gen, unsigned long long ns)
{
	struct proc *p = find(m, pid);

	if (!p)
		return;
	hist_add(&p->gc[gen >= 0 && gen < GC_GENS - 1 ? gen : GC_GENS - 1], ns);
}

void metrics__usage(struct metrics *m, pid_t pid, long long rss_bytes,
		    double cpu_seconds, unsigned long long mono_ns)
{
	struct proc *p = find(m, pid);

	if (!p)
		return;
	p->rss = rss_bytes;
	p->cpu = cpu_seconds;
	p->usage = true;
	if (p->nread &&
	    mono_ns <
		    p->readings[(p->rpos + RSS_READINGS - 1) % RSS_READINGS].t +
			    RSS_EVERY_NS)
		return;
	p->readings[p->rpos].t = mono_ns;
	p->readings[p->rpos].rss = rss_bytes;
	p->rpos = (p->rpos + 1) % RSS_READINGS;
	if (p->nread < RSS_READINGS)
		p->nread++;
}

void metrics__each_proc(struct metrics *m, void (*fn)(void *ctx, pid_t pid),
			void *ctx)
{
	pid_t *pids = malloc(m->nprocs * sizeof(*pids) + 1);
	unsigned int n = 0;

	if (!pids)
		return;
	/* collected first: fn may forget the process */
	for (int i = 0; i < NBUCKETS_HASH; i++)
		for (struct proc *p = m->buckets[i]; p && n < m->nprocs;
		     p = p->next)
			pids[n++] = p->pid;
	for (unsigned int i = 0; i < n; i++)
		fn(ctx, pids[i]);
	free(pids);
}

void metrics__health(struct metrics *m, const struct metrics_health *h)
{
	m->health = *h;
	m->have_health = true;
}

size_t metrics__series(const struct metrics *m)
{
	return m->series;
}

char *metrics_label_value(const char *s, char *out, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), k = 0;

	if (!len)
		return out;
	for (size_t i = 0; i < n && k + 5 < len;) {
		size_t l = utf8_len(u + i, n - i);

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

/* The labels every per-process series carries. */
static void proc_labels(const struct metrics *m, const struct proc *p,
			char *buf, size_t len)
{
	char host[512], ctr[200], svc[300];

	snprintf(buf, len,
		 "host=\"%s\",container=\"%s\",service=\"%s\",pid=\"%d\"",
		 metrics_label_value(m->host, host, sizeof(host)),
		 metrics_label_value(p->container, ctr, sizeof(ctr)),
		 metrics_label_value(p->service, svc, sizeof(svc)), p->pid);
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

static void write_loops(struct metrics *m, FILE *f)
{
	char pl[1024], l[1200], kind[100];

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
	family(f, "pyrograph_asyncio_await_latency_seconds", "histogram",
	       "How long tasks stayed suspended at an await, by the await's site "
	       "(the busiest sites get their own series; the rest are site=\"other\").");
	EACH_PROC(m, p)
	{
		char site[SITE_LEN * 2 + 8], l2[sizeof(pl) + sizeof(site) + 16];
		struct hist other = p->other;
		bool has_other = p->has_other;

		promote_sites(m, p);
		proc_labels(m, p, pl, sizeof(pl));
		for (int i = 0; i < p->nsites; i++) {
			if (!p->sites[i].own) {
				hist_merge(&other, &p->sites[i].h);
				has_other = true;
				continue;
			}
			snprintf(l2, sizeof(l2), "%s,site=\"%s\"", pl,
				 metrics_label_value(p->sites[i].name, site,
						     sizeof(site)));
			write_hist(m, f,
				   "pyrograph_asyncio_await_latency_seconds",
				   l2, &p->sites[i].h);
		}
		if (has_other) {
			snprintf(l, sizeof(l), "%s,site=\"other\"", pl);
			write_hist(m, f,
				   "pyrograph_asyncio_await_latency_seconds", l,
				   &other);
		}
	}
}

/* One sample of a per-process family, with prec decimals. */
static void proc_value(struct metrics *m, FILE *f, const char *name,
		       const struct proc *p, int prec, double value)
{
	char pl[1024];

	proc_labels(m, p, pl, sizeof(pl));
	fprintf(f, "%s{%s} %.*f\n", name, pl, prec, value);
	m->series++;
}

static void write_procs(struct metrics *m, FILE *f)
{
	char pl[1024], l[1100];

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

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

#include "report/metrics_int.h"

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
	free(p->awaits.v);
	free(p->requests.v);
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

void metrics__proc_pod(struct metrics *m, pid_t pid, const char *ns,
		       const char *pod)
{
	struct proc *p = find(m, pid);

	if (p) {
		snprintf(p->ns, sizeof(p->ns), "%s", ns ? ns : "");
		snprintf(p->pod, sizeof(p->pod), "%s", pod ? pod : "");
	}
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
size_t metrics_utf8_len(const unsigned char *s, size_t n)
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
		size_t l = metrics_utf8_len(u + i, n - i);

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

/* The slot of blocking kind `kind` (already cleaned) of loop l. */
static int blk_slot(struct loop *l, const char *kind)
{
	int i;

	for (i = 0; i < l->nblk; i++)
		if (!strcmp(l->blk[i].kind, kind))
			return i;
	if (l->nblk == METRICS_MAX_KINDS) {
		i = METRICS_MAX_KINDS;
		snprintf(l->blk[i].kind, sizeof(l->blk[i].kind), "other");
	} else {
		snprintf(l->blk[i].kind, sizeof(l->blk[i].kind), "%s", kind);
		l->nblk++;
	}
	return i;
}

void metrics__loop(struct metrics *m, pid_t tid, const struct loop_state *ls)
{
	struct proc *p = find(m, (pid_t)ls->pid);
	struct loop *l;
	unsigned long long n = 0;

	for (int i = 0; i < LOOP_BUCKETS; i++)
		n += ls->hist[i];
	/* a thread seen entering its poll but never back from it has no
	 * iteration to show (and may be no event loop at all) */
	if (!n || !p || !(l = loop_of(m, p, tid)))
		return;
	/* the map's figures are cumulative already; a count going back means
	 * the tid was reused by a new thread, which Prometheus takes as a
	 * counter reset */
	memcpy(l->lag.b, ls->hist, sizeof(l->lag.b));
	l->lag.count = n;
	l->lag.sum = ls->sum_ns / 1e9;
	l->timed = true;
	/* Preemptions send no stack (too many on a busy host): their time is
	 * the kernel's count, cumulative like the rest of the entry. */
	if (ls->preempt_total)
		l->blk[blk_slot(l, "preempted")].seconds = ls->preempt_total / 1e9;
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

	if (!l || !reason)
		return;
	/* "[disk I/O]" -> "disk I/O" */
	if (reason[0] == '[')
		reason++;
	len = strcspn(reason, "]");
	snprintf(raw, sizeof(raw), "%.*s",
		 (int)(len < sizeof(raw) ? len : sizeof(raw) - 1), reason);
	clean_name(raw, kind, sizeof(kind));
	l->blk[blk_slot(l, kind)].seconds += ns / 1e9;
}

/* ns into set under name (a site or endpoint). */
static void site_add(struct metrics *m, struct site_set *set, const char *site,
		     unsigned long long ns)
{
	char name[SITE_LEN];
	int i;

	clean_name(site, name, sizeof(name));
	for (i = 0; i < set->n; i++)
		if (!strcmp(set->v[i].name, name))
			break;
	if (i == set->n) {
		/* once every own series is handed out, a new site can only
		 * ever be "other" */
		if (set->nown >= (int)m->max_sites || set->n == METRICS_MAX_SITES) {
			hist_add(&set->other, ns);
			set->has_other = true;
			return;
		}
		if (set->n == set->cap) {
			int cap = set->cap ? 2 * set->cap : 4;
			struct site *n = realloc(set->v, cap * sizeof(*n));

			if (!n) {
				hist_add(&set->other, ns);
				set->has_other = true;
				return;
			}
			set->v = n;
			set->cap = cap;
		}
		memset(&set->v[i], 0, sizeof(set->v[i]));
		snprintf(set->v[i].name, sizeof(set->v[i].name), "%s", name);
		set->n++;
	}
	hist_add(&set->v[i].h, ns);
}

void metrics__await(struct metrics *m, pid_t pid, const char *site,
		    unsigned long long ns)
{
	struct proc *p = find(m, pid);

	if (p && site)
		site_add(m, &p->awaits, site, ns);
}

void metrics__request(struct metrics *m, pid_t pid, const char *endpoint,
		      unsigned long long ns)
{
	struct proc *p = find(m, pid);

	if (p && endpoint)
		site_add(m, &p->requests, endpoint, ns);
}

/*
 * At a scrape, the busiest sites not yet shown get their own series while
 * there is room; the others are shown as "other" from then on. A site is
 * never moved out of "other" (nor into it), so every series only grows.
 */
void metrics_promote_sites(struct metrics *m, struct site_set *set)
{
	while (set->nown < (int)m->max_sites) {
		int best = -1;

		for (int i = 0; i < set->n; i++)
			if (!set->v[i].own &&
			    (best < 0 || set->v[i].h.count > set->v[best].h.count))
				best = i;
		if (best < 0)
			return;
		set->v[best].own = true;
		set->nown++;
	}
}

void metrics_hist_merge(struct hist *to, const struct hist *from)
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

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <string.h>

#include "model/stacks.h"
#include "report/mem_sink.h"
#include "sys/clock.h"
#include "sys/log.h"
#include "sys/procfs.h"

static void read_rss(struct mem_sink *ms, pid_t pid, unsigned long long now)
{
	long long b = procfs_rss_bytes(pid);

	if (b >= 0)
		memrep__rss(ms->rep, pid, now, b);
}

static void found(void *ctx, const struct session_target *t)
{
	struct mem_sink *ms = ctx;

	memrep__proc(ms->rep, t->pid, t->label, t->version, t->mem_probes);
	for (int i = 0; i < ms->nwatch; i++)
		if (ms->watch[i] == t->pid)
			return;
	if (ms->nwatch < MEM_WATCH_MAX)
		ms->watch[ms->nwatch++] = t->pid;
	read_rss(ms, t->pid, clock_mono_ns());
}

static void event(void *ctx, const struct session_mem_event *m)
{
	struct mem_sink *ms = ctx;
	const struct memrep_stack st = { m->frames, m->n, m->nroot };

	switch (m->type) {
	case EV_MEM:
		memrep__growth(ms->rep, m->pid, &st, m->value, m->ktime);
		break;
	case EV_GC:
		memrep__gc(ms->rep, m->pid, &st, (int)m->aux0,
			   m->value > 0 ? (unsigned long long)m->value : 0, m->aux1);
		break;
	case EV_ALLOC:
		if (m->value > 0)
			memrep__alloc(ms->rep, m->pid, &st, m->value);
		break;
	case EV_LIVE:
		memrep__live(ms->rep, m->pid, &st, (unsigned long long)m->aux0,
			     m->value, m->ktime);
		break;
	case EV_LIVE_FREE:
		memrep__live_free(ms->rep, m->pid, (unsigned long long)m->aux0,
				  m->ktime);
		break;
	case EV_MAP:
		memrep__map(ms->rep, m->pid, &st, (unsigned long long)m->aux0,
			    m->value, m->aux1 != 0, m->ktime);
		break;
	case EV_UNMAP:
		memrep__unmap(ms->rep, m->pid, (unsigned long long)m->aux0,
			      m->value, m->ktime);
		break;
	}
}

/* Every interval, each watched process's RSS; the gone are dropped. */
static int poll_rss(void *ctx)
{
	struct mem_sink *ms = ctx;
	unsigned long long now = clock_mono_ns();

	/* The first pass is the start of the watch (BPF loaded, attached):
	 * intervals count from here. */
	if (!ms->started) {
		ms->started = true;
		ms->start_ns = now;
		ms->next_ns = now + ms->interval_ns;
		memrep__set_start(ms->rep, now);
	}
	/* the last pass is the end: detaching the probes afterwards takes a
	 * while (the kernel waits for their users) */
	ms->end_ns = now;
	if (now < ms->next_ns)
		return 0;
	while (ms->next_ns <= now)
		ms->next_ns += ms->interval_ns;
	for (int i = 0; i < ms->nwatch;) {
		long long b = procfs_rss_bytes(ms->watch[i]);

		if (b < 0) {
			ms->watch[i] = ms->watch[--ms->nwatch];
			continue;
		}
		memrep__rss(ms->rep, ms->watch[i], now, b);
		i++;
	}
	return 0;
}

static void done(void *ctx, const struct session_health *h)
{
	struct mem_sink *ms = ctx;
	const unsigned long long *st = h->stats;
	unsigned long long now = clock_mono_ns();

	for (int i = 0; i < ms->nwatch; i++)
		read_rss(ms, ms->watch[i], now);
	memrep__counts(ms->rep, st[STAT_MEM_EVENTS], st[STAT_MEM_NO_STACK],
		       st[STAT_MEM_LOST], st[STAT_GC_LOST], st[STAT_ALLOC_LOST]);
	memrep__live_counts(ms->rep, st[STAT_LIVE_EVENTS], st[STAT_LIVE_FULL],
			    st[STAT_LIVE_LOST], st[STAT_LIVE_FREE_LOST]);
	memrep__map_counts(ms->rep, st[STAT_MAP_EVENTS], st[STAT_MAP_LOST],
			   st[STAT_UNMAP_LOST]);
	if (st[STAT_MEM_LOST] + st[STAT_GC_LOST] + st[STAT_ALLOC_LOST] +
	    st[STAT_LIVE_LOST] + st[STAT_LIVE_FREE_LOST] + st[STAT_MAP_LOST] +
	    st[STAT_UNMAP_LOST])
		pr_warn("events lost (ring buffer full): %llu memory changes, %llu collections, %llu allocation samples, %llu tracked allocations, %llu frees, %llu mappings, %llu unmappings; try --buffer-size",
			st[STAT_MEM_LOST], st[STAT_GC_LOST], st[STAT_ALLOC_LOST],
			st[STAT_LIVE_LOST], st[STAT_LIVE_FREE_LOST],
			st[STAT_MAP_LOST], st[STAT_UNMAP_LOST]);
	if (st[STAT_MAP_UNCHECKED])
		pr_warn("%llu thread-heap growths not counted: the process's memory map was busy when they were looked at",
			st[STAT_MAP_UNCHECKED]);
	if (st[STAT_LIVE_FULL])
		pr_warn("%llu large allocations not tracked: more than --live-max held at once",
			st[STAT_LIVE_FULL]);
}

double mem_sink_seconds(const struct mem_sink *ms)
{
	return ((ms->end_ns ? ms->end_ns : clock_mono_ns()) - ms->start_ns) / 1e9;
}

void mem_sink_init(struct session_sink *sink, struct mem_sink *ms,
		   struct memrep *rep, unsigned long long interval_ns)
{
	memset(ms, 0, sizeof(*ms));
	ms->rep = rep;
	ms->interval_ns = interval_ns;
	ms->start_ns = clock_mono_ns();
	ms->next_ns = ms->start_ns + interval_ns;
	*sink = (struct session_sink){
		.ctx = ms,
		.found = found,
		.mem = event,
		.poll = poll_rss,
		.done = done,
	};
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph mem's report: what it collects. Everything here comes from the
 * target (the frames' names and files) or from the kernel; nothing is
 * trusted to be short, sorted or well-formed, and every table is bounded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report/memrep_int.h"

struct memrep *memrep__new(struct frame_table *ft,
			   unsigned long long interval_ns,
			   unsigned long long start_ns)
{
	struct memrep *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->ft = ft;
	m->interval_ns = interval_ns ? interval_ns : 1000000000ULL;
	m->start_ns = start_ns;
	stacks_init(&m->st);
	profile_init(&m->growth_out, ft);
	profile_init(&m->live_out, ft);
	profile_init(&m->alloc_out, ft);
	return m;
}

void memrep__free(struct memrep *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nprocs; i++) {
		struct mproc *p = &m->procs[i];

		free(p->label);
		free(p->version);
		free(p->rss);
		free(p->heap);
		for (int g = 0; g < GC_GENS; g++)
			free(p->gen[g].ns);
	}
	free(m->procs);
	for (size_t i = 0; i < m->st.n; i++) {
		free(m->figs[i].iv);
		free(m->figs[i].liv);
	}
	free(m->figs);
	stacks_free(&m->st);
	free(m->ltab);
	profile_free(&m->growth_out);
	profile_free(&m->live_out);
	profile_free(&m->alloc_out);
	free(m->text);
	free(m);
}

static struct mproc *proc_get(struct memrep *m, pid_t pid, bool add)
{
	struct mproc *n;

	for (size_t i = 0; i < m->nprocs; i++)
		if (m->procs[i].pid == pid)
			return &m->procs[i];
	if (!add || m->nprocs >= MAX_PROCS)
		return NULL;
	n = realloc(m->procs, (m->nprocs + 1) * sizeof(*n));
	if (!n)
		return NULL;
	m->procs = n;
	n = &m->procs[m->nprocs++];
	memset(n, 0, sizeof(*n));
	n->pid = pid;
	n->rss_every = 1;
	n->first_rss = -1;
	return n;
}

void memrep__proc(struct memrep *m, pid_t pid, const char *label,
		  const char *version, int probes)
{
	struct mproc *p = proc_get(m, pid, true);

	if (!p)
		return;
	free(p->label);
	free(p->version);
	p->label = strdup(label ? label : "");
	p->version = strdup(version ? version : "");
	p->probes = probes;
}

void memrep__rss(struct memrep *m, pid_t pid, unsigned long long mono_ns,
		 long long bytes)
{
	struct mproc *p = proc_get(m, pid, false);

	if (!p || bytes < 0)
		return;
	if (p->first_rss < 0)
		p->first_rss = bytes;
	p->last_rss = bytes;
	if (bytes > p->peak_rss)
		p->peak_rss = bytes;
	if (p->rss_skip++ % p->rss_every)
		return;
	if (p->nrss == MAX_RSS) {
		/* keep every other reading, and from now on every other one */
		for (size_t i = 0; i < MAX_RSS / 2; i++)
			p->rss[i] = p->rss[2 * i];
		p->nrss = MAX_RSS / 2;
		p->rss_every *= 2;
	}
	if (p->nrss == p->cap_rss) {
		size_t cap = p->cap_rss ? 2 * p->cap_rss : 64;
		void *n = realloc(p->rss, cap * sizeof(*p->rss));

		if (!n)
			return;
		p->rss = n;
		p->cap_rss = cap;
	}
	p->rss[p->nrss].t = mono_ns;
	p->rss[p->nrss].bytes = bytes;
	p->nrss++;
}

/*
 * The id of stack s, interned (its figures zeroed, charged to pid) if new
 * and within MAX_STACKS; -1 when it is not itemised: beyond the bound, out
 * of memory, or no stack at all.
 */
static long stack_get(struct memrep *m, pid_t pid, const struct memrep_stack *s)
{
	size_t before = m->st.n;
	long id;

	if (!s || !s->n)
		return -1;
	if (m->st.n >= MAX_STACKS)
		return stacks_find(&m->st, s->f, s->n);
	if (m->st.n == m->figs_cap) {
		size_t cap = m->figs_cap ? 2 * m->figs_cap : 64;
		struct mstack *nf = realloc(m->figs, cap * sizeof(*nf));

		if (!nf)
			return stacks_find(&m->st, s->f, s->n);
		m->figs = nf;
		m->figs_cap = cap;
	}
	id = stacks_add(&m->st, s->f, s->n);
	if (id < 0)
		return -1;
	if (m->st.n > before) {
		memset(&m->figs[id], 0, sizeof(m->figs[id]));
		m->figs[id].pid = pid;
		m->figs[id].nroot = s->nroot < s->n ? s->nroot : s->n;
	}
	return id;
}

frame_id mem_leaf(const struct stack_table *st, stack_id id)
{
	uint32_t n;
	const frame_id *f = stacks_get(st, id, &n);

	return n ? f[n - 1] : FRAME_NONE;
}

const char *mem_text(struct memrep *m, const frame_id *f, uint32_t n)
{
	/* the frames' texts and a ';' after each, and the two bytes of room
	 * stacks_text keeps: what it needs to write them all; longer ones are
	 * cut at MEM_TEXT_MAX */
	size_t need = 2;

	for (uint32_t i = 0; i < n && need < MEM_TEXT_MAX; i++)
		need += strlen(frame_text(m->ft, f[i])) + 1;
	if (need > MEM_TEXT_MAX)
		need = MEM_TEXT_MAX;
	if (need > m->text_cap) {
		size_t cap = need < 2 * m->text_cap ? 2 * m->text_cap : need;
		char *t = realloc(m->text, cap < MEM_TEXT_MAX ? cap : MEM_TEXT_MAX);

		if (!t)
			return "";
		m->text = t;
		m->text_cap = cap < MEM_TEXT_MAX ? cap : MEM_TEXT_MAX;
	}
	stacks_text(m->ft, f, n, m->text, m->text_cap);
	return m->text;
}

const char *mem_text_below_root(struct memrep *m, const frame_id *f,
				uint32_t n, uint32_t nroot)
{
	/* a stack of root frames only is shown whole */
	return nroot < n ? mem_text(m, f + nroot, n - nroot) : mem_text(m, f, n);
}

static size_t interval_of(const struct memrep *m, unsigned long long t)
{
	unsigned long long k = t > m->start_ns ? (t - m->start_ns) / m->interval_ns : 0;

	return k >= MAX_INTERVALS ? MAX_INTERVALS - 1 : (size_t)k;
}

/* Adds bytes to (*iv)[k], growing the array to k + 1. */
static void iv_add(long long **iv, size_t *n, size_t k, long long bytes)
{
	if (k >= *n) {
		long long *v = realloc(*iv, (k + 1) * sizeof(*v));

		if (!v)
			return;
		memset(v + *n, 0, (k + 1 - *n) * sizeof(*v));
		*iv = v;
		*n = k + 1;
	}
	(*iv)[k] += bytes;
}

void memrep__growth(struct memrep *m, pid_t pid, const struct memrep_stack *s,
		    long long bytes, unsigned long long mono_ns)
{
	struct mproc *p = proc_get(m, pid, false);
	struct mstack *ms;
	long id;

	if (!p || !bytes)
		return;
	if (bytes > 0)
		p->grown += bytes;
	else
		p->returned -= bytes;
	/* With the held view of mappings, what is given back is taken off
	 * whoever took it there; resident pages returned are the process's,
	 * not the stack's that happens to run (issue 18: frees charged to
	 * <module>). */
	if (m->held == MEMREP_HELD_MAPS && bytes < 0)
		return;
	id = stack_get(m, pid, s);
	if (id < 0) {
		m->folded += bytes;
		return;
	}
	ms = &m->figs[id];
	ms->net += bytes;
	if (bytes > 0)
		ms->grown += bytes;
	else
		ms->returned -= bytes;
	iv_add(&ms->iv, &ms->niv, interval_of(m, mono_ns), bytes);
}

static unsigned int log2_bucket(unsigned long long us)
{
	unsigned int b = 0;

	while (us > 1 && b < GC_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	return b;
}

void memrep__gc(struct memrep *m, pid_t pid, const struct memrep_stack *s,
		int gen, unsigned long long ns, long long collected)
{
	struct mproc *p = proc_get(m, pid, false);
	struct gc_gen *g;
	long id;

	if (!p)
		return;
	if (gen < 0 || gen >= GC_GENS) {
		p->gc_other++;
		return;
	}
	g = &p->gen[gen];
	g->count++;
	g->sum_ns += ns;
	if (ns > g->max_ns)
		g->max_ns = ns;
	if (collected > 0)
		g->collected += collected;
	g->hist[log2_bucket(ns / 1000)]++;
	if (g->n == g->cap && g->cap < GC_KEEP) {
		size_t cap = g->cap ? 2 * g->cap : 64;
		unsigned long long *n = realloc(g->ns, cap * sizeof(*n));

		if (n) {
			g->ns = n;
			g->cap = cap;
		}
	}
	if (g->n < g->cap)
		g->ns[g->n++] = ns;
	id = stack_get(m, pid, s);
	if (id >= 0)
		m->figs[id].gcs++;
}

/* Samples of processes not announced count too: the allocation probes
 * are placed in one process only. */
void memrep__alloc(struct memrep *m, pid_t pid, const struct memrep_stack *s,
		   unsigned long long bytes)
{
	long id = stack_get(m, pid, s);

	if (id < 0)
		return;
	m->figs[id].allocs++;
	m->figs[id].alloc_bytes += bytes;
}

/* ---- live tracking (--live) ---- */

static size_t lslot(const struct memrep *m, pid_t pid, unsigned long long addr)
{
	/* allocator addresses share their low bits: mixed */
	return hash_mix(addr ^ ((unsigned long long)(unsigned int)pid << 47)) &
	       (m->lcap - 1);
}

static struct lentry *lfind(struct memrep *m, pid_t pid, unsigned long long addr)
{
	size_t i;

	if (!m->lcap)
		return NULL;
	for (i = lslot(m, pid, addr); m->ltab[i].used; i = (i + 1) & (m->lcap - 1))
		if (m->ltab[i].addr == addr && m->ltab[i].pid == pid)
			return &m->ltab[i];
	return NULL;
}

/* Removes e, shifting later entries of its probe run back (no tombstones). */
static void ldel(struct memrep *m, struct lentry *e)
{
	size_t i = e - m->ltab, j = i;

	for (;;) {
		size_t h;

		j = (j + 1) & (m->lcap - 1);
		if (!m->ltab[j].used)
			break;
		h = lslot(m, m->ltab[j].pid, m->ltab[j].addr);
		/* j may fill the hole at i unless its home lies in (i, j] */
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		m->ltab[i] = m->ltab[j];
		i = j;
	}
	m->ltab[i].used = false;
	m->ln--;
}

static int lgrow(struct memrep *m)
{
	size_t ocap = m->lcap;
	struct lentry *old = m->ltab;

	m->lcap = ocap ? 2 * ocap : 4096;
	m->ltab = calloc(m->lcap, sizeof(*m->ltab));
	if (!m->ltab) {
		m->ltab = old;
		m->lcap = ocap;
		return -ENOMEM;
	}
	for (size_t i = 0; i < ocap; i++) {
		size_t j;

		if (!old[i].used)
			continue;
		j = lslot(m, old[i].pid, old[i].addr);
		while (m->ltab[j].used)
			j = (j + 1) & (m->lcap - 1);
		m->ltab[j] = old[i];
	}
	free(old);
	return 0;
}

/* bytes of what stack holds are given back, as of mono_ns. */
static void held_release(struct memrep *m, stack_id stack, long long bytes,
			 unsigned long long mono_ns)
{
	if (stack != MEM_NO_STACK) {
		struct mstack *s = &m->figs[stack];

		s->live -= bytes;
		s->lfreed += bytes;
		iv_add(&s->liv, &s->nliv, interval_of(m, mono_ns), -bytes);
	} else {
		m->live_folded -= bytes;
	}
}

/* bytes now held by stack s of pid (the stack's id, or MEM_NO_STACK when
 * it is not itemised). */
static stack_id held_take(struct memrep *m, pid_t pid, const struct memrep_stack *s,
			  long long bytes, unsigned long long mono_ns)
{
	long id = stack_get(m, pid, s);
	struct mstack *ms;

	if (id < 0) {
		m->live_folded += bytes;
		return MEM_NO_STACK;
	}
	ms = &m->figs[id];
	ms->live += bytes;
	ms->lalloc += bytes;
	iv_add(&ms->liv, &ms->nliv, interval_of(m, mono_ns), bytes);
	return (stack_id)id;
}

/* e's bytes are no longer held, as of mono_ns. */
static void lrelease(struct memrep *m, struct lentry *e, unsigned long long mono_ns)
{
	held_release(m, e->stack, e->bytes, mono_ns);
	ldel(m, e);
}

/* A new entry for addr; NULL when the table is full. */
static struct lentry *ladd(struct memrep *m, pid_t pid, unsigned long long addr)
{
	size_t i;

	if (m->ln >= m->live_max ||
	    ((m->ln + 1) * 10 > m->lcap * 7 && lgrow(m))) {
		m->loverflow++;
		return NULL;
	}
	for (i = lslot(m, pid, addr); m->ltab[i].used; i = (i + 1) & (m->lcap - 1))
		;
	m->ln++;
	m->ltab[i] = (struct lentry){ .addr = addr, .pid = pid, .used = true,
				      .stack = MEM_NO_STACK };
	return &m->ltab[i];
}

void memrep__live(struct memrep *m, pid_t pid, const struct memrep_stack *s,
		  unsigned long long addr, long long bytes,
		  unsigned long long mono_ns)
{
	struct lentry *e;

	if (!proc_get(m, pid, false) || bytes <= 0 || !s || !s->n)
		return;
	e = lfind(m, pid, addr);
	if (e) /* its free was lost: it is gone now */
		lrelease(m, e, mono_ns);
	e = ladd(m, pid, addr);
	if (!e)
		return;
	e->bytes = bytes;
	e->stack = held_take(m, pid, s, bytes, mono_ns);
}

void memrep__live_free(struct memrep *m, pid_t pid, unsigned long long addr,
		       unsigned long long mono_ns)
{
	struct lentry *e = lfind(m, pid, addr);

	if (e)
		lrelease(m, e, mono_ns);
}

void memrep__set_live(struct memrep *m, unsigned long long min_bytes,
		      size_t max_held)
{
	m->live_min = min_bytes;
	if (min_bytes)
		m->held = MEMREP_HELD_MALLOC;
	m->live_max = max_held && max_held < MAX_LIVE ? max_held : MAX_LIVE;
}

void memrep__live_counts(struct memrep *m, unsigned long long tracked,
			 unsigned long long map_full, unsigned long long lost,
			 unsigned long long frees_lost)
{
	m->ltracked = tracked;
	m->lfull = map_full;
	m->llost = lost;
	m->lfree_lost = frees_lost;
}

void memrep__counts(struct memrep *m, unsigned long long changes,
		    unsigned long long no_stack, unsigned long long lost_changes,
		    unsigned long long lost_gc, unsigned long long lost_alloc)
{
	m->changes = changes;
	m->no_stack = no_stack;
	m->lost_changes = lost_changes;
	m->lost_gc = lost_gc;
	m->lost_alloc = lost_alloc;
}

void memrep__set_alloc_period(struct memrep *m, unsigned long long bytes)
{
	m->alloc_period = bytes;
}

void memrep__set_duration(struct memrep *m, double seconds)
{
	m->seconds = seconds;
}

void memrep__set_start(struct memrep *m, unsigned long long start_ns)
{
	m->start_ns = start_ns;
}

/* ---- the profiles of the flame graph and collapsed outputs ---- */

enum out_weight { W_GROWTH, W_LIVE, W_ALLOC };

/* out made anew: every stack with a weight of kind w. */
static struct profile *fill(struct memrep *m, struct profile *out,
			    enum out_weight w)
{
	profile_free(out);
	profile_init(out, m->ft);
	for (size_t i = 0; i < m->st.n; i++) {
		const struct mstack *s = &m->figs[i];
		uint64_t v, count = 1;
		const frame_id *f;
		uint32_t n;

		switch (w) {
		case W_GROWTH:
			if (s->net <= 0)
				continue;
			v = (uint64_t)s->net;
			break;
		case W_LIVE:
			if (s->live <= 0)
				continue;
			v = (uint64_t)s->live;
			break;
		default: /* a sample of no bytes still lists its stack */
			if (!s->allocs)
				continue;
			v = s->alloc_bytes;
			count = s->allocs;
		}
		f = mem_frames(m, (stack_id)i, &n);
		if (profile_add(out, f, n, v, count))
			return NULL;
	}
	return out;
}

struct profile *memrep__growth_stacks(struct memrep *m)
{
	return fill(m, &m->growth_out, W_GROWTH);
}

struct profile *memrep__live_stacks(struct memrep *m)
{
	return fill(m, &m->live_out, W_LIVE);
}

struct profile *memrep__alloc_stacks(struct memrep *m)
{
	return fill(m, &m->alloc_out, W_ALLOC);
}

/* ---- held maps: memory taken from the kernel until given back ---- */

void memrep__set_held(struct memrep *m, enum memrep_held held)
{
	m->held = held;
	if (!m->live_max)
		m->live_max = MAX_LIVE;
}

/* The heap's top shrank to addr: taken off its top extents' stacks. */
static bool heap_shrink(struct memrep *m, struct mproc *p, unsigned long long addr,
			unsigned long long mono_ns)
{
	bool any = false;

	while (p->nheap && p->heap[p->nheap - 1].end > addr) {
		struct heap_ext *top = &p->heap[p->nheap - 1];
		unsigned long long lo = top->start > addr ? top->start : addr;

		held_release(m, top->stack, (long long)(top->end - lo), mono_ns);
		p->given += (long long)(top->end - lo);
		top->end = lo;
		if (top->end <= top->start)
			p->nheap--;
		any = true;
	}
	return any;
}

/* The heap grew by [addr, addr + bytes): a new top extent, or the top one
 * longer when the same stack grew it. */
static void heap_grow(struct memrep *m, struct mproc *p, const struct memrep_stack *s,
		      unsigned long long addr, long long bytes,
		      unsigned long long mono_ns)
{
	struct heap_ext *top;
	stack_id id;

	/* growth from below the top: a shrink was lost on the way */
	if (p->nheap && p->heap[p->nheap - 1].end > addr)
		heap_shrink(m, p, addr, mono_ns);
	if (p->nheap == p->cap_heap) {
		size_t cap = p->cap_heap ? 2 * p->cap_heap : 16;
		struct heap_ext *n = NULL;

		if (cap <= MAX_HEAP_EXT)
			n = realloc(p->heap, cap * sizeof(*n));
		if (!n) { /* a full list: not itemised, as a full table */
			m->loverflow++;
			return;
		}
		p->heap = n;
		p->cap_heap = cap;
	}
	id = held_take(m, p->pid, s, bytes, mono_ns);
	top = p->nheap ? &p->heap[p->nheap - 1] : NULL;
	if (top && top->end == addr && top->stack == id)
		top->end += bytes;
	else
		p->heap[p->nheap++] = (struct heap_ext){ addr, addr + bytes, id };
}

void memrep__map(struct memrep *m, pid_t pid, const struct memrep_stack *s,
		 unsigned long long addr, long long bytes, bool heap,
		 unsigned long long mono_ns)
{
	struct mproc *p = proc_get(m, pid, false);

	if (!p || bytes <= 0 || bytes > (1LL << 46) || !s || !s->n)
		return;
	p->taken += bytes;
	if (heap) {
		heap_grow(m, p, s, addr, bytes, mono_ns);
		return;
	}
	memrep__live(m, pid, s, addr, bytes, mono_ns);
}

/*
 * [addr, addr + bytes) given back: the mappings that begin there, one
 * after the other (an unmapping may span several, or the head of one),
 * else the heap's top.
 */
void memrep__unmap(struct memrep *m, pid_t pid, unsigned long long addr,
		   long long bytes, unsigned long long mono_ns)
{
	struct mproc *p = proc_get(m, pid, false);
	unsigned long long end;
	bool any = false;

	if (!p || bytes <= 0 || bytes > (1LL << 46))
		return;
	end = addr + (unsigned long long)bytes;
	/* bounded: each pass takes one whole entry or ends */
	while (addr < end) {
		struct lentry *e = lfind(m, pid, addr);
		struct lentry moved;

		if (!e)
			break;
		any = true;
		if (e->bytes <= (long long)(end - addr)) {
			addr += e->bytes;
			p->given += e->bytes;
			lrelease(m, e, mono_ns);
			continue;
		}
		/* its head only: the rest stays its maker's, at its new start */
		moved = *e;
		held_release(m, e->stack, (long long)(end - addr), mono_ns);
		p->given += (long long)(end - addr);
		ldel(m, e);
		moved.addr = end;
		moved.bytes -= (long long)(end - addr);
		e = ladd(m, pid, moved.addr);
		if (e)
			*e = moved;
		else
			held_release(m, moved.stack, moved.bytes, mono_ns);
		addr = end;
	}
	if (addr < end && p->nheap && addr >= p->heap[0].start &&
	    end >= p->heap[p->nheap - 1].end)
		any |= heap_shrink(m, p, addr, mono_ns);
	if (!any)
		m->unmatched++;
}

void memrep__map_counts(struct memrep *m, unsigned long long sent,
			unsigned long long lost, unsigned long long unmaps_lost)
{
	m->maps_sent = sent;
	m->maps_lost = lost;
	m->unmaps_lost = unmaps_lost;
}

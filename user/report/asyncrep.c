// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The asyncio report: loop lag, stalls with the stack responsible, and
 * blocking calls made from coroutines.
 *
 * Stacks arrive in ring-buffer order, which is reservation order: every
 * sample and off-CPU interval inside an iteration was queued before the
 * stall that ends it (the thread had to come back and reach its poll). So
 * each loop thread keeps a short buffer of its recent stacks, and a stall
 * takes the ones inside its time span and discards everything before.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report/asyncrep.h"
#include "model/frames.h"
#include "model/intern.h"
#include "model/json.h"

#define MAX_TIDS 1024	    /* loop threads followed at once */
#define TBUF_MAX 16384	    /* stacks buffered per loop thread */
#define TBUF_AGE_NS (30ULL * 1000000000ULL) /* older ones cannot matter */
#define MAX_STALLS 10000    /* kept; more are counted */
#define STALL_STACKS 64	    /* distinct stacks kept per stall */
#define MAX_LOOPS 4096
#define MAX_FRAMES 1024	    /* parsed per stack */
#define TEXT_STALLS 20	    /* printed in the text report */
#define TEXT_SITES 30
#define DIST_KEEP 20000	    /* durations kept per coroutine or site */
#define TASKS 65536	    /* tasks remembered for sequential awaits */
#define MAX_DISTS 100000    /* coroutines + await sites + pairs */
#define MIN_PAIR_NS 1000000ULL /* an await worth gathering: 1 ms or more */

struct tev {
	unsigned long long start, ns;
	unsigned int stack; /* intern id */
	bool oncpu;
};

struct tbuf {
	pid_t tid;
	size_t n, cap;
	struct tev *ev;
};

struct stall_stack {
	unsigned int stack;
	unsigned long long cpu_ns, off_ns;
};

struct stall {
	pid_t pid, tid;
	unsigned long long start, ns, off_ns;
	unsigned long long ev_cpu_ns, ev_block_ns; /* from the stacks */
	size_t n;
	struct stall_stack st[STALL_STACKS];
};

struct site {
	pid_t pid;
	unsigned int stack; /* the first stack seen here, as an example */
	unsigned long long count, total_ns, max_ns;
};

struct loop {
	pid_t pid, tid;
	char comm[TASK_COMM_LEN + 1];
	struct loop_state ls;
};

struct proc {
	pid_t pid;
	char *label;
	bool uvloop;
};

/* Durations: every one counted, up to DIST_KEEP kept (reservoir sample)
 * for the percentiles. */
struct dist {
	pid_t pid;
	unsigned long long count, total_ns, max_ns;
	unsigned long long *ns;
	size_t n, cap;
	/* pairs of sequential awaits: the second site's durations */
	unsigned long long total_b_ns;
};

/* A task's previous suspension, for sequential awaits. */
struct task_slot {
	unsigned long long coro;
	pid_t pid;
	unsigned int chain; /* intern id in chains + 1; 0: empty */
	unsigned long long ns;
};

struct asyncrep {
	unsigned long long stall_ns;
	unsigned long long mono0, wall0;
	double seconds;
	struct intern stacks;
	struct tbuf tids[MAX_TIDS];
	size_t ntids;
	struct stall *stalls;
	size_t nstalls, cap_stalls;
	struct intern site_keys; /* "pid;site;reason" -> index into sites */
	struct site *sites;
	size_t nsites, cap_sites;
	struct loop *loops;
	size_t nloops, cap_loops;
	struct proc *procs;
	size_t nprocs, cap_procs;
	struct stackagg *stall_agg;
	struct intern step_keys, chains, pair_keys;
	struct dist *step_d, *await_d, *pair_d;
	size_t nstep_d, cap_step_d, nawait_d, cap_await_d, npair_d, cap_pair_d;
	struct task_slot *tasks;
	unsigned long long rng;
	unsigned long long steps_seen, resumes_seen;
	asyncrep_source_fn source;
	void *source_ctx;
	/* what could not be kept, shown in the report */
	unsigned long long lost_stacks, lost_stalls, lost_other;
};

struct asyncrep *asyncrep__new(unsigned long long stall_ns)
{
	struct asyncrep *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->stall_ns = stall_ns;
	a->rng = 0x9e3779b97f4a7c15ULL;
	a->stall_agg = stackagg__new();
	if (!a->stall_agg) {
		free(a);
		return NULL;
	}
	return a;
}

void asyncrep__free(struct asyncrep *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->ntids; i++)
		free(a->tids[i].ev);
	for (size_t i = 0; i < a->nprocs; i++)
		free(a->procs[i].label);
	free(a->procs);
	free(a->stalls);
	free(a->sites);
	free(a->loops);
	intern_free(&a->stacks);
	intern_free(&a->site_keys);
	for (size_t i = 0; i < a->nstep_d; i++)
		free(a->step_d[i].ns);
	for (size_t i = 0; i < a->nawait_d; i++)
		free(a->await_d[i].ns);
	for (size_t i = 0; i < a->npair_d; i++)
		free(a->pair_d[i].ns);
	free(a->step_d);
	free(a->await_d);
	free(a->pair_d);
	free(a->tasks);
	intern_free(&a->step_keys);
	intern_free(&a->chains);
	intern_free(&a->pair_keys);
	stackagg__free(a->stall_agg);
	free(a);
}

void asyncrep__set_clock(struct asyncrep *a, unsigned long long mono_ns,
			 unsigned long long wall_ns)
{
	a->mono0 = mono_ns;
	a->wall0 = wall_ns;
}

void asyncrep__set_duration(struct asyncrep *a, double seconds)
{
	a->seconds = seconds;
}

/* Grows *arr (elements of size sz) to hold at least want; false on ENOMEM. */
static bool grow(void **arr, size_t *cap, size_t want, size_t sz)
{
	size_t n = *cap ? *cap : 16;
	void *p;

	if (want <= *cap)
		return true;
	while (n < want)
		n *= 2;
	p = realloc(*arr, n * sz);
	if (!p)
		return false;
	*arr = p;
	*cap = n;
	return true;
}

static struct proc *proc_find(struct asyncrep *a, pid_t pid)
{
	for (size_t i = 0; i < a->nprocs; i++)
		if (a->procs[i].pid == pid)
			return &a->procs[i];
	return NULL;
}

void asyncrep__proc(struct asyncrep *a, pid_t pid, const char *label,
		    bool uvloop)
{
	struct proc *p = proc_find(a, pid);
	char *l = strdup(label ? label : "?");

	if (!l) {
		a->lost_other++;
		return;
	}
	if (p) {
		/* a new image in the same process (exec) */
		free(p->label);
	} else {
		if (!grow((void **)&a->procs, &a->cap_procs, a->nprocs + 1,
			  sizeof(*a->procs))) {
			free(l);
			a->lost_other++;
			return;
		}
		p = &a->procs[a->nprocs++];
		p->pid = pid;
	}
	p->label = l;
	p->uvloop = uvloop;
}

void asyncrep__proc_uvloop(struct asyncrep *a, pid_t pid)
{
	struct proc *p = proc_find(a, pid);

	if (p)
		p->uvloop = true;
}

static struct tbuf *tbuf_get(struct asyncrep *a, pid_t tid, bool add)
{
	for (size_t i = 0; i < a->ntids; i++)
		if (a->tids[i].tid == tid)
			return &a->tids[i];
	if (!add || a->ntids >= MAX_TIDS)
		return NULL;
	a->tids[a->ntids] = (struct tbuf){ .tid = tid };
	return &a->tids[a->ntids++];
}

/* Drops the first k events of b. */
static void tbuf_drop(struct tbuf *b, size_t k)
{
	if (k > b->n)
		k = b->n;
	if (!k)
		return;
	memmove(b->ev, b->ev + k, (b->n - k) * sizeof(*b->ev));
	b->n -= k;
}

static void add_site(struct asyncrep *a, pid_t pid, unsigned int stack,
		     unsigned long long ns);

int asyncrep__stack(struct asyncrep *a, pid_t pid, pid_t tid,
		    const char *stack, bool oncpu, unsigned long long start,
		    unsigned long long ns)
{
	struct tbuf *b = tbuf_get(a, tid, true);
	long id;

	if (!b) {
		a->lost_stacks++;
		return -ENOMEM;
	}
	if (b->n == b->cap) {
		size_t k = 0;

		/* Age out first; only a thread that sends a flood of stacks
		 * without a stall in 30 s loses its oldest half. */
		while (k < b->n && b->ev[k].start + TBUF_AGE_NS < start)
			k++;
		if (!k && b->n >= TBUF_MAX) {
			k = b->n / 2;
			a->lost_stacks += k;
		}
		tbuf_drop(b, k);
		if (b->n == b->cap &&
		    !grow((void **)&b->ev, &b->cap, b->n + 1, sizeof(*b->ev))) {
			a->lost_stacks++;
			return -ENOMEM;
		}
	}
	id = intern_id(&a->stacks, stack, strlen(stack));
	if (id < 0) {
		a->lost_stacks++;
		return -ENOMEM;
	}
	b->ev[b->n++] = (struct tev){ .start = start, .ns = ns,
				      .stack = (unsigned int)id, .oncpu = oncpu };
	if (!oncpu)
		add_site(a, pid, (unsigned int)id, ns);
	return 0;
}

/* Frames of a folded stack: pointers into s, lengths in lens. */
static size_t split(const char *s, const char **fr, size_t *lens, size_t max)
{
	size_t n = 0;

	while (*s && n < max) {
		const char *semi = strchr(s, ';');
		size_t l = semi ? (size_t)(semi - s) : strlen(s);

		fr[n] = s;
		lens[n++] = l;
		if (!semi)
			break;
		s = semi + 1;
	}
	return n;
}

/* What a stack says: its Python leaf (call site), the reason of an
 * off-CPU stack, and the coroutine the loop was running. */
struct stack_info {
	struct frame_parts leaf, app, coro, reason;
	bool has_leaf, has_app, has_coro, has_reason;
	const char *frames[MAX_FRAMES];
	size_t lens[MAX_FRAMES];
	size_t n, first_py; /* first_py: index of the first Python frame */
	size_t coro_idx;    /* index of coro in frames */
};

static bool in_dir(const struct frame_parts *p, const char *dir)
{
	size_t dl = strlen(dir);

	if (!p->file || p->file_len < dl)
		return false;
	for (size_t i = 0; i + dl <= p->file_len; i++)
		if (!memcmp(p->file + i, dir, dl))
			return true;
	return false;
}

static bool loop_machinery(const struct frame_parts *p)
{
	return in_dir(p, "/asyncio/") || in_dir(p, "/uvloop/");
}

static void stack_info(const char *s, struct stack_info *si)
{
	struct frame_parts p;
	long loop_start = -1;

	memset(si, 0, offsetof(struct stack_info, frames));
	si->n = split(s, si->frames, si->lens, MAX_FRAMES);
	si->first_py = si->n;
	for (size_t i = 0; i < si->n; i++) {
		frame_parse(si->frames[i], si->lens[i], i == 0, &p);
		if (p.kind == FRAME_SYNTHETIC) {
			/* the leaf of an off-CPU stack; [truncated] and the
			 * like sit at the outer end */
			if (i == si->n - 1 && i > 0) {
				si->reason = p;
				si->has_reason = true;
			}
			continue;
		}
		if (p.kind != FRAME_PYTHON)
			continue;
		if (si->first_py == si->n)
			si->first_py = i;
		si->leaf = p;
		si->has_leaf = true;
		if (frame_origin(p.file, p.file_len) == ORIGIN_APP) {
			si->app = p;
			si->has_app = true;
		}
		/*
		 * The coroutine a task step ran: the first frame after the
		 * loop's own (asyncio's run_forever/_run_once/Handle._run;
		 * uvloop's are compiled and only asyncio.run's show).
		 */
		if (loop_machinery(&p)) {
			if (loop_start < 0)
				loop_start = i;
		} else if (loop_start >= 0 && !si->has_coro) {
			si->coro = p;
			si->coro_idx = i;
			si->has_coro = true;
		}
	}
}

static const char *advice_for(const char *reason, size_t len, bool cpu)
{
	static const struct {
		const char *reason, *advice;
	} tab[] = {
		{ "[sleep]", "time.sleep() blocks the event loop: use await asyncio.sleep()" },
		{ "[disk I/O]", "file I/O blocks the event loop: use aiofiles, or await asyncio.to_thread(...)" },
		{ "[network]", "a blocking socket call in a coroutine: use the loop's streams or an async client, or asyncio.to_thread(...)" },
		{ "[lock]", "a threading lock blocks the event loop: use asyncio.Lock, or asyncio.to_thread(...)" },
		{ "[child wait]", "waiting for a subprocess: use asyncio.create_subprocess_exec()" },
		{ "[GIL wait]", "another thread holds the GIL: move CPU-bound threads to a process pool" },
		{ "[page fault]", "page faults (memory-mapped files, swap): touch the memory off the loop thread" },
		{ "[preempted]", "the loop thread waited for a CPU: the host is overloaded" },
	};

	if (cpu)
		return "CPU-bound work in a coroutine: run it with loop.run_in_executor() (a ProcessPoolExecutor for pure Python) or split it up";
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strlen(tab[i].reason) == len &&
		    !memcmp(tab[i].reason, reason, len))
			return tab[i].advice;
	return "a blocking call in a coroutine: run it with asyncio.to_thread() or loop.run_in_executor()";
}

/* A blocking call: off the CPU, not merely preempted, inside a step. */
static bool is_blocking(const struct stack_info *si)
{
	return si->has_reason &&
	       !(si->reason.name_len == 11 &&
		 !memcmp(si->reason.name, "[preempted]", 11));
}

static void add_site(struct asyncrep *a, pid_t pid, unsigned int stack,
		     unsigned long long ns)
{
	const char *s = a->stacks.s[stack];
	struct stack_info *si = malloc(sizeof(*si));
	char key[1024];
	struct site *st;
	long id;
	int l;

	if (!si) {
		a->lost_other++;
		return;
	}
	stack_info(s, si);
	if (!is_blocking(si) || !si->has_leaf) {
		free(si);
		return;
	}
	/* the call site: the innermost app frame if there is one (a blocking
	 * call inside a library called from the user's code), with its line */
	{
		const struct frame_parts *p = si->has_app ? &si->app : &si->leaf;

		l = snprintf(key, sizeof(key), "%d;%.*s (%.*s:%ld);%.*s", pid,
			     (int)p->name_len, p->name, (int)p->file_len,
			     p->file ? p->file : "", p->line,
			     (int)si->reason.name_len, si->reason.name);
	}
	free(si);
	if (l < 0 || (size_t)l >= sizeof(key)) {
		a->lost_other++;
		return;
	}
	id = intern_id(&a->site_keys, key, (size_t)l);
	if (id < 0 || !grow((void **)&a->sites, &a->cap_sites, (size_t)id + 1,
			    sizeof(*a->sites))) {
		a->lost_other++;
		return;
	}
	st = &a->sites[id];
	if ((size_t)id >= a->nsites) {
		/* ids are dense: this is the next one */
		*st = (struct site){ .pid = pid, .stack = stack };
		a->nsites = (size_t)id + 1;
	}
	st->count++;
	st->total_ns += ns;
	if (ns > st->max_ns)
		st->max_ns = ns;
}

int asyncrep__stall(struct asyncrep *a, pid_t pid, pid_t tid,
		    unsigned long long start, unsigned long long ns,
		    unsigned long long off_ns)
{
	struct tbuf *b = tbuf_get(a, tid, false);
	unsigned long long end = start + ns;
	struct stall *st = NULL;
	size_t k = 0;

	if (a->nstalls < MAX_STALLS &&
	    grow((void **)&a->stalls, &a->cap_stalls, a->nstalls + 1,
		 sizeof(*a->stalls))) {
		st = &a->stalls[a->nstalls++];
		memset(st, 0, sizeof(*st));
		st->pid = pid;
		st->tid = tid;
		st->start = start;
		st->ns = ns;
		st->off_ns = off_ns;
	} else {
		a->lost_stalls++;
	}
	for (size_t i = 0; b && i < b->n; i++) {
		const struct tev *e = &b->ev[i];
		/* A sample's span may begin before the iteration (the time
		 * since the CPU's previous tick); its end lies inside. An
		 * off-CPU interval begins inside. */
		unsigned long long at = e->oncpu ? e->start + e->ns : e->start;
		size_t j;

		if (at <= start || at > end)
			continue;
		if (!st)
			continue;
		for (j = 0; j < st->n; j++)
			if (st->st[j].stack == e->stack)
				break;
		if (j == st->n) {
			if (st->n >= STALL_STACKS) {
				a->lost_other++;
				continue;
			}
			st->st[st->n++] = (struct stall_stack){ .stack = e->stack };
		}
		if (e->oncpu) {
			st->st[j].cpu_ns += e->ns;
			st->ev_cpu_ns += e->ns;
		} else {
			st->st[j].off_ns += e->ns;
		}
		if (stackagg__add(a->stall_agg, a->stacks.s[e->stack],
				  (e->ns + 500) / 1000))
			a->lost_other++;
	}
	if (st) {
		/* blocked time proper: off-CPU stacks that are not preemption */
		for (size_t j = 0; j < st->n; j++) {
			struct stack_info *si;

			if (!st->st[j].off_ns)
				continue;
			si = malloc(sizeof(*si));
			if (!si)
				break;
			stack_info(a->stacks.s[st->st[j].stack], si);
			if (is_blocking(si))
				st->ev_block_ns += st->st[j].off_ns;
			free(si);
		}
	}
	/* Everything up to the stall's end has been accounted for. */
	while (b && k < b->n &&
	       (b->ev[k].oncpu ? b->ev[k].start + b->ev[k].ns : b->ev[k].start) <= end)
		k++;
	if (b)
		tbuf_drop(b, k);
	return st ? 0 : -ENOMEM;
}

int asyncrep__loop(struct asyncrep *a, pid_t tid, const char *comm,
		   const struct loop_state *ls)
{
	struct loop *l;

	if (!ls->iters)
		return 0; /* polled once, never came back */
	if (a->nloops >= MAX_LOOPS ||
	    !grow((void **)&a->loops, &a->cap_loops, a->nloops + 1,
		  sizeof(*a->loops))) {
		a->lost_other++;
		return 0;
	}
	l = &a->loops[a->nloops++];
	memset(l, 0, sizeof(*l));
	l->pid = ls->pid;
	l->tid = tid;
	snprintf(l->comm, sizeof(l->comm), "%s", comm ? comm : "?");
	l->ls = *ls;
	return 0;
}

void asyncrep__set_source(struct asyncrep *a, asyncrep_source_fn fn, void *ctx)
{
	a->source = fn;
	a->source_ctx = ctx;
}

static void dist_add(struct asyncrep *a, struct dist *d, unsigned long long ns)
{
	d->count++;
	d->total_ns += ns;
	if (ns > d->max_ns)
		d->max_ns = ns;
	if (d->n < DIST_KEEP) {
		if (d->n == d->cap &&
		    !grow((void **)&d->ns, &d->cap, d->n + 1, sizeof(*d->ns))) {
			a->lost_other++;
			return;
		}
		d->ns[d->n++] = ns;
	} else {
		/* reservoir: each of the count durations kept with equal odds */
		unsigned long long r;

		a->rng ^= a->rng << 13;
		a->rng ^= a->rng >> 7;
		a->rng ^= a->rng << 17;
		r = a->rng % d->count;
		if (r < DIST_KEEP)
			d->ns[r] = ns;
	}
}

/* The dist of key in table keys/arr, created empty for pid if new. */
static struct dist *dist_get(struct intern *keys,
			     struct dist **arr, size_t *n, size_t *cap,
			     pid_t pid, const char *key, size_t len)
{
	long id;

	if (*n >= MAX_DISTS && keys->n >= MAX_DISTS)
		return NULL;
	id = intern_id(keys, key, len);
	if (id < 0 || !grow((void **)arr, cap, (size_t)id + 1, sizeof(**arr)))
		return NULL;
	if ((size_t)id >= *n) {
		memset(&(*arr)[id], 0, sizeof((*arr)[id]));
		(*arr)[id].pid = pid;
		*n = (size_t)id + 1;
	}
	return &(*arr)[id];
}

int asyncrep__step(struct asyncrep *a, pid_t pid, unsigned long long coro,
		   const char *code, unsigned long long ns, int result)
{
	char key[1024];
	struct dist *d;
	int l;

	(void)coro;
	(void)result;
	a->steps_seen++;
	l = snprintf(key, sizeof(key), "%d;%s", pid, code);
	if (l < 0 || (size_t)l >= sizeof(key) ||
	    !(d = dist_get(&a->step_keys, &a->step_d, &a->nstep_d,
			   &a->cap_step_d, pid, key, (size_t)l))) {
		a->lost_other++;
		return -ENOMEM;
	}
	dist_add(a, d, ns);
	return 0;
}

/* Frame i of a ';'-separated chain: [*s, *s + *len). */
static bool chain_frame(const char *chain, size_t i, const char **s, size_t *len)
{
	const char *p = chain;

	for (size_t k = 0; k < i; k++) {
		p = strchr(p, ';');
		if (!p)
			return false;
		p++;
	}
	*s = p;
	*len = strchr(p, ';') ? (size_t)(strchr(p, ';') - p) : strlen(p);
	return true;
}

/*
 * Two consecutive suspensions of one task: where their chains first
 * differ, is it one coroutine awaiting at two lines, the second below the
 * first (not a loop going round)? Then that is a pair of sequential awaits.
 */
static void note_pair(struct asyncrep *a, pid_t pid, const char *c1,
		      unsigned long long ns1, const char *c2,
		      unsigned long long ns2)
{
	struct frame_parts p1, p2;
	const char *s1, *s2;
	size_t l1, l2;
	char key[1024];
	struct dist *d;
	int l;

	for (size_t i = 0; i < AWAIT_DEPTH; i++) {
		if (!chain_frame(c1, i, &s1, &l1) || !chain_frame(c2, i, &s2, &l2))
			return;
		if (l1 == l2 && !memcmp(s1, s2, l1))
			continue;
		frame_parse(s1, l1, false, &p1);
		frame_parse(s2, l2, false, &p2);
		if (p1.kind != FRAME_PYTHON || p2.kind != FRAME_PYTHON ||
		    p1.name_len != p2.name_len || p1.file_len != p2.file_len ||
		    memcmp(p1.name, p2.name, p1.name_len) ||
		    (p1.file_len && memcmp(p1.file, p2.file, p1.file_len)) ||
		    p2.line <= p1.line)
			return;
		l = snprintf(key, sizeof(key), "%d;%.*s (%.*s);%ld;%ld", pid,
			     (int)p1.name_len, p1.name, (int)p1.file_len,
			     p1.file ? p1.file : "", p1.line, p2.line);
		if (l < 0 || (size_t)l >= sizeof(key))
			return;
		d = dist_get(&a->pair_keys, &a->pair_d, &a->npair_d,
			     &a->cap_pair_d, pid, key, (size_t)l);
		if (!d) {
			a->lost_other++;
			return;
		}
		dist_add(a, d, ns1);
		d->total_b_ns += ns2;
		return;
	}
}

int asyncrep__resume(struct asyncrep *a, pid_t pid, unsigned long long coro,
		     const char *chain, unsigned long long ns)
{
	char key[2048];
	struct task_slot *ts;
	struct dist *d;
	long id;
	int l;

	a->resumes_seen++;
	l = snprintf(key, sizeof(key), "%d;%s", pid, chain);
	if (l < 0 || (size_t)l >= sizeof(key) ||
	    !(d = dist_get(&a->chains, &a->await_d, &a->nawait_d,
			   &a->cap_await_d, pid, key, (size_t)l))) {
		a->lost_other++;
		return -ENOMEM;
	}
	dist_add(a, d, ns);
	id = d - a->await_d;

	if (!a->tasks && !(a->tasks = calloc(TASKS, sizeof(*a->tasks))))
		return -ENOMEM;
	ts = &a->tasks[((coro >> 4) ^ (unsigned long long)pid * 0x9e3779b1ULL) % TASKS];
	if (ts->chain && ts->coro == coro && ts->pid == pid) {
		const char *prev = strchr(a->chains.s[ts->chain - 1], ';');

		if (prev)
			note_pair(a, pid, prev + 1, ts->ns, chain, ns);
	}
	/* a slot shared by two tasks just forgets the older one */
	*ts = (struct task_slot){ .coro = coro, .pid = pid,
				  .chain = (unsigned int)id + 1, .ns = ns };
	return 0;
}

static bool is_word(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || (unsigned char)c >= 0x80;
}

/* Does s contain name as a whole word? */
static bool has_word(const char *s, const char *name, size_t len)
{
	for (const char *p = s; *p; p++)
		if (!strncmp(p, name, len) && (p == s || !is_word(p[-1])) &&
		    !is_word(p[len]))
			return true;
	return false;
}

int await_independent(const char *a, const char *b)
{
	const char *p = a, *eq, *aw;
	char names[256];
	size_t n = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	aw = strstr(p, "await ");
	if (!aw || !strstr(b, "await"))
		return -1;
	eq = strchr(p, '=');
	if (!eq || eq > aw) {
		/* "await x()" alone: nothing is kept */
		return aw == p ? 1 : -1;
	}
	/* NAME[, NAME] = await ...: the names, and nothing else, before '=' */
	if (eq[1] == '=' || (eq > p && strchr("!<>+-*/%&|^:", eq[-1])))
		return -1;
	for (const char *q = p; q < eq && n < sizeof(names) - 1; q++) {
		if (is_word(*q))
			names[n++] = *q;
		else if (*q == ',' || *q == ' ' || *q == '\t')
			names[n++] = ' ';
		else
			return -1; /* subscripts, attributes: cannot tell */
	}
	names[n] = '\0';
	for (char *w = names; *w;) {
		size_t len;

		while (*w == ' ')
			w++;
		len = 0;
		while (w[len] && w[len] != ' ')
			len++;
		if (len && has_word(b, w, len))
			return 0;
		w += len;
	}
	return 1;
}

struct stackagg *asyncrep__stall_stacks(struct asyncrep *a)
{
	return a->stall_agg;
}

double loop_hist_percentile(const __u64 hist[LOOP_BUCKETS], double q,
			    double max_us)
{
	unsigned long long total = 0, cum = 0;
	double want;

	for (int i = 0; i < LOOP_BUCKETS; i++)
		total += hist[i];
	if (!total)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	want = q * (double)total;
	for (int i = 0; i < LOOP_BUCKETS; i++) {
		double lo = i ? (double)(1ULL << i) : 0, hi = (double)(2ULL << i);
		double v;

		if (!hist[i])
			continue;
		if (cum + hist[i] >= want) {
			v = lo + (hi - lo) * (want - (double)cum) / (double)hist[i];
			return max_us > 0 && v > max_us ? max_us : v;
		}
		cum += hist[i];
	}
	return max_us;
}

/* ---- output ---- */

static const char *proc_label(struct asyncrep *a, pid_t pid, char *buf,
			      size_t len)
{
	struct proc *p = proc_find(a, pid);

	if (p)
		return p->label;
	snprintf(buf, len, "pid %d", pid);
	return buf;
}

static const char *loop_kind(struct asyncrep *a, pid_t pid)
{
	struct proc *p = proc_find(a, pid);

	return p && p->uvloop ? "uvloop" : "asyncio";
}

static void fmt_ms(char *buf, size_t len, double ns)
{
	if (ns >= 1e9)
		snprintf(buf, len, "%.2f s", ns / 1e9);
	else if (ns >= 1e6)
		snprintf(buf, len, "%.1f ms", ns / 1e6);
	else
		snprintf(buf, len, "%.0f us", ns / 1e3);
}

static int cmp_stall(const void *x, const void *y)
{
	const struct stall *a = x, *b = y;

	return a->ns < b->ns ? 1 : a->ns > b->ns ? -1 :
	       a->start < b->start ? -1 : a->start > b->start;
}

static int cmp_stall_stack(const void *x, const void *y)
{
	const struct stall_stack *a = x, *b = y;
	unsigned long long wa = a->cpu_ns + a->off_ns, wb = b->cpu_ns + b->off_ns;

	return wa < wb ? 1 : wa > wb ? -1 : (a->stack > b->stack) - (a->stack < b->stack);
}

static size_t *sites_sorted(struct asyncrep *a)
{
	size_t n = a->nsites, *idx = malloc((n ? n : 1) * sizeof(*idx));

	if (!idx)
		return NULL;
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	/* by total time, descending; insertion sort keeps it dependency-free
	 * and the site count is small */
	for (size_t i = 1; i < n; i++) {
		size_t v = idx[i], j = i;

		while (j > 0 && a->sites[idx[j - 1]].total_ns < a->sites[v].total_ns) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = v;
	}
	return idx;
}

/* The stall's main stack and what it says, CPU or blocked. */
struct stall_view {
	struct stack_info si;
	const char *stack;
	bool cpu;
};

static void stall_view(struct asyncrep *a, struct stall *st,
		       struct stall_view *v)
{
	qsort(st->st, st->n, sizeof(st->st[0]), cmp_stall_stack);
	v->cpu = st->ev_cpu_ns >= st->ev_block_ns;
	v->stack = NULL;
	/* the heaviest stack of the dominant kind */
	for (size_t j = 0; j < st->n; j++) {
		if ((v->cpu && st->st[j].cpu_ns) || (!v->cpu && st->st[j].off_ns)) {
			v->stack = a->stacks.s[st->st[j].stack];
			break;
		}
	}
	if (v->stack)
		stack_info(v->stack, &v->si);
	else
		memset(&v->si, 0, offsetof(struct stack_info, frames));
}

static void put_frame(FILE *f, const struct frame_parts *p)
{
	fprintf(f, "%.*s (%.*s:%ld)", (int)p->name_len, p->name,
		(int)p->file_len, p->file ? p->file : "", p->line);
}

/* From the coroutine down: the loop's own frames above it say nothing. */
static void put_stack_text(FILE *f, const struct stack_info *si)
{
	bool first = true;

	if (si->has_coro) {
		fprintf(f, "(event loop) >\n                ");
	}
	for (size_t i = si->has_coro ? si->coro_idx : si->first_py; i < si->n; i++) {
		fprintf(f, "%s%.*s", first ? "" : "\n                ",
			(int)si->lens[i], si->frames[i]);
		first = false;
	}
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

static void wall_time(struct asyncrep *a, unsigned long long ktime, char *buf,
		      size_t len)
{
	unsigned long long w = a->wall0 + ktime - a->mono0;
	time_t t = (time_t)(w / 1000000000ULL);
	struct tm tm;

	if (!a->wall0 || !localtime_r(&t, &tm)) {
		snprintf(buf, len, "%.3f", ktime / 1e9);
		return;
	}
	snprintf(buf, len, "%02d:%02d:%02d.%03llu", tm.tm_hour, tm.tm_min,
		 tm.tm_sec, (w / 1000000ULL) % 1000);
}

static unsigned long long loop_stalls(struct asyncrep *a, const struct loop *l)
{
	unsigned long long n = 0;

	for (size_t i = 0; i < a->nstalls; i++)
		n += a->stalls[i].tid == l->tid && a->stalls[i].pid == l->pid;
	return n;
}

/* "culprit [reason] in coroutine c" of a stall into buf. */
static void stall_culprit(struct asyncrep *a, struct stall *st, char *buf, size_t len)
{
	struct stall_view sv;
	FILE *f = fmemopen(buf, len - 1, "w");

	memset(buf, 0, len);
	if (!f)
		return;
	stall_view(a, st, &sv);
	if (sv.si.has_app)
		put_frame(f, &sv.si.app);
	else if (sv.si.has_leaf)
		put_frame(f, &sv.si.leaf);
	else
		fputs("(no stack)", f);
	if (!sv.cpu && sv.si.has_reason)
		fprintf(f, " %.*s", (int)sv.si.reason.name_len, sv.si.reason.name);
	else if (sv.stack)
		fputs(" CPU-bound", f);
	if (sv.si.has_coro) {
		fputs(" in coroutine ", f);
		put_frame(f, &sv.si.coro);
	}
	fclose(f);
}

static int cmp_stall_len(const void *x, const void *y)
{
	const struct stall *a = *(const struct stall *const *)x, *b = *(const struct stall *const *)y;

	return a->ns < b->ns ? 1 : a->ns > b->ns ? -1 : 0;
}

size_t asyncrep__loop_verdicts(struct asyncrep *a, struct asyncrep_loop_verdict *out,
			       size_t max, unsigned long long limit_ns)
{
	struct stall **order = calloc(a->nstalls ? a->nstalls : 1, sizeof(*order));

	for (size_t i = 0; i < a->nloops && i < max; i++) {
		const struct loop *l = &a->loops[i];
		struct asyncrep_loop_verdict *v = &out[i];
		double max_us = l->ls.max_ns / 1e3;
		size_t n = 0, shown = 0;
		char seen[3][512];

		memset(v, 0, sizeof(*v));
		v->pid = l->pid;
		v->tid = l->tid;
		v->iterations = l->ls.iters;
		v->max_ms = max_us / 1e3;
		v->p99_ms = loop_hist_percentile(l->ls.hist, 0.99, max_us) / 1e3;
		v->stalls = loop_stalls(a, l);
		for (size_t k = 0; order && k < a->nstalls; k++)
			if (a->stalls[k].pid == l->pid && a->stalls[k].tid == l->tid)
				order[n++] = &a->stalls[k];
		if (!n)
			continue;
		qsort(order, n, sizeof(*order), cmp_stall_len);
		v->worst_stall_ms = order[0]->ns / 1e6;
		for (size_t k = 0; k < n && shown < 3 && order[k]->ns >= limit_ns; k++) {
			char c[512];
			bool dup = false;
			size_t used = strlen(v->worst);

			stall_culprit(a, order[k], c, sizeof(c));
			for (size_t j = 0; j < shown; j++)
				dup |= !strcmp(seen[j], c);
			if (dup)
				continue;
			snprintf(seen[shown++], sizeof(seen[0]), "%s", c);
			snprintf(v->worst + used, sizeof(v->worst) - used, "%s%s (%.0f ms)",
				 used ? "; " : "", c, order[k]->ns / 1e6);
		}
	}
	free(order);
	return a->nloops;
}

/* Stalls grouped by what caused them: culprit frame, kind and reason. */
struct cause {
	char key[512];
	struct frame_parts coro;
	bool has_coro, cpu;
	unsigned long long count, total_ns, max_ns;
};

static size_t stall_causes(struct asyncrep *a, struct stall_view *v,
			   struct cause *c, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < a->nstalls; i++) {
		struct stall *st = &a->stalls[i];
		const struct frame_parts *p;
		char key[512];
		size_t j;

		stall_view(a, st, v);
		if (!v->stack || !v->si.has_leaf) {
			snprintf(key, sizeof(key), "(no stack seen)");
		} else {
			p = v->si.has_app ? &v->si.app : &v->si.leaf;
			snprintf(key, sizeof(key), "%.*s (%.*s:%ld) %.*s",
				 (int)p->name_len, p->name, (int)p->file_len,
				 p->file ? p->file : "", p->line,
				 v->cpu ? 3 : (int)v->si.reason.name_len,
				 v->cpu ? "CPU" : v->si.reason.name);
		}
		for (j = 0; j < n; j++)
			if (!strcmp(c[j].key, key))
				break;
		if (j == n) {
			if (n >= max)
				continue;
			memset(&c[n], 0, sizeof(c[n]));
			snprintf(c[n].key, sizeof(c[n].key), "%s", key);
			c[n].cpu = v->cpu;
			if (v->stack && v->si.has_coro) {
				c[n].coro = v->si.coro;
				c[n].has_coro = true;
			}
			n++;
		}
		c[j].count++;
		c[j].total_ns += st->ns;
		if (st->ns > c[j].max_ns)
			c[j].max_ns = st->ns;
	}
	/* by total time */
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && c[k - 1].total_ns < c[k].total_ns; k--) {
			struct cause t = c[k];

			c[k] = c[k - 1];
			c[k - 1] = t;
		}
	return n;
}

#define MAX_CAUSES 64

static int cmp_ull(const void *x, const void *y)
{
	unsigned long long a = *(const unsigned long long *)x,
			   b = *(const unsigned long long *)y;

	return (a > b) - (a < b);
}

/* p50, p95, p99 of d in ns (nearest rank over the kept durations). */
static void dist_pcts(const struct dist *d, double out[3])
{
	static const double q[3] = { 0.50, 0.95, 0.99 };
	unsigned long long *c;

	out[0] = out[1] = out[2] = 0;
	if (!d->n || !(c = malloc(d->n * sizeof(*c))))
		return;
	memcpy(c, d->ns, d->n * sizeof(*c));
	qsort(c, d->n, sizeof(*c), cmp_ull);
	for (int i = 0; i < 3; i++) {
		size_t k = (size_t)(q[i] * (double)d->n + 0.5);

		out[i] = (double)c[k ? (k > d->n ? d->n - 1 : k - 1) : 0];
	}
	free(c);
}

static int cmp_dist_total(const void *x, const void *y)
{
	const struct dist *a = *(const struct dist *const *)x;
	const struct dist *b = *(const struct dist *const *)y;

	return a->total_ns < b->total_ns ? 1 : a->total_ns > b->total_ns ? -1 : 0;
}

/* Pointers to arr[0..n), most total time first. */
static const struct dist **dists_sorted(const struct dist *arr, size_t n)
{
	const struct dist **v = malloc((n ? n : 1) * sizeof(*v));

	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++)
		v[i] = &arr[i];
	qsort(v, n, sizeof(*v), cmp_dist_total);
	return v;
}

/* The key's text after its "pid;" prefix. */
static const char *key_text(const struct intern *keys, const struct dist *arr,
			    const struct dist *d)
{
	const char *k = keys->s[d - arr], *semi = strchr(k, ';');

	return semi ? semi + 1 : k;
}

/* A pair of sequential awaits, taken apart, with its source verdict. */
struct pair_view {
	char func[512];
	long la, lb;
	char src_a[512], src_b[512];
	int independent; /* await_independent(), -1 unknown */
};

static void pair_view(struct asyncrep *a, const struct dist *d,
		      struct pair_view *v)
{
	const char *k = key_text(&a->pair_keys, a->pair_d, d);
	const char *s1 = strrchr(k, ';'), *s0;
	struct frame_parts fp;
	char file[512];

	memset(v, 0, sizeof(*v));
	v->independent = -1;
	if (!s1)
		return;
	for (s0 = s1 - 1; s0 > k && *s0 != ';'; s0--)
		;
	v->la = strtol(s0 + 1, NULL, 10);
	v->lb = strtol(s1 + 1, NULL, 10);
	snprintf(v->func, sizeof(v->func), "%.*s", (int)(s0 - k), k);
	frame_parse(k, (size_t)(s0 - k), false, &fp);
	if (!a->source || fp.kind != FRAME_PYTHON || !fp.file)
		return;
	snprintf(file, sizeof(file), "%.*s", (int)fp.file_len, fp.file);
	if (a->source(a->source_ctx, d->pid, file, v->la, v->src_a, sizeof(v->src_a)) ||
	    a->source(a->source_ctx, d->pid, file, v->lb, v->src_b, sizeof(v->src_b)))
		return;
	v->independent = await_independent(v->src_a, v->src_b);
}

/* A pair worth reporting: both awaits take real time, seen repeatedly,
 * and the second does not use the first's result. */
static bool pair_flagged(const struct dist *d, const struct pair_view *v)
{
	return d->count >= 3 && d->total_ns / d->count >= MIN_PAIR_NS &&
	       d->total_b_ns / d->count >= MIN_PAIR_NS && v->independent == 1;
}

static void put_chain_text(FILE *f, const char *chain)
{
	for (const char *p = chain; *p; p++)
		fputs(*p == ';' ? " > " : (char[]){ *p, 0 }, f);
}

/* One table of durations, the most total time first: steps or awaits. */
static void text_dists(struct asyncrep *a, FILE *f, const struct intern *keys,
		       const struct dist *arr, size_t n, const char *what,
		       bool chain)
{
	const struct dist **v = dists_sorted(arr, n);
	char b[5][32], lb[64];
	double pc[3];

	if (v && n)
		fprintf(f, "  %8s %10s %10s %10s %10s %10s  %s\n", what, "total",
			"p50", "p95", "p99", "max", chain ? "site" : "coroutine");
	for (size_t i = 0; v && i < n && i < TEXT_SITES; i++) {
		dist_pcts(v[i], pc);
		fmt_ms(b[0], 32, (double)v[i]->total_ns);
		fmt_ms(b[1], 32, pc[0]);
		fmt_ms(b[2], 32, pc[1]);
		fmt_ms(b[3], 32, pc[2]);
		fmt_ms(b[4], 32, (double)v[i]->max_ns);
		fprintf(f, "  %8llu %10s %10s %10s %10s %10s  ", v[i]->count, b[0],
			b[1], b[2], b[3], b[4]);
		if (chain)
			put_chain_text(f, key_text(keys, arr, v[i]));
		else
			fprintf(f, "%s  [%s]", key_text(keys, arr, v[i]),
				proc_label(a, v[i]->pid, lb, sizeof(lb)));
		fprintf(f, "\n");
	}
	free(v);
}

static void text_steps_awaits(struct asyncrep *a, FILE *f)
{
	const struct dist **v;
	char b[3][32], lb[64];
	double pc[3];
	size_t shown = 0;

	fprintf(f, "\nTask steps by coroutine: %llu steps of %zu coroutine%s\n",
		a->steps_seen, a->nstep_d, a->nstep_d == 1 ? "" : "s");
	text_dists(a, f, &a->step_keys, a->step_d, a->nstep_d, "steps", false);
	fprintf(f, "\nAwait latency by await site: %llu resumes at %zu site%s (where each task\nwaited, outermost coroutine first)\n",
		a->resumes_seen, a->nawait_d, a->nawait_d == 1 ? "" : "s");
	text_dists(a, f, &a->chains, a->await_d, a->nawait_d, "awaits", true);

	v = dists_sorted(a->pair_d, a->npair_d);
	fprintf(f, "\nSequential awaits that could run concurrently (asyncio.gather):\n");
	for (size_t i = 0; v && i < a->npair_d; i++) {
		struct pair_view pv;

		pair_view(a, v[i], &pv);
		if (!pair_flagged(v[i], &pv))
			continue;
		dist_pcts(v[i], pc);
		fmt_ms(b[0], 32, pc[0]);
		fmt_ms(b[1], 32, (double)v[i]->total_b_ns / v[i]->count);
		fmt_ms(b[2], 32, (double)(v[i]->total_ns < v[i]->total_b_ns ?
					  v[i]->total_ns : v[i]->total_b_ns) / v[i]->count);
		fprintf(f, "  %s: line %ld (p50 %s) then line %ld (mean %s), %llu times  [%s]\n",
			pv.func, pv.la, b[0], pv.lb, b[1], v[i]->count,
			proc_label(a, v[i]->pid, lb, sizeof(lb)));
		fprintf(f, "    %ld: %s\n    %ld: %s\n", pv.la, pv.src_a, pv.lb, pv.src_b);
		fprintf(f, "    the second does not use the first's result: await both with asyncio.gather() to save ~%s each time\n",
			b[2]);
		shown++;
	}
	if (!shown)
		fprintf(f, "  none found\n");
	free(v);
}

int asyncrep__write_text(struct asyncrep *a, FILE *f)
{
	char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32], lb[64];
	struct stall_view *v = malloc(sizeof(*v));
	size_t *idx, shown;

	if (!v)
		return -ENOMEM;
	qsort(a->stalls, a->nstalls, sizeof(a->stalls[0]), cmp_stall);
	fmt_ms(b1, sizeof(b1), (double)a->stall_ns);
	fprintf(f, "pyrograph async: %zu event loop%s, %.1f s, stall threshold %s\n",
		a->nloops, a->nloops == 1 ? "" : "s", a->seconds, b1);
	if (!a->nloops)
		fprintf(f, "\nNo event loop iterated during the recording (no thread of the selected\n"
			   "Python processes left an epoll wait and came back to it).\n");
	for (size_t i = 0; i < a->nloops; i++) {
		const struct loop *l = &a->loops[i];
		double max_us = l->ls.max_ns / 1e3;

		fmt_ms(b1, sizeof(b1), l->ls.sum_ns / (double)l->ls.iters);
		fmt_ms(b2, sizeof(b2), 1e3 * loop_hist_percentile(l->ls.hist, 0.50, max_us));
		fmt_ms(b3, sizeof(b3), 1e3 * loop_hist_percentile(l->ls.hist, 0.95, max_us));
		fmt_ms(b4, sizeof(b4), 1e3 * loop_hist_percentile(l->ls.hist, 0.99, max_us));
		fmt_ms(b5, sizeof(b5), (double)l->ls.max_ns);
		fprintf(f, "\nLoop lag: %s, thread %d (%s), %s\n",
			proc_label(a, l->pid, lb, sizeof(lb)), l->tid, l->comm,
			loop_kind(a, l->pid));
		fprintf(f, "  %llu iterations, mean %s, p50 %s, p95 %s, p99 %s, max %s; %llu stall%s\n",
			(unsigned long long)l->ls.iters, b1, b2, b3, b4, b5,
			loop_stalls(a, l), loop_stalls(a, l) == 1 ? "" : "s");
		text_hist(f, l);
	}

	if (a->nstalls) {
		struct cause *c = calloc(MAX_CAUSES, sizeof(*c));
		size_t nc = c ? stall_causes(a, v, c, MAX_CAUSES) : 0;

		fprintf(f, "\nStall causes (by culprit; total time of the stalls they were in)\n");
		fprintf(f, "  %7s %10s %10s  %-9s %s\n", "stalls", "total", "max", "kind",
			"culprit  [coroutine]");
		for (size_t i = 0; i < nc; i++) {
			fmt_ms(b1, sizeof(b1), (double)c[i].total_ns);
			fmt_ms(b2, sizeof(b2), (double)c[i].max_ns);
			fprintf(f, "  %7llu %10s %10s  %-9s %s", c[i].count, b1, b2,
				c[i].cpu ? "CPU" : "blocking", c[i].key);
			if (c[i].has_coro)
				fprintf(f, "  [%.*s]", (int)c[i].coro.name_len,
					c[i].coro.name);
			fprintf(f, "\n");
		}
		free(c);
	}

	shown = a->nstalls < TEXT_STALLS ? a->nstalls : TEXT_STALLS;
	fmt_ms(b1, sizeof(b1), (double)a->stall_ns);
	fprintf(f, "\nStalls: %zu iteration%s of %s or more", a->nstalls,
		a->nstalls == 1 ? "" : "s", b1);
	if (shown < a->nstalls)
		fprintf(f, " (the %zu longest shown; --format json has all)", shown);
	fprintf(f, "\n");
	for (size_t i = 0; i < shown; i++) {
		struct stall *st = &a->stalls[i];

		stall_view(a, st, v);
		wall_time(a, st->start, b6, sizeof(b6));
		fmt_ms(b1, sizeof(b1), (double)st->ns);
		fmt_ms(b2, sizeof(b2), (double)(st->ns - st->off_ns));
		fmt_ms(b3, sizeof(b3), (double)st->off_ns);
		fprintf(f, "\n  %s  %s  %s (on CPU %s, off CPU %s)  %s thread %d\n",
			b6, b1, v->stack ? (v->cpu ? "CPU-bound" : "blocking") : "no stack seen",
			b2, b3, proc_label(a, st->pid, lb, sizeof(lb)), st->tid);
		if (!v->stack)
			continue;
		if (v->si.has_coro) {
			fprintf(f, "    coroutine   ");
			put_frame(f, &v->si.coro);
			fprintf(f, "\n");
		}
		if (v->si.has_leaf) {
			fprintf(f, "    culprit     ");
			put_frame(f, v->si.has_app ? &v->si.app : &v->si.leaf);
			if (!v->cpu)
				fprintf(f, " %.*s", (int)v->si.reason.name_len,
					v->si.reason.name);
			fprintf(f, "\n");
		}
		fprintf(f, "    advice      %s\n",
			advice_for(v->si.reason.name, v->si.reason.name_len, v->cpu));
		fprintf(f, "    stack       ");
		put_stack_text(f, &v->si);
		fprintf(f, "\n");
		if (st->n > 1) {
			fprintf(f, "    also        ");
			for (size_t j = 1; j < st->n && j < 4; j++) {
				struct stack_info *si = malloc(sizeof(*si));

				if (!si)
					break;
				stack_info(a->stacks.s[st->st[j].stack], si);
				fmt_ms(b4, sizeof(b4), (double)(st->st[j].cpu_ns + st->st[j].off_ns));
				fprintf(f, "%s%s in ", j > 1 ? ", " : "", b4);
				if (si->has_leaf)
					put_frame(f, si->has_app ? &si->app : &si->leaf);
				if (si->has_reason)
					fprintf(f, " %.*s", (int)si->reason.name_len,
						si->reason.name);
				free(si);
			}
			fprintf(f, "\n");
		}
	}

	idx = sites_sorted(a);
	fprintf(f, "\nBlocking calls in coroutines (off CPU inside a loop iteration), by call site: %zu\n",
		a->nsites);
	if (a->nsites)
		fprintf(f, "  %7s %10s %10s %10s  %-13s %s\n", "count", "total",
			"mean", "max", "reason", "call site");
	for (size_t i = 0; idx && i < a->nsites && i < TEXT_SITES; i++) {
		const struct site *st = &a->sites[idx[i]];
		const char *key = a->site_keys.s[idx[i]];
		const char *site = strchr(key, ';'), *reason = strrchr(key, ';');

		site = site ? site + 1 : key;
		reason = reason ? reason + 1 : "";
		fmt_ms(b1, sizeof(b1), (double)st->total_ns);
		fmt_ms(b2, sizeof(b2), (double)st->total_ns / (double)st->count);
		fmt_ms(b3, sizeof(b3), (double)st->max_ns);
		fprintf(f, "  %7llu %10s %10s %10s  %-13s %.*s  [%s]\n", st->count,
			b1, b2, b3, reason, (int)(reason - 1 - site), site,
			proc_label(a, st->pid, lb, sizeof(lb)));
		fprintf(f, "  %7s %s\n", "", advice_for(reason, strlen(reason), false));
	}
	free(idx);
	text_steps_awaits(a, f);
	if (a->lost_stacks || a->lost_stalls || a->lost_other)
		fprintf(f, "\nNot kept (memory bounds): %llu stacks, %llu stalls, %llu other records\n",
			a->lost_stacks, a->lost_stalls, a->lost_other);
	free(v);
	return ferror(f) ? -EIO : 0;
}

static void json_frame(FILE *f, const struct frame_parts *p)
{
	char buf[1024];

	fprintf(f, "{\"function\":");
	snprintf(buf, sizeof(buf), "%.*s", (int)p->name_len, p->name);
	json_str(f, buf);
	fprintf(f, ",\"file\":");
	snprintf(buf, sizeof(buf), "%.*s", (int)p->file_len, p->file ? p->file : "");
	json_str(f, buf);
	fprintf(f, ",\"line\":%ld}", p->line);
}

static void json_frames(FILE *f, const char *stack)
{
	struct stack_info *si = malloc(sizeof(*si));
	char buf[2048];

	fprintf(f, "[");
	if (si) {
		stack_info(stack, si);
		for (size_t i = si->first_py; i < si->n; i++) {
			snprintf(buf, sizeof(buf), "%.*s", (int)si->lens[i],
				 si->frames[i]);
			fprintf(f, "%s", i > si->first_py ? "," : "");
			json_str(f, buf);
		}
		free(si);
	}
	fprintf(f, "]");
}

static void json_dists(struct asyncrep *a, FILE *f, const struct intern *keys,
		       const struct dist *arr, size_t n, const char *what,
		       bool chain)
{
	const struct dist **v = dists_sorted(arr, n);
	char lb[64];
	double pc[3];

	for (size_t i = 0; v && i < n; i++) {
		const char *k = key_text(keys, arr, v[i]);

		dist_pcts(v[i], pc);
		fprintf(f, "%s{\"pid\":%d,\"process\":", i ? "," : "", v[i]->pid);
		json_str(f, proc_label(a, v[i]->pid, lb, sizeof(lb)));
		fprintf(f, ",\"%s\":", what);
		if (chain) {
			const char *s;
			size_t len;

			fprintf(f, "[");
			for (size_t j = 0; j < AWAIT_DEPTH && chain_frame(k, j, &s, &len); j++) {
				struct frame_parts fp;

				frame_parse(s, len, false, &fp);
				fprintf(f, "%s", j ? "," : "");
				json_frame(f, &fp);
			}
			fprintf(f, "]");
		} else {
			struct frame_parts fp;

			frame_parse(k, strlen(k), false, &fp);
			json_frame(f, &fp);
		}
		fprintf(f, ",\"count\":%llu,\"total_ms\":%.3f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}",
			v[i]->count, v[i]->total_ns / 1e6, pc[0] / 1e6, pc[1] / 1e6,
			pc[2] / 1e6, v[i]->max_ns / 1e6);
	}
	free(v);
}

static void json_pairs(struct asyncrep *a, FILE *f)
{
	const struct dist **v = dists_sorted(a->pair_d, a->npair_d);
	bool first = true;
	char lb[64];
	double pc[3];

	for (size_t i = 0; v && i < a->npair_d; i++) {
		struct pair_view pv;

		pair_view(a, v[i], &pv);
		dist_pcts(v[i], pc);
		fprintf(f, "%s{\"pid\":%d,\"process\":", first ? "" : ",", v[i]->pid);
		first = false;
		json_str(f, proc_label(a, v[i]->pid, lb, sizeof(lb)));
		fprintf(f, ",\"coroutine\":");
		json_str(f, pv.func);
		fprintf(f, ",\"line_first\":%ld,\"line_second\":%ld,\"count\":%llu,"
			   "\"p50_first_ms\":%.3f,\"mean_second_ms\":%.3f,\"source_first\":",
			pv.la, pv.lb, v[i]->count, pc[0] / 1e6,
			v[i]->total_b_ns / 1e6 / v[i]->count);
		json_str(f, pv.src_a[0] ? pv.src_a : NULL);
		fprintf(f, ",\"source_second\":");
		json_str(f, pv.src_b[0] ? pv.src_b : NULL);
		fprintf(f, ",\"independent\":%s,\"gather_candidate\":%s}",
			pv.independent < 0 ? "null" : pv.independent ? "true" : "false",
			pair_flagged(v[i], &pv) ? "true" : "false");
	}
	free(v);
}

int asyncrep__write_json(struct asyncrep *a, FILE *f)
{
	struct stall_view *v = malloc(sizeof(*v));
	char lb[64], buf[64];
	size_t *idx;

	if (!v)
		return -ENOMEM;
	qsort(a->stalls, a->nstalls, sizeof(a->stalls[0]), cmp_stall);
	fprintf(f, "{\"duration_s\":%.3f,\"threshold_ms\":%.3f,\"loops\":[",
		a->seconds, a->stall_ns / 1e6);
	for (size_t i = 0; i < a->nloops; i++) {
		const struct loop *l = &a->loops[i];
		double max_us = l->ls.max_ns / 1e3;

		fprintf(f, "%s{\"pid\":%d,\"tid\":%d,\"process\":", i ? "," : "",
			l->pid, l->tid);
		json_str(f, proc_label(a, l->pid, lb, sizeof(lb)));
		fprintf(f, ",\"thread\":");
		json_str(f, l->comm);
		fprintf(f, ",\"kind\":\"%s\",\"iterations\":%llu,\"mean_ms\":%.3f,"
			   "\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
			   "\"stalls\":%llu,\"histogram\":[",
			loop_kind(a, l->pid), (unsigned long long)l->ls.iters,
			l->ls.sum_ns / (double)l->ls.iters / 1e6,
			loop_hist_percentile(l->ls.hist, 0.50, max_us) / 1e3,
			loop_hist_percentile(l->ls.hist, 0.95, max_us) / 1e3,
			loop_hist_percentile(l->ls.hist, 0.99, max_us) / 1e3,
			l->ls.max_ns / 1e6, loop_stalls(a, l));
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
	fprintf(f, "],\"stalls\":[");
	for (size_t i = 0; i < a->nstalls; i++) {
		struct stall *st = &a->stalls[i];

		stall_view(a, st, v);
		wall_time(a, st->start, buf, sizeof(buf));
		fprintf(f, "%s{\"time\":\"%s\",\"pid\":%d,\"tid\":%d,\"process\":",
			i ? "," : "", buf, st->pid, st->tid);
		json_str(f, proc_label(a, st->pid, lb, sizeof(lb)));
		fprintf(f, ",\"duration_ms\":%.3f,\"oncpu_ms\":%.3f,\"offcpu_ms\":%.3f,\"kind\":\"%s\"",
			st->ns / 1e6, (st->ns - st->off_ns) / 1e6, st->off_ns / 1e6,
			v->stack ? (v->cpu ? "cpu" : "blocking") : "unknown");
		fprintf(f, ",\"coroutine\":");
		if (v->stack && v->si.has_coro)
			json_frame(f, &v->si.coro);
		else
			fprintf(f, "null");
		fprintf(f, ",\"culprit\":");
		if (v->stack && v->si.has_leaf)
			json_frame(f, v->si.has_app ? &v->si.app : &v->si.leaf);
		else
			fprintf(f, "null");
		fprintf(f, ",\"reason\":");
		if (v->stack && !v->cpu && v->si.has_reason) {
			snprintf(buf, sizeof(buf), "%.*s", (int)v->si.reason.name_len,
				 v->si.reason.name);
			json_str(f, buf);
		} else {
			fprintf(f, "null");
		}
		fprintf(f, ",\"advice\":");
		json_str(f, v->stack ? advice_for(v->si.reason.name,
						 v->si.reason.name_len, v->cpu) : NULL);
		fprintf(f, ",\"stacks\":[");
		for (size_t j = 0; j < st->n; j++) {
			fprintf(f, "%s{\"oncpu_ms\":%.3f,\"offcpu_ms\":%.3f,\"frames\":",
				j ? "," : "", st->st[j].cpu_ns / 1e6,
				st->st[j].off_ns / 1e6);
			json_frames(f, a->stacks.s[st->st[j].stack]);
			fprintf(f, "}");
		}
		fprintf(f, "]}");
	}
	fprintf(f, "],\"stall_causes\":[");
	{
		struct cause *c = calloc(MAX_CAUSES, sizeof(*c));
		size_t nc = c ? stall_causes(a, v, c, MAX_CAUSES) : 0;

		for (size_t i = 0; i < nc; i++) {
			fprintf(f, "%s{\"culprit\":", i ? "," : "");
			json_str(f, c[i].key);
			fprintf(f, ",\"kind\":\"%s\",\"stalls\":%llu,\"total_ms\":%.3f,\"max_ms\":%.3f,\"coroutine\":",
				c[i].cpu ? "cpu" : "blocking", c[i].count,
				c[i].total_ns / 1e6, c[i].max_ns / 1e6);
			if (c[i].has_coro)
				json_frame(f, &c[i].coro);
			else
				fprintf(f, "null");
			fprintf(f, "}");
		}
		free(c);
	}
	fprintf(f, "],\"blocking_calls\":[");
	idx = sites_sorted(a);
	for (size_t i = 0; idx && i < a->nsites; i++) {
		const struct site *st = &a->sites[idx[i]];
		const char *key = a->site_keys.s[idx[i]];
		const char *reason = strrchr(key, ';');
		struct stack_info *si = malloc(sizeof(*si));
		const struct frame_parts *p;

		if (!si)
			break;
		reason = reason ? reason + 1 : "";
		stack_info(a->stacks.s[st->stack], si);
		p = si->has_app ? &si->app : &si->leaf;
		fprintf(f, "%s{\"pid\":%d,\"process\":", i ? "," : "", st->pid);
		json_str(f, proc_label(a, st->pid, lb, sizeof(lb)));
		fprintf(f, ",\"site\":");
		json_frame(f, p);
		fprintf(f, ",\"reason\":");
		json_str(f, reason);
		fprintf(f, ",\"count\":%llu,\"total_ms\":%.3f,\"max_ms\":%.3f,\"advice\":",
			st->count, st->total_ns / 1e6, st->max_ns / 1e6);
		json_str(f, advice_for(reason, strlen(reason), false));
		fprintf(f, ",\"stack\":");
		json_frames(f, a->stacks.s[st->stack]);
		fprintf(f, "}");
		free(si);
	}
	free(idx);
	fprintf(f, "],\"task_steps\":[");
	json_dists(a, f, &a->step_keys, a->step_d, a->nstep_d, "coroutine", false);
	fprintf(f, "],\"await_sites\":[");
	json_dists(a, f, &a->chains, a->await_d, a->nawait_d, "chain", true);
	fprintf(f, "],\"sequential_awaits\":[");
	json_pairs(a, f);
	fprintf(f, "],\"not_kept\":{\"stacks\":%llu,\"stalls\":%llu,\"other\":%llu}}\n",
		a->lost_stacks, a->lost_stalls, a->lost_other);
	free(v);
	return ferror(f) ? -EIO : 0;
}

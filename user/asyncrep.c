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

#include "asyncrep.h"
#include "frames.h"
#include "intern.h"
#include "json.h"

#define MAX_TIDS 1024	    /* loop threads followed at once */
#define TBUF_MAX 16384	    /* stacks buffered per loop thread */
#define TBUF_AGE_NS (30ULL * 1000000000ULL) /* older ones cannot matter */
#define MAX_STALLS 10000    /* kept; more are counted */
#define STALL_STACKS 64	    /* distinct stacks kept per stall */
#define MAX_LOOPS 4096
#define MAX_FRAMES 1024	    /* parsed per stack */
#define TEXT_STALLS 20	    /* printed in the text report */
#define TEXT_SITES 30

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
	/* what could not be kept, shown in the report */
	unsigned long long lost_stacks, lost_stalls, lost_other;
};

struct asyncrep *asyncrep__new(unsigned long long stall_ns)
{
	struct asyncrep *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->stall_ns = stall_ns;
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
	fprintf(f, "],\"not_kept\":{\"stacks\":%llu,\"stalls\":%llu,\"other\":%llu}}\n",
		a->lost_stacks, a->lost_stalls, a->lost_other);
	free(v);
	return ferror(f) ? -EIO : 0;
}

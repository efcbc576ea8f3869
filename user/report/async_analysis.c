// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What the asyncio report's records mean: which frame of a stack is the
 * coroutine, the culprit and the reason; what caused each stall; whether
 * two awaits in a row could run together; loop-lag percentiles. Frames are
 * told apart by their kind and file in the frame table.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report/async_int.h"

/* ---- stacks ---- */

static bool in_dir(const char *file, const char *dir)
{
	return file && strstr(file, dir);
}

/* asyncio's and uvloop's own frames */
static bool loop_machinery(const char *file)
{
	return in_dir(file, "/asyncio/") || in_dir(file, "/uvloop/");
}

void async_stack_info(const struct asyncrep *a, stack_id id, struct stack_info *si)
{
	long loop_start = -1;

	si->f = stacks_get(&a->stacks, id, &si->n);
	si->leaf = si->app = si->coro = si->reason = FRAME_NONE;
	si->first_py = si->n;
	si->coro_idx = 0;
	for (uint32_t i = 0; i < si->n; i++) {
		const struct frame *fr = frames_get(a->ft, si->f[i]);
		const char *file = frames_s(a->ft, fr->file);

		if (fr->kind == FRAME_SYNTHETIC) {
			/* the leaf of an off-CPU stack; [truncated] and the
			 * like sit at the outer end */
			if (i == si->n - 1 && i > 0)
				si->reason = si->f[i];
			continue;
		}
		if (fr->kind != FRAME_PYTHON)
			continue;
		if (si->first_py == si->n)
			si->first_py = i;
		si->leaf = si->f[i];
		if (frame_origin(file, file ? strlen(file) : 0) == ORIGIN_APP)
			si->app = si->f[i];
		/*
		 * The coroutine a task step ran: the first frame after the
		 * loop's own (asyncio's run_forever/_run_once/Handle._run;
		 * uvloop's are compiled and only asyncio.run's show).
		 */
		if (loop_machinery(file)) {
			if (loop_start < 0)
				loop_start = i;
		} else if (loop_start >= 0 && si->coro == FRAME_NONE) {
			si->coro = si->f[i];
			si->coro_idx = i;
		}
	}
}

bool async_stack_blocking(const struct asyncrep *a, const struct stack_info *si)
{
	return si->reason != FRAME_NONE &&
	       strcmp(frame_name(a->ft, si->reason), "[preempted]");
}

const char *async_advice_for(const char *reason, bool cpu)
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
	for (size_t i = 0; reason && i < sizeof(tab) / sizeof(tab[0]); i++)
		if (!strcmp(tab[i].reason, reason))
			return tab[i].advice;
	return "a blocking call in a coroutine: run it with asyncio.to_thread() or loop.run_in_executor()";
}

/* ---- stalls ---- */

static int cmp_stall(const void *x, const void *y)
{
	const struct stall *a = x, *b = y;

	return a->ns < b->ns ? 1 : a->ns > b->ns ? -1 :
	       a->start < b->start ? -1 : a->start > b->start;
}

void async_stalls_sort(struct asyncrep *a)
{
	if (a->nstalls)
		qsort(a->stalls, a->nstalls, sizeof(a->stalls[0]), cmp_stall);
}

static int cmp_stall_stack(const void *x, const void *y)
{
	const struct stall_stack *a = x, *b = y;
	unsigned long long wa = a->cpu_ns + a->off_ns, wb = b->cpu_ns + b->off_ns;

	return wa < wb ? 1 : wa > wb ? -1 : (a->stack > b->stack) - (a->stack < b->stack);
}

const char *async_stall_kind_json(enum stall_kind k)
{
	static const char *const names[] = {
		[STALL_CPU] = "cpu", [STALL_BLOCKING] = "blocking",
		[STALL_PREEMPTED] = "preempted",
		[STALL_UNSEEN] = "blocked_start_not_seen",
		[STALL_UNSAMPLED] = "unsampled",
		[STALL_UNKNOWN] = "unknown",
	};

	return (unsigned)k <= STALL_UNKNOWN ? names[k] : "unknown";
}

const char *async_stall_kind_text(enum stall_kind k)
{
	static const char *const names[] = {
		[STALL_CPU] = "CPU-bound", [STALL_BLOCKING] = "blocking",
		[STALL_PREEMPTED] = "preempted",
		[STALL_UNSEEN] = "blocked: start not seen",
		[STALL_UNSAMPLED] = "on CPU, not sampled",
		[STALL_UNKNOWN] = "no stack seen",
	};

	return (unsigned)k <= STALL_UNKNOWN ? names[k] : "no stack seen";
}

/*
 * A thread on the CPU this many sampling periods is sampled with near
 * certainty (a miss has probability e^-5 < 1%): the part of a stall "on
 * the CPU" by the kernel's count that its CPU samples leave uncovered by
 * that much was off it, in a wait whose start was not seen -- when the
 * stall began before its thread was seen. Otherwise every switch-out was
 * seen, and the thread did run by the kernel's clock: the samples are what
 * is missing (UNSAMPLED).
 */
#define SAMPLES_DUE 5.0

static enum stall_kind stall_kind(const struct asyncrep *a, const struct stall *st)
{
	unsigned long long cpu = st->ev_cpu_ns, blk = st->ev_block_ns;
	/* preempted: the kernel's count, or the stacks' if an older
	 * recording sent them */
	unsigned long long pre = st->ev_off_ns > blk ? st->ev_off_ns - blk : 0;
	unsigned long long on = st->ns > st->off_ns ? st->ns - st->off_ns : 0;
	unsigned long long unseen, unsampled = on > cpu ? on - cpu : 0;
	unsigned long long unsampled_due = 0;

	if (st->preempt_ns > pre)
		pre = st->preempt_ns;
	/* off the CPU as the kernel counted, and no stack says why */
	unseen = st->off_ns > blk + pre ? st->off_ns - blk - pre : 0;
	/* "on the CPU" for SAMPLES_DUE periods more than the samples cover */
	if (a->hz > 0 && (double)unsampled * a->hz >= SAMPLES_DUE * 1e9)
		unsampled_due = unsampled;
	unseen += unsampled_due;
	if (cpu && cpu + pre >= blk && cpu + pre >= unseen)
		return STALL_CPU;
	if (blk && blk >= unseen && blk >= pre)
		return STALL_BLOCKING;
	if (unseen && unseen >= pre)
		return st->began_before || unsampled_due <= unseen - unsampled_due ?
			       STALL_UNSEEN : STALL_UNSAMPLED;
	if (pre)
		return STALL_PREEMPTED;
	return STALL_UNKNOWN;
}

void async_stall_view(const struct asyncrep *a, struct stall *st, struct stall_view *v)
{
	qsort(st->st, st->n, sizeof(st->st[0]), cmp_stall_stack);
	v->kind = stall_kind(a, st);
	v->cpu = v->kind == STALL_CPU;
	v->has_stack = v->has_culprit = false;
	v->si = (struct stack_info){ .leaf = FRAME_NONE, .app = FRAME_NONE,
				     .coro = FRAME_NONE, .reason = FRAME_NONE };
	/* the heaviest stack of the dominant kind names the culprit */
	for (size_t j = 0; j < st->n && (v->cpu || v->kind == STALL_BLOCKING); j++) {
		struct stack_info si;

		if (v->cpu ? !st->st[j].cpu_ns : !st->st[j].off_ns)
			continue;
		async_stack_info(a, st->st[j].stack, &si);
		if (!v->cpu && !async_stack_blocking(a, &si))
			continue;
		v->si = si;
		v->has_stack = v->has_culprit = true;
		return;
	}
	/* The others have no culprit; their heaviest stack, if any, still
	 * says which coroutine ran. */
	if (st->n) {
		async_stack_info(a, st->st[0].stack, &v->si);
		v->has_stack = true;
	}
}

const char *async_stall_reason(const struct asyncrep *a, const struct stall_view *v)
{
	if (v->kind == STALL_PREEMPTED)
		return "[preempted]";
	if (v->kind == STALL_BLOCKING && v->si.reason != FRAME_NONE)
		return frame_name(a->ft, v->si.reason);
	return NULL;
}

const char *async_stall_advice(const struct asyncrep *a, const struct stall_view *v)
{
	switch (v->kind) {
	case STALL_CPU:
		return async_advice_for(NULL, true);
	case STALL_BLOCKING:
	case STALL_PREEMPTED:
		return async_advice_for(async_stall_reason(a, v), false);
	case STALL_UNSAMPLED:
		return "the loop thread was on the CPU by the kernel's clock, long enough to be sampled, and was not: the host took this machine's CPU (a VM's stolen time counts as the running task's), or samples were lost (see the summary); the stall is real, its cause was not seen";
	case STALL_UNSEEN:
		return "the loop thread was off the CPU, in a wait whose start was not seen (it began before the recording, or its switch-out was lost: see the summary); the blocking calls by site, or a longer recording, name it";
	default:
		return NULL;
	}
}

unsigned long long async_loop_stalls(const struct asyncrep *a, const struct loop *l)
{
	unsigned long long n = 0;

	for (size_t i = 0; i < a->nstalls; i++)
		n += a->stalls[i].tid == l->tid && a->stalls[i].pid == l->pid;
	return n;
}

static bool same_cause(const struct cause *x, const struct cause *y)
{
	if (x->no_stack || y->no_stack)
		return x->no_stack == y->no_stack && x->kind == y->kind;
	return x->culprit == y->culprit && x->cpu == y->cpu &&
	       x->reason == y->reason;
}

size_t async_stall_causes(const struct asyncrep *a, struct cause *c, size_t max)
{
	struct stall_view v;
	size_t n = 0;

	for (size_t i = 0; i < a->nstalls; i++) {
		struct stall *st = &a->stalls[i];
		struct cause k = { .culprit = FRAME_NONE, .reason = FRAME_NONE,
				   .coro = FRAME_NONE };
		size_t j;

		async_stall_view(a, st, &v);
		k.cpu = v.cpu;
		k.kind = v.kind;
		if (!v.has_culprit || v.si.leaf == FRAME_NONE) {
			k.no_stack = true;
		} else {
			k.culprit = stack_culprit(&v.si);
			k.reason = v.cpu ? FRAME_NONE : v.si.reason;
			k.coro = v.si.coro;
		}
		for (j = 0; j < n; j++)
			if (same_cause(&c[j], &k))
				break;
		if (j == n) {
			if (n >= max)
				continue;
			c[n++] = k;
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

void async_cause_text(const struct asyncrep *a, const struct cause *c, char *buf,
		size_t len)
{
	const char *file;

	if (c->no_stack) {
		snprintf(buf, len, "(%s)",
			 c->kind == STALL_CPU || c->kind == STALL_BLOCKING ?
				 "no Python frame seen" : async_stall_kind_text(c->kind));
		return;
	}
	file = frame_file(a->ft, c->culprit);
	snprintf(buf, len, "%s (%s:%d) %s", frame_name(a->ft, c->culprit),
		 file ? file : "", frames_get(a->ft, c->culprit)->line,
		 c->cpu ? "CPU" :
		 c->reason != FRAME_NONE ? frame_name(a->ft, c->reason) : "");
}

/* ---- pyrograph check's verdicts ---- */

/* What a verdict names of a stall: the culprit, what it did (a reason, or
 * CPU-bound) and its coroutine. Equal ones are told once. */
struct culprit_key {
	frame_id culprit, reason, coro;
	enum stall_kind kind;
};

static struct culprit_key culprit_key(const struct stall_view *sv)
{
	return (struct culprit_key){
		.culprit = sv->has_culprit ? stack_culprit(&sv->si) : FRAME_NONE,
		.reason = sv->kind == STALL_BLOCKING ? sv->si.reason : FRAME_NONE,
		.kind = sv->kind,
		.coro = sv->si.coro,
	};
}

static bool same_culprit(const struct culprit_key *x, const struct culprit_key *y)
{
	return x->culprit == y->culprit && x->reason == y->reason &&
	       x->coro == y->coro && x->kind == y->kind;
}

/* "culprit [reason] in coroutine c" of a stall into buf. */
static void stall_culprit(const struct asyncrep *a, const struct culprit_key *k,
			  char *buf, size_t len)
{
	FILE *f = fmemopen(buf, len - 1, "w");

	memset(buf, 0, len);
	if (!f)
		return;
	if (k->culprit != FRAME_NONE)
		async_put_frame(f, a, k->culprit);
	else
		fputs("(no stack)", f);
	if (k->reason != FRAME_NONE)
		fprintf(f, " %s", frame_name(a->ft, k->reason));
	else if (k->kind != STALL_UNKNOWN)
		fprintf(f, " %s", async_stall_kind_text(k->kind));
	if (k->coro != FRAME_NONE) {
		fputs(" in coroutine ", f);
		async_put_frame(f, a, k->coro);
	}
	fclose(f);
}

static int cmp_stall_len(const void *x, const void *y)
{
	const struct stall *a = *(const struct stall *const *)x, *b = *(const struct stall *const *)y;

	return a->ns < b->ns ? 1 : a->ns > b->ns ? -1 : 0;
}

/* The worst stalls of loop l (order[0..n), longest first) into v->worst. */
static void loop_worst(struct asyncrep *a, struct stall **order, size_t n,
		       unsigned long long limit_ns,
		       struct asyncrep_loop_verdict *v)
{
	struct culprit_key seen[3];
	size_t shown = 0;

	for (size_t k = 0; k < n && shown < 3 && order[k]->ns >= limit_ns; k++) {
		struct stall_view sv;
		struct culprit_key ck;
		size_t used = strlen(v->worst);
		bool dup = false;
		char c[512];

		async_stall_view(a, order[k], &sv);
		ck = culprit_key(&sv);
		for (size_t j = 0; j < shown; j++)
			dup |= same_culprit(&seen[j], &ck);
		if (dup)
			continue;
		seen[shown++] = ck;
		stall_culprit(a, &ck, c, sizeof(c));
		snprintf(v->worst + used, sizeof(v->worst) - used, "%s%s (%.0f ms)",
			 used ? "; " : "", c, order[k]->ns / 1e6);
	}
}

size_t asyncrep__loop_verdicts(struct asyncrep *a, struct asyncrep_loop_verdict *out,
			       size_t max, unsigned long long limit_ns)
{
	struct stall **order = calloc(a->nstalls ? a->nstalls : 1, sizeof(*order));

	for (size_t i = 0; i < a->nloops && i < max; i++) {
		const struct loop *l = &a->loops[i];
		struct asyncrep_loop_verdict *v = &out[i];
		double max_us = l->ls.max_ns / 1e3;
		size_t n = 0;

		memset(v, 0, sizeof(*v));
		v->pid = l->pid;
		v->tid = l->tid;
		v->iterations = l->ls.iters;
		v->max_ms = max_us / 1e3;
		v->p99_ms = loop_hist_percentile(l->ls.hist, 0.99, max_us) / 1e3;
		v->stalls = async_loop_stalls(a, l);
		for (size_t k = 0; order && k < a->nstalls; k++)
			if (a->stalls[k].pid == l->pid && a->stalls[k].tid == l->tid)
				order[n++] = &a->stalls[k];
		if (!n)
			continue;
		qsort(order, n, sizeof(*order), cmp_stall_len);
		v->worst_stall_ms = order[0]->ns / 1e6;
		loop_worst(a, order, n, limit_ns, v);
	}
	free(order);
	return a->nloops;
}

/* ---- durations: sites, steps, awaits, pairs ---- */

size_t *async_sites_sorted(const struct asyncrep *a)
{
	size_t n = a->sites.n, *idx = malloc((n ? n : 1) * sizeof(*idx));
	const struct dist *s = a->sites.d;

	if (!idx)
		return NULL;
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	/* by total time, descending; insertion sort keeps ties in first-seen
	 * order and the site count is small */
	for (size_t i = 1; i < n; i++) {
		size_t v = idx[i], j = i;

		while (j > 0 && s[idx[j - 1]].total_ns < s[v].total_ns) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = v;
	}
	return idx;
}

static int cmp_ull(const void *x, const void *y)
{
	unsigned long long a = *(const unsigned long long *)x,
			   b = *(const unsigned long long *)y;

	return (a > b) - (a < b);
}

void async_dist_pcts(const struct dist *d, double out[3])
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

const struct dist **async_dists_sorted(const struct dist_table *t)
{
	const struct dist **v = malloc((t->n ? t->n : 1) * sizeof(*v));

	if (!v)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		v[i] = &t->d[i];
	qsort(v, t->n, sizeof(*v), cmp_dist_total);
	return v;
}

void async_pair_view(const struct asyncrep *a, const struct dist *d,
	       struct pair_view *v)
{
	const char *name = frames_s(a->ft, d->key.k[0]);
	const char *file = frames_s(a->ft, d->key.k[1]);

	memset(v, 0, sizeof(*v));
	v->independent = -1;
	v->la = (int32_t)d->key.k[2];
	v->lb = (int32_t)d->key.k[3];
	snprintf(v->func, sizeof(v->func), "%s (%s)", name, file ? file : "");
	if (!a->source)
		return;
	if (a->source(a->source_ctx, d->key.pid, file ? file : "", v->la,
		      v->src_a, sizeof(v->src_a)) ||
	    a->source(a->source_ctx, d->key.pid, file ? file : "", v->lb,
		      v->src_b, sizeof(v->src_b)))
		return;
	v->independent = await_independent(v->src_a, v->src_b);
}

bool async_pair_flagged(const struct dist *d, const struct pair_view *v)
{
	return d->count >= 3 && d->total_ns / d->count >= MIN_PAIR_NS &&
	       d->total_b_ns / d->count >= MIN_PAIR_NS && v->independent == 1;
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

/* ---- loops ---- */

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

/* ---- names, as both reports print them ---- */

const char *async_proc_label(const struct asyncrep *a, pid_t pid, char *buf,
		       size_t len)
{
	const struct proc *p = async_proc_find(a, pid);

	if (p)
		return p->label;
	snprintf(buf, len, "pid %d", pid);
	return buf;
}

const char *async_loop_kind(const struct asyncrep *a, pid_t pid)
{
	const struct proc *p = async_proc_find(a, pid);

	return p && p->uvloop ? "uvloop" : "asyncio";
}

void async_wall_time(const struct asyncrep *a, unsigned long long ktime, char *buf,
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

void async_put_frame(FILE *f, const struct asyncrep *a, frame_id id)
{
	const char *file = frame_file(a->ft, id);

	fprintf(f, "%s (%s:%d)", frame_name(a->ft, id), file ? file : "",
		frames_get(a->ft, id)->line);
}

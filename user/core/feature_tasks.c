// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * record --tasks: async-aware stacks. BPF sends with each CPU sample the
 * outermost coroutine frame it walked (the running task's coroutine: the
 * frame lives inside the coroutine object, at cr_iframe) and where it is
 * among the frames. Here that coroutine is looked up among the process's
 * tasks (python/pytasks.c, read from its memory) and the sample's stack
 * continues through the tasks awaiting it, outermost first:
 *   loop frames ; task ROOT ; ROOT's coroutine frames ; task CHILD ;
 *   the sampled frames from CHILD's coroutine inwards
 * so the samples of gather() children sit under the task that awaits them.
 * The task is the one running at sample time (BPF read its frame then);
 * who awaits it is from the latest reading of the tasks, read again once a
 * second while samples come, and sooner (at most every MISS_MS) for a
 * coroutine not known yet; never more than 1/MISS_COST_FACTOR of the time.
 *
 * With --idle, every task is charged its wall time too: each process's
 * tasks are read every IDLE_PERIOD_MS (within the same bound on the cost),
 * and every task that awaits no other task (a leaf of the tree) and does
 * not run gets the time since the previous reading, as the stack of its
 * awaiting tasks and its own, with a leaf saying what it waits for:
 * "[await Future]" (or the awaited object's type), "[ready]" (scheduled,
 * waiting for the loop); at the end of the recording, the time since the
 * last reading goes to the tasks waiting then. That is what CPython 3.15's
 * own sampler shows with --async-aware --async-mode all, for 3.11-3.15 and
 * every process. Such stacks overlap in time (every waiting task is
 * charged), and with the loop thread's own time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/session_int.h"
#include "python/pytasks.h"
#include "python/pyversions.h"
#include "sys/clock.h"
#include "sys/log.h"

#define REFRESH_MS	 1000
#define MISS_MS		 20
#define MISS_COST_FACTOR 20
#define IDLE_MS		 10000 /* a process not sampled this long is not read */
#define TASKS_FIRST	 32    /* tasks read at first; grown to fit */
#define CHAIN_MAX	 32 /* awaiting tasks followed up from the running one */
#define IDLE_PERIOD_MS	 100	       /* --idle: tasks read this often */
#define IDLE_ABSENT_MS	 2000	       /* ... and this often without asyncio */
#define IDLE_GAP_MAX_NS	 5000000000ULL /* ... a longer gap is not charged */
#define POLL_BUDGET_NS	 5000000ULL /* readings per pass of the session loop */

struct coro_ix {
	unsigned long long coro;
	int task;
};

struct task_view {
	struct pytasks *rd;
	struct py_task *t;
	struct coro_ix *ix; /* by coroutine address */
	frame_id *frame;    /* "task NAME", made when first used */
	int n, cap;
	int err; /* of the last reading */
	unsigned long long refreshed_ms, used_ms, cost_ns;
	unsigned long long charged_ns; /* --idle: tasks charged until then */
};

static unsigned long long reads, read_ns, in_task, no_task, idle_stacks;
static unsigned int poll_cursor; /* the bucket the next pass starts at */

static int cmp_coro(const void *a, const void *b)
{
	const struct coro_ix *x = a, *y = b;

	return x->coro < y->coro ? -1 : x->coro > y->coro;
}

static void view_free(struct task_view *v)
{
	if (!v)
		return;
	pytasks_free(v->rd);
	free(v->t);
	free(v->ix);
	free(v->frame);
	free(v);
}

static int view_grow(struct task_view *v, int cap)
{
	struct py_task *t = calloc(cap, sizeof(*t));
	struct coro_ix *ix = calloc(cap, sizeof(*ix));
	frame_id *f = calloc(cap, sizeof(*f));

	if (!t || !ix || !f) {
		free(t);
		free(ix);
		free(f);
		return -ENOMEM;
	}
	free(v->t);
	free(v->ix);
	free(v->frame);
	v->t = t;
	v->ix = ix;
	v->frame = f;
	v->cap = cap;
	v->n = 0;
	return 0;
}

static void charge_waiting(struct session *s, struct tracked *tr,
			   struct task_view *v);

/* Reads tr's tasks again; with --idle, charges the waiting ones (not
 * while a sample's stack is being built: charge is false then, and the
 * time goes to the next reading). */
static void refresh(struct session *s, struct tracked *tr, struct task_view *v,
		    unsigned long long now, bool charge)
{
	struct pytasks_stats st;
	unsigned long long ns;
	int n, want = v->cap;

	n = pytasks_read(v->rd, v->t, v->cap, &st);
	ns = st.ns;
	reads++;
	/* more tasks than room: a table for all of them, read again now */
	while (n == v->cap && st.dropped && want < n + (int)st.dropped &&
	       want < PYTASKS_MAX)
		want *= 2;
	if (want > v->cap && !view_grow(v, want)) {
		n = pytasks_read(v->rd, v->t, v->cap, &st);
		ns += st.ns;
		reads++;
	}
	read_ns += ns;
	v->refreshed_ms = now;
	v->cost_ns = ns;
	v->err = n < 0 ? n : 0;
	v->n = n < 0 ? 0 : n;
	for (int i = 0; i < v->n; i++) {
		v->ix[i].coro = v->t[i].coro;
		v->ix[i].task = i;
		v->frame[i] = FRAME_NONE;
	}
	qsort(v->ix, v->n, sizeof(v->ix[0]), cmp_coro);
	if (n < 0)
		pr_debug("tasks of %d: %s", tr->pid, pytasks_why(v->rd));
	if (s->o.offcpu && charge)
		charge_waiting(s, tr, v);
	else if (s->o.offcpu && !v->charged_ns && s->running)
		v->charged_ns = clock_mono_ns(); /* the clock starts now */
}

static struct task_view *view_of(struct tracked *tr)
{
	struct task_view *v = tr->tasks;

	if (v)
		return v;
	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->rd = pytasks_new(tr->pid, &tr->info);
	if (!v->rd || view_grow(v, TASKS_FIRST)) {
		view_free(v);
		return NULL;
	}
	tr->tasks = v;
	return v;
}

/* The task whose coroutine is coro and runs code; -1 when none is known. */
static int find(const struct task_view *v, unsigned long long coro,
		unsigned long long code)
{
	int lo = 0, hi = v->n - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		const struct py_task *t;

		if (v->ix[mid].coro < coro) {
			lo = mid + 1;
		} else if (v->ix[mid].coro > coro) {
			hi = mid - 1;
		} else {
			/* a coroutine's memory may belong to another one
			 * since the reading */
			t = &v->t[v->ix[mid].task];
			return t->nframes && t->frames[0].code == code ?
				       v->ix[mid].task :
				       -1;
		}
	}
	return -1;
}

static bool push(struct session *s, uint32_t *n, frame_id f)
{
	if (*n >= STACK_FRAMES_MAX || f == FRAME_NONE)
		return false;
	s->stack[(*n)++] = f;
	return true;
}

static frame_id task_frame(struct session *s, struct task_view *v, int i)
{
	char text[PYTASK_NAME_MAX + 8];

	if (v->frame[i] == FRAME_NONE) {
		snprintf(text, sizeof(text), "task %s", v->t[i].name);
		/* ';' separates frames in folded text */
		for (char *c = text; *c; c++)
			if (*c == ';')
				*c = '_';
		v->frame[i] = frames_synthetic(&s->ft, text);
	}
	return v->frame[i];
}

/* The tasks awaiting task k, outermost first: "task NAME" and its
 * coroutine frames each (up to a root, or around a cycle). */
static void push_awaiters(struct session *s, struct tracked *tr,
			  struct task_view *v, int k, uint32_t *n)
{
	int chain[CHAIN_MAX], depth = 0;

	for (k = v->t[k].nawaited_by ? v->t[k].awaited_by[0] : -1;
	     k >= 0 && depth < CHAIN_MAX;
	     k = v->t[k].nawaited_by ? v->t[k].awaited_by[0] : -1) {
		for (int i = 0; i < depth; i++)
			if (chain[i] == k)
				goto cycle;
		chain[depth++] = k;
	}
cycle:
	while (depth-- > 0) {
		const struct py_task *t = &v->t[chain[depth]];

		push(s, n, task_frame(s, v, chain[depth]));
		for (unsigned int f = 0; f < t->nframes; f++)
			push(s, n,
			     stackbuild_python_frame(s, tr, &t->frames[f]));
	}
}

/* What a waiting task's time is spent on, as its stack's leaf. */
static frame_id wait_frame(struct session *s, const struct py_task *t)
{
	char text[PYOBJ_TYPE_NAME + 16];
	const char *type = t->waiter_type;

	if (t->state != PYTASK_WAITING)
		return frames_synthetic(&s->ft, "[ready]");
	if (!strncmp(type, "_asyncio.", 9))
		type += 9;
	snprintf(text, sizeof(text), "[await %s]", type[0] ? type : "?");
	for (char *c = text; *c; c++)
		if (*c == ';')
			*c = '_';
	return frames_synthetic(&s->ft, text);
}

/*
 * --idle: every leaf task that does not run, charged the time since the
 * previous reading of its process (nothing at the first one).
 */
static void charge_waiting(struct session *s, struct tracked *tr,
			   struct task_view *v)
{
	unsigned long long now = clock_mono_ns(), since = v->charged_ns;

	v->charged_ns = now;
	if (!since || now - since > IDLE_GAP_MAX_NS || !s->running)
		return;
	for (int k = 0; k < v->n; k++) {
		const struct py_task *t = &v->t[k];
		struct session_sample ss = {
			.pid = tr->pid,
			.tid = tr->pid,
			.frames = s->stack,
			.start = since,
			.ns = now - since,
		};
		uint32_t n = 0;

		if (t->nawaiting || t->state == PYTASK_RUNNING)
			continue;
		for (uint32_t i = 0; i < tr->nroot; i++)
			push(s, &n, tr->root[i]);
		ss.nroot = n;
		push_awaiters(s, tr, v, k, &n);
		push(s, &n, task_frame(s, v, k));
		for (unsigned int f = 0; f < t->nframes; f++)
			push(s, &n,
			     stackbuild_python_frame(s, tr, &t->frames[f]));
		push(s, &n, wait_frame(s, t));
		ss.n = n;
		idle_stacks++;
		session_deliver(s, &ss);
	}
}

bool tasks_push_python(struct session *s, struct tracked *tr,
		       const struct sample_event *e, uint32_t *n)
{
	unsigned long long now, coro, gen_iframe = tr->info.bpf.off.gen_iframe;
	uint32_t idx = (uint32_t)e->aux[1], nf = e->nframes;
	struct task_view *v;
	int k;

	if (e->type != EV_SAMPLE || !idx || idx > nf || nf > MAX_PY_FRAMES ||
	    gen_iframe == PY_OFF_NONE ||
	    (unsigned long long)e->aux[0] <= gen_iframe)
		return false;
	idx--;
	coro = (unsigned long long)e->aux[0] - gen_iframe;
	v = view_of(tr);
	if (!v)
		return false;
	now = session_now_ms();
	v->used_ms = now;
	k = find(v, coro, e->frames[idx].code);
	if (k < 0 && now - v->refreshed_ms >= MISS_MS &&
	    (now - v->refreshed_ms) * 1000000ULL >=
		    MISS_COST_FACTOR * v->cost_ns) {
		refresh(s, tr, v, now, false);
		k = find(v, coro, e->frames[idx].code);
	}
	if (k < 0) {
		no_task++;
		return false;
	}
	in_task++;
	for (uint32_t i = nf; i-- > idx + 1;)
		push(s, n, stackbuild_python_frame(s, tr, &e->frames[i]));
	push_awaiters(s, tr, v, k, n);
	push(s, n, task_frame(s, v, k));
	for (uint32_t i = idx + 1; i-- > 0;)
		push(s, n, stackbuild_python_frame(s, tr, &e->frames[i]));
	return true;
}

static bool wanted(const struct session_opts *o)
{
	return o->tasks;
}

static void configure(struct session *s, struct profiler_opts *po)
{
	(void)s;
	po->tasks = true;
}

/* Once a second: the tasks of the processes being sampled, read again
 * (who awaits whom changes as tasks start and finish); a process whose
 * reading is slow (about 0.1 ms a task) less often, within 1/20 of the
 * time. */
static void tick(struct session *s)
{
	unsigned long long now = session_now_ms();

	for (int b = 0; b < TRACKED_BUCKETS; b++)
		for (struct tracked *t = s->buckets[b]; t; t = t->next) {
			struct task_view *v = t->tasks;

			if (v && now - v->used_ms < IDLE_MS &&
			    now - v->refreshed_ms >= REFRESH_MS / 2 &&
			    (now - v->refreshed_ms) * 1000000ULL >=
				    MISS_COST_FACTOR * v->cost_ns)
				refresh(s, t, v, now, true);
		}
}

/*
 * --idle: each Python process's tasks read every IDLE_PERIOD_MS (less
 * often where a reading is slow), within POLL_BUDGET_NS per pass of the
 * session loop, round robin over the process table.
 */
static void poll(struct session *s)
{
	unsigned long long now = session_now_ms(), t0 = clock_mono_ns();

	if (!s->o.offcpu)
		return;
	for (int b = 0; b < TRACKED_BUCKETS; b++) {
		unsigned int i = poll_cursor;

		poll_cursor = (poll_cursor + 1) % TRACKED_BUCKETS;
		for (struct tracked *t = s->buckets[i]; t; t = t->next) {
			struct task_view *v;

			if (!t->python ||
			    PY_VERSION_MINOR(t->info.bpf.off.version) < 11)
				continue;
			v = view_of(t);
			/* a process without asyncio (yet) is looked at
			 * less often, one that cannot be read never */
			if (v && v->err != -ENOTSUP &&
			    now - v->refreshed_ms >= (v->err == -ENOENT ?
							      IDLE_ABSENT_MS :
							      IDLE_PERIOD_MS) &&
			    (now - v->refreshed_ms) * 1000000ULL >=
				    MISS_COST_FACTOR * v->cost_ns)
				refresh(s, t, v, now, true);
		}
		if (clock_mono_ns() - t0 >= POLL_BUDGET_NS)
			return;
	}
}

/* The recording ends (pid 0): the time since each process's last reading
 * goes to the tasks that were waiting then, as between two readings. */
static void exit_fn(struct session *s, pid_t pid, unsigned long long ktime)
{
	(void)ktime;
	if (pid || !s->o.offcpu)
		return;
	for (int b = 0; b < TRACKED_BUCKETS; b++)
		for (struct tracked *t = s->buckets[b]; t; t = t->next)
			if (t->tasks && t->tasks->charged_ns)
				charge_waiting(s, t, t->tasks);
}

void tasks_view_free(struct tracked *t)
{
	view_free(t->tasks);
	t->tasks = NULL;
}

static void close_fn(struct session *s)
{
	(void)s;
	pr_debug(
		"tasks: %llu readings, %.1f ms; %llu samples in a task, %llu in a coroutine not known as a task; %llu stacks of waiting tasks",
		reads, read_ns / 1e6, in_task, no_task, idle_stacks);
}

const struct feature feature_tasks = {
	.name = "asyncio tasks",
	.wanted = wanted,
	.configure = configure,
	.tick = tick,
	.poll = poll,
	.exit = exit_fn,
	.close = close_fn,
};

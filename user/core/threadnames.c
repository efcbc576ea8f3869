// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The names threads go by in the thread frames (--threads): the one the
 * program gave them (threading's, read by python/pythreads.c), else the
 * OS name BPF sent. 3.14+ set the OS name from the Python one, so there
 * the OS name is the name (and a rename is noticed in /proc).
 *
 * Names are cached per thread. A process's names are read again once a
 * second while its threads are being sampled (a thread renamed, a tid
 * reused by a new thread), and at most every MISS_MS when a thread not
 * seen before shows up. A thread whose name changed has its stacks counted
 * in the kernel sent again, so they are learnt under the new name.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/session_int.h"
#include "model/hashidx.h"
#include "python/pythreads.h"
#include "sys/clock.h"
#include "sys/log.h"
#include "sys/procfs.h"

#define REFRESH_MS 1000 /* names read again this often while in use */
#define MISS_MS 50	/* ... and this soon for a thread not seen before */
/* Reading names costs about 15 us per thread (1000 threads: 15 ms). A tick
 * reads at most this long (processes not read wait for the next tick),
 * and a process is read for a new thread at most 5% of the time. */
#define TICK_BUDGET_NS 20000000ULL
#define MISS_COST_FACTOR 20
#define IDLE_MS 10000	/* a process not sampled this long is not read */
#define FORGET_MS 30000 /* a thread not sampled this long is forgotten */
#define THREADS_MAX 4096 /* threads remembered per process */

struct tname {
	pid_t tid;
	pid_t nstid; /* as the process numbers it; 0: not known */
	unsigned long long used_ms;
	frame_id frame; /* of name; FRAME_NONE: not made yet */
	char name[PYTHREAD_NAME_MAX]; /* "": threading does not know it */
};

struct thread_names {
	struct pythreads *rd; /* NULL: the OS names are the names */
	struct tname *v;
	size_t n, cap;
	struct hashidx ix;
	unsigned long long refreshed_ms, used_ms;
	unsigned long long cost_ns; /* of the last reading */
};

/* Read once for every process: the scratch list and what it cost. */
static struct py_thread_name *scratch;
static unsigned long long refreshes, refresh_ns;
static unsigned int tick_cursor; /* the bucket the next tick starts at */

struct tid_key {
	const struct thread_names *tn;
	pid_t tid;
};

static bool tid_eq(const void *ctx, uint32_t pos)
{
	const struct tid_key *k = ctx;

	return k->tn->v[pos].tid == k->tid;
}

static struct tname *find(struct thread_names *tn, pid_t tid)
{
	struct tid_key k = { tn, tid };
	long pos = hashidx_find(&tn->ix, hash_mix((uint64_t)tid), tid_eq, &k);

	return pos < 0 ? NULL : &tn->v[pos];
}

static struct tname *add(struct thread_names *tn, pid_t tid)
{
	if (tn->n >= THREADS_MAX)
		return NULL;
	if (tn->n == tn->cap) {
		size_t cap = tn->cap ? 2 * tn->cap : 16;
		struct tname *nv = realloc(tn->v, cap * sizeof(*nv));

		if (!nv)
			return NULL;
		tn->v = nv;
		tn->cap = cap;
	}
	if (hashidx_insert(&tn->ix, hash_mix((uint64_t)tid), (uint32_t)tn->n))
		return NULL;
	tn->v[tn->n] = (struct tname){ .tid = tid, .frame = FRAME_NONE };
	return &tn->v[tn->n++];
}

/* Threads not sampled for a while are gone or idle: forget them. */
static void forget_old(struct thread_names *tn, unsigned long long now)
{
	size_t j = 0;

	for (size_t i = 0; i < tn->n; i++)
		if (now - tn->v[i].used_ms < FORGET_MS)
			tn->v[j++] = tn->v[i];
	if (j == tn->n)
		return;
	tn->n = j;
	hashidx_clear(&tn->ix);
	for (size_t i = 0; i < tn->n; i++)
		hashidx_insert(&tn->ix, hash_mix((uint64_t)tn->v[i].tid),
			       (uint32_t)i);
}

static void set_name(struct session *s, struct tracked *t, struct tname *e,
		     const char *name)
{
	if (!strcmp(e->name, name))
		return;
	if (e->name[0])
		pr_debug("thread %d of process %d: now named '%s' (was '%s')",
			 e->tid, t->pid, name, e->name);
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->frame = FRAME_NONE;
	/* stacks counted under the old name are learnt again */
	stackcount_forget_thread(s, t->pid, e->tid);
}

/* 3.14+: the OS names, from /proc (a thread renamed since its stacks were
 * first counted). */
static void refresh_os_names(struct session *s, struct tracked *t)
{
	struct thread_names *tn = t->names;
	char path[48], comm[TASK_COMM_LEN + 2];

	for (size_t i = 0; i < tn->n; i++) {
		struct tname *e = &tn->v[i];
		ssize_t l;

		snprintf(path, sizeof(path), "task/%d/comm", e->tid);
		l = procfs_read(t->pid, path, comm, sizeof(comm));
		if (l <= 0)
			continue;
		if (comm[l - 1] == '\n')
			comm[l - 1] = '\0';
		set_name(s, t, e, comm);
	}
}

/*
 * Reads t's names again. full: also which tid each cached thread is in
 * the process's pid namespace (a tid reused since), and threads seen for
 * the first time in the read are added (they are the process's own tids
 * when it shares our pid namespace).
 */
static void refresh(struct session *s, struct tracked *t, bool full,
		    unsigned long long now)
{
	struct thread_names *tn = t->names;
	bool own_ns = t->ci.nspid && t->ci.nspid != t->pid;
	unsigned long long t0 = clock_mono_ns();
	int n;

	tn->refreshed_ms = now;
	if (!tn->rd) {
		if (full) {
			forget_old(tn, now);
			refresh_os_names(s, t);
		}
		return;
	}
	if (!scratch && !(scratch = calloc(PYTHREADS_MAX, sizeof(*scratch))))
		return;
	n = pythreads_read(tn->rd, scratch, PYTHREADS_MAX);
	/* unreadable this time (a dict being resized...): keep the names */
	if (n < 0 && n != -ENOENT) {
		tn->cost_ns = clock_mono_ns() - t0;
		return;
	}
	if (full)
		forget_old(tn, now);
	for (size_t i = 0; i < tn->n; i++) {
		struct tname *e = &tn->v[i];
		const char *name = "";

		if (!own_ns)
			e->nstid = e->tid;
		else if (full || !e->nstid)
			e->nstid = procfs_nstid(t->pid, e->tid);
		for (int k = 0; k < n && e->nstid > 0; k++)
			if (scratch[k].native_id == e->nstid)
				name = scratch[k].name;
		set_name(s, t, e, name);
	}
	for (int k = 0; k < n && !own_ns; k++) {
		struct tname *e;

		if (scratch[k].native_id <= 0 || scratch[k].native_id > 0x3fffffff ||
		    find(tn, (pid_t)scratch[k].native_id))
			continue;
		e = add(tn, (pid_t)scratch[k].native_id);
		if (!e)
			break;
		e->nstid = e->tid;
		e->used_ms = now;
		snprintf(e->name, sizeof(e->name), "%s", scratch[k].name);
	}
	tn->cost_ns = clock_mono_ns() - t0;
	refreshes++;
	refresh_ns += tn->cost_ns;
}

static struct thread_names *names_of(struct tracked *t)
{
	if (!t->names && (t->names = calloc(1, sizeof(*t->names))))
		t->names->rd = pythreads_new(t->pid, &t->info.bpf);
	return t->names;
}

/* comm, with the folded format's separator taken out */
static frame_id comm_frame(struct session *s, const char *comm, pid_t tid)
{
	char c[TASK_COMM_LEN + 1];

	memcpy(c, comm, TASK_COMM_LEN);
	c[TASK_COMM_LEN] = '\0';
	for (char *p = c; *p; p++)
		if (*p == ';')
			*p = '_';
	return frames_thread(&s->ft, c, (int)tid);
}

frame_id threadnames_frame(struct session *s, struct tracked *t, pid_t tid,
			   const char *comm)
{
	struct thread_names *tn = names_of(t);
	unsigned long long now;
	struct tname *e;
	char name[PYTHREAD_NAME_MAX];

	if (!tn)
		return comm_frame(s, comm, tid);
	now = session_now_ms();
	tn->used_ms = now;
	e = find(tn, tid);
	if (!e) {
		/* a thread not seen before: its name, unless names were read
		 * a moment ago (then the next reading names it) */
		e = add(tn, tid);
		if (e && tn->rd && now - tn->refreshed_ms >= MISS_MS &&
		    (now - tn->refreshed_ms) * 1000000ULL >= MISS_COST_FACTOR * tn->cost_ns) {
			refresh(s, t, false, now);
			e = find(tn, tid);
		}
	}
	if (!e)
		return comm_frame(s, comm, tid);
	e->used_ms = now;
	if (!tn->rd && strncmp(e->name, comm, TASK_COMM_LEN)) {
		/* OS names: the one this sample came with, kept to notice
		 * a rename (refresh) */
		snprintf(e->name, sizeof(e->name), "%.*s", TASK_COMM_LEN, comm);
		e->frame = FRAME_NONE;
	}
	if (!e->name[0])
		return comm_frame(s, comm, tid);
	if (e->frame == FRAME_NONE) {
		snprintf(name, sizeof(name), "%s", e->name);
		for (char *p = name; *p; p++)
			if (*p == ';')
				*p = '_';
		e->frame = frames_thread(&s->ft, name, (int)tid);
	}
	return e->frame;
}

void threadnames_free(struct tracked *t)
{
	if (!t->names)
		return;
	pythreads_free(t->names->rd);
	hashidx_free(&t->names->ix);
	free(t->names->v);
	free(t->names);
	t->names = NULL;
}

static bool wanted(const struct session_opts *o)
{
	return o->threads;
}

static void configure(struct session *s, struct profiler_opts *po)
{
	(void)s;
	(void)po;
}

/* Once a second: the names of the processes being sampled, read again,
 * within TICK_BUDGET_NS (round robin over the process table). */
static void tick(struct session *s)
{
	unsigned long long now = session_now_ms(), t0 = clock_mono_ns();

	for (int n = 0; n < TRACKED_BUCKETS; n++) {
		unsigned int b = tick_cursor;

		tick_cursor = (tick_cursor + 1) % TRACKED_BUCKETS;
		for (struct tracked *t = s->buckets[b]; t; t = t->next) {
			struct thread_names *tn = t->names;

			/* half: ticks come about a second apart, not
			 * exactly, and a read for a new thread in between
			 * must not put the next one off by a second */
			if (tn && now - tn->used_ms < IDLE_MS &&
			    now - tn->refreshed_ms >= REFRESH_MS / 2)
				refresh(s, t, true, now);
		}
		if (clock_mono_ns() - t0 >= TICK_BUDGET_NS)
			return;
	}
}

static void close_fn(struct session *s)
{
	(void)s;
	pr_debug("thread names: %llu reads of threading._active, %.1f ms",
		 refreshes, refresh_ns / 1e6);
	free(scratch);
	scratch = NULL;
}

const struct feature feature_threads = {
	.name = "thread names",
	.wanted = wanted,
	.configure = configure,
	.tick = tick,
	.close = close_fn,
};

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_TEST_ASYNC_SCRIPT_H
#define PYROGRAPH_TEST_ASYNC_SCRIPT_H

/*
 * A scripted recording for the asyncio report: the events a session hands
 * its async sink (processes, typed stacks of loop threads, stalls, loop
 * timings, task steps, resumes), built with the frame table's constructors
 * as the session builds them. It touches every section of the report:
 * stalls on and off CPU, preemption, no stack, [truncated] stacks, blocking
 * calls by site, the text's cut at 20 stalls and 30 rows, task steps past
 * the reservoir, await sites, sequential awaits (flagged, dependent, short,
 * unknown source, loops going round), uvloop, a process in a container,
 * unknown pids and the memory bounds; async_script_container() is the
 * container's part as -a sees it. test_asyncrep.c checks the report's
 * outputs for them against tests/unit/data/golden/.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "profile.h"
#include "model/frames.h"

struct async_feed {
	void *ctx;
	struct frame_table *ft;
	void (*proc)(void *ctx, pid_t pid, const char *where,
		     const frame_id *root, uint32_t nroot, bool uvloop);
	void (*proc_uvloop)(void *ctx, pid_t pid);
	void (*stack)(void *ctx, pid_t pid, pid_t tid, const frame_id *f,
		      uint32_t n, bool oncpu, unsigned long long start,
		      unsigned long long ns);
	void (*stall)(void *ctx, pid_t pid, pid_t tid, unsigned long long start,
		      unsigned long long ns, unsigned long long off_ns,
		      unsigned long long preempt_ns, unsigned int flags);
	void (*loop)(void *ctx, pid_t tid, const char *comm,
		     const struct loop_state *ls);
	void (*step)(void *ctx, pid_t pid, unsigned long long coro,
		     frame_id code, unsigned long long ns, int result);
	void (*resume)(void *ctx, pid_t pid, unsigned long long coro,
		       const frame_id *chain, uint32_t n, unsigned long long ns);
	/* the same with the times a task's life is made of */
	void (*step_at)(void *ctx, const struct asyncrep_step *st);
	void (*resume_at)(void *ctx, pid_t pid, unsigned long long coro,
			  const frame_id *chain, uint32_t n,
			  unsigned long long ns, unsigned long long queued_ns);
};

/* The report's clock and length for the script (TZ=UTC). */
#define SCRIPT_MONO0 5000000000ULL
#define SCRIPT_WALL0 1700000000123456789ULL
#define SCRIPT_SECONDS 12.5
#define SCRIPT_STALL_NS 100000000ULL
#define SCRIPT_LIMIT_NS 150000000ULL /* check's stall rule */

#define MS 1000000ULL
#define SEC 1000000000ULL

/* Source lines as the processes see them; -ENOENT for the others. */
static inline int script_source(void *ctx, pid_t pid, const char *file,
				long line, char *buf, size_t len)
{
	static const struct {
		const char *file;
		long line;
		const char *text;
	} src[] = {
		{ "/srv/app.py", 10, "user = await fetch_user()" },
		{ "/srv/app.py", 11, "orders = await fetch_orders()" },
		{ "/srv/app.py", 12, "await asyncio.sleep(len(user) + len(orders))" },
		{ "/srv/app.py", 40, "item = await q.get()" },
		{ "/srv/app.py", 41, "await q.put(item)" },
		{ "/srv/app.py", 50, "x = await f()" },
		{ "/srv/app.py", 51, "y = await g()" },
		{ "/app/svc.py", 20, "a = await one()" },
		{ "/app/svc.py", 21, "b = await two()" },
	};

	(void)ctx;
	(void)pid;
	for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++)
		if (src[i].line == line && !strcmp(src[i].file, file)) {
			snprintf(buf, len, "%s", src[i].text);
			return 0;
		}
	return -2; /* -ENOENT */
}

struct sstack {
	frame_id f[256];
	uint32_t n;
};

/* base[0..nb) then the frames given, up to FRAME_NONE. */
static inline struct sstack *sstack_of(struct sstack *s, const frame_id *base,
				       uint32_t nb, ...)
{
	va_list ap;
	frame_id id;

	s->n = 0;
	for (uint32_t i = 0; i < nb && s->n < 256; i++)
		s->f[s->n++] = base[i];
	va_start(ap, nb);
	while ((id = va_arg(ap, frame_id)) != FRAME_NONE)
		if (s->n < 256)
			s->f[s->n++] = id;
	va_end(ap);
	return s;
}

#define END FRAME_NONE

static inline void script_cpu(const struct async_feed *fd, pid_t pid, pid_t tid,
			      const struct sstack *s, unsigned long long start,
			      unsigned long long ns)
{
	fd->stack(fd->ctx, pid, tid, s->f, s->n, true, start, ns);
}

static inline void script_off(const struct async_feed *fd, pid_t pid, pid_t tid,
			      const struct sstack *s, unsigned long long start,
			      unsigned long long ns)
{
	fd->stack(fd->ctx, pid, tid, s->f, s->n, false, start, ns);
}

static inline void script_loop(const struct async_feed *fd, pid_t pid,
			       pid_t tid, const char *comm,
			       unsigned long long iters, unsigned long long max_ns,
			       const unsigned long long hist[LOOP_BUCKETS])
{
	struct loop_state ls = { .pid = (__u32)pid, .iters = iters,
				 .max_ns = max_ns };

	for (int i = 0; i < LOOP_BUCKETS; i++) {
		ls.hist[i] = hist[i];
		ls.sum_ns += hist[i] * (i ? (3ULL << i) / 2 : 1) * 1000;
	}
	fd->loop(fd->ctx, tid, comm, &ls);
}

static inline void script_chain(const struct async_feed *fd, pid_t pid,
				unsigned long long coro, unsigned long long ns,
				...)
{
	frame_id c[16];
	uint32_t n = 0;
	va_list ap;
	frame_id id;

	va_start(ap, ns);
	while ((id = va_arg(ap, frame_id)) != FRAME_NONE)
		if (n < 16)
			c[n++] = id;
	va_end(ap);
	fd->resume(fd->ctx, pid, coro, c, n, ns);
}

/* pid 7: two loop threads (7, 71) on asyncio, a third thread flooding. */
static inline void script_app(const struct async_feed *fd)
{
	struct frame_table *ft = fd->ft;
	frame_id root = frames_process(ft, "python3 app.py", 7, -1);
	const char *rn = "/usr/lib/python3.11/asyncio/runners.py";
	const char *be = "/usr/lib/python3.11/asyncio/base_events.py";
	frame_id base[] = {
		root,
		frames_python(ft, "<module>", "/srv/app.py", 90),
		frames_python(ft, "run", rn, 190),
		frames_python(ft, "Runner.run", rn, 118),
		frames_python(ft, "BaseEventLoop.run_until_complete", be, 640),
		frames_python(ft, "BaseEventLoop.run_forever", be, 607),
		frames_python(ft, "BaseEventLoop._run_once", be, 1922),
		frames_python(ft, "Handle._run", "/usr/lib/python3.11/asyncio/events.py", 80),
	};
	uint32_t nb = sizeof(base) / sizeof(base[0]);
	frame_id sleep = frames_synthetic(ft, "[sleep]");
	frame_id ticker = frames_python(ft, "ticker", "/srv/app.py", 5);
	struct sstack s;
	unsigned long long t;

	fd->proc(fd->ctx, 7, NULL, &root, 1, false);
	/* a stack before the first stall: never blamed for it */
	script_cpu(fd, 7, 7, sstack_of(&s, base, nb, ticker, END), 9 * SEC, 2 * MS);
	/* six sleeps of 190..440 ms, 5 ms of CPU before each */
	for (int i = 0; i < 6; i++) {
		unsigned long long ns = (190 + 50 * i) * MS;

		t = (10 + i) * SEC;
		script_cpu(fd, 7, 7, sstack_of(&s, base, nb,
			   frames_python(ft, "sleepy", "/srv/app.py", 17), END),
			   t - 2 * MS, 5 * MS);
		script_off(fd, 7, 7, sstack_of(&s, base, nb,
			   frames_python(ft, "sleepy", "/srv/app.py", 18), sleep, END),
			   t + 5 * MS, ns);
		fd->stall(fd->ctx, 7, 7, t, ns + 10 * MS, ns, 0, 0);
	}
	/* CPU-bound crunch, four times, two stacks and a preemption each */
	for (int i = 0; i < 4; i++) {
		t = 16 * SEC + i * SEC;
		for (int k = 0; k < 24; k++)
			script_cpu(fd, 7, 7, sstack_of(&s, base, nb,
				   frames_python(ft, "crunch", "/srv/app.py", 25 + (k % 2)),
				   k % 2 ? frames_python(ft, "total", "/srv/app.py", 31) : END,
				   END), t + k * 5 * MS, 5 * MS);
		script_off(fd, 7, 7, sstack_of(&s, base, nb,
			   frames_python(ft, "crunch", "/srv/app.py", 25),
			   frames_synthetic(ft, "[preempted]"), END),
			   t + 121 * MS, 20 * MS);
		fd->stall(fd->ctx, 7, 7, t, (150 + 10 * i) * MS, 20 * MS, 20 * MS, 0);
	}
	/* a blocking socket call inside a library called from the app */
	t = 20 * SEC;
	script_off(fd, 7, 7, sstack_of(&s, base, nb,
		   frames_python(ft, "handler", "/srv/app.py", 50),
		   frames_python(ft, "get", "/usr/lib/python3/dist-packages/requests/api.py", 73),
		   frames_python(ft, "Session.send", "/usr/lib/python3/dist-packages/requests/sessions.py", 701),
		   frames_synthetic(ft, "[network]"), END), t + MS, 120 * MS);
	fd->stall(fd->ctx, 7, 7, t, 130 * MS, 120 * MS, 0, 0);
	/* the standard library only: its leaf is the culprit */
	t = 21 * SEC;
	script_off(fd, 7, 7, sstack_of(&s, base, nb,
		   frames_python(ft, "BaseServer.handle", "/usr/lib/python3.11/socketserver.py", 300),
		   frames_python(ft, "FileIO.read", "/usr/lib/python3.11/_pyio.py", 1590),
		   frames_synthetic(ft, "[disk I/O]"), END), t + MS, 110 * MS);
	fd->stall(fd->ctx, 7, 7, t, 112 * MS, 110 * MS, 0, 0);
	/* nothing seen, though 105 ms on the CPU by the kernel's count (no
	 * switch-out) would have been sampled: the samples did not come
	 * (unsampled: a host that took the VM's CPU); then only
	 * preemption (not blocking, no CPU stack), as an older recording
	 * sent it (a stack) and as the kernel counts it now (no stack) */
	fd->stall(fd->ctx, 7, 7, 22 * SEC, 105 * MS, 0, 0, 0);
	t = 23 * SEC;
	script_off(fd, 7, 7, sstack_of(&s, base, nb,
		   frames_python(ft, "sleepy", "/srv/app.py", 17),
		   frames_synthetic(ft, "[preempted]"), END), t + MS, 101 * MS);
	fd->stall(fd->ctx, 7, 7, t, 102 * MS, 101 * MS, 0, 0);
	fd->stall(fd->ctx, 7, 7, 23 * SEC + 500 * MS, 108 * MS, 104 * MS, 104 * MS, 0);
	/* off the CPU with no stack for it (its switch-out lost), one CPU
	 * sample before: blocked, start not seen, never CPU-bound */
	t = 30 * SEC;
	script_cpu(fd, 7, 7, sstack_of(&s, base, nb,
		   frames_python(ft, "sleepy", "/srv/app.py", 17), END), t + 2 * MS, 3 * MS);
	fd->stall(fd->ctx, 7, 7, t, 210 * MS, 205 * MS, 0, 0);
	/* the thread first seen entering its poll, 320 ms after its process
	 * was found: the iteration began before (STALL_BEGAN_BEFORE) */
	fd->stall(fd->ctx, 7, 7, 8 * SEC, 320 * MS, 0, 0, STALL_BEGAN_BEFORE);
	/* five stacks and a lock in one stall: the text shows three more */
	t = 24 * SEC;
	for (int k = 0; k < 5; k++)
		script_cpu(fd, 7, 7, sstack_of(&s, base, nb,
			   frames_python(ft, "parse", "/srv/app.py", 60 + k), END),
			   t + (k + 1) * 10 * MS, (k + 1) * 8 * MS);
	script_off(fd, 7, 7, sstack_of(&s, base, nb,
		   frames_python(ft, "parse", "/srv/app.py", 66),
		   frames_synthetic(ft, "[lock]"), END), t + 70 * MS, 10 * MS);
	fd->stall(fd->ctx, 7, 7, t, 180 * MS, 10 * MS, 0, 0);
	/* no loop frames: printed from the first Python frame */
	t = 25 * SEC;
	for (int k = 0; k < 24; k++)
		script_cpu(fd, 7, 7, sstack_of(&s, base, 2,
			   frames_python(ft, "busy", "/srv/app.py", 70), END),
			   t + k * 5 * MS, 5 * MS);
	fd->stall(fd->ctx, 7, 7, t, 125 * MS, 0, 0, 0);
	/* the outer end cut off ([truncated]), waiting for a child */
	t = 26 * SEC;
	script_off(fd, 7, 7, sstack_of(&s, base, 1,
		   frames_synthetic(ft, "[truncated]"),
		   frames_python(ft, "work", "/srv/app.py", 80),
		   frames_python(ft, "run", "/usr/lib/python3.11/subprocess.py", 548),
		   frames_synthetic(ft, "[child wait]"), END), t + MS, 150 * MS);
	fd->stall(fd->ctx, 7, 7, t, 152 * MS, 150 * MS, 0, 0);
	/* the GIL, a page fault, and a reason without advice of its own */
	t = 27 * SEC;
	script_off(fd, 7, 7, sstack_of(&s, base, nb,
		   frames_python(ft, "hasher", "/srv/app.py", 85),
		   frames_synthetic(ft, "[GIL wait]"), END), t + MS, 100 * MS);
	script_off(fd, 7, 7, sstack_of(&s, base, nb,
		   frames_python(ft, "hasher", "/srv/app.py", 86),
		   frames_synthetic(ft, "[page fault]"), END), t + 101 * MS, 10 * MS);
	fd->stall(fd->ctx, 7, 7, t, 115 * MS, 110 * MS, 0, 0);
	t = 28 * SEC;
	script_off(fd, 7, 7, sstack_of(&s, base, nb,
		   frames_python(ft, "waiter", "/srv/app.py", 88),
		   frames_synthetic(ft, "[signal wait]"), END), t + MS, 140 * MS);
	fd->stall(fd->ctx, 7, 7, t, 141 * MS, 140 * MS, 0, 0);
	/* more distinct stacks in one stall than are kept (short ones: no
	 * loop frames) */
	t = 29 * SEC;
	for (int k = 0; k < 70; k++)
		script_cpu(fd, 7, 7, sstack_of(&s, base, 1,
			   frames_python(ft, "many", "/srv/app.py", 100 + k), END),
			   t + k * 5 * MS, 5 * MS);
	fd->stall(fd->ctx, 7, 7, t, 400 * MS, 0, 0, 0);
	/* blocking calls outside stalls: 35 sites, more than the text shows
	 * (short stacks: no loop frames) */
	for (int k = 0; k < 35; k++) {
		char name[32];

		snprintf(name, sizeof(name), "site_%d", k);
		script_off(fd, 7, 7, sstack_of(&s, base, 2,
			   frames_python(ft, name, "/srv/sites.py", 10 + k),
			   frames_synthetic(ft, k % 3 ? "[network]" : "[disk I/O]"), END),
			   31 * SEC + k * MS, (k + 1) * 100000ULL);
	}
	/* the second loop thread; a tie with the first's stall of 240 ms */
	script_off(fd, 7, 71, sstack_of(&s, base, nb,
		   frames_python(ft, "sleepy2", "/srv/app.py", 95), sleep, END),
		   11 * SEC + MS, 230 * MS);
	fd->stall(fd->ctx, 7, 71, 11 * SEC, 240 * MS, 230 * MS, 0, 0);
	/* a thread that floods stacks without a stall loses half of them */
	for (int k = 0; k < 16400; k++)
		script_cpu(fd, 7, 99, sstack_of(&s, base, nb, ticker, END),
			   40 * SEC, 1000);
}

/* pid 8: uvicorn on uvloop, found before uvloop was loaded. */
static inline void script_uvloop(const struct async_feed *fd)
{
	struct frame_table *ft = fd->ft;
	frame_id root = frames_process(ft, "python3 -m uvicorn main:app", 8, -1);
	frame_id base[] = {
		root,
		frames_python(ft, "<module>", "/srv/main.py", 30),
		frames_python(ft, "run", "/usr/lib/python3/dist-packages/uvicorn/main.py", 577),
		frames_python(ft, "Server.run", "/usr/lib/python3/dist-packages/uvicorn/server.py", 61),
		frames_python(ft, "run", "/usr/lib/python3/dist-packages/uvloop/__init__.py", 105),
	};
	uint32_t nb = sizeof(base) / sizeof(base[0]);
	struct sstack s;
	unsigned long long t = 12 * SEC + 500 * MS;

	fd->proc(fd->ctx, 8, NULL, &root, 1, false);
	for (int k = 0; k < 40; k++)
		script_cpu(fd, 8, 8, sstack_of(&s, base, nb,
			   frames_python(ft, "endpoint", "/srv/main.py", 12), END),
			   t + k * 5 * MS, 5 * MS);
	fd->stall(fd->ctx, 8, 8, t, 205 * MS, 0, 0, 0);
	t = 13 * SEC + 500 * MS;
	script_off(fd, 8, 8, sstack_of(&s, base, nb,
		   frames_python(ft, "other", "/srv/main.py", 20),
		   frames_python(ft, "urlopen", "/usr/lib/python3.11/urllib/request.py", 216),
		   frames_synthetic(ft, "[network]"), END), t + MS, 150 * MS);
	fd->stall(fd->ctx, 8, 8, t, 160 * MS, 150 * MS, 0, 0);
	fd->proc_uvloop(fd->ctx, 8);
}

/* pid 9 (1 in its namespace) in a container; with container_roots its
 * stacks lead with the container frame, as under -a. */
static inline void script_container(const struct async_feed *fd,
				    bool container_roots)
{
	struct frame_table *ft = fd->ft;
	const char *where = "container 3f2a9c1b2d4e";
	frame_id root[] = { frames_container(ft, where),
			    frames_process(ft, "python3 svc.py", 9, 1) };
	const frame_id *r = container_roots ? root : root + 1;
	uint32_t nr = container_roots ? 2 : 1;
	const char *rn = "/usr/lib/python3.14/asyncio/runners.py";
	frame_id base[] = {
		r[0], r[nr - 1],
		frames_python(ft, "<module>", "/app/svc.py", 40),
		frames_python(ft, "run", rn, 195),
		frames_python(ft, "BaseEventLoop._run_once", "/usr/lib/python3.14/asyncio/base_events.py", 2012),
		frames_python(ft, "Handle._run", "/usr/lib/python3.14/asyncio/events.py", 89),
	};
	uint32_t nb = sizeof(base) / sizeof(base[0]);
	struct sstack s;
	const frame_id *b = container_roots ? base : base + 1;
	uint32_t n = container_roots ? nb : nb - 1;
	unsigned long long t = 14 * SEC + 250 * MS;

	fd->proc(fd->ctx, 9, where, r, nr, false);
	script_off(fd, 9, 9, sstack_of(&s, b, n,
		   frames_python(ft, "sleepy", "/tmp/pyrograph-tests/async_planted.py", 30),
		   frames_synthetic(ft, "[sleep]"), END), t + MS, 250 * MS);
	fd->stall(fd->ctx, 9, 9, t, 255 * MS, 250 * MS, 0, 0);
	/* the standard library under the app's <module>: that is blamed */
	t = 15 * SEC + 250 * MS;
	script_off(fd, 9, 9, sstack_of(&s, b, n,
		   frames_python(ft, "Queue.get", "/usr/lib/python3.14/queue.py", 171),
		   frames_synthetic(ft, "[lock]"), END), t + MS, 130 * MS);
	fd->stall(fd->ctx, 9, 9, t, 131 * MS, 130 * MS, 0, 0);
	/* no app frame at all (code run with -c): the leaf, not the process */
	t = 16 * SEC + 250 * MS;
	script_off(fd, 9, 9, sstack_of(&s, r, nr, base[3], base[4], base[5],
		   frames_python(ft, "Queue.get", "/usr/lib/python3.14/queue.py", 180),
		   frames_synthetic(ft, "[lock]"), END), t + MS, 120 * MS);
	fd->stall(fd->ctx, 9, 9, t, 121 * MS, 120 * MS, 0, 0);
}

static inline void script_steps(const struct async_feed *fd)
{
	struct frame_table *ft = fd->ft;

	for (int k = 0; k < 35; k++) {
		char name[32];
		frame_id code;

		snprintf(name, sizeof(name), "coro_%d", k);
		code = frames_python(ft, name, "/srv/app.py", 200 + k);
		for (int i = 0; i <= k; i++)
			fd->step(fd->ctx, 7, 0x1000 + k, code,
				 (unsigned long long)(k + 1) * (i + 1) * 1000, 1);
	}
	/* past the reservoir: percentiles from a sample */
	for (int i = 0; i < 25000; i++)
		fd->step(fd->ctx, 7, 0x2000,
			 frames_python(ft, "ticker", "/srv/app.py", 4),
			 (unsigned long long)(i % 977) * 1000 + 50000, i % 3 ? 1 : 0);
	fd->step(fd->ctx, 8, 0x3000, frames_python(ft, "endpoint", "/srv/main.py", 10),
		 200 * MS, 1);
	fd->step(fd->ctx, 9, 0x4000, frames_python(ft, "handler", "/app/svc.py", 18),
		 3 * MS, -1);
}

/*
 * pid 8: requests of a FastAPI app on uvicorn. Each task: a first step
 * (ready 1 ms after its iteration began), a wait at the endpoint's await
 * under 16 server and framework levels, a last step. /users: 40 tasks of
 * 50-89 ms, two of them slow at the database (300 and 400 ms, one queued
 * 30 ms behind other tasks); /health never awaits (named by its task's
 * coroutine); one task began before the recording.
 */
static inline void script_requests(const struct async_feed *fd)
{
	struct frame_table *ft = fd->ft;
	const char *uv = "/usr/lib/python3/dist-packages/uvicorn/protocols/http/h11_impl.py";
	frame_id run = frames_python(ft, "RequestResponseCycle.run_asgi", uv, 426);
	frame_id sleep = frames_python(ft, "sleep", "/usr/lib/python3.11/asyncio/tasks.py", 639);
	frame_id c[24];
	uint32_t n = 0;
	unsigned long long t = 40 * SEC;

	c[n++] = run;
	for (int i = 0; i < 16; i++) {
		char name[32];

		snprintf(name, sizeof(name), "Middleware_%d.__call__", i);
		c[n++] = frames_python(ft, name, "/usr/lib/python3/dist-packages/starlette/x.py", 100 + i);
	}
	c[n++] = frames_python(ft, "list_users", "/srv/main.py", 30);
	c[n++] = frames_python(ft, "db_query", "/srv/db.py", 12);
	c[n++] = sleep;
	for (int k = 0; k < 40; k++, t += 100 * MS) {
		unsigned long long coro = 0x8000 + 0x100 * k;
		unsigned long long wait = (k == 7 ? 300 : k == 21 ? 400 : 50 + k) * MS;
		unsigned long long queued = k == 21 ? 30 * MS : 100000;

		struct asyncrep_step first = {
			.pid = 8, .coro = coro, .code = run, .start = t + MS,
			.ns = 200000, .born = t, .result = 1,
		}, last = first;

		/* the slow one at 7 also blocked the loop 5 ms in a step, of
		 * which 1 ms preempted */
		if (k == 7)
			first = (struct asyncrep_step){ .pid = 8, .coro = coro,
				.code = run, .start = t + MS, .ns = 5200000,
				.born = t, .off_ns = 5 * MS, .preempt_ns = MS,
				.result = 1 };
		last.start = first.start + first.ns + wait;
		last.ns = 300000;
		last.result = 0;
		fd->step_at(fd->ctx, &first);
		fd->resume_at(fd->ctx, 8, coro, c, n, wait, queued);
		fd->step_at(fd->ctx, &last);
	}
	for (int k = 0; k < 10; k++, t += MS)
		fd->step_at(fd->ctx, &(struct asyncrep_step){ .pid = 8, .coro = 0x20000 + k,
			.code = run, .start = t + 100000, .ns = 400000, .born = t });
	fd->step_at(fd->ctx, &(struct asyncrep_step){ .pid = 8, .coro = 0x30000,
		.code = run, .start = t, .ns = 400000 });
}

static inline void script_awaits(const struct async_feed *fd)
{
	struct frame_table *ft = fd->ft;
	const char *app = "/srv/app.py";
	frame_id sleep = frames_python(ft, "sleep", "/usr/lib/python3.11/asyncio/tasks.py", 639);
	frame_id qget = frames_python(ft, "Queue.get", "/usr/lib/python3.11/asyncio/queues.py", 158);

	/* 10 then 11 are independent, 11 then 12 not, 12 then 10 goes round */
	for (int i = 0; i < 4; i++) {
		script_chain(fd, 7, 0xabc0, (50 + i) * MS,
			     frames_python(ft, "sequential", app, 10),
			     frames_python(ft, "fetch_user", app, 3), END);
		script_chain(fd, 7, 0xabc0, (60 + 2 * i) * MS,
			     frames_python(ft, "sequential", app, 11),
			     frames_python(ft, "fetch_orders", app, 6), END);
		script_chain(fd, 7, 0xabc0, MS, frames_python(ft, "sequential", app, 12),
			     sleep, END);
	}
	/* a dependent pair, and seen only twice */
	for (int i = 0; i < 2; i++) {
		script_chain(fd, 7, 0xdef0, 30 * MS, frames_python(ft, "loopy", app, 40),
			     qget, END);
		script_chain(fd, 7, 0xdef0, 5 * MS, frames_python(ft, "loopy", app, 41),
			     qget, END);
	}
	/* independent but too short to matter */
	for (int i = 0; i < 5; i++) {
		script_chain(fd, 7, 0x1230, 200000, frames_python(ft, "short", app, 50),
			     sleep, END);
		script_chain(fd, 7, 0x1230, 300000, frames_python(ft, "short", app, 51),
			     sleep, END);
	}
	/* other functions where the chains part: no pair */
	script_chain(fd, 7, 0x4560, 2 * MS, frames_python(ft, "a", app, 1), sleep, END);
	script_chain(fd, 7, 0x4560, 2 * MS, frames_python(ft, "c", app, 2), sleep, END);
	/* deeper chains parting one level down; the source is unknown */
	for (int i = 0; i < 3; i++) {
		frame_id outer = frames_python(ft, "outer", "/srv/deep.py", 5);
		frame_id inner = frames_python(ft, "inner", "/srv/deep.py", 9);

		script_chain(fd, 7, 0x7890, 4 * MS, outer,
			     frames_python(ft, "mid", "/srv/deep.py", 7), inner, END);
		script_chain(fd, 7, 0x7890, 6 * MS, outer,
			     frames_python(ft, "mid", "/srv/deep.py", 8), inner, END);
	}
	/* one chain a prefix of the next */
	script_chain(fd, 7, 0x5550, 2 * MS, frames_python(ft, "x", app, 1), END);
	script_chain(fd, 7, 0x5550, 2 * MS, frames_python(ft, "x", app, 1),
		     frames_python(ft, "y", app, 2), END);
	/* the container's process: a candidate of its own */
	for (int i = 0; i < 3; i++) {
		script_chain(fd, 9, 0xaaa0, 20 * MS, frames_python(ft, "handler", "/app/svc.py", 20),
			     sleep, END);
		script_chain(fd, 9, 0xaaa0, 25 * MS, frames_python(ft, "handler", "/app/svc.py", 21),
			     sleep, END);
	}
	/* many await sites, more than the text shows */
	for (int k = 0; k < 32; k++) {
		char name[32];

		snprintf(name, sizeof(name), "wait_%d", k);
		script_chain(fd, 7, 0x9000 + 16 * k, (unsigned long long)(k + 1) * 100000,
			     frames_python(ft, name, "/srv/w.py", k + 1), END);
	}
}

static inline void script_loops(const struct async_feed *fd)
{
	unsigned long long h[LOOP_BUCKETS] = { 0 };

	h[6] = 4000;
	h[7] = 900;
	h[10] = 70;
	h[17] = 20;
	h[18] = 10;
	script_loop(fd, 7, 7, "python3", 5000, 441 * MS, h);
	memset(h, 0, sizeof(h));
	h[3] = 90;
	h[17] = 1;
	script_loop(fd, 7, 71, NULL, 91, 240 * MS, h);
	memset(h, 0, sizeof(h));
	h[0] = 3;
	h[5] = 1000;
	h[17] = 2;
	script_loop(fd, 8, 8, "uvicorn", 1005, 205 * MS, h);
	memset(h, 0, sizeof(h));
	h[9] = 50;
	h[18] = 1;
	script_loop(fd, 9, 9, "python3", 51, 255 * MS, h);
	/* polled once, never came back: not a loop */
	memset(h, 0, sizeof(h));
	script_loop(fd, 9, 90, "python3", 0, 0, h);
	/* a process the report was not told about */
	h[4] = 10;
	script_loop(fd, 10, 10, "worker", 10, 30 * 1000, h);
}

static inline void async_script(const struct async_feed *fd)
{
	script_app(fd);
	script_uvloop(fd);
	script_container(fd, false);
	/* a stall of a thread nothing was buffered for, of an unknown pid */
	fd->stall(fd->ctx, 10, 10, 30 * SEC, 110 * MS, 50 * MS, 0, 0);
	script_steps(fd);
	script_awaits(fd);
	script_requests(fd);
	script_loops(fd);
}

/* Under -a: the container's stacks lead with the container frame. */
static inline void async_script_container(const struct async_feed *fd)
{
	script_container(fd, true);
	script_awaits(fd);
	script_loops(fd);
}

#undef END
#endif

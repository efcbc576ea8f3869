// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The async report's logic: loop-lag percentiles from log2 histograms,
 * "does this await use the previous one's result", stall attribution from
 * buffered stacks, sequential-await pairs, the whole report of a scripted
 * recording against golden files, and the PLT stub finder on the real
 * _asyncio modules of the interpreters on this machine.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libelf.h>
#include <time.h>
#include <unistd.h>

#include "report/asyncrep.h"
#include "report/await_site.h"
#include "async_script.h"
#include "check.h"
#include "model/frames.h"
#include "python/pltstub.h"

CHECK_COUNTERS;

static const char *data_dir = "tests/unit/data";

/* Folded text ("a;b;c") read into typed frames of ft by the folded
 * reader (frames_parse): root frames lead. */
static uint32_t folded(struct frame_table *ft, const char *s, frame_id *out,
		       uint32_t max)
{
	bool root = true;
	uint32_t n = 0;

	while (*s && n < max) {
		const char *semi = strchr(s, ';');
		size_t len = semi ? (size_t)(semi - s) : strlen(s);

		out[n] = frames_parse(ft, s, len, root);
		if (out[n] == FRAME_NONE)
			break;
		root = root && frame_is_root(ft, out[n]);
		n++;
		if (!semi)
			break;
		s = semi + 1;
	}
	return n;
}

static void proc(struct asyncrep *a, struct frame_table *ft, pid_t pid,
		 const char *label, bool uvloop)
{
	frame_id f[8];

	asyncrep__proc(a, pid, NULL, f, folded(ft, label, f, 8), uvloop);
}

static int add_stack(struct asyncrep *a, struct frame_table *ft, pid_t pid,
		 pid_t tid, const char *text, bool oncpu,
		 unsigned long long start, unsigned long long ns)
{
	frame_id f[256];

	return asyncrep__stack(a, pid, tid, f, folded(ft, text, f, 256), oncpu,
			       start, ns);
}

static int stall(struct asyncrep *a, pid_t pid, pid_t tid,
		 unsigned long long start, unsigned long long ns,
		 unsigned long long off_ns, unsigned long long preempt_ns,
		 unsigned int flags)
{
	struct stall_event e = {
		.type = EV_STALL, .pid = (__u32)pid, .tid = (__u32)tid,
		.flags = flags, .start = start, .ns = ns, .off_ns = off_ns,
		.preempt_ns = preempt_ns,
	};

	return asyncrep__stall(a, &e);
}

static int resume(struct asyncrep *a, struct frame_table *ft, pid_t pid,
		  unsigned long long coro, const char *chain,
		  unsigned long long ns)
{
	frame_id f[AWAIT_DEPTH];

	return asyncrep__resume(a, pid, coro, f,
				folded(ft, chain, f, AWAIT_DEPTH), ns);
}

static int step(struct asyncrep *a, struct frame_table *ft, pid_t pid,
		unsigned long long coro, const char *code,
		unsigned long long ns, int result)
{
	return asyncrep__step(a, pid, coro,
			      frames_parse(ft, code, strlen(code), false), ns,
			      result);
}

static void test_percentiles(void)
{
	__u64 h[LOOP_BUCKETS] = { 0 };
	double v;

	CHECK(loop_hist_percentile(h, 0.5, 0) == 0, "empty");
	/* 100 iterations in [64, 128) us: p50 interpolates to the middle */
	h[6] = 100;
	v = loop_hist_percentile(h, 0.5, 1e9);
	CHECK(v >= 95 && v <= 97, "p50 %f", v);
	/* one stall of ~150 ms among them: p99 stays low, max caps p100 */
	h[17] = 1;
	v = loop_hist_percentile(h, 0.99, 150000);
	CHECK(v < 128, "p99 %f", v);
	v = loop_hist_percentile(h, 1.0, 150000);
	CHECK(v == 150000, "p100 %f", v);
	/* 2% stalls: p99 is a stall */
	h[17] = 3;
	v = loop_hist_percentile(h, 0.99, 150000);
	CHECK(v >= 131072 && v <= 150000, "p99 %f", v);
	/* out-of-range q is clamped */
	CHECK(loop_hist_percentile(h, -1, 150000) >= 0, "q<0");
	CHECK(loop_hist_percentile(h, 7, 150000) == 150000, "q>1");
}

static void test_independent(void)
{
	static const struct {
		const char *a, *b;
		int want;
	} cases[] = {
		{ "user = await fetch_user()", "orders = await fetch_orders()", 1 },
		{ "user = await fetch_user()", "orders = await fetch_orders(user)", 0 },
		{ "user = await fetch_user()", "orders = await fetch_orders(user_id)", 1 },
		{ "a, b = await x()", "c = await y(b)", 0 },
		{ "a, b = await x()", "c = await y(bb)", 1 },
		{ "await x()", "await y()", 1 },
		{ "   await x()", "await y(1)", 1 },
		{ "self.a = await x()", "await y()", -1 },
		{ "d[k] = await x()", "await y()", -1 },
		{ "n += await x()", "await y()", -1 },
		{ "if (a == await x()):", "await y()", -1 },
		{ "return foo(await x())", "await y()", -1 },
		{ "x = await f()", "print(x)", -1 },
		{ "x = f()", "await g()", -1 },
		{ "", "", -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = await_independent(cases[i].a, cases[i].b);

		CHECK(got == cases[i].want, "'%s' then '%s': %d, want %d",
		      cases[i].a, cases[i].b, got, cases[i].want);
	}
}

static int src(void *ctx, pid_t pid, const char *file, long line, char *buf,
	       size_t len)
{
	(void)ctx;
	(void)pid;
	(void)file;
	snprintf(buf, len, "%s",
		 line == 10 ? "user = await fetch_user()" :
		 line == 11 ? "orders = await fetch_orders()" :
			      "await asyncio.sleep(len(user) + len(orders))");
	return 0;
}

static char *report(struct asyncrep *a, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (json)
		asyncrep__write_json(a, f);
	else
		asyncrep__write_text(a, f);
	fclose(f);
	return buf;
}

static void test_report(void)
{
	struct frame_table ft;
	struct asyncrep *a;
	const char *loop = "app (7);<module> (/a.py:1);run (/usr/lib/python3.11/asyncio/runners.py:190);"
			   "Handle._run (/usr/lib/python3.11/asyncio/events.py:80);";
	char stack[512];
	struct loop_state ls = { .pid = 7, .iters = 10, .sum_ns = 400000000,
				 .max_ns = 200000000 };
	char *t;

	frames_init(&ft);
	a = asyncrep__new(100000000ULL, &ft);
	proc(a, &ft, 7, "app (7)", false);
	asyncrep__set_source(a, src, NULL);
	/* before the stall: must not be counted in it */
	snprintf(stack, sizeof(stack), "%sticker (/a.py:5)", loop);
	add_stack(a, &ft, 7, 7, stack, true, 500, 100);
	/* inside [1000, 1000 + 200 ms): 190 ms of sleep, 5 ms CPU */
	snprintf(stack, sizeof(stack), "%ssleepy (/a.py:18);[sleep]", loop);
	add_stack(a, &ft, 7, 7, stack, false, 2000, 190000000);
	snprintf(stack, sizeof(stack), "%ssleepy (/a.py:17)", loop);
	add_stack(a, &ft, 7, 7, stack, true, 1000, 5000000);
	stall(a, 7, 7, 1000, 200000000, 190000000, 0, 0);
	/* sequential awaits of one task: 10 then 11, three times; 11 then 12
	 * uses both results */
	for (int i = 0; i < 3; i++) {
		resume(a, &ft, 7, 0xabc0, "seq (/a.py:10);fetch_user (/a.py:3)", 50000000);
		resume(a, &ft, 7, 0xabc0, "seq (/a.py:11);fetch_orders (/a.py:6)", 60000000);
		resume(a, &ft, 7, 0xabc0, "seq (/a.py:12);sleep (/x/asyncio/tasks.py:639)", 1000000);
	}
	step(a, &ft, 7, 0xabc0, "seq (/a.py:9)", 20000, 1);
	ls.hist[6] = 9;
	ls.hist[17] = 1;
	asyncrep__loop(a, 7, "app", &ls);
	t = report(a, false);
	CHECK(t && strstr(t, "sleepy (/a.py:18) [sleep]"), "culprit: %s", t ? t : "(null)");
	CHECK(t && strstr(t, "coroutine   sleepy (/a.py:18)"), "coroutine: %s", t ? t : "(null)");
	CHECK(t && !strstr(t, "ticker"), "ticker blamed: %s", t ? t : "(null)");
	CHECK(t && strstr(t, "seq (/a.py): line 10 (p50 50.0 ms) then line 11"), "pair: %s", t ? t : "(null)");
	CHECK(t && !strstr(t, "line 11 (p50"), "dependent pair flagged: %s", t ? t : "(null)");
	free(t);
	t = report(a, true);
	CHECK(t && strstr(t, "\"gather_candidate\":true") &&
		      strstr(t, "\"line_first\":10,\"line_second\":11"), "json: %s", t ? t : "(null)");
	CHECK(t && strstr(t, "\"kind\":\"blocking\""), "json kind: %s", t ? t : "(null)");
	free(t);
	asyncrep__free(a);
	frames_free(&ft);
}

/* The last occurrence of needle in s, or NULL. */
static const char *strrchr_str(const char *s, const char *needle)
{
	const char *last = NULL;

	for (const char *p = s; (p = strstr(p, needle)); p++)
		last = p;
	return last;
}

/* The JSON object of the stall that starts at ktime start (its "time",
 * with no wall clock set, is ktime in seconds). */
static const char *json_stall_at(const char *json, double start, char *buf,
				 size_t len)
{
	char key[64];
	const char *p, *e;

	snprintf(key, sizeof(key), "{\"time\":\"%.3f\"", start);
	p = json ? strstr(json, key) : NULL;
	e = p ? strstr(p, "\"stacks\"") : NULL;
	if (!p || !e)
		return "";
	snprintf(buf, len, "%.*s", (int)(e - p), p);
	return buf;
}

/*
 * Issue 17, item 5: a stall whose off-CPU start was not seen (its
 * switch-out lost or sent without a stack, or the thread already off the
 * CPU when the iteration began) says so, and is never CPU-bound without a
 * CPU sample. Preemption without any sample is preempted; CPU samples with
 * preemption stay CPU-bound.
 */
static void test_unseen(void)
{
	const char *loop = "app (7);<module> (/a.py:1);run (/usr/lib/python3.11/asyncio/runners.py:190);"
			   "Handle._run (/usr/lib/python3.11/asyncio/events.py:80);";
	static const struct {
		double at; /* s */
		const char *kind;
	} want[] = {
		{ 1, "blocked_start_not_seen" }, { 2, "unsampled" },
		{ 3, "blocked_start_not_seen" }, { 4, "preempted" }, { 5, "cpu" },
		{ 6, "blocked_start_not_seen" },
	};
	struct frame_table ft;
	struct asyncrep *a;
	char stack[512], buf[2048];
	char *t;

	frames_init(&ft);
	a = asyncrep__new(100000000ULL, &ft);
	proc(a, &ft, 7, "app (7)", false);
	asyncrep__set_rate(a, 199);
	/* 1 s: no stack at all, the kernel counted 200 of 205 ms off the CPU */
	stall(a, 7, 7, 1000000000ULL, 205000000, 200000000, 0, 0);
	/* 2 s: no stack, nothing off the CPU: 200 ms on it by the kernel's
	 * count (every switch-out seen), never sampled at 199 Hz (~40 samples
	 * due): the samples are missing, not the wait's start */
	stall(a, 7, 7, 2000000000ULL, 200000000, 0, 0, 0);
	/* 6 s: the same, running when the thread was first seen: its wait's
	 * start is what was not seen */
	stall(a, 7, 7, 6000000000ULL, 200000000, 0, 0, STALL_BEGAN_BEFORE);
	/* 3 s: one CPU sample before an unseen 200 ms wait */
	snprintf(stack, sizeof(stack), "%ssleepy (/a.py:17)", loop);
	add_stack(a, &ft, 7, 7, stack, true, 3001000000ULL, 5000000);
	stall(a, 7, 7, 3000000000ULL, 210000000, 200000000, 0, 0);
	/* 4 s: preempted for 104 of 108 ms, never sampled running */
	stall(a, 7, 7, 4000000000ULL, 108000000, 104000000, 104000000, 0);
	/* 5 s: 120 ms sampled running, preempted 30 ms of it */
	for (int k = 0; k < 24; k++) {
		snprintf(stack, sizeof(stack), "%scrunch (/a.py:%d)", loop, 25 + k % 2);
		add_stack(a, &ft, 7, 7, stack, true, 5000000000ULL + k * 5000000ULL,
			  5000000);
	}
	stall(a, 7, 7, 5000000000ULL, 155000000, 30000000, 30000000, 0);
	t = report(a, true);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *s = json_stall_at(t, want[i].at, buf, sizeof(buf));
		char k[64];

		snprintf(k, sizeof(k), "\"kind\":\"%s\"", want[i].kind);
		CHECK(strstr(s, k), "stall at %.0f s: want %s: %s", want[i].at,
		      want[i].kind, s);
		if (strcmp(want[i].kind, "cpu"))
			CHECK(strstr(s, "\"culprit\":null"), "a culprit at %.0f s: %s",
			      want[i].at, s);
	}
	CHECK(strstr(json_stall_at(t, 4, buf, sizeof(buf)), "\"reason\":\"[preempted]\""),
	      "preempted reason: %s", buf);
	/* the causes: no culprit (null), grouped by kind */
	CHECK(t && strstr(t, "{\"culprit\":null,\"kind\":\"blocked_start_not_seen\",\"stalls\":3"),
	      "unseen cause: %s", t ? strstr(t, "stall_causes") : "(null)");
	CHECK(t && strstr(t, "{\"culprit\":null,\"kind\":\"unsampled\",\"stalls\":1"),
	      "unseen cause: %s", t ? strstr(t, "stall_causes") : "(null)");
	CHECK(t && strstr(t, "{\"culprit\":null,\"kind\":\"preempted\",\"stalls\":1"),
	      "preempted cause: %s", t ? strstr(t, "stall_causes") : "(null)");
	free(t);
	t = report(a, false);
	CHECK(t && strstr(t, "205.0 ms  blocked: start not seen (sampled on CPU never, counted off CPU 200.0 ms)"),
	      "text: %s", t ? t : "(null)");
	CHECK(t && strstr(t, "210.0 ms  blocked: start not seen (sampled on CPU 5.0 ms"),
	      "text: %s", t ? t : "(null)");
	CHECK(t && strstr(t, "200.0 ms  on CPU, not sampled (on CPU 200.0 ms by the kernel's clock, sampled never)"),
	      "text: %s", t ? t : "(null)");
	CHECK(t && strstr(t, "108.0 ms  preempted (on CPU 4.0 ms, off CPU 104.0 ms, preempted 104.0 ms)"),
	      "text: %s", t ? t : "(null)");
	CHECK(t && strstr(t, "155.0 ms  CPU-bound (on CPU 125.0 ms, off CPU 30.0 ms, preempted 30.0 ms)"),
	      "text: %s", t ? t : "(null)");
	/* CPU-bound only where samples are: the one stall with them */
	CHECK(t && strstr(t, "ms  CPU-bound (") &&
		      strstr(t, "ms  CPU-bound (") == strrchr_str(t, "ms  CPU-bound ("),
	      "CPU-bound more than once: %s", t ? t : "(null)");
	free(t);
	asyncrep__free(a);
	frames_free(&ft);

	/* without the sampling rate, a stall with nothing seen is unknown,
	 * still not CPU-bound */
	frames_init(&ft);
	a = asyncrep__new(100000000ULL, &ft);
	stall(a, 7, 7, 2000000000ULL, 200000000, 0, 0, 0);
	t = report(a, true);
	CHECK(t && strstr(t, "\"kind\":\"unknown\""), "unknown: %s", t ? t : "(null)");
	free(t);
	t = report(a, false);
	CHECK(t && strstr(t, "no stack seen") && !strstr(t, "CPU-bound"), "text: %s", t ? t : "(null)");
	free(t);
	asyncrep__free(a);
	frames_free(&ft);
}

/*
 * A chain as FastAPI on uvicorn makes it: 20 levels of server and framework
 * coroutines (dist-packages) above the endpoint. The site is the endpoint's
 * coroutine, the levels above collapsed; two sequential awaits of the
 * endpoint make a pair through them.
 */
static void test_deep_chain(void)
{
	static const char *fw = "/usr/lib/python3/dist-packages/starlette/routing.py";
	struct frame_table ft;
	struct asyncrep *a;
	struct await_site st;
	frame_id f[64];
	char chain[4096], text[1024];
	size_t at = 0;
	uint32_t n;
	char *t;

	frames_init(&ft);
	a = asyncrep__new(100000000ULL, &ft);
	asyncrep__set_source(a, src, NULL);
	at += snprintf(chain + at, sizeof(chain) - at,
		       "RequestResponseCycle.run_asgi (/usr/lib/python3/dist-packages/uvicorn/h11_impl.py:366)");
	for (int i = 0; i < 19; i++)
		at += snprintf(chain + at, sizeof(chain) - at, ";level_%d (%s:%d)", i, fw, 100 + i);
	snprintf(chain + at, sizeof(chain) - at,
		 ";seq (/a.py:10);fetch_user (/a.py:3);sleep (/usr/lib/python3.11/asyncio/tasks.py:639)");
	n = folded(&ft, chain, f, 64);
	CHECK(n == 23, "frames %u", n);
	await_site_find(&ft, f, n, &st);
	CHECK(st.app && st.site == 21 && st.from == 20, "site %u from %u app %d",
	      st.site, st.from, st.app);
	await_site_text(&ft, f, n, text, sizeof(text));
	CHECK(!strcmp(text, "RequestResponseCycle.run_asgi (/usr/lib/python3/dist-packages/uvicorn/h11_impl.py:366)"
			    " > ...19 levels... > seq (/a.py:10) > fetch_user (/a.py:3)"
			    " > sleep (/usr/lib/python3.11/asyncio/tasks.py:639)"),
	      "site text: %s", text);
	CHECK(await_site_entry(&ft, f, n) == 20, "endpoint %u", await_site_entry(&ft, f, n));
	{
		/* the application's own middleware above the framework's
		 * frames: the endpoint is the innermost application run's */
		frame_id mw[5] = { f[0], frames_python(&ft, "timing", "/a.py", 40), f[1], f[20], f[22] };

		CHECK(await_site_entry(&ft, mw, 5) == 3, "endpoint under middleware %u",
		      await_site_entry(&ft, mw, 5));
		CHECK(await_site_entry(&ft, f, 1) == 1, "no application frame");
	}
	/* a chain of library frames only: its innermost Python frame */
	await_site_find(&ft, f, 20, &st);
	CHECK(!st.app && st.site == 19, "library site %u app %d", st.site, st.app);
	for (int i = 0; i < 3; i++) {
		resume(a, &ft, 7, 0xabc0, chain, 50000000);
		snprintf(chain + at, sizeof(chain) - at,
			 ";seq (/a.py:11);fetch_orders (/a.py:6);sleep (/usr/lib/python3.11/asyncio/tasks.py:639)");
		resume(a, &ft, 7, 0xabc0, chain, 60000000);
		snprintf(chain + at, sizeof(chain) - at,
			 ";seq (/a.py:10);fetch_user (/a.py:3);sleep (/usr/lib/python3.11/asyncio/tasks.py:639)");
	}
	t = report(a, false);
	CHECK(t && strstr(t, "seq (/a.py): line 10 (p50 50.0 ms) then line 11"),
	      "pair through the framework: %s", t ? t : "(null)");
	CHECK(t && strstr(t, "...19 levels... > seq (/a.py:11) > fetch_orders (/a.py:6)"),
	      "site: %s", t ? t : "(null)");
	free(t);
	asyncrep__free(a);
	frames_free(&ft);
}

/* Stacks without a stall, garbage texts, unknown tids: bounded, no crash. */
static void test_garbage(void)
{
	struct frame_table ft;
	struct asyncrep *a;
	char s[64];
	char *t;

	frames_init(&ft);
	a = asyncrep__new(1000, &ft);
	for (int i = 0; i < 40000; i++) {
		snprintf(s, sizeof(s), "p (%d);%s;f%d (x:%d)", i % 3,
			 i % 7 ? "[sleep]" : ";;;", i % 50, i);
		add_stack(a, &ft, i % 3, i % 2000, s, i & 1, (unsigned long long)i * 1000, 10);
	}
	stall(a, 1, 1, 0, ~0ULL / 2, ~0ULL, ~0ULL, 0);
	resume(a, &ft, 1, 1, "", 1);
	resume(a, &ft, 1, 1, ";;;;;;;;;;;;;;;;;;;;;;", 1);
	step(a, &ft, 1, 1, "", 0, -1);
	t = report(a, false);
	CHECK(t != NULL, "text");
	free(t);
	t = report(a, true);
	CHECK(t != NULL, "json");
	free(t);
	asyncrep__free(a);
	frames_free(&ft);
}

/* ---- the scripted recording against golden files ---- */

static void feed_proc(void *ctx, pid_t pid, const char *where,
		      const frame_id *root, uint32_t nroot, bool uvloop)
{
	asyncrep__proc(ctx, pid, where, root, nroot, uvloop);
}

static void feed_proc_uvloop(void *ctx, pid_t pid)
{
	asyncrep__proc_uvloop(ctx, pid);
}

static void feed_stack(void *ctx, pid_t pid, pid_t tid, const frame_id *f,
		       uint32_t n, bool oncpu, unsigned long long start,
		       unsigned long long ns)
{
	asyncrep__stack(ctx, pid, tid, f, n, oncpu, start, ns);
}

static void feed_stall(void *ctx, pid_t pid, pid_t tid,
		       unsigned long long start, unsigned long long ns,
		       unsigned long long off_ns, unsigned long long preempt_ns,
		       unsigned int flags)
{
	stall(ctx, pid, tid, start, ns, off_ns, preempt_ns, flags);
}

static void feed_loop(void *ctx, pid_t tid, const char *comm,
		      const struct loop_state *ls)
{
	asyncrep__loop(ctx, tid, comm, ls);
}

static void feed_step(void *ctx, pid_t pid, unsigned long long coro,
		      frame_id code, unsigned long long ns, int result)
{
	asyncrep__step(ctx, pid, coro, code, ns, result);
}

static void feed_resume(void *ctx, pid_t pid, unsigned long long coro,
			const frame_id *chain, uint32_t n, unsigned long long ns)
{
	asyncrep__resume(ctx, pid, coro, chain, n, ns);
}

static void feed_step_at(void *ctx, const struct asyncrep_step *st)
{
	asyncrep__step_at(ctx, st);
}

static void feed_resume_at(void *ctx, pid_t pid, unsigned long long coro,
			   const frame_id *chain, uint32_t n,
			   unsigned long long ns, unsigned long long queued_ns)
{
	asyncrep__resume_at(ctx, pid, coro, chain, n, ns, queued_ns);
}

/* What pyrograph check prints of each loop, and the stall stacks as a
 * collapsed file: the report's other outputs. */
static char *extras(struct asyncrep *a, struct frame_table *ft)
{
	static struct asyncrep_loop_verdict v[16];
	struct profile *p = asyncrep__stall_stacks(a);
	char *buf = NULL, *text = malloc(1 << 16);
	size_t len = 0, n, nv;
	FILE *f = open_memstream(&buf, &len);
	stack_id *ids;

	if (!f || !text) {
		free(text);
		return NULL;
	}
	nv = asyncrep__loop_verdicts(a, v, 16, SCRIPT_LIMIT_NS);
	for (size_t i = 0; i < nv && i < 16; i++)
		fprintf(f, "loop %d/%d: p99 %.3f ms, max %.3f ms, %llu iterations, %llu stalls, worst %.3f ms [%s]\n",
			v[i].pid, v[i].tid, v[i].p99_ms, v[i].max_ms,
			v[i].iterations, v[i].stalls, v[i].worst_stall_ms,
			v[i].worst);
	ids = profile_sorted(p, &n);
	for (size_t i = 0; ids && i < n; i++) {
		uint32_t nf;
		const frame_id *fr = stacks_get(&p->st, ids[i], &nf);

		stacks_text(ft, fr, nf, text, 1 << 16);
		fprintf(f, "%s %llu\n", text,
			(unsigned long long)p->w[ids[i]].value);
	}
	free(ids);
	free(text);
	fclose(f);
	return buf;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, n;

	*len = 0;
	if (!f)
		return NULL;
	do {
		char *nb = realloc(buf, cap + 65536);

		if (!nb) {
			free(buf);
			fclose(f);
			return NULL;
		}
		buf = nb;
		n = fread(buf + *len, 1, 65536, f);
		*len += n;
		cap += 65536;
	} while (n == 65536);
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

/* got must be golden/name byte for byte; otherwise it is written to
 * $TMPDIR/name.got for a diff, and the first difference printed. */
static void check_golden(const char *name, const char *got)
{
	char path[512];
	size_t len, i = 0, line = 1;
	char *want;

	snprintf(path, sizeof(path), "%s/golden/%s", data_dir, name);
	want = slurp(path, &len);
	CHECK(want != NULL, "%s: %s", path, strerror(errno));
	if (!want || !got)
		goto out;
	while (want[i] && want[i] == got[i])
		line += want[i++] == '\n';
	CHECK(len == strlen(got) && i == len, "%s differs from line %zu: got '%.80s', want '%.80s'",
	      name, line, got + i, want + i);
	if (i != len || len != strlen(got)) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s.got",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name);
		f = fopen(path, "we");
		if (f) {
			fputs(got, f);
			fclose(f);
			printf("  wrote %s\n", path);
		}
	}
out:
	free(want);
}

/* The report of the scripted recording: text, JSON, check's verdicts and
 * the stall stacks are what the report made of the same events before its
 * stacks were typed (golden files, from the folded-text report). */
static void golden_run(const char *name, void (*script)(const struct async_feed *))
{
	struct frame_table ft;
	struct asyncrep *a;
	struct async_feed fd = {
		.ft = &ft,
		.proc = feed_proc,
		.proc_uvloop = feed_proc_uvloop,
		.stack = feed_stack,
		.stall = feed_stall,
		.loop = feed_loop,
		.step = feed_step,
		.resume = feed_resume,
		.step_at = feed_step_at,
		.resume_at = feed_resume_at,
	};
	char file[128];
	char *t;

	frames_init(&ft);
	a = asyncrep__new(SCRIPT_STALL_NS, &ft);
	fd.ctx = a;
	asyncrep__set_clock(a, SCRIPT_MONO0, SCRIPT_WALL0);
	asyncrep__set_duration(a, SCRIPT_SECONDS);
	asyncrep__set_source(a, script_source, NULL);
	asyncrep__set_rate(a, 199);
	script(&fd);
	t = report(a, false);
	snprintf(file, sizeof(file), "%s.txt", name);
	check_golden(file, t);
	free(t);
	t = report(a, true);
	snprintf(file, sizeof(file), "%s.json", name);
	check_golden(file, t);
	free(t);
	t = extras(a, &ft);
	snprintf(file, sizeof(file), "%s-extra.txt", name);
	check_golden(file, t);
	free(t);
	asyncrep__free(a);
	frames_free(&ft);
}

static void test_golden(void)
{
	struct frame_table ft;
	struct asyncrep *a;
	char *t;

	/* stall times print as wall-clock times of day */
	setenv("TZ", "UTC", 1);
	tzset();
	golden_run("asyncrep", async_script);
	/* -a: a container's stacks lead with the container frame */
	golden_run("asyncrep-container", async_script_container);
	frames_init(&ft);
	a = asyncrep__new(SCRIPT_STALL_NS, &ft);
	t = report(a, false);
	check_golden("asyncrep-empty.txt", t);
	free(t);
	t = report(a, true);
	check_golden("asyncrep-empty.json", t);
	free(t);
	asyncrep__free(a);
	frames_free(&ft);
}

static void test_pltstub(void)
{
	glob_t g;
	int found = 0;

	elf_version(EV_CURRENT);
	memset(&g, 0, sizeof(g));
	glob("/usr/lib/python3*/lib-dynload/_asyncio.cpython-3*-x86_64-linux-gnu.so",
	     0, NULL, &g);
	glob("/var/cache/pyrograph/chroots/*/usr/lib/python3*/lib-dynload/_asyncio.cpython-3*-x86_64-linux-gnu.so",
	     g.gl_pathc ? GLOB_APPEND : 0, NULL, &g);
	if (!g.gl_pathc) {
		globfree(&g);
		SKIP("pltstub: no _asyncio module (python3.11 or the Debian trees)");
		return;
	}
	for (size_t i = 0; i < g.gl_pathc; i++) {
		int fd = open(g.gl_pathv[i], O_RDONLY);
		Elf *elf = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
		unsigned long long off = 0, off2;
		unsigned char insn[2] = { 0 };

		CHECK(plt_stub_offset(elf, "PyIter_Send", &off) == 0, "%s",
		      g.gl_pathv[i]);
		/* the stub starts with jmp *rel32(%rip) (ff 25) */
		CHECK(pread(fd, insn, 2, (off_t)off) == 2 && insn[0] == 0xff &&
			      insn[1] == 0x25,
		      "%s: %#llx: %02x %02x", g.gl_pathv[i], off, insn[0], insn[1]);
		CHECK(plt_stub_offset(elf, "NoSuchFunction", &off2) == -ENOENT,
		      "absent import");
		{
			/* task_step_impl's one call, a `call rel32` to the stub */
			unsigned long long sites[4];
			unsigned char op = 0;
			int32_t rel = 0;
			int n = plt_call_sites(elf, "PyIter_Send", sites, 4);

			CHECK(n >= 1 && n <= 4, "%s: %d call sites", g.gl_pathv[i], n);
			for (int k = 0; k < n; k++) {
				CHECK(pread(fd, &op, 1, (off_t)sites[k]) == 1 && op == 0xe8 &&
					      pread(fd, &rel, 4, (off_t)sites[k] + 1) == 4,
				      "%s: site %#llx", g.gl_pathv[i], sites[k]);
				/* .text and .plt share their file-to-address
				 * shift in these modules */
				CHECK(sites[k] + 5 + rel == off, "%s: site %#llx -> %#llx, stub %#llx",
				      g.gl_pathv[i], sites[k], sites[k] + 5 + rel, off);
			}
			CHECK(plt_call_sites(elf, "NoSuchFunction", sites, 4) == -ENOENT,
			      "absent import");
		}
		found++;
		elf_end(elf);
		if (fd >= 0)
			close(fd);
	}
	globfree(&g);
	CHECK(plt_stub_offset(NULL, "x", NULL) == -EINVAL, "NULL");
	CHECK(found > 0, "no module checked");
}

/* Frame texts the report takes apart (frames.c). */
static void test_frames(void)
{
	struct frame_parts p;
	const char *v = "__vdso_clock_gettime [[vdso]]";

	frame_parse(v, strlen(v), false, &p);
	CHECK(p.kind == FRAME_NATIVE && p.name_len == 20 && p.file_len == 6 &&
		      !strncmp(p.file, "[vdso]", 6),
	      "vdso frame: kind %d name %zu file %.*s", p.kind, p.name_len,
	      (int)p.file_len, p.file ? p.file : "");
	v = "PyIter_Send [libpython3.12.so.1.0]";
	frame_parse(v, strlen(v), false, &p);
	CHECK(p.kind == FRAME_NATIVE && p.name_len == 11, "native frame");
	v = "[sleep]";
	frame_parse(v, strlen(v), false, &p);
	CHECK(p.kind == FRAME_SYNTHETIC, "reason");
	v = "sleepy (/a.py:18)";
	frame_parse(v, strlen(v), false, &p);
	CHECK(p.kind == FRAME_PYTHON && p.line == 18, "python frame");
}

int main(int argc, char **argv)
{
	if (argc > 1)
		data_dir = argv[1];
	test_frames();
	test_percentiles();
	test_independent();
	test_report();
	test_deep_chain();
	test_unseen();
	test_garbage();
	test_golden();
	test_pltstub();
	return CHECK_SUMMARY();
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The mem report's logic: which stacks are leak candidates (keep growing,
 * keep what they took) and which are not (grew once, give back, grew
 * twice), growth summed by function, RSS readings kept bounded, and the
 * JSON and text carrying them.
 */
#define _GNU_SOURCE
#include <stdio.h>

#include "check.h"
#include "model/folded.h"
#include "report/memrep.h"
#include "core/profiler.h"

CHECK_COUNTERS;

/* The frames every test's stacks refer to. */
static struct frame_table ft;
static struct folded_buf fb;

/* A stack written as folded text, read as the session would hand it over
 * (its leading root frames counted). */
static const struct memrep_stack *stk(const char *text)
{
	static struct memrep_stack s;
	long n = folded_frames(&ft, text, strlen(text), &fb);

	if (n < 0)
		exit(2);
	s.f = fb.f;
	s.n = (uint32_t)n;
	for (s.nroot = 0; s.nroot < s.n && frame_is_root(&ft, s.f[s.nroot]); s.nroot++)
		;
	return &s;
}

#define S 1000000000ULL
#define MiB (1024LL * 1024)

static char *render(struct memrep *m, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		exit(2);
	if (json)
		memrep__write_json(m, f);
	else
		memrep__write_text(m, f);
	fclose(f);
	return buf;
}

/* The line of text holding needle, or "" */
static const char *line_with(const char *text, const char *needle, char *out, size_t len)
{
	const char *p = strstr(text, needle), *a, *b;

	if (!p) {
		out[0] = '\0';
		return out;
	}
	for (a = p; a > text && a[-1] != '\n'; a--)
		;
	b = strchr(p, '\n');
	snprintf(out, len, "%.*s", (int)(b ? b - a : (long)strlen(a)), a);
	return out;
}

static void test_leaks(void)
{
	struct memrep *m = memrep__new(&ft, S, 0);
	char *text, *json, line[512];

	memrep__proc(m, 7, "app (7)", "3.11.2", PROFILER_MEM_GC);
	memrep__set_duration(m, 8.0);
	for (int k = 0; k < 8; k++) {
		unsigned long long t = k * S + S / 2;

		/* keeps growing */
		memrep__growth(m, 7, stk("app (7);main (/a.py:9);leaky (/a.py:3)"), 5 * MiB, t);
		/* a cache: fills and is trimmed as much */
		memrep__growth(m, 7, stk("app (7);main (/a.py:9);cache (/a.py:5)"), 3 * MiB, t);
		memrep__growth(m, 7, stk("app (7);main (/a.py:9);cache (/a.py:5)"), -3 * MiB, t + 1);
		/* grows in two intervals only */
		if (k == 2 || k == 5)
			memrep__growth(m, 7, stk("app (7);main (/a.py:9);twice (/a.py:7)"), 4 * MiB, t);
		memrep__rss(m, 7, t, (100 + 5 * k) * MiB);
	}
	/* grew once, at the start (a reused buffer) */
	memrep__growth(m, 7, stk("app (7);main (/a.py:9);churn (/a.py:4)"), 2 * MiB, 10);
	/* a second stack with the same leaf adds up by function */
	memrep__growth(m, 7, stk("app (7);other (/a.py:20);leaky (/a.py:3)"), 1 * MiB, 3 * S);
	/* a process not announced is ignored */
	memrep__growth(m, 8, stk("x (8);f (/b.py:1)"), 9 * MiB, S);

	text = render(m, false);
	CHECK(strstr(line_with(text, "leaky (/a.py:3)", line, sizeof(line)), "LEAK CANDIDATE"),
	      "leaky line: %s", line);
	CHECK(strstr(line, "+41.0 MiB") && strstr(line, "8/8"), "leaky sums both stacks: %s", line);
	CHECK(!strstr(line_with(text, "churn (/a.py:4)", line, sizeof(line)), "LEAK"),
	      "churn: %s", line);
	CHECK(line[0] && strstr(line, "1/8"), "churn grew once: %s", line);
	CHECK(!strstr(line_with(text, "cache (/a.py:5)", line, sizeof(line)), "LEAK"),
	      "cache: %s", line);
	CHECK(!strstr(line_with(text, "twice (/a.py:7)", line, sizeof(line)), "LEAK"),
	      "twice: %s", line);
	CHECK(!strstr(text, "f (/b.py:1)"), "unknown process reported");
	/* order: by net growth */
	CHECK(strstr(text, "leaky (/a.py:3)") < strstr(text, "twice (/a.py:7)") &&
		      strstr(text, "twice (/a.py:7)") < strstr(text, "churn (/a.py:4)"),
	      "order:\n%s", text);
	CHECK(strstr(text, "RSS 100.0 MiB -> 135.0 MiB (+35.0 MiB)"), "rss line:\n%s", text);
	CHECK(strstr(text, "app (7): no collections"), "gc line:\n%s", text);
	/* per interval: RSS grew 5 MiB each; leaky first, then the cache,
	 * and in intervals 2 and 5 'twice' (4 MiB) between them */
	CHECK(strstr(text, "      2.0-3.0     s  RSS +5.0 MiB (7)\n"
			   "        +5.0 MiB  leaky (/a.py:3)\n"
			   "        +4.0 MiB  twice (/a.py:7)\n"),
	      "interval 2:\n%s", text);
	json = render(m, true);
	CHECK(strstr(json, "\"leak_candidates\":[{\"pid\":7,\"stack\":\"app (7);main (/a.py:9);leaky (/a.py:3)\",\"net\":41943040,\"intervals_grown\":8"),
	      "json leak: %s", json);
	CHECK(strstr(json, "\"intervals\":8,"), "intervals: %s", json);
	CHECK(strstr(json, "{\"start_s\":7.000,\"top\":[{\"pid\":7,\"stack\":\"app (7);main (/a.py:9);leaky (/a.py:3)\",\"bytes\":5242880}"),
	      "by_interval: %s", json);
	free(text);
	free(json);
	memrep__free(m);
}

static void test_gc_and_probes(void)
{
	struct memrep *m = memrep__new(&ft, S, 0);
	char *text, *json;

	memrep__proc(m, 1, "with (1)", "3.11.2", PROFILER_MEM_GC);
	memrep__proc(m, 2, "without (2)", "3.12.1", 0);
	memrep__proc(m, 3, "failed (3)", "3.12.1", -2);
	memrep__set_duration(m, 1.0);
	for (int i = 1; i <= 100; i++)
		memrep__gc(m, 1, stk("with (1);f (/a.py:1)"), 0, i * 1000ULL, 1);
	memrep__gc(m, 1, stk("with (1);full (/a.py:2)"), 2, 5000000ULL, 10);
	memrep__gc(m, 1, stk("with (1);odd (/a.py:3)"), 7, 1, 1); /* no such generation */
	text = render(m, false);
	CHECK(strstr(text, "without (2): no GC probes in this build"), "%s", text);
	CHECK(strstr(text, "failed (3): no GC probes: they could not be placed"), "%s", text);
	/* nearest rank: p50 of 1..100 us is 50 us, p95 95 us */
	CHECK(strstr(text, "      0      100     5.0 ms      50 us      95 us     100 us        100"),
	      "gen 0 row:\n%s", text);
	CHECK(strstr(text, "f (/a.py:1)") && strstr(text, "full (/a.py:2)"), "set off by:\n%s", text);
	json = render(m, true);
	CHECK(strstr(json, "\"generation\":2,\"count\":1,"), "%s", json);
	CHECK(strstr(json, "\"gc_probes\":false"), "%s", json);
	free(text);
	free(json);
	memrep__free(m);
}

static void test_bounds(void)
{
	struct memrep *m = memrep__new(&ft, S, 0);
	char *json;
	size_t commas = 0;

	memrep__proc(m, 1, "p (1)", "3.11", 0);
	/* 20000 readings: kept bounded, first and last still right */
	for (int i = 0; i < 20000; i++)
		memrep__rss(m, 1, i * 1000000ULL, (i + 1) * 4096LL);
	memrep__set_duration(m, 20.0);
	json = render(m, true);
	{
		const char *a = strstr(json, "\"rss\":[") + 7, *b = strstr(a, "]]");

		for (const char *p = a; b && p < b; p++)
			commas += *p == '[';
	}
	CHECK(commas > 1000 && commas <= 8193, "readings kept %zu", commas);
	CHECK(strstr(json, "\"rss_first\":4096,\"rss_last\":81920000"), "%s", json);
	/* growth long after the last interval folds into it, no crash */
	memrep__growth(m, 1, stk("p (1);f (/a.py:1)"), 4096, 1ULL << 62);
	memrep__growth(m, 1, stk("p (1);f (/a.py:1)"), -4096, 0);
	free(json);
	json = render(m, false);
	CHECK(strstr(json, "f (/a.py:1)"), "%s", json);
	free(json);
	memrep__free(m);
}

/*
 * --live, the one-thread case: churn's freed blocks are reused by leaky, so
 * churn extends the heap (its resident growth) while leaky holds what it
 * allocated. Leak candidates come from what is held.
 */
static void test_live(void)
{
	struct memrep *m = memrep__new(&ft, S, 0);
	const char *leaky = "app (7);main (/a.py:9);leaky (/a.py:3)";
	const char *churn = "app (7);main (/a.py:9);churn (/a.py:4)";
	const char *small = "app (7);main (/a.py:9);small (/a.py:6)";
	const char *once = "app (7);main (/a.py:9);once (/a.py:8)";
	char *text, *json, line[512];

	memrep__proc(m, 7, "app (7)", "3.11.2", PROFILER_MEM_GC | PROFILER_MEM_LIVE);
	memrep__set_live(m, 65536, 0);
	memrep__set_duration(m, 8.0);
	for (int k = 0; k < 8; k++) {
		unsigned long long t = k * S + S / 10;

		for (int c = 0; c < 4; c++) {
			/* leaky keeps 512 KiB per call, four calls an interval */
			memrep__live(m, 7, stk(leaky), 0x100000 + (k * 4 + c) * 0x80000ULL,
				     512 * 1024, t + c * 1000);
			/* churn allocates 2 MiB and frees it; the heap grows in
			 * its name */
			memrep__live(m, 7, stk(churn), 0x7f0000, 2 * MiB, t + c * 1000 + 1);
			memrep__growth(m, 7, stk(churn), MiB / 2, t + c * 1000 + 2);
			memrep__live_free(m, 7, 0x7f0000, t + c * 1000 + 3);
		}
		/* a leak of small objects: only its resident growth is seen */
		memrep__growth(m, 7, stk(small), MiB, t);
	}
	/* allocated once and kept: grew in one interval only */
	memrep__live(m, 7, stk(once), 0x900000000ULL, 8 * MiB, 10);
	/* frees of addresses never seen, of another process, twice */
	memrep__live_free(m, 7, 0x12345, S);
	memrep__live_free(m, 8, 0x100000, S);
	memrep__live_free(m, 7, 0x7f0000, S);

	text = render(m, false);
	line_with(text, "leaky (/a.py:3)", line, sizeof(line));
	CHECK(strstr(line, "16.0 MiB") && strstr(line, "8/8") &&
		      strstr(line, "LEAK CANDIDATE"),
	      "leaky held: %s", line);
	CHECK(strstr(text, "Held by function") < strstr(text, line),
	      "held first:\n%s", text);
	line_with(text, "churn (/a.py:4)", line, sizeof(line));
	CHECK(line[0] && strstr(line, "0 B") && strstr(line, "64.0 MiB") && !strstr(line, "LEAK"),
	      "churn holds nothing: %s", line);
	/* its resident growth is still shown, and not called a leak */
	CHECK(strstr(text, "+16.0 MiB   16.0 MiB") && !strstr(strstr(text, "Growth by function"), "churn (/a.py:4)  [app (7)]  LEAK"),
	      "churn growth:\n%s", text);
	CHECK(strstr(line_with(strstr(text, "Leak candidates"), "small (/a.py:6)", line, sizeof(line)), "small"),
	      "small-object leak kept by the resident rule:\n%s", text);
	CHECK(!strstr(line_with(text, "once (/a.py:8)", line, sizeof(line)), "LEAK"),
	      "once: %s", line);
	CHECK(strstr(text, "leaky (/a.py:3) in app (7): 16.0 MiB held, grew in 8 of 8 intervals"),
	      "leak line:\n%s", text);
	CHECK(strstr(text, "2.0-3.0     s") && strstr(text, "      +2.0 MiB  leaky (/a.py:3)  (held)\n"),
	      "held per interval:\n%s", text);
	json = render(m, true);
	CHECK(strstr(json, "\"leak_candidates\":[{\"pid\":7,\"stack\":\"app (7);main (/a.py:9);leaky (/a.py:3)\",\"net\":16777216,\"intervals_grown\":8,"),
	      "json leak: %s", json);
	CHECK(!strstr(strstr(json, "\"leak_candidates\""), "churn"), "churn a candidate: %s", json);
	CHECK(strstr(json, "\"live_by_function\":[{\"pid\":7,\"frame\":\"leaky (/a.py:3)\",\"held\":16777216,\"allocated\":16777216,\"freed\":0,\"intervals_grown\":8,\"leak_candidate\":true}"),
	      "live_by_function: %s", json);
	CHECK(strstr(json, "\"frame\":\"churn (/a.py:4)\",\"held\":0,\"allocated\":67108864,\"freed\":67108864,"),
	      "churn json: %s", json);
	CHECK(strstr(json, "\"held_top\":[{\"pid\":7,\"stack\":\"app (7);main (/a.py:9);leaky (/a.py:3)\",\"bytes\":2097152}"),
	      "held_top: %s", json);
	CHECK(memrep__live_stacks(m)->total == 24 * MiB, "live stacks");
	free(text);
	free(json);
	memrep__free(m);
}

/* The address table against a plain model: inserts, frees in any order,
 * lost frees (an address allocated again), and the bound. */
static void test_live_table(void)
{
	enum { N = 3000 };
	static long long model[N];
	struct memrep *m = memrep__new(&ft, S, 0);
	unsigned long long x = 88172645463325252ULL;
	long long held = 0;
	size_t n = 0; /* held in the model */
	char *json, want[64];

	memrep__proc(m, 1, "p (1)", "3.12", PROFILER_MEM_LIVE);
	memrep__set_live(m, 1, 2000);
	memrep__set_duration(m, 1.0);
	for (int i = 0; i < 200000; i++) {
		unsigned long long a;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		a = x % N;
		if (x >> 62) {
			/* addresses that share low bits, as allocators' do */
			memrep__live_free(m, 1, a << 12, 0);
			n -= model[a] != 0;
			held -= model[a];
			model[a] = 0;
		} else {
			long long b = 1 + (x >> 40) % 1000;

			if (!model[a] && n >= 2000)
				continue; /* would be beyond the bound */
			n += !model[a];
			memrep__live(m, 1, stk((x >> 33) & 1 ? "p (1);a (/a.py:1)" : "p (1);b (/a.py:2)"),
				     a << 12, b, 0);
			held += b - model[a];
			model[a] = b;
		}
	}
	json = render(m, true);
	{
		long long got = 0;
		const char *p = json;

		while ((p = strstr(p, "\"held\":"))) {
			got += atoll(p + 7);
			p += 7;
		}
		CHECK(got == held, "held %lld, model %lld", got, held);
	}
	snprintf(want, sizeof(want), "\"live_overflow\":0,");
	CHECK(strstr(json, want), "no overflow: %s", strstr(json, "\"lost\""));
	free(json);
	/* beyond the bound: counted, not kept */
	for (int k = 0; k < N; k++)
		memrep__live(m, 1, stk("p (1);c (/a.py:3)"), (N + k) << 12, 1, 0);
	json = render(m, true);
	CHECK(!strstr(json, "\"live_overflow\":0,"), "overflow: %s", strstr(json, "\"lost\""));
	free(json);
	memrep__free(m);
}

/*
 * Typed stacks: a process in a container has two root frames, and the
 * stacks shown below them start at its code; a stack too long to write
 * whole is cut at a frame.
 */
static void test_roots_and_long_stacks(void)
{
	struct memrep *m = memrep__new(&ft, S, 0);
	const char *c = "container 3f2a9c1b2d4e;app (9);main (/c.py:2);grow (/c.py:5)";
	static char name[300 * 1024];
	frame_id f[5];
	struct memrep_stack big = { f, 5, 1 };
	char *text, *json, line[512];

	memrep__proc(m, 9, "container 3f2a9c1b2d4e;app (9)", "3.13.1", PROFILER_MEM_GC);
	memrep__set_duration(m, 4.0);
	for (int k = 0; k < 4; k++) {
		memrep__growth(m, 9, stk(c), MiB, k * S + 1);
		memrep__gc(m, 9, stk(c), 0, 1000, 1);
	}
	CHECK(stk(c)->nroot == 2, "roots %u", stk(c)->nroot);
	/* 3 frames of 300 KiB and more: the fourth would pass 1 MiB */
	memset(name, 'x', sizeof(name) - 1);
	f[0] = frames_process(&ft, "app", 9, -1);
	for (int i = 1; i < 5; i++) {
		name[0] = (char)('a' + i);
		f[i] = frames_python(&ft, name, "/c.py", i);
	}
	memrep__growth(m, 9, &big, 3 * MiB, S);
	text = render(m, false);
	CHECK(strstr(text, "    stack: main (/c.py:2);grow (/c.py:5)\n"), "leak stack:\n%s", text);
	CHECK(strstr(text, "           4  main (/c.py:2);grow (/c.py:5)\n"), "set off by:\n%s", text);
	CHECK(strstr(line_with(text, "grow (/c.py:5)", line, sizeof(line)), "[container 3f2a9c1b2d4e;app (9)]  LEAK CANDIDATE"),
	      "growth line: %s", line);
	json = render(m, true);
	{
		/* the long stack: its process and first three frames, whole */
		const char *p = strstr(json, "\"stack\":\"app (9);b");
		const char *q = p ? strchr(p + 9, '"') : NULL;
		long frame = (long)sizeof(name) - 1 + 10;

		CHECK(q && q - (p + 9) == 7 + 3 * (1 + frame) && !memcmp(q - 3, ":3)", 3),
		      "long stack cut at %ld", q ? (long)(q - (p + 9)) : -1L);
	}
	free(text);
	free(json);
	memrep__free(m);
}

/*
 * The held view of mappings: a mapping is its maker's until unmapped (the
 * head of one, or several at once); the heap's growth is its grower's and
 * a shrink is taken off the top extents, last grown first; unmappings of
 * memory taken before the start are counted, never charged; resident pages
 * returned are not charged to the stack that runs.
 */
static void test_held_maps(void)
{
	struct memrep *m = memrep__new(&ft, S, 0);
	const char *arena = "app (7);main (/a.py:9);fill (/a.py:3)";
	const char *big = "app (7);main (/a.py:9);big (/a.py:4)";
	const char *grow = "app (7);main (/a.py:9);grow (/a.py:5)";
	const char *other = "app (7);<module> (/a.py:1)";
	const unsigned long long H = 0x5000000;
	char *json, *text;

	memrep__proc(m, 7, "app (7)", "3.11.2", PROFILER_MEM_GC);
	memrep__set_held(m, MEMREP_HELD_MAPS);
	memrep__set_duration(m, 8.0);
	for (int k = 0; k < 8; k++) {
		unsigned long long t = k * S + 1;

		/* fill: an arena of 1 MiB per interval, kept */
		memrep__map(m, 7, stk(arena), 0x7f0000000000ULL + k * MiB, MiB, false, t);
		/* big: 4 MiB mapped and unmapped in two halves */
		memrep__map(m, 7, stk(big), 0x7e0000000000ULL, 4 * MiB, false, t + 1);
		memrep__unmap(m, 7, 0x7e0000000000ULL, 2 * MiB, t + 2);
		memrep__unmap(m, 7, 0x7e0000000000ULL + 2 * MiB, 2 * MiB, t + 3);
		/* grow: the heap up 3 MiB and back down (in two steps) */
		memrep__map(m, 7, stk(grow), H, 2 * MiB, true, t + 4);
		memrep__map(m, 7, stk(grow), H + 2 * MiB, MiB, true, t + 5);
		memrep__unmap(m, 7, H + MiB, 2 * MiB, t + 6);
		memrep__unmap(m, 7, H, MiB, t + 7);
		/* frees seen while <module> runs: never its */
		memrep__growth(m, 7, stk(other), -4 * MiB, t + 8);
	}
	/* memory from before the start; two arenas unmapped at once */
	memrep__unmap(m, 7, 0x10000, 4096, 8 * S);
	memrep__unmap(m, 7, 0x7f0000000000ULL + 6 * MiB, 2 * MiB, 8 * S);
	json = render(m, true);
	CHECK(strstr(json, "\"live_by_function\":[{\"pid\":7,\"frame\":\"fill (/a.py:3)\",\"held\":6291456,\"allocated\":8388608,\"freed\":2097152,\"intervals_grown\":8,\"leak_candidate\":true}"),
	      "fill: %s", json);
	CHECK(strstr(json, "\"frame\":\"big (/a.py:4)\",\"held\":0,\"allocated\":33554432,\"freed\":33554432,"),
	      "big: %s", json);
	CHECK(strstr(json, "\"frame\":\"grow (/a.py:5)\",\"held\":0,\"allocated\":25165824,\"freed\":25165824,"),
	      "grow: %s", json);
	CHECK(!strstr(json, "<module> (/a.py:1)\",\"net\":-"), "a free charged: %s", json);
	CHECK(strstr(json, "\"held_view\":\"maps\"") && strstr(json, "\"unmaps_unmatched\":1"),
	      "counts: %s", json);
	text = render(m, false);
	CHECK(strstr(text, "memory taken from the kernel 64.0 MiB, given back 58.0 MiB, net +6.0 MiB"),
	      "taken:\n%s", text);
	CHECK(strstr(text, "Resident memory by function") && !strstr(text, "Growth by function"),
	      "second view:\n%s", text);
	CHECK(memrep__live_stacks(m)->total == 6 * MiB, "held at the end");
	free(json);
	free(text);
	memrep__free(m);
}

int main(void)
{
	frames_init(&ft);
	test_leaks();
	test_live();
	test_live_table();
	test_held_maps();
	test_gc_and_probes();
	test_bounds();
	test_roots_and_long_stacks();
	folded_buf_free(&fb);
	frames_free(&ft);
	return CHECK_SUMMARY();
}

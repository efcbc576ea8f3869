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
#include "memrep.h"
#include "profiler.h"

CHECK_COUNTERS;

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
	struct memrep *m = memrep__new(S, 0);
	char *text, *json, line[512];

	memrep__proc(m, 7, "app (7)", "3.11.2", PROFILER_MEM_GC);
	memrep__set_duration(m, 8.0);
	for (int k = 0; k < 8; k++) {
		unsigned long long t = k * S + S / 2;

		/* keeps growing */
		memrep__growth(m, 7, "app (7);main (/a.py:9);leaky (/a.py:3)", 5 * MiB, t);
		/* a cache: fills and is trimmed as much */
		memrep__growth(m, 7, "app (7);main (/a.py:9);cache (/a.py:5)", 3 * MiB, t);
		memrep__growth(m, 7, "app (7);main (/a.py:9);cache (/a.py:5)", -3 * MiB, t + 1);
		/* grows in two intervals only */
		if (k == 2 || k == 5)
			memrep__growth(m, 7, "app (7);main (/a.py:9);twice (/a.py:7)", 4 * MiB, t);
		memrep__rss(m, 7, t, (100 + 5 * k) * MiB);
	}
	/* grew once, at the start (a reused buffer) */
	memrep__growth(m, 7, "app (7);main (/a.py:9);churn (/a.py:4)", 2 * MiB, 10);
	/* a second stack with the same leaf adds up by function */
	memrep__growth(m, 7, "app (7);other (/a.py:20);leaky (/a.py:3)", 1 * MiB, 3 * S);
	/* a process not announced is ignored */
	memrep__growth(m, 8, "x (8);f (/b.py:1)", 9 * MiB, S);

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
	struct memrep *m = memrep__new(S, 0);
	char *text, *json;

	memrep__proc(m, 1, "with (1)", "3.11.2", PROFILER_MEM_GC);
	memrep__proc(m, 2, "without (2)", "3.12.1", 0);
	memrep__proc(m, 3, "failed (3)", "3.12.1", -2);
	memrep__set_duration(m, 1.0);
	for (int i = 1; i <= 100; i++)
		memrep__gc(m, 1, "with (1);f (/a.py:1)", 0, i * 1000ULL, 1);
	memrep__gc(m, 1, "with (1);full (/a.py:2)", 2, 5000000ULL, 10);
	memrep__gc(m, 1, "with (1);odd (/a.py:3)", 7, 1, 1); /* no such generation */
	text = render(m, false);
	CHECK(strstr(text, "without (2): no GC probes in this build"), "%s", text);
	CHECK(strstr(text, "failed (3): no GC probes in this build"), "%s", text);
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
	struct memrep *m = memrep__new(S, 0);
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
	memrep__growth(m, 1, "p (1);f (/a.py:1)", 4096, 1ULL << 62);
	memrep__growth(m, 1, "p (1);f (/a.py:1)", -4096, 0);
	free(json);
	json = render(m, false);
	CHECK(strstr(json, "f (/a.py:1)"), "%s", json);
	free(json);
	memrep__free(m);
}

int main(void)
{
	test_leaks();
	test_gc_and_probes();
	test_bounds();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

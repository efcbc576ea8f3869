// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The agent's Prometheus exposition (user/report/metrics.c) and the request parser
 * of its HTTP side (user/net/httpd.c): cumulative kernel buckets, label
 * escaping of hostile names, await sites folded into "other" without any
 * counter going back, processes forgotten, bounds.
 */
#include <errno.h>
#include "check.h"
#include "net/httpd.h"
#include "report/metrics.h"

CHECK_COUNTERS;

static char *render(struct metrics *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f || metrics__write(m, f)) {
		perror("render");
		exit(2);
	}
	fclose(f);
	return buf;
}

/* The value of the line starting with prefix (name{labels}), or -1. */
static double value_of(const char *text, const char *prefix)
{
	const char *p = text;

	while ((p = strstr(p, prefix))) {
		if (p == text || p[-1] == '\n')
			return strtod(p + strlen(prefix), NULL);
		p++;
	}
	return -1;
}

static size_t count_of(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

#define L "host=\"h\",container=\"\",service=\"app\",pid=\"7\""

static void test_loops(void)
{
	struct metrics *m = metrics__new("h", 2);
	struct loop_state ls = { .pid = 7, .sum_ns = 300500000 };
	char *t;

	metrics__proc(m, 7, "app", "");
	ls.hist[0] = 5;	 /* < 2 us */
	ls.hist[3] = 10; /* [8, 16) us */
	ls.hist[17] = 2; /* [131, 262) ms: two stalls */
	metrics__loop(m, 7, &ls);
	metrics__stall(m, 7, 7, 150000000);
	metrics__stall(m, 7, 7, 150500000);
	metrics__blocking(m, 7, 7, "[sleep]", 200000000);
	metrics__blocking(m, 7, 7, "[disk I/O]", 1000);
	metrics__loop(m, 99, &(struct loop_state){ .pid = 8 }); /* unknown process */
	t = render(m);
	CHECK(value_of(t, "pyrograph_asyncio_loop_lag_seconds_bucket{" L ",tid=\"7\",le=\"0.000002\"} ") == 5,
	      "%s", t);
	CHECK(value_of(t, "pyrograph_asyncio_loop_lag_seconds_bucket{" L ",tid=\"7\",le=\"0.000016\"} ") ==
		      15,
	      "cumulative through bucket 3");
	CHECK(value_of(t, "pyrograph_asyncio_loop_lag_seconds_bucket{" L ",tid=\"7\",le=\"0.131072\"} ") ==
		      15,
	      "below the stalls");
	CHECK(value_of(t, "pyrograph_asyncio_loop_lag_seconds_bucket{" L ",tid=\"7\",le=\"0.262144\"} ") ==
		      17,
	      "the stalls' bucket");
	CHECK(value_of(t, "pyrograph_asyncio_loop_lag_seconds_bucket{" L ",tid=\"7\",le=\"+Inf\"} ") == 17,
	      "+Inf");
	CHECK(value_of(t, "pyrograph_asyncio_loop_lag_seconds_count{" L ",tid=\"7\"} ") == 17, "count");
	CHECK(value_of(t, "pyrograph_asyncio_loop_lag_seconds_sum{" L ",tid=\"7\"} ") == 0.3005, "sum");
	CHECK(count_of(t, "pyrograph_asyncio_loop_lag_seconds_bucket{") == LOOP_BUCKETS, "%zu",
	      count_of(t, "pyrograph_asyncio_loop_lag_seconds_bucket{"));
	CHECK(value_of(t, "pyrograph_asyncio_stalls_total{" L ",tid=\"7\"} ") == 2, "stalls");
	CHECK(value_of(t, "pyrograph_asyncio_stalled_seconds_total{" L ",tid=\"7\"} ") == 0.3005,
	      "stalled");
	CHECK(value_of(t, "pyrograph_asyncio_blocking_seconds_total{" L ",tid=\"7\",kind=\"sleep\"} ") ==
		      0.2,
	      "sleep");
	CHECK(strstr(t, "kind=\"disk I/O\"} 1e-06\n"), "disk");
	CHECK(!strstr(t, "pid=\"8\""), "unknown process shown");
	CHECK(count_of(t, "# TYPE pyrograph_asyncio_loop_lag_seconds histogram\n") == 1, "TYPE once");
	free(t);

	/* a new thread under the same tid: the figures follow the map */
	memset(ls.hist, 0, sizeof(ls.hist));
	ls.hist[1] = 1;
	metrics__loop(m, 7, &ls);
	t = render(m);
	CHECK(value_of(t, "pyrograph_asyncio_loop_lag_seconds_count{" L ",tid=\"7\"} ") == 1, "reset");
	free(t);

	/* exit: every series of the process goes */
	metrics__forget(m, 7);
	t = render(m);
	CHECK(!strstr(t, "pid=\"7\""), "%s", t);
	CHECK(strstr(t, "# TYPE pyrograph_asyncio_stalls_total counter\n"), "families stay");
	free(t);
	metrics__free(m);
}

static void test_sites(void)
{
	struct metrics *m = metrics__new("h", 2);
	char *t;
	double other1, other2;

	metrics__proc(m, 7, "app", "");
	for (int i = 0; i < 10; i++)
		metrics__await(m, 7, "busy (/a.py:1)", 1000000);
	for (int i = 0; i < 5; i++)
		metrics__await(m, 7, "mid (/a.py:2)", 1000000);
	metrics__await(m, 7, "rare (/a.py:3)", 1000000);
	t = render(m);
	/* the two busiest get their own series, the third is "other" */
	CHECK(value_of(t, "pyrograph_asyncio_await_latency_seconds_count{" L ",site=\"busy (/a.py:1)\"} ") ==
		      10,
	      "%s", t);
	CHECK(value_of(t, "pyrograph_asyncio_await_latency_seconds_count{" L ",site=\"mid (/a.py:2)\"} ") ==
		      5,
	      "mid");
	other1 = value_of(t, "pyrograph_asyncio_await_latency_seconds_count{" L ",site=\"other\"} ");
	CHECK(other1 == 1, "other %g", other1);
	CHECK(!strstr(t, "rare"), "rare has no series");
	free(t);
	/* rare becomes the busiest: it stays in "other", which only grows */
	for (int i = 0; i < 50; i++)
		metrics__await(m, 7, "rare (/a.py:3)", 1000000);
	metrics__await(m, 7, "new (/a.py:4)", 1000000);
	t = render(m);
	other2 = value_of(t, "pyrograph_asyncio_await_latency_seconds_count{" L ",site=\"other\"} ");
	CHECK(other2 == 52 && !strstr(t, "rare") && !strstr(t, "new ("), "other %g", other2);
	CHECK(value_of(t, "pyrograph_asyncio_await_latency_seconds_count{" L ",site=\"busy (/a.py:1)\"} ") ==
		      10,
	      "busy kept");
	free(t);
	metrics__free(m);
	/* raw names that would be written alike are one series */
	m = metrics__new("h", 10);
	metrics__proc(m, 7, "app", "");
	metrics__await(m, 7, "w (x\x01y.py:4)", 1000);
	metrics__await(m, 7, "w (x\x02y.py:4)", 1000);
	metrics__await(m, 7, "other", 1000);
	t = render(m);
	CHECK(value_of(t, "pyrograph_asyncio_await_latency_seconds_count{" L ",site=\"w (x?y.py:4)\"} ") == 2,
	      "%s", t);
	CHECK(count_of(t, "pyrograph_asyncio_await_latency_seconds_count{") == 2, "%zu",
	      count_of(t, "pyrograph_asyncio_await_latency_seconds_count{"));
	CHECK(strstr(t, "site=\"other (site)\"} 1\n") && !strstr(t, "site=\"other\"}"), "other");
	/* a cut never splits a character: 300 two-byte characters */
	{
		char big[700];

		for (int i = 0; i < 300; i++)
			memcpy(big + 2 * i, "\xc3\xa9", 2);
		big[600] = '\0';
		metrics__await(m, 7, big, 1000);
		free(t);
		t = render(m);
		CHECK(!strstr(t, "?\"}"), "split character");
		free(t);
	}
	/* thousands of distinct sites: bounded */
	for (int i = 0; i < 5000; i++) {
		char s[64];

		snprintf(s, sizeof(s), "f%d (/b.py:%d)", i, i);
		metrics__await(m, 7, s, 1000);
	}
	t = render(m);
	/* ten with their own series (the three above among them), "other" */
	CHECK(count_of(t, "pyrograph_asyncio_await_latency_seconds_count{") == 11, "%zu",
	      count_of(t, "pyrograph_asyncio_await_latency_seconds_count{"));
	free(t);
	metrics__free(m);
}

static void test_process_and_labels(void)
{
	struct metrics *m = metrics__new("h\"ost\n", 10);
	char *t, buf[64];

	/* a hostile service name: quotes, backslash, newline, bad UTF-8 */
	metrics__proc(m, 9, "a\"b\\c\nd\xff\xc3\xa9", "3f2a9c0d1e2b");
	metrics__proc_gc(m, 9, true);
	metrics__gc(m, 9, 0, 500);	 /* < 2 us */
	metrics__gc(m, 9, 2, 40000000); /* 40 ms: [32.8, 65.5) ms */
	metrics__gc(m, 9, 7, 1000);	 /* a generation this build does not have */
	metrics__usage(m, 9, 1000000, 1.5, 1000000000ULL);
	metrics__usage(m, 9, 2000000, 2.0, 6000000000ULL);
	metrics__usage(m, 9, 6000000, 2.5, 11000000000ULL);
	t = render(m);
	CHECK(strstr(t, "host=\"h\\\"ost\\n\",container=\"3f2a9c0d1e2b\",service=\"a\\\"b\\\\c\\nd?\xc3\xa9\",pid=\"9\""),
	      "%s", t);
	CHECK(strstr(t, "pyrograph_python_gc_probes{") && strstr(t, ",pid=\"9\"} 1\n"), "probes");
	CHECK(count_of(t, "pyrograph_python_gc_pause_seconds_count{") == 4, "gens %zu",
	      count_of(t, "pyrograph_python_gc_pause_seconds_count{"));
	CHECK(strstr(t, ",generation=\"2\",le=\"0.032768\"} 0\n") &&
		      strstr(t, ",generation=\"2\",le=\"0.065536\"} 1\n"),
	      "gen 2 bucket");
	CHECK(strstr(t, ",generation=\"3\",le=\"+Inf\"} 1\n"), "other generations");
	CHECK(strstr(t, ",pid=\"9\"} 6000000\n"), "rss");
	/* (6 MB - 1 MB) over 10 s */
	CHECK(strstr(t, "pyrograph_process_resident_memory_growth_bytes_per_second{") &&
		      strstr(t, ",pid=\"9\"} 500000\n"),
	      "growth");
	CHECK(strstr(t, ",pid=\"9\"} 2.50\n"), "cpu");
	free(t);
	/* an exec: the same pid starts over */
	metrics__proc(m, 9, "other", "");
	metrics__usage(m, 9, 4096, 0.01, 12000000000ULL);
	t = render(m);
	CHECK(!strstr(t, "generation=") && strstr(t, "service=\"other\""), "%s", t);
	free(t);
	/* a Kubernetes pod's container: its name, its pod and namespace; a
	 * series of every family carries them */
	metrics__proc(m, 11, "api", "app");
	metrics__proc_pod(m, 11, "shop", "web-5d8f7c9b6-x2x7q");
	metrics__usage(m, 11, 4096, 0.5, 12000000000ULL);
	t = render(m);
	CHECK(strstr(t, "pyrograph_process_resident_memory_bytes{host=\"h\\\"ost\\n\",container=\"app\","
			"pod=\"web-5d8f7c9b6-x2x7q\",namespace=\"shop\",service=\"api\",pid=\"11\"} 4096\n"),
	      "%s", t);
	/* the other process's series have no pod */
	CHECK(strstr(t, "container=\"\",service=\"other\",pid=\"9\"}"), "%s", t);
	free(t);
	metrics__free(m);

	CHECK(!strcmp(metrics_label_value("\xe2\x82", buf, sizeof(buf)), "??"), "%s", buf);
	CHECK(!strcmp(metrics_label_value("\xed\xa0\x80", buf, sizeof(buf)), "???"), "surrogate %s",
	      buf);
	CHECK(!strcmp(metrics_label_value("\xf0\x9f\x98\x80x", buf, sizeof(buf)), "\xf0\x9f\x98\x80x"),
	      "emoji");
	memset(buf, 'x', sizeof(buf));
	metrics_label_value("\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"", buf, 16);
	CHECK(strlen(buf) < 16, "bounded %zu", strlen(buf));
}

static void test_tables_bounded(void)
{
	struct metrics *m = metrics__new("h", 10);
	char *t;

	for (int pid = 1; pid <= METRICS_MAX_PROCS + 10; pid++)
		metrics__proc(m, pid, "p", "");
	for (int tid = 1; tid <= METRICS_MAX_LOOPS + 3; tid++)
		metrics__stall(m, 1, 100000 + tid, 1000000);
	for (int k = 0; k < 40; k++) {
		char kind[32];

		snprintf(kind, sizeof(kind), "[k%d]", k);
		metrics__blocking(m, 1, 100001, kind, 1000000000);
	}
	t = render(m);
	CHECK(strstr(t, "reason=\"metrics_process_table_full\"} 10\n"), "procs dropped");
	CHECK(strstr(t, "reason=\"metrics_loop_table_full\"} 3\n"), "loops dropped");
	CHECK(count_of(t, "tid=\"100001\",kind=") == METRICS_MAX_KINDS + 1, "%zu",
	      count_of(t, "tid=\"100001\",kind="));
	CHECK(strstr(t, "tid=\"100001\",kind=\"other\"} 24\n"), "other kinds");
	free(t);
	for (int pid = 1; pid <= METRICS_MAX_PROCS + 10; pid++)
		metrics__forget(m, pid);
	t = render(m);
	CHECK(!strstr(t, "pid=\""), "all forgotten");
	free(t);
	metrics__free(m);
}

static void test_requests(void)
{
	char m[16], p[64];
	char big[HTTPD_MAX_REQUEST + 10];

	CHECK(httpd_parse_request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 35, m, sizeof(m), p,
				  sizeof(p)) == 1 &&
		      !strcmp(m, "GET") && !strcmp(p, "/metrics"),
	      "%s %s", m, p);
	CHECK(httpd_parse_request("GET /metrics?x=1 HTTP/1.0\n\n", 27, m, sizeof(m), p, sizeof(p)) == 1 &&
		      !strcmp(p, "/metrics"),
	      "query cut: %s", p);
	CHECK(httpd_parse_request("GET /metrics HTTP/1.0\r\n\r\n", 25, m, sizeof(m), p, sizeof(p)) ==
			      1 &&
		      !strcmp(p, "/metrics"),
	      "no headers, CRLF");
	CHECK(httpd_parse_request("HEAD / HTTP/1.0\n\n", 17, m, sizeof(m), p, sizeof(p)) == 1 &&
		      !strcmp(m, "HEAD") && !strcmp(p, "/"),
	      "no headers, LF");
	CHECK(httpd_parse_request("GET /metrics HTTP/1.1\r\nHost: x\r\n", 32, m, sizeof(m), p,
				  sizeof(p)) == 0,
	      "incomplete");
	CHECK(httpd_parse_request("GET /metrics\r\n\r\n", 16, m, sizeof(m), p, sizeof(p)) == -EINVAL,
	      "no version");
	CHECK(httpd_parse_request("get /metrics HTTP/1.1\r\n\r\n", 26, m, sizeof(m), p, sizeof(p)) ==
		      -EINVAL,
	      "lower-case method");
	CHECK(httpd_parse_request("GET metrics HTTP/1.1\r\n\r\n", 25, m, sizeof(m), p, sizeof(p)) ==
		      -EINVAL,
	      "relative path");
	CHECK(httpd_parse_request("GET /a\x01 HTTP/1.1\r\n\r\n", 21, m, sizeof(m), p, sizeof(p)) ==
		      -EINVAL,
	      "control byte");
	memset(big, 'a', sizeof(big));
	CHECK(httpd_parse_request(big, HTTPD_MAX_REQUEST, m, sizeof(m), p, sizeof(p)) == -E2BIG,
	      "too big");
	{
		const char *req = "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
				  "HTTP/1.1\r\n\r\n";

		CHECK(httpd_parse_request(req, strlen(req), m, sizeof(m), p, sizeof(p)) == -EINVAL,
		      "path longer than the buffer");
	}
	/* every prefix of a request: never beyond len (ASan) */
	{
		const char *req = "HEAD /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
		int complete = 0;

		for (size_t i = 0; i <= strlen(req); i++) {
			unsigned char *d = dup_exact((const unsigned char *)req, i);

			complete += httpd_parse_request((char *)d, i, m, sizeof(m), p, sizeof(p)) == 1;
			free(d);
		}
		CHECK(complete == 1 && !strcmp(m, "HEAD"), "prefixes %d", complete);
	}
}

/* Upload failures by reason: every reason has its series (from 0), only
 * when the agent uploads. */
static void test_upload_failures(void)
{
	struct metrics *m = metrics__new("h", 2);
	struct metrics_health h = { .uploading = true, .sent = 5, .rejected = 1 };
	char *t;

	h.upload_failures[HTTP_FAIL_401] = 3;
	h.upload_failures[HTTP_FAIL_CERT_EXPIRED] = 2;
	metrics__health(m, &h);
	t = render(m);
	CHECK(count_of(t, "# TYPE pyrograph_agent_upload_failures_total counter\n") == 1, "%s", t);
	CHECK(count_of(t, "\npyrograph_agent_upload_failures_total{") == HTTP_FAIL_N,
	      "one series per reason: %zu", count_of(t, "\npyrograph_agent_upload_failures_total{"));
	CHECK(value_of(t, "pyrograph_agent_upload_failures_total{host=\"h\",reason=\"http_401\"} ") == 3,
	      "%s", t);
	CHECK(value_of(t, "pyrograph_agent_upload_failures_total{host=\"h\",reason=\"certificate_expired\"} ") ==
		      2,
	      "%s", t);
	CHECK(value_of(t, "pyrograph_agent_upload_failures_total{host=\"h\",reason=\"connect\"} ") == 0,
	      "%s", t);
	CHECK(value_of(t, "pyrograph_agent_upload_failures_total{host=\"h\",reason=\"other\"} ") == 0,
	      "the last reason: %s", t);
	CHECK(value_of(t, "pyrograph_agent_uploads_total{host=\"h\",result=\"sent\"} ") == 5, "%s", t);
	free(t);
	h.uploading = false;
	metrics__health(m, &h);
	t = render(m);
	CHECK(!strstr(t, "upload_failures"), "no uploads, no series: %s", t);
	free(t);
	metrics__free(m);
}

int main(void)
{
	test_loops();
	test_sites();
	test_process_and_labels();
	test_tables_bounded();
	test_requests();
	test_upload_failures();
	return CHECK_SUMMARY();
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph diff's inputs and table: folded files with pids stripped and
 * malformed lines counted; pprof files written by pyrograph read back to
 * the same stacks (root frames from labels, Python, native, kernel and
 * synthetic frames); broken gzip and protobuf refused; the table's order
 * and its noise marks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "check.h"
#include "report/diffrep.h"
#include "output/output.h"
#include "output/pprof.h"
#include "model/folded.h"
#include "output/pprof_read.h"

CHECK_COUNTERS;

static char *table(struct diffrep *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	diffrep__write_table(d, f, 20);
	fclose(f);
	return buf;
}

static int load_mem(struct diffrep *d, int which, const void *p, size_t n, char *err)
{
	FILE *f = fmemopen((void *)p, n, "r");
	int ret = diffrep__load_file(d, which, f, which ? "after" : "before", err, 256);

	fclose(f);
	return ret;
}

static void test_folded(void)
{
	static const char before[] =
		"python3 job.py (100);thread main (100);<module> (/j.py:9);heavy (/j.py:3) 500\n"
		"python3 job.py (100);thread main (100);<module> (/j.py:9);steady (/j.py:6) 500\n"
		"no count here\n"
		"negative -5\n";
	static const char after[] =
		"python3 job.py (222);thread main (222);<module> (/j.py:9);heavy (/j.py:4) 1000\n"
		"python3 job.py (222);thread main (222);<module> (/j.py:9);steady (/j.py:6) 520\n";
	struct diffrep *d = diffrep__new(false);
	char err[256], *t;

	CHECK(!load_mem(d, 0, before, sizeof(before) - 1, err), "%s", err);
	CHECK(!load_mem(d, 1, after, sizeof(after) - 1, err), "%s", err);
	t = table(d);
	CHECK(strstr(t, "skipped malformed lines: 2 before, 0 after"), "%s", t);
	/* heavy first, +100%, beyond noise; the edited line does not matter */
	CHECK(strstr(t, "500 (50.0%)     1000 (65.8%)     +500 (+100%) *        +500  heavy (/j.py)"),
	      "%s", t);
	/* steady's +20 is within noise (3 sigma of 1020 samples is ~96) */
	CHECK(strstr(t, "+20 (+4%)  ") && strstr(t, "steady (/j.py)"), "%s", t);
	CHECK(strstr(t, "heavy") < strstr(t, "steady"), "%s", t);
	/* process and thread frames are not functions */
	CHECK(!strstr(t, "python3 job.py") && !strstr(t, "thread main"), "%s", t);
	free(t);
	diffrep__free(d);

	d = diffrep__new(false);
	CHECK(load_mem(d, 0, "junk\n", 5, err) == -EINVAL && strstr(err, "no stacks"), "%s", err);
	diffrep__free(d);
}

static void test_pprof_round_trip(void)
{
	static const char *stacks[] = {
		"container 3f2a9c1b2d4e;python3 app.py (1234/7);thread worker (1240);<module> (/app.py:3);run (/app.py:10)",
		"python3 app.py (1234);<module> (/app.py:3);PyObject_Call [libpython3.11.so.1.0];cb (/app.py:20)",
		"python3 app.py (1234);<module> (/app.py:3);read (/usr/lib/python3.11/x.py:5);[disk I/O]",
		"python3 app.py (1234);main (/app.py:7);do_syscall_64_[k]",
	};
	static const char *expect[] = {
		"container 3f2a9c1b2d4e;python3 app.py (0);thread worker (0);<module> (/app.py:3);run (/app.py:10)",
		"python3 app.py (0);<module> (/app.py:3);PyObject_Call [libpython3.11.so.1.0];cb (/app.py:20)",
		"python3 app.py (0);<module> (/app.py:3);read (/usr/lib/python3.11/x.py:5);[disk I/O]",
		"python3 app.py (0);main (/app.py:7);do_syscall_64_[k]",
	};
	struct frame_table ft;
	struct profile prof;
	struct folded_buf fb = { 0 };
	struct profile_data pd = { .prof = &prof, .hz = 100 };
	struct diffrep *d = diffrep__new(false);
	unsigned char *gz;
	size_t len;
	char err[256], *t;

	frames_init(&ft);
	profile_init(&prof, &ft);
	for (int i = 0; i < 4; i++)
		CHECK(!folded_add(&prof, stacks[i], strlen(stacks[i]), 10 * (i + 1), 1, &fb),
		      "read %s", stacks[i]);
	CHECK(!pprof_encode(&pd, &gz, &len), "encode");
	CHECK(!load_mem(d, 0, gz, len, err), "%s", err);
	CHECK(!load_mem(d, 1, gz, len, err), "%s", err);
	/* the after profile's stacks, through the table: every function */
	t = table(d);
	for (int i = 0; i < 4; i++) {
		const char *leaf = strrchr(expect[i], ';') + 1;
		char fn[128];

		/* the table names functions without lines */
		snprintf(fn, sizeof(fn), "%.*s", (int)strcspn(leaf, ":"), leaf);
		CHECK(strstr(t, fn), "%s missing:\n%s", fn, t);
	}
	CHECK(strstr(t, "100 samples; after: 100 samples"), "%s", t);
	free(t);
	diffrep__free(d);

	/* each stack read back exactly (one at a time) */
	for (int i = 0; i < 4; i++) {
		struct profile one;
		struct profile_data p1 = { .prof = &one, .hz = 100 };
		unsigned char *g1;
		size_t l1;
		FILE *f;
		char svg[64];

		profile_init(&one, &ft);
		CHECK(!folded_add(&one, stacks[i], strlen(stacks[i]), 3, 1, &fb), "read %s", stacks[i]);
		pprof_encode(&p1, &g1, &l1);
		d = diffrep__new(false);
		CHECK(!load_mem(d, 0, g1, l1, err) && !load_mem(d, 1, g1, l1, err), "%s", err);
		/* the SVG carries the rebuilt frames */
		snprintf(svg, sizeof(svg), "/tmp/pyrograph-test-diffrep-%d.svg", getpid());
		CHECK(!diffrep__write_svg(d, svg), "svg");
		f = fopen(svg, "r");
		if (f) {
			char *buf = calloc(1, 1 << 20);
			const char *leaf = strrchr(expect[i], ';') + 1;

			fread(buf, 1, (1 << 20) - 1, f);
			fclose(f);
			CHECK(strstr(buf, leaf), "frame %s not in the SVG", leaf);
			/* ids read 0, with the single space before them */
			CHECK(strstr(buf, "python3 app.py (0)") && !strstr(buf, "  (0)"),
			      "process frame of stack %d", i);
			CHECK(i || strstr(buf, "thread worker (0)"), "thread frame");
			free(buf);
		}
		unlink(svg);
		diffrep__free(d);
		free(g1);
		profile_free(&one);
	}

	/* broken inputs: a cut gzip stream, gzip of garbage */
	d = diffrep__new(false);
	CHECK(load_mem(d, 0, gz, len / 2, err) == -EINVAL && strstr(err, "not a complete gzip"),
	      "%s", err);
	{
		static const unsigned char junk_gz[] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xcb, 0x48,
							 0xcd, 0xc9, 0xc9, 0x07, 0, 0x86, 0xa6, 0x10,
							 0x36, 5, 0, 0, 0 }; /* "hello" */

		CHECK(load_mem(d, 0, junk_gz, sizeof(junk_gz), err) < 0, "junk accepted");
		CHECK(strstr(err, "malformed protobuf") || strstr(err, "no samples"), "%s", err);
	}
	diffrep__free(d);
	free(gz);
	folded_buf_free(&fb);
	profile_free(&prof);
	frames_free(&ft);
}

/*
 * Named containers through pprof and back: the container frame becomes the
 * labels container, container_id, image, pod, namespace (a cgroup frame,
 * cgroup) and the reader rebuilds the same frame from them; the folded
 * reader knows the Kubernetes form as a container frame.
 */
static void test_pprof_container_labels(void)
{
	static const char *stacks[] = {
		"container web (3f2a9c1b2d4e, python:3.13-slim);gunicorn app:app (48211/1);handle (/app.py:77)",
		"pod shop/web-5d8f7c9b6-x2x7q container app (89016fc1ebe7, registry.example.com/shop/web:1.4);"
		"python3 -m shop.web (51007/7);main (/app.py:7)",
		"container 3f2a9c1b2d4e;python3 app.py (9);f (/a.py:1)",
		"cgroup /system.slice/x.service;python3 x.py (5);g (/x.py:2)",
	};
	static const char *expect[] = {
		"container web (3f2a9c1b2d4e, python:3.13-slim);gunicorn app:app (48211);handle (/app.py:77)",
		"pod shop/web-5d8f7c9b6-x2x7q container app (89016fc1ebe7, registry.example.com/shop/web:1.4);"
		"python3 -m shop.web (51007);main (/app.py:7)",
		"container 3f2a9c1b2d4e;python3 app.py (9);f (/a.py:1)",
		"cgroup /system.slice/x.service;python3 x.py (5);g (/x.py:2)",
	};

	for (int i = 0; i < 4; i++) {
		struct frame_table ft, ft2;
		struct profile one, back;
		struct profile_data pd = { .prof = &one, .hz = 100 };
		struct folded_buf fb = { 0 };
		struct pprof_read_stats rs;
		unsigned char *gz = NULL, *raw = NULL;
		size_t len, rlen;
		uint32_t n = 0;
		const frame_id *f;
		char text[1024] = "";
		FILE *in;

		frames_init(&ft);
		frames_init(&ft2);
		profile_init(&one, &ft);
		profile_init(&back, &ft2);
		CHECK(!folded_add(&one, stacks[i], strlen(stacks[i]), 3, 1, &fb), "read %s", stacks[i]);
		f = stacks_get(&one.st, 0, &n);
		CHECK(n == 3 && frames_get(&ft, f[0])->kind == FRAME_CONTAINER, "%s: kind", stacks[i]);
		CHECK(!pprof_encode(&pd, &gz, &len), "encode");
		in = fmemopen(gz, len, "r");
		CHECK(in && !pprof_inflate(in, &raw, &rlen), "inflate");
		if (in)
			fclose(in);
		CHECK(raw && !pprof_read_raw(raw, rlen, &back, &rs) && profile_count(&back) == 1,
		      "read back %s", stacks[i]);
		if (profile_count(&back) == 1) {
			f = stacks_get(&back.st, 0, &n);
			stacks_text(&ft2, f, n, text, sizeof(text));
		}
		CHECK(!strcmp(text, expect[i]), "%s came back as %s", stacks[i], text);
		free(raw);
		free(gz);
		folded_buf_free(&fb);
		profile_free(&one);
		profile_free(&back);
		frames_free(&ft);
		frames_free(&ft2);
	}
}

int main(void)
{
	test_folded();
	test_pprof_round_trip();
	test_pprof_container_labels();
	return CHECK_SUMMARY();
}

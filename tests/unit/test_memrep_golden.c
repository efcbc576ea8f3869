// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph mem's report, byte for byte. A scripted event sequence
 * (data/golden/mem.events: RSS readings; growth and returns over nine
 * intervals with leak candidates, a cache that gives back and a process
 * never announced; collections of three generations and of none; sampled
 * allocations; tracked allocations freed, lost and reused at addresses
 * sharing their low bits; counts of losses) goes through the report twice,
 * as `mem` and as `mem --live`. Every output -- text, JSON, the RSS plot,
 * the collapsed growth, live and allocation profiles, and check's
 * verdicts -- must be the one the report made from the same events when it
 * kept folded text (data/golden/mem_{plain,live}.*, made by that code).
 *
 * Usage: test_memrep_golden [DATA_DIR]   (default tests/unit/data)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "model/folded.h"
#include "output/output.h"
#include "report/memrep.h"

CHECK_COUNTERS;

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

/* One line of the script: "kind numbers... [text]". Returns 0, or -1 for
 * a line the script should not have. */
static int feed(struct memrep **mp, char *line, bool live)
{
	struct memrep *m = *mp;
	long long a, b, c, d, e;
	char kind[32], ver[64];
	const char *r;
	int off = 0;

	if (sscanf(line, "%31s %n", kind, &off) != 1)
		return -1;
	r = line + off;
	if (!strcmp(kind, "new")) {
		if (sscanf(r, "%lld %lld", &a, &b) != 2 || m)
			return -1;
		*mp = memrep__new(&ft, a, b);
		return *mp ? 0 : -1;
	}
	if (!m)
		return -1;
	if (!strcmp(kind, "alloc_period") && sscanf(r, "%lld", &a) == 1) {
		memrep__set_alloc_period(m, a);
	} else if (!strcmp(kind, "live") &&
		   sscanf(r, "%lld %lld %lld %lld %n", &a, &b, &c, &d, &off) == 4) {
		memrep__live(m, a, stk(r + off), c, d, b);
	} else if (!strcmp(kind, "live") && sscanf(r, "%lld %lld", &a, &b) == 2) {
		if (live) /* the --live run only */
			memrep__set_live(m, a, b);
	} else if (!strcmp(kind, "proc") &&
		   sscanf(r, "%lld %63s %lld %n", &a, ver, &b, &off) == 3) {
		memrep__proc(m, a, r + off, ver, b);
	} else if (!strcmp(kind, "rss") && sscanf(r, "%lld %lld %lld", &a, &b, &c) == 3) {
		memrep__rss(m, a, b, c);
	} else if (!strcmp(kind, "growth") &&
		   sscanf(r, "%lld %lld %lld %n", &a, &b, &c, &off) == 3) {
		memrep__growth(m, a, stk(r + off), c, b);
	} else if (!strcmp(kind, "gc") &&
		   sscanf(r, "%lld %lld %lld %lld %n", &a, &b, &c, &d, &off) == 4) {
		memrep__gc(m, a, stk(r + off), b, c, d);
	} else if (!strcmp(kind, "alloc") && sscanf(r, "%lld %lld %n", &a, &b, &off) == 2) {
		memrep__alloc(m, a, stk(r + off), b);
	} else if (!strcmp(kind, "free") && sscanf(r, "%lld %lld %lld", &a, &b, &c) == 3) {
		memrep__live_free(m, a, c, b);
	} else if (!strcmp(kind, "counts") &&
		   sscanf(r, "%lld %lld %lld %lld %lld", &a, &b, &c, &d, &e) == 5) {
		memrep__counts(m, a, b, c, d, e);
	} else if (!strcmp(kind, "live_counts") &&
		   sscanf(r, "%lld %lld %lld %lld", &a, &b, &c, &d) == 4) {
		memrep__live_counts(m, a, b, c, d);
	} else if (!strcmp(kind, "duration")) {
		memrep__set_duration(m, atof(r));
	} else {
		return -1;
	}
	return 0;
}

static struct memrep *run_script(const char *dir, bool live)
{
	char path[4096], line[4096];
	struct memrep *m = NULL;
	FILE *in;
	int lineno = 0;

	snprintf(path, sizeof(path), "%s/golden/mem.events", dir);
	in = fopen(path, "r");
	if (!in) {
		fprintf(stderr, "cannot read %s: %s\n", path, strerror(errno));
		exit(2);
	}
	while (fgets(line, sizeof(line), in)) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		if (feed(&m, line, live)) {
			fprintf(stderr, "%s:%d: cannot read '%s'\n", path, lineno, line);
			exit(2);
		}
	}
	fclose(in);
	return m;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;

	*len = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (*len + 4096 > cap) {
			cap = 2 * cap + 4096;
			buf = realloc(buf, cap);
			if (!buf)
				exit(2);
		}
		size_t got = fread(buf + *len, 1, cap - *len, f);

		if (!got)
			break;
		*len += got;
	}
	fclose(f);
	return buf;
}

/* got[0..len) against the golden file: the same bytes. */
static void compare(const char *dir, const char *name, const char *got, size_t len)
{
	char path[4096];
	size_t wlen, i;
	char *want;

	snprintf(path, sizeof(path), "%s/golden/%s", dir, name);
	/* GOLDEN_UPDATE=1: a deliberate change of the report is written as
	 * the new golden (review its diff before committing it) */
	if (getenv("GOLDEN_UPDATE")) {
		FILE *f = fopen(path, "w");

		CHECK(f && fwrite(got, 1, len, f) == len && !fclose(f),
		      "cannot write %s", path);
	}
	want = slurp(path, &wlen);
	CHECK(want, "no golden file %s", path);
	if (!want)
		return;
	for (i = 0; i < len && i < wlen && got[i] == want[i]; i++)
		;
	CHECK(i == len && len == wlen,
	      "%s: differs at byte %zu of %zu (golden %zu):\n  golden: %.120s\n  now:    %.120s",
	      name, i, len, wlen, want + (i < wlen ? i : wlen),
	      got + (i < len ? i : len));
	free(want);
}

typedef int (*write_fn)(struct memrep *m, FILE *f);

static void compare_written(const char *dir, const char *name, struct memrep *m,
			    write_fn fn)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		exit(2);
	CHECK(fn(m, f) == 0, "%s: write failed", name);
	fclose(f);
	compare(dir, name, buf, len);
	free(buf);
}

/* The profile through the collapsed writer mem -f collapsed uses. */
static void compare_profile(const char *dir, const char *name, const char *tmpdir,
			    struct profile *p)
{
	struct profile_data pd = { .prof = p };
	char path[4096];
	size_t len;
	char *got;

	CHECK(p, "%s: no profile", name);
	if (!p)
		return;
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	CHECK(output_write(path, OUT_COLLAPSED, &pd) == 0, "%s: not written", name);
	got = slurp(path, &len);
	compare(dir, name, got ? got : "", got ? len : 0);
	free(got);
	unlink(path);
}

/* check's figures, one process a paragraph. */
static int write_verdicts(struct memrep *m, FILE *f)
{
	static struct memrep_proc_verdict v[16];
	size_t n = memrep__proc_verdicts(m, v, 16);

	for (size_t i = 0; i < n && i < 16; i++)
		fprintf(f, "pid %d label %s growth/min %.3f rss %lld -> %lld gc_probes %d max_gc %.3f ms gen %d\n  gc_where %s\n  growth_where %s\n",
			v[i].pid, v[i].label, v[i].rss_growth_per_min, v[i].rss_first,
			v[i].rss_last, v[i].gc_probes, v[i].max_gc_pause_ms, v[i].max_gc_gen,
			v[i].gc_where, v[i].growth_where);
	return ferror(f) ? -EIO : 0;
}

static void test_golden(const char *dir, const char *tmpdir, bool live)
{
	const char *tag = live ? "live" : "plain";
	struct memrep *m = run_script(dir, live);
	char name[64];

#define NAME(ext) (snprintf(name, sizeof(name), "mem_%s.%s", tag, ext), name)
	compare_written(dir, NAME("txt"), m, memrep__write_text);
	compare_written(dir, NAME("json"), m, memrep__write_json);
	compare_written(dir, NAME("svg"), m, memrep__write_plot);
	compare_written(dir, NAME("verdicts"), m, write_verdicts);
	compare_profile(dir, NAME("growth.collapsed"), tmpdir, memrep__growth_stacks(m));
	compare_profile(dir, NAME("live.collapsed"), tmpdir, memrep__live_stacks(m));
	compare_profile(dir, NAME("alloc.collapsed"), tmpdir, memrep__alloc_stacks(m));
	/* twice: the profiles are made anew, not added to */
	compare_profile(dir, NAME("growth.collapsed"), tmpdir, memrep__growth_stacks(m));
	/* and the text after the profiles, which share nothing with it */
	compare_written(dir, NAME("txt"), m, memrep__write_text);
#undef NAME
	memrep__free(m);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/unit/data";
	char tmpdir[] = "/tmp/test_memrep_golden-XXXXXX";

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	frames_init(&ft);
	test_golden(dir, tmpdir, false);
	test_golden(dir, tmpdir, true);
	folded_buf_free(&fb);
	frames_free(&ft);
	rmdir(tmpdir);
	return CHECK_SUMMARY();
}

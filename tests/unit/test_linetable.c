// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * py_line_for_instr() against line tables dumped from real interpreters by
 * gen_linetable_cases.py (tests/unit/data/linetable-*.txt), hand-made edge
 * cases, and random / mutated garbage that must not crash (build with
 * -fsanitize=address,undefined: tables live in exact-size heap buffers).
 *
 * Usage: test_linetable [DATA_DIR]   (default tests/unit/data)
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "python/linetable.h"

#define V(major, minor) (((unsigned)(major) << 24) | ((unsigned)(minor) << 16))

#include "check.h"

CHECK_COUNTERS;

static int line_exact(unsigned version, const unsigned char *t, size_t len,
		      int first, unsigned instr)
{
	unsigned char *q = dup_exact(t, len);
	int r = py_line_for_instr(version, q, len, first, instr);

	free(q);
	return r;
}

/* ---- cases from real interpreters ------------------------------------- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

struct tcase {
	char name[128];
	int first;
	unsigned step, count;
	unsigned char *table;
	size_t len;
	int *lines;
};

static int run_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;
	unsigned version = 0;
	struct tcase c = { 0 };
	int ncases = 0, offsets = 0, fails_before = failed;

	if (!fp) {
		CHECK(0, "open %s: %s", path, strerror(errno));
		return 0;
	}
	while (getline(&buf, &cap, fp) > 0) {
		buf[strcspn(buf, "\n")] = 0;
		if (!strncmp(buf, "version ", 8)) {
			version = (unsigned)strtoul(buf + 8, NULL, 16);
		} else if (!strncmp(buf, "case ", 5)) {
			memset(&c, 0, sizeof(c));
			if (sscanf(buf + 5, "%127s %d %u %u", c.name, &c.first, &c.step, &c.count) != 4 ||
			    c.count > 1000000 || !c.step) {
				CHECK(0, "%s: bad case line '%s'", path, buf);
				break;
			}
		} else if (!strncmp(buf, "table ", 6)) {
			const char *h = buf + 6;
			size_t n = strcmp(h, "-") ? strlen(h) / 2 : 0, i;

			c.table = malloc(n ? n : 1);
			for (i = 0; i < n; i++)
				c.table[i] = (unsigned char)(hexval(h[2 * i]) << 4 | hexval(h[2 * i + 1]));
			c.len = n;
		} else if (!strncmp(buf, "lines ", 6)) {
			char *tok, *save = NULL;
			unsigned k = 0;

			c.lines = calloc(c.count ? c.count : 1, sizeof(int));
			for (tok = strtok_r(buf + 6, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
				int line = atoi(tok);
				char *star = strchr(tok, '*');
				unsigned rep = star ? (unsigned)atoi(star + 1) : 1;

				/* CPython says 0 for the RESUME of module code on
				 * 3.11+ (firstlineno 1, delta -1); the API answers
				 * -1 for anything that is not a line (> 0). */
				if (line <= 0)
					line = -1;
				for (; rep && k < c.count; rep--)
					c.lines[k++] = line;
			}
			CHECK(k == c.count, "%s %s: %u lines for %u offsets", path, c.name, k, c.count);
			for (k = 0; k < c.count; k++) {
				unsigned instr = k * c.step;
				int got = py_line_for_instr(version, c.table, c.len, c.first, instr);

				offsets++;
				CHECK(got == c.lines[k], "%s %s: instr %u: got %d, CPython %d", path,
				      c.name, instr, got, c.lines[k]);
			}
		} else if (!strncmp(buf, "at ", 3)) {
			int instr, want;

			if (sscanf(buf + 3, "%d %d", &instr, &want) == 2) {
				if (want <= 0)
					want = -1;
				int got = py_line_for_instr(version, c.table, c.len, c.first, (unsigned)instr);

				CHECK(got == want, "%s %s: instr %d: got %d, CPython %d", path, c.name,
				      instr, got, want);
			}
		} else if (!strcmp(buf, "end")) {
			free(c.table);
			free(c.lines);
			c.table = NULL;
			c.lines = NULL;
			ncases++;
		}
	}
	free(c.table);
	free(c.lines);
	free(buf);
	fclose(fp);
	printf("%s: %d cases, %d offsets, %d failures\n", path, ncases, offsets, failed - fails_before);
	CHECK(ncases > 0 && version, "%s: no cases", path);
	return ncases;
}

static void real_cases(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *names[64];
	int n = 0, i, total = 0;

	if (!d) {
		CHECK(0, "opendir %s: %s", dir, strerror(errno));
		return;
	}
	while ((e = readdir(d)) && n < 64) {
		size_t l = strlen(e->d_name);

		if (!strncmp(e->d_name, "linetable-", 10) && l > 4 && !strcmp(e->d_name + l - 4, ".txt"))
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	for (i = 0; i < n; i++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		total += run_file(path);
		free(names[i]);
	}
	CHECK(n >= 6, "expected case files for 3.8-3.13 in %s, found %d", dir, n);
	CHECK(total > 0, "no cases at all");
}

/* ---- hand-made edge cases --------------------------------------------- */

static void edge_cases(void)
{
	/* 3.8: two lines, negative increment, odd trailing byte ignored. */
	static const unsigned char lnotab[] = { 0, 1, 6, 2, 4, 0xfe, 9 };
	CHECK(line_exact(V(3, 8), lnotab, sizeof(lnotab), 10, 0) == 11, "lnotab 0");
	CHECK(line_exact(V(3, 8), lnotab, sizeof(lnotab), 10, 5) == 11, "lnotab 5");
	CHECK(line_exact(V(3, 8), lnotab, sizeof(lnotab), 10, 6) == 13, "lnotab 6");
	CHECK(line_exact(V(3, 9), lnotab, sizeof(lnotab), 10, 10) == 11, "lnotab 10 (back)");
	CHECK(line_exact(V(3, 9), lnotab, sizeof(lnotab), 10, 5000) == 11, "lnotab past end");
	CHECK(line_exact(V(3, 9), lnotab, 0, 10, 4) == 10, "empty lnotab: firstlineno");
	CHECK(line_exact(V(3, 9), NULL, 0, 10, 4) == 10, "NULL lnotab");
	CHECK(line_exact(V(3, 9), lnotab, sizeof(lnotab), 10, (unsigned)-1) == 10, "not started");

	/* 3.10: (sdelta bytes, ldelta), -128 = no line; zero-length range. */
	static const unsigned char lt310[] = { 4, 1, 0, 5, 2, 0x80, 6, 0xfb };
	CHECK(line_exact(V(3, 10), lt310, sizeof(lt310), 1, 0) == 2, "310 0");
	CHECK(line_exact(V(3, 10), lt310, sizeof(lt310), 1, 1) == 2, "310 1");
	CHECK(line_exact(V(3, 10), lt310, sizeof(lt310), 1, 2) == -1, "310 2 no line");
	CHECK(line_exact(V(3, 10), lt310, sizeof(lt310), 1, 3) == 2, "310 3 (7 - 5)");
	CHECK(line_exact(V(3, 10), lt310, sizeof(lt310), 1, 6) == -1, "310 past end");
	CHECK(line_exact(V(3, 10), lt310, sizeof(lt310), 1, (unsigned)-1) == 1, "310 not started");

	/* 3.11+: short form (code 0), one-line forms, no-columns, long, none. */
	static const unsigned char loc[] = {
		0x80 | (10 << 3) | 0, 1, 2,		 /* 1 unit,  +0: line 5 */
		0x80 | (11 << 3) | 1, 1, 2,		 /* 2 units, +1: line 6 */
		0x80 | (0 << 3) | 0, 7,			 /* 1 unit,  +0 */
		0x80 | (15 << 3) | 2,			 /* 3 units, no line */
		0x80 | (13 << 3) | 0, 0x45, 0x01,	 /* svarint 0x45 = 5|1<<6 = 69: odd -> -34 */
		0x80 | (14 << 3) | 0, 0x08, 0, 1, 2,	 /* long: +4, end delta, cols */
		0x80 | (12 << 3) | 3, 0, 0,		 /* 4 units, +2 */
	};
	CHECK(line_exact(V(3, 11), loc, sizeof(loc), 5, 0) == 5, "loc 0");
	CHECK(line_exact(V(3, 11), loc, sizeof(loc), 5, 1) == 6, "loc 1");
	CHECK(line_exact(V(3, 11), loc, sizeof(loc), 5, 2) == 6, "loc 2");
	CHECK(line_exact(V(3, 12), loc, sizeof(loc), 5, 3) == 6, "loc 3");
	CHECK(line_exact(V(3, 12), loc, sizeof(loc), 5, 4) == -1, "loc 4 none");
	CHECK(line_exact(V(3, 12), loc, sizeof(loc), 50, 7) == 17, "loc 7 varint -34");
	CHECK(line_exact(V(3, 13), loc, sizeof(loc), 50, 8) == 21, "loc 8 long +4");
	CHECK(line_exact(V(3, 13), loc, sizeof(loc), 50, 9) == 23, "loc 9 +2");
	CHECK(line_exact(V(3, 13), loc, sizeof(loc), 50, 12) == 23, "loc 12 +2");
	CHECK(line_exact(V(3, 13), loc, sizeof(loc), 50, 13) == -1, "loc past end");
	CHECK(line_exact(V(3, 14), loc, sizeof(loc), 50, (unsigned)-2) == 50, "loc not started");
	CHECK(line_exact(V(3, 11), loc, sizeof(loc), 5, 7) == -1, "loc line <= 0 -> -1");

	/* Garbage. */
	static const unsigned char trunc[] = { 0x80 | (13 << 3), 0x40 };
	CHECK(line_exact(V(3, 11), trunc, sizeof(trunc), 5, 0) == -1, "truncated varint");
	static const unsigned char longvar[] = { 0x80 | (14 << 3), 0x7f, 0x7f, 0x7f, 0x7f, 0x7f,
						 0x7f, 0x7f, 0x7f, 0x3f };
	CHECK(line_exact(V(3, 11), longvar, sizeof(longvar), 5, 0) == -1, "overlong varint");
	static const unsigned char nostart[] = { 0x10, 0x80 };
	CHECK(line_exact(V(3, 11), nostart, sizeof(nostart), 5, 0) == -1, "no entry start");
	/* Line overflow: each entry adds 0x7fffffff (varint 0xfffffffe). */
	static const unsigned char big[] = {
		0x80 | (13 << 3), 0x40 | 0x3e, 0x7f, 0x7f, 0x7f, 0x7f, 0x03,
		0x80 | (13 << 3), 0x40 | 0x3e, 0x7f, 0x7f, 0x7f, 0x7f, 0x03,
	};
	CHECK(line_exact(V(3, 11), big, sizeof(big), 0, 0) == INT_MAX, "varint 2^31-1");
	CHECK(line_exact(V(3, 11), big, sizeof(big), 0, 1) == -1, "line overflow -> -1");
	unsigned char up[2 * 64];
	for (int i = 0; i < 64; i++) {
		up[2 * i] = 0;
		up[2 * i + 1] = 127;
	}
	CHECK(line_exact(V(3, 8), up, sizeof(up), INT_MAX - 100, 0) == -1, "lnotab overflow -> -1");
	CHECK(line_exact(V(3, 7), lnotab, sizeof(lnotab), 10, 0) == -1, "3.7 unsupported");
	CHECK(line_exact(V(2, 7), lnotab, sizeof(lnotab), 10, 0) == -1, "2.7 unsupported");
	CHECK(line_exact(V(4, 0), lnotab, sizeof(lnotab), 10, 0) == -1, "4.0 unsupported");
}

/* ---- fuzz-ish robustness ---------------------------------------------- */

CHECK_RNG(0x9e3779b97f4a7c15ull);

static void fuzz(void)
{
	static const unsigned versions[] = { V(3, 8), V(3, 9), V(3, 10), V(3, 11), V(3, 12), V(3, 13), V(3, 14) };
	unsigned char buf[512];
	long sane = 0, iters = 200000;

	for (long it = 0; it < iters; it++) {
		size_t len = next_rand() % sizeof(buf), i;
		unsigned version = versions[next_rand() % 7];
		unsigned mode = next_rand() % 4;
		unsigned instr;
		int first, r;

		for (i = 0; i < len; i++) {
			uint64_t x = next_rand();
			/* mode 1: mostly entry-start bytes; 2: mostly varint continuations */
			buf[i] = mode == 1 ? (unsigned char)(x | 0x80) : mode == 2 ? (unsigned char)(x | 0x40) : (unsigned char)x;
		}
		switch (next_rand() % 4) {
		case 0: first = (int)(next_rand() % 1000); break;
		case 1: first = INT_MAX - (int)(next_rand() % 1000); break;
		case 2: first = -(int)(next_rand() % 1000); break;
		default: first = (int)next_rand(); break;
		}
		instr = next_rand() % 3 ? (unsigned)(next_rand() % 4096) : (unsigned)next_rand();
		r = line_exact(version, buf, len, first, instr);
		if (r == -1 || r > 0)
			sane++;
	}
	CHECK(sane == iters, "fuzz: results are -1 or > 0 (%ld/%ld)", sane, iters);
}

/* Mutations of a real 3.11 table: truncations at every length, flipped bytes. */
static void mutate_real(void)
{
	/* co_linetable of `gaps` from 3.11.7 (big line jumps, long forms). */
	static const unsigned char t[] = { 0x80, 0x00, 0xd8, 0x08, 0x09, 0x80, 0x41, 0xf0, 0x5a, 0x04,
					   0x00, 0x09, 0x0a, 0x80, 0x41, 0xf0, 0x5a, 0x09, 0x00, 0x09,
					   0x0a, 0x80, 0x41, 0xf0, 0x0c, 0x00, 0x0c, 0x0d, 0x88, 0x71,
					   0x89, 0x35, 0x90, 0x31, 0x89, 0x39, 0xd0, 0x04, 0x14 };
	unsigned char m[sizeof(t)];
	long ok = 0, n = 0;

	CHECK(line_exact(V(3, 11), t, sizeof(t), 77, 0) == 77, "gaps 0");
	CHECK(line_exact(V(3, 11), t, sizeof(t), 77, 3) == 219, "gaps 3");
	CHECK(line_exact(V(3, 11), t, sizeof(t), 77, 5) == 520, "gaps 5");
	for (size_t l = 0; l <= sizeof(t); l++)
		for (unsigned instr = 0; instr < 20; instr++) {
			int r = line_exact(V(3, 11), t, l, 77, instr);
			n++;
			ok += r == -1 || r > 0;
		}
	for (int it = 0; it < 20000; it++) {
		memcpy(m, t, sizeof(t));
		for (int k = 0; k < 3; k++)
			m[next_rand() % sizeof(m)] ^= (unsigned char)(1u << (next_rand() % 8));
		for (unsigned v = 8; v <= 13; v++) {
			int r = line_exact(V(3, v), m, sizeof(m), 77, (unsigned)(next_rand() % 40));
			n++;
			ok += r == -1 || r > 0;
		}
	}
	CHECK(ok == n, "mutations terminate with -1 or a line");
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/unit/data";

	real_cases(dir);
	edge_cases();
	fuzz();
	mutate_real();
	return CHECK_SUMMARY();
}

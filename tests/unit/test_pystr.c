// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pystr_read() / pybytes_read() against real str and bytes objects dumped
 * from each interpreter by dump_pyobjects.py (tests/unit/data/pystr-*.txt),
 * placed in a fake target memory image, plus truncation at every output
 * size and garbage images that must not crash (build with
 * -fsanitize=address,undefined).
 *
 * Usage: test_pystr [DATA_DIR]   (default tests/unit/data)
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "python/pystr.h"
#include "python/pyversions.h"

#include "check.h"

CHECK_COUNTERS;

/* ---- fake target memory ----------------------------------------------- */

struct image {
	unsigned long long base;
	const unsigned char *mem;
	size_t len;
	unsigned long reads, bytes; /* statistics */
	int fail_after;		    /* >= 0: reads after this many fail (-EIO) */
};

static int img_read(void *ctx, unsigned long long addr, void *buf, size_t len)
{
	struct image *im = ctx;

	im->reads++;
	if (im->fail_after >= 0 && im->reads > (unsigned long)im->fail_after)
		return -EIO;
	if (addr < im->base || addr - im->base > im->len || len > im->len - (addr - im->base))
		return -EFAULT;
	memcpy(buf, im->mem + (addr - im->base), len);
	im->bytes += len;
	return 0;
}

static int bogus_read(void *ctx, unsigned long long addr, void *buf, size_t len)
{
	(void)ctx, (void)addr, (void)buf, (void)len;
	return 7; /* not a valid return: must be treated as an error */
}

#define BASE 0x7f1234560000ull

/* ---- helpers ---------------------------------------------------------- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes hex into a malloc'ed exact-size buffer; "-" is empty. */
static unsigned char *unhex(const char *h, size_t *len)
{
	size_t n = strcmp(h, "-") ? strlen(h) / 2 : 0, i;
	unsigned char *p = malloc(n ? n : 1);

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(hexval(h[2 * i]) << 4 | hexval(h[2 * i + 1]));
	*len = n;
	return p;
}

/* Is s[0..n) valid UTF-8 (no surrogates, <= U+10FFFF, shortest form)? */
static int valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], need, cp, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, cp = c & 0x07;
		else
			return 0;
		if (n - i <= need)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		i += need + 1;
	}
	return 1;
}

/* Length of the longest prefix of e[0..n) that ends on a character boundary and is <= cap. */
static size_t boundary_prefix(const unsigned char *e, size_t n, size_t cap)
{
	size_t k;

	if (cap >= n)
		return n;
	k = cap;
	while (k > 0 && (e[k] & 0xc0) == 0x80)
		k--;
	return k;
}

/* 3.13 has no table row (its offsets come from _Py_DebugOffsets at run time);
 * these string/bytes offsets were measured with gdb on 3.13.0 and agree with
 * the docs' _Py_DebugOffsets values (state 32, length 16, ascii size 40). */
static int offsets_for(unsigned version, struct py_offsets *o)
{
	unsigned minor = (version >> 16) & 0xff, micro = (version >> 8) & 0xff;

	if (!py_offsets_for_version(3, minor, micro, o))
		return 0;
	if (minor == 13) {
		memset(o, 0, sizeof(*o));
		o->version = version;
		o->unicode_state = 32;
		o->unicode_length = 16;
		o->ascii_size = 40;
		o->compact_size = 56;
		o->bytes_size = 16;
		o->bytes_data = 32;
		return 0;
	}
	return -1;
}

/* ---- real objects ----------------------------------------------------- */

static void check_str(const char *file, const char *name, const struct py_offsets *o,
		      const unsigned char *obj, size_t objlen, const char *expect_hex)
{
	struct image im = { .base = BASE, .mem = obj, .len = objlen, .fail_after = -1 };
	char out[4096];
	size_t elen;
	unsigned char *e;
	int r;

	if (!strcmp(expect_hex, "ENOTSUP")) {
		r = pystr_read(o, img_read, &im, BASE, out, sizeof(out));
		CHECK(r == -ENOTSUP && out[0] == 0, "%s %s: got %d, want -ENOTSUP", file, name, r);
		return;
	}
	e = unhex(expect_hex, &elen);
	r = pystr_read(o, img_read, &im, BASE, out, sizeof(out));
	CHECK(r == (int)elen && !memcmp(out, e, elen) && out[elen] == 0,
	      "%s %s: got %d '%.40s', want %zu bytes", file, name, r, r >= 0 ? out : "", elen);
	/* Every output size: a clean prefix on a character boundary. */
	for (size_t outlen = 1; outlen <= elen + 2; outlen++) {
		char *small = malloc(outlen); /* exact size: ASan sees overruns */
		size_t want = boundary_prefix(e, elen, outlen - 1);

		im.reads = im.bytes = 0;
		r = pystr_read(o, img_read, &im, BASE, small, outlen);
		CHECK(r == (int)want && !memcmp(small, e, want) && small[want] == 0 &&
			      valid_utf8((unsigned char *)small, want),
		      "%s %s: outlen %zu: got %d, want %zu", file, name, outlen, r, want);
		/* Reads are bounded by the output size, not by the length field. */
		CHECK(im.bytes <= 64 + 4 * outlen, "%s %s: outlen %zu read %lu bytes", file, name,
		      outlen, im.bytes);
		free(small);
	}
	/* The object's bytes cut short: an error, never an overrun. */
	for (size_t cut = 0; cut < objlen; cut += 1 + cut / 4) {
		struct image ci = { .base = BASE, .mem = obj, .len = cut, .fail_after = -1 };

		r = pystr_read(o, img_read, &ci, BASE, out, sizeof(out));
		CHECK((r < 0 && out[0] == 0) || (r == (int)elen && !memcmp(out, e, elen)),
		      "%s %s: image cut at %zu: %d", file, name, cut, r);
	}
	free(e);
}

static void check_bytes(const char *file, const char *name, const struct py_offsets *o,
			const unsigned char *obj, size_t objlen, const char *expect_hex)
{
	struct image im = { .base = BASE, .mem = obj, .len = objlen, .fail_after = -1 };
	size_t elen;
	unsigned char *e = unhex(expect_hex, &elen), *got = NULL;
	int r;

	r = pybytes_read(o, img_read, &im, BASE, 1 << 20, &got);
	CHECK(r == (int)elen && got && !memcmp(got, e, elen), "%s bytes %s: got %d want %zu", file,
	      name, r, elen);
	free(got);
	for (size_t max = 0; max <= elen + 1; max += 1 + max / 3) {
		got = NULL;
		r = pybytes_read(o, img_read, &im, BASE, max, &got);
		size_t want = elen < max ? elen : max;
		CHECK(r == (int)want && got && !memcmp(got, e, want), "%s bytes %s: max %zu: %d",
		      file, name, max, r);
		free(got);
	}
	free(e);
}

static int run_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL, kind[16], name[64];
	size_t cap = 0;
	unsigned version = 0;
	struct py_offsets o;
	int n = 0, have = 0, fails_before = failed;

	if (!fp) {
		CHECK(0, "open %s: %s", path, strerror(errno));
		return 0;
	}
	while (getline(&buf, &cap, fp) > 0) {
		char *expect, *objhex, *save = NULL;
		unsigned char *obj;
		size_t objlen;

		buf[strcspn(buf, "\n")] = 0;
		if (!strncmp(buf, "version ", 8)) {
			version = (unsigned)strtoul(buf + 8, NULL, 16);
			have = !offsets_for(version, &o);
			CHECK(have, "%s: no offsets for version %#x", path, version);
			continue;
		}
		if (strncmp(buf, "str ", 4) && strncmp(buf, "bytes ", 6))
			continue;
		if (!have)
			break;
		snprintf(kind, sizeof(kind), "%s", strtok_r(buf, " ", &save));
		snprintf(name, sizeof(name), "%s", strtok_r(NULL, " ", &save));
		expect = strtok_r(NULL, " ", &save);
		objhex = strtok_r(NULL, " ", &save);
		if (!expect || !objhex) {
			CHECK(0, "%s: bad line", path);
			continue;
		}
		obj = unhex(objhex, &objlen);
		if (!strcmp(kind, "str"))
			check_str(path, name, &o, obj, objlen, expect);
		else
			check_bytes(path, name, &o, obj, objlen, expect);
		free(obj);
		n++;
	}
	free(buf);
	fclose(fp);
	printf("%s: %d objects, %d failures\n", path, n, failed - fails_before);
	CHECK(n > 0, "%s: no objects", path);
	return n;
}

static void real_objects(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d) {
		CHECK(0, "opendir %s: %s", dir, strerror(errno));
		return;
	}
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		char path[PATH_MAX];

		if (strncmp(e->d_name, "pystr-", 6) || l < 5 || strcmp(e->d_name + l - 4, ".txt"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		run_file(path);
		n++;
	}
	closedir(d);
	CHECK(n >= 6, "expected object dumps for 3.8-3.13 in %s, found %d", dir, n);
}

/* ---- synthetic and garbage objects ------------------------------------ */

/* A compact str image for the 3.12 layout (ascii 40, compact 56). */
static size_t make_str(unsigned char *m, size_t cap, uint32_t state, int64_t length,
		       const void *data, size_t datalen, int ascii)
{
	size_t hdr = ascii ? 40 : 56;

	memset(m, 0, cap);
	memcpy(m + 16, &length, 8);
	memcpy(m + 32, &state, 4);
	if (hdr + datalen > cap)
		datalen = cap - hdr;
	memcpy(m + hdr, data, datalen);
	return hdr + datalen;
}

#define STATE(kind, compact, ascii) ((uint32_t)((kind) << 2 | (compact) << 5 | (ascii) << 6))

static void synthetic(void)
{
	struct py_offsets o, o11;
	unsigned char m[1024];
	char out[256];
	struct image im = { .base = BASE, .mem = m, .fail_after = -1 };
	unsigned char *bp;
	int r;

	py_offsets_for_version(3, 12, 1, &o);
	py_offsets_for_version(3, 11, 7, &o11);

	/* Arguments. */
	im.len = make_str(m, sizeof(m), STATE(1, 1, 1), 2, "hi", 2, 1);
	CHECK(pystr_read(&o, img_read, &im, BASE, out, 0) == -EINVAL, "outlen 0");
	CHECK(pystr_read(&o, img_read, &im, BASE, NULL, 5) == -EINVAL, "out NULL");
	CHECK(pystr_read(NULL, img_read, &im, BASE, out, 5) == -EINVAL, "o NULL");
	CHECK(pystr_read(&o, NULL, &im, BASE, out, 5) == -EINVAL, "rd NULL");
	CHECK(pystr_read(&o, img_read, &im, 0, out, 5) == -EFAULT, "addr 0");
	CHECK(pystr_read(&o, img_read, &im, BASE, out, 5) == 2 && !strcmp(out, "hi"), "hi");
	CHECK(pystr_read(&o, img_read, &im, BASE, out, 1) == 0 && !out[0], "outlen 1");
	CHECK(pystr_read(&o, bogus_read, NULL, BASE, out, 5) == -EIO, "reader returning > 0");
	CHECK(pystr_read(&o, img_read, &im, ~0ull - 8, out, 5) < 0, "address wrap");

	/* Garbage headers. */
	for (unsigned kind = 0; kind < 8; kind++) {
		uint32_t data[4] = { 'a', 'b', 'c', 'd' };
		int want_ok = kind == 1 || kind == 2 || kind == 4;

		im.len = make_str(m, sizeof(m), STATE(kind, 1, 0), 4, data, sizeof(data), 0);
		r = pystr_read(&o, img_read, &im, BASE, out, sizeof(out));
		CHECK(want_ok ? r > 0 : r == -EINVAL, "kind %u: %d", kind, r);
		im.len = make_str(m, sizeof(m), STATE(kind, 1, 1), 4, "abcd", 4, 1);
		r = pystr_read(&o, img_read, &im, BASE, out, sizeof(out));
		CHECK(kind == 1 ? r == 4 : r == -EINVAL, "ascii kind %u: %d", kind, r);
	}
	im.len = make_str(m, sizeof(m), STATE(1, 1, 1), -1, "abcd", 4, 1);
	CHECK(pystr_read(&o, img_read, &im, BASE, out, sizeof(out)) == -EINVAL, "negative length");
	im.len = make_str(m, sizeof(m), STATE(1, 0, 1), 4, "abcd", 4, 1);
	CHECK(pystr_read(&o, img_read, &im, BASE, out, sizeof(out)) == -ENOTSUP, "not compact");
	/* 3.11 legacy, not ready, wchar kind 0. */
	im.len = make_str(m, sizeof(m), 0, 4, "abcd", 4, 1);
	CHECK(pystr_read(&o11, img_read, &im, BASE, out, sizeof(out)) == -ENOTSUP, "3.11 legacy");

	/* Huge length: reads stop at the output size (or fail at the image end). */
	im.len = make_str(m, sizeof(m), STATE(1, 1, 1), INT64_MAX, "abcdefgh", 8, 1);
	im.bytes = 0;
	r = pystr_read(&o, img_read, &im, BASE, out, 8);
	CHECK(r == 7 && !strcmp(out, "abcdefg") && im.bytes < 64, "huge length, small out: %d", r);
	r = pystr_read(&o, img_read, &im, BASE, out, sizeof(out));
	CHECK(r == 255 || r == -EFAULT, "huge length, image ends: %d", r);
	CHECK(r >= 0 || out[0] == 0, "emptied on error");

	/* Non-ASCII bytes in an ASCII-flagged string become U+FFFD. */
	im.len = make_str(m, sizeof(m), STATE(1, 1, 1), 3, "a\x80z", 3, 1);
	r = pystr_read(&o, img_read, &im, BASE, out, sizeof(out));
	CHECK(r == 5 && !strcmp(out, "a\xef\xbf\xbdz"), "ascii high byte: %d", r);
	/* Invalid code points (> U+10FFFF, surrogates) in kind 4. */
	{
		uint32_t cps[] = { 0x110000, 0xd800, 0x41, 0xffffffff, 0x10ffff };

		im.len = make_str(m, sizeof(m), STATE(4, 1, 0), 5, cps, sizeof(cps), 0);
		r = pystr_read(&o, img_read, &im, BASE, out, sizeof(out));
		CHECK(r == 3 + 3 + 1 + 3 + 4 && valid_utf8((unsigned char *)out, (size_t)r) &&
			      !memcmp(out, "\xef\xbf\xbd\xef\xbf\xbd" "A\xef\xbf\xbd\xf4\x8f\xbf\xbf", 14),
		      "invalid code points: %d", r);
		/* truncation inside a multibyte character */
		r = pystr_read(&o, img_read, &im, BASE, out, 3);
		CHECK(r == 0 && out[0] == 0, "U+FFFD does not fit in 2: %d", r);
	}
	/* Reader failing midway through a long string. */
	{
		unsigned char big[56 + 4 * 600];
		uint32_t *cp = (uint32_t *)(big + 56);
		char large[4096];
		struct image bi = { .base = BASE, .mem = big, .len = sizeof(big), .fail_after = -1 };

		memset(big, 0, 56);
		for (int i = 0; i < 600; i++)
			cp[i] = 0x1f600;
		int64_t len = 600;
		uint32_t st = STATE(4, 1, 0);
		memcpy(big + 16, &len, 8);
		memcpy(big + 32, &st, 4);
		r = pystr_read(&o, img_read, &bi, BASE, large, sizeof(large));
		CHECK(r == 2400 && valid_utf8((unsigned char *)large, 2400), "600 emoji: %d", r);
		r = pystr_read(&o, img_read, &bi, BASE, large, 2399);
		CHECK(r == 2396, "600 emoji into 2398 bytes: %d", r);
		bi.reads = 0;
		bi.fail_after = 3; /* header (2 reads) + one data chunk */
		r = pystr_read(&o, img_read, &bi, BASE, large, sizeof(large));
		CHECK(r == -EIO && large[0] == 0, "reader fails midway: %d", r);
	}

	/* bytes */
	{
		unsigned char b[64] = { 0 };
		struct image bi = { .base = BASE, .mem = b, .len = sizeof(b), .fail_after = -1 };
		int64_t sz = -5;

		memcpy(b + 16, &sz, 8);
		bp = (unsigned char *)1;
		CHECK(pybytes_read(&o, img_read, &bi, BASE, 100, &bp) == -EINVAL && !bp, "negative size");
		sz = INT64_MAX;
		memcpy(b + 16, &sz, 8);
		r = pybytes_read(&o, img_read, &bi, BASE, 16, &bp);
		CHECK(r == 16 && bp, "huge size capped by max: %d", r);
		free(bp);
		r = pybytes_read(&o, img_read, &bi, BASE, 1000, &bp);
		CHECK(r == -EFAULT && !bp, "huge size past image: %d", r);
		CHECK(pybytes_read(&o, img_read, &bi, BASE, 10, NULL) == -EINVAL, "out NULL");
		CHECK(pybytes_read(&o, img_read, &bi, 0, 10, &bp) == -EFAULT, "addr 0");
		CHECK(pybytes_read(&o, bogus_read, NULL, BASE, 10, &bp) == -EIO, "bogus reader");
	}
}

CHECK_RNG(0x2545f4914f6cdd1dull);

/* Random images: whatever the header says, no crash, and valid UTF-8 out. */
static void garbage(void)
{
	struct py_offsets vers[5];
	long ok = 0, n = 0;

	for (unsigned v = 8; v <= 12; v++)
		py_offsets_for_version(3, v, 0, &vers[v - 8]);
	for (int it = 0; it < 100000; it++) {
		size_t len = next_rand() % 400, outlen = 1 + next_rand() % 300;
		unsigned char *m = malloc(len ? len : 1);
		char *out = malloc(outlen);
		struct image im = { .base = BASE, .mem = m, .len = len, .fail_after = -1 };
		const struct py_offsets *o = &vers[next_rand() % 5];
		unsigned char *bp = NULL;
		int r;

		for (size_t i = 0; i < len; i++)
			m[i] = (unsigned char)next_rand();
		if (len >= 40 && next_rand() % 2) {
			/* plausible header: compact, kind 1/2/4, small length */
			uint32_t st = STATE(1u << (next_rand() % 3), 1, 0);
			int64_t l = (int64_t)(next_rand() % 1000);

			if (!(next_rand() % 3))
				st |= 1u << 6;
			memcpy(m + 32, &st, 4);
			memcpy(m + 16, &l, 8);
		}
		r = pystr_read(o, img_read, &im, BASE, out, outlen);
		n++;
		ok += (r < 0 && out[0] == 0) ||
		      (r >= 0 && (size_t)r < outlen && out[r] == 0 && valid_utf8((unsigned char *)out, (size_t)r));
		r = pybytes_read(o, img_read, &im, BASE, next_rand() % 2000, &bp);
		n++;
		ok += (r < 0 && !bp) || (r >= 0 && bp);
		free(bp);
		free(out);
		free(m);
	}
	CHECK(ok == n, "garbage images: %ld/%ld sane", ok, n);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/unit/data";

	real_objects(dir);
	synthetic();
	garbage();
	return CHECK_SUMMARY();
}

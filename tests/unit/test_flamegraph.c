// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit test for the SVG flame graph writer: merging, escaping of hostile
 * names, deep stacks, empty input and large inputs. Every SVG is checked for
 * XML well-formedness in process and, when it is installed, by xmllint too,
 * because a file a browser refuses to open is the failure that matters.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/folded.h"
#include "output/flamegraph.h"

#include "check.h"

/* A folded stack and its weight, as these tests write their input. */
struct stack_count {
	const char *stack;
	unsigned long long count;
};

CHECK_COUNTERS;

struct svg {
	char *p;
	size_t len;
	int err;
};

/* The folded stacks read into a typed profile, as pyrograph diff reads a file. */
static struct svg render(const struct stack_count *s, size_t n, const struct flamegraph_opts *o)
{
	struct svg out = {0};
	FILE *f = open_memstream(&out.p, &out.len);
	struct frame_table ft;
	struct profile p;
	struct folded_buf b = {0};

	if (!f) {
		perror("open_memstream");
		exit(2);
	}
	frames_init(&ft);
	profile_init(&p, &ft);
	for (size_t i = 0; i < n; i++) {
		const char *t = s[i].stack ? s[i].stack : "";

		if (folded_add(&p, t, strlen(t), s[i].count, 1, &b)) {
			fprintf(stderr, "folded_add: out of memory\n");
			exit(2);
		}
	}
	out.err = flamegraph_write(f, &p, o);
	fclose(f);
	folded_buf_free(&b);
	profile_free(&p);
	frames_free(&ft);
	return out;
}

/*
 * A plain scan rather than repeated strstr(): ASan's strstr() measures the
 * whole remaining haystack on every call, which made the 100000-deep SVG
 * quadratic (minutes) under the sanitizer build.
 */
static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0, l = strlen(needle);

	for (; *hay; hay++) {
		if (*hay == needle[0] && !strncmp(hay, needle, l)) {
			n++;
			hay += l - 1;
		}
	}
	return n;
}

/* The label drawn for the first frame whose title starts with @name, or NULL. */
static char *label_of(const char *svg, const char *name)
{
	static char label[4096];
	char needle[256];
	const char *t, *e;

	snprintf(needle, sizeof(needle), "<title>%s", name);
	t = strstr(svg, needle);
	t = t ? strstr(t, "<text") : NULL;
	t = t ? strchr(t, '>') : NULL;
	e = t ? strstr(t, "</text>") : NULL;
	if (!e || (size_t)(e - t) > sizeof(label))
		return NULL;
	memcpy(label, t + 1, (size_t)(e - t - 1));
	label[e - t - 1] = '\0';
	return label;
}

static int valid_utf8_xml_chars(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		unsigned int cp, need, k;

		if (c < 0x80) {
			if (c < 0x20 && c != '\n' && c != '\t' && c != '\r')
				return 0;
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
		if (i + need >= len)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
			return 0;
		i += need + 1;
	}
	return 1;
}

static int entity_ok(const char *p)
{
	static const char *const named[] = { "amp;", "lt;", "gt;", "quot;", "apos;" };
	size_t i;

	for (i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (!strncmp(p + 1, named[i], strlen(named[i])))
			return 1;
	return p[1] == '#';
}

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == ':' || c == '-' || c == '_' || c == '.';
}

/*
 * A small well-formedness checker: balanced tags, quoted attributes, no stray
 * '<' or '&', one root element. It does not replace xmllint but runs everywhere.
 */
static const char *xml_problem(const char *s)
{
	static char names[64][32];
	int sp = 0, roots = 0;
	const char *p = s;

	while (*p) {
		if (!strncmp(p, "<?", 2)) {
			p = strstr(p, "?>");
			if (!p)
				return "unterminated processing instruction";
			p += 2;
		} else if (!strncmp(p, "<![CDATA[", 9)) {
			p = strstr(p, "]]>");
			if (!p)
				return "unterminated CDATA";
			p += 3;
		} else if (!strncmp(p, "<!--", 4)) {
			p = strstr(p, "-->");
			if (!p)
				return "unterminated comment";
			p += 3;
		} else if (!strncmp(p, "</", 2)) {
			size_t n = 0;

			p += 2;
			while (name_char(p[n]))
				n++;
			if (!sp || strlen(names[sp - 1]) != n || strncmp(names[sp - 1], p, n))
				return "mismatched end tag";
			sp--;
			p += n;
			if (*p != '>')
				return "bad end tag";
			p++;
		} else if (*p == '<') {
			size_t n = 0;

			p++;
			while (name_char(p[n]))
				n++;
			if (!n || n >= sizeof(names[0]))
				return "bad tag name";
			if (sp == 0 && roots++)
				return "more than one root element";
			if (sp >= 64)
				return "nesting too deep for the checker";
			memcpy(names[sp], p, n);
			names[sp][n] = '\0';
			sp++;
			p += n;
			for (;;) {
				while (*p == ' ' || *p == '\n')
					p++;
				if (*p == '>') {
					p++;
					break;
				}
				if (p[0] == '/' && p[1] == '>') {
					sp--;
					p += 2;
					break;
				}
				n = 0;
				while (name_char(p[n]))
					n++;
				if (!n || p[n] != '=' || (p[n + 1] != '"' && p[n + 1] != '\''))
					return "bad attribute";
				{
					char q = p[n + 1];

					p += n + 2;
					while (*p && *p != q) {
						if (*p == '<')
							return "'<' in attribute value";
						if (*p == '&' && !entity_ok(p))
							return "bad entity in attribute";
						p++;
					}
					if (!*p)
						return "unterminated attribute";
					p++;
				}
			}
		} else {
			if (*p == '&' && !entity_ok(p))
				return "bad entity in text";
			if (!strncmp(p, "]]>", 3))
				return "']]>' in text";
			if (sp == 0 && *p != '\n' && *p != ' ')
				return "text outside the root element";
			p++;
		}
	}
	return sp ? "unclosed element" : roots == 1 ? NULL : "no root element";
}

static int have_xmllint(void)
{
	static int have = -1;

	if (have < 0)
		have = system("command -v xmllint >/dev/null 2>&1") == 0;
	return have;
}

static int xmllint_ok(const struct svg *svg)
{
	char path[] = "/tmp/test_flamegraph_XXXXXX";
	char cmd[128];
	int fd = mkstemp(path), rc;

	if (fd < 0 || write(fd, svg->p, svg->len) != (ssize_t)svg->len) {
		perror("temp file");
		exit(2);
	}
	close(fd);
	snprintf(cmd, sizeof(cmd), "xmllint --noout --huge %s", path);
	rc = system(cmd);
	unlink(path);
	return rc == 0;
}

static void check_wellformed(const char *what, const struct svg *svg)
{
	const char *why;

	CHECK(svg->err == 0, "%s: flamegraph_write returned %d", what, svg->err);
	CHECK(svg->p && svg->len == strlen(svg->p), "%s: output has a NUL byte", what);
	CHECK(valid_utf8_xml_chars((const unsigned char *)svg->p, svg->len),
	      "%s: output is not valid UTF-8 XML characters", what);
	why = xml_problem(svg->p);
	CHECK(why == NULL, "%s: not well-formed: %s", what, why);
	CHECK(strstr(svg->p, "<svg ") && strstr(svg->p, "</svg>\n"), "%s: not an SVG", what);
	if (have_xmllint())
		CHECK(xmllint_ok(svg), "%s: xmllint rejected the output", what);
}

static void test_merge(void)
{
	/* Unsorted, with a duplicate stack and an empty frame that must merge away. */
	const struct stack_count in[] = {
		{ "main;work;inner", 5 }, { "idle", 10 }, { "main;work", 3 },
		{ "main;;work;inner", 2 }, { "main;other", 1 }, { "main;zero", 0 },
	};
	const struct stack_count rev[] = { in[5], in[4], in[3], in[2], in[1], in[0] };
	const struct flamegraph_opts o = { "pyrograph record", "21 samples, 1 process", "samples" };
	struct svg a = render(in, 6, &o), b = render(rev, 6, &o);

	check_wellformed("merge", &a);
	CHECK(strstr(a.p, "<title>all (21 samples, 100.00%)</title>"), "root total");
	CHECK(strstr(a.p, "<title>main (11 samples, 52.38%)</title>"), "main total");
	CHECK(strstr(a.p, "<title>work (10 samples, 47.62%)</title>"), "merged work");
	CHECK(count_of(a.p, "<title>work (") == 1, "work drawn once");
	CHECK(strstr(a.p, "<title>inner (7 samples, 33.33%)</title>"), "duplicates merged");
	CHECK(strstr(a.p, "<title>idle (10 samples, 47.62%)</title>"), "idle");
	CHECK(strstr(a.p, "<title>other (1 samples, 4.76%)</title>"), "other");
	CHECK(!strstr(a.p, "zero"), "zero-count stack drawn");
	CHECK(strstr(a.p, ">pyrograph record</text>") && strstr(a.p, ">21 samples, 1 process</text>"),
	      "title and subtitle");
	CHECK(count_of(a.p, "<g class=\"f\"") == 6, "6 frames, got %zu", count_of(a.p, "<g class=\"f\""));
	CHECK(a.len == b.len && !memcmp(a.p, b.p, a.len), "output depends on input order");
	CHECK(strstr(a.p, "width=\"1200\""), "width 1200");
	CHECK(strstr(a.p, "function search(term)") && strstr(a.p, "data-match") &&
	      strstr(a.p, "URLSearchParams") && strstr(a.p, "Reset Zoom"), "script and controls");
	/* Flame orientation: the root is the lowest frame. */
	{
		const char *r = strstr(a.p, "id=\"root\""), *m = strstr(a.p, "<title>main (");
		int ry = -1, my = -1;

		if (r && (r = strstr(r, " y=\"")))
			ry = atoi(r + 4);
		if (m && (m = strstr(m, " y=\"")))
			my = atoi(m + 4);
		CHECK(ry > my && my > 0, "root y %d should be below main y %d", ry, my);
	}
	free(a.p);
	free(b.p);
}

static void test_escaping(void)
{
	char n1[] = "<script>alert(\"x\" & 'y')</script>;fn";
	char n2[] = "bad\xff\xfe name;over\xc0\xaflong;surr\xed\xa0\x80x;cut\xe2\x82";
	char n3[] = "ctl\x01\x1b\x7f\tx;c1\xc2\x85y;nonchar\xef\xbf\xbfz;ok \xc3\xa9\xe2\x82\xac\xf0\x9f\x90\x8d";
	char t[] = "title <&>\"' \xff";
	char u[] = "sam<ples>";
	char copy1[sizeof(n1)], copy2[sizeof(n2)], copy3[sizeof(n3)];
	const struct stack_count in[] = { { n1, 3 }, { n2, 2 }, { n3, 1 } };
	const struct flamegraph_opts o = { t, "sub & \x01", u };
	struct svg s;

	memcpy(copy1, n1, sizeof(n1));
	memcpy(copy2, n2, sizeof(n2));
	memcpy(copy3, n3, sizeof(n3));
	s = render(in, 3, &o);
	check_wellformed("escaping", &s);
	CHECK(!memcmp(copy1, n1, sizeof(n1)) && !memcmp(copy2, n2, sizeof(n2)) &&
	      !memcmp(copy3, n3, sizeof(n3)), "input modified");
	CHECK(strstr(s.p, "<title>&lt;script&gt;alert(&quot;x&quot; &amp; &apos;y&apos;)&lt;/script&gt; (3 sam&lt;ples&gt;, 50.00%)</title>"),
	      "escaped name and unit");
	CHECK(!strstr(s.p, "<script>alert"), "raw markup leaked");
	CHECK(strstr(s.p, ">title &lt;&amp;&gt;&quot;&apos; \xef\xbf\xbd</text>"), "escaped title");
	CHECK(strstr(s.p, ">sub &amp; </text>"), "subtitle control char dropped");
	CHECK(strstr(s.p, "<title>bad\xef\xbf\xbd\xef\xbf\xbd name ("), "invalid bytes replaced");
	CHECK(strstr(s.p, "<title>over\xef\xbf\xbd\xef\xbf\xbdlong ("), "overlong replaced");
	CHECK(strstr(s.p, "<title>surr\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx ("), "surrogate replaced");
	CHECK(strstr(s.p, "<title>cut\xef\xbf\xbd\xef\xbf\xbd ("), "truncated sequence replaced");
	CHECK(strstr(s.p, "<title>ctlx ("), "control characters dropped");
	CHECK(strstr(s.p, "<title>c1y ("), "C1 control dropped");
	CHECK(strstr(s.p, "<title>nonchar\xef\xbf\xbdz ("), "U+FFFF replaced");
	CHECK(strstr(s.p, "<title>ok \xc3\xa9\xe2\x82\xac\xf0\x9f\x90\x8d ("), "valid UTF-8 kept");
	free(s.p);
}

static void test_deep(size_t depth)
{
	size_t i, len = 0, cap = depth * 8 + 16;
	char *stack = malloc(cap), what[64], needle[64];
	struct stack_count in[2];
	struct svg s;

	for (i = 0; i < depth; i++)
		len += (size_t)snprintf(stack + len, cap - len, "%sf%zu", i ? ";" : "", i);
	in[0] = (struct stack_count){ stack, 7 };
	in[1] = (struct stack_count){ "f0;f1;side", 3 };
	s = render(in, 2, NULL);
	snprintf(what, sizeof(what), "deep %zu", depth);
	check_wellformed(what, &s);
	snprintf(needle, sizeof(needle), "<title>f%zu (7 samples, 70.00%%)</title>", depth - 1);
	CHECK(strstr(s.p, needle), "%s: deepest frame missing", what);
	CHECK(strstr(s.p, "<title>f1 (10 samples, 100.00%)</title>"), "%s: shared prefix", what);
	CHECK(count_of(s.p, "<g class=\"f\"") == depth + 2, "%s: frame count %zu", what,
	      count_of(s.p, "<g class=\"f\""));
	snprintf(needle, sizeof(needle), " height=\"%zu\"", 36 + (depth + 1) * 16 + 34);
	CHECK(strstr(s.p, needle), "%s: height", what);
	free(s.p);
	free(stack);
}

static void test_empty(void)
{
	const struct stack_count zero[] = { { "a;b", 0 } };
	const struct flamegraph_opts o = { "empty", NULL, "samples" };
	struct svg a = render(NULL, 0, &o), b = render(zero, 1, NULL);

	check_wellformed("no stacks", &a);
	check_wellformed("zero counts", &b);
	CHECK(strstr(a.p, ">no samples</text>") && strstr(b.p, ">no samples</text>"), "no samples text");
	CHECK(!strstr(a.p, "<g class=\"f\""), "frames drawn for empty input");
	CHECK(strstr(a.p, "function search(term)"), "script present even when empty");
	free(a.p);
	free(b.p);
}

/* 10,000 distinct leaves under a few modules: most are too narrow to draw. */
static void test_many_leaves(void)
{
	enum { N = 10000 };
	struct stack_count *in = calloc(N, sizeof(*in));
	char (*names)[64] = calloc(N, sizeof(*names));
	unsigned long long total = 0;
	struct svg s;
	size_t i, frames;

	for (i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "main (app.py:1);mod%zu (m.py:2);leaf_%zu (x.py:%zu)",
			 i % 50, i, i);
		in[i].stack = names[i];
		in[i].count = i % 100 == 0 ? 200 : 1 + i % 7; /* a few heavy leaves */
		total += in[i].count;
	}
	s = render(in, N, &(struct flamegraph_opts){ "many", NULL, "samples" });
	check_wellformed("10000 leaves", &s);
	frames = count_of(s.p, "<g class=\"f\"");
	/* root + main + 50 modules + only the 100 heavy leaves clear 0.1% */
	CHECK(frames == 152, "drawn frames %zu", frames);
	CHECK(s.len < 200 * 1024, "size %zu", s.len);
	CHECK(strstr(s.p, "<title>leaf_0 (x.py:0) (200 samples"), "heavy leaf drawn");
	CHECK(!strstr(s.p, "<title>leaf_1 (x.py:1) ("), "narrow leaf drawn");
	{
		char needle[64];

		snprintf(needle, sizeof(needle), "<title>all (%llu samples, 100.00%%)", total);
		CHECK(strstr(s.p, needle), "omitted frames must stay in the total");
	}
	free(s.p);
	free(in);
	free(names);
}

/* 10,000 distinct frames that are all wide enough: 100 chains of 100. */
static void test_many_drawn(void)
{
	enum { CHAINS = 100, DEPTH = 100 };
	struct stack_count in[CHAINS];
	char *bufs[CHAINS];
	struct svg s;
	size_t i, j, frames;

	for (i = 0; i < CHAINS; i++) {
		size_t len = 0, cap = DEPTH * 48;

		bufs[i] = malloc(cap);
		for (j = 0; j < DEPTH; j++)
			len += (size_t)snprintf(bufs[i] + len, cap - len, "%sfunction_%zu_%zu (/srv/app/module_%zu.py:%zu)",
						j ? ";" : "", i, j, i, j);
		/* One wide chain, one medium (cut labels), the rest narrow (no labels). */
		in[i] = (struct stack_count){ bufs[i], i == CHAINS - 1 ? 5000 : i == CHAINS - 2 ? 300 : 10 };
	}
	s = render(in, CHAINS, &(struct flamegraph_opts){ "drawn", NULL, "samples" });
	check_wellformed("10000 drawn", &s);
	frames = count_of(s.p, "<g class=\"f\"");
	CHECK(frames == CHAINS * DEPTH + 1, "drawn frames %zu", frames);
	CHECK(s.len < 4 * 1024 * 1024, "size %zu", s.len);
	CHECK(strstr(s.p, ">function_99_0 (/srv/app/module_99.py:0)</text>"), "wide label whole");
	/* 300/6280 of 1180px = 56.4px: 6 characters, 4 + "..". */
	CHECK(count_of(s.p, ">func..</text>") == DEPTH, "medium labels cut: %zu", count_of(s.p, ">func..</text>"));
	CHECK(label_of(s.p, "function_0_0 ") && !*label_of(s.p, "function_0_0 "), "label in a 1.9px frame");
	for (i = 0; i < CHAINS; i++)
		free(bufs[i]);
	free(s.p);
}

static void test_label_truncation(void)
{
	const struct stack_count in[] = {
		{ "short", 500 },
		{ "a_very_long_function_name_that_cannot_fit_in_its_frame (/usr/lib/python3.11/x.py:1)", 40 },
		{ "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 6 },
		{ "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc"
		  "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc", 21 },
	};
	struct svg s = render(in, 4, NULL);
	const char *t;

	check_wellformed("labels", &s);
	CHECK(strstr(s.p, ">short</text>"), "short label whole");
	/* 40/567 of 1180px = 83.2px: (83.2 - 6) / 7.2 = 10 characters, 8 + "..". */
	CHECK(strstr(s.p, ">a_very_l..</text>"), "long label cut");
	/* 21/567 of 1180px = 43.7px: 5 characters, cut on code points, not bytes. */
	CHECK(strstr(s.p, ">\xc3\xbc\xc3\xbc\xc3\xbc..</text>"), "multibyte label cut");
	/* 6/567 of 1180px = 12.5px: too narrow for any label. */
	t = label_of(s.p, "\xc3\xa9");
	CHECK(t && !*t, "narrow frame unlabelled");
	free(s.p);
}

static void test_long_name(void)
{
	size_t n = 100000;
	char *name = malloc(n + 1);
	struct stack_count in[1];
	struct svg s;

	memset(name, 'x', n);
	name[n] = '\0';
	in[0] = (struct stack_count){ name, 1 };
	s = render(in, 1, NULL);
	check_wellformed("long name", &s);
	CHECK(s.len < 20000, "long names must be capped in the output, size %zu", s.len);
	CHECK(strstr(s.p, "xx.. (1 samples"), "capped name marked");
	free(s.p);
	free(name);
}

/* Absurd counts saturate instead of wrapping; odd entries still count in the root. */
static void test_odd_inputs(void)
{
	const struct stack_count in[] = {
		{ "a;b", ~0ULL - 1 }, { "a;c", 5 }, { "d", 10 }, { NULL, 3 }, { ";;;", 4 },
	};
	const struct stack_count small[] = { { NULL, 3 }, { "", 4 }, { "x", 1 } };
	struct svg s = render(in, 5, &(struct flamegraph_opts){ NULL, NULL, NULL });
	struct svg t = render(small, 3, NULL);

	check_wellformed("saturated counts", &s);
	CHECK(strstr(s.p, "<title>all (18446744073709551615 samples, 100.00%)</title>"), "saturated root");
	CHECK(strstr(s.p, ">Flame Graph</text>"), "default title");
	check_wellformed("NULL and empty stacks", &t);
	CHECK(strstr(t.p, "<title>all (8 samples, 100.00%)</title>"), "NULL/empty stacks count in root");
	CHECK(strstr(t.p, "<title>x (1 samples, 12.50%)</title>"), "x");
	free(s.p);
	free(t.p);
}

static void test_errors(void)
{
	struct frame_table ft;
	struct profile p;
	struct folded_buf b = {0};
	FILE *ro = fopen("/dev/null", "r");

	frames_init(&ft);
	profile_init(&p, &ft);
	CHECK(!folded_add(&p, "a;b", 3, 1, 1, &b), "folded_add");
	CHECK(flamegraph_write(NULL, &p, NULL) == -EINVAL, "NULL file");
	CHECK(flamegraph_write(stderr, NULL, NULL) == -EINVAL, "NULL profile");
	if (ro) {
		CHECK(flamegraph_write(ro, &p, NULL) == -EIO, "write error not reported");
		fclose(ro);
	}
	folded_buf_free(&b);
	profile_free(&p);
	frames_free(&ft);
}

int main(void)
{
	if (!have_xmllint())
		fprintf(stderr, "note: xmllint not found (apt-get install libxml2-utils); in-process check only\n");
	test_merge();
	test_escaping();
	test_deep(3000);
	test_deep(100000);
	test_empty();
	test_many_leaves();
	test_many_drawn();
	test_label_truncation();
	test_long_name();
	test_odd_inputs();
	test_errors();
	return CHECK_SUMMARY();
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Interactive SVG flame graph writer, in the spirit of flamegraph.pl but
 * without Perl: the folded stacks are merged into a tree, laid out with the
 * root at the bottom and written as one self-contained SVG.
 *
 * The stacks can be thousands of frames deep (deep recursion in the target,
 * or a truncated walk), so nothing here recurses on the tree: layout uses an
 * explicit stack, and children are found through one sorted array.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "output/flamegraph.h"
#include "model/frames.h"

#define FG_WIDTH	1200
#define FG_XPAD		10
#define FG_FRAME_H	16
#define FG_FONT_SIZE	12
/* 0.6em is the advance of the usual monospace fonts (DejaVu Sans Mono, Menlo, Consolas). */
#define FG_CHAR_W	(0.6 * FG_FONT_SIZE)
/* Narrower frames are unreadable and would bloat big profiles; their weight stays in the parent. */
#define FG_MIN_FRAC	0.001
/* A frame name is displayed up to this many input bytes; merging always uses the full name. */
#define FG_NAME_MAX	1024
#define FG_YPAD_TOP	36
#define FG_YPAD_SUB	18
#define FG_YPAD_BOTTOM	34
#define FG_NONE		UINT32_MAX

struct fg_node {
	const char *name; /* points into the caller's string: inputs are never copied or changed */
	size_t len;
	unsigned long long count;
	uint32_t parent;
	uint32_t hash;
};

struct fg_tree {
	struct fg_node *nodes;
	uint32_t nr;
	uint32_t cap;
	uint32_t *slots; /* open addressing: (parent, name) -> node index */
	uint32_t nslots; /* power of two, kept at most half full */
};

/* One entry per non-root node, sorted so that each node's children are adjacent and ordered. */
struct fg_kid {
	const char *name;
	size_t len;
	uint32_t parent;
	uint32_t id;
};

struct fg_buf {
	char *p;
	size_t len;
	size_t cap;
};

static unsigned long long sat_add(unsigned long long a, unsigned long long b)
{
	return a + b < a ? ~0ULL : a + b;
}

static uint32_t fnv1a(const char *s, size_t len, uint32_t h)
{
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static uint32_t node_hash(uint32_t parent, const char *name, size_t len)
{
	uint32_t h = fnv1a((const char *)&parent, sizeof(parent), 2166136261u);

	return fnv1a(name, len, h);
}

static int tree_add_node(struct fg_tree *t, const char *name, size_t len, uint32_t parent,
			 uint32_t hash)
{
	if (t->nr == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 256;
		struct fg_node *nodes;

		if (t->cap >= UINT32_MAX / 4)
			return -E2BIG;
		nodes = realloc(t->nodes, cap * sizeof(*nodes));
		if (!nodes)
			return -ENOMEM;
		t->nodes = nodes;
		t->cap = cap;
	}
	t->nodes[t->nr++] = (struct fg_node){
		.name = name, .len = len, .count = 0, .parent = parent, .hash = hash,
	};
	return 0;
}

static int tree_rehash(struct fg_tree *t, uint32_t nslots)
{
	uint32_t *slots, i, mask = nslots - 1;

	slots = malloc((size_t)nslots * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	memset(slots, 0xff, (size_t)nslots * sizeof(*slots));
	/* Node 0 is the root, which has no parent and never needs looking up. */
	for (i = 1; i < t->nr; i++) {
		uint32_t s = t->nodes[i].hash & mask;

		while (slots[s] != FG_NONE)
			s = (s + 1) & mask;
		slots[s] = i;
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = nslots;
	return 0;
}

/* Returns the index of child @name of @parent, creating it; negative errno on failure. */
static int64_t tree_child(struct fg_tree *t, uint32_t parent, const char *name, size_t len)
{
	uint32_t h = node_hash(parent, name, len), mask, s;
	int err;

	if ((uint64_t)(t->nr + 1) * 2 > t->nslots) {
		if (t->nslots >= (1u << 31))
			return -E2BIG;
		err = tree_rehash(t, t->nslots ? t->nslots * 2 : 1024);
		if (err)
			return err;
	}
	mask = t->nslots - 1;
	for (s = h & mask; t->slots[s] != FG_NONE; s = (s + 1) & mask) {
		const struct fg_node *n = &t->nodes[t->slots[s]];

		if (n->hash == h && n->parent == parent && n->len == len &&
		    memcmp(n->name, name, len) == 0)
			return t->slots[s];
	}
	err = tree_add_node(t, name, len, parent, h);
	if (err)
		return err;
	t->slots[s] = t->nr - 1;
	return t->nr - 1;
}

static int tree_build(struct fg_tree *t, const struct stack_count *stacks, size_t n)
{
	size_t i;
	int err;

	err = tree_add_node(t, "all", 3, FG_NONE, 0);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		const char *s = stacks[i].stack, *e;
		unsigned long long c = stacks[i].count;
		uint32_t cur = 0;

		if (!c)
			continue;
		t->nodes[0].count = sat_add(t->nodes[0].count, c);
		if (!s)
			continue;
		for (; *s; s = *e ? e + 1 : e) {
			int64_t id;

			for (e = s; *e && *e != ';'; e++)
				;
			if (e == s)
				continue; /* "a;;b": an empty frame carries no information */
			id = tree_child(t, cur, s, (size_t)(e - s));
			if (id < 0)
				return (int)id;
			cur = (uint32_t)id;
			t->nodes[cur].count = sat_add(t->nodes[cur].count, c);
		}
	}
	return 0;
}

/*
 * Differential graphs: the before-counts of every node of the after-tree,
 * by walking the base stacks through it. A path only the base has becomes a
 * node of count 0 (never drawn). Two passes: the first adds the missing
 * nodes, so the array can be sized once and filled by the second.
 */
static int tree_base(struct fg_tree *t, const struct stack_count *stacks, size_t n,
		     double **out)
{
	double *base = NULL;

	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			base = calloc(t->nr, sizeof(*base));
			if (!base)
				return -ENOMEM;
		}
		for (size_t i = 0; i < n; i++) {
			const char *s = stacks[i].stack, *e;
			uint32_t cur = 0;

			if (!stacks[i].count || !s)
				continue;
			if (pass == 1)
				base[0] += (double)stacks[i].count;
			for (; *s; s = *e ? e + 1 : e) {
				int64_t id;

				for (e = s; *e && *e != ';'; e++)
					;
				if (e == s)
					continue;
				id = tree_child(t, cur, s, (size_t)(e - s));
				if (id < 0) {
					free(base);
					return (int)id;
				}
				cur = (uint32_t)id;
				if (pass == 1 && cur < t->nr)
					base[cur] += (double)stacks[i].count;
			}
		}
	}
	*out = base;
	return 0;
}

static int kid_cmp(const void *a, const void *b)
{
	const struct fg_kid *x = a, *y = b;
	size_t len = x->len < y->len ? x->len : y->len;
	int r;

	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	r = memcmp(x->name, y->name, len);
	if (r)
		return r;
	return x->len < y->len ? -1 : x->len > y->len;
}

static int buf_reserve(struct fg_buf *b, size_t extra)
{
	char *p;
	size_t cap;

	if (b->len + extra <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

/*
 * Copies @s into @b as text that is always valid in XML: each byte that is
 * not part of well-formed UTF-8 becomes U+FFFD, control characters (C0, DEL,
 * C1) are dropped, and U+FFFE/U+FFFF (not XML characters) become U+FFFD.
 * Frame names come from target memory and binaries, so any byte is possible.
 * Returns the number of code points written.
 */
static size_t sanitize(struct fg_buf *b, const char *str, size_t len)
{
	static const char repl[] = "\xef\xbf\xbd";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, ncp = 0;
	int cut = len > FG_NAME_MAX;

	if (cut)
		len = FG_NAME_MAX;
	b->len = 0;
	/* Worst case every byte becomes a 3-byte U+FFFD; the caller checked the reservation. */
	while (i < len) {
		unsigned char c = s[i];
		uint32_t cp, min;
		size_t need, k;

		if (c < 0x80) {
			if (c >= 0x20 && c != 0x7f) {
				b->p[b->len++] = (char)c;
				ncp++;
			}
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3, cp = c & 0x07, min = 0x10000;
		} else {
			goto bad;
		}
		if (i + need >= len)
			goto bad;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				goto bad;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		if (cp >= 0x80 && cp <= 0x9f) {
			i += need + 1;
			continue;
		}
		if (cp == 0xfffe || cp == 0xffff) {
			memcpy(b->p + b->len, repl, 3);
			b->len += 3;
		} else {
			memcpy(b->p + b->len, s + i, need + 1);
			b->len += need + 1;
		}
		i += need + 1;
		ncp++;
		continue;
bad:
		memcpy(b->p + b->len, repl, 3);
		b->len += 3;
		i++;
		ncp++;
	}
	if (cut) {
		memcpy(b->p + b->len, "..", 2);
		b->len += 2;
		ncp += 2;
	}
	return ncp;
}

static void put_escaped(FILE *f, const char *s, size_t len)
{
	size_t i, start = 0;

	for (i = 0; i < len; i++) {
		const char *rep;

		switch (s[i]) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&apos;";
			break;
		default:
			continue;
		}
		fwrite(s + start, 1, i - start, f);
		fputs(rep, f);
		start = i + 1;
	}
	fwrite(s + start, 1, len - start, f);
}

/* Sanitized and escaped; @b is scratch space. */
static int put_text(FILE *f, struct fg_buf *b, const char *s, size_t len)
{
	int err = buf_reserve(b, 3 * (len < FG_NAME_MAX ? len : FG_NAME_MAX) + 8);

	if (err)
		return err;
	sanitize(b, s, len);
	put_escaped(f, b->p, b->len);
	return 0;
}

/*
 * Deterministic per-name colour so the same function keeps its colour across
 * profiles; the hue tells apart the user's code (red-yellow), third-party
 * packages (teal), the standard library (olive), native code (blue), the
 * kernel (orange) and synthetic frames such as [sleep] (grey).
 */
static void frame_color(const char *name, size_t len, int rgb[3])
{
	uint32_t h = fnv1a(name, len, 2166136261u);
	double v1 = (h & 0xff) / 255.0, v2 = (h >> 8 & 0xff) / 255.0, v3 = (h >> 16 & 0xff) / 255.0;
	struct frame_parts fp;

	frame_parse(name, len, false, &fp);
	if (fp.kind == FRAME_SYNTHETIC) {
		rgb[0] = 175 + (int)(35 * v1);
		rgb[1] = rgb[0];
		rgb[2] = rgb[0] + 8;
	} else if (fp.kind == FRAME_KERNEL) {
		rgb[0] = 230 + (int)(25 * v1);
		rgb[1] = 120 + (int)(50 * v2);
		rgb[2] = 20 + (int)(30 * v3);
	} else if (fp.kind == FRAME_NATIVE) {
		rgb[0] = 90 + (int)(50 * v1);
		rgb[1] = 130 + (int)(50 * v1);
		rgb[2] = 210 + (int)(40 * v2);
	} else if (frame_origin(fp.file, fp.file_len) == ORIGIN_THIRD_PARTY) {
		rgb[0] = 50 + (int)(60 * v1);
		rgb[1] = 165 + (int)(55 * v2);
		rgb[2] = 165 + (int)(55 * v2);
	} else if (frame_origin(fp.file, fp.file_len) == ORIGIN_STDLIB) {
		/* also /usr/local and pyenv installs of the stdlib */
		rgb[0] = 175 + (int)(55 * v1);
		rgb[1] = rgb[0];
		rgb[2] = 50 + (int)(20 * v2);
	} else {
		rgb[0] = 205 + (int)(50 * v3);
		rgb[1] = (int)(230 * v1);
		rgb[2] = (int)(55 * v2);
	}
}

/* Byte length of the first @ncp code points of valid UTF-8. */
static size_t utf8_prefix(const char *s, size_t len, size_t ncp)
{
	size_t i = 0;

	while (i < len && ncp) {
		i++;
		while (i < len && ((unsigned char)s[i] & 0xc0) == 0x80)
			i++;
		ncp--;
	}
	return i;
}

static const char fg_style[] =
	"text { font-family: ui-monospace, \"DejaVu Sans Mono\", Menlo, Consolas, \"Liberation Mono\", monospace;"
	" font-size: 12px; fill: rgb(0,0,0); }\n"
	"#title { text-anchor: middle; font-size: 17px; }\n"
	"#subtitle { text-anchor: middle; fill: rgb(90,90,90); }\n"
	"#nosamples { text-anchor: middle; font-size: 14px; fill: rgb(90,90,90); }\n"
	"#search, #matched { text-anchor: end; }\n"
	"#search, #unzoom { cursor: pointer; }\n"
	"#search:hover, #unzoom:hover { text-decoration: underline; }\n"
	"#unzoom.inactive { opacity: 0.25; cursor: default; text-decoration: none; }\n"
	".f { cursor: pointer; }\n"
	".f:hover rect { stroke: rgb(0,0,0); stroke-width: 0.5; }\n"
	".f text { pointer-events: none; }\n"
	".hide { display: none; }\n"
	".parent { opacity: 0.5; }\n";

/*
 * Frames are laid out once in C; the script keeps each frame's original
 * geometry and recomputes positions from it on zoom. The name and count are
 * read back from the <title> so they are not stored twice in big files.
 */
static const char *const fg_script[] = {
	"\"use strict\";\n"
	"var svg, fg_frames = [], root = null, details, matchedtext, searchbtn, unzoombtn;\n"
	"var total = 0, fullw = 0, xpad = 10, charw = 7.2, searching = false, zoomed = null;\n"
	"var matchcolor = \"rgb(230,0,230)\";\n"
	"var titlere = /^([\\s\\S]*) \\((\\d+) [\\s\\S]*?, ([0-9.]+)%\\)$/;\n"
	"\n",
	"function init(evt) {\n"
	"\tsvg = document.documentElement;\n"
	"\tdetails = document.getElementById(\"details\");\n"
	"\tmatchedtext = document.getElementById(\"matched\");\n"
	"\tsearchbtn = document.getElementById(\"search\");\n"
	"\tunzoombtn = document.getElementById(\"unzoom\");\n"
	"\tfullw = parseFloat(svg.getAttribute(\"width\")) - 2 * xpad;\n"
	"\tfg_frames = Array.prototype.slice.call(document.querySelectorAll(\"g.f\"));\n"
	"\tfg_frames.forEach(function (g) {\n"
	"\t\tvar t = g.querySelector(\"title\").textContent, m = titlere.exec(t);\n"
	"\t\tvar r = g.querySelector(\"rect\");\n"
	"\t\tg._info = t;\n"
	"\t\tg._name = m ? m[1] : t;\n"
	"\t\tg._count = m ? Number(m[2]) : 0;\n"
	"\t\tg._rect = r;\n"
	"\t\tg._text = g.querySelector(\"text\");\n"
	"\t\tg._x = parseFloat(r.getAttribute(\"x\"));\n"
	"\t\tg._w = parseFloat(r.getAttribute(\"width\"));\n"
	"\t\tg._y = parseFloat(r.getAttribute(\"y\"));\n"
	"\t\tg._fill = r.getAttribute(\"fill\");\n"
	"\t});\n"
	"\troot = document.getElementById(\"root\");\n"
	"\ttotal = root ? root._count : 0;\n"
	"\t/* Labels were cut in C for an assumed font; redo them with the font actually used. */\n"
	"\tvar cw = measure_char();\n"
	"\tif (cw > 0 && Math.abs(cw - charw) > 0.05) {\n"
	"\t\tcharw = cw;\n"
	"\t\tfg_frames.forEach(function (g) { label(g, g._w); });\n"
	"\t}\n"
	"\tsvg.addEventListener(\"click\", handle_click);\n"
	"\tsvg.addEventListener(\"mouseover\", function (e) {\n"
	"\t\tvar g = find_group(e.target);\n"
	"\t\tif (g) details.textContent = g._info;\n"
	"\t});\n"
	"\tsvg.addEventListener(\"mouseout\", function (e) {\n"
	"\t\tif (find_group(e.target)) details.textContent = \" \";\n"
	"\t});\n"
	"\twindow.addEventListener(\"keydown\", function (e) {\n"
	"\t\tif ((e.ctrlKey || e.metaKey) && (e.key === \"f\" || e.key === \"F\")) {\n"
	"\t\t\te.preventDefault();\n"
	"\t\t\tsearch_prompt(true);\n"
	"\t\t} else if (e.key === \"Escape\") {\n"
	"\t\t\treset_search();\n"
	"\t\t}\n"
	"\t});\n"
	"\tvar s = null;\n"
	"\ttry { s = new URLSearchParams(window.location.search).get(\"s\"); } catch (err) { s = null; }\n"
	"\tif (s) search(s);\n"
	"}\n"
	"\n",
	"function measure_char() {\n"
	"\tvar g = document.getElementById(\"frames\");\n"
	"\tif (!g) return 0;\n"
	"\tvar t = document.createElementNS(\"http://www.w3.org/2000/svg\", \"text\");\n"
	"\tt.textContent = \"mmmmmmmmmmmmmmmmmmmm\";\n"
	"\tg.appendChild(t);\n"
	"\tvar w = 0;\n"
	"\ttry { w = t.getComputedTextLength() / 20; } catch (err) { w = 0; }\n"
	"\tg.removeChild(t);\n"
	"\treturn w;\n"
	"}\n"
	"\n",
	"function find_group(el) {\n"
	"\twhile (el && el !== svg) {\n"
	"\t\tif (el.nodeName === \"g\" && el.classList.contains(\"f\")) return el;\n"
	"\t\tel = el.parentNode;\n"
	"\t}\n"
	"\treturn null;\n"
	"}\n"
	"\n",
	"function handle_click(e) {\n"
	"\tvar g = find_group(e.target);\n"
	"\tif (g) {\n"
	"\t\tif (g === root) unzoom(); else zoom(g);\n"
	"\t} else if (e.target === unzoombtn) {\n"
	"\t\tunzoom();\n"
	"\t} else if (e.target === searchbtn) {\n"
	"\t\tsearch_prompt(false);\n"
	"\t}\n"
	"}\n"
	"\n",
	"function label(g, w) {\n"
	"\tvar t = g._text;\n"
	"\tif (!t) return;\n"
	"\tvar fits = Math.floor((w - 6) / charw);\n"
	"\tif (fits < 3) { t.textContent = \"\"; return; }\n"
	"\tvar chars = g._chars || (g._chars = Array.from(g._name));\n"
	"\tt.textContent = chars.length <= fits ? g._name : chars.slice(0, fits - 2).join(\"\") + \"..\";\n"
	"}\n"
	"\n",
	"function place(g, x, w) {\n"
	"\tg._rect.setAttribute(\"x\", x.toFixed(2));\n"
	"\tg._rect.setAttribute(\"width\", w.toFixed(2));\n"
	"\tif (g._text) g._text.setAttribute(\"x\", (x + 3).toFixed(2));\n"
	"\tlabel(g, w);\n"
	"}\n"
	"\n",
	"/*\n"
	" * Geometry decides ancestry: every drawn frame is at least ~1.2px wide and\n"
	" * positions are exact to 0.01px, so a small tolerance cannot confuse\n"
	" * neighbours with ancestors or descendants.\n"
	" */\n"
	"function zoom(z) {\n"
	"\tvar cx = z._x, cw = z._w, cy = z._y, ratio = fullw / cw, eps = 0.05;\n"
	"\tzoomed = z;\n"
	"\tunzoombtn.classList.remove(\"inactive\");\n"
	"\tfg_frames.forEach(function (g) {\n"
	"\t\tvar x = g._x, w = g._w, cls = g.classList;\n"
	"\t\tif (g._y > cy) {\n"
	"\t\t\tif (x <= cx + eps && x + w >= cx + cw - eps) {\n"
	"\t\t\t\tcls.remove(\"hide\");\n"
	"\t\t\t\tcls.add(\"parent\");\n"
	"\t\t\t\tplace(g, xpad, fullw);\n"
	"\t\t\t} else {\n"
	"\t\t\t\tcls.add(\"hide\");\n"
	"\t\t\t}\n"
	"\t\t} else if (x >= cx - eps && x + w <= cx + cw + eps) {\n"
	"\t\t\tcls.remove(\"hide\", \"parent\");\n"
	"\t\t\tplace(g, xpad + (x - cx) * ratio, w * ratio);\n"
	"\t\t} else {\n"
	"\t\t\tcls.add(\"hide\");\n"
	"\t\t}\n"
	"\t});\n"
	"}\n"
	"\n",
	"function unzoom() {\n"
	"\tzoomed = null;\n"
	"\tunzoombtn.classList.add(\"inactive\");\n"
	"\tfg_frames.forEach(function (g) {\n"
	"\t\tg.classList.remove(\"hide\", \"parent\");\n"
	"\t\tplace(g, g._x, g._w);\n"
	"\t});\n"
	"}\n"
	"\n",
	"function reset_search() {\n"
	"\tfg_frames.forEach(function (g) {\n"
	"\t\tif (g._rect.hasAttribute(\"data-match\")) {\n"
	"\t\t\tg._rect.setAttribute(\"fill\", g._fill);\n"
	"\t\t\tg._rect.removeAttribute(\"data-match\");\n"
	"\t\t}\n"
	"\t});\n"
	"\tif (matchedtext) matchedtext.textContent = \" \";\n"
	"\tif (searchbtn) searchbtn.textContent = \"Search\";\n"
	"\tsearching = false;\n"
	"}\n"
	"\n",
	"function search_prompt(always) {\n"
	"\tif (searching && !always) { reset_search(); return; }\n"
	"\tvar term = window.prompt(\"Enter a search term (regexp allowed, eg: ^json\\\\.)\", \"\");\n"
	"\tif (term) search(term);\n"
	"}\n"
	"\n",
	"/* Returns the number of highlighted frames; an invalid regexp is searched for literally. */\n"
	"function search(term) {\n"
	"\tvar re;\n"
	"\treset_search();\n"
	"\tif (term === undefined || term === null || term === \"\") return 0;\n"
	"\tif (term instanceof RegExp) {\n"
	"\t\tre = term;\n"
	"\t} else {\n"
	"\t\tterm = String(term);\n"
	"\t\ttry { re = new RegExp(term); }\n"
	"\t\tcatch (err) { re = new RegExp(term.replace(/[.*+?^${}()|[\\]\\\\]/g, \"\\\\$&\")); }\n"
	"\t}\n"
	"\tvar hits = [];\n"
	"\tfg_frames.forEach(function (g) {\n"
	"\t\tif (g._name.search(re) < 0) return;\n"
	"\t\tg._rect.setAttribute(\"fill\", matchcolor);\n"
	"\t\tg._rect.setAttribute(\"data-match\", \"1\");\n"
	"\t\thits.push(g);\n"
	"\t});\n"
	"\t/* Count each sample once: a match inside another match is already in its weight. */\n"
	"\thits.sort(function (a, b) { return a._x - b._x || b._w - a._w; });\n"
	"\tvar sum = 0, end = -1;\n"
	"\thits.forEach(function (g) {\n"
	"\t\tif (g._x < end - 0.5) return;\n"
	"\t\tsum += g._count;\n"
	"\t\tend = g._x + g._w;\n"
	"\t});\n"
	"\tvar pct = total ? 100 * sum / total : 0;\n"
	"\tif (pct > 100) pct = 100;\n"
	"\tmatchedtext.textContent = \"Matched: \" + pct.toFixed(pct < 1 && pct > 0 ? 2 : 1) + \"%\";\n"
	"\tsearchbtn.textContent = \"Clear Search\";\n"
	"\tsearching = true;\n"
	"\treturn hits.length;\n"
	"}\n",
};

struct fg_layout {
	uint32_t *draw;               /* drawn nodes, root first */
	uint32_t ndraw;
	unsigned long long *x;        /* left edge in count units, per node */
	uint32_t *depth;              /* per node */
	uint32_t max_depth;
};

static int layout(const struct fg_tree *t, struct fg_layout *l)
{
	struct fg_kid *kids = NULL;
	uint32_t *first = NULL, *nkids = NULL, *stack = NULL, i, sp = 0;
	unsigned long long total = t->nodes[0].count;
	int err = -ENOMEM;

	kids = malloc((size_t)t->nr * sizeof(*kids));
	first = calloc(t->nr, sizeof(*first));
	nkids = calloc(t->nr, sizeof(*nkids));
	stack = malloc((size_t)t->nr * sizeof(*stack));
	l->draw = malloc((size_t)t->nr * sizeof(*l->draw));
	l->x = calloc(t->nr, sizeof(*l->x));
	l->depth = calloc(t->nr, sizeof(*l->depth));
	if (!kids || !first || !nkids || !stack || !l->draw || !l->x || !l->depth)
		goto cleanup;

	for (i = 1; i < t->nr; i++)
		kids[i - 1] = (struct fg_kid){
			.name = t->nodes[i].name, .len = t->nodes[i].len,
			.parent = t->nodes[i].parent, .id = i,
		};
	/* Sorted names make the output independent of input order, as flamegraph.pl does. */
	qsort(kids, t->nr - 1, sizeof(*kids), kid_cmp);
	for (i = t->nr - 1; i > 0; i--) {
		first[kids[i - 1].parent] = i - 1;
		nkids[kids[i - 1].parent]++;
	}

	l->ndraw = 0;
	l->max_depth = 0;
	l->draw[l->ndraw++] = 0;
	stack[sp++] = 0;
	while (sp) {
		uint32_t p = stack[--sp], k;
		unsigned long long pos = l->x[p], end = sat_add(l->x[p], t->nodes[p].count);

		for (k = first[p]; k < first[p] + nkids[p]; k++) {
			uint32_t c = kids[k].id;
			unsigned long long cnt = t->nodes[c].count;

			/* Saturated counts must not push a child past its parent. */
			if (cnt > end - pos)
				cnt = end - pos;
			l->x[c] = pos;
			pos += cnt;
			if ((double)cnt < FG_MIN_FRAC * (double)total || !cnt)
				continue;
			l->depth[c] = l->depth[p] + 1;
			if (l->depth[c] > l->max_depth)
				l->max_depth = l->depth[c];
			l->draw[l->ndraw++] = c;
			stack[sp++] = c;
		}
	}
	err = 0;
cleanup:
	free(kids);
	free(first);
	free(nkids);
	free(stack);
	return err;
}

/* The change of a frame in a differential graph (after minus scaled before). */
struct fg_diff {
	const double *base; /* NULL: not differential */
	double *self;	    /* each node's own change (children's taken out) */
	double scale, max_abs;
};

static double diff_of(const struct fg_tree *t, const struct fg_diff *d, uint32_t id)
{
	return (double)t->nodes[id].count - d->base[id] * d->scale;
}

/*
 * Frames are coloured by their own change, not their total: a caller's
 * total moves with its callees', so colouring totals paints every
 * ancestor of a change as red as the change and the root reddest.
 */
static int diff_self(const struct fg_tree *t, struct fg_diff *d)
{
	d->self = calloc(t->nr ? t->nr : 1, sizeof(*d->self));
	if (!d->self)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->nr; i++)
		d->self[i] += diff_of(t, d, i);
	for (uint32_t i = 1; i < t->nr; i++)
		if (t->nodes[i].parent < t->nr)
			d->self[t->nodes[i].parent] -= diff_of(t, d, i);
	return 0;
}

static int write_frame(FILE *f, struct fg_buf *b, const struct fg_tree *t, const struct fg_layout *l,
		       uint32_t id, const char *unit, int ypad, const struct fg_diff *d)
{
	const struct fg_node *n = &t->nodes[id];
	unsigned long long total = t->nodes[0].count;
	double scale = (double)(FG_WIDTH - 2 * FG_XPAD) / (double)total;
	double x1 = FG_XPAD + (double)l->x[id] * scale;
	double x2 = FG_XPAD + (double)sat_add(l->x[id], n->count) * scale;
	double w;
	int y = ypad + (int)(l->max_depth - l->depth[id]) * FG_FRAME_H;
	size_t ncp, fits;
	int rgb[3], err;

	if (x2 > FG_WIDTH - FG_XPAD)
		x2 = FG_WIDTH - FG_XPAD;
	w = x2 - x1;
	if (d->base) {
		double delta = d->self[id];
		double k = d->max_abs > 0 ? fabs(delta) / d->max_abs : 0;
		int fade = 255 - (int)(200 * (k > 1 ? 1 : k));

		rgb[0] = delta > 0 ? 255 : fade;
		rgb[1] = fade;
		rgb[2] = delta < 0 ? 255 : fade;
	} else {
		frame_color(n->name, n->len, rgb);
	}
	err = buf_reserve(b, 3 * FG_NAME_MAX + 8);
	if (err)
		return err;
	ncp = sanitize(b, n->name, n->len);

	fprintf(f, "<g class=\"f\"%s><title>", id == 0 ? " id=\"root\"" : "");
	put_escaped(f, b->p, b->len);
	fprintf(f, " (%llu ", n->count);
	put_escaped(f, unit, strlen(unit));
	if (d->base)
		fprintf(f, ", %.2f%%; before %.0f, %+.0f; own %+.0f",
			100.0 * (double)n->count / (double)total, d->base[id] * d->scale,
			diff_of(t, d, id), d->self[id]);
	else
		fprintf(f, ", %.2f%%", 100.0 * (double)n->count / (double)total);
	fprintf(f, ")</title><rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" "
		"fill=\"rgb(%d,%d,%d)\" rx=\"2\" ry=\"2\"/><text x=\"%.2f\" y=\"%d\">",
		x1, y, w, FG_FRAME_H - 1, rgb[0], rgb[1], rgb[2], x1 + 3, y + FG_FRAME_H - 5);
	fits = w > 6 ? (size_t)((w - 6) / FG_CHAR_W) : 0;
	if (fits >= 3) {
		if (ncp <= fits) {
			put_escaped(f, b->p, b->len);
		} else {
			put_escaped(f, b->p, utf8_prefix(b->p, b->len, fits - 2));
			fputs("..", f);
		}
	}
	fputs("</text></g>\n", f);
	return 0;
}

int flamegraph_write(FILE *f, const struct stack_count *stacks, size_t n, const struct flamegraph_opts *opts)
{
	const char *title = opts && opts->title ? opts->title : "Flame Graph";
	const char *subtitle = opts ? opts->subtitle : NULL;
	const char *unit_raw = opts && opts->count_name ? opts->count_name : "samples";
	struct fg_tree t = {0};
	struct fg_layout l = {0};
	struct fg_buf b = {0}, ub = {0};
	struct fg_diff d = {0};
	double *base = NULL;
	int err, ypad, height;
	uint32_t i;

	if (!f || (!stacks && n))
		return -EINVAL;
	err = tree_build(&t, stacks, n);
	if (err)
		goto cleanup;
	if (opts && opts->base) {
		err = tree_base(&t, opts->base, opts->nbase, &base);
		if (err)
			goto cleanup;
		d.base = base;
		d.scale = opts->base_scale > 0 ? opts->base_scale : 1.0;
	}

	/* The unit is repeated in every title; sanitize it once. */
	err = buf_reserve(&ub, 3 * (strlen(unit_raw) < FG_NAME_MAX ? strlen(unit_raw) : FG_NAME_MAX) + 8);
	if (err)
		goto cleanup;
	sanitize(&ub, unit_raw, strlen(unit_raw));
	err = buf_reserve(&ub, 1);
	if (err)
		goto cleanup;
	ub.p[ub.len] = '\0';

	ypad = FG_YPAD_TOP + (subtitle && *subtitle ? FG_YPAD_SUB : 0);
	if (t.nodes[0].count) {
		err = layout(&t, &l);
		if (err)
			goto cleanup;
		height = ypad + (int)(l.max_depth + 1) * FG_FRAME_H + FG_YPAD_BOTTOM;
		/* colours scale to the largest change drawn (the root aside) */
		if (d.base) {
			err = diff_self(&t, &d);
			if (err)
				goto cleanup;
		}
		for (i = 0; d.base && i < l.ndraw; i++)
			if (fabs(d.self[l.draw[i]]) > d.max_abs)
				d.max_abs = fabs(d.self[l.draw[i]]);
	} else {
		height = ypad + 2 * FG_FRAME_H + FG_YPAD_BOTTOM;
	}

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
		"<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"xmlns=\"http://www.w3.org/2000/svg\" onload=\"init(evt)\">\n",
		FG_WIDTH, height, FG_WIDTH, height);
	fprintf(f, "<defs><linearGradient id=\"background\" y1=\"0\" y2=\"1\" x1=\"0\" x2=\"0\">"
		"<stop stop-color=\"#eeeeee\" offset=\"5%%\"/><stop stop-color=\"#eeeeb0\" offset=\"95%%\"/>"
		"</linearGradient></defs>\n");
	fprintf(f, "<style type=\"text/css\"><![CDATA[\n%s]]></style>\n", fg_style);
	fputs("<script type=\"text/ecmascript\"><![CDATA[\n", f);
	for (i = 0; i < sizeof(fg_script) / sizeof(fg_script[0]); i++)
		fputs(fg_script[i], f);
	fputs("]]></script>\n", f);
	fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"url(#background)\"/>\n",
		FG_WIDTH, height);
	fprintf(f, "<text id=\"title\" x=\"%d\" y=\"24\">", FG_WIDTH / 2);
	err = put_text(f, &b, title, strlen(title));
	if (err)
		goto cleanup;
	fputs("</text>\n", f);
	if (subtitle && *subtitle) {
		fprintf(f, "<text id=\"subtitle\" x=\"%d\" y=\"%d\">", FG_WIDTH / 2, 24 + FG_YPAD_SUB);
		err = put_text(f, &b, subtitle, strlen(subtitle));
		if (err)
			goto cleanup;
		fputs("</text>\n", f);
	}
	fprintf(f, "<text id=\"unzoom\" class=\"inactive\" x=\"%d\" y=\"24\">Reset Zoom</text>\n"
		"<text id=\"search\" x=\"%d\" y=\"24\">Search</text>\n"
		"<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n"
		"<text id=\"matched\" x=\"%d\" y=\"%d\"> </text>\n",
		FG_XPAD, FG_WIDTH - FG_XPAD, FG_XPAD, height - 12, FG_WIDTH - FG_XPAD, height - 12);

	fputs("<g id=\"frames\">\n", f);
	if (t.nodes[0].count) {
		for (i = 0; i < l.ndraw; i++) {
			err = write_frame(f, &b, &t, &l, l.draw[i], ub.p, ypad, &d);
			if (err)
				goto cleanup;
		}
	} else {
		fprintf(f, "<text id=\"nosamples\" x=\"%d\" y=\"%d\">no samples</text>\n",
			FG_WIDTH / 2, ypad + FG_FRAME_H + 4);
	}
	fputs("</g>\n</svg>\n", f);
	err = ferror(f) ? -EIO : 0;
cleanup:
	free(t.nodes);
	free(t.slots);
	free(base);
	free(d.self);
	free(l.draw);
	free(l.x);
	free(l.depth);
	free(b.p);
	free(ub.p);
	return err;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Interactive SVG flame graph writer, in the spirit of flamegraph.pl but
 * without Perl: the typed stacks are merged into a tree keyed by (parent,
 * frame id), laid out with the root at the bottom and written as one
 * self-contained SVG. Its style and script are flamegraph.css and
 * flamegraph.js, embedded at build time (scripts/embed.py).
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

#include "flamegraph_assets.h"
#include "model/frames.h"
#include "output/flamegraph.h"
#include "output/svgtext.h"

#define FG_WIDTH	1200
#define FG_XPAD		10
#define FG_FRAME_H	16
#define FG_FONT_SIZE	12
/* 0.6em is the advance of the usual monospace fonts (DejaVu Sans Mono, Menlo, Consolas). */
#define FG_CHAR_W	(0.6 * FG_FONT_SIZE)
/* Narrower frames are unreadable and would bloat big profiles; their weight stays in the parent. */
#define FG_MIN_FRAC	0.001
#define FG_YPAD_TOP	36
#define FG_YPAD_SUB	18
#define FG_YPAD_BOTTOM	34
#define FG_NONE		UINT32_MAX

struct fg_node {
	frame_id frame; /* FRAME_NONE: the root, "all" */
	uint32_t parent;
	unsigned long long count;
};

struct fg_tree {
	struct frame_table *ft;
	struct fg_node *nodes;
	uint32_t nr;
	uint32_t cap;
	struct hashidx ix; /* (parent, frame) -> node; the root is not in it */
};

/* One entry per non-root node, sorted so that each node's children are adjacent and ordered. */
struct fg_kid {
	const char *name;
	uint32_t parent;
	uint32_t id;
	frame_id frame;
};

static unsigned long long sat_add(unsigned long long a, unsigned long long b)
{
	return a + b < a ? ~0ULL : a + b;
}

static const char *node_text(const struct fg_tree *t, uint32_t id)
{
	frame_id fr = t->nodes[id].frame;

	return fr == FRAME_NONE ? "all" : frame_text(t->ft, fr);
}

static int tree_add_node(struct fg_tree *t, frame_id frame, uint32_t parent)
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
	t->nodes[t->nr++] = (struct fg_node){ .frame = frame, .parent = parent };
	return 0;
}

struct node_key {
	const struct fg_tree *t;
	uint32_t parent;
	frame_id frame;
};

static bool node_eq(const void *ctx, uint32_t pos)
{
	const struct node_key *k = ctx;
	const struct fg_node *n = &k->t->nodes[pos];

	return n->parent == k->parent && n->frame == k->frame;
}

/* Returns the index of child @frame of @parent, creating it; negative errno on failure. */
static int64_t tree_child(struct fg_tree *t, uint32_t parent, frame_id frame)
{
	struct node_key k = { t, parent, frame };
	uint64_t h = hash_mix((uint64_t)parent << 32 | frame);
	long id = hashidx_find(&t->ix, h, node_eq, &k);
	int err;

	if (id >= 0)
		return id;
	err = tree_add_node(t, frame, parent);
	if (!err && hashidx_insert(&t->ix, h, t->nr - 1))
		err = -ENOMEM;
	return err ? err : (int64_t)(t->nr - 1);
}

/*
 * The stacks are merged in text order: the counts do not depend on it, but
 * the differential graph's own changes are sums of doubles over the nodes
 * in creation order, and this order keeps them as they always were (a
 * "-0" is not printed as "+0").
 */
static int tree_build(struct fg_tree *t, struct profile *p)
{
	size_t nids;
	stack_id *ids = profile_sorted(p, &nids);
	int err = ids ? tree_add_node(t, FRAME_NONE, FG_NONE) : -ENOMEM;

	for (size_t i = 0; !err && i < nids; i++) {
		unsigned long long c = p->w[ids[i]].value;
		uint32_t cur = 0, n;
		const frame_id *f = stacks_get(&p->st, ids[i], &n);

		if (!c)
			continue;
		t->nodes[0].count = sat_add(t->nodes[0].count, c);
		for (uint32_t k = 0; k < n; k++) {
			int64_t id = tree_child(t, cur, f[k]);

			if (id < 0) {
				err = (int)id;
				break;
			}
			cur = (uint32_t)id;
			t->nodes[cur].count = sat_add(t->nodes[cur].count, c);
		}
	}
	free(ids);
	return err;
}

/*
 * Differential graphs: the before-values of every node of the after-tree,
 * by walking the base stacks through it. A path only the base has becomes a
 * node of count 0 (never drawn). Two passes: the first adds the missing
 * nodes, so the array can be sized once and filled by the second.
 */
static int tree_base(struct fg_tree *t, struct profile *base, double **out)
{
	size_t nids;
	stack_id *ids = profile_sorted(base, &nids);
	double *b = NULL;
	int err = ids ? 0 : -ENOMEM;

	for (int pass = 0; pass < 2 && !err; pass++) {
		if (pass == 1 && !(b = calloc(t->nr, sizeof(*b)))) {
			err = -ENOMEM;
			break;
		}
		for (size_t i = 0; i < nids && !err; i++) {
			uint64_t c = base->w[ids[i]].value;
			uint32_t cur = 0, n;
			const frame_id *f = stacks_get(&base->st, ids[i], &n);

			if (!c)
				continue;
			if (pass == 1)
				b[0] += (double)c;
			for (uint32_t k = 0; k < n; k++) {
				int64_t id = tree_child(t, cur, f[k]);

				if (id < 0) {
					err = (int)id;
					break;
				}
				cur = (uint32_t)id;
				if (pass == 1 && cur < t->nr)
					b[cur] += (double)c;
			}
		}
	}
	free(ids);
	if (err)
		free(b);
	else
		*out = b;
	return err;
}

static int kid_cmp(const void *a, const void *b)
{
	const struct fg_kid *x = a, *y = b;
	int r;

	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	r = strcmp(x->name, y->name);
	if (r)
		return r;
	return x->frame < y->frame ? -1 : x->frame > y->frame;
}

/*
 * The colours of flamegraph.pl's 32-bit FNV-1a of the frame's text, as
 * pyrograph always drew them: the same function keeps its colour across
 * profiles and versions.
 */
static uint32_t colour_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/*
 * Deterministic per-name colour; the hue tells apart the user's code
 * (red-yellow, also the root frames), third-party packages (teal), the
 * standard library (olive), native code (blue), the kernel (orange) and
 * synthetic frames such as [sleep] (grey). file: a Python frame's file.
 */
static void frame_color(enum frame_kind kind, const char *file, const char *text, int rgb[3])
{
	uint32_t h = colour_hash(text);
	double v1 = (h & 0xff) / 255.0, v2 = (h >> 8 & 0xff) / 255.0, v3 = (h >> 16 & 0xff) / 255.0;
	enum code_origin origin = frame_origin(file, file ? strlen(file) : 0);

	if (kind == FRAME_SYNTHETIC) {
		rgb[0] = 175 + (int)(35 * v1);
		rgb[1] = rgb[0];
		rgb[2] = rgb[0] + 8;
	} else if (kind == FRAME_KERNEL) {
		rgb[0] = 230 + (int)(25 * v1);
		rgb[1] = 120 + (int)(50 * v2);
		rgb[2] = 20 + (int)(30 * v3);
	} else if (kind == FRAME_NATIVE) {
		rgb[0] = 90 + (int)(50 * v1);
		rgb[1] = 130 + (int)(50 * v1);
		rgb[2] = 210 + (int)(40 * v2);
	} else if (origin == ORIGIN_THIRD_PARTY) {
		rgb[0] = 50 + (int)(60 * v1);
		rgb[1] = 165 + (int)(55 * v2);
		rgb[2] = 165 + (int)(55 * v2);
	} else if (origin == ORIGIN_STDLIB) {
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

struct fg_layout {
	uint32_t *draw;               /* drawn nodes, root first */
	uint32_t ndraw;
	unsigned long long *x;        /* left edge in count units, per node */
	uint32_t *depth;              /* per node */
	uint32_t max_depth;
};

/* Each node's children, adjacent and ordered by text: first[p], nkids[p]. */
static struct fg_kid *sorted_kids(const struct fg_tree *t, uint32_t *first, uint32_t *nkids)
{
	struct fg_kid *kids = malloc(((size_t)t->nr ? t->nr : 1) * sizeof(*kids));
	uint32_t i;

	if (!kids)
		return NULL;
	for (i = 1; i < t->nr; i++)
		kids[i - 1] = (struct fg_kid){
			.name = node_text(t, i), .parent = t->nodes[i].parent,
			.id = i, .frame = t->nodes[i].frame,
		};
	/* Sorted names make the output independent of input order, as flamegraph.pl does. */
	qsort(kids, t->nr - 1, sizeof(*kids), kid_cmp);
	for (i = t->nr - 1; i > 0; i--) {
		first[kids[i - 1].parent] = i - 1;
		nkids[kids[i - 1].parent]++;
	}
	return kids;
}

static int layout(const struct fg_tree *t, struct fg_layout *l)
{
	struct fg_kid *kids = NULL;
	uint32_t *first = NULL, *nkids = NULL, *stack = NULL, sp = 0;
	unsigned long long total = t->nodes[0].count;
	int err = -ENOMEM;

	first = calloc(t->nr, sizeof(*first));
	nkids = calloc(t->nr, sizeof(*nkids));
	stack = malloc((size_t)t->nr * sizeof(*stack));
	l->draw = malloc((size_t)t->nr * sizeof(*l->draw));
	l->x = calloc(t->nr, sizeof(*l->x));
	l->depth = calloc(t->nr, sizeof(*l->depth));
	if (!first || !nkids || !stack || !l->draw || !l->x || !l->depth)
		goto cleanup;
	kids = sorted_kids(t, first, nkids);
	if (!kids)
		goto cleanup;

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

/* What one <g> needs besides the node: the layout, scratch text, the unit. */
struct fg_ctx {
	struct fg_tree *t;
	const struct fg_layout *l;
	const struct fg_diff *d;
	struct svgtext b;
	const char *unit;
	int ypad;
};

static int write_frame(FILE *f, struct fg_ctx *c, uint32_t id)
{
	const struct fg_tree *t = c->t;
	const struct fg_layout *l = c->l;
	const struct fg_diff *d = c->d;
	const struct fg_node *n = &t->nodes[id];
	const char *text = node_text(t, id);
	unsigned long long total = t->nodes[0].count;
	double scale = (double)(FG_WIDTH - 2 * FG_XPAD) / (double)total;
	double x1 = FG_XPAD + (double)l->x[id] * scale;
	double x2 = FG_XPAD + (double)sat_add(l->x[id], n->count) * scale;
	double w;
	int y = c->ypad + (int)(l->max_depth - l->depth[id]) * FG_FRAME_H;
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
	} else if (n->frame == FRAME_NONE) {
		frame_color(FRAME_PYTHON, NULL, text, rgb); /* "all": the user's colours */
	} else {
		const struct frame *fr = frames_get(t->ft, n->frame);

		frame_color(fr->kind, fr->kind == FRAME_PYTHON ? frame_file(t->ft, n->frame) : NULL,
			    text, rgb);
	}
	err = svgtext_reserve(&c->b, 3 * SVGTEXT_MAX + 8);
	if (err)
		return err;
	ncp = svgtext_sanitize(&c->b, text, strlen(text));

	fprintf(f, "<g class=\"f\"%s><title>", id == 0 ? " id=\"root\"" : "");
	svgtext_escape(f, c->b.p, c->b.len);
	fprintf(f, " (%llu ", n->count);
	svgtext_escape(f, c->unit, strlen(c->unit));
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
			svgtext_escape(f, c->b.p, c->b.len);
		} else {
			svgtext_escape(f, c->b.p, svgtext_prefix(c->b.p, c->b.len, fits - 2));
			fputs("..", f);
		}
	}
	fputs("</text></g>\n", f);
	return 0;
}

/*
 * Everything before the frames: the SVG element, style and script, the
 * background, titles and controls. Frames are laid out once in C; the
 * script keeps each frame's original geometry and recomputes positions from
 * it on zoom. The name and count are read back from the <title> so they are
 * not stored twice in big files.
 */
static int write_head(FILE *f, struct svgtext *b, const char *title, const char *subtitle,
		      int height)
{
	int err;

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
		"<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"xmlns=\"http://www.w3.org/2000/svg\" onload=\"init(evt)\">\n",
		FG_WIDTH, height, FG_WIDTH, height);
	fprintf(f, "<defs><linearGradient id=\"background\" y1=\"0\" y2=\"1\" x1=\"0\" x2=\"0\">"
		"<stop stop-color=\"#eeeeee\" offset=\"5%%\"/><stop stop-color=\"#eeeeb0\" offset=\"95%%\"/>"
		"</linearGradient></defs>\n");
	fprintf(f, "<style type=\"text/css\"><![CDATA[\n%s]]></style>\n", fg_style);
	fputs("<script type=\"text/ecmascript\"><![CDATA[\n", f);
	fputs(fg_script, f);
	fputs("]]></script>\n", f);
	fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"url(#background)\"/>\n",
		FG_WIDTH, height);
	fprintf(f, "<text id=\"title\" x=\"%d\" y=\"24\">", FG_WIDTH / 2);
	err = svgtext_put(f, b, title, strlen(title));
	if (err)
		return err;
	fputs("</text>\n", f);
	if (subtitle && *subtitle) {
		fprintf(f, "<text id=\"subtitle\" x=\"%d\" y=\"%d\">", FG_WIDTH / 2, 24 + FG_YPAD_SUB);
		err = svgtext_put(f, b, subtitle, strlen(subtitle));
		if (err)
			return err;
		fputs("</text>\n", f);
	}
	fprintf(f, "<text id=\"unzoom\" class=\"inactive\" x=\"%d\" y=\"24\">Reset Zoom</text>\n"
		"<text id=\"search\" x=\"%d\" y=\"24\">Search</text>\n"
		"<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n"
		"<text id=\"matched\" x=\"%d\" y=\"%d\"> </text>\n",
		FG_XPAD, FG_WIDTH - FG_XPAD, FG_XPAD, height - 12, FG_WIDTH - FG_XPAD, height - 12);
	return 0;
}

/* The unit is repeated in every title: sanitized once, NUL-terminated. */
static int sanitize_unit(struct svgtext *ub, const char *unit)
{
	size_t len = strlen(unit);
	int err = svgtext_reserve(ub, 3 * (len < SVGTEXT_MAX ? len : SVGTEXT_MAX) + 9);

	if (err)
		return err;
	svgtext_sanitize(ub, unit, len);
	ub->p[ub->len] = '\0';
	return 0;
}

/* The layout, the height it needs, and the differential colours' scale. */
static int prepare(struct fg_tree *t, struct fg_layout *l, struct fg_diff *d, int ypad,
		   int *height)
{
	int err;

	if (!t->nodes[0].count) {
		*height = ypad + 2 * FG_FRAME_H + FG_YPAD_BOTTOM;
		return 0;
	}
	err = layout(t, l);
	if (err)
		return err;
	*height = ypad + (int)(l->max_depth + 1) * FG_FRAME_H + FG_YPAD_BOTTOM;
	if (!d->base)
		return 0;
	/* colours scale to the largest change drawn (the root aside) */
	err = diff_self(t, d);
	if (err)
		return err;
	for (uint32_t i = 0; i < l->ndraw; i++)
		if (fabs(d->self[l->draw[i]]) > d->max_abs)
			d->max_abs = fabs(d->self[l->draw[i]]);
	return 0;
}

int flamegraph_write(FILE *f, struct profile *p, const struct flamegraph_opts *opts)
{
	const char *title = opts && opts->title ? opts->title : "Flame Graph";
	const char *subtitle = opts ? opts->subtitle : NULL;
	const char *unit = opts && opts->count_name ? opts->count_name : "samples";
	struct fg_tree t = { .ft = p ? p->ft : NULL };
	struct fg_layout l = { 0 };
	struct fg_diff d = { 0 };
	struct svgtext ub = { 0 };
	struct fg_ctx c = { .t = &t, .l = &l, .d = &d };
	double *base = NULL;
	int err, height;

	if (!f || !p)
		return -EINVAL;
	err = tree_build(&t, p);
	if (!err && opts && opts->base) {
		err = tree_base(&t, opts->base, &base);
		d.base = base;
		d.scale = opts->base_scale > 0 ? opts->base_scale : 1.0;
	}
	if (!err)
		err = sanitize_unit(&ub, unit);
	c.unit = ub.p;
	c.ypad = FG_YPAD_TOP + (subtitle && *subtitle ? FG_YPAD_SUB : 0);
	if (!err)
		err = prepare(&t, &l, &d, c.ypad, &height);
	if (!err)
		err = write_head(f, &c.b, title, subtitle, height);
	if (err)
		goto cleanup;

	fputs("<g id=\"frames\">\n", f);
	if (t.nodes[0].count) {
		for (uint32_t i = 0; i < l.ndraw && !err; i++)
			err = write_frame(f, &c, l.draw[i]);
		if (err)
			goto cleanup;
	} else {
		fprintf(f, "<text id=\"nosamples\" x=\"%d\" y=\"%d\">no samples</text>\n",
			FG_WIDTH / 2, c.ypad + FG_FRAME_H + 4);
	}
	fputs("</g>\n</svg>\n", f);
	err = ferror(f) ? -EIO : 0;
cleanup:
	free(t.nodes);
	hashidx_free(&t.ix);
	free(base);
	free(d.self);
	free(l.draw);
	free(l.x);
	free(l.depth);
	free(c.b.p);
	free(ub.p);
	return err;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffrep.h"
#include "frames.h"
#include "intern.h"
#include "output.h"
#include "stackagg.h"

#define LINE_MAX_BYTES (1 << 20) /* a longer line is skipped as malformed */
#define FUNC_MAX 1024		 /* bytes of a function key */

struct diffrep {
	bool normalize;
	struct stackagg *agg[2];
	char *name[2];
	unsigned long long malformed[2];
};

struct diffrep *diffrep__new(bool normalize)
{
	struct diffrep *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->normalize = normalize;
	d->agg[0] = stackagg__new();
	d->agg[1] = stackagg__new();
	if (!d->agg[0] || !d->agg[1]) {
		diffrep__free(d);
		return NULL;
	}
	return d;
}

void diffrep__free(struct diffrep *d)
{
	if (!d)
		return;
	for (int i = 0; i < 2; i++) {
		stackagg__free(d->agg[i]);
		free(d->name[i]);
	}
	free(d);
}

/*
 * Copies stack into out with the ids of the leading process and thread
 * frames set to 0 (pids differ between runs; the frames stay recognisable
 * as what they are): "python3 job.py (1234)" -> "python3 job.py (0)",
 * "thread worker (1240)" -> "thread worker (0)".
 */
static void strip_ids(const char *stack, char *out)
{
	const char *s = stack;
	char *o = out;
	bool root = true;

	while (*s) {
		const char *e = strchr(s, ';');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		struct frame_parts fp;

		frame_parse(s, len, root, &fp);
		if (root && (fp.kind == FRAME_PROCESS || fp.kind == FRAME_THREAD)) {
			/* the id is the last " (...)" */
			const char *open = NULL;

			for (const char *p = s; p + 1 < s + len; p++)
				if (p[0] == ' ' && p[1] == '(')
					open = p;
			if (open) {
				memcpy(o, s, (size_t)(open - s));
				o += open - s;
				memcpy(o, " (0)", 4);
				o += 4;
				goto next;
			}
		} else if (fp.kind != FRAME_CONTAINER) {
			root = false;
		}
		memcpy(o, s, len);
		o += len;
next:
		if (!e)
			break;
		*o++ = ';';
		s = e + 1;
	}
	*o = '\0';
}

int diffrep__load_file(struct diffrep *d, int which, FILE *f, const char *name,
		       char *err, size_t errlen)
{
	char *line = NULL, *stripped = NULL;
	size_t cap = 0, scap = 0;
	ssize_t n;
	int c0 = fgetc(f), c1 = c0 == EOF ? EOF : fgetc(f);

	if (which < 0 || which > 1)
		return -EINVAL;
	if (c0 == 0x1f && c1 == 0x8b) {
		snprintf(err, errlen,
			 "%s: a gzip file (pprof?): diff reads folded stacks; record with -f collapsed",
			 name);
		return -ENOTSUP;
	}
	if (c1 != EOF)
		ungetc(c1, f);
	if (c0 != EOF)
		ungetc(c0, f);
	free(d->name[which]);
	d->name[which] = strdup(name);
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *sp, *endp;
		unsigned long long count;

		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (!n)
			continue;
		sp = strrchr(line, ' ');
		if (n > LINE_MAX_BYTES || !sp || sp == line || !sp[1]) {
			d->malformed[which]++;
			continue;
		}
		errno = 0;
		count = strtoull(sp + 1, &endp, 10);
		if (errno || *endp || sp[1] == '-') {
			d->malformed[which]++;
			continue;
		}
		*sp = '\0';
		/* stripping only shortens: the line's length is enough */
		if ((size_t)(sp - line) + 1 > scap) {
			free(stripped);
			scap = (size_t)(sp - line) + 1;
			stripped = malloc(scap);
			if (!stripped) {
				free(line);
				snprintf(err, errlen, "%s: out of memory", name);
				return -ENOMEM;
			}
		}
		strip_ids(line, stripped);
		if (count && stackagg__add(d->agg[which], stripped, count)) {
			snprintf(err, errlen, "%s: out of memory", name);
			free(line);
			free(stripped);
			return -ENOMEM;
		}
	}
	free(line);
	free(stripped);
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", name);
		return -EIO;
	}
	if (!stackagg__count(d->agg[which])) {
		snprintf(err, errlen, "%s: no stacks (expected folded lines: 'frame;frame;... COUNT')",
			 name);
		return -EINVAL;
	}
	return 0;
}

int diffrep__load(struct diffrep *d, int which, const char *path, char *err,
		  size_t errlen)
{
	FILE *f = fopen(path, "re");
	int ret;

	if (!f) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -errno;
	}
	ret = diffrep__load_file(d, which, f, path, err, errlen);
	fclose(f);
	return ret;
}

/* After's total over before's, when normalizing; else 1. */
static double scale_of(const struct diffrep *d)
{
	double b = (double)stackagg__total(d->agg[0]), a = (double)stackagg__total(d->agg[1]);

	return d->normalize && b > 0 ? a / b : 1.0;
}

static int write_svg(FILE *f, void *ctx)
{
	struct diffrep *d = ctx;
	struct flamegraph_opts o = { .title = "pyrograph diff", .count_name = "samples" };
	const struct stack_count *sa, *sb;
	size_t na, nb;
	char sub[1024];
	int ret;

	sb = stackagg__sorted(d->agg[0], &nb);
	/* a copy: sorting the other aggregate must not free this array */
	{
		struct stack_count *copy = malloc((nb ? nb : 1) * sizeof(*copy));

		if (!copy)
			return -ENOMEM;
		memcpy(copy, sb, nb * sizeof(*copy));
		sa = stackagg__sorted(d->agg[1], &na);
		snprintf(sub, sizeof(sub),
			 "%s (%llu) against %s (%llu)%s; red grew, blue shrank",
			 d->name[1] ? d->name[1] : "after", stackagg__total(d->agg[1]),
			 d->name[0] ? d->name[0] : "before", stackagg__total(d->agg[0]),
			 d->normalize ? ", before scaled to the same total" : "");
		o.subtitle = sub;
		o.base = copy;
		o.nbase = nb;
		o.base_scale = scale_of(d);
		ret = flamegraph_write(f, sa, na, &o);
		free(copy);
	}
	return ret;
}

int diffrep__write_svg(struct diffrep *d, const char *path)
{
	return output_write_fn(path, write_svg, d);
}

struct func_row {
	double incl[2], self[2];
	unsigned long long seen_in; /* stack number that last counted it + 1 */
};

/* "name (file)" of a frame without its line, or the frame as it is. */
static size_t func_key(const char *s, size_t len, char *out)
{
	struct frame_parts fp;
	int n;

	frame_parse(s, len, false, &fp);
	if (fp.kind == FRAME_PYTHON && fp.file)
		n = snprintf(out, FUNC_MAX, "%.*s (%.*s)", (int)fp.name_len, fp.name,
			     (int)fp.file_len, fp.file);
	else
		n = snprintf(out, FUNC_MAX, "%.*s", (int)len, s);
	return n < 0 ? 0 : (size_t)n < FUNC_MAX ? (size_t)n : FUNC_MAX - 1;
}

static struct func_row *rows_grow(struct func_row *rows, size_t *cap, size_t need)
{
	struct func_row *n;
	size_t c = *cap ? *cap : 256;

	if (need <= *cap)
		return rows;
	while (c < need)
		c *= 2;
	n = realloc(rows, c * sizeof(*n));
	if (!n)
		return NULL;
	memset(n + *cap, 0, (c - *cap) * sizeof(*n));
	*cap = c;
	return n;
}

struct order {
	size_t id;
	double change;
};

static int cmp_order(const void *a, const void *b)
{
	double x = fabs(((const struct order *)a)->change);
	double y = fabs(((const struct order *)b)->change);

	return x < y ? 1 : x > y ? -1 : 0;
}

int diffrep__write_table(struct diffrep *d, FILE *f, size_t top)
{
	struct intern ids = { 0 };
	struct func_row *rows = NULL;
	struct order *ord = NULL;
	size_t cap = 0, nrows;
	unsigned long long stack_no = 0;
	double scale = scale_of(d), tot[2];
	char key[FUNC_MAX];
	int ret = -ENOMEM;

	for (int w = 0; w < 2; w++) {
		size_t n;
		const struct stack_count *sc = stackagg__sorted(d->agg[w], &n);

		tot[w] = (double)stackagg__total(d->agg[w]);
		for (size_t i = 0; sc && i < n; i++) {
			const char *s = sc[i].stack;
			bool root = true;
			long last = -1;

			stack_no++;
			while (*s) {
				const char *e = strchr(s, ';');
				size_t len = e ? (size_t)(e - s) : strlen(s);
				struct frame_parts fp;
				long id;

				frame_parse(s, len, root, &fp);
				if (!(root && (fp.kind == FRAME_PROCESS || fp.kind == FRAME_THREAD ||
					       fp.kind == FRAME_CONTAINER))) {
					root = false;
					id = intern_id(&ids, key, func_key(s, len, key));
					if (id < 0 || !(rows = rows_grow(rows, &cap, (size_t)id + 1)))
						goto out;
					/* once per stack: recursion counts once */
					if (rows[id].seen_in != stack_no) {
						rows[id].seen_in = stack_no;
						rows[id].incl[w] += (double)sc[i].count;
					}
					last = id;
				}
				if (!e)
					break;
				s = e + 1;
			}
			if (last >= 0)
				rows[last].self[w] += (double)sc[i].count;
		}
	}
	nrows = ids.n;
	ord = calloc(nrows ? nrows : 1, sizeof(*ord));
	if (!ord)
		goto out;
	for (size_t i = 0; i < nrows; i++) {
		ord[i].id = i;
		/* ranked by own time: a caller's total moves with its callee */
		ord[i].change = rows[i].self[1] - rows[i].self[0] * scale;
	}
	qsort(ord, nrows, sizeof(*ord), cmp_order);
	fprintf(f, "pyrograph diff: %s: %.0f samples; %s: %.0f samples; %s\n",
		d->name[0] ? d->name[0] : "before", tot[0], d->name[1] ? d->name[1] : "after",
		tot[1], d->normalize ? "before scaled to the same total (shares compared)" :
				       "counts compared as they are");
	if (d->malformed[0] + d->malformed[1])
		fprintf(f, "  (skipped malformed lines: %llu before, %llu after)\n", d->malformed[0],
			d->malformed[1]);
	fprintf(f, "\nFunctions whose own time changed most (self: at the top of the stack;\n"
		   "total: anywhere in it; * marks a change beyond sampling noise, 3 sigma)\n");
	fprintf(f, "  %16s %16s %18s %11s  %s\n", "self before", "self after", "self change",
		"total chg", "function");
	for (size_t i = 0; i < nrows && i < top; i++) {
		const struct func_row *r = &rows[ord[i].id];
		double before = r->self[0] * scale, ch = ord[i].change;
		double sigma = sqrt(r->self[1] + r->self[0] * scale * scale);
		char b[40], a[40], c[40];

		snprintf(b, sizeof(b), "%.0f (%.1f%%)", before,
			 tot[0] ? 100.0 * r->self[0] / tot[0] : 0.0);
		snprintf(a, sizeof(a), "%.0f (%.1f%%)", r->self[1],
			 tot[1] ? 100.0 * r->self[1] / tot[1] : 0.0);
		if (before > 0)
			snprintf(c, sizeof(c), "%+.0f (%+.0f%%)%s", ch, 100.0 * ch / before,
				 fabs(ch) > 3 * sigma ? " *" : "  ");
		else
			snprintf(c, sizeof(c), "%+.0f%s%s", ch, r->self[1] > 0 ? " (new)" : "",
				 fabs(ch) > 3 * sigma ? " *" : "  ");
		fprintf(f, "  %16s %16s %18s %+11.0f  %s\n", b, a, c,
			r->incl[1] - r->incl[0] * scale, ids.s[ord[i].id]);
	}
	ret = ferror(f) ? -EIO : 0;
out:
	free(ord);
	free(rows);
	intern_free(&ids);
	return ret;
}

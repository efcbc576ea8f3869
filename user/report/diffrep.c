// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph diff: both profiles are read into one frame table (folded
 * files by the folded reader, pprof files by the pprof reader), so a frame
 * is the same id in both, and compared as typed stacks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/folded.h"
#include "model/frames.h"
#include "model/intern.h"
#include "model/stacks.h"
#include "output/flamegraph.h"
#include "output/output.h"
#include "output/pprof_read.h"
#include "model/array.h"
#include "report/diffrep.h"

#define LINE_MAX_BYTES (1 << 20) /* a longer line is skipped as malformed */
#define FUNC_MAX 1024		 /* bytes of a function key */

struct diffrep {
	bool normalize;
	struct frame_table ft;
	struct profile prof[2];
	char *name[2];
	unsigned long long malformed[2];
};

struct diffrep *diffrep__new(bool normalize)
{
	struct diffrep *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->normalize = normalize;
	frames_init(&d->ft);
	profile_init(&d->prof[0], &d->ft);
	profile_init(&d->prof[1], &d->ft);
	return d;
}

void diffrep__free(struct diffrep *d)
{
	if (!d)
		return;
	for (int i = 0; i < 2; i++) {
		profile_free(&d->prof[i]);
		free(d->name[i]);
	}
	frames_free(&d->ft);
	free(d);
}

/*
 * The leading process and thread frames of f[0..n) with their ids set to
 * 0 (pids differ between runs; the frames stay recognisable as what they
 * are): "python3 job.py (1234)" -> "python3 job.py (0)", "thread worker
 * (1240)" -> "thread worker (0)". 0 or -ENOMEM.
 */
static int strip_ids(struct frame_table *ft, frame_id *f, uint32_t n)
{
	for (uint32_t i = 0; i < n && frame_is_root(ft, f[i]); i++) {
		struct frame fr = *frames_get(ft, f[i]);

		if (fr.kind == FRAME_CONTAINER)
			continue;
		fr.pid = 0;
		fr.nspid = -1;
		f[i] = frames_add(ft, &fr);
		if (f[i] == FRAME_NONE)
			return -ENOMEM;
	}
	return 0;
}

/* Reads a pprof file (gzip) into src, then its stacks without ids into dst. */
static int load_pprof(struct diffrep *d, int which, FILE *f, const char *name, char *err,
		      size_t errlen)
{
	struct profile src;
	struct pprof_read_stats st;
	unsigned char *raw = NULL;
	frame_id *buf = NULL;
	size_t nraw;
	int ret = pprof_inflate(f, &raw, &nraw);

	if (ret) {
		snprintf(err, errlen, "%s: %s", name,
			 ret == -EFBIG ? "inflates to over 512 MiB" :
			 ret == -ENOMEM ? "out of memory" :
			 ret == -EIO ? "read error" : "not a complete gzip stream");
		return ret;
	}
	profile_init(&src, &d->ft);
	ret = pprof_read_raw(raw, nraw, &src, &st);
	free(raw);
	d->malformed[which] += st.empty;
	buf = malloc(PPROF_MAX_FRAMES * sizeof(*buf));
	if (!ret && !buf)
		ret = -ENOMEM;
	for (size_t i = 0; !ret && i < src.st.n; i++) {
		uint32_t n;
		const frame_id *fr = stacks_get(&src.st, (stack_id)i, &n);

		memcpy(buf, fr, n * sizeof(*fr));
		ret = strip_ids(&d->ft, buf, n);
		if (!ret)
			ret = profile_add(&d->prof[which], buf, n, src.w[i].value, src.w[i].count);
	}
	free(buf);
	profile_free(&src);
	if (ret) {
		snprintf(err, errlen, "%s: %s", name,
			 ret == -ENOMEM ? "out of memory" : "not a pprof profile (malformed protobuf)");
		return ret;
	}
	if (!profile_count(&d->prof[which])) {
		snprintf(err, errlen, "%s: no samples in this pprof profile", name);
		return -EINVAL;
	}
	return 0;
}

/* One "frame;frame;... COUNT" line: 1 if malformed, 0 or -ENOMEM. */
static int load_line(struct diffrep *d, int which, char *line, ssize_t n, struct folded_buf *b)
{
	unsigned long long count;
	char *sp, *endp;
	long nf;

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (!n)
		return 0;
	sp = strrchr(line, ' ');
	if (n > LINE_MAX_BYTES || !sp || sp == line || !sp[1])
		return 1;
	errno = 0;
	count = strtoull(sp + 1, &endp, 10);
	if (errno || *endp || sp[1] == '-')
		return 1;
	if (!count)
		return 0;
	nf = folded_frames(&d->ft, line, (size_t)(sp - line), b);
	if (nf < 0 || strip_ids(&d->ft, b->f, (uint32_t)nf) ||
	    profile_add(&d->prof[which], b->f, (uint32_t)nf, count, 1))
		return -ENOMEM;
	return 0;
}

int diffrep__load_file(struct diffrep *d, int which, FILE *f, const char *name,
		       char *err, size_t errlen)
{
	struct folded_buf b = { 0 };
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int c0 = fgetc(f), ret = 0;

	if (which < 0 || which > 1)
		return -EINVAL;
	free(d->name[which]);
	d->name[which] = strdup(name);
	/* one byte of look-ahead is all ungetc promises: gzip starts with
	 * 0x1f, which no folded file does (zlib checks the rest) */
	if (c0 != EOF)
		ungetc(c0, f);
	if (c0 == 0x1f) /* pprof */
		return load_pprof(d, which, f, name, err, errlen);
	while (!ret && (n = getline(&line, &cap, f)) >= 0) {
		ret = load_line(d, which, line, n, &b);
		if (ret > 0) {
			d->malformed[which]++;
			ret = 0;
		}
	}
	free(line);
	folded_buf_free(&b);
	if (ret) {
		snprintf(err, errlen, "%s: out of memory", name);
		return ret;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", name);
		return -EIO;
	}
	if (!profile_count(&d->prof[which])) {
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
	double b = (double)d->prof[0].total, a = (double)d->prof[1].total;

	return d->normalize && b > 0 ? a / b : 1.0;
}

static int write_svg(FILE *f, void *ctx)
{
	struct diffrep *d = ctx;
	char sub[1024];
	struct flamegraph_opts o = {
		.title = "pyrograph diff",
		.subtitle = sub,
		.count_name = "samples",
		.base = &d->prof[0],
		.base_scale = scale_of(d),
	};

	snprintf(sub, sizeof(sub), "%s (%llu) against %s (%llu)%s; red grew, blue shrank",
		 d->name[1] ? d->name[1] : "after", (unsigned long long)d->prof[1].total,
		 d->name[0] ? d->name[0] : "before", (unsigned long long)d->prof[0].total,
		 d->normalize ? ", before scaled to the same total" : "");
	return flamegraph_write(f, &d->prof[1], &o);
}

int diffrep__write_svg(struct diffrep *d, const char *path)
{
	return output_write_fn(path, write_svg, d);
}

struct func_row {
	double incl[2], self[2];
	unsigned long long seen_in; /* stack number that last counted it + 1 */
};

/* The functions of the table: a row per key, the key of each frame. */
struct func_rows {
	struct intern keys;
	struct func_row *rows;
	size_t cap;
	long *of_frame; /* frame id -> row + 1; 0: not yet keyed */
};

/* A frame's function: "name (file)" of a Python frame without its line,
 * other frames as their text. -ENOMEM. */
static long row_of(struct func_rows *r, struct frame_table *ft, frame_id id)
{
	const struct frame *f = frames_get(ft, id);
	char key[FUNC_MAX];
	long row;
	int n;

	if (r->of_frame[id])
		return r->of_frame[id] - 1;
	if (f->kind == FRAME_PYTHON && f->file != FRAME_NO_STR)
		n = snprintf(key, FUNC_MAX, "%s (%s)", frame_name(ft, id), frame_file(ft, id));
	else
		n = snprintf(key, FUNC_MAX, "%s", frame_text(ft, id));
	n = n < 0 ? 0 : n < FUNC_MAX ? n : FUNC_MAX - 1;
	row = intern_id(&r->keys, key, (size_t)n);
	if (row < 0)
		return row;
	if ((size_t)row >= r->cap) {
		size_t old = r->cap;

		if (array_reserve(&r->rows, &r->cap, (size_t)row + 1, sizeof(*r->rows), 256))
			return -ENOMEM;
		memset(r->rows + old, 0, (r->cap - old) * sizeof(*r->rows));
	}
	r->of_frame[id] = row + 1;
	return row;
}

/* Each function's time in profile w: anywhere in a stack, at its top. */
static int count_rows(struct func_rows *r, struct profile *p, int w, unsigned long long *stack_no)
{
	size_t n;
	stack_id *ids = profile_sorted(p, &n);

	if (!ids)
		return profile_count(p) ? -ENOMEM : 0;
	for (size_t i = 0; i < n; i++) {
		double v = (double)p->w[ids[i]].value;
		uint32_t nf, k = 0;
		const frame_id *f = stacks_get(&p->st, ids[i], &nf);
		long row, last = -1;

		++*stack_no;
		while (k < nf && frame_is_root(p->ft, f[k]))
			k++; /* process and thread frames are not functions */
		for (; k < nf; k++) {
			row = row_of(r, p->ft, f[k]);
			if (row < 0) {
				free(ids);
				return (int)row;
			}
			/* once per stack: recursion counts once */
			if (r->rows[row].seen_in != *stack_no) {
				r->rows[row].seen_in = *stack_no;
				r->rows[row].incl[w] += v;
			}
			last = row;
		}
		if (last >= 0)
			r->rows[last].self[w] += v;
	}
	free(ids);
	return 0;
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

static void write_rows(const struct diffrep *d, FILE *f, const struct func_rows *r,
		       const struct order *ord, size_t top)
{
	double scale = scale_of(d), tot[2] = { (double)d->prof[0].total, (double)d->prof[1].total };

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
	for (size_t i = 0; i < r->keys.n && i < top; i++) {
		const struct func_row *row = &r->rows[ord[i].id];
		double before = row->self[0] * scale, ch = ord[i].change;
		double sigma = sqrt(row->self[1] + row->self[0] * scale * scale);
		char b[40], a[40], c[40];

		snprintf(b, sizeof(b), "%.0f (%.1f%%)", before,
			 tot[0] ? 100.0 * row->self[0] / tot[0] : 0.0);
		snprintf(a, sizeof(a), "%.0f (%.1f%%)", row->self[1],
			 tot[1] ? 100.0 * row->self[1] / tot[1] : 0.0);
		if (before > 0)
			snprintf(c, sizeof(c), "%+.0f (%+.0f%%)%s", ch, 100.0 * ch / before,
				 fabs(ch) > 3 * sigma ? " *" : "  ");
		else
			snprintf(c, sizeof(c), "%+.0f%s%s", ch, row->self[1] > 0 ? " (new)" : "",
				 fabs(ch) > 3 * sigma ? " *" : "  ");
		fprintf(f, "  %16s %16s %18s %+11.0f  %s\n", b, a, c,
			row->incl[1] - row->incl[0] * scale, r->keys.s[ord[i].id]);
	}
}

int diffrep__write_table(struct diffrep *d, FILE *f, size_t top)
{
	struct func_rows r = { 0 };
	struct order *ord = NULL;
	unsigned long long stack_no = 0;
	double scale = scale_of(d);
	int ret = -ENOMEM;

	r.of_frame = calloc(d->ft.n ? d->ft.n : 1, sizeof(*r.of_frame));
	if (!r.of_frame)
		goto out;
	for (int w = 0; w < 2; w++) {
		ret = count_rows(&r, &d->prof[w], w, &stack_no);
		if (ret)
			goto out;
	}
	ret = -ENOMEM;
	ord = calloc(r.keys.n ? r.keys.n : 1, sizeof(*ord));
	if (!ord)
		goto out;
	for (size_t i = 0; i < r.keys.n; i++) {
		ord[i].id = i;
		/* ranked by own time: a caller's total moves with its callee */
		ord[i].change = r.rows[i].self[1] - r.rows[i].self[0] * scale;
	}
	qsort(ord, r.keys.n, sizeof(*ord), cmp_order);
	write_rows(d, f, &r, ord, top);
	ret = ferror(f) ? -EIO : 0;
out:
	free(ord);
	free(r.rows);
	free(r.of_frame);
	intern_free(&r.keys);
	return ret;
}

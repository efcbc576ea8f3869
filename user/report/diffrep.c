// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <zlib.h>
#include <stdlib.h>
#include <string.h>

#include "report/diffrep.h"
#include "model/frames.h"
#include "model/intern.h"
#include "output/output.h"
#include "model/stackagg.h"

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
			/* the parser found " (id)" at the end: the last '(' is
			 * its own (the name may be empty: "thread (5)") */
			const char *open = memrchr(s, '(', len);
			size_t keep = open ? (size_t)(open - s) - 1 : len;

			memcpy(o, s, keep);
			memcpy(o + keep, " (0)", 4);
			o += keep + 4;
		} else {
			root = root && fp.kind == FRAME_CONTAINER;
			memcpy(o, s, len);
			o += len;
		}
		if (!e)
			break;
		*o++ = ';';
		s = e + 1;
	}
	*o = '\0';
}


/* ---- pprof input (gzipped profile.proto) ---- */

#define PPROF_MAX_RAW (512u << 20) /* inflated bytes at most */
#define PPROF_MAX_STACK (64u << 10) /* bytes of one rebuilt stack */

struct pbuf {
	const unsigned char *p, *end;
};

static bool pb_varint_rd(struct pbuf *b, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64 && b->p < b->end; shift += 7) {
		unsigned char c = *b->p++;

		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return true;
	}
	return false;
}

/* The next field: its number, wire type, and value or bytes. */
static bool pb_field(struct pbuf *b, unsigned *field, unsigned *wt, uint64_t *v,
		     struct pbuf *bytes)
{
	uint64_t key;

	if (b->p >= b->end || !pb_varint_rd(b, &key))
		return false;
	*field = (unsigned)(key >> 3);
	*wt = key & 7;
	switch (*wt) {
	case 0:
		return pb_varint_rd(b, v);
	case 1:
		if (b->end - b->p < 8)
			return false;
		b->p += 8;
		return true;
	case 2:
		if (!pb_varint_rd(b, v) || *v > (uint64_t)(b->end - b->p))
			return false;
		bytes->p = b->p;
		bytes->end = b->p + *v;
		b->p += *v;
		return true;
	case 5:
		if (b->end - b->p < 4)
			return false;
		b->p += 4;
		return true;
	}
	return false;
}

struct pp_str {
	const unsigned char *p;
	size_t len;
};

struct pp_func {
	uint64_t id, name, file;
};

struct pp_line {
	uint64_t func;
	int64_t line;
};

struct pp_loc {
	uint64_t id;
	size_t first, n; /* into lines */
};

struct pprof {
	struct pp_str *str;
	size_t nstr, cstr;
	struct pp_func *fn;
	size_t nfn, cfn;
	struct pp_loc *loc;
	size_t nloc, cloc;
	struct pp_line *line;
	size_t nline, cline;
};

#define PUSH(arr, n, cap, val)                                                 \
	do {                                                                   \
		if ((n) == (cap)) {                                            \
			size_t nc_ = (cap) ? 2 * (cap) : 256;                  \
			void *np_ = realloc((arr), nc_ * sizeof(*(arr)));      \
			if (!np_)                                              \
				goto nomem;                                    \
			(arr) = np_;                                           \
			(cap) = nc_;                                           \
		}                                                              \
		(arr)[(n)++] = (val);                                          \
	} while (0)

static int cmp_fn(const void *a, const void *b)
{
	uint64_t x = ((const struct pp_func *)a)->id, y = ((const struct pp_func *)b)->id;

	return x < y ? -1 : x > y;
}

static int cmp_loc(const void *a, const void *b)
{
	uint64_t x = ((const struct pp_loc *)a)->id, y = ((const struct pp_loc *)b)->id;

	return x < y ? -1 : x > y;
}

/* Functions, locations and strings: everything but the samples. */
static int pprof_tables(struct pprof *pp, struct pbuf all)
{
	struct pbuf b = all, sub, sub2, lb;
	unsigned f, wt, f2, wt2, f3, wt3;
	uint64_t v, v2, v3;

	while (b.p < b.end) {
		if (!pb_field(&b, &f, &wt, &v, &sub))
			return -EINVAL;
		if (f == 6 && wt == 2) {
			struct pp_str s = { sub.p, (size_t)(sub.end - sub.p) };

			PUSH(pp->str, pp->nstr, pp->cstr, s);
		} else if (f == 5 && wt == 2) {
			struct pp_func fn = { 0 };

			while (sub.p < sub.end) {
				if (!pb_field(&sub, &f2, &wt2, &v2, &sub2))
					return -EINVAL;
				if (wt2 != 0)
					continue;
				if (f2 == 1)
					fn.id = v2;
				else if (f2 == 2)
					fn.name = v2;
				else if (f2 == 4)
					fn.file = v2;
			}
			PUSH(pp->fn, pp->nfn, pp->cfn, fn);
		} else if (f == 4 && wt == 2) {
			struct pp_loc loc = { .first = pp->nline };

			while (sub.p < sub.end) {
				if (!pb_field(&sub, &f2, &wt2, &v2, &sub2))
					return -EINVAL;
				if (f2 == 1 && wt2 == 0) {
					loc.id = v2;
				} else if (f2 == 4 && wt2 == 2) {
					struct pp_line ln = { 0 };

					lb = sub2;
					while (lb.p < lb.end) {
						if (!pb_field(&lb, &f3, &wt3, &v3, &sub2))
							return -EINVAL;
						if (f3 == 1 && wt3 == 0)
							ln.func = v3;
						else if (f3 == 2 && wt3 == 0)
							ln.line = (int64_t)v3;
					}
					PUSH(pp->line, pp->nline, pp->cline, ln);
					loc.n++;
				}
			}
			PUSH(pp->loc, pp->nloc, pp->cloc, loc);
		}
	}
	qsort(pp->fn, pp->nfn, sizeof(*pp->fn), cmp_fn);
	qsort(pp->loc, pp->nloc, sizeof(*pp->loc), cmp_loc);
	return 0;
nomem:
	return -ENOMEM;
}

/* Appends s[0..len) to out at *pos (bounded; control bytes and ';' replaced). */
static void put_bounded(char *out, size_t *pos, const void *s, size_t len)
{
	const unsigned char *c = s;

	for (size_t i = 0; i < len && *pos + 1 < PPROF_MAX_STACK; i++)
		out[(*pos)++] = c[i] == ';' || c[i] < 0x20 ? '_' : (char)c[i];
	out[*pos] = '\0';
}

static struct pp_str str_at(const struct pprof *pp, uint64_t i)
{
	struct pp_str none = { (const unsigned char *)"", 0 };

	return i < pp->nstr ? pp->str[i] : none;
}

static void put_frame_of(const struct pprof *pp, const struct pp_line *ln, char *out, size_t *pos)
{
	struct pp_func key = { .id = ln->func };
	const struct pp_func *fn = bsearch(&key, pp->fn, pp->nfn, sizeof(*fn), cmp_fn);
	struct pp_str name = str_at(pp, fn ? fn->name : 0), file = str_at(pp, fn ? fn->file : 0);
	char num[32];

	if (*pos)
		put_bounded(out, pos, ";", 1), out[*pos - 1] = ';';
	put_bounded(out, pos, name.len ? name.p : (const unsigned char *)"?", name.len ? name.len : 1);
	if (!file.len)
		return;
	if (ln->line > 0) {
		put_bounded(out, pos, " (", 2);
		put_bounded(out, pos, file.p, file.len);
		snprintf(num, sizeof(num), ":%lld)", (long long)ln->line);
		put_bounded(out, pos, num, strlen(num));
	} else if (file.len == 17 && !memcmp(file.p, "[kernel.kallsyms]", 17)) {
		put_bounded(out, pos, "_[k]", 4);
	} else {
		/* native: "symbol [module]", as record writes them */
		put_bounded(out, pos, " [", 2);
		put_bounded(out, pos, file.p, file.len);
		put_bounded(out, pos, "]", 1);
	}
}

/* A sample's stack: labels as the root frames, then its locations. */
static int pprof_samples(struct diffrep *d, int which, const struct pprof *pp, struct pbuf all)
{
	struct pbuf b = all, sub, sub2, pk;
	unsigned f, wt, f2, wt2;
	uint64_t v, v2;
	uint64_t *locs = NULL;
	size_t nlocs = 0, clocs = 0;
	char *stack = malloc(PPROF_MAX_STACK);
	int ret = 0;

	if (!stack)
		return -ENOMEM;
	while (b.p < b.end) {
		struct pp_str lk, ls, container = { 0 }, process = { 0 }, thread = { 0 };
		long long pid = -1, tid = -1;
		uint64_t value = 0;
		bool have_value = false;
		size_t pos = 0;
		char num[48];

		if (!pb_field(&b, &f, &wt, &v, &sub)) {
			ret = -EINVAL;
			break;
		}
		if (f != 2 || wt != 2)
			continue;
		nlocs = 0;
		while (sub.p < sub.end) {
			if (!pb_field(&sub, &f2, &wt2, &v2, &sub2)) {
				ret = -EINVAL;
				goto out;
			}
			if (f2 == 1 && wt2 == 0) {
				PUSH(locs, nlocs, clocs, v2);
			} else if (f2 == 1 && wt2 == 2) {
				for (pk = sub2; pk.p < pk.end;) {
					if (!pb_varint_rd(&pk, &v2)) {
						ret = -EINVAL;
						goto out;
					}
					PUSH(locs, nlocs, clocs, v2);
				}
			} else if (f2 == 2 && !have_value) {
				/* the first value: samples */
				if (wt2 == 0) {
					value = v2;
					have_value = true;
				} else if (wt2 == 2) {
					pk = sub2;
					have_value = pb_varint_rd(&pk, &value);
				}
			} else if (f2 == 3 && wt2 == 2) {
				uint64_t k = 0, sv = 0, nv = 0;
				bool is_num = false;

				for (pk = sub2; pk.p < pk.end;) {
					struct pbuf ig;
					unsigned f3, wt3;
					uint64_t v3;

					if (!pb_field(&pk, &f3, &wt3, &v3, &ig)) {
						ret = -EINVAL;
						goto out;
					}
					if (wt3 != 0)
						continue;
					if (f3 == 1)
						k = v3;
					else if (f3 == 2)
						sv = v3;
					else if (f3 == 3)
						nv = v3, is_num = true;
				}
				lk = str_at(pp, k);
				ls = str_at(pp, sv);
#define KEY_IS(s) (lk.len == strlen(s) && !memcmp(lk.p, s, lk.len))
				if (KEY_IS("container"))
					container = ls;
				else if (KEY_IS("process"))
					process = ls;
				else if (KEY_IS("thread"))
					thread = ls;
				else if (KEY_IS("pid") && is_num)
					pid = (long long)nv;
				else if (KEY_IS("tid") && is_num)
					tid = (long long)nv;
#undef KEY_IS
			}
		}
		if (!have_value || !value)
			continue;
		stack[0] = '\0';
		if (container.len) /* the container frame's whole text */
			put_bounded(stack, &pos, container.p, container.len);
		if (process.len) {
			if (pos)
				put_bounded(stack, &pos, ";", 1), stack[pos - 1] = ';';
			put_bounded(stack, &pos, process.p, process.len);
			snprintf(num, sizeof(num), " (%lld)", pid);
			put_bounded(stack, &pos, num, strlen(num));
		}
		if (thread.len) {
			if (pos)
				put_bounded(stack, &pos, ";", 1), stack[pos - 1] = ';';
			put_bounded(stack, &pos, "thread ", 7);
			put_bounded(stack, &pos, thread.p, thread.len);
			snprintf(num, sizeof(num), " (%lld)", tid);
			put_bounded(stack, &pos, num, strlen(num));
		}
		/* leaf first in the sample; a location's last line is its caller */
		for (size_t i = nlocs; i-- > 0;) {
			struct pp_loc key = { .id = locs[i] };
			const struct pp_loc *l = bsearch(&key, pp->loc, pp->nloc, sizeof(*l), cmp_loc);

			for (size_t k = l ? l->n : 0; k-- > 0;)
				if (l->first + k < pp->nline)
					put_frame_of(pp, &pp->line[l->first + k], stack, &pos);
		}
		if (!pos) {
			d->malformed[which]++;
			continue;
		}
		{
			char *stripped = malloc(pos + 1);

			if (!stripped)
				goto nomem;
			strip_ids(stack, stripped);
			ret = stackagg__add(d->agg[which], stripped, value);
			free(stripped);
			if (ret)
				goto out;
		}
	}
out:
	free(locs);
	free(stack);
	return ret;
nomem:
	ret = -ENOMEM;
	goto out;
}

/* Inflates gzip data (bounded) and reads it as a pprof profile. */
static int load_pprof(struct diffrep *d, int which, FILE *f, const char *name, char *err,
		      size_t errlen)
{
	unsigned char in[65536];
	unsigned char *raw = NULL;
	size_t nraw = 0, craw = 0;
	struct pprof pp = { 0 };
	z_stream z = { 0 };
	int zr = Z_OK, ret;

	if (inflateInit2(&z, 15 + 32) != Z_OK)
		return -ENOMEM;
	while (zr != Z_STREAM_END) {
		size_t n = fread(in, 1, sizeof(in), f);

		if (!n)
			break;
		z.next_in = in;
		z.avail_in = (uInt)n;
		while (z.avail_in && zr != Z_STREAM_END) {
			if (nraw == craw) {
				size_t nc = craw ? 2 * craw : 1 << 20;
				unsigned char *nr;

				if (nc > PPROF_MAX_RAW) {
					zr = Z_BUF_ERROR;
					break;
				}
				nr = realloc(raw, nc);
				if (!nr) {
					zr = Z_MEM_ERROR;
					break;
				}
				raw = nr;
				craw = nc;
			}
			z.next_out = raw + nraw;
			z.avail_out = (uInt)(craw - nraw);
			zr = inflate(&z, Z_NO_FLUSH);
			nraw = craw - z.avail_out;
			if (zr != Z_OK && zr != Z_STREAM_END)
				break;
		}
		if (zr != Z_OK && zr != Z_STREAM_END)
			break;
	}
	inflateEnd(&z);
	if (zr != Z_STREAM_END) {
		snprintf(err, errlen, "%s: not a complete gzip stream%s", name,
			 nraw >= PPROF_MAX_RAW / 2 ? " (or over 512 MiB inflated)" : "");
		free(raw);
		return -EINVAL;
	}
	{
		struct pbuf all = { raw, raw + nraw };

		ret = pprof_tables(&pp, all);
		if (!ret)
			ret = pprof_samples(d, which, &pp, all);
	}
	free(pp.str);
	free(pp.fn);
	free(pp.loc);
	free(pp.line);
	free(raw);
	if (ret) {
		snprintf(err, errlen, "%s: %s", name,
			 ret == -ENOMEM ? "out of memory" : "not a pprof profile (malformed protobuf)");
		return ret;
	}
	if (!stackagg__count(d->agg[which])) {
		snprintf(err, errlen, "%s: no samples in this pprof profile", name);
		return -EINVAL;
	}
	return 0;
}

int diffrep__load_file(struct diffrep *d, int which, FILE *f, const char *name,
		       char *err, size_t errlen)
{
	char *line = NULL, *stripped = NULL;
	size_t cap = 0, scap = 0;
	ssize_t n;
	int c0 = fgetc(f);

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

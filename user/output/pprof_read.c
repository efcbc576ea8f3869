// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pprof reader: the protobuf is walked field by field with bounds on
 * every length; functions, locations and strings are collected first
 * (they follow the samples in the file), then each sample becomes a typed
 * stack. A location line's frame is made once and reused by every sample
 * that names it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "model/frames.h"
#include "output/pprof_read.h"
#include "sys/container.h"

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
	frame_id frame; /* made when a sample first needs it; FRAME_NONE before */
};

struct pp_loc {
	uint64_t id;
	size_t first, n; /* into lines */
};

struct pprof {
	struct frame_table *ft;
	struct pp_str *str;
	size_t nstr, cstr;
	struct pp_func *fn;
	size_t nfn, cfn;
	struct pp_loc *loc;
	size_t nloc, cloc;
	struct pp_line *line;
	size_t nline, cline;
	uint64_t *locs; /* the location ids of the sample being read */
	size_t nlocs, clocs;
	frame_id *frames; /* its stack */
	char *name, *file; /* PPROF_MAX_NAME + 1 bytes each */
};

#define PUSH(arr, n, cap, val)                                                 \
	do {                                                                   \
		if ((n) == (cap)) {                                            \
			size_t nc_ = (cap) ? 2 * (cap) : 256;                  \
			void *np_ = realloc((arr), nc_ * sizeof(*(arr)));      \
			if (!np_)                                              \
				return -ENOMEM;                                \
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

static int table_function(struct pprof *pp, struct pbuf sub)
{
	struct pp_func fn = { 0 };
	struct pbuf ig;
	unsigned f, wt;
	uint64_t v;

	while (sub.p < sub.end) {
		if (!pb_field(&sub, &f, &wt, &v, &ig))
			return -EINVAL;
		if (wt != 0)
			continue;
		if (f == 1)
			fn.id = v;
		else if (f == 2)
			fn.name = v;
		else if (f == 4)
			fn.file = v;
	}
	PUSH(pp->fn, pp->nfn, pp->cfn, fn);
	return 0;
}

static int table_location(struct pprof *pp, struct pbuf sub)
{
	struct pp_loc loc = { .first = pp->nline };
	struct pbuf lb, ig;
	unsigned f, wt;
	uint64_t v;

	while (sub.p < sub.end) {
		if (!pb_field(&sub, &f, &wt, &v, &lb))
			return -EINVAL;
		if (f == 1 && wt == 0) {
			loc.id = v;
		} else if (f == 4 && wt == 2) {
			struct pp_line ln = { .frame = FRAME_NONE };

			while (lb.p < lb.end) {
				if (!pb_field(&lb, &f, &wt, &v, &ig))
					return -EINVAL;
				if (f == 1 && wt == 0)
					ln.func = v;
				else if (f == 2 && wt == 0)
					ln.line = (int64_t)v;
			}
			PUSH(pp->line, pp->nline, pp->cline, ln);
			loc.n++;
		}
	}
	PUSH(pp->loc, pp->nloc, pp->cloc, loc);
	return 0;
}

/* Functions, locations and strings: everything but the samples. */
static int pprof_tables(struct pprof *pp, struct pbuf b)
{
	struct pbuf sub;
	unsigned f, wt;
	uint64_t v;
	int ret = 0;

	while (b.p < b.end && !ret) {
		if (!pb_field(&b, &f, &wt, &v, &sub))
			return -EINVAL;
		if (f == 6 && wt == 2) {
			struct pp_str s = { sub.p, (size_t)(sub.end - sub.p) };

			PUSH(pp->str, pp->nstr, pp->cstr, s);
		} else if (f == 5 && wt == 2) {
			ret = table_function(pp, sub);
		} else if (f == 4 && wt == 2) {
			ret = table_location(pp, sub);
		}
	}
	if (ret)
		return ret;
	/* (qsort and bsearch must not see the NULL of an empty table) */
	if (pp->nfn)
		qsort(pp->fn, pp->nfn, sizeof(*pp->fn), cmp_fn);
	if (pp->nloc)
		qsort(pp->loc, pp->nloc, sizeof(*pp->loc), cmp_loc);
	return 0;
}

static const struct pp_func *find_fn(const struct pprof *pp, uint64_t id)
{
	struct pp_func key = { .id = id };

	return pp->nfn ? bsearch(&key, pp->fn, pp->nfn, sizeof(key), cmp_fn) : NULL;
}

static const struct pp_loc *find_loc(const struct pprof *pp, uint64_t id)
{
	struct pp_loc key = { .id = id };

	return pp->nloc ? bsearch(&key, pp->loc, pp->nloc, sizeof(key), cmp_loc) : NULL;
}

static struct pp_str str_at(const struct pprof *pp, uint64_t i)
{
	struct pp_str none = { (const unsigned char *)"", 0 };

	return i < pp->nstr ? pp->str[i] : none;
}

/* s as a C string in out (bounded), ';' and control bytes replaced. */
static const char *clean(struct pp_str s, char *out)
{
	size_t i, len = s.len < PPROF_MAX_NAME ? s.len : PPROF_MAX_NAME;

	for (i = 0; i < len; i++)
		out[i] = s.p[i] == ';' || s.p[i] < 0x20 ? '_' : (char)s.p[i];
	out[i] = '\0';
	return out;
}

/* The frame of a location line: its function's name and file, its line. */
static frame_id line_frame(struct pprof *pp, struct pp_line *ln)
{
	const struct pp_func *fn;
	struct pp_str name, file;

	if (ln->frame != FRAME_NONE)
		return ln->frame;
	fn = find_fn(pp, ln->func);
	name = str_at(pp, fn ? fn->name : 0);
	file = str_at(pp, fn ? fn->file : 0);
	if (!name.len)
		name = (struct pp_str){ (const unsigned char *)"?", 1 };
	clean(name, pp->name);
	if (!file.len)
		ln->frame = frames_parse(pp->ft, pp->name, strlen(pp->name), false);
	else if (ln->line > 0)
		ln->frame = frames_python(pp->ft, pp->name, clean(file, pp->file),
					  ln->line > INT32_MAX ? 0 : (int)ln->line);
	else if (file.len == 17 && !memcmp(file.p, "[kernel.kallsyms]", 17))
		ln->frame = frames_kernel(pp->ft, pp->name);
	else
		ln->frame = frames_native(pp->ft, pp->name, clean(file, pp->file));
	return ln->frame;
}

/* What a sample says: its labels, its first value; its locations in pp->locs. */
struct pp_sample {
	/* the container frame's labels (pprof.c container_labels) */
	struct pp_str container, container_id, image, pod, ns, cgroup;
	struct pp_str process, thread;
	int pid, tid;
	uint64_t value;
	bool have_value;
};

static int sample_label(struct pprof *pp, struct pbuf pk, struct pp_sample *s)
{
	uint64_t k = 0, sv = 0, nv = 0, v;
	bool is_num = false;
	struct pp_str lk, ls;
	struct pbuf ig;
	unsigned f, wt;

	while (pk.p < pk.end) {
		if (!pb_field(&pk, &f, &wt, &v, &ig))
			return -EINVAL;
		if (wt != 0)
			continue;
		if (f == 1)
			k = v;
		else if (f == 2)
			sv = v;
		else if (f == 3)
			nv = v, is_num = true;
	}
	lk = str_at(pp, k);
	ls = str_at(pp, sv);
#define KEY_IS(s) (lk.len == strlen(s) && !memcmp(lk.p, s, lk.len))
	if (KEY_IS("container"))
		s->container = ls;
	else if (KEY_IS("container_id"))
		s->container_id = ls;
	else if (KEY_IS("image"))
		s->image = ls;
	else if (KEY_IS("pod"))
		s->pod = ls;
	else if (KEY_IS("namespace"))
		s->ns = ls;
	else if (KEY_IS("cgroup"))
		s->cgroup = ls;
	else if (KEY_IS("process"))
		s->process = ls;
	else if (KEY_IS("thread"))
		s->thread = ls;
	else if (KEY_IS("pid") && is_num)
		s->pid = nv <= INT32_MAX ? (int)nv : 0;
	else if (KEY_IS("tid") && is_num)
		s->tid = nv <= INT32_MAX ? (int)nv : 0;
#undef KEY_IS
	return 0;
}

static int parse_sample(struct pprof *pp, struct pbuf sub, struct pp_sample *s)
{
	struct pbuf sub2, pk;
	unsigned f, wt;
	uint64_t v;
	int ret;

	pp->nlocs = 0;
	while (sub.p < sub.end) {
		if (!pb_field(&sub, &f, &wt, &v, &sub2))
			return -EINVAL;
		if (f == 1 && wt == 0) {
			PUSH(pp->locs, pp->nlocs, pp->clocs, v);
		} else if (f == 1 && wt == 2) {
			for (pk = sub2; pk.p < pk.end;) {
				if (!pb_varint_rd(&pk, &v))
					return -EINVAL;
				PUSH(pp->locs, pp->nlocs, pp->clocs, v);
			}
		} else if (f == 2 && !s->have_value) {
			/* the first value: samples */
			if (wt == 0) {
				s->value = v;
				s->have_value = true;
			} else if (wt == 2) {
				pk = sub2;
				s->have_value = pb_varint_rd(&pk, &s->value);
			}
		} else if (f == 3 && wt == 2) {
			ret = sample_label(pp, sub2, s);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* The container frame of a sample's labels; a file written before the
 * container's labels were split has the frame's text in "container". */
static frame_id container_frame(struct pprof *pp, const struct pp_sample *s)
{
	struct container_label_parts p = { 0 };

	if ((s->container.len >= 10 &&
	     !memcmp(s->container.p, "container ", 10)) ||
	    (s->container.len >= 7 && !memcmp(s->container.p, "cgroup ", 7)))
		return frames_container(pp->ft, clean(s->container, pp->name));
	if (s->cgroup.len) {
		/* a path: the whole of it, as the frame had it */
		p.cgroup = (const char *)s->cgroup.p;
		p.cgroup_len = s->cgroup.len < PPROF_MAX_NAME / 2 ?
				       s->cgroup.len :
				       PPROF_MAX_NAME / 2;
	} else {
		p.name = (const char *)s->container.p;
		p.name_len = s->container.len < 256 ? s->container.len : 256;
		p.id = (const char *)s->container_id.p;
		p.id_len = s->container_id.len < 64 ? s->container_id.len : 64;
		p.image = (const char *)s->image.p;
		p.image_len = s->image.len < 256 ? s->image.len : 256;
		p.pod = (const char *)s->pod.p;
		p.pod_len = s->pod.len < 256 ? s->pod.len : 256;
		p.ns = (const char *)s->ns.p;
		p.ns_len = s->ns.len < 64 ? s->ns.len : 64;
	}
	container_label_format(&p, pp->name, PPROF_MAX_NAME + 1);
	return frames_container(pp->ft, pp->name);
}

/* The sample's stack into pp->frames: its root frames, then its locations'. */
static long sample_stack(struct pprof *pp, const struct pp_sample *s)
{
	uint32_t n = 0;

	if (s->container.len || s->cgroup.len)
		pp->frames[n++] = container_frame(pp, s);
	if (s->process.len)
		pp->frames[n++] = frames_process(pp->ft, clean(s->process, pp->name), s->pid, -1);
	if (s->thread.len)
		pp->frames[n++] = frames_thread(pp->ft, clean(s->thread, pp->name), s->tid);
	/* leaf first in the sample; a location's last line is its caller */
	for (size_t i = pp->nlocs; i-- > 0 && n < PPROF_MAX_FRAMES;) {
		const struct pp_loc *l = find_loc(pp, pp->locs[i]);

		for (size_t k = l ? l->n : 0; k-- > 0 && n < PPROF_MAX_FRAMES;)
			if (l->first + k < pp->nline)
				pp->frames[n++] = line_frame(pp, &pp->line[l->first + k]);
	}
	for (uint32_t k = 0; k < n; k++)
		if (pp->frames[k] == FRAME_NONE)
			return -ENOMEM;
	return n;
}

static int pprof_samples(struct pprof *pp, struct pbuf b, struct profile *p,
			 struct pprof_read_stats *st)
{
	struct pbuf sub;
	unsigned f, wt;
	uint64_t v;
	long n;
	int ret;

	while (b.p < b.end) {
		struct pp_sample s = { 0 };

		if (!pb_field(&b, &f, &wt, &v, &sub))
			return -EINVAL;
		if (f != 2 || wt != 2)
			continue;
		ret = parse_sample(pp, sub, &s);
		if (ret)
			return ret;
		if (!s.have_value || !s.value)
			continue;
		n = sample_stack(pp, &s);
		if (n < 0)
			return (int)n;
		if (!n) {
			st->empty++;
			continue;
		}
		ret = profile_add(p, pp->frames, (uint32_t)n, s.value, 1);
		if (ret)
			return ret;
		st->samples++;
	}
	return 0;
}

int pprof_read_raw(const unsigned char *raw, size_t len, struct profile *p,
		   struct pprof_read_stats *st)
{
	struct pprof pp = { .ft = p->ft };
	struct pbuf all = { raw, raw + len };
	int ret = -ENOMEM;

	memset(st, 0, sizeof(*st));
	pp.frames = malloc(PPROF_MAX_FRAMES * sizeof(*pp.frames));
	pp.name = malloc(PPROF_MAX_NAME + 1);
	pp.file = malloc(PPROF_MAX_NAME + 1);
	if (pp.frames && pp.name && pp.file) {
		ret = pprof_tables(&pp, all);
		if (!ret)
			ret = pprof_samples(&pp, all, p, st);
	}
	free(pp.str);
	free(pp.fn);
	free(pp.loc);
	free(pp.line);
	free(pp.locs);
	free(pp.frames);
	free(pp.name);
	free(pp.file);
	return ret;
}

int pprof_inflate(FILE *f, unsigned char **out, size_t *len)
{
	unsigned char in[65536];
	unsigned char *raw = NULL;
	size_t nraw = 0, craw = 0;
	z_stream z = { 0 };
	int zr = Z_OK, ret = 0;

	if (inflateInit2(&z, 15 + 32) != Z_OK)
		return -ENOMEM;
	while (zr != Z_STREAM_END && !ret) {
		size_t n = fread(in, 1, sizeof(in), f);

		if (!n)
			break;
		z.next_in = in;
		z.avail_in = (uInt)n;
		while (z.avail_in && zr != Z_STREAM_END && !ret) {
			if (nraw == craw) {
				size_t nc = craw ? 2 * craw : 1 << 20;
				unsigned char *nr;

				if (nc > PPROF_MAX_RAW) {
					ret = -EFBIG;
					break;
				}
				nr = realloc(raw, nc);
				if (!nr) {
					ret = -ENOMEM;
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
				ret = zr == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
		}
	}
	inflateEnd(&z);
	if (!ret && ferror(f))
		ret = -EIO;
	if (!ret && zr != Z_STREAM_END)
		ret = -EINVAL;
	if (ret) {
		free(raw);
		return ret;
	}
	*out = raw;
	*len = nraw;
	return 0;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pprof writer: a small protobuf encoder (varints and length-delimited
 * fields are all profile.proto needs) and zlib's gzip framing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "model/frames.h"
#include "model/intern.h"
#include "output/pprof.h"

#define MAX_FRAMES_PER_STACK 4096

struct pb {
	unsigned char *b;
	size_t n, cap;
	int err;
};

static void pb_put(struct pb *p, const void *d, size_t len)
{
	if (p->err)
		return;
	if (p->n + len > p->cap) {
		size_t cap = p->cap ? p->cap : 4096;
		unsigned char *nb;

		while (cap < p->n + len)
			cap *= 2;
		nb = realloc(p->b, cap);
		if (!nb) {
			p->err = -ENOMEM;
			return;
		}
		p->b = nb;
		p->cap = cap;
	}
	memcpy(p->b + p->n, d, len);
	p->n += len;
}

static void pb_varint(struct pb *p, uint64_t v)
{
	unsigned char b[10];
	size_t n = 0;

	do {
		b[n] = v & 0x7f;
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	pb_put(p, b, n);
}

static void pb_int(struct pb *p, unsigned field, uint64_t v)
{
	if (!v)
		return; /* proto3 default */
	pb_varint(p, (uint64_t)field << 3);
	pb_varint(p, v);
}

static void pb_bytes(struct pb *p, unsigned field, const void *d, size_t len)
{
	pb_varint(p, (uint64_t)field << 3 | 2);
	pb_varint(p, len);
	pb_put(p, d, len);
}

static void pb_msg(struct pb *p, unsigned field, struct pb *sub)
{
	if (sub->err)
		p->err = sub->err;
	pb_bytes(p, field, sub->b, sub->n);
	sub->n = 0;
}

/* (a, b, c) -> id, for functions (name, file) and locations (func, line). */
struct idmap {
	struct {
		int64_t a, b;
		uint64_t id;
	} *e;
	size_t n, cap;
};

static uint64_t id_of(struct idmap *m, int64_t a, int64_t b, bool *fresh)
{
	size_t i;

	*fresh = false;
	if ((m->n + 1) * 2 > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 1024;
		typeof(m->e) ne = calloc(ncap, sizeof(*ne));

		if (!ne)
			return 0;
		for (size_t k = 0; k < m->cap; k++) {
			if (!m->e[k].id)
				continue;
			i = (uint64_t)(m->e[k].a * 31 + m->e[k].b) * 0x9e3779b97f4a7c15ULL >> 20 & (ncap - 1);
			while (ne[i].id)
				i = (i + 1) & (ncap - 1);
			ne[i] = m->e[k];
		}
		free(m->e);
		m->e = ne;
		m->cap = ncap;
	}
	i = (uint64_t)(a * 31 + b) * 0x9e3779b97f4a7c15ULL >> 20 & (m->cap - 1);
	while (m->e[i].id && !(m->e[i].a == a && m->e[i].b == b))
		i = (i + 1) & (m->cap - 1);
	if (!m->e[i].id) {
		m->e[i].a = a;
		m->e[i].b = b;
		m->e[i].id = ++m->n;
		*fresh = true;
	}
	return m->e[i].id;
}

struct enc {
	struct pb out, sub, sub2;
	struct intern st; /* the string table: id 0 = "" */
	struct idmap funcs, locs;
	struct pb functions, locations;
};

static int64_t S(struct enc *e, const char *s, size_t len)
{
	int64_t id = intern_id(&e->st, s, len);

	if (id < 0)
		e->out.err = (int)id;
	return id < 0 ? 0 : id;
}

static int64_t SZ(struct enc *e, const char *s)
{
	return S(e, s, strlen(s));
}

static uint64_t location(struct enc *e, const struct frame_parts *fp)
{
	int64_t name = S(e, fp->name, fp->name_len);
	/* kernel frames are told apart by their "file", as perf names it */
	int64_t file = fp->file ? S(e, fp->file, fp->file_len) :
		       fp->kind == FRAME_KERNEL ? SZ(e, "[kernel.kallsyms]") : 0;
	uint64_t fid, lid;
	bool fresh;

	fid = id_of(&e->funcs, name, file, &fresh);
	if (!fid)
		return 0;
	if (fresh) {
		pb_int(&e->sub, 1, fid);
		pb_int(&e->sub, 2, (uint64_t)name);
		pb_int(&e->sub, 3, (uint64_t)name);
		pb_int(&e->sub, 4, (uint64_t)file);
		pb_msg(&e->functions, 5, &e->sub);
	}
	lid = id_of(&e->locs, (int64_t)fid, fp->line, &fresh);
	if (!lid)
		return 0;
	if (fresh) {
		pb_int(&e->sub2, 1, fid);
		pb_int(&e->sub2, 2, (uint64_t)fp->line);
		pb_int(&e->sub, 1, lid);
		pb_msg(&e->sub, 4, &e->sub2);
		pb_msg(&e->locations, 4, &e->sub);
	}
	return lid;
}

static void label_str(struct enc *e, struct pb *sample, const char *k,
		      const char *v, size_t vlen)
{
	pb_int(&e->sub2, 1, (uint64_t)SZ(e, k));
	pb_int(&e->sub2, 2, (uint64_t)S(e, v, vlen));
	pb_msg(sample, 3, &e->sub2);
}

static void label_num(struct enc *e, struct pb *sample, const char *k, long v)
{
	pb_int(&e->sub2, 1, (uint64_t)SZ(e, k));
	pb_int(&e->sub2, 3, (uint64_t)v);
	pb_msg(sample, 3, &e->sub2);
}

static void value_type(struct enc *e, unsigned field, const char *type,
		       const char *unit)
{
	pb_int(&e->sub, 1, (uint64_t)SZ(e, type));
	pb_int(&e->sub, 2, (uint64_t)SZ(e, unit));
	pb_msg(&e->out, field, &e->sub);
}

static int encode(const struct profile_data *d, struct pb *raw)
{
	struct enc e = { 0 };
	struct pb sample = { 0 };
	const struct stack_count *sc;
	uint64_t *locs = calloc(MAX_FRAMES_PER_STACK, sizeof(*locs));
	double period = d->hz > 0 ? 1e9 / d->hz : 1e7;
	size_t n;
	int ret;

	if (!locs)
		return -ENOMEM;
	SZ(&e, "");
	value_type(&e, 1, "samples", "count");
	value_type(&e, 1, d->timed ? "wall" : "cpu", "nanoseconds");
	sc = stackagg__sorted(d->agg, &n);
	for (size_t i = 0; sc && i < n; i++) {
		const char *s = sc[i].stack, *semi;
		unsigned long long count = sc[i].count, value;
		size_t nl = 0;
		bool root = true;
		struct frame_parts fp;

		for (;;) {
			semi = strchr(s, ';');
			frame_parse(s, semi ? (size_t)(semi - s) : strlen(s), root, &fp);
			switch (fp.kind) {
			case FRAME_CONTAINER:
				label_str(&e, &sample, "container", fp.name, fp.name_len);
				break;
			case FRAME_PROCESS:
				label_num(&e, &sample, "pid", fp.pid);
				label_str(&e, &sample, "process", fp.name, fp.name_len);
				break;
			case FRAME_THREAD:
				label_num(&e, &sample, "tid", fp.pid);
				label_str(&e, &sample, "thread", fp.name, fp.name_len);
				break;
			default:
				root = false;
				if (nl < MAX_FRAMES_PER_STACK)
					locs[nl++] = location(&e, &fp);
			}
			if (!semi)
				break;
			s = semi + 1;
		}
		/* leaf first */
		pb_varint(&e.sub, 1 << 3 | 2);
		{
			struct pb packed = { 0 };

			for (size_t k = nl; k-- > 0;)
				pb_varint(&packed, locs[k]);
			pb_varint(&e.sub, packed.n);
			pb_put(&e.sub, packed.b, packed.n);
			free(packed.b);
		}
		if (d->timed) {
			value = count * 1000ULL; /* microseconds */
			count = d->counts ? stackagg__get(d->counts, sc[i].stack) : 1;
		} else {
			value = (unsigned long long)(count * period + 0.5);
		}
		{
			struct pb packed = { 0 };

			pb_varint(&packed, count);
			pb_varint(&packed, value);
			pb_bytes(&e.sub, 2, packed.b, packed.n);
			free(packed.b);
		}
		pb_put(&e.sub, sample.b, sample.n);
		sample.n = 0;
		pb_msg(&e.out, 2, &e.sub);
	}
	pb_put(&e.out, e.locations.b, e.locations.n);
	pb_put(&e.out, e.functions.b, e.functions.n);
	{
		/* comments and the period before the string table, which must
		 * hold every string they use */
		int64_t ptype = SZ(&e, d->timed ? "wall" : "cpu");
		int64_t punit = SZ(&e, "nanoseconds");
		int64_t comment = SZ(&e, d->title ? d->title : "pyrograph");

		for (size_t k = 0; k < e.st.n; k++)
			pb_bytes(&e.out, 6, e.st.s[k], strlen(e.st.s[k]));
		pb_int(&e.out, 9, d->start_ns);
		pb_int(&e.out, 10, d->duration_ns);
		pb_int(&e.sub, 1, (uint64_t)ptype);
		pb_int(&e.sub, 2, (uint64_t)punit);
		pb_msg(&e.out, 11, &e.sub);
		pb_int(&e.out, 12, (uint64_t)(d->timed ? 1000 : period + 0.5));
		pb_int(&e.out, 13, (uint64_t)comment);
		pb_int(&e.out, 14, (uint64_t)ptype);
	}
	ret = e.out.err ? e.out.err : e.sub.err ? e.sub.err : e.functions.err ?
	      e.functions.err : e.locations.err;
	*raw = e.out;
	free(e.sub.b);
	free(e.sub2.b);
	free(e.functions.b);
	free(e.locations.b);
	free(sample.b);
	free(e.funcs.e);
	free(e.locs.e);
	intern_free(&e.st);
	free(locs);
	return ret;
}

int pprof_encode(const struct profile_data *d, unsigned char **out, size_t *len)
{
	struct pb raw = { 0 };
	z_stream z = { 0 };
	unsigned char *buf;
	size_t cap;
	int ret = encode(d, &raw);

	if (ret) {
		free(raw.b);
		return ret;
	}
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16 /* gzip */, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		free(raw.b);
		return -ENOMEM;
	}
	cap = deflateBound(&z, raw.n) + 64;
	buf = malloc(cap);
	if (!buf) {
		deflateEnd(&z);
		free(raw.b);
		return -ENOMEM;
	}
	z.next_in = raw.b;
	z.avail_in = raw.n;
	z.next_out = buf;
	z.avail_out = cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(raw.b);
		free(buf);
		return -EIO;
	}
	*len = cap - z.avail_out;
	*out = buf;
	deflateEnd(&z);
	free(raw.b);
	return 0;
}

int pprof_write(FILE *f, const struct profile_data *d)
{
	unsigned char *b;
	size_t len;
	int ret = pprof_encode(d, &b, &len);

	if (ret)
		return ret;
	if (fwrite(b, 1, len, f) != len)
		ret = -EIO;
	free(b);
	return ret;
}

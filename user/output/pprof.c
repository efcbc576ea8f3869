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
#include "model/array.h"
#include "output/pprof.h"
#include "sys/container.h"

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

/* (a, b) -> id 1, 2, 3...: functions (name, file), locations (function, line). */
struct pairs {
	struct pair {
		int64_t a, b;
	} *e;
	size_t n, cap;
	struct hashidx ix;
};

struct pair_key {
	const struct pairs *m;
	int64_t a, b;
};

static bool pair_eq(const void *ctx, uint32_t pos)
{
	const struct pair_key *k = ctx;

	return k->m->e[pos].a == k->a && k->m->e[pos].b == k->b;
}

/* The id of (a, b), *fresh when it is new; 0 when out of memory. */
static uint64_t pair_id(struct pairs *m, int64_t a, int64_t b, bool *fresh)
{
	struct pair_key k = { m, a, b };
	uint64_t h = hash_mix(hash_mix((uint64_t)a) ^ (uint64_t)b);
	long pos = hashidx_find(&m->ix, h, pair_eq, &k);

	*fresh = false;
	if (pos >= 0)
		return (uint64_t)pos + 1;
	if (array_reserve(&m->e, &m->cap, m->n + 1, sizeof(*m->e), 1024))
		return 0;
	if (m->n >= UINT32_MAX - 1 || hashidx_insert(&m->ix, h, (uint32_t)m->n))
		return 0;
	m->e[m->n] = (struct pair){ a, b };
	*fresh = true;
	return ++m->n;
}

static void pairs_free(struct pairs *m)
{
	free(m->e);
	hashidx_free(&m->ix);
}

struct enc {
	struct pb out, sub, sub2;
	struct intern st; /* the string table: id 0 = "" */
	struct pairs funcs, locs;
	struct pb functions, locations;
	struct frame_table *ft;
	/* per frame table string: its id in st + 1 (0: not yet there) */
	int64_t *sid;
	/* per frame: its location id (0: not yet encoded) */
	uint64_t *loc;
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

/* A frame table string in the profile's string table. */
static int64_t SF(struct enc *e, uint32_t fsid)
{
	if (!e->sid[fsid]) {
		int64_t id = SZ(e, e->ft->strs.s[fsid]);

		if (e->out.err)
			return 0;
		e->sid[fsid] = id + 1;
	}
	return e->sid[fsid] - 1;
}

/*
 * A frame's location: its function is (name, file), as pprof merges
 * them; Python frames add their line. Encoded once per frame.
 */
static uint64_t location(struct enc *e, frame_id id)
{
	const struct frame *f = frames_get(e->ft, id);
	int64_t name, file;
	uint64_t fid, lid;
	bool fresh;

	if (e->loc[id])
		return e->loc[id];
	name = SF(e, f->name);
	/* kernel frames are told apart by their "file", as perf names it */
	file = f->file != FRAME_NO_STR ? SF(e, f->file) :
	       f->kind == FRAME_KERNEL ? SZ(e, "[kernel.kallsyms]") : 0;
	fid = pair_id(&e->funcs, name, file, &fresh);
	if (!fid) {
		e->out.err = -ENOMEM;
		return 0;
	}
	if (fresh) {
		pb_int(&e->sub, 1, fid);
		pb_int(&e->sub, 2, (uint64_t)name);
		pb_int(&e->sub, 3, (uint64_t)name);
		pb_int(&e->sub, 4, (uint64_t)file);
		pb_msg(&e->functions, 5, &e->sub);
	}
	lid = pair_id(&e->locs, (int64_t)fid, f->kind == FRAME_PYTHON ? f->line : 0, &fresh);
	if (!lid) {
		e->out.err = -ENOMEM;
		return 0;
	}
	if (fresh) {
		pb_int(&e->sub2, 1, fid);
		pb_int(&e->sub2, 2, (uint64_t)(int64_t)(f->kind == FRAME_PYTHON ? f->line : 0));
		pb_int(&e->sub, 1, lid);
		pb_msg(&e->sub, 4, &e->sub2);
		pb_msg(&e->locations, 4, &e->sub);
	}
	e->loc[id] = lid;
	return lid;
}

/* A label of a frame table string: the key enters the string table first. */
static void label_str(struct enc *e, struct pb *sample, const char *k, uint32_t fsid)
{
	pb_int(&e->sub2, 1, (uint64_t)SZ(e, k));
	pb_int(&e->sub2, 2, (uint64_t)SF(e, fsid));
	pb_msg(sample, 3, &e->sub2);
}

static void label_sub(struct enc *e, struct pb *sample, const char *k,
		      const char *s, size_t len)
{
	pb_int(&e->sub2, 1, (uint64_t)SZ(e, k));
	pb_int(&e->sub2, 2, (uint64_t)S(e, s, len));
	pb_msg(sample, 3, &e->sub2);
}

/* A container frame's labels: container (its name, else its short id),
 * container_id, image, pod, namespace where known; a cgroup's: cgroup. */
static void container_labels(struct enc *e, struct pb *sample, const char *text)
{
	struct container_label_parts p;

	container_label_parse(text, strlen(text), &p);
	if (p.cgroup) {
		label_sub(e, sample, "cgroup", p.cgroup, p.cgroup_len);
		return;
	}
	label_sub(e, sample, "container", p.name, p.name_len);
	if (p.id_len)
		label_sub(e, sample, "container_id", p.id, p.id_len);
	if (p.image_len)
		label_sub(e, sample, "image", p.image, p.image_len);
	if (p.pod_len)
		label_sub(e, sample, "pod", p.pod, p.pod_len);
	if (p.ns_len)
		label_sub(e, sample, "namespace", p.ns, p.ns_len);
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

/* The leading root frames become labels, the others locations (locs). */
static size_t sample_frames(struct enc *e, struct pb *labels, const frame_id *f,
			    uint32_t n, uint64_t *locs)
{
	size_t nl = 0;
	uint32_t k = 0;

	for (; k < n && frame_is_root(e->ft, f[k]); k++) {
		const struct frame *fr = frames_get(e->ft, f[k]);

		if (fr->kind == FRAME_CONTAINER) {
			container_labels(e, labels, frame_name(e->ft, f[k]));
		} else if (fr->kind == FRAME_PROCESS) {
			label_num(e, labels, "pid", fr->pid);
			label_str(e, labels, "process", fr->name);
		} else {
			label_num(e, labels, "tid", fr->pid);
			label_str(e, labels, "thread", fr->name);
		}
	}
	for (; k < n && nl < MAX_FRAMES_PER_STACK; k++)
		locs[nl++] = location(e, f[k]);
	return nl;
}

/*
 * One sample: locations leaf first, then (samples, cpu/wall ns): untimed,
 * the value is samples and the time derives from the rate; timed, the
 * value is microseconds and the count the events behind them.
 */
static void sample(struct enc *e, const struct profile_data *d, stack_id id,
		   uint64_t *locs, struct pb *labels, struct pb *packed)
{
	const struct profile_weight *w = &d->prof->w[id];
	double period = d->hz > 0 ? 1e9 / d->hz : 1e7;
	unsigned long long count, value;
	uint32_t n;
	const frame_id *f = stacks_get(&d->prof->st, id, &n);
	size_t nl = sample_frames(e, labels, f, n, locs);

	pb_varint(&e->sub, 1 << 3 | 2);
	for (size_t k = nl; k-- > 0;)
		pb_varint(packed, locs[k]);
	pb_varint(&e->sub, packed->n);
	pb_put(&e->sub, packed->b, packed->n);
	packed->n = 0;
	if (d->timed) {
		value = w->value * 1000ULL;
		count = w->count;
	} else {
		count = w->value;
		value = (unsigned long long)(count * period + 0.5);
	}
	pb_varint(packed, count);
	pb_varint(packed, value);
	pb_bytes(&e->sub, 2, packed->b, packed->n);
	if (packed->err)
		e->sub.err = packed->err;
	packed->n = 0;
	pb_put(&e->sub, labels->b, labels->n);
	if (labels->err)
		e->sub.err = labels->err;
	labels->n = 0;
	pb_msg(&e->out, 2, &e->sub);
}

/* After the samples: the tables, the period and the comment. */
static void trailer(struct enc *e, const struct profile_data *d)
{
	double period = d->hz > 0 ? 1e9 / d->hz : 1e7;
	/* comments and the period before the string table, which must hold
	 * every string they use */
	int64_t ptype = SZ(e, d->timed ? "wall" : "cpu");
	int64_t punit = SZ(e, "nanoseconds");
	int64_t comment = SZ(e, d->title ? d->title : "pyrograph");

	pb_put(&e->out, e->locations.b, e->locations.n);
	pb_put(&e->out, e->functions.b, e->functions.n);
	for (size_t k = 0; k < e->st.n; k++)
		pb_bytes(&e->out, 6, e->st.s[k], strlen(e->st.s[k]));
	pb_int(&e->out, 9, d->start_ns);
	pb_int(&e->out, 10, d->duration_ns);
	pb_int(&e->sub, 1, (uint64_t)ptype);
	pb_int(&e->sub, 2, (uint64_t)punit);
	pb_msg(&e->out, 11, &e->sub);
	pb_int(&e->out, 12, (uint64_t)(d->timed ? 1000 : period + 0.5));
	pb_int(&e->out, 13, (uint64_t)comment);
	pb_int(&e->out, 14, (uint64_t)ptype);
}

int pprof_encode_raw(const struct profile_data *d, unsigned char **out, size_t *len)
{
	struct enc e = { .ft = d->prof ? d->prof->ft : NULL };
	struct pb labels = { 0 }, packed = { 0 };
	uint64_t *locs = calloc(MAX_FRAMES_PER_STACK, sizeof(*locs));
	stack_id *ids = NULL;
	size_t n = 0;
	int ret = -ENOMEM;

	if (!d->prof) {
		free(locs);
		return -EINVAL;
	}
	e.sid = calloc(e.ft->strs.n ? e.ft->strs.n : 1, sizeof(*e.sid));
	e.loc = calloc(e.ft->n ? e.ft->n : 1, sizeof(*e.loc));
	ids = profile_sorted(d->prof, &n);
	if (!locs || !e.sid || !e.loc || (!ids && profile_count(d->prof)))
		goto out;
	SZ(&e, "");
	value_type(&e, 1, "samples", "count");
	value_type(&e, 1, d->timed ? "wall" : "cpu", "nanoseconds");
	for (size_t i = 0; i < n; i++)
		sample(&e, d, ids[i], locs, &labels, &packed);
	trailer(&e, d);
	ret = e.out.err ? e.out.err : e.sub.err ? e.sub.err : e.sub2.err ? e.sub2.err :
	      e.functions.err ? e.functions.err : e.locations.err;
out:
	if (ret)
		free(e.out.b);
	*out = ret ? NULL : e.out.b;
	*len = ret ? 0 : e.out.n;
	free(e.sub.b);
	free(e.sub2.b);
	free(e.functions.b);
	free(e.locations.b);
	free(labels.b);
	free(packed.b);
	pairs_free(&e.funcs);
	pairs_free(&e.locs);
	intern_free(&e.st);
	free(e.sid);
	free(e.loc);
	free(ids);
	free(locs);
	return ret;
}

int pprof_encode(const struct profile_data *d, unsigned char **out, size_t *len)
{
	unsigned char *raw, *buf = NULL;
	size_t nraw, cap;
	z_stream z = { 0 };
	int ret = pprof_encode_raw(d, &raw, &nraw);

	if (ret)
		return ret;
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16 /* gzip */, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		free(raw);
		return -ENOMEM;
	}
	cap = deflateBound(&z, nraw) + 64;
	buf = malloc(cap);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	z.next_in = raw;
	z.avail_in = nraw;
	z.next_out = buf;
	z.avail_out = cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		ret = -EIO;
		goto out;
	}
	*len = cap - z.avail_out;
	*out = buf;
	buf = NULL;
out:
	deflateEnd(&z);
	free(raw);
	free(buf);
	return ret;
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

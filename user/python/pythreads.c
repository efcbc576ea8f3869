// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Thread names from threading._active (see pythreads.h): sys.modules ->
 * 'threading' -> its '_active' dict -> each Thread's '_name' and
 * '_native_id'. Everything read is bounded: the dict sizes believed, the
 * entries looked at, string lengths; an address that does not read ends
 * that part of the walk.
 *
 * Layouts (x86-64, GIL builds), measured with gdb from the DWARF of the
 * pyenv builds 3.8.18, 3.9.18, 3.10.13, 3.11.7, 3.12.1 and 3.13.0, and
 * the instance layouts also checked live through ctypes on each:
 * - in all of them: PyObject.ob_type 8; PyDictObject ma_used 16, ma_keys
 *   32, ma_values 40; PyTypeObject tp_basicsize 32, tp_flags 168,
 *   tp_dictoffset 288; PyModuleObject.md_dict 16; PyLongObject ob_size
 *   (lv_tag from 3.12) 16, its 30-bit digits from 24.
 * - PyDictKeysObject 3.8-3.10: dk_size 8, dk_nentries 32, dk_indices 40
 *   (dk_size indices of 1, 2, 4 or 8 bytes, as dk_size needs), then
 *   entries {hash, key, value} of 24 bytes. 3.11+: dk_log2_size 8,
 *   dk_log2_index_bytes 9, dk_kind 10, dk_nentries 24, dk_indices 32
 *   (1 << dk_log2_index_bytes bytes), then entries of 24 bytes (kind 0,
 *   general) or {key, value} of 16 (kinds 1 and 2: unicode, split).
 * - a split dict's values are indexed like its keys' entries: ma_values
 *   is the array itself up to 3.12, a PyDictValues with the array at 8 in
 *   3.13 (capacity: byte 0, valid: byte 3).
 * - an instance's attributes: 3.8-3.10 a dict at tp_dictoffset. Where the
 *   type has Py_TPFLAGS_MANAGED_DICT (1 << 4; pycore_object.h): 3.11 a
 *   values array at obj - 32 (keys shared in the type's
 *   PyHeapTypeObject.ht_cached_keys, at 872), else a dict at obj - 24;
 *   3.12 one word at obj - 24, the values array at word + 1 when its low
 *   bit is set (ht_cached_keys at 880), else the dict; 3.13 the dict at
 *   obj - 24 if there is one, else with Py_TPFLAGS_INLINE_VALUES (1 << 2)
 *   the values inline at obj + tp_basicsize (ht_cached_keys at 880).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "python/memread.h"
#include "python/pystr.h"
#include "python/pythreads.h"
#include "python/pyversions.h"

#define OB_TYPE 8
#define DICT_USED 16
#define DICT_KEYS 32
#define DICT_VALUES 40
#define TP_BASICSIZE 32
#define TP_FLAGS 168
#define TP_DICTOFFSET 288
#define MODULE_DICT 16
#define LONG_SIZE 16
#define LONG_DIGITS 24
#define TPFLAGS_INLINE_VALUES (1ULL << 2)
#define TPFLAGS_MANAGED_DICT (1ULL << 4)

#define MAX_MODULES 8192 /* sys.modules entries looked at */
#define MAX_ATTRS 256	 /* attributes of one Thread looked at */
#define CHUNK 64	 /* dict entries per read */
#define TYPES_MAX 8	 /* Thread classes remembered per reading */

/* Where an instance keeps its attributes. */
enum inst_layout {
	INST_DICTOFFSET, /* 3.8-3.10 */
	INST_MANAGED_311,
	INST_MANAGED_312,
	INST_INLINE_313,
};

struct obj_layout {
	bool log2_keys;	     /* 3.11+ dict keys header */
	bool long_tag;	     /* 3.12+ lv_tag */
	__u8 inst;	     /* enum inst_layout */
	__u8 values_off;     /* the array in a PyDictValues */
	__u16 cached_keys;   /* PyHeapTypeObject.ht_cached_keys */
};

static const struct obj_layout layouts[] = {
	[8] = { false, false, INST_DICTOFFSET, 0, 0 },
	[9] = { false, false, INST_DICTOFFSET, 0, 0 },
	[10] = { false, false, INST_DICTOFFSET, 0, 0 },
	[11] = { true, false, INST_MANAGED_311, 0, 872 },
	[12] = { true, true, INST_MANAGED_312, 0, 880 },
	[13] = { true, true, INST_INLINE_313, 8, 880 },
};

struct pythreads {
	pid_t pid;
	struct py_offsets off;
	unsigned long long runtime;
	const struct obj_layout *lay;
	unsigned long long active;    /* threading._active; 0: not found yet */
	unsigned long long dict_type; /* ob_type of sys.modules: dict */
	unsigned long long long_type; /* ob_type of _active's keys: int */
	long long modules_used;	      /* sys.modules' size when last searched */
	/* the interned attribute names, once seen */
	unsigned long long key_name, key_native;
	/* Per reading (a type or shared keys may be freed and their memory
	 * reused between two): the types of the Threads seen, and where
	 * _name and _native_id sit in the shared keys of their instances. */
	struct type_info {
		unsigned long long type, flags, cached_keys;
		long long basic, dictoff;
	} types[TYPES_MAX];
	struct split_info {
		unsigned long long keys;
		unsigned int ix_name, ix_native;
	} splits[TYPES_MAX];
	int ntypes, nsplits;
};

/* One dict's storage: its keys and, split, its values array. */
struct dict_src {
	unsigned long long keys;
	unsigned long long values; /* &values[0]; 0: combined */
	unsigned int capacity;	   /* split: values there at most */
};

/* An entry with a key and a value: its index among the keys' entries, its
 * cached hash (0 in unicode-keyed dicts, which keep none). */
struct entry {
	unsigned int ix;
	unsigned long long hash, key, value;
};

/* Called for each entry; true stops the walk. */
typedef bool (*entry_fn)(void *ctx, const struct entry *e);

static int rd(const struct pythreads *pt, unsigned long long addr, void *buf,
	      size_t len)
{
	if (addr + len < addr)
		return -EFAULT;
	return mem_read(pid_ctx(pt->pid), addr, buf, len);
}

static unsigned long long u64_at(const unsigned char *b, size_t off)
{
	unsigned long long v;

	memcpy(&v, b + off, sizeof(v));
	return v;
}

static unsigned long long rd_u64(const struct pythreads *pt,
				 unsigned long long addr)
{
	unsigned long long v = 0;

	if (rd(pt, addr, &v, sizeof(v)))
		return 0;
	return v;
}

struct pythreads *pythreads_new(pid_t pid, const struct py_proc *p)
{
	unsigned minor = PY_VERSION_MINOR(p->off.version);
	struct pythreads *pt;

	if (PY_VERSION_MAJOR(p->off.version) != 3 || minor < 8 ||
	    minor >= sizeof(layouts) / sizeof(layouts[0]) || !p->runtime ||
	    p->off.interp_modules == PY_OFF_NONE)
		return NULL;
	pt = calloc(1, sizeof(*pt));
	if (!pt)
		return NULL;
	pt->pid = pid;
	pt->off = p->off;
	pt->runtime = p->runtime;
	pt->lay = &layouts[minor];
	pt->modules_used = -1;
	return pt;
}

void pythreads_free(struct pythreads *pt)
{
	free(pt);
}

/* Where a dict's entries are, from its keys header. */
struct keys_view {
	unsigned long long entries;
	long long n;
	unsigned int esize, kpos, vpos;
};

static int keys_view(const struct pythreads *pt, unsigned long long keys,
		     struct keys_view *kv)
{
	unsigned char h[40];
	unsigned long long size, ixbytes;

	if (rd(pt, keys, h, sizeof(h)))
		return -EFAULT;
	if (!pt->lay->log2_keys) {
		size = u64_at(h, 8);
		if (size < 8 || size > (1ULL << 30) || (size & (size - 1)))
			return -EINVAL;
		ixbytes = size * (size <= 0xff ? 1 : size <= 0xffff ? 2 : 4);
		kv->entries = keys + 40 + ixbytes;
		kv->n = (long long)u64_at(h, 32);
		kv->esize = 24;
		kv->kpos = 8;
		kv->vpos = 16;
	} else {
		if (h[8] < 3 || h[8] > 30 || h[9] > 33 || h[10] > 2)
			return -EINVAL;
		size = 1ULL << h[8];
		kv->entries = keys + 32 + (1ULL << h[9]);
		kv->n = (long long)u64_at(h, 24);
		kv->esize = h[10] ? 16 : 24;
		kv->kpos = h[10] ? 0 : 8;
		kv->vpos = h[10] ? 8 : 16;
	}
	if (kv->n < 0 || (unsigned long long)kv->n > size)
		return -EINVAL;
	return 0;
}

/* fn for each of the first max entries that have a key and a value. */
static int dict_walk(const struct pythreads *pt, const struct dict_src *d,
		     int max, entry_fn fn, void *ctx)
{
	unsigned char e[CHUNK * 24];
	unsigned long long vals[CHUNK];
	struct keys_view kv;
	long long n;
	int ret = keys_view(pt, d->keys, &kv);

	if (ret)
		return ret;
	n = kv.n < max ? kv.n : max;
	if (d->values && n > d->capacity)
		n = d->capacity;
	for (long long i = 0; i < n; i += CHUNK) {
		unsigned int c = n - i < CHUNK ? (unsigned int)(n - i) : CHUNK;

		if (rd(pt, kv.entries + i * kv.esize, e, (size_t)c * kv.esize))
			return -EFAULT;
		if (d->values && rd(pt, d->values + i * 8, vals, c * 8ULL))
			return -EFAULT;
		for (unsigned int k = 0; k < c; k++) {
			struct entry en = {
				.ix = (unsigned int)(i + k),
				.hash = kv.esize == 24 ? u64_at(e, k * kv.esize) : 0,
				.key = u64_at(e, k * kv.esize + kv.kpos),
				.value = d->values ? vals[k] :
					 u64_at(e, k * kv.esize + kv.vpos),
			};

			if (en.key && en.value && fn(ctx, &en))
				return 0;
		}
	}
	return 0;
}

/* The storage of the dict object at dict. */
static int dict_src_of(const struct pythreads *pt, unsigned long long dict,
		       struct dict_src *d)
{
	unsigned char h[48];
	unsigned char cap = 0;

	if (!dict || rd(pt, dict, h, sizeof(h)))
		return -EFAULT;
	d->keys = u64_at(h, DICT_KEYS);
	d->values = u64_at(h, DICT_VALUES);
	d->capacity = 0;
	if (d->values) {
		/* 3.13: the array follows a header that says how long it is */
		if (pt->lay->values_off && rd(pt, d->values, &cap, 1))
			return -EFAULT;
		d->capacity = pt->lay->values_off ? cap : MAX_ATTRS;
		d->values += pt->lay->values_off;
	}
	return d->keys ? 0 : -EFAULT;
}

/* What instance layouts need of type, read once per reading. */
static const struct type_info *type_info(struct pythreads *pt,
					 unsigned long long type)
{
	unsigned char t[TP_DICTOFFSET + 8];
	struct type_info *ti;

	for (int i = 0; i < pt->ntypes; i++)
		if (pt->types[i].type == type)
			return &pt->types[i];
	if (!type || rd(pt, type, t, sizeof(t)))
		return NULL;
	ti = &pt->types[pt->ntypes < TYPES_MAX ? pt->ntypes++ : TYPES_MAX - 1];
	ti->type = type;
	ti->flags = u64_at(t, TP_FLAGS);
	ti->basic = (long long)u64_at(t, TP_BASICSIZE);
	ti->dictoff = (long long)u64_at(t, TP_DICTOFFSET);
	/* the shared keys of a split (values-only) instance */
	ti->cached_keys = pt->lay->cached_keys ?
		rd_u64(pt, type + pt->lay->cached_keys) : 0;
	return ti;
}

/* Where instance obj keeps its attributes. */
static int inst_src(struct pythreads *pt, unsigned long long obj,
		    struct dict_src *d)
{
	const struct type_info *ti = type_info(pt, rd_u64(pt, obj + OB_TYPE));
	unsigned long long w;
	unsigned char vh[4];

	if (!ti)
		return -EFAULT;
	d->capacity = MAX_ATTRS;
	if (pt->lay->inst == INST_DICTOFFSET || !(ti->flags & TPFLAGS_MANAGED_DICT)) {
		if (ti->dictoff <= 0 || ti->dictoff > 4096)
			return -ENOENT;
		return dict_src_of(pt, rd_u64(pt, obj + ti->dictoff), d);
	}
	d->keys = ti->cached_keys;
	switch (pt->lay->inst) {
	case INST_MANAGED_311:
		d->values = rd_u64(pt, obj - 32);
		if (d->values && d->keys)
			return 0;
		return dict_src_of(pt, rd_u64(pt, obj - 24), d);
	case INST_MANAGED_312:
		w = rd_u64(pt, obj - 24);
		if (w & 1) {
			d->values = w + 1;
			return d->keys ? 0 : -EFAULT;
		}
		return dict_src_of(pt, w, d);
	default: /* INST_INLINE_313 */
		w = rd_u64(pt, obj - 24);
		if (w)
			return dict_src_of(pt, w, d);
		if (!(ti->flags & TPFLAGS_INLINE_VALUES) || ti->basic < 16 ||
		    ti->basic > 4096 || rd(pt, obj + ti->basic, vh, sizeof(vh)) ||
		    !vh[3] || !d->keys)
			return -ENOENT;
		d->values = obj + ti->basic + pt->lay->values_off;
		d->capacity = vh[0];
		return 0;
	}
}

/* Is the str at addr the ASCII string lit? One read. */
static bool str_is(const struct pythreads *pt, unsigned long long addr,
		   const char *lit)
{
	const struct py_offsets *o = &pt->off;
	size_t len = strlen(lit);
	unsigned char b[128];
	uint32_t state;
	long long slen;

	if (o->ascii_size + len > sizeof(b) || o->unicode_state + 4u > sizeof(b) ||
	    o->unicode_length + 8u > sizeof(b) ||
	    rd(pt, addr, b, o->ascii_size + len))
		return false;
	memcpy(&state, b + o->unicode_state, sizeof(state));
	memcpy(&slen, b + o->unicode_length, sizeof(slen));
	/* compact (bit 5) and ASCII (bit 6), kind 1 (bits 2-4) */
	return (state & 0x7c) == 0x64 && slen == (long long)len &&
	       !memcmp(b + o->ascii_size, lit, len);
}

struct find_ctx {
	const struct pythreads *pt;
	const char *key;
	unsigned long long found;
};

static bool find_cb(void *ctx, const struct entry *e)
{
	struct find_ctx *c = ctx;

	if (!str_is(c->pt, e->key, c->key))
		return false;
	c->found = e->value;
	return true;
}

static unsigned long long dict_get(const struct pythreads *pt,
				   unsigned long long dict, const char *key,
				   int max)
{
	struct find_ctx c = { pt, key, 0 };
	struct dict_src d;

	if (dict_src_of(pt, dict, &d) || dict_walk(pt, &d, max, find_cb, &c))
		return 0;
	return c.found;
}

/* threading._active, once the program has imported threading. */
static int find_active(struct pythreads *pt)
{
	unsigned long long interp, modules, mod, active;
	unsigned char h[48];
	long long used;

	interp = rd_u64(pt, pt->runtime + pt->off.runtime_interp_head);
	modules = interp ? rd_u64(pt, interp + pt->off.interp_modules) : 0;
	if (!modules || rd(pt, modules, h, sizeof(h)))
		return -EFAULT;
	used = (long long)u64_at(h, DICT_USED);
	/* nothing imported since the last look */
	if (used == pt->modules_used)
		return -ENOENT;
	pt->modules_used = used;
	pt->dict_type = u64_at(h, OB_TYPE);
	mod = dict_get(pt, modules, "threading", MAX_MODULES);
	if (!mod)
		return -ENOENT;
	active = dict_get(pt, rd_u64(pt, mod + MODULE_DICT), "_active", MAX_MODULES);
	if (!active || rd_u64(pt, active + OB_TYPE) != pt->dict_type)
		return -ENOENT;
	pt->active = active;
	return 0;
}

/*
 * A small int (an ident, a tid): at most three 30-bit digits. Its type
 * must be that of the keys of _active (int).
 */
static int long_read(struct pythreads *pt, unsigned long long addr,
		     long long *out)
{
	unsigned char b[LONG_DIGITS + 12];
	unsigned long long size, type, v = 0;
	uint32_t dig[3] = { 0 };
	bool neg;
	unsigned nd;

	if (rd(pt, addr, b, LONG_DIGITS + 8))
		return -EFAULT;
	type = u64_at(b, OB_TYPE);
	if (!pt->long_type || type != pt->long_type)
		return -EINVAL; /* None, or not an int at all */
	size = u64_at(b, LONG_SIZE);
	if (pt->lay->long_tag) {
		nd = (size >> 3) < 4 ? (unsigned)(size >> 3) : 4;
		neg = (size & 3) == 2;
	} else {
		neg = (long long)size < 0;
		size = neg ? -size : size;
		nd = size < 4 ? (unsigned)size : 4;
	}
	if (nd > 3)
		return -ERANGE;
	if (nd == 3 && rd(pt, addr + LONG_DIGITS + 8, b + LONG_DIGITS + 8, 4))
		return -EFAULT;
	memcpy(dig, b + LONG_DIGITS, nd * 4);
	for (unsigned i = nd; i-- > 0;) {
		if (dig[i] >> 30 || (i == 2 && dig[i] >> 3))
			return -ERANGE; /* not a digit, or past 63 bits */
		v = v << 30 | dig[i];
	}
	*out = neg ? -(long long)v : (long long)v;
	return 0;
}

struct attr_ctx {
	struct pythreads *pt;
	bool by_text; /* compare the keys' text, not the interned pointers */
	struct entry name, native;
};

static bool attr_cb(void *ctx, const struct entry *e)
{
	struct attr_ctx *c = ctx;
	struct pythreads *pt = c->pt;

	if (!c->by_text) {
		if (e->key == pt->key_name)
			c->name = *e;
		else if (e->key == pt->key_native)
			c->native = *e;
	} else if (!c->name.value && str_is(pt, e->key, "_name")) {
		c->name = *e;
		pt->key_name = e->key;
	} else if (!c->native.value && str_is(pt, e->key, "_native_id")) {
		c->native = *e;
		pt->key_native = e->key;
	}
	return c->name.value && c->native.value;
}

/*
 * Instances of one class share their keys (split dicts, 3.11+ values
 * arrays): once the attributes were found in them, two slots of the
 * values array say the rest. Returns true when that was enough.
 */
static bool split_attrs(struct pythreads *pt, const struct dict_src *d,
			struct attr_ctx *c)
{
	unsigned long long v[MAX_ATTRS];
	const struct split_info *si = NULL;
	unsigned int n;

	for (int i = 0; i < pt->nsplits && d->values; i++)
		if (pt->splits[i].keys == d->keys)
			si = &pt->splits[i];
	if (!si)
		return false;
	n = (si->ix_name > si->ix_native ? si->ix_name : si->ix_native) + 1;
	if (n > d->capacity || n > MAX_ATTRS || rd(pt, d->values, v, n * 8ULL))
		return false;
	c->name.value = v[si->ix_name];
	c->native.value = v[si->ix_native];
	return c->name.value && c->native.value;
}

static void remember_split(struct pythreads *pt, const struct dict_src *d,
			   const struct attr_ctx *c)
{
	struct split_info *si;

	if (!d->values || pt->nsplits >= TYPES_MAX)
		return;
	si = &pt->splits[pt->nsplits++];
	si->keys = d->keys;
	si->ix_name = c->name.ix;
	si->ix_native = c->native.ix;
}

/* A name: short ASCII ones (most) in one read. */
static int name_read(struct pythreads *pt, unsigned long long addr, char *out,
		     size_t len)
{
	const struct py_offsets *o = &pt->off;
	unsigned char b[128 + PYTHREAD_NAME_MAX];
	uint32_t state;
	long long slen;

	if (len <= PYTHREAD_NAME_MAX && o->ascii_size <= 128 &&
	    o->unicode_state + 4u <= o->ascii_size &&
	    o->unicode_length + 8u <= o->ascii_size &&
	    !rd(pt, addr, b, o->ascii_size + len)) {
		memcpy(&state, b + o->unicode_state, sizeof(state));
		memcpy(&slen, b + o->unicode_length, sizeof(slen));
		if ((state & 0x7c) == 0x64 && slen > 0 && slen < (long long)len) {
			memcpy(out, b + o->ascii_size, (size_t)slen);
			out[slen] = '\0';
			return (int)slen;
		}
	}
	return pystr_read(o, mem_read, pid_ctx(pt->pid), addr, out, len);
}

/* _name and _native_id of the Thread at obj. */
static int thread_attrs(struct pythreads *pt, unsigned long long obj,
			struct py_thread_name *out)
{
	struct attr_ctx c = { .pt = pt };
	struct dict_src d;
	int ret = inst_src(pt, obj, &d);

	if (ret)
		return ret;
	if (!split_attrs(pt, &d, &c)) {
		/* The attribute names are interned: after the first Thread,
		 * their pointers find them without reading a string. */
		memset(&c.name, 0, sizeof(c.name));
		memset(&c.native, 0, sizeof(c.native));
		if (pt->key_name && pt->key_native)
			dict_walk(pt, &d, MAX_ATTRS, attr_cb, &c);
		if (!c.name.value || !c.native.value) {
			c.by_text = true;
			dict_walk(pt, &d, MAX_ATTRS, attr_cb, &c);
		}
		if (c.name.value && c.native.value)
			remember_split(pt, &d, &c);
	}
	if (!c.name.value || name_read(pt, c.name.value, out->name,
				       sizeof(out->name)) <= 0)
		return -ENOENT;
	for (char *p = out->name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (!c.native.value || long_read(pt, c.native.value, &out->native_id))
		out->native_id = -1;
	return 0;
}

struct active_ctx {
	struct pythreads *pt;
	struct py_thread_name *out;
	int n, max;
};

/* An int below 2^61 - 1 is its own hash (Python's modular int hash), and
 * idents are addresses: a general dict entry's hash is the key. */
#define HASH_MODULUS ((1ULL << 61) - 1)

static bool active_cb(void *ctx, const struct entry *e)
{
	struct active_ctx *c = ctx;
	struct py_thread_name *t = &c->out[c->n];
	long long ident = (long long)e->hash;

	/* _active's keys are ints: what an int is */
	if (!c->pt->long_type)
		c->pt->long_type = rd_u64(c->pt, e->key + OB_TYPE);
	if ((!e->hash || e->hash >= HASH_MODULUS) &&
	    (long_read(c->pt, e->key, &ident) || ident <= 0))
		return false;
	memset(t, 0, sizeof(*t));
	t->ident = (unsigned long long)ident;
	if (!thread_attrs(c->pt, e->value, t))
		c->n++;
	return c->n >= c->max;
}

int pythreads_read(struct pythreads *pt, struct py_thread_name *out, int max)
{
	struct active_ctx c = { pt, out, 0, max < PYTHREADS_MAX ? max : PYTHREADS_MAX };
	struct dict_src d;
	int ret;

	if (!pt || !out || max <= 0)
		return -EINVAL;
	pt->ntypes = pt->nsplits = 0;
	/* a dict no more (the module went, its memory reused): look again */
	if (pt->active && rd_u64(pt, pt->active + OB_TYPE) != pt->dict_type) {
		pt->active = 0;
		pt->modules_used = -1;
	}
	if (!pt->active) {
		ret = find_active(pt);
		if (ret)
			return ret;
	}
	ret = dict_src_of(pt, pt->active, &d);
	if (!ret)
		ret = dict_walk(pt, &d, c.max, active_cb, &c);
	return ret ? ret : c.n;
}

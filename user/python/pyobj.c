// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * CPython objects of another process (see pyobj.h).
 *
 * The one reader of dicts and instance attributes of another process:
 * asyncio tasks (pytasks.c) and thread names (pythreads.c) go through it.
 *
 * Layouts (x86-64, GIL builds), measured with gdb (ptype /o) from the
 * DWARF of the pyenv builds 3.8.18, 3.9.18, 3.10.13, 3.11.7, 3.12.1 and
 * 3.13.0 and of Debian's python3.14d/python3.15d; tests/e2e/test_tasks.py
 * reads a known task tree through them on Debian 3.11.2, 3.13.5, 3.14.10
 * and 3.15.2 too, and test_thread_names the names of threads on 3.8-3.13:
 * - every version: PyObject.ob_type 8; PyTypeObject tp_name 24,
 *   tp_basicsize 32, tp_flags 168, tp_base 256, tp_dictoffset 288;
 *   PySetObject fill 16, mask 32, table 40 (entries {key, hash}, 16
 *   bytes); PyListObject ob_size 16, ob_item 24; PyDictObject ma_keys 32,
 *   ma_values 40.
 * - PyLongObject: 3.11 ob_size 16 (its sign is the int's), 30-bit digits
 *   from 24; 3.12+ lv_tag 16 (digits << 3, sign in the low 2 bits: 2 is
 *   negative), digits from 24.
 * - PyDictKeysObject 3.8-3.10: dk_size 8, dk_nentries 32, dk_indices 40
 *   (dk_size indices of 1, 2, 4 or 8 bytes, as dk_size needs), then
 *   entries {hash, key, value} of 24 bytes.
 * - PyDictKeysObject (3.11-3.13): dk_log2_size 8, dk_log2_index_bytes 9,
 *   dk_kind 10, dk_nentries 24, dk_indices 32 (1 << log2_index_bytes
 *   bytes), then entries {hash, key, value} of 24 bytes (kind 0, general)
 *   or {key, value} of 16 (kinds 1 and 2: unicode keys, split).
 * - A split dict's values are indexed like its keys' entries: ma_values is
 *   the array itself up to 3.12, a PyDictValues in 3.13 (capacity: byte
 *   0, valid: byte 3, the array at 8).
 * - Instance attributes: 3.8-3.10 a dict at obj + tp_dictoffset. With
 *   Py_TPFLAGS_MANAGED_DICT (1 << 4; pycore_object.h): 3.11 a
 *   values array at obj - 32 (keys: the type's ht_cached_keys, at 872),
 *   else a dict at obj - 24; 3.12 one word at obj - 24, the values array
 *   at word + 1 when its low bit is set (ht_cached_keys at 880), else the
 *   dict; 3.13 the dict at obj - 24 if there is one, else, with
 *   Py_TPFLAGS_INLINE_VALUES (1 << 2), a PyDictValues at obj +
 *   tp_basicsize. Without the flag: a dict at obj + tp_dictoffset.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "python/memread.h"
#include "python/pyobj.h"
#include "python/pystr.h"
#include "python/pyversions.h"

#define OB_TYPE		      8
#define TP_NAME		      24
#define TP_BASICSIZE	      32
#define TP_FLAGS	      168
#define TP_BASE		      256
#define TP_DICTOFFSET	      288
#define SET_FILL	      16
#define SET_MASK	      32
#define SET_TABLE	      40
#define LIST_SIZE	      16
#define LIST_ITEMS	      24
#define DICT_KEYS	      32
#define DICT_VALUES	      40
#define LONG_SIZE	      16
#define LONG_DIGITS	      24
#define TPFLAGS_INLINE_VALUES (1ULL << 2)
#define TPFLAGS_MANAGED_DICT  (1ULL << 4)

#define DICT_ENTRIES_MAX 65536
#define SPLIT_VALUES_MAX 1024
#define ITEMS_MAX	 (1 << 20)
#define CHUNK		 64 /* entries per read */
#define BASES_MAX	 8

enum inst_layout {
	INST_NONE,	 /* dicts and instances not read on this version */
	INST_DICTOFFSET, /* 3.8-3.10 */
	INST_MANAGED_311,
	INST_MANAGED_312,
	INST_INLINE_313,
};

struct pyobj_layout {
	bool log2_keys;		    /* 3.11+ dict keys header */
	bool long_tag;		    /* 3.12+ lv_tag */
	unsigned char inst;	    /* enum inst_layout */
	unsigned char values_off;   /* the array in a PyDictValues */
	unsigned short cached_keys; /* PyHeapTypeObject.ht_cached_keys */
};

static const struct pyobj_layout layouts[] = {
	[8] = {false, false, INST_DICTOFFSET, 0, 0},
	[9] = {false, false, INST_DICTOFFSET, 0, 0},
	[10] = {false, false, INST_DICTOFFSET, 0, 0},
	[11] = {true, false, INST_MANAGED_311, 0, 872},
	[12] = {true, true, INST_MANAGED_312, 0, 880},
	[13] = {true, true, INST_INLINE_313, 8, 880},
	[14] = {true, true, INST_NONE, 0, 0},
	[15] = {true, true, INST_NONE, 0, 0},
};

int pyobj_init(struct pyobj *r, pid_t pid, const struct py_offsets *off)
{
	unsigned minor = PY_VERSION_MINOR(off->version);

	if (PY_VERSION_MAJOR(off->version) != 3 || minor < 8 ||
	    minor >= sizeof(layouts) / sizeof(layouts[0]))
		return -ENOTSUP;
	memset(r, 0, sizeof(*r));
	r->pid = pid;
	r->off = *off;
	r->lay = &layouts[minor];
	return 0;
}

void pyobj_forget(struct pyobj *r)
{
	r->ntypes = 0;
}

int pyobj_read(struct pyobj *r, unsigned long long addr, void *buf, size_t len)
{
	if (!addr || addr + len < addr)
		return -EFAULT;
	r->reads++;
	return mem_read(pid_ctx(r->pid), addr, buf, len);
}

unsigned long long pyobj_ptr(struct pyobj *r, unsigned long long addr)
{
	unsigned long long v = 0;

	if (pyobj_read(r, addr, &v, sizeof(v)))
		return 0;
	return v;
}

static unsigned long long u64_at(const unsigned char *b, size_t off)
{
	unsigned long long v;

	memcpy(&v, b + off, sizeof(v));
	return v;
}

static const struct pyobj_type *type_read(struct pyobj *r,
					  unsigned long long type)
{
	unsigned char b[TP_DICTOFFSET + 8];
	struct pyobj_type *t;
	unsigned long long name;
	size_t k;

	for (int i = 0; i < r->ntypes; i++)
		if (r->types[i].addr == type)
			return &r->types[i];
	if (!type || pyobj_read(r, type, b, sizeof(b)))
		return NULL;
	/* a full table keeps the first ones: the types met first (Task,
	 * WeakSet...) are the ones asked about again */
	t = &r->types[r->ntypes < PYOBJ_TYPES ? r->ntypes++ : PYOBJ_TYPES - 1];
	memset(t, 0, sizeof(*t));
	t->addr = type;
	t->flags = u64_at(b, TP_FLAGS);
	t->base = u64_at(b, TP_BASE);
	t->basicsize = (long long)u64_at(b, TP_BASICSIZE);
	t->dictoffset = (long long)u64_at(b, TP_DICTOFFSET);
	name = u64_at(b, TP_NAME);
	if (!name || pyobj_read(r, name, t->name, sizeof(t->name) - 1))
		t->name[0] = '\0';
	t->name[sizeof(t->name) - 1] = '\0';
	for (k = 0; t->name[k]; k++)
		if ((unsigned char)t->name[k] < 0x20 || t->name[k] == 0x7f)
			t->name[k] = '?';
	if (r->lay->cached_keys)
		t->cached_keys = pyobj_ptr(r, type + r->lay->cached_keys);
	return t;
}

const struct pyobj_type *pyobj_type_of(struct pyobj *r, unsigned long long obj)
{
	return obj ? type_read(r, pyobj_ptr(r, obj + OB_TYPE)) : NULL;
}

bool pyobj_type_is(struct pyobj *r, const struct pyobj_type *t,
		   const char *name)
{
	for (int i = 0; t && i < BASES_MAX; i++) {
		if (!strcmp(t->name, name))
			return true;
		t = t->base ? type_read(r, t->base) : NULL;
	}
	return false;
}

bool pyobj_is(struct pyobj *r, unsigned long long obj, const char *name)
{
	return pyobj_type_is(r, pyobj_type_of(r, obj), name);
}

static int read_cb(void *ctx, unsigned long long addr, void *buf, size_t len)
{
	return pyobj_read(ctx, addr, buf, len);
}

int pyobj_str(struct pyobj *r, unsigned long long addr, char *out, size_t len)
{
	return pystr_read(&r->off, read_cb, r, addr, out, len);
}

int pyobj_long(struct pyobj *r, unsigned long long addr, long long *out)
{
	const struct pyobj_type *t = pyobj_type_of(r, addr);
	unsigned char b[LONG_DIGITS + 12];
	unsigned long long size, v = 0;
	uint32_t dig[3] = {0};
	unsigned nd;
	bool neg;

	/* Py_TPFLAGS_LONG_SUBCLASS: int and bool */
	if (!t || !(t->flags & (1ULL << 24)))
		return -EINVAL;
	if (pyobj_read(r, addr, b, sizeof(b)))
		return -EFAULT;
	size = u64_at(b, LONG_SIZE);
	if (r->lay->long_tag) {
		nd = (size >> 3) < 4 ? (unsigned)(size >> 3) : 4;
		neg = (size & 3) == 2;
	} else {
		neg = (long long)size < 0;
		size = neg ? -size : size;
		nd = size < 4 ? (unsigned)size : 4;
	}
	if (nd > 3)
		return -ERANGE;
	memcpy(dig, b + LONG_DIGITS, nd * 4);
	for (unsigned i = nd; i-- > 0;) {
		if (dig[i] >> 30 || (i == 2 && dig[i] >> 2))
			return -ERANGE;
		v = v << 30 | dig[i];
	}
	*out = neg ? -(long long)v : (long long)v;
	return 0;
}

bool pyobj_str_is(struct pyobj *r, unsigned long long addr, const char *lit)
{
	const struct py_offsets *o = &r->off;
	size_t len = strlen(lit);
	unsigned char b[160];
	uint32_t state;
	long long slen;

	if (o->ascii_size + len > sizeof(b) ||
	    o->unicode_state + 4u > o->ascii_size ||
	    o->unicode_length + 8u > o->ascii_size ||
	    pyobj_read(r, addr, b, o->ascii_size + len))
		return false;
	memcpy(&state, b + o->unicode_state, sizeof(state));
	memcpy(&slen, b + o->unicode_length, sizeof(slen));
	/* compact (bit 5) and ASCII (bit 6), kind 1 (bits 2-4) */
	return (state & 0x7c) == 0x64 && slen == (long long)len &&
	       !memcmp(b + o->ascii_size, lit, len);
}

int pyobj_dict_of(struct pyobj *r, unsigned long long dict,
		  struct pyobj_dict *d)
{
	unsigned char h[48];
	unsigned char cap = 0;

	if (r->lay->inst == INST_NONE)
		return -ENOTSUP;
	if (!dict || pyobj_read(r, dict, h, sizeof(h)))
		return -EFAULT;
	d->keys = u64_at(h, DICT_KEYS);
	d->values = u64_at(h, DICT_VALUES);
	d->capacity = SPLIT_VALUES_MAX;
	if (d->values && r->lay->values_off) {
		/* 3.13: the array follows a header that says how long it is */
		if (pyobj_read(r, d->values, &cap, 1))
			return -EFAULT;
		d->capacity = cap;
		d->values += r->lay->values_off;
	}
	return d->keys ? 0 : -EFAULT;
}

/* Where a dict's entries are, from its keys header. */
struct keys_view {
	unsigned long long entries;
	long long n;
	unsigned int esize, kpos, vpos;
};

static int keys_view(struct pyobj *r, unsigned long long keys,
		     struct keys_view *kv)
{
	unsigned char h[40];
	unsigned long long size, ixbytes;

	if (!keys || pyobj_read(r, keys, h, sizeof(h)))
		return -EFAULT;
	if (!r->lay->log2_keys) {
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

int pyobj_dict_walk(struct pyobj *r, const struct pyobj_dict *d, int max,
		    pyobj_entry_fn fn, void *ctx)
{
	unsigned char e[CHUNK * 24];
	unsigned long long vals[CHUNK];
	struct keys_view kv;
	long long n;
	int ret = keys_view(r, d->keys, &kv);

	if (ret)
		return ret;
	n = kv.n < max ? kv.n : max;
	if (n > DICT_ENTRIES_MAX)
		n = DICT_ENTRIES_MAX;
	if (d->values && n > d->capacity)
		n = d->capacity;
	for (long long i = 0; i < n; i += CHUNK) {
		unsigned int c = n - i < CHUNK ? (unsigned int)(n - i) : CHUNK;

		if (pyobj_read(r, kv.entries + i * kv.esize, e,
			       (size_t)c * kv.esize))
			return -EFAULT;
		if (d->values &&
		    pyobj_read(r, d->values + i * 8, vals, c * 8ULL))
			return -EFAULT;
		for (unsigned int k = 0; k < c; k++) {
			struct pyobj_entry en = {
				.ix = (unsigned int)(i + k),
				.hash = kv.esize == 24 ?
						u64_at(e, k * kv.esize) :
						0,
				.key = u64_at(e, k * kv.esize + kv.kpos),
				.value = d->values ? vals[k] :
						     u64_at(e, k * kv.esize +
								       kv.vpos),
			};

			if (en.key && en.value && fn(ctx, &en))
				return 0;
		}
	}
	return 0;
}

struct find_ctx {
	struct pyobj *r;
	const char *key;
	unsigned long long found;
};

static bool find_cb(void *ctx, const struct pyobj_entry *e)
{
	struct find_ctx *c = ctx;

	if (!pyobj_str_is(c->r, e->key, c->key))
		return false;
	c->found = e->value;
	return true;
}

/* The value of key in d; 0 when absent. */
static unsigned long long dict_find(struct pyobj *r, const struct pyobj_dict *d,
				    const char *key)
{
	struct find_ctx c = {r, key, 0};

	if (pyobj_dict_walk(r, d, DICT_ENTRIES_MAX, find_cb, &c))
		return 0;
	return c.found;
}

unsigned long long pyobj_dict_get(struct pyobj *r, unsigned long long dict,
				  const char *key)
{
	struct pyobj_dict d;

	if (pyobj_dict_of(r, dict, &d))
		return 0;
	return dict_find(r, &d, key);
}

int pyobj_inst_dict(struct pyobj *r, unsigned long long obj,
		    struct pyobj_dict *d)
{
	const struct pyobj_type *t = pyobj_type_of(r, obj);
	unsigned long long w;
	unsigned char vh[4];

	if (!t)
		return -EFAULT;
	d->capacity = SPLIT_VALUES_MAX;
	if (r->lay->inst == INST_DICTOFFSET ||
	    !(t->flags & TPFLAGS_MANAGED_DICT)) {
		if (t->dictoffset <= 0 || t->dictoffset > 4096)
			return -ENOENT;
		return pyobj_dict_of(r, pyobj_ptr(r, obj + t->dictoffset), d);
	}
	d->keys = t->cached_keys;
	switch (r->lay->inst) {
	case INST_MANAGED_311:
		d->values = pyobj_ptr(r, obj - 32);
		if (d->values && d->keys)
			return 0;
		return pyobj_dict_of(r, pyobj_ptr(r, obj - 24), d);
	case INST_MANAGED_312:
		w = pyobj_ptr(r, obj - 24);
		if (w & 1) {
			d->values = w + 1;
			return d->keys ? 0 : -ENOENT;
		}
		return pyobj_dict_of(r, w, d);
	case INST_INLINE_313:
		w = pyobj_ptr(r, obj - 24);
		if (w)
			return pyobj_dict_of(r, w, d);
		if (!(t->flags & TPFLAGS_INLINE_VALUES) || t->basicsize < 16 ||
		    t->basicsize > 4096 ||
		    pyobj_read(r, obj + t->basicsize, vh, sizeof(vh)) ||
		    !vh[3] || !d->keys)
			return -ENOENT;
		d->values = obj + t->basicsize + r->lay->values_off;
		d->capacity = vh[0];
		return 0;
	}
	return -ENOTSUP;
}

unsigned long long pyobj_attr(struct pyobj *r, unsigned long long obj,
			      const char *name)
{
	struct pyobj_dict d;

	if (pyobj_inst_dict(r, obj, &d))
		return 0;
	return dict_find(r, &d, name);
}

int pyobj_set_items(struct pyobj *r, unsigned long long set,
		    unsigned long long *out, int max)
{
	unsigned char h[48], e[CHUNK * 16];
	unsigned long long mask, fill, table;
	int n = 0;

	if (pyobj_read(r, set, h, sizeof(h)))
		return -EFAULT;
	/* fill: slots in use, the deleted ones (dummies) included */
	fill = u64_at(h, SET_FILL);
	mask = u64_at(h, SET_MASK);
	table = u64_at(h, SET_TABLE);
	if (mask >= ITEMS_MAX || ((mask + 1) & mask) || fill > mask + 1)
		return -E2BIG;
	for (unsigned long long i = 0;
	     i <= mask && n < max && (unsigned long long)n < fill; i += CHUNK) {
		unsigned int c = mask + 1 - i < CHUNK ?
					 (unsigned int)(mask + 1 - i) :
					 CHUNK;

		if (pyobj_read(r, table + i * 16, e, c * 16ULL))
			return n ? n : -EFAULT;
		/* a deleted slot holds the dummy key: the caller checks what
		 * each item is */
		for (unsigned int k = 0; k < c && n < max; k++)
			if (u64_at(e, k * 16))
				out[n++] = u64_at(e, k * 16);
	}
	return n;
}

int pyobj_list_items(struct pyobj *r, unsigned long long list,
		     unsigned long long *out, int max)
{
	unsigned char h[32];
	long long size;

	if (pyobj_read(r, list, h, sizeof(h)))
		return -EFAULT;
	size = (long long)u64_at(h, LIST_SIZE);
	if (size < 0 || size > ITEMS_MAX)
		return -E2BIG;
	if (size > max)
		size = max;
	if (size && pyobj_read(r, u64_at(h, LIST_ITEMS), out, (size_t)size * 8))
		return -EFAULT;
	return (int)size;
}

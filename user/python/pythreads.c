// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Thread names from threading._active (see pythreads.h): sys.modules ->
 * 'threading' -> its '_active' dict -> each Thread's '_name' and
 * '_native_id'. Everything read is bounded: the dict sizes believed, the
 * entries looked at, string lengths; an address that does not read ends
 * that part of the walk.
 *
 * Dicts, instances, ints and strings are read by python/pyobj.c (their
 * layouts are described there); this file knows threading's objects.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "python/pyobj.h"
#include "python/pystr.h"
#include "python/pythreads.h"
#include "python/pyversions.h"

#define OB_TYPE	    8
#define DICT_USED   16
#define MODULE_DICT 16

#define MAX_ATTRS 256 /* attributes of one Thread looked at */
#define TYPES_MAX 8   /* Thread classes remembered per reading */

struct pythreads {
	struct pyobj obj;
	unsigned long long runtime;
	unsigned long long active;    /* threading._active; 0: not found yet */
	unsigned long long dict_type; /* ob_type of sys.modules: dict */
	long long modules_used;	      /* sys.modules' size when last searched */
	/* the interned attribute names, once seen */
	unsigned long long key_name, key_native;
	/* Per reading (shared keys may be freed and their memory reused
	 * between two): where _name and _native_id sit in the shared keys
	 * of the Threads' instances. */
	struct split_info {
		unsigned long long keys;
		unsigned int ix_name, ix_native;
	} splits[TYPES_MAX];
	int nsplits;
};

struct pythreads *pythreads_new(pid_t pid, const struct py_proc *p)
{
	unsigned minor = PY_VERSION_MINOR(p->off.version);
	struct pythreads *pt;

	/* 3.14+ name their OS threads after the Python ones */
	if (minor > 13 || !p->runtime || p->off.interp_modules == PY_OFF_NONE)
		return NULL;
	pt = calloc(1, sizeof(*pt));
	if (!pt)
		return NULL;
	if (pyobj_init(&pt->obj, pid, &p->off)) {
		free(pt);
		return NULL;
	}
	pt->runtime = p->runtime;
	pt->modules_used = -1;
	return pt;
}

void pythreads_free(struct pythreads *pt)
{
	free(pt);
}

/* threading._active, once the program has imported threading. */
static int find_active(struct pythreads *pt)
{
	struct pyobj *r = &pt->obj;
	unsigned long long interp, modules, mod, active;
	unsigned char h[24];
	long long used;

	interp = pyobj_ptr(r, pt->runtime + r->off.runtime_interp_head);
	modules = interp ? pyobj_ptr(r, interp + r->off.interp_modules) : 0;
	if (!modules || pyobj_read(r, modules, h, sizeof(h)))
		return -EFAULT;
	memcpy(&used, h + DICT_USED, sizeof(used));
	/* nothing imported since the last look */
	if (used == pt->modules_used)
		return -ENOENT;
	pt->modules_used = used;
	memcpy(&pt->dict_type, h + OB_TYPE, sizeof(pt->dict_type));
	mod = pyobj_dict_get(r, modules, "threading");
	if (!mod)
		return -ENOENT;
	active = pyobj_dict_get(r, pyobj_ptr(r, mod + MODULE_DICT), "_active");
	if (!active || pyobj_ptr(r, active + OB_TYPE) != pt->dict_type)
		return -ENOENT;
	pt->active = active;
	return 0;
}

struct attr_ctx {
	struct pythreads *pt;
	bool by_text; /* compare the keys' text, not the interned pointers */
	struct pyobj_entry name, native;
};

static bool attr_cb(void *ctx, const struct pyobj_entry *e)
{
	struct attr_ctx *c = ctx;
	struct pythreads *pt = c->pt;

	if (!c->by_text) {
		if (e->key == pt->key_name)
			c->name = *e;
		else if (e->key == pt->key_native)
			c->native = *e;
	} else if (!c->name.value && pyobj_str_is(&pt->obj, e->key, "_name")) {
		c->name = *e;
		pt->key_name = e->key;
	} else if (!c->native.value &&
		   pyobj_str_is(&pt->obj, e->key, "_native_id")) {
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
static bool split_attrs(struct pythreads *pt, const struct pyobj_dict *d,
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
	if (n > d->capacity || n > MAX_ATTRS ||
	    pyobj_read(&pt->obj, d->values, v, n * 8ULL))
		return false;
	c->name.value = v[si->ix_name];
	c->native.value = v[si->ix_native];
	return c->name.value && c->native.value;
}

static void remember_split(struct pythreads *pt, const struct pyobj_dict *d,
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
	const struct py_offsets *o = &pt->obj.off;
	unsigned char b[128 + PYTHREAD_NAME_MAX];
	uint32_t state;
	long long slen;

	if (len <= PYTHREAD_NAME_MAX && o->ascii_size <= 128 &&
	    o->unicode_state + 4u <= o->ascii_size &&
	    o->unicode_length + 8u <= o->ascii_size &&
	    !pyobj_read(&pt->obj, addr, b, o->ascii_size + len)) {
		memcpy(&state, b + o->unicode_state, sizeof(state));
		memcpy(&slen, b + o->unicode_length, sizeof(slen));
		if ((state & 0x7c) == 0x64 && slen > 0 &&
		    slen < (long long)len) {
			memcpy(out, b + o->ascii_size, (size_t)slen);
			out[slen] = '\0';
			return (int)slen;
		}
	}
	return pyobj_str(&pt->obj, addr, out, len);
}

/* _name and _native_id of the Thread at obj. */
static int thread_attrs(struct pythreads *pt, unsigned long long obj,
			struct py_thread_name *out)
{
	struct attr_ctx c = {.pt = pt};
	struct pyobj_dict d;
	int ret = pyobj_inst_dict(&pt->obj, obj, &d);

	if (ret)
		return ret;
	if (!split_attrs(pt, &d, &c)) {
		/* The attribute names are interned: after the first Thread,
		 * their pointers find them without reading a string. */
		memset(&c.name, 0, sizeof(c.name));
		memset(&c.native, 0, sizeof(c.native));
		if (pt->key_name && pt->key_native)
			pyobj_dict_walk(&pt->obj, &d, MAX_ATTRS, attr_cb, &c);
		if (!c.name.value || !c.native.value) {
			c.by_text = true;
			pyobj_dict_walk(&pt->obj, &d, MAX_ATTRS, attr_cb, &c);
		}
		if (c.name.value && c.native.value)
			remember_split(pt, &d, &c);
	}
	if (!c.name.value ||
	    name_read(pt, c.name.value, out->name, sizeof(out->name)) <= 0)
		return -ENOENT;
	for (char *p = out->name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (!c.native.value ||
	    pyobj_long(&pt->obj, c.native.value, &out->native_id))
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

static bool active_cb(void *ctx, const struct pyobj_entry *e)
{
	struct active_ctx *c = ctx;
	struct py_thread_name *t = &c->out[c->n];
	long long ident = (long long)e->hash;

	/* _active's keys are ints */
	if ((!e->hash || e->hash >= HASH_MODULUS) &&
	    (pyobj_long(&c->pt->obj, e->key, &ident) || ident <= 0))
		return false;
	memset(t, 0, sizeof(*t));
	t->ident = (unsigned long long)ident;
	if (!thread_attrs(c->pt, e->value, t))
		c->n++;
	return c->n >= c->max;
}

int pythreads_read(struct pythreads *pt, struct py_thread_name *out, int max)
{
	struct active_ctx c = {pt, out, 0,
			       max < PYTHREADS_MAX ? max : PYTHREADS_MAX};
	struct pyobj_dict d;
	int ret;

	if (!pt || !out || max <= 0)
		return -EINVAL;
	pyobj_forget(&pt->obj);
	pt->nsplits = 0;
	/* a dict no more (the module went, its memory reused): look again */
	if (pt->active &&
	    pyobj_ptr(&pt->obj, pt->active + OB_TYPE) != pt->dict_type) {
		pt->active = 0;
		pt->modules_used = -1;
	}
	if (!pt->active) {
		ret = find_active(pt);
		if (ret)
			return ret;
	}
	ret = pyobj_dict_of(&pt->obj, pt->active, &d);
	if (!ret)
		ret = pyobj_dict_walk(&pt->obj, &d, c.max, active_cb, &c);
	return ret ? ret : c.n;
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_PYOBJ_H
#define PYROGRAPH_PYOBJ_H

#include <stdbool.h>
#include <sys/types.h>

#include "pyoffsets.h"

/*
 * Plain CPython objects of another process, read without stopping it:
 * types (by their tp_name), ints, strings, dict entries, instance
 * attributes, sets and lists. Everything read is hostile: sizes are
 * bounded, an address that does not read ends that part of the walk, and
 * what a pointer is supposed to be is checked by its type where that
 * matters. The layouts are those of 3.8-3.15 (GIL builds, x86-64); dicts
 * and instance attributes 3.8-3.13 (what pytasks.c and pythreads.c need
 * them for).
 */
#define PYOBJ_TYPE_NAME 64
#define PYOBJ_TYPES	64 /* types remembered per pass */

struct pyobj_type {
	unsigned long long addr;
	unsigned long long flags;	/* tp_flags */
	unsigned long long base;	/* tp_base */
	unsigned long long cached_keys; /* PyHeapTypeObject.ht_cached_keys */
	long long basicsize, dictoffset;
	char name[PYOBJ_TYPE_NAME]; /* tp_name: "_asyncio.Task", "WeakSet" */
};

struct pyobj_layout;

struct pyobj {
	pid_t pid;
	struct py_offsets off; /* the interpreter's, for strings */
	const struct pyobj_layout *lay;
	/* Types met since the last pyobj_forget(): a heap type can be freed
	 * and its memory reused, so they are not kept across passes. */
	struct pyobj_type types[PYOBJ_TYPES];
	int ntypes;
	unsigned long long reads; /* reads of target memory, for the costs */
};

/* A dict's storage: its keys and, split, its values array. */
struct pyobj_dict {
	unsigned long long keys;
	unsigned long long values; /* &values[0]; 0: combined */
	unsigned int capacity;	   /* split: values there at most */
};

/* An entry with a key and a value: its index among the keys' entries, its
 * cached hash (0 in unicode-keyed dicts, which keep none). */
struct pyobj_entry {
	unsigned int ix;
	unsigned long long hash, key, value;
};

/* Called for each entry; true stops the walk. */
typedef bool (*pyobj_entry_fn)(void *ctx, const struct pyobj_entry *e);

/* A reader for process pid, whose interpreter is described by off.
 * -ENOTSUP for a version whose object layouts are not known here. */
int pyobj_init(struct pyobj *r, pid_t pid, const struct py_offsets *off);
/* Forgets the types met: call at the start of every pass. */
void pyobj_forget(struct pyobj *r);

/* len bytes at addr: 0 or a negative errno. */
int pyobj_read(struct pyobj *r, unsigned long long addr, void *buf, size_t len);
/* The pointer at addr; 0 when it cannot be read. */
unsigned long long pyobj_ptr(struct pyobj *r, unsigned long long addr);

/* The type of obj, read once per pass; NULL when unreadable. */
const struct pyobj_type *pyobj_type_of(struct pyobj *r, unsigned long long obj);
/* Is t, or one of its first 8 bases, the type called name? */
bool pyobj_type_is(struct pyobj *r, const struct pyobj_type *t,
		   const char *name);
/* Is obj of that type (or a subclass)? */
bool pyobj_is(struct pyobj *r, unsigned long long obj, const char *name);

/* A str into out (UTF-8, NUL-terminated): its length, or a negative errno. */
int pyobj_str(struct pyobj *r, unsigned long long addr, char *out, size_t len);
/* An int that fits 62 bits: 0, -EINVAL (not an int), -ERANGE or -EFAULT. */
int pyobj_long(struct pyobj *r, unsigned long long addr, long long *out);

/* Is the str at addr the ASCII text lit? One read. */
bool pyobj_str_is(struct pyobj *r, unsigned long long addr, const char *lit);

/* The storage of the dict object at dict, or of instance obj's attributes
 * (its __dict__ or its inline values): 0, -EFAULT, -ENOENT (none), or
 * -ENOTSUP (3.14+). */
int pyobj_dict_of(struct pyobj *r, unsigned long long dict,
		  struct pyobj_dict *d);
int pyobj_inst_dict(struct pyobj *r, unsigned long long obj,
		    struct pyobj_dict *d);
/* fn for each of the first max (at most 65536) entries of d that have a
 * key and a value: 0, or a negative errno when d cannot be read. */
int pyobj_dict_walk(struct pyobj *r, const struct pyobj_dict *d, int max,
		    pyobj_entry_fn fn, void *ctx);

/* The value under the str key in the dict at dict; 0 when absent. At most
 * 65536 entries are looked at. */
unsigned long long pyobj_dict_get(struct pyobj *r, unsigned long long dict,
				  const char *key);
/* The instance attribute name of obj (its __dict__ or its inline values);
 * 0 when absent or unreadable. */
unsigned long long pyobj_attr(struct pyobj *r, unsigned long long obj,
			      const char *name);

/* The items of a set (at most max, table order) or list (in order) into
 * out: how many, or a negative errno. A set larger than 1 << 20 slots, or
 * a list longer than 1 << 20, is refused (-E2BIG). */
int pyobj_set_items(struct pyobj *r, unsigned long long set,
		    unsigned long long *out, int max);
int pyobj_list_items(struct pyobj *r, unsigned long long list,
		     unsigned long long *out, int max);

#endif

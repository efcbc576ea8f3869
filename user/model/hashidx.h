/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_HASHIDX_H
#define PYROGRAPH_HASHIDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The one hash table of pyrograph: an open-addressing index from a hash to
 * the position of an entry in an array its owner keeps (frames, stacks,
 * strings, symbols, functions...). It stores only (position + 1, 32 bits of
 * the hash) per slot, so it grows without asking the owner to hash again,
 * and the owner's entries never move because of it.
 */
struct hashidx {
	struct hashidx_slot {
		uint32_t pos1; /* entry position + 1; 0: empty */
		uint32_t h;
	} *slots;
	size_t cap; /* power of two (0 before the first insert) */
	size_t n;
};

/* Does entry pos equal the key the caller is looking for? */
typedef bool (*hashidx_eq_fn)(const void *ctx, uint32_t pos);

/* The position of the entry with hash h that eq() accepts, or -1. */
long hashidx_find(const struct hashidx *t, uint64_t h, hashidx_eq_fn eq,
		  const void *ctx);
/* Indexes entry pos under hash h (the caller checked it is absent).
 * 0 or -ENOMEM. */
int hashidx_insert(struct hashidx *t, uint64_t h, uint32_t pos);
/* Forgets every entry (keeps the memory). */
void hashidx_clear(struct hashidx *t);
void hashidx_free(struct hashidx *t);
/* Heap bytes of the index. */
size_t hashidx_bytes(const struct hashidx *t);

/* FNV-1a over bytes: strings, whose length varies. */
static inline uint64_t hash_bytes(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h;
}

/* A 64-bit mix (splitmix64's finalizer): for words and ids. */
static inline uint64_t hash_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Arrays of 32-bit ids (stacks of frame ids): a word at a time. */
static inline uint64_t hash_u32s(const uint32_t *v, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;

	for (size_t i = 0; i < n; i++)
		h = (h ^ v[i]) * 0x100000001b3ULL ^ (h >> 29);
	return hash_mix(h);
}

#endif

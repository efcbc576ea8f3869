/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A fake target address space for the fuzzers: the fuzz input is the
 * memory of a process, mapped at IMAGE_BASE. Replaces user/memread.c, so
 * the real readers (pystack.c, symcache.c, pystr.c) run unchanged on it.
 */
#ifndef PYROGRAPH_FUZZ_MEM_H
#define PYROGRAPH_FUZZ_MEM_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "python/pyversions.h"

#define IMAGE_BASE 0x10000000ULL

extern const uint8_t *fuzz_image;
extern size_t fuzz_image_len;

/* struct py_offsets of a real version, chosen by a byte of the input. */
static inline int fuzz_offsets(uint8_t sel, struct py_offsets *o)
{
	return py_offsets_for_version(3, 8 + sel % 5, 0, o); /* 3.8-3.12 */
}

#endif

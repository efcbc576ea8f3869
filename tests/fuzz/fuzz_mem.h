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

#include "python/debug_offsets.h"
#include "python/pyversions.h"

#define IMAGE_BASE 0x10000000ULL
/* Where objects start in an image that begins with _Py_DebugOffsets
 * (3.13+: 584-888 bytes). */
#define IMAGE_AFTER_DEBUG_OFFSETS 1024

extern const uint8_t *fuzz_image;
extern size_t fuzz_image_len;

/*
 * The struct py_offsets of the image, chosen by a byte of the input:
 * sel % 6 = 0-4 take the built-in table of 3.8-3.12; 5 reads the image's
 * own _Py_DebugOffsets (3.13-3.15, whichever it claims), as pyrograph
 * reads a 3.13+ target's _PyRuntime, which starts with them. Returns 0,
 * or non-zero when the image's offsets are refused. *debug_offsets says
 * which.
 */
static inline int fuzz_offsets(uint8_t sel, const uint8_t *image, size_t len,
			       struct py_offsets *o, int *debug_offsets)
{
	*debug_offsets = sel % 6 == 5;
	if (*debug_offsets)
		return py_debug_offsets_parse(image, len, o);
	return py_offsets_for_version(3, 8 + sel % 6, 0, o); /* 3.8-3.12 */
}

#endif

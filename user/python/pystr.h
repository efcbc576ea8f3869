/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Reading CPython str and bytes objects out of another process. */
#ifndef PYROGRAPH_PYSTR_H
#define PYROGRAPH_PYSTR_H

#include <stddef.h>

#include "pyoffsets.h"

/* 0 on full read, negative errno */
typedef int (*py_read_fn)(void *ctx, unsigned long long addr, void *buf, size_t len);

/*
 * Reads the str object at addr and writes it as NUL-terminated UTF-8 into
 * out (outlen >= 1). Handles compact ASCII, compact non-ASCII (kinds 1, 2,
 * 4 -> UTF-8), and on 3.8-3.11 non-compact legacy strings (just return
 * -ENOTSUP for those). Lengths are hostile: cap at outlen-1 output bytes
 * (truncate cleanly on a UTF-8 character boundary), reject kind values
 * other than 1/2/4, surrogates/invalid code points become U+FFFD. Returns
 * the number of bytes written (excluding NUL) or negative errno.
 *
 * Uses o->unicode_state, unicode_length, ascii_size, compact_size only.
 * Errors: -EINVAL bad arguments or a garbage header (negative length, kind
 * not 1/2/4, ascii flag with kind != 1); -ENOTSUP a non-compact string
 * (3.8-3.11 legacy strings, and str-subclass instances, whose data sits
 * behind a pointer: not followed); or the reader's error. A byte >= 0x80 in
 * a string flagged ASCII also becomes U+FFFD. out is NUL-terminated even on
 * error (empty string). At most outlen-1 code points are read, so a huge
 * length costs nothing.
 */
int pystr_read(const struct py_offsets *o, py_read_fn rd, void *ctx, unsigned long long addr,
	       char *out, size_t outlen);

/*
 * Reads a bytes object's content: allocates *out (malloc) with
 * min(ob_size, max) bytes; returns length or negative errno; rejects
 * negative sizes.
 *
 * *out is always a fresh allocation on success (1 byte for an empty
 * result), NULL on error; the caller frees it. Lengths are also capped at
 * INT_MAX (the return type); callers should pass a sane max since that much
 * memory is allocated up front.
 */
int pybytes_read(const struct py_offsets *o, py_read_fn rd, void *ctx, unsigned long long addr,
		 size_t max, unsigned char **out);

#endif /* PYROGRAPH_PYSTR_H */

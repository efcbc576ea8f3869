/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * CPython 3.13+ describe their own layout in _Py_DebugOffsets, the struct at
 * _PyRuntime+0 ("xdebugpy" cookie). This turns those bytes into a
 * struct py_offsets. Pure function, libc only: the input is untrusted (it
 * comes from another process's memory or from a file).
 */
#ifndef PYROGRAPH_DEBUG_OFFSETS_H
#define PYROGRAPH_DEBUG_OFFSETS_H

#include <stddef.h>

#include "pyoffsets.h"

/*
 * buf holds the first len bytes at the target's _PyRuntime (which starts with
 * _Py_DebugOffsets on 3.13+).
 * Returns 0 and fills *out (every field of struct py_offsets, including
 * version, instr_kind=PY_INSTR_PTR, frame_link=PY_LINK_DIRECT, owner_skip_min,
 * code_tag_mask, unicode/bytes fields, gen_iframe); *out is untouched on error.
 * -ENOENT if there is no "xdebugpy" cookie, -ENOTSUP for an unknown
 * layout/version or a free-threaded build, -EINVAL if buf/out is NULL, len is
 * too short for the layout, or any offset read is implausible.
 */
int py_debug_offsets_parse(const void *buf, size_t len, struct py_offsets *out);

/* Bytes of _PyRuntime a caller should read to give py_debug_offsets_parse enough. */
#define PY_DEBUG_OFFSETS_MAX 2048

#endif /* PYROGRAPH_DEBUG_OFFSETS_H */

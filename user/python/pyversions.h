/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Per-version CPython layouts for 3.8-3.12 (a data table measured from the
 * interpreters' DWARF; scripts/measure-offsets.sh re-derives every number).
 * 3.13+ publish their own layout in _Py_DebugOffsets at _PyRuntime+0 and are
 * deliberately absent here.
 */
#ifndef PYROGRAPH_PYVERSIONS_H
#define PYROGRAPH_PYVERSIONS_H

#include <stdbool.h>
#include "pyoffsets.h"

/* The struct py_offsets.version encoding. */
#define PY_VERSION_CODE(major, minor, micro) \
	(((__u32)(major) << 24) | ((__u32)(minor) << 16) | ((__u32)(micro) << 8))
#define PY_VERSION_MAJOR(v) (((v) >> 24) & 0xff)
#define PY_VERSION_MINOR(v) (((v) >> 16) & 0xff)
#define PY_VERSION_MICRO(v) (((v) >> 8) & 0xff)

/*
 * Fills *out for major.minor (micro stored in out->version). -ENOTSUP if no
 * row (3.13+ use _Py_DebugOffsets, <3.8 unsupported); -EINVAL for a NULL out
 * or a micro above 255 (it would not fit the version encoding).
 */
int py_offsets_for_version(unsigned major, unsigned minor, unsigned micro,
			   struct py_offsets *out);

/*
 * Where the main interpreter's GIL (struct _gil_runtime_state) lives:
 * 3.8-3.11 embedded in _PyRuntime at *off (*via_interp false); 3.12+
 * behind the pointer interp->ceval.gil at interp + *off (*via_interp
 * true). The struct itself has kept one layout from 3.8 to 3.15:
 * PY_GIL_LAST_HOLDER, PY_GIL_LOCKED, PY_GIL_SIZE. -ENOTSUP for a version
 * not measured. Measured from DWARF (3.8-3.13.0, Debian 3.11.2) and the
 * targets' _Py_DebugOffsets (3.13.5, 3.14.10, 3.15.2), and checked live.
 */
#define PY_GIL_LAST_HOLDER 8 /* PyThreadState *; not cleared on release */
#define PY_GIL_LOCKED 16     /* int */
#define PY_GIL_SIZE 208	     /* cond, mutex, switch_cond, switch_mutex: 32-208 */
int py_gil_location(unsigned minor, bool *via_interp, unsigned *off);

#endif /* PYROGRAPH_PYVERSIONS_H */

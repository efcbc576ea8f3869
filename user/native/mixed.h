/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_MIXED_H
#define PYROGRAPH_MIXED_H

#include "profile.h"
#include "model/frames.h"
#include "native/unwind.h"

/* The frame id of one Python frame of the sample (the caller resolves it
 * and counts what it could not). */
typedef frame_id (*mixed_python_fn)(void *ctx, const struct py_frame *f);

/*
 * --native: the sample's user stack unwound (libdwfl) and symbolized, with
 * each C call of CPython's eval loop (_PyEval_EvalFrameDefault) replaced
 * by the Python frames it was running, so C extensions and libpython
 * frames sit between the Python frames that called them and the ones they
 * called. Native frames are interned in ft as "symbol [module]". When the
 * copied stack ends before the outermost eval-loop call, the Python frames
 * left over go on top after a "[native stack truncated]" frame. Without a
 * user stack (e->ustack_len 0) only the Python frames are given. Writes at
 * most max frame ids to out, outermost first; returns how many.
 */
uint32_t mixed_stack(struct unwinder *u, struct frame_table *ft,
		     const struct py_offsets *off, const struct sample_event *e,
		     size_t size, mixed_python_fn python, void *ctx,
		     frame_id *out, uint32_t max);

/* Drops cached symbols of pid (it exited or exec'd). */
void mixed_forget(int pid);
/* Frees the symbol cache. */
void mixed_free(void);

#endif

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_MIXED_H
#define PYROGRAPH_MIXED_H

#include "profile.h"
#include "python/symcache.h"
#include "native/unwind.h"

/* Called once per frame of a stack, outermost first. */
typedef void (*frame_fn)(void *ctx, const char *frame);

/*
 * --native: the sample's user stack unwound (libdwfl) and symbolized, with
 * each C call of CPython's eval loop (_PyEval_EvalFrameDefault) replaced
 * by the Python frames it was running, so C extensions and libpython
 * frames sit between the Python frames that called them and the ones they
 * called. Native frames read "symbol [module]". When the copied stack ends
 * before the outermost eval-loop call, the Python frames left over go on
 * top after a "[native stack truncated]" frame. Without a user stack
 * (e->ustack_len 0) only the Python frames are emitted. Returns how many
 * Python frames could not be resolved.
 */
unsigned int mixed_stack(struct unwinder *u, struct symcache *sc,
			 const struct py_offsets *off,
			 const struct sample_event *e, size_t size,
			 frame_fn fn, void *ctx);

/* Drops cached symbols of pid (it exited or exec'd). */
void mixed_forget(int pid);
/* Frees the symbol cache. */
void mixed_free(void);

#endif

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_PPROF_READ_H
#define PYROGRAPH_PPROF_READ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model/stacks.h"

/*
 * The pprof reader (pyrograph diff's input; github.com/google/pprof
 * proto/profile.proto), the inverse of pprof.c: the labels container,
 * process and pid, thread and tid become the root frames, each location's
 * lines the frames (a line > 0: Python; file [kernel.kallsyms]: kernel;
 * another file: native; no file: what the name says, as in a folded file).
 * The files may come from anywhere: every length and index is checked, names
 * have ';' and control bytes replaced by '_', and a stack keeps at most
 * PPROF_MAX_FRAMES frames.
 */
#define PPROF_MAX_RAW (512u << 20)  /* inflated bytes at most */
#define PPROF_MAX_FRAMES (64u << 10) /* frames of one stack */
#define PPROF_MAX_NAME (64u << 10)   /* bytes of a name or file */

struct pprof_read_stats {
	uint64_t samples; /* read into the profile */
	uint64_t empty;	  /* with a value but no frame at all: skipped */
};

/*
 * Reads the (inflated) profile raw[0..len) into p, in p's frame table:
 * each sample's first value (samples, or events) with a count of 1;
 * samples without a value or with 0 are left out. Returns 0, -EINVAL (not a
 * protobuf message of this shape) or -ENOMEM; p may hold part of the
 * samples on failure.
 */
int pprof_read_raw(const unsigned char *raw, size_t len, struct profile *p,
		   struct pprof_read_stats *st);

/*
 * Inflates the gzip (or zlib) stream f into a malloc'ed buffer of at most
 * PPROF_MAX_RAW bytes. Returns 0, -EINVAL (not a complete stream), -EFBIG
 * (more than PPROF_MAX_RAW bytes), -ENOMEM or -EIO.
 */
int pprof_inflate(FILE *f, unsigned char **raw, size_t *len);

#endif

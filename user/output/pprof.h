/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_PPROF_H
#define PYROGRAPH_PPROF_H

#include <stdio.h>
#include "output/output.h"

/*
 * Writes d->prof as a gzipped pprof profile (github.com/google/pprof
 * proto/profile.proto): root frames become labels (pid, process,
 * container, thread, tid), the other frames locations whose function has
 * a file name and a line for Python frames. Sample types: samples/count
 * and cpu/nanoseconds, or with timed data (--idle/--gil) samples/count
 * and wall/nanoseconds. Returns 0 or a negative errno.
 */
int pprof_write(FILE *f, const struct profile_data *d);

/* The same profile, gzipped, into a malloc'ed buffer (for the agent). */
int pprof_encode(const struct profile_data *d, unsigned char **out, size_t *len);
/* The protobuf before gzip, into a malloc'ed buffer. */
int pprof_encode_raw(const struct profile_data *d, unsigned char **out, size_t *len);

#endif

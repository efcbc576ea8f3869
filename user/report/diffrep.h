/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_DIFFREP_H
#define PYROGRAPH_DIFFREP_H

#include <stdbool.h>
#include <stdio.h>

/*
 * pyrograph diff: two profiles (0 = before, 1 = after), folded files or
 * gzipped pprof, read into one frame table and compared frame by frame (a
 * differential flame graph) and function by function (a table). The files
 * may come from anywhere: lines are bounded, malformed ones (and pprof
 * samples without frames) are counted and skipped.
 */
struct diffrep;

/* normalize: scale the before profile to the after profile's total. */
struct diffrep *diffrep__new(bool normalize);
void diffrep__free(struct diffrep *d);
/* Loads profile which (0 or 1) from path; on failure a reason in err. */
int diffrep__load(struct diffrep *d, int which, const char *path, char *err,
		  size_t errlen);
/* The same from a stream (name: for messages). */
int diffrep__load_file(struct diffrep *d, int which, FILE *f, const char *name,
		       char *err, size_t errlen);
/* The differential flame graph to path ("-": stdout). */
int diffrep__write_svg(struct diffrep *d, const char *path);
/* The functions whose time changed most, top rows. */
int diffrep__write_table(struct diffrep *d, FILE *f, size_t top);

#endif

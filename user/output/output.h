/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_OUTPUT_H
#define PYROGRAPH_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>
#include "model/stacks.h"

enum out_format {
	OUT_FLAMEGRAPH,
	OUT_COLLAPSED,
	OUT_SPEEDSCOPE,
	OUT_PPROF,
};

struct samplelog;
struct profile;

/* What a recording produced, for every output format. */
struct profile_data {
	/* typed stacks: value is samples, or microseconds when timed (bytes
	 * for memory profiles); count the events behind it */
	struct profile *prof;
	bool timed;		 /* --idle/--gil: values are microseconds */
	double hz;		 /* measured sampling rate per CPU */
	unsigned long long start_ns;	  /* CLOCK_REALTIME at the start */
	unsigned long long start_mono_ns; /* CLOCK_MONOTONIC at the start */
	unsigned long long duration_ns;
	struct samplelog *log;	 /* samples in time order (speedscope) */
	const char *title, *subtitle;
};

int output_format_parse(const char *s, enum out_format *f);
/*
 * From the file name: .txt/.folded/.collapsed -> collapsed,
 * .speedscope.json/.json -> speedscope, .pb.gz/.pprof -> pprof, else
 * flamegraph.
 */
enum out_format output_format_guess(const char *path);
const char *output_format_name(enum out_format f);
/* Fails early (before recording) when path's directory is not writable. */
int output_check_writable(const char *path);
/*
 * Writes the profile to path ("-" = stdout) through a temporary file in
 * the same directory that is renamed into place, so an interrupted run
 * never leaves a partial file.
 */
int output_write(const char *path, enum out_format f,
		 const struct profile_data *d);
/* The same for any content: fn writes it to f, returns 0 or -errno. */
int output_write_fn(const char *path, int (*fn)(FILE *f, void *ctx), void *ctx);

#endif

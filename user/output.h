/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_OUTPUT_H
#define PYROGRAPH_OUTPUT_H

#include "stackagg.h"

enum out_format {
	OUT_FLAMEGRAPH,
	OUT_COLLAPSED,
};

int output_format_parse(const char *s, enum out_format *f);
/* From the file name: .txt/.folded/.collapsed -> collapsed, else flamegraph. */
enum out_format output_format_guess(const char *path);
const char *output_format_name(enum out_format f);
/* Fails early (before recording) when path's directory is not writable. */
int output_check_writable(const char *path);
/*
 * Writes the aggregated stacks to path ("-" = stdout) through a temporary
 * file in the same directory that is renamed into place, so an interrupted
 * run never leaves a partial file. unit names the weights ("samples",
 * "us"); NULL: samples.
 */
int output_write(const char *path, enum out_format f, struct stackagg *agg,
		 const char *title, const char *subtitle, const char *unit);

#endif

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Standalone interactive SVG flame graph writer.
 *
 * Input is a profile of typed stacks (model/stacks.h); frames are drawn
 * with their folded text (model/frames.h) and coloured by their kind and
 * origin. The output is a single SVG file with inline JavaScript (zoom,
 * search, details line) and no external resources, so it can be attached
 * to a bug report or opened from file:// as is.
 */
#ifndef PYROGRAPH_FLAMEGRAPH_H
#define PYROGRAPH_FLAMEGRAPH_H

#include <stdio.h>

#include "model/stacks.h"

struct flamegraph_opts {
	const char *title;	/* e.g. "pyrograph record" */
	const char *subtitle;	/* may be NULL; e.g. "12345 samples, 3 processes, 100 Hz, 10 s" */
	const char *count_name; /* unit for tooltips, e.g. "samples" */
	/*
	 * A differential graph (pyrograph diff): the stacks drawn are the
	 * "after" profile; base holds the "before" one (same frame table),
	 * its values multiplied by base_scale (1: compare them as they are).
	 * Frames are coloured by their change: red grew, blue shrank, white
	 * unchanged.
	 */
	struct profile *base;
	double base_scale;
};

/*
 * Writes a complete standalone SVG of p's values. Returns 0 or a negative
 * errno. Equal prefixes are merged; frames are ordered by their text.
 * -EINVAL for a NULL @f or @p; -ENOMEM; -EIO if the stream reports an
 * error.
 */
int flamegraph_write(FILE *f, struct profile *p, const struct flamegraph_opts *opts);

#endif /* PYROGRAPH_FLAMEGRAPH_H */

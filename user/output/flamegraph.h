/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Standalone interactive SVG flame graph writer.
 *
 * Input is the collapsed ("folded") stack format used by flamegraph.pl:
 * one string per distinct stack, frames outermost first, separated by ';'.
 * The output is a single SVG file with inline JavaScript (zoom, search,
 * details line) and no external resources, so it can be attached to a bug
 * report or opened from file:// as is.
 */
#ifndef PYROGRAPH_FLAMEGRAPH_H
#define PYROGRAPH_FLAMEGRAPH_H

#include <stddef.h>
#include <stdio.h>

struct stack_count {
	const char *stack;        /* frames outermost first, separated by ';' (collapsed/folded format) */
	unsigned long long count;
};

struct flamegraph_opts {
	const char *title;        /* e.g. "pyrograph record" */
	const char *subtitle;     /* may be NULL; e.g. "12345 samples, 3 processes, 100 Hz, 10 s" */
	const char *count_name;   /* unit for tooltips, e.g. "samples" */
	/*
	 * A differential graph (pyrograph diff): the stacks drawn are the
	 * "after" profile; base holds the "before" one, its counts multiplied
	 * by base_scale (1: compare counts as they are). Frames are coloured
	 * by their change: red grew, blue shrank, white unchanged.
	 */
	const struct stack_count *base;
	size_t nbase;
	double base_scale;
};

/*
 * Writes a complete standalone SVG. Returns 0 or a negative errno. Must not modify inputs.
 *
 * Stacks may be unsorted and may repeat; equal prefixes are merged. Empty
 * frames (";;") are skipped. A NULL @opts or NULL fields get defaults.
 * -EINVAL for a NULL @f, or NULL @stacks with @n > 0; -ENOMEM; -EIO if
 * the stream reports an error.
 */
int flamegraph_write(FILE *f, const struct stack_count *stacks, size_t n, const struct flamegraph_opts *opts);

#endif /* PYROGRAPH_FLAMEGRAPH_H */

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_RECORD_H
#define PYROGRAPH_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include "flamegraph.h"

/*
 * A live consumer of the recording loop (pyrograph top): instead of writing
 * a file at the end, the loop hands it the stacks of each interval.
 */
struct live_view {
	void *ctx;
	unsigned int interval_ms;
	/*
	 * Stacks since the last call ("command (pid);frame;..." with sample
	 * counts), the sampling rate per CPU, the interval's length and the
	 * number of Python processes being sampled. Non-zero stops.
	 */
	int (*refresh)(void *ctx, const struct stack_count *stacks, size_t n,
		       double hz, double seconds, unsigned int nprocs);
	/* Called every few milliseconds for keys; non-zero stops. */
	int (*input)(void *ctx);
	/* Root frames "container ID;command (pid)" instead of the process only. */
	bool group_container;
	/* One last refresh with what was recorded since the previous one when
	 * the loop ends (the agent sends it; top has nothing to show). */
	bool refresh_on_exit;
};

/* The recording loop with record's options; view NULL: pyrograph record. */
int record_main(int argc, char **argv, const struct live_view *view);

#endif

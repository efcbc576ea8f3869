/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_MEM_SINK_H
#define PYROGRAPH_MEM_SINK_H

#include "core/session.h"
#include "report/memrep.h"

#define MEM_WATCH_MAX 4096

/*
 * The memory report fed by a session (mem, check): resident-memory
 * changes, collections and allocations with their stacks, and each
 * process's RSS read every interval. Stacks go to the report as the
 * session made them (frame ids).
 */
struct mem_sink {
	struct memrep *rep;
	unsigned long long interval_ns, start_ns, next_ns, end_ns;
	bool started;
	pid_t watch[MEM_WATCH_MAX]; /* processes whose RSS is read */
	int nwatch;
};

/* Fills sink (its ctx is ms) for rep, RSS read every interval_ns. */
void mem_sink_init(struct session_sink *sink, struct mem_sink *ms,
		   struct memrep *rep, unsigned long long interval_ns);
/* Seconds watched: from the first pass of the loop to its last. */
double mem_sink_seconds(const struct mem_sink *ms);

#endif

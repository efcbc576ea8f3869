/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_ASYNC_SINK_H
#define PYROGRAPH_ASYNC_SINK_H

#include "core/session.h"
#include "report/asyncrep.h"

/*
 * The asyncio report fed by a session (async, check): processes, stacks of
 * loop threads inside iterations, stalls, task steps, resumes and each
 * loop's timing. The report still keeps folded text; the sink renders it.
 */
struct async_sink {
	struct asyncrep *rep;
	struct frame_table *ft;
	char *buf; /* one stack's text */
};

/* Fills sink (its ctx is as) for rep; 0 or -ENOMEM. */
int async_sink_init(struct session_sink *sink, struct async_sink *as,
		    struct asyncrep *rep, struct frame_table *ft);
void async_sink_free(struct async_sink *as);

#endif

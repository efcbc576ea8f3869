/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_ASYNC_SINK_H
#define PYROGRAPH_ASYNC_SINK_H

#include "core/session.h"
#include "report/asyncrep.h"

/*
 * The asyncio report fed by a session (async, check): processes, typed
 * stacks of loop threads inside iterations, stalls, task steps, resumes and
 * each loop's timing. The report must use the session's frame table.
 */
struct async_sink {
	struct asyncrep *rep;
};

/* Fills sink (its ctx is as) for rep. */
void async_sink_init(struct session_sink *sink, struct async_sink *as,
		     struct asyncrep *rep);

#endif

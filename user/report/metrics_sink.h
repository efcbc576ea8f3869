/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_METRICS_SINK_H
#define PYROGRAPH_METRICS_SINK_H

#include "core/session.h"
#include "net/httpd.h"
#include "report/metrics.h"

/*
 * The agent's Prometheus metrics fed by a session: event loops, stalls,
 * blocking calls, await sites, requests by endpoint, collections, and each
 * process's RSS and CPU
 * read every second; /metrics served from the session's loop.
 */
struct metrics_sink {
	struct metrics *m;
	struct httpd *httpd;
	struct frame_table *ft;
	long clk_tck;
	/* tasks followed for their endpoint (METRICS_TASKS, made at the
	 * first task step, freed when the session is done) */
	struct metrics_task *tasks;
	/* the agent's upload figures, asked for at each tick (may be NULL) */
	void (*uploads)(void *ctx, struct metrics_health *mh);
	void *uploads_ctx;
};

/* Fills sink (its ctx is ms) to feed m and answer httpd. */
void metrics_sink_init(struct session_sink *sink, struct metrics_sink *ms,
		       struct metrics *m, struct httpd *httpd, struct frame_table *ft);

#endif

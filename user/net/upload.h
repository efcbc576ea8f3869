/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_UPLOAD_H
#define PYROGRAPH_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "net/http.h"

/*
 * Profiles on their way to the backend: a queue bounded to queue_max bytes
 * (the oldest dropped and counted), kept in memory or, with a spool
 * directory, on disk, where it survives a restart. A thread of its own
 * sends the oldest first and backs off (1 s to 60 s) while the backend
 * fails; each cause of failure is said once until it changes.
 */
struct upload_queue;

struct upload_queue *upload_new(struct http_client *http, const char *spool_dir,
				size_t queue_max);
/* The profiles an earlier run left in the spool directory go first. */
int upload_load_spool(struct upload_queue *u);
/* Queues body (len bytes) for URL path and query; takes both buffers. */
void upload_add(struct upload_queue *u, char *query, unsigned char *body,
		size_t len);
/* The sending thread: start it once setup has dropped the capabilities
 * (a thread started before keeps them); signals stay with the caller. */
void upload_start(struct upload_queue *u);
/* At the end: stops the thread, then sends what is due from here. */
void upload_finish(struct upload_queue *u);

struct upload_stats {
	unsigned long long sent, failed, dropped;
	size_t queued_bytes, nqueued;
	unsigned long long failures[HTTP_FAIL_N]; /* failed tries by reason */
};
void upload_stats(struct upload_queue *u, struct upload_stats *st);
/* Frees the queue; what is spooled stays on disk. */
void upload_free(struct upload_queue *u);

#endif

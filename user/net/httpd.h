/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_HTTPD_H
#define PYROGRAPH_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * The smallest HTTP/1.x server the agent's /metrics needs, driven from the
 * recording loop: non-blocking sockets, GET and HEAD only, one request per
 * connection, bounded request size, connections and time per connection.
 */
struct httpd;

/*
 * Listens on spec: "PORT" (loopback, 127.0.0.1), "HOST:PORT" or
 * "[V6ADDR]:PORT"; HOST is numeric or "localhost". Port 0 picks a free one.
 * Returns 0, or a negative errno with a reason in *why.
 */
int httpd_listen(const char *spec, struct httpd **out, const char **why);
/* "127.0.0.1:9464" as bound (the real port when 0 was asked). */
const char *httpd_address(const struct httpd *h);
/* Whether the address is a loopback one. */
bool httpd_loopback(const struct httpd *h);
void httpd_free(struct httpd *h);

/* Writes the body for path into f and sets *content_type; returns the HTTP
 * status (200, 404...). */
typedef int (*httpd_handler_fn)(void *ctx, const char *path, FILE *f,
				const char **content_type);
/* Accepts, reads, answers and closes what is ready; never blocks. */
void httpd_poll(struct httpd *h, httpd_handler_fn fn, void *ctx);

/*
 * Parses the request head in buf[0..len): 1 when complete (method and path,
 * query string cut, into the buffers), 0 when more is needed, a negative
 * errno for a malformed one (-EINVAL) or one over the size bound (-E2BIG).
 */
#define HTTPD_MAX_REQUEST 8192
int httpd_parse_request(const char *buf, size_t len, char *method, size_t mlen,
			char *path, size_t plen);

#endif

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_HTTP_H
#define PYROGRAPH_HTTP_H

#include <stddef.h>

/* http://host[:port][/path], parsed once. */
struct http_url {
	char host[256];
	char port[8];
	char path[512];
};

/* 0, or -EINVAL with a reason for anything but plain http:// URLs. */
int http_url_parse(const char *url, struct http_url *u, const char **why);

/*
 * POSTs body to u's host with path_query (which starts with '/'). Blocks at
 * most about timeout_ms in total. Returns the HTTP status, or a negative
 * errno when no response was read.
 */
int http_post(const struct http_url *u, const char *path_query,
	      const char *content_type, const void *body, size_t len,
	      int timeout_ms);

#endif

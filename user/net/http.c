// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The smallest HTTP/1.1 client the agent needs: one POST per connection
 * (Connection: close), an overall deadline enforced with poll(), and the
 * status line read back. No TLS: point the agent at a local collector or a
 * TLS-terminating proxy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/http.h"

int http_url_parse(const char *url, struct http_url *u, const char **why)
{
	const char *h, *slash, *colon;
	size_t hl;

	memset(u, 0, sizeof(*u));
	if (strncmp(url, "http://", 7)) {
		*why = "only http:// URLs (use a local TLS proxy for https)";
		return -EINVAL;
	}
	h = url + 7;
	slash = strchr(h, '/');
	hl = slash ? (size_t)(slash - h) : strlen(h);
	colon = memchr(h, ':', hl);
	if (!hl || (colon ? (size_t)(colon - h) : hl) >= sizeof(u->host)) {
		*why = "bad host";
		return -EINVAL;
	}
	snprintf(u->host, sizeof(u->host), "%.*s",
		 (int)(colon ? (size_t)(colon - h) : hl), h);
	if (colon) {
		size_t pl = hl - (size_t)(colon + 1 - h);

		if (!pl || pl >= sizeof(u->port) ||
		    strspn(colon + 1, "0123456789") < pl) {
			*why = "bad port";
			return -EINVAL;
		}
		snprintf(u->port, sizeof(u->port), "%.*s", (int)pl, colon + 1);
	} else {
		snprintf(u->port, sizeof(u->port), "80");
	}
	snprintf(u->path, sizeof(u->path), "%s", slash ? slash : "");
	/* a trailing slash would double up with the API path */
	if (strlen(u->path) && u->path[strlen(u->path) - 1] == '/')
		u->path[strlen(u->path) - 1] = '\0';
	return 0;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short ev, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = ev };
	long long left = deadline - mono_ms();
	int r;

	if (left <= 0)
		return -ETIMEDOUT;
	r = poll(&p, 1, (int)left);
	if (r < 0)
		return -errno;
	return r ? 0 : -ETIMEDOUT;
}

static int send_all(int fd, const void *b, size_t len, long long deadline)
{
	const char *p = b;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			int r = wait_fd(fd, POLLOUT, deadline);

			if (r)
				return r;
			continue;
		}
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

int http_post(const struct http_url *u, const char *path_query,
	      const char *content_type, const void *body, size_t len,
	      int timeout_ms)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL, *a;
	long long deadline = mono_ms() + timeout_ms;
	char hdr[2048], resp[256];
	int fd = -1, ret, status;
	size_t got = 0;

	if (getaddrinfo(u->host, u->port, &hints, &ai))
		return -EHOSTUNREACH;
	ret = -ECONNREFUSED;
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    a->ai_protocol);
		if (fd < 0)
			continue;
		if (!connect(fd, a->ai_addr, a->ai_addrlen) ||
		    (errno == EINPROGRESS && !wait_fd(fd, POLLOUT, deadline))) {
			int err = 0;
			socklen_t l = sizeof(err);

			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
			if (!err)
				break;
			ret = -err;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return ret;
	snprintf(hdr, sizeof(hdr),
		 "POST %s%s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: pyrograph/" PYROGRAPH_VERSION
		 "\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
		 u->path, path_query, u->host, u->port, content_type, len);
	ret = send_all(fd, hdr, strlen(hdr), deadline);
	if (!ret)
		ret = send_all(fd, body, len, deadline);
	while (!ret && got < sizeof(resp) - 1 && !memchr(resp, '\n', got)) {
		ssize_t n = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			ret = wait_fd(fd, POLLIN, deadline);
			continue;
		}
		if (n <= 0) {
			ret = n < 0 ? -errno : -ECONNRESET;
			break;
		}
		got += n;
		resp[got] = '\0';
	}
	close(fd);
	if (ret)
		return ret;
	resp[got] = '\0';
	if (sscanf(resp, "HTTP/%*d.%*d %d", &status) != 1)
		return -EPROTO;
	return status;
}

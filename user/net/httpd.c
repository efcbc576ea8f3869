// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A non-blocking HTTP/1.x responder for the agent's /metrics. It runs in
 * the recording loop, so nothing here may block: the listener and every
 * connection are O_NONBLOCK, each connection has a deadline, and at most
 * HTTPD_MAX_CONNS are open (the rest wait in the kernel's backlog). The
 * peer is untrusted: the request head is bounded and parsed strictly.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/httpd.h"
#include "sys/clock.h"

#define HTTPD_MAX_CONNS	  16
#define HTTPD_DEADLINE_MS 5000
/* The request must come this fast: a scraper sends it at once, and a slot
 * held by a silent client is a slot a scraper cannot have. */
#define HTTPD_READ_MS 1000
/* A full table gives up its oldest silent connection after this long. */
#define HTTPD_EVICT_MS 100
/* A body is rendered at most this often (per path): many scrapers at once
 * cost one render, not one each. */
#define HTTPD_CACHE_MS 1000

struct conn {
	int fd;
	unsigned long long accepted, deadline;
	char in[HTTPD_MAX_REQUEST];
	size_t inlen;
	char *out; /* the whole response once the request is read */
	size_t outlen, outpos;
	/* sent; reading what the client still sends until it closes, so
	 * that closing with unread input does not reset the connection and
	 * lose the response on its way (an oversized request's 431) */
	bool draining;
};

struct httpd {
	int fd;
	char addr[80];
	bool loopback;
	struct conn conns[HTTPD_MAX_CONNS];
	/* the last 200 body rendered, for HTTPD_CACHE_MS */
	char cpath[1024];
	char *cbody;
	size_t clen;
	const char *ctype;
	unsigned long long cat;
};

static unsigned long long now_ms(void)
{
	return clock_mono_ns() / 1000000;
}

int httpd_parse_request(const char *buf, size_t len, char *method, size_t mlen,
			char *path, size_t plen)
{
	const char *end = NULL, *sp1, *sp2, *eol;
	size_t ml, pl;

	for (size_t i = 0; i + 3 < len; i++)
		if (!memcmp(buf + i, "\r\n\r\n", 4)) {
			end = buf + i;
			break;
		}
	/* bare-LF clients exist (netcat, tests); accept them too */
	for (size_t i = 0; !end && i + 1 < len; i++)
		if (buf[i] == '\n' && buf[i + 1] == '\n')
			end = buf + i;
	if (!end)
		return len >= HTTPD_MAX_REQUEST ? -E2BIG : 0;
	/* end is where the blank line starts: with CRLF and no headers the
	 * request line's LF is the byte after it */
	eol = memchr(buf, '\n', (size_t)(end - buf) + 2);
	if (!eol)
		return -EINVAL;
	if (eol > buf && eol[-1] == '\r')
		eol--;
	/* METHOD SP PATH SP HTTP/x.y */
	sp1 = memchr(buf, ' ', (size_t)(eol - buf));
	if (!sp1)
		return -EINVAL;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (!sp2 || (size_t)(eol - sp2 - 1) < 8 ||
	    memcmp(sp2 + 1, "HTTP/1.", 7))
		return -EINVAL;
	ml = (size_t)(sp1 - buf);
	pl = (size_t)(sp2 - sp1 - 1);
	for (const char *q = sp1 + 1; q < sp2; q++)
		if (*q == '?' || *q == '#') {
			pl = (size_t)(q - sp1 - 1);
			break;
		}
	if (!ml || ml >= mlen || !pl || pl >= plen || sp1[1] != '/')
		return -EINVAL;
	for (size_t i = 0; i < ml; i++)
		if (buf[i] < 'A' || buf[i] > 'Z')
			return -EINVAL;
	for (size_t i = 0; i < pl; i++)
		if ((unsigned char)sp1[1 + i] <= ' ' ||
		    (unsigned char)sp1[1 + i] >= 0x7f)
			return -EINVAL;
	memcpy(method, buf, ml);
	method[ml] = '\0';
	memcpy(path, sp1 + 1, pl);
	path[pl] = '\0';
	return 1;
}

int httpd_listen(const char *spec, struct httpd **out, const char **why)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char host[64] = "127.0.0.1", port[8];
	const char *colon = strrchr(spec, ':');
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct httpd *h;
	int one = 1, err;
	char ip[INET6_ADDRSTRLEN];

	*why = "expected PORT, HOST:PORT or [IPV6]:PORT";
	if (colon) {
		size_t hl = (size_t)(colon - spec);

		if (hl && spec[0] == '[') {
			if (hl < 3 || spec[hl - 1] != ']')
				return -EINVAL;
			spec++;
			hl -= 2;
		}
		if (!hl || hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec, hl);
		host[hl] = '\0';
		spec = colon + 1;
	}
	if (!*spec || strlen(spec) > 5 ||
	    strspn(spec, "0123456789") != strlen(spec) || atoi(spec) > 65535)
		return -EINVAL;
	snprintf(port, sizeof(port), "%s", spec);
	/* numeric addresses only (and localhost): no resolver in the loop,
	 * and what is bound is what was written */
	if (strcmp(host, "localhost"))
		hints.ai_flags |= AI_NUMERICHOST;
	err = getaddrinfo(host, port, &hints, &res);
	if (err || !res) {
		*why = "not a numeric address (or localhost)";
		return -EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		freeaddrinfo(res);
		return -ENOMEM;
	}
	for (int i = 0; i < HTTPD_MAX_CONNS; i++)
		h->conns[i].fd = -1;
	h->fd = socket(res->ai_family,
		       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->fd < 0 ||
	    setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(h->fd, res->ai_addr, res->ai_addrlen) || listen(h->fd, 64) ||
	    getsockname(h->fd, (struct sockaddr *)&ss, &sl)) {
		err = -errno;
		*why = strerror(errno);
		freeaddrinfo(res);
		httpd_free(h);
		return err;
	}
	freeaddrinfo(res);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(h->addr, sizeof(h->addr), "[%s]:%u", ip,
			 ntohs(s6->sin6_port));
		h->loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(h->addr, sizeof(h->addr), "%s:%u", ip,
			 ntohs(s4->sin_port));
		h->loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	*out = h;
	return 0;
}

const char *httpd_address(const struct httpd *h)
{
	return h->addr;
}

bool httpd_loopback(const struct httpd *h)
{
	return h->loopback;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
	c->draining = false;
	c->inlen = c->outlen = c->outpos = 0;
}

void httpd_free(struct httpd *h)
{
	if (!h)
		return;
	for (int i = 0; i < HTTPD_MAX_CONNS; i++)
		conn_close(&h->conns[i]);
	if (h->fd >= 0)
		close(h->fd);
	free(h->cbody);
	free(h);
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	default:
		return "Internal Server Error";
	}
}

/* The whole response into c->out: status line, headers, body. */
static void respond(struct httpd *h, struct conn *c, httpd_handler_fn fn,
		    void *ctx, unsigned long long now)
{
	char method[16], path[1024];
	const char *ctype = "text/plain; charset=utf-8";
	char *body = NULL;
	size_t blen = 0;
	int st = httpd_parse_request(c->in, c->inlen, method, sizeof(method),
				     path, sizeof(path));
	bool head = false, cached = false;
	FILE *f;

	if (st == -E2BIG) {
		st = 431;
	} else if (st < 0) {
		st = 400;
	} else if (strcmp(method, "GET") && !(head = !strcmp(method, "HEAD"))) {
		st = 405;
	} else if (h->cbody && !strcmp(path, h->cpath) &&
		   now < h->cat + HTTPD_CACHE_MS) {
		st = 200;
		body = h->cbody;
		blen = h->clen;
		ctype = h->ctype;
		cached = true;
	} else {
		f = open_memstream(&body, &blen);
		if (!f)
			return;
		st = fn(ctx, path, f, &ctype);
		if (fclose(f)) {
			free(body);
			return;
		}
		if (st == 200) {
			free(h->cbody);
			h->cbody = body;
			h->clen = blen;
			h->ctype = ctype;
			h->cat = now;
			snprintf(h->cpath, sizeof(h->cpath), "%s", path);
			cached = true;
		} else {
			free(body);
			body = NULL;
		}
	}
	if (st != 200) {
		f = open_memstream(&body, &blen);
		if (!f)
			return;
		fprintf(f, "%d %s\n", st, reason(st));
		if (fclose(f)) {
			free(body);
			return;
		}
		ctype = "text/plain; charset=utf-8";
	}
	c->outlen = 0;
	f = open_memstream(&c->out, &c->outlen);
	if (f) {
		fprintf(f,
			"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
			"Connection: close\r\n\r\n",
			st, reason(st), ctype, blen,
			st == 405 ? "Allow: GET, HEAD\r\n" : "");
		if (!head)
			fwrite(body, 1, blen, f);
		if (fclose(f)) {
			free(c->out);
			c->out = NULL;
		}
	}
	if (!cached)
		free(body);
	c->outpos = 0;
}

static void conn_step(struct httpd *h, struct conn *c, httpd_handler_fn fn,
		      void *ctx, unsigned long long now)
{
	if (!c->out) {
		ssize_t n = recv(c->fd, c->in + c->inlen,
				 sizeof(c->in) - c->inlen, 0);
		char m[16], p[8];
		int st;

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_close(c);
			return;
		}
		if (n > 0)
			c->inlen += (size_t)n;
		st = httpd_parse_request(c->in, c->inlen, m, sizeof(m), p,
					 sizeof(p));
		/* a path too long for p still completes the head: only 0 waits */
		if (!st)
			return;
		respond(h, c, fn, ctx, now);
		if (!c->out) {
			conn_close(c);
			return;
		}
	}
	while (c->outpos < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outpos,
				 c->outlen - c->outpos, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_close(c);
			return;
		}
		c->outpos += (size_t)n;
	}
	if (!c->draining) {
		c->draining = true;
		shutdown(c->fd, SHUT_WR);
		if (c->deadline > now + HTTPD_READ_MS)
			c->deadline = now + HTTPD_READ_MS;
	}
	for (int i = 0; i < 16; i++) {
		char junk[4096];
		ssize_t n = recv(c->fd, junk, sizeof(junk), 0);

		if (n > 0)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			conn_close(c);
		return;
	}
}

void httpd_poll(struct httpd *h, httpd_handler_fn fn, void *ctx)
{
	unsigned long long now = now_ms();

	for (int i = 0; i < HTTPD_MAX_CONNS; i++) {
		struct conn *c = &h->conns[i];

		if (c->fd >= 0 ||
		    (c->fd = accept4(h->fd, NULL, NULL,
				     SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
			continue;
		c->accepted = now;
		c->deadline = now + HTTPD_DEADLINE_MS;
	}
	{
		/* full: the oldest connection that has not said anything
		 * useful yet makes room for whoever waits in the backlog */
		struct conn *old = NULL;
		int used = 0;

		for (int i = 0; i < HTTPD_MAX_CONNS; i++) {
			struct conn *c = &h->conns[i];

			used += c->fd >= 0;
			if (c->fd >= 0 && (!c->out || c->draining) &&
			    now >= c->accepted + HTTPD_EVICT_MS &&
			    (!old || c->accepted < old->accepted))
				old = c;
		}
		if (used == HTTPD_MAX_CONNS && old) {
			conn_close(old);
			old->fd = accept4(h->fd, NULL, NULL,
					  SOCK_NONBLOCK | SOCK_CLOEXEC);
			old->accepted = now;
			old->deadline = now + HTTPD_DEADLINE_MS;
		}
	}
	for (int i = 0; i < HTTPD_MAX_CONNS; i++) {
		struct conn *c = &h->conns[i];

		if (c->fd < 0)
			continue;
		if (now > c->deadline ||
		    (!c->out && now > c->accepted + HTTPD_READ_MS)) {
			conn_close(c);
			continue;
		}
		conn_step(h, c, fn, ctx, now);
	}
}

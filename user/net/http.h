/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_HTTP_H
#define PYROGRAPH_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The agent's upload client, on libcurl: POSTs to one server, http:// or
 * https:// (certificates and host names checked against the system's CAs
 * or --cacert), through the proxy the environment names (HTTPS_PROXY,
 * http_proxy, NO_PROXY...), with basic or bearer credentials and a
 * Pyroscope tenant. One connection is kept between uploads. Not thread
 * safe: one thread at a time uses a client.
 */
struct http_client;

/*
 * Why an upload failed, as the metrics' reason label
 * (pyrograph_agent_upload_failures_total{reason}). An X-macro so the
 * metrics can name them without linking libcurl.
 */
#define HTTP_FAILURES(X)                                        \
	X(HTTP_FAIL_RESOLVE, "resolve")                         \
	X(HTTP_FAIL_CONNECT, "connect")                         \
	X(HTTP_FAIL_TIMEOUT, "timeout")                         \
	X(HTTP_FAIL_PROXY, "proxy")                             \
	X(HTTP_FAIL_CERT_EXPIRED, "certificate_expired")        \
	X(HTTP_FAIL_CERT_HOSTNAME, "certificate_host_mismatch") \
	X(HTTP_FAIL_CERT_UNKNOWN_CA, "certificate_unknown_ca")  \
	X(HTTP_FAIL_TLS, "tls")                                 \
	X(HTTP_FAIL_NETWORK, "connection_lost")                 \
	X(HTTP_FAIL_401, "http_401")                            \
	X(HTTP_FAIL_403, "http_403")                            \
	X(HTTP_FAIL_413, "http_413")                            \
	X(HTTP_FAIL_429, "http_429")                            \
	X(HTTP_FAIL_4XX, "http_4xx")                            \
	X(HTTP_FAIL_5XX, "http_5xx")                            \
	X(HTTP_FAIL_OTHER, "other")

#define HTTP_FAILURE_ENUM(e, label) e,
enum http_failure { HTTP_FAILURES(HTTP_FAILURE_ENUM) HTTP_FAIL_N };
#undef HTTP_FAILURE_ENUM

struct http_options {
	/* http:// or https://, with a path prefix; may carry user[:password]@ */
	const char *url;
	const char *cacert; /* PEM file trusted instead of the system's CAs */
	bool insecure;	    /* no certificate or host name checks */
	const char *basic_auth_file;   /* USER:PASSWORD, or the password alone
					* when the URL names the user */
	const char *bearer_token_file; /* Authorization: Bearer TOKEN */
	const char *tenant;	       /* X-Scope-OrgID */
};

/*
 * Checks the options and reads the files they name (once: the secrets are
 * kept in memory, so nothing but the file names is in argv). Warns on
 * stderr about what is allowed but risky (--insecure, credentials over
 * plain http, a secret file others can read). Returns 0, or a negative
 * errno with what is wrong in why.
 */
int http_client_new(const struct http_options *o, struct http_client **out,
		    char *why, size_t wlen);
void http_client_free(struct http_client *c);
/* The server's URL without credentials, for messages. */
const char *http_client_url(const struct http_client *c);

struct http_result {
	int status;		/* the HTTP status, 0 when none came back */
	enum http_failure fail; /* when not 2xx */
	char cause[640];	/* the failure in words, for a log line */
};

/*
 * POSTs body to the URL's path + path_query (which starts with '/') within
 * timeout_ms in all. Returns 0 when the server answered 2xx, else -1 with
 * r saying why.
 */
int http_post(struct http_client *c, const char *path_query,
	      const char *content_type, const void *body, size_t len,
	      int timeout_ms, struct http_result *r);

/* The failure an HTTP status (not 2xx) stands for, and its words. */
enum http_failure http_status_failure(int status);

/*
 * Reads a secret from path into out: a regular file of at most len - 1
 * bytes, one line (a trailing newline is dropped), no control characters.
 * Returns 0, 1 when it is fine but group or others may read the file, or a
 * negative errno with the reason in *why.
 */
int http_read_secret(const char *path, char *out, size_t len, const char **why);

#endif

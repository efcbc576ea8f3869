// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The agent's uploads through libcurl: TLS with certificate and host name
 * checks, proxies from the environment, credentials and connection reuse
 * come from a maintained client instead of a hand-written one. What is
 * ours: reading the secrets once, and turning libcurl's and the server's
 * failures into a reason the metrics count and words an operator can act
 * on.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/http.h"
#include "sys/log.h"

#define SECRET_MAX 8192
#define CACERT_MAX (4 << 20)
#define TENANT_MAX 150
#define REPLY_KEEP 160

/*
 * OpenSSL's certificate verification results (x509_vfy.h), what libcurl's
 * OpenSSL backend reports as CURLINFO_SSL_VERIFYRESULT. Numbers fixed by
 * OpenSSL's ABI; only read when libcurl runs on OpenSSL.
 */
enum {
	X509_ISSUER_UNKNOWN = 2,
	X509_NOT_YET_VALID = 9,
	X509_EXPIRED = 10,
	X509_SELF_SIGNED = 18,
	X509_SELF_SIGNED_IN_CHAIN = 19,
	X509_ISSUER_UNKNOWN_LOCALLY = 20,
	X509_LEAF_UNVERIFIABLE = 21,
	X509_HOSTNAME_MISMATCH = 62,
	X509_IP_MISMATCH = 64,
};

struct http_client {
	CURL *curl;
	char *base; /* scheme://host[:port][/path], no credentials or final '/' */
	char *host;
	char *tenant_header;
	bool auth, openssl;
	int timeout_ms;
	char errbuf[CURL_ERROR_SIZE];
	char reply[REPLY_KEEP]; /* the start of the response body */
	size_t reply_len;
};

/* At most cap bytes of a regular file into out; *len and *mode set. */
static int read_small_file(const char *path, char *out, size_t cap, size_t *len,
			   mode_t *mode, const char **why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	size_t got = 0;
	ssize_t n = 0;
	char extra;
	int err = 0;

	if (fd < 0) {
		err = -errno;
		*why = strerror(errno);
		return err;
	}
	if (fstat(fd, &st)) {
		err = -errno;
		*why = strerror(errno);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		err = -EINVAL;
		goto out;
	}
	while (got < cap && (n = read(fd, out + got, cap - got)) > 0)
		got += (size_t)n;
	if (n < 0) {
		err = -errno;
		*why = strerror(errno);
		goto out;
	}
	if ((off_t)cap < st.st_size ||
	    (got == cap && read(fd, &extra, 1) > 0)) {
		*why = "too large";
		err = -EFBIG;
		goto out;
	}
	*len = got;
	*mode = st.st_mode;
out:
	close(fd);
	return err;
}

int http_read_secret(const char *path, char *out, size_t len, const char **why)
{
	size_t n = 0;
	mode_t mode = 0;
	int err;

	if (len < 2)
		return -EINVAL;
	err = read_small_file(path, out, len - 1, &n, &mode, why);
	if (err) {
		if (err == -EFBIG)
			*why = "too large for a secret (one line)";
		goto fail;
	}
	if (n && out[n - 1] == '\n')
		n--;
	if (n && out[n - 1] == '\r')
		n--;
	out[n] = '\0';
	if (!n) {
		*why = "empty";
		err = -EINVAL;
		goto fail;
	}
	/* one line: a newline in the middle would end the header it goes to */
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f) {
			*why = "more than one line, or a control character";
			err = -EINVAL;
			goto fail;
		}
	}
	return (mode & 077) ? 1 : 0;
fail:
	explicit_bzero(out, len);
	return err;
}

/* Reads a secret, warning when others may read its file. */
static int secret(const char *opt, const char *path, char *out, size_t len,
		  char *why, size_t wlen)
{
	const char *reason = "";
	int r = http_read_secret(path, out, len, &reason);

	if (r < 0) {
		snprintf(why, wlen, "%s %s: %s", opt, path, reason);
		return r;
	}
	if (r == 1)
		pr_warn("%s %s: group or others may read it; chmod 600 %s", opt,
			path, path);
	return 0;
}

static int tenant_ok(const char *t)
{
	size_t n = strlen(t);

	/* Cortex/Mimir/Pyroscope tenant ids */
	return n && n <= TENANT_MAX && strcmp(t, ".") && strcmp(t, "..") &&
	       strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789!-_.*'()") == n;
}

/*
 * The base URL split from its credentials (percent-decoded into *user and
 * *pass, either may stay NULL).
 */
static int parse_url(struct http_client *c, const char *url, char **user,
		     char **pass, char *why, size_t wlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *rest = NULL, *full = NULL;
	int err = -EINVAL;
	size_t n;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
		snprintf(why, wlen,
			 "--server %s: not an http:// or https:// URL", url);
		goto out;
	}
	if (!curl_url_get(u, CURLUPART_QUERY, &rest, 0) ||
	    !curl_url_get(u, CURLUPART_FRAGMENT, &rest, 0)) {
		snprintf(
			why, wlen,
			"--server: no query or fragment (the agent adds /ingest?...)");
		goto out;
	}
	curl_url_get(u, CURLUPART_USER, user, CURLU_URLDECODE);
	curl_url_get(u, CURLUPART_PASSWORD, pass, CURLU_URLDECODE);
	err = -ENOMEM;
	if (curl_url_set(u, CURLUPART_USER, NULL, 0) ||
	    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) ||
	    curl_url_get(u, CURLUPART_URL, &full, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &rest, 0))
		goto out;
	c->host = strdup(rest);
	c->base = strdup(full);
	if (!c->host || !c->base)
		goto out;
	/* the API path starts with '/' */
	n = strlen(c->base);
	while (n && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	err = 0;
out:
	curl_free(scheme);
	curl_free(rest);
	curl_free(full);
	curl_url_cleanup(u);
	return err;
}

/*
 * Who the uploads say they are: the URL's user and password, or
 * --basic-auth-file (USER:PASSWORD, or the password of the URL's user), or
 * --bearer-token-file. One of them.
 */
static int set_auth(struct http_client *c, const struct http_options *o,
		    const char *user, const char *pass, char *why, size_t wlen)
{
	char buf[SECRET_MAX];
	int err = -EINVAL;

	if (o->basic_auth_file && o->bearer_token_file) {
		snprintf(
			why, wlen,
			"--basic-auth-file and --bearer-token-file: one or the other");
		return -EINVAL;
	}
	if (pass && (o->basic_auth_file || o->bearer_token_file)) {
		snprintf(
			why, wlen,
			"--server has a password and so does a file option: keep only the file");
		return -EINVAL;
	}
	if (user && o->bearer_token_file) {
		snprintf(
			why, wlen,
			"--server names a user: that is basic auth, not --bearer-token-file");
		return -EINVAL;
	}
	if (o->bearer_token_file) {
		err = secret("--bearer-token-file", o->bearer_token_file, buf,
			     sizeof(buf), why, wlen);
		if (err)
			goto out;
		curl_easy_setopt(c->curl, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(c->curl, CURLOPT_XOAUTH2_BEARER, buf);
	} else if (o->basic_auth_file) {
		char *colon;

		err = secret("--basic-auth-file", o->basic_auth_file, buf,
			     sizeof(buf), why, wlen);
		if (err)
			goto out;
		colon = user ? NULL : strchr(buf, ':');
		if (!user && (!colon || colon == buf)) {
			snprintf(
				why, wlen,
				"--basic-auth-file %s: USER:PASSWORD on one line (or only the password, with the user in the URL: https://USER@HOST)",
				o->basic_auth_file);
			err = -EINVAL;
			goto out;
		}
		if (colon)
			*colon = '\0';
		curl_easy_setopt(c->curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(c->curl, CURLOPT_USERNAME, user ? user : buf);
		curl_easy_setopt(c->curl, CURLOPT_PASSWORD,
				 colon ? colon + 1 : buf);
	} else if (user) {
		if (pass)
			pr_warn("--server carries a password: anyone on this host can read it (ps, /proc/PID/cmdline); --basic-auth-file FILE keeps it out of sight");
		curl_easy_setopt(c->curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(c->curl, CURLOPT_USERNAME, user);
		curl_easy_setopt(c->curl, CURLOPT_PASSWORD, pass ? pass : "");
	}
	c->auth = o->bearer_token_file || o->basic_auth_file || user;
	err = 0;
out:
	/* libcurl keeps its own copy */
	explicit_bzero(buf, sizeof(buf));
	return err;
}

static int set_tls(struct http_client *c, const struct http_options *o,
		   char *why, size_t wlen)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	struct curl_blob blob = {.flags = CURL_BLOB_COPY};
	const char *reason = "";
	mode_t mode;
	int err;

	c->openssl = v->ssl_version && !strncmp(v->ssl_version, "OpenSSL", 7);
	curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER,
			 o->insecure ? 0L : 1L);
	curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST,
			 o->insecure ? 0L : 2L);
	if (o->insecure)
		pr_warn("--insecure: the certificate and host name of %s are NOT checked; whoever is on the way can read and change the uploads and take the credentials",
			c->host);
	if (!o->cacert)
		return 0;
	/* read once, like the secrets: what is trusted does not change under us */
	blob.data = malloc(CACERT_MAX);
	if (!blob.data)
		return -ENOMEM;
	err = read_small_file(o->cacert, blob.data, CACERT_MAX, &blob.len,
			      &mode, &reason);
	if (!err &&
	    !memmem(blob.data, blob.len, "-----BEGIN CERTIFICATE-----", 27)) {
		reason = "no PEM certificate in it";
		err = -EINVAL;
	}
	if (err)
		snprintf(why, wlen, "--cacert %s: %s", o->cacert, reason);
	else if (curl_easy_setopt(c->curl, CURLOPT_CAINFO_BLOB, &blob) ||
		 curl_easy_setopt(c->curl, CURLOPT_CAINFO, NULL) ||
		 curl_easy_setopt(c->curl, CURLOPT_CAPATH, NULL)) {
		snprintf(
			why, wlen,
			"--cacert: this libcurl cannot take CA certificates from memory");
		err = -ENOTSUP;
	}
	free(blob.data);
	return err;
}

static size_t keep_reply(char *p, size_t size, size_t n, void *ctx)
{
	struct http_client *c = ctx;
	size_t len = size * n, room = sizeof(c->reply) - 1 - c->reply_len;

	memcpy(c->reply + c->reply_len, p, len < room ? len : room);
	c->reply_len += len < room ? len : room;
	return len;
}

int http_client_new(const struct http_options *o, struct http_client **out,
		    char *why, size_t wlen)
{
	struct http_client *c;
	char *user = NULL, *pass = NULL;
	int err = -ENOMEM;

	*out = NULL;
	snprintf(why, wlen, "out of memory");
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->curl = curl_easy_init()))
		goto out;
	err = parse_url(c, o->url, &user, &pass, why, wlen);
	if (err)
		goto out;
	if (o->tenant) {
		err = -EINVAL;
		if (!tenant_ok(o->tenant)) {
			snprintf(
				why, wlen,
				"--tenant: 1 to %d of A-Z a-z 0-9 ! - _ . * ' ( )",
				TENANT_MAX);
			goto out;
		}
		err = -ENOMEM;
		if (asprintf(&c->tenant_header, "X-Scope-OrgID: %s",
			     o->tenant) < 0) {
			c->tenant_header = NULL;
			goto out;
		}
	}
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT,
			 "pyrograph/" PYROGRAPH_VERSION);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, keep_reply);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
	err = set_tls(c, o, why, wlen);
	if (!err)
		err = set_auth(c, o, user, pass, why, wlen);
	if (err)
		goto out;
	if (c->auth && !strncmp(c->base, "http:", 5))
		pr_warn("credentials go to %s over plain http: anyone on the way can read them (https:// keeps them private)",
			c->host);
out:
	if (user)
		explicit_bzero(user, strlen(user));
	if (pass)
		explicit_bzero(pass, strlen(pass));
	curl_free(user);
	curl_free(pass);
	if (!err)
		*out = c;
	else if (c)
		http_client_free(c);
	else
		curl_global_cleanup();
	return err;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->base);
	free(c->host);
	free(c->tenant_header);
	free(c);
	curl_global_cleanup();
}

const char *http_client_url(const struct http_client *c)
{
	return c->base;
}

enum http_failure http_status_failure(int status)
{
	switch (status) {
	case 401:
		return HTTP_FAIL_401;
	case 403:
		return HTTP_FAIL_403;
	case 407:
		return HTTP_FAIL_PROXY;
	case 408:
		return HTTP_FAIL_TIMEOUT;
	case 413:
		return HTTP_FAIL_413;
	case 429:
		return HTTP_FAIL_429;
	}
	if (status >= 400 && status < 500)
		return HTTP_FAIL_4XX;
	if (status >= 500 && status < 600)
		return HTTP_FAIL_5XX;
	return HTTP_FAIL_OTHER;
}

/* What the server said with a refusal, printable and on one line. */
static void server_words(struct http_client *c, char *out, size_t len)
{
	size_t k = 0;
	bool space = false;

	for (size_t i = 0; i < c->reply_len && k + 4 < len; i++) {
		unsigned char ch = (unsigned char)c->reply[i];

		if (ch <= ' ' || ch >= 0x7f) {
			space = k > 0;
			continue;
		}
		if (space)
			out[k++] = ' ';
		space = false;
		out[k++] = (char)ch;
	}
	out[k] = '\0';
}

static void status_cause(struct http_client *c, int status, size_t len,
			 struct http_result *r)
{
	char words[REPLY_KEEP], *where = NULL;
	const char *what;
	size_t n;

	server_words(c, words, sizeof(words));
	switch (r->fail) {
	case HTTP_FAIL_401:
		what = c->auth ?
			       "the server refuses the credentials" :
			       "the server wants credentials (--basic-auth-file or --bearer-token-file)";
		break;
	case HTTP_FAIL_403:
		what = "the credentials may not send profiles (the token's scope, or --tenant)";
		break;
	case HTTP_FAIL_413:
		what = "the server takes no profile this large";
		break;
	case HTTP_FAIL_429:
		what = "the server limits the rate of uploads";
		break;
	case HTTP_FAIL_5XX:
		what = "the server failed";
		break;
	default:
		what = status == 404 ?
			       "nothing at that URL (the server's base URL, without /ingest?)" :
		       status >= 300 && status < 400 ?
			       "the server redirects" :
			       "the server refuses the upload";
		break;
	}
	if (status >= 300 && status < 400)
		curl_easy_getinfo(c->curl, CURLINFO_REDIRECT_URL, &where);
	n = snprintf(r->cause, sizeof(r->cause), "HTTP %d: %s", status, what);
	if (where && n < sizeof(r->cause))
		n += snprintf(r->cause + n, sizeof(r->cause) - n, " to %s",
			      where);
	if (r->fail == HTTP_FAIL_413 && n < sizeof(r->cause))
		n += snprintf(r->cause + n, sizeof(r->cause) - n,
			      " (%zu bytes)", len);
	if (words[0] && n < sizeof(r->cause))
		snprintf(r->cause + n, sizeof(r->cause) - n, ": %s", words);
}

/* A certificate libcurl refused: why, as far as the TLS library says. */
static enum http_failure cert_failure(struct http_client *c, char *buf,
				      size_t len, const char **what)
{
	long verify = -1;

	curl_easy_getinfo(c->curl, CURLINFO_SSL_VERIFYRESULT, &verify);
	if (c->openssl) {
		switch (verify) {
		case X509_EXPIRED:
			*what = "certificate expired: the server's certificate has expired";
			return HTTP_FAIL_CERT_EXPIRED;
		case X509_NOT_YET_VALID:
			*what = "the server's certificate is not valid yet (or this host's clock is behind)";
			return HTTP_FAIL_CERT_EXPIRED;
		case X509_ISSUER_UNKNOWN:
		case X509_ISSUER_UNKNOWN_LOCALLY:
		case X509_SELF_SIGNED:
		case X509_SELF_SIGNED_IN_CHAIN:
		case X509_LEAF_UNVERIFIABLE:
			*what = "unknown CA: the server's certificate is not signed by a trusted CA (a private CA: --cacert FILE)";
			return HTTP_FAIL_CERT_UNKNOWN_CA;
		/*
		 * The chain is fine, libcurl's own name check failed: it runs
		 * before the chain's result is read, so the result is still
		 * libcurl's placeholder (1, "not OK") or X509_V_OK.
		 */
		case 0:
		case 1:
		case X509_HOSTNAME_MISMATCH:
		case X509_IP_MISMATCH:
			snprintf(
				buf, len,
				"host name mismatch: the server's certificate is not for %s",
				c->host);
			*what = buf;
			return HTTP_FAIL_CERT_HOSTNAME;
		}
	}
	*what = "the server's certificate is not accepted";
	return HTTP_FAIL_TLS;
}

static void curl_cause(struct http_client *c, CURLcode rc,
		       struct http_result *r)
{
	const char *what = NULL;
	long oserr = 0, proxy_status = 0;
	char buf[320];

	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		r->fail = HTTP_FAIL_RESOLVE;
		what = "cannot resolve the host name";
		break;
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_PROXY:
		r->fail = HTTP_FAIL_PROXY;
		what = "the proxy failed";
		break;
	case CURLE_COULDNT_CONNECT:
		r->fail = HTTP_FAIL_CONNECT;
		curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &oserr);
		what = oserr == ECONNREFUSED ? "connection refused" :
		       oserr ? strerror_r((int)oserr, buf, sizeof(buf)) :
			       "cannot connect";
		break;
	case CURLE_OPERATION_TIMEDOUT:
		r->fail = HTTP_FAIL_TIMEOUT;
		snprintf(buf, sizeof(buf), "no answer within %d s",
			 (c->timeout_ms + 999) / 1000);
		what = buf;
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		r->fail = cert_failure(c, buf, sizeof(buf), &what);
		break;
	case CURLE_SSL_CACERT_BADFILE:
		r->fail = HTTP_FAIL_TLS;
		what = "the CA certificates cannot be used";
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_INITFAILED:
		r->fail = HTTP_FAIL_TLS;
		what = "the TLS handshake failed (is it an https:// server?)";
		break;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		r->fail = HTTP_FAIL_NETWORK;
		what = "the connection broke before the answer";
		break;
	default:
		r->fail = HTTP_FAIL_OTHER;
		what = curl_easy_strerror(rc);
		break;
	}
	/* a proxy that refuses the tunnel ends the transfer as a receive error */
	curl_easy_getinfo(c->curl, CURLINFO_HTTP_CONNECTCODE, &proxy_status);
	if (proxy_status >= 300) {
		r->fail = HTTP_FAIL_PROXY;
		snprintf(buf, sizeof(buf),
			 "the proxy refuses the tunnel (HTTP %ld)",
			 proxy_status);
		what = buf;
	}
	snprintf(r->cause, sizeof(r->cause), "%s (%s)", what,
		 c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
}

int http_post(struct http_client *c, const char *path_query,
	      const char *content_type, const void *body, size_t len,
	      int timeout_ms, struct http_result *r)
{
	struct curl_slist *hdr = NULL, *h;
	char *url = NULL, ctype[128];
	long status = 0;
	CURLcode rc;
	int ret = -1;

	memset(r, 0, sizeof(*r));
	r->fail = HTTP_FAIL_OTHER;
	snprintf(r->cause, sizeof(r->cause), "out of memory");
	snprintf(ctype, sizeof(ctype), "Content-Type: %s", content_type);
	if (asprintf(&url, "%s%s", c->base, path_query) < 0)
		return -1;
	/* no "Expect: 100-continue" and its wait before a large body */
	hdr = curl_slist_append(NULL, ctype);
	h = hdr ? curl_slist_append(hdr, "Expect:") : NULL;
	if (h && c->tenant_header)
		h = curl_slist_append(hdr, c->tenant_header);
	if (!h)
		goto out;
	c->errbuf[0] = '\0';
	c->reply_len = 0;
	c->timeout_ms = timeout_ms;
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	rc = curl_easy_perform(c->curl);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	r->status = (int)status;
	if (rc != CURLE_OK) {
		r->status = 0;
		curl_cause(c, rc, r);
	} else if (status >= 200 && status < 300) {
		r->cause[0] = '\0';
		ret = 0;
	} else {
		r->fail = http_status_failure((int)status);
		status_cause(c, (int)status, len, r);
	}
	/* nothing of this call's stays referenced by the handle */
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
out:
	curl_slist_free_all(hdr);
	free(url);
	return ret;
}

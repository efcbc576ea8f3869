// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The upload client's checks (user/net/http.c), before any connection:
 * secret files (one line, bounded, regular, mode), the server URL (scheme,
 * no query, credentials taken out of it), conflicting credentials, tenant
 * ids, and which failure an HTTP status is. The transfers themselves are
 * tested end to end against a TLS server (tests/e2e/test_agent_tls.py).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "net/http.h"

CHECK_COUNTERS;

static char dir[] = "/tmp/pyrograph-test-http-XXXXXX";

/* A file in the test's directory holding len bytes of text, with mode. */
static const char *file_of(const char *name, const char *text, size_t len,
			   mode_t mode)
{
	static char path[8][256];
	static int next;
	char *p = path[next++ % 8];
	int fd;

	snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len ||
	    fchmod(fd, mode)) {
		perror(p);
		exit(2);
	}
	close(fd);
	return p;
}

#define FILE_OF(name, text, mode) file_of(name, text, sizeof(text) - 1, mode)

static void test_secrets(void)
{
	char buf[64], big[200];
	const char *why = NULL;
	int r;

	r = http_read_secret(FILE_OF("nl", "tok\n", 0600), buf, sizeof(buf),
			     &why);
	CHECK(r == 0 && !strcmp(buf, "tok"), "%d '%s'", r, buf);
	r = http_read_secret(FILE_OF("crlf", "a:b c\r\n", 0600), buf,
			     sizeof(buf), &why);
	CHECK(r == 0 && !strcmp(buf, "a:b c"), "%d '%s'", r, buf);
	r = http_read_secret(FILE_OF("bare", "tok", 0400), buf, sizeof(buf),
			     &why);
	CHECK(r == 0 && !strcmp(buf, "tok"), "no newline: %d", r);
	/* one newline is dropped, not two */
	r = http_read_secret(FILE_OF("two", "tok\n\n", 0600), buf, sizeof(buf),
			     &why);
	CHECK(r == -EINVAL && !buf[0], "%d", r);
	r = http_read_secret(FILE_OF("lines", "user:pw\nX-Evil: 1\n", 0600),
			     buf, sizeof(buf), &why);
	CHECK(r == -EINVAL && strstr(why, "more than one line") && !buf[0],
	      "a header smuggled in: %d", r);
	r = http_read_secret(FILE_OF("nul", "a\0b", 0600), buf, sizeof(buf),
			     &why);
	CHECK(r == -EINVAL, "NUL: %d", r);
	r = http_read_secret(FILE_OF("empty", "\n", 0600), buf, sizeof(buf),
			     &why);
	CHECK(r == -EINVAL && !strcmp(why, "empty"), "%d", r);
	r = http_read_secret(FILE_OF("loose", "tok\n", 0644), buf, sizeof(buf),
			     &why);
	CHECK(r == 1 && !strcmp(buf, "tok"), "group/others may read: %d", r);
	/* the bound: len - 1 bytes fit (the newline counts), one more does not */
	memset(big, 'x', sizeof(big));
	r = http_read_secret(file_of("fits", big, sizeof(buf) - 1, 0600), buf,
			     sizeof(buf), &why);
	CHECK(r == 0 && strlen(buf) == sizeof(buf) - 1, "%d %zu", r,
	      strlen(buf));
	r = http_read_secret(file_of("big", big, sizeof(buf), 0600), buf,
			     sizeof(buf), &why);
	CHECK(r == -EFBIG && strstr(why, "too large") && !buf[0], "%d", r);
	r = http_read_secret("/dev/zero", buf, sizeof(buf), &why);
	CHECK(r == -EINVAL && strstr(why, "regular"), "a device: %d", r);
	r = http_read_secret(dir, buf, sizeof(buf), &why);
	CHECK(r == -EINVAL, "a directory: %d", r);
	r = http_read_secret("/nonexistent/secret", buf, sizeof(buf), &why);
	CHECK(r == -ENOENT, "%d", r);
}

/* http_client_new's verdict on o, and the client's URL when it takes it. */
static int client(const struct http_options *o, char *why, size_t wlen,
		  char *url, size_t ulen)
{
	struct http_client *c = NULL;
	int r = http_client_new(o, &c, why, wlen);

	if (!r) {
		snprintf(url, ulen, "%s", http_client_url(c));
		http_client_free(c);
	}
	return r;
}

static void test_options(void)
{
	const char *up = FILE_OF("up", "123456:glc_token\n", 0600);
	const char *pw = FILE_OF("pw", "glc_token\n", 0600);
	const char *bad = FILE_OF("bad", "two\nlines\n", 0600);
	char why[512], url[512];
	struct {
		struct http_options o;
		int want;	  /* 0 or the errno */
		const char *says; /* in why, or the URL taken */
	} cases[] = {
		{{.url = "https://h:4040/"}, 0, "https://h:4040"},
		{{.url = "http://h/base/path//"}, 0, "http://h/base/path"},
		{{.url = "https://u%40x:p%3Aw@h/p"}, 0, "https://h/p"},
		{{.url = "https://123456@h", .basic_auth_file = pw},
		 0,
		 "https://h"},
		{{.url = "https://h",
		  .basic_auth_file = up,
		  .tenant = "team-a_1.(x)"},
		 0,
		 "https://h"},
		{{.url = "https://[::1]:8443/x"}, 0, "https://[::1]:8443/x"},
		{{.url = "ftp://h/"},
		 -EINVAL,
		 "not an http:// or https:// URL"},
		{{.url = "h:4040"}, -EINVAL, "not an http:// or https:// URL"},
		{{.url = "https://h/?a=b"}, -EINVAL, "no query or fragment"},
		{{.url = "https://h/#x"}, -EINVAL, "no query or fragment"},
		{{.url = "https://h", .basic_auth_file = pw},
		 -EINVAL,
		 "USER:PASSWORD on one line"},
		{{.url = "https://h",
		  .basic_auth_file = up,
		  .bearer_token_file = pw},
		 -EINVAL,
		 "one or the other"},
		{{.url = "https://u:p@h", .basic_auth_file = pw},
		 -EINVAL,
		 "keep only the file"},
		{{.url = "https://u@h", .bearer_token_file = pw},
		 -EINVAL,
		 "basic auth"},
		{{.url = "https://h", .bearer_token_file = bad},
		 -EINVAL,
		 "more than one line"},
		{{.url = "https://h", .tenant = "a b"}, -EINVAL, "--tenant"},
		{{.url = "https://h", .tenant = "a\r\nX: y"},
		 -EINVAL,
		 "--tenant"},
		{{.url = "https://h", .tenant = ".."}, -EINVAL, "--tenant"},
		{{.url = "https://h", .cacert = pw},
		 -EINVAL,
		 "no PEM certificate"},
		{{.url = "https://h", .cacert = "/nonexistent"},
		 -ENOENT,
		 "--cacert"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r;

		why[0] = url[0] = '\0';
		r = client(&cases[i].o, why, sizeof(why), url, sizeof(url));
		CHECK(r == cases[i].want, "%s: %d (%s)", cases[i].o.url, r,
		      why);
		if (!cases[i].want)
			CHECK(!strcmp(url, cases[i].says), "%s -> %s",
			      cases[i].o.url, url);
		else
			CHECK(strstr(why, cases[i].says), "%s: '%s'",
			      cases[i].o.url, why);
		/* no secret in any message */
		CHECK(!strstr(why, "glc_token") && !strstr(url, "p%3Aw") &&
			      !strstr(url, "u%40x"),
		      "%s: %s %s", cases[i].o.url, why, url);
	}
}

static void test_statuses(void)
{
	const struct {
		int status;
		enum http_failure want;
	} cases[] = {
		{401, HTTP_FAIL_401},	  {403, HTTP_FAIL_403},
		{413, HTTP_FAIL_413},	  {429, HTTP_FAIL_429},
		{408, HTTP_FAIL_TIMEOUT}, {407, HTTP_FAIL_PROXY},
		{400, HTTP_FAIL_4XX},	  {404, HTTP_FAIL_4XX},
		{500, HTTP_FAIL_5XX},	  {503, HTTP_FAIL_5XX},
		{301, HTTP_FAIL_OTHER},	  {100, HTTP_FAIL_OTHER},
		{999, HTTP_FAIL_OTHER},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(http_status_failure(cases[i].status) == cases[i].want,
		      "%d -> %d", cases[i].status,
		      http_status_failure(cases[i].status));
}

int main(void)
{
	char cmd[300];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	test_secrets();
	test_options();
	test_statuses();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		perror(cmd);
	return CHECK_SUMMARY();
}

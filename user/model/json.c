// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>

#include "model/json.h"

void json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			/* Other control bytes escaped; bytes >= 0x80 pass
			 * through: names come from UTF-8 decoded strings. */
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

void json_init(struct json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->any[0] = false;
	j->err = 0;
}

/* The comma before a member and its key. */
static void member(struct json *j, const char *key)
{
	if (j->any[j->depth])
		fputc(',', j->f);
	j->any[j->depth] = true;
	if (key) {
		json_str(j->f, key);
		fputc(':', j->f);
	}
}

static void open_level(struct json *j, const char *key, char open, char close)
{
	if (j->depth + 1 >= JSON_DEPTH) {
		j->err = -E2BIG;
		return;
	}
	member(j, key);
	fputc(open, j->f);
	j->close[++j->depth] = close;
	j->any[j->depth] = false;
}

void json_obj(struct json *j, const char *key)
{
	open_level(j, key, '{', '}');
}

void json_arr(struct json *j, const char *key)
{
	open_level(j, key, '[', ']');
}

void json_end(struct json *j)
{
	if (j->depth <= 0) {
		j->err = -EINVAL;
		return;
	}
	fputc(j->close[j->depth--], j->f);
}

void json_s(struct json *j, const char *key, const char *v)
{
	member(j, key);
	json_str(j->f, v);
}

void json_u(struct json *j, const char *key, unsigned long long v)
{
	member(j, key);
	fprintf(j->f, "%llu", v);
}

void json_i(struct json *j, const char *key, long long v)
{
	member(j, key);
	fprintf(j->f, "%lld", v);
}

void json_f(struct json *j, const char *key, const char *fmt, double v)
{
	member(j, key);
	fprintf(j->f, fmt, v);
}

void json_b(struct json *j, const char *key, bool v)
{
	member(j, key);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
	member(j, key);
	fputs("null", j->f);
}

int json_done(struct json *j)
{
	if (j->err || j->depth)
		return -EIO;
	return ferror(j->f) ? -EIO : 0;
}

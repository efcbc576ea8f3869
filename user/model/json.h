/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_JSON_H
#define PYROGRAPH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Writes s as a JSON string literal (quotes included); NULL as null. */
void json_str(FILE *f, const char *s);

/*
 * A small JSON writer: compact output ({"a":1,"b":[2,3]}), commas and
 * closing brackets kept by the writer instead of by hand-kept flags. Every
 * value takes a key: the member's name inside an object, NULL inside an
 * array or at the top. Nesting deeper than JSON_DEPTH is not written
 * (j->err is set).
 */
#define JSON_DEPTH 32

struct json {
	FILE *f;
	int depth;
	char close[JSON_DEPTH]; /* '}' or ']' per open level */
	bool any[JSON_DEPTH];	/* the level has a member already */
	int err;
};

void json_init(struct json *j, FILE *f);
void json_obj(struct json *j, const char *key);
void json_arr(struct json *j, const char *key);
/* Closes the innermost object or array. */
void json_end(struct json *j);
void json_s(struct json *j, const char *key, const char *v); /* NULL: null */
void json_u(struct json *j, const char *key, unsigned long long v);
void json_i(struct json *j, const char *key, long long v);
/* A number with a printf format for doubles, e.g. "%.3f". */
void json_f(struct json *j, const char *key, const char *fmt, double v);
void json_b(struct json *j, const char *key, bool v);
void json_null(struct json *j, const char *key);
/* 0, or -EIO when the stream failed or the nesting was too deep. */
int json_done(struct json *j);

#endif

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <string.h>

#include "model/frames.h"

static bool starts(const char *s, size_t len, const char *p)
{
	size_t l = strlen(p);

	return len >= l && !memcmp(s, p, l);
}

static bool ends(const char *s, size_t len, const char *p)
{
	size_t l = strlen(p);

	return len >= l && !memcmp(s + len - l, p, l);
}

/* "(123)" or "(123/45)" at the end: returns where '(' is, or 0. */
static size_t pid_suffix(const char *s, size_t len, long *pid, long *nspid)
{
	size_t i = len;
	long a = 0, b = -1, mul = 1;

	if (len < 4 || s[len - 1] != ')')
		return 0;
	i = len - 1;
	while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9') {
		i--;
		if (len - 1 - i > 9)
			return 0;
		a += (s[i] - '0') * mul;
		mul *= 10;
	}
	if (i == len - 1)
		return 0;
	if (i > 0 && s[i - 1] == '/') {
		b = a;
		a = 0;
		mul = 1;
		i--;
		size_t end = i;
		while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9') {
			i--;
			if (end - i > 9)
				return 0;
			a += (s[i] - '0') * mul;
			mul *= 10;
		}
		if (i == end)
			return 0;
	}
	if (i < 2 || s[i - 1] != '(' || s[i - 2] != ' ')
		return 0;
	*pid = a;
	*nspid = b;
	return i - 1;
}

void frame_parse(const char *s, size_t len, bool root, struct frame_parts *out)
{
	size_t p;

	memset(out, 0, sizeof(*out));
	out->name = s;
	out->name_len = len;
	out->kind = FRAME_SYNTHETIC;
	if (len && s[0] == '[')
		return;
	if (ends(s, len, "_[k]")) {
		out->kind = FRAME_KERNEL;
		out->name_len = len - 4;
		return;
	}
	if (root && (starts(s, len, "container ") || starts(s, len, "cgroup "))) {
		out->kind = FRAME_CONTAINER;
		return;
	}
	if (root && (p = pid_suffix(s, len, &out->pid, &out->nspid))) {
		/* p is the '(' of the id; the name ends before the space */
		if (starts(s, len, "thread ")) {
			out->kind = FRAME_THREAD;
			out->name = s + 7;
			out->name_len = p >= 8 ? p - 8 : 0;
		} else {
			out->kind = FRAME_PROCESS;
			out->name_len = p - 1;
		}
		return;
	}
	if (len && s[len - 1] == ']') {
		/* "symbol [module]"; the module may itself be bracketed, as
		 * "[vdso]" is: the last " [" opens it */
		const char *open = NULL;

		for (size_t i = len - 1; i-- > 1;)
			if (s[i] == '[' && s[i - 1] == ' ') {
				open = s + i;
				break;
			}
		if (open && open > s && open[-1] == ' ') {
			out->kind = FRAME_NATIVE;
			out->name_len = (size_t)(open - 1 - s);
			out->file = open + 1;
			out->file_len = len - (size_t)(open - s) - 2;
			return;
		}
	}
	if (len && s[len - 1] == ')') {
		/* "qualname (file:line)" or "qualname (file)": the last " ("
		 * opens the location (file names rarely contain one) */
		const char *open = NULL;

		for (size_t i = len - 1; i-- > 1;)
			if (s[i] == '(' && s[i - 1] == ' ') {
				open = s + i;
				break;
			}
		if (open) {
			const char *f = open + 1, *end = s + len - 1, *c;
			long line = 0, mul = 1;

			out->kind = FRAME_PYTHON;
			out->name_len = (size_t)(open - 1 - s);
			out->file = f;
			out->file_len = (size_t)(end - f);
			for (c = end; c > f && c[-1] >= '0' && c[-1] <= '9' &&
				      end - c < 9;
			     c--) {
				line += (c[-1] - '0') * mul;
				mul *= 10;
			}
			if (c < end && c > f && c[-1] == ':') {
				out->line = line;
				out->file_len = (size_t)(c - 1 - f);
			}
			return;
		}
	}
	out->kind = FRAME_PYTHON; /* a bare name: still code */
}

static bool contains(const char *s, size_t len, const char *p)
{
	size_t l = strlen(p);

	for (size_t i = 0; i + l <= len; i++)
		if (!memcmp(s + i, p, l))
			return true;
	return false;
}

enum code_origin frame_origin(const char *file, size_t len)
{
	if (!file)
		return ORIGIN_APP;
	if (contains(file, len, "/site-packages/") ||
	    contains(file, len, "/dist-packages/"))
		return ORIGIN_THIRD_PARTY;
	if (contains(file, len, "/lib/python3") || starts(file, len, "<frozen"))
		return ORIGIN_STDLIB;
	return ORIGIN_APP;
}

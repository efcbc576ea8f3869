/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_INTERN_H
#define PYROGRAPH_INTERN_H

#include <stddef.h>

#include "model/hashidx.h"

/* Strings -> dense ids 0, 1, 2... in first-seen order (the frame table's
 * names and files, string tables of the output formats, report keys). */
struct intern {
	char **s; /* s[id]: the string, NUL-terminated */
	size_t n, cap;
	size_t bytes; /* heap held by the strings */
	struct hashidx ix;
};

/* The id of s[0..len), added if new; -ENOMEM. */
long intern_id(struct intern *t, const char *s, size_t len);
/* The id of s[0..len) if present, else -1. */
long intern_find(const struct intern *t, const char *s, size_t len);
/* Heap bytes of the table and its strings. */
size_t intern_bytes(const struct intern *t);
void intern_free(struct intern *t);

#endif

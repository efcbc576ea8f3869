/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_INTERN_H
#define PYROGRAPH_INTERN_H

#include <stddef.h>

/* Strings -> dense ids 0, 1, 2... in first-seen order (string tables of
 * the output formats, the sample log's stacks and threads). */
struct intern {
	char **s;
	size_t n, cap;
	size_t *idx; /* open addressing: id + 1, 0 empty */
	size_t icap;
};

/* The id of s[0..len), added if new; -ENOMEM. */
long intern_id(struct intern *t, const char *s, size_t len);
void intern_free(struct intern *t);

#endif

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/array.h"
#include "model/folded.h"

long folded_frames(struct frame_table *ft, const char *s, size_t len,
		   struct folded_buf *b)
{
	const char *end = s + len;
	bool root = true;
	size_t n = 0;

	while (s < end) {
		const char *semi = memchr(s, ';', (size_t)(end - s));
		size_t flen = semi ? (size_t)(semi - s) : (size_t)(end - s);

		if (flen) {
			if (array_reserve(&b->f, &b->cap, n + 1, sizeof(*b->f), 256))
				return -ENOMEM;
			b->f[n] = frames_parse(ft, s, flen, root);
			if (b->f[n] == FRAME_NONE)
				return -ENOMEM;
			root = root && frame_is_root(ft, b->f[n]);
			n++;
		}
		if (!semi)
			break;
		s = semi + 1;
	}
	return n > UINT32_MAX ? -E2BIG : (long)n;
}

int folded_add(struct profile *p, const char *s, size_t len, uint64_t value,
	       uint64_t count, struct folded_buf *b)
{
	long n = folded_frames(p->ft, s, len, b);

	if (n < 0)
		return (int)n;
	return profile_add(p, b->f, (uint32_t)n, value, count);
}

void folded_buf_free(struct folded_buf *b)
{
	free(b->f);
	b->f = NULL;
	b->cap = 0;
}

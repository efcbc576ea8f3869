/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_ARRAY_H
#define PYROGRAPH_ARRAY_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/*
 * The one way arrays grow: makes room for need elements of elem bytes in
 * *p (capacity *cap), doubling from first. New elements are not zeroed.
 * Returns 0, or -ENOMEM (the array is left as it was).
 */
static inline int array_reserve(void *p, size_t *cap, size_t need, size_t elem,
				size_t first)
{
	size_t ncap = *cap ? *cap : first;
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -ENOMEM;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / elem)
		return -ENOMEM;
	np = realloc(*(void **)p, ncap * elem);
	if (!np)
		return -ENOMEM;
	*(void **)p = np;
	*cap = ncap;
	return 0;
}

#endif

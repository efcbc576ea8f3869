/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The unit tests' one assertion macro. Each test file defines
 * `static int passed, failed, skipped;` through CHECK_COUNTERS, says why a
 * check could not run with SKIP() and ends main() with CHECK_SUMMARY(): the
 * closing "N passed, N failed, N skipped" line that tests/test_unit.py
 * reads (a skipped check fails the run in CI).
 */
#ifndef PYROGRAPH_TEST_CHECK_H
#define PYROGRAPH_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_COUNTERS static int passed, failed, skipped

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (cond) {                                                  \
			passed++;                                            \
		} else {                                                     \
			failed++;                                            \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__,        \
				__LINE__, #cond);                            \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
		}                                                            \
	} while (0)

/* A check that could not run here (a missing binary or tool), and why. */
#define SKIP(...)                                                            \
	do {                                                                 \
		skipped++;                                                   \
		fputs("SKIP ", stdout);                                      \
		printf(__VA_ARGS__);                                         \
		putchar('\n');                                               \
	} while (0)

/* The summary line; main()'s exit status. */
#define CHECK_SUMMARY()                                                      \
	(printf("%d passed, %d failed, %d skipped\n", passed, failed,         \
		skipped),                                                    \
	 failed ? 1 : 0)

/* xorshift64 for random test inputs; each file picks its seed, so its
 * stream of inputs is fixed: CHECK_RNG(0x...); then next_rand(). */
#define CHECK_RNG(seed)                                                      \
	static uint64_t rng = seed;                                          \
	static uint64_t next_rand(void)                                      \
	{                                                                    \
		rng ^= rng << 13;                                            \
		rng ^= rng >> 7;                                             \
		rng ^= rng << 17;                                            \
		return rng;                                                  \
	}

/* Heap copy of exactly len bytes, so ASan catches any read past len. */
static inline unsigned char *dup_exact(const unsigned char *p, size_t len)
{
	unsigned char *q = malloc(len ? len : 1);

	if (!q) {
		perror("malloc");
		exit(2);
	}
	if (len)
		memcpy(q, p, len);
	return q;
}

#endif

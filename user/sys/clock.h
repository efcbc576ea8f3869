/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_CLOCK_H
#define PYROGRAPH_CLOCK_H

#include <time.h>

/* CLOCK_MONOTONIC in ns: bpf_ktime_get_ns()'s clock, so times from BPF and
 * from here compare directly. */
static inline unsigned long long clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* CLOCK_REALTIME in ns: for timestamps people read. */
static inline unsigned long long clock_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

#endif

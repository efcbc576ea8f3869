/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The profiler's state, shared by the loader (profiler.c) and the probes it
 * places in one process at a time (probes.c). Nothing else includes this.
 */
#ifndef PYROGRAPH_CORE_PROFILER_INT_H
#define PYROGRAPH_CORE_PROFILER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/held_hooks.h"
#include "core/loop_hooks.h"
#include "core/profiler.h"

struct profiler {
	struct profile_bpf *skel;
	struct ring_buffer *rb;
	int ncpu;
	int *pfds;
	struct bpf_link **links;
	unsigned long long period_ns; /* mean period, calibrated */
	unsigned long long target_ns; /* mean period asked for */
	unsigned int jitter_ms;	      /* how often the periods are re-drawn */
	double mean_hz;
	unsigned long long rng;
	double *draw_u;		/* each CPU's last draw (profiler__jitter) */
	unsigned long long draws;
	int nevents; /* CPUs with a perf event */
	/* busy ticks and busy CPU time (host) at the last calibration, and
	 * at profiler__start */
	unsigned long long cal_ticks, cal_busy;
	unsigned long long start_ticks, start_busy;
	bool started;		      /* calibrated once: the above are set */
	struct loop_hooks loop_hooks; /* event-loop timing (async) */
	struct held_hooks held_hooks; /* memory held (mem) */
	/* Probes placed in one process (task steps, collections,
	 * allocations), removed with it. */
	struct pid_links {
		pid_t pid;
		int kind; /* LINKS_STEPS or LINKS_MEM: a process can have both */
		int n;
		struct bpf_link *l[PROFILER_PID_LINKS];
	} * steps;
	size_t nsteps, cap_steps;
};

#endif

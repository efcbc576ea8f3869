// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "profile.skel.h"
#include "profiler.h"

struct profiler {
	struct profile_bpf *skel;
	struct ring_buffer *rb;
	int ncpu;
	int *pfds;
	struct bpf_link **links;
	unsigned long long period_ns;
	double mean_hz;
};

static bool is_prime(unsigned long n)
{
	if (n < 2)
		return false;
	for (unsigned long d = 2; d * d <= n; d++)
		if (n % d == 0)
			return false;
	return true;
}

/*
 * A fixed timer at exactly the requested rate ticks in lockstep with
 * periodic work (a 100 Hz timer against a 10 ms loop sees one phase only).
 * So the timer runs k times faster than asked, with a period of a prime
 * number of microseconds, and the BPF program keeps a tick with
 * probability 1/k: the phase of the kept samples drifts across any round
 * period and is randomised on top.
 */
static void plan_timing(unsigned int rate, unsigned long long *period_ns,
			unsigned int *threshold, double *mean_hz)
{
	unsigned int k = rate <= 250 ? 4 : rate <= 1000 ? 2 : 1;
	unsigned long us = 1000000UL / ((unsigned long)rate * k);
	double base_hz, keep;

	if (us < 10)
		us = 10;
	while (!is_prime(us))
		us++;
	base_hz = 1e6 / (double)us;
	keep = (double)rate / base_hz;
	if (keep >= 1.0) {
		*threshold = 0xffffffffU;
		keep = 1.0;
	} else {
		*threshold = (unsigned int)(keep * 4294967296.0);
	}
	*period_ns = us * 1000ULL;
	*mean_hz = base_hz * keep;
}

static int open_perf_events(struct profiler *p)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.size = sizeof(attr),
		.sample_period = p->period_ns,
		.disabled = 1,
	};
	int cpu, opened = 0;

	p->pfds = calloc(p->ncpu, sizeof(*p->pfds));
	p->links = calloc(p->ncpu, sizeof(*p->links));
	if (!p->pfds || !p->links)
		return -ENOMEM;
	for (cpu = 0; cpu < p->ncpu; cpu++) {
		int fd = syscall(__NR_perf_event_open, &attr, -1, cpu, -1,
				 PERF_FLAG_FD_CLOEXEC);

		p->pfds[cpu] = -1;
		if (fd < 0) {
			if (errno == ENODEV)
				continue; /* offline CPU */
			pr_err("failed to open the cpu-clock perf event on CPU %d: %s",
			       cpu, strerror(errno));
			return -errno;
		}
		p->pfds[cpu] = fd;
		p->links[cpu] = bpf_program__attach_perf_event(
			p->skel->progs.py_sample, fd);
		if (!p->links[cpu]) {
			int err = -errno;

			pr_err("failed to attach the sampler on CPU %d: %s", cpu,
			       strerror(-err));
			p->links[cpu] = NULL;
			return err;
		}
		opened++;
	}
	return opened ? 0 : -ENODEV;
}

int profiler__open(struct profiler **out, const struct profiler_opts *o,
		   profiler_event_fn fn, void *ctx)
{
	struct profiler *p;
	unsigned int threshold;
	int err;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->ncpu = libbpf_num_possible_cpus();
	if (p->ncpu <= 0) {
		free(p);
		return -EINVAL;
	}
	p->skel = profile_bpf__open();
	if (!p->skel) {
		err = -errno;
		pr_err("failed to open the BPF program: %s", strerror(-err));
		goto fail;
	}
	plan_timing(o->rate_hz, &p->period_ns, &threshold, &p->mean_hz);
	p->skel->rodata->target_all = o->all;
	p->skel->rodata->follow_children = o->follow_children;
	p->skel->rodata->sample_threshold = threshold;
	bpf_map__set_max_entries(p->skel->maps.events, o->ringbuf_bytes);
	bpf_map__set_max_entries(p->skel->maps.procs, o->max_procs);

	err = profile_bpf__load(p->skel);
	if (err) {
		pr_err("failed to load the BPF program (%s); run with -v for the verifier log",
		       strerror(-err));
		goto fail;
	}
	err = profile_bpf__attach(p->skel);
	if (err) {
		pr_err("failed to attach the process tracepoints: %s",
		       strerror(-err));
		goto fail;
	}
	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.events),
				 (ring_buffer_sample_fn)fn, ctx, NULL);
	if (!p->rb) {
		err = -errno;
		pr_err("failed to set up the ring buffer: %s", strerror(-err));
		goto fail;
	}
	err = open_perf_events(p);
	if (err)
		goto fail;
	*out = p;
	return 0;
fail:
	profiler__close(p);
	return err;
}

int profiler__start(struct profiler *p)
{
	for (int cpu = 0; cpu < p->ncpu; cpu++)
		if (p->pfds[cpu] >= 0 &&
		    ioctl(p->pfds[cpu], PERF_EVENT_IOC_ENABLE, 0) < 0)
			return -errno;
	return 0;
}

void profiler__close(struct profiler *p)
{
	if (!p)
		return;
	for (int cpu = 0; p->links && cpu < p->ncpu; cpu++)
		bpf_link__destroy(p->links[cpu]);
	for (int cpu = 0; p->pfds && cpu < p->ncpu; cpu++)
		if (p->pfds[cpu] >= 0)
			close(p->pfds[cpu]);
	free(p->links);
	free(p->pfds);
	ring_buffer__free(p->rb);
	profile_bpf__destroy(p->skel);
	free(p);
}

int profiler__add_target(struct profiler *p, pid_t pid)
{
	__u32 k = pid;
	__u8 one = 1;

	return bpf_map__update_elem(p->skel->maps.targets, &k, sizeof(k), &one,
				    sizeof(one), BPF_ANY);
}

int profiler__add_proc(struct profiler *p, pid_t pid, const struct py_proc *pp)
{
	__u32 k = pid;

	return bpf_map__update_elem(p->skel->maps.procs, &k, sizeof(k), pp,
				    sizeof(*pp), BPF_ANY);
}

int profiler__del_proc(struct profiler *p, pid_t pid)
{
	__u32 k = pid;

	return bpf_map__delete_elem(p->skel->maps.procs, &k, sizeof(k), 0);
}

int profiler__forget(struct profiler *p, pid_t pid)
{
	__u32 k = pid;

	return bpf_map__delete_elem(p->skel->maps.seen, &k, sizeof(k), 0);
}

int profiler__poll(struct profiler *p, int timeout_ms)
{
	int n = ring_buffer__poll(p->rb, timeout_ms);

	return n == -EINTR ? 0 : n;
}

void profiler__stats(struct profiler *p, unsigned long long st[STAT_NR])
{
	int fd = bpf_map__fd(p->skel->maps.stats);
	__u64 *vals = calloc(p->ncpu, sizeof(__u64));

	memset(st, 0, sizeof(st[0]) * STAT_NR);
	if (!vals)
		return;
	for (__u32 i = 0; i < STAT_NR; i++) {
		if (bpf_map_lookup_elem(fd, &i, vals))
			continue;
		for (int c = 0; c < p->ncpu; c++)
			st[i] += vals[c];
	}
	free(vals);
}

void profiler__timing(const struct profiler *p, unsigned long long *period_ns,
		      double *mean_hz)
{
	*period_ns = p->period_ns;
	*mean_hz = p->mean_hz;
}

unsigned int profiler__nr_procs(struct profiler *p)
{
	int fd = bpf_map__fd(p->skel->maps.procs);
	__u32 key, next, *prev = NULL;
	unsigned int n = 0;

	while (n < 1000000 && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		n++;
	}
	return n;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph mem: where Python processes' memory grows, seen from outside.
 *
 * The recording loop of record (record.c) runs without its CPU sampler:
 * BPF sends every step of a Python process's resident-page counters with
 * the Python stack of the thread that made it (tp_btf/rss_stat), each
 * garbage collection with its pause (CPython's USDT probes) and, with
 * --allocations, sampled calls of the allocator's entry points (uprobes);
 * with --live, the large C allocations each stack holds (uprobes on malloc
 * and free).
 * This file parses the options, reads RSS every interval, feeds the report
 * (memrep.c) and writes it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "sys/log.h"
#include "report/memrep.h"
#include "output/output.h"
#include "sys/procfs.h"
#include "core/profiler.h"
#include "core/record.h"
#include "model/stackagg.h"
#include "model/stacks.h"

#define MAX_ARGS 256
enum mem_format { MEM_TEXT, MEM_JSON, MEM_FLAMEGRAPH, MEM_COLLAPSED };

struct mem_cmd {
	struct memrep *rep;
	struct mem_watch w;
	struct mem_hooks hooks;
	struct live_view view;
	enum mem_format fmt;
	const char *out, *plot;
};

static unsigned long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void read_rss(struct mem_watch *c, pid_t pid, unsigned long long now)
{
	long long b = procfs_rss_bytes(pid);

	if (b >= 0)
		memrep__rss(c->rep, pid, now, b);
}

static void hook_proc(void *ctx, pid_t pid, const char *label,
		      const char *version, int probes)
{
	struct mem_watch *c = ctx;

	memrep__proc(c->rep, pid, label, version, probes);
	for (int i = 0; i < c->nwatch; i++)
		if (c->watch[i] == pid)
			return;
	if (c->nwatch < MEM_WATCH_MAX)
		c->watch[c->nwatch++] = pid;
	read_rss(c, pid, mono_ns());
}

static void hook_event(void *ctx, pid_t pid, __u32 type, const char *stack,
		       long long value, long long aux0, long long aux1,
		       unsigned long long ktime)
{
	struct mem_watch *c = ctx;

	switch (type) {
	case EV_MEM:
		memrep__growth(c->rep, pid, stack, value, ktime);
		break;
	case EV_GC:
		memrep__gc(c->rep, pid, stack, (int)aux0,
			   value > 0 ? (unsigned long long)value : 0, aux1);
		break;
	case EV_ALLOC:
		if (value > 0)
			memrep__alloc(c->rep, pid, stack, value);
		break;
	case EV_LIVE:
		memrep__live(c->rep, pid, stack, (unsigned long long)aux0, value, ktime);
		break;
	case EV_LIVE_FREE:
		memrep__live_free(c->rep, pid, (unsigned long long)aux0, ktime);
		break;
	}
}

/* Every interval, each watched process's RSS; the gone are dropped. */
static void hook_tick(void *ctx)
{
	struct mem_watch *c = ctx;
	unsigned long long now = mono_ns();

	/* The first tick is the start of the watch (BPF loaded, attached):
	 * intervals count from here. */
	if (!c->started) {
		c->started = true;
		c->start_ns = now;
		c->next_ns = now + c->interval_ns;
		memrep__set_start(c->rep, now);
	}
	/* the last tick is the end: detaching the probes afterwards takes a
	 * while (the kernel waits for their users) */
	c->end_ns = now;
	if (now < c->next_ns)
		return;
	while (c->next_ns <= now)
		c->next_ns += c->interval_ns;
	for (int i = 0; i < c->nwatch;) {
		long long b = procfs_rss_bytes(c->watch[i]);

		if (b < 0) {
			c->watch[i] = c->watch[--c->nwatch];
			continue;
		}
		memrep__rss(c->rep, c->watch[i], now, b);
		i++;
	}
}

static void hook_done(void *ctx, const unsigned long long *st)
{
	struct mem_watch *c = ctx;
	unsigned long long now = mono_ns();

	for (int i = 0; i < c->nwatch; i++)
		read_rss(c, c->watch[i], now);
	memrep__counts(c->rep, st[STAT_MEM_EVENTS], st[STAT_MEM_NO_STACK],
		       st[STAT_MEM_LOST], st[STAT_GC_LOST], st[STAT_ALLOC_LOST]);
	memrep__live_counts(c->rep, st[STAT_LIVE_EVENTS], st[STAT_LIVE_FULL],
			    st[STAT_LIVE_LOST], st[STAT_LIVE_FREE_LOST]);
	if (st[STAT_MEM_LOST] + st[STAT_GC_LOST] + st[STAT_ALLOC_LOST] +
	    st[STAT_LIVE_LOST] + st[STAT_LIVE_FREE_LOST])
		pr_warn("events lost (ring buffer full): %llu memory changes, %llu collections, %llu allocation samples, %llu tracked allocations, %llu frees; try --buffer-size",
			st[STAT_MEM_LOST], st[STAT_GC_LOST], st[STAT_ALLOC_LOST],
			st[STAT_LIVE_LOST], st[STAT_LIVE_FREE_LOST]);
	if (st[STAT_LIVE_FULL])
		pr_warn("%llu large allocations not tracked: more than --live-max held at once",
			st[STAT_LIVE_FULL]);
}

double mem_watch_seconds(const struct mem_watch *w)
{
	return ((w->end_ns ? w->end_ns : mono_ns()) - w->start_ns) / 1e9;
}

void mem_hooks_init(struct mem_hooks *h, struct mem_watch *w, struct memrep *rep,
		    unsigned long long interval_ns, unsigned long long alloc_period,
		    unsigned long long live_min)
{
	memset(w, 0, sizeof(*w));
	w->rep = rep;
	w->interval_ns = interval_ns;
	w->start_ns = mono_ns();
	w->next_ns = w->start_ns + interval_ns;
	*h = (struct mem_hooks){
		.ctx = w,
		.alloc_period = alloc_period,
		.live_min = live_min,
		.proc = hook_proc,
		.event = hook_event,
		.tick = hook_tick,
		.done = hook_done,
	};
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pyrograph mem [OPTIONS] [-p PID]... | -a | -- COMMAND [ARGS]\n"
		"\n"
		"Where Python processes' memory grows, from outside (no restart, no\n"
		"tracemalloc):\n"
		"  - growth by stack: every change of a process's resident memory (pages\n"
		"    first touched, and pages returned by munmap or a trimmed heap) is charged\n"
		"    to the Python stack of the thread that made it, counted in the kernel;\n"
		"  - over time: RSS read every interval, the growth of each stack per interval,\n"
		"    and leak candidates: stacks that keep growing interval after interval and\n"
		"    give little back;\n"
		"  - garbage collections: pause histograms by generation and the stacks that\n"
		"    set them off (CPython's USDT probes: Debian's builds have them; builds\n"
		"    without them are named in the report);\n"
		"  - --live: who keeps memory: C allocations (malloc, calloc, realloc) of at\n"
		"    least --live-bytes tracked until freed, each charged to the Python stack\n"
		"    that made it; bytes held by function and per interval, and leak\n"
		"    candidates from what stacks hold rather than from what they touch;\n"
		"  - --allocations: sampled allocator calls by allocation site.\n"
		"\n"
		"Growth is charged where pages are first touched: when the C allocator hands\n"
		"out memory that another function freed but the heap kept, the function that\n"
		"later extends the heap is charged, and one that only allocates and frees in\n"
		"the same thread as a leak can look like the leak. --live answers who keeps\n"
		"memory; without it, growth is only who touched it first.\n"
		"\n"
		RECORD_TARGETS_HELP
		"\n"
		"Options:\n"
		"  -d, --duration SEC     stop after SEC seconds (default: until Ctrl-C, or\n"
		"                         until COMMAND exits)\n"
		"  -i, --interval TIME    RSS reading and growth interval (default 5s; units\n"
		"                         ms, s; a bare number is seconds)\n"
		"  -f, --format FMT       text (default), json, flamegraph (SVG of growth; of\n"
		"                         memory held with --live; of allocations with\n"
		"                         --allocations) or collapsed\n"
		"  -o, --output FILE      where the format goes, '-' for stdout (default:\n"
		"                         stdout; mem.svg for flamegraph); with flamegraph or\n"
		"                         collapsed into a file, the text report goes to stdout\n"
		"      --plot FILE        RSS over time as an SVG plot\n"
		"      --allocations      sample allocator calls (PyObject_/PyMem_ Malloc,\n"
		"                         Calloc, Realloc) of one process (-p PID or COMMAND).\n"
		"                         Every call traps into the kernel (~2.5 us): measured\n"
		"                         80x slower on a loop of small dicts and lists, 1.9x\n"
		"                         on one making 64 KiB objects (scripts/bench_mem.py)\n"
		"      --sample-bytes N   one allocation sample per N bytes on average\n"
		"                         (default 524288; k and M suffixes)\n"
		"      --live             track large C allocations until freed, in one\n"
		"                         process (-p PID or COMMAND): uprobes on its\n"
		"                         malloc, calloc, realloc and free (libc's, or a\n"
		"                         preloaded jemalloc, tcmalloc or mimalloc).\n"
		"                         Every malloc and free traps into the kernel, small\n"
		"                         ones too: CPython's objects of up to 512 bytes do\n"
		"                         not call malloc (measured: within the noise on a\n"
		"                         loop of small dicts and lists), larger ones do:\n"
		"                         91x slower on one making and dropping 1-5 KiB\n"
		"                         bytes objects (~13 us per malloc and free), 2.2x\n"
		"                         on one making 64 KiB ones (scripts/bench_mem.py)\n"
		"      --live-bytes N     track allocations of at least N bytes (default 64k;\n"
		"                         implies --live). Smaller ones cost no more to\n"
		"                         trap, but each tracked one sends its stack\n"
		"      --live-max N       tracked allocations held at once (default 65536);\n"
		"                         beyond, new ones are counted, not tracked\n"
		"  -q, --quiet            no live status line\n"
		"      --buffer-size MB   BPF ring buffer size (default 8)\n"
		"  -v, --verbose          debug messages\n"
		"  -h, --help             this help\n"
		"\n"
		"Examples:\n"
		"  pyrograph mem -p 1234 -d 60 --interval 10s\n"
		"  pyrograph mem -a -d 30 -f flamegraph -o growth.svg --plot rss.svg\n"
		"  pyrograph mem --live -p 1234 -d 60 --interval 10s\n"
		"  pyrograph mem --allocations -d 10 -- python3 app.py\n");
}

static int parse_bytes(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v, mul = 1;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	if (*end == 'k' || *end == 'K')
		mul = 1024, end++;
	else if (*end == 'm' || *end == 'M')
		mul = 1024 * 1024, end++;
	if (*end || v == 0 || v > (1ULL << 32) / mul)
		return -EINVAL;
	*out = v * mul;
	return 0;
}

static int write_report(FILE *f, void *ctx)
{
	struct mem_cmd *c = ctx;

	return c->fmt == MEM_JSON ? memrep__write_json(c->rep, f) :
				    memrep__write_text(c->rep, f);
}

static int write_plot(FILE *f, void *ctx)
{
	return memrep__write_plot(((struct mem_cmd *)ctx)->rep, f);
}

/* The stacks as a flame graph or collapsed file, then the report. */
static int write_stacks(struct mem_cmd *c, bool allocations, bool live)
{
	struct frame_table ft;
	struct profile prof;
	struct profile_data pd = { .prof = &prof, .timed = false };
	struct stackagg *agg;
	int ret;

	if (allocations) {
		agg = memrep__alloc_stacks(c->rep);
		pd.title = "pyrograph mem: sampled allocations";
		pd.subtitle = "weights in bytes allocated (sampled)";
	} else if (live) {
		agg = memrep__live_stacks(c->rep);
		pd.title = "pyrograph mem: memory held";
		pd.subtitle = "weights in bytes: large C allocations not freed at the end, by the stack that made them";
	} else {
		agg = memrep__growth_stacks(c->rep);
		pd.title = "pyrograph mem: resident memory growth";
		pd.subtitle = "weights in bytes: net resident memory gained, by the stack that touched it first";
	}
	frames_init(&ft);
	profile_init(&prof, &ft);
	/* the report keeps folded text: read into typed stacks */
	if (stackagg__to_profile(agg, &prof)) {
		pr_err("cannot write %s: out of memory", c->out);
		ret = 1;
	} else {
		ret = output_write(c->out, c->fmt == MEM_COLLAPSED ? OUT_COLLAPSED : OUT_FLAMEGRAPH,
				   &pd) ? 1 : 0;
	}
	if (!ret)
		fprintf(stderr, "pyrograph: wrote %s (%zu distinct stacks)\n",
			strcmp(c->out, "-") ? c->out : "stdout", profile_count(&prof));
	profile_free(&prof);
	frames_free(&ft);
	if (!ret && strcmp(c->out, "-"))
		ret = output_write_fn("-", write_report, c) ? 1 : 0;
	return ret;
}

static int write_outputs(struct mem_cmd *c, bool allocations, bool live)
{
	int ret;

	if (c->fmt == MEM_TEXT || c->fmt == MEM_JSON)
		ret = output_write_fn(c->out, write_report, c) ? 1 : 0;
	else
		ret = write_stacks(c, allocations, live);
	if (!ret && c->plot) {
		ret = output_write_fn(c->plot, write_plot, c) ? 1 : 0;
		if (!ret)
			fprintf(stderr, "pyrograph: wrote %s (RSS over time)\n", c->plot);
	}
	return ret;
}

int cmd_mem(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "all", no_argument, NULL, 'a' },
		{ "container", required_argument, NULL, 'C' },
		{ "cgroup", required_argument, NULL, 'G' },
		{ "duration", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, 'i' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "plot", required_argument, NULL, 'P' },
		{ "allocations", no_argument, NULL, 'A' },
		{ "sample-bytes", required_argument, NULL, 'S' },
		{ "live", no_argument, NULL, 'L' },
		{ "live-bytes", required_argument, NULL, 'l' },
		{ "live-max", required_argument, NULL, 'M' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "buffer-size", required_argument, NULL, 'B' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct mem_cmd *c;
	char *rargv[MAX_ARGS];
	int rargc = 0, ret, opt, npids = 0;
	unsigned long long period = 512 * 1024, live_min = 64 * 1024, live_max = 65536;
	bool live = false;
	bool allocations = false, others = false;
	double seconds;

	c = calloc(1, sizeof(*c));
	if (!c)
		return 1;
	c->w.interval_ns = 5000000000ULL;
	rargv[rargc++] = "mem";
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+p:aC:G:d:i:f:o:qvh", opts,
				  NULL)) != -1) {
		if (rargc > MAX_ARGS - 8) {
			pr_err("too many arguments");
			ret = 1;
			goto out;
		}
		if (opt == 'p')
			npids++;
		else if (opt == 'a' || opt == 'C' || opt == 'G')
			others = true;
		if (record_forward_opt(opt, optarg, rargv, &rargc))
			continue;
		switch (opt) {
		case 'i':
			if (parse_time(optarg, 1e9, 100e6, 86400e9, &c->w.interval_ns)) {
				pr_err("invalid interval '%s' (e.g. 5s, 500ms; at least 100ms)",
				       optarg);
				ret = 1;
				goto out;
			}
			break;
		case 'f':
			if (!strcmp(optarg, "text")) {
				c->fmt = MEM_TEXT;
			} else if (!strcmp(optarg, "json")) {
				c->fmt = MEM_JSON;
			} else if (!strcmp(optarg, "flamegraph")) {
				c->fmt = MEM_FLAMEGRAPH;
			} else if (!strcmp(optarg, "collapsed")) {
				c->fmt = MEM_COLLAPSED;
			} else {
				pr_err("unknown format '%s' (text, json, flamegraph, collapsed)",
				       optarg);
				ret = 1;
				goto out;
			}
			break;
		case 'o':
			c->out = optarg;
			break;
		case 'P':
			c->plot = optarg;
			break;
		case 'A':
			allocations = true;
			break;
		case 'L':
			live = true;
			break;
		case 'l':
			if (parse_bytes(optarg, &live_min)) {
				pr_err("invalid --live-bytes '%s' (e.g. 65536, 64k, 1M)", optarg);
				ret = 1;
				goto out;
			}
			live = true;
			break;
		case 'M':
			if (parse_bytes(optarg, &live_max) || live_max > (1 << 24)) {
				pr_err("invalid --live-max '%s' (1 to 16M)", optarg);
				ret = 1;
				goto out;
			}
			break;
		case 'S':
			if (parse_bytes(optarg, &period)) {
				pr_err("invalid --sample-bytes '%s' (e.g. 65536, 512k, 4M)",
				       optarg);
				ret = 1;
				goto out;
			}
			break;
		case 'h':
			usage(stdout);
			ret = 0;
			goto out;
		default:
			usage(stderr);
			ret = 1;
			goto out;
		}
	}
	/* Every allocation traps into the kernel: one process, named. */
	if ((allocations || live) && (others || npids + (optind < argc) != 1)) {
		pr_err("%s watches one process: give one -p PID or a COMMAND",
		       allocations ? "--allocations" : "--live");
		ret = 1;
		goto out;
	}
	if (!c->out)
		c->out = c->fmt == MEM_FLAMEGRAPH ? "mem.svg" : "-";
	if (record_forward_command(argc, argv, optind, rargv, &rargc, MAX_ARGS)) {
		ret = 1;
		goto out;
	}
	if (strcmp(c->out, "-") && output_check_writable(c->out)) {
		ret = 1;
		goto out;
	}
	if (c->plot && output_check_writable(c->plot)) {
		ret = 1;
		goto out;
	}
	c->rep = memrep__new(c->w.interval_ns, mono_ns());
	if (!c->rep) {
		ret = 1;
		goto out;
	}
	memrep__set_alloc_period(c->rep, allocations ? period : 0);
	/* twice the BPF map's entries: slack for frees lost on the way */
	memrep__set_live(c->rep, live ? live_min : 0, 2 * live_max);
	mem_hooks_init(&c->hooks, &c->w, c->rep, c->w.interval_ns, allocations ? period : 0,
		       live ? live_min : 0);
	c->hooks.live_max = (unsigned int)live_max;
	c->view.mem = &c->hooks;
	ret = record_main(rargc, rargv, &c->view);
	seconds = mem_watch_seconds(&c->w);
	memrep__set_duration(c->rep, seconds);
	if (ret == 0)
		ret = write_outputs(c, allocations, live);
out:
	memrep__free(c->rep);
	free(c);
	return ret;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph mem: where Python processes' memory grows, seen from outside.
 *
 * A session (core/session.h) with the memory feature and no CPU sampler:
 * BPF sends every step of a Python process's resident-page counters with
 * the Python stack of the thread that made it (tp_btf/rss_stat), each
 * garbage collection with its pause (CPython's USDT probes) and, with
 * --allocations, sampled calls of the allocator's entry points (uprobes);
 * with --live, the large C allocations each stack holds (uprobes on malloc
 * and free).
 * This file parses the options, feeds the report (report/memrep.c) through
 * its sink (which also reads RSS every interval) and writes it.
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
#include "cmd/options.h"
#include "output/output.h"
#include "report/mem_sink.h"
#include "sys/caps.h"
#include "sys/clock.h"
#include "sys/log.h"

enum mem_format { MEM_TEXT, MEM_JSON, MEM_FLAMEGRAPH, MEM_COLLAPSED };

struct mem_cmd {
	struct session_opts so;
	struct memrep *rep;
	struct mem_sink sink;
	enum mem_format fmt;
	const char *out, *plot;
	unsigned long long interval_ns, period, live_min, live_max;
	bool allocations, live;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pyrograph mem [OPTIONS] [-p PID]... | -a | -- COMMAND [ARGS]\n"
		"\n"
		"Where Python processes' memory grows, from outside (no restart, no\n"
		"tracemalloc):\n"
		"  - held by stack (the first view): memory a process takes from the kernel\n"
		"    -- pymalloc's arenas, where small objects live, the C allocator's large\n"
		"    blocks and its heap's growth -- charged to the Python stack that took it\n"
		"    until it is given back (munmap, a trimmed heap); what is given back is\n"
		"    taken off that stack, never charged to the one running at the time;\n"
		"  - over time: RSS read every interval, what each stack took and gave back\n"
		"    per interval, and leak candidates: stacks that keep holding more,\n"
		"    interval after interval, and give little back;\n"
		"  - resident memory by stack (the second view): pages charged to the stack\n"
		"    that touched them first;\n"
		"  - garbage collections: pause histograms by generation and the stacks that\n"
		"    set them off (CPython's USDT probes: Debian's builds have them; builds\n"
		"    without them are named in the report);\n"
		"  - --live: held by C allocation instead: malloc, calloc and realloc of at\n"
		"    least --live-bytes tracked until freed (uprobes; costly, see below);\n"
		"  - --allocations: sampled allocator calls by allocation site.\n"
		"\n"
		"Held memory is seen where the kernel sees it (the tracepoints of mmap,\n"
		"munmap, mremap, brk and mprotect, which grows threads' heaps; the\n"
		"allocators' own calls never trap: measured within the noise on\n"
		"allocation loops, scripts/bench_mem.py). Memory an\n"
		"allocator reuses is charged to the stack that made it take the memory from\n"
		"the kernel: a function that churns objects of the size a leak keeps can be\n"
		"charged for some of the leak's arenas or heap. --live answers for large C\n"
		"allocations one by one.\n"
		"\n"
		HELP_TARGETS
		"\n"
		"Options:\n"
		"  -d, --duration SEC     stop after SEC seconds (default: until Ctrl-C, or\n"
		"                         until COMMAND exits)\n"
		"  -i, --interval TIME    RSS reading and held/growth interval (default: a\n"
		"                         tenth of -d, from 1s to 5s; 5s without -d; units\n"
		"                         ms, s; a bare number is seconds)\n"
		"  -f, --format FMT       text (default), json, flamegraph (SVG of memory\n"
		"                         held; of allocations with --allocations) or\n"
		"                         collapsed\n"
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
		"      --live             held by C allocation instead: large ones tracked\n"
		"                         until freed, in one process (-p PID or\n"
		"                         COMMAND): uprobes on its\n"
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
		"      --max-procs N      Python processes tracked at once (default 4096)\n"
		HELP_READY
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

static int write_outputs(struct mem_cmd *c)
{
	struct profile_data pd = { .timed = false };
	int ret = 0;

	if (c->fmt == MEM_TEXT || c->fmt == MEM_JSON) {
		ret = output_write_fn(c->out, write_report, c) ? 1 : 0;
	} else {
		if (c->allocations) {
			pd.prof = memrep__alloc_stacks(c->rep);
			pd.title = "pyrograph mem: sampled allocations";
			pd.subtitle = "weights in bytes allocated (sampled)";
		} else if (c->live) {
			pd.prof = memrep__live_stacks(c->rep);
			pd.title = "pyrograph mem: memory held";
			pd.subtitle = "weights in bytes: large C allocations not freed at the end, by the stack that made them";
		} else {
			pd.prof = memrep__live_stacks(c->rep);
			pd.title = "pyrograph mem: memory held";
			pd.subtitle = "weights in bytes: memory taken from the kernel and not given back at the end, by the stack that took it";
		}
		ret = !pd.prof;
		if (!ret)
			ret = output_write(c->out, c->fmt == MEM_COLLAPSED ? OUT_COLLAPSED :
						 OUT_FLAMEGRAPH, &pd) ? 1 : 0;
		if (!ret)
			fprintf(stderr, "pyrograph: wrote %s (%zu distinct stacks)\n",
				strcmp(c->out, "-") ? c->out : "stdout",
				profile_count(pd.prof));
		if (!ret && strcmp(c->out, "-"))
			ret = output_write_fn("-", write_report, c) ? 1 : 0;
	}
	if (!ret && c->plot) {
		ret = output_write_fn(c->plot, write_plot, c) ? 1 : 0;
		if (!ret)
			fprintf(stderr, "pyrograph: wrote %s (RSS over time)\n", c->plot);
	}
	return ret;
}

enum { M_INTERVAL = 'i', M_FORMAT = 'f', M_OUTPUT = 'o', M_PLOT = 256,
       M_ALLOCATIONS, M_SAMPLE_BYTES, M_LIVE, M_LIVE_BYTES, M_LIVE_MAX };

static const struct cmd_opt mem_opts[] = {
	{ "interval", 'i', true, M_INTERVAL },
	{ "format", 'f', true, M_FORMAT },
	{ "output", 'o', true, M_OUTPUT },
	{ "plot", 0, true, M_PLOT },
	{ "allocations", 0, false, M_ALLOCATIONS },
	{ "sample-bytes", 0, true, M_SAMPLE_BYTES },
	{ "live", 0, false, M_LIVE },
	{ "live-bytes", 0, true, M_LIVE_BYTES },
	{ "live-max", 0, true, M_LIVE_MAX },
	{ NULL },
};

static int mem_format(struct mem_cmd *c, const char *arg)
{
	static const char *const names[] = {
		[MEM_TEXT] = "text", [MEM_JSON] = "json",
		[MEM_FLAMEGRAPH] = "flamegraph", [MEM_COLLAPSED] = "collapsed",
	};

	int i = parse_choice(arg, "format", names, sizeof(names) / sizeof(names[0]));

	if (i < 0)
		return i;
	c->fmt = (enum mem_format)i;
	return 0;
}

static int mem_opt(void *ctx, int id, const char *arg)
{
	struct mem_cmd *c = ctx;

	switch (id) {
	case M_INTERVAL:
		if (parse_time(arg, 1e9, 100e6, 86400e9, &c->interval_ns)) {
			pr_err("invalid interval '%s' (e.g. 5s, 500ms; at least 100ms)", arg);
			return -EINVAL;
		}
		return 0;
	case M_FORMAT:
		return mem_format(c, arg);
	case M_OUTPUT:
		c->out = arg;
		return 0;
	case M_PLOT:
		c->plot = arg;
		return 0;
	case M_ALLOCATIONS:
		c->allocations = true;
		return 0;
	case M_LIVE:
		c->live = true;
		return 0;
	case M_LIVE_BYTES:
		c->live = true;
		if (parse_bytes(arg, &c->live_min)) {
			pr_err("invalid --live-bytes '%s' (e.g. 65536, 64k, 1M)", arg);
			return -EINVAL;
		}
		return 0;
	case M_LIVE_MAX:
		if (parse_bytes(arg, &c->live_max) || c->live_max > (1 << 24)) {
			pr_err("invalid --live-max '%s' (1 to 16M)", arg);
			return -EINVAL;
		}
		return 0;
	case M_SAMPLE_BYTES:
		if (parse_bytes(arg, &c->period)) {
			pr_err("invalid --sample-bytes '%s' (e.g. 65536, 512k, 4M)", arg);
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

static const struct cmd_def mem_def = {
	.name = "mem",
	.groups = OPT_RECORDING,
	.opts = mem_opts,
	.opt = mem_opt,
	.usage = usage,
};

/* The report is made once the session is open: its stacks are frame ids
 * of the session's frame table. */
static int mem_run(struct mem_cmd *c)
{
	struct session_sink sink;
	struct session *s;
	int ret;

	ret = session_open(&s, &c->so);
	if (ret)
		return ret;
	c->rep = memrep__new(session_frames(s), c->interval_ns, clock_mono_ns());
	if (!c->rep) {
		session_close(s);
		return -ENOMEM;
	}
	memrep__set_alloc_period(c->rep, c->allocations ? c->period : 0);
	/* twice the BPF map's entries: slack for frees lost on the way */
	memrep__set_live(c->rep, c->live ? c->live_min : 0, 2 * c->live_max);
	if (!c->live)
		memrep__set_held(c->rep, MEMREP_HELD_MAPS);
	mem_sink_init(&sink, &c->sink, c->rep, c->interval_ns);
	ret = session_add_sink(s, &sink);
	if (!ret)
		ret = session_run(s);
	if (!ret)
		session_print_status(s);
	memrep__set_duration(c->rep, mem_sink_seconds(&c->sink));
	if (!ret)
		ret = write_outputs(c);
	session_close(s);
	return ret;
}

/* Every allocation traps into the kernel: one process, named. */
static int check_one_process(const struct mem_cmd *c)
{
	const struct session_opts *o = &c->so;

	if ((c->allocations || c->live) &&
	    (o->container || o->cgroup || o->npids + (o->cmd != NULL) != 1)) {
		pr_err("%s watches one process: give one -p PID or a COMMAND",
		       c->allocations ? "--allocations" : "--live");
		return -EINVAL;
	}
	return 0;
}

int cmd_mem(int argc, char **argv)
{
	struct mem_cmd *c = calloc(1, sizeof(*c));
	enum opts_result res;
	int ret = 1;

	if (!c)
		return 1;
	c->interval_ns = 0; /* unless -i: from the duration, below */
	c->period = 512 * 1024;
	c->live_min = 64 * 1024;
	c->live_max = 65536;
	session_opts_init(&c->so);
	res = options_parse(&mem_def, argc, argv, &c->so, c, NULL);
	if (res != OPTS_OK) {
		ret = res == OPTS_HELP ? 0 : res == OPTS_REFUSED ? 2 : 1;
		goto out;
	}
	if (check_one_process(c) || check_privileges())
		goto out;
	/* Without -i: ten intervals in a run of -d (a leak candidate needs
	 * three), of 1 to 5 s; 5 s when the run has no end. A 10 s run finds
	 * leak candidates at 1 s intervals. */
	if (!c->interval_ns) {
		double iv = c->so.duration > 0 ? c->so.duration / 10 : 5;

		c->interval_ns = (unsigned long long)((iv < 1 ? 1 : iv > 5 ? 5 : iv) * 1e9);
	}
	if (!c->out)
		c->out = c->fmt == MEM_FLAMEGRAPH ? "mem.svg" : "-";
	if ((strcmp(c->out, "-") && output_check_writable(c->out)) ||
	    (c->plot && output_check_writable(c->plot)))
		goto out;
	/* memory only: no CPU sampler */
	c->so.cpu = false;
	c->so.mem = (struct session_mem){
		.on = true,
		.rss = true,
		.alloc_period = c->allocations ? c->period : 0,
		.live_min = c->live ? c->live_min : 0,
		.live_max = (unsigned int)c->live_max,
		.held = !c->live,
	};
	ret = mem_run(c) ? 1 : 0;
out:
	memrep__free(c->rep);
	free(c);
	return ret;
}

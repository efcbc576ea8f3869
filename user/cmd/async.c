// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph async: asyncio (and uvloop) event loops seen from outside.
 *
 * A session (core/session.h) with the asyncio feature: BPF counts each
 * loop iteration's length in a per-thread log2 histogram and sends the
 * iterations over the threshold; stacks are sampled and off-CPU waits
 * traced only for loop threads inside an iteration. This file parses the
 * options, feeds the report (report/asyncrep.c) through its sink and writes
 * it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/options.h"
#include "output/output.h"
#include "report/async_sink.h"
#include "sys/caps.h"
#include "sys/clock.h"
#include "sys/log.h"

struct async_cmd {
	struct session_opts so;
	struct asyncrep *rep;
	struct async_sink sink;
	const char *out;       /* report: "-" = stdout */
	const char *stalls_svg; /* stall stacks: SVG or collapsed */
	unsigned long long stall_ns;
	unsigned long long slow_ns; /* --slow; 0: over each endpoint's p95 */
	bool json;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pyrograph async [OPTIONS] [-p PID]... | -a | -- COMMAND [ARGS]\n"
		"\n"
		"Finds every asyncio (and uvloop) event loop of the selected Python processes\n"
		"and reports, from outside the process (no restart, no debug mode):\n"
		"  - loop lag: how long each iteration kept the loop from its poll (epoll),\n"
		"    as a histogram counted in the kernel, with p50/p95/p99/max;\n"
		"  - stalls: iterations over the threshold, when, how long, CPU vs off-CPU,\n"
		"    the coroutine that ran and the Python stack responsible;\n"
		"  - blocking calls made inside coroutines (sleep, file and socket I/O, locks,\n"
		"    subprocess waits), by call site, with count, total and max time;\n"
		"  - task steps per coroutine and await latency per await site (how long\n"
		"    tasks stayed suspended where they awaited: query timing without code\n"
		"    changes), p50/p95/p99/max; sequential independent awaits that could run\n"
		"    together with asyncio.gather (CPython 3.11+, C Task implementation);\n"
		"    await sites are named by the application's coroutines, whatever server\n"
		"    and framework coroutines are above them;\n"
		"  - requests by endpoint: each task's life from its first step to its end,\n"
		"    by its first application coroutine (an ASGI server's endpoint function),\n"
		"    p50/p95/p99/max, and for the slowest where the time went: running,\n"
		"    ready but queued behind other tasks, waiting at which await sites.\n"
		"Iterations are timed at the epoll syscalls' own tracepoints, so no other\n"
		"syscall runs BPF: tracefs is mounted at /sys/kernel/tracing when it is not\n"
		"(and left mounted); where it cannot be, or the kernel has no syscall\n"
		"tracepoints, every syscall of the host is hooked instead (a warning says so).\n"
		"\n"
		HELP_TARGETS
		"\n"
		"Options:\n"
		"  -d, --duration SEC     stop after SEC seconds (default: until Ctrl-C, or\n"
		"                         until COMMAND exits)\n"
		"  -T, --threshold TIME   an iteration this long is a stall (default 100ms;\n"
		"                         units us, ms, s; a bare number is milliseconds)\n"
		"      --slow TIME        show the tasks of an endpoint slower than this\n"
		"                         (default: those over the endpoint's p95)\n"
		"  -f, --format FMT       text (default) or json\n"
		"  -o, --output FILE      the report, '-' for stdout (default: stdout)\n"
		"      --stalls-svg FILE  the stacks inside stalls as a flame graph (SVG; a\n"
		"                         .txt/.folded/.collapsed name gives folded stacks)\n"
		"  -r, --rate HZ          samples per second of busy CPU (default 199): how\n"
		"                         finely a CPU-bound stall's stack is seen\n"
		"      --no-steps         no task steps, await latency or gather hints: their\n"
		"                         uprobes cost ~4 us per task step (see README)\n"
		"  -q, --quiet            no live status line\n"
		"      --buffer-size MB   BPF ring buffer size (default 8)\n"
		"      --max-procs N      Python processes tracked at once (default 4096)\n"
		HELP_READY
		"  -v, --verbose          debug messages\n"
		"  -h, --help             this help\n"
		"\n"
		"Examples:\n"
		"  pyrograph async -p 1234 -d 30\n"
		"  pyrograph async -a -d 60 --threshold 50ms --format json -o loops.json\n"
		"  pyrograph async --stalls-svg stalls.svg -- python3 app.py\n");
}

static int write_report(FILE *f, void *ctx)
{
	struct async_cmd *c = ctx;

	return c->json ? asyncrep__write_json(c->rep, f) :
			 asyncrep__write_text(c->rep, f);
}

enum { A_THRESHOLD = 'T', A_FORMAT = 'f', A_OUTPUT = 'o', A_STALLS_SVG = 256,
       A_NO_STEPS, A_SLOW };

static const struct cmd_opt async_opts[] = {
	{ "threshold", 'T', true, A_THRESHOLD },
	{ "format", 'f', true, A_FORMAT },
	{ "output", 'o', true, A_OUTPUT },
	{ "stalls-svg", 0, true, A_STALLS_SVG },
	{ "no-steps", 0, false, A_NO_STEPS },
	{ "slow", 0, true, A_SLOW },
	{ NULL },
};

static int async_opt(void *ctx, int id, const char *arg)
{
	struct async_cmd *c = ctx;

	switch (id) {
	case A_THRESHOLD:
		if (parse_time(arg, 1e6, 1e3, 3600e9, &c->stall_ns)) {
			pr_err("invalid threshold '%s' (e.g. 100ms, 0.5s, 800us)", arg);
			return -EINVAL;
		}
		return 0;
	case A_FORMAT: {
		static const char *const fmts[] = { "text", "json" };
		int i = parse_choice(arg, "format", fmts, 2);

		c->json = i == 1;
		return i < 0 ? i : 0;
	}
	case A_OUTPUT:
		c->out = arg;
		return 0;
	case A_STALLS_SVG:
		c->stalls_svg = arg;
		return 0;
	case A_NO_STEPS:
		c->so.async.steps = false;
		return 0;
	case A_SLOW:
		if (parse_time(arg, 1e6, 1e3, 3600e9, &c->slow_ns)) {
			pr_err("invalid --slow '%s' (e.g. 200ms, 1s)", arg);
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

static const struct cmd_def async_def = {
	.name = "async",
	.groups = OPT_RECORDING | OPT_RATE,
	.opts = async_opts,
	.opt = async_opt,
	.usage = usage,
};

static int write_stalls(struct async_cmd *c)
{
	struct profile_data pd = {
		.prof = asyncrep__stall_stacks(c->rep),
		.timed = true,
		.title = "pyrograph async: stacks inside event-loop stalls",
		.subtitle = "weights in microseconds (on CPU, or off CPU with the reason as leaf)",
	};
	enum out_format fmt = output_format_guess(c->stalls_svg);
	int ret;

	if (fmt != OUT_COLLAPSED)
		fmt = OUT_FLAMEGRAPH;
	ret = output_write(c->stalls_svg, fmt, &pd);
	if (!ret)
		fprintf(stderr, "pyrograph: wrote %s (%zu distinct stall stacks)\n",
			c->stalls_svg, profile_count(pd.prof));
	return ret;
}

static int async_run(struct async_cmd *c)
{
	struct session_sink sink;
	struct session *s;
	unsigned long long t0 = clock_mono_ns();
	int ret;

	ret = session_open(&s, &c->so);
	if (ret)
		return ret;
	c->rep = asyncrep__new(c->stall_ns, session_frames(s));
	if (!c->rep) {
		session_close(s);
		return -ENOMEM;
	}
	asyncrep__set_slow(c->rep, c->slow_ns);
	async_sink_init(&sink, &c->sink, c->rep);
	ret = session_add_sink(s, &sink);
	if (!ret)
		ret = session_run(s);
	if (!ret)
		session_print_summary(s);
	asyncrep__set_duration(c->rep, (clock_mono_ns() - t0) / 1e9);
	if (!ret)
		ret = output_write_fn(c->out, write_report, c);
	if (!ret && c->stalls_svg)
		ret = write_stalls(c);
	/* the report's frame ids are the session's: free it first */
	asyncrep__free(c->rep);
	c->rep = NULL;
	session_close(s);
	return ret;
}

int cmd_async(int argc, char **argv)
{
	struct async_cmd c = { .out = "-", .stall_ns = 100000000ULL };
	enum opts_result res;

	session_opts_init(&c.so);
	c.so.rate = 199; /* how finely a CPU-bound stall is seen */
	c.so.async.on = true;
	c.so.async.steps = true;
	c.so.async.step_events = true;
	res = options_parse(&async_def, argc, argv, &c.so, &c, NULL);
	if (res != OPTS_OK)
		return res == OPTS_HELP ? 0 : res == OPTS_REFUSED ? 2 : 1;
	c.so.async.stall_ns = c.stall_ns;
	if (check_privileges())
		return 1;
	if (strcmp(c.out, "-") && output_check_writable(c.out))
		return 1;
	if (c.stalls_svg && output_check_writable(c.stalls_svg))
		return 1;
	return async_run(&c) ? 1 : 0;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph async: asyncio (and uvloop) event loops seen from outside.
 *
 * The recording loop of record (record.c) runs with loop timing on: BPF
 * counts each loop iteration's length in a per-thread log2 histogram and
 * sends the iterations over the threshold; stacks are sampled and off-CPU
 * waits traced only for loop threads inside an iteration. This file parses
 * the options, collects what the loop hands over into the report
 * (asyncrep.c) and writes it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report/asyncrep.h"
#include "cmd/cmd.h"
#include "sys/log.h"
#include "output/output.h"
#include "core/record.h"
#include "sys/procfs.h"
#include "sys/targetfile.h"

#define MAX_ARGS 256

struct async_cmd {
	struct asyncrep *rep;
	struct async_hooks hooks;
	struct live_view view;
	const char *out;       /* report: "-" = stdout */
	const char *stalls_svg; /* stall stacks: SVG or collapsed */
	bool json;
};

/* Does the process have uvloop's compiled loop module mapped? */
static bool has_uvloop(pid_t pid)
{
	const struct proc_mapping *m;
	struct procfs_maps it;
	bool found = false;

	if (procfs_maps_open(&it, pid))
		return false;
	while (!found && (m = procfs_maps_next(&it)))
		found = strstr(m->path, "/uvloop/loop.") != NULL;
	procfs_maps_close(&it);
	return found;
}

/* The hooks' ctx is the report. */
static void hook_proc(void *ctx, pid_t pid, const char *label)
{
	asyncrep__proc(ctx, pid, label, has_uvloop(pid));
}

static void hook_stack(void *ctx, pid_t pid, pid_t tid, const char *stack,
		       bool oncpu, unsigned long long start,
		       unsigned long long ns)
{
	asyncrep__stack(ctx, pid, tid, stack, oncpu, start, ns);
}

static void hook_stall(void *ctx, const struct stall_event *e)
{
	asyncrep__stall(ctx, e->pid, e->tid, e->start, e->ns, e->off_ns);
}

static int hook_loop(void *ctx, __u32 tid, const struct loop_state *ls)
{
	char path[96], comm[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/task/%u/comm", ls->pid, tid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	/* uvloop may have been imported after the process was found */
	if (has_uvloop(ls->pid))
		asyncrep__proc_uvloop(ctx, ls->pid);
	return asyncrep__loop(ctx, tid, comm[0] ? comm : NULL, ls);
}

static void hook_step(void *ctx, pid_t pid, pid_t tid, unsigned long long coro,
		      const char *code, unsigned long long start,
		      unsigned long long ns, int result)
{
	(void)tid;
	(void)start;
	asyncrep__step(ctx, pid, coro, code, ns, result);
}

static void hook_resume(void *ctx, pid_t pid, pid_t tid,
			unsigned long long coro, const char *chain,
			unsigned long long at, unsigned long long ns)
{
	(void)tid;
	(void)at;
	asyncrep__resume(ctx, pid, coro, chain, ns);
}

/*
 * A source line as process pid sees its file: looked up inside its root
 * only (a container's absolute symlink must not lead to a host file), a
 * regular file (the name comes from the target's code object: it may be a
 * FIFO, whose open would block, or a device that never ends), bounded in
 * size, lines read and bytes kept.
 */
static int source_line(void *ctx, pid_t pid, const char *file, long line,
		       char *buf, size_t len)
{
	struct target_file tf;
	char text[4096];
	unsigned long long total = 0;
	const char *p;
	long n = 0;
	FILE *f;
	int ret;

	(void)ctx;
	if (line <= 0 || line > 1000000 || file[0] != '/' || !len)
		return -EINVAL;
	ret = targetfile_open_in_root(pid, file, 64 << 20, &tf);
	if (ret)
		return ret;
	f = fdopen(tf.fd, "r");
	if (!f) {
		targetfile_close(&tf);
		return -ENOMEM;
	}
	while (total < (64ULL << 20) && fgets(text, sizeof(text), f)) {
		size_t l = strlen(text);

		total += l + 1;
		/* a line longer than the buffer continues in the next read */
		if (l && text[l - 1] != '\n' && !feof(f))
			continue;
		if (++n == line)
			break;
	}
	fclose(f); /* and tf.fd with it */
	if (n != line)
		return -ENOENT;
	text[strcspn(text, "\r\n")] = '\0';
	for (p = text; *p == ' ' || *p == '\t'; p++)
		;
	snprintf(buf, len, "%s", p);
	return 0;
}

void async_hooks_init(struct async_hooks *h, struct asyncrep *rep,
		      unsigned long long stall_ns, bool no_steps)
{
	struct timespec mono, wall;

	*h = (struct async_hooks){
		.ctx = rep,
		.stall_ns = stall_ns,
		.no_steps = no_steps,
		.proc = hook_proc,
		.stack = hook_stack,
		.stall = hook_stall,
		.loop = hook_loop,
		.step = hook_step,
		.resume = hook_resume,
	};
	asyncrep__set_source(rep, source_line, NULL);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &wall);
	asyncrep__set_clock(rep, mono.tv_sec * 1000000000ULL + mono.tv_nsec,
			    wall.tv_sec * 1000000000ULL + wall.tv_nsec);
}

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
		"    together with asyncio.gather (CPython 3.11+, C Task implementation).\n"
		"\n"
		RECORD_TARGETS_HELP
		"\n"
		"Options:\n"
		"  -d, --duration SEC     stop after SEC seconds (default: until Ctrl-C, or\n"
		"                         until COMMAND exits)\n"
		"  -T, --threshold TIME   an iteration this long is a stall (default 100ms;\n"
		"                         units us, ms, s; a bare number is milliseconds)\n"
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

int cmd_async(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "all", no_argument, NULL, 'a' },
		{ "container", required_argument, NULL, 'C' },
		{ "cgroup", required_argument, NULL, 'G' },
		{ "duration", required_argument, NULL, 'd' },
		{ "threshold", required_argument, NULL, 'T' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "stalls-svg", required_argument, NULL, 'S' },
		{ "rate", required_argument, NULL, 'r' },
		{ "no-steps", no_argument, NULL, 'N' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "buffer-size", required_argument, NULL, 'B' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct async_cmd c = { .out = "-" };
	char *rargv[MAX_ARGS];
	int rargc = 0, ret, opt;
	unsigned long long stall_ns = 100000000ULL;
	const char *rate = "199";
	bool no_steps = false;
	struct timespec mono, wall;
	double seconds;

	rargv[rargc++] = "async";
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+p:aC:G:d:T:f:o:r:qvh", opts,
				  NULL)) != -1) {
		if (rargc > MAX_ARGS - 8) {
			pr_err("too many arguments");
			return 1;
		}
		if (record_forward_opt(opt, optarg, rargv, &rargc))
			continue;
		switch (opt) {
		case 'r':
			rate = optarg;
			break;
		case 'T':
			if (parse_time(optarg, 1e6, 1e3, 3600e9, &stall_ns)) {
				pr_err("invalid threshold '%s' (e.g. 100ms, 0.5s, 800us)",
				       optarg);
				return 1;
			}
			break;
		case 'f':
			if (!strcmp(optarg, "json")) {
				c.json = true;
			} else if (strcmp(optarg, "text")) {
				pr_err("unknown format '%s' (text, json)", optarg);
				return 1;
			}
			break;
		case 'o':
			c.out = optarg;
			break;
		case 'S':
			c.stalls_svg = optarg;
			break;
		case 'N':
			no_steps = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	rargv[rargc++] = "-r";
	rargv[rargc++] = (char *)rate;
	if (record_forward_command(argc, argv, optind, rargv, &rargc, MAX_ARGS))
		return 1;
	if (strcmp(c.out, "-") && output_check_writable(c.out))
		return 1;
	if (c.stalls_svg && output_check_writable(c.stalls_svg))
		return 1;

	c.rep = asyncrep__new(stall_ns);
	if (!c.rep)
		return 1;
	async_hooks_init(&c.hooks, c.rep, stall_ns, no_steps);
	c.view.async = &c.hooks;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	ret = record_main(rargc, rargv, &c.view);
	clock_gettime(CLOCK_MONOTONIC, &wall);
	seconds = (wall.tv_sec - mono.tv_sec) + (wall.tv_nsec - mono.tv_nsec) / 1e9;
	asyncrep__set_duration(c.rep, seconds);
	if (ret == 0) {
		ret = output_write_fn(c.out, write_report, &c) ? 1 : 0;
		if (!ret && c.stalls_svg) {
			struct profile_data pd = {
				.agg = asyncrep__stall_stacks(c.rep),
				.timed = true,
				.title = "pyrograph async: stacks inside event-loop stalls",
				.subtitle = "weights in microseconds (on CPU, or off CPU with the reason as leaf)",
			};
			enum out_format fmt = output_format_guess(c.stalls_svg);

			if (fmt != OUT_COLLAPSED)
				fmt = OUT_FLAMEGRAPH;
			ret = output_write(c.stalls_svg, fmt, &pd) ? 1 : 0;
			if (!ret)
				fprintf(stderr, "pyrograph: wrote %s (%zu distinct stall stacks)\n",
					c.stalls_svg, stackagg__count(pd.agg));
		}
	}
	asyncrep__free(c.rep);
	return ret;
}

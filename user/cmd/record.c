// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph record: sample Python stacks host-wide (or of chosen processes)
 * and write a flame graph, folded stacks, speedscope or pprof. The session
 * (core/session.h) does the recording; this file is its sink: a profile of
 * typed stacks (and a timeline for speedscope), written at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/options.h"
#include "model/samplelog.h"
#include "model/stacks.h"
#include "output/output.h"
#include "sys/caps.h"
#include "sys/log.h"

#define MAX_OUTPUTS 8

struct recorder {
	struct session_opts so;
	struct {
		const char *path;
		enum out_format fmt;
	} outs[MAX_OUTPUTS];
	int nouts;
	const char *fmt;
	bool timed; /* values are microseconds of wall time, not samples */
	struct profile prof;
	struct samplelog *log; /* speedscope: samples in time order */
	unsigned long long log_lost;
	struct session_health h; /* at the end */
};

static int rec_sample(void *ctx, const struct session_sample *s)
{
	struct recorder *r = ctx;
	unsigned long long us = (s->ns + 500) / 1000;

	if (r->log && samplelog__add(r->log, s->frames, s->n, s->tid, s->start,
				     s->ns))
		r->log_lost++;
	if (!s->oncpu)
		return us ? profile_add(&r->prof, s->frames, s->n, us, 1) : 0;
	return profile_add(&r->prof, s->frames, s->n, r->timed ? us : s->count,
			   s->count);
}

static size_t rec_bytes(void *ctx, size_t *stacks)
{
	struct recorder *r = ctx;

	*stacks = profile_count(&r->prof);
	return profile_bytes(&r->prof) + (r->log ? samplelog__bytes(r->log) : 0);
}

static void rec_done(void *ctx, const struct session_health *h)
{
	struct recorder *r = ctx;

	r->h = *h;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pyrograph record [OPTIONS] [-p PID]... | -a | -- COMMAND [ARGS]\n"
		"\n"
		"Samples the Python stacks of running processes from the kernel (eBPF) and\n"
		"writes a flame graph or folded stacks. Nothing is injected into, restarted\n"
		"or paused in the targets.\n"
		"\n"
		"Targets (default: -a):\n"
		"  -p, --pid PID         profile this process (repeatable)\n"
		"  -a, --all             every Python process on the host, including ones\n"
		"                        started during the recording\n"
		"  -- COMMAND [ARGS]     run COMMAND and profile it until it exits\n"
		"  -s, --subprocesses    with a command or -p: follow child processes too,\n"
		"                        each shown under its parent\n"
		"      --container NAME  only processes in that container: its name, an id\n"
		"                        prefix, or its pod (POD, NS/POD, NS/POD/NAME)\n"
		"      --cgroup PATH     only processes in cgroup PATH (v2 path) or below\n"
		"\n"
		"Options:\n"
		"  -o, --output FILE     output file, '-' for stdout (default: profile.svg);\n"
		"                        repeat it for several files (formats from names)\n"
		"  -f, --format FMT      flamegraph (interactive SVG), collapsed (folded\n"
		"                        'frame;frame;frame COUNT' lines), speedscope (JSON,\n"
		"                        one timeline per thread) or pprof (gzipped\n"
		"                        profile.proto, labels pid/process/thread/tid and\n"
		"                        container/container_id/image/pod/namespace)\n"
		"                        (default: from the name: .txt/.folded/.collapsed,\n"
		"                        .json, .pb.gz/.pprof, else flamegraph)\n"
		"  -d, --duration SEC    stop after SEC seconds (default: until Ctrl-C, or\n"
		"                        until COMMAND exits; a COMMAND still running then\n"
		"                        gets SIGTERM)\n"
		"  -r, --rate HZ         mean samples per second of busy CPU (default 100); the\n"
		"                        intervals are randomised (0.5x-1.5x the mean) so\n"
		"                        periodic work is not aliased\n"
		"  -t, --threads         add a 'thread NAME (TID)' frame under each process;\n"
		"                        NAME is the one the program gave the thread\n"
		"                        (threading's), else the OS name\n"
		"  -i, --idle            also record time threads spend off the CPU, with a\n"
		"                        leaf frame saying why: [sleep], [lock], [GIL wait],\n"
		"                        [disk I/O], [network], [poll], [pipe], [page fault],\n"
		"                        [preempted]...; weights become microseconds of wall\n"
		"                        time instead of sample counts. Threads blocked\n"
		"                        since before the recording count from its start\n"
		"      --gil             only samples of the thread holding the GIL, plus the\n"
		"                        time threads wait for the GIL ([GIL wait]);\n"
		"                        weights are microseconds\n"
		"  -n, --native          native frames too: C extensions, libpython and libc\n"
		"                        between the Python frames that called them and the\n"
		"                        ones they called, as 'symbol [module]' (user stack\n"
		"                        copied in BPF, unwound with elfutils from .eh_frame;\n"
		"                        build-id debuginfo under /usr/lib/debug is used)\n"
		"      --kernel          kernel frames (suffix _[k]) under the Python frames\n"
		"      --tasks           asyncio: a sample taken in a task continues through\n"
		"                        the tasks awaiting it, 'task NAME' frames between\n"
		"                        them, so the samples of gather() children and of\n"
		"                        awaited tasks sit under the task that awaits them\n"
		"                        (CPython 3.11-3.15; the tasks are read from the\n"
		"                        process's memory about once a second). With\n"
		"                        --idle, every task that awaits no other task and\n"
		"                        does not run is also charged its wall time, ending\n"
		"                        in [await TYPE] or [ready] (tasks read every 0.1 s)\n"
		"  -g, --group-by KIND   root frames: container (a container frame, then\n"
		"                        'command (pid)'; the default with -a), process\n"
		"                        (the default otherwise) or none\n"
		"  -q, --quiet           no live status line\n"
		"      --buffer-size MB  BPF ring buffer size (default 8)\n"
		"      --max-procs N     Python processes tracked at once (default 4096)\n"
		"      --stack-map N     stacks counted in the kernel at once (default\n"
		"                        16384): a sample of a stack seen before is only\n"
		"                        counted there; beyond N new stacks are sent one\n"
		"                        by one (and counted in the summary)\n"
		"      --ready-fd FD     write \"ready\" to file descriptor FD and close it\n"
		"                        once the probes are attached and sampling runs\n"
		"  -v, --verbose         debug messages (libbpf, detection)\n"
		"  -h, --help            this help\n"
		"\n"
		"Frames read 'qualname (file.py:LINE)', outermost first, under a\n"
		"'command (pid)' root frame; 'command (pid/nspid)' for a process in a pid\n"
		"namespace (host pid / pid in the container). File paths are as the process\n"
		"sees them. A container frame names the container as its runtime does, read\n"
		"from the runtime's state on the host (docker, podman, containerd, cri-o):\n"
		"'container NAME (ID12, IMAGE)', for Kubernetes 'pod NS/POD container NAME\n"
		"(ID12, IMAGE)', 'container ID12' when no name is found.\n"
		"Ctrl-C or SIGTERM stops early and still writes a complete file.\n"
		"\n"
		"Examples:\n"
		"  pyrograph record -p 1234 -d 30 -o profile.svg\n"
		"  pyrograph record -a -d 10 -o host.svg\n"
		"  pyrograph record -o out.svg -- python3 app.py --port 8000\n"
		"  pyrograph record -a -d 5 -f collapsed -o - | sort -k2 -n | tail\n"
		"  pyrograph record -p 1234 -d 30 -o cpu.pb.gz -o cpu.speedscope.json\n"
		"  pyrograph record --container web -d 10 -o web.svg\n"
		"  pyrograph record --tasks -p 1234 -d 10 -o tasks.svg\n");
}

enum { O_OUTPUT = 'o', O_FORMAT = 'f', O_TASKS = 1 };

static const struct cmd_opt record_opts[] = {
	{ "output", 'o', true, O_OUTPUT },
	{ "format", 'f', true, O_FORMAT },
	{ "tasks", 0, false, O_TASKS },
	{ NULL },
};

static int record_opt(void *ctx, int id, const char *arg)
{
	struct recorder *r = ctx;

	if (id == O_TASKS) {
		r->so.tasks = true;
		return 0;
	}
	if (id == O_FORMAT) {
		r->fmt = arg;
		return 0;
	}
	if (r->nouts >= MAX_OUTPUTS) {
		pr_err("at most %d --output options", MAX_OUTPUTS);
		return -EINVAL;
	}
	r->outs[r->nouts++].path = arg;
	return 0;
}

static const struct cmd_def record_def = {
	.name = "record",
	.groups = OPT_RECORDING | OPT_SUBPROC | OPT_RATE | OPT_THREADS |
		  OPT_GROUP | OPT_WALL | OPT_NATIVE,
	.opts = record_opts,
	.opt = record_opt,
	.usage = usage,
};

static const char *default_path(enum out_format f)
{
	return f == OUT_COLLAPSED ? "profile.txt" :
	       f == OUT_SPEEDSCOPE ? "profile.speedscope.json" :
	       f == OUT_PPROF ? "profile.pb.gz" : "profile.svg";
}

/* Each output's format and path; a format for a terminal is refused. */
static int resolve_outputs(struct recorder *r)
{
	if (r->fmt && r->nouts > 1) {
		pr_err("--format with several --output files: each file's format comes from its name");
		return -EINVAL;
	}
	if (!r->nouts)
		r->outs[r->nouts++].path = NULL;
	/* speedscope shows every sample in time order: none is counted away */
	for (int i = 0; i < r->nouts; i++) {
		enum out_format *f = &r->outs[i].fmt;

		if (r->fmt && output_format_parse(r->fmt, f)) {
			pr_err("unknown format '%s' (flamegraph, collapsed, speedscope, pprof)",
			       r->fmt);
			return -EINVAL;
		}
		if (!r->fmt)
			*f = output_format_guess(r->outs[i].path);
		if (!r->outs[i].path)
			r->outs[i].path = default_path(*f);
		if (*f == OUT_SPEEDSCOPE)
			r->so.timeline = true;
		if ((*f == OUT_PPROF || *f == OUT_SPEEDSCOPE) &&
		    !strcmp(r->outs[i].path, "-") && isatty(STDOUT_FILENO)) {
			pr_err("%s is not for a terminal: give a file with -o",
			       output_format_name(*f));
			return -EINVAL;
		}
		if (output_check_writable(r->outs[i].path))
			return -EINVAL;
	}
	return 0;
}

static int write_outputs(struct recorder *r, struct session *s)
{
	const struct session_health *h = &r->h;
	struct profile_data pd = {
		.prof = &r->prof,
		.timed = r->timed,
		.hz = h->hz,
		.start_ns = h->start_wall_ns,
		.start_mono_ns = h->start_mono_ns,
		.duration_ns = (unsigned long long)(h->elapsed * 1e9),
		.log = r->log,
		.title = "pyrograph record",
	};
	char title[256];
	int ret = 0;

	(void)s;
	snprintf(title, sizeof(title),
		 "%llu samples%s, %u Python processes, %u Hz, %.1f s%s",
		 h->py_samples,
		 r->so.offcpu ? " + off-CPU time" : r->so.gil ? " + GIL waits" : "",
		 h->nprocs_seen, r->so.rate, h->elapsed,
		 r->timed ? "; weights in microseconds" : "");
	pd.subtitle = title;
	for (int i = 0; i < r->nouts; i++) {
		int err = output_write(r->outs[i].path, r->outs[i].fmt, &pd);

		if (!err)
			fprintf(stderr, "pyrograph: wrote %s (%s, %zu distinct stacks)\n",
				strcmp(r->outs[i].path, "-") ? r->outs[i].path : "stdout",
				output_format_name(r->outs[i].fmt),
				profile_count(&r->prof));
		ret = ret ? ret : err;
	}
	if (r->log_lost)
		pr_warn("%llu samples are missing from the timeline (speedscope): it was full",
			r->log_lost);
	return ret;
}

static int record_run(struct recorder *r)
{
	struct session_sink sink = {
		.ctx = r, .sample = rec_sample, .done = rec_done, .bytes = rec_bytes,
	};
	struct session *s;
	int ret;

	ret = session_open(&s, &r->so);
	if (ret)
		return ret;
	profile_init(&r->prof, session_frames(s));
	for (int i = 0; i < r->nouts; i++)
		if (r->outs[i].fmt == OUT_SPEEDSCOPE && !r->log)
			r->log = samplelog__new(session_frames(s));
	ret = session_add_sink(s, &sink);
	if (!ret)
		ret = session_run(s);
	if (!ret) {
		session_print_status(s);
		ret = write_outputs(r, s);
		session_print_summary(s);
		if (!ret && !r->so.all && r->so.npids && !r->h.py_samples)
			pr_warn("no Python samples: was the process idle?");
	}
	profile_free(&r->prof);
	samplelog__free(r->log);
	session_close(s);
	return ret;
}

int cmd_record(int argc, char **argv)
{
	struct recorder *r = calloc(1, sizeof(*r));
	enum opts_result res;
	int ret = 1;

	if (!r)
		return 1;
	session_opts_init(&r->so);
	res = options_parse(&record_def, argc, argv, &r->so, r, NULL);
	if (res == OPTS_HELP || res == OPTS_REFUSED) {
		ret = res == OPTS_HELP ? 0 : 2;
		goto out;
	}
	/* privileges first: without them nothing else is worth checking */
	if (res != OPTS_OK)
		goto out;
	if (r->so.tasks && r->so.native) {
		pr_err("record: --tasks and --native do not combine (the task frames go between Python frames the native merge orders)");
		ret = 2;
		goto out;
	}
	if (check_privileges() || resolve_outputs(r))
		goto out;
	r->timed = r->so.offcpu || r->so.gil;
	ret = record_run(r) ? 1 : 0;
out:
	free(r);
	return ret;
}

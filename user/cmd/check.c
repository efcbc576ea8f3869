// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph check: watch the selected Python processes for a while with
 * what async and mem measure (one recording loop runs both) plus CPU time
 * from /proc, then judge each process against a few rules and exit
 * non-zero when one fails: a production check for a deploy pipeline or a
 * cron job, with no instrumentation in the targets.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report/asyncrep.h"
#include "cmd/cmd.h"
#include "model/frames.h"
#include "output/flamegraph.h"
#include "model/stackagg.h"
#include "model/json.h"
#include "sys/log.h"
#include "report/memrep.h"
#include "output/output.h"
#include "sys/procfs.h"
#include "core/record.h"

#define MAX_ARGS 256
#define MAX_PROCS 1024
#define MAX_LOOPS 1024

enum rule { R_LOOP_LAG, R_STALL, R_GC, R_RSS, R_CPU, NR_RULES };

static const struct {
	const char *name, *unit;
} rules[NR_RULES] = {
	[R_LOOP_LAG] = { "loop-lag-p99", "ms" }, [R_STALL] = { "stall", "ms" },
	[R_GC] = { "gc-pause", "ms" },		 [R_RSS] = { "rss-growth", "MB/min" },
	[R_CPU] = { "cpu", "%" },
};

struct cpu_mark {
	pid_t pid;
	unsigned long long ticks0, ticks1;
	unsigned long long t0, t1;
	/* the hottest function (own samples) and its share of the samples */
	char hottest[400];
	double hottest_share;
};

struct check_cmd {
	struct mem_watch w; /* first: the mem hooks' ctx */
	struct asyncrep *arep;
	struct memrep *mrep;
	struct async_hooks ah;
	struct mem_hooks mh;
	void (*mem_proc)(void *ctx, pid_t pid, const char *label, const char *version,
			 int probes);
	void (*mem_done)(void *ctx, const unsigned long long *stats);
	struct live_view view;
	bool live; /* --live: the rss-growth rule names who holds memory */
	double limit[NR_RULES];
	struct cpu_mark cpu[MAX_PROCS];
	int ncpu;
	bool json;
	unsigned int fails, checks;
};

static unsigned long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* utime + stime of pid in clock ticks, or -1 once it is gone. */
static long long cpu_ticks(pid_t pid)
{
	struct proc_stat st;

	return procfs_stat(pid, &st) ? -1 : (long long)st.cpu_ticks;
}

static struct check_cmd *of_watch(void *ctx)
{
	return (struct check_cmd *)ctx; /* w is the first member */
}

static void hook_proc(void *ctx, pid_t pid, const char *label, const char *version,
		      int probes)
{
	struct check_cmd *c = of_watch(ctx);
	long long t = cpu_ticks(pid);

	c->mem_proc(ctx, pid, label, version, probes);
	if (t >= 0 && c->ncpu < MAX_PROCS) {
		c->cpu[c->ncpu] = (struct cpu_mark){ .pid = pid, .ticks0 = t, .t0 = mono_ns() };
		c->ncpu++;
	}
}

/*
 * The run's CPU samples ("cmd (pid);...;leaf" with counts): each
 * process's hottest function by own samples, for the CPU rule.
 */
static int hook_profile(void *ctx, const struct stack_count *stacks, size_t n, double hz,
			double seconds, unsigned int nprocs)
{
	struct check_cmd *c = ctx;
	struct stackagg *leaves = stackagg__new();
	const struct stack_count *sc;
	size_t nl;

	(void)hz;
	(void)seconds;
	(void)nprocs;
	if (!leaves)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const char *s = stacks[i].stack, *semi = strchr(s, ';'), *leaf = strrchr(s, ';');
		struct frame_parts fp;
		char key[600];

		/* the process frame is the first or (in a container) the second */
		frame_parse(s, semi ? (size_t)(semi - s) : strlen(s), true, &fp);
		if (fp.kind == FRAME_CONTAINER && semi) {
			const char *s2 = semi + 1, *semi2 = strchr(s2, ';');

			frame_parse(s2, semi2 ? (size_t)(semi2 - s2) : strlen(s2), true, &fp);
		}
		if (fp.kind != FRAME_PROCESS || !leaf)
			continue;
		snprintf(key, sizeof(key), "%ld;%.500s", fp.pid, leaf + 1);
		stackagg__add(leaves, key, stacks[i].count);
		snprintf(key, sizeof(key), "%ld", fp.pid);
		stackagg__add(leaves, key, stacks[i].count); /* the process's total */
	}
	sc = stackagg__sorted(leaves, &nl);
	for (int k = 0; sc && k < c->ncpu; k++) {
		struct cpu_mark *m = &c->cpu[k];
		char pfx[32];
		unsigned long long total, best = 0;
		size_t pl = (size_t)snprintf(pfx, sizeof(pfx), "%d;", m->pid);

		pfx[pl - 1] = '\0';
		total = stackagg__get(leaves, pfx);
		pfx[pl - 1] = ';';
		for (size_t i = 0; i < nl; i++) {
			if (strncmp(sc[i].stack, pfx, pl) || sc[i].count <= best)
				continue;
			best = sc[i].count;
			snprintf(m->hottest, sizeof(m->hottest), "%s", sc[i].stack + pl);
			m->hottest_share = total ? 100.0 * best / total : 0;
		}
	}
	stackagg__free(leaves);
	return 0;
}

static void hook_done(void *ctx, const unsigned long long *stats)
{
	struct check_cmd *c = of_watch(ctx);

	for (int i = 0; i < c->ncpu; i++) {
		long long t = cpu_ticks(c->cpu[i].pid);

		if (t >= 0) {
			c->cpu[i].ticks1 = t;
			c->cpu[i].t1 = mono_ns();
		}
	}
	c->mem_done(ctx, stats);
}

static void verdict(struct check_cmd *c, FILE *f, enum rule r, pid_t pid, const char *label,
		    const char *status, double value, const char *offender)
{
	double limit = c->limit[r];
	bool fail = !strcmp(status, "FAIL");

	c->checks++;
	c->fails += fail;
	if (c->json) {
		fprintf(f, "%s{\"rule\":\"%s\",\"pid\":%d,\"process\":", c->checks > 1 ? "," : "",
			rules[r].name, pid);
		json_str(f, label);
		fprintf(f, ",\"status\":\"%s\",\"value\":%.3f,\"limit\":%.3f,\"unit\":\"%s\",\"offender\":",
			status, value, limit, rules[r].unit);
		json_str(f, offender && *offender ? offender : NULL);
		fputc('}', f);
		return;
	}
	fprintf(f, "%-4s  %-12s  %s: ", status, rules[r].name, label);
	if (!strcmp(status, "SKIP"))
		fprintf(f, "%s\n", offender);
	else
		fprintf(f, "%.1f %s %s %.1f %s%s%s\n", value, rules[r].unit, fail ? ">" : "<=",
			limit, rules[r].unit, offender && *offender && fail ? ": " : "",
			offender && fail ? offender : "");
}

static int write_verdicts(FILE *f, void *ctx)
{
	struct check_cmd *c = ctx;
	static struct asyncrep_loop_verdict lv[MAX_LOOPS];
	static struct memrep_proc_verdict pv[MAX_PROCS];
	size_t nl = asyncrep__loop_verdicts(c->arep, lv, MAX_LOOPS,
					    (unsigned long long)(c->limit[R_STALL] * 1e6));
	size_t np = memrep__proc_verdicts(c->mrep, pv, MAX_PROCS);
	double secs = mem_watch_seconds(&c->w);

	nl = nl < MAX_LOOPS ? nl : MAX_LOOPS;
	np = np < MAX_PROCS ? np : MAX_PROCS;
	c->fails = c->checks = 0;
	if (c->json)
		fprintf(f, "{\"duration_s\":%.3f,\"checks\":[", secs);
	else
		fprintf(f, "pyrograph check: %.1f s, %zu Python process%s\n", secs, np,
			np == 1 ? "" : "es");
	for (size_t i = 0; i < np; i++) {
		const struct memrep_proc_verdict *p = &pv[i];
		const char *label = p->label ? p->label : "?";
		bool loops = false;

		for (size_t k = 0; k < nl; k++) {
			const struct asyncrep_loop_verdict *l = &lv[k];

			if (l->pid != p->pid)
				continue;
			loops = true;
			verdict(c, f, R_LOOP_LAG, p->pid, label,
				l->p99_ms > c->limit[R_LOOP_LAG] ? "FAIL" : "PASS", l->p99_ms,
				l->worst);
			verdict(c, f, R_STALL, p->pid, label,
				l->worst_stall_ms > c->limit[R_STALL] ? "FAIL" : "PASS",
				l->worst_stall_ms, l->worst);
		}
		if (!loops) {
			verdict(c, f, R_LOOP_LAG, p->pid, label, "SKIP", 0, "no event loop");
			verdict(c, f, R_STALL, p->pid, label, "SKIP", 0, "no event loop");
		}
		if (!p->gc_probes)
			verdict(c, f, R_GC, p->pid, label, "SKIP", 0,
				"no GC probes in this build (needs --with-dtrace, as Debian's)");
		else
			verdict(c, f, R_GC, p->pid, label,
				p->max_gc_pause_ms > c->limit[R_GC] ? "FAIL" : "PASS",
				p->max_gc_pause_ms, p->gc_where);
		verdict(c, f, R_RSS, p->pid, label,
			p->rss_growth_per_min / 1e6 > c->limit[R_RSS] ? "FAIL" : "PASS",
			p->rss_growth_per_min / 1e6, p->growth_where);
		for (int k = 0; k < c->ncpu; k++) {
			const struct cpu_mark *m = &c->cpu[k];
			double pct;

			if (m->pid != p->pid || !m->t1 || m->t1 <= m->t0)
				continue;
			pct = 100.0 * (double)(m->ticks1 - m->ticks0) / sysconf(_SC_CLK_TCK) /
			      ((m->t1 - m->t0) / 1e9);
			{
				char hot[512];

				snprintf(hot, sizeof(hot), "hottest %s (%.0f%% of its samples)",
					 m->hottest[0] ? m->hottest : "(no samples)", m->hottest_share);
				verdict(c, f, R_CPU, p->pid, label,
					pct > c->limit[R_CPU] ? "FAIL" : "PASS", pct, hot);
			}
		}
	}
	if (c->json)
		fprintf(f, "],\"failed\":%u,\"result\":\"%s\"}\n", c->fails,
			c->fails ? "fail" : np ? "pass" : "no processes");
	else
		fprintf(f, "result: %s (%u of %u checks failed)\n",
			c->fails ? "FAIL" : np ? "PASS" : "NO PROCESSES", c->fails, c->checks);
	return ferror(f) ? -EIO : 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pyrograph check [OPTIONS] [-p PID]... | -a | -- COMMAND [ARGS]\n"
		"\n"
		"Watches the selected Python processes for a while (event loops, stalls,\n"
		"collections, memory, CPU: what async and mem measure, from outside), then\n"
		"prints one verdict per process and rule -- PASS, FAIL with the measured value\n"
		"and the worst offender, or SKIP -- and exits 1 when a rule fails (2 on\n"
		"errors): for a deploy pipeline or a cron job.\n"
		"\n"
		"Rules (defaults in brackets):\n"
		"      --max-loop-lag-p99 TIME  an event loop's 99th-percentile iteration [100ms]\n"
		"      --max-stall TIME         its longest stall [250ms]\n"
		"      --max-gc-pause TIME      the longest collection (USDT probes) [100ms]\n"
		"      --max-rss-growth N       RSS growth, MB/min (e.g. 50 or 50MB/min) [50]\n"
		"      --max-cpu PCT            CPU, %% of one core (e.g. 80 or 80%%) [90]\n"
		"      --config FILE            rules from a file: 'max-stall = 200ms' lines,\n"
		"                               '#' comments; options given later win\n"
		"\n"
		RECORD_TARGETS_HELP
		"\n"
		"Options:\n"
		"  -d, --duration TIME    how long to watch (default 30s)\n"
		"      --live             the rss-growth rule names the function holding\n"
		"                         most memory, as mem --live does (and costs as\n"
		"                         much: see pyrograph mem --help), not the one that\n"
		"                         touched new pages first (one process only)\n"
		"  -f, --format FMT       text (default) or json\n"
		"  -o, --output FILE      the verdicts, '-' for stdout (default)\n"
		"  -q, --quiet            no live status line\n"
		"  -v, --verbose          debug messages\n"
		"  -h, --help             this help\n"
		"\n"
		"Examples:\n"
		"  pyrograph check -p 1234 -d 30s\n"
		"  pyrograph check -a -d 60s --max-stall 200ms --max-rss-growth 20 -f json\n"
		"  pyrograph check --config /etc/pyrograph-check.conf --container 3f2a9c\n");
}

/* A rule's value from text: times to ms, sizes to MB/min, shares to %. */
static int parse_limit(enum rule r, const char *s, double *out)
{
	unsigned long long ns;
	char *end;
	double v;

	if (r == R_LOOP_LAG || r == R_STALL || r == R_GC) {
		if (parse_time(s, 1e6, 1e3, 3600e9, &ns))
			return -EINVAL;
		*out = ns / 1e6;
		return 0;
	}
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -EINVAL;
	if (r == R_RSS && *end && strcmp(end, "MB/min") && strcmp(end, "M"))
		return -EINVAL;
	if (r == R_CPU && *end && strcmp(end, "%"))
		return -EINVAL;
	*out = v;
	return 0;
}

static int rule_of(const char *name)
{
	for (int r = 0; r < NR_RULES; r++) {
		char opt[64];

		snprintf(opt, sizeof(opt), "max-%s", rules[r].name);
		if (!strcmp(name, opt))
			return r;
	}
	return -1;
}

/* "max-stall = 200ms" lines; '#' starts a comment. */
static int load_config(struct check_cmd *c, const char *path)
{
	char line[512];
	int n = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		pr_err("cannot read %s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char *key, *val, *eq, *hash = strchr(line, '#');
		int r;

		n++;
		if (hash)
			*hash = '\0';
		key = line + strspn(line, " \t");
		if (!*key || *key == '\n')
			continue;
		eq = strchr(key, '=');
		if (!eq)
			goto bad;
		*eq = '\0';
		val = eq + 1 + strspn(eq + 1, " \t");
		key[strcspn(key, " \t")] = '\0';
		val[strcspn(val, " \t\r\n")] = '\0';
		r = rule_of(key);
		if (r < 0 || parse_limit(r, val, &c->limit[r]))
			goto bad;
	}
	fclose(f);
	return 0;
bad:
	pr_err("%s:%d: expected 'max-RULE = VALUE' (rules: loop-lag-p99, stall, gc-pause, rss-growth, cpu)",
	       path, n);
	fclose(f);
	return -EINVAL;
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "all", no_argument, NULL, 'a' },
		{ "container", required_argument, NULL, 'C' },
		{ "cgroup", required_argument, NULL, 'G' },
		{ "duration", required_argument, NULL, 'd' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "max-loop-lag-p99", required_argument, NULL, 256 + R_LOOP_LAG },
		{ "max-stall", required_argument, NULL, 256 + R_STALL },
		{ "max-gc-pause", required_argument, NULL, 256 + R_GC },
		{ "max-rss-growth", required_argument, NULL, 256 + R_RSS },
		{ "max-cpu", required_argument, NULL, 256 + R_CPU },
		{ "config", required_argument, NULL, 'c' },
		{ "live", no_argument, NULL, 'L' },
		{},
	};
	struct check_cmd *c = calloc(1, sizeof(*c));
	char *rargv[MAX_ARGS], dur[32] = "30";
	const char *out = "-";
	int rargc = 0, ret = 2, opt, npids = 0;
	bool others = false;
	unsigned long long ns;

	if (!c)
		return 2;
	c->limit[R_LOOP_LAG] = 100;
	c->limit[R_STALL] = 250;
	c->limit[R_GC] = 100;
	c->limit[R_RSS] = 50;
	c->limit[R_CPU] = 90;
	rargv[rargc++] = "check";
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+p:aC:G:d:f:o:qvh", opts, NULL)) != -1) {
		if (rargc > MAX_ARGS - 8) {
			pr_err("too many arguments");
			goto out;
		}
		if (opt == 'p')
			npids++;
		else if (opt == 'a' || opt == 'C' || opt == 'G')
			others = true;
		if (opt != 'd' && record_forward_opt(opt, optarg, rargv, &rargc))
			continue;
		switch (opt) {
		case 'd':
			if (parse_time(optarg, 1e9, 1e9, 86400e9, &ns)) {
				pr_err("invalid duration '%s' (e.g. 30s, 5m is not: 300s; at least 1s)",
				       optarg);
				goto out;
			}
			snprintf(dur, sizeof(dur), "%.3f", ns / 1e9);
			break;
		case 'f':
			if (!strcmp(optarg, "json")) {
				c->json = true;
			} else if (strcmp(optarg, "text")) {
				pr_err("unknown format '%s' (text, json)", optarg);
				goto out;
			}
			break;
		case 'o':
			out = optarg;
			break;
		case 'c':
			if (load_config(c, optarg))
				goto out;
			break;
		case 'L':
			c->live = true;
			break;
		case 'h':
			usage(stdout);
			ret = 0;
			goto out;
		default:
			if (opt >= 256 && opt < 256 + NR_RULES) {
				if (parse_limit(opt - 256, optarg, &c->limit[opt - 256])) {
					pr_err("invalid --max-%s '%s'", rules[opt - 256].name, optarg);
					goto out;
				}
				break;
			}
			usage(stderr);
			goto out;
		}
	}
	rargv[rargc++] = "-d";
	rargv[rargc++] = dur;
	/* stall stacks are sampled at async's rate */
	rargv[rargc++] = "-r";
	rargv[rargc++] = "199";
	/* every malloc and free traps: one process, named (as mem --live) */
	if (c->live && (others || npids + (optind < argc) != 1)) {
		pr_err("--live watches one process: give one -p PID or a COMMAND");
		goto out;
	}
	if (record_forward_command(argc, argv, optind, rargv, &rargc, MAX_ARGS))
		goto out;
	if (strcmp(out, "-") && output_check_writable(out))
		goto out;
	/* a stall is any iteration over the stall rule's limit, or 100 ms */
	c->arep = asyncrep__new((unsigned long long)(c->limit[R_STALL] < 100 ? c->limit[R_STALL] * 1e6 :
									       100e6));
	c->mrep = memrep__new(1000000000ULL, mono_ns());
	if (!c->arep || !c->mrep)
		goto out;
	/* task steps cost the most and no rule uses them */
	async_hooks_init(&c->ah, c->arep, c->limit[R_STALL] < 100 ? c->limit[R_STALL] * 1e6 : 100e6,
			 true);
	c->ah.sample_all = true;
	c->view.ctx = c;
	c->view.refresh = hook_profile;
	/* as mem --live does, with its defaults */
	memrep__set_live(c->mrep, c->live ? 64 * 1024 : 0, 2 * 65536);
	mem_hooks_init(&c->mh, &c->w, c->mrep, 1000000000ULL, 0, c->live ? 64 * 1024 : 0);
	c->mh.live_max = 65536;
	c->mem_proc = c->mh.proc;
	c->mem_done = c->mh.done;
	c->mh.proc = hook_proc;
	c->mh.done = hook_done;
	c->view.async = &c->ah;
	c->view.mem = &c->mh;
	if (record_main(rargc, rargv, &c->view))
		goto out;
	asyncrep__set_duration(c->arep, mem_watch_seconds(&c->w));
	memrep__set_duration(c->mrep, mem_watch_seconds(&c->w));
	if (output_write_fn(out, write_verdicts, c))
		goto out;
	ret = c->fails ? 1 : 0;
out:
	asyncrep__free(c->arep);
	memrep__free(c->mrep);
	free(c);
	return ret;
}

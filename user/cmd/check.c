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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/options.h"
#include "model/json.h"
#include "model/stacks.h"
#include "output/output.h"
#include "report/async_sink.h"
#include "report/mem_sink.h"
#include "sys/caps.h"
#include "sys/clock.h"
#include "sys/log.h"
#include "sys/procfs.h"
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
	struct session_opts so;
	struct asyncrep *arep;
	struct memrep *mrep;
	struct async_sink as;
	struct mem_sink ms;
	struct frame_table *ft;
	/* each process's CPU samples by leaf: [process frame, leaf frame] */
	struct profile leaves;
	bool live; /* --live: the rss-growth rule names who holds memory */
	double limit[NR_RULES];
	struct cpu_mark cpu[MAX_PROCS];
	int ncpu;
	bool json;
	struct json j; /* the verdicts as JSON */
	unsigned int fails, checks;
};

/* utime + stime of pid in clock ticks, or -1 once it is gone. */
static long long cpu_ticks(pid_t pid)
{
	struct proc_stat st;

	return procfs_stat(pid, &st) ? -1 : (long long)st.cpu_ticks;
}

static void hook_found(void *ctx, const struct session_target *t)
{
	struct check_cmd *c = ctx;
	long long ticks = cpu_ticks(t->pid);

	if (ticks >= 0 && c->ncpu < MAX_PROCS) {
		c->cpu[c->ncpu] = (struct cpu_mark){ .pid = t->pid, .ticks0 = ticks,
						     .t0 = clock_mono_ns() };
		c->ncpu++;
	}
}

/* Every CPU sample: its process and its leaf, for the CPU rule. */
static int hook_sample(void *ctx, const struct session_sample *s)
{
	struct check_cmd *c = ctx;
	frame_id key[2];

	if (!s->oncpu || !s->nroot || s->n <= s->nroot)
		return 0;
	key[0] = s->frames[s->nroot - 1];
	key[1] = s->frames[s->n - 1];
	return profile_add(&c->leaves, key, 2, s->count, s->count);
}

/* Each process's hottest function by own samples, for the CPU rule. */
static void hottest(struct check_cmd *c)
{
	for (int k = 0; k < c->ncpu; k++) {
		struct cpu_mark *m = &c->cpu[k];
		unsigned long long total = 0, best = 0;
		stack_id besti = 0;

		for (stack_id i = 0; i < profile_count(&c->leaves); i++) {
			uint32_t n;
			const frame_id *f = stacks_get(&c->leaves.st, i, &n);
			const struct frame *p = frames_get(c->ft, f[0]);
			unsigned long long v = c->leaves.w[i].value;

			if (p->kind != FRAME_PROCESS || p->pid != m->pid)
				continue;
			total += v;
			if (v > best) {
				best = v;
				besti = i;
			}
		}
		if (best) {
			uint32_t n;
			const frame_id *f = stacks_get(&c->leaves.st, besti, &n);

			snprintf(m->hottest, sizeof(m->hottest), "%s",
				 frame_text(c->ft, f[1]));
			m->hottest_share = 100.0 * best / total;
		}
	}
}

static void hook_done(void *ctx, const struct session_health *h)
{
	struct check_cmd *c = ctx;

	(void)h;
	for (int i = 0; i < c->ncpu; i++) {
		long long t = cpu_ticks(c->cpu[i].pid);

		if (t >= 0) {
			c->cpu[i].ticks1 = t;
			c->cpu[i].t1 = clock_mono_ns();
		}
	}
	hottest(c);
}

static void verdict(struct check_cmd *c, FILE *f, enum rule r, pid_t pid, const char *label,
		    const char *status, double value, const char *offender)
{
	double limit = c->limit[r];
	bool fail = !strcmp(status, "FAIL");

	c->checks++;
	c->fails += fail;
	if (c->json) {
		json_obj(&c->j, NULL);
		json_s(&c->j, "rule", rules[r].name);
		json_i(&c->j, "pid", pid);
		json_s(&c->j, "process", label);
		json_s(&c->j, "status", status);
		json_f(&c->j, "value", "%.3f", value);
		json_f(&c->j, "limit", "%.3f", limit);
		json_s(&c->j, "unit", rules[r].unit);
		json_s(&c->j, "offender", offender && *offender ? offender : NULL);
		json_end(&c->j);
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
	double secs = mem_sink_seconds(&c->ms);

	nl = nl < MAX_LOOPS ? nl : MAX_LOOPS;
	np = np < MAX_PROCS ? np : MAX_PROCS;
	c->fails = c->checks = 0;
	if (c->json) {
		json_init(&c->j, f);
		json_obj(&c->j, NULL);
		json_f(&c->j, "duration_s", "%.3f", secs);
		json_arr(&c->j, "checks");
	} else
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
	if (c->json) {
		json_end(&c->j);
		json_u(&c->j, "failed", c->fails);
		json_s(&c->j, "result", c->fails ? "fail" : np ? "pass" : "no processes");
		json_end(&c->j);
		fputc('\n', f);
		return json_done(&c->j);
	} else
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
		"errors): for a deploy pipeline or a cron job. Event loops are timed as\n"
		"async times them (tracefs is mounted if it is not: see pyrograph async --help).\n"
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
		HELP_TARGETS
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
		"      --buffer-size MB   BPF ring buffer size (default 8)\n"
		"      --max-procs N      Python processes tracked at once (default 4096)\n"
		HELP_READY
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

enum { C_FORMAT = 'f', C_OUTPUT = 'o', C_CONFIG = 256, C_LIVE, C_RULE };

static const struct cmd_opt check_opts[] = {
	{ "format", 'f', true, C_FORMAT },
	{ "output", 'o', true, C_OUTPUT },
	{ "config", 0, true, C_CONFIG },
	{ "live", 0, false, C_LIVE },
	{ "max-loop-lag-p99", 0, true, C_RULE + R_LOOP_LAG },
	{ "max-stall", 0, true, C_RULE + R_STALL },
	{ "max-gc-pause", 0, true, C_RULE + R_GC },
	{ "max-rss-growth", 0, true, C_RULE + R_RSS },
	{ "max-cpu", 0, true, C_RULE + R_CPU },
	{ NULL },
};

struct check_args {
	struct check_cmd *c;
	const char *out;
};

static int check_opt(void *ctx, int id, const char *arg)
{
	struct check_args *a = ctx;
	struct check_cmd *c = a->c;

	switch (id) {
	case C_FORMAT: {
		static const char *const fmts[] = { "text", "json" };
		int i = parse_choice(arg, "format", fmts, 2);

		c->json = i == 1;
		return i < 0 ? i : 0;
	}
	case C_OUTPUT:
		a->out = arg;
		return 0;
	case C_CONFIG:
		return load_config(c, arg);
	case C_LIVE:
		c->live = true;
		return 0;
	}
	if (id >= C_RULE && id < C_RULE + NR_RULES) {
		if (parse_limit(id - C_RULE, arg, &c->limit[id - C_RULE])) {
			pr_err("invalid --max-%s '%s'", rules[id - C_RULE].name, arg);
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

static const struct cmd_def check_def = {
	.name = "check",
	.groups = OPT_RECORDING,
	.opts = check_opts,
	.opt = check_opt,
	.usage = usage,
};

static int check_run(struct check_cmd *c, const char *out)
{
	struct session_sink sa, sm, sc = {
		.ctx = c, .found = hook_found, .sample = hook_sample, .done = hook_done,
	};
	unsigned long long stall_ns = c->so.async.stall_ns;
	struct session *s;
	int ret;

	ret = session_open(&s, &c->so);
	if (ret)
		return ret;
	c->ft = session_frames(s);
	profile_init(&c->leaves, c->ft);
	/* a stall is any iteration over the stall rule's limit, or 100 ms */
	c->arep = asyncrep__new(stall_ns, c->ft);
	c->mrep = memrep__new(c->ft, 1000000000ULL, clock_mono_ns());
	ret = !c->arep || !c->mrep ? -ENOMEM : 0;
	if (!ret) {
		/* as mem --live does, with its defaults */
		memrep__set_live(c->mrep, c->live ? 64 * 1024 : 0, 2 * 65536);
		async_sink_init(&sa, &c->as, c->arep);
		mem_sink_init(&sm, &c->ms, c->mrep, 1000000000ULL);
		ret = session_add_sink(s, &sa) ?: session_add_sink(s, &sm) ?:
		      session_add_sink(s, &sc);
	}
	if (!ret)
		ret = session_run(s);
	if (!ret) {
		asyncrep__set_duration(c->arep, mem_sink_seconds(&c->ms));
		memrep__set_duration(c->mrep, mem_sink_seconds(&c->ms));
		ret = output_write_fn(out, write_verdicts, c);
	}
	profile_free(&c->leaves);
	session_close(s);
	return ret;
}

/* The session check runs: async's and mem's measurements, CPU of all. */
static int check_setup(struct check_cmd *c, const char *out)
{
	double stall_ms = c->limit[R_STALL] < 100 ? c->limit[R_STALL] : 100;

	if (c->so.duration == 0)
		c->so.duration = 30;
	if (c->so.duration < 1) {
		pr_err("invalid duration '%g' (e.g. 30s, 5m is not: 300s; at least 1s)",
		       c->so.duration);
		return -EINVAL;
	}
	/* every malloc and free traps: one process, named (as mem --live) */
	if (c->live && (c->so.container || c->so.cgroup ||
			c->so.npids + (c->so.cmd != NULL) != 1)) {
		pr_err("--live watches one process: give one -p PID or a COMMAND");
		return -EINVAL;
	}
	if (check_privileges())
		return -EPERM;
	if (strcmp(out, "-") && output_check_writable(out))
		return -EINVAL;
	/* stall stacks are sampled at async's rate; task steps cost the most
	 * and no rule uses them */
	c->so.rate = 199;
	c->so.async = (struct session_async){
		.on = true,
		.stall_ns = (unsigned long long)(stall_ms * 1e6),
		.sample_all = true,
	};
	c->so.mem = (struct session_mem){
		.on = true,
		.rss = true,
		.live_min = c->live ? 64 * 1024 : 0,
		.live_max = 65536,
	};
	return 0;
}

int cmd_check(int argc, char **argv)
{
	struct check_cmd *c = calloc(1, sizeof(*c));
	struct check_args a = { .c = c, .out = "-" };
	enum opts_result res;
	int ret = 2;

	if (!c)
		return 2;
	c->limit[R_LOOP_LAG] = 100;
	c->limit[R_STALL] = 250;
	c->limit[R_GC] = 100;
	c->limit[R_RSS] = 50;
	c->limit[R_CPU] = 90;
	session_opts_init(&c->so);
	res = options_parse(&check_def, argc, argv, &c->so, &a, NULL);
	if (res != OPTS_OK) {
		ret = res == OPTS_HELP ? 0 : 2;
		goto out;
	}
	if (check_setup(c, a.out) || check_run(c, a.out))
		goto out;
	ret = c->fails ? 1 : 0;
out:
	asyncrep__free(c->arep);
	memrep__free(c->mrep);
	free(c);
	return ret;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/options.h"
#include "sys/log.h"

enum shared_id {
	S_PID = 1000, S_ALL, S_CONTAINER, S_CGROUP, S_SUBPROC, S_DURATION,
	S_RATE, S_QUIET, S_BUFFER, S_MAXPROCS, S_READY, S_THREADS, S_GROUP,
	S_IDLE, S_GIL, S_NATIVE, S_KERNEL, S_STACK_MAP, S_VERBOSE, S_HELP,
};

#define ALWAYS (~0U)

static const struct shared {
	struct cmd_opt o;
	unsigned int group;
} shared[] = {
	{ { "pid", 'p', true, S_PID }, OPT_TARGETS },
	{ { "all", 'a', false, S_ALL }, OPT_TARGETS },
	{ { "container", 0, true, S_CONTAINER }, OPT_TARGETS },
	{ { "cgroup", 0, true, S_CGROUP }, OPT_TARGETS },
	{ { "subprocesses", 's', false, S_SUBPROC }, OPT_SUBPROC },
	{ { "duration", 'd', true, S_DURATION }, OPT_DURATION },
	{ { "rate", 'r', true, S_RATE }, OPT_RATE },
	{ { "quiet", 'q', false, S_QUIET }, OPT_QUIET },
	{ { "buffer-size", 0, true, S_BUFFER }, OPT_BUFFER },
	{ { "max-procs", 0, true, S_MAXPROCS }, OPT_MAXPROCS },
	{ { "ready-fd", 0, true, S_READY }, OPT_READY },
	{ { "threads", 't', false, S_THREADS }, OPT_THREADS },
	{ { "group-by", 'g', true, S_GROUP }, OPT_GROUP },
	{ { "idle", 'i', false, S_IDLE }, OPT_WALL },
	{ { "gil", 0, false, S_GIL }, OPT_WALL },
	{ { "native", 'n', false, S_NATIVE }, OPT_NATIVE },
	{ { "kernel", 0, false, S_KERNEL }, OPT_NATIVE },
	{ { "stack-map", 0, true, S_STACK_MAP }, OPT_RATE },
	{ { "verbose", 'v', false, S_VERBOSE }, ALWAYS },
	{ { "help", 'h', false, S_HELP }, ALWAYS },
};
#define NSHARED (sizeof(shared) / sizeof(shared[0]))
#define MAX_OPTS 64

int parse_time(const char *s, double unit_ns, double min_ns, double max_ns,
	       unsigned long long *ns)
{
	char *end;
	double v, mul = unit_ns;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !(v > 0))
		return -EINVAL;
	if (!strcmp(end, "us"))
		mul = 1e3;
	else if (!strcmp(end, "ms"))
		mul = 1e6;
	else if (!strcmp(end, "s"))
		mul = 1e9;
	else if (*end)
		return -EINVAL;
	v *= mul;
	if (!(v >= min_ns && v <= max_ns))
		return -EINVAL;
	*ns = (unsigned long long)v;
	return 0;
}

int parse_uint(const char *s, const char *what, unsigned long lo,
	       unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || s[0] == '-' || v < lo || v > hi) {
		pr_err("invalid %s '%s' (expected %lu..%lu)", what, s, lo, hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int parse_choice(const char *arg, const char *what, const char *const *names,
		 size_t n)
{
	char list[256];
	size_t pos = 0;

	for (size_t i = 0; i < n; i++)
		if (!strcmp(arg, names[i]))
			return (int)i;
	list[0] = '\0';
	for (size_t i = 0; i < n && pos < sizeof(list); i++)
		pos += snprintf(list + pos, sizeof(list) - pos, "%s%s", i ? ", " : "",
				names[i]);
	pr_err("unknown %s '%s' (%s)", what, arg, list);
	return -EINVAL;
}

static int set_group(struct session_opts *so, const char *arg)
{
	/* in enum group_by's order */
	static const char *const names[] = { "container", "process", "none" };
	int i = parse_choice(arg, "--group-by", names, 3);

	if (i < 0)
		return i;
	so->group = (enum group_by)i;
	return 0;
}

/* One shared option into so. 1 for --help, 0, or -EINVAL (said why). */
static bool takes(const struct cmd_def *def, const struct shared *sh)
{
	return sh->group == ALWAYS || (sh->group & def->groups);
}

static int shared_opt(struct session_opts *so, int id, const char *arg,
		      bool *grouped)
{
	unsigned long v;
	unsigned long long ns;

	switch (id) {
	case S_PID:
		if (parse_uint(arg, "pid", 1, INT_MAX, &v))
			return -EINVAL;
		if (so->npids >= SESSION_MAX_PIDS) {
			pr_err("at most %d --pid options", SESSION_MAX_PIDS);
			return -EINVAL;
		}
		so->pids[so->npids++] = (pid_t)v;
		return 0;
	case S_ALL:
		so->all = true;
		return 0;
	case S_CONTAINER:
		so->container = arg;
		return 0;
	case S_CGROUP:
		so->cgroup = arg;
		return 0;
	case S_SUBPROC:
		so->subprocesses = true;
		return 0;
	case S_DURATION:
		if (parse_time(arg, 1e9, 1e6, 1e16, &ns)) {
			pr_err("invalid duration '%s' (seconds, > 0; or with a unit: 30s, 500ms)",
			       arg);
			return -EINVAL;
		}
		so->duration = ns / 1e9;
		return 0;
	case S_RATE:
		if (parse_uint(arg, "rate", 1, 100000, &v))
			return -EINVAL;
		so->rate = v;
		return 0;
	case S_QUIET:
		so->quiet = true;
		return 0;
	case S_BUFFER:
		if (parse_uint(arg, "buffer size", 1, 1024, &v))
			return -EINVAL;
		/* the ring buffer is a power of two of pages */
		so->ringbuf_mb = 1U << (31 - __builtin_clz((unsigned int)v));
		return 0;
	case S_MAXPROCS:
		if (parse_uint(arg, "max-procs", 1, 1 << 20, &v))
			return -EINVAL;
		so->max_procs = v;
		return 0;
	case S_READY:
		if (parse_uint(arg, "--ready-fd", 0, INT_MAX, &v))
			return -EINVAL;
		/* close-on-exec: a -- COMMAND must not hold it open */
		if (fcntl((int)v, F_SETFD, FD_CLOEXEC)) {
			pr_err("--ready-fd %lu: not an open file descriptor", v);
			return -EINVAL;
		}
		so->ready_fd = (int)v;
		return 0;
	case S_THREADS:
		so->threads = true;
		return 0;
	case S_GROUP:
		*grouped = true;
		return set_group(so, arg);
	case S_IDLE:
		so->offcpu = true;
		return 0;
	case S_GIL:
		so->gil = true;
		return 0;
	case S_NATIVE:
		so->native = true;
		return 0;
	case S_KERNEL:
		so->kernel = true;
		return 0;
	case S_STACK_MAP:
		if (parse_uint(arg, "--stack-map", 1, 1 << 22, &v))
			return -EINVAL;
		so->stack_map = (unsigned int)v;
		return 0;
	case S_VERBOSE:
		log_verbosity = 2;
		return 0;
	case S_HELP:
		return 1;
	}
	return -EINVAL;
}

/* getopt's tables: the shared options the command takes, then its own. */
static int build(const struct cmd_def *def, struct option *lo, char *so)
{
	int n = 0, k = 0;

	/* A recording command stops at the first operand: it may be a
	 * command to run, whose options are its own. Others (diff) take
	 * their options anywhere among their operands. */
	if (def->groups & OPT_TARGETS)
		so[k++] = '+';
	so[k++] = ':'; /* a missing value is ':' */
	for (size_t i = 0; i < NSHARED; i++) {
		const struct cmd_opt *o = &shared[i].o;

		if (!takes(def, &shared[i]))
			continue;
		lo[n++] = (struct option){ o->name, o->arg, NULL, o->id };
		if (o->letter) {
			so[k++] = (char)o->letter;
			if (o->arg)
				so[k++] = ':';
		}
	}
	for (const struct cmd_opt *o = def->opts; o && o->name; o++) {
		if (n >= MAX_OPTS - 1)
			return -E2BIG;
		lo[n++] = (struct option){ o->name, o->arg, NULL, o->id };
		if (o->letter) {
			so[k++] = (char)o->letter;
			if (o->arg)
				so[k++] = ':';
		}
	}
	lo[n] = (struct option){ 0 };
	so[k] = '\0';
	return 0;
}

/* The option getopt could not take, named as the user wrote it. */
static void refuse(const struct cmd_def *def, char **argv, int at)
{
	const char *word = argv[at] ? argv[at] : "?";
	char name[64];
	size_t len;

	if (word[0] == '-' && word[1] == '-') {
		len = strcspn(word, "=");
		snprintf(name, sizeof(name), "%.*s", (int)len, word);
		/* getopt names a known flag given a value by its id */
		if (optopt && word[len] == '=') {
			pr_err("%s: %s takes no value", def->name, name);
			return;
		}
	} else {
		snprintf(name, sizeof(name), "-%c", optopt ? optopt : '?');
	}
	for (size_t i = 0; i < NSHARED; i++) {
		const struct cmd_opt *o = &shared[i].o;

		if ((name[1] == '-' && !strcmp(name + 2, o->name)) ||
		    (name[1] != '-' && o->letter == name[1])) {
			pr_err("%s: %s is not an option of %s (pyrograph %s --help lists them)",
			       def->name, name, def->name, def->name);
			return;
		}
	}
	pr_err("%s: unknown option %s (pyrograph %s --help lists them)", def->name,
	       name, def->name);
}

/* getopt gives a short option's letter: the option's id instead. */
static int option_id(const struct cmd_def *def, int c)
{
	if (c >= S_PID)
		return c;
	for (size_t i = 0; i < NSHARED; i++)
		if (shared[i].o.letter == c && takes(def, &shared[i]))
			return shared[i].o.id;
	for (const struct cmd_opt *o = def->opts; o && o->name; o++)
		if (o->letter == c)
			return o->id;
	return c;
}

static int check_targets(struct session_opts *so, bool grouped)
{
	if ((so->cmd != NULL) + (so->npids > 0) + so->all > 1) {
		pr_err("choose one kind of target: -p PID, -a, or -- COMMAND");
		return -EINVAL;
	}
	if ((so->container || so->cgroup) && (so->cmd || so->npids)) {
		pr_err("--container and --cgroup select among all processes: not with -p or a command");
		return -EINVAL;
	}
	if (!so->cmd && !so->npids)
		so->all = true;
	if (so->all && so->subprocesses) {
		pr_err("--subprocesses needs -p or a command (-a already sees every process)");
		return -EINVAL;
	}
	if (!grouped)
		so->group = so->all ? GROUP_CONTAINER : GROUP_PROCESS;
	return 0;
}

enum opts_result options_parse(const struct cmd_def *def, int argc, char **argv,
			       struct session_opts *so, void *ctx, int *operand)
{
	struct option lo[MAX_OPTS];
	char sopt[2 * MAX_OPTS + 3];
	bool grouped = false;
	int c, ret;

	if (build(def, lo, sopt))
		return OPTS_INVALID;
	optind = 0; /* a fresh scan */
	opterr = 0; /* we say what is wrong, in one line */
	while ((c = getopt_long(argc, argv, sopt, lo, NULL)) != -1) {
		if (c == '?') {
			refuse(def, argv, optind - 1);
			return OPTS_REFUSED;
		}
		if (c == ':') {
			/* a value left out: the command's own error code */
			pr_err("%s: %s needs a value", def->name, argv[optind - 1]);
			return OPTS_INVALID;
		}
		c = option_id(def, c);
		if (c >= S_PID && c <= S_HELP)
			ret = shared_opt(so, c, optarg, &grouped);
		else
			ret = def->opt ? def->opt(ctx, c, optarg) : -EINVAL;
		if (ret == 1) {
			def->usage(stdout);
			return OPTS_HELP;
		}
		if (ret)
			return OPTS_INVALID;
	}
	if (optind < argc) {
		if (def->groups & OPT_TARGETS) {
			so->cmd = argv + optind;
		} else if (def->operands) {
			*operand = optind;
		} else {
			pr_err("%s: unexpected argument '%s' (pyrograph %s --help)",
			       def->name, argv[optind], def->name);
			return OPTS_REFUSED;
		}
	} else if (operand) {
		*operand = argc;
	}
	if ((def->groups & OPT_TARGETS) && check_targets(so, grouped))
		return OPTS_INVALID;
	return OPTS_OK;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph diff: what changed between two recordings. Reads two folded
 * ("collapsed") or pprof profiles, writes a differential flame graph of the second
 * coloured by each frame's change against the first, and prints the
 * functions whose time changed most.
 *
 * Process and thread frames carry pids, which differ between any two runs:
 * they are compared by command and thread name only. Functions are
 * compared without their line (a function edited between the runs keeps
 * its identity).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/options.h"
#include "report/diffrep.h"
#include "output/flamegraph.h"
#include "sys/log.h"
#include "output/output.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pyrograph diff [OPTIONS] BEFORE AFTER\n"
		"\n"
		"Compares two recordings (folded stacks, record -f collapsed; or pprof files,\n"
		"record -o x.pb.gz, the agent's profiles): a differential\n"
		"flame graph of AFTER, each frame coloured by its change against BEFORE (red\n"
		"grew, blue shrank, the deeper the more), and a table of the functions whose\n"
		"time changed most, with a mark on changes beyond sampling noise (3 sigma).\n"
		"Process and thread frames are matched by name (pids differ between runs),\n"
		"functions without their line number.\n"
		"\n"
		"Options:\n"
		"  -o, --output FILE      the differential flame graph (default diff.svg;\n"
		"                         '-' for stdout, then no table)\n"
		"  -n, --normalize        scale BEFORE to AFTER's total first: compare shares,\n"
		"                         for recordings of different lengths (default:\n"
		"                         compare counts, for runs of the same fixed work)\n"
		"  -t, --top N            rows in the table (default 15)\n"
		"  -h, --help             this help\n"
		"\n"
		"Examples:\n"
		"  pyrograph record -f collapsed -o before.txt -- python3 job.py\n"
		"  pyrograph record -f collapsed -o after.txt -- python3 job.py\n"
		"  pyrograph diff before.txt after.txt -o diff.svg\n"
		"  pyrograph diff --normalize monday.txt tuesday.txt\n");
}

enum { F_OUTPUT = 'o', F_NORMALIZE = 'n', F_TOP = 't' };

static const struct cmd_opt diff_opts[] = {
	{ "output", 'o', true, F_OUTPUT },
	{ "normalize", 'n', false, F_NORMALIZE },
	{ "top", 't', true, F_TOP },
	{ NULL },
};

struct diff_args {
	const char *out;
	bool normalize;
	unsigned long top;
};

static int diff_opt(void *ctx, int id, const char *arg)
{
	struct diff_args *a = ctx;

	switch (id) {
	case F_OUTPUT:
		a->out = arg;
		return 0;
	case F_NORMALIZE:
		a->normalize = true;
		return 0;
	case F_TOP:
		return parse_uint(arg, "--top", 1, 10000, &a->top);
	}
	return -EINVAL;
}

static const struct cmd_def diff_def = {
	.name = "diff",
	.opts = diff_opts,
	.opt = diff_opt,
	.usage = usage,
	.operands = true,
};

int cmd_diff(int argc, char **argv)
{
	struct diff_args args = { .out = "diff.svg", .top = 15 };
	struct session_opts unused;
	struct diffrep *d = NULL;
	enum opts_result res;
	const char *out;
	bool normalize;
	int optind = 0, ret = 1;
	size_t top;

	session_opts_init(&unused);
	res = options_parse(&diff_def, argc, argv, &unused, &args, &optind);
	if (res != OPTS_OK)
		return res == OPTS_HELP ? 0 : res == OPTS_REFUSED ? 2 : 1;
	out = args.out;
	normalize = args.normalize;
	top = args.top;
	if (argc - optind != 2) {
		pr_err("diff needs two profiles: BEFORE AFTER (see pyrograph diff --help)");
		return 1;
	}
	if (strcmp(out, "-") && output_check_writable(out))
		return 1;
	d = diffrep__new(normalize);
	if (!d)
		return 1;
	for (int i = 0; i < 2; i++) {
		char err[512];

		if (diffrep__load(d, i, argv[optind + i], err, sizeof(err))) {
			pr_err("%s", err);
			goto out;
		}
	}
	ret = diffrep__write_svg(d, out) ? 1 : 0;
	if (!ret && strcmp(out, "-")) {
		fprintf(stderr, "pyrograph: wrote %s\n", out);
		ret = diffrep__write_table(d, stdout, (size_t)top) ? 1 : 0;
	}
out:
	diffrep__free(d);
	return ret;
}

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
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
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

int cmd_diff(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "normalize", no_argument, NULL, 'n' },
		{ "top", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *out = "diff.svg";
	struct diffrep *d = NULL;
	bool normalize = false;
	long top = 15;
	char *end;
	int opt, ret = 1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:nt:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			out = optarg;
			break;
		case 'n':
			normalize = true;
			break;
		case 't':
			top = strtol(optarg, &end, 10);
			if (*end || top < 1 || top > 10000) {
				pr_err("invalid --top '%s' (1-10000)", optarg);
				return 1;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
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

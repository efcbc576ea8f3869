// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* pyrograph: system-wide Python profiler on eBPF. */
#define _GNU_SOURCE
#include <errno.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "sys/caps.h"
#include "cmd/cmd.h"
#include "sys/log.h"


int log_verbosity = 1;

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct cmd cmds[] = {
	{ "record", cmd_record, "sample Python stacks and write a flame graph" },
	{ "dump", cmd_dump, "every thread's Python stack once; --tasks: asyncio task trees" },
	{ "top", cmd_top, "live view of the busiest Python functions" },
	{ "async", cmd_async, "asyncio event loops: loop lag, stalls, blocking calls" },
	{ "mem", cmd_mem, "memory held by Python stack, leaks, GC pauses" },
	{ "check", cmd_check, "judge processes against rules; exit 1 on a failure" },
	{ "diff", cmd_diff, "what changed between two recordings" },
	{ "agent", cmd_agent, "profile continuously and send pprof to a Pyroscope server" },
	{},
};

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_DEBUG && log_verbosity < 2)
		return 0;
	if (level == LIBBPF_INFO && log_verbosity < 2)
		return 0;
	if (level == LIBBPF_WARN && log_verbosity < 2)
		return 0; /* failures are reported by us in one line */
	return vfprintf(stderr, fmt, ap);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: pyrograph [-v] COMMAND [OPTIONS]\n\n"
		   "A system-wide Python profiler on eBPF: no restart, no code change,\n"
		   "no ptrace stop. Run as root.\n\nCommands:\n");
	for (const struct cmd *c = cmds; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->help);
	fprintf(f, "\n'pyrograph COMMAND --help' describes each command.\n"
		   "Example: pyrograph record -a -d 10 -o host.svg\n");
}

int main(int argc, char **argv)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			log_verbosity = 2;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
			printf("pyrograph %s\n", PYROGRAPH_VERSION);
			return 0;
		} else {
			pr_err("unknown option %s", argv[i]);
			usage(stderr);
			return 2;
		}
		i++;
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	libbpf_set_print(libbpf_print);
	elf_version(EV_CURRENT);
	for (const struct cmd *c = cmds; c->name; c++)
		if (!strcmp(argv[i], c->name))
			return c->fn(argc - i, argv + i);
	pr_err("unknown command '%s'", argv[i]);
	usage(stderr);
	return 2;
}

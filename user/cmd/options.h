/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_OPTIONS_H
#define PYROGRAPH_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

#include "core/session.h"

/*
 * One parser for every command: the options the recording commands share
 * go straight into a struct session_opts, the command's own go to its
 * handler, and an option the command does not take is refused with one
 * line (exit 2) instead of being passed around and ignored.
 */

/* The shared options, by group; a command names the groups it takes. */
enum opt_group {
	OPT_TARGETS = 1 << 0,  /* -p PID, -a, --container, --cgroup, -- CMD */
	OPT_SUBPROC = 1 << 1,  /* -s, --subprocesses */
	OPT_DURATION = 1 << 2, /* -d, --duration */
	OPT_RATE = 1 << 3,     /* -r, --rate; --stack-map */
	OPT_QUIET = 1 << 4,    /* -q, --quiet */
	OPT_BUFFER = 1 << 5,   /* --buffer-size MB */
	OPT_MAXPROCS = 1 << 6, /* --max-procs N */
	OPT_READY = 1 << 7,    /* --ready-fd FD */
	OPT_THREADS = 1 << 8,  /* -t, --threads */
	OPT_GROUP = 1 << 9,    /* -g, --group-by */
	OPT_WALL = 1 << 10,    /* -i, --idle; --gil */
	OPT_NATIVE = 1 << 11,  /* -n, --native; --kernel */
	/* what a recording command takes at least */
	OPT_RECORDING = OPT_TARGETS | OPT_DURATION | OPT_QUIET | OPT_BUFFER |
			OPT_MAXPROCS | OPT_READY,
};

/* One of the command's own options. */
struct cmd_opt {
	const char *name; /* long name */
	int letter;	  /* short name, or 0 */
	bool arg;	  /* takes a value */
	int id;		  /* handed to cmd_def.opt; >= 0 */
};

struct cmd_def {
	const char *name;
	unsigned int groups;	    /* enum opt_group bits */
	const struct cmd_opt *opts; /* its own, ending with { NULL } */
	/* one of its own options; 0, or -EINVAL after saying why */
	int (*opt)(void *ctx, int id, const char *arg);
	void (*usage)(FILE *f);
	bool operands; /* takes arguments that are not options (files) */
};

enum opts_result {
	OPTS_OK = 0,
	OPTS_HELP,    /* --help: printed on stdout */
	OPTS_INVALID, /* a value was refused (said on stderr) */
	OPTS_REFUSED, /* an option the command does not take (said) */
};

/*
 * Parses argv[1..argc): shared options into *so (session_opts_init() it
 * first), the command's own through def->opt(ctx, ...). The command's
 * operands (def->operands) start at *operand, the rest of argv. Checks
 * that the targets make sense together. A command exits 2 on
 * OPTS_REFUSED.
 */
enum opts_result options_parse(const struct cmd_def *def, int argc, char **argv,
			       struct session_opts *so, void *ctx, int *operand);

/*
 * A time: a number with us, ms or s, or a bare number in unit_ns. Returns
 * 0 and *ns, or -EINVAL (garbage, or outside [min_ns, max_ns]).
 */
int parse_time(const char *s, double unit_ns, double min_ns, double max_ns,
	       unsigned long long *ns);
/* An integer in [lo, hi]; on error says "invalid WHAT" and returns -EINVAL. */
int parse_uint(const char *s, const char *what, unsigned long lo,
	       unsigned long hi, unsigned long *out);

/*
 * One of names[0..n) (-f FMT and the like): its index, or -EINVAL after
 * saying "unknown WHAT 'ARG' (a, b, c)".
 */
int parse_choice(const char *arg, const char *what, const char *const *names,
		 size_t n);

/* The help lines of the shared options, for each command's usage. */
#define HELP_TARGETS                                                              \
	"Targets (default: -a):\n"                                                \
	"  -p, --pid PID          this process (repeatable)\n"                    \
	"  -a, --all              every Python process on the host\n"             \
	"  -- COMMAND [ARGS]      run COMMAND and watch it until it exits\n"      \
	"      --container NAME   only processes in that container: its name, an id\n" \
	"                         prefix, or its pod (POD, NS/POD, NS/POD/NAME)\n" \
	"      --cgroup PATH      only processes in cgroup PATH (v2 path) or below\n"
#define HELP_READY                                                                \
	"      --ready-fd FD      write \"ready\" to file descriptor FD and close it\n" \
	"                         once the probes are attached and sampling runs\n"

#endif

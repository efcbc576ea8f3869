/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_CMD_H
#define PYROGRAPH_CMD_H

#include <stdbool.h>

/* Subcommands: each parses its own argv (argv[0] is the subcommand). */
int cmd_record(int argc, char **argv);
int cmd_dump(int argc, char **argv);
/* dump --tasks (cmd/dump_tasks.c): asyncio task trees */
bool dump_tasks_wanted(int argc, char **argv);
int cmd_dump_tasks(int argc, char **argv);
struct json;
struct symcache;
struct py_frame;
void dump_json_frames(struct json *j, const char *key, struct symcache *sc,
		      const struct py_frame *frames, unsigned int n);
int cmd_top(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_async(int argc, char **argv);
int cmd_mem(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_check(int argc, char **argv);

#endif

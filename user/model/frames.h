/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_FRAMES_H
#define PYROGRAPH_FRAMES_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The frame texts of a folded stack, as record writes them, taken apart
 * again for the structured formats (pprof, speedscope) and the SVG's
 * colours:
 *   container 3f2a9c1b2d4e | cgroup /x.slice     root: where the process runs
 *   cmd args (1234) | cmd args (1234/7)          root: the process (host/ns pid)
 *   thread NAME (1235)                           the thread (--threads)
 *   qualname (path/file.py:42) | qualname (file) Python
 *   symbol [module] | 0x1a2b [module]            native (--native)
 *   symbol_[k]                                   kernel (--kernel)
 *   [sleep] [truncated] ...                      synthetic
 */
enum frame_kind {
	FRAME_CONTAINER,
	FRAME_PROCESS,
	FRAME_THREAD,
	FRAME_PYTHON,
	FRAME_NATIVE,
	FRAME_KERNEL,
	FRAME_SYNTHETIC,
};

/* Where a Python frame's code lives, for colouring. */
enum code_origin {
	ORIGIN_APP,	     /* the user's code */
	ORIGIN_THIRD_PARTY, /* site-packages, dist-packages */
	ORIGIN_STDLIB,	     /* .../lib/pythonX.Y/ */
};

struct frame_parts {
	enum frame_kind kind;
	const char *name; /* function, symbol, command, thread name... */
	size_t name_len;
	const char *file; /* Python file or native module; NULL if none */
	size_t file_len;
	long line;	   /* Python line, 0 if none */
	long pid, nspid; /* FRAME_PROCESS; FRAME_THREAD: pid = tid */
};

/*
 * Parses one frame of len bytes. root: the frame is among the leading
 * frames of a stack, where container/process/thread frames can appear
 * (a Python function cannot be told from them by text alone).
 */
void frame_parse(const char *s, size_t len, bool root, struct frame_parts *out);

enum code_origin frame_origin(const char *file, size_t len);

#endif

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_FRAMES_H
#define PYROGRAPH_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/hashidx.h"
#include "model/intern.h"

/*
 * Frames as data: every frame a recording meets is interned once in a
 * frame table (kind, name, file, line, ids) and stacks are arrays of frame
 * ids, outermost first. The folded text of a frame is one rendering of it
 * (frame_text), for the collapsed format and for names on screen:
 *   container web (3f2a9c1b2d4e, python:3.13) | pod NS/POD container NAME
 *   (ID12, IMAGE) | container 3f2a9c1b2d4e | cgroup /x.slice
 *                                                root: where the process runs
 *   cmd args (1234) | cmd args (1234/7)          root: the process (host/ns pid)
 *   thread NAME (1235)                           the thread (--threads)
 *   qualname (path/file.py:42) | qualname (file) Python
 *   symbol [module]                              native (--native)
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

typedef uint32_t frame_id;
#define FRAME_NONE UINT32_MAX
/* A frame without a file. */
#define FRAME_NO_STR UINT32_MAX

struct frame {
	uint8_t kind;	/* enum frame_kind */
	uint8_t _pad[3];
	int32_t line;	/* FRAME_PYTHON: the line; 0: none */
	uint32_t name;	/* string id: function, symbol, command, thread
			 * name, or the whole text (container, synthetic) */
	uint32_t file;	/* string id of the Python file or native module,
			 * or FRAME_NO_STR */
	int32_t pid;	/* FRAME_PROCESS: host pid; FRAME_THREAD: tid */
	int32_t nspid;	/* FRAME_PROCESS: pid in its namespace, -1: none */
};

struct frame_table {
	struct intern strs;
	struct frame *f;
	size_t n, cap;
	struct hashidx ix;
	char **text; /* folded text of each frame, made when first asked */
	size_t text_cap, text_bytes;
};

void frames_init(struct frame_table *t);
void frames_free(struct frame_table *t);
/* Heap bytes: frames, strings and cached texts. */
size_t frames_bytes(const struct frame_table *t);

/* The id of frame f (its name and file are string ids of this table), added
 * if new; FRAME_NONE when out of memory. */
frame_id frames_add(struct frame_table *t, const struct frame *f);
/* A string's id in the table; FRAME_NO_STR when out of memory. */
uint32_t frames_str(struct frame_table *t, const char *s, size_t len);

/* The frames of each kind, from C strings. */
frame_id frames_python(struct frame_table *t, const char *name, const char *file,
		       int line);
frame_id frames_native(struct frame_table *t, const char *sym, const char *module);
frame_id frames_kernel(struct frame_table *t, const char *sym);
frame_id frames_synthetic(struct frame_table *t, const char *text);
frame_id frames_container(struct frame_table *t, const char *label);
frame_id frames_process(struct frame_table *t, const char *name, int pid, int nspid);
frame_id frames_thread(struct frame_table *t, const char *name, int tid);

static inline const struct frame *frames_get(const struct frame_table *t,
					     frame_id id)
{
	return &t->f[id];
}

static inline const char *frames_s(const struct frame_table *t, uint32_t sid)
{
	return sid == FRAME_NO_STR ? NULL : t->strs.s[sid];
}

/* A frame's name, and its file or NULL. */
static inline const char *frame_name(const struct frame_table *t, frame_id id)
{
	return t->strs.s[t->f[id].name];
}

static inline const char *frame_file(const struct frame_table *t, frame_id id)
{
	return frames_s(t, t->f[id].file);
}

/* Root frames (where, which process, which thread) lead a stack. */
static inline bool frame_is_root(const struct frame_table *t, frame_id id)
{
	return t->f[id].kind <= FRAME_THREAD;
}

/* The folded text of frame id, kept by the table (valid until it is
 * freed); "" when out of memory. */
const char *frame_text(struct frame_table *t, frame_id id);
/* The same written into buf; returns the length it needed. */
size_t frame_format(const struct frame_table *t, frame_id id, char *buf,
		    size_t len);

/*
 * The one reader of folded text (pyrograph diff's input; the tests):
 * a frame text of len bytes taken apart. root: the frame is among the
 * leading frames of a stack, where container/process/thread frames can
 * appear (a Python function cannot be told from them by text alone).
 */
struct frame_parts {
	enum frame_kind kind;
	const char *name; /* function, symbol, command, thread name... */
	size_t name_len;
	const char *file; /* Python file or native module; NULL if none */
	size_t file_len;
	long line;	  /* Python line, 0 if none */
	long pid, nspid;  /* FRAME_PROCESS; FRAME_THREAD: pid = tid */
};
void frame_parse(const char *s, size_t len, bool root, struct frame_parts *out);
/* The parsed frame interned; FRAME_NONE when out of memory. */
frame_id frames_parse(struct frame_table *t, const char *s, size_t len,
		      bool root);

/* Where a Python frame's code lives, for colouring. */
enum code_origin {
	ORIGIN_APP,	    /* the user's code */
	ORIGIN_THIRD_PARTY, /* site-packages, dist-packages */
	ORIGIN_STDLIB,	    /* .../lib/pythonX.Y/ */
};

enum code_origin frame_origin(const char *file, size_t len);

#endif

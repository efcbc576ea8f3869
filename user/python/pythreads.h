/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_PYTHREADS_H
#define PYROGRAPH_PYTHREADS_H

#include <stdbool.h>
#include <sys/types.h>

#include "profile.h"

/*
 * The names a program gave its threads, as threading records them:
 * threading._active maps each thread's ident to its Thread object, whose
 * _name is the name and _native_id the thread's id in the process's pid
 * namespace. Read from the target's memory, without stopping it.
 */
#define PYTHREAD_NAME_MAX 64 /* bytes of a name kept, with the NUL */
#define PYTHREADS_MAX 1024   /* threads read per process */

struct py_thread_name {
	unsigned long long ident; /* threading.get_ident(): pthread_self() */
	long long native_id;	  /* Thread._native_id; -1 unknown */
	char name[PYTHREAD_NAME_MAX]; /* UTF-8, control characters as '?' */
};

struct pythreads;

/*
 * A reader for process pid with layout p, or NULL: out of memory, or a
 * version whose layout is not known here (3.14+ name their OS threads
 * after the Python ones: the OS name is the name there).
 */
struct pythreads *pythreads_new(pid_t pid, const struct py_proc *p);
void pythreads_free(struct pythreads *pt);

/*
 * Reads the names of up to max threads into out; returns how many, or a
 * negative errno: -ENOENT while the program has not imported threading
 * (looking again costs one read until sys.modules changes), -EFAULT when
 * the memory cannot be read. Where threading._active lies and the
 * interned attribute names are remembered between calls.
 */
int pythreads_read(struct pythreads *pt, struct py_thread_name *out, int max);

#endif

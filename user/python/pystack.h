/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_PYSTACK_H
#define PYROGRAPH_PYSTACK_H

#include <stdbool.h>
#include <sys/types.h>
#include "profile.h"

/*
 * One Python thread of a live process, read from userspace with
 * process_vm_readv (for `dump`, which must also see threads that sleep
 * and so are never sampled). The same frame rules as bpf/pywalk.bpf.h.
 */
struct py_thread {
	unsigned long long tstate;
	unsigned long long thread_id; /* pthread_self() == fs base */
	bool holds_gil;
	__u32 flags;   /* SAMPLE_TRUNCATED, SAMPLE_READ_ERROR */
	__u32 nframes;
	struct py_frame frames[MAX_PY_FRAMES]; /* innermost first */
};

/* A thread state, not walked yet. */
struct py_thread_state {
	unsigned long long tstate;
	unsigned long long thread_id; /* pthread_self() == fs base */
	bool holds_gil;
};

/* Lists up to max thread states of pid (first interpreter first): how
 * many, or a negative errno when the thread list is unreadable. */
int pystack_threads(pid_t pid, const struct py_proc *p,
		    struct py_thread_state *out, int max);

/* The frames of thread state t->tstate, into t (flags and frames). */
void pystack_walk(pid_t pid, const struct py_proc *p, struct py_thread *t);

/*
 * Reads up to max thread states of pid (first interpreter first) into
 * out, walked. Returns how many, or a negative errno when the thread list itself
 * is unreadable.
 */
int pystack_read(pid_t pid, const struct py_proc *p, struct py_thread *out,
		 int max);

/* The tag of the code object at code (include/pytag.h), as BPF computes it;
 * 0 when unreadable. */
__u32 pystack_code_tag(pid_t pid, const struct py_proc *p,
		       unsigned long long code);

#endif

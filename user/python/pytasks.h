/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_PYTASKS_H
#define PYROGRAPH_PYTASKS_H

#include <stdbool.h>
#include <sys/types.h>

#include "profile.h"
#include "python/pyobj.h"

/*
 * The asyncio tasks of a live process, read from its memory without
 * stopping it (dump --tasks, record --tasks): every pending task of every
 * loop, its name, its coroutine stack, what it waits on and which tasks
 * wait on it. 3.14+ publish their task layout (the AsyncioDebug section);
 * 3.11-3.13 are read with a measured table (pytasks.c).
 */
#define PYTASK_NAME_MAX 64
#define PYTASK_FRAMES	64 /* coroutine frames kept per task, outermost first */
#define PYTASK_AWAITERS 4  /* tasks awaiting one task, kept */
#define PYTASK_CHILDREN 64 /* futures of one gather() looked at */
#define PYTASKS_MAX	16384 /* tasks read per process */

enum pytask_state {
	PYTASK_RUNNING, /* its coroutine runs now: the current task of its loop */
	PYTASK_WAITING, /* suspended on a future (another task, a gather...) */
	PYTASK_READY,	/* not waiting on anything: scheduled, or not started */
};

/* What a waiting task waits on. */
enum pytask_awaits {
	PYAWAIT_NONE,
	PYAWAIT_TASK,	/* another task */
	PYAWAIT_GATHER, /* asyncio.gather()'s future of several */
	PYAWAIT_FUTURE, /* any other future (sleep, a queue, a lock, I/O) */
};

#define PYTASK_TRUNCATED  1 /* more coroutine frames than PYTASK_FRAMES */
#define PYTASK_UNREADABLE 2 /* the coroutine chain broke off */

struct py_task {
	unsigned long long addr; /* the Task object */
	unsigned long long coro; /* its coroutine */
	unsigned long long loop;
	unsigned long long waiter;  /* the future it waits on; 0: none */
	char name[PYTASK_NAME_MAX]; /* printable UTF-8 */
	char waiter_type
		[PYOBJ_TYPE_NAME]; /* "_asyncio.Future", "_GatheringFuture" */
	unsigned char state;	   /* enum pytask_state */
	unsigned char awaits;	   /* enum pytask_awaits */
	unsigned char flags;	   /* PYTASK_TRUNCATED, PYTASK_UNREADABLE */
	unsigned char nawaited_by;
	int awaited_by[PYTASK_AWAITERS]; /* indices of the tasks awaiting it */
	unsigned int nawaiting; /* tasks it waits on (gather: all of them) */
	/* 3.14+: who awaits it, as the task says (one object, or a set) */
	unsigned long long awaiter_obj;
	bool awaiter_set;
	unsigned int nframes;
	/* innermost last; a suspended task's last frame is where it awaits */
	struct py_frame frames[PYTASK_FRAMES];
};

/* What a reading cost and found. */
struct pytasks_stats {
	unsigned long long reads; /* of target memory */
	unsigned long long ns;	  /* wall time */
	unsigned int found;	  /* pending tasks seen */
	unsigned int dropped;	  /* beyond the table given */
};

struct pytasks;
struct pyproc_info;

/* A reader for process pid (NULL: out of memory). */
struct pytasks *pytasks_new(pid_t pid, const struct pyproc_info *info);
void pytasks_free(struct pytasks *pt);

/*
 * Reads the pending tasks into out (at most max), links who awaits whom
 * and fills *st. Returns how many, or a negative errno with a reason in
 * pytasks_why(): -ENOENT asyncio is not imported (yet), -ENOTSUP a
 * version or build whose tasks are not readable here, -EFAULT the
 * interpreter's state is unreadable (the process is exiting).
 */
int pytasks_read(struct pytasks *pt, struct py_task *out, int max,
		 struct pytasks_stats *st);
const char *pytasks_why(const struct pytasks *pt);

#endif

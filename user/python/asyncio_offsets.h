/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_ASYNCIO_OFFSETS_H
#define PYROGRAPH_ASYNCIO_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Where asyncio keeps its tasks, per CPython version: the C Task object
 * (Modules/_asynciomodule.c), how to find every task, and the generator
 * frame states that say whether a coroutine runs, waits or is done.
 * 3.11-3.13: a measured table (asyncio_offsets.c). 3.14+: the _asyncio
 * module publishes its layout in the AsyncioDebug ELF section
 * (_Py_AsyncioModuleDebugOffsets); what it leaves out is derived from it.
 * Pure functions, libc only: the section's bytes are untrusted.
 */
struct asyncio_layout {
	unsigned char minor;
	bool task_lists;	  /* 3.14+: tasks on per-thread lists */
	unsigned short task_size; /* bytes of a TaskObj read at once */
	unsigned short loop, state, waiter, coro, name; /* in TaskObj */
	/* 3.14+ (0 before): who awaits the task, a set or one object */
	unsigned short awaited_by, awaited_by_is_set;
	unsigned short task_node;	  /* its llist node in the lists */
	unsigned short tstate_tasks_head; /* PyThreadState's list head */
	unsigned short interp_tasks_head; /* the interpreter's (threads gone) */
};

/* Bytes of the AsyncioDebug section (13 uint64_t in 3.14 and 3.15). */
#define ASYNCIO_DEBUG_SIZE    104
#define ASYNCIO_DEBUG_SECTION ".AsyncioDebug"

/*
 * The layout of 3.minor: 0 and *out for 3.11-3.13; -EAGAIN for 3.14+,
 * whose layout comes from asyncio_layout_parse(); -ENOTSUP otherwise.
 */
int asyncio_layout_for(unsigned minor, struct asyncio_layout *out);

/*
 * 3.14+: the layout from the AsyncioDebug section's len bytes at buf.
 * Returns 0, -EINVAL (too short, or an offset outside the struct it is an
 * offset into) or -ENOTSUP (a version not known here).
 */
int asyncio_layout_parse(unsigned minor, const void *buf, size_t len,
			 struct asyncio_layout *out);

#endif

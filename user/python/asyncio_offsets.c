// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * asyncio layouts (see asyncio_offsets.h).
 *
 * 3.11-3.13 were measured with gdb (ptype /o TaskObj, PyGenObject,
 * PyInterpreterState) from the DWARF of the pyenv
 * builds 3.11.7, 3.12.1 and 3.13.0; tests/e2e/test_tasks.py checks them
 * live, on those and on Debian's 3.11.2 and 3.13.5, against a known tree:
 * - TaskObj 3.11/3.12: task_loop 16, task_state 88, task_fut_waiter 128,
 *   task_coro 136, task_name 144, 176 bytes. 3.13 moved cancelled_exc up
 *   and packed the flags into bits: task_state 96, task_fut_waiter 112,
 *   task_coro 120, task_name 128, 144 bytes.
 * A coroutine's gi_frame_state and its enum _framestate values are the
 * interpreter's facts, in struct py_offsets (pyversions.c, debug_offsets.c),
 * which the task reader takes from there.
 *
 * 3.14 and 3.15 publish _Py_AsyncioModuleDebugOffsets (Modules/
 * _asynciomodule.c) in the AsyncioDebug section: 13 uint64_t, task_object
 * {size, task_name, task_awaited_by, task_is_task, task_awaited_by_is_set,
 * task_coro, task_node}, interpreter_state {size, asyncio_tasks_head},
 * thread_state {size, asyncio_running_loop, asyncio_running_task,
 * asyncio_tasks_head}. Debian's 3.14.10 _asyncio module and 3.15.2 binary
 * (where _asyncio is built in) both have the section under that name.
 * Not published, and derived from the struct's order (FutureObj_HEAD:
 * ... cancelled_exc, awaited_by, state; TaskObj: ... fut_waiter, coro,
 * name): task_state = task_awaited_by + 8, task_fut_waiter = task_coro -
 * 8; task_loop is 16 as in every version (checked live on both).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "python/asyncio_offsets.h"

static const struct asyncio_layout table[] = {
	{
		.minor = 11,
		.task_size = 176,
		.loop = 16,
		.state = 88,
		.waiter = 128,
		.coro = 136,
		.name = 144,
	},
	{
		.minor = 12,
		.task_size = 176,
		.loop = 16,
		.state = 88,
		.waiter = 128,
		.coro = 136,
		.name = 144,
	},
	{
		.minor = 13,
		.task_size = 144,
		.loop = 16,
		.state = 96,
		.waiter = 112,
		.coro = 120,
		.name = 128,
	},
};

int asyncio_layout_for(unsigned minor, struct asyncio_layout *out)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].minor == minor) {
			*out = table[i];
			return 0;
		}
	return minor == 14 || minor == 15 ? -EAGAIN : -ENOTSUP;
}

enum adbg {
	AD_TASK_SIZE,
	AD_TASK_NAME,
	AD_TASK_AWAITED_BY,
	AD_TASK_IS_TASK,
	AD_TASK_AWAITED_BY_IS_SET,
	AD_TASK_CORO,
	AD_TASK_NODE,
	AD_INTERP_SIZE,
	AD_INTERP_TASKS_HEAD,
	AD_TSTATE_SIZE,
	AD_TSTATE_RUNNING_LOOP,
	AD_TSTATE_RUNNING_TASK,
	AD_TSTATE_TASKS_HEAD,
	AD__NR
};

/* An offset of a pointer-sized field inside a struct of size bytes. */
static bool ptr_in(uint64_t off, uint64_t size)
{
	return off % 8 == 0 && off >= 16 && off + 8 <= size && off < 65536;
}

int asyncio_layout_parse(unsigned minor, const void *buf, size_t len,
			 struct asyncio_layout *out)
{
	uint64_t v[AD__NR];
	struct asyncio_layout l = {
		.minor = (unsigned char)minor,
		.task_lists = true,
		.loop = 16,
	};

	if (minor != 14 && minor != 15)
		return -ENOTSUP;
	if (!buf || len < sizeof(v))
		return -EINVAL;
	memcpy(v, buf, sizeof(v));
	/* The task: 16-byte header, the fields inside it, the flags bytes
	 * (not pointers) too. */
	if (v[AD_TASK_SIZE] < 64 || v[AD_TASK_SIZE] > 1024 ||
	    !ptr_in(v[AD_TASK_NAME], v[AD_TASK_SIZE]) ||
	    !ptr_in(v[AD_TASK_AWAITED_BY], v[AD_TASK_SIZE]) ||
	    !ptr_in(v[AD_TASK_AWAITED_BY] + 8, v[AD_TASK_SIZE]) ||
	    v[AD_TASK_AWAITED_BY_IS_SET] < 16 ||
	    v[AD_TASK_AWAITED_BY_IS_SET] >= v[AD_TASK_SIZE] ||
	    !ptr_in(v[AD_TASK_CORO], v[AD_TASK_SIZE]) ||
	    !ptr_in(v[AD_TASK_CORO] - 8, v[AD_TASK_SIZE]) ||
	    !ptr_in(v[AD_TASK_NODE], v[AD_TASK_SIZE]) ||
	    !ptr_in(v[AD_TASK_NODE] + 8, v[AD_TASK_SIZE]))
		return -EINVAL;
	if (v[AD_INTERP_SIZE] > 1 << 20 ||
	    !ptr_in(v[AD_INTERP_TASKS_HEAD], v[AD_INTERP_SIZE]) ||
	    v[AD_TSTATE_SIZE] > 1 << 16 ||
	    !ptr_in(v[AD_TSTATE_TASKS_HEAD], v[AD_TSTATE_SIZE]))
		return -EINVAL;
	l.task_size = (unsigned short)v[AD_TASK_SIZE];
	l.name = (unsigned short)v[AD_TASK_NAME];
	l.coro = (unsigned short)v[AD_TASK_CORO];
	l.waiter = (unsigned short)(v[AD_TASK_CORO] - 8);
	l.awaited_by = (unsigned short)v[AD_TASK_AWAITED_BY];
	l.state = (unsigned short)(v[AD_TASK_AWAITED_BY] + 8);
	l.awaited_by_is_set = (unsigned short)v[AD_TASK_AWAITED_BY_IS_SET];
	l.task_node = (unsigned short)v[AD_TASK_NODE];
	l.interp_tasks_head = (unsigned short)v[AD_INTERP_TASKS_HEAD];
	l.tstate_tasks_head = (unsigned short)v[AD_TSTATE_TASKS_HEAD];
	*out = l;
	return 0;
}

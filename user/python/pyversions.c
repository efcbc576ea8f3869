// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * CPython 3.8-3.12 layouts (x86-64, GIL builds, release builds).
 *
 * Every number below was measured with gdb from the DWARF of the pyenv builds
 * (3.8.18, 3.9.18, 3.10.13, 3.11.7, 3.12.1; `scripts/measure-offsets.sh
 * --check VERSION` re-derives a row and diffs it against this table) and,
 * for 3.11, also from Debian's /usr/bin/python3.11 (3.11.2, static
 * libpython, DWARF from python3.11-dbg's /usr/lib/debug/.build-id): identical
 * to 3.11.7. `scripts/measure-offsets.sh --live PYTHON` checks a row against
 * a running interpreter through ctypes (no debug info needed).
 *
 * Layouts are stable within a minor version (CPython keeps the ABI of these
 * internal structs fixed after the first release candidate), so one row per
 * minor version.
 *
 * Field notes:
 * - tstate_thread_id is PyThreadState.thread_id (pthread_self(), unsigned long).
 * - <= 3.10: tstate_frame = PyThreadState.frame (a PyFrameObject *), link DIRECT.
 *   3.11/3.12: tstate_frame = PyThreadState.cframe (a _PyCFrame *), link CFRAME,
 *   cframe_current_frame = _PyCFrame.current_frame.
 * - frame_instr: PyFrameObject.f_lasti (int) for <= 3.10 (bytes in 3.8/3.9,
 *   code units in 3.10); _PyInterpreterFrame.prev_instr (_Py_CODEUNIT *) for
 *   3.11/3.12.
 * - code_adaptive: for 3.11+ the offset of the inline co_code_adaptive array
 *   inside PyCodeObject (instruction index = (prev_instr - (code +
 *   code_adaptive)) / 2). For <= 3.10 it is the offset of co_code, a
 *   PyObject * to a bytes object holding the bytecode (not inline data);
 *   the walker does not need it there since f_lasti is already an offset.
 * - owner_skip_min: 3.12 pushes a shim "entry frame" owned by
 *   FRAME_OWNED_BY_CSTACK (= 3) at each C -> Python entry; its f_code is a
 *   real (trampoline) code object, so it must be skipped. 3.11's enum
 *   _frameowner has only THREAD/GENERATOR/FRAME_OBJECT (0-2): the first
 *   frame of each C -> Python entry is marked by a separate is_entry byte
 *   (offset 68) but it is the real frame of the called function and must be
 *   kept, hence 0xff (never skip).
 * - gen_iframe: PyGenObject.gi_iframe == PyCoroObject.cr_iframe (checked
 *   equal); the embedded _PyInterpreterFrame of a generator/coroutine.
 * - gen_frame_state: PyGenObject.gi_frame_state (int8, the last of the
 *   four chars before gi_iframe); enum _framestate (pycore_frame.h) of 3.11
 *   and 3.12: FRAME_CREATED -2, SUSPENDED -1, EXECUTING 0, COMPLETED 1,
 *   CLEARED 4.
 * - unicode: PyASCIIObject.state is a bitfield word (interned:2, kind:3,
 *   compact:1, ascii:1, then ready:1 up to 3.11) at unicode_state.
 */
#include <errno.h>
#include <stddef.h>

#include "python/pyversions.h"

#define PY_MIN_MINOR 8
#define PY_MAX_MINOR 12

static const struct py_offsets py_table[PY_MAX_MINOR + 1] = {
	[8] = { /* measured on 3.8.18 */
		.runtime_interp_head = 32,
		.interp_next = 0,
		.interp_modules = 56, /* modules */
		.interp_threads_head = 8, /* tstate_head */
		.tstate_next = 8,
		.tstate_thread_id = 176,
		.tstate_native_thread_id = PY_OFF_NONE,
		.tstate_frame = 24, /* frame */
		.cframe_current_frame = PY_OFF_NONE,
		.frame_previous = 24, /* f_back */
		.frame_code = 32,
		.frame_instr = 104, /* f_lasti, bytes */
		.frame_owner = PY_OFF_NONE,
		.frame_is_entry = PY_OFF_NONE,
		.frame_stack = PY_OFF_NONE,
		.frame_localsplus = PY_OFF_NONE,
		.code_filename = 104,
		.code_name = 112,
		.code_qualname = PY_OFF_NONE,
		.code_firstlineno = 40,
		.code_linetable = 120, /* co_lnotab */
		.code_adaptive = 48,   /* co_code (bytes object pointer) */
		.unicode_state = 32,
		.unicode_length = 16,
		.ascii_size = 48,
		.compact_size = 72,
		.bytes_size = 16,
		.bytes_data = 32,
		.gen_iframe = PY_OFF_NONE,
		.gen_frame_state = PY_OFF_NONE,
		.instr_kind = PY_INSTR_LASTI_BYTES,
		.frame_link = PY_LINK_DIRECT,
		.owner_skip_min = 0xff,
		.code_tag_mask = 0,
	},
	[9] = { /* measured on 3.9.18 */
		.runtime_interp_head = 32,
		.interp_next = 0,
		.interp_modules = 856, /* modules */
		.interp_threads_head = 8, /* tstate_head */
		.tstate_next = 8,
		.tstate_thread_id = 176,
		.tstate_native_thread_id = PY_OFF_NONE,
		.tstate_frame = 24, /* frame */
		.cframe_current_frame = PY_OFF_NONE,
		.frame_previous = 24, /* f_back */
		.frame_code = 32,
		.frame_instr = 104, /* f_lasti, bytes */
		.frame_owner = PY_OFF_NONE,
		.frame_is_entry = PY_OFF_NONE,
		.frame_stack = PY_OFF_NONE,
		.frame_localsplus = PY_OFF_NONE,
		.code_filename = 104,
		.code_name = 112,
		.code_qualname = PY_OFF_NONE,
		.code_firstlineno = 40,
		.code_linetable = 120, /* co_lnotab */
		.code_adaptive = 48,   /* co_code (bytes object pointer) */
		.unicode_state = 32,
		.unicode_length = 16,
		.ascii_size = 48,
		.compact_size = 72,
		.bytes_size = 16,
		.bytes_data = 32,
		.gen_iframe = PY_OFF_NONE,
		.gen_frame_state = PY_OFF_NONE,
		.instr_kind = PY_INSTR_LASTI_BYTES,
		.frame_link = PY_LINK_DIRECT,
		.owner_skip_min = 0xff,
		.code_tag_mask = 0,
	},
	[10] = { /* measured on 3.10.13 */
		.runtime_interp_head = 32,
		.interp_next = 0,
		.interp_modules = 856, /* modules */
		.interp_threads_head = 8, /* tstate_head */
		.tstate_next = 8,
		.tstate_thread_id = 176,
		.tstate_native_thread_id = PY_OFF_NONE,
		.tstate_frame = 24, /* frame */
		.cframe_current_frame = PY_OFF_NONE,
		.frame_previous = 24, /* f_back */
		.frame_code = 32,
		.frame_instr = 96, /* f_lasti, code units */
		.frame_owner = PY_OFF_NONE,
		.frame_is_entry = PY_OFF_NONE,
		.frame_stack = PY_OFF_NONE,
		.frame_localsplus = PY_OFF_NONE,
		.code_filename = 104,
		.code_name = 112,
		.code_qualname = PY_OFF_NONE,
		.code_firstlineno = 40,
		.code_linetable = 120, /* co_linetable */
		.code_adaptive = 48,   /* co_code (bytes object pointer) */
		.unicode_state = 32,
		.unicode_length = 16,
		.ascii_size = 48,
		.compact_size = 72,
		.bytes_size = 16,
		.bytes_data = 32,
		.gen_iframe = PY_OFF_NONE,
		.gen_frame_state = PY_OFF_NONE,
		.instr_kind = PY_INSTR_LASTI_UNITS,
		.frame_link = PY_LINK_DIRECT,
		.owner_skip_min = 0xff,
		.code_tag_mask = 0,
	},
	[11] = { /* measured on 3.11.7 and Debian 3.11.2 */
		.runtime_interp_head = 40,
		.interp_next = 0,
		.interp_modules = 888, /* modules */
		.interp_threads_head = 16, /* threads.head */
		.tstate_next = 8,
		.tstate_thread_id = 152,
		.tstate_native_thread_id = 160,
		.tstate_frame = 56, /* cframe */
		.cframe_current_frame = 8,
		.frame_previous = 48, /* previous */
		.frame_code = 32,     /* f_code */
		.frame_instr = 56,    /* prev_instr */
		.frame_owner = 69,
		.frame_is_entry = 68,
		.frame_stack = 64, /* int stacktop */
		.frame_localsplus = 72,
		.stack_kind = PY_STACK_TOP_INDEX,
		.code_filename = 112,
		.code_name = 120,
		.code_qualname = 128,
		.code_firstlineno = 72,
		.code_linetable = 136, /* co_linetable */
		.code_adaptive = 184,  /* co_code_adaptive (inline) */
		.unicode_state = 32,
		.unicode_length = 16,
		.ascii_size = 48,
		.compact_size = 72,
		.bytes_size = 16,
		.bytes_data = 32,
		.gen_iframe = 80,
		.gen_frame_state = 75,
		.gen_state_created = -2,
		.gen_state_done = 1,
		.instr_kind = PY_INSTR_PTR,
		.frame_link = PY_LINK_CFRAME,
		.owner_skip_min = 0xff, /* no CSTACK owner in 3.11 */
		.code_tag_mask = 0,
	},
	[12] = { /* measured on 3.12.1 */
		.runtime_interp_head = 40,
		.interp_next = 0,
		.interp_modules = 944, /* imports.modules */
		.interp_threads_head = 72, /* threads.head */
		.tstate_next = 8,
		.tstate_thread_id = 136,
		.tstate_native_thread_id = 144,
		.tstate_frame = 56, /* cframe */
		.cframe_current_frame = 0,
		.frame_previous = 8, /* previous */
		.frame_code = 0,     /* f_code */
		.frame_instr = 56,   /* prev_instr */
		.frame_owner = 70,
		.frame_is_entry = PY_OFF_NONE,
		.frame_stack = 64, /* int stacktop */
		.frame_localsplus = 72,
		.stack_kind = PY_STACK_TOP_INDEX,
		.code_filename = 112,
		.code_name = 120,
		.code_qualname = 128,
		.code_firstlineno = 68,
		.code_linetable = 136, /* co_linetable */
		.code_adaptive = 192,  /* co_code_adaptive (inline) */
		.unicode_state = 32,
		.unicode_length = 16,
		.ascii_size = 40,
		.compact_size = 56,
		.bytes_size = 16,
		.bytes_data = 32,
		.gen_iframe = 72,
		.gen_frame_state = 67,
		.gen_state_created = -2,
		.gen_state_done = 1,
		.instr_kind = PY_INSTR_PTR,
		.frame_link = PY_LINK_CFRAME,
		.owner_skip_min = 3, /* FRAME_OWNED_BY_CSTACK */
		.code_tag_mask = 0,
	},
};

int py_offsets_for_version(unsigned major, unsigned minor, unsigned micro,
			   struct py_offsets *out)
{
	if (!out || micro > 0xff)
		return -EINVAL;
	if (major != 3 || minor < PY_MIN_MINOR || minor > PY_MAX_MINOR)
		return -ENOTSUP;
	*out = py_table[minor];
	out->version = PY_VERSION_CODE(major, minor, micro);
	return 0;
}

int py_gil_location(unsigned minor, bool *via_interp, unsigned *off)
{
	switch (minor) {
	case 8:
		*via_interp = false;
		*off = 1152; /* _PyRuntime.ceval.gil */
		return 0;
	case 9:
	case 10:
		*via_interp = false;
		*off = 352;
		return 0;
	case 11:
		*via_interp = false;
		*off = 360;
		return 0;
	case 12:
		*via_interp = true;
		*off = 384; /* PyInterpreterState.ceval.gil */
		return 0;
	case 13:
	case 14:
	case 15:
		*via_interp = true;
		*off = 16; /* ceval is the interpreter's second member */
		return 0;
	}
	return -ENOTSUP;
}

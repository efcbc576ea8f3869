/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * CPython layout description shared by the BPF walker and userspace.
 *
 * Only fixed-width types: this header is included from BPF programs too.
 * One struct describes everything the walker and the symbolizer need for
 * one interpreter; userspace fills it from a data table (3.8-3.12) or from
 * the target's own _Py_DebugOffsets (3.13+).
 */
#ifndef PYROGRAPH_PYOFFSETS_H
#define PYROGRAPH_PYOFFSETS_H

/* BPF programs get the same types from vmlinux.h. */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* How a frame stores the instruction being executed. */
enum py_instr_kind {
	PY_INSTR_LASTI_BYTES = 1, /* int f_lasti, in bytes (3.8, 3.9) */
	PY_INSTR_LASTI_UNITS = 2, /* int f_lasti, in code units (3.10) */
	PY_INSTR_PTR = 3,	  /* pointer into co_code_adaptive (3.11+) */
};

/* How the current frame hangs off the thread state. */
enum py_frame_link {
	PY_LINK_DIRECT = 1, /* *(tstate + tstate_frame) */
	PY_LINK_CFRAME = 2, /* *(*(tstate + tstate_frame) + cframe_current_frame) */
};

/* How frame_stack is to be read. */
enum py_stack_kind {
	PY_STACK_NONE = 0,
	PY_STACK_TOP_INDEX = 1, /* int: localsplus[stacktop - 1] is the top */
	PY_STACK_POINTER = 2,	 /* pointer: stackpointer[-1] is the top */
};
#define PY_OFF_NONE 0xffff

/*
 * Set in py_frame.instr (3.11+, where instruction offsets are small) on the
 * outermost Python frame run by one C call of the eval loop: where native
 * frames go between Python frames (--native). Before 3.11 every Python
 * frame is its own eval-loop call.
 */
#define PY_INSTR_ENTRY 0x80000000u

struct py_offsets {
	__u32 version; /* (major << 24) | (minor << 16) | (micro << 8) */
	__u16 runtime_interp_head;
	__u16 interp_next;
	__u16 interp_threads_head;
	__u16 tstate_next;
	__u16 tstate_thread_id; /* pthread_t == fs base on x86-64 glibc */
	__u16 tstate_native_thread_id; /* PY_OFF_NONE before 3.11 */
	__u16 tstate_frame;
	__u16 cframe_current_frame; /* used with PY_LINK_CFRAME */
	__u16 frame_previous;
	__u16 frame_code;
	__u16 frame_instr;
	__u16 frame_owner; /* PY_OFF_NONE when frames have no owner byte */
	__u16 code_filename;
	__u16 code_name;
	__u16 code_qualname; /* PY_OFF_NONE before 3.11 */
	__u16 code_firstlineno;
	__u16 code_linetable; /* co_lnotab (3.8/3.9), co_linetable (3.10+) */
	__u16 code_adaptive;  /* co_code_adaptive (3.11+) */
	__u16 unicode_state;
	__u16 unicode_length;
	__u16 ascii_size;	  /* sizeof(PyASCIIObject) */
	__u16 compact_size;	  /* sizeof(PyCompactUnicodeObject) */
	__u16 bytes_size;	  /* PyVarObject.ob_size of a bytes object */
	__u16 bytes_data;	  /* PyBytesObject.ob_sval */
	__u16 gen_iframe;	  /* offset of the embedded frame in a coroutine; PY_OFF_NONE if n/a */
	__u16 frame_is_entry;	  /* 3.11: bool is_entry; PY_OFF_NONE otherwise */
	/*
	 * The value stack of an interpreter frame, whose top is what a
	 * suspended coroutine awaits (async): frame_stack is the int stacktop
	 * (3.11-3.13: index of the top past localsplus) or the _PyStackRef
	 * *stackpointer (3.14); PY_OFF_NONE where unknown.
	 */
	__u16 frame_stack;
	__u16 frame_localsplus;
	/*
	 * A coroutine's int8 gi_frame_state (PY_OFF_NONE: unknown), and two of
	 * its values, which differ between versions: FRAME_CREATED (never
	 * run) and the first of the finished ones (3.11-3.14 FRAME_COMPLETED,
	 * 3.15 FRAME_CLEARED): a task's first step and its end.
	 */
	__u16 gen_frame_state;
	/* PyInterpreterState's sys.modules dict (modules; imports.modules
	 * 3.12+), where thread names are found (python/pythreads.c);
	 * PY_OFF_NONE where not known (3.14+, whose OS thread names are). */
	__u16 interp_modules;
	__u8 instr_kind;	  /* enum py_instr_kind */
	__u8 frame_link;	  /* enum py_frame_link */
	__u8 owner_skip_min;	  /* skip frames whose owner >= this; 0xff: never */
	__u8 code_tag_mask;	  /* low bits to clear from the code pointer (3.14: 7) */
	__u8 stack_kind;	  /* enum py_stack_kind */
	__s8 gen_state_created;
	__s8 gen_state_done;
};

#endif /* PYROGRAPH_PYOFFSETS_H */

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * _Py_DebugOffsets (CPython 3.13+) -> struct py_offsets.
 *
 * _Py_DebugOffsets is a struct of uint64_t values (after an 8-byte cookie)
 * that CPython fills with offsetof()/sizeof() of its own internal structs.
 * Its layout is itself not stable: each minor version inserts fields. So a
 * version is described by one row of data below: the byte position, inside
 * _Py_DebugOffsets, of each value we need (0 = this version does not
 * publish it). Adding a version means adding a row.
 *
 * Positions were derived from the struct definition of each version, laid
 * out by the compiler (gdb ptype/o), x86-64:
 *   3.13: Include/internal/pycore_runtime.h, v3.13.0 (pyenv's installed
 *         headers) and v3.13.5 (Debian libpython3.13-dev 3.13.5-2+deb13u5):
 *         identical, 584 bytes.
 *   3.14: Include/internal/pycore_debug_offsets.h, v3.14.10 (Debian
 *         libpython3.14-dev 3.14.10-1), 760 bytes.
 *   3.15: Include/internal/pycore_debug_offsets.h, v3.15.2 (Debian
 *         libpython3.15-dev 3.15.2-1), 888 bytes. Grew in the thread_state
 *         block (base_frame, last_profiled_frame[_seq] before thread_id;
 *         holds_gil, gil_requested, current_exception, exc_state after
 *         status), a new err_stackitem block, type_object/heap_type_object
 *         additions, unicode_object.compactunicodeobject_size and three gc
 *         fields.
 * tests/unit/test_debug_offsets.c checks every row against the .PyRuntime
 * bytes of real binaries and against their DWARF where they have it.
 *
 * Everything read from the buffer is untrusted: each value is checked to lie
 * inside the struct it is an offset into (using the sizes the same buffer
 * publishes), to be aligned for its type, and to fit the __u16 fields of
 * struct py_offsets.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "python/debug_offsets.h"

/* Values of _Py_DebugOffsets we read. */
enum dof {
	DOF_RUNTIME_SIZE,
	DOF_RUNTIME_INTERP_HEAD,
	DOF_INTERP_SIZE,
	DOF_INTERP_NEXT,
	DOF_INTERP_THREADS_HEAD,
	DOF_INTERP_IMPORTS_MODULES,
	DOF_TSTATE_SIZE,
	DOF_TSTATE_NEXT,
	DOF_TSTATE_CURRENT_FRAME,
	DOF_TSTATE_THREAD_ID,
	DOF_TSTATE_NATIVE_THREAD_ID,
	DOF_FRAME_SIZE,
	DOF_FRAME_PREVIOUS,
	DOF_FRAME_EXECUTABLE,
	DOF_FRAME_INSTR_PTR,
	DOF_FRAME_OWNER,
	DOF_CODE_SIZE,
	DOF_CODE_FILENAME,
	DOF_CODE_NAME,
	DOF_CODE_QUALNAME,
	DOF_CODE_LINETABLE,
	DOF_CODE_FIRSTLINENO,
	DOF_CODE_ADAPTIVE,
	DOF_PYOBJECT_SIZE,
	DOF_BYTES_SIZE,
	DOF_BYTES_OB_SIZE,
	DOF_BYTES_OB_SVAL,
	DOF_UNICODE_SIZE,
	DOF_UNICODE_STATE,
	DOF_UNICODE_LENGTH,
	DOF_UNICODE_ASCII_SIZE,
	DOF_UNICODE_COMPACT_SIZE,
	DOF_GEN_SIZE,
	DOF_GEN_IFRAME,
	DOF_GEN_FRAME_STATE,
	DOF_FRAME_LOCALSPLUS,
	DOF_FRAME_STACKPOINTER,
	DOF__NR
};

struct dof_layout {
	__u8 minor;
	__u8 owner_skip_min;
	__u8 code_tag_mask;
	__u16 struct_size;    /* sizeof(_Py_DebugOffsets) */
	__u16 gen_iframe_std; /* used when gen_object is not published */
	__u16 gen_frame_state_std;
	__s8 gen_state_created, gen_state_done; /* enum _framestate */
	__u16 pos[DOF__NR];   /* byte position in _Py_DebugOffsets; 0: absent */
};

/*
 * Facts not in _Py_DebugOffsets, per version:
 * - owner_skip_min: enum _frameowner. 3.13 (pycore_frame.h): THREAD 0,
 *   GENERATOR 1, FRAME_OBJECT 2, CSTACK 3 (entry shim, f_executable None).
 *   3.14 (pycore_interpframe_structs.h): ... INTERPRETER 3, CSTACK 4.
 *   3.15 (same file): ... INTERPRETER 3, CSTACK is gone. Owner >= 3 is never
 *   a Python function's frame in any of them.
 * - code_tag_mask: 3.13 f_executable is a plain PyObject *. 3.14/3.15 it is
 *   a _PyStackRef whose low bits carry tags (Py_TAG_BITS = 3 in GIL builds,
 *   pycore_stackref.h); objects are at least 8-aligned, so clearing 3 bits
 *   is safe and covers both.
 * - gen_iframe_std: 3.13 publishes no gen_object; PyGenObject.gi_iframe is
 *   at 72 there (cpython/genobject.h: 16-byte PyObject header, weakreflist,
 *   name, qualname, 16-byte exc_state, origin_or_finalizer, 4 chars, padded
 *   to 8) — valid only with a 16-byte PyObject header, which we check.
 * - gen_frame_state_std: gi_frame_state, the last of the four chars before
 *   gi_iframe in 3.13 (67). enum _framestate: 3.13 and 3.14
 *   (pycore_frame.h) FRAME_CREATED -3, SUSPENDED -2, SUSPENDED_YIELD_FROM
 *   -1, EXECUTING 0, COMPLETED 1, CLEARED 4; 3.15 renumbers them CREATED 0,
 *   SUSPENDED 1, SUSPENDED_YIELD_FROM 2, ..._LOCKED 3, EXECUTING 4, CLEARED
 *   5 (no COMPLETED). Checked on a live coroutine of each (created, awaiting,
 *   returned): 253/255/4 on 3.13 and 3.14, 0/2/5 on 3.15.
 * - compact_size, where not published (3.13, 3.14): PyCompactUnicodeObject
 *   is PyASCIIObject + Py_ssize_t utf8_length + char *utf8 (3.12+,
 *   cpython/unicodeobject.h), i.e. asciiobject_size + 16 (56).
 */
static const struct dof_layout layouts[] = {
	{
		.minor = 13,
		.owner_skip_min = 3,
		.code_tag_mask = 0,
		.struct_size = 584,
		.gen_iframe_std = 72,
		.gen_frame_state_std = 67,
		.gen_state_created = -3,
		.gen_state_done = 1,
		.pos =
			{
				[DOF_RUNTIME_SIZE] = 24,
				[DOF_RUNTIME_INTERP_HEAD] = 40,
				[DOF_INTERP_SIZE] = 48,
				[DOF_INTERP_NEXT] = 64,
				[DOF_INTERP_THREADS_HEAD] = 72,
				[DOF_INTERP_IMPORTS_MODULES] = 88,
				[DOF_TSTATE_SIZE] = 152,
				[DOF_TSTATE_NEXT] = 168,
				[DOF_TSTATE_CURRENT_FRAME] = 184,
				[DOF_TSTATE_THREAD_ID] = 192,
				[DOF_TSTATE_NATIVE_THREAD_ID] = 200,
				[DOF_FRAME_SIZE] = 224,
				[DOF_FRAME_PREVIOUS] = 232,
				[DOF_FRAME_EXECUTABLE] = 240,
				[DOF_FRAME_INSTR_PTR] = 248,
				[DOF_FRAME_LOCALSPLUS] = 256,
				[DOF_FRAME_OWNER] = 264,
				[DOF_CODE_SIZE] = 272,
				[DOF_CODE_FILENAME] = 280,
				[DOF_CODE_NAME] = 288,
				[DOF_CODE_QUALNAME] = 296,
				[DOF_CODE_LINETABLE] = 304,
				[DOF_CODE_FIRSTLINENO] = 312,
				[DOF_CODE_ADAPTIVE] = 344,
				[DOF_PYOBJECT_SIZE] = 352,
				[DOF_BYTES_SIZE] = 512,
				[DOF_BYTES_OB_SIZE] = 520,
				[DOF_BYTES_OB_SVAL] = 528,
				[DOF_UNICODE_SIZE] = 536,
				[DOF_UNICODE_STATE] = 544,
				[DOF_UNICODE_LENGTH] = 552,
				[DOF_UNICODE_ASCII_SIZE] = 560,
			},
	},
	{
		.minor = 14,
		.owner_skip_min = 3,
		.code_tag_mask = 7,
		.struct_size = 760,
		.gen_state_created = -3,
		.gen_state_done = 1,
		.pos =
			{
				[DOF_RUNTIME_SIZE] = 24,
				[DOF_RUNTIME_INTERP_HEAD] = 40,
				[DOF_INTERP_SIZE] = 48,
				[DOF_INTERP_NEXT] = 64,
				[DOF_INTERP_THREADS_HEAD] = 72,
				[DOF_TSTATE_SIZE] = 176,
				[DOF_TSTATE_NEXT] = 192,
				[DOF_TSTATE_CURRENT_FRAME] = 208,
				[DOF_TSTATE_THREAD_ID] = 216,
				[DOF_TSTATE_NATIVE_THREAD_ID] = 224,
				[DOF_FRAME_SIZE] = 248,
				[DOF_FRAME_PREVIOUS] = 256,
				[DOF_FRAME_EXECUTABLE] = 264,
				[DOF_FRAME_INSTR_PTR] = 272,
				[DOF_FRAME_LOCALSPLUS] = 280,
				[DOF_FRAME_OWNER] = 288,
				[DOF_FRAME_STACKPOINTER] = 296,
				[DOF_CODE_SIZE] = 312,
				[DOF_CODE_FILENAME] = 320,
				[DOF_CODE_NAME] = 328,
				[DOF_CODE_QUALNAME] = 336,
				[DOF_CODE_LINETABLE] = 344,
				[DOF_CODE_FIRSTLINENO] = 352,
				[DOF_CODE_ADAPTIVE] = 384,
				[DOF_PYOBJECT_SIZE] = 400,
				[DOF_BYTES_SIZE] = 592,
				[DOF_BYTES_OB_SIZE] = 600,
				[DOF_BYTES_OB_SVAL] = 608,
				[DOF_UNICODE_SIZE] = 616,
				[DOF_UNICODE_STATE] = 624,
				[DOF_UNICODE_LENGTH] = 632,
				[DOF_UNICODE_ASCII_SIZE] = 640,
				[DOF_GEN_SIZE] = 664,
				[DOF_GEN_IFRAME] = 680,
				[DOF_GEN_FRAME_STATE] = 688,
			},
	},
	{
		.minor = 15,
		.owner_skip_min = 3,
		.code_tag_mask = 7,
		.struct_size = 888,
		.gen_state_created = 0,
		.gen_state_done = 5,
		.pos =
			{
				[DOF_RUNTIME_SIZE] = 24,
				[DOF_RUNTIME_INTERP_HEAD] = 40,
				[DOF_INTERP_SIZE] = 48,
				[DOF_INTERP_NEXT] = 64,
				[DOF_INTERP_THREADS_HEAD] = 72,
				[DOF_TSTATE_SIZE] = 176,
				[DOF_TSTATE_NEXT] = 192,
				[DOF_TSTATE_CURRENT_FRAME] = 208,
				[DOF_TSTATE_THREAD_ID] = 240,
				[DOF_TSTATE_NATIVE_THREAD_ID] = 248,
				[DOF_FRAME_SIZE] = 312,
				[DOF_FRAME_PREVIOUS] = 320,
				[DOF_FRAME_EXECUTABLE] = 328,
				[DOF_FRAME_INSTR_PTR] = 336,
				[DOF_FRAME_LOCALSPLUS] = 344,
				[DOF_FRAME_OWNER] = 352,
				[DOF_FRAME_STACKPOINTER] = 360,
				[DOF_CODE_SIZE] = 376,
				[DOF_CODE_FILENAME] = 384,
				[DOF_CODE_NAME] = 392,
				[DOF_CODE_QUALNAME] = 400,
				[DOF_CODE_LINETABLE] = 408,
				[DOF_CODE_FIRSTLINENO] = 416,
				[DOF_CODE_ADAPTIVE] = 448,
				[DOF_PYOBJECT_SIZE] = 464,
				[DOF_BYTES_SIZE] = 688,
				[DOF_BYTES_OB_SIZE] = 696,
				[DOF_BYTES_OB_SVAL] = 704,
				[DOF_UNICODE_SIZE] = 712,
				[DOF_UNICODE_STATE] = 720,
				[DOF_UNICODE_LENGTH] = 728,
				[DOF_UNICODE_ASCII_SIZE] = 736,
				[DOF_UNICODE_COMPACT_SIZE] = 744,
				[DOF_GEN_SIZE] = 792,
				[DOF_GEN_IFRAME] = 808,
				[DOF_GEN_FRAME_STATE] = 816,
			},
	},
};

/*
 * An offset copied into struct py_offsets: the value at `val` must leave
 * `width` bytes inside the struct whose size is at `in`, aligned to `align`.
 */
struct dof_field {
	__u16 out; /* offsetof(struct py_offsets, X), a __u16 member */
	__u8 val;  /* enum dof */
	__u8 in;   /* enum dof of the containing struct's size */
	__u8 width;
	__u8 align;
};

#define F(member, v, container, w, a)                                          \
	{                                                                      \
		offsetof(struct py_offsets, member), DOF_##v, DOF_##container, \
			w, a                                                   \
	}

static const struct dof_field fields[] = {
	F(runtime_interp_head, RUNTIME_INTERP_HEAD, RUNTIME_SIZE, 8, 8),
	F(interp_next, INTERP_NEXT, INTERP_SIZE, 8, 8),
	F(interp_threads_head, INTERP_THREADS_HEAD, INTERP_SIZE, 8, 8),
	F(tstate_next, TSTATE_NEXT, TSTATE_SIZE, 8, 8),
	F(tstate_thread_id, TSTATE_THREAD_ID, TSTATE_SIZE, 8, 8),
	F(tstate_native_thread_id, TSTATE_NATIVE_THREAD_ID, TSTATE_SIZE, 8, 8),
	F(tstate_frame, TSTATE_CURRENT_FRAME, TSTATE_SIZE, 8, 8),
	F(frame_previous, FRAME_PREVIOUS, FRAME_SIZE, 8, 8),
	F(frame_code, FRAME_EXECUTABLE, FRAME_SIZE, 8, 8),
	F(frame_instr, FRAME_INSTR_PTR, FRAME_SIZE, 8, 8),
	F(frame_owner, FRAME_OWNER, FRAME_SIZE, 1, 1),
	F(code_filename, CODE_FILENAME, CODE_SIZE, 8, 8),
	F(code_name, CODE_NAME, CODE_SIZE, 8, 8),
	F(code_qualname, CODE_QUALNAME, CODE_SIZE, 8, 8),
	F(code_firstlineno, CODE_FIRSTLINENO, CODE_SIZE, 4, 4),
	F(code_linetable, CODE_LINETABLE, CODE_SIZE, 8, 8),
	F(code_adaptive, CODE_ADAPTIVE, CODE_SIZE, 2, 2), /* _Py_CODEUNIT[] */
	F(unicode_state, UNICODE_STATE, UNICODE_SIZE, 4, 4),
	F(unicode_length, UNICODE_LENGTH, UNICODE_SIZE, 8, 8),
	F(bytes_size, BYTES_OB_SIZE, BYTES_SIZE, 8, 8),
	F(bytes_data, BYTES_OB_SVAL, BYTES_SIZE, 1, 1), /* char ob_sval[] */
};

#undef F

/* sizeof() values: runtime and interpreter state are large (hundreds of KiB). */
static const struct {
	__u8 dof;
	__u32 max;
} sizes[] = {
	{DOF_RUNTIME_SIZE, 1u << 26}, {DOF_INTERP_SIZE, 1u << 26},
	{DOF_TSTATE_SIZE, 1u << 16},  {DOF_FRAME_SIZE, 1u << 12},
	{DOF_CODE_SIZE, 1u << 12},    {DOF_PYOBJECT_SIZE, 64},
	{DOF_BYTES_SIZE, 1u << 12},   {DOF_UNICODE_SIZE, 1u << 12},
	{DOF_GEN_SIZE, 1u << 12},
};

static uint64_t rd64(const unsigned char *p, unsigned pos)
{
	uint64_t v;

	/* Same machine, same byte order as the target. */
	memcpy(&v, p + pos, sizeof(v));
	return v;
}

static void put16(struct py_offsets *o, __u16 member, uint64_t v)
{
	__u16 x = (__u16)v;

	memcpy((unsigned char *)o + member, &x, sizeof(x));
}

/* A value that fits struct py_offsets: below PY_OFF_NONE. */
static int fits16(uint64_t v)
{
	return v < PY_OFF_NONE;
}

/* The cookie, version and flavour of the struct: its layout, or why not. */
static int dof_header(const unsigned char *p, size_t len,
		      const struct dof_layout **out, uint64_t *hex)
{
	static const char cookie[8] = {'x', 'd', 'e', 'b', 'u', 'g', 'p', 'y'};
	const struct dof_layout *l = NULL;
	uint64_t ft;

	if (len < sizeof(cookie))
		return -EINVAL;
	if (memcmp(p, cookie, sizeof(cookie)))
		return -ENOENT;
	if (len < 24)
		return -EINVAL;
	/* PY_VERSION_HEX: major 24-31, minor 16-23, micro 8-15, level/serial 0-7. */
	*hex = rd64(p, 8);
	if (*hex > 0xffffffffu)
		return -EINVAL;
	if ((*hex >> 24) != 3)
		return -ENOTSUP;
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		if (layouts[i].minor == ((*hex >> 16) & 0xff))
			l = &layouts[i];
	}
	if (!l)
		return -ENOTSUP;
	ft = rd64(p, 16);
	if (ft == 1) /* Py_GIL_DISABLED: other object and frame layouts */
		return -ENOTSUP;
	if (ft != 0)
		return -EINVAL;
	if (len < l->struct_size)
		return -EINVAL;
	*out = l;
	return 0;
}

/* The published values, the sizes checked and the fields placed in o. */
static int dof_fields(const unsigned char *p, const struct dof_layout *l,
		      uint64_t v[DOF__NR], struct py_offsets *o)
{
	size_t i;

	for (i = 0; i < DOF__NR; i++) {
		if (l->pos[i])
			v[i] = rd64(p, l->pos[i]);
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t s = v[sizes[i].dof];

		/* A published struct must have a size; an absent one stays 0. */
		if (l->pos[sizes[i].dof] && (s == 0 || s > sizes[i].max))
			return -EINVAL;
	}
	memset(o, 0, sizeof(*o));
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const struct dof_field *f = &fields[i];
		uint64_t off = v[f->val], size = v[f->in];

		if (off % f->align || off > size || size - off < f->width ||
		    !fits16(off))
			return -EINVAL;
		put16(o, f->out, off);
	}
	/* PyObject header: 16 bytes, 32 with Py_TRACE_REFS. */
	if (v[DOF_PYOBJECT_SIZE] < 16 || v[DOF_PYOBJECT_SIZE] % 8)
		return -EINVAL;
	/* Bytes: ob_sval follows ob_size (ob_shash in between). */
	if (o->bytes_data < o->bytes_size + 8)
		return -EINVAL;
	return 0;
}

/* Unicode: the sizes of the ASCII and compact headers strings follow. */
static int dof_unicode(const struct dof_layout *l, const uint64_t v[DOF__NR],
		       struct py_offsets *o)
{
	uint64_t ascii = v[DOF_UNICODE_ASCII_SIZE], compact;

	if (ascii % 8 || ascii > v[DOF_UNICODE_SIZE] ||
	    ascii < (uint64_t)o->unicode_state + 4 ||
	    ascii < (uint64_t)o->unicode_length + 8)
		return -EINVAL;
	compact = l->pos[DOF_UNICODE_COMPACT_SIZE] ? v[DOF_UNICODE_COMPACT_SIZE] :
						     ascii + 16;
	if (compact % 8 || compact <= ascii || compact > v[DOF_UNICODE_SIZE])
		return -EINVAL;
	o->ascii_size = (__u16)ascii;
	o->compact_size = (__u16)compact;
	return 0;
}

/* Where a generator's (coroutine's) interpreter frame and state lie. */
static int dof_gen_iframe(const struct dof_layout *l, const uint64_t v[DOF__NR],
			  struct py_offsets *o)
{
	uint64_t gen_iframe, state = PY_OFF_NONE;

	if (l->pos[DOF_GEN_IFRAME]) {
		gen_iframe = v[DOF_GEN_IFRAME];
		if (gen_iframe % 8 || gen_iframe < v[DOF_PYOBJECT_SIZE] ||
		    gen_iframe >= v[DOF_GEN_SIZE] || !fits16(gen_iframe))
			return -EINVAL;
		if (l->pos[DOF_GEN_FRAME_STATE]) {
			state = v[DOF_GEN_FRAME_STATE];
			if (state < v[DOF_PYOBJECT_SIZE] || state >= gen_iframe)
				return -EINVAL;
		}
	} else if (l->gen_iframe_std && v[DOF_PYOBJECT_SIZE] == 16) {
		gen_iframe = l->gen_iframe_std;
		state = l->gen_frame_state_std ? l->gen_frame_state_std : PY_OFF_NONE;
	} else {
		gen_iframe = PY_OFF_NONE;
	}
	o->gen_iframe = (__u16)gen_iframe;
	o->gen_frame_state = (__u16)state;
	o->gen_state_created = l->gen_state_created;
	o->gen_state_done = l->gen_state_done;
	return 0;
}

/*
 * sys.modules, where thread names are found: published from 3.13 on, read
 * only where a row places it (3.13; 3.14+ name their OS threads after the
 * Python ones, which is what is shown there).
 */
static int dof_interp_modules(const struct dof_layout *l, const uint64_t v[DOF__NR],
			      struct py_offsets *o)
{
	uint64_t m = v[DOF_INTERP_IMPORTS_MODULES];

	o->interp_modules = PY_OFF_NONE;
	if (!l->pos[DOF_INTERP_IMPORTS_MODULES])
		return 0;
	if (m % 8 || m + 8 > v[DOF_INTERP_SIZE] || !fits16(m))
		return -EINVAL;
	o->interp_modules = (__u16)m;
	return 0;
}

/*
 * The value stack, for what a suspended coroutine awaits. 3.14+ publish the
 * stackpointer field; 3.13 has int stacktop right after instr_ptr
 * (pycore_frame.h), which we take only when localsplus sits where that
 * layout puts it (instr_ptr + 16).
 */
static void dof_value_stack(const struct dof_layout *l, const uint64_t v[DOF__NR],
			    struct py_offsets *o)
{
	uint64_t ls = v[DOF_FRAME_LOCALSPLUS], fsz = v[DOF_FRAME_SIZE];
	uint64_t sp = v[DOF_FRAME_STACKPOINTER];

	o->frame_stack = PY_OFF_NONE;
	o->frame_localsplus = PY_OFF_NONE;
	o->stack_kind = PY_STACK_NONE;
	if (!l->pos[DOF_FRAME_LOCALSPLUS] || ls % 8 || ls + 8 > fsz || !fits16(ls))
		return;
	if (l->pos[DOF_FRAME_STACKPOINTER]) {
		if (sp % 8 == 0 && sp + 8 <= fsz && sp < ls) {
			o->frame_stack = (__u16)sp;
			o->stack_kind = PY_STACK_POINTER;
		}
	} else if (ls == (uint64_t)o->frame_instr + 16) {
		o->frame_stack = o->frame_instr + 8;
		o->stack_kind = PY_STACK_TOP_INDEX;
	}
	if (o->stack_kind != PY_STACK_NONE)
		o->frame_localsplus = (__u16)ls;
}

int py_debug_offsets_parse(const void *buf, size_t len, struct py_offsets *out)
{
	const struct dof_layout *l = NULL;
	uint64_t v[DOF__NR] = {0}, hex = 0;
	struct py_offsets o;
	int ret;

	if (!buf || !out)
		return -EINVAL;
	ret = dof_header(buf, len, &l, &hex);
	if (!ret)
		ret = dof_fields(buf, l, v, &o);
	if (!ret)
		ret = dof_unicode(l, v, &o);
	if (!ret)
		ret = dof_gen_iframe(l, v, &o);
	if (!ret)
		ret = dof_interp_modules(l, v, &o);
	if (ret)
		return ret;
	dof_value_stack(l, v, &o);
	o.version = (__u32)(hex & 0xffffff00u);
	o.cframe_current_frame = PY_OFF_NONE; /* no _PyCFrame since 3.13 */
	o.frame_is_entry = PY_OFF_NONE;	       /* shim frames instead */
	o.instr_kind = PY_INSTR_PTR;
	o.frame_link = PY_LINK_DIRECT;
	o.owner_skip_min = l->owner_skip_min;
	o.code_tag_mask = l->code_tag_mask;
	*out = o;
	return 0;
}

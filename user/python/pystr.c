// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * str / bytes readers. Layout facts (all of 3.8-3.14, GIL builds):
 * PyASCIIObject.state is a 32-bit bitfield word: interned bits 0-1,
 * kind bits 2-4 (1, 2, 4 = bytes per code point; 0 = wchar-only legacy
 * string in 3.8-3.11), compact bit 5, ascii bit 6 (ready bit 7 in
 * <= 3.11). Compact ASCII data follows the PyASCIIObject, other compact
 * data follows the PyCompactUnicodeObject.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "python/pystr.h"

#define STATE_KIND(s) (((s) >> 2) & 7)
#define STATE_COMPACT(s) (((s) >> 5) & 1)
#define STATE_ASCII(s) (((s) >> 6) & 1)

#define CHUNK 512 /* bytes of string data per read */

static int do_read(py_read_fn rd, void *ctx, unsigned long long addr, void *buf, size_t len)
{
	int r;

	if (addr + len < addr)
		return -EFAULT; /* wraps the address space */
	r = rd(ctx, addr, buf, len);
	if (r > 0)
		r = -EIO;
	return r;
}

/* Encodes cp as UTF-8 into p if it fits in room bytes; returns bytes or 0. */
static size_t put_utf8(uint32_t cp, char *p, size_t room)
{
	if (cp >= 0xd800 && cp <= 0xdfff)
		cp = 0xfffd; /* lone surrogate: not encodable */
	if (cp > 0x10ffff)
		cp = 0xfffd;
	if (cp < 0x80) {
		if (room < 1)
			return 0;
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		if (room < 2)
			return 0;
		p[0] = (char)(0xc0 | (cp >> 6));
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		if (room < 3)
			return 0;
		p[0] = (char)(0xe0 | (cp >> 12));
		p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	if (room < 4)
		return 0;
	p[0] = (char)(0xf0 | (cp >> 18));
	p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int read_i64(py_read_fn rd, void *ctx, unsigned long long addr, int64_t *v)
{
	unsigned char b[8];
	int r = do_read(rd, ctx, addr, b, sizeof(b));

	if (!r)
		memcpy(v, b, sizeof(*v)); /* x86-64 target == host: little endian */
	return r;
}

int pystr_read(const struct py_offsets *o, py_read_fn rd, void *ctx, unsigned long long addr,
	       char *out, size_t outlen)
{
	unsigned char buf[CHUNK];
	uint32_t state;
	int64_t length;
	unsigned kind, ascii;
	unsigned long long data;
	size_t want, done = 0, w = 0;
	int r;

	if (!out || !outlen)
		return -EINVAL;
	out[0] = 0;
	if (!o || !rd || o->unicode_state == PY_OFF_NONE || o->unicode_length == PY_OFF_NONE ||
	    !o->ascii_size || o->ascii_size == PY_OFF_NONE || !o->compact_size ||
	    o->compact_size == PY_OFF_NONE)
		return -EINVAL;
	if (!addr)
		return -EFAULT;
	if (outlen > INT_MAX)
		outlen = (size_t)INT_MAX + 1; /* the return value must fit */

	r = do_read(rd, ctx, addr + o->unicode_state, &state, sizeof(state));
	if (r)
		return r;
	r = read_i64(rd, ctx, addr + o->unicode_length, &length);
	if (r)
		return r;
	if (!STATE_COMPACT(state))
		return -ENOTSUP;
	kind = STATE_KIND(state);
	ascii = STATE_ASCII(state);
	if (length < 0 || (kind != 1 && kind != 2 && kind != 4) || (ascii && kind != 1))
		return -EINVAL;

	data = addr + (ascii ? o->ascii_size : o->compact_size);
	/* Every code point takes >= 1 output byte: no need to read more. */
	want = (uint64_t)length < outlen - 1 ? (size_t)length : outlen - 1;
	while (done < want) {
		size_t n = want - done, i;

		if (n > CHUNK / kind)
			n = CHUNK / kind;
		r = do_read(rd, ctx, data + (unsigned long long)done * kind, buf, n * kind);
		if (r) {
			out[0] = 0;
			return r;
		}
		for (i = 0; i < n; i++) {
			uint32_t cp;
			size_t k;

			if (kind == 1) {
				cp = buf[i];
				if (ascii && cp >= 0x80)
					cp = 0xfffd;
			} else if (kind == 2) {
				cp = (uint32_t)buf[2 * i] | (uint32_t)buf[2 * i + 1] << 8;
			} else {
				cp = (uint32_t)buf[4 * i] | (uint32_t)buf[4 * i + 1] << 8 |
				     (uint32_t)buf[4 * i + 2] << 16 | (uint32_t)buf[4 * i + 3] << 24;
			}
			k = put_utf8(cp, out + w, outlen - 1 - w);
			if (!k) /* the next character does not fit: stop on a boundary */
				goto out;
			w += k;
		}
		done += n;
	}
out:
	out[w] = 0;
	return (int)w;
}

int pybytes_read(const struct py_offsets *o, py_read_fn rd, void *ctx, unsigned long long addr,
		 size_t max, unsigned char **out)
{
	int64_t size;
	size_t n;
	unsigned char *p;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!o || !rd || o->bytes_size == PY_OFF_NONE || o->bytes_data == PY_OFF_NONE)
		return -EINVAL;
	if (!addr)
		return -EFAULT;
	r = read_i64(rd, ctx, addr + o->bytes_size, &size);
	if (r)
		return r;
	if (size < 0)
		return -EINVAL;
	n = (uint64_t)size < max ? (size_t)size : max;
	if (n > INT_MAX)
		n = INT_MAX;
	p = malloc(n ? n : 1);
	if (!p)
		return -ENOMEM;
	if (n) {
		r = do_read(rd, ctx, addr + o->bytes_data, p, n);
		if (r) {
			free(p);
			return r;
		}
	}
	*out = p;
	return (int)n;
}

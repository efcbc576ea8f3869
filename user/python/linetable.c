// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Decoders for the three CPython line-table formats, following CPython's own
 * PyCode_Addr2Line() (Objects/codeobject.c of each version) but bounded:
 * every loop consumes at least one table byte per iteration, never reads at
 * or past len, and accumulates in 64 bits so hostile tables cannot overflow.
 */
#include <limits.h>
#include <stdint.h>

#include "python/linetable.h"

static int line_or_none(long long line)
{
	return line > 0 && line <= INT_MAX ? (int)line : -1;
}

/*
 * 3.8/3.9 co_lnotab: pairs (addr_incr u8, line_incr s8), addresses in bytes.
 * PyCode_Addr2Line: line = firstlineno + the line increments of every pair
 * whose cumulative address is <= addr. A trailing odd byte is ignored
 * (CPython uses size / 2 pairs).
 */
static int lnotab_line(const unsigned char *t, size_t len, int firstlineno,
		       unsigned long long addr)
{
	unsigned long long a = 0;
	long long line = firstlineno;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		a += t[i];
		if (a > addr)
			break;
		line += (signed char)t[i + 1];
	}
	return line_or_none(line);
}

/*
 * 3.10 co_linetable: pairs (sdelta u8, ldelta s8); each pair covers the
 * next sdelta bytes of code with line += ldelta, or no line when
 * ldelta == -128 (the running line is then left unchanged). Zero-length
 * ranges only carry line deltas. Addresses in bytes.
 */
static int linetable310_line(const unsigned char *t, size_t len,
			     int firstlineno, unsigned long long addr)
{
	unsigned long long start, end = 0;
	long long line = firstlineno, cur;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		start = end;
		end += t[i];
		if ((signed char)t[i + 1] == -128) {
			cur = -1;
		} else {
			line += (signed char)t[i + 1];
			cur = line;
		}
		if (addr >= start && addr < end)
			return line_or_none(cur);
	}
	return -1;
}

/*
 * Reads a location-table varint at t[*i..len): 6-bit chunks, least
 * significant first, bit 6 = more follows. Returns 0, or -1 when the table
 * ends inside it or it does not fit 32 bits (garbage).
 */
static int read_varint(const unsigned char *t, size_t len, size_t *i,
		       uint32_t *out)
{
	uint64_t val = 0;
	unsigned shift = 0;
	unsigned char b;

	do {
		if (*i >= len || shift > 30)
			return -1;
		b = t[(*i)++];
		val |= (uint64_t)(b & 63) << shift;
		shift += 6;
	} while (b & 64);
	if (val > UINT32_MAX)
		return -1;
	*out = (uint32_t)val;
	return 0;
}

/*
 * 3.11+ location table (Objects/locations.md): each entry starts with a
 * byte with bit 7 set; code = (b >> 3) & 15, the entry covers (b & 7) + 1
 * code units. Line delta by code: 15 none (no line); 14 (long form) and 13
 * (no columns) a signed varint (low bit = sign); 10-12 code - 10 (then two
 * column bytes); 0-9 zero (short form, one column byte). Entries are found
 * by skipping to the next byte with bit 7 set, as CPython's advance() does.
 * Addresses in code units.
 */
static int loctable_line(const unsigned char *t, size_t len, int firstlineno,
			 unsigned long long addr)
{
	unsigned long long start, end = 0;
	long long line = firstlineno;
	size_t i = 0, j;

	while (i < len) {
		unsigned char b = t[i];
		unsigned code = (b >> 3) & 15;
		long long delta = 0;

		if (!(b & 0x80))
			return -1; /* not an entry start: garbage */
		if (code == 13 || code == 14) {
			uint32_t u;

			j = i + 1;
			if (read_varint(t, len, &j, &u))
				return -1;
			delta = (u & 1) ? -(long long)(u >> 1) : (long long)(u >> 1);
		} else if (code >= 10 && code <= 12) {
			delta = code - 10;
		}
		line += delta;
		start = end;
		end += (b & 7) + 1;
		if (addr >= start && addr < end)
			return code == 15 ? -1 : line_or_none(line);
		/* next entry */
		for (i++; i < len && !(t[i] & 0x80); i++)
			;
	}
	return -1;
}

int py_line_for_instr(unsigned version, const unsigned char *table, size_t len,
		      int firstlineno, unsigned instr)
{
	unsigned major = (version >> 24) & 0xff, minor = (version >> 16) & 0xff;

	if (major != 3 || minor < 8)
		return -1;
	/* Not started yet (f_lasti == -1, prev_instr before the first unit). */
	if (instr & 0x80000000u)
		return line_or_none(firstlineno);
	if (!table)
		len = 0;
	if (minor <= 9)
		return lnotab_line(table, len, firstlineno, instr);
	if (minor == 10)
		return linetable310_line(table, len, firstlineno,
					 (unsigned long long)instr * 2);
	return loctable_line(table, len, firstlineno, instr);
}

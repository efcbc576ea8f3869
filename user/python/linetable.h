/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Instruction offset -> source line, for CPython 3.8+ line tables. */
#ifndef PYROGRAPH_LINETABLE_H
#define PYROGRAPH_LINETABLE_H

#include <stddef.h>

/*
 * Line executing at instruction offset `instr` (as emitted by the walker:
 * bytes for 3.8/3.9 f_lasti, code units for 3.10's f_lasti, code units for
 * 3.11+ where instr = (ip - co_code_adaptive)/2).
 * version is (major<<24)|(minor<<16)|...; table/len the raw
 * co_lnotab/co_linetable bytes; returns the line (>0), or -1 if
 * none/garbage. Must terminate on any input (bounded loops, no reads past
 * len).
 *
 * The result is what CPython's own PyFrame_GetLineNumber() reports for a
 * frame stopped at that instruction, i.e. PyCode_Addr2Line(code, addr) with
 *   3.8/3.9:  addr = f_lasti                       (bytes)
 *   3.10:     addr = f_lasti * 2                   (f_lasti: code units)
 *   3.11/12:  addr = (prev_instr - _PyCode_CODE(co)) * 2
 *   3.13+:    addr = (instr_ptr  - _PyCode_CODE(co)) * 2
 * so `instr` is looked up as is, without any +1/-1 adjustment: on
 * 3.8-3.12 it designates the last instruction started (f_lasti /
 * prev_instr), on 3.13+ the one executing or about to (instr_ptr), and in
 * both cases CPython attributes the frame to that instruction's line.
 * An instr with the top bit set (a signed -1: f_lasti == -1, or
 * prev_instr == first instruction - 1, i.e. a frame that has not started)
 * maps to firstlineno, like PyCode_Addr2Line(co, negative).
 * Past the end of the table: 3.8/3.9 give the last line (as CPython does),
 * 3.10+ give -1. Where CPython would answer a line <= 0 (3.11+ encode the
 * RESUME of module code at line 0) the answer is -1.
 */
int py_line_for_instr(unsigned version, const unsigned char *table, size_t len,
		      int firstlineno, unsigned instr);

#endif /* PYROGRAPH_LINETABLE_H */

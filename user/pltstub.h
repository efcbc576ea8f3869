/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_PLTSTUB_H
#define PYROGRAPH_PLTSTUB_H

#include <libelf.h>

/*
 * The file offset of the PLT stub through which an x86-64 ELF calls the
 * imported function sym: a uprobe there sees exactly this object's calls
 * (async probes _asyncio's calls of PyIter_Send, which are the task steps,
 * and not the interpreter's own). The stub is found by decoding each 16-byte
 * .plt / .plt.sec entry's `jmp *GOT(%rip)` and matching its GOT slot with
 * sym's JUMP_SLOT relocation, so the probe lands on an instruction boundary
 * we have checked. Returns 0, -ENOENT (no such import, or no PLT call: e.g.
 * built with -fno-plt), or -EINVAL for a malformed file.
 */
int plt_stub_offset(Elf *elf, const char *sym, unsigned long long *file_off);

#endif

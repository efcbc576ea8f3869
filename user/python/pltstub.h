/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_PLTSTUB_H
#define PYROGRAPH_PLTSTUB_H

#include <gelf.h>

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

/*
 * The call instructions (e8 rel32) in sym's importer that call it through
 * its PLT stub, as file offsets (at most max; returns how many, or -errno).
 * A uprobe on a `call rel32` is emulated by the kernel, while one on the
 * stub's indirect jump is single-stepped: a second trap, several times the
 * cost in a VM. Found by scanning the executable sections for e8 bytes
 * whose rel32 lands exactly on the stub; a match inside another
 * instruction would need those 4 bytes to hit that one address by chance
 * (about 2^-32 per e8 byte), and more matches than max make the caller
 * fall back to the stub.
 */
int plt_call_sites(Elf *elf, const char *sym, unsigned long long *off,
		   int max);

/* The address of function sym as elf exports it (.dynsym), 0 if none. */
GElf_Addr elf_exported(Elf *elf, const char *sym);

/*
 * The call instructions (e8 rel32) of the function callee, which code
 * exports, made from inside the function caller: its symbol, its clones
 * and its parts ("caller.lto_priv.0", "caller.lto_priv.0.cold"), looked up
 * in syms (code itself when it has a .symtab, else its separate debug
 * file). For a module linked into the interpreter, with no PLT of its own:
 * async probes the calls of PyIter_Send in _asyncio's task_step_impl. File
 * offsets of code, at most max; returns how many, or -errno (-ENOENT: no
 * such symbol or call).
 */
int elf_calls_from(Elf *code, Elf *syms, const char *caller,
		   const char *callee, unsigned long long *off, int max);

#endif

# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""ELF seeds for fuzz_elf, written byte by byte: small x86-64 files with what
elffacts.c and pltstub.c look for - a PT_LOAD, symbol tables naming
_PyRuntime (in a .PyRuntime section holding _Py_DebugOffsets), Py_Version
and, for a debug build, _Py_RefTotal; a JUMP_SLOT relocation of
PyIter_Send, its PLT stub (.plt, or .plt.sec with IBT, with and without the
bnd prefix) and calls to it from .text. Real libraries are added whole to
the working corpus by scripts/fuzz.sh."""
import struct

from corpus_image import debug_offsets_blob

SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_DYNSYM = 1, 2, 3, 4, 11
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR, SHF_INFO_LINK = 1, 2, 4, 0x40
R_X86_64_JUMP_SLOT = 7


class Strtab:
    def __init__(self):
        self.data = b"\0"

    def add(self, s):
        off = len(self.data)
        self.data += s.encode() + b"\0"
        return off


def sym(name, value=0, size=0, info=0, shndx=0):
    return struct.pack("<IBBHQQ", name, info, 0, shndx, value, size)


def elf(kind, minor, plt, debug_build):
    """kind: 'dyn' or 'exec'; plt: 'plt', 'plt.sec' or 'plt.sec-bnd'."""
    base = 0x400000 if kind == "exec" else 0
    names = Strtab()
    secs = []  # [name, type, flags, data, link, info, align, entsize]

    def section(name, typ, flags, data=b"", link=0, info=0, align=8, entsize=0):
        secs.append([names.add(name), typ, flags, data, link, info, align, entsize])
        return len(secs)  # index, counting the null section

    # indices are fixed up front: sections refer to each other
    i_text, i_plt, i_got, i_dynsym, i_dynstr, i_rela, i_rt, i_symtab, i_strtab = range(1, 10)
    layout = {}
    off = 64 + 56  # ELF header, one program header

    def place(idx, size, align):
        nonlocal off
        off = (off + align - 1) // align * align
        layout[idx] = off
        off += size

    text_size, plt_entries = 32, 2
    place(i_text, text_size, 16)
    place(i_plt, 16 * plt_entries, 16)
    place(i_got, 8 * 4, 8)
    slot = base + layout[i_got] + 24
    stub = base + layout[i_plt] + 16  # the entry after PLT0

    # .text: two calls to the stub, then ret
    text = bytearray(b"\x90" * text_size)
    for at in (4, 12):
        struct.pack_into("<Bi", text, at, 0xe8, stub - (base + layout[i_text] + at + 5))
    text[20] = 0xc3
    # the stub: jmp *slot(%rip), as each PLT flavour spells it
    entry = bytearray(b"\xcc" * 16)
    if plt == "plt":
        entry[0:2] = b"\xff\x25"
        at = 2
    elif plt == "plt.sec-bnd":
        entry[0:7] = b"\xf3\x0f\x1e\xfa\xf2\xff\x25"
        at = 7
    else:
        entry[0:6] = b"\xf3\x0f\x1e\xfa\xff\x25"
        at = 6
    struct.pack_into("<i", entry, at, slot - (stub + at + 4))
    plt_data = b"\xff\x35\0\0\0\0\xff\x25\0\0\0\0\x0f\x1f\x40\x00" + bytes(entry)
    dynstr = Strtab()
    dynsym = sym(0) + sym(dynstr.add("PyIter_Send"), info=0x12)  # GLOBAL FUNC, undefined
    rela = struct.pack("<QQq", slot, 1 << 32 | R_X86_64_JUMP_SLOT, 0)
    runtime = debug_offsets_blob(minor) if minor >= 13 else bytes(64)
    place(i_dynsym, len(dynsym), 8)
    place(i_dynstr, len(dynstr.data), 1)
    place(i_rela, len(rela), 8)
    place(i_rt, len(runtime) + 8, 32)
    rt_addr = base + layout[i_rt]
    strtab = Strtab()
    symtab = sym(0) + sym(strtab.add("_PyRuntime"), rt_addr, len(runtime), 0x11, i_rt)
    symtab += sym(strtab.add("Py_Version"), rt_addr + len(runtime), 4, 0x11, i_rt)
    if debug_build:
        symtab += sym(strtab.add("_Py_RefTotal"), rt_addr + len(runtime) + 4, 4, 0x11, i_rt)
    symtab += sym(strtab.add("PyIter_Send"), 0, 0, 0x12, 0)
    place(i_symtab, len(symtab), 8)
    place(i_strtab, len(strtab.data), 1)
    version = {13: 0x030d05f0, 14: 0x030e0af0, 15: 0x030f02f0}.get(minor, 0x030c01f0)
    runtime += struct.pack("<I", version) + bytes(4)

    plt_name = ".plt" if plt == "plt" else ".plt.sec"
    section(".text", SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, bytes(text), align=16)
    section(plt_name, SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, plt_data, align=16, entsize=16)
    section(".got.plt", SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, bytes(32))
    section(".dynsym", SHT_DYNSYM, SHF_ALLOC, dynsym, link=i_dynstr, info=1, entsize=24)
    section(".dynstr", SHT_STRTAB, SHF_ALLOC, dynstr.data, align=1)
    section(".rela.plt", SHT_RELA, SHF_ALLOC | SHF_INFO_LINK, rela, link=i_dynsym,
            info=i_got, entsize=24)
    section(".PyRuntime", SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, runtime, align=32)
    section(".symtab", SHT_SYMTAB, 0, symtab, link=i_strtab, info=1, entsize=24)
    section(".strtab", SHT_STRTAB, 0, strtab.data, align=1)
    i_shstr = section(".shstrtab", SHT_STRTAB, 0, b"", align=1)
    secs[-1][3] = names.data
    place(i_shstr, len(names.data), 1)
    shoff = (off + 7) // 8 * 8
    nsec = len(secs) + 1

    out = bytearray(shoff + 64 * nsec)
    struct.pack_into("<4sBBBBB7xHHIQQQIHHHHHH", out, 0, b"\x7fELF", 2, 1, 1, 0, 0,
                     2 if kind == "exec" else 3, 62, 1, base + layout[i_text], 64, shoff,
                     0, 64, 56, 1, 64, nsec, i_shstr)
    # one PT_LOAD over the whole file, RWX for simplicity
    struct.pack_into("<IIQQQQQQ", out, 64, 1, 7, 0, base, base, shoff, shoff, 0x1000)
    for idx, (name, typ, flags, data, link, info, align, entsize) in enumerate(secs, 1):
        o = layout[idx]
        out[o:o + len(data)] = data
        addr = base + o if flags & SHF_ALLOC else 0
        struct.pack_into("<IIQQQQIIQQ", out, shoff + 64 * idx, name, typ, flags, addr, o,
                         len(data), link, info, align, entsize)
    return bytes(out)


def elf_seeds():
    return {
        "dyn-plt-3.13": elf("dyn", 13, "plt", False),
        "exec-pltsec-bnd-3.14d": elf("exec", 14, "plt.sec-bnd", True),
        "dyn-pltsec-3.15": elf("dyn", 15, "plt.sec", False),
        "dyn-plt-3.12": elf("dyn", 12, "plt", False),
    }

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Dump the raw memory of real str and bytes objects for test_pystr.c.

Each object is copied with ctypes.string_at(id(obj), sys.getsizeof(obj))
(header and inline data of a compact str / a bytes object), together with
what pystr_read() / pybytes_read() must return for it.

Output: OUTDIR/pystr-X.Y.Z-{pyenv,debian}.txt, text lines:
  python <version> <sys.executable>
  version <hex of (major<<24)|(minor<<16)|(micro<<8)>
  str <name> <expected UTF-8 as hex, '-' if empty, or ENOTSUP> <object hex>
  bytes <name> <expected content hex or '-'> <object hex>

Usage: python3.X dump_pyobjects.py OUTDIR
"""
import ctypes
import os
import sys


class S(str):
    """str subclass: its instances are not compact (data behind a pointer)."""


def some_function_name():
    pass


STRS = [
    ("empty", ""),
    ("ascii", "hello world"),
    ("interned", some_function_name.__code__.co_name),
    ("ascii_long", "abcdefghij" * 60),          # > one 512-byte read chunk
    ("latin1", "caf\xe9 na\xefve \xff"),
    ("latin1_long", "\xe9" * 300),
    ("bmp", "\u20acuro \u2211 \u65e5\u672c\u8a9e \u2500"),
    ("bmp_long", "\u65e5\u672c" * 150),
    ("astral", "\U0001f600 \U0001d11e x"),
    ("astral_long", "\U0001f600a" * 100),
    ("surrogate2", "a\ud800b\udfff"),            # kind 2, lone surrogates
    ("surrogate4", "\U0001f600\udbff\udc00"),    # kind 4, lone surrogates
    ("max", "\uffff\U0010ffff"),
    ("nul", "a\x00b"),
]

BYTES = [
    ("empty", b""),
    ("binary", b"\x00\x01binary\xff"),
    ("long", bytes(range(256)) * 2),
]


def expect_utf8(s):
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in s).encode("utf-8")


def raw(obj):
    return ctypes.string_at(id(obj), sys.getsizeof(obj)).hex()


def main():
    outdir = sys.argv[1]
    v = sys.version_info
    tag = "debian" if sys.executable.startswith("/usr/bin/") else "pyenv"
    path = os.path.join(outdir, "pystr-%d.%d.%d-%s.txt" % (v[0], v[1], v[2], tag))
    out = ["python %d.%d.%d %s" % (v[0], v[1], v[2], sys.executable),
           "version 0x%08x" % ((v[0] << 24) | (v[1] << 16) | (v[2] << 8))]
    for name, s in STRS:
        e = expect_utf8(s)
        out.append("str %s %s %s" % (name, e.hex() if e else "-", raw(s)))
    sub = S("subclass")
    # Only the header matters (the data is elsewhere): keep the dump short.
    out.append("str subclass ENOTSUP %s" % ctypes.string_at(id(sub), 96).hex())
    for name, b in BYTES:
        out.append("bytes %s %s %s" % (name, b.hex() if b else "-", raw(b)))
    with open(path, "w") as fp:
        fp.write("\n".join(out) + "\n")
    print("%s: %d objects" % (path, len(out) - 2))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Writes the fuzzers' seed corpora, tests/fuzz/corpus/<fuzzer>/<seed>, as
bytes: at least one seed per record kind each fuzzer parses, so libFuzzer
starts inside its target instead of at the parser's front door.

    tests/fuzz/make_corpus.py [--check]

--check compares instead of writing (tests/test_fuzz.py runs it: the
committed seeds are what this script makes). The layouts come from the
sources (user/python/pyversions.c, user/python/debug_offsets.c) and the
unit tests' data (line tables, str objects of real interpreters); the
3.13-3.15 _Py_DebugOffsets values were measured on Debian's builds (below).
Real files (libraries, interpreters) are added at run time by
scripts/fuzz.sh, into the working corpus, whole.
"""
import binascii
import gzip
import os
import re
import struct
import sys

from corpus_elf import elf_seeds
from corpus_image import debug_offsets_blob, image_seeds, pystr_seeds

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus")
DATA = os.path.join(ROOT, "tests", "unit", "data")


# ---- records of the report fuzzers: kind byte, 8 number bytes, text ----

def record(kinds, kind, number, text=b""):
    """One line of fuzz_asyncrep/memrep/metrics: a kind byte that is kind
    modulo kinds and printable, then the 8 bytes of number (none of them
    NUL or newline, which would end the line early), then text."""
    k = next(c for c in range(0x41, 0x7f) if c % kinds == kind)
    raw = struct.pack("<Q", number)
    assert 0 not in raw and 10 not in raw, (kind, hex(number))
    assert b"\n" not in text, text
    return bytes([k]) + raw + text + b"\n"


def fields(*parts, fill=0x0101010101010101):
    """A 64-bit number from (shift, width, value) parts over a filler whose
    bytes are all non-zero (the bits no part sets). A byte that comes out
    NUL or newline is nudged (0 -> 1, 10 -> 11): the values are examples,
    what matters is that every field is set."""
    v = fill
    for shift, width, value in parts:
        mask = ((1 << width) - 1) << shift
        v = (v & ~mask) | ((value << shift) & mask)
    raw = bytes({0: 1, 10: 11}.get(b, b) for b in struct.pack("<Q", v))
    return struct.unpack("<Q", raw)[0]


ASYNC_STACK = (b"app (1);<module> (/a.py:3);run (/usr/lib/python3.11/asyncio/runners.py:190);"
               b"Handle._run (/usr/lib/python3.11/asyncio/events.py:80);sleepy (/a.py:18)")


def asyncrep():
    r = lambda k, v, t=b"": record(7, k, v, t)  # noqa: E731
    seed = b"".join([
        # 0: a stack in a stall (pid 1, tid 1, flag 32: off-CPU)
        r(0, fields((0, 2, 1), (2, 3, 1), (5, 1, 1), (8, 24, 150000), (32, 32, 0x01020304)),
          ASYNC_STACK + b";[sleep]"),
        r(0, fields((0, 2, 1), (2, 3, 1), (5, 1, 0), (8, 24, 90000), (32, 32, 0x05060708)),
          b"app (1);<module> (/a.py:3);crunch (/a.py:30)"),
        # 1: a stall: pid, tid, duration, when, off-CPU part
        r(1, fields((0, 2, 1), (2, 3, 1), (8, 24, 0x30201), (32, 8, 3), (40, 24, 0x10101))),
        # 2: a task step of coroutine TEXT
        r(2, fields((0, 2, 1), (4, 8, 3), (16, 48, 0x0102030405)), b"ticker (/a.py:54)"),
        # 3: a resume at an await site (an await chain)
        r(3, fields((0, 2, 1), (4, 8, 5), (16, 48, 0x0203040506)),
          b"seq (/a.py:49);fetch_user (/a.py:38)"),
        r(3, fields((0, 2, 1), (4, 8, 5), (16, 48, 0x0304050607)),
          b"seq (/a.py:50);fetch_orders (/a.py:43)"),
        # 4: a loop's histogram
        r(4, fields((0, 2, 1), (2, 3, 2), (48, 16, 0x0909)), b"python3"),
        # 5: a process
        r(5, fields((0, 2, 1), (2, 1, 1)), b"python3 app.py"),
        # 6: source lines for the gather hint
        r(6, fields(), b"a, b = await x(), await y()"),
    ])
    return {"records": seed}


def memrep():
    r = lambda k, v, t=b"": record(7, k, v, t)  # noqa: E731
    stack = b"app (1);<module> (/a.py:3);leaky (/a.py:12)"
    churn = b"app (1);<module> (/a.py:3);churn (/a.py:20)"
    seed = b"".join([
        r(0, fields((0, 2, 1), (8, 8, 0x83)), b"app.py"),                       # process
        r(1, fields((0, 2, 1), (8, 32, 0x101), (40, 24, 0x10101)), stack),     # growth
        r(1, fields((0, 2, 1), (8, 32, 0xfffffff1), (40, 24, 0x20101)), churn),  # shrink
        r(2, fields((0, 2, 1), (8, 8, 2), (16, 32, 0x01050101), (48, 16, 0x0101)),
          b"app (1);full (/a.py:9)"),                                         # gc pause
        r(2, fields((0, 2, 1), (8, 8, 0xff), (16, 32, 0x01010101), (48, 16, 0xfff1)),
          b"app (1);young (/a.py:5)"),                                        # odd gen
        r(3, fields((0, 2, 1), (8, 56, 0x0101010101)), b"app (1);alloc (/a.py:5)"),  # alloc
        r(4, fields((0, 2, 1), (8, 32, 0x01010101), (40, 24, 0x30101))),      # rss
        r(5, fields((0, 2, 1), (8, 8, 7), (16, 24, 0x010201), (40, 24, 0x10101)), stack),
        r(5, fields((0, 2, 1), (8, 8, 9), (16, 24, 0x020101), (40, 24, 0x10201)), churn),
        r(6, fields((0, 2, 1), (8, 8, 9), (40, 24, 0x10301))),                # free
        r(6, fields((0, 2, 1), (8, 8, 200), (40, 24, 0x10401))),              # unknown free
    ])
    return {"records": seed}


def metrics():
    r = lambda k, v, t=b"": record(9, k, v, t)  # noqa: E731
    seed = b"".join([
        r(0, fields((0, 2, 1)), b"app"),                                      # process
        r(1, fields((0, 2, 1), (2, 1, 1), (8, 8, 2), (16, 48, 0x01020304))),  # gc
        r(2, fields((0, 2, 1), (8, 5, 3), (32, 32, 0x01050101))),             # loop
        r(3, fields((0, 2, 1), (8, 5, 3), (16, 48, 0x0801020304))),           # stall
        r(4, fields((0, 2, 1), (8, 5, 3), (16, 48, 0x01020304)), b"sleep"),   # blocking
        r(5, fields((0, 2, 1), (8, 56, 0x01020304)), b"fetch (/a.py:4)"),     # await
        r(6, fields((0, 2, 1), (8, 32, 0x01010101), (32, 32, 0x0503))),       # usage
        r(5, fields((0, 2, 2), (8, 56, 0x01020304)), b"other (/b.py:9)"),
        r(7, fields((0, 2, 2))),                                              # forget
        r(8, fields((0, 6, 9)), b'a"b\\c\xc3\xa9'),                           # label value
    ])
    return {
        "records": seed,
        "request-get": b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        "request-head10": b"HEAD /metrics HTTP/1.0\r\n\r\n",
        "request-post": b"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
    }


# ---- frames, folded files, pprof ----

def frames():
    texts = [b"[sleep]", b"read_[k]", b"container 3f2a9c0b1d2e", b"cgroup /system.slice/x",
             b"python3 app.py (1234)", b"python3 app.py (1234/1)", b"thread main (45)",
             b"PyObject_Call [libpython3.11.so.1.0]", b"__vdso_time [[vdso]]",
             b"Handler.run (/usr/lib/python3.11/socketserver.py:12)",
             b"fetch (/srv/app/.venv/lib/python3.11/site-packages/x/y.py:3)",
             b"<module> (/a.py)", b"f (<dynamic>:2)"]
    out = {}
    for i, t in enumerate(texts):
        out["frame%02d-root" % i] = b"\x01" + t
        out["frame%02d" % i] = b"\x00" + t
    return out


FOLDED_BEFORE = (b"python3 a.py (1);<module> (/a.py:3);f (/a.py:9) 50\n"
                 b"python3 a.py (1);g (/a.py:5) 20\n"
                 b"container 3f2a9c0b1d2e;python3 b.py (7/1);thread w (8);h [libc.so.6] 4\n")
FOLDED_AFTER = (b"python3 a.py (2);<module> (/a.py:3);f (/a.py:9) 90\n"
                b"thread w (3);h [libc.so.6] 4\nnot a line\n")


def varint(v):
    out = b""
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb(field, value):
    """One protobuf field: an int (varint), bytes (length-delimited) or a
    list of ints (packed)."""
    if isinstance(value, int):
        return varint(field << 3) + varint(value)
    if isinstance(value, list):
        value = b"".join(varint(x) for x in value)
    return varint(field << 3 | 2) + varint(len(value)) + value


def pprof_profile():
    """A profile as pyrograph writes one: two samples with their labels,
    functions with files, a location with two lines (an inlined frame)."""
    strings = [b"", b"samples", b"count", b"cpu", b"nanoseconds", b"pid", b"process",
               b"thread", b"tid", b"container", b"python3 a.py", b"main", b"3f2a9c0b1d2e",
               b"<module>", b"/a.py", b"f", b"g"]
    s = {x: i for i, x in enumerate(strings)}
    msg = pb(1, pb(1, s[b"samples"]) + pb(2, s[b"count"]))
    msg += pb(1, pb(1, s[b"cpu"]) + pb(2, s[b"nanoseconds"]))
    for i, (labels, locs, value) in enumerate((
            ([(b"pid", None, 1234), (b"process", b"python3 a.py", None),
              (b"thread", b"main", None), (b"tid", None, 1234)], [2, 1], 50),
            ([(b"container", b"3f2a9c0b1d2e", None), (b"pid", None, 7),
              (b"process", b"python3 a.py", None)], [3, 1], 20))):
        body = pb(1, locs) + pb(2, [value, value * 10000000])
        for k, sv, nv in labels:
            lab = pb(1, s[k]) + (pb(2, s[sv]) if sv else pb(3, nv))
            body += pb(3, lab)
        msg += pb(2, body)
    for fid, name, line in ((1, b"<module>", 3), (2, b"f", 9), (3, b"g", 5)):
        msg += pb(5, pb(1, fid) + pb(2, s[name]) + pb(3, s[name]) + pb(4, s[b"/a.py"]))
    msg += pb(4, pb(1, 1) + pb(4, pb(1, 1) + pb(2, 3)))
    msg += pb(4, pb(1, 2) + pb(4, pb(1, 2) + pb(2, 9)) + pb(4, pb(1, 3) + pb(2, 11)))
    msg += pb(4, pb(1, 3) + pb(4, pb(1, 3) + pb(2, 5)))
    msg += b"".join(pb(6, x) for x in strings)
    msg += pb(9, 1700000000000000000) + pb(10, 2000000000)
    msg += pb(11, pb(1, s[b"cpu"]) + pb(2, s[b"nanoseconds"])) + pb(12, 10000000)
    return msg


def diffrep():
    return {
        "folded": FOLDED_BEFORE + b"\0" + FOLDED_AFTER,
        # a gzipped pprof as BEFORE (the reader starts on 0x1f), folded AFTER
        "pprof-folded": gzip.compress(pprof_profile(), mtime=0) + b"\0" + FOLDED_AFTER,
    }


def pprof():
    whole = pprof_profile()
    return {"profile": whole,
            # packed and unpacked location ids, a sample without labels
            "unpacked": pb(6, b"") + pb(6, b"x") + pb(5, pb(1, 1) + pb(2, 1)) +
            pb(4, pb(1, 1) + pb(4, pb(1, 1) + pb(2, 1))) + pb(2, pb(1, 1) + pb(1, 1) + pb(2, 3))}


# ---- procfs texts ----

ID = b"3f2a9c0b1d2e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f90"


def containers():
    """fuzz_containers takes its whole input as each kind of file: the
    runtimes' state files of the unit tests (docker, containerd, cri-o,
    podman, their configuration), /proc/PID/cgroup of each runtime, and
    root frames naming a container."""
    out = {}
    base = os.path.join(DATA, "containers")
    for d, _, files in sorted(os.walk(base)):
        for f in sorted(files):
            if f.endswith((".json", ".conf")):
                rel = os.path.relpath(os.path.join(d, f), base)
                name = re.sub(r"[0-9a-f]{64}", lambda m: m.group(0)[:12], rel)
                out["state-" + re.sub(r"[^\w.-]", "_", name)] = \
                    open(os.path.join(d, f), "rb").read()
    out.update({
        "cgroup-docker-v2": b"0::/system.slice/docker-" + ID + b".scope\n",
        "cgroup-docker-v1": b"12:pids:/docker/" + ID + b"\n11:memory:/docker/" + ID +
                            b"\n1:name=systemd:/docker/" + ID + b"\n0::/\n",
        "cgroup-containerd": b"0::/kubepods.slice/kubepods-burstable.slice/"
                             b"kubepods-burstable-pod1234.slice/cri-containerd-" + ID + b".scope\n",
        "cgroup-kubepods-v1": b"4:cpu,cpuacct:/kubepods/burstable/pod1234-5678/" + ID + b"\n",
        "cgroup-crio": b"0::/machine.slice/crio-" + ID + b".scope\n",
        "cgroup-podman": b"0::/user.slice/user-1000.slice/user@1000.service/"
                         b"user.slice/libpod-" + ID + b".scope/container\n",
        "cgroup-libpod-parent": b"1:name=systemd:/libpod_parent/" + ID + b"\n",
        "cgroup-plain": b"0::/user.slice/user-1000.slice/session-2.scope\n",
        "cgroup-root": b"0::/\n",
        "cgroup-upper-hex": b"0::/docker/" + ID.upper() + b"\n",
        "label-pod": b"pod batch/jobs-7f9c4d8b5-q8w2e container worker (d8328e7459d8, python:3.12)",
        "label-name": b"container web (3f2a9c1b2d4e, python:3.13-slim)",
        "label-id": b"container 3f2a9c1b2d4e",
    })
    return out


def maps():
    return {"maps": (
        b"55d0c0a00000-55d0c0a2d000 r--p 00000000 08:01 1053231 /usr/bin/python3.11\n"
        b"55d0c0a2d000-55d0c0d3c000 r-xp 0002d000 08:01 1053231 /usr/bin/python3.11\n"
        b"7f1e2c000000-7f1e2c021000 rw-p 00000000 00:00 0 \n"
        b"7f1e2d1a2000-7f1e2d1c8000 r-xp 00028000 fd:00 262152 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
        b"7f1e2d300000-7f1e2d301000 r-xp 00000000 08:01 99 /tmp/a file with spaces.so (deleted)\n"
        b"7ffd8a5e2000-7ffd8a603000 rw-p 00000000 00:00 0                          [stack]\n"
        b"7ffd8a7d1000-7ffd8a7d3000 r-xp 00000000 00:00 0                          [vdso]\n"
        b"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n"),
        "short": b"1-2 r 0 0:0 0",
    }


# ---- line tables and _Py_DebugOffsets ----

def linetables():
    """One seed per case of the unit tests' line tables (3.8-3.13 as the
    interpreters wrote them), the 3.13 ones again as 3.14 and 3.15 (same
    format): version byte, first line, instruction offset, table."""
    out = {}
    for path in sorted(os.listdir(DATA)):
        m = re.match(r"linetable-3\.(\d+)\.\d+-(\w+)\.txt$", path)
        if not m:
            continue
        minor = int(m.group(1))
        first, case = 1, None
        for line in open(os.path.join(DATA, path)):
            parts = line.split()
            if parts[:1] == ["case"]:
                case, first = parts[1], int(parts[2])
            elif parts[:1] == ["table"] and len(parts) == 2:
                table = b"" if parts[1] == "-" else binascii.unhexlify(parts[1])
                for m2 in ([minor] + ([14, 15] if minor == 13 else [])):
                    for instr in (0, len(table) // 3):
                        name = "%d-%s-%s-%d" % (m2, m.group(2), re.sub(r"\W", "_", case), instr)
                        out[name] = bytes([m2 - 8]) + struct.pack("<iI", first, instr) + table
    return out


def debug_offsets():
    out = {}
    for minor in (13, 14, 15):
        blob = debug_offsets_blob(minor)
        out["3.%d" % minor] = blob
        out["3.%d-free-threaded" % minor] = blob[:16] + struct.pack("<Q", 1) + blob[24:]
    out["3.12-cookie"] = debug_offsets_blob(13)[:8] + struct.pack("<Q", 0x030c01f0) + \
        bytes(16)
    return out


def asyncio_offsets():
    """The AsyncioDebug sections of Debian's 3.14.10 _asyncio and 3.15.2
    binary (13 uint64_t, read with objcopy), after the minor byte."""
    sections = {
        14: (168, 136, 96, 108, 109, 128, 152, 225864, 10880, 936, 864, 872, 880),
        15: (168, 136, 96, 108, 109, 128, 152, 226240, 10856, 1104, 1024, 1032, 1048),
    }
    return {"debian-3.%d" % m: bytes([m]) + struct.pack("<13Q", *v) for m, v in sections.items()}


def elf():
    return elf_seeds()


def pystr():
    return pystr_seeds(DATA)


def pystack():
    return image_seeds(DATA)


def image311(img):
    """Writers into img, a fake 3.11 address space for the object readers'
    fuzzers (pythreads, pytasks): a u64, a compact ASCII str, a dict's keys
    object and a dict pointing at it."""
    def q(off, v):
        struct.pack_into("<Q", img, off, v)

    def s(off, text):  # compact ASCII str, 3.11 (PyASCIIObject is 48 bytes)
        q(off + 16, len(text))
        struct.pack_into("<I", img, off + 32, 0x64)
        img[off + 48:off + 48 + len(text)] = text.encode()

    def keys(off, kind, entries):  # log2 size 3, 8 one-byte indices
        img[off + 8:off + 11] = bytes([3, 3, kind])
        q(off + 24, len(entries))
        esz = 16 if kind else 24
        for i, (k, v) in enumerate(entries):
            q(off + 40 + i * esz + (0 if kind else 8), k)
            if v is not None:
                q(off + 40 + i * esz + (8 if kind else 16), v)

    def dict_(off, k):
        q(off + 8, 0x900)
        q(off + 16, 1)
        q(off + 32, k)
    return q, s, keys, dict_


def pythreads():
    """A 3.11 process with one thread, 'alpha' (tid 1234), laid out as
    user/python/pythreads.c reads it (see tests/fuzz/fuzz_pythreads.c)."""
    B = 0x10000000
    img = bytearray(0x1a00)
    q, s, keys, dict_ = image311(img)
    q(40, B + 0x100)                      # runtime -> interpreters.head
    q(0x100 + 64, B + 0x200)              # interp -> modules
    dict_(0x200, B + 0x300); keys(0x300, 1, [(B + 0x400, B + 0x500)]); s(0x400, "threading")
    q(0x500 + 16, B + 0x600)              # module -> md_dict
    dict_(0x600, B + 0x700); keys(0x700, 1, [(B + 0x800, B + 0xa00)]); s(0x800, "_active")
    dict_(0xa00, B + 0xb00); keys(0xb00, 0, [(B + 0xc00, B + 0xd00)])
    q(0x1800 + 168, 1 << 24)              # int's type: Py_TPFLAGS_LONG_SUBCLASS
    q(0xc00 + 8, B + 0x1800); q(0xc00 + 16, 2); struct.pack_into("<II", img, 0xc00 + 24, 0x2b80, 0x1fc5)
    q(0xd00 - 32, B + 0x1400)             # managed values, 3.11
    q(0xd00 + 8, B + 0xe00)               # Thread -> its type
    q(0xe00 + 32, 24); q(0xe00 + 168, 1 << 4); q(0xe00 + 872, B + 0x1300)
    keys(0x1300, 2, [(B + 0x1500, None), (B + 0x1580, None)])
    q(0x1400, B + 0x1600); q(0x1408, B + 0x1700)
    s(0x1500, "_name"); s(0x1580, "_native_id"); s(0x1600, "alpha")
    q(0x1700 + 8, B + 0x1800); q(0x1700 + 16, 1); struct.pack_into("<I", img, 0x1700 + 24, 1234)
    return {"3.11-alpha": bytes([3, 0]) + bytes(img)}


def pytasks():
    """A 3.11 process with two asyncio tasks, 'parent' awaiting 'leaf' whose
    coroutine awaits another, laid out as user/python/pytasks.c reads them
    (see tests/fuzz/fuzz_pytasks.c: sys.modules at interp + 64)."""
    B = 0x10000000
    img = bytearray(0x2000)
    q, s, keys, dict_ = image311(img)
    def type_(off, name_at, name, flags=0, cached_keys=0):  # tp_name: a C string
        q(off + 24, B + name_at); img[name_at:name_at + len(name)] = name.encode()
        q(off + 168, flags); q(off + 872, cached_keys)
    def task(off, name_at, coro, waiter):
        q(off + 8, B + 0x1600); q(off + 16, B + 0x40)          # type, loop
        q(off + 128, waiter); q(off + 136, coro); q(off + 144, B + name_at)
    def coro_(off, state, code, awaits=0):
        q(off + 8, B + 0x1e00); img[off + 75] = state & 0xff  # gi_frame_state
        q(off + 80 + 32, code)                                  # iframe.f_code
        if awaits:
            struct.pack_into("<i", img, off + 80 + 64, 1)       # stacktop
            q(off + 80 + 72, awaits)                            # localsplus[0]
    q(40, B + 0x100)                      # runtime -> interpreters.head
    q(0x100 + 64, B + 0x200)              # interp -> modules
    dict_(0x200, B + 0x300); keys(0x300, 1, [(B + 0x400, B + 0x500)]); s(0x400, "_asyncio")
    q(0x500 + 16, B + 0x600)              # module -> md_dict
    dict_(0x600, B + 0x700); keys(0x700, 1, [(B + 0x800, B + 0xa00)]); s(0x800, "_all_tasks")
    q(0xa00 - 32, B + 0xa80)              # the WeakSet's managed values, 3.11
    q(0xa00 + 8, B + 0xb00)               # -> its type, keys shared in it
    type_(0xb00, 0x1f00, "WeakSet", 1 << 4, B + 0xc80)
    keys(0xc80, 2, [(B + 0xd00, None)]); s(0xd00, "data"); q(0xa80, B + 0xe00)
    q(0xe00 + 8, B + 0x1000); type_(0x1000, 0x1f20, "set")
    q(0xe00 + 16, 2); q(0xe00 + 32, 7); q(0xe00 + 40, B + 0x1380)  # fill, mask, table
    q(0x1380, B + 0x1440); q(0x1390, B + 0x1460)        # weak references
    q(0x1440 + 16, B + 0x1480); q(0x1460 + 16, B + 0x1700)
    type_(0x1600, 0x1f40, "_asyncio.Task")
    task(0x1480, 0x1900, B + 0x1a00, B + 0x1c00); s(0x1900, "leaf")
    task(0x1700, 0x1980, B + 0x1b00, B + 0x1480); s(0x1980, "parent")
    coro_(0x1a00, -1, B + 0x1c00, B + 0x1d00)
    coro_(0x1d00, -2, B + 0x1c00)
    coro_(0x1b00, -1, B + 0x1c00, B + 0x1480)
    return {"3.11-parent-leaf": bytes([3, 15]) + bytes(img)}


SEEDS = {
    "fuzz_linetable": linetables, "fuzz_debug_offsets": debug_offsets, "fuzz_pystr": pystr,
    "fuzz_elf": elf, "fuzz_frames": frames, "fuzz_pystack": pystack, "fuzz_asyncrep": asyncrep,
    "fuzz_memrep": memrep, "fuzz_diffrep": diffrep, "fuzz_pprof": pprof,
    "fuzz_metrics": metrics, "fuzz_containers": containers, "fuzz_maps": maps,
    "fuzz_pythreads": pythreads, "fuzz_pytasks": pytasks,
    "fuzz_asyncio_offsets": asyncio_offsets,
}


def main(check):
    differ = []
    for fuzzer, make in sorted(SEEDS.items()):
        d = os.path.join(OUT, fuzzer)
        seeds = make()
        have = set(os.listdir(d)) if os.path.isdir(d) else set()
        if check:
            differ += ["%s/%s" % (fuzzer, n) for n in sorted(have ^ set(seeds))]
            differ += ["%s/%s" % (fuzzer, n) for n in sorted(have & set(seeds))
                       if open(os.path.join(d, n), "rb").read() != seeds[n]]
            continue
        os.makedirs(d, exist_ok=True)
        for n in have - set(seeds):
            os.unlink(os.path.join(d, n))
        for n, data in seeds.items():
            with open(os.path.join(d, n), "wb") as f:
                f.write(data)
        print("%-20s %3d seeds, %7d bytes" % (fuzzer, len(seeds), sum(map(len, seeds.values()))))
    if differ:
        print("make_corpus.py: the committed seeds differ from what it makes: %s" %
              " ".join(differ))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))

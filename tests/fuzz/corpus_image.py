# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Fake process memory for fuzz_pystr and fuzz_pystack (tests/fuzz/fuzz_mem.h):
an image mapped at IMAGE_BASE holding _PyRuntime, an interpreter, thread
states, frames, code objects, strings and line tables laid out as each of
CPython 3.8-3.15 lays them out. 3.8-3.12 use the offsets of
user/python/pyversions.c; 3.13-3.15 images start with a _Py_DebugOffsets
(positions from user/python/debug_offsets.c, values measured below) from
which the fuzzer takes its offsets, as pyrograph does from a real target."""
import binascii
import os
import re
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
IMAGE_BASE = 0x10000000
AFTER_DEBUG_OFFSETS = 1024  # IMAGE_AFTER_DEBUG_OFFSETS in fuzz_mem.h
OFF_NONE = 0xffff

# _Py_DebugOffsets of Debian's python3.13 (3.13.5), python3.14 (3.14.10)
# and python3.15 (3.15.2), read from their .PyRuntime sections: the values
# at the positions debug_offsets.c names, by its DOF_ names.
MEASURED = {
    13: (0x030d05f0, dict(
        RUNTIME_SIZE=283376, RUNTIME_INTERP_HEAD=632, INTERP_SIZE=194976, INTERP_NEXT=7264,
        INTERP_THREADS_HEAD=7344, INTERP_IMPORTS_MODULES=7656,
        TSTATE_SIZE=304, TSTATE_NEXT=8, TSTATE_CURRENT_FRAME=72,
        TSTATE_THREAD_ID=152, TSTATE_NATIVE_THREAD_ID=160, FRAME_SIZE=80, FRAME_PREVIOUS=8,
        FRAME_EXECUTABLE=0, FRAME_INSTR_PTR=56, FRAME_LOCALSPLUS=72, FRAME_OWNER=70,
        CODE_SIZE=208, CODE_FILENAME=112, CODE_NAME=120, CODE_QUALNAME=128, CODE_LINETABLE=136,
        CODE_FIRSTLINENO=68, CODE_ADAPTIVE=200, PYOBJECT_SIZE=16, BYTES_SIZE=40,
        BYTES_OB_SIZE=16, BYTES_OB_SVAL=32, UNICODE_SIZE=64, UNICODE_STATE=32,
        UNICODE_LENGTH=16, UNICODE_ASCII_SIZE=40)),
    14: (0x030e0af0, dict(
        RUNTIME_SIZE=316616, RUNTIME_INTERP_HEAD=808, INTERP_SIZE=225864, INTERP_NEXT=7272,
        INTERP_THREADS_HEAD=7344, TSTATE_SIZE=832, TSTATE_NEXT=8, TSTATE_CURRENT_FRAME=72,
        TSTATE_THREAD_ID=152, TSTATE_NATIVE_THREAD_ID=160, FRAME_SIZE=88, FRAME_PREVIOUS=8,
        FRAME_EXECUTABLE=0, FRAME_INSTR_PTR=56, FRAME_LOCALSPLUS=80, FRAME_OWNER=74,
        FRAME_STACKPOINTER=64, CODE_SIZE=216, CODE_FILENAME=112, CODE_NAME=120,
        CODE_QUALNAME=128, CODE_LINETABLE=136, CODE_FIRSTLINENO=68, CODE_ADAPTIVE=208,
        PYOBJECT_SIZE=16, BYTES_SIZE=40, BYTES_OB_SIZE=16, BYTES_OB_SVAL=32, UNICODE_SIZE=64,
        UNICODE_STATE=32, UNICODE_LENGTH=16, UNICODE_ASCII_SIZE=40, GEN_SIZE=160,
        GEN_IFRAME=72, GEN_FRAME_STATE=67)),
    15: (0x030f02f0, dict(
        RUNTIME_SIZE=346568, RUNTIME_INTERP_HEAD=936, INTERP_SIZE=226240, INTERP_NEXT=7264,
        INTERP_THREADS_HEAD=7336, TSTATE_SIZE=888, TSTATE_NEXT=8, TSTATE_CURRENT_FRAME=72,
        TSTATE_THREAD_ID=176, TSTATE_NATIVE_THREAD_ID=184, FRAME_SIZE=88, FRAME_PREVIOUS=8,
        FRAME_EXECUTABLE=0, FRAME_INSTR_PTR=56, FRAME_LOCALSPLUS=80, FRAME_OWNER=74,
        FRAME_STACKPOINTER=64, CODE_SIZE=216, CODE_FILENAME=112, CODE_NAME=120,
        CODE_QUALNAME=128, CODE_LINETABLE=136, CODE_FIRSTLINENO=68, CODE_ADAPTIVE=208,
        PYOBJECT_SIZE=16, BYTES_SIZE=40, BYTES_OB_SIZE=16, BYTES_OB_SVAL=32, UNICODE_SIZE=64,
        UNICODE_STATE=32, UNICODE_LENGTH=16, UNICODE_ASCII_SIZE=40, UNICODE_COMPACT_SIZE=56,
        GEN_SIZE=160, GEN_IFRAME=72, GEN_FRAME_STATE=67)),
}


def _positions():
    """{minor: (sizeof(_Py_DebugOffsets), {DOF name: byte position})} as
    user/python/debug_offsets.c's layouts[] says."""
    src = open(os.path.join(ROOT, "user", "python", "debug_offsets.c")).read()
    out = {}
    for m in re.finditer(r"\.minor = (\d+),.*?\.struct_size = (\d+),.*?\.pos =\s*\{(.*?)\}",
                         src, re.S):
        out[int(m.group(1))] = (int(m.group(2)), {k: int(v) for k, v in
                                                  re.findall(r"\[DOF_(\w+)\] = (\d+)", m.group(3))})
    assert set(out) >= {13, 14, 15}, "debug_offsets.c layouts not found"
    return out


def debug_offsets_blob(minor):
    """_Py_DebugOffsets of Debian's 3.minor build, as it starts _PyRuntime."""
    size, pos = _positions()[minor]
    hexv, values = MEASURED[minor]
    assert set(values) == set(pos), (minor, set(values) ^ set(pos))
    blob = bytearray(size)
    blob[0:8] = b"xdebugpy"
    struct.pack_into("<QQ", blob, 8, hexv, 0)
    for name, p in pos.items():
        struct.pack_into("<Q", blob, p, values[name])
    return bytes(blob)


_ENUMS = {"PY_INSTR_LASTI_BYTES": 1, "PY_INSTR_LASTI_UNITS": 2, "PY_INSTR_PTR": 3,
          "PY_LINK_DIRECT": 1, "PY_LINK_CFRAME": 2, "PY_STACK_NONE": 0,
          "PY_STACK_TOP_INDEX": 1, "PY_STACK_POINTER": 2, "PY_OFF_NONE": OFF_NONE}


def offsets(minor):
    """struct py_offsets of 3.minor, as a dict: the table of pyversions.c
    (3.8-3.12), or what py_debug_offsets_parse() makes of the blob."""
    if minor <= 12:
        src = open(os.path.join(ROOT, "user", "python", "pyversions.c")).read()
        body = re.search(r"\[%d\] = \{(.*?)\n\t\}," % minor, src, re.S).group(1)
        o = {k: int(v, 0) if v[0].isdigit() else _ENUMS[v]
             for k, v in re.findall(r"\.(\w+) = (\w+)", body)}
        o.setdefault("stack_kind", 0)
        return o
    v = MEASURED[minor][1]
    return dict(runtime_interp_head=v["RUNTIME_INTERP_HEAD"], interp_next=v["INTERP_NEXT"],
                interp_threads_head=v["INTERP_THREADS_HEAD"], tstate_next=v["TSTATE_NEXT"],
                tstate_thread_id=v["TSTATE_THREAD_ID"], tstate_frame=v["TSTATE_CURRENT_FRAME"],
                cframe_current_frame=OFF_NONE, frame_previous=v["FRAME_PREVIOUS"],
                frame_code=v["FRAME_EXECUTABLE"], frame_instr=v["FRAME_INSTR_PTR"],
                frame_owner=v["FRAME_OWNER"], frame_is_entry=OFF_NONE,
                code_filename=v["CODE_FILENAME"], code_name=v["CODE_NAME"],
                code_qualname=v["CODE_QUALNAME"], code_firstlineno=v["CODE_FIRSTLINENO"],
                code_linetable=v["CODE_LINETABLE"], code_adaptive=v["CODE_ADAPTIVE"],
                unicode_state=v["UNICODE_STATE"], unicode_length=v["UNICODE_LENGTH"],
                ascii_size=v["UNICODE_ASCII_SIZE"],
                compact_size=v.get("UNICODE_COMPACT_SIZE", v["UNICODE_ASCII_SIZE"] + 16),
                bytes_size=v["BYTES_OB_SIZE"], bytes_data=v["BYTES_OB_SVAL"],
                instr_kind=3, frame_link=1, owner_skip_min=3,
                code_tag_mask=7 if minor >= 14 else 0)


class Image:
    """Bytes mapped at IMAGE_BASE; alloc() hands out aligned addresses."""

    def __init__(self, reserve):
        self.b = bytearray(reserve)

    def alloc(self, size, align=16):
        off = (len(self.b) + align - 1) // align * align
        self.b.extend(bytes(off - len(self.b) + size))
        return IMAGE_BASE + off

    def put(self, addr, fmt, *v):
        struct.pack_into("<" + fmt, self.b, addr - IMAGE_BASE, *v)

    def put_bytes(self, addr, data):
        self.b[addr - IMAGE_BASE:addr - IMAGE_BASE + len(data)] = data


def put_str(img, o, minor, text):
    """A compact str object: ASCII data after PyASCIIObject, other text as
    UCS-1/2/4 after PyCompactUnicodeObject; 3.8-3.11 set the ready bit."""
    cps = [ord(c) for c in text]
    kind = 1 if max(cps, default=0) < 0x100 else 2 if max(cps) < 0x10000 else 4
    ascii = max(cps, default=0) < 0x80
    state = kind << 2 | 1 << 5 | (1 << 6 if ascii else 0) | (1 << 7 if minor <= 11 else 0)
    data_off = o["ascii_size"] if ascii else o["compact_size"]
    addr = img.alloc(data_off + (len(cps) + 1) * kind, 8)
    img.put(addr + o["unicode_length"], "q", len(cps))
    img.put(addr + o["unicode_state"], "I", state)
    data = b"".join(c.to_bytes(kind, "little") for c in cps)
    img.put_bytes(addr + data_off, data)
    return addr


def put_bytes_obj(img, o, data):
    addr = img.alloc(o["bytes_data"] + len(data) + 1, 8)
    img.put(addr + o["bytes_size"], "q", len(data))
    img.put_bytes(addr + o["bytes_data"], data)
    return addr


def linetable(data_dir, minor):
    """(first line, table) of the first case the unit tests' data has for
    3.minor (3.13's for 3.14 and 3.15: same format)."""
    src = min(minor, 13)
    name = next(f for f in sorted(os.listdir(data_dir)) if f.startswith("linetable-3.%d." % src))
    first = 1
    for line in open(os.path.join(data_dir, name)):
        parts = line.split()
        if parts[:1] == ["case"]:
            first = int(parts[2])
        elif parts[:1] == ["table"] and parts[1] != "-":
            return first, binascii.unhexlify(parts[1])
    raise AssertionError("no line table for 3.%d" % minor)


def put_code(img, o, minor, data_dir, name, qualname, filename):
    first, table = linetable(data_dir, minor)
    size = max(v for k, v in o.items() if k.startswith("code_") and v != OFF_NONE
               and k != "code_tag_mask") + 64
    code = img.alloc(size, 16)
    fn, nm = put_str(img, o, minor, filename), put_str(img, o, minor, name)
    lt = put_bytes_obj(img, o, table)
    img.put(code + o["code_filename"], "Q", fn)
    img.put(code + o["code_name"], "Q", nm)
    if o["code_qualname"] != OFF_NONE:
        img.put(code + o["code_qualname"], "Q", put_str(img, o, minor, qualname))
    img.put(code + o["code_firstlineno"], "i", first)
    img.put(code + o["code_linetable"], "Q", lt)
    return code, len(table)


def put_frame(img, o, minor, code, ntable, prev, owner=0, entry=False, tagbits=0):
    """A frame of code at its fourth instruction."""
    fsize = max(o["frame_previous"], o["frame_code"], o["frame_instr"]) + 64
    frame = img.alloc(fsize, 16)
    img.put(frame + o["frame_code"], "Q", code | tagbits)
    img.put(frame + o["frame_previous"], "Q", prev)
    units = 3
    if o["instr_kind"] == 3:
        img.put(frame + o["frame_instr"], "Q", code + o["code_adaptive"] + 2 * units)
    else:
        img.put(frame + o["frame_instr"], "i", units * (2 if o["instr_kind"] == 1 else 1))
    if o["frame_owner"] != OFF_NONE:
        img.put(frame + o["frame_owner"], "B", owner)
    if o.get("frame_is_entry", OFF_NONE) != OFF_NONE:
        img.put(frame + o["frame_is_entry"], "B", 1 if entry else 0)
    return frame


def pystack_image(data_dir, minor, gil):
    """_PyRuntime at the base; an interpreter; two threads, the first with
    three Python frames (and, from 3.12, a shim frame the walker skips), the
    second with one; the first holds the GIL (when gil)."""
    o = offsets(minor)
    dbg = minor >= 13
    img = Image(AFTER_DEBUG_OFFSETS + 256 if dbg else 256)
    if dbg:
        img.put_bytes(IMAGE_BASE, debug_offsets_blob(minor))
    interp = img.alloc(o["interp_threads_head"] + 64, 16)
    img.put(IMAGE_BASE + o["runtime_interp_head"], "Q", interp)
    ts = [img.alloc(max(o["tstate_thread_id"], o["tstate_frame"], o["tstate_next"]) + 64, 16)
          for _ in range(2)]
    img.put(interp + o["interp_threads_head"], "Q", ts[0])
    img.put(ts[0] + o["tstate_next"], "Q", ts[1])
    tagbits = 1 if o["code_tag_mask"] else 0
    for i, t in enumerate(ts):
        img.put(t + o["tstate_thread_id"], "Q", 0x7f0000001000 + i)
        chain = [("<module>", "<module>", "/srv/app.py")] if i else [
            ("<module>", "<module>", "/srv/app.py"), ("handle", "Server.handle", "/srv/srv.py"),
            ("parse", "parse", "/usr/lib/python3/json/decoder.py")]
        prev = 0
        for name, qual, path in chain:
            code, n = put_code(img, o, minor, data_dir, name, qual, path)
            prev = put_frame(img, o, minor, code, n, prev, entry=prev == 0, tagbits=tagbits)
            if minor >= 12 and name == "handle":
                # a C -> Python entry: the shim frame the walker skips
                shim, n2 = put_code(img, o, minor, data_dir, "<shim>", "<shim>", "<shim>")
                prev = put_frame(img, o, minor, shim, n2, prev, owner=3)
        top = prev
        if o["frame_link"] == 2:  # tstate -> _PyCFrame -> current frame
            cframe = img.alloc(o["cframe_current_frame"] + 16, 16)
            img.put(cframe + o["cframe_current_frame"], "Q", top)
            top = cframe
        img.put(t + o["tstate_frame"], "Q", top)
    head = bytes([5 if dbg else minor - 8, 1 if gil else 0, 64])
    if gil:  # fuzz_pystack: locked at +16, last holder at +8
        g = IMAGE_BASE + 64 + (AFTER_DEBUG_OFFSETS if dbg else 0)
        img.put(g + 16, "I", 1)
        img.put(g + 8, "Q", ts[0])
    return head + bytes(img.b)


def image_seeds(data_dir):
    out = {}
    for minor in range(8, 16):
        out["3.%d" % minor] = pystack_image(data_dir, minor, gil=False)
        out["3.%d-gil" % minor] = pystack_image(data_dir, minor, gil=True)
    return out


def pystr_seeds(data_dir):
    """fuzz_pystr: offsets selector, object offset, image. Each str and
    bytes object the unit tests dumped from 3.8-3.13 (real object bytes;
    3.13's after Debian 3.13's _Py_DebugOffsets), and for 3.13-3.15 objects
    built to the image's _Py_DebugOffsets."""
    out = {}
    for name in sorted(os.listdir(data_dir)):
        m = re.match(r"pystr-3\.(\d+)\.\d+-(\w+)\.txt$", name)
        if not m:
            continue
        minor = int(m.group(1))
        for line in open(os.path.join(data_dir, name)):
            parts = line.split()
            if parts[:1] in (["str"], ["bytes"]) and len(parts) >= 4:
                obj = binascii.unhexlify(parts[-1])
                if minor >= 13:  # after the image's _Py_DebugOffsets
                    blob = debug_offsets_blob(minor)
                    seed = bytes([5, 0]) + blob + bytes(AFTER_DEBUG_OFFSETS - len(blob)) + obj
                else:
                    seed = bytes([minor - 8, 0]) + obj
                out["%d-%s-%s-%s" % (minor, m.group(2), parts[0], parts[1])] = seed
    texts = {"ascii": "hello world", "latin1": "caf\u00e9 na\u00efve", "bmp": "\u20acuro \u65e5\u672c",
             "astral": "\U0001f600 \U0001d11e", "empty": ""}
    for minor in (13, 14, 15):
        o = offsets(minor)
        for label, text in texts.items():
            img = Image(AFTER_DEBUG_OFFSETS)
            img.put_bytes(IMAGE_BASE, debug_offsets_blob(minor))
            addr = put_str(img, o, minor, text)
            at = addr - IMAGE_BASE - AFTER_DEBUG_OFFSETS
            assert 0 <= at < 64, at
            out["%d-built-str-%s" % (minor, label)] = bytes([5, at]) + bytes(img.b)
        img = Image(AFTER_DEBUG_OFFSETS)
        img.put_bytes(IMAGE_BASE, debug_offsets_blob(minor))
        addr = put_bytes_obj(img, o, bytes(range(0, 256, 3)))
        out["%d-built-bytes" % minor] = bytes([5, addr - IMAGE_BASE - AFTER_DEBUG_OFFSETS]) + \
            bytes(img.b)
    return out

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Re-derive the struct py_offsets numbers of user/python/pyversions.c from an
# interpreter's DWARF debug info with gdb, and print them as a designated
# initialiser row (the same field order and spelling as the table).
#
# Usage:
#   scripts/measure-offsets.sh PYTHON...          measure with gdb and print
#   scripts/measure-offsets.sh --check PYTHON...  also compile user/python/pyversions.c
#                                                 and diff its row for that minor
#                                                 version against the measured one
#   scripts/measure-offsets.sh --live PYTHON...   no gdb: run PYTHON and check the
#                                                 table row against the live process
#                                                 through ctypes (works on builds
#                                                 without debug info); also checks
#                                                 user/python/linetable.c's line for each
#                                                 live frame against f_lineno
# PYTHON is a pyenv version directory (/root/.pyenv/versions/3.10.13), a
# python executable (/usr/bin/python3.11), or a bare version (3.10.13, looked
# up under $(pyenv root)/versions or /root/.pyenv/versions).
#
# Debug info: pyenv builds carry DWARF in lib/libpythonX.Y.so.1.0. Debian's
# /usr/bin/python3.X needs python3.X-dbg installed (separate debug info under
# /usr/lib/debug/.build-id, found by gdb automatically).
#
# Needs: gdb with Python support (not for --live); for --check and --live a C compiler (cc).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

check=0
live=0
case "${1:-}" in
--check) check=1; shift ;;
--live) live=1; shift ;;
esac
if [ $# -eq 0 ]; then
	awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' "$0"
	exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- the gdb side: walks the DWARF types, prints one row -------------------
cat >"$tmp/measure.py" <<'EOF'
import gdb

ver = gdb.convenience_variable("pyver")
major, minor, micro = [int(x) for x in ver.string().split(".")]
NONE = 0xFFFF
errors = []

def typ(name):
    """A typedef name (PyCodeObject) or a struct tag (_ts)."""
    for n in (name, "struct " + name):
        try:
            return gdb.lookup_type(n)
        except gdb.error:
            pass
    raise gdb.error("no type " + name)

def field_off(tname, path):
    """Byte offset of a (dotted) member path; bit-exact check that it is byte aligned."""
    t = typ(tname).strip_typedefs()
    off = 0
    for comp in path.split("."):
        for f in t.fields():
            if f.name == comp:
                if f.bitpos % 8:
                    raise gdb.error("%s.%s is a bitfield" % (tname, path))
                off += f.bitpos // 8
                t = f.type.strip_typedefs()
                break
        else:
            raise gdb.error("no member %s in %s (path %s)" % (comp, tname, path))
    return off, t

def off(tname, *paths):
    """First path that exists wins."""
    last = None
    for p in paths:
        try:
            return field_off(tname, p)[0]
        except gdb.error as e:
            last = e
    errors.append(str(last))
    return None

def size(tname):
    return typ(tname).strip_typedefs().sizeof

def enum_val(ename, member):
    try:
        t = gdb.lookup_type("enum " + ename)
    except gdb.error:
        return None
    for f in t.fields():
        if f.name == member:
            return f.enumval
    return None

mv = (major, minor)
row = []
def put(name, value):
    row.append((name, value))

put("runtime_interp_head", off("_PyRuntimeState", "interpreters.head"))
put("interp_next", off("_is", "next"))
put("interp_modules", off("_is", "imports.modules", "modules"))
put("interp_threads_head", off("_is", "threads.head", "tstate_head"))
put("tstate_next", off("_ts", "next"))
put("tstate_thread_id", off("_ts", "thread_id"))
put("tstate_native_thread_id", off("_ts", "native_thread_id") if mv >= (3, 11) else NONE)
if mv <= (3, 10):
    put("tstate_frame", off("_ts", "frame"))
    put("cframe_current_frame", NONE)
elif mv <= (3, 12):
    put("tstate_frame", off("_ts", "cframe"))
    put("cframe_current_frame", off("_PyCFrame", "current_frame"))
else:
    put("tstate_frame", off("_ts", "current_frame"))
    put("cframe_current_frame", NONE)
if mv <= (3, 10):
    put("frame_previous", off("_frame", "f_back"))
    put("frame_code", off("_frame", "f_code"))
    put("frame_instr", off("_frame", "f_lasti"))
    put("frame_owner", NONE)
else:
    put("frame_previous", off("_PyInterpreterFrame", "previous"))
    put("frame_code", off("_PyInterpreterFrame", "f_code", "f_executable"))
    put("frame_instr", off("_PyInterpreterFrame", "prev_instr", "instr_ptr"))
    put("frame_owner", off("_PyInterpreterFrame", "owner"))
put("code_filename", off("PyCodeObject", "co_filename"))
put("code_name", off("PyCodeObject", "co_name"))
put("code_qualname", off("PyCodeObject", "co_qualname") if mv >= (3, 11) else NONE)
put("code_firstlineno", off("PyCodeObject", "co_firstlineno"))
put("code_linetable", off("PyCodeObject", "co_lnotab") if mv <= (3, 9) else off("PyCodeObject", "co_linetable"))
# <= 3.10: offset of the co_code pointer (a bytes object); 3.11+: co_code_adaptive (inline)
put("code_adaptive", off("PyCodeObject", "co_code") if mv <= (3, 10) else off("PyCodeObject", "co_code_adaptive"))
put("unicode_state", off("PyASCIIObject", "state"))
put("unicode_length", off("PyASCIIObject", "length"))
put("ascii_size", size("PyASCIIObject"))
put("compact_size", size("PyCompactUnicodeObject"))
put("bytes_size", off("PyBytesObject", "ob_base.ob_size"))
put("bytes_data", off("PyBytesObject", "ob_sval"))
if mv >= (3, 11):
    gi = off("PyGenObject", "gi_iframe")
    cr = off("PyCoroObject", "cr_iframe")
    if gi != cr:
        errors.append("gi_iframe %s != cr_iframe %s" % (gi, cr))
    put("gen_iframe", gi)
else:
    put("gen_iframe", NONE)
put("instr_kind", "PY_INSTR_LASTI_BYTES" if mv <= (3, 9) else
    "PY_INSTR_LASTI_UNITS" if mv == (3, 10) else "PY_INSTR_PTR")
put("frame_link", "PY_LINK_DIRECT" if mv <= (3, 10) or mv >= (3, 13) else "PY_LINK_CFRAME")
# Owners that are not real Python frames: FRAME_OWNED_BY_CSTACK (3.12+),
# FRAME_OWNED_BY_INTERPRETER (3.14+). Skip from the smallest of them.
shims = [v for v in (enum_val("_frameowner", "FRAME_OWNED_BY_CSTACK"),
                     enum_val("_frameowner", "FRAME_OWNED_BY_INTERPRETER")) if v is not None]
put("owner_skip_min", min(shims) if shims else 0xFF)
put("code_tag_mask", 0)

def fmt(v):
    if v is None:
        return "MISSING"
    if v == NONE:
        return "PY_OFF_NONE"
    if isinstance(v, int) and v == 0xFF:
        return "0xff"
    return str(v)

print("\t[%d] = { /* %d.%d.%d */" % (minor, major, minor, micro))
for n, v in row:
    print("\t\t.%s = %s," % (n, fmt(v)))
print("\t},")

# Facts the table relies on without storing them: print for eyeballing.
def bitpos(tname, path, member):
    _, t = field_off(tname, path)
    for f in t.fields():
        if f.name == member:
            return "%d:%d" % (f.bitpos, f.bitsize)
    return "absent"
notes = []
notes.append("PyASCIIObject.state bits kind=%s compact=%s ascii=%s ready=%s" % tuple(
    bitpos("PyASCIIObject", "state", m) for m in ("kind", "compact", "ascii", "ready")))
notes.append("sizeof tstate.thread_id=%d" % field_off("_ts", "thread_id")[1].sizeof)
if mv <= (3, 10):
    notes.append("f_lasti type=%s" % field_off("_frame", "f_lasti")[1])
else:
    t = gdb.lookup_type("enum _frameowner")
    notes.append("enum _frameowner: " + ", ".join("%s=%d" % (f.name, f.enumval) for f in t.fields()))
    try:
        notes.append("_PyInterpreterFrame.is_entry at %d" % field_off("_PyInterpreterFrame", "is_entry")[0])
    except gdb.error:
        notes.append("_PyInterpreterFrame has no is_entry")
for n in notes:
    print("\t/* %s */" % n)
for e in errors:
    print("ERROR: " + e)
EOF

resolve() {
	local arg=$1 root
	if [ -d "$arg" ]; then
		ls "$arg"/bin/python3.[0-9]* 2>/dev/null | grep -E 'python3\.[0-9]+$' | head -1
	elif [ -x "$arg" ]; then
		echo "$arg"
	else
		root=$(pyenv root 2>/dev/null || echo /root/.pyenv)
		[ -d "$root/versions/$arg" ] && resolve "$root/versions/$arg"
	fi
}

# --- prints the table row of user/python/pyversions.c (same format as gdb's) -------
build_dump() {
	cat >"$tmp/dump.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "python/pyversions.h"
static int kv;
static void v(const char *n, unsigned x)
{
	if (kv)
		printf("%s=%u\n", n, x);
	else if (x == PY_OFF_NONE)
		printf("\t\t.%s = PY_OFF_NONE,\n", n);
	else if (x == 0xff)
		printf("\t\t.%s = 0xff,\n", n);
	else
		printf("\t\t.%s = %u,\n", n, x);
}
int main(int argc, char **argv)
{
	struct py_offsets o;
	static const char *ik[] = { "?", "PY_INSTR_LASTI_BYTES", "PY_INSTR_LASTI_UNITS", "PY_INSTR_PTR" };
	static const char *fl[] = { "?", "PY_LINK_DIRECT", "PY_LINK_CFRAME" };
	if (argc < 3)
		return 2;
	kv = argc > 3 && !strcmp(argv[3], "kv");
	if (py_offsets_for_version(3, atoi(argv[1]), atoi(argv[2]), &o)) {
		printf("no row for 3.%s\n", argv[1]);
		return 1;
	}
#define F(x) v(#x, o.x)
	F(runtime_interp_head); F(interp_next); F(interp_modules); F(interp_threads_head); F(tstate_next);
	F(tstate_thread_id); F(tstate_native_thread_id); F(tstate_frame); F(cframe_current_frame);
	F(frame_previous); F(frame_code); F(frame_instr); F(frame_owner); F(code_filename);
	F(code_name); F(code_qualname); F(code_firstlineno); F(code_linetable); F(code_adaptive);
	F(unicode_state); F(unicode_length); F(ascii_size); F(compact_size); F(bytes_size);
	F(bytes_data); F(gen_iframe);
	if (kv) {
		F(instr_kind); F(frame_link);
	} else {
		printf("\t\t.instr_kind = %s,\n", o.instr_kind < 4 ? ik[o.instr_kind] : "?");
		printf("\t\t.frame_link = %s,\n", o.frame_link < 3 ? fl[o.frame_link] : "?");
	}
	F(owner_skip_min); F(code_tag_mask);
	if (kv)
		printf("version=%u\n", o.version);
	return 0;
}
EOF
	cc -std=gnu11 -Wall -I"$top/include" -I"$top/user" -o "$tmp/dump" "$tmp/dump.c" "$top/user/python/pyversions.c"
	cc -std=gnu11 -Wall -shared -fPIC -I"$top/include" -I"$top/user" -o "$tmp/liblinetable.so" "$top/user/python/linetable.c"
}

# --- the live side: runs inside the target interpreter ----------------------
cat >"$tmp/live.py" <<'EOF'
import ctypes, struct, sys, threading

O = {}
for line in sys.stdin.read().split():
    k, v = line.split("=")
    O[k] = int(v)
NONE = 0xFFFF
mv = sys.version_info[:2]
ok = bad = 0

def check(what, cond, detail=""):
    global ok, bad
    if cond:
        ok += 1
    else:
        bad += 1
        print("  FAIL %s %s" % (what, detail))

def u64(a): return struct.unpack("<Q", ctypes.string_at(a, 8))[0]
def i64(a): return struct.unpack("<q", ctypes.string_at(a, 8))[0]
def i32(a): return struct.unpack("<i", ctypes.string_at(a, 4))[0]
def u32(a): return struct.unpack("<I", ctypes.string_at(a, 4))[0]
def u8(a): return ctypes.string_at(a, 1)[0]

api = ctypes.pythonapi
lt = ctypes.CDLL(sys.argv[1])  # user/python/linetable.c
lt.py_line_for_instr.argtypes = [ctypes.c_uint, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_uint]

def line_for(co, instr_bytes):
    """py_line_for_instr() on what the walker emits (bytes on 3.8/3.9, code units after)."""
    instr = instr_bytes if O["instr_kind"] == 1 else instr_bytes // 2
    tab = co.co_lnotab if mv <= (3, 9) else co.co_linetable
    return lt.py_line_for_instr(O["version"], tab, len(tab), co.co_firstlineno, instr & 0xFFFFFFFF)
api.PyThreadState_Get.restype = ctypes.c_void_p
rt = ctypes.addressof(ctypes.c_char.in_dll(api, "_PyRuntime"))

def instr_of(frame_addr, code_addr):
    """The walker's instruction value, in the unit of frame.f_lasti (bytes)."""
    k = O["instr_kind"]
    if k == 1:
        return i32(frame_addr + O["frame_instr"])
    if k == 2:
        return i32(frame_addr + O["frame_instr"]) * 2
    ip = u64(frame_addr + O["frame_instr"])
    return ip - (code_addr + O["code_adaptive"])

def walk(f):
    """(code, instr, owner) of the frames the walker would report, and skipped count."""
    out, skipped = [], 0
    for _ in range(10000):
        if not f:
            break
        owner = u8(f + O["frame_owner"]) if O["frame_owner"] != NONE else None
        if owner is not None and owner >= O["owner_skip_min"]:
            skipped += 1
        else:
            code = u64(f + O["frame_code"])
            out.append((code, instr_of(f, code), owner))
        f = u64(f + O["frame_previous"])
    return out, skipped

def probe():
    ts = api.PyThreadState_Get()
    # Snapshot the current frame inline (from_address is C; calling a Python
    # helper here would make the helper's frame the current one).
    U = ctypes.c_uint64.from_address
    cur = U(ts + O["tstate_frame"]).value
    if O["frame_link"] == 2:
        cur = U(cur + O["cframe_current_frame"]).value
    # _PyRuntime -> interpreters -> threads contains us
    found = False
    interp = u64(rt + O["runtime_interp_head"])
    for _ in range(64):
        if not interp:
            break
        t = u64(interp + O["interp_threads_head"])
        for _ in range(4096):
            if not t:
                break
            if t == ts:
                found = True
            t = u64(t + O["tstate_next"])
        interp = u64(interp + O["interp_next"])
    check("runtime->interp->threads finds PyThreadState_Get()", found)
    if O["interp_modules"] != NONE:
        main = u64(rt + O["runtime_interp_head"])
        check("interp modules is sys.modules", u64(main + O["interp_modules"]) == id(sys.modules))
    check("thread_id", u64(ts + O["tstate_thread_id"]) == threading.get_ident())
    if O["tstate_native_thread_id"] != NONE:
        check("native_thread_id", u64(ts + O["tstate_native_thread_id"]) == threading.get_native_id())
    me = sys._getframe()
    if O["frame_link"] == 1:
        check("tstate frame is sys._getframe()", cur == id(me))
    frames, skipped = walk(cur)
    expect = []
    f = me
    while f is not None:
        expect.append(f)
        f = f.f_back
    check("frame chain length", len(frames) == len(expect),
          "walker %d vs python %d (skipped %d)" % (len(frames), len(expect), skipped))
    for i, (w, e) in enumerate(zip(frames, expect)):
        check("frame %d code" % i, w[0] == id(e.f_code), e.f_code.co_name)
        if i > 0:  # the innermost frame is still running: its f_lasti moves
            check("frame %d instr" % i, w[1] == e.f_lasti, "%d vs %d (%s)" % (w[1], e.f_lasti, e.f_code.co_name))
            check("frame %d line" % i, line_for(e.f_code, w[1]) == e.f_lineno,
                  "%d vs %d (%s)" % (line_for(e.f_code, w[1]), e.f_lineno, e.f_code.co_name))
        if w[2] is not None:
            check("frame %d owner is THREAD" % i, w[2] == 0, str(w[2]))
    return skipped

def through_c():
    # map() is C code calling back into Python: an entry point per call
    return list(map(lambda _: probe(), [0]))[0]

skipped = through_c()
print("  %d shim frame(s) skipped on the way through map()" % skipped)
if mv >= (3, 12):
    check("3.12+: CSTACK shim frames seen and skipped", skipped >= 1, str(skipped))
else:
    check("no frames skipped before 3.12", skipped == 0, str(skipped))

def g():
    yield 1
co = g.__code__
check("code filename", u64(id(co) + O["code_filename"]) == id(co.co_filename))
check("code name", u64(id(co) + O["code_name"]) == id(co.co_name))
if O["code_qualname"] != NONE:
    check("code qualname", u64(id(co) + O["code_qualname"]) == id(co.co_qualname))
check("code firstlineno", i32(id(co) + O["code_firstlineno"]) == co.co_firstlineno)
if mv <= (3, 9):
    check("code lnotab", u64(id(co) + O["code_linetable"]) == id(co.co_lnotab))
else:
    check("code linetable", u64(id(co) + O["code_linetable"]) == id(co.co_linetable))
c2 = compile("x = 1", "<live>", "exec")  # nothing to specialise: adaptive == co_code
if mv <= (3, 10):
    check("code co_code pointer", u64(id(c2) + O["code_adaptive"]) == id(c2.co_code))
else:
    check("code co_code_adaptive", ctypes.string_at(id(c2) + O["code_adaptive"], len(c2.co_code)) == c2.co_code)
if O["gen_iframe"] != NONE:
    gen = g()
    next(gen)
    fr = id(gen) + O["gen_iframe"]
    check("gen iframe code", u64(fr + O["frame_code"]) == id(gen.gi_code))
    check("gen iframe owner GENERATOR", u8(fr + O["frame_owner"]) == 1)
    check("gen iframe instr", instr_of(fr, id(gen.gi_code)) == gen.gi_frame.f_lasti)
    check("gen line", line_for(gen.gi_code, instr_of(fr, id(gen.gi_code))) == gen.gi_frame.f_lineno)
    gen2 = g()  # not started: prev_instr is one unit before the code
    fr = id(gen2) + O["gen_iframe"]
    check("unstarted gen line", line_for(gen2.gi_code, instr_of(fr, id(gen2.gi_code))) == gen2.gi_frame.f_lineno)
for s, kind, ascii in (("abc" * 7, 1, 1), ("\xe9t\xe9" * 3, 1, 0), ("\u20ac" * 5, 2, 0), ("\U0001f600" * 2, 4, 0)):
    a = id(s)
    st = u32(a + O["unicode_state"])
    check("str length %r" % s, i64(a + O["unicode_length"]) == len(s))
    check("str state %r" % s, (st >> 2) & 7 == kind and (st >> 5) & 1 == 1 and (st >> 6) & 1 == ascii, hex(st))
    data = a + (O["ascii_size"] if ascii else O["compact_size"])
    check("str data %r" % s, ctypes.string_at(data, len(s) * kind) == s.encode({1: "latin-1", 2: "utf-16-le", 4: "utf-32-le"}[kind]))
check("sizeof(PyASCIIObject)", sys.getsizeof("") == O["ascii_size"] + 1)
b = b"hello, bytes"
check("bytes size", i64(id(b) + O["bytes_size"]) == len(b))
check("bytes data", ctypes.string_at(id(b) + O["bytes_data"], len(b) + 1) == b + b"\0")
check("version", O["version"] >> 8 == (sys.version_info[0] << 16) | (sys.version_info[1] << 8) | sys.version_info[2])
print("live %d.%d.%d: %d passed, %d failed" % (sys.version_info[:3] + (ok, bad)))
sys.exit(1 if bad else 0)
EOF

[ $check = 1 ] || [ $live = 1 ] && build_dump

status=0
for arg in "$@"; do
	py=$(resolve "$arg" || true)
	if [ -z "$py" ]; then
		echo "cannot find a python for '$arg'" >&2
		status=1
		continue
	fi
	ver=$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
	minor=$(echo "$ver" | cut -d. -f2)
	micro=$(echo "$ver" | cut -d. -f3)
	if [ $live = 1 ]; then
		if ! "$tmp/dump" "$minor" "$micro" kv >"$tmp/kv.txt"; then
			echo "/* $py ($ver): no table row */"
			continue
		fi
		"$py" "$tmp/live.py" "$tmp/liblinetable.so" <"$tmp/kv.txt" || status=1
		continue
	fi
	# The object carrying the DWARF: the shared libpython if the executable
	# links one, else the executable itself (static libpython, e.g. Debian).
	lib=$(ldd "$py" 2>/dev/null | awk '$1 ~ /^libpython/ && $3 ~ /^\// { print $3; exit }')
	[ -n "$lib" ] || lib=$(readlink -f "$py")
	echo "/* $py -> $lib (Python $ver) */"
	gdb -nx -batch -ex "set \$pyver = \"$ver\"" -ex "source $tmp/measure.py" "$lib" \
		2>"$tmp/gdb.err" | tee "$tmp/measured.txt"
	if grep -q '^ERROR\|MISSING' "$tmp/measured.txt" || [ ! -s "$tmp/measured.txt" ]; then
		cat "$tmp/gdb.err" >&2
		status=1
	fi
	if [ $check = 1 ]; then
		grep -P '^\t\t\.' "$tmp/measured.txt" >"$tmp/m.txt" || true
		if ! "$tmp/dump" "$minor" "$micro" >"$tmp/t.txt"; then
			echo "/* check 3.$minor: no table row (3.13+ read _Py_DebugOffsets) */"
		elif diff -u "$tmp/t.txt" "$tmp/m.txt"; then
			echo "/* check 3.$minor: table row == measured */"
		else
			echo "/* check 3.$minor: MISMATCH (diff above: - table, + measured) */"
			status=1
		fi
	fi
done
exit $status

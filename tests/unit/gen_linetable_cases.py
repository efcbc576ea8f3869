#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Dump line-table test cases from the running interpreter (3.8+).

For every code object compiled from SAMPLE (recursively: functions, lambdas,
comprehensions, class bodies) write the raw co_lnotab (3.8/3.9) or
co_linetable (3.10+), co_firstlineno, and the line CPython itself reports for
every instruction offset, in the unit the BPF walker emits:

  3.8/3.9  instr = f_lasti in bytes        -> every even byte offset
  3.10     instr = f_lasti in code units   -> every code unit
  3.11+    instr = (ip - co_code_adaptive)/2 (code units) -> every code unit

Ground truth is PyCode_Addr2Line() called through ctypes: that is what
PyFrame_GetLineNumber() uses on every version (with addr = f_lasti on
3.8/3.9, f_lasti*2 on 3.10, _PyInterpreterFrame_LASTI(frame)*2 on 3.11+).
It is cross-checked here against dis.findlinestarts() (3.8/3.9) or
co_lines() (3.10+); a disagreement aborts the dump.

Output (text, one file per interpreter; read by test_linetable.c):
  python <version> <sys.executable>
  version <hex of (major<<24)|(minor<<16)|(micro<<8)>
  case <qualname> <firstlineno> <step> <count>
  table <hex bytes or ->
  lines <tok>...     line for instr = i*step, i = 0..count-1; tok is LINE or
                     LINE*REPEAT; -1 = no line
  at <instr> <line>  extra points (negative instr, past the end)
  end

Usage: python3.X gen_linetable_cases.py OUTDIR
"""
import ctypes
import dis
import os
import sys

# Exercise: many lines, loops, multi-line expressions (line numbers going
# backwards), try/except/finally, with, comprehensions, nested functions,
# lambdas, generators, big line gaps (> 127 and > 255 lines: split lnotab
# entries, long-form location entries), long single lines (> 8 code units per
# line: several location entries per line; > 255 bytes of code: split
# lnotab/linetable address deltas), and no-line instructions.
SAMPLE = '''
import os

def loops(n):
    total = 0
    for i in range(n):
        if i % 3 == 0:
            total += i
        elif i % 5 == 0:
            total -= (
                i
                * 2
            )
        else:
            continue
    while total > 100:
        total //= 2
    return total

def multiline(a, b):
    x = (a +
         b +
         a *
         b)
    y = [
        a,
        b,
        x,
    ]
    return f(
        x,
        y,
    ) if a else g(
        y,
        x)

def excepts(path):
    try:
        with open(path) as fp:
            data = fp.read()
    except OSError as e:
        data = str(e)
    except (ValueError,
            TypeError):
        raise
    else:
        data += "ok"
    finally:
        path = None
    return data

def comps(xs):
    a = [x * 2 for x in xs if x]
    b = {x: y
         for x, y in zip(xs, xs)}
    c = (x for x in xs)
    d = lambda q: (q,
                   q + 1)
    return a, b, c, d

def gen(n):
    for i in range(n):
        yield i
        yield from range(i)

async def coro(x):
    await x
    async with x as y:
        pass
    return y

class K:
    attr = 1
    def method(self):
        return self.attr
''' + '''
def gaps():
    a = 1''' + '\n' * 140 + '''
    b = 2''' + '\n' * 300 + '''
    c = 3''' + '\n' * 5 + '''
    return a + b + c

def long_line(v):
    return v.a.b.c + v.d.e.f + v.g.h.i + v.j.k.l + v.m.n.o + v.p.q.r + v.s.t.u + v.w.x.y + v.z(1, 2, 3, 4, 5, 6)

def huge_line(v):
    return [''' + ', '.join('v.a%d + %d' % (i, i) for i in range(70)) + ''']

def big():
''' + ''.join('    v%d = w%d.attr%d(%d, %d, %d)\n' % (i, i, i, i, i + 1, i + 2) for i in range(40)) + '''
    return v0
'''


def walk(co):
    yield co
    for c in co.co_consts:
        if hasattr(c, "co_code"):
            yield from walk(c)


def main():
    outdir = sys.argv[1]
    v = sys.version_info
    vcode = (v[0] << 24) | (v[1] << 16) | (v[2] << 8)
    addr2line = ctypes.pythonapi.PyCode_Addr2Line
    addr2line.argtypes = [ctypes.py_object, ctypes.c_int]
    addr2line.restype = ctypes.c_int
    old = v[:2] <= (3, 9)
    step = 2 if old else 1   # instr step; bytes per instr unit:
    scale = 1 if old else 2  # Addr2Line wants bytes

    tag = "debian" if sys.executable.startswith("/usr/bin/") else "pyenv"
    path = os.path.join(outdir, "linetable-%d.%d.%d-%s.txt" % (v[0], v[1], v[2], tag))
    lines_out = ["python %d.%d.%d %s" % (v[0], v[1], v[2], sys.executable),
                 "version 0x%08x" % vcode]
    top = compile(SAMPLE, "<sample>", "exec")
    ncases = 0
    for co in walk(top):
        table = co.co_lnotab if old else co.co_linetable
        nbytes = len(co.co_code)
        count = nbytes // 2
        exp = [addr2line(co, i * step * scale) for i in range(count)]
        # Cross-check with the Python-level view.
        if old:
            starts = dict(dis.findlinestarts(co))
            cur = None
            for i in range(count):
                cur = starts.get(i * 2, cur)
                if cur is not None and exp[i] != cur:
                    sys.exit("%s: findlinestarts disagrees at %d: %r vs %r" % (co.co_name, i * 2, cur, exp[i]))
        else:
            seen = [None] * count
            for start, end, line in co.co_lines():
                for b in range(start, end, 2):
                    seen[b // 2] = -1 if line is None else line
            for i in range(count):
                if seen[i] != exp[i]:
                    sys.exit("%s: co_lines disagrees at %d: %r vs %r" % (co.co_name, i, seen[i], exp[i]))
        name = getattr(co, "co_qualname", co.co_name).replace(" ", "_")
        lines_out.append("case %s %d %d %d" % (name, co.co_firstlineno, step, count))
        lines_out.append("table " + (table.hex() if table else "-"))
        toks = []
        i = 0
        while i < count:
            j = i
            while j < count and exp[j] == exp[i]:
                j += 1
            toks.append(str(exp[i]) if j - i == 1 else "%d*%d" % (exp[i], j - i))
            i = j
        lines_out.append("lines " + " ".join(toks))
        # A frame that has not started: f_lasti == -1 (3.8-3.10),
        # prev_instr == code - 1 (3.11/3.12): CPython gives co_firstlineno.
        lines_out.append("at -1 %d" % addr2line(co, -1 * scale))
        if old or v[:2] == (3, 10):
            # Past the end: only the table is read on these versions, so
            # CPython's answer is safe to ask for (3.11 may use _co_linearray).
            lines_out.append("at %d %d" % (count * step, addr2line(co, count * step * scale)))
            lines_out.append("at %d %d" % (count * step + 1000, addr2line(co, (count * step + 1000) * scale)))
        lines_out.append("end")
        ncases += 1
    with open(path, "w") as fp:
        fp.write("\n".join(lines_out) + "\n")
    print("%s: %d cases" % (path, ncases))


if __name__ == "__main__":
    main()

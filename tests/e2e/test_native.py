# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""record --native / --kernel: native frames interleaved with Python frames
at the right places, from a C extension built against each interpreter."""
import os
import subprocess

import pytest

from conftest import by_name, frames_of, line_of, parse_collapsed, pid_stacks, record, stop


def build_ext(it, tmp):
    """Compiles workloads/cext/pgnative.c for interpreter it into tmp."""
    q = "import sysconfig as s; print(s.get_paths()['include']); print(s.get_config_var('EXT_SUFFIX'))"
    inc, suffix = subprocess.run([it.python, "-c", q], capture_output=True, text=True,
                                 check=True).stdout.split()
    if not os.path.exists(os.path.join(inc, "Python.h")):
        pytest.fail("%s: no Python.h in %s (python3.11-dev is in scripts/deps.sh)" % (it.name, inc))
    src = os.path.join(os.path.dirname(__file__), "workloads", "cext", "pgnative.c")
    out = os.path.join(str(tmp), "pgnative" + suffix)
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-I" + inc, src, "-o", out], check=True)
    return str(tmp)


def native_run(it, tmp, rec_args, *extra):
    ext = build_ext(it, tmp)
    p = it.start("native.py", 60, ext, *extra)
    out = tmp / "native.txt"
    try:
        r = record(["-p", p.pid, "-d", 3, "-f", "collapsed", "-o", out] + rec_args)
        assert r.returncode == 0, r.stderr
    finally:
        stop(p)
    return p, pid_stacks(parse_collapsed(out.read_text()), p.pid)


@pytest.mark.parametrize("name", ["debian-3.11", "pyenv-3.12", "pyenv-3.9"])
def test_native_interleaved(name, tmp):
    """Python py_caller -> C pgnative_call -> Python py_callback -> py_leaf,
    in that order, with the Python frames' lines still exact."""
    it = by_name(name)
    p, stacks = native_run(it, tmp, ["--native"])
    src = it.host_path(it.workload_path("native.py"))
    leaf = "py_leaf (%s:%d)" % (it.workload_path("native.py"), line_of(src, "# LEAF"))
    total = ordered = 0
    example = None
    lines = set()
    for s, c in stacks.items():
        f = frames_of(s)
        if not any(x.startswith("py_leaf (") for x in f):
            continue
        total += c
        try:
            i_caller = next(i for i, x in enumerate(f) if x.startswith("py_caller ("))
            i_c = next(i for i, x in enumerate(f) if x.startswith("pgnative_call [pgnative"))
            i_cb = next(i for i, x in enumerate(f) if x.startswith("py_callback ("))
            i_leaf = next(i for i, x in enumerate(f) if x.startswith("py_leaf ("))
        except StopIteration:
            continue
        if i_caller < i_c < i_cb < i_leaf:
            ordered += c
            example = example or f
            lines.add(f[i_leaf])
    print("%s: %d of %d py_leaf samples ordered Python -> C -> Python\n  %s" % (
        name, ordered, total, "\n  ".join(example or [])))
    assert total >= 50, stacks
    assert ordered >= 0.9 * total, (ordered, total, list(stacks)[:3])
    # native frames name their module; the leaf line is exact
    assert any(x.endswith("[libc.so.6]") for x in example), example
    assert leaf in lines, (leaf, lines)


def test_kernel_frames(tmp):
    """--native --kernel: a read() of /dev/zero shows kernel frames under
    the libc frame under the Python frame that called it."""
    it = by_name("debian-3.11")
    p, stacks = native_run(it, tmp, ["--native", "--kernel"], "syscalls")
    src = it.host_path(it.workload_path("native.py"))
    read_line = "py_leaf (%s:%d)" % (it.workload_path("native.py"), line_of(src, "# READ"))
    kern = {}
    for s, c in stacks.items():
        f = frames_of(s)
        if read_line in f and f[-1].endswith("_[k]"):
            k = f.index(read_line)
            ks = [x for x in f[k:] if x.endswith("_[k]")]
            # nothing Python or native under the first kernel frame
            first = f.index(ks[0])
            assert all(x.endswith("_[k]") for x in f[first:]), f
            assert any(x.endswith("[libc.so.6]") for x in f[k:first]), f
            for x in ks:
                kern[x] = kern.get(x, 0) + c
    print(sorted(kern.items(), key=lambda kv: -kv[1])[:8])
    assert sum(kern.values()) >= 20, stacks
    assert any("read" in x for x in kern), kern

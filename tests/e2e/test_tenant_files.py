# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""A container must not steer the root profiler to the host's files. A
tenant (own pid and mount namespaces, chrooted into a copy of a Debian tree)
plants absolute symlinks to host files where pyrograph looks for its files:
under /proc/PID/root such a symlink resolves from pyrograph's root, the
host's. Source lines must come from the tenant's own tree or not at all;
probes must go on the inodes the tenant maps (its data still arrives) or
not at all, and never be parsed from or placed on the host file."""
import glob
import json
import os
import re
import secrets
import shutil
import subprocess

import pytest

from conftest import CHROOTS, IN_CI, Interp, binary, line_of
from test_containers import Container

TREE = "trixie"
EXE = "/usr/bin/python3.13"


@pytest.fixture(scope="module")
def tenant_root(tmp_path_factory):
    """A copy of the trixie tree the tenants may write to (the shared
    chroots stay untouched), by its canonical path: the one the kernel
    shows in /proc/PID/maps."""
    src = os.path.join(CHROOTS, TREE)
    if not os.access(os.path.join(src, EXE.lstrip("/")), os.X_OK):
        msg = "%s not in the %s tree (scripts/build-chroots.sh)" % (EXE, TREE)
        pytest.fail(msg) if IN_CI else pytest.skip(msg)
    root = os.path.realpath(str(tmp_path_factory.mktemp("tenant") / "root"))
    subprocess.run(["cp", "-a", "--reflink=auto", src, root], check=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def run(cmd, pid, *args, timeout=120):
    r = subprocess.run([binary(), cmd, "-q", "-v", "-p", str(pid)] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return r


def test_symlinked_source_stays_in_the_tenant(tenant_root, tmp):
    """The coroutine's file is /tmp/evil.py, a symlink to a host-only file
    whose lines hold 'await' and a marker: neither report shows any of it."""
    marker = "HOST-ONLY-" + secrets.token_hex(8)
    host_file = tmp / "host-only.py"
    host_file.write_text("".join("    x%d = await fetch_%d()  # %s\n" % (i, i, marker)
                                 for i in range(1, 9)))
    assert not os.path.exists(os.path.join(tenant_root, str(host_file).lstrip("/")))
    it = Interp("tenant", EXE, root=tenant_root)
    c = Container(it, "tenant_source.py", 60, host_file)
    try:
        assert os.readlink(os.path.join(tenant_root, "tmp/evil.py")) == str(host_file)
        # what a lookup through /proc/PID/root finds: the host file
        with open("/proc/%d/root/tmp/evil.py" % c.pid) as f:
            assert marker in f.read()
        j = run("async", c.pid, "-d", 3, "-f", "json")
        t = run("async", c.pid, "-d", 3)
    finally:
        c.stop()
    d = json.loads(j.stdout)
    pairs = [x for x in d["sequential_awaits"] if x["coroutine"] == "pair (/tmp/evil.py)"]
    # the pair is seen and reported, its lines unread
    assert [(x["line_first"], x["line_second"]) for x in pairs if x["line_first"] == 3] == [(3, 4)], \
        d["sequential_awaits"]
    for x in pairs:
        assert x["source_first"] is None and x["independent"] is None and \
            not x["gather_candidate"], x
    for out in (j.stdout, j.stderr, t.stdout, t.stderr):
        assert marker not in out and "fetch_" not in out, out


def host_libc():
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if re.search(r"/libc\.so\.6$", path):
                return path
    pytest.fail("no libc.so.6 in this process's maps")


def inode_of(stderr, what, path):
    """The inode pyrograph says it placed a kind of probe on (-v)."""
    m = re.search(r"%s in %s \(inode (\d+)" % (what, re.escape(path)), stderr)
    assert m, "no '%s in %s (inode N)' in:\n%s" % (what, path, stderr)
    return int(m.group(1))


def test_swapped_binaries_are_not_probed(tenant_root, tmp):
    """The tenant plants symlinks to the host's python3.11, libc and
    _asyncio at its interpreter's, libc's and _asyncio's paths as the host
    names them: mem --live and async probe the files it maps (its GC
    pauses, held memory and task steps still arrive), never the host's."""
    host_py = "/usr/bin/python3.11"
    host_aio = glob.glob("/usr/lib/python3.11/lib-dynload/_asyncio.cpython-311-*.so")
    assert os.access(host_py, os.X_OK) and host_aio, "host python3.11 with _asyncio"
    hosts = [host_py, host_libc(), host_aio[0]]
    it = Interp("tenant", EXE, root=tenant_root)
    c = Container(it, "tenant_swap.py", 60, tenant_root, *hosts)
    try:
        mine = json.loads(c.ready_line)
        maps = open("/proc/%d/maps" % c.pid).read()
        seen = {k: tenant_root + v for k, v in mine.items()}
        for key, host in zip(("python", "libc", "asyncio"), hosts):
            # the kernel names the tenant's file by the path it planted on
            assert " " + seen[key] + "\n" in maps, (seen[key], maps)
            # ... and a lookup through /proc/PID/root finds the host file
            via_root = os.stat("/proc/%d/root%s" % (c.pid, seen[key]))
            assert via_root.st_ino == os.stat(host).st_ino, seen[key]
        mem_out, aio_out = tmp / "mem.json", tmp / "async.json"
        m = run("mem", c.pid, "--live", "-d", 4, "-i", "1s", "-f", "json", "-o", mem_out)
        a = run("async", c.pid, "-d", 4, "-f", "json", "-o", aio_out)
    finally:
        c.stop()
    # the tenant's data arrived: collections, memory it holds
    d = json.loads(mem_out.read_text())
    proc = d["processes"][0]
    assert proc["pid"] == c.pid and proc["gc_probes"] is True and proc["live_probes"] is True, proc
    gens = {g["generation"]: g for g in proc["gc"]}
    assert gens.get(2, {}).get("count", 0) >= 10, proc["gc"]
    src = "/tmp/pyrograph-tests/tenant_swap.py"
    leaky = "leaky (%s:%d)" % (src, line_of(os.path.join(tenant_root, src.lstrip("/")), "# LEAK"))
    held = d["live_by_function"]
    assert held and held[0]["frame"] == leaky and held[0]["held"] >= 5 * 256 * 1024, held[:3]
    # ... task steps
    steps = {s["coroutine"]["function"]: s for s in json.loads(aio_out.read_text())["task_steps"]}
    assert steps.get("stepper", {}).get("count", 0) >= 100, steps.keys()
    assert steps.get("chores", {}).get("count", 0) >= 10, steps.keys()
    real = {k: os.stat(v).st_ino for k, v in seen.items()}
    host = {os.stat(h).st_ino for h in hosts}
    assert not set(real.values()) & host
    # each kind of probe went on the inode the tenant maps, none on the
    # host's (-v says which inode each probe's file is)
    assert inode_of(m.stderr, "probes", seen["python"]) == real["python"], m.stderr
    assert inode_of(m.stderr, "C allocator probes", seen["libc"]) == real["libc"], m.stderr
    assert inode_of(a.stderr, "places?", seen["asyncio"]) == real["asyncio"], a.stderr
    for err in (m.stderr, a.stderr):
        for h in hosts:
            # (the tenant's command line, in its label, names them)
            named = [l for l in err.splitlines() if "tracking python3.13 " not in l and
                     re.search(r"(^|[\s(])" + re.escape(h), l)]
            assert not named, (h, named)

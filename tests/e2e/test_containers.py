# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Containers as the kernel sees them: processes in their own pid and mount
namespaces (unshare + chroot into Debian trees) and in docker-style cgroups,
profiled from the host; build variants; churn; pre-fork pools."""
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import time

import pytest

from conftest import (IN_CI, TREES, VARIANTS, WORKLOADS, Interp, binary, frames_of,
                      line_of, parse_collapsed, record, record_running, start_ready, stop)
from conftest import PROC_FRAME, by_name, pid_stacks, proc_frames, proc_index

CGROUP2 = "/sys/fs/cgroup/unified" if os.path.exists("/sys/fs/cgroup/unified/cgroup.procs") \
    else "/sys/fs/cgroup"


class Container:
    """A process in new pid + mount namespaces, chrooted into a tree, moved
    into a docker-style cgroup: what a container is to the kernel."""

    def __init__(self, it, script, *args):
        self.id = secrets.token_hex(32)
        self.cg = os.path.join(CGROUP2, "docker", self.id)
        os.makedirs(self.cg)
        argv = ["unshare", "--pid", "--mount", "--fork", "--kill-child"] + it.argv(script, *args)
        self.outer = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.outer.stdout.readline()
        if not line:
            raise RuntimeError("container did not start: " + self.outer.stderr.read())
        self.ready_line = line.strip()
        # unshare --fork: the interpreter is unshare's child (pid 1 inside).
        with open("/proc/%d/task/%d/children" % (self.outer.pid, self.outer.pid)) as f:
            self.pid = int(f.read().split()[0])
        with open(os.path.join(self.cg, "cgroup.procs"), "w") as f:
            f.write(str(self.pid))

    def stop(self):
        stop(self.outer)
        for _ in range(100):
            try:
                os.rmdir(self.cg)
                break
            except OSError:
                time.sleep(0.05)


def expected_chain(it):
    path = it.workload_path("nested.py")
    src = it.host_path(path)
    return ";".join([
        "<module> (%s:%d)" % (path, line_of(src, "# CALL1")),
        "level_one (%s:%d)" % (path, line_of(src, "# CALL2")),
        "level_two (%s:%d)" % (path, line_of(src, "# CALL3")),
        "level_three (%s:%d)" % (path, line_of(src, "# LEAF")),
    ])


@pytest.mark.parametrize("name", ["debian-trixie-3.13", "debian-sid-3.14"])
def test_container_from_host(name, tmp):
    it = by_name(name)
    exe = it.python
    c = Container(it, "nested.py", 30)
    host = by_name("debian-3.11").start("nested.py", 30)
    try:
        out = tmp / "all.txt"
        r = record(["-a", "-d", 3, "-o", out])
        assert r.returncode == 0, r.stderr
        only = tmp / "only.txt"
        r2 = record(["--container", c.id[:10], "-d", 3, "-o", only])
        assert r2.returncode == 0, r2.stderr
        by_cgroup = tmp / "cgroup.txt"
        cg = "/" + os.path.relpath(c.cg, CGROUP2)
        r3 = record(["--cgroup", cg, "-d", 2, "-o", by_cgroup])
        assert r3.returncode == 0, r3.stderr
    finally:
        c.stop()
        stop(host)
    stacks = parse_collapsed(out.read_text())
    # Labelled with the container id, pid shown as host/in-container (1).
    procs = proc_frames(stacks, c.pid)
    assert procs == {"%s /tmp/pyrograph-tests/nested.py 30 (%d/1)" % (os.path.basename(exe), c.pid)}, procs
    for s in stacks:
        f = frames_of(s)
        i = proc_index(f, c.pid)
        if i is not None:
            assert i == 1 and f[0] == "container " + c.id[:12], f[:2]
    # Paths as the container sees them, exact chain.
    mine = pid_stacks(stacks, c.pid)
    total = sum(mine.values())
    assert mine.get(expected_chain(it), 0) >= 0.9 * total > 0, mine
    # The host process is in the same recording, without a container frame.
    assert pid_stacks(stacks, host.pid)
    # --container selects only the container.
    sel = parse_collapsed(only.read_text())
    assert pid_stacks(sel, c.pid)
    assert not pid_stacks(sel, host.pid)
    assert all(s.startswith("container " + c.id[:12] + ";") for s in sel), list(sel)[:3]
    # --cgroup selects by path too, on the same docker layout: only the
    # container's process, with the container's exact chain
    cgs = parse_collapsed(by_cgroup.read_text())
    mine = pid_stacks(cgs, c.pid)
    assert sum(mine.values()) > 0 and mine.get(expected_chain(it), 0) >= 0.9 * sum(mine.values()), \
        list(cgs)[:3]
    assert not pid_stacks(cgs, host.pid), list(cgs)[:3]
    assert all(proc_index(frames_of(s), c.pid) is not None for s in cgs), list(cgs)[:3]


def test_cgroup_filter(tmp):
    it = by_name("debian-3.11")
    cid = secrets.token_hex(32)
    cg = os.path.join(CGROUP2, "pyrograph-test-" + cid[:8])
    os.makedirs(cg)
    inside = it.start("nested.py", 30)
    outside = it.start("nested.py", 30)
    try:
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(inside.pid))
        out = tmp / "cg.txt"
        rel = "/" + os.path.relpath(cg, CGROUP2)
        r = record(["--cgroup", rel, "-d", 2, "-o", out])
        assert r.returncode == 0, r.stderr
    finally:
        stop(inside)
        stop(outside)
        time.sleep(0.2)
        os.rmdir(cg)
    stacks = parse_collapsed(out.read_text())
    assert pid_stacks(stacks, inside.pid)
    assert not pid_stacks(stacks, outside.pid)
    assert all(s.startswith("cgroup %s;" % rel) for s in stacks), list(stacks)[:2]


@pytest.mark.parametrize("name", ["debian-%s-3.%d%s" % (tree, minor, suffix)
                                  for tree, minor in TREES for suffix in VARIANTS])
def test_debian_build_variants(name, tmp):
    """Debian's default (-pie) builds beside the -nopie (ET_EXEC) ones the
    matrix runs everywhere, and the debug (-dbg, via _Py_DebugOffsets)
    builds: the exact chain with lines."""
    it = by_name(name)
    out = tmp / "v.txt"
    p, _ = record_running(it, "nested.py", [30], ["-d", 2], out)
    mine = pid_stacks(parse_collapsed(out.read_text()), p.pid)
    total = sum(mine.values())
    assert total > 0 and mine.get(expected_chain(it), 0) >= 0.9 * total, mine


def test_old_debug_build_is_unsupported(tmp):
    exe = "/usr/bin/python3.11d"
    if not os.access(exe, os.X_OK):
        pytest.fail("python3.11-dbg not installed (scripts/deps.sh)") if IN_CI else pytest.skip(exe)
    p = Interp("debian-3.11d", exe).start("nested.py", 30)
    try:
        r = record(["-p", p.pid, "-d", 1, "-o", tmp / "x.txt"])
    finally:
        stop(p)
    assert r.returncode != 0
    assert r.stderr.strip() == ("pyrograph: unsupported build: /usr/bin/python3.11d is a debug "
                                "(--with-pydebug) build of Python 3.11; debug builds are supported "
                                "from 3.13 on"), r.stderr


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_stripped_and_deleted_executable(how, tmp):
    """Debian's python3.11 is stripped (no .symtab); a copy of it is deleted
    (or replaced by another file) while it runs, and is profiled through
    /proc/PID/map_files."""
    secs = subprocess.run(["readelf", "-S", "/usr/bin/python3.11"], capture_output=True,
                          text=True).stdout
    assert ".symtab" not in secs, "expected Debian's stripped python3.11"
    d = tmp / "bin"
    d.mkdir()
    exe = d / "python3.11"
    shutil.copy("/usr/bin/python3.11", exe)
    env = dict(os.environ, PYTHONHOME="/usr")
    p = subprocess.Popen([str(exe), os.path.join(WORKLOADS, "nested.py"), "30"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    if how == "deleted":
        exe.unlink()
    else:  # an upgrade: a new file renamed over the path
        shutil.copy("/bin/true", d / "new")
        os.rename(d / "new", exe)
    out = tmp / "del.txt"
    try:
        assert os.readlink("/proc/%d/exe" % p.pid).endswith("(deleted)")
        r = record(["-p", p.pid, "-d", 2, "-o", out])
        assert r.returncode == 0, r.stderr
    finally:
        stop(p)
    mine = pid_stacks(parse_collapsed(out.read_text()), p.pid)
    assert any(s.endswith("level_three (%s:%d)" % (os.path.join(WORKLOADS, "nested.py"),
                                                    line_of(os.path.join(WORKLOADS, "nested.py"), "# LEAF")))
               for s in mine), mine


def test_multiprocessing_pool(tmp):
    """Every worker of a forked pool appears under its parent."""
    it = by_name("debian-3.11")
    out = tmp / "pool.txt"
    script = os.path.join(WORKLOADS, "pool.py")
    p = subprocess.Popen([binary(), "record", "-q", "-s", "-o", str(out), "--", it.python, script],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    so, se = p.communicate(timeout=120)
    assert p.returncode == 0, se
    workers = [int(x) for x in so.split()]
    assert len(workers) == 4, so
    stacks = parse_collapsed(out.read_text())
    parents = {frames_of(s)[0] for s in stacks}
    assert len(parents) == 1, parents
    parent = parents.pop()
    for w in workers:
        mine = [s for s in stacks if proc_index(frames_of(s), w) == 1]
        assert mine, "worker %d missing under %s" % (w, parent)
        assert any(frames_of(s)[-1].startswith("pool_work (") for s in mine), mine[:2]


def _map_keys(name, pid):
    """The u32 keys of the BPF map NAME that process PID holds (by its fds'
    map_id: other recorders on the machine have maps of the same name)."""
    mine = set()
    for fd in os.listdir("/proc/%d/fdinfo" % pid):
        try:
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                mine |= {int(l.split()[1]) for l in f if l.startswith("map_id:")}
        except OSError:
            continue
    shown = json.loads(subprocess.run(["bpftool", "-j", "map", "show"], capture_output=True,
                                      text=True, check=True).stdout)
    ids = [m["id"] for m in shown if m.get("name") == name and m["id"] in mine]
    assert len(ids) == 1, "pid %d holds BPF maps %s named %s" % (pid, ids, name)
    dump = json.loads(subprocess.run(["bpftool", "-j", "map", "dump", "id", str(ids[0])],
                                     capture_output=True, text=True, check=True).stdout)
    keys = set()
    for e in dump:
        if "formatted" in e:
            keys.add(int(e["formatted"]["key"]))
        else:
            keys.add(int.from_bytes(bytes(int(b, 16) for b in e["key"]), "little"))
    return keys


def test_churn(tmp):
    """200 short-lived Pythons (100-500 ms, mixed versions, some in
    namespaces) started over ~15 s of a host-wide recording."""
    long_it = by_name("debian-3.11")
    res = tmp / "real.json"
    steady = long_it.start("split.py", 26, 10.0, 0.7, res, "cpu")
    kinds = [by_name(n) for n in ("debian-3.11", "pyenv-3.8", "pyenv-3.10", "pyenv-3.12",
                                  "pyenv-3.13")]
    trees = [by_name("debian-trixie-3.13"), by_name("debian-sid-3.14")]
    out = tmp / "churn.txt"
    # 300 Hz: the steady process gets ~40% of a CPU under churn, and ±3
    # points must be >= 3 binomial standard errors (needs ~2000 samples).
    rnd = random.Random(42)
    short = []
    rec = None
    try:
        # the short-lived ones start once sampling runs; it runs until
        # SIGINT, after the map is read (on a loaded machine the 200 starts
        # can take longer than a fixed duration)
        rec = start_ready(["record", "-q", "-a", "-r", "300", "-d", "120", "-o", out])
        t0 = time.monotonic()
        for i in range(200):
            ms = rnd.randint(100, 500)
            if i % 5 == 4:
                it = trees[i % 2]
                argv = ["unshare", "--pid", "--mount", "--fork", "--kill-child"] + it.argv("churn.py", ms)
            else:
                argv = kinds[i % len(kinds)].argv("churn.py", ms)
            short.append(subprocess.Popen(argv))
            # 200 starts spread over ~15 s
            time.sleep(max(0, t0 + (i + 1) * 0.075 - time.monotonic()))
            if len([p for p in short if p.poll() is None]) > 12:
                time.sleep(0.2)
        for p in short:
            p.wait(timeout=30)
        time.sleep(0.5)
        assert rec.poll() is None, rec.communicate()[1]
        tracked = _map_keys("procs", rec.pid)
        # at least 20 s of recording, for the steady process's samples
        time.sleep(max(0, rec.ready_at + 20 - time.monotonic()))
        rec.send_signal(signal.SIGINT)
        _, err = rec.communicate(timeout=60)
        assert rec.returncode == 0, err
        # it measured its split in thread CPU time: stop it now, it writes
        # what it spent (on a loaded machine its 26 CPU seconds take longer)
        steady.terminate()
        steady.wait(timeout=30)
    finally:
        for p in short:
            stop(p)
        stop(steady)
        if rec and rec.poll() is None:
            rec.kill()
    assert all(p.returncode == 0 for p in short), [p.returncode for p in short]
    # Dead processes released: none of the 200 is left in the per-process
    # map (what else it holds are live Python processes on the host)
    gone = {p.pid for p in short}
    assert not tracked & gone, "per-process map still holds %s" % sorted(tracked & gone)
    assert steady.pid in tracked, sorted(tracked)
    live_entries = len(tracked)

    stacks = parse_collapsed(out.read_text())
    # The long-running process is unaffected: 70/30 within 3 points.
    real = json.loads(res.read_text())
    real_hot = 100.0 * real["hot"] / (real["hot"] + real["cold"])
    hot = cold = 0
    for s, c in pid_stacks(stacks, steady.pid).items():
        names = [f.split(" ")[0] for f in frames_of(s)]
        hot += c if "hot" in names else 0
        cold += c if "cold" in names else 0
    assert hot + cold > 1800, (hot, cold)
    assert abs(100.0 * hot / (hot + cold) - real_hot) <= 3.0, (hot, cold, real_hot)
    # The short-lived ones were seen with resolved names (one process frame
    # each; namespaced ones read 'host/nspid').
    churn_procs = set()
    for s in stacks:
        f = frames_of(s)
        if f[-1].startswith("churn_fn ("):
            churn_procs.update(x for x in f[:3] if "churn.py" in x and PROC_FRAME.search(x))
    print("churn: %d of 200 short-lived processes resolved; steady hot %.1f%% (real %.1f%%); "
          "map entries after churn %d\n%s" % (len(churn_procs), 100.0 * hot / (hot + cold), real_hot,
                                                live_entries, err))
    assert len(churn_procs) >= 160, "only %d of 200 short-lived processes appear" % len(churn_procs)
    # The summary accounts for every sample.
    m = re.search(r"accounting: (\d+) samples = (\d+) Python \+ (\d+) other processes \+ (\d+) threads "
                  r"without a Python thread state \+ (\d+) idle in native code \+ (\d+) not holding the GIL \+ "
                  r"(\d+) outside event-loop iterations \+ (\d+) dropped \+ "
                  r"(\d+) lost in userspace", err)
    assert m, err
    parts = [int(x) for x in m.groups()]
    assert parts[0] == sum(parts[1:]), err
    assert parts[1] == sum(stacks.values()), (parts[1], sum(stacks.values()))



def test_exec_is_followed(tmp):
    """A process that execs another interpreter keeps being profiled: the
    old image's frames before, the new image's after, same pid."""
    it = by_name("debian-3.11")
    new = by_name("pyenv-3.12")
    p = it.start("execs.py", 1.5, new.python, os.path.join(WORKLOADS, "named.py"), "after_exec", 30)
    out = tmp / "exec.txt"
    rec = None
    try:
        rec = start_ready(["record", "-q", "-p", p.pid, "-d", 4, "-o", out])
        os.kill(p.pid, signal.SIGUSR1)  # sampling runs: go on to before_exec
        _, err = rec.communicate(timeout=60)
        assert rec.returncode == 0, err
    finally:
        stop(p)
        if rec and rec.poll() is None:
            rec.kill()
    mine = pid_stacks(parse_collapsed(out.read_text()), p.pid)
    leaves = {frames_of(s)[-1].split(" ")[0] for s in mine}
    assert {"before_exec", "after_exec"} <= leaves, leaves
    roots = proc_frames(parse_collapsed(out.read_text()), p.pid)
    assert any("execs.py" in x for x in roots) and any("after_exec" in x for x in roots), roots

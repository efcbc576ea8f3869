# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Containers by the names their users use, with a real runtime: root
podman (Debian 12's 4.3, runc) runs Python 3.13 from the trixie tree,
imported once as an image. Root frames, --container NAME, pprof labels and
the agent's metrics name the container and its image, read from podman's
own state (no podman command while profiling); so does a container that
starts and is removed during a recording. The docker, containerd and cri-o
layouts are tested on their state files (tests/unit/test_containers.c).

The VM's hybrid cgroups refuse crun (so --runtime runc) and the default
nofile/nproc limits: scripts/deps.sh writes a drop-in with
default_ulimits = [] (/etc/containers/containers.conf.d/)."""
import os
import re
import secrets
import shutil
import signal
import subprocess
import time

import pytest

from conftest import (CHROOTS, IN_CI, WORKLOADS, binary, by_name, frames_of, line_of,
                      parse_collapsed, pid_stacks, record, stop)
from test_agent import Receiver, decode_pprof
from test_metrics import PROMTOOL, Agent, samples

TREE = os.path.join(CHROOTS, "trixie")
DROP_IN = "/etc/containers/containers.conf.d/50-pyrograph-tests.conf"
SCRIPT = os.path.join(WORKLOADS, "nested.py")


def need_podman():
    missing = [t for t in ("podman", "runc") if not shutil.which(t)]
    if missing:
        msg = "%s not installed (scripts/deps.sh)" % " ".join(missing)
        pytest.fail(msg) if IN_CI else pytest.skip(msg)
    if not os.path.exists(DROP_IN):
        msg = "%s missing: podman cannot start containers here (scripts/deps.sh)" % DROP_IN
        pytest.fail(msg) if IN_CI else pytest.skip(msg)


def podman(*args, check=True, timeout=120):
    r = subprocess.run(["podman"] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout)
    assert not check or r.returncode == 0, (args, r.stdout, r.stderr)
    return r


@pytest.fixture(scope="module")
def image():
    """localhost/pyrograph-trixie:TAG, imported from the trixie tree once
    per build of the tree (TAG: its ready marker's mtime)."""
    need_podman()
    marker = os.path.join(TREE, ".pyrograph-ready")
    if not os.path.exists(marker) or not os.access(os.path.join(TREE, "usr/bin/python3.13"),
                                                   os.X_OK):
        msg = "trixie tree not prepared at %s (scripts/build-chroots.sh)" % TREE
        pytest.fail(msg) if IN_CI else pytest.skip(msg)
    name = "localhost/pyrograph-trixie:%d" % int(os.stat(marker).st_mtime)
    if podman("image", "exists", name, check=False).returncode != 0:
        t0 = time.monotonic()
        tar = subprocess.Popen(["tar", "-C", TREE, "--exclude=./proc", "-c", "."],
                               stdout=subprocess.PIPE)
        imp = subprocess.run(["podman", "import", "-", name], stdin=tar.stdout,
                             capture_output=True, text=True, timeout=600)
        tar.stdout.close()
        assert tar.wait() == 0 and imp.returncode == 0, imp.stderr
        print("imported %s in %.1f s" % (name, time.monotonic() - t0))
        # the images of earlier builds of the tree (~460 MB each) go
        old = podman("images", "--format", "{{.Repository}}:{{.Tag}}",
                     "localhost/pyrograph-trixie").stdout.split()
        for o in old:
            if o != name:
                podman("rmi", o, check=False)
    return name


class Container:
    """podman run -d --runtime runc: nested.py as /app/x.py, on the
    image's python3.13."""

    def __init__(self, image, seconds=120):
        self.name = "pyro-" + secrets.token_hex(4)
        self.image = image
        r = podman("run", "-d", "--runtime", "runc", "--name", self.name,
                   "-v", "%s:/app/x.py:ro" % SCRIPT, image, "python3.13", "/app/x.py", seconds)
        self.id = r.stdout.strip().splitlines()[-1]
        assert re.fullmatch(r"[0-9a-f]{64}", self.id), r.stdout
        deadline = time.monotonic() + 30
        while "ready" not in podman("logs", self.name).stdout:
            assert time.monotonic() < deadline, "%s did not start" % self.name
            time.sleep(0.05)
        self.pid = int(podman("inspect", "-f", "{{.State.Pid}}", self.name).stdout)
        assert self.pid > 0

    @property
    def frame(self):
        return "container %s (%s, %s)" % (self.name, self.id[:12], self.image)

    def remove(self):
        podman("rm", "-f", "-t", "0", self.name, check=False)


@pytest.fixture(scope="module")
def two(image):
    a = b = None
    try:
        a = Container(image)
        b = Container(image)
        yield a, b
    finally:
        for c in (a, b):
            if c:
                c.remove()


def roots_of(stacks, pid):
    """{frames before pid's process frame} of every stack of pid."""
    out = set()
    for s in stacks:
        f = frames_of(s)
        for i, x in enumerate(f[:4]):
            if re.search(r" \(%d(/\d+)?\)$" % pid, x):
                out.add(tuple(f[:i]))
    return out


def test_names_and_images(two, tmp):
    """record -a: each container's root frame is its name, short id and
    image; the host's own Python has none."""
    a, b = two
    host = by_name("debian-3.11").start("nested.py", 30)
    out = tmp / "all.txt"
    try:
        r = record(["-a", "-d", 3, "-o", out])
        assert r.returncode == 0, r.stderr
    finally:
        stop(host)
    stacks = parse_collapsed(out.read_text())
    for c in (a, b):
        assert roots_of(stacks, c.pid) == {(c.frame,)}, (c.frame, roots_of(stacks, c.pid))
        # the container's own view of the process: pid 1, /app/x.py
        leaf = "level_three (/app/x.py:%d)" % line_of(SCRIPT, "# LEAF")
        assert any(s.endswith(leaf) for s in pid_stacks(stacks, c.pid)), pid_stacks(stacks, c.pid)
    assert roots_of(stacks, host.pid) == {()}, roots_of(stacks, host.pid)


def test_select_by_name(two, tmp):
    """--container NAME: only that container, in every format; its pprof
    labels carry its name, id and image (go tool pprof -tags)."""
    a, b = two
    txt, pb = tmp / "sel.txt", tmp / "sel.pb.gz"
    r = record(["--container", a.name, "-d", 3, "-o", txt, "-o", pb])
    assert r.returncode == 0, r.stderr
    stacks = parse_collapsed(txt.read_text())
    assert pid_stacks(stacks, a.pid)
    assert not pid_stacks(stacks, b.pid)
    assert all(s.startswith(a.frame + ";") for s in stacks), list(stacks)[:3]
    if not shutil.which("go"):
        pytest.fail("go not installed (scripts/deps.sh)") if IN_CI else pytest.skip("no go")
    tags = subprocess.run(["go", "tool", "pprof", "-tags", str(pb)], capture_output=True,
                          text=True, timeout=120)
    assert tags.returncode == 0, tags.stderr
    for key, value in (("container", a.name), ("container_id", a.id[:12]), ("image", a.image)):
        m = re.search(r"^ *%s: Total .*\n((?: +\S.*\n)+)" % key, tags.stdout, re.M)
        assert m and re.search(r"\( *100%%\): %s$" % re.escape(value), m.group(1), re.M), \
            (key, value, tags.stdout)
    # an id prefix still selects, and only that container
    r = record(["--container", b.id[:10], "-d", 2, "-o", txt])
    assert r.returncode == 0, r.stderr
    stacks = parse_collapsed(txt.read_text())
    assert pid_stacks(stacks, b.pid) and not pid_stacks(stacks, a.pid)
    assert all(s.startswith(b.frame + ";") for s in stacks), list(stacks)[:3]


def test_agent_names(two, tmp):
    """The agent: its metrics say container="NAME" on the container's series
    (promtool accepts the exposition), its uploads container=NAME in the
    query and the pprof labels in the body."""
    a, _ = two
    rx = Receiver()
    agent = Agent("--container", a.name, "--server", "http://127.0.0.1:%d" % rx.port,
                  "--period", "2")
    try:
        deadline = time.monotonic() + 20
        while True:
            text = agent.scrape()
            mine = [x for x in samples(text) if x[1].get("pid") == str(a.pid)]
            if (any(x[0] == "pyrograph_process_resident_memory_bytes" for x in mine) and
                    rx.got) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        assert agent.stop() == 0, "".join(agent.err)
        rx.close()
    assert mine, text[-2000:]
    assert all(x[1].get("container") == a.name for x in mine), mine[:3]
    assert "pod" not in mine[0][1], mine[0]
    if PROMTOOL:
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), \
            (r.stdout, r.stderr)
    assert rx.got, "no uploads: %s" % "".join(agent.err)
    name = rx.got[0][1]["name"][0]
    labels = dict(kv.split("=", 1) for kv in name[name.index("{") + 1:-1].split(","))
    assert labels["container"] == a.name and labels["pid"] == str(a.pid), labels
    _, keys, _ = decode_pprof(rx.got[0][2])
    assert {"container", "container_id", "image", "pid", "process"} <= keys, keys


def test_started_and_removed_during_recording(image, tmp):
    """A container started during `record -a` and removed before it ends
    is named: its state is read when its first process is seen."""
    out = tmp / "late.txt"
    rfd, wfd = os.pipe()
    rec = subprocess.Popen([binary(), "record", "-q", "-a", "-d", "120", "--ready-fd", str(wfd),
                            "-o", str(out)], pass_fds=(wfd,), stderr=subprocess.PIPE, text=True)
    os.close(wfd)
    c = None
    try:
        with os.fdopen(rfd) as f:
            assert f.read().strip() == "ready"
        c = Container(image, seconds=30)
        time.sleep(2)
        c.remove()
        assert podman("container", "exists", c.name, check=False).returncode != 0
        assert not os.path.exists("/var/lib/containers/storage/overlay-containers/" + c.id)
        time.sleep(0.5)
        rec.send_signal(signal.SIGINT)  # stops early, writes a complete file
        _, err = rec.communicate(timeout=60)
        assert rec.returncode == 0, err
    finally:
        if rec.poll() is None:
            rec.kill()
            rec.wait()
        if c:
            c.remove()
    stacks = parse_collapsed(out.read_text())
    assert roots_of(stacks, c.pid) == {(c.frame,)}, (c.frame, roots_of(stacks, c.pid))
    assert sum(pid_stacks(stacks, c.pid).values()) > 50, pid_stacks(stacks, c.pid)

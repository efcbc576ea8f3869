# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Fixtures for end-to-end tests: the real binary, run as root, against real
interpreters. The interpreter matrix is discovered here; an interpreter that
is expected but could not be prepared is a failure in CI (CI=true) and a
reported skip elsewhere, never a silent pass."""
import glob
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKLOADS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workloads")
CHROOTS = os.environ.get("PYROGRAPH_CHROOTS", "/var/cache/pyrograph/chroots")
IN_CI = os.environ.get("CI") == "true"


def binary():
    build = os.environ.get("PYROGRAPH_BUILD") or os.path.join(ROOT, "build")
    b = os.environ.get("PYROGRAPH_BIN") or os.path.join(build, "pyrograph")
    if not os.access(b, os.X_OK):
        pytest.fail("pyrograph binary not found at %s (build first: scripts/test)" % b)
    return b


class Interp:
    """One interpreter of the matrix; run() starts a workload on it."""

    def __init__(self, name, python, root=None, version=None):
        self.name = name
        self.python = python  # path as the process sees it
        self.root = root  # chroot tree or None
        self.version = version

    def __repr__(self):
        return self.name

    def workload_path(self, script):
        """Where the script lives as the interpreter sees it."""
        if not self.root:
            return os.path.join(WORKLOADS, script)
        dst_dir = os.path.join(self.root, "tmp", "pyrograph-tests")
        os.makedirs(dst_dir, exist_ok=True)
        shutil.copy(os.path.join(WORKLOADS, script), dst_dir)
        return os.path.join("/tmp/pyrograph-tests", script)

    def host_path(self, path):
        return os.path.join(self.root, path.lstrip("/")) if self.root else path

    def argv(self, script, *args):
        cmd = [self.python, self.workload_path(script)] + [str(a) for a in args]
        if self.root:
            cmd = ["chroot", self.root] + cmd
        return cmd

    def python_version(self):
        """The version CPython itself reports (sys.version_info): the
        outside truth for what pyrograph reads from the binary."""
        if not getattr(self, "_version_info", None):
            cmd = [self.python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"]
            if self.root:
                cmd = ["chroot", self.root] + cmd
            self._version_info = subprocess.run(cmd, capture_output=True, text=True,
                                                check=True, timeout=60).stdout.strip()
        return self._version_info

    def start(self, script, *args, wait_ready=True):
        p = subprocess.Popen(self.argv(script, *args), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        if wait_ready:
            line = p.stdout.readline()
            if not line:
                err = p.stderr.read()
                p.kill()
                raise RuntimeError("%s %s did not start: %s" % (self.name, script, err))
            p.ready_line = line.strip()
        return p


PYENV_ROOT = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
# Debian trees (scripts/build-chroots.sh) and their interpreters: python3.X
# is the -nopie build (ET_EXEC) where the archive has one, python3.X-pie
# Debian's default build, python3.Xd the debug build (-dbg).
TREES = (("trixie", 13), ("sid", 14), ("experimental", 15))
VARIANTS = ("-pie", "d")


class Row:
    """One interpreter the test brief names: ready (interp set) or not
    prepared (reason says why). param rows run every test that takes the
    interp fixture; the others are asked for by name."""

    def __init__(self, name, interp, reason, param=True):
        self.name, self.interp, self.reason, self.param = name, interp, reason, param


def _pyenv(minor):
    found = sorted(glob.glob(os.path.join(PYENV_ROOT, "versions", "3.%d.*" % minor)))
    for d in reversed(found):
        exe = os.path.join(d, "bin", "python3.%d" % minor)
        if re.match(r"3\.%d\.\d+$" % minor, os.path.basename(d)) and os.access(exe, os.X_OK):
            return Interp("pyenv-" + os.path.basename(d), exe, version=os.path.basename(d)), None
    return None, "no pyenv build of 3.%d in %s/versions (pyenv install 3.%d)" % (
        minor, PYENV_ROOT, minor)


def _chroot(tree, minor, suffix=""):
    root = os.path.join(CHROOTS, tree)
    exe = "/usr/bin/python3.%d%s" % (minor, suffix)
    stamp = os.path.join(root, ".pyrograph-ready")
    if not os.path.exists(stamp):
        return None, "tree %s not prepared: no %s (scripts/build-chroots.sh %s)" % (
            root, stamp, tree)
    with open(stamp) as f:
        listed = {line.split()[0] for line in f if line.split()}
    if os.path.basename(exe) not in listed or \
            not os.access(os.path.join(root, exe.lstrip("/")), os.X_OK):
        return None, "%s is not in tree %s (its stamp lists %s; scripts/build-chroots.sh)" % (
            exe, root, " ".join(sorted(listed)) or "nothing")
    return Interp("debian-%s-3.%d%s" % (tree, minor, suffix), exe, root=root), None


def matrix():
    """Every interpreter the brief names, prepared or not: a missing one is
    a row with its reason, never a row left out."""
    rows = []
    host = "/usr/bin/python3.11"
    rows.append(Row("debian-3.11", Interp("debian-3.11", host) if os.access(host, os.X_OK)
                    else None, "missing %s (apt-get install python3.11)" % host))
    for minor in range(8, 14):
        rows.append(Row("pyenv-3.%d" % minor, *_pyenv(minor)))
    for tree, minor in TREES:
        rows.append(Row("debian-%s-3.%d" % (tree, minor), *_chroot(tree, minor)))
    for tree, minor in TREES:
        for suffix in VARIANTS:
            rows.append(Row("debian-%s-3.%d%s" % (tree, minor, suffix),
                            *_chroot(tree, minor, suffix), param=False))
    # stands for an interpreter too old to read (test_unsupported_build)
    rows.append(Row("pyenv-3.7", *_pyenv(7), param=False))
    return rows


MATRIX = matrix()
RAN = {}


def pytest_generate_tests(metafunc):
    if "interp" in metafunc.fixturenames:
        rows = [r for r in MATRIX if r.param]
        metafunc.parametrize("interp", rows, ids=[r.name for r in rows], indirect=True)


def _not_prepared(row):
    msg = "interpreter %s not prepared: %s" % (row.name, row.reason)
    if IN_CI:
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


@pytest.fixture
def interp(request):
    row = request.param
    if row.interp is None:
        _not_prepared(row)
    RAN.setdefault(row.name, set()).add(request.node.originalname)
    return row.interp


def pytest_terminal_summary(terminalreporter):
    tr = terminalreporter
    tr.write_sep("-", "interpreter matrix")
    for row in MATRIX:
        if row.interp is None:
            tr.write_line("  %-30s NOT PREPARED: %s" % (row.name, row.reason))
        elif row.name in RAN:
            tr.write_line("  %-30s ran: %s" % (row.name, ", ".join(sorted(RAN[row.name]))))
        else:
            tr.write_line("  %-30s available, not exercised in this run" % row.name)


@pytest.fixture
def tmp(tmp_path):
    return tmp_path


class Result:
    def __init__(self, proc, stdout, stderr):
        self.returncode = proc.returncode
        self.stdout = stdout
        self.stderr = stderr


def record(args, timeout=120, **kw):
    """Runs `pyrograph record ARGS` to completion."""
    p = subprocess.run([binary(), "record", "-q"] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=timeout, **kw)
    return p


def wait_ready(fd, proc, timeout=90):
    """Reads the --ready-fd pipe FD (and closes it): returns once the
    command wrote "ready", fails the test with what it said if it closed the
    pipe without (it failed to start) or stayed silent for TIMEOUT s."""
    buf = b""
    deadline = time.monotonic() + timeout
    try:
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                proc.kill()
                raise AssertionError("%s not ready after %d s: %s" % (
                    proc.args[:3], timeout, _stderr_of(proc)))
            chunk = os.read(fd, 64)
            if not chunk:
                break
            buf += chunk
    finally:
        os.close(fd)
    if buf != b"ready\n":
        proc.wait(timeout=30)
        raise AssertionError("%s closed --ready-fd without ready (exit %s): %s" % (
            proc.args[:3], proc.returncode, _stderr_of(proc)))
    proc.ready_at = time.monotonic()
    proc.ready_boottime = time.clock_gettime(time.CLOCK_BOOTTIME)
    return proc


def _stderr_of(proc):
    if proc.stderr is None:
        return "(stderr not captured)"
    if proc.poll() is None:
        proc.kill()
    try:
        return proc.communicate(timeout=10)[1]
    except (subprocess.TimeoutExpired, ValueError):
        return "(stderr unreadable)"


def start_ready(args, timeout=90, **kw):
    """Starts `pyrograph CMD --ready-fd FD ARGS...` (args = [CMD, ARGS...]) and
    returns its Popen once sampling runs (proc.ready_at: time.monotonic()
    then; proc.ready_boottime: CLOCK_BOOTTIME, the clock of /proc's start
    times). stderr is a text pipe unless given."""
    r, w = os.pipe()
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("text", True)
    argv = [binary(), str(args[0]), "--ready-fd", str(w)] + [str(a) for a in args[1:]]
    try:
        p = subprocess.Popen(argv, pass_fds=(w,), **kw)
    except BaseException:
        os.close(r)
        raise
    finally:
        os.close(w)
    return wait_ready(r, p, timeout)


def started_after(pid, boottime):
    """True when process PID started after the CLOCK_BOOTTIME instant
    (within /proc's one-tick resolution)."""
    with open("/proc/%d/stat" % pid) as f:
        start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    return start_ticks / os.sysconf("SC_CLK_TCK") >= boottime - 1.0 / os.sysconf("SC_CLK_TCK")


def record_running(it, script, args, rec_args, out):
    """Starts SCRIPT on interpreter it, records it with `-p PID REC_ARGS -o
    OUT`, stops it. Returns (process, completed record run); the recording
    must succeed."""
    p = it.start(script, *args)
    try:
        r = record(["-p", p.pid] + list(rec_args) + ["-o", out])
        assert r.returncode == 0, r.stderr
    finally:
        stop(p)
    return p, r


def parse_collapsed(text):
    """{stack: count}; asserts every line is well-formed."""
    stacks = {}
    for line in text.splitlines():
        if not line:
            continue
        m = re.match(r"^(.*) (\d+)$", line)
        assert m, "malformed collapsed line: %r" % line
        stacks[m.group(1)] = stacks.get(m.group(1), 0) + int(m.group(2))
    return stacks


def frames_of(stack):
    return stack.split(";")


def line_of(path, marker):
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if marker in line:
                return i
    raise AssertionError("marker %s not in %s" % (marker, path))


def free_port():
    """A TCP port on 127.0.0.1 nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
        return r.read()


def wait_http(port, proc, path="/ok", seconds=10):
    """Until the server PROC started answers PATH on PORT; fails with its
    stderr if it exits first."""
    for _ in range(int(seconds * 10)):
        try:
            return http_get(port, path)
        except OSError:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else proc.returncode
            time.sleep(0.1)
    return http_get(port, path)


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
    p.wait()


def by_name(name):
    """The interpreter of row NAME; a row that is not prepared fails the
    test in CI and skips it elsewhere, saying why."""
    for row in MATRIX:
        if row.name == name:
            if row.interp is None:
                _not_prepared(row)
            # for the matrix summary: which tests ran on this interpreter
            test = os.environ.get("PYTEST_CURRENT_TEST", "?").split("::")[-1].split(" ")[0]
            RAN.setdefault(name, set()).add(test.split("[")[0])
            return row.interp
    raise AssertionError("no interpreter row named %r (rows: %s)" % (
        name, ", ".join(r.name for r in MATRIX)))


PROC_FRAME = re.compile(r" \((\d+)(?:/(\d+))?\)$")


def proc_index(frames, pid):
    """Index of the 'command (pid)' / 'command (pid/nspid)' frame, or None."""
    for i, f in enumerate(frames[:8]):
        m = PROC_FRAME.search(f)
        if m and int(m.group(1)) == pid:
            return i
    return None


def pid_stacks(stacks, pid):
    """Stacks of process pid, with the root frames (container, process)
    removed."""
    out = {}
    for s, c in stacks.items():
        f = frames_of(s)
        i = proc_index(f, pid)
        if i is not None:
            key = ";".join(f[i + 1:])
            out[key] = out.get(key, 0) + c
    return out


def proc_frames(stacks, pid):
    """The set of process frames naming pid."""
    out = set()
    for s in stacks:
        f = frames_of(s)
        i = proc_index(f, pid)
        if i is not None:
            out.add(f[i])
    return out

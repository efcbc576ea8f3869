# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Fixtures for end-to-end tests: the real binary, run as root, against real
interpreters. The interpreter matrix is discovered here; an interpreter that
is expected but could not be prepared is a failure in CI (CI=true) and a
reported skip elsewhere, never a silent pass."""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

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


def _pyenv_versions():
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = {}
    for d in sorted(glob.glob(os.path.join(root, "versions", "3.*"))):
        m = re.match(r"3\.(\d+)\.\d+$", os.path.basename(d))
        if not m:
            continue
        minor = int(m.group(1))
        exe = os.path.join(d, "bin", "python3.%d" % minor)
        if 8 <= minor <= 13 and os.access(exe, os.X_OK):
            found[minor] = Interp("pyenv-" + os.path.basename(d), exe,
                                  version=os.path.basename(d))
    return root, found


def _chroot(tree, minor):
    root = os.path.join(CHROOTS, tree)
    exe = "/usr/bin/python3.%d" % minor
    if os.access(os.path.join(root, exe.lstrip("/")), os.X_OK) and \
            os.path.exists(os.path.join(root, ".pyrograph-ready")):
        return Interp("debian-%s-3.%d" % (tree, minor), exe, root=root)
    return None


def matrix():
    """(name, Interp or None, reason) for every interpreter the brief names."""
    out = []
    host = "/usr/bin/python3.11"
    out.append(("debian-3.11", Interp("debian-3.11", host) if os.access(host, os.X_OK) else None,
                "missing " + host))
    pyroot, pyenv = _pyenv_versions()
    if os.path.isdir(pyroot):
        for minor in range(8, 14):
            out.append(("pyenv-3.%d" % minor, pyenv.get(minor),
                        "no pyenv build of 3.%d in %s" % (minor, pyroot)))
    for tree, minor in (("trixie", 13), ("sid", 14), ("experimental", 15)):
        out.append(("debian-%s-3.%d" % (tree, minor), _chroot(tree, minor),
                    "chroot %s/%s not prepared (scripts/build-chroots.sh)" % (CHROOTS, tree)))
    return out


MATRIX = matrix()
RAN = {}


def pytest_generate_tests(metafunc):
    if "interp" in metafunc.fixturenames:
        metafunc.parametrize("interp", [m for m in MATRIX],
                             ids=[m[0] for m in MATRIX], indirect=True)


@pytest.fixture
def interp(request):
    name, it, reason = request.param
    if it is None:
        if IN_CI:
            pytest.fail("interpreter %s could not be prepared: %s" % (name, reason))
        pytest.skip("interpreter %s not prepared: %s" % (name, reason))
    RAN.setdefault(name, set()).add(request.node.originalname)
    return it


def pytest_terminal_summary(terminalreporter):
    tr = terminalreporter
    tr.write_sep("-", "interpreter matrix")
    for name, it, reason in MATRIX:
        if it is None:
            tr.write_line("  %-24s NOT PREPARED: %s" % (name, reason))
        elif name in RAN:
            tr.write_line("  %-24s ran: %s" % (name, ", ".join(sorted(RAN[name]))))
        else:
            tr.write_line("  %-24s available, not exercised in this run" % name)


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


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
    p.wait()


def by_name(name):
    for n, it, reason in MATRIX:
        if n == name:
            if it is None:
                pytest.fail("%s not prepared: %s" % (name, reason)) if os.environ.get("CI") == "true" \
                    else pytest.skip("%s not prepared: %s" % (name, reason))
            # for the matrix summary: which tests ran on this interpreter
            test = os.environ.get("PYTEST_CURRENT_TEST", "?").split("::")[-1].split(" ")[0]
            RAN.setdefault(name, set()).add(test.split("[")[0])
            return it
    pytest.skip("%s not in the matrix on this machine" % name)


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

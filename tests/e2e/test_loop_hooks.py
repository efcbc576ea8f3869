# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Event-loop timing hooks: pyrograph async attaches to the epoll syscalls'
own tracepoints (syscalls/sys_enter_epoll_wait and the like: BPF runs for
those syscalls only), not to the raw sys_enter/sys_exit tracepoints that run
for every syscall of the host, and loop lag is still measured on asyncio and
uvloop. Where the tracepoints are missing it falls back to the raw ones with
a warning (forced here with the test-only environment variable), measuring
the same."""
import json
import os
import select
import subprocess

import pytest

from conftest import (WORKLOADS, binary, by_name, free_port, http_get, line_of, stop,
                      wait_http)

FASTAPI = os.path.join(WORKLOADS, "async_fastapi.py")
FORCE_RAW = "PYROGRAPH_TEST_NO_SYSCALL_TRACEPOINTS"
POLLS = ("epoll_wait", "epoll_pwait", "epoll_pwait2")


def tracing_dir():
    for d in ("/sys/kernel/debug/tracing", "/sys/kernel/tracing"):
        if os.path.isdir(os.path.join(d, "events", "syscalls")):
            return d
    return None


def attached(pid):
    """{(kind, tracepoint)} of the BPF programs process pid has attached
    to tracepoints, as the kernel lists them (bpftool perf)."""
    out = subprocess.run(["bpftool", "-j", "perf"], capture_output=True, text=True,
                         check=True).stdout
    return {(x["fd_type"], x.get("tracepoint")) for x in json.loads(out or "[]")
            if x["pid"] == pid}


def wait_ready(fd, timeout=60):
    """Reads pyrograph's --ready-fd pipe up to its "ready" line."""
    got = b""
    while b"\n" not in got:
        r, _, _ = select.select([fd], [], [], timeout)
        assert r, "pyrograph did not get ready in %d s" % timeout
        chunk = os.read(fd, 64)
        assert chunk, "pyrograph exited before it was ready"
        got += chunk
    assert got.startswith(b"ready"), got


@pytest.mark.parametrize("hooks", ["tracepoints", "fallback"])
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_loop_hooks(loop, hooks, tmp):
    it = by_name("debian-3.11")
    port = free_port()
    app = subprocess.Popen([it.python, FASTAPI, str(port), loop], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    env = dict(os.environ)
    env.pop(FORCE_RAW, None)
    if hooks == "fallback":
        env[FORCE_RAW] = "1"
    out = tmp / "loops.json"
    rec = None
    try:
        wait_http(port, app)
        rfd, wfd = os.pipe()
        rec = subprocess.Popen([binary(), "async", "-q", "-p", str(app.pid), "-d", "5",
                                "-f", "json", "-o", str(out), "--ready-fd", str(wfd)],
                               pass_fds=(wfd,), env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
        os.close(wfd)
        try:
            wait_ready(rfd)
        finally:
            os.close(rfd)
        seen = attached(rec.pid)
        # iterations the client can count: one or more per request, and
        # two stalls of a known length
        served = 60
        for _ in range(served):
            http_get(port, "/ok")
        for _ in range(2):
            http_get(port, "/blocking")
        err = rec.communicate(timeout=60)[1]
        assert rec.returncode == 0, err
    finally:
        if rec and rec.poll() is None:
            rec.kill()
            rec.wait()
        stop(app)
    print(loop, hooks, sorted(seen), err)
    polls = {("tracepoint", "sys_%s_%s" % (d, s)) for d in ("enter", "exit") for s in POLLS}
    raw = {("raw_tracepoint", "sys_enter"), ("raw_tracepoint", "sys_exit")}
    if hooks == "tracepoints":
        tdir = tracing_dir()
        assert tdir, "no syscall tracepoints after pyrograph ran (it mounts tracefs)"
        want = {p for p in polls if os.path.exists(
            os.path.join(tdir, "events", "syscalls", p[1], "id"))}
        assert ("tracepoint", "sys_enter_epoll_wait") in want, want
        assert seen & polls == want and not seen & raw, seen
        assert "warning" not in err, err
    else:
        assert seen & raw == raw and not seen & polls, seen
        assert "timed on every syscall" in err, err
    d = json.loads(out.read_text())
    loops = [l for l in d["loops"] if l["pid"] == app.pid]
    assert len(loops) == 1, d["loops"]
    lp = loops[0]
    assert lp["kind"] == loop, lp
    assert lp["iterations"] >= served, (served, lp)
    # requests from one client, one at a time: short iterations, and the
    # two sleeps of 150 ms are the longest
    assert lp["p50_ms"] < 20, lp
    assert 140 <= lp["max_ms"] <= 1000, lp
    stalls = [s for s in d["stalls"] if s["pid"] == app.pid]
    assert len(stalls) == 2, stalls
    for s in stalls:
        assert 140 <= s["duration_ms"] <= 1000 and s["offcpu_ms"] >= 130, s
        assert s["kind"] == "blocking" and s["reason"] == "[sleep]", s
        assert s["culprit"]["function"] == "blocking_endpoint", s
        assert s["culprit"]["line"] == line_of(FASTAPI, "planted: blocks the event loop"), s

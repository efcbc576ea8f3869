# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Threads under the names the program gave them (threading's; 3.14+ also
set the OS name from it): in record --threads, dump (text and JSON),
speedscope and pprof, and again after a thread renames itself."""
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import MATRIX, binary, by_name, frames_of, parse_collapsed, pid_stacks, stop

NAMES = ("alpha", "beta", "sleepy", "waiter", "before")
RECORD_INTERPS = ["debian-3.11", "pyenv-3.13", "debian-trixie-3.13", "pyenv-3.8",
                  "debian-sid-3.14"]


def record_renamed(it, outs, seconds=6, extra=()):
    """Records thread_names.py for SECONDS into OUTS; the thread named
    'before' renames itself 'after' halfway. Returns (process, its ids)."""
    p = it.start("thread_names.py")
    rfd, wfd = os.pipe()
    try:
        ids = json.loads(p.ready_line)
        args = [binary(), "record", "-q", "-p", str(p.pid), "-d", str(seconds), "--threads",
                "--ready-fd", str(wfd)] + list(extra)
        for o in outs:
            args += ["-o", str(o)]
        rec = subprocess.Popen(args, pass_fds=(wfd,), stderr=subprocess.PIPE, text=True)
        os.close(wfd)
        with os.fdopen(rfd) as ready:
            assert ready.readline().strip() == "ready"
        time.sleep(seconds / 2)
        p.send_signal(signal.SIGUSR1)
        _, err = rec.communicate(timeout=120)
        assert rec.returncode == 0, err
    finally:
        stop(p)
    return p, ids


def thread_frames(stacks, tid):
    """{thread frame: samples} of thread tid."""
    out = {}
    for s, c in stacks.items():
        f = frames_of(s)[0]
        if re.search(r" \(%d\)$" % tid, f):
            out[f] = out.get(f, 0) + c
    return out


@pytest.mark.parametrize("name", RECORD_INTERPS)
def test_record_thread_names(name, tmp):
    """record --threads: 'thread alpha (TID)', not the OS name; a thread
    that renames itself shows under both names, each for a good part."""
    it = by_name(name)
    out = tmp / "names.txt"
    p, ids = record_renamed(it, [out])
    stacks = pid_stacks(parse_collapsed(out.read_text()), p.pid)
    for who in ("alpha", "beta"):
        got = thread_frames(stacks, ids[who])
        assert set(got) == {"thread %s (%d)" % (who, ids[who])}, (who, got)
    got = thread_frames(stacks, ids["before"])
    total = sum(got.values())
    before = got.get("thread before (%d)" % ids["before"], 0)
    after = got.get("thread after (%d)" % ids["before"], 0)
    print(name, got)
    # renamed halfway (seen within about a second): both names, and
    # nothing else
    assert before + after == total, got
    assert before >= 0.1 * total and after >= 0.1 * total, got


@pytest.mark.parametrize("name", ["debian-3.11", "pyenv-3.13"])
def test_thread_names_speedscope_pprof(name, tmp):
    """The same names in speedscope's profile names and pprof's thread
    labels (go tool pprof -tags)."""
    it = by_name(name)
    ss, pb = tmp / "t.speedscope.json", tmp / "t.pb.gz"
    p, ids = record_renamed(it, [ss, pb])
    profs = [pr["name"] for pr in json.loads(ss.read_text())["profiles"]]
    for who in ("alpha", "beta", "before", "after"):
        tid = ids["before" if who == "after" else who]
        assert any("thread %s (%d) / thread %d" % (who, tid, tid) in n for n in profs), (who, profs)
    tags = subprocess.run(["go", "tool", "pprof", "-tags", str(pb)], capture_output=True,
                          text=True, timeout=120)
    assert tags.returncode == 0, tags.stderr
    labels = tags.stdout.split("thread: Total", 1)[1]
    for who in ("alpha", "beta", "before", "after"):
        assert re.search(r"^\s+\S+ \(\s*[\d.]+%%\): %s$" % who, labels, re.M), (who, labels)


@pytest.mark.parametrize("name", [row.name for row in MATRIX if row.param])
def test_dump_thread_names(name):
    """dump: each thread under its name, in the text and the JSON (with the
    OS name beside it), on every interpreter of the matrix."""
    it = by_name(name)
    p = it.start("thread_names.py")
    try:
        ids = json.loads(p.ready_line)
        r = subprocess.run([binary(), "dump", "-p", str(p.pid), "--json"], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        d = json.loads(r.stdout)
        text = subprocess.run([binary(), "dump", "-p", str(p.pid)], capture_output=True,
                              text=True, timeout=60)
        assert text.returncode == 0, text.stderr
    finally:
        stop(p)
    by_tid = {t["tid"]: t for t in d["threads"]}
    for who in NAMES:
        t = by_tid.get(ids[who])
        assert t and t["name"] == who, (who, t and (t["name"], t["os_name"]))
        assert t["os_name"], t
        assert "Thread %d (%s)" % (ids[who], who) in text.stdout, text.stdout
    main = by_tid[p.pid]
    # threading's name for the main thread; 3.14+ leave the OS name alone
    assert main["name"] in ("MainThread", main["os_name"]), main

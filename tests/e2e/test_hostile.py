# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""A target that corrupts its own frame chain through ctypes (a cycle, wild
pointers, strings claiming 2**40 bytes): pyrograph keeps sampling everything
else correctly, marks the damaged samples, and never hangs."""
import json
import subprocess

import pytest

from conftest import binary, by_name, frames_of, line_of, parse_collapsed, pid_stacks, record, stop


def thread_of(stack):
    f = frames_of(stack)
    return int(f[0].rsplit("(", 1)[1].rstrip(")")), f[1:]


@pytest.mark.parametrize("extra", [[], ["--idle", "--native"]], ids=["plain", "idle-native"])
def test_hostile_target(extra, tmp):
    it = by_name("debian-3.11")
    bad = it.start("hostile.py", 60)
    good = it.start("nested.py", 60)
    out = tmp / "h.txt"
    try:
        ids = json.loads(bad.ready_line)
        r = record(["-a", "-d", 4, "-t", "-g", "process", "-o", out] + extra, timeout=60)
        assert r.returncode == 0, r.stderr
        d = subprocess.run([binary(), "dump", "-p", str(bad.pid), "--json"], capture_output=True,
                           text=True, timeout=30)
        assert d.returncode == 0, d.stderr
    finally:
        stop(bad)
        stop(good)
    stacks = parse_collapsed(out.read_text())
    # the healthy process is untouched
    src = it.workload_path("nested.py")
    leaf = "level_three (%s:%d)" % (src, line_of(it.host_path(src), "# LEAF"))
    mine = pid_stacks(stacks, good.pid)
    assert sum(c for s, c in mine.items() if leaf in frames_of(s)) >= 0.8 * sum(mine.values()), mine
    by = {}
    for s, c in pid_stacks(stacks, bad.pid).items():
        tid, f = thread_of(s)
        by.setdefault(tid, []).append((f, c))
    # the healthy thread of the hostile process too
    assert any(f[-1].startswith("normal_work (") or any(x.startswith("normal_work (") for x in f)
               for f, c in by[ids["normal"]]), by[ids["normal"]][:2]
    # a cycle: cut at the frame limit and marked
    cyc = [f for f, c in by[ids["cycle"]] if any(x.startswith("cycle_inner (") for x in f)]
    py = [len([x for x in f if ".py:" in x]) for f in cyc]
    assert cyc and all(f[0] == "[truncated]" for f in cyc) and max(py) <= 1024, py
    # wild pointers: the unreadable part is marked, the readable part kept
    wild = [f for f, c in by[ids["wild"]] if any(x.startswith("wild_inner (") for x in f)]
    assert wild and all(f[0] == "[unreadable frames]" for f in wild), wild[:2]
    assert any("[unknown code]" in f for f in wild), wild[:2]
    # strings that claim 2**40 bytes are read within their bounds
    huge = [x for f, c in by[ids["huge"]] for x in f if "huge_strings" in x or "hostile-huge" in x]
    assert huge and all(len(x) < 2048 for x in huge), huge[:2]
    assert "stacks broke off at an unreadable frame" in r.stderr, r.stderr
    # dump survives the same process
    threads = {t["tid"]: t for t in json.loads(d.stdout)["threads"]}
    assert threads[ids["cycle"]]["truncated"] and len(threads[ids["cycle"]]["frames"]) <= 1024
    assert any(f["function"] is None for f in threads[ids["wild"]]["frames"]), threads[ids["wild"]]
    assert threads[ids["normal"]]["frames"][0]["function"] == "normal_work"

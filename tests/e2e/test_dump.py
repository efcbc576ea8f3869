# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""pyrograph dump: one-shot stacks of every thread of a live process."""
import collections
import json
import subprocess

import pytest

from conftest import binary, by_name, stop
from test_offcpu import data_file

FUNCS = {"sleeper": "sleeper", "locker": "locker", "reader": "reader", "spinner": "spinner"}
# The reason each thread waits for most of the time (the GIL aside).
N = 30
REASON = {"sleeper": "[sleep]", "locker": "[lock]", "reader": "[disk I/O]", "spinner": None}


def dump(pid, *args):
    r = subprocess.run([binary(), "dump", "-p", str(pid)] + list(args), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("name", ["debian-3.11", "pyenv-3.8", "pyenv-3.10", "pyenv-3.12",
                                  "debian-trixie-3.13", "debian-experimental-3.15"])
def test_dump_threads(name):
    """Every thread shows its own function, every time; over N dumps each
    thread's usual state is the right one (the spinner runs and holds the
    GIL, the others wait in their own reason)."""
    it = by_name(name)
    p = it.start("blocking.py", 120, data_file(it))
    try:
        tids = json.loads(p.ready_line)
        # The ready line is printed just before the main thread calls
        # stop.wait(): right after it, main may still be at <module>
        # waiting to get the GIL back from the spinner. Let it settle.
        for _ in range(50):
            d = json.loads(dump(p.pid, "--json"))
            main = [t for t in d["threads"] if t["tid"] == p.pid]
            if main and any("wait" in f["function"] for f in main[0]["frames"]):
                break
        # what the interpreter says it is; before 3.11 the binary has no
        # Py_Version, so pyrograph knows the minor version only
        version = it.python_version()
        if int(version.split(".")[1]) < 11:
            version = ".".join(version.split(".")[:2])
        states = collections.defaultdict(collections.Counter)
        gil = collections.Counter()
        for _ in range(N):
            d = json.loads(dump(p.pid, "--json"))
            assert d["pid"] == p.pid, (d["pid"], p.pid)
            assert d["python"] == version, (d["python"], version)
            by_tid = {t["tid"]: t for t in d["threads"]}
            for who, tid in tids.items():
                t = by_tid.get(tid)
                assert t, "thread %s (%d) missing from %s" % (who, tid, sorted(by_tid))
                names = [f["function"] for f in t["frames"]]
                # 3.8-3.10 have no qualified names: "step" inside "sleeper"
                assert any(n.split(".")[0] == FUNCS[who] for n in names), (who, names)
                # innermost: its step function, or the loop between steps
                # (which calls stop.is_set(), a Python function)
                assert (names[0].endswith("step") or names[0] == "measure"
                        or names[0].endswith("is_set")), (who, names)
                # the innermost frame of the workload's own file has a line
                # (Event.is_set lives in threading.py)
                own = next(f for f in t["frames"] if f["file"].endswith("blocking.py"))
                assert own["line"] > 0 and (own is t["frames"][0] or names[0].endswith("is_set")), \
                    (who, t["frames"][:2])
                states[who][t["reason"] if t["state"] == "idle" else "running"] += 1
                gil[who] += t["holds_gil"]
            # the main thread waits in Event.wait
            main = [t for t in d["threads"] if t["tid"] == p.pid]
            assert main and any("wait" in f["function"] for f in main[0]["frames"]), main
        print(name, dict(states), dict(gil))
        assert states["spinner"]["running"] >= N / 2, states
        assert gil["spinner"] >= N / 2, gil
        for who in ("sleeper", "locker", "reader"):
            assert states[who]["running"] <= N / 4, states
            # the reader waits for the GIL more than for the disk (the
            # spinner holds it): its share of disk waits is ~30%
            assert states[who][REASON[who]] >= (2 if who == "reader" else N / 3), states
            assert set(states[who]) <= {REASON[who], "[GIL wait]", "[preempted]", "running"}, states
        # the text form: the spinner holds the GIL most of the time, so
        # one of a few snapshots shows it
        texts = [dump(p.pid) for _ in range(5)]
        assert all("Thread %d" % tids["spinner"] in t for t in texts), texts[0]
        assert any("holds the GIL" in t for t in texts), texts
    finally:
        stop(p)


def test_dump_errors():
    r = subprocess.run([binary(), "dump", "-p", "999999999"], capture_output=True, text=True)
    assert r.returncode != 0 and "999999999" in r.stderr, r.stderr
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        r = subprocess.run([binary(), "dump", "-p", str(sleeper.pid)], capture_output=True, text=True)
    finally:
        stop(sleeper)
    assert r.returncode != 0 and "not running CPython" in r.stderr, r.stderr
    r = subprocess.run([binary(), "dump"], capture_output=True, text=True)
    assert r.returncode != 0 and "Usage" in r.stderr

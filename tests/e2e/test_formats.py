# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Output formats other tools read: pprof (go tool pprof), speedscope
(validated against its published schema) and the SVG in a real browser
driven by puppeteer-core."""
import json
import math
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, by_name, frames_of, parse_collapsed, pid_stacks, record, stop

NODE_PATH = os.environ.get("NODE_PATH") or "/var/cache/pyrograph/node/node_modules"
IN_CI = os.environ.get("CI") == "true"


def need(tool, path=None):
    if (path and not os.path.exists(path)) or (not path and not shutil.which(tool)):
        msg = "%s not installed (scripts/deps.sh, scripts/node-deps.sh)" % tool
        pytest.fail(msg) if IN_CI else pytest.skip(msg)


def node(script, *args, timeout=120):
    need("node")
    need("npm packages", os.path.join(NODE_PATH, "puppeteer-core"))
    env = dict(os.environ, NODE_PATH=NODE_PATH)
    r = subprocess.run(["node", os.path.join(ROOT, "tests", "js", script)] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=timeout, env=env)
    assert r.stdout.strip(), r.stderr
    return r, json.loads(r.stdout.strip().splitlines()[-1])


def split_run(tmp, outs, extra=()):
    """split.py (7 ms hot, 3 ms cold, in thread CPU time) recorded 4 s at
    1999 Hz (~8000 samples on an idle CPU: sigma of a 30% share ~0.5
    points) into OUTS, then stopped with SIGTERM so it writes what it really
    spent in each: returns (process, record run, real hot share, samples)."""
    it = by_name("debian-3.11")
    res = tmp / "real.json"
    p = it.start("split.py", 60, 10, 0.7, res, "cpu")
    try:
        args = ["-p", p.pid, "-d", 4, "-r", 1999, "--threads"] + list(extra)
        for o in outs:
            args += ["-o", o]
        r = record(args)
        assert r.returncode == 0, r.stderr
        p.terminate()
        p.wait(timeout=30)
    finally:
        stop(p)
    real = json.loads(res.read_text())
    n = int(re.search(r"(\d+) Python samples", r.stderr).group(1))
    return p, r, real["hot"] / (real["hot"] + real["cold"]), n


def bound(share, n):
    """How far a sampled share may sit from the truth: 4 binomial standard
    errors (sigma = sqrt(p(1-p)/n); a real bias, not chance, exceeds it)
    plus 1 point for the loop around hot() and cold() that the workload's
    own clock leaves out. In percentage points."""
    return 100.0 * 4 * math.sqrt(share * (1 - share) / n) + 1.0


def same_pct(shown, exact):
    """go tool pprof's percentage equals exact as go prints it: two
    decimals, and "100%" for anything within 0.05 of 100."""
    if shown == 100.0:
        return abs(exact - 100.0) <= 0.05 + 1e-9
    return abs(shown - exact) <= 0.005 + 1e-9


def test_pprof_go_tool(tmp):
    """go tool pprof reads the profile: the workload's functions with the
    shares the workload measured itself (thread CPU time), the same figures
    as the collapsed output of the same run, and the labels."""
    need("go")
    txt, pb = tmp / "p.txt", tmp / "p.pb.gz"
    p, r, hot_share, n = split_run(tmp, [txt, pb])
    truth = {"hot": 100.0 * hot_share, "cold": 100.0 * (1 - hot_share)}
    stacks = pid_stacks(parse_collapsed(txt.read_text()), p.pid)
    total = sum(stacks.values())
    collapsed = {fn: 100.0 * sum(c for s, c in stacks.items()
                                 if any(f.startswith(fn + " (") for f in frames_of(s))) / total
                 for fn in ("hot", "cold", "spin")}
    out = subprocess.run(["go", "tool", "pprof", "-top", "-nodecount=50", str(pb)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = {}
    for line in out.stdout.splitlines():
        m = re.match(r"\s*\S+\s+([\d.]+)%\s+[\d.]+%\s+\S+\s+([\d.]+)%\s+(\S+)$", line)
        if m:
            got[m.group(3)] = (float(m.group(1)), float(m.group(2)))  # flat%, cum%
    print(out.stdout, "truth", truth, "collapsed", collapsed, "samples", n)
    assert "Type: cpu" in out.stdout, out.stdout
    for fn in ("hot", "cold"):
        # against what the workload measured: sampling error only
        assert fn in got and abs(got[fn][1] - truth[fn]) <= bound(truth[fn] / 100, n), \
            (fn, got.get(fn), truth, n)
        # against the collapsed file of the same samples: equal
        assert same_pct(got[fn][1], collapsed[fn]), (fn, got[fn], collapsed)
    assert same_pct(got["spin"][0], collapsed["spin"]), (got, collapsed)
    tags = subprocess.run(["go", "tool", "pprof", "-tags", str(pb)], capture_output=True,
                          text=True, timeout=120).stdout
    assert re.search(r"pid: Total", tags) and str(p.pid) in tags, tags
    assert "process: Total" in tags and "split.py" in tags, tags
    assert "tid: Total" in tags and "thread: Total" in tags, tags
    # lines survive: hot's location names the file and its line
    lst = subprocess.run(["go", "tool", "pprof", "-traces", str(pb)], capture_output=True,
                         text=True, timeout=120).stdout
    assert "spin" in lst and "hot" in lst, lst


def test_pprof_idle_wall(tmp):
    """With --idle the sample type is wall time and off-CPU leaves appear."""
    need("go")
    it = by_name("debian-3.11")
    pb = tmp / "w.pb.gz"
    p = it.start("gil.py")
    try:
        r = record(["-p", p.pid, "-d", 3, "--idle", "-o", pb])
        assert r.returncode == 0, r.stderr
    finally:
        stop(p)
    out = subprocess.run(["go", "tool", "pprof", "-top", "-sample_index=wall", str(pb)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Type: wall" in out.stdout and "[GIL wait]" in out.stdout, out.stdout


def test_speedscope_schema(tmp):
    """The speedscope file validates against speedscope's schema; one
    profile per thread, whose events nest and stay inside the recording."""
    it = by_name("debian-3.11")
    p = it.start("threads.py", 30)
    out = tmp / "t.speedscope.json"
    try:
        ids = dict(kv.split("=") for kv in p.ready_line.split())
        r = record(["-p", p.pid, "-d", 3, "-o", out])
        assert r.returncode == 0, r.stderr
    finally:
        stop(p)
    res, v = node("validate_speedscope.js", out)
    assert v["valid"], v["errors"][:5]
    d = json.loads(out.read_text())
    names = [f["name"] for f in d["shared"]["frames"]]
    for fn in ids:
        assert fn in names, (fn, names)
    profs = {pr["name"]: pr for pr in d["profiles"]}
    for fn, tid in ids.items():
        mine = [pr for n, pr in profs.items() if n.endswith("thread %s" % tid)]
        assert len(mine) == 1, (tid, list(profs))
        pr = mine[0]
        assert pr["type"] == "evented" and pr["unit"] == "microseconds"
        stack, last = [], -1.0
        opened = set()
        for ev in pr["events"]:
            assert ev["at"] >= last, "events out of order"
            last = ev["at"]
            if ev["type"] == "O":
                stack.append(ev["frame"])
                opened.add(names[ev["frame"]])
            else:
                assert stack and stack.pop() == ev["frame"], "unbalanced close"
        assert not stack
        assert fn in opened, (fn, opened)
        # only its own spin function
        others = {o for o in ids if o != fn}
        assert not (opened & others), (fn, opened & others)
        assert 0 <= pr["startValue"] <= pr["endValue"] <= 4.5e6, pr["endValue"]


def test_svg_puppeteer(tmp):
    """The SVG in chromium driven by puppeteer-core: search highlights and
    reports the matched share, clicking a frame zooms it to full width, the
    reset button restores it, hovering shows details, no console errors."""
    svg = tmp / "s.svg"
    p, r, hot_share, n = split_run(tmp, [svg])
    res, v = node("svg_check.js", svg, "cold", "cold (")
    assert res.returncode == 0 and v["errors"] == [], v
    assert v["matches"] >= 1, v
    # the matched share is cold's, as the workload measured it
    m = re.match(r"Matched: ([\d.]+)%", v["matched_text"])
    cold = 100.0 * (1 - hot_share)
    assert m and abs(float(m.group(1)) - cold) <= bound(1 - hot_share, n), \
        (v["matched_text"], cold, n)
    assert v["width_before"] < 0.6 * v["width_full"], v
    assert v["zoomed"] and v["reset"], v
    assert v["details"].startswith("cold ("), v["details"]


def test_svg_colours(tmp):
    """Colours tell apart the user's code, native and kernel frames (a
    --native --kernel recording), synthetic leaves and the standard
    library (an --idle recording of waiting threads)."""
    from test_native import build_ext
    it = by_name("debian-3.11")
    ext = build_ext(it, tmp)
    p = it.start("native.py", 60, ext, "syscalls")
    svg = tmp / "c.svg"
    try:
        r = record(["-p", p.pid, "-d", 3, "--native", "--kernel", "-o", svg])
        assert r.returncode == 0, r.stderr
    finally:
        stop(p)
    res, v = node("svg_check.js", svg, "no-such-frame", "py_leaf (")
    assert v["errors"] == [], v

    def rgb(f):
        return tuple(int(x) for x in re.findall(r"\d+", f["fill"]))

    kinds = {"kernel": [], "native": [], "app": [], "synthetic": []}
    titled = {"native": []}
    for f in v["frames"]:
        t = re.sub(r" \([\d,]+ samples?, [\d.]+%\)$", "", f["title"])
        if t.endswith("_[k]"):
            kinds["kernel"].append(rgb(f))
        elif t.endswith("]") and " [" in t:
            kinds["native"].append(rgb(f))
            titled["native"].append((t, rgb(f)))
        elif t.startswith("py_") and ".py:" in t:
            kinds["app"].append(rgb(f))
    assert kinds["kernel"] and kinds["native"] and kinds["app"], {k: len(x) for k, x in kinds.items()}
    assert all(r >= 230 and 120 <= g <= 170 and b <= 50 for r, g, b in kinds["kernel"]), kinds["kernel"]
    assert all(b >= 210 and r < 150 for r, g, b in kinds["native"]), \
        [(t, c) for t, c in titled["native"] if not (c[2] >= 210 and c[0] < 150)]
    assert all(r >= 205 and b <= 55 for r, g, b in kinds["app"]), kinds["app"]

    # synthetic leaves ([sleep], [lock], [disk I/O], [GIL wait]...) and the
    # standard library (threading.py): four threads that wait, with --idle
    from test_offcpu import data_file
    p = it.start("blocking.py", 60, data_file(it))
    svg = tmp / "idle.svg"
    try:
        r = record(["-p", p.pid, "-d", 2, "--idle", "-o", svg])
        assert r.returncode == 0, r.stderr
    finally:
        stop(p)
    res, v = node("svg_check.js", svg, "no-such-frame", "[sleep]")
    assert v["errors"] == [], v
    synthetic, stdlib = {}, {}
    for f in v["frames"]:
        t = re.sub(r" \([\d,]+ (samples?|us), [\d.]+%\)$", "", f["title"])
        if t.startswith("[") and t.endswith("]"):
            synthetic[t] = rgb(f)
        elif "/threading.py:" in t:
            stdlib[t] = rgb(f)
    print("synthetic", synthetic, "stdlib", stdlib)
    assert {"[sleep]", "[lock]"} <= set(synthetic), synthetic
    # grey, a touch of blue: r == g, b = r + 8
    assert all(r == g and b == r + 8 and 175 <= r <= 210 for r, g, b in synthetic.values()), \
        synthetic
    # olive: r == g, little blue
    assert stdlib and all(r == g and 175 <= r <= 230 and 50 <= b <= 70
                          for r, g, b in stdlib.values()), stdlib

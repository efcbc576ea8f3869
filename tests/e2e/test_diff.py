# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""pyrograph diff: two recordings of one job, before and after a change
made one function twice as expensive: that function is the top growth in
the table, by as much as the job's own clock says, and the reddest frame
of the differential flame graph; nothing else changes beyond noise."""
import json
import math
import os
import re
import subprocess

from conftest import WORKLOADS, binary, by_name, record

WORK = os.path.join(WORKLOADS, "diff_work.py")


def rows(table):
    """(self before, self after, change, significant, function) per row."""
    out = []
    for line in table.splitlines():
        m = re.match(r"\s+(\d+) \([\d.]+%\)\s+(\d+) \([\d.]+%\)\s+([+-]\d+)\S*( \(new\)| \([+-]\d+%\))?( \*)?\s+[+-]\d+\s+(.+)$", line)
        if m:
            out.append((int(m.group(1)), int(m.group(2)), int(m.group(3)), bool(m.group(5)),
                        m.group(6)))
    return out


def fills(svg, prefix):
    """The fill colours of the frames whose title starts with prefix."""
    return [tuple(int(x) for x in m.group(1).split(","))
            for m in re.finditer(r"<title>" + re.escape(prefix) + r"[^<]*</title><rect [^>]*fill=\"rgb\(([\d,]+)\)\"", svg)]


def record_pair(it, tmp):
    """Both runs recorded at 1999 Hz as folded stacks and pprof (~2500
    samples of steady() a run: a 4-sigma bound of ~15% on the double ratio
    below), one after the other on one CPU: this VM's two CPUs run at
    speeds that differ by up to 1.5x (the job's own clock), and raw counts
    compared across them show that (CI saw steady() take 44% fewer samples
    in a second run that landed on the faster CPU). Returns the files and
    what each run measured itself (thread CPU seconds in heavy() and
    steady())."""
    files, pprofs, spent = [], [], []
    cpu = str(max(os.sched_getaffinity(0)))
    for factor in (1, 2):
        out, pb = tmp / ("run%d.txt" % factor), tmp / ("run%d.pb.gz" % factor)
        r = record(["-r", 1999, "-o", out, "-o", pb, "--", "taskset", "-c", cpu,
                    it.python, WORK, 2000],
                   env=dict(os.environ, DIFF_FACTOR=str(factor)))
        assert r.returncode == 0, r.stderr
        files.append(out)
        pprofs.append(pb)
        spent.append(json.loads(r.stdout.strip().splitlines()[-1]))
    return files, pprofs, spent


def test_diff_twice_as_expensive(tmp):
    """The table's change of heavy() against the change the job measured
    itself: samples are CPU time times the rate, and the rate (calibrated
    per run) and the machine's speed cancel in the ratio of heavy's change
    to steady's. That double ratio from the profile matches the one from
    the workload's clock within 4 sigma of its sampling error."""
    it = by_name("debian-3.11")
    steady = "steady (%s)" % WORK
    heavy = "heavy (%s)" % WORK
    files, pprofs, spent = record_pair(it, tmp)
    svg = tmp / "diff.svg"
    d = subprocess.run([binary(), "diff", files[0], files[1], "-o", svg],
                       capture_output=True, text=True, timeout=60)
    assert d.returncode == 0, d.stderr
    table = rows(d.stdout)
    print(d.stdout, spent)
    assert table and table[0][4] == heavy, d.stdout
    before, after, change, significant, _ = table[0]
    st = next(r for r in table if r[4] == steady)
    got = (after / before) / (st[1] / st[0])
    truth = (spent[1]["heavy"] / spent[0]["heavy"]) / (spent[1]["steady"] / spent[0]["steady"])
    # counts are Poisson-like: the relative error of a ratio of four
    # counts is sqrt(1/a + 1/b + 1/c + 1/d)
    sigma = math.sqrt(1 / before + 1 / after + 1 / st[0] + 1 / st[1])
    print("heavy x%.2f / steady x%.2f = %.2f; the job's own clock: %.2f; sigma %.3f" % (
        after / before, st[1] / st[0], got, truth, sigma))
    assert significant and abs(got / truth - 1) <= 4 * sigma, (got, truth, sigma, table[0], st)
    # the job doubled heavy's work: its own clock says so (the VM's speed
    # moves both functions alike)
    assert 1.6 <= truth <= 2.4, spent
    for b, a, c, sig, fn in table[1:]:
        # everything else: within noise, or small beside heavy's change
        if fn != steady:
            assert not sig or abs(c) < 0.1 * change, (fn, b, a, c)
    # the SVG: heavy's frames (one per line) red, the reddest of all;
    # steady's near white (frames are coloured by their own change)
    text = svg.read_text()
    hf, sf = fills(text, "heavy (%s:" % WORK), fills(text, "steady (")
    assert hf and sf, text[:2000]
    assert max(255 - f[1] for f in hf) == max(255 - f[1] for f in fills(text, "")), hf
    assert any(f[0] == 255 and f[1] < 100 for f in hf), hf
    assert all(f[1] > 150 and f[0] > 150 for f in sf), sf
    # same total with --normalize: heavy's share grew, steady's shrank
    n = subprocess.run([binary(), "diff", "--normalize", files[0], files[1], "-o", tmp / "n.svg"],
                       capture_output=True, text=True, timeout=60)
    nt = {r[4]: r for r in rows(n.stdout)}
    assert nt[heavy][2] > 0 and nt[steady][2] < 0, n.stdout
    # the same recordings as pprof files: the same table
    p = subprocess.run([binary(), "diff", pprofs[0], pprofs[1], "-o", tmp / "p.svg"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    pt = rows(p.stdout)
    assert pt[0][4] == heavy and pt[0][3], p.stdout
    assert {r[4]: r[:3] for r in pt}[heavy] == {r[4]: r[:3] for r in table}[heavy], (pt, table)


def test_diff_errors(tmp):
    def err(*args):
        r = subprocess.run([binary(), "diff"] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0
        return r.stderr.strip().splitlines()[-1]

    empty = tmp / "empty.txt"
    empty.write_text("not a profile\n")
    good = tmp / "good.txt"
    good.write_text("a;b 3\n")
    gz = tmp / "p.pb.gz"
    gz.write_bytes(b"\x1f\x8b\x08\x00rest")  # a cut gzip stream
    assert err(good) == "pyrograph: diff needs two profiles: BEFORE AFTER (see pyrograph diff --help)"
    assert "no stacks" in err(empty, good)
    assert "not a complete gzip stream" in err(good, gz)
    assert "cannot read" in err(good, tmp / "missing.txt")

# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""pyrograph diff: two recordings of one job, before and after a change
made one function twice as expensive: that function is the top growth in
the table and the reddest frame of the differential flame graph, and
nothing else changes beyond noise."""
import os
import re
import subprocess

from conftest import WORKLOADS, binary, by_name, line_of, record

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
    tmp.mkdir(exist_ok=True)
    files, pprofs = [], []
    for factor in (1, 2):
        out, pb = tmp / ("run%d.txt" % factor), tmp / ("run%d.pb.gz" % factor)
        r = record(["-r", 499, "-o", out, "-o", pb, "--", it.python, WORK, 1200],
                   env=dict(os.environ, DIFF_FACTOR=str(factor)))
        assert r.returncode == 0, r.stderr
        files.append(out)
        pprofs.append(pb)
    return files, pprofs


def test_diff_twice_as_expensive(tmp):
    it = by_name("debian-3.11")
    steady = "steady (%s)" % WORK
    # The same work costs different CPU time from run to run on a busy VM
    # host (CI once read steady() at 1203 samples, then 739 in the next
    # run): up to three pairs of runs, judged on the one where the unchanged
    # function moved least (that pair is taken at once when within 10%).
    best = None
    for attempt in range(3):
        files, pprofs = record_pair(it, tmp / ("pair%d" % attempt))
        svg = tmp / ("pair%d" % attempt) / "diff.svg"
        d = subprocess.run([binary(), "diff", files[0], files[1], "-o", svg],
                           capture_output=True, text=True, timeout=60)
        assert d.returncode == 0, d.stderr
        table = rows(d.stdout)
        st = [r for r in table if r[4] == steady]
        moved = abs(st[0][2]) / st[0][0] if st and st[0][0] else 1.0
        print("pair %d: steady moved %.0f%%: %s" % (attempt + 1, 100 * moved, st))
        if best is None or moved < best[0]:
            best = (moved, files, pprofs, svg, d, table)
        if moved <= 0.10:
            break
    _, files, pprofs, svg, d, table = best
    print(d.stdout)
    heavy = "heavy (%s)" % WORK
    assert table and table[0][4] == heavy, d.stdout
    before, after, change, significant, _ = table[0]
    st = next(r for r in table if r[4] == steady)
    # twice the own time, beyond noise. The machine's speed differs from
    # run to run (CI once read steady +17% and heavy x2.44): steady does the
    # same work in both, so its ratio is the speed the two runs had.
    speed = st[1] / st[0]
    assert significant and 1.6 <= after / before / speed <= 2.4, (table[0], st)
    # steady did the same work: what it moved is the machine's speed, which
    # the ratio above already divides out; bounded, not required to be nil
    # (CI once read -23% in the pair it kept, significant at 3 sigma)
    assert abs(st[2]) <= 0.25 * st[0], st
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

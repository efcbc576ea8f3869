# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""pyrograph check: verdicts and exit codes against real programs -- the
planted-problem asyncio program fails the loop-lag and stall rules naming
the coroutines that stall; a well-behaved service passes; the leaking
program fails the RSS-growth rule naming leaky."""
import json
import re
import subprocess

from conftest import WORKLOADS, binary, by_name, line_of, stop


def check(*args, timeout=120):
    return subprocess.run([binary(), "check", "-q"] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout)


def lines(out, rule):
    return [l for l in out.splitlines() if l.split()[1:2] == [rule]]


def test_check_planted_fails(tmp):
    it = by_name("debian-3.11")
    src = it.workload_path("async_planted.py")
    p = it.start("async_planted.py", 60)
    try:
        conf = tmp / "check.conf"
        conf.write_text("# a deploy's limits\nmax-loop-lag-p99 = 50ms\nmax-stall = 120ms  # ms\n")
        r = check("-p", p.pid, "-d", "6s", "--config", conf)
    finally:
        stop(p)
    print(r.stdout, r.stderr)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    lag, stall = lines(r.stdout, "loop-lag-p99"), lines(r.stdout, "stall")
    assert len(lag) == 1 and lag[0].startswith("FAIL"), r.stdout
    assert len(stall) == 1 and stall[0].startswith("FAIL"), r.stdout
    # both planted stalls named, with their lines, the sleep one as a sleep
    sleepy = "sleepy (%s:%d) [sleep]" % (src, line_of(it.host_path(src), "planted: blocking sleep"))
    # the CPU loop is two lines: the while and its body
    cl = line_of(it.host_path(src), "planted: CPU-bound loop")
    crunch = ["crunch (%s:%d) CPU-bound" % (src, n) for n in (cl, cl + 1)]
    assert sleepy in stall[0] and any(c in stall[0] for c in crunch), stall[0]
    assert "ticker" not in stall[0]
    # the measured stall is about the planted 200 ms
    value = float(stall[0].split(": ")[1].split()[0])
    assert 180 <= value <= 1000, stall[0]
    # the rules without a problem pass: memory, CPU (GC: Debian has probes)
    for rule in ("rss-growth", "cpu", "gc-pause"):
        assert lines(r.stdout, rule)[0].startswith("PASS"), r.stdout
    assert r.stdout.strip().splitlines()[-1].startswith("result: FAIL (2 of 5 checks failed)")


def test_check_calm_passes(tmp):
    it = by_name("debian-3.11")
    p = it.start("async_calm.py", 60)
    try:
        out = tmp / "check.json"
        r = check("-p", p.pid, "-d", "5s", "--max-loop-lag-p99", "50ms", "--max-stall", "120ms",
                  "-f", "json", "-o", out)
    finally:
        stop(p)
    assert r.returncode == 0, (r.stdout, r.stderr)
    d = json.loads(out.read_text())
    print(json.dumps(d, indent=1))
    assert d["result"] == "pass" and d["failed"] == 0
    by_rule = {c["rule"]: c for c in d["checks"]}
    assert set(by_rule) == {"loop-lag-p99", "stall", "gc-pause", "rss-growth", "cpu"}
    assert all(c["status"] == "PASS" and c["pid"] == p.pid for c in d["checks"]), d
    # it has a loop, and its iterations are short
    assert by_rule["loop-lag-p99"]["value"] < 50 and by_rule["stall"]["value"] < 120


def test_check_leak_fails(tmp):
    it = by_name("debian-3.11")
    src = it.workload_path("mem_leak.py")
    p = it.start("mem_leak.py", 60)
    try:
        # one thread allocates and frees (churn) and keeps (leaky): --live
        # names the one that keeps memory, first touch would name churn
        r = check("--live", "-p", p.pid, "-d", "5s", "--max-rss-growth", "50MB/min")
    finally:
        stop(p)
    print(r.stdout)
    assert r.returncode == 1, (r.stdout, r.stderr)
    rss = lines(r.stdout, "rss-growth")
    assert len(rss) == 1 and rss[0].startswith("FAIL"), r.stdout
    # ~10 MiB/s: ~600 MB/min
    value = float(rss[0].split(": ")[1].split()[0])
    assert 300 <= value <= 1200, rss[0]
    assert "leaky (%s:%d) (leak candidate)" % (src, line_of(it.host_path(src), "# LEAK")) in rss[0]
    # no event loop here
    assert lines(r.stdout, "stall")[0].startswith("SKIP")


def test_check_errors(tmp):
    bad = tmp / "bad.conf"
    bad.write_text("max-stall 200ms\n")
    for args, msg in ((["--config", bad], "bad.conf:1: expected 'max-RULE = VALUE'"),
                      (["--max-stall", "soon"], "invalid --max-stall 'soon'"),
                      (["-d", "0"], "invalid duration '0'"),
                      (["-f", "xml"], "unknown format 'xml'")):
        r = subprocess.run([binary(), "check"] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and msg in r.stderr, (args, r.returncode, r.stderr)


def test_check_cpu_names_hottest(tmp, monkeypatch):
    """A process spinning in heavy() (three times steady's work): the CPU
    rule fails with about a core, naming heavy as the hottest function."""
    it = by_name("debian-3.11")
    monkeypatch.setenv("DIFF_FACTOR", "3")
    p = it.start("diff_work.py", 1000000, wait_ready=False)
    try:
        r = check("-p", p.pid, "-d", "4s", "--max-cpu", "50")
    finally:
        stop(p)
    print(r.stdout)
    assert r.returncode == 1, (r.stdout, r.stderr)
    cpu = lines(r.stdout, "cpu")
    assert len(cpu) == 1 and cpu[0].startswith("FAIL"), r.stdout
    value = float(cpu[0].split(": ")[1].split()[0])
    assert 80 <= value <= 105, cpu[0]
    src = it.workload_path("diff_work.py")
    hot = re.search(r"hottest (\S+) \((\S+):(\d+)\) \((\d+)% of its samples\)", cpu[0])
    assert hot and hot.group(1) == "heavy" and hot.group(2) == src, cpu[0]
    # heavy's loop is two lines, each about half of its 75%
    assert 25 <= int(hot.group(4)) <= 80, cpu[0]

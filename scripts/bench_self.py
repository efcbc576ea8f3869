#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""pyrograph's own cost per sample, as root.

A pure-Python process spins with a stack 30 frames deep; pyrograph records
it at 1 kHz for a short and a long run. The difference of pyrograph's CPU
time (user + system, from wait4) between the two runs, divided by the
difference of their Python samples, is its CPU per sample in steady state:
start-up (BTF, skeleton load, /proc scan) cancels out, and is reported
beside it as what the short run cost beyond its samples. A second figure
reads pyrograph's own run time (/proc/PID/task/*/schedstat) over the long
run's window from 1 s in to 0.3 s before its end, per Python sample of
that window: start-up is outside it, so it is steadier than the
difference of two runs. With
kernel.bpf_stats_enabled the BPF programs' run time per sample is read from
the kernel too (bpftool prog, while the long run records), apart from
pyrograph's own. The target is pinned to the last CPU: this VM's vCPUs run
at different speeds.

Several binaries (e.g. two builds) are measured in interleaved rounds and
reported as medians, since this VM's speed moves 10-30% run to run.

  scripts/bench_self.py [--binary build/pyrograph] [--binary OTHER]
                        [--rounds 5] [--rate 1000] [--short 2] [--long 10]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPIN = r'''
import sys, time
def f(n, end):
    if n:
        return f(n - 1, end)
    while time.monotonic() < end:
        pass
print("ready", flush=True)
f(int(sys.argv[1]) - 2, time.monotonic() + float(sys.argv[2]))
'''


def bpf_run_ns():
    """Total run time (ns) and runs of pyrograph's sampler program, or None."""
    try:
        out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True,
                             text=True, timeout=10).stdout
        progs = json.loads(out)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    ns = cnt = 0
    for p in progs:
        if p.get("name") == "py_sample":
            ns += p.get("run_time_ns", 0)
            cnt += p.get("run_cnt", 0)
    return ns, cnt


def oncpu_ns(pid):
    """Time pid's threads have run so far (ns, /proc/PID/task/*/schedstat)."""
    total = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total


def one_run(binary, python, seconds, rate, depth):
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "spin.py")
        with open(script, "w") as f:
            f.write(SPIN)
        cpu = os.cpu_count() - 1
        target = subprocess.Popen([python, script, str(depth), str(seconds + 30)],
                                  stdout=subprocess.PIPE, text=True,
                                  preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
        target.stdout.readline()
        try:
            t0 = time.monotonic()
            p = subprocess.Popen([binary, "record", "-q", "-p", str(target.pid), "-r",
                                  str(rate), "-d", str(seconds), "-f", "collapsed", "-o",
                                  os.devnull], stderr=subprocess.PIPE, text=True)
            # The programs go with the process: read their run time while
            # it records, from 1 s in (loaded) to 0.3 s before the end.
            time.sleep(max(0.0, t0 + 1.0 - time.monotonic()))
            before, cpu0, w0 = bpf_run_ns(), oncpu_ns(p.pid), time.monotonic()
            time.sleep(max(0.0, t0 + seconds - 0.3 - time.monotonic()))
            after, cpu1, w1 = bpf_run_ns(), oncpu_ns(p.pid), time.monotonic()
            err = p.stderr.read()
            _, status, ru = os.wait4(p.pid, 0)
            wall = time.monotonic() - t0
        finally:
            target.kill()
            target.wait()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("%s failed: %s" % (binary, err))
    m = re.search(r"(\d+) Python samples", err)
    if not m:
        sys.exit("no summary from %s: %s" % (binary, err))
    bpf = None
    if before and after and after[1] > before[1]:
        bpf = (after[0] - before[0]) / (after[1] - before[1])
    # pyrograph's CPU inside the window, per Python sample of the window
    # (the spinner is busy all along: its samples are spread evenly)
    window = None
    if cpu0 is not None and cpu1 is not None and w1 > w0:
        window = (cpu1 - cpu0) / (int(m.group(1)) * (w1 - w0) / seconds)
    return {"cpu": ru.ru_utime + ru.ru_stime, "samples": int(m.group(1)), "wall": wall,
            "bpf_ns_per_run": bpf, "window_ns_per_sample": window}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", action="append")
    ap.add_argument("--python", default="/usr/bin/python3.11")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--short", type=float, default=2)
    ap.add_argument("--long", type=float, default=10)
    ap.add_argument("--depth", type=int, default=30)
    a = ap.parse_args()
    binaries = a.binary or [os.path.join(ROOT, "build", "pyrograph")]
    if os.geteuid() != 0:
        sys.exit("run as root")
    subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=1"], check=False)
    res = {b: [] for b in binaries}
    for r in range(a.rounds):
        for b in binaries:
            short = one_run(b, a.python, a.short, a.rate, a.depth)
            long_ = one_run(b, a.python, a.long, a.rate, a.depth)
            extra = long_["samples"] - short["samples"]
            per = (long_["cpu"] - short["cpu"]) / extra if extra > 0 else float("nan")
            startup = short["cpu"] - per * short["samples"]
            res[b].append({"us_per_sample": per * 1e6, "startup_s": startup,
                           "bpf_us": (long_["bpf_ns_per_run"] or 0) / 1e3,
                           "window_us": (long_["window_ns_per_sample"] or 0) / 1e3,
                           "samples_long": long_["samples"]})
            print("round %d %s: %.2f us/sample (%.2f in the window), start-up %.3f s, "
                  "BPF %.2f us/run, %d samples"
                  % (r + 1, b, per * 1e6, res[b][-1]["window_us"], startup,
                     res[b][-1]["bpf_us"], long_["samples"]), flush=True)
    print("\nmedians over %d rounds (%s, %d-deep stack, %d Hz, %g s vs %g s):"
          % (a.rounds, a.python, a.depth, a.rate, a.short, a.long))
    for b in binaries:
        med = {k: statistics.median(x[k] for x in res[b]) for k in res[b][0]}
        print("  %-40s %6.2f us per sample (%.2f in the window)  start-up %.3f s CPU  "
              "BPF %.2f us per run"
              % (b, med["us_per_sample"], med["window_us"], med["startup_s"], med["bpf_us"]))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Overhead benchmark for `pyrograph record`.

1. Slowdown of a CPU-bound pure-Python workload (a fixed amount of work,
   timed by the workload itself) while a profiler runs, against the same
   workload unprofiled. Conditions are interleaved in one run, in a shuffled
   order each round; the median of ROUNDS runs per condition is reported.
   Conditions: none, pyrograph -a at 100 and 1000 Hz, austin 3.7 at 100 and
   1000 Hz (austin from Debian, inside the trixie tree; the workload runs on
   trixie's python3.13 for every condition so the comparison is fair).
2. pyrograph's own CPU time with 20 busy Python processes at 100 Hz, and the
   in-kernel cost per sample (bpf_stats: run_time_ns / run_cnt), which is
   charged to the sampled processes rather than to pyrograph.

Writes a markdown table to stdout and JSON to --json. Run as root on an
otherwise idle machine; numbers on a 2-vCPU VM are noisy, hence medians.
"""
import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROOTS = os.environ.get("PYROGRAPH_CHROOTS", "/var/cache/pyrograph/chroots")
TREE = os.path.join(CHROOTS, "trixie")
PY = "/usr/bin/python3.13"

WORK = r"""
import sys, time
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
def work(rounds):
    for _ in range(rounds):
        fib(20)
        sorted(str(i) for i in range(2000))
print("ready", flush=True)
sys.stdin.readline()
t = time.perf_counter()
work(int(sys.argv[1]))
print(time.perf_counter() - t, flush=True)
"""

SPIN = r"""
import time
def busy():
    while True:
        sum(range(1000))
busy()
"""


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def ensure_austin():
    if not os.path.isdir(TREE):
        sys.exit("bench: %s missing (scripts/build-chroots.sh trixie)" % TREE)
    if not os.path.exists(os.path.join(TREE, "usr/bin/austin")):
        sh(["chroot", TREE, "apt-get", "-o", "Acquire::Check-Valid-Until=false",
            "update", "-q"], stdout=subprocess.DEVNULL)
        sh(["chroot", TREE, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get",
            "install", "-y", "-q", "--no-install-recommends", "austin"],
           stdout=subprocess.DEVNULL)
    out = subprocess.run(["chroot", TREE, "austin", "--version"], capture_output=True,
                         text=True).stdout.strip()
    return out


def start_workload(rounds):
    path = os.path.join(TREE, "tmp", "bench_work.py")
    with open(path, "w") as f:
        f.write(WORK)
    p = subprocess.Popen(["chroot", TREE, PY, "/tmp/bench_work.py", str(rounds)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    return p


def start_profiler(kind, rate, pid, out_dir):
    if kind == "none":
        return None
    if kind == "pyrograph":
        return subprocess.Popen([os.path.join(ROOT, "build", "pyrograph"), "record", "-q",
                                 "-a", "-r", str(rate), "-f", "collapsed",
                                 "-o", os.path.join(out_dir, "pg.txt")],
                                stderr=subprocess.DEVNULL)
    if kind == "austin":
        # /proc of the host pid namespace, mounted only in a private mount ns.
        interval_us = str(1000000 // rate)
        script = ("mount -t proc proc %s/proc && exec chroot %s austin -i %s -p %d -o /tmp/austin.out"
                  % (TREE, TREE, interval_us, pid))
        return subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    raise ValueError(kind)


def run_once(kind, rate, rounds, out_dir):
    w = start_workload(rounds)
    # chroot(1) execs python: w.pid is the interpreter itself.
    prof = start_profiler(kind, rate, w.pid, out_dir)
    if prof:
        time.sleep(1.0)  # attach / BPF load before the timed part
    w.stdin.write("go\n")
    w.stdin.flush()
    secs = float(w.stdout.readline())
    w.wait()
    if prof:
        prof.send_signal(2)
        try:
            prof.wait(timeout=30)
        except subprocess.TimeoutExpired:
            prof.kill()
    return secs


def slowdown(args, out_dir):
    conds = [("none", 0), ("pyrograph", 100), ("pyrograph", 1000)]
    if not args.no_austin:
        conds += [("austin", 100), ("austin", 1000)]
    times = {c: [] for c in conds}
    for r in range(args.rounds):
        order = conds[:]
        random.shuffle(order)
        for c in order:
            t = run_once(c[0], c[1], args.work, out_dir)
            times[c].append(t)
            print("round %d %-9s %5d Hz: %.3f s" % (r + 1, c[0], c[1], t), file=sys.stderr)
    base = statistics.median(times[("none", 0)])
    res = []
    for c in conds:
        med = statistics.median(times[c])
        res.append({"profiler": c[0], "rate_hz": c[1], "median_s": med,
                    "runs": times[c], "slowdown_pct": 100.0 * (med / base - 1)})
    return res


def own_cpu(args, out_dir):
    spins = [subprocess.Popen(["/usr/bin/python3.11", "-c", SPIN]) for _ in range(20)]
    try:
        time.sleep(1)
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        p = subprocess.run([os.path.join(ROOT, "build", "pyrograph"), "record", "-q", "-a",
                            "-d", str(args.cpu_seconds), "-r", "100", "-f", "collapsed",
                            "-o", os.path.join(out_dir, "own.txt")],
                           capture_output=True, text=True)
        wall = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        m = re.search(r"(\d+) Python samples, (\d+) Python processes", p.stderr)
        return {"busy_processes": 20, "seconds": wall, "cpu_s": cpu,
                "cpu_pct_of_core": 100.0 * cpu / wall,
                "python_samples": int(m.group(1)) if m else None,
                "processes_seen": int(m.group(2)) if m else None,
                "stderr": p.stderr.strip()}
    finally:
        for s in spins:
            s.kill()
            s.wait()


def bpf_cost(args, out_dir):
    """In-kernel ns per sample of py_sample at 1000 Hz on one busy process."""
    w = subprocess.Popen(["/usr/bin/python3.11", "-c", SPIN])
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        prof = subprocess.Popen([os.path.join(ROOT, "build", "pyrograph"), "record", "-q",
                                 "-p", str(w.pid), "-r", "1000", "-d", "6", "-f", "collapsed",
                                 "-o", os.path.join(out_dir, "cost.txt")],
                                stderr=subprocess.DEVNULL)
        time.sleep(4)
        out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True).stdout
        prof.wait()
        for prog in json.loads(out):
            if prog.get("name") == "py_sample" and prog.get("run_cnt"):
                return {"run_cnt": prog["run_cnt"], "run_time_ns": prog["run_time_ns"],
                        "ns_per_run": prog["run_time_ns"] / prog["run_cnt"]}
    finally:
        w.kill()
        w.wait()
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--work", type=int, default=3000, help="workload rounds (~3 s on 3.13)")
    ap.add_argument("--cpu-seconds", type=int, default=20)
    ap.add_argument("--no-austin", action="store_true")
    ap.add_argument("--json", default="bench-record.json")
    args = ap.parse_args()
    if os.geteuid():
        sys.exit("bench: run as root")
    out_dir = "/tmp/pyrograph-bench"
    os.makedirs(out_dir, exist_ok=True)
    austin = None if args.no_austin else ensure_austin()
    res = {"austin": austin, "rounds": args.rounds, "kernel": os.uname().release,
           "cpus": os.cpu_count(), "slowdown": slowdown(args, out_dir),
           "own_cpu": own_cpu(args, out_dir), "bpf_cost": bpf_cost(args, out_dir)}
    with open(args.json, "w") as f:
        json.dump(res, f, indent=1)
    print("| profiler | rate | median workload time | slowdown |")
    print("|---|---|---|---|")
    for r in res["slowdown"]:
        print("| %s | %s | %.3f s | %+.2f%% |" % (
            r["profiler"] if r["profiler"] != "austin" else "austin (%s)" % austin,
            "%d Hz" % r["rate_hz"] if r["rate_hz"] else "-", r["median_s"], r["slowdown_pct"]))
    o = res["own_cpu"]
    print("\npyrograph's own CPU, record -a at 100 Hz with %d busy Python processes for %.0f s: "
          "%.2f s = %.2f%% of one core (%s Python samples from %s processes)" % (
              o["busy_processes"], o["seconds"], o["cpu_s"], o["cpu_pct_of_core"],
              o["python_samples"], o["processes_seen"]))
    if res["bpf_cost"]:
        print("in-kernel cost of a sample (bpf_stats): %.0f ns over %d runs" % (
            res["bpf_cost"]["ns_per_run"], res["bpf_cost"]["run_cnt"]))


if __name__ == "__main__":
    main()

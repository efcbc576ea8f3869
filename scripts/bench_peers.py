#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""pyrograph's CPU per sample beside other profilers', on one target, as root.

One pure-Python process spins with a stack 30 frames deep (as bench_self.py)
in a Debian chroot's interpreter (--tree, default experimental's 3.15).
Each profiler attaches to that same process for --seconds at --rate, in
interleaved rounds:

  pyrograph  record -p PID -r RATE (stacks counted in the kernel)
  sampling   python3.15 -m profiling.sampling attach -r RATE (CPython's own
             sampling profiler, run in the same tree)
  austin     austin -i 1/RATE -p PID (Debian's austin 3.7, installed in the
             tree on first use)

For each: its CPU time (user + system of its process tree, wait4), the
samples it took (pyrograph's summary; the sample counts of the others'
collapsed output), and its own run time over a steady window, from 1 s in
to 0.5 s before the end (/proc/PID/task/*/schedstat of the profiler's own
process, so start-up is outside it), divided by the window's share of the
samples. Medians over --rounds. A profiler that cannot read the target is
reported with its error, not left out (austin 3.7 does not read 3.15's
frames: --tree trixie --python python3.13 --profilers pyrograph,austin
compares it on 3.13). The target runs chrooted in a mount namespace of its
own with /proc mounted in the tree; the others run in that namespace and
root (nsenter), as CPython's own tools expect.

  scripts/bench_peers.py [--rounds 5] [--rate 1000] [--seconds 8]
                         [--tree experimental] [--python python3.15]
                         [--profilers pyrograph,sampling,austin]
"""
import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROOTS = os.environ.get("PYROGRAPH_CHROOTS", "/var/cache/pyrograph/chroots")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_self import SPIN, oncpu_ns  # noqa: E402  the same spinner and clock


def in_target_root(target_pid, argv):
    """argv run in the target's mount namespace and root (its chroot, with
    /proc mounted there; see main), as CPython's own tools expect."""
    return ["nsenter", "-t", str(target_pid), "-m", "-r"] + argv


def profiler_pid(p, name, timeout=10.0):
    """The pid of the process doing the profiling under wrapper p (unshare,
    sh and chroot exec into it, so it is p's pid once the exec is done)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open("/proc/%d/comm" % p.pid) as f:
                if f.read().strip().startswith(name):
                    return p.pid
        except OSError:
            return None
        time.sleep(0.02)
    return None


def collapsed_samples(text):
    """Samples in collapsed text: the sum of each line's trailing count."""
    n = 0
    for line in text.splitlines():
        m = re.search(r" (\d+)$", line)
        if m and not line.startswith("#"):
            n += int(m.group(1))
    return n


def austin_samples(text):
    """austin writes one line per sample (a stack and its metric)."""
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def run_one(kind, a, target_pid, tmp):
    out = os.path.join(tmp, "out-%s" % kind)
    if kind == "pyrograph":
        argv = [os.path.join(ROOT, "build", "pyrograph"), "record", "-q", "-p", str(target_pid),
                "-r", str(a.rate), "-d", str(a.seconds), "-f", "collapsed", "-o", out]
        comm = "pyrograph"
    elif kind == "sampling":
        argv = in_target_root(target_pid,
                       [a.python, "-m", "profiling.sampling", "attach", "-r", str(a.rate),
                        "-d", "%g" % a.seconds, "--collapsed", "-o", "/tmp/peers.out",
                        str(target_pid)])
        out = os.path.join(CHROOTS, a.tree, "tmp", "peers.out")
        comm = a.python
    else:
        argv = in_target_root(target_pid,
                       ["austin", "-i", str(max(1, 1000000 // a.rate)), "-x", "%d" % max(1, round(a.seconds)),
                        "-p", str(target_pid), "-o", "/tmp/peers.austin"])
        out = os.path.join(CHROOTS, a.tree, "tmp", "peers.austin")
        comm = "austin"
    if os.path.exists(out):
        os.unlink(out)
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    pid = profiler_pid(p, comm[:15])
    time.sleep(max(0.0, t0 + 1.0 - time.monotonic()))
    c0, w0 = (oncpu_ns(pid) if pid else None), time.monotonic()
    time.sleep(max(0.0, t0 + a.seconds - 0.5 - time.monotonic()))
    c1, w1 = (oncpu_ns(pid) if pid else None), time.monotonic()
    # stderr is read to its end first (a full pipe would block it), then
    # wait4 for the rusage (Popen.wait would reap it without); one that
    # does not stop by itself is interrupted
    timer = threading.Timer(a.seconds + 30, lambda: os.kill(p.pid, signal.SIGINT))
    timer.start()
    err = p.stderr.read()
    timer.cancel()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    cpu = ru.ru_utime + ru.ru_stime
    try:
        with open(out, errors="replace") as f:
            text = f.read()
    except OSError:
        text = ""
    if kind == "pyrograph":
        m = re.search(r"(\d+) Python samples", err)
        samples = int(m.group(1)) if m else 0
    elif kind == "austin":
        if ":INVALID:" in text:
            return {"error": "austin read no valid frame of this interpreter (:INVALID: stacks)"}
        samples = austin_samples(text)
    else:
        samples = collapsed_samples(text)
    if not samples:
        return {"error": (err.strip().splitlines() or ["no samples"])[-1][:200]}
    window = None
    if c0 is not None and c1 is not None and w1 > w0:
        window = (c1 - c0) / 1e3 / (samples * (w1 - w0) / a.seconds)
    return {"cpu_s": cpu, "samples": samples, "us_per_sample": cpu * 1e6 / samples,
            "window_us": window}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--tree", default="experimental")
    ap.add_argument("--python", default="python3.15")
    ap.add_argument("--depth", type=int, default=30)
    ap.add_argument("--profilers", default="pyrograph,sampling")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    tree = os.path.join(CHROOTS, a.tree)
    kinds = a.profilers.split(",")
    if "austin" in kinds and not os.path.exists(os.path.join(tree, "usr/bin/austin")):
        r = subprocess.run(["chroot", tree, "sh", "-c",
                            "apt-get update -qq && apt-get install -y -qq austin"],
                           capture_output=True, text=True)
        if r.returncode:
            # e.g. experimental: Debian's austin 3.7 depends on python3 < 3.14
            print("austin cannot be installed in %s: %s" % (
                a.tree, (r.stderr.strip().splitlines() or ["?"])[-1]))
            kinds.remove("austin")
    with open(os.path.join(tree, "tmp", "peers_spin.py"), "w") as f:
        f.write(SPIN)
    total = a.rounds * len(kinds) * (a.seconds + 3) + 60
    # the target in a mount namespace of its own, where its tree has /proc
    target = subprocess.Popen(["unshare", "-m", "sh", "-c",
                               'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"', tree,
                               a.python, "/tmp/peers_spin.py", str(a.depth), str(total)],
                              stdout=subprocess.PIPE, text=True)
    target.stdout.readline()
    res = {k: [] for k in kinds}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(a.rounds):
                order = kinds[r % len(kinds):] + kinds[:r % len(kinds)]
                for k in order:
                    res[k].append(run_one(k, a, target.pid, tmp))
                    x = res[k][-1]
                    if "error" in x:
                        print("round %d %-9s error: %s" % (r + 1, k, x["error"]), flush=True)
                    else:
                        print("round %d %-9s %.3f s CPU, %d samples: %.1f us/sample, "
                              "%.1f in the steady window" % (
                                  r + 1, k, x["cpu_s"], x["samples"], x["us_per_sample"],
                                  x["window_us"] or float("nan")), flush=True)
    finally:
        target.kill()
        target.wait()
    print("\nmedians over %d rounds (%s in %s, %d-deep stack, %d Hz, %g s each):"
          % (a.rounds, a.python, a.tree, a.depth, a.rate, a.seconds))
    for k in kinds:
        ok = [x for x in res[k] if "error" not in x]
        if not ok:
            print("  %-10s could not profile the target: %s" % (k, res[k][0]["error"]))
            continue
        med = lambda key: statistics.median(x[key] for x in ok if x[key] is not None)
        print("  %-10s %6.1f us per sample (%.1f steady)  %.3f s CPU for %d samples  (%d/%d rounds)"
              % (k, med("us_per_sample"), med("window_us"), med("cpu_s"), med("samples"),
                 len(ok), len(res[k])))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Cost of record --idle on a context-switch-heavy target: two threads
ping-pong through queues (every hand-off is a sleep and a wake-up), measured
in round trips per second, unprofiled / record / record --idle /
record --native, interleaved, median of N rounds.

    scripts/bench_idle.py [--build build] [--rounds 5] [--seconds 5]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

WORKLOAD = r'''
import queue, sys, threading, time
a, b = queue.Queue(), queue.Queue()
def pong():
    while True:
        x = a.get()
        if x is None: return
        b.put(x)
t = threading.Thread(target=pong); t.start()
print("ready", flush=True)
end = time.monotonic() + float(sys.argv[1]); n = 0
while time.monotonic() < end:
    a.put(n); b.get(); n += 1
a.put(None); t.join()
print(n / float(sys.argv[1]), flush=True)
'''


def run(binary, mode, seconds):
    p = subprocess.Popen([sys.executable, "-c", WORKLOAD, str(seconds)],
                         stdout=subprocess.PIPE, text=True)
    p.stdout.readline()
    rec = None
    if mode is not None:
        rec = subprocess.Popen([binary, "record", "-q", "-p", str(p.pid), "-d", str(seconds + 2),
                                "-o", "/dev/null", "-f", "collapsed"] + mode,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rate = float(p.stdout.readline())
    p.wait()
    if rec:
        err = rec.communicate()[1]
        if rec.returncode:
            raise RuntimeError(err)
    return rate


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(os.path.dirname(__file__), "..", "build"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--busy", action="store_true",
                    help="keep every CPU out of idle with nice-19 spinners: otherwise the wake-up"
                         " latency of idle CPUs dominates, and any extra activity (the profiler's"
                         " own) makes the ping-pong faster")
    a = ap.parse_args()
    spinners = []
    if a.busy:
        for _ in range(os.cpu_count()):
            spinners.append(subprocess.Popen(["nice", "-n", "19", sys.executable, "-c",
                                              "while True: pass"]))
    binary = os.path.join(a.build, "pyrograph")
    modes = {"unprofiled": None, "record": [], "record --idle": ["--idle"],
             "record --native": ["--native"]}
    res = {m: [] for m in modes}
    for r in range(a.rounds):
        for m, args in modes.items():
            res[m].append(run(binary, args, a.seconds))
            time.sleep(0.5)
    for sp in spinners:
        sp.kill()
    base = statistics.median(res["unprofiled"])
    print("| mode | round trips/s (median of %d) | vs unprofiled |" % a.rounds)
    print("|---|---|---|")
    for m, v in res.items():
        med = statistics.median(v)
        print("| %s | %.0f | %+.1f%% |" % (m, med, 100.0 * (med - base) / base))


if __name__ == "__main__":
    main()

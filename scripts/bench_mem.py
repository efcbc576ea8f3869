#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Cost of pyrograph mem on its target: the wall time of a fixed amount of
Python work (Debian python3.11) unwatched, under `pyrograph mem -p PID`
(resident-memory changes and GC probes), under `mem --live` (every call of
the C allocator's malloc, calloc, realloc and free traps; the large ones are
tracked) and under `mem --allocations` (every CPython allocator call traps),
in interleaved rounds; medians.

    scripts/bench_mem.py [--build build] [--rounds 5] [--python /usr/bin/python3.11]

Workloads:
  alloc  builds and drops dicts, lists and strings (millions of small
         allocations, young collections)
  grow   appends 64 KiB bytes objects to a list (page faults: RSS growth)
  medium makes and drops 1-5 KiB bytes objects (above pymalloc's 512
         bytes: each is a malloc and a free, the worst case of --live)
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Each prints "ready", waits for a line on stdin, runs, prints its wall time.
WORKLOADS = {
    "alloc": """
import sys, time
print("ready", flush=True); sys.stdin.readline()
t = time.perf_counter()
for i in range(600000):
    d = {"a": str(i), "b": [i, i + 1, i + 2], "c": (i, "x" * (i % 50))}
print(time.perf_counter() - t, flush=True)
""",
    "grow": """
import sys, time
print("ready", flush=True); sys.stdin.readline()
t = time.perf_counter()
keep = []
for i in range(8000):
    keep.append(b"x" * 65536)
    if len(keep) > 2000:
        del keep[:1000]
print(time.perf_counter() - t, flush=True)
""",
    "medium": """
import sys, time
print("ready", flush=True); sys.stdin.readline()
t = time.perf_counter()
for i in range(1000000):
    b = b"x" * (1024 + i % 4096)
print(time.perf_counter() - t, flush=True)
""",
}


def run_once(a, code, mode):
    p = subprocess.Popen([a.python, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "ready"
    mem = None
    if mode != "none":
        args = [os.path.join(a.build, "pyrograph"), "mem", "-q", "-p", str(p.pid), "-d", "120",
                "-o", "/dev/null"]
        if mode != "mem":
            args.append("--" + mode)
        mem = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)  # attached (BPF loaded, probes placed)
    p.stdin.write("go\n")
    p.stdin.flush()
    secs = float(p.stdout.readline())
    p.wait()
    if mem:
        mem.terminate()
        mem.wait()
    return secs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--python", default="/usr/bin/python3.11")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    modes = ("none", "mem", "live", "allocations")
    print("| workload | unwatched (s) | mem | mem --live | mem --allocations |")
    print("|---|---|---|---|---|")
    for name, code in WORKLOADS.items():
        times = {m: [] for m in modes}
        for r in range(a.rounds):
            order = modes if r % 2 == 0 else tuple(reversed(modes))
            for m in order:
                times[m].append(run_once(a, code, m))
        base = statistics.median(times["none"])
        cells = ["%.3f" % base]
        for m in modes[1:]:
            med = statistics.median(times[m])
            cells.append("%.3f s (%+.1f%%)" % (med, 100 * (med / base - 1)))
        print("| %s | %s |" % (name, " | ".join(cells)), flush=True)


if __name__ == "__main__":
    main()

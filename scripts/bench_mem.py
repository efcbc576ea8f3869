#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Cost of pyrograph mem on its target: the wall time of a fixed amount of
Python work (Debian python3.11) unwatched and under `pyrograph mem -p PID`
(the default: memory held, from the mapping syscalls; resident-memory
changes; GC probes), in interleaved rounds; medians. --modes adds
`mem --live` (every call of the C allocator's malloc, calloc, realloc and
free traps; the large ones are tracked) and `mem --allocations` (every
CPython allocator call traps). --service measures a FastAPI app on uvicorn
under wrk instead: requests per second with and without `pyrograph mem`.

--paired measures against a peer in the same run instead, the steadier
figure on a VM whose speed swings: two copies of the workload (of the app)
pinned together to CPU 1, which the kernel shares between them evenly,
`pyrograph mem` (on CPU 0) on one of them, alternately, with a round with
neither watched first. Workloads: the watched copy's CPU time against the
other's; the service: its requests/s (scripts/bench_async.py --paired).

    scripts/bench_mem.py [--build build] [--rounds 5] [--python /usr/bin/python3.11]
                         [--modes none,mem,live,allocations] [--paired]
    scripts/bench_mem.py --service [--rounds 5] [--seconds 10] [--paired]

Workloads:
  alloc  builds and drops dicts, lists and strings (millions of small
         allocations, young collections)
  cache  fills a dict with ~200-byte strings (pymalloc takes an arena from
         the kernel every MiB: the held view's events)
  grow   appends 64 KiB bytes objects to a list (page faults: RSS growth;
         heap growth and trims)
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

# Each prints "ready", waits for a line on stdin, runs, prints its wall time
# and its CPU time (user and system: where the BPF programs run too). On a
# shared machine the CPU time is the steadier of the two: wall time also
# counts waiting for a CPU.
WORKLOADS = {
    "alloc": """
import sys, time
print("ready", flush=True); sys.stdin.readline()
t, c = time.perf_counter(), time.process_time()
for i in range(1500000):
    d = {"a": str(i), "b": [i, i + 1, i + 2], "c": (i, "x" * (i % 50))}
print(time.perf_counter() - t, time.process_time() - c, flush=True)
""",
    "cache": """
import sys, time
print("ready", flush=True); sys.stdin.readline()
t, c = time.perf_counter(), time.process_time()
cache = {}
for i in range(1500000):
    cache["k%d" % i] = "v" * 200
print(time.perf_counter() - t, time.process_time() - c, flush=True)
""",
    "grow": """
import sys, time
print("ready", flush=True); sys.stdin.readline()
t, c = time.perf_counter(), time.process_time()
keep = []
for i in range(8000):
    keep.append(b"x" * 65536)
    if len(keep) > 2000:
        del keep[:1000]
print(time.perf_counter() - t, time.process_time() - c, flush=True)
""",
    "medium": """
import sys, time
print("ready", flush=True); sys.stdin.readline()
t, c = time.perf_counter(), time.process_time()
for i in range(1000000):
    b = b"x" * (1024 + i % 4096)
print(time.perf_counter() - t, time.process_time() - c, flush=True)
""",
}


sys.path.insert(0, HERE)
from bench_async import (APPS, cpu_seconds, free_port, prog_stats,  # noqa: E402
                         wait_ready, wait_up, wrk)


def start_mem(a, pid, mode, cpu=None):
    """pyrograph mem [--MODE] -p PID, returned with its probes placed."""
    args = [os.path.join(a.build, "pyrograph"), "mem", "-q", "-p", str(pid), "-d", "600",
            "-o", "/dev/null"]
    if mode != "mem":
        args.append("--" + mode)
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    rfd, wfd = os.pipe()
    mem = subprocess.Popen(pin + args + ["--ready-fd", str(wfd)], pass_fds=(wfd,),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    os.close(wfd)
    wait_ready(rfd, mem)  # BPF loaded, probes placed
    return mem


def start_workload(a, code, cpu=None):
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    p = subprocess.Popen(pin + [a.python, "-c", code], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    return p


def finish_workload(p):
    """Its (wall, CPU) seconds, once it has run."""
    wall, cpu = (float(x) for x in p.stdout.readline().split())
    p.wait()
    return wall, cpu


def run_once(a, code, mode):
    p = start_workload(a, code)
    mem = start_mem(a, p.pid, mode) if mode != "none" else None
    p.stdin.write("go\n")
    p.stdin.flush()
    wall, cpu = finish_workload(p)
    if mem:
        mem.terminate()
        mem.wait()
    return wall, cpu


def run_paired(a, code, mode, watched):
    """Two copies at once on CPU 1, mem on copy `watched` (None: neither).
    Returns their CPU seconds."""
    ps = [start_workload(a, code, cpu=1) for _ in range(2)]
    mem = start_mem(a, ps[watched].pid, mode, cpu=0) if watched is not None else None
    for p in ps:
        p.stdin.write("go\n")
        p.stdin.flush()
    cpu = [finish_workload(p)[1] for p in ps]
    if mem:
        mem.terminate()
        mem.wait()
    return cpu


def paired_workloads(a, modes):
    print("| workload | copy 0 / copy 1 CPU, unwatched | %s |" % " | ".join(
        "`mem%s`: the watched copy's CPU" % ("" if m == "mem" else " --" + m)
        for m in modes))
    print("|---|---|%s" % ("---|" * len(modes)))
    for name in a.workloads.split(","):
        ratio, cost = [], {m: [] for m in modes}
        for r in range(a.rounds):
            cpu = run_paired(a, WORKLOADS[name], None, None)
            ratio.append(cpu[0] / cpu[1])
            for k, m in enumerate(modes):
                w = (r + k) % 2
                cpu = run_paired(a, WORKLOADS[name], m, w)
                rel = cpu[0] / cpu[1] / statistics.median(ratio)
                cost[m].append(100.0 * ((rel if w == 0 else 1.0 / rel) - 1.0))
        print("| %s | %.3f | %s |" % (name, statistics.median(ratio), " | ".join(
            "%+.1f%% (rounds %s)" % (statistics.median(cost[m]),
                                     ", ".join("%+.1f" % x for x in cost[m]))
            for m in modes)), flush=True)


def service(a):
    """The FastAPI app under wrk, without and with `pyrograph mem -p PID`,
    interleaved; medians of requests per second and of the app's CPU time
    per request (user and system, where the BPF programs run: the steadier
    measure on a shared machine), and the in-kernel cost of each of mem's
    BPF programs (bpf_stats)."""
    binary = os.path.join(a.build, "pyrograph")
    port = free_port()
    app = subprocess.Popen([a.python, APPS["fastapi"], str(port), "asyncio"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=1"], check=False)
    rps = {"none": [], "mem": []}
    cpr = {"none": [], "mem": []}
    own, costs = [], []

    def measure(mode):
        c0 = cpu_seconds(app.pid)
        r = wrk(port, "/ok", a.seconds, 8)
        rps[mode].append(r)
        cpr[mode].append(1e6 * (cpu_seconds(app.pid) - c0) / (r * a.seconds))

    try:
        wait_up(port, app)
        wrk(port, "/ok", 2, 8)  # warm up
        for r in range(a.rounds):
            for mode in (("none", "mem") if r % 2 == 0 else ("mem", "none")):
                if mode == "none":
                    measure(mode)
                    continue
                rfd, wfd = os.pipe()
                rec = subprocess.Popen([binary, "mem", "-q", "-p", str(app.pid), "-d",
                                        str(a.seconds + 3), "-o", "/dev/null",
                                        "--ready-fd", str(wfd)], pass_fds=(wfd,),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       text=True)
                os.close(wfd)
                wait_ready(rfd, rec)  # probes attached
                before = prog_stats(rec.pid)
                t0, c0 = time.monotonic(), cpu_seconds(rec.pid)
                measure(mode)
                own.append(100.0 * (cpu_seconds(rec.pid) - c0) / (time.monotonic() - t0))
                after = prog_stats(rec.pid)
                err = rec.communicate()[1]
                if rec.returncode:
                    raise RuntimeError(err)
                costs.append({n: (cnt - before.get(n, (0, 0))[0],
                                  (ns - before.get(n, (0, 0))[1]) /
                                  max(1, cnt - before.get(n, (0, 0))[0]))
                              for n, (cnt, ns) in after.items()})
            print("round %d: unwatched %.0f req/s, %.1f us CPU/req; pyrograph mem %.0f req/s, "
                  "%.1f us CPU/req; pyrograph's CPU %.1f%%" % (
                      r + 1, rps["none"][-1], cpr["none"][-1], rps["mem"][-1],
                      cpr["mem"][-1], own[-1]), flush=True)
    finally:
        app.kill()
        app.wait()
    mb, mp = statistics.median(rps["none"]), statistics.median(rps["mem"])
    cb, cp = statistics.median(cpr["none"]), statistics.median(cpr["mem"])
    print("\nFastAPI /ok on %s, wrk -c8, %d x %d s interleaved, medians: %.0f req/s "
          "unwatched, %.0f under pyrograph mem (%+.1f%%); the app's CPU per request "
          "%.1f us unwatched, %.1f us under mem (%+.1f%%); pyrograph's own CPU %.1f%% of "
          "one core" % (a.python, a.rounds, a.seconds, mb, mp, 100.0 * (mp - mb) / mb,
                        cb, cp, 100.0 * (cp - cb) / cb, statistics.median(own)))
    for n in sorted({n for c in costs for n in c}):
        runs = [c[n] for c in costs if n in c and c[n][0]]
        if runs:
            print("  %-16s %10.0f runs/s  %7.0f ns/run" % (
                n, statistics.median(x[0] for x in runs) / a.seconds,
                statistics.median(x[1] for x in runs)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--python", default="/usr/bin/python3.11")
    ap.add_argument("--modes", default="none,mem",
                    help="comma-separated, from none, mem, live, allocations")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--service", action="store_true",
                    help="a FastAPI app under wrk instead of the workloads")
    ap.add_argument("--seconds", type=int, default=10, help="--service: wrk's run")
    ap.add_argument("--paired", action="store_true",
                    help="against a second copy in the same run (see above)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    modes = tuple(a.modes.split(","))
    if modes[0] != "none" or not set(modes) <= {"none", "mem", "live", "allocations"}:
        sys.exit("--modes: none first, then some of mem, live, allocations")
    if a.service and a.paired:
        from bench_async import bench_paired

        a.loop, a.path, a.connections = "asyncio", "/ok", 8
        subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=1"], check=False)
        return bench_paired(a, a.python, APPS["fastapi"], "mem", {
            m: (lambda pid, m=m: start_mem(a, pid, m, cpu=0)) for m in modes[1:]})
    if a.service:
        return service(a)
    if a.paired:
        return paired_workloads(a, modes[1:])
    names = {"mem": "mem", "live": "mem --live", "allocations": "mem --allocations"}
    print("| workload | unwatched: wall, CPU (s) | %s |" % " | ".join(
        names[m] + ": wall, CPU" for m in modes[1:]))
    print("|---|---|%s" % ("---|" * (len(modes) - 1)))
    for name in a.workloads.split(","):
        code = WORKLOADS[name]
        times = {m: [] for m in modes}
        for r in range(a.rounds):
            order = modes if r % 2 == 0 else tuple(reversed(modes))
            for m in order:
                times[m].append(run_once(a, code, m))
        wall0 = statistics.median(t[0] for t in times["none"])
        cpu0 = statistics.median(t[1] for t in times["none"])
        cells = ["%.3f, %.3f" % (wall0, cpu0)]
        for m in modes[1:]:
            wall = statistics.median(t[0] for t in times[m])
            cpu = statistics.median(t[1] for t in times[m])
            cells.append("%+.1f%%, %+.1f%%" % (100 * (wall / wall0 - 1), 100 * (cpu / cpu0 - 1)))
        print("| %s | %s |" % (name, " | ".join(cells)), flush=True)

if __name__ == "__main__":
    main()

#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Cost of pyrograph async on a FastAPI service: requests per second of a
FastAPI app on uvicorn (Debian python3.11, python3-fastapi) under wrk, with
and without `pyrograph async -p PID` attached, interleaved rounds, medians.
Every part runs: loop timing, stall stacks, blocking calls, task-step and
await-latency uprobes.

    scripts/bench_async.py [--build build] [--rounds 5] [--seconds 10]
                           [--loop asyncio|uvloop] [--path /ok] [--agent]

--agent measures `pyrograph agent --metrics-listen` instead (the same BPF
side, run without end), scraped every second as Prometheus would.

Needs wrk, python3-fastapi, python3-uvicorn (scripts/deps.sh). Also prints
the in-kernel cost of each BPF program (bpf_stats) for the profiled rounds.
"""
import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
APP = os.path.join(HERE, "..", "tests", "e2e", "workloads", "async_fastapi.py")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_up(port, proc):
    for _ in range(200):
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/ok" % port, timeout=2).read()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("the app exited: %s" % proc.stderr.read())
            time.sleep(0.05)
    raise RuntimeError("the app did not come up")


def wrk(port, path, seconds, conns):
    out = subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds,
                          "http://127.0.0.1:%d%s" % (port, path)],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise RuntimeError("no Requests/sec in wrk output:\n" + out)
    return float(m.group(1))


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def prog_stats():
    """{program name: (run_cnt, run_time_ns)} of loaded BPF programs."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True)
    stats = {}
    try:
        for p in json.loads(out.stdout or "[]"):
            if "run_cnt" in p:
                stats[p.get("name", "?")] = (p["run_cnt"], p["run_time_ns"])
    except ValueError:
        pass
    return stats


def start_agent(binary, pid, no_steps):
    """The agent serving metrics for pid, and a thread scraping it every
    second (returns the process and a stop function)."""
    rec = subprocess.Popen([binary, "agent", "-q", "--metrics-listen", "127.0.0.1:0",
                            "-p", str(pid)] + (["--no-await"] if no_steps else []),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = None
    while not url:
        line = rec.stderr.readline()
        if not line:
            raise RuntimeError("the agent did not start")
        m = re.search(r"metrics at (http://\S+)", line)
        url = m.group(1) if m else None
    done = threading.Event()
    scrapes = []

    def scrape():
        while not done.wait(1.0):
            t = time.monotonic()
            body = urllib.request.urlopen(url, timeout=5).read()
            scrapes.append((time.monotonic() - t, len(body)))
    th = threading.Thread(target=scrape, daemon=True)
    th.start()

    def stop():
        done.set()
        th.join()
        rec.send_signal(signal.SIGINT)
        err = rec.communicate()[1]
        if rec.returncode:
            raise RuntimeError(err)
        return scrapes
    return rec, stop


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--loop", default="asyncio", choices=("asyncio", "uvloop"))
    ap.add_argument("--path", default="/ok")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--no-steps", action="store_true",
                    help="pyrograph async --no-steps (agent: --no-await)")
    ap.add_argument("--agent", action="store_true",
                    help="measure agent --metrics-listen, scraped every second")
    a = ap.parse_args()
    binary = os.path.join(a.build, "pyrograph")
    port = free_port()
    app = subprocess.Popen(["/usr/bin/python3.11", APP, str(port), a.loop],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=1"], check=False)
    base, prof, costs, own, scrapes = [], [], [], [], []
    tool = "agent --metrics-listen" if a.agent else "async"
    try:
        wait_up(port, app)
        wrk(port, a.path, 2, a.connections)  # warm up
        for r in range(a.rounds):
            base.append(wrk(port, a.path, a.seconds, a.connections))
            if a.agent:
                rec, stop_agent = start_agent(binary, app.pid, a.no_steps)
            else:
                rec = subprocess.Popen([binary, "async", "-q", "-p", str(app.pid),
                                        "-d", str(a.seconds + 3), "-f", "json", "-o", "/dev/null"]
                                       + (["--no-steps"] if a.no_steps else []),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       text=True)
            time.sleep(1.5)  # attached and sampling
            before = prog_stats()
            t0, c0 = time.monotonic(), cpu_seconds(rec.pid)
            prof.append(wrk(port, a.path, a.seconds, a.connections))
            own.append(100.0 * (cpu_seconds(rec.pid) - c0) / (time.monotonic() - t0))
            after = prog_stats()
            if a.agent:
                scrapes.extend(stop_agent())
            else:
                err = rec.communicate()[1]
                if rec.returncode:
                    raise RuntimeError(err)
            cost = {}
            for name, (cnt, ns) in after.items():
                c0, n0 = before.get(name, (0, 0))
                if name.startswith("py_") and cnt > c0:
                    cost[name] = (cnt - c0, (ns - n0) / (cnt - c0))
            costs.append(cost)
            print("round %d: %.0f req/s unprofiled, %.0f req/s with pyrograph %s (%+.2f%%), "
                  "pyrograph CPU %.1f%%" % (r + 1, base[-1], prof[-1], tool,
                                            100.0 * (prof[-1] - base[-1]) / base[-1], own[-1]),
                  flush=True)
    finally:
        app.kill()
        app.wait()
    mb, mp = statistics.median(base), statistics.median(prof)
    print("\nFastAPI %s %s, wrk -c%d, %d x %d s: median %.0f req/s unprofiled, %.0f with "
          "pyrograph %s%s: %+.2f%%" % (a.loop, a.path, a.connections, a.rounds, a.seconds,
                                       mb, mp, tool, " (no steps)" if a.no_steps else "",
                                       100.0 * (mp - mb) / mb))
    if scrapes:
        print("  /metrics: %d scrapes, median %.1f ms, %d bytes" % (
            len(scrapes), 1000 * statistics.median(x[0] for x in scrapes),
            statistics.median(x[1] for x in scrapes)))
    print("  pyrograph's own CPU: median %.1f%% of one core" % statistics.median(own))
    names = sorted({n for c in costs for n in c})
    for n in names:
        runs = [c[n] for c in costs if n in c]
        print("  %-16s %10.0f runs/s  %7.0f ns/run" % (
            n, statistics.median(x[0] for x in runs) / a.seconds,
            statistics.median(x[1] for x in runs)))


if __name__ == "__main__":
    sys.exit(main())

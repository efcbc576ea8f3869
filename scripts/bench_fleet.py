#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""The agent on a big host, simulated by rate, as root.

A 64-CPU host sampled at 100 Hz takes 6,400 samples a second; here the
agent samples the VM's CPUs at --rate (default 3,200 Hz per busy CPU: 6,400
samples/s on 2 busy CPUs) while --procs busy Python processes (each its own
few stacks, as services are) run for --seconds, and uploads every --period
to a local receiver that accepts everything. Reported: the agent's CPU (%
of one core, from /proc), its samples per second, its peak RSS and the BPF
maps it holds (bpftool), and what the receiver got.

  scripts/bench_fleet.py [--rate 3200] [--procs 20] [--seconds 60]
"""
import argparse
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUSY = r'''
import sys, time
def leaf(k):
    t = 0
    for i in range(k):
        t += i * i % 7
    return t
def mid(n, k):
    return leaf(k) if n == 0 else mid(n - 1, k)
def serve(depth):
    while True:
        mid(depth, 2000)
        mid(depth + 3, 3000)
print("ready", flush=True)
serve(int(sys.argv[1]))
'''


class Receiver(http.server.BaseHTTPRequestHandler):
    got = 0
    nbytes = 0

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        self.rfile.read(n)
        Receiver.got += 1
        Receiver.nbytes += n
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def map_bytes():
    try:
        maps = json.loads(subprocess.run(["bpftool", "-j", "map", "show"], capture_output=True,
                                         text=True, timeout=20).stdout)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    return sum(m.get("bytes_memlock", 0) for m in maps)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=int, default=3200)
    ap.add_argument("--procs", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--period", type=int, default=10)
    ap.add_argument("--python", default="/usr/bin/python3.11")
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "pyrograph"))
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    procs = []
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "busy.py")
        with open(script, "w") as f:
            f.write(BUSY)
        maps_before = map_bytes()
        try:
            for i in range(a.procs):
                p = subprocess.Popen([a.python, script, str(10 + i % 20)], stdout=subprocess.PIPE,
                                     text=True)
                p.stdout.readline()
                procs.append(p)
            r, w = os.pipe()
            agent = subprocess.Popen([a.binary, "agent", "-q", "--server",
                                      "http://127.0.0.1:%d" % srv.server_port, "--period",
                                      str(a.period), "-r", str(a.rate), "--ready-fd", str(w)],
                                     pass_fds=(w,), stderr=subprocess.PIPE, text=True)
            os.close(w)
            os.read(r, 16)
            os.close(r)
            c0, t0 = cpu_seconds(agent.pid), time.monotonic()
            time.sleep(a.seconds / 2)
            maps_during = map_bytes()
            time.sleep(a.seconds / 2)
            c1, t1 = cpu_seconds(agent.pid), time.monotonic()
            rss = peak_rss_kb(agent.pid)
            agent.terminate()
            err = agent.communicate(timeout=60)[1]
        finally:
            for p in procs:
                p.kill()
                p.wait()
    print("agent at %d Hz, %d busy processes, %.0f s:" % (a.rate, a.procs, t1 - t0))
    print("  agent CPU: %.2f%% of one core (%.2f s)" % (100.0 * (c1 - c0) / (t1 - t0), c1 - c0))
    print("  agent peak RSS: %d KiB" % rss)
    if maps_before is not None and maps_during is not None:
        print("  BPF map memory while running: %.1f MiB (all maps on the host: %.1f before)"
              % ((maps_during - maps_before) / 2**20, maps_before / 2**20))
    print("  uploads received: %d (%d KiB)" % (Receiver.got, Receiver.nbytes // 1024))
    if agent.returncode:
        print(err)


if __name__ == "__main__":
    main()

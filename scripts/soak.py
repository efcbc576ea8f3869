#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Soak test: `pyrograph record -a` at a high rate for a long time while
Python processes come and go, sampling pyrograph's RSS, open fds and the
entries of its BPF maps every INTERVAL seconds, and its own memory figures
(kill -USR1: distinct stacks, bytes the profile holds, heap in use). Prints
one CSV row per sample and a verdict: after the first 10% (warm-up), each
series must stay within a small band (no growth with churn). The profile
grows with every distinct stack it records -- that is the data asked for --
so RSS and heap are judged with the profile's own bytes taken out; the raw
RSS and the profile's size are printed beside them.

    scripts/soak.py [--minutes 30] [--rate 1000] [--interval 30] [--csv FILE]
"""
import argparse
import json
import os
import random
import subprocess
import re
import signal
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUSY = "import sys,time\nend=time.monotonic()+float(sys.argv[1])\nwhile time.monotonic()<end: sum(range(500))\n"
MAPS = ("procs", "targets", "seen", "tstate_cache", "offcpu_start", "stack_counts")
# where the pid or tid sits in each map's key: stack_counts' key is
# struct stack_key (a 64-bit hash, then the pid)
KEY_AT = {"stack_counts": 8}
COLS = MAPS + tuple("stale_" + m for m in MAPS)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def caught_usr1(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGUSR1 - 1)))
    return False


def entry_key(e, at=0):
    """The u32 pid or tid at byte at of one `bpftool -j map dump` entry's key."""
    k = e.get("key")
    if isinstance(k, list):  # bytes as hex strings, little-endian
        return int.from_bytes(bytes(int(b, 16) for b in k[at:at + 4]), "little")
    f = e.get("formatted", {}).get("key")
    if isinstance(f, dict):
        f = f.get("pid")
    return f if isinstance(f, int) else None


def map_entries(pid):
    """Entries of pyrograph's hash maps (bpftool lists the owning pids), and
    how many of them are stale: keyed by a pid or tid that no longer exists.
    Live entries follow what runs (more processes seen over time, up to the
    number alive); stale ones would be a leak."""
    out = {}
    try:
        maps = json.loads(subprocess.run(["bpftool", "-j", "map", "list"], capture_output=True,
                                         text=True, timeout=30).stdout or "[]")
    except (json.JSONDecodeError, subprocess.TimeoutExpired):
        return out
    for m in maps:
        # bookworm's bpftool does not list owning pids: with none listed, go
        # by name (run the soak without another pyrograph)
        owners = m.get("pids")
        if m.get("name") not in MAPS or (owners and not any(p.get("pid") == pid for p in owners)):
            continue
        dump = subprocess.run(["bpftool", "-j", "map", "dump", "id", str(m["id"])],
                              capture_output=True, text=True, timeout=60).stdout
        try:
            entries = json.loads(dump or "[]")
        except json.JSONDecodeError:
            out[m["name"]] = out["stale_" + m["name"]] = -1
            continue
        keys = [entry_key(e, KEY_AT.get(m["name"], 0)) for e in entries]
        # re-checked once: an entry may be deleted just after its process
        stale = [k for k in keys if k is not None and not os.path.exists("/proc/%d" % k)]
        if stale:
            time.sleep(0.5)
            dump = subprocess.run(["bpftool", "-j", "map", "dump", "id", str(m["id"])],
                                  capture_output=True, text=True, timeout=60).stdout
            try:
                again = {entry_key(e, KEY_AT.get(m["name"], 0)) for e in json.loads(dump or "[]")}
            except json.JSONDecodeError:
                again = set(stale)
            stale = [k for k in stale if k in again and not os.path.exists("/proc/%d" % k)]
        out[m["name"]] = len(entries)
        out["stale_" + m["name"]] = len(stale)
    return out


STATS = re.compile(r"stats: stacks (\d+), profile bytes (\d+), heap in use (\d+)")


class Stats(threading.Thread):
    """Reads pyrograph's stderr; keeps the last stats line and the rest."""

    def __init__(self, f):
        super().__init__(daemon=True)
        self.f, self.last, self.other, self.event = f, None, [], threading.Event()
        self.start()

    def run(self):
        for line in self.f:
            m = STATS.search(line)
            if m:
                self.last = tuple(int(x) for x in m.groups())
                self.event.set()
            else:
                self.other.append(line)

    def ask(self, pid):
        self.event.clear()
        os.kill(pid, signal.SIGUSR1)
        self.event.wait(10)
        return self.last if self.event.is_set() else (-1, -1, -1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=30)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--python", default="/usr/bin/python3.11")
    ap.add_argument("--csv", default=None)
    a = ap.parse_args()
    seconds = a.minutes * 60
    out = "/tmp/pyrograph-soak.txt"
    # -g none: with a root frame per process the profile itself grows by one
    # set of stacks per process started, which is data, not a leak
    rec = subprocess.Popen([os.path.join(a.build, "pyrograph"), "record", "-q", "-a", "-r", str(a.rate),
                            "-g", "none", "-d", str(seconds), "-f", "collapsed", "-o", out],
                           stderr=subprocess.PIPE, text=True)
    stats = Stats(rec.stderr)
    # SIGUSR1 would kill it before its handler is in place
    while rec.poll() is None and not caught_usr1(rec.pid):
        time.sleep(0.1)
    time.sleep(2)
    long_lived = [subprocess.Popen([a.python, "-c", BUSY, str(seconds)]) for _ in range(2)]
    children, rows, started = [], [], time.monotonic()
    next_sample = started
    csv = open(a.csv, "w") if a.csv else None
    header = ("seconds,rss_kb,fds,procs_started,stacks,profile_kb,rss_minus_profile_kb,"
              "heap_minus_profile_kb," + ",".join(COLS))
    print(header, flush=True)
    if csv:
        print(header, file=csv, flush=True)
    nstarted = 0
    while time.monotonic() - started < seconds - 5 and rec.poll() is None:
        # churn: a short-lived Python process every ~100 ms (0.05-1.5 s each)
        children.append(subprocess.Popen([a.python, "-c", BUSY, "%.2f" % random.uniform(0.05, 1.5)]))
        nstarted += 1
        children = [c for c in children if c.poll() is None]
        time.sleep(0.1)
        if time.monotonic() >= next_sample:
            m = map_entries(rec.pid)
            nstacks, prof, heap = stats.ask(rec.pid)
            rss = rss_kb(rec.pid)
            row = [round(time.monotonic() - started), rss, len(os.listdir("/proc/%d/fd" % rec.pid)),
                   nstarted, nstacks, prof // 1024, rss - prof // 1024 if prof >= 0 else -1,
                   (heap - prof) // 1024 if prof >= 0 else -1] + [m.get(k, "") for k in COLS]
            rows.append(row)
            line = ",".join(str(x) for x in row)
            print(line, flush=True)
            if csv:
                print(line, file=csv, flush=True)
            next_sample += a.interval
    for c in children + long_lived:
        c.kill()
    rec.wait()
    stats.join(10)
    print("".join(stats.other[-3:]).strip(), file=sys.stderr)
    # Flat: after a 10% warm-up, the mean of the last third of the samples
    # is not above the mean of the first third by more than a small band
    # (map entries come and go with the churn, so single samples jitter).
    warm = rows[max(1, len(rows) // 10):]
    ok = True
    judged = ((2, "fds"), (6, "rss_minus_profile_kb"), (7, "heap_minus_profile_kb"))
    for i, name in ((1, "rss_kb"), (4, "stacks"), (5, "profile_kb")):
        vals = [r[i] for r in warm if r[i] >= 0]
        if vals:
            print("%-21s min %8d max %8d  (not judged: the profile's data)" % (name, min(vals), max(vals)))
    for k, name in enumerate(MAPS):
        vals = [r[8 + k] for r in warm if isinstance(r[8 + k], int) and r[8 + k] >= 0]
        if vals:
            print("%-21s min %8d max %8d  (not judged: live processes' entries)" % (
                name, min(vals), max(vals)))
    for i, name in judged + tuple((8 + len(MAPS) + k, n) for k, n in enumerate(COLS[len(MAPS):])):
        vals = [r[i] for r in warm if isinstance(r[i], int) and r[i] >= 0]
        if len(vals) < 3:
            continue
        third = max(1, len(vals) // 3)
        early = sum(vals[:third]) / third
        late = sum(vals[-third:]) / third
        band = max(512, 0.05 * early) if name.endswith("_kb") else max(4, 0.25 * early)
        flat = late - early <= band
        ok &= flat
        print("%-21s min %8d max %8d  first third %10.1f  last third %10.1f  %s" % (
            name, min(vals), max(vals), early, late, "flat" if flat else "GROWS"))
    print("%d Python processes started; pyrograph exit %s" % (nstarted, rec.returncode))
    sys.exit(0 if ok and rec.returncode == 0 else 1)


if __name__ == "__main__":
    main()

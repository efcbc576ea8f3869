# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Forces garbage collections: cyclic garbage made all the time (young
collections set off by allocation) and gc.collect() every 50 ms (full
ones). Prints "ready" and runs for argv[1] seconds. With argv[2], it keeps
CPython's own account of every collection (gc.callbacks: when it started,
by time.monotonic(), and its generation) and writes it there as JSON when
it ends or gets SIGTERM: {"full_collect_calls": N, "collections": [[t, gen],
...]}."""
import gc
import json
import signal
import sys
import time

log = []
stopping = False


class Node:
    def __init__(self):
        self.other = self


def make_cycles(n):
    for _ in range(n):
        Node()  # ALLOC


def full_collect():
    gc.collect()  # FULL


def on_gc(phase, info):
    if phase == "start":
        log.append((time.monotonic(), info["generation"]))


def on_term(sig, frame):
    global stopping
    stopping = True


def main(seconds, out):
    if out:
        gc.callbacks.append(on_gc)
        signal.signal(signal.SIGTERM, on_term)
    print("ready", flush=True)
    end = time.monotonic() + seconds
    full = 0
    last = 0.0
    while time.monotonic() < end and not stopping:
        make_cycles(2000)
        now = time.monotonic()
        if now - last >= 0.05:
            full_collect()
            full += 1
            last = now
        time.sleep(0.001)
    if out:
        gc.callbacks.remove(on_gc)
        with open(out, "w") as f:
            json.dump({"full_collect_calls": full, "collections": log}, f)
    print(full, flush=True)


if __name__ == "__main__":
    main(float(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)

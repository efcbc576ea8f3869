# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""leaky() keeps 512 KiB per call; churn() allocates and frees 2 MiB per
call (in its own thread: see test_mem.py for why). Prints "ready", runs for
argv[1] seconds, then prints how many calls each made as JSON."""
import json
import sys
import threading
import time

keep = []


def leaky():
    keep.append(b"x" * (512 * 1024))  # LEAK


def churn():
    buf = b"y" * (2 * 1024 * 1024)  # CHURN
    return len(buf)


def churner(stop, counts):
    while not stop.is_set():
        churn()
        counts["churn"] += 1
        time.sleep(0.01)


def main(seconds):
    counts = {"leaky": 0, "churn": 0}
    stop = threading.Event()
    t = threading.Thread(target=churner, args=(stop, counts), name="churner")
    t.start()
    print("ready", flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        leaky()
        counts["leaky"] += 1
        time.sleep(0.05)
    stop.set()
    t.join()
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    main(float(sys.argv[1]))

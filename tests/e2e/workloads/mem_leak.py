# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""leaky() keeps 512 KiB per call; churn() allocates and frees 2 MiB per
call, both in the main thread, as a program would. Prints "ready", runs for
argv[1] seconds, then prints how many calls each made as JSON."""
import json
import sys
import time

keep = []


def leaky():
    keep.append(b"x" * (512 * 1024))  # LEAK


def churn():
    buf = b"y" * (2 * 1024 * 1024)  # CHURN
    return len(buf)


def main(seconds):
    counts = {"leaky": 0, "churn": 0}
    print("ready", flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        leaky()
        counts["leaky"] += 1
        for _ in range(5):
            churn()
            counts["churn"] += 1
            time.sleep(0.01)
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    main(float(sys.argv[1]))

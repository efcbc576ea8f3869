# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Issue 18's program: leaky() keeps a 512 KiB bytearray per call; churn()
builds eight 256 KiB bytearrays and drops them, in the same thread. Prints
"ready", runs for argv[1] seconds, then prints how many calls each made as
JSON."""
import json
import sys
import time

kept = []


def leaky():
    kept.append(bytearray(512 * 1024))  # LEAK


def churn():
    tmp = [bytearray(256 * 1024) for _ in range(8)]  # CHURN
    return len(tmp)


def main(seconds):
    counts = {"leaky": 0, "churn": 0}
    print("ready", flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        leaky()
        churn()
        counts["leaky"] += 1
        counts["churn"] += 1
        time.sleep(0.05)
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    main(float(sys.argv[1]))

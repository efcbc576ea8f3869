# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Forces garbage collections: cyclic garbage made all the time (young
collections set off by allocation) and gc.collect() every 50 ms (full
ones). Prints "ready" and runs for argv[1] seconds, then prints the number
of full collections it asked for."""
import gc
import sys
import time


class Node:
    def __init__(self):
        self.other = self


def make_cycles(n):
    for _ in range(n):
        Node()  # ALLOC


def full_collect():
    gc.collect()  # FULL


def main(seconds):
    print("ready", flush=True)
    end = time.monotonic() + seconds
    full = 0
    last = 0.0
    while time.monotonic() < end:
        make_cycles(2000)
        now = time.monotonic()
        if now - last >= 0.05:
            full_collect()
            full += 1
            last = now
        time.sleep(0.001)
    print(full, flush=True)


if __name__ == "__main__":
    main(float(sys.argv[1]))

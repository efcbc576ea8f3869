# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""A fixed amount of work in two functions; $DIFF_FACTOR multiplies the
cost of heavy() ("after" a change made it twice as expensive): the command
line stays the same, as for two runs of one job. Runs argv[1] rounds, then
prints one JSON line: the thread CPU seconds it spent in each function."""
import json
import os
import sys
import time


def heavy(factor):
    x = 0
    for i in range(20000 * factor):  # HEAVY
        x += i * i
    return x


def steady():
    x = 0
    for i in range(20000):  # STEADY
        x ^= i * 3
    return x


def main(factor, rounds):
    cpu = time.thread_time
    spent = {"heavy": 0.0, "steady": 0.0}
    for _ in range(rounds):
        a = cpu()
        heavy(factor)
        b = cpu()
        steady()
        c = cpu()
        spent["heavy"] += b - a
        spent["steady"] += c - b
    print(json.dumps(spent), flush=True)


if __name__ == "__main__":
    main(int(os.environ.get("DIFF_FACTOR", "1")), int(sys.argv[1]))

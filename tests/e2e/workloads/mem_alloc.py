# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Allocates in two functions at a 3:1 byte ratio: three_parts() makes
bytes objects of 24 KiB, one_part() of 8 KiB, alternately, freed at once.
Prints "ready", runs for argv[1] seconds, then prints the bytes each
allocated as JSON."""
import json
import sys
import time

SIZE = 8 * 1024


def three_parts():
    return len(bytes(3 * SIZE))  # THREE


def one_part():
    return len(bytes(SIZE))  # ONE


def main(seconds):
    done = {"three_parts": 0, "one_part": 0}
    print("ready", flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(200):
            done["three_parts"] += three_parts()
            done["one_part"] += one_part()
        time.sleep(0.002)
    print(json.dumps(done), flush=True)


if __name__ == "__main__":
    main(float(sys.argv[1]))

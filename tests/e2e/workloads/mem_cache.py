# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""The most common Python leak: a dict cache that is never trimmed, growing
by many small entries (a ~200-byte string each, and its key), while work()
makes and drops small objects of its own. Prints "ready", runs for argv[1]
seconds, then prints how many entries the cache holds as JSON."""
import json
import sys
import time

cache = {}


def lookup(i):
    key = "user:%d" % i
    if key not in cache:
        cache[key] = "v" * 200 + str(i)  # CACHE
    return cache[key]


def work():
    junk = [str(j) * 3 for j in range(200)]  # WORK
    return len(junk)


def main(seconds):
    print("ready", flush=True)
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        for _ in range(1000):
            lookup(i)
            i += 1
        work()
        time.sleep(0.01)
    print(json.dumps({"entries": len(cache)}), flush=True)


if __name__ == "__main__":
    main(float(sys.argv[1]))

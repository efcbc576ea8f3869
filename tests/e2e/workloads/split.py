# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Splits CPU time between hot() and cold(); cycle length in ms and the hot
# share come from argv. Writes the shares it really spent to argv[4] so the
# test compares the profile with what happened, not with a hoped-for value.
import json
import sys
import time

clock = time.perf_counter


def spin(until):
    while clock() < until:
        pass


def hot(ms):
    spin(clock() + ms / 1000.0)


def cold(ms):
    spin(clock() + ms / 1000.0)


def main():
    seconds, cycle_ms, hot_share, out = (float(sys.argv[1]), float(sys.argv[2]),
                                         float(sys.argv[3]), sys.argv[4])
    t_hot = t_cold = 0.0
    end = clock() + seconds
    print("ready", flush=True)
    while clock() < end:
        a = clock()
        hot(cycle_ms * hot_share)
        b = clock()
        cold(cycle_ms * (1 - hot_share))
        c = clock()
        t_hot += b - a
        t_cold += c - b
    with open(out, "w") as f:
        json.dump({"hot": t_hot, "cold": t_cold}, f)


main()

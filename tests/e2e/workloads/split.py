# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Splits CPU time between hot() and cold(); cycle length in ms and the hot
# share come from argv. Writes the CPU time it really spent in each to
# argv[4] (thread CPU time: when the machine is busy, wall time includes time
# spent descheduled, which no on-CPU profiler sees), so the test compares the
# profile with what happened, not with a hoped-for value. With argv[5] ==
# "cpu" the phases themselves are measured in thread CPU time, so the split
# holds in any window of the run even while the machine is contended. SIGTERM
# ends the run early (at the end of the current cycle) and still writes the
# file.
import json
import signal
import sys
import time

clock = time.thread_time if len(sys.argv) > 5 and sys.argv[5] == "cpu" else time.perf_counter


def spin(until):
    while clock() < until:
        pass


def hot(ms):
    spin(clock() + ms / 1000.0)


def cold(ms):
    spin(clock() + ms / 1000.0)


stopping = False


def on_term(sig, frame):
    global stopping
    stopping = True


def main():
    seconds, cycle_ms, hot_share, out = (float(sys.argv[1]), float(sys.argv[2]),
                                         float(sys.argv[3]), sys.argv[4])
    t_hot = t_cold = 0.0
    signal.signal(signal.SIGTERM, on_term)
    end = clock() + seconds
    print("ready", flush=True)
    cpu = time.thread_time
    while clock() < end and not stopping:
        a = cpu()
        hot(cycle_ms * hot_share)
        b = cpu()
        cold(cycle_ms * (1 - hot_share))
        c = cpu()
        t_hot += b - a
        t_cold += c - b
    with open(out, "w") as f:
        json.dump({"hot": t_hot, "cold": t_cold}, f)


main()

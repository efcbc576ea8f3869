# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Two pure-Python CPU-bound threads that take turns holding the GIL, and one
# thread hashing in C with the GIL released (on a CPU, but not the holder).
# Prints the thread ids when ready; on SIGTERM, each thread's CPU seconds.
import hashlib
import json
import signal
import threading
import time

stop = threading.Event()
stats = {}
data = b"x" * (32 << 20)  # ~15 ms of hashing per call, GIL released


def run(name, step):
    me = {"tid": threading.get_native_id(), "cpu": 0.0}
    stats[name] = me
    c0 = time.thread_time()
    while not stop.is_set():
        step()
        me["cpu"] = time.thread_time() - c0


def py_spin_one():
    def step():
        n = 0
        for i in range(5000):
            n += i
    run("py_spin_one", step)


def py_spin_two():
    def step():
        n = 0
        for i in range(5000):
            n += i
    run("py_spin_two", step)


def c_hash():
    def step():
        hashlib.sha256(data).digest()  # releases the GIL for big inputs
    run("c_hash", step)


signal.signal(signal.SIGTERM, lambda *a: stop.set())
threads = [threading.Thread(target=f) for f in (py_spin_one, py_spin_two, c_hash)]
for t in threads:
    t.start()
while len(stats) < 3:
    time.sleep(0.01)
print(json.dumps({k: v["tid"] for k, v in stats.items()}), flush=True)
stop.wait(120)
stop.set()
for t in threads:
    t.join()
print(json.dumps(stats), flush=True)

# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Four threads that each spend their time one way: sleeping, blocked on a
# lock, reading a file with O_DIRECT (real disk I/O, no page cache), and
# spinning. Each measures what it actually did; on SIGTERM (or after the
# given seconds) the process prints one JSON line: per thread its native id
# and the seconds spent in its blocking call, on CPU, and alive.
import json
import mmap
import os
import signal
import sys
import threading
import time

seconds = float(sys.argv[1])
path = sys.argv[2]  # a file on a real disk filesystem (not tmpfs)
stop = threading.Event()
stats = {}
lock = threading.Lock()
lock.acquire()  # held by the main thread until the end


def measure(name, step):
    me = {"tid": threading.get_native_id(), "blocked": 0.0}
    stats[name] = me
    t0, c0 = time.monotonic(), time.thread_time()
    while not stop.is_set():
        me["blocked"] += step()
        me["wall"] = time.monotonic() - t0
        me["cpu"] = time.thread_time() - c0


def sleeper():
    def step():
        t = time.monotonic()
        time.sleep(0.02)
        return time.monotonic() - t
    measure("sleeper", step)


def locker():
    def step():
        t = time.monotonic()
        lock.acquire(timeout=0.05)
        return time.monotonic() - t
    measure("locker", step)


def reader():
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, 1 << 22)  # page aligned, as O_DIRECT needs
    size = os.fstat(fd).st_size
    pos = [0]

    def step():
        t = time.monotonic()
        os.preadv(fd, [buf], pos[0])
        pos[0] = (pos[0] + (1 << 22)) % (size - (1 << 22))
        return time.monotonic() - t
    measure("reader", step)


def spinner():
    def step():
        n = 0
        for i in range(2000):
            n += i
        return 0.0
    measure("spinner", step)


signal.signal(signal.SIGTERM, lambda *a: stop.set())
threads = [threading.Thread(target=f, name=f.__name__)
           for f in (sleeper, locker, reader, spinner)]
for t in threads:
    t.start()
while len(stats) < 4:
    time.sleep(0.01)
print(json.dumps({k: v["tid"] for k, v in stats.items()}), flush=True)
stop.wait(seconds)
stop.set()
for t in threads:
    t.join()
print(json.dumps(stats), flush=True)

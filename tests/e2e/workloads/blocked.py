# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Threads blocked before any recording starts: two threads in a
# lock-order deadlock ("left" holds a and waits for b, "right" holds b and
# waits for a), one asleep for an hour ("sleepy"), and "waiter", blocked on
# a lock the main thread releases when the process gets SIGUSR1 (then it
# spins). Prints, once all four are blocked, one JSON line: each thread's
# native id.
import json
import signal
import threading
import time

a, b = threading.Lock(), threading.Lock()
both = threading.Barrier(2)
ids = {}


def left():
    ids["left"] = threading.get_native_id()
    with a:
        both.wait()
        with b:  # LEFT BLOCKS HERE
            pass


def right():
    ids["right"] = threading.get_native_id()
    with b:
        both.wait()
        with a:  # RIGHT BLOCKS HERE
            pass


def sleepy():
    ids["sleepy"] = threading.get_native_id()
    time.sleep(3600)  # SLEEPY BLOCKS HERE


gate = threading.Lock()
gate.acquire()


def waiter():
    ids["waiter"] = threading.get_native_id()
    gate.acquire()  # WAITER BLOCKS HERE
    while True:
        sum(range(200))  # WAITER SPINS HERE


signal.signal(signal.SIGUSR1, lambda *a: gate.release())
threads = [threading.Thread(target=f, name=f.__name__, daemon=True)
           for f in (left, right, sleepy, waiter)]
for t in threads:
    t.start()


def state(tid):
    try:
        with open("/proc/self/task/%d/stat" % tid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:  # a chroot without /proc: trust the time waited
        return "S"


# blocked: each thread sleeping in the kernel, twice in a row
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    if len(ids) == len(threads) and all(state(t) == "S" for t in ids.values()):
        time.sleep(0.3)
        if all(state(t) == "S" for t in ids.values()):
            break
    time.sleep(0.05)
print(json.dumps(ids), flush=True)
threading.Event().wait()

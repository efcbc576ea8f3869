# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Threads the program named: "alpha" and "beta" spin, "sleepy" sleeps,
# "waiter" waits on a lock, and one named "before" spins and renames
# itself "after" when the process gets SIGUSR1. Prints one JSON line once
# all run: each thread's name -> native id.
import json
import signal
import threading
import time

ids = {}
gate = threading.Lock()
gate.acquire()
rename = threading.Event()


def spin_alpha():
    ids["alpha"] = threading.get_native_id()
    while True:
        sum(range(200))


def spin_beta():
    ids["beta"] = threading.get_native_id()
    while True:
        sum(range(200))


def nap():
    ids["sleepy"] = threading.get_native_id()
    time.sleep(3600)


def wait_gate():
    ids["waiter"] = threading.get_native_id()
    gate.acquire()


def spin_renamed():
    ids["before"] = threading.get_native_id()
    while not rename.is_set():
        sum(range(200))
    threading.current_thread().name = "after"
    while True:
        sum(range(200))


signal.signal(signal.SIGUSR1, lambda *a: rename.set())
threads = [threading.Thread(target=f, name=n, daemon=True)
           for f, n in ((spin_alpha, "alpha"), (spin_beta, "beta"), (nap, "sleepy"),
                        (wait_gate, "waiter"), (spin_renamed, "before"))]
for t in threads:
    t.start()
while len(ids) < len(threads):
    time.sleep(0.01)
print(json.dumps(ids), flush=True)
threading.Event().wait()

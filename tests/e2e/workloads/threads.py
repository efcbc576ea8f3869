# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Four threads, each spinning in its own function. Prints each thread's
# native id so the test can check which functions appear under which thread.
import sys
import threading
import time

seconds = float(sys.argv[1])
deadline = time.monotonic() + seconds
ids = {}


def spin_alpha():
    ids["spin_alpha"] = threading.get_native_id()
    while time.monotonic() < deadline: sum(range(200))


def spin_beta():
    ids["spin_beta"] = threading.get_native_id()
    while time.monotonic() < deadline: sum(range(200))


def spin_gamma():
    ids["spin_gamma"] = threading.get_native_id()
    while time.monotonic() < deadline: sum(range(200))


def spin_delta():
    ids["spin_delta"] = threading.get_native_id()
    while time.monotonic() < deadline: sum(range(200))


threads = [threading.Thread(target=f) for f in (spin_alpha, spin_beta, spin_gamma, spin_delta)]
for t in threads:
    t.start()
while len(ids) < 4:
    time.sleep(0.01)
print(" ".join("%s=%d" % kv for kv in sorted(ids.items())), flush=True)
for t in threads:
    t.join()

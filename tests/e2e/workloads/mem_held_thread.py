# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""mem's held view and threads: a worker thread keeps ~4 KB bytes objects
(above pymalloc's 512 bytes, below glibc's mmap threshold: each one a
malloc from the worker's own heap, which glibc grows with mprotect), while
the main thread makes and drops as many of the same size from its heap
(brk). Prints "ready", runs for argv[1] seconds."""
import sys
import threading
import time

kept = []
SIZE = 4000  # a name, not a literal: b"x" * 4000 would be one folded constant


def hoard():
    for _ in range(64):
        kept.append(b"x" * SIZE)  # THREAD LEAK


def worker():
    while True:
        hoard()
        time.sleep(0.05)


def churn():
    tmp = [b"y" * SIZE for _ in range(64)]  # MAIN CHURN
    return len(tmp)


def main(seconds):
    threading.Thread(target=worker, name="hoarder", daemon=True).start()
    print("ready", flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        churn()
        time.sleep(0.05)


if __name__ == "__main__":
    main(float(sys.argv[1]))

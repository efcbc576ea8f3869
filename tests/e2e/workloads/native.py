# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Python -> C (pgnative.trampoline) -> Python: the callback spins, so most
# samples have native frames between two runs of Python frames.
# argv: seconds, directory holding the built pgnative extension, and
# optionally "syscalls": the leaf then reads /dev/zero (time in the kernel).
import os
import sys
import time

sys.path.insert(0, sys.argv[2])
import pgnative  # noqa: E402


SYSCALLS = len(sys.argv) > 3 and sys.argv[3] == "syscalls"
zero = os.open("/dev/zero", os.O_RDONLY)


def py_leaf(deadline):
    n = 0
    while time.monotonic() < deadline and n < 20000:
        if SYSCALLS:
            os.read(zero, 1 << 20)  # READ
        n += 1  # LEAF


def py_callback():
    py_leaf(time.monotonic() + 0.005)


def py_caller(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pgnative.trampoline(py_callback)  # CALL


print("ready", flush=True)
py_caller(float(sys.argv[1]))

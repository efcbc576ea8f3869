# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Recurses argv[1] levels deep, then spins in the innermost call.
import sys
import time

depth = int(sys.argv[1])
seconds = float(sys.argv[2])
sys.setrecursionlimit(depth + 100)


def recurse(n, deadline):
    if n > 1:
        return recurse(n - 1, deadline)  # RECURSE
    while time.monotonic() < deadline: pass  # BOTTOM


print("ready", flush=True)
recurse(depth - 1, time.monotonic() + seconds)  # the module frame is one more

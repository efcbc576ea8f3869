# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Spins in before_exec for argv[1] seconds, then replaces itself (same pid)
# with argv[2:] through os.execv.
import os
import sys
import time


def before_exec(deadline):
    while time.monotonic() < deadline: pass


print("ready", flush=True)
before_exec(time.monotonic() + float(sys.argv[1]))
os.execv(sys.argv[2], sys.argv[2:])

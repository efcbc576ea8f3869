# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Three distinct functions nested three deep; the leaf spins on one line so
# every sample of it lands on the line marked LEAF.
import sys
import time


def level_three(deadline):
    while time.monotonic() < deadline: pass  # LEAF


def level_two(deadline):
    level_three(deadline)  # CALL3


def level_one(deadline):
    level_two(deadline)  # CALL2


seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
print("ready", flush=True)
level_one(time.monotonic() + seconds)  # CALL1

# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Prints "ready", waits for SIGUSR1 (the test sends it once the recorder
# samples), spins in before_exec for argv[1] seconds, then replaces itself
# (same pid) with argv[2:] through os.execv.
import os
import signal
import sys
import time


def before_exec(deadline):
    while time.monotonic() < deadline: pass


signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
print("ready", flush=True)
signal.sigwait({signal.SIGUSR1})
before_exec(time.monotonic() + float(sys.argv[1]))
os.execv(sys.argv[2], sys.argv[2:])

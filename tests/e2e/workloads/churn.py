# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# A short-lived Python: spins in churn_fn for argv[1] milliseconds, exits.
import sys
import time


def churn_fn(deadline):
    while time.monotonic() < deadline: pass


churn_fn(time.monotonic() + float(sys.argv[1]) / 1000.0)

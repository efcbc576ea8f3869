# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Spins in a function whose name is given on the command line, so several
# processes in one host-wide recording are told apart by function name.
import sys
import time

name = sys.argv[1]
seconds = float(sys.argv[2])
src = "def %s(deadline):\n    while time.monotonic() < deadline: pass\n" % name
exec(compile(src, __file__, "exec"))
print("ready", flush=True)
globals()[name](time.monotonic() + seconds)

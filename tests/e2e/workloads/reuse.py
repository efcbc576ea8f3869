# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Compiles two different functions at the same first line, again and again,
# dropping each after use, so their code objects keep reusing each other's
# addresses. alpha spins on line 2 for 2 ms, beta on line 3 for 1 ms.
# Prints how often a new code object landed on an address the other
# function's code object had used (to show the test exercised reuse).
import sys
import time

ALPHA = "def alpha(d):\n    while time.monotonic() < d: pass\n"
BETA = "def beta(d):\n    x = 1\n    while time.monotonic() < d: pass\n"

seconds = float(sys.argv[1])
end = time.monotonic() + seconds
addrs = {"alpha": set(), "beta": set()}
reused = 0
print("ready", flush=True)
while time.monotonic() < end:
    for name, src, ms in (("alpha", ALPHA, 2.0), ("beta", BETA, 1.0)):
        ns = {"time": time}
        exec(compile(src, "<dynamic>", "exec"), ns)
        fn = ns[name]
        other = "beta" if name == "alpha" else "alpha"
        if id(fn.__code__) in addrs[other]:
            reused += 1
        addrs[name].add(id(fn.__code__))
        fn(time.monotonic() + ms / 1000.0)
        del fn, ns
print("reused", reused, flush=True)

# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# A multiprocessing pool of 4 forked workers, each spinning in pool_work.
# Prints the workers' pids when done.
import multiprocessing as mp
import os
import time


def pool_work(seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline: pass
    return os.getpid()


if __name__ == "__main__":
    ctx = mp.get_context("fork")
    with ctx.Pool(4) as pool:
        pids = pool.map(pool_work, [1.5] * 8, chunksize=1)
    print(" ".join(str(p) for p in sorted(set(pids))), flush=True)

# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# A tenant that swaps the paths of its interpreter, its libc and its
# _asyncio module, as the host profiler names them (argv[2], its root as
# the host sees it, + its own path), for absolute symlinks to host files
# (argv[3..5]) before printing "ready". Then an event loop: a task stepping
# every 10 ms, and a chore that keeps 256 KiB (a C allocation tracked by
# mem --live) and runs a full collection every 100 ms. argv: seconds, root,
# host interpreter, host libc, host _asyncio; prints its paths as JSON.
import _asyncio
import asyncio
import gc
import json
import os
import sys

keep = []


def leaky():
    keep.append(b"x" * (256 * 1024))  # LEAK


def full_collect():
    gc.collect()  # FULL


async def stepper():
    while True:
        await asyncio.sleep(0.01)  # STEP


async def chores():
    while True:
        leaky()
        full_collect()
        await asyncio.sleep(0.1)


def plant(root, mine, host):
    """mine, as the host names it, becomes a symlink to host."""
    at = root + mine
    os.makedirs(os.path.dirname(at), exist_ok=True)
    if os.path.lexists(at):
        os.unlink(at)
    os.symlink(host, at)


async def main():
    seconds, root = float(sys.argv[1]), sys.argv[2]
    mine = {"python": os.path.realpath(sys.executable),
            "libc": os.path.realpath("/usr/lib/x86_64-linux-gnu/libc.so.6"),
            "asyncio": os.path.realpath(_asyncio.__file__)}
    for key, host in zip(("python", "libc", "asyncio"), sys.argv[3:6]):
        plant(root, mine[key], host)
    tasks = [asyncio.create_task(stepper()), asyncio.create_task(chores())]
    print(json.dumps(mine), flush=True)
    await asyncio.sleep(seconds)
    for t in tasks:
        t.cancel()


asyncio.run(main())

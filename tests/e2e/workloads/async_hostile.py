# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Coroutines whose code objects claim to live in files a profiler must not
# read as source: an endless device and a FIFO nobody writes to. Each awaits
# twice in a row (a sequential-await pair, whose source lines pyrograph async
# looks up). argv: seconds, fifo path.
import asyncio
import os
import sys
import types


async def pair():
    while True:
        a = await asyncio.sleep(0.005)
        b = await asyncio.sleep(0.005)
        await asyncio.sleep(0.001 if a is b else 0.002)


def relocated(fn, filename):
    """fn with its code claiming to come from filename."""
    return types.FunctionType(fn.__code__.replace(co_filename=filename), fn.__globals__,
                              fn.__name__)


async def main():
    fifo = sys.argv[2]
    if not os.path.exists(fifo):
        os.mkfifo(fifo)
    tasks = [asyncio.create_task(relocated(pair, f)()) for f in ("/dev/zero", fifo, "/proc/self/mem")]
    print("ready", flush=True)
    await asyncio.sleep(float(sys.argv[1]))
    for t in tasks:
        t.cancel()


asyncio.run(main())

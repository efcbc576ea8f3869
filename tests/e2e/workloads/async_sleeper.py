# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# An event loop blocked in time.sleep() nearly all the time, for a recording
# that starts while it sleeps: prints "ready", then "sleeping T" (T:
# time.monotonic()) as each sleep begins. argv: SECONDS NAP.
import asyncio
import sys
import time

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
NAP = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0


async def sleeper():
    while True:
        print("sleeping %.3f" % time.monotonic(), flush=True)
        time.sleep(NAP)  # planted: blocks the loop
        await asyncio.sleep(0.05)


async def main():
    print("ready", flush=True)
    task = asyncio.create_task(sleeper())
    await asyncio.sleep(seconds)
    task.cancel()


asyncio.run(main())

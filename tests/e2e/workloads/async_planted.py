# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# An asyncio service with planted problems, for pyrograph async:
#   sleepy      calls time.sleep(0.2) in a coroutine (blocks the loop)
#   crunch      runs a ~150 ms pure-Python loop in a coroutine (CPU-bound)
#   sequential  two independent awaits back to back (could be gathered)
#   ticker      a well-behaved coroutine that must never be blamed
# Prints "ready" once the loop runs; exits after argv[1] seconds. argv[2]
# sets the ticker's period (default 0.01 s).
import asyncio
import sys
import time

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
TICK = float(sys.argv[2]) if len(sys.argv) > 2 else 0.01


async def sleepy():
    while True:
        await asyncio.sleep(0.7)
        time.sleep(0.2)  # planted: blocking sleep


def spin(deadline):
    n = 0
    while time.perf_counter() < deadline:
        n += 1
    return n


async def crunch():
    while True:
        await asyncio.sleep(0.9)
        t = time.perf_counter()
        total = 0
        while time.perf_counter() - t < 0.15:  # planted: CPU-bound loop
            total += sum(range(200))


async def fetch_user():
    await asyncio.sleep(0.05)
    return {"user": 1}


async def fetch_orders():
    await asyncio.sleep(0.05)
    return [1, 2, 3]


async def sequential():
    while True:
        user = await fetch_user()      # planted: independent of the next
        orders = await fetch_orders()  # could run together with gather
        await asyncio.sleep(0.1 + 0 * len(orders) * len(user))


async def ticker():
    n = 0
    while True:
        await asyncio.sleep(TICK)
        n += 1  # well-behaved: tiny steps


async def main():
    tasks = [asyncio.create_task(c()) for c in (sleepy, crunch, sequential, ticker)]
    print("ready", flush=True)
    await asyncio.sleep(seconds)
    for t in tasks:
        t.cancel()


asyncio.run(main())

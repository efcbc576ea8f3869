# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""A well-behaved asyncio service: tasks that await, compute a little and
never block the loop. Prints "ready", runs for argv[1] seconds."""
import asyncio
import sys


async def ticker():
    n = 0
    while True:
        await asyncio.sleep(0.01)
        n += sum(range(100))


async def handler(i):
    await asyncio.sleep(0.02)
    return {"id": i, "items": list(range(50))}


async def requests():
    i = 0
    while True:
        await asyncio.gather(*(handler(i + k) for k in range(5)))
        i += 5
        await asyncio.sleep(0.005)


async def main(seconds):
    tasks = [asyncio.create_task(ticker()), asyncio.create_task(requests())]
    print("ready", flush=True)
    await asyncio.sleep(seconds)
    for t in tasks:
        t.cancel()


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 30.0))

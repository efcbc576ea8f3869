# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Await chains of a given depth: three tasks at a time, each DEPTH levels
# of coroutines awaiting the next, the innermost awaiting asyncio.sleep.
# argv: DEPTH SECONDS. Prints "ready" once running.
import asyncio
import sys


async def level(n):
    if n == 0:
        await asyncio.sleep(0.02)  # innermost: the sleep
        return 1
    return await level(n - 1)  # each level awaits the next


async def main(depth, seconds):
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    print("ready", flush=True)
    while loop.time() < end:
        await asyncio.gather(*(level(depth) for _ in range(3)))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))

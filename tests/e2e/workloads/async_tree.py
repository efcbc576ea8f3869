# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""A known asyncio task tree (dump --tasks, record --tasks): the task
"fan-out" gathers three "leaf-N" children, "waiter" awaits the task
"sleeper", "consumer" is blocked on an empty Queue, "grouper" waits for
the two children of its TaskGroup, "tg-0" and "tg-1". With argv[2] "cpu" the
leaves compute between short sleeps, so their samples land under their
parent task. Prints "ready" once every task is in place, runs argv[1]
seconds. In "cpu" mode leaf-N computes N nest() calls deep; "uvloop" runs
it on uvloop's loop."""
import asyncio
import sys

CPU = "cpu" in sys.argv[2:]


def spin(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def nest(depth, n):
    """leaf-N computes N calls deep: its samples say which task ran."""
    return nest(depth - 1, n) if depth else spin(n)


async def leaf_worker(i):
    if not CPU:
        await asyncio.sleep(3600)  # leaf awaits
    while True:
        nest(i, 20000)  # leaf computes
        await asyncio.sleep(0.001)


async def fan_out_parent():
    children = [asyncio.create_task(leaf_worker(i), name="leaf-%d" % i)
                for i in range(3)]
    await asyncio.gather(*children)  # fan-out awaits


async def sleeper():
    if not CPU:
        await asyncio.sleep(3600)  # sleeper awaits
    while True:
        spin(20000)  # sleeper computes
        await asyncio.sleep(0.001)


async def waiter(task):
    await task  # waiter awaits


async def group_child():
    await asyncio.sleep(3600)  # group child awaits


async def grouper():
    async with asyncio.TaskGroup() as tg:  # grouper awaits (at its exit)
        for i in range(2):
            tg.create_task(group_child(), name="tg-%d" % i)


async def consumer(queue):
    while True:
        item = await queue.get()  # consumer awaits
        queue.task_done()
        del item


async def main(seconds):
    queue = asyncio.Queue()
    fan = asyncio.create_task(fan_out_parent(), name="fan-out")
    slp = asyncio.create_task(sleeper(), name="sleeper")
    wt = asyncio.create_task(waiter(slp), name="waiter")
    cons = asyncio.create_task(consumer(queue), name="consumer")
    grp = asyncio.create_task(grouper(), name="grouper")
    await asyncio.sleep(0.2)
    print("ready", flush=True)
    await asyncio.sleep(seconds)
    for t in (fan, slp, wt, cons, grp):
        t.cancel()


if __name__ == "__main__":
    if "uvloop" in sys.argv[2:]:
        import uvloop
        uvloop.install()
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 30.0))

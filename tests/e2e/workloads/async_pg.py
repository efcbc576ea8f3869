# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# asyncpg against a local PostgreSQL (argv: socket directory, seconds): one
# task runs a 50 ms query over and over, for pyrograph async's await
# latency. Prints "ready" once connected.
import asyncio
import sys

import asyncpg


async def slow_query(conn):
    while True:
        rows = await conn.fetch("SELECT pg_sleep(0.05)")  # the 50 ms query
        assert len(rows) == 1


async def main():
    conn = await asyncpg.connect(host=sys.argv[1], user="postgres", database="postgres")
    task = asyncio.create_task(slow_query(conn))
    print("ready", flush=True)
    await asyncio.sleep(float(sys.argv[2]))
    task.cancel()


asyncio.run(main())

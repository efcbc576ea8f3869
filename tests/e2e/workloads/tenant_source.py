# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# A tenant whose coroutine claims /tmp/evil.py as its file, where
# /tmp/evil.py (inside its root) is an absolute symlink to argv[2]: a path
# that exists only on the host. The coroutine awaits twice in a row, so
# pyrograph async looks its two lines up to judge the pair. argv: seconds,
# host file.
import asyncio
import os
import sys

# lines 3 and 4 of "/tmp/evil.py": the sequential pair
SOURCE = """async def pair():
    while True:
        a = await asyncio.sleep(0.01)
        b = await asyncio.sleep(0.01)
        await asyncio.sleep(0.001 if a is b else 0.002)
"""


async def main():
    if os.path.lexists("/tmp/evil.py"):
        os.unlink("/tmp/evil.py")
    os.symlink(sys.argv[2], "/tmp/evil.py")
    scope = {"asyncio": asyncio}
    exec(compile(SOURCE, "/tmp/evil.py", "exec"), scope)
    task = asyncio.create_task(scope["pair"]())
    print("ready", flush=True)
    await asyncio.sleep(float(sys.argv[1]))
    task.cancel()


asyncio.run(main())

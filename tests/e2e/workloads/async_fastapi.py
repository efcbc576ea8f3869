# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# A FastAPI app on uvicorn with two misbehaving endpoints, for pyrograph
# async: /blocking calls time.sleep in the handler, /crunch burns ~120 ms of
# CPU in it; /ok is well-behaved. argv: PORT LOOP (asyncio or uvloop).
import sys
import time

import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/ok")
async def ok_endpoint():
    return {"ok": True}


@app.get("/blocking")
async def blocking_endpoint():
    time.sleep(0.15)  # planted: blocks the event loop
    return {"slept": 0.15}


@app.get("/crunch")
async def crunch_endpoint():
    t = time.perf_counter()
    n = 0
    while time.perf_counter() - t < 0.12:  # planted: CPU-bound in a coroutine
        n += sum(range(100))
    return {"n": n}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop=sys.argv[2],
                log_level="warning", access_log=False)

# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# A FastAPI app as services write it, for pyrograph async's await chains:
# Starlette's real middleware (CORS, GZip, trusted hosts), an APIRouter
# with a prefix and a dependency, so uvicorn, Starlette and FastAPI put
# many coroutine levels between a connection's task and an endpoint.
# /api/heroes/{id} awaits two independent coroutines in sequence (a
# gather candidate); /api/sleep awaits asyncio.sleep(0.05); /api/report
# blocks the loop 30 ms with time.sleep; /api/yield
# yields to the loop twice at the bottom of the chain without waiting (the
# cost of walking deep chains, scripts/bench_async.py --app router).
# argv: PORT (0: any) LOOP (asyncio or uvloop). Prints "ready PORT" once
# listening.
import asyncio
import socket
import sys
import time

import uvicorn
from fastapi import APIRouter, Depends, FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware


async def get_hero(hero_id):
    await asyncio.sleep(0.02)  # hero: the database
    return {"id": hero_id, "name": "hero"}


async def get_villain(hero_id):
    await asyncio.sleep(0.03)  # villain: another service
    return {"id": -hero_id, "name": "villain"}


async def current_user():
    return "user"


router = APIRouter(prefix="/api", dependencies=[Depends(current_user)])


@router.get("/heroes/{hero_id}")
async def hero_and_villain(hero_id: int, user: str = Depends(current_user)):
    hero = await get_hero(hero_id)  # planted: independent of the next
    villain = await get_villain(hero_id)  # planted: could run together with gather
    return {"hero": hero, "villain": villain, "user": user}


@router.get("/report")
async def slow_report():
    await asyncio.sleep(0.01)
    time.sleep(0.03)  # planted: blocks the loop 30 ms
    return {"report": True}


async def pause():
    await asyncio.sleep(0)


@router.get("/yield")
async def yielding():
    await pause()
    await pause()
    return {"yielded": 2}


@router.get("/sleep")
async def sleepy():
    await asyncio.sleep(0.05)  # planted: 50 ms
    return {"slept": 0.05}


app = FastAPI()
app.add_middleware(GZipMiddleware, minimum_size=1000)
app.add_middleware(CORSMiddleware, allow_origins=["*"])
app.add_middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"])
app.include_router(router)


@app.get("/ok")
async def ok():
    return {"ok": True}


if __name__ == "__main__":
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    sock.listen(128)
    print("ready", sock.getsockname()[1], flush=True)
    config = uvicorn.Config(app, loop=sys.argv[2], log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])

# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# An aiohttp web server with middleware and a sub-application, for
# pyrograph async's await chains on a second framework:
# /api/heroes/{id} awaits two independent coroutines in sequence (a gather
# candidate); /api/sleep awaits asyncio.sleep(0.05).
# argv: PORT (0: any). Prints "ready PORT" once listening.
import asyncio
import socket
import sys

from aiohttp import web


async def get_hero(hero_id):
    await asyncio.sleep(0.02)  # hero: the database
    return {"id": hero_id, "name": "hero"}


async def get_villain(hero_id):
    await asyncio.sleep(0.03)  # villain: another service
    return {"id": -hero_id, "name": "villain"}


async def hero_and_villain(request):
    hero_id = int(request.match_info["hero_id"])
    hero = await get_hero(hero_id)  # planted: independent of the next
    villain = await get_villain(hero_id)  # planted: could run together with gather
    return web.json_response({"hero": hero, "villain": villain})


async def sleepy(request):
    await asyncio.sleep(0.05)  # planted: 50 ms
    return web.json_response({"slept": 0.05})


async def ok(request):
    return web.json_response({"ok": True})


@web.middleware
async def timing(request, handler):
    return await handler(request)


def make_app():
    api = web.Application()
    api.router.add_get("/heroes/{hero_id}", hero_and_villain)
    api.router.add_get("/sleep", sleepy)
    app = web.Application(middlewares=[timing, web.normalize_path_middleware()])
    app.router.add_get("/ok", ok)
    app.add_subapp("/api/", api)
    return app


if __name__ == "__main__":
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    sock.listen(128)
    print("ready", sock.getsockname()[1], flush=True)
    web.run_app(make_app(), sock=sock, print=None, access_log=None)

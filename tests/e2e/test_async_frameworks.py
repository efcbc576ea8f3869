# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""pyrograph async on web frameworks as services run them: FastAPI on
uvicorn with Starlette's middleware and an APIRouter puts ~15 coroutine
levels between a connection's task and the endpoint; aiohttp's web server
with a middleware of the application's own and a sub-application. Await
chains are followed through all of them, await sites are named by the
endpoint's coroutines, two independent awaits in sequence in the endpoint
are flagged for asyncio.gather(), and requests are timed by endpoint as
the client times them. Chains deeper than any framework's are bounded."""
import json
import os
import re
import statistics
import subprocess
import threading
import time

import pytest

from conftest import WORKLOADS, by_name, http_get, line_of, start_ready, stop

ROUTER = os.path.join(WORKLOADS, "async_fastapi_router.py")


def attach(pid, seconds, out, fmt="json"):
    """pyrograph async on pid for seconds into out; returns the process once
    its probes are attached."""
    return start_ready(["async", "-q", "-p", pid, "-d", seconds, "-f", fmt, "-o", out],
                       stdout=subprocess.PIPE)


def load(port, seconds, latencies, extra=()):
    """Two clients on /api/heroes, one on /api/sleep (its latencies kept),
    and one on each path of extra."""
    end = time.monotonic() + seconds

    def client(path, keep):
        while time.monotonic() < end:
            t = time.monotonic()
            http_get(port, path)
            if keep is not None:
                keep.append(time.monotonic() - t)

    threads = [threading.Thread(target=client, args=a) for a in
               [("/api/heroes/1", None), ("/api/heroes/2", None), ("/api/sleep", latencies)]
               + [(path, None) for path in extra]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


APPS = {
    # workload, its arguments after the port, levels above the endpoint
    "fastapi": ("async_fastapi_router.py", ["asyncio"], 15),
    "fastapi-uvloop": ("async_fastapi_router.py", ["uvloop"], 15),
    "aiohttp": ("async_aiohttp.py", [], 3),
}


# uvloop is in the host's packages only (Debian 3.11)
@pytest.mark.parametrize("framework,name", [
    (f, n) for f in sorted(APPS)
    for n in ("debian-3.11", "debian-trixie-3.13", "debian-sid-3.14")
    if "uvloop" not in f or n == "debian-3.11"])
def test_framework(framework, name, tmp):
    """The endpoint's awaits, the gather hint and requests by endpoint, on
    FastAPI (uvicorn, Starlette's middleware, an APIRouter) and on aiohttp's
    web server (a middleware of the application's, a sub-application)."""
    script, args, above = APPS[framework]
    it = by_name(name)
    app = it.start(script, 0, *args)
    port = int(app.ready_line.split()[1])
    out = tmp / "router.json"
    latencies = []
    try:
        http_get(port, "/api/sleep")
        prof = attach(app.pid, 8, out)
        load(port, 4, latencies)
        _, err = prof.communicate(timeout=120)
        assert prof.returncode == 0, err
    finally:
        stop(app)
    d = json.loads(out.read_text())
    sites = [s for s in d["await_sites"] if s["pid"] == app.pid]
    source = os.path.join(WORKLOADS, script)
    path = it.workload_path(script) if it.root else source
    endpoint_line = {
        "get_hero": line_of(source, "planted: independent of the next"),
        "get_villain": line_of(source, "planted: could run together with gather"),
    }

    def site_of(function):
        return [s for s in sites if s["site"] and s["site"]["function"] == function
                and s["site"]["file"] == path]

    # the endpoint's awaits: whole chains from uvicorn's task down to
    # asyncio.sleep, named by the application's coroutines
    for callee, line in endpoint_line.items():
        # one chain for nearly all of them (a rare request may await in a
        # framework coroutine at another line, a chain of its own)
        found = sorted(site_of(callee), key=lambda s: -s["count"])
        assert found and sum(s["count"] for s in found[1:]) <= 0.1 * found[0]["count"], \
            (callee, [(s["count"], [(f["function"], f["line"]) for f in s["chain"]]) for s in found])
        s = found[0]
        names = [f["function"] for f in s["chain"]]
        at = names.index("hero_and_villain")
        assert at >= above, names  # the levels above the endpoint
        assert s["chain"][at]["line"] == line, s["chain"][at]
        assert names[-1] == "sleep" and s["depth"] == len(s["chain"]), names
        assert s["site_is_app"] and s["count"] >= 20, s
        assert "> ...%d levels... > hero_and_villain (%s:%d) > %s (" % (
            at - 1, path, line, callee) in s["site_text"], s["site_text"]
    sleepy = sorted(site_of("sleepy"), key=lambda s: -s["count"])
    assert sleepy and sum(s["count"] for s in sleepy[1:]) <= 0.1 * sleepy[0]["count"], \
        [(s["count"], s["site_text"]) for s in sleepy]
    assert sleepy[0]["site"]["line"] == line_of(source, "planted: 50 ms")
    # the await itself lasts what asyncio.sleep(0.05) does
    assert 45 <= sleepy[0]["p50_ms"] <= 75, sleepy[0]
    # the sequential awaits are found through the framework's levels
    pairs = [p for p in d["sequential_awaits"] if p["pid"] == app.pid and p["gather_candidate"]]
    assert [(p["coroutine"].split(" ")[0], p["line_first"], p["line_second"]) for p in pairs] == \
        [("hero_and_villain", endpoint_line["get_hero"], endpoint_line["get_villain"])], \
        d["sequential_awaits"]
    assert "get_hero(hero_id)" in pairs[0]["source_first"], pairs[0]
    # requests by endpoint: the endpoint function, its latency as the
    # client measured it, and where the slowest spent their time
    assert len(latencies) >= 20, len(latencies)
    client_p50 = statistics.median(latencies) * 1e3
    eps = {e["endpoint"]["function"]: e for e in d["endpoints"] if e["pid"] == app.pid
           and e["endpoint"]["file"] == path}
    assert {"sleepy", "hero_and_villain"} <= set(eps), d["endpoints"]
    ep = eps["sleepy"]
    print(framework, name, "client p50 %.1f ms" % client_p50, "sleepy", ep["count"], ep["p50_ms"], ep["p95_ms"],
          ep["max_ms"], "hero_and_villain", eps["hero_and_villain"]["p50_ms"])
    assert ep["count"] >= 20 and abs(ep["p50_ms"] - client_p50) <= 0.2 * client_p50, \
        (ep, client_p50)
    assert ep["p50_ms"] <= ep["p95_ms"] <= ep["p99_ms"] <= ep["max_ms"], ep
    slow = eps["hero_and_villain"]["slowest"]
    assert slow and all(t["ms"] >= eps["hero_and_villain"]["p95_ms"] for t in slow), slow
    for t in slow:
        waited = {w["site"]["function"]: w["ms"] for w in t["waits"]}
        # get_hero sleeps 20 ms, get_villain 30 ms
        assert waited.get("get_hero", 0) >= 15 and waited.get("get_villain", 0) >= 25, t
        parts = t["running_ms"] + t["queued_ms"] + t["waiting_ms"]
        assert abs(parts - t["ms"]) <= 0.05 * t["ms"] + 1, t
    assert d["tasks"]["ended"] >= 40, d["tasks"]


def test_fastapi_router_text(tmp):
    """The text report names the endpoint's sites and the gather hint."""
    it = by_name("debian-3.11")
    app = it.start("async_fastapi_router.py", 0, "asyncio")
    port = int(app.ready_line.split()[1])
    out = tmp / "router.txt"
    try:
        http_get(port, "/api/sleep")
        prof = start_ready(["async", "-q", "-p", app.pid, "-d", 6, "-o", out,
                            "--slow", "40ms"], stdout=subprocess.PIPE)
        load(port, 3, [], ["/api/report"])
        _, err = prof.communicate(timeout=120)
        assert prof.returncode == 0, err
    finally:
        stop(app)
    t = out.read_text()
    sites = t.split("Await latency by await site")[1].split("Sequential awaits")[0]
    line = line_of(ROUTER, "planted: independent of the next")
    assert "levels... > hero_and_villain (%s:%d) > get_hero (" % (ROUTER, line) in sites, sites
    gather = t.split("could run concurrently (asyncio.gather):")[1]
    assert "hero_and_villain (%s): line %d" % (ROUTER, line) in gather, gather
    assert "hero = await get_hero(hero_id)" in gather, gather
    eps = t.split("Requests by endpoint")[1]
    assert re.search(r"\n +\d+ .* hero_and_villain \(%s\)  \[" % re.escape(ROUTER), eps), eps
    assert re.search(r"slowest \(\d+ over --slow 40\.0 ms\):\n +\d+\.\d ms: running ", eps), eps
    assert re.search(r"ms at .*\.\.\. > hero_and_villain \(%s:%d\) > get_hero" % (
        re.escape(ROUTER), line), eps), eps
    # the endpoint that blocks the loop 30 ms (time.sleep in a step) says
    # so; on a loaded host the wake-up's wait for a CPU adds to it (the
    # thread is off the CPU until it runs again), hence no upper bound but
    # the task's own length
    report = re.split(r"\n  (?! )", eps.split("slow_report (%s)" % ROUTER)[1])[0]
    tasks = re.findall(r"\n +(\d+\.\d) ms: running .* blocking the loop (\d+\.\d) ms", report)
    assert tasks and all(25 <= float(b) <= float(life) for life, b in tasks), report


# pyenv's 3.12 runs no FastAPI or aiohttp: Debian's dist-packages (built for
# 3.11) fail to import there (typing_extensions); chains need neither.
@pytest.mark.parametrize("name", ["debian-3.11", "pyenv-3.12", "debian-trixie-3.13",
                                  "debian-sid-3.14"])
def test_deep_chains(name, tmp):
    """A chain of 100 coroutines is kept whole; one of 300 is cut at 256
    levels walked, said so at both ends and in the summary, and still named
    by the application's frame."""
    it = by_name(name)
    line_next = line_of(os.path.join(WORKLOADS, "async_deep_chain.py"), "each level awaits the next")
    for depth in (100, 300):
        app = it.start("async_deep_chain.py", depth, 60)
        out = tmp / ("deep%d.json" % depth)
        try:
            prof = attach(app.pid, 3, out)
            _, err = prof.communicate(timeout=120)
            assert prof.returncode == 0, err
        finally:
            stop(app)
        d = json.loads(out.read_text())
        sites = sorted((s for s in d["await_sites"] if s["pid"] == app.pid),
                       key=lambda s: -s["count"])
        deep = [s for s in sites if s["depth"] > 50]
        assert deep and deep[0]["count"] >= 30, [(s["depth"], s["count"]) for s in sites]
        s = deep[0]
        names = [f["function"] for f in s["chain"]]
        if depth == 100:
            # every level: the task's level(100) down to asyncio.sleep
            assert names == ["level"] * 101 + ["sleep"], names
            assert s["site"]["function"] == "level" and s["site"]["line"] == \
                line_of(os.path.join(WORKLOADS, "async_deep_chain.py"), "innermost: the sleep")
        else:
            # 256 levels walked, the innermost 128 of them kept
            assert names == ["[truncated]"] + ["level"] * 128 + ["[truncated]"], names
            assert s["site"]["function"] == "level" and s["site"]["line"] == line_next
            assert "suspensions at chains deeper than 256 levels" in err, err
            deeper = int(err.split(" suspensions at chains deeper than 256")[0].split()[-1])
            assert deeper >= 30, err


def test_agent_request_histogram(tmp):
    """The agent's pyrograph_asyncio_request_seconds: a histogram per
    endpoint (FastAPI's endpoint functions, not uvicorn's task coroutine),
    its median where the client measured it, under the await-site bound."""
    from test_metrics import Agent, samples
    it = by_name("debian-3.11")
    app = it.start("async_fastapi_router.py", 0, "asyncio")
    port = int(app.ready_line.split()[1])
    agent = None
    latencies = []
    try:
        http_get(port, "/api/sleep")
        agent = Agent("-p", app.pid, "--await-sites", "3")
        load(port, 4, latencies)
        text = agent.scrape()
    finally:
        if agent:
            assert agent.stop() == 0, "".join(agent.err)
        stop(app)
    assert re.search(r"^# TYPE pyrograph_asyncio_request_seconds histogram$", text, re.M), text[:2000]
    mine = [x for x in samples(text) if x[1].get("pid") == str(app.pid)
            and x[0].startswith("pyrograph_asyncio_request_seconds")]
    counts = {x[1]["endpoint"]: x[2] for x in mine if x[0].endswith("_count")}
    print(counts)
    sleepy = "sleepy (%s)" % ROUTER
    assert counts.get(sleepy, 0) >= 20 and counts.get("hero_and_villain (%s)" % ROUTER, 0) >= 20, counts
    assert len(counts) <= 4, counts  # three of their own, the rest "other"
    # the median from the buckets: the first bucket holding half the count
    buckets = sorted((float(x[1]["le"]), x[2]) for x in mine
                     if x[0].endswith("_bucket") and x[1]["endpoint"] == sleepy)
    half = counts[sleepy] / 2
    le = next(b for b, c in buckets if c >= half)
    client = statistics.median(latencies)
    # log2 buckets: the client's median falls in the bucket below le
    assert le / 2 <= client * 1.2 and client * 0.8 <= le, (le, client, buckets)

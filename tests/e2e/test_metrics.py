# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""pyrograph agent --metrics-listen, end to end: a real Prometheus server
(Debian's prometheus package) scrapes the agent every second while the
planted-problem asyncio program runs, and its HTTP API is asked for the
loop-lag p99 and the stall counter; promtool lints the exposition; series
of processes that exited go away (200 short-lived asyncio processes)."""
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from conftest import IN_CI, binary, by_name, free_port, line_of, stop, wait_ready

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")


def need(tool, name):
    if tool:
        return
    msg = "%s not installed (Debian package prometheus; scripts/deps.sh)" % name
    pytest.fail(msg) if IN_CI else pytest.skip(msg)


class Agent:
    """The agent on a port it picks itself (it says which on stderr),
    returned once its sampling runs (--ready-fd)."""

    def __init__(self, *args):
        r, w = os.pipe()
        try:
            self.p = subprocess.Popen([binary(), "agent", "--metrics-listen", "127.0.0.1:0",
                                       "--ready-fd", str(w)] + [str(a) for a in args],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True, pass_fds=(w,))
        finally:
            os.close(w)
        self.err = []
        deadline = time.monotonic() + 30
        self.url = None
        while time.monotonic() < deadline and not self.url:
            line = self.p.stderr.readline()
            if not line:
                break
            self.err.append(line)
            m = re.search(r"metrics at (http://\S+/metrics)", line)
            if m:
                self.url = m.group(1)
        if not self.url:
            os.close(r)
            raise AssertionError("agent did not start serving: %s" % "".join(self.err))
        self.addr = self.url[len("http://"):-len("/metrics")]
        wait_ready(r, self.p)

    def scrape(self):
        with urllib.request.urlopen(self.url, timeout=10) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            return r.read().decode()

    def stop(self):
        self.p.send_signal(2)
        try:
            _, err = self.p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            _, err = self.p.communicate()
        self.err.append(err)
        return self.p.returncode


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(text):
    """[(name, {labels}, value)] of an exposition."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "unparsable line: %r" % line
        out.append((m.group(1), dict(LABEL.findall(m.group(2))), float(m.group(3))))
    return out


class Prometheus:
    def __init__(self, tmp, target):
        self.port = free_port()
        cfg = tmp / "prometheus.yml"
        cfg.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                       "scrape_configs:\n  - job_name: pyrograph\n"
                       "    static_configs:\n      - targets: ['%s']\n" % target)
        self.log = open(tmp / "prometheus.log", "w")
        self.p = subprocess.Popen([PROMETHEUS, "--config.file=%s" % cfg,
                                   "--storage.tsdb.path=%s" % (tmp / "tsdb"),
                                   "--web.listen-address=127.0.0.1:%d" % self.port],
                                  stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.port,
                                            timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise AssertionError("prometheus did not become ready: %s" %
                             (tmp / "prometheus.log").read_text()[-2000:])

    def query(self, q):
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (self.port, urllib.parse.urlencode({"query": q}))
        with urllib.request.urlopen(url, timeout=10) as r:
            d = json.loads(r.read())
        assert d["status"] == "success", d
        return d["data"]["result"]

    def value(self, q):
        r = self.query(q)
        return float(r[0]["value"][1]) if r else None

    def stop(self):
        stop(self.p)
        self.log.close()


def test_prometheus_scrapes_planted(tmp):
    """The loop-lag p99 Prometheus computes from our buckets is the planted
    stall's, and the stall counter grows between two queries."""
    need(PROMETHEUS, "prometheus")
    it = by_name("debian-3.11")
    # The ticker at 20 Hz (the program's default is 100 Hz): stalls are then
    # ~6% of the loop's iterations, so its 99th percentile is a stall. At
    # 100 Hz they are ~1.2%: the true p99 is then the shorter planted stall
    # (150 ms) and Prometheus' interpolation inside the [131, 262) ms log2
    # bucket lands on ~156 ms -- right, but with no margin for a test.
    p = it.start("async_planted.py", 90, 0.05)
    gcp = it.start("mem_gc.py", 90)
    agent = prom = None
    try:
        agent = Agent("-p", p.pid, "-p", gcp.pid)
        prom = Prometheus(tmp, agent.addr)
        sel = 'pid="%d"' % p.pid
        # the histogram of that process's loop, through Prometheus
        p99 = None
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            time.sleep(2)
            n = prom.value("sum(pyrograph_asyncio_loop_lag_seconds_count{%s})" % sel)
            if n and n >= 150:
                p99 = prom.value("histogram_quantile(0.99, sum by (le) "
                                 "(pyrograph_asyncio_loop_lag_seconds_bucket{%s}))" % sel)
                break
        print("iterations", n, "p99", p99)
        assert p99 is not None, "no loop-lag histogram in Prometheus after 40 s: %s" % \
            prom.query('{__name__=~"pyrograph_asyncio.*"}')
        # the planted blocking sleep is 200 ms
        assert 0.2 <= p99 <= 0.6, p99
        # the median is the ticker's tiny step
        p50 = prom.value("histogram_quantile(0.5, sum by (le) "
                         "(pyrograph_asyncio_loop_lag_seconds_bucket{%s}))" % sel)
        assert p50 < 0.01, p50
        # stalls: counted, and the counter grows (one planted stall ~every 0.5 s)
        s1 = prom.value("pyrograph_asyncio_stalls_total{%s}" % sel)
        time.sleep(5)
        s2 = prom.value("pyrograph_asyncio_stalls_total{%s}" % sel)
        print("stalls", s1, s2)
        assert s1 is not None and s1 >= 2 and s2 >= s1 + 3, (s1, s2)
        stalled = prom.value("pyrograph_asyncio_stalled_seconds_total{%s}" % sel)
        # each stall is one of the planted 150 ms / 200 ms ones (or a bit more)
        assert 0.12 * s2 <= stalled <= 0.5 * s2, (stalled, s2)
        # labels: service from the command line, host, the loop's thread
        r = prom.query("pyrograph_asyncio_stalls_total{%s}" % sel)[0]["metric"]
        assert r["service"] == "async_planted" and r["tid"] == str(p.pid), r
        assert r["host"] == re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()), r
        # the blocking call: time.sleep, not the network or a lock
        blk = prom.query("pyrograph_asyncio_blocking_seconds_total{%s}" % sel)
        kinds = {x["metric"]["kind"]: float(x["value"][1]) for x in blk}
        print("blocking", kinds)
        # about half the stalls are the 200 ms time.sleep
        assert kinds.get("sleep", 0) >= 0.2 * s1 / 3, kinds
        # await latency by the application's await line
        src = it.host_path(it.workload_path("async_planted.py"))
        site = "fetch_user (%s:%d)" % (it.workload_path("async_planted.py"),
                                       line_of(src, "return {\"user\": 1}") - 1)
        q = 'histogram_quantile(0.5, sum by (le) (pyrograph_asyncio_await_latency_seconds_bucket' \
            '{%s,site="%s"}))' % (sel, site)
        fetch = prom.value(q)
        print("fetch_user p50", fetch)
        assert fetch is not None, prom.query('count by (site) (pyrograph_asyncio_await_latency_seconds_count{%s})' % sel)
        assert 0.03 <= fetch <= 0.13, fetch
        # collections of the GC workload (Debian's build has the probes)
        gsel = 'pid="%d"' % gcp.pid
        assert prom.value("pyrograph_python_gc_probes{%s}" % gsel) == 1
        full = prom.value('pyrograph_python_gc_pause_seconds_count{%s,generation="2"}' % gsel)
        young = prom.value('pyrograph_python_gc_pause_seconds_count{%s,generation="0"}' % gsel)
        print("gc full", full, "young", young)
        assert full and full >= 20 and young and young >= 20, (full, young)
        rss = prom.value("pyrograph_process_resident_memory_bytes{%s}" % gsel)
        with open("/proc/%d/statm" % gcp.pid) as f:
            now = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        assert 0.5 * now <= rss <= 2 * now, (rss, now)
        cpu = prom.value("pyrograph_process_cpu_seconds_total{%s}" % sel)
        assert cpu and cpu > 0.5, cpu  # crunch alone burns ~15% of a CPU
        # the agent's own health
        assert prom.value("pyrograph_agent_targets") == 2
        assert prom.value("pyrograph_agent_samples_total") > 0
        assert prom.value('pyrograph_agent_dropped_total{reason="ring_buffer_full"}') == 0
    finally:
        if prom:
            prom.stop()
        if agent:
            assert agent.stop() == 0, "".join(agent.err)
        stop(p)
        stop(gcp)


@pytest.mark.parametrize("name", ["debian-3.11", "pyenv-3.12", "debian-trixie-3.13"])
def test_promtool_and_families(name, tmp):
    """promtool accepts the exposition; every family is there with HELP and
    TYPE; histogram buckets are cumulative and end at +Inf = _count; a build
    without the collection probes says so (gc_probes 0, no pause series)."""
    need(PROMTOOL, "promtool")
    it = by_name(name)
    p = it.start("async_planted.py", 60)
    agent = None
    try:
        agent = Agent("-p", p.pid)
        # until the loop has run 50 iterations and two planted stalls
        # landed in their bucket (the program plants one every ~0.5 s)
        text = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = agent.scrape()
            b = dict(re.findall(r'^pyrograph_asyncio_loop_lag_seconds_bucket\{[^}]*pid="%d"'
                                r'[^}]*le="([^"]+)"\} (\S+)$' % p.pid, text, re.M))
            if b and float(b["+Inf"]) > 50 and \
                    float(b["0.262144"]) - float(b["0.131072"]) >= 2:
                break
            time.sleep(0.5)
    finally:
        if agent:
            assert agent.stop() == 0, "".join(agent.err)
        stop(p)
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), \
        (r.returncode, r.stdout, r.stderr)
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    for fam, typ in (("pyrograph_asyncio_loop_lag_seconds", "histogram"),
                     ("pyrograph_asyncio_stalls_total", "counter"),
                     ("pyrograph_asyncio_stalled_seconds_total", "counter"),
                     ("pyrograph_asyncio_blocking_seconds_total", "counter"),
                     ("pyrograph_asyncio_await_latency_seconds", "histogram"),
                     ("pyrograph_python_gc_pause_seconds", "histogram"),
                     ("pyrograph_process_resident_memory_bytes", "gauge"),
                     ("pyrograph_process_cpu_seconds_total", "counter"),
                     ("pyrograph_agent_dropped_total", "counter"),
                     ("pyrograph_agent_cpu_seconds_total", "counter"),
                     ("pyrograph_agent_targets", "gauge")):
        assert types.get(fam) == typ, (fam, types.get(fam))
    s = samples(text)
    mine = [x for x in s if x[1].get("pid") == str(p.pid)]
    lag = [x for x in mine if x[0] == "pyrograph_asyncio_loop_lag_seconds_bucket"]
    # the kernel's log2 buckets: 2 us, 4 us, ... doubling, then +Inf
    les = [x[1]["le"] for x in lag]
    assert les[0] == "0.000002" and les[-1] == "+Inf" and len(les) == 32, les
    assert all(float(les[i + 1]) == 2 * float(les[i]) for i in range(len(les) - 2)), les
    counts = [x[2] for x in lag]
    assert counts == sorted(counts) and counts[-1] > 50, counts
    total = [x[2] for x in mine if x[0] == "pyrograph_asyncio_loop_lag_seconds_count"]
    assert total == [counts[-1]], (total, counts[-1])
    # the planted stalls land in the 131-262 ms bucket (and a few just above)
    at = {x[1]["le"]: x[2] for x in lag}
    assert at["0.262144"] - at["0.131072"] >= 2, at
    gc = [x for x in mine if x[0] == "pyrograph_python_gc_probes"]
    has_probes = name != "pyenv-3.12"  # pyenv builds lack --with-dtrace
    assert gc and gc[0][2] == (1 if has_probes else 0), gc
    pauses = [x for x in mine if x[0].startswith("pyrograph_python_gc_pause_seconds")]
    assert bool(pauses) == has_probes, pauses[:3]
    # await sites are the application's lines, never asyncio's own
    sites = {x[1]["site"] for x in mine if x[0] == "pyrograph_asyncio_await_latency_seconds_count"}
    print(name, sorted(sites))
    assert any(x.startswith("ticker (") for x in sites), sites
    assert not [x for x in sites if "/asyncio/" in x], sites


def test_cardinality_bounded(tmp):
    """200 short-lived asyncio processes under -a: seen while alive, their
    series gone once they exit, the series count back near where it was."""
    it = by_name("debian-3.11")
    agent = Agent("-a", "--await-sites", "3")
    kids = []
    try:
        # the baseline once the agent's once-a-second tick has run over what
        # it found at start: two scrapes a tick apart agree
        n_before, last = -1, len(samples(agent.scrape()))
        deadline = time.monotonic() + 20
        while n_before != last and time.monotonic() < deadline:
            time.sleep(1.1)
            n_before, last = last, len(samples(agent.scrape()))
        code = ("import asyncio, sys\n"
                "async def w(i):\n"
                "    await asyncio.sleep(0.02 * (i % 7))\n"
                "async def main():\n"
                "    print('ready', flush=True)\n"
                "    for k in range(40):\n"
                "        await asyncio.gather(*(w(i + k) for i in range(6)))\n"
                "asyncio.run(main())\n")
        script = tmp / "short.py"
        script.write_text(code)
        seen, peak, started = set(), 0, 0
        pids = set()
        while started < 200:
            batch = []
            for _ in range(20):
                batch.append(subprocess.Popen([it.python, str(script)], stdout=subprocess.PIPE,
                                              stderr=subprocess.DEVNULL, text=True))
            started += len(batch)
            for k in batch:
                k.stdout.readline()
                pids.add(str(k.pid))
            # scrape until every one of the batch was seen or all exited:
            # on a loaded machine the agent's tick may come late, and a
            # fixed sleep would then count the test's timing, not the agent
            mine = {str(k.pid) for k in batch}
            while True:
                time.sleep(0.4)
                s = samples(agent.scrape())
                peak = max(peak, len(s))
                seen |= {x[1]["pid"] for x in s if "pid" in x[1]} & pids
                if mine <= seen or all(k.poll() is not None for k in batch):
                    break
            for k in batch:
                k.wait(timeout=60)
        kids = []
        # their series go at the agent's next tick after the last exit
        deadline = time.monotonic() + 15
        after = samples(agent.scrape())
        while {x[1]["pid"] for x in after if "pid" in x[1]} & pids and \
                time.monotonic() < deadline:
            time.sleep(0.5)
            after = samples(agent.scrape())
    finally:
        rc = agent.stop()
        for k in kids:
            stop(k)
    print("series before %d, peak %d, after %d; short-lived processes seen %d of 200" %
          (n_before, peak, len(after), len(seen)))
    assert rc == 0, "".join(agent.err)
    # the agent did watch them (else the test would prove nothing)...
    assert len(seen) >= 100, len(seen)
    # ...and nothing of theirs is left
    left = {x[1]["pid"] for x in after if "pid" in x[1]} & pids
    assert not left, left
    assert len(after) <= n_before + 50, (n_before, len(after))
    # while 20 ran at once: per process at most one loop (34 histogram lines
    # + 3 counters + 3 await sites + other + GC), never hundreds of processes
    assert peak <= n_before + 20 * 400, peak
    dropped = [x for x in after if x[0] == "pyrograph_agent_dropped_total" and
               x[1]["reason"].startswith("metrics_")]
    assert all(x[2] == 0 for x in dropped), dropped


def test_metrics_with_uploads(tmp):
    """--server and --metrics-listen together: every thread's samples still
    go to the profiles (not only the loop's inside iterations), and the
    uploads show in the agent's own metrics."""
    from test_agent import Receiver, decode_pprof
    it = by_name("debian-3.11")
    p = it.start("async_planted.py", 60)
    rx = Receiver()
    agent = None
    try:
        agent = Agent("--server", "http://127.0.0.1:%d" % rx.port, "--period", "2", "-p", p.pid)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(rx.got) < 2:
            time.sleep(0.5)
        text = agent.scrape()
    finally:
        rc = agent.stop() if agent else None
        rx.close()
        stop(p)
    assert rc == 0, "".join(agent.err)
    assert len(rx.got) >= 2, rx.got
    names = set()
    for g in rx.got:
        names |= decode_pprof(g[2])[0]
    # the CPU-bound coroutine is in the profiles
    assert "crunch" in names, names
    s = {(x[0], x[1].get("result")): x[2] for x in samples(text)}
    assert s[("pyrograph_agent_uploads_total", "sent")] >= 1, s
    assert s[("pyrograph_agent_uploads_total", "rejected")] == 0, s
    stalls = [x[2] for x in samples(text) if x[0] == "pyrograph_asyncio_stalls_total" and
              x[1]["pid"] == str(p.pid)]
    assert stalls and stalls[0] >= 2, stalls


def test_scrapes_while_backend_hangs(tmp):
    """A backend that takes the connection and never answers holds each
    upload for its 5 s timeout: the uploads wait in their own thread, so
    scrapes keep being answered at once and no sample is lost meanwhile."""
    import socket
    it = by_name("debian-3.11")
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(64)  # never accepted: the kernel completes the handshake
    p = it.start("async_planted.py", 60)
    agent = None
    slowest, n = 0.0, 0
    try:
        agent = Agent("--server", "http://127.0.0.1:%d" % hang.getsockname()[1],
                      "--period", "1", "-p", p.pid)
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            text = agent.scrape()
            slowest = max(slowest, time.monotonic() - t0)
            n += 1
            time.sleep(0.2)
        t0 = time.monotonic()
        rc = agent.stop()
        stopped = time.monotonic() - t0
    finally:
        if agent and agent.p.poll() is None:
            agent.stop()
        hang.close()
        stop(p)
    err = "".join(agent.err)
    assert rc == 0, err
    print("%d scrapes, slowest %.3f s; stopped in %.1f s" % (n, slowest, stopped))
    # a POST was in the air for 5 s at least once (then the agent backed off)
    assert "upload failed" in err, err
    assert n >= 30 and slowest < 2.0, (n, slowest)
    s = {(x[0], x[1].get("reason")): x[2] for x in samples(text)}
    assert s[("pyrograph_agent_dropped_total", "ring_buffer_full")] == 0, s
    assert s[("pyrograph_agent_dropped_total", "userspace")] == 0, s
    stalls = [x[2] for x in samples(text) if x[0] == "pyrograph_asyncio_stalls_total" and
              x[1]["pid"] == str(p.pid)]
    assert stalls and stalls[0] >= 2, stalls
    # SIGINT with a POST in the air: at most its timeout, then the exit
    assert stopped < 15, stopped


def test_dead_loop_threads_leave_room(tmp):
    """5000 short-lived threads that each poll once (the kernel table holds
    4096 polling threads): once they are gone, a new event loop is still
    timed, and their series are gone too."""
    it = by_name("debian-3.11")
    churn = tmp / "threads.py"
    churn.write_text(
        "import select, threading\n"
        "def poll():\n"
        "    e = select.epoll()\n"
        "    e.poll(0)\n"
        "    e.close()\n"
        "print('ready', flush=True)\n"
        "for k in range(50):\n"
        "    ts = [threading.Thread(target=poll) for _ in range(100)]\n"
        "    [t.start() for t in ts]\n"
        "    [t.join() for t in ts]\n"
        "print('done', flush=True)\n"
        "import time; time.sleep(60)\n")
    agent = Agent("-a")
    c = subprocess.Popen([it.python, str(churn)], stdout=subprocess.PIPE, text=True)
    p = None
    try:
        assert c.stdout.readline().strip() == "ready"
        assert c.stdout.readline().strip() == "done"
        # a new event loop after all that is still timed
        p = it.start("async_planted.py", 30)
        # a tick or two: dead threads' loops pruned, the new loop timed
        deadline = time.monotonic() + 20
        while True:
            s = samples(agent.scrape())
            lag = [x[2] for x in s if x[0] == "pyrograph_asyncio_loop_lag_seconds_count" and
                   x[1]["pid"] == str(p.pid)]
            loops = {x[1]["tid"] for x in s if x[0] == "pyrograph_asyncio_stalls_total"
                     and x[1]["pid"] == str(c.pid)}
            if (lag and lag[0] > 20 and len(loops) <= 2) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        rc = agent.stop()
        if p:
            stop(p)
        stop(c)
    assert rc == 0, "".join(agent.err)
    loops = {x[1]["tid"] for x in s if x[0] == "pyrograph_asyncio_stalls_total"
             and x[1]["pid"] == str(c.pid)}
    full = [x[2] for x in s if x[0] == "pyrograph_agent_dropped_total" and
            x[1]["reason"] == "loop_table_full"]
    lag = [x[2] for x in s if x[0] == "pyrograph_asyncio_loop_lag_seconds_count" and
           x[1]["pid"] == str(p.pid)]
    print("loops left %d, table-full drops %s, new loop's iterations %s" % (len(loops), full, lag))
    assert len(loops) <= 2, sorted(loops)[:10]
    # without the kernel side letting dead threads go this reads ~20-900
    assert full == [0], full
    assert lag and lag[0] > 20, lag


def test_http_hostile_clients(tmp):
    """Silent connections beyond the table do not lock a scraper out; bad
    requests get 400, other methods 405, unknown paths 404; the agent lives."""
    agent = Agent("-p", os.getpid())
    idle = []
    try:
        host, port = agent.addr.rsplit(":", 1)
        for _ in range(24):  # more than the 16 the agent serves at once
            s = socket.create_connection((host, int(port)), timeout=5)
            idle.append(s)
        time.sleep(0.3)
        t = time.monotonic()
        text = agent.scrape()
        took = time.monotonic() - t
        assert "pyrograph_agent_targets" in text
        assert took < 2.5, took

        def ask(raw):
            with socket.create_connection((host, int(port)), timeout=5) as s:
                s.sendall(raw)
                s.shutdown(socket.SHUT_WR)
                data = b""
                while True:
                    b = s.recv(65536)
                    if not b:
                        return data
                    data += b
        assert ask(b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400 ")
        assert ask(b"POST /metrics HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 405 ")
        assert ask(b"GET /nope HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 404 ")
        assert ask(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 431 ")
        head = ask(b"HEAD /metrics HTTP/1.0\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ") and head.endswith(b"\r\n\r\n"), head[-200:]
        assert "pyrograph_agent_targets" in agent.scrape()
    finally:
        for s in idle:
            s.close()
        rc = agent.stop()
    assert rc == 0, "".join(agent.err)


def test_listen_errors():
    """Loopback unless written out; bad addresses are refused with a reason."""
    for bad in (":9464", "9464x", "1.2.3:80", "[::1:80", "999999"):
        r = subprocess.run([binary(), "agent", "--metrics-listen", bad, "-p", str(os.getpid())],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1 and "--metrics-listen" in r.stderr, (bad, r.stderr)
    r = subprocess.run([binary(), "agent", "--metrics-listen", "0", "--idle"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "cannot be combined" in r.stderr, r.stderr
    r = subprocess.run([binary(), "agent", "-p", str(os.getpid())], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1 and "--metrics-listen" in r.stderr, r.stderr

# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""pyrograph agent against a local HTTP receiver that decodes every pprof it
gets: periodic uploads with labels, and an outage survived through the
spool with bounded memory."""
import gzip
import http.server
import os
import re
import signal
import subprocess
import threading
import time
import urllib.parse

from conftest import by_name, start_ready, stop


def varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7f) << s
        s += 7
        if c < 0x80:
            return v, i


def fields(b):
    """(field, wiretype, value) of one protobuf message."""
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        yield f, wt, v


def decode_pprof(data):
    """Function names, label keys and the total of value[1] of a profile."""
    raw = gzip.decompress(data)
    strings, funcs, samples = [], {}, []
    for f, wt, v in fields(raw):
        if f == 6:
            strings.append(v.decode())
        elif f == 5:
            d = {ff: vv for ff, _, vv in fields(v)}
            funcs[d.get(1)] = d.get(2, 0)
        elif f == 2:
            labels, values = [], []
            for ff, wt2, vv in fields(v):
                if ff == 3:
                    labels.append({k: x for k, _, x in fields(vv)})
                elif ff == 2 and wt2 == 2:
                    j = 0
                    while j < len(vv):
                        x, j = varint(vv, j)
                        values.append(x)
            samples.append((labels, values))
    names = {strings[n] for n in funcs.values()}
    keys = {strings[lab[1]] for labels, _ in samples for lab in labels}
    return names, keys, sum(v[1] for _, v in samples if len(v) > 1)


class Receiver:
    def __init__(self, port=0):
        self.got = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                u = urllib.parse.urlparse(self.path)
                outer.got.append((u.path, urllib.parse.parse_qs(u.query), body, time.monotonic()))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        self.port = self.srv.server_address[1]
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_for(cond, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.2)
    return cond()


def test_agent_uploads_and_outage(tmp):
    it = by_name("debian-3.11")
    work = it.start("nested.py", 120)
    rx = Receiver()
    port = rx.port
    spool = tmp / "spool"
    agent = start_ready(["agent", "--server", "http://127.0.0.1:%d" % port, "--period", "2",
                         "--spool", spool, "-p", work.pid])
    try:
        # 1. a profile per period, labelled, decodable
        assert wait_for(lambda: len(rx.got) >= 2, 12), "no uploads: %s" % rx.got
        path, q, body, t = rx.got[0]
        assert path == "/ingest", path
        assert q["format"] == ["pprof"], q
        name = q["name"][0]
        assert name.startswith("nested.cpu{"), name
        labels = dict(kv.split("=", 1) for kv in name[len("nested.cpu{"):-1].split(","))
        assert labels["pid"] == str(work.pid) and labels["service"] == "nested", labels
        assert labels["host"], labels
        assert int(q["until"][0]) - int(q["from"][0]) in (1, 2, 3), q
        names, keys, total = decode_pprof(body)
        assert {"level_three", "level_two", "level_one"} <= names, names
        assert {"pid", "process"} <= keys, keys
        gap = rx.got[1][3] - rx.got[0][3]
        assert 1.0 <= gap <= 3.5, gap
        # 2. the receiver goes away for three periods
        rss_before = rss_kb(agent.pid)
        rx.close()
        n_before = len(rx.got)
        time.sleep(6.5)
        spooled = sorted(os.listdir(spool))
        assert len(spooled) >= 2, spooled
        rss_after = rss_kb(agent.pid)
        # profiles wait on disk, not in memory
        assert rss_after - rss_before < 8 * 1024, (rss_before, rss_after)
        # 3. back on the same port: the spooled profiles arrive, in order
        down_until = int(time.time())
        rx = Receiver(port)
        assert wait_for(lambda: len(rx.got) >= len(spooled), 40), (len(rx.got), spooled)
        untils = [int(g[1]["until"][0]) for g in rx.got]
        assert untils == sorted(untils), untils
        assert min(untils) <= down_until - 2, (untils, down_until)
        for g in rx.got:
            assert "level_three" in decode_pprof(g[2])[0]
        assert wait_for(lambda: not os.listdir(spool), 10), os.listdir(spool)
        print("before outage %d uploads; %d spooled during it, all delivered after; rss %d -> %d KiB"
              % (n_before, len(spooled), rss_before, rss_after))
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            err = agent.communicate(timeout=20)[1]
        except subprocess.TimeoutExpired:
            agent.kill()
            err = agent.communicate()[1]
        rx.close()
        stop(work)
    assert agent.returncode == 0, err
    assert "upload failed" in err, err


def test_agent_memory_bounded_without_spool(tmp):
    """No spool and nobody listening: the queue stays within --queue-max,
    oldest profiles dropped and counted."""
    it = by_name("debian-3.11")
    work = it.start("nested.py", 60)
    agent = start_ready(["agent", "--server", "http://127.0.0.1:9", "--period", "1",
                         "--queue-max", "1K", "-p", work.pid])
    try:
        time.sleep(6)  # six periods of sampling: more profiles than 1 KiB holds
    finally:
        agent.send_signal(signal.SIGTERM)
        err = agent.communicate(timeout=20)[1]
        stop(work)
    assert agent.returncode == 0, err
    assert "upload failed" in err, err
    m = re.search(r"sent (\d+) profiles, \d+ rejected, (\d+) dropped, (\d+) left queued \((\d+) bytes\)", err)
    assert m, err
    sent, dropped, left, nbytes = (int(x) for x in m.groups())
    print(m.group(0))
    assert sent == 0 and dropped >= 1 and left >= 1 and nbytes <= 1024, m.group(0)
    # the cause named, once for the whole outage
    failed = [line for line in err.splitlines() if "upload failed" in line]
    assert len(failed) == 1 and "connection refused" in failed[0], failed

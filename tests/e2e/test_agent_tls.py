# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""pyrograph agent --server https://: a real TLS server on 127.0.0.1 (Python's
ssl module) with a throwaway CA and certificates made by openssl here. It
decodes every pprof it gets and records the headers; bad certificates (for
another host, from an unknown CA, expired) are refused with the cause named
and nothing sent, and the queued profiles go out once the server is mended;
a 401 is said once and retried with backoff, a 413 said once and the
profile dropped; HTTPS_PROXY is followed; option errors and secret files
are checked before anything starts."""
import base64
import http.server
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest

from conftest import binary, by_name, stop
from test_agent import decode_pprof, wait_for
from test_metrics import PROMTOOL


def openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, (args, r.stderr)


class PKI:
    """A CA the agent trusts (--cacert), another it does not, and server
    certificates: good (127.0.0.1), for another host, from the unknown CA,
    and expired."""

    def __init__(self, d):
        self.d = d
        for ca in ("ca", "rogue"):
            openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca + ".key",
                    "-out", ca + ".pem", "-subj", "/CN=pyrograph test %s" % ca, "-days", "2",
                    cwd=d)
        self.ca = str(d / "ca.pem")
        self.good = self.leaf("good", "ca", "IP:127.0.0.1,DNS:localhost")
        self.other_host = self.leaf("other", "ca", "DNS:other.invalid")
        self.unknown_ca = self.leaf("unknown", "rogue", "IP:127.0.0.1,DNS:localhost")
        self.expired = self.leaf("expired", "ca", "IP:127.0.0.1,DNS:localhost",
                                 expired=True)

    def leaf(self, name, ca, san, expired=False):
        d = self.d
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                name + ".csr", "-subj", "/CN=" + san.split(",")[0].split(":")[1], cwd=d)
        (d / (name + ".ext")).write_text("subjectAltName=%s\n" % san)
        if expired:
            # valid for a day, a year ago: `openssl ca` takes the dates
            (d / "db").mkdir(exist_ok=True)
            (d / "db" / "index.txt").write_text("")
            (d / "db" / "serial").write_text("1000\n")
            (d / "ca.cnf").write_text(
                "[ca]\ndefault_ca = test\n[test]\ndir = %s\ndatabase = $dir/index.txt\n"
                "new_certs_dir = $dir\nserial = $dir/serial\ndefault_md = sha256\n"
                "policy = any\ncopy_extensions = copy\n[any]\ncommonName = supplied\n"
                % (d / "db"))
            year_ago = time.gmtime(time.time() - 365 * 86400)
            start = time.strftime("%Y%m%d000000Z", year_ago)
            end = time.strftime("%Y%m%d000000Z", time.gmtime(time.time() - 364 * 86400))
            openssl("ca", "-batch", "-config", "ca.cnf", "-cert", ca + ".pem", "-keyfile",
                    ca + ".key", "-in", name + ".csr", "-out", name + ".pem", "-startdate",
                    start, "-enddate", end, "-extfile", name + ".ext", cwd=d)
        else:
            openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey",
                    ca + ".key", "-CAcreateserial", "-out", name + ".pem", "-days", "1",
                    "-extfile", name + ".ext", cwd=d)
        return (str(d / (name + ".pem")), str(d / (name + ".key")))


class TLSReceiver:
    """An HTTPS server on 127.0.0.1 that keeps connections open (HTTP/1.1)
    and records every POST: (path, query, body, headers, client port, time,
    status). Connections are counted, and handshakes that fail.
    status() decides the answer."""

    def __init__(self, cert, port=0, status=lambda: 200):
        self.got, self.tls_errors, self.conns = [], [], 0
        self.status = status
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*cert)
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 30

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                u = urllib.parse.urlparse(self.path)
                st = outer.status()
                outer.got.append((u.path, urllib.parse.parse_qs(u.query), body,
                                  dict(self.headers), self.client_address[1], time.monotonic(),
                                  st))
                msg = b"" if st < 300 else b"refused by the test server\n"
                self.send_response(st)
                self.send_header("Content-Length", str(len(msg)))
                self.end_headers()
                self.wfile.write(msg)

            def log_message(self, *a):
                pass

        class S(http.server.ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

            def finish_request(self, request, client_address):
                outer.conns += 1
                request.settimeout(10)
                try:
                    tls = ctx.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    outer.tls_errors.append(str(e))
                    return
                try:
                    H(tls, client_address, self)
                finally:
                    tls.close()

        self.srv = S(("127.0.0.1", port), H)
        self.port = self.srv.server_address[1]
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class ConnectProxy:
    """The smallest CONNECT proxy: records each request line, then relays
    bytes both ways."""

    def __init__(self):
        self.lines = []
        self.s = socket.socket()
        self.s.bind(("127.0.0.1", 0))
        self.s.listen(16)
        self.port = self.s.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.s.accept()
            except OSError:
                return
            threading.Thread(target=self.tunnel, args=(c,), daemon=True).start()

    def tunnel(self, c):
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            b = c.recv(4096)
            if not b:
                c.close()
                return
            head += b
        line = head.split(b"\r\n")[0].decode()
        self.lines.append(line)
        m = re.match(r"CONNECT ([^ :]+):(\d+) HTTP/1\.[01]$", line)
        if not m:
            c.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            c.close()
            return
        u = socket.create_connection((m.group(1), int(m.group(2))), timeout=10)
        c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        socks = [c, u]
        try:
            while True:
                r, _, _ = select.select(socks, [], [], 60)
                if not r:
                    break
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    (u if s is c else c).sendall(data)
        except OSError:
            pass
        finally:
            c.close()
            u.close()

    def close(self):
        self.s.close()


class Agent:
    """The agent with its stderr read as it comes."""

    def __init__(self, work, url, *args, env=None):
        self.p = subprocess.Popen([binary(), "agent", "--server", url, "--period", "1",
                                   "-p", str(work.pid)] + [str(a) for a in args],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  env=env)
        self.lines = []
        self.t = threading.Thread(target=self.read, daemon=True)
        self.t.start()

    def read(self):
        for line in self.p.stderr:
            self.lines.append(line)

    def err(self):
        return "".join(self.lines)

    def metrics(self):
        """The upload failures by reason, from --metrics-listen 127.0.0.1:0,
        and the exposition."""
        m = re.search(r"metrics at (http://\S+/metrics)", self.err())
        assert m, self.err()
        with urllib.request.urlopen(m.group(1), timeout=10) as r:
            text = r.read().decode()
        fails = {}
        for reason, n in re.findall(r'^pyrograph_agent_upload_failures_total\{[^}]*'
                                    r'reason="([^"]+)"\} (\d+)$', text, re.M):
            fails[reason] = int(n)
        return fails, text

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.t.join(10)
        return self.p.returncode


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return PKI(tmp_path_factory.mktemp("pki"))


def secret_file(tmp, name, text):
    p = tmp / name
    p.write_text(text)
    os.chmod(p, 0o600)
    return str(p)


def check_profile(rec, pid):
    path, q, body, headers = rec[:4]
    assert path.endswith("/ingest"), path
    assert q["format"] == ["pprof"], q
    assert ("pid=%d" % pid) in q["name"][0], q
    names, keys, total = decode_pprof(body)
    assert {"level_three", "level_two", "level_one"} <= names, names
    assert {"pid", "process"} <= keys, keys
    assert total > 0


def test_tls_uploads_headers_and_secrets(pki, tmp):
    """Valid pprof over https with basic auth from a file and a tenant; the
    secret is never on a command line; one connection carries the uploads."""
    it = by_name("debian-3.11")
    work = it.start("nested.py", 120)
    rx = TLSReceiver(pki.good)
    secret = "glc_Zm9vYmFyc2VjcmV0dG9rZW4"
    auth = secret_file(tmp, "grafana-cloud", "123456:%s\n" % secret)
    agent = Agent(work, "https://127.0.0.1:%d" % rx.port, "--cacert", pki.ca,
                  "--basic-auth-file", auth, "--tenant", "team-a")
    try:
        assert wait_for(lambda: len(rx.got) >= 4, 30), (rx.got, agent.err())
        ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
        assert str(agent.p.pid) in ps and "--basic-auth-file" in ps, ps
        with open("/proc/%d/cmdline" % agent.p.pid, "rb") as f:
            cmdline = f.read()
        with open("/proc/%d/environ" % agent.p.pid, "rb") as f:
            environ = f.read()
    finally:
        rc = agent.stop()
        rx.close()
        stop(work)
    err = agent.err()
    assert rc == 0, err
    assert secret not in ps and secret.encode() not in cmdline + environ
    assert secret not in err, err
    want = "Basic " + base64.b64encode(("123456:" + secret).encode()).decode()
    for rec in rx.got:
        check_profile(rec, work.pid)
        assert rec[3]["Authorization"] == want, rec[3]
        assert rec[3]["X-Scope-OrgID"] == "team-a", rec[3]
        assert rec[3]["User-Agent"].startswith("pyrograph/"), rec[3]
    ports = {rec[4] for rec in rx.got}
    # the connection is kept between uploads
    assert len(ports) < len(rx.got), (len(ports), len(rx.got))
    assert not rx.tls_errors, rx.tls_errors
    assert "upload failed" not in err, err
    print("%d uploads over %d connection(s)" % (len(rx.got), len(ports)))


@pytest.mark.parametrize("how", ["url", "url_user_file_password", "bearer"])
def test_tls_credentials(how, pki, tmp):
    """Credentials from the URL, the URL's user with the password from a
    file, and a bearer token from a file."""
    it = by_name("debian-3.11")
    work = it.start("nested.py", 60)
    rx = TLSReceiver(pki.good)
    url = "https://127.0.0.1:%d/prefix/" % rx.port
    if how == "url":
        args = []
        url = "https://user%%40corp:p%%3Ass@127.0.0.1:%d/prefix/" % rx.port
        want = "Basic " + base64.b64encode(b"user@corp:p:ss").decode()
    elif how == "url_user_file_password":
        args = ["--basic-auth-file", secret_file(tmp, "pw", "pass:word\r\n")]
        url = "https://987654@127.0.0.1:%d/prefix" % rx.port
        want = "Basic " + base64.b64encode(b"987654:pass:word").decode()
    else:
        args = ["--bearer-token-file", secret_file(tmp, "token", "eyJhbGciOi.tok.en\n")]
        want = "Bearer eyJhbGciOi.tok.en"
    agent = Agent(work, url, "--cacert", pki.ca, *args)
    try:
        assert wait_for(lambda: len(rx.got) >= 1, 30), agent.err()
    finally:
        rc = agent.stop()
        rx.close()
        stop(work)
    err = agent.err()
    assert rc == 0, err
    assert rx.got[0][0] == "/prefix/ingest", rx.got[0][0]
    check_profile(rx.got[0], work.pid)
    assert rx.got[0][3]["Authorization"] == want, rx.got[0][3]
    assert "X-Scope-OrgID" not in rx.got[0][3]
    # a password in the URL is allowed, with a warning it can be seen
    assert ("can read it (ps" in err) == (how == "url"), err


BAD = {
    "other_host": ("other_host", r"host name mismatch: the server's certificate is not for 127\.0\.0\.1",
                   "certificate_host_mismatch"),
    "unknown_ca": ("unknown_ca", r"unknown CA: the server's certificate is not signed by a trusted CA",
                   "certificate_unknown_ca"),
    "expired": ("expired", r"certificate expired", "certificate_expired"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_tls_bad_certificate_then_mended(case, pki, tmp):
    """A bad certificate is refused with its cause named once, nothing is
    sent, the profiles wait in the queue and go out, in order, once the
    server on the same port has a good certificate."""
    attr, cause, reason = BAD[case]
    it = by_name("debian-3.11")
    work = it.start("nested.py", 120)
    rx = TLSReceiver(getattr(pki, attr))
    port = rx.port
    agent = Agent(work, "https://127.0.0.1:%d" % port, "--cacert", pki.ca,
                  "--metrics-listen", "127.0.0.1:0")
    try:
        assert wait_for(lambda: "upload failed" in agent.err(), 30), agent.err()
        # a few more periods cut and queued, a few more refused tries (a
        # name that does not match is seen after the handshake, by libcurl)
        assert wait_for(lambda: rx.conns >= 3, 20), (rx.conns, rx.tls_errors, agent.err())
        assert not rx.got, rx.got
        # the metrics catch up within a tick or two
        assert wait_for(lambda: agent.metrics()[0].get(reason, 0) >= 3, 10), agent.metrics()
        fails, _ = agent.metrics()
        assert not rx.got, rx.got
        refused = rx.conns
        rx.close()
        mended_at = time.time()
        queued = [int(m) for m in re.findall(r"queued (\d+) \(", agent.err())]
        rx = TLSReceiver(pki.good, port)
        assert wait_for(lambda: len(rx.got) >= max(queued), 60), (len(rx.got), queued,
                                                                  agent.err())
    finally:
        rc = agent.stop()
        rx.close()
        stop(work)
    err = agent.err()
    assert rc == 0, err
    failed = [line for line in err.splitlines() if "upload failed" in line]
    # said once, with the cause, though tried several times
    assert len(failed) == 1 and re.search(cause, failed[0]), failed
    assert "sending again" in err, err
    untils = [int(r[1]["until"][0]) for r in rx.got]
    assert untils == sorted(untils), untils
    assert untils[0] <= mended_at - 2, (untils, mended_at)
    for rec in rx.got:
        check_profile(rec, work.pid)
    # every refused try counted under its reason, and only there
    assert fails[reason] >= 3, fails
    assert sum(fails.values()) == fails[reason], fails
    print("%s: %d refused connections, queued up to %d, %d delivered after the fix; %s"
          % (case, refused, max(queued), len(rx.got), failed[0].strip()))


def test_401_said_once_and_retried_with_backoff(pki, tmp):
    """The server refuses the credentials for a while: one line says so,
    the tries back off (1 s, 2 s, 4 s...), nothing is dropped, and the
    profiles go out once the server takes them; the metrics count each
    refused try as http_401 and promtool accepts the exposition."""
    it = by_name("debian-3.11")
    work = it.start("nested.py", 120)
    accept = threading.Event()
    rx = TLSReceiver(pki.good, status=lambda: 200 if accept.is_set() else 401)
    auth = secret_file(tmp, "auth", "user:wrong\n")
    agent = Agent(work, "https://localhost:%d" % rx.port, "--cacert", pki.ca,
                  "--basic-auth-file", auth, "--metrics-listen", "127.0.0.1:0")
    try:
        assert wait_for(lambda: len(rx.got) >= 4, 40), (len(rx.got), agent.err())
        assert wait_for(lambda: agent.metrics()[0].get("http_401", 0) >= 3, 10), agent.metrics()
        fails, text = agent.metrics()
        accept.set()
        ok_from = len(rx.got)
        queued = max(int(m) for m in re.findall(r"queued (\d+) \(", agent.err()))
        # everything queued during the refusals goes out
        assert wait_for(lambda: sum(r[6] == 200 for r in rx.got) >= queued, 40), agent.err()
    finally:
        rc = agent.stop()
        rx.close()
        stop(work)
    err = agent.err()
    assert rc == 0, err
    said = [line for line in err.splitlines() if "HTTP 401" in line]
    assert len(said) == 1 and "refuses the credentials" in said[0], err
    assert "refused by the test server" in said[0], said
    tries = [r[5] for r in rx.got[:ok_from]]
    gaps = [b - a for a, b in zip(tries, tries[1:])]
    # 1 s, 2 s, 4 s: each wait about twice the one before
    assert all(g >= 0.8 for g in gaps), gaps
    assert gaps[-1] >= 1.6 * gaps[0] and gaps[-1] >= 3.0, gaps
    assert fails["http_401"] >= 3 and sum(fails.values()) == fails["http_401"], fails
    assert not re.search(r"dropped [1-9]", err), err
    m = re.search(r"sent (\d+) profiles, (\d+) rejected, (\d+) dropped", err)
    assert m and int(m.group(1)) >= ok_from - 1 and m.group(2) == "0", m and m.group(0)
    for rec in rx.got:
        check_profile(rec, work.pid)
    if PROMTOOL:
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), \
            (r.stdout, r.stderr)
    print("401 tries %s s apart; said once: %s" % (["%.1f" % g for g in gaps], said[0]))


def test_413_rejected_once(pki, tmp):
    """A server that takes no profile this large: each is dropped (retrying
    cannot help) and counted, said once with the server's words."""
    it = by_name("debian-3.11")
    work = it.start("nested.py", 60)
    rx = TLSReceiver(pki.good, status=lambda: 413)
    agent = Agent(work, "https://127.0.0.1:%d" % rx.port, "--cacert", pki.ca)
    try:
        assert wait_for(lambda: len(rx.got) >= 3, 30), (len(rx.got), agent.err())
    finally:
        rc = agent.stop()
        rx.close()
        stop(work)
    err = agent.err()
    assert rc == 0, err
    said = [line for line in err.splitlines() if "HTTP 413" in line]
    assert len(said) == 1 and "upload rejected" in said[0], err
    assert "takes no profile this large" in said[0] and "refused by the test server" in said[0]
    m = re.search(r"sent (\d+) profiles, (\d+) rejected", err)
    assert m and m.group(1) == "0" and int(m.group(2)) >= 3, err
    # no backoff: one try per profile, each period
    assert "upload failed" not in err, err


def test_https_proxy(pki, tmp):
    """HTTPS_PROXY is followed: the proxy gets a CONNECT to the server and
    the uploads arrive through its tunnel (the certificate still checked
    against the server's name)."""
    it = by_name("debian-3.11")
    work = it.start("nested.py", 60)
    rx = TLSReceiver(pki.good)
    proxy = ConnectProxy()
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("https_proxy", "http_proxy", "all_proxy", "no_proxy")}
    env["HTTPS_PROXY"] = "http://127.0.0.1:%d" % proxy.port
    agent = Agent(work, "https://127.0.0.1:%d" % rx.port, "--cacert", pki.ca, env=env)
    try:
        assert wait_for(lambda: len(rx.got) >= 2, 30), (rx.got, proxy.lines, agent.err())
    finally:
        rc = agent.stop()
        rx.close()
        proxy.close()
        stop(work)
    assert rc == 0, agent.err()
    assert proxy.lines and set(proxy.lines) == {"CONNECT 127.0.0.1:%d HTTP/1.1" % rx.port}, \
        proxy.lines
    for rec in rx.got:
        check_profile(rec, work.pid)
    print("through the proxy: %s; %d uploads" % (proxy.lines, len(rx.got)))


def test_option_errors(pki, tmp):
    """Secrets files are checked before anything starts; the errors say
    what is wrong. --insecure says so."""
    many = secret_file(tmp, "two-lines", "user:pw\nsecond\n")
    loose = secret_file(tmp, "loose", "user:pw\n")
    os.chmod(loose, 0o644)
    big = secret_file(tmp, "big", "x" * 10000)
    nocolon = secret_file(tmp, "nocolon", "justapassword\n")
    url = "https://127.0.0.1:9"
    cases = [
        (["--basic-auth-file", many], "more than one line"),
        (["--basic-auth-file", big], "too large"),
        (["--basic-auth-file", nocolon], "USER:PASSWORD on one line"),
        (["--basic-auth-file", str(tmp / "missing")], "No such file"),
        (["--basic-auth-file", "/dev/null"], "not a regular file"),
        (["--basic-auth-file", nocolon, "--bearer-token-file", nocolon], "one or the other"),
        (["--tenant", "a b"], "--tenant: 1 to 150"),
        (["--cacert", nocolon], "no PEM certificate"),
        (["--tenant"], "needs a value"),
    ]
    for args, want in cases:
        r = subprocess.run([binary(), "agent", "--server", url] + args, capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 1 and want in r.stderr, (args, r.stderr)
        assert "user:pw" not in r.stderr and "justapassword" not in r.stderr, r.stderr
    for bad, want in (("ftp://h/", "not an http:// or https:// URL"),
                      ("https://h/x?y=1", "no query or fragment"),
                      ("127.0.0.1:4040", "not an http:// or https:// URL")):
        r = subprocess.run([binary(), "agent", "--server", bad], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 1 and want in r.stderr, (bad, r.stderr)
    r = subprocess.run([binary(), "agent", "--tenant", "x"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1 and "go with --server" in r.stderr, r.stderr
    # a loose mode and --insecure are allowed, and said (then the agent
    # stops at a spool it cannot make: nothing is recorded)
    r = subprocess.run([binary(), "agent", "--server", url, "--basic-auth-file", loose,
                        "--insecure", "--spool", "/proc/no-such-dir/spool"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "--spool" in r.stderr, r.stderr
    assert "group or others may read it; chmod 600" in r.stderr, r.stderr
    assert "--insecure: the certificate and host name" in r.stderr, r.stderr

#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Check an interactive flame graph SVG in real headless Chromium.

The flame graph's JavaScript only runs in a browser, so the tests open the
SVG in Debian's chromium through the Chrome DevTools Protocol and look at
what a user would: console errors, frames highlighted by a search, and
whether clicking a frame zooms it to full width.

Needs only the standard library and Debian's python3-websocket
(apt-get install -y python3-websocket chromium).

    python3 tests/browser.py FILE.svg TERM [--click NAME] [--via call|ctrl-f|url]
                             [--screenshot OUT.png] [--timeout S]

prints the result of check_svg() as JSON; exits 1 if there were errors.
"""
import argparse
import base64
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

try:
    import websocket
except ImportError:
    # A pyenv or venv python does not see Debian's packages; the module is pure Python.
    sys.path.append("/usr/lib/python3/dist-packages")
    import websocket

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
]
VIEWPORT = (1280, 900)


class CdpError(RuntimeError):
    pass


class Cdp:
    """Minimal CDP client over the browser endpoint, with flattened sessions."""

    def __init__(self, ws_url, deadline):
        self.deadline = deadline
        # Chromium refuses DevTools websockets that carry an Origin it does not allow.
        self.ws = websocket.create_connection(ws_url, timeout=self._left(), suppress_origin=True)
        self.next_id = 0
        self.errors = []
        self.loaded = set()
        self.dialog_answer = None
        self.session = None

    def _left(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out talking to chromium")
        return left

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass

    def send(self, method, params=None, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        return self.next_id

    def call(self, method, params=None, session=True):
        want = self.send(method, params, session)
        while True:
            msg = self._recv()
            if msg.get("id") == want:
                if "error" in msg:
                    raise CdpError(f"{method}: {msg['error'].get('message')}")
                return msg.get("result", {})

    def pump(self, seconds):
        """Handles events for a while, so late console errors are not missed."""
        end = min(time.monotonic() + seconds, self.deadline)
        while time.monotonic() < end:
            self.ws.settimeout(max(0.01, end - time.monotonic()))
            try:
                self._event(json.loads(self.ws.recv()))
            except websocket.WebSocketTimeoutException:
                break

    def wait_for(self, pred):
        while not pred():
            self._recv()

    def _recv(self):
        self.ws.settimeout(self._left())
        try:
            msg = json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            raise TimeoutError("timed out waiting for chromium") from None
        if "method" in msg:
            self._event(msg)
        return msg

    def _event(self, msg):
        method, p = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") == "error":
            args = [a.get("value", a.get("description", "")) for a in p.get("args", [])]
            self.errors.append("console.error: " + " ".join(str(a) for a in args))
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            text = d.get("exception", {}).get("description") or d.get("text", "")
            self.errors.append(f"exception: {text} (line {d.get('lineNumber')}, col {d.get('columnNumber')})")
        elif method == "Log.entryAdded":
            e = p.get("entry", {})
            if e.get("level") == "error":
                self.errors.append(f"log: {e.get('text')} {e.get('url', '')}".rstrip())
        elif method == "Page.loadEventFired":
            self.loaded.add(msg.get("sessionId"))
        elif method == "Page.javascriptDialogOpening":
            # A dialog blocks the page's JavaScript, so answer it right here.
            if p.get("type") == "prompt" and self.dialog_answer is not None:
                self.send("Page.handleJavaScriptDialog", {"accept": True, "promptText": self.dialog_answer})
                self.dialog_answer = None
            else:
                self.errors.append(f"unexpected {p.get('type')} dialog: {p.get('message')}")
                self.send("Page.handleJavaScriptDialog", {"accept": False})

    def evaluate(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            text = d.get("exception", {}).get("description") or d.get("text", "")
            raise CdpError(f"evaluate failed: {text}")
        return r.get("result", {}).get("value")

    def mouse_click(self, x, y):
        base = {"x": x, "y": y, "modifiers": 0}
        self.call("Input.dispatchMouseEvent", {**base, "type": "mouseMoved", "button": "none"})
        self.call("Input.dispatchMouseEvent",
                  {**base, "type": "mousePressed", "button": "left", "buttons": 1, "clickCount": 1})
        self.call("Input.dispatchMouseEvent",
                  {**base, "type": "mouseReleased", "button": "left", "buttons": 0, "clickCount": 1})

    def ctrl_f(self):
        key = {"modifiers": 2, "key": "f", "code": "KeyF", "windowsVirtualKeyCode": 70}
        self.call("Input.dispatchKeyEvent", {**key, "type": "rawKeyDown"})
        self.call("Input.dispatchKeyEvent", {**key, "type": "keyUp"})


def _launch(user_dir, deadline):
    log = open(os.path.join(user_dir, "chromium.log"), "wb")
    try:
        proc = subprocess.Popen(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={user_dir}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True,  # its own process group, so all its helpers can be ended together
        )
    finally:
        log.close()
    port_file = os.path.join(user_dir, "DevToolsActivePort")
    while True:
        try:
            with open(port_file) as f:
                lines = f.read().split("\n")
            if len(lines) >= 2 and lines[0].strip().isdigit() and lines[1].startswith("/"):
                return proc, f"ws://127.0.0.1:{lines[0].strip()}{lines[1].strip()}"
        except FileNotFoundError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            with open(os.path.join(user_dir, "chromium.log"), "rb") as f:
                tail = f.read()[-2000:].decode(errors="replace")
            _stop(proc)
            why = f"exited with {proc.returncode}" if proc.returncode is not None else "timed out"
            raise RuntimeError(f"chromium {why} before writing DevToolsActivePort:\n{tail}")
        time.sleep(0.05)


def _stop(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    # The browser's helpers (zygote, renderer) share its group and may outlive it.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


_FIND_FRAME = """
(function (name) {
    var gs = document.querySelectorAll("g.f"), full = 0, hit = null;
    for (var i = 0; i < gs.length; i++) {
        var r = gs[i].querySelector("rect");
        full = Math.max(full, parseFloat(r.getAttribute("width")));
        var t = gs[i].querySelector("title"), x = gs[i].querySelector("text");
        if (!hit && ((t && t.textContent.indexOf(name) >= 0) || (x && x.textContent.indexOf(name) >= 0)))
            hit = gs[i];
    }
    if (!hit) return null;
    window.__fg_clicked = hit;
    var rect = hit.querySelector("rect");
    rect.scrollIntoView({block: "center", inline: "center"});
    var b = rect.getBoundingClientRect();
    return {x: b.left + b.width / 2, y: b.top + b.height / 2,
            width: parseFloat(rect.getAttribute("width")), full: full};
})(%s)
"""

_COUNT_MATCHES = """
(function () {
    var m = document.getElementById("matched");
    return {n: document.querySelectorAll('rect[data-match="1"]').length,
            text: m ? m.textContent.trim() : ""};
})()
"""


def check_svg(path, search_term, click_name=None, timeout=30, *, via="call", screenshot=None):
    """Opens @path in headless chromium, searches, optionally clicks a frame.

    via: "call" evaluates search(term); "ctrl-f" presses Ctrl-F and answers
    the prompt; "url" loads the file with ?s=term. screenshot: PNG path,
    taken at the end. Returns {errors, matches, matched_text, zoomed}.
    """
    deadline = time.monotonic() + timeout
    url = pathlib.Path(path).resolve().as_uri()
    if via == "url":
        url += "?" + urllib.parse.urlencode({"s": search_term})
    result = {"errors": [], "matches": 0, "matched_text": "", "zoomed": None}
    user_dir = tempfile.mkdtemp(prefix="pyrograph-chromium-")
    proc = cdp = None
    try:
        proc, ws_url = _launch(user_dir, deadline)
        cdp = Cdp(ws_url, deadline)
        target = cdp.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        cdp.session = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                               session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            cdp.call(f"{domain}.enable")
        cdp.call("Emulation.setDeviceMetricsOverride",
                 {"width": VIEWPORT[0], "height": VIEWPORT[1], "deviceScaleFactor": 1, "mobile": False})
        nav = cdp.call("Page.navigate", {"url": url})
        if nav.get("errorText"):
            raise CdpError(f"cannot open {url}: {nav['errorText']}")
        cdp.wait_for(lambda: cdp.session in cdp.loaded)
        cdp.pump(0.2)

        if via == "call":
            cdp.evaluate(f"search({json.dumps(search_term)})")
        elif via == "ctrl-f":
            cdp.dialog_answer = search_term
            cdp.ctrl_f()
            cdp.pump(0.2)
            if cdp.dialog_answer is not None:
                cdp.errors.append("driver: Ctrl-F did not open a search prompt")
        elif via != "url":
            raise ValueError(f"unknown via {via!r}")
        found = cdp.evaluate(_COUNT_MATCHES)
        result["matches"], result["matched_text"] = found["n"], found["text"]

        if click_name is not None:
            hit = cdp.evaluate(_FIND_FRAME % json.dumps(click_name))
            if hit is None:
                cdp.errors.append(f"driver: no frame whose title or label contains {click_name!r}")
                result["zoomed"] = False
            else:
                cdp.mouse_click(hit["x"], hit["y"])
                cdp.pump(0.2)
                after = cdp.evaluate('parseFloat(window.__fg_clicked.querySelector("rect").getAttribute("width"))')
                result["zoomed"] = abs(after - hit["full"]) < 0.5

        cdp.pump(0.3)
        if screenshot:
            # Flame graphs grow upwards from the root: show the bottom.
            cdp.evaluate("window.scrollTo(0, 1e9)")
            shot = cdp.call("Page.captureScreenshot", {"format": "png"})
            pathlib.Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
        result["errors"] = list(cdp.errors)
        return result
    finally:
        if cdp:
            cdp.close()
        if proc:
            _stop(proc)
        shutil.rmtree(user_dir, ignore_errors=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Check a flame graph SVG in headless chromium.")
    ap.add_argument("svg")
    ap.add_argument("term", help="search term (regexp)")
    ap.add_argument("--click", metavar="NAME", help="click the first frame whose title contains NAME")
    ap.add_argument("--via", choices=("call", "ctrl-f", "url"), default="call",
                    help="how to start the search (default: call search(term))")
    ap.add_argument("--screenshot", metavar="PNG")
    ap.add_argument("--timeout", type=float, default=30)
    args = ap.parse_args(argv)
    try:
        res = check_svg(args.svg, args.term, args.click, args.timeout, via=args.via, screenshot=args.screenshot)
    except Exception as e:
        print(f"browser.py: {e}", file=sys.stderr)
        return 2
    print(json.dumps(res, indent=2))
    return 1 if res["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())

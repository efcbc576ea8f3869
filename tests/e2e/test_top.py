# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""pyrograph top in a real terminal (tmux): the live view, keys, exit."""
import os
import select
import shutil
import subprocess
import time

import pytest

from conftest import binary, by_name, stop

pytestmark = pytest.mark.skipif(not shutil.which("tmux") and os.environ.get("CI") != "true",
                                reason="tmux not installed (scripts/deps.sh installs it)")


SOCKET = "pyrograph-test-%d" % os.getpid()  # a server of our own


def tmux(*args, check=True):
    r = subprocess.run(["tmux", "-L", SOCKET] + list(args), capture_output=True, text=True)
    if check and r.returncode:
        raise AssertionError("tmux %s failed: %s" % (args[0], r.stderr))
    return r


def pane():
    return tmux("capture-pane", "-p", "-t", "top").stdout


def table_rows(text):
    """Function rows of the table: (own%, total%, function text)."""
    rows, on = [], False
    for line in text.splitlines():
        if line.strip().startswith("%Own"):
            on = True
            continue
        if on and line.strip():
            parts = line.split(None, 4)
            if len(parts) == 5:
                rows.append((float(parts[0]), float(parts[1]), parts[4]))
    return rows


def test_top_live(tmp):
    it = by_name("debian-3.11")
    spin = it.start("nested.py", 60)
    state = tmp / "state"
    # top runs under the tmux server, not as our child: its --ready-fd is a
    # FIFO the pane's shell opens (we hold the read end, so that open does
    # not block)
    fifo = str(tmp / "ready")
    os.mkfifo(fifo)
    ready = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    script = ("stty -g > {s}.before; {b} top --ready-fd 3 -p {p} 3>{f}; echo $? > {s}.rc; "
              "stty -g > {s}.after; sleep 60").format(s=state, b=binary(), p=spin.pid, f=fifo)
    try:
        for attempt in range(3):  # a busy machine can lose the first server start
            if tmux("new-session", "-d", "-s", "top", "-x", "150", "-y", "40", "bash", "-c", script,
                    check=False).returncode == 0:
                break
            time.sleep(0.5)
        else:
            tmux("new-session", "-d", "-s", "top", "-x", "150", "-y", "40", "bash", "-c", script)
        said = b""
        deadline = time.monotonic() + 60
        while not said.endswith(b"\n") and time.monotonic() < deadline:
            if select.select([ready], [], [], 0.5)[0]:
                chunk = os.read(ready, 64)
                if not chunk:  # top closed it without a word: it failed
                    break
                said += chunk
        assert said == b"ready\n", (said, pane())
        # sampling runs: the first table is due after one refresh (1 s)
        t0 = time.monotonic()
        rows, text = [], ""
        while time.monotonic() - t0 < 3.0:
            time.sleep(0.2)
            text = pane()
            rows = table_rows(text)
            if rows and rows[0][2].startswith("level_three"):
                break
        took = time.monotonic() - t0
        assert rows and rows[0][2].startswith("level_three (%s)" % it.workload_path("nested.py")), text
        print("level_three on top %.1f s after ready" % took)
        assert "pyrograph top - 1 Python process" in text, text
        assert "nested.py 60 (%d)" % spin.pid in text, text
        # the callers have the same total, no own time
        callers = {r[2].split(" ")[0]: r for r in rows}
        for fn in ("level_two", "level_one", "<module>"):
            assert fn in callers and callers[fn][0] == 0.0 and callers[fn][1] >= 0.8 * rows[0][1], text
        tmux("send-keys", "-t", "top", "t")
        time.sleep(0.5)
        assert "sorted by total" in pane()
        tmux("send-keys", "-t", "top", "q")
        deadline = time.monotonic() + 5
        while not os.path.exists(str(state) + ".after") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert os.path.exists(str(state) + ".after"), pane()
        assert open(str(state) + ".rc").read().strip() == "0"
        # the terminal is as it was: same modes, main screen back
        assert open(str(state) + ".before").read() == open(str(state) + ".after").read()
        assert "pyrograph top" not in pane()
    finally:
        os.close(ready)
        tmux("kill-server", check=False)
        stop(spin)

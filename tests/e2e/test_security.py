# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""What a root profiler must not do: keep capabilities it does not need,
follow a planted symlink, or replace another user's file."""
import os
import subprocess

from conftest import by_name, parse_collapsed, pid_stacks, record, start_ready, stop

CAP = {"CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_KILL": 5, "CAP_SETUID": 7,
       "CAP_SETPCAP": 8, "CAP_NET_ADMIN": 12, "CAP_SYS_MODULE": 16, "CAP_SYS_PTRACE": 19,
       "CAP_SYS_ADMIN": 21, "CAP_SYS_RESOURCE": 24, "CAP_PERFMON": 38, "CAP_BPF": 39,
       "CAP_CHECKPOINT_RESTORE": 40}
KEPT = {"CAP_BPF", "CAP_PERFMON", "CAP_SYS_PTRACE", "CAP_CHECKPOINT_RESTORE",
        "CAP_DAC_READ_SEARCH", "CAP_DAC_OVERRIDE"}


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def test_capabilities_dropped_after_setup(tmp):
    it = by_name("debian-3.11")
    before = it.start("nested.py", 30)
    out = tmp / "caps.txt"
    after = None
    # capabilities are dropped before sampling starts: by "ready" they are gone
    rec = start_ready(["record", "-q", "-a", "-d", "4", "-o", out])
    try:
        st = status(rec.pid)
        # a Python process that starts after the drop is still found and read
        after = it.start("nested.py", 30)
        err = rec.communicate(timeout=30)[1]
    finally:
        stop(before)
        if after:
            stop(after)
        if rec.poll() is None:
            rec.kill()
    assert rec.returncode == 0, err
    for kind in ("CapEff", "CapPrm", "CapBnd"):
        bits = int(st[kind], 16)
        have = {n for n, b in CAP.items() if bits & (1 << b)}
        assert have == KEPT, (kind, sorted(have))
        assert bits & ~sum(1 << CAP[n] for n in KEPT) == 0, (kind, hex(bits))
    assert int(st["CapInh"], 16) == 0 and int(st["CapAmb"], 16) == 0, st
    assert st["NoNewPrivs"] == "1", st
    stacks = parse_collapsed(out.read_text())
    for p in (before, after):
        mine = pid_stacks(stacks, p.pid)
        assert any(s.endswith(")") and "level_three (" in s for s in mine), (p.pid, list(stacks)[:3])


def test_planted_symlink_not_followed(tmp):
    victim = tmp / "victim"
    victim.write_text("precious\n")
    link = tmp / "out.txt"
    os.symlink(str(victim), str(link))
    it = by_name("debian-3.11")
    p = it.start("nested.py", 30)
    try:
        r = record(["-p", p.pid, "-d", 1, "-o", link])
    finally:
        stop(p)
    assert r.returncode == 0, r.stderr
    # our own (root's) symlink is replaced by the file, never written through
    assert victim.read_text() == "precious\n"
    assert not os.path.islink(str(link)) and "level_three" in link.read_text()


def test_other_users_file_not_replaced(tmp):
    os.chmod(str(tmp), 0o1777)
    for kind in ("file", "symlink"):
        victim = tmp / ("victim-" + kind)
        victim.write_text("precious\n")
        planted = tmp / ("planted-" + kind + ".svg")
        if kind == "file":
            planted.write_text("theirs\n")
        else:
            os.symlink(str(victim), str(planted))
        os.lchown(str(planted), 65534, 65534)
        r = record(["-a", "-d", 1, "-o", planted])
        assert r.returncode != 0, r.stderr
        assert "refusing to replace" in r.stderr and "uid 65534" in r.stderr, r.stderr
        assert victim.read_text() == "precious\n"
        if kind == "file":
            assert planted.read_text() == "theirs\n"
        else:
            assert os.path.islink(str(planted))
    assert not [f for f in os.listdir(str(tmp)) if f.startswith(".pyrograph-")]


def test_device_output_written_in_place(tmp):
    """-o /dev/null (or a FIFO) is written to, never replaced by a file."""
    r = record(["-a", "-d", 1, "-f", "collapsed", "-o", "/dev/null"])
    assert r.returncode == 0, r.stderr
    st = os.stat("/dev/null")
    import stat
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3
    fifo = tmp / "fifo"
    os.mkfifo(str(fifo))
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    it = by_name("debian-3.11")
    p = it.start("nested.py", 30)
    try:
        r = record(["-p", p.pid, "-d", 1, "-f", "collapsed", "-o", fifo])
    finally:
        stop(p)
    out = reader.communicate(timeout=30)[0]
    assert r.returncode == 0, r.stderr
    assert stat.S_ISFIFO(os.lstat(str(fifo)).st_mode) and "level_three" in out, out[:200]

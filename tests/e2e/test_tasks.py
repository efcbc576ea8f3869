# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""pyrograph dump --tasks: the asyncio task trees of live processes, read
from their memory, on CPython 3.11-3.15; on 3.14 checked against CPython's
own `python3.14 -m asyncio pstree`."""
import json
import os
import re
import subprocess

import pytest

from conftest import WORKLOADS, binary, by_name, line_of, parse_collapsed, record_running, stop

SCRIPT = os.path.join(WORKLOADS, "async_tree.py")
TASKS = ["Task-1", "fan-out", "leaf-0", "leaf-1", "leaf-2", "sleeper", "waiter", "consumer",
         "grouper", "tg-0", "tg-1"]
PARENT = {"leaf-0": "fan-out", "leaf-1": "fan-out", "leaf-2": "fan-out", "sleeper": "waiter",
          "tg-0": "grouper", "tg-1": "grouper"}


def dump_tasks(*args):
    r = subprocess.run([binary(), "dump", "--tasks"] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def own_frames(task):
    """(function, line) of the task's frames in the workload's own file."""
    return [(f["function"], f["line"]) for f in task["stack"]
            if (f["file"] or "").endswith("async_tree.py")]


def check_tree(proc):
    """The tree of async_tree.py, from its source's markers."""
    assert proc["error"] is None, proc["error"]
    tasks = {t["name"]: t for t in proc["tasks"]}
    assert sorted(tasks) == sorted(TASKS), sorted(tasks)
    by_id = {t["id"]: t["name"] for t in proc["tasks"]}
    for name, t in tasks.items():
        assert t["state"] == "waiting", (name, t["state"])
        assert [by_id.get(a) for a in t["awaited_by"]] == \
            ([PARENT[name]] if name in PARENT else []), (name, t["awaited_by"])
        assert not t["truncated"] and not t["unreadable"], name
    line = lambda marker: line_of(SCRIPT, marker)
    for i in range(3):
        leaf = tasks["leaf-%d" % i]
        assert own_frames(leaf) == [("leaf_worker", line("# leaf awaits"))], leaf["stack"]
        assert leaf["stack"][-1]["function"] == "sleep", leaf["stack"]
        assert leaf["awaits"]["kind"] == "future", leaf["awaits"]
    fan = tasks["fan-out"]
    assert own_frames(fan) == [("fan_out_parent", line("# fan-out awaits"))], fan["stack"]
    assert len(fan["stack"]) == 1, fan["stack"]
    assert fan["awaits"]["kind"] == "gather" and fan["awaits"]["tasks"] == 3, fan["awaits"]
    waiter = tasks["waiter"]
    assert own_frames(waiter) == [("waiter", line("# waiter awaits"))], waiter["stack"]
    assert waiter["awaits"]["kind"] == "task", waiter["awaits"]
    assert waiter["awaits"]["id"] == tasks["sleeper"]["id"], waiter["awaits"]
    assert own_frames(tasks["sleeper"]) == [("sleeper", line("# sleeper awaits"))]
    cons = tasks["consumer"]
    assert own_frames(cons) == [("consumer", line("# consumer awaits"))], cons["stack"]
    assert cons["stack"][-1]["function"] == "Queue.get", cons["stack"]
    assert cons["awaits"]["kind"] == "future", cons["awaits"]
    grp = tasks["grouper"]
    assert own_frames(grp) == [("grouper", line("# grouper awaits"))], grp["stack"]
    # __aexit__, and _aexit under it in later releases
    assert [f["function"].split(".")[0] for f in grp["stack"][1:]] in \
        (["TaskGroup"], ["TaskGroup", "TaskGroup"]), grp["stack"]
    for i in range(2):
        child = tasks["tg-%d" % i]
        assert own_frames(child) == [("group_child", line("# group child awaits"))], child
    return tasks


def text_tree(text):
    """{task: (depth, parent task or None)} from the text form, by
    indentation: a task's parent is the nearest task line above it that is
    less indented."""
    out, stack = {}, []
    for ln in text.splitlines():
        m = re.match(r"^((?:[\u2502 ]   )*)[\u251c\u2514]\u2500\u2500 (task (\S+) |)", ln)
        if not m:
            continue
        depth = len(m.group(1)) // 4
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if m.group(3):
            out[m.group(3)] = (depth, stack[-1][1] if stack else None)
            stack.append((depth, m.group(3)))
    return out


@pytest.mark.parametrize("name,loop", [("debian-3.11", "asyncio"), ("pyenv-3.11", "asyncio"),
                                       ("pyenv-3.12", "asyncio"), ("pyenv-3.13", "asyncio"),
                                       ("debian-trixie-3.13", "asyncio"),
                                       ("debian-sid-3.14", "asyncio"),
                                       ("debian-experimental-3.15", "asyncio"),
                                       ("debian-3.11", "uvloop")])
def test_dump_tasks_tree(name, loop):
    """A gather of three children, a task awaiting another task, a consumer
    blocked on a Queue and a TaskGroup: every task, what each awaits and who
    awaits it, in JSON and as the text tree; -a finds the process too. On
    asyncio's loop, and on uvloop's (Debian's python3-uvloop)."""
    it = by_name(name)
    p = it.start("async_tree.py", 120, "wait", loop)
    try:
        d = json.loads(dump_tasks("-p", p.pid, "--json"))
        assert [q["pid"] for q in d["processes"]] == [p.pid], d
        check_tree(d["processes"][0])
        tree = text_tree(dump_tasks("-p", p.pid))
        assert sorted(tree) == sorted(TASKS), tree
        for task, (depth, parent) in tree.items():
            assert parent == PARENT.get(task), (task, tree)
        # the children hang under their parent's frame: one level deeper
        # than the parent's task line, plus its coroutine frames
        assert tree["leaf-0"][0] == tree["fan-out"][0] + 2, tree
        assert tree["sleeper"][0] == tree["waiter"][0] + 2, tree
        grouper = [t for t in d["processes"][0]["tasks"] if t["name"] == "grouper"][0]
        assert tree["tg-0"][0] == tree["grouper"][0] + 1 + len(grouper["stack"]), tree
        every = json.loads(dump_tasks("-a", "--json"))
        mine = [q for q in every["processes"] if q["pid"] == p.pid]
        assert mine, [q["pid"] for q in every["processes"]]
        check_tree(mine[0])
        assert "Process %d:" % p.pid in dump_tasks("-a")
    finally:
        stop(p)


def pstree(root, pid):
    """CPython 3.14's own view, run in the target's mount namespace."""
    r = subprocess.run(["nsenter", "-t", str(pid), "-m", "-r", "/usr/bin/python3.14", "-m",
                        "asyncio", "pstree", str(pid)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    tasks, stack = {}, []
    for ln in r.stdout.splitlines():
        m = re.match(r"^((?:[\u2502 ]   )*)[\u251c\u2514]\u2500\u2500 (?:\(T\) (.+)|\s*(\S+) (\S+):(\d+))$",
                     ln)
        assert m, "unexpected pstree line %r" % ln
        depth = len(m.group(1)) // 4
        while stack and stack[-1][0] >= depth:
            stack.pop()
        owner = next((s[1] for s in reversed(stack) if s[2]), None)
        if m.group(2):
            tasks[m.group(2)] = {"parent": owner, "frames": []}
            stack.append((depth, m.group(2), True))
        else:
            assert owner, ln
            tasks[owner]["frames"].append((m.group(3), m.group(4), int(m.group(5))))
            stack.append((depth, owner, False))
    return tasks


def test_dump_tasks_matches_pstree():
    """The same tree as `python3.14 -m asyncio pstree` on the same process:
    the same tasks, each under the same parent, with the same frames
    (function, file, line), outermost first."""
    it = by_name("debian-sid-3.14")
    script = it.workload_path("async_tree.py")
    # pstree reads /proc: the target runs in a mount namespace of its own
    # where the chroot has one
    p = subprocess.Popen(["unshare", "-m", "sh", "-c",
                          'mount -t proc proc "$0/proc" && exec chroot "$0" python3.14 "$1" 120',
                          it.root, script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
        theirs = pstree(it.root, p.pid)
        d = json.loads(dump_tasks("-p", p.pid, "--json"))
        tasks = check_tree(d["processes"][0])
        by_id = {t["id"]: t["name"] for t in tasks.values()}
        ours = {name: {"parent": by_id[t["awaited_by"][0]] if t["awaited_by"] else None,
                       "frames": [(f["function"], f["file"], f["line"]) for f in t["stack"]]}
                for name, t in tasks.items()}
        assert ours == theirs
    finally:
        stop(p)


@pytest.mark.parametrize("name", ["pyenv-3.10", "debian-3.11"])
def test_dump_tasks_nothing_to_read(name):
    """A Python without readable tasks (3.10), or without asyncio imported:
    said plainly, per process, and not an error of the command."""
    it = by_name(name)
    code = "import sys, time; print('ready', flush=True); time.sleep(120)"
    p = subprocess.Popen([it.python, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        d = json.loads(dump_tasks("-p", p.pid, "--json"))
        proc = d["processes"][0]
        assert proc["tasks"] == [], proc
        want = "3.11-3.15" if name == "pyenv-3.10" else "asyncio is not imported"
        assert want in proc["error"], proc["error"]
        assert want in dump_tasks("-p", p.pid)
        # -a: in JSON with its reason, left out of the text
        every = json.loads(dump_tasks("-a", "--json"))
        assert [q["error"] for q in every["processes"] if q["pid"] == p.pid] == [proc["error"]]
        assert "Process %d:" % p.pid not in dump_tasks("-a")
    finally:
        stop(p)


@pytest.mark.parametrize("name,loop", [("debian-3.11", "asyncio"), ("pyenv-3.12", "asyncio"),
                                       ("debian-trixie-3.13", "asyncio"),
                                       ("debian-sid-3.14", "asyncio"),
                                       ("debian-experimental-3.15", "asyncio"),
                                       ("debian-3.11", "uvloop")])
def test_record_tasks(name, loop, tmp):
    """record --tasks: the samples of the gathered children sit under their
    parent task (task fan-out; fan_out_parent at its await; task leaf-N),
    those of the awaited task under the task awaiting it, and each sample is
    charged to the task that ran: leaf-N computes N+1 nest() calls deep."""
    it = by_name(name)
    out = str(tmp / "tasks.txt")
    _, r = record_running(it, "async_tree.py", [120, "cpu", loop],
                          ["--tasks", "-d", 3, "-f", "collapsed"], out)
    stacks = parse_collapsed(open(out).read())
    fan = "fan_out_parent (%s:%d)" % (it.workload_path("async_tree.py") if it.root else SCRIPT,
                                      line_of(SCRIPT, "# fan-out awaits"))
    wait = "waiter (%s:%d)" % (it.workload_path("async_tree.py") if it.root else SCRIPT,
                               line_of(SCRIPT, "# waiter awaits"))
    per_task, plain = {}, 0
    for stack, count in stacks.items():
        frames = stack.split(";")
        names = [f.split(" (")[0] for f in frames]
        if "leaf_worker" not in names and "sleeper" not in names:
            assert not any(f.startswith("task ") for f in frames), stack
            continue
        tasks = [i for i, f in enumerate(frames) if f.startswith("task ")]
        if not tasks:
            plain += count
            continue
        assert len(tasks) == 2, stack
        parent, child = frames[tasks[0]], frames[tasks[1]]
        per_task[child] = per_task.get(child, 0) + count
        if child == "task sleeper":
            assert parent == "task waiter" and frames[tasks[0] + 1] == wait, stack
            assert names[tasks[1] + 1] == "sleeper", stack
            continue
        m = re.match(r"task leaf-(\d)$", child)
        assert m and parent == "task fan-out" and frames[tasks[0] + 1] == fan, stack
        assert tasks[1] == tasks[0] + 2 and names[tasks[1] + 1] == "leaf_worker", stack
        if names[-1] == "spin":
            assert names[tasks[1] + 2:-1] == ["nest"] * (int(m.group(1)) + 1), stack
    print(name, per_task, "plain", plain)
    for task in ("task leaf-0", "task leaf-1", "task leaf-2", "task sleeper"):
        assert per_task.get(task, 0) >= 5, per_task
    # a task created since the last reading is found at the next (the
    # first sample in an unknown coroutine reads them again)
    assert plain <= 0.05 * sum(per_task.values()), (plain, per_task)


def test_record_tasks_old_python(tmp):
    """3.10 has no task layout here: --tasks records plain stacks."""
    it = by_name("pyenv-3.10")
    out = str(tmp / "tasks.txt")
    _, r = record_running(it, "async_tree.py", [120, "cpu"],
                          ["--tasks", "-d", 2, "-f", "collapsed"], out)
    stacks = parse_collapsed(open(out).read())
    assert any("leaf_worker" in s for s in stacks), list(stacks)[:3]
    assert not any(f.startswith("task ") for s in stacks for f in s.split(";")), list(stacks)[:3]


def task_chains(stacks, pid=None):
    """{chain: microseconds} of the waiting tasks' stacks of record --tasks
    --idle: chain is a tuple of ("task", NAME) and (function, line), outermost
    first, without the process frame and the [await ...] leaf."""
    out = {}
    for stack, us in stacks.items():
        frames = stack.split(";")
        if not (frames[-1].startswith("[await ") or frames[-1] == "[ready]") or \
                not any(f.startswith("task ") for f in frames):
            continue
        chain = []
        for f in frames[1:-1]:
            if f.startswith("task "):
                chain.append(("task", f[5:]))
            else:
                m = re.match(r"^(\S+) \(.*:(\d+)\)$", f)
                assert m, (f, stack)
                chain.append((m.group(1), int(m.group(2))))
        out[tuple(chain)] = out.get(tuple(chain), 0) + us
    return out


def expected_chains(it):
    """The leaf tasks of async_tree.py and their chains, from its source
    (the stdlib frames at their innermost are only named)."""
    line = lambda marker: line_of(SCRIPT, marker)
    fan = [("task", "fan-out"), ("fan_out_parent", line("# fan-out awaits"))]
    want = {
        "Task-1": [("task", "Task-1"), ("main", line("await asyncio.sleep(seconds)")), "sleep"],
        "consumer": [("task", "consumer"), ("consumer", line("# consumer awaits")), "Queue.get"],
        "leaf-0": fan + [("task", "leaf-0"), ("leaf_worker", line("# leaf awaits")), "sleep"],
        "leaf-1": fan + [("task", "leaf-1"), ("leaf_worker", line("# leaf awaits")), "sleep"],
        "leaf-2": fan + [("task", "leaf-2"), ("leaf_worker", line("# leaf awaits")), "sleep"],
        "sleeper": [("task", "waiter"), ("waiter", line("# waiter awaits")), ("task", "sleeper"),
                    ("sleeper", line("# sleeper awaits")), "sleep"],
    }
    for i in range(2):
        want["tg-%d" % i] = [("task", "grouper"), ("grouper", line("# grouper awaits")),
                             ("task", "tg-%d" % i),
                             ("group_child", line("# group child awaits")), "sleep"]
    return want


def same_chain(chain, want):
    # TaskGroup's own frames (one or two, by release) are left out
    chain = [c for c in chain if not c[0].startswith("TaskGroup.")]
    return len(chain) == len(want) and all(
        c == w or (isinstance(w, str) and c[0] == w) for c, w in zip(chain, want))


@pytest.mark.parametrize("name", ["debian-3.11", "pyenv-3.12", "debian-trixie-3.13",
                                  "debian-sid-3.14"])
def test_record_tasks_idle(name, tmp):
    """record --tasks --idle: every waiting leaf task is charged the wall
    time it waits, as the chain of tasks awaiting it and its await site."""
    it = by_name(name)
    out = str(tmp / "idle.txt")
    seconds = 3
    record_running(it, "async_tree.py", [120], ["--tasks", "--idle", "-d", seconds,
                                               "-f", "collapsed"], out)
    chains = task_chains(parse_collapsed(open(out).read()))
    want = expected_chains(it)
    print(name, {[x[1] for x in c if x[0] == "task"][-1]: us for c, us in chains.items()})
    for task, w in want.items():
        got = [us for c, us in chains.items() if same_chain(c, w)]
        assert got, (task, w, list(chains))
        # charged from the first reading on (at the start) to the end
        assert 0.9 * seconds * 1e6 <= sum(got) <= 1.02 * seconds * 1e6, (task, got)
    assert len(chains) == len(want), list(chains)


def cpython_chains(text):
    """CPython 3.15's collapsed --async-mode all stacks as task_chains()."""
    out = set()
    for ln in text.splitlines():
        stack = ln.rpartition(" ")[0]
        chain = []
        for f in stack.split(";"):
            if f.startswith("tid:"):
                continue
            if f.startswith("<task>:"):
                chain.append(("task", f[len("<task>:"):].rpartition(":")[0]))
            else:
                _, func, line = f.split(":")
                chain.append((func, int(line)))
        if any(c[0] == "task" for c in chain):
            out.add(tuple(chain))
    return out


def test_record_tasks_idle_matches_cpython_315(tmp):
    """On 3.15, the same task chains (tasks, functions and lines) as
    CPython's own `profiling.sampling attach --async-aware --async-mode
    all --collapsed` on the same process at the same time."""
    it = by_name("debian-experimental-3.15")
    script = it.workload_path("async_tree.py")
    p = subprocess.Popen(["unshare", "-m", "sh", "-c",
                          'mount -t proc proc "$0/proc" && exec chroot "$0" python3.15 "$1" 120',
                          it.root, script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
        theirs_out = "/tmp/pyrograph-tests/cpython-all-%d.txt" % p.pid
        cp = subprocess.Popen(["nsenter", "-t", str(p.pid), "-m", "-r", "/usr/bin/python3.15",
                               "-m", "profiling.sampling", "attach", "--async-aware",
                               "--async-mode", "all", "-d", "3", "--collapsed", "-o", theirs_out,
                               str(p.pid)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
        out = str(tmp / "idle.txt")
        r = subprocess.run([binary(), "record", "-q", "--tasks", "--idle", "-p", str(p.pid),
                            "-d", "3", "-f", "collapsed", "-o", out], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        log = cp.communicate(timeout=120)[0]
        assert cp.returncode == 0, log
        path = it.host_path(theirs_out)
        theirs = cpython_chains(open(path).read())
        os.unlink(path)
        ours = set(task_chains(parse_collapsed(open(out).read())))
        assert len(theirs) == 8, theirs
        assert ours == theirs, (sorted(ours - theirs), sorted(theirs - ours))
    finally:
        stop(p)


@pytest.mark.parametrize("name", ["debian-trixie-3.13", "debian-sid-3.14"])
def test_dump_tasks_container(name):
    """--container: the processes of a container (own pid and mount
    namespaces, chrooted, in a docker-style cgroup) and only them; on 3.14
    the task layout comes from the container's own _asyncio module."""
    from test_containers import Container
    it = by_name(name)
    c = Container(it, "async_tree.py", 120)
    other = it.start("async_tree.py", 120)
    try:
        d = json.loads(dump_tasks("--container", c.id[:12], "--json"))
        assert [q["pid"] for q in d["processes"]] == [c.pid], d["processes"]
        check_tree(d["processes"][0])
    finally:
        c.stop()
        stop(other)

# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Help, man page and bash completion say what the binary does."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, binary

COMMANDS = ["record", "top", "dump", "agent", "async", "mem", "diff", "check"]


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help(cmd):
    r = subprocess.run([binary(), cmd, "--help"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Usage: pyrograph %s" % cmd), r.stdout[:80]
    assert "Examples:" in r.stdout and "pyrograph %s" % cmd in r.stdout.split("Examples:")[1]


def test_top_level_help_lists_commands():
    r = subprocess.run([binary(), "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for cmd in COMMANDS:
        assert re.search(r"^\s+%s\s" % cmd, r.stdout, re.M), r.stdout


def test_man_page_and_options_agree():
    """Every long option the man page documents exists in some --help."""
    page = open(os.path.join(ROOT, "scripts", "pyrograph.1")).read()
    helps = "".join(subprocess.run([binary(), c, "--help"], capture_output=True, text=True).stdout
                    for c in COMMANDS)
    opts = set(re.findall(r"\\-\\-([a-z][a-z\\-]*)", page))
    opts = {o.replace("\\-", "-") for o in opts}
    assert len(opts) > 15, opts
    missing = [o for o in opts if "--" + o not in helps]
    assert not missing, missing
    if shutil.which("man"):
        r = subprocess.run(["man", "-l", os.path.join(ROOT, "scripts", "pyrograph.1")],
                           capture_output=True, text=True, env=dict(os.environ, MANPAGER="cat"))
        assert r.returncode == 0 and "system-wide Python profiler" in r.stdout, r.stderr


def test_bash_completion():
    script = os.path.join(ROOT, "scripts", "pyrograph.bash-completion")
    r = subprocess.run(["bash", "-c", 'source "%s"; COMP_WORDS=(pyrograph ""); COMP_CWORD=1; _pyrograph; '
                        'echo "${COMPREPLY[@]}"; COMP_WORDS=(pyrograph record -f ""); COMP_CWORD=3; '
                        '_pyrograph; echo "${COMPREPLY[@]}"' % script], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    first, formats = r.stdout.splitlines()
    assert set(COMMANDS) <= set(first.split()), first
    assert set(formats.split()) == {"flamegraph", "collapsed", "speedscope", "pprof"}, formats


LONG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
SHORT = re.compile(r"(?<![\w-])-[a-zA-Z](?![\w-])")


def takes(cmd, opt, cwd):
    """Whether the binary takes OPT in CMD: given a value and followed by a
    bogus option, only an option it does not know is refused by name."""
    word = opt + "=1" if opt.startswith("--") else opt + "1"
    r = subprocess.run([binary(), cmd, word, "--zz-bogus"], capture_output=True, text=True,
                       timeout=30, stdin=subprocess.DEVNULL, cwd=cwd)
    return not ("unknown option %s " % opt in r.stderr or "%s is not an option" % opt in r.stderr)


def completion(cmd):
    script = os.path.join(ROOT, "scripts", "pyrograph.bash-completion")
    r = subprocess.run(["bash", "-c", 'source "%s"; COMP_WORDS=(pyrograph %s -); COMP_CWORD=2; '
                        '_pyrograph; echo "${COMPREPLY[@]}"' % (script, cmd)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


@pytest.mark.parametrize("cmd", COMMANDS)
def test_completion_and_man_page_offer_what_the_command_takes(cmd, tmp_path):
    """The completion offers exactly the options the binary takes in CMD, and
    the man page documents each of them."""
    page = open(os.path.join(ROOT, "scripts", "pyrograph.1")).read().replace("\\-", "-")
    comp = open(os.path.join(ROOT, "scripts", "pyrograph.bash-completion")).read()
    helps = {c: subprocess.run([binary(), c, "--help"], capture_output=True, text=True).stdout
             for c in COMMANDS}
    known = set(LONG.findall(page + comp + "".join(helps.values())))
    known |= {"-" + c for c in "abcdefghijklmnopqrstuvwxyzPST"}
    taken = {o for o in known if takes(cmd, o, tmp_path)}
    # getopt takes an unambiguous abbreviation (--stall for --stalls-svg):
    # such a word is an option of CMD only if its help says so
    taken = {o for o in taken
             if not any(p != o and p.startswith(o) for p in taken)
             or o in LONG.findall(helps[cmd])}
    assert {"--help", "--verbose"} <= taken, taken
    offered = completion(cmd)
    assert offered == taken, ("offered, not taken", sorted(offered - taken),
                              "taken, not offered", sorted(taken - offered))
    undocumented = [o for o in taken if o.startswith("--") and o not in page]
    assert not undocumented, undocumented


# An option a command does not use is refused: exit 2, one line naming it
# (top used to take record's whole command line and ignore -o).
REFUSED = [
    ("top", ["-o", "x.svg"], "-o"),
    ("top", ["--threads"], "--threads"),
    ("dump", ["-d", "3"], "-d"),
    ("diff", ["-p", "1", "a.txt", "b.txt"], "-p"),
    ("mem", ["--idle"], "--idle"),
    ("async", ["--native"], "--native"),
    ("check", ["-g", "process"], "-g"),
    ("agent", ["--group-by", "none", "--server", "http://127.0.0.1:9"], "--group-by"),
    ("record", ["--max-stall", "1s"], "--max-stall"),
    ("record", ["--bogus"], "--bogus"),
]


@pytest.mark.parametrize("cmd,args,name", REFUSED, ids=["%s %s" % (c, n) for c, _, n in REFUSED])
def test_unused_option_refused(cmd, args, name):
    r = subprocess.run([binary(), cmd] + args, capture_output=True, text=True, timeout=30)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(lines) == 1 and name in lines[0] and cmd in lines[0], r.stderr
    assert r.stdout == "", r.stdout

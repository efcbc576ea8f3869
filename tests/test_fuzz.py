# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""The fuzzers (tests/fuzz), as meson lists them: every one has seeds that
reach into its target (libFuzzer's initial coverage on them above the
empty input's), the seeds are what tests/fuzz/make_corpus.py writes, the
seeds and past crash inputs replay clean, and a short run of each finds
nothing. The long runs are scripts/fuzz.sh runs N; their numbers are in
the README."""
import glob
import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("PYROGRAPH_FUZZ_BUILD") or os.path.join(ROOT, "build-fuzz")
SEEDS = os.path.join(ROOT, "tests", "fuzz", "corpus")


def need_build():
    if not os.path.exists(os.path.join(BUILD, "build.ninja")):
        msg = "fuzz build missing at %s (scripts/fuzz.sh build)" % BUILD
        pytest.fail(msg) if os.environ.get("CI") == "true" else pytest.skip(msg)


def fuzzers():
    """The fuzzers of meson's suite 'fuzz' in BUILD."""
    need_build()
    r = subprocess.run(["meson", "introspect", "--tests", BUILD], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return sorted(t["name"] for t in json.loads(r.stdout)
                  if "fuzz" in (s.split(":")[-1] for s in t.get("suite", [])))


def fuzz(*args):
    need_build()
    env = dict(os.environ, FUZZ_BUILD_DIR=BUILD)
    return subprocess.run([os.path.join(ROOT, "scripts", "fuzz.sh")] + list(args),
                          capture_output=True, text=True, env=env, timeout=1800)


def test_every_fuzzer_registered_with_seeds():
    """Each tests/fuzz/*.c with a fuzz entry point is a meson fuzzer, and
    each has seeds; the seeds are the generator's."""
    names = fuzzers()
    sources = set()
    for path in glob.glob(os.path.join(ROOT, "tests", "fuzz", "fuzz_*.c")):
        if "LLVMFuzzerTestOneInput" in open(path).read():
            sources.add(os.path.basename(path)[:-2])
    assert sources and sources == set(names), (sorted(sources), names)
    for n in names:
        assert os.listdir(os.path.join(SEEDS, n)), "%s has no seeds" % n
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "fuzz", "make_corpus.py"),
                        "--check"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_seeds_reach_their_targets():
    """libFuzzer's coverage once the seeds are loaded is above what the
    empty input reaches, for every fuzzer (the seeds are not stopped at
    the parser's first check)."""
    r = fuzz("cov")
    assert r.returncode == 0, r.stdout + r.stderr
    print(r.stdout)
    rows = {m.group(1): (int(m.group(2)), int(m.group(3))) for m in
            re.finditer(r"^\| (fuzz_\w+) \| \d+ \| (\d+) \| (\d+) \|$", r.stdout, re.M)}
    assert set(rows) == set(fuzzers()), (sorted(rows), r.stdout)
    for n, (seeds, empty) in rows.items():
        assert seeds > empty, (n, seeds, empty)


def test_fuzz_regressions():
    r = fuzz("regress")
    assert r.returncode == 0, r.stdout + r.stderr


def test_fuzz_short_run():
    r = fuzz("run", os.environ.get("PYROGRAPH_FUZZ_SECONDS", "10"))
    print(r.stdout)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    names = fuzzers()
    assert r.stdout.count("executions") == len(names), r.stdout
    for n in names:
        assert re.search(r"fuzz.sh: %s for \d+ s\n +[1-9]\d* executions, cov: [1-9]" % n,
                         r.stdout), (n, r.stdout)

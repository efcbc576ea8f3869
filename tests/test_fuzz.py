# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""A short libFuzzer run of every fuzzer (tests/fuzz) and the replay of past
crash inputs (tests/fuzz/regressions). The long runs are scripts/fuzz.sh
runs N; their numbers are in the README."""
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("PYROGRAPH_FUZZ_BUILD") or os.path.join(ROOT, "build-fuzz")


def fuzz(*args):
    if not os.path.exists(os.path.join(BUILD, "build.ninja")):
        msg = "fuzz build missing at %s (scripts/fuzz.sh build)" % BUILD
        pytest.fail(msg) if os.environ.get("CI") == "true" else pytest.skip(msg)
    env = dict(os.environ, FUZZ_BUILD_DIR=BUILD)
    return subprocess.run([os.path.join(ROOT, "scripts", "fuzz.sh")] + list(args),
                          capture_output=True, text=True, env=env, timeout=900)


def test_fuzz_regressions():
    r = fuzz("regress")
    assert r.returncode == 0, r.stdout + r.stderr


def test_fuzz_short_run():
    r = fuzz("run", os.environ.get("PYROGRAPH_FUZZ_SECONDS", "10"))
    print(r.stdout)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    # one line per fuzzer that fuzz.sh knows
    with open(os.path.join(ROOT, "scripts", "fuzz.sh")) as f:
        names = re.search(r"^fuzzers=\(([^)]*)\)", f.read(), re.M).group(1).split()
    assert len(names) >= 7, names
    assert r.stdout.count("executions") == len(names), r.stdout
    for n in names:
        assert "fuzz.sh: %s for" % n in r.stdout, (n, r.stdout)

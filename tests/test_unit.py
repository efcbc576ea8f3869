# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Runs the C unit tests as meson registers them (tests/meson.build: one
list, read here with `meson introspect --tests`), so one pytest run reports
everything. Each prints 'N passed, N failed, N skipped' and exits non-zero
on failure; the test asserts all three: a skipped check (a missing binary,
gdb) fails the run in CI (CI=true) and is a warning elsewhere."""
import glob
import json
import os
import re
import subprocess
import warnings

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("PYROGRAPH_BUILD", os.path.join(ROOT, "build"))
IN_CI = os.environ.get("CI") == "true"


def meson_tests():
    """[meson test dict] of BUILD, or an error text."""
    try:
        r = subprocess.run(["meson", "introspect", "--tests", BUILD], capture_output=True,
                           text=True, timeout=120)
    except OSError as e:
        return "cannot run meson: %s" % e
    if r.returncode:
        return "meson introspect --tests %s failed (build first: scripts/build.sh): %s" % (
            BUILD, r.stderr.strip() or r.stdout.strip())
    # suites read "project:suite"; the fuzzers' replays are test_fuzz.py's
    return [t for t in json.loads(r.stdout)
            if "fuzz" not in (s.split(":")[-1] for s in t.get("suite", []))]


TESTS = meson_tests()


def test_every_unit_source_is_registered():
    """Each tests/unit/test_*.c is a meson test: none is left out."""
    assert isinstance(TESTS, list), TESTS
    sources = {os.path.basename(p)[:-2] for p in glob.glob(os.path.join(ROOT, "tests", "unit",
                                                                       "test_*.c"))}
    assert sources and sources == {t["name"] for t in TESTS}, (sorted(sources),
                                                               sorted(t["name"] for t in TESTS))


@pytest.mark.parametrize("t", TESTS if isinstance(TESTS, list) else [TESTS],
                         ids=[t["name"] for t in TESTS] if isinstance(TESTS, list) else ["meson"])
def test_unit(t):
    assert isinstance(t, dict), t
    exe = t["cmd"][0]
    assert os.access(exe, os.X_OK), "%s not built (run scripts/build.sh)" % exe
    env = dict(os.environ, **(t.get("env") or {}))
    r = subprocess.run(t["cmd"], capture_output=True, text=True, env=env,
                       timeout=max(600, t.get("timeout") or 0), cwd=t.get("workdir") or ROOT)
    out = r.stdout + r.stderr
    m = re.search(r"^(\d+) passed, (\d+) failed, (\d+) skipped$", out, re.M)
    assert m, "no summary line from %s:\n%s" % (t["name"], out[-2000:])
    passed, failed, skipped = (int(x) for x in m.groups())
    assert r.returncode == 0 and failed == 0, out[-4000:]
    assert passed > 0, "%s ran no checks" % t["name"]
    skips = "\n".join(re.findall(r"^SKIP .*$", out, re.M))
    assert skipped == 0 or skips, out[-2000:]
    if skipped:
        msg = "%s: %d checks skipped:\n%s" % (t["name"], skipped, skips)
        assert not IN_CI, "CI=true: a skipped check is a failure: " + msg
        warnings.warn(msg)

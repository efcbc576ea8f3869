# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Runs the C unit tests (tests/unit/*.c, built by meson) so one pytest run
reports everything. Each prints 'N passed, N failed' and exits non-zero on
failure; the test asserts both."""
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("PYROGRAPH_BUILD", os.path.join(ROOT, "build"))
DATA = os.path.join(ROOT, "tests", "unit", "data")

UNITS = {
    "test_linetable": [DATA],
    "test_pystr": [DATA],
    "test_flamegraph": [],
    "test_debug_offsets": [],
    "test_asyncrep": [DATA],
    "test_memrep": [],
    "test_memrep_golden": [DATA],
    "test_diffrep": [],
    "test_metrics": [],
    "test_http": [],
    "test_outputs": [DATA],
    "test_targetfile": [],
    "test_containers": [DATA],
    "test_unwind": [],
}


@pytest.mark.parametrize("name", sorted(UNITS))
def test_unit(name):
    exe = os.path.join(BUILD, "tests", name)
    assert os.access(exe, os.X_OK), "%s not built (run scripts/build.sh)" % exe
    r = subprocess.run([exe] + UNITS[name], capture_output=True, text=True,
                       timeout=600, cwd=ROOT)
    out = r.stdout + r.stderr
    m = re.search(r"(\d+) passed, (\d+) failed", out)
    assert m, "no summary line from %s:\n%s" % (name, out[-2000:])
    assert r.returncode == 0 and int(m.group(2)) == 0, out[-4000:]
    assert int(m.group(1)) > 0, "%s ran no checks" % name

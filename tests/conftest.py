# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""For every test under tests/: in CI (CI=true, which .ci/run exports) a
skip is a failure. A test that cannot run there means coverage vanished
(an interpreter, a tool or a build missing) while the run stayed green;
outside CI a skip stays a skip, listed by -ra with its reason."""
import os

import pytest

IN_CI = os.environ.get("CI") == "true"
SKIPPED = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if IN_CI and rep.skipped and not hasattr(rep, "wasxfail"):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = "CI=true: a skipped test is a failure: %s" % reason
        SKIPPED.append((item.nodeid, reason))


def pytest_collectreport(report):
    # skips at collection (a module skipped as a whole) have no test report
    if IN_CI and report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        SKIPPED.append((report.nodeid, reason))


def pytest_terminal_summary(terminalreporter):
    if SKIPPED:
        terminalreporter.write_sep("-", "skipped in CI (each one fails the run)")
        for nodeid, reason in SKIPPED:
            terminalreporter.write_line("  %s: %s" % (nodeid, reason))


def pytest_sessionfinish(session, exitstatus):
    if IN_CI and SKIPPED and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

# SPDX-License-Identifier: GPL-2.0-or-later
"""Fixtures of the mount tests (pytest).

`tree` (one per test file) mounts the file's Harness, H in the module, on
a fresh temporary mount point under its own prefix, and whatever happens
unmounts it, kills what the tests started and unlinks every native object
left under the prefix. Its end checks fail the file: the daemon must exit 0
by itself after the unmount, and its stderr must hold no ASan, UBSan or
LSan report.

`t` (one per test) is that Harness for one test: the test runs under its
own deadline (60 s, or @pytest.mark.deadline(SECONDS)), and afterwards
everything it made is removed through the tree; anything left over, or a
sanitizer report in what the daemon wrote meanwhile, fails it.

Nothing may hang: besides the per-test deadline, a watchdog process ends
the file after IPCFS_TEST_DEADLINE seconds (240), aborting the FUSE
connection if the test process is stuck in the tree. pytest-timeout is not
needed. Without a usable /dev/fuse every test is skipped and the run exits
77, which meson counts as skipped.
"""

import atexit
import os
import signal

import pytest

from harness import TEST_TIMEOUT, Harness
from mount import Abort, Fail


def fuse_unusable():
    """Why /dev/fuse cannot be used here, or None."""
    try:
        os.close(os.open("/dev/fuse", os.O_RDWR))
    except OSError as e:
        return "/dev/fuse is unusable: %s" % e
    return None


_outcomes = {"passed": 0, "failed": 0, "skipped": 0}


def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        _outcomes[report.outcome] += 1


def pytest_sessionfinish(session, exitstatus):
    """A run whose every test was skipped (no /dev/fuse, no valgrind)
    exits 77: meson counts it as skipped, not passed."""
    if exitstatus == 0 and _outcomes["skipped"] and \
            not _outcomes["passed"] and not _outcomes["failed"]:
        session.exitstatus = 77


def _abort_on(h):
    def handler(signo, frame):
        if signo == signal.SIGUSR1:
            h.aborting = "the file deadline was reached"
        else:
            h.aborting = "signal %s" % signal.Signals(signo).name
        raise Abort(h.aborting)
    return handler


@pytest.fixture(scope="module")
def tree(request):
    why = fuse_unusable()
    if why:
        pytest.skip(why)
    h = getattr(request.module, "H", None)
    if h is None:
        h = Harness(request.module.__name__.replace("test_", ""))
    old = {s: signal.getsignal(s) for s in
           (signal.SIGALRM, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1)}
    signal.signal(signal.SIGALRM, h.on_alarm)
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
        signal.signal(s, _abort_on(h))
    os.umask(0)
    atexit.register(h.cleanup)
    try:
        h.start()
        yield h
    finally:
        results = h.cleanup()
        for s, handler in old.items():
            signal.signal(s, handler)
    failed = ["%s: %s" % (name, detail) for name, detail in results
              if detail]
    if failed:
        pytest.fail("end of %s: %s" % (h.name, "; ".join(failed)))


@pytest.fixture
def t(tree, request):
    if tree.aborting:
        raise Abort(tree.aborting)
    if tree.daemon.poll() is not None:
        pytest.fail("not run: the daemon is gone (status %s)" %
                    tree.daemon.returncode)
    mark = request.node.get_closest_marker("deadline")
    limit = mark.args[0] if mark else TEST_TIMEOUT
    tree.begin_test(request.node.name)
    with tree.within(limit, "test %s" % request.node.name):
        yield tree
    errs = tree.end_test()
    if errs:
        pytest.fail("after the test: %s" % "; ".join(errs))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """A test whose soft checks (t.check) failed fails, once it is done."""
    outcome = yield
    h = item.funcargs.get("t")
    if h is not None and h.soft_failures and outcome.excinfo is None:
        raise Fail("%d soft checks failed: %s" % (
            len(h.soft_failures), "; ".join(h.soft_failures)))

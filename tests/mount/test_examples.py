# SPDX-License-Identifier: GPL-2.0-or-later
"""The examples (examples/NAME/check), each on a tree of its own.

Every examples/*/check is one test: a fresh mount under a prefix made for
that example (so no two examples, nor anything else on the machine, share
an object), then `check` with IPCFS_MNT, IPCCTL and TMPDIR_EX (a scratch
directory) in its environment, under a deadline. It passes if check exits
0 and leaves no object in the tree (sysv/ shows the machine's System V
objects, other programs' too: the examples' keys are 0x7e57XXXX, lib.sh's
sysv_key); otherwise it fails with check's output. The examples compare their own
output (examples/README.md).
"""

import glob
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from harness import Harness
from mount import ROOT

H = Harness("examples")
CHECKS = sorted(glob.glob(os.path.join(ROOT, "examples", "*", "check")))
CHECK_TIMEOUT = 90


def ours(kind, name):
    """Could an example have made KIND/NAME? Everything under the tree's
    prefix, and System V objects of the examples' keys (lib.sh)."""
    return not kind.startswith("sysv/") or name.startswith("0x7e57")


def run_check(t, check, m, scratch):
    """check on tree M: (status or None if it ran out of time, output)."""
    env = dict(os.environ, IPCFS_MNT=m.mnt, IPCCTL=os.path.abspath(m.ipcctl),
               TMPDIR_EX=scratch)
    p = t.spawn([check], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                cwd=os.path.dirname(check), env=env)
    try:
        out, _ = p.communicate(timeout=CHECK_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate(timeout=10)
        return None, out.decode(errors="replace")
    finally:
        if p in t.procs:
            t.procs.remove(p)
    return p.returncode, out.decode(errors="replace")


@pytest.mark.deadline(CHECK_TIMEOUT + 30)
@pytest.mark.parametrize(
    "check", CHECKS, ids=[os.path.basename(os.path.dirname(c))
                          for c in CHECKS])
def test_example(t, check):
    name = os.path.basename(os.path.dirname(check))
    t.true(os.access(check, os.X_OK), "%s is not executable" % check)
    scratch = tempfile.mkdtemp(prefix="ipcfs-ex-%s-" % name)
    try:
        prefix = "t%d_%s_" % (os.getpid(), name)
        with t.extra_tree("ex-" + name, prefix=prefix) as m:
            rc, out = run_check(t, check, m, scratch)
            t.note(out)
            if rc is None:
                t.fail("%s: still running after %d s:\n%s" % (
                    name, CHECK_TIMEOUT, out))
            if rc != 0:
                t.fail("%s: exit status %d:\n%s" % (name, rc, out))
            left = ["%s/%s" % o for o in m.survey()[1] if ours(*o)]
            t.eq(left, [], "%s: objects left in the tree" % name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

# SPDX-License-Identifier: GPL-2.0-or-later
"""ipcfs@.service starts and stops cleanly under systemd.

The unit of this build (its ExecStart pointed at this build's ipcfs) goes
into /run/systemd/system for the test, with a drop-in giving it a prefix;
`systemctl start ipcfs@MNT` must leave the tree mounted with that prefix,
`systemctl stop` must unmount it and leave the unit inactive, not failed.
Without systemd as PID 1 it is skipped, with the reason; the unit is then
at least checked by `systemd-analyze verify`, which works offline.
"""

import contextlib
import os
import shutil
import subprocess

import pytest

from conftest import fuse_unusable
from mount import quiet_run
from system import (BUILD, daemon_pid, mounted, pid1, queue_round_trip,
                    scratch, signals_abort, unmount)

RUN_UNITS = "/run/systemd/system"


def unit_text():
    with open(os.path.join(BUILD, "ipcfs@.service")) as f:
        text = f.read()
    lines = []
    for l in text.splitlines():
        if l.startswith("ExecStart="):
            l = "ExecStart=%s %s" % (os.path.join(BUILD, "ipcfs"),
                                     l.split(" ", 1)[1])
        lines.append(l)
    return "\n".join(lines) + "\n"


def verify(d):
    """systemd-analyze verify on an instance of the unit in directory D."""
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        return "no systemd-analyze to verify the unit"
    with open(os.path.join(d, "ipcfs@.service"), "w") as f:
        f.write(unit_text())
    inst = os.path.join(d, "ipcfs@mnt-ipc.service")
    os.symlink("ipcfs@.service", inst)
    try:
        st, out = quiet_run([analyze, "verify", "--man=no", inst], 60)
    finally:
        os.unlink(inst)
        os.unlink(os.path.join(d, "ipcfs@.service"))
    assert st == 0 and "ipcfs@" not in out, "systemd-analyze verify: " + out
    return "systemd-analyze verify: ok"


def show(unit, *props):
    out = subprocess.run(["systemctl", "show", unit] +
                         ["-p" + p for p in props], capture_output=True,
                         text=True, timeout=30).stdout
    return dict(l.split("=", 1) for l in out.splitlines() if "=" in l)


def test_start_stop():
    if os.geteuid() != 0:
        pytest.skip("not root: starting a system unit needs root")
    comm = pid1()
    if comm != "systemd":
        with scratch("sdv") as (d, _):
            how = verify(d)
        pytest.skip("PID 1 is %s, not systemd: ipcfs@.service was not "
                    "started (%s)" % (comm, how))
    why = fuse_unusable()
    if why:
        pytest.skip(why)
    with scratch("sd") as (mnt, prefix), signals_abort():
        esc = subprocess.run(["systemd-escape", "--path", mnt],
                             capture_output=True, text=True, check=True,
                             timeout=30).stdout.strip()
        unit = "ipcfs@%s.service" % esc
        template = os.path.join(RUN_UNITS, "ipcfs@.service")
        dropin = os.path.join(RUN_UNITS, unit + ".d")
        assert not os.path.lexists(template), "%s is there" % template
        try:
            with open(template, "w") as f:
                f.write(unit_text())
            os.mkdir(dropin)
            with open(os.path.join(dropin, "test.conf"), "w") as f:
                f.write("[Service]\nEnvironment=IPCFS_OPTIONS=-oprefix=%s\n"
                        % prefix)
            quiet_run(["systemctl", "daemon-reload"], 60)
            st, out = quiet_run(["systemctl", "start", unit], 60)
            assert st == 0, "systemctl start %s: %s" % (unit, out)
            assert mounted(mnt), "started, but %s is not mounted" % mnt
            pid = daemon_pid(mnt)
            assert show(unit, "MainPID")["MainPID"] == str(pid)
            assert queue_round_trip(mnt, prefix) == "/%sq" % prefix
            st, out = quiet_run(["systemctl", "stop", unit], 60)
            assert st == 0, "systemctl stop %s: %s" % (unit, out)
            assert not mounted(mnt), "stopped, but still mounted"
            p = show(unit, "ActiveState", "Result")
            assert p == {"ActiveState": "inactive", "Result": "success"}, p
        finally:
            quiet_run(["systemctl", "stop", unit], 60)
            quiet_run(["systemctl", "reset-failed", unit], 30)
            unmount(mnt)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(template)
            shutil.rmtree(dropin, ignore_errors=True)
            quiet_run(["systemctl", "daemon-reload"], 60)

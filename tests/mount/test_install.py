# SPDX-License-Identifier: GPL-2.0-or-later
"""meson install into the system, then the ways mount(8) mounts ipcfs.

What a user does after `meson install -C build`: `mount -t fuse.ipcfs
ipcfs MNT -o prefix=P`, and the README's fstab line then `mount MNT`. Each
must run the installed ipcfs (through /sbin/mount.fuse.ipcfs and
mount.fuse3) with the prefix, and a queue made through it must be the
native /Pq. Then everything meson installed (meson-logs/install-log.txt:
the files, and the directories it made) is removed, and none of it may
remain; /etc/fstab is restored byte for byte whatever happens.

Skipped unless root with a usable /dev/fuse, and when something it would
install is already there (it will not overwrite, nor then remove, an
installation that is not its own).
"""

import contextlib
import json
import os
import shutil
import subprocess

import pytest

from conftest import fuse_unusable
from mount import quiet_run
from system import (BUILD, daemon_pid, mounted, pid1, queue_round_trip,
                    scratch, signals_abort, unmount)

FSTAB = "/etc/fstab"


def installed_targets():
    out = subprocess.run(["meson", "introspect", BUILD, "--installed"],
                         capture_output=True, check=True, timeout=60)
    return sorted(json.loads(out.stdout).values())


def uninstall(paths):
    """Remove PATHS (files, then the directories, deepest first, which must
    be empty by then): what could not be removed."""
    left = []
    for p in paths:
        if os.path.islink(p) or not os.path.isdir(p):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)
    for p in sorted((p for p in paths if os.path.isdir(p)), key=len,
                    reverse=True):
        try:
            os.rmdir(p)
        except OSError as e:
            left.append("%s: %s" % (p, e.strerror))
    return left + [p for p in paths if os.path.lexists(p)]


@pytest.fixture(scope="module")
def installed():
    if os.geteuid() != 0:
        pytest.skip("not root: meson install into the system needs root")
    why = fuse_unusable()
    if why:
        pytest.skip(why)
    if not BUILD:
        pytest.skip("IPCFS_BUILD (the build directory) is not set")
    there = [p for p in installed_targets() if os.path.lexists(p)]
    if there:
        pytest.skip("already installed, not ours to overwrite: %s" %
                    ", ".join(there))
    log = os.path.join(BUILD, "meson-logs", "install-log.txt")
    with signals_abort():
        paths = []
        try:
            r = subprocess.run(["meson", "install", "-C", BUILD,
                                "--no-rebuild"], capture_output=True,
                               timeout=120)
            with contextlib.suppress(FileNotFoundError), open(log) as f:
                paths = [l.rstrip("\n") for l in f
                         if l.strip() and not l.startswith("#")]
            assert r.returncode == 0, r.stderr.decode(errors="replace")
            yield {os.path.basename(p): p for p in paths}
        finally:
            left = uninstall(paths)
            assert not left, "left installed: %s" % ", ".join(left)
            assert paths, "no install log at %s" % log
            gone = [p for p in installed_targets() if os.path.lexists(p)]
            assert not gone, "still there after the uninstall: %s" % gone


def check_mount(installed, mnt, prefix):
    assert mounted(mnt), "%s is not mounted" % mnt
    pid = daemon_pid(mnt)
    try:
        exe = os.readlink("/proc/%d/exe" % pid)
        assert exe == installed["ipcfs"], \
            "the daemon is %s, not the installed %s" % (exe, installed["ipcfs"])
        # Run through mount.fuse.ipcfs, which put our bindir first in PATH
        # (mount(8) clears PATH; mount.fuse3 keeps what it is given).
        with open("/proc/%d/environ" % pid, "rb") as f:
            env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if v)
        bindir = os.path.dirname(installed["ipcfs"]).encode()
        assert env.get(b"PATH", b"").split(b":")[0] == bindir, env.get(b"PATH")
        assert queue_round_trip(mnt, prefix) == "/%sq" % prefix
    finally:
        errs = unmount(mnt, pid)
        assert not errs, errs


def test_helper_installed(installed):
    """mount(8) looks in /sbin only: the helper is there, executable."""
    helper = installed["mount.fuse.ipcfs"]
    assert os.path.realpath(helper) == os.path.realpath(
        "/sbin/mount.fuse.ipcfs")
    assert os.access(helper, os.X_OK)


def test_mount_type(installed):
    with scratch("inst") as (mnt, prefix):
        st, out = quiet_run(["mount", "-t", "fuse.ipcfs", "ipcfs", mnt,
                             "-o", "prefix=" + prefix], 30)
        assert st == 0, "mount: %s" % out
        check_mount(installed, mnt, prefix)


def test_fstab(installed):
    with open(FSTAB, "rb") as f:
        saved = f.read()
    with scratch("fstab") as (mnt, prefix), signals_abort():
        line = "ipcfs %s fuse.ipcfs prefix=%s,allow_other 0 0\n" % (
            mnt, prefix)
        try:
            with open(FSTAB, "ab") as f:
                f.write((("" if saved.endswith(b"\n") or not saved
                          else "\n") + line).encode())
            st, out = quiet_run(["mount", mnt], 30)
            assert st == 0, "mount %s: %s" % (mnt, out)
            check_mount(installed, mnt, prefix)
        finally:
            unmount(mnt)
            with open(FSTAB, "wb") as f:
                f.write(saved)
            if pid1() == "systemd":
                quiet_run(["systemctl", "daemon-reload"], 60)
        with open(FSTAB, "rb") as f:
            assert f.read() == saved, "/etc/fstab was not restored"


def test_unit_verifies(installed):
    """The installed ipcfs@.service passes systemd-analyze verify (offline;
    its start and stop are test_systemd.py's)."""
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("no systemd-analyze")
    unit = installed["ipcfs@.service"]
    with scratch("unit") as (d, _):
        inst = os.path.join(d, "ipcfs@mnt-ipc.service")
        os.symlink(unit, inst)
        try:
            st, out = quiet_run([analyze, "verify", "--man=no", inst], 60)
        finally:
            os.unlink(inst)
        assert st == 0 and "ipcfs@" not in out, out

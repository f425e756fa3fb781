# SPDX-License-Identifier: GPL-2.0-or-later
"""tools/ipcfs-up MOUNTPOINT -o OPTIONS mounts with those options.

It builds in $IPCFS_BUILD (this build: nothing to do) and mounts; the
prefix given with -o must be the one the tree uses (a queue made through
it is /PREFIXq natively, and user.ipcfs.name says so). A bad option fails
it with ipcfs's message, --help explains the prefix.
"""

import os
import subprocess

import pytest

from conftest import fuse_unusable
from system import (BUILD, SOURCE, daemon_pid, mounted, queue_round_trip,
                    scratch, signals_abort, unmount)

UP = os.path.join(SOURCE, "tools", "ipcfs-up")


def up(*args):
    return subprocess.run([UP] + list(args), capture_output=True, text=True,
                          timeout=120, env=dict(os.environ,
                                                IPCFS_BUILD=BUILD))


@pytest.fixture(autouse=True)
def usable():
    why = fuse_unusable()
    if why:
        pytest.skip(why)


def test_help():
    r = up("--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: tools/ipcfs-up [MOUNTPOINT] [-o ")
    assert "prefix" in r.stdout


def test_options_reach_the_daemon():
    with scratch("up") as (mnt, prefix), signals_abort():
        r = up(mnt, "-o", "prefix=" + prefix)
        assert r.returncode == 0, r.stderr
        assert mounted(mnt)
        pid = daemon_pid(mnt)
        try:
            assert "ipcfs is mounted at %s." % mnt in r.stdout
            assert "mount with a prefix" not in r.stdout, r.stdout
            assert queue_round_trip(mnt, prefix) == "/%sq" % prefix
        finally:
            assert unmount(mnt, pid) == []


def test_no_prefix_suggests_one():
    with scratch("up") as (mnt, prefix), signals_abort():
        r = up(mnt, "-omq_maxmsg=5")
        assert r.returncode == 0, r.stderr
        pid = daemon_pid(mnt)
        try:
            assert "tools/ipcfs-up %s -o prefix=" % mnt in r.stdout, r.stdout
            assert os.getxattr(mnt, "user.ipcfs.option.mq_maxmsg") == b"5"
        finally:
            assert unmount(mnt, pid) == []


def test_bad_option():
    with scratch("up") as (mnt, prefix):
        r = up(mnt, "-o", "mq_maxmsg=lots")
        assert r.returncode != 0
        assert "-o mq_maxmsg=lots: expected a whole number" in r.stderr
        assert not mounted(mnt)

# SPDX-License-Identifier: GPL-2.0-or-later
"""test_fake_kind - a kind is one file and one line.

The test daemon ($IPCFS_TEST, built by tests/meson.build) is ipcfs with one
more kind in its local engine: tests/kind/fake.c, added by the one line of
tests/kind/test.def. It sits at test/fake (a path with a directory of fs/'s
own above it), names its objects its own way (directory kN is object "N")
and takes no -o prefix=. Nothing else in the tree knew of it: the root, the
directory above it, lookups, listings, attribute files and ipcctl all come
from the table. The tree is the `tree` fixture's (conftest.py), mounted
with the test daemon and -o fake_value=5.

  $ IPCFS_TEST=build/tests/ipcfs-test python3 -m pytest -q tests/mount/test_fake_kind.py
"""

import errno
import os
import stat
import subprocess

import pytest

from harness import Harness

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(os.path.dirname(os.path.dirname(HERE)), "build")
IPCFS_TEST = os.environ.get("IPCFS_TEST") or os.path.join(BUILD, "tests",
                                                          "ipcfs-test")
# The local engine's top directories, in table order: its kinds, and sysv/
# above its System V kinds.
LOCAL_TOP = ["queues", "channels", "shm", "sem", "topics", "sysv"]
XATTR = "user.ipcfs.name"

H = Harness("fake_kind", fake_value=5)
H.ipcfs = IPCFS_TEST


@pytest.fixture
def mnt(t):
    return t.mnt


def run(argv, timeout=10):
    """argv's status and output; never waits longer than timeout."""
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout)
        return p.returncode, p.stdout.decode(), p.stderr.decode()
    except (OSError, subprocess.TimeoutExpired) as e:
        return -1, "", str(e)


def errno_of(fn, *args):
    """The errno fn(*args) fails with, or None if it works."""
    try:
        fn(*args)
    except OSError as e:
        return e.errno
    return None


def put(path, data):
    with open(path, "w") as f:
        f.write(data)


def get(path):
    with open(path) as f:
        return f.read()


def test_root_lists_every_kind(mnt):
    assert os.listdir(mnt) == LOCAL_TOP + ["test"]
    for name in LOCAL_TOP + ["test"]:
        assert stat.S_ISDIR(os.stat(os.path.join(mnt, name)).st_mode)


def test_directory_above_a_kind(mnt):
    top = os.path.join(mnt, "test")
    st = os.stat(top)
    assert stat.S_ISDIR(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o755
    assert os.listdir(top) == ["fake"]
    assert stat.S_ISDIR(os.stat(os.path.join(top, "fake")).st_mode)
    assert errno_of(os.stat, os.path.join(top, "nope")) == errno.ENOENT
    # Read-only: nothing can be made in it, nor it or its kind removed.
    denied = (errno.EPERM, errno.EACCES)
    assert errno_of(os.mkdir, os.path.join(top, "x")) in denied
    assert errno_of(os.open, os.path.join(top, "f"),
                    os.O_CREAT | os.O_WRONLY) in denied
    assert errno_of(os.rmdir, top) in denied
    assert errno_of(os.rmdir, os.path.join(top, "fake")) in denied
    assert errno_of(os.chmod, top, 0o777) in denied
    assert errno_of(os.rename, top, os.path.join(mnt, "t2")) in denied
    assert errno_of(os.getxattr, top, XATTR) == errno.ENODATA
    assert os.listdir(mnt) == LOCAL_TOP + ["test"]


def test_object_lifecycle(mnt):
    kind = os.path.join(mnt, "test", "fake")
    obj = os.path.join(kind, "k12")
    assert os.listdir(kind) == []
    os.mkdir(obj, 0o640)
    try:
        assert os.listdir(kind) == ["k12"]
        st = os.stat(obj)
        assert stat.S_ISDIR(st.st_mode)
        # x wherever the object has r, as for every kind.
        assert stat.S_IMODE(st.st_mode) == 0o750
        assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
        assert errno_of(os.mkdir, obj) == errno.EEXIST
        assert sorted(os.listdir(obj)) == ["value", "waiters"]
        value = os.path.join(obj, "value")
        assert stat.S_IMODE(os.stat(value).st_mode) == 0o640
        assert get(value) == "5\n"      # -o fake_value=5: a kind's option
        put(value, "42\n")
        assert get(value) == "42\n"
        put(value, "-7")
        assert get(value) == "-7\n"
        assert errno_of(put, value, "lots\n") == errno.EINVAL
        assert get(value) == "-7\n"
        assert errno_of(os.rmdir, value) == errno.ENOTDIR
        assert errno_of(os.listdir, value) == errno.ENOTDIR
        assert errno_of(os.stat, os.path.join(obj, "nope")) == errno.ENOENT
        # The kind's own name: directory k12 is object "12".
        assert os.getxattr(obj, XATTR) == b"12"
    finally:
        if os.path.isdir(obj):
            os.rmdir(obj)
    assert os.listdir(kind) == []
    assert errno_of(os.stat, obj) == errno.ENOENT
    assert errno_of(os.rmdir, obj) == errno.ENOENT


@pytest.mark.parametrize("name,err", [
    ("12", errno.EINVAL),               # no k
    ("k", errno.EINVAL),                # no number
    ("k012", errno.EINVAL),             # a leading zero
    ("kx1", errno.EINVAL),
    ("k1 ", errno.EINVAL),
    ("K1", errno.EINVAL),
    ("k1234567890", errno.ENAMETOOLONG),
])
def test_bad_names(mnt, name, err):
    kind = os.path.join(mnt, "test", "fake")
    assert errno_of(os.mkdir, os.path.join(kind, name)) == err
    assert errno_of(os.stat, os.path.join(kind, name)) == errno.ENOENT
    assert os.listdir(kind) == []


def test_prefix_is_not_applied(mnt):
    """The mount's prefix is the POSIX kinds' business: not the fake's."""
    obj = os.path.join(mnt, "test", "fake", "k7")
    queue = os.path.join(mnt, "queues", "q1")
    os.mkdir(obj)
    try:
        os.mkdir(queue)
        try:
            assert os.getxattr(obj, XATTR) == b"7"
            assert os.getxattr(queue, XATTR) == ("/%sq1" % H.prefix).encode()
            assert os.listdir(os.path.join(mnt, "queues")) == ["q1"]
        finally:
            os.rmdir(queue)
    finally:
        os.rmdir(obj)


def test_ipcctl_ls_learns_the_kind(mnt):
    obj = os.path.join(mnt, "test", "fake", "k3")
    os.mkdir(obj)
    try:
        put(os.path.join(obj, "value"), "9")
        rc, out, err = run([H.ipcctl, "ls", "-r", "-n", "-o", "KIND,NAME,VALUE",
                            mnt])
        assert rc == 0, err
        assert "test/fake k3 9" in out.splitlines()
    finally:
        os.rmdir(obj)


def test_help_lists_engines_kinds_and_options():
    rc, out, err = run([IPCFS_TEST, "--help"])
    assert rc == 0, err
    assert "engine=NAME" in out and "local" in out
    assert " test/fake/" in out and "fake_value" in out
    assert "mq_maxmsg" in out


# The installed daemon ($IPCFS) refuses alike, and has no fake kind.
DAEMONS = [IPCFS_TEST] + ([os.environ["IPCFS"]] if os.environ.get("IPCFS")
                          else [])


@pytest.mark.parametrize("daemon", DAEMONS)
def test_unknown_engine_is_refused(t, daemon):
    old, t.ipcfs = t.ipcfs, daemon
    try:
        rc, out, err, mounted = t.start_refused("engine=nope")
    finally:
        t.ipcfs = old
    assert rc not in (0, None)
    assert "engine=nope" in err and "known engines: local" in err
    assert not mounted


def test_only_the_test_daemon_has_the_fake_kind():
    if not os.environ.get("IPCFS"):
        pytest.skip("no $IPCFS")
    rc, out, err = run([os.environ["IPCFS"], "--help"])
    assert rc == 0, err
    assert "fake" not in out and "mq_maxmsg" in out

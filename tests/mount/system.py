# SPDX-License-Identifier: GPL-2.0-or-later
"""system - for the tests of what mounts ipcfs other than the harness:
mount(8) and /etc/fstab on the installed ipcfs (test_install.py), the
systemd unit (test_systemd.py), tools/ipcfs-up (test_ipcfs_up.py).

The tree is mounted by them, not by a Mount: these are the bounded steps
around it (the daemon's PID, unmounting, waiting for it to end) and a guard
that turns meson's SIGTERM at a timeout into an exception, so that every
finally block runs and nothing stays installed, mounted or in fstab.
"""

import contextlib
import os
import signal
import tempfile

from mount import Abort, quiet_run
from native import mounted_fstype, unlink_prefix
from procs import wait_until

BUILD = os.environ.get("IPCFS_BUILD", "")
SOURCE = os.environ.get("IPCFS_SOURCE", "")


def pid1():
    """The name of PID 1 (systemd, or whatever a container runs)."""
    with open("/proc/1/comm") as f:
        return f.read().strip()


@contextlib.contextmanager
def signals_abort():
    """SIGTERM, SIGHUP and SIGINT raise Abort while inside."""
    def handler(signo, frame):
        raise Abort("signal %s" % signal.Signals(signo).name)
    sigs = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
    old = {s: signal.signal(s, handler) for s in sigs}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def daemon_pid(mnt):
    """The PID of the daemon serving MNT (its root's user.ipcfs.pid)."""
    return int(os.getxattr(mnt, "user.ipcfs.pid"))


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def mounted(mnt):
    return mounted_fstype(os.path.realpath(mnt)) == "fuse.ipcfs"


def unmount(mnt, pid=None):
    """Unmount MNT (umount, else lazily) and wait for its daemon PID to
    end: the errors, [] if all went well."""
    errs = []
    if mounted(mnt):
        st, out = quiet_run(["umount", mnt], 10)
        if st != 0:
            errs.append("umount %s: %s" % (mnt, out))
            quiet_run(["umount", "-l", mnt], 10)
    if mounted(mnt):
        errs.append("%s is still mounted" % mnt)
    if pid and not wait_until(lambda: not alive(pid), 10):
        errs.append("daemon %d still runs after the unmount" % pid)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    if pid:     # where a detached daemon without syslog wrote its messages
        with contextlib.suppress(OSError):
            os.unlink("/run/ipcfs/ipcfs.%d.log" % pid)
    return errs


@contextlib.contextmanager
def scratch(name):
    """A fresh mount point and a prefix of its own; afterwards unmounted,
    its objects unlinked, the directory removed."""
    mnt = tempfile.mkdtemp(prefix="ipcfs-%s." % name)
    prefix = "%s%d_" % (name, os.getpid())
    try:
        yield mnt, prefix
    finally:
        unmount(mnt)
        unlink_prefix(prefix)
        with contextlib.suppress(OSError):
            os.rmdir(mnt)


def queue_round_trip(mnt, prefix):
    """Make a queue through MNT, send through it, receive natively from
    /PREFIXq, remove it: the POSIX name, from user.ipcfs.name."""
    from native import mq_close, mq_open, mq_receive
    q = os.path.join(mnt, "queues", "q")
    os.mkdir(q)
    try:
        name = os.getxattr(q, "user.ipcfs.name").decode()
        with open(os.path.join(q, "data"), "w") as f:
            f.write("hello\n")
        mqd = mq_open("/%sq" % prefix, os.O_RDONLY)
        try:
            got = mq_receive(mqd)
        finally:
            mq_close(mqd)
        assert got == (b"hello\n", 0), got
    finally:
        os.rmdir(q)
    return name

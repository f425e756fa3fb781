# SPDX-License-Identifier: GPL-2.0-or-later
"""kinds - helpers for one kind of object each, and what the kinds share.

QueueHelpers and ShmFileHelpers are Harness mixins: paths of queues and
their native side (send, receive, count), the files in /dev/shm behind
segments and semaphores. The scenarios every blocking kind must pass
(test_waits.py) see a kind through a Waitable below: how to make an object
on which a read waits, how to give it one unit (a message, bytes, a post),
and how to tell that an interrupted wait took nothing.
"""

import contextlib
import errno
import os
import stat

import native


class QueueHelpers:
    """queues/NAME: its paths, and native sends and receives (the
    descriptors closed by the teardown)."""

    def qpath(self, name, *rest):
        return self.path("queues", name, *rest)

    def mkq(self, name, mode=0o600):
        return self.mkobj("queues", name, mode)

    def rmq(self, name):
        self.rmobj("queues", name)

    def attr(self, name, attr):
        return self.read_file(self.qpath(name, attr)).decode()

    def native(self, name, flags=os.O_RDWR, **kw):
        """A native descriptor of queue NAME (closed by the teardown)."""
        mqd = native.mq_open(self.posix(name), flags, **kw)
        self.mqds.append(mqd)
        return mqd

    def native_create(self, name, mode=0o600, maxmsg=None, msgsize=None):
        mqd = native.mq_open(self.posix(name),
                             os.O_RDWR | os.O_CREAT | os.O_EXCL, mode,
                             maxmsg or self.opts.get("mq_maxmsg", 10),
                             msgsize or self.opts.get("mq_msgsize", 8192))
        self.mqds.append(mqd)
        self.made["queues"].add(name)
        return mqd

    @contextlib.contextmanager
    def _native_once(self, name):
        """A native descriptor of queue NAME for the body of a with."""
        mqd = self.native(name)
        try:
            yield mqd
        finally:
            self.mqds.remove(mqd)
            native.mq_close(mqd)

    def send(self, name, data, prio=0):
        with self._native_once(name) as mqd:
            native.mq_send(mqd, data, prio, timeout=2)

    def recv(self, name, timeout=2.0):
        with self._native_once(name) as mqd:
            return native.mq_receive(mqd, timeout)

    def count(self, name):
        """mq_curmsgs, natively (not through the tree)."""
        with self._native_once(name) as mqd:
            return native.mq_getattr(mqd).mq_curmsgs

    def drain(self, name):
        """Take every waiting message natively: [(bytes, prio)]."""
        got = []
        with self._native_once(name) as mqd:
            while True:
                try:
                    got.append(native.mq_receive(mqd, timeout=0))
                except OSError as e:
                    if e.errno in (errno.ETIMEDOUT, errno.EAGAIN):
                        return got
                    raise


class ShmFileHelpers:
    """Segments and semaphores as the files in /dev/shm behind them."""

    def shm_file(self, kind, name):
        """The file in /dev/shm behind segment or semaphore KIND/NAME."""
        return native.shm_file(kind, self.prefix + name)

    def unlink_native(self, kind, name):
        """Unlink the native object behind KIND/NAME if there still is one,
        for the kinds the native module knows (the fallback cleanup)."""
        with contextlib.suppress(OSError, KeyError):
            if kind == "queues":
                native.mq_unlink(self.posix(name))
            else:
                os.unlink(self.shm_file(kind, name))

    def check_kind_dir(self, kind):
        """KIND is listed in the root of the tree, and is a directory."""
        with self.within(5, "ls MNT"):
            self.true(kind in os.listdir(self.mnt), "%s in the root" % kind)
            st = os.stat(os.path.join(self.mnt, kind))
            self.true(stat.S_ISDIR(st.st_mode), "%s is a directory" % kind)

    def check_mkdir_modes(self, kind):
        """mkdir KIND/m640 with mode 0640, and KIND/um with 0777 under
        umask 027, for segments and semaphores: the files in /dev/shm get
        those modes, and our owner."""
        os.umask(0)
        self.mkobj(kind, "m640", 0o640)
        st = os.lstat(self.shm_file(kind, "m640"))
        self.eq(oct(stat.S_IMODE(st.st_mode)), oct(0o640), "native mode")
        self.eq((st.st_uid, st.st_gid), (os.getuid(), os.getgid()),
                "native owner")
        old = os.umask(0o027)
        try:
            self.mkobj(kind, "um", 0o777)
        finally:
            os.umask(old)
        st = os.lstat(self.shm_file(kind, "um"))
        self.eq(oct(stat.S_IMODE(st.st_mode)), oct(0o750),
                "native mode of mkdir 0777 under umask 027")

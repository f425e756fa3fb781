# SPDX-License-Identifier: GPL-2.0-or-later
"""native - the IPC objects a tree shows, reached without the tree.

The tests compare what the mount says with what the kernel and glibc say,
so they need the native calls themselves: POSIX message queues (mq_open,
mq_timedsend, ...) and named semaphores (sem_open, sem_post, ...) through
ctypes, and segments as files in /dev/shm. Every call that could wait takes
a deadline (mq_timed*), so nothing here waits forever.

unlink_prefix() is the last resort of the cleanup: when the tree cannot be
asked any more (its daemon was killed), it unlinks what is left under a
prefix for the kinds it knows.
"""

import contextlib
import ctypes
import os
import subprocess
import tempfile
import time

# Segments /PFXname are /dev/shm/PFXname; glibc keeps semaphores /PFXname
# as /dev/shm/sem.PFXname.
SHM_DIR = "/dev/shm"


def oserror(what):
    """The OSError of the last failed ctypes call (its errno)."""
    e = ctypes.get_errno()
    return OSError(e, "%s: %s" % (what, os.strerror(e)))


# ---------------------------------------------------------------------------
# POSIX message queues


class MqAttr(ctypes.Structure):
    _fields_ = [("mq_flags", ctypes.c_long), ("mq_maxmsg", ctypes.c_long),
                ("mq_msgsize", ctypes.c_long), ("mq_curmsgs", ctypes.c_long),
                ("_reserved", ctypes.c_long * 4)]


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _load_mq():
    for name in ("libc.so.6", "librt.so.1"):
        try:
            lib = ctypes.CDLL(name, use_errno=True)
        except OSError:
            continue
        if hasattr(lib, "mq_timedreceive") and hasattr(lib, "mq_open"):
            break
    else:
        raise ImportError("no mq_open in libc.so.6 or librt.so.1")
    lib.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint,
                            ctypes.POINTER(MqAttr)]
    lib.mq_open.restype = ctypes.c_int
    lib.mq_timedsend.argtypes = [ctypes.c_int, ctypes.c_char_p,
                                 ctypes.c_size_t, ctypes.c_uint,
                                 ctypes.POINTER(Timespec)]
    lib.mq_timedsend.restype = ctypes.c_int
    lib.mq_timedreceive.argtypes = [ctypes.c_int, ctypes.c_char_p,
                                    ctypes.c_size_t,
                                    ctypes.POINTER(ctypes.c_uint),
                                    ctypes.POINTER(Timespec)]
    lib.mq_timedreceive.restype = ctypes.c_ssize_t
    lib.mq_getattr.argtypes = [ctypes.c_int, ctypes.POINTER(MqAttr)]
    lib.mq_getattr.restype = ctypes.c_int
    lib.mq_close.argtypes = [ctypes.c_int]
    lib.mq_close.restype = ctypes.c_int
    lib.mq_unlink.argtypes = [ctypes.c_char_p]
    lib.mq_unlink.restype = ctypes.c_int
    return lib


_mq = _load_mq()


def _abstime(timeout):
    t = time.clock_gettime(time.CLOCK_REALTIME) + max(0.0, timeout)
    return Timespec(int(t), int((t - int(t)) * 1e9))


def mq_open(name, flags=os.O_RDWR, mode=0o600, maxmsg=None, msgsize=None):
    """Open (or with O_CREAT create) the queue NAME ("/..."); an mqd (an fd)."""
    attr = None
    if maxmsg is not None or msgsize is not None:
        attr = MqAttr()
        attr.mq_maxmsg = maxmsg or 10
        attr.mq_msgsize = msgsize or 8192
    fd = _mq.mq_open(os.fsencode(name), flags, mode,
                     ctypes.byref(attr) if attr is not None else None)
    if fd < 0:
        raise oserror("mq_open %s" % name)
    return fd


def mq_getattr(mqd):
    a = MqAttr()
    if _mq.mq_getattr(mqd, ctypes.byref(a)) < 0:
        raise oserror("mq_getattr")
    return a


def mq_send(mqd, data, prio=0, timeout=2.0):
    """Send; OSError(ETIMEDOUT) if the queue stays full for `timeout` s."""
    ts = _abstime(timeout)
    if _mq.mq_timedsend(mqd, data, len(data), prio, ctypes.byref(ts)) < 0:
        raise oserror("mq_timedsend")


def mq_receive(mqd, timeout=2.0):
    """(bytes, prio); OSError(ETIMEDOUT) if nothing came within `timeout`."""
    size = mq_getattr(mqd).mq_msgsize
    buf = ctypes.create_string_buffer(size)
    prio = ctypes.c_uint()
    ts = _abstime(timeout)
    n = _mq.mq_timedreceive(mqd, buf, size, ctypes.byref(prio),
                            ctypes.byref(ts))
    if n < 0:
        raise oserror("mq_timedreceive")
    return buf.raw[:n], prio.value


def mq_close(mqd):
    _mq.mq_close(mqd)


def mq_unlink(name):
    if _mq.mq_unlink(os.fsencode(name)) < 0:
        raise oserror("mq_unlink %s" % name)


def mountinfo():
    """[(mount point, fstype)] from /proc/self/mountinfo: no access to any
    mount, so a stuck FUSE tree cannot stall it."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            mp = left.split()[4].replace("\\040", " ")
            out.append((mp, right.split()[0]))
    return out


def mounted_fstype(path):
    """The type of what is mounted on PATH (absolute, resolved), or None."""
    found = None
    for mp, fstype in mountinfo():
        if mp == path:
            found = fstype
    return found


def mq_list():
    """Names (without the '/') of every queue in this IPC namespace.

    Reads /dev/mqueue when it is an mqueue mount, else mounts one in a
    private mount namespace of a child, so nothing is left mounted."""
    if mounted_fstype("/dev/mqueue") == "mqueue":
        return sorted(os.listdir("/dev/mqueue"))
    d = tempfile.mkdtemp(prefix="ipcfs-mqls-")
    try:
        r = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             'mount -t mqueue mqueue "$1" && ls -1A "$1"', "sh", d],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, timeout=10)
        if r.returncode != 0:
            raise OSError("cannot list queues: %s" % r.stderr.decode().strip())
        return sorted(r.stdout.decode().split())
    finally:
        os.rmdir(d)


# ---------------------------------------------------------------------------
# POSIX named semaphores


def _load_sem():
    lib = ctypes.CDLL("libc.so.6", use_errno=True)
    lib.sem_open.restype = ctypes.c_void_p
    lib.sem_close.argtypes = [ctypes.c_void_p]
    lib.sem_close.restype = ctypes.c_int
    lib.sem_post.argtypes = [ctypes.c_void_p]
    lib.sem_post.restype = ctypes.c_int
    lib.sem_getvalue.argtypes = [ctypes.c_void_p,
                                 ctypes.POINTER(ctypes.c_int)]
    lib.sem_getvalue.restype = ctypes.c_int
    lib.sem_unlink.argtypes = [ctypes.c_char_p]
    lib.sem_unlink.restype = ctypes.c_int
    return lib


_sem = _load_sem()


@contextlib.contextmanager
def sem_opened(name, flags=0, mode=0o600, value=0):
    """A native sem_t * of semaphore NAME ("/..."), closed afterwards."""
    s = _sem.sem_open(os.fsencode(name), flags, ctypes.c_uint(mode),
                      ctypes.c_uint(value))
    if not s:
        raise oserror("sem_open %s" % name)
    try:
        yield s
    finally:
        _sem.sem_close(s)


def sem_create(name, value=0, mode=0o600):
    """Make semaphore NAME natively (O_EXCL), of VALUE."""
    with sem_opened(name, os.O_CREAT | os.O_EXCL, mode, value):
        pass


def sem_post(name, n=1):
    with sem_opened(name) as s:
        for _ in range(n):
            if _sem.sem_post(s) < 0:
                raise oserror("sem_post %s" % name)


def sem_value(name):
    """The value of semaphore NAME, natively (not through a tree)."""
    v = ctypes.c_int(-1)
    with sem_opened(name) as s:
        if _sem.sem_getvalue(s, ctypes.byref(v)) < 0:
            raise oserror("sem_getvalue %s" % name)
    return v.value


def sem_unlink(name):
    if _sem.sem_unlink(os.fsencode(name)) < 0:
        raise oserror("sem_unlink %s" % name)


# ---------------------------------------------------------------------------
# Segments and semaphores as files


def shm_file(kind, native_name):
    """The file in /dev/shm behind segment or semaphore NATIVE_NAME (no
    leading '/') of KIND ("shm" or "sem")."""
    return os.path.join(SHM_DIR, {"shm": "", "sem": "sem."}[kind] +
                        native_name)


def unlink_prefix(prefix, note=lambda s: None):
    """Unlink every native object under PREFIX whatever made it: queues
    /PFX*, segments /dev/shm/PFX*, semaphores /dev/shm/sem.PFX*. The names.

    Only the fallback: the tree itself removes what it shows (rmdir), this
    is for when it cannot be asked (its daemon was killed)."""
    if not prefix:
        return []                   # a tree over everything: not ours
    try:
        names = mq_list()
    except (OSError, subprocess.SubprocessError) as e:
        note("cannot list native queues: %s" % e)
        names = []
    left = [n for n in names if n.startswith(prefix)]
    for n in left:
        with contextlib.suppress(OSError):
            mq_unlink("/" + n)
    try:
        files = os.listdir(SHM_DIR)
    except OSError:
        files = []
    for n in files:
        if n.startswith((prefix, "sem." + prefix)):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(SHM_DIR, n))
            left.append(n)
    return left

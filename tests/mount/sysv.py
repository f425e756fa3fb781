# SPDX-License-Identifier: GPL-2.0-or-later
"""sysv - System V IPC reached without the tree: the native side of the
sysv/ kinds' tests (svipc(7)).

msgget/msgsnd/msgrcv, shmget/shmat/shmdt and semget/semop/semctl through
ctypes, with their IPC_STAT structures, so a test compares what the tree
says with what the kernel says. Calls that could wait take a deadline:
msgsnd and msgrcv retry IPC_NOWAIT until it passes (TimeoutError), semop
is semtimedop. Nothing here waits forever.

Keys: a test process takes its keys from Keys(), a range of its own
(0x1cf?????, from its pid), and Keys.remove_all() removes every object of
that range however the test ended; keyname() spells a key as ipcs and the
tree do ("0x0000162e").
"""

import ctypes
import errno
import os
import time

IPC_CREAT = 0o1000
IPC_EXCL = 0o2000
IPC_NOWAIT = 0o4000
IPC_PRIVATE = 0
IPC_RMID, IPC_SET, IPC_STAT = 0, 1, 2
MSG_NOERROR = 0o10000
GETVAL, GETALL, SETVAL = 12, 13, 16
SEM_UNDO = 0x1000

_libc = ctypes.CDLL(None, use_errno=True)
_ulong, _int, _uint = ctypes.c_ulong, ctypes.c_int, ctypes.c_uint


def _oserror(what):
    e = ctypes.get_errno()
    return OSError(e, "%s: %s" % (what, os.strerror(e)))


def _check(ret, what):
    if ret == -1:
        raise _oserror(what)
    return ret


class IpcPerm(ctypes.Structure):
    _fields_ = [("key", _int), ("uid", _uint), ("gid", _uint),
                ("cuid", _uint), ("cgid", _uint), ("mode", _uint),
                ("seq", ctypes.c_ushort), ("pad2", ctypes.c_ushort),
                ("r1", _ulong), ("r2", _ulong)]


class MsqidDs(ctypes.Structure):
    _fields_ = [("perm", IpcPerm), ("stime", ctypes.c_long),
                ("rtime", ctypes.c_long), ("ctime", ctypes.c_long),
                ("cbytes", _ulong), ("qnum", _ulong), ("qbytes", _ulong),
                ("lspid", _int), ("lrpid", _int), ("r4", _ulong),
                ("r5", _ulong)]


class ShmidDs(ctypes.Structure):
    _fields_ = [("perm", IpcPerm), ("segsz", ctypes.c_size_t),
                ("atime", ctypes.c_long), ("dtime", ctypes.c_long),
                ("ctime", ctypes.c_long), ("cpid", _int), ("lpid", _int),
                ("nattch", _ulong), ("r5", _ulong), ("r6", _ulong)]


class SemidDs(ctypes.Structure):
    _fields_ = [("perm", IpcPerm), ("otime", ctypes.c_long),
                ("otime_high", _ulong), ("ctime", ctypes.c_long),
                ("ctime_high", _ulong), ("nsems", _ulong), ("r3", _ulong),
                ("r4", _ulong)]


class Sembuf(ctypes.Structure):
    _fields_ = [("num", ctypes.c_ushort), ("op", ctypes.c_short),
                ("flg", ctypes.c_short)]


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


_libc.msgget.argtypes = [_int, _int]
_libc.msgsnd.argtypes = [_int, ctypes.c_void_p, ctypes.c_size_t, _int]
_libc.msgrcv.argtypes = [_int, ctypes.c_void_p, ctypes.c_size_t,
                         ctypes.c_long, _int]
_libc.msgrcv.restype = ctypes.c_ssize_t
_libc.msgctl.argtypes = [_int, _int, ctypes.c_void_p]
_libc.shmget.argtypes = [_int, ctypes.c_size_t, _int]
_libc.shmat.argtypes = [_int, ctypes.c_void_p, _int]
_libc.shmat.restype = ctypes.c_void_p
_libc.shmdt.argtypes = [ctypes.c_void_p]
_libc.shmctl.argtypes = [_int, _int, ctypes.c_void_p]
_libc.semget.argtypes = [_int, _int, _int]
_libc.semtimedop.argtypes = [_int, ctypes.POINTER(Sembuf), ctypes.c_size_t,
                             ctypes.POINTER(Timespec)]


def keyname(key):
    """KEY as ipcs(1) and the tree spell it."""
    return "0x%08x" % (key & 0xffffffff)


def _perm(p):
    return {"key": p.key, "uid": p.uid, "gid": p.gid, "cuid": p.cuid,
            "cgid": p.cgid, "mode": p.mode & 0o777}


# ---------------------------------------------------------------------------
# Message queues


def msgget(key, flags=0, mode=0o600):
    return _check(_libc.msgget(key, flags | mode), "msgget(%s)" %
                  keyname(key))


def msg_create(key, mode=0o600):
    return msgget(key, IPC_CREAT | IPC_EXCL, mode)


def _until(deadline, what):
    if time.monotonic() >= deadline:
        raise TimeoutError("%s: still blocked" % what)
    time.sleep(0.002)


def msgsnd(qid, data, mtype=1, nowait=False, timeout=2.0):
    """Send DATA with type MTYPE; a full queue: EAGAIN if nowait, else
    retried until TIMEOUT (TimeoutError)."""
    buf = ctypes.create_string_buffer(8 + len(data))
    ctypes.c_long.from_buffer(buf).value = mtype
    ctypes.memmove(ctypes.addressof(buf) + 8, data, len(data))
    deadline = time.monotonic() + timeout
    while True:
        if _libc.msgsnd(qid, buf, len(data), IPC_NOWAIT) == 0:
            return
        e = ctypes.get_errno()
        if e != errno.EAGAIN or nowait:
            raise OSError(e, "msgsnd: %s" % os.strerror(e))
        _until(deadline, "msgsnd")


def msgrcv(qid, size=65536, mtype=0, nowait=False, timeout=2.0, flags=0):
    """One message, msgrcv's MTYPE rules: (type, bytes). None there: ENOMSG
    if nowait, else retried until TIMEOUT (TimeoutError)."""
    buf = ctypes.create_string_buffer(8 + size)
    deadline = time.monotonic() + timeout
    while True:
        n = _libc.msgrcv(qid, buf, size, mtype, flags | IPC_NOWAIT)
        if n >= 0:
            return (ctypes.c_long.from_buffer(buf).value,
                    buf.raw[8:8 + n])
        e = ctypes.get_errno()
        if e != errno.ENOMSG or nowait:
            raise OSError(e, "msgrcv: %s" % os.strerror(e))
        _until(deadline, "msgrcv")


def msg_stat(qid):
    ds = MsqidDs()
    _check(_libc.msgctl(qid, IPC_STAT, ctypes.byref(ds)), "msgctl")
    d = _perm(ds.perm)
    d.update(count=ds.qnum, bytes=ds.cbytes, qbytes=ds.qbytes,
             lspid=ds.lspid, lrpid=ds.lrpid, stime=ds.stime,
             rtime=ds.rtime, ctime=ds.ctime)
    return d


def msg_set_qbytes(qid, qbytes):
    ds = MsqidDs()
    _check(_libc.msgctl(qid, IPC_STAT, ctypes.byref(ds)), "msgctl")
    ds.qbytes = qbytes
    _check(_libc.msgctl(qid, IPC_SET, ctypes.byref(ds)), "msgctl(IPC_SET)")


def msg_rmid(qid):
    _check(_libc.msgctl(qid, IPC_RMID, None), "msgctl(IPC_RMID)")


# ---------------------------------------------------------------------------
# Shared memory segments


def shmget(key, size=0, flags=0, mode=0o600):
    return _check(_libc.shmget(key, size, flags | mode), "shmget(%s)" %
                  keyname(key))


def shm_create(key, size, mode=0o600):
    return shmget(key, size, IPC_CREAT | IPC_EXCL, mode)


class Attached:
    """A segment attached here: read(off, n), write(off, data), detach()
    (a with block detaches)."""

    def __init__(self, shmid):
        addr = _libc.shmat(shmid, None, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            raise _oserror("shmat")
        self.addr = addr

    def read(self, off, n):
        return ctypes.string_at(self.addr + off, n)

    def write(self, off, data):
        ctypes.memmove(self.addr + off, data, len(data))

    def detach(self):
        if self.addr is not None:
            _check(_libc.shmdt(ctypes.c_void_p(self.addr)), "shmdt")
            self.addr = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.detach()


def shm_stat(shmid):
    ds = ShmidDs()
    _check(_libc.shmctl(shmid, IPC_STAT, ctypes.byref(ds)), "shmctl")
    d = _perm(ds.perm)
    d.update(size=ds.segsz, cpid=ds.cpid, lpid=ds.lpid, nattch=ds.nattch,
             atime=ds.atime, dtime=ds.dtime, ctime=ds.ctime)
    return d


def shm_rmid(shmid):
    _check(_libc.shmctl(shmid, IPC_RMID, None), "shmctl(IPC_RMID)")


# ---------------------------------------------------------------------------
# Semaphore sets


def semget(key, nsems=0, flags=0, mode=0o600):
    return _check(_libc.semget(key, nsems, flags | mode), "semget(%s)" %
                  keyname(key))


def sem_create(key, nsems=1, mode=0o600, values=None):
    semid = semget(key, nsems, IPC_CREAT | IPC_EXCL, mode)
    for i, v in enumerate(values or []):
        sem_setval(semid, i, v)
    return semid


def semop(semid, ops, timeout=2.0):
    """ops: [(num, op, flags)], done at once or not at all; waits at most
    TIMEOUT (EAGAIN when it runs out, as semtimedop says)."""
    arr = (Sembuf * len(ops))(*[Sembuf(n, o, f) for n, o, f in ops])
    ts = Timespec(int(timeout), int((timeout % 1) * 1e9))
    _check(_libc.semtimedop(semid, arr, len(ops), ctypes.byref(ts)),
           "semop")


def sem_getval(semid, num=0):
    return _check(_libc.semctl(semid, _int(num), _int(GETVAL)), "semctl")


def sem_setval(semid, num, value):
    _check(_libc.semctl(semid, _int(num), _int(SETVAL), _int(value)),
           "semctl(SETVAL)")


def sem_stat(semid):
    ds = SemidDs()
    _check(_libc.semctl(semid, _int(0), _int(IPC_STAT), ctypes.byref(ds)),
           "semctl(IPC_STAT)")
    d = _perm(ds.perm)
    d.update(nsems=ds.nsems, otime=ds.otime, ctime=ds.ctime)
    return d


def sem_getall(semid):
    n = sem_stat(semid)["nsems"]
    arr = (ctypes.c_ushort * n)()
    _check(_libc.semctl(semid, _int(0), _int(GETALL), arr), "semctl(GETALL)")
    return list(arr)


def sem_rmid(semid):
    _check(_libc.semctl(semid, _int(0), _int(IPC_RMID)), "semctl(IPC_RMID)")


# ---------------------------------------------------------------------------
# Listing and cleaning up

PROC = {"msg": "/proc/sysvipc/msg", "shm": "/proc/sysvipc/shm",
        "sem": "/proc/sysvipc/sem"}
RMID = {"msg": msg_rmid, "shm": shm_rmid, "sem": sem_rmid}


def listed(kind):
    """{key: id} of the kernel's objects of KIND ("msg", "shm", "sem")."""
    with open(PROC[kind]) as f:
        lines = f.read().splitlines()[1:]
    return {int(line.split()[0]) & 0xffffffff: int(line.split()[1])
            for line in lines if line.strip()}


def count(kind):
    """How many objects of KIND the kernel has (private ones share key 0,
    so listed() cannot tell)."""
    with open(PROC[kind]) as f:
        return sum(1 for line in f.read().splitlines()[1:] if line.strip())


def private_ids(kind):
    """Ids of KIND's objects made with IPC_PRIVATE."""
    with open(PROC[kind]) as f:
        lines = f.read().splitlines()[1:]
    return [int(line.split()[1]) for line in lines
            if line.strip() and int(line.split()[0]) == 0]


class Keys:
    """A test process's keys: 0x1cf00000 and up, 256 per process, from its
    pid; remove_all() removes every object of the range of every kind."""

    BASE = 0x1cf00000

    def __init__(self):
        self.base = self.BASE | (os.getpid() & 0xfff) << 8
        self.n = 0
        self.ids = {"msg": [], "shm": [], "sem": []}  # private ones made
        self.named = {}  # (kind, base) -> key name, until remove_all()

    def new(self):
        """A key nobody uses (none of the range's objects exists)."""
        while self.n < 256:
            key = self.base + self.n
            self.n += 1
            if not any(key in listed(k) for k in PROC):
                return key
        raise RuntimeError("sysv.Keys: the process's 256 keys are used up")

    def name_for(self, kind, base):
        """A key name standing for a test's object BASE of KIND."""
        if (kind, base) not in self.named:
            self.named[(kind, base)] = keyname(self.new())
        return self.named[(kind, base)]

    def mine(self, key):
        return self.base <= key < self.base + 256

    def owns(self, kind, name):
        """Is sysv/KIND's object NAME ("0x...", "id.N") this range's, or a
        private one noted in self.ids? KIND may be "sysv/msg" or "msg"."""
        kind = kind.split("/")[-1]
        if name.startswith("id."):
            return name[3:].isdigit() and int(name[3:]) in self.ids[kind]
        try:
            return self.mine(int(name, 16))
        except ValueError:
            return False

    def remove_all(self):
        """Remove every object of this process's range (and the private
        ones noted in self.ids): what is left when a test failed."""
        left = []
        self.named = {}
        for kind in PROC:
            for key, oid in listed(kind).items():
                if self.mine(key):
                    left.append((kind, key))
                    _rm(kind, oid)
            for oid in self.ids[kind]:
                _rm(kind, oid)
            self.ids[kind] = []
        return left


def _rm(kind, oid):
    try:
        RMID[kind](oid)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.EIDRM):
            raise

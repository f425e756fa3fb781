# SPDX-License-Identifier: GPL-2.0-or-later
"""channels/NAME: a byte stream with pipe semantics and without mkfifo's
traps. Opening never blocks; data written before a reader comes is kept; a
reader waits for its producer and ends when the producers are gone, in either
order; writes of at most 4096 bytes are never interleaved; O_NONBLOCK both
ways; capacity, bytes, readers, writers; poll; rmdir wakes a reader that
never saw a writer (EOF); a signal to a writer leaves exactly what it
reported, even in a storm of them; 1000 parked readers cost no thread; the
mount-wide cap gives ENOSPC. Extra trees are mounted (and unmounted by the
teardown) for the mount options. What every blocking kind shares (rmdir,
SIGINT and kill -9 of a blocked reader or writer, parked writers that must
not trap others, poll before and after) is in test_waits.py."""

import errno
import hashlib
import os
import select
import shutil
import signal
import stat
import tempfile
import time

import pytest

from harness import Harness
from mount import Fail
from procs import DEVNULL, PIPE, WRITER, errname

RD_NB = os.O_RDONLY | os.O_NONBLOCK
WR_NB = os.O_WRONLY | os.O_NONBLOCK
FILES = ["bytes", "capacity", "data", "eof", "readers", "waiters",
         "writers"]                                         # DESIGN
SEQ = b"".join(b"%d\n" % i for i in range(1, 1001))     # `seq 1 1000`


class ChannelHarness(Harness):
    """The shared harness, plus what channels need: paths in channels/ and
    their attribute files."""

    def cpath(self, name, *rest):
        return self.path("channels", name, *rest)

    def mkch(self, name, mode=0o600):
        return self.mkobj("channels", name, mode)

    def rmch(self, name):
        self.rmobj("channels", name)

    def cattr(self, name, attr):
        return self.read_file(self.cpath(name, attr)).decode()

    def set_cattr(self, name, attr, value):
        """One write(2) of `value` to an attribute file (no O_TRUNC): the
        setter's errno comes back as OSError."""
        if isinstance(value, str):
            value = value.encode()
        return self.write_file(self.cpath(name, attr), value)

    def wait_cattr(self, name, attr, want, timeout=2.0):
        """Attribute `attr` becomes `want` within `timeout` (a close is
        seen by the daemon a moment after close(2) returns)."""
        got = self.wait_value(lambda: self.cattr(name, attr), want, timeout)
        if got != want:
            raise Fail("channels/%s/%s: %r, expected %r (waited %gs)" % (
                name, attr, got, want, timeout))


H = ChannelHarness("chan")


# ---------------------------------------------------------------------------
# Helpers


def read_to_eof(t, fd, timeout=5.0, what="read to end-of-file", size=1 << 20):
    """Read until end-of-file; on an O_NONBLOCK fd, EAGAIN means try again
    (the daemon sees the last writer's close a moment after close(2))."""
    got = []
    with t.within(timeout, what):
        while True:
            try:
                b = os.read(fd, size)
            except BlockingIOError:
                time.sleep(0.01)
                continue
            if not b:
                break
            got.append(b)
    return b"".join(got)


def read_exactly(t, fd, n, timeout=5.0):
    """n bytes from a blocking or O_NONBLOCK fd (EAGAIN: try again)."""
    got = b""
    end = time.monotonic() + timeout
    with t.within(timeout + 1, "read %d bytes" % n):
        while len(got) < n:
            try:
                b = os.read(fd, n - len(got))
            except BlockingIOError:
                if time.monotonic() > end:
                    break
                time.sleep(0.01)
                continue
            if not b:
                break
            got += b
    if len(got) != n:
        raise Fail("read %d bytes of %d expected" % (len(got), n))
    return got


def pev(ev):
    names = [n for n in ("POLLIN", "POLLOUT", "POLLERR", "POLLHUP", "POLLNVAL")
             if ev & getattr(select, n)]
    return "|".join(names) or "0"


def fill(t, name, cap=4096, byte=b"P"):
    """Set capacity `cap` on an empty channel and fill it: (data, writer
    descriptor, O_NONBLOCK, still open)."""
    t.set_cattr(name, "capacity", str(cap))
    t.eq(t.cattr(name, "capacity"), "%d\n" % cap, "capacity")
    w = t.open(t.cpath(name, "data"), WR_NB)
    with t.within(5, "prefill"):
        n = os.write(w, byte * cap)
    t.eq(n, cap, "prefill write")
    t.eq(t.cattr(name, "bytes"), "%d\n" % cap, "bytes after the prefill")
    return byte * cap, w


def settle_bytes(t, name, want, what):
    t.settle(lambda: t.cattr(name, "bytes"), "%d\n" % want, what)


# Children. A C-level write/read through ctypes: Python's os.write retries
# after EINTR by itself (PEP 475), ctypes shows what the system call said.
CTYPES = r'''
import ctypes, errno, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
for f in (libc.read, libc.write):
    f.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
    f.restype = ctypes.c_ssize_t
'''

INTR_WRITER = CTYPES + r'''
for s in (signal.SIGINT, signal.SIGALRM):
    signal.signal(s, lambda *a: None)
fd = os.open(sys.argv[1], os.O_WRONLY)
buf = sys.argv[2].encode() * int(sys.argv[3])
n = libc.write(fd, buf, len(buf))
if n < 0:
    print(errno.errorcode.get(ctypes.get_errno(), "?"), flush=True)
else:
    print("wrote %d" % n, flush=True)
'''

STORM = CTYPES + r'''
import random
role, path, total, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    sys.argv[4]
data = b"".join(b"%07d\n" % i for i in range(total // 8))
signal.signal(signal.SIGALRM, lambda *a: None)
fd = os.open(path, os.O_WRONLY if role == "w" else os.O_RDONLY)
rnd = random.Random(role)
ops = intr = short = 0
got = []


def die(msg):
    signal.setitimer(signal.ITIMER_REAL, 0)
    print(msg, flush=True)
    sys.exit(3)


def call(f, *args):
    """f(fd, *args), libc's read or write: what it returned, or None after
    EINTR; any other error ends the child."""
    global ops, intr
    n = f(fd, *args)
    ops += 1
    if n >= 0:
        return n
    e = ctypes.get_errno()
    if e != errno.EINTR:
        die("%s: %s" % (f.__name__, errno.errorcode.get(e, e)))
    intr += 1
    return None


signal.setitimer(signal.ITIMER_REAL, 0.001, 0.0013)
if role == "w":
    off = 0
    while off < len(data):
        size = min(len(data) - off,
                   rnd.choice((1, 100, 4096, 5000, 20000, 70000)))
        n = call(libc.write, data[off:off + size], size)
        if n is None:
            continue
        if n < size:
            short += 1
        off += n
else:
    buf = ctypes.create_string_buffer(1 << 16)
    while True:
        size = rnd.choice((1, 333, 4096, 1 << 16))
        n = call(libc.read, buf, size)
        if n is None:
            continue
        if n == 0:
            break
        if n > size:
            die("read returned %d > %d" % (n, size))
        got.append(buf.raw[:n])
signal.setitimer(signal.ITIMER_REAL, 0)
if role == "r":
    with open(out, "wb") as f:
        f.write(b"".join(got))
print("%s: %d calls, %d EINTR, %d short" % (role, ops, intr, short),
      flush=True)
'''

BLOCK_WRITER = r'''
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
first, count = int(sys.argv[2]), int(sys.argv[3])
sys.stdin.readline()
for i in range(count):
    n = os.write(fd, bytes([first + i]) * 4096)
    if n != 4096:
        print("short write %d" % n, flush=True)
        sys.exit(3)
print("done", flush=True)
'''

CHUNK_READER = r'''
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
size = int(sys.argv[3])
with open(sys.argv[2], "wb") as out:
    while True:
        b = os.read(fd, size)
        if not b:
            break
        out.write(b)
'''

READ_SOME = r'''
import os, sys, time
time.sleep(float(sys.argv[3]))
fd = os.open(sys.argv[1], os.O_RDONLY)
print(len(os.read(fd, int(sys.argv[2]))), flush=True)
'''


# ---------------------------------------------------------------------------
# The tree


def test_mkdir_lists_channel_and_its_files(t):
    with t.within(5, "ls channels"):
        t.eq(sorted(os.listdir(t.cpath(""))), [], "ls channels at start")
    t.mkch("a", 0o640)
    with t.within(5, "ls"):
        t.eq(sorted(os.listdir(t.cpath(""))), ["a"], "ls channels")
        t.eq(sorted(os.listdir(t.cpath("a"))), FILES, "ls channels/a")
        st = os.stat(t.cpath("a"))
    t.true(stat.S_ISDIR(st.st_mode), "channels/a is a directory")
    # A directory needs search (x) bits to be usable: compare r/w bits only.
    t.eq(oct(stat.S_IMODE(st.st_mode) & 0o7666), oct(0o640),
         "r/w bits of the mode of channels/a")
    t.eq((st.st_uid, st.st_gid), (os.getuid(), os.getgid()), "owner")
    for f, want in (("capacity", "65536\n"), ("bytes", "0\n"),
                    ("readers", "0\n"), ("writers", "0\n")):
        t.eq(t.cattr("a", f), want, "channels/a/%s" % f)
    with t.within(5, "stat data"):
        st = os.stat(t.cpath("a", "data"))
    t.true(stat.S_ISREG(st.st_mode), "data is a regular file")


def test_bad_names(t):
    room = 255 - len(t.prefix)
    with t.within(5, "mkdir"):
        t.raises(errno.ENAMETOOLONG, os.mkdir, t.cpath("n" * (room + 1)),
                 0o600, what="mkdir of a %d-char name" % (room + 1))
        t.raises(errno.ENOENT, os.rmdir, t.cpath("nosuch"),
                 what="rmdir of a missing channel")
        t.raises(errno.ENOENT, os.open, t.cpath("nosuch", "data"),
                 os.O_WRONLY, what="open of a missing channel's data")
        t.raises(errno.ENOENT, os.stat, t.cpath("nosuch"),
                 what="stat of a missing channel")
    with t.within(5, "ls channels"):
        t.eq(sorted(os.listdir(t.cpath(""))), [], "nothing created")
    t.mkch("dup")
    w = t.open(t.cpath("dup", "data"), os.O_WRONLY)
    with t.within(5, "write"):
        os.write(w, b"keep")
    with t.within(5, "mkdir"):
        t.raises(errno.EEXIST, os.mkdir, t.cpath("dup"), 0o600,
                 what="second mkdir")
    t.eq(t.cattr("dup", "bytes"), "4\n", "bytes kept after the refused mkdir")
    try:
        t.mkch("m" * room)
        ok = True
    except OSError as e:
        ok = errname(e.errno)
    t.check("a %d-char name (255 with the prefix) works" % room, ok is True,
            "mkdir failed with %s" % ok)


# ---------------------------------------------------------------------------
# Producers and consumers, end-of-file


def test_echo_then_cat(t):
    t.mkch("e")
    data = t.cpath("e", "data")
    rc, out, err = t.sh('echo hello > "$1"', data)
    t.eq((rc, err), (0, b""), "echo hello > data")
    t.eq(t.cattr("e", "bytes"), "6\n", "bytes after echo")
    rc, out, err = t.run(["cat", data], timeout=5)
    t.eq((rc, out, err), (0, b"hello\n", b""), "cat data (status, out, err)")
    t.eq(t.cattr("e", "bytes"), "0\n", "bytes after cat")
    rc, out, err = t.sh('echo hello > "$1"; cat "$1"', data)
    t.eq((rc, out, err), (0, b"hello\n", b""), "sh -c 'echo hello > data; "
         "cat data'")


def test_producer_then_cat_and_cat_then_producer(t):
    t.mkch("pc")
    data = t.cpath("pc", "data")
    rc, out, err = t.sh('seq 1 1000 > "$1"; cat "$1"', data, timeout=10)
    t.eq((rc, out, err), (0, SEQ, b""), "seq 1 1000 > data; cat data")
    rc, out, err = t.sh('cat "$1" & seq 1 1000 > "$1"; wait', data,
                        timeout=10)
    t.eq((rc, out, err), (0, SEQ, b""), "cat data & seq 1 1000 > data; wait")
    t.eq(t.cattr("pc", "bytes"), "0\n", "bytes at the end")


def test_cat_first_waits_for_producer(t):
    t.mkch("cf")
    data = t.cpath("cf", "data")
    p = t.spawn(["cat", data])
    t.wait_blocked(p, "read")
    t.still_waiting(p, "cat waits on an idle empty channel", 0.5)
    rc, out, err = t.sh('seq 1 1000 > "$1"', data)
    t.eq((rc, err), (0, b""), "seq 1 1000 > data")
    rc, out, err = t.finish(p, 5)
    t.eq((rc, out, err), (0, SEQ, b""), "the waiting cat (status, out, err)")


def test_producer_writing_nothing_ends_waiting_cat(t):
    # As with a FIFO: the reader saw a writer come and go, so it ends.
    t.mkch("nw")
    data = t.cpath("nw", "data")
    p = t.spawn(["cat", data])
    t.wait_blocked(p, "read")
    rc, out, err = t.sh(': > "$1"', data)
    t.eq((rc, err), (0, b""), ": > data")
    rc, out, err = t.finish(p, 5)
    t.eq((rc, out, err), (0, b"", b""), "the waiting cat")
    # The rule is per reader: a new one waits for its own producer.
    p = t.spawn(["cat", data])
    t.wait_blocked(p, "read")
    t.still_waiting(p, "a new cat waits again", 0.3)
    rc, out, err = t.sh('printf two > "$1"', data)
    t.eq(rc, 0, "printf two > data")
    rc, out, err = t.finish(p, 5)
    t.eq((rc, out), (0, b"two"), "the second cat")


def test_eof_rmdir_reader_outlives_its_writers(t):
    """The os.pipe pi program ported naively: the parent reads while ten
    children each open data, write a partial sum and close it. By the FIFO
    rule (eof close, the default) the reader ends after the first child;
    with eof rmdir it waits across them all and ends at rmdir, with every
    line, in order."""
    t.mkch("pi")
    data = t.cpath("pi", "data")
    t.eq(t.cattr("pi", "eof"), "close\n", "eof by default")
    child = 'printf "part %s\\n" "$2" > "$1"'
    r = t.spawn(["cat", data])
    t.wait_blocked(r, "read")
    t.sh(child, data, "0")
    rc, out, err = t.finish(r, 3)
    t.eq((rc, out), (0, b"part 0\n"), "eof close: the reader ends after "
         "the first writer (the FIFO rule)")
    t.eq(t.set_cattr("pi", "eof", "rmdir\n"), 6, "echo rmdir > eof")
    t.eq(t.cattr("pi", "eof"), "rmdir\n", "eof after the write")
    r = t.spawn(["cat", data])
    t.wait_blocked(r, "read")
    for i in range(10):
        rc, out, err = t.sh(child, data, str(i))
        t.eq((rc, err), (0, b""), "child %d writes and closes" % i)
    t.wait_blocked(r, "read")
    t.still_waiting(r, "eof rmdir: the reader waits after ten writers", 0.3)
    t.rmch("pi")
    rc, out, err = t.finish(r, 3)
    t.eq((rc, out, err), (0, b"".join(b"part %d\n" % i for i in range(10)),
                          b""), "eof rmdir: every part, then the end at rmdir")


def test_eof_back_to_close_ends_waiting_reader(t):
    """A reader waiting under eof rmdir, having seen a writer: eof set back
    to close ends it at once (it is woken to see its end). A bad value is
    EINVAL and changes nothing."""
    t.mkch("bc")
    data = t.cpath("bc", "data")
    t.set_cattr("bc", "eof", "rmdir")
    for bad in ("bogus\n", "RMDIR\n", "close\n\n", "\n"):
        with pytest.raises(OSError) as e:
            t.set_cattr("bc", "eof", bad)
        t.eq(errname(e.value.errno), "EINVAL", "eof %r" % bad)
    t.eq(t.cattr("bc", "eof"), "rmdir\n", "eof unchanged by bad values")
    r = t.spawn(["cat", data])
    t.wait_blocked(r, "read")
    t.sh('echo last > "$1"', data)
    t.still_waiting(r, "the reader waits past its writer", 0.3)
    t0 = time.monotonic()
    t.set_cattr("bc", "eof", "close")
    rc, out, err = t.finish(r, 3)
    t.eq((rc, out), (0, b"last\n"), "the reader after eof close")
    el = time.monotonic() - t0
    t.true(el < 1, "ended in < 1 s", "%.2fs" % el)


def test_open_never_blocks(t):
    t.mkch("ow")
    t.mkch("or")
    for name, flags, what in (("ow", os.O_WRONLY, "write, no reader"),
                              ("or", os.O_RDONLY, "read, no writer")):
        t0 = time.monotonic()
        fd = t.open(t.cpath(name, "data"), flags)
        el = time.monotonic() - t0
        t.true(el < 0.5, "open for %s returns in < 0.5 s" % what,
               "%.2fs" % el)
        t.close(fd)
    # In another process too, as a shell opens it.
    t0 = time.monotonic()
    rc, out, err = t.sh('exec 3<"$1"; exec 4>"$2"; echo ok',
                        t.cpath("ow", "data"), t.cpath("or", "data"))
    el = time.monotonic() - t0
    t.eq((rc, out), (0, b"ok\n"), "sh: exec 3<data 4>data")
    t.true(el < 1, "sh opens both ends at once", "%.2fs" % el)


def test_read_returns_what_is_buffered(t):
    t.mkch("rb")
    w = t.open(t.cpath("rb", "data"), os.O_WRONLY)
    r = t.open(t.cpath("rb", "data"), os.O_RDONLY)
    with t.within(3, "write + read"):
        t.eq(os.write(w, b"hello"), 5, "write")
        t.eq(os.read(r, 65536), b"hello", "read(65536) with 5 buffered")
        t.eq(os.write(w, b"abcdef"), 6, "write")
        t.eq(os.read(r, 4), b"abcd", "read(4)")
        t.eq(os.read(r, 100), b"ef", "read(100) of the rest")
    t.close(w)
    t.eq(read_to_eof(t, r, 3), b"", "read after the only writer closed")


def test_counters(t):
    t.mkch("cnt")
    data = t.cpath("cnt", "data")
    r1 = t.open(data, os.O_RDONLY)
    r2 = t.open(data, RD_NB)
    w1 = t.open(data, os.O_WRONLY)
    t.eq(t.cattr("cnt", "readers"), "2\n", "readers with 2 read opens")
    t.eq(t.cattr("cnt", "writers"), "1\n", "writers with 1 write open")
    w2 = t.open(data, WR_NB)
    t.eq(t.cattr("cnt", "writers"), "2\n", "writers with 2 write opens")
    with t.within(3, "write"):
        t.eq(os.write(w1, b"0123456789"), 10, "write")
    t.eq(t.cattr("cnt", "bytes"), "10\n", "bytes after a write of 10")
    with t.within(3, "read"):
        t.eq(os.read(r2, 4), b"0123", "read(4)")
    t.eq(t.cattr("cnt", "bytes"), "6\n", "bytes after a read of 4")
    # A dup shares the open file description: still one.
    d = os.dup(w1)
    t.fds.append(d)
    t.eq(t.cattr("cnt", "writers"), "2\n", "writers after dup")
    for fd in (r1, r2, w1, w2, d):
        t.close(fd)
    t.wait_cattr("cnt", "readers", "0\n")
    t.wait_cattr("cnt", "writers", "0\n")
    t.eq(t.cattr("cnt", "bytes"), "6\n", "bytes kept after every close")
    rw = t.open(data, os.O_RDWR)
    r, w = t.cattr("cnt", "readers"), t.cattr("cnt", "writers")
    t.check("an O_RDWR open counts as a reader and a writer",
            (r, w) == ("1\n", "1\n"), "readers %r, writers %r" % (r, w))
    t.close(rw)
    t.wait_cattr("cnt", "readers", "0\n")
    t.wait_cattr("cnt", "writers", "0\n")
    # Children's opens count too, and their deaths end them.
    p = t.spawn(["sh", "-c", 'exec 3<"$1" 4>"$1" 5>"$1"; sleep 30', "sh",
                 data])
    t.wait_value(lambda: t.cattr("cnt", "writers"), "2\n", 3)
    t.eq((t.cattr("cnt", "readers"), t.cattr("cnt", "writers")),
         ("1\n", "2\n"), "(readers, writers) held by a child")
    t.kill(p)
    t.wait_cattr("cnt", "readers", "0\n")
    t.wait_cattr("cnt", "writers", "0\n")


# ---------------------------------------------------------------------------
# capacity and O_NONBLOCK


def test_capacity_attribute(t):
    t.mkch("cap")
    for bad in (b"abc", b"abc\n", b"-1\n", b"12x\n", b"\n"):
        with t.within(5, "write capacity"):
            t.raises(errno.EINVAL, t.set_cattr, "cap", "capacity", bad,
                     what="write %r to capacity" % bad)
    t.eq(t.cattr("cap", "capacity"), "65536\n", "capacity after bad writes")
    w = t.open(t.cpath("cap", "data"), WR_NB)
    r = t.open(t.cpath("cap", "data"), RD_NB)
    buf = bytes(i % 251 for i in range(5000))
    with t.within(3, "write"):
        t.eq(os.write(w, buf), 5000, "write of 5000")
    try:
        t.set_cattr("cap", "capacity", "4096\n")
        got = "succeeded"
    except OSError as e:
        got = errname(e.errno)
    t.true(got in ("EBUSY", "EINVAL"), "capacity below what is buffered "
           "refused with EBUSY or EINVAL", got)
    t.eq(t.cattr("cap", "capacity"), "65536\n", "capacity after the refusal")
    t.eq(t.cattr("cap", "bytes"), "5000\n", "bytes after the refusal")
    t.eq(t.set_cattr("cap", "capacity", "5000\n"), 5,
         "capacity = what is buffered")
    t.eq(t.cattr("cap", "capacity"), "5000\n", "capacity")
    with t.within(3, "write"):
        t.raises(errno.EAGAIN, os.write, w, b"x",
                 what="O_NONBLOCK write to the full channel")
    t.eq(t.set_cattr("cap", "capacity", "8192"), 4, "grow to 8192")
    with t.within(3, "write"):
        t.eq(os.write(w, b"y" * 5000), 3192,
             "O_NONBLOCK write of 5000 with 3192 free")
    t.eq(read_exactly(t, r, 8192), buf + b"y" * 3192, "contents")
    # A writer parked on the full channel goes on when it grows.
    t.eq(t.cattr("cap", "bytes"), "0\n", "bytes")
    with t.within(3, "write"):
        t.eq(os.write(w, b"z" * 8192), 8192, "fill")
    p = t.py(WRITER, t.cpath("cap", "data"), "late")
    t.wait_blocked(p, "write")
    t0 = time.monotonic()
    t.set_cattr("cap", "capacity", "12288\n")
    rc, out, err = t.finish(p, 3)
    el = time.monotonic() - t0
    t.eq((rc, out), (0, b"wrote 4\n"), "parked writer after capacity grew")
    t.true(el < 2, "it went on in < 2 s", "%.2fs" % el)
    t.eq(read_exactly(t, r, 8196), b"z" * 8192 + b"late", "contents")


def test_capacity_huge_number_is_EINVAL(t):
    """A number too large for a long is EINVAL, as for every attribute;
    the capacity stays."""
    t.mkch("hugecap")
    for bad in (b"99999999999999999999\n", b"99999999999999999999",
                b"-99999999999999999999\n", b"9223372036854775808\n"):
        with t.within(5, "write capacity"):
            t.raises(errno.EINVAL, t.set_cattr, "hugecap", "capacity", bad,
                     what="write %r to capacity" % bad)
    t.eq(t.cattr("hugecap", "capacity"), "65536\n",
         "capacity after the refused writes")


def test_nonblock_capacity_4096(t):
    t.mkch("nb")
    data = t.cpath("nb", "data")
    rc, out, err = t.sh('echo 4096 > "$1"', t.cpath("nb", "capacity"))
    t.eq((rc, err), (0, b""), "echo 4096 > capacity")
    t.eq(t.cattr("nb", "capacity"), "4096\n", "capacity")
    r = t.open(data, RD_NB)
    with t.within(3, "read"):
        t.raises(errno.EAGAIN, os.read, r, 100,
                 what="O_NONBLOCK read of an idle empty channel")
    w = t.open(data, WR_NB)
    with t.within(3, "read"):
        t.raises(errno.EAGAIN, os.read, r, 100,
                 what="O_NONBLOCK read of an empty channel with a writer")
    buf = bytes((i * 7 + 3) % 251 for i in range(4097))
    with t.within(3, "writes"):
        t.eq(os.write(w, buf), 4096, "O_NONBLOCK write of 4097 into 4096")
        t.raises(errno.EAGAIN, os.write, w, buf[4096:],
                 what="the next O_NONBLOCK write")
    t.eq(t.cattr("nb", "bytes"), "4096\n", "bytes")
    with t.within(3, "read"):
        t.eq(os.read(r, 8192), buf[:4096], "read of all")
        t.raises(errno.EAGAIN, os.read, r, 100,
                 what="O_NONBLOCK read when drained, writer open")
    # Writes of at most 4096 bytes are atomic: with 2000 free, one of 3000
    # gets EAGAIN; one of 5000 goes in part.
    with t.within(3, "writes"):
        t.eq(os.write(w, b"a" * 3096), 3096, "write of 3096")
        t.eq(os.write(w, b"b" * 1000), 1000, "write of 1000 with 1000 free")
        t.raises(errno.EAGAIN, os.write, w, b"c",
                 what="write of 1 to the full channel")
        t.eq(os.read(r, 2000), b"a" * 2000, "read of 2000")
        t.raises(errno.EAGAIN, os.write, w, b"d" * 3000,
                 what="O_NONBLOCK write of 3000 (<= 4096) with 2000 free")
        t.eq(os.write(w, b"e" * 5000), 2000,
             "O_NONBLOCK write of 5000 (> 4096) with 2000 free")
    t.close(w)
    t.eq(read_to_eof(t, r, 3), b"a" * 1096 + b"b" * 1000 + b"e" * 2000,
         "the rest, then end-of-file once the writer closed")


# ---------------------------------------------------------------------------
# poll


def test_poll_reports_readiness(t):
    t.mkch("pl")
    data = t.cpath("pl", "data")
    t.set_cattr("pl", "capacity", "8192")
    IN, OUT = select.POLLIN, select.POLLOUT
    r = t.open(data, RD_NB)
    ev = t.revents(r, IN)
    t.true(not ev & IN, "no POLLIN on an idle empty channel", pev(ev))
    w = t.open(data, WR_NB)
    ev = t.revents(w, OUT)
    t.true(ev & OUT, "POLLOUT on an empty channel", pev(ev))
    ev = t.revents(r, IN)
    t.true(not ev & IN, "no POLLIN on an empty channel with a writer",
           pev(ev))
    with t.within(3, "write"):
        os.write(w, b"x")
    ev = t.revents(r, IN)
    t.true(ev & IN, "POLLIN with 1 byte buffered", pev(ev))
    with t.within(3, "read"):
        t.eq(os.read(r, 10), b"x", "read")
    ev = t.revents(r, IN)
    t.true(not ev & IN, "no POLLIN once drained", pev(ev))
    with t.within(3, "write"):
        t.eq(os.write(w, b"f" * 8192), 8192, "fill")
    ev = t.revents(w, OUT)
    t.true(not ev & OUT, "no POLLOUT on a full channel", pev(ev))
    ev = t.revents(r, IN)
    t.true(ev & IN, "POLLIN on a full channel", pev(ev))
    with t.within(3, "read"):
        t.eq(os.read(r, 1), b"f", "read 1")
    # With 1 byte free a 1-byte write would not block, a 4096-byte one
    # would: either answer is truthful (a pipe says no POLLOUT).
    t.note("POLLOUT with 1 byte free: %s" % pev(t.revents(w, OUT)))
    read_exactly(t, r, 4095)
    ev = t.revents(w, OUT)
    t.true(ev & OUT, "POLLOUT with 4096 of 8192 free", pev(ev))
    read_exactly(t, r, 4096)
    # Waiting in poll: woken by another process's write ...
    p = t.spawn(["sh", "-c", 'sleep 0.3; printf y > "$1"', "sh", data])
    t0 = time.monotonic()
    ev = t.revents(r, IN, 3000)
    el = time.monotonic() - t0
    t.true(ev & IN and el < 2, "poll for POLLIN woken by a write in < 2 s",
           "%s after %.2fs" % (pev(ev), el))
    t.finish(p, 3)
    with t.within(3, "read"):
        t.eq(os.read(r, 10), b"y", "read")
    # ... and for POLLOUT by another process's read.
    with t.within(3, "write"):
        t.eq(os.write(w, b"g" * 8192), 8192, "fill")
    p = t.py(READ_SOME, data, "4096", "0.3")
    t0 = time.monotonic()
    ev = t.revents(w, OUT, 3000)
    el = time.monotonic() - t0
    t.true(ev & OUT and el < 2, "poll for POLLOUT woken by a read in < 2 s",
           "%s after %.2fs" % (pev(ev), el))
    rc, out, err = t.finish(p, 3)
    t.eq((rc, out), (0, b"4096\n"), "the reader child")
    read_exactly(t, r, 4096)
    # End-of-file is readable.
    t.close(w)
    t0 = time.monotonic()
    ev = t.revents(r, IN, 3000)
    el = time.monotonic() - t0
    t.true(ev & IN and el < 2, "POLLIN at end-of-file (last writer closed) "
           "in < 2 s", "%s after %.2fs" % (pev(ev), el))
    with t.within(3, "read"):
        t.eq(os.read(r, 10), b"", "read at end-of-file")


# ---------------------------------------------------------------------------
# Bulk and concurrency


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_tmpdir(t):
    return tempfile.mkdtemp(prefix="ipcfs-chan-")


@pytest.mark.deadline(120)
def test_dd_32MiB_through_a_channel(t):
    t.mkch("dd")
    data = t.cpath("dd", "data")
    d = make_tmpdir(t)
    try:
        src, dst = os.path.join(d, "in"), os.path.join(d, "out")
        with open(src, "wb") as f:
            for _ in range(32):
                f.write(os.urandom(1 << 20))
        rd = t.spawn(["dd", "if=" + data, "of=" + dst, "bs=1M"])
        t.wait_blocked(rd, "read")
        t0 = time.monotonic()
        wr = t.spawn(["dd", "if=" + src, "of=" + data, "bs=1M"])
        rcw, _, errw = t.finish(wr, 90)
        rcr, _, errr = t.finish(rd, 10)
        el = time.monotonic() - t0
        t.eq(rcw, 0, "writer dd status (stderr %r)" % errw[-300:])
        t.eq(rcr, 0, "reader dd status (stderr %r)" % errr[-300:])
        t.note("32 MiB through a channel with dd bs=1M: %.2fs" % el)
        t.eq(os.path.getsize(dst), 32 << 20, "size of what the reader got")
        t.eq(sha256_of(dst), sha256_of(src), "sha256 of what the reader got")
        t.eq(t.cattr("dd", "bytes"), "0\n", "bytes at the end")
    finally:
        shutil.rmtree(d, ignore_errors=True)


READ_UPTO = r'''
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
want, got = int(sys.argv[2]), b""
while len(got) < want:
    b = os.read(fd, want - len(got))
    if not b:
        break
    got += b
with open(sys.argv[3], "wb") as out:
    out.write(got)
'''


def test_large_write_to_parked_readers_in_order(t):
    """A 1 MiB write to an empty channel that two readers wait on: the
    first parked reader gets the first 300000 bytes it asked for, the next
    the rest of the write, in order (in as many reads as the kernel cut the
    write into: a buffer not on a page boundary comes in two requests); a
    third, small, reader then gets the next write. Exact bytes everywhere,
    nothing left."""
    t.mkch("ho")
    data = t.cpath("ho", "data")
    t.set_cattr("ho", "capacity", str(1 << 20))
    pattern = bytes(range(251)) * 4178  # 1048678 bytes: cut to 1 MiB
    pattern = pattern[:1 << 20]
    d = make_tmpdir(t)
    try:
        outs = [os.path.join(d, "r%d" % i) for i in range(3)]
        first = t.py(READ_UPTO, data, "300000", outs[0])
        t.wait_blocked(first, "read")
        second = t.py(READ_UPTO, data, str((1 << 20) - 300000), outs[1])
        t.wait_blocked(second, "read")
        with t.opened(data, os.O_WRONLY, what="write 1 MiB") as fd:
            t.eq(os.write(fd, pattern), 1 << 20, "the write, whole")
            for p in (first, second):
                rc, _, err = t.finish(p, 10)
                t.eq(rc, 0, "reader status (stderr %r)" % err[-300:])
            with open(outs[0], "rb") as f:
                t.eq(f.read(), pattern[:300000], "the first reader's bytes")
            with open(outs[1], "rb") as f:
                t.eq(f.read(), pattern[300000:], "the second reader's bytes")
            t.eq(t.cattr("ho", "bytes"), "0\n", "bytes after both")
            third = t.py(READ_UPTO, data, "5", outs[2])
            t.wait_blocked(third, "read")
            t.eq(os.write(fd, b"after"), 5, "a small write")
            rc, _, err = t.finish(third, 10)
            t.eq(rc, 0, "small reader status (stderr %r)" % err[-300:])
            with open(outs[2], "rb") as f:
                t.eq(f.read(), b"after", "the small reader's bytes")
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.deadline(120)
def test_parked_writer_never_misses_its_wake(t):
    """1 MiB writes into a 64 KiB channel park the writer again and again;
    a read that frees room while the loop is retrying it must still wake
    it. Many short rounds make that window likely (it once hung dd)."""
    t.mkch("rounds")
    data = t.cpath("rounds", "data")
    d = make_tmpdir(t)
    try:
        src, dst = os.path.join(d, "in"), os.path.join(d, "out")
        with open(src, "wb") as f:
            for _ in range(32):
                f.write(os.urandom(1 << 20))
        want = sha256_of(src)
        for i in range(40):
            rd = t.spawn(["dd", "if=" + data, "of=" + dst, "bs=1M"])
            wr = t.spawn(["dd", "if=" + src, "of=" + data, "bs=1M"])
            rcw, _, errw = t.finish(wr, 10)
            rcr, _, errr = t.finish(rd, 10)
            what = "round %d of 40" % (i + 1)
            t.eq((rcw, rcr), (0, 0), "%s: dd status (writer, reader); "
                 "stderr %r %r" % (what, errw[-200:], errr[-200:]))
            t.eq(os.path.getsize(dst), 32 << 20, "%s: size delivered" % what)
            t.eq(sha256_of(dst), want, "%s: sha256 of what was delivered"
                 % what)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def two_writers(t, name, capacity, reader):
    t.mkch(name)
    data = t.cpath(name, "data")
    if capacity:
        t.set_cattr(name, "capacity", str(capacity))
    d = make_tmpdir(t)
    try:
        dst = os.path.join(d, "out")
        hold = t.open(data, os.O_WRONLY)    # no end-of-file between writers
        ws = [t.py(BLOCK_WRITER, data, str(first), "50", stdin=PIPE)
              for first in (1, 101)]
        for p in ws:
            p.stdin.write(b"go\n")
            p.stdin.flush()
        # Both fill the channel and park before the reader starts, so they
        # contend for every bit of room it makes.
        for p in ws:
            t.wait_blocked(p, "write")
        if reader == "cat":
            with open(dst, "wb") as f:
                rd = t.spawn(["cat", data], stdout=f)
        else:
            rd = t.py(CHUNK_READER, data, dst, str(reader))
        for p in ws:
            rc, out, err = t.finish(p, 30)
            t.eq((rc, out, err), (0, b"done\n", b""), "writer `%s`" % p.what)
        t.close(hold)
        rc, out, err = t.finish(rd, 10)
        t.eq((rc, err), (0, b""), "reader (status, stderr)")
        with open(dst, "rb") as f:
            got = f.read()
        t.eq(len(got), 100 * 4096, "bytes the reader got")
        blocks = [got[i:i + 4096] for i in range(0, len(got), 4096)]
        mixed = [(i, sorted(set(b))[:5]) for i, b in enumerate(blocks)
                 if len(set(b)) != 1]
        t.true(not mixed, "every 4096-byte block is one writer's whole "
               "write", "%d mixed blocks, e.g. (block, byte values) %s" % (
                   len(mixed), mixed[:3]))
        vals = [b[0] for b in blocks]
        t.eq(sorted(vals), list(range(1, 51)) + list(range(101, 151)),
             "each block exactly once")
        for lo in (1, 101):
            mine = [v for v in vals if lo <= v < lo + 50]
            t.eq(mine, sorted(mine), "writer %d's blocks in order" % lo)
        switches = sum(1 for a, b in zip(vals, vals[1:])
                       if (a < 100) != (b < 100))
        t.note("%s: the writers took turns %d times" % (name, switches))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_two_writers_whole_blocks_cat(t):
    two_writers(t, "tw", None, "cat")


def test_two_writers_whole_blocks_odd_capacity_and_reads(t):
    # 10000 is no multiple of 4096 and the reader frees 3000 at a time: a
    # write that does not fit whole must wait, not go in part.
    two_writers(t, "to", 10000, 3000)


# ---------------------------------------------------------------------------
# Signals


def interrupted_writer(t, name, drain, sig):
    data = t.cpath(name, "data")
    pre, w = fill(t, name)
    p = t.py(INTR_WRITER, data, "W", "10000")
    t.wait_blocked(p, "write")
    r = t.open(data, RD_NB)
    took = b""
    if drain:
        with t.within(3, "read"):
            took = os.read(r, drain)
        t.eq(took, pre[:drain], "read of %d while the writer is parked" %
             drain)
        t.wait_value(lambda: t.cattr(name, "bytes"), "4096\n", 1)
        t.wait_blocked(p, "write")
    inside = int(t.cattr(name, "bytes"))
    t0 = time.monotonic()
    os.kill(p.pid, sig)
    rc, out, err = t.finish(p, 3)
    el = time.monotonic() - t0
    t.true(el < 2, "the writer returns in < 2 s after %s" %
           signal.Signals(sig).name, "%.2fs" % el)
    t.eq(rc, 0, "writer status (stderr %r)" % err[-300:])
    if out == b"EINTR\n":
        n = 0
    elif out.startswith(b"wrote "):
        n = int(out.split()[1])
    else:
        raise Fail("the interrupted writer said %r" % out)
    t.note("%s: %s after %d of 10000 went in (bytes %d)" % (
        name, out.decode().strip(), inside - (4096 - len(took)), inside))
    t.close(w)
    settle_bytes(t, name, 4096 - len(took) + n, "bytes = the pre-filled "
                 "ones left + what the writer reported (%d)" % n)
    rest = read_to_eof(t, r, 3)
    t.eq(rest, pre[len(took):] + b"W" * n, "what is readable: the rest of "
         "the pre-filled bytes, then exactly the %d the writer reported" % n)


def test_interrupted_writer_nothing_in(t):
    t.mkch("iw0")
    interrupted_writer(t, "iw0", 0, signal.SIGINT)


def test_interrupted_writer_part_in(t):
    t.mkch("iw1")
    interrupted_writer(t, "iw1", 3000, signal.SIGALRM)


@pytest.mark.deadline(120)
def test_interrupt_storm_loses_and_duplicates_nothing(t):
    # Reader and writer both take SIGALRM about every millisecond while they
    # wait on a small channel; what the reader ends with is exactly the
    # writer's stream.
    t.mkch("st")
    data = t.cpath("st", "data")
    t.set_cattr("st", "capacity", "4096")
    total = 1 << 20
    want = b"".join(b"%07d\n" % i for i in range(total // 8))
    d = make_tmpdir(t)
    try:
        dst = os.path.join(d, "out")
        rd = t.py(STORM, "r", data, str(total), dst)
        wr = t.py(STORM, "w", data, str(total), "-")
        rcw, outw, errw = t.finish(wr, 90)
        rcr, outr, errr = t.finish(rd, 10)
        t.note(outw.decode(errors="replace").strip())
        t.note(outr.decode(errors="replace").strip())
        t.eq(rcw, 0, "writer status (out %r, stderr %r)" % (outw, errw[-300:]))
        t.eq(rcr, 0, "reader status (out %r, stderr %r)" % (outr, errr[-300:]))
        with open(dst, "rb") as f:
            got = f.read()
        if got != want:
            i = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                     min(len(got), len(want)))
            raise Fail("the reader got %d bytes of %d, first difference at "
                       "%d: got %r, expected %r" % (
                           len(got), len(want), i, got[max(0, i - 8):i + 24],
                           want[max(0, i - 8):i + 24]))
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------------------
# rmdir


def test_rmdir_wakes_reader_that_never_saw_a_writer(t):
    # (A reader while a writer holds the channel, and a parked writer:
    # test_waits.py.)
    t.mkch("rr")
    r = t.spawn(["cat", t.cpath("rr", "data")])
    t.wait_blocked(r, "read")
    t0 = time.monotonic()
    t.rmch("rr")
    rc, out, err = t.finish(r, 3)
    t.eq((rc, out, err), (0, b"", b""), "blocked cat on the idle channel "
         "after rmdir (status, out, err)")
    el = time.monotonic() - t0
    t.true(el < 2, "woken in < 2 s", "%.2fs" % el)
    with t.within(5, "ls channels"):
        t.eq(sorted(os.listdir(t.cpath(""))), [], "ls channels after rmdir")


def test_rmdir_empty_and_full_then_mkdir_again(t):
    t.mkch("re")
    t.rmch("re")
    with t.within(5, "ls"):
        t.true("re" not in os.listdir(t.cpath("")), "re not listed")
        t.raises(errno.ENOENT, os.stat, t.cpath("re"), what="stat after rmdir")
        t.raises(errno.ENOENT, os.stat, t.cpath("re", "data"),
                 what="stat of data after rmdir")
    t.mkch("re")
    rc, out, err = t.sh('echo old > "$1"', t.cpath("re", "data"))
    t.eq(rc, 0, "echo old > data")
    t.set_cattr("re", "capacity", "8192")
    t.rmch("re")
    t.mkch("re")
    t.eq((t.cattr("re", "bytes"), t.cattr("re", "capacity")),
         ("0\n", "65536\n"), "(bytes, capacity) of a new channel of that name")
    rc, out, err = t.sh('echo new > "$1"; cat "$1"', t.cpath("re", "data"))
    t.eq((rc, out), (0, b"new\n"), "echo new > data; cat data")


# ---------------------------------------------------------------------------
# Scale


@pytest.mark.deadline(200)
def test_thousand_blocked_readers(t):
    n = 1000
    t.mkch("many")
    t.mkch("other")
    t.mkq("rt")
    data = t.cpath("many", "data")
    hold = t.open(data, os.O_WRONLY)
    waits_before = t.thread_waits()
    before = sum(waits_before.values())
    procs = []
    counts = []
    for upto in (100, n):
        with t.within(90, "spawning %d cats" % (upto - len(procs))):
            procs += [t.spawn(["cat", data], stdout=DEVNULL, stderr=DEVNULL)
                      for _ in range(upto - len(procs))]
        t.wait_all_blocked(procs, "read", 60,
                           "all %d cats block in read" % upto)
        time.sleep(0.5)
        waits_after = t.thread_waits()
        counts.append(sum(waits_after.values()))
    at100, after = counts
    t.note("daemon threads: %d before, %d with 100 parked readers, %d with "
           "%d" % (before, at100, after, n))
    # Parked readers cost no thread: the count stays within libfuse's
    # worker pool (max_threads, 10 by default), the event loop, the
    # notifier and main, whatever the number of readers. The pool itself
    # may have grown to its bound under the burst of opens (idle workers
    # are kept).
    t.check("daemon thread count bounded (<= 13) with %d parked readers" % n,
            after <= 13 and at100 <= 13, "%d before, %d at 100, %d after; "
            "where they wait: before %s, after %s" % (
                before, at100, after, waits_before, waits_after))
    # libfuse's worker pool may grow under the burst of 1000 opens (up to
    # its max_threads), but those workers wait for requests in the FUSE
    # device: no thread may wait anywhere else for a parked reader.
    idle = "fuse_dev_do_read"
    busy_before = {k: v for k, v in waits_before.items() if k != idle}
    busy_after = {k: v for k, v in waits_after.items() if k != idle}
    t.check("no more daemon threads waiting outside the FUSE device read "
            "with %d parked readers" % n, busy_after == busy_before,
            "before %s, after %s" % (waits_before, waits_after))
    t.check("readers is %d" % n, t.cattr("many", "readers") ==
            "%d\n" % n, "readers %r" % t.cattr("many", "readers"))
    t0 = time.monotonic()
    with t.within(10, "ls queues + queue round trip"):
        listed = os.listdir(t.qpath(""))
        t.write_file(t.qpath("rt", "data"), b"ping")
        got = t.read_file(t.qpath("rt", "data"), 100)
    el = time.monotonic() - t0
    t.check("ls MNT/queues + a queue round trip through data take < 1 s",
            el < 1 and got == b"ping" and "rt" in listed,
            "%.2fs, got %r, listed %s" % (el, got, listed[:5]))
    t0 = time.monotonic()
    with t.within(10, "channel round trip"):
        chans = os.listdir(t.cpath(""))
        with t.opened(t.cpath("other", "data"), os.O_WRONLY) as fd:
            os.write(fd, b"pong")
            got = t.read_file(t.cpath("other", "data"), 100, flags=RD_NB)
    el = time.monotonic() - t0
    t.check("ls channels + a round trip on another channel take < 1 s",
            el < 1 and got == b"pong" and sorted(chans) == ["many", "other"],
            "%.2fs, got %r, listed %s" % (el, got, chans))
    # One byte wakes one reader; the last writer's close ends them all.
    with t.within(3, "write"):
        os.write(hold, b"!")
    t.eq(t.wait_value(lambda: t.cattr("many", "bytes"), "0\n", 5, 0.05),
         "0\n", "the byte was taken")
    t0 = time.monotonic()
    t.close(hold)
    end = time.monotonic() + 30
    rcs = [t.wait_exit(p, max(0.0, end - time.monotonic())) for p in procs]
    el = time.monotonic() - t0
    bad = [rc for rc in rcs if rc != 0]
    t.check("closing the writer ends all %d readers with exit 0 (%.2fs)" %
            (n, el), not bad, "%d did not, e.g. %s" % (len(bad), bad[:5]))
    for p in procs:
        if p.returncode is not None and p in t.procs:
            t.procs.remove(p)
    t.wait_cattr("many", "readers", "0\n", 10)


# ---------------------------------------------------------------------------
# Options


def in_cap_mount(t, tag, what, fn):
    """Run fn(channels dir) on a fresh tree mounted with -o
    chan_max_total=131072,chan_capacity=65536: one check line."""
    m = t.extra_mount(tag, chan_max_total=131072, chan_capacity=65536)
    detail = ""
    try:
        fn(os.path.join(m.mnt, "channels"))
    except Fail as e:
        detail = str(e)
    except OSError as e:
        detail = "%s: %s" % (type(e).__name__, e)
    finally:
        errs = t.extra_unmount(m)
    t.check(what, not detail and not errs, "; ".join([detail] + errs))


def cap_get(t, ch, name):
    return t.read_file(os.path.join(ch, name, "capacity")).decode()


def cap_set(t, ch, name, v):
    try:
        return t.write_file(os.path.join(ch, name, "capacity"), v.encode())
    except OSError as e:
        raise OSError(e.errno, "write %s to channels/%s/capacity: %s" % (
            v, name, os.strerror(e.errno)))


def mk(t, ch, name):
    with t.within(5, "mkdir"):
        os.mkdir(os.path.join(ch, name), 0o600)


def rm(t, ch, name):
    with t.within(5, "rmdir"):
        os.rmdir(os.path.join(ch, name))


def ls(t, ch):
    with t.within(5, "ls"):
        return sorted(os.listdir(ch))


def test_chan_max_total_gives_ENOSPC(t):
    def basic(ch):
        mk(t, ch, "a")
        mk(t, ch, "b")
        t.raises(errno.ENOSPC, mk, t, ch, "c",
                 what="third mkdir (3 x 65536 > 131072)")
        t.eq(ls(t, ch), ["a", "b"], "ls channels")
        # bash: dash's echo says "I/O error" whatever the errno.
        rc, out, err = t.run(["bash", "-c", 'echo 1000000 > "$1"', "bash",
                              os.path.join(ch, "a", "capacity")])
        t.true(rc != 0 and b"No space left on device" in err,
               "echo 1000000 > capacity fails with ENOSPC",
               "status %s, stderr %r" % (rc, err))
        t.raises(errno.ENOSPC, cap_set, t, ch, "a", "65537",
                 what="capacity 65537")
        t.eq(cap_get(t, ch, "a"), "65536\n", "capacity after ENOSPC")
        rm(t, ch, "b")
        mk(t, ch, "c")
        t.raises(errno.ENOSPC, mk, t, ch, "d", what="mkdir past the cap")
        t.eq(ls(t, ch), ["a", "c"], "ls channels")
    in_cap_mount(t, "cmax1", "2 mkdirs fit, the 3rd and capacity past the "
                 "cap are ENOSPC; rmdir gives room back", basic)

    def shrink(ch):
        mk(t, ch, "a")
        mk(t, ch, "b")
        cap_set(t, ch, "a", "4096")
        cap_set(t, ch, "b", "126976")       # 4096 + 126976 = 131072
        t.eq(cap_get(t, ch, "b"), "126976\n", "capacity filling the cap")
        t.raises(errno.ENOSPC, cap_set, t, ch, "b", "126977",
                 what="capacity one past the cap")
    in_cap_mount(t, "cmax2", "shrinking a channel gives room to another",
                 shrink)

    def grow(ch):
        mk(t, ch, "x")
        cap_set(t, ch, "x", "131072")
        t.eq(cap_get(t, ch, "x"), "131072\n", "capacity = the whole cap")
        t.raises(errno.ENOSPC, mk, t, ch, "y",
                 what="mkdir once one channel holds the whole cap")
        t.eq(ls(t, ch), ["x"], "ls channels")
    in_cap_mount(t, "cmax3", "growing a channel takes room (no mkdir past "
                 "the cap after it)", grow)

    def released(ch):
        mk(t, ch, "x")
        cap_set(t, ch, "x", "4096")
        rm(t, ch, "x")
        mk(t, ch, "p")
        mk(t, ch, "q")
        t.eq(ls(t, ch), ["p", "q"], "ls channels")
    in_cap_mount(t, "cmax4", "rmdir of a resized channel gives all its room "
                 "back", released)


def test_chan_capacity_option_and_channels_die_with_daemon(t):
    m = t.extra_mount("ccap", chan_capacity=8192)
    try:
        with t.within(5, "mkdir"):
            os.mkdir(m.path("channels", "x"), 0o600)
            with open(m.path("channels", "x", "capacity")) as f:
                t.eq(f.read(), "8192\n", "capacity with -o chan_capacity=8192")
            t.eq(t.write_file(m.path("channels", "x", "data"), b"k" * 9000,
                              WR_NB), 8192, "O_NONBLOCK write of 9000")
    finally:
        errs = t.extra_unmount(m)
    t.true(not errs, "extra mount unmounted cleanly", "; ".join(errs))
    m = t.extra_mount("ccap2", chan_capacity=8192)
    try:
        with t.within(5, "ls"):
            t.eq(os.listdir(m.path("channels", "")), [],
                 "channels/ of a new daemon")
    finally:
        errs = t.extra_unmount(m)
    t.true(not errs, "extra mount unmounted cleanly", "; ".join(errs))


def test_bad_channel_options_refused(t):
    for opt in ("chan_capacity=abc", "chan_capacity=-1", "chan_max_total=abc",
                "chan_max_total=12k"):
        rc, out, err, mounted = t.start_refused(opt, foreground=False)
        out += err
        name = opt.split("=")[0]
        t.check("-o %s refused" % opt,
                rc not in (0, None) and not mounted and name in out,
                "exit %s, mounted %s, output %r" % (rc, mounted, out[-300:]))
    rc, out, err = t.run([t.ipcfs, "--help"], timeout=5)
    text = (out + err).decode(errors="replace")
    t.check("--help names chan_capacity and chan_max_total",
            rc == 0 and "chan_capacity" in text and "chan_max_total" in text,
            "exit %s, output %r" % (rc, text[-300:]))

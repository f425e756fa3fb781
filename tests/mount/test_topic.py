# SPDX-License-Identifier: GPL-2.0-or-later
"""topics/NAME: broadcast (DESIGN §2). One write to `data` is one message,
published to every file of `data` open for reading at that moment; each
reader gets every message since it opened, one per read, in order; writers
never wait; a reader more than `backlog` behind loses its oldest, counted
in `dropped`; an interrupted read takes nothing; poll is truthful; rmdir
ends readers with end-of-file; 1000 parked readers cost no thread; the
mount-wide cap (-o topic_max_total) gives ENOSPC and nothing published.
Exact bytes and errno throughout; extra trees for the mount options."""

import errno
import mmap
import os
import re
import select
import signal
import struct
import threading
import time

import pytest

from harness import Harness
from mount import StepTimeout
from procs import SYSCALLS

RD_NB = os.O_RDONLY | os.O_NONBLOCK
IN, OUT = select.POLLIN, select.POLLOUT
FILES = ["backlog", "data", "dropped", "published", "subscribers",
         "waiters"]                                             # DESIGN
# The largest message: 1 MiB less 4 KiB (IPC_MSG_MAX, backends/ipc.h). The
# kernel splits a write(2) at 256 pinned pages, so a buffer not aligned to a
# page is split sooner than 1 MiB: only up to 1 MiB - 4096 bytes is one FUSE
# write (and one FUSE read) wherever the buffer lies.
MAX_MSG = (1 << 20) - 4096
# What a write(2) on a `data` left open across rmdir gets: EIDRM, as the
# kind says (backends/topic.c: a topic without readers takes writes, so
# EPIPE would say the wrong thing). Readers read what they still had, then
# end-of-file.
WRITE_AFTER_RMDIR = (errno.EIDRM,)


class TopicHarness(Harness):
    """The shared harness, plus topics/: paths, attribute files, publish."""

    def tpath(self, name, *rest):
        return self.path("topics", name, *rest)

    def mktopic(self, name, mode=0o666):
        if "topics" not in self.kinds():
            self.fail("no topics/ in this tree (kinds: %s)" % self.kinds())
        return self.mkobj("topics", name, mode)

    def rmtopic(self, name):
        self.rmobj("topics", name)

    def tattr(self, name, attr):
        return self.read_file(self.tpath(name, attr)).decode()

    def tnum(self, name, attr):
        return int(self.tattr(name, attr))

    def wait_tattr(self, name, attr, want, timeout=2.0):
        """Attribute ATTR reads `want` within `timeout` s (a close is seen
        by the daemon a moment after close(2) returns)."""
        got = self.wait_value(lambda: self.tattr(name, attr), want, timeout)
        self.eq(got, want, "%s of topics/%s" % (attr, name))

    def reader(self, name, flags=os.O_RDONLY):
        """A descriptor of NAME's data open for reading (closed by the
        teardown)."""
        return self.open(self.tpath(name, "data"), flags)

    def writer(self, name, flags=os.O_WRONLY):
        return self.open(self.tpath(name, "data"), flags)

    def publish(self, fd, msg, timeout=2.0):
        """One write(2) of MSG: it must return at once (writers never
        wait) with all of it."""
        with self.within(timeout, "publish %r" % msg[:40]):
            n = os.write(fd, msg)
        self.eq(n, len(msg), "write(2) of a %d-byte message" % len(msg))

    def take(self, fd, size=1 << 16, timeout=2.0):
        """One read(2) of a reader that has a message waiting."""
        with self.within(timeout, "read"):
            return os.read(fd, size)

    def nothing(self, fd, what):
        """An O_NONBLOCK read of FD (fcntl'ed so for the call) is EAGAIN:
        nothing waits for this reader."""
        fl = _set_nonblock(fd)
        try:
            self.raises(errno.EAGAIN, os.read, fd, 1 << 16, what=what)
        finally:
            _restore(fd, fl)


def _set_nonblock(fd):
    import fcntl
    fl = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, fl | os.O_NONBLOCK)
    return fl


def _restore(fd, fl):
    import fcntl
    fcntl.fcntl(fd, fcntl.F_SETFL, fl)


H = TopicHarness("topic")


def pev(ev):
    return "revents %#x" % ev


def msg(i):
    """The I-th message of a run: varied sizes, its number first."""
    return b"%04d %s\n" % (i, b"x" * (i % 53))


def frames(b):
    """Split what READN printed: [one read's bytes, ...]."""
    out, at = [], 0
    while at + 4 <= len(b):
        (n,) = struct.unpack_from("<I", b, at)
        out.append(b[at + 4:at + 4 + n])
        at += 4 + n
    if at != len(b):
        out.append(("torn frame at %d of %d" % (at, len(b))).encode())
    return out


# Opens argv[1] for reading, says "open", then does argv[2] reads of up to
# 64 KiB and prints each as a frame (4-byte length, then the bytes); stops
# early at end-of-file (an empty frame) or an error (its name as a frame).
READN = r'''
import errno, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
out = []
for _ in range(int(sys.argv[2])):
    try:
        b = os.read(fd, 1 << 16)
    except OSError as e:
        b = errno.errorcode.get(e.errno, str(e.errno)).encode()
        out.append(struct.pack("<I", len(b)) + b)
        break
    out.append(struct.pack("<I", len(b)) + b)
    if not b:
        break
sys.stdout.buffer.write(b"".join(out))
'''

# A reader that handles SIGINT (the handler raises, so the interrupted
# read(2) fails instead of being restarted): it prints "INT" for each and
# reads again; after argv[2] messages, "END" and the messages as frames.
INT_READER = r'''
import os, signal, struct, sys
class Int(Exception):
    pass
def on_int(signo, frame):
    raise Int()
signal.signal(signal.SIGINT, on_int)
fd = os.open(sys.argv[1], os.O_RDONLY)
got = []
while len(got) < int(sys.argv[2]):
    try:
        b = os.read(fd, 1 << 16)
    except Int:
        os.write(1, b"INT\n")
        continue
    got.append(b)
    if not b:
        break
os.write(1, b"END\n" + b"".join(struct.pack("<I", len(b)) + b for b in got))
'''

# A reader under a storm of SIGALRM (every 500 us): the handler returns, so
# Python restarts each interrupted read(2). Reads argv[2] messages or ends
# after 20 s; prints how many signals came, then the frames.
STORM_READER = r'''
import os, signal, struct, sys, time
n = [0]
def on_alrm(signo, frame):
    n[0] += 1
signal.signal(signal.SIGALRM, on_alrm)
fd = os.open(sys.argv[1], os.O_RDONLY)
os.write(1, b"open\n")
signal.setitimer(signal.ITIMER_REAL, 0.0005, 0.0005)
got = []
end = time.monotonic() + 20
while len(got) < int(sys.argv[2]) and time.monotonic() < end:
    b = os.read(fd, 1 << 16)
    got.append(b)
    if not b:
        break
signal.setitimer(signal.ITIMER_REAL, 0)
os.write(1, b"%d\n" % n[0] +
         b"".join(struct.pack("<I", len(b)) + b for b in got))
'''

# argv[2] threads, each with its own open file of argv[1] (opened first,
# one after another), read until end-of-file or an error; prints "open"
# once all are open, then, once every thread is done (or 60 s), a line per
# distinct outcome: COUNT REPR.
THREADS = r'''
import collections, os, sys, threading
threading.stack_size(1 << 18)
path, n = sys.argv[1], int(sys.argv[2])
fds = [os.open(path, os.O_RDONLY) for _ in range(n)]
res = [None] * n
def run(i):
    got = []
    while True:
        try:
            b = os.read(fds[i], 4096)
        except OSError as e:
            got.append(e.errno)
            break
        got.append(b)
        if not b:
            break
    res[i] = tuple(got)
ths = [threading.Thread(target=run, args=(i,), daemon=True)
       for i in range(n)]
for th in ths:
    th.start()
os.write(1, b"open\n")
for th in ths:
    th.join(60)
c = collections.Counter(res)
os.write(1, "".join("%d %r\n" % (v, k) for k, v in
                    sorted(c.items(), key=str)).encode())
'''


def blocked_threads(pid):
    """How many threads of process PID sleep in read(2)."""
    n = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return -1
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/syscall" % (pid, tid)) as f:
                sc = f.read().split()
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                s = f.read()
            state = s[s.rindex(")") + 2]
        except (OSError, ValueError, IndexError):
            continue
        if sc and sc[0] == SYSCALLS["read"] and state in "SD":
            n += 1
    return n


def read_all(t, path, timeout=5):
    """PATH read to end-of-file (an attribute file bigger than one read)."""
    with t.opened(path, os.O_RDONLY, timeout) as fd:
        out = []
        while True:
            b = os.read(fd, 1 << 16)
            if not b:
                return b"".join(out)
            out.append(b)


# ---------------------------------------------------------------------------
# The object


def test_mkdir_lists_topic_and_its_files(t):
    t.mktopic("ev")
    with t.within(5, "ls"):
        t.eq(sorted(os.listdir(t.tpath(""))), ["ev"], "ls topics")
        t.eq(sorted(os.listdir(t.tpath("ev"))), FILES, "ls topics/ev")
        modes = {f: os.stat(t.tpath("ev", f)).st_mode & 0o777
                 for f in ("data", "subscribers", "published", "backlog",
                           "dropped")}
    t.eq(modes["data"], 0o666, "mode of data (made 0666)")
    t.true(modes["backlog"] & 0o200, "backlog is writable",
           "mode %o" % modes["backlog"])
    for f in ("subscribers", "published", "dropped"):
        t.true(not modes[f] & 0o222, "%s is read-only" % f,
               "mode %o" % modes[f])
    t.eq([t.tattr("ev", a) for a in ("subscribers", "published", "backlog",
                                     "dropped", "waiters")],
         ["0\n", "0\n", "1024\n", "0\n", ""],
         "subscribers, published, backlog, dropped, waiters of a new topic")


# ---------------------------------------------------------------------------
# Broadcast


@pytest.mark.deadline(120)
def test_fifty_readers_each_get_all_thousand_in_order(t):
    n, k = 50, 1000
    t.mktopic("many")
    data = t.tpath("many", "data")
    procs = [t.py(READN, data, str(k)) for _ in range(n)]
    t.wait_tattr("many", "subscribers", "%d\n" % n, 30)
    want = [msg(i) for i in range(k)]
    w = t.writer("many")
    t0 = time.monotonic()
    with t.within(30, "%d publishes" % k):
        for m in want:
            t.eq(os.write(w, m), len(m), "write(2) of a message")
    el = time.monotonic() - t0
    t.note("%d publishes to %d readers took %.2fs" % (k, n, el))
    bad = []
    for i, p in enumerate(procs):
        rc, out, err = t.finish(p, 30)
        got = frames(out)
        if rc != 0 or got != want:
            j = next((j for j, (a, b) in enumerate(zip(got, want))
                      if a != b), min(len(got), len(want)))
            bad.append("reader %d: status %s, %d reads, first difference at "
                       "%d: %r, stderr %r" % (i, rc, len(got), j,
                                              got[j:j + 1], err[-200:]))
    t.true(not bad, "each of %d readers read the %d messages, one a read, "
           "in order" % (n, k), "%d did not: %s" % (len(bad), bad[:3]))
    t.eq(t.tattr("many", "published"), "%d\n" % k, "published")
    t.eq(t.tattr("many", "dropped"), "0\n", "dropped")
    t.wait_tattr("many", "subscribers", "0\n", 5)


def test_reader_gets_only_what_came_after_its_open(t):
    t.mktopic("late")
    w = t.writer("late")
    a = t.reader("late")
    t.publish(w, b"one\n")
    b = t.reader("late")
    t.publish(w, b"two\n")
    t.eq([t.take(a), t.take(a)], [b"one\n", b"two\n"],
         "the reader open before both")
    t.eq(t.take(b), b"two\n", "the reader opened after the first")
    t.nothing(a, "the first reader, all read")
    t.nothing(b, "the second reader, all read")
    c = t.reader("late")
    t.nothing(c, "a reader opened after both: nothing for it")
    t.eq(t.tattr("late", "published"), "2\n", "published")


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_read_ev_waits_for_the_next_one(t, shell):
    t.mktopic("ev")
    data = t.tpath("ev", "data")
    t.write_file(data, b"old\n")
    p = t.spawn([t.need(shell), "-c", 'read -r ev < "$1"; printf "%s|" '
                 '"$ev"', shell, data])
    t.wait_blocked(p, "read")
    t.still_waiting(p, "`read -r ev < data` waits for the next message")
    t0 = time.monotonic()
    t.write_file(data, b"new\n")
    rc, out, err = t.finish(p, 3)
    el = time.monotonic() - t0
    t.eq((rc, out, err), (0, b"new|", b""), "%s: read -r ev < data "
         "(status, ev, stderr)" % shell)
    t.true(el < 1, "woken in < 1 s", "%.2fs" % el)
    t.eq(t.tattr("ev", "published"), "2\n", "published")
    t.wait_tattr("ev", "subscribers", "0\n")


def test_slow_reader_loses_oldest_past_backlog(t):
    t.mktopic("bk")
    t.write_file(t.tpath("bk", "backlog"), b"10\n")
    t.eq(t.tattr("bk", "backlog"), "10\n", "backlog after writing 10")
    w = t.writer("bk")
    slow = t.reader("bk")
    fast = t.reader("bk")
    fast_got = []
    for i in range(10):
        t.publish(w, msg(i))
        fast_got.append(t.take(fast))
    t.eq(t.tattr("bk", "dropped"), "0\n", "dropped with the slow reader "
         "exactly backlog (10) behind")
    t.publish(w, msg(10))
    fast_got.append(t.take(fast))
    t.eq(t.tattr("bk", "dropped"), "1\n", "dropped with the slow reader "
         "11 behind")
    for i in range(11, 25):
        t.publish(w, msg(i))
        fast_got.append(t.take(fast))
    t.eq(fast_got, [msg(i) for i in range(25)], "the reader that keeps up "
         "lost nothing")
    t.nothing(fast, "the fast reader, all read")
    t.eq((t.tattr("bk", "published"), t.tattr("bk", "dropped")),
         ("25\n", "15\n"), "(published, dropped)")
    got = [t.take(slow) for _ in range(10)]
    t.eq(got, [msg(i) for i in range(15, 25)], "the slow reader reads the "
         "newest 10, in order")
    t.nothing(slow, "the slow reader, then")
    t.eq(t.tattr("bk", "dropped"), "15\n", "dropped after the slow reader "
         "caught up")
    # Caught up, it loses nothing more.
    t.publish(w, b"last\n")
    t.eq((t.take(slow), t.take(fast)), (b"last\n", b"last\n"),
         "one more, to both")
    t.eq(t.tattr("bk", "dropped"), "15\n", "dropped")


@pytest.mark.deadline(90)
def test_writers_never_wait(t):
    t.mktopic("nw")
    w = t.writer("nw")
    t0 = time.monotonic()
    t.publish(w, b"to nobody\n")
    t.true(time.monotonic() - t0 < 0.5, "a write with no reader returns at "
           "once")
    t.eq((t.tattr("nw", "published"), t.tattr("nw", "dropped")),
         ("1\n", "0\n"), "(published, dropped) after a write to nobody")
    r = t.reader("nw")
    t.nothing(r, "a reader opened after it")
    ev = t.revents(w, OUT)
    t.true(ev & OUT, "POLLOUT on data with a reader that never reads",
           pev(ev))
    n = 5000
    t0 = time.monotonic()
    with t.within(30, "%d writes" % n):
        for i in range(n):
            m = b"%05d\n" % i
            if os.write(w, m) != len(m):
                t.fail("write %d: short" % i)
    el = time.monotonic() - t0
    t.note("%d writes with a reader that never reads: %.2fs" % (n, el))
    t.true(el < 15, "%d writes with a reader that never reads take < 15 s"
           % n, "%.2fs" % el)
    ev = t.revents(w, OUT)
    t.true(ev & OUT, "POLLOUT still", pev(ev))
    wnb = t.writer("nw", os.O_WRONLY | os.O_NONBLOCK)
    t.publish(wnb, b"nonblock\n")
    t.eq((t.tattr("nw", "published"), t.tattr("nw", "dropped")),
         ("%d\n" % (n + 2), "%d\n" % (n + 1 - 1024)),
         "(published, dropped): all published, all past the backlog of "
         "1024 dropped for the reader")
    got = []
    with t.within(20, "reading the backlog"):
        for _ in range(1024):
            got.append(os.read(r, 100))
    want = [b"%05d\n" % i for i in range(n - 1023, n)] + [b"nonblock\n"]
    t.eq(got, want, "what the reader reads: the newest 1024, in order")
    t.nothing(r, "the reader, then")


# ---------------------------------------------------------------------------
# Signals


def test_sigint_cat_takes_nothing(t):
    t.mktopic("int")
    other = t.reader("int")
    rc, out, err = t.run_interrupted(["cat", t.tpath("int", "data")],
                                     "timeout -s INT 1 cat data")
    t.eq((rc, out), (124, b""), "timeout -s INT 1 cat data (status, out)")
    t.wait_tattr("int", "subscribers", "1\n")
    t.eq(t.tattr("int", "published"), "0\n", "published")
    t.nothing(other, "the other reader after the interrupted cat")
    t.write_file(t.tpath("int", "data"), b"after\n")
    t.eq(t.take(other), b"after\n", "the other reader gets the next one")
    t.nothing(other, "and nothing more")
    t.eq(t.tattr("int", "dropped"), "0\n", "dropped")


def test_interrupted_read_takes_nothing(t):
    t.mktopic("ir")
    data = t.tpath("ir", "data")
    other = t.reader("ir")
    w = t.writer("ir")
    t.publish(w, b"m0\n")
    p = t.py(INT_READER, data, "3")
    t.wait_tattr("ir", "subscribers", "2\n")
    t.wait_blocked(p, "read")
    for i in range(3):
        os.kill(p.pid, signal.SIGINT)
        got = t.read_until(p, b"INT\n", 2)
        t.eq(got, b"INT\n", "SIGINT %d ends the read at once" % (i + 1))
        t.wait_blocked(p, "read")
    for m in (b"m1\n", b"m2\n", b"m3\n"):
        t.publish(w, m)
    rc, out, err = t.finish(p, 3)
    t.eq((rc, err), (0, b""), "the reader (status, stderr)")
    t.true(out.startswith(b"END\n"), "the reader ended", "out %r" % out)
    t.eq(frames(out[4:]), [b"m1\n", b"m2\n", b"m3\n"], "what the "
         "interrupted reader read after: the three published after, in "
         "order (not m0, from before it opened)")
    t.eq([t.take(other) for _ in range(4)],
         [b"m0\n", b"m1\n", b"m2\n", b"m3\n"], "the other reader")
    t.eq((t.tattr("ir", "published"), t.tattr("ir", "dropped")),
         ("4\n", "0\n"), "(published, dropped)")


@pytest.mark.deadline(90)
def test_interrupt_storm_skips_and_repeats_nothing(t):
    # A reader takes SIGALRM every 500 us while messages come in bursts:
    # a read whose reply was refused (interrupted meanwhile) must leave its
    # message first for that reader, so it ends with exactly the stream.
    k = 2000
    t.mktopic("st")
    data = t.tpath("st", "data")
    t.write_file(t.tpath("st", "backlog"), b"4096")
    steady = t.reader("st")
    p = t.py(STORM_READER, data, str(k))
    t.eq(t.read_until(p, b"open\n", 5), b"open\n", "the storm reader")
    t.wait_tattr("st", "subscribers", "2\n")
    w = t.writer("st")
    want = [msg(i) for i in range(k)]
    with t.within(30, "publishing"):
        for i, m in enumerate(want):
            os.write(w, m)
            if i % 20 == 19:
                time.sleep(0.002)
    rc, out, err = t.finish(p, 25)
    t.eq((rc, err), (0, b""), "the storm reader (status, stderr)")
    head, _, rest = out.partition(b"\n")
    t.note("the storm reader took %s signals" % head.decode())
    got = frames(rest)
    if got != want:
        j = next((j for j, (a, b) in enumerate(zip(got, want)) if a != b),
                 min(len(got), len(want)))
        t.fail("the storm reader read %d messages of %d, first difference "
               "at %d: got %r, expected %r" % (len(got), k, j, got[j:j + 2],
                                               want[j:j + 2]))
    with t.within(20, "the steady reader"):
        got = [os.read(steady, 1 << 16) for _ in range(k)]
    t.eq(got == want, True, "the steady reader read all %d in order" % k)
    t.eq(t.tattr("st", "dropped"), "0\n", "dropped")


# ---------------------------------------------------------------------------
# Scale


@pytest.mark.deadline(120)
def test_thousand_parked_readers(t):
    n = 1000
    t.mktopic("many")
    t.mktopic("other")
    data = t.tpath("many", "data")
    waits_before = t.thread_waits()
    before = sum(waits_before.values())
    p = t.py(THREADS, data, str(n))
    t.eq(t.read_until(p, b"open\n", 60), b"open\n", "%d opens" % n)
    got = t.wait_value(lambda: blocked_threads(p.pid), n, 30)
    t.eq(got, n, "threads of the child asleep in read(2)")
    t.eq(t.tattr("many", "subscribers"), "%d\n" % n, "subscribers")
    time.sleep(0.3)
    waits_after = t.thread_waits()
    after = sum(waits_after.values())
    t.note("daemon threads: %d before, %d with %d parked readers" % (
        before, after, n))
    # 10 FUSE workers, the main thread, the event loop, the notifier.
    t.check("daemon thread count bounded (<= 13) with %d parked readers" % n,
            after <= 13, "%d before, %d after; where they wait: before %s, "
            "after %s" % (before, after, waits_before, waits_after))
    idle = "fuse_dev_do_read"
    busy_before = {k: v for k, v in waits_before.items() if k != idle}
    busy_after = {k: v for k, v in waits_after.items() if k != idle}
    t.check("no more daemon threads waiting outside the FUSE device read "
            "with %d parked readers" % n, busy_after == busy_before,
            "before %s, after %s" % (waits_before, waits_after))
    # waiters: one line per parked read, each `ID data`, ID the child's
    # (its pid, or the thread's id as the kernel gives it).
    tids = {int(x) for x in os.listdir("/proc/%d/task" % p.pid)}
    text = read_all(t, t.tpath("many", "waiters")).decode()
    rows = text.splitlines()
    bad = [r for r in rows if not re.fullmatch(r"\d+ data", r) or
           int(r.split()[0]) not in tids | {p.pid}]
    t.check("waiters lists the %d parked reads as `ID data`" % n,
            len(rows) == n and not bad, "%d lines, e.g. bad %s" % (
                len(rows), bad[:3]))
    t0 = time.monotonic()
    with t.within(10, "stat, ls and a round trip"):
        os.stat(t.mnt)
        listed = sorted(os.listdir(t.tpath("")))
        os.listdir(t.tpath("many"))
        t.tattr("many", "published")
        r = os.open(t.tpath("other", "data"), os.O_RDONLY)
        try:
            t.write_file(t.tpath("other", "data"), b"ping")
            pong = os.read(r, 100)
        finally:
            os.close(r)
    el = time.monotonic() - t0
    t.check("stat, ls topics and a round trip on another topic take < 1 s",
            el < 1 and listed == ["many", "other"] and pong == b"ping",
            "%.2fs, listed %s, got %r" % (el, listed, pong))
    t0 = time.monotonic()
    t.write_file(data, b"one\n")
    t.true(time.monotonic() - t0 < 1, "a publish to %d readers returns in "
           "< 1 s" % n, "%.2fs" % (time.monotonic() - t0))
    got = t.wait_value(lambda: blocked_threads(p.pid), n, 30)
    t.eq(got, n, "threads asleep in read(2) again after the message")
    t.eq(t.tattr("many", "published"), "1\n", "published")
    t0 = time.monotonic()
    t.rmtopic("many")
    rc, out, err = t.finish(p, 30)
    el = time.monotonic() - t0
    t.eq((rc, out, err), (0, b"%d (b'one\\n', b'')\n" % n, b""),
         "each of the %d readers read the message, then end-of-file" % n)
    t.true(el < 2, "rmdir ends all %d readers within 2 s" % n, "%.2fs" % el)


# ---------------------------------------------------------------------------
# Attributes, sizes, poll


def test_subscribers_counts_open_readers(t):
    t.mktopic("sub")
    data = t.tpath("sub", "data")
    t.eq(t.tattr("sub", "subscribers"), "0\n", "subscribers of a new topic")
    a = t.reader("sub")
    t.eq(t.tattr("sub", "subscribers"), "1\n", "one O_RDONLY")
    b = t.open(data, os.O_RDWR)
    t.eq(t.tattr("sub", "subscribers"), "2\n", "and one O_RDWR")
    w = t.writer("sub")
    t.eq(t.tattr("sub", "subscribers"), "2\n", "and one O_WRONLY")
    c = t.reader("sub", RD_NB)
    t.eq(t.tattr("sub", "subscribers"), "3\n", "and one O_RDONLY|O_NONBLOCK")
    t.raises(errno.EAGAIN, os.read, c, 100, what="O_NONBLOCK read of "
             "nothing")
    t.publish(w, b"x")
    t.eq([t.take(a), t.take(b), t.take(c)], [b"x"] * 3,
         "all three readers get it (the O_RDWR one too)")
    t.publish(b, b"y")
    t.eq([t.take(a), t.take(b), t.take(c)], [b"y"] * 3,
         "a write on the O_RDWR file goes to it as well")
    for fd, left in ((a, "2\n"), (b, "1\n"), (c, "0\n")):
        t.close(fd)
        t.wait_tattr("sub", "subscribers", left)
    t.eq(t.tattr("sub", "published"), "2\n", "published")


def test_backlog_values(t):
    t.mktopic("bv")
    path = t.tpath("bv", "backlog")
    t.write_file(path, b"7")
    t.eq(t.tattr("bv", "backlog"), "7\n", "backlog after writing 7")
    for bad in (b"abc", b"0", b"-1", b"\n", b"", b" ", b"5x", b"1.5",
                b"99999999999999999999999"):
        if bad == b"":
            # A zero-byte write may never reach the daemon: `: > backlog`
            # (O_TRUNC, nothing written) must leave it unchanged, whatever
            # it returns.
            t.run(["sh", "-c", ': > "$1"', "sh", path])
        else:
            t.raises(errno.EINVAL, t.write_file, path, bad,
                     what="write %r to backlog" % bad)
        t.eq(t.tattr("bv", "backlog"), "7\n", "backlog after %r" % bad)
    rc, out, err = t.run(["sh", "-c", 'echo 12 > "$1"', "sh", path])
    t.eq((rc, t.tattr("bv", "backlog")), (0, "12\n"), "echo 12 > backlog")


def buffers(size, fill):
    """SIZE bytes of FILL in a page-aligned buffer and in one that is not
    (a Python bytes, as most malloc'ed buffers: its data lies 32 bytes
    into a page), which the kernel splits differently into FUSE requests
    of at most 256 pages."""
    aligned = mmap.mmap(-1, size)
    aligned.write(fill * size)
    return [("page-aligned", aligned), ("unaligned", fill * size)]


def test_largest_message_whole(t):
    # One write(2) of MAX_MSG is one message, wherever its buffer lies,
    # and one read of a bigger buffer, wherever it lies, gets it whole.
    t.mktopic("big")
    r = t.reader("big")
    w = t.writer("big")
    for what, buf in buffers(MAX_MSG, b"M"):
        for rwhat, into in buffers(MAX_MSG + 4096, b"\0"):
            before = t.tnum("big", "published")
            t.publish(w, buf, 5)
            t.eq(t.tnum("big", "published") - before, 1, "messages "
                 "published by one write(2) of %d bytes from a %s buffer" %
                 (MAX_MSG, what))
            try:
                with t.within(3, "read"):
                    if isinstance(into, bytes):
                        got = os.read(r, len(into))
                    else:
                        got = into[:os.readv(r, [into])]
            except StepTimeout:
                t.fail("a read of a %s buffer of %d, the message of %d from a "
                       "%s buffer waiting, did not return in 3 s (a FUSE read "
                       "filled makes the kernel ask for more)" % (
                           rwhat, MAX_MSG + 4096, MAX_MSG, what))
            t.true(got == bytes(buf), "one read into a %s buffer gets the "
                   "message from a %s buffer whole" % (rwhat, what),
                   "read %d bytes" % len(got))
            t.nothing(r, "then nothing")


def test_longer_is_EMSGSIZE(t):
    # fs/ negotiates max_write = 1 MiB (FS_MAX_WRITE): the kernel hands a
    # longer write(2) to the daemon in pieces, so the kind must not take
    # the first piece for a whole message.
    t.mktopic("big")
    r = t.reader("big")
    w = t.writer("big")
    for size in (MAX_MSG + 1, 1 << 20, (1 << 20) + 1, 2 << 20):
        for what, buf in buffers(size, b"B"):
            t.raises(errno.EMSGSIZE, os.write, w, buf,
                     what="write of %d bytes from a %s buffer" % (size, what))
    t.eq(t.tattr("big", "published"), "0\n", "published after EMSGSIZE")
    t.nothing(r, "nothing delivered of the refused messages")
    t.publish(w, b"small")
    t.eq(t.take(r), b"small", "the next message")


def test_short_buffer_gets_the_rest_first(t):
    t.mktopic("sb")
    r = t.reader("sb")
    w = t.writer("sb")
    t.publish(w, b"0123456789abcdefghijKLM")
    t.publish(w, b"second")
    t.eq([t.take(r, 10), t.take(r, 10), t.take(r, 100), t.take(r, 100)],
         [b"0123456789", b"abcdefghij", b"KLM", b"second"],
         "reads of 10, 10, 100, 100: the rest of the first message before "
         "the second, never both in one read")
    t.nothing(r, "then nothing")


def test_poll_is_truthful(t):
    t.mktopic("pl")
    w = t.writer("pl")
    t.publish(w, b"before\n")
    r = t.reader("pl", RD_NB)
    ev = t.revents(r, IN)
    t.true(not ev & IN, "no POLLIN for a reader opened after the only "
           "message", pev(ev))
    ev = t.revents(r, IN, 300)
    t.true(not ev & IN, "no POLLIN within 300 ms", pev(ev))
    t.publish(w, b"one\n")
    ev = t.revents(r, IN)
    t.true(ev & IN, "POLLIN once a message waits for it", pev(ev))
    ev = t.revents(r, IN)
    t.true(ev & IN, "POLLIN still: poll took nothing", pev(ev))
    t.eq(t.take(r), b"one\n", "the read")
    ev = t.revents(r, IN)
    t.true(not ev & IN, "no POLLIN once read", pev(ev))
    # Asleep in poll(2) when the message comes.
    timer = threading.Timer(0.3, os.write, (w, b"two\n"))
    timer.start()
    try:
        t0 = time.monotonic()
        ev = t.revents(r, IN, 3000)
        el = time.monotonic() - t0 - 0.3
    finally:
        timer.join()
    t.true(ev & IN and el < 1, "a poll asleep is woken within 1 s of a "
           "publish", "%s after %.2fs" % (pev(ev), el))
    t.eq(t.take(r), b"two\n", "the read")
    ev = t.revents(w, OUT)
    t.true(ev & OUT, "POLLOUT on the writer", pev(ev))
    t.rmtopic("pl")
    ev = t.revents(r, IN, 2000)
    t.true(ev & IN, "POLLIN (end-of-file) after rmdir", pev(ev))
    with t.within(2, "read"):
        t.eq(os.read(r, 100), b"", "read after rmdir: end-of-file")


# ---------------------------------------------------------------------------
# waiters, rmdir


def test_waiters_lists_parked_readers(t):
    t.mktopic("w")
    data = t.tpath("w", "data")
    t.eq(t.tattr("w", "waiters"), "", "waiters with nobody waiting")
    a = t.py(READN, data, "1")
    t.wait_blocked(a, "read")
    t.wait_tattr("w", "waiters", "%d data\n" % a.pid)
    b = t.py(READN, data, "1")
    t.wait_blocked(b, "read")
    t.wait_tattr("w", "waiters", "%d data\n%d data\n" % (a.pid, b.pid))
    # A poller is not a waiter.
    r = t.reader("w", RD_NB)
    t.eq(t.revents(r, IN, 200) & IN, 0, "no POLLIN")
    t.eq(t.tattr("w", "waiters"), "%d data\n%d data\n" % (a.pid, b.pid),
         "waiters with a poller besides")
    t.kill9(a, "the first waiter")
    t.wait_tattr("w", "waiters", "%d data\n" % b.pid)
    t.write_file(data, b"go")
    rc, out, err = t.finish(b, 3)
    t.eq((rc, frames(out)), (0, [b"go"]), "the second waiter")
    t.wait_tattr("w", "waiters", "")
    t.eq(t.take(r), b"go", "the poller's file got it too")


def test_rmdir_ends_readers_with_eof(t):
    t.mktopic("rm")
    data = t.tpath("rm", "data")
    procs = [t.spawn(["cat", data]) for _ in range(3)]
    t.wait_all_blocked(procs, "read", 5)
    held = t.reader("rm")
    t.write_file(data, b"hello\n")
    t.wait_all_blocked(procs, "read", 5)
    t0 = time.monotonic()
    t.rmtopic("rm")
    outs = [t.finish(p, 3) for p in procs]
    el = time.monotonic() - t0
    t.eq(outs, [(0, b"hello\n", b"")] * 3, "the blocked cats after rmdir "
         "(status, out, err)")
    t.true(el < 2, "ended in < 2 s", "%.2fs" % el)
    t.eq(t.take(held), b"hello\n", "a held reader first reads what was "
         "published before the rmdir")
    t.eq(t.take(held), b"", "then end-of-file")
    with t.within(5, "ls topics"):
        t.eq(os.listdir(t.tpath("")), [], "ls topics after rmdir")


def test_rmdir_with_a_writer(t):
    t.mktopic("rw")
    data = t.tpath("rw", "data")
    w = t.writer("rw")
    r = t.reader("rw")
    t.publish(w, b"before")
    t.rmtopic("rw")
    t.raises(errno.ENOENT, os.open, data, os.O_WRONLY,
             what="open of data after rmdir")
    with t.within(2, "write after rmdir"):
        try:
            os.write(w, b"after")
            e = None
        except OSError as x:
            e = x.errno
    t.true(e in WRITE_AFTER_RMDIR, "a write on a data file open across "
           "rmdir fails with %s" % "/".join(errno.errorcode[x] for x in
                                            WRITE_AFTER_RMDIR),
           "got %s" % (errno.errorcode.get(e, e) if e else "success"))
    t.eq([t.take(r), t.take(r)], [b"before", b""], "the reader: what came "
         "before, then end-of-file")
    # The same name again: a new topic, which the old files do not reach.
    t.mktopic("rw")
    r2 = t.reader("rw")
    with t.within(2, "write after rmdir and mkdir"):
        try:
            os.write(w, b"stale")
        except OSError:
            pass
    t.nothing(r2, "a reader of the new topic: nothing from the old writer")
    t.eq((t.tattr("rw", "published"), t.tattr("rw", "subscribers")),
         ("0\n", "1\n"), "(published, subscribers) of the new topic")
    t.eq(t.take(r), b"", "the old reader: still end-of-file")
    t.write_file(data, b"new")
    t.eq(t.take(r2), b"new", "the new topic works")


# ---------------------------------------------------------------------------
# Mount options


def test_topic_max_total_gives_ENOSPC(t):
    chunk = 4096
    with t.extra_tree("tmax", topic_max_total=65536) as m:
        top = os.path.join(m.mnt, "topics")
        with t.within(5, "mkdir"):
            os.mkdir(os.path.join(top, "a"), 0o666)
            os.mkdir(os.path.join(top, "b"), 0o666)
        da, db = os.path.join(top, "a", "data"), os.path.join(top, "b",
                                                              "data")

        def attr(name, f):
            return t.read_file(os.path.join(top, name, f)).decode()

        w = t.open(da, os.O_WRONLY)
        # No reader: a write takes no memory, however many.
        with t.within(10, "writes to nobody"):
            for _ in range(40):
                t.eq(os.write(w, b"n" * chunk), chunk, "write to nobody")
        # Three readers that never read: a message is stored once.
        readers = [t.open(da, os.O_RDONLY) for _ in range(3)]
        with t.within(10, "16 x 4 KiB"):
            for i in range(16):
                t.eq(os.write(w, bytes([65 + i]) * chunk), chunk,
                     "write %d of 16 x 4 KiB with 3 readers" % (i + 1))
        t.raises(errno.ENOSPC, os.write, w, b"Z" * chunk,
                 what="write past topic_max_total=65536")
        t.raises(errno.ENOSPC, os.write, w, b"z",
                 what="a 1-byte write past topic_max_total")
        t.eq((attr("a", "published"), attr("a", "dropped")),
             ("56\n", "0\n"), "(published, dropped): nothing published by "
             "the refused writes")

        def told():
            return m.daemon_stderr().count("(-o topic_max_total)")
        t.eq(told(), 1, "the refusal logged once for the two writes")
        # The cap is mount-wide: another topic's reader meets it too.
        rb = t.open(db, os.O_RDONLY)
        t.raises(errno.ENOSPC, t.write_file, db, b"b" * chunk,
                 what="write to another topic past the cap")
        t.eq(attr("b", "published"), "0\n", "published of the other topic")
        t.eq(told(), 2, "and once for the other topic")
        # One reader reading does not free a message the others hold ...
        with t.within(2, "read"):
            t.eq(os.read(readers[0], chunk), b"A" * chunk, "first reader")
        t.raises(errno.ENOSPC, os.write, w, b"Z" * chunk,
                 what="write while two readers still hold the oldest")
        # ... the last one to read it does.
        for fd in readers[1:]:
            with t.within(2, "read"):
                t.eq(os.read(fd, chunk), b"A" * chunk, "the other readers")
        t.eq(t.wait_value(lambda: _try_write(db, b"b" * chunk), chunk, 2),
             chunk, "a 4 KiB write once the oldest was read by all")
        with t.within(2, "read"):
            t.eq(os.read(rb, chunk), b"b" * chunk, "other topic's reader")
        # Closing the readers that hold the rest gives it all back.
        for fd in readers:
            t.close(fd)
        t.eq(t.wait_value(lambda: attr("a", "subscribers"), "0\n", 2), "0\n",
             "subscribers once the readers closed")
        r = t.open(da, os.O_RDONLY)
        with t.within(10, "16 x 4 KiB again"):
            for i in range(16):
                t.eq(os.write(w, b"again" * 800), 4000,
                     "write %d once the readers closed" % (i + 1))
        with t.within(5, "read"):
            t.eq([os.read(r, chunk) for _ in range(16)],
                 [b"again" * 800] * 16, "the new reader's messages")
        t.close(r)
        t.close(rb)
        t.close(w)
        with t.within(5, "rmdir"):
            os.rmdir(os.path.join(top, "a"))
            os.rmdir(os.path.join(top, "b"))


def _try_write(path, data):
    """One write of DATA to a fresh open of PATH: its count, or the
    errno's name."""
    fd = os.open(path, os.O_WRONLY)
    try:
        return os.write(fd, data)
    except OSError as e:
        return errno.errorcode.get(e.errno, e.errno)
    finally:
        os.close(fd)


def test_topic_backlog_option(t):
    with t.extra_tree("tbk", topic_backlog=3) as m:
        d = os.path.join(m.mnt, "topics", "x")
        with t.within(5, "mkdir"):
            os.mkdir(d, 0o666)
        t.eq(t.read_file(os.path.join(d, "backlog")), b"3\n",
             "backlog of a topic made under -o topic_backlog=3")
        r = t.open(os.path.join(d, "data"), os.O_RDONLY)
        w = t.open(os.path.join(d, "data"), os.O_WRONLY)
        for i in range(5):
            t.publish(w, b"%d" % i)
        t.eq(t.read_file(os.path.join(d, "dropped")), b"2\n", "dropped")
        t.eq([t.take(r) for _ in range(3)], [b"2", b"3", b"4"], "the newest "
             "3")
        t.close(r)
        t.close(w)
        with t.within(5, "rmdir"):
            os.rmdir(d)


def test_bad_topic_options_refused(t):
    for opt in ("topic_backlog=0", "topic_backlog=abc", "topic_backlog=-1",
                "topic_max_total=abc", "topic_max_total=12k"):
        rc, out, err, mounted = t.start_refused(opt)
        t.check("-o %s refused" % opt, rc != 0 and not mounted and
                "topic_" in err, "status %s, mounted %s, stderr %r" % (
                    rc, mounted, err[-200:]))

# SPDX-License-Identifier: GPL-2.0-or-later
"""The daemon under valgrind's memcheck: one short session per kind through
the tree -- queues (mkdir, data written and read, stream, count, rmdir),
channels (mkdir, write, read, capacity, rmdir), topics (mkdir, publish to two
readers, backlog drops, short reads, rmdir with messages unread), shm (mkdir,
data written and read, size, truncate, rmdir), sem (mkdir, post, wait, hold,
value, holders, rmdir) -- and blocking reads ended by a signal and by kill -9, with waiters. Then a clean unmount
(fusermount3 -u): valgrind must exit 0 and its log must show no error, no
block definitely or indirectly lost.

The daemon runs as

  valgrind --leak-check=full --error-exitcode=1
           --errors-for-leak-kinds=definite,indirect ... ipcfs -f -o ... MNT

and with tests/valgrind.supp if there is one (for what libfuse or glibc
keep by design; none is needed so far). valgrind makes every request slow,
so the waits are long. The last test unmounts the valgrind daemon and mounts
a plain one for the harness's own end checks.
"""

import contextlib
import os
import re
import shutil
import signal
import tempfile
import time

import pytest

from harness import Harness
from mount import ROOT
from procs import WRITER, fmt

SUPP = os.path.join(ROOT, "tests", "valgrind.supp")
SLOW = 20           # seconds a child may take to block in the slow daemon


class ValgrindHarness(Harness):
    """The daemon under valgrind, its log in a file of its own (log)."""

    log = None

    def start(self):
        fd, self.log = tempfile.mkstemp(prefix="ipcfs-valgrind-",
                                        suffix=".log")
        os.close(fd)
        self.wrap = ["valgrind", "--leak-check=full", "--error-exitcode=1",
                     "--errors-for-leak-kinds=definite,indirect",
                     "--num-callers=30", "--log-file=" + self.log]
        if os.path.exists(SUPP):
            self.wrap.append("--suppressions=" + SUPP)
        self.mount_wait = 60
        self.exit_wait = 60
        super().start()

    def cleanup(self):
        results = super().cleanup()
        if self.log:
            with contextlib.suppress(OSError):
                os.unlink(self.log)
        return results


H = ValgrindHarness("vg", mq_maxmsg=8, mq_msgsize=1024, sem_value=1)
# Without valgrind every test is skipped, and the run exits 77 (conftest).
pytestmark = pytest.mark.skipif(
    not shutil.which("valgrind"),
    reason="valgrind is not installed (tools/ensure-deps --test)")
slow = pytest.mark.deadline(120)


def wait_for(t, fn, want, what, timeout=10):
    got = t.wait_value(fn, want, timeout, step=0.05)
    t.eq(got, want, what)


@slow
def test_queue_session(t):
    t.mkq("q")
    data, stream = t.qpath("q", "data"), t.qpath("q", "stream")
    for m in (b"one", b"two", b"three", b"four"):
        t.eq(t.write_file(data, m), len(m), "write %r to data" % m)
    t.eq(t.attr("q", "count"), "4\n", "count after 4 writes")
    t.eq(t.attr("q", "maxmsg"), "8\n", "maxmsg")
    t.eq(t.attr("q", "msgsize"), "1024\n", "msgsize")
    rc, out, err = t.run(["cat", data], timeout=SLOW)
    t.eq((rc, out, err), (0, b"one", b""), "cat data")
    with t.opened(data, what="short reads of data") as fd:
        t.eq(os.read(fd, 2), b"tw", "first short read")
        t.eq(os.read(fd, 10), b"o", "rest of the message")
        t.eq(os.read(fd, 10), b"", "then end-of-file")
    with t.opened(stream, what="reads of stream") as fd:
        t.eq(os.read(fd, 100), b"three", "stream read 1")
        t.eq(os.read(fd, 100), b"four", "stream read 2")
    t.eq(t.count("q"), 0, "count at the end")
    t.write_file(data, b"left behind")      # rmdir with a message in it
    t.rmq("q")


@slow
def test_channel_session(t):
    t.mkobj("channels", "c")
    data = t.path("channels", "c", "data")
    cap = t.path("channels", "c", "capacity")
    t.eq(t.read_file(cap), b"65536\n", "capacity")
    t.eq(t.write_file(cap, b"8192\n"), 5, "set capacity 8192")
    w = t.open(data, os.O_WRONLY | os.O_NONBLOCK, 5)
    r = t.open(data, os.O_RDONLY | os.O_NONBLOCK, 5)
    blob = bytes(i % 251 for i in range(6000))
    with t.within(5, "write"):
        t.eq(os.write(w, blob), 6000, "write 6000")
    t.eq(t.read_file(t.path("channels", "c", "bytes")), b"6000\n", "bytes")
    t.eq(t.read_file(t.path("channels", "c", "readers")), b"1\n", "readers")
    t.eq(t.read_file(t.path("channels", "c", "writers")), b"1\n", "writers")
    with t.within(5, "read"):
        got = os.read(r, 4000) + os.read(r, 4000)
    t.eq(got, blob, "read back")
    with t.within(5, "write"):
        os.write(w, b"left in the channel")
    t.close(w)
    t.close(r)
    t.rmobj("channels", "c")


@slow
def test_topic_session(t):
    t.mkobj("topics", "p")
    data = t.path("topics", "p", "data")
    r1 = t.open(data, os.O_RDONLY | os.O_NONBLOCK, 5)
    r2 = t.open(data, os.O_RDONLY | os.O_NONBLOCK, 5)
    w = t.open(data, os.O_WRONLY, 5)
    t.eq(t.write_file(t.path("topics", "p", "backlog"), b"2\n"), 2,
         "set backlog 2")
    with t.within(5, "publish"):
        for m in (b"one", b"two", b"three"):
            t.eq(os.write(w, m), len(m), "publish %r" % m)
    t.eq(t.read_file(t.path("topics", "p", "subscribers")), b"2\n",
         "subscribers")
    t.eq(t.read_file(t.path("topics", "p", "published")), b"3\n",
         "published")
    t.eq(t.read_file(t.path("topics", "p", "dropped")), b"2\n",
         "dropped: one, for both readers")
    with t.within(5, "read"):
        t.eq(os.read(r1, 2), b"tw", "a short read")
        t.eq(os.read(r1, 10), b"o", "the rest of the message")
        t.eq(os.read(r1, 10), b"three", "the next message")
    t.close(r1)
    t.rmobj("topics", "p")          # r2 has two messages unread
    t.close(r2)
    t.close(w)


@slow
def test_shm_session(t):
    t.mkobj("shm", "s")
    data, size = t.path("shm", "s", "data"), t.path("shm", "s", "size")
    blob = bytes((i * 7) % 256 for i in range(10000))
    t.eq(t.write_file(data, blob), 10000, "write 10000 to data")
    t.eq(t.read_file(size), b"10000\n", "size after the write")
    t.eq(t.read_file(data, 1 << 16), blob, "read data back")
    with t.opened(data, os.O_RDWR, what="pread/pwrite") as fd:
        t.eq(os.pwrite(fd, b"xyz", 20000), 3, "pwrite past the end")
        t.eq(os.pread(fd, 3, 20000), b"xyz", "pread it")
    t.eq(t.write_file(size, b"4096\n", os.O_WRONLY | os.O_TRUNC), 5,
         "write 4096 to size")
    with t.within(5, "truncate"):
        os.truncate(data, 100)
        t.eq(os.stat(data).st_size, 100, "st_size after truncate(100)")
    t.eq(t.read_file(size), b"100\n", "size after truncate")
    t.rmobj("shm", "s")


HOLDER = r'''
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
print("held", flush=True)
time.sleep(300)
'''


@slow
def test_sem_session(t):
    t.mkobj("sem", "m")
    value = t.path("sem", "m", "value")
    t.eq(t.read_file(value), b"1\n", "value after mkdir (sem_value=1)")
    t.eq(t.write_file(t.path("sem", "m", "post"), b"\n"), 1, "post once")
    t.eq(t.write_file(t.path("sem", "m", "post"), b"2\n"), 2, "post 2")
    t.eq(t.read_file(value), b"4\n", "value after the posts")
    rc, out, err = t.run(["cat", t.path("sem", "m", "wait")], timeout=SLOW)
    t.eq((rc, out, err), (0, b"", b""), "cat wait")
    t.eq(t.read_file(value), b"3\n", "value after the wait")
    h = t.py(HOLDER, t.path("sem", "m", "hold"))
    t.eq(t.read_until(h, b"held\n", SLOW), b"held\n", "the holder holds")
    t.eq(t.read_file(value), b"2\n", "value while held")
    t.eq(t.read_file(t.path("sem", "m", "holders")), b"%d\n" % h.pid,
         "holders: the holder")
    t.kill(h)
    wait_for(t, lambda: t.read_file(value), b"3\n",
             "value after the holder died")
    with t.opened(t.path("sem", "m", "hold"), what="hold and close"):
        t.eq(t.read_file(value), b"2\n", "value while held by us")
    wait_for(t, lambda: t.read_file(value), b"3\n", "value after close")
    t.rmobj("sem", "m")


def interrupted(t, p, what):
    """SIGINT to child P, blocked in read(2): it ends within SLOW s."""
    t.wait_blocked(p, "read", SLOW)
    os.kill(p.pid, signal.SIGINT)
    rc = t.wait_exit(p, SLOW)
    t.true(rc is not None, "%s ends at SIGINT" % what,
           "still running %gs after SIGINT" % SLOW)
    t.finish(p, 2)


@slow
def test_interrupted_blocking_reads(t):
    # A queue reader, interrupted, then killed: nothing taken.
    t.mkq("iq")
    p = t.spawn(["cat", t.qpath("iq", "data")])
    t.wait_blocked(p, "read", SLOW)
    t.eq(t.read_file(t.qpath("iq", "waiters")), b"%d data\n" % p.pid,
         "waiters: the blocked reader")
    interrupted(t, p, "cat data")
    # The reader is gone before the daemon hears of the interrupt.
    t.eq(t.wait_value(lambda: t.read_file(t.qpath("iq", "waiters")), b"",
                      SLOW), b"", "waiters: nobody, once the interrupt is in")
    interrupted(t, t.spawn(["cat", t.qpath("iq", "stream")]), "cat stream")
    p = t.spawn(["cat", t.qpath("iq", "data")])
    t.wait_blocked(p, "read", SLOW)
    t.kill9(p, "cat data", SLOW)
    t.write_file(t.qpath("iq", "data"), b"after")
    rc, out, err = t.run(["cat", t.qpath("iq", "data")], timeout=SLOW)
    t.eq((rc, out), (0, b"after"), "the message after the interrupts")
    # A semaphore waiter.
    t.mkobj("sem", "iw")
    rc, out, err = t.run(["cat", t.path("sem", "iw", "wait")], timeout=SLOW)
    t.eq(rc, 0, "take the one unit")
    interrupted(t, t.spawn(["cat", t.path("sem", "iw", "wait")]), "cat wait")
    h = t.py(HOLDER, t.path("sem", "iw", "hold"))
    t.wait_blocked(h, "openat", SLOW)
    t.kill9(h, "a holder waiting in open", SLOW)
    t.eq(t.read_file(t.path("sem", "iw", "value")), b"0\n",
         "value: the interrupted waiters took nothing")
    # A channel reader while a writer has data open; a parked writer.
    t.mkobj("channels", "ic")
    data = t.path("channels", "ic", "data")
    w = t.open(data, os.O_WRONLY | os.O_NONBLOCK, 5)
    interrupted(t, t.spawn(["cat", data]), "cat channel data")
    t.write_file(t.path("channels", "ic", "capacity"), b"4096\n")
    with t.within(5, "fill"):
        t.eq(os.write(w, b"F" * 4096), 4096, "fill the channel")
    p = t.py(WRITER, data, "parked")
    t.wait_blocked(p, "write", SLOW)
    t.kill9(p, "parked channel writer", SLOW)
    t.eq(t.read_file(t.path("channels", "ic", "bytes")), b"4096\n",
         "bytes: the killed writer put nothing in")
    t.close(w)


# The heads of memcheck's error reports, leaks aside.
ERROR_HEADS = re.compile(r"Invalid (read|write|free|fd)|uninitialised|"
                         r"Mismatched free|overlap|fishy|Syscall param|"
                         r"unaddressable|Process terminating")
LEAK_HEADS = re.compile(r"are (definitely|indirectly) lost|"
                        r"(definitely|indirectly) lost: [1-9]")


def by_pid(log):
    """{pid: [lines]} of a valgrind log (==PID== prefixes)."""
    out = {}
    for line in log.splitlines():
        m = re.match(r"==(\d+)== ?(.*)", line)
        if m:
            out.setdefault(int(m.group(1)), []).append(m.group(2))
    return out


def report_from(t, lines, pattern, what):
    """Note the report of LINES from the first line matching PATTERN."""
    first = next((i for i, line in enumerate(lines)
                  if pattern.search(line)), None)
    if first is not None:
        t.note("%s, from its first report:" % what)
        t.note("\n".join("  " + line for line in lines[first:first + 60]))


@pytest.mark.deadline(120)
def test_valgrind_reports_nothing(t):
    """The daemon's own report: 0 errors, nothing definitely or indirectly
    lost. The daemon forks helpers (backends/caller.c) that run a system
    call or two and _exit: valgrind checks them for leaks too, but a forked
    child has only the forking thread, so what the other threads point to
    (their buffers) looks lost there; those leak reports are not the
    daemon's and are only counted. Any other error, in any process, is."""
    t0 = time.monotonic()
    clean = t.unmount()
    rc = t.wait_exit(t.daemon, 60)
    el = time.monotonic() - t0
    with open(t.log, errors="replace") as f:
        log = f.read()
    procs = by_pid(log)
    main = procs.pop(t.daemon.pid, [])
    t.note("valgrind: exit %s %.1f s after fusermount3 -u; %d lines of log, "
           "%d forked helpers reported" % (rc, el, len(log.splitlines()),
                                          len(procs)))
    try:
        t.check("fusermount3 -u unmounts cleanly", clean)
        t.check("valgrind (and the daemon) exit 0 after the unmount",
                rc == 0, "exit %s" % rc)
        summary = [line for line in main if line.startswith("ERROR SUMMARY")]
        t.check("the daemon's ERROR SUMMARY: 0 errors",
                len(summary) == 1 and summary[0].startswith(
                    "ERROR SUMMARY: 0 errors"), fmt(summary or log[-400:]))
        leaks = [line for line in main if LEAK_HEADS.search(line)]
        t.check("the daemon: no block definitely or indirectly lost",
                not leaks, fmt(leaks[:3]))
        errs = [line for line in main if ERROR_HEADS.search(line)]
        t.check("the daemon: no memory error", not errs, fmt(errs[:3]))
        report_from(t, main, re.compile(ERROR_HEADS.pattern + "|" +
                                        LEAK_HEADS.pattern),
                    "the daemon's valgrind log")
        bad = {pid: [line for line in lines if ERROR_HEADS.search(line)]
               for pid, lines in procs.items()}
        bad = {pid: e for pid, e in bad.items() if e}
        t.check("its forked helpers: no memory error", not bad,
                fmt(bad))
        for pid in list(bad)[:2]:
            report_from(t, procs[pid], ERROR_HEADS, "helper %d" % pid)
        n = sum(1 for lines in procs.values()
                if any(LEAK_HEADS.search(line) for line in lines))
        if n:
            t.note("%d of %d forked helpers show other threads' buffers as "
                   "lost (not leaks of the daemon); valgrind makes each of "
                   "them exit 1 (--error-exitcode), so a daemon that took a "
                   "helper's answer from its exit status would see EPERM"
                   % (n, len(procs)))
    finally:
        # A plain daemon for the harness's own end checks.
        t.wrap = []
        t.mount_wait = 10
        t.exit_wait = 5
        t.start_daemon()


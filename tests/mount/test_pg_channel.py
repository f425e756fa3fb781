# SPDX-License-Identifier: GPL-2.0-or-later
"""channels/ on the PostgreSQL engine (issue 12, point 7): byte streams
across two mounts of one database, A (the file's tree) and B
(t.other_mount(), same prefix).

A channel made on A is B's too, with its attributes; `seq 1 100000` from
A to B arrives identical and ends, with cat started before or after the
producer (the EOF rule counting the writers of every mount); a writer
held open on A keeps B's reader waiting, and its close ends it; a killed
daemon's writers stop counting once its session ends; writes of at most
4096 bytes from both mounts are never interleaved and keep their order;
capacity is enforced in the database (EAGAIN, a short write, a writer
parked until B reads); an interrupted read takes nothing; rmdir on A ends
B's reader (end-of-file) and writer (EPIPE); waiters; the native API
(ipcfs.channel_write / channel_read from psql).
"""

import errno
import os
import signal
import stat
import subprocess
import tempfile
import time

import pytest

from pg import PgHarness
from pgtest import (RD_NB, WR_NB, at, blit, discard_killed, lit, ls, posix,
                    read_attr)
from procs import WRITER

H = PgHarness("pgch")
FILES = ["bytes", "capacity", "data", "eof", "readers", "waiters",
         "writers"]
SEQ = subprocess.run(["seq", "1", "100000"], stdout=subprocess.PIPE,
                     check=True).stdout


def c(m, name, *rest):
    return at(m, "channels", name, *rest)


def attr(t, m, name, a):
    return read_attr(t, m, "channels", name, a)


def wait_attr(t, m, name, a, want, timeout=2.0):
    got = t.wait_value(lambda: attr(t, m, name, a), want, timeout)
    t.eq(got, want, "channels/%s/%s on %s (within %g s)" % (
        name, a, "A" if m is t else "B", timeout))


def read_to_eof(t, fd, timeout=10.0, what="read to end-of-file"):
    got = []
    with t.within(timeout, what):
        while True:
            try:
                b = os.read(fd, 1 << 16)
            except BlockingIOError:
                time.sleep(0.01)
                continue
            if not b:
                return b"".join(got)
            got.append(b)


# ---------------------------------------------------------------------------
# One database, two mounts


def test_cross_mount_visibility(t):
    b = t.other_mount()
    t.mkobj("channels", "vis", 0o640)
    t.eq(ls(t, b, "channels"), ["vis"], "B lists the channel made on A")
    t.eq(ls(t, b, "channels/vis"), FILES, "the files of B's channels/vis")
    with t.within(5, "stat on B"):
        st = os.stat(c(b, "vis"))
    t.eq((oct(stat.S_IMODE(st.st_mode) & 0o666), st.st_uid, st.st_gid),
         (oct(0o640), os.getuid(), os.getgid()), "mode and owner on B")
    for f, want in (("capacity", "65536\n"), ("bytes", "0\n"),
                    ("readers", "0\n"), ("writers", "0\n"),
                    ("eof", "close\n")):
        t.eq(attr(t, b, "vis", f), want, "B's %s" % f)
    t.eq(t.write_file(c(b, "vis", "capacity"), b"8192"), 4,
         "capacity 8192 on B")
    t.eq(attr(t, t, "vis", "capacity"), "8192\n", "A's capacity")
    t.eq(t.write_file(c(t, "vis", "eof"), b"rmdir"), 5, "eof rmdir on A")
    t.eq(attr(t, b, "vis", "eof"), "rmdir\n", "B's eof")
    w = t.open(c(t, "vis", "data"), os.O_WRONLY)
    r = t.open(c(b, "vis", "data"), RD_NB)
    with t.within(5, "write on A"):
        t.eq(os.write(w, b"hello"), 5, "write on A")
    for m in (t, b):
        t.eq(attr(t, m, "vis", "bytes"), "5\n", "bytes")
        t.eq(attr(t, m, "vis", "writers"), "1\n", "writers (A's writer)")
        t.eq(attr(t, m, "vis", "readers"), "1\n", "readers (B's reader)")
    with t.within(5, "read on B"):
        t.eq(os.read(r, 100), b"hello", "read on B")
    t.close(w)
    t.close(r)
    wait_attr(t, b, "vis", "writers", "0\n")
    wait_attr(t, t, "vis", "readers", "0\n")
    with t.within(5, "rmdir on B"):
        os.rmdir(c(b, "vis"))
    t.made["channels"].discard("vis")
    with t.within(5, "stat on A"):
        t.raises(errno.ENOENT, os.stat, c(t, "vis"),
                 what="stat on A of a channel removed on B")


def test_psql_native_api(t):
    b = t.other_mount()
    t.mkobj("channels", "nat")
    name = lit(posix(t, "nat"))
    t.eq(t.pg.psql("select ipcfs.channel_write(%s, %s)" % (
        name, blit(b"from psql\n"))).strip(), "10", "ipcfs.channel_write")
    rc, out, err = t.run(["cat", c(b, "nat", "data")])
    t.eq((rc, out, err), (0, b"from psql\n", b""), "cat data on B: the "
         "bytes waiting when it opened, then end-of-file (no writer)")
    t.eq(t.write_file(c(t, "nat", "data"), b"from A"), 6, "write on A")
    got = t.pg.psql("select convert_from(data, 'UTF8') || '|' || writers "
                    "from ipcfs.channel_read(%s, 4)" % name)
    t.eq(got.strip(), "from|0", "ipcfs.channel_read of 4 bytes")
    got = t.pg.psql("select bytes || ' ' || capacity "
                    "from ipcfs.channel_attr(%s)" % name)
    t.eq(got.strip(), "2 65536", "ipcfs.channel_attr")
    with t.opened(c(b, "nat", "data"), RD_NB) as fd:
        t.eq(os.read(fd, 100), b" A", "the rest, read on B")


# ---------------------------------------------------------------------------
# The stream and its end


@pytest.mark.deadline(90)
def test_seq_from_a_to_b_identical_and_ending(t):
    """`seq 1 100000 > A/data` and `cat B/data`: identical bytes, and cat
    ends, whether it starts first (it waits for A's producer) or after
    the producer is done."""
    b = t.other_mount()
    t.mkobj("channels", "seq")
    # cat's output goes to a file: a pipe nobody reads yet would stop it.
    with tempfile.TemporaryFile() as f:
        cat = t.spawn(["cat", c(b, "seq", "data")], stdout=f)
        t.wait_blocked(cat, "read")
        t.still_waiting(cat, "cat on B waits for a producer", 0.3)
        t0 = time.monotonic()
        rc, out, err = t.sh('seq 1 100000 > "$1"', c(t, "seq", "data"),
                            timeout=60)
        t.eq((rc, err), (0, b""), "seq 1 100000 > data on A")
        rc, _, err = t.finish(cat, 15)
        t.note("seq 1 100000 through the database in %.2f s" % (
            time.monotonic() - t0))
        f.seek(0)
        out = f.read()
    t.eq((rc, err, len(out)), (0, b"", len(SEQ)), "cat on B (status, "
         "stderr, bytes)")
    t.true(out == SEQ, "cat on B printed exactly seq 1 100000",
           "first difference at %d" % next(
               (i for i, (x, y) in enumerate(zip(out, SEQ)) if x != y),
               min(len(out), len(SEQ))))
    # The other order: the producer (smaller, within capacity) first.
    small = SEQ[:50000]
    rc, out, err = t.run(["sh", "-c", 'cat > "$1"', "sh",
                          c(t, "seq", "data")], input=small, timeout=20)
    t.eq((rc, err), (0, b""), "the producer on A (50000 bytes)")
    rc, out, err = t.run(["cat", c(b, "seq", "data")], timeout=15)
    t.eq((rc, out == small, err), (0, True, b""),
         "cat on B after the producer (status, identical, stderr)")
    t.eq(attr(t, t, "seq", "bytes"), "0\n", "bytes left")


def test_writer_open_on_a_keeps_reader_on_b_waiting(t):
    b = t.other_mount()
    t.mkobj("channels", "eof")
    w = t.open(c(t, "eof", "data"), os.O_WRONLY)
    t.eq(attr(t, b, "eof", "writers"), "1\n", "B counts A's writer")
    p = t.spawn(["cat", c(b, "eof", "data")])
    t.wait_blocked(p, "read")
    with t.within(5, "write on A"):
        os.write(w, b"one\n")
    t.eq(t.read_until(p, b"one\n", 2), b"one\n", "B's cat gets A's bytes")
    t.still_waiting(p, "B's cat waits while A's writer is open", 0.5)
    t0 = time.monotonic()
    t.close(w)
    rc, out, err = t.finish(p, 3)
    t.eq((rc, out, err), (0, b"", b""), "B's cat ends once A's writer is "
         "closed")
    t.true(time.monotonic() - t0 < 1.0, "within 1 s of the close")
    # A writer on B and one on A: the reader on A ends after both.
    w1 = t.open(c(t, "eof", "data"), os.O_WRONLY)
    w2 = t.open(c(b, "eof", "data"), os.O_WRONLY)
    for m in (t, b):
        t.eq(attr(t, m, "eof", "writers"), "2\n", "writers on both")
    p = t.spawn(["cat", c(t, "eof", "data")])
    t.wait_blocked(p, "read")
    t.close(w1)
    t.still_waiting(p, "A's cat waits while B's writer is open", 0.5)
    with t.within(5, "write on B"):
        os.write(w2, b"two\n")
    t.close(w2)
    t.eq(t.finish(p, 3), (0, b"two\n", b""), "A's cat: B's bytes, then "
         "end-of-file")


def test_killed_daemons_writers_stop_counting(t):
    """A writer through mount B; B's daemon killed: once its session
    ends, A's reader, which waited for that writer, gets end-of-file
    (within 2 s) after what B's writer had written."""
    b = t.other_mount()
    t.mkobj("channels", "dead")
    w = t.py(r'''
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.write(fd, b"before\n")
print("open", flush=True)
sys.stdin.readline()
''', c(b, "dead", "data"), stdin=subprocess.PIPE)
    t.eq(t.read_until(w, b"open\n", 5), b"open\n", "B's writer")
    p = t.spawn(["cat", c(t, "dead", "data")])
    t.eq(t.read_until(p, b"before\n", 3), b"before\n", "A's cat")
    t.still_waiting(p, "A's cat waits while B's writer is open", 0.3)
    t0 = time.monotonic()
    os.kill(b.daemon.pid, signal.SIGKILL)
    try:
        t.wait_exit(b.daemon, 5)
        rc, out, err = t.finish(p, 5)
        el = time.monotonic() - t0
        t.eq((rc, out, err), (0, b"", b""), "A's cat after B's daemon died")
        t.true(el < 2.0, "end-of-file within 2 s of the kill",
               "%.2f s" % el)
        wait_attr(t, t, "dead", "writers", "0\n")
    finally:
        t.kill(w)
        discard_killed(t, b)


# ---------------------------------------------------------------------------
# Order, atomic writes, capacity


BLOCKS = r'''
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
first, count = int(sys.argv[2]), int(sys.argv[3])
for i in range(count):
    blk = (b"%c%05d" % (first, i)).ljust(4096, bytes([first]))
    n = os.write(fd, blk)
    if n != 4096:
        print("short write %d" % n, flush=True)
        sys.exit(3)
'''


@pytest.mark.deadline(90)
def test_writes_from_both_mounts_whole_and_in_order(t):
    """Writers on A and B, 150 blocks of 4096 bytes each, the capacity one
    block so they take turns: the reader on B reads every block whole,
    each writer's in order."""
    b = t.other_mount()
    t.mkobj("channels", "blk")
    t.write_file(c(t, "blk", "capacity"), b"8192")
    r = t.open(c(b, "blk", "data"), os.O_RDONLY)
    ws = [t.py(BLOCKS, c(m, "blk", "data"), str(ch), "150")
          for m, ch in ((t, ord("a")), (b, ord("b")))]
    got = read_to_eof(t, r, 60, "reading the blocks on B")
    for p in ws:
        t.eq(t.finish(p, 10), (0, b"", b""), "writer `%s`" % p.what)
    t.eq(len(got), 2 * 150 * 4096, "bytes read on B")
    seen = {"a": [], "b": []}
    for i in range(0, len(got), 4096):
        blk = got[i:i + 4096]
        k, num = blk[:1].decode(errors="replace"), blk[1:6]
        whole = k in seen and num.isdigit() and \
            blk == (blk[:6]).ljust(4096, blk[:1])
        t.true(whole, "the block at %d is one writer's, whole" % i,
               "%r...%r" % (blk[:12], blk[-12:]))
        seen[k].append(int(num))
    for k, nums in sorted(seen.items()):
        t.eq(nums, list(range(150)), "the blocks of writer %s, in order" % k)


def test_capacity_enforced_across_mounts(t):
    b = t.other_mount()
    t.mkobj("channels", "cap")
    t.eq(t.write_file(c(t, "cap", "capacity"), b"4096"), 4, "capacity 4096")
    with t.opened(c(t, "cap", "data"), WR_NB) as fd:
        t.eq(os.write(fd, b"P" * 5000), 4096, "O_NONBLOCK write of 5000 "
             "bytes on A: the 4096 that fit")
    t.eq(attr(t, b, "cap", "bytes"), "4096\n", "B's bytes")
    with t.opened(c(b, "cap", "data"), WR_NB) as fd:
        t.raises(errno.EAGAIN, os.write, fd, b"Z",
                 what="O_NONBLOCK write on B to the full channel")
    for bad in (b"x", b"1073741825", b"-1"):
        t.raises(errno.EINVAL, t.write_file, c(t, "cap", "capacity"), bad,
                 what="capacity %r" % bad)
    t.eq(attr(t, b, "cap", "capacity"), "4096\n", "capacity kept")
    # Resizing below what is buffered: EBUSY, from either mount.
    t.mkobj("channels", "cap2")
    t.write_file(c(t, "cap2", "capacity"), b"8192")
    t.eq(t.write_file(c(t, "cap2", "data"), b"x" * 5000, WR_NB), 5000,
         "5000 bytes into cap2")
    t.raises(errno.EBUSY, t.write_file, c(b, "cap2", "capacity"), b"4096",
             what="capacity 4096 on B with 5000 bytes buffered")
    t.eq(attr(t, t, "cap2", "capacity"), "8192\n", "cap2's capacity kept")
    w = t.py(WRITER, c(b, "cap", "data"), "Z")
    t.wait_blocked(w, "write")
    t.still_waiting(w, "B's writer waits while the channel is full", 0.5)
    t.eq(attr(t, t, "cap", "bytes"), "4096\n", "bytes while it waits")
    with t.opened(c(t, "cap", "data"), RD_NB) as fd:
        t0 = time.monotonic()
        t.eq(os.read(fd, 100), b"P" * 100, "read of 100 bytes on A")
        rc, out, err = t.finish(w, 3)
        t.eq((rc, out), (0, b"wrote 1\n"), "B's writer (status, out)")
        t.true(time.monotonic() - t0 < 1.0, "B's writer woken within 1 s")
        t.eq(read_to_eof(t, fd), b"P" * 3996 + b"Z", "the rest, in order")
    name = lit(posix(t, "cap"))
    t.eq(t.pg.psql("select ipcfs.channel_write(%s, %s)" % (
        name, blit(b"q" * 4096))).strip(), "4096", "channel_write of 4096")
    t.eq(t.pg.psql("select ipcfs.channel_write(%s, %s)" % (
        name, blit(b"r"))).strip(), "0", "channel_write to the full "
         "channel: 0, nothing appended")
    t.eq(attr(t, b, "cap", "bytes"), "4096\n", "bytes")


# ---------------------------------------------------------------------------
# Waits


def test_blocked_read_on_b_woken_by_write_on_a(t):
    b = t.other_mount()
    t.mkobj("channels", "wake")
    w = t.open(c(t, "wake", "data"), os.O_WRONLY)
    p = t.spawn(["cat", c(b, "wake", "data")])
    t.wait_blocked(p, "read")
    t.eq(attr(t, b, "wake", "waiters"), "%d data\n" % p.pid, "B's waiters")
    t.eq(attr(t, t, "wake", "waiters"), "", "A's waiters")
    t0 = time.monotonic()
    with t.within(5, "write on A"):
        os.write(w, b"wake\n")
    got = t.read_until(p, b"wake\n", 2)
    el = time.monotonic() - t0
    t.eq(got, b"wake\n", "B's cat")
    t.true(el < 1.0, "woken within 1 s of A's write", "%.3f s" % el)


def test_interrupted_read_takes_nothing(t):
    b = t.other_mount()
    t.mkobj("channels", "int")
    w = t.open(c(t, "int", "data"), os.O_WRONLY)
    rc, out, err = t.run_interrupted(["cat", c(b, "int", "data")],
                                     "timeout -s INT 1 cat data on B")
    t.eq((rc, out), (124, b""), "timeout -s INT 1 cat data (status, out)")
    wait_attr(t, t, "int", "readers", "0\n")
    with t.within(5, "write on A"):
        os.write(w, b"after")
    t.settle(lambda: attr(t, b, "int", "bytes"), "5\n", "bytes on B")
    with t.opened(c(b, "int", "data"), RD_NB) as fd:
        t.eq(os.read(fd, 100), b"after", "a fresh read on B")
    t.eq(attr(t, t, "int", "bytes"), "0\n", "nothing left")


def test_rmdir_on_a_ends_reader_and_writer_on_b(t):
    b = t.other_mount()
    t.mkobj("channels", "rm")
    t.mkobj("channels", "rmw")
    t.write_file(c(t, "rmw", "capacity"), b"4096")
    with t.opened(c(t, "rmw", "data"), WR_NB) as fd:
        os.write(fd, b"F" * 4096)
    hold = t.open(c(t, "rm", "data"), os.O_WRONLY)
    r = t.spawn(["cat", c(b, "rm", "data")])
    w = t.py(WRITER, c(b, "rmw", "data"), "x")
    t.wait_blocked(r, "read")
    t.wait_blocked(w, "write")
    t0 = time.monotonic()
    t.rmobj("channels", "rm")
    t.rmobj("channels", "rmw")
    t.eq(t.finish(r, 3), (0, b"", b""), "B's reader after rmdir on A")
    t.eq(t.finish(w, 3)[:2], (3, b"EPIPE\n"), "B's writer after rmdir on A")
    t.true(time.monotonic() - t0 < 2.0, "both within 2 s")
    t.close(hold)
    t.eq(ls(t, b, "channels"), [], "B's channels/")

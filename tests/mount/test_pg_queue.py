# SPDX-License-Identifier: GPL-2.0-or-later
"""queues/ on the PostgreSQL engine (issue 12, points 1, 2, 3, 4): two
mounts of one database stand for two hosts, A (the file's tree) and B
(t.other_mount(), same prefix).

An object made on one mount is seen on the other with its files, mode and
attributes, and removed from either; a blocked reader on B is woken by a
write on A within 1 s; an interrupted read takes nothing, and a message
taken for a reader the interrupt then refused goes back in its place; a
full queue blocks a writer until a read on the other mount; priorities
through `ipcctl send -p` / `recv -v` (the framed file) and through SQL;
maxmsg and msgsize enforced, also for SQL callers; 1000 numbered messages
through 2 producers on A and 2 consumers on A and B, none lost, none
duplicated; rmdir on A ends B's waits; waiters; the native API
(ipcfs.mq_send / mq_receive from psql) against cat on a mount.
"""

import errno
import os
import signal
import stat
import subprocess
import time

import pytest

from pg import PgHarness
from pgtest import (CONSUMER, PRODUCER, WR_NB, at, blit, consumed, drain,
                    exactly_once, in_order_per_producer, lit, ls, posix,
                    read_attr, sent_count, sqlstate_of, take_nb)
from procs import WRITER

H = PgHarness("pgq", mq_maxmsg=3, mq_msgsize=256)
FILES = ["count", "data", "framed", "lines", "maxmsg", "msgsize", "stream",
         "waiters"]


def q(m, name, *rest):
    return at(m, "queues", name, *rest)


def count(t, m, name):
    return int(read_attr(t, m, "queues", name, "count"))


def send(t, m, name, data):
    t.eq(t.write_file(q(m, name, "data"), data), len(data),
         "write of %r to queues/%s/data" % (data[:40], name))


def cat(t, m, name, timeout=5):
    """`cat data` on mount M: (status, output)."""
    rc, out, err = t.run(["cat", q(m, name, "data")], timeout=timeout)
    return rc, out


def ipcctl(t, *args, timeout=5):
    return t.run([t.ipcctl] + list(args), timeout=timeout)


# ---------------------------------------------------------------------------
# One database, two mounts


def test_cross_mount_visibility(t):
    b = t.other_mount()
    t.eq(ls(t, b, "queues"), [], "B's queues/ at start")
    t.mkobj("queues", "vis", 0o640)
    t.eq(ls(t, b, "queues"), ["vis"], "B lists the queue made on A")
    t.eq(ls(t, b, "queues/vis"), FILES, "the files of B's queues/vis")
    with t.within(5, "stat on both"):
        sa, sb = os.stat(q(t, "vis")), os.stat(q(b, "vis"))
    t.true(stat.S_ISDIR(sb.st_mode), "queues/vis is a directory on B")
    t.eq((oct(stat.S_IMODE(sb.st_mode) & 0o666), sb.st_uid, sb.st_gid),
         (oct(0o640), os.getuid(), os.getgid()), "mode and owner on B")
    t.eq(stat.S_IMODE(sb.st_mode), stat.S_IMODE(sa.st_mode),
         "same mode on A and B")
    for f, want in (("maxmsg", "3\n"), ("msgsize", "256\n"), ("count", "0\n")):
        t.eq(read_attr(t, b, "queues", "vis", f), want, "B's %s" % f)
    send(t, t, "vis", b"from A")
    t.eq(read_attr(t, b, "queues", "vis", "count"), "1\n",
         "B's count after a write on A")
    t.eq(cat(t, b, "vis"), (0, b"from A"), "cat data on B")
    t.eq(read_attr(t, t, "queues", "vis", "count"), "0\n",
         "A's count after B took it")
    with t.within(5, "chmod on B"):
        os.chmod(q(b, "vis"), 0o600)
    with t.within(5, "stat on A"):
        t.eq(oct(stat.S_IMODE(os.stat(q(t, "vis")).st_mode) & 0o666),
             oct(0o600), "A's mode after chmod on B")
    t.mkobj("queues", "vis2")
    with t.within(5, "mkdir on B"):
        t.raises(errno.EEXIST, os.mkdir, q(b, "vis2"), 0o600,
                 what="mkdir on B of a queue made on A")
        os.rmdir(q(b, "vis"))
    t.made["queues"].discard("vis")
    t.eq(ls(t, t, "queues"), ["vis2"], "A's queues/ after rmdir on B")
    with t.within(5, "stat on A"):
        t.raises(errno.ENOENT, os.stat, q(t, "vis"),
                 what="stat on A of a queue removed on B")
        t.raises(errno.ENOENT, os.open, q(t, "vis", "data"), os.O_WRONLY,
                 what="open on A of a queue removed on B")


def test_psql_native_api(t):
    """What a program without a mount does (the README's native API),
    against cat on the mounts."""
    b = t.other_mount()
    t.mkobj("queues", "nat")
    name = lit(posix(t, "nat"))
    got = t.pg.psql("select ipcfs.mq_send(%s, %s, 0)" % (
        name, blit(b"from psql")))
    t.eq(got.strip(), "t", "ipcfs.mq_send's result")
    t.eq(read_attr(t, t, "queues", "nat", "count"), "1\n", "A's count")
    t.eq(cat(t, b, "nat"), (0, b"from psql"), "cat data on B")
    send(t, t, "nat", b"from A")
    got = t.pg.psql("select convert_from(data, 'UTF8') || '|' || prio "
                    "from ipcfs.mq_receive(%s)" % name)
    t.eq(got.strip(), "from A|0", "ipcfs.mq_receive of what A wrote")
    got = t.pg.psql("select count(*) from ipcfs.mq_receive(%s)" % name)
    t.eq(got.strip(), "0", "ipcfs.mq_receive of an empty queue: no row")
    got = t.pg.psql("select maxmsg || ' ' || msgsize || ' ' || curmsgs "
                    "from ipcfs.mq_attr(%s)" % name)
    t.eq(got.strip(), "3 256 0", "ipcfs.mq_attr")
    got = t.pg.psql("select ipcfs.list('queues')::text")
    t.true(posix(t, "nat") in got.split(), "ipcfs.list names the queue",
           repr(got))


def test_blocked_read_on_b_woken_by_write_on_a(t):
    b = t.other_mount()
    t.mkobj("queues", "wake")
    p = t.spawn(["cat", q(b, "wake", "data")])
    t.wait_blocked(p, "read")
    t.still_waiting(p, "cat on B waits while the queue is empty", 0.3)
    t0 = time.monotonic()
    send(t, t, "wake", b"wake up")
    rc, out, err = t.finish(p, 3)
    el = time.monotonic() - t0
    t.eq((rc, out, err), (0, b"wake up", b""), "cat data on B")
    t.true(el < 1.0, "B's reader woken within 1 s of A's write",
           "%.3f s" % el)
    t.eq(count(t, t, "wake"), 0, "count after")
    # And the other way, on stream: each message wakes it.
    p = t.spawn(["cat", q(t, "wake", "stream")])
    t.wait_blocked(p, "read")
    got = b""
    for m in (b"a\n", b"bb\n", b"ccc\n"):
        t0 = time.monotonic()
        send(t, b, "wake", m)
        got += t.read_until(p, m, 2)
        t.true(time.monotonic() - t0 < 1.0, "A's stream reader woken "
               "within 1 s of B's write of %r" % m)
    t.eq(got, b"a\nbb\nccc\n", "what cat stream on A printed")


def test_interrupted_read_takes_nothing(t):
    b = t.other_mount()
    t.mkobj("queues", "int")
    rc, out, err = t.run_interrupted(["cat", q(b, "int", "data")],
                                     "timeout -s INT 1 cat data on B")
    t.eq((rc, out), (124, b""), "timeout -s INT 1 cat data (status, out)")
    send(t, t, "int", b"after")
    t.settle(lambda: count(t, b, "int"), 1, "count after the write on A")
    t.eq(cat(t, b, "int"), (0, b"after"), "the next cat on B")
    t.eq(count(t, t, "int"), 0, "nothing left")


# A reader whose read(2) a SIGINT interrupts (the handler returns, and
# ctypes shows what the system call said): prints "open", then after the
# one read "GOT " and the bytes, or "ERR " and the errno name.
INT_ONCE = r'''
import ctypes, errno, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.read.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
libc.read.restype = ctypes.c_ssize_t
signal.signal(signal.SIGINT, lambda *a: None)
fd = os.open(sys.argv[1], os.O_RDONLY)
buf = ctypes.create_string_buffer(1 << 16)
n = libc.read(fd, buf, 1 << 16)
e = ctypes.get_errno()
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
if n < 0:
    out = b"ERR " + errno.errorcode.get(e, "?").encode()
else:
    out = b"GOT " + buf.raw[:n]
sys.stdout.buffer.write(out)
'''

# Two messages, argv[2] and argv[3], by two write(2)s of one open file,
# once a line comes on stdin (after "ready").
TWO_WRITES = r'''
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
print("ready", flush=True)
sys.stdin.readline()
os.write(fd, sys.argv[2].encode())
os.write(fd, sys.argv[3].encode())
'''


def test_interrupt_race_gives_back_in_place(t):
    """20 rounds: a reader on B parked on the empty queue is sent SIGINT
    while A writes two messages at once. Whether the reader's read got
    the first or the interrupt won (then the first, if it was taken for
    the reader, is given back in its place), the two are received once
    each, the first first."""
    b = t.other_mount()
    t.mkobj("queues", "race")
    took = 0
    for r in range(20):
        p = t.py(INT_ONCE, q(b, "race", "data"))
        t.wait_blocked(p, "read")
        m1, m2 = b"r%d-1" % r, b"r%d-2" % r
        w = t.py(TWO_WRITES, q(t, "race", "data"), m1.decode(),
                 m2.decode(), stdin=subprocess.PIPE)
        t.eq(t.read_until(w, b"ready\n", 5), b"ready\n", "A's writer")
        w.stdin.write(b"go\n")
        w.stdin.flush()
        # The interrupt lands before, during or after the first send.
        time.sleep(0.0005 * (r % 8))
        os.kill(p.pid, signal.SIGINT)
        rc, out, err = t.finish(p, 3)
        t.true(rc == 0 and (out == b"ERR EINTR" or out.startswith(b"GOT ")),
               "round %d: the interrupted reader" % r,
               "status %s, out %r, err %r" % (rc, out, err[-300:]))
        t.eq(t.finish(w, 5)[0::2], (0, b""), "round %d: A's writer" % r)
        rest = drain(t, q(b, "race", "data"))
        got = ([out[4:]] if out.startswith(b"GOT ") else []) + rest
        t.eq(got, [m1, m2], "round %d: what the reader (%r) and then the "
             "drain got" % (r, out))
        took += out.startswith(b"GOT ")
    t.note("the reader took its message in %d of 20 rounds" % took)


def test_full_queue_blocks_writer_until_read_on_other_mount(t):
    b = t.other_mount()
    t.mkobj("queues", "full")
    for m in (b"m1", b"m2", b"m3"):
        send(t, t, "full", m)
    t.eq(read_attr(t, b, "queues", "full", "count"), "3\n", "B's count")
    with t.opened(q(b, "full", "data"), WR_NB) as fd:
        t.raises(errno.EAGAIN, os.write, fd, b"nb",
                 what="O_NONBLOCK write on B to the full queue")
    w = t.py(WRITER, q(t, "full", "data"), "w4")
    t.wait_blocked(w, "write")
    t.still_waiting(w, "A's writer waits while the queue is full", 0.5)
    t.eq(count(t, b, "full"), 3, "count while A's writer waits")
    t0 = time.monotonic()
    t.eq(cat(t, b, "full"), (0, b"m1"), "cat data on B")
    rc, out, err = t.finish(w, 3)
    t.eq((rc, out), (0, b"wrote 2\n"), "A's parked writer (status, out)")
    t.true(time.monotonic() - t0 < 1.0, "A's writer woken within 1 s")
    t.eq(drain(t, q(b, "full", "data")), [b"m2", b"m3", b"w4"],
         "the queue, drained on B")


def test_rmdir_on_a_ends_waits_on_b(t):
    b = t.other_mount()
    t.mkobj("queues", "gone")
    r = t.spawn(["cat", q(b, "gone", "data")])
    s = t.spawn(["cat", q(b, "gone", "stream")])
    t.wait_blocked(r, "read")
    t.wait_blocked(s, "read")
    t.mkobj("queues", "gonew")
    for m in (b"1", b"2", b"3"):
        send(t, t, "gonew", m)
    w = t.py(WRITER, q(b, "gonew", "data"), "4")
    t.wait_blocked(w, "write")
    t0 = time.monotonic()
    t.rmobj("queues", "gone")
    t.rmobj("queues", "gonew")
    for p, what in ((r, "cat data"), (s, "cat stream")):
        t.eq(t.finish(p, 3), (0, b"", b""), "B's blocked %s after rmdir "
             "on A: end-of-file" % what)
    rc, out, err = t.finish(w, 3)
    t.eq((rc, out), (3, b"EIDRM\n"), "B's parked writer after rmdir on A")
    t.true(time.monotonic() - t0 < 2.0, "all ended within 2 s")
    t.eq(ls(t, b, "queues"), [], "B's queues/ after")


def test_waiters_lists_this_mounts_parked_readers(t):
    b = t.other_mount()
    t.mkobj("queues", "wt")
    p = t.spawn(["cat", q(b, "wt", "data")])
    t.wait_blocked(p, "read")
    t.eq(read_attr(t, b, "queues", "wt", "waiters"), "%d data\n" % p.pid,
         "B's waiters")
    t.eq(read_attr(t, t, "queues", "wt", "waiters"), "",
         "A's waiters (its own parked requests only)")
    send(t, t, "wt", b"x")
    t.eq(t.finish(p, 3), (0, b"x", b""), "the waiter")
    t.eq(t.wait_value(lambda: read_attr(t, b, "queues", "wt", "waiters"),
                      "", 2), "", "B's waiters once it is gone")


# ---------------------------------------------------------------------------
# Priorities, limits


def test_priorities_through_ipcctl(t):
    b = t.other_mount()
    t.mkobj("queues", "pr")
    t.write_file(q(t, "pr", "maxmsg"), b"10")
    for prio, m in ((1, "a"), (7, "b"), (7, "c"), (3, "d"), (0, "e")):
        rc, out, err = ipcctl(t, "send", "-p", str(prio), q(t, "pr"), m)
        t.eq((rc, err), (0, b""), "ipcctl send -p %d on A" % prio)
    t.eq(count(t, b, "pr"), 5, "B's count")
    got = []
    for _ in range(4):
        rc, out, err = ipcctl(t, "recv", "-v", "--timeout", "2", q(b, "pr"))
        t.eq((rc, err), (0, b""), "ipcctl recv -v on B")
        got.append(out)
    t.eq(got, [b"7\tb", b"7\tc", b"3\td", b"1\ta"], "ipcctl recv -v on B: "
         "highest priority first, oldest first within one")
    t.eq(cat(t, b, "pr"), (0, b"e"), "cat data on B: the last, priority 0")
    rc, out, err = ipcctl(t, "recv", "--timeout", "0.3", q(b, "pr"))
    t.eq((rc, out), (124, b""), "ipcctl recv --timeout on the empty queue")
    # A priority given in SQL, seen by recv -v; data stays plain bytes.
    t.pg.psql("select ipcfs.mq_send(%s, %s, 9)" % (
        lit(posix(t, "pr")), blit(b"from sql")))
    send(t, t, "pr", b"plain")
    t.eq(ipcctl(t, "recv", "-v", "--timeout", "2", q(b, "pr"))[:2],
         (0, b"9\tfrom sql"), "recv -v on B of an SQL send of priority 9")
    t.eq(ipcctl(t, "recv", "-v", "--timeout", "2", q(t, "pr"))[:2],
         (0, b"0\tplain"), "recv -v on A of a write to data")
    # Out of range: refused, nothing sent.
    rc, out, err = ipcctl(t, "send", "-p", "32768", q(t, "pr"), "x")
    t.true(rc != 0, "ipcctl send -p 32768 refused", "status %d" % rc)
    t.eq(count(t, t, "pr"), 0, "nothing sent")


def test_framed_file_carries_the_priority(t):
    """queues/NAME/framed, what ipcctl uses: a write of `PRIO<TAB>MESSAGE`
    sends MESSAGE at PRIO; a read takes the head as `PRIO<TAB>MESSAGE`."""
    b = t.other_mount()
    t.mkobj("queues", "fr")
    t.eq(t.write_file(q(t, "fr", "framed"), b"5\tfive"), 6,
         "write of 5<TAB>five to framed on A")
    send(t, t, "fr", b"zero")
    t.eq(t.read_file(q(b, "fr", "framed")), b"5\tfive", "read of framed on B")
    t.eq(t.read_file(q(b, "fr", "framed")), b"0\tzero", "read of framed on B")
    for bad in (b"five", b"x\tm", b"-1\tm", b"32768\tm"):
        with t.opened(q(t, "fr", "framed"), os.O_WRONLY) as fd:
            t.raises(errno.EINVAL, os.write, fd, bad,
                     what="write of %r to framed" % bad)
    t.eq(count(t, t, "fr"), 0, "nothing sent by the refused writes")


def test_maxmsg_msgsize_enforced(t):
    b = t.other_mount()
    t.mkobj("queues", "lim")
    data = q(t, "lim", "data")
    with t.opened(data, os.O_WRONLY) as fd:
        t.raises(errno.EMSGSIZE, os.write, fd, b"x" * 257,
                 what="write of 257 bytes (msgsize 256)")
        t.eq(os.write(fd, b"y" * 256), 256, "write of 256 bytes")
    t.eq(count(t, b, "lim"), 1, "count: only the 256-byte one")
    t.eq(take_nb(t, q(b, "lim", "data")), b"y" * 256, "B takes it whole")
    # Settings made on one mount hold on the other.
    t.eq(t.write_file(q(b, "lim", "maxmsg"), b"5"), 1, "maxmsg 5 on B")
    t.eq(t.write_file(q(b, "lim", "msgsize"), b"16"), 2, "msgsize 16 on B")
    t.eq(read_attr(t, t, "queues", "lim", "maxmsg"), "5\n", "A's maxmsg")
    t.eq(read_attr(t, t, "queues", "lim", "msgsize"), "16\n", "A's msgsize")
    with t.opened(data, WR_NB) as fd:
        t.raises(errno.EMSGSIZE, os.write, fd, b"z" * 17,
                 what="write of 17 bytes on A (msgsize 16 set on B)")
        for i in range(5):
            os.write(fd, b"%d" % i)
        t.raises(errno.EAGAIN, os.write, fd, b"6",
                 what="O_NONBLOCK write on A to the full queue (maxmsg 5 "
                 "set on B)")
    t.eq(count(t, b, "lim"), 5, "count on B")
    with t.opened(q(b, "lim", "maxmsg"), os.O_WRONLY) as fd:
        t.raises(errno.EBUSY, os.write, fd, b"8",
                 what="maxmsg on B while messages wait")
    # In the database, for a program without a mount too.
    name = lit(posix(t, "lim"))
    t.eq(t.pg.psql("select ipcfs.mq_send(%s, %s, 0)" % (name, blit(b"6")))
         .strip(), "f", "ipcfs.mq_send to the full queue: false")
    sqlstate_of(t, "select ipcfs.mq_send(%s, %s, 0)" % (name, blit(b"w" * 17)),
                "IP090", "ipcfs.mq_send of 17 bytes (msgsize 16)")
    sqlstate_of(t, "select ipcfs.mq_send(%s, %s, 40000)" % (name, blit(b"p")),
                "IP022", "ipcfs.mq_send of priority 40000")
    t.eq(drain(t, q(b, "lim", "data")), [b"0", b"1", b"2", b"3", b"4"],
         "the queue, drained on B")
    for bad in (b"0", b"65537", b"x"):
        with t.opened(q(t, "lim", "maxmsg"), os.O_WRONLY) as fd:
            t.raises(errno.EINVAL, os.write, fd, bad,
                     what="maxmsg %r" % bad)
    t.eq(read_attr(t, b, "queues", "lim", "maxmsg"), "5\n", "maxmsg kept")


def test_sql_errors_have_their_sqlstate(t):
    """The native API's errors: SQLSTATE IP002 for a queue that is not
    there, IP090 for a message longer than msgsize, IP017 to make one
    twice, IP016 to resize one a message waits in."""
    t.mkobj("queues", "st")
    name = lit(posix(t, "st"))
    sqlstate_of(t, "select ipcfs.mq_send(%s, %s, 0)" % (
        lit(posix(t, "nosuch")), blit(b"x")), "IP002", "send to no queue")
    sqlstate_of(t, "select * from ipcfs.mq_receive(%s)" % lit(
        posix(t, "nosuch")), "IP002", "receive from no queue")
    sqlstate_of(t, "select ipcfs.mq_send(%s, %s, 0)" % (
        name, blit(b"x" * 300)), "IP090", "send of 300 bytes (msgsize 256)")
    sqlstate_of(t, "select ipcfs.mq_create(%s, 0, 0, 384, 3, 256)" % name,
                "IP017", "mq_create of a queue that exists")
    send(t, t, "st", b"waits")
    sqlstate_of(t, "select ipcfs.mq_set(%s, 5, null)" % name, "IP016",
                "mq_set while a message waits")
    t.eq(drain(t, q(t, "st", "data")), [b"waits"], "the queue")


# ---------------------------------------------------------------------------
# Many producers and consumers


@pytest.mark.deadline(120)
def test_thousand_messages_two_producers_two_consumers(t):
    """2 producers on A write 500 numbered messages each to data; a
    consumer on A and one on B read stream; then one END each. Every
    message is received exactly once, each producer's in order."""
    b = t.other_mount()
    t.mkobj("queues", "k")
    t.write_file(q(t, "k", "maxmsg"), b"32")
    cons = [t.py(CONSUMER, q(m, "k", "stream")) for m in (t, b)]
    for p in cons:
        t.wait_blocked(p, "read")
    t0 = time.monotonic()
    prods = [t.py(PRODUCER, q(t, "k", "data"), "p%d" % i, "500", "-")
             for i in range(2)]
    sent = []
    for i, p in enumerate(prods):
        n = sent_count(t, p, 60, "producer p%d" % i)
        t.eq(n, 500, "producer p%d sent" % i)
        sent += ["p%d-%d" % (i, j) for j in range(n)]
    send(t, t, "k", b"END")
    send(t, t, "k", b"END")
    got = [consumed(t, p, 20, "consumer on %s" % w)
           for p, w in zip(cons, "AB")]
    el = time.monotonic() - t0
    t.note("consumer on A got %d, on B %d, in %.2f s" % (
        len(got[0]), len(got[1]), el))
    exactly_once(t, "1000 messages through A and B", sent, got[0] + got[1])
    t.eq(len(got[0]) + len(got[1]), 1000, "messages received in all")
    for g, w in zip(got, "AB"):
        in_order_per_producer(t, "consumer on %s" % w, g)
    t.eq(count(t, b, "k"), 0, "nothing left")


@pytest.mark.deadline(90)
def test_parked_readers_cost_no_thread_and_each_gets_one(t):
    """100 readers parked on B cost B's daemon no thread each (waiting is
    the event loop's, DESIGN §6); 100 writes on A give each exactly one
    message."""
    b = t.other_mount()
    t.mkobj("queues", "many")
    t.write_file(q(t, "many", "maxmsg"), b"128")
    before = t.thread_count(b.daemon.pid)
    ps = [t.spawn(["cat", q(b, "many", "data")]) for _ in range(100)]
    t.wait_all_blocked(ps, "read", 20)
    during = t.thread_count(b.daemon.pid)
    t.note("B's daemon: %d threads before, %d with 100 parked readers" % (
        before, during))
    t.true(0 < during < 32, "B's daemon has < 32 threads with 100 parked "
           "readers", "%d before, %d with 100 parked" % (before, during))
    with t.opened(q(t, "many", "data"), os.O_WRONLY, 30) as fd:
        for i in range(100):
            os.write(fd, b"m%03d" % i)
    got = sorted(t.finish(p, 10)[1] for p in ps)
    t.eq(got, [b"m%03d" % i for i in range(100)], "what the 100 readers "
         "printed: each message once")
    t.eq(count(t, t, "many"), 0, "nothing left")


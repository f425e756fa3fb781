# SPDX-License-Identifier: GPL-2.0-or-later
"""topics/ on the PostgreSQL engine (issue 12, point 6): broadcast across
two mounts of one database, A (the file's tree) and B (t.other_mount(),
same prefix).

A topic made on A is B's too; every subscriber on either mount gets every
message published after it opened, from either mount, in order, and none
from before; payloads past NOTIFY's 8000 bytes up to the largest message
arrive whole; a blocked reader on B is woken by a publish on A within
1 s; an interrupted read takes nothing; subscribers and published count
every mount; rmdir on A ends B's readers with end-of-file; waiters; the
native API (ipcfs.topic_publish / topic_subscribe / topic_read from
psql).
"""

import errno
import os
import random
import signal
import stat
import struct
import time

import pytest

from pg import PgHarness
from pgtest import (PsqlSession, at, blit, lit, ls, posix, read_attr,
                    sqlstate_of)

H = PgHarness("pgtop")
FILES = ["backlog", "data", "dropped", "published", "subscribers",
         "waiters"]
MAX_MSG = (1 << 20) - 4096

# Opens argv[1] for reading, says "open", then reads argv[2] messages (one
# read each, up to 1 MiB) and prints each as a frame (4-byte length, then
# the bytes); stops early at end-of-file (an empty frame) or an error (its
# name as a frame).
READN = r'''
import errno, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.write(1, b"open\n")
out = []
for _ in range(int(sys.argv[2])):
    try:
        b = os.read(fd, 1 << 20)
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
# read(2) fails instead of being restarted): "INT" for each; after argv[2]
# messages, "END" and the messages as frames.
INT_READER = r'''
import os, signal, struct, sys
class Int(Exception):
    pass
def on_int(signo, frame):
    raise Int()
signal.signal(signal.SIGINT, on_int)
fd = os.open(sys.argv[1], os.O_RDONLY)
os.write(1, b"open\n")
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


def frames(b):
    out, i = [], 0
    while i + 4 <= len(b):
        (n,) = struct.unpack_from("<I", b, i)
        out.append(b[i + 4:i + 4 + n])
        i += 4 + n
    if i != len(b):
        out.append(b"torn frame at %d of %d" % (i, len(b)))
    return out


def tp(m, name, *rest):
    return at(m, "topics", name, *rest)


def attr(t, m, name, a):
    return read_attr(t, m, "topics", name, a)


def wait_attr(t, m, name, a, want, timeout=2.0):
    got = t.wait_value(lambda: attr(t, m, name, a), want, timeout)
    t.eq(got, want, "topics/%s/%s (within %g s)" % (name, a, timeout))


def readers(t, m, name, n, count):
    """N READN children on mount M, each open (subscribed)."""
    ps = [t.py(READN, tp(m, name, "data"), str(count)) for _ in range(n)]
    for p in ps:
        t.eq(t.read_until(p, b"open\n", 5), b"open\n", "a reader opened")
    return ps


def publish(t, fd, m):
    with t.within(5, "publish"):
        t.eq(os.write(fd, m), len(m), "write(2) of a %d-byte message" %
             len(m))


def test_cross_mount_visibility(t):
    b = t.other_mount()
    t.mkobj("topics", "vis", 0o640)
    t.eq(ls(t, b, "topics"), ["vis"], "B lists the topic made on A")
    t.eq(ls(t, b, "topics/vis"), FILES, "the files of B's topics/vis")
    with t.within(5, "stat on B"):
        st = os.stat(tp(b, "vis"))
    t.eq((oct(stat.S_IMODE(st.st_mode) & 0o666), st.st_uid, st.st_gid),
         (oct(0o640), os.getuid(), os.getgid()), "mode and owner on B")
    for f, want in (("backlog", "1024\n"), ("subscribers", "0\n"),
                    ("published", "0\n"), ("dropped", "0\n")):
        t.eq(attr(t, b, "vis", f), want, "B's %s" % f)
    t.eq(t.write_file(tp(b, "vis", "backlog"), b"100"), 3, "backlog on B")
    t.eq(attr(t, t, "vis", "backlog"), "100\n", "A's backlog")
    r = t.open(tp(b, "vis", "data"), os.O_RDONLY)
    t.eq(attr(t, t, "vis", "subscribers"), "1\n", "A counts B's reader")
    t.eq(t.write_file(tp(t, "vis", "data"), b"hi\n"), 3, "publish on A")
    t.eq(attr(t, b, "vis", "published"), "1\n", "B's published")
    with t.within(5, "read on B"):
        t.eq(os.read(r, 100), b"hi\n", "B's reader")
    t.close(r)
    wait_attr(t, t, "vis", "subscribers", "0\n")
    with t.within(5, "rmdir on B"):
        os.rmdir(tp(b, "vis"))
    t.made["topics"].discard("vis")
    t.eq(ls(t, t, "topics"), [], "A's topics/ after rmdir on B")


@pytest.mark.deadline(90)
def test_every_subscriber_of_both_mounts_gets_every_message(t):
    """3 readers on A and 3 on B; 100 messages published on A, then 100
    on B (after a first one, before the readers opened, that nobody
    gets): each reader reads the 200, in order."""
    b = t.other_mount()
    t.mkobj("topics", "all")
    t.write_file(tp(t, "all", "data"), b"before\n")
    ps = readers(t, t, "all", 3, 200) + readers(t, b, "all", 3, 200)
    for m in (t, b):
        t.eq(attr(t, m, "all", "subscribers"), "6\n", "subscribers")
    want = [b"%s%03d %s\n" % (w, i, b"." * (i % 37))
            for w in (b"a", b"b") for i in range(100)]
    for m, part in ((t, want[:100]), (b, want[100:])):
        w = t.open(tp(m, "all", "data"), os.O_WRONLY)
        for msg in part:
            publish(t, w, msg)
        t.close(w)
    for i, p in enumerate(ps):
        rc, out, err = t.finish(p, 20)
        t.eq((rc, err), (0, b""), "reader %d (status, stderr)" % i)
        got = frames(out)
        t.true(got == want, "reader %d on %s got the 200, in order" % (
            i, "A" if i < 3 else "B"), "%d messages; first %r" % (
                len(got), got[:2]))
    for m in (t, b):
        t.eq((attr(t, m, "all", "published"), attr(t, m, "all", "dropped")),
             ("201\n", "0\n"), "(published, dropped)")


def test_payloads_past_notify_limit(t):
    b = t.other_mount()
    t.mkobj("topics", "big")
    rnd = random.Random(6)
    sizes = [7999, 8000, 8001, 20000, 300000, MAX_MSG]
    msgs = [rnd.randbytes(n) for n in sizes]
    ps = readers(t, b, "big", 1, len(msgs)) + \
        readers(t, t, "big", 1, len(msgs))
    w = t.open(tp(t, "big", "data"), os.O_WRONLY)
    for m in msgs:
        publish(t, w, m)
    for p, where in zip(ps, "BA"):
        rc, out, err = t.finish(p, 20)
        t.eq((rc, err), (0, b""), "reader on %s" % where)
        got = frames(out)
        t.eq([len(g) for g in got], sizes, "the sizes read on %s" % where)
        t.true(got == msgs, "the bytes read on %s are the bytes published"
               % where)
    with t.opened(tp(b, "big", "data"), os.O_WRONLY) as fd:
        t.raises(errno.EMSGSIZE, os.write, fd, b"x" * (MAX_MSG + 1),
                 what="publish of the largest message plus one")


def test_blocked_read_on_b_woken_by_publish_on_a(t):
    b = t.other_mount()
    t.mkobj("topics", "wake")
    p = t.spawn(["head", "-c", "5", tp(b, "wake", "data")])
    wait_attr(t, t, "wake", "subscribers", "1\n")
    t.wait_blocked(p, "read")
    t.eq(attr(t, b, "wake", "waiters"), "%d data\n" % p.pid, "B's waiters")
    t.eq(attr(t, t, "wake", "waiters"), "", "A's waiters")
    t0 = time.monotonic()
    t.eq(t.write_file(tp(t, "wake", "data"), b"wake\n"), 5, "publish on A")
    rc, out, err = t.finish(p, 3)
    el = time.monotonic() - t0
    t.eq((rc, out, err), (0, b"wake\n", b""), "B's reader")
    t.true(el < 1.0, "woken within 1 s of A's publish", "%.3f s" % el)


def test_interrupted_read_takes_nothing(t):
    b = t.other_mount()
    t.mkobj("topics", "ir")
    rc, out, err = t.run_interrupted(["cat", tp(b, "ir", "data")],
                                     "timeout -s INT 1 cat data on B")
    t.eq((rc, out), (124, b""), "timeout -s INT 1 cat data (status, out)")
    wait_attr(t, t, "ir", "subscribers", "0\n")
    p = t.py(INT_READER, tp(b, "ir", "data"), "3")
    t.eq(t.read_until(p, b"open\n", 5), b"open\n", "B's reader opened")
    t.wait_blocked(p, "read")
    for i in range(3):
        os.kill(p.pid, signal.SIGINT)
        t.eq(t.read_until(p, b"INT\n", 2), b"INT\n", "SIGINT %d ends the "
             "read at once" % (i + 1))
        t.wait_blocked(p, "read")
    w = t.open(tp(t, "ir", "data"), os.O_WRONLY)
    for m in (b"m1\n", b"m2\n", b"m3\n"):
        publish(t, w, m)
    rc, out, err = t.finish(p, 3)
    t.eq((rc, err), (0, b""), "B's reader (status, stderr)")
    t.true(out.startswith(b"END\n"), "B's reader ended", repr(out))
    t.eq(frames(out[4:]), [b"m1\n", b"m2\n", b"m3\n"], "what B's "
         "interrupted reader read: the three, in order")
    t.eq(attr(t, t, "ir", "dropped"), "0\n", "dropped")


def test_psql_native_api(t):
    b = t.other_mount()
    t.mkobj("topics", "nat")
    name = lit(posix(t, "nat"))
    p = t.spawn(["head", "-c", "10", tp(b, "nat", "data")])
    wait_attr(t, t, "nat", "subscribers", "1\n")
    t.wait_blocked(p, "read")
    t.eq(t.pg.psql("select ipcfs.topic_publish(%s, %s)" % (
        name, blit(b"from psql\n"))), "1", "ipcfs.topic_publish: its seq")
    t.eq(t.finish(p, 3), (0, b"from psql\n", b""), "B's reader")
    # A subscriber without a mount: a session that attaches as a mount
    # of its own, so that its subscription ends with it.
    sql = PsqlSession(t)
    me = "11111111-2222-3333-4444-555555555555"
    sql.query("select ipcfs.mount_attach('%s', 'psql', pg_backend_pid())"
              % me)
    sub = sql.query("select ipcfs.topic_subscribe(%s, '%s')" % (name, me))
    t.true(sub.isdigit(), "ipcfs.topic_subscribe: a subscription", sub)
    t.eq(attr(t, b, "nat", "subscribers"), "1\n",
         "B counts the SQL subscription")
    t.eq(t.write_file(tp(t, "nat", "data"), b"from A"), 6, "publish on A")
    t.eq(sql.query("select convert_from(data, 'UTF8') || '|' || seq "
                   "from ipcfs.topic_read(%s)" % sub), "from A|2",
         "ipcfs.topic_read")
    t.eq(sql.query("select count(*) from ipcfs.topic_read(%s)" % sub),
         "0", "ipcfs.topic_read with nothing new: no row")
    sql.query("select ipcfs.topic_unsubscribe(%s)" % sub)
    sql.query("select ipcfs.mount_detach('%s')" % me)
    sql.close()
    t.eq(attr(t, b, "nat", "subscribers"), "0\n", "after unsubscribe")
    sqlstate_of(t, "select ipcfs.topic_publish(%s, %s)" % (
        lit(posix(t, "nosuch")), blit(b"x")), "IP002",
        "ipcfs.topic_publish to no topic")


def test_rmdir_on_a_ends_readers_on_b(t):
    b = t.other_mount()
    t.mkobj("topics", "rm")
    ps = readers(t, b, "rm", 2, 5)
    for p in ps:
        t.wait_blocked(p, "read")
    t0 = time.monotonic()
    t.rmobj("topics", "rm")
    for p in ps:
        rc, out, err = t.finish(p, 3)
        t.eq((rc, frames(out), err), (0, [b""], b""),
             "B's reader after rmdir on A: end-of-file")
    t.true(time.monotonic() - t0 < 2.0, "within 2 s")


@pytest.mark.deadline(60)
def test_slow_reader_on_b_loses_oldest_past_backlog(t):
    b = t.other_mount()
    t.mkobj("topics", "slow")
    t.write_file(tp(t, "slow", "backlog"), b"10")
    r = t.open(tp(b, "slow", "data"), os.O_RDONLY)
    w = t.open(tp(t, "slow", "data"), os.O_WRONLY)
    for i in range(25):
        publish(t, w, b"%02d" % i)
    with t.within(10, "reads on B"):
        got = [os.read(r, 100) for _ in range(10)]
    t.eq(got, [b"%02d" % i for i in range(15, 25)], "B's slow reader: the "
         "newest 10, in order")
    t.eq(attr(t, t, "slow", "dropped"), "15\n", "A's dropped")
    fl = os.get_blocking(r)
    os.set_blocking(r, False)
    try:
        t.raises(errno.EAGAIN, os.read, r, 100, what="B's reader then")
    finally:
        os.set_blocking(r, fl)


# SPDX-License-Identifier: GPL-2.0-or-later
"""queues/NAME/lines (one message per line, whatever the writes) and the
writable maxmsg and msgsize (the queue made again with the new value),
checked natively: mq_receive, mq_getattr, fstat of the queue."""

import errno
import os
import signal
import stat
import time

import native
from harness import Harness
from procs import children_of

H = Harness("lines", mq_maxmsg=4, mq_msgsize=256)

# Writes ARGV[2] to ARGV[1] in one write(2) and prints what it returned;
# SIGINT only interrupts the write (the count it returned is printed).
LINES_WRITER = r"""
import os, signal, sys
signal.signal(signal.SIGINT, lambda *a: None)
fd = os.open(sys.argv[1], os.O_WRONLY)
try:
    n = os.write(fd, sys.argv[2].encode())
except OSError as e:
    n = -e.errno
print(n, flush=True)
os.close(fd)
"""


def test_seq_100_is_100_messages(t):
    """seq writes 100 lines in one write(2): 4 fit, the write parks for the
    rest, and goes on as a native reader takes them."""
    t.mkq("seq")
    p = t.sh('seq 100 > "$1"', t.qpath("seq", "lines"), timeout=None)
    got = [t.recv("seq", timeout=2) for _ in range(100)]
    rc, out, err = t.finish(p, 5)
    t.eq((rc, err), (0, b""), "seq 100 > lines")
    t.eq(got, [(b"%d\n" % i, 0) for i in range(1, 101)],
         "100 messages, newline included, in order")
    t.eq(t.count("seq"), 0, "nothing more")


def test_two_lines_one_write(t):
    t.mkq("two")
    rc, out, err = t.sh("printf 'a\\nb\\n' > \"$1\"", t.qpath("two", "lines"))
    t.eq((rc, err), (0, b""), "printf 'a\\nb\\n' > lines")
    t.eq(t.drain("two"), [(b"a\n", 0), (b"b\n", 0)], "two messages")


def test_line_over_writes_and_last_line_at_close(t):
    t.mkq("split")
    fd = t.open(t.qpath("split", "lines"), os.O_WRONLY)
    t.eq(os.write(fd, b"par"), 3, "write of half a line")
    t.eq(os.write(fd, b"t\n\nx"), 4, "write of its end, a line and a part")
    t.eq(t.drain("split"), [(b"part\n", 0), (b"\n", 0)],
         "a line split over writes is one message; x is held")
    t.close(fd)
    # The kernel sends the release after close(2) returns: wait for it.
    t.eq(t.recv("split", timeout=2), (b"x", 0),
         "the unterminated last line, sent at close")
    t.eq(t.count("split"), 0, "nothing more")


def test_long_write_to_data_and_lines(t):
    """head -c 20000 > data: each write(2) is a message (head writes in
    pieces no longer than msgsize), as DESIGN says of data; through lines,
    one line of 20000 bytes is EMSGSIZE and nothing of it is sent."""
    t.native_create("big", maxmsg=8, msgsize=8192)
    rc, out, err = t.sh('head -c 20000 /dev/zero > "$1"',
                        t.qpath("big", "data"))
    got = t.drain("big")
    sizes = [len(m) for m, _ in got]
    t.note("head -c 20000 > data: status %d, messages of %s" % (rc, sizes))
    if rc == 0:
        t.eq(sum(sizes), 20000, "data: every byte, in messages")
        t.true(all(0 < n <= 8192 for n in sizes), "data: each <= msgsize",
               str(sizes))
    else:
        t.true(b"too long" in err, "data: EMSGSIZE", err.decode())
    rc, out, err = t.sh("head -c 20000 /dev/zero | tr '\\0' a > \"$1\"",
                        t.qpath("big", "lines"))
    t.true(rc != 0 and b"Message too long" in err,
           "lines: one line too long is EMSGSIZE", "status %d, %r" % (
               rc, err))
    time.sleep(0.3)     # the release of tr's file, which might send a tail
    t.eq(t.write_file(t.qpath("big", "lines"), b"after\n"), 6, "a marker")
    t.eq(t.drain("big"), [(b"after\n", 0)], "lines: nothing of the long "
         "line was sent, at any time")


def test_line_longer_than_msgsize(t):
    t.mkq("long")
    lines = t.qpath("long", "lines")
    t.raises(errno.EMSGSIZE, t.write_file, lines, b"x" * 256 + b"\n",
             what="a 257-byte line")
    t.eq(t.write_file(lines, b"x" * 255 + b"\n"), 256, "a 256-byte line")
    # Lines before the long one go: a short count, as write(2) has.
    t.eq(t.write_file(lines, b"a\n" + b"y" * 300), 2,
         "write of a line and a long one")
    t.eq(t.drain("long"), [(b"x" * 255 + b"\n", 0), (b"a\n", 0)],
         "what was sent")


def test_long_line_over_writes_then_more_lines(t):
    """One open file: a line that grows past msgsize over several writes is
    refused (each write of it EMSGSIZE), its rest dropped up to its
    newline, and the lines after it go as usual."""
    t.mkq("longw")
    with t.opened(t.qpath("longw", "lines"), os.O_WRONLY) as fd:
        t.eq(os.write(fd, b"y" * 200), 200, "200 bytes of a line, held")
        t.raises(errno.EMSGSIZE, os.write, fd, b"y" * 100,
                 what="100 more: past msgsize")
        t.raises(errno.EMSGSIZE, os.write, fd, b"yy",
                 what="more of the refused line")
        t.eq(os.write(fd, b"y\nok 1\nok 2"), 11, "its end, a line, and "
             "the start of another")
    t.settle(lambda: t.count("longw"), 2, "two lines, the last at close")
    t.eq(t.drain("longw"), [(b"ok 1\n", 0), (b"ok 2", 0)],
         "what was sent: the lines after it, the last one at close")


def test_parked_writer_is_a_waiter_and_reports_what_it_sent(t):
    t.native_create("park", maxmsg=2, msgsize=16)
    lines = t.qpath("park", "lines")
    p = t.spawn(["timeout", "-s", "INT", "1", "/usr/bin/python3", "-c",
                 LINES_WRITER, lines, "1\n2\n3\n4\n"])
    kids = []
    end = time.monotonic() + 0.8
    want = None
    while time.monotonic() < end:
        kids = children_of(p.pid)
        if kids:
            want = "%d lines\n" % kids[0]
            if t.read_file(t.qpath("park", "waiters")).decode() == want:
                break
        time.sleep(0.02)
    t.eq(t.read_file(t.qpath("park", "waiters")).decode(), want,
         "waiters while the writer is parked on lines")
    rc, out, err = t.finish(p, 5)
    t.eq((rc, out.strip()), (124, b"4"),
         "interrupted write: status, count it returned")
    t.settle(lambda: t.count("park"), 2, "exactly the 2 lines it reported")
    t.eq(t.drain("park"), [(b"1\n", 0), (b"2\n", 0)], "those lines")
    t.eq(t.read_file(t.qpath("park", "waiters")), b"", "no waiter after")


def test_nonblock_full_is_eagain(t):
    t.native_create("nb", maxmsg=2, msgsize=16)
    lines = t.qpath("nb", "lines")
    flags = os.O_WRONLY | os.O_NONBLOCK
    t.eq(t.write_file(lines, b"a\nb\nc\n", flags), 4, "the lines that fit")
    t.raises(errno.EAGAIN, t.write_file, lines, b"c\n", flags,
             what="O_NONBLOCK write to a full queue")
    t.eq(t.drain("nb"), [(b"a\n", 0), (b"b\n", 0)], "what was sent")


def qstat(t, name):
    mqd = t.native(name)
    st = os.fstat(mqd)
    return native.mq_getattr(mqd), (stat.S_IMODE(st.st_mode), st.st_uid,
                                     st.st_gid)


def test_write_maxmsg_and_msgsize(t):
    t.mkq("m", 0o640)
    _, meta = qstat(t, "m")
    # 8: above the mount's 4, within fs.mqueue.msg_max (10) for a caller
    # without CAP_SYS_RESOURCE; the sysctls are everybody's on this host.
    rc, out, err = t.sh('echo 8 > "$1"', t.qpath("m", "maxmsg"))
    t.eq((rc, err), (0, b""), "echo 8 > maxmsg")
    attr, meta2 = qstat(t, "m")
    t.eq((attr.mq_maxmsg, attr.mq_msgsize), (8, 256),
         "mq_getattr: maxmsg 20, msgsize as it was")
    t.eq(meta2, meta, "mode, owner and group unchanged")
    t.eq(meta[0], 0o640, "mode")
    t.eq(t.write_file(t.qpath("m", "msgsize"), b"100\n"), 4,
         "write 100 to msgsize")
    attr, _ = qstat(t, "m")
    t.eq((attr.mq_maxmsg, attr.mq_msgsize), (8, 100), "mq_getattr after")
    t.eq((t.attr("m", "maxmsg"), t.attr("m", "msgsize")), ("8\n", "100\n"),
         "the tree's files")
    t.eq(t.write_file(t.qpath("m", "maxmsg"), b"8\n"), 2,
         "the same value: success")
    # Past what the kernel allows: its EINVAL, the queue as it was.
    t.raises(errno.EINVAL, t.write_file, t.qpath("m", "maxmsg"),
             b"%d\n" % (1 << 20), what="maxmsg 1048576")
    attr, meta3 = qstat(t, "m")
    t.eq((attr.mq_maxmsg, attr.mq_msgsize, meta3), (8, 100, meta),
         "unchanged after EINVAL")


def test_maxmsg_busy_and_invalid(t):
    t.mkq("b")
    maxmsg = t.qpath("b", "maxmsg")
    t.send("b", b"waits")
    t.raises(errno.EBUSY, t.write_file, maxmsg, b"3\n",
             what="maxmsg while a message waits")
    t.eq(t.recv("b"), (b"waits", 0), "the message is still there")
    with t.opened(t.qpath("b", "data"), os.O_WRONLY):
        t.raises(errno.EBUSY, t.write_file, maxmsg, b"3\n",
                 what="maxmsg while data is open")
    for bad in (b"abc\n", b"0\n", b"-1\n"):
        t.raises(errno.EINVAL, t.write_file, maxmsg, bad,
                 what="maxmsg %r" % bad)
        t.raises(errno.EINVAL, t.write_file, t.qpath("b", "msgsize"), bad,
                 what="msgsize %r" % bad)
    attr, _ = qstat(t, "b")
    t.eq((attr.mq_maxmsg, attr.mq_msgsize), (4, 256), "queue unchanged")
    # data closed: the release comes after close(2) returns.
    end = time.monotonic() + 2
    while True:
        try:
            t.write_file(maxmsg, b"3\n")
            break
        except OSError as e:
            if e.errno != errno.EBUSY or time.monotonic() > end:
                raise
            time.sleep(0.02)
    attr, _ = qstat(t, "b")
    t.eq(attr.mq_maxmsg, 3, "maxmsg once data is closed")


def test_last_line_of_a_file_open_when_the_daemon_stops(t):
    """A lines file still open when the daemon stops is released after its
    loop: the held line, for a full queue, waits a second for room, then
    is logged as lost (not dropped unseen, and the daemon still exits)."""
    m = t.extra_unstarted("linesexit", mq_maxmsg=2)
    m.start_daemon()
    q = os.path.join(m.mnt, "queues", "x")
    os.mkdir(q, 0o600)
    for msg in (b"m1", b"m2"):
        t.write_file(os.path.join(q, "data"), msg)
    fd = os.open(os.path.join(q, "lines"), os.O_WRONLY)
    try:
        t.eq(os.write(fd, b"tail"), 4, "the held line")
        t0 = time.monotonic()
        os.kill(m.daemon.pid, signal.SIGTERM)
        rc = m.daemon.wait(10)
        el = time.monotonic() - t0
    finally:
        os.close(fd)
    t.eq(rc, 1, "status after SIGTERM")
    t.true(0.9 <= el < 5, "it waited a second for room", "%.2fs" % el)
    t.true("lost a message kept to send back" in m.daemon_stderr(),
           "the line is logged as lost", m.daemon_stderr()[-300:])
    t.extra_unmount(m)     # its exit status 1 is the SIGTERM's


def test_last_line_at_close_to_a_full_queue(t):
    """A release cannot wait: the daemon keeps the last line and sends it
    when room comes, behind what was there."""
    t.native_create("fullc", maxmsg=2, msgsize=16)
    t.send("fullc", b"m1")
    t.send("fullc", b"m2")
    with t.opened(t.qpath("fullc", "lines"), os.O_WRONLY) as fd:
        t.eq(os.write(fd, b"tail"), 4, "the held line")
    t.settle(lambda: t.count("fullc"), 2, "still full after the close")
    t.eq(t.recv("fullc"), (b"m1", 0), "room for one")
    t.eq(t.recv("fullc"), (b"m2", 0), "the next")
    t.eq(t.recv("fullc", timeout=2), (b"tail", 0), "the last line, kept")

# SPDX-License-Identifier: GPL-2.0-or-later
"""queues/NAME/data and stream: one write = one message, one message per open
file of data, one message per read of stream, EMSGSIZE, O_NONBLOCK, short
reads, priorities, ipcctl send/recv, POLLOUT (POLLIN: test_waits.py)."""

import errno
import os
import select
import threading
import time

from harness import Harness

H = Harness("io", mq_msgsize=1024)
RD_NB = os.O_RDONLY | os.O_NONBLOCK
WR_NB = os.O_WRONLY | os.O_NONBLOCK


def pattern(n, seed=7):
    return bytes((i * seed + 3) % 251 for i in range(n))


def poll_while(t, fd, events, later):
    """poll FD for EVENTS for up to 3 s while another thread runs LATER
    0.3 s in: (revents, seconds the poll took)."""
    timer = threading.Timer(0.3, later)
    timer.start()
    try:
        t0 = time.monotonic()
        ev = t.revents(fd, events, 3000)
        return ev, time.monotonic() - t0
    finally:
        timer.join()


def test_echo_reaches_native_receive(t):
    t.mkq("echo")
    rc, out, err = t.run(["sh", "-c", 'echo hello > "$1"', "sh",
                          t.qpath("echo", "data")])
    t.eq((rc, err), (0, b""), "echo > data")
    t.eq(t.recv("echo"), (b"hello\n", 0), "native mq_receive")
    t.eq(t.count("echo"), 0, "count after")


def test_native_send_reaches_cat(t):
    t.mkq("cat")
    t.send("cat", b"one")
    t.send("cat", b"two")
    rc, out, err = t.run(["cat", t.qpath("cat", "data")])
    t.eq((rc, out, err), (0, b"one", b""), "cat data (status, out, err)")
    t.eq(t.attr("cat", "count"), "1\n", "count after one cat")
    t.eq(t.recv("cat"), (b"two", 0), "the second message still waits")


def test_three_writes_three_cats(t):
    t.mkq("w3")
    data = t.qpath("w3", "data")
    with t.opened(data, os.O_WRONLY, what="writes") as fd:
        for m in (b"m1", b"mm2", b"mmm3"):
            t.eq(os.write(fd, m), len(m), "write(%r)" % m)
    t.eq(t.attr("w3", "count"), "3\n", "count after 3 writes on one fd")
    for m in (b"m1", b"mm2", b"mmm3"):
        rc, out, err = t.run(["cat", data])
        t.eq((rc, out), (0, m), "cat data")
    t.eq(t.attr("w3", "count"), "0\n", "count at the end")


def test_three_writes_one_stream(t):
    t.mkq("s3")
    with t.opened(t.qpath("s3", "data"), os.O_WRONLY, what="writes") as fd:
        for m in (b"s1", b"ss2", b"sss3"):
            os.write(fd, m)
    with t.opened(t.qpath("s3", "stream"), what="stream reads") as fd:
        got = [os.read(fd, 65536) for _ in range(3)]
    t.eq(got, [b"s1", b"ss2", b"sss3"], "3 reads of one stream fd")
    t.eq(t.count("s3"), 0, "count at the end")


def test_node_readFileSync_takes_one(t):
    node = t.need("node")
    t.mkq("node")
    t.send("node", b"first")
    t.send("node", b"second")
    rc, out, err = t.run([node, "-e", "process.stdout.write(require('fs')"
                          ".readFileSync(process.argv[1]))",
                          t.qpath("node", "data")], timeout=15)
    t.eq((rc, out), (0, b"first"), "node readFileSync (stderr %r)" % err[:200])
    t.eq(t.drain("node"), [(b"second", 0)], "left in the queue")


def test_python_open_read_takes_one(t):
    t.mkq("pyr")
    t.send("pyr", b"first")
    t.send("pyr", b"second")
    with t.within(5, "open().read()"):
        with open(t.qpath("pyr", "data")) as f:
            got = f.read()
    t.eq(got, "first", "open(data).read()")
    with t.within(5, "open(rb).read()"):
        with open(t.qpath("pyr", "data"), "rb") as f:
            got = f.read()
    t.eq(got, b"second", "open(data, 'rb').read()")
    t.eq(t.count("pyr"), 0, "count at the end")


def test_too_big_is_EMSGSIZE(t):
    t.mkq("big")
    t.send("big", b"x")
    with t.opened(t.qpath("big", "data"), os.O_WRONLY, what="writes") as fd:
        t.raises(errno.EMSGSIZE, os.write, fd, b"y" * 1025,
                 what="write of 1025 bytes (msgsize 1024)")
        t.eq(t.count("big"), 1, "count after EMSGSIZE")
        t.eq(os.write(fd, b"z" * 1024), 1024, "write of 1024 bytes")
    t.eq(t.drain("big"), [(b"x", 0), (b"z" * 1024, 0)], "queue contents")


def test_nonblocking_empty_is_EAGAIN(t):
    t.mkq("nbe")
    fd = t.open(t.qpath("nbe", "data"), RD_NB)
    sfd = t.open(t.qpath("nbe", "stream"), RD_NB)
    with t.within(5, "nonblocking reads"):
        t.raises(errno.EAGAIN, os.read, fd, 100, what="read data")
        t.raises(errno.EAGAIN, os.read, sfd, 100, what="read stream")
        t.send("nbe", b"late")
        t.send("nbe", b"later")
        t.eq(os.read(sfd, 100), b"late", "stream read after a send")
        got = os.read(fd, 100)
    t.eq(got, b"later", "the data fd whose first read failed with EAGAIN "
         "still gets its message")


def test_nonblocking_full_is_EAGAIN(t):
    t.mkq("nbf")
    msgs = [b"f%d" % i for i in range(10)]
    for m in msgs:
        t.send("nbf", m)
    with t.opened(t.qpath("nbf", "data"), WR_NB,
                  what="nonblocking write") as fd:
        t.raises(errno.EAGAIN, os.write, fd, b"more", what="write")
    t.eq(t.attr("nbf", "count"), "10\n", "count")
    t.eq([m for m, _ in t.drain("nbf")], msgs, "contents unchanged")


def test_short_reads_on_data(t):
    t.mkq("sd")
    msg = pattern(1000)
    t.send("sd", msg)
    t.send("sd", b"next")
    with t.opened(t.qpath("sd", "data"), what="reads") as fd:
        chunks = [os.read(fd, 100) for _ in range(10)]
        tail = [os.read(fd, 100), os.read(fd, 100)]
    t.eq([len(c) for c in chunks], [100] * 10, "chunk sizes")
    t.eq(b"".join(chunks), msg, "the 10 chunks")
    t.eq(tail, [b"", b""], "reads after the message (EOF)")
    t.eq(t.drain("sd"), [(b"next", 0)], "the next message still waits")


def test_short_reads_on_stream(t):
    t.mkq("ss")
    msg = pattern(1000, 11)
    t.send("ss", msg)
    t.send("ss", b"next")
    with t.opened(t.qpath("ss", "stream"), what="reads") as fd:
        chunks = [os.read(fd, 100) for _ in range(10)]
        nxt = os.read(fd, 100)
    t.eq([len(c) for c in chunks], [100] * 10, "chunk sizes")
    t.eq(b"".join(chunks), msg, "the 10 chunks")
    t.eq(nxt, b"next", "the 11th read")
    t.eq(t.count("ss"), 0, "count at the end")


def test_first_read_at_an_offset_is_EINVAL_and_takes_nothing(t):
    """Before an open file of data has received a message, a read at an
    offset past 0 has nothing to read from: EINVAL, and the message stays
    in the queue (it was taken and shown to nobody)."""
    t.mkq("off")
    msg = pattern(700)
    t.send("off", msg)
    data = t.qpath("off", "data")
    with t.opened(data, what="pread at 1000, then at 0") as fd:
        t.raises(errno.EINVAL, os.pread, fd, 100, 1000,
                 what="first pread(fd, 100, 1000)")
        t.eq(t.count("off"), 1, "count after the refused pread")
        t.raises(errno.EINVAL, os.pread, fd, 100, 1,
                 what="a second pread(fd, 100, 1)")
        t.eq(t.count("off"), 1, "count after the second refused pread")
        # The same open file, at offset 0: a first read like any other.
        t.eq(os.pread(fd, 1000, 0), msg, "pread(fd, 1000, 0) afterwards")
    t.eq(t.count("off"), 0, "count after the read at 0")
    t.send("off", b"second")
    with t.opened(data, what="lseek 1000 then read") as fd:
        os.lseek(fd, 1000, os.SEEK_SET)
        t.raises(errno.EINVAL, os.read, fd, 100,
                 what="read after lseek(fd, 1000)")
    t.eq(t.count("off"), 1, "count after lseek + read")
    rc, out, err = t.run(["cat", data])
    t.eq((rc, out, err), (0, b"second", b""), "cat data gets the message")
    t.eq(t.count("off"), 0, "count after cat")


def test_reads_at_offsets_after_a_first_read(t):
    """Once an open file of data has its message, reads at any offset read
    within it, as before."""
    t.mkq("offs")
    msg = pattern(1000, 13)
    t.send("offs", msg)
    t.send("offs", b"next")
    with t.opened(t.qpath("offs", "data"), what="reads at offsets") as fd:
        t.eq(os.read(fd, 100), msg[:100], "first read at 0")
        t.eq(os.pread(fd, 100, 500), msg[500:600], "pread at 500")
        t.eq(os.pread(fd, 100, 950), msg[950:], "pread at 950 (the end)")
        t.eq(os.pread(fd, 100, 2000), b"", "pread past the message")
        os.lseek(fd, 300, os.SEEK_SET)
        t.eq(os.read(fd, 50), msg[300:350], "read after lseek(fd, 300)")
        t.eq(os.pread(fd, 100, 0), msg[:100], "pread at 0 again")
    t.eq(t.drain("offs"), [(b"next", 0)], "only one message taken")


def test_priority_order(t):
    t.mkq("prio")
    for m, p in ((b"p1", 1), (b"p5", 5), (b"p3", 3)):
        t.send("prio", m, p)
    got = [t.run(["cat", t.qpath("prio", "data")])[1] for _ in range(3)]
    t.eq(got, [b"p5", b"p3", b"p1"], "cat data x3")
    for m, p in ((b"q1", 1), (b"q5", 5), (b"q3", 3), (b"q5b", 5)):
        t.send("prio", m, p)
    with t.opened(t.qpath("prio", "stream"), what="stream reads") as fd:
        got = [os.read(fd, 100) for _ in range(4)]
    t.eq(got, [b"q5", b"q5b", b"q3", b"q1"], "stream reads")


def test_ipcctl_send_recv_priority(t):
    q = t.mkq("ctl")
    for args in (["-p", "7", q, "hello"], ["-p", "2", q, "low"], [q, "zero"]):
        rc, out, err = t.run([t.ipcctl, "send"] + args)
        t.eq(rc, 0, "ipcctl send %s (stderr %r)" % (" ".join(args), err))
    rc, out, err = t.run([t.ipcctl, "recv", "-v", q])
    t.eq((rc, out), (0, b"7\thello"), "ipcctl recv -v")
    rc, out, err = t.run([t.ipcctl, "recv", q])
    t.eq((rc, out), (0, b"low"), "ipcctl recv")
    t.eq(t.recv("ctl"), (b"zero", 0), "native receive of a send without -p")
    t.send("ctl", b"nine", 9)
    rc, out, err = t.run([t.ipcctl, "recv", "-v", q])
    t.eq((rc, out), (0, b"9\tnine"), "ipcctl recv -v of a native send")
    rc, out, err = t.run([t.ipcctl, "send", "-p", "3", q, "three"])
    t.eq(rc, 0, "ipcctl send -p 3 (stderr %r)" % err)
    t.eq(t.recv("ctl"), (b"three", 3), "native receive of ipcctl send -p 3")


def test_poll_pollout_truthful(t):
    t.mkq("pout")
    with t.opened(t.qpath("pout", "data"), WR_NB, 8, "poll") as fd:
        ev = t.revents(fd, select.POLLOUT)
        t.true(ev & select.POLLOUT, "POLLOUT when not full",
               "revents %#x" % ev)
        for i in range(10):
            t.send("pout", b"%d" % i)
        ev = t.revents(fd, select.POLLOUT)
        t.true(not ev & select.POLLOUT, "no POLLOUT when full",
               "revents %#x" % ev)
        ev, el = poll_while(t, fd, select.POLLOUT, lambda: t.recv("pout"))
    t.true(ev & select.POLLOUT and el < 2, "poll woken for POLLOUT by a "
           "receive", "revents %#x after %.2fs" % (ev, el))

# SPDX-License-Identifier: GPL-2.0-or-later
"""queues/NAME/framed: data with the priority, "PRIO<TAB>MESSAGE" both ways,
against the native API on the other side: a native send's priority read
through framed, a framed write's priority received natively; bad frames
EINVAL and EMSGSIZE sending nothing, a full queue (EAGAIN, a parked writer
that traps nobody), an interrupted read taking nothing; ipcctl send -p and
recv -v through the mount (from another IPC namespace too). The waits every
waiting file shares run in test_waits.py (kinds.QueueFramedWait)."""

import errno
import mmap
import os
import resource
import signal
import time

from harness import Harness
from procs import WRITER

H = Harness("framed", mq_maxmsg=3, mq_msgsize=1024)
RD_NB = os.O_RDONLY | os.O_NONBLOCK
WR_NB = os.O_WRONLY | os.O_NONBLOCK
# The longest write that comes whole (IPC_MSG_MAX, backends/ipc.h).
MSG_MAX = (1 << 20) - 4096


def framed(t, name):
    return t.qpath(name, "framed")


def read_frame(t, name, flags=os.O_RDONLY, size=65536):
    """A fresh open of framed, read to its end-of-file: one message."""
    got = b""
    with t.opened(framed(t, name), flags, what="read framed") as fd:
        while True:
            b = os.read(fd, size)
            if not b:
                return got
            got += b


def test_native_priority_read_through_framed(t):
    t.mkq("rd")
    t.send("rd", b"bytes", 7)
    t.eq(read_frame(t, "rd"), b"7\tbytes", "framed after a native send of "
         "priority 7")
    for m, p in ((b"low", 1), (b"top", 32767), (b"", 0)):
        t.send("rd", m, p)
    rc, out, err = t.run(["cat", framed(t, "rd")])
    t.eq((rc, out, err), (0, b"32767\ttop", b""), "cat framed: the highest "
         "priority first")
    with t.within(5, "open(framed).read()"):
        with open(framed(t, "rd"), "rb") as f:
            got = f.read()
    t.eq(got, b"1\tlow", "open(framed, 'rb').read()")
    t.eq(read_frame(t, "rd"), b"0\t", "an empty message of priority 0")
    t.eq(t.count("rd"), 0, "each open file took one message")


def test_framed_reads_by_offset_then_end(t):
    """As data: the first read receives the message, later reads serve the
    frame by offset, then end-of-file; the next message stays queued."""
    t.mkq("off")
    t.send("off", b"0123456789", 12)
    t.send("off", b"next", 1)
    with t.opened(framed(t, "off"), what="reads") as fd:
        t.eq(os.read(fd, 4), b"12\t0", "a first read of 4")
        t.eq(os.read(fd, 100), b"123456789", "the rest")
        t.eq(os.read(fd, 100), b"", "then end-of-file")
        t.eq(os.pread(fd, 5, 3), b"01234", "pread at 3")
    t.eq(t.drain("off"), [(b"next", 1)], "left in the queue")


def test_framed_write_reaches_native_receive(t):
    t.mkq("wr")
    path = framed(t, "wr")
    t.eq(t.write_file(path, b"9\tx"), 3, "write of 9<TAB>x")
    t.eq(t.recv("wr"), (b"x", 9), "native mq_receive")
    frames = [(b"3\ta\tb\n\0c", b"a\tb\n\0c", 3), (b"32767\tmax", b"max",
                                                    32767),
              (b"00005\tz", b"z", 5), (b"0\t", b"", 0)]
    for frame, msg, prio in frames:
        t.eq(t.write_file(path, frame), len(frame), "write(%r)" % frame)
        t.eq(t.recv("wr"), (msg, prio), "native receive of %r" % frame)
    with t.opened(path, os.O_WRONLY, what="writes on one open file") as fd:
        for frame in (b"1\tone", b"2\ttwo", b"1\tthree"):
            t.eq(os.write(fd, frame), len(frame), "write(%r)" % frame)
    t.eq(t.drain("wr"), [(b"two", 2), (b"one", 1), (b"three", 1)],
         "one write, one message, by priority")
    rc, out, err = t.sh("printf '4\\tsh\\n' > \"$1\"", path)
    t.eq((rc, err), (0, b""), "printf '4\\tsh\\n' > framed")
    t.eq(t.recv("wr"), (b"sh\n", 4), "native receive of the shell's")


def test_bad_frames_are_EINVAL_and_send_nothing(t):
    t.mkq("bad")
    path = framed(t, "bad")
    bad = [b"x", b"7", b"\tx", b"-1\tx", b"+1\tx", b" 1\tx", b"1 \tx",
           b"7x\tm", b"32768\tx", b"99999\tx", b"000007\tx", b"123456\tx",
           b"4294967303\tx", b"hello\n"]
    with t.opened(path, os.O_WRONLY, what="bad writes") as fd:
        for frame in bad:
            t.raises(errno.EINVAL, os.write, fd, frame,
                     what="write(%r)" % frame)
        t.eq(t.count("bad"), 0, "nothing sent")
        t.eq(os.write(fd, b"1\tok"), 4, "a good frame on the same file")
    t.eq(t.drain("bad"), [(b"ok", 1)], "only the good frame")
    rc, out, err = t.sh('echo hello > "$1"', path)
    t.true(rc != 0, "echo hello > framed fails", "status %s, stderr %r" %
           (rc, err))
    t.eq(t.count("bad"), 0, "nothing sent by echo hello > framed")
    # A bad frame is refused at once, full queue or not: it never waits.
    for m in (b"m1", b"m2", b"m3"):
        t.send("bad", m)
    with t.opened(path, os.O_WRONLY, what="bad write on a full queue") as fd:
        t.raises(errno.EINVAL, os.write, fd, b"x", what="write(b'x') on a "
                 "full queue")
    t.eq([m for m, _ in t.drain("bad")], [b"m1", b"m2", b"m3"],
         "contents unchanged")


def test_too_long_is_EMSGSIZE(t):
    """msgsize (1024) counts the message, not the head."""
    t.mkq("big")
    path = framed(t, "big")
    with t.opened(path, os.O_WRONLY, what="writes") as fd:
        t.raises(errno.EMSGSIZE, os.write, fd, b"1\t" + b"y" * 1025,
                 what="write of a 1025-byte message (msgsize 1024)")
        t.eq(t.count("big"), 0, "nothing sent")
        t.eq(os.write(fd, b"32767\t" + b"z" * 1024), 1030,
             "a message of exactly msgsize")
    t.eq(t.drain("big"), [(b"z" * 1024, 32767)], "queue contents")


def page_aligned(data):
    buf = mmap.mmap(-1, len(data))
    buf.write(data)
    return buf


def big_queue(t, name, msgsize):
    """Queue NAME of one message of MSGSIZE bytes, made natively, with the
    system's msgsize_max raised to it (the cleanup restores it); skipped
    where the limits keep it from being made (RLIMIT_MSGQUEUE)."""
    limit = "/proc/sys/fs/mqueue/msgsize_max"
    with open(limit) as f:
        if int(f.read()) < msgsize:
            try:
                t.set_sysctl(limit, msgsize)
            except OSError as e:
                t.skip("cannot raise %s to %d: %s" % (limit, msgsize, e))
    try:
        t.native_create(name, maxmsg=1, msgsize=msgsize)
    except OSError as e:
        t.skip("a queue of one message of %d bytes (RLIMIT_MSGQUEUE, "
               "CAP_SYS_RESOURCE): %s" % (msgsize, e))


def test_long_frames(t):
    """A message of 700000 bytes reads back whole after its head, in one
    read(2) or in many; a frame as long is one write."""
    big_queue(t, "long", 700000)
    msg = (bytes(range(256)) * 2735)[:700000 - 3] + b"end"
    t.send("long", msg, 32767)
    got = read_frame(t, "long", size=2 << 20)
    t.true(got == b"32767\t" + msg, "the message read back whole in one "
           "read, after its head", "%d bytes" % len(got))
    t.send("long", msg, 12)
    got = read_frame(t, "long", size=65536)
    t.true(got == b"12\t" + msg, "the message read back in reads of 64 KiB",
           "%d bytes" % len(got))
    with t.opened(framed(t, "long"), os.O_WRONLY, what="long writes") as fd:
        t.raises(errno.EMSGSIZE, os.write, fd, b"1\t" + msg + b"x",
                 what="a frame of a message past msgsize")
        t.eq(os.write(fd, b"3\t" + msg), len(msg) + 2, "a frame of a "
             "message of msgsize")
    t.eq(t.recv("long"), (msg, 3), "native receive")


def test_largest_frames(t):
    """A queue of the largest msgsize (1 MiB less 4 KiB): a frame is one
    write, and a write longer than that may come to the daemon in pieces,
    so a frame of more is EMSGSIZE even if its message fits msgsize."""
    lim = resource.getrlimit(resource.RLIMIT_MSGQUEUE)
    try:
        resource.setrlimit(resource.RLIMIT_MSGQUEUE, (lim[1], lim[1]))
        big_queue(t, "max", MSG_MAX)
    finally:
        resource.setrlimit(resource.RLIMIT_MSGQUEUE, lim)
    path = framed(t, "max")
    with t.opened(path, os.O_WRONLY, what="large writes") as fd:
        for buf in (b"1\t" + b"L" * MSG_MAX,
                    page_aligned(b"1\t" + b"L" * MSG_MAX)):
            t.raises(errno.EMSGSIZE, os.write, fd, buf, what="a frame of "
                     "%d bytes" % len(buf))
        t.eq(t.count("max"), 0, "nothing sent")
        frame = b"7\t" + b"W" * (MSG_MAX - 2)
        t.eq(os.write(fd, frame), MSG_MAX, "a frame of %d bytes" % MSG_MAX)
    got, prio = t.recv("max")
    t.eq((len(got), prio), (MSG_MAX - 2, 7), "native receive (length, "
         "priority)")
    t.true(got == frame[2:], "the message, byte for byte")
    msg = (bytes(range(256)) * 4096)[:MSG_MAX]
    t.send("max", msg, 32767)
    got = read_frame(t, "max", size=2 << 20)
    t.true(got == b"32767\t" + msg, "the largest message read back whole, "
           "after its head", "%d bytes" % len(got))


def test_full_queue_nonblocking_is_EAGAIN(t):
    t.mkq("nbf")
    for m in (b"f1", b"f2", b"f3"):
        t.send("nbf", m)
    with t.opened(framed(t, "nbf"), WR_NB, what="nonblocking write") as fd:
        t.raises(errno.EAGAIN, os.write, fd, b"5\tmore", what="write")
    t.eq([m for m, _ in t.drain("nbf")], [b"f1", b"f2", b"f3"],
         "contents unchanged")
    with t.opened(framed(t, "nbf"), RD_NB, what="nonblocking read") as fd:
        t.raises(errno.EAGAIN, os.read, fd, 100, what="read of an empty "
                 "queue")
        t.send("nbf", b"late", 2)
        t.eq(os.read(fd, 100), b"2\tlate", "the same open file, once a "
             "message came")


def park(t, name, msg):
    """Fill queue NAME and park a writer of MSG on its framed."""
    t.mkq(name)
    for m in (b"m1", b"m2", b"m3"):
        t.send(name, m)
    p = t.py(WRITER, framed(t, name), msg)
    t.wait_blocked(p, "write")
    return p


def test_full_queue_parks_writer_until_room(t):
    p = park(t, "pk", "5\tlate")
    t.settle(lambda: t.read_file(t.qpath("pk", "waiters")),
             b"%d framed\n" % p.pid, "waiters: the parked writer")
    t.still_waiting(p, "the writer waits while the queue is full")
    t.eq(t.recv("pk"), (b"m1", 0), "a native receive makes room")
    rc, out, err = t.finish(p, 3)
    t.eq((rc, out), (0, b"wrote 6\n"), "the parked writer (status, out)")
    t.eq(t.drain("pk"), [(b"late", 5), (b"m2", 0), (b"m3", 0)],
         "its message, by priority")


def test_parked_writer_does_not_trap_others(t):
    """framed gives every open an inode of its own (IPC_OWN_INODE): other
    writers parked behind a parked one die of kill -9 at once."""
    a = park(t, "tr", "1\tA")
    b = t.py(WRITER, framed(t, "tr"), "1\tB")
    s = t.spawn(["sh", "-c", "printf '1\\tx' > \"$1\"", "sh",
                 framed(t, "tr")])
    t.wait_blocked(b, "write")
    t.wait_blocked(s, "write")
    os.kill(b.pid, signal.SIGKILL)
    os.kill(s.pid, signal.SIGKILL)
    t0 = time.monotonic()
    for what, p in (("a second writer", b), ("printf > framed", s)):
        rc = t.wait_exit(p, max(0.0, t0 + 2 - time.monotonic()))
        t.true(rc is not None, "%s killed by kill -9 in < 2 s" % what)
    t.true(a.poll() is None, "the first writer is still parked")
    t.eq(t.recv("tr"), (b"m1", 0), "room for one")
    t.eq(t.finish(a, 3)[:2], (0, b"wrote 3\n"), "the first writer")
    t.eq(t.drain("tr"), [(b"A", 1), (b"m2", 0), (b"m3", 0)],
         "nothing of the killed writers")


def test_rmdir_ends_parked_writer_with_EIDRM(t):
    p = park(t, "rmw", "1\tw")
    t.rmq("rmw")
    rc, out, err = t.finish(p, 3)
    t.eq((rc, out), (3, b"EIDRM\n"), "the parked writer after rmdir")


def test_interrupted_read_takes_nothing(t):
    """SIGINT ends a read of framed waiting on an empty queue; it took
    nothing: the message sent next is read whole, with its priority."""
    t.mkq("ir")
    rc, out, err = t.run_interrupted(["cat", framed(t, "ir")],
                                     "timeout -s INT 1 cat framed")
    t.eq((rc, out), (124, b""), "the interrupted cat (status, out)")
    t.send("ir", b"after", 6)
    t.eq(t.count("ir"), 1, "the message is there")
    t.eq(read_frame(t, "ir"), b"6\tafter", "the next read of framed")


def test_data_stays_plain_bytes(t):
    """framed and data side by side: data shows no priority and writes
    with priority 0, a tab included."""
    t.mkq("both")
    t.eq(t.write_file(framed(t, "both"), b"8\turgent"), 8, "framed write")
    t.eq(t.write_file(t.qpath("both", "data"), b"3\tplain"), 7, "data write")
    t.eq(t.read_file(t.qpath("both", "data")), b"urgent", "data reads the "
         "message alone")
    t.eq(read_frame(t, "both"), b"0\t3\tplain", "framed reads data's "
         "write as priority 0")


# ---------------------------------------------------------------------------
# ipcctl send -p and recv -v, through the mount

def test_ipcctl_send_recv_through_framed(t):
    q = t.mkq("ctl")
    rc, out, err = t.run([t.ipcctl, "send", "-p", "7", q, "a\tb"])
    t.eq((rc, out, err), (0, b"", b""), "ipcctl send -p 7")
    t.eq(t.recv("ctl"), (b"a\tb", 7), "native receive of ipcctl send -p 7")
    t.send("ctl", b"nine", 9)
    t.send("ctl", b"", 4)
    rc, out, err = t.run([t.ipcctl, "recv", "-v", q])
    t.eq((rc, out, err), (0, b"9\tnine", b""), "ipcctl recv -v")
    rc, out, err = t.run([t.ipcctl, "recv", "-v", q])
    t.eq((rc, out, err), (0, b"4\t", b""), "ipcctl recv -v of an empty "
         "message")
    # A waiting recv polls framed (no waiter), and a send wakes it.
    p = t.spawn([t.ipcctl, "recv", "-v", q])
    t.wait_blocked(p, "poll")
    t.eq(t.read_file(t.qpath("ctl", "waiters")), b"", "a polling recv is "
         "no waiter")
    t.send("ctl", b"woken", 3)
    t.eq(t.finish(p, 3), (0, b"3\twoken", b""), "the waiting recv -v")
    # Too long for msgsize (1024): the write's error, nothing sent.
    rc, out, err = t.run([t.ipcctl, "send", q, "x" * 1025])
    t.eq((rc, out, err), (1, b"", b"ipcctl: %s: Message too long\n" %
                          q.encode()), "ipcctl send of 1025 bytes")
    t.eq(t.count("ctl"), 0, "nothing sent")


def test_ipcctl_send_waits_while_full(t):
    q = t.mkq("full")
    for m in (b"m1", b"m2", b"m3"):
        t.send("full", m)
    p = t.spawn([t.ipcctl, "send", "-p", "2", q, "late"])
    t.wait_blocked(p, "write")
    t.eq(t.recv("full"), (b"m1", 0), "room for one")
    t.eq(t.finish(p, 3), (0, b"", b""), "ipcctl send, once there is room")
    t.eq(t.drain("full"), [(b"late", 2), (b"m2", 0), (b"m3", 0)],
         "contents")


def test_ipcctl_from_another_ipc_namespace(t):
    """No native call: ipcctl in an IPC namespace of its own, where the
    mount's queue does not exist, still sends and receives through the
    mount (the daemon's namespace)."""
    unshare = t.need("unshare")
    q = t.mkq("ns")
    rc, out, err = t.run([unshare, "--ipc", t.ipcctl, "send", "-p", "6", q,
                          "from afar"])
    if rc != 0 and b"unshare" in err:
        t.skip("unshare --ipc: %s" % err.decode(errors="replace").strip())
    t.eq((rc, err), (0, b""), "ipcctl send in another IPC namespace")
    t.eq(t.recv("ns"), (b"from afar", 6), "native receive")
    t.send("ns", b"back", 2)
    rc, out, err = t.run([unshare, "--ipc", t.ipcctl, "recv", "-v", q])
    t.eq((rc, out, err), (0, b"2\tback", b""), "ipcctl recv -v in another "
         "IPC namespace")


def test_ipcctl_recv_of_a_removed_queue(t):
    """recv's read of framed ends at rmdir: exit 1, "Identifier removed",
    at once; a timed recv too, before its timeout."""
    q = t.mkq("gone")
    p = t.spawn([t.ipcctl, "recv", "--timeout", "20", q])
    t.wait_blocked(p, "poll")
    t0 = time.monotonic()
    t.rmq("gone")
    rc, out, err = t.finish(p, 3)
    el = time.monotonic() - t0
    t.eq((rc, out, err), (1, b"", b"ipcctl: %s: Identifier removed\n" %
                          q.encode()), "recv --timeout 20 at rmdir")
    t.true(el < 1.0, "within a second of the rmdir", "%.2fs" % el)


def test_ipcctl_recv_timeout_takes_nothing(t):
    q = t.mkq("to")
    t0 = time.monotonic()
    rc, out, err = t.run([t.ipcctl, "recv", "--timeout", "0.5", q])
    el = time.monotonic() - t0
    t.eq((rc, out, err), (124, b"", b""), "recv --timeout 0.5 on an empty "
         "queue")
    t.true(0.5 <= el < 1.5, "it took [0.5, 1.5) s", "%.2fs" % el)
    t.send("to", b"kept", 1)
    t.eq(t.drain("to"), [(b"kept", 1)], "a message sent after the "
         "timeout is there")


def test_ipcctl_not_a_queue(t):
    t.mkobj("channels", "ch")
    d = t.path("channels", "ch")
    for args in (["send", d, "x"], ["recv", "--timeout", "0", d]):
        rc, out, err = t.run([t.ipcctl] + args)
        t.eq((rc, out, err), (1, b"", b"ipcctl: %s: not a queue (no framed "
                              b"file)\n" % d.encode()),
             "ipcctl %s on a channel" % args[0])

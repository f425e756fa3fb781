# SPDX-License-Identifier: GPL-2.0-or-later
"""sysv/msg/: System V message queues through a mounted tree, with the
native API (sysv.py: msgget, msgsnd, msgrcv, msgctl) on the other side.

Names (a key as ipcs prints it, id.N for IPC_PRIVATE, nothing else), mkdir
and rmdir, owner and mode as IPC_STAT says them, chmod and chown; data,
stream and framed against native sends and receives of any type; E2BIG,
EINVAL and EAGAIN where the kernel says them; count, bytes, qbytes (rw),
lspid, lrpid, id; ipcrm ending waiters; waiters; 200 readers parked on one
queue costing no thread. What every blocking kind shares (SIGINT and kill -9
of a waiter take nothing, a waiter woken by a give and ended by rmdir,
poll, parked writers) is in test_waits.py, which runs sysv/msg's data,
stream and framed too (kinds.py's SysvMsgWait and SysvMsgPark).

Every key comes from t.keys (the test process's range): the teardown
removes those queues, and nobody else's.
"""

import errno
import os
import select
import time

import pytest

import sysv
from harness import Harness
from procs import READER, WRITER
from sysv import keyname

# allow_other: another user's mkdir reaches the tree.
H = Harness("sysvmsg", allow_other=None)
KIND = "sysv/msg"
RD_NB = os.O_RDONLY | os.O_NONBLOCK
WR_NB = os.O_WRONLY | os.O_NONBLOCK


def sysctl(name):
    with open("/proc/sys/kernel/" + name) as f:
        return int(f.read())


def mkq(t, mode=0o600):
    """mkdir a queue of a new key: (its directory name, its id)."""
    key = t.keys.new()
    t.mkobj(KIND, keyname(key), mode)
    return keyname(key), sysv.msgget(key)


def native_q(t, mode=0o600):
    """A queue made natively: (its directory name, its id)."""
    key = t.keys.new()
    return keyname(key), sysv.msg_create(key, mode)


def path(t, name, *rest):
    return t.path(KIND, name, *rest)


def attr(t, name, file):
    return t.read_file(path(t, name, file))


def drain(qid):
    """Every message left, natively: [(type, bytes)]."""
    got = []
    while True:
        try:
            got.append(sysv.msgrcv(qid, nowait=True))
        except OSError as e:
            if e.errno != errno.ENOMSG:
                raise
            return got


# ---------------------------------------------------------------------------
# Names, mkdir, rmdir, owners


def test_mkdir_makes_a_queue(t):
    name, qid = mkq(t, 0o640)
    st = sysv.msg_stat(qid)
    t.eq((st["key"] & 0xffffffff, st["mode"], st["uid"], st["gid"]),
         (int(name, 16), 0o640, 0, 0), "IPC_STAT (key, mode, uid, gid)")
    d = os.stat(path(t, name))
    t.eq(d.st_mode & 0o777, 0o750, "the directory's mode (x where r)")
    t.eq(sorted(os.listdir(path(t, name))),
         ["bytes", "count", "data", "framed", "id", "lrpid", "lspid",
          "qbytes", "stream", "waiters"], "the files")
    t.eq(attr(t, name, "id"), b"%d\n" % qid, "id")
    t.raises(errno.EEXIST, os.mkdir, path(t, name), 0o600,
             what="mkdir of an existing key")


def test_native_queue_listed(t):
    name, qid = native_q(t, 0o604)
    t.true(name in os.listdir(t.path(KIND, "")), "%s listed" % name)
    t.eq(os.stat(path(t, name)).st_mode & 0o777, 0o705, "mode from "
         "IPC_STAT, x where r")


def test_private_queue_is_id_n(t):
    qid = sysv.msgget(sysv.IPC_PRIVATE, sysv.IPC_CREAT, 0o600)
    t.keys.ids["msg"].append(qid)
    name = "id.%d" % qid
    t.true(name in os.listdir(t.path(KIND, "")), "%s listed" % name)
    t.eq(t.write_file(path(t, name, "data"), b"private"), 7, "write")
    t.eq(sysv.msgrcv(qid), (1, b"private"), "native msgrcv")
    sysv.msgsnd(qid, b"back", 3)
    t.eq(t.read_file(path(t, name, "framed")), b"3\tback", "cat framed")
    t.rmobj(KIND, name)
    t.raises(errno.EINVAL, sysv.msg_stat, qid, what="IPC_STAT after rmdir")
    t.keys.ids["msg"].remove(qid)


def test_bad_names(t):
    key = keyname(t.keys.new())
    bad = ["foo", key.upper(), "0X" + key[2:], key[:-1], key + "0",
           "0x00000000", "id.5", "id.x", " " + key, "0x%08x" % 0]
    for n in bad:
        t.raises(errno.EINVAL, os.mkdir, t.path(KIND, n), 0o600,
                 what="mkdir %r" % n)
    t.raises(errno.ENOENT, os.stat, t.path(KIND, key),
             what="stat of a key with no queue")
    t.eq(os.listdir(t.path(KIND, "")).count(key), 0, "nothing made")
    t.true(int(key, 16) not in sysv.listed("msg"), "nothing made natively")


def test_rmdir_removes(t):
    name, qid = mkq(t)
    t.rmobj(KIND, name)
    t.raises(errno.EINVAL, sysv.msg_stat, qid, what="IPC_STAT after rmdir")
    t.raises(errno.ENOENT, os.rmdir, path(t, name), what="rmdir again")


def test_chmod_chown(t):
    name, qid = mkq(t)
    os.chmod(path(t, name), 0o644)
    t.eq(sysv.msg_stat(qid)["mode"], 0o644, "IPC_STAT mode after chmod")
    os.chown(path(t, name), 4321, 5432)
    st = sysv.msg_stat(qid)
    t.eq((st["uid"], st["gid"], st["cuid"]), (4321, 5432, 0),
         "IPC_STAT (uid, gid, cuid) after chown")
    d = os.stat(path(t, name))
    t.eq((d.st_uid, d.st_gid), (4321, 5432), "the directory's owner")


MKDIR_AS = r'''
import errno, os, sys
os.setgroups([])
os.setgid(int(sys.argv[3]))
os.setuid(int(sys.argv[2]))
os.umask(0)
try:
    os.mkdir(sys.argv[1], 0o640)
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
'''


def test_mkdir_by_a_user_is_theirs(t):
    if os.geteuid() != 0:
        t.skip("not root: cannot act as another user")
    key = t.keys.new()
    rc, out, err = t.run(["python3", "-c", MKDIR_AS,
                          t.path(KIND, keyname(key)), "4321", "5432"],
                         cwd="/")
    t.eq((rc, out, err), (0, b"ok\n", b""), "mkdir as uid 4321")
    st = sysv.msg_stat(sysv.msgget(key))
    t.eq((st["uid"], st["gid"], st["cuid"], st["cgid"], st["mode"]),
         (4321, 5432, 4321, 5432, 0o640), "IPC_STAT of the user's queue")


# ---------------------------------------------------------------------------
# data, stream, framed


def test_native_type7_reaches_cat(t):
    name, qid = mkq(t)
    sysv.msgsnd(qid, b"seven", 7)
    sysv.msgsnd(qid, b"two", 2)
    rc, out, err = t.run(["cat", path(t, name, "data")])
    t.eq((rc, out, err), (0, b"seven", b""), "cat data")
    t.eq(drain(qid), [(2, b"two")], "the second waits, with its type")


def test_echo_reaches_native_type1(t):
    name, qid = mkq(t)
    rc, out, err = t.sh('echo hello > "$1"', path(t, name, "data"))
    t.eq((rc, err), (0, b""), "echo > data")
    t.eq(drain(qid), [(1, b"hello\n")], "native msgrcv")


def test_stream_one_message_per_read(t):
    name, qid = mkq(t)
    for i, m in enumerate((b"one", b"", b"two", b"three")):
        sysv.msgsnd(qid, m, 10 + i)
    fd = t.open(path(t, name, "stream"), RD_NB)
    got = [os.read(fd, 100) for _ in range(3)]
    t.eq(got, [b"one", b"two", b"three"], "reads (the empty one skipped)")
    t.raises(errno.EAGAIN, os.read, fd, 100, what="a read of an empty "
             "queue, O_NONBLOCK")
    t.close(fd)
    fd = t.open(path(t, name, "stream"), os.O_WRONLY)
    t.eq(os.write(fd, b"w"), 1, "write to stream")
    t.close(fd)
    t.eq(drain(qid), [(1, b"w")], "stream's write: type 1")


def test_framed_both_ways(t):
    name, qid = mkq(t)
    framed = path(t, name, "framed")
    t.eq(t.write_file(framed, b"7\turgent"), 8, "write 7\\turgent")
    t.eq(t.write_file(framed, b"9223372036854775807\tmax"), 23, "LONG_MAX")
    t.eq(drain(qid), [(7, b"urgent"), (9223372036854775807, b"max")],
         "native msgrcv")
    sysv.msgsnd(qid, b"a\tb\n", 42)
    t.eq(t.read_file(framed), b"42\ta\tb\n", "cat framed")
    for bad in (b"urgent", b"0\tm", b"-1\tm", b"x\tm", b"\tm", b"1\n\tm",
                b"9223372036854775808\tm"):
        t.raises(errno.EINVAL, t.write_file, framed, bad,
                 what="write %r" % bad)
    t.eq(sysv.msg_stat(qid)["count"], 0, "nothing sent by the bad heads")


def test_one_message_per_open(t):
    name, qid = mkq(t)
    for m in (b"m1", b"m2"):
        sysv.msgsnd(qid, m, 5)
    fd = t.open(path(t, name, "data"), os.O_RDONLY)
    t.eq(os.read(fd, 100), b"m1", "first read")
    t.eq(os.read(fd, 100), b"", "then end-of-file")
    t.close(fd)
    t.eq(drain(qid), [(5, b"m2")], "the second is still there")


# ---------------------------------------------------------------------------
# What the kernel refuses, and what waits


def test_stream_e2big_takes_nothing(t):
    """A read of stream is one msgrcv(): a buffer shorter than the message
    is E2BIG, and the message stays."""
    name, qid = mkq(t)
    sysv.msgsnd(qid, b"0123456789", 3)
    fd = t.open(path(t, name, "stream"), RD_NB)
    t.raises(errno.E2BIG, os.read, fd, 9, what="read(9) of stream")
    t.close(fd)
    t.eq(drain(qid), [(3, b"0123456789")], "nothing taken")


def test_small_reads_of_data_and_framed(t):
    """data and framed serve their message by offset: any buffer reads
    it, as read -r's 128-byte reads do."""
    name, qid = mkq(t)
    for f, want in (("data", b"0123456789"), ("framed", b"3\t0123456789")):
        sysv.msgsnd(qid, b"0123456789", 3)
        fd = t.open(path(t, name, f), RD_NB)
        got = b"".join(iter(lambda: os.read(fd, 4), b""))
        t.close(fd)
        t.eq(got, want, "%s read 4 bytes at a time" % f)
    t.eq(sysv.msg_stat(qid)["count"], 0, "both taken")
    long_line = b"y" * 300
    sysv.msgsnd(qid, long_line + b"\n", 1)
    rc, out, err = t.run(["bash", "-c", 'read -r x < "$1"; echo "${#x}"',
                          "bash", path(t, name, "data")])
    t.eq((rc, out), (0, b"300\n"), "read -r of a 300-byte line")


def test_write_past_msgmax_einval(t):
    name, qid = mkq(t)
    big = b"x" * (sysctl("msgmax") + 1)
    t.raises(errno.EINVAL, t.write_file, path(t, name, "data"), big,
             what="write of msgmax + 1 bytes")
    t.eq(t.write_file(path(t, name, "data"), big[:-1]), len(big) - 1,
         "write of msgmax bytes")
    t.eq(sysv.msg_stat(qid)["count"], 1, "one message sent")


def test_nonblocking_eagain(t):
    name, qid = mkq(t)
    t.raises(errno.EAGAIN, t.read_file, path(t, name, "data"), 100, 5,
             RD_NB, what="read of an empty queue, O_NONBLOCK")
    t.write_file(path(t, name, "qbytes"), b"4")
    t.eq(t.write_file(path(t, name, "data"), b"1234", WR_NB), 4, "fill")
    t.raises(errno.EAGAIN, t.write_file, path(t, name, "data"), b"x",
             WR_NB, what="write to a full queue, O_NONBLOCK")
    sysv.msgrcv(qid)
    # Past qbytes, within msgmax: it would wait for ever, as msgsnd does.
    t.raises(errno.EAGAIN, t.write_file, path(t, name, "data"), b"12345",
             WR_NB, what="write of qbytes + 1 bytes, O_NONBLOCK")
    t.eq(sysv.msg_stat(qid)["count"], 0, "nothing sent")


def test_parked_writer_goes_when_a_native_reader_makes_room(t):
    name, qid = mkq(t)
    t.write_file(path(t, name, "qbytes"), b"4")
    sysv.msgsnd(qid, b"full", 4)
    p = t.py(WRITER, path(t, name, "data"), "next")
    t.wait_blocked(p, "write")
    t0 = time.monotonic()
    t.eq(sysv.msgrcv(qid), (4, b"full"), "native msgrcv")
    rc, out, err = t.finish(p, 3)
    el = time.monotonic() - t0
    t.eq((rc, out), (0, b"wrote 4\n"), "the parked writer")
    t.true(el < 1, "it went within 1 s of the room", "%.2fs" % el)
    t.eq(drain(qid), [(1, b"next")], "its message")


def daemon_ticks(t):
    """CPU ticks (user + system) the daemon has used so far."""
    with open("/proc/%d/stat" % t.daemon.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_parked_writers_cost_no_cpu_while_room_is_short(t):
    """A writer waits for room for its own message: room for less (a
    queue not quite full), or a message longer than qbytes, which can never
    fit, must not wake it again and again. The daemon sleeps meanwhile;
    and the one that never fits, parked first, does not keep the other
    from going when room comes."""
    name, qid = mkq(t)
    t.write_file(path(t, name, "qbytes"), b"100")
    sysv.msgsnd(qid, b"x" * 60, 3)
    never = t.py(WRITER, path(t, name, "stream"), "z" * 101)
    t.wait_blocked(never, "write")
    short = t.py(WRITER, path(t, name, "data"), "y" * 60)
    t.wait_blocked(short, "write")
    t0 = daemon_ticks(t)
    time.sleep(2)
    used = daemon_ticks(t) - t0
    t.true(used <= 20, "the daemon idles while they wait",
           "%d ticks in 2 s" % used)
    t.eq(sysv.msgrcv(qid), (3, b"x" * 60), "native msgrcv makes room")
    rc, out, err = t.finish(short, 3)
    t.eq((rc, out), (0, b"wrote 60\n"), "the writer that now fits")
    t.true(never.poll() is None, "the one longer than qbytes still waits")
    t.kill9(never, "the writer that can never fit")
    t.eq(drain(qid), [(1, b"y" * 60)], "only the one that fit")


def test_parked_writer_goes_when_the_tree_reads(t):
    name, qid = mkq(t)
    t.write_file(path(t, name, "qbytes"), b"4")
    sysv.msgsnd(qid, b"full", 4)
    p = t.py(WRITER, path(t, name, "data"), "next")
    t.wait_blocked(p, "write")
    t0 = time.monotonic()
    t.eq(t.read_file(path(t, name, "data")), b"full", "cat data")
    rc, out, err = t.finish(p, 3)
    el = time.monotonic() - t0
    t.eq((rc, out), (0, b"wrote 4\n"), "the parked writer")
    t.true(el < 0.5, "it went at once", "%.2fs" % el)


def test_poll_pollout(t):
    name, qid = mkq(t)
    t.write_file(path(t, name, "qbytes"), b"4")
    sysv.msgsnd(qid, b"full", 4)
    fd = t.open(path(t, name, "data"), WR_NB)
    t.eq(t.revents(fd, select.POLLOUT), 0, "no POLLOUT while full")
    sysv.msgrcv(qid)
    t.true(t.revents(fd, select.POLLOUT, 2000) & select.POLLOUT,
           "POLLOUT once a native reader made room")
    t.close(fd)


# ---------------------------------------------------------------------------
# Removal by another program


def test_ipcrm_wakes_reader_with_eof(t):
    name, qid = mkq(t)
    p = t.py(READER, path(t, name, "data"))
    t.wait_blocked(p, "read")
    t0 = time.monotonic()
    rc, out, err = t.run(["ipcrm", "-q", str(qid)])
    t.eq(rc, 0, "ipcrm -q")
    rc, out, err = t.finish(p, 3)
    el = time.monotonic() - t0
    t.eq((rc, out, err), (0, b"", b""), "the reader: end-of-file")
    t.true(el < 1, "ended within 1 s", "%.2fs" % el)
    with t.within(5, "ls"):
        t.true(name not in os.listdir(t.path(KIND, "")), "not listed")


def test_ipcrm_ends_parked_writer_eidrm(t):
    name, qid = mkq(t)
    t.write_file(path(t, name, "qbytes"), b"4")
    sysv.msgsnd(qid, b"full", 4)
    p = t.py(WRITER, path(t, name, "data"), "next")
    t.wait_blocked(p, "write")
    t0 = time.monotonic()
    sysv.msg_rmid(qid)
    rc, out, err = t.finish(p, 3)
    el = time.monotonic() - t0
    t.eq(out, b"EIDRM\n", "the parked writer's errno")
    t.true(el < 1, "ended within 1 s", "%.2fs" % el)


# ---------------------------------------------------------------------------
# Attribute files


def test_count_bytes_id(t):
    name, qid = mkq(t)
    sysv.msgsnd(qid, b"abc", 1)
    sysv.msgsnd(qid, b"de", 2)
    t.eq([attr(t, name, f) for f in ("count", "bytes", "id")],
         [b"2\n", b"5\n", b"%d\n" % qid], "count, bytes, id")


def test_qbytes_rw(t):
    name, qid = mkq(t)
    q = path(t, name, "qbytes")
    t.eq(t.read_file(q), b"%d\n" % sysv.msg_stat(qid)["qbytes"], "qbytes")
    t.write_file(q, b"100\n")
    t.eq(sysv.msg_stat(qid)["qbytes"], 100, "IPC_STAT after a write")
    t.eq(t.read_file(q), b"100\n", "read back")
    for bad in (b"x", b"-1", b"\n", b"1k"):
        t.raises(errno.EINVAL, t.write_file, q, bad, what="write %r" % bad)
    mnb = sysctl("msgmnb")
    try:
        sysv.msg_set_qbytes(qid, mnb + 1)
        want = None                     # we may: so may the tree for us
    except OSError as e:
        want = e.errno
    sysv.msg_set_qbytes(qid, 100)
    if want is None:
        t.eq(t.write_file(q, b"%d" % (mnb + 1)), len(b"%d" % (mnb + 1)),
             "past kernel.msgmnb, with CAP_SYS_RESOURCE")
    else:
        t.eq(want, errno.EPERM, "native IPC_SET past kernel.msgmnb")
        t.raises(errno.EPERM, t.write_file, q, b"%d" % (mnb + 1),
                 what="write past kernel.msgmnb")
        t.eq(sysv.msg_stat(qid)["qbytes"], 100, "unchanged")


def test_lspid_lrpid(t):
    name, qid = mkq(t)
    t.eq((attr(t, name, "lspid"), attr(t, name, "lrpid")), (b"0\n", b"0\n"),
         "fresh queue")
    sysv.msgsnd(qid, b"n", 1)
    t.eq(attr(t, name, "lspid"), b"%d\n" % os.getpid(), "after our msgsnd")
    t.read_file(path(t, name, "data"))
    t.eq(attr(t, name, "lrpid"), b"%d\n" % t.daemon.pid,
         "after a read through the tree: the daemon's")
    t.write_file(path(t, name, "data"), b"w")
    t.eq(attr(t, name, "lspid"), b"%d\n" % t.daemon.pid,
         "after a write through the tree")


def test_waiters_lists_parked_readers(t):
    name, qid = mkq(t)
    ps = []
    for f in ("data", "stream"):        # one after the other: their order
        ps.append(t.py(READER, path(t, name, f)))
        t.wait_blocked(ps[-1], "read")
    t.eq(attr(t, name, "waiters"), b"".join(b"%d %s\n" % (p.pid, f) for p, f
                                          in zip(ps, (b"data", b"stream"))),
         "waiters")
    sysv.msgsnd(qid, b"one", 3)
    t.eq(t.finish(ps[0], 3)[:2], (0, b"one"), "the oldest reader served")
    t.eq(attr(t, name, "waiters"), b"%d stream\n" % ps[1].pid,
         "waiters after")


# ---------------------------------------------------------------------------
# Scale

N = 200


@pytest.mark.deadline(120)
def test_200_parked_readers_cost_no_thread(t):
    name, qid = mkq(t)
    before = t.thread_count()
    procs = [t.spawn(["cat", path(t, name, "data")]) for _ in range(N)]
    t.wait_all_blocked(procs, "read", 60, "all %d cats block in read" % N)
    threads = t.thread_count()
    # As test_queue_scale.py: FUSE's workers come and go, the waiters
    # add one helper thread for the queue, not one each.
    t.check("the daemon has < 32 threads with %d parked readers" % N,
            threads < 32, "%d before, %d with them" % (before, threads))
    for i in range(10):
        sysv.msgsnd(qid, b"msg-%d" % i, 1 + i)
    end = time.monotonic() + 10
    done = {}
    while len(done) < 10 and time.monotonic() < end:
        for p in procs:
            if p not in done and p.poll() is not None:
                done[p] = t.finish(p, 1)[:2]
        time.sleep(0.02)
    t.eq(sorted(done.values()), sorted((0, b"msg-%d" % i) for i in
                                       range(10)),
         "ten readers served, one message each")
    t.eq(sysv.msg_stat(qid)["count"], 0, "nothing left")
    t.rmobj(KIND, name)
    left = [p for p in procs if p not in done]
    end = time.monotonic() + 10
    rcs = [t.wait_exit(p, max(0.0, end - time.monotonic())) for p in left]
    t.eq(rcs, [0] * len(left), "rmdir ends the other %d with "
         "end-of-file" % len(left))
    for p in left:
        t.eq(t.finish(p, 1)[:2], (0, b""), "an ended reader's output")

# SPDX-License-Identifier: GPL-2.0-or-later
"""ipcctl and the System V kinds (issue 13), with the native API
(sysv.py) on the other side:

  * `ipcctl ls`: sysv/msg's count, bytes and qbytes are MSGS, BYTES and
    CAPACITY, sysv/shm's size SIZE, sysv/sem's first value VALUE, every
    one's id ID (-o +ID, a JSON number); -Q -M -S keep them with the
    POSIX kind of their sort, -C and -T do not;
  * `ipcctl ls -g`: the System V rows, their limits the sysctls and what
    is used counted from the tree;
  * `ipcctl send -t TYPE` and `recv -t TYPE` with msgrcv's msgtyp rules,
    `recv -v` printing the type, `--timeout` (124, nothing taken), a
    queue removed while recv waits, and the usage errors (-t on a POSIX
    queue, -p on a System V one, types out of range).

Keys come from t.keys (the test process's range); the teardown removes
what is left of it.
"""

import json
import os
import time

import pytest

import sysv
from harness import Harness

H = Harness("sysvctl")
SYSCTL = "/proc/sys/kernel/"


@pytest.fixture(autouse=True)
def sysv_kinds(t):
    """Every test here needs the three kinds."""
    missing = [k for k in ("msg", "shm", "sem")
               if not os.path.isdir(os.path.join(t.mnt, "sysv", k))]
    if missing:
        pytest.skip("this tree has no sysv/%s" % ", sysv/".join(missing))


def ipcctl(t, *args, timeout=5):
    return t.run([t.ipcctl] + [str(a) for a in args], timeout=timeout)


def ls_json(t, *args, key="objects"):
    rc, out, err = ipcctl(t, "ls", "-J", *(list(args) + [t.mnt]))
    t.eq((rc, err), (0, b""), "ipcctl ls -J %s" % " ".join(args))
    return json.loads(out)[key]


def mkq(t, mode=0o600):
    """A System V queue made through the tree: (directory, name, id)."""
    name = sysv.keyname(t.keys.new())
    t.mkobj("sysv/msg", name, mode)
    qid = int(t.read_file(t.path("sysv/msg", name, "id")))
    return t.path("sysv/msg", name), name, qid


def mine(t, rows):
    """The rows of ls -J that are the test's (sysv/ shows the machine's)."""
    return {(r["kind"], r["name"]): r for r in rows
            if not r["kind"].startswith("sysv/") or
            t.keys.owns(r["kind"], r["name"])}


def test_ls_columns(t):
    qdir, q, qid = mkq(t)
    sysv.msgsnd(qid, b"hello", 3)
    sysv.msgsnd(qid, b"abc", 1)
    sysv.msg_set_qbytes(qid, 4000)
    s = sysv.keyname(t.keys.new())
    t.mkobj("sysv/shm", s)
    shmid = int(t.read_file(t.path("sysv/shm", s, "id")))
    k = t.keys.new()
    semid = sysv.sem_create(k, nsems=3, values=[5, 2, 9])
    t.keys.ids["sem"].append(semid)
    e = sysv.keyname(k)
    got = mine(t, ls_json(t, "-o", "KIND,NAME,ID,MSGS,BYTES,CAPACITY,SIZE,"
                          "VALUE,WAITERS"))
    t.eq(got[("sysv/msg", q)], {
        "kind": "sysv/msg", "name": q, "id": qid, "msgs": 2, "bytes": 8,
        "capacity": 4000, "size": None, "value": None, "waiters": 0},
        "sysv/msg's row")
    size = int(t.read_file(t.path("sysv/shm", s, "size")))
    t.eq(got[("sysv/shm", s)], {
        "kind": "sysv/shm", "name": s, "id": shmid, "msgs": None,
        "bytes": None, "capacity": None, "size": size, "value": None,
        "waiters": 0}, "sysv/shm's row")
    t.eq(got[("sysv/sem", e)], {
        "kind": "sysv/sem", "name": e, "id": semid, "msgs": None,
        "bytes": None, "capacity": None, "size": None, "value": 5,
        "waiters": 0}, "sysv/sem's row: VALUE is semaphore 0's")
    for flag, kinds in (("-Q", {"queues", "sysv/msg"}),
                        ("-M", {"shm", "sysv/shm"}),
                        ("-S", {"sem", "sysv/sem"}),
                        ("-C", {"channels"}), ("-T", {"topics"})):
        rows = ls_json(t, flag, "-Q" if flag == "-Q" else flag,
                       "-o", "KIND,NAME")
        t.true({r["kind"] for r in rows} <= kinds, "ls %s: only %s" % (
            flag, sorted(kinds)), repr(rows[:5]))
        t.eq(q in [r["name"] for r in rows], flag == "-Q",
             "ls %s lists sysv/msg/%s" % (flag, q))
    # The default columns have no ID; +ID adds it, a number.
    rc, out, err = ipcctl(t, "ls", "-Q", "-r", "-o", "+ID", t.mnt)
    t.eq((rc, err), (0, b""), "ls -Q -r -o +ID")
    line = [ln.split(" ") for ln in out.decode().splitlines()
            if ln.split(" ")[:2] == ["sysv/msg", q]]
    t.eq(len(line), 1, "ls -Q -r lists sysv/msg/%s once" % q)
    t.eq(line[0][-1], str(qid), "its ID, last")


def sysctl(name, field=0):
    with open(SYSCTL + name) as f:
        return int(f.read().split()[field])


def test_ls_global_sysv_rows(t):
    _, q, qid = mkq(t)
    sysv.msg_set_qbytes(qid, 4000)
    k = t.keys.new()
    semid = sysv.sem_create(k, nsems=7)
    t.keys.ids["sem"].append(semid)
    # The machine's objects come and go (the PostgreSQL servers and the
    # trees of tests running beside this one): what ls counts must be
    # what /proc shows just before or after, in one of several tries.
    used = (("MSGMNI", "msg"), ("SHMMNI", "shm"), ("SEMMNI", "sem"))
    for _ in range(20):
        before = {kind: sysv.count(kind) for kind in ("msg", "shm", "sem")}
        rows = {r["resource"]: r for r in ls_json(t, "-g", key="limits")}
        after = {kind: sysv.count(kind) for kind in ("msg", "shm", "sem")}
        if all(min(before[k], after[k]) <= rows[r]["used"] <=
               max(before[k], after[k]) for r, k in used):
            break
    sem = [sysctl("sem", i) for i in range(4)]
    want = {"MSGMNI": sysctl("msgmni"), "MSGMAX": sysctl("msgmax"),
            "MSGMNB": sysctl("msgmnb"), "SHMMAX": sysctl("shmmax"),
            "SHMALL": sysctl("shmall"), "SHMMNI": sysctl("shmmni"),
            "SEMMSL": sem[0], "SEMMNS": sem[1], "SEMOPM": sem[2],
            "SEMMNI": sem[3]}
    t.eq({r: rows[r]["limit"] for r in want if r in rows}, want,
         "the System V limits, exactly (shmmax past 2^63 too)")
    for r in ("MSGMAX", "SEMOPM"):
        t.eq((rows[r]["used"], rows[r]["use%"]), (None, None),
             "%s: nothing tells what is used" % r)
    for r, kind in used:
        t.true(min(before[kind], after[kind]) <= rows[r]["used"] <=
               max(before[kind], after[kind]), "%s used: the objects of "
               "/proc/sysvipc/%s" % (r, kind), repr(rows[r]))
    t.true(rows["MSGMNB"]["used"] >= 4000, "MSGMNB used: the largest "
           "qbytes", repr(rows["MSGMNB"]))
    t.true(rows["SEMMSL"]["used"] >= 7, "SEMMSL used: the largest set",
           repr(rows["SEMMSL"]))
    t.true(rows["SEMMNS"]["used"] >= 7, "SEMMNS used: every semaphore",
           repr(rows["SEMMNS"]))
    order = [r["resource"] for r in ls_json(t, "-g", key="limits")]
    t.eq(order[-10:], list(want), "the System V rows come last, in order")


def test_send_and_recv_types(t):
    qdir, q, qid = mkq(t)
    for args in (("-t", 7, "seven"), ("-t", 2, "two"), ("one",),
                 ("-t", 9, "nine"), ("-t", 3, "three")):
        rc, out, err = ipcctl(t, "send", *(args[:-1] + (qdir, args[-1])))
        t.eq((rc, out, err), (0, b"", b""), "send %s" % (args,))
    t.eq(sysv.msg_stat(qid)["count"], 5, "five messages")
    for args, want in ((("-t", -5), b"1\tone"), (("-t", 9), b"9\tnine"),
                       (("-t", -9), b"2\ttwo"), ((), b"7\tseven")):
        rc, out, err = ipcctl(t, "recv", "-v", *(args + (qdir,)))
        t.eq((rc, out, err), (0, want, b""), "recv -v %s" % (args,))
    rc, out, err = ipcctl(t, "recv", "-t", 3, qdir)
    t.eq((rc, out, err), (0, b"three", b""), "recv -t 3 without -v")
    t.eq(sysv.msg_stat(qid)["count"], 0, "all taken")
    # Natively sent, received by type through ipcctl.
    sysv.msgsnd(qid, b"native 4", 4)
    t.eq(ipcctl(t, "recv", "-v", "-t", 4, qdir), (0, b"4\tnative 4", b""),
         "recv -t 4 of a native message")
    rc, out, err = ipcctl(t, "send", "-t", 5, qdir, "to C")
    t.eq((rc, out, err), (0, b"", b""), "send -t 5")
    t.eq(sysv.msgrcv(qid, mtype=5), (5, b"to C"), "native msgrcv of type 5")


def test_recv_type_timeout_takes_nothing(t):
    qdir, q, qid = mkq(t)
    sysv.msgsnd(qid, b"other", 2)
    t0 = time.monotonic()
    rc, out, err = ipcctl(t, "recv", "-t", 3, "--timeout", "0.5", qdir)
    el = time.monotonic() - t0
    t.eq((rc, out, err), (124, b"", b""), "recv -t 3 --timeout 0.5")
    t.true(0.5 <= el < 1.5, "it waited [0.5, 1.5) s", "%.2fs" % el)
    t.eq(ipcctl(t, "recv", "-t", 3, "--timeout", "0", qdir)[:2],
         (124, b""), "recv -t 3 --timeout 0")
    t.eq(ipcctl(t, "recv", "-t", 2, "--timeout", "0", qdir),
         (0, b"other", b""), "recv -t 2 --timeout 0 of a message there")
    # A message that comes while it waits.
    p = t.spawn([t.ipcctl, "recv", "-v", "-t", "6", "--timeout", "5",
                 qdir])
    time.sleep(0.3)
    sysv.msgsnd(qid, b"late", 6)
    t.eq(t.finish(p, 5), (0, b"6\tlate", b""), "recv -t 6 of a late message")
    t.eq(sysv.msg_stat(qid)["count"], 0, "nothing else taken")


def test_recv_type_ends_when_the_queue_is_removed(t):
    qdir, q, qid = mkq(t)
    p = t.spawn([t.ipcctl, "recv", "-t", "1", qdir])
    time.sleep(0.3)
    sysv.msg_rmid(qid)
    t.made["sysv/msg"].discard(q)
    rc, out, err = t.finish(p, 5)
    t.eq((rc, out), (1, b""), "recv -t 1 of a removed queue")
    t.true(b"Identifier removed" in err, "it says why", err)


def test_type_usage(t):
    qdir, q, qid = mkq(t)
    t.mkq("posix")
    posix = t.qpath("posix")
    for args, what in ((("send", "-t", 3, posix, "x"), "-t on a POSIX queue"),
                       (("recv", "-t", 3, posix), "recv -t on a POSIX queue"),
                       (("send", "-p", 3, qdir, "x"), "-p on a System V one"),
                       (("send", "-t", 0, qdir, "x"), "type 0"),
                       (("send", "-t", -1, qdir, "x"), "a negative type"),
                       (("send", "-t", "9223372036854775808", qdir, "x"),
                        "a type past LONG_MAX"),
                       (("send", "-t", "+3", qdir, "x"), "+3"),
                       (("recv", "-t", "x", qdir), "recv -t x")):
        rc, out, err = ipcctl(t, *args)
        t.eq((rc, out), (2, b""), "%s: bad usage" % what)
        t.true(err.startswith(b"ipcctl: "), "%s: told" % what, err)
    t.eq(sysv.msg_stat(qid)["count"], 0, "nothing sent to the System V queue")
    t.eq(t.count("posix"), 0, "nothing sent to the POSIX queue")
    # recv -t 0 is recv: any type, through framed.
    sysv.msgsnd(qid, b"any", 8)
    t.eq(ipcctl(t, "recv", "-v", "-t", 0, qdir), (0, b"8\tany", b""),
         "recv -t 0")

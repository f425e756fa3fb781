# SPDX-License-Identifier: GPL-2.0-or-later
"""Inspection (DESIGN.md §4, issue 9): who waits, who holds, ipcctl.

  * `waiters` in every object directory: `PID FILE` for each request of
    this mount parked on the object, oldest first, for every file that
    waits (queues' data and stream, a writer of a full queue or channel,
    a channel's reader, a semaphore's wait and a blocked open of hold);
    gone when the waiter is; never a poller; never waits itself;
  * `holders` in sem/NAME: the PID that opened each unit held through
    hold, oldest first, gone with the holder, the unit back;
  * the root's xattrs (the daemon's pid, the kinds' -o options);
  * `ipcctl ls`: JSON read back with exact values, -o (a column asked for
    twice shown once), -n, -r, -Q -C -M -S, no consuming and no waiting,
    objects vanishing meanwhile, empty cells for what its user may not
    read, the mount found in /proc/self/mountinfo, no walk of what is not
    an ipcfs mount; `ls -g` against the kernel's limits;
  * the verbs send, recv, wait, post, hold: send's priority range,
    timeouts (124, nothing taken, SIGALRM blocked or ignored or not), a
    timed wait a waiter in its turn, hold's unit and `holders` CMD's own
    whatever happens to CMD or ipcctl, --help, bad flags, missing paths.

What depends on the machine's other mounts (ls without MOUNTPOINT, an
mqueue file system or none for ls -g) runs in a mount namespace of its own
(unshare -m; -i too where it sets fs/mqueue limits), where the others are
unmounted and the real ones stay: skipped where there is no unshare.
"""

import grp
import itertools
import json
import os
import pwd
import re
import signal
import stat
import sys
import tempfile
import threading
import time

import pytest

from harness import Harness
from kinds import WAITER, WR_NB
from native import (mounted_fstype, mq_unlink, sem_create, sem_post,
                    sem_value)
from procs import PIPE, WRITER, children_of, wait_until
import sysv

CHAN_MAX_TOTAL = 1048576
# mq_maxmsg=3: a queue is full with three messages.
H = Harness("inspect", mq_maxmsg=3, mq_msgsize=256,
            chan_max_total=CHAN_MAX_TOTAL)

ALL = ["KIND", "NAME", "OWNER", "GROUP", "PERMS", "MSGS", "MAXMSG",
       "MSGSIZE", "BYTES", "CAPACITY", "READERS", "WRITERS", "SIZE", "VALUE",
       "SUBSCRIBERS", "PUBLISHED", "DROPPED", "BACKLOG", "WAITERS", "HOLDERS"]
DEFAULT = ["KIND", "NAME", "OWNER", "PERMS", "MSGS", "BYTES", "SIZE",
           "VALUE", "SUBSCRIBERS", "WAITERS", "HOLDERS"]
VERBS = ["ls", "send", "recv", "wait", "post", "hold", "publish",
         "subscribe"]
# The rows of ls -g; TOPICMEM only on a mount with topics/, which tells its
# -o topic_max_total (test_ipcctl_topics.py checks that row).
LIMITS = ["MQUEUES", "MQMSGS", "MQSIZE", "MQBYTES", "CHANMEM"]
# The System V rows, where the mount has the kind, and their sysctls
# (/proc/sys/kernel: the file, and which of its numbers).
SYSV_LIMITS = [("msg", "MSGMNI", "msgmni", 0), ("msg", "MSGMAX", "msgmax", 0),
               ("msg", "MSGMNB", "msgmnb", 0), ("shm", "SHMMAX", "shmmax", 0),
               ("shm", "SHMALL", "shmall", 0), ("shm", "SHMMNI", "shmmni", 0),
               ("sem", "SEMMSL", "sem", 0), ("sem", "SEMMNS", "sem", 1),
               ("sem", "SEMOPM", "sem", 2), ("sem", "SEMMNI", "sem", 3)]

# Polls FILE for POLLIN for a minute.
POLLER = r'''
import os, select, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
p = select.poll()
p.register(fd, select.POLLIN)
p.poll(60000)
'''

# Holds sem/NAME/hold in a shell, as a user would: says so, then sleeps.
HOLDER = 'exec 9<"$1"; echo held; sleep 60'


# ---------------------------------------------------------------------------
# Helpers


def lines(*items):
    """The text of `waiters` or `holders` listing ITEMS, one a line."""
    return "".join("%s\n" % i for i in items).encode()


def info(t, kind, name, file):
    """One read of KIND/NAME/FILE (waiters, holders): it never waits."""
    return t.read_file(t.path(kind, name, file), timeout=2)


def shows(t, kind, name, file, want, what, timeout=2.0):
    """KIND/NAME/FILE reads `want` within `timeout` s (polled)."""
    got = t.wait_value(lambda: info(t, kind, name, file), want, timeout)
    t.eq(got, want, what)


def mksem(t, name, value, mode=0o600):
    """Semaphore NAME of VALUE, made natively (the teardown removes it)."""
    sem_create(t.posix(name), value, mode)
    t.made["sem"].add(name)


def value(t, name):
    return sem_value(t.posix(name))


def value_soon(t, name, want, what, timeout=2.0):
    """The native value becomes `want` within `timeout` s: a unit held
    through hold comes back on RELEASE, after the holder is gone."""
    t.eq(t.wait_value(lambda: value(t, name), want, timeout, 0.005), want,
         "%s (within %g s)" % (what, timeout))


def value_kept(t, name, want, what):
    """The value is `want` and stays so: a unit posted after a wait that
    timed out is not eaten late. (backends/sem.c's helper thread may hold
    such a unit for up to 100 ms before it gives it back: test_waits.py's
    SemWait.took_nothing; the first look is polled for that.)"""
    t.settle(lambda: value(t, name), want, what, 0.4, 0.3)


def start(t, path, call):
    """A child waiting on PATH (read: an open and a read; openat: the open
    of hold is the wait), once it is seen blocked there."""
    p = t.py(WAITER, path, call)
    t.wait_blocked(p, call)
    return p


def start_writer(t, data):
    """A child writing one message to DATA, once it is parked there."""
    p = t.py(WRITER, data, "x")
    t.wait_blocked(p, "write")
    return p


def spawn_holder(t, name):
    """bash -c HOLDER on sem/NAME/hold: a shell that holds a unit, or waits
    for one in its open of hold."""
    return t.spawn(["bash", "-c", HOLDER, "bash", t.path("sem", name, "hold")],
                   stdin=PIPE)


def start_holder(t, name):
    """A shell holding sem/NAME through `exec 9<hold` (a unit there)."""
    p = spawn_holder(t, name)
    t.eq(t.read_until(p, b"held\n", 3), b"held\n", "the holder holds")
    return p


def fill_channel(t, name, capacity=4096):
    t.write_file(t.path("channels", name, "capacity"), b"%d" % capacity)
    w = t.open(t.path("channels", name, "data"), WR_NB)
    with t.within(5, "fill the channel"):
        t.eq(os.write(w, b"P" * capacity), capacity, "filling write")
    t.close(w)


def perms(mode):
    """`rw-r-----`: the permission bits of MODE & 0666, as ls shows them."""
    mode &= 0o666
    return "".join(c if mode & (0o400 >> i) else "-"
                   for i, c in enumerate("rwxrwxrwx"))


def owner(path):
    return pwd.getpwuid(os.stat(path).st_uid).pw_name


def group(path):
    return grp.getgrgid(os.stat(path).st_gid).gr_name


def ipcctl(t, *args, timeout=5, cwd=None):
    """$IPCCTL ARGS, bounded: (status, stdout, stderr)."""
    return t.run([t.ipcctl] + [str(a) for a in args], timeout=timeout,
                 cwd=cwd)


def timed(t, *args, timeout=5):
    """ipcctl ARGS: (status, stdout, stderr, seconds it took)."""
    t0 = time.monotonic()
    rc, out, err = ipcctl(t, *args, timeout=timeout)
    return rc, out, err, time.monotonic() - t0


def ls_json(t, *args, key="objects"):
    """`ipcctl ls -J ARGS MNT`, which must succeed quietly: the document's
    list under KEY, the document checked to hold that key only."""
    rc, out, err = ipcctl(t, "ls", "-J", *(list(args) + [t.mnt]))
    t.eq((rc, err), (0, b""), "ipcctl ls -J %s (status, stderr)" %
         " ".join(args))
    try:
        doc = json.loads(out)
    except ValueError as e:
        t.fail("ipcctl ls -J %s: not JSON (%s): %r" % (" ".join(args), e,
                                                       out[:300]))
    t.eq(list(doc), [key], "top-level keys of ls -J %s" % " ".join(args))
    return [r for r in doc[key] if not foreign(r)]


SYSV_NAME = re.compile(r"0x[0-9a-f]{8}|id\.[0-9]+")


def foreign(row):
    """Is ROW of ls -J a System V object? sysv/ shows every one of the
    machine, other tests' and programs' too, and this file makes none (by
    its kind, or by its name where -o left out KIND)."""
    kind = row.get("kind")
    if kind is not None:
        return kind.startswith("sysv/")
    return SYSV_NAME.fullmatch(row.get("name") or "") is not None


def own(out):
    """ls's table OUT without the rows of System V objects (see foreign),
    each line without the blanks that pad it (their names may have
    widened a column)."""
    keep = [ln.rstrip() for ln in out.decode().splitlines()
            if not any(w.startswith("sysv/") or SYSV_NAME.fullmatch(w)
                       for w in ln.split())]
    return "".join(ln + "\n" for ln in keep).encode()


def by_name(objs):
    return {o["name"]: o for o in objs}


def root_order(t):
    with t.within(5, "ls MNT"):
        return os.listdir(t.mnt)


def row(t, kind, name, **cells):
    """What ls -J shows of KIND/NAME with the default columns: every cell
    that does not apply null, waiters 0, holders 0 where there is the
    file; CELLS (lower-case column names) on top."""
    d = t.path(kind, name)
    r = {c.lower(): None for c in DEFAULT}
    r.update(kind=kind, name=name, owner=owner(d),
             perms=perms(os.stat(d).st_mode & 0o666), waiters=0,
             holders=0 if kind == "sem" else None)
    r.update(cells)
    return r


def make_four(t):
    """One object of each kind, with things in them: a queue of two
    messages (0640), a channel of 5 bytes, a segment of 4096 bytes (0604),
    a semaphore of value 2."""
    t.mkq("q", 0o640)
    t.send("q", b"one")
    t.send("q", b"two")
    t.mkobj("channels", "c")
    t.write_file(t.path("channels", "c", "data"), b"hello", WR_NB)
    t.mkobj("shm", "m", 0o604)
    t.write_file(t.path("shm", "m", "size"), b"4096")
    mksem(t, "s", 2)


# ---------------------------------------------------------------------------
# waiters


class Case:
    """A file of an object that waits: how to make the object so that it
    does, and start a waiter (its pid is what `waiters` names)."""

    def __init__(self, kind, file, call, ident):
        self.kind, self.file, self.call, self.ident = kind, file, call, ident

    def __str__(self):
        return self.ident

    def make(self, t, name):
        if self.kind == "sem":
            mksem(t, name, 0)
            return
        t.mkobj(self.kind, name)
        if self.ident == "queue-full-data":
            for m in (b"m1", b"m2", b"m3"):
                t.send(name, m)
            t.eq(t.count(name), 3, "the queue is full")
        elif self.ident == "channel-data-read":
            # A writer open: an empty channel's reader waits for bytes.
            t.open(t.path(self.kind, name, "data"), os.O_WRONLY)
        elif self.ident == "channel-full-data":
            fill_channel(t, name)

    def start(self, t, name):
        path = t.path(self.kind, name, self.file)
        if self.call == "write":
            return start_writer(t, path)
        return start(t, path, self.call)


CASES = [Case("queues", "data", "read", "queue-data"),
         Case("queues", "stream", "read", "queue-stream"),
         Case("queues", "framed", "read", "queue-framed"),
         Case("queues", "data", "write", "queue-full-data"),
         Case("channels", "data", "read", "channel-data-read"),
         Case("channels", "data", "write", "channel-full-data"),
         Case("sem", "wait", "read", "sem-wait"),
         Case("sem", "hold", "openat", "sem-hold")]


@pytest.mark.parametrize("c", CASES, ids=str)
def test_waiters_lists_each_waiter_oldest_first(t, c):
    c.make(t, "w")
    t.eq(info(t, c.kind, "w", "waiters"), b"", "%s: waiters with nobody "
         "waiting" % c)
    a = c.start(t, "w")
    shows(t, c.kind, "w", "waiters", lines("%d %s" % (a.pid, c.file)),
          "%s: waiters with one waiter" % c)
    b = c.start(t, "w")
    shows(t, c.kind, "w", "waiters", lines("%d %s" % (a.pid, c.file),
                                           "%d %s" % (b.pid, c.file)),
          "%s: waiters with two, the oldest first" % c)
    t.kill9(a, "the first waiter")
    shows(t, c.kind, "w", "waiters", lines("%d %s" % (b.pid, c.file)),
          "%s: waiters once the first is killed" % c)
    t.kill9(b, "the second waiter")
    shows(t, c.kind, "w", "waiters", b"", "%s: waiters once both are "
          "killed" % c)


def test_waiter_gone_once_served(t):
    t.mkq("q")
    p = start(t, t.qpath("q", "data"), "read")
    shows(t, "queues", "q", "waiters", lines("%d data" % p.pid),
          "waiters of a queue with a reader")
    t.send("q", b"msg")
    rc, out, err = t.finish(p, 3)
    t.eq((rc, out), (0, b"msg"), "the reader (status, out)")
    t.eq(info(t, "queues", "q", "waiters"), b"", "waiters once the reader "
         "got its message")


POLLED = [("queues", "data"), ("queues", "stream"), ("sem", "wait")]


@pytest.mark.parametrize("kind,file", POLLED,
                         ids=["%s-%s" % p for p in POLLED])
def test_pollers_are_not_waiters(t, kind, file):
    if kind == "sem":
        mksem(t, "p", 0)
    else:
        t.mkq("p")
    path = t.path(kind, "p", file)
    poller = t.py(POLLER, path)
    t.wait_blocked(poller, "poll")
    t.settle(lambda: info(t, kind, "p", "waiters"), b"",
             "%s/%s: waiters with a poller" % (kind, file), 0.3)
    reader = start(t, path, "read")
    t.settle(lambda: info(t, kind, "p", "waiters"),
             lines("%d %s" % (reader.pid, file)), "%s/%s: waiters with a "
             "poller and a reader: the reader only" % (kind, file), 0.3)
    t.true(poller.poll() is None, "the poller still polls")


def test_every_object_has_waiters_only_sem_holders(t):
    kinds = t.kinds()
    t.true(set(kinds) >= {"queues", "channels", "shm", "sem"},
           "the four kinds served", repr(kinds))
    for kind in kinds:
        f = t.objname(kind, "f")
        d = t.mkobj(kind, f, 0o640)
        with t.within(5, "ls %s/%s" % (kind, f)):
            files = os.listdir(d)
            st = os.stat(os.path.join(d, "waiters")) \
                if "waiters" in files else None
        t.true("waiters" in files, "%s/%s has waiters" % (kind, f),
               repr(files))
        t.eq(oct(stat.S_IMODE(st.st_mode)), oct(0o440),
             "mode of %s/%s/waiters (0444 & 0640)" % (kind, f))
        t.eq(info(t, kind, f, "waiters"), b"", "%s/%s/waiters" % (kind, f))
        # Semaphores, POSIX or System V: what their hold files hold.
        t.eq("holders" in files, kind in ("sem", "sysv/sem"),
             "%s/%s has holders: %s" % (kind, f, sorted(files)))
    t.eq(info(t, "sem", "f", "holders"), b"", "holders of a free semaphore")
    with t.within(5, "stat holders"):
        mode = stat.S_IMODE(os.stat(t.path("sem", "f", "holders")).st_mode)
    t.eq(oct(mode & 0o333), oct(0), "holders is read-only (%o)" % mode)


def test_waiters_are_this_mounts(t):
    """A reader parked through another mount of the same objects is that
    mount's waiter, not this one's."""
    t.mkq("two")
    with t.extra_tree("inspect2", prefix=t.prefix) as m:
        p = start(t, m.path("queues", "two", "data"), "read")
        t.eq(t.wait_value(lambda: t.read_file(
            m.path("queues", "two", "waiters"), timeout=2),
            lines("%d data" % p.pid), 2), lines("%d data" % p.pid),
            "waiters through the other mount")
        t.settle(lambda: info(t, "queues", "two", "waiters"), b"",
                 "waiters through this mount", 0.2)
        t.kill9(p, "the reader of the other mount")


# ---------------------------------------------------------------------------
# holders


def test_holder_listed_until_killed(t):
    mksem(t, "h", 1)
    p = start_holder(t, "h")
    t.eq(info(t, "sem", "h", "holders"), lines(p.pid), "holders")
    t.eq(info(t, "sem", "h", "waiters"), b"", "a holder is no waiter")
    t.eq(value(t, "h"), 0, "value while held")
    t.true(t.kill(p), "the holder's session killed (SIGKILL)")
    shows(t, "sem", "h", "holders", b"", "holders once the holder is killed")
    value_soon(t, "h", 1, "value once the holder is killed")


def test_two_holders_oldest_first(t):
    mksem(t, "h2", 2)
    a = start_holder(t, "h2")
    b = start_holder(t, "h2")
    t.eq(info(t, "sem", "h2", "holders"), lines(a.pid, b.pid),
         "holders, the oldest first")
    t.eq(value(t, "h2"), 0, "value while both hold")
    t.kill(a)
    shows(t, "sem", "h2", "holders", lines(b.pid), "holders once the first "
          "is killed")
    value_soon(t, "h2", 1, "value once the first is killed")
    t.kill(b)
    shows(t, "sem", "h2", "holders", b"", "holders once both are killed")
    value_soon(t, "h2", 2, "value once both are killed")


def test_blocked_hold_waits_then_holds(t):
    mksem(t, "bh", 0)
    p = spawn_holder(t, "bh")
    t.wait_blocked(p, "openat")
    shows(t, "sem", "bh", "waiters", lines("%d hold" % p.pid),
          "waiters of a blocked hold")
    t.eq(info(t, "sem", "bh", "holders"), b"", "holders while it waits")
    sem_post(t.posix("bh"))
    t.eq(t.read_until(p, b"held\n", 3), b"held\n", "the hold is served")
    shows(t, "sem", "bh", "holders", lines(p.pid), "holders once served")
    t.eq(info(t, "sem", "bh", "waiters"), b"", "waiters once served")
    t.kill(p)
    value_soon(t, "bh", 1, "value once the holder is killed")


# ---------------------------------------------------------------------------
# The root and mountinfo


def test_root_xattrs_and_mountinfo(t):
    def xattr(name):
        with t.within(5, "getxattr %s of the root" % name):
            try:
                return os.getxattr(t.mnt, name)
            except OSError as e:
                return e.strerror
    t.eq(xattr("user.ipcfs.pid"), b"%d" % t.daemon.pid, "user.ipcfs.pid")
    for opt, want in (("chan_max_total", b"%d" % CHAN_MAX_TOTAL),
                      ("mq_maxmsg", b"3"), ("mq_msgsize", b"256")):
        t.eq(xattr("user.ipcfs.option." + opt), want,
             "user.ipcfs.option.%s" % opt)
    d = t.mkq("x")
    with t.within(5, "getxattr of an object"):
        t.eq(os.getxattr(d, "user.ipcfs.name"), t.posix("x").encode(),
             "user.ipcfs.name")
    with open("/proc/self/mountinfo") as f:
        mine = [ln.split(" - ")[1].split()[:2] for ln in f
                if ln.split(" - ")[0].split()[4] == t.mnt]
    t.eq(mine, [["fuse.ipcfs", "ipcfs"]], "fstype and source in mountinfo")


# ---------------------------------------------------------------------------
# ipcctl ls


def test_ls_json_exact_values(t):
    make_four(t)
    objs = ls_json(t)
    order = root_order(t)
    want = [row(t, "queues", "q", msgs=2, perms="rw-r-----"),
            row(t, "channels", "c", bytes=5),
            row(t, "shm", "m", size=4096, perms="rw----r--"),
            row(t, "sem", "s", value=2)]
    want.sort(key=lambda r: (order.index(r["kind"]), r["name"]))
    t.eq(objs, want, "ls -J")
    for o in objs:
        t.eq(list(o), [c.lower() for c in DEFAULT],
             "keys of %s/%s, in the columns' order" % (o["kind"], o["name"]))
        for k, v in o.items():
            want = str if k in ("kind", "name", "owner", "perms") else int
            t.true(v is None or type(v) is want, "%s of %s/%s is a JSON %s"
                   % (k, o["kind"], o["name"], want.__name__), repr(v))
    t.eq(t.count("q"), 2, "messages left after ls")
    t.eq(value(t, "s"), 2, "value after ls")


def test_ls_all_columns(t):
    """Every column, and what each kind has of them: the rest null."""
    make_four(t)
    objs = by_name(ls_json(t, "-o", ",".join(ALL)))
    cap = int(t.read_file(t.path("channels", "c", "capacity")))
    want = {
        "q": dict(msgs=2, maxmsg=3, msgsize=256),
        "c": dict(bytes=5, capacity=cap, readers=0, writers=0),
        "m": dict(size=4096),
        "s": dict(value=2, holders=0),
    }
    for name, cells in want.items():
        o = objs.get(name, {})
        d = t.path(o.get("kind", "?"), name)
        full = {c.lower(): None for c in ALL}
        full.update(kind=o.get("kind"), name=name, owner=owner(d),
                    group=group(d), perms=perms(os.stat(d).st_mode & 0o666),
                    waiters=0)
        full.update(cells)
        t.eq(o, full, "ls -J -o ALL: %s" % name)
        t.eq(list(o), [c.lower() for c in ALL], "keys of %s" % name)
    t.eq(t.count("q"), 2, "messages left")
    t.eq(value(t, "s"), 2, "value left")
    t.eq(t.read_file(t.path("channels", "c", "bytes")), b"5\n", "bytes left")


def test_ls_empty_tree(t):
    """Nothing in the tree: an empty list; a table of no rows (a header
    alone, or nothing as lsipc(1) prints); nothing on stderr (no sanitizer
    report either)."""
    t.eq(ls_json(t), [], "ls -J of an empty tree")
    for args, header in ((["-r"], " ".join(DEFAULT) + "\n"), (["-n"], ""),
                         (["-r", "-o", "NAME"], "NAME\n")):
        rc, out, err = ipcctl(t, "ls", *(args + [t.mnt]))
        t.eq((rc, err), (0, b""), "ls %s of an empty tree (status, stderr)"
             % " ".join(args))
        out = own(out)
        t.true(out in (b"", header.rstrip(" ").encode()), "ls %s of an empty tree: no "
               "row" % " ".join(args), repr(out))


def test_ls_counts_waiters_and_holders(t):
    t.mkq("q")
    mksem(t, "s", 1)
    r = start(t, t.qpath("q", "data"), "read")
    h = start_holder(t, "s")
    w = start(t, t.path("sem", "s", "wait"), "read")
    shows(t, "sem", "s", "waiters", lines("%d wait" % w.pid), "sem waiters")
    objs = by_name(ls_json(t, "-o", "NAME,MSGS,VALUE,WAITERS,HOLDERS"))
    t.eq(objs, {"q": dict(name="q", msgs=0, value=None, waiters=1,
                          holders=None),
                "s": dict(name="s", msgs=None, value=0, waiters=1,
                          holders=1)},
         "ls -J with a parked reader, a holder and a waiter")
    t.true(r.poll() is None and h.poll() is None and w.poll() is None,
           "they all still wait or hold")


def test_ls_output_options(t):
    make_four(t)
    t.mkq("longname")
    t.send("longname", b"x")
    # -o +LIST adds, in that order.
    objs = by_name(ls_json(t, "-o", "+GROUP,MAXMSG"))
    t.eq(list(objs["q"]), [c.lower() for c in DEFAULT] + ["group", "maxmsg"],
         "keys with -o +GROUP,MAXMSG")
    t.eq((objs["q"]["group"], objs["q"]["maxmsg"]),
         (group(t.qpath("q")), 3), "queue's group and maxmsg")
    t.eq((objs["s"]["group"], objs["s"]["maxmsg"]),
         (group(t.path("sem", "s")), None), "semaphore's group and maxmsg")
    # -o LIST picks and orders, whatever the case.
    for spec in ("NAME,MSGS", "name,msgs", "Name,Msgs"):
        objs = ls_json(t, "-o", spec)
        t.eq([list(o) for o in objs], [["name", "msgs"]] * 5,
             "keys with -o %s" % spec)
        t.eq(by_name(objs)["q"], {"name": "q", "msgs": 2}, "q with -o %s" %
             spec)
    objs = ls_json(t, "--output", "MSGS,NAME")
    t.eq(list(objs[0]), ["msgs", "name"], "keys with --output MSGS,NAME")
    # The table: the header is the columns asked for.
    rc, out, err = ipcctl(t, "ls", "-o", "NAME,MSGS", t.mnt)
    t.eq((rc, err), (0, b""), "ls -o NAME,MSGS")
    out = own(out)
    rows = out.decode().splitlines()
    t.eq(rows[0].split(), ["NAME", "MSGS"], "header of ls -o NAME,MSGS")
    t.eq(len(rows), 6, "ls -o NAME,MSGS: a header and five rows (%r)" % out)
    t.true(re.search(r"^q {2,}2\s*$", out.decode(), re.M),
           "ls -o NAME,MSGS: a padded row for q", repr(out))
    rc, out, err = ipcctl(t, "ls", t.mnt)
    t.eq((rc, err), (0, b""), "ls")
    t.eq(out.decode().splitlines()[0].split(), DEFAULT, "default header")
    # -n: no header; -r: one space between cells, no padding.
    rc, out, err = ipcctl(t, "ls", "-n", "-o", "NAME,MSGS", t.mnt)
    t.eq((rc, err), (0, b""), "ls -n")
    rows = own(out).decode().splitlines()
    t.eq(len(rows), 5, "ls -n: five rows, no header (%r)" % out)
    t.true(not any("NAME" in r for r in rows), "ls -n: no header", repr(out))
    rc, out, err = ipcctl(t, "ls", "-r", "-Q", "-o", "KIND,NAME,MSGS",
                          t.mnt)
    t.eq((rc, own(out), err), (0, b"KIND NAME MSGS\nqueues longname 1\n"
                          b"queues q 2\n", b""), "ls -r -Q -o KIND,NAME,MSGS")
    for flags in (["-rn"], ["--raw", "--noheadings"]):
        rc, out, err = ipcctl(t, "ls", *flags, "-Q", "-o", "NAME,MSGS",
                              t.mnt)
        t.eq((rc, own(out), err), (0, b"longname 1\nq 2\n", b""),
             "ls %s -Q -o NAME,MSGS" % " ".join(flags))


FILTERS = [(["-Q"], ["queues"]), (["-C"], ["channels"]), (["-M"], ["shm"]),
           (["-S"], ["sem"]), (["-Q", "-S"], ["queues", "sem"]),
           (["-S", "-Q"], ["queues", "sem"]),
           (["-C", "-M"], ["channels", "shm"]),
           (["--queues", "--semaphores"], ["queues", "sem"]),
           (["--channels", "--shmems"], ["channels", "shm"]),
           ([], ["queues", "channels", "shm", "sem"])]


@pytest.mark.parametrize("flags,kinds", FILTERS,
                         ids=["".join(f) or "none" for f, _ in FILTERS])
def test_ls_kind_filters(t, flags, kinds):
    make_four(t)
    objs = ls_json(t, *flags, "-o", "KIND,NAME")
    order = root_order(t)
    want = sorted(kinds, key=order.index)
    t.eq([o["kind"] for o in objs], want, "kinds shown by ls -J %s" %
         " ".join(flags))


def test_ls_neither_consumes_nor_waits(t):
    """An empty queue and a zero semaphore with waiters parked on them, a
    queue and a channel with something in them: ls with every column ends
    at once, takes nothing, wakes nobody."""
    t.mkq("empty")
    mksem(t, "zero", 0)
    t.mkq("full")
    for m in (b"a", b"b"):
        t.send("full", m)
    t.mkobj("channels", "ch")
    t.write_file(t.path("channels", "ch", "data"), b"bytes", WR_NB)
    r = start(t, t.qpath("empty", "data"), "read")
    st = start(t, t.qpath("empty", "stream"), "read")
    fr = start(t, t.qpath("empty", "framed"), "read")
    w = start(t, t.path("sem", "zero", "wait"), "read")
    h = start(t, t.path("sem", "zero", "hold"), "openat")
    for args in (["-J", "-o", ",".join(ALL)], ["-o", ",".join(ALL)], []):
        t0 = time.monotonic()
        rc, out, err = ipcctl(t, "ls", *(args + [t.mnt]), timeout=2)
        el = time.monotonic() - t0
        t.eq((rc, err), (0, b""), "ls %s (status, stderr)" % " ".join(args))
        t.true(el < 2, "ls %s ends within 2 s" % " ".join(args),
               "%.2fs" % el)
    objs = by_name(ls_json(t, "-o", "NAME,MSGS,BYTES,VALUE,WAITERS"))
    t.eq(objs["empty"], dict(name="empty", msgs=0, bytes=None, value=None,
                             waiters=3), "the empty queue")
    t.eq(objs["zero"], dict(name="zero", msgs=None, bytes=None, value=0,
                            waiters=2), "the zero semaphore")
    t.eq(objs["full"]["msgs"], 2, "the queue's messages")
    t.eq(objs["ch"]["bytes"], 5, "the channel's bytes")
    for p in (r, st, fr, w, h):
        t.true(p.poll() is None, "`%s` still waits" % p.what)
    t.eq(t.count("full"), 2, "messages left after ls")
    t.eq(t.count("empty"), 0, "the empty queue")
    t.eq(value(t, "zero"), 0, "value after ls")
    t.eq(t.read_file(t.path("channels", "ch", "bytes")), b"5\n",
         "the channel's bytes after ls")
    t.eq(t.read_file(t.path("channels", "ch", "readers")), b"0\n",
         "the channel's readers after ls")
    t.eq(t.drain("full"), [(b"a", 0), (b"b", 0)], "what the queue held")


@pytest.mark.deadline(60)
def test_ls_while_objects_vanish(t):
    """A thread makes and removes objects of every kind as fast as it can
    (twelve slots, each made and removed in turn: half of them exist at a
    time, each for a few ms) while ls runs again and again: every ls ends
    0 and quiet, with a document that parses, whatever it caught half made
    or half gone."""
    kinds = ["queues", "channels", "shm", "sem"]
    slots = [(kinds[j % 4], "v%d" % j) for j in range(12)]
    stop = threading.Event()
    errors = []
    made = [0]

    def churn():
        for i in itertools.count():
            if stop.is_set():
                return
            d = t.path(*slots[i % len(slots)])
            try:
                if i // len(slots) % 2 == 0:
                    os.mkdir(d, 0o600)
                    made[0] += 1
                else:
                    os.rmdir(d)
            except OSError as e:
                errors.append("%s: %s" % (d, e))
                return

    for kind, name in slots:
        t.made[kind].add(name)
    t.mkq("stays")
    th = threading.Thread(target=churn, daemon=True)
    th.start()
    seen = 0
    try:
        end = time.monotonic() + 4
        runs = 0
        while time.monotonic() < end or runs < 10:
            args = [["-J", "-o", ",".join(ALL)], [], ["-g", "-J"]][runs % 3]
            rc, out, err = ipcctl(t, "ls", *(args + [t.mnt]), timeout=5)
            t.eq((rc, err), (0, b""), "ls %s run %d while objects come and "
                 "go (status, stderr)" % (" ".join(args), runs))
            if "-J" in args:
                try:
                    doc = json.loads(out)
                except ValueError as e:
                    t.fail("run %d: not JSON (%s): %r" % (runs, e, out[:300]))
                if "objects" in doc:
                    names = [o["name"] for o in doc["objects"]]
                    t.true("stays" in names, "run %d lists what stays" % runs,
                           repr(names))
                    seen += any(n.startswith("v") for n in names)
            runs += 1
    finally:
        stop.set()
        th.join(10)
    t.true(not th.is_alive(), "the churning thread stopped")
    t.eq(errors, [], "mkdir/rmdir of the churning thread")
    t.note("%d ls runs, %d objects made and removed meanwhile, %d runs saw "
           "one" % (runs, made[0], seen))
    t.true(made[0] > runs, "objects came and went during the runs",
           "%d made in %d runs" % (made[0], runs))


# Runs argv[2:] as the user named argv[1], without supplementary groups.
AS_USER = r"""
import os, pwd, sys
u = pwd.getpwnam(sys.argv[1])
os.setgroups([])
os.setgid(u.pw_gid)
os.setuid(u.pw_uid)
os.execv(sys.argv[2], sys.argv[2:])
"""


def test_ls_unreadable_objects_have_empty_cells(t):
    """As a user who may not read an object's files (EACCES), ls shows the
    object with its cells empty, and no error."""
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        t.skip("no user nobody")
    if os.geteuid() != 0:
        t.skip("not root: cannot run ipcctl as nobody")
    mksem(t, "priv", 3)
    t.mkq("priv")
    t.mkq("pub", 0o644)
    t.send("pub", b"x")
    with t.extra_tree("inspect4", prefix=t.prefix, allow_other=None) as m:
        rc, out, err = t.run([sys.executable, "-c", AS_USER, "nobody",
                              t.ipcctl, "ls", "-J", "-o",
                              "KIND,NAME,OWNER,PERMS,MSGS,VALUE,WAITERS,"
                              "HOLDERS", m.mnt])
        t.eq((rc, err), (0, b""), "ls -J as nobody")
    none = dict(msgs=None, value=None, waiters=None, holders=None)
    me = pwd.getpwuid(os.getuid()).pw_name
    t.eq([o for o in json.loads(out)["objects"] if not foreign(o)], [
        dict(kind="queues", name="priv", owner=me, perms="rw-------",
             **none),
        dict(kind="queues", name="pub", owner=me, perms="rw-r--r--",
             **dict(none, msgs=1, waiters=0)),
        dict(kind="sem", name="priv", owner=me, perms="rw-------",
             **none)], "ls -J as nobody")


def test_ls_repeated_column(t):
    """A column asked for twice is shown once, where first asked for: no
    duplicate JSON key, no second header."""
    t.mkq("rep")
    for spec, keys in (("kind,kind", ["kind"]),
                       ("KIND,name,Kind", ["kind", "name"]),
                       ("+KIND,NAME", [c.lower() for c in DEFAULT]),
                       ("+GROUP,group", [c.lower() for c in DEFAULT] +
                        ["group"])):
        rc, out, err = ipcctl(t, "ls", "-J", "-o", spec, t.mnt)
        t.eq((rc, err), (0, b""), "ls -J -o %s" % spec)
        # object_pairs_hook sees every key, duplicates too.
        doc = json.loads(out, object_pairs_hook=lambda kv: kv)
        t.eq([[k for k, _ in o] for _, objs in doc for o in objs
              if not foreign(dict(o))], [keys], "keys of ls -J -o %s" % spec)
    rc, out, err = ipcctl(t, "ls", "-o", "kind,KIND", t.mnt)
    t.eq((rc, own(out), err), (0, b"KIND\nqueues\n", b""),
         "ls -o kind,KIND")


def test_ls_not_ipcfs_directory(t):
    """A directory that is no mount of ipcfs is not walked: exit 1."""
    d = os.path.realpath(tempfile.mkdtemp(prefix="ipcfs-inspect-plain-"))
    try:
        for args in (["ls"], ["ls", "-J"], ["ls", "-g"]):
            rc, out, err = ipcctl(t, *(args + [d]))
            t.eq((rc, out, err), (1, b"", b"ipcctl: %s: not an ipcfs "
                                  b"mount\n" % d.encode()),
                 "%s of a plain directory" % " ".join(args))
    finally:
        os.rmdir(d)


def test_ls_not_ipcfs_fuse(t):
    """Another FUSE file system (the bench's nullfs: no user.ipcfs.pid on
    its root, no xattrs at all) is not walked either: exit 1."""
    nullfs = os.path.join(os.path.dirname(t.ipcfs), "tests", "bench",
                          "nullfs")
    if not os.access(nullfs, os.X_OK):
        t.skip("nullfs is not built (%s)" % nullfs)
    d = os.path.realpath(tempfile.mkdtemp(prefix="ipcfs-inspect-null-"))
    p = t.spawn([nullfs, "-f", d])
    try:
        t.true(wait_until(lambda: mounted_fstype(d) is not None, 5),
               "nullfs mounted on %s" % d)
        for args in (["ls"], ["ls", "-J"], ["ls", "-g"]):
            rc, out, err = ipcctl(t, *(args + [d]))
            t.eq((rc, out, err), (1, b"", b"ipcctl: %s: not an ipcfs "
                                  b"mount\n" % d.encode()),
                 "%s of a nullfs mount" % " ".join(args))
    finally:
        unmounted = t.unmount_dir(d)
        ended = t.wait_exit(p, 5) is not None
        t.kill(p)
        if unmounted:
            os.rmdir(d)
    t.true(unmounted and ended, "nullfs unmounted and ended")


def test_ls_unknown_column(t):
    for spec in ("NAME,BOGUS", "+BOGUS", "bogus"):
        rc, out, err = ipcctl(t, "ls", "-o", spec, t.mnt)
        t.eq((rc, out), (2, b""), "ls -o %r (status, stdout)" % spec)
        t.true(err.startswith(b"ipcctl: ") and err.endswith(b"\n"),
               "ls -o %r: a message on stderr" % spec, repr(err))
    rc, out, err = ipcctl(t, "ls", "-o", "NAME,BOGUS", t.mnt)
    t.true(b"BOGUS" in err, "the message names the column", repr(err))


# Runs ARGV in the mount namespace (and with sysctls given, the IPC
# namespace) of its own that `unshare` made for it: every ipcfs mount but
# those of KEEP (comma-separated) and every mqueue file system unmounted
# there, a fresh mqueue file
# system mounted on MQ if given ("-": none), the SYSCTLS (NAME=VALUE,... of
# fs/mqueue) set. Prints what ARGV did, and MQ's entries before and after,
# as JSON. Exit 99: this namespace could not be set up.
ALONE = r"""
import json, os, subprocess, sys
keep, mq, sysctls = sys.argv[1].split(","), sys.argv[2], sys.argv[3]
argv = sys.argv[4:]
with open("/proc/self/mountinfo") as f:
    mounts = [(ln.split(" - ")[0].split()[4], ln.split(" - ")[1].split()[0])
              for ln in f]
for mp, fstype in reversed(mounts):
    if (fstype == "fuse.ipcfs" and mp not in keep) or fstype == "mqueue":
        if subprocess.run(["umount", "-l", mp]).returncode:
            sys.exit(99)
for kv in sysctls.split(",") if sysctls != "-" else []:
    k, v = kv.split("=")
    with open("/proc/sys/fs/mqueue/" + k, "w") as f:
        f.write(v)
if mq != "-" and subprocess.run(["mount", "-t", "mqueue", "none",
                                 mq]).returncode:
    sys.exit(99)
count = lambda: len(os.listdir(mq)) if mq != "-" else None
before = count()
r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                   timeout=10)
json.dump(dict(rc=r.returncode, out=r.stdout.decode(),
               err=r.stderr.decode(), before=before, after=count()),
          sys.stdout)
"""


def alone(t, argv, keep="", mq=None, sysctls=None):
    """ARGV run as ALONE says, its mounts and limits its own; what it did:
    {rc, out, err (decoded), before, after}. The test is skipped where no
    such namespace can be made (not root, no unshare)."""
    if not os.access("/usr/bin/unshare", os.X_OK):
        t.skip("no unshare(1)")
    ns = ["-m", "--propagation", "private"] + ["-i"] * bool(sysctls)
    rc, out, err = t.run(["unshare"] + ns + [
        sys.executable, "-c", ALONE, keep, mq or "-",
        ",".join("%s=%s" % kv for kv in (sysctls or {}).items()) or "-"] +
        list(argv), timeout=15)
    if rc != 0:
        t.skip("no namespace of its own here: status %s, %r" % (rc, err))
    return json.loads(out)


def test_ls_finds_the_mount(t):
    t.mkq("solo")
    for args in (["ls", "-J", "-o", "KIND,NAME"], ["ls", "-J", "-Q"],
                 ["ls", "-r", "-n", "-o", "NAME"]):
        r = alone(t, [t.ipcctl] + args, keep=t.mnt)
        t.eq((r["rc"], r["err"]), (0, ""), "%s without MOUNTPOINT, ours the "
             "one mount" % " ".join(args))
        if "-J" in args:
            t.eq([o["name"] for o in json.loads(r["out"])["objects"]
                  if not foreign(o)], ["solo"], "%s: our queue" %
                 " ".join(args))
        else:
            t.eq(own(r["out"].encode()), b"solo\n", " ".join(args))
    r = alone(t, [t.ipcctl, "ls", "-g", "-J"], keep=t.mnt)
    t.eq((r["rc"], r["err"]), (0, ""), "ls -g -J without MOUNTPOINT")
    t.eq({x["resource"]: x["limit"] for x in json.loads(r["out"])["limits"]
          }["CHANMEM"], CHAN_MAX_TOTAL, "ls -g -J: CHANMEM of our mount")
    with t.extra_tree("inspect2", prefix=t.prefix) as m:
        for args in (["ls"], ["ls", "-J"], ["ls", "-g"]):
            r = alone(t, [t.ipcctl] + args, keep=t.mnt + "," + m.mnt)
            t.eq((r["rc"], r["out"]), (1, ""), "%s with two mounts (status, "
                 "stdout)" % " ".join(args))
            t.true(t.mnt in r["err"] and m.mnt in r["err"] and
                   r["err"].startswith("ipcctl: "),
                   "%s with two mounts names both" % " ".join(args),
                   repr(r["err"]))
        rc, out, err = ipcctl(t, "ls", "-J", "-o", "NAME", m.mnt)
        doc = json.loads(out or b"null") or {}
        t.eq((rc, [o for o in doc.get("objects", []) if not foreign(o)]),
             (0, [{"name": "solo"}]), "ls -J of one of two")


def test_ls_without_any_mount(t):
    """In a mount namespace of its own with ours unmounted (the real one
    stays), ls without MOUNTPOINT finds none."""
    for args in (["ls"], ["ls", "-J"], ["ls", "-g"]):
        r = alone(t, [t.ipcctl] + args)
        t.eq((r["rc"], r["out"], r["err"]),
             (1, "", "ipcctl: no ipcfs mount found (/proc/self/mountinfo)\n"),
             "%s with no mount" % " ".join(args))
    t.true(mounted_fstype(t.mnt) == "fuse.ipcfs", "ours is still mounted")


# ---------------------------------------------------------------------------
# ipcctl ls -g


def sysctl(name):
    with open("/proc/sys/fs/mqueue/" + name) as f:
        return int(f.read())


def msgqueue_rlimit(pid):
    """The soft RLIMIT_MSGQUEUE of process PID, None if unlimited."""
    with open("/proc/%d/limits" % pid) as f:
        for ln in f:
            if ln.startswith("Max msgqueue size"):
                soft = ln[len("Max msgqueue size"):].split()[0]
                return None if soft == "unlimited" else int(soft)
    return None


def mqbytes_limit(*pids):
    """MQBYTES's limit: the smallest soft RLIMIT_MSGQUEUE of PIDS (the
    daemon and ipcctl: queues are made as their caller, with the smaller
    of the two), None if all are unlimited."""
    known = [v for v in map(msgqueue_rlimit, pids) if v is not None]
    return min(known) if known else None


# Runs argv[2:] with a soft RLIMIT_MSGQUEUE of argv[1] bytes.
RLIMITED = r"""
import os, resource, sys
hard = resource.getrlimit(resource.RLIMIT_MSGQUEUE)[1]
resource.setrlimit(resource.RLIMIT_MSGQUEUE, (int(sys.argv[1]), hard))
os.execv(sys.argv[2], sys.argv[2:])
"""


def mq_charge(maxmsg, msgsize):
    """What the kernel charges to RLIMIT_MSGQUEUE for a queue (mq_attr
    accounting in ipc/mqueue.c: maxmsg * sizeof(struct msg_msg) +
    min(maxmsg, MQ_PRIO_MAX) * sizeof(struct posix_msg_tree_node) +
    maxmsg * msgsize; both structs are 48 bytes on x86-64, as the limit
    refusing a queue one byte short of this shows)."""
    return maxmsg * (msgsize + 48) + min(maxmsg, 32768) * 48


def use(used, limit):
    if used is None or limit is None or not limit:
        return None
    return "%.2f%%" % (used * 100.0 / limit)


def limits(t):
    """The rows ls -g shows of this mount: LIMITS, and TOPICMEM where the
    mount has topics/ (its root tells -o topic_max_total)."""
    rows = list(LIMITS)
    try:
        os.getxattr(t.mnt, "user.ipcfs.option.topic_max_total")
        rows.append("TOPICMEM")
    except OSError:
        pass
    return rows + list(sysv_limits(t))


def sysv_limits(t):
    """{RESOURCE: (limit, None)} of the System V rows of this mount: the
    sysctls; what is used is the machine's (test_sysv_ipcctl.py)."""
    rows = {}
    for kind, res, name, field in SYSV_LIMITS:
        if os.path.isdir(os.path.join(t.mnt, "sysv", kind)):
            with open("/proc/sys/kernel/" + name) as f:
                rows[res] = (int(f.read().split()[field]), None)
    return rows


def check_limits(t, rows, want, what):
    """ls -g -J's rows against WANT, {RESOURCE: (limit, used)}; a None
    `used` is not checked (it is checked elsewhere)."""
    t.eq([r.get("resource") for r in rows], limits(t), "%s: rows" % what)
    for r in rows:
        t.eq(list(r), ["resource", "description", "limit", "used", "use%"],
             "%s: keys of %s" % (what, r.get("resource")))
        t.true(isinstance(r["description"], str) and r["description"],
               "%s: %s has a description" % (what, r["resource"]), repr(r))
    got = {r["resource"]: r for r in rows}
    for res, (limit, used) in want.items():
        r = got[res]
        if used is None:
            used = r["used"]
        t.eq((r["limit"], r["used"]), (limit, used),
             "%s: %s (limit, used)" % (what, res))
        u = use(used, limit)
        if u is None:
            t.true(r["use%"] in (None, ""), "%s: %s use%% unknown" % (
                what, res), repr(r["use%"]))
        else:
            t.eq(r["use%"], u, "%s: %s use%%" % (what, res))
    return got


def test_ls_global_limits(t):
    t.mkq("g1")
    t.native_create("g2", maxmsg=5, msgsize=100)
    t.mkobj("channels", "c1")
    t.mkobj("channels", "c2")
    t.write_file(t.path("channels", "c2", "capacity"), b"4096")
    caps = sum(int(t.read_file(t.path("channels", c, "capacity")))
               for c in ("c1", "c2"))
    want = {"MQUEUES": (sysctl("queues_max"), None),
            "MQMSGS": (sysctl("msg_max"), 5),
            "MQSIZE": (sysctl("msgsize_max"), 256),
            "MQBYTES": (mqbytes_limit(t.daemon.pid, os.getpid()),
                        mq_charge(3, 256) + mq_charge(5, 100)),
            "CHANMEM": (CHAN_MAX_TOTAL, caps)}
    if "TOPICMEM" in limits(t):
        want["TOPICMEM"] = (int(os.getxattr(
            t.mnt, "user.ipcfs.option.topic_max_total")), None)
    want.update(sysv_limits(t))
    check_limits(t, ls_json(t, "-g", key="limits"), want, "ls -g -J")
    # A caller whose own limit is the smaller: MQBYTES's limit is its.
    rc, out, err = t.run([sys.executable, "-c", RLIMITED, "100000",
                          t.ipcctl, "ls", "-g", "-J", t.mnt])
    t.eq((rc, err), (0, b""), "ls -g -J with RLIMIT_MSGQUEUE 100000")
    check_limits(t, json.loads(out)["limits"], dict(
        want, MQBYTES=(100000, want["MQBYTES"][1])), "ls -g -J with "
        "RLIMIT_MSGQUEUE 100000")
    # MQUEUES counts the queues of the tree where no mqueue file system is
    # mounted, else the entries of one (every queue of the system).
    r = alone(t, [t.ipcctl, "ls", "-g", "-J", t.mnt], keep=t.mnt)
    t.eq((r["rc"], r["err"]), (0, ""), "ls -g -J, no mqueue file system")
    want["MQUEUES"] = (sysctl("queues_max"), 2)
    check_limits(t, json.loads(r["out"])["limits"], want, "ls -g -J, no "
                 "mqueue file system")
    d = tempfile.mkdtemp(prefix="ipcfs-inspect-mq-")
    try:
        r = alone(t, [t.ipcctl, "ls", "-g", "-J", t.mnt], keep=t.mnt, mq=d)
    finally:
        os.rmdir(d)
    want["MQUEUES"] = (sysctl("queues_max"), None)
    t.eq((r["rc"], r["err"]), (0, ""), "ls -g -J, an mqueue file system")
    got = check_limits(t, json.loads(r["out"])["limits"], want, "ls -g -J, "
                       "an mqueue file system")
    lo, hi = sorted((r["before"], r["after"]))
    t.true(2 <= lo <= got["MQUEUES"]["used"] <= hi, "MQUEUES used: the "
           "entries of the mqueue file system", "%s, %d then %d entries" % (
               got["MQUEUES"]["used"], r["before"], r["after"]))
    rc, out, err = ipcctl(t, "ls", "-g", "-r", "-n", "-o", "RESOURCE,LIMIT",
                          t.mnt)
    t.eq((rc, out, err), (0, "".join(
        "%s %s\n" % (res, "" if want[res][0] is None else want[res][0])
        for res in limits(t)).encode(), b""), "ls -g -rn -o RESOURCE,LIMIT")
    rc, out, err = ipcctl(t, "ls", "-g", t.mnt)
    t.eq((rc, err), (0, b""), "ls -g")
    text = out.decode().splitlines()
    t.eq(text[0].split(), ["RESOURCE", "DESCRIPTION", "LIMIT", "USED",
                           "USE%"], "ls -g header")
    t.eq([ln.split()[0] for ln in text[1:]], limits(t), "ls -g rows")


def test_ls_global_limits_are_the_sysctls(t):
    """In an IPC namespace of its own whose fs/mqueue limits are not the
    defaults, ls -g shows those: queues_max, msg_max, msgsize_max (not
    msg_default, msgsize_default)."""
    sysctls = {"queues_max": 300, "msg_max": 20, "msgsize_max": 16384,
               "msg_default": 7, "msgsize_default": 1000}
    r = alone(t, [t.ipcctl, "ls", "-g", "-J", "-o", "RESOURCE,LIMIT",
                  t.mnt], keep=t.mnt, sysctls=sysctls)
    t.eq((r["rc"], r["err"]), (0, ""), "ls -g -J -o RESOURCE,LIMIT")
    got = {x["resource"]: x["limit"]
           for x in json.loads(r["out"])["limits"]}
    t.eq([got.get(k) for k in ("MQUEUES", "MQMSGS", "MQSIZE")],
         [300, 20, 16384], "limits of MQUEUES, MQMSGS, MQSIZE")


def test_ls_global_chan_max_total_of_the_mount(t):
    """CHANMEM's limit is the -o chan_max_total of the mount asked about."""
    with t.extra_tree("inspect3", chan_max_total=65536 * 3) as m:
        rc, out, err = ipcctl(t, "ls", "-g", "-J", m.mnt)
        t.eq((rc, err), (0, b""), "ls -g -J of the other mount")
        got = {r["resource"]: r for r in json.loads(out)["limits"]}
        t.eq((got["CHANMEM"]["limit"], got["CHANMEM"]["used"]),
             (65536 * 3, 0), "CHANMEM of a mount with chan_max_total=196608 "
             "and no channel")


# ---------------------------------------------------------------------------
# Verbs


def test_recv_timeout_takes_nothing(t):
    q = t.mkq("r")
    rc, out, err, el = timed(t, "recv", "--timeout", "1", q)
    t.eq((rc, out, err), (124, b"", b""), "recv --timeout 1 on an empty "
         "queue (status, out, err)")
    t.true(1.0 <= el < 2.0, "recv --timeout 1 took [1, 2) s", "%.2fs" % el)
    rc, out, err, el = timed(t, "recv", "--timeout", "0.3", q)
    t.eq((rc, out, err), (124, b"", b""), "recv --timeout 0.3")
    t.true(0.3 <= el < 1.3, "recv --timeout 0.3 took [0.3, 1.3) s",
           "%.2fs" % el)
    t.send("r", b"late")
    t.eq(t.count("r"), 1, "a message sent after the timeouts is there")
    rc, out, err, el = timed(t, "recv", "--timeout", "1", q)
    t.eq((rc, out, err), (0, b"late", b""), "recv --timeout 1 of a waiting "
         "message")
    t.true(el < 0.9, "it did not wait", "%.2fs" % el)
    t.eq(t.count("r"), 0, "recv took it")
    t.send("r", b"last")
    rc, out, err = ipcctl(t, "recv", q)
    t.eq((rc, out, err), (0, b"last", b""), "recv")
    for bad in ("abc", "-1", "1x", ""):
        rc, out, err = ipcctl(t, "recv", "--timeout", bad, q)
        t.eq((rc, out), (2, b""), "recv --timeout %r (status, out)" % bad)


@pytest.mark.parametrize("how", ["rmdir", "mq_unlink"])
def test_recv_ends_when_the_queue_is_removed(t, how):
    """recv waits in poll(2) on the queue's framed file, whose read ends
    with end-of-file when the queue goes, by rmdir or by another program's
    mq_unlink (the daemon watches the mqueue file system): so `while
    job=$(ipcctl recv q)` ends, as `read < data` does, at once."""
    q = t.mkq("gone")
    p = t.spawn([t.ipcctl, "recv", q])
    t.wait_blocked(p, "poll")
    t0 = time.monotonic()
    if how == "rmdir":
        t.rmq("gone")
    else:
        mq_unlink(t.posix("gone"))
    out, err = p.communicate(timeout=5)
    el = time.monotonic() - t0
    t.eq((p.returncode, out), (1, b""), "recv of a queue removed by %s: "
         "status 1, nothing printed" % how)
    t.eq(err, b"ipcctl: %s: Identifier removed\n" % q.encode(),
         "it says the queue was removed")
    t.true(el < 1.0, "within a second of the %s" % how, "%.2fs" % el)


def test_wait_timeout_takes_nothing(t):
    mksem(t, "z", 0)
    d = t.path("sem", "z")
    rc, out, err, el = timed(t, "wait", "--timeout", "1", d)
    t.eq((rc, out, err), (124, b"", b""), "wait --timeout 1 at 0 (status, "
         "out, err)")
    t.true(1.0 <= el < 2.0, "wait --timeout 1 took [1, 2) s", "%.2fs" % el)
    t.eq(value(t, "z"), 0, "value after the timeout")
    sem_post(t.posix("z"))
    value_kept(t, "z", 1, "a post after the timeout is not eaten")
    rc, out, err, el = timed(t, "wait", "--timeout", "1", d)
    t.eq((rc, out, err), (0, b"", b""), "wait --timeout 1 at 1")
    t.true(el < 0.9, "it did not wait", "%.2fs" % el)
    t.eq(value(t, "z"), 0, "it took the unit")
    for bad in ("abc", "-1", ""):
        rc, out, err = ipcctl(t, "wait", "--timeout", bad, d)
        t.eq((rc, out), (2, b""), "wait --timeout %r (status, out)" % bad)
    t.eq(value(t, "z"), 0, "value after bad timeouts")


def test_wait_takes_one_unit(t):
    mksem(t, "two", 2)
    d = t.path("sem", "two")
    rc, out, err = ipcctl(t, "wait", d)
    t.eq((rc, out, err), (0, b"", b""), "wait at 2")
    t.eq(value(t, "two"), 1, "value after one wait")
    # Blocked: a plain read of wait, so a waiter; a post wakes it.
    mksem(t, "blk", 0)
    p = t.spawn([t.ipcctl, "wait", t.path("sem", "blk")])
    shows(t, "sem", "blk", "waiters", lines("%d wait" % p.pid),
          "a blocked ipcctl wait is a waiter")
    sem_post(t.posix("blk"))
    rc, out, err = t.finish(p, 3)
    t.eq((rc, out, err), (0, b"", b""), "ipcctl wait woken by a post")
    value_kept(t, "blk", 0, "it took the unit")


def test_timed_wait_is_a_waiter_in_its_turn(t):
    """wait --timeout reads `wait` as any waiter does: listed in waiters
    with ipcctl's PID while it waits, served after those that waited
    before it, and at its timeout gone, having taken nothing."""
    mksem(t, "tw", 0)
    d = t.path("sem", "tw")
    old = start(t, t.path("sem", "tw", "wait"), "read")
    p = t.spawn([t.ipcctl, "wait", "--timeout", "20", d])
    shows(t, "sem", "tw", "waiters", lines("%d wait" % old.pid,
                                           "%d wait" % p.pid),
          "waiters: an older reader, then ipcctl wait --timeout")
    sem_post(t.posix("tw"))
    rc, out, err = t.finish(old, 3)
    t.eq(rc, 0, "the older waiter is served first")
    t.still_waiting(p, "ipcctl wait --timeout waits on, for the next unit")
    t.eq(info(t, "sem", "tw", "waiters"), lines("%d wait" % p.pid),
         "waiters: ipcctl wait --timeout")
    sem_post(t.posix("tw"))
    rc, out, err = t.finish(p, 3)
    t.eq((rc, out, err), (0, b"", b""), "ipcctl wait --timeout served")
    value_kept(t, "tw", 0, "it took the unit")
    # At its timeout: gone from waiters, nothing taken.
    p = t.spawn([t.ipcctl, "wait", "--timeout", "1", d])
    shows(t, "sem", "tw", "waiters", lines("%d wait" % p.pid),
          "waiters: ipcctl wait --timeout 1")
    rc, out, err = t.finish(p, 3)
    t.eq((rc, out, err), (124, b"", b""), "ipcctl wait --timeout 1 at 0")
    t.eq(info(t, "sem", "tw", "waiters"), b"", "waiters after the timeout")
    sem_post(t.posix("tw"))
    value_kept(t, "tw", 1, "a post after the timeout is not eaten")


def test_send_priority_range(t):
    """send -p takes 0 to MQ_PRIO_MAX - 1 (32767); anything else is bad
    usage (2), named in the message, and sends nothing: 4294967303 is not
    7."""
    q = t.mkq("pr")
    for bad in ("4294967303", "32768", "-1", "+1", "1x", "", " 1",
                "99999999999999999999"):
        rc, out, err = ipcctl(t, "send", "-p", bad, q, "msg")
        t.eq((rc, out), (2, b""), "send -p %r (status, out)" % bad)
        t.true(err.startswith(b"ipcctl: ") and
               (b"'%s'" % bad.encode()) in err, "send -p %r: a message "
               "naming it" % bad, repr(err))
    t.eq(t.count("pr"), 0, "nothing sent")
    for prio in ("0", "32767"):
        rc, out, err = ipcctl(t, "send", "-p", prio, q, "p" + prio)
        t.eq((rc, out, err), (0, b"", b""), "send -p %s" % prio)
    t.eq(t.drain("pr"), [(b"p32767", 32767), (b"p0", 0)],
         "the messages, by priority")


def test_post(t):
    mksem(t, "p", 0)
    d = t.path("sem", "p")
    rc, out, err = ipcctl(t, "post", d, "3")
    t.eq((rc, out, err), (0, b"", b""), "post 3")
    t.eq(value(t, "p"), 3, "value after post 3")
    rc, out, err = ipcctl(t, "post", d)
    t.eq((rc, out, err), (0, b"", b""), "post")
    t.eq(value(t, "p"), 4, "value after post")
    for bad in ("x", "-1", "3x"):
        rc, out, err = ipcctl(t, "post", d, bad)
        t.eq((rc, out), (1, b""), "post %s (status, out)" % bad)
        t.true(err.startswith(b"ipcctl: " + d.encode()) and
               err.endswith(b": Invalid argument\n") and
               err.count(b"\n") == 1,
               "post %s: the path and Invalid argument" % bad, repr(err))
    t.eq(value(t, "p"), 4, "value after refused posts")


def test_hold_runs_cmd_holding_a_unit(t):
    mksem(t, "l", 1)
    d = t.path("sem", "l")
    # Inside: the value one less, and holders naming CMD itself, the
    # process that opened hold and then became the shell; not ipcctl.
    p = t.spawn([t.ipcctl, "hold", d, "--", "sh", "-c",
                 'cat "$1"; cat "$2"; echo $$; exit 3', "sh",
                 os.path.join(d, "value"), os.path.join(d, "holders")])
    rc, out, err = t.finish(p, 5)
    got = out.split(b"\n")
    t.true(rc == 3 and err == b"" and len(got) == 4 and got[0] == b"0" and
           got[1] == got[2] and got[1].isdigit() and
           int(got[1]) != p.pid and got[3] == b"",
           "hold -- sh -c 'cat value; cat holders; echo $$; exit 3': value "
           "0, then the shell's PID twice (not ipcctl's, %d), status 3" %
           p.pid, "status %s, out %r, err %r" % (rc, out, err))
    value_soon(t, "l", 1, "value once CMD is done")
    t.eq(info(t, "sem", "l", "holders"), b"", "holders once CMD is done")
    mksem(t, "l2", 2)
    rc, out, err = ipcctl(t, "hold", t.path("sem", "l2"), "--", "cat",
                          t.path("sem", "l2", "value"))
    t.eq((rc, out, err), (0, b"1\n", b""), "hold -- cat value at 2")
    value_soon(t, "l2", 2, "value once cat is done")


def sleeper(ppid):
    """The PID of the `sleep` child of PPID (ipcctl hold's CMD), or None."""
    for pid in children_of(ppid):
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip() == "sleep":
                    return pid
        except OSError:
            pass
    return None


def test_hold_gives_back_when_cmd_is_killed(t):
    mksem(t, "k", 1)
    p = t.spawn([t.ipcctl, "hold", t.path("sem", "k"), "--", "sleep", "60"])
    pid = wait_until(lambda: sleeper(p.pid), 3)
    t.true(pid, "ipcctl hold runs sleep 60")
    value_soon(t, "k", 0, "value while sleep holds")
    t.eq(info(t, "sem", "k", "holders"), lines(pid),
         "holders: sleep, which opened hold before it became sleep")
    os.kill(pid, signal.SIGKILL)
    value_soon(t, "k", 1, "value once sleep is killed")
    t.eq(t.wait_exit(p, 2), 137, "ipcctl's status (128 + SIGKILL)")
    t.eq(info(t, "sem", "k", "holders"), b"", "holders once it is over")


def test_hold_unit_stays_cmds_when_ipcctl_is_killed(t):
    """The unit, and the PID holders names, are CMD's: killing ipcctl
    leaves both with CMD, which gives the unit back when it ends."""
    mksem(t, "ik", 1)
    p = t.spawn([t.ipcctl, "hold", t.path("sem", "ik"), "--", "sleep", "60"])
    pid = wait_until(lambda: sleeper(p.pid), 3)
    t.true(pid, "ipcctl hold runs sleep 60")
    shows(t, "sem", "ik", "holders", lines(pid), "holders: sleep")
    t.kill9(p, "ipcctl hold")
    try:
        t.settle(lambda: info(t, "sem", "ik", "holders"), lines(pid),
                 "holders once ipcctl is killed: still sleep", 0.3)
        t.eq(value(t, "ik"), 0, "value once ipcctl is killed: still held")
    finally:
        os.kill(pid, signal.SIGKILL)
    shows(t, "sem", "ik", "holders", b"", "holders once sleep is killed")
    value_soon(t, "ik", 1, "value once sleep is killed")


def test_hold_timeout_takes_nothing(t):
    mksem(t, "t0", 0)
    d = t.path("sem", "t0")
    rc, out, err, el = timed(t, "hold", "--timeout", "1", d, "--", "sh",
                             "-c", "echo ran")
    t.eq((rc, out, err), (124, b"", b""), "hold --timeout 1 at 0 (status, "
         "out, err)")
    t.true(1.0 <= el < 2.0, "hold --timeout 1 took [1, 2) s", "%.2fs" % el)
    t.eq(value(t, "t0"), 0, "value after the timeout")
    t.eq(info(t, "sem", "t0", "waiters"), b"", "no waiter left")
    sem_post(t.posix("t0"))
    value_kept(t, "t0", 1, "a post after the timeout is not eaten")
    rc, out, err, el = timed(t, "hold", "--timeout", "1", d, "--", "true")
    t.eq((rc, out, err), (0, b"", b""), "hold --timeout 1 at 1 -- true")
    t.true(el < 0.9, "it did not wait", "%.2fs" % el)
    value_soon(t, "t0", 1, "the unit back after true")


# Runs argv[2:] with SIGALRM blocked (argv[1] "blocked") or ignored
# ("ignored"), as a parent may leave it: exec keeps both.
SIGALRM_AS = r"""
import os, signal, sys
if sys.argv[1] == "blocked":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
else:
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
os.execv(sys.argv[2], sys.argv[2:])
"""

SIGALRM_BIT = 1 << (signal.SIGALRM - 1)


def sig_masks(text):
    """{"SigBlk": mask, "SigIgn": mask} of /proc/PID/status TEXT."""
    return {k: int(v, 16) for k, v in re.findall(
        r"^(SigBlk|SigIgn):\s*([0-9a-f]+)$", text, re.M)}


@pytest.mark.parametrize("how", ["blocked", "ignored"])
def test_timeouts_whatever_sigalrm_was_given(t, how):
    """hold --timeout and wait --timeout end at their timeout even when
    ipcctl was given SIGALRM blocked or ignored, having taken nothing; and
    CMD of hold starts with SIGALRM as ipcctl was given it."""
    mksem(t, "al", 0)
    d = t.path("sem", "al")
    for verb, rest in (("hold", ["--", "sh", "-c", "echo ran"]),
                       ("wait", [])):
        t0 = time.monotonic()
        rc, out, err = t.run([sys.executable, "-c", SIGALRM_AS, how,
                              t.ipcctl, verb, "--timeout", "1", d] + rest,
                             timeout=5)
        el = time.monotonic() - t0
        t.eq((rc, out, err), (124, b"", b""), "%s --timeout 1 at 0, SIGALRM "
             "%s (status, out, err)" % (verb, how))
        t.true(1.0 <= el < 2.5, "%s --timeout 1, SIGALRM %s, took [1, 2.5) "
               "s" % (verb, how), "%.2fs" % el)
        t.eq(info(t, "sem", "al", "waiters"), b"", "no waiter left after %s"
             % verb)
    sem_post(t.posix("al"))
    value_kept(t, "al", 1, "a post after the timeouts is not eaten")
    rc, out, err = t.run([sys.executable, "-c", SIGALRM_AS, how, t.ipcctl,
                          "hold", "--timeout", "1", d, "--", "cat",
                          "/proc/self/status"])
    t.eq((rc, err), (0, b""), "hold --timeout 1 at 1 -- cat /proc/self/status"
         ", SIGALRM %s" % how)
    masks = sig_masks(out.decode())
    want = {"SigBlk": SIGALRM_BIT * (how == "blocked"),
            "SigIgn": SIGALRM_BIT * (how == "ignored")}
    t.eq({k: masks.get(k, 0) & SIGALRM_BIT for k in want}, want,
         "CMD's SIGALRM: %s, as ipcctl was given it" % how)
    value_soon(t, "al", 1, "the unit back after cat")


def test_blocked_hold_is_a_waiter(t):
    mksem(t, "bw", 0)
    p = t.spawn([t.ipcctl, "hold", t.path("sem", "bw"), "--", "sh", "-c",
                 "echo got"])
    # The waiter is ipcctl's child, which will become CMD.
    child = wait_until(lambda: children_of(p.pid), 3)
    t.eq(len(child or []), 1, "ipcctl hold has one child")
    shows(t, "sem", "bw", "waiters", lines("%d hold" % child[0]),
          "a blocked ipcctl hold is a waiter: its child")
    sem_post(t.posix("bw"))
    rc, out, err = t.finish(p, 3)
    t.eq((rc, out, err), (0, b"got\n", b""), "ipcctl hold once posted")
    value_soon(t, "bw", 1, "the unit back")


def test_hold_exec_failures(t):
    mksem(t, "x", 1)
    d = t.path("sem", "x")
    rc, out, err = ipcctl(t, "hold", d, "--", "/nonexistent/cmd")
    t.eq((rc, out), (127, b""), "hold -- a missing command (status, out)")
    t.true(b"/nonexistent/cmd" in err, "the message names it", repr(err))
    value_soon(t, "x", 1, "the unit back after 127")
    rc, out, err = ipcctl(t, "hold", d, "--", "/etc/passwd")
    t.eq((rc, out), (126, b""), "hold -- a file that is no program")
    value_soon(t, "x", 1, "the unit back after 126")
    rc, out, err = ipcctl(t, "hold", d, "--", "sh", "-c", "kill -TERM $$")
    t.eq(rc, 128 + signal.SIGTERM, "hold -- a command killed by SIGTERM")
    value_soon(t, "x", 1, "the unit back after the signal")


def test_help_usage_and_errors(t):
    rc, out, err = ipcctl(t, "--help")
    t.eq((rc, err), (0, b""), "ipcctl --help")
    t.true(b"usage" in out.lower() and all(v.encode() in out for v in VERBS),
           "ipcctl --help prints usage, every verb", repr(out[:300]))
    rc, out, err = ipcctl(t, "--version")
    t.true(rc == 0 and err == b"" and re.search(rb"\d", out),
           "ipcctl --version", "%s %r %r" % (rc, out, err))
    for v in VERBS:
        for h in ("--help", "-h"):
            rc, out, err = ipcctl(t, v, h)
            t.eq((rc, err), (0, b""), "ipcctl %s %s" % (v, h))
            t.true(b"usage" in out.lower() and v.encode() in out,
                   "ipcctl %s %s prints its usage on stdout" % (v, h),
                   repr(out[:200]))
        rc, out, err = ipcctl(t, v, "--no-such-flag", t.mnt)
        t.eq((rc, out), (2, b""), "ipcctl %s --no-such-flag (status, out)"
             % v)
        t.true(b"--no-such-flag" in err, "ipcctl %s --no-such-flag: a "
               "message naming it" % v, repr(err))
    for args in (["no-such-verb"], [], ["wait"], ["post"], ["recv"],
                 ["hold", t.path("sem", "nope")],
                 ["hold", t.path("sem", "nope"), "--"],
                 ["ls", t.mnt, t.mnt]):
        rc, out, err = ipcctl(t, *args)
        t.eq((rc, out), (2, b""), "ipcctl %s (status, out)" % args)
        t.true(err != b"", "ipcctl %s: a message" % args)


def test_missing_paths(t):
    cases = [(t.qpath("nope"), ["recv"], []),
             (t.qpath("nope"), ["send"], ["msg"]),
             (t.path("sem", "nope"), ["wait"], []),
             (t.path("sem", "nope"), ["wait", "--timeout", "1"], []),
             (t.path("sem", "nope"), ["post"], ["2"]),
             (t.path("sem", "nope"), ["hold"], ["--", "sh", "-c",
                                                "echo ran"]),
             (os.path.join(t.mnt, "nope"), ["ls"], []),
             (os.path.join(t.mnt, "nope"), ["ls", "-g"], [])]
    for path, verb, rest in cases:
        rc, out, err = ipcctl(t, *(verb + [path] + rest))
        what = "ipcctl %s %s" % (" ".join(verb), path)
        t.eq((rc, out), (1, b""), "%s (status, out)" % what)
        t.true(err.startswith(b"ipcctl: " + path.encode()) and
               err.endswith(b": No such file or directory\n") and
               err.count(b"\n") == 1,
               "%s: ipcctl: PATH: No such file or directory" % what,
               repr(err))

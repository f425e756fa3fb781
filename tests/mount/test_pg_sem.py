# SPDX-License-Identifier: GPL-2.0-or-later
"""sem/ on the PostgreSQL engine (issue 12, points 1, 2, 5): semaphores
across two mounts of one database, A (the file's tree) and B
(t.other_mount(), same prefix, its daemon under another host name).

A semaphore made on A is B's too; post on one wakes a wait on the other
within 1 s; O_NONBLOCK, garbage and overflow refused as locally; a unit
held through A's `hold` is seen on B, and a B holder parked in open gets
it when the holding shell (`exec 9<hold`) is killed; `holders` shows PID
for this mount's holders and PID@HOST for the other's; kill -9 of the
holding daemon gives the unit to B's parked waiter within 2 s; an
interrupted wait takes nothing; waiters; the native API
(ipcfs.sem_post / sem_trywait / sem_value from psql).
"""

import errno
import os
import signal
import stat
import subprocess
import time

from pg import PgHarness
from pgtest import RD_NB, at, discard_killed, lit, ls, posix, read_attr, \
    sqlstate_of
from procs import wait_until

H = PgHarness("pgsem", sem_value=0)
FILES = ["hold", "holders", "post", "value", "wait", "waiters"]
HOST_B = "ipcfs-host-b"
SEM_VALUE_MAX = 2147483647

# Holds a unit through argv[1] (`exec 9<hold`, as a user's shell does),
# says "held", and stays until killed.
HOLD_SH = 'exec 9<"$1" && echo held && exec sleep 60'

# Opens argv[1] (a hold, parked until a unit comes), says "held" and how
# long the open took, and stays until its stdin ends.
HOLD_PY = r'''
import os, sys, time
t0 = time.monotonic()
fd = os.open(sys.argv[1], os.O_RDONLY)
print("held %.3f" % (time.monotonic() - t0), flush=True)
sys.stdin.readline()
'''


def s(m, name, *rest):
    return at(m, "sem", name, *rest)


def value(t, m, name):
    return read_attr(t, m, "sem", name, "value")


def post(t, m, name, data=b"\n"):
    return t.write_file(s(m, name, "post"), data)


def value_soon(t, m, name, want, what, timeout=2.0):
    got = t.wait_value(lambda: value(t, m, name), want, timeout, 0.01)
    t.eq(got, want, "%s (within %g s)" % (what, timeout))


def holder(t, m, name):
    """A shell holding a unit of NAME through mount M's hold."""
    p = t.spawn(["sh", "-c", HOLD_SH, "sh", s(m, name, "hold")])
    t.eq(t.read_until(p, b"held\n", 5), b"held\n", "the holder on %s" % (
        "A" if m is t else "B"))
    return p


def test_cross_mount_visibility(t):
    b = t.other_mount()
    t.mkobj("sem", "vis", 0o640)
    t.eq(ls(t, b, "sem"), ["vis"], "B lists the semaphore made on A")
    t.eq(ls(t, b, "sem/vis"), FILES, "the files of B's sem/vis")
    with t.within(5, "stat on B"):
        st = os.stat(s(b, "vis"))
    t.eq((oct(stat.S_IMODE(st.st_mode) & 0o666), st.st_uid, st.st_gid),
         (oct(0o640), os.getuid(), os.getgid()), "mode and owner on B")
    t.eq(value(t, b, "vis"), "0\n", "B's value (-o sem_value=0)")
    t.eq(post(t, t, "vis", b"3"), 1, "post 3 on A")
    t.eq(value(t, b, "vis"), "3\n", "B's value after A's post")
    t.eq(t.run(["cat", s(b, "vis", "wait")]), (0, b"", b""), "cat wait on B")
    t.eq(value(t, t, "vis"), "2\n", "A's value after B's wait")
    t.eq(read_attr(t, b, "sem", "vis", "holders"), "", "B's holders")
    with t.within(5, "rmdir on B"):
        os.rmdir(s(b, "vis"))
    t.made["sem"].discard("vis")
    t.eq(ls(t, t, "sem"), [], "A's sem/ after rmdir on B")


def test_psql_native_api(t):
    b = t.other_mount()
    t.mkobj("sem", "nat")
    name = lit(posix(t, "nat"))
    w = t.spawn(["cat", s(b, "nat", "wait")])
    t.wait_blocked(w, "read")
    t0 = time.monotonic()
    t.eq(t.pg.psql("select ipcfs.sem_post(%s, 1)" % name), "1",
         "ipcfs.sem_post: the new value")
    t.eq(t.finish(w, 3), (0, b"", b""), "B's cat wait, woken by SQL")
    t.true(time.monotonic() - t0 < 1.0, "woken within 1 s")
    t.eq(t.pg.psql("select ipcfs.sem_value(%s)" % name), "0",
         "ipcfs.sem_value after the wait")
    t.eq(t.pg.psql("select ipcfs.sem_trywait(%s)" % name), "f",
         "ipcfs.sem_trywait at 0")
    post(t, t, "nat", b"2")
    t.eq(t.pg.psql("select ipcfs.sem_trywait(%s)" % name), "t",
         "ipcfs.sem_trywait at 2")
    t.eq(value(t, b, "nat"), "1\n", "B's value")
    sqlstate_of(t, "select ipcfs.sem_post(%s, %d)" % (name, SEM_VALUE_MAX),
                "IP075", "ipcfs.sem_post past SEM_VALUE_MAX")
    sqlstate_of(t, "select ipcfs.sem_post(%s, -1)" % name, "IP022",
                "ipcfs.sem_post of -1")
    sqlstate_of(t, "select ipcfs.sem_value(%s)" % lit(posix(t, "nosuch")),
                "IP002", "ipcfs.sem_value of no semaphore")
    t.eq(value(t, t, "nat"), "1\n", "A's value: nothing posted")


def test_post_and_wait_across_mounts(t):
    b = t.other_mount()
    t.mkobj("sem", "pw")
    with t.opened(s(b, "pw", "wait"), RD_NB) as fd:
        t.raises(errno.EAGAIN, os.read, fd, 1, what="O_NONBLOCK wait on B "
                 "at value 0")
    ws = [t.spawn(["cat", s(m, "pw", "wait")]) for m in (b, t)]
    for p in ws:
        t.wait_blocked(p, "read")
    t.eq(read_attr(t, b, "sem", "pw", "waiters"), "%d wait\n" % ws[0].pid,
         "B's waiters")
    t.eq(read_attr(t, t, "sem", "pw", "waiters"), "%d wait\n" % ws[1].pid,
         "A's waiters")
    t0 = time.monotonic()
    t.eq(post(t, t, "pw"), 1, "echo > post on A")
    wait_until(lambda: any(p.poll() is not None for p in ws), 1.0, 0.005)
    el = time.monotonic() - t0
    done = [p for p in ws if p.poll() is not None]
    t.eq(len(done), 1, "waiters woken by one post on A (after %.2f s)" % el)
    t.true(el < 1.0, "within 1 s", "%.2f s" % el)
    t.still_waiting([p for p in ws if p not in done][0],
                    "the other waiter still waits", 0.3)
    t.eq(post(t, b, "pw"), 1, "echo > post on B")
    for p in ws:
        t.eq(t.finish(p, 2), (0, b"", b""), "waiter `%s`" % p.what)
    value_soon(t, t, "pw", "0\n", "value after two posts and two waits")
    for bad in (b"abc", b"-1\n", b"3x\n", b"1.5\n"):
        t.raises(errno.EINVAL, post, t, b, "pw", bad,
                 what="write %r to B's post" % bad)
    t.eq(post(t, b, "pw", b"%d\n" % SEM_VALUE_MAX), 11, "post of "
         "SEM_VALUE_MAX on B")
    t.raises(errno.EOVERFLOW, post, t, t, "pw", b"\n",
             what="post on A past SEM_VALUE_MAX")
    t.eq(value(t, t, "pw"), "%d\n" % SEM_VALUE_MAX, "value: nothing posted")


def test_hold_across_mounts_and_killed_shell(t):
    """A shell on A holds the one unit (`exec 9<hold`); B sees value 0 and
    a holder of B waits in open; the shell is killed -9: B's holder gets
    the unit within 1 s; its close gives it back."""
    b = t.other_mount()
    t.mkobj("sem", "lock")
    post(t, t, "lock")
    h = holder(t, t, "lock")
    t.eq(value(t, b, "lock"), "0\n", "B's value while A's shell holds")
    w = t.py(HOLD_PY, s(b, "lock", "hold"), stdin=subprocess.PIPE)
    t.wait_blocked(w, "openat")
    t.eq(read_attr(t, b, "sem", "lock", "waiters"), "%d hold\n" % w.pid,
         "B's waiters")
    t.still_waiting(w, "B's holder waits while A's shell holds", 0.3)
    t0 = time.monotonic()
    t.kill9(h, "the holding shell")
    got = t.read_until(w, b"\n", 3)
    t.true(got.startswith(b"held"), "B's holder gets the unit",
           repr(got))
    t.true(time.monotonic() - t0 < 1.0, "within 1 s of the kill",
           "%.2f s" % (time.monotonic() - t0))
    t.eq(value(t, t, "lock"), "0\n", "A's value while B holds")
    t.eq(t.finish(w, 3, input=b"\n")[0], 0, "B's holder, done")
    value_soon(t, t, "lock", "1\n", "A's value once B's holder is gone")


def test_holders_show_pid_at_host_for_the_other_mount(t):
    b = t.other_mount(hostname=HOST_B)
    t.mkobj("sem", "who")
    post(t, t, "who", b"3")
    hb = holder(t, b, "who")
    ha = holder(t, t, "who")
    t.eq(read_attr(t, t, "sem", "who", "holders"),
         "%d@%s\n%d\n" % (hb.pid, HOST_B, ha.pid),
         "A's holders: B's holder as PID@HOST, its own as PID, oldest first")
    t.eq(read_attr(t, b, "sem", "who", "holders"),
         "%d\n%d@%s\n" % (hb.pid, ha.pid, os.uname().nodename),
         "B's holders")
    t.eq(value(t, b, "who"), "1\n", "value with two held")
    name = lit(posix(t, "who"))
    got = t.pg.psql("select ipcfs.sem_holders(%s, "
                    "'00000000-0000-0000-0000-000000000000')" % name)
    t.eq(got.split("\n"), ["%d@%s" % (hb.pid, HOST_B),
                           "%d@%s" % (ha.pid, os.uname().nodename)],
         "ipcfs.sem_holders for a program without a mount")
    t.kill(hb)
    value_soon(t, t, "who", "2\n", "value once B's holder is killed")
    t.eq(read_attr(t, t, "sem", "who", "holders"), "%d\n" % ha.pid,
         "A's holders then")


def test_killed_daemon_gives_its_units_to_the_other_mount(t):
    """B's daemon is killed -9 while a shell holds a unit through it: A's
    holder, parked in open, gets the unit within 2 s (B's session ended,
    a live mount reclaims its holds)."""
    b = t.other_mount(hostname=HOST_B)
    t.mkobj("sem", "crash")
    post(t, t, "crash")
    h = holder(t, b, "crash")
    t.eq(read_attr(t, t, "sem", "crash", "holders"),
         "%d@%s\n" % (h.pid, HOST_B), "A's holders")
    w = t.py(HOLD_PY, s(t, "crash", "hold"), stdin=subprocess.PIPE)
    t.wait_blocked(w, "openat")
    t0 = time.monotonic()
    os.kill(b.daemon.pid, signal.SIGKILL)
    try:
        got = t.read_until(w, b"\n", 5)
        el = time.monotonic() - t0
        t.true(got.startswith(b"held"), "A's parked holder gets the unit "
               "of B's killed daemon", "%r after %.2f s" % (got, el))
        t.true(el < 2.0, "within 2 s of the kill", "%.2f s" % el)
        t.eq(read_attr(t, t, "sem", "crash", "holders"), "%d\n" % w.pid,
             "A's holders: only its own")
        t.eq(value(t, t, "crash"), "0\n", "value: the one unit, held by A")
    finally:
        t.kill(h)
        discard_killed(t, b)
    t.finish(w, 3, input=b"\n")
    value_soon(t, t, "crash", "1\n", "value once A's holder is done")


def test_interrupted_wait_takes_nothing(t):
    b = t.other_mount()
    t.mkobj("sem", "int")
    for f in ("wait", "hold"):
        argv = ["cat", s(b, "int", f)] if f == "wait" else \
            ["sh", "-c", 'exec 9<"$1"', "sh", s(b, "int", f)]
        rc, out, err = t.run_interrupted(argv, "timeout -s INT 1 on B's " + f)
        t.eq((rc, out), (124, b""), "timeout -s INT 1 on %s (status, out)"
             % f)
        post(t, t, "int")
        t.eq(value(t, b, "int"), "1\n", "%s: B's value right after A's post"
             % f)
        time.sleep(0.3)
        t.eq(value(t, b, "int"), "1\n", "%s: and 0.3 s later" % f)
        t.eq(t.run(["cat", s(b, "int", "wait")]), (0, b"", b""),
             "%s: the next cat wait on B" % f)
        t.eq(value(t, t, "int"), "0\n", "%s: value after" % f)


def test_rmdir_on_a_ends_waits_on_b(t):
    b = t.other_mount()
    t.mkobj("sem", "rm")
    w = t.py(r'''
import errno, os, sys
try:
    fd = os.open(sys.argv[1], os.O_RDONLY)
    os.read(fd, 1)
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno), flush=True)
    sys.exit(3)
''', s(b, "rm", "wait"))
    t.wait_blocked(w, "read")
    t0 = time.monotonic()
    t.rmobj("sem", "rm")
    t.eq(t.finish(w, 3)[:2], (3, b"EIDRM\n"), "B's waiter after rmdir on A")
    t.true(time.monotonic() - t0 < 2.0, "within 2 s")

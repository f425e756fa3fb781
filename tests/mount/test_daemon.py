# SPDX-License-Identifier: GPL-2.0-or-later
"""The daemon itself: start-up errors refused before anything is mounted;
two mounts with two prefixes see only their own objects; another program's
mq_unlink / sem_unlink wakes waiters in the tree, and a re-made queue is the
one a fresh open reaches; poll on sem/NAME/wait; the thread count stays
bounded under many waiters; and, last, kill -9 of the daemon: blocked
clients end with an error, the dead mount gives ENOTCONN, and a new daemon
on the same prefix finds every queue, segment and semaphore with its
contents (channels, which live in the daemon, are gone).

After each test the harness removes every object the tree shows, whatever
made it (native calls, extra trees on the same prefix), and at the end
unlinks what is left under this file's prefix. The killed daemon is
replaced by a new one (self.daemon), so the harness's final "exits by
itself after unmount" check is about the remounted daemon.
"""

import contextlib
import errno
import os
import select
import signal
import tempfile
import time

import pytest

from harness import Harness
from mount import SANITIZER_MARKERS, rmdir_patiently
from native import (SHM_DIR, mq_close, mq_open, mq_unlink, sem_create,
                    sem_post, sem_unlink, sem_value)
from procs import WRITER, fmt


class DaemonHarness(Harness):
    def ls(self, kind, root=None):
        with self.within(5, "ls %s" % kind):
            return sorted(os.listdir(os.path.join(root or self.mnt, kind)))

    def sem_attr(self, name):
        return self.read_file(self.path("sem", name, "value")).decode()


# sem_value=0: semaphores made by mkdir start empty, so waits block.
H = DaemonHarness("daemon", mq_maxmsg=4, mq_msgsize=64, sem_value=0)


# ---------------------------------------------------------------------------
# 5. Start-up errors


def test_startup_errors_refused(t):
    pfx = "prefix=" + t.prefix + "bad_"
    cases = [
        ("prefix=a/b", 1, ["prefix"]),
        (pfx + ",chan_capacity=100", 1, ["chan_capacity"]),
        (pfx + ",chan_capacity=1000000,chan_max_total=65536", None, []),
        (pfx + ",sem_value=-1", 1, ["sem_value"]),
        (pfx + ",bogus=1", None, ["bogus"]),
    ]
    for opts, want_rc, words in cases:
        rc, out, err, mounted = t.start_refused(opts)
        text = out + err
        t.note("-o %s: exit %s: %s" % (opts, rc, text.strip()[:200]))
        ok = (rc == want_rc) if want_rc is not None else rc not in (0, None)
        t.check("-o %s: exit status %s" % (
            opts, want_rc if want_rc is not None else "non-zero"), ok,
            "exit %s, output %s" % (rc, fmt(text)))
        t.check("-o %s: nothing mounted" % opts, not mounted)
        t.check("-o %s: a message%s" % (
            opts, " naming %s" % "/".join(words) if words else ""),
            text.strip() and all(w in text for w in words), fmt(text))
        bad = [m for m in SANITIZER_MARKERS if m in text]
        t.check("-o %s: no sanitizer report" % opts, not bad,
                text[text.find(bad[0]) - 100:][:600] if bad else "")
    rc, out, err = t.run([t.ipcfs, "--version"], timeout=5)
    t.check("--version: exit 0 and a line with ipcfs",
            rc == 0 and any("ipcfs" in line for line in
                            out.decode(errors="replace").splitlines()),
            "exit %s, stdout %s, stderr %s" % (rc, fmt(out), fmt(err)))
    rc, out, err = t.run([t.ipcfs, "--help"], timeout=5)
    text = (out + err).decode(errors="replace")
    missing = [w for w in ("prefix", "mq_maxmsg", "chan_capacity",
                           "sem_value") if w not in text]
    t.check("--help: exit 0 and mentions prefix, mq_maxmsg, chan_capacity, "
            "sem_value", rc == 0 and not missing,
            "exit %s, missing %s" % (rc, missing))
    t.true(not any(n.startswith(t.prefix + "bad_")
                   for n in os.listdir(SHM_DIR)),
           "nothing made by the refused daemons")


def mounted_in_proc_mounts(path):
    """Whether /proc/mounts has an entry for PATH (absolute, no spaces)."""
    with open("/proc/mounts") as f:
        return any(line.split()[1] == path for line in f)


def test_mountpoint_not_a_directory_refused(t):
    """A regular file as the mount point: exit 1, a message naming it and
    "Not a directory", nothing mounted (FUSE would mount on a file: a tree
    answering EIO). With -f and without."""
    for foreground in (True, False):
        how = "ipcfs%s FILE" % (" -f" if foreground else "")
        fd, f = tempfile.mkstemp(prefix="ipcfs-notdir-")
        os.close(fd)
        f = os.path.realpath(f)
        logs = [tempfile.TemporaryFile(), tempfile.TemporaryFile()]
        mounted = False
        try:
            argv = [t.ipcfs] + ["-f"] * foreground + [
                "-o", "prefix=%snotdir_" % t.prefix, f]
            p = t.spawn(argv, stdout=logs[0], stderr=logs[1])
            end = time.monotonic() + 5
            while p.poll() is None and time.monotonic() < end:
                mounted = mounted or mounted_in_proc_mounts(f)
                time.sleep(0.02)
            time.sleep(0.2)     # a daemonized child may mount a moment later
            mounted = mounted or mounted_in_proc_mounts(f)
            rc = p.poll()
            if rc is None:
                t.kill(p)
            else:
                t.finish(p, 2)
            out = []
            for lf in logs:
                lf.seek(0)
                out.append(lf.read().decode(errors="replace"))
            t.note("%s: exit %s, stderr %s" % (how, rc, out[1].strip()[:200]))
            t.check("%s: exits 1" % how, rc == 1,
                    "exit %s (None: still running after 5 s)" % rc)
            t.check("%s: nothing mounted (/proc/mounts)" % how, not mounted)
            t.check("%s: stderr names the path and says Not a directory" % how,
                    f in out[1] and "Not a directory" in out[1], fmt(out[1]))
        finally:
            if mounted_in_proc_mounts(f):
                t.unmount_dir(f)
            for lf in logs:
                lf.close()
            with contextlib.suppress(OSError):
                os.unlink(f)


# ---------------------------------------------------------------------------
# 4. Two mounts, two prefixes


def test_two_mounts_two_prefixes(t):
    pfx = {"A": t.prefix + "A_", "B": t.prefix + "B_"}
    kinds = ("queues", "shm", "sem", "channels")
    with t.extra_tree("daemon2", prefix=pfx["A"]) as a, \
            t.extra_tree("daemon2", prefix=pfx["B"]) as b:
        roots = {"A": a.mnt, "B": b.mnt}
        # Through each tree: "inA" in A, "inB" in B, of every kind.
        for x, root in roots.items():
            for kind in kinds:
                with t.within(5, "mkdir %s/%s/in%s" % (x, kind, x)):
                    os.mkdir(os.path.join(root, kind, "in" + x), 0o600)
        # Natively: "natA" and "natB" queues, segments and semaphores.
        for x, p in pfx.items():
            mq_close(mq_open("/%snat%s" % (p, x), os.O_RDWR | os.O_CREAT |
                             os.O_EXCL, 0o600, 4, 64))
            with open(os.path.join(SHM_DIR, "%snat%s" % (p, x)), "xb") as f:
                f.write(b"x")
            sem_create("/%snat%s" % (p, x), 0)
        for x, y in (("A", "B"), ("B", "A")):
            for kind in kinds:
                names = t.ls(kind, roots[x])
                want = {"in" + x} | ({"nat" + x} if kind != "channels"
                                     else set())
                t.check("%s: %s/ lists its own %s" % (x, kind, sorted(want)),
                        want <= set(names), repr(names))
                t.check("%s: %s/ lists nothing of %s" % (x, kind, y),
                        not {"in" + y, "nat" + y} & set(names) and
                        not any(n.startswith(("A_", "B_")) for n in names),
                        repr(names))
        # The main tree (prefix PFX) sees A_... and B_... objects; not the
        # channels, which live in their daemons.
        for kind in ("queues", "shm", "sem"):
            names = t.ls(kind)
            want = {"A_inA", "A_natA", "B_inB", "B_natB"}
            t.check("the main tree's %s/ lists %s" % (kind, sorted(want)),
                    want <= set(names), repr(names))
        names = t.ls("channels")
        t.check("the main tree's channels/ lists neither A's nor B's",
                not any(n.startswith(("A_", "B_")) for n in names),
                repr(names))
        for x, root in roots.items():
            with t.within(5, "rmdir %s/channels/in%s" % (x, x)):
                os.rmdir(os.path.join(root, "channels", "in" + x))


# ---------------------------------------------------------------------------
# 3. Another program's unlink wakes waiters


def ended_within(t, p, seconds, what):
    t0 = time.monotonic()
    rc = t.wait_exit(p, seconds)
    el = time.monotonic() - t0
    t.true(rc is not None, "%s ends within %g s" % (what, seconds),
           "still running after %.2fs %s" % (el, t.proc_state(p.pid)))
    return t.finish(p, 2)


def test_native_mq_unlink_wakes_reader_eof(t):
    t.mkq("u")
    p = t.spawn(["cat", t.qpath("u", "data")])
    t.wait_blocked(p, "read")
    mq_unlink(t.posix("u"))
    rc, out, err = ended_within(t, p, 1.0, "blocked cat data after mq_unlink")
    t.eq((rc, out, err), (0, b"", b""), "cat data after mq_unlink")
    with t.within(5, "ls queues"):
        t.true("u" not in os.listdir(os.path.join(t.mnt, "queues")),
               "u no longer listed")


def test_native_mq_unlink_wakes_writer_EIDRM(t):
    t.mkq("uw")
    for m in (b"1", b"2", b"3", b"4"):
        t.send("uw", m)
    t.eq(t.count("uw"), 4, "queue full")
    w = t.py(WRITER, t.qpath("uw", "data"), "blocked")
    t.wait_blocked(w, "write")
    mq_unlink(t.posix("uw"))
    rc, out, err = ended_within(t, w, 1.0, "blocked writer after mq_unlink")
    t.eq(out, b"EIDRM\n", "errno of the blocked writer after mq_unlink")


def test_native_sem_unlink_wakes_waiter_EIDRM(t):
    t.mkobj("sem", "s")
    t.eq(t.sem_attr("s"), "0\n", "value of a new semaphore (sem_value=0)")
    p = t.spawn(["cat", t.path("sem", "s", "wait")])
    t.wait_blocked(p, "read")
    sem_unlink(t.posix("s"))
    rc, out, err = ended_within(t, p, 1.0,
                                "blocked cat sem/s/wait after sem_unlink")
    t.true(rc == 1 and b"Identifier removed" in err,
           "cat wait after sem_unlink: exit 1, EIDRM",
           "exit %s, stdout %s, stderr %s" % (rc, fmt(out), fmt(err)))


def test_native_remake_reached_by_fresh_open(t):
    t.mkq("r")
    t.send("r", b"old")
    mq_unlink(t.posix("r"))
    t.native_create("r")
    t.send("r", b"new")
    rc, out, err = t.run(["cat", t.qpath("r", "data")])
    t.eq((rc, out, err), (0, b"new", b""), "cat data after unlink + re-create")
    t.eq(t.count("r"), 0, "count of the new queue")
    # The same once a reader had the old queue open and waited on it.
    p = t.spawn(["cat", t.qpath("r", "data")])
    t.wait_blocked(p, "read")
    mq_unlink(t.posix("r"))
    rc, out, err = ended_within(t, p, 1.0, "blocked cat after mq_unlink")
    t.eq((rc, out), (0, b""), "blocked cat after mq_unlink")
    t.native_create("r")
    t.send("r", b"newer")
    rc, out, err = t.run(["cat", t.qpath("r", "data")])
    t.eq((rc, out, err), (0, b"newer", b""),
         "cat data after a second unlink + re-create")
    # And a semaphore re-made natively after a waiter was ended.
    t.mkobj("sem", "rs")
    w = t.spawn(["cat", t.path("sem", "rs", "wait")])
    t.wait_blocked(w, "read")
    sem_unlink(t.posix("rs"))
    ended_within(t, w, 1.0, "blocked cat wait after sem_unlink")
    sem_create(t.posix("rs"), 0)
    sem_post(t.posix("rs"))
    t.eq(t.sem_attr("rs"), "1\n", "value of the re-made semaphore")
    rc, out, err = t.run(["cat", t.path("sem", "rs", "wait")])
    t.eq((rc, out, err), (0, b"", b""), "cat wait on the re-made semaphore")
    t.eq(sem_value(t.posix("rs")), 0, "native value after the wait")


# ---------------------------------------------------------------------------
# 6. poll on sem/NAME/wait


POLLER = r'''
import os, select, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
po = select.poll()
po.register(fd, select.POLLIN)
print("first %d" % dict(po.poll(0)).get(fd, 0), flush=True)
print("then %d" % dict(po.poll(int(sys.argv[2]))).get(fd, 0), flush=True)
'''


def test_poll_sem_wait(t):
    t.mkobj("sem", "p")
    path = t.path("sem", "p", "wait")
    fd = t.open(path, os.O_RDONLY, 5)
    ev = t.revents(fd, select.POLLIN)
    t.true(not ev & select.POLLIN, "no POLLIN at value 0 (timeout 0)",
           "revents %#x" % ev)
    ev = t.revents(fd, select.POLLIN, 200)
    t.true(not ev & select.POLLIN, "no POLLIN within 200 ms at value 0",
           "revents %#x" % ev)
    # A poller asleep in poll(2) when the unit comes: woken by the
    # daemon's notification (it re-checks every 100 ms).
    p = t.py(POLLER, path, "3000")
    got = t.read_until(p, b"\n", 5)
    t.eq(got, b"first 0\n", "the poller's poll(0) at value 0")
    t.wait_blocked(p, "poll")
    time.sleep(0.3)     # asleep in poll for a while: not a look, a pause
    t0 = time.monotonic()
    sem_post(t.posix("p"))
    got = t.read_until(p, b"\n", 3)
    el = time.monotonic() - t0
    ev = int(got.split()[1]) if got.startswith(b"then ") else 0
    t.true(ev & select.POLLIN, "POLLIN within 500 ms of a native sem_post",
           "poller printed %r after %.2fs" % (got, el))
    t.true(el < 0.5, "POLLIN within 500 ms of a native sem_post",
           "after %.2fs" % el)
    t.note("blocked poll woken %.3f s after sem_post" % el)
    t.finish(p, 2)
    ev = t.revents(fd, select.POLLIN)
    t.true(ev & select.POLLIN, "POLLIN at value 1 (timeout 0)",
           "revents %#x" % ev)
    t.settle(lambda: sem_value(t.posix("p")), 1,
             "polls took nothing (native value)", 0.3)
    with t.within(5, "read wait"):
        t.eq(os.read(fd, 64), b"", "read of wait (takes the unit)")
    t.eq(sem_value(t.posix("p")), 0, "native value after the read")
    t.close(fd)
    t.settle(lambda: t.sem_attr("p"), "0\n", "value after close", 0.3)


# ---------------------------------------------------------------------------
# 7. Waiting costs no thread


@pytest.mark.deadline(120)
def test_thread_count_bounded(t):
    t0 = t.thread_count()
    qs = ["x%d" % i for i in range(10)]
    for q in qs:
        t.mkq(q)
    t.mkobj("sem", "many")
    readers = [t.spawn(["cat", t.qpath(q, "data")]) for q in qs
               for _ in range(10)]
    waiters = [t.spawn(["cat", t.path("sem", "many", "wait")])
               for _ in range(50)]
    t.wait_all_blocked(readers + waiters, "read", 30)
    time.sleep(0.5)
    n = t.thread_count()
    t.note("daemon threads: %d idle, %d with 100 readers + 50 sem waiters"
           % (t0, n))
    t.check("daemon has < 32 threads with 150 blocked waiters", 0 < n < 32,
            "%d threads" % n)
    # The tree stays responsive meanwhile.
    t.eq(t.attr("x0", "count"), "0\n", "count of a queue with 10 readers")
    # Wake them all the ordinary way: one message per reader, units.
    for q in qs:
        for i in range(10):
            t.write_file(t.qpath(q, "data"), b"%s-%d" % (q.encode(), i))
    t.write_file(t.path("sem", "many", "post"), b"50\n")
    got = []
    end = time.monotonic() + 10
    for p in readers + waiters:
        rc, out, err = t.finish(p, max(0.1, end - time.monotonic()))
        t.true(rc == 0 and not err, "waiter `%s` ends with 0" % p.what,
               "exit %s, stderr %s" % (rc, fmt(err)))
        got.append(out)
    want = sorted(b"%s-%d" % (q.encode(), i) for q in qs for i in range(10))
    t.eq(sorted(got[:100]), want, "messages the 100 readers got")
    t.eq(got[100:], [b""] * 50, "output of the 50 sem waiters")
    t.eq(t.sem_attr("many"), "0\n", "value after 50 waits")
    for q in qs:
        t.eq(t.count(q), 0, "count of %s" % q)
    time.sleep(0.5)
    n = t.thread_count()
    t.check("daemon threads after the waiters are done (%d)" % n,
            0 < n < 32, "%d threads" % n)


# ---------------------------------------------------------------------------
# 8. Held units given back after kill -9 of a daemon nobody has reaped yet:
# a zombie, or a process still exiting, is no live daemon. The new daemon
# must tell by something that dies with the process (a lock on its journal),
# not by kill(pid, 0), which succeeds on a zombie.

HOLDER = r'''
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
print("held", flush=True)
time.sleep(300)
'''

HOLD_VALUE = 2


def unstarted_tree(t, tag, prefix):
    """An extra tree with its mount point and log made but no daemon yet:
    start_daemon() starts it at once. The teardown unmounts it."""
    return t.extra_unstarted(tag, prefix)


def hold_one(t, m, name):
    """Make semaphore NAME (value HOLD_VALUE), natively, and a child holding
    one unit of it through tree M. Each round has a semaphore of its own,
    so the journal of an earlier round's daemon, given back late, cannot
    pass for this round's."""
    sem_create(t.posix(name), HOLD_VALUE)
    h = t.py(HOLDER, os.path.join(m.mnt, "sem", name, "hold"))
    got = t.read_until(h, b"held\n", 5)
    t.true(got == b"held\n", "the holder opened hold", fmt(got))
    t.eq(sem_value(t.posix(name)), HOLD_VALUE - 1, "value while one is held")
    return h


def discard_killed_tree(t, m):
    """Unmount tree M, whose daemon was killed, and reap that daemon."""
    ok = t.unmount_dir(m.mnt)
    if m in t.extra:
        t.extra.remove(m)
    rmdir_patiently(m.mnt)
    with contextlib.suppress(OSError):
        os.unlink(m.stderr_path)
    with contextlib.suppress(Exception):
        m.daemon.wait(5)
    return ok


def reap(procs):
    for p in procs:
        with contextlib.suppress(Exception):
            p.wait(5)


@pytest.mark.deadline(120)
def test_unit_taken_for_a_waiter_comes_back_after_kill(t):
    """40 rounds: a holder waits in open of hold at value 0, a native post,
    and at once kill -9 of the daemon. Whether the daemon's helper had
    taken the unit for the waiter or handed it over, the unit is the
    daemon's: the next daemon gives it back (value 1 within 2 s). The
    helper's taken-but-unclaimed units used to be in no journal: 7 of 20
    rounds lost theirs (tools/soak --kill-daemon: 6 units in 138 kills).
    A unit is counted a few instructions after it is taken, and this test
    aims its kill at that very moment: 1 round in 60 to 120 still loses
    one (3 in 360 measured, with the daemons before and after the shared
    core alike), and once 3 in 20. Under ASan, while the count took a lock
    and a search of the journal, 1 round in 4 lost it (6 to 13 of 40);
    with the slot pinned at open and one atomic add, 1 in 120. So up to 4
    of 40 pass: a daemon that journals nothing loses about 14, and passes
    about 1 run in 3000."""
    lost = []
    m = t.extra_mount("bank", prefix=t.prefix)
    try:
        for r in range(1, 41):
            name = "bk_%d" % r
            sem_create(t.posix(name), 0)
            h = t.py(HOLDER, os.path.join(m.mnt, "sem", name, "hold"))
            t.wait_blocked(h, "openat")
            sem_post(t.posix(name))
            os.kill(m.daemon.pid, signal.SIGKILL)
            # Dead before the waiter goes: its end is no interrupt then.
            t.wait_exit(m.daemon, 5)
            t.kill(h)
            discard_killed_tree(t, m)
            m = unstarted_tree(t, "bank", t.prefix)
            m.start_daemon()
            v = t.wait_value(lambda: sem_value(t.posix(name)), 1, 2.0)
            if v != 1:
                lost.append((r, name))
        # A unit not back within 2 s may be late, not lost: look again.
        late = [r for r, name in lost if t.wait_value(
            lambda: sem_value(t.posix(name)), 1, 3.0) == 1]
    finally:
        t.extra_unmount(m)
    lost = ["round %d" % r for r, name in lost if r not in late]
    if late:
        t.note("back after more than 2 s: rounds %s" % late)
    t.true(len(lost) <= 4, "at most 4 of 40 rounds lose the unit",
           "; ".join(lost))
    if lost:
        t.note("lost in the take-then-count window: " + "; ".join(lost))


@pytest.mark.deadline(120)
def test_held_unit_given_back_after_kill_of_unreaped_daemon(t):
    """5 rounds: hold a unit, kill -9 the daemon without reaping it (a
    zombie), unmount, start a new daemon at once: the unit is back within
    2 s."""
    zombies = []
    back = 0
    try:
        with t.extra_tree("hold6", prefix=t.prefix) as m:
            for r in range(1, 6):
                name = "z6_%d" % r
                h = hold_one(t, m, name)
                old = m.daemon
                zombies.append(old)         # never wait()ed nor poll()ed
                os.kill(old.pid, signal.SIGKILL)
                t.kill(h)                   # its hold died with the daemon
                t.true(t.unmount_dir(m.mnt), "round %d: the dead mount is "
                       "unmounted" % r)
                t0 = time.monotonic()
                m.start_daemon()
                v = t.wait_value(lambda: sem_value(t.posix(name)), HOLD_VALUE,
                                 2.0 - (time.monotonic() - t0))
                el = time.monotonic() - t0
                state = t.proc_state(old.pid)[0]
                t.note("round %d: value %d %.2f s after the new daemon's "
                       "start; the killed daemon's state %s" % (r, v, el,
                                                               state))
                if t.check("round %d: the held unit is back within 2 s "
                           "(value %d)" % (r, HOLD_VALUE), v == HOLD_VALUE,
                           "value %d after %.2fs (the killed daemon, "
                           "unreaped, is in state %s)" % (v, el, state)):
                    back += 1
    finally:
        reap(zombies)
    t.note("held units given back in %d of 5 rounds" % back)


@pytest.mark.deadline(120)
def test_held_unit_given_back_when_new_daemon_races_the_kill(t):
    """5 rounds: hold a unit through tree A, send SIGKILL to A's daemon and
    start a daemon B (same prefix, its own mount point) at once, no sleep:
    the unit is back within 2 s of the kill. Then A stopped (SIGSTOP) while
    B starts: a live daemon's unit is not taken from it; once A is killed
    (not reaped), the next daemon to start gives it back within 2 s."""
    dead = []
    try:
        a = t.extra_mount("race6a", prefix=t.prefix)
        for r in range(1, 6):
            name = "r6_%d" % r
            h = hold_one(t, a, name)
            b = unstarted_tree(t, "race6b", t.prefix)
            t0 = time.monotonic()
            os.kill(a.daemon.pid, signal.SIGKILL)
            b.start_daemon()
            v = t.wait_value(lambda: sem_value(t.posix(name)), HOLD_VALUE,
                             2.0 - (time.monotonic() - t0))
            el = time.monotonic() - t0
            t.check("round %d: the unit is back within 2 s of a kill "
                    "racing the new daemon's start" % r, v == HOLD_VALUE,
                    "value %d after %.2fs" % (v, el))
            t.kill(h)
            dead.append(a)
            discard_killed_tree(t, a)
            a = b
        # A stopped daemon lives: a new daemon B leaves its unit alone.
        # Killed later (and left unreaped), the next daemon to start, C,
        # gives it back.
        name = "r6_stop"
        h = hold_one(t, a, name)
        os.kill(a.daemon.pid, signal.SIGSTOP)
        b = unstarted_tree(t, "race6b", t.prefix)
        try:
            b.start_daemon()
            time.sleep(0.5)
            v = sem_value(t.posix(name))
            t.check("a stopped (live) daemon's held unit is not given back "
                    "by a new daemon", v == HOLD_VALUE - 1, "value %d" % v)
        finally:
            os.kill(a.daemon.pid, signal.SIGKILL)
            os.kill(a.daemon.pid, signal.SIGCONT)
        t.kill(h)
        c = unstarted_tree(t, "race6c", t.prefix)
        t0 = time.monotonic()
        c.start_daemon()
        v = t.wait_value(lambda: sem_value(t.posix(name)), HOLD_VALUE,
                         2.0 - (time.monotonic() - t0))
        el = time.monotonic() - t0
        t.check("killed once a new daemon ran, and unreaped: the unit is "
                "back within 2 s of the next daemon's start", v == HOLD_VALUE,
                "value %d after %.2fs" % (v, el))
        discard_killed_tree(t, a)
    finally:
        reap([m.daemon for m in dead])


# ---------------------------------------------------------------------------
# 1. kill -9 of the daemon, mount again: everything but channels is there,
# and a unit held through `hold` when the daemon died is given back.
# Last: if the new daemon cannot be started, the tests after it could not run.

SHM_BLOB = bytes((i * 31 + 7) & 0xff for i in range(10000))


def test_killed_daemon_loses_nothing_but_channels(t):
    old = t.daemon
    t.mkq("keep")
    t.write_file(t.qpath("keep", "data"), b"first")
    t.write_file(t.qpath("keep", "data"), b"second")
    t.eq(t.attr("keep", "count"), "2\n", "count before the kill")
    t.mkobj("shm", "seg")
    t.eq(t.write_file(t.path("shm", "seg", "data"), SHM_BLOB), len(SHM_BLOB),
         "write to shm data")
    t.mkobj("sem", "three")
    t.write_file(t.path("sem", "three", "post"), b"3\n")
    t.eq(t.sem_attr("three"), "3\n", "value before the kill")
    t.mkobj("channels", "ch")
    t.write_file(t.path("channels", "ch", "data"), b"lost on kill")
    t.eq(t.read_file(t.path("channels", "ch", "bytes")), b"12\n",
         "channel bytes before the kill")
    t.mkobj("sem", "held")
    t.write_file(t.path("sem", "held", "post"), b"2\n")
    holder = t.spawn(["sh", "-c", 'exec 9<"$1" && echo held && sleep 60',
                      "sh", t.path("sem", "held", "hold")])
    t.read_until(holder, b"held", 5)
    t.eq(t.sem_attr("held"), "1\n", "value while one unit is held")
    t.mkq("empty")
    t.mkobj("sem", "zero")
    reader = t.spawn(["cat", t.qpath("empty", "data")])
    waiter = t.spawn(["cat", t.path("sem", "zero", "wait")])
    t.wait_blocked(reader, "read")
    t.wait_blocked(waiter, "read")

    t0 = time.monotonic()
    os.kill(old.pid, signal.SIGKILL)
    try:
        rc = t.wait_exit(old, 5)
        t.true(rc == -signal.SIGKILL, "daemon killed by kill -9",
               "status %s" % rc)
        for p, what in ((reader, "cat queues/empty/data"),
                        (waiter, "cat sem/zero/wait")):
            rc = t.wait_exit(p, max(0.0, t0 + 2 - time.monotonic()))
            el = time.monotonic() - t0
            if rc is None:
                t.check("blocked `%s` ends within 2 s of the kill" % what,
                        False, "still running after %.2fs %s" % (
                            el, t.proc_state(p.pid)))
                continue
            rc, out, err = t.finish(p, 1)
            t.check("blocked `%s` ends within 2 s with an error" % what,
                    rc != 0 and out == b"",
                    "exit %s, stdout %s, stderr %s" % (rc, fmt(out),
                                                       fmt(err)))
            t.note("%s after the kill: exit %s, %s" % (
                what, rc, err.decode(errors="replace").strip()))
        # Not a stat of the mount point itself: the kernel may answer that
        # from its attribute cache without asking anybody.
        for what, fn, arg in (("ls MNT", os.listdir, t.mnt),
                              ("stat MNT/queues/never-seen", os.stat,
                               t.qpath("never-seen"))):
            try:
                with t.within(5, "%s on the dead mount" % what):
                    fn(arg)
                t.check("%s on the dead mount gives ENOTCONN" % what, False,
                        "succeeded")
            except OSError as e:
                t.check("%s on the dead mount gives ENOTCONN" % what,
                        e.errno == errno.ENOTCONN, str(e))
        t.kill(holder)  # its hold died with the daemon
        t.check("the dead mount is unmounted", t.unmount_dir(t.mnt))
        t.start_daemon()
    finally:
        # Whatever failed above: the harness must have a live daemon on the
        # mount point, not the killed one, for its checks and cleanup.
        if t.daemon is old:
            t.unmount_dir(t.mnt)
            with contextlib.suppress(Exception):
                t.start_daemon()
    t.check("a new daemon mounted on the same prefix",
            t.daemon is not old and t.daemon.poll() is None)

    names = t.ls("queues")
    t.check("queues keep and empty listed after the remount",
            {"keep", "empty"} <= set(names), repr(names))
    t.check("queue keeps its 2 messages (count)",
            t.attr("keep", "count") == "2\n", t.attr("keep", "count"))
    got = []
    for _ in range(2):
        rc, out, err = t.run(["cat", t.qpath("keep", "data")])
        got.append((rc, out))
    t.check("the 2 messages delivered in order", got == [(0, b"first"),
                                                         (0, b"second")],
            repr(got))
    t.check("queue empty afterwards", t.count("keep") == 0)
    t.check("shm segment listed", "seg" in t.ls("shm"), repr(t.ls("shm")))
    data = t.read_file(t.path("shm", "seg", "data"), 1 << 20)
    t.check("shm data has the exact bytes", data == SHM_BLOB,
            "%d bytes, %s" % (len(data), fmt(data[:40])))
    t.check("semaphores listed", {"three", "zero"} <= set(t.ls("sem")),
            repr(t.ls("sem")))
    t.check("sem value is 3", t.sem_attr("three") == "3\n",
            repr(t.sem_attr("three")))
    t.check("the waited-on sem is still 0", t.sem_attr("zero") == "0\n",
            repr(t.sem_attr("zero")))
    t.check("the unit held when the daemon died is given back (2)",
            t.sem_attr("held") == "2\n", repr(t.sem_attr("held")))
    t.check("the channel is gone (channels live in the daemon)",
            "ch" not in t.ls("channels"), repr(t.ls("channels")))
    with t.within(5, "stat channels/ch"):
        t.raises(errno.ENOENT, os.stat, t.path("channels", "ch"),
                 what="stat channels/ch")
    # The new daemon works: a wait through it, a channel again.
    p = t.spawn(["cat", t.path("sem", "zero", "wait")])
    t.wait_blocked(p, "read")
    t.write_file(t.path("sem", "zero", "post"), b"\n")
    rc, out, err = t.finish(p, 3)
    t.check("a wait through the new daemon", (rc, out, err) == (0, b"", b""),
            "exit %s, stderr %s" % (rc, fmt(err)))
    t.mkobj("channels", "ch")
    t.eq(t.read_file(t.path("channels", "ch", "bytes")), b"0\n",
         "a new channel of the same name is empty")

# SPDX-License-Identifier: GPL-2.0-or-later
"""sem/: POSIX named semaphores through a mounted tree.

mkdir/rmdir seen natively (mode, -o sem_value), semaphores made natively
listed with their value, `post` (empty line, N, EINVAL, EOVERFLOW), `wait`
("P": one unit per open file, O_NONBLOCK EAGAIN, woken by echo > post,
select), `hold` (a lock that a kill -9 of its holder gives back), 200
killed waiters costing no thread, and the classic shared sum: ten processes
adding their share of pi into shm/acc/data under sem/lock/hold.
What every blocking kind shares (a waiter woken by a native post, ended by
rmdir with EIDRM; SIGINT and kill -9 of a waiter take nothing; poll) is in
test_waits.py.
"""

import contextlib
import errno
import os
import select
import signal
import stat
import struct
import time

from harness import Harness
from native import SHM_DIR, sem_create, sem_post, sem_value
from procs import DEVNULL, PIPE, READER

SEM_VALUE_MAX = 2147483647  # Linux, glibc

# One process of the shared sum: its slice of the midpoint rule for
# 4/(1+x^2) on [0,1], added to the double at offset 0 of DATA (and 1 to the
# counter at offset 8), under HOLD if given.
PI_SLICE = r'''
def pi_slice(k, n, parts):
    h = 1.0 / n
    s = 0.0
    for i in range(k * n // parts, (k + 1) * n // parts):
        x = (i + 0.5) * h
        s += 4.0 / (1.0 + x * x)
    return s * h
'''

PI_WORKER = PI_SLICE + r'''
import os, struct, sys, time
data, hold = sys.argv[1], sys.argv[2]
k, n, parts = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
s = pi_slice(k, n, parts)
print("ready", flush=True)
sys.stdin.readline()
lock = os.open(hold, os.O_RDONLY) if hold != "-" else None
fd = os.open(data, os.O_RDWR)
acc, cnt = struct.unpack("=dq", os.pread(fd, 16, 0))
time.sleep(0.005)   # widen the window a lost update needs
os.pwrite(fd, struct.pack("=dq", acc + s, cnt + 1), 0)
os.close(fd)
if lock is not None:
    os.close(lock)
print(repr(s), flush=True)
'''


class SemHarness(Harness):
    """The shared harness, plus what semaphores need: their paths in sem/
    and in /dev/shm, their native value and post, and ways to wait for a
    value the daemon sets a moment after a call returns."""

    def spath(self, name, *rest):
        return self.path("sem", name, *rest)

    def devsem(self, name):
        return self.shm_file("sem", name)

    def mksem(self, name, mode=0o600):
        return self.mkobj("sem", name, mode)

    def rmsem(self, name):
        self.rmobj("sem", name)

    def native_sem(self, name, value, mode=0o600):
        """Make semaphore NAME natively, of VALUE (tracked)."""
        sem_create(self.posix(name), value, mode)
        self.made["sem"].add(name)

    def value(self, name):
        """The semaphore's value, natively (not through the tree)."""
        return sem_value(self.posix(name))

    def post(self, name, n=1):
        sem_post(self.posix(name), n)

    def sem_attr(self, name, attr):
        return self.read_file(self.spath(name, attr)).decode()

    def write_post(self, name, data):
        """One write(2) of DATA to sem/NAME/post."""
        return self.write_file(self.spath(name, "post"), data)

    def settle_value(self, name, want, what, wait=0.3):
        """The value is `want` now and still after `wait` s."""
        self.eq(self.value(name), want, what)
        self.settle(lambda: self.value(name), want, what, wait, 0)

    def value_soon(self, name, want, what, timeout=1.0):
        """The value becomes `want` within `timeout` s: a hold gives its
        unit back on RELEASE, which the kernel sends after close(2) (or the
        holder's exit) has returned."""
        v = self.wait_value(lambda: self.value(name), want, timeout, 0.005)
        self.eq(v, want, "%s (within %g s)" % (what, timeout))


H = SemHarness("sem")


def test_mkdir_rmdir_seen_natively(t):
    d = t.mksem("a")
    st = os.lstat(t.devsem("a"))
    t.true(stat.S_ISREG(st.st_mode), "/dev/shm/sem.PFXa is a regular file")
    t.eq(t.value("a"), 1, "native value of a new semaphore (default 1)")
    with t.within(5, "ls sem"):
        t.true("a" in os.listdir(t.spath("")), "a listed in sem/")
        t.eq(sorted(os.listdir(d)), ["hold", "holders", "post", "value", "wait",
                                     "waiters"],
             "files in sem/a")
    t.eq(t.sem_attr("a", "value"), "1\n", "value")
    with t.within(5, "mkdir"):
        t.raises(errno.EEXIST, os.mkdir, d, 0o600, what="second mkdir")
    t.rmsem("a")
    t.true(not os.path.exists(t.devsem("a")), "native semaphore gone")
    with t.within(5, "stat"):
        t.raises(errno.ENOENT, os.stat, d, what="stat after rmdir")
        t.true("a" not in os.listdir(t.spath("")), "a no longer listed")
    with t.within(5, "rmdir"):
        t.raises(errno.ENOENT, os.rmdir, d, what="second rmdir")


def test_chmod_reaches_semaphore(t):
    # (mkdir's mode and umask: test_tree.py, for every native kind.)
    t.mksem("m640", 0o640)
    with t.within(5, "chmod"):
        os.chmod(t.spath("m640"), 0o604)
    t.eq(oct(stat.S_IMODE(os.lstat(t.devsem("m640")).st_mode)), oct(0o604),
         "native mode after chmod")


def test_native_semaphore_listed_with_value(t):
    t.native_sem("nat", 3)
    # A segment under the prefix is no semaphore: not listed here.
    with open(os.path.join(SHM_DIR, t.prefix + "seg"), "wb"):
        pass
    try:
        with t.within(5, "ls sem"):
            names = os.listdir(t.spath(""))
        t.true("nat" in names, "native semaphore listed", repr(names))
        t.true("seg" not in names, "shm segment not listed", repr(names))
        t.eq(t.sem_attr("nat", "value"), "3\n", "value of a native one")
        rc, out, err = t.sh('cat "$1"', t.spath("nat", "value"))
        t.eq((rc, out, err), (0, b"3\n", b""), "cat value")
        t.eq(t.value("nat"), 3, "reading value took nothing")
    finally:
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(SHM_DIR, t.prefix + "seg"))


def test_post_posts(t):
    t.native_sem("p", 0)
    post = t.spath("p", "post")
    rc, out, err = t.sh('echo > "$1"', post)
    t.eq((rc, err), (0, b""), "echo > post")
    t.eq(t.value("p"), 1, "value after an empty line")
    rc, out, err = t.sh('echo 3 > "$1"', post)
    t.eq((rc, err), (0, b""), "echo 3 > post")
    t.eq(t.value("p"), 4, "value after echo 3")
    t.eq(t.write_post("p", b"\n"), 1, "write(2) of an empty line")
    t.eq(t.write_post("p", b"10"), 2, "write(2) of 10")
    t.eq(t.value("p"), 15, "value")
    t.eq(t.sem_attr("p", "value"), "15\n", "value file")


def test_post_refuses_garbage(t):
    t.native_sem("g", 2)
    for bad in (b"abc", b"abc\n", b"-1\n", b"3x\n", b" 3\n", b"1.5\n",
                b"\n\n"):
        t.raises(errno.EINVAL, t.write_post, "g", bad,
                 what="write %r to post" % bad)
    t.eq(t.value("g"), 2, "value after refused posts")
    rc, out, err = t.sh('echo abc > "$1"', t.spath("g", "post"))
    t.true(rc != 0, "echo abc > post fails", "status %d" % rc)
    t.eq(t.value("g"), 2, "value after echo abc")


def test_post_overflow(t):
    t.native_sem("o", 0)
    for big in (b"99999999999\n", b"%d\n" % (SEM_VALUE_MAX + 1)):
        t.raises(errno.EOVERFLOW, t.write_post, "o", big,
                 what="write %r to post" % big)
    t.eq(t.value("o"), 0, "value after refused posts")
    t.native_sem("top", SEM_VALUE_MAX - 2)
    t.raises(errno.EOVERFLOW, t.write_post, "top", b"3\n",
             what="post 3 at SEM_VALUE_MAX - 2")
    t.eq(t.value("top"), SEM_VALUE_MAX - 2, "nothing posted")
    t.eq(t.write_post("top", b"2\n"), 2, "post 2 at SEM_VALUE_MAX - 2")
    t.eq(t.value("top"), SEM_VALUE_MAX, "value at the top")
    t.raises(errno.EOVERFLOW, t.write_post, "top", b"\n",
             what="post at SEM_VALUE_MAX")
    t.eq(t.sem_attr("top", "value"), "%d\n" % SEM_VALUE_MAX, "value file")


def test_wait_takes_one_unit_per_open(t):
    t.native_sem("w", 3)
    wait = t.spath("w", "wait")
    rc, out, err = t.sh('cat "$1"', wait)
    t.eq((rc, out, err), (0, b"", b""), "cat wait")
    t.eq(t.value("w"), 2, "value after cat wait")
    with t.within(5, "reads of one open wait"):
        fd = os.open(wait, os.O_RDONLY)
        try:
            t.eq(t.value("w"), 2, "opening wait takes nothing")
            t.eq(os.read(fd, 100), b"", "first read: EOF")
            t.eq(t.value("w"), 1, "value after the first read")
            t.eq(os.read(fd, 100), b"", "second read: EOF")
            t.eq(os.read(fd, 100), b"", "third read: EOF")
            t.eq(t.value("w"), 1, "later reads take nothing")
        finally:
            os.close(fd)
    t.eq(t.value("w"), 1, "closing wait gives nothing back")
    rc, out, err = t.finish(t.py("import sys; open(sys.argv[1]).read()",
                                 wait), 5)
    t.eq((rc, err), (0, b""), "python open().read()")
    t.eq(t.value("w"), 0, "value after python's read")


def test_nonblocking_wait_and_hold_EAGAIN(t):
    t.native_sem("nb", 0)
    with t.within(5, "O_NONBLOCK wait"):
        fd = os.open(t.spath("nb", "wait"), os.O_RDONLY | os.O_NONBLOCK)
        try:
            t.raises(errno.EAGAIN, os.read, fd, 100, what="read of wait")
            t.raises(errno.EAGAIN, os.read, fd, 100, what="second read")
        finally:
            os.close(fd)
    with t.within(5, "O_NONBLOCK hold"):
        t.raises(errno.EAGAIN, os.open, t.spath("nb", "hold"),
                 os.O_RDONLY | os.O_NONBLOCK, what="open of hold")
    t.eq(t.value("nb"), 0, "value")
    t.post("nb")
    with t.within(5, "O_NONBLOCK hold, a unit there"):
        fd = os.open(t.spath("nb", "hold"), os.O_RDONLY | os.O_NONBLOCK)
        t.eq(t.value("nb"), 0, "value while held")
        os.close(fd)
    t.value_soon("nb", 1, "value after the hold's close")
    with t.within(5, "O_NONBLOCK wait, a unit there"):
        fd = os.open(t.spath("nb", "wait"), os.O_RDONLY | os.O_NONBLOCK)
        try:
            t.eq(os.read(fd, 100), b"", "read of wait")
        finally:
            os.close(fd)
    t.eq(t.value("nb"), 0, "value after the wait")


def test_blocked_wait_woken_by_echo_into_post(t):
    # (Woken by a native post: test_waits.py.)
    t.native_sem("bw", 0)
    p = t.spawn(["cat", t.spath("bw", "wait")])
    t.wait_blocked(p, "read")
    rc, out, err = t.sh('echo > "$1"', t.spath("bw", "post"))
    t.eq(rc, 0, "echo > post")
    rc, out, err = t.finish(p, 3)
    t.eq((rc, out, err), (0, b"", b""), "cat wait after echo > post")
    t.settle_value("bw", 0, "value after the second woken wait")


def test_two_blocked_waiters_one_unit_each(t):
    t.native_sem("two", 0)
    ps = [t.spawn(["cat", t.spath("two", "wait")]) for _ in range(3)]
    for p in ps:
        t.wait_blocked(p, "read")
    t.post("two", 2)
    t.settle(lambda: sum(p.poll() is not None for p in ps), 2,
             "waiters that got a unit of two", 0.3, 3)
    t.eq(t.value("two"), 0, "value")
    t.post("two")
    for p in ps:
        rc, out, err = t.finish(p, 3)
        t.eq((rc, out), (0, b""), "cat wait")
    t.settle_value("two", 0, "value after the third")


def test_hold_is_a_crash_safe_lock(t):
    t.mksem("lock")
    hold = t.spath("lock", "hold")
    value = t.spath("lock", "value")
    # exec 9<hold ... exec 9<&-: held in between, given back after.
    p = t.sh('exec 9<"$1"; cat "$2"; exec 9<&-; echo closed; read x', hold,
             value, timeout=None)
    t.eq(t.read_until(p, b"closed\n", 3), b"0\nclosed\n",
         "value inside exec 9<hold ... exec 9<&-")
    t.value_soon("lock", 1, "value after exec 9<&-, the shell still running")
    rc, out, err = t.finish(p, 3, input=b"\n")
    t.eq((rc, err), (0, b""), "the shell")
    # A holder that only reads its stdin (no children share its fd 9).
    holder = 'exec 9<"$1"; echo locked; read x'
    a = t.sh(holder, hold, timeout=None)
    t.eq(t.read_until(a, b"locked\n", 3), b"locked\n", "first holder")
    t.eq(t.value("lock"), 0, "value while held")
    b = t.sh(holder, hold, timeout=None)
    t.wait_blocked(b, "openat")
    t.still_waiting(b, "second holder waits", 0.3)
    t0 = time.monotonic()
    os.kill(a.pid, signal.SIGKILL)
    got = t.read_until(b, b"locked\n", 1.5)
    el = time.monotonic() - t0
    t.eq(got, b"locked\n", "second holder after kill -9 of the first")
    t.true(el < 1, "second holder got the lock in < 1 s", "%.2fs" % el)
    t.eq(t.wait_exit(a, 2), -signal.SIGKILL, "status of the first holder")
    t.eq(t.value("lock"), 0, "value while the second holds")
    b.stdin.write(b"done\n")
    b.stdin.flush()
    rc, out, err = t.finish(b, 3)
    t.eq(rc, 0, "second holder exits")
    t.value_soon("lock", 1, "value after both")
    t.settle_value("lock", 1, "value after both")


def test_helper_ends_once_its_waiter_is_served(t):
    """A holder parked on hold is served when the first one dies: the
    helper thread that waited for it must stop taking units then, not stay
    blocked on the semaphore for nobody until its 1 s deadline (it would
    take, and hold for a moment, the next unit anybody posts). It ends
    within a period (0.1 s): thread count back down within 0.6 s."""
    t.mksem("srv")
    hold = t.spath("srv", "hold")
    holder = 'exec 9<"$1"; echo locked; read x'
    a = t.sh(holder, hold, timeout=None)
    t.eq(t.read_until(a, b"locked\n", 3), b"locked\n", "first holder")
    b = t.sh(holder, hold, timeout=None)
    t.wait_blocked(b, "openat")
    n = t.thread_count()          # the helper waits for b's unit
    os.kill(a.pid, signal.SIGKILL)
    t.eq(t.read_until(b, b"locked\n", 2), b"locked\n", "second holder")
    t.eq(t.wait_value(t.thread_count, n - 1, 0.6), n - 1,
         "daemon threads within 0.6 s of the hand-off (the helper ended)")
    t.wait_exit(a, 2)
    b.stdin.write(b"done\n")
    b.stdin.flush()
    t.eq(t.finish(b, 3)[0], 0, "second holder exits")
    t.value_soon("srv", 1, "value after both")


def test_killed_waiters_cost_nothing(t):
    # On a tree of its own with -o max_idle_threads=2: libfuse's worker
    # pool (up to max_threads, 10) grows under the storm of interrupts and
    # releases 200 kills make, and by default never shrinks; with idle
    # workers trimmed, what stays is the daemon's own threads.
    t.native_sem("many", 0)
    with t.extra_tree("sem2", prefix=t.prefix, max_idle_threads=2) as m:
        wait = m.path("sem", "many", "wait")
        value = m.path("sem", "many", "value")

        def threads():
            return t.thread_count(m.daemon.pid)

        t.eq(t.read_file(value), b"0\n", "value file")
        time.sleep(0.3)
        before = threads()
        ps = []
        try:
            ps += [t.spawn(["cat", wait], stdout=DEVNULL, stderr=DEVNULL)
                   for _ in range(200)]
            t.wait_all_blocked(ps, "read", 30)
            during = threads()
            with t.within(2, "value while 200 wait"):
                t.eq(t.read_file(value), b"0\n", "value file")
        finally:
            # Whatever happened, no cat outlives this tree's mount.
            t0 = time.monotonic()
            for c in ps:
                with contextlib.suppress(OSError):
                    os.kill(c.pid, signal.SIGKILL)
            left = [c for c in ps if t.wait_exit(
                c, max(0.1, t0 + 5 - time.monotonic())) is None]
            for c in ps:
                if c in t.procs and c not in left:
                    t.procs.remove(c)
        t.true(not left, "200 killed waiters reaped in < 5 s",
               "%d not reaped" % len(left))
        t.eq(t.value("many"), 0, "value after the kills")
        time.sleep(0.5)
        after = threads()
        t.note("daemon threads: %d before, %d with 200 waiters, %d after "
               "the kills" % (before, during, after))
        t.true(during <= before + 3, "200 waiters cost no thread each",
               "%d threads before, %d with 200 blocked" % (before, during))
        t.true(abs(after - before) <= 2, "daemon thread count flat",
               "%d before, %d after" % (before, after))
        t.post("many")
        t.settle_value("many", 1, "value after a post that followed the "
                       "kills")


def test_file_cut_short_is_no_crash(t):
    """Whoever may write /dev/shm/sem.NAME may truncate it. The daemon maps
    it (glibc's sem_open), and its next touch used to die of SIGBUS, taking
    the mount down for every user: an empty file planted by anybody did the
    same. Now: a file too short for a sem_t is no semaphore (EINVAL), one
    cut short while mapped fails its operations with EIO, its blocked
    waiters included, and the daemon lives on."""
    with open(t.devsem("empty"), "wb"):
        pass
    t.made["sem"].add("empty")
    t.raises(errno.EINVAL, t.sem_attr, "empty", "value",
             what="value of an empty planted file")
    t.raises(errno.EINVAL, t.write_post, "empty", b"\n",
             what="post to an empty planted file")
    t.native_sem("cut", 0)
    r = t.py(READER, t.spath("cut", "wait"))
    t.wait_blocked(r, "read")
    os.truncate(t.devsem("cut"), 0)
    rc, out, err = t.finish(r, 3)
    t.eq((rc, out), (3, b"EIO\n"), "blocked wait when the file was cut")
    t.raises(errno.EINVAL, t.sem_attr, "cut", "value",
             what="value once the file is cut")
    t.eq(t.daemon.poll(), None, "the daemon still runs")
    t.native_sem("fine", 2)
    t.eq(t.sem_attr("fine", "value"), "2\n", "another semaphore still works")


def test_wait_file_readable_once_it_took_its_unit(t):
    """(poll before and after a post: test_waits.py.) select agrees with
    poll, and a file of wait that took its unit stays readable (EOF)."""
    t.native_sem("pl", 1)
    with t.opened(t.spath("pl", "wait"), os.O_RDONLY, 10,
                  "poll on wait") as fd:
        pl = select.poll()
        pl.register(fd, select.POLLIN)
        r, _, _ = select.select([fd], [], [], 1)
        t.eq(r, [fd], "select says readable")
        t.eq(t.value("pl"), 1, "select took nothing")
        t.eq(os.read(fd, 10), b"", "read of wait")
        t.eq(t.value("pl"), 0, "the read took the unit")
        t.eq(pl.poll(0), [(fd, select.POLLIN)], "poll after the read")


def test_mount_option_sem_value(t):
    # The second trees share the prefix: what they make is the main tree's
    # too, so the teardown removes it.
    with t.extra_tree("sem2", prefix=t.prefix, sem_value=5) as m:
        with t.within(5, "mkdir in the second tree"):
            os.mkdir(m.path("sem", "five"), 0o600)
        t.made["sem"].add("five")
        t.eq(t.value("five"), 5, "native value with -o sem_value=5")
        t.eq(t.read_file(m.path("sem", "five", "value")), b"5\n",
             "value file")
        with t.within(5, "rmdir in the second tree"):
            os.rmdir(m.path("sem", "five"))
        t.made["sem"].discard("five")
    with t.extra_tree("sem2", prefix=t.prefix, sem_value=0) as m:
        with t.within(5, "mkdir in the second tree"):
            os.mkdir(m.path("sem", "zero"), 0o600)
        t.made["sem"].add("zero")
        t.eq(t.value("zero"), 0, "native value with -o sem_value=0")
    # The main tree still makes value-1 semaphores.
    t.mksem("one")
    t.eq(t.value("one"), 1, "native value in the main tree")
    for bad in ("-1", str(SEM_VALUE_MAX + 1), "abc"):
        rc, out, err, _ = t.start_refused("prefix=%s,sem_value=%s" % (
            t.prefix, bad), timeout=5)
        t.true(rc not in (0, None), "-o sem_value=%s refused" % bad,
               "status %s" % rc)
        t.true("sem_value" in err, "the message names the option",
               repr(err))


def shared_sum(t, data, hold, n, parts):
    """Run the shared sum; (acc, count, partials the workers computed)."""
    with t.within(5, "zero the accumulator"):
        fd = os.open(data, os.O_RDWR)
        try:
            t.eq(os.pwrite(fd, bytes(16), 0), 16, "pwrite of 16 zero bytes")
        finally:
            os.close(fd)
    ws = [t.py(PI_WORKER, data, hold, str(k), str(n), str(parts), stdin=PIPE)
          for k in range(parts)]
    for w in ws:
        t.eq(t.read_until(w, b"ready\n", 20), b"ready\n", "worker ready")
    for w in ws:        # all at once: they contend for the lock
        w.stdin.write(b"go\n")
        w.stdin.flush()
    parts_got = []
    for w in ws:
        rc, out, err = t.finish(w, 20)
        t.eq((rc, err), (0, b""), "worker (status, stderr)")
        parts_got.append(float(out.decode().split()[-1]))
    with t.within(5, "read the accumulator"):
        fd = os.open(data, os.O_RDONLY)
        try:
            acc, cnt = struct.unpack("=dq", os.pread(fd, 16, 0))
        finally:
            os.close(fd)
    return acc, cnt, parts_got


def test_shared_sum_of_pi_under_hold(t):
    if not os.path.isdir(os.path.join(t.mnt, "shm")):
        t.skip("no shm/ in the tree")
    data = os.path.join(t.mkobj("shm", "acc"), "data")
    t.mksem("lock")
    hold = t.spath("lock", "hold")
    n, parts = 1000000, 10
    ns = {}
    exec(PI_SLICE, ns)
    want_parts = [ns["pi_slice"](k, n, parts) for k in range(parts)]
    want = 0.0
    for s in want_parts:
        want += s
    acc, cnt, got_parts = shared_sum(t, data, hold, n, parts)
    t.eq(sorted(got_parts), sorted(want_parts), "the workers' partial sums")
    t.eq(cnt, parts, "contributions added under the lock")
    t.true(abs(acc - want) <= 1e-9, "sum under the lock equals the "
           "sequential sum", "%r vs %r" % (acc, want))
    t.true(abs(acc - 3.141592653589793) < 1e-9, "it is pi", repr(acc))
    t.value_soon("lock", 1, "lock value after the workers")
    # Without the lock updates can be lost; shown, not asserted.
    acc, cnt, _ = shared_sum(t, data, "-", n, parts)
    t.note("without the lock: %d of %d contributions kept, sum %r" % (
        cnt, parts, acc))


# Polls FILE for POLLIN for a minute.
POLLER = r'''
import os, select, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
p = select.poll()
p.register(fd, select.POLLIN)
p.poll(60000)
'''


def test_daemon_stops_while_wait_is_polled(t):
    """A poller of wait at value 0 keeps the semaphore's helper thread
    looking every 100 ms. Told to stop (SIGTERM), the daemon still ends at
    once: the open files, and their pollers, go before it waits for its
    helpers (it used to wait for ever)."""
    name = "polled"
    sem_create(t.posix(name), 0)
    m = t.extra_mount("pollstop", prefix=t.prefix)
    h = t.py(POLLER, os.path.join(m.mnt, "sem", name, "wait"))
    t.wait_blocked(h, "poll")
    os.kill(m.daemon.pid, signal.SIGTERM)
    rc = t.wait_exit(m.daemon, 5)
    t.kill(h)
    if rc is None:
        t.kill(m.daemon)    # hung: the unmount below must not wait on it
    t.true(rc is not None, "the daemon ended within 5 s of SIGTERM",
           "still running")
    t.extra_unmount(m)

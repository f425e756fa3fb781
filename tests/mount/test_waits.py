# SPDX-License-Identifier: GPL-2.0-or-later
"""Waiting, signals and poll, as DESIGN.md promises them of every kind:
each scenario runs once per kind (kinds.py says how to make a kind's object
wait, give it a unit, and see what it holds).

  * a blocked reader (queues' data, stream and framed, channels' data,
    semaphores' wait and hold) is woken by a unit given from outside, and
    rmdir ends it at once, as it does a parked writer (queues, channels);
  * a signal ends a wait at once, and the interrupted wait took nothing:
    SIGINT (timeout -s INT 1) and kill -9, of a blocked reader (queues'
    data, stream and framed, channels' data, semaphores' wait and hold) and
    of a blocked writer (queues, channels);
  * poll on a file that waits is truthful: no POLLIN while there is
    nothing, a poll asleep is woken by a unit, and polling takes nothing;
  * a writer parked on a full object does not trap other writers: they
    die of kill -9 at once; nor calls on its path (utime, truncate,
    chmod), which end at once;
  * a program writing to /dev/stdout, which is a queue's `data`, shares
    the open file's inode, as on any file.
"""

import os
import select
import signal
import threading
import time

import pytest

from harness import Harness
from kinds import PARKABLES, WAITABLES
from procs import WRITER, proc_state

# mq_maxmsg=3: a queue is full with three messages.
H = Harness("waits", mq_maxmsg=3, mq_msgsize=256)

waitables = pytest.mark.parametrize("w", WAITABLES, ids=str)
pollables = pytest.mark.parametrize(
    "w", [w for w in WAITABLES if w.call == "read"], ids=str)
parkables = pytest.mark.parametrize("k", PARKABLES, ids=str)


def served(t, kind):
    """Skip where the tree does not serve KIND."""
    if kind not in t.kinds():
        t.skip("no %s/ in this tree" % kind)


# ---------------------------------------------------------------------------
# Blocked readers


@waitables
def test_sigint_ends_wait_and_takes_nothing(t, w):
    served(t, w.kind)
    w.make(t, "int")
    rc, out, err = t.run_interrupted(w.argv(t, "int"),
                                     "timeout -s INT 1 on %s" % w)
    t.eq((rc, out), (124, b""), "timeout -s INT 1 on %s (status, out)" % w)
    t.eq(w.level(t, "int"), 0, "%s: nothing there after the interrupted "
         "wait" % w)
    w.give(t, "int")
    w.took_nothing(t, "int", "%s: after a give that followed the "
                   "interrupted wait" % w)


@waitables
def test_kill9_blocked_reader_takes_nothing(t, w):
    served(t, w.kind)
    w.make(t, "k9")
    p = t.spawn(w.argv(t, "k9"))
    t.wait_blocked(p, w.call)
    rc = t.kill9(p, "a blocked %s" % w)
    t.eq(rc, -signal.SIGKILL, "status of the killed %s" % w)
    w.after_kill(t, "k9")
    w.give(t, "k9")
    w.took_nothing(t, "k9", "%s: after a give that followed the kill" % w)


@waitables
def test_blocked_reader_woken_by_a_give(t, w):
    served(t, w.kind)
    w.make(t, "wk")
    p = w.waiter(t, "wk")
    t.still_waiting(p, "%s: the waiter waits while there is nothing" % w,
                    0.3)
    t0 = time.monotonic()
    w.give(t, "wk")
    rc, out, err = t.finish(p, 3)
    el = time.monotonic() - t0
    t.eq((rc, out, err), (0, w.took, b""), "%s: the woken waiter (status, "
         "out, err)" % w)
    t.true(el < w.wake_bound, "%s: woken in < %g s" % (w, w.wake_bound),
           "%.2fs" % el)
    t.settle(lambda: w.level(t, "wk"), w.kept, "%s: what is left once the "
             "woken waiter is gone" % w, 0.3)


@waitables
def test_rmdir_ends_blocked_reader(t, w):
    served(t, w.kind)
    w.make(t, "rm")
    p = w.waiter(t, "rm")
    t0 = time.monotonic()
    w.remove(t, "rm")
    rc, out, err = t.finish(p, 3)
    el = time.monotonic() - t0
    t.eq((rc, out, err), w.at_rmdir + (b"",), "%s: the blocked waiter "
         "after rmdir (status, out, err)" % w)
    t.true(el < w.wake_bound, "%s: ended in < %g s" % (w, w.wake_bound),
           "%.2fs" % el)
    w.gone(t, "rm", str(w))


@pollables
def test_poll_before_and_after(t, w):
    served(t, w.kind)
    w.make(t, "pl")
    IN = select.POLLIN
    fd = t.open(w.path(t, "pl"), os.O_RDONLY | os.O_NONBLOCK, 5)
    ev = t.revents(fd, IN)
    t.true(not ev & IN, "%s: no POLLIN while there is nothing" % w,
           "revents %#x" % ev)
    ev = t.revents(fd, IN, 300)
    t.true(not ev & IN, "%s: no POLLIN within 300 ms" % w,
           "revents %#x" % ev)
    # Asleep in poll(2) when the unit comes: another thread gives it.
    timer = threading.Timer(0.3, w.give, (t, "pl"))
    timer.start()
    try:
        t0 = time.monotonic()
        ev = t.revents(fd, IN, 3000)
        el = time.monotonic() - t0 - 0.3
    finally:
        timer.join()
    t.true(ev & IN and el < w.wake_bound, "%s: a poll asleep is woken "
           "within %g s of a give" % (w, w.wake_bound),
           "revents %#x after %.2fs" % (ev, el))
    ev = t.revents(fd, IN)
    t.true(ev & IN, "%s: POLLIN while a unit is there" % w,
           "revents %#x" % ev)
    t.close(fd)
    w.took_nothing(t, "pl", "%s: polls took nothing" % w, interrupted=False)


# ---------------------------------------------------------------------------
# Blocked writers


def park_writer(t, k, name, msg):
    """Fill object NAME and park a writer of MSG on it (its own open and
    write(2)): (what was in it, the writer)."""
    pre = k.fill(t, name)
    p = t.py(WRITER, k.data(t, name), msg.decode())
    t.wait_blocked(p, "write")
    return pre, p


@parkables
def test_interrupted_writer_puts_nothing(t, k):
    served(t, k.kind)
    pre = k.fill(t, "iw")
    rc, out, err = t.run_interrupted(
        ["sh", "-c", 'echo intr > "$1"', "sh", k.data(t, "iw")],
        "timeout -s INT 1 of a blocked writer")
    t.eq(rc, 124, "status of timeout")
    t.settle(lambda: k.level(t, "iw"), k.full, "%s: what it holds after "
             "the interrupted writer" % k)
    t.eq(k.take(t, "iw"), pre, "%s: contents unchanged" % k)
    t.settle(lambda: k.level(t, "iw"), 0, "%s: nothing put late once "
             "there is room" % k)


@parkables
def test_kill9_blocked_writer_puts_nothing(t, k):
    served(t, k.kind)
    pre, p = park_writer(t, k, "kw", b"killed")
    t.kill9(p, "a blocked writer")
    k.after_kill(t, "kw")
    t.settle(lambda: k.level(t, "kw"), k.full, "%s: what it holds after "
             "the kill" % k)
    t.eq(k.take(t, "kw"), pre, "%s: contents unchanged" % k)
    t.settle(lambda: k.level(t, "kw"), 0, "%s: nothing from the killed "
             "writer arrives late" % k)


@parkables
def test_rmdir_ends_parked_writer(t, k):
    served(t, k.kind)
    pre, p = park_writer(t, k, "rmw", b"blocked")
    t0 = time.monotonic()
    k.remove(t, "rmw")
    rc, out, err = t.finish(p, 3)
    el = time.monotonic() - t0
    t.eq(out, k.at_rmdir, "%s: errno of the parked writer after rmdir" % k)
    t.true(el < 2, "%s: ended in < 2 s" % k, "%.2fs" % el)


@parkables
def test_parked_writer_leaves_the_path_free(t, k):
    # The kernel keeps `data`'s entry, and a parked write holds its inode's
    # lock: a change of attributes by path (touch, truncate) takes that
    # lock first. The daemon has the kernel forget the entry when a write
    # parks, so they look the path up and get an inode of their own.
    served(t, k.kind)
    pre, a = park_writer(t, k, "pf", k.msg)
    data = k.data(t, "pf")
    # Calls on the path itself: touch and truncate(1) open the file first.
    for call in ("os.utime(p)", "os.truncate(p, 0)", "os.chmod(p, 0o600)"):
        p = t.py("import os, sys\np = sys.argv[1]\ntry:\n    %s\n"
                 "except OSError:\n    pass" % call, data)
        t.true(t.wait_exit(p, 2) is not None,
               "%s ends at once behind a parked writer" % call,
               "(state, syscall) %s" % (proc_state(p.pid),))
        t.finish(p, 1)
    t.true(a.poll() is None, "the first writer is still parked")
    t.eq(k.take(t, "pf", a), k.with_msg(pre), "%s: contents" % k)


def test_reopened_standard_output_shares_the_open_file(t):
    # A program told to write to /dev/stdout, whose standard output is a
    # queue's `data`, opens the inode standard output has open (the link
    # leads there, with no lookup): it is let in, as on any file.
    t.mkq("so")
    rc, out, err = t.sh('exec >"$1"; printf a >/dev/stdout && '
                        'printf b >/proc/self/fd/1 && '
                        'sh -c "printf c >/dev/stdout"', t.qpath("so", "data"))
    t.eq((rc, err), (0, b""), "writes through /dev/stdout")
    t.eq([m for m, _ in t.drain("so")], [b"a", b"b", b"c"], "messages")


# Last: if the daemon gets this wrong, the killed writers hang in D state
# until the connection is aborted.
@parkables
def test_parked_writer_does_not_trap_others(t, k):
    served(t, k.kind)
    pre, a = park_writer(t, k, "pk", k.msg)
    t.kill_parked_writers(k.data(t, "pk"))
    t.eq(k.level(t, "pk"), k.full, "%s: what it holds after the kills" % k)
    t.true(a.poll() is None, "the first writer is still parked")
    t.eq(k.take(t, "pk", a), k.with_msg(pre), "%s: contents" % k)
    t.settle(lambda: k.level(t, "pk"), 0, "%s: nothing from the killed "
             "writers arrives late" % k)

# SPDX-License-Identifier: GPL-2.0-or-later
"""Waiting costs no thread: 300 readers blocked on 300 queues leave the tree
responsive, the daemon small, and rmdir ends them all."""

import os
import time

import pytest

from harness import Harness

H = Harness("scale", mq_maxmsg=2, mq_msgsize=64)
N = 300
QUEUES_MAX = "/proc/sys/fs/mqueue/queues_max"


@pytest.mark.deadline(200)
def test_many_blocked_readers(t):
    try:
        with open(QUEUES_MAX) as f:
            if int(f.read()) < N + 100:
                t.set_sysctl(QUEUES_MAX, N + 100)
    except OSError as e:
        t.skip("cannot raise %s: %s" % (QUEUES_MAX, e))
    try:
        names = ["r%03d" % i for i in range(N)]
        with t.within(60, "%d mkdirs" % N):
            for n in names:
                t.mkq(n)
        t.mkq("other")
        procs = [t.spawn(["cat", t.qpath(n, "data")]) for n in names]
        t.wait_all_blocked(procs, "read", 60, "all %d cats block in read" % N)

        threads = t.thread_count()
        t.check("daemon has < 32 threads with %d parked readers" % N,
                threads < 32, "%d threads" % threads)

        t0 = time.monotonic()
        with t.within(10, "ls queues"):
            listed = set(os.listdir(t.qpath("")))
        el = time.monotonic() - t0
        t.check("ls queues takes < 1 s and lists them all",
                el < 1 and listed >= set(names) | {"other"},
                "%.2fs, %d listed" % (el, len(listed)))

        t0 = time.monotonic()
        with t.within(10, "send/receive on another queue"):
            t.write_file(t.qpath("other", "data"), b"ping")
            got = t.read_file(t.qpath("other", "data"), 100)
            count = t.attr(names[0], "count")
        el = time.monotonic() - t0
        t.check("send and receive on another queue take < 1 s",
                el < 1 and got == b"ping" and count == "0\n",
                "%.2fs, got %r, count of %s %r" % (el, got, names[0], count))

        for n in names[:10]:
            t.send(n, b"msg-" + n.encode())
        outs = [t.finish(p, 5)[:2] for p in procs[:10]]
        t.eq(outs, [(0, b"msg-" + n.encode()) for n in names[:10]],
             "the 10 readers woken by a native send")

        t0 = time.monotonic()
        with t.within(60, "%d rmdirs" % N):
            for n in names[10:]:
                t.rmq(n)
        el = time.monotonic() - t0
        end = time.monotonic() + 20
        rcs = [t.wait_exit(p, max(0.0, end - time.monotonic()))
               for p in procs[10:]]
        bad = [(n, rc) for n, rc in zip(names[10:], rcs) if rc != 0]
        t.check("rmdir ends all %d blocked readers with exit 0" % (N - 10),
                not bad, "%d did not, e.g. %s" % (len(bad), bad[:5]))
        t.note("%d rmdirs with parked readers took %.2fs" % (N - 10, el))
        for n in names[:10]:
            t.rmq(n)
        with t.within(10, "ls queues"):
            left = set(os.listdir(t.qpath(""))) & set(names)
        t.eq(left, set(), "queues left after rmdir")
    finally:
        t.restore_sysctls()

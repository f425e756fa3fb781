# SPDX-License-Identifier: GPL-2.0-or-later
"""Ten thousand parked readers stay cheap (issue 14): a queue's, a
channel's, a System V queue's, a topic's readers and a semaphore's waiters,
2000 of each, all parked at once from one process of small threads
(parkers.c). The daemon keeps its threads, grows by less than 16 KiB a
waiter, lists its tree in less than 100 ms, and rmdir of the objects ends
every one of them within 2 s: EOF for the readers, EIDRM for the waits."""

import os
import resource
import time

import pytest

from harness import Harness
from mount import ROOT

# sem_value=0: waits park; max_user_files: one user holds them all.
H = Harness("wscale", sem_value=0, max_user_files=30000)
N = 10000
OBJECTS = 2  # of each kind
# kind, the file the readers read, and what each of them ends with.
READS = [("queues", "data", "read 0"), ("channels", "data", "read 0"),
         ("topics", "data", "read 0"), ("sysv/msg", "data", "read 0"),
         ("sem", "wait", "read -EIDRM")]
PARKERS = os.environ.get("IPCFS_PARKERS") or os.path.join(
    ROOT, "build", "tests", "parkers")


def status(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def sanitized(pid):
    """Whether the daemon runs under ASan, whose allocator keeps what is
    freed (its quarantine): its RSS tells nothing of ours."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def waiters(t, dirs):
    n = 0
    for d in dirs:
        with open(os.path.join(d, "waiters"), "rb") as f:
            n += f.read().count(b"\n")
    return n


@pytest.mark.deadline(200)
def test_ten_thousand_parked_readers(t):
    if not os.access(PARKERS, os.X_OK):
        t.fail("%s is not built" % PARKERS)
    kinds = set(t.kinds())
    reads = [r for r in READS if r[0] in kinds]
    dirs, paths = [], []
    for kind, file, _ in reads:
        for i in range(OBJECTS):
            name = t.objname(kind, "w%d" % i)
            dirs.append(t.mkobj(kind, name))
            paths.append(os.path.join(dirs[-1], file))
    # Each process opens at most what its descriptor limit allows.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    per = min(N, hard - 64)
    per -= per % len(paths)  # an equal share of each process's threads
    pid = t.daemon.pid
    threads0, rss0 = t.thread_count(), status(pid, "VmRSS")

    procs, left = [], N
    while left > 0:
        # Thread i reads paths[i % len]; parkers raises its soft limit of
        # descriptors to the hard one.
        n = min(per, left)
        procs.append(t.spawn([PARKERS, str(n)] + paths))
        left -= n
    end = time.monotonic() + 60
    while waiters(t, dirs) < N and time.monotonic() < end:
        time.sleep(0.2)
    parked = waiters(t, dirs)
    t.eq(parked, N, "readers listed in the objects' waiters files")

    threads, rss = t.thread_count(), status(pid, "VmRSS")
    t.true(threads <= threads0 + 16 and threads < 32, "the daemon's threads "
           "stay flat with %d parked" % N, "%d before, %d with them" %
           (threads0, threads))
    per_waiter = (rss - rss0) * 1024 / N
    t.note("daemon: %d threads, RSS %d KiB -> %d KiB, %.0f bytes a waiter"
           % (threads, rss0, rss, per_waiter))
    if sanitized(pid):
        t.note("memory not judged: the daemon runs under ASan")
    else:
        t.true(per_waiter < 16384, "daemon memory per parked waiter < 16 KiB",
               "%.0f bytes" % per_waiter)

    t0 = time.monotonic()
    for kind in kinds:
        for name in os.listdir(os.path.join(t.mnt, kind)):
            os.listdir(os.path.join(t.mnt, kind, name))
    listed = time.monotonic() - t0
    t.true(listed < 0.1, "listing every kind and object < 100 ms",
           "%.0f ms" % (listed * 1000))
    t0 = time.monotonic()
    rc, _, err = t.run([t.ipcctl, "ls", t.mnt], timeout=10)
    t.eq((rc, err), (0, b""), "ipcctl ls with %d waiters" % N)
    t.note("listing: %.0f ms, ipcctl ls %.0f ms" % (
        listed * 1000, (time.monotonic() - t0) * 1000))

    t0 = time.monotonic_ns()
    for kind, _, _ in reads:
        for i in range(OBJECTS):
            t.rmobj(kind, t.objname(kind, "w%d" % i))
    outcomes, last = {}, 0
    for p in procs:
        rc, out, err = t.finish(p, 30)
        t.eq((rc, err), (0, b""), "parkers exits clean")
        for line in out.decode().splitlines():
            what, _, n = line.rpartition(" ")
            if what == "last":
                last = max(last, int(n))
            elif what.endswith(":"):
                outcomes[what[:-1]] = outcomes.get(what[:-1], 0) + int(n)
    want = {}
    for _, _, end in reads:
        want[end] = want.get(end, 0) + N // len(reads)
    t.eq(outcomes, want, "how the %d readers ended" % N)
    t.true(last - t0 < 2e9, "every reader ended within 2 s of the first "
           "rmdir", "the last after %.2f s" % ((last - t0) / 1e9))
    t.note("the last reader ended %.0f ms after the first rmdir"
           % ((last - t0) / 1e6))

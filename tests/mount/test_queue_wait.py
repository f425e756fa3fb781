# SPDX-License-Identifier: GPL-2.0-or-later
"""Waiting on queues: a blocked stream reader takes each message, two
blocked readers one each, blocked writers are woken by receives, and many
readers and writers lose nothing. What every blocking kind shares -- a
blocked reader woken by a send, rmdir ends waits, signals (SIGINT via
timeout(1), kill -9) end a wait at once and the interrupted operation takes
nothing, parked writers do not trap other writers in the kernel -- is in
test_waits.py."""

import time

from harness import Harness
from procs import WRITER

H = Harness("wait", mq_maxmsg=3, mq_msgsize=256)
FULL = [b"m1", b"m2", b"m3"]


def fill(t, name):
    for m in FULL:
        t.send(name, m)
    t.eq(t.count(name), 3, "queue full")


def park_writer(t, name, msg):
    """Make queue NAME, fill it, and park a writer of MSG on it (its own
    open and write(2)): the writer."""
    t.mkq(name)
    fill(t, name)
    w = t.py(WRITER, t.qpath(name, "data"), msg)
    t.wait_blocked(w, "write")
    return w


def test_blocked_stream_reader_takes_each(t):
    t.mkq("sw")
    p = t.spawn(["cat", t.qpath("sw", "stream")])
    t.wait_blocked(p, "read")
    got = b""
    for m in (b"a\n", b"bb\n", b"ccc\n"):
        t.send("sw", m)
        got += t.read_until(p, m, 2)
    t.eq(got, b"a\nbb\nccc\n", "cat stream output")
    t.still_waiting(p, "cat stream keeps waiting", 0.2)
    t.eq(t.count("sw"), 0, "count")


def test_two_blocked_readers_one_message_each(t):
    t.mkq("two")
    ps = [t.spawn(["cat", t.qpath("two", "data")]) for _ in range(2)]
    for p in ps:
        t.wait_blocked(p, "read")
    t.send("two", b"x")
    t.send("two", b"y")
    outs = sorted(t.finish(p, 3)[1] for p in ps)
    t.eq(outs, [b"x", b"y"], "what the two cats printed")
    t.eq(t.count("two"), 0, "count")


def test_blocked_writer_woken_by_native_receive(t):
    w = park_writer(t, "wn", "w4")
    t.still_waiting(w, "writer waits while the queue is full", 0.3)
    t.eq(t.recv("wn"), (b"m1", 0), "native receive")
    rc, out, err = t.finish(w, 2)
    t.eq((rc, out), (0, b"wrote 2\n"), "writer (status, out)")
    t.eq([m for m, _ in t.drain("wn")], [b"m2", b"m3", b"w4"], "contents")


def test_blocked_writer_woken_by_cat(t):
    w = park_writer(t, "wc", "w4")
    rc, out, err = t.run(["cat", t.qpath("wc", "data")])
    t.eq((rc, out), (0, b"m1"), "cat data")
    rc, out, err = t.finish(w, 2)
    t.eq((rc, out), (0, b"wrote 2\n"), "writer (status, out)")
    t.eq([m for m, _ in t.drain("wc")], [b"m2", b"m3", b"w4"], "contents")


STREAM_READER = r'''
import json, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
got = []
while True:
    b = os.read(fd, 4096)
    if not b:
        break
    got.append(b.decode())
print(json.dumps(got))
'''

DATA_READER = r'''
import json, os, sys
got = []
while True:
    try:
        fd = os.open(sys.argv[1], os.O_RDONLY)
    except OSError:
        break
    b = c = os.read(fd, 4096)
    while c:
        c = os.read(fd, 4096)
        b += c
    os.close(fd)
    if not b:
        break
    got.append(b.decode())
print(json.dumps(got))
'''

MULTI_WRITER = r'''
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
for j in range(int(sys.argv[3])):
    os.write(fd, ("%s-%d" % (sys.argv[2], j)).encode())
'''


def test_many_writers_and_readers_lose_nothing(t):
    # Writers park on a full queue (maxmsg 3) and readers on an empty one,
    # over and over: every message is delivered exactly once.
    import json
    t.mkq("mx")
    data = t.qpath("mx", "data")
    readers = [t.py(STREAM_READER, t.qpath("mx", "stream")) for _ in range(3)]
    readers.append(t.py(DATA_READER, data))
    for p in readers:
        t.wait_blocked(p, "read")
    want = []
    writers = []
    for i in range(10):
        writers.append(t.spawn(
            ["sh", "-c", 'for j in 0 1 2 3 4 5 6 7 8 9; do '
             'printf "s%s-%s" "$1" "$j" > "$2" || exit 1; done',
             "sh", str(i), data]))
        want += ["s%d-%d" % (i, j) for j in range(10)]
    for i in range(5):
        writers.append(t.py(MULTI_WRITER, data, "p%d" % i, "10"))
        want += ["p%d-%d" % (i, j) for j in range(10)]
    for p in writers:
        rc, out, err = t.finish(p, 20)
        t.eq((rc, err), (0, b""), "writer `%s`" % p.what)
    end = time.monotonic() + 5
    while t.count("mx") and time.monotonic() < end:
        time.sleep(0.05)
    time.sleep(0.3)
    t.rmq("mx")
    got = []
    for p in readers:
        rc, out, err = t.finish(p, 5)
        t.eq(rc, 0, "reader (stderr %r)" % err[-200:])
        got += json.loads(out)
    lost = sorted(set(want) - set(got))
    dup = sorted({m for m in got if got.count(m) > 1})
    extra = sorted(set(got) - set(want))
    t.true(not lost and not dup and not extra and len(got) == len(want),
           "every message exactly once", "%d got of %d; lost %s, "
           "duplicated %s, unexpected %s" % (len(got), len(want), lost[:5],
                                             dup[:5], extra[:5]))


OPENER = r'''
import errno, json, os, sys
path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
errs = []
for j in range(n):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            os.write(fd, ("%s-%d" % (tag, j)).encode())
        finally:
            os.close(fd)
    except OSError as e:
        errs.append(errno.errorcode[e.errno])
print(json.dumps(errs))
'''

DRAINER = r'''
import json, os, sys, time
path, n = sys.argv[1], int(sys.argv[2])
got = []
end = time.monotonic() + 30
while len(got) < n and time.monotonic() < end:
    fd = os.open(path, os.O_RDONLY)
    got.append(os.read(fd, 256).decode())
    os.close(fd)
print(json.dumps(got))
'''


def test_racing_opens_share_no_inode_and_see_no_error(t):
    # The kernel keeps `data`'s entry, so an open may reach a node already
    # open (another writer's, parked on the full queue): the daemon answers
    # ESTALE and the kernel looks the path up again, getting a node of its
    # own (DESIGN §3). Thousands of such races: none reaches a caller, and
    # every message arrives once. A parked writer holds a node throughout.
    import json
    w = park_writer(t, "race", "held")
    data = t.qpath("race", "data")
    openers = [t.py(OPENER, data, "o%d" % i, "300") for i in range(6)]
    drain = t.py(DRAINER, data, str(3 + 1 + 6 * 300))
    for p in openers:
        rc, out, err = t.finish(p, 60)
        t.eq((rc, json.loads(out or "null"), err), (0, [], b""),
             "opener `%s`: no open or write failed" % p.what)
    rc, out, err = t.finish(drain, 60)
    t.eq((rc, err), (0, b""), "drainer")
    got = json.loads(out)
    want = [m.decode() for m in FULL] + ["held"]
    want += ["o%d-%d" % (i, j) for i in range(6) for j in range(300)]
    t.eq(sorted(got), sorted(want), "every message exactly once")
    t.eq(t.finish(w, 5)[0], 0, "the parked writer finished")

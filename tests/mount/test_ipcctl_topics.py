# SPDX-License-Identifier: GPL-2.0-or-later
"""ipcctl and topics/ (issue 11): publish, subscribe, ls -T, ls -g.

  * publish: one write of exactly MESSAGE (no newline added) to data;
    an empty MESSAGE is bad usage; a directory that is no topic is refused
    before its data is opened;
  * subscribe: every message from its open on, one per read, a newline
    after one that ends in none; --count N ends 0 after N; --timeout S ends
    124 after S seconds in all (nothing printed where nothing came, and
    also while messages keep coming); end-of-file (rmdir) ends 0; two
    subscribers both get a message; a waiting subscriber is in `waiters`;
  * ls: SUBSCRIBERS PUBLISHED DROPPED BACKLOG (JSON numbers, null for the
    other kinds), -T alone and with -Q, SUBSCRIBERS among the default
    columns, ls never a subscriber itself; ls -g's TOPICMEM row;
  * usage errors exit 2, failures 1 with "ipcctl: PATH: error".

Every test is skipped where the daemon has no topics/ (built without
backends/topic.c).
"""

import json
import os
import time

import pytest

from harness import Harness
from procs import PIPE

H = Harness("ipctopic")

MIB = 1 << 20

# Reads N messages of data, one read of 1 MiB + 1 each, and prints them as
# a JSON list of latin-1 strings: what a plain reader gets.
RAW_READER = r'''
import json, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print("open", flush=True)
got = [os.read(fd, (1 << 20) + 1).decode("latin-1")
       for _ in range(int(sys.argv[2]))]
print(json.dumps(got), flush=True)
'''


@pytest.fixture(autouse=True)
def _topics(t):
    if not os.path.isdir(os.path.join(t.mnt, "topics")):
        t.skip("this ipcfs has no topics/ (built without backends/"
               "topic.c): nothing to publish to")


# ---------------------------------------------------------------------------
# Helpers


def ipcctl(t, *args, timeout=5):
    """$IPCCTL ARGS, bounded: (status, stdout, stderr)."""
    return t.run([t.ipcctl] + [str(a) for a in args], timeout=timeout)


def number(t, name, file):
    """The number in topics/NAME/FILE; of `waiters`, how many lines."""
    text = t.read_file(t.path("topics", name, file), timeout=2)
    return text.count(b"\n") if file == "waiters" else int(text)


def soon(t, name, file, want, what, timeout=3.0):
    """topics/NAME/FILE reads the number WANT within TIMEOUT s."""
    got = t.wait_value(lambda: number(t, name, file), want, timeout)
    t.eq(got, want, what)


def subscriber(t, d, *opts):
    """`ipcctl subscribe OPTS D`, once it waits in its read of data."""
    p = t.spawn([t.ipcctl, "subscribe"] + list(opts) + [d])
    t.wait_blocked(p, "read")
    return p


def publish(t, d, msg):
    rc, out, err = ipcctl(t, "publish", d, msg)
    t.eq((rc, out, err), (0, b"", b""), "publish %r (status, out, err)" %
         msg)


def ls_json(t, *args):
    rc, out, err = ipcctl(t, "ls", "-J", *(list(args) + [t.mnt]))
    t.eq((rc, err), (0, b""), "ls -J %s (status, stderr)" % " ".join(args))
    # sysv/ shows the machine's System V objects; this file makes none
    return [o for o in json.loads(out)["objects"]
            if not o.get("kind", "").startswith("sysv/")]


# ---------------------------------------------------------------------------
# publish and subscribe


def test_publish_then_subscribe_count(t):
    d = t.mkobj("topics", "news")
    p = subscriber(t, d, "--count", "3")
    raw = t.py(RAW_READER, t.path("topics", "news", "data"), "3",
               stdout=PIPE)
    t.true(b"open" in t.read_until(raw, b"open\n", 5), "raw reader opened")
    soon(t, "news", "subscribers", 2, "two subscribers")
    for m in ("one", "two\n", "-thr ee"):
        publish(t, d, m)
    rc, out, err = t.finish(p, 5)
    t.eq((rc, out, err), (0, b"one\ntwo\n-thr ee\n", b""), "subscribe "
         "--count 3: each message, a newline where it had none, exit 0")
    rc, out, err = t.finish(raw, 5)
    t.eq((rc, json.loads(out.splitlines()[-1])), (0, ["one", "two\n",
                                                      "-thr ee"]),
         "what publish wrote: exactly MESSAGE, one write each")
    t.eq(number(t, "news", "published"), 3, "published")
    soon(t, "news", "subscribers", 0, "no subscriber left")
    # --count 1 with -c, and a message published before it opened is not
    # its: it waits for the next one.
    publish(t, d, "before")
    p = subscriber(t, d, "-c", "1")
    publish(t, d, "after")
    t.eq(t.finish(p, 5), (0, b"after\n", b""), "subscribe -c 1")


def large(t, name, sizes):
    """subscribe --count of messages of SIZES, written directly (an
    argument of publish is at most 128 KiB) but the last, published: each
    must come out whole, one read each, with its newline."""
    d = t.mkobj("topics", name)
    p = subscriber(t, d, "--count", str(len(sizes)))
    msgs = [bytes([ord("a") + i]) * n for i, n in enumerate(sizes)]
    for m in msgs[:-1]:
        t.write_file(t.path("topics", name, "data"), m)
    publish(t, d, msgs[-1].decode())
    rc, out, err = t.finish(p, 10)
    t.eq((rc, err), (0, b""), "subscribe --count %d of large messages" %
         len(sizes))
    t.eq([len(x) for x in out.split(b"\n")], sizes + [0],
         "each message whole, with its newline")
    t.true(out == b"\n".join(msgs) + b"\n", "the bytes of each")


def test_subscribe_large_messages(t):
    large(t, "big", [200 * 1024, 960 * 1024, 128 * 1024 - 1])


def test_subscribe_largest_message(t):
    """The largest message, 1 MiB less a page (what one FUSE request always
    carries whole, whatever the buffer's alignment), comes out whole; 1 MiB
    is refused (EMSGSIZE), nothing published."""
    large(t, "mib", [MIB - 4096, 1])
    rc, out, err = t.run(["dd", "if=/dev/zero", "bs=%d" % MIB, "count=1",
                          "of=" + t.path("topics", "mib", "data"),
                          "status=none"], timeout=5)
    t.true(rc != 0 and b"Message too long" in err, "1 MiB: EMSGSIZE",
           err.decode())


def test_subscribe_timeout(t):
    d = t.mkobj("topics", "quiet")
    t0 = time.monotonic()
    rc, out, err = ipcctl(t, "subscribe", "--timeout", "0.5", d)
    el = time.monotonic() - t0
    t.eq((rc, out, err), (124, b"", b""), "subscribe --timeout 0.5 with "
         "nothing published (status, out, err)")
    t.true(0.5 <= el < 2.0, "it took [0.5, 2) s", "%.2fs" % el)
    rc, out, err = ipcctl(t, "subscribe", "--timeout", "0", "--count", "1",
                          d)
    t.eq((rc, out, err), (124, b"", b""), "subscribe --timeout 0")
    soon(t, "quiet", "subscribers", 0, "no subscriber left")
    soon(t, "quiet", "waiters", 0, "no waiter left")


def test_subscribe_timeout_is_total(t):
    """--timeout is the whole run's, as timeout(1)'s: messages every 50 ms
    do not keep it going; what came is printed."""
    d = t.mkobj("topics", "busy")
    data = t.path("topics", "busy", "data")
    pub = t.sh('while :; do printf x >"$1" || exit 1; sleep 0.05; done',
               data, timeout=None)
    t0 = time.monotonic()
    rc, out, err = ipcctl(t, "subscribe", "--timeout", "1", d)
    el = time.monotonic() - t0
    t.kill(pub)
    t.eq((rc, err), (124, b""), "subscribe --timeout 1 of a busy topic")
    t.true(1.0 <= el < 2.5, "it took [1, 2.5) s", "%.2fs" % el)
    t.true(out and out == b"x\n" * (len(out) // 2), "it printed what came",
           repr(out[:60]))


def test_subscribe_ends_at_rmdir(t):
    d = t.mkobj("topics", "gone")
    p = subscriber(t, d)
    q = subscriber(t, d, "--timeout", "30")
    soon(t, "gone", "waiters", 2, "two waiting subscribers in waiters")
    publish(t, d, "last")
    t.rmobj("topics", "gone")
    t.eq(t.finish(p, 3), (0, b"last\n", b""), "subscribe at rmdir: what "
         "came, then exit 0")
    t.eq(t.finish(q, 3), (0, b"last\n", b""), "subscribe --timeout 30 at "
         "rmdir")


def test_two_subscribers(t):
    d = t.mkobj("topics", "both")
    a = subscriber(t, d, "--count", "1")
    b = subscriber(t, d, "--count", "2")
    soon(t, "both", "subscribers", 2, "two subscribers")
    publish(t, d, "hello")
    t.eq(t.finish(a, 3), (0, b"hello\n", b""), "the first got it")
    publish(t, d, "again")
    t.eq(t.finish(b, 3), (0, b"hello\nagain\n", b""), "the second got both")


def test_subscribe_to_a_pipe_flushes_each(t):
    """Each message is out at once, not when the buffer fills or at exit."""
    d = t.mkobj("topics", "pipe")
    p = subscriber(t, d)
    for m in (b"first", b"second"):
        publish(t, d, m.decode())
        got = t.read_until(p, m + b"\n", 3)
        t.eq(got, m + b"\n", "%s on the pipe before the next" % m.decode())


# ---------------------------------------------------------------------------
# ls


def test_ls_topics_columns(t):
    t.mkq("q")
    t.mkobj("sem", "s")
    a = t.mkobj("topics", "a")
    t.mkobj("topics", "b")
    t.write_file(t.path("topics", "b", "backlog"), b"2\n")
    t.open(t.path("topics", "b", "data"), os.O_RDONLY)  # it never reads
    for m in ("1", "2", "3", "4", "5"):
        publish(t, t.path("topics", "b"), m)
    publish(t, a, "x")
    w = subscriber(t, a)
    cols = ["kind", "name", "subscribers", "published", "dropped",
            "backlog", "waiters"]
    want = [dict(kind="topics", name="a", subscribers=1, published=1,
                 dropped=0, backlog=1024, waiters=1),
            dict(kind="topics", name="b", subscribers=1, published=5,
                 dropped=3, backlog=2, waiters=0)]
    for i in range(2):      # ls opened no data: the same twice
        t.eq(ls_json(t, "-T", "-o", ",".join(cols)), want,
             "ls -T -J -o %s (run %d)" % (",".join(cols), i + 1))
    objs = ls_json(t, "-o", ",".join(cols))
    t.eq([o["kind"] for o in objs], ["queues", "sem", "topics", "topics"],
         "ls -o ...: every kind, topics last (of those this file makes)")
    for o in objs[:2]:
        t.eq([o[c] for c in cols[2:6]], [None] * 4, "%s/%s: the topic "
             "columns null" % (o["kind"], o["name"]))
    t.eq([(o["kind"], o["name"]) for o in ls_json(t, "-T", "-Q")],
         [("queues", "q"), ("topics", "a"), ("topics", "b")], "ls -T -Q")
    t.eq([o["subscribers"] for o in ls_json(t, "--topics")], [1, 1],
         "--topics, default columns: SUBSCRIBERS")
    rc, out, err = ipcctl(t, "ls", "-T", "-r", "-o",
                          "name,subscribers,published,dropped,backlog", t.mnt)
    t.eq((rc, out, err), (0, b"NAME SUBSCRIBERS PUBLISHED DROPPED BACKLOG\n"
                          b"a 1 1 0 1024\nb 1 5 3 2\n", b""), "ls -T -r")
    t.kill(w)


def test_ls_global_topic_memory(t):
    limit = int(os.getxattr(t.mnt, "user.ipcfs.option.topic_max_total"))
    rc, out, err = ipcctl(t, "ls", "-g", "-J", t.mnt)
    t.eq((rc, err), (0, b""), "ls -g -J")
    rows = {r["resource"]: r for r in json.loads(out)["limits"]}
    t.eq(rows.get("TOPICMEM"), {"resource": "TOPICMEM",
                                "description": "topic memory of the mount",
                                "limit": limit, "used": None,
                                "use%": None},
         "TOPICMEM: -o topic_max_total, used unknown")
    with t.extra_tree("ipctopic2", topic_max_total=3 * MIB) as m:
        rc, out, err = ipcctl(t, "ls", "-g", "-J", "-o", "resource,limit",
                              m.mnt)
        t.eq((rc, err), (0, b""), "ls -g -J of a mount with topic_max_total")
        t.true({"resource": "TOPICMEM", "limit": 3 * MIB} in
               json.loads(out)["limits"], "its TOPICMEM limit", repr(out))


# ---------------------------------------------------------------------------
# Errors


def test_usage_errors(t):
    d = t.mkobj("topics", "u")
    for args in (["publish"], ["publish", d], ["publish", d, "a", "b"],
                 ["publish", d, ""], ["publish", "--bad", d, "x"],
                 ["subscribe"], ["subscribe", d, d],
                 ["subscribe", "--count", "0", d],
                 ["subscribe", "--count", "-1", d],
                 ["subscribe", "--count", "x", d],
                 ["subscribe", "--count", "", d],
                 ["subscribe", "--timeout", "-1", d],
                 ["subscribe", "--timeout", "soon", d],
                 ["subscribe", "--bad", d],
                 ["ls", "-g", "-T", t.mnt]):
        rc, out, err = ipcctl(t, *args)
        t.eq((rc, out), (2, b""), "ipcctl %s (status, out)" % args)
        t.true(err.startswith(b"ipcctl") or b"usage" in err,
               "ipcctl %s: a message" % args, repr(err))
    t.eq(number(t, "u", "published"), 0, "nothing published")
    for v in ("publish", "subscribe"):
        rc, out, err = ipcctl(t, v, "--help")
        t.true(rc == 0 and err == b"" and b"usage: ipcctl " + v.encode() in
               out, "%s --help" % v, repr(out[:100]))


def test_failures(t):
    q = t.mkq("notatopic")
    nope = t.path("topics", "nope")
    for verb, rest in (("publish", ["m"]), ("subscribe", [])):
        rc, out, err = ipcctl(t, verb, nope, *rest)
        t.eq((rc, out, err), (1, b"", b"ipcctl: %s: No such file or "
                              b"directory\n" % nope.encode()),
             "%s of a missing topic" % verb)
        rc, out, err = ipcctl(t, verb, q, *rest)
        t.eq((rc, out, err), (1, b"", b"ipcctl: %s: not a topic\n" %
                              q.encode()), "%s of a queue" % verb)
    t.eq(t.count("notatopic"), 0, "the queue got nothing")
    # A message past the mount's -o topic_max_total: refused, told, 1.
    with t.extra_tree("ipctopic3", topic_max_total=4096) as m:
        small = os.path.join(m.mnt, "topics", "small")
        with m.within(5, "mkdir %s" % small):
            os.mkdir(small)
        fd = t.open(os.path.join(small, "data"), os.O_RDONLY)
        rc, out, err = ipcctl(t, "publish", small, "x" * 5000)
        t.close(fd)
        t.eq((rc, out, err), (1, b"", b"ipcctl: %s/data: No space left on "
                              b"device\n" % small.encode()),
             "publish past topic_max_total")
        t.eq(int(t.read_file(os.path.join(small, "published"))), 0,
             "nothing published")

# SPDX-License-Identifier: GPL-2.0-or-later
"""pgtest - what the mount tests of the PostgreSQL engine share.

Two mounts of one database stand for two hosts: the file's tree, A (t),
and t.other_mount(), B, on the same prefix (pg.py). These helpers name a
file of either, quote SQL, run the numbered producers and consumers whose
counts say "none lost, none duplicated", and put away a mount whose daemon
a test killed.
"""

import contextlib
import errno
import json
import os
import socket
import time

from mount import rmdir_patiently
from pg import pg_environ
from procs import PIPE, errname

RD_NB = os.O_RDONLY | os.O_NONBLOCK
WR_NB = os.O_WRONLY | os.O_NONBLOCK


def at(m, kind, name, *rest):
    """The path of KIND/NAME/... in mount M (A or B)."""
    return os.path.join(m.mnt, kind, name, *rest)


def lit(s):
    """S as an SQL string literal."""
    if isinstance(s, bytes):
        s = s.decode()
    return "'" + s.replace("'", "''") + "'"


def blit(b):
    """Bytes B as an SQL bytea literal."""
    return "'\\x%s'::bytea" % b.hex()


def posix(t, name):
    """The object name the database has for NAME: the prefix applied."""
    return "/" + t.prefix + name


def host():
    return socket.gethostname()


def ls(t, m, kind):
    with t.within(5, "ls %s on %s" % (kind, m.mnt)):
        return sorted(os.listdir(os.path.join(m.mnt, kind)))


def read_attr(t, m, kind, name, attr):
    return t.read_file(at(m, kind, name, attr)).decode()


def take_nb(t, path, size=1 << 20):
    """One message from a fresh O_NONBLOCK open of a queue's data, or None
    when it says EAGAIN (empty)."""
    with t.opened(path, RD_NB, 5, "read %s" % path) as fd:
        try:
            return os.read(fd, size)
        except BlockingIOError:
            return None


def drain(t, path, limit=100000):
    """Every message a queue's data gives until EAGAIN, in order."""
    got = []
    while len(got) < limit:
        m = take_nb(t, path)
        if m is None:
            break
        got.append(m)
    return got


def tally(sent, got):
    """(lost, duplicated, unexpected) of the messages GOT against SENT."""
    seen = {}
    for m in got:
        seen[m] = seen.get(m, 0) + 1
    want = set(sent)
    lost = sorted(m for m in want if m not in seen)
    dup = sorted(m for m, n in seen.items() if n > 1)
    extra = sorted(m for m in seen if m not in want)
    return lost, dup, extra


def exactly_once(t, what, sent, got):
    """Every message of SENT is in GOT exactly once, nothing else is."""
    lost, dup, extra = tally(sent, got)
    t.note("%s: sent %d, received %d, lost %d, duplicated %d" % (
        what, len(sent), len(got), len(lost), len(dup)))
    t.true(not lost and not dup and not extra and len(got) == len(sent),
           "%s: every message exactly once" % what,
           "sent %d, received %d; lost %d %s, duplicated %d %s, "
           "unexpected %d %s" % (len(sent), len(got), len(lost), lost[:5],
                                 len(dup), dup[:5], len(extra), extra[:5]))
    return lost, dup


def in_order_per_producer(t, what, got):
    """In what one consumer got, each producer's numbers increase (a queue
    is first in, first out within one priority)."""
    last = {}
    for m in got:
        tag, _, n = m.rpartition("-")
        n = int(n)
        t.true(n > last.get(tag, -1), "%s: %s's messages in order" % (
            what, tag), "%s after %s-%d" % (m, tag, last.get(tag, -1)))
        last[tag] = n


# A producer: opens a queue's data (argv[1]) once and writes TAG-N
# (argv[2], N from 0) as one message per write(2), argv[3] of them, or
# until the file argv[4] exists ("-": none), at most argv[5] per second
# (0: as fast as it can). Prints "sent N" at the end; a failed write
# prints "ERR NAME at N" and exits 3 (what it sent before is in "sent").
PRODUCER = r'''
import errno, os, sys, time
path, tag, count, stop = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    sys.argv[4]
rate = float(sys.argv[5]) if len(sys.argv) > 5 else 0
fd = os.open(path, os.O_WRONLY)
n = 0
t0 = time.monotonic()
try:
    while n < count and (stop == "-" or not os.path.exists(stop)):
        if rate:
            ahead = t0 + n / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        m = ("%s-%d" % (tag, n)).encode()
        w = os.write(fd, m)
        if w != len(m):
            print("ERR short write %d of %d at %d" % (w, len(m), n))
            print("sent %d" % n, flush=True)
            sys.exit(3)
        n += 1
except OSError as e:
    print("ERR %s at %d" % (errno.errorcode.get(e.errno, e.errno), n))
    print("sent %d" % n, flush=True)
    sys.exit(3)
print("sent %d" % n, flush=True)
'''

# A consumer: reads a queue's stream (argv[1]), one message per read(2),
# until it reads "END"; prints the messages (without END) as a JSON list.
# A failed read ends it with status 3 after printing what it had and the
# error on stderr.
CONSUMER = r'''
import errno, json, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
got = []
code = 0
while True:
    try:
        b = os.read(fd, 1 << 16)
    except OSError as e:
        sys.stderr.write("read: %s after %d\n" % (
            errno.errorcode.get(e.errno, e.errno), len(got)))
        code = 3
        break
    if not b:
        sys.stderr.write("end-of-file after %d\n" % len(got))
        code = 4
        break
    if b == b"END":
        break
    got.append(b.decode())
print(json.dumps(got), flush=True)
sys.exit(code)
'''


def sent_count(t, p, timeout, what):
    """Wait for a PRODUCER: how many it sent; it must have ended well."""
    rc, out, err = t.finish(p, timeout)
    lines = out.decode().split("\n")
    errs = [x for x in lines if x.startswith("ERR")]
    t.eq((rc, errs, err), (0, [], b""), "%s (status, errors, stderr)" % what)
    n = [int(x.split()[1]) for x in lines if x.startswith("sent ")]
    t.true(n, "%s says how many it sent" % what, repr(out[-200:]))
    return n[0]


def consumed(t, p, timeout, what):
    """Wait for a CONSUMER: the messages it got; it must have ended well."""
    rc, out, err = t.finish(p, timeout)
    t.eq((rc, err), (0, b""), "%s (status, stderr)" % what)
    return json.loads(out)


def psql_error(t, sql, what):
    """Run SQL by psql on the test server, expected to fail: its error
    message, with the SQLSTATE (VERBOSITY verbose: "ERROR:  IP002: ...")."""
    rc, out, err = t.run(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-v",
                          "VERBOSITY=verbose", "-c", sql],
                         env=pg_environ(t.pg.env))
    t.true(rc != 0 and b"ERROR" in err, "%s fails" % what,
           "status %d, out %r, err %r" % (rc, out, err))
    return err.decode(errors="replace")


def sqlstate_of(t, sql, state, what):
    """SQL fails with SQLSTATE STATE (schema.sql's IPnnn)."""
    err = psql_error(t, sql, what)
    t.true(("%s:" % state) in err, "%s: SQLSTATE %s" % (what, state),
           err.strip())


class PsqlSession:
    """One psql session on the test server that a test talks to, a
    statement at a time (a program without a mount whose session must
    last: a subscription, a hold). Ended by close() or the teardown."""

    def __init__(self, t):
        self.t = t
        self.p = t.spawn(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1"],
                         stdin=PIPE, env=pg_environ(t.pg.env))

    def query(self, sql, timeout=5):
        """SQL's output, unaligned, without the last newline."""
        self.p.stdin.write((sql.rstrip().rstrip(";") +
                            ";\n\\echo __END__\n").encode())
        self.p.stdin.flush()
        out = self.t.read_until(self.p, b"__END__\n", timeout)
        self.t.true(out.endswith(b"__END__\n"), "psql answers `%s`" % sql,
                    repr(out[-300:]))
        return out[:-len(b"__END__\n")].decode().rstrip("\n")

    def close(self):
        rc, out, err = self.t.finish(self.p, 5, input=b"")
        self.t.eq((rc, err), (0, b""), "the psql session's end")


def discard_killed(t, m):
    """Put away mount M (another tree) whose daemon a test killed:
    unmount it, reap the daemon, remove its mount point and log. The
    harness would count the killed daemon's status as a failure."""
    ok = t.unmount_dir(m.mnt)
    if m in t.extra:
        t.extra.remove(m)
    with contextlib.suppress(Exception):
        m.daemon.wait(5)
    rmdir_patiently(m.mnt)
    with contextlib.suppress(OSError, TypeError):
        os.unlink(m.stderr_path)
    return ok


def errno_of(fn, *args):
    """The errno name fn(*args) fails with, or None if it succeeds."""
    try:
        fn(*args)
    except OSError as e:
        return errname(e.errno)
    return None


def elapsed_since(t0):
    return time.monotonic() - t0


EAGAIN = errno.EAGAIN

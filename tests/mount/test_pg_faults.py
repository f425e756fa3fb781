# SPDX-License-Identifier: GPL-2.0-or-later
"""Faults of the PostgreSQL engine (issue 12, points 1, 2, 3, 9; DESIGN
§6): what the daemon does when the database is not there, restarts,
fails over, or a daemon dies.

  * unreachable database at start (no server, an unknown pg_service):
    exit 1, a message saying so, nothing mounted;
  * a schema `ipcfs` of another version: refused with a message saying
    what to do, and left as it was;
  * the server killed: a new request waits -o pg_timeout, then EIO; a
    request parked before stays parked and resumes once the server is
    back; one log line per outage, not one per request;
  * `pg_ctl restart` under a producer/consumer load on two mounts: every
    message received exactly once, both daemons alive;
  * failover: a primary and its synchronous standby, mounts with
    PGHOST=primary,standby PGTARGETSESSIONATTRS=read-write, producers and
    consumers with sequence numbers running, the primary killed -9 and the
    standby promoted: every message received exactly once;
  * kill -9 of one daemon: its blocked reader ends with an error having
    taken nothing, the other mount goes on, the mount comes back on the
    same mount point with everything there, and the dead mount's row is
    reclaimed.

Two mounts of one database stand for two hosts: A (the file's tree) and
B (t.other_mount(), same prefix). The counts of the restart and failover
runs are printed (`-s` or the log) for the closing notes.
"""

import os
import re
import signal
import tempfile
import time

import pytest

from pg import PgHarness, pg_environ
from pgtest import (CONSUMER, PRODUCER, at, consumed, discard_killed,
                    exactly_once, in_order_per_producer, ls, read_attr,
                    sent_count)
from procs import errname, wait_until

H = PgHarness("pgfault")


def q(m, name, *rest):
    return at(m, "queues", name, *rest)


def attr_or_errno(t, m, kind, name, a):
    """KIND/NAME/A of mount M, or the name of the errno reading it gives."""
    try:
        return read_attr(t, m, kind, name, a)
    except OSError as e:
        return errname(e.errno)


def new_lines(m, since):
    """The lines mount M's daemon wrote to its log after offset SINCE."""
    return [x for x in m.daemon_stderr()[since:].splitlines() if x.strip()]


# ---------------------------------------------------------------------------
# Start


def test_unreachable_database_at_start(t):
    nowhere = tempfile.mkdtemp(prefix="ipcfs-nopg-")
    try:
        env = pg_environ({"PGHOST": nowhere, "PGPORT": "5432",
                          "PGUSER": "postgres", "PGDATABASE": "postgres"})
        t0 = time.monotonic()
        rc, out, err, mounted = t.start_refused(
            "prefix=%snone_,engine=postgresql,pg_timeout=2" % t.prefix,
            timeout=20, env=env)
        el = time.monotonic() - t0
        t.note("no server: exit %s after %.2f s: %s" % (rc, el, err.strip()))
        t.eq((rc, mounted), (1, False), "no server at start (status, "
             "mounted)")
        t.true(re.search(r"connect|reach|postgres|database", err, re.I),
               "the message says the database cannot be reached", err)
        t.true(nowhere in err or "socket" in err.lower() or
               "server" in err.lower(), "the message says where it tried",
               err)
        rc, out, err, mounted = t.start_refused(
            "prefix=%snone_,engine=postgresql,pg_timeout=2,"
            "pg_service=ipcfs_no_such_service" % t.prefix,
            timeout=20, env=pg_environ(t.pg.env))
        t.note("unknown service: exit %s: %s" % (rc, err.strip()))
        t.eq((rc, mounted), (1, False), "-o pg_service of no service "
             "(status, mounted)")
        t.true("ipcfs_no_such_service" in err, "the message names the "
               "service", err)
    finally:
        os.rmdir(nowhere)


def test_bad_engine_options_refused(t):
    """The engine's options with values they cannot have: exit 1, the
    option named, nothing mounted."""
    pfx = "prefix=%sopt_,engine=postgresql" % t.prefix
    for opt in ("pg_timeout=0", "pg_timeout=x", "pg_pool=0",
                "pg_keepalive=-1", "engine=nosuch"):
        rc, out, err, mounted = t.start_refused(pfx + "," + opt, timeout=20)
        t.note("-o %s: exit %s: %s" % (opt, rc, err.strip()))
        t.check("-o %s refused (status 1, nothing mounted)" % opt,
                (rc, mounted) == (1, False), "status %s, mounted %s" % (
                    rc, mounted))
        t.check("-o %s: the message names it" % opt,
                opt.split("=")[0] in err, err)
    # Good values mount (and the tunables are the engine's, not fs/'s).
    m = t.other_mount(tag="opts", pg_timeout=3, pg_pool=2, pg_keepalive=5)
    t.eq(ls(t, m, "queues"), [], "a mount with pg_timeout, pg_pool, "
         "pg_keepalive")


def _set_version(t, db, v):
    """Make the schema ipcfs of database DB say it is version V: its
    ipcfs.version() and the version in ipcfs.meta."""
    psql = lambda sql: t.pg.psql(sql, env=dict(t.pg.env,  # noqa: E731
                                               PGDATABASE=db))
    cols = psql("select column_name from information_schema.columns "
                "where table_schema = 'ipcfs' and table_name = 'meta' "
                "order by ordinal_position").split()
    if "version" in cols:
        psql("update ipcfs.meta set version = %d" % v)
    elif {"key", "value"} <= set(cols):
        psql("update ipcfs.meta set value = '%d' where key = 'version'" % v)
    else:
        t.fail("ipcfs.meta has no version column: %s" % cols)
    psql("create or replace function ipcfs.version() returns int "
         "language sql as 'select %d'" % v)
    return psql


def test_schema_of_another_version_refused(t):
    db = "ipcfs_v99"
    t.pg.psql("drop database if exists %s with (force)" % db)
    t.pg.psql("create database %s" % db)
    try:
        env = pg_environ(dict(t.pg.env, PGDATABASE=db))
        opts = "prefix=%sver_,engine=postgresql,pg_timeout=5" % t.prefix
        # The first mount of an empty database makes the schema.
        m = t.extra_unstarted("v1", prefix=t.prefix + "ver_")
        m.daemon_env = lambda: env
        m.start_daemon()
        t.eq(ls(t, m, "queues"), [], "a first mount of an empty database")
        t.eq(t.extra_unmount(m), [], "its unmount")
        psql = _set_version(t, db, 99)
        rc, out, err, mounted = t.start_refused(opts, timeout=20, env=env)
        t.note("schema version 99: exit %s: %s" % (rc, err.strip()))
        t.eq((rc, mounted), (1, False), "a schema of version 99 (status, "
             "mounted)")
        t.true("99" in err and re.search(r"version", err, re.I),
               "the message names the version found", err)
        t.true(re.search(r"drop|upgrade|migrat|schema", err, re.I),
               "the message says what to do", err)
        t.eq(psql("select ipcfs.version()"), "99", "the schema is left as "
             "it was")
    finally:
        t.pg.psql("drop database if exists %s with (force)" % db)


# ---------------------------------------------------------------------------
# The server down, restarted, failed over


# One request of its own (argv[1]: a file to read), timed: prints
# "ok BYTES SECONDS" or "ERRNAME SECONDS".
TIMED_READ = r'''
import errno, os, sys, time
t0 = time.monotonic()
try:
    fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
    b = os.read(fd, 4096)
    os.close(fd)
    print("ok %r %.3f" % (b, time.monotonic() - t0))
except OSError as e:
    print("%s %.3f" % (errno.errorcode.get(e.errno, e.errno),
                       time.monotonic() - t0))
'''

TIMED_MKDIR = r'''
import errno, os, sys, time
t0 = time.monotonic()
try:
    os.mkdir(sys.argv[1], 0o600)
    print("ok - %.3f" % (time.monotonic() - t0))
except OSError as e:
    print("%s %.3f" % (errno.errorcode.get(e.errno, e.errno),
                       time.monotonic() - t0))
'''


@pytest.mark.deadline(90)
def test_server_down_eio_after_pg_timeout_and_parked_resume(t):
    b = t.other_mount(pg_timeout=2)
    t.mkobj("queues", "down")
    t.mkobj("sem", "down")
    t.eq(t.run(["cat", at(t, "sem", "down", "wait")]), (0, b"", b""),
         "the new semaphore's unit taken: value 0")
    reader = t.spawn(["cat", q(b, "down", "data")])
    waiter = t.spawn(["cat", at(b, "sem", "down", "wait")])
    t.wait_blocked(reader, "read")
    t.wait_blocked(waiter, "read")
    since = len(b.daemon_stderr())
    t.pg.kill9()
    t0 = time.monotonic()
    reqs = [("read of queues/down/%s" % f, t.py(TIMED_READ, q(b, "down", f)))
            for f in ("count", "maxmsg", "msgsize", "data")]
    reqs.append(("read of sem/down/value",
                 t.py(TIMED_READ, at(b, "sem", "down", "value"))))
    reqs.append(("mkdir queues/new", t.py(TIMED_MKDIR, q(b, "new"))))
    results = []
    for what, p in reqs:
        rc, out, err = t.finish(p, 20)
        results.append(out.decode().split())
    t.note("requests while the server is down: %s (in %.2f s)" % (
        results, time.monotonic() - t0))
    for (res, *rest), (what, p) in zip(results, reqs):
        secs = float(rest[-1]) if rest else -1
        t.check("%s while the server is down: EIO" % what, res == "EIO",
                "%s after %.2f s" % (res, secs))
        t.check("%s: EIO after pg_timeout (2 s), not much later" % what,
                1.5 <= secs <= 4.0, "%.2f s" % secs)
    for p, what in ((reader, "cat data"), (waiter, "cat wait")):
        t.still_waiting(p, "B's parked %s stays parked while the server "
                        "is down" % what, 0.1)
    t.pg.start()
    # Back: the parked requests resume, new requests are served.
    t.eq(t.wait_value(lambda: attr_or_errno(t, b, "queues", "down",
                                            "count"), "0\n", 15, 0.1),
         "0\n", "B serves requests again (within 15 s)")
    t.eq(t.write_file(q(t, "down", "data"), b"after"), 5, "write on A")
    t.eq(t.finish(reader, 10), (0, b"after", b""), "B's parked reader, "
         "resumed, gets the message written after the outage")
    t.write_file(at(t, "sem", "down", "post"), b"\n")
    t.eq(t.finish(waiter, 10), (0, b"", b""), "B's parked wait, resumed")
    t.true(b.daemon.poll() is None, "B's daemon lives")
    with t.within(5, "ls"):
        t.true("new" not in os.listdir(at(b, "queues", "")),
               "the mkdir that failed made nothing")
    lines = new_lines(b, since)
    t.note("B's log during the outage (%d requests failed):\n%s" % (
        len(reqs), "\n".join(lines)))
    t.true(1 <= len(lines) <= 2, "one log line for the outage (and at "
           "most one for its end), not one per request",
           "%d lines: %s" % (len(lines), lines))


def stuck(t, what, a, name, mounts, prods, cons):
    """Fail a load whose producers did not stop, saying what is seen."""
    ended = [(rc, err.decode(errors="replace")[-300:]) for rc, _, err in
             [t.finish(p, 2) for p in cons if p.poll() is not None]]
    t.fail("%s: producers still writing 20 s after the stop; count %s; "
           "producers (state, syscall) %s; consumers that ended (status, "
           "stderr) %s; the daemons' logs end: %s" % (
               what, attr_or_errno(t, a, "queues", name, "count"),
               [t.proc_state(p.pid) for p in prods], ended,
               [m.daemon_stderr()[-400:] for m in mounts]))


def load(t, mounts, name, outage, what, capsys, settle=1.0, after=1.5):
    """Producers on each of MOUNTS write numbered messages to queue NAME
    (made on the first mount), consumers on each read stream; SETTLE s
    in, OUTAGE() runs; AFTER s later the producers stop, one END per
    consumer follows, and every message must be received exactly once.
    Prints (past pytest's capture, so that a passing run shows it too)
    and returns (sent, received, lost, duplicated)."""
    a = mounts[0]
    if a is t:
        t.mkobj("queues", name)
    else:
        with t.within(5, "mkdir"):
            os.mkdir(q(a, name), 0o600)
    t.write_file(q(a, name, "maxmsg"), b"64")
    stop = os.path.join(tempfile.gettempdir(), "ipcfs-stop-%d" % os.getpid())
    if os.path.exists(stop):
        os.unlink(stop)
    cons = [t.py(CONSUMER, q(m, name, "stream")) for m in mounts]
    for p in cons:
        t.wait_blocked(p, "read")
    prods = [t.py(PRODUCER, q(m, name, "data"), "p%d" % i, "10000000", stop)
             for i, m in enumerate(mounts)]
    try:
        time.sleep(settle)
        t0 = time.monotonic()
        outage()
        t.note("%s took %.2f s" % (what, time.monotonic() - t0))
        time.sleep(after)
    finally:
        with open(stop, "w"):
            pass
    try:
        if not wait_until(lambda: all(p.poll() is not None for p in prods),
                          20, 0.05):
            stuck(t, what, a, name, mounts, prods, cons)
        sent = []
        for i, p in enumerate(prods):
            n = sent_count(t, p, 30, "producer p%d" % i)
            sent += ["p%d-%d" % (i, j) for j in range(n)]
        for _ in cons:
            t.eq(t.write_file(q(a, name, "data"), b"END", timeout=15), 3,
                 "END")
        got = []
        for p, m in zip(cons, mounts):
            g = consumed(t, p, 30, "consumer")
            in_order_per_producer(t, "a consumer", g)
            got += g
    finally:
        os.unlink(stop)
    lost, dup = exactly_once(t, what, sent, got)[:2]
    with capsys.disabled():
        print("\n%s: sent %d, received %d, lost %d, duplicated %d" % (
            what, len(sent), len(got), len(lost), len(dup)), flush=True)
    return len(sent), len(got), len(lost), len(dup)


@pytest.mark.deadline(120)
def test_pg_ctl_restart_under_load(t, capsys):
    b = t.other_mount()
    sent, got, lost, dup = load(t, [t, b], "rs", t.pg.restart, "restart",
                                capsys)
    t.true(sent > 100, "messages flowed", "%d sent" % sent)
    t.true(t.daemon.poll() is None and b.daemon.poll() is None,
           "both daemons alive after the restart")
    t.eq(t.write_file(q(b, "rs", "data"), b"again"), 5, "a write on B after")
    t.eq(t.read_file(q(t, "rs", "data")), b"again", "read on A after")


@pytest.mark.deadline(150)
def test_failover_to_synchronous_standby(t, capsys):
    """A primary and its synchronous standby; two mounts with
    PGHOST=primary,standby PGTARGETSESSIONATTRS=read-write. Producers on
    both write numbered messages, consumers on both read them; the
    primary is killed -9 and the standby promoted: the mounts go on, and
    every message sent is received exactly once."""
    mounts = []
    cluster = None
    try:
        a = PgHarness("foa", prefix=t.prefix + "fo_", cluster=True)
        cluster = a.pg
        a.timers = t.timers
        t.extra.append(a)
        mounts.append(a)
        a.prepare()
        a.start_daemon()
        b = t.extra_unstarted("fob", prefix=a.prefix)
        b.daemon_env = a.daemon_env
        mounts.append(b)
        b.start_daemon()
        t.note("cluster: %s; PGHOST=%s" % (cluster, cluster.env["PGHOST"]))
        t.eq(cluster.psql("select pg_is_in_recovery()"), "f",
             "the mounts' server is the primary")
        t.eq(cluster.primary.psql("select sync_state from "
                                  "pg_stat_replication"), "sync",
             "the standby is synchronous")

        def failover():
            cluster.primary.kill9()
            cluster.promote()

        sent, got, lost, dup = load(t, [a, b], "fo", failover, "failover",
                                    capsys, after=2.0)
        t.true(sent > 100, "messages flowed", "%d sent" % sent)
        t.true(a.daemon.poll() is None and b.daemon.poll() is None,
               "both daemons alive after the failover")
        t.eq(cluster.standby.psql("select pg_is_in_recovery()"), "f",
             "the promoted standby is read-write")
        t.eq(t.write_file(q(b, "fo", "data"), b"again"), 5,
             "a write on B after the failover")
        t.eq(t.read_file(q(a, "fo", "data")), b"again",
             "read on A after the failover")
    finally:
        # Its children first: a producer left in a mount keeps it busy.
        for p in list(t.procs):
            t.kill(p)
        for m in reversed(mounts):
            for e in t.extra_unmount(m):
                t.note("failover mount %s: %s" % (m.name, e))
        if cluster is not None:
            cluster.stop()


# ---------------------------------------------------------------------------
# A daemon killed


def test_kill9_daemon(t):
    b = t.other_mount()
    t.mkobj("queues", "k9")
    t.write_file(q(t, "k9", "data"), b"kept")
    t.mkobj("queues", "k9e")
    reader = t.py(r'''
import errno, os, sys
try:
    print(repr(os.read(os.open(sys.argv[1], os.O_RDONLY), 100)))
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
''', q(b, "k9e", "data"))
    t.wait_blocked(reader, "read")
    mounts = t.pg.psql("select count(*) from ipcfs.mounts")
    old = b.daemon
    t0 = time.monotonic()
    os.kill(old.pid, signal.SIGKILL)
    try:
        rc = t.wait_exit(old, 5)
        t.eq(rc, -signal.SIGKILL, "B's daemon killed")
        rc, out, err = t.finish(reader, 3)
        t.true(out[:1].isupper(), "B's blocked reader ends with an error "
               "(and nothing read)", "%r %r" % (out, err))
        t.true(time.monotonic() - t0 < 2.0, "within 2 s of the kill")
        t.eq(t.write_file(q(t, "k9e", "data"), b"for A"), 5,
             "a write on A after B died")
        t.eq(read_attr(t, t, "queues", "k9e", "count"), "1\n",
             "the killed reader took nothing")
        t.eq(t.wait_value(lambda: t.pg.psql(
            "select count(*) from ipcfs.mounts"), str(int(mounts) - 1), 2),
            str(int(mounts) - 1), "the dead mount's row is reclaimed")
        t.true(t.unmount_dir(b.mnt), "the dead mount is unmounted")
        b.start_daemon()
    finally:
        if b.daemon is old:
            discard_killed(t, b)
    t.eq(ls(t, b, "queues"), ["k9", "k9e"], "B again, on the same mount "
         "point: the queues")
    t.eq(t.read_file(q(b, "k9", "data")), b"kept", "B's read of k9")
    t.eq(t.read_file(q(b, "k9e", "data")), b"for A", "B's read of k9e")
    t.eq(t.pg.psql("select count(*) from ipcfs.mounts"), mounts,
         "mounts in the database")


# SPDX-License-Identifier: GPL-2.0-or-later
"""pg - private PostgreSQL servers for the tests of -o engine=postgresql.

PgServer is one server of tools/pg-server: initdb'd into a fresh temporary
directory as the postgres user, listening only on a unix socket in it.
PgCluster is a primary and its synchronous streaming standby, reached with
libpq's multi-host PGHOST=primary,standby PGTARGETSESSIONATTRS=read-write,
so that clients follow a failover (kill9 the primary, promote the standby).

PgHarness is the Harness of a test file of the engine:

    H = PgHarness("queues_pg")             # or cluster=True, options...

    def test_visible(t):
        t.mkobj("queues", "jobs")
        b = t.other_mount()                # another "host", same database
        t.true(os.path.isdir(b.path("queues", "jobs")), "seen on b")
        t.pg.psql("select ipcfs.version()")

Its daemon runs with -o engine=postgresql and the server's PG* variables
(every PG* variable of this process is replaced, so a server exported by
tools/test for the unit tests is never used by mistake). The server is the
file's own: started at the first mount, stopped and removed at the file's
cleanup, whatever ended it (the fixture, atexit, SIGTERM as an Abort, and
the --owner watcher of tools/pg-server if this process is SIGKILLed).

Every wait is bounded: tools/pg-server bounds its own (60 s), and every
command it or psql runs here has a timeout besides.
"""

import atexit
import contextlib
import os
import signal
import subprocess
import tempfile

import pytest

from harness import Harness
from mount import ROOT, Abort

TOOL = os.environ.get("IPCFS_PG_SERVER") or os.path.join(ROOT, "tools",
                                                         "pg-server")
PSQL = "psql"


class PgError(Exception):
    """A tools/pg-server or psql command failed: its output says why."""


def pg_environ(env):
    """This process's environment with every PG* variable replaced by
    ENV's (a dict): what a libpq client of that server runs with."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    out.update(env)
    return out


def _run(args, timeout, env=None, input=None):
    """Run ARGS in a session of its own with a bound: its stdout (str).
    PgError with its output if it fails or outlives `timeout` s (then its
    session is killed)."""
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env,
                         start_new_session=True)
    try:
        out, err = p.communicate(input=input.encode() if input else None,
                                 timeout=timeout)
    except BaseException:
        with contextlib.suppress(OSError):
            os.killpg(p.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            p.communicate(timeout=5)
        raise
    out, err = out.decode(errors="replace"), err.decode(errors="replace")
    if p.returncode != 0:
        raise PgError("`%s` exited %s: %s" % (" ".join(args[:3]),
                                              p.returncode,
                                              (err or out).strip()[-2000:]))
    return out


# The servers this process started and has not stopped: stopped at exit,
# by this process only (not by a forked child that exits through atexit).
_live = set()
_owner = os.getpid()


@atexit.register
def _stop_all():
    if os.getpid() != _owner:
        return
    for s in list(_live):
        with contextlib.suppress(Exception):
            s.stop()


def _on_signal(signo, frame):
    raise Abort("signal %s" % signal.Signals(signo).name)


def _guard_signals():
    """A SIGTERM or SIGHUP that would kill this process outright (meson's
    timeout) raises Abort instead, so fixtures and atexit stop the servers.
    A handler already there (conftest's tree) is left alone."""
    for s in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(s) == signal.SIG_DFL:
            signal.signal(s, _on_signal)


class PgServer:
    """One private server (tools/pg-server) in a fresh temporary directory.

    .start() (again after kill9: the same data), .stop() (removes it all),
    .restart(mode), .kill9(), .promote() (a standby), .psql(sql), .ready(),
    .env: {PGHOST, PGPORT, PGUSER, PGDATABASE} while started, .dir, .port,
    .log() the tail of its log."""

    def __init__(self, port=5432, standby_of=None, sync=False):
        self.port = port
        self.standby_of = standby_of    # a started PgServer
        self.sync = sync
        self.dir = None                 # set from start() to stop()
        self.env = {}

    def __repr__(self):
        return "PgServer(%s)" % (self.dir or "not started")

    @property
    def started(self):
        """Started and not stopped since (it may be kill9'd meanwhile)."""
        return self.dir is not None

    def tool(self, *args, timeout=60):
        return _run([TOOL] + [str(a) for a in args], timeout)

    def start(self, timeout=150):
        """Start the server (initdb first, unless kill9'd before): bounded
        by pg-server's own 60 s waits and `timeout` s in all."""
        _guard_signals()
        if self.dir is None:
            # mkdtemp's directory is the server's: pg-server chowns it.
            self.dir = os.path.realpath(tempfile.mkdtemp(prefix="ipcfs-pg-"))
        _live.add(self)
        args = ["start", self.dir, "--port", self.port, "--owner", _owner]
        if self.standby_of is not None:
            args += ["--standby-of", self.standby_of.dir]
            if self.sync:
                args.append("--sync")
        try:
            out = self.tool(*args, timeout=timeout)
        except BaseException:
            # A failed start removed DIR itself; whatever is left goes.
            self.stop()
            raise
        self.env = dict(line.split("=", 1) for line in out.splitlines()
                        if "=" in line)
        return self

    def stop(self):
        """Stop at once (immediate) and remove the directory; idempotent."""
        _live.discard(self)
        if self.dir is None:
            return
        try:
            self.tool("stop", self.dir)
        finally:
            self.dir = None
            self.env = {}

    def restart(self, mode="fast"):
        """pg_ctl restart -m MODE: every session is cut, the data stays."""
        self.tool("restart", self.dir, "--mode", mode)

    def kill9(self):
        """SIGKILL the postmaster and all its processes (a crash); start()
        brings the same data back."""
        self.tool("kill9", self.dir)

    def promote(self):
        """Promote a standby; returns once it is read-write."""
        self.tool("promote", self.dir)

    def psql(self, sql, timeout=30, env=None):
        """Run SQL (one or more statements) with psql -XAtq -v
        ON_ERROR_STOP=1: its output, unaligned, tuples only, without the
        last newline. PgError with psql's message if it fails."""
        out = _run([PSQL, "-XAtq", "-v", "ON_ERROR_STOP=1", "-f", "-"],
                   timeout, pg_environ(env or self.env), input=sql)
        return out[:-1] if out.endswith("\n") else out

    def ready(self, timeout=2):
        """Whether it accepts connections now (pg_isready)."""
        try:
            _run(["pg_isready", "-q", "-t", str(timeout)], timeout + 3,
                 pg_environ(self.env))
            return True
        except (PgError, subprocess.TimeoutExpired):
            return False

    def log(self, lines=40):
        """The last LINES lines of the server's log (for a failure message)."""
        try:
            with open(os.path.join(self.dir, "log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except (OSError, TypeError):
            return ""


class PgCluster:
    """A primary and its synchronous streaming standby (the HA recipe).

    .primary and .standby are PgServers; .env reaches whichever is
    read-write: PGHOST=PRIMARYDIR,STANDBYDIR PGPORT=5432,5433
    PGTARGETSESSIONATTRS=read-write. A failover: .primary.kill9(), then
    .promote(). While the primary has its synchronous standby, a commit
    waits for the standby: do not stop the standby alone."""

    def __init__(self):
        self.primary = PgServer(port=5432)
        self.standby = PgServer(port=5433, standby_of=self.primary, sync=True)

    def __repr__(self):
        return "PgCluster(%s, %s)" % (self.primary.dir, self.standby.dir)

    @property
    def started(self):
        return self.primary.started

    def start(self):
        try:
            self.primary.start()
            self.standby.start()
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def env(self):
        if not self.started:
            return {}
        p, s = self.primary.env, self.standby.env
        return {"PGHOST": "%s,%s" % (p["PGHOST"], s["PGHOST"]),
                "PGPORT": "%s,%s" % (p["PGPORT"], s["PGPORT"]),
                "PGUSER": p["PGUSER"], "PGDATABASE": p["PGDATABASE"],
                "PGTARGETSESSIONATTRS": "read-write"}

    def promote(self):
        """Promote the standby (after the primary is gone)."""
        self.standby.promote()

    def psql(self, sql, timeout=30):
        """psql on the read-write server of the two."""
        return self.standby.psql(sql, timeout, env=self.env)

    def ready(self, timeout=2):
        return self.primary.ready(timeout) or self.standby.ready(timeout)

    def stop(self):
        """Stop both, the primary first (it must not wait for a standby
        that is gone); idempotent."""
        try:
            self.primary.stop()
        finally:
            self.standby.stop()

    def log(self, lines=40):
        return "primary:\n%s\nstandby:\n%s" % (self.primary.log(lines),
                                               self.standby.log(lines))


class PgHarness(Harness):
    """A Harness whose daemons run -o engine=postgresql on a private server.

    PgHarness(name, cluster=False, hostname=None, **opts): opts are mount
    options as for Harness; cluster=True gives a PgCluster instead of one
    PgServer; hostname=NAME runs the daemon in a UTS namespace of its own
    under that host name (what other mounts' `holders` show as PID@HOST).

    t.pg is the server (or cluster), started at the first mount and
    stopped at the file's cleanup. t.other_mount(tag="b", hostname=None,
    **opts) mounts the same database under the same prefix on another
    mount point (another "host"; the options are this tree's, updated by
    opts), unmounted by the test's teardown (or t.extra_unmount). Objects
    left by a test are removed through the tree, and those it cannot reach
    with ipcfs.unlink() in the database."""

    def __init__(self, name, prefix=None, cluster=False, hostname=None,
                 server=None, **opts):
        opts.setdefault("engine", "postgresql")
        super().__init__(name, prefix, **opts)
        self.own_server = server is None
        self.pg = server if server is not None else \
            PgCluster() if cluster else PgServer()
        self.hostname = hostname
        if hostname:
            self.wrap = ["unshare", "--uts", "sh", "-c",
                         'hostname "$0" && exec "$@"', hostname]
        self.mount_wait = 20

    def daemon_env(self):
        """The server's PG* variables (the server started first if it never
        was: lazily, at the first mount). A kill9'd or stopped-on-purpose
        server is not started again here."""
        if not self.pg.started:
            if os.geteuid() != 0:
                pytest.skip("a private PostgreSQL server needs root "
                            "(tools/pg-server runs it as user postgres)")
            self.pg.start()
        return pg_environ(self.pg.env)

    def extra_harness(self, tag, prefix, **opts):
        return PgHarness(tag, prefix=prefix, server=self.pg, **opts)

    def other_mount(self, tag="b", hostname=None, **opts):
        """Another mount of the same database and prefix: a Harness with
        .mnt, .daemon, .path(); unmounted at the test's end."""
        merged = dict(self.opts)
        merged.update(opts)
        return self.extra_mount(tag, prefix=self.prefix, hostname=hostname,
                                **merged)

    def psql(self, sql, timeout=30):
        return self.pg.psql(sql, timeout)

    def _teardown(self):
        errs = super()._teardown()
        self.revive()
        self.unlink_in_database()
        return errs

    def revive(self):
        """A single server a test left down (kill9, say) is started again
        with its data, for the next test. Not a cluster: its old primary
        would come back as a second primary beside the promoted standby."""
        if self.own_server and isinstance(self.pg, PgServer) and \
                self.pg.started and not self.pg.ready():
            self.note("the server is down after the test: starting it again")
            try:
                self.pg.start()
            except (PgError, subprocess.TimeoutExpired) as e:
                self.note("cannot start it again: %s" % e)

    def unlink_in_database(self):
        """Unlink, with the SQL API, what is left under this prefix in the
        database (a test that killed its daemon leaves its objects there,
        where the tree cannot reach them): their names, [] if none or the
        database is not there to ask."""
        if not self.own_server or not self.pg.started:
            return []
        like = "/" + self.prefix.replace("\\", "\\\\").replace(
            "%", "\\%").replace("_", "\\_") + "%"
        like = like.replace("'", "''")
        try:
            if self.pg.psql("select to_regclass('ipcfs.objects') is not null",
                            timeout=10) != "t":
                return []
            out = self.pg.psql("select kind || ' ' || name from ipcfs.objects"
                               " where name like '%s' order by 1" % like,
                               timeout=10)
            left = [line for line in out.splitlines() if line]
            for line in left:
                kind, name = line.split(" ", 1)
                self.pg.psql("select ipcfs.unlink('%s', '%s')" % (
                    kind, name.replace("'", "''")), timeout=10)
        except (PgError, subprocess.TimeoutExpired) as e:
            self.note("cannot look for objects left in the database: %s" % e)
            return []
        if left:
            self.note("unlinked %d objects left in the database: %s" % (
                len(left), " ".join(left[:10])))
        return left

    def cleanup(self):
        """The Harness's cleanup (every tree unmounted), then the server
        stopped and removed, if it is this file's."""
        try:
            return super().cleanup()
        finally:
            if self.own_server:
                try:
                    self.pg.stop()
                except Exception as e:
                    self.note("stopping the PostgreSQL server: %s" % e)

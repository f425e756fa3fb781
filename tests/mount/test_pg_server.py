# SPDX-License-Identifier: GPL-2.0-or-later
"""The PostgreSQL fixtures themselves (pg.py, tools/pg-server), no mount:
a private server on a socket only, psql, restart, kill -9 and start again,
a synchronous standby that streams and is promoted, the cluster's
multi-host env, PgHarness's environment and other mounts' host names, and
nothing left behind (no process, no directory) once stopped."""

import os
import subprocess
import tempfile
import time

import pytest

from pg import TOOL, PgCluster, PgError, PgHarness, PgServer, pg_environ

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="tools/pg-server needs root (it runs the "
    "server as user postgres)")


def processes_of(directory):
    """The pids of live processes whose command line names DIRECTORY."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open("/proc/%s/stat" % d) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if directory in cmd and state != "Z":
            pids.append(int(d))
    return pids


@pytest.fixture(scope="module")
def server():
    s = PgServer().start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def cluster():
    c = PgCluster().start()
    try:
        yield c
    finally:
        c.stop()


def test_server_up(server):
    assert server.ready()
    env = server.env
    assert sorted(env) == ["PGDATABASE", "PGHOST", "PGPORT", "PGUSER"]
    assert env["PGHOST"] == server.dir and env["PGUSER"] == "postgres"
    assert os.path.exists(os.path.join(server.dir, ".s.PGSQL.%s" %
                                       env["PGPORT"]))
    assert server.psql("select 1") == "1"
    assert server.psql("show listen_addresses") == ""
    assert server.psql("show fsync") == "off"
    assert server.psql("show max_connections") == "200"
    assert server.psql("show data_directory") == os.path.join(server.dir,
                                                              "data")
    assert server.psql("select current_user") == "postgres"
    # Several statements, a value per line.
    assert server.psql("select 1; select 'a b'") == "1\na b"
    # The env lines of `pg-server env` are the same.
    out = subprocess.run([TOOL, "env", server.dir], capture_output=True,
                         text=True, timeout=10, check=True).stdout
    assert dict(line.split("=", 1) for line in out.split()) == env


def test_psql_error(server):
    with pytest.raises(PgError, match="division by zero"):
        server.psql("select 1/0")
    with pytest.raises(PgError, match="no_such_table"):
        server.psql("select 1; select * from no_such_table; select 2")


def test_env_replaces_pg_variables(server, monkeypatch):
    monkeypatch.setenv("PGHOST", "/nonexistent")
    monkeypatch.setenv("PGSERVICE", "nope")
    env = pg_environ(server.env)
    assert env["PGHOST"] == server.dir and "PGSERVICE" not in env
    assert env["PATH"] == os.environ["PATH"]
    assert server.psql("select 2") == "2"


def test_restart(server):
    server.psql("create table if not exists r(x int); insert into r values (1)")
    before = server.psql("select pg_postmaster_start_time()")
    server.restart()
    assert server.psql("select pg_postmaster_start_time()") != before
    assert server.psql("select count(*) from r") == "1"
    server.restart(mode="immediate")
    assert server.psql("select count(*) from r") == "1"


def test_kill9_and_start_again(server):
    server.psql("create table if not exists k(x int); insert into k values (7)")
    pid = int(open(os.path.join(server.dir, "data",
                                "postmaster.pid")).readline())
    server.kill9()
    assert not server.ready()
    assert not processes_of(server.dir + "/data")
    with pytest.raises(PgError):
        server.psql("select 1")
    server.start()
    assert server.psql("select sum(x) from k") == "7"
    assert int(open(os.path.join(server.dir, "data",
                                 "postmaster.pid")).readline()) != pid


def test_standby_streams_synchronously(cluster):
    p, s = cluster.primary, cluster.standby
    assert p.psql("select pg_is_in_recovery()") == "f"
    assert s.psql("select pg_is_in_recovery()") == "t"
    app = p.psql("select application_name || ' ' || state || ' ' || "
                 "sync_state from pg_stat_replication")
    assert app.endswith(" streaming sync"), app
    assert p.psql("show synchronous_standby_names").strip('"') == \
        app.split()[0]
    # A commit on the primary waited for the standby: it is there at once
    # (replayed a moment later at most).
    p.psql("create table s(x int); insert into s values (1), (2)")
    end = time.monotonic() + 10
    while s.psql("select to_regclass('s') is not null") != "t" or \
            s.psql("select count(*) from s") != "2":
        assert time.monotonic() < end, "not replayed on the standby in 10 s"
        time.sleep(0.05)


def test_cluster_env(cluster):
    env = cluster.env
    p, s = cluster.primary, cluster.standby
    assert env["PGHOST"] == "%s,%s" % (p.dir, s.dir)
    assert env["PGPORT"] == "5432,5433"
    assert env["PGTARGETSESSIONATTRS"] == "read-write"
    assert env["PGUSER"] == "postgres" and env["PGDATABASE"] == "postgres"
    # The multi-host env reaches the read-write one: the primary.
    assert cluster.psql("select pg_is_in_recovery(), "
                        "current_setting('data_directory')") == \
        "f|%s/data" % p.dir


def test_failover(cluster):
    p, s = cluster.primary, cluster.standby
    cluster.psql("create table f(x int); insert into f select "
                 "generate_series(1, 1000)")
    p.kill9()
    assert not processes_of(p.dir + "/data")
    with pytest.raises(PgError):
        cluster.psql("select 1")        # the standby is not read-write
    cluster.promote()
    # Every committed row is on the promoted standby (synchronous), and the
    # multi-host env now reaches it, read-write.
    assert cluster.psql("select count(*), current_setting('data_directory')"
                        " from f") == "1000|%s/data" % s.dir
    cluster.psql("insert into f values (1001)")
    assert s.psql("show synchronous_standby_names") == ""


def test_stop_leaves_nothing():
    s = PgServer().start()
    d = s.dir
    assert processes_of(d)
    s.stop()
    assert not os.path.exists(d) and s.dir is None and s.env == {}
    assert not processes_of(d)
    s.stop()                            # idempotent


def test_cluster_stop_leaves_nothing():
    c = PgCluster().start()
    dirs = [c.primary.dir, c.standby.dir]
    c.stop()
    for d in dirs:
        assert not os.path.exists(d)
        assert not processes_of(d)


def test_owner_gone_stops_server():
    """--owner: a server whose owner dies (a SIGKILLed test run) is stopped
    and removed by its watcher within a few seconds."""
    owner = subprocess.Popen(["sleep", "120"])
    d = os.path.realpath(tempfile.mkdtemp(prefix="ipcfs-pg-"))
    try:
        subprocess.run([TOOL, "start", d, "--owner", str(owner.pid)],
                       capture_output=True, timeout=120, check=True)
        assert processes_of(d)
        owner.kill()
        owner.wait(10)
        t0 = time.monotonic()
        end = time.monotonic() + 10
        while os.path.exists(d) and time.monotonic() < end:
            time.sleep(0.1)
        assert not os.path.exists(d), "still there %.1f s after the " \
            "owner's end" % (time.monotonic() - t0)
        # The watcher's `pg-server stop` exits just after removing DIR.
        while processes_of(d) and time.monotonic() < end:
            time.sleep(0.1)
        assert not processes_of(d)
    finally:
        owner.kill()
        subprocess.run([TOOL, "stop", d], timeout=60)


def test_refuses_without_root():
    r = subprocess.run(["runuser", "-u", "nobody", "--", TOOL, "start",
                        "/tmp/ipcfs-pg-never"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 1
    assert "must run as root" in r.stderr
    assert not os.path.exists("/tmp/ipcfs-pg-never")


def test_refuses_a_foreign_directory(tmp_path):
    (tmp_path / "something").write_text("mine")
    r = subprocess.run([TOOL, "start", str(tmp_path)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1 and "not empty" in r.stderr
    assert (tmp_path / "something").read_text() == "mine"
    r = subprocess.run([TOOL, "stop", str(tmp_path)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1 and "not removing" in r.stderr
    assert (tmp_path / "something").exists()


def test_harness_starts_lazily_and_cleans_up(monkeypatch):
    """PgHarness without a mount (the engine may not exist in this build):
    the server starts at the first daemon_env (the first mount), the env
    is its own, other mounts share it, cleanup stops it."""
    monkeypatch.setenv("PGHOST", "/nonexistent")
    h = PgHarness("pgfix", mq_maxmsg=5)
    try:
        assert h.opts["engine"] == "postgresql"
        assert not h.pg.started
        env = h.daemon_env()
        assert h.pg.started and env["PGHOST"] == h.pg.dir
        assert h.psql("select 3") == "3"
        b = h.extra_harness("b", h.prefix, hostname="host-b",
                            **dict(h.opts))
        assert b.pg is h.pg and not b.own_server and b.prefix == h.prefix
        assert b.daemon_env()["PGHOST"] == h.pg.dir
        assert b.opts == {"engine": "postgresql", "mq_maxmsg": 5}
        # The wrapper gives the daemon its own host name.
        r = subprocess.run(b.wrap + ["hostname"], capture_output=True,
                           text=True, timeout=10)
        assert r.stdout.strip() == "host-b"
        # Objects of this prefix left in the database: none (no schema).
        assert h.unlink_in_database() == []
        # A stand-in for the engine's schema: only this prefix's go, by
        # ipcfs.unlink (LIKE's _ and % are escaped in the prefix).
        near = "/" + h.prefix.replace("_", "x", 1) + "q"
        h.psql("""
            create schema ipcfs;
            create table ipcfs.objects(id bigint generated always as
                identity primary key, kind text, name text);
            create function ipcfs.unlink(k text, n text) returns void
                language sql as
                $$ delete from ipcfs.objects where kind = k and name = n $$;
            insert into ipcfs.objects(kind, name) values
                ('queues', '/%(p)sjobs'), ('sem', '/%(p)sa b''c'),
                ('queues', '/other_jobs'), ('queues', '%(near)s');
            """ % {"p": h.prefix, "near": near})
        assert h.unlink_in_database() == [
            "queues /%sjobs" % h.prefix, "sem /%sa b'c" % h.prefix]
        assert h.psql("select name from ipcfs.objects order by 1") == \
            "/other_jobs\n%s" % near
        # A server left down by a test comes back for the next one.
        h.pg.kill9()
        h.revive()
        assert h.pg.ready()
        d = h.pg.dir
    finally:
        h.cleanup()
    assert not h.pg.started and not os.path.exists(d)
    assert not processes_of(d)


def test_harness_cluster():
    h = PgHarness("pgfixc", cluster=True)
    try:
        env = h.daemon_env()
        assert env["PGTARGETSESSIONATTRS"] == "read-write"
        assert "," in env["PGHOST"] and env["PGPORT"] == "5432,5433"
        assert h.psql("select pg_is_in_recovery()") == "f"
        dirs = [h.pg.primary.dir, h.pg.standby.dir]
    finally:
        h.cleanup()
    for d in dirs:
        assert not os.path.exists(d) and not processes_of(d)

# SPDX-License-Identifier: GPL-2.0-or-later
"""Every code block of README.md, run against a real mount.

Each fenced block of the README has an HTML comment on the line before
it: `<!-- snippet: NAME -->`, a block this file runs (RUNNERS below, one
test each), or `<!-- snippet: skip (REASON) -->`, one that cannot run here.
A block without either, a name without a runner or a runner without its
block fails test_every_block_is_accounted_for.

How a block is run:

* The README's mount point /mnt/ipc is replaced by the test's mount (under
  its own prefix), in the code and in the expected output. Relative paths
  (`queues/jobs/data`) are from the mount point: blocks run there.
* A transcript (lines `$ COMMAND`, each followed by its output) runs in one
  bash, command after command, stdout and stderr together; each command's
  output must be exactly the lines below it, and its status 0 unless the
  runner says otherwise. Where the README shows a PID, the runner maps it
  to the real one of the process it stands for; only `ipcctl ls -g`'s
  USED and USE% columns, which count the whole machine's queues, match
  any number.
* `make`, `critical-section` and `reload-config` stand for the reader's
  own commands: here they are programs on PATH that append their arguments
  (and, for critical-section, the value of sem/lock; reload-config, its
  own name) to a file the runner checks.
* A program (Python, Node, Go, Java, C, shell) is compiled once and run;
  the runner makes the objects it uses, puts a message in natively first,
  and checks what the program printed and what it left, with mq_receive.
  The shm fragments (C, Python) run inside a main the runner adds around
  them, with NAME the native name of a segment made through the tree.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time

import pytest

import native
import sysv
from harness import Harness
from mount import ROOT, rmdir_patiently
from procs import children_of, fmt, proc_state, wait_until

H = Harness("readme")
README = os.path.join(ROOT, "README.md")
MARK = re.compile(r"^<!-- snippet: (.*) -->$")
SKIP = re.compile(r"^skip \((.+)\)$")


class Block:
    def __init__(self, line, lang, text, mark):
        self.line, self.lang, self.text, self.mark = line, lang, text, mark
        m = SKIP.match(mark or "")
        self.skip = m.group(1) if m else None
        self.name = None if m or mark is None else mark


def blocks():
    """Every fenced block of the README, in order."""
    with open(README) as f:
        lines = f.read().split("\n")
    out = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith("```"):
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        m = MARK.match(lines[i - 1]) if i > 0 else None
        out.append(Block(i + 1, lines[i][3:].strip(),
                         "".join(x + "\n" for x in lines[i + 1:j]),
                         m.group(1) if m else None))
        i = j + 1
    return out


BLOCKS = {b.name: b for b in blocks() if b.name}
RUNNERS = {}


def snippet(name):
    def register(fn):
        RUNNERS[name] = fn
        return fn
    return register


def test_every_block_is_accounted_for():
    all_blocks = blocks()
    unmarked = ["line %d" % b.line for b in all_blocks if b.mark is None]
    assert not unmarked, "README blocks with no <!-- snippet: ... --> " \
        "before them: %s" % ", ".join(unmarked)
    bad = ["line %d: %r" % (b.line, b.mark) for b in all_blocks
           if b.mark.startswith("skip") and not b.skip]
    assert not bad, "a skip must give its reason, skip (REASON): %s" % bad
    names = [b.name for b in all_blocks if b.name]
    dup = sorted({n for n in names if names.count(n) > 1})
    assert not dup, "snippet names used twice: %s" % dup
    assert set(names) == set(RUNNERS), \
        "README blocks without a runner: %s; runners without a block: %s" % (
            sorted(set(names) - set(RUNNERS)),
            sorted(set(RUNNERS) - set(names)))
    skipped = [b for b in all_blocks if b.skip]
    H.note("%d blocks run, %d skipped:" % (len(names), len(skipped)))
    for b in skipped:
        H.note("  line %d: %s" % (b.line, b.skip))


# -- what every runner uses ---------------------------------------------------

MAKE = '#!/bin/sh\nprintf "%s\\n" "$*" >> "$MADE"\n'
CRITICAL = '#!/bin/sh\nprintf "critical-section %s\\n" ' \
    '"$(cat sem/lock/value)" >> "$MADE"\n'
RELOAD = '#!/bin/sh\necho reload-config "$@" >> "$MADE"\n'


class Scratch:
    """A directory of the test's own: HOME of what it runs, the stubs of
    the reader's commands on PATH, the file they append to, sources and
    binaries."""

    def __init__(self, t):
        self.t = t
        self.dir = tempfile.mkdtemp(prefix="ipcfs-readme-")
        bindir = os.path.join(self.dir, "bin")
        os.mkdir(bindir)
        for name, text in (("make", MAKE), ("critical-section", CRITICAL),
                           ("reload-config", RELOAD)):
            path = os.path.join(bindir, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o755)
        os.symlink(os.path.abspath(t.ipcctl), os.path.join(bindir, "ipcctl"))
        self.made_path = os.path.join(self.dir, "made")
        self.env = dict(os.environ, HOME=self.dir, MADE=self.made_path,
                        LC_ALL="C", PATH=bindir + ":" + os.environ.get(
                            "PATH", "/usr/bin:/bin"))
        self.env.pop("COLUMNS", None)

    def made(self):
        try:
            with open(self.made_path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def clear_made(self):
        with open(self.made_path, "wb"):
            pass

    def file(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def scratch(t):
    s = Scratch(t)
    yield s
    s.remove()


def sub(t, text):
    """The README's text on the test's mount."""
    return text.replace("/mnt/ipc", t.mnt)


def run_script(t, s, script, timeout=10, cwd=None):
    """bash -c SCRIPT in the mount (or CWD): (status, stdout, stderr)."""
    return t.run(["bash", "-c", script], timeout=timeout, env=s.env,
                 cwd=cwd or t.mnt)


def value(t, kind, name, attr):
    return t.read_file(t.path(kind, name, attr)).decode()


def waiting(t, kind, name):
    """Whether a request waits on KIND/NAME (its waiters file)."""
    return t.read_file(t.path(kind, name, "waiters")) != b""


def feed(t, s, name, jobs, p, idle=None):
    """A worker loop, child P, waits on queues/NAME (IDLE() is true: by
    default, queues/NAME/waiters shows a request): send it JOBS natively,
    and see it take each one once, in order (its `make` logs them), and
    wait again."""
    idle = idle or (lambda: waiting(t, "queues", name))
    if not wait_until(lambda: p.poll() is not None or idle(), 5) or \
            p.poll() is not None:
        t.fail("no worker waits on queues/%s: it %s" % (
            name, "runs on" if p.poll() is None else "ended: %s" %
            fmt(t.finish(p, 1))))
    for j in jobs:
        t.send(name, j)
    want = b"".join(jobs)
    wait_until(lambda: s.made() == want and idle(), 5)
    t.eq(s.made(), want, "jobs done, each once, in order")
    t.true(idle(), "the worker waits for more")
    t.eq(t.count(name), 0, "messages left in queues/%s" % name)


def in_recv(p):
    """Whether a child of P sleeps in poll(2) (x86-64: 7), as `ipcctl recv`
    does on the queue's framed file: a poller is no waiter, so the tree's
    waiters cannot show it."""
    return any(proc_state(c) == ("S", "7") for c in children_of(p.pid))


# -- transcripts --------------------------------------------------------------

def parse_transcript(text):
    """[(command, expected output)] of `$ ` lines and the lines after."""
    steps = []
    for line in text.splitlines():
        if line.startswith("$ "):
            steps.append([line[2:], ""])
        else:
            assert steps, "output before any command: %r" % line
            steps[-1][1] += line + "\n"
    return [tuple(x) for x in steps]


def marker(k):
    return b"\x01%d " % k


def used_columns_match(want, got):
    """`ipcctl ls -g` output: the header and every row's RESOURCE,
    DESCRIPTION and LIMIT as in WANT, token by token; USED and USE% any
    count and percentage, since they count the whole machine, where WANT
    has them (TOPICMEM's USED is unknown: its row is exactly WANT's)."""
    wl, gl = want.splitlines(), got.splitlines()
    if len(wl) != len(gl) or not wl or wl[0].split() != gl[0].split():
        return False
    for w, g in zip(wl[1:], gl[1:]):
        wt, gt = w.split(), g.split()
        if wt == gt:
            continue
        if wt[:-2] != gt[:-2] or len(gt) < 2 or \
                not re.fullmatch(r"[0-9]+", gt[-2]) or \
                not re.fullmatch(r"[0-9]+\.[0-9]{2}%", gt[-1]):
            return False
    return True


def without_sysv(want, got):
    """`ipcctl ls` output: WANT's rows, token by token, and System V
    objects besides: sysv/ shows every one of the machine, other
    programs' too, whose names may widen the columns."""
    rows = [ln.split() for ln in got.splitlines()
            if not ln.startswith("sysv/")]
    return rows == [ln.split() for ln in want.splitlines()]


def json_without_sysv(want, got):
    """`ipcctl ls -J -S | python3 -m json.tool`: WANT, once the objects of
    sysv/ (-S keeps sysv/sem's, the machine's) are left out."""
    try:
        doc = json.loads(got)
    except ValueError:
        return False
    doc["objects"] = [o for o in doc["objects"]
                      if not o["kind"].startswith("sysv/")]
    return json.dumps(doc, indent=4) + "\n" == want


def transcript(t, s, block, subs=(), status=None, during=None, loose=None,
               timeout=20):
    """Run the transcript BLOCK (see the docstring at the top) and check
    every command's output and status. SUBS: (README text, real text)
    pairs applied to commands and expected output, after /mnt/ipc; STATUS:
    {command index: expected status}; DURING: {command index: fn(p)},
    called once that command has started (it may block until fn acts);
    LOOSE: {command index: fn(expected, got) that compares instead}."""
    status, during, loose = status or {}, during or {}, loose or {}
    steps = []
    for cmd, out in parse_transcript(sub(t, block.text)):
        for a, b in subs:
            cmd, out = cmd.replace(a, b), out.replace(a, b)
        steps.append((cmd, out))
    script = "exec 2>&1; umask 022\n"
    for k, (cmd, _) in enumerate(steps):
        script += "printf '\\001%d \\n'\n%s\n__s=$?; wait\n" \
            "printf '\\002%d %%d\\n' $__s\n" % (k, cmd, k)
    p = t.spawn(["bash", "-c", script], env=s.env, cwd=t.mnt)
    got = b""
    for k in sorted(during):
        got += t.read_until(p, marker(k), timeout)
        t.true(marker(k) in got, "command %d (%s) started" % (k, steps[k][0]),
               "output so far %s" % fmt(got))
        during[k](p)
    rc, out, err = t.finish(p, timeout)
    got += out
    t.eq((rc, err), (0, b""), "bash running the transcript")
    parts = re.split(rb"\x01(\d+) \n(.*?)\x02\1 (\d+)\n", got, flags=re.S)
    t.eq(parts[0::4], [b""] * (len(steps) + 1),
         "output outside the commands")
    failed = []
    for i in range(len(steps)):
        _, text, rc = parts[1 + 4 * i: 4 + 4 * i]
        cmd, want = steps[i]
        text = text.decode(errors="replace")
        ok = text == want or (i in loose and loose[i](want, text))
        if not ok or int(rc) != status.get(i, 0):
            failed.append("`%s`: status %s (expected %d), output\n%s"
                          "expected\n%s" % (cmd, rc.decode(),
                                            status.get(i, 0), text, want))
    if failed:
        t.fail("transcript at README line %d:\n%s" % (
            block.line, "\n".join(failed)))


# -- the runners, in README order ---------------------------------------------

@snippet("intro")
def run_intro(t, s, block):
    start = "tools/ipcfs-up /mnt/ipc"
    t.true(block.text.startswith("$ " + start + "\n"), "intro starts with "
           "`%s`, which the test's own mount stands for" % start)

    def worker(p):
        t.eq(value(t, "sem", "lock", "value"), "0\n", "the script holds "
             "sem/lock")
        feed(t, s, "jobs", [b"all\n", b"clean\n"], p)
        t.rmq("jobs")

    last = len(parse_transcript(block.text)) - 1
    transcript(t, s, block, subs=[(sub(t, start), ":")],
               during={last: worker})
    t.true(wait_until(lambda: value(t, "sem", "lock", "value") == "1\n", 2),
           "sem/lock given back when the script ends")


@snippet("tree")
def run_tree(t, s, block):
    listed = re.findall(r"── (\S+)/", block.text)
    t.eq(sorted(listed), sorted(os.listdir(t.mnt)), "the root of the tree")


@snippet("queue-echo")
def run_queue_echo(t, s, block):
    t.mkq("jobs", 0o644)
    transcript(t, s, block)


@snippet("workers")
def run_workers(t, s, block):
    """Each loop takes every job once, in order, and ends when rmdir ends
    its wait (ipcctl recv, whose read of framed then ends, says so)."""
    reads, recvs = block.text.splitlines()
    jobs = [b"job 1\n", b"job two\n", b"job 3\n"]
    t.mkq("jobs", 0o644)
    p = t.spawn(["bash", "-c", reads], env=s.env, cwd=t.mnt)
    feed(t, s, "jobs", jobs, p)
    t.rmq("jobs")
    t.eq(t.finish(p, 5), (0, b"", b""), "`%s` after rmdir" % reads)
    t.mkq("jobs", 0o644)
    s.clear_made()
    p = t.spawn(["bash", "-c", recvs], env=s.env, cwd=t.mnt)
    feed(t, s, "jobs", jobs, p, idle=lambda: in_recv(p))
    t.rmq("jobs")
    t.eq(t.finish(p, 5), (0, b"", b"ipcctl: queues/jobs: Identifier "
                          b"removed\n"), "`%s` after rmdir" % recvs)


@snippet("channel-log")
def run_channel_log(t, s, block):
    transcript(t, s, block)


@snippet("channel-pi")
def run_channel_pi(t, s, block):
    t.mkobj("channels", "pi", 0o644)
    t.eq(run_script(t, s, sub(t, block.text)), (0, b"", b""), "the script")
    with open(os.path.join(s.dir, "sums"), "rb") as f:
        got = f.read()
    t.eq(sorted(got.splitlines(True)), [b"part 1\n", b"part 2\n",
                                        b"part 3\n"], "~/sums")


SHM_C = """#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
%s
	fwrite(p, 1, st.st_size, stdout);
	p[0] = 'J';
	return 0;
}
"""
SHM_PY = "import mmap, os, sys\n%s" \
    "sys.stdout.buffer.write(m[:])\nm[0:1] = b'J'\n"


def shm_fragment(t, s, block, argv):
    """Run the fragment (made a program by ARGV(path of the code)) on
    segment NAME, which holds "hello shm\\n": it reads that, and its
    write through the mapping shows in shm/NAME/data."""
    t.mkobj("shm", "NAME", 0o644)
    t.write_file(t.path("shm", "NAME", "data"), b"hello shm\n")
    code = block.text.replace("/NAME", "/" + t.prefix + "NAME")
    rc, out, err = t.run(argv(code), timeout=30, env=s.env, cwd=s.dir)
    t.eq((rc, out, err), (0, b"hello shm\n", b""), "the fragment's output")
    t.eq(t.read_file(t.path("shm", "NAME", "data")), b"Jello shm\n",
         "shm/NAME/data after its write through the mapping")


@snippet("shm-c")
def run_shm_c(t, s, block):
    def build(code):
        src = s.file("shm.c", SHM_C % code)
        exe = os.path.join(s.dir, "shm")
        rc, out, err = t.run(["cc", "-o", exe, src], timeout=30)
        t.eq((rc, out + err), (0, b""), "cc of the fragment")
        return [exe]
    shm_fragment(t, s, block, build)


@snippet("shm-python")
def run_shm_python(t, s, block):
    shm_fragment(t, s, block, lambda code: [sys.executable, s.file(
        "shm.py", SHM_PY % code)])


@snippet("shm-acc")
def run_shm_acc(t, s, block):
    transcript(t, s, block)


@snippet("sem-lock")
def run_sem_lock(t, s, block):
    transcript(t, s, block)
    t.eq(s.made(), b"critical-section 0\n", "the lock was held inside")
    t.true(wait_until(lambda: value(t, "sem", "lock", "value") == "1\n", 2),
           "sem/lock given back")


# -- System V ---------------------------------------------------------------

SYSV_C = """#include <stdio.h>
#include <string.h>
#include <sys/msg.h>

int main(void)
{
%s	return 0;
}
"""


def sysv_keys(t, block, *readme):
    """The README's keys (0x0000162e ...) mapped to keys of the test's
    range: (README text, the test's) pairs for transcript(). A tree
    without sysv/ skips the block."""
    need_sysv(t)
    return [(k, sysv.keyname(t.keys.new())) for k in readme
            if k in block.text]


def need_sysv(t):
    if not os.path.isdir(os.path.join(t.mnt, "sysv")):
        pytest.skip("this tree has no sysv/")


def sysv_id(t, kind, name):
    return int(value(t, "sysv/" + kind, name, "id"))


@snippet("sysv-msg")
def run_sysv_msg(t, s, block):
    (readme, key), = subs = sysv_keys(t, block, "0x0000162e")
    transcript(t, s, block, subs=subs)
    qid = sysv_id(t, "msg", key)
    t.eq(sysv.msg_stat(qid)["count"], 0, "the queue is empty")
    t.eq(sysv.msg_stat(qid)["mode"], 0o600, "mkdir -m 600")
    t.rmobj("sysv/msg", key)


@snippet("sysv-msg-c")
def run_sysv_msg_c(t, s, block):
    need_sysv(t)
    key = t.keys.new()
    t.mkobj("sysv/msg", sysv.keyname(key), 0o600)
    code = block.text.replace("0x162e", "0x%x" % key)
    src = s.file("sysv.c", SYSV_C % "".join(
        "\t" + ln + "\n" for ln in code.splitlines()))
    exe = os.path.join(s.dir, "sysv")
    rc, out, err = t.run(["cc", "-Wall", "-Werror", "-o", exe, src],
                         timeout=30)
    t.eq((rc, out + err), (0, b""), "cc -Wall -Werror of the fragment")
    t.eq(t.run([exe], timeout=10, cwd=s.dir), (0, b"", b""), "the program")
    data = t.path("sysv/msg", sysv.keyname(key), "framed")
    t.eq(t.read_file(data), b"7\tfrom C, type 7\n", "framed: its type, "
         "its bytes")
    t.rmobj("sysv/msg", sysv.keyname(key))


@snippet("sysv-shm")
def run_sysv_shm(t, s, block):
    (readme, key), = subs = sysv_keys(t, block, "0x0000162f")
    transcript(t, s, block, subs=subs)
    shmid = sysv_id(t, "shm", key)
    with sysv.Attached(shmid) as a:
        t.eq(a.read(0, 6), b"hello\0", "natively, through shmat")
    t.rmobj("sysv/shm", key)


@snippet("sysv-sem")
def run_sysv_sem(t, s, block):
    (readme, key), = subs = sysv_keys(t, block, "0x00001630")
    transcript(t, s, block, subs=subs)
    semid = sysv_id(t, "sem", key)
    t.true(wait_until(lambda: sysv.sem_getval(semid) == 2, 2),
           "the unit of hold given back")
    t.rmobj("sysv/sem", key)


# -- topics -------------------------------------------------------------------

WORKERS_GO = [b"worker 1: go\n", b"worker 2: go\n", b"worker 3: go\n"]


def topic_value(t, name, attr):
    return value(t, "topics", name, attr)


@snippet("topic-event")
def run_topic_event(t, s, block):
    """Three readers wait, one write wakes them all (in any order), and
    the script removes the topic."""
    rc, out, err = run_script(t, s, sub(t, block.text), timeout=15)
    t.eq((rc, err), (0, b""), "the script")
    t.eq(sorted(out.splitlines(True)), WORKERS_GO, "what the workers print")
    t.eq(os.listdir(os.path.join(t.mnt, "topics")), [], "topics/ after it")


@snippet("topic-event-python")
def run_topic_event_python(t, s, block):
    src = s.file("event.py", sub(t, block.text))
    rc, out, err = t.run([sys.executable, src], timeout=30, env=s.env,
                         cwd=s.dir)
    t.eq((rc, err), (0, b""), "the program")
    t.eq(sorted(out.splitlines(True)), WORKERS_GO, "what the workers print")
    t.eq(os.listdir(os.path.join(t.mnt, "topics")), [], "topics/ after it")


def reload_workers(t, s, spawn, made, subscribed=3):
    """Start three workers with SPAWN() and see each load once and wait
    on topics/reload; MADE(N): whether N loads in all are seen."""
    workers = [spawn() for _ in range(3)]
    t.true(wait_until(lambda: made(3) and topic_value(
        t, "reload", "subscribers") == "%d\n" % subscribed and
        waiting(t, "topics", "reload"), 10),
        "three workers loaded once and wait",
        "loads %s, subscribers %s" % (fmt(s.made()), topic_value(
            t, "reload", "subscribers")))
    return workers


@snippet("topic-reload")
def run_topic_reload(t, s, block):
    """Three workers each load once, reload once per write, and end with
    status 0 when rmdir removes the topic."""
    worker, publish = [x for x in sub(t, block.text).splitlines() if x]
    t.mkobj("topics", "reload", 0o666)

    def n(k):
        return s.made() == b"reload-config\n" * k

    ws = reload_workers(t, s, lambda: t.spawn(
        ["bash", "-c", worker], env=s.env, cwd=t.mnt), n)
    for k in (1, 2):
        t.eq(run_script(t, s, publish), (0, b"", b""), "`%s`" % publish)
        t.true(wait_until(lambda: n(3 + 3 * k) and
                          waiting(t, "topics", "reload"), 5),
               "publish %d: each worker reloaded once more" % k,
               "loads %s" % fmt(s.made()))
    t.eq((topic_value(t, "reload", "published"),
          topic_value(t, "reload", "dropped")), ("2\n", "0\n"),
         "published, dropped")
    t.rmobj("topics", "reload")
    for p in ws:
        t.eq(t.finish(p, 5), (0, b"", b""), "a worker after rmdir")


RELOAD_PY = """import sys
%s

def reload_config():
    print("reloaded", flush=True)

if sys.argv[1] == "worker":
    worker(reload_config)
else:
    reload_all()
"""


@snippet("pg-psql")
def run_pg_psql(t, s, block):
    """The PostgreSQL engine's native API from psql, on a private server
    given the daemon's schema (schema.sql); then the message the transcript
    left is received through a mount of that database."""
    from pg import PgHarness, PgServer
    srv = PgServer().start()
    old = s.env
    try:
        with open(os.path.join(ROOT, "backends", "pg", "schema.sql")) as f:
            srv.psql(f.read())
        s.env = dict(s.env, **srv.env)
        transcript(t, s, block)
        # The README's names have no prefix: a mount of prefix "" shows them.
        m = PgHarness("readme_pg", prefix="", server=srv)
        m.timers = t.timers
        t.extra.append(m)
        m.prepare()
        m.start_daemon()
        t.eq(t.read_file(os.path.join(m.mnt, "queues", "jobs", "data")),
             b"build 41", "build 41, left by psql, through a mount")
        t.eq(t.extra_unmount(m), [], "the mount of the README's database")
    finally:
        s.env = old
        srv.stop()


@snippet("topic-reload-python")
def run_topic_reload_python(t, s, block):
    """As topic-reload, with the functions of the block: worker() in three
    processes (their reload_config prints), reload_all() in a fourth."""
    src = s.file("reload.py", RELOAD_PY % sub(t, block.text))
    t.mkobj("topics", "reload", 0o666)
    ws = []

    def spawn():
        ws.append(t.spawn([sys.executable, src, "worker"], env=s.env,
                          cwd=s.dir))
        return ws[-1]

    got = [b""] * 3

    def loads(k):
        """Whether each worker has printed `reloaded` K times."""
        for i, p in enumerate(ws):
            if got[i].count(b"\n") < k:
                got[i] += t.read_until(p, b"\n", 0.1)
        return all(g == b"reloaded\n" * k for g in got)

    reload_workers(t, s, spawn, lambda n: len(ws) == 3 and loads(1))
    for k in (2, 3):
        rc, out, err = t.run([sys.executable, src, "reload_all"],
                             timeout=15, env=s.env, cwd=s.dir)
        t.eq((rc, out, err), (0, b"", b""), "reload_all()")
        t.true(wait_until(lambda: loads(k), 5),
               "each worker reloaded once more", "output %s" % got)
    t.eq(topic_value(t, "reload", "dropped"), "0\n", "dropped")
    t.rmobj("topics", "reload")
    for p in ws:
        t.eq(t.finish(p, 5), (0, b"", b""), "a worker after rmdir")


@snippet("inspect")
def run_inspect(t, s, block):
    for kind, name in (("queues", "done"), ("queues", "jobs"),
                       ("channels", "log"), ("shm", "acc"),
                       ("sem", "lock")):
        t.mkobj(kind, name, 0o644)
    t.send("jobs", b"job 1\n")
    t.send("jobs", b"job 2\n")
    t.spawn(["cat", t.qpath("done", "data")])
    holder = t.spawn(["sh", "-c", "exec 9<sem/lock/hold; exec sleep 60"],
                     cwd=t.mnt)
    t.true(wait_until(lambda: value(t, "sem", "lock", "holders") ==
                      "%d\n" % holder.pid, 5), "the holder holds sem/lock")
    waiter = t.spawn(["sh", "-c", "exec 9<sem/lock/hold"], cwd=t.mnt)
    t.true(wait_until(lambda: waiting(t, "queues", "done") and
                      waiting(t, "sem", "lock"), 5), "both wait")
    pids = re.findall(r"^(\d+) hold\n(\d+)\n", block.text, re.M)
    t.eq(len(pids), 1, "the README's waiter and holder PIDs")
    transcript(t, s, block, subs=[(pids[0][0], str(waiter.pid)),
                                  (pids[0][1], str(holder.pid))],
               loose={0: without_sysv, 2: json_without_sysv,
                      3: used_columns_match})


@snippet("verbs")
def run_verbs(t, s, block):
    t.mkq("jobs", 0o644)
    t.mkobj("sem", "lock", 0o644)
    t0 = time.monotonic()
    transcript(t, s, block, status={0: 124})
    t.true(time.monotonic() - t0 >= 5, "recv --timeout 5 waited 5 s")
    t.eq(s.made(), b"install\n", "make ran under hold")
    t.true(wait_until(lambda: value(t, "sem", "lock", "value") == "3\n", 2),
           "sem/lock: 1, taken by wait, 3 posted, the hold given back")


@snippet("mkdir-hint")
def run_mkdir_hint(t, s, block):
    """The hint's figures are the system's default queue (10 x 8192) and
    the subshell's limit; the PID is the daemon's."""
    for name, want in (("msg_default", "10"), ("msgsize_default", "8192")):
        with open("/proc/sys/fs/mqueue/" + name) as f:
            if f.read().strip() != want:
                t.skip("fs.mqueue.%s is not %s here" % (name, want))
    pid = re.search(r"--pid (\d+)$", block.text, re.M).group(1)
    transcript(t, s, block, subs=[(pid, str(t.daemon.pid))], status={0: 1})
    t.eq(os.listdir(t.qpath("")), [], "no queue made")


# -- the programs of "From other languages" ----------------------------------

def program(t, s, block, argv, want, timeout=15):
    """Queue jobs holding "job 0\\n": the program sends "job 1\\n" and
    prints the oldest message; WANT is what it prints."""
    t.mkq("jobs", 0o644)
    t.send("jobs", b"job 0\n")
    rc, out, err = t.run(argv, timeout=timeout, env=s.env, cwd=s.dir)
    t.eq((rc, out, err), (0, want, b""), "%s program" % block.lang)
    t.eq(t.drain("jobs"), [(b"job 1\n", 0)], "what it sent, received "
         "natively")


@snippet("lang-python")
def run_lang_python(t, s, block):
    t.mkobj("sem", "lock", 0o644)
    src = s.file("jobs.py", sub(t, block.text))
    program(t, s, block, [sys.executable, src], b"job 0\n0\n")
    t.true(wait_until(lambda: value(t, "sem", "lock", "value") == "1\n", 2),
           "sem/lock given back")


@snippet("lang-node")
def run_lang_node(t, s, block):
    node = t.need("node")
    program(t, s, block, [node, s.file("jobs.js", sub(t, block.text))],
            b"job 0\n")


@snippet("lang-node-worker")
def run_lang_node_worker(t, s, block):
    node = t.need("node")
    t.mkq("jobs", 0o644)
    p = t.spawn([node, s.file("worker.js", sub(t, block.text))], env=s.env,
                cwd=s.dir)
    t.true(wait_until(lambda: waiting(t, "queues", "jobs"), 10),
           "the worker thread waits on queues/jobs")
    t.send("jobs", b"job 1\n")
    t.send("jobs", b"job 2\n")
    got = t.read_until(p, b"got job 2\n", 5)
    t.eq(got, b"got job 1\ngot job 2\n", "what the main thread got")
    t.true(wait_until(lambda: waiting(t, "queues", "jobs"), 5),
           "the worker thread waits again")
    t.rmq("jobs")
    t.eq(t.finish(p, 5), (0, b"", b""), "node after rmdir")


@snippet("lang-go")
def run_lang_go(t, s, block):
    go = t.need("go")
    src = s.file("jobs.go", sub(t, block.text))
    exe = os.path.join(s.dir, "jobs-go")
    env = dict(s.env, GOCACHE=os.path.join(s.dir, "gocache"),
               GOPATH=os.path.join(s.dir, "gopath"), GOFLAGS="-mod=mod",
               GOPROXY="off", GOTOOLCHAIN="local")
    rc, out, err = t.run([go, "build", "-o", exe, src], timeout=60, env=env,
                         cwd=s.dir)
    t.eq((rc, out + err), (0, b""), "go build")
    program(t, s, block, [exe], b"job 0\n")


@snippet("lang-java")
def run_lang_java(t, s, block):
    javac = t.need("javac")
    java = t.need("java")
    cls = re.search(r"public class (\w+)", block.text).group(1)
    src = s.file(cls + ".java", sub(t, block.text))
    rc, out, err = t.run([javac, "-d", s.dir, src], timeout=60, cwd=s.dir)
    t.eq((rc, out + err), (0, b""), "javac")
    program(t, s, block, [java, "-cp", s.dir, cls], b"job 0\n", timeout=30)


@snippet("lang-c")
def run_lang_c(t, s, block):
    src = s.file("jobs.c", sub(t, block.text))
    exe = os.path.join(s.dir, "jobs-c")
    rc, out, err = t.run(["cc", "-Wall", "-Werror", "-o", exe, src],
                         timeout=30)
    t.eq((rc, out + err), (0, b""), "cc -Wall -Werror")
    program(t, s, block, [exe], b"job 0\n")


@snippet("lang-shell")
def run_lang_shell(t, s, block):
    program(t, s, block, ["sh", s.file("jobs.sh", sub(t, block.text))],
            b"job 0\n")


# -- Development -------------------------------------------------------------

@snippet("layout")
def run_layout(t, s, block):
    paths = [line.split()[0] for line in block.text.splitlines()
             if line and not line[0].isspace()]
    missing = [p for p in paths if not os.path.exists(os.path.join(ROOT, p))]
    t.true(paths and not missing, "the layout's paths exist",
           "missing: %s" % missing)


@snippet("fake-kind")
def run_fake_kind(t, s, block):
    exe = os.environ.get("IPCFS_TEST") or os.path.join(
        os.path.dirname(os.path.abspath(t.ipcfs)), "tests", "ipcfs-test")
    if not os.access(exe, os.X_OK):
        pytest.skip("no test daemon at %s (set $IPCFS_TEST)" % exe)
    mnt = os.path.realpath(tempfile.mkdtemp(prefix="ipcfs-readme-t-"))
    prefix = "t%d_rdemo_" % os.getpid()
    def where_any(want, got):
        """Where the daemon's messages go is the machine's (syslog, or a
        file named for its PID): any place matches."""
        said = re.compile(r"^ipcfs: messages go to \S+$", re.M)
        return said.sub("", want) == said.sub("", got)
    try:
        # An IPC namespace of its own: its sysv/ shows no System V object
        # of the machine's.
        transcript(t, s, block, subs=[
            ("build/tests/ipcfs-test", "unshare -i " + exe),
            ("prefix=demo_", "prefix=" +
                                              prefix), ("/mnt/t", mnt)],
            status={3: 1}, loose={0: where_any})
    finally:
        pid = None
        try:
            pid = int(os.getxattr(mnt, "user.ipcfs.pid"))
        except (OSError, ValueError):
            pass
        t.unmount_dir(mnt)
        if pid:
            def gone():
                try:
                    os.kill(pid, 0)
                    return False
                except ProcessLookupError:
                    return True
            if not wait_until(gone, 5):
                os.kill(pid, signal.SIGKILL)
            # Its log, where there is no syslog (ipcfs(8), LOGGING).
            with contextlib.suppress(FileNotFoundError):
                os.unlink("/run/ipcfs/ipcfs.%d.log" % pid)
        rmdir_patiently(mnt)
        native.unlink_prefix(prefix)


@pytest.mark.deadline(90)
@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_snippet(t, scratch, name):
    if name not in RUNNERS:
        pytest.fail("no runner for README block %s" % name)
    RUNNERS[name](t, scratch, BLOCKS[name])

# SPDX-License-Identifier: GPL-2.0-or-later
"""Several users on one tree mounted with allow_other (DESIGN §1: through
the tree a user does exactly what the object's native permissions allow).

Two unprivileged users, A (ipcfs_t1, group ipcfs_ga) and B (ipcfs_t2, group
ipcfs_gb, also in ipcfs_gs), are made once with useradd (they stay); every
action of theirs runs in a child process that drops to their uid, gid and
groups and prints, as JSON, the errno name of each call ("ok" when it
worked), so exact values are asserted. Each test's docstring names the hole
of issue 7 it guards, or says it is a standing check:

  * hole 1: symlink takeover through sem/ chmod/chown (a held directory fd)
  * hole 2: the same through shm/, and the swap-in-a-loop race, both kinds
  * hole 3: a link, FIFO or directory planted in /dev/shm is no object
  * hole 4: sem wait/hold need read and write, as sem_open does
  * hole 5: queues made by mkdir are charged to the caller's RLIMIT_MSGQUEUE
    (the smaller of the daemon's and the caller's); -o max_user_files caps
    the open files of one uid, -o max_user_parked the bytes of its waiting
    writes, and nobody else feels it
  * standing: the permission matrix of every kind (0600 and 0644 objects of
    A, as B), compared with the native API's answer where there is one, and
    objects made by a user are that user's

fs.protected_symlinks is set to 0 for the symlink tests and restored after.
"""

import contextlib
import errno
import grp
import json
import os
import platform
import pwd
import resource
import shutil
import stat
import sys
import tempfile
import time

from harness import Harness
from mount import Fail
from native import mq_close, mq_open, sem_post, sem_value
from procs import PIPE

USER_A, USER_B = "ipcfs_t1", "ipcfs_t2"
GROUP_A, GROUP_B, GROUP_S = "ipcfs_ga", "ipcfs_gb", "ipcfs_gs"
PROTECTED_SYMLINKS = "/proc/sys/fs/protected_symlinks"
# mq_unlink(2) without glibc, which turns the kernel's EPERM into EACCES.
SYS_MQ_UNLINK = {"x86_64": 241, "aarch64": 181}.get(platform.machine())
MQ_LIMIT = 819200      # the kernel's default RLIMIT_MSGQUEUE

# What a child runs before its test's code: the credentials and limits of
# argv[1] (JSON), then helpers that answer an errno name or "ok". The code
# fills R; R is printed as the last line, "RESULT {json}". step(what)
# prints "STEP {json}" and waits for a line on stdin (interactive tests).
CHILD = r'''
import ctypes, errno, json, os, resource, sys, time
cfg = json.loads(sys.argv[1])
for res, soft, hard in cfg["rlimits"]:
    resource.setrlimit(res, (soft, hard))
os.setgroups(cfg["groups"])
os.setgid(cfg["gid"])
os.setuid(cfg["uid"])
os.umask(0)
ARGS = cfg["args"]
R = {}
libc = ctypes.CDLL("libc.so.6", use_errno=True)
if not hasattr(libc, "mq_open"):
    libc = ctypes.CDLL("librt.so.1", use_errno=True)
libc.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint,
                         ctypes.c_void_p]
libc.sem_open.restype = ctypes.c_void_p
libc.sem_open.argtypes = [ctypes.c_char_p, ctypes.c_int]
libc.sem_close.argtypes = [ctypes.c_void_p]
libc.syscall.restype = ctypes.c_long

def name(e):
    return errno.errorcode.get(e, str(e))

def E(fn, *a):
    try:
        fn(*a)
    except OSError as e:
        return name(e.errno)
    return "ok"

def op(path, flags=os.O_RDONLY):
    os.close(os.open(path, flags))

def rd(path, flags=os.O_RDONLY | os.O_NONBLOCK):
    fd = os.open(path, flags)
    try:
        os.read(fd, 65536)
    finally:
        os.close(fd)

def wr(path, data, flags=os.O_WRONLY | os.O_NONBLOCK):
    fd = os.open(path, flags)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)

def mq(pname, flags):
    """Native mq_open of /PNAME."""
    fd = libc.mq_open(pname.encode(), flags, 0, None)
    if fd < 0:
        return name(ctypes.get_errno())
    os.close(fd)
    return "ok"

def semo(pname):
    """Native sem_open of /PNAME (needs read and write)."""
    s = libc.sem_open(pname.encode(), 0)
    if not s:
        return name(ctypes.get_errno())
    libc.sem_close(s)
    return "ok"

def mq_unlink_raw(pname):
    if libc.syscall(cfg["sys_mq_unlink"], pname[1:].encode()) < 0:
        return name(ctypes.get_errno())
    return "ok"

def step(what):
    print("STEP " + json.dumps([what, R]), flush=True)
    sys.stdin.readline()
'''

CHILD_END = r'''
print("RESULT " + json.dumps(R), flush=True)
'''


class UsersHarness(Harness):
    """The shared harness, plus two users and a way to act as them."""

    creds = None                # {"A": (uid, gid, [groups]), ...}
    no_users = None             # why they could not be made

    def ensure_users(self):
        """Make the users and groups once (they stay); skip the test where
        that cannot be done."""
        if self.no_users:
            self.skip(self.no_users)
        if self.creds:
            return self.creds
        if os.geteuid() != 0:
            type(self).no_users = "not root: cannot act as other users"
            self.skip(self.no_users)
        try:
            useradd = shutil.which("useradd") or "/usr/sbin/useradd"
            groupadd = shutil.which("groupadd") or "/usr/sbin/groupadd"
            for tool in (useradd, groupadd):
                if not os.access(tool, os.X_OK):
                    raise Fail("%s is not installed" % os.path.basename(tool))
            for g in (GROUP_A, GROUP_B, GROUP_S):
                try:
                    grp.getgrnam(g)
                except KeyError:
                    rc, out, err = self.run([groupadd, g], timeout=20)
                    if rc != 0 and rc != 9:     # 9: it exists (a race)
                        raise Fail("groupadd %s: %s" % (g, err.decode()))
            for u, g, more in ((USER_A, GROUP_A, []),
                               (USER_B, GROUP_B, [GROUP_S])):
                try:
                    pwd.getpwnam(u)
                except KeyError:
                    argv = [useradd, "-M", "-N", "-s", "/usr/sbin/nologin",
                            "-g", g] + (["-G", ",".join(more)] if more else
                                        []) + [u]
                    rc, out, err = self.run(argv, timeout=20)
                    if rc != 0 and rc != 9:
                        raise Fail("useradd %s: %s" % (u, err.decode()))
            gid = {g: grp.getgrnam(g).gr_gid
                   for g in (GROUP_A, GROUP_B, GROUP_S)}
            a, b = pwd.getpwnam(USER_A).pw_uid, pwd.getpwnam(USER_B).pw_uid
        except Fail as e:
            type(self).no_users = "cannot make the test users: %s" % e
            self.skip(self.no_users)
        type(self).creds = {
            "A": (a, gid[GROUP_A], [gid[GROUP_A]]),
            "B": (b, gid[GROUP_B], [gid[GROUP_B], gid[GROUP_S]]),
            "B-": (b, gid[GROUP_B], [gid[GROUP_B]]),    # B without gs
            "root": (0, 0, [0]),
            "gs": gid[GROUP_S],
        }
        return self.creds

    def uid(self, who):
        return self.ensure_users()[who][0]

    def gid(self, who):
        return self.ensure_users()[who][1]

    def _child_argv(self, who, code, args, rlimits):
        uid, gid, groups = self.ensure_users()[who]
        cfg = {"uid": uid, "gid": gid, "groups": groups, "args": args,
               "rlimits": [list(r) for r in rlimits],
               "sys_mq_unlink": SYS_MQ_UNLINK or -1}
        return [sys.executable, "-c", CHILD + code + CHILD_END,
                json.dumps(cfg)]

    def as_user(self, who, code, args=None, rlimits=(), timeout=15):
        """Run CODE (Python, after CHILD's prelude) as WHO ("A", "B", "B-"
        for B without its group ipcfs_gs, "root"): its R."""
        argv = self._child_argv(who, code, args or {}, rlimits)
        rc, out, err = self.run(argv, timeout=timeout, cwd="/")
        lines = [ln for ln in out.decode().splitlines()
                 if ln.startswith("RESULT ")]
        if rc != 0 or not lines:
            raise Fail("child as %s: status %s, stderr %s" % (
                who, rc, err.decode(errors="replace")[-1500:]))
        return json.loads(lines[-1][len("RESULT "):])

    def user_start(self, who, code, args=None, rlimits=()):
        """Start CODE as WHO, interactively: step() talks to user_step."""
        argv = self._child_argv(who, code, args or {}, rlimits)
        return self.spawn(argv, stdin=PIPE, cwd="/")

    def user_step(self, p, timeout=15, go=True):
        """Wait for the child's next "STEP" line: (what, R). go=False
        leaves it waiting."""
        got = self.read_until(p, b"\n", timeout)
        line = got.decode(errors="replace").strip()
        if not line.startswith("STEP "):
            err = b""
            if p.poll() is not None:
                with contextlib.suppress(Exception):
                    err = p.stderr.read()
            raise Fail("child: expected a STEP line, got %r (status %s) %s"
                       % (line, p.poll(),
                          err.decode(errors="replace")[-1500:]))
        if go:
            self.user_go(p)
        return json.loads(line[len("STEP "):])

    def user_go(self, p):
        p.stdin.write(b"\n")
        p.stdin.flush()

    def user_end(self, p, timeout=15):
        """The child's last R, once it exits 0."""
        rc, out, err = self.finish(p, timeout)
        lines = [ln for ln in out.decode().splitlines()
                 if ln.startswith("RESULT ")]
        if rc != 0 or not lines:
            raise Fail("child: status %s, stderr %s" % (
                rc, err.decode(errors="replace")[-1500:]))
        return json.loads(lines[-1][len("RESULT "):])

    def expect(self, got, want, what):
        """Every key of WANT has its value in GOT; one Fail lists all
        that do not."""
        bad = ["%s: got %s, expected %s" % (k, got.get(k), v)
               for k, v in want.items() if got.get(k) != v]
        if bad:
            raise Fail("%s: %s" % (what, "; ".join(bad)))

    def mkobj_as(self, who, kind, name, mode, root=None):
        """mkdir KIND/NAME with MODE as WHO (umask 0), tracked."""
        path = os.path.join(root or self.mnt, kind, name)
        r = self.as_user(who, 'R["mkdir"] = E(os.mkdir, ARGS["p"], '
                         'ARGS["mode"])', {"p": path, "mode": mode})
        if r["mkdir"] == "ok":
            self.made[kind].add(name)
        self.eq(r["mkdir"], "ok", "mkdir %s/%s 0%o as %s" % (kind, name,
                                                           mode, who))
        return path

    def devfile(self, kind, name):
        return self.shm_file(kind, name)

    def mode_owner(self, path):
        st = os.lstat(path)
        return (oct(stat.S_IMODE(st.st_mode)), st.st_uid, st.st_gid)

    def tree_stat(self, path):
        with self.within(5, "stat %s" % path):
            return os.stat(path)

    def listing(self, kind, root=None):
        with self.within(5, "ls %s" % kind):
            return os.listdir(os.path.join(root or self.mnt, kind))

    @contextlib.contextmanager
    def victim(self):
        """A root-owned 0600 file of ours that a symlink may point at, in
        /tmp (the users may stat it): the path. Removed afterwards."""
        fd, path = tempfile.mkstemp(prefix="ipcfs-victim-", dir="/tmp")
        try:
            os.write(fd, b"secret\n")
            os.fchmod(fd, 0o600)
            os.fchown(fd, 0, 0)
            os.close(fd)
            fd = -1
            yield path
        finally:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(path)

    def victim_untouched(self, path, what):
        self.eq(self.mode_owner(path), (oct(0o600), 0, 0),
                "%s: the victim's (mode, uid, gid)" % what)

    def unprotect_symlinks(self):
        """fs.protected_symlinks = 0 for the test (restore_sysctls, called
        in the test's finally and at the end, puts it back)."""
        try:
            self.set_sysctl(PROTECTED_SYMLINKS, 0)
        except OSError as e:
            self.skip("cannot set fs.protected_symlinks to 0: %s" % e)


H = UsersHarness("users", allow_other=None, mq_maxmsg=10, mq_msgsize=8192)

KINDS = ("queues", "channels", "shm", "sem")


def test_users_reach_the_tree(t):
    """Standing: the users exist and reach a tree mounted with allow_other
    (every other test depends on it)."""
    t.ensure_users()
    for who in ("A", "B"):
        r = t.as_user(who, 'R["ls"] = sorted(os.listdir(ARGS["m"]))',
                      {"m": t.mnt})
        t.true(set(KINDS) <= set(r["ls"]), "ls MNT as %s" % who,
               repr(r["ls"]))


# ---------------------------------------------------------------------------
# Hole 5: queues are charged to the caller


def test_queue_mkdir_charged_to_caller_rlimit(t):
    """Hole 5: a user whose own RLIMIT_MSGQUEUE forbids queues must not get
    one through the tree (the daemon's own, larger, limit was used): B with
    RLIMIT_MSGQUEUE 0 gets EMFILE from mkdir queues/x, and nothing is
    made."""
    t.ensure_users()
    path = t.qpath("nolimit")
    r = t.as_user("B", 'R["mkdir"] = E(os.mkdir, ARGS["p"], 0o600)',
                  {"p": path},
                  rlimits=[(resource.RLIMIT_MSGQUEUE, 0, 0)])
    if r["mkdir"] == "ok":
        t.made["queues"].add("nolimit")
    t.eq(r["mkdir"], "EMFILE", "mkdir queues/x as B under ulimit -q 0")
    t.raises(errno.ENOENT, mq_open, t.posix("nolimit"), os.O_RDONLY,
             what="native mq_open of the queue B was refused")
    # The same B, with the default limit, may.
    r = t.as_user("B", 'R["mkdir"] = E(os.mkdir, ARGS["p"], 0o600)',
                  {"p": path},
                  rlimits=[(resource.RLIMIT_MSGQUEUE, MQ_LIMIT, MQ_LIMIT)])
    if r["mkdir"] == "ok":
        t.made["queues"].add("nolimit")
    t.eq(r["mkdir"], "ok", "mkdir queues/x as B under ulimit -q %d" %
         MQ_LIMIT)


def test_queue_budget_is_per_user(t):
    """Hole 5: one user filling their RLIMIT_MSGQUEUE budget through the
    tree (queues were all charged to the daemon's user) must leave every
    other user's mkdir working: B (ulimit -q 819200, queues of 10 x 8192
    bytes) gets EMFILE within 12 mkdirs, then A and root still make
    queues, owned by themselves."""
    t.ensure_users()
    code = r'''
R["made"] = []
R["err"] = None
for i in range(ARGS["n"]):
    e = E(os.mkdir, os.path.join(ARGS["q"], "fill%d" % i), 0o600)
    if e != "ok":
        R["err"] = e
        break
    R["made"].append("fill%d" % i)
'''
    r = t.as_user("B", code, {"q": os.path.join(t.mnt, "queues"), "n": 12},
                  rlimits=[(resource.RLIMIT_MSGQUEUE, MQ_LIMIT, MQ_LIMIT)])
    t.made["queues"].update(r["made"])
    t.note("B made %d queues before %s" % (len(r["made"]), r["err"]))
    t.eq(r["err"], "EMFILE", "B's mkdir once its %d bytes are used "
         "(after %d queues)" % (MQ_LIMIT, len(r["made"])))
    t.true(1 <= len(r["made"]) <= 10, "B made 1 to 10 queues first",
           "%d" % len(r["made"]))
    r = t.as_user("A", 'R["mkdir"] = E(os.mkdir, ARGS["p"], 0o600)',
                  {"p": t.qpath("fair_a")},
                  rlimits=[(resource.RLIMIT_MSGQUEUE, MQ_LIMIT, MQ_LIMIT)])
    if r["mkdir"] == "ok":
        t.made["queues"].add("fair_a")
    t.eq(r["mkdir"], "ok", "A's mkdir queues/fair_a while B's budget is "
         "used up")
    r = t.as_user("root", 'R["mkdir"] = E(os.mkdir, ARGS["p"], 0o600)',
                  {"p": t.qpath("fair_root")})
    if r["mkdir"] == "ok":
        t.made["queues"].add("fair_root")
    t.eq(r["mkdir"], "ok", "root's mkdir queues/fair_root while B's budget "
         "is used up")
    for name, who in (("fair_a", "A"), ("fair_root", "root"),
                      ("fill0", "B")):
        mqd = mq_open(t.posix(name), os.O_RDONLY)
        try:
            st = os.fstat(mqd)
        finally:
            mq_close(mqd)
        t.eq((st.st_uid, st.st_gid), (t.uid(who), t.gid(who)),
             "native owner of queue %s (made by %s)" % (name, who))


# ---------------------------------------------------------------------------
# Holes 1-3: /dev/shm objects are regular files, reached without following


def test_planted_links_are_not_objects(t):
    """Hole 3: a symlink, a FIFO or a directory planted at
    /dev/shm/sem.PREFIXx or /dev/shm/PREFIXx is no object: stat gives
    ENOENT (a link showed its target's owner and mode), it is not listed,
    root's chmod through the tree reaches nothing, and the link's target
    is untouched."""
    t.ensure_users()
    planted = []
    with t.victim() as victim:
        try:
            for kind in ("sem", "shm"):
                for what in ("lnk", "fifo", "dir"):
                    f = t.devfile(kind, what)
                    if what == "lnk":
                        os.symlink(victim, f)
                    elif what == "fifo":
                        os.mkfifo(f, 0o600)
                    else:
                        os.mkdir(f, 0o700)
                    planted.append(f)
            bad = []
            for kind in ("sem", "shm"):
                names = t.listing(kind)
                for what in ("lnk", "fifo", "dir"):
                    if what in names:
                        bad.append("%s/%s listed" % (kind, what))
                    p = t.path(kind, what)
                    for fn, args in ((os.stat, (p,)),
                                     (os.chmod, (p, 0o666)),
                                     (os.chown, (p, t.uid("A"), -1))):
                        try:
                            with t.within(5, "%s %s" % (fn.__name__, p)):
                                fn(*args)
                            bad.append("%s %s/%s: worked" % (
                                fn.__name__, kind, what))
                        except OSError as e:
                            if e.errno != errno.ENOENT:
                                bad.append("%s %s/%s: %s" % (
                                    fn.__name__, kind, what,
                                    errno.errorcode.get(e.errno)))
            if t.mode_owner(victim) != (oct(0o600), 0, 0):
                bad.append("the link's target is now %s" % (
                    t.mode_owner(victim),))
            t.true(not bad, "planted files are no objects (ENOENT, not "
                   "listed), the target untouched", "; ".join(bad))
        finally:
            for f in planted:
                with contextlib.suppress(OSError):
                    if os.path.isdir(f) and not os.path.islink(f):
                        os.rmdir(f)
                    else:
                        os.unlink(f)


# A's attack: make KIND/NAME, keep its directory open, put a symlink to the
# victim in place of its file in /dev/shm, then chmod or chown through the
# descriptor (the kernel checks ownership against the cached attributes).
SWAP = r'''
for op in ("chmod", "chown"):
    d = os.path.join(ARGS["kinddir"], op)
    f = ARGS["file_" + op]
    R["mkdir_" + op] = E(os.mkdir, d, 0o600)
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    os.unlink(f)
    os.symlink(ARGS["victim"], f)
    if op == "chmod":
        R[op] = E(os.fchmod, fd, 0o666)
    else:
        R[op] = E(os.fchown, fd, os.getuid(), os.getgid())
    os.close(fd)
'''


def symlink_swap(t, kind):
    t.ensure_users()
    t.unprotect_symlinks()
    try:
        with t.victim() as victim:
            r = t.as_user("A", SWAP, {
                "kinddir": os.path.join(t.mnt, kind), "victim": victim,
                "file_chmod": t.devfile(kind, "chmod"),
                "file_chown": t.devfile(kind, "chown")})
            for op in ("chmod", "chown"):
                if r["mkdir_" + op] == "ok":
                    t.made[kind].add(op)
            t.victim_untouched(victim, "after A's fchmod and fchown "
                               "through %s/" % kind)
            t.expect(r, {"mkdir_chmod": "ok", "mkdir_chown": "ok",
                         "chmod": "ENOENT", "chown": "ENOENT"},
                     "A's fchmod/fchown of %s/NAME whose file is now a "
                     "symlink" % kind)
            for op in ("chmod", "chown"):
                t.raises(errno.ENOENT, t.tree_stat, t.path(kind, op),
                         what="stat %s/%s (a symlink now)" % (kind, op))
    finally:
        t.restore_sysctls()


def test_sem_symlink_swap(t):
    """Hole 1: symlink takeover through sem/: A owns sem/chmod and
    sem/chown, keeps their directories open, replaces
    /dev/shm/sem.PREFIXNAME by a symlink to a root 0600 file, then
    fchmod(0666) / fchown(A) through the descriptors: both fail with
    ENOENT and the root file keeps mode 0600 and owner root."""
    symlink_swap(t, "sem")


def test_shm_symlink_swap(t):
    """Holes 1-2, shm/: the same attack on a segment
    (/dev/shm/PREFIXNAME): ENOENT, the root file untouched."""
    symlink_swap(t, "shm")


# Two processes of A: one swaps the object's file with a symlink to the
# victim kept under ARGS["spare"] (renameat2 RENAME_EXCHANGE: the name is
# never missing, a link half of the time), the other chmods through the
# held directory, for ARGS["secs"] s or until the victim's mode changed.
RACE = r'''
d, f, victim = ARGS["dir"], ARGS["file"], ARGS["victim"]
R["mkdir"] = E(os.mkdir, d, 0o600)
fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
os.symlink(victim, ARGS["spare"])
libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                           ctypes.c_char_p, ctypes.c_uint]
AT_FDCWD, RENAME_EXCHANGE = -100, 2
end = time.monotonic() + ARGS["secs"]
rfd, wfd = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(rfd)
    n = 0
    a, b = f.encode(), ARGS["spare"].encode()
    while n % 256 or (time.monotonic() < end and
                      os.stat(victim).st_mode & 0o777 == 0o600):
        if libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) < 0:
            break
        n += 1
    os.write(wfd, str(n).encode())
    os._exit(0)
os.close(wfd)
seen = {}
n = 0
while time.monotonic() < end:
    e = E(os.fchmod, fd, 0o666)
    seen[e] = seen.get(e, 0) + 1
    n += 1
    if e == "EPERM":
        # The kernel cached a link target's owner: look the directory up
        # again, for attributes of a moment the file was A's.
        try:
            fd2 = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
            os.close(fd)
            fd = fd2
        except OSError:
            pass
    if n % 16 == 0 and os.stat(victim).st_mode & 0o777 != 0o600:
        break
os.waitpid(pid, 0)
R["swaps"] = int(os.read(rfd, 64) or b"0")
R["chmods"] = seen
'''


def test_symlink_swap_race(t):
    """Hole 2: the check-then-chmod race: while one process of A swaps
    /dev/shm/PREFIXrace (or sem.PREFIXrace) between its regular file and a
    symlink to a root 0600 file, another chmods 0666 through the held
    directory of shm/race (sem/race), for a second each: the root file
    stays 0600, owned by root."""
    t.ensure_users()
    t.unprotect_symlinks()
    bad = []
    try:
        for kind in ("shm", "sem"):
            with t.victim() as victim:
                r = t.as_user("A", RACE, {
                    "dir": t.path(kind, "race"),
                    "file": t.devfile(kind, "race"),
                    "spare": t.devfile(kind, "race_spare"),
                    "victim": victim, "secs": 1.0}, timeout=20)
                with contextlib.suppress(OSError):
                    os.unlink(t.devfile(kind, "race_spare"))
                if r["mkdir"] == "ok":
                    t.made[kind].add("race")
                t.note("%s: %d swaps, fchmod results %s" % (
                    kind, r["swaps"], r["chmods"]))
                t.eq(r["mkdir"], "ok", "A's mkdir %s/race" % kind)
                t.true(sum(r["chmods"].values()) > 10 and r["swaps"] > 10,
                       "the race ran (%s)" % kind, repr(r))
                got = t.mode_owner(victim)
                if got != (oct(0o600), 0, 0):
                    bad.append("%s/: the victim's (mode, uid, gid) became "
                               "%s" % (kind, got))
    finally:
        t.restore_sysctls()
    t.true(not bad, "the root file stays 0600, root's", "; ".join(bad))


# ---------------------------------------------------------------------------
# Hole 4: semaphore units need read and write


SEM_TRY = r'''
p, pn = ARGS["p"], ARGS["pname"]
R["value"] = E(rd, os.path.join(p, "value"))
R["wait"] = E(rd, os.path.join(p, "wait"))
R["hold"] = E(op, os.path.join(p, "hold"), os.O_RDONLY | os.O_NONBLOCK)
R["post"] = E(wr, os.path.join(p, "post"), b"1\n")
R["native"] = semo(pn)
'''


def sem_try(t, who, name):
    """WHO's value/wait/hold/post of sem/NAME and native sem_open."""
    return t.as_user(who, SEM_TRY, {"p": t.path("sem", name),
                                    "pname": t.posix(name)})


def test_sem_read_only_takes_no_unit(t):
    """Hole 4: read permission alone took semaphore units (native sem_open
    needs read and write). A's semaphore 0644 of value 2, B in "other":
    value readable; wait and hold EACCES, nothing taken; post EACCES. With
    0666 B waits (takes one), holds (gives it back) and posts. Root takes
    a unit of A's 0600 one."""
    t.ensure_users()
    t.mkobj_as("A", "sem", "ro", 0o644)
    sem_post(t.posix("ro"))
    r = sem_try(t, "B", "ro")
    t.expect(r, {"value": "ok", "wait": "EACCES", "hold": "EACCES",
                 "post": "EACCES", "native": "EACCES"},
             "B on A's 0644 semaphore")
    t.eq(sem_value(t.posix("ro")), 2, "value after B's tries (nothing "
         "taken)")
    t.mkobj_as("A", "sem", "rw", 0o666)
    sem_post(t.posix("rw"))
    r = sem_try(t, "B", "rw")
    t.expect(r, {"value": "ok", "wait": "ok", "hold": "ok", "post": "ok",
                 "native": "ok"}, "B on A's 0666 semaphore")
    t.eq(sem_value(t.posix("rw")), 2, "value after B's wait (-1), hold "
         "and its release (0), post (+1)")
    t.mkobj_as("A", "sem", "own", 0o600)
    with t.within(5, "read sem/own/wait as root"):
        t.eq(t.read_file(t.path("sem", "own", "wait"),
                         flags=os.O_RDONLY | os.O_NONBLOCK), b"",
             "root's wait on A's 0600 semaphore")
    t.eq(sem_value(t.posix("own")), 0, "root took A's unit")


def test_sem_permission_classes(t):
    """Hole 4: the daemon's check picks the caller's class as the kernel
    does (owner, else a group of the caller's, supplementary ones
    included, else other) and needs rw there. Semaphores of A, group
    ipcfs_gs: 0466 (owner r only) and 0646 (group r only); A, B in
    ipcfs_gs, and B without it. Each answer must be native sem_open's."""
    c = t.ensure_users()
    want = {
        # (name, mode): {who: answer}
        ("c466", 0o466): {"A": "EACCES", "B": "ok", "B-": "ok"},
        ("c646", 0o646): {"A": "ok", "B": "EACCES", "B-": "ok"},
    }
    bad = []
    for (name, mode), whos in sorted(want.items()):
        t.mkobj_as("A", "sem", name, 0o600)
        os.chown(t.devfile("sem", name), c["A"][0], c["gs"])
        os.chmod(t.devfile("sem", name), mode)
        sem_post(t.posix(name), 4)
        for who, ans in sorted(whos.items()):
            before = sem_value(t.posix(name))
            r = sem_try(t, who, name)
            exp = {"wait": ans, "hold": ans, "native": ans}
            for k, v in exp.items():
                if r[k] != v:
                    bad.append("%s on 0%o: %s %s (expected %s)" % (
                        who, mode, k, r[k], v))
            after = sem_value(t.posix(name))
            taken = before - after + (1 if r["post"] == "ok" else 0)
            if taken != (1 if ans == "ok" else 0):
                bad.append("%s on 0%o: %d units taken" % (who, mode, taken))
    t.true(not bad, "wait/hold answer as sem_open for each class",
           "; ".join(bad))


# ---------------------------------------------------------------------------
# Standing: the permission matrix, kind by kind


def matrix(t, kind, code, want):
    """A makes KIND/m600 and KIND/m644; B runs CODE on each (ARGS: p, the
    directory; pname, the POSIX name; file, the /dev/shm file), then
    tries rmdir, chmod, chown, chgrp; A tries to give it to B. WANT[mode]
    is what CODE's answers must be."""
    t.ensure_users()
    native_rm = {
        "queues": 'R["native_rm"] = mq_unlink_raw(ARGS["pname"])',
        "shm": 'R["native_rm"] = E(os.unlink, ARGS["file"])',
        "sem": 'R["native_rm"] = E(os.unlink, ARGS["file"])',
    }.get(kind, "")
    after = r'''
p = ARGS["p"]
R["rmdir"] = E(os.rmdir, p)
R["chmod"] = E(os.chmod, p, 0o666)
R["chown"] = E(os.chown, p, os.getuid(), -1)
R["chgrp"] = E(os.chown, p, -1, os.getgid())
''' + native_rm
    for mode in (0o600, 0o644):
        name = "m%o" % mode
        t.mkobj_as("A", kind, name, mode)
        args = {"p": t.path(kind, name), "pname": t.posix(name),
                "file": t.devfile(kind, name) if kind in ("shm", "sem")
                else None}
        r = t.as_user("B", code + after, args)
        exp = dict(want[mode], rmdir="EPERM", chmod="EPERM", chown="EPERM",
                   chgrp="EPERM")
        if native_rm and (kind != "queues" or SYS_MQ_UNLINK):
            # The kernel's answer to unlink in a sticky directory; glibc's
            # mq_unlink/shm_unlink/sem_unlink turn it into EACCES.
            exp["native_rm"] = "EPERM"
        t.expect(r, exp, "B on A's %s/%s" % (kind, name))
        t.true(os.path.isdir(t.path(kind, name)), "%s/%s still there" % (
            kind, name))
        r = t.as_user("A", 'R["give"] = E(os.chown, ARGS["p"], ARGS["b"], '
                      '-1)\nR["chgrp_gs"] = E(os.chown, ARGS["p"], -1, '
                      'ARGS["gs"])', dict(args, b=t.uid("B"),
                                          gs=t.ensure_users()["gs"]))
        t.expect(r, {"give": "EPERM", "chgrp_gs": "EPERM"},
                 "A gives %s/%s to B, or to a group A is not in" % (kind,
                                                                    name))
        st = t.tree_stat(t.path(kind, name))
        t.eq((oct(stat.S_IMODE(st.st_mode)), st.st_uid, st.st_gid),
             (oct(mode | ((mode & 0o444) >> 2)), t.uid("A"), t.gid("A")),
             "%s/%s: mode and owner unchanged" % (kind, name))


def test_matrix_queues(t):
    """Standing (DESIGN §1): B on A's queues of 0600 and 0644: data for
    reading and writing, stream, framed both ways, count, as native mq_open
    answers;
    rmdir, chmod, chown EPERM (as the kernel's mq_unlink)."""
    code = r'''
p, pn = ARGS["p"], ARGS["pname"]
R["data_r"] = E(op, os.path.join(p, "data"), os.O_RDONLY | os.O_NONBLOCK)
R["data_w"] = E(op, os.path.join(p, "data"), os.O_WRONLY | os.O_NONBLOCK)
R["stream"] = E(op, os.path.join(p, "stream"), os.O_RDONLY | os.O_NONBLOCK)
R["framed_r"] = E(op, os.path.join(p, "framed"), os.O_RDONLY | os.O_NONBLOCK)
R["framed_w"] = E(op, os.path.join(p, "framed"), os.O_WRONLY | os.O_NONBLOCK)
R["count"] = E(rd, os.path.join(p, "count"))
R["native_r"] = mq(pn, os.O_RDONLY | os.O_NONBLOCK)
R["native_w"] = mq(pn, os.O_WRONLY | os.O_NONBLOCK)
'''
    matrix(t, "queues", code, {
        0o600: {"data_r": "EACCES", "data_w": "EACCES", "stream": "EACCES",
                "framed_r": "EACCES", "framed_w": "EACCES",
                "count": "EACCES", "native_r": "EACCES",
                "native_w": "EACCES"},
        0o644: {"data_r": "ok", "data_w": "EACCES", "stream": "ok",
                "framed_r": "ok", "framed_w": "EACCES",
                "count": "ok", "native_r": "ok", "native_w": "EACCES"}})


def test_matrix_channels(t):
    """Standing (DESIGN §1): B on A's channels of 0600 and 0644: data for
    reading and writing, bytes, capacity; rmdir, chmod, chown EPERM."""
    code = r'''
p = ARGS["p"]
R["data_r"] = E(op, os.path.join(p, "data"), os.O_RDONLY | os.O_NONBLOCK)
R["data_w"] = E(op, os.path.join(p, "data"), os.O_WRONLY | os.O_NONBLOCK)
R["bytes"] = E(rd, os.path.join(p, "bytes"))
R["capacity_w"] = E(wr, os.path.join(p, "capacity"), b"4096\n")
'''
    matrix(t, "channels", code, {
        0o600: {"data_r": "EACCES", "data_w": "EACCES", "bytes": "EACCES",
                "capacity_w": "EACCES"},
        0o644: {"data_r": "ok", "data_w": "EACCES", "bytes": "ok",
                "capacity_w": "EACCES"}})


def test_matrix_shm(t):
    """Standing (DESIGN §1): B on A's segments of 0600 and 0644: data for
    reading and for writing, size read and written, as a native open of
    the segment answers; rmdir, chmod, chown EPERM (as unlink in
    /dev/shm)."""
    code = r'''
p, f = ARGS["p"], ARGS["file"]
R["data_r"] = E(rd, os.path.join(p, "data"), os.O_RDONLY)
R["data_rw"] = E(op, os.path.join(p, "data"), os.O_RDWR)
R["size_r"] = E(rd, os.path.join(p, "size"))
R["size_w"] = E(wr, os.path.join(p, "size"), b"4096\n")
R["native_r"] = E(op, f, os.O_RDONLY | os.O_NOFOLLOW)
R["native_rw"] = E(op, f, os.O_RDWR | os.O_NOFOLLOW)
'''
    matrix(t, "shm", code, {
        0o600: {"data_r": "EACCES", "data_rw": "EACCES", "size_r": "EACCES",
                "size_w": "EACCES", "native_r": "EACCES",
                "native_rw": "EACCES"},
        0o644: {"data_r": "ok", "data_rw": "EACCES", "size_r": "ok",
                "size_w": "EACCES", "native_r": "ok",
                "native_rw": "EACCES"}})


def test_matrix_sem(t):
    """Standing (DESIGN §1) and hole 4: B on A's semaphores of 0600 and
    0644: value, wait, hold, post, as native sem_open answers (0644: value
    readable, no unit); rmdir, chmod, chown EPERM (as unlink in
    /dev/shm)."""
    code = SEM_TRY
    matrix(t, "sem", code, {
        0o600: {"value": "EACCES", "wait": "EACCES", "hold": "EACCES",
                "post": "EACCES", "native": "EACCES"},
        0o644: {"value": "ok", "wait": "EACCES", "hold": "EACCES",
                "post": "EACCES", "native": "EACCES"}})
    for mode in (0o600, 0o644):
        t.eq(sem_value(t.posix("m%o" % mode)), 1,
             "value of A's 0%o semaphore after B's tries" % mode)


def test_objects_made_by_a_user_are_theirs(t):
    """Standing, and hole 5 (mkdir acts as the caller): what B makes with
    mkdir (mode 0640, umask 0) is owned by B's uid and gid, in the tree
    and natively, with that mode; B may remove it, A may not."""
    c = t.ensure_users()
    buid, bgid = c["B"][0], c["B"][1]
    for kind in KINDS:
        t.mkobj_as("B", kind, "bmade", 0o640)
        st = t.tree_stat(t.path(kind, "bmade"))
        t.eq((oct(stat.S_IMODE(st.st_mode)), st.st_uid, st.st_gid),
             (oct(0o750), buid, bgid), "%s/bmade in the tree" % kind)
        if kind == "queues":
            mqd = mq_open(t.posix("bmade"), os.O_RDONLY)
            try:
                nst = os.fstat(mqd)
            finally:
                mq_close(mqd)
        elif kind in ("shm", "sem"):
            nst = os.lstat(t.devfile(kind, "bmade"))
            t.true(stat.S_ISREG(nst.st_mode), "native %s is a file" % kind)
        else:
            continue
        t.eq((oct(stat.S_IMODE(nst.st_mode)), nst.st_uid, nst.st_gid),
             (oct(0o640), buid, bgid), "native %s/bmade" % kind)
    r = t.as_user("A", 'R.update({k: E(os.rmdir, os.path.join(ARGS["m"], '
                  'k, "bmade")) for k in ARGS["kinds"]})',
                  {"m": t.mnt, "kinds": KINDS})
    t.expect(r, {k: "EPERM" for k in KINDS}, "A's rmdir of B's objects")
    r = t.as_user("B", 'R.update({k: E(os.rmdir, os.path.join(ARGS["m"], '
                  'k, "bmade")) for k in ARGS["kinds"]})',
                  {"m": t.mnt, "kinds": KINDS})
    for k in KINDS:
        if r.get(k) == "ok":
            t.made[k].discard("bmade")
    t.expect(r, {k: "ok" for k in KINDS}, "B's rmdir of its own objects")


# ---------------------------------------------------------------------------
# Hole 5: -o max_user_files


FILES = r'''
fds = []
R["opens"] = []
for i in range(ARGS["n"]):
    p = os.path.join(ARGS["shm"], "f%d" % (i % 4), "data")
    try:
        fds.append(os.open(p, os.O_RDWR))
        R["opens"].append("ok")
    except OSError as e:
        R["opens"].append(name(e.errno))
R["extra_data"] = E(op, os.path.join(ARGS["shm"], "f0", "data"), os.O_RDONLY)
R["extra_size"] = E(rd, os.path.join(ARGS["shm"], "f1", "size"))
R["extra_queue"] = E(rd, os.path.join(ARGS["q"], "count"))
step("full")
for fd in fds[:5]:
    os.close(fd)
R["after_close"] = E(op, os.path.join(ARGS["shm"], "f2", "data"),
                     os.O_RDONLY)
step("reopened")
'''

OTHERS = r'''
R["ls"] = E(os.listdir, ARGS["shm"])
R["data"] = E(rd, os.path.join(ARGS["shm"], "f3", "data"))
R["count"] = E(rd, os.path.join(ARGS["q"], "count"))
R["mkdir"] = E(os.mkdir, os.path.join(ARGS["shm"], ARGS["new"]), 0o600)
'''


def test_max_user_files(t):
    """Hole 5: one client holding open files exhausted the daemon's
    descriptors for everybody. With -o max_user_files=20, B's 20 opens of
    shm data work, its 21st open (data, an attribute file, another
    kind's) fails with EMFILE, while A and root still list, read count,
    open data and mkdir; once B closes five, B opens again."""
    t.ensure_users()
    with t.extra_tree("users2", prefix=t.prefix, allow_other=None,
                      max_user_files=20) as m:
        shm = os.path.join(m.mnt, "shm")
        for i in range(4):
            with t.within(5, "mkdir"):
                os.mkdir(os.path.join(shm, "f%d" % i), 0o666)
            t.made["shm"].add("f%d" % i)
        with t.within(5, "mkdir"):
            os.mkdir(os.path.join(m.mnt, "queues", "mq"), 0o666)
        t.made["queues"].add("mq")
        q = os.path.join(m.mnt, "queues", "mq")
        p = t.user_start("B", FILES, {"shm": shm, "q": q, "n": 20})
        what, r = t.user_step(p, go=False)
        t.eq(what, "full", "B's step")
        t.eq(r["opens"], ["ok"] * 20, "B's first 20 opens")
        t.expect(r, {"extra_data": "EMFILE", "extra_size": "EMFILE",
                     "extra_queue": "EMFILE"}, "B's 21st open")
        for who, new in (("A", "a_new"), ("root", "root_new")):
            o = t.as_user(who, OTHERS, {"shm": shm, "q": q, "new": new})
            if o["mkdir"] == "ok":
                t.made["shm"].add(new)
            t.expect(o, {"ls": "ok", "data": "ok", "count": "ok",
                         "mkdir": "ok"}, "%s while B is at its cap" % who)
        t.user_go(p)
        what, r = t.user_step(p, go=False)
        t.eq(what, "reopened", "B's step")
        t.eq(r["after_close"], "ok", "B's open after closing five")
        t.user_go(p)
        t.user_end(p)


PARKER = r'''
import threading
fds = [os.open(ARGS["data"], os.O_WRONLY) for _ in range(ARGS["n"])]
res = {}
def w(i):
    res[i] = E(os.write, fds[i], b"w" * ARGS["size"])
th = threading.Thread(target=w, args=(0,), daemon=True)
th.start()
time.sleep(0.5)              # the first write parks on the full channel
for i in range(1, ARGS["n"]):
    w(i)
R["more"] = [res[i] for i in range(1, ARGS["n"])]
step("parked")
th.join(10)
R["first"] = res.get(0, "still blocked")
'''


def test_max_user_parked(t):
    """Hole 5, memory: a write that waits keeps a copy of its bytes in the
    daemon (libfuse reuses its buffer), so parked writes of one user could
    fill the daemon's memory. With -o max_user_parked=3000, B's first
    2000-byte write to a full channel parks, its second fails with ENOBUFS
    at once (nothing written); A still parks 2000 bytes of its own; both
    parked writes complete once the channel is read."""
    t.ensure_users()
    with t.extra_tree("users3", prefix=t.prefix, allow_other=None,
                      max_user_parked=3000) as m:
        ch = os.path.join(m.mnt, "channels", "pk")
        with t.within(5, "mkdir"):
            os.mkdir(ch, 0o666)
        t.made["channels"].add("pk")
        data = os.path.join(ch, "data")
        rd = t.open(data, os.O_RDONLY | os.O_NONBLOCK)
        t.eq(t.write_file(os.path.join(ch, "capacity"), b"4096\n"), 5,
             "capacity")
        t.eq(t.write_file(data, b"f" * 4096), 4096, "fill the channel")
        b = t.user_start("B", PARKER, {"data": data, "n": 2, "size": 2000})
        what, r = t.user_step(b, go=False)
        t.eq(r["more"], ["ENOBUFS"], "B's second parked write")
        a = t.user_start("A", PARKER, {"data": data, "n": 1, "size": 2000})
        t.user_step(a, go=False)
        t.eq(t.read_file(os.path.join(ch, "bytes")), b"4096\n",
             "nothing of the refused write went in")
        got = b""
        with t.within(10, "draining the channel"):
            while len(got) < 8096:
                try:
                    got += os.read(rd, 65536)
                except BlockingIOError:
                    time.sleep(0.01)
        t.eq(len(got), 8096, "the channel gave the fill and both writes")
        for who, p in (("B", b), ("A", a)):
            t.user_go(p)
            t.eq(t.user_end(p)["first"], "ok", "%s's parked write" % who)
        t.close(rd)

# SPDX-License-Identifier: GPL-2.0-or-later
"""mount - one mounted tree: its daemon, prefix, mount point and log.

A Mount starts `$IPCFS -f -o prefix=PFX,...` on a fresh temporary mount
point, its output going to a log file of its own, and waits until the tree
is mounted. It unmounts with fusermount3 -u and, when that fails, the hard
way (abort the FUSE connection, umount -l), so nothing stays mounted.

It also knows the tree only by looking at it: which kinds there are (the
directories that hold objects), which files an object has, and which
objects exist. Removing them all is a walk and an rmdir each, with no
knowledge of any kind; that is how every test's leftovers go.

Every step that touches the mount runs under a deadline (within): SIGALRM
raises StepTimeout when a step takes too long, so a stuck daemon fails a
test instead of hanging it.
"""

import contextlib
import os
import signal
import stat
import subprocess
import tempfile
import time

from native import mounted_fstype
from procs import DEVNULL, PIPE

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SANITIZER_MARKERS = ("AddressSanitizer", "runtime error", "LeakSanitizer")


class Fail(AssertionError):
    """A check failed: the test fails with this message."""


class StepTimeout(Exception):
    """A step under within() took longer than its bound."""


class Abort(KeyboardInterrupt):
    """A signal or the file deadline: stop testing, clean up. pytest ends
    the session on it as on Ctrl-C, and still tears the fixtures down."""


def sanitizer_at(text):
    """Where in TEXT (a daemon's output) the first sanitizer report's
    marker is, or -1 if it has none."""
    at = [text.index(m) for m in SANITIZER_MARKERS if m in text]
    return min(at) if at else -1


def rmdir_patiently(path, tries=50):
    """rmdir PATH, trying again a moment later while it is busy (it was
    just unmounted): True once it is gone."""
    for _ in range(tries):
        try:
            os.rmdir(path)
            return True
        except FileNotFoundError:
            return True
        except OSError:
            time.sleep(0.02)
    return False


def quiet_run(args, timeout):
    """Run ARGS with a bound, never raising: (status, its output)."""
    try:
        p = subprocess.Popen(args, stdin=DEVNULL, stdout=PIPE, stderr=PIPE,
                             start_new_session=True)
    except OSError as e:
        return -1, str(e)
    try:
        out, err = p.communicate(timeout=timeout)
        return p.returncode, (out + err).decode(errors="replace").strip()
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(p.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            p.communicate(timeout=5)
        return -1, "timed out"


def _is_dir(path):
    """True, False, or None for what is gone: sysv/ shows the machine's
    objects, which other programs (other tests' trees) remove while we
    walk."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return None


def _entries(path):
    """{name: is a directory} of PATH, None if PATH is gone (see _is_dir).
    A listing whose entries all went meanwhile is taken again: that was
    an object just removed (gone at the next try) or a kind whose objects
    all were."""
    for _ in range(10):
        try:
            names = os.listdir(path)
        except FileNotFoundError:
            return None
        there = {e: _is_dir(os.path.join(path, e)) for e in names}
        there = {e: d for e, d in there.items() if d is not None}
        if there or not names:
            break
    return there


class Mount:
    def __init__(self, name, prefix=None, **opts):
        self.name = name
        self.prefix = "t%d_%s_" % (os.getpid(), name) if prefix is None \
            else prefix
        self.opts = opts                # mq_maxmsg=, allow_other=None, ...
        self.ipcfs = os.environ.get("IPCFS") or os.path.join(ROOT, "build",
                                                             "ipcfs")
        self.ipcctl = os.environ.get("IPCCTL") or os.path.join(ROOT, "build",
                                                               "ipcctl")
        self.mnt = None
        self.conn = None                # /sys/fs/fuse/connections/<conn>
        self.daemon = None
        # The daemon runs under self.wrap (a command prefix, e.g. valgrind
        # and its options); the waits for it to mount and to exit after
        # unmount are mount_wait and exit_wait seconds.
        self.wrap = []
        self.mount_wait = 10
        self.exit_wait = 5
        self.stderr_path = None
        self.stderr_off = 0
        self.timers = []                # [(deadline, what)]: within()
        self.aborting = None            # why the run stops, once it does
        self._files = {}                # kind -> the files of its objects

    def note(self, s):
        for line in str(s).splitlines() or [""]:
            print("# %s" % line, flush=True)

    def fail(self, what):
        raise Fail(what)

    # -- deadlines -----------------------------------------------------------

    def _arm(self):
        if not self.timers:
            signal.setitimer(signal.ITIMER_REAL, 0)
            return
        left = min(d for d, _ in self.timers) - time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))

    def on_alarm(self, signo, frame):
        """The SIGALRM handler: the earliest expired step fails. An abort
        is sticky: a timer going off in a `finally` must not replace it."""
        if self.aborting:
            raise Abort(self.aborting)
        now = time.monotonic()
        expired = [(d, w) for d, w in self.timers if d <= now + 0.001]
        if not expired:
            self._arm()
            return
        raise StepTimeout(min(expired)[1])

    @contextlib.contextmanager
    def within(self, seconds, what):
        """Fail with StepTimeout if the body takes longer than `seconds`."""
        entry = (time.monotonic() + seconds,
                 "%s: no answer within %gs" % (what, seconds))
        self.timers.append(entry)
        self._arm()
        try:
            yield
        finally:
            self.timers.remove(entry)
            self._arm()

    # -- the daemon ----------------------------------------------------------

    def daemon_stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except (OSError, TypeError):
            return ""

    def new_sanitizer_report(self):
        """The first sanitizer report the daemon wrote since the last call,
        or None. The look starts a little before (a marker cut in two by
        the last call), but a marker seen then is not seen again."""
        text = self.daemon_stderr()
        start = max(0, self.stderr_off - 40)
        at = [text.index(m, start) for m in SANITIZER_MARKERS
              if m in text[start:] and
              text.index(m, start) + len(m) > self.stderr_off]
        self.stderr_off = len(text)
        if not at:
            return None
        i = min(at)
        return text[max(0, i - 100):i + 400]

    def prepare(self):
        """Make the mount point and the daemon's log, mount nothing yet."""
        self.mnt = os.path.realpath(tempfile.mkdtemp(prefix="ipcfs-%s-" %
                                                     self.name))
        fd, self.stderr_path = tempfile.mkstemp(prefix="ipcfs-%s-" % self.name,
                                                suffix=".log")
        os.close(fd)

    def mount(self):
        """Make the mount point and the daemon's log; mount the tree."""
        self.prepare()
        self.start_daemon()

    def daemon_env(self):
        """The environment of the daemon: None for this process's own. A
        hook: PgHarness (pg.py) gives its server's PG* variables."""
        return None

    def start_daemon(self):
        """Start `$IPCFS -f` on the mount point (self.daemon), its output
        appended to the log, and wait until the tree is mounted. A test
        that killed the daemon calls it to mount the same tree again."""
        opts = ["prefix=" + self.prefix]
        # A value of None is a bare flag: allow_other=None gives allow_other.
        opts += [k if v is None else "%s=%s" % (k, v)
                 for k, v in sorted(self.opts.items())]
        cmd = list(self.wrap) + [self.ipcfs, "-f", "-o", ",".join(opts),
                                 self.mnt]
        self.note("mount: " + " ".join(cmd))
        if not os.access(self.ipcfs, os.X_OK):
            self.fail("no daemon at %s (set $IPCFS)" % self.ipcfs)
        fd = os.open(self.stderr_path, os.O_WRONLY | os.O_APPEND)
        try:
            self.daemon = subprocess.Popen(cmd, stdin=DEVNULL, stdout=fd,
                                           stderr=fd, start_new_session=True,
                                           env=self.daemon_env())
        finally:
            os.close(fd)
        end = time.monotonic() + self.mount_wait
        while mounted_fstype(self.mnt) is None:
            if self.daemon.poll() is not None:
                self.fail("daemon exited with %s before mounting: %s" % (
                    self.daemon.returncode, self.daemon_stderr()[-500:]))
            if time.monotonic() > end:
                self.fail("not mounted after %g s" % self.mount_wait)
            time.sleep(0.02)
        with self.within(max(5, self.mount_wait / 2),
                         "stat of the mount point"):
            st = os.stat(self.mnt)
            if not os.path.ismount(self.mnt):
                self.fail("%s: not os.path.ismount" % self.mnt)
        self.conn = str(os.minor(st.st_dev)) if os.major(st.st_dev) == 0 \
            else None

    def abort_connection(self):
        """Abort the tree's FUSE connection: every request in it fails at
        once, so no process stays stuck in the tree."""
        if not self.conn:
            return False
        path = "/sys/fs/fuse/connections/%s/abort" % self.conn
        if os.path.exists(path):
            try:
                with open(path, "w") as f:
                    f.write("1")
                self.note("aborted the FUSE connection (%s)" % path)
                return True
            except OSError as e:
                self.note("cannot abort %s: %s" % (path, e))
                return False
        # fusectl is not mounted here: mount it in a private namespace.
        d = tempfile.mkdtemp(prefix="ipcfs-fusectl-")
        try:
            rc, msg = quiet_run(
                ["unshare", "-m", "--propagation", "private", "sh", "-c",
                 'mount -t fusectl fusectl "$1" && echo 1 > "$1/$2/abort"',
                 "sh", d, self.conn], 10)
        finally:
            with contextlib.suppress(OSError):
                os.rmdir(d)
        if rc == 0:
            self.note("aborted FUSE connection %s" % self.conn)
            return True
        self.note("cannot abort FUSE connection %s: %s" % (self.conn, msg))
        return False

    def unmount(self):
        """Unmount the tree, the hard way if it must. True if cleanly."""
        if not self.mnt or mounted_fstype(self.mnt) is None:
            return True
        rc, msg = quiet_run(["fusermount3", "-u", self.mnt], 10)
        if rc == 0 and mounted_fstype(self.mnt) is None:
            return True
        self.note("fusermount3 -u failed (%s): %s" % (rc, msg))
        self.abort_connection()
        rc, msg = quiet_run(["umount", "-l", self.mnt], 10)
        if rc != 0:
            self.note("umount -l failed: %s" % msg)
        return False

    def unmount_dir(self, d):
        """Unmount whatever is mounted on D: fusermount3 -u, else umount -l.
        True if nothing is mounted there any more."""
        if mounted_fstype(d) is None:
            return True
        rc, msg = quiet_run(["fusermount3", "-u", d], 10)
        if rc != 0 or mounted_fstype(d) is not None:
            self.note("fusermount3 -u %s: %s %s; umount -l" % (d, rc, msg))
            rc, msg = quiet_run(["umount", "-l", d], 10)
            if rc != 0:
                self.note("umount -l %s: %s" % (d, msg))
        return mounted_fstype(d) is None

    def stop_daemon(self):
        """Unmount the tree and wait for the daemon to exit by itself, else
        kill it: what went wrong, or None."""
        clean = self.unmount()
        try:
            rc = self.daemon.wait(self.exit_wait)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.daemon.wait(5)
            return "still running %g s after unmount; killed" % \
                self.exit_wait
        if not clean:
            return "unmount needed an abort; daemon status %s" % rc
        if rc != 0:
            return "exit status %s" % rc
        return None

    def sanitizer_report(self, text=None):
        """The first sanitizer report in the daemon's output (or TEXT), a
        few hundred characters of it, or None."""
        text = self.daemon_stderr() if text is None else text
        i = sanitizer_at(text)
        return None if i < 0 else text[max(0, i - 100):i + 400]

    def discard(self):
        """Unmount, stop the daemon, remove the mount point and the log:
        a list of what went wrong (the daemon did not exit 0 by itself, the
        unmount needed an abort, a sanitizer report in its output)."""
        errs = []
        if self.daemon is not None:
            problem = self.stop_daemon()
            if problem:
                errs.append("daemon of %s: %s" % (self.name, problem))
            report = self.sanitizer_report()
            if report:
                errs.append("daemon of %s, stderr: %s" % (self.name, report))
            self.daemon = None
        else:
            self.unmount()
        if self.mnt and not rmdir_patiently(self.mnt):
            self.note("cannot remove %s" % self.mnt)
        if self.stderr_path:
            with contextlib.suppress(OSError):
                os.unlink(self.stderr_path)
            self.stderr_path = None
        return errs

    # -- what the tree shows -------------------------------------------------

    def _walk(self, d, rel, kinds, objects):
        entries = _entries(d)
        if entries is None:
            return  # gone meanwhile
        objs, subs = [], []
        for e in sorted(e for e in entries if entries[e]):
            inner = _entries(os.path.join(d, e))
            if inner is None:
                continue  # gone meanwhile
            subs.append(e)
            if inner and not any(inner.values()):
                objs.append(e)
        files = [e for e in entries if not entries[e]]
        if rel and (not (subs or files) or objs):
            kinds.append(rel)
            objects += [(rel, e) for e in objs]
            return
        for e in subs:
            self._walk(os.path.join(d, e), os.path.join(rel, e) if rel
                       else e, kinds, objects)

    def survey(self, root=None):
        """(kinds, objects) of the tree at ROOT (the mount point): a kind
        is a directory that is empty or holds objects, an object a
        directory of files, so `sysv/msg` is found as well as `queues`.
        objects is [(kind, name)]."""
        kinds, objects = [], []
        with self.within(20, "walk of the tree"):
            self._walk(root or self.mnt, "", kinds, objects)
        return kinds, objects

    def kinds(self):
        """The kinds this tree serves, e.g. ["channels", "queues", ...]."""
        return self.survey()[0]

    def kind_files(self, kind):
        """The files of an object of KIND: those of a fresh one, made and
        removed for the purpose once (then remembered)."""
        if kind not in self._files:
            probe = os.path.join(self.mnt, kind,
                                 self.objname(kind, "probe-files"))
            with self.within(5, "ls a fresh %s object" % kind):
                os.mkdir(probe, 0o600)
                try:
                    self._files[kind] = sorted(os.listdir(probe))
                finally:
                    os.rmdir(probe)
        return self._files[kind]

    def objname(self, kind, base):
        """The directory name a test uses for an object it calls BASE in
        KIND: BASE itself where objects have names; for a System V kind a
        key of the test's range, the same one for the same BASE until the
        test ends (sysv.Keys; without keys, BASE)."""
        keys = getattr(self, "keys", None)
        if not kind.startswith("sysv/") or keys is None:
            return base
        return keys.name_for(kind, base)

    def ours(self, kind, name):
        """May the teardown remove KIND/NAME? Everything under the tree's
        prefix is the test's; System V keys have no prefix (sysv/ shows
        every object of the host), so only those of the test's key range
        are (harness.py's sysv.Keys)."""
        keys = getattr(self, "keys", None)
        if not kind.startswith("sysv/"):
            return True
        return keys is not None and keys.owns(kind, name)

    def remove_objects(self, root=None):
        """rmdir every object the tree shows: [(kind/name, what went
        wrong)] for those that would not go."""
        errs = []
        root = root or self.mnt
        for kind, name in self.survey(root)[1]:
            if not self.ours(kind, name):
                continue
            path = os.path.join(root, kind, name)
            try:
                with self.within(5, "rmdir %s/%s" % (kind, name)):
                    os.rmdir(path)
            except FileNotFoundError:
                pass
            except (OSError, StepTimeout) as e:
                errs.append(("%s/%s" % (kind, name), str(e)))
        return errs

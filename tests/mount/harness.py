# SPDX-License-Identifier: GPL-2.0-or-later
"""harness - what a mount test is handed: the tree and ways to check it.

A test file names its tree, H = Harness("name", option=value, ...), and
its tests take the fixture `t` (conftest.py), which is that Harness, mounted
once for the file under a prefix of its own. Between tests the harness
kills what the test started, closes what it held and removes every object
the tree shows, so each test starts from an empty tree.

Checks: t.eq, t.true and t.raises fail the test at once (Fail); t.check is
a soft check, noted, and the test goes on but fails at its end. Every step
that could wait runs under a deadline (t.within), every child under a
timeout: a stuck test fails, never hangs.
"""

import collections
import contextlib
import os
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback

import pytest

import native
import sysv
from kinds import QueueHelpers, ShmFileHelpers
from mount import (Mount, StepTimeout, quiet_run, rmdir_patiently,
                   sanitizer_at)
from native import mounted_fstype
from procs import Children, errname, fmt

FILE_DEADLINE = int(os.environ.get("IPCFS_TEST_DEADLINE", "240"))
TEST_TIMEOUT = 60


class Harness(Mount, Children, QueueHelpers, ShmFileHelpers):
    def __init__(self, name, prefix=None, **opts):
        super().__init__(name, prefix, **opts)
        self.procs = []                 # children still to reap
        self.stuck = []                 # children a SIGKILL did not end
        # Names made by the current test, by kind: a fallback list of
        # native objects to unlink if the tree cannot remove them.
        self.made = collections.defaultdict(set)
        self.keys = sysv.Keys()         # System V keys of this process
        self.mqds = []                  # native queue descriptors
        self.fds = []                   # descriptors of files in the tree
        self.extra = []                 # extra trees (Harness objects)
        self.current = None             # the running test's name
        self.soft_failures = []         # t.check's that failed
        self.sysctls = {}               # path -> value to restore
        self.wd_pid = None
        self.wd_fd = None
        self.t_start = None
        self.cleaned = False

    # -- assertions ----------------------------------------------------------

    def check(self, name, cond, detail=""):
        """A soft check: noted; if false the test goes on, but fails."""
        if cond:
            self.note("ok - %s" % name)
        else:
            self.note("FAIL - %s: %s" % (name, detail or "false"))
            self.soft_failures.append("%s: %s" % (name, detail or "false"))
        return cond

    def eq(self, got, want, what):
        if got != want:
            self.fail("%s: got %s, expected %s" % (what, fmt(got), fmt(want)))

    def true(self, cond, what, detail=""):
        if not cond:
            self.fail("%s%s" % (what, (": " + detail) if detail else ""))

    def raises(self, eno, fn, *args, what=None):
        what = what or getattr(fn, "__name__", "call")
        try:
            r = fn(*args)
        except OSError as e:
            if e.errno != eno:
                self.fail("%s: failed with %s, expected %s" % (
                    what, errname(e.errno), errname(eno)))
            return
        self.fail("%s: succeeded (%s), expected %s" % (what, fmt(r),
                                                      errname(eno)))

    def settle(self, fn, want, what, wait=0.4, timeout=0.4):
        """fn() becomes `want` within `timeout` s (polled), and is still
        `want` `wait` s later: nothing arrives or leaves late. Only that
        second look sleeps, as an absence cannot be polled for. (The
        bounds are those of the sleep-then-look it replaces.)"""
        self.eq(self.wait_value(fn, want, timeout), want, what)
        time.sleep(wait)
        self.eq(fn(), want, "%s (%g s later)" % (what, wait))

    def skip(self, reason):
        pytest.skip(reason)

    def need(self, program):
        """The path of PROGRAM; the test is skipped where it is missing."""
        path = shutil.which(program) or os.path.join("/usr/bin", program)
        if not os.access(path, os.X_OK):
            self.skip("%s is not installed" % program)
        return path

    # -- objects and files ---------------------------------------------------

    def posix(self, name):
        """The native name of NAME, of any kind: "/PREFIXNAME"."""
        return "/" + self.prefix + name

    def path(self, kind, name, *rest):
        return os.path.join(self.mnt, kind, name, *rest)

    def mkobj(self, kind, name, mode=0o600):
        """mkdir KIND/NAME (the test's teardown removes it)."""
        path = self.path(kind, name)
        with self.within(5, "mkdir %s/%s" % (kind, name)):
            os.mkdir(path, mode)
        self.made[kind].add(name)
        return path

    def rmobj(self, kind, name):
        with self.within(5, "rmdir %s/%s" % (kind, name)):
            os.rmdir(self.path(kind, name))
        self.made[kind].discard(name)

    def open(self, path, flags, timeout=2.0):
        """os.open under a step timer; the teardown closes what is left."""
        with self.within(timeout, "open %s" % path):
            fd = os.open(path, flags)
        self.fds.append(fd)
        return fd

    def close(self, fd):
        self.fds.remove(fd)
        with self.within(5, "close"):
            os.close(fd)

    @contextlib.contextmanager
    def opened(self, path, flags=os.O_RDONLY, timeout=5, what=None):
        """A descriptor of PATH for the body of a with: the open, the body
        and the close all under one step timer of `timeout` s."""
        with self.within(timeout, what or "open %s" % path):
            fd = os.open(path, flags)
            try:
                yield fd
            finally:
                os.close(fd)

    def read_file(self, path, size=65536, timeout=5, flags=os.O_RDONLY):
        """One read(2) of a fresh open of PATH."""
        with self.opened(path, flags, timeout, "read %s" % path) as fd:
            return os.read(fd, size)

    def write_file(self, path, data, flags=os.O_WRONLY, timeout=5):
        """One write(2) of DATA to a fresh open of PATH: what it returned
        (an errno comes back as OSError)."""
        with self.opened(path, flags, timeout,
                         "write %s to %s" % (fmt(data, 40), path)) as fd:
            return os.write(fd, data)

    def revents(self, fd, events, timeout_ms=0):
        """poll(2) FD for EVENTS under a step timer: its revents (0: none
        within `timeout_ms`)."""
        with self.within(timeout_ms / 1000.0 + 3, "poll"):
            p = select.poll()
            p.register(fd, events)
            return dict(p.poll(timeout_ms)).get(fd, 0)

    # -- other trees ---------------------------------------------------------

    def extra_mount(self, tag, prefix=None, **opts):
        """Mount another tree: its own daemon, mount point and options, and
        PREFIX (by default one of its own). A Harness (.mnt, .daemon); the
        teardown unmounts it if the test does not (extra_unmount)."""
        m = self.extra_unstarted(tag, prefix, **opts)
        m.start_daemon()
        return m

    def extra_unstarted(self, tag, prefix=None, **opts):
        """An extra tree with its mount point and log made but no daemon
        yet: its start_daemon() mounts it."""
        m = self.extra_harness(tag, prefix, **opts)
        m.timers = self.timers          # one SIGALRM handler serves both
        self.extra.append(m)
        m.prepare()
        return m

    def extra_harness(self, tag, prefix, **opts):
        """A new Harness for an extra tree (a hook: PgHarness gives one of
        its own engine and server)."""
        return Harness(tag, prefix=prefix, **opts)

    def _ours(self, m):
        """Whether every object tree M shows is this file's to remove: its
        prefix is one this process made up (never "", never a guess)."""
        return m.prefix.startswith("t%d_" % os.getpid())

    def extra_unmount(self, m):
        """Unmount an extra tree: a list of what went wrong (its daemon did
        not exit 0 by itself, the unmount needed an abort, a sanitizer
        report in its output)."""
        if m in self.extra:
            self.extra.remove(m)
        if self._ours(m) and m.daemon is not None and \
                m.daemon.poll() is None:
            with contextlib.suppress(Exception):
                m.remove_objects()
        errs = m.discard()
        if self._ours(m) and m.prefix != self.prefix:
            native.unlink_prefix(m.prefix, self.note)
        return errs

    @contextlib.contextmanager
    def extra_tree(self, tag, prefix=None, **opts):
        """extra_mount for the body of a with: the tree is unmounted on the
        way out, and what extra_unmount finds wrong fails the test."""
        m = self.extra_mount(tag, prefix, **opts)
        try:
            yield m
        finally:
            errs = self.extra_unmount(m)
        if errs:
            self.fail("; ".join(errs))

    def set_sysctl(self, path, value):
        """Write a sysctl; the cleanup restores the first value seen."""
        with open(path) as f:
            old = f.read().strip()
        self.sysctls.setdefault(path, old)
        with open(path, "w") as f:
            f.write(str(value))
        return old

    def restore_sysctls(self):
        for path, old in list(self.sysctls.items()):
            try:
                with open(path, "w") as f:
                    f.write(old)
                del self.sysctls[path]
            except OSError as e:
                self.note("cannot restore %s to %s: %s" % (path, old, e))
    # -- daemons that must refuse to start ----------------------------------

    def start_refused(self, opts, foreground=True, timeout=10, env=None):
        """`$IPCFS [-f] -o OPTS` on a fresh directory, expected to refuse:
        (status, stdout, stderr, mounted), the output decoded. Whatever it
        does, it is left neither running nor mounted. Its environment: ENV,
        else the daemon's (daemon_env)."""
        d = os.path.realpath(tempfile.mkdtemp(prefix="ipcfs-refused-"))
        logs = [tempfile.TemporaryFile(), tempfile.TemporaryFile()]
        mounted = False
        try:
            argv = [self.ipcfs] + ["-f"] * foreground + ["-o", opts, d]
            p = self.spawn(argv, stdout=logs[0], stderr=logs[1],
                           env=env if env is not None else self.daemon_env())
            end = time.monotonic() + timeout
            while p.poll() is None and time.monotonic() < end:
                if mounted_fstype(d) is not None:
                    mounted = True
                    self.unmount_dir(d)
                time.sleep(0.02)
            if mounted_fstype(d) is not None:
                mounted = True
            rc = p.poll()
            if rc is None:
                self.unmount_dir(d)
                self.kill(p)
                self.fail("-o %s: still running after %gs (mounted: %s)" % (
                    opts, timeout, mounted))
            self.finish(p, 2)
            out = []
            for f in logs:
                f.seek(0)
                out.append(f.read().decode(errors="replace"))
            return rc, out[0], out[1], mounted
        finally:
            self.unmount_dir(d)
            for f in logs:
                f.close()
            rmdir_patiently(d)

    # -- the file's run: start, each test's end, cleanup ----------------------

    def start(self):
        """Mount the tree and start the watchdog of the file deadline."""
        self.t_start = time.monotonic()
        self.mount()
        self._start_watchdog()

    def begin_test(self, name):
        self.current = name
        self.soft_failures = []

    def end_test(self):
        """After each test: kill its children, close what it holds, remove
        what it made, unmount its extra trees, and look at what the daemon
        said. A list of what went wrong."""
        try:
            with self.within(30, "teardown of %s" % self.current):
                errs = self._teardown()
        except StepTimeout as e:
            errs = ["teardown: %s" % e]
        report = self.new_sanitizer_report()
        if report:
            errs.append("daemon stderr: %s" % report)
        if self.daemon is not None and self.daemon.poll() is not None:
            errs.append("daemon exited with status %s" %
                        self.daemon.returncode)
        self.current = None
        return errs

    def _teardown(self):
        """Kill, close, remove: through the tree, which shows what the test
        made whatever made it; natively only for what the tree cannot
        reach (its daemon is gone) or would not remove."""
        errs = []
        for p in list(self.procs):
            if not self.kill(p):
                errs.append("child `%s` survived SIGKILL" % p.what)
        for mqd in self.mqds:
            native.mq_close(mqd)
        self.mqds = []
        for fd in self.fds:
            try:
                with self.within(5, "close of a held descriptor"):
                    os.close(fd)
            except (OSError, StepTimeout) as e:
                errs.append("close: %s" % e)
        self.fds = []
        alive = self.daemon is not None and self.daemon.poll() is None \
            and mounted_fstype(self.mnt) is not None
        if alive:
            errs += ["rmdir %s: %s" % e for e in self.remove_objects()]
        else:
            native.unlink_prefix(self.prefix, self.note)
        for kind, names in self.made.items():
            for n in names:
                self.unlink_native(kind, n)
        self.made.clear()
        # System V objects the tree could not remove (or a test made
        # natively and left): every object of the process's key range.
        self.keys.remove_all()
        for m in list(self.extra):
            errs += self.extra_unmount(m)
        return errs

    def _start_watchdog(self):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.close(w)
                for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                          signal.SIGUSR1):
                    signal.signal(s, signal.SIG_IGN)
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, signal.SIG_DFL)
                self._watchdog(r)
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        os.close(r)
        self.wd_pid, self.wd_fd = pid, w

    def _watchdog(self, r):
        """A process of its own that enforces the file deadline: it stops
        the test process (SIGUSR1), aborts the FUSE connection if that is
        stuck in the tree, kills it at last, and cleans up after it."""
        parent = os.getppid()

        def parent_says(seconds):
            ready, _, _ = select.select([r], [], [], max(0.0, seconds))
            if not ready:
                return None
            return "done" if os.read(r, 1) == b"D" else "gone"

        said = parent_says(self.t_start + FILE_DEADLINE - time.monotonic())
        if said == "done":
            return
        if said is None:
            sys.stderr.write("watchdog: %s: %d s deadline reached\n" % (
                self.name, FILE_DEADLINE))
            with contextlib.suppress(OSError):
                os.kill(parent, signal.SIGUSR1)
            said = parent_says(10)
            if said == "done":
                return
            if said is None:
                sys.stderr.write("watchdog: test process stuck, aborting "
                                 "the FUSE connection\n")
                self.abort_connection()
                said = parent_says(10)
                if said == "done":
                    return
                if said is None:
                    with contextlib.suppress(OSError):
                        os.kill(parent, signal.SIGKILL)
                    time.sleep(0.5)
        # The test process died without cleaning up: do it here.
        if self.mnt and mounted_fstype(self.mnt) is not None:
            self.abort_connection()
            quiet_run(["umount", "-l", self.mnt], 10)
        with contextlib.suppress(OSError):
            os.kill(self.daemon.pid, signal.SIGKILL)
        native.unlink_prefix(self.prefix)
        with contextlib.suppress(OSError):
            self.keys.remove_all()
        with contextlib.suppress(OSError):
            os.rmdir(self.mnt)
        with contextlib.suppress(OSError):
            os.unlink(self.stderr_path)
        self._reap_extra_daemons(parent)

    def _reap_extra_daemons(self, parent):
        """The daemons of the dead test process's extra trees, made after
        this watchdog was forked: found by their prefix (every prefix it
        made up starts with t<its pid>_), killed, their trees unmounted."""
        mark = "prefix=t%d_" % parent
        for d in os.listdir("/proc"):
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    argv = f.read().decode(errors="replace").split("\0")[:-1]
            except (OSError, ValueError):
                continue
            opts = [o for i, a in enumerate(argv[1:]) if argv[i] == "-o"
                    for o in a.split(",")]
            if not d.isdigit() or not any(o.startswith(mark) for o in opts):
                continue
            with contextlib.suppress(OSError):
                os.kill(int(d), signal.SIGKILL)
            mnt = argv[-1]
            if os.path.isabs(mnt) and mounted_fstype(mnt) is not None:
                quiet_run(["umount", "-l", mnt], 10)
            with contextlib.suppress(OSError):
                os.rmdir(mnt)

    def _stop_watchdog(self):
        if self.wd_fd is None:
            return
        with contextlib.suppress(OSError):
            os.write(self.wd_fd, b"D")
            os.close(self.wd_fd)
        self.wd_fd = None
        for _ in range(50):
            if os.waitpid(self.wd_pid, os.WNOHANG)[0]:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(OSError):
                os.kill(self.wd_pid, signal.SIGKILL)
                os.waitpid(self.wd_pid, 0)

    def cleanup(self):
        """At the end of the file, whatever happened: reap every child,
        unmount every tree, unlink what is left under the prefix, restore
        sysctls. The end checks: [(name, detail or None if it passed)]."""
        if self.cleaned:
            return []
        self.cleaned = True
        results = []
        self.timers.clear()
        signal.setitimer(signal.ITIMER_REAL, 0)
        strays = self.reap_children()
        if strays:
            self.note("children that survived SIGKILL: %s" % strays)
        if self.stuck and self.mnt and mounted_fstype(self.mnt):
            self.note("%d children stuck: aborting the connection" %
                      len(self.stuck))
            self.abort_connection()
        for p in self.stuck:
            with contextlib.suppress(Exception):
                if isinstance(p, int):
                    for _ in range(100):
                        if os.waitpid(p, os.WNOHANG)[0]:
                            break
                        time.sleep(0.02)
                else:
                    p.communicate(timeout=2)
        for mqd in self.mqds:
            native.mq_close(mqd)
        self.mqds = []
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds = []
        for m in list(self.extra):
            with contextlib.suppress(Exception):
                for e in self.extra_unmount(m):
                    self.note("extra tree %s: %s" % (m.mnt, e))
        self.restore_sysctls()
        if self.daemon is not None:
            if self.daemon.poll() is None and mounted_fstype(self.mnt):
                with contextlib.suppress(Exception):
                    self.remove_objects()
            results.append(("daemon exits by itself after unmount",
                            self.stop_daemon()))
            text = self.daemon_stderr()
            i = sanitizer_at(text)
            if i >= 0:
                report = text[text.rfind("\n", 0, i) + 1:].splitlines()[:80]
                self.note("daemon stderr from the first sanitizer report:")
                self.note("\n".join("  " + line for line in report))
            results.append(("daemon stderr has no sanitizer report",
                            None if i < 0 else text[max(0, i - 100):i + 400]))
        else:
            self.unmount()
        left = native.unlink_prefix(self.prefix, self.note)
        left += ["sysv/%s/0x%08x" % kk for kk in self.keys.remove_all()]
        if left:
            self.note("unlinked %d leftover objects: %s%s" % (
                len(left), " ".join(left[:10]), " ..." if len(left) > 10
                else ""))
        if self.mnt:
            rmdir_patiently(self.mnt)
        if self.stderr_path:
            with contextlib.suppress(OSError):
                os.unlink(self.stderr_path)
        self._stop_watchdog()
        return results

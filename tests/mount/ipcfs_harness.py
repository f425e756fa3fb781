# SPDX-License-Identifier: GPL-2.0-or-later
"""ipcfs_harness - what every mount test file shares.

A test file makes one Harness (its own prefix, its own temporary mount point,
its own mount options), registers test functions with @H.test and calls
H.main(). The harness mounts the tree with `$IPCFS -f`, runs the tests in
order, and whatever happens unmounts, kills what the tests started, unlinks
every native queue, segment and semaphore under the prefix and removes the
mount point:

  * try/finally, atexit, and SIGINT/SIGTERM/SIGHUP handlers do the cleanup;
  * every test runs under a per-test timer and every wait under a step timer
    (SIGALRM), every child under a timeout: a stuck test fails, never hangs;
  * a watchdog process enforces a whole-file deadline: it stops the test
    process, aborts the FUSE connection if the test process is stuck in the
    file system, and cleans up itself if the test process dies.

Output: one line per check ("ok - name", "FAIL - name: detail",
"skip - name: reason"), "# ..." comment lines, and last "N passed, N failed,
N skipped". Exit 1 if a check failed, 77 only if /dev/fuse is unusable.

The native side of POSIX message queues is reached with ctypes (mq_open,
mq_timedsend, mq_timedreceive, ...) with deadlines, so nothing waits forever;
that of named semaphores too (sem_open, sem_post, sem_getvalue, ...).
"""

import atexit
import collections
import contextlib
import ctypes
import errno
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL

SANITIZER_MARKERS = ("AddressSanitizer", "runtime error", "LeakSanitizer")
FILE_DEADLINE = int(os.environ.get("IPCFS_TEST_DEADLINE", "240"))
TEST_TIMEOUT = 60

# Segments /PFXname are /dev/shm/PFXname; glibc keeps semaphores /PFXname
# as /dev/shm/sem.PFXname.
SHM_DIR = "/dev/shm"

# What `ls KIND/NAME` shows, by kind (the top-level directories): what the
# tests expect of the four POSIX kinds, not a list the harness needs.
KIND_FILES = {
    "queues": ["count", "data", "maxmsg", "msgsize", "stream"],
    "channels": ["bytes", "capacity", "data", "readers", "writers"],
    "shm": ["data", "size"],
    "sem": ["hold", "post", "value", "wait"],
}

# x86-64 numbers of the system calls a child is seen blocked in
# (/proc/PID/syscall).
SYSCALLS = {"read": "0", "write": "1", "open": "2", "poll": "7",
            "openat": "257"}

# ---------------------------------------------------------------------------
# Native POSIX message queues


class MqAttr(ctypes.Structure):
    _fields_ = [("mq_flags", ctypes.c_long), ("mq_maxmsg", ctypes.c_long),
                ("mq_msgsize", ctypes.c_long), ("mq_curmsgs", ctypes.c_long),
                ("_reserved", ctypes.c_long * 4)]


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _load_mq():
    for name in ("libc.so.6", "librt.so.1"):
        try:
            lib = ctypes.CDLL(name, use_errno=True)
        except OSError:
            continue
        if hasattr(lib, "mq_timedreceive") and hasattr(lib, "mq_open"):
            break
    else:
        raise ImportError("no mq_open in libc.so.6 or librt.so.1")
    lib.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint,
                            ctypes.POINTER(MqAttr)]
    lib.mq_open.restype = ctypes.c_int
    lib.mq_timedsend.argtypes = [ctypes.c_int, ctypes.c_char_p,
                                 ctypes.c_size_t, ctypes.c_uint,
                                 ctypes.POINTER(Timespec)]
    lib.mq_timedsend.restype = ctypes.c_int
    lib.mq_timedreceive.argtypes = [ctypes.c_int, ctypes.c_char_p,
                                    ctypes.c_size_t,
                                    ctypes.POINTER(ctypes.c_uint),
                                    ctypes.POINTER(Timespec)]
    lib.mq_timedreceive.restype = ctypes.c_ssize_t
    lib.mq_getattr.argtypes = [ctypes.c_int, ctypes.POINTER(MqAttr)]
    lib.mq_getattr.restype = ctypes.c_int
    lib.mq_close.argtypes = [ctypes.c_int]
    lib.mq_close.restype = ctypes.c_int
    lib.mq_unlink.argtypes = [ctypes.c_char_p]
    lib.mq_unlink.restype = ctypes.c_int
    return lib


_mq = _load_mq()


def _oserror(what):
    e = ctypes.get_errno()
    return OSError(e, "%s: %s" % (what, os.strerror(e)))


def _abstime(timeout):
    t = time.clock_gettime(time.CLOCK_REALTIME) + max(0.0, timeout)
    return Timespec(int(t), int((t - int(t)) * 1e9))


def mq_open(name, flags=os.O_RDWR, mode=0o600, maxmsg=None, msgsize=None):
    """Open (or with O_CREAT create) the queue NAME ("/..."); an mqd (an fd)."""
    attr = None
    if maxmsg is not None or msgsize is not None:
        attr = MqAttr()
        attr.mq_maxmsg = maxmsg or 10
        attr.mq_msgsize = msgsize or 8192
    fd = _mq.mq_open(os.fsencode(name), flags, mode,
                     ctypes.byref(attr) if attr is not None else None)
    if fd < 0:
        raise _oserror("mq_open %s" % name)
    return fd


def mq_getattr(mqd):
    a = MqAttr()
    if _mq.mq_getattr(mqd, ctypes.byref(a)) < 0:
        raise _oserror("mq_getattr")
    return a


def mq_send(mqd, data, prio=0, timeout=2.0):
    """Send; OSError(ETIMEDOUT) if the queue stays full for `timeout` s."""
    ts = _abstime(timeout)
    if _mq.mq_timedsend(mqd, data, len(data), prio, ctypes.byref(ts)) < 0:
        raise _oserror("mq_timedsend")


def mq_receive(mqd, timeout=2.0):
    """(bytes, prio); OSError(ETIMEDOUT) if nothing came within `timeout`."""
    size = mq_getattr(mqd).mq_msgsize
    buf = ctypes.create_string_buffer(size)
    prio = ctypes.c_uint()
    ts = _abstime(timeout)
    n = _mq.mq_timedreceive(mqd, buf, size, ctypes.byref(prio),
                            ctypes.byref(ts))
    if n < 0:
        raise _oserror("mq_timedreceive")
    return buf.raw[:n], prio.value


def mq_close(mqd):
    _mq.mq_close(mqd)


def mq_unlink(name):
    if _mq.mq_unlink(os.fsencode(name)) < 0:
        raise _oserror("mq_unlink %s" % name)


def mq_list():
    """Names (without the '/') of every queue in this IPC namespace.

    Reads /dev/mqueue when it is an mqueue mount, else mounts one in a
    private mount namespace of a child, so nothing is left mounted."""
    if _mounted_fstype("/dev/mqueue") == "mqueue":
        return sorted(os.listdir("/dev/mqueue"))
    d = tempfile.mkdtemp(prefix="ipcfs-mqls-")
    try:
        r = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             'mount -t mqueue mqueue "$1" && ls -1A "$1"', "sh", d],
            stdin=DEVNULL, stdout=PIPE, stderr=PIPE, timeout=10)
        if r.returncode != 0:
            raise OSError("cannot list queues: %s" % r.stderr.decode().strip())
        return sorted(r.stdout.decode().split())
    finally:
        os.rmdir(d)


def _mountinfo():
    """[(mount point, fstype)] from /proc/self/mountinfo, no FUSE access."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            mp = left.split()[4].replace("\\040", " ")
            out.append((mp, right.split()[0]))
    return out


def _mounted_fstype(path):
    """The type of what is mounted on PATH (absolute, resolved), or None."""
    found = None
    for mp, fstype in _mountinfo():
        if mp == path:
            found = fstype
    return found


def _rmdir_patiently(path, tries=50):
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


def _sanitizer_at(text):
    """Where in TEXT (a daemon's output) the first sanitizer report's
    marker is, or -1 if it has none."""
    for m in SANITIZER_MARKERS:
        if m in text:
            return text.index(m)
    return -1


def errname(e):
    return errno.errorcode.get(e, str(e))


def _fmt(x, limit=200):
    s = repr(x)
    return s if len(s) <= limit else s[:limit] + "...(%d)" % len(s)


# ---------------------------------------------------------------------------
# Native POSIX named semaphores


def _load_sem():
    lib = ctypes.CDLL("libc.so.6", use_errno=True)
    lib.sem_open.restype = ctypes.c_void_p
    lib.sem_close.argtypes = [ctypes.c_void_p]
    lib.sem_close.restype = ctypes.c_int
    lib.sem_post.argtypes = [ctypes.c_void_p]
    lib.sem_post.restype = ctypes.c_int
    lib.sem_getvalue.argtypes = [ctypes.c_void_p,
                                 ctypes.POINTER(ctypes.c_int)]
    lib.sem_getvalue.restype = ctypes.c_int
    lib.sem_unlink.argtypes = [ctypes.c_char_p]
    lib.sem_unlink.restype = ctypes.c_int
    return lib


_sem = _load_sem()


@contextlib.contextmanager
def sem_opened(name, flags=0, mode=0o600, value=0):
    """A native sem_t * of semaphore NAME ("/..."), closed afterwards."""
    s = _sem.sem_open(os.fsencode(name), flags, ctypes.c_uint(mode),
                      ctypes.c_uint(value))
    if not s:
        raise _oserror("sem_open %s" % name)
    try:
        yield s
    finally:
        _sem.sem_close(s)


def sem_create(name, value=0, mode=0o600):
    """Make semaphore NAME natively (O_EXCL), of VALUE."""
    with sem_opened(name, os.O_CREAT | os.O_EXCL, mode, value):
        pass


def sem_post(name, n=1):
    with sem_opened(name) as s:
        for _ in range(n):
            if _sem.sem_post(s) < 0:
                raise _oserror("sem_post %s" % name)


def sem_value(name):
    """The value of semaphore NAME, natively (not through a tree)."""
    v = ctypes.c_int(-1)
    with sem_opened(name) as s:
        if _sem.sem_getvalue(s, ctypes.byref(v)) < 0:
            raise _oserror("sem_getvalue %s" % name)
    return v.value


def sem_unlink(name):
    if _sem.sem_unlink(os.fsencode(name)) < 0:
        raise _oserror("sem_unlink %s" % name)


# ---------------------------------------------------------------------------
# The harness


class Fail(Exception):
    pass


class Skip(Exception):
    pass


class StepTimeout(Exception):
    pass


class Abort(BaseException):
    """A signal or the file deadline: stop testing, clean up."""


# Python snippets the tests run as children (own process, own open file).
WRITER = r'''
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
try:
    n = os.write(fd, sys.argv[2].encode())
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno), flush=True)
    sys.exit(3)
print("wrote %d" % n, flush=True)
'''

READER = r'''
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    b = os.read(fd, 1 << 20)
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno), flush=True)
    sys.exit(3)
sys.stdout.buffer.write(b)
'''


class Harness:
    def __init__(self, name, prefix=None, **opts):
        self.name = name
        self.prefix = "t%d_%s_" % (os.getpid(), name) if prefix is None \
            else prefix
        self.opts = opts                # mq_maxmsg=, allow_other=None, ...
        self.tests = []
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
        self.procs = []                 # children still to reap
        self.stuck = []                 # children a SIGKILL did not end
        # What the current test made, by kind (any directory of the tree:
        # the harness has no list of kinds), and holds: the teardown
        # removes, closes and unmounts it.
        self.made = collections.defaultdict(set)
        self.mqds = []                  # native queue descriptors
        self.fds = []                   # descriptors of files in the tree
        self.extra = []                 # extra trees (Harness objects)
        self.current = None
        self.passed = self.failed = self.skipped = 0
        self.timers = []                # [(deadline, what)]
        self.cleaned = False
        self.wd_pid = None
        self.wd_fd = None
        self.t_start = time.monotonic()
        self.pid = os.getpid()
        self.sysctls = {}               # path -> value to restore
        self.aborting = None            # why the run stops, once it does
        self._soft = False              # the test printed its own checks

    # -- registration and reporting ----------------------------------------

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def _line(self, s):
        sys.stdout.write(s.replace("\n", "\\n") + "\n")
        sys.stdout.flush()

    def _ok(self, name):
        self.passed += 1
        self._line("ok - %s" % name)

    def _fail(self, name, detail):
        self.failed += 1
        self._line("FAIL - %s: %s" % (name, detail))

    def _skip(self, name, reason):
        self.skipped += 1
        self._line("skip - %s: %s" % (name, reason))

    def note(self, s):
        for line in str(s).splitlines() or [""]:
            sys.stdout.write("# %s\n" % line)
        sys.stdout.flush()

    # -- assertions ----------------------------------------------------------

    def check(self, name, cond, detail=""):
        """A soft check: its own output line; the test goes on."""
        full = "%s: %s" % (self.current, name) if self.current else name
        if cond:
            self._ok(full)
        else:
            self._fail(full, detail or "false")
        self._soft = True
        return cond

    def eq(self, got, want, what):
        if got != want:
            raise Fail("%s: got %s, expected %s" % (what, _fmt(got),
                                                      _fmt(want)))

    def true(self, cond, what, detail=""):
        if not cond:
            raise Fail("%s%s" % (what, (": " + detail) if detail else ""))

    def raises(self, eno, fn, *args, what=None):
        what = what or getattr(fn, "__name__", "call")
        try:
            r = fn(*args)
        except OSError as e:
            if e.errno != eno:
                raise Fail("%s: failed with %s, expected %s" % (
                    what, errname(e.errno), errname(eno)))
            return
        raise Fail("%s: succeeded (%s), expected %s" % (what, _fmt(r),
                                                       errname(eno)))

    def skip(self, reason):
        raise Skip(reason)

    # -- timers --------------------------------------------------------------

    def _arm(self):
        if not self.timers:
            signal.setitimer(signal.ITIMER_REAL, 0)
            return
        left = min(d for d, _ in self.timers) - time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))

    def _on_alarm(self, signo, frame):
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

    # -- children ------------------------------------------------------------

    def spawn(self, args, stdin=DEVNULL, stdout=PIPE, stderr=PIPE, cwd=None,
              env=None):
        """Start a child in its own session (a string runs under sh -c)."""
        if isinstance(args, str):
            args = ["sh", "-c", args]
        p = subprocess.Popen(args, stdin=stdin, stdout=stdout, stderr=stderr,
                             cwd=cwd, env=env, start_new_session=True)
        p.t0 = time.monotonic()
        p.what = " ".join(args)[:80]
        self.procs.append(p)
        return p

    def py(self, code, *args, **kw):
        return self.spawn([sys.executable, "-c", code] + list(args), **kw)

    def sh(self, script, *args, timeout=5):
        """sh -c SCRIPT with $1... = ARGS: (rc, stdout, stderr).

        timeout=None: the script runs on; its stdin is a pipe, so a `read`
        in it waits until the caller finishes it (the returned Popen)."""
        argv = ["sh", "-c", script, "sh"] + list(args)
        if timeout is None:
            return self.spawn(argv, stdin=PIPE)
        return self.run(argv, timeout=timeout)

    def need(self, program):
        """The path of PROGRAM; the test is skipped where it is missing."""
        path = shutil.which(program) or os.path.join("/usr/bin", program)
        if not os.access(path, os.X_OK):
            self.skip("%s is not installed" % program)
        return path

    def finish(self, p, timeout, input=None):
        """Wait for a child: (returncode, stdout, stderr). Fail on timeout."""
        try:
            out, err = p.communicate(input=input, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(p)
            raise Fail("`%s` still running after %gs" % (p.what, timeout))
        if p in self.procs:
            self.procs.remove(p)
        return p.returncode, out or b"", err or b""

    def run(self, args, timeout=5, input=None, cwd=None, env=None):
        p = self.spawn(args, stdin=PIPE if input is not None else DEVNULL,
                       cwd=cwd, env=env)
        return self.finish(p, timeout, input=input)

    def kill(self, p, grace=2.0):
        """SIGKILL the child's session; True if it was reaped in `grace` s."""
        if p.returncode is None:
            for f in (lambda: os.killpg(p.pid, signal.SIGKILL), p.kill):
                try:
                    f()
                except (ProcessLookupError, PermissionError):
                    pass
        try:
            p.communicate(timeout=grace)
        except subprocess.TimeoutExpired:
            if p in self.procs:
                self.procs.remove(p)
            self.stuck.append(p)
            return False
        except ValueError:
            p.wait(timeout=grace)
        if p in self.procs:
            self.procs.remove(p)
        return True

    def wait_exit(self, p, timeout):
        """Wait for a child to end: its returncode, or None if it did not."""
        try:
            return p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def read_until(self, p, want, timeout):
        """Read child p's stdout until it holds `want`: all that was read."""
        got = b""
        end = time.monotonic() + timeout
        fd = p.stdout.fileno()
        while want not in got:
            left = end - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                break
            b = os.read(fd, 65536)
            if not b:
                break
            got += b
        return got

    def proc_state(self, pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                s = f.read()
            state = s[s.rindex(")") + 2]
        except (OSError, ValueError, IndexError):
            state = "?"
        try:
            with open("/proc/%d/syscall" % pid) as f:
                sc = f.read().split()
        except OSError:
            sc = []
        return state, (sc[0] if sc else "?")

    def wait_blocked(self, p, call, timeout=5.0):
        """Wait until child p sleeps in syscall `call` (read/write/openat)."""
        nr = SYSCALLS[call]
        end = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < end:
            if p.poll() is not None:
                out = err = b""
                with contextlib.suppress(Exception):
                    out, err = p.communicate(timeout=1)
                if p in self.procs:
                    self.procs.remove(p)
                raise Fail("`%s` ended (status %s) instead of blocking in "
                           "%s; stdout %s stderr %s" % (
                               p.what, p.returncode, call, _fmt(out),
                               _fmt(err)))
            state, sc = self.proc_state(p.pid)
            seen = seen + 1 if sc == nr and state in "SD" else 0
            if seen >= 3:
                return
            time.sleep(0.02)
        state, sc = self.proc_state(p.pid)
        raise Fail("`%s` not blocked in %s after %gs (state %s, syscall %s)"
                   % (p.what, call, timeout, state, sc))

    def wait_all_blocked(self, procs, call, timeout, what=None):
        """wait_blocked for many children at once: each of procs sleeps in
        syscall `call` within `timeout` s, or the test fails with `what`."""
        nr = SYSCALLS[call]
        end = time.monotonic() + timeout
        left = list(procs)
        while True:
            for p in list(left):
                if p.poll() is not None:
                    raise Fail("`%s` ended (status %s) instead of blocking in "
                               "%s" % (p.what, p.returncode, call))
                state, sc = self.proc_state(p.pid)
                if sc == nr and state in "SD":
                    left.remove(p)
            if not left or time.monotonic() > end:
                break
            time.sleep(0.05)
        self.true(not left, what or "all %d children blocked in %s" % (
            len(procs), call), "%d not after %gs, e.g. (state, syscall) %s" %
            (len(left), timeout, [self.proc_state(p.pid) for p in left[:3]]))

    def kill9(self, p, what, within=2.0):
        """kill -9 child p, blocked somewhere in the tree: a wait the daemon
        holds must not keep a killed process, so it is reaped within
        `within` s or the test fails. Its returncode."""
        t0 = time.monotonic()
        os.kill(p.pid, signal.SIGKILL)
        rc = self.wait_exit(p, within)
        el = time.monotonic() - t0
        self.true(rc is not None, "kill -9 of %s reaped in < %g s" % (
            what, within), "not reaped after %.2fs (state, syscall) %s" % (
                el, self.proc_state(p.pid)))
        return rc

    def run_interrupted(self, args, what):
        """Run ARGS under `timeout -s INT 1`: whatever it waits in must end
        at the SIGINT, so it returns within 2 s or the test fails `what`.
        (rc, stdout, stderr)."""
        t0 = time.monotonic()
        rc, out, err = self.run(["timeout", "-s", "INT", "1"] + list(args),
                                timeout=6)
        el = time.monotonic() - t0
        self.true(el < 2, "%s returns in < 2 s" % what, "%.2fs" % el)
        return rc, out, err

    def kill_parked_writers(self, data):
        """With a writer parked on the full DATA (a queue's or a channel's),
        park two more -- another process's open and write(2), and a
        shell's `echo x > data` -- and kill -9 both: each is reaped within
        2 s (a check line each). A daemon that gets this wrong leaves them
        in D state until the connection is aborted."""
        b = self.py(WRITER, data, "B")
        s = self.spawn(["sh", "-c", 'echo x > "$1"', "sh", data])
        self.wait_blocked(b, "write")
        self.wait_blocked(s, "write")
        before = {b: self.proc_state(b.pid), s: self.proc_state(s.pid)}
        t0 = time.monotonic()
        os.kill(b.pid, signal.SIGKILL)
        os.kill(s.pid, signal.SIGKILL)
        for what, p in (("second writer (own open, write(2))", b),
                        ("sh -c 'echo x > data'", s)):
            rc = self.wait_exit(p, max(0.0, t0 + 2 - time.monotonic()))
            self.check("%s killed by kill -9 in < 2 s" % what, rc is not None,
                       "not reaped after %.2fs; before the kill (state, "
                       "syscall) %s, now %s" % (time.monotonic() - t0,
                                                before[p],
                                                self.proc_state(p.pid)))

    def thread_count(self, pid=None):
        """How many threads process PID (the daemon) has; -1 if it is gone."""
        try:
            return len(os.listdir("/proc/%d/task" % (
                self.daemon.pid if pid is None else pid)))
        except OSError:
            return -1

    def thread_waits(self, pid=None):
        """{kernel function a thread sleeps in: how many} of process PID
        (the daemon), once none of its threads is running (wchan "0") or
        after 3 s."""
        pid = self.daemon.pid if pid is None else pid
        end = time.monotonic() + 3
        while True:
            waits = {}
            for tid in os.listdir("/proc/%d/task" % pid):
                try:
                    with open("/proc/%d/task/%s/wchan" % (pid, tid)) as f:
                        w = f.read().strip() or "?"
                except OSError:
                    w = "?"
                waits[w] = waits.get(w, 0) + 1
            if "0" not in waits or time.monotonic() > end:
                return waits
            time.sleep(0.05)

    def wait_value(self, fn, want, timeout, step=0.02):
        """fn() again and again until it returns `want` or `timeout` s have
        passed: its last value. For what the daemon sees a moment after a
        call returns (a close, a kill) or a native change."""
        end = time.monotonic() + timeout
        got = fn()
        while got != want and time.monotonic() < end:
            time.sleep(step)
            got = fn()
        return got

    # -- objects -------------------------------------------------------------

    def posix(self, name):
        """The native name of NAME, of any kind: "/PREFIXNAME"."""
        return "/" + self.prefix + name

    def path(self, kind, name, *rest):
        return os.path.join(self.mnt, kind, name, *rest)

    def qpath(self, name, *rest):
        return self.path("queues", name, *rest)

    def mkobj(self, kind, name, mode=0o600):
        """mkdir KIND/NAME (tracked: the test's teardown removes it)."""
        path = self.path(kind, name)
        with self.within(5, "mkdir %s/%s" % (kind, name)):
            os.mkdir(path, mode)
        self.made[kind].add(name)
        return path

    def rmobj(self, kind, name):
        with self.within(5, "rmdir %s/%s" % (kind, name)):
            os.rmdir(self.path(kind, name))
        self.made[kind].discard(name)

    def mkq(self, name, mode=0o600):
        return self.mkobj("queues", name, mode)

    def rmq(self, name):
        self.rmobj("queues", name)

    def shm_file(self, kind, name):
        """The file in /dev/shm behind segment or semaphore KIND/NAME."""
        return os.path.join(SHM_DIR, {"shm": "", "sem": "sem."}[kind] +
                            self.prefix + name)

    def unlink_native(self, kind, name):
        """Unlink the native object behind KIND/NAME if there still is one
        (a channel lives in the daemon: nothing)."""
        with contextlib.suppress(OSError):
            if kind == "queues":
                mq_unlink(self.posix(name))
            elif kind in ("shm", "sem"):
                os.unlink(self.shm_file(kind, name))

    def check_kind_dir(self, kind):
        """KIND is listed in the root of the tree, and is a directory."""
        with self.within(5, "ls MNT"):
            self.true(kind in os.listdir(self.mnt), "%s in the root" % kind)
            st = os.stat(os.path.join(self.mnt, kind))
            self.true(stat.S_ISDIR(st.st_mode), "%s is a directory" % kind)

    def check_mkdir_modes(self, kind):
        """mkdir KIND/m640 with mode 0640, and KIND/um with 0777 under
        umask 027, for segments and semaphores: the files in /dev/shm get
        those modes, and our owner."""
        os.umask(0)
        self.mkobj(kind, "m640", 0o640)
        st = os.lstat(self.shm_file(kind, "m640"))
        self.eq(oct(stat.S_IMODE(st.st_mode)), oct(0o640), "native mode")
        self.eq((st.st_uid, st.st_gid), (os.getuid(), os.getgid()),
                "native owner")
        old = os.umask(0o027)
        try:
            self.mkobj(kind, "um", 0o777)
        finally:
            os.umask(old)
        st = os.lstat(self.shm_file(kind, "um"))
        self.eq(oct(stat.S_IMODE(st.st_mode)), oct(0o750),
                "native mode of mkdir 0777 under umask 027")

    # -- native queues -------------------------------------------------------

    def native(self, name, flags=os.O_RDWR, **kw):
        """A native descriptor of queue NAME (closed by the teardown)."""
        mqd = mq_open(self.posix(name), flags, **kw)
        self.mqds.append(mqd)
        return mqd

    def native_create(self, name, mode=0o600, maxmsg=None, msgsize=None):
        mqd = mq_open(self.posix(name), os.O_RDWR | os.O_CREAT | os.O_EXCL,
                      mode, maxmsg or self.opts.get("mq_maxmsg", 10),
                      msgsize or self.opts.get("mq_msgsize", 8192))
        self.mqds.append(mqd)
        self.made["queues"].add(name)
        return mqd

    @contextlib.contextmanager
    def _native_once(self, name):
        """A native descriptor of queue NAME for the body of a with."""
        mqd = self.native(name)
        try:
            yield mqd
        finally:
            self.mqds.remove(mqd)
            mq_close(mqd)

    def send(self, name, data, prio=0):
        with self._native_once(name) as mqd:
            mq_send(mqd, data, prio, timeout=2)

    def recv(self, name, timeout=2.0):
        with self._native_once(name) as mqd:
            return mq_receive(mqd, timeout)

    def count(self, name):
        """mq_curmsgs, natively (not through the tree)."""
        with self._native_once(name) as mqd:
            return mq_getattr(mqd).mq_curmsgs

    def drain(self, name):
        """Take every waiting message natively: [(bytes, prio)]."""
        got = []
        with self._native_once(name) as mqd:
            while True:
                try:
                    got.append(mq_receive(mqd, timeout=0))
                except OSError as e:
                    if e.errno in (errno.ETIMEDOUT, errno.EAGAIN):
                        return got
                    raise

    # -- files in the tree ---------------------------------------------------

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
                         "write %s to %s" % (_fmt(data, 40), path)) as fd:
            return os.write(fd, data)

    def attr(self, name, attr):
        return self.read_file(self.qpath(name, attr)).decode()

    def revents(self, fd, events, timeout_ms=0):
        """poll(2) FD for EVENTS under a step timer: its revents (0: none
        within `timeout_ms`)."""
        with self.within(timeout_ms / 1000.0 + 3, "poll"):
            p = select.poll()
            p.register(fd, events)
            return dict(p.poll(timeout_ms)).get(fd, 0)

    # -- mount / unmount -----------------------------------------------------------

    def _daemon_stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except (OSError, TypeError):
            return ""

    def _new_stderr(self):
        text = self._daemon_stderr()
        new = text[max(0, self.stderr_off - 40):]   # a marker cut in two
        self.stderr_off = len(text)
        return new

    def mount(self):
        """Make the mount point and the daemon's log; mount the tree."""
        self.mnt = os.path.realpath(tempfile.mkdtemp(prefix="ipcfs-%s-" %
                                                     self.name))
        fd, self.stderr_path = tempfile.mkstemp(prefix="ipcfs-%s-" % self.name,
                                                suffix=".log")
        os.close(fd)
        self.start_daemon()

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
            raise Fail("no daemon at %s (set $IPCFS)" % self.ipcfs)
        fd = os.open(self.stderr_path, os.O_WRONLY | os.O_APPEND)
        try:
            self.daemon = subprocess.Popen(cmd, stdin=DEVNULL, stdout=fd,
                                           stderr=fd, start_new_session=True)
        finally:
            os.close(fd)
        end = time.monotonic() + self.mount_wait
        while _mounted_fstype(self.mnt) is None:
            if self.daemon.poll() is not None:
                raise Fail("daemon exited with %s before mounting: %s" % (
                    self.daemon.returncode, self._daemon_stderr()[-500:]))
            if time.monotonic() > end:
                raise Fail("not mounted after %g s" % self.mount_wait)
            time.sleep(0.02)
        with self.within(max(5, self.mount_wait / 2),
                         "stat of the mount point"):
            st = os.stat(self.mnt)
            self.true(os.path.ismount(self.mnt), "os.path.ismount")
        self.conn = str(os.minor(st.st_dev)) if os.major(st.st_dev) == 0 \
            else None

    def abort_connection(self):
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
            rc, msg = self._quiet_run(
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

    def _quiet_run(self, args, timeout):
        try:
            p = subprocess.Popen(args, stdin=DEVNULL, stdout=PIPE,
                                 stderr=PIPE, start_new_session=True)
        except OSError as e:
            return -1, str(e)
        try:
            out, err = p.communicate(timeout=timeout)
            return p.returncode, (out + err).decode(errors="replace").strip()
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(p.pid, signal.SIGKILL)
            return -1, "timed out"

    def unmount(self):
        """Unmount the tree, the hard way if it must. True if cleanly."""
        if not self.mnt or _mounted_fstype(self.mnt) is None:
            return True
        rc, msg = self._quiet_run(["fusermount3", "-u", self.mnt], 10)
        if rc == 0 and _mounted_fstype(self.mnt) is None:
            return True
        self.note("fusermount3 -u failed (%s): %s" % (rc, msg))
        self.abort_connection()
        rc, msg = self._quiet_run(["umount", "-l", self.mnt], 10)
        if rc != 0:
            self.note("umount -l failed: %s" % msg)
        return False

    def _stop_daemon(self):
        """Unmount the tree and wait for the daemon to exit by itself, else
        kill it: what went wrong, or None."""
        clean = self.unmount()
        rc = self.wait_exit(self.daemon, self.exit_wait)
        if rc is None:
            self.daemon.kill()
            self.wait_exit(self.daemon, 5)
            return "still running %g s after unmount; killed" % \
                self.exit_wait
        if not clean:
            return "unmount needed an abort; daemon status %s" % rc
        if rc != 0:
            return "exit status %s" % rc
        return None

    def unmount_dir(self, d):
        """Unmount whatever is mounted on D: fusermount3 -u, else umount -l.
        True if nothing is mounted there any more."""
        if _mounted_fstype(d) is None:
            return True
        rc, msg = self._quiet_run(["fusermount3", "-u", d], 10)
        if rc != 0 or _mounted_fstype(d) is not None:
            self.note("fusermount3 -u %s: %s %s; umount -l" % (d, rc, msg))
            rc, msg = self._quiet_run(["umount", "-l", d], 10)
            if rc != 0:
                self.note("umount -l %s: %s" % (d, msg))
        return _mounted_fstype(d) is None

    def unlink_prefix(self):
        """Unlink every native object under the prefix, whatever made it
        (the tree, a native call, a child, another tree): queues /PFX*,
        segments /dev/shm/PFX*, semaphores /dev/shm/sem.PFX*. The names."""
        if not self.prefix:
            return []                   # a tree over everything: not ours
        try:
            names = mq_list()
        except (OSError, subprocess.SubprocessError) as e:
            self.note("cannot list native queues: %s" % e)
            names = [self.prefix + q for q in self.made["queues"]]
        left = [n for n in names if n.startswith(self.prefix)]
        for n in left:
            with contextlib.suppress(OSError):
                mq_unlink("/" + n)
        try:
            files = os.listdir(SHM_DIR)
        except OSError:
            files = []
        for n in files:
            if n.startswith((self.prefix, "sem." + self.prefix)):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(SHM_DIR, n))
                left.append(n)
        return left

    # -- other trees ---------------------------------------------------------

    def extra_mount(self, tag, prefix=None, **opts):
        """Mount another tree: its own daemon, mount point and options, and
        PREFIX (by default one of its own). A Harness (.mnt, .daemon); the
        teardown unmounts it if the test does not (extra_unmount)."""
        m = Harness(tag, prefix=prefix, **opts)
        m.timers = self.timers          # one SIGALRM handler serves both
        self.extra.append(m)
        m.mount()
        return m

    def extra_unmount(self, m):
        """Unmount an extra tree: a list of what went wrong (its daemon did
        not exit 0 by itself, the unmount needed an abort, a sanitizer
        report in its output)."""
        errs = []
        if m in self.extra:
            self.extra.remove(m)
        if m.daemon is not None:
            problem = m._stop_daemon()
            if problem:
                errs.append("extra daemon: %s" % problem)
            text = m._daemon_stderr()
            i = _sanitizer_at(text)
            if i >= 0:
                errs.append("extra daemon stderr: %s" %
                            text[max(0, i - 100):i + 400])
            m.daemon = None
        else:
            m.unmount()
        if m.mnt and not _rmdir_patiently(m.mnt):
            self.note("cannot remove %s" % m.mnt)
        if m.stderr_path:
            with contextlib.suppress(OSError):
                os.unlink(m.stderr_path)
            m.stderr_path = None
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
            raise Fail("; ".join(errs))

    def start_refused(self, opts, foreground=True, timeout=10):
        """`$IPCFS [-f] -o OPTS` on a fresh directory, expected to refuse:
        (status, stdout, stderr, mounted), the output decoded. Whatever it
        does, it is left neither running nor mounted."""
        d = os.path.realpath(tempfile.mkdtemp(prefix="ipcfs-refused-"))
        logs = [tempfile.TemporaryFile(), tempfile.TemporaryFile()]
        mounted = False
        try:
            argv = [self.ipcfs] + ["-f"] * foreground + ["-o", opts, d]
            p = self.spawn(argv, stdout=logs[0], stderr=logs[1])
            end = time.monotonic() + timeout
            while p.poll() is None and time.monotonic() < end:
                if _mounted_fstype(d) is not None:
                    mounted = True
                    self.unmount_dir(d)
                time.sleep(0.02)
            if _mounted_fstype(d) is not None:
                mounted = True
            rc = p.poll()
            if rc is None:
                self.unmount_dir(d)
                self.kill(p)
                raise Fail("-o %s: still running after %gs (mounted: %s)" % (
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
            _rmdir_patiently(d)

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

    # -- watchdog ----------------------------------------------------------------

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
        parent = self.pid

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
        if self.mnt and _mounted_fstype(self.mnt) is not None:
            self.abort_connection()
            self._quiet_run(["umount", "-l", self.mnt], 10)
        with contextlib.suppress(OSError):
            os.kill(self.daemon.pid, signal.SIGKILL)
        self.unlink_prefix()
        with contextlib.suppress(OSError):
            os.rmdir(self.mnt)
        with contextlib.suppress(OSError):
            os.unlink(self.stderr_path)

    # -- running -------------------------------------------------------------------

    # An abort is sticky: a step timer going off in a `finally` could
    # otherwise replace the Abort with a StepTimeout and the tests go on.
    def _on_signal(self, signo, frame):
        self.aborting = "signal %s" % signal.Signals(signo).name
        raise Abort(self.aborting)

    def _on_deadline(self, signo, frame):
        self.aborting = "file deadline of %d s reached" % FILE_DEADLINE
        raise Abort(self.aborting)

    def _teardown(self):
        """After each test: kill its children, close what it holds, remove
        what it made (through the tree, then natively if still there),
        unmount its extra trees. A list of what went wrong."""
        errs = []
        for p in list(self.procs):
            if not self.kill(p):
                errs.append("child `%s` survived SIGKILL" % p.what)
        for mqd in self.mqds:
            mq_close(mqd)
        self.mqds = []
        for fd in self.fds:
            try:
                with self.within(5, "close of a held descriptor"):
                    os.close(fd)
            except Exception as e:
                errs.append("close: %s" % e)
        self.fds = []
        for kind, names in self.made.items():
            for n in sorted(names):
                try:
                    self.rmobj(kind, n)
                except FileNotFoundError:
                    pass
                except (OSError, Fail, StepTimeout) as e:
                    errs.append("rmdir %s/%s: %s" % (kind, n, e))
                self.unlink_native(kind, n)
            names.clear()
        for m in list(self.extra):
            errs += self.extra_unmount(m)
        return errs

    def _daemon_trouble(self):
        new = self._new_stderr()
        i = _sanitizer_at(new)
        if i >= 0:
            return "daemon stderr: %s" % new[max(0, i - 100):i + 300]
        if self.daemon is not None and self.daemon.poll() is not None:
            return "daemon exited with status %s" % self.daemon.returncode
        return None

    def _run_one(self, fn):
        name = fn.__name__
        if self.daemon.poll() is not None:
            self._fail(name, "not run: the daemon is gone (status %s)" %
                       self.daemon.returncode)
            return
        self.current = name
        self._soft = False
        status, detail = "ok", ""
        try:
            limit = getattr(fn, "timeout", TEST_TIMEOUT)
            with self.within(limit, "test %s" % name):
                fn(self)
        except Fail as e:
            status, detail = "fail", str(e)
        except Skip as e:
            status, detail = "skip", str(e)
        except StepTimeout as e:
            status, detail = "fail", "timeout: %s" % e
        except Abort as e:
            self._fail(name, "aborted: %s" % e)
            raise
        except Exception as e:
            tb = traceback.extract_tb(sys.exc_info()[2])
            where = ["%s:%d" % (os.path.basename(f.filename), f.lineno)
                     for f in tb if os.path.abspath(f.filename) ==
                     os.path.abspath(sys.argv[0])]
            status, detail = "fail", "%s: %s (at %s)" % (
                type(e).__name__, e, ", ".join(where) or "?")
        try:
            with self.within(30, "teardown of %s" % name):
                errs = self._teardown()
        except StepTimeout as e:
            errs = ["teardown: %s" % e]
        trouble = self._daemon_trouble()
        if trouble:
            errs.append(trouble)
        self.current = None
        if self.aborting and status != "fail":
            status, detail = "fail", "aborted: %s" % self.aborting
        if status == "fail":
            self._fail(name, detail)
            for e in errs:
                self.note("%s: %s" % (name, e))
        elif errs:
            self._fail(name, "; ".join(errs))
        elif status == "skip":
            self._skip(name, detail)
        elif not self._soft:
            self._ok(name)

    def _kill_strays(self):
        """Kill children the tests lost track of (a signal hit Popen)."""
        mine = {self.daemon.pid if self.daemon else None, self.wd_pid}
        mine |= {p.pid for p in self.stuck if not isinstance(p, int)}
        strays = []
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) in mine:
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    s = f.read()
                ppid = int(s[s.rindex(")") + 2:].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.pid:
                strays.append(int(d))
        for pid in strays:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        end = time.monotonic() + 2
        while strays and time.monotonic() < end:
            for pid in list(strays):
                with contextlib.suppress(ChildProcessError):
                    if os.waitpid(pid, os.WNOHANG)[0] == 0:
                        continue
                strays.remove(pid)
            time.sleep(0.02)
        if strays:
            self.note("children that survived SIGKILL: %s" % strays)
            self.stuck.extend(strays)

    def cleanup(self):
        if self.cleaned:
            return
        self.cleaned = True
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                  signal.SIGUSR1):
            signal.signal(s, signal.SIG_IGN)
        self.timers = []
        signal.setitimer(signal.ITIMER_REAL, 0)
        for p in list(self.procs):
            self.kill(p)
        self._kill_strays()
        if self.stuck and self.mnt and _mounted_fstype(self.mnt):
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
            mq_close(mqd)
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
            problem = self._stop_daemon()
            if problem:
                self._fail("daemon exits by itself after unmount", problem)
            else:
                self._ok("daemon exits by itself after unmount")
            text = self._daemon_stderr()
            i = _sanitizer_at(text)
            if i >= 0:
                self._fail("daemon stderr has no sanitizer report",
                           text[max(0, i - 100):i + 400])
                report = text[text.rfind("\n", 0, i) + 1:].splitlines()[:80]
                self.note("daemon stderr from the first sanitizer report:")
                self.note("\n".join("  " + line for line in report))
            else:
                self._ok("daemon stderr has no sanitizer report")
                tail = text.strip().splitlines()[-40:] if self.failed else []
                if tail:
                    self.note("daemon stderr (last %d lines):" % len(tail))
                    self.note("\n".join("  " + line for line in tail))
        else:
            self.unmount()
        left = self.unlink_prefix()
        if left:
            self.note("unlinked %d leftover objects: %s%s" % (
                len(left), " ".join(left[:10]), " ..." if len(left) > 10
                else ""))
        if self.mnt:
            with contextlib.suppress(OSError):
                os.rmdir(self.mnt)
        if self.stderr_path:
            with contextlib.suppress(OSError):
                os.unlink(self.stderr_path)
        if self.wd_fd is not None:
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

    def main(self):
        try:
            fd = os.open("/dev/fuse", os.O_RDWR)
            os.close(fd)
        except OSError as e:
            print("# /dev/fuse is unusable: %s" % e)
            print("0 passed, 0 failed, %d skipped" % len(self.tests))
            sys.exit(77)
        os.umask(0)
        signal.signal(signal.SIGALRM, self._on_alarm)
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, self._on_signal)
        signal.signal(signal.SIGUSR1, self._on_deadline)
        atexit.register(self.cleanup)
        try:
            try:
                self.mount()
            except (Fail, StepTimeout, OSError) as e:
                self._fail("mount", str(e))
                return
            self._start_watchdog()
            self._ok("mount %s" % self.mnt)
            for fn in self.tests:
                if self.aborting:
                    raise Abort(self.aborting)
                self._run_one(fn)
        except Abort as e:
            self.note("stopped: %s" % e)
            if not self.failed:
                self._fail("harness", "stopped: %s" % e)
        finally:
            self.cleanup()
            summary = "%d passed, %d failed" % (self.passed, self.failed)
            if self.skipped:
                summary += ", %d skipped" % self.skipped
            print(summary)
            sys.stdout.flush()
            os._exit(1 if self.failed else 0)

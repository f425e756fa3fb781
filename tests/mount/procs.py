# SPDX-License-Identifier: GPL-2.0-or-later
"""procs - the children a mount test starts, and how to tell where they are.

Most claims of the design are about a process waiting in the tree: it
blocks, it is woken, a signal ends its wait. So a test starts children in
sessions of their own (a kill reaches the whole session), sees them sleep in
a given system call (/proc/PID/syscall), and reaps every one with a bound.
Children is the mixin that gives a Harness these; it relies on the
harness's assertions (true, check) and its list of children (procs).
"""

import contextlib
import errno
import os
import select
import signal
import subprocess
import sys
import time

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL

# x86-64 numbers of the system calls a child is seen blocked in
# (/proc/PID/syscall).
SYSCALLS = {"read": "0", "write": "1", "open": "2", "poll": "7",
            "openat": "257"}

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


def errname(e):
    return errno.errorcode.get(e, str(e))


def fmt(x, limit=200):
    """repr(x), cut to LIMIT characters for a failure message."""
    s = repr(x)
    return s if len(s) <= limit else s[:limit] + "...(%d)" % len(s)


def wait_until(pred, timeout, step=0.02):
    """pred() again and again until it is true or `timeout` s have passed:
    its last value. The bounded poll every wait for a state uses, instead
    of a sleep and one look."""
    end = time.monotonic() + timeout
    got = pred()
    while not got and time.monotonic() < end:
        time.sleep(step)
        got = pred()
    return got


def proc_state(pid):
    """(state letter, number of the system call it is in) of process PID,
    "?" for what cannot be read."""
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


def children_of(ppid):
    """The pids whose parent is PPID (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
            if int(s[s.rindex(")") + 2:].split()[1]) == ppid:
                out.append(int(d))
        except (OSError, ValueError, IndexError):
            continue
    return out


class Children:
    """Start, watch and reap children: the Harness mixin."""

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

    def finish(self, p, timeout, input=None):
        """Wait for a child: (returncode, stdout, stderr). Fail on timeout."""
        try:
            out, err = p.communicate(input=input, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(p)
            self.fail("`%s` still running after %gs" % (p.what, timeout))
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
        return proc_state(pid)

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
                self.fail("`%s` ended (status %s) instead of blocking in "
                          "%s; stdout %s stderr %s" % (
                              p.what, p.returncode, call, fmt(out),
                              fmt(err)))
            state, sc = proc_state(p.pid)
            seen = seen + 1 if sc == nr and state in "SD" else 0
            if seen >= 3:
                return
            time.sleep(0.02)
        state, sc = proc_state(p.pid)
        self.fail("`%s` not blocked in %s after %gs (state %s, syscall %s)"
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
                    self.fail("`%s` ended (status %s) instead of blocking in "
                              "%s" % (p.what, p.returncode, call))
                state, sc = proc_state(p.pid)
                if sc == nr and state in "SD":
                    left.remove(p)
            if not left or time.monotonic() > end:
                break
            time.sleep(0.05)
        self.true(not left, what or "all %d children blocked in %s" % (
            len(procs), call), "%d not after %gs, e.g. (state, syscall) %s" %
            (len(left), timeout, [proc_state(p.pid) for p in left[:3]]))

    def still_waiting(self, p, what, timeout=0.3):
        """Child p has not ended `timeout` s on: a wait that must go on
        (a settle: no state to poll for, only the absence of an event)."""
        rc = self.wait_exit(p, timeout)
        self.true(rc is None, what, "it ended with status %s" % rc)

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
                el, proc_state(p.pid)))
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
        2 s (a check each). A daemon that gets this wrong leaves them in D
        state until the connection is aborted."""
        b = self.py(WRITER, data, "B")
        s = self.spawn(["sh", "-c", 'echo x > "$1"', "sh", data])
        self.wait_blocked(b, "write")
        self.wait_blocked(s, "write")
        before = {b: proc_state(b.pid), s: proc_state(s.pid)}
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
                                                proc_state(p.pid)))

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
        last = [None]

        def pred():
            last[0] = fn()
            return last[0] == want
        wait_until(pred, timeout, step)
        return last[0]

    def reap_children(self):
        """Kill every child of this process the tests lost track of (a
        signal hit Popen), and every one still listed: what did not die."""
        for p in list(self.procs):
            self.kill(p)
        mine = {self.daemon.pid if self.daemon else None, self.wd_pid}
        mine |= {p.pid for p in self.stuck if not isinstance(p, int)}
        mine |= {m.daemon.pid for m in self.extra if m.daemon is not None}
        strays = [pid for pid in children_of(os.getpid()) if pid not in mine]
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
        self.stuck.extend(strays)
        return strays

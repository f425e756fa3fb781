# SPDX-License-Identifier: GPL-2.0-or-later
"""Where the daemon's messages go (issue 10 point 4; ipcfs(8), LOG):

  * -o log=FILE in the foreground (this file's tree): the daemon says so
    on stderr at start, then its messages go to FILE only, one line each
    with a timestamp and its PID; the root's user.ipcfs.log names FILE;
  * -o log=FILE daemonized: stderr says where before the daemon detaches,
    FILE gets a first line naming the mount and then the messages (a
    channel mkdir refused by chan_max_total); a daemon refused at start
    says why on stderr and in FILE;
  * daemonized without log= and without /dev/log: the messages go to
    /run/ipcfs/ipcfs.PID.log, PID the daemon's, named on stderr at start;
  * a FILE that cannot be opened: exit 1, a message, nothing mounted.

Daemonized mounts are made here by hand (the harness's run in the
foreground) and always unmounted, their daemons waited for or killed.
"""

import contextlib
import os
import re
import signal
import stat
import tempfile
import time

from harness import Harness
from mount import rmdir_patiently
from native import mounted_fstype

FG_LOG = os.path.join(tempfile.gettempdir(),
                      "ipcfs-log-%d.log" % os.getpid())
H = Harness("log", chan_max_total=65536, log=FG_LOG)
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}"
REFUSED = "channels may hold 65536 bytes in all (-o chan_max_total)"


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def provoke(t, mnt):
    """A message the daemon logs: the second channel of a mount whose
    chan_max_total is one channel's capacity is refused."""
    with t.within(5, "mkdir of two channels"):
        os.mkdir(os.path.join(mnt, "channels", "a"))
        try:
            os.mkdir(os.path.join(mnt, "channels", "b"))
        except OSError as e:
            t.eq(e.errno, 28, "the second channel's mkdir (ENOSPC)")
        else:
            t.fail("the second channel was made")


def line_of(t, text, pid, what):
    """The line of TEXT (a log) with WHAT, which has syslog's shape."""
    m = re.search(r"^%s ipcfs\[%d\]: .*%s.*$" % (STAMP, pid,
                                                re.escape(what)),
                  text, re.M)
    t.true(m, "a line '<time> ipcfs[%d]: ...%s...'" % (pid, what),
           repr(text[-600:]))
    return m.group(0)


@contextlib.contextmanager
def daemonized(t, opts):
    """`$IPCFS -o OPTS MNT` (no -f) on a fresh mount point: yields
    (mnt, status, stdout, stderr decoded, the daemon's pid or None). On the
    way out its objects are removed, it is unmounted, and its daemon is
    waited for (killed after 5 s)."""
    mnt = os.path.realpath(tempfile.mkdtemp(prefix="ipcfs-logd-"))
    pid = None
    try:
        rc, out, err = t.run([t.ipcfs, "-o", opts, mnt], timeout=10)
        if mounted_fstype(mnt):
            pid = int(os.getxattr(mnt, "user.ipcfs.pid"))
        yield mnt, rc, out, err.decode(errors="replace"), pid
    finally:
        if mounted_fstype(mnt):
            with contextlib.suppress(Exception):
                t.remove_objects(mnt)
        t.unmount_dir(mnt)
        end = time.monotonic() + 5
        while pid and os.path.exists("/proc/%d" % pid) and \
                time.monotonic() < end:
            time.sleep(0.02)
        if pid and os.path.exists("/proc/%d" % pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            t.fail("daemon %d still running 5 s after unmount" % pid)
        rmdir_patiently(mnt)


def test_foreground_log_file(t):
    t.true("ipcfs: messages go to %s\n" % FG_LOG in t.daemon_stderr(),
           "the daemon said where at start", t.daemon_stderr()[-300:])
    t.eq(os.getxattr(t.mnt, "user.ipcfs.log").decode(), FG_LOG,
         "user.ipcfs.log")
    provoke(t, t.mnt)
    text = read(FG_LOG)
    line_of(t, text, t.daemon.pid, "ipcfs ")
    line = line_of(t, text, t.daemon.pid, REFUSED)
    t.true(line.endswith("mkdir /%sb: %s and 65536 are reserved" % (
        t.prefix, REFUSED)), "the line of the refused mkdir", line)
    t.true(REFUSED not in t.daemon_stderr(), "and not on stderr")


def test_daemonized_log_file(t):
    log = os.path.join(tempfile.gettempdir(), "ipcfs-logd-%d.log" %
                       os.getpid())
    try:
        with daemonized(t, "prefix=%sd_,chan_max_total=65536,log=%s" % (
                t.prefix, log)) as (mnt, rc, out, err, pid):
            t.eq((rc, out, err), (0, b"", "ipcfs: messages go to %s\n" % log),
                 "ipcfs -o log=FILE (status, out, err)")
            t.true(pid, "mounted")
            t.eq(os.getxattr(mnt, "user.ipcfs.log").decode(), log,
                 "user.ipcfs.log")
            first = read(log).split("\n")[0]
            t.true(re.fullmatch(r"%s ipcfs\[%d\]: ipcfs \S+ on %s" % (
                STAMP, pid, re.escape(mnt)), first),
                "the first line names the daemon and the mount", first)
            provoke(t, mnt)
            line_of(t, read(log), pid, "mkdir /%sd_b: %s" % (t.prefix,
                                                            REFUSED))
        os.unlink(log)
        # Refused at start: why, on stderr and in the file.
        opts = "prefix=%sr_,chan_capacity=1000000,chan_max_total=65536," \
               "log=%s" % (t.prefix, log)
        rc, out, err, mounted = t.start_refused(opts, foreground=False)
        t.true(rc not in (0, None) and not mounted,
               "-o %s: refused, nothing mounted" % opts, "%s %s" % (rc, err))
        why = "-o chan_capacity=1000000 is more than -o chan_max_total"
        t.true(why in err, "stderr says why", err)
        t.true(why in read(log), "the log says why", read(log))
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(log)


def test_daemonized_default_file(t):
    with contextlib.suppress(OSError):
        if stat.S_ISSOCK(os.stat("/dev/log").st_mode):
            t.skip("/dev/log is here: messages go to syslog")
    path = None
    try:
        with daemonized(t, "prefix=%sdf_,chan_max_total=65536" % t.prefix
                        ) as (mnt, rc, out, err, pid):
            t.true(pid, "mounted", err)
            path = "/run/ipcfs/ipcfs.%d.log" % pid
            t.eq((rc, out, err), (0, b"", "ipcfs: messages go to %s\n" %
                                  path), "ipcfs without log= (status, out, "
                 "err)")
            t.eq(os.getxattr(mnt, "user.ipcfs.log").decode(), path,
                 "user.ipcfs.log")
            t.eq(stat.S_IMODE(os.stat(path).st_mode), 0o644,
                 "the log's mode")
            provoke(t, mnt)
            line_of(t, read(path), pid, "mkdir /%sdf_b: %s" % (t.prefix,
                                                              REFUSED))
    finally:
        if path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def test_unopenable_log_refused(t):
    d = tempfile.mkdtemp(prefix="ipcfs-logdir-")
    try:
        for path, why in ((os.path.join(d, "no", "x.log"),
                           "No such file or directory"),
                          (d, "Is a directory"),
                          ("", "No such file or directory")):
            for fg in (True, False):
                opts = "prefix=%sbad_,log=%s" % (t.prefix, path)
                rc, out, err, mounted = t.start_refused(opts, foreground=fg)
                t.eq((rc, mounted), (1, False), "%s-o %s (status, mounted)"
                     % ("-f " * fg, opts))
                t.eq(err, "ipcfs: -o log=%s: cannot open it: %s\n" % (
                    path, why), "%s-o %s: stderr" % ("-f " * fg, opts))
    finally:
        rmdir_patiently(d)


def teardown_module(module):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(FG_LOG)

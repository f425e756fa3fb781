# SPDX-License-Identifier: GPL-2.0-or-later
"""ipcctl mkdir (DESIGN.md §4, issue 10 point 4): an object with its own
parameters in one step, through the tree.

  * each kind's parameters, read back through the tree and natively:
    channels' --capacity, shm's --size, sem's --value both ways (posted
    up from the mount's sem_value, taken down to it), queues' --maxmsg and
    --msgsize, in the order that fits RLIMIT_MSGQUEUE on the way;
  * -m MODE exactly, whatever the umask; without it, what mkdir(1) makes;
  * bad usage (exit 2, nothing made): an option of another kind, a bad
    number or mode, no DIR or two; failures (exit 1): DIR exists, DIR not
    in an ipcfs mount (nothing made there either), a parameter refused
    (the object is removed again);
  * the hints, each by really hitting its limit: RLIMIT_MSGQUEUE (EMFILE,
    the caller run under prlimit --msgqueue), the mount's chan_max_total
    (ENOSPC, at mkdir and at the capacity write), fs.mqueue.queues_max
    (ENOSPC) and msg_max (EINVAL) with a daemon in an IPC namespace of its
    own without CAP_SYS_RESOURCE (which lifts both limits), so no sysctl
    of the machine is touched.
"""

import os
import re
import stat
import tempfile

from harness import Harness
from native import mq_close, mq_getattr, mq_open, sem_value

CHAN_MAX_TOTAL = 262144
H = Harness("mkdir", chan_max_total=CHAN_MAX_TOTAL, sem_value=2,
            mq_maxmsg=2, mq_msgsize=8192)


def ipcctl(t, *args, timeout=5, wrap=()):
    """$IPCCTL ARGS (under the command prefix WRAP), bounded:
    (status, stdout, stderr decoded)."""
    rc, out, err = t.run(list(wrap) + [t.ipcctl] + [str(a) for a in args],
                         timeout=timeout)
    return rc, out, err.decode(errors="replace")


def mkdir_ok(t, *args, wrap=()):
    """ipcctl mkdir ARGS, which must succeed quietly."""
    rc, out, err = ipcctl(t, "mkdir", *args, wrap=wrap)
    t.eq((rc, out, err), (0, b"", ""), "ipcctl mkdir %s (status, out, "
         "err)" % " ".join(map(str, args)))


def names(t, kind, root=None):
    with t.within(5, "ls %s" % kind):
        return sorted(os.listdir(os.path.join(root or t.mnt, kind)))


def native_names(t):
    """What exists natively under this file's prefix in /dev/shm."""
    return sorted(n for n in os.listdir("/dev/shm") if t.prefix in n)


def first_line(err):
    return err.split("\n", 1)[0]


def hints(err):
    return " ".join(ln[len("ipcctl: hint: "):] for ln in err.splitlines()
                    if ln.startswith("ipcctl: hint: "))


# ---------------------------------------------------------------------------
# Parameters


def test_channel_capacity(t):
    c = t.path("channels", "c")
    mkdir_ok(t, "--capacity", 8192, c)
    t.eq(t.read_file(os.path.join(c, "capacity")), b"8192\n", "capacity")
    t.eq(names(t, "channels"), ["c"], "channels/")


def test_shm_size_and_mode(t):
    s = t.path("shm", "s")
    mkdir_ok(t, "--size", 10000, "-m", "640", s)
    t.eq(t.read_file(os.path.join(s, "size")), b"10000\n", "size")
    st = os.stat(t.shm_file("shm", "s"))
    t.eq((st.st_size, stat.S_IMODE(st.st_mode)), (10000, 0o640),
         "the segment natively (size, mode)")


def test_sem_value_up_and_down(t):
    """The mount's sem_value is 2: --value 7 posts 5, 1 takes one, 0 takes
    two, 2 changes nothing; native sem_getvalue agrees."""
    for n in (7, 1, 0, 2):
        name = "v%d" % n
        mkdir_ok(t, "--value", n, t.path("sem", name))
        t.eq(t.read_file(t.path("sem", name, "value")), b"%d\n" % n,
             "sem/%s/value" % name)
        t.eq(sem_value(t.posix(name)), n, "sem/%s natively" % name)
        t.eq(t.read_file(t.path("sem", name, "waiters")), b"",
             "nobody waits on sem/%s" % name)


def test_mode_exact_or_as_mkdir(t):
    """-m MODE is the mode whatever the umask; without -m, ipcctl mkdir
    makes what mkdir(1) makes under the same umask."""
    rc, out, err = t.sh('umask 077; exec "$@"', t.ipcctl, "mkdir", "-m",
                        "644", t.path("sem", "m"))
    t.eq((rc, out, err), (0, b"", b""), "umask 077; ipcctl mkdir -m 644")
    t.eq(stat.S_IMODE(os.lstat(t.shm_file("sem", "m")).st_mode), 0o644,
         "-m 644 under umask 077, natively")
    for um in ("022", "027"):
        rc, out, err = t.sh('umask %s; "$1" mkdir "$2" && mkdir "$3"' % um,
                            t.ipcctl, t.path("sem", "a" + um),
                            t.path("sem", "b" + um))
        t.eq((rc, out, err), (0, b"", b""), "umask %s: ipcctl mkdir, "
             "mkdir" % um)
        modes = [stat.S_IMODE(os.lstat(t.shm_file("sem", n + um)).st_mode)
                 for n in "ab"]
        t.eq(modes[0], modes[1], "umask %s: ipcctl mkdir's mode is "
             "mkdir(1)'s" % um)
        t.eq(modes[0], 0o777 & ~int(um, 8), "umask %s: the mode" % um)


def native_shape(t, pname):
    """(maxmsg, msgsize) of queue PNAME, natively."""
    mqd = mq_open(pname, os.O_RDONLY)
    try:
        attr = mq_getattr(mqd)
    finally:
        mq_close(mqd)
    return attr.mq_maxmsg, attr.mq_msgsize


def test_queue_maxmsg_msgsize(t):
    """--maxmsg and --msgsize, read back and natively (the mount makes
    queues of 2 x 8192)."""
    with open("/proc/sys/fs/mqueue/msgsize_max") as f:
        msgsize_max = int(f.read())
    for name, maxmsg, msgsize in (("a", 5, 100), ("b", 1, msgsize_max),
                                  ("c", 3, None), ("d", None, 64)):
        q = t.path("queues", name)
        args = (["--maxmsg", maxmsg] if maxmsg else []) + \
            (["--msgsize", msgsize] if msgsize else [])
        mkdir_ok(t, *(args + [q]))
        want = (maxmsg or 2, msgsize or 8192)
        t.eq((t.read_file(os.path.join(q, "maxmsg")),
              t.read_file(os.path.join(q, "msgsize"))),
             (b"%d\n" % want[0], b"%d\n" % want[1]), "queues/%s" % name)
        t.eq(native_shape(t, t.posix(name)), want,
             "queues/%s natively (maxmsg, msgsize)" % name)


# A user of its own, so that its RLIMIT_MSGQUEUE counts only its queues.
LONER = 42424


def test_queue_shape_order(t):
    """Each of maxmsg and msgsize re-creates the queue: from 2 x 8192 to
    10 x 1024 under a RLIMIT_MSGQUEUE of 30000 bytes, msgsize must go
    first (10 x 8192 would not fit). A user of its own makes it (its
    limit counts its queues only), through a mount whose daemon has that
    limit too (a re-created queue is charged against the daemon's)."""
    t.need("setpriv")
    m = t.extra_unstarted("mkdir-rl", mq_maxmsg=2, mq_msgsize=8192,
                          allow_other=None)
    m.wrap = ["prlimit", "--msgqueue=30000:30000", "--"]
    m.start_daemon()
    q = os.path.join(m.mnt, "queues", "o")
    mkdir_ok(t, "--maxmsg", 10, "--msgsize", 1024, q,
             wrap=["setpriv", "--reuid=%d" % LONER, "--regid=%d" % LONER,
                   "--clear-groups", "--"])
    t.eq(os.stat(q).st_uid, LONER, "the queue is the user's")
    t.eq(native_shape(t, "/" + m.prefix + "o"), (10, 1024),
         "the queue natively (maxmsg, msgsize)")


def test_queue_rewrite_near_the_limit_keeps_the_queue(t):
    """A rewrite is held to the writer's RLIMIT_MSGQUEUE (30000 bytes here;
    the daemon's is larger), as a mkdir is; and it closes the old queue
    before it makes the new one, so only the new one must fit: 2 x 8192
    -> 3 x 8192 fits (both at once would not); 3 -> 4 does not, and the
    queue stays, 3 x 8192, usable."""
    t.need("setpriv")
    m = t.extra_unstarted("mkdir-rw", mq_maxmsg=2, mq_msgsize=8192,
                          allow_other=None)
    m.start_daemon()
    as_loner = ["prlimit", "--msgqueue=30000:30000", "--",
                "setpriv", "--reuid=%d" % LONER, "--regid=%d" % LONER,
                "--clear-groups", "--"]
    q = os.path.join(m.mnt, "queues", "near")
    pname = "/" + m.prefix + "near"
    mkdir_ok(t, q, wrap=as_loner)
    rc, out, err = t.run(as_loner + ["sh", "-c", "echo 3 > %s/maxmsg" % q])
    t.eq((rc, err), (0, b""), "echo 3 > maxmsg (status, err)")
    t.eq(native_shape(t, pname), (3, 8192), "the queue natively after 3")
    rc, out, err = t.run(as_loner + ["sh", "-c", "/bin/echo 4 > %s/maxmsg" % q])
    t.true(rc != 0 and b"Too many open files" in err,
           "echo 4 > maxmsg: EMFILE (RLIMIT_MSGQUEUE)", err.decode())
    t.eq(native_shape(t, pname), (3, 8192), "the queue stays after 4")
    rc, out, err = t.run(as_loner + ["sh", "-c",
                                     "echo kept > %s/data; cat %s/data" %
                                     (q, q)])
    t.eq((rc, out, err), (0, b"kept\n", b""), "and carries messages")


def test_queue_maxmsg_beyond_msg_max(t):
    """--maxmsg past fs.mqueue.msg_max (and the kernel's hard limit,
    65536, that of a caller with CAP_SYS_RESOURCE) is refused: the queue
    is removed, and the hint names fs.mqueue.msg_max."""
    q = t.path("queues", "big")
    rc, out, err = ipcctl(t, "mkdir", "--maxmsg", 100000, q)
    t.eq((rc, out, first_line(err)), (1, b"", "ipcctl: %s/maxmsg: Invalid "
         "argument" % q), "mkdir --maxmsg 100000 (status, out, first line)")
    t.true("fs.mqueue.msg_max" in hints(err) and "100000" in hints(err),
           "the hint names msg_max and the value", err)
    t.eq(names(t, "queues"), [], "queues/ after")


# ---------------------------------------------------------------------------
# Usage and failures


def test_option_of_another_kind_is_usage(t):
    for kind, opt in (("queues", "--capacity"), ("queues", "--value"),
                      ("channels", "--size"), ("shm", "--maxmsg"),
                      ("sem", "--msgsize"), ("sem", "--capacity")):
        d = t.path(kind, "x")
        rc, out, err = ipcctl(t, "mkdir", opt, 4096, d)
        t.eq((rc, out), (2, b""), "%s on %s/ (status, out)" % (opt, kind))
        t.true(opt in first_line(err) and kind in first_line(err),
               "%s on %s/: the message names both" % (opt, kind), err)
        t.eq(names(t, kind), [], "%s on %s/: nothing made" % (opt, kind))
    t.eq(native_names(t), [], "nothing made natively")


def test_bad_usage_makes_nothing(t):
    c, s = t.path("channels", "x"), t.path("sem", "x")
    for args in (["--capacity", "x", c], ["--capacity", "-4096", c],
                 ["--capacity", "", c], ["--value", "-1", s],
                 ["--value", "1.5", s], ["-m", "999", s], ["-m", "u=rw", s],
                 ["-m", "17777", s], [], [c, s], ["--bogus", c]):
        rc, out, err = ipcctl(t, "mkdir", *args)
        t.eq((rc, out), (2, b""), "mkdir %s (status, out)" % args)
        t.true(err.startswith(("ipcctl", "usage: ipcctl mkdir")),
               "mkdir %s: a message" % args, err)
    t.eq(names(t, "channels") + names(t, "sem"), [], "nothing made")


def test_exists(t):
    c = t.mkobj("channels", "e")
    rc, out, err = ipcctl(t, "mkdir", "--capacity", 8192, c)
    t.eq((rc, out, err), (1, b"", "ipcctl: %s: File exists\n" % c),
         "mkdir of an existing channel")
    t.eq(t.read_file(os.path.join(c, "capacity")), b"65536\n",
         "its capacity is untouched")


def test_not_in_an_ipcfs_mount(t):
    """Elsewhere a parameter would be a plain file written in a plain
    directory: refused before anything is made."""
    d = tempfile.mkdtemp(prefix="ipcfs-mkdir-")
    try:
        os.mkdir(os.path.join(d, "channels"))
        x = os.path.join(d, "channels", "x")
        rc, out, err = ipcctl(t, "mkdir", "--capacity", 8192, x)
        t.eq((rc, out, err), (1, b"", "ipcctl: %s: not in an ipcfs mount\n"
                              % x), "mkdir in /tmp")
        t.eq(os.listdir(os.path.join(d, "channels")), [], "nothing made")
        rc, out, err = ipcctl(t, "mkdir", os.path.join(d, "no", "x"))
        t.eq((rc, err), (1, "ipcctl: %s: No such file or directory\n" %
                         os.path.join(d, "no", "x")), "a missing parent")
    finally:
        os.rmdir(os.path.join(d, "channels"))
        os.rmdir(d)


def test_refused_parameter_removes_the_object(t):
    c, s = t.path("channels", "small"), t.path("sem", "huge")
    rc, out, err = ipcctl(t, "mkdir", "--capacity", 1, c)
    t.eq((rc, out, err), (1, b"", "ipcctl: %s/capacity: Invalid argument\n"
                          % c), "mkdir --capacity 1")
    rc, out, err = ipcctl(t, "mkdir", "--value", 1 << 40, s)
    t.eq((rc, out), (1, b""), "mkdir --value 2^40 (status, out)")
    t.true(first_line(err).startswith("ipcctl: %s/post: " % s),
           "the message names sem/huge/post", err)
    t.eq(names(t, "channels") + names(t, "sem"), [], "nothing left")
    t.eq(native_names(t), [], "nothing left natively")


def test_help(t):
    rc, out, err = ipcctl(t, "mkdir", "--help")
    text = out.decode()
    t.eq((rc, err), (0, ""), "mkdir --help (status, err)")
    t.true(text.startswith("usage: ipcctl mkdir "), "a usage line", text)
    missing = [w for w in ("--maxmsg", "--msgsize", "--capacity", "--size",
                           "--value", "--mode") if w not in text]
    t.eq(missing, [], "options missing from mkdir --help")
    rc, out, err = ipcctl(t, "--help")
    t.true(rc == 0 and re.search(rb"^mkdir +make", out, re.M),
           "ipcctl --help lists mkdir", out)


# ---------------------------------------------------------------------------
# Hints, each by hitting its limit


def test_hint_rlimit_msgqueue(t):
    """EMFILE: the caller's RLIMIT_MSGQUEUE (1000 bytes here) cannot hold
    a default queue."""
    q = t.path("queues", "q")
    rc, out, err = ipcctl(t, "mkdir", q,
                          wrap=["prlimit", "--msgqueue=1000", "--"])
    t.eq((rc, out, first_line(err)), (1, b"", "ipcctl: %s: Too many open "
         "files" % q), "mkdir under ulimit -q 1000 (status, out, first "
         "line)")
    h = hints(err)
    for w in ("RLIMIT_MSGQUEUE", "1000", "ulimit -q", "--maxmsg",
              "--msgsize", "prlimit --msgqueue=BYTES --pid %d" %
              t.daemon.pid):
        t.check("the hint says %r" % w, w in h, err)
    t.eq(names(t, "queues"), [], "queues/ after")


def test_hint_chan_max_total(t):
    """ENOSPC of a channel: at the write of a capacity that does not fit
    (the object is removed again), and at mkdir once the mount's
    chan_max_total is all reserved."""
    mkdir_ok(t, "--capacity", CHAN_MAX_TOTAL - 65536,
             t.path("channels", "big"))
    c = t.path("channels", "more")
    rc, out, err = ipcctl(t, "mkdir", "--capacity", 131072, c)
    t.eq((rc, out, first_line(err)), (1, b"", "ipcctl: %s/capacity: No "
         "space left on device" % c), "a capacity past chan_max_total")
    t.check("the hint names chan_max_total", "chan_max_total" in hints(err),
            err)
    t.eq(names(t, "channels"), ["big"], "channels/ after")
    mkdir_ok(t, t.path("channels", "last"))
    rc, out, err = ipcctl(t, "mkdir", "--capacity", 4096, c)
    t.eq((rc, out, first_line(err)), (1, b"", "ipcctl: %s: No space left on "
         "device" % c), "mkdir with chan_max_total all reserved")
    h = hints(err)
    for w in ("chan_max_total", "(%d, %d reserved)" % (CHAN_MAX_TOTAL,
                                                       CHAN_MAX_TOTAL),
              "--capacity"):
        t.check("the hint says %r" % w, w in h, err)
    t.eq(names(t, "channels"), ["big", "last"], "channels/ after")


# A daemon in an IPC namespace of its own, queues_max 1, and no
# CAP_SYS_RESOURCE (which lifts queues_max and msg_max).
NS_WRAP = ["unshare", "-i", "sh", "-c",
           'echo 1 > /proc/sys/fs/mqueue/queues_max && exec "$@"', "sh",
           "setpriv", "--bounding-set", "-sys_resource", "--"]


def test_hint_queues_max_and_msg_max(t):
    for prog in ("unshare", "setpriv", "nsenter"):
        t.need(prog)
    m = t.extra_unstarted("mkdir-ns", mq_maxmsg=8, mq_msgsize=64)
    m.wrap = NS_WRAP
    m.start_daemon()
    ns = ["nsenter", "-t", str(m.daemon.pid), "-i", "--"]
    mkdir_ok(t, os.path.join(m.mnt, "queues", "a"), wrap=ns)
    b = os.path.join(m.mnt, "queues", "b")
    rc, out, err = ipcctl(t, "mkdir", b, wrap=ns)
    t.eq((rc, out, first_line(err)), (1, b"", "ipcctl: %s: No space left on "
         "device" % b), "mkdir past queues_max 1 (status, out, first line)")
    h = hints(err)
    for w in ("fs.mqueue.queues_max", "(1, ",
              "sysctl fs.mqueue.queues_max=N"):
        t.check("the hint says %r" % w, w in h, err)
    t.eq(names(t, "queues", m.mnt), ["a"], "queues/ after")
    os.rmdir(os.path.join(m.mnt, "queues", "a"))
    rc, out, err = t.run(ns + ["sh", "-c", "echo 5 > "
                               "/proc/sys/fs/mqueue/msg_max"])
    t.eq(rc, 0, "msg_max 5 in the namespace")
    rc, out, err = ipcctl(t, "mkdir", b, wrap=ns)
    t.eq((rc, out, first_line(err)), (1, b"", "ipcctl: %s: Invalid "
         "argument" % b), "mkdir of 8 messages past msg_max 5")
    h = hints(err)
    for w in ("maxmsg 8", "fs.mqueue.msg_max (5)",
              "sysctl fs.mqueue.msg_max=N"):
        t.check("the hint says %r" % w, w in h, err)
    t.check("no hint about msgsize 64", "msgsize_max" not in h, err)
    t.eq(names(t, "queues", m.mnt), [], "queues/ after")

# SPDX-License-Identifier: GPL-2.0-or-later
"""The tree: mkdir/rmdir of queues, names, modes, owners, prefixes, native
visibility both ways, attribute files, ipcctl ls, and the daemon's options."""

import contextlib
import errno
import os
import re
import stat
import time

import pytest

from harness import Harness
from native import SHM_DIR, mq_close, mq_getattr, mq_open, mq_send, mq_unlink
from procs import wait_until

H = Harness("tree", mq_maxmsg=4, mq_msgsize=256)

# What DESIGN.md promises `ls KIND/NAME` shows: checked against the tree
# here, learnt from the tree everywhere else.
FILES = {
    "queues": ["count", "data", "framed", "lines", "maxmsg", "msgsize",
               "stream", "waiters"],
    "channels": ["bytes", "capacity", "data", "eof", "readers", "waiters",
                 "writers"],
    "shm": ["data", "size", "waiters"],
    "sem": ["hold", "holders", "post", "value", "wait", "waiters"],
    "topics": ["backlog", "data", "dropped", "published", "subscribers",
               "waiters"],
    "sysv/msg": ["bytes", "count", "data", "framed", "id", "lrpid", "lspid",
                 "qbytes", "stream", "waiters"],
    "sysv/shm": ["cpid", "data", "id", "lpid", "nattch", "size", "waiters"],
    "sysv/sem": ["hold", "holders", "id", "nsems", "post", "values", "wait",
                 "waiters"],
}


def named_kinds(t):
    """The kinds whose objects have names (and the mount's prefix): all
    but System V's, whose objects are keys."""
    return [k for k in t.kinds() if not k.startswith("sysv/")]


def test_top_level_dirs(t):
    with t.within(5, "ls MNT"):
        names = sorted(os.listdir(t.mnt))
    t.eq(names, sorted({k.split("/")[0] for k in FILES}), "ls MNT")
    t.eq(sorted(t.kinds()), sorted(FILES), "the kinds the harness finds")
    # (Once for every kind: the per-kind copies in test_shm and test_sem
    # merged here.)
    for d in names:
        with t.within(5, "stat %s" % d):
            t.true(stat.S_ISDIR(os.stat(os.path.join(t.mnt, d)).st_mode),
                   "%s is a directory" % d)


def test_mkdir_creates_native_queue(t):
    q = t.mkq("a")
    mqd = t.native("a")
    a = mq_getattr(mqd)
    t.eq((a.mq_maxmsg, a.mq_msgsize, a.mq_curmsgs), (4, 256, 0),
         "native mq_getattr (maxmsg, msgsize, curmsgs)")
    with t.within(5, "ls queues"):
        t.true("a" in os.listdir(t.qpath("")), "a listed in queues/")
        files = sorted(os.listdir(q))
    t.eq(files, FILES["queues"], "files in queues/a")
    t.eq(t.attr("a", "count"), "0\n", "count")
    t.eq(t.attr("a", "maxmsg"), "4\n", "maxmsg")
    t.eq(t.attr("a", "msgsize"), "256\n", "msgsize")


def test_mkdir_is_usable_natively_at_once(t):
    t.mkq("b")
    mqd = t.native("b")
    mq_send(mqd, b"hi", 0)
    t.eq(t.attr("b", "count"), "1\n", "count after a native send")
    t.eq(t.recv("b"), (b"hi", 0), "native receive")


def test_xattr_names_the_posix_object(t):
    q = t.mkq("x")
    with t.within(5, "getxattr"):
        v = os.getxattr(q, "user.ipcfs.name")
    t.eq(v, t.posix("x").encode(), "user.ipcfs.name")


def test_rmdir_unlinks_native_queue(t):
    t.mkq("gone")
    t.rmq("gone")
    t.raises(errno.ENOENT, mq_open, t.posix("gone"), os.O_RDWR,
             what="native mq_open after rmdir")
    with t.within(5, "ls queues"):
        t.true("gone" not in os.listdir(t.qpath("")), "gone not listed")
    with t.within(5, "stat"):
        t.raises(errno.ENOENT, os.stat, t.qpath("gone"), what="stat after rmdir")


def test_mkdir_existing_is_EEXIST(t):
    t.mkq("dup")
    t.send("dup", b"keep")
    with t.within(5, "mkdir"):
        t.raises(errno.EEXIST, os.mkdir, t.qpath("dup"), 0o600,
                 what="second mkdir")
    t.eq(t.count("dup"), 1, "message kept after the refused mkdir")


# What the kinds with a native name share (kinds made by name in the kernel
# or in /dev/shm): once for each.
native_kinds = pytest.mark.parametrize("kind", ["queues", "shm", "sem"])


@pytest.mark.parametrize("kind", ["queues", "shm"])
def test_name_too_long_is_ENAMETOOLONG(t, kind):
    room = 255 - len(t.prefix)
    with t.within(5, "mkdir"):
        t.raises(errno.ENAMETOOLONG, os.mkdir, t.path(kind, "n" * (room + 1)),
                 0o600, what="mkdir %s/ of a %d-char name" % (kind, room + 1))
    with t.within(5, "ls %s" % kind):
        t.true(not any(n.startswith("nnn") for n in os.listdir(
            t.path(kind, ""))), "nothing created in %s/" % kind)
    t.true(not any(n.startswith(t.prefix + "nnn") for n in
                   os.listdir(SHM_DIR)), "nothing created in /dev/shm")
    t.mkobj(kind, "m" * room)
    t.eq(t.native_stat(kind, "m" * room).st_uid, os.getuid(),
         "a %d-char name (255 with the prefix) works: the native object's "
         "owner" % room)


def test_rmdir_missing_is_ENOENT(t):
    with t.within(5, "rmdir"):
        t.raises(errno.ENOENT, os.rmdir, t.qpath("nosuch"), what="rmdir")


@native_kinds
def test_mkdir_mode_honoured_natively(t, kind):
    t.mkobj(kind, "m640", 0o640)
    st = t.native_stat(kind, "m640")
    t.eq(oct(stat.S_IMODE(st.st_mode)), oct(0o640), "native mode")
    t.eq((st.st_uid, st.st_gid), (os.getuid(), os.getgid()), "native owner")


def test_dir_shows_object_mode_and_owner(t):
    # A directory needs search (x) bits to be usable, so only the r/w bits
    # are compared: they must be the object's.
    t.mkq("m604", 0o604)
    with t.within(5, "stat"):
        st = os.stat(t.qpath("m604"))
    t.eq(oct(stat.S_IMODE(st.st_mode) & 0o7666), oct(0o604),
         "r/w bits of the mode of queues/m604")
    t.eq((st.st_uid, st.st_gid), (os.getuid(), os.getgid()), "owner")


@native_kinds
def test_mkdir_applies_umask(t, kind):
    old = os.umask(0o027)
    try:
        t.mkobj(kind, "um", 0o777)
    finally:
        os.umask(old)
    st = t.native_stat(kind, "um")
    t.eq(oct(stat.S_IMODE(st.st_mode)), oct(0o750), "native mode of mkdir "
         "0777 under umask 027")


def test_chmod_reaches_object(t):
    t.mkq("cm", 0o600)
    mqd = t.native("cm")
    with t.within(5, "chmod"):
        os.chmod(t.qpath("cm"), 0o620)
    t.eq(oct(stat.S_IMODE(os.fstat(mqd).st_mode)), oct(0o620),
         "native mode after chmod")
    with t.within(5, "stat"):
        t.eq(oct(stat.S_IMODE(os.stat(t.qpath("cm")).st_mode) & 0o7666),
             oct(0o620), "r/w bits of the mode shown after chmod")


def test_chown_reaches_object(t):
    t.mkq("co", 0o600)
    mqd = t.native("co")
    with t.within(5, "chown"):
        os.chown(t.qpath("co"), 1234, 2345)
    st = os.fstat(mqd)
    t.eq((st.st_uid, st.st_gid), (1234, 2345), "native owner after chown")


def test_native_queue_appears_and_disappears(t):
    mqd = t.native_create("nat", maxmsg=2, msgsize=64)
    mq_send(mqd, b"x", 0)
    with t.within(5, "ls queues"):
        t.true("nat" in os.listdir(t.qpath("")), "natively created queue listed")
    t.eq(t.attr("nat", "count"), "1\n", "count")
    t.eq(t.attr("nat", "maxmsg"), "2\n", "maxmsg of the native queue")
    t.eq(t.attr("nat", "msgsize"), "64\n", "msgsize of the native queue")
    mq_unlink(t.posix("nat"))
    t.made["queues"].discard("nat")
    with t.within(5, "ls queues"):
        t.true("nat" not in os.listdir(t.qpath("")),
               "native mq_unlink: no longer listed")
    with t.within(5, "stat"):
        t.check("stat after native mq_unlink: ENOENT within 0.5 s",
                wait_until(lambda: not os.path.exists(t.qpath("nat")), 0.5))


@pytest.mark.parametrize("kind", ["queues", "shm", "sem"])
def test_native_removal_forgets_a_cached_directory(t, kind):
    """An object's directory entry is cached (no lookup per path through
    it) for kinds the daemon watches; removed by another program, it is
    gone for a path at once through its files, and for the directory
    itself within a moment (the watch tells the kernel), far sooner than
    the entry's 1 s timeout."""
    name = "cached" + kind
    d = t.path(kind, name)
    with t.within(5, "mkdir %s" % d):
        os.mkdir(d, 0o600)
    t.made[kind].add(name)
    with t.within(5, "stat %s" % d):
        t.true(stat.S_ISDIR(os.stat(d).st_mode), "a directory")
        for f in t.kind_files(kind):
            os.stat(os.path.join(d, f))
    start = time.monotonic()
    unlink_any(kind, t.prefix + name)
    t.made[kind].discard(name)
    for f in t.kind_files(kind):
        with t.within(5, "open %s/%s" % (d, f)):
            t.raises(errno.ENOENT, os.open, os.path.join(d, f), os.O_RDONLY,
                     what="open %s right after the native removal" % f)
    with t.within(5, "stat %s" % d):
        gone = wait_until(lambda: not os.path.exists(d), 0.5)
    t.check("%s/%s gone within 0.5 s of its native removal" % (kind, name),
            gone, "still there after %.3f s" % (time.monotonic() - start))


def test_native_queue_appears_after_failed_lookup(t):
    # No negative caching: a name looked up in vain works once created.
    with t.within(5, "stat"):
        t.raises(errno.ENOENT, os.stat, t.qpath("late"), what="stat before")
    t.native_create("late", maxmsg=2, msgsize=64)
    with t.within(5, "stat"):
        t.true(stat.S_ISDIR(os.stat(t.qpath("late")).st_mode),
               "queues/late is a directory right after the native mq_open")
    t.eq(t.attr("late", "count"), "0\n", "count")


def test_prefix_hides_other_queues(t):
    other = "/o%d_tree_hidden" % os.getpid()
    mqd = mq_open(other, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600, 2, 64)
    try:
        with t.within(5, "ls queues"):
            names = os.listdir(t.qpath(""))
        t.true(not any("hidden" in n for n in names),
               "a queue outside the prefix is not listed", repr(names))
        with t.within(5, "stat"):
            t.raises(errno.ENOENT, os.stat, t.qpath(other[1:]),
                     what="stat of the unprefixed name")
            t.raises(errno.ENOENT, os.stat, t.qpath("hidden"),
                     what="stat of the name without any prefix")
    finally:
        mq_close(mqd)
        mq_unlink(other)


def test_ipcctl_ls_does_not_consume(t):
    t.mkq("lsq")
    t.send("lsq", b"stay")
    rc, out, err = t.run([t.ipcctl, "ls", t.mnt], timeout=5)
    t.eq(rc, 0, "ipcctl ls exit status (stderr %r)" % err)
    t.true(b"lsq" in out, "ipcctl ls names the queue", repr(out[:300]))
    t.eq(t.count("lsq"), 1, "message still waiting after ipcctl ls")


def test_bad_options_refused(t):
    for opt, name in (("mq_maxmsg=abc", "mq_maxmsg"),
                      ("mq_maxmsg=0", "mq_maxmsg"),
                      ("mq_msgsize=abc", "mq_msgsize"),
                      ("no_such_option=1", "no_such_option")):
        rc, out, err, mounted = t.start_refused(opt, foreground=False)
        out += err
        # A bad value: exit 1 (the brief); an unknown option: non-zero.
        good_rc = rc == 1 if name.startswith("mq_") else rc not in (0, None)
        t.check("-o %s refused" % opt, good_rc and not mounted and name in out,
                "exit %s, mounted %s, output %r" % (rc, mounted, out[-300:]))


def test_version_and_help(t):
    rc, out, err = t.run([t.ipcfs, "--version"], timeout=5)
    text = (out + err).decode(errors="replace")
    t.check("--version exits 0 and prints a version",
            rc == 0 and re.search(r"\d+\.\d+", text) is not None,
            "exit %s, output %r" % (rc, text[-300:]))
    rc, out, err = t.run([t.ipcfs, "--help"], timeout=5)
    text = (out + err).decode(errors="replace")
    t.check("--help exits 0 and names the options",
            rc == 0 and "prefix" in text and "mq_maxmsg" in text,
            "exit %s, output %r" % (rc, text[-300:]))


def test_remade_object_lists_its_files(t):
    """rmdir leaves the kernel with a dead directory inode, alive while
    somebody holds it: a new object of the same name must not get the old
    node id, or it could not be listed."""
    for kind in t.kinds():
        files = FILES[kind]
        d = os.path.join(t.mnt, kind, t.objname(kind, "again"))
        held = []
        try:
            for i in range(3):
                with t.within(5, "mkdir/ls/rmdir %s" % d):
                    os.mkdir(d, 0o600)
                    got = sorted(os.listdir(d))
                    os.stat(os.path.join(d, files[0]))
                    held.append(os.open(d, os.O_RDONLY | os.O_DIRECTORY))
                    os.rmdir(d)
                t.eq(got, files, "%s listing, round %d" % (kind, i + 1))
        finally:
            for fd in held:
                os.close(fd)
            if os.path.isdir(d):
                os.rmdir(d)


def use_through_tree(t, root, kind, name):
    """A round trip through KIND/NAME of the tree at ROOT: what comes back
    (bytes), to compare with what use_want says."""
    d = os.path.join(root, kind, name)
    with t.within(5, "use %s" % d):
        if kind == "queues":
            t.write_file(os.path.join(d, "data"), b"dot")
            return t.read_file(os.path.join(d, "data"))
        if kind == "shm":
            t.write_file(os.path.join(d, "data"), b"dot")
            return t.read_file(os.path.join(d, "data"))
        if kind == "sem":
            t.write_file(os.path.join(d, "post"), b"2\n")
            t.read_file(os.path.join(d, "wait"))
            return t.read_file(os.path.join(d, "value"))
        # channels, topics (the reader opens before the message is sent).
        w = os.open(os.path.join(d, "data"), os.O_WRONLY | os.O_NONBLOCK)
        r = os.open(os.path.join(d, "data"), os.O_RDONLY | os.O_NONBLOCK)
        try:
            os.write(w, b"dot")
            return os.read(r, 100)
        finally:
            os.close(w)
            os.close(r)


# sem: mkdir makes value 1 (the default sem_value), post 2, wait 1: 2.
USE_WANT = {"queues": b"dot", "shm": b"dot", "sem": b"2\n", "channels": b"dot",
            "topics": b"dot"}


def unlink_any(kind, name):
    """Unlink the native object /NAME of KIND, if there is one."""
    with contextlib.suppress(OSError):
        if kind == "queues":
            mq_unlink("/" + name)
        elif kind == "shm":
            os.unlink(os.path.join(SHM_DIR, name))
        elif kind == "sem":
            os.unlink(os.path.join(SHM_DIR, "sem." + name))


def check_dot_names(t, root, names, what):
    """mkdir KIND/NAME for each kind in the tree at ROOT, NAME starting
    with a dot: listed by os.listdir(KIND), usable, and gone after
    rmdir."""
    for kind in named_kinds(t):
        name = names[kind]
        d = os.path.join(root, kind, name)
        with t.within(5, "mkdir %s" % d):
            os.mkdir(d, 0o600)
        try:
            with t.within(5, "ls %s" % kind):
                listed = os.listdir(os.path.join(root, kind))
            t.check("%s: %s/%s is listed" % (what, kind, name),
                    name in listed, "not among %d names" % len(listed))
            with t.within(5, "ls %s" % d):
                files = sorted(os.listdir(d))
            t.check("%s: %s/%s has its files" % (what, kind, name),
                    files == t.kind_files(kind), repr(files))
            got = use_through_tree(t, root, kind, name)
            t.check("%s: %s/%s is usable" % (what, kind, name),
                    got == USE_WANT[kind], "got %r" % got)
        finally:
            with t.within(5, "rmdir %s" % d):
                os.rmdir(d)
        with t.within(5, "ls %s" % kind):
            t.check("%s: %s/%s not listed after rmdir" % (what, kind, name),
                    name not in os.listdir(os.path.join(root, kind)))


def test_names_starting_with_a_dot(t):
    """KIND/.NAME is an object like any other: listed, usable, removable.
    In this tree the native name starts with the prefix; in a tree without
    a prefix it starts with the dot itself, as in /dev/mqueue/.NAME."""
    check_dot_names(t, t.mnt, {k: ".d" + k for k in named_kinds(t)},
                    "prefix")
    names = {k: ".%s%s" % (t.prefix, k) for k in named_kinds(t)}
    try:
        with t.extra_tree("tree-noprefix", prefix="") as m:
            check_dot_names(t, m.mnt, names, "no prefix")
    finally:
        for kind, name in names.items():
            unlink_any(kind, name)


def test_attribute_parsers_agree_on_huge_numbers(t):
    """A number too large for a long is as wrong as any other bad value:
    EINVAL from shm size, channels capacity and topics backlog (not
    ERANGE); sem post says EOVERFLOW for any number past SEM_VALUE_MAX,
    however many digits."""
    huge = b"99999999999999999999\n"
    for kind in ("shm", "channels", "sem", "topics"):
        t.mkobj(kind, "big")
    cases = [("shm", "size", huge, errno.EINVAL),
             ("shm", "size", b"-" + huge, errno.EINVAL),
             ("channels", "capacity", huge, errno.EINVAL),
             ("channels", "capacity", b"-" + huge, errno.EINVAL),
             ("sem", "post", huge, errno.EOVERFLOW),
             ("sem", "post", huge[:-1], errno.EOVERFLOW),
             ("sem", "post", b"-" + huge, errno.EINVAL),
             ("topics", "backlog", huge, errno.EINVAL),
             ("topics", "backlog", b"-" + huge, errno.EINVAL)]
    for kind, attr, value, eno in cases:
        path = t.path(kind, "big", attr)
        t.raises(eno, t.write_file, path, value,
                 what="write %r to %s/big/%s" % (value, kind, attr))
    t.eq(t.read_file(t.path("shm", "big", "size")), b"0\n",
         "shm size unchanged")
    t.eq(t.read_file(t.path("channels", "big", "capacity")), b"65536\n",
         "channel capacity unchanged")
    t.eq(t.read_file(t.path("sem", "big", "value")), b"1\n",
         "sem value unchanged")
    t.eq(t.read_file(t.path("topics", "big", "backlog")), b"1024\n",
         "topic backlog unchanged")

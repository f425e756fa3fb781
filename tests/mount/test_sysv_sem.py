# SPDX-License-Identifier: GPL-2.0-or-later
"""sysv/sem/: System V semaphore sets through a mounted tree, with the
native API on the other side (sysv.py: semget, semop, GETVAL, GETALL).

mkdir (one semaphore of -o sem_value; past SEMVMX ERANGE and nothing left),
values/nsems/id of a native set of three, post (empty line, N in one
semop, ERANGE past SEMVMX, EINVAL), wait and hold on semaphore 0 (one unit
per open, O_NONBLOCK EAGAIN), a killed holder's unit back, a kill -9 of the
daemon while holding: the unit back by the kernel (SEM_UNDO), ipcrm -s
ending a parked wait and hold with EIDRM within a second, waiters and
holders, mode/owner/chmod/chown. What every blocking kind shares (SIGINT
and kill -9 of a waiter take nothing, poll, rmdir) is in test_waits.py.
Every key comes from the test process's range (t.keys).
"""

import contextlib
import errno
import os
import signal
import time

import sysv
from harness import Harness
from mount import rmdir_patiently
from procs import PIPE
from sysv import keyname

H = Harness("sysv_sem", allow_other=None)
KIND = "sysv/sem"
SEMVMX = 32767

# Opens FILE (hold) and says so, then waits for its stdin to end.
HOLDER = r'''
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print("held", flush=True)
sys.stdin.read()
'''

# Opens and reads FILE; prints "ok" or the errno's name.
WAITER = r'''
import errno, os, sys
try:
    fd = os.open(sys.argv[1], os.O_RDONLY)
    os.read(fd, 10)
    print("ok", flush=True)
except OSError as e:
    print(errno.errorcode[e.errno], flush=True)
'''


def mkset(t, value=None, mode=0o600):
    """mkdir a fresh key, then set its value natively if VALUE is given:
    (name, semid)."""
    key = t.keys.new()
    name = keyname(key)
    t.mkobj(KIND, name, mode)
    semid = sysv.semget(key)
    if value is not None:
        sysv.sem_setval(semid, 0, value)
    return name, semid


def native_set(t, values, mode=0o600):
    key = t.keys.new()
    semid = sysv.sem_create(key, len(values), mode, values)
    return keyname(key), semid


def path(t, name, *rest):
    return t.path(KIND, name, *rest)


def attr(t, name, file):
    return t.read_file(path(t, name, file))


def test_mkdir_files_and_rmdir(t):
    name, semid = mkset(t, mode=0o640)
    st = sysv.sem_stat(semid)
    t.eq((st["nsems"], st["mode"], sysv.sem_getval(semid)), (1, 0o640, 1),
         "IPC_STAT of the new set (nsems, mode) and its value")
    with t.within(5, "ls"):
        t.true(name in os.listdir(t.path(KIND, "")), "listed")
        t.eq(sorted(os.listdir(path(t, name))),
             ["hold", "holders", "id", "nsems", "post", "values", "wait",
              "waiters"], "files of a set")
        t.raises(errno.EEXIST, os.mkdir, path(t, name), 0o600,
                 what="second mkdir")
    t.eq(attr(t, name, "values"), b"1\n", "values")
    t.eq(attr(t, name, "nsems"), b"1\n", "nsems")
    t.eq(attr(t, name, "id"), b"%d\n" % semid, "id")
    t.rmobj(KIND, name)
    t.raises(errno.EINVAL, sysv.sem_stat, semid, what="IPC_STAT after rmdir")
    for bad in ("0x00000000", "id.1", "0x1CF00001", "key"):
        with t.within(5, "mkdir %s" % bad):
            t.raises(errno.EINVAL, os.mkdir, t.path(KIND, bad), 0o600,
                     what="mkdir %s" % bad)


def test_native_set_of_three(t):
    name, semid = native_set(t, [3, 0, SEMVMX])
    t.eq(attr(t, name, "values"), b"3 0 32767\n", "values")
    t.eq(attr(t, name, "nsems"), b"3\n", "nsems")
    rc, out, err = t.run(["cat", path(t, name, "wait")])
    t.eq((rc, out), (0, b""), "cat wait")
    t.eq(sysv.sem_getall(semid), [2, 0, SEMVMX], "wait took from "
         "semaphore 0 only")


def test_private_set_as_id(t):
    semid = sysv.semget(sysv.IPC_PRIVATE, 1, sysv.IPC_CREAT)
    t.keys.ids["sem"].append(semid)
    name = "id.%d" % semid
    with t.within(5, "ls"):
        t.true(name in os.listdir(t.path(KIND, "")), "listed as id.N")
    t.write_file(path(t, name, "post"), b"2\n")
    t.eq(sysv.sem_getval(semid), 2, "posted through id.N")


def test_post(t):
    name, semid = mkset(t, 0)
    post = path(t, name, "post")
    rc, out, err = t.sh('echo > "$1"', post)
    t.eq((rc, err), (0, b""), "echo > post")
    t.eq(sysv.sem_getval(semid), 1, "value after an empty line")
    t.eq(t.write_file(post, b"5\n"), 2, "write 5")
    t.eq(sysv.sem_getval(semid), 6, "value after 5")
    t.eq(t.write_file(post, b"0"), 1, "write 0")
    for text, eno in ((b"32762", errno.ERANGE), (b"40000", errno.ERANGE),
                      (b"9" * 30, errno.ERANGE), (b"abc", errno.EINVAL),
                      (b"-1", errno.EINVAL), (b"1 2", errno.EINVAL)):
        t.raises(eno, t.write_file, post, text, what="write %r" % text)
    t.eq(sysv.sem_getval(semid), 6, "nothing posted by the refused writes")
    t.eq(t.write_file(post, b"32761"), 5, "up to SEMVMX")
    t.eq(sysv.sem_getval(semid), SEMVMX, "value at SEMVMX")


def test_wait_one_unit_per_open_and_nonblock(t):
    name, semid = mkset(t, 2)
    wait = path(t, name, "wait")
    with t.within(5, "reads of one open wait"):
        fd = os.open(wait, os.O_RDONLY)
        try:
            t.eq(sysv.sem_getval(semid), 2, "opening wait takes nothing")
            t.eq(os.read(fd, 10), b"", "first read: EOF")
            t.eq(os.read(fd, 10), b"", "second read: EOF")
        finally:
            os.close(fd)
    t.eq(sysv.sem_getval(semid), 1, "one unit taken")
    rc, out, err = t.run(["cat", wait])
    t.eq((rc, out, err), (0, b"", b""), "cat wait")
    t.eq(sysv.sem_getval(semid), 0, "value after cat wait")
    with t.within(5, "O_NONBLOCK"):
        fd = os.open(wait, os.O_RDONLY | os.O_NONBLOCK)
        try:
            t.raises(errno.EAGAIN, os.read, fd, 10, what="read of wait")
        finally:
            os.close(fd)
        t.raises(errno.EAGAIN, os.open, path(t, name, "hold"),
                 os.O_RDONLY | os.O_NONBLOCK, what="open of hold")
    t.eq(sysv.sem_getval(semid), 0, "value")


def test_parked_wait_woken_by_native_post(t):
    name, semid = mkset(t, 0)
    p = t.py(WAITER, path(t, name, "wait"))
    t.wait_blocked(p, "read")
    t.eq(attr(t, name, "waiters"), b"%d wait\n" % p.pid, "waiters")
    sysv.semop(semid, [(0, 1, 0)])
    rc, out, err = t.finish(p, 2)
    t.eq((rc, out), (0, b"ok\n"), "the woken waiter")
    t.settle(lambda: sysv.sem_getval(semid), 0, "value after the wait")
    t.eq(attr(t, name, "waiters"), b"", "waiters once served")


def test_killed_holder_gives_back(t):
    name, semid = mkset(t, 1)
    p = t.sh('exec 9<"$1"; echo held; read x', path(t, name, "hold"),
             timeout=None)
    t.eq(t.read_until(p, b"held\n", 3), b"held\n", "the shell holds")
    t.eq(sysv.sem_getval(semid), 0, "value while held")
    t.eq(attr(t, name, "holders"), b"%d\n" % p.pid, "holders")
    t.kill(p)
    t.eq(t.wait_value(lambda: sysv.sem_getval(semid), 1, 2), 1,
         "value once the holder is killed (within 2 s)")
    t.eq(attr(t, name, "holders"), b"", "holders after")


def test_daemon_killed_while_holding(t):
    """SEM_UNDO: the kernel gives a unit back when the daemon that took it
    dies, kill -9 included; no journal."""
    name, semid = mkset(t, 3)
    m = t.extra_mount("held")
    h = t.py(HOLDER, m.path(KIND, name, "hold"), stdin=PIPE)
    t.eq(t.read_until(h, b"held\n", 5), b"held\n", "holder through the "
         "second tree")
    t.eq(sysv.sem_getval(semid), 2, "value while held")
    os.kill(m.daemon.pid, signal.SIGKILL)
    t.eq(t.wait_exit(m.daemon, 5), -signal.SIGKILL, "the daemon is dead")
    t.eq(t.wait_value(lambda: sysv.sem_getval(semid), 3, 1), 3,
         "value once the daemon died (the kernel's undo)")
    t.kill(h)
    discard_killed_tree(t, m)


def discard_killed_tree(t, m):
    """Unmount tree M, whose daemon was killed."""
    t.unmount_dir(m.mnt)
    if m in t.extra:
        t.extra.remove(m)
    rmdir_patiently(m.mnt)
    with contextlib.suppress(OSError):
        os.unlink(m.stderr_path)


def test_ipcrm_ends_parked_wait_and_hold(t):
    name, semid = mkset(t, 0)
    w = t.py(WAITER, path(t, name, "wait"))
    t.wait_blocked(w, "read")
    h = t.py(WAITER, path(t, name, "hold"))
    t.wait_blocked(h, "openat")
    t0 = time.monotonic()
    rc, out, err = t.run(["ipcrm", "-s", str(semid)])
    t.eq((rc, err), (0, b""), "ipcrm -s")
    got = [t.finish(p, 2)[:2] for p in (w, h)]
    el = time.monotonic() - t0
    t.eq(got, [(0, b"EIDRM\n"), (0, b"EIDRM\n")], "the parked wait and hold")
    t.true(el < 1, "ended within 1 s", "%.2fs" % el)
    with t.within(5, "ls"):
        t.true(name not in os.listdir(t.path(KIND, "")), "no longer listed")


def test_mount_option_sem_value(t):
    with t.extra_tree("five", sem_value=5) as m:
        key = t.keys.new()
        with t.within(5, "mkdir with sem_value=5"):
            os.mkdir(m.path(KIND, keyname(key)), 0o600)
        t.eq(sysv.sem_getval(sysv.semget(key)), 5, "native value")
    with t.extra_tree("big", sem_value=SEMVMX + 1) as m:
        key = t.keys.new()
        with t.within(5, "mkdir with sem_value=32768"):
            t.raises(errno.ERANGE, os.mkdir, m.path(KIND, keyname(key)),
                     0o600, what="mkdir past SEMVMX")
        t.true(key not in sysv.listed("sem"), "no set left behind")
        with t.within(5, "mkdir in sem/ with sem_value=32768"):
            os.mkdir(m.path("sem", "big"), 0o600)
            os.rmdir(m.path("sem", "big"))


def test_mode_owner_chmod_chown(t):
    name, semid = mkset(t, 1, 0o600)
    with t.within(5, "chmod, chown"):
        os.chmod(path(t, name), 0o660)
        os.chown(path(t, name), 65534, 65534)
    st = sysv.sem_stat(semid)
    t.eq((st["mode"], st["uid"], st["gid"], st["cuid"]),
         (0o660, 65534, 65534, 0), "IPC_STAT after chmod and chown")
    # Another user: no alter permission, so neither wait nor post.
    rc, out, err = t.run(["setpriv", "--reuid=1234", "--regid=1234",
                          "--clear-groups", "sh", "-c",
                          'cat "$1" 2>/dev/null || echo no-wait; '
                          '(echo > "$2") 2>/dev/null || echo no-post',
                          "sh", path(t, name, "wait"), path(t, name, "post")])
    t.eq((rc, out), (0, b"no-wait\nno-post\n"), "a stranger")
    t.eq(sysv.sem_getval(semid), 1, "value untouched")


def test_mkdir_by_user_is_theirs(t):
    key = t.keys.new()
    rc, out, err = t.run(["setpriv", "--reuid=1234", "--regid=4321",
                          "--clear-groups", "mkdir", "-m", "400",
                          t.path(KIND, keyname(key))])
    t.eq((rc, err), (0, b""), "mkdir -m 400 as uid 1234")
    semid = sysv.semget(key)
    st = sysv.sem_stat(semid)
    t.eq((st["uid"], st["gid"], st["cuid"], st["mode"]),
         (1234, 4321, 1234, 0o400), "IPC_STAT: the caller's, mode 0400")
    t.eq(sysv.sem_getval(semid), 1, "its value set all the same")

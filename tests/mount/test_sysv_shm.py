# SPDX-License-Identifier: GPL-2.0-or-later
"""sysv/shm/: System V shared memory segments through a mounted tree, with
the native API on the other side (sysv.py: shmget, shmat, IPC_STAT).

data coherent with a native shmat() both ways; its fixed size (end-of-file
at the end, ENOSPC for a write that does not fit, O_TRUNC and truncate(2)
change nothing); size, nattch (one attachment per open file of data),
cpid, lpid, id; mkdir with -o sysv_shm_size; a private segment as id.N;
mode, owner, chmod and chown as IPC_STAT says; bad names EINVAL.
Every key comes from the test process's range (t.keys), removed however
the test ends.
"""

import errno
import os

import sysv
from harness import Harness
from sysv import keyname

# allow_other: other users reach the tree, as the kernel lets them reach
# the segments (mode, owner).
H = Harness("sysv_shm", allow_other=None)
KIND = "sysv/shm"


def mkseg(t, mode=0o600):
    """mkdir a fresh key: (name, key, shmid)."""
    key = t.keys.new()
    name = keyname(key)
    t.mkobj(KIND, name, mode)
    return name, key, sysv.shmget(key)


def attr(t, name, file):
    return t.read_file(t.path(KIND, name, file))


def test_mkdir_lists_and_rmdir(t):
    name, key, shmid = mkseg(t, 0o640)
    st = sysv.shm_stat(shmid)
    t.eq((st["size"], st["mode"], st["uid"], st["nattch"]),
         (65536, 0o640, 0, 0), "IPC_STAT of the new segment (size, mode, "
         "uid, nattch)")
    with t.within(5, "ls"):
        t.true(name in os.listdir(t.path(KIND, "")), "listed")
        t.eq(sorted(os.listdir(t.path(KIND, name))),
             ["cpid", "data", "id", "lpid", "nattch", "size", "waiters"],
             "files of a segment")
        t.eq(os.stat(t.path(KIND, name, "data")).st_size, 65536,
             "st_size of data")
        t.raises(errno.EEXIST, os.mkdir, t.path(KIND, name), 0o600,
                 what="second mkdir")
    t.eq(attr(t, name, "size"), b"65536\n", "size")
    t.eq(attr(t, name, "id"), b"%d\n" % shmid, "id")
    t.eq(attr(t, name, "cpid"), b"%d\n" % st["cpid"], "cpid")
    t.rmobj(KIND, name)
    t.raises(errno.ENOENT, sysv.shmget, key, what="native shmget after "
             "rmdir")
    with t.within(5, "ls after rmdir"):
        t.true(name not in os.listdir(t.path(KIND, "")), "not listed")
        t.raises(errno.ENOENT, os.rmdir, t.path(KIND, name),
                 what="second rmdir")


def test_native_segment_listed_and_coherent(t):
    key = t.keys.new()
    shmid = sysv.shm_create(key, 4096)
    name = keyname(key)
    data = t.path(KIND, name, "data")
    with sysv.Attached(shmid) as a:
        a.write(100, b"native bytes")
        fd = t.open(data, os.O_RDWR)
        with t.within(5, "pread/pwrite of data"):
            t.eq(os.pread(fd, 12, 100), b"native bytes", "pread sees a "
                 "native write")
            t.eq(os.pwrite(fd, b"tree", 4000), 4, "pwrite")
        t.eq(a.read(4000, 4), b"tree", "native attachment sees pwrite")
        t.eq(sysv.shm_stat(shmid)["nattch"], 2, "nattch: ours and the "
             "tree's open file")
        t.eq(attr(t, name, "nattch"), b"2\n", "nattch file")
        t.eq(attr(t, name, "lpid"), b"%d\n" % t.daemon.pid, "lpid: the "
             "daemon's shmat")
        t.close(fd)
        # RELEASE comes a moment after close(2) returns.
        t.eq(t.wait_value(lambda: sysv.shm_stat(shmid)["nattch"], 1, 2), 1,
             "nattch after close (within 2 s)")
    t.eq(attr(t, name, "nattch"), b"0\n", "nattch after shmdt")


def test_fixed_size(t):
    key = t.keys.new()
    shmid = sysv.shm_create(key, 4096)
    name = keyname(key)
    data = t.path(KIND, name, "data")
    fd = t.open(data, os.O_RDWR)
    with t.within(5, "the end of data"):
        os.pwrite(fd, b"xyz", 4093)
        t.eq(os.pread(fd, 100, 4093), b"xyz", "a read across the end")
        t.eq(os.pread(fd, 100, 4096), b"", "a read at the end: EOF")
        t.eq(os.pread(fd, 100, 10000), b"", "a read past the end: EOF")
        t.raises(errno.ENOSPC, os.pwrite, fd, b"abcd", 4093,
                 what="a write across the end")
        t.raises(errno.ENOSPC, os.pwrite, fd, b"a", 4096,
                 what="a write at the end")
        t.eq(os.pread(fd, 3, 4093), b"xyz", "nothing written")
        os.truncate(data, 10)
    t.close(fd)
    t.eq(os.stat(data).st_size, 4096, "truncate(2) changes nothing")
    rc, out, err = t.sh('echo hi > "$1"', data)
    t.eq((rc, err), (0, b""), "echo hi > data (O_TRUNC)")
    with sysv.Attached(shmid) as a:
        t.eq(a.read(0, 3), b"hi\n", "what echo wrote")
        t.eq(a.read(4093, 3), b"xyz", "O_TRUNC kept the rest")
    t.eq(sysv.shm_stat(shmid)["size"], 4096, "size unchanged")
    rc, out, err = t.run(["head", "-c", "4", data])
    t.eq((rc, out), (0, b"hi\n\0"), "head -c 4 data")
    rc, out, err = t.run(["wc", "-c", data])
    t.eq(out.split()[0], b"4096", "wc -c data (read to EOF)")


def test_mount_option_size(t):
    with t.extra_tree("shmsize", sysv_shm_size=100) as m:
        key = t.keys.new()
        name = keyname(key)
        with t.within(5, "mkdir in the second tree"):
            os.mkdir(m.path(KIND, name), 0o600)
        t.eq(sysv.shm_stat(sysv.shmget(key))["size"], 100,
             "native size with -o sysv_shm_size=100")
        t.eq(t.read_file(m.path(KIND, name, "size")), b"100\n", "size")
        with t.within(5, "rmdir in the second tree"):
            os.rmdir(m.path(KIND, name))
    for bad in ("0", "-1", "abc"):
        rc, out, err, _ = t.start_refused("sysv_shm_size=%s" % bad,
                                          timeout=5)
        t.true(rc not in (0, None), "-o sysv_shm_size=%s refused" % bad,
               "status %s" % rc)
        t.true("sysv_shm_size" in err, "the message names the option",
               repr(err))


def test_private_segment_as_id(t):
    shmid = sysv.shmget(sysv.IPC_PRIVATE, 512, sysv.IPC_CREAT)
    t.keys.ids["shm"].append(shmid)
    name = "id.%d" % shmid
    with t.within(5, "ls"):
        t.true(name in os.listdir(t.path(KIND, "")), "listed as id.N")
    t.eq(attr(t, name, "size"), b"512\n", "size")
    t.write_file(t.path(KIND, name, "data"), b"private")
    with sysv.Attached(shmid) as a:
        t.eq(a.read(0, 7), b"private", "native sees the write")
    with t.within(5, "mkdir id.N"):
        t.raises(errno.EINVAL, os.mkdir, t.path(KIND, "id.99999"), 0o600,
                 what="mkdir id.N")
    t.rmobj(KIND, name)
    t.raises(errno.EINVAL, sysv.shm_stat, shmid, what="IPC_STAT after "
             "rmdir id.N")


def test_bad_names(t):
    for bad in ("0x00000000", "0X1cf00001", "0x1CF00001", "1cf00001",
                "0x1cf0001", "0x01cf00001", "id.01", "foo"):
        with t.within(5, "mkdir %s" % bad):
            t.raises(errno.EINVAL, os.mkdir, t.path(KIND, bad), 0o600,
                     what="mkdir %s" % bad)


def test_mode_owner_chmod_chown(t):
    name, key, shmid = mkseg(t, 0o600)
    with t.within(5, "chmod, chown"):
        os.chmod(t.path(KIND, name), 0o644)
        t.eq(sysv.shm_stat(shmid)["mode"], 0o644, "IPC_STAT mode after "
             "chmod")
        os.chown(t.path(KIND, name), 65534, 65534)
        st = os.stat(t.path(KIND, name))
    ipc = sysv.shm_stat(shmid)
    t.eq((ipc["uid"], ipc["gid"], ipc["cuid"]), (65534, 65534, 0),
         "IPC_STAT owner after chown (creator unchanged)")
    t.eq((st.st_uid, st.st_gid, st.st_mode & 0o777), (65534, 65534, 0o755),
         "the directory's owner and mode (x where r)")
    # A user the mode lets read but not write.
    rc, out, err = t.run(["setpriv", "--reuid=1234", "--regid=1234",
                          "--clear-groups", "sh", "-c",
                          'head -c 1 "$1" >/dev/null && echo read; '
                          'echo x 2>/dev/null > "$1" || echo denied',
                          "sh", t.path(KIND, name, "data")])
    t.eq((rc, out), (0, b"read\ndenied\n"), "other user: read yes, write no")


def test_mkdir_by_user_is_theirs(t):
    key = t.keys.new()
    name = keyname(key)
    rc, out, err = t.run(["setpriv", "--reuid=1234", "--regid=4321",
                          "--clear-groups", "mkdir", "-m", "640",
                          t.path(KIND, name)])
    t.eq((rc, err), (0, b""), "mkdir as uid 1234")
    st = sysv.shm_stat(sysv.shmget(key))
    t.eq((st["uid"], st["gid"], st["cuid"], st["mode"]),
         (1234, 4321, 1234, 0o640), "IPC_STAT: made by the caller")

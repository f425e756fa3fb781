# SPDX-License-Identifier: GPL-2.0-or-later
"""shm/: POSIX shared memory segments through a mounted tree.

mkdir/rmdir seen natively, modes, `data` by offset (echo, pwrite past the
end, O_APPEND, truncate), the `size` attribute, coherence with a native
mmap both ways, segments made by Python's multiprocessing.shared_memory
listed, semaphores (sem.* in /dev/shm) not listed, names too long refused.

The harness cleans up queues; segments and semaphores under this file's
prefix are removed here (ShmHarness), after each test and at the end.
"""

import contextlib
import ctypes
import errno
import mmap
import os
import select
import stat
import subprocess
import tempfile
import time

from ipcfs_harness import Harness, Fail, SANITIZER_MARKERS, _mounted_fstype

SHM_DIR = "/dev/shm"

# multiprocessing.shared_memory in a process of its own: its resource
# tracker belongs to that process, and it unlinks the segment when told.
SHARED_MEMORY = r'''
import sys
from multiprocessing import shared_memory
s = shared_memory.SharedMemory(name=sys.argv[1], create=True,
                               size=int(sys.argv[2]))
s.buf[:5] = b"hello"
print("ready", flush=True)
sys.stdin.readline()
s.close()
s.unlink()
print("gone", flush=True)
'''


def _load_sem():
    lib = ctypes.CDLL("libc.so.6", use_errno=True)
    lib.sem_open.restype = ctypes.c_void_p
    lib.sem_close.argtypes = [ctypes.c_void_p]
    lib.sem_unlink.argtypes = [ctypes.c_char_p]
    return lib


_sem = _load_sem()


def sem_create(name, value=1):
    """Make named semaphore NAME ("/...") natively; glibc puts it in
    /dev/shm as sem.NAME."""
    s = _sem.sem_open(os.fsencode(name), os.O_CREAT | os.O_EXCL,
                      ctypes.c_uint(0o600), ctypes.c_uint(value))
    if not s:
        e = ctypes.get_errno()
        raise OSError(e, "sem_open %s: %s" % (name, os.strerror(e)))
    _sem.sem_close(s)


def sem_unlink(name):
    _sem.sem_unlink(os.fsencode(name))


class ShmHarness(Harness):
    def __init__(self, name, **opts):
        super().__init__(name, **opts)
        self.segs = set()       # names the current test made under shm/
        self.maps = []          # native mappings and files to close

    def spath(self, name, *rest):
        return os.path.join(self.mnt, "shm", name, *rest)

    def devshm(self, name):
        return os.path.join(SHM_DIR, self.prefix + name)

    def mkshm(self, name, mode=0o600):
        """mkdir shm/NAME (tracked: the test's teardown removes it)."""
        with self.within(5, "mkdir shm/%s" % name):
            os.mkdir(self.spath(name), mode)
        self.segs.add(name)
        return self.spath(name)

    def rmshm(self, name):
        with self.within(5, "rmdir shm/%s" % name):
            os.rmdir(self.spath(name))
        self.segs.discard(name)

    def native_map(self, name, size):
        """A native MAP_SHARED mapping of segment NAME (closed by teardown)."""
        fd = os.open(self.devshm(name), os.O_RDWR)
        try:
            m = mmap.mmap(fd, size, mmap.MAP_SHARED,
                          mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        self.maps.append(m)
        return m

    def native_bytes(self, name):
        with open(self.devshm(name), "rb") as f:
            return f.read()

    def native_size(self, name):
        return os.stat(self.devshm(name)).st_size

    def sh(self, script, *args, timeout=5):
        """sh -c SCRIPT with $1... = ARGS: (rc, stdout, stderr)."""
        return self.run(["sh", "-c", script, "sh"] + list(args),
                        timeout=timeout)

    def shm_attr(self, name, attr):
        return self.read_file(self.spath(name, attr)).decode()

    def _teardown(self):
        errs = super()._teardown()
        for m in self.maps:
            with contextlib.suppress(Exception):
                m.close()
        self.maps = []
        for s in sorted(self.segs):
            try:
                self.rmshm(s)
            except FileNotFoundError:
                pass
            except (OSError, Fail) as e:
                errs.append("rmdir shm/%s: %s" % (s, e))
            with contextlib.suppress(OSError):
                os.unlink(self.devshm(s))
            self.segs.discard(s)
        return errs

    def unlink_prefix(self):
        """Queues, then every segment and semaphore under the prefix."""
        left = super().unlink_prefix()
        try:
            names = os.listdir(SHM_DIR)
        except OSError:
            names = []
        for n in names:
            if n.startswith(self.prefix) or n.startswith("sem." + self.prefix):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(SHM_DIR, n))
                left.append(n)
        return left


H = ShmHarness("shm")


@contextlib.contextmanager
def second_mount(t, opts):
    """Another tree, `$IPCFS -f -o OPTS` on a fresh directory: its path."""
    d = os.path.realpath(tempfile.mkdtemp(prefix="ipcfs-shm2-"))
    log = tempfile.TemporaryFile()
    p = t.spawn([t.ipcfs, "-f", "-o", opts, d], stdout=log, stderr=log)
    try:
        end = time.monotonic() + 10
        while _mounted_fstype(d) is None:
            if p.poll() is not None:
                raise Fail("second daemon exited with %s" % p.returncode)
            if time.monotonic() > end:
                raise Fail("second tree not mounted after 10 s")
            time.sleep(0.02)
        yield d
    finally:
        if _mounted_fstype(d) is not None:
            rc, msg = t._quiet_run(["fusermount3", "-u", d], 10)
            if rc != 0:
                t._quiet_run(["umount", "-l", d], 10)
        t.wait_exit(p, 5)
        t.kill(p)
        log.seek(0)
        text = log.read().decode(errors="replace")
        log.close()
        with contextlib.suppress(OSError):
            os.rmdir(d)
        bad = [m for m in SANITIZER_MARKERS if m in text]
        if bad:
            raise Fail("second daemon: %s" % text[:600])


@H.test
def kind_dir_listed(t):
    with t.within(5, "ls MNT"):
        t.true("shm" in os.listdir(t.mnt), "shm in the root")
        t.true(stat.S_ISDIR(os.stat(os.path.join(t.mnt, "shm")).st_mode),
               "shm is a directory")


@H.test
def mkdir_rmdir_seen_natively(t):
    d = t.mkshm("a")
    st = os.lstat(t.devshm("a"))
    t.true(stat.S_ISREG(st.st_mode), "/dev/shm entry is a regular file")
    t.eq(st.st_size, 0, "size of the new segment")
    with t.within(5, "ls shm"):
        t.true("a" in os.listdir(t.spath("")), "a listed in shm/")
        t.eq(sorted(os.listdir(d)), ["data", "size"], "files in shm/a")
    t.eq(t.shm_attr("a", "size"), "0\n", "size")
    with t.within(5, "stat"):
        t.eq(os.stat(t.spath("a", "data")).st_size, 0, "st_size of data")
    t.rmshm("a")
    t.true(not os.path.exists(t.devshm("a")), "native segment gone")
    with t.within(5, "stat"):
        t.raises(errno.ENOENT, os.stat, d, what="stat after rmdir")
        t.true("a" not in os.listdir(t.spath("")), "a no longer listed")
    with t.within(5, "rmdir"):
        t.raises(errno.ENOENT, os.rmdir, d, what="second rmdir")


@H.test
def mkdir_existing_is_EEXIST(t):
    t.mkshm("dup")
    with open(t.devshm("dup"), "r+b") as f:
        f.write(b"keep")
    with t.within(5, "mkdir"):
        t.raises(errno.EEXIST, os.mkdir, t.spath("dup"), 0o600,
                 what="second mkdir")
    t.eq(t.native_bytes("dup"), b"keep", "segment kept after the refused mkdir")


@H.test
def mkdir_mode_honoured_natively(t):
    os.umask(0)
    t.mkshm("m640", 0o640)
    st = os.lstat(t.devshm("m640"))
    t.eq(oct(stat.S_IMODE(st.st_mode)), oct(0o640), "native mode")
    t.eq((st.st_uid, st.st_gid), (os.getuid(), os.getgid()), "native owner")
    old = os.umask(0o027)
    try:
        t.mkshm("um", 0o777)
    finally:
        os.umask(old)
    t.eq(oct(stat.S_IMODE(os.lstat(t.devshm("um")).st_mode)), oct(0o750),
         "native mode of mkdir 0777 under umask 027")


@H.test
def chmod_chown_reach_segment(t):
    t.mkshm("cm", 0o600)
    with t.within(5, "chmod"):
        os.chmod(t.spath("cm"), 0o620)
    t.eq(oct(stat.S_IMODE(os.lstat(t.devshm("cm")).st_mode)), oct(0o620),
         "native mode after chmod")
    with t.within(5, "stat"):
        t.eq(oct(stat.S_IMODE(os.stat(t.spath("cm")).st_mode) & 0o7666),
             oct(0o620), "r/w bits of the mode shown after chmod")
    if os.geteuid() == 0:
        with t.within(5, "chown"):
            os.chown(t.spath("cm"), 1234, 2345)
        st = os.lstat(t.devshm("cm"))
        t.eq((st.st_uid, st.st_gid), (1234, 2345), "native owner after chown")


@H.test
def echo_into_data(t):
    t.mkshm("e")
    data = t.spath("e", "data")
    rc, out, err = t.sh('echo hi > "$1"', data)
    t.eq((rc, err), (0, b""), "echo hi > data")
    t.eq(t.native_bytes("e"), b"hi\n", "native bytes")
    t.eq(t.native_size("e"), 3, "native size")
    with t.within(5, "stat"):
        t.eq(os.stat(data).st_size, 3, "st_size of data")
    t.eq(t.read_file(data), b"hi\n", "read back through data")
    t.eq(t.shm_attr("e", "size"), "3\n", "size")
    # O_TRUNC: a shorter second echo leaves only itself.
    rc, out, err = t.sh('echo x > "$1"', data)
    t.eq(rc, 0, "echo x > data")
    t.eq(t.native_bytes("e"), b"x\n", "native bytes after the second echo")
    # O_APPEND goes to the segment's end.
    rc, out, err = t.sh('echo more >> "$1"', data)
    t.eq((rc, err), (0, b""), "echo more >> data")
    t.eq(t.native_bytes("e"), b"x\nmore\n", "native bytes after >>")
    rc, out, err = t.sh('cat "$1"', data)
    t.eq((rc, out), (0, b"x\nmore\n"), "cat data")


@H.test
def pwrite_past_end_grows(t):
    t.mkshm("g")
    data = t.spath("g", "data")
    with t.within(5, "pwrite"):
        fd = os.open(data, os.O_RDWR)
        try:
            t.eq(os.pwrite(fd, b"tail!", 4096), 5, "pwrite at 4096")
            t.eq(os.fstat(fd).st_size, 4096 + 5, "fstat st_size")
            t.eq(os.pread(fd, 8192, 4090), b"\0" * 6 + b"tail!",
                 "pread across the hole and the end")
            t.eq(os.pread(fd, 100, 4096 + 5), b"", "pread at the end")
        finally:
            os.close(fd)
    with t.within(5, "stat"):
        t.eq(os.stat(data).st_size, 4096 + 5, "stat st_size")
    t.eq(t.native_size("g"), 4096 + 5, "native size")
    t.eq(t.native_bytes("g")[4096:], b"tail!", "native bytes at 4096")


@H.test
def big_write_is_one_piece(t):
    t.mkshm("big")
    blob = bytes((i * 7 + i // 4096) & 0xff for i in range(1 << 20))
    with t.within(10, "write 1 MiB"):
        fd = os.open(t.spath("big", "data"), os.O_WRONLY)
        try:
            t.eq(os.write(fd, blob), len(blob), "write(2) of 1 MiB")
        finally:
            os.close(fd)
    t.eq(t.native_bytes("big") == blob, True, "native bytes equal")


@H.test
def truncate_resizes(t):
    t.mkshm("tr")
    data = t.spath("tr", "data")
    rc, out, err = t.sh('echo hello > "$1" && truncate -s 100 "$1"', data)
    t.eq((rc, err), (0, b""), "truncate -s 100 data")
    t.eq(t.shm_attr("tr", "size"), "100\n", "size")
    t.eq(t.native_size("tr"), 100, "native size")
    t.eq(t.native_bytes("tr"), b"hello\n" + b"\0" * 94, "native bytes")
    with t.within(5, "truncate"):
        os.truncate(data, 2)
        t.eq(os.stat(data).st_size, 2, "st_size after truncate(2)")
    t.eq(t.native_bytes("tr"), b"he", "native bytes after shrinking")


@H.test
def size_attr_resizes(t):
    t.mkshm("sz")
    size = t.spath("sz", "size")
    rc, out, err = t.sh('echo 8192 > "$1"', size)
    t.eq((rc, err), (0, b""), "echo 8192 > size")
    t.eq(t.native_size("sz"), 8192, "native size")
    t.eq(t.shm_attr("sz", "size"), "8192\n", "size")
    with t.within(5, "stat"):
        t.eq(os.stat(t.spath("sz", "data")).st_size, 8192, "st_size of data")
    # The segment changes size natively: data and size follow at once.
    os.truncate(t.devshm("sz"), 5000)
    t.eq(t.shm_attr("sz", "size"), "5000\n", "size after a native ftruncate")
    with t.within(5, "stat"):
        t.eq(os.stat(t.spath("sz", "data")).st_size, 5000,
             "st_size of data after a native ftruncate")


@H.test
def size_attr_refuses_garbage(t):
    t.mkshm("bad")
    size = t.spath("bad", "size")
    rc, out, err = t.sh('echo 4096 > "$1"', size)
    t.eq(rc, 0, "echo 4096 > size")
    for junk in (b"abc\n", b"abc", b"-1\n", b"\n", b"12x\n", b"1.5\n"):
        with t.within(5, "write %r" % junk):
            fd = os.open(size, os.O_WRONLY | os.O_TRUNC)
            try:
                t.raises(errno.EINVAL, os.write, fd, junk,
                         what="write %r to size" % junk)
            finally:
                os.close(fd)
        t.eq(t.native_size("bad"), 4096, "native size after %r" % junk)
    rc, out, err = t.sh('echo abc > "$1"', size)
    t.true(rc != 0, "echo abc > size fails", "exit %s" % rc)
    t.eq(t.shm_attr("bad", "size"), "4096\n", "size unchanged")


@H.test
def coherent_with_native_mmap(t):
    t.mkshm("mm")
    data = t.spath("mm", "data")
    rc, out, err = t.sh('echo 8192 > "$1"', t.spath("mm", "size"))
    t.eq(rc, 0, "echo 8192 > size")
    m = t.native_map("mm", 8192)
    with t.within(5, "pwrite"):
        fd = os.open(data, os.O_RDWR)
        try:
            os.pwrite(fd, b"through the tree", 5000)
            t.eq(m[5000:5016], b"through the tree",
                 "bytes written through data, seen in the mapping")
            m[100:112] = b"from the map"
            t.eq(os.pread(fd, 12, 100), b"from the map",
                 "bytes stored in the mapping, read through data")
            # And again, so no cache of ours serves the old bytes.
            m[100:112] = b"second store"
            t.eq(os.pread(fd, 12, 100), b"second store",
                 "a second store, read through data")
        finally:
            os.close(fd)


@H.test
def shared_memory_module_listed(t):
    name = t.prefix + "pyshm"
    p = t.py(SHARED_MEMORY, name, "12345", stdin=subprocess.PIPE)
    got = t.read_until(p, b"ready", 10)
    t.true(b"ready" in got, "SharedMemory(create=True) made the segment",
           repr(got))
    with t.within(5, "ls shm"):
        t.true("pyshm" in os.listdir(t.spath("")), "pyshm listed in shm/")
    size = int(t.shm_attr("pyshm", "size"))
    # Python rounds nothing up on Linux, but a page-rounding one would do.
    t.true(size >= 12345, "size of the segment", "size %d" % size)
    t.eq(t.read_file(t.spath("pyshm", "data"), 5), b"hello",
         "bytes the SharedMemory stored, read through data")
    p.stdin.write(b"\n")
    p.stdin.flush()
    got = t.read_until(p, b"gone", 10)
    t.true(b"gone" in got, "SharedMemory.unlink()", repr(got))
    t.finish(p, 5)
    with t.within(5, "ls shm"):
        t.true("pyshm" not in os.listdir(t.spath("")),
               "pyshm no longer listed after unlink()")


@H.test
def semaphores_not_listed(t):
    # sem_open("/PFXs") is /dev/shm/sem.PFXs: outside our prefix, so a
    # tree without a prefix is what could show it by mistake.
    seg, sem = t.prefix + "seg", t.prefix + "s"
    sem_create("/" + sem)
    try:
        t.true(os.path.exists(os.path.join(SHM_DIR, "sem." + sem)),
               "glibc put the semaphore in /dev/shm")
        with open(os.path.join(SHM_DIR, seg), "xb") as f:
            f.write(b"x")
        with second_mount(t, "prefix=") as d:
            with t.within(5, "ls shm of a tree without prefix"):
                names = os.listdir(os.path.join(d, "shm"))
            t.true(seg in names, "a segment is listed", repr(names[:20]))
            t.true(not any(n.startswith("sem.") for n in names),
                   "no sem.* entry listed",
                   repr([n for n in names if n.startswith("sem.")]))
            with t.within(5, "stat"):
                t.raises(errno.ENOENT, os.stat,
                         os.path.join(d, "shm", "sem." + sem),
                         what="stat shm/sem.NAME")
                t.raises(errno.EINVAL, os.mkdir,
                         os.path.join(d, "shm", "sem." + t.prefix + "z"),
                         0o600, what="mkdir shm/sem.NAME")
        t.true(not os.path.exists(os.path.join(SHM_DIR, "sem." + t.prefix +
                                               "z")),
               "mkdir shm/sem.NAME made nothing")
        t.true(os.path.exists(os.path.join(SHM_DIR, "sem." + sem)),
               "the semaphore is untouched")
    finally:
        sem_unlink("/" + sem)
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(SHM_DIR, seg))
    with t.within(5, "ls shm"):
        names = os.listdir(t.spath(""))
    t.true(not any("sem." in n for n in names), "nothing of sem.* in shm/",
           repr(names))


@H.test
def name_too_long_is_ENAMETOOLONG(t):
    room = 255 - len(t.prefix)
    with t.within(5, "mkdir"):
        t.raises(errno.ENAMETOOLONG, os.mkdir, t.spath("n" * (room + 1)),
                 0o600, what="mkdir of a %d-char name" % (room + 1))
    t.true(not any(n.startswith(t.prefix + "nnn")
                   for n in os.listdir(SHM_DIR)), "nothing created")
    t.mkshm("m" * room)
    t.true(os.path.exists(t.devshm("m" * room)),
           "a %d-char name (255 with the prefix) works" % room)


@H.test
def poll_says_ready(t):
    t.mkshm("p")
    with t.within(5, "poll"):
        fd = os.open(t.spath("p", "data"), os.O_RDWR)
        try:
            po = select.poll()
            po.register(fd, select.POLLIN | select.POLLOUT)
            ev = dict(po.poll(1000)).get(fd, 0)
        finally:
            os.close(fd)
    t.true(ev & select.POLLIN and ev & select.POLLOUT,
           "data is readable and writable", "revents %#x" % ev)


if __name__ == "__main__":
    H.main()

# SPDX-License-Identifier: GPL-2.0-or-later
"""shm/: POSIX shared memory segments through a mounted tree.

mkdir/rmdir seen natively, modes, `data` by offset (echo, pwrite past the
end, O_APPEND, truncate), the `size` attribute, coherence with a native
mmap both ways, segments made by Python's multiprocessing.shared_memory
listed, semaphores (sem.* in /dev/shm) not listed, names too long refused.
"""

import contextlib
import errno
import mmap
import os
import select
import stat
import subprocess

from harness import Harness
from native import SHM_DIR, sem_create, sem_unlink

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


class ShmHarness(Harness):
    """The shared harness, plus what segments need: their paths in shm/
    and in /dev/shm, and native mappings, closed after each test."""

    def __init__(self, name, **opts):
        super().__init__(name, **opts)
        self.maps = []          # native mappings to close

    def spath(self, name, *rest):
        return self.path("shm", name, *rest)

    def devshm(self, name):
        return self.shm_file("shm", name)

    def mkshm(self, name, mode=0o600):
        return self.mkobj("shm", name, mode)

    def rmshm(self, name):
        self.rmobj("shm", name)

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

    def shm_attr(self, name, attr):
        return self.read_file(self.spath(name, attr)).decode()

    def _teardown(self):
        for m in self.maps:
            with contextlib.suppress(Exception):
                m.close()
        self.maps = []
        return super()._teardown()


H = ShmHarness("shm")


def test_mkdir_rmdir_seen_natively(t):
    d = t.mkshm("a")
    st = os.lstat(t.devshm("a"))
    t.true(stat.S_ISREG(st.st_mode), "/dev/shm entry is a regular file")
    t.eq(st.st_size, 0, "size of the new segment")
    with t.within(5, "ls shm"):
        t.true("a" in os.listdir(t.spath("")), "a listed in shm/")
        t.eq(sorted(os.listdir(d)), ["data", "size", "waiters"], "files in shm/a")
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


def test_mkdir_existing_is_EEXIST(t):
    t.mkshm("dup")
    with open(t.devshm("dup"), "r+b") as f:
        f.write(b"keep")
    with t.within(5, "mkdir"):
        t.raises(errno.EEXIST, os.mkdir, t.spath("dup"), 0o600,
                 what="second mkdir")
    t.eq(t.native_bytes("dup"), b"keep", "segment kept after the refused mkdir")


def test_chmod_chown_reach_segment(t):
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


def test_echo_into_data(t):
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


def test_pwrite_past_end_grows(t):
    t.mkshm("g")
    data = t.spath("g", "data")
    with t.opened(data, os.O_RDWR, what="pwrite") as fd:
        t.eq(os.pwrite(fd, b"tail!", 4096), 5, "pwrite at 4096")
        t.eq(os.fstat(fd).st_size, 4096 + 5, "fstat st_size")
        t.eq(os.pread(fd, 8192, 4090), b"\0" * 6 + b"tail!",
             "pread across the hole and the end")
        t.eq(os.pread(fd, 100, 4096 + 5), b"", "pread at the end")
    with t.within(5, "stat"):
        t.eq(os.stat(data).st_size, 4096 + 5, "stat st_size")
    t.eq(t.native_size("g"), 4096 + 5, "native size")
    t.eq(t.native_bytes("g")[4096:], b"tail!", "native bytes at 4096")


def test_big_write_is_one_piece(t):
    t.mkshm("big")
    blob = bytes((i * 7 + i // 4096) & 0xff for i in range(1 << 20))
    t.eq(t.write_file(t.spath("big", "data"), blob, timeout=10), len(blob),
         "write(2) of 1 MiB")
    t.eq(t.native_bytes("big") == blob, True, "native bytes equal")


def test_truncate_resizes(t):
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


def test_size_attr_resizes(t):
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


def test_size_attr_refuses_garbage(t):
    t.mkshm("bad")
    size = t.spath("bad", "size")
    rc, out, err = t.sh('echo 4096 > "$1"', size)
    t.eq(rc, 0, "echo 4096 > size")
    for junk in (b"abc\n", b"abc", b"-1\n", b"\n", b"12x\n", b"1.5\n"):
        with t.opened(size, os.O_WRONLY | os.O_TRUNC,
                      what="write %r" % junk) as fd:
            t.raises(errno.EINVAL, os.write, fd, junk,
                     what="write %r to size" % junk)
        t.eq(t.native_size("bad"), 4096, "native size after %r" % junk)
    rc, out, err = t.sh('echo abc > "$1"', size)
    t.true(rc != 0, "echo abc > size fails", "exit %s" % rc)
    t.eq(t.shm_attr("bad", "size"), "4096\n", "size unchanged")


def test_size_attr_huge_number_is_EINVAL(t):
    """A number too large for a long is EINVAL, as the README says (and as
    every attribute answers), not ERANGE; the size stays."""
    t.mkshm("huge")
    size = t.spath("huge", "size")
    rc, out, err = t.sh('echo 4096 > "$1"', size)
    t.eq(rc, 0, "echo 4096 > size")
    for junk in (b"99999999999999999999\n", b"99999999999999999999",
                 b"-99999999999999999999\n", b"9223372036854775808\n"):
        with t.opened(size, os.O_WRONLY | os.O_TRUNC,
                      what="write %r" % junk) as fd:
            t.raises(errno.EINVAL, os.write, fd, junk,
                     what="write %r to size" % junk)
        t.eq(t.native_size("huge"), 4096, "native size after %r" % junk)
    rc, out, err = t.sh('echo 99999999999999999999 > "$1"', size)
    t.true(rc != 0, "echo 99999999999999999999 > size fails",
           "exit %s" % rc)
    t.eq(t.shm_attr("huge", "size"), "4096\n", "size unchanged")


def test_coherent_with_native_mmap(t):
    t.mkshm("mm")
    data = t.spath("mm", "data")
    rc, out, err = t.sh('echo 8192 > "$1"', t.spath("mm", "size"))
    t.eq(rc, 0, "echo 8192 > size")
    m = t.native_map("mm", 8192)
    with t.opened(data, os.O_RDWR, what="pwrite") as fd:
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


def test_large_reads_follow_the_segment(t):
    """Reads of 64 KiB and more are answered out of the segment mapped
    (one copy less): exact bytes at any offset, cut at the end, and the
    segment's changes seen at once, as it grows, as another program stores
    into it and as it shrinks."""
    t.mkshm("big")
    data = t.spath("big", "data")
    pattern = bytes(range(251)) * 1200  # 301200 bytes, no period of 4096
    with open(t.devshm("big"), "r+b") as f:
        f.write(pattern)
    with t.opened(data, os.O_RDONLY, what="pread") as fd:
        for off in (0, 1, 4095, 100000, 301200 - 70000):
            t.eq(os.pread(fd, 1 << 20, off), pattern[off:],
                 "pread of 1 MiB at %d: the rest of the segment" % off)
        t.eq(os.pread(fd, 65536, 5), pattern[5:65541], "pread of 64 KiB")
        with open(t.devshm("big"), "r+b") as f:
            f.seek(400000)
            f.write(b"grown")
            f.seek(3)
            f.write(b"stored")
        t.eq(os.pread(fd, 1 << 20, 399998), b"\0\0grown",
             "the grown end, through a new mapping")
        t.eq(os.pread(fd, 65536, 0)[:9], pattern[:3] + b"stored",
             "a native store, seen at once")
        os.truncate(t.devshm("big"), 70000)
        t.eq(os.pread(fd, 1 << 20, 0), (pattern[:3] + b"stored" +
                                         pattern[9:70000]),
             "shrunk: cut at the new end")
        t.eq(os.pread(fd, 1 << 20, 70000), b"", "at the end: nothing")


def test_shared_memory_module_listed(t):
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


def test_semaphores_not_listed(t):
    # sem_open("/PFXs") is /dev/shm/sem.PFXs: outside our prefix, so a
    # tree without a prefix is what could show it by mistake.
    seg, sem = t.prefix + "seg", t.prefix + "s"
    sem_create("/" + sem, 1)
    try:
        t.true(os.path.exists(os.path.join(SHM_DIR, "sem." + sem)),
               "glibc put the semaphore in /dev/shm")
        with open(os.path.join(SHM_DIR, seg), "xb") as f:
            f.write(b"x")
        with t.extra_tree("shm2", prefix="") as m:
            d = m.mnt
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
        with contextlib.suppress(OSError):
            sem_unlink("/" + sem)
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(SHM_DIR, seg))
    with t.within(5, "ls shm"):
        names = os.listdir(t.spath(""))
    t.true(not any("sem." in n for n in names), "nothing of sem.* in shm/",
           repr(names))


def test_poll_says_ready(t):
    t.mkshm("p")
    with t.opened(t.spath("p", "data"), os.O_RDWR, what="poll") as fd:
        ev = t.revents(fd, select.POLLIN | select.POLLOUT, 1000)
    t.true(ev & select.POLLIN and ev & select.POLLOUT,
           "data is readable and writable", "revents %#x" % ev)

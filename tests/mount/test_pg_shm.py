# SPDX-License-Identifier: GPL-2.0-or-later
"""shm/ on the PostgreSQL engine (issue 12, point 8): segments as pages
in the database, across two mounts of one database, A (the file's tree)
and B (t.other_mount(), same prefix).

A segment made on A is B's too; 1 MiB written on A reads identical on B
(size, st_size); pwrite at an offset on one mount is read at once on the
other, also where that mount read the old bytes just before (no stale
cache); writing past the end grows it; truncate and the size file resize
it, cut bytes read as zeros when it grows again; a write is atomic with
respect to reads of the same range on the other mount; the native API
(ipcfs.shm_write / shm_read / shm_size / shm_truncate from psql).
"""

import errno
import os
import random
import stat

import pytest

from pg import PgHarness
from pgtest import at, blit, lit, ls, posix, read_attr, sqlstate_of

H = PgHarness("pgshm")
MIB = 1 << 20


def d(m, name, *rest):
    return at(m, "shm", name, *rest)


def size(t, m, name):
    return read_attr(t, m, "shm", name, "size")


def st_size(t, m, name):
    with t.within(5, "stat"):
        return os.stat(d(m, name, "data")).st_size


def pread(t, m, name, n, off):
    with t.opened(d(m, name, "data"), os.O_RDONLY) as fd:
        out = b""
        while len(out) < n:
            b = os.pread(fd, n - len(out), off + len(out))
            if not b:
                break
            out += b
        return out


def pwrite(t, m, name, data, off):
    with t.opened(d(m, name, "data"), os.O_WRONLY) as fd:
        done = 0
        while done < len(data):
            done += os.pwrite(fd, data[done:], off + done)
        return done


def test_cross_mount_visibility(t):
    b = t.other_mount()
    t.mkobj("shm", "vis", 0o640)
    t.eq(ls(t, b, "shm"), ["vis"], "B lists the segment made on A")
    files = ls(t, b, "shm/vis")
    t.true({"data", "size", "waiters"} <= set(files),
           "B's shm/vis has data, size, waiters", repr(files))
    t.eq(files, ls(t, t, "shm/vis"), "the same files on A and B")
    with t.within(5, "stat on B"):
        st = os.stat(d(b, "vis"))
    t.eq((oct(stat.S_IMODE(st.st_mode) & 0o666), st.st_uid, st.st_gid),
         (oct(0o640), os.getuid(), os.getgid()), "mode and owner on B")
    t.eq(size(t, b, "vis"), "0\n", "B's size of a new segment")
    t.eq(read_attr(t, b, "shm", "vis", "waiters"), "", "B's waiters")
    rc, out, err = t.sh('echo hello > "$1"', d(t, "vis", "data"))
    t.eq((rc, err), (0, b""), "echo hello > data on A")
    t.eq(t.run(["cat", d(b, "vis", "data")]), (0, b"hello\n", b""),
         "cat data on B")
    t.eq(size(t, b, "vis"), "6\n", "B's size")
    with t.within(5, "rmdir on B"):
        os.rmdir(d(b, "vis"))
    t.made["shm"].discard("vis")
    t.eq(ls(t, t, "shm"), [], "A's shm/ after rmdir on B")


@pytest.mark.deadline(90)
def test_mib_written_on_a_read_on_b(t):
    b = t.other_mount()
    t.mkobj("shm", "big")
    blob = random.Random(12).randbytes(MIB)
    # B reads the segment first: what it may have cached is now stale.
    t.eq(pread(t, b, "big", 100, 0), b"", "B's read of the empty segment")
    with t.opened(d(t, "big", "data"), os.O_WRONLY, 30) as fd:
        done = 0
        while done < MIB:
            done += os.write(fd, blob[done:])
    t.eq(size(t, b, "big"), "%d\n" % MIB, "B's size")
    t.eq(st_size(t, b, "big"), MIB, "B's st_size of data")
    got = pread(t, b, "big", MIB + 100, 0)
    t.eq(len(got), MIB, "bytes read on B")
    t.true(got == blob, "B reads exactly what A wrote",
           "first difference at %d" % next(
               (i for i, (x, y) in enumerate(zip(got, blob)) if x != y), -1))
    # A write of B's at an offset across pages, read at once on A (which
    # has just read the old bytes), and the rest unchanged.
    t.eq(pread(t, t, "big", 10, 8190), blob[8190:8200], "A's read before")
    t.eq(pwrite(t, b, "big", b"X" * 10000, 8000), 10000, "pwrite on B")
    t.eq(pread(t, t, "big", 10, 8190), b"X" * 10, "A's read after B's "
         "pwrite: no stale bytes")
    want = blob[:8000] + b"X" * 10000 + blob[18000:]
    t.true(pread(t, t, "big", MIB, 0) == want, "A reads the whole segment "
           "with B's write in it")
    name = lit(posix(t, "big"))
    t.eq(t.pg.psql("select encode(ipcfs.shm_read(%s, 17990, 20), 'hex')" %
                   name), (b"X" * 10 + blob[18000:18010]).hex(),
         "ipcfs.shm_read across B's write")


def test_grow_and_truncate_across_mounts(t):
    b = t.other_mount()
    t.mkobj("shm", "tr")
    t.eq(pwrite(t, t, "tr", b"abc", 20000), 3, "pwrite past the end on A")
    t.eq((size(t, b, "tr"), st_size(t, b, "tr")), ("20003\n", 20003),
         "B's size and st_size")
    t.eq(pread(t, b, "tr", 20003, 0), b"\0" * 20000 + b"abc",
         "B reads zeros, then abc")
    t.eq(pwrite(t, t, "tr", b"0123456789", 0), 10, "pwrite at 0 on A")
    with t.within(5, "truncate on B"):
        os.truncate(d(b, "tr", "data"), 5)
    t.eq((size(t, t, "tr"), st_size(t, t, "tr")), ("5\n", 5),
         "A's size after B's truncate to 5")
    t.eq(pread(t, t, "tr", 100, 0), b"01234", "A reads the 5 bytes left")
    t.eq(t.write_file(d(t, "tr", "size"), b"9000"), 4, "size 9000 on A")
    t.eq(pread(t, b, "tr", 10000, 0), b"01234" + b"\0" * 8995,
         "B reads zeros where the cut bytes were")
    with t.opened(d(b, "tr", "data"), os.O_WRONLY | os.O_TRUNC) as fd:
        pass
    t.eq(size(t, t, "tr"), "0\n", "A's size after O_TRUNC on B")
    with t.opened(d(t, "tr", "size"), os.O_WRONLY) as fd:
        t.raises(errno.EINVAL, os.write, fd, b"x", what="size x")
    t.eq(pwrite(t, t, "tr", b"end", 5), 3, "pwrite at 5 of the empty one")
    t.eq(pread(t, b, "tr", 100, 0), b"\0" * 5 + b"end", "B's read")


def test_psql_native_api(t):
    b = t.other_mount()
    t.mkobj("shm", "nat")
    name = lit(posix(t, "nat"))
    t.eq(t.pg.psql("select ipcfs.shm_write(%s, 8190, %s)" % (
        name, blit(b"from psql"))), "9", "ipcfs.shm_write across a page")
    t.eq(t.pg.psql("select ipcfs.shm_size(%s)" % name), "8199",
         "ipcfs.shm_size")
    t.eq(pread(t, b, "nat", 100, 8185), b"\0" * 5 + b"from psql",
         "B's pread")
    t.eq(pwrite(t, t, "nat", b"A!", 8188), 2, "pwrite on A")
    t.eq(t.pg.psql("select convert_from(ipcfs.shm_read(%s, 8188, 100), "
                   "'UTF8')" % name), "A!from psql", "ipcfs.shm_read: short "
         "at the end")
    t.eq(t.pg.psql("select length(ipcfs.shm_read(%s, 9000, 10))" % name),
         "0", "ipcfs.shm_read past the end: empty")
    t.pg.psql("select ipcfs.shm_truncate(%s, 3)" % name)
    t.eq(st_size(t, b, "nat"), 3, "B's st_size after ipcfs.shm_truncate")
    sqlstate_of(t, "select ipcfs.shm_truncate(%s, %d)" % (name, (1 << 40) + 1),
                "IP027", "ipcfs.shm_truncate past 2^40")
    sqlstate_of(t, "select ipcfs.shm_size(%s)" % lit(posix(t, "nosuch")),
                "IP002", "ipcfs.shm_size of no segment")


# Writes 64 KiB blocks of one letter at offset 0 of argv[1], a to z over
# and over, for argv[2] seconds; prints how many.
FLIPPER = r'''
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY)
end = time.monotonic() + float(sys.argv[2])
n = 0
while time.monotonic() < end:
    os.pwrite(fd, bytes([97 + n % 26]) * 65536, 0)
    n += 1
print(n, flush=True)
'''


@pytest.mark.deadline(60)
def test_write_atomic_for_reads_of_the_other_mount(t):
    """A writer on A rewrites 64 KiB at offset 0 with one letter after
    another; B's reads of that range, meanwhile, each see one letter
    only: never part of one write and part of another."""
    b = t.other_mount()
    t.mkobj("shm", "at")
    t.eq(pwrite(t, t, "at", b"a" * 65536, 0), 65536, "first write")
    w = t.py(FLIPPER, d(t, "at", "data"), "2")
    torn, reads, letters = [], 0, set()
    with t.opened(d(b, "at", "data"), os.O_RDONLY, 20) as fd:
        while w.poll() is None:
            got = os.pread(fd, 65536, 0)
            reads += 1
            letters.add(got[:1])
            if len(got) != 65536 or got.count(got[:1]) != 65536:
                torn.append((reads, len(got), sorted(set(got))[:5]))
    rc, out, err = t.finish(w, 5)
    t.eq((rc, err), (0, b""), "the writer on A")
    t.note("%s writes on A, %d reads on B, %d letters seen" % (
        out.decode().strip(), reads, len(letters)))
    t.true(not torn, "every read on B saw one write whole",
           "%d torn of %d, e.g. %s" % (len(torn), reads, torn[:3]))
    t.true(len(letters) > 1, "B saw A's writes change the segment",
           repr(letters))

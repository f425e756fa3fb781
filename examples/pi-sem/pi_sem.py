#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Classic pattern: pi by 10 processes over POSIX shared memory under a
# semaphore (posix_ipc's SharedMemory and Semaphore). pi^2 / 8 is the sum
# of 1 / (2k + 1)^2; each of 10 forked children sums a tenth of the first
# 10,000,000 terms and, holding the semaphore, reads the double in the
# segment, adds its part and writes it back. The parent waits for them
# and prints sqrt(8 * total).
#
# Through ipcfs: the segment is shm/pi, the semaphore sem/pi (value 1),
# both made with mkdir and removed with rmdir:
#   Semaphore.acquire() / release() -> open / close sem/pi/hold (a child
#                                      that dies holding it gives it back)
#   os.lseek + os.read / os.write   -> os.pread / os.pwrite of shm/pi/data
#                                      at offset 0 (no O_TRUNC, ever)
# Each child rounds its part to a multiple of 2^-52: the parts and every
# sum of them are then exact doubles (all are below 2), so the total is
# the same whatever order the children take the semaphore in, and the same
# as a native run's, bit for bit. (Unrounded, the last digit of the
# classic program depends on that order.) pi_sem.c does the same in C.
#
#   usage: pi_sem.py MNT        through the tree
#          pi_sem.py --native   an anonymous shared mmap and a
#                               multiprocessing.Lock instead

import math
import mmap
import multiprocessing
import os
import struct
import sys

N, CHILDREN = 10_000_000, 10
DOUBLE = struct.Struct("=d")


def part(lo, hi):
    s = 0.0
    for k in range(lo, hi):
        s += 1.0 / (2 * k + 1) / (2 * k + 1)
    return round(s * 2**52) / 2**52


class TreeTotal:
    """A double in shm/pi, locked by sem/pi."""

    def __init__(self, mnt):
        self.dirs = [os.path.join(mnt, k, "pi") for k in ("shm", "sem")]
        for d in self.dirs:
            os.mkdir(d)
        self.data = os.path.join(self.dirs[0], "data")
        self.hold = os.path.join(self.dirs[1], "hold")
        self.fd = os.open(self.data, os.O_RDWR)
        os.pwrite(self.fd, DOUBLE.pack(0.0), 0)

    def add(self, s):
        lock = os.open(self.hold, os.O_RDONLY)  # acquire
        try:
            fd = os.open(self.data, os.O_RDWR)
            total, = DOUBLE.unpack(os.pread(fd, DOUBLE.size, 0))
            os.pwrite(fd, DOUBLE.pack(total + s), 0)
            os.close(fd)
        finally:
            os.close(lock)  # release

    def get(self):
        return DOUBLE.unpack(os.pread(self.fd, DOUBLE.size, 0))[0]

    def remove(self):
        os.close(self.fd)
        for d in self.dirs:
            os.rmdir(d)


class NativeTotal:
    """The same on an anonymous shared mapping and a POSIX semaphore."""

    def __init__(self):
        self.mem = mmap.mmap(-1, DOUBLE.size)  # MAP_SHARED: fork shares it
        self.lock = multiprocessing.Lock()
        DOUBLE.pack_into(self.mem, 0, 0.0)

    def add(self, s):
        with self.lock:
            total, = DOUBLE.unpack_from(self.mem, 0)
            DOUBLE.pack_into(self.mem, 0, total + s)

    def get(self):
        return DOUBLE.unpack_from(self.mem, 0)[0]

    def remove(self):
        self.mem.close()


def pi(n):
    total = NativeTotal() if sys.argv[1] == "--native" else \
        TreeTotal(sys.argv[1])
    unit = n // CHILDREN
    pids = []
    for i in range(CHILDREN):
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                total.add(part(unit * i, unit * (i + 1)))
                status = 0
            finally:
                os._exit(status)
        pids.append(pid)
    failed = 0
    for pid in pids:
        failed |= os.waitpid(pid, 0)[1]
    s = total.get()
    total.remove()
    if failed:
        sys.exit("a child failed")
    return math.sqrt(s * 8)


if __name__ == "__main__":
    print(pi(N))

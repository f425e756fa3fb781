#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Classic pattern: multiprocessing.Value and Array, shared memory between
# processes. A writer sets value = 5 and arr[i] = i * 2, a reader prints
# them; then workers increment the Value under its lock
# (with v.get_lock(): v.value += 1), and no increment is lost.
#
# Through ipcfs: each is a POSIX shared memory segment, shm/NAME, made
# with mkdir, its lock a semaphore of the same name, sem/NAME (value 1):
#   v.value / arr[i]   -> pread/pwrite of shm/NAME/data at offset 4 * i
#                         (native-endian C ints, as ctypes lays them out)
#   with v.get_lock(): -> open sem/NAME/hold (takes the unit, waiting for
#                         it) ... close (gives it back, as does any death)
# Never write the segment with `echo > data` or open(..., "w"): O_TRUNC
# resizes it to nothing; pwrite at an offset (dd conv=notrunc) does not.
#
#   usage: value_array.py MNT        through the tree
#          value_array.py --native   the same with multiprocessing

import multiprocessing
import os
import struct
import sys

NATIVE = sys.argv[1] == "--native"
WORKERS, INCREMENTS = 4, 250
INT = struct.Struct("=i")


class Hold:
    """A lock that is a semaphore's hold file: held while it is open."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDONLY)

    def __exit__(self, *exc):
        os.close(self.fd)


class TreeArray:
    """multiprocessing.Array('i', init) on shm/NAME, locked by sem/NAME."""

    def __init__(self, name, init):
        mnt = sys.argv[1]
        self.dirs = [os.path.join(mnt, k, name) for k in ("shm", "sem")]
        for d in self.dirs:
            os.mkdir(d)
        self.n = len(init)
        self.data = os.path.join(self.dirs[0], "data")
        self.hold = os.path.join(self.dirs[1], "hold")
        with open(self.data, "r+b") as f:  # r+: no O_TRUNC
            os.pwrite(f.fileno(), b"".join(INT.pack(x) for x in init), 0)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        fd = os.open(self.data, os.O_RDONLY)
        try:
            if isinstance(i, slice):
                b = os.pread(fd, INT.size * self.n, 0)
                return [x for (x,) in INT.iter_unpack(b)][i]
            return INT.unpack(os.pread(fd, INT.size, INT.size * i))[0]
        finally:
            os.close(fd)

    def __setitem__(self, i, x):
        fd = os.open(self.data, os.O_WRONLY)
        try:
            os.pwrite(fd, INT.pack(x), INT.size * i)
        finally:
            os.close(fd)

    def get_lock(self):
        return Hold(self.hold)

    def remove(self):
        for d in self.dirs:
            os.rmdir(d)


class TreeValue(TreeArray):
    """multiprocessing.Value('i', x): an Array of one."""

    def __init__(self, name, x):
        super().__init__(name, [x])

    value = property(lambda self: self[0],
                     lambda self, x: self.__setitem__(0, x))


def Value(name, x):
    return multiprocessing.Value("i", x) if NATIVE else TreeValue(name, x)


def Array(name, init):
    if NATIVE:
        return multiprocessing.Array("i", init)
    return TreeArray(name, init)


def writer(val, arr):
    val.value = 5
    for i in range(len(arr)):
        arr[i] = i * 2


def reader(val, arr):
    print("Value:", val.value)
    print("Array:", arr[:], flush=True)


def counter(val):
    for _ in range(INCREMENTS):
        with val.get_lock():
            val.value += 1


def run(procs):
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return max(p.exitcode for p in procs)


def main():
    value, array = Value("value", 0), Array("array", range(10))
    status = run([multiprocessing.Process(target=writer, args=(value, array))])
    status |= run([multiprocessing.Process(target=reader,
                                           args=(value, array))])

    count = Value("count", 0)
    status |= run([multiprocessing.Process(target=counter, args=(count,))
                   for _ in range(WORKERS)])
    print("Counter: %d (%d workers x %d increments)" % (
        count.value, WORKERS, INCREMENTS))
    if not NATIVE:
        for x in (value, array, count):
            x.remove()
    sys.exit(status)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Classic pattern: pi by 10 processes over os.pipe(). pi^2 / 8 is the sum
# of 1 / (2k + 1)^2; each of 10 forked children sums a tenth of the first
# 10,000,000 terms and writes its part to the pipe; the parent reads the
# pipe to its end, adds the parts and prints sqrt(8 * total).
#
# Through ipcfs: the pipe is a channel, channels/pi, made with mkdir, and
# each child opens channels/pi/data itself. That changes one thing: with
# os.pipe() every child holds the write end from the start, so the
# parent's read cannot end before the last child is done; here a child
# is a writer only while it has data open, and by the FIFO rule a reader
# sees end-of-file whenever no writer is left - between two children, with
# only some of the parts read: a wrong pi, and no error. Two right ways:
#   hold   the parent holds a write end of its own until the children are
#          done, as os.pipe() makes it do; then closes it and reads
#   rmdir  `echo rmdir > channels/pi/eof`: only rmdir ends the readers, so
#          the parent removes the channel once the children are done and
#          reads what they left, then the end
# Each part is rounded to a multiple of 2^-52 and written as repr(): the
# total is then exact whatever order the parts arrive in, so every way
# prints the same bits as the native run.
#
#   usage: pi_channel.py hold|rmdir MNT
#          pi_channel.py --native        the same over os.pipe()

import math
import os
import sys

N, CHILDREN = 10_000_000, 10


def part(lo, hi):
    s = 0.0
    for k in range(lo, hi):
        s += 1.0 / (2 * k + 1) / (2 * k + 1)
    return round(s * 2**52) / 2**52


def pi(n, how):
    if how == "--native":
        r, w = os.pipe()
    else:
        ch = os.path.join(sys.argv[2], "channels", "pi")
        os.mkdir(ch)
        data = os.path.join(ch, "data")
        if how == "rmdir":
            with open(os.path.join(ch, "eof"), "w") as f:
                f.write("rmdir\n")
        r = os.open(data, os.O_RDONLY)
        w = os.open(data, os.O_WRONLY) if how == "hold" else None
    unit = n // CHILDREN
    pids = []
    for i in range(CHILDREN):
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                os.close(r)
                line = ("%r\n" % part(unit * i, unit * (i + 1))).encode()
                if how == "--native":
                    os.write(w, line)
                else:  # the child opens the channel itself
                    fd = os.open(data, os.O_WRONLY)
                    os.write(fd, line)  # one write: never interleaved
                    os.close(fd)
                status = 0
            finally:
                os._exit(status)
        pids.append(pid)
    failed = 0
    for pid in pids:
        failed |= os.waitpid(pid, 0)[1]
    if w is not None:
        os.close(w)  # the last write end: now the reader may end
    if how == "rmdir":
        os.rmdir(ch)  # the reader drains what is left, then ends

    out = b""
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        out += b
    os.close(r)
    if how == "hold":
        os.rmdir(ch)
    parts = [float(x) for x in out.split()]
    if failed or len(parts) != CHILDREN:
        sys.exit("%d parts of %d" % (len(parts), CHILDREN))
    total = 0.0
    for s in parts:
        total += s
    return math.sqrt(total * 8)


if __name__ == "__main__":
    print(pi(N, sys.argv[1]))

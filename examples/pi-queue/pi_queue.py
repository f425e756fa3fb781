#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Classic pattern: pi by 10 processes over a POSIX message queue
# (posix_ipc.MessageQueue). pi^2 / 8 is the sum of 1 / (2k + 1)^2; each of
# 10 forked children sums a tenth of the first 10,000,000 terms and sends
# its part as one message; the parent receives 10 messages, adds them and
# prints sqrt(8 * total).
#
# Through ipcfs: the queue is queues/pi, made with mkdir:
#   mq.send(repr(part)) -> one write(2) to queues/pi/data: one message
#   mq.receive()        -> open, read, close queues/pi/data: each open
#                          takes exactly one message, waiting for one
# Unlike a channel, a queue has no end-of-file to get wrong: the parent
# takes as many messages as there are children. Each part is rounded to a
# multiple of 2^-52, so the total is exact whatever order the messages
# come in, and the same bits as the native run's.
#
#   usage: pi_queue.py MNT        through the tree
#          pi_queue.py --native   the same over multiprocessing.Queue

import math
import multiprocessing
import os
import sys

N, CHILDREN = 10_000_000, 10
NATIVE = sys.argv[1] == "--native"


def part(lo, hi):
    s = 0.0
    for k in range(lo, hi):
        s += 1.0 / (2 * k + 1) / (2 * k + 1)
    return round(s * 2**52) / 2**52


def pi(n):
    if NATIVE:
        q = multiprocessing.Queue()
        send, receive = q.put, q.get
    else:
        queue = os.path.join(sys.argv[1], "queues", "pi")
        os.mkdir(queue)
        data = os.path.join(queue, "data")

        def send(s):
            fd = os.open(data, os.O_WRONLY)
            os.write(fd, ("%r\n" % s).encode())
            os.close(fd)

        def receive():
            with open(data) as f:
                return float(f.read())
    unit = n // CHILDREN
    pids = []
    for i in range(CHILDREN):
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                send(part(unit * i, unit * (i + 1)))
                if NATIVE:
                    q.close()
                    q.join_thread()  # the feeder thread has sent it
                status = 0
            finally:
                os._exit(status)
        pids.append(pid)
    total = 0.0
    for _ in range(CHILDREN):
        total += receive()
    failed = 0
    for pid in pids:
        failed |= os.waitpid(pid, 0)[1]
    if not NATIVE:
        os.rmdir(queue)
    if failed:
        sys.exit("a child failed")
    return math.sqrt(total * 8)


if __name__ == "__main__":
    print(pi(N))

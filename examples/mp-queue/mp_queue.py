#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Classic pattern: multiprocessing.Queue. One process put()s, another
# get()s (["HelloWorld"]); then the documentation's task farm: workers
# take tasks from one queue and put results on another until a "STOP".
#
# Through ipcfs: a Queue is a POSIX message queue, queues/NAME, made with
# mkdir and removed with rmdir:
#   q.put(obj) -> one write(2) of one JSON line to queues/NAME/data
#                 (one write is one message; larger than msgsize: EMSGSIZE)
#   q.get()    -> open, read to the end, close queues/NAME/data (each open
#                 takes exactly one message, waiting while there is none)
# Processes are handed a path instead of a Queue object, so any program in
# any language could take part. A POSIX queue is bounded (often 10
# messages, fs.mqueue.msg_default) where a multiprocessing.Queue is not:
# a parent that put()s every task before it get()s a result would wait
# forever once both queues are full, so a feeder process puts the tasks
# while the parent collects (multiprocessing.Queue has a feeder thread).
#
#   usage: mp_queue.py MNT       through the tree
#          mp_queue.py --native  the same with multiprocessing.Queue

import json
import multiprocessing
import os
import sys

NATIVE = sys.argv[1] == "--native"
WORKERS = 4
TASKS = [("mul", i, 7) if i % 2 else ("plus", i, 7) for i in range(20)]


class TreeQueue:
    """multiprocessing.Queue's put and get on queues/NAME."""

    def __init__(self, mnt, name):
        self.dir = os.path.join(mnt, "queues", name)
        os.mkdir(self.dir)
        self.data = os.path.join(self.dir, "data")

    def put(self, obj):
        fd = os.open(self.data, os.O_WRONLY)
        try:
            os.write(fd, (json.dumps(obj) + "\n").encode())
        finally:
            os.close(fd)

    def get(self):
        with open(self.data, "rb") as f:
            return json.loads(f.read())

    def remove(self):
        os.rmdir(self.dir)


def make_queue(name):
    if NATIVE:
        return multiprocessing.Queue()
    return TreeQueue(sys.argv[1], name)


def f(q):
    q.put(["HelloWorld"])


def m(q):
    print("get in P2:", json.dumps(q.get()), flush=True)


def feeder(tasks):
    for i, task in enumerate(TASKS):
        tasks.put([i] + list(task))
    for _ in range(WORKERS):
        tasks.put("STOP")


def worker(tasks, done):
    for i, op, a, b in iter(tasks.get, "STOP"):
        r = a * b if op == "mul" else a + b
        done.put([i, "%s(%d, %d) = %d" % (op, a, b, r)])


def main():
    q = make_queue("hello")
    p1 = multiprocessing.Process(target=f, args=(q,))
    p2 = multiprocessing.Process(target=m, args=(q,))
    p2.start()  # the getter first: it waits for the message
    p1.start()
    p1.join()
    p2.join()

    tasks, done = make_queue("tasks"), make_queue("done")
    procs = [multiprocessing.Process(target=feeder, args=(tasks,))]
    procs += [multiprocessing.Process(target=worker, args=(tasks, done))
              for _ in range(WORKERS)]
    for p in procs:
        p.start()
    results = sorted(done.get() for _ in TASKS)
    for p in procs:
        p.join()
    for i, text in results:
        print(text)
    if not NATIVE:
        for queue in (q, tasks, done):
            queue.remove()
    sys.exit(max(p.exitcode for p in procs + [p1, p2]))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Classic pattern: multiprocessing.Pipe. Pipe() gives two connected ends;
# a sender process send()s ("Hello from sender!", [1, 2, 3, 4]), a
# receiver recv()s; both ends talk both ways (duplex), and recv() raises
# EOFError once the other end is closed and nothing is left.
#
# Through ipcfs: a duplex pipe is two channels, channels/NAME-0 (end 0 to
# end 1) and channels/NAME-1 (back), made with mkdir. An end opens its
# files in the process that uses it, when it first sends or receives:
#   conn.send(obj) -> one write(2) of one JSON line to the other's channel
#                     (at most 4096 bytes: never interleaved with another
#                     writer's; a channel is a byte stream, lines frame it)
#   conn.recv()    -> read a line from its own channel; end-of-file (no
#                     writer left, nothing buffered) is EOFError
# As with a real pipe, the parent closes the end it handed to a child.
#
#   usage: mp_pipe.py MNT        through the tree
#          mp_pipe.py --native   the same with multiprocessing.Pipe

import json
import multiprocessing
import os
import sys

NATIVE = sys.argv[1] == "--native"


class TreeConn:
    """One end of a pipe: sends on channel `out`, receives on `inp`."""

    def __init__(self, out, inp):
        self.out, self.inp = out, inp
        self.w = self.r = None

    def send(self, obj):
        if self.w is None:
            self.w = os.open(os.path.join(self.out, "data"), os.O_WRONLY)
        os.write(self.w, (json.dumps(obj) + "\n").encode())

    def recv(self):
        if self.r is None:
            self.r = open(os.path.join(self.inp, "data"), "rb")
        line = self.r.readline()
        if not line:
            raise EOFError
        return json.loads(line)

    def close(self):
        if self.w is not None:
            os.close(self.w)
        if self.r is not None:
            self.r.close()
        self.w = self.r = None


made = []


def Pipe(name):
    """multiprocessing.Pipe(): two connected ends."""
    if NATIVE:
        return multiprocessing.Pipe()
    ch = [os.path.join(sys.argv[1], "channels", "%s-%d" % (name, i))
          for i in (0, 1)]
    for d in ch:
        os.mkdir(d)
    made.extend(ch)
    return TreeConn(ch[0], ch[1]), TreeConn(ch[1], ch[0])


def sender(conn, what):
    conn.send(what)
    conn.close()


def receiver(conn):
    msg = conn.recv()
    if isinstance(msg, list):
        msg = "[%s]" % ", ".join(str(x) for x in msg)
    print("Received message:", msg, flush=True)
    conn.close()


def squarer(conn):
    for n in iter(conn.recv, None):
        conn.send([n, n * n])
    conn.close()


def run(*procs):
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return max(p.exitcode for p in procs)


def main():
    status = 0
    for what, name in (("Hello from sender!", "hello"),
                       ([1, 2, 3, 4], "list")):
        a, b = Pipe(name)
        status |= run(multiprocessing.Process(target=sender, args=(a, what)),
                      multiprocessing.Process(target=receiver, args=(b,)))
        a.close()
        b.close()

    parent, child = Pipe("duplex")
    p = multiprocessing.Process(target=squarer, args=(child,))
    p.start()
    child.close()  # the child's end is the child's
    for n in range(1, 6):
        parent.send(n)
        print("square(%d) = %d" % tuple(parent.recv()))
    parent.send(None)
    try:
        parent.recv()
    except EOFError:
        print("EOFError after the child closed its end")
    parent.close()
    p.join()
    for d in made:
        os.rmdir(d)
    sys.exit(status | p.exitcode)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Classic pattern: the named-pipe server and client. The server makes two
# FIFOs with os.mkfifo (requests in, replies out), reads a request, writes
# a reply, until a client says "exit".
#
# Through ipcfs: each FIFO is a channel, made with mkdir:
#   os.mkfifo("/tmp/pipe.in")   ->  os.mkdir(MNT/channels/requests)
#   os.open(fifo, O_RDONLY)     ->  open(MNT/channels/requests/data)
# Opening a channel's data never blocks (a FIFO's open waits for the other
# side); a read waits instead. Clients come one after another, so the
# requests channel ends our reads only when it is removed (eof = rmdir):
# with a FIFO, or the default eof = close, the server would see
# end-of-file each time a client closes. Each request and reply is one
# line, written with one write(2): lines of up to 4096 bytes are never
# interleaved with another writer's.
#
#   usage: server.py MNT        (clients: client.py, client.js)

import os
import sys

mnt = sys.argv[1]
req = os.path.join(mnt, "channels", "requests")
rep = os.path.join(mnt, "channels", "replies")

os.mkdir(req)
with open(os.path.join(req, "eof"), "w") as f:
    f.write("rmdir\n")
os.mkdir(rep)  # made last: clients wait for it

requests = open(os.path.join(req, "data"), "rb")
replies = os.open(os.path.join(rep, "data"), os.O_WRONLY)
for line in requests:  # one request per line; waits while there is none
    msg = line.decode().rstrip("\n")
    print("received msg: %s" % msg, flush=True)
    if msg == "exit":
        break
    os.write(replies, ("echo %s\n" % msg).encode())
requests.close()
os.close(replies)
os.rmdir(rep)
os.rmdir(req)

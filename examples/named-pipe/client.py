#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Classic pattern: the named-pipe client. It writes "msg 1" .. "msg 10" to
# the server's request FIFO and reads each reply from the reply FIFO.
#
# Through ipcfs: the FIFOs are the server's channels (server.py):
#   os.open("/tmp/pipe.in", O_WRONLY)  ->  os.open(MNT/channels/requests/data)
#   os.open("/tmp/pipe.out", O_RDONLY) ->  open(MNT/channels/replies/data)
# One request is one line and one write(2); the reply is read up to its
# newline (a channel is a byte stream, like a pipe: lines are the frames).
#
#   usage: client.py MNT NAME   (NAME goes in front of each message)

import os
import sys

mnt, name = sys.argv[1], sys.argv[2]
requests = os.open(os.path.join(mnt, "channels/requests/data"), os.O_WRONLY)
replies = open(os.path.join(mnt, "channels/replies/data"), "rb")
for i in range(1, 11):
    msg = "%s msg %d" % (name, i)
    os.write(requests, (msg + "\n").encode())
    print("sent msg: %s" % msg)
    reply = replies.readline()
    if not reply:
        break
    print("received msg: %s" % reply.decode().rstrip("\n"))
os.close(requests)
replies.close()

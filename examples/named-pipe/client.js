// SPDX-License-Identifier: GPL-2.0-or-later
// Classic pattern: the named-pipe client, in Node, talking to the Python
// server (server.py). It writes "NAME msg 1" .. "NAME msg 10" to the
// request FIFO and reads each reply from the reply FIFO.
//
// Through ipcfs: the FIFOs are channels/requests and channels/replies.
// A request is one line sent with one writeSync (one write(2)); a reply is
// read with readSync up to its newline, keeping what came after it.
// Synchronous calls on purpose: an async read of a channel that has
// nothing yet would hold one of libuv's four pool threads while it waits.
//
//   usage: node client.js MNT NAME

"use strict";
const fs = require("fs");
const path = require("path");

const [mnt, name] = process.argv.slice(2);
const { O_RDONLY, O_WRONLY } = fs.constants;
const channel = (name) => path.join(mnt, "channels", name, "data");
const requests = fs.openSync(channel("requests"), O_WRONLY);
const replies = fs.openSync(channel("replies"), O_RDONLY);

let pending = Buffer.alloc(0);
function readLine(fd) {
  for (;;) {
    const nl = pending.indexOf(10);
    if (nl >= 0) {
      const line = pending.subarray(0, nl).toString();
      pending = pending.subarray(nl + 1);
      return line;
    }
    const buf = Buffer.alloc(4096);
    const n = fs.readSync(fd, buf, 0, buf.length, null);
    if (n === 0) return null; // end of file
    pending = Buffer.concat([pending, buf.subarray(0, n)]);
  }
}

for (let i = 1; i <= 10; i++) {
  const msg = `${name} msg ${i}`;
  fs.writeSync(requests, msg + "\n");
  console.log(`sent msg: ${msg}`);
  const reply = readLine(replies);
  if (reply === null) break;
  console.log(`received msg: ${reply}`);
}
fs.closeSync(requests);
fs.closeSync(replies);

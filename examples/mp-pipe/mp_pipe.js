// SPDX-License-Identifier: GPL-2.0-or-later
// Classic pattern: multiprocessing.Pipe, in Node: two connected ends, a
// sender process sends ("Hello from sender!", [1, 2, 3, 4]), a receiver
// receives; ends talk both ways, and a receive after the other end closed
// is end-of-file. The processes are this script run again with a role.
//
// Through ipcfs: a pipe is two channels, channels/NAME-0 (end 0 to end 1)
// and channels/NAME-1 (back), made with mkdir. An end opens its files when
// it first sends or receives:
//   send(obj) -> fs.writeSync of one JSON line (one write(2): at most 4096
//                bytes are never interleaved with another writer's)
//   recv()    -> fs.readSync up to a newline; end-of-file is null
// Synchronous reads on purpose: an async read of an empty channel holds
// one of libuv's four pool threads while it waits. The parent, which has
// children, gets SIGCHLD when one ends: a read or write waiting in the
// tree then fails with EINTR (FUSE does not restart it, as a pipe's read
// would be), having taken or sent nothing, so it is simply tried again.
//
//   usage: node mp_pipe.js MNT

"use strict";
const fs = require("fs");
const path = require("path");
const { spawn } = require("child_process");

const [mnt, role, name, end] = process.argv.slice(2);
const channel = (name, i) => path.join(mnt, "channels", `${name}-${i}`);

// fn(), again while it fails with EINTR (it then took or sent nothing).
function again(fn) {
  for (;;) {
    try {
      return fn();
    } catch (e) {
      if (e.code !== "EINTR") throw e;
    }
  }
}

// End E (0 or 1) of pipe NAME: sends on NAME-E, receives on NAME-(1-E).
class Conn {
  constructor(name, e) {
    this.out = path.join(channel(name, e), "data");
    this.inp = path.join(channel(name, 1 - e), "data");
    this.w = this.r = null;
    this.pending = Buffer.alloc(0);
  }
  send(obj) {
    if (this.w === null) this.w = fs.openSync(this.out, fs.constants.O_WRONLY);
    again(() => fs.writeSync(this.w, JSON.stringify(obj) + "\n"));
  }
  recv() {
    if (this.r === null) this.r = fs.openSync(this.inp, fs.constants.O_RDONLY);
    for (;;) {
      const nl = this.pending.indexOf(10);
      if (nl >= 0) {
        const line = this.pending.subarray(0, nl).toString();
        this.pending = this.pending.subarray(nl + 1);
        return JSON.parse(line);
      }
      const buf = Buffer.alloc(4096);
      const n = again(() => fs.readSync(this.r, buf, 0, buf.length, null));
      if (n === 0) return undefined; // end of file
      this.pending = Buffer.concat([this.pending, buf.subarray(0, n)]);
    }
  }
  close() {
    if (this.w !== null) fs.closeSync(this.w);
    if (this.r !== null) fs.closeSync(this.r);
    this.w = this.r = null;
  }
}

function Pipe(name) {
  for (const i of [0, 1]) fs.mkdirSync(channel(name, i));
  return [new Conn(name, 0), new Conn(name, 1)];
}

// Run this script as ROLE on end END of pipe NAME: a promise of its status.
function run(role, name, end, ...rest) {
  const child = spawn(
    process.execPath,
    [__filename, mnt, role, name, String(end), ...rest],
    { stdio: "inherit" },
  );
  return new Promise((resolve) => child.on("exit", (code) => resolve(code)));
}

const roles = {
  sender(conn, what) {
    conn.send(JSON.parse(what));
  },
  receiver(conn) {
    let msg = conn.recv();
    if (Array.isArray(msg)) msg = `[${msg.join(", ")}]`;
    console.log(`Received message: ${msg}`);
  },
  squarer(conn) {
    // null: the parent says stop; undefined: end-of-file
    for (let n = conn.recv(); n != null; n = conn.recv())
      conn.send([n, n * n]);
  },
  async main() {
    const made = [];
    let status = 0;
    const pipes = [
      ["Hello from sender!", "hello"],
      [[1, 2, 3, 4], "list"],
    ];
    for (const [what, name] of pipes) {
      Pipe(name);
      made.push(name);
      const codes = await Promise.all([
        run("sender", name, 0, JSON.stringify(what)),
        run("receiver", name, 1),
      ]);
      status = Math.max(status, ...codes);
    }

    const [parent] = Pipe("duplex");
    made.push("duplex");
    const child = run("squarer", "duplex", 1);
    for (let n = 1; n <= 5; n++) {
      parent.send(n);
      const [x, sq] = parent.recv(); // blocks this thread; the child runs
      console.log(`square(${x}) = ${sq}`);
    }
    parent.send(null);
    if (parent.recv() === undefined)
      console.log("EOFError after the child closed its end");
    parent.close();
    status = Math.max(status, await child);
    for (const name of made)
      for (const i of [0, 1]) fs.rmdirSync(channel(name, i));
    process.exitCode = status;
  },
};

if (role) {
  const conn = new Conn(name, Number(end));
  roles[role](conn, ...process.argv.slice(6));
  conn.close();
} else {
  roles.main();
}

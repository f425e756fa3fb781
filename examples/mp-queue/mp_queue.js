// SPDX-License-Identifier: GPL-2.0-or-later
// Classic pattern: multiprocessing.Queue, in Node. One process puts
// ["HelloWorld"], another gets it; then a task farm: a feeder puts tasks,
// workers take them and put results on a second queue until a "STOP".
// Node has no multiprocessing: the processes are this script run again
// (child_process.spawn) with a role.
//
// Through ipcfs: a queue is queues/NAME, made with mkdir:
//   put(obj) -> fs.writeFileSync(queues/NAME/data, JSON line): one write(2),
//               one message
//   get()    -> fs.readFileSync(queues/NAME/data): each open takes exactly
//               one message, waiting while there is none
// Synchronous on purpose: fs.readFile on an empty queue would hold one of
// libuv's four pool threads until a message comes (a fifth such read waits
// for a thread); a process that must stay responsive reads in a
// worker_thread or raises UV_THREADPOOL_SIZE. A POSIX queue is bounded
// (often 10 messages), so the tasks come from a feeder process while the
// parent collects results: putting them all first could wait forever.
// A process with children gets SIGCHLD when one ends, and Node handles
// it: a read or write waiting in the tree then fails with EINTR (FUSE
// does not restart it, as a pipe's read would be), having taken or sent
// nothing, so put and get simply try again.
//
//   usage: node mp_queue.js MNT

"use strict";
const fs = require("fs");
const path = require("path");
const { spawn } = require("child_process");

const WORKERS = 4;
const TASKS = [];
for (let i = 0; i < 20; i++)
  TASKS.push(i % 2 ? ["mul", i, 7] : ["plus", i, 7]);

const [mnt, role] = process.argv.slice(2);
const dir = (name) => path.join(mnt, "queues", name);
const data = (name) => path.join(dir(name), "data");

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
const put = (name, obj) =>
  again(() => fs.writeFileSync(data(name), JSON.stringify(obj) + "\n"));
const get = (name) =>
  JSON.parse(again(() => fs.readFileSync(data(name), "utf8")));

// Start this script as ROLE; a promise of its exit status.
function run(role) {
  const child = spawn(process.execPath, [__filename, mnt, role], {
    stdio: "inherit",
  });
  return new Promise((resolve) => child.on("exit", (code) => resolve(code)));
}

const roles = {
  f() {
    put("hello", ["HelloWorld"]);
  },
  m() {
    console.log("get in P2: " + JSON.stringify(get("hello")));
  },
  feeder() {
    TASKS.forEach((task, i) => put("tasks", [i, ...task]));
    for (let w = 0; w < WORKERS; w++) put("tasks", "STOP");
  },
  worker() {
    for (let t = get("tasks"); t !== "STOP"; t = get("tasks")) {
      const [i, op, a, b] = t;
      const r = op === "mul" ? a * b : a + b;
      put("done", [i, `${op}(${a}, ${b}) = ${r}`]);
    }
  },
  async main() {
    for (const q of ["hello", "tasks", "done"]) fs.mkdirSync(dir(q));
    const hello = [run("m"), run("f")];
    let codes = await Promise.all(hello);

    const farm = [run("feeder")];
    for (let w = 0; w < WORKERS; w++) farm.push(run("worker"));
    const results = TASKS.map(() => get("done")); // blocks this thread only
    codes = codes.concat(await Promise.all(farm));
    results.sort((x, y) => x[0] - y[0]);
    for (const [, text] of results) console.log(text);
    for (const q of ["hello", "tasks", "done"]) fs.rmdirSync(dir(q));
    process.exitCode = Math.max(...codes);
  },
};

roles[role || "main"]();

# SPDX-License-Identifier: GPL-2.0-or-later
"""Random operations from several processes on every kind at once — mkdir,
rmdir, chmod, opens with every flag, reads, writes of odd payloads, polls,
preads — while timers interrupt whatever waits. Bad input never crashes the
daemon: afterwards it still answers, every object lists exactly its kind's
files, and it exits clean (no sanitizer report). This is how the reuse of an
rmdir'd directory's dead inode was found. The kinds and their files are
the tree's own (ls of a fresh object); what the workers leave the harness
removes with everything else the tree shows."""

import json
import os

from harness import Harness

H = Harness("stress", mq_maxmsg=4, mq_msgsize=256, chan_capacity=8192)
NAMES = ["a", "b", "c"]

WORKER = r'''
import json, os, random, select, signal, sys, time
mnt, seed, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
random.seed(seed)
files, names = json.loads(sys.argv[4])
class Alarm(Exception):
    pass
def alarm(*a):
    raise Alarm()
signal.signal(signal.SIGALRM, alarm)
payloads = [b"", b"x", b"hello\n", b"\0\0", b"12\n", b"-1", b"abc", b"4096\n",
            bytes(5000), b"9" * 40]
end = time.time() + secs
n = 0
while time.time() < end:
    kind = random.choice(list(files))
    d = os.path.join(mnt, kind, random.choice(names[kind]))
    op = random.random()
    try:
        if op < 0.1:
            os.mkdir(d, random.choice([0o600, 0o644, 0o777]))
        elif op < 0.15:
            os.rmdir(d)
        elif op < 0.2:
            os.chmod(d, random.choice([0o600, 0o666]))
        else:
            p = os.path.join(d, random.choice(files[kind]))
            flags = random.choice([os.O_RDONLY, os.O_WRONLY, os.O_RDWR])
            flags |= random.choice([0, os.O_NONBLOCK, os.O_TRUNC])
            signal.setitimer(signal.ITIMER_REAL,
                             random.choice([0.001, 0.01, 0.05]))
            try:
                fd = os.open(p, flags)
                try:
                    r = random.random()
                    if r < 0.4:
                        os.read(fd, random.choice([1, 7, 100, 65536]))
                    elif r < 0.8:
                        os.write(fd, random.choice(payloads))
                    elif r < 0.9:
                        po = select.poll()
                        po.register(fd, select.POLLIN | select.POLLOUT)
                        po.poll(5)
                    else:
                        os.pread(fd, 10, random.choice([0, 3, 10000]))
                finally:
                    os.close(fd)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    except (OSError, Alarm):
        pass
    n += 1
print(n)
'''


def test_random_operations_leave_a_sane_tree(t):
    # Fixed seeds, so a failure repeats; IPCFS_STRESS_SEED explores others.
    base = int(os.environ.get("IPCFS_STRESS_SEED", "0"))
    # The kinds and their files as the tree shows them.
    files = {kind: t.kind_files(kind) for kind in t.kinds()}
    names = {kind: [t.objname(kind, n) for n in NAMES] for kind in files}
    arg = json.dumps([files, names])
    procs = [t.py(WORKER, t.mnt, str(base + i), "8", arg) for i in range(4)]
    for i, p in enumerate(procs):
        rc, out, err = t.finish(p, 60)
        t.check("worker %d ends cleanly" % i, rc == 0 and out.strip(),
                "exit %s, stderr %r" % (rc, err[-300:]))
        t.note("worker %d did %s operations" % (i, out.strip().decode()))
    for kind, want in files.items():
        for name in names[kind]:
            d = t.path(kind, name)
            if not os.path.isdir(d):
                continue
            with t.within(5, "list and remove %s" % d):
                got = sorted(os.listdir(d))
                os.rmdir(d)
            t.eq(got, want, "files of %s/%s" % (kind, name))
    with t.within(5, "a queue round trip after the storm"):
        q = t.mkq("after")
        with open(os.path.join(q, "data"), "wb") as f:
            f.write(b"still here")
        with open(os.path.join(q, "data"), "rb") as f:
            t.eq(f.read(), b"still here", "message after the storm")
        t.rmq("after")

# SPDX-License-Identifier: GPL-2.0-or-later
"""Plain clients on queues: shell loops (dash and bash), a `cat stream`
worker, grep on attribute files, Python 3 stdlib and Node clients. The mount
has no mq_ options, so queues get the system defaults."""

import sys

from harness import Harness

H = Harness("clients")
JOBS = [b"job%d\n" % i for i in range(1, 6)]
LOOP = 'for i in 1 2 3 4 5; do read -r j < data; echo "$j"; done'


def sysctl(name):
    with open("/proc/sys/fs/mqueue/" + name) as f:
        return int(f.read())


def test_mkdir_uses_system_defaults(t):
    t.mkq("def")
    t.eq(t.attr("def", "maxmsg"), "%d\n" % sysctl("msg_default"), "maxmsg")
    t.eq(t.attr("def", "msgsize"), "%d\n" % sysctl("msgsize_default"),
         "msgsize")


def read_loop_takes_five_jobs(t, shell):
    """LOOP in SHELL, in a queue named after it that holds the five jobs."""
    q = t.mkq(shell)
    for j in JOBS:
        t.send(shell, j)
    rc, out, err = t.run([shell, "-c", LOOP], cwd=q)
    t.eq((rc, out, err), (0, b"".join(JOBS), b""), "%s loop" % shell)
    t.eq(t.count(shell), 0, "count")


def test_dash_read_loop_takes_five_jobs(t):
    read_loop_takes_five_jobs(t, "dash")


def test_bash_read_loop_takes_five_jobs(t):
    read_loop_takes_five_jobs(t, "bash")


def test_python_producer_shell_consumer(t):
    q = t.mkq("mix")
    code = ('import sys\n'
            'for i in range(1, 6):\n'
            '    with open(sys.argv[1] + "/data", "w") as f:\n'
            '        f.write("job%d\\n" % i)\n')
    rc, out, err = t.run([sys.executable, "-c", code, q])
    t.eq((rc, err), (0, b""), "python producer")
    t.eq(t.attr("mix", "count"), "5\n", "count after the producer")
    rc, out, err = t.run(["sh", "-c", LOOP], cwd=q)
    t.eq((rc, out), (0, b"".join(JOBS)), "shell consumer")


def test_bash_command_substitution(t):
    q = t.mkq("subst")
    t.send("subst", b"hello world\n")
    t.send("subst", b"again\n")
    rc, out, err = t.run(["bash", "-c", 'x=$(< data); printf "[%s]" "$x"'],
                         cwd=q)
    t.eq((rc, out), (0, b"[hello world]"), "$(< data)")
    t.eq(t.drain("subst"), [(b"again\n", 0)], "left in the queue")


def test_cat_stream_worker(t):
    q = t.mkq("worker")
    p = t.spawn(["sh", "-c", 'cat stream | while read -r job; do '
                 'echo "got $job"; done'], cwd=q)
    for j in (b"a\n", b"b c\n", b"stop\n"):
        t.send("worker", j)
    got = t.read_until(p, b"got stop\n", 3)
    t.eq(got, b"got a\ngot b c\ngot stop\n", "worker output")
    t.true(p.poll() is None, "the worker keeps waiting for jobs")
    t.send("worker", b"late\n")
    t.eq(t.read_until(p, b"got late\n", 3), b"got late\n", "a later job")
    t.rmq("worker")
    rc, out, err = t.finish(p, 3)
    t.eq(rc, 0, "the worker ends when the queue is removed")


def test_grep_attribute_files(t):
    q = t.mkq("grep")
    t.send("grep", b"one")
    rc, out, err = t.run(["grep", ".", "count", "maxmsg", "msgsize"], cwd=q)
    want = "count:1\nmaxmsg:%d\nmsgsize:%d\n" % (sysctl("msg_default"),
                                                 sysctl("msgsize_default"))
    t.eq((rc, out.decode()), (0, want), "grep . count maxmsg msgsize")
    rc, out, err = t.run(["sh", "-c", 'read -r n < count; echo "n=$n"'],
                         cwd=q)
    t.eq((rc, out), (0, b"n=1\n"), "read -r n < count")


def test_python_stdlib_client(t):
    q = t.mkq("py")
    t.send("py", b"n1")
    code = (
        'import os, sys\n'
        'd = sys.argv[1]\n'
        'with open(d + "/data", "wb") as f:\n'
        '    f.write(b"from-python")\n'
        'fd = os.open(d + "/data", os.O_RDONLY)\n'
        'first, second = os.read(fd, 65536), os.read(fd, 65536)\n'
        'os.close(fd)\n'
        'with open(d + "/data") as f:\n'
        '    third = f.read()\n'
        'with open(d + "/count") as f:\n'
        '    count = f.read()\n'
        'print(repr((first, second, third, count)))\n')
    rc, out, err = t.run([sys.executable, "-c", code, q])
    t.eq((rc, out.decode()), (0, "(b'n1', b'', 'from-python', '0\\n')\n"),
         "python client (stderr %r)" % err[-300:])
    t.send("py", b"back")
    rc, out, err = t.run([sys.executable, "-c",
                          'import sys; sys.stdout.write(open(sys.argv[1])'
                          '.read())', q + "/data"])
    t.eq((rc, out), (0, b"back"), "open(data).read() in a child")


def test_node_client(t):
    node = t.need("node")
    q = t.mkq("node")
    rc, out, err = t.run([node, "-e", "require('fs').writeFileSync("
                          "process.argv[1] + '/data', 'from-node')", q],
                         timeout=15)
    t.eq(rc, 0, "node writeFileSync (stderr %r)" % err[-300:])
    t.eq(t.drain("node"), [(b"from-node", 0)], "queue contents")

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench.h - what the benchmark's harness (bench.c: options, runs, medians,
 * the table) and its cases (cases.c: what each row measures) share.
 *
 * A case is a row pair, a put and a get, done three ways: through ipcfs,
 * through nullfs and with the native API. cases.c lists the cases in
 * bench_cases[]; bench.c knows them only through the structs below.
 */
#ifndef IPCFS_BENCH_H
#define IPCFS_BENCH_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define BENCH_MIB (1 << 20)
#define BENCH_MAXLEN BENCH_MIB /* bytes per message at most */

enum { BENCH_IPCFS, BENCH_NULL, BENCH_NATIVE, BENCH_NSYS };
/* A target's `vs` for fan-out rows: ipcfs on the case marked `base`. */
#define BENCH_BASE BENCH_NSYS
enum { BENCH_PUT, BENCH_GET };
/* Kinds a tree may lack: a case that needs one is skipped without it. */
#define BENCH_NEEDS_TOPICS (1u << 0)   /* topics/ */
#define BENCH_NEEDS_SYSV_MSG (1u << 1) /* sysv/msg/ */

struct bench {
	const char *mnt, *nullmnt;
	const char *queue, *channel, *segment, *semaphore; /* directories */
	const char *topic;   /* under topics/, when the tree has the kind */
	const char *sysvmsg; /* under sysv/msg/ (a key), likewise */
	/* paths under the mounts and the objects' POSIX names */
	char qdir[PATH_MAX], data[PATH_MAX], stream[PATH_MAX];
	char chdir[PATH_MAX], chdata[PATH_MAX];
	char shmdir[PATH_MAX], shmdata[PATH_MAX];
	char semdir[PATH_MAX], sempost[PATH_MAX], semwait[PATH_MAX];
	char topicdir[PATH_MAX], topicdata[PATH_MAX], topicdropped[PATH_MAX];
	char svdir[PATH_MAX], svdata[PATH_MAX], svstream[PATH_MAX];
	int svid; /* the System V queue's id, from its `id` file */
	char nullfile[PATH_MAX];
	char mqname[NAME_MAX + 2], shmname[NAME_MAX + 2], semname[NAME_MAX + 2];
	long maxmsg, msgsize;
	long ops, runs, warmup; /* ops per row and run, runs, warm-up ops */
	bool smoke, verbose;
	unsigned int has;  /* BENCH_NEEDS_*: kinds MNT has, whose rows run */
	const char *rows;  /* --rows: words a case's label must have one of */
	unsigned int only; /* systems to run, 1 << BENCH_* */
	unsigned long seq; /* messages made so far; each carries its number */
};

/*
 * One way to do a case's operations. `put` sends `len` bytes of `msg`; `get`
 * asks for `len` bytes into `buf`, which has room for max(len, msgsize)
 * bytes (a streaming case takes fewer, and asks again). Both return the
 * bytes moved or -errno, having said what failed (naming the path) on
 * stderr. `teardown` returns 0, or -errno when the run left its object in a
 * state it should not have (also said on stderr).
 */
struct bench_impl {
	const char *what[2]; /* what put and get do, for the legend */
	int (*setup)(struct bench *b, void **priv);
	ssize_t (*put)(struct bench *b, void *priv, const char *msg,
		       size_t len);
	ssize_t (*get)(struct bench *b, void *priv, char *buf, size_t len);
	int (*teardown)(struct bench *b, void *priv);
	bool echoes; /* gets return what puts sent, else zeros */
	bool queued; /* through the POSIX queue: len <= its msgsize */
	/*
	 * Fan-out cases: open one reader's own files, on which `get` is then
	 * called (`rpriv` instead of `priv`), and close them. Every reader
	 * is opened, in turn, before the first put.
	 */
	int (*reader)(struct bench *b, void *priv, void **rpriv);
	void (*reader_close)(struct bench *b, void *rpriv);
};

struct bench_case {
	const char *row[2]; /* row labels of put and get */
	size_t len;	    /* bytes per message */
	const char *msg;    /* each message is this, else a numbered one */
	long batch;	    /* messages per batch; 0: what the queue holds */
	long scale;	    /* runs do 1/scale of --ops, for big messages */
	bool stream;	    /* put and get at once, in two threads */
	bool bandwidth;	    /* shown in MiB/s */
	/*
	 * > 0: a fan-out case: one thread puts while `readers` threads each
	 * get every message and check it; one row, messages delivered per
	 * second in total (readers x messages / time to the last get).
	 */
	int readers;
	bool base;	    /* the fan-out row the others are compared with */
	unsigned int needs; /* BENCH_NEEDS_*: runs only where MNT has them */
	double target[2];   /* aim of ipcfs/vs per row, 0: none */
	int vs;		    /* the system the target is set against, or BASE */
	const char *note;   /* for the legend */
	const struct bench_impl *impl[BENCH_NSYS]; /* NULL: no column */
};

/* cases.c: the cases, in the order of the table's rows. */
extern const struct bench_case bench_cases[];
extern const size_t bench_ncases;

/* bench.c: "bench: WHAT PATH: strerror(err)" on stderr; returns -err. */
int bench_err(const char *what, const char *path, int err);

#endif /* IPCFS_BENCH_H */

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench.c - how fast ipcfs's data paths are, next to the floor FUSE itself
 * sets and the kernel primitive each path wraps.
 *
 * Each row pair of the table is one benchmark case (struct bench_case): a
 * "put" and a "get" operation, done three ways (struct bench_impl): through
 * ipcfs, through nullfs (tests/bench/nullfs.c, a FUSE file system that does
 * nothing, built from the same libfuse), and with the native API (mq_send,
 * ...). A run puts a batch of messages, as many as the queue holds, then gets
 * them back, and again until it has done the row's count; puts and gets are
 * timed apart, and every message got is checked against the one put (zeros
 * for nullfs), so a wrong byte fails the run (exit 1). A row shows the median
 * of the runs; runs of all cases are interleaved, so drift hits all alike.
 * Ratios are throughput ratios: ipcfs's ops/s over nullfs's or native's.
 *
 *	$ tools/bench --smoke			# mounts both, runs this, unmounts
 *	$ bench [--smoke] MNT NULLMNT		# MNT/queues/q exists already
 *
 * A new row (channels, shm, semaphores) is three bench_impls and one entry
 * in bench_cases[]; nothing else here knows what a case measures.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* CPU_COUNT */
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifndef IPCFS_VERSION
#define IPCFS_VERSION "unknown"
#endif

#define BENCH_MAXRUNS 101
#define BENCH_MAXLEN 4096 /* bytes per message at most */
/* No batch may take longer than this: a lost message must not hang us. */
#define BENCH_WATCHDOG 30

enum { BENCH_IPCFS, BENCH_NULL, BENCH_NATIVE, BENCH_NSYS };
enum { BENCH_PUT, BENCH_GET };

static const char *const bench_sys_names[BENCH_NSYS] = {
	[BENCH_IPCFS] = "ipcfs",
	[BENCH_NULL] = "null",
	[BENCH_NATIVE] = "native",
};

struct bench {
	const char *mnt, *nullmnt, *queue;
	/* paths under the mounts and the queue's POSIX name */
	char qdir[PATH_MAX], data[PATH_MAX], stream[PATH_MAX];
	char nullfile[PATH_MAX];
	char mqname[NAME_MAX + 2];
	long maxmsg, msgsize;
	long ops, runs, warmup; /* ops per row and run, runs, warm-up ops */
	bool smoke, verbose;
	unsigned int only; /* systems to run, 1 << BENCH_* */
	unsigned long seq; /* messages made so far; each carries its number */
};

/*
 * One way to do a case's operations. `put` sends `len` bytes of `msg`; `get`
 * asks for `len` bytes into `buf`, which has room for max(len, msgsize)
 * bytes. Both return the bytes moved or -errno, having said what failed
 * (naming the path) on stderr.
 */
struct bench_impl {
	const char *what[2]; /* what put and get do, for the legend */
	int (*setup)(struct bench *b, void **priv);
	ssize_t (*put)(struct bench *b, void *priv, const char *msg,
		       size_t len);
	ssize_t (*get)(struct bench *b, void *priv, char *buf, size_t len);
	void (*teardown)(struct bench *b, void *priv);
	bool echoes; /* gets return what puts sent, else zeros */
};

struct bench_case {
	const char *row[2]; /* row labels of put and get */
	size_t len;	    /* bytes per message */
	double target;	    /* ipcfs/null throughput aim, 0: none */
	const struct bench_impl *impl[BENCH_NSYS]; /* NULL: no column */
};

static volatile sig_atomic_t bench_timed_out;

static void bench_alarm(int sig)
{
	bench_timed_out = 1;
}

static int64_t bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int bench_err(const char *what, const char *path, int err)
{
	fprintf(stderr, "bench: %s %s: %s\n", what, path, strerror(err));
	return -err;
}

/* Message number `seq`: "ipcfs-bench SEQ " then letters, then a newline. */
static void bench_fill(char *buf, size_t len, unsigned long seq)
{
	char head[32];
	size_t i, n;

	n = snprintf(head, sizeof(head), "ipcfs-bench %lu ", seq);
	for (i = 0; i < len; i++)
		buf[i] = i < n ? head[i] : 'a' + (seq + i) % 26;
	if (len > n)
		buf[len - 1] = '\n';
}

/* ------------------------------------------------------------------ */
/* Files: write(2)/read(2) on open descriptors, or open+op+close.      */

struct bench_files {
	const char *path[2]; /* put and get */
	int fd[2];	     /* -1: open for every operation */
};

static int bench_files_new(const char *put, const char *get, bool keep_open,
			   void **priv)
{
	struct bench_files *f;
	int ret = 0;

	f = calloc(1, sizeof(*f));
	if (!f) {
		ret = -ENOMEM;
		goto out;
	}
	f->path[BENCH_PUT] = put;
	f->path[BENCH_GET] = get;
	f->fd[BENCH_PUT] = f->fd[BENCH_GET] = -1;
	if (!keep_open)
		goto out;
	f->fd[BENCH_PUT] = open(put, O_WRONLY);
	if (f->fd[BENCH_PUT] < 0) {
		ret = bench_err("open", put, errno);
		goto out_free;
	}
	f->fd[BENCH_GET] = open(get, O_RDONLY);
	if (f->fd[BENCH_GET] < 0) {
		ret = bench_err("open", get, errno);
		goto out_close;
	}
	goto out;

out_close:
	close(f->fd[BENCH_PUT]);
out_free:
	free(f);
	f = NULL;
out:
	*priv = f;
	return ret;
}

static void bench_files_teardown(struct bench *b, void *priv)
{
	struct bench_files *f = priv;
	int i;

	for (i = 0; i < 2; i++)
		if (f->fd[i] >= 0)
			close(f->fd[i]);
	free(f);
}

static int bench_queue_fd_setup(struct bench *b, void **priv)
{
	return bench_files_new(b->data, b->stream, true, priv);
}

static int bench_queue_file_setup(struct bench *b, void **priv)
{
	return bench_files_new(b->data, b->data, false, priv);
}

static int bench_null_fd_setup(struct bench *b, void **priv)
{
	return bench_files_new(b->nullfile, b->nullfile, true, priv);
}

static int bench_null_file_setup(struct bench *b, void **priv)
{
	return bench_files_new(b->nullfile, b->nullfile, false, priv);
}

static ssize_t bench_fd_put(struct bench *b, void *priv, const char *msg,
			    size_t len)
{
	struct bench_files *f = priv;
	ssize_t ret;

	ret = write(f->fd[BENCH_PUT], msg, len);
	if (ret < 0)
		ret = bench_err("write", f->path[BENCH_PUT], errno);
	return ret;
}

static ssize_t bench_fd_get(struct bench *b, void *priv, char *buf, size_t len)
{
	struct bench_files *f = priv;
	ssize_t ret;

	ret = read(f->fd[BENCH_GET], buf, len);
	if (ret < 0)
		ret = bench_err("read", f->path[BENCH_GET], errno);
	return ret;
}

/* What `echo > data` does: O_CREAT|O_TRUNC as the shell opens, one write. */
static ssize_t bench_file_put(struct bench *b, void *priv, const char *msg,
			      size_t len)
{
	struct bench_files *f = priv;
	const char *path = f->path[BENCH_PUT];
	ssize_t ret;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (fd < 0) {
		ret = bench_err("open", path, errno);
		goto out;
	}
	ret = write(fd, msg, len);
	if (ret < 0)
		ret = bench_err("write", path, errno);
	if (close(fd) < 0 && ret >= 0)
		ret = bench_err("close", path, errno);
out:
	return ret;
}

/* What `cat data` does, but for the read that would see end-of-file. */
static ssize_t bench_file_get(struct bench *b, void *priv, char *buf,
			      size_t len)
{
	struct bench_files *f = priv;
	const char *path = f->path[BENCH_GET];
	ssize_t ret;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0) {
		ret = bench_err("open", path, errno);
		goto out;
	}
	ret = read(fd, buf, len);
	if (ret < 0)
		ret = bench_err("read", path, errno);
	if (close(fd) < 0 && ret >= 0)
		ret = bench_err("close", path, errno);
out:
	return ret;
}

/* ------------------------------------------------------------------ */
/* Native POSIX message queue, the one ipcfs shows as queues/Q.        */

struct bench_mq {
	mqd_t mq; /* (mqd_t)-1: open for every operation */
};

static int bench_mq_new(struct bench *b, bool keep_open, void **priv)
{
	struct bench_mq *m;
	int ret = 0;

	m = calloc(1, sizeof(*m));
	if (!m) {
		ret = -ENOMEM;
		goto out;
	}
	m->mq = (mqd_t)-1;
	if (keep_open) {
		m->mq = mq_open(b->mqname, O_RDWR);
		if (m->mq == (mqd_t)-1) {
			ret = bench_err("mq_open", b->mqname, errno);
			free(m);
			m = NULL;
		}
	}
out:
	*priv = m;
	return ret;
}

static int bench_mq_setup(struct bench *b, void **priv)
{
	return bench_mq_new(b, true, priv);
}

static int bench_mq_open_setup(struct bench *b, void **priv)
{
	return bench_mq_new(b, false, priv);
}

static void bench_mq_teardown(struct bench *b, void *priv)
{
	struct bench_mq *m = priv;

	if (m->mq != (mqd_t)-1)
		mq_close(m->mq);
	free(m);
}

static ssize_t bench_mq_send(struct bench *b, mqd_t mq, const char *msg,
			     size_t len)
{
	ssize_t ret = len;

	if (mq_send(mq, msg, len, 0) < 0)
		ret = bench_err("mq_send", b->mqname, errno);
	return ret;
}

/* mq_receive wants room for the largest message; `buf` has it. */
static ssize_t bench_mq_receive(struct bench *b, mqd_t mq, char *buf)
{
	ssize_t ret;

	ret = mq_receive(mq, buf, b->msgsize, NULL);
	if (ret < 0)
		ret = bench_err("mq_receive", b->mqname, errno);
	return ret;
}

static ssize_t bench_mq_put(struct bench *b, void *priv, const char *msg,
			    size_t len)
{
	struct bench_mq *m = priv;

	return bench_mq_send(b, m->mq, msg, len);
}

static ssize_t bench_mq_get(struct bench *b, void *priv, char *buf, size_t len)
{
	struct bench_mq *m = priv;

	return bench_mq_receive(b, m->mq, buf);
}

static ssize_t bench_mq_open_put(struct bench *b, void *priv, const char *msg,
				 size_t len)
{
	ssize_t ret;
	mqd_t mq;

	mq = mq_open(b->mqname, O_WRONLY);
	if (mq == (mqd_t)-1) {
		ret = bench_err("mq_open", b->mqname, errno);
	} else {
		ret = bench_mq_send(b, mq, msg, len);
		mq_close(mq);
	}
	return ret;
}

static ssize_t bench_mq_open_get(struct bench *b, void *priv, char *buf,
				 size_t len)
{
	ssize_t ret;
	mqd_t mq;

	mq = mq_open(b->mqname, O_RDONLY);
	if (mq == (mqd_t)-1) {
		ret = bench_err("mq_open", b->mqname, errno);
	} else {
		ret = bench_mq_receive(b, mq, buf);
		mq_close(mq);
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* The implementations and the table of cases.                         */

static const struct bench_impl bench_queue_fd = {
	.what = { "write(2) on open queues/Q/data",
		  "read(2) on open queues/Q/stream" },
	.setup = bench_queue_fd_setup,
	.put = bench_fd_put,
	.get = bench_fd_get,
	.teardown = bench_files_teardown,
	.echoes = true,
};

static const struct bench_impl bench_queue_file = {
	.what = { "open+write+close queues/Q/data",
		  "open+read+close queues/Q/data" },
	.setup = bench_queue_file_setup,
	.put = bench_file_put,
	.get = bench_file_get,
	.teardown = bench_files_teardown,
	.echoes = true,
};

static const struct bench_impl bench_null_fd = {
	.what = { "write(2) on open file", "read(2) on open file" },
	.setup = bench_null_fd_setup,
	.put = bench_fd_put,
	.get = bench_fd_get,
	.teardown = bench_files_teardown,
};

static const struct bench_impl bench_null_file = {
	.what = { "open+write+close file", "open+read+close file" },
	.setup = bench_null_file_setup,
	.put = bench_file_put,
	.get = bench_file_get,
	.teardown = bench_files_teardown,
};

static const struct bench_impl bench_mq = {
	.what = { "mq_send", "mq_receive" },
	.setup = bench_mq_setup,
	.put = bench_mq_put,
	.get = bench_mq_get,
	.teardown = bench_mq_teardown,
	.echoes = true,
};

static const struct bench_impl bench_mq_open = {
	.what = { "mq_open+mq_send+mq_close", "mq_open+mq_receive+mq_close" },
	.setup = bench_mq_open_setup,
	.put = bench_mq_open_put,
	.get = bench_mq_open_get,
	.teardown = bench_mq_teardown,
	.echoes = true,
};

static const struct bench_case bench_cases[] = {
	{
		.row = { "queue send 64 B", "queue receive 64 B" },
		.len = 64,
		.target = 0.8,
		.impl = { &bench_queue_fd, &bench_null_fd, &bench_mq },
	},
	{
		.row = { "echo > data, 64 B", "cat data, 64 B" },
		.len = 64,
		.impl = { &bench_queue_file, &bench_null_file, &bench_mq_open },
	},
};

#define BENCH_NCASES (sizeof(bench_cases) / sizeof(bench_cases[0]))

/* ------------------------------------------------------------------ */
/* Running.                                                            */

static void bench_show(FILE *f, const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		fputc(buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '.', f);
}

/* Whether message `seq`, got in `got`, is right; says what is wrong if not. */
static bool bench_check(const struct bench_case *c, int sys, const char *sent,
			const char *got, unsigned long seq)
{
	static const char zeros[BENCH_MAXLEN];
	const char *want = c->impl[sys]->echoes ? sent : zeros;
	bool ok = memcmp(got, want, c->len) == 0;

	if (!ok) {
		fprintf(stderr,
			"bench: %s (%s): message %lu is wrong\n  got  \"",
			c->row[BENCH_GET], bench_sys_names[sys], seq);
		bench_show(stderr, got, c->len);
		fprintf(stderr, "\"\n  want \"");
		bench_show(stderr, want, c->len);
		fprintf(stderr, "\"\n");
	}
	return ok;
}

/* Whether one operation moved the whole message; says so if not. */
static bool bench_moved(const struct bench_case *c, int sys, int op, ssize_t n)
{
	bool ok = n == (ssize_t)c->len;

	if (!ok && n >= 0)
		fprintf(stderr, "bench: %s (%s): %zd of %zu bytes\n",
			c->row[op], bench_sys_names[sys], n, c->len);
	return ok;
}

/*
 * Do `nops` puts and as many gets of case `c` the way `sys` does them, in
 * batches the queue can hold; add the nanoseconds spent to ns[put], ns[get].
 */
static int bench_case_run(struct bench *b, const struct bench_case *c, int sys,
			  long nops, double ns[2])
{
	const struct bench_impl *im = c->impl[sys];
	size_t stride = c->len > (size_t)b->msgsize ? c->len : b->msgsize;
	char *sent, *got;
	void *priv;
	long done, i, k;
	bool ok = true;
	int ret = -ENOMEM;

	sent = malloc(b->maxmsg * c->len);
	got = calloc(b->maxmsg, stride);
	if (!sent || !got)
		goto out;
	ret = im->setup(b, &priv);
	if (ret < 0)
		goto out;
	for (done = 0; done < nops && ret >= 0; done += k) {
		int64_t t0, t1, t2;

		k = nops - done < b->maxmsg ? nops - done : b->maxmsg;
		for (i = 0; i < k; i++)
			bench_fill(sent + i * c->len, c->len, b->seq + i);
		alarm(BENCH_WATCHDOG);
		t0 = bench_now();
		for (i = 0; i < k && ok; i++)
			ok = bench_moved(
				c, sys, BENCH_PUT,
				im->put(b, priv, sent + i * c->len, c->len));
		t1 = bench_now();
		for (i = 0; i < k && ok; i++)
			ok = bench_moved(
				c, sys, BENCH_GET,
				im->get(b, priv, got + i * stride, c->len));
		t2 = bench_now();
		alarm(0);
		ret = ok ? 0 : -EIO;
		for (i = 0; i < k && ret >= 0; i++)
			if (!bench_check(c, sys, sent + i * c->len,
					 got + i * stride, b->seq + i))
				ret = -EIO;
		ns[BENCH_PUT] += t1 - t0;
		ns[BENCH_GET] += t2 - t1;
		b->seq += k;
	}
	if (bench_timed_out)
		fprintf(stderr, "bench: %s (%s): no progress in %d s\n",
			c->row[BENCH_PUT], bench_sys_names[sys],
			BENCH_WATCHDOG);
	im->teardown(b, priv);
out:
	free(sent);
	free(got);
	return ret;
}

static double *bench_sample(double *samples, struct bench *b, size_t ci,
			    int sys, int op, long run)
{
	return &samples[((ci * BENCH_NSYS + sys) * 2 + op) * b->runs + run];
}

/* Warm every path up, then time `runs` runs of every case, interleaved. */
static int bench_all(struct bench *b, double *samples)
{
	size_t ci;
	long run;
	int ret = 0, sys, op;

	for (run = -1; run < b->runs && ret >= 0; run++) {
		for (ci = 0; ci < BENCH_NCASES && ret >= 0; ci++) {
			const struct bench_case *c = &bench_cases[ci];

			for (sys = 0; sys < BENCH_NSYS && ret >= 0; sys++) {
				double ns[2] = { 0, 0 };
				long n = run < 0 ? b->warmup : b->ops;

				if (!c->impl[sys] || !(b->only & 1u << sys))
					continue;
				ret = bench_case_run(b, c, sys, n, ns);
				for (op = 0; run >= 0 && op < 2; op++) {
					*bench_sample(samples, b, ci, sys, op,
						      run) = ns[op] / n;
					if (b->verbose)
						fprintf(stderr,
							"run %ld: %-24s %-6s "
							"%9.3f us/op\n",
							run, c->row[op],
							bench_sys_names[sys],
							ns[op] / n / 1e3);
				}
			}
		}
	}
	return ret;
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double bench_median(const double *v, long n)
{
	double s[BENCH_MAXRUNS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), bench_cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void bench_print(struct bench *b, double *samples)
{
	struct utsname u;
	cpu_set_t cpus;
	bool below = false;
	size_t ci;
	int sys, op, ncpus = 0;

	uname(&u);
	if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0)
		ncpus = CPU_COUNT(&cpus);
	printf("ipcfs %s benchmark%s\n%ld ops per row and run, median of %ld "
	       "runs, in batches of %ld (the queue's\ncapacity); queue %s; "
	       "Linux %s; %d of %ld CPUs usable\n\n",
	       IPCFS_VERSION,
	       b->smoke ? " (smoke: few ops, noisy numbers)" : "", b->ops,
	       b->runs, b->maxmsg, b->mqname, u.release, ncpus,
	       sysconf(_SC_NPROCESSORS_ONLN));
	/* Columns: 24 for the row, 20 per system, 8 per ratio. */
	printf("%-24s %19s %19s %19s %6s  %6s\n", "", "------ ipcfs ------",
	       "----- null fs -----", "----- native ------", "ipcfs/",
	       "ipcfs/");
	printf("%-24s", "");
	for (sys = 0; sys < BENCH_NSYS; sys++)
		printf(" %10s %9s", "ops/s", "µs/op"); /* µ: 2 bytes */
	printf(" %6s  %6s\n", "null", "native");
	for (ci = 0; ci < BENCH_NCASES; ci++) {
		const struct bench_case *c = &bench_cases[ci];

		for (op = 0; op < 2; op++) {
			double med[BENCH_NSYS] = { 0 };

			printf("%-24s", c->row[op]);
			for (sys = 0; sys < BENCH_NSYS; sys++) {
				if (!c->impl[sys] || !(b->only & 1u << sys)) {
					printf(" %10s %8s", "-", "-");
					continue;
				}
				med[sys] = bench_median(bench_sample(samples, b,
								     ci, sys,
								     op, 0),
							b->runs);
				printf(" %10.0f %8.2f", 1e9 / med[sys],
				       med[sys] / 1e3);
			}
			for (sys = BENCH_NULL; sys < BENCH_NSYS; sys++) {
				double r = med[BENCH_IPCFS]
						   ? med[sys] / med[BENCH_IPCFS]
						   : 0;
				bool low = c->target && sys == BENCH_NULL &&
					   r && r < c->target;

				if (r)
					printf(" %6.2f%c", r, low ? '*' : ' ');
				else
					printf(" %6s ", "-");
				below |= low;
			}
			printf("\n");
		}
	}
	printf("\nRatios are throughput ratios (ipcfs ops/s / other ops/s)."
	       "%s\n",
	       below ? " *: below the target of 0.8." : "");
	for (ci = 0; ci < BENCH_NCASES; ci++) {
		const struct bench_case *c = &bench_cases[ci];

		for (op = 0; op < 2; op++) {
			printf("%s:", c->row[op]);
			for (sys = 0; sys < BENCH_NSYS; sys++)
				if (c->impl[sys])
					printf("%s %s: %s", sys ? ";" : "",
					       bench_sys_names[sys],
					       c->impl[sys]->what[op]);
			printf(".\n");
		}
	}
}

/* ------------------------------------------------------------------ */
/* Setting up.                                                         */

static int bench_read_long(const char *path, long *val)
{
	char buf[64], *end;
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_RDONLY);
	if (fd < 0) {
		ret = bench_err("open", path, errno);
		goto out;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		ret = bench_err("read", path, errno);
		goto out_close;
	}
	buf[n] = '\0';
	errno = 0;
	*val = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && strcmp(end, "\n") != 0) ||
	    *val <= 0)
		ret = bench_err("parse", path, EINVAL);
out_close:
	close(fd);
out:
	return ret;
}

/* The queue's POSIX name, from the directory's user.ipcfs.name. */
static int bench_mq_name(struct bench *b)
{
	ssize_t n;
	int ret = 0;

	n = getxattr(b->qdir, "user.ipcfs.name", b->mqname,
		     sizeof(b->mqname) - 1);
	if (n < 0) {
		ret = bench_err("getxattr user.ipcfs.name", b->qdir, errno);
		goto out;
	}
	while (n > 0 && (b->mqname[n - 1] == '\n' || b->mqname[n - 1] == 0))
		n--;
	b->mqname[n] = '\0';
	if (b->mqname[0] != '/')
		ret = bench_err("getxattr user.ipcfs.name", b->qdir, EINVAL);
out:
	return ret;
}

/*
 * Learn the queue's name and capacity, check that the tree and mq_getattr
 * agree, and empty the queue: a run checks every message it gets.
 */
static int bench_queue_init(struct bench *b)
{
	struct mq_attr a;
	char path[PATH_MAX + 16], junk[1 << 16];
	long v;
	mqd_t mq;
	int ret = 0;

	if (b->only & 1u << BENCH_IPCFS || !b->mqname[0])
		ret = bench_mq_name(b);
	if (ret < 0)
		goto out;
	mq = mq_open(b->mqname, O_RDONLY | O_NONBLOCK);
	if (mq == (mqd_t)-1) {
		ret = bench_err("mq_open", b->mqname, errno);
		goto out;
	}
	if (mq_getattr(mq, &a) < 0) {
		ret = bench_err("mq_getattr", b->mqname, errno);
		goto out_close;
	}
	b->maxmsg = a.mq_maxmsg;
	b->msgsize = a.mq_msgsize;
	if (a.mq_curmsgs)
		fprintf(stderr, "bench: %s holds %ld messages; dropping them\n",
			b->mqname, a.mq_curmsgs);
	while (a.mq_msgsize <= (long)sizeof(junk) &&
	       mq_receive(mq, junk, sizeof(junk), NULL) >= 0)
		;
	if (!(b->only & 1u << BENCH_IPCFS))
		goto out_close;
	snprintf(path, sizeof(path), "%s/maxmsg", b->qdir);
	ret = bench_read_long(path, &v);
	if (ret >= 0 && v != b->maxmsg) {
		fprintf(stderr, "bench: %s says %ld, mq_getattr %ld\n", path, v,
			b->maxmsg);
		ret = -EINVAL;
	}
	if (ret < 0)
		goto out_close;
	snprintf(path, sizeof(path), "%s/msgsize", b->qdir);
	ret = bench_read_long(path, &v);
	if (ret >= 0 && v != b->msgsize) {
		fprintf(stderr, "bench: %s says %ld, mq_getattr %ld\n", path, v,
			b->msgsize);
		ret = -EINVAL;
	}
out_close:
	mq_close(mq);
out:
	return ret;
}

static int bench_path(char *dst, const char *root, const char *rest)
{
	int ret = 0;

	if (snprintf(dst, PATH_MAX, "%s/%s", root, rest) >= PATH_MAX)
		ret = bench_err("path", root, ENAMETOOLONG);
	return ret;
}

static int bench_init(struct bench *b)
{
	char rest[NAME_MAX + 32];
	struct sigaction sa = { .sa_handler = bench_alarm };
	size_t ci;
	int ret = 0;

	/* No SA_RESTART: a stuck read(2) must come back with EINTR. */
	sigaction(SIGALRM, &sa, NULL);
	snprintf(rest, sizeof(rest), "queues/%s", b->queue);
	ret = bench_path(b->qdir, b->mnt, rest);
	if (ret >= 0)
		ret = bench_path(b->data, b->qdir, "data");
	if (ret >= 0)
		ret = bench_path(b->stream, b->qdir, "stream");
	if (ret >= 0)
		ret = bench_path(b->nullfile, b->nullmnt, "file");
	if (ret >= 0)
		ret = bench_queue_init(b);
	for (ci = 0; ci < BENCH_NCASES && ret >= 0; ci++) {
		if (bench_cases[ci].len > (size_t)b->msgsize ||
		    bench_cases[ci].len > BENCH_MAXLEN) {
			fprintf(stderr,
				"bench: %s: %zu-byte messages do not "
				"fit the queue (msgsize %ld)\n",
				bench_cases[ci].row[0], bench_cases[ci].len,
				b->msgsize);
			ret = -EMSGSIZE;
		}
	}
	return ret;
}

static void bench_usage(FILE *f)
{
	fprintf(f,
		"usage: bench [--smoke] [OPTIONS] MNT NULLMNT\n"
		"Time ipcfs's data paths on MNT/queues/Q against the nullfs\n"
		"mounted at NULLMNT and against the native API, and print a\n"
		"table. Normally run by tools/bench, which mounts both.\n\n"
		"  --smoke          a few hundred ops per row: seconds, not a "
		"minute\n"
		"  --ops N          ops per row and run (20000; smoke 200)\n"
		"  --runs N         runs per row, the median is shown (7; "
		"smoke 5)\n"
		"  --queue NAME     the queue directory, MNT/queues/NAME (q)\n"
		"  --only LIST      systems to time: ipcfs,null,native (all)\n"
		"  --mq /NAME       POSIX queue for native when ipcfs is not "
		"timed\n"
		"  -v, --verbose    print every run on stderr\n"
		"  -h, --help       this text\n"
		"  -V, --version    the version\n"
		"Exit status: 0 done, 1 a path failed or returned wrong "
		"data, 2 usage.\n");
}

static int bench_parse_count(const char *arg, long max, long *val)
{
	char *end;
	int ret = 0;

	errno = 0;
	*val = strtol(arg, &end, 10);
	if (errno || *end || end == arg || *val < 1 || *val > max) {
		fprintf(stderr, "bench: bad count '%s' (1..%ld)\n", arg, max);
		ret = -EINVAL;
	}
	return ret;
}

static int bench_parse_only(const char *arg, unsigned int *only)
{
	char *copy, *tok, *save;
	int sys, ret = 0;

	*only = 0;
	copy = strdup(arg);
	for (tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && ret >= 0;
	     tok = strtok_r(NULL, ",", &save)) {
		for (sys = 0; sys < BENCH_NSYS; sys++)
			if (strcmp(tok, bench_sys_names[sys]) == 0)
				break;
		if (sys < BENCH_NSYS) {
			*only |= 1u << sys;
		} else {
			fprintf(stderr, "bench: unknown system '%s'\n", tok);
			ret = -EINVAL;
		}
	}
	free(copy);
	if (!*only)
		ret = -EINVAL;
	return ret;
}

/* Returns 0 to go on, or the exit status + 1 (help, version, bad usage). */
static int bench_parse(struct bench *b, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "smoke", no_argument, NULL, 's' },
		{ "ops", required_argument, NULL, 'n' },
		{ "runs", required_argument, NULL, 'r' },
		{ "queue", required_argument, NULL, 'q' },
		{ "only", required_argument, NULL, 'o' },
		{ "mq", required_argument, NULL, 'm' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	long ops = 0, runs = 0;
	int c, ret = 0;

	while (ret == 0 &&
	       (c = getopt_long(argc, argv, "vhV", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			b->smoke = true;
			break;
		case 'n':
			if (bench_parse_count(optarg, 100000000, &ops) < 0)
				ret = 3;
			break;
		case 'r':
			if (bench_parse_count(optarg, BENCH_MAXRUNS, &runs) < 0)
				ret = 3;
			break;
		case 'q':
			b->queue = optarg;
			break;
		case 'o':
			if (bench_parse_only(optarg, &b->only) < 0)
				ret = 3;
			break;
		case 'm':
			snprintf(b->mqname, sizeof(b->mqname), "%s", optarg);
			break;
		case 'v':
			b->verbose = true;
			break;
		case 'h':
			bench_usage(stdout);
			ret = 1;
			break;
		case 'V':
			printf("bench (ipcfs) %s\n", IPCFS_VERSION);
			ret = 1;
			break;
		default:
			ret = 3;
			break;
		}
	}
	if (ret == 0 && argc - optind != 2) {
		fprintf(stderr, "bench: want MNT and NULLMNT\n");
		ret = 3;
	}
	if (ret == 3)
		bench_usage(stderr);
	if (ret == 0) {
		b->mnt = argv[optind];
		b->nullmnt = argv[optind + 1];
		b->ops = ops ? ops : b->smoke ? 200 : 20000;
		b->runs = runs ? runs : b->smoke ? 5 : 7;
		/* enough for libfuse to have started its worker threads */
		b->warmup = b->ops < 2000 ? b->ops : 2000;
	}
	return ret;
}

int main(int argc, char **argv)
{
	struct bench b = {
		.queue = "q",
		.only = (1u << BENCH_NSYS) - 1,
	};
	double *samples = NULL;
	int status;

	/* bench_parse's 1..3 are exit statuses 0..2 */
	status = bench_parse(&b, argc, argv) - 1;
	if (status >= 0)
		goto out;
	status = 1;
	if (bench_init(&b) < 0)
		goto out;
	samples = calloc(BENCH_NCASES * BENCH_NSYS * 2 * b.runs,
			 sizeof(*samples));
	if (!samples)
		goto out;
	if (bench_all(&b, samples) < 0)
		goto out;
	bench_print(&b, samples);
	status = 0;
out:
	free(samples);
	return status;
}

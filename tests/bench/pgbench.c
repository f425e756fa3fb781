/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pgbench.c - how fast ipcfs's PostgreSQL engine is between two mounts of
 * one database, next to a program that calls the same SQL functions with
 * libpq itself (the engine's "native API", backends/pg/schema.sql).
 *
 * Mounts A and B stand for two hosts. Each row is done two ways, one run
 * after the other, on the same objects of the same server:
 *
 *   ipcfs   plain file I/O: writes on open files of A, reads on open files
 *           of B (each operation a FUSE request, a query of the daemon);
 *   native  the SQL function the daemon calls for that operation, on two
 *           libpq connections (a sender's and a receiver's), binary
 *           parameters and results, unprepared, as the daemon sends them.
 *
 * Rows: queue 64 B send (A data) and receive (B stream) in batches the
 * queue holds, and the pair, next to native calls of the tagged mq_send the
 * daemon makes (what exactly-once costs the database); the queue pipelined
 * (a sender thread, a receiver); sem post; channel 1 MiB write on A then
 * read on B; shm 1 MiB pwrite on A then pread on B. And the latency of one
 * cross-mount wake-up: a reader parked on B's stream, a write on A, the
 * time until the read returns; natively, a reader LISTENing on one
 * connection, mq_send (which NOTIFYs) on the other, the time until the
 * notification came and mq_receive returned the message. Every byte got is
 * checked, every run, so a wrong or lost byte fails the run (exit 1).
 *
 * A row shows the median of the runs (runs of every row and both ways are
 * interleaved, so drift hits all alike); latencies are pooled over all
 * runs. Ratios are ipcfs's throughput over native's.
 *
 *	$ tools/bench-pg --smoke	# a server, two mounts, this, cleanup
 *	$ pgbench [--smoke] A B		# A/queues/q etc. exist; env PG*
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <libpq-fe.h>

#ifndef IPCFS_VERSION
#define IPCFS_VERSION "unknown"
#endif

#define PGB_MIB (1 << 20)
#define PGB_SMALL 64 /* bytes of a queue message */
#define PGB_MAXRUNS 101
#define PGB_WATCHDOG 30	      /* s a batch or a wake-up may take at most */
#define PGB_PARK_WAIT_MS 2000 /* for the reader to show in `waiters` */
#define PGB_MAXMSG 64	      /* the queue's capacity: a batch */
#define PGB_WAKE_TARGET_MS 5.0
#define PGB_QUEUE_TARGET 0.7

enum { PGB_IPCFS, PGB_NATIVE, PGB_NSYS };
enum { PGB_PUT, PGB_GET, PGB_PAIR, PGB_NOPS };

static const char *const pgb_sys_names[PGB_NSYS] = { "ipcfs", "native" };

struct pgb {
	const char *a, *b;			      /* the mounts */
	const char *queue, *sem, *channel, *shm;      /* directory names */
	char mq[NAME_MAX + 2], semname[NAME_MAX + 2]; /* POSIX names */
	char chname[NAME_MAX + 2], shmname[NAME_MAX + 2];
	PGconn *send, *recv; /* native: the sender's, the receiver's */
	char tag[64];	     /* native tagged sends: "MOUNT KEY " */
	long long tag_n;     /* and N, the call's number */
	long ops, runs, samples;
	bool smoke, verbose;
	unsigned long seq; /* messages made so far */
	char *buf[2];	   /* PGB_MIB each: what is sent, what is got */
};

/* One row pair: a put and a get (or a put alone), done two ways. */
struct pgb_case {
	const char *row[PGB_NOPS]; /* NULL: no such row */
	const char *what[PGB_NSYS];
	size_t len;
	bool bandwidth;
	long scale;	  /* runs do ops / scale operations */
	bool ipcfs_above; /* no ipcfs runs: the row above's, for the ratio */
	double target;	  /* of the pair (or put) row, ipcfs/native; 0: none */
	int (*run)(struct pgb *b, int sys, long nops, double ns[2]);
};

static int64_t pgb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int pgb_err(const char *what, const char *path, int err)
{
	fprintf(stderr, "pgbench: %s %s: %s\n", what, path, strerror(err));
	return -err;
}

/* Nothing to do: the signal is there to end a blocked read with EINTR. */
static void pgb_kick(int sig)
{
}

/*
 * Message `seq` of len bytes: "pgbench SEQ " then letters, a newline last;
 * past 4 KiB, 64-bit words counting up from seq << 32 (cheap to make).
 */
static void pgb_fill(char *buf, size_t len, unsigned long seq)
{
	size_t text = len < 4096 ? len : 4096, i, n;
	uint64_t w = (uint64_t)seq << 32;
	char head[32];

	n = snprintf(head, sizeof(head), "pgbench %lu ", seq);
	for (i = 0; i < text; i++)
		buf[i] = i < n ? head[i] : 'a' + (seq + i) % 26;
	for (; i + sizeof(w) <= len; i += sizeof(w), w++)
		memcpy(buf + i, &w, sizeof(w));
	for (; i < len; i++)
		buf[i] = 'z';
	if (len > n)
		buf[len - 1] = '\n';
}

/* Whether got is want; says where not, showing a little of both. */
static bool pgb_same(const char *row, const char *sys, const char *got,
		     size_t n, const char *want, size_t len)
{
	size_t at = 0, i;

	if (n == len && memcmp(got, want, len) == 0)
		return true;
	while (at < n && at < len && got[at] == want[at])
		at++;
	fprintf(stderr,
		"pgbench: %s (%s): %zu bytes where %zu were sent, "
		"wrong from byte %zu\n  got  \"",
		row, sys, n, len, at);
	for (i = at; i < n && i < at + 32; i++)
		fputc(got[i] >= 0x20 && got[i] < 0x7f ? got[i] : '.', stderr);
	fprintf(stderr, "\"\n  want \"");
	for (i = at; i < len && i < at + 32; i++)
		fputc(want[i] >= 0x20 && want[i] < 0x7f ? want[i] : '.',
		      stderr);
	fprintf(stderr, "\"\n");
	return false;
}

/* ------------------------------------------------------------------ */
/* Files.                                                              */

static int pgb_open(const struct pgb *b, const char *mnt, const char *kind,
		    const char *name, const char *file, int flags)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s/%s", mnt, kind, name, file);
	fd = open(path, flags);
	if (fd < 0)
		return pgb_err("open", path, errno);
	return fd;
}

/* All of len bytes at off (-1: the file's offset); 0 or -errno. */
static int pgb_write_all(int fd, const char *buf, size_t len, off_t off,
			 const char *what)
{
	ssize_t n;
	size_t done = 0;

	while (done < len) {
		if (off < 0)
			n = write(fd, buf + done, len - done);
		else
			n = pwrite(fd, buf + done, len - done, off + done);
		if (n < 0)
			return pgb_err("write", what, errno);
		if (n == 0)
			return pgb_err("write", what, EIO);
		done += n;
	}
	return 0;
}

/* len bytes at off (-1: stream), or fewer at end-of-file: bytes or -errno. */
static ssize_t pgb_read_all(int fd, char *buf, size_t len, off_t off,
			    const char *what)
{
	ssize_t n;
	size_t done = 0;

	while (done < len) {
		if (off < 0)
			n = read(fd, buf + done, len - done);
		else
			n = pread(fd, buf + done, len - done, off + done);
		if (n < 0)
			return pgb_err("read", what, errno);
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

/* `echo VAL > A/KIND/NAME/FILE`, in one write, and read back. */
static int pgb_set(const struct pgb *b, const char *kind, const char *name,
		   const char *file, long val)
{
	char s[32], got[32];
	ssize_t n;
	int fd, ret;

	snprintf(s, sizeof(s), "%ld\n", val);
	fd = pgb_open(b, b->a, kind, name, file, O_WRONLY);
	if (fd < 0)
		return fd;
	ret = pgb_write_all(fd, s, strlen(s), -1, file);
	close(fd);
	if (ret < 0)
		return ret;
	fd = pgb_open(b, b->a, kind, name, file, O_RDONLY);
	if (fd < 0)
		return fd;
	n = read(fd, got, sizeof(got) - 1);
	close(fd);
	if (n < 0 || (size_t)n != strlen(s) || memcmp(got, s, n) != 0) {
		fprintf(stderr, "pgbench: %s/%s/%s: not %ld after writing it\n",
			kind, name, file, val);
		return -EINVAL;
	}
	return 0;
}

/* An object's POSIX name, from its directory's user.ipcfs.name on A. */
static int pgb_posix_name(const struct pgb *b, const char *kind,
			  const char *name, char *dst, size_t size)
{
	char dir[PATH_MAX];
	ssize_t n;

	snprintf(dir, sizeof(dir), "%s/%s/%s", b->a, kind, name);
	n = getxattr(dir, "user.ipcfs.name", dst, size - 1);
	if (n < 0)
		return pgb_err("getxattr user.ipcfs.name", dir, errno);
	while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == 0))
		n--;
	dst[n] = '\0';
	if (dst[0] != '/')
		return pgb_err("getxattr user.ipcfs.name", dir, EINVAL);
	return 0;
}

/* ------------------------------------------------------------------ */
/* libpq: one call, as the daemon makes it.                            */

/*
 * The statements prepared, on which connection: each (connection, SQL
 * string) once, as the daemon prepares each call once per connection
 * (conn.c), so that both sides pay the same per call.
 */
#define PGB_PREPARED_MAX 64
static pthread_mutex_t pgb_prepared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	PGconn *c;
	const char *sql;
} pgb_prepared[PGB_PREPARED_MAX];
static int pgb_nprepared;

/* sql's statement name on c ("b" and a number), prepared if new; NULL: none. */
static const char *pgb_prepare(PGconn *c, const char *sql, int n, char name[16])
{
	PGresult *r;
	int i;

	pthread_mutex_lock(&pgb_prepared_lock);
	for (i = 0; i < pgb_nprepared; i++)
		if (pgb_prepared[i].c == c && pgb_prepared[i].sql == sql)
			break;
	snprintf(name, 16, "b%d", i);
	if (i == pgb_nprepared && i < PGB_PREPARED_MAX) {
		r = PQprepare(c, name, sql, n, NULL);
		if (PQresultStatus(r) == PGRES_COMMAND_OK) {
			pgb_prepared[i].c = c;
			pgb_prepared[i].sql = sql;
			pgb_nprepared++;
		}
		PQclear(r);
	}
	pthread_mutex_unlock(&pgb_prepared_lock);
	return i < pgb_nprepared ? name : NULL;
}

/* c is going: its statements with it (another may get its address). */
static void pgb_finish(PGconn *c)
{
	int i;

	pthread_mutex_lock(&pgb_prepared_lock);
	for (i = 0; i < pgb_nprepared; i++)
		if (pgb_prepared[i].c == c)
			pgb_prepared[i].c = NULL;
	pthread_mutex_unlock(&pgb_prepared_lock);
	PQfinish(c);
}

/*
 * Run sql with text parameters, but for a binary one (vals[bin], of blen
 * bytes; bin < 0: none); binary results. NULL after saying what failed.
 */
static PGresult *pgb_sql(PGconn *c, const char *sql, int n,
			 const char *const *vals, int bin, int blen)
{
	int lens[4] = { 0 }, fmts[4] = { 0 };
	char name[16];
	PGresult *r;

	if (bin >= 0) {
		lens[bin] = blen;
		fmts[bin] = 1;
	}
	if (pgb_prepare(c, sql, n, name))
		r = PQexecPrepared(c, name, n, vals, lens, fmts, 1);
	else
		r = PQexecParams(c, sql, n, NULL, vals, lens, fmts, 1);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	fprintf(stderr, "pgbench: %s: %s", sql,
		r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	PQclear(r);
	return NULL;
}

/* A binary int2/int4/int8/bool field. */
static long long pgb_int(const PGresult *r, int row, int col)
{
	const unsigned char *p = (const void *)PQgetvalue(r, row, col);
	int len = PQgetlength(r, row, col);
	long long v = 0;
	int i;

	if (PQgetisnull(r, row, col))
		return 0;
	for (i = 0; i < len; i++)
		v = v << 8 | p[i];
	if (len < 8 && len > 0 && p[0] & 0x80)
		v -= 1LL << (8 * len);
	return v;
}

/*
 * mq_send on the sender's connection: 1 sent, 0 full, -1 failed (said).
 * tagged: the 4-argument mq_send the daemon calls, made once however often
 * it is sent (a new call each time).
 */
static int pgb_mq_send_try(struct pgb *b, const char *msg, size_t len,
			   bool tagged)
{
	char tag[sizeof(b->tag) + 48];
	const char *v[] = { b->mq, msg, tag };
	PGresult *r;
	bool ok;

	if (tagged) {
		snprintf(tag, sizeof(tag), "%s%lld 0", b->tag, ++b->tag_n);
		r = pgb_sql(b->send, "SELECT ipcfs.mq_send($1, $2, 0, $3)", 3,
			    v, 1, len);
	} else {
		r = pgb_sql(b->send, "SELECT ipcfs.mq_send($1, $2, 0)", 2, v, 1,
			    len);
	}
	ok = r && PQntuples(r) == 1 && pgb_int(r, 0, 0);
	PQclear(r);
	return r ? ok : -1;
}

static bool pgb_mq_send(struct pgb *b, const char *msg, size_t len, bool tagged)
{
	int ret = pgb_mq_send_try(b, msg, len, tagged);

	if (ret == 0)
		fprintf(stderr, "pgbench: mq_send %s: the queue is full\n",
			b->mq);
	return ret > 0;
}

/*
 * One message into buf: its length, 0 when empty, or -1 (said). tagged:
 * the 2-argument mq_receive the daemon calls (a handle of key 2).
 */
static ssize_t pgb_mq_receive_tag(struct pgb *b, PGconn *c, char *buf,
				  bool tagged)
{
	char tag[sizeof(b->tag) + 48];
	const char *v[] = { b->mq, tag };
	PGresult *r;
	ssize_t n = -1;

	if (tagged) {
		/* "MOUNT 1 " is the sender's handle; the receiver's is 2. */
		snprintf(tag, sizeof(tag), "%.*s2 %lld 0",
			 (int)strlen(b->tag) - 2, b->tag, ++b->tag_n);
		r = pgb_sql(c, "SELECT * FROM ipcfs.mq_receive($1, $2)", 2, v,
			    -1, 0);
	} else {
		r = pgb_sql(c, "SELECT * FROM ipcfs.mq_receive($1)", 1, v, -1,
			    0);
	}
	if (r && PQntuples(r) == 1) {
		n = PQgetlength(r, 0, 0);
		memcpy(buf, PQgetvalue(r, 0, 0), n);
	} else if (r) {
		n = 0;
	}
	PQclear(r);
	return n;
}

static ssize_t pgb_mq_receive_try(struct pgb *b, PGconn *c, char *buf)
{
	return pgb_mq_receive_tag(b, c, buf, false);
}

/* One message into buf: its length, or -1 (none is an error here). */
static ssize_t pgb_mq_receive_as(struct pgb *b, PGconn *c, char *buf,
				 bool tagged)
{
	ssize_t n = pgb_mq_receive_tag(b, c, buf, tagged);

	if (n == 0) {
		fprintf(stderr, "pgbench: mq_receive %s: empty\n", b->mq);
		n = -1;
	}
	return n;
}

static ssize_t pgb_mq_receive(struct pgb *b, PGconn *c, char *buf)
{
	return pgb_mq_receive_as(b, c, buf, false);
}

static PGconn *pgb_connect(void)
{
	PGconn *c = PQconnectdb("");

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr,
			"pgbench: cannot connect (libpq's PG* "
			"environment): %s",
			PQerrorMessage(c));
		pgb_finish(c);
		return NULL;
	}
	return c;
}

/*
 * Wait on a connection that LISTENs for a notification of a change of queue
 * mq (bounded): those that came with earlier results first, then the
 * socket's.
 */
static int pgb_wait_notify(PGconn *c, const char *mq)
{
	struct pollfd pfd = { .fd = PQsocket(c), .events = POLLIN };
	int64_t dl = pgb_now() + (int64_t)PGB_WATCHDOG * 1000000000;
	char id[NAME_MAX + 4];
	size_t il, pl;
	PGnotify *nt;
	bool ours = false;

	il = snprintf(id, sizeof(id), " %s", mq);
	for (;;) {
		if (!PQconsumeInput(c)) {
			fprintf(stderr, "pgbench: LISTEN: %s",
				PQerrorMessage(c));
			return -EIO;
		}
		while ((nt = PQnotifies(c))) {
			/* "queues c ID NAME": ours if it ends in " NAME" */
			pl = strlen(nt->extra);
			ours |= strncmp(nt->extra, "queues c ", 9) == 0 &&
				pl >= il &&
				strcmp(nt->extra + pl - il, id) == 0;
			PQfreemem(nt);
		}
		if (ours)
			return 0;
		if (pgb_now() > dl)
			return pgb_err("wait for NOTIFY on", mq, ETIMEDOUT);
		if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
			return pgb_err("poll", "a LISTEN connection", errno);
	}
}

/* ------------------------------------------------------------------ */
/* The rows.                                                           */

/*
 * Queue: k messages sent, then k received, until nops, k the queue's
 * capacity: ipcfs writes on A's data and reads B's stream (one message per
 * read), native calls mq_send and mq_receive on two connections.
 */
static int pgb_queue_do(struct pgb *b, int sys, long nops, double ns[2],
			bool tagged)
{
	char *sent = NULL, got[PGB_SMALL * 2];
	int afd = -1, bfd = -1, ret = -ENOMEM;
	long done, k, i;
	ssize_t n;

	sent = malloc((size_t)PGB_MAXMSG * PGB_SMALL);
	if (!sent)
		goto out;
	if (sys == PGB_IPCFS) {
		afd = pgb_open(b, b->a, "queues", b->queue, "data", O_WRONLY);
		bfd = pgb_open(b, b->b, "queues", b->queue, "stream", O_RDONLY);
		if (afd < 0 || bfd < 0) {
			ret = afd < 0 ? afd : bfd;
			goto out;
		}
	}
	ret = 0;
	for (done = 0; done < nops && ret == 0; done += k) {
		int64_t t0, t1, t2;

		k = nops - done < PGB_MAXMSG ? nops - done : PGB_MAXMSG;
		for (i = 0; i < k; i++)
			pgb_fill(sent + i * PGB_SMALL, PGB_SMALL, b->seq + i);
		alarm(PGB_WATCHDOG);
		t0 = pgb_now();
		for (i = 0; i < k && ret == 0; i++) {
			const char *m = sent + i * PGB_SMALL;

			if (sys == PGB_IPCFS)
				ret = pgb_write_all(afd, m, PGB_SMALL, -1,
						    "A data");
			else if (!pgb_mq_send(b, m, PGB_SMALL, tagged))
				ret = -EIO;
		}
		t1 = pgb_now();
		for (i = 0; i < k && ret == 0; i++) {
			if (sys == PGB_IPCFS) {
				n = read(bfd, got, sizeof(got));
				if (n < 0)
					ret = pgb_err("read", "B stream",
						      errno);
			} else {
				n = pgb_mq_receive_as(b, b->recv, got, tagged);
				if (n < 0)
					ret = -EIO;
			}
			if (ret == 0 &&
			    !pgb_same("queue receive", pgb_sys_names[sys], got,
				      n, sent + i * PGB_SMALL, PGB_SMALL))
				ret = -EIO;
		}
		t2 = pgb_now();
		alarm(0);
		ns[PGB_PUT] += t1 - t0;
		ns[PGB_GET] += t2 - t1;
		b->seq += k;
	}
out:
	if (afd >= 0)
		close(afd);
	if (bfd >= 0)
		close(bfd);
	free(sent);
	return ret;
}

static int pgb_queue(struct pgb *b, int sys, long nops, double ns[2])
{
	return pgb_queue_do(b, sys, nops, ns, false);
}

static int pgb_queue_tagged(struct pgb *b, int sys, long nops, double ns[2])
{
	return pgb_queue_do(b, sys, nops, ns, true);
}

/* The sending half of a pipelined run; the main thread receives. */
struct pgb_pipe {
	struct pgb *b;
	int sys;
	int fd; /* ipcfs: A's data */
	long nops;
	unsigned long seq0;
	atomic_bool stop, done;
	int ret;
};

/* native: send, waiting for a notification while the queue is full. */
static int pgb_pipe_send(struct pgb *b, const char *msg)
{
	int ret;

	while ((ret = pgb_mq_send_try(b, msg, PGB_SMALL, false)) == 0)
		if (pgb_wait_notify(b->send, b->mq) < 0)
			return -EIO;
	return ret > 0 ? 0 : -EIO;
}

static void *pgb_pipe_writer(void *arg)
{
	struct pgb_pipe *p = arg;
	char msg[PGB_SMALL];
	int ret = 0;
	long i;

	for (i = 0; i < p->nops && ret == 0 && !atomic_load(&p->stop); i++) {
		pgb_fill(msg, sizeof(msg), p->seq0 + i);
		if (p->sys == PGB_IPCFS)
			ret = pgb_write_all(p->fd, msg, sizeof(msg), -1,
					    "A data");
		else
			ret = pgb_pipe_send(p->b, msg);
	}
	p->ret = ret;
	atomic_store(&p->done, true);
	return NULL;
}

/* native: receive, waiting for a notification while the queue is empty. */
static ssize_t pgb_pipe_receive(struct pgb *b, char *buf)
{
	ssize_t n;

	while ((n = pgb_mq_receive_try(b, b->recv, buf)) == 0)
		if (pgb_wait_notify(b->recv, b->mq) < 0)
			return -1;
	return n;
}

/* LISTEN (or UNLISTEN) on both native connections: 0 or -EIO. */
static int pgb_listen(struct pgb *b, bool on)
{
	PGconn *c[] = { b->send, b->recv };
	PGresult *r;
	int i, ret = 0;

	for (i = 0; i < 2; i++) {
		r = PQexec(c[i], on ? "LISTEN ipcfs" : "UNLISTEN ipcfs");
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "pgbench: LISTEN: %s",
				PQerrorMessage(c[i]));
			ret = -EIO;
		}
		PQclear(r);
	}
	return ret;
}

/*
 * Pipelined: a thread sends nops messages while this one receives them, as
 * a producer and a consumer do; the queue (64) bounds how far the sender
 * runs ahead. ipcfs: writes on A's data, reads on B's stream, each side
 * parked by its daemon while the queue is full or empty; native: mq_send
 * and mq_receive, each side waiting for a notification on its own LISTEN
 * connection. The time is to the last message received.
 */
static int pgb_pipe(struct pgb *b, int sys, long nops, double ns[2])
{
	struct pgb_pipe p = { .b = b, .sys = sys, .fd = -1, .nops = nops };
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	char got[PGB_SMALL * 2], want[PGB_SMALL];
	sigset_t alrm, old;
	int bfd = -1, ret, err;
	pthread_t t;
	int64_t t0;
	ssize_t n;
	long i;

	p.seq0 = b->seq;
	b->seq += nops;
	if (sys == PGB_IPCFS) {
		p.fd = pgb_open(b, b->a, "queues", b->queue, "data", O_WRONLY);
		bfd = pgb_open(b, b->b, "queues", b->queue, "stream", O_RDONLY);
		ret = p.fd < 0 ? p.fd : bfd < 0 ? bfd : 0;
	} else {
		ret = pgb_listen(b, true);
	}
	if (ret < 0)
		goto out;
	/* The watchdog interrupts this thread's read, not the writer's. */
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &alrm, &old);
	t0 = pgb_now();
	err = pthread_create(&t, NULL, pgb_pipe_writer, &p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		ret = pgb_err("pthread_create", "pipelined", err);
		goto out;
	}
	alarm(PGB_WATCHDOG);
	for (i = 0; i < nops && ret == 0; i++) {
		if (sys == PGB_IPCFS) {
			n = read(bfd, got, sizeof(got));
			if (n < 0)
				ret = pgb_err("read", "B stream", errno);
		} else {
			n = pgb_pipe_receive(b, got);
			ret = n < 0 ? -EIO : 0;
		}
		pgb_fill(want, sizeof(want), p.seq0 + i);
		if (ret == 0 && !pgb_same("queue pipelined", pgb_sys_names[sys],
					  got, n, want, PGB_SMALL))
			ret = -EIO;
		if (i % PGB_MAXMSG == 0)
			alarm(PGB_WATCHDOG); /* progress */
	}
	ns[PGB_PUT] += pgb_now() - t0;
	alarm(0);
	/* Failed: the writer may wait for room nobody makes; interrupt it. */
	atomic_store(&p.stop, ret < 0);
	for (i = 0; ret < 0 && !atomic_load(&p.done); i++) {
		if (i == PGB_WATCHDOG * 100) {
			fprintf(stderr,
				"pgbench: pipelined (%s): the writer "
				"is stuck\n",
				pgb_sys_names[sys]);
			exit(1);
		}
		pthread_kill(t, SIGUSR1);
		nanosleep(&tick, NULL);
	}
	pthread_join(t, NULL);
	if (ret == 0)
		ret = p.ret;
out:
	if (sys == PGB_NATIVE && pgb_listen(b, false) < 0 && ret == 0)
		ret = -EIO;
	if (p.fd >= 0)
		close(p.fd);
	if (bfd >= 0)
		close(bfd);
	return ret;
}

static int pgb_sem_value(struct pgb *b, long long *val)
{
	const char *v[] = { b->semname };
	PGresult *r;

	r = pgb_sql(b->recv, "SELECT ipcfs.sem_value($1)", 1, v, -1, 0);
	if (!r)
		return -EIO;
	*val = pgb_int(r, 0, 0);
	PQclear(r);
	return 0;
}

/*
 * sem post: "\n" written on an open A post file, or sem_post(NAME, 1); the
 * value must have grown by nops (it stays far below its maximum).
 */
static int pgb_sem(struct pgb *b, int sys, long nops, double ns[2])
{
	const char *v[] = { b->semname };
	long long before, after;
	int fd = -1, ret;
	PGresult *r;
	int64_t t0;
	long i;

	ret = pgb_sem_value(b, &before);
	if (ret == 0 && sys == PGB_IPCFS) {
		fd = pgb_open(b, b->a, "sem", b->sem, "post", O_WRONLY);
		ret = fd < 0 ? fd : 0;
	}
	alarm(PGB_WATCHDOG);
	t0 = pgb_now();
	for (i = 0; i < nops && ret == 0; i++) {
		if (sys == PGB_IPCFS) {
			ret = pgb_write_all(fd, "\n", 1, -1, "A post");
			continue;
		}
		r = pgb_sql(b->send, "SELECT ipcfs.sem_post($1, 1)", 1, v, -1,
			    0);
		ret = r ? 0 : -EIO;
		PQclear(r);
	}
	ns[PGB_PUT] += pgb_now() - t0;
	alarm(0);
	if (fd >= 0)
		close(fd);
	if (ret == 0)
		ret = pgb_sem_value(b, &after);
	if (ret == 0 && after - before != nops) {
		fprintf(stderr,
			"pgbench: sem post (%s): %lld posts counted "
			"for %ld\n",
			pgb_sys_names[sys], after - before, nops);
		ret = -EIO;
	}
	return ret;
}

/* native: channel_write of len bytes until all went in (room: 1 MiB). */
static int pgb_channel_write(struct pgb *b, const char *buf, size_t len)
{
	const char *v[2] = { b->chname };
	size_t done = 0;
	PGresult *r;
	long long n;

	while (done < len) {
		v[1] = buf + done;
		r = pgb_sql(b->send, "SELECT ipcfs.channel_write($1, $2)", 2, v,
			    1, len - done);
		if (!r)
			return -EIO;
		n = pgb_int(r, 0, 0);
		PQclear(r);
		if (n <= 0) {
			fprintf(stderr, "pgbench: channel_write %s: no room\n",
				b->chname);
			return -EIO;
		}
		done += n;
	}
	return 0;
}

/* native: channel_read until len bytes came; bytes, or -errno. */
static ssize_t pgb_channel_read(struct pgb *b, char *buf, size_t len)
{
	const char *v[2] = { b->chname };
	char max[24];
	size_t done = 0;
	PGresult *r;
	int n;

	while (done < len) {
		snprintf(max, sizeof(max), "%zu", len - done);
		v[1] = max;
		r = pgb_sql(b->recv,
			    "SELECT data FROM ipcfs.channel_read($1, $2)", 2, v,
			    -1, 0);
		if (!r)
			return -EIO;
		n = PQntuples(r) ? PQgetlength(r, 0, 0) : 0;
		memcpy(buf + done, PQgetvalue(r, 0, 0), n);
		PQclear(r);
		if (n == 0)
			break; /* all written went in: nothing more comes */
		done += n;
	}
	return done;
}

/*
 * channel: 1 MiB written (A's data, or channel_write), then read until all
 * of it came (B's data, or channel_read). The channel holds 1 MiB, so each
 * write goes in whole and each read finds it all there.
 */
static int pgb_channel(struct pgb *b, int sys, long nops, double ns[2])
{
	int afd = -1, bfd = -1, ret = 0;
	ssize_t n;
	long i;

	if (sys == PGB_IPCFS) {
		/* The writer first: the reader has then seen one (no EOF). */
		afd = pgb_open(b, b->a, "channels", b->channel, "data",
			       O_WRONLY);
		bfd = pgb_open(b, b->b, "channels", b->channel, "data",
			       O_RDONLY);
		if (afd < 0 || bfd < 0) {
			ret = afd < 0 ? afd : bfd;
			goto out;
		}
	}
	for (i = 0; i < nops && ret == 0; i++) {
		int64_t t0, t1, t2;

		pgb_fill(b->buf[0], PGB_MIB, b->seq++);
		alarm(PGB_WATCHDOG);
		t0 = pgb_now();
		if (sys == PGB_IPCFS)
			ret = pgb_write_all(afd, b->buf[0], PGB_MIB, -1,
					    "A channel data");
		else
			ret = pgb_channel_write(b, b->buf[0], PGB_MIB);
		t1 = pgb_now();
		if (ret == 0) {
			if (sys == PGB_IPCFS)
				n = pgb_read_all(bfd, b->buf[1], PGB_MIB, -1,
						 "B channel data");
			else
				n = pgb_channel_read(b, b->buf[1], PGB_MIB);
			ret = n < 0 ? n : 0;
		}
		t2 = pgb_now();
		alarm(0);
		if (ret == 0 && !pgb_same("channel read", pgb_sys_names[sys],
					  b->buf[1], n, b->buf[0], PGB_MIB))
			ret = -EIO;
		ns[PGB_PUT] += t1 - t0;
		ns[PGB_GET] += t2 - t1;
	}
out:
	if (afd >= 0)
		close(afd);
	if (bfd >= 0)
		close(bfd);
	return ret;
}

/* shm: 1 MiB written at 0 (A's data, or shm_write), then read (B's). */
static int pgb_shm(struct pgb *b, int sys, long nops, double ns[2])
{
	const char *v[3] = { b->shmname, "0" };
	int afd = -1, bfd = -1, ret = 0;
	PGresult *r;
	ssize_t n;
	long i;

	if (sys == PGB_IPCFS) {
		afd = pgb_open(b, b->a, "shm", b->shm, "data", O_RDWR);
		bfd = pgb_open(b, b->b, "shm", b->shm, "data", O_RDONLY);
		if (afd < 0 || bfd < 0) {
			ret = afd < 0 ? afd : bfd;
			goto out;
		}
	}
	for (i = 0; i < nops && ret == 0; i++) {
		int64_t t0, t1, t2;

		pgb_fill(b->buf[0], PGB_MIB, b->seq++);
		alarm(PGB_WATCHDOG);
		t0 = pgb_now();
		if (sys == PGB_IPCFS) {
			ret = pgb_write_all(afd, b->buf[0], PGB_MIB, 0,
					    "A shm data");
		} else {
			v[2] = b->buf[0];
			r = pgb_sql(b->send,
				    "SELECT ipcfs.shm_write($1, $2, $3)", 3, v,
				    2, PGB_MIB);
			ret = r && pgb_int(r, 0, 0) == PGB_MIB ? 0 : -EIO;
			PQclear(r);
		}
		t1 = pgb_now();
		n = 0;
		if (ret == 0 && sys == PGB_IPCFS) {
			n = pgb_read_all(bfd, b->buf[1], PGB_MIB, 0,
					 "B shm data");
			ret = n < 0 ? n : 0;
		} else if (ret == 0) {
			v[2] = "1048576";
			r = pgb_sql(b->recv,
				    "SELECT ipcfs.shm_read($1, $2, $3)", 3, v,
				    -1, 0);
			if (r) {
				n = PQgetlength(r, 0, 0);
				memcpy(b->buf[1], PQgetvalue(r, 0, 0),
				       n < PGB_MIB ? n : PGB_MIB);
			}
			ret = r ? 0 : -EIO;
			PQclear(r);
		}
		t2 = pgb_now();
		alarm(0);
		if (ret == 0 && !pgb_same("shm pread", pgb_sys_names[sys],
					  b->buf[1], n, b->buf[0], PGB_MIB))
			ret = -EIO;
		ns[PGB_PUT] += t1 - t0;
		ns[PGB_GET] += t2 - t1;
	}
out:
	if (afd >= 0)
		close(afd);
	if (bfd >= 0)
		close(bfd);
	return ret;
}

static const struct pgb_case pgb_cases[] = {
	{
		.row = { "queue send 64 B", "queue receive 64 B",
			 "queue send+receive 64 B" },
		.what = { "write(2) on A's data, read(2) on B's stream",
			  "mq_send, mq_receive on two connections" },
		.len = PGB_SMALL,
		.scale = 1,
		.run = pgb_queue,
	},
	{
		/* What the daemon's calls cost the database: tagged. */
		.row = { "  native send tagged", "  native receive tagged",
			 "  native pair, tagged" },
		.what = { "the rows above",
			  "mq_send(NAME, DATA, 0, TAG) and mq_receive(NAME, "
			  "TAG), as the daemon calls them" },
		.len = PGB_SMALL,
		.scale = 1,
		.ipcfs_above = true,
		/*
		 * The target is against the same functions the daemon calls:
		 * tagged (exactly once across a broken connection). The row
		 * above shows what the tags cost against untagged calls.
		 */
		.target = PGB_QUEUE_TARGET,
		.run = pgb_queue_tagged,
	},
	{
		.row = { "queue 64 B pipelined" },
		.what = { "a thread writing on A's data while another reads "
			  "B's stream",
			  "a thread calling mq_send while another calls "
			  "mq_receive, each waiting on its LISTEN connection "
			  "when full or empty" },
		.len = PGB_SMALL,
		.scale = 1,
		.run = pgb_pipe,
	},
	{
		.row = { "sem post" },
		.what = { "write \"\\n\" on A's post", "sem_post(NAME, 1)" },
		.len = 1,
		.scale = 1,
		.run = pgb_sem,
	},
	{
		.row = { "channel write 1 MiB", "channel read 1 MiB",
			 "channel 1 MiB A -> B" },
		.what = { "write(2) on A's data, read(2) on B's",
			  "channel_write, channel_read" },
		.len = PGB_MIB,
		.bandwidth = true,
		.scale = 20,
		.run = pgb_channel,
	},
	{
		.row = { "shm pwrite 1 MiB", "shm pread 1 MiB",
			 "shm 1 MiB A -> B" },
		.what = { "pwrite(2) on A's data, pread(2) on B's",
			  "shm_write, shm_read" },
		.len = PGB_MIB,
		.bandwidth = true,
		.scale = 20,
		.run = pgb_shm,
	},
};
#define PGB_NCASES (sizeof(pgb_cases) / sizeof(pgb_cases[0]))

/* ------------------------------------------------------------------ */
/* Wake-up latency.                                                    */

/* The reading half of a wake-up sample, in a thread of its own. */
struct pgb_waker {
	struct pgb *b;
	int sys;
	int fd;	    /* ipcfs: B's stream */
	PGconn *lc; /* native: the LISTENing connection */
	char want[PGB_SMALL];
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	int state;	     /* 0 idle, 1 go, 2 reading, 3 done, 4 gone */
	bool quit;
	int ret;
	int64_t end; /* when the message was in hand */
};

static void pgb_waker_set(struct pgb_waker *w, int state)
{
	pthread_mutex_lock(&w->lock);
	w->state = state;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Wait until w->state is `state`, at most PGB_WATCHDOG s: 0 or -ETIMEDOUT. */
static int pgb_waker_wait(struct pgb_waker *w, int state)
{
	struct timespec dl;
	int err = 0;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += PGB_WATCHDOG;
	pthread_mutex_lock(&w->lock);
	while (w->state != state && !w->quit && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&w->cond, &w->lock, &dl);
	pthread_mutex_unlock(&w->lock);
	return err == ETIMEDOUT ? -ETIMEDOUT : 0;
}

/* native: wait for a notification about our queue, then take the message. */
static int pgb_native_wake(struct pgb_waker *w, char *got, ssize_t *n)
{
	int ret = pgb_wait_notify(w->lc, w->b->mq);

	if (ret < 0)
		return ret;
	*n = pgb_mq_receive(w->b, w->lc, got);
	return *n < 0 ? -EIO : 0;
}

static void *pgb_waker_run(void *arg)
{
	struct pgb_waker *w = arg;
	char got[PGB_SMALL * 2];
	ssize_t n = 0;
	int ret;

	for (;;) {
		pthread_mutex_lock(&w->lock);
		while (w->state != 1 && !w->quit)
			pthread_cond_wait(&w->cond, &w->lock);
		w->state = w->quit ? 4 : 2;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
		if (w->quit)
			break;
		if (w->sys == PGB_IPCFS) {
			n = read(w->fd, got, sizeof(got));
			ret = n < 0 ? pgb_err("read", "B stream", errno) : 0;
		} else {
			ret = pgb_native_wake(w, got, &n);
		}
		w->end = pgb_now();
		if (ret == 0 && !pgb_same("wake-up", pgb_sys_names[w->sys], got,
					  n, w->want, PGB_SMALL))
			ret = -EIO;
		w->ret = ret;
		pgb_waker_set(w, 3);
		if (ret < 0)
			break;
	}
	return NULL;
}

/* Whether B's waiters file of the queue lists a parked request (bounded). */
static bool pgb_parked(struct pgb *b)
{
	struct timespec tick = { 0, 200 * 1000 };
	char buf[256];
	ssize_t n;
	int fd, i;

	for (i = 0; i < PGB_PARK_WAIT_MS * 5; i++) {
		fd = pgb_open(b, b->b, "queues", b->queue, "waiters", O_RDONLY);
		if (fd < 0)
			return false;
		n = read(fd, buf, sizeof(buf));
		close(fd);
		if (n > 0)
			return true;
		nanosleep(&tick, NULL);
	}
	return false;
}

/*
 * `nsamples` wake-ups: the reader is parked (ipcfs: B's waiters says so;
 * native: it polls its LISTEN socket), then a 64 B message is sent on A (or
 * the sender's connection); each sample is the time from just before the
 * send to the message in the reader's hand, in ns.
 */
static int pgb_wake(struct pgb *b, int sys, long nsamples, double *ns,
		    long *unparked)
{
	struct pgb_waker w = { .b = b, .sys = sys, .fd = -1 };
	struct timespec settle = { 0, 1000 * 1000 };
	pthread_condattr_t ca;
	char msg[PGB_SMALL];
	int afd = -1, ret = 0, err;
	PGresult *r;
	pthread_t t;
	long i;

	pthread_mutex_init(&w.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cond, &ca);
	pthread_condattr_destroy(&ca);
	if (sys == PGB_IPCFS) {
		afd = pgb_open(b, b->a, "queues", b->queue, "data", O_WRONLY);
		w.fd = pgb_open(b, b->b, "queues", b->queue, "stream",
				O_RDONLY);
		if (afd < 0 || w.fd < 0)
			ret = afd < 0 ? afd : w.fd;
	} else {
		w.lc = pgb_connect();
		r = w.lc ? PQexec(w.lc, "LISTEN ipcfs") : NULL;
		if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
			ret = -EIO;
		PQclear(r);
	}
	if (ret < 0)
		goto out;
	err = pthread_create(&t, NULL, pgb_waker_run, &w);
	if (err) {
		ret = pgb_err("pthread_create", "wake-up", err);
		goto out;
	}
	for (i = 0; i < nsamples && ret == 0; i++) {
		int64_t t0;

		pgb_fill(msg, sizeof(msg), b->seq++);
		memcpy(w.want, msg, sizeof(msg));
		pgb_waker_set(&w, 1);
		ret = pgb_waker_wait(&w, 2);
		if (ret < 0)
			break;
		if (sys == PGB_IPCFS) {
			if (!pgb_parked(b))
				(*unparked)++;
		} else {
			nanosleep(&settle, NULL); /* into poll() */
		}
		t0 = pgb_now();
		if (sys == PGB_IPCFS)
			ret = pgb_write_all(afd, msg, sizeof(msg), -1,
					    "A data");
		else if (!pgb_mq_send(b, msg, sizeof(msg), false))
			ret = -EIO;
		if (ret == 0)
			ret = pgb_waker_wait(&w, 3);
		if (ret == 0)
			ret = w.ret;
		if (ret == 0)
			ns[i] = w.end - t0;
		else
			fprintf(stderr,
				"pgbench: wake-up (%s): sample %ld "
				"failed\n",
				pgb_sys_names[sys], i);
	}
	pthread_mutex_lock(&w.lock);
	w.quit = true;
	pthread_cond_broadcast(&w.cond);
	pthread_mutex_unlock(&w.lock);
	/* A reader still parked: interrupt it until it gives up (bounded). */
	for (i = 0; i < PGB_WATCHDOG * 100; i++) {
		pthread_mutex_lock(&w.lock);
		err = w.state;
		pthread_mutex_unlock(&w.lock);
		if (err != 2)
			break;
		pthread_kill(t, SIGUSR1);
		nanosleep(&settle, NULL);
		nanosleep(&settle, NULL);
	}
	if (i == PGB_WATCHDOG * 100) {
		fprintf(stderr, "pgbench: wake-up (%s): the reader is stuck\n",
			pgb_sys_names[sys]);
		exit(1);
	}
	pthread_join(t, NULL);
out:
	if (afd >= 0)
		close(afd);
	if (w.fd >= 0)
		close(w.fd);
	pgb_finish(w.lc);
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Runs and the table.                                                 */

static volatile sig_atomic_t pgb_timed_out;

static void pgb_alarm(int sig)
{
	pgb_timed_out = 1;
}

static int pgb_cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

static double pgb_median(const double *v, long n)
{
	double s[PGB_MAXRUNS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), pgb_cmp);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* The q-quantile of n sorted values (nearest rank). */
static double pgb_quantile(const double *sorted, long n, double q)
{
	long k = (long)(q * n + 0.999999);

	if (k < 1)
		k = 1;
	return sorted[(k > n ? n : k) - 1];
}

static long pgb_case_ops(const struct pgb *b, const struct pgb_case *c,
			 long run)
{
	long n = run < 0 ? b->ops / 5 : b->ops;

	n /= c->scale;
	return n > 0 ? n : 1;
}

/* ns per op of case ci, system sys, op, run: in samples[]. */
static double *pgb_sample(double *samples, const struct pgb *b, size_t ci,
			  int sys, int op, long run)
{
	return &samples[((ci * PGB_NSYS + sys) * PGB_NOPS + op) * b->runs +
			run];
}

/* A warm-up run (-1), then `runs` runs of every row, both ways, in turn. */
static int pgb_all(struct pgb *b, double *samples, double *wake[PGB_NSYS],
		   long unparked[PGB_NSYS])
{
	long run, n;
	size_t ci;
	int sys, op, ret = 0;

	for (run = -1; run < b->runs && ret == 0; run++) {
		for (ci = 0; ci < PGB_NCASES && ret == 0; ci++) {
			const struct pgb_case *c = &pgb_cases[ci];

			for (sys = 0; sys < PGB_NSYS && ret == 0; sys++) {
				double ns[2] = { 0, 0 };

				if (c->ipcfs_above && sys == PGB_IPCFS)
					continue;
				n = pgb_case_ops(b, c, run);
				ret = c->run(b, sys, n, ns);
				if (pgb_timed_out)
					fprintf(stderr,
						"pgbench: %s (%s): no "
						"progress in %d s\n",
						c->row[0], pgb_sys_names[sys],
						PGB_WATCHDOG);
				if (ret < 0 || run < 0)
					continue;
				for (op = 0; op < PGB_NOPS; op++) {
					double v = op == PGB_PAIR
							   ? ns[0] + ns[1]
							   : ns[op];

					*pgb_sample(samples, b, ci, sys, op,
						    run) = v / n;
				}
				if (b->verbose)
					fprintf(stderr,
						"run %ld: %-20s %-6s %10.1f "
						"%10.1f us/op\n",
						run, c->row[0],
						pgb_sys_names[sys],
						ns[0] / n / 1e3,
						ns[1] / n / 1e3);
			}
		}
		for (sys = 0; sys < PGB_NSYS && ret == 0; sys++) {
			n = run < 0 ? b->samples / 5 + 1 : b->samples;
			ret = pgb_wake(b, sys, n,
				       run < 0 ? wake[sys] +
							 b->runs * b->samples
					       : wake[sys] + run * b->samples,
				       &unparked[sys]);
		}
	}
	return ret;
}

static void pgb_print_rows(const struct pgb *b, double *samples, bool bandwidth,
			   bool *below)
{
	size_t ci;
	int sys, op;

	printf("%-26s %21s %21s %7s\n", "", "------- ipcfs -------",
	       "------- native ------", "ipcfs/");
	printf("%-26s", "");
	for (sys = 0; sys < PGB_NSYS; sys++) /* µ: 2 bytes */
		printf(" %10s %11s", bandwidth ? "MiB/s" : "ops/s",
		       bandwidth ? "ms/MiB" : "µs/op");
	printf(" %7s  %s\n", "native", "target");
	for (ci = 0; ci < PGB_NCASES; ci++) {
		const struct pgb_case *c = &pgb_cases[ci];

		if (c->bandwidth != bandwidth)
			continue;
		for (op = 0; op < PGB_NOPS; op++) {
			double med[PGB_NSYS], r;
			double mib = c->len / (double)PGB_MIB;
			bool last = op == PGB_NOPS - 1 || !c->row[op + 1];

			if (!c->row[op])
				continue;
			printf("%-26s", c->row[op]);
			for (sys = 0; sys < PGB_NSYS; sys++) {
				bool above = c->ipcfs_above && sys == PGB_IPCFS;

				med[sys] = pgb_median(pgb_sample(samples, b,
								 ci - above,
								 sys, op, 0),
						      b->runs);
				if (above)
					printf(" %21s", "(as above)");
				else if (bandwidth)
					printf(" %10.1f %10.2f",
					       mib * 1e9 / med[sys],
					       med[sys] / mib / 1e6);
				else
					printf(" %10.0f %10.1f", 1e9 / med[sys],
					       med[sys] / 1e3);
			}
			r = med[PGB_NATIVE] / med[PGB_IPCFS];
			printf(" %7.2f", r);
			if (c->target && last) {
				printf("  >= %.2f: %s", c->target,
				       r >= c->target ? "met" : "NOT met");
				*below |= r < c->target;
			}
			printf("\n");
		}
	}
	printf("\n");
}

static void pgb_print_wake(const struct pgb *b, double *wake[PGB_NSYS],
			   const long unparked[PGB_NSYS], bool *below)
{
	static const char *const what[PGB_NSYS] = {
		"ipcfs (write A, read B)",
		"native (NOTIFY, receive)",
	};
	long n = b->runs * b->samples;
	double p99[PGB_NSYS];
	int sys;

	printf("%-26s %10s %10s %10s %10s %8s\n", "wake-up latency, 64 B",
	       "median ms", "p90 ms", "p99 ms", "max ms", "samples");
	for (sys = 0; sys < PGB_NSYS; sys++) {
		qsort(wake[sys], n, sizeof(double), pgb_cmp);
		p99[sys] = pgb_quantile(wake[sys], n, 0.99);
		printf("%-26s %10.3f %10.3f %10.3f %10.3f %8ld\n", what[sys],
		       pgb_quantile(wake[sys], n, 0.5) / 1e6,
		       pgb_quantile(wake[sys], n, 0.9) / 1e6, p99[sys] / 1e6,
		       wake[sys][n - 1] / 1e6, n);
	}
	printf("target: ipcfs p99 < %.0f ms: %s (%.2fx native's p99)\n",
	       PGB_WAKE_TARGET_MS,
	       p99[PGB_IPCFS] / 1e6 < PGB_WAKE_TARGET_MS ? "met" : "NOT met",
	       p99[PGB_IPCFS] / p99[PGB_NATIVE]);
	*below |= p99[PGB_IPCFS] / 1e6 >= PGB_WAKE_TARGET_MS;
	if (unparked[PGB_IPCFS])
		printf("(%ld ipcfs samples: the reader did not show in B's "
		       "waiters within %d ms; sent anyway)\n",
		       unparked[PGB_IPCFS], PGB_PARK_WAIT_MS);
	printf("\n");
}

static void pgb_print(const struct pgb *b, double *samples,
		      double *wake[PGB_NSYS], const long unparked[PGB_NSYS])
{
	int v = PQserverVersion(b->send);
	bool below = false;
	struct utsname u;
	size_t ci;
	int op;

	uname(&u);
	printf("ipcfs %s PostgreSQL-engine benchmark%s\n"
	       "two mounts A and B of one PostgreSQL %d.%d server (%s); %ld "
	       "ops per row and run\n(%ld for the 1 MiB rows), median of %ld "
	       "runs; queue in batches of %d; %ld wake-ups\nper run; Linux "
	       "%s, %ld CPUs online\n\n",
	       IPCFS_VERSION,
	       b->smoke ? " (smoke: few ops, noisy numbers)" : "", v / 10000,
	       v % 10000, PQhost(b->send), b->ops,
	       b->ops / pgb_cases[PGB_NCASES - 1].scale, b->runs, PGB_MAXMSG,
	       b->samples, u.release, sysconf(_SC_NPROCESSORS_ONLN));
	pgb_print_rows(b, samples, false, &below);
	pgb_print_rows(b, samples, true, &below);
	pgb_print_wake(b, wake, unparked, &below);
	printf("Ratios are throughput ratios (ipcfs's over native's); "
	       "a pair row is one op\nof each (1 / (send time + receive "
	       "time)).%s\n",
	       below ? " NOT met: below the target." : "");
	for (ci = 0; ci < PGB_NCASES; ci++) {
		const struct pgb_case *c = &pgb_cases[ci];

		if (c->ipcfs_above) {
			printf("(native tagged: %s; ratios: ipcfs's rows "
			       "above over these.)\n",
			       c->what[PGB_NATIVE]);
			continue;
		}
		printf("%s", c->row[0]);
		for (op = 1; op < PGB_NOPS && c->row[op]; op++)
			printf("%s%s", op == 1 && !c->row[2] ? " and " : ", ",
			       c->row[op]);
		printf(": ipcfs: %s; native: %s.\n", c->what[PGB_IPCFS],
		       c->what[PGB_NATIVE]);
	}
	printf("wake-up: ipcfs: a reader parked on B's stream (shown in B's "
	       "waiters), a write\non A's data, the time until the read "
	       "returns; native: a reader polling a\nLISTEN connection, "
	       "mq_send on another, the time until the notification came\n"
	       "and mq_receive on the LISTEN connection returned the "
	       "message.\n");
}

/* ------------------------------------------------------------------ */
/* Setting up.                                                         */

/* Empty the queue and the channel: every run checks what it gets. */
static int pgb_drain(struct pgb *b)
{
	const char *v[2] = { b->mq, "1048576" };
	long dropped = 0;
	PGresult *r;

	for (;;) {
		r = pgb_sql(b->recv, "SELECT * FROM ipcfs.mq_receive($1)", 1, v,
			    -1, 0);
		if (!r)
			return -EIO;
		if (PQntuples(r) == 0)
			break;
		PQclear(r);
		dropped++;
	}
	PQclear(r);
	v[0] = b->chname;
	for (;;) {
		r = pgb_sql(b->recv,
			    "SELECT data FROM ipcfs.channel_read($1, $2)", 2, v,
			    -1, 0);
		if (!r)
			return -EIO;
		if (PQntuples(r) == 0 || PQgetlength(r, 0, 0) == 0)
			break;
		PQclear(r);
		dropped++;
	}
	PQclear(r);
	if (dropped)
		fprintf(stderr,
			"pgbench: dropped %ld leftovers of the queue "
			"and the channel\n",
			dropped);
	return 0;
}

static int pgb_init(struct pgb *b)
{
	/* No SA_RESTART: a stuck read(2) must come back with EINTR. */
	struct sigaction sa = { .sa_handler = pgb_alarm };
	struct sigaction kick = { .sa_handler = pgb_kick };
	int ret;

	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGUSR1, &kick, NULL);
	b->buf[0] = malloc(PGB_MIB);
	b->buf[1] = malloc(PGB_MIB);
	if (!b->buf[0] || !b->buf[1])
		return -ENOMEM;
	ret = pgb_posix_name(b, "queues", b->queue, b->mq, sizeof(b->mq));
	if (ret == 0)
		ret = pgb_posix_name(b, "sem", b->sem, b->semname,
				     sizeof(b->semname));
	if (ret == 0)
		ret = pgb_posix_name(b, "channels", b->channel, b->chname,
				     sizeof(b->chname));
	if (ret == 0)
		ret = pgb_posix_name(b, "shm", b->shm, b->shmname,
				     sizeof(b->shmname));
	if (ret < 0)
		return ret;
	b->send = pgb_connect();
	b->recv = pgb_connect();
	if (!b->send || !b->recv)
		return -EIO;
	/* A mount id of our own for the tagged sends (none is attached). */
	snprintf(b->tag, sizeof(b->tag), "00000000-0000-4000-8000-%012lx 1 ",
		 (unsigned long)getpid() & 0xffffffffffffUL);
	ret = pgb_drain(b);
	/* A batch is what the queue holds; a 1 MiB write fits whole. */
	if (ret == 0)
		ret = pgb_set(b, "queues", b->queue, "maxmsg", PGB_MAXMSG);
	if (ret == 0)
		ret = pgb_set(b, "channels", b->channel, "capacity", PGB_MIB);
	return ret;
}

static void pgb_usage(FILE *f)
{
	fprintf(f,
		"usage: pgbench [--smoke] [OPTIONS] A B\n"
		"Time ipcfs's PostgreSQL engine between two mounts A and B "
		"of one database\n(A/queues/Q, sem/S, channels/C, shm/M "
		"exist) against libpq calls of the\nsame SQL functions "
		"(libpq's PG* environment), and print a table. Normally\n"
		"run by tools/bench-pg, which starts a server, mounts both "
		"and makes the objects.\n\n"
		"  --smoke          few ops and wake-ups: seconds\n"
		"  --ops N          ops per row and run (2000; smoke 64); 1 "
		"MiB rows do a\n"
		"                   twentieth of it\n"
		"  --runs N         runs, the median is shown (5; smoke 3)\n"
		"  --samples N      wake-ups per run (200; smoke 20)\n"
		"  --queue NAME     A/queues/NAME (q); its maxmsg is set to "
		"%d\n"
		"  --sem NAME       A/sem/NAME (s)\n"
		"  --channel NAME   A/channels/NAME (c); its capacity is set "
		"to 1 MiB\n"
		"  --shm NAME       A/shm/NAME (m)\n"
		"  -v, --verbose    every run on stderr\n"
		"  -h, --help       this text\n"
		"  -V, --version    the version\n"
		"Exit status: 0 done (a target missed is said, not failed), "
		"1 a path failed\nor returned wrong data, 2 usage.\n",
		PGB_MAXMSG);
}

static int pgb_count(const char *arg, long max, long *val)
{
	char *end;

	errno = 0;
	*val = strtol(arg, &end, 10);
	if (errno || *end || end == arg || *val < 1 || *val > max) {
		fprintf(stderr, "pgbench: bad count '%s' (1..%ld)\n", arg, max);
		return -EINVAL;
	}
	return 0;
}

/* 0 to go on, or the exit status + 1 (help, version, bad usage). */
static int pgb_parse(struct pgb *b, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "smoke", no_argument, NULL, 's' },
		{ "ops", required_argument, NULL, 'n' },
		{ "runs", required_argument, NULL, 'r' },
		{ "samples", required_argument, NULL, 'w' },
		{ "queue", required_argument, NULL, 'q' },
		{ "sem", required_argument, NULL, 'p' },
		{ "channel", required_argument, NULL, 'c' },
		{ "shm", required_argument, NULL, 'm' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	long ops = 0, runs = 0, samples = 0;
	int c, ret = 0;

	while (ret == 0 &&
	       (c = getopt_long(argc, argv, "vhV", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			b->smoke = true;
			break;
		case 'n':
			ret = pgb_count(optarg, 10000000, &ops) < 0 ? 3 : 0;
			break;
		case 'r':
			ret = pgb_count(optarg, PGB_MAXRUNS, &runs) < 0 ? 3 : 0;
			break;
		case 'w':
			ret = pgb_count(optarg, 100000, &samples) < 0 ? 3 : 0;
			break;
		case 'q':
			b->queue = optarg;
			break;
		case 'p':
			b->sem = optarg;
			break;
		case 'c':
			b->channel = optarg;
			break;
		case 'm':
			b->shm = optarg;
			break;
		case 'v':
			b->verbose = true;
			break;
		case 'h':
			pgb_usage(stdout);
			ret = 1;
			break;
		case 'V':
			printf("pgbench (ipcfs) %s\n", IPCFS_VERSION);
			ret = 1;
			break;
		default:
			ret = 3;
			break;
		}
	}
	if (ret == 0 && argc - optind != 2) {
		fprintf(stderr, "pgbench: want the mounts A and B\n");
		ret = 3;
	}
	if (ret == 3)
		pgb_usage(stderr);
	if (ret == 0) {
		b->a = argv[optind];
		b->b = argv[optind + 1];
		b->ops = ops ? ops : b->smoke ? 64 : 2000;
		b->runs = runs ? runs : b->smoke ? 3 : 5;
		b->samples = samples ? samples : b->smoke ? 20 : 200;
	}
	return ret;
}

int main(int argc, char **argv)
{
	struct pgb b = { .queue = "q", .sem = "s", .channel = "c", .shm = "m" };
	double *samples = NULL, *wake[PGB_NSYS] = { NULL };
	long unparked[PGB_NSYS] = { 0 };
	int status, sys;

	/* pgb_parse's 1..3 are exit statuses 0..2 */
	status = pgb_parse(&b, argc, argv) - 1;
	if (status >= 0)
		return status;
	status = 1;
	if (pgb_init(&b) < 0)
		goto out;
	samples = calloc(PGB_NCASES * PGB_NSYS * PGB_NOPS * b.runs,
			 sizeof(*samples));
	for (sys = 0; sys < PGB_NSYS; sys++)
		/* the runs', then the warm-up's */
		wake[sys] = calloc((b.runs + 1) * b.samples, sizeof(double));
	if (!samples || !wake[PGB_IPCFS] || !wake[PGB_NATIVE])
		goto out;
	if (pgb_all(&b, samples, wake, unparked) < 0)
		goto out;
	pgb_print(&b, samples, wake, unparked);
	status = 0;
out:
	pgb_finish(b.send);
	pgb_finish(b.recv);
	free(b.buf[0]);
	free(b.buf[1]);
	free(samples);
	for (sys = 0; sys < PGB_NSYS; sys++)
		free(wake[sys]);
	return status;
}

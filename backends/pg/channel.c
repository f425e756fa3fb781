// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * channel.c - channels/NAME on PostgreSQL: the byte stream of
 * backends/channel.c, with the bytes, the counts of open files and the EOF
 * rule's facts in the database (schema.sql's channel_* functions), so that
 * readers and writers on every mount share one stream.
 *
 * data: write(2) appends (channel_write: a write of at most 4096 bytes goes
 * whole or not at all, a longer one as much as fits); read(2) takes what is
 * buffered, up to the request (channel_read). An empty channel blocks a
 * reader while a writer of any mount has data open, and ends it once none
 * has, provided this reader has seen a writer (one was open, or bytes were
 * waiting, when it opened, or one opened since): the FIFO rule, eof
 * "close"; eof "rmdir": readers end only when the channel is removed.
 * capacity (rw), bytes, readers, writers: numbers; eof (rw): close or rmdir.
 *
 *   $ mkdir channels/logs; seq 3 > channels/logs/data     # on host A
 *   $ cat channels/logs/data                              # on host B: 1 2 3
 *
 * Each open file is counted in the database for this mount (channel_open,
 * channel_close), so a dead daemon's writers stop counting when its mount
 * is reclaimed. Waiting readers and writers are woken by the notifications
 * every change sends (conn.c), from any mount, this one's included. The
 * contents live in the database: they outlive the daemons.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

#define PG_CHANNEL_ATOMIC                                                      \
	4096 /* PIPE_BUF: writes up to this never interleave */

struct pg_channel_handle {
	struct pg_obj *ch; /* counted; readers wait POLLIN, writers POLLOUT */
	bool reader, writer;
	bool saw_writer;	/* a writer had data open, or bytes waited */
	long long writer_opens; /* the channel's writer opens after ours */
};

/* What the EOF rule and poll need of a channel, as one query gives it. */
struct pg_channel_state {
	long long bytes, capacity, writers, writer_opens;
	bool eof_rmdir;
};

/*
 * Work the database must still see after the file that needed it is gone
 * (a close) or its request is answered (bytes given back): retried from the
 * event loop while the database is unreachable.
 */
struct pg_channel_job {
	struct pg_obj *ch; /* counted: its wait queue wakes the job */
	const char *sql;
	bool must; /* worth a last try when the daemon stops */
	int n;
	const char *vals[4];
	int lens[4];
	char *data; /* a copy of the bytes given back */
};

static long pg_channel_opt_capacity = 65536;

static const char pg_channel_sql_close[] =
	"SELECT ipcfs.channel_close($1, $2, $3, $4)";
static const char pg_channel_sql_unread[] =
	"SELECT ipcfs.channel_unread($1, $2)";

PG_KIND_COMMON(pg_channel, "channels", false)

static int pg_channel_create(const char *name, mode_t mode,
			     const struct ipc_caller *caller)
{
	char uid[24], gid[24], mod[24], cap[24];
	const char *vals[] = { name, PG_NUM(uid, caller->uid),
			       PG_NUM(gid, caller->gid),
			       PG_NUM(mod, mode & 07777),
			       PG_NUM(cap, pg_channel_opt_capacity) };

	return pg_exec("SELECT ipcfs.channel_create($1, $2, $3, $4, $5)", 5,
		       vals, NULL);
}

/* The job is done (or given up): say what failed, and let it go. */
static void pg_channel_job_end(struct pg_channel_job *job, int ret)
{
	if (ret < 0 && ret != -ENOENT)
		ipc_log("%s: %s failed: %s", job->ch->obj.name,
			job->sql == pg_channel_sql_close ? "closing"
							 : "giving bytes back",
			strerror(-ret));
	ipc_obj_put(&job->ch->obj);
	free(job->data);
	free(job);
}

static int pg_channel_job_run(void *arg, bool stopping)
{
	struct pg_channel_job *job = arg;
	int ret = 0;

	/* At exit mount_detach() uncounts this mount's opens anyway. */
	if (!stopping || job->must)
		ret = pg_exec(job->sql, job->n, job->vals, job->lens);
	if (ret == -EAGAIN && !stopping)
		return -EAGAIN;
	pg_channel_job_end(job, ret);
	return 0;
}

/*
 * Run job's query now; if the database cannot be had, again from the event
 * loop whenever ch's waiters are woken (the reconnect wakes them all).
 * Takes the job's reference to ch.
 */
static void pg_channel_job_start(struct pg_channel_job *job)
{
	int ret = pg_exec(job->sql, job->n, job->vals, job->lens);

	if ((ret == -EAGAIN || ret == -EIO) &&
	    ipc_job_park(job->ch->obj.wq, POLLIN, pg_channel_job_run, job) == 0)
		return;
	pg_channel_job_end(job, ret);
}

/* The notification that retires ch may come later: say so now. */
static void pg_channel_gone(struct pg_channel_handle *h)
{
	ipc_obj_remove(&h->ch->obj);
}

/* channel_open: count this file; what the EOF rule needs of the moment. */
static int pg_channel_count(struct pg_channel_handle *h)
{
	const char *vals[] = { h->ch->obj.name, pg_mount, h->reader ? "t" : "f",
			       h->writer ? "t" : "f" };
	long long writers;
	PGresult *r;
	int err;

	r = pg_query(
		"SELECT writer_opens, writers, bytes FROM ipcfs.channel_open($1, $2, $3, $4)",
		4, vals, NULL, &err);
	if (!r) {
		if (err == -ENOENT)
			pg_channel_gone(h);
		return err;
	}
	h->writer_opens = pg_int(r, 0, 0);
	/* The writers before this open, as the local kind looks. */
	writers = pg_int(r, 0, 1) - h->writer;
	h->saw_writer = writers > 0 || pg_int(r, 0, 2) > 0;
	PQclear(r);
	return 0;
}

static int pg_channel_open(const char *name, int flags, void **fh)
{
	struct pg_channel_handle *h = calloc(1, sizeof(*h));
	int acc = flags & O_ACCMODE;
	struct ipc_obj *o;
	int ret;

	if (!h)
		return -ENOMEM;
	o = ipc_obj_get(&pg_channel_objs, name, &ret);
	if (!o)
		goto out_free;
	h->ch = (struct pg_obj *)o;
	h->reader = acc != O_WRONLY;
	h->writer = acc != O_RDONLY;
	ret = pg_channel_count(h);
	if (ret < 0)
		goto out_put;
	*fh = h;
	return 0;
out_put:
	ipc_obj_put(o);
out_free:
	free(h);
	return ret;
}

/* Uncount this file: waiting readers may reach their end (notified). */
static void pg_channel_release(void *fh)
{
	struct pg_channel_handle *h = fh;
	struct pg_channel_job *job;

	/* Removed: its counts went with it, and the name may be another's. */
	if (ipc_obj_removed(&h->ch->obj) || !(job = calloc(1, sizeof(*job)))) {
		ipc_obj_put(&h->ch->obj);
		free(h);
		return;
	}
	job->ch = h->ch;
	job->sql = pg_channel_sql_close;
	job->n = 4;
	job->vals[0] = h->ch->obj.name;
	job->vals[1] = pg_mount;
	job->vals[2] = h->reader ? "t" : "f";
	job->vals[3] = h->writer ? "t" : "f";
	job->lens[0] = job->lens[1] = job->lens[2] = job->lens[3] = -1;
	free(h);
	pg_channel_job_start(job);
}

/* Has this reader seen a writer, given the channel's writer opens now? */
static bool pg_channel_saw_writer(const struct pg_channel_handle *h,
				  long long writer_opens)
{
	return h->saw_writer || writer_opens != h->writer_opens;
}

/* Is an empty channel at its end for this reader? */
static bool pg_channel_at_end(const struct pg_channel_handle *h,
			      const struct pg_channel_state *s)
{
	return !s->eof_rmdir && s->writers == 0 &&
	       pg_channel_saw_writer(h, s->writer_opens);
}

/* An eof column: "rmdir" or "close". */
static bool pg_channel_eof_rmdir(const PGresult *r, int col)
{
	int len;
	const char *eof = pg_bytes(r, 0, col, &len);

	return len == 5 && memcmp(eof, "rmdir", 5) == 0;
}

static ssize_t pg_channel_wait(struct pg_channel_handle *h, unsigned int events,
			       struct ipc_wait *w)
{
	w->wq = h->ch->obj.wq;
	w->events = events;
	return -EAGAIN;
}

/*
 * A query failed: gone is end-of-file for a reader (`gone`) or EPIPE; an
 * unreachable database on the loop's retry is one more wait.
 */
static ssize_t pg_channel_failed(struct pg_channel_handle *h, int err,
				 unsigned int events, ssize_t gone,
				 struct ipc_wait *w)
{
	if (err == -ENOENT) {
		pg_channel_gone(h);
		return gone;
	}
	if (err == -EAGAIN)
		return pg_channel_wait(h, events, w);
	return err;
}

static ssize_t pg_channel_read(void *fh, char *buf, size_t size, off_t off,
			       struct ipc_wait *w)
{
	struct pg_channel_handle *h = fh;
	struct pg_channel_state s = { 0 };
	char max[24];
	const char *vals[] = { h->ch->obj.name, PG_NUM(max, size) };
	const char *data;
	PGresult *r;
	ssize_t ret;
	int err, len;

	if (ipc_obj_removed(&h->ch->obj))
		return 0;
	r = pg_query(
		"SELECT data, writers, writer_opens, eof FROM ipcfs.channel_read($1, $2)",
		2, vals, NULL, &err);
	if (!r)
		return pg_channel_failed(h, err, POLLIN, 0, w);
	data = pg_bytes(r, 0, 0, &len);
	s.writers = pg_int(r, 0, 1);
	s.writer_opens = pg_int(r, 0, 2);
	s.eof_rmdir = pg_channel_eof_rmdir(r, 3);
	if (len > 0) {
		memcpy(buf, data, len);
		ret = len;
	} else if (pg_channel_at_end(h, &s)) {
		ret = 0;
	} else {
		ret = pg_channel_wait(h, POLLIN, w);
	}
	PQclear(r);
	return ret;
}

/*
 * Push bytes a reader never got back to the front (channel_unread may pass
 * the capacity rather than lose them). Without the database now, the bytes
 * wait in the daemon until it is back.
 */
static void pg_channel_unread(void *fh, const char *buf, size_t len)
{
	struct pg_channel_handle *h = fh;
	struct pg_channel_job *job;

	if (len == 0 || ipc_obj_removed(&h->ch->obj))
		return;
	job = calloc(1, sizeof(*job));
	if (job)
		job->data = malloc(len);
	if (!job || !job->data) {
		ipc_log("%s: lost %zu bytes an interrupted reader gave back",
			h->ch->obj.name, len);
		free(job);
		return;
	}
	memcpy(job->data, buf, len);
	ipc_obj_hold(&h->ch->obj);
	job->ch = h->ch;
	job->sql = pg_channel_sql_unread;
	job->must = true;
	job->n = 2;
	job->vals[0] = h->ch->obj.name;
	job->lens[0] = -1;
	job->vals[1] = job->data;
	job->lens[1] = len;
	pg_channel_job_start(job);
}

/*
 * Append what fits: channel_write keeps a write of at most 4096 bytes whole
 * and returns what went in of a larger one (fs/ parks the rest).
 */
static ssize_t pg_channel_write(void *fh, const char *buf, size_t size,
				off_t off, struct ipc_wait *w)
{
	struct pg_channel_handle *h = fh;
	const char *vals[] = { h->ch->obj.name, buf };
	const int lens[] = { -1, size };
	PGresult *r;
	ssize_t n;
	int err;

	if (ipc_obj_removed(&h->ch->obj))
		return -EPIPE;
	if (size == 0)
		return 0;
	r = pg_query("SELECT ipcfs.channel_write($1, $2)", 2, vals, lens, &err);
	if (!r)
		return pg_channel_failed(h, err, POLLOUT, -EPIPE, w);
	n = pg_int(r, 0, 0);
	PQclear(r);
	if ((size_t)n < size)
		pg_channel_wait(h, POLLOUT, w);
	return n > 0 ? n : -EAGAIN;
}

/*
 * The channel's state as poll needs it; -errno as pg_query. channel_attr
 * has no writer_opens, which the EOF rule needs: a read of 0 bytes takes
 * nothing, notifies nothing, and says it.
 */
static int pg_channel_look(struct pg_channel_handle *h,
			   struct pg_channel_state *s)
{
	const char *vals[] = { h->ch->obj.name };
	PGresult *r;
	int err;

	r = pg_query(
		"SELECT a.capacity, a.bytes, a.writers, a.eof, o.writer_opens FROM ipcfs.channel_attr($1) a, ipcfs.channel_read($1, 0) o",
		1, vals, NULL, &err);
	if (!r)
		return err;
	s->capacity = pg_int(r, 0, 0);
	s->bytes = pg_int(r, 0, 1);
	s->writers = pg_int(r, 0, 2);
	s->eof_rmdir = pg_channel_eof_rmdir(r, 3);
	s->writer_opens = pg_int(r, 0, 4);
	PQclear(r);
	return 0;
}

static unsigned int pg_channel_poll(void *fh, struct ipc_waitq **wq)
{
	struct pg_channel_handle *h = fh;
	struct pg_channel_state s = { 0 };
	unsigned int ev = 0;
	int ret;

	*wq = h->ch->obj.wq;
	if (ipc_obj_removed(&h->ch->obj))
		return POLLIN | POLLOUT | POLLHUP;
	ret = pg_channel_look(h, &s);
	if (ret == -ENOENT) {
		pg_channel_gone(h);
		return POLLIN | POLLOUT | POLLHUP;
	}
	/* Without the database nothing is ready: the reconnect wakes us. */
	if (ret < 0)
		return 0;
	if (s.bytes > 0 || pg_channel_at_end(h, &s))
		ev |= POLLIN;
	/* As a pipe: writable when a write of PIPE_BUF bytes would fit. */
	if (s.capacity - s.bytes >= PG_CHANNEL_ATOMIC)
		ev |= POLLOUT;
	return ev;
}

/* capacity, bytes, readers, writers, eof: column `col` of channel_attr. */
static int pg_channel_attr_get(const char *name, size_t col, char *buf,
			       size_t size)
{
	const char *vals[] = { name };
	PGresult *r;
	int err, ret;

	r = pg_query(
		"SELECT capacity, bytes, readers, writers, eof FROM ipcfs.channel_attr($1)",
		1, vals, NULL, &err);
	if (!r)
		return err;
	if (col == 4)
		ret = snprintf(buf, size, "%s\n",
			       pg_channel_eof_rmdir(r, 4) ? "rmdir" : "close");
	else
		ret = snprintf(buf, size, "%lld\n", pg_int(r, 0, col));
	PQclear(r);
	return ret;
}

/*
 * Resize: at least PG_CHANNEL_ATOMIC (EINVAL), never below what is
 * buffered (EBUSY, from channel_set); writers that waited may fit now (the
 * change is notified).
 */
static int pg_channel_capacity_set(const char *name, const char *buf,
				   size_t len, const struct ipc_caller *who)
{
	char num[24];
	const char *vals[] = { name, num };
	long cap;

	if (ipc_parse_long(buf, len, &cap) < 0 || cap < PG_CHANNEL_ATOMIC ||
	    cap > INT_MAX)
		return -EINVAL;
	PG_NUM(num, cap);
	return pg_exec("SELECT ipcfs.channel_set($1, $2, NULL)", 2, vals, NULL);
}

/* "close" or "rmdir", a newline after it or not; else EINVAL, unchanged. */
static int pg_channel_eof_set(const char *name, const char *buf, size_t len,
			      const struct ipc_caller *who)
{
	const char *vals[] = { name, NULL };

	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len == 5 && memcmp(buf, "close", 5) == 0)
		vals[1] = "close";
	else if (len == 5 && memcmp(buf, "rmdir", 5) == 0)
		vals[1] = "rmdir";
	else
		return -EINVAL;
	return pg_exec("SELECT ipcfs.channel_set($1, NULL, $2)", 2, vals, NULL);
}

static const struct ipc_stream_ops pg_channel_data_ops = {
	.open = pg_channel_open,
	.release = pg_channel_release,
	.read = pg_channel_read,
	.unread = pg_channel_unread,
	.write = pg_channel_write,
	.poll = pg_channel_poll,
	.flags = IPC_OWN_INODE | IPC_STREAM | IPC_READ_TAKES,
};

static const struct ipc_file pg_channel_files[] = {
	{ .name = "data", .mode = 0666, .ops = &pg_channel_data_ops },
	{ .name = "capacity",
	  .mode = 0666,
	  .get = pg_channel_attr_get,
	  .arg = 0,
	  .set = pg_channel_capacity_set },
	{ .name = "bytes", .mode = 0444, .get = pg_channel_attr_get, .arg = 1 },
	{ .name = "readers",
	  .mode = 0444,
	  .get = pg_channel_attr_get,
	  .arg = 2 },
	{ .name = "writers",
	  .mode = 0444,
	  .get = pg_channel_attr_get,
	  .arg = 3 },
	{ .name = "eof",
	  .mode = 0666,
	  .get = pg_channel_attr_get,
	  .arg = 4,
	  .set = pg_channel_eof_set },
	{ .name = NULL },
};

/* No chan_max_total: the database's disk, not the daemon's memory, holds it. */
static const struct ipc_option pg_channel_options[] = {
	{ "chan_capacity", &pg_channel_opt_capacity, PG_CHANNEL_ATOMIC,
	  1L << 30, "bytes a new channel buffers at most (default 65536)" },
	{ NULL },
};

/* clang-format off */
const struct ipc_kind pg_channel_kind = {
	.name = "channels",
	.name_max = NAME_MAX,
	.create = pg_channel_create,
	.files = pg_channel_files,
	.options = pg_channel_options,
	.prefixed = true,
	PG_KIND_OPS(pg_channel),
};
/* clang-format on */

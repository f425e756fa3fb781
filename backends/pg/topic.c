// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * topic.c - topics/NAME on PostgreSQL: the broadcast of backends/topic.c,
 * with the messages and every reader's place in the database (schema.sql's
 * topic_* functions), so that a message published on one mount reaches the
 * readers of every mount.
 *
 * data: a write publishes one message (at most IPC_MSG_MAX, 1 MiB less 4
 * KiB, else EMSGSIZE; no reader anywhere: it goes to nobody, still
 * counted); writers never wait. Each file open for reading is a
 * subscription (topic_subscribe), which reads every message published after
 * it was made, one per read (topic_read), in order; a buffer smaller than
 * the message gets the rest on the next reads first. rmdir: readers see
 * end-of-file, writers EIDRM. backlog (rw): messages one reader may fall
 * behind; past it its oldest are dropped and counted in dropped.
 * subscribers, published, dropped: numbers.
 *
 *   $ cat topics/reload/data &                 # on host A, and on host B
 *   $ echo reload > topics/reload/data         # anywhere: both print it
 *
 * Readers wait for the notification a publish sends (conn.c). The rest of a
 * message read in parts, or bytes an interrupted read gave back that the
 * database could not take, stay in the file's handle: they are its
 * subscription's next bytes, and nobody else's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

#define PG_TOPIC_BACKLOG_MAX 1048576 /* schema.sql's bound */

struct pg_topic_handle {
	struct pg_obj *t; /* counted; readers wait POLLIN */
	bool reader;
	/*
	 * The handle's own bytes, read first (a message longer than the
	 * read, one poll fetched, bytes given back). Reads and polls of one
	 * open file may come at once: they take turns, queries included (a
	 * query is bounded by pg_timeout).
	 */
	pthread_mutex_t lock;
	long long sub; /* the subscription of a reader */
	bool ended;    /* the subscription is gone: end-of-file */
	char *rest;
	size_t rest_len, rest_off;
	/* The message the last read returned whole, by seq; else -1. */
	long long whole_seq;
};

/* Work the database must still see after the file is closed. */
struct pg_topic_job {
	struct pg_obj *t; /* counted: its wait queue wakes the job */
	char sub[24];
};

static long pg_topic_opt_backlog = 1024;

PG_KIND_COMMON(pg_topic, "topics", true)

static int pg_topic_create(const char *name, mode_t mode,
			   const struct ipc_caller *caller)
{
	char uid[24], gid[24], mod[24], backlog[24];
	const char *vals[] = { name, PG_NUM(uid, caller->uid),
			       PG_NUM(gid, caller->gid),
			       PG_NUM(mod, mode & 07777),
			       PG_NUM(backlog, pg_topic_opt_backlog) };

	return pg_exec("SELECT ipcfs.topic_create($1, $2, $3, $4, $5)", 5, vals,
		       NULL);
}

/* A subscription that is next to read the next message published. */
static int pg_topic_subscribe(struct pg_topic_handle *h)
{
	const char *vals[] = { h->t->obj.name, pg_mount };
	PGresult *r;
	int err;

	r = pg_query("SELECT ipcfs.topic_subscribe($1, $2)", 2, vals, NULL,
		     &err);
	if (!r) {
		/* Gone, though this mount has not heard yet. */
		if (err == -ENOENT)
			ipc_obj_remove(&h->t->obj);
		return err;
	}
	h->sub = pg_int(r, 0, 0);
	PQclear(r);
	return 0;
}

static int pg_topic_open(const char *name, int flags, void **fh)
{
	struct pg_topic_handle *h = calloc(1, sizeof(*h));
	struct ipc_obj *o;
	int ret = 0;

	if (!h)
		return -ENOMEM;
	o = ipc_obj_get(&pg_topic_objs, name, &ret);
	if (!o)
		goto out_free;
	h->t = (struct pg_obj *)o;
	h->reader = (flags & O_ACCMODE) != O_WRONLY;
	h->whole_seq = -1;
	if (h->reader)
		ret = pg_topic_subscribe(h);
	if (ret < 0)
		goto out_put;
	pthread_mutex_init(&h->lock, NULL);
	*fh = h;
	return 0;
out_put:
	ipc_obj_put(o);
out_free:
	free(h);
	return ret;
}

static void pg_topic_job_end(struct pg_topic_job *job, int ret)
{
	if (ret < 0 && ret != -ENOENT)
		ipc_log("%s: unsubscribing failed: %s", job->t->obj.name,
			strerror(-ret));
	ipc_obj_put(&job->t->obj);
	free(job);
}

static int pg_topic_unsubscribe(struct pg_topic_job *job)
{
	const char *vals[] = { job->sub };

	return pg_exec("SELECT ipcfs.topic_unsubscribe($1)", 1, vals, NULL);
}

/* At exit mount_detach() removes this mount's subscriptions anyway. */
static int pg_topic_job_run(void *arg, bool stopping)
{
	struct pg_topic_job *job = arg;
	int ret = stopping ? 0 : pg_topic_unsubscribe(job);

	if (ret == -EAGAIN)
		return -EAGAIN;
	pg_topic_job_end(job, ret);
	return 0;
}

/*
 * A subscription left behind would hold its messages up to the backlog:
 * without the database now, unsubscribe from the event loop once it is
 * back (the reconnect wakes every object's waiters). Takes h's reference.
 */
static void pg_topic_unsubscribe_soon(struct pg_topic_handle *h)
{
	struct pg_topic_job *job = calloc(1, sizeof(*job));
	int ret;

	if (!job) {
		ipc_log("%s: unsubscribing failed: no memory", h->t->obj.name);
		ipc_obj_put(&h->t->obj);
		return;
	}
	job->t = h->t;
	PG_NUM(job->sub, h->sub);
	ret = pg_topic_unsubscribe(job);
	if ((ret == -EAGAIN || ret == -EIO) &&
	    ipc_job_park(h->t->obj.wq, POLLIN, pg_topic_job_run, job) == 0)
		return;
	pg_topic_job_end(job, ret);
}

static void pg_topic_release(void *fh)
{
	struct pg_topic_handle *h = fh;

	/* Removed or ended: the subscription went with it. */
	if (h->reader && !h->ended && !ipc_obj_removed(&h->t->obj))
		pg_topic_unsubscribe_soon(h);
	else
		ipc_obj_put(&h->t->obj);
	pthread_mutex_destroy(&h->lock);
	free(h->rest);
	free(h);
}

/* Bytes of the handle's own left to read (under h->lock). */
static size_t pg_topic_rest_left(const struct pg_topic_handle *h)
{
	return h->rest ? h->rest_len - h->rest_off : 0;
}

/* Drop the handle's own bytes, read to their end (under h->lock). */
static void pg_topic_rest_free(struct pg_topic_handle *h)
{
	free(h->rest);
	h->rest = NULL;
	h->rest_len = h->rest_off = 0;
}

/*
 * Put the subscription back before message seq: the database stores the
 * message again if it was pruned meanwhile. -errno as pg_query.
 */
static int pg_topic_give_back(struct pg_topic_handle *h, long long seq,
			      const char *data, size_t len)
{
	char sub[24], num[24];
	const char *vals[] = { PG_NUM(sub, h->sub), PG_NUM(num, seq), data };
	const int lens[] = { -1, -1, len };

	return pg_exec("SELECT ipcfs.topic_unread($1, $2, $3)", 3, vals, lens);
}

/* Keep len bytes of data before what is left of the rest (under h->lock). */
static int pg_topic_keep(struct pg_topic_handle *h, const char *data,
			 size_t len)
{
	size_t left = pg_topic_rest_left(h);
	char *rest = malloc(len + left);

	if (!rest)
		return -ENOMEM;
	memcpy(rest, data, len);
	if (left)
		memcpy(rest + len, h->rest + h->rest_off, left);
	free(h->rest);
	h->rest = rest;
	h->rest_len = len + left;
	h->rest_off = 0;
	return 0;
}

/*
 * The subscription's next message into *r (NULL: none yet); -ENOENT: it
 * or the topic is gone, -EAGAIN: the database is unreachable from the loop
 * (under h->lock). Skips empty messages (published from SQL): a read of
 * zero bytes would be end-of-file.
 */
static int pg_topic_next(struct pg_topic_handle *h, PGresult **r)
{
	char sub[24];
	const char *vals[] = { PG_NUM(sub, h->sub) };
	int err, len;

	for (;;) {
		*r = pg_query("SELECT data, seq FROM ipcfs.topic_read($1)", 1,
			      vals, NULL, &err);
		if (!*r)
			return err;
		if (PQntuples(*r) == 0) {
			PQclear(*r);
			*r = NULL;
			return 0;
		}
		pg_bytes(*r, 0, 0, &len);
		if (len > 0)
			return 0;
		PQclear(*r);
	}
}

/* Read from the handle's own bytes (under h->lock). */
static ssize_t pg_topic_read_rest(struct pg_topic_handle *h, char *buf,
				  size_t size)
{
	size_t n = pg_topic_rest_left(h);

	if (n > size)
		n = size;
	memcpy(buf, h->rest + h->rest_off, n);
	h->rest_off += n;
	/* Kept, read to its end, for an unread to step back into. */
	return n;
}

/* Read the next message of the subscription (under h->lock). */
static ssize_t pg_topic_read_next(struct pg_topic_handle *h, char *buf,
				  size_t size, struct ipc_wait *w)
{
	PGresult *r;
	const char *data;
	ssize_t ret;
	int len;

	ret = pg_topic_next(h, &r);
	if (ret == -ENOENT) {
		h->ended = true;
		return 0;
	}
	if (ret == -EAGAIN || (ret == 0 && !r)) {
		w->wq = h->t->obj.wq;
		w->events = POLLIN;
		return -EAGAIN;
	}
	if (ret < 0)
		return ret;
	pg_topic_rest_free(h);
	data = pg_bytes(r, 0, 0, &len);
	if ((size_t)len <= size) {
		memcpy(buf, data, len);
		h->whole_seq = pg_int(r, 0, 1);
		ret = len;
	} else if (pg_topic_keep(h, data, len) == 0) {
		/* Whole, so that an unread of this part can step back. */
		ret = pg_topic_read_rest(h, buf, size);
	} else {
		/* No room for its rest: the subscription reads it again. */
		ret = -ENOMEM;
		if (pg_topic_give_back(h, pg_int(r, 0, 1), data, len) < 0)
			ipc_log("%s: lost a message no memory could hold",
				h->t->obj.name);
	}
	PQclear(r);
	return ret;
}

static ssize_t pg_topic_read(void *fh, char *buf, size_t size, off_t off,
			     struct ipc_wait *w)
{
	struct pg_topic_handle *h = fh;
	ssize_t ret;

	pthread_mutex_lock(&h->lock);
	h->whole_seq = -1;
	if (pg_topic_rest_left(h))
		ret = pg_topic_read_rest(h, buf, size);
	else if (h->ended || ipc_obj_removed(&h->t->obj))
		ret = 0;
	else
		ret = pg_topic_read_next(h, buf, size, w);
	pthread_mutex_unlock(&h->lock);
	return ret;
}

/*
 * Give back the bytes of this reader's last read: they are read first
 * again. A whole message from the database goes back there, in its place;
 * bytes of the handle's own are stepped back over. If the database cannot
 * take them now, the handle keeps them.
 */
static void pg_topic_unread(void *fh, const char *buf, size_t len)
{
	struct pg_topic_handle *h = fh;
	int ret = -1;

	if (len == 0)
		return;
	pthread_mutex_lock(&h->lock);
	/* Not if a poll took the next one meanwhile: it would come twice. */
	if (h->whole_seq >= 0 && !pg_topic_rest_left(h)) {
		ret = pg_topic_give_back(h, h->whole_seq, buf, len);
	} else if (h->rest && h->rest_off >= len) {
		h->rest_off -= len;
		ret = 0;
	}
	h->whole_seq = -1;
	if (ret < 0 && pg_topic_keep(h, buf, len) < 0)
		ipc_log("%s: lost %zu bytes an interrupted reader gave back",
			h->t->obj.name, len);
	pthread_mutex_unlock(&h->lock);
	/* This reader's retry may be parked behind others. */
	ipc_wake_all(h->t->obj.wq);
}

/*
 * Publish one message to the subscriptions there are now, on every mount.
 * Never waits; the database prunes what every reader is past, and what
 * is more than backlog behind.
 */
static ssize_t pg_topic_write(void *fh, const char *buf, size_t size, off_t off,
			      struct ipc_wait *w)
{
	struct pg_topic_handle *h = fh;
	const char *vals[] = { h->t->obj.name, buf };
	const int lens[] = { -1, size };
	int ret;

	if ((long)size > IPC_MSG_MAX) /* it may have come in pieces */
		return -EMSGSIZE;
	if (size == 0)
		return 0;
	if (ipc_obj_removed(&h->t->obj))
		return -EIDRM;
	ret = pg_exec("SELECT ipcfs.topic_publish($1, $2)", 2, vals, lens);
	if (ret == -ENOENT) {
		ipc_obj_remove(&h->t->obj);
		ret = -EIDRM;
	}
	return ret < 0 ? ret : (ssize_t)size;
}

/*
 * Has this reader a message? Only its next read could tell without taking
 * it, so poll takes it into the handle, whose next read returns it (under
 * h->lock).
 */
static bool pg_topic_ready(struct pg_topic_handle *h)
{
	PGresult *r;
	const char *data;
	int len, ret;

	if (pg_topic_rest_left(h))
		return true;
	if (h->ended)
		return true;
	ret = pg_topic_next(h, &r);
	if (ret == -ENOENT) {
		h->ended = true;
		return true;
	}
	if (ret < 0 || !r)
		return false;
	data = pg_bytes(r, 0, 0, &len);
	ret = pg_topic_keep(h, data, len);
	if (ret < 0 && pg_topic_give_back(h, pg_int(r, 0, 1), data, len) < 0)
		ipc_log("%s: lost a message no memory could hold",
			h->t->obj.name);
	PQclear(r);
	return ret == 0;
}

static unsigned int pg_topic_poll(void *fh, struct ipc_waitq **wq)
{
	struct pg_topic_handle *h = fh;
	unsigned int ev = POLLOUT; /* a write never waits */

	*wq = h->t->obj.wq;
	if (ipc_obj_removed(&h->t->obj))
		return ev | POLLIN | POLLHUP;
	if (!h->reader)
		return ev;
	pthread_mutex_lock(&h->lock);
	if (pg_topic_ready(h))
		ev |= POLLIN;
	pthread_mutex_unlock(&h->lock);
	return ev;
}

/* subscribers, published, dropped, backlog: column `col` of topic_attr. */
static int pg_topic_attr_get(const char *name, size_t col, char *buf,
			     size_t size)
{
	const char *vals[] = { name };
	PGresult *r;
	int err, ret;

	r = pg_query(
		"SELECT subscribers, published, dropped, backlog FROM ipcfs.topic_attr($1)",
		1, vals, NULL, &err);
	if (!r)
		return err;
	ret = snprintf(buf, size, "%lld\n", pg_int(r, 0, col));
	PQclear(r);
	return ret;
}

/* A decimal in 1..1048576, else EINVAL, unchanged. Lowering it drops. */
static int pg_topic_backlog_set(const char *name, const char *buf, size_t len,
				const struct ipc_caller *who)
{
	char num[24];
	const char *vals[] = { name, num };
	long val;

	if (ipc_parse_long(buf, len, &val) < 0 || val < 1 ||
	    val > PG_TOPIC_BACKLOG_MAX)
		return -EINVAL;
	PG_NUM(num, val);
	return pg_exec("SELECT ipcfs.topic_set($1, $2)", 2, vals, NULL);
}

static const struct ipc_stream_ops pg_topic_data_ops = {
	.open = pg_topic_open,
	.release = pg_topic_release,
	.read = pg_topic_read,
	.unread = pg_topic_unread,
	.write = pg_topic_write,
	.poll = pg_topic_poll,
	.flags = IPC_OWN_INODE | IPC_STREAM | IPC_READ_TAKES,
};

static const struct ipc_file pg_topic_files[] = {
	{ .name = "data", .mode = 0666, .ops = &pg_topic_data_ops },
	{ .name = "subscribers",
	  .mode = 0444,
	  .get = pg_topic_attr_get,
	  .arg = 0 },
	{ .name = "published",
	  .mode = 0444,
	  .get = pg_topic_attr_get,
	  .arg = 1 },
	{ .name = "backlog",
	  .mode = 0666,
	  .get = pg_topic_attr_get,
	  .arg = 3,
	  .set = pg_topic_backlog_set },
	{ .name = "dropped", .mode = 0444, .get = pg_topic_attr_get, .arg = 2 },
	{ .name = NULL },
};

/* No topic_max_total: the database, not the daemon's memory, holds them. */
static const struct ipc_option pg_topic_options[] = {
	{ "topic_backlog", &pg_topic_opt_backlog, 1, PG_TOPIC_BACKLOG_MAX,
	  "messages a reader of a new topic may fall behind (default 1024)" },
	{ NULL },
};

/* clang-format off */
const struct ipc_kind pg_topic_kind = {
	.name = "topics",
	.name_max = NAME_MAX,
	.create = pg_topic_create,
	.files = pg_topic_files,
	.options = pg_topic_options,
	.prefixed = true,
	PG_KIND_OPS(pg_topic),
};
/* clang-format on */

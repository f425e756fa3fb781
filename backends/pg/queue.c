// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * queue.c - queues/NAME in the database: the files and rules of the local
 * queues (backends/mq.c), on ipcfs.mq_send, mq_receive, mq_give_back.
 *
 * data: one write is one message of priority 0; an open file receives one
 * message on its first read (highest priority, oldest first) and serves it
 * by offset, then end-of-file. stream: one message per read, forever.
 * lines: one message per line written. framed: `PRIO<TAB>MESSAGE` both
 * ways, one message per write and per open (ipcctl send -p, recv -v).
 * count, maxmsg, msgsize: ipcfs.mq_attr; maxmsg and msgsize are writable
 * while no message waits.
 *
 * The database takes each message exactly once, whoever asks from which
 * mount. A message taken for a read whose reply was refused (interrupted)
 * goes back with its priority and sequence number: in its original place.
 * Waiters park on the queue's wait queue; the notification of any change
 * (from any mount) retries them.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

#define PGQ_KIND "queues"

enum pgq_mode { PGQ_DATA, PGQ_STREAM, PGQ_LINES, PGQ_FRAMED };

struct pgq_handle {
	struct ipc_obj *q;
	struct pg_tag tag;    /* its sends and receives happen once */
	pthread_mutex_t lock; /* threads may share an open file */
	enum pgq_mode mode;
	bool have;   /* msg holds a message not all read yet */
	bool fresh;  /* the last read received msg */
	bool broken; /* lines: a line too long went unended: drop its rest */
	int prio;
	long long seq;
	size_t head; /* framed: the "PRIO\t" before the message in msg */
	size_t len, pos;
	long msgsize; /* lines: the longest line */
	char *msg;
};

/* A message to send when the database lets us (pgq_later()). */
struct pgq_later {
	struct ipc_obj *q;
	struct pg_tag tag;
	bool back; /* given back in its place, else sent anew */
	int prio;
	long long seq;
	size_t len;
	char data[];
};

static long pgq_opt_maxmsg = 10;
static long pgq_opt_msgsize = 8192;

PG_KIND_COMMON(pgq, PGQ_KIND, false)

static int pgq_create(const char *name, mode_t mode,
		      const struct ipc_caller *caller)
{
	char uid[24], gid[24], m[24], max[24], size[24];
	const char *vals[] = { name,
			       PG_NUM(uid, caller->uid),
			       PG_NUM(gid, caller->gid),
			       PG_NUM(m, mode & 07777),
			       PG_NUM(max, pgq_opt_maxmsg),
			       PG_NUM(size, pgq_opt_msgsize) };

	return pg_exec("SELECT ipcfs.mq_create($1, $2, $3, $4, $5, $6)", 6,
		       vals, NULL);
}

/* maxmsg, msgsize, curmsgs: columns 0, 1, 2 of ipcfs.mq_attr. */
static int pgq_attr(const char *name, long attr[3])
{
	const char *vals[] = { name };
	PGresult *r;
	int err, i;

	r = pg_query("SELECT * FROM ipcfs.mq_attr($1)", 1, vals, NULL, &err);
	if (!r)
		return err;
	for (i = 0; i < 3; i++)
		attr[i] = PQntuples(r) ? pg_int(r, 0, i) : 0;
	PQclear(r);
	return 0;
}

static void pgq_wait(struct ipc_obj *q, struct ipc_wait *w, unsigned int ev)
{
	w->wq = q->wq;
	w->events = ev;
}

/* Send one message: its length, -EAGAIN (full: *w filled) or -errno. */
static ssize_t pgq_send(struct ipc_obj *q, struct pg_tag *tag, const char *buf,
			size_t len, int prio, struct ipc_wait *w)
{
	char p[24];
	const char *vals[] = { q->name, buf, PG_NUM(p, prio), NULL };
	const int lens[] = { -1, (int)len, -1, -1 };
	PGresult *r;
	bool sent;
	int err;

	if (ipc_obj_removed(q))
		return -EIDRM;
	r = pg_call(tag, "SELECT ipcfs.mq_send($1, $2, $3, $4)", 4, vals, lens,
		    buf, len, &err);
	if (!r) {
		if (err == -EAGAIN) /* the loop, and the database away */
			pgq_wait(q, w, POLLOUT);
		return err == -ENOENT ? -EIDRM : err;
	}
	sent = pg_int(r, 0, 0);
	PQclear(r);
	if (!sent) {
		pgq_wait(q, w, POLLOUT);
		return -EAGAIN;
	}
	return len;
}

/* Put a message the loop could not hand over back, or send it anew. */
static int pgq_deliver(struct pgq_later *m)
{
	char p[24], s[24];
	const char *vals[] = { m->q->name, m->data, PG_NUM(p, m->prio),
			       PG_NUM(s, m->seq) };
	const int lens[] = { -1, (int)m->len, -1, -1 };
	struct ipc_wait w;
	ssize_t n;

	if (m->back)
		return pg_exec("SELECT ipcfs.mq_give_back($1, $2, $3, $4)", 4,
			       vals, lens);
	n = pgq_send(m->q, &m->tag, m->data, m->len, m->prio, &w);
	return n < 0 ? n : 0;
}

/*
 * The event loop's job for a message that must not be lost: retried each
 * time the queue's wait queue fires (every change, and every reconnect),
 * until the database takes it; at exit, once more.
 */
static int pgq_later_run(void *arg, bool stopping)
{
	struct pgq_later *m = arg;
	int err = 0;

	if (!ipc_obj_removed(m->q))
		err = pgq_deliver(m);
	if ((err == -EAGAIN || err == -EIO) && !stopping)
		return -EAGAIN;
	if (err && err != -ENOENT)
		ipc_log("%s: lost a message kept to send back (an interrupted reader's, or the last line of a closed lines file): %s",
			m->q->name, strerror(-err));
	pg_tag_release(&m->tag);
	ipc_obj_put(m->q);
	free(m);
	return 0;
}

/*
 * Hand a message to the database: at once if it takes it, else by a job of
 * the loop (a release or an unread may not wait).
 */
static void pgq_keep(struct ipc_obj *q, const char *data, size_t len, int prio,
		     long long seq, bool back)
{
	struct pgq_later *m = malloc(sizeof(*m) + len);

	if (!m) {
		ipc_log("%s: lost a message kept to send back: out of memory",
			q->name);
		return;
	}
	ipc_obj_hold(q);
	*m = (struct pgq_later){
		.q = q, .back = back, .prio = prio, .seq = seq, .len = len
	};
	pg_tag_init(&m->tag);
	memcpy(m->data, data, len);
	if (pgq_later_run(m, false) == -EAGAIN &&
	    ipc_job_park(q->wq, POLLOUT, pgq_later_run, m) < 0)
		pgq_later_run(m, true);
}

static int pgq_open_handle(const char *name, enum pgq_mode mode, void **fh)
{
	struct pgq_handle *h = calloc(1, sizeof(*h));
	long attr[3];
	int ret = 0;

	if (!h)
		return -ENOMEM;
	h->q = ipc_obj_get(&pgq_objs, name, &ret);
	if (h->q && mode == PGQ_LINES) {
		ret = pgq_attr(name, attr);
		h->msgsize = attr[1];
	}
	if (!h->q || ret < 0) {
		if (h->q)
			ipc_obj_put(h->q);
		free(h);
		return ret;
	}
	h->mode = mode;
	pg_tag_init(&h->tag);
	pthread_mutex_init(&h->lock, NULL);
	*fh = h;
	return 0;
}

static int pgq_data_open(const char *name, int flags, void **fh)
{
	return pgq_open_handle(name, PGQ_DATA, fh);
}

static int pgq_stream_open(const char *name, int flags, void **fh)
{
	return pgq_open_handle(name, PGQ_STREAM, fh);
}

static int pgq_lines_open(const char *name, int flags, void **fh)
{
	return pgq_open_handle(name, PGQ_LINES, fh);
}

static int pgq_framed_open(const char *name, int flags, void **fh)
{
	return pgq_open_handle(name, PGQ_FRAMED, fh);
}

static void pgq_release(void *fh)
{
	struct pgq_handle *h = fh;

	/* lines: the last line, unended; a full queue gets it when it can. */
	if (h->mode == PGQ_LINES && h->len > 0 && !ipc_obj_removed(h->q))
		pgq_keep(h->q, h->msg, h->len, 0, 0, false);
	pg_tag_release(&h->tag);
	ipc_obj_put(h->q);
	pthread_mutex_destroy(&h->lock);
	free(h->msg);
	free(h);
}

/*
 * Receive the next message into the handle: 1, 0 at end (queue removed),
 * or -errno (-EAGAIN with *w filled in). framed: "PRIO\t" goes first.
 */
static int pgq_take(struct pgq_handle *h, struct ipc_wait *w)
{
	const char *vals[] = { h->q->name, NULL };
	char frame[IPC_FRAME_HEAD_MAX];
	const char *data;
	PGresult *r;
	int err, len;

	if (ipc_obj_removed(h->q))
		return 0;
	r = pg_call(&h->tag, "SELECT * FROM ipcfs.mq_receive($1, $2)", 2, vals,
		    NULL, NULL, 0, &err);
	if (!r || PQntuples(r) == 0) {
		PQclear(r);
		if (r || err == -EAGAIN) {
			pgq_wait(h->q, w, POLLIN);
			return -EAGAIN;
		}
		return err == -ENOENT ? 0 : err;
	}
	data = pg_bytes(r, 0, 0, &len);
	h->prio = pg_int(r, 0, 1);
	h->seq = pg_int(r, 0, 2);
	h->head = h->mode == PGQ_FRAMED ? ipc_frame_head(h->prio, frame) : 0;
	free(h->msg);
	h->msg = malloc(h->head + len + 1);
	if (!h->msg) {
		/* Nobody will read it: back where it was. */
		pgq_keep(h->q, data, len, h->prio, h->seq, true);
		PQclear(r);
		return -ENOMEM;
	}
	memcpy(h->msg, frame, h->head);
	memcpy(h->msg + h->head, data, len);
	PQclear(r);
	h->len = h->head + len;
	h->pos = 0;
	h->have = true;
	h->fresh = true;
	return 1;
}

/* Copy what the handle's message holds from byte `from` on: a count. */
static ssize_t pgq_copy(struct pgq_handle *h, char *buf, size_t size,
			size_t from)
{
	size_t n = from < h->len ? h->len - from : 0;

	n = n < size ? n : size;
	memcpy(buf, h->msg + from, n);
	return n;
}

/* data, framed: by offset within the message this file received. */
static ssize_t pgq_data_read(struct pgq_handle *h, char *buf, size_t size,
			     off_t off, struct ipc_wait *w)
{
	ssize_t ret = 0;

	if (!h->have && off > 0)
		return -EINVAL;
	if (!h->have)
		ret = pgq_take(h, w);
	return ret > 0 || h->have ? pgq_copy(h, buf, size, off) : ret;
}

/* stream: the next bytes, of this message or the next one. */
static ssize_t pgq_stream_read(struct pgq_handle *h, char *buf, size_t size,
			       struct ipc_wait *w)
{
	ssize_t ret = 1;

	/* An empty message cannot be told from end-of-file here: skip it. */
	while (ret > 0 && (!h->have || h->pos == h->len)) {
		h->have = false;
		ret = pgq_take(h, w);
	}
	if (ret > 0) {
		ret = pgq_copy(h, buf, size, h->pos);
		h->pos += ret;
		h->have = h->pos < h->len;
	}
	return ret;
}

static ssize_t pgq_read(void *fh, char *buf, size_t size, off_t off,
			struct ipc_wait *w)
{
	struct pgq_handle *h = fh;
	ssize_t ret;

	pthread_mutex_lock(&h->lock);
	h->fresh = false;
	ret = h->mode == PGQ_STREAM ? pgq_stream_read(h, buf, size, w)
				    : pgq_data_read(h, buf, size, off, w);
	pthread_mutex_unlock(&h->lock);
	return ret;
}

static void pgq_unread(void *fh, const char *buf, size_t len)
{
	struct pgq_handle *h = fh;

	pthread_mutex_lock(&h->lock);
	if (h->fresh) {
		pgq_keep(h->q, h->msg + h->head, h->len - h->head, h->prio,
			 h->seq, true);
		h->have = false;
		h->fresh = false;
	} else if (h->mode == PGQ_STREAM) {
		h->pos -= len;
		h->have = true;
	}
	pthread_mutex_unlock(&h->lock);
}

static ssize_t pgq_data_write(void *fh, const char *buf, size_t size, off_t off,
			      struct ipc_wait *w)
{
	struct pgq_handle *h = fh;

	return pgq_send(h->q, &h->tag, buf, size, 0, w);
}

/*
 * framed: "PRIO\tMESSAGE" (ipc_frame_parse(), the same bytes on every
 * engine); a write longer than IPC_MSG_MAX may have come in pieces.
 */
static ssize_t pgq_framed_write(void *fh, const char *buf, size_t size,
				off_t off, struct ipc_wait *w)
{
	struct pgq_handle *h = fh;
	unsigned int prio;
	int head = ipc_frame_parse(buf, size, &prio);
	ssize_t ret;

	if (head < 0)
		return head;
	if (size > IPC_MSG_MAX)
		return -EMSGSIZE;
	ret = pgq_send(h->q, &h->tag, buf + head, size - head, prio, w);
	return ret < 0 ? ret : (ssize_t)size;
}

/*
 * lines: send every line buf ends, hold what follows the last newline (as
 * mq.c's lines do; the rules are there).
 */
static int pgq_line(struct pgq_handle *h, const char *buf, size_t take,
		    bool ends, struct ipc_wait *w)
{
	char *grown;
	ssize_t ret;

	if (!ends || h->len) {
		grown = realloc(h->msg, h->len + take);
		if (!grown)
			return -ENOMEM;
		h->msg = grown;
		memcpy(h->msg + h->len, buf, take);
		if (!ends) {
			h->len += take;
			return 0;
		}
		ret = pgq_send(h->q, &h->tag, h->msg, h->len + take, 0, w);
	} else {
		ret = pgq_send(h->q, &h->tag, buf, take, 0, w);
	}
	if (ret >= 0)
		h->len = 0;
	return ret < 0 ? ret : 0;
}

static ssize_t pgq_lines_send(struct pgq_handle *h, const char *buf,
			      size_t size, struct ipc_wait *w)
{
	size_t done = 0, take = 0;
	int ret = 0;

	if (ipc_obj_removed(h->q))
		return -EIDRM;
	if (h->broken) {
		const char *nl = memchr(buf, '\n', size);

		if (!nl)
			return -EMSGSIZE;
		h->broken = false;
		done = nl - buf + 1;
	}
	while (done < size && ret == 0) {
		ret = ipc_line_next(buf + done, size - done, h->len, h->msgsize,
				    &take);
		if (ret >= 0)
			ret = pgq_line(h, buf + done, take, ret == 1, w);
		if (ret == 0)
			done += take;
	}
	if (ret == -EMSGSIZE && done == 0) {
		h->len = 0;
		h->broken = buf[take - 1] != '\n';
	}
	return done > 0 ? (ssize_t)done : ret;
}

static ssize_t pgq_lines_write(void *fh, const char *buf, size_t size,
			       off_t off, struct ipc_wait *w)
{
	struct pgq_handle *h = fh;
	ssize_t ret;

	pthread_mutex_lock(&h->lock);
	ret = pgq_lines_send(h, buf, size, w);
	pthread_mutex_unlock(&h->lock);
	return ret;
}

static unsigned int pgq_poll(void *fh, struct ipc_waitq **wq)
{
	struct pgq_handle *h = fh;
	unsigned int ev = 0;
	long attr[3];

	*wq = h->q->wq;
	if (ipc_obj_removed(h->q))
		return POLLIN | POLLOUT | POLLHUP;
	pthread_mutex_lock(&h->lock);
	if (h->have && (h->mode != PGQ_STREAM || h->pos < h->len))
		ev |= POLLIN;
	pthread_mutex_unlock(&h->lock);
	if (pgq_attr(h->q->name, attr) == 0) {
		if (attr[2] > 0)
			ev |= POLLIN;
		if (attr[2] < attr[0])
			ev |= POLLOUT;
	}
	return ev;
}

static int pgq_attr_get(const char *name, size_t field, char *buf, size_t size)
{
	long attr[3];
	int ret = pgq_attr(name, attr);

	return ret < 0 ? ret : snprintf(buf, size, "%ld\n", attr[field]);
}

/* maxmsg (field 0), msgsize (1): while no message waits (else EBUSY). */
static int pgq_attr_set(const char *name, size_t field, const char *buf,
			size_t len)
{
	char v[24];
	const char *vals[] = { name, NULL, NULL };
	long val;

	if (ipc_parse_long(buf, len, &val) < 0 || val <= 0 ||
	    val > (field ? IPC_MSG_MAX : 65536))
		return -EINVAL;
	vals[1 + field] = PG_NUM(v, val);
	return pg_exec("SELECT ipcfs.mq_set($1, $2, $3)", 3, vals, NULL);
}

static int pgq_maxmsg_set(const char *name, const char *buf, size_t len,
			  const struct ipc_caller *who)
{
	return pgq_attr_set(name, 0, buf, len);
}

static int pgq_msgsize_set(const char *name, const char *buf, size_t len,
			   const struct ipc_caller *who)
{
	return pgq_attr_set(name, 1, buf, len);
}

static const struct ipc_stream_ops pgq_data_ops = {
	.open = pgq_data_open,
	.release = pgq_release,
	.read = pgq_read,
	.unread = pgq_unread,
	.write = pgq_data_write,
	.poll = pgq_poll,
	.flags = IPC_OWN_INODE | IPC_READ_TAKES,
};

static const struct ipc_stream_ops pgq_stream_ops = {
	.open = pgq_stream_open,
	.release = pgq_release,
	.read = pgq_read,
	.unread = pgq_unread,
	.poll = pgq_poll,
	.flags = IPC_STREAM | IPC_READ_TAKES,
};

static const struct ipc_stream_ops pgq_lines_ops = {
	.open = pgq_lines_open,
	.release = pgq_release,
	.write = pgq_lines_write,
	.poll = pgq_poll,
	.flags = IPC_OWN_INODE | IPC_STREAM,
};

static const struct ipc_stream_ops pgq_framed_ops = {
	.open = pgq_framed_open,
	.release = pgq_release,
	.read = pgq_read,
	.unread = pgq_unread,
	.write = pgq_framed_write,
	.poll = pgq_poll,
	.flags = IPC_OWN_INODE | IPC_READ_TAKES,
};

static const struct ipc_file pgq_files[] = {
	{ .name = "data", .mode = 0666, .ops = &pgq_data_ops },
	{ .name = "stream", .mode = 0444, .ops = &pgq_stream_ops },
	{ .name = "lines", .mode = 0222, .ops = &pgq_lines_ops },
	{ .name = "framed", .mode = 0666, .ops = &pgq_framed_ops },
	{ .name = "count", .mode = 0444, .get = pgq_attr_get, .arg = 2 },
	{ .name = "maxmsg",
	  .mode = 0644,
	  .get = pgq_attr_get,
	  .arg = 0,
	  .set = pgq_maxmsg_set },
	{ .name = "msgsize",
	  .mode = 0644,
	  .get = pgq_attr_get,
	  .arg = 1,
	  .set = pgq_msgsize_set },
	{ .name = NULL },
};

static const struct ipc_option pgq_options[] = {
	{ "mq_maxmsg", &pgq_opt_maxmsg, 1, 65536,
	  "capacity of queues made by mkdir (default 10)" },
	{ "mq_msgsize", &pgq_opt_msgsize, 1, IPC_MSG_MAX,
	  "largest message of queues made by mkdir (default 8192)" },
	{ NULL },
};

/* clang-format off */
const struct ipc_kind pg_queue_kind = {
	.name = PGQ_KIND,
	.name_max = NAME_MAX,
	.create = pgq_create,
	.files = pgq_files,
	.options = pgq_options,
	.prefixed = true,
	PG_KIND_OPS(pgq),
};
/* clang-format on */

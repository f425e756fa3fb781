// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * topic.c - topics/NAME: broadcast, owned by the daemon. One write(2) on
 * data is one message, published to every file of data open for reading at
 * that moment; each such file reads every message since it was opened, one
 * per read, in order. Writers never wait. The file-based
 * multiprocessing.Event, signal or pub/sub.
 *
 * data: write publishes (a message of at most IPC_MSG_MAX, 1 MiB less 4 KiB,
 * else EMSGSIZE; no reader: it goes to nobody, still counted); read returns
 * the next message of this file, or what is left of it after a short
 * buffer, and waits while there is none. rmdir: readers read what they
 * still have, then end-of-file; writers get EIDRM (a topic without readers
 * takes writes, so EPIPE, "nobody reads", would say the wrong thing). backlog
 * (rw): messages one reader may fall behind; past it the reader's oldest
 * are dropped and counted in dropped. subscribers, published, dropped:
 * numbers.
 *
 *   $ mkdir topics/reload; cat topics/reload/data & cat topics/reload/data &
 *   $ echo reload > topics/reload/data      # both cats print "reload"
 *
 * A message is stored once, with the count of readers still to read it,
 * and freed when that count reaches zero (read, dropped, or the reader
 * closed). A topic's stored messages are a ring in publishing order; a
 * reader is a position in it (the sequence number of its next message).
 * The count never grows along the ring (a reader behind a message is behind
 * every later one), so messages are freed from the oldest only. Memory is
 * bounded mount-wide by -o topic_max_total: each stored message is charged
 * its bytes, at least TOPIC_MSG_MIN (what storing even a one-byte message
 * costs), and a publish that would pass the bound is ENOSPC, nothing
 * published. Contents live in memory and are lost when the daemon stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"

#define TOPIC_MSG_MIN 64 /* what a message is charged at least */

struct topic_msg {
	unsigned long
		refs; /* readers still to read it, under the topic's lock */
	size_t len;
	char data[];
};

struct topic {
	struct ipc_obj obj;	 /* readers wait POLLIN */
	pthread_mutex_t lock;	 /* everything below */
	struct topic_msg **ring; /* stored messages, ring of ring_size */
	size_t ring_size;	 /* a power of two, or 0 */
	unsigned long first;	 /* sequence number of the oldest stored */
	unsigned long count;	 /* messages stored */
	unsigned long published; /* the next message's sequence number */
	unsigned long subscribers, dropped, backlog;
	bool told_full; /* ENOSPC logged, and nothing published since */
	struct ipc_meta meta;
};

struct topic_handle {
	struct topic *t;
	bool reader;
	unsigned long next; /* sequence number of its next message */
	size_t off;	    /* bytes of that message read already */
	/* Bytes an interrupted read gave back: read before anything else. */
	char *back;
	size_t back_len, back_off;
};

static long topic_opt_backlog = 1024;
static long topic_opt_max_total = 64L << 20;
static void topic_free(struct ipc_obj *o);
/* Topics exist only in the daemon: no native object to open. */
static struct ipc_registry topics = IPC_REGISTRY_INIT(NULL, NULL, topic_free);
/* Bytes charged for all stored messages; taken inside a topic's lock. */
static pthread_mutex_t topic_mem_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t topic_mem; /* under topic_mem_lock */

static size_t topic_cost(size_t len)
{
	return len < TOPIC_MSG_MIN ? TOPIC_MSG_MIN : len;
}

/* Charge bytes: past the bound only if forced (bytes given back). */
static int topic_charge(size_t bytes, size_t freeing, bool force)
{
	int ret = 0;

	pthread_mutex_lock(&topic_mem_lock);
	if (!force && topic_mem - freeing + bytes > (size_t)topic_opt_max_total)
		ret = -ENOSPC;
	else
		topic_mem += bytes;
	pthread_mutex_unlock(&topic_mem_lock);
	return ret;
}

static void topic_uncharge(size_t bytes)
{
	pthread_mutex_lock(&topic_mem_lock);
	topic_mem -= bytes;
	pthread_mutex_unlock(&topic_mem_lock);
}

static struct topic *topic_get(const char *name)
{
	int err;
	struct ipc_obj *o = ipc_obj_get(&topics, name, &err);

	return (struct topic *)o; /* obj comes first */
}

static void topic_put(struct topic *t)
{
	ipc_obj_put(&t->obj);
}

static struct topic_msg **topic_slot(struct topic *t, unsigned long seq)
{
	return &t->ring[seq & (t->ring_size - 1)];
}

/* Free the oldest stored message, whoever still had it (under t->lock). */
static void topic_pop(struct topic *t)
{
	struct topic_msg **slot = topic_slot(t, t->first);

	topic_uncharge(topic_cost((*slot)->len));
	free(*slot);
	*slot = NULL;
	t->first++;
	t->count--;
}

/*
 * A ring a quarter full or less gets half the size (none when empty), so a
 * topic a slow reader once filled does not keep its ring (under t->lock).
 */
static void topic_ring_fit(struct topic *t)
{
	size_t size = t->ring_size / 2;
	struct topic_msg **ring;
	unsigned long i;

	if (t->count == 0) {
		free(t->ring);
		t->ring = NULL;
		t->ring_size = 0;
		return;
	}
	if (t->ring_size <= 16 || t->count > t->ring_size / 4)
		return;
	ring = calloc(size, sizeof(*ring));
	if (!ring)
		return; /* the bigger one serves as well */
	for (i = 0; i < t->count; i++)
		ring[(t->first + i) & (size - 1)] =
			*topic_slot(t, t->first + i);
	free(t->ring);
	t->ring = ring;
	t->ring_size = size;
}

/* Free the oldest messages every reader has read (under t->lock). */
static void topic_trim(struct topic *t)
{
	unsigned long was = t->count;

	while (t->count && (*topic_slot(t, t->first))->refs == 0)
		topic_pop(t);
	if (t->count != was)
		topic_ring_fit(t);
}

/*
 * Drop for every reader what is more than `keep` messages behind the
 * newest: counted in dropped, once per reader that loses it (under
 * t->lock). The readers find out when they next look (topic_catch_up).
 */
static void topic_drop(struct topic *t, unsigned long keep)
{
	while (t->count > keep) {
		t->dropped += (*topic_slot(t, t->first))->refs;
		topic_pop(t);
	}
}

/* A reader whose next messages were dropped goes on from the oldest left. */
static void topic_catch_up(struct topic_handle *h)
{
	if (h->next < h->t->first) {
		h->next = h->t->first;
		h->off = 0;
	}
}

/*
 * Room in the ring for `need` messages (under t->lock): those that stay
 * after a publish's drop, and the new one.
 */
static int topic_ring_grow(struct topic *t, unsigned long need)
{
	size_t size = t->ring_size ? 2 * t->ring_size : 16;
	struct topic_msg **ring;
	unsigned long i;

	if (need <= t->ring_size)
		return 0;
	ring = calloc(size, sizeof(*ring));
	if (!ring)
		return -ENOMEM;
	for (i = 0; i < t->count; i++)
		ring[(t->first + i) & (size - 1)] =
			*topic_slot(t, t->first + i);
	free(t->ring);
	t->ring = ring;
	t->ring_size = size;
	return 0;
}

static void topic_free(struct ipc_obj *o)
{
	struct topic *t = (struct topic *)o;

	while (t->count)
		topic_pop(t);
	pthread_mutex_destroy(&t->lock);
	free(t->ring);
	free(t);
}

/* At exit: the daemon's topics go with it. */
static void topic_fini(void)
{
	ipc_obj_clear(&topics);
}

static int topic_list(int (*fill)(void *ctx, const char *name), void *ctx)
{
	return ipc_obj_list(&topics, fill, ctx);
}

static int topic_create(const char *name, mode_t mode,
			const struct ipc_caller *caller)
{
	struct topic *t = calloc(1, sizeof(*t));
	int ret;

	if (!t)
		return -ENOMEM;
	ret = ipc_obj_init(&t->obj, name, -1);
	if (ret < 0) {
		free(t);
		return ret;
	}
	t->backlog = topic_opt_backlog;
	ipc_meta_init(&t->meta, mode, caller);
	pthread_mutex_init(&t->lock, NULL);
	ret = ipc_obj_add(&topics, &t->obj);
	if (ret < 0)
		ipc_obj_discard(&topics, &t->obj);
	return ret;
}

/* Readers read what they have, then see EOF; writers get EIDRM. */
static int topic_remove(const char *name)
{
	struct topic *t = topic_get(name);
	int ret;

	if (!t)
		return -ENOENT;
	ret = ipc_obj_remove(&t->obj);
	topic_put(t);
	return ret;
}

/* Run fn on topic NAME under its lock. */
static int topic_with(const char *name, int (*fn)(struct topic *, void *),
		      void *arg)
{
	struct topic *t = topic_get(name);
	int ret;

	if (!t)
		return -ENOENT;
	pthread_mutex_lock(&t->lock);
	ret = fn(t, arg);
	pthread_mutex_unlock(&t->lock);
	topic_put(t);
	return ret;
}

static int topic_stat_fn(struct topic *t, void *arg)
{
	ipc_meta_stat(&t->meta, arg);
	return 0;
}

static int topic_stat(const char *name, struct stat *st)
{
	return topic_with(name, topic_stat_fn, st);
}

static int topic_chmod_fn(struct topic *t, void *arg)
{
	ipc_meta_chmod(&t->meta, *(mode_t *)arg);
	return 0;
}

static int topic_chmod(const char *name, mode_t mode)
{
	return topic_with(name, topic_chmod_fn, &mode);
}

static int topic_chown_fn(struct topic *t, void *arg)
{
	const struct ipc_caller *who = arg;

	ipc_meta_chown(&t->meta, who->uid, who->gid);
	return 0;
}

static int topic_chown(const char *name, uid_t uid, gid_t gid)
{
	struct ipc_caller who = { .uid = uid, .gid = gid };

	return topic_with(name, topic_chown_fn, &who);
}

/* A reader starts after the newest message: it gets what comes next. */
static int topic_open(const char *name, int flags, void **fh)
{
	struct topic_handle *h = calloc(1, sizeof(*h));
	struct topic *t;

	if (!h)
		return -ENOMEM;
	t = topic_get(name);
	if (!t) {
		free(h);
		return -ENOENT;
	}
	h->t = t;
	h->reader = (flags & O_ACCMODE) != O_WRONLY;
	pthread_mutex_lock(&t->lock);
	h->next = t->published;
	if (h->reader)
		t->subscribers++;
	pthread_mutex_unlock(&t->lock);
	*fh = h;
	return 0;
}

/* Forget the back bytes (under t->lock). */
static void topic_back_free(struct topic_handle *h)
{
	if (!h->back)
		return;
	topic_uncharge(topic_cost(h->back_len));
	free(h->back);
	h->back = NULL;
	h->back_len = h->back_off = 0;
}

/* A reader that goes no longer holds the messages it had not read. */
static void topic_release(void *fh)
{
	struct topic_handle *h = fh;
	struct topic *t = h->t;
	unsigned long seq;

	pthread_mutex_lock(&t->lock);
	if (h->reader) {
		topic_back_free(h);
		topic_catch_up(h);
		for (seq = h->next; seq < t->first + t->count; seq++)
			(*topic_slot(t, seq))->refs--;
		t->subscribers--;
		topic_trim(t);
	}
	pthread_mutex_unlock(&t->lock);
	topic_put(t);
	free(h);
}

/* Has this reader something to read now? (under t->lock) */
static bool topic_ready(struct topic_handle *h)
{
	topic_catch_up(h);
	return h->back || h->next < h->t->first + h->t->count;
}

static size_t topic_copy(char *dst, const char *src, size_t avail, size_t size)
{
	size_t n = avail < size ? avail : size;

	memcpy(dst, src, n);
	return n;
}

static ssize_t topic_read(void *fh, char *buf, size_t size, off_t off,
			  struct ipc_wait *w)
{
	struct topic_handle *h = fh;
	struct topic *t = h->t;
	struct topic_msg *m;
	ssize_t ret = 0;

	pthread_mutex_lock(&t->lock);
	if (!topic_ready(h)) {
		if (!ipc_obj_removed(&t->obj)) {
			w->wq = t->obj.wq;
			w->events = POLLIN;
			ret = -EAGAIN;
		}
		goto out_unlock;
	}
	ipc_meta_touch(&t->meta.atime);
	if (h->back) {
		ret = topic_copy(buf, h->back + h->back_off,
				 h->back_len - h->back_off, size);
		h->back_off += ret;
		if (h->back_off == h->back_len)
			topic_back_free(h);
		goto out_unlock;
	}
	m = *topic_slot(t, h->next);
	ret = topic_copy(buf, m->data + h->off, m->len - h->off, size);
	h->off += ret;
	if (h->off == m->len) {
		h->off = 0;
		h->next++;
		m->refs--;
		topic_trim(t);
	}
out_unlock:
	pthread_mutex_unlock(&t->lock);
	return ret;
}

/*
 * Give back the bytes of this reader's last read: they are read first
 * again. From the message it is in the middle of, just step back; else the
 * read finished a message (maybe freed by now) or the back bytes, and the
 * bytes are kept as back bytes, charged past the bound rather than lost.
 */
static void topic_unread(void *fh, const char *buf, size_t len)
{
	struct topic_handle *h = fh;
	struct topic *t = h->t;
	size_t rest;
	char *back;

	if (len == 0)
		return;
	pthread_mutex_lock(&t->lock);
	if (h->back && h->back_off >= len) {
		h->back_off -= len;
		goto out_unlock;
	}
	if (!h->back && h->off >= len) {
		h->off -= len;
		goto out_unlock;
	}
	rest = h->back ? h->back_len - h->back_off : 0;
	back = malloc(len + rest);
	if (!back) {
		ipc_log("%s: lost %zu bytes an interrupted reader gave back",
			t->obj.name, len);
		goto out_unlock;
	}
	memcpy(back, buf, len);
	if (rest)
		memcpy(back + len, h->back + h->back_off, rest);
	topic_back_free(h);
	topic_charge(topic_cost(len + rest), 0, true);
	h->back = back;
	h->back_len = len + rest;
out_unlock:
	pthread_mutex_unlock(&t->lock);
	ipc_wake_all(t->obj.wq);
}

/* Say once (until a publish goes through again) what refused it. */
static void topic_full(struct topic *t)
{
	if (t->told_full)
		return;
	t->told_full = true;
	ipc_log("%s: topics may hold %ld bytes of messages in all (-o topic_max_total) and a publish would pass that: a reader that does not read holds up to backlog messages of its topic; lower backlog, or raise topic_max_total",
		t->obj.name, topic_opt_max_total);
}

/*
 * Publish one message to the readers there are now. Those that would fall
 * more than backlog behind lose their oldest first, and what that frees
 * counts against the bound. Never waits: ENOSPC or ENOMEM, and nothing is
 * published or dropped. The copy is made before the lock is taken.
 */
static ssize_t topic_write(void *fh, const char *buf, size_t size, off_t off,
			   struct ipc_wait *w)
{
	struct topic *t = ((struct topic_handle *)fh)->t;
	unsigned long keep, seq, drop;
	size_t freeing = 0;
	struct topic_msg *m;
	ssize_t ret = size;
	bool stored = false;

	if ((long)size > IPC_MSG_MAX) /* it may have come in pieces */
		return -EMSGSIZE;
	if (size == 0)
		return 0;
	m = malloc(sizeof(*m) + size);
	if (!m)
		return -ENOMEM;
	m->len = size;
	memcpy(m->data, buf, size);
	pthread_mutex_lock(&t->lock);
	if (ipc_obj_removed(&t->obj)) {
		ret = -EIDRM;
		goto out_unlock;
	}
	if (t->subscribers == 0)
		goto out_published;
	keep = t->backlog - 1; /* and the new one makes backlog */
	drop = t->count > keep ? t->count - keep : 0;
	for (seq = t->first; seq < t->first + drop; seq++)
		freeing += topic_cost((*topic_slot(t, seq))->len);
	ret = topic_charge(topic_cost(size), freeing, false);
	if (ret == 0)
		ret = topic_ring_grow(t, t->count - drop + 1);
	if (ret < 0) {
		if (ret == -ENOSPC)
			topic_full(t);
		else
			topic_uncharge(topic_cost(size));
		goto out_unlock;
	}
	ret = size;
	topic_drop(t, keep);
	m->refs = t->subscribers;
	if (!t->count)
		t->first = t->published;
	*topic_slot(t, t->published) = m;
	t->count++;
	t->told_full = false;
	stored = true;
out_published:
	t->published++;
	ipc_meta_touch(&t->meta.mtime);
out_unlock:
	pthread_mutex_unlock(&t->lock);
	/*
	 * Every parked reader has it now: not one alike reader, all. Stored
	 * for nobody (no reader), it wakes nobody, and costs no loop wake.
	 */
	if (stored)
		ipc_wake_all(t->obj.wq);
	else
		free(m);
	return ret;
}

static unsigned int topic_poll(void *fh, struct ipc_waitq **wq)
{
	struct topic_handle *h = fh;
	struct topic *t = h->t;
	unsigned int ev = POLLOUT; /* a write never waits */

	*wq = t->obj.wq;
	pthread_mutex_lock(&t->lock);
	if (ipc_obj_removed(&t->obj))
		ev |= POLLIN | POLLHUP;
	else if (h->reader && topic_ready(h))
		ev |= POLLIN;
	pthread_mutex_unlock(&t->lock);
	return ev;
}

/* subscribers, published, dropped, backlog: the field at offset `field`. */
static int topic_field_get(const char *name, size_t field, char *buf,
			   size_t size)
{
	struct topic *t = topic_get(name);
	unsigned long val;

	if (!t)
		return -ENOENT;
	pthread_mutex_lock(&t->lock);
	val = *(const unsigned long *)((const char *)t + field);
	pthread_mutex_unlock(&t->lock);
	topic_put(t);
	return snprintf(buf, size, "%lu\n", val);
}

/* A positive decimal, else EINVAL, unchanged. Lowering it drops at once. */
static int topic_backlog_set(const char *name, const char *buf, size_t len,
			     const struct ipc_caller *who)
{
	struct topic *t;
	long val;

	if (ipc_parse_long(buf, len, &val) < 0 || val < 1)
		return -EINVAL;
	t = topic_get(name);
	if (!t)
		return -ENOENT;
	pthread_mutex_lock(&t->lock);
	t->backlog = val;
	topic_drop(t, t->backlog);
	topic_ring_fit(t);
	pthread_mutex_unlock(&t->lock);
	topic_put(t);
	return 0;
}

static const struct ipc_stream_ops topic_data_ops = {
	.open = topic_open,
	.release = topic_release,
	.read = topic_read,
	.unread = topic_unread,
	.write = topic_write,
	.poll = topic_poll,
	.flags = IPC_OWN_INODE | IPC_STREAM | IPC_READ_TAKES,
};

static const struct ipc_file topic_files[] = {
	{ .name = "data", .mode = 0666, .ops = &topic_data_ops },
	{ .name = "subscribers",
	  .mode = 0444,
	  .get = topic_field_get,
	  .arg = offsetof(struct topic, subscribers) },
	{ .name = "published",
	  .mode = 0444,
	  .get = topic_field_get,
	  .arg = offsetof(struct topic, published) },
	{ .name = "backlog",
	  .mode = 0666,
	  .get = topic_field_get,
	  .arg = offsetof(struct topic, backlog),
	  .set = topic_backlog_set },
	{ .name = "dropped",
	  .mode = 0444,
	  .get = topic_field_get,
	  .arg = offsetof(struct topic, dropped) },
	{ .name = NULL },
};

static const struct ipc_option topic_options[] = {
	{ "topic_backlog", &topic_opt_backlog, 1, LONG_MAX,
	  "messages a reader of a new topic may fall behind (default 1024)" },
	{ "topic_max_total", &topic_opt_max_total, 4096, 1L << 40,
	  "bytes of messages all topics together may hold (default 64 MiB)" },
	{ NULL },
};

const struct ipc_kind topic_kind = {
	.name = "topics",
	.name_max = NAME_MAX,
	.fini = topic_fini,
	.list = topic_list,
	.create = topic_create,
	.remove = topic_remove,
	.stat = topic_stat,
	.chmod = topic_chmod,
	.chown = topic_chown,
	.files = topic_files,
	.options = topic_options,
	.prefixed = true,
	.watched = ipc_daemon_owned,
};

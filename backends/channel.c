// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * channel.c - channels/NAME: a byte stream with pipe semantics, owned by the
 * daemon. What people use mkfifo(1) for, without its traps: opening never
 * blocks, bytes written before a reader comes are kept, and a reader ends
 * when the producers are gone.
 *
 * data: write(2) appends (a write of at most 4096 bytes is never
 * interleaved with another); read(2) returns what is buffered, up to the
 * request. An empty channel blocks a reader while a writer has data open,
 * and ends it (EOF) once no writer has, provided this reader has seen a
 * writer: one had data open, or bytes were waiting, when it opened, or one
 * opened it since: the FIFO rule, eof "close". With eof "rmdir", readers
 * wait across writers and end only when the channel is removed (a log that
 * producers come and go to). capacity (rw), bytes, readers, writers:
 * numbers; eof (rw): close or rmdir.
 *
 *   $ mkdir channels/logs; seq 3 > channels/logs/data; cat channels/logs/data
 *   1 2 3 (one per line)
 *
 * Contents live in memory and are lost when the daemon stops. Memory is
 * bounded: each channel reserves its capacity out of -o chan_max_total.
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

#define CHANNEL_ATOMIC 4096 /* PIPE_BUF: writes up to this never interleave */

struct channel {
	struct ipc_obj obj;   /* readers wait POLLIN, writers POLLOUT */
	pthread_mutex_t lock; /* everything below */
	char *buf;	      /* ring of size bytes */
	size_t size, head, len;
	size_t cap; /* the capacity: size, unless an unread grew it */
	size_t readers, writers;
	unsigned long writer_opens; /* ever: "a writer opened it since" */
	bool eof_rmdir; /* readers end at rmdir only (eof "rmdir") */
	struct ipc_meta meta;
};

struct channel_handle {
	struct channel *ch;
	bool reader, writer;
	bool saw_writer;	    /* when it opened */
	unsigned long writer_opens; /* ch->writer_opens when it opened */
};

static long channel_opt_capacity = 65536;
static long channel_opt_max_total = 256L << 20;
static void channel_free(struct ipc_obj *o);
/* Channels exist only in the daemon: no native object to open. */
static struct ipc_registry channels =
	IPC_REGISTRY_INIT(NULL, NULL, channel_free);
/* The reserve: taken before a channel's lock, with the registry's inside. */
static pthread_mutex_t channel_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t channel_reserved; /* sum of capacities, under channel_lock */

/* Copy n bytes in at the tail; the caller made room. */
static void channel_ring_put(struct channel *ch, const char *src, size_t n)
{
	size_t tail = (ch->head + ch->len) % ch->size;
	size_t first = ch->size - tail < n ? ch->size - tail : n;

	memcpy(ch->buf + tail, src, first);
	memcpy(ch->buf, src + first, n - first);
	ch->len += n;
}

/* Copy n buffered bytes out from the head. */
static void channel_ring_get(struct channel *ch, char *dst, size_t n)
{
	size_t first = ch->size - ch->head < n ? ch->size - ch->head : n;

	memcpy(dst, ch->buf + ch->head, first);
	memcpy(dst + first, ch->buf, n - first);
	ch->head = (ch->head + n) % ch->size;
	ch->len -= n;
}

/* Move the contents into a new ring of size bytes (size >= len). */
static int channel_ring_resize(struct channel *ch, size_t size)
{
	char *buf = malloc(size);
	size_t len = ch->len;

	if (!buf)
		return -ENOMEM;
	channel_ring_get(ch, buf, len);
	free(ch->buf);
	ch->buf = buf;
	ch->size = size;
	ch->head = 0;
	ch->len = len;
	return 0;
}

static struct channel *channel_get(const char *name)
{
	int err;
	struct ipc_obj *o = ipc_obj_get(&channels, name, &err);

	return (struct channel *)o; /* obj comes first */
}

static void channel_put(struct channel *ch)
{
	ipc_obj_put(&ch->obj);
}

static void channel_free(struct ipc_obj *o)
{
	struct channel *ch = (struct channel *)o;

	pthread_mutex_destroy(&ch->lock);
	free(ch->buf);
	free(ch);
}

static bool channel_removed(struct channel *ch)
{
	return ipc_obj_removed(&ch->obj);
}

static int channel_init(void)
{
	if (channel_opt_capacity > channel_opt_max_total) {
		ipc_log("-o chan_capacity=%ld is more than -o chan_max_total=%ld: no channel could be made",
			channel_opt_capacity, channel_opt_max_total);
		return -EINVAL;
	}
	return 0;
}

/* At exit: the daemon's channels go with it. */
static void channel_fini(void)
{
	ipc_obj_clear(&channels);
	channel_reserved = 0;
}

static int channel_list(int (*fill)(void *ctx, const char *name), void *ctx)
{
	return ipc_obj_list(&channels, fill, ctx);
}

static int channel_create(const char *name, mode_t mode,
			  const struct ipc_caller *caller)
{
	size_t cap = channel_opt_capacity;
	struct channel *ch = calloc(1, sizeof(*ch));
	int ret;

	if (!ch || !(ch->buf = malloc(cap))) {
		free(ch);
		return -ENOMEM;
	}
	ret = ipc_obj_init(&ch->obj, name, -1);
	if (ret < 0) {
		free(ch->buf);
		free(ch);
		return ret;
	}
	ch->cap = ch->size = cap;
	ipc_meta_init(&ch->meta, mode, caller);
	pthread_mutex_init(&ch->lock, NULL);

	pthread_mutex_lock(&channel_lock);
	if (channel_reserved + cap > (size_t)channel_opt_max_total)
		ret = -ENOSPC;
	else if ((ret = ipc_obj_add(&channels, &ch->obj)) == 0)
		channel_reserved += cap;
	pthread_mutex_unlock(&channel_lock);
	if (ret == -ENOSPC)
		ipc_log("mkdir %s: channels may hold %ld bytes in all (-o chan_max_total) and %zu are reserved",
			name, channel_opt_max_total, channel_reserved);
	if (ret < 0)
		ipc_obj_discard(&channels, &ch->obj);
	return ret;
}

/* Readers drain what is left, then see EOF; writers get EPIPE. */
static int channel_remove(const char *name)
{
	struct channel *ch = channel_get(name);
	int ret;

	if (!ch)
		return -ENOENT;
	pthread_mutex_lock(&channel_lock);
	ret = ipc_obj_remove(&ch->obj);
	if (ret == 0)
		channel_reserved -= ch->cap;
	pthread_mutex_unlock(&channel_lock);
	channel_put(ch);
	return ret;
}

/* Run fn on channel NAME under its lock. */
static int channel_with(const char *name, int (*fn)(struct channel *, void *),
			void *arg)
{
	struct channel *ch = channel_get(name);
	int ret;

	if (!ch)
		return -ENOENT;
	pthread_mutex_lock(&ch->lock);
	ret = fn(ch, arg);
	pthread_mutex_unlock(&ch->lock);
	channel_put(ch);
	return ret;
}

static int channel_stat_fn(struct channel *ch, void *arg)
{
	ipc_meta_stat(&ch->meta, arg);
	return 0;
}

static int channel_stat(const char *name, struct stat *st)
{
	return channel_with(name, channel_stat_fn, st);
}

static int channel_chmod_fn(struct channel *ch, void *arg)
{
	ipc_meta_chmod(&ch->meta, *(mode_t *)arg);
	return 0;
}

static int channel_chmod(const char *name, mode_t mode)
{
	return channel_with(name, channel_chmod_fn, &mode);
}

static int channel_chown_fn(struct channel *ch, void *arg)
{
	const struct ipc_caller *who = arg;

	ipc_meta_chown(&ch->meta, who->uid, who->gid);
	return 0;
}

static int channel_chown(const char *name, uid_t uid, gid_t gid)
{
	struct ipc_caller who = { .uid = uid, .gid = gid };

	return channel_with(name, channel_chown_fn, &who);
}

static int channel_open(const char *name, int flags, void **fh)
{
	struct channel_handle *h = calloc(1, sizeof(*h));
	int acc = flags & O_ACCMODE;
	struct channel *ch;

	if (!h)
		return -ENOMEM;
	ch = channel_get(name);
	if (!ch) {
		free(h);
		return -ENOENT;
	}
	h->ch = ch;
	h->reader = acc != O_WRONLY;
	h->writer = acc != O_RDONLY;
	pthread_mutex_lock(&ch->lock);
	h->saw_writer = ch->writers > 0 || ch->len > 0;
	if (h->writer) {
		ch->writers++;
		ch->writer_opens++;
	}
	h->writer_opens = ch->writer_opens;
	if (h->reader)
		ch->readers++;
	pthread_mutex_unlock(&ch->lock);
	*fh = h;
	return 0;
}

static void channel_release(void *fh)
{
	struct channel_handle *h = fh;
	struct channel *ch = h->ch;
	bool last_writer = false;

	pthread_mutex_lock(&ch->lock);
	if (h->writer)
		last_writer = --ch->writers == 0;
	if (h->reader)
		ch->readers--;
	pthread_mutex_unlock(&ch->lock);
	/* Waiting readers may have reached their end. */
	if (last_writer)
		ipc_wake_all(ch->obj.wq);
	channel_put(ch);
	free(h);
}

/* Bytes a write may add now (under ch->lock). */
static size_t channel_room(const struct channel *ch)
{
	return ch->len < ch->cap ? ch->cap - ch->len : 0;
}

/* Has this reader seen a writer? (under ch->lock) */
static bool channel_saw_writer(const struct channel_handle *h)
{
	return h->saw_writer || h->ch->writer_opens != h->writer_opens;
}

/* Is an empty channel at its end for this reader? (under ch->lock) */
static bool channel_at_end(const struct channel_handle *h)
{
	struct channel *ch = h->ch;

	if (channel_removed(ch))
		return true;
	return !ch->eof_rmdir && ch->writers == 0 && channel_saw_writer(h);
}

/* Read by peek and take (ipc.h): up to size bytes, ch->lock held. */
static ssize_t channel_peek(void *fh, size_t size, off_t off,
			    struct iovec iov[2], int *niov, struct ipc_wait *w)
{
	struct channel_handle *h = fh;
	struct channel *ch = h->ch;
	size_t n, first;

	pthread_mutex_lock(&ch->lock);
	if (ch->len == 0 && !channel_at_end(h)) {
		pthread_mutex_unlock(&ch->lock);
		w->wq = ch->obj.wq;
		w->events = POLLIN;
		return -EAGAIN;
	}
	n = ch->len < size ? ch->len : size;
	first = ch->size - ch->head < n ? ch->size - ch->head : n;
	iov[0] = (struct iovec){ ch->buf + ch->head, first };
	iov[1] = (struct iovec){ ch->buf, n - first };
	*niov = n - first ? 2 : 1;
	return n;
}

static void channel_take(void *fh, size_t n)
{
	struct channel *ch = ((struct channel_handle *)fh)->ch;

	if (n > 0) {
		ch->head = (ch->head + n) % ch->size;
		ch->len -= n;
		ipc_meta_touch(&ch->meta.atime);
		/* Back to its capacity once an unread's surplus is read. */
		if (ch->size > ch->cap && ch->len <= ch->cap)
			channel_ring_resize(ch, ch->cap);
	}
	pthread_mutex_unlock(&ch->lock);
	if (n > 0)
		ipc_wake(ch->obj.wq, POLLOUT);
}

/* A read is a peek, a copy and a take: what fs/ does itself for large ones. */
static ssize_t channel_read(void *fh, char *buf, size_t size, off_t off,
			    struct ipc_wait *w)
{
	struct iovec iov[2];
	int i, niov = 0;
	ssize_t n = channel_peek(fh, size, off, iov, &niov, w);
	char *p = buf;

	if (n < 0)
		return n;
	for (i = 0; i < niov; i++)
		p = mempcpy(p, iov[i].iov_base, iov[i].iov_len);
	channel_take(fh, n);
	return n;
}

/*
 * Push bytes a reader never got back to the front. Writers may have used
 * the room meanwhile: then the ring grows past its capacity for a while
 * rather than lose them.
 */
static void channel_unread(void *fh, const char *buf, size_t len)
{
	struct channel *ch = ((struct channel_handle *)fh)->ch;

	if (len == 0)
		return;
	pthread_mutex_lock(&ch->lock);
	if (ch->size - ch->len < len &&
	    channel_ring_resize(ch, ch->len + len) < 0) {
		ipc_log("%s: lost %zu bytes an interrupted reader gave back",
			ch->obj.name, len);
		goto out_unlock;
	}
	ch->head = (ch->head + ch->size - len % ch->size) % ch->size;
	ch->len += len;
	memcpy(ch->buf + ch->head, buf,
	       ch->size - ch->head < len ? ch->size - ch->head : len);
	if (ch->size - ch->head < len)
		memcpy(ch->buf, buf + (ch->size - ch->head),
		       len - (ch->size - ch->head));
out_unlock:
	pthread_mutex_unlock(&ch->lock);
	ipc_wake(ch->obj.wq, POLLIN);
}

/*
 * Append what fits. A write of at most CHANNEL_ATOMIC bytes goes in whole or
 * not at all, so it is never interleaved; a larger one may go in parts, and
 * returns what went in (fs/ parks the rest).
 */
static ssize_t channel_write(void *fh, const char *buf, size_t size, off_t off,
			     struct ipc_wait *w)
{
	struct channel *ch = ((struct channel_handle *)fh)->ch;
	size_t room, n = 0;
	ssize_t ret;

	pthread_mutex_lock(&ch->lock);
	if (channel_removed(ch)) {
		ret = -EPIPE;
		goto out_unlock;
	}
	room = channel_room(ch);
	if (size <= CHANNEL_ATOMIC && size > room)
		n = 0;
	else
		n = room < size ? room : size;
	if (n > 0) {
		channel_ring_put(ch, buf, n);
		ipc_meta_touch(&ch->meta.mtime);
	}
	if (n < size) {
		w->wq = ch->obj.wq;
		w->events = POLLOUT;
	}
	ret = n || !size ? (ssize_t)n : -EAGAIN;
out_unlock:
	pthread_mutex_unlock(&ch->lock);
	if (n > 0)
		ipc_wake(ch->obj.wq, POLLIN);
	return ret;
}

static unsigned int channel_poll(void *fh, struct ipc_waitq **wq)
{
	struct channel_handle *h = fh;
	struct channel *ch = h->ch;
	unsigned int ev = 0;

	*wq = ch->obj.wq;
	pthread_mutex_lock(&ch->lock);
	if (channel_removed(ch))
		ev |= POLLIN | POLLOUT | POLLHUP;
	if (ch->len > 0 || channel_at_end(h))
		ev |= POLLIN;
	/* As a pipe: writable when a write of PIPE_BUF bytes would fit. */
	if (channel_room(ch) >= CHANNEL_ATOMIC)
		ev |= POLLOUT;
	pthread_mutex_unlock(&ch->lock);
	return ev;
}

/* capacity, bytes, readers, writers: the size_t field at offset `field`. */
static int channel_field_get(const char *name, size_t field, char *buf,
			     size_t size)
{
	struct channel *ch = channel_get(name);
	size_t val;

	if (!ch)
		return -ENOENT;
	pthread_mutex_lock(&ch->lock);
	val = *(const size_t *)((const char *)ch + field);
	pthread_mutex_unlock(&ch->lock);
	channel_put(ch);
	return snprintf(buf, size, "%zu\n", val);
}

/*
 * Resize: at least CHANNEL_ATOMIC, never below what is buffered (EBUSY), and
 * within the mount-wide reserve (ENOSPC). Nothing changes on error.
 */
static int channel_capacity_set(const char *name, const char *buf, size_t len,
				const struct ipc_caller *who)
{
	struct channel *ch;
	long cap;
	int ret;

	ret = ipc_parse_long(buf, len, &cap);
	if (ret < 0 || cap < CHANNEL_ATOMIC)
		return -EINVAL;
	if (cap > channel_opt_max_total)
		return -ENOSPC;
	ch = channel_get(name);
	if (!ch)
		return -ENOENT;
	/* channel_lock, then ch->lock: the reserve and the ring change together. */
	pthread_mutex_lock(&channel_lock);
	pthread_mutex_lock(&ch->lock);
	if ((size_t)cap < ch->len)
		ret = -EBUSY;
	else if (channel_reserved - ch->cap + cap >
		 (size_t)channel_opt_max_total)
		ret = -ENOSPC;
	else if ((size_t)cap != ch->size)
		ret = channel_ring_resize(ch, cap);
	if (ret == 0) {
		if (!channel_removed(ch))
			channel_reserved = channel_reserved - ch->cap + cap;
		ch->cap = cap;
	}
	pthread_mutex_unlock(&ch->lock);
	pthread_mutex_unlock(&channel_lock);
	if (ret == 0)
		ipc_wake(ch->obj.wq, POLLOUT);
	channel_put(ch);
	return ret;
}

/* When readers end: "close" (the FIFO rule) or "rmdir". */
static const char *const channel_eof_names[] = { "close", "rmdir" };

static int channel_eof_get(const char *name, size_t arg, char *buf, size_t size)
{
	struct channel *ch = channel_get(name);
	bool rmdir_;

	if (!ch)
		return -ENOENT;
	pthread_mutex_lock(&ch->lock);
	rmdir_ = ch->eof_rmdir;
	pthread_mutex_unlock(&ch->lock);
	channel_put(ch);
	return snprintf(buf, size, "%s\n", channel_eof_names[rmdir_]);
}

/* "close" or "rmdir", a newline after it or not; else EINVAL, unchanged. */
static int channel_eof_set(const char *name, const char *buf, size_t len,
			   const struct ipc_caller *who)
{
	struct channel *ch;
	int i;

	if (len > 0 && buf[len - 1] == '\n')
		len--;
	for (i = 0; i < 2; i++)
		if (strlen(channel_eof_names[i]) == len &&
		    memcmp(buf, channel_eof_names[i], len) == 0)
			break;
	if (i == 2)
		return -EINVAL;
	ch = channel_get(name);
	if (!ch)
		return -ENOENT;
	pthread_mutex_lock(&ch->lock);
	ch->eof_rmdir = i == 1;
	pthread_mutex_unlock(&ch->lock);
	/* Back to "close": waiting readers may be at their end now. */
	ipc_wake_all(ch->obj.wq);
	channel_put(ch);
	return 0;
}

static const struct ipc_stream_ops channel_data_ops = {
	.open = channel_open,
	.release = channel_release,
	.read = channel_read,
	.unread = channel_unread,
	.peek = channel_peek,
	.take = channel_take,
	.write = channel_write,
	.poll = channel_poll,
	.flags = IPC_OWN_INODE | IPC_STREAM | IPC_READ_TAKES,
};

static const struct ipc_file channel_files[] = {
	{ .name = "data", .mode = 0666, .ops = &channel_data_ops },
	{ .name = "capacity",
	  .mode = 0666,
	  .get = channel_field_get,
	  .arg = offsetof(struct channel, cap),
	  .set = channel_capacity_set },
	{ .name = "bytes",
	  .mode = 0444,
	  .get = channel_field_get,
	  .arg = offsetof(struct channel, len) },
	{ .name = "readers",
	  .mode = 0444,
	  .get = channel_field_get,
	  .arg = offsetof(struct channel, readers) },
	{ .name = "writers",
	  .mode = 0444,
	  .get = channel_field_get,
	  .arg = offsetof(struct channel, writers) },
	{ .name = "eof",
	  .mode = 0666,
	  .get = channel_eof_get,
	  .set = channel_eof_set },
	{ .name = NULL },
};

static const struct ipc_option channel_options[] = {
	{ "chan_capacity", &channel_opt_capacity, CHANNEL_ATOMIC, 1L << 30,
	  "bytes a new channel buffers at most (default 65536)" },
	{ "chan_max_total", &channel_opt_max_total, CHANNEL_ATOMIC, 1L << 40,
	  "bytes all channels together may buffer (default 256 MiB)" },
	{ NULL },
};

const struct ipc_kind channel_kind = {
	.name = "channels",
	.name_max = NAME_MAX,
	.init = channel_init,
	.fini = channel_fini,
	.list = channel_list,
	.create = channel_create,
	.remove = channel_remove,
	.stat = channel_stat,
	.chmod = channel_chmod,
	.chown = channel_chown,
	.files = channel_files,
	.options = channel_options,
	.prefixed = true,
	.watched = ipc_daemon_owned,
};

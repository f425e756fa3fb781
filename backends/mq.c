// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mq.c - queues/NAME: a POSIX message queue (mq_overview(7)).
 *
 * data: one write(2) sends one message of priority 0. Reading an open file
 * receives one message (highest priority, oldest first) on the first read
 * and serves it by offset, then end-of-file: `cat`, `$(< data)`, `read -r`
 * and readFileSync() each take exactly one message.
 * stream: each read(2) returns the next message (or the rest of one a short
 * buffer could not hold), forever: `cat stream | while read -r job` is a
 * worker. count, maxmsg, msgsize: mq_getattr(3).
 *
 *   $ mkdir queues/jobs; echo build > queues/jobs/data; cat queues/jobs/count
 *   1
 *
 * The daemon opens each queue once (O_RDWR|O_NONBLOCK) for all the open files
 * of the tree; that descriptor is the queue's wait queue: the event loop
 * polls it for readers (POLLIN) and writers (POLLOUT). Queues are listed
 * from an mqueue filesystem: /dev/mqueue if mounted, else a private one the
 * daemon mounts and detaches at once (it lives as long as our descriptor).
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <mqueue.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "ipc.h"

#define MQ_FS_MAGIC 0x19800202
#define MQ_RUN_DIR "/run/ipcfs"	 /* root's; holds.c journals there too */
#define MQ_MSGSIZE_MAX (1 << 20) /* a message travels in one FUSE write */

struct mq_queue {
	struct mq_queue *next;
	unsigned int refs; /* under mq_lock */
	bool removed;	   /* under mq_lock; readers see EOF, writers EIDRM */
	mqd_t mqd;
	long maxmsg, msgsize;
	struct ipc_waitq wq;
	char name[];
};

struct mq_handle {
	struct mq_queue *q;
	pthread_mutex_t lock; /* threads may share an open file */
	bool stream;
	bool have;  /* msg holds a message not all read yet */
	bool fresh; /* the last read received msg */
	unsigned int prio;
	size_t len, pos; /* stream: pos bytes of msg already read */
	char *msg;
};

static long mq_opt_maxmsg;
static long mq_opt_msgsize;
static int mq_dirfd = -1;
static struct ipc_watch *mq_watch; /* unlinks in the mqueue fs */
static pthread_mutex_t mq_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mq_queue *mq_queues; /* open ones, not removed; under mq_lock */

struct mq_name {
	struct mq_name *next;
	char name[];
};

static struct mq_name *mq_made; /* no mqueue fs: what mkdir made; mq_lock */

/* Read one number from /proc/sys/fs/mqueue, or -1. */
static long mq_sysctl(const char *name)
{
	char path[64];
	long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/fs/mqueue/%s", name);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%ld", &val) != 1)
			val = -1;
		fclose(f);
	}
	return val;
}

/*
 * The default RLIMIT_MSGQUEUE (800 KiB a user) holds nine default-sized
 * queues. Raise ours as far as we may; say what is left.
 */
static void mq_raise_rlimit(void)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

	if (setrlimit(RLIMIT_MSGQUEUE, &rl) == 0)
		return;
	if (getrlimit(RLIMIT_MSGQUEUE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_MSGQUEUE, &rl);
	}
}

static void mq_gone(const char *name);

/* Find the mqueue filesystem of our IPC namespace, or mount a private one. */
static void mq_find_fs(void)
{
	struct statfs sfs;
	char dir[64];

	mq_dirfd = open("/dev/mqueue", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mq_dirfd >= 0 && fstatfs(mq_dirfd, &sfs) == 0 &&
	    sfs.f_type == MQ_FS_MAGIC)
		return;
	if (mq_dirfd >= 0)
		close(mq_dirfd);
	mq_dirfd = -1;
	/*
	 * A mount point of our own, for an instant, where nobody else may
	 * make one first (/tmp would let any user take the name).
	 */
	snprintf(dir, sizeof(dir), MQ_RUN_DIR "/mqueue.%d", (int)getpid());
	if ((mkdir(MQ_RUN_DIR, 0700) < 0 && errno != EEXIST) ||
	    mkdir(dir, 0700) < 0)
		goto out_warn;
	if (mount("mqueue", dir, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) == 0) {
		mq_dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		/* Detached, it stays usable through mq_dirfd, and only there. */
		umount2(dir, MNT_DETACH);
	}
	rmdir(dir);
	if (mq_dirfd >= 0)
		return;
out_warn:
	ipc_log("cannot mount an mqueue filesystem (%s): queues/ lists only the queues made through this mount; mount -t mqueue none /dev/mqueue to see them all",
		strerror(errno));
}

static int mq_init(void)
{
	mq_raise_rlimit();
	mq_find_fs();
	if (mq_dirfd >= 0)
		mq_watch = ipc_watch_unlinks(mq_dirfd, mq_gone);
	return 0;
}

static void mq_fini(void)
{
	struct mq_name *m;

	while ((m = mq_made)) {
		mq_made = m->next;
		free(m);
	}
	ipc_unwatch(mq_watch);
	mq_watch = NULL;
	if (mq_dirfd >= 0)
		close(mq_dirfd);
	mq_dirfd = -1;
}

/*
 * Without an mqueue file system nothing lists queues: remember the ones
 * this mount made, and show those that still exist.
 */
static void mq_made_add(const char *name)
{
	struct mq_name *m = malloc(sizeof(*m) + strlen(name) + 1);

	if (!m)
		return;
	strcpy(m->name, name);
	pthread_mutex_lock(&mq_lock);
	m->next = mq_made;
	mq_made = m;
	pthread_mutex_unlock(&mq_lock);
}

static int mq_list_made(int (*fill)(void *ctx, const char *name), void *ctx)
{
	struct mq_name *m, **pp;
	int ret = 0;
	mqd_t mqd;

	pthread_mutex_lock(&mq_lock);
	for (pp = &mq_made; ret == 0 && (m = *pp);) {
		mqd = mq_open(m->name, O_RDONLY);
		if (mqd == (mqd_t)-1 && errno == ENOENT) {
			*pp = m->next; /* removed meanwhile */
			free(m);
			continue;
		}
		if (mqd != (mqd_t)-1)
			mq_close(mqd);
		ret = fill(ctx, m->name);
		pp = &m->next;
	}
	pthread_mutex_unlock(&mq_lock);
	return ret;
}

static int mq_list(int (*fill)(void *ctx, const char *name), void *ctx)
{
	struct dirent *de;
	char name[NAME_MAX + 2];
	DIR *d;
	int fd, ret = 0;

	if (mq_dirfd < 0)
		return mq_list_made(fill, ctx);
	fd = openat(mq_dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		return ret;
	}
	while (ret == 0 && (de = readdir(d))) {
		/* ".x" is a queue like any other; only . and .. are not. */
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(name, sizeof(name), "/%s", de->d_name);
		ret = fill(ctx, name);
	}
	closedir(d);
	return ret;
}

/* Say which kernel limit refused a queue, and how to raise it. */
static void mq_explain(int err, const char *name, const struct mq_attr *a)
{
	struct rlimit rl;

	switch (err) {
	case EMFILE:
		getrlimit(RLIMIT_MSGQUEUE, &rl);
		ipc_log("mkdir %s: the caller's RLIMIT_MSGQUEUE (at most %lu bytes for all queues of a user) is used up; remove queues, mount with smaller -o mq_maxmsg/mq_msgsize, or raise `ulimit -q` of the caller and of ipcfs",
			name, (unsigned long)rl.rlim_cur);
		break;
	case ENOSPC:
		ipc_log("mkdir %s: fs.mqueue.queues_max (%ld) queues exist; raise it with sysctl fs.mqueue.queues_max=N",
			name, mq_sysctl("queues_max"));
		break;
	case EINVAL:
		ipc_log("mkdir %s: %ld messages of %ld bytes exceed fs.mqueue.msg_max (%ld) or fs.mqueue.msgsize_max (%ld); raise them with sysctl, or mount with smaller -o mq_maxmsg/mq_msgsize",
			name, a->mq_maxmsg, a->mq_msgsize, mq_sysctl("msg_max"),
			mq_sysctl("msgsize_max"));
		break;
	case ENOMEM:
		ipc_log("mkdir %s: out of memory", name);
		break;
	}
}

struct mq_create_arg {
	const char *name;
	mode_t mode;
	struct mq_attr *attr;
};

/* In the caller's shoes (ipc_as_caller): a system call or two, no lock. */
static int mq_create_as(void *arg)
{
	struct mq_create_arg *a = arg;
	mqd_t mqd;

	mqd = mq_open(a->name, O_RDONLY | O_CREAT | O_EXCL, a->mode, a->attr);
	if (mqd == (mqd_t)-1)
		return -errno;
	mq_close(mqd);
	return 0;
}

/*
 * Made by the caller, not the daemon: the queue is the caller's, and the
 * kernel charges it to the caller's RLIMIT_MSGQUEUE, so one user who uses
 * up theirs keeps nobody else from making queues.
 */
static int mq_create(const char *name, mode_t mode,
		     const struct ipc_caller *caller)
{
	struct mq_attr attr = { 0 };
	struct mq_create_arg a = { .name = name, .mode = mode };
	int ret;

	if (mq_opt_maxmsg || mq_opt_msgsize) {
		attr.mq_maxmsg = mq_opt_maxmsg ? mq_opt_maxmsg
					       : mq_sysctl("msg_default");
		attr.mq_msgsize = mq_opt_msgsize ? mq_opt_msgsize
						 : mq_sysctl("msgsize_default");
		a.attr = &attr;
	}
	ret = ipc_as_caller(caller, mq_create_as, &a);
	if (ret < 0)
		mq_explain(-ret, name, &attr);
	else if (mq_dirfd < 0)
		mq_made_add(name);
	return ret;
}

static void mq_put(struct mq_queue *q);

/*
 * The queue NAME is gone: its open files see end-of-file or EIDRM, and a
 * queue made anew under the name is another one. Under mq_lock; the caller
 * wakes and puts q once it drops the lock.
 */
static void mq_retire(struct mq_queue *q)
{
	struct mq_queue **pp;

	for (pp = &mq_queues; *pp; pp = &(*pp)->next) {
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	}
	q->removed = true;
	q->refs++;
}

/* Is q still the queue called NAME? It may have been unlinked natively. */
static bool mq_current(struct mq_queue *q)
{
	struct stat a, b;
	mqd_t mqd;
	int ret;

	if (fstat(q->mqd, &a) < 0)
		return false;
	if (mq_dirfd >= 0)
		return fstatat(mq_dirfd, q->name + 1, &b, 0) == 0 &&
		       a.st_ino == b.st_ino;
	mqd = mq_open(q->name, O_RDONLY);
	if (mqd == (mqd_t)-1)
		return false;
	ret = fstat(mqd, &b);
	mq_close(mqd);
	return ret == 0 && a.st_ino == b.st_ino;
}

/*
 * NAME was unlinked, by rmdir or by anybody (the fs layer's watch): if we
 * have the queue that was called so open, its readers see end-of-file and
 * its writers EIDRM.
 */
static void mq_gone(const char *name)
{
	struct mq_queue *q;

	pthread_mutex_lock(&mq_lock);
	for (q = mq_queues; q; q = q->next)
		if (strcmp(q->name, name) == 0)
			break;
	if (q && !mq_current(q))
		mq_retire(q);
	else
		q = NULL;
	pthread_mutex_unlock(&mq_lock);
	if (q) {
		ipc_wake_all(&q->wq);
		mq_put(q);
	}
}

static int mq_remove(const char *name)
{
	if (mq_unlink(name) < 0)
		return -errno;
	mq_gone(name);
	return 0;
}

/*
 * Metadata: through the mqueue filesystem when we have one (it needs no
 * right to open the queue), else through a descriptor (mq_overview(7):
 * fstat, fchmod and fchown work on an mqd_t).
 */
static int mq_meta(const char *name, struct stat *st, mode_t mode, uid_t uid,
		   gid_t gid)
{
	bool chown = uid != (uid_t)-1 || gid != (gid_t)-1;
	mqd_t mqd = (mqd_t)-1;
	int ret = 0;

	if (mq_dirfd >= 0) {
		if ((st && fstatat(mq_dirfd, name + 1, st, 0) < 0) ||
		    (mode != (mode_t)-1 &&
		     fchmodat(mq_dirfd, name + 1, mode, 0) < 0) ||
		    (chown && fchownat(mq_dirfd, name + 1, uid, gid, 0) < 0))
			ret = -errno;
		return ret;
	}
	mqd = mq_open(name, O_RDONLY);
	if (mqd == (mqd_t)-1)
		return errno == EINVAL ? -ENOENT : -errno;
	if ((st && fstat(mqd, st) < 0) ||
	    (mode != (mode_t)-1 && fchmod(mqd, mode) < 0) ||
	    (chown && fchown(mqd, uid, gid) < 0))
		ret = -errno;
	mq_close(mqd);
	return ret;
}

static int mq_stat(const char *name, struct stat *st)
{
	return mq_meta(name, st, (mode_t)-1, (uid_t)-1, (gid_t)-1);
}

static int mq_chmod(const char *name, mode_t mode)
{
	return mq_meta(name, NULL, mode, (uid_t)-1, (gid_t)-1);
}

static int mq_chown(const char *name, uid_t uid, gid_t gid)
{
	return mq_meta(name, NULL, (mode_t)-1, uid, gid);
}

/* The daemon's shared descriptor for queue NAME, counted. */
static struct mq_queue *mq_get(const char *name, int *err)
{
	struct mq_attr attr;
	struct mq_queue *q;
	size_t len = strlen(name);

	mq_gone(name); /* a queue of that name we hold may be stale */
	pthread_mutex_lock(&mq_lock);
	for (q = mq_queues; q; q = q->next)
		if (strcmp(q->name, name) == 0)
			break;
	if (q) {
		q->refs++;
		goto out_unlock;
	}
	q = calloc(1, sizeof(*q) + len + 1);
	if (!q) {
		*err = -ENOMEM;
		goto out_unlock;
	}
	q->mqd = mq_open(name, O_RDWR | O_NONBLOCK);
	if (q->mqd == (mqd_t)-1 || mq_getattr(q->mqd, &attr) < 0) {
		*err = errno == EINVAL ? -ENOENT : -errno;
		if (q->mqd != (mqd_t)-1)
			mq_close(q->mqd);
		free(q);
		q = NULL;
		goto out_unlock;
	}
	q->refs = 1;
	q->maxmsg = attr.mq_maxmsg;
	q->msgsize = attr.mq_msgsize;
	memcpy(q->name, name, len + 1);
	ipc_waitq_init(&q->wq, q->mqd);
	q->next = mq_queues;
	mq_queues = q;
out_unlock:
	pthread_mutex_unlock(&mq_lock);
	return q;
}

static void mq_put(struct mq_queue *q)
{
	struct mq_queue **pp;

	pthread_mutex_lock(&mq_lock);
	if (--q->refs > 0) {
		pthread_mutex_unlock(&mq_lock);
		return;
	}
	for (pp = &mq_queues; *pp; pp = &(*pp)->next) {
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	}
	pthread_mutex_unlock(&mq_lock);
	ipc_waitq_destroy(&q->wq);
	mq_close(q->mqd);
	free(q);
}

static bool mq_removed(struct mq_queue *q)
{
	bool removed;

	pthread_mutex_lock(&mq_lock);
	removed = q->removed;
	pthread_mutex_unlock(&mq_lock);
	return removed;
}

static int mq_open_handle(const char *name, int flags, void **fh, bool stream)
{
	struct mq_handle *h = calloc(1, sizeof(*h));
	int ret = 0;

	if (!h)
		return -ENOMEM;
	h->q = mq_get(name, &ret);
	if (!h->q) {
		free(h);
		return ret;
	}
	h->stream = stream;
	pthread_mutex_init(&h->lock, NULL);
	*fh = h;
	return 0;
}

static int mq_data_open(const char *name, int flags, void **fh)
{
	return mq_open_handle(name, flags, fh, false);
}

static int mq_stream_open(const char *name, int flags, void **fh)
{
	return mq_open_handle(name, flags, fh, true);
}

static void mq_release(void *fh)
{
	struct mq_handle *h = fh;

	mq_put(h->q);
	pthread_mutex_destroy(&h->lock);
	free(h->msg);
	free(h);
}

/*
 * Receive the next message into the handle: 1, 0 at end (queue removed),
 * or -errno (-EAGAIN with *w filled in).
 */
static int mq_take(struct mq_handle *h, struct ipc_wait *w) /* under h->lock */
{
	struct mq_queue *q = h->q;
	ssize_t n;

	if (mq_removed(q))
		return 0;
	if (!h->msg) {
		h->msg = malloc(q->msgsize);
		if (!h->msg)
			return -ENOMEM;
	}
	n = mq_receive(q->mqd, h->msg, q->msgsize, &h->prio);
	if (n < 0) {
		if (errno == EAGAIN) {
			w->wq = &q->wq;
			w->events = POLLIN;
		}
		return -errno;
	}
	h->len = n;
	h->pos = 0;
	h->have = true;
	h->fresh = true;
	return 1;
}

static ssize_t mq_data_read(void *fh, char *buf, size_t size, off_t off,
			    struct ipc_wait *w)
{
	struct mq_handle *h = fh;
	ssize_t ret = 0;

	pthread_mutex_lock(&h->lock);
	h->fresh = false;
	/*
	 * Offsets count within the message this file received: before it has
	 * one, an offset past 0 would take a message and show none of it.
	 */
	if (!h->have && off > 0)
		ret = -EINVAL;
	else if (!h->have)
		ret = mq_take(h, w);
	if (ret > 0 || h->have) {
		ret = 0;
		if ((size_t)off < h->len) {
			ret = h->len - off < size ? h->len - off : size;
			memcpy(buf, h->msg + off, ret);
		}
	}
	pthread_mutex_unlock(&h->lock);
	return ret;
}

static ssize_t mq_stream_read(void *fh, char *buf, size_t size, off_t off,
			      struct ipc_wait *w)
{
	struct mq_handle *h = fh;
	ssize_t ret = 1;

	pthread_mutex_lock(&h->lock);
	h->fresh = false;
	/* An empty message cannot be told from end-of-file here: skip it. */
	while (ret > 0 && (!h->have || h->pos == h->len)) {
		h->have = false;
		ret = mq_take(h, w);
	}
	if (ret > 0) {
		ret = h->len - h->pos < size ? h->len - h->pos : size;
		memcpy(buf, h->msg + h->pos, ret);
		h->pos += ret;
		h->have = h->pos < h->len;
	}
	pthread_mutex_unlock(&h->lock);
	return ret;
}

/*
 * Give back a message the reader will never see (its read was interrupted
 * before the reply got through). It goes back with its priority, but behind
 * the messages of that priority sent meanwhile: that is the one ordering an
 * interrupt can change. If the queue filled up meanwhile, wait a little for
 * room rather than lose the message.
 */
static void mq_resend(struct mq_handle *h)
{
	struct timespec ts;
	mqd_t mqd;

	if (mq_send(h->q->mqd, h->msg, h->len, h->prio) == 0 || errno != EAGAIN)
		return;
	mqd = mq_open(h->q->name, O_WRONLY);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	if (mqd == (mqd_t)-1 ||
	    mq_timedsend(mqd, h->msg, h->len, h->prio, &ts) < 0)
		ipc_log("%s: lost a message an interrupted reader gave back: %s",
			h->q->name, strerror(errno));
	if (mqd != (mqd_t)-1)
		mq_close(mqd);
}

static void mq_unread(void *fh, const char *buf, size_t len)
{
	struct mq_handle *h = fh;

	pthread_mutex_lock(&h->lock);
	if (h->fresh) {
		mq_resend(h);
		h->have = false;
		h->fresh = false;
	} else if (h->stream) {
		h->pos -= len;
		h->have = true;
	}
	pthread_mutex_unlock(&h->lock);
}

static ssize_t mq_data_write(void *fh, const char *buf, size_t size, off_t off,
			     struct ipc_wait *w)
{
	struct mq_handle *h = fh;
	struct mq_queue *q = h->q;

	if (mq_removed(q))
		return -EIDRM;
	if ((long)size > q->msgsize)
		return -EMSGSIZE;
	if (mq_send(q->mqd, buf, size, 0) < 0) {
		if (errno == EAGAIN) {
			w->wq = &q->wq;
			w->events = POLLOUT;
		}
		return -errno;
	}
	return size;
}

static unsigned int mq_poll(void *fh, struct ipc_waitq **wq)
{
	struct mq_handle *h = fh;
	struct mq_attr attr;
	unsigned int ev = 0;

	*wq = &h->q->wq;
	if (mq_removed(h->q))
		return POLLIN | POLLOUT | POLLHUP;
	pthread_mutex_lock(&h->lock);
	if (h->have && (!h->stream || h->pos < h->len))
		ev |= POLLIN;
	pthread_mutex_unlock(&h->lock);
	if (mq_getattr(h->q->mqd, &attr) == 0) {
		if (attr.mq_curmsgs > 0)
			ev |= POLLIN;
		if (attr.mq_curmsgs < attr.mq_maxmsg)
			ev |= POLLOUT;
	}
	return ev;
}

/* `echo x > data` truncates first: there is nothing to truncate. */
static int mq_truncate(const char *name, off_t size)
{
	return 0;
}

/* count, maxmsg, msgsize: the mq_attr field at offset `field`. */
static int mq_attr_get(const char *name, size_t field, char *buf, size_t size)
{
	struct mq_attr attr;
	mqd_t mqd = mq_open(name, O_RDONLY);
	int ret;

	if (mqd == (mqd_t)-1)
		return -errno;
	ret = mq_getattr(mqd, &attr) < 0 ? -errno : 0;
	mq_close(mqd);
	if (ret < 0)
		return ret;
	return snprintf(buf, size, "%ld\n", *(long *)((char *)&attr + field));
}

static const struct ipc_stream_ops mq_data_ops = {
	.open = mq_data_open,
	.release = mq_release,
	.read = mq_data_read,
	.unread = mq_unread,
	.write = mq_data_write,
	.poll = mq_poll,
	.truncate = mq_truncate,
	.flags = IPC_OWN_INODE,
};

static const struct ipc_stream_ops mq_stream_ops = {
	.open = mq_stream_open,
	.release = mq_release,
	.read = mq_stream_read,
	.unread = mq_unread,
	.poll = mq_poll,
	.flags = IPC_STREAM,
};

static const struct ipc_file mq_files[] = {
	{ .name = "data", .mode = 0666, .ops = &mq_data_ops },
	{ .name = "stream", .mode = 0444, .ops = &mq_stream_ops },
	{ .name = "count",
	  .mode = 0444,
	  .get = mq_attr_get,
	  .arg = offsetof(struct mq_attr, mq_curmsgs) },
	{ .name = "maxmsg",
	  .mode = 0444,
	  .get = mq_attr_get,
	  .arg = offsetof(struct mq_attr, mq_maxmsg) },
	{ .name = "msgsize",
	  .mode = 0444,
	  .get = mq_attr_get,
	  .arg = offsetof(struct mq_attr, mq_msgsize) },
	{ .name = NULL },
};

static const struct ipc_option mq_options[] = {
	{ "mq_maxmsg", &mq_opt_maxmsg, 1, 65536,
	  "capacity of queues made by mkdir (default: fs.mqueue.msg_default)" },
	{ "mq_msgsize", &mq_opt_msgsize, 1, MQ_MSGSIZE_MAX,
	  "largest message of queues made by mkdir (default: fs.mqueue.msgsize_default)" },
	{ NULL },
};

const struct ipc_kind mq_kind = {
	.name = "queues",
	.name_max = NAME_MAX,
	.init = mq_init,
	.fini = mq_fini,
	.list = mq_list,
	.create = mq_create,
	.remove = mq_remove,
	.stat = mq_stat,
	.chmod = mq_chmod,
	.chown = mq_chown,
	.files = mq_files,
	.options = mq_options,
	.prefixed = true,
};

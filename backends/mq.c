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
 * worker. lines: each line written, its newline included, is one message,
 * whatever the sizes of the writes (a handle holds the line that has not
 * ended yet, and sends it when the file is released). framed: data, with
 * the priority in the bytes "PRIO\tMESSAGE" both ways (ipc_frame_parse()):
 * one write sends MESSAGE with priority PRIO; an open file receives one
 * message and reads it with its priority and a tab first. It runs on
 * data's paths; its handle keeps the message after room for the head
 * (mqueue_body()), so an interrupted read gives it back as it came. The
 * priorities reach ipcctl send -p and recv -v through it, on every engine.
 * count: mq_getattr(3);
 * maxmsg, msgsize: mq_getattr(3), and writing one makes the queue again
 * with the new value while it is empty and unused (mqueue_remake()).
 *
 *   $ mkdir queues/jobs; echo build > queues/jobs/data; cat queues/jobs/count
 *   1
 *   $ printf '7\turgent' > queues/jobs/framed; cat queues/jobs/framed
 *   7	urgent
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

#define MQUEUE_FS_MAGIC 0x19800202
#define MQUEUE_RUN_DIR "/run/ipcfs"    /* root's; holds.c journals there too */
#define MQUEUE_MSGSIZE_MAX IPC_MSG_MAX /* a message comes in one request */

struct mqueue {
	struct ipc_obj obj; /* its wait queue polls mqd */
	mqd_t mqd;
	long maxmsg, msgsize;
	pthread_mutex_t lock; /* back */
	struct mqueue_msg
		*back; /* given back, waiting for room: oldest first */
};

/* A message an interrupted reader gave back (mqueue_give_back()). */
struct mqueue_msg {
	struct mqueue_msg *next;
	unsigned int prio;
	size_t len;
	char data[];
};

/* Which file an open file is of. */
enum mqueue_file { MQUEUE_DATA, MQUEUE_STREAM, MQUEUE_LINES, MQUEUE_FRAMED };

struct mqueue_handle {
	struct mqueue *q;
	pthread_mutex_t lock; /* threads may share an open file */
	bool stream;
	bool lines;  /* msg holds len bytes of a line not ended yet */
	bool framed; /* the message shows "PRIO\t" first: head bytes */
	bool broken; /* lines: a line too long went unended: drop its rest */
	bool have;   /* msg holds a message not all read yet */
	bool fresh;  /* the last read received msg */
	unsigned int prio;
	size_t len, pos; /* stream: pos bytes of msg already read */
	size_t head;	 /* framed: bytes before the message's body */
	char *msg;	 /* framed: the body at IPC_FRAME_HEAD_MAX */
};

static long mqueue_opt_maxmsg;
static long mqueue_opt_msgsize;
static int mqueue_dirfd = -1;
extern const struct ipc_kind mqueue_kind;
static struct ipc_watch *mqueue_watch; /* unlinks in the mqueue fs */

static int mqueue_open(const char *name, struct ipc_obj **o);
static bool mqueue_stale(struct ipc_obj *o);
static void mqueue_free(struct ipc_obj *o);
static struct ipc_registry mqueues =
	IPC_REGISTRY_INIT(mqueue_open, mqueue_stale, mqueue_free);

struct mqueue_name {
	struct mqueue_name *next;
	char name[];
};

/* No mqueue fs: what mkdir made; under mqueue_made_lock. */
static pthread_mutex_t mqueue_made_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mqueue_name *mqueue_made;

static struct mqueue *mqueue_of(struct ipc_obj *o)
{
	return (struct mqueue *)o; /* obj comes first */
}

/* Read one number from /proc/sys/fs/mqueue, or -1. */
static long mqueue_sysctl(const char *name)
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
static void mqueue_raise_rlimit(void)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

	if (setrlimit(RLIMIT_MSGQUEUE, &rl) == 0)
		return;
	if (getrlimit(RLIMIT_MSGQUEUE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_MSGQUEUE, &rl);
	}
}

static void mqueue_unlinked(const char *name);

/* Find the mqueue filesystem of our IPC namespace, or mount a private one. */
static void mqueue_find_fs(void)
{
	struct statfs sfs;
	char dir[64];

	mqueue_dirfd = open("/dev/mqueue", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mqueue_dirfd >= 0 && fstatfs(mqueue_dirfd, &sfs) == 0 &&
	    sfs.f_type == MQUEUE_FS_MAGIC)
		return;
	if (mqueue_dirfd >= 0)
		close(mqueue_dirfd);
	mqueue_dirfd = -1;
	/*
	 * A mount point of our own, for an instant, where nobody else may
	 * make one first (/tmp would let any user take the name).
	 */
	snprintf(dir, sizeof(dir), MQUEUE_RUN_DIR "/mqueue.%d", (int)getpid());
	if ((mkdir(MQUEUE_RUN_DIR, 0755) < 0 && errno != EEXIST) ||
	    mkdir(dir, 0700) < 0)
		goto out_warn;
	if (mount("mqueue", dir, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) == 0) {
		mqueue_dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		/* Detached, it stays usable through mqueue_dirfd, and only there. */
		umount2(dir, MNT_DETACH);
	}
	rmdir(dir);
	if (mqueue_dirfd >= 0)
		return;
out_warn:
	ipc_log("cannot mount an mqueue filesystem (%s): queues/ lists only the queues made through this mount; mount -t mqueue none /dev/mqueue to see them all",
		strerror(errno));
}

static int mqueue_init(void)
{
	mqueue_raise_rlimit();
	mqueue_find_fs();
	if (mqueue_dirfd >= 0)
		mqueue_watch = ipc_watch_unlinks(mqueue_dirfd, mqueue_unlinked);
	return 0;
}

static void mqueue_fini(void)
{
	struct mqueue_name *m;

	while ((m = mqueue_made)) {
		mqueue_made = m->next;
		free(m);
	}
	ipc_unwatch(mqueue_watch);
	mqueue_watch = NULL;
	ipc_obj_clear(&mqueues);
	if (mqueue_dirfd >= 0)
		close(mqueue_dirfd);
	mqueue_dirfd = -1;
}

/*
 * Without an mqueue file system nothing lists queues: remember the ones
 * this mount made, and show those that still exist.
 */
static void mqueue_made_add(const char *name)
{
	struct mqueue_name *m = malloc(sizeof(*m) + strlen(name) + 1);

	if (!m)
		return;
	strcpy(m->name, name);
	pthread_mutex_lock(&mqueue_made_lock);
	m->next = mqueue_made;
	mqueue_made = m;
	pthread_mutex_unlock(&mqueue_made_lock);
}

static int mqueue_list_made(int (*fill)(void *ctx, const char *name), void *ctx)
{
	struct mqueue_name *m, **pp;
	int ret = 0;
	mqd_t mqd;

	pthread_mutex_lock(&mqueue_made_lock);
	for (pp = &mqueue_made; ret == 0 && (m = *pp);) {
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
	pthread_mutex_unlock(&mqueue_made_lock);
	return ret;
}

/* ".x" is a queue like any other. */
static int mqueue_list(int (*fill)(void *ctx, const char *name), void *ctx)
{
	if (mqueue_dirfd < 0)
		return mqueue_list_made(fill, ctx);
	return ipc_list_dir(mqueue_dirfd, NULL, fill, ctx);
}

/* Say which kernel limit refused a queue, and how to raise it. */
static void mqueue_explain(const char *op, int err, const char *name,
			   const struct mq_attr *a)
{
	struct rlimit rl;

	switch (err) {
	case EMFILE:
		getrlimit(RLIMIT_MSGQUEUE, &rl);
		ipc_log("%s %s: the caller's RLIMIT_MSGQUEUE (at most %lu bytes for all queues of a user) is used up; remove queues, mount with smaller -o mq_maxmsg/mq_msgsize, or raise `ulimit -q` of the caller and of ipcfs",
			op, name, (unsigned long)rl.rlim_cur);
		break;
	case ENOSPC:
		ipc_log("%s %s: fs.mqueue.queues_max (%ld) queues exist; raise it with sysctl fs.mqueue.queues_max=N",
			op, name, mqueue_sysctl("queues_max"));
		break;
	case EINVAL:
		ipc_log("%s %s: %ld messages of %ld bytes exceed fs.mqueue.msg_max (%ld) or fs.mqueue.msgsize_max (%ld); raise them with sysctl, or mount with smaller -o mq_maxmsg/mq_msgsize",
			op, name, a->mq_maxmsg, a->mq_msgsize,
			mqueue_sysctl("msg_max"), mqueue_sysctl("msgsize_max"));
		break;
	case ENOMEM:
		ipc_log("%s %s: out of memory", op, name);
		break;
	}
}

struct mqueue_create_arg {
	const char *name;
	mode_t mode;
	struct mq_attr *attr;
};

/* In the caller's shoes (ipc_as_caller): a system call or two, no lock. */
static int mqueue_create_as(void *arg)
{
	struct mqueue_create_arg *a = arg;
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
static int mqueue_create(const char *name, mode_t mode,
			 const struct ipc_caller *caller)
{
	struct mq_attr attr = { 0 };
	struct mqueue_create_arg a = { .name = name, .mode = mode };
	int ret;

	if (mqueue_opt_maxmsg || mqueue_opt_msgsize) {
		attr.mq_maxmsg = mqueue_opt_maxmsg
					 ? mqueue_opt_maxmsg
					 : mqueue_sysctl("msg_default");
		attr.mq_msgsize = mqueue_opt_msgsize
					  ? mqueue_opt_msgsize
					  : mqueue_sysctl("msgsize_default");
		a.attr = &attr;
	}
	ret = ipc_as_caller(caller, mqueue_create_as, &a);
	if (ret < 0)
		mqueue_explain("mkdir", -ret, name, &attr);
	else if (mqueue_dirfd < 0)
		mqueue_made_add(name);
	return ret;
}

/* Is q still the queue called NAME? It may have been unlinked natively. */
static bool mqueue_current(struct mqueue *q)
{
	struct stat a, b;
	mqd_t mqd;
	int ret;

	if (fstat(q->mqd, &a) < 0)
		return false;
	if (mqueue_dirfd >= 0)
		return fstatat(mqueue_dirfd, q->obj.name + 1, &b, 0) == 0 &&
		       a.st_ino == b.st_ino;
	mqd = mq_open(q->obj.name, O_RDONLY);
	if (mqd == (mqd_t)-1)
		return false;
	ret = fstat(mqd, &b);
	mq_close(mqd);
	return ret == 0 && a.st_ino == b.st_ino;
}

static bool mqueue_stale(struct ipc_obj *o)
{
	return !mqueue_current(mqueue_of(o));
}

/*
 * NAME was unlinked, by rmdir or by anybody (the fs layer's watch): if we
 * have the queue that was called so open, its readers see end-of-file and
 * its writers EIDRM.
 */
static void mqueue_gone(const char *name)
{
	ipc_obj_gone(&mqueues, name);
}

/* The watch: NAME was unlinked, by us or by another program. */
static void mqueue_unlinked(const char *name)
{
	ipc_object_removed(&mqueue_kind, name);
	mqueue_gone(name);
}

static bool mqueue_watched(void)
{
	return mqueue_watch;
}

static int mqueue_remove(const char *name)
{
	if (mq_unlink(name) < 0)
		return -errno;
	mqueue_gone(name);
	return 0;
}

/*
 * Metadata: through the mqueue filesystem when we have one (it needs no
 * right to open the queue), else through a descriptor (mq_overview(7):
 * fstat, fchmod and fchown work on an mqd_t).
 */
static int mqueue_meta(const char *name, struct stat *st, mode_t mode,
		       uid_t uid, gid_t gid)
{
	bool chown = uid != (uid_t)-1 || gid != (gid_t)-1;
	mqd_t mqd = (mqd_t)-1;
	int ret = 0;

	if (mqueue_dirfd >= 0) {
		if ((st && fstatat(mqueue_dirfd, name + 1, st, 0) < 0) ||
		    (mode != (mode_t)-1 &&
		     fchmodat(mqueue_dirfd, name + 1, mode, 0) < 0) ||
		    (chown &&
		     fchownat(mqueue_dirfd, name + 1, uid, gid, 0) < 0))
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

static int mqueue_stat(const char *name, struct stat *st)
{
	return mqueue_meta(name, st, (mode_t)-1, (uid_t)-1, (gid_t)-1);
}

static int mqueue_chmod(const char *name, mode_t mode)
{
	return mqueue_meta(name, NULL, mode, (uid_t)-1, (gid_t)-1);
}

static int mqueue_chown(const char *name, uid_t uid, gid_t gid)
{
	return mqueue_meta(name, NULL, (mode_t)-1, uid, gid);
}

/* The registry's: the daemon's one descriptor for queue NAME. */
static int mqueue_open(const char *name, struct ipc_obj **o)
{
	struct mqueue *q = calloc(1, sizeof(*q));
	struct mq_attr attr;
	int ret;

	if (!q)
		return -ENOMEM;
	q->mqd = mq_open(name, O_RDWR | O_NONBLOCK);
	if (q->mqd == (mqd_t)-1 || mq_getattr(q->mqd, &attr) < 0) {
		ret = errno == EINVAL ? -ENOENT : -errno;
		if (q->mqd != (mqd_t)-1)
			mq_close(q->mqd);
		free(q);
		return ret;
	}
	ret = ipc_obj_init(&q->obj, name, q->mqd);
	if (ret < 0) {
		mq_close(q->mqd);
		free(q);
		return ret;
	}
	q->maxmsg = attr.mq_maxmsg;
	q->msgsize = attr.mq_msgsize;
	pthread_mutex_init(&q->lock, NULL);
	*o = &q->obj;
	return 0;
}

static void mqueue_free(struct ipc_obj *o)
{
	struct mqueue *q = mqueue_of(o);
	struct mqueue_msg *m;

	while ((m = q->back)) {
		q->back = m->next;
		free(m);
	}
	pthread_mutex_destroy(&q->lock);
	mq_close(q->mqd);
	free(q);
}

static int mqueue_open_handle(const char *name, void **fh,
			      enum mqueue_file file)
{
	struct mqueue_handle *h = calloc(1, sizeof(*h));
	struct ipc_obj *o;
	int ret = 0;

	if (!h)
		return -ENOMEM;
	o = ipc_obj_get(&mqueues, name, &ret);
	if (!o) {
		free(h);
		return ret;
	}
	h->q = mqueue_of(o);
	h->stream = file == MQUEUE_STREAM;
	h->lines = file == MQUEUE_LINES;
	h->framed = file == MQUEUE_FRAMED;
	pthread_mutex_init(&h->lock, NULL);
	*fh = h;
	return 0;
}

static int mqueue_data_open(const char *name, int flags, void **fh)
{
	return mqueue_open_handle(name, fh, MQUEUE_DATA);
}

static int mqueue_stream_open(const char *name, int flags, void **fh)
{
	return mqueue_open_handle(name, fh, MQUEUE_STREAM);
}

static int mqueue_lines_open(const char *name, int flags, void **fh)
{
	return mqueue_open_handle(name, fh, MQUEUE_LINES);
}

static int mqueue_framed_open(const char *name, int flags, void **fh)
{
	return mqueue_open_handle(name, fh, MQUEUE_FRAMED);
}

/* Where the handle's message begins: framed keeps room for its head. */
static char *mqueue_body(struct mqueue_handle *h)
{
	return h->msg + (h->framed ? IPC_FRAME_HEAD_MAX : 0);
}

static void mqueue_give_back(struct mqueue *q, const char *msg, size_t len,
			     unsigned int prio);

static void mqueue_release(void *fh)
{
	struct mqueue_handle *h = fh;

	/* lines: the last line, unended; a full queue gets it when it can. */
	if (h->lines && h->len > 0 && !ipc_obj_removed(&h->q->obj))
		mqueue_give_back(h->q, h->msg, h->len, 0);
	ipc_obj_put(&h->q->obj);
	pthread_mutex_destroy(&h->lock);
	free(h->msg);
	free(h);
}

/* framed: the head "PRIO\t" of the message received, just before it. */
static void mqueue_frame(struct mqueue_handle *h)
{
	char head[IPC_FRAME_HEAD_MAX];

	h->head = ipc_frame_head(h->prio, head);
	memcpy(mqueue_body(h) - h->head, head, h->head);
}

/*
 * Receive the next message into the handle: 1, 0 at end (queue removed),
 * or -errno (-EAGAIN with *w filled in).
 */
static int mqueue_take(struct mqueue_handle *h,
		       struct ipc_wait *w) /* under h->lock */
{
	struct mqueue *q = h->q;
	ssize_t n;

	if (ipc_obj_removed(&q->obj))
		return 0;
	if (!h->msg) {
		h->msg = malloc(q->msgsize +
				(h->framed ? IPC_FRAME_HEAD_MAX : 0));
		if (!h->msg)
			return -ENOMEM;
	}
	n = mq_receive(q->mqd, mqueue_body(h), q->msgsize, &h->prio);
	if (n < 0) {
		if (errno == EAGAIN) {
			w->wq = q->obj.wq;
			w->events = POLLIN;
		}
		return -errno;
	}
	h->len = n;
	if (h->framed)
		mqueue_frame(h);
	h->pos = 0;
	h->have = true;
	h->fresh = true;
	return 1;
}

/*
 * Copy what the handle's message shows (framed: its head, then its body)
 * from byte `from` on: a count.
 */
static ssize_t mqueue_copy(struct mqueue_handle *h, char *buf, size_t size,
			   size_t from)
{
	size_t shown = h->head + h->len;
	size_t n = from < shown ? shown - from : 0;

	n = n < size ? n : size;
	if (n)
		memcpy(buf, mqueue_body(h) - h->head + from, n);
	return n;
}

/*
 * data: offsets count within the message this file received. Before it has
 * one, an offset past 0 would take a message and show none of it: EINVAL.
 */
static ssize_t mqueue_data_read(struct mqueue_handle *h, char *buf, size_t size,
				off_t off, struct ipc_wait *w)
{
	ssize_t ret = 0;

	if (!h->have && off > 0)
		return -EINVAL;
	if (!h->have)
		ret = mqueue_take(h, w);
	return ret > 0 || h->have ? mqueue_copy(h, buf, size, off) : ret;
}

/* stream: the next bytes, of this message or the next one. */
static ssize_t mqueue_stream_read(struct mqueue_handle *h, char *buf,
				  size_t size, struct ipc_wait *w)
{
	ssize_t ret = 1;

	/* An empty message cannot be told from end-of-file here: skip it. */
	while (ret > 0 && (!h->have || h->pos == h->len)) {
		h->have = false;
		ret = mqueue_take(h, w);
	}
	if (ret > 0) {
		ret = mqueue_copy(h, buf, size, h->pos);
		h->pos += ret;
		h->have = h->pos < h->len;
	}
	return ret;
}

static ssize_t mqueue_read(void *fh, char *buf, size_t size, off_t off,
			   struct ipc_wait *w)
{
	struct mqueue_handle *h = fh;
	ssize_t ret;

	pthread_mutex_lock(&h->lock);
	h->fresh = false;
	ret = h->stream ? mqueue_stream_read(h, buf, size, w)
			: mqueue_data_read(h, buf, size, off, w);
	pthread_mutex_unlock(&h->lock);
	return ret;
}

static void mqueue_lost(struct mqueue *q, int err)
{
	ipc_log("%s: lost a message kept to send back (an interrupted reader's, or the last line of a closed lines file): %s",
		q->obj.name, strerror(err));
}

/*
 * At exit, with the loop stopped: wait a little for room rather than lose
 * the message.
 */
static int mqueue_send_at_exit(struct mqueue *q, struct mqueue_msg *m)
{
	struct timespec ts;
	mqd_t mqd;
	int ret;

	mqd = mq_open(q->obj.name, O_WRONLY);
	if (mqd == (mqd_t)-1)
		return -errno;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	ret = mq_timedsend(mqd, m->data, m->len, m->prio, &ts) < 0 ? -errno : 0;
	mq_close(mqd);
	return ret;
}

/*
 * The event loop's job while q has messages given back: send them, oldest
 * first, as room comes (the job runs ahead of parked writers). Never
 * blocks: a full queue leaves them for the next time it has room.
 */
static int mqueue_resend(void *arg, bool stopping)
{
	struct mqueue *q = arg;
	struct mqueue_msg *m;
	int ret = 0, err;

	pthread_mutex_lock(&q->lock);
	while ((m = q->back)) {
		err = 0;
		/* A removed queue took its messages with it: this one too. */
		if (!ipc_obj_removed(&q->obj) &&
		    mq_send(q->mqd, m->data, m->len, m->prio) < 0)
			err = errno;
		if (err == EAGAIN && !stopping) {
			ret = -EAGAIN;
			break;
		}
		if (err == EAGAIN)
			err = -mqueue_send_at_exit(q, m);
		if (err)
			mqueue_lost(q, err);
		q->back = m->next;
		free(m);
	}
	pthread_mutex_unlock(&q->lock);
	if (ret == 0)
		ipc_obj_put(&q->obj); /* the job's */
	return ret;
}

static void mqueue_drop_back(struct mqueue *q)
{
	struct mqueue_msg *m;

	pthread_mutex_lock(&q->lock);
	while ((m = q->back)) {
		mqueue_lost(q, ENOMEM);
		q->back = m->next;
		free(m);
	}
	pthread_mutex_unlock(&q->lock);
	ipc_obj_put(&q->obj);
}

/*
 * Give back a message the reader will never see (its read was interrupted
 * before the reply got through), or send the last line of a lines file
 * being released. It goes back with its priority, but behind the messages
 * of that priority sent meanwhile: that is the one ordering an interrupt
 * can change. If the queue is full, the daemon keeps it and a job of the
 * event loop sends it when room comes: nothing here waits (this runs on
 * the loop thread too, and a release may not wait).
 */
static void mqueue_give_back(struct mqueue *q, const char *msg, size_t len,
			     unsigned int prio)
{
	struct mqueue_msg *m, **pp;
	bool first;

	pthread_mutex_lock(&q->lock);
	first = !q->back; /* else behind those given back before */
	if (first && mq_send(q->mqd, msg, len, prio) == 0) {
		pthread_mutex_unlock(&q->lock);
		return;
	}
	m = first && errno != EAGAIN ? NULL : malloc(sizeof(*m) + len);
	if (m) {
		m->next = NULL;
		m->prio = prio;
		m->len = len;
		memcpy(m->data, msg, len);
		for (pp = &q->back; *pp; pp = &(*pp)->next)
			;
		*pp = m;
	}
	pthread_mutex_unlock(&q->lock);
	if (!m) {
		mqueue_lost(q, errno);
		return;
	}
	if (!first)
		return;
	ipc_obj_hold(&q->obj);
	if (ipc_job_park(q->obj.wq, POLLOUT, mqueue_resend, q) < 0 &&
	    mqueue_resend(q, false) == -EAGAIN)
		mqueue_drop_back(q); /* no memory to wait with */
}

static void mqueue_unread(void *fh, const char *buf, size_t len)
{
	struct mqueue_handle *h = fh;

	pthread_mutex_lock(&h->lock);
	if (h->fresh) {
		mqueue_give_back(h->q, mqueue_body(h), h->len, h->prio);
		h->have = false;
		h->fresh = false;
	} else if (h->stream) {
		h->pos -= len;
		h->have = true;
	}
	pthread_mutex_unlock(&h->lock);
}

/*
 * One write's message of len bytes, with priority prio: 0, or -errno
 * (-EAGAIN with *w filled in: the queue is full).
 */
static int mqueue_send(struct mqueue *q, const char *msg, size_t len,
		       unsigned int prio, struct ipc_wait *w)
{
	if (ipc_obj_removed(&q->obj))
		return -EIDRM;
	if ((long)len > q->msgsize)
		return -EMSGSIZE;
	if (mq_send(q->mqd, msg, len, prio) < 0) {
		if (errno == EAGAIN) {
			w->wq = q->obj.wq;
			w->events = POLLOUT;
		}
		return -errno;
	}
	return 0;
}

static ssize_t mqueue_data_write(void *fh, const char *buf, size_t size,
				 off_t off, struct ipc_wait *w)
{
	struct mqueue_handle *h = fh;
	int ret = mqueue_send(h->q, buf, size, 0, w);

	return ret < 0 ? ret : (ssize_t)size;
}

/*
 * framed: "PRIO\tMESSAGE" sends MESSAGE with priority PRIO; a bad head is
 * EINVAL, nothing sent. A write longer than IPC_MSG_MAX may have come in
 * pieces (ipc.h): EMSGSIZE, whatever msgsize says, as the piece would have
 * gone as a message of its own.
 */
static ssize_t mqueue_framed_write(void *fh, const char *buf, size_t size,
				   off_t off, struct ipc_wait *w)
{
	struct mqueue_handle *h = fh;
	unsigned int prio;
	int head, ret;

	head = ipc_frame_parse(buf, size, &prio);
	if (head < 0)
		return head;
	if (size > IPC_MSG_MAX)
		return -EMSGSIZE;
	ret = mqueue_send(h->q, buf + head, size - head, prio, w);
	return ret < 0 ? ret : (ssize_t)size;
}

/* lines: keep the first take bytes of buf, a line not ended yet. */
static int mqueue_line_hold(struct mqueue_handle *h, const char *buf,
			    size_t take)
{
	if (!h->msg)
		h->msg = malloc(h->q->msgsize);
	if (!h->msg)
		return -ENOMEM;
	memcpy(h->msg + h->len, buf, take);
	h->len += take;
	return 0;
}

/*
 * lines: send the held bytes and the first take of buf, which end the line
 * (ipc_line_next() saw that it fits). Unsent, nothing is kept.
 */
static int mqueue_line_send(struct mqueue_handle *h, const char *buf,
			    size_t take)
{
	const char *msg = buf;
	size_t len = take;

	if (h->len) {
		memcpy(h->msg + h->len, buf, take);
		msg = h->msg;
		len += h->len;
	}
	if (mq_send(h->q->mqd, msg, len, 0) < 0)
		return -errno;
	h->len = 0;
	return 0;
}

/*
 * lines: send every line buf ends, hold what follows the last newline. The
 * bytes of the lines sent (and held) count; the first line that cannot go
 * stops the write: full queue (EAGAIN, *w filled), too long (EMSGSIZE). Its
 * error is the answer only if nothing went before it (as write(2) does);
 * else the writer gets a short count, and the error at its next write.
 */
static ssize_t mqueue_lines_send(struct mqueue_handle *h, const char *buf,
				 size_t size, struct ipc_wait *w)
{
	struct mqueue *q = h->q;
	size_t done = 0, take = 0;
	int ret = 0;

	if (ipc_obj_removed(&q->obj))
		return -EIDRM;
	if (h->broken) {
		/* The rest of a line refused: dropped up to its newline. */
		const char *nl = memchr(buf, '\n', size);

		if (!nl)
			return -EMSGSIZE;
		h->broken = false;
		done = nl - buf + 1;
	}
	while (done < size && ret == 0) {
		ret = ipc_line_next(buf + done, size - done, h->len, q->msgsize,
				    &take);
		if (ret == 1)
			ret = mqueue_line_send(h, buf + done, take);
		else if (ret == 0)
			ret = mqueue_line_hold(h, buf + done, take);
		if (ret == 0)
			done += take;
	}
	if (ret == -EAGAIN) {
		w->wq = q->obj.wq;
		w->events = POLLOUT;
	}
	if (ret == -EMSGSIZE && done == 0) {
		/* The line is dropped; its unended rest must not follow. */
		h->len = 0;
		h->broken = buf[take - 1] != '\n';
	}
	return done > 0 ? (ssize_t)done : ret;
}

static ssize_t mqueue_lines_write(void *fh, const char *buf, size_t size,
				  off_t off, struct ipc_wait *w)
{
	struct mqueue_handle *h = fh;
	ssize_t ret;

	pthread_mutex_lock(&h->lock);
	ret = mqueue_lines_send(h, buf, size, w);
	pthread_mutex_unlock(&h->lock);
	return ret;
}

static unsigned int mqueue_poll(void *fh, struct ipc_waitq **wq)
{
	struct mqueue_handle *h = fh;
	struct mq_attr attr;
	unsigned int ev = 0;

	*wq = h->q->obj.wq;
	if (ipc_obj_removed(&h->q->obj))
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

/* The mq_attr field at offset `field` (maxmsg, msgsize, curmsgs). */
static long *mqueue_field(struct mq_attr *attr, size_t field)
{
	return (long *)((char *)attr + field);
}

/* count, maxmsg, msgsize: the mq_attr field at offset `field`. */
static int mqueue_attr_get(const char *name, size_t field, char *buf,
			   size_t size)
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
	return snprintf(buf, size, "%ld\n", *mqueue_field(&attr, field));
}

/* One rewrite of maxmsg or msgsize at a time: each unlinks and makes. */
static pthread_mutex_t mqueue_remake_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Make queue NAME as its old owner made it: theirs, charged to them; and
 * within the RLIMIT_MSGQUEUE of the process that asked (WHO, if known),
 * which a rewrite may not get past any more than a mkdir may.
 */
static int mqueue_make_owned(const char *name, const struct stat *st,
			     struct mq_attr *attr, const struct ipc_caller *who)
{
	struct ipc_caller owner = { .uid = st->st_uid,
				    .gid = st->st_gid,
				    .pid = who ? who->pid : 0 };
	struct mqueue_create_arg a = { .name = name,
				       .mode = st->st_mode & 07777,
				       .attr = attr };

	return ipc_as_caller(&owner, mqueue_create_as, &a);
}

/*
 * Messages a native sender put in the old queue between our look and the
 * unlink, taken out of it (in order) so that it can be closed.
 */
static struct mqueue_msg *mqueue_drain(mqd_t old, long msgsize)
{
	struct mqueue_msg *list = NULL, **pp = &list, *m;
	unsigned int prio;
	ssize_t n;

	while ((m = malloc(sizeof(*m) + msgsize))) {
		n = mq_receive(old, m->data, msgsize, &prio);
		if (n < 0)
			break;
		m->next = NULL;
		m->prio = prio;
		m->len = n;
		*pp = m;
		pp = &m->next;
	}
	free(m);
	return list;
}

/* ...and into the queue now called NAME, or lost. */
static void mqueue_refill(const char *name, struct mqueue_msg *list)
{
	struct mqueue_msg *m;
	mqd_t mqd;

	mqd = list ? mq_open(name, O_WRONLY | O_NONBLOCK) : (mqd_t)-1;
	while ((m = list)) {
		list = m->next;
		if (mqd == (mqd_t)-1 ||
		    mq_send(mqd, m->data, m->len, m->prio) < 0)
			ipc_log("%s: lost a message sent while maxmsg or msgsize was rewritten",
				name);
		free(m);
	}
	if (mqd != (mqd_t)-1)
		mq_close(mqd);
}

/*
 * The kernel cannot change a queue's attributes, nor make a second queue of
 * one name: unlink the old one and close it (ours and the registry's), so
 * that its charge to the owner's RLIMIT_MSGQUEUE is gone (unless a program
 * holds it open natively) before the new one is made with O_EXCL; if that
 * fails (a limit, or another mkdir took the name meanwhile), make the old
 * one again, empty, with its old attributes, and if even that fails (the
 * room went to another queue meanwhile) the queue is gone: EIO. Between the
 * unlink and the make NAME does not exist, for the time of a fork. The
 * tree's opens are fenced off meanwhile. Closes OLD.
 */
static int mqueue_swap(const char *name, mqd_t old, const struct stat *st,
		       struct mq_attr *was, struct mq_attr *now,
		       const struct ipc_caller *who)
{
	struct mqueue_msg *kept;
	int ret, err;

	if (mq_unlink(name) < 0) {
		ret = -errno;
		mq_close(old);
		return ret;
	}
	kept = mqueue_drain(old, was->mq_msgsize);
	mq_close(old);
	mqueue_gone(name); /* the registry's descriptor too */
	ret = mqueue_make_owned(name, st, now, who);
	if (ret < 0) {
		mqueue_explain("maxmsg/msgsize of", -ret, name, now);
		err = mqueue_make_owned(name, st, was, NULL);
		if (err < 0 && err != -EEXIST) {
			ipc_log("%s: removed to change maxmsg or msgsize, and cannot be made again: %s",
				name, strerror(-err));
			ret = -EIO;
		}
	} else {
		/* The mode asked, whatever the umask. */
		mqueue_chmod(name, st->st_mode & 07777);
	}
	mqueue_refill(name, kept);
	return ret == -EEXIST ? -EBUSY : ret;
}

/* maxmsg, msgsize: make NAME again with the mq_attr field `field` = val. */
static int mqueue_remake(const char *name, size_t field, long val,
			 const struct ipc_caller *who)
{
	struct mq_attr was, now;
	struct stat st;
	mqd_t old;
	int ret = 0;

	old = mq_open(name, O_RDWR | O_NONBLOCK);
	if (old == (mqd_t)-1)
		return errno == EINVAL ? -ENOENT : -errno;
	if (mq_getattr(old, &was) < 0 || fstat(old, &st) < 0) {
		ret = -errno;
	} else if (*mqueue_field(&was, field) == val) {
		ret = 0; /* nothing to do */
	} else if (was.mq_curmsgs > 0 || ipc_obj_fence(&mqueues, name) < 0) {
		ret = -EBUSY;
	} else {
		now = was;
		*mqueue_field(&now, field) = val;
		ret = mqueue_swap(name, old, &st, &was, &now, who);
		ipc_obj_unfence(&mqueues);
		return ret;
	}
	mq_close(old);
	return ret;
}

static int mqueue_attr_set(const char *name, size_t field, const char *buf,
			   size_t len, const struct ipc_caller *who)
{
	long val;
	int ret;

	if (ipc_parse_long(buf, len, &val) < 0 || val <= 0)
		return -EINVAL;
	/* A message travels in one FUSE write. */
	if (field == offsetof(struct mq_attr, mq_msgsize) &&
	    val > MQUEUE_MSGSIZE_MAX)
		return -EINVAL;
	pthread_mutex_lock(&mqueue_remake_lock);
	ret = mqueue_remake(name, field, val, who);
	pthread_mutex_unlock(&mqueue_remake_lock);
	return ret;
}

static int mqueue_maxmsg_set(const char *name, const char *buf, size_t len,
			     const struct ipc_caller *who)
{
	return mqueue_attr_set(name, offsetof(struct mq_attr, mq_maxmsg), buf,
			       len, who);
}

static int mqueue_msgsize_set(const char *name, const char *buf, size_t len,
			      const struct ipc_caller *who)
{
	return mqueue_attr_set(name, offsetof(struct mq_attr, mq_msgsize), buf,
			       len, who);
}

static const struct ipc_stream_ops mqueue_data_ops = {
	.open = mqueue_data_open,
	.release = mqueue_release,
	.read = mqueue_read,
	.unread = mqueue_unread,
	.write = mqueue_data_write,
	.poll = mqueue_poll,
	.flags = IPC_OWN_INODE | IPC_READ_TAKES,
};

static const struct ipc_stream_ops mqueue_stream_ops = {
	.open = mqueue_stream_open,
	.release = mqueue_release,
	.read = mqueue_read,
	.unread = mqueue_unread,
	.poll = mqueue_poll,
	.flags = IPC_STREAM | IPC_READ_TAKES,
};

/* framed: data's paths, with the priority (mqueue_body()). */
static const struct ipc_stream_ops mqueue_framed_ops = {
	.open = mqueue_framed_open,
	.release = mqueue_release,
	.read = mqueue_read,
	.unread = mqueue_unread,
	.write = mqueue_framed_write,
	.poll = mqueue_poll,
	.flags = IPC_OWN_INODE | IPC_READ_TAKES,
};

static const struct ipc_stream_ops mqueue_lines_ops = {
	.open = mqueue_lines_open,
	.release = mqueue_release,
	.write = mqueue_lines_write,
	.poll = mqueue_poll,
	.flags = IPC_OWN_INODE | IPC_STREAM,
};

static const struct ipc_file mqueue_files[] = {
	{ .name = "data", .mode = 0666, .ops = &mqueue_data_ops },
	{ .name = "stream", .mode = 0444, .ops = &mqueue_stream_ops },
	{ .name = "lines", .mode = 0222, .ops = &mqueue_lines_ops },
	{ .name = "framed", .mode = 0666, .ops = &mqueue_framed_ops },
	{ .name = "count",
	  .mode = 0444,
	  .get = mqueue_attr_get,
	  .arg = offsetof(struct mq_attr, mq_curmsgs) },
	{ .name = "maxmsg",
	  .mode = 0644,
	  .get = mqueue_attr_get,
	  .arg = offsetof(struct mq_attr, mq_maxmsg),
	  .set = mqueue_maxmsg_set },
	{ .name = "msgsize",
	  .mode = 0644,
	  .get = mqueue_attr_get,
	  .arg = offsetof(struct mq_attr, mq_msgsize),
	  .set = mqueue_msgsize_set },
	{ .name = NULL },
};

static const struct ipc_option mqueue_options[] = {
	{ "mq_maxmsg", &mqueue_opt_maxmsg, 1, 65536,
	  "capacity of queues made by mkdir (default: fs.mqueue.msg_default)" },
	{ "mq_msgsize", &mqueue_opt_msgsize, 1, MQUEUE_MSGSIZE_MAX,
	  "largest message of queues made by mkdir (default: fs.mqueue.msgsize_default)" },
	{ NULL },
};

const struct ipc_kind mqueue_kind = {
	.name = "queues",
	.name_max = NAME_MAX,
	.init = mqueue_init,
	.fini = mqueue_fini,
	.list = mqueue_list,
	.create = mqueue_create,
	.remove = mqueue_remove,
	.stat = mqueue_stat,
	.chmod = mqueue_chmod,
	.chown = mqueue_chown,
	.files = mqueue_files,
	.options = mqueue_options,
	.prefixed = true,
	.watched = mqueue_watched,
};

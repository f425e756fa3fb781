// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * file.c - open files: attribute files and data files.
 *
 * An attribute file reads the value its getter formatted at open (as sysfs
 * does), and each write(2) is one call of its setter. A data file is a
 * handle of the kind's; its reads, writes and blocking opens go through
 * park.c, so a request that must wait costs no thread. All files use direct
 * I/O: one read(2) or write(2) is one request, nothing is cached.
 *
 * An interrupted operation has taken nothing: a read whose reply cannot be
 * delivered hands its bytes back (ops->unread), a blocking open that is
 * interrupted after acquiring releases again, and a write interrupted after
 * part of it went in reports that part, as a pipe does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

struct fs_file {
	struct fs_link link;	     /* in file_open, for shutdown: first */
	struct file_user *user;	     /* whose open file it is */
	struct fs_node *node;	     /* pinned by the kernel only while open */
	bool writer;		     /* opened for writing (or O_TRUNC) */
	const struct ipc_file *file; /* the kind's table entry: static */
	void *fh;		     /* data files: the kind's handle */
	struct fs_pollh poll;
	struct fs_shown held; /* in holders while its open holds a unit */
	char *val;	      /* attribute files: value at open */
	int len;
	/*
	 * The open's reference, and one per reply under way whose request
	 * still uses the file after it went out (a read's take, or its
	 * unread): the kernel may release the file the moment the reader has
	 * its bytes. The last one frees it.
	 */
	atomic_uint refs;
};

struct file_io {
	struct fs_park park;
	struct fs_file *f;
	off_t off;
	size_t size;
	size_t done;		  /* writes: bytes accepted so far */
	const char *data;	  /* writes: the caller's bytes */
	char *copy;		  /* writes: our copy, once parked */
	size_t copied;		  /* its size, charged to the file's user */
	struct fuse_file_info fi; /* opens */
	struct fs_shown waiting;  /* in waiters from its first park on */
	bool nonblock;
};

/*
 * Open files per uid. Each costs the daemon memory and often a descriptor
 * (a segment's), and its descriptors are everybody's: one user may have
 * max_user_files open files, all users together max_files, which leaves
 * room for listing, attributes and mkdir (main.c sets both). A parked
 * write costs a copy of its bytes (libfuse reuses its buffer): one user's
 * copies may take max_user_parked bytes.
 */
struct file_user {
	struct file_user *next;
	uid_t uid;
	long files;
	long parked; /* bytes of parked writes we keep copies of */
};

/* The thread FUSE names for the open being served here (ipc_opener_pid). */
static __thread pid_t file_opener;

/* The longest attribute value shown (a getter's list, cut there). */
#define FILE_ATTR_MAX (1 << 20)

static pthread_mutex_t file_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fs_links file_open = FS_LINKS_INIT;
static struct file_user *file_users; /* under file_lock */
static long file_count;		     /* under file_lock */

static const struct ipc_stream_ops *file_ops(const struct fs_file *f)
{
	return f->file->ops;
}

static void file_track(struct fs_file *f)
{
	fs_links_add(&file_open, &f->link);
}

/* Count one more open file of uid's: EMFILE past its share, for it only. */
static int file_charge(struct fs_file *f, uid_t uid)
{
	struct file_user *u;
	int ret = 0;

	pthread_mutex_lock(&file_lock);
	for (u = file_users; u && u->uid != uid; u = u->next)
		;
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u) {
			ret = -ENOMEM;
			goto out_unlock;
		}
		u->uid = uid;
		u->next = file_users;
		file_users = u;
	}
	if (u->files >= fs_conf.max_user_files)
		ret = -EMFILE;
	else if (file_count >= fs_conf.max_files)
		ret = -ENFILE;
	if (ret == 0) {
		u->files++;
		file_count++;
		f->user = u;
	}
out_unlock:
	pthread_mutex_unlock(&file_lock);
	return ret;
}

static void file_uncharge(struct fs_file *f)
{
	struct file_user **pp, *u = f->user;

	if (!u)
		return;
	pthread_mutex_lock(&file_lock);
	file_count--;
	if (--u->files == 0) {
		for (pp = &file_users; *pp != u; pp = &(*pp)->next)
			;
		*pp = u->next;
		free(u);
	}
	pthread_mutex_unlock(&file_lock);
}

/* Keep a copy of a write that parks, charged to its user: or ENOBUFS. */
static int file_copy(struct file_io *io)
{
	struct file_user *u = io->f->user;
	size_t len = io->size - io->done;
	int ret = 0;

	pthread_mutex_lock(&file_lock);
	if (u->parked + (long)len > fs_conf.max_user_parked)
		ret = -ENOBUFS;
	else
		u->parked += len;
	pthread_mutex_unlock(&file_lock);
	if (ret < 0)
		return ret;
	io->copied = len; /* charged: file_uncopy() gives it back */
	io->copy = malloc(len);
	if (!io->copy)
		return -ENOMEM;
	memcpy(io->copy, io->data + io->done, len);
	io->data = io->copy - io->done;
	return 0;
}

/* A write parks for the first time: keep its bytes, clear its path. */
static int file_first_park(struct file_io *io)
{
	int ret = file_copy(io);

	if (ret == 0 && io->f->node->own)
		fs_node_parked(io->f->node);
	return ret;
}

/* Before the reply: once it is sent, the file (and its user) may go. */
static void file_uncopy(struct file_io *io)
{
	if (!io->copied)
		return;
	pthread_mutex_lock(&file_lock);
	io->f->user->parked -= io->copied;
	pthread_mutex_unlock(&file_lock);
	io->copied = 0;
}

static void file_free(void *arg)
{
	struct fs_file *f = arg;

	fs_park_unpoll(&f->poll);
	if (f->fh)
		file_ops(f)->release(f->fh);
	fs_show_done(&f->held); /* a holder until its unit is back */
	file_uncharge(f);
	fs_node_close(f->node, f->writer);
	free(f->val);
	free(f);
}

/* The loop thread must not free wait queues mid-round: defer it there. */
static void file_put(struct fs_file *f)
{
	if (atomic_fetch_sub(&f->refs, 1) != 1)
		return;
	if (fs_loop_in_thread())
		fs_loop_defer(file_free, f);
	else
		file_free(f);
}

/* Released (or never opened after all): freed once no reply uses it. */
static void file_discard(struct fs_file *f)
{
	fs_links_del(&file_open, &f->link);
	file_put(f);
}

/* A request that may park: attempt and cancel say what it is. */
static struct file_io *file_io_new(fuse_req_t req, struct fs_file *f, int flags,
				   int (*attempt)(struct fs_park *),
				   void (*cancel)(struct fs_park *))
{
	struct file_io *io = calloc(1, sizeof(*io));

	if (!io)
		return NULL;
	io->park.req = req;
	io->park.attempt = attempt;
	io->park.cancel = cancel;
	io->f = f;
	io->nonblock = flags & O_NONBLOCK;
	return io;
}

static void file_io_free(struct file_io *io)
{
	fs_show_done(&io->waiting);
	free(io->copy);
	free(io);
}

/* Park only a blocking caller, and only on a wait queue the kind named. */
static bool file_may_park(const struct file_io *io)
{
	return !io->nonblock && io->park.wait.wq;
}

/* io parks: it is a waiter from its first park until it is answered. */
static void file_waits(struct file_io *io)
{
	fs_show_waiting(&io->waiting, io->f->node, io->f->file,
			fuse_req_ctx(io->park.req)->pid);
}

static int file_open_attempt(struct fs_park *p)
{
	struct file_io *io = (struct file_io *)p;
	struct fs_file *f = io->f;
	int ret;

	p->wait.wq = NULL;
	ret = file_ops(f)->acquire(f->fh, &p->wait);
	if (ret == -EAGAIN && file_may_park(io)) {
		file_waits(io);
		return -EAGAIN;
	}
	fs_show_done(&io->waiting); /* a holder now, or nothing */
	if (fs_park_settle(p) && ret >= 0)
		ret = -EINTR;
	if (ret < 0) {
		fuse_reply_err(p->req, -ret);
		file_discard(f);
	} else {
		file_track(f);
		fs_show_holding(&f->held, f->node, f->file,
				fuse_req_ctx(p->req)->pid);
		if (fuse_reply_open(p->req, &io->fi) != 0)
			file_discard(f); /* gives the unit back */
	}
	file_io_free(io);
	return 0;
}

static void file_open_cancel(struct fs_park *p)
{
	struct file_io *io = (struct file_io *)p;

	fuse_reply_err(p->req, EINTR);
	file_discard(io->f);
	file_io_free(io);
}

static int file_open_data(fuse_req_t req, struct fs_file *f,
			  struct fuse_file_info *fi)
{
	const struct ipc_stream_ops *ops = file_ops(f);
	struct file_io *io;
	int ret;

	if ((fi->flags & O_TRUNC) && ops->truncate) {
		ret = ops->truncate(f->node->name, 0);
		if (ret < 0)
			return ret;
	}
	file_opener = fuse_req_ctx(req)->pid;
	ret = ops->open(f->node->name, fi->flags, &f->fh);
	file_opener = 0;
	if (ret < 0)
		return ret;
	if (ops->flags & IPC_STREAM)
		fi->nonseekable = 1;
	if (!ops->acquire) {
		file_track(f);
		if (fuse_reply_open(req, fi) != 0)
			file_discard(f);
		return 0;
	}
	io = file_io_new(req, f, fi->flags, file_open_attempt,
			 file_open_cancel);
	if (!io)
		return -ENOMEM;
	io->fi = *fi;
	fs_park_submit(&io->park);
	return 0;
}

/* A /proc read, so only for the kinds that ask: few opens hold. */
pid_t ipc_opener_pid(void)
{
	return file_opener ? fs_show_process(file_opener) : 0;
}

/*
 * The value of an attribute file, into f->val. A getter returns the length
 * it needed, as snprintf(): a value longer than the first buffer (a list,
 * as the PostgreSQL engine's holders) is asked again in a buffer that fits,
 * up to FILE_ATTR_MAX; past that it is cut.
 */
static int file_open_attr(struct fs_file *f, int flags)
{
	const struct ipc_file *file = f->file;
	size_t size = 256;
	int len;

	if ((flags & O_ACCMODE) == O_WRONLY)
		return 0;
	if (fs_show_is(file))
		return fs_show_format(f->node, &f->val, &f->len);
	if (!file->get)
		return -EACCES;
	for (;;) {
		f->val = malloc(size);
		if (!f->val)
			return -ENOMEM;
		len = file->get(f->node->name, file->arg, f->val, size);
		if (len < 0 || (size_t)len < size || size >= FILE_ATTR_MAX)
			break;
		free(f->val);
		size = len + 1 < FILE_ATTR_MAX ? len + 1 : FILE_ATTR_MAX;
	}
	if (len < 0) {
		free(f->val);
		f->val = NULL;
		return len;
	}
	f->len = (size_t)len < size ? len : (int)size - 1;
	return 0;
}

/*
 * May the caller open n so? What the file offers at all, and then: the
 * kernel checked the caller against the file's bits, but some files need
 * more of the object, as native use would (file->need).
 */
static int file_may_open(fuse_req_t req, const struct fs_node *n, int flags)
{
	int acc = flags & O_ACCMODE;
	struct stat st;
	int ret;

	if ((acc != O_WRONLY && !(n->file->mode & 0444)) ||
	    (acc != O_RDONLY && !(n->file->mode & 0222)))
		return -EACCES;
	if (!n->file->need || !fs_conf.default_permissions)
		return 0;
	ret = n->kind->stat(n->name, &st);
	return ret < 0 ? ret : fs_caller_may(req, &st, n->file->need);
}

void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_node *n = fs_node_get(ino);
	const struct ipc_file *file = n->file;
	bool writer =
		(fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC);
	struct fs_file *f = NULL;
	int ret;

	ret = file ? file_may_open(req, n, fi->flags) : -EISDIR;
	if (ret == 0)
		ret = fs_node_open(n, fuse_req_ctx(req)->pid, writer);
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	f = calloc(1, sizeof(*f));
	ret = f ? file_charge(f, fuse_req_ctx(req)->uid) : -ENOMEM;
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		fs_node_close(n, writer);
		free(f);
		return;
	}
	atomic_init(&f->refs, 1);
	f->node = n;
	f->writer = writer;
	f->file = file;
	fi->fh = (uintptr_t)f;
	fi->direct_io = 1;
	if (file->ops) {
		ret = file_open_data(req, f, fi);
	} else {
		ret = file_open_attr(f, fi->flags);
		if (ret == 0) {
			file_track(f);
			if (fuse_reply_open(req, fi) != 0)
				file_discard(f);
		}
	}
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		file_free(f);
	}
}

/* NULL unread: the read took nothing (ipc.h). */
static void file_unread(struct file_io *io, const char *buf, size_t n)
{
	const struct ipc_stream_ops *ops = file_ops(io->f);

	if (ops->unread)
		ops->unread(io->f->fh, buf, n);
}

/* Reads of at least this much go by peek and take, where a kind has them. */
#define FILE_PEEK_MIN (64 * 1024)

/* A read by peek and take (ipc.h): the reply straight from the object. */
static int file_peek_attempt(struct fs_park *p)
{
	struct file_io *io = (struct file_io *)p;
	struct fs_file *f = io->f;
	const struct ipc_stream_ops *ops = file_ops(f);
	struct iovec iov[2];
	bool sent = false, interrupted = false;
	int niov = 0;
	ssize_t n;

	p->wait.wq = NULL;
	n = ops->peek(f->fh, io->size, io->off, iov, &niov, &p->wait);
	if (n == -EAGAIN && file_may_park(io)) {
		file_waits(io);
		return -EAGAIN;
	}
	if (n >= 0) {
		/* The object is locked until take: no more than a reply. */
		interrupted = fs_park_settle(p);
		atomic_fetch_add(&f->refs, 1);
		if (!interrupted)
			sent = (n ? fuse_reply_iov(p->req, iov, niov)
				  : fuse_reply_buf(p->req, NULL, 0)) == 0;
		ops->take(f->fh, sent ? n : 0);
		file_put(f);
	}
	if (n < 0 || interrupted)
		fuse_reply_err(p->req, n < 0 ? -n : EINTR);
	file_io_free(io);
	return 0;
}

static int file_read_attempt(struct fs_park *p)
{
	struct file_io *io = (struct file_io *)p;
	const struct ipc_stream_ops *ops = file_ops(io->f);
	char *buf;
	ssize_t n;

	/*
	 * Small reads copy little: they go by read, and leave the object
	 * unlocked during their reply (readers of one channel at once
	 * would queue on its lock: 64 B reads went 12% slower).
	 */
	if (ops->peek && io->size >= FILE_PEEK_MIN)
		return file_peek_attempt(p);
	buf = fs_buf(io->size);

	p->wait.wq = NULL;
	n = buf ? ops->read(io->f->fh, buf, io->size, io->off, &p->wait)
		: -ENOMEM;
	if (n == -EAGAIN && file_may_park(io)) {
		file_waits(io);
		return -EAGAIN;
	}
	/*
	 * A read may take something and return no bytes (a semaphore's wait
	 * file): hand back whatever a read took, even an empty one.
	 */
	if (fs_park_settle(p) && n >= 0) {
		file_unread(io, buf, n);
		n = -EINTR;
	}
	if (n < 0) {
		fuse_reply_err(p->req, -n);
	} else {
		atomic_fetch_add(&io->f->refs, 1);
		if (fuse_reply_buf(p->req, buf, n) != 0)
			file_unread(io, buf, n); /* interrupted meanwhile */
		file_put(io->f);
	}
	file_io_free(io);
	return 0;
}

static void file_read_cancel(struct fs_park *p)
{
	fuse_reply_err(p->req, EINTR);
	file_io_free((struct file_io *)p);
}

void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi)
{
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	struct file_io *io;

	if (!file_ops(f)) { /* an attribute file */
		if (off >= f->len)
			size = 0;
		else if (size > (size_t)(f->len - off))
			size = f->len - off;
		fs_reply_copy(req, f->val + off, size);
		return;
	}
	if (!file_ops(f)->read) {
		fuse_reply_buf(req, NULL, 0); /* nothing to read: a hold */
		return;
	}
	io = file_io_new(req, f, fi->flags, file_read_attempt,
			 file_read_cancel);
	if (!io) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	io->off = off;
	io->size = size;
	fs_park_submit(&io->park);
}

/* Finish a write: what went in counts, even if the rest failed. */
static void file_write_reply(struct file_io *io, int err)
{
	file_uncopy(io);
	if (io->done > 0 || err == 0)
		fuse_reply_write(io->park.req, io->done);
	else
		fuse_reply_err(io->park.req, err);
	file_io_free(io);
}

static int file_write_attempt(struct fs_park *p)
{
	struct file_io *io = (struct file_io *)p;
	ssize_t n;

	p->wait.wq = NULL;
	n = file_ops(io->f)->write(io->f->fh, io->data + io->done,
				   io->size - io->done, io->off + io->done,
				   &p->wait);
	if (n > 0)
		io->done += n;
	if (n >= 0 && io->done < io->size && p->wait.wq)
		n = -EAGAIN; /* the rest would block */
	if (n == -EAGAIN && file_may_park(io)) {
		/* libfuse reuses its buffer once we return. */
		n = io->copy ? 0 : file_first_park(io);
		if (n == 0) {
			file_waits(io);
			return -EAGAIN;
		}
	}
	/* What went in stays in, interrupted or not: report it. */
	fs_park_settle(p);
	file_write_reply(io, n < 0 ? -n : 0);
	return 0;
}

static void file_write_cancel(struct fs_park *p)
{
	file_write_reply((struct file_io *)p, EINTR);
}

void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
	      off_t off, struct fuse_file_info *fi)
{
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	const struct ipc_file *file = f->file;
	struct file_io *io;
	int ret;

	if (!file->ops) {
		const struct fuse_ctx *ctx = fuse_req_ctx(req);
		struct ipc_caller who = { .uid = ctx->uid,
					  .gid = ctx->gid,
					  .pid = ctx->pid };

		ret = file->set ? file->set(f->node->name, buf, size, &who)
				: -EACCES;
		if (ret < 0)
			fuse_reply_err(req, -ret);
		else
			fuse_reply_write(req, size);
		return;
	}
	if (!file_ops(f)->write) {
		fuse_reply_err(req, EPERM);
		return;
	}
	io = file_io_new(req, f, fi->flags, file_write_attempt,
			 file_write_cancel);
	if (!io) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	io->off = off;
	io->size = size;
	io->data = buf;
	fs_park_submit(&io->park);
}

void fs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
	     struct fuse_pollhandle *ph)
{
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	const struct ipc_stream_ops *ops;
	struct ipc_waitq *wq = NULL;
	unsigned int want, revents;

	if (!file_ops(f) || !file_ops(f)->poll) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_poll(req, POLLIN | POLLOUT);
		return;
	}
	ops = file_ops(f);
	want = fi->poll_events ? fi->poll_events : POLLIN | POLLOUT;
	revents = ops->poll(f->fh, &wq);
	if (ph && !(revents & want) && wq) {
		/*
		 * Register first, then look again: a change between the two
		 * looks is either seen now or notified later.
		 */
		fs_park_poll(&f->poll, wq, ph, want);
		revents = ops->poll(f->fh, &wq);
	} else if (ph) {
		fuse_pollhandle_destroy(ph);
	}
	fuse_reply_poll(req, revents);
}

void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	file_discard((struct fs_file *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* At exit: the kernel will send no more releases. */
void fs_files_release_all(void)
{
	struct fs_file *f;

	while ((f = (struct fs_file *)fs_links_first(&file_open)))
		file_discard(f);
}

/* The rules of ipc.h for NULL ops: which one file breaks, or NULL. */
static const char *file_check(const struct ipc_file *file)
{
	const struct ipc_stream_ops *ops = file->ops;

	if (!ops)
		return file->get || file->set ? NULL : "neither get nor set";
	if (file->get || file->set)
		return "both ops and get/set";
	if (!ops->open || !ops->release)
		return "a data file without open or release";
	if ((ops->flags & IPC_READ_TAKES) && (!ops->read || !ops->unread))
		return "reads that take, without read and unread";
	if (ops->read && !ops->unread && (ops->flags & IPC_STREAM))
		return "a stream whose reads take nothing (IPC_READ_TAKES?)";
	if (!ops->peek != !ops->take)
		return "peek without take, or take without peek";
	return NULL;
}

/* At start: refuse a kind whose table fs/ could not serve. */
int fs_kind_check(const struct ipc_kind *kind)
{
	const struct ipc_file *file;
	const char *why;

	if (!kind->list || !kind->create || !kind->remove || !kind->stat ||
	    !kind->files) {
		ipc_log("kind %s: no list, create, remove, stat or files",
			kind->name);
		return -EINVAL;
	}
	for (file = kind->files; file->name; file++) {
		why = fs_show_reserved(file) ? "a name fs/ gives every object"
					     : file_check(file);
		if (why) {
			ipc_log("kind %s, file %s: %s", kind->name, file->name,
				why);
			return -EINVAL;
		}
	}
	return 0;
}

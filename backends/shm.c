// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * shm.c - shm/NAME: a POSIX shared memory segment (shm_overview(7)).
 *
 * data: pread(2) and pwrite(2) at any offset go straight to the segment, so
 * they are coherent with every process that has it mmap()ed natively; a
 * write past the end grows it, truncate(2) and O_TRUNC resize it, and its
 * st_size is the segment's size. Nothing here ever waits: data needs no wait
 * queue, no poll (fs/ answers POLLIN|POLLOUT) and no inode of its own.
 * size: the size in bytes; writing N resizes the segment to N (ftruncate).
 *
 *   $ mkdir shm/frame; echo hello > shm/frame/data; cat shm/frame/size
 *   6
 *
 * Segments are the regular files of /dev/shm, where glibc's shm_open() puts
 * them: they are listed, stat()ed, chmod()ed and chown()ed through
 * devshm.c, which never follows a link planted there. glibc keeps named
 * semaphores there too, as "sem.NAME": those are sem/'s, so this kind
 * neither shows nor makes a name that starts with "sem.".
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devshm.h"
#include "ipc.h"

struct segment_handle {
	int fd;
	/*
	 * Large reads (peek) are answered out of the segment mapped: one copy,
	 * where a pread into a buffer and the reply made two. The mapping
	 * follows the segment as it grows; lock is held from peek to take,
	 * so no reply reads a mapping being replaced (large reads of one
	 * open file take turns).
	 */
	pthread_mutex_t lock;
	void *map;
	size_t map_len;
};

extern const struct ipc_kind segment_kind;
/* What removes segments behind our back: only so is their entry cached. */
static struct ipc_watch *segment_watch;

/* "/sem.NAME" is glibc's semaphore /NAME, not a segment. */
static bool segment_is_sem(const char *name)
{
	return devshm_is_sem(name + 1);
}

static void segment_unlinked(const char *name)
{
	if (!segment_is_sem(name))
		ipc_object_removed(&segment_kind, name);
}

static bool segment_watched(void)
{
	return segment_watch;
}

static int segment_init(void)
{
	devshm_init();
	if (devshm_fd() >= 0)
		segment_watch =
			ipc_watch_unlinks(devshm_fd(), segment_unlinked);
	return 0;
}

static void segment_fini(void)
{
	ipc_unwatch(segment_watch);
	segment_watch = NULL;
	devshm_fini();
}

/* The segment NAME's file, if it is one (no link, no semaphore). */
static int segment_stat(const char *name, struct stat *st)
{
	return segment_is_sem(name) ? -ENOENT : devshm_stat(name + 1, st);
}

static int segment_list(int (*fill)(void *ctx, const char *name), void *ctx)
{
	return devshm_list(false, fill, ctx);
}

struct segment_create_arg {
	const char *name;
	mode_t mode;
};

/* In the caller's shoes (ipc_as_caller): a system call or two, no lock. */
static int segment_create_as(void *arg)
{
	struct segment_create_arg *a = arg;
	int fd;

	fd = shm_open(a->name, O_RDWR | O_CREAT | O_EXCL, a->mode);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* Made by the caller: theirs, with their rights checked by the kernel. */
static int segment_create(const char *name, mode_t mode,
			  const struct ipc_caller *caller)
{
	struct segment_create_arg a = { .name = name, .mode = mode };

	/* sem/ would take the segment for a semaphore, and we would hide it. */
	if (segment_is_sem(name))
		return -EINVAL;
	return ipc_as_caller(caller, segment_create_as, &a);
}

static int segment_remove(const char *name)
{
	int ret = 0;

	if (segment_is_sem(name))
		return -ENOENT;
	if (shm_unlink(name) < 0)
		ret = -errno;
	return ret;
}

static int segment_chmod(const char *name, mode_t mode)
{
	return segment_is_sem(name) ? -ENOENT : devshm_chmod(name + 1, mode);
}

static int segment_chown(const char *name, uid_t uid, gid_t gid)
{
	return segment_is_sem(name) ? -ENOENT
				    : devshm_chown(name + 1, uid, gid);
}

/*
 * One descriptor per open file, O_RDWR (shm_open() offers no write-only
 * access); O_RDONLY only for a reader of a segment the daemon may not write.
 * The caller's own rights were checked by the kernel (default_permissions).
 * O_APPEND is kept: the kernel picks an append's offset from the size it
 * last saw, and a native program may have resized the segment since.
 */
static int segment_data_open(const char *name, int flags, void **fh)
{
	int append = flags & O_APPEND;
	struct segment_handle *h;
	struct stat st;
	int ret = 0;

	if (segment_is_sem(name))
		return -ENOENT;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	h->fd = shm_open(name, O_RDWR | append, 0);
	if (h->fd < 0 && errno == EACCES && (flags & O_ACCMODE) == O_RDONLY)
		h->fd = shm_open(name, O_RDONLY, 0);
	if (h->fd < 0) {
		ret = -errno;
		goto out_free;
	}
	/* A FIFO swapped in after the lookup would block a worker. */
	if (fstat(h->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ret = -ENOENT;
		goto out_close;
	}
	*fh = h;
	return 0;
out_close:
	close(h->fd);
out_free:
	free(h);
	return ret;
}

static void segment_data_release(void *fh)
{
	struct segment_handle *h = fh;

	if (h->map)
		munmap(h->map, h->map_len);
	pthread_mutex_destroy(&h->lock);
	close(h->fd);
	free(h);
}

static ssize_t segment_data_read(void *fh, char *buf, size_t size, off_t off,
				 struct ipc_wait *w)
{
	struct segment_handle *h = fh;
	ssize_t ret;

	ret = pread(h->fd, buf, size, off);
	if (ret < 0)
		ret = -errno;
	return ret;
}

/* Map the whole segment, len bytes, in place of the old mapping. */
static int segment_map(struct segment_handle *h, size_t len)
{
	void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, h->fd, 0);

	if (map == MAP_FAILED)
		return -errno;
	if (h->map)
		munmap(h->map, h->map_len);
	h->map = map;
	h->map_len = len;
	return 0;
}

/*
 * A read by peek and take (ipc.h): iov points into the mapping, h->lock
 * held. A segment that shrinks under the reply (another program's
 * ftruncate) makes the kernel fail that read with EIO: it cannot copy
 * from pages that are gone, and nothing here touches them.
 */
static ssize_t segment_data_peek(void *fh, size_t size, off_t off,
				 struct iovec iov[2], int *niov,
				 struct ipc_wait *w)
{
	struct segment_handle *h = fh;
	struct stat st;
	int ret = 0;

	pthread_mutex_lock(&h->lock);
	if (fstat(h->fd, &st) < 0)
		ret = -errno;
	else if (off >= st.st_size)
		size = 0;
	else if (size > (size_t)(st.st_size - off))
		size = st.st_size - off;
	if (ret == 0 && size && off + size > h->map_len)
		ret = segment_map(h, st.st_size);
	if (ret < 0) {
		pthread_mutex_unlock(&h->lock);
		return ret;
	}
	iov[0] = (struct iovec){ size ? (char *)h->map + off : NULL, size };
	*niov = 1;
	return size;
}

/* Reads take nothing from a segment: only the lock is given back. */
static void segment_data_take(void *fh, size_t n)
{
	pthread_mutex_unlock(&((struct segment_handle *)fh)->lock);
}

/*
 * All of it or an error: fs/ takes a short count for "the rest would
 * block", and a segment never blocks. So a write that fills /dev/shm
 * midway reports ENOSPC although its first part went in, as the segment's
 * bytes are not ours to take back.
 */
static ssize_t segment_data_write(void *fh, const char *buf, size_t size,
				  off_t off, struct ipc_wait *w)
{
	struct segment_handle *h = fh;
	size_t done = 0;
	ssize_t n;

	while (done < size) {
		n = pwrite(h->fd, buf + done, size - done, off + done);
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENOSPC;
		done += n;
	}
	return done;
}

static int segment_truncate(const char *name, off_t size)
{
	int fd, ret = 0;

	if (size < 0)
		return -EINVAL;
	if (segment_is_sem(name))
		return -ENOENT;
	fd = shm_open(name, O_RDWR, 0);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int segment_size(const char *name, off_t *size)
{
	struct stat st;
	int ret;

	ret = segment_stat(name, &st);
	if (ret == 0)
		*size = st.st_size;
	return ret;
}

static int segment_size_get(const char *name, size_t arg, char *buf,
			    size_t size)
{
	off_t len;
	int ret;

	ret = segment_size(name, &len);
	if (ret == 0)
		ret = snprintf(buf, size, "%jd\n", (intmax_t)len);
	return ret;
}

static int segment_size_set(const char *name, const char *buf, size_t len,
			    const struct ipc_caller *who)
{
	long val;
	int ret;

	ret = ipc_parse_long(buf, len, &val);
	if (ret == 0 && val < 0)
		ret = -EINVAL;
	if (ret == 0)
		ret = segment_truncate(name, val);
	return ret;
}

/* Writes never park, so data needs no inode of its own (DESIGN §3). */
static const struct ipc_stream_ops segment_data_ops = {
	.open = segment_data_open,
	.release = segment_data_release,
	.read = segment_data_read,
	.peek = segment_data_peek,
	.take = segment_data_take,
	.write = segment_data_write,
	.truncate = segment_truncate,
	.size = segment_size,
};

static const struct ipc_file segment_files[] = {
	{ .name = "data", .mode = 0666, .ops = &segment_data_ops },
	{ .name = "size",
	  .mode = 0666,
	  .get = segment_size_get,
	  .set = segment_size_set },
	{ .name = NULL },
};

const struct ipc_kind segment_kind = {
	.name = "shm",
	.name_max = NAME_MAX,
	.init = segment_init,
	.fini = segment_fini,
	.list = segment_list,
	.create = segment_create,
	.remove = segment_remove,
	.stat = segment_stat,
	.chmod = segment_chmod,
	.chown = segment_chown,
	.files = segment_files,
	.prefixed = true,
	.watched = segment_watched,
};

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sysv_shm.c - sysv/shm/KEY: a System V shared memory segment (shmget(2)).
 *
 * data: pread(2) and pwrite(2) through an attachment of the daemon's, made
 * by shmat() when the file is opened and undone by shmdt() when it is
 * released, so nattch counts the tree's open files as it counts every
 * native shmat(), and what a program attached natively sees is what the
 * tree sees. A segment's size is fixed when it is made: a read at or past
 * the end is end-of-file, a write that does not fit before the end is
 * ENOSPC and writes nothing, and truncate(2) and O_TRUNC change nothing.
 * size, nattch, cpid, lpid, id: what IPC_STAT says. Nothing waits.
 *
 *   $ mkdir sysv/shm/0x0000162e; echo hello > sysv/shm/0x0000162e/data
 *   $ cat sysv/shm/0x0000162e/size sysv/shm/0x0000162e/nattch
 *   65536
 *   0
 *
 * mkdir makes a segment of -o sysv_shm_size=N bytes (default 65536). The
 * kind keeps no objects: each open file has its attachment, and nobody
 * waits on a segment.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>

#include "sysv.h"

struct sysv_shm_handle {
	char *addr; /* the daemon's attachment */
	size_t size;
};

static long sysv_shm_opt_size = 65536;

/* NAME's IPC_STAT into *ds: its id, or -ENOENT. */
static int sysv_shm_ds(const char *name, struct shmid_ds *ds)
{
	int id = sysv_id(&sysv_shm, name);

	if (id < 0)
		return id == -EINVAL ? -ENOENT : id;
	/* Removed between the two calls: as if it had been before. */
	return shmctl(id, IPC_STAT, ds) < 0 ? -ENOENT : id;
}

/* In the caller's shoes (sysv_create): one system call. */
static int sysv_shm_make(key_t key, int flags, void *arg)
{
	return shmget(key, (size_t)sysv_shm_opt_size, flags) < 0 ? -errno : 0;
}

static int sysv_shm_create(const char *name, mode_t mode,
			   const struct ipc_caller *caller)
{
	return sysv_create(name, mode, caller, sysv_shm_make, NULL);
}

SYSV_KIND_COMMON(sysv_shm, sysv_shm, NULL)

/*
 * Read-only for a reader: the caller's rights were checked against the
 * segment's mode (default_permissions); the daemon's own would let it
 * write anything.
 */
static int sysv_shm_data_open(const char *name, int flags, void **fh)
{
	int shmflg = (flags & O_ACCMODE) == O_RDONLY ? SHM_RDONLY : 0;
	struct sysv_shm_handle *h;
	struct shmid_ds ds;
	int id, ret;

	id = sysv_shm_ds(name, &ds);
	if (id < 0)
		return id;
	h = malloc(sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->addr = shmat(id, NULL, shmflg);
	if (h->addr == (void *)-1) {
		ret = errno == EIDRM || errno == EINVAL ? -ENOENT : -errno;
		free(h);
		return ret;
	}
	h->size = ds.shm_segsz;
	*fh = h;
	return 0;
}

static void sysv_shm_data_release(void *fh)
{
	struct sysv_shm_handle *h = fh;

	shmdt(h->addr);
	free(h);
}

static ssize_t sysv_shm_data_read(void *fh, char *buf, size_t size, off_t off,
				  struct ipc_wait *w)
{
	struct sysv_shm_handle *h = fh;

	if (off < 0)
		return -EINVAL;
	if ((uint64_t)off >= h->size)
		return 0;
	if (size > h->size - off)
		size = h->size - off;
	memcpy(buf, h->addr + off, size);
	return size;
}

/* All of it or nothing: the segment cannot grow. */
static ssize_t sysv_shm_data_write(void *fh, const char *buf, size_t size,
				   off_t off, struct ipc_wait *w)
{
	struct sysv_shm_handle *h = fh;

	if (off < 0)
		return -EINVAL;
	if ((uint64_t)off > h->size || size > h->size - off)
		return -ENOSPC;
	memcpy(h->addr + off, buf, size);
	return size;
}

static int sysv_shm_size(const char *name, off_t *size)
{
	struct shmid_ds ds;
	int ret = sysv_shm_ds(name, &ds);

	if (ret >= 0)
		*size = (off_t)ds.shm_segsz;
	return ret < 0 ? ret : 0;
}

/* The attribute files, by their entry's arg: an IPC_STAT field, or the id. */
enum sysv_shm_field {
	SYSV_SHM_SIZE,
	SYSV_SHM_NATTCH,
	SYSV_SHM_CPID,
	SYSV_SHM_LPID,
	SYSV_SHM_ID,
};

static int sysv_shm_attr_get(const char *name, size_t arg, char *buf,
			     size_t size)
{
	struct shmid_ds ds;
	int id = sysv_shm_ds(name, &ds);

	if (id < 0)
		return id;
	const uintmax_t val[] = {
		[SYSV_SHM_SIZE] = ds.shm_segsz,
		[SYSV_SHM_NATTCH] = ds.shm_nattch,
		[SYSV_SHM_CPID] = ds.shm_cpid,
		[SYSV_SHM_LPID] = ds.shm_lpid,
		[SYSV_SHM_ID] = (uintmax_t)id,
	};
	return snprintf(buf, size, "%ju\n", val[arg]);
}

/* Nothing parks, so data needs no inode of its own (DESIGN §3). */
static const struct ipc_stream_ops sysv_shm_data_ops = {
	.open = sysv_shm_data_open,
	.release = sysv_shm_data_release,
	.read = sysv_shm_data_read,
	.write = sysv_shm_data_write,
	.size = sysv_shm_size,
};

#define SYSV_SHM_ATTR(name_, field)                                            \
	{                                                                      \
		.name = name_, .mode = 0444, .get = sysv_shm_attr_get,         \
		.arg = field                                                   \
	}

static const struct ipc_file sysv_shm_files[] = {
	/* shmat() attaches for reading, or reading and writing: never W only. */
	{ .name = "data",
	  .mode = 0666,
	  .need = R_OK,
	  .ops = &sysv_shm_data_ops },
	SYSV_SHM_ATTR("size", SYSV_SHM_SIZE),
	SYSV_SHM_ATTR("nattch", SYSV_SHM_NATTCH),
	SYSV_SHM_ATTR("cpid", SYSV_SHM_CPID),
	SYSV_SHM_ATTR("lpid", SYSV_SHM_LPID),
	SYSV_SHM_ATTR("id", SYSV_SHM_ID),
	{ .name = NULL },
};

static const struct ipc_option sysv_shm_options[] = {
	{ "sysv_shm_size", &sysv_shm_opt_size, 1, LONG_MAX,
	  "size of sysv/shm segments made by mkdir (default 65536)" },
	{ NULL },
};

const struct ipc_kind sysv_shm_kind = {
	.name = "shm",
	.path = "sysv/shm",
	SYSV_KIND_OPS(sysv_shm),
	.create = sysv_shm_create,
	.files = sysv_shm_files,
	.options = sysv_shm_options,
};

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * shm.c - shm/NAME of the PostgreSQL engine: a segment every mount of the
 * database shares, with the files of the local shm/ (backends/shm.c).
 *
 * data: pread(2) and pwrite(2) at any offset are ipcfs.shm_read and
 * ipcfs.shm_write on the segment's pages, one transaction each, so a read
 * sees every completed write of any mount, and a write is atomic with
 * respect to reads of its range. A write past the end grows it (up to
 * 2^40 bytes: EFBIG), truncate(2) and O_TRUNC resize it (ipcfs.shm_truncate),
 * st_size is ipcfs.shm_size. Nothing waits: no wait queue, no poll.
 * size: the size in bytes; writing N resizes the segment to N.
 *
 *   A$ mkdir shm/frame; head -c 1M /dev/urandom > shm/frame/data
 *   B$ cat shm/frame/size
 *   1048576
 *
 * Unlike the local kind's, the segment is no memory anybody can map: a
 * process that mmap()s data gets the page cache's copy, which no write of
 * another mount (or of this one, through read/write) updates. mmap
 * coherence is local-only; here data is for pread and pwrite.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

#define PG_SHM_KIND "shm"

PG_KIND_COMMON(pg_shm, PG_SHM_KIND, false)

static int pg_shm_create(const char *name, mode_t mode,
			 const struct ipc_caller *caller)
{
	char uid[24], gid[24], mbuf[24];
	const char *v[] = { name, PG_NUM(uid, caller->uid),
			    PG_NUM(gid, caller->gid), PG_NUM(mbuf, mode) };

	return pg_exec("SELECT ipcfs.shm_create($1, $2, $3, $4)", 4, v, NULL);
}

/*
 * The handle is the object, counted: an open of a name that is no segment
 * fails here, as shm_open() would.
 */
static int pg_shm_data_open(const char *name, int flags, void **fh)
{
	struct ipc_obj *o;
	int ret = 0;

	o = ipc_obj_get(&pg_shm_objs, name, &ret);
	if (!o)
		return ret;
	*fh = o;
	return 0;
}

static void pg_shm_data_release(void *fh)
{
	ipc_obj_put(fh);
}

/*
 * A segment an open file had, gone from the database: somebody removed
 * it. Its pages went with it (no unlinked-but-open segment here): EIDRM.
 */
static int pg_shm_err(int err)
{
	return err == -ENOENT ? -EIDRM : err;
}

static ssize_t pg_shm_data_read(void *fh, char *buf, size_t size, off_t off,
				struct ipc_wait *w)
{
	struct ipc_obj *o = fh;
	char obuf[24], lbuf[24];
	const char *v[] = { o->name, PG_NUM(obuf, off),
			    PG_NUM(lbuf, size < INT_MAX ? size : INT_MAX) };
	const char *data;
	PGresult *r;
	int err = 0, len;

	r = pg_query("SELECT ipcfs.shm_read($1, $2, $3)", 3, v, NULL, &err);
	if (!r)
		return pg_shm_err(err);
	data = pg_bytes(r, 0, 0, &len);
	len = (size_t)len < size ? len : (int)size;
	if (len > 0)
		memcpy(buf, data, len);
	PQclear(r);
	return len;
}

/* All of it or an error, as locally: a segment never blocks. */
static ssize_t pg_shm_data_write(void *fh, const char *buf, size_t size,
				 off_t off, struct ipc_wait *w)
{
	struct ipc_obj *o = fh;
	char obuf[24];
	const char *v[] = { o->name, PG_NUM(obuf, off), buf };
	const int lens[] = { -1, -1, (int)size }; /* FUSE: at most 1 MiB */
	long long n;
	PGresult *r;
	int err = 0;

	r = pg_query("SELECT ipcfs.shm_write($1, $2, $3)", 3, v, lens, &err);
	if (!r)
		return pg_shm_err(err);
	n = pg_int(r, 0, 0);
	PQclear(r);
	return n == (long long)size ? n : -EIO;
}

static int pg_shm_truncate(const char *name, off_t size)
{
	char sbuf[24];
	const char *v[] = { name, PG_NUM(sbuf, size) };

	if (size < 0)
		return -EINVAL;
	return pg_exec("SELECT ipcfs.shm_truncate($1, $2)", 2, v, NULL);
}

static int pg_shm_size(const char *name, off_t *size)
{
	const char *v[] = { name };
	PGresult *r;
	int err = 0;

	r = pg_query("SELECT ipcfs.shm_size($1)", 1, v, NULL, &err);
	if (!r)
		return err;
	*size = pg_int(r, 0, 0);
	PQclear(r);
	return 0;
}

static int pg_shm_size_get(const char *name, size_t arg, char *buf, size_t size)
{
	off_t len;
	int ret;

	ret = pg_shm_size(name, &len);
	if (ret == 0)
		ret = snprintf(buf, size, "%jd\n", (intmax_t)len);
	return ret;
}

static int pg_shm_size_set(const char *name, const char *buf, size_t len,
			   const struct ipc_caller *who)
{
	long val;
	int ret;

	ret = ipc_parse_long(buf, len, &val);
	if (ret == 0 && val < 0)
		ret = -EINVAL;
	if (ret == 0)
		ret = pg_shm_truncate(name, val);
	return ret;
}

/* Writes never park, so data needs no inode of its own (DESIGN §3). */
static const struct ipc_stream_ops pg_shm_data_ops = {
	.open = pg_shm_data_open,
	.release = pg_shm_data_release,
	.read = pg_shm_data_read,
	.write = pg_shm_data_write,
	.truncate = pg_shm_truncate,
	.size = pg_shm_size,
};

static const struct ipc_file pg_shm_files[] = {
	{ .name = "data", .mode = 0666, .ops = &pg_shm_data_ops },
	{ .name = "size",
	  .mode = 0666,
	  .get = pg_shm_size_get,
	  .set = pg_shm_size_set },
	{ .name = NULL },
};

/* clang-format off */
const struct ipc_kind pg_shm_kind = {
	.name = PG_SHM_KIND,
	.name_max = NAME_MAX,
	.create = pg_shm_create,
	.files = pg_shm_files,
	.prefixed = true,
	PG_KIND_OPS(pg_shm),
};
/* clang-format on */

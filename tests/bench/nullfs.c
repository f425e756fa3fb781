/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nullfs.c - a FUSE file system that does nothing, the benchmarks' baseline.
 *
 * It is built from the same libfuse as ipcfs, with the same API (low level,
 * multi-threaded loop, max_write of 1 MiB) and the same file settings (direct
 * I/O), so that tests/bench/bench can tell how much of ipcfs's cost is FUSE's
 * own. The root holds one regular file, `file` (mode 0666): a write(2) of N
 * bytes is answered "N written" and dropped; a read(2) of N bytes returns N
 * zero bytes at any offset and never ends. Request and reply sizes are thus
 * those of a message queue's `data` and `stream`, a channel's `data` and a
 * segment's `data`, up to 1 MiB: from max_write libfuse also derives the
 * max_pages it offers the kernel (256), so a 1 MiB read(2) is one READ here
 * as on ipcfs, not eight of 128 KiB (`-d` shows replies of 1048592 bytes).
 * getattr and setattr work (setattr keeps what it is told), so `: > file`
 * and chmod behave. Like ipcfs it has no flush: the kernel stops sending
 * FLUSH after the first ENOSYS, so close(2) costs the same requests on both.
 *
 *	$ nullfs -f /tmp/null & echo hello > /tmp/null/file
 *	$ head -c 4 /tmp/null/file | od -An -tx1	# 00 00 00 00
 */
#define FUSE_USE_VERSION 314

#include <errno.h>
#include <limits.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NULLFS_FILE_INO 2
#define NULLFS_FILE_NAME "file"
/* Kernel caches of names and attributes, as an ordinary file system has. */
#define NULLFS_TIMEOUT 1.0

static const char nullfs_zeros[1 << 20];

/* Attributes of the root (index 0) and of `file` (1), under nullfs_lock. */
static struct stat nullfs_st[2];
static pthread_mutex_t nullfs_lock = PTHREAD_MUTEX_INITIALIZER;

static int nullfs_index(fuse_ino_t ino)
{
	int ret = -1;

	if (ino == FUSE_ROOT_ID)
		ret = 0;
	else if (ino == NULLFS_FILE_INO)
		ret = 1;
	return ret;
}

static void nullfs_stat_init(void)
{
	struct timespec now;
	int i;

	clock_gettime(CLOCK_REALTIME, &now);
	for (i = 0; i < 2; i++) {
		struct stat *st = &nullfs_st[i];

		st->st_ino = i ? NULLFS_FILE_INO : FUSE_ROOT_ID;
		st->st_mode = i ? S_IFREG | 0666 : S_IFDIR | 0755;
		st->st_nlink = i ? 1 : 2;
		st->st_uid = getuid();
		st->st_gid = getgid();
		st->st_blksize = 4096;
		st->st_atim = st->st_mtim = st->st_ctim = now;
	}
}

static void nullfs_getstat(int i, struct stat *st)
{
	pthread_mutex_lock(&nullfs_lock);
	*st = nullfs_st[i];
	pthread_mutex_unlock(&nullfs_lock);
}

static void nullfs_init(void *userdata, struct fuse_conn_info *conn)
{
	conn->max_write = 1 << 20;
}

static void nullfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;

	if (parent == FUSE_ROOT_ID && strcmp(name, NULLFS_FILE_NAME) == 0) {
		memset(&e, 0, sizeof(e));
		e.ino = NULLFS_FILE_INO;
		e.attr_timeout = NULLFS_TIMEOUT;
		e.entry_timeout = NULLFS_TIMEOUT;
		nullfs_getstat(1, &e.attr);
		fuse_reply_entry(req, &e);
	} else {
		fuse_reply_err(req, ENOENT);
	}
}

static void nullfs_getattr(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	struct stat st;
	int i = nullfs_index(ino);

	if (i >= 0) {
		nullfs_getstat(i, &st);
		fuse_reply_attr(req, &st, NULLFS_TIMEOUT);
	} else {
		fuse_reply_err(req, ENOENT);
	}
}

static void nullfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			   int to_set, struct fuse_file_info *fi)
{
	struct timespec now;
	struct stat *st, reply;
	int i = nullfs_index(ino);
	int err = 0;

	if (i < 0)
		err = ENOENT;
	else if (i == 0 && (to_set & FUSE_SET_ATTR_SIZE))
		err = EISDIR;
	if (err)
		goto out;
	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&nullfs_lock);
	st = &nullfs_st[i];
	if (to_set & FUSE_SET_ATTR_MODE)
		st->st_mode = (st->st_mode & S_IFMT) | (attr->st_mode & 07777);
	if (to_set & FUSE_SET_ATTR_UID)
		st->st_uid = attr->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		st->st_gid = attr->st_gid;
	if (to_set & FUSE_SET_ATTR_SIZE) {
		st->st_size = attr->st_size;
		st->st_mtim = now;
	}
	if (to_set & FUSE_SET_ATTR_ATIME)
		st->st_atim = attr->st_atim;
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		st->st_atim = now;
	if (to_set & FUSE_SET_ATTR_MTIME)
		st->st_mtim = attr->st_mtim;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		st->st_mtim = now;
	st->st_ctim = now;
	reply = *st;
	pthread_mutex_unlock(&nullfs_lock);
out:
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &reply, NULLFS_TIMEOUT);
}

static void nullfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	static const char *const names[] = { ".", "..", NULLFS_FILE_NAME };
	char buf[512];
	size_t used = 0;

	if (size > sizeof(buf))
		size = sizeof(buf);
	/* `off` is the index of the next entry, as fuse_add_direntry wants. */
	for (; ino == FUSE_ROOT_ID && off >= 0 && off < 3; off++) {
		struct stat st = { .st_ino = FUSE_ROOT_ID, .st_mode = S_IFDIR };
		size_t len;

		if (off == 2) {
			st.st_ino = NULLFS_FILE_INO;
			st.st_mode = S_IFREG;
		}
		len = fuse_add_direntry(req, buf + used, size - used,
					names[off], &st, off + 1);
		if (len > size - used)
			break;
		used += len;
	}
	if (ino == FUSE_ROOT_ID)
		fuse_reply_buf(req, buf, used);
	else
		fuse_reply_err(req, ENOTDIR);
}

static void nullfs_open(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	if (ino == NULLFS_FILE_INO) {
		/* As ipcfs's `data`: one write(2), one FUSE write, no cache. */
		fi->direct_io = 1;
		fuse_reply_open(req, fi);
	} else {
		fuse_reply_err(req, EISDIR);
	}
}

static void nullfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	if (size > sizeof(nullfs_zeros))
		size = sizeof(nullfs_zeros);
	fuse_reply_buf(req, nullfs_zeros, size);
}

static void nullfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			 size_t size, off_t off, struct fuse_file_info *fi)
{
	fuse_reply_write(req, size);
}

static const struct fuse_lowlevel_ops nullfs_ops = {
	.init = nullfs_init,
	.lookup = nullfs_lookup,
	.getattr = nullfs_getattr,
	.setattr = nullfs_setattr,
	.readdir = nullfs_readdir,
	.open = nullfs_open,
	.read = nullfs_read,
	.write = nullfs_write,
};

static void nullfs_usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s [-f] [-s] [-d] [-o opt,...] MOUNTPOINT\n"
		"A do-nothing FUSE file system with one file, `file`: "
		"writes vanish,\nreads return zeros. The baseline of "
		"ipcfs's benchmarks.\n",
		argv0);
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts = { 0 };
	struct fuse_loop_config *config;
	struct fuse_session *se;
	int ret = 1;

	if (fuse_parse_cmdline(&args, &opts) != 0) {
		ret = 2;
		goto out;
	}
	if (opts.show_help) {
		nullfs_usage(stdout, argv[0]);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = 0;
		goto out;
	}
	if (opts.show_version) {
		printf("nullfs (ipcfs benchmarks), libfuse %s\n",
		       fuse_pkgversion());
		ret = 0;
		goto out;
	}
	if (!opts.mountpoint) {
		nullfs_usage(stderr, argv[0]);
		ret = 2;
		goto out;
	}
	nullfs_stat_init();
	se = fuse_session_new(&args, &nullfs_ops, sizeof(nullfs_ops), NULL);
	if (!se)
		goto out;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_destroy;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out_signals;
	fuse_daemonize(opts.foreground);
	if (opts.singlethread) {
		ret = fuse_session_loop(se) ? 1 : 0;
	} else {
		config = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(config, opts.clone_fd);
		/* UINT_MAX means "not given"; libfuse would log it as invalid. */
		if (opts.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(config,
						       opts.max_idle_threads);
		fuse_loop_cfg_set_max_threads(config, opts.max_threads);
		ret = fuse_session_loop_mt(se, config) ? 1 : 0;
		fuse_loop_cfg_destroy(config);
	}
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
out:
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return ret;
}

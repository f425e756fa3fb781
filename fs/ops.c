// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ops.c - the tree: lookup, attributes, listing, mkdir/rmdir, xattrs.
 *
 * The root holds one directory per kind of the chosen engine, or the
 * read-only directories a kind's path puts above its own (node.c); a kind's
 * directory lists its objects (those in the mount's prefix, for kinds it
 * applies to); an object's directory lists the kind's file table. fs/ never
 * names a kind: everything is a walk over those tables.
 *
 *   $ mkdir queues/jobs          # mq_open("/jobs", O_CREAT|O_EXCL, 0755)
 *   $ getfattr -n user.ipcfs.name queues/jobs   # "/jobs"
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs.h"

#define OPS_XATTR_NAME "user.ipcfs.name"

/*
 * Attributes and names may be cached a little. Entries of object
 * directories only where no removal goes unnoticed (kind->watched), so an
 * object removed natively is gone at once; files with an inode of their
 * own must be looked up at every open (DESIGN §3).
 */
#define OPS_TIMEOUT 1.0

/* What `touch` sets: accepted everywhere, and ignored. */
#define OPS_SET_TIMES                                                          \
	(FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW | \
	 FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME)

static const struct ipc_file *ops_file_named(const struct ipc_kind *kind,
					     const char *name)
{
	const struct ipc_file *f;

	for (f = fs_node_files(kind); f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/*
 * A data file with a size (a segment's) is live: never cache its
 * attributes. Others may be cached: a permission check then costs no
 * GETATTR.
 */
static double ops_attr_timeout(const struct fs_node *n)
{
	return n->file && n->file->ops && n->file->ops->size ? 0 : OPS_TIMEOUT;
}

static double ops_entry_timeout(const struct fs_node *n)
{
	const struct ipc_kind *kind = n->kind;

	if (kind && *n->name && !n->file)
		return kind->watched && kind->watched() ? OPS_TIMEOUT : 0;
	return OPS_TIMEOUT;
}

static int ops_entry(struct fs_node *n, struct fuse_entry_param *e)
{
	int ret;

	memset(e, 0, sizeof(*e));
	ret = fs_node_stat(n, &e->attr);
	if (ret < 0)
		return ret;
	e->ino = fs_node_id(n);
	e->attr_timeout = ops_attr_timeout(n);
	e->entry_timeout = ops_entry_timeout(n);
	return 0;
}

/* Find (and count a lookup of) the node NAME in directory node P. */
static int ops_find(struct fs_node *p, const char *name, pid_t who,
		    struct fs_node **np)
{
	const struct ipc_kind *kind = p->kind;
	const struct ipc_file *file;
	struct stat st;
	char *pname = NULL;
	int ret;

	*np = NULL;
	if (!kind) {
		*np = fs_node_child(p, name);
		return *np ? 0 : -ENOENT;
	}
	if (p->file)
		return -ENOTDIR;
	if (!*p->name) {
		/* A name no object can have is one that is not there. */
		ret = fs_object_pname(kind, name, &pname);
		if (ret == -EINVAL || ret == -ENAMETOOLONG)
			return -ENOENT;
		if (ret < 0)
			return ret;
		ret = kind->stat(pname, &st);
		if (ret == 0)
			*np = fs_node_hold(kind, pname, NULL, who);
		free(pname);
		return ret < 0 ? ret : *np ? 0 : -ENOMEM;
	}
	file = ops_file_named(kind, name);
	if (!file)
		return -ENOENT;
	*np = fs_node_hold(kind, p->name, file, who);
	return *np ? 0 : -ENOMEM;
}

static void ops_reply_entry(fuse_req_t req, struct fs_node *n)
{
	struct fuse_entry_param e;
	int ret;

	ret = ops_entry(n, &e);
	if (ret < 0) {
		fs_node_forget(n, 1);
		fuse_reply_err(req, -ret);
		return;
	}
	if (fuse_reply_entry(req, &e) != 0)
		fs_node_forget(n, 1);
}

static void ops_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_node *n;
	int ret;

	ret = ops_find(fs_node_get(parent), name, fuse_req_ctx(req)->pid, &n);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		ops_reply_entry(req, n);
}

static void ops_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_node_forget(fs_node_get(ino), nlookup);
	fuse_reply_none(req);
}

static void ops_forget_multi(fuse_req_t req, size_t count,
			     struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		fs_node_forget(fs_node_get(forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void ops_reply_attr(fuse_req_t req, struct fs_node *n)
{
	struct stat st;
	int ret;

	ret = fs_node_stat(n, &st);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, ops_attr_timeout(n));
}

static void ops_getattr(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	ops_reply_attr(req, fs_node_get(ino));
}

/* chmod and chown of an object directory change the object itself. */
static int ops_setattr_object(struct fs_node *n, struct stat *attr, int to_set)
{
	const struct ipc_kind *kind = n->kind;
	uid_t uid = (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
	gid_t gid = (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;
	int ret = 0;

	if (to_set & FUSE_SET_ATTR_SIZE)
		return -EISDIR;
	if (to_set & FUSE_SET_ATTR_MODE)
		ret = kind->chmod ? kind->chmod(n->name, attr->st_mode & 07777)
				  : -EPERM;
	if (ret == 0 && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		ret = kind->chown ? kind->chown(n->name, uid, gid) : -EPERM;
	return ret;
}

/*
 * A file's mode and owner are its object's: change them on the directory.
 * Truncating an attribute file is what O_TRUNC does before a write: fine.
 */
static int ops_setattr_file(struct fs_node *n, struct stat *attr, int to_set)
{
	const struct ipc_stream_ops *ops = n->file->ops;

	if (to_set &
	    (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		return -EPERM;
	if (!(to_set & FUSE_SET_ATTR_SIZE))
		return 0;
	if (!(n->file->mode & 0222))
		return -EACCES;
	if (ops && ops->truncate)
		return ops->truncate(n->name, attr->st_size);
	return 0;
}

static void ops_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			int to_set, struct fuse_file_info *fi)
{
	struct fs_node *n = fs_node_get(ino);
	int ret;

	if (!n->kind || !*n->name)
		ret = (to_set & ~OPS_SET_TIMES) ? -EPERM : 0;
	else if (!n->file)
		ret = ops_setattr_object(n, attr, to_set);
	else
		ret = ops_setattr_file(n, attr, to_set);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		ops_reply_attr(req, n);
}

static void ops_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode)
{
	struct fs_node *p = fs_node_get(parent), *n = NULL;
	struct ipc_caller caller;
	char *pname = NULL;
	int ret;

	if (!p->kind || *p->name) {
		fuse_reply_err(req, EPERM);
		return;
	}
	ret = fs_object_pname(p->kind, name, &pname);
	if (ret == 0)
		ret = fs_caller(req, &caller);
	if (ret == 0) {
		ret = p->kind->create(pname, mode & 07777, &caller);
		fs_caller_free(&caller);
	}
	if (ret == 0) {
		n = fs_node_hold(p->kind, pname, NULL, 0);
		ret = n ? 0 : -ENOMEM;
	}
	free(pname);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		ops_reply_entry(req, n);
}

static void ops_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_node *p = fs_node_get(parent);
	char *pname = NULL;
	int ret;

	if (!p->kind || *p->name) {
		fuse_reply_err(req, p->kind ? ENOTDIR : EPERM);
		return;
	}
	ret = fs_object_pname(p->kind, name, &pname);
	if (ret == 0)
		ret = p->kind->remove(pname);
	if (ret == 0)
		fs_node_retire(p->kind, pname);
	free(pname);
	fuse_reply_err(req, ret == -ENAMETOOLONG ? ENOENT : -ret);
}

/* Objects are made with mkdir only; their files are fixed. */
static void ops_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, struct fuse_file_info *fi)
{
	fuse_reply_err(req, EPERM);
}

static void ops_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev)
{
	fuse_reply_err(req, EPERM);
}

static void ops_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EPERM);
}

static void ops_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			const char *name)
{
	fuse_reply_err(req, EPERM);
}

static void ops_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		     const char *newname)
{
	fuse_reply_err(req, EPERM);
}

static void ops_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		       fuse_ino_t newparent, const char *newname,
		       unsigned int flags)
{
	fuse_reply_err(req, EPERM);
}

/*
 * A directory listing, built at opendir and served by offset. Open ones
 * are kept in a list: the kernel sends RELEASEDIR in the background, and
 * an unmount right after a closedir() can drop it.
 */
struct ops_dir {
	struct fs_link link; /* in ops_dirs, for shutdown: first */
	char *buf;
	size_t len, cap;
	fuse_req_t req;
	const struct ipc_kind *kind;
};

static struct fs_links ops_dirs = FS_LINKS_INIT;

static void ops_dir_free(struct ops_dir *d)
{
	fs_links_del(&ops_dirs, &d->link);
	free(d->buf);
	free(d);
}

/* At exit: the kernel will send no more releases. */
void fs_dirs_release_all(void)
{
	struct ops_dir *d;

	while ((d = (struct ops_dir *)fs_links_first(&ops_dirs)))
		ops_dir_free(d);
}

static int ops_dir_add(struct ops_dir *d, const char *name, mode_t mode,
		       uint64_t ino)
{
	struct stat st = { .st_mode = mode, .st_ino = ino };
	size_t need = fuse_add_direntry(d->req, NULL, 0, name, NULL, 0);
	char *nbuf;

	if (d->len + need > d->cap) {
		d->cap = (d->len + need) * 2;
		nbuf = realloc(d->buf, d->cap);
		if (!nbuf)
			return -ENOMEM;
		d->buf = nbuf;
	}
	fuse_add_direntry(d->req, d->buf + d->len, need, name, &st,
			  d->len + need);
	d->len += need;
	return 0;
}

static int ops_dir_fill_object(void *ctx, const char *pname)
{
	struct ops_dir *d = ctx;
	char buf[NAME_MAX + 1];
	const char *name = fs_display_name(d->kind, pname, buf, sizeof(buf));

	if (!name)
		return 0;
	return ops_dir_add(d, name, S_IFDIR, fs_node_ino(d->kind, pname, NULL));
}

static int ops_dir_fill_fixed(void *ctx, const char *name,
			      const struct fs_node *n)
{
	return ops_dir_add(ctx, name, S_IFDIR, n->ino);
}

static int ops_dir_fill(struct ops_dir *d, struct fs_node *n)
{
	const struct ipc_file *f;
	int ret;

	ret = ops_dir_add(d, ".", S_IFDIR, n->ino);
	if (ret == 0)
		ret = ops_dir_add(d, "..", S_IFDIR, FUSE_ROOT_ID);
	if (ret < 0)
		return ret;
	if (!n->kind)
		return fs_node_children(n, ops_dir_fill_fixed, d);
	d->kind = n->kind;
	if (!*n->name)
		return n->kind->list(ops_dir_fill_object, d);
	for (f = fs_node_files(n->kind); f->name && ret == 0; f++)
		ret = ops_dir_add(d, f->name, S_IFREG,
				  fs_node_ino(n->kind, n->name, f));
	return ret;
}

static void ops_opendir(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct fs_node *n = fs_node_get(ino);
	struct ops_dir *d;
	struct stat st;
	int ret;

	if (n->file) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	d->req = req;
	ret = (n->kind && *n->name) ? n->kind->stat(n->name, &st) : 0;
	if (ret == 0)
		ret = ops_dir_fill(d, n);
	if (ret < 0) {
		ops_dir_free(d);
		fuse_reply_err(req, -ret);
		return;
	}
	fi->fh = (uintptr_t)d;
	fs_links_add(&ops_dirs, &d->link);
	if (fuse_reply_open(req, fi) != 0)
		ops_dir_free(d);
}

static void ops_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	struct ops_dir *d = (struct ops_dir *)(uintptr_t)fi->fh;
	size_t start = off;

	/*
	 * As hello_ll.c does: the kernel keeps the whole entries of a reply
	 * and asks again from the offset of the last one.
	 */
	if (start >= d->len)
		fuse_reply_buf(req, NULL, 0);
	else
		fs_reply_copy(req, d->buf + start,
			      size < d->len - start ? size : d->len - start);
}

static void ops_releasedir(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	ops_dir_free((struct ops_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void ops_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = {
		.f_bsize = 4096,
		.f_frsize = 4096,
		.f_namemax = 255,
	};

	fuse_reply_statfs(req, &sv);
}

/*
 * xattrs, for ipcctl: user.ipcfs.name on an object directory, its POSIX
 * name; on the root, user.ipcfs.pid, the daemon's, user.ipcfs.log, where
 * its messages go (a file's path, "syslog" or "stderr"), and
 * user.ipcfs.option.X, the value of each kind's -o X (ipcctl ls -g shows
 * limits with them).
 */
#define OPS_XATTR_PID "user.ipcfs.pid"
#define OPS_XATTR_LOG "user.ipcfs.log"
#define OPS_XATTR_OPTION "user.ipcfs.option."

static void ops_reply_xattr(fuse_req_t req, const char *val, size_t len,
			    size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fs_reply_copy(req, val, len);
}

/* The first option of the engine's kinds for which fn says true, or NULL. */
static const struct ipc_option *
ops_options_find(bool (*fn)(const struct ipc_option *o, void *ctx), void *ctx)
{
	const struct ipc_kind *const *k;
	const struct ipc_option *o;

	for (k = fs_conf.engine->kinds; *k; k++)
		for (o = (*k)->options; o && o->name; o++)
			if (fn(o, ctx))
				return o;
	return NULL;
}

static bool ops_option_named(const struct ipc_option *o, void *name)
{
	return strcmp(o->name, name) == 0;
}

/* The value of the root's xattr NAME into buf, or -ENODATA. */
static int ops_root_xattr(const char *name, char *buf, size_t size)
{
	const struct ipc_option *o = NULL;

	if (strcmp(name, OPS_XATTR_PID) == 0)
		return snprintf(buf, size, "%d", (int)getpid());
	if (strcmp(name, OPS_XATTR_LOG) == 0)
		return snprintf(buf, size, "%s", fs_log_where());
	if (strncmp(name, OPS_XATTR_OPTION, strlen(OPS_XATTR_OPTION)) == 0)
		o = ops_options_find(ops_option_named,
				     (void *)(name + strlen(OPS_XATTR_OPTION)));
	return o ? snprintf(buf, size, "%ld", *o->value) : -ENODATA;
}

static void ops_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 size_t size)
{
	struct fs_node *n = fs_node_get(ino);
	char buf[PATH_MAX];
	int len;

	if (ino == FUSE_ROOT_ID) {
		len = ops_root_xattr(name, buf, sizeof(buf));
		if (len < 0)
			fuse_reply_err(req, -len);
		else
			ops_reply_xattr(req, buf, len, size);
	} else if (!n->kind || !*n->name || n->file ||
		   strcmp(name, OPS_XATTR_NAME) != 0) {
		fuse_reply_err(req, ENODATA);
	} else {
		ops_reply_xattr(req, n->name, strlen(n->name), size);
	}
}

/* One more name of the root's xattrs, '\0'-terminated, into a stream. */
static bool ops_list_option(const struct ipc_option *o, void *out)
{
	fprintf(out, "%s%s%c", OPS_XATTR_OPTION, o->name, '\0');
	return false;
}

static void ops_listxattr_root(fuse_req_t req, size_t size)
{
	size_t len = 0;
	char *list = NULL;
	FILE *out = open_memstream(&list, &len);

	if (out) {
		fprintf(out, "%s%c%s%c", OPS_XATTR_PID, '\0', OPS_XATTR_LOG,
			'\0');
		ops_options_find(ops_list_option, out);
	}
	if (!out || fclose(out) != 0)
		fuse_reply_err(req, ENOMEM);
	else
		ops_reply_xattr(req, list, len, size);
	free(list);
}

static void ops_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs_node *n = fs_node_get(ino);

	if (ino == FUSE_ROOT_ID)
		ops_listxattr_root(req, size);
	else if (!n->kind || !*n->name || n->file)
		ops_reply_xattr(req, "", 0, size);
	else
		ops_reply_xattr(req, OPS_XATTR_NAME, sizeof(OPS_XATTR_NAME),
				size);
}

static void ops_init(void *userdata, struct fuse_conn_info *conn)
{
	conn->max_write = FS_MAX_WRITE;
	conn->max_read = 0;
	/* Reads may come in parallel: a parked one must not hold others. */
	conn->want |= FUSE_CAP_ASYNC_READ;
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = ops_init,
	.lookup = ops_lookup,
	.forget = ops_forget,
	.forget_multi = ops_forget_multi,
	.getattr = ops_getattr,
	.setattr = ops_setattr,
	.mkdir = ops_mkdir,
	.rmdir = ops_rmdir,
	.mknod = ops_mknod,
	.create = ops_create,
	.unlink = ops_unlink,
	.rename = ops_rename,
	.symlink = ops_symlink,
	.link = ops_link,
	.opendir = ops_opendir,
	.readdir = ops_readdir,
	.releasedir = ops_releasedir,
	.statfs = ops_statfs,
	.getxattr = ops_getxattr,
	.listxattr = ops_listxattr,
	.open = fs_open,
	.read = fs_read,
	.write = fs_write,
	.release = fs_release,
	.poll = fs_poll,
};

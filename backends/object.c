// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * object.c - the registry of the objects a kind has open (ipc.h), as the
 * kernel's ipc/util.c keeps one idr per IPC namespace for every kind.
 *
 * An object is opened once for all the open files of the tree that use it
 * (one mq descriptor, one semaphore mapping), and stays open while it is
 * listed: opening a native object per write would cost more than the FUSE
 * round trip. It is retired when NAME is removed (rmdir, or a native unlink
 * the kind's watch reports) or found to name another object: a new object
 * then takes the name, and the old one's users see it removed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"

int ipc_obj_init(struct ipc_obj *o, const char *name, int fd)
{
	o->name = strdup(name);
	o->wq = ipc_waitq_new(fd);
	if (o->name && o->wq)
		return 0;
	free(o->name);
	ipc_waitq_free(o->wq);
	o->name = NULL;
	o->wq = NULL;
	return -ENOMEM;
}

static struct ipc_obj *obj_find(struct ipc_registry *r, const char *name)
{
	struct ipc_obj *o;

	for (o = r->objs; o; o = o->next)
		if (strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

/* Under r->lock: is NAME being made again by its kind (ipc_obj_fence)? */
static bool obj_fenced(struct ipc_registry *r, const char *name)
{
	return r->fenced && strcmp(r->fenced, name) == 0;
}

/* Under r->lock: out of the registry; the caller has its reference. */
static void obj_retire(struct ipc_obj *o)
{
	struct ipc_obj **pp;

	for (pp = &o->reg->objs; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	o->removed = true;
}

/* After obj_retire, without the lock: its waiters see it gone. */
static void obj_end(struct ipc_obj *o)
{
	ipc_wake_all(o->wq);
	ipc_obj_put(o);
}

struct ipc_obj *ipc_obj_find(struct ipc_registry *r, const char *name)
{
	struct ipc_obj *o;

	pthread_mutex_lock(&r->lock);
	o = obj_find(r, name);
	if (o)
		o->refs++;
	pthread_mutex_unlock(&r->lock);
	return o;
}

int ipc_obj_add(struct ipc_registry *r, struct ipc_obj *o)
{
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	if (obj_find(r, o->name)) {
		ret = -EEXIST;
	} else {
		o->reg = r;
		o->refs = 1;
		o->next = r->objs;
		r->objs = o;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

struct ipc_obj *ipc_obj_get(struct ipc_registry *r, const char *name, int *err)
{
	struct ipc_obj *o, *stale = NULL, *made = NULL;

	pthread_mutex_lock(&r->lock);
	if (obj_fenced(r, name)) {
		pthread_mutex_unlock(&r->lock);
		*err = -EBUSY;
		return NULL;
	}
	o = obj_find(r, name);
	if (o && r->stale && r->stale(o)) {
		obj_retire(o);
		stale = o;
		o = NULL;
	}
	if (o)
		o->refs++;
	pthread_mutex_unlock(&r->lock);
	if (stale)
		obj_end(stale);
	if (o)
		return o;
	*err = -ENOENT;
	if (!r->open || (*err = r->open(name, &made)) < 0)
		return NULL;
	pthread_mutex_lock(&r->lock);
	o = obj_find(r, name); /* opened meanwhile by another thread? */
	if (obj_fenced(r, name)) {
		/* Fenced since we looked: made may be the old object. */
		o = NULL;
		*err = -EBUSY;
	} else if (o) {
		o->refs++;
	} else {
		o = made;
		made = NULL;
		o->reg = r;
		o->refs = 2; /* the registry's and the caller's */
		o->next = r->objs;
		r->objs = o;
	}
	pthread_mutex_unlock(&r->lock);
	if (made)
		ipc_obj_discard(r, made);
	return o;
}

void ipc_obj_discard(struct ipc_registry *r, struct ipc_obj *o)
{
	ipc_waitq_free(o->wq);
	free(o->name);
	r->free(o);
}

void ipc_obj_hold(struct ipc_obj *o)
{
	pthread_mutex_lock(&o->reg->lock);
	o->refs++;
	pthread_mutex_unlock(&o->reg->lock);
}

void ipc_obj_put(struct ipc_obj *o)
{
	struct ipc_registry *r = o->reg;
	unsigned int refs;

	pthread_mutex_lock(&r->lock);
	refs = --o->refs;
	pthread_mutex_unlock(&r->lock);
	if (refs)
		return;
	/* Never listed by now: the registry's reference went first. */
	ipc_obj_discard(r, o);
}

bool ipc_obj_removed(struct ipc_obj *o)
{
	bool removed;

	pthread_mutex_lock(&o->reg->lock);
	removed = o->removed;
	pthread_mutex_unlock(&o->reg->lock);
	return removed;
}

void ipc_obj_prune(struct ipc_registry *r)
{
	struct ipc_obj *o, *next, *gone = NULL;

	pthread_mutex_lock(&r->lock);
	for (o = r->objs; o; o = next) {
		next = o->next;
		if (r->stale && r->stale(o)) {
			obj_retire(o);
			o->next = gone; /* out of the registry: ours to link */
			gone = o;
		}
	}
	pthread_mutex_unlock(&r->lock);
	for (o = gone; o; o = next) {
		next = o->next;
		obj_end(o);
	}
}

void ipc_obj_gone(struct ipc_registry *r, const char *name)
{
	struct ipc_obj *o;

	pthread_mutex_lock(&r->lock);
	o = obj_find(r, name);
	if (o && (!r->stale || r->stale(o)))
		obj_retire(o);
	else
		o = NULL;
	pthread_mutex_unlock(&r->lock);
	if (o)
		obj_end(o);
}

int ipc_obj_remove(struct ipc_obj *o)
{
	struct ipc_registry *r = o->reg;
	bool listed;

	pthread_mutex_lock(&r->lock);
	listed = !o->removed;
	if (listed)
		obj_retire(o); /* obj_end drops the registry's reference */
	pthread_mutex_unlock(&r->lock);
	if (!listed)
		return -ENOENT;
	obj_end(o);
	return 0;
}

int ipc_obj_list(struct ipc_registry *r,
		 int (*fill)(void *ctx, const char *name), void *ctx)
{
	struct ipc_obj *o;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	for (o = r->objs; o && ret == 0; o = o->next)
		ret = fill(ctx, o->name);
	pthread_mutex_unlock(&r->lock);
	return ret;
}

void ipc_obj_wake_all(struct ipc_registry *r)
{
	struct ipc_obj *o;

	pthread_mutex_lock(&r->lock);
	for (o = r->objs; o; o = o->next)
		ipc_wake_all(o->wq);
	pthread_mutex_unlock(&r->lock);
}

int ipc_obj_fence(struct ipc_registry *r, const char *name)
{
	struct ipc_obj *o;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	o = obj_find(r, name);
	if (r->fenced || (o && o->refs > 1))
		ret = -EBUSY; /* opened: by a file, or an open under way */
	else
		r->fenced = name;
	pthread_mutex_unlock(&r->lock);
	return ret;
}

void ipc_obj_unfence(struct ipc_registry *r)
{
	pthread_mutex_lock(&r->lock);
	r->fenced = NULL;
	pthread_mutex_unlock(&r->lock);
}

void ipc_obj_clear(struct ipc_registry *r)
{
	struct ipc_obj *o;

	pthread_mutex_lock(&r->lock);
	while ((o = r->objs)) {
		obj_retire(o);
		pthread_mutex_unlock(&r->lock);
		ipc_obj_put(o);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
}

int ipc_list_dir(int dirfd,
		 const char *(*object)(int dirfd, const struct dirent *de),
		 int (*fill)(void *ctx, const char *name), void *ctx)
{
	char name[NAME_MAX + 2];
	const char *obj;
	struct dirent *de;
	DIR *d;
	int fd, ret = 0;

	/* A descriptor of our own: a DIR's position is not shareable. */
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		return ret;
	}
	while (ret == 0 && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		obj = object ? object(dirfd, de) : de->d_name;
		if (!obj)
			continue;
		snprintf(name, sizeof(name), "/%s", obj);
		ret = fill(ctx, name);
	}
	closedir(d);
	return ret;
}

void ipc_meta_touch(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

void ipc_meta_init(struct ipc_meta *m, mode_t mode,
		   const struct ipc_caller *caller)
{
	m->mode = mode & 07777;
	m->uid = caller->uid;
	m->gid = caller->gid;
	ipc_meta_touch(&m->ctime);
	m->atime = m->mtime = m->ctime;
}

void ipc_meta_stat(const struct ipc_meta *m, struct stat *st)
{
	st->st_mode = m->mode;
	st->st_uid = m->uid;
	st->st_gid = m->gid;
	st->st_atim = m->atime;
	st->st_mtim = m->mtime;
	st->st_ctim = m->ctime;
}

void ipc_meta_chmod(struct ipc_meta *m, mode_t mode)
{
	m->mode = mode;
	ipc_meta_touch(&m->ctime);
}

void ipc_meta_chown(struct ipc_meta *m, uid_t uid, gid_t gid)
{
	if (uid != (uid_t)-1)
		m->uid = uid;
	if (gid != (gid_t)-1)
		m->gid = gid;
	ipc_meta_touch(&m->ctime);
}

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fake.c - test/fake/kN: a kind that is nothing but this file and one line
 * in test.def, to show that nothing else need change to add one. Objects
 * are numbers kept in the daemon's memory; each has one attribute, value
 * (rw), made with -o fake_value=N (default 0). It sits below a directory of
 * its own (path "test/fake"), takes no -o prefix=, and names its objects its
 * own way: directory kN is object "N", N a decimal number without leading
 * zeros.
 *
 *   $ mkdir test/fake/k12; echo 7 > test/fake/k12/value
 *   $ getfattr --only-values -n user.ipcfs.name test/fake/k12   # 12
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipc.h"

#define FAKE_MAX 64   /* objects at most */
#define FAKE_DIGITS 9 /* an object's name is at most this long */

struct fake {
	char name[FAKE_DIGITS + 1]; /* "": a free slot */
	long value;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	struct timespec ctime;
};

static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fake fake_objs[FAKE_MAX]; /* under fake_lock */
static long fake_opt_value;

static const struct ipc_option fake_options[] = {
	{ "fake_value", &fake_opt_value, -1000000, 1000000,
	  "value of a new test/fake object (default 0)" },
	{ NULL },
};

/* "kN" -> "N": N digits, no leading zero; anything else is no object. */
static int fake_name_in(const char *dirname, char *obj, size_t size)
{
	const char *d = dirname + 1;
	size_t len = strlen(d);

	if (dirname[0] != 'k' || len == 0 || (d[0] == '0' && len > 1) ||
	    strspn(d, "0123456789") != len)
		return -EINVAL;
	if (len > FAKE_DIGITS || len + 1 > size)
		return -ENAMETOOLONG;
	memcpy(obj, d, len + 1);
	return 0;
}

static int fake_name_out(const char *obj, char *dirname, size_t size)
{
	int n = snprintf(dirname, size, "k%s", obj);

	return n < 0 || (size_t)n >= size;
}

static struct fake *fake_find(const char *name) /* under fake_lock */
{
	size_t i;

	for (i = 0; i < FAKE_MAX; i++)
		if (strcmp(fake_objs[i].name, name) == 0)
			return &fake_objs[i];
	return NULL;
}

static int fake_list(int (*fill)(void *ctx, const char *name), void *ctx)
{
	size_t i;
	int ret = 0;

	pthread_mutex_lock(&fake_lock);
	for (i = 0; i < FAKE_MAX && ret == 0; i++)
		if (fake_objs[i].name[0])
			ret = fill(ctx, fake_objs[i].name);
	pthread_mutex_unlock(&fake_lock);
	return ret;
}

static int fake_create(const char *name, mode_t mode,
		       const struct ipc_caller *caller)
{
	struct fake *f;
	int ret = 0;

	if (strlen(name) > FAKE_DIGITS)
		return -ENAMETOOLONG;
	pthread_mutex_lock(&fake_lock);
	if (fake_find(name))
		ret = -EEXIST;
	else if (!(f = fake_find("")))
		ret = -ENOSPC;
	if (ret == 0) {
		*f = (struct fake){ .value = fake_opt_value,
				    .mode = mode & 07777,
				    .uid = caller->uid,
				    .gid = caller->gid };
		strcpy(f->name, name);
		clock_gettime(CLOCK_REALTIME, &f->ctime);
	}
	pthread_mutex_unlock(&fake_lock);
	return ret;
}

static int fake_remove(const char *name)
{
	struct fake *f;
	int ret = 0;

	pthread_mutex_lock(&fake_lock);
	f = *name ? fake_find(name) : NULL;
	if (f)
		f->name[0] = '\0';
	else
		ret = -ENOENT;
	pthread_mutex_unlock(&fake_lock);
	return ret;
}

static int fake_stat(const char *name, struct stat *st)
{
	struct fake *f;
	int ret = 0;

	pthread_mutex_lock(&fake_lock);
	f = *name ? fake_find(name) : NULL;
	if (f) {
		st->st_mode = f->mode;
		st->st_uid = f->uid;
		st->st_gid = f->gid;
		st->st_atim = st->st_mtim = st->st_ctim = f->ctime;
	} else {
		ret = -ENOENT;
	}
	pthread_mutex_unlock(&fake_lock);
	return ret;
}

static int fake_get_value(const char *name, size_t arg, char *buf, size_t size)
{
	struct fake *f;
	int ret;

	pthread_mutex_lock(&fake_lock);
	f = *name ? fake_find(name) : NULL;
	ret = f ? snprintf(buf, size, "%ld\n", f->value) : -ENOENT;
	pthread_mutex_unlock(&fake_lock);
	return ret;
}

static int fake_set_value(const char *name, const char *buf, size_t len,
			  const struct ipc_caller *who)
{
	struct fake *f;
	long val;
	int ret;

	ret = ipc_parse_long(buf, len, &val);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&fake_lock);
	f = *name ? fake_find(name) : NULL;
	if (f)
		f->value = val;
	else
		ret = -ENOENT;
	pthread_mutex_unlock(&fake_lock);
	return ret;
}

static const struct ipc_file fake_files[] = {
	{ .name = "value",
	  .mode = 0666,
	  .get = fake_get_value,
	  .set = fake_set_value },
	{ NULL },
};

const struct ipc_kind fake_kind = {
	.name = "fake",
	.path = "test/fake",
	.name_max = FAKE_DIGITS,
	.name_in = fake_name_in,
	.name_out = fake_name_out,
	.list = fake_list,
	.create = fake_create,
	.remove = fake_remove,
	.stat = fake_stat,
	.files = fake_files,
	.options = fake_options,
};

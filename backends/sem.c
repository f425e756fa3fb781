// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sem.c - sem/NAME: a POSIX named semaphore (sem_overview(7)).
 *
 * value: sem_getvalue(3). post: each write posts, once for an empty line, N
 * times for a decimal N. wait: the first read of an open file waits for and
 * takes one unit, then returns end-of-file ("P"). hold: opening it takes a
 * unit, and releasing the open file gives it back, however the holder ends,
 * so a shell has a crash-safe lock:
 *
 *   $ exec 9<sem/lock/hold     # P; a kill -9 of this shell gives it back
 *   $ exec 9<&-                # V
 *
 * Semaphores cannot be polled: they wait through the helper wait source
 * (ipc_helper_new(), fs/helper.c), which takes units for the waiters and
 * banks them; the event loop hands each banked unit to the oldest waiter. A
 * unit nobody claims (its waiter was interrupted) goes back.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devshm.h"
#include "holds.h"
#include "ipc.h"
#include "units.h"

struct semaphore {
	struct ipc_obj obj;
	sem_t *sem;
	ino_t ino; /* of /dev/shm/sem.NAME, to tell a remade one */
	int hslot; /* its slot in the journal of kept units, or -1 */
	struct ipc_helper *helper;
	bool broken; /* its file was cut short under our mapping (devshm.c) */
};

static long semaphore_opt_value = 1;
extern const struct ipc_kind semaphore_kind;
static struct ipc_watch *semaphore_watch; /* unlinks in /dev/shm */

static int semaphore_open(const char *name, struct ipc_obj **o);
static bool semaphore_stale(struct ipc_obj *o);
static void semaphore_free(struct ipc_obj *o);
static struct ipc_registry semaphores =
	IPC_REGISTRY_INIT(semaphore_open, semaphore_stale, semaphore_free);

static struct semaphore *semaphore_of(struct ipc_obj *o)
{
	return (struct semaphore *)o; /* obj comes first */
}

/* "/NAME" -> "sem.NAME", the file in /dev/shm. */
static const char *semaphore_file(const char *name, char *buf, size_t size)
{
	return devshm_file(name, true, buf, size);
}

/* The fs layer's watch of /dev/shm: "/sem.NAME" went, so did "/NAME". */
static void semaphore_gone_file(const char *file)
{
	char name[DEVSHM_FILE_MAX + 1];

	if (!devshm_is_sem(file + 1))
		return;
	snprintf(name, sizeof(name), "/%s", file + 1 + strlen(DEVSHM_SEM));
	ipc_object_removed(&semaphore_kind, name);
	ipc_obj_gone(&semaphores, name);
}

static bool semaphore_watched(void)
{
	return semaphore_watch;
}

static int semaphore_init(void)
{
	devshm_init();
	if (devshm_fd() >= 0)
		semaphore_watch =
			ipc_watch_unlinks(devshm_fd(), semaphore_gone_file);
	holds_replay();
	return 0;
}

/* At exit, once every helper has ended (fs_helpers_drain()). */
static void semaphore_fini(void)
{
	ipc_unwatch(semaphore_watch);
	semaphore_watch = NULL;
	ipc_obj_clear(&semaphores);
	devshm_fini();
	holds_fini();
}

static int semaphore_list(int (*fill)(void *ctx, const char *name), void *ctx)
{
	return devshm_list(true, fill, ctx);
}

struct semaphore_create_arg {
	const char *file;
	mode_t mode;
	sem_t init; /* what sem_init() made of the value */
};

/*
 * In the caller's shoes (ipc_as_caller): what glibc's sem_open() does to
 * make one, in system calls only (sem_open() itself takes a lock of
 * glibc's, which the child of a threaded daemon may not): an unnamed file
 * holding the sem_t, linked in under its name unless one is there.
 */
static int semaphore_create_as(void *arg)
{
	struct semaphore_create_arg *a = arg;
	char path[32] = "/proc/self/fd/", *p = path + strlen(path);
	int fd, ret = 0, n, k;

	fd = openat(devshm_fd(), ".", O_TMPFILE | O_RDWR | O_CLOEXEC, a->mode);
	if (fd < 0)
		return -errno;
	for (n = fd, k = 1; n >= 10; n /= 10)
		k *= 10;
	for (n = fd; k; k /= 10)
		*p++ = '0' + n / k % 10;
	*p = '\0';
	errno = 0; /* a short write sets none */
	if (write(fd, &a->init, sizeof(a->init)) != sizeof(a->init) ||
	    linkat(AT_FDCWD, path, devshm_fd(), a->file, AT_SYMLINK_FOLLOW) < 0)
		ret = errno ? -errno : -ENOSPC;
	close(fd);
	return ret;
}

/* Made by the caller: theirs, with their rights checked by the kernel. */
static int semaphore_create(const char *name, mode_t mode,
			    const struct ipc_caller *caller)
{
	char file[DEVSHM_FILE_MAX];
	struct semaphore_create_arg a = {
		.file = semaphore_file(name, file, sizeof(file)),
		.mode = mode,
	};

	if (devshm_fd() < 0)
		return -ENOENT;
	sem_init(&a.init, 1, (unsigned int)semaphore_opt_value);
	return ipc_as_caller(caller, semaphore_create_as, &a);
}

static int semaphore_remove(const char *name)
{
	if (sem_unlink(name) < 0)
		return -errno;
	ipc_obj_gone(&semaphores, name);
	return 0;
}

/* Through devshm.c: a link planted at sem.NAME is no semaphore. */
static int semaphore_stat(const char *name, struct stat *st)
{
	char file[DEVSHM_FILE_MAX];

	return devshm_stat(semaphore_file(name, file, sizeof(file)), st);
}

static int semaphore_chmod(const char *name, mode_t mode)
{
	char file[DEVSHM_FILE_MAX];

	return devshm_chmod(semaphore_file(name, file, sizeof(file)), mode);
}

static int semaphore_chown(const char *name, uid_t uid, gid_t gid)
{
	char file[DEVSHM_FILE_MAX];

	return devshm_chown(semaphore_file(name, file, sizeof(file)), uid, gid);
}

/*
 * The semaphore's own operations, each under a guard: whoever may write
 * /dev/shm/sem.NAME may cut it short under our mapping (devshm.c). s is
 * then broken for good: -EIO, and the next open finds it stale.
 */
static int semaphore_guard_end(struct semaphore *s, struct devshm_guard *g,
			       int ret)
{
	if (devshm_guard_end(g) == 0)
		return ret;
	if (!s->broken)
		ipc_log("%s: its file in /dev/shm was cut short under us: no semaphore now",
			s->obj.name);
	s->broken = true;
	return -EIO;
}

static int semaphore_post(struct semaphore *s)
{
	struct devshm_guard g;
	int ret;

	devshm_guard_begin(&g, s->sem, sizeof(sem_t));
	ret = sem_post(s->sem) < 0 ? -errno : 0;
	return semaphore_guard_end(s, &g, ret);
}

static int semaphore_trywait(struct semaphore *s)
{
	struct devshm_guard g;
	int ret;

	devshm_guard_begin(&g, s->sem, sizeof(sem_t));
	ret = sem_trywait(s->sem) < 0 ? -errno : 0;
	return semaphore_guard_end(s, &g, ret);
}

static int semaphore_clockwait(struct semaphore *s, const struct timespec *ts)
{
	struct devshm_guard g;
	int ret;

	devshm_guard_begin(&g, s->sem, sizeof(sem_t));
	ret = sem_clockwait(s->sem, CLOCK_MONOTONIC, ts) < 0 ? -errno : 0;
	return semaphore_guard_end(s, &g, ret);
}

/* The value, or -errno. */
static int semaphore_value(struct semaphore *s)
{
	struct devshm_guard g;
	int ret, val;

	devshm_guard_begin(&g, s->sem, sizeof(sem_t));
	ret = sem_getvalue(s->sem, &val) < 0 ? -errno : val;
	return semaphore_guard_end(s, &g, ret);
}

/*
 * The helper's blocking call: a unit for the waiters. Ours now, so it goes
 * in the journal at once: back to the semaphore if we die.
 */
static int semaphore_helper_block(void *arg, const struct timespec *deadline)
{
	struct semaphore *s = arg;
	int ret = semaphore_clockwait(s, deadline);

	if (ret == 0)
		holds_add(s->hslot, +1);
	if (ret == -EIO)
		return ret; /* the banked units went with the file */
	return ret == 0;
}

static void semaphore_helper_give_back(void *arg)
{
	struct semaphore *s = arg;

	holds_add(s->hslot, -1);
	semaphore_post(s);
}

static unsigned int semaphore_helper_peek(void *arg)
{
	struct semaphore *s = arg;

	return s->broken || semaphore_value(s) > 0 ? POLLIN : 0;
}

static const struct ipc_helper_ops semaphore_helper_ops = {
	.block = semaphore_helper_block,
	.give_back = semaphore_helper_give_back,
	.peek = semaphore_helper_peek,
};

/* The registry's: map semaphore NAME. */
static int semaphore_open(const char *name, struct ipc_obj **o)
{
	struct semaphore *s = calloc(1, sizeof(*s));
	char file[DEVSHM_FILE_MAX];
	struct stat st;
	int ret;

	if (!s)
		return -ENOMEM;
	s->hslot = -1;
	/* Through devshm.c: the file checked is the file mapped. */
	s->sem = devshm_map_sem(semaphore_file(name, file, sizeof(file)), &st);
	if (!s->sem) {
		ret = -errno;
		free(s);
		return ret;
	}
	ret = ipc_obj_init(&s->obj, name, -1);
	if (ret < 0) {
		devshm_unmap_sem(s->sem);
		free(s);
		return ret;
	}
	s->ino = st.st_ino;
	/* Units are taken only through an object: journal them from now. */
	s->hslot = holds_pin(name, s->ino);
	s->helper =
		ipc_helper_new(&s->obj, s->obj.wq, &semaphore_helper_ops, s);
	if (!s->helper) {
		ipc_obj_discard(&semaphores, &s->obj);
		return -ENOMEM;
	}
	*o = &s->obj;
	return 0;
}

/* Is s no longer the semaphore NAME: removed, remade, or its file cut? */
static bool semaphore_stale(struct ipc_obj *o)
{
	struct semaphore *s = semaphore_of(o);
	struct stat st;

	return s->broken || semaphore_stat(o->name, &st) < 0 ||
	       st.st_ino != s->ino;
}

static void semaphore_free(struct ipc_obj *o)
{
	struct semaphore *s = semaphore_of(o);

	ipc_helper_free(s->helper);
	holds_unpin(s->hslot);
	devshm_unmap_sem(s->sem);
	free(s);
}

static struct semaphore *semaphore_get(const char *name, int *err)
{
	struct ipc_obj *o = ipc_obj_get(&semaphores, name, err);

	return o ? semaphore_of(o) : NULL;
}

/*
 * Take one unit now: a banked one, or straight from the semaphore. Every
 * unit the daemon keeps is in the journal (holds.c), so that it goes back
 * to the semaphore if the daemon dies: a banked one already is. A hold
 * (keep) keeps it there until its release; a wait consumes it.
 */
static int semaphore_take(struct ipc_obj *o, struct ipc_wait *w, bool keep)
{
	struct semaphore *s = semaphore_of(o);
	int ret;

	if (ipc_obj_removed(&s->obj))
		return -EIDRM;
	if (ipc_helper_claim(s->helper)) {
		if (!keep)
			holds_add(s->hslot, -1);
		return 0;
	}
	if (s->broken)
		return -EIO;
	ret = semaphore_trywait(s);
	if (ret == 0 && keep)
		holds_add(s->hslot, +1);
	/* Nobody would wake a waiter without a helper: say so. */
	if (ret == -EAGAIN && ipc_helper_start(s->helper) == 0) {
		w->wq = s->obj.wq;
		w->events = POLLIN;
	}
	return ret;
}

/* A hold's unit back to the semaphore, out of the journal. */
static void semaphore_give(struct ipc_obj *o)
{
	struct semaphore *s = semaphore_of(o);
	int ret;

	holds_add(s->hslot, -1);
	ret = semaphore_post(s);
	if (ret < 0)
		ipc_log("%s: cannot give a held unit back: %s", o->name,
			strerror(-ret));
}

/* A wait's unit, which its reader never learnt of, back. */
static void semaphore_untake(struct ipc_obj *o)
{
	semaphore_post(semaphore_of(o));
}

static bool semaphore_ready(struct ipc_obj *o)
{
	struct semaphore *s = semaphore_of(o);

	if (ipc_helper_banked(s->helper) || ipc_obj_removed(o) || s->broken ||
	    semaphore_value(s) > 0)
		return true;
	ipc_helper_start(s->helper); /* it re-checks for the pollers */
	return false;
}

static const struct ipc_units semaphore_units = {
	.reg = &semaphores,
	.take = semaphore_take,
	.give = semaphore_give,
	.untake = semaphore_untake,
	.ready = semaphore_ready,
};

static int semaphore_open_handle(const char *name, int flags, void **fh)
{
	return ipc_units_open(&semaphore_units, name, fh);
}

static int semaphore_value_get(const char *name, size_t arg, char *buf,
			       size_t size)
{
	struct semaphore *s;
	int ret = 0;

	s = semaphore_get(name, &ret);
	if (!s)
		return ret;
	ret = semaphore_value(s);
	ipc_obj_put(&s->obj);
	return ret < 0 ? ret : snprintf(buf, size, "%d\n", ret);
}

/*
 * One write posts: once for an empty line, N times for a decimal N. A value
 * past SEM_VALUE_MAX is EOVERFLOW and posts nothing.
 */
static int semaphore_post_set(const char *name, const char *buf, size_t len,
			      const struct ipc_caller *who)
{
	struct semaphore *s;
	long n;
	int ret, val;

	ret = ipc_parse_post(buf, len, SEM_VALUE_MAX, &n);
	if (ret < 0)
		return ret;
	s = semaphore_get(name, &ret);
	if (!s)
		return ret;
	val = semaphore_value(s);
	if (val < 0)
		ret = val;
	else if (n > SEM_VALUE_MAX - val)
		ret = -EOVERFLOW;
	for (; ret == 0 && n > 0; n--)
		ret = semaphore_post(s);
	ipc_obj_put(&s->obj);
	return ret;
}

static const struct ipc_stream_ops semaphore_wait_ops = {
	.open = semaphore_open_handle,
	.release = ipc_units_wait_release,
	.read = ipc_units_wait_read,
	.unread = ipc_units_wait_unread,
	.poll = ipc_units_wait_poll,
	.flags = IPC_READ_TAKES,
};

static const struct ipc_stream_ops semaphore_hold_ops = {
	.open = semaphore_open_handle,
	.acquire = ipc_units_hold_acquire,
	.release = ipc_units_hold_release,
};

static const struct ipc_file semaphore_files[] = {
	{ .name = "value", .mode = 0444, .get = semaphore_value_get },
	/* Each takes or gives units: sem_open() would need read and write. */
	{ .name = "post",
	  .mode = 0222,
	  .need = R_OK | W_OK,
	  .set = semaphore_post_set },
	{ .name = "wait",
	  .mode = 0444,
	  .need = R_OK | W_OK,
	  .ops = &semaphore_wait_ops },
	{ .name = "hold",
	  .mode = 0444,
	  .need = R_OK | W_OK,
	  .ops = &semaphore_hold_ops },
	{ .name = NULL },
};

static const struct ipc_option semaphore_options[] = {
	{ "sem_value", &semaphore_opt_value, 0, SEM_VALUE_MAX,
	  "value of semaphores made by mkdir (default 1)" },
	{ NULL },
};

const struct ipc_kind semaphore_kind = {
	.name = "sem",
	.name_max = NAME_MAX - (sizeof(DEVSHM_SEM) - 1),
	.init = semaphore_init,
	.fini = semaphore_fini,
	.list = semaphore_list,
	.create = semaphore_create,
	.remove = semaphore_remove,
	.stat = semaphore_stat,
	.chmod = semaphore_chmod,
	.chown = semaphore_chown,
	.files = semaphore_files,
	.options = semaphore_options,
	.prefixed = true,
	.watched = semaphore_watched,
};

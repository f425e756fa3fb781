// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sysv_sem.c - sysv/sem/KEY: a System V semaphore set (semget(2)).
 *
 * values: every semaphore's value, space-separated (GETALL); nsems, id.
 * post, wait and hold act on semaphore 0 with sem/'s rules: post adds 1 for
 * an empty line, N for a decimal N, in one semop() (past SEMVMX: ERANGE,
 * nothing posted); the first read of wait takes one unit, then end-of-file;
 * opening hold takes one unit and releasing it gives it back.
 *
 *   $ exec 9<sysv/sem/0x0000162e/hold   # P, with SEM_UNDO
 *   $ exec 9<&-                         # V
 *
 * Units the daemon keeps (a hold's, the helper's banked ones) are taken
 * with SEM_UNDO, so the kernel gives them back if the daemon dies, even of
 * kill -9: sem/'s journal (holds.c) is not needed here. The daemon's
 * threads share one undo list (CLONE_SYSVSEM), so a unit taken by one
 * thread may be given back by another.
 *
 * Sets cannot be polled: they wait through the helper wait source
 * (fs/helper.c), as sem/ does. Its thread is the only one that calls semop()
 * without IPC_NOWAIT; a removal (rmdir, ipcrm -s) ends that call at once
 * with EIDRM, and every waiter then sees EIDRM.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sem.h>
#include <time.h>

#include "sysv.h"
#include "units.h"

#define SYSV_SEM_VMX 32767 /* SEMVMX: the kernel's largest value */

struct sysv_sem {
	struct sysv_obj sys;
	struct ipc_helper *helper;
};

/*
 * sem_value, sem/'s option too (fs/options.c sets both): accepted in sem/'s
 * range, so that one option line serves both kinds; past SEMVMX the kernel
 * refuses it here, and mkdir fails with its ERANGE.
 */
static long sysv_sem_opt_value = 1;

static int sysv_sem_open(const char *name, struct ipc_obj **o);
static void sysv_sem_free(struct ipc_obj *o);
static struct ipc_registry sysv_sems =
	IPC_REGISTRY_INIT(sysv_sem_open, sysv_obj_stale, sysv_sem_free);

/*
 * The operations on semaphore 0, each done at once or not at all. A wait
 * consumes its unit (no undo); a hold keeps its unit with SEM_UNDO, as the
 * helper keeps what it banks. A wait that claims a banked unit turns it
 * into a plain take: +1 with undo and -1 without, net 0, undo cancelled;
 * the other order is for a value at SEMVMX, where +1 first is ERANGE.
 */
static struct sembuf sysv_sem_wait_take[] = { { 0, -1, IPC_NOWAIT } };
static struct sembuf sysv_sem_wait_undo[] = { { 0, +1, IPC_NOWAIT } };
static struct sembuf sysv_sem_hold_take[] = {
	{ 0, -1, IPC_NOWAIT | SEM_UNDO },
};
static struct sembuf sysv_sem_hold_give[] = {
	{ 0, +1, IPC_NOWAIT | SEM_UNDO },
};
static struct sembuf sysv_sem_unbank[][2] = {
	{ { 0, +1, IPC_NOWAIT | SEM_UNDO }, { 0, -1, IPC_NOWAIT } },
	{ { 0, -1, IPC_NOWAIT }, { 0, +1, IPC_NOWAIT | SEM_UNDO } },
};

static struct sysv_sem *sysv_sem_of(struct ipc_obj *o)
{
	return (struct sysv_sem *)o; /* sys, and so obj, comes first */
}

/* semop() on s: 0 or -errno; EIDRM if s is gone (retired from the tree). */
static int sysv_sem_op(struct sysv_sem *s, struct sembuf *ops, size_t n)
{
	int ret = semop(s->sys.id, ops, n) < 0 ? -errno : 0;

	if (ret < 0 && sysv_obj_vanished(&s->sys, ret))
		ret = -EIDRM;
	return ret;
}

/* Semaphore 0's value, or -errno. */
static int sysv_sem_value(struct sysv_sem *s)
{
	int ret = semctl(s->sys.id, 0, GETVAL);

	if (ret < 0)
		ret = -errno;
	if (ret < 0 && sysv_obj_vanished(&s->sys, ret))
		ret = -EIDRM;
	return ret;
}

/* A wait takes a banked unit: the helper took it with undo, a wait none. */
static int sysv_sem_unbank_op(struct sysv_sem *s)
{
	int ret = sysv_sem_op(s, sysv_sem_unbank[0], 2);

	if (ret == -ERANGE)
		ret = sysv_sem_op(s, sysv_sem_unbank[1], 2);
	if (ret < 0 && ret != -EIDRM)
		ipc_log("%s: cannot keep a unit taken for a wait: %s",
			s->sys.obj.name, strerror(-ret));
	return ret;
}

static void sysv_sem_give_back(struct sysv_sem *s)
{
	int ret = sysv_sem_op(s, sysv_sem_hold_give, 1);

	/* Its undo entry stays: the kernel gives it back when we exit. */
	if (ret < 0 && ret != -EIDRM)
		ipc_log("%s: cannot give a unit back: %s", s->sys.obj.name,
			strerror(-ret));
}

/* What is left until deadline, into *left: false if nothing. */
static bool sysv_sem_left(const struct timespec *deadline,
			  struct timespec *left)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	left->tv_sec = deadline->tv_sec - now.tv_sec;
	left->tv_nsec = deadline->tv_nsec - now.tv_nsec;
	if (left->tv_nsec < 0) {
		left->tv_nsec += 1000000000L;
		left->tv_sec--;
	}
	return left->tv_sec >= 0;
}

/*
 * The helper's blocking call: a unit for the waiters, with undo (ours now,
 * so back to the set if we die). semtimedop() wants a relative timeout.
 */
static int sysv_sem_helper_block(void *arg, const struct timespec *deadline)
{
	struct sembuf op = { 0, -1, SEM_UNDO };
	struct sysv_sem *s = arg;
	struct timespec left;
	int ret;

	if (!sysv_sem_left(deadline, &left))
		return 0;
	if (semtimedop(s->sys.id, &op, 1, &left) == 0)
		return 1;
	ret = -errno;
	if (ret == -EINTR || ret == -EAGAIN)
		return 0; /* interrupted, or the deadline */
	sysv_obj_vanished(&s->sys, ret);
	return ret;
}

static void sysv_sem_helper_give_back(void *arg)
{
	sysv_sem_give_back(arg);
}

/* A removed set is news too: its waiters see EIDRM. */
static unsigned int sysv_sem_helper_peek(void *arg)
{
	return sysv_sem_value(arg) != 0 ? POLLIN : 0;
}

static const struct ipc_helper_ops sysv_sem_helper_ops = {
	.block = sysv_sem_helper_block,
	.give_back = sysv_sem_helper_give_back,
	.peek = sysv_sem_helper_peek,
};

/* The registry's: set NAME, as its id says now. */
static int sysv_sem_open(const char *name, struct ipc_obj **o)
{
	struct sysv_sem *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	ret = sysv_obj_init(&s->sys, &sysv_sem, name);
	if (ret < 0) {
		free(s);
		return ret;
	}
	s->helper = ipc_helper_new(&s->sys.obj, s->sys.obj.wq,
				   &sysv_sem_helper_ops, s);
	if (!s->helper) {
		ipc_obj_discard(&sysv_sems, &s->sys.obj);
		return -ENOMEM;
	}
	*o = &s->sys.obj;
	return 0;
}

static void sysv_sem_free(struct ipc_obj *o)
{
	struct sysv_sem *s = sysv_sem_of(o);

	ipc_helper_free(s->helper);
	free(s);
}

static struct sysv_sem *sysv_sem_get(const char *name, int *err)
{
	struct ipc_obj *o = ipc_obj_get(&sysv_sems, name, err);

	return o ? sysv_sem_of(o) : NULL;
}

/* At exit, once every helper has ended (fs_helpers_drain()). */
static void sysv_sem_fini(void)
{
	ipc_obj_clear(&sysv_sems);
}

/*
 * In the caller's shoes (sysv_create): a set of one semaphore of value
 * sem_value, or none. SETVAL needs alter permission, which the mode may
 * deny the owner too: the set gets the mode once its value is set.
 */
static int sysv_sem_make(key_t key, int flags, void *arg)
{
	mode_t mode = flags & 0777;
	struct sysv_perm p;
	int id, ret = 0;

	id = semget(key, 1, flags | 0600);
	if (id < 0)
		return -errno;
	if (semctl(id, 0, SETVAL, (int)sysv_sem_opt_value) < 0)
		ret = -errno;
	if (ret == 0 && (mode & 0600) != 0600) {
		ret = sysv_sem.stat(id, &p);
		if (ret == 0)
			ret = sysv_sem.set(id, p.uid, p.gid, mode);
	}
	if (ret < 0)
		semctl(id, 0, IPC_RMID);
	return ret;
}

static int sysv_sem_create(const char *name, mode_t mode,
			   const struct ipc_caller *caller)
{
	return sysv_create(name, mode, caller, sysv_sem_make, NULL);
}

SYSV_KIND_COMMON(sysv_sem, sysv_sem, &sysv_sems)

/*
 * Take one unit now: a banked one, or straight from the set. A hold (keep)
 * keeps it with undo until its release; a wait consumes it.
 */
static int sysv_sem_take(struct ipc_obj *o, struct ipc_wait *w, bool keep)
{
	struct sysv_sem *s = sysv_sem_of(o);
	int ret;

	if (ipc_obj_removed(&s->sys.obj))
		return -EIDRM;
	if (ipc_helper_claim(s->helper))
		return keep ? 0 : sysv_sem_unbank_op(s);
	ret = sysv_sem_op(s, keep ? sysv_sem_hold_take : sysv_sem_wait_take, 1);
	/* Nobody would wake a waiter without a helper: say so. */
	if (ret == -EAGAIN && ipc_helper_start(s->helper) == 0) {
		w->wq = s->sys.obj.wq;
		w->events = POLLIN;
	}
	return ret;
}

static void sysv_sem_give(struct ipc_obj *o)
{
	sysv_sem_give_back(sysv_sem_of(o));
}

/* A wait's unit, which its reader never learnt of, back (no undo). */
static void sysv_sem_untake(struct ipc_obj *o)
{
	sysv_sem_op(sysv_sem_of(o), sysv_sem_wait_undo, 1);
}

static bool sysv_sem_ready(struct ipc_obj *o)
{
	struct sysv_sem *s = sysv_sem_of(o);

	if (ipc_helper_banked(s->helper) || ipc_obj_removed(o) ||
	    sysv_sem_value(s) != 0)
		return true;
	ipc_helper_start(s->helper); /* it re-checks for the pollers */
	return false;
}

static const struct ipc_units sysv_sem_units = {
	.reg = &sysv_sems,
	.take = sysv_sem_take,
	.give = sysv_sem_give,
	.untake = sysv_sem_untake,
	.ready = sysv_sem_ready,
};

static int sysv_sem_open_handle(const char *name, int flags, void **fh)
{
	return ipc_units_open(&sysv_sem_units, name, fh);
}

/* NAME's IPC_STAT into *ds: its id, or -ENOENT. */
static int sysv_sem_ds(const char *name, struct semid_ds *ds)
{
	int id = sysv_id(&sysv_sem, name);

	if (id < 0)
		return id == -EINVAL ? -ENOENT : id;
	/* Removed between the two calls: as if it had been before. */
	return semctl(id, 0, IPC_STAT, ds) < 0 ? -ENOENT : id;
}

/* "V0 V1 ...\n": the length it takes, as snprintf() (fs/ asks again). */
static int sysv_sem_values_get(const char *name, size_t arg, char *buf,
			       size_t size)
{
	unsigned short *val;
	struct semid_ds ds;
	size_t i, len = 0;
	int id;

	id = sysv_sem_ds(name, &ds);
	if (id < 0)
		return id;
	val = calloc(ds.sem_nsems, sizeof(*val));
	if (!val)
		return -ENOMEM;
	if (semctl(id, 0, GETALL, val) < 0) {
		free(val);
		return -ENOENT;
	}
	for (i = 0; i < ds.sem_nsems; i++)
		len += snprintf(len < size ? buf + len : NULL,
				len < size ? size - len : 0, "%s%u",
				i ? " " : "", val[i]);
	len += snprintf(len < size ? buf + len : NULL,
			len < size ? size - len : 0, "\n");
	free(val);
	return (int)len;
}

/* The other attribute files, by their entry's arg. */
enum sysv_sem_field {
	SYSV_SEM_NSEMS,
	SYSV_SEM_ID,
};

static int sysv_sem_attr_get(const char *name, size_t arg, char *buf,
			     size_t size)
{
	struct semid_ds ds;
	int id = sysv_sem_ds(name, &ds);

	if (id < 0)
		return id;
	const unsigned long val[] = {
		[SYSV_SEM_NSEMS] = ds.sem_nsems,
		[SYSV_SEM_ID] = (unsigned long)id,
	};
	return snprintf(buf, size, "%lu\n", val[arg]);
}

/*
 * One write posts N (1 for an empty line) in one semop(): all or nothing,
 * ERANGE past SEMVMX as semop() says it. 0 posts nothing: a semop() of 0
 * would wait for zero.
 */
static int sysv_sem_post_set(const char *name, const char *buf, size_t len,
			     const struct ipc_caller *who)
{
	struct sembuf op = { 0, 0, IPC_NOWAIT };
	struct sysv_sem *s;
	long n;
	int ret;

	ret = ipc_parse_post(buf, len, SYSV_SEM_VMX, &n);
	if (ret == -EOVERFLOW)
		return -ERANGE;
	if (ret < 0 || n == 0)
		return ret;
	s = sysv_sem_get(name, &ret);
	if (!s)
		return ret;
	op.sem_op = (short)n;
	ret = sysv_sem_op(s, &op, 1);
	ipc_obj_put(&s->sys.obj);
	return ret;
}

static const struct ipc_stream_ops sysv_sem_wait_ops = {
	.open = sysv_sem_open_handle,
	.release = ipc_units_wait_release,
	.read = ipc_units_wait_read,
	.unread = ipc_units_wait_unread,
	.poll = ipc_units_wait_poll,
	.flags = IPC_READ_TAKES,
};

static const struct ipc_stream_ops sysv_sem_hold_ops = {
	.open = sysv_sem_open_handle,
	.acquire = ipc_units_hold_acquire,
	.release = ipc_units_hold_release,
};

#define SYSV_SEM_ATTR(name_, field)                                            \
	{                                                                      \
		.name = name_, .mode = 0444, .get = sysv_sem_attr_get,         \
		.arg = field                                                   \
	}

/* Taking a unit is a semop() of -1: it needs alter permission (W_OK). */
static const struct ipc_file sysv_sem_files[] = {
	{ .name = "values", .mode = 0444, .get = sysv_sem_values_get },
	SYSV_SEM_ATTR("nsems", SYSV_SEM_NSEMS),
	SYSV_SEM_ATTR("id", SYSV_SEM_ID),
	{ .name = "post", .mode = 0222, .set = sysv_sem_post_set },
	{ .name = "wait",
	  .mode = 0444,
	  .need = W_OK,
	  .ops = &sysv_sem_wait_ops },
	{ .name = "hold",
	  .mode = 0444,
	  .need = W_OK,
	  .ops = &sysv_sem_hold_ops },
	{ .name = NULL },
};

static const struct ipc_option sysv_sem_options[] = {
	{ "sem_value", &sysv_sem_opt_value, 0, SEM_VALUE_MAX,
	  "sysv/sem/ too: at most 32767 (SEMVMX) there" },
	{ NULL },
};

const struct ipc_kind sysv_sem_kind = {
	.name = "sem",
	.path = "sysv/sem",
	SYSV_KIND_OPS(sysv_sem),
	.fini = sysv_sem_fini,
	.create = sysv_sem_create,
	.files = sysv_sem_files,
	.options = sysv_sem_options,
};

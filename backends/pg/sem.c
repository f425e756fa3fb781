// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sem.c - sem/NAME of the PostgreSQL engine: a semaphore every mount of the
 * database shares, with the files of the local sem/ (backends/sem.c).
 *
 * value: ipcfs.sem_value. post: each write posts, once for an empty line,
 * N times for a decimal N (ipcfs.sem_post, EOVERFLOW past the maximum).
 * wait: the first read of an open file takes one unit (ipcfs.sem_trywait),
 * waiting while there is none, then returns end-of-file. hold: the open
 * takes a unit recorded as this mount's holder's (ipcfs.sem_hold) and the
 * release gives it back (ipcfs.sem_release); if the daemon dies, its
 * database session ends and any live mount reclaims the unit (conn.c).
 * holders: one line per hold of any mount, PID for ours, PID@HOST for
 * another's (ipcfs.sem_holders), so it replaces fs/'s, which knows only
 * this mount's.
 *
 *   A$ exec 9<sem/lock/hold
 *   B$ cat sem/lock/holders
 *   4242@hosta
 *
 * Waiting is parking on the object's wait queue: a post anywhere NOTIFYs,
 * and conn.c wakes the waiters of the semaphore it names; no helper thread
 * blocks, as the local kind's must. A unit that must go back (a hold's
 * release, a wait whose reader was interrupted) while the database cannot
 * be reached waits as the daemon's own job on that queue, retried when the
 * database is back.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg.h"

#define PG_SEM_KIND "sem"
/* The local kind's longest name: glibc's "sem." prefix in /dev/shm. */
#define PG_SEM_NAME_MAX (NAME_MAX - 4)

struct pg_sem_handle {
	struct pg_obj *o;
	pthread_mutex_t lock; /* threads may share an open file: one unit */
	pid_t pid;	      /* hold: who opened it, for holders */
	long long hold;	      /* hold: the unit's row in ipcfs.holds, or 0 */
	bool taken;	      /* wait: took its unit */
	bool fresh;	      /* wait: the last read took the unit */
};

/* A unit to give back once the database answers (pg_sem_back_park). */
struct pg_sem_back {
	struct pg_obj *o;
	long long hold; /* the hold to release, or 0: a unit to post */
};

static long pg_sem_opt_value = 1;

PG_KIND_COMMON(pg_sem, PG_SEM_KIND, false)

static int pg_sem_create(const char *name, mode_t mode,
			 const struct ipc_caller *caller)
{
	char uid[24], gid[24], mbuf[24], val[24];
	const char *v[] = { name, PG_NUM(uid, caller->uid),
			    PG_NUM(gid, caller->gid), PG_NUM(mbuf, mode),
			    PG_NUM(val, pg_sem_opt_value) };

	return pg_exec("SELECT ipcfs.sem_create($1, $2, $3, $4, $5)", 5, v,
		       NULL);
}

/*
 * An integer function of one name (sem_value, sem_trywait): its value, or
 * -errno. The semaphore of an opened file gone from the database was removed
 * by somebody, as the local kind's retired object says: EIDRM.
 */
static long long pg_sem_call(const char *sql, const char *name, bool opened)
{
	const char *v[] = { name };
	long long val;
	PGresult *r;
	int err = 0;

	r = pg_query(sql, 1, v, NULL, &err);
	if (!r)
		return opened && err == -ENOENT ? -EIDRM : err;
	val = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) ? pg_int(r, 0, 0)
							 : -EIO;
	PQclear(r);
	return val;
}

/* Give one unit back: release the hold, or post it. */
static int pg_sem_give(struct pg_obj *o, long long hold)
{
	char buf[24];
	const char *v[] = { PG_NUM(buf, hold) };
	const char *p[] = { o->obj.name };
	int ret;

	if (hold)
		return pg_exec("SELECT ipcfs.sem_release($1)", 1, v, NULL);
	ret = pg_exec("SELECT ipcfs.sem_post($1, 1)", 1, p, NULL);
	return ret == -ENOENT ? 0 : ret; /* removed: nobody to give it to */
}

/*
 * The event loop's job for a unit the database could not take back yet:
 * retried whenever the object's queue fires (every change, and the wake of
 * every object at a reconnect) until the database answers; at exit, once
 * more (a hold not given back then is mount_detach's). A removed
 * semaphore's holds went with it: nothing to give back.
 */
static int pg_sem_back_run(void *arg, bool stopping)
{
	struct pg_sem_back *b = arg;
	int ret = 0;

	if (!ipc_obj_removed(&b->o->obj))
		ret = pg_sem_give(b->o, b->hold);
	if ((ret == -EAGAIN || ret == -EIO) && !stopping)
		return -EAGAIN;
	if (ret < 0)
		ipc_log("%s: cannot give a unit back: %s", b->o->obj.name,
			strerror(-ret));
	ipc_obj_put(&b->o->obj);
	free(b);
	return 0;
}

/*
 * Give a unit back: at once if the database takes it, else by a job of the
 * loop (a release or an unread may not wait).
 */
static void pg_sem_give_back(struct pg_obj *o, long long hold)
{
	struct pg_sem_back *b = malloc(sizeof(*b));

	if (!b) {
		ipc_log("%s: lost a unit to give back: out of memory",
			o->obj.name);
		return;
	}
	ipc_obj_hold(&o->obj);
	b->o = o;
	b->hold = hold;
	if (pg_sem_back_run(b, false) == -EAGAIN &&
	    ipc_job_park(o->obj.wq, POLLIN, pg_sem_back_run, b) < 0)
		pg_sem_back_run(b, true);
}

/* No unit (or no database, on the loop): wait for the object's news. */
static int pg_sem_would_block(struct pg_obj *o, struct ipc_wait *w)
{
	w->wq = o->obj.wq;
	w->events = POLLIN;
	return -EAGAIN;
}

static int pg_sem_open_handle(const char *name, int flags, void **fh)
{
	struct pg_sem_handle *h = calloc(1, sizeof(*h));
	struct ipc_obj *o;
	int ret = 0;

	if (!h)
		return -ENOMEM;
	o = ipc_obj_get(&pg_sem_objs, name, &ret);
	if (!o) {
		free(h);
		return ret;
	}
	h->o = (struct pg_obj *)o; /* obj comes first */
	h->pid = ipc_opener_pid();
	pthread_mutex_init(&h->lock, NULL);
	*fh = h;
	return 0;
}

static void pg_sem_handle_free(struct pg_sem_handle *h)
{
	ipc_obj_put(&h->o->obj);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/*
 * A hold: a unit recorded with its holder, so that every mount can list
 * it and reclaim it if this daemon dies.
 */
static int pg_sem_hold_acquire(void *fh, struct ipc_wait *w)
{
	struct pg_sem_handle *h = fh;
	char pid[24];
	const char *v[] = { h->o->obj.name, pg_mount, PG_NUM(pid, h->pid) };
	PGresult *r;
	int err = 0;

	if (ipc_obj_removed(&h->o->obj))
		return -EIDRM;
	r = pg_query("SELECT ipcfs.sem_hold($1, $2, $3)", 3, v, NULL, &err);
	if (!r)
		return err == -EAGAIN	? pg_sem_would_block(h->o, w)
		       : err == -ENOENT ? -EIDRM
					: err;
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		h->hold = pg_int(r, 0, 0);
	PQclear(r);
	return h->hold ? 0 : pg_sem_would_block(h->o, w);
}

/*
 * However the open file goes (close, the holder's death, an open
 * interrupted after it took the unit: fs/file.c releases it then).
 */
static void pg_sem_hold_release(void *fh)
{
	struct pg_sem_handle *h = fh;

	if (h->hold)
		pg_sem_give_back(h->o, h->hold);
	pg_sem_handle_free(h);
}

/* A wait file keeps nothing: its unit is consumed ("P"). */
static void pg_sem_wait_release(void *fh)
{
	pg_sem_handle_free(fh);
}

/* The first read takes a unit, or waits; later ones are end-of-file. */
static ssize_t pg_sem_wait_read(void *fh, char *buf, size_t size, off_t off,
				struct ipc_wait *w)
{
	struct pg_sem_handle *h = fh;
	long long ret = 0;

	pthread_mutex_lock(&h->lock);
	h->fresh = false;
	if (!h->taken && ipc_obj_removed(&h->o->obj))
		ret = -EIDRM;
	else if (!h->taken)
		ret = pg_sem_call("SELECT ipcfs.sem_trywait($1)",
				  h->o->obj.name, true);
	if (ret > 0)
		h->taken = h->fresh = true;
	else if (ret == 0 && !h->taken)
		ret = -EAGAIN; /* no unit */
	pthread_mutex_unlock(&h->lock);
	if (ret == -EAGAIN)
		return pg_sem_would_block(h->o, w);
	return ret < 0 ? ret : 0;
}

/* The reader never learnt it took the unit: post it back. */
static void pg_sem_wait_unread(void *fh, const char *buf, size_t len)
{
	struct pg_sem_handle *h = fh;
	bool back;

	pthread_mutex_lock(&h->lock);
	back = h->fresh;
	h->taken = h->fresh = false;
	pthread_mutex_unlock(&h->lock);
	if (back)
		pg_sem_give_back(h->o, 0);
}

/* Readable when a read would not wait; an error is the read's to say. */
static unsigned int pg_sem_wait_poll(void *fh, struct ipc_waitq **wq)
{
	struct pg_sem_handle *h = fh;

	*wq = h->o->obj.wq;
	if (h->taken || ipc_obj_removed(&h->o->obj))
		return POLLIN;
	return pg_sem_call("SELECT ipcfs.sem_value($1)", h->o->obj.name,
			   true) != 0
		       ? POLLIN
		       : 0;
}

static int pg_sem_value_get(const char *name, size_t arg, char *buf,
			    size_t size)
{
	long long val;

	val = pg_sem_call("SELECT ipcfs.sem_value($1)", name, false);
	return val < 0 ? (int)val : snprintf(buf, size, "%lld\n", val);
}

/* One line per hold; the length needed, as snprintf (fs/ asks again). */
static int pg_sem_holders_get(const char *name, size_t arg, char *buf,
			      size_t size)
{
	const char *v[] = { name, pg_mount };
	const char *line;
	size_t len = 0;
	PGresult *r;
	int i, n, err = 0;

	r = pg_query("SELECT ipcfs.sem_holders($1, $2)", 2, v, NULL, &err);
	if (!r)
		return err;
	buf[0] = '\0';
	for (i = 0; i < PQntuples(r) && len < INT_MAX / 2; i++) {
		line = pg_bytes(r, i, 0, &n);
		len += snprintf(buf + (len < size ? len : size),
				len < size ? size - len : 0, "%.*s\n", n, line);
	}
	PQclear(r);
	return (int)len;
}

/* The database posts all N or none (EOVERFLOW past the maximum). */
static int pg_sem_post_set(const char *name, const char *buf, size_t len,
			   const struct ipc_caller *who)
{
	char nbuf[24];
	const char *v[] = { name, nbuf };
	long n;
	int ret;

	ret = ipc_parse_post(buf, len, SEM_VALUE_MAX, &n);
	if (ret < 0)
		return ret;
	PG_NUM(nbuf, n);
	return pg_exec("SELECT ipcfs.sem_post($1, $2)", 2, v, NULL);
}

static const struct ipc_stream_ops pg_sem_wait_ops = {
	.open = pg_sem_open_handle,
	.release = pg_sem_wait_release,
	.read = pg_sem_wait_read,
	.unread = pg_sem_wait_unread,
	.poll = pg_sem_wait_poll,
	.flags = IPC_READ_TAKES,
};

static const struct ipc_stream_ops pg_sem_hold_ops = {
	.open = pg_sem_open_handle,
	.acquire = pg_sem_hold_acquire,
	.release = pg_sem_hold_release,
};

static const struct ipc_file pg_sem_files[] = {
	{ .name = "value", .mode = 0444, .get = pg_sem_value_get },
	/* Each takes or gives units: sem_open() would need read and write. */
	{ .name = "post",
	  .mode = 0222,
	  .need = R_OK | W_OK,
	  .set = pg_sem_post_set },
	{ .name = "wait",
	  .mode = 0444,
	  .need = R_OK | W_OK,
	  .ops = &pg_sem_wait_ops },
	{ .name = "hold",
	  .mode = 0444,
	  .need = R_OK | W_OK,
	  .ops = &pg_sem_hold_ops },
	{ .name = "holders", .mode = 0444, .get = pg_sem_holders_get },
	{ .name = NULL },
};

static const struct ipc_option pg_sem_options[] = {
	{ "sem_value", &pg_sem_opt_value, 0, SEM_VALUE_MAX,
	  "value of semaphores made by mkdir (default 1)" },
	{ NULL },
};

/* clang-format off */
const struct ipc_kind pg_sem_kind = {
	.name = PG_SEM_KIND,
	.name_max = PG_SEM_NAME_MAX,
	.create = pg_sem_create,
	.files = pg_sem_files,
	.options = pg_sem_options,
	.prefixed = true,
	PG_KIND_OPS(pg_sem),
};
/* clang-format on */

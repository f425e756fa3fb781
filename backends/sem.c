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
 * Semaphores cannot be polled. While requests wait on one, a helper thread of
 * that semaphore's takes units with short timed waits and banks them; the
 * event loop hands each banked unit to the oldest waiter. So waiting costs
 * one thread per semaphore that has waiters, never one per waiter. A unit
 * nobody claims (its waiter was interrupted) goes back to the semaphore.
 * poll on wait is a re-check every SEM_SLICE_MS while somebody polls.
 */
#include <ctype.h>
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

#define SEM_SLICE_MS 100
/* Interrupts a helper's timed wait when its last waiter leaves. */
#define SEM_SIGNAL SIGRTMIN

struct sem_obj {
	struct sem_obj *next;
	unsigned int refs; /* under sem_lock */
	bool removed;	   /* under sem_lock */
	sem_t *sem;
	ino_t ino;		/* of /dev/shm/sem.NAME, to tell a remade one */
	pthread_mutex_t lock;	/* banked, helper */
	pthread_cond_t claimed; /* a banked unit was taken */
	unsigned int banked;	/* units the helper took for our waiters */
	bool helper;		/* the helper thread runs */
	pthread_t thread;	/* the helper, while it runs */
	struct ipc_waitq wq;	/* no descriptor: the helper wakes it */
	bool broken; /* its file was cut short under our mapping (devshm.c) */
	char name[];
};

struct sem_handle {
	struct sem_obj *s;
	bool taken; /* holds a unit (hold) / took its unit (wait) */
	bool fresh; /* wait: the last read took the unit */
};

static long sem_opt_value = 1;
static struct ipc_watch *sem_watch; /* unlinks in /dev/shm */
static pthread_mutex_t sem_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sem_helpers_done = PTHREAD_COND_INITIALIZER;
static unsigned int sem_helpers; /* running, under sem_lock */
static struct sem_obj *sem_objs; /* open ones, under sem_lock */

/* "/NAME" -> "sem.NAME", the file in /dev/shm. */
static const char *sem_file(const char *name, char *buf, size_t size)
{
	return devshm_file(name, true, buf, size);
}

static void sem_put(struct sem_obj *s);
static void sem_gone_file(const char *file);

/* Only there so SEM_SIGNAL ends sem_clockwait() with EINTR. */
static void sem_signal_handler(int sig)
{
}

static int sem_init_kind(void)
{
	struct sigaction sa = { .sa_handler = sem_signal_handler };

	sigemptyset(&sa.sa_mask);
	sigaction(SEM_SIGNAL, &sa, NULL);
	devshm_init();
	if (devshm_fd() >= 0)
		sem_watch = ipc_watch_unlinks(devshm_fd(), sem_gone_file);
	holds_replay();
	return 0;
}

/* At exit: helpers end within a slice once nobody waits. */
static void sem_fini(void)
{
	struct sem_obj *s;

	ipc_unwatch(sem_watch);
	sem_watch = NULL;
	pthread_mutex_lock(&sem_lock);
	while (sem_helpers)
		pthread_cond_wait(&sem_helpers_done, &sem_lock);
	while ((s = sem_objs)) {
		sem_objs = s->next;
		pthread_mutex_unlock(&sem_lock);
		sem_put(s); /* the table's reference */
		pthread_mutex_lock(&sem_lock);
	}
	pthread_mutex_unlock(&sem_lock);
	devshm_fini();
	holds_fini();
}

static int sem_list(int (*fill)(void *ctx, const char *name), void *ctx)
{
	return devshm_list(true, fill, ctx);
}

static int sem_create(const char *name, mode_t mode,
		      const struct ipc_caller *caller)
{
	char file[DEVSHM_FILE_MAX];
	sem_t *sem;
	int ret;

	/*
	 * Made by the daemon and given to the caller: sem_open() takes a
	 * lock of glibc's, which the child of ipc_as_caller() may not.
	 * /dev/shm charges nobody, so who makes it matters less than for a
	 * queue.
	 */
	sem = sem_open(name, O_CREAT | O_EXCL, mode,
		       (unsigned int)sem_opt_value);
	if (sem == SEM_FAILED)
		return -errno;
	ret = devshm_chown(sem_file(name, file, sizeof(file)), caller->uid,
			   caller->gid);
	if (ret < 0)
		sem_unlink(name);
	sem_close(sem);
	return ret;
}

/*
 * Under sem_lock: NAME is gone; waiters of s get EIDRM. The caller takes
 * over the table's reference: it wakes s's waiters, then puts it.
 */
static void sem_retire(struct sem_obj *s)
{
	struct sem_obj **pp;

	for (pp = &sem_objs; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	s->removed = true;
}

static ino_t sem_ino(const char *name);

/*
 * NAME was unlinked, by rmdir or by anybody: if we have the semaphore that
 * was called so open, its waiters get EIDRM.
 */
static void sem_gone(const char *name)
{
	struct sem_obj *s;

	pthread_mutex_lock(&sem_lock);
	for (s = sem_objs; s; s = s->next)
		if (strcmp(s->name, name) == 0)
			break;
	if (s && (s->broken || s->ino != sem_ino(name)))
		sem_retire(s);
	else
		s = NULL;
	pthread_mutex_unlock(&sem_lock);
	if (s) {
		ipc_wake_all(&s->wq);
		sem_put(s);
	}
}

/* The fs layer's watch of /dev/shm: "/sem.NAME" went, so did "/NAME". */
static void sem_gone_file(const char *file)
{
	char name[DEVSHM_FILE_MAX + 1];

	if (!devshm_is_sem(file + 1))
		return;
	snprintf(name, sizeof(name), "/%s", file + 1 + strlen(DEVSHM_SEM));
	sem_gone(name);
}

static int sem_remove(const char *name)
{
	if (sem_unlink(name) < 0)
		return -errno;
	sem_gone(name);
	return 0;
}

/* Through devshm.c: a link planted at sem.NAME is no semaphore. */
static int sem_stat(const char *name, struct stat *st)
{
	char file[DEVSHM_FILE_MAX];

	return devshm_stat(sem_file(name, file, sizeof(file)), st);
}

static int sem_chmod(const char *name, mode_t mode)
{
	char file[DEVSHM_FILE_MAX];

	return devshm_chmod(sem_file(name, file, sizeof(file)), mode);
}

static int sem_chown(const char *name, uid_t uid, gid_t gid)
{
	char file[DEVSHM_FILE_MAX];

	return devshm_chown(sem_file(name, file, sizeof(file)), uid, gid);
}

static ino_t sem_ino(const char *name)
{
	struct stat st;

	return sem_stat(name, &st) == 0 ? st.st_ino : 0;
}

/*
 * The semaphore's own operations, each under a guard: whoever may write
 * /dev/shm/sem.NAME may cut it short under our mapping (devshm.c). s is
 * then broken for good: -EIO, and the next sem_get() opens NAME anew.
 */
static int sem_guard_end(struct sem_obj *s, struct devshm_guard *g, int ret)
{
	if (devshm_guard_end(g) == 0)
		return ret;
	if (!s->broken)
		ipc_log("%s: its file in /dev/shm was cut short under us: no semaphore now",
			s->name);
	s->broken = true;
	return -EIO;
}

static int sem_do_post(struct sem_obj *s)
{
	struct devshm_guard g;
	int ret;

	devshm_guard_begin(&g, s->sem, sizeof(sem_t));
	ret = sem_post(s->sem) < 0 ? -errno : 0;
	return sem_guard_end(s, &g, ret);
}

static int sem_do_trywait(struct sem_obj *s)
{
	struct devshm_guard g;
	int ret;

	devshm_guard_begin(&g, s->sem, sizeof(sem_t));
	ret = sem_trywait(s->sem) < 0 ? -errno : 0;
	return sem_guard_end(s, &g, ret);
}

static int sem_do_clockwait(struct sem_obj *s, const struct timespec *ts)
{
	struct devshm_guard g;
	int ret;

	devshm_guard_begin(&g, s->sem, sizeof(sem_t));
	ret = sem_clockwait(s->sem, CLOCK_MONOTONIC, ts) < 0 ? -errno : 0;
	return sem_guard_end(s, &g, ret);
}

/* The value, or -errno. */
static int sem_do_getvalue(struct sem_obj *s)
{
	struct devshm_guard g;
	int ret, val;

	devshm_guard_begin(&g, s->sem, sizeof(sem_t));
	ret = sem_getvalue(s->sem, &val) < 0 ? -errno : val;
	return sem_guard_end(s, &g, ret);
}

/*
 * The last waiter left unserved (interrupted): stop the helper's timed wait
 * now, or it would take, and bank for nobody, a unit posted meanwhile.
 */
static void sem_idle(struct ipc_waitq *wq)
{
	struct sem_obj *s =
		(struct sem_obj *)((char *)wq - offsetof(struct sem_obj, wq));

	pthread_mutex_lock(&s->lock);
	if (s->helper)
		pthread_kill(s->thread, SEM_SIGNAL);
	pthread_mutex_unlock(&s->lock);
}

/* The daemon's mapping of semaphore NAME, counted. */
static struct sem_obj *sem_get(const char *name, int *err)
{
	size_t len = strlen(name);
	struct sem_obj *s;
	struct stat st;

	sem_gone(name); /* a semaphore of that name we hold may be stale */
	pthread_mutex_lock(&sem_lock);
	for (s = sem_objs; s; s = s->next)
		if (strcmp(s->name, name) == 0)
			break;
	if (s) {
		s->refs++;
		goto out_unlock;
	}
	/* Units are taken only through an object: journal them from now. */
	holds_ready();
	s = calloc(1, sizeof(*s) + len + 1);
	if (!s) {
		*err = -ENOMEM;
		goto out_unlock;
	}
	s->sem = sem_open(name, 0);
	if (s->sem == SEM_FAILED) {
		*err = -errno;
		goto out_free;
	}
	/* A file too short to hold a sem_t is none (and would fault). */
	*err = sem_stat(name, &st);
	if (*err == 0 && st.st_size < (off_t)sizeof(sem_t))
		*err = -EINVAL;
	if (*err < 0) {
		sem_close(s->sem);
		goto out_free;
	}
	/*
	 * The table keeps a reference, so the semaphore stays mapped between
	 * posts: sem_open() and munmap() per write would cost more than the
	 * FUSE round trip. Removal (rmdir, or the watch) drops it.
	 */
	s->refs = 2;
	s->ino = st.st_ino;
	memcpy(s->name, name, len + 1);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->claimed, NULL);
	ipc_waitq_init(&s->wq, -1);
	s->wq.idle = sem_idle;
	s->next = sem_objs;
	sem_objs = s;
	goto out_unlock;
out_free:
	free(s);
	s = NULL;
out_unlock:
	pthread_mutex_unlock(&sem_lock);
	return s;
}

/* The last reference is never the table's: s is out of sem_objs by then. */
static void sem_put(struct sem_obj *s)
{
	unsigned int refs;

	pthread_mutex_lock(&sem_lock);
	refs = --s->refs;
	pthread_mutex_unlock(&sem_lock);
	if (refs)
		return;
	ipc_waitq_destroy(&s->wq);
	sem_close(s->sem);
	pthread_cond_destroy(&s->claimed);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static bool sem_removed(struct sem_obj *s)
{
	bool removed;

	pthread_mutex_lock(&sem_lock);
	removed = s->removed;
	pthread_mutex_unlock(&sem_lock);
	return removed;
}

static void sem_deadline(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_nsec += ms * 1000000L;
	ts->tv_sec += ts->tv_nsec / 1000000000L;
	ts->tv_nsec %= 1000000000L;
}

/*
 * The helper: while requests wait on s, take units for them (timed waits,
 * so it notices when they are gone) and bank them. While only pollers are
 * left, look at the value every slice instead, taking nothing.
 */
static void *sem_helper(void *arg)
{
	struct sem_obj *s = arg;
	struct timespec ts;
	unsigned int active;
	bool idle = false;
	sigset_t set;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, SEM_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	pthread_mutex_lock(&s->lock);
	for (;;) {
		active = sem_removed(s) ? 0 : ipc_waitq_active(&s->wq);
		sem_deadline(&ts, SEM_SLICE_MS);
		if (!active) {
			/*
			 * Nobody to claim what we banked: give it back now.
			 * Then they are gone, or between their attempt and
			 * their park (or a retry): look once more a slice
			 * later.
			 */
			for (; s->banked; s->banked--) {
				holds_note(s->name, s->ino, -1);
				sem_do_post(s);
			}
			if (idle)
				break;
			idle = true;
			pthread_cond_clockwait(&s->claimed, &s->lock,
					       CLOCK_MONOTONIC, &ts);
			continue;
		}
		idle = false;
		if (!(active & IPC_WQ_PARKED) || s->banked) {
			/* Pollers only, or a unit awaits its taker. */
			if (!s->banked && sem_do_getvalue(s) > 0)
				ipc_wake(&s->wq, POLLIN);
			pthread_cond_clockwait(&s->claimed, &s->lock,
					       CLOCK_MONOTONIC, &ts);
			continue;
		}
		pthread_mutex_unlock(&s->lock);
		ret = sem_do_clockwait(s, &ts);
		/* Ours now: back to the semaphore if we die. At once. */
		if (ret == 0)
			holds_note(s->name, s->ino, +1);
		pthread_mutex_lock(&s->lock);
		if (ret == 0) {
			s->banked++;
			ipc_wake(&s->wq, POLLIN);
		} else if (ret == -EIO) {
			/* They get EIO; the banked units went with the file. */
			for (; s->banked; s->banked--)
				holds_note(s->name, s->ino, -1);
			ipc_wake_all(&s->wq);
			break;
		}
	}
	s->helper = false;
	pthread_mutex_unlock(&s->lock);
	sem_put(s);
	pthread_mutex_lock(&sem_lock);
	if (--sem_helpers == 0)
		pthread_cond_broadcast(&sem_helpers_done);
	pthread_mutex_unlock(&sem_lock);
	return NULL;
}

/* Under s->lock: make sure a helper serves s's waiters; or -errno. */
static int sem_start_helper(struct sem_obj *s)
{
	pthread_attr_t attr;
	sigset_t old;
	int ret;

	if (s->helper)
		return 0;
	pthread_mutex_lock(&sem_lock);
	s->refs++;
	sem_helpers++;
	pthread_mutex_unlock(&sem_lock);
	s->helper = true;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	/* Signals are for the FUSE workers. */
	ipc_block_signals(&old);
	ret = pthread_create(&s->thread, &attr, sem_helper, s);
	if (ret != 0) {
		ipc_log("%s: cannot start a waiter thread: %s", s->name,
			strerror(ret));
		s->helper = false;
		pthread_mutex_lock(&sem_lock);
		s->refs--;
		sem_helpers--;
		pthread_mutex_unlock(&sem_lock);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return -ret;
}

/*
 * Take one unit now: a banked one, or straight from the semaphore. Every
 * unit the daemon keeps is in the journal (holds.c), so that it goes back
 * to the semaphore if the daemon dies: a banked one already is. A hold
 * (keep) keeps it there until its release; a wait consumes it.
 */
static int sem_take(struct sem_obj *s, struct ipc_wait *w, bool keep)
{
	int ret = 0;

	if (sem_removed(s))
		return -EIDRM;
	pthread_mutex_lock(&s->lock);
	if (s->banked) {
		s->banked--;
		pthread_cond_signal(&s->claimed);
		if (!keep)
			holds_note(s->name, s->ino, -1);
	} else if (s->broken) {
		ret = -EIO;
	} else if ((ret = sem_do_trywait(s)) == 0) {
		if (keep)
			holds_note(s->name, s->ino, +1);
	} else {
		/* Nobody would wake a waiter without a helper: say so. */
		if (ret == -EAGAIN && sem_start_helper(s) == 0) {
			w->wq = &s->wq;
			w->events = POLLIN;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static int sem_open_handle(const char *name, int flags, void **fh)
{
	struct sem_handle *h = calloc(1, sizeof(*h));
	int ret = 0;

	if (!h)
		return -ENOMEM;
	h->s = sem_get(name, &ret);
	if (!h->s) {
		free(h);
		return ret;
	}
	*fh = h;
	return 0;
}

/* A hold gives its unit back when the open file goes, however it goes. */
static void sem_release(void *fh)
{
	struct sem_handle *h = fh;
	int ret;

	if (h->taken)
		holds_note(h->s->name, h->s->ino, -1);
	if (h->taken && (ret = sem_do_post(h->s)) < 0)
		ipc_log("%s: cannot give a held unit back: %s", h->s->name,
			strerror(-ret));
	sem_put(h->s);
	free(h);
}

static int sem_hold_acquire(void *fh, struct ipc_wait *w)
{
	struct sem_handle *h = fh;
	int ret = sem_take(h->s, w, true);

	h->taken = ret == 0;
	return ret;
}

/* A wait file keeps nothing: its unit is consumed ("P"). */
static void sem_wait_release(void *fh)
{
	struct sem_handle *h = fh;

	h->taken = false;
	sem_release(h);
}

static ssize_t sem_wait_read(void *fh, char *buf, size_t size, off_t off,
			     struct ipc_wait *w)
{
	struct sem_handle *h = fh;
	int ret;

	h->fresh = false;
	if (h->taken)
		return 0;
	ret = sem_take(h->s, w, false);
	if (ret < 0)
		return ret;
	h->taken = h->fresh = true;
	return 0;
}

/* The reader never learnt it took the unit: post it back. */
static void sem_wait_unread(void *fh, const char *buf, size_t len)
{
	struct sem_handle *h = fh;

	if (h->fresh) {
		sem_do_post(h->s);
		h->taken = h->fresh = false;
	}
}

static unsigned int sem_wait_poll(void *fh, struct ipc_waitq **wq)
{
	struct sem_handle *h = fh;
	struct sem_obj *s = h->s;
	unsigned int ev = 0;

	*wq = &s->wq;
	pthread_mutex_lock(&s->lock);
	if (h->taken || s->banked || sem_removed(s) || s->broken ||
	    sem_do_getvalue(s) > 0)
		ev = POLLIN;
	else
		sem_start_helper(s); /* it re-checks for the pollers */
	pthread_mutex_unlock(&s->lock);
	return ev;
}

static int sem_value_get(const char *name, size_t arg, char *buf, size_t size)
{
	struct sem_obj *s;
	int ret = 0;

	s = sem_get(name, &ret);
	if (!s)
		return ret;
	ret = sem_do_getvalue(s);
	sem_put(s);
	return ret < 0 ? ret : snprintf(buf, size, "%d\n", ret);
}

/* Is the write's buffer digits only, with an optional newline? */
static bool sem_digits(const char *buf, size_t len)
{
	if (len && buf[len - 1] == '\n')
		len--;
	if (!len)
		return false;
	while (len--)
		if (!isdigit((unsigned char)buf[len]))
			return false;
	return true;
}

/*
 * One write posts: once for an empty line, N times for a decimal N. A value
 * past SEM_VALUE_MAX is EOVERFLOW and posts nothing.
 */
static int sem_post_set(const char *name, const char *buf, size_t len)
{
	struct sem_obj *s;
	long n = 1;
	int ret = 0, val;

	if (len > 1 || (len == 1 && buf[0] != '\n'))
		ret = ipc_parse_long(buf, len, &n);
	/* Too many digits for a long is a number still: past the maximum. */
	if (ret < 0 && sem_digits(buf, len))
		return -EOVERFLOW;
	if (ret == 0 && n > SEM_VALUE_MAX)
		return -EOVERFLOW;
	if (ret < 0 || n < 0)
		return -EINVAL;
	s = sem_get(name, &ret);
	if (!s)
		return ret;
	val = sem_do_getvalue(s);
	if (val < 0)
		ret = val;
	else if (n > SEM_VALUE_MAX - val)
		ret = -EOVERFLOW;
	for (; ret == 0 && n > 0; n--)
		ret = sem_do_post(s);
	sem_put(s);
	return ret;
}

static const struct ipc_stream_ops sem_wait_ops = {
	.open = sem_open_handle,
	.release = sem_wait_release,
	.read = sem_wait_read,
	.unread = sem_wait_unread,
	.poll = sem_wait_poll,
};

static const struct ipc_stream_ops sem_hold_ops = {
	.open = sem_open_handle,
	.acquire = sem_hold_acquire,
	.release = sem_release,
};

static const struct ipc_file sem_files[] = {
	{ .name = "value", .mode = 0444, .get = sem_value_get },
	/* Each takes or gives units: sem_open() would need read and write. */
	{ .name = "post",
	  .mode = 0222,
	  .need = R_OK | W_OK,
	  .set = sem_post_set },
	{ .name = "wait",
	  .mode = 0444,
	  .need = R_OK | W_OK,
	  .ops = &sem_wait_ops },
	{ .name = "hold",
	  .mode = 0444,
	  .need = R_OK | W_OK,
	  .ops = &sem_hold_ops },
	{ .name = NULL },
};

static const struct ipc_option sem_options[] = {
	{ "sem_value", &sem_opt_value, 0, SEM_VALUE_MAX,
	  "value of semaphores made by mkdir (default 1)" },
	{ NULL },
};

const struct ipc_kind sem_kind = {
	.name = "sem",
	.name_max = NAME_MAX - (sizeof(DEVSHM_SEM) - 1),
	.init = sem_init_kind,
	.fini = sem_fini,
	.list = sem_list,
	.create = sem_create,
	.remove = sem_remove,
	.stat = sem_stat,
	.chmod = sem_chmod,
	.chown = sem_chown,
	.files = sem_files,
	.options = sem_options,
	.prefixed = true,
};

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * helper.c - the wait source of objects without a descriptor (ipc.h).
 *
 * A semaphore cannot be polled. While requests wait on one, a helper thread
 * of that object's makes the blocking call for them and banks what it
 * brings; the event loop retries the oldest waiter, which claims it. When
 * the last waiter leaves, the thread's blocking call is interrupted by
 * HELPER_SIGNAL, so it takes nothing for nobody, and what it banked goes
 * back. This file owns that signal: its handler is installed once, and only
 * helper threads leave it unblocked.
 *
 * Periods that remain, where no event exists: pollers alone have nothing to
 * wait on without taking (peek every IPC_HELPER_PERIOD_MS); a thread whose
 * waiters left lingers one period before it ends (a waiter may be between
 * its attempt and its park); and a signal that lands just before the
 * blocking call is caught by the call's deadline, HELPER_DEADLINE_MS.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

#define HELPER_SIGNAL SIGRTMIN
#define HELPER_DEADLINE_MS 1000

struct ipc_helper {
	struct ipc_obj *obj;
	struct ipc_waitq *wq; /* whose waiters it serves: obj's, or another */
	const struct ipc_helper_ops *ops;
	void *arg;
	pthread_mutex_t lock; /* everything below */
	pthread_cond_t cond;  /* banked went down, or the waiters left */
	unsigned int banked;  /* items got for waiters, not claimed yet */
	bool running;	      /* the thread exists */
	bool blocking;	      /* it is in ops->block */
	pthread_t thread;
	timer_t timer; /* IPC_HELPER_UNTIMED: the thread's deadline */
	bool timed;    /* the thread has it (else it only peeks) */
};

static pthread_once_t helper_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t helper_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t helper_done = PTHREAD_COND_INITIALIZER;
static unsigned int helper_threads; /* running, under helper_lock */

/* Only there so HELPER_SIGNAL ends a blocking call with EINTR. */
static void helper_signal_handler(int sig)
{
}

static void helper_install(void)
{
	struct sigaction sa = { .sa_handler = helper_signal_handler };

	sigemptyset(&sa.sa_mask);
	sigaction(HELPER_SIGNAL, &sa, NULL);
}

static void helper_deadline(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_nsec += ms * 1000000L;
	ts->tv_sec += ts->tv_nsec / 1000000000L;
	ts->tv_nsec %= 1000000000L;
}

/* The last waiter left: stop the blocking call, give back the bank. */
static void helper_idle(void *arg)
{
	struct ipc_helper *h = arg;

	pthread_mutex_lock(&h->lock);
	if (h->blocking)
		pthread_kill(h->thread, HELPER_SIGNAL);
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

struct ipc_helper *ipc_helper_new(struct ipc_obj *obj, struct ipc_waitq *wq,
				  const struct ipc_helper_ops *ops, void *arg)
{
	struct ipc_helper *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	pthread_once(&helper_once, helper_install);
	h->obj = obj;
	h->wq = wq;
	h->ops = ops;
	h->arg = arg;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	fs_waitq_on_idle(h->wq, helper_idle, h);
	return h;
}

/* The thread holds a reference to the object: it has ended by now. */
void ipc_helper_free(struct ipc_helper *h)
{
	if (!h)
		return;
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/* Under h->lock: give back what nobody will claim. */
static void helper_give_back(struct ipc_helper *h)
{
	for (; h->banked; h->banked--)
		h->ops->give_back(h->arg);
}

/* Under h->lock: wait for a claim or a change, at most one period. */
static void helper_pause(struct ipc_helper *h)
{
	struct timespec ts;

	helper_deadline(&ts, IPC_HELPER_PERIOD_MS);
	pthread_cond_clockwait(&h->cond, &h->lock, CLOCK_MONOTONIC, &ts);
}

/*
 * A call without a deadline of its own (msgrcv) gets the thread's timer,
 * which sends HELPER_SIGNAL to this thread at the deadline: a signal of
 * helper_idle() that lands just before the call is then late, never lost.
 */
static void helper_timer_new(struct ipc_helper *h)
{
	static bool told;
	struct sigevent sev = {
		.sigev_notify = SIGEV_THREAD_ID,
		.sigev_signo = HELPER_SIGNAL,
	};

	h->timed = !(h->ops->flags & IPC_HELPER_UNTIMED);
	if (h->timed)
		return;
	/* glibc before 2.36 names the field only through its union. */
	sev._sigev_un._tid = gettid();
	h->timed = timer_create(CLOCK_MONOTONIC, &sev, &h->timer) == 0;
	/* Without one its waiters are served by peeks, a period apart. */
	if (!h->timed && !told)
		ipc_log("%s: no timer for a waiter thread (%s): its waiters are looked after every %d ms",
			h->obj->name, strerror(errno), IPC_HELPER_PERIOD_MS);
	told = told || !h->timed;
}

/*
 * From the deadline on, every period until disarmed: the call may begin
 * after the first signal (the thread was slow to get there), and must
 * still end.
 */
static void helper_timer_set(struct ipc_helper *h, const struct timespec *ts)
{
	struct itimerspec its = {
		.it_value = *ts,
		.it_interval.tv_nsec = IPC_HELPER_PERIOD_MS * 1000000L,
	};

	if (h->ops->flags & IPC_HELPER_UNTIMED) {
		if (!ts->tv_sec && !ts->tv_nsec)
			its.it_interval.tv_nsec = 0; /* disarmed */
		timer_settime(h->timer, TIMER_ABSTIME, &its, NULL);
	}
}

/* Block once for an item, h->lock dropped meanwhile: false to end. */
static bool helper_block(struct ipc_helper *h)
{
	static const struct timespec off;
	struct timespec ts;
	int ret;

	helper_deadline(&ts, HELPER_DEADLINE_MS);
	h->blocking = true;
	pthread_mutex_unlock(&h->lock);
	helper_timer_set(h, &ts);
	ret = h->ops->block(h->arg, &ts);
	helper_timer_set(h, &off);
	pthread_mutex_lock(&h->lock);
	h->blocking = false;
	if (ret > 0) {
		h->banked++;
		ipc_wake(h->wq, POLLIN);
	} else if (ret < 0) {
		helper_give_back(h);
		ipc_wake_all(h->wq); /* they see the error themselves */
		return false;
	}
	return true;
}

/* Wake whoever could go on now (pollers, or waiters with no call to make). */
static void helper_peek(struct ipc_helper *h)
{
	unsigned int events = h->banked ? 0 : h->ops->peek(h->arg);

	if (events && (h->ops->flags & IPC_HELPER_UNALIKE))
		ipc_wake_every(h->wq, events);
	else if (events)
		ipc_wake(h->wq, events);
}

static void *helper_main(void *arg)
{
	struct ipc_helper *h = arg;
	unsigned int active;
	bool quiet = false;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, HELPER_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	pthread_mutex_lock(&h->lock);
	helper_timer_new(h);
	for (;;) {
		if (ipc_obj_removed(h->obj)) {
			/* Removal woke obj's waiters, but maybe not wq's. */
			ipc_wake_all(h->wq);
			active = 0;
		} else {
			active = fs_waitq_active(h->wq);
		}
		if (!active) {
			helper_give_back(h);
			if (quiet)
				break;
			quiet = true;
			helper_pause(h);
			continue;
		}
		quiet = false;
		if (!(active & FS_WQ_PARKED) || h->banked || !h->ops->block ||
		    !h->timed) {
			/* Pollers only, an item awaits its taker, or no call. */
			helper_peek(h);
			helper_pause(h);
			continue;
		}
		if (!helper_block(h))
			break;
	}
	if ((h->ops->flags & IPC_HELPER_UNTIMED) && h->timed)
		timer_delete(h->timer);
	h->running = false;
	pthread_mutex_unlock(&h->lock);
	ipc_obj_put(h->obj);
	pthread_mutex_lock(&helper_lock);
	if (--helper_threads == 0)
		pthread_cond_broadcast(&helper_done);
	pthread_mutex_unlock(&helper_lock);
	return NULL;
}

int ipc_helper_start(struct ipc_helper *h)
{
	pthread_attr_t attr;
	sigset_t old;
	int ret = 0;

	pthread_mutex_lock(&h->lock);
	if (h->running) {
		pthread_cond_signal(
			&h->cond); /* out of a pause: a new waiter */
		goto out_unlock;
	}
	ipc_obj_hold(h->obj);
	h->running = true;
	pthread_mutex_lock(&helper_lock);
	helper_threads++;
	pthread_mutex_unlock(&helper_lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	/* Signals are for the FUSE workers. */
	ipc_block_signals(&old);
	ret = pthread_create(&h->thread, &attr, helper_main, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (ret != 0) {
		ipc_log("%s: cannot start a waiter thread: %s", h->obj->name,
			strerror(ret));
		h->running = false;
		pthread_mutex_lock(&helper_lock);
		helper_threads--;
		pthread_mutex_unlock(&helper_lock);
	}
out_unlock:
	pthread_mutex_unlock(&h->lock);
	if (ret != 0)
		ipc_obj_put(h->obj);
	return -ret;
}

bool ipc_helper_claim(struct ipc_helper *h)
{
	bool claimed = false;

	pthread_mutex_lock(&h->lock);
	if (h->banked) {
		h->banked--;
		claimed = true;
		pthread_cond_signal(&h->cond);
	}
	pthread_mutex_unlock(&h->lock);
	return claimed;
}

unsigned int ipc_helper_banked(struct ipc_helper *h)
{
	unsigned int banked;

	pthread_mutex_lock(&h->lock);
	banked = h->banked;
	pthread_mutex_unlock(&h->lock);
	return banked;
}

/*
 * At exit, once nobody waits: every helper gives back what it banked and
 * ends within a period or two.
 */
void fs_helpers_drain(void)
{
	pthread_mutex_lock(&helper_lock);
	while (helper_threads)
		pthread_cond_wait(&helper_done, &helper_lock);
	pthread_mutex_unlock(&helper_lock);
}

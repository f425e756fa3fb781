// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * park.c - requests that must wait, and the one thread that serves them.
 *
 * A FUSE worker tries an operation once. When the kind answers "would
 * block", the request is parked on the kind's wait queue and the worker goes
 * back to the kernel: waiting costs a struct, never a thread. One event loop
 * thread epolls the wait queues that have a descriptor (an mq descriptor is
 * pollable) and an eventfd that ipc_wake() kicks; when a queue fires it
 * retries its parked requests in arrival order.
 *
 * States: a request is RUNNING while exactly one thread (a worker, or the
 * loop during a retry) owns it, PARKED while it sits in a wait queue, DONE
 * once somebody claimed it for the final reply. The interrupt callback
 * answers a PARKED request with EINTR at once and only flags a RUNNING one;
 * its owner sees the flag. All transitions happen under park_lock.
 *
 * Lock order: req->lock (libfuse's, held around interrupt callbacks) and the
 * kinds' locks come before park_lock; park_lock is never held while calling
 * into a kind or libfuse's interrupt API.
 *
 * Freeing a wait queue: the loop may hold a pointer to it from epoll_wait
 * or the pending list. ipc_waitq_destroy() unhooks it and, if the loop ever
 * saw it, waits for the loop to finish its current round (park_round).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fs.h"

enum { PARK_RUNNING, PARK_PARKED, PARK_DONE };

#define PARK_EVENTS 64

struct park_deferred {
	struct park_deferred *next;
	void (*fn)(void *);
	void *arg;
};

static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cond = PTHREAD_COND_INITIALIZER;
static int park_epfd = -1;
static int park_kickfd = -1;
static pthread_t park_thread;
static bool park_running; /* the loop thread exists */
static bool park_stopping;
static unsigned long park_round;	    /* rounds the loop finished */
static struct ipc_waitq *park_pending;	    /* woken, awaiting a retry */
static struct fs_park *park_all;	    /* every parked request */
static struct park_deferred *park_deferred; /* loop thread only */
static struct ipc_waitq *park_watches; /* fs_park_watch()ed, armed at start */
static struct epoll_event *park_batch; /* loop thread: this round's events */
static int park_batch_len;
static char park_dead; /* a batch entry whose queue is gone */

static int park_dir(unsigned int events)
{
	return (events & POLLOUT) ? 1 : 0;
}

static void park_kick(void)
{
	uint64_t one = 1;

	if (park_kickfd >= 0 && write(park_kickfd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		ipc_log("cannot wake the event loop: %s", strerror(errno));
}

/* Register with epoll what the queue's waiters and pollers await. */
static void park_arm(struct ipc_waitq *wq) /* under park_lock */
{
	struct epoll_event ev = { .data.ptr = wq };
	struct fs_pollh *h;
	unsigned int want = 0;
	int op;

	if (wq->fd < 0 || park_epfd < 0)
		return;
	if (wq->parked[0] || wq->watch)
		want |= EPOLLIN;
	if (wq->parked[1])
		want |= EPOLLOUT;
	for (h = wq->pollers; h; h = h->next)
		want |= h->events & (EPOLLIN | EPOLLOUT);
	if (want == wq->armed)
		return;
	op = !wq->armed ? EPOLL_CTL_ADD : want ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
	ev.events = want;
	if (epoll_ctl(park_epfd, op, wq->fd, &ev) < 0)
		ipc_log("epoll_ctl on fd %d: %s", wq->fd, strerror(errno));
	wq->armed = want;
	wq->seen = true; /* the loop may now hold a pointer to it */
}

static void park_mark_pending(struct ipc_waitq *wq, unsigned int events,
			      bool all) /* under park_lock */
{
	/* Queued exactly when pending or pending_all is set. */
	if (!events && !all)
		return;
	if (!wq->pending && !wq->pending_all) {
		wq->next_pending = park_pending;
		park_pending = wq;
	}
	wq->pending |= events;
	wq->pending_all |= all;
	wq->seen = true;
	park_kick();
}

void ipc_waitq_init(struct ipc_waitq *wq, int fd)
{
	memset(wq, 0, sizeof(*wq));
	wq->fd = fd;
	wq->tail[0] = &wq->parked[0];
	wq->tail[1] = &wq->parked[1];
}

void ipc_waitq_destroy(struct ipc_waitq *wq)
{
	struct ipc_waitq **pp;
	unsigned long round;
	int i;

	pthread_mutex_lock(&park_lock);
	for (pp = &park_pending; *pp; pp = &(*pp)->next_pending) {
		if (*pp == wq) {
			*pp = wq->next_pending;
			break;
		}
	}
	for (pp = &park_watches; wq->watch && *pp; pp = &(*pp)->next_watch) {
		if (*pp == wq) {
			*pp = wq->next_watch;
			break;
		}
	}
	if (wq->armed && park_epfd >= 0 &&
	    epoll_ctl(park_epfd, EPOLL_CTL_DEL, wq->fd, NULL) < 0)
		ipc_log("epoll_ctl del fd %d: %s", wq->fd, strerror(errno));
	wq->armed = 0;
	if (wq->seen && park_running && !fs_park_in_loop()) {
		round = park_round;
		park_kick();
		while (park_round == round && park_running)
			pthread_cond_wait(&park_cond, &park_lock);
	} else if (fs_park_in_loop()) {
		/* The rest of this round must not touch it. */
		for (i = 0; i < park_batch_len; i++)
			if (park_batch[i].data.ptr == wq)
				park_batch[i].data.ptr = &park_dead;
	}
	pthread_mutex_unlock(&park_lock);
}

/* Call fn from the loop whenever wq's descriptor is readable. */
void fs_park_watch(struct ipc_waitq *wq, void (*fn)(struct ipc_waitq *wq))
{
	pthread_mutex_lock(&park_lock);
	wq->watch = fn;
	wq->next_watch = park_watches;
	park_watches = wq;
	park_arm(wq);
	pthread_mutex_unlock(&park_lock);
}

/*
 * Nobody parked or polling: nothing to do, and no need to wake the loop. A
 * request that parks later looks again once parked, and so does a poller
 * (fs_poll), so no wake-up is lost. Requests the loop is retrying right now
 * are not in the queue but still wait: a wake meanwhile is kept for them.
 */
void ipc_wake(struct ipc_waitq *wq, unsigned int events)
{
	pthread_mutex_lock(&park_lock);
	if (((events & POLLIN) && wq->parked[0]) ||
	    ((events & POLLOUT) && wq->parked[1]) || (events & wq->retrying) ||
	    wq->pollers)
		park_mark_pending(wq, events & (POLLIN | POLLOUT), false);
	pthread_mutex_unlock(&park_lock);
}

void ipc_wake_all(struct ipc_waitq *wq)
{
	pthread_mutex_lock(&park_lock);
	park_mark_pending(wq, POLLIN | POLLOUT, true);
	pthread_mutex_unlock(&park_lock);
}

unsigned int ipc_waitq_active(struct ipc_waitq *wq)
{
	unsigned int active = 0;

	pthread_mutex_lock(&park_lock);
	if (wq->parked[0] || wq->parked[1] || wq->retrying)
		active |= IPC_WQ_PARKED;
	if (wq->pollers)
		active |= IPC_WQ_POLLED;
	pthread_mutex_unlock(&park_lock);
	return active;
}

static void park_unlink(struct fs_park *p) /* under park_lock */
{
	struct ipc_waitq *wq = p->wait.wq;
	int dir = park_dir(p->wait.events);

	*p->pprev = p->next;
	if (p->next)
		p->next->pprev = p->pprev;
	else
		wq->tail[dir] = p->pprev;
	*p->all_pprev = p->all_next;
	if (p->all_next)
		p->all_next->all_pprev = p->all_pprev;
}

static void park_link(struct fs_park *p) /* under park_lock */
{
	struct ipc_waitq *wq = p->wait.wq;
	int dir = park_dir(p->wait.events);

	p->next = NULL;
	p->pprev = wq->tail[dir];
	*wq->tail[dir] = p;
	wq->tail[dir] = &p->next;
	p->all_next = park_all;
	p->all_pprev = &park_all;
	if (park_all)
		park_all->all_pprev = &p->all_next;
	park_all = p;
	p->state = PARK_PARKED;
}

static bool park_empty(const struct ipc_waitq *wq) /* under park_lock */
{
	return !wq->parked[0] && !wq->parked[1];
}

/*
 * Tell the kind its queue has nobody left (a semaphore's helper stops
 * taking units), before the cancelled request's EINTR goes out.
 */
static void park_idle(struct ipc_waitq *wq, bool idle)
{
	if (idle && wq->idle)
		wq->idle(wq);
}

static void park_interrupt(fuse_req_t req, void *data)
{
	struct fs_park *p = data;
	bool claimed = false, idle = false;

	pthread_mutex_lock(&park_lock);
	if (p->state == PARK_PARKED) {
		park_unlink(p);
		park_arm(p->wait.wq);
		p->state = PARK_DONE;
		claimed = true;
		idle = park_empty(p->wait.wq);
	} else if (p->state == PARK_RUNNING) {
		p->interrupted = true;
	}
	pthread_mutex_unlock(&park_lock);
	if (claimed) {
		park_idle(p->wait.wq, idle);
		p->cancel(p);
	}
}

/*
 * Before the final reply to a request that may have an interrupt callback
 * registered: make sure none runs now or later (libfuse calls it holding
 * req->lock, which fuse_req_interrupt_func takes), and say whether the
 * request was interrupted.
 */
bool fs_park_settle(struct fs_park *p)
{
	if (p->registered) {
		fuse_req_interrupt_func(p->req, NULL, NULL);
		p->registered = false;
	}
	return p->interrupted || fuse_req_interrupted(p->req);
}

/* Park p on the queue its attempt named; p is RUNNING and ours. */
static void park_enqueue(struct fs_park *p)
{
	struct ipc_waitq *wq = p->wait.wq;
	bool cancel;

	pthread_mutex_lock(&park_lock);
	cancel = p->interrupted || park_stopping;
	if (!cancel) {
		park_link(p);
		park_arm(wq);
		/*
		 * The queue may have been woken between the attempt and now
		 * (ipc_wake() skips queues nobody is parked on, and a removal
		 * is no descriptor event): retry once from the loop.
		 */
		park_mark_pending(wq, p->wait.events, false);
	}
	pthread_mutex_unlock(&park_lock);
	if (cancel) {
		fs_park_settle(p);
		p->cancel(p);
	}
}

/* From a FUSE worker: try p, park it if it must wait. */
void fs_park_submit(struct fs_park *p)
{
	p->state = PARK_RUNNING;
	if (p->attempt(p) != -EAGAIN)
		return;
	fuse_req_interrupt_func(p->req, park_interrupt, p);
	p->registered = true;
	park_enqueue(p);
}

/*
 * Retry the requests parked on wq for one direction. Unless `all`, stop at
 * the first that still blocks: the rest wait for the same thing. Those that
 * still block go back to the head of the queue, in their order.
 */
static void park_retry(struct ipc_waitq *wq, int dir, bool all)
{
	struct fs_park *list, *p, *next, *kept = NULL, **kept_tail = &kept;
	struct fs_park *cancel = NULL, *rest, **rest_tail;
	bool stop = false, idle;

	pthread_mutex_lock(&park_lock);
	list = wq->parked[dir];
	for (p = list; p; p = p->next) {
		p->state = PARK_RUNNING;
		*p->all_pprev = p->all_next;
		if (p->all_next)
			p->all_next->all_pprev = p->all_pprev;
	}
	wq->parked[dir] = NULL;
	wq->tail[dir] = &wq->parked[dir];
	if (list)
		wq->retrying |= dir ? POLLOUT : POLLIN;
	pthread_mutex_unlock(&park_lock);

	for (p = list; p; p = next) {
		next = p->next;
		if (!stop && !p->interrupted) {
			if (p->attempt(p) != -EAGAIN)
				continue;
			stop = !all;
		}
		if (p->wait.wq != wq || park_dir(p->wait.events) != dir) {
			/* It now waits for something else. */
			park_enqueue(p);
			continue;
		}
		*kept_tail = p;
		kept_tail = &p->next;
	}
	*kept_tail = NULL;

	pthread_mutex_lock(&park_lock);
	wq->retrying &= ~(dir ? POLLOUT : POLLIN);
	/* Put the survivors back in front of those parked meanwhile. */
	rest = wq->parked[dir];
	rest_tail = wq->tail[dir];
	wq->parked[dir] = NULL;
	wq->tail[dir] = &wq->parked[dir];
	for (p = kept; p; p = next) {
		next = p->next;
		if (p->interrupted || park_stopping) {
			p->state = PARK_DONE;
			p->next = cancel;
			cancel = p;
		} else {
			park_link(p);
		}
	}
	if (rest) {
		rest->pprev = wq->tail[dir];
		*wq->tail[dir] = rest;
		wq->tail[dir] = rest_tail;
	}
	park_arm(wq);
	idle = cancel && park_empty(wq);
	pthread_mutex_unlock(&park_lock);

	park_idle(wq, idle);
	for (p = cancel; p; p = next) {
		next = p->next;
		fs_park_settle(p);
		p->cancel(p);
	}
}

/* Tell pollers waiting for `events` that something changed. */
static void park_notify(struct ipc_waitq *wq, unsigned int events)
{
	struct fuse_pollhandle *fire[PARK_EVENTS];
	struct fs_pollh *h, **pp;
	size_t i, n;

	do {
		n = 0;
		pthread_mutex_lock(&park_lock);
		for (pp = &wq->pollers; (h = *pp) && n < PARK_EVENTS;) {
			if (h->events & events) {
				*pp = h->next;
				h->wq = NULL;
				fire[n++] = h->ph;
				h->ph = NULL;
			} else {
				pp = &h->next;
			}
		}
		park_arm(wq);
		pthread_mutex_unlock(&park_lock);
		for (i = 0; i < n; i++) {
			fuse_lowlevel_notify_poll(fire[i]);
			fuse_pollhandle_destroy(fire[i]);
		}
	} while (n == PARK_EVENTS);
}

static void park_fire(struct ipc_waitq *wq, unsigned int events, bool all)
{
	if (wq->watch) {
		wq->watch(wq);
		return;
	}
	if (events & POLLIN)
		park_retry(wq, 0, all);
	if (events & POLLOUT)
		park_retry(wq, 1, all);
	park_notify(wq, events);
}

static void park_run_pending(void)
{
	struct ipc_waitq *wq;
	unsigned int events;
	bool all;

	for (;;) {
		pthread_mutex_lock(&park_lock);
		wq = park_pending;
		if (wq) {
			park_pending = wq->next_pending;
			events = wq->pending;
			all = wq->pending_all;
			wq->pending = 0;
			wq->pending_all = false;
		}
		pthread_mutex_unlock(&park_lock);
		if (!wq)
			return;
		park_fire(wq, events, all);
	}
}

static void park_run_deferred(void)
{
	struct park_deferred *d;

	while ((d = park_deferred)) {
		park_deferred = d->next;
		d->fn(d->arg);
		free(d);
	}
}

/* From the loop thread: run fn once the round is over (it may free queues). */
void fs_park_defer(void (*fn)(void *), void *arg)
{
	struct park_deferred *d = malloc(sizeof(*d));

	if (!d) {
		fn(arg); /* better a rare race than a leak of the object */
		return;
	}
	d->fn = fn;
	d->arg = arg;
	d->next = park_deferred;
	park_deferred = d;
}

bool fs_park_in_loop(void)
{
	return park_running && pthread_equal(pthread_self(), park_thread);
}

static void *park_loop(void *arg)
{
	struct epoll_event ev[PARK_EVENTS];
	unsigned int events;
	uint64_t count;
	bool stop = false;
	int i, n;

	while (!stop) {
		n = epoll_wait(park_epfd, ev, PARK_EVENTS, -1);
		if (n < 0 && errno != EINTR) {
			ipc_log("epoll_wait: %s", strerror(errno));
			break;
		}
		park_batch = ev;
		park_batch_len = n;
		for (i = 0; i < n; i++) {
			if (ev[i].data.ptr == &park_dead)
				continue;
			if (!ev[i].data.ptr) {
				if (read(park_kickfd, &count, sizeof(count)) <
				    0)
					count = 0;
				continue;
			}
			events = 0;
			if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				events |= POLLIN;
			if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				events |= POLLOUT;
			park_fire(ev[i].data.ptr, events, false);
		}
		park_batch_len = 0;
		park_run_pending();
		park_run_deferred();
		pthread_mutex_lock(&park_lock);
		park_round++;
		stop = park_stopping;
		pthread_cond_broadcast(&park_cond);
		pthread_mutex_unlock(&park_lock);
	}
	return arg;
}

int fs_park_start_loop(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct ipc_waitq *wq;
	sigset_t old;
	int ret;

	park_epfd = epoll_create1(EPOLL_CLOEXEC);
	park_kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (park_epfd < 0 || park_kickfd < 0 ||
	    epoll_ctl(park_epfd, EPOLL_CTL_ADD, park_kickfd, &ev) < 0) {
		ret = -errno;
		goto out_close;
	}
	/* Signals are for the FUSE workers: they must see them to exit. */
	ipc_block_signals(&old);
	park_running = true;
	pthread_mutex_lock(&park_lock);
	for (wq = park_watches; wq; wq = wq->next_watch)
		park_arm(wq);
	pthread_mutex_unlock(&park_lock);
	ret = -pthread_create(&park_thread, NULL, park_loop, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret == 0)
		return 0;
	park_running = false;
out_close:
	if (park_kickfd >= 0)
		close(park_kickfd);
	if (park_epfd >= 0)
		close(park_epfd);
	park_kickfd = park_epfd = -1;
	return ret;
}

/* Stop the loop and answer whatever is still parked. */
void fs_park_stop_loop(void)
{
	struct fs_park *p;

	pthread_mutex_lock(&park_lock);
	park_stopping = true;
	park_kick();
	pthread_mutex_unlock(&park_lock);
	if (park_running)
		pthread_join(park_thread, NULL);
	pthread_mutex_lock(&park_lock);
	park_running = false;
	pthread_cond_broadcast(&park_cond);
	for (;;) {
		p = park_all;
		if (!p)
			break;
		park_unlink(p);
		p->state = PARK_DONE;
		pthread_mutex_unlock(&park_lock);
		fs_park_settle(p);
		p->cancel(p);
		pthread_mutex_lock(&park_lock);
	}
	park_watches = NULL;
	pthread_mutex_unlock(&park_lock);
	park_run_deferred();
	if (park_kickfd >= 0)
		close(park_kickfd);
	if (park_epfd >= 0)
		close(park_epfd);
	park_kickfd = park_epfd = -1;
}

/*
 * Ask for a poll notification when wq fires for `events`. The caller looks
 * at the readiness again after this (so no change is missed), and a wake
 * that finds nothing ready only makes the kernel poll once more.
 */
void fs_park_poll(struct fs_pollh *h, struct ipc_waitq *wq,
		  struct fuse_pollhandle *ph, unsigned int events)
{
	fs_park_unpoll(h);
	pthread_mutex_lock(&park_lock);
	h->ph = ph;
	h->wq = wq;
	h->events = events & (POLLIN | POLLOUT);
	h->next = wq->pollers;
	wq->pollers = h;
	park_arm(wq);
	pthread_mutex_unlock(&park_lock);
}

void fs_park_unpoll(struct fs_pollh *h)
{
	struct fs_pollh **pp;
	struct fuse_pollhandle *ph = NULL;

	pthread_mutex_lock(&park_lock);
	if (h->wq) {
		for (pp = &h->wq->pollers; *pp; pp = &(*pp)->next) {
			if (*pp == h) {
				*pp = h->next;
				break;
			}
		}
		park_arm(h->wq);
		h->wq = NULL;
		ph = h->ph;
		h->ph = NULL;
	}
	pthread_mutex_unlock(&park_lock);
	if (ph)
		fuse_pollhandle_destroy(ph);
}

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * park.c - requests that must wait, on wait queues the event loop serves.
 *
 * A FUSE worker tries an operation once. When the kind answers "would
 * block", the request is parked on the kind's wait queue and the worker goes
 * back to the kernel: waiting costs a struct, never a thread. A wait queue
 * with a descriptor (an mq descriptor) is a wake source of the event loop
 * (loop.c); ipc_wake() marks a queue pending and kicks the loop. Either way
 * the loop retries the queue's parked requests in arrival order.
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
 * The daemon's own work that must wait (a message given back to a full
 * queue) parks too, as a job without a request, ahead of the requests.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

enum { PARK_RUNNING, PARK_PARKED, PARK_DONE };

#define PARK_EVENTS 64

/* The daemon's own work parked like a request (ipc_job_park). */
struct park_job {
	struct fs_park park;
	int (*run)(void *arg, bool stopping);
	void *arg;
};

static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static bool park_stopping;
static bool park_stopped; /* and parked ones answered: nobody retries now */
static struct ipc_waitq *park_pending; /* woken, awaiting a retry */
static struct fs_park *park_all;       /* every parked request */

static int park_dir(unsigned int events)
{
	return (events & POLLOUT) ? 1 : 0;
}

/* Ask the loop for what the queue's waiters and pollers await. */
static void park_arm(struct ipc_waitq *wq) /* under park_lock */
{
	struct fs_pollh *h;
	unsigned int want = 0;

	if (wq->freed)
		return;
	if (wq->parked[0])
		want |= POLLIN;
	if (wq->parked[1])
		want |= POLLOUT;
	for (h = wq->pollers; h; h = h->next)
		want |= h->events;
	fs_loop_arm(&wq->src, want);
}

static void park_mark_pending(struct ipc_waitq *wq, unsigned int events,
			      bool all) /* under park_lock */
{
	/* Queued exactly when pending or pending_all is set. */
	if ((!events && !all) || wq->freed)
		return;
	if (!wq->pending && !wq->pending_all) {
		wq->next_pending = park_pending;
		park_pending = wq;
	}
	wq->pending |= events;
	wq->pending_all |= all;
	wq->src.seen = true;
	fs_loop_kick();
}

static void park_source_fire(struct fs_source *src, unsigned int events);

struct ipc_waitq *ipc_waitq_new(int fd)
{
	struct ipc_waitq *wq = calloc(1, sizeof(*wq));

	if (!wq)
		return NULL;
	wq->src.fd = fd;
	wq->src.fire = park_source_fire;
	wq->tail[0] = &wq->parked[0];
	wq->tail[1] = &wq->parked[1];
	return wq;
}

void fs_waitq_on_idle(struct ipc_waitq *wq, void (*idle)(void *arg), void *arg)
{
	wq->idle = idle;
	wq->idle_arg = arg;
}

void ipc_waitq_free(struct ipc_waitq *wq)
{
	struct ipc_waitq **pp;

	if (!wq)
		return;
	pthread_mutex_lock(&park_lock);
	for (pp = &park_pending; *pp; pp = &(*pp)->next_pending) {
		if (*pp == wq) {
			*pp = wq->next_pending;
			break;
		}
	}
	fs_loop_arm(&wq->src, 0);
	wq->freed = true;
	pthread_mutex_unlock(&park_lock);
	fs_loop_forget(&wq->src);
	/*
	 * The loop may be inside this queue's retry (the last reference to
	 * an object dropped by a job of its own): free it after the round.
	 */
	if (fs_loop_in_thread())
		fs_loop_defer(free, wq);
	else
		free(wq);
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

void ipc_wake_every(struct ipc_waitq *wq, unsigned int events)
{
	pthread_mutex_lock(&park_lock);
	if (((events & POLLIN) && wq->parked[0]) ||
	    ((events & POLLOUT) && wq->parked[1]) || (events & wq->retrying) ||
	    wq->pollers)
		park_mark_pending(wq, events & (POLLIN | POLLOUT), true);
	pthread_mutex_unlock(&park_lock);
}

void ipc_wake_all(struct ipc_waitq *wq)
{
	pthread_mutex_lock(&park_lock);
	park_mark_pending(wq, POLLIN | POLLOUT, true);
	pthread_mutex_unlock(&park_lock);
}

unsigned int fs_waitq_active(struct ipc_waitq *wq)
{
	unsigned int active = 0;

	pthread_mutex_lock(&park_lock);
	if (wq->parked[0] || wq->parked[1] || wq->retrying)
		active |= FS_WQ_PARKED;
	if (wq->pollers)
		active |= FS_WQ_POLLED;
	pthread_mutex_unlock(&park_lock);
	return active;
}

/* Out of the list of every parked request. */
static void park_unlist(struct fs_park *p) /* under park_lock */
{
	*p->all_pprev = p->all_next;
	if (p->all_next)
		p->all_next->all_pprev = p->all_pprev;
}

/* Out of its wait queue and of the list of every parked request. */
static void park_unlink(struct fs_park *p) /* under park_lock */
{
	struct ipc_waitq *wq = p->wait.wq;
	int dir = park_dir(p->wait.events);

	*p->pprev = p->next;
	if (p->next)
		p->next->pprev = p->pprev;
	else
		wq->tail[dir] = p->pprev;
	park_unlist(p);
}

/* Into its wait queue at pos, and the list of every parked request. */
static void park_insert(struct fs_park *p, struct fs_park **pos)
{
	struct ipc_waitq *wq = p->wait.wq;

	p->next = *pos;
	p->pprev = pos;
	if (*pos)
		(*pos)->pprev = &p->next;
	else
		wq->tail[park_dir(p->wait.events)] = &p->next;
	*pos = p;
	p->all_next = park_all;
	p->all_pprev = &park_all;
	if (park_all)
		park_all->all_pprev = &p->all_next;
	park_all = p;
	p->state = PARK_PARKED;
}

/* Into its wait queue: jobs ahead of requests, each in arrival order. */
static void park_link(struct fs_park *p) /* under park_lock */
{
	struct ipc_waitq *wq = p->wait.wq;
	int dir = park_dir(p->wait.events);
	struct fs_park **pos = wq->tail[dir];

	if (!p->req)
		for (pos = &wq->parked[dir]; *pos && !(*pos)->req;)
			pos = &(*pos)->next;
	park_insert(p, pos);
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
		wq->idle(wq->idle_arg);
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
	if (!p->req)
		return false; /* a job: nobody to interrupt it */
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
	/*
	 * Jobs wait for the loop to stop: fs_park_stop_loop() ends them; one
	 * parked after that (a file released at exit) ends at once.
	 */
	cancel = p->interrupted || (park_stopping && p->req) || park_stopped;
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
 * Retry the requests parked on wq for one direction, oldest first. Unless
 * `all`, stop at the first that still blocks: the rest wait for the same
 * thing. Each is taken out of the queue only for its attempt, so a wake
 * that finds the first still blocked costs one attempt, however many wait
 * (a park wakes its queue once: with 10000 parked, moving them all out and
 * back at every park was 10000 steps each). Those that still block go back
 * to the head of the queue, in their order.
 */
static void park_retry(struct ipc_waitq *wq, int dir, bool all)
{
	unsigned int bit = dir ? POLLOUT : POLLIN;
	struct fs_park *p, *next, *kept = NULL, **kept_tail = &kept;
	struct fs_park *cancel = NULL, **pos;
	bool stop = false, took = false, idle;

	for (;;) {
		pthread_mutex_lock(&park_lock);
		p = stop ? NULL : wq->parked[dir];
		if (p) {
			park_unlink(p);
			p->state = PARK_RUNNING;
			wq->retrying |= bit;
			took = true;
		}
		pthread_mutex_unlock(&park_lock);
		if (!p)
			break;
		if (!p->interrupted) {
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
	wq->retrying &= ~bit;
	/* The survivors go back in front of the rest, jobs first. */
	pos = &wq->parked[dir];
	for (p = kept; p; p = next) {
		next = p->next;
		if (p->interrupted || (park_stopping && p->req)) {
			p->state = PARK_DONE;
			p->next = cancel;
			cancel = p;
			continue;
		}
		if (p->req)
			while (*pos && !(*pos)->req)
				pos = &(*pos)->next;
		park_insert(p, pos);
		pos = &p->next;
	}
	park_arm(wq);
	/*
	 * Served or cancelled, the last waiter has left: a helper must stop
	 * taking units for nobody (it would keep the next one posted).
	 */
	idle = took && park_empty(wq);
	/*
	 * A job of the round may have dropped the last reference to wq's
	 * object, and the object its idle hook's owner (a helper) with it:
	 * wq itself is freed after the round, its hook must not run.
	 */
	if (wq->freed)
		idle = false;
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

static void park_source_fire(struct fs_source *src, unsigned int events)
{
	park_fire((struct ipc_waitq *)src, events, false);
}

int fs_park_start_loop(void)
{
	park_stopping = false;
	park_stopped = false;
	return fs_loop_start(park_run_pending);
}

/* Stop the loop and answer whatever is still parked. */
void fs_park_stop_loop(void)
{
	struct fs_park *p;

	pthread_mutex_lock(&park_lock);
	park_stopping = true;
	pthread_mutex_unlock(&park_lock);
	fs_loop_stop();
	pthread_mutex_lock(&park_lock);
	while ((p = park_all)) {
		park_unlink(p);
		p->state = PARK_DONE;
		pthread_mutex_unlock(&park_lock);
		fs_park_settle(p);
		p->cancel(p);
		pthread_mutex_lock(&park_lock);
	}
	park_stopped = true;
	pthread_mutex_unlock(&park_lock);
}

static int park_job_attempt(struct fs_park *p)
{
	struct park_job *job = (struct park_job *)p;
	int ret = job->run(job->arg, false);

	if (ret != -EAGAIN)
		free(job);
	return ret;
}

static void park_job_cancel(struct fs_park *p)
{
	struct park_job *job = (struct park_job *)p;

	job->run(job->arg, true);
	free(job);
}

int ipc_job_park(struct ipc_waitq *wq, unsigned int events,
		 int (*run)(void *arg, bool stopping), void *arg)
{
	struct park_job *job = calloc(1, sizeof(*job));

	if (!job)
		return -ENOMEM;
	job->run = run;
	job->arg = arg;
	job->park.attempt = park_job_attempt;
	job->park.cancel = park_job_cancel;
	job->park.wait.wq = wq;
	job->park.wait.events = events & POLLOUT ? POLLOUT : POLLIN;
	job->park.state = PARK_RUNNING;
	park_enqueue(&job->park);
	return 0;
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

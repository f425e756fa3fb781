// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * loop.c - the event loop: one thread, epoll, and its wake sources.
 *
 * A wake source is a descriptor and a function: when epoll reports the
 * descriptor ready, the loop calls the function with the events (POLLIN,
 * POLLOUT). Wait queues with a descriptor (park.c), the inotify watch of
 * removals (watch.c) are sources. An eventfd kicks the loop from other
 * threads; after each round of events the loop runs the `round` function it
 * was started with (park.c's retries of woken queues), then what was
 * deferred to the end of the round.
 *
 * Forgetting a source: the loop may hold a pointer to it from epoll_wait's
 * batch. fs_loop_forget() marks it dead in the batch when called from the
 * loop, and otherwise waits for the loop to finish its round.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fs.h"

#define LOOP_EVENTS 64

struct loop_deferred {
	struct loop_deferred *next;
	void (*fn)(void *);
	void *arg;
};

static pthread_mutex_t loop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t loop_cond = PTHREAD_COND_INITIALIZER;
static int loop_epfd = -1;
static int loop_kickfd = -1;
static pthread_t loop_thread;
static bool loop_running; /* the thread exists */
static bool loop_stopping;
static unsigned long loop_round; /* rounds finished, under loop_lock */
static void (*loop_round_fn)(void);
static struct loop_deferred *loop_deferred; /* loop thread only */
static struct epoll_event *loop_batch;	    /* loop thread: this round's */
static int loop_batch_len;
static struct fs_source loop_dead; /* stands in for a forgotten source */

static void loop_dead_fire(struct fs_source *src, unsigned int events)
{
}

/* Create epoll and the kick: sources may be armed from now on. */
int fs_loop_init(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	loop_dead.fire = loop_dead_fire;
	loop_epfd = epoll_create1(EPOLL_CLOEXEC);
	loop_kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop_epfd >= 0 && loop_kickfd >= 0 &&
	    epoll_ctl(loop_epfd, EPOLL_CTL_ADD, loop_kickfd, &ev) == 0)
		return 0;
	fs_loop_fini();
	return -errno;
}

void fs_loop_fini(void)
{
	if (loop_kickfd >= 0)
		close(loop_kickfd);
	if (loop_epfd >= 0)
		close(loop_epfd);
	loop_kickfd = loop_epfd = -1;
}

void fs_loop_kick(void)
{
	uint64_t one = 1;

	if (loop_kickfd >= 0 && write(loop_kickfd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		ipc_log("cannot wake the event loop: %s", strerror(errno));
}

/* Ask epoll for `events` (POLLIN, POLLOUT; 0: none) on src's descriptor. */
void fs_loop_arm(struct fs_source *src, unsigned int events)
{
	struct epoll_event ev = { .data.ptr = src };
	int op;

	events &= POLLIN | POLLOUT; /* the same bits as EPOLLIN, EPOLLOUT */
	if (src->fd < 0 || loop_epfd < 0 || events == src->armed)
		return;
	op = !src->armed ? EPOLL_CTL_ADD
	     : events	 ? EPOLL_CTL_MOD
			 : EPOLL_CTL_DEL;
	ev.events = events;
	if (epoll_ctl(loop_epfd, op, src->fd, &ev) < 0)
		ipc_log("epoll_ctl on fd %d: %s", src->fd, strerror(errno));
	src->armed = events;
	src->seen = true; /* the loop may now hold a pointer to it */
}

/*
 * After this the loop holds no pointer to src (disarm it first). Never
 * call it holding a lock the loop's round takes.
 */
void fs_loop_forget(struct fs_source *src)
{
	unsigned long round;
	int i;

	if (!src->seen)
		return;
	if (fs_loop_in_thread()) {
		/* The rest of this round must not touch it. */
		for (i = 0; i < loop_batch_len; i++)
			if (loop_batch[i].data.ptr == src)
				loop_batch[i].data.ptr = &loop_dead;
		return;
	}
	pthread_mutex_lock(&loop_lock);
	if (loop_running) {
		round = loop_round;
		fs_loop_kick();
		while (loop_round == round && loop_running)
			pthread_cond_wait(&loop_cond, &loop_lock);
	}
	pthread_mutex_unlock(&loop_lock);
}

bool fs_loop_in_thread(void)
{
	return loop_running && pthread_equal(pthread_self(), loop_thread);
}

static void loop_run_deferred(void)
{
	struct loop_deferred *d;

	while ((d = loop_deferred)) {
		loop_deferred = d->next;
		d->fn(d->arg);
		free(d);
	}
}

/* From the loop thread: run fn once the round is over (it may free sources). */
void fs_loop_defer(void (*fn)(void *), void *arg)
{
	struct loop_deferred *d = malloc(sizeof(*d));

	if (!d) {
		fn(arg); /* better a rare race than a leak of the object */
		return;
	}
	d->fn = fn;
	d->arg = arg;
	d->next = loop_deferred;
	loop_deferred = d;
}

static void loop_fire(struct epoll_event *ev)
{
	struct fs_source *src = ev->data.ptr;
	unsigned int events = 0;
	uint64_t count;

	if (!src) {
		if (read(loop_kickfd, &count, sizeof(count)) < 0)
			count = 0;
		return;
	}
	/* An error or hang-up: let whoever waits look. */
	if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		events |= POLLIN;
	if (ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		events |= POLLOUT;
	src->fire(src, events);
}

static void *loop_main(void *arg)
{
	struct epoll_event ev[LOOP_EVENTS];
	bool stop = false;
	int i, n;

	while (!stop) {
		n = epoll_wait(loop_epfd, ev, LOOP_EVENTS, -1);
		if (n < 0 && errno != EINTR) {
			ipc_log("epoll_wait: %s", strerror(errno));
			break;
		}
		loop_batch = ev;
		loop_batch_len = n;
		for (i = 0; i < n; i++)
			loop_fire(&ev[i]);
		loop_batch_len = 0;
		loop_round_fn();
		loop_run_deferred();
		pthread_mutex_lock(&loop_lock);
		loop_round++;
		stop = loop_stopping;
		pthread_cond_broadcast(&loop_cond);
		pthread_mutex_unlock(&loop_lock);
	}
	return arg;
}

/* Start the thread; it calls round() after each batch of events. */
int fs_loop_start(void (*round)(void))
{
	sigset_t old;
	int ret;

	loop_round_fn = round;
	loop_stopping = false;
	/* Signals are for the FUSE workers: they must see them to exit. */
	ipc_block_signals(&old);
	loop_running = true;
	ret = -pthread_create(&loop_thread, NULL, loop_main, NULL);
	if (ret < 0)
		loop_running = false;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

/* Stop the thread after its round and run what it deferred. */
void fs_loop_stop(void)
{
	pthread_mutex_lock(&loop_lock);
	loop_stopping = true;
	fs_loop_kick();
	pthread_mutex_unlock(&loop_lock);
	if (loop_running)
		pthread_join(loop_thread, NULL);
	pthread_mutex_lock(&loop_lock);
	loop_running = false;
	pthread_cond_broadcast(&loop_cond);
	pthread_mutex_unlock(&loop_lock);
	loop_run_deferred();
}

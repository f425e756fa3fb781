// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * notify.c - telling the kernel to forget a name, from a thread of its own.
 *
 * fuse_lowlevel_notify_inval_entry() takes the directory's inode lock in
 * the kernel, which a lookup in that directory holds while it waits for
 * our answer: sent from a thread that answers requests, it can deadlock
 * (DESIGN §3). So requests only queue names here, and this thread, which
 * answers nothing, sends them. The queue is bounded: a name that does not
 * fit is forgotten at its entry's timeout instead.
 *
 * What it is for: the entries of objects' directories are cached for the
 * kinds that hear of every removal (kind->watched); when another program
 * removes an object, its watch says so here, and the kernel forgets the
 * directory at once rather than at the entry's timeout. And a write that
 * parks has the kernel forget its `data` entry (node.c), so that the next
 * user of the path gets an inode whose lock the parked write does not hold.
 *
 *   $ ls -d queues/jobs; rm /dev/mqueue/jobs; ls -d queues/jobs   # ENOENT
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

#define NOTIFY_QUEUE_MAX 4096

struct notify_name {
	struct notify_name *next;
	fuse_ino_t parent;
	size_t len;
	char name[];
};

static pthread_mutex_t notify_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t notify_cond = PTHREAD_COND_INITIALIZER;
static struct notify_name *notify_head, **notify_tail = &notify_head;
static size_t notify_queued;
static bool notify_running, notify_stopping;
static struct fuse_session *notify_se;
static pthread_t notify_thread;

static struct notify_name *notify_next(void) /* under notify_lock */
{
	struct notify_name *q;

	while (!notify_head && !notify_stopping)
		pthread_cond_wait(&notify_cond, &notify_lock);
	q = notify_head;
	if (q) {
		notify_head = q->next;
		if (!notify_head)
			notify_tail = &notify_head;
		notify_queued--;
	}
	return q;
}

static void *notify_main(void *arg)
{
	struct notify_name *q;

	pthread_mutex_lock(&notify_lock);
	while ((q = notify_next()) && !notify_stopping) {
		pthread_mutex_unlock(&notify_lock);
		/* ENOENT: the kernel had forgotten it already. */
		fuse_lowlevel_notify_inval_entry(notify_se, q->parent, q->name,
						 q->len);
		free(q);
		pthread_mutex_lock(&notify_lock);
	}
	free(q);
	pthread_mutex_unlock(&notify_lock);
	return NULL;
}

int fs_notify_start(struct fuse_session *se)
{
	sigset_t old;
	int ret;

	notify_se = se;
	notify_stopping = false;
	/* Signals are for the FUSE workers. */
	ipc_block_signals(&old);
	ret = pthread_create(&notify_thread, NULL, notify_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	notify_running = ret == 0;
	return -ret;
}

/* Before the session goes: what is still queued is dropped. */
void fs_notify_stop(void)
{
	struct notify_name *q;

	if (!notify_running)
		return;
	pthread_mutex_lock(&notify_lock);
	notify_stopping = true;
	pthread_cond_signal(&notify_cond);
	pthread_mutex_unlock(&notify_lock);
	pthread_join(notify_thread, NULL);
	notify_running = false;
	while ((q = notify_head)) {
		notify_head = q->next;
		free(q);
	}
	notify_tail = &notify_head;
	notify_queued = 0;
}

void fs_notify_forget_name(fuse_ino_t parent, const char *name)
{
	size_t len = strlen(name);
	struct notify_name *q;

	if (!notify_running)
		return;
	q = malloc(sizeof(*q) + len + 1);
	if (!q)
		return;
	q->next = NULL;
	q->parent = parent;
	q->len = len;
	memcpy(q->name, name, len + 1);
	pthread_mutex_lock(&notify_lock);
	if (notify_queued < NOTIFY_QUEUE_MAX && !notify_stopping) {
		*notify_tail = q;
		notify_tail = &q->next;
		notify_queued++;
		pthread_cond_signal(&notify_cond);
		q = NULL;
	}
	pthread_mutex_unlock(&notify_lock);
	free(q);
}

void ipc_object_removed(const struct ipc_kind *kind, const char *pname)
{
	char buf[NAME_MAX + 1];
	const char *name = fs_display_name(kind, pname, buf, sizeof(buf));

	if (name)
		fs_notify_forget_name(fs_node_id(fs_node_kind(kind)), name);
}

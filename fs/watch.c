// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * watch.c - telling kinds that an object was removed behind their back;
 * and the other descriptors of kinds and engines the event loop watches.
 *
 * A reader blocked on a queue that another program mq_unlink()s would wait
 * forever on the daemon's descriptor of the unlinked queue. The kernel
 * reports unlinks in the mqueue file system and in /dev/shm to inotify, so
 * the event loop watches those directories and tells the kind, which ends
 * its waiters as rmdir would.
 *
 *   $ cat queues/jobs/data &   # waits
 *   $ rm /dev/mqueue/jobs      # what mq_unlink("/jobs") does
 *   (cat ends with end-of-file)
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "fs.h"

struct ipc_watch {
	struct fs_source src; /* the inotify descriptor */
	void (*gone)(const char *name);
};

static void watch_ready(struct fs_source *src, unsigned int events)
{
	char buf[4096]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	struct ipc_watch *w = (struct ipc_watch *)src;
	const struct inotify_event *ev;
	char name[NAME_MAX + 2];
	ssize_t n;
	char *p;

	while ((n = read(src->fd, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (!ev->len)
				continue;
			snprintf(name, sizeof(name), "/%s", ev->name);
			w->gone(name);
		}
	}
}

struct ipc_watch *ipc_watch_unlinks(int dirfd, void (*gone)(const char *name))
{
	struct ipc_watch *w = calloc(1, sizeof(*w));
	char path[64];
	int fd;

	if (!w)
		return NULL;
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	/* The directory may be a detached mount: reach it through our fd. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", dirfd);
	if (fd < 0 ||
	    inotify_add_watch(fd, path, IN_DELETE | IN_MOVED_FROM) < 0) {
		ipc_log("cannot watch for removals (%s): a waiter on an object another program removes keeps waiting",
			strerror(errno));
		if (fd >= 0)
			close(fd);
		free(w);
		return NULL;
	}
	w->src.fd = fd;
	w->src.fire = watch_ready;
	w->gone = gone;
	fs_loop_arm(&w->src, POLLIN);
	return w;
}

void ipc_unwatch(struct ipc_watch *w)
{
	if (!w)
		return;
	fs_loop_arm(&w->src, 0);
	fs_loop_forget(&w->src);
	close(w->src.fd);
	free(w);
}

bool ipc_daemon_owned(void)
{
	return true;
}

/* A kind's or an engine's own descriptor as a wake source (ipc.h). */
struct ipc_source {
	struct fs_source src;
	void (*ready)(void *arg);
	void *arg;
};

static void source_fire(struct fs_source *src, unsigned int events)
{
	struct ipc_source *s = (struct ipc_source *)src;

	s->ready(s->arg);
}

struct ipc_source *ipc_source_add(int fd, void (*ready)(void *arg), void *arg)
{
	struct ipc_source *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->src.fd = fd;
	s->src.fire = source_fire;
	s->ready = ready;
	s->arg = arg;
	fs_loop_arm(&s->src, POLLIN);
	return s;
}

void ipc_source_del(struct ipc_source *s)
{
	if (!s)
		return;
	fs_loop_arm(&s->src, 0);
	fs_loop_forget(&s->src);
	free(s);
}

bool ipc_in_loop(void)
{
	return fs_loop_in_thread();
}

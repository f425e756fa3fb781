// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * units.c - a semaphore's wait and hold files, whoever keeps the semaphore
 * (units.h).
 *
 * An open file takes at most one unit, whatever its threads do: `taken`
 * says it has, under the handle's lock. A hold keeps its unit until the
 * open file is released, however its holder ends. A wait consumes its
 * unit; `fresh` says the last read took it, so that if the reply never
 * reached the reader (interrupted meanwhile) the unit goes back and the
 * interrupted wait took nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "units.h"

struct ipc_units_handle {
	const struct ipc_units *u;
	struct ipc_obj *o;
	pthread_mutex_t lock; /* threads may share an open file: one unit */
	bool taken;	      /* holds a unit (hold) / took its unit (wait) */
	bool fresh;	      /* wait: the last read took the unit */
};

int ipc_units_open(const struct ipc_units *u, const char *name, void **fh)
{
	struct ipc_units_handle *h = calloc(1, sizeof(*h));
	int ret = 0;

	if (!h)
		return -ENOMEM;
	h->u = u;
	h->o = ipc_obj_get(u->reg, name, &ret);
	if (!h->o) {
		free(h);
		return ret;
	}
	pthread_mutex_init(&h->lock, NULL);
	*fh = h;
	return 0;
}

struct ipc_obj *ipc_units_obj(void *fh)
{
	return ((struct ipc_units_handle *)fh)->o;
}

int ipc_units_hold_acquire(void *fh, struct ipc_wait *w)
{
	struct ipc_units_handle *h = fh;
	int ret = h->u->take(h->o, w, true);

	h->taken = ret == 0;
	return ret;
}

/* A hold gives its unit back when the open file goes, however it goes. */
void ipc_units_hold_release(void *fh)
{
	struct ipc_units_handle *h = fh;

	if (h->taken)
		h->u->give(h->o);
	ipc_obj_put(h->o);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

ssize_t ipc_units_wait_read(void *fh, char *buf, size_t size, off_t off,
			    struct ipc_wait *w)
{
	struct ipc_units_handle *h = fh;
	int ret = 0;

	pthread_mutex_lock(&h->lock);
	h->fresh = false;
	if (!h->taken)
		ret = h->u->take(h->o, w, false);
	if (!h->taken && ret == 0)
		h->taken = h->fresh = true;
	pthread_mutex_unlock(&h->lock);
	return ret;
}

/* The reader never learnt it took the unit: it goes back. */
void ipc_units_wait_unread(void *fh, const char *buf, size_t len)
{
	struct ipc_units_handle *h = fh;

	pthread_mutex_lock(&h->lock);
	if (h->fresh) {
		h->u->untake(h->o);
		h->taken = h->fresh = false;
	}
	pthread_mutex_unlock(&h->lock);
}

unsigned int ipc_units_wait_poll(void *fh, struct ipc_waitq **wq)
{
	struct ipc_units_handle *h = fh;
	bool taken;

	*wq = h->o->wq;
	pthread_mutex_lock(&h->lock);
	taken = h->taken;
	pthread_mutex_unlock(&h->lock);
	return taken || h->u->ready(h->o) ? POLLIN : 0;
}

/* A wait file keeps nothing: its unit was consumed ("P"). */
void ipc_units_wait_release(void *fh)
{
	struct ipc_units_handle *h = fh;

	h->taken = false;
	ipc_units_hold_release(h);
}

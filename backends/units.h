/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * units.h - a semaphore's wait and hold files, for the kinds whose units
 * are taken and given by calls of their own (sem/, sysv/sem/): what an
 * open file has taken, the one unit per open file when threads share it,
 * giving it back on release (hold) or when the reader never learnt of it
 * (wait), and poll. The kind says how to take and give (struct
 * ipc_units); its file table points at the ipc_units_* ops.
 */
#ifndef IPCFS_UNITS_H
#define IPCFS_UNITS_H

#include "ipc.h"

struct ipc_units {
	struct ipc_registry *reg; /* the kind's objects, opened by name */
	/*
	 * Take a unit of o now: 0; -EAGAIN with *w filled in (the waiter's
	 * wait queue, the helper started); or -errno. keep: a hold's, kept
	 * until give(); else a wait's, consumed.
	 */
	int (*take)(struct ipc_obj *o, struct ipc_wait *w, bool keep);
	void (*give)(struct ipc_obj *o);   /* a hold's unit back */
	void (*untake)(struct ipc_obj *o); /* a wait's consumed unit back */
	/*
	 * Could a wait take a unit now (or end: removed, broken)? If not,
	 * make sure pollers are woken when it could (start the helper).
	 */
	bool (*ready)(struct ipc_obj *o);
};

/* A kind's open op: return ipc_units_open(&its_units, name, fh). */
int ipc_units_open(const struct ipc_units *u, const char *name, void **fh);
/* The object an open file of the kind is of. */
struct ipc_obj *ipc_units_obj(void *fh);

/* hold: the open takes a unit, the release gives it back. */
int ipc_units_hold_acquire(void *fh, struct ipc_wait *w);
void ipc_units_hold_release(void *fh);

/* wait: the first read takes a unit for good, then end-of-file. */
ssize_t ipc_units_wait_read(void *fh, char *buf, size_t size, off_t off,
			    struct ipc_wait *w);
void ipc_units_wait_unread(void *fh, const char *buf, size_t len);
unsigned int ipc_units_wait_poll(void *fh, struct ipc_waitq **wq);
void ipc_units_wait_release(void *fh);

#endif /* IPCFS_UNITS_H */

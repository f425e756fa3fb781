// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sysv_msg.c - sysv/msg/KEY: a System V message queue (msgget(2), svipc(7)).
 *
 * data: one write(2) sends one message of type 1. Reading an open file
 * receives one message of any type (the first in the queue) on the first
 * read and serves it by offset, then end-of-file, as queues/'s data does.
 * stream: each read(2) receives the next message, forever; a write sends
 * one, as data's. framed: data, with the type in the bytes "TYPE\tMESSAGE"
 * both ways, TYPE 1 to LONG_MAX in decimal (msgsnd's types); a bad head is
 * EINVAL, nothing sent. data and framed serve their message by offset, so
 * any buffer reads it (`read -r` reads 128 bytes at a time); a read of
 * stream is one msgrcv(), and a buffer smaller than the next message is
 * E2BIG, nothing taken (msgrcv's rule without MSG_NOERROR). A write longer
 * than kernel.msgmax is EINVAL (msgsnd's). count, bytes, qbytes, lspid, lrpid:
 * IPC_STAT's msg_qnum, msg_cbytes, msg_qbytes, msg_lspid, msg_lrpid; qbytes
 * is written with IPC_SET, in the writer's shoes (past kernel.msgmnb takes
 * CAP_SYS_RESOURCE). id: the kernel's id, for msgsnd(2) and ipcs(1).
 *
 *   $ mkdir sysv/msg/0x0000162e; echo build > sysv/msg/0x0000162e/data
 *   $ printf '7\turgent' > sysv/msg/0x0000162e/framed; cat sysv/msg/0x0000162e/count
 *   2
 *
 * A System V queue has no descriptor to poll, so the tree waits through the
 * helper wait source (fs/helper.c): while readers are parked, a helper
 * thread of the queue's blocks in msgrcv() for them and banks what it
 * receives, oldest first; each reader's retry claims the front. Writers to
 * a full queue park on a second wait queue, wq_out, whose helper only looks
 * for room (IPC_STAT) every IPC_HELPER_PERIOD_MS: nothing in System V waits
 * for room without sending. A read through the tree wakes them at once; a
 * native reader's room is seen within that period.
 *
 * A message given back (an interrupted reader's, or one banked for a waiter
 * that left) goes back with its type, but to the tail of the queue: System V
 * cannot put a message in front. If the queue is full meanwhile, the daemon
 * keeps it and a job of the event loop sends it once there is room.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <unistd.h>

#include "sysv.h"

#define SYSV_MSG_TYPE_DIGITS 19 /* LONG_MAX's */
#define SYSV_MSG_HEAD_MAX (SYSV_MSG_TYPE_DIGITS + 1)
#define SYSV_MSG_EXIT_WAIT_MS 1000 /* for room, at exit, per message */

/* A message as msgsnd(2) and msgrcv(2) see it from &type on. */
struct sysv_msg {
	struct sysv_msg *next;
	size_t len;
	long type;
	char text[];
};

struct sysv_msgq {
	struct sysv_obj sys;	  /* first; sys.obj.wq: readers, pollers */
	struct ipc_waitq *wq_out; /* writers waiting for room */
	struct ipc_helper *in;	  /* receives for the readers of obj.wq */
	struct ipc_helper *out;	  /* looks for room for wq_out's writers */
	pthread_mutex_t lock;	  /* banked, back, need */
	struct sysv_msg *banked;  /* received by `in`, oldest first */
	struct sysv_msg **banked_tail;
	struct sysv_msg *back; /* given back, waiting for room */
	/*
	 * The least room a writer (or a give-back) that found none waits for,
	 * since `out` last woke them (SIZE_MAX: none): what `out` looks for.
	 * Room for less would wake them to find none again, every period or
	 * faster: a message longer than qbytes would spin the loop forever.
	 */
	size_t need;
};

/* Which file an open file is of. */
enum sysv_msg_file { SYSV_MSG_DATA, SYSV_MSG_STREAM, SYSV_MSG_FRAMED };

struct sysv_msg_handle {
	struct sysv_msgq *q;
	pthread_mutex_t lock; /* threads may share an open file */
	enum sysv_msg_file file;
	bool fresh;	    /* the last read received m */
	struct sysv_msg *m; /* the message this file received */
	size_t head;	    /* framed: the length of "TYPE\t" */
	char head_text[SYSV_MSG_HEAD_MAX + 1];
};

static int sysv_msg_open(const char *name, struct ipc_obj **o);
static void sysv_msg_free(struct ipc_obj *o);
static struct ipc_registry sysv_msgqs =
	IPC_REGISTRY_INIT(sysv_msg_open, sysv_obj_stale, sysv_msg_free);

static struct sysv_msgq *sysv_msg_of(struct ipc_obj *o)
{
	return (struct sysv_msgq *)o; /* sys.obj comes first */
}

static struct sysv_msg *sysv_msg_new(size_t len)
{
	struct sysv_msg *m = malloc(offsetof(struct sysv_msg, text) + len);

	if (m)
		m->next = NULL;
	return m;
}

static void sysv_msg_free_list(struct sysv_msg *m)
{
	struct sysv_msg *next;

	for (; m; m = next) {
		next = m->next;
		free(m);
	}
}

/* kernel.msgmax as last read: what a receive for data allocates first. */
static _Atomic size_t sysv_msg_msgmax = 8192; /* the kernel's default */

/* kernel.msgmax: the longest message msgsnd() takes now. */
static size_t sysv_msg_max(void)
{
	FILE *f = fopen("/proc/sys/kernel/msgmax", "re");
	long val = 8192;

	if (f) {
		if (fscanf(f, "%ld", &val) != 1 || val <= 0)
			val = 8192;
		fclose(f);
	}
	sysv_msg_msgmax = (size_t)val;
	return (size_t)val;
}

static int sysv_msg_init(void)
{
	sysv_msg_max();
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The kind's object calls, through sysv.c. */

static int sysv_msg_make(key_t key, int flags, void *arg)
{
	return msgget(key, flags) < 0 ? -errno : 0;
}

static int sysv_msg_create(const char *name, mode_t mode,
			   const struct ipc_caller *caller)
{
	return sysv_create(name, mode, caller, sysv_msg_make, NULL);
}

SYSV_KIND_COMMON(sysv_msg, sysv_msg, &sysv_msgqs)

static void sysv_msg_fini(void)
{
	ipc_obj_clear(&sysv_msgqs);
}

/* ---------------------------------------------------------------------- */
/* Giving messages back, with their type, never losing one. */

/* The queue went and took the message with it, or it is lost: say so. */
static void sysv_msg_lost(struct sysv_msgq *q, int err)
{
	if (!sysv_obj_vanished(&q->sys, err))
		ipc_log("%s: lost a message kept to send back (an interrupted reader's): %s",
			q->sys.obj.name, strerror(-err));
}

/*
 * Send m again, without waiting; or, at exit with the loop stopped
 * (patient), waiting a little for room rather than losing it.
 */
static int sysv_msg_resend_one(struct sysv_msgq *q, struct sysv_msg *m,
			       bool patient)
{
	int ms = patient ? SYSV_MSG_EXIT_WAIT_MS : 0;

	for (;;) {
		if (msgsnd(q->sys.id, &m->type, m->len, IPC_NOWAIT) == 0)
			return 0;
		if (errno != EAGAIN || ms <= 0)
			return -errno;
		usleep(10 * 1000);
		ms -= 10;
	}
}

/*
 * The event loop's job while q has messages given back: send them, oldest
 * first, as room comes (the job runs ahead of parked writers, on wq_out).
 */
static int sysv_msg_resend(void *arg, bool stopping)
{
	struct sysv_msgq *q = arg;
	struct sysv_msg *m;
	int ret = 0, err;

	pthread_mutex_lock(&q->lock);
	while ((m = q->back)) {
		err = sysv_msg_resend_one(q, m, stopping);
		if (err == -EAGAIN && !stopping) {
			if (m->len < q->need)
				q->need = m->len; /* sysv_msg_needs() */
			ret = -EAGAIN;
			break;
		}
		if (err < 0)
			sysv_msg_lost(q, err);
		q->back = m->next;
		free(m);
	}
	pthread_mutex_unlock(&q->lock);
	if (ret == 0)
		ipc_obj_put(&q->sys.obj); /* the job's */
	return ret;
}

/*
 * Give m back to the queue (ours now): at once if there is room and
 * nothing given back waits before it; else behind those, sent by a job of
 * the event loop as room comes. Nothing here waits: a release, the event
 * loop and the helper thread all call it.
 */
static void sysv_msg_give_back(struct sysv_msgq *q, struct sysv_msg *m)
{
	struct sysv_msg **pp;
	bool first;
	int err = 0;

	pthread_mutex_lock(&q->lock);
	first = !q->back;
	if (first)
		err = sysv_msg_resend_one(q, m, false);
	if (first && err != -EAGAIN) {
		pthread_mutex_unlock(&q->lock);
		if (err < 0)
			sysv_msg_lost(q, err);
		free(m);
		return;
	}
	for (pp = &q->back; *pp; pp = &(*pp)->next)
		;
	*pp = m;
	if (first && m->len < q->need)
		q->need = m->len; /* sysv_msg_needs() */
	pthread_mutex_unlock(&q->lock);
	if (!first)
		return;
	ipc_obj_hold(&q->sys.obj);
	if (ipc_job_park(q->wq_out, POLLOUT, sysv_msg_resend, q) == 0)
		ipc_helper_start(q->out); /* it looks for room */
	else if (sysv_msg_resend(q, false) == -EAGAIN)
		sysv_msg_resend(q, true); /* no memory to wait with */
}

/* ---------------------------------------------------------------------- */
/* The helpers: readers' msgrcv(), writers' look for room. */

/*
 * Would a message of len bytes fit now? msgsnd() counts the messages
 * against qbytes too, one byte each.
 */
static bool sysv_msg_fits(const struct msqid_ds *ds, size_t len)
{
	return ds->msg_cbytes + len <= ds->msg_qbytes &&
	       ds->msg_qnum + 1 <= ds->msg_qbytes;
}

/*
 * POLLIN: a message is there; POLLOUT: a message of one byte would fit
 * (poll cannot know a writer's length); gone: both.
 */
static unsigned int sysv_msg_events(struct sysv_msgq *q)
{
	struct msqid_ds ds;

	if (msgctl(q->sys.id, IPC_STAT, &ds) < 0)
		return POLLIN | POLLOUT | POLLHUP;
	return (ds.msg_qnum ? POLLIN : 0) |
	       (sysv_msg_fits(&ds, 1) ? POLLOUT : 0);
}

/* A writer (or a give-back) of len bytes found no room: `out` looks. */
static void sysv_msg_needs(struct sysv_msgq *q, size_t len)
{
	pthread_mutex_lock(&q->lock);
	if (len < q->need)
		q->need = len;
	pthread_mutex_unlock(&q->lock);
}

/*
 * Room for any message the queue holds or takes: msgmax, or more if
 * kernel.msgmax was lowered after longer ones were sent.
 */
static size_t sysv_msg_room(struct sysv_msgq *q)
{
	struct msqid_ds ds;
	size_t max = sysv_msg_max();

	if (msgctl(q->sys.id, IPC_STAT, &ds) == 0 && ds.msg_cbytes > max)
		max = ds.msg_cbytes;
	return max;
}

/*
 * Receive one message of at most cap bytes into *mp: 0, or -errno
 * (-ENOMSG: none, without flags' IPC_NOWAIT).
 */
static int sysv_msg_receive(struct sysv_msgq *q, size_t cap, int flags,
			    struct sysv_msg **mp)
{
	struct sysv_msg *m = sysv_msg_new(cap);
	ssize_t n;
	int ret;

	if (!m)
		return -ENOMEM;
	n = msgrcv(q->sys.id, &m->type, cap, 0, flags);
	if (n < 0) {
		ret = -errno;
		free(m);
		return ret;
	}
	m->len = (size_t)n;
	*mp = m;
	/* Room was made: writers go on, pollers look. */
	ipc_wake_every(q->wq_out, POLLOUT); /* short ones behind long ones */
	ipc_wake(q->sys.obj.wq, POLLOUT);
	return 0;
}

/*
 * The helper's blocking call, for the parked readers: msgrcv() without
 * IPC_NOWAIT, ended by fs/helper.c's signal (IPC_HELPER_UNTIMED). What it
 * receives is banked behind what it received before.
 */
static int sysv_msg_helper_block(void *arg, const struct timespec *deadline)
{
	struct sysv_msgq *q = arg;
	struct sysv_msg *m;
	int ret = sysv_msg_receive(q, sysv_msg_room(q), 0, &m);

	if (ret == -EINTR || ret == -E2BIG || ret == -ENOMEM)
		return 0; /* a deadline, a waiter gone; or try again */
	if (ret < 0) {
		sysv_obj_vanished(&q->sys, ret); /* ipcrm: EOF at once */
		return ret;
	}
	pthread_mutex_lock(&q->lock);
	*q->banked_tail = m;
	q->banked_tail = &m->next;
	pthread_mutex_unlock(&q->lock);
	return 1;
}

/* The front of the bank (what ipc_helper_claim() gave us), or NULL. */
static struct sysv_msg *sysv_msg_unbank(struct sysv_msgq *q)
{
	struct sysv_msg *m;

	pthread_mutex_lock(&q->lock);
	m = q->banked;
	if (m) {
		q->banked = m->next;
		if (!q->banked)
			q->banked_tail = &q->banked;
		m->next = NULL;
	}
	pthread_mutex_unlock(&q->lock);
	return m;
}

/* Its waiters left: the oldest banked message goes back, with its type. */
static void sysv_msg_helper_give_back(void *arg)
{
	struct sysv_msgq *q = arg;
	struct sysv_msg *m = sysv_msg_unbank(q);

	if (m)
		sysv_msg_give_back(q, m);
}

static unsigned int sysv_msg_helper_peek(void *arg)
{
	return sysv_msg_events(arg) & (POLLIN | POLLOUT);
}

/*
 * The writers' helper: POLLOUT once the least that one of them needs fits
 * (or the queue is gone), and then forget it: writers that still find no
 * room say again what they need.
 */
static unsigned int sysv_msg_helper_room(void *arg)
{
	struct sysv_msgq *q = arg;
	struct msqid_ds ds;
	bool fits;

	if (msgctl(q->sys.id, IPC_STAT, &ds) < 0)
		return POLLOUT;
	pthread_mutex_lock(&q->lock);
	fits = q->need != SIZE_MAX && sysv_msg_fits(&ds, q->need);
	if (fits)
		q->need = SIZE_MAX;
	pthread_mutex_unlock(&q->lock);
	return fits ? POLLOUT : 0;
}

static const struct ipc_helper_ops sysv_msg_in_ops = {
	.block = sysv_msg_helper_block,
	.give_back = sysv_msg_helper_give_back,
	.peek = sysv_msg_helper_peek,
	.flags = IPC_HELPER_UNTIMED,
};

/* Nothing to block on, nothing banked: it only peeks for room. */
static const struct ipc_helper_ops sysv_msg_out_ops = {
	.peek = sysv_msg_helper_room,
	.flags = IPC_HELPER_UNALIKE,
};

/* ---------------------------------------------------------------------- */
/* Objects and handles. */

/* The registry's: queue NAME at its id now, with its wait queues. */
static int sysv_msg_open(const char *name, struct ipc_obj **o)
{
	struct sysv_msgq *q = calloc(1, sizeof(*q));
	int ret;

	if (!q)
		return -ENOMEM;
	ret = sysv_obj_init(&q->sys, &sysv_msg, name);
	if (ret < 0) {
		free(q);
		return ret;
	}
	pthread_mutex_init(&q->lock, NULL);
	q->banked_tail = &q->banked;
	q->need = SIZE_MAX;
	q->wq_out = ipc_waitq_new(-1);
	if (q->wq_out)
		q->in = ipc_helper_new(&q->sys.obj, q->sys.obj.wq,
				       &sysv_msg_in_ops, q);
	if (q->in)
		q->out = ipc_helper_new(&q->sys.obj, q->wq_out,
					&sysv_msg_out_ops, q);
	if (!q->out) {
		ipc_obj_discard(&sysv_msgqs, &q->sys.obj);
		return -ENOMEM;
	}
	*o = &q->sys.obj;
	return 0;
}

/* The helpers held references: they have ended, and no job is left. */
static void sysv_msg_free(struct ipc_obj *o)
{
	struct sysv_msgq *q = sysv_msg_of(o);

	ipc_helper_free(q->in);
	ipc_helper_free(q->out);
	ipc_waitq_free(q->wq_out);
	sysv_msg_free_list(q->banked);
	sysv_msg_free_list(q->back);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

static int sysv_msg_open_handle(const char *name, void **fh,
				enum sysv_msg_file file)
{
	struct sysv_msg_handle *h = calloc(1, sizeof(*h));
	struct ipc_obj *o;
	int ret = 0;

	if (!h)
		return -ENOMEM;
	o = ipc_obj_get(&sysv_msgqs, name, &ret);
	if (!o) {
		free(h);
		return ret;
	}
	h->q = sysv_msg_of(o);
	h->file = file;
	pthread_mutex_init(&h->lock, NULL);
	*fh = h;
	return 0;
}

static int sysv_msg_data_open(const char *name, int flags, void **fh)
{
	return sysv_msg_open_handle(name, fh, SYSV_MSG_DATA);
}

static int sysv_msg_stream_open(const char *name, int flags, void **fh)
{
	return sysv_msg_open_handle(name, fh, SYSV_MSG_STREAM);
}

static int sysv_msg_framed_open(const char *name, int flags, void **fh)
{
	return sysv_msg_open_handle(name, fh, SYSV_MSG_FRAMED);
}

static void sysv_msg_release(void *fh)
{
	struct sysv_msg_handle *h = fh;

	ipc_obj_put(&h->q->sys.obj);
	pthread_mutex_destroy(&h->lock);
	free(h->m);
	free(h);
}

/* ---------------------------------------------------------------------- */
/* Reading. */

/*
 * A banked message for a reader of cap bytes: 1 (*mp), 0 (none banked), or
 * -E2BIG (the oldest is longer: it stays, as msgrcv() leaves it).
 */
static int sysv_msg_claim(struct sysv_msgq *q, size_t cap, struct sysv_msg **mp)
{
	struct sysv_msg *m;
	size_t front = 0;

	pthread_mutex_lock(&q->lock);
	if (q->banked)
		front = q->banked->len;
	pthread_mutex_unlock(&q->lock);
	if (front > cap)
		return -E2BIG;
	if (!ipc_helper_claim(q->in))
		return 0;
	m = sysv_msg_unbank(q);
	if (!m)
		return 0; /* not reached: the bank holds what the count says */
	if (m->len > cap) {
		/* Another reader took the front between the looks. */
		sysv_msg_give_back(q, m);
		return -E2BIG;
	}
	*mp = m;
	return 1;
}

/*
 * The next message, of at most cap bytes: a banked one (older than what the
 * queue holds), else one from the queue. 1 (*mp), 0 at end (the queue was
 * removed), or -errno (-EAGAIN with *w filled in: nothing there).
 */
static int sysv_msg_take(struct sysv_msgq *q, size_t cap, struct sysv_msg **mp,
			 struct ipc_wait *w)
{
	int ret;

	if (ipc_obj_removed(&q->sys.obj))
		return 0;
	ret = sysv_msg_claim(q, cap, mp);
	if (ret != 0)
		return ret;
	ret = sysv_msg_receive(q, cap, IPC_NOWAIT, mp);
	if (ret == 0)
		return 1;
	if (sysv_obj_vanished(&q->sys, ret))
		return 0;
	if (ret != -ENOMSG)
		return ret;
	/* Nobody would wake a waiter without the helper: say so. */
	if (ipc_helper_start(q->in) == 0) {
		w->wq = q->sys.obj.wq;
		w->events = POLLIN;
	}
	return -EAGAIN;
}

/* framed: the head "TYPE\t" of the message received, shown before it. */
static void sysv_msg_frame(struct sysv_msg_handle *h)
{
	h->head = h->file == SYSV_MSG_FRAMED
			  ? (size_t)snprintf(h->head_text, sizeof(h->head_text),
					     "%ld\t", h->m->type)
			  : 0;
}

/* Copy what the handle's message shows from byte `from` on: a count. */
static ssize_t sysv_msg_copy(struct sysv_msg_handle *h, char *buf, size_t size,
			     size_t from)
{
	size_t n = 0, k;

	if (from < h->head) {
		k = h->head - from < size ? h->head - from : size;
		memcpy(buf, h->head_text + from, k);
		n = k;
	}
	from = from > h->head ? from - h->head : 0;
	if (n < size && from < h->m->len) {
		k = h->m->len - from < size - n ? h->m->len - from : size - n;
		memcpy(buf + n, h->m->text + from, k);
		n += k;
	}
	return (ssize_t)n;
}

/*
 * The next message, whatever its length (data, framed: served by offset):
 * as sysv_msg_take(), received into msgmax bytes, or into what the queue
 * says the longest could be if kernel.msgmax has changed (E2BIG).
 */
static int sysv_msg_take_any(struct sysv_msgq *q, struct sysv_msg **mp,
			     struct ipc_wait *w)
{
	int ret = sysv_msg_take(q, sysv_msg_msgmax, mp, w);

	return ret == -E2BIG ? sysv_msg_take(q, sysv_msg_room(q), mp, w) : ret;
}

/*
 * Take the next message into the handle: as sysv_msg_take(), of at most cap
 * bytes, or SYSV_MSG_ANY length (sysv_msg_take_any()).
 */
#define SYSV_MSG_ANY 0
static int sysv_msg_take_handle(struct sysv_msg_handle *h, size_t cap,
				struct ipc_wait *w)
{
	struct sysv_msg *m = NULL;
	int ret = cap ? sysv_msg_take(h->q, cap, &m, w)
		      : sysv_msg_take_any(h->q, &m, w);

	if (ret > 0) {
		free(h->m);
		h->m = m;
		h->fresh = true;
		sysv_msg_frame(h);
	}
	return ret;
}

/*
 * data, framed: offsets count within the message this file received, its
 * frame's head too, so a buffer of any size reads it, in as many reads as
 * it takes. Before it has one, an offset past 0 would take a message and
 * show none of it: EINVAL.
 */
static ssize_t sysv_msg_data_read(struct sysv_msg_handle *h, char *buf,
				  size_t size, off_t off, struct ipc_wait *w)
{
	int ret;

	if (!h->m && off > 0)
		return -EINVAL;
	if (!h->m) {
		ret = sysv_msg_take_handle(h, SYSV_MSG_ANY, w);
		if (ret <= 0)
			return ret;
	}
	return sysv_msg_copy(h, buf, size, (size_t)off);
}

/*
 * stream: the next message, whole. An empty one cannot be told from
 * end-of-file here: skip it.
 */
static ssize_t sysv_msg_stream_read(struct sysv_msg_handle *h, char *buf,
				    size_t size, struct ipc_wait *w)
{
	int ret;

	do
		ret = sysv_msg_take_handle(h, size, w);
	while (ret > 0 && h->m->len == 0);
	return ret > 0 ? sysv_msg_copy(h, buf, size, 0) : ret;
}

static ssize_t sysv_msg_read(void *fh, char *buf, size_t size, off_t off,
			     struct ipc_wait *w)
{
	struct sysv_msg_handle *h = fh;
	ssize_t ret;

	if (size > IPC_MSG_MAX)
		size = IPC_MSG_MAX; /* a longer reply may come in pieces */
	pthread_mutex_lock(&h->lock);
	h->fresh = false;
	ret = h->file == SYSV_MSG_STREAM
		      ? sysv_msg_stream_read(h, buf, size, w)
		      : sysv_msg_data_read(h, buf, size, off, w);
	pthread_mutex_unlock(&h->lock);
	return ret;
}

/* The reader never saw the message it received: back it goes. */
static void sysv_msg_unread(void *fh, const char *buf, size_t len)
{
	struct sysv_msg_handle *h = fh;

	pthread_mutex_lock(&h->lock);
	if (h->fresh) {
		sysv_msg_give_back(h->q, h->m);
		h->m = NULL;
		h->head = 0;
		h->fresh = false;
	}
	pthread_mutex_unlock(&h->lock);
}

static unsigned int sysv_msg_poll(void *fh, struct ipc_waitq **wq)
{
	struct sysv_msg_handle *h = fh;
	struct sysv_msgq *q = h->q;
	unsigned int ev;

	*wq = q->sys.obj.wq;
	if (ipc_obj_removed(&q->sys.obj))
		return POLLIN | POLLOUT | POLLHUP;
	ev = sysv_msg_events(q);
	if (ipc_helper_banked(q->in))
		ev |= POLLIN;
	pthread_mutex_lock(&h->lock);
	if (h->m && h->file != SYSV_MSG_STREAM)
		ev |= POLLIN; /* its message, or end-of-file */
	pthread_mutex_unlock(&h->lock);
	if ((ev & (POLLIN | POLLOUT)) != (POLLIN | POLLOUT))
		ipc_helper_start(q->in); /* it peeks for the pollers */
	return ev;
}

/* ---------------------------------------------------------------------- */
/* Writing. */

/*
 * Send one write's message of len bytes with type: 0, or -errno (-EAGAIN
 * with *w filled in: no room). A write longer than IPC_MSG_MAX may have
 * come in pieces (ipc.h): EINVAL, as a message past msgmax.
 */
static int sysv_msg_send(struct sysv_msgq *q, long type, const char *buf,
			 size_t len, struct ipc_wait *w)
{
	struct sysv_msg *m;
	int ret = 0;

	if (ipc_obj_removed(&q->sys.obj))
		return -EIDRM;
	if (len > IPC_MSG_MAX)
		return -EINVAL;
	m = sysv_msg_new(len);
	if (!m)
		return -ENOMEM;
	m->type = type;
	memcpy(m->text, buf, len);
	if (msgsnd(q->sys.id, &m->type, len, IPC_NOWAIT) < 0)
		ret = -errno;
	free(m);
	if (ret == -EAGAIN)
		sysv_msg_needs(q, len);
	if (ret == -EAGAIN && ipc_helper_start(q->out) == 0) {
		w->wq = q->wq_out;
		w->events = POLLOUT;
	} else if (sysv_obj_vanished(&q->sys, ret)) {
		ret = -EIDRM;
	} else if (ret == 0) {
		ipc_wake(q->sys.obj.wq, POLLIN); /* pollers: at once */
	}
	return ret;
}

static ssize_t sysv_msg_data_write(void *fh, const char *buf, size_t size,
				   off_t off, struct ipc_wait *w)
{
	struct sysv_msg_handle *h = fh;
	int ret = sysv_msg_send(h->q, 1, buf, size, w);

	return ret < 0 ? ret : (ssize_t)size;
}

/*
 * The head of the frame buf[0..len): "TYPE\t", TYPE 1 to 19 decimal digits
 * (leading zeros allowed, as queues' priorities) of a value 1 to LONG_MAX:
 * its length, or -EINVAL. Reads nothing past len.
 */
static int sysv_msg_frame_parse(const char *buf, size_t len, long *type)
{
	const char *tab = memchr(
		buf, '\t', len < SYSV_MSG_HEAD_MAX ? len : SYSV_MSG_HEAD_MAX);

	/* ipc_parse_long() takes a newline after the digits: no head has. */
	if (!tab || tab == buf || tab[-1] == '\n' ||
	    ipc_parse_long(buf, (size_t)(tab - buf), type) < 0 || *type < 1)
		return -EINVAL;
	return (int)(tab - buf + 1);
}

static ssize_t sysv_msg_framed_write(void *fh, const char *buf, size_t size,
				     off_t off, struct ipc_wait *w)
{
	struct sysv_msg_handle *h = fh;
	int head, ret;
	long type;

	head = sysv_msg_frame_parse(buf, size, &type);
	if (head < 0)
		return head;
	ret = sysv_msg_send(h->q, type, buf + head, size - head, w);
	return ret < 0 ? ret : (ssize_t)size;
}

/* ---------------------------------------------------------------------- */
/* Attribute files: IPC_STAT's fields, and qbytes through IPC_SET. */

enum sysv_msg_attr {
	SYSV_MSG_COUNT,
	SYSV_MSG_BYTES,
	SYSV_MSG_QBYTES,
	SYSV_MSG_LSPID,
	SYSV_MSG_LRPID,
	SYSV_MSG_ID,
};

/* NAME's id and IPC_STAT, or -ENOENT (removed meanwhile). */
static int sysv_msg_ds(const char *name, struct msqid_ds *ds)
{
	int id = sysv_id(&sysv_msg, name);

	if (id < 0)
		return id == -EINVAL ? -ENOENT : id;
	if (msgctl(id, IPC_STAT, ds) < 0)
		return errno == EINVAL || errno == EIDRM ? -ENOENT : -errno;
	return id;
}

/* The value of attribute file `arg`, given IPC_STAT's and the id. */
static long sysv_msg_attr_of(const struct msqid_ds *ds, int id, size_t arg)
{
	const long val[] = {
		[SYSV_MSG_COUNT] = (long)ds->msg_qnum,
		[SYSV_MSG_BYTES] = (long)ds->msg_cbytes,
		[SYSV_MSG_QBYTES] = (long)ds->msg_qbytes,
		[SYSV_MSG_LSPID] = ds->msg_lspid,
		[SYSV_MSG_LRPID] = ds->msg_lrpid,
		[SYSV_MSG_ID] = id,
	};

	return val[arg];
}

static int sysv_msg_attr_get(const char *name, size_t arg, char *buf,
			     size_t size)
{
	struct msqid_ds ds;
	int id = sysv_msg_ds(name, &ds);

	if (id < 0)
		return id;
	return snprintf(buf, size, "%ld\n", sysv_msg_attr_of(&ds, id, arg));
}

struct sysv_msg_qbytes_arg {
	int id;
	unsigned long qbytes;
};

/* In the writer's shoes (ipc_as_caller): system calls only. */
static int sysv_msg_qbytes_as(void *arg)
{
	struct sysv_msg_qbytes_arg *a = arg;
	struct msqid_ds ds;

	if (msgctl(a->id, IPC_STAT, &ds) < 0)
		return -errno;
	ds.msg_qbytes = a->qbytes;
	return msgctl(a->id, IPC_SET, &ds) < 0 ? -errno : 0;
}

/*
 * qbytes: IPC_SET as the writer would natively, so the kernel checks it:
 * the owner or creator may, and past kernel.msgmnb only with
 * CAP_SYS_RESOURCE (EPERM). The writer unknown (a unit test): the daemon.
 */
static int sysv_msg_qbytes_set(const char *name, const char *buf, size_t len,
			       const struct ipc_caller *who)
{
	struct sysv_msg_qbytes_arg a;
	struct msqid_ds ds;
	long val;

	if (ipc_parse_long(buf, len, &val) < 0 || val < 0)
		return -EINVAL;
	a.id = sysv_msg_ds(name, &ds);
	if (a.id < 0)
		return a.id;
	a.qbytes = (unsigned long)val;
	return who ? ipc_as_caller(who, sysv_msg_qbytes_as, &a)
		   : sysv_msg_qbytes_as(&a);
}

/* ---------------------------------------------------------------------- */

static const struct ipc_stream_ops sysv_msg_data_ops = {
	.open = sysv_msg_data_open,
	.release = sysv_msg_release,
	.read = sysv_msg_read,
	.unread = sysv_msg_unread,
	.write = sysv_msg_data_write,
	.poll = sysv_msg_poll,
	.flags = IPC_OWN_INODE | IPC_READ_TAKES,
};

static const struct ipc_stream_ops sysv_msg_stream_ops = {
	.open = sysv_msg_stream_open,
	.release = sysv_msg_release,
	.read = sysv_msg_read,
	.unread = sysv_msg_unread,
	.write = sysv_msg_data_write,
	.poll = sysv_msg_poll,
	.flags = IPC_OWN_INODE | IPC_STREAM | IPC_READ_TAKES,
};

static const struct ipc_stream_ops sysv_msg_framed_ops = {
	.open = sysv_msg_framed_open,
	.release = sysv_msg_release,
	.read = sysv_msg_read,
	.unread = sysv_msg_unread,
	.write = sysv_msg_framed_write,
	.poll = sysv_msg_poll,
	.flags = IPC_OWN_INODE | IPC_READ_TAKES,
};

static const struct ipc_file sysv_msg_files[] = {
	{ .name = "data", .mode = 0666, .ops = &sysv_msg_data_ops },
	{ .name = "stream", .mode = 0666, .ops = &sysv_msg_stream_ops },
	{ .name = "framed", .mode = 0666, .ops = &sysv_msg_framed_ops },
	{ .name = "count",
	  .mode = 0444,
	  .get = sysv_msg_attr_get,
	  .arg = SYSV_MSG_COUNT },
	{ .name = "bytes",
	  .mode = 0444,
	  .get = sysv_msg_attr_get,
	  .arg = SYSV_MSG_BYTES },
	{ .name = "qbytes",
	  .mode = 0644,
	  .get = sysv_msg_attr_get,
	  .arg = SYSV_MSG_QBYTES,
	  .set = sysv_msg_qbytes_set },
	{ .name = "lspid",
	  .mode = 0444,
	  .get = sysv_msg_attr_get,
	  .arg = SYSV_MSG_LSPID },
	{ .name = "lrpid",
	  .mode = 0444,
	  .get = sysv_msg_attr_get,
	  .arg = SYSV_MSG_LRPID },
	{ .name = "id",
	  .mode = 0444,
	  .get = sysv_msg_attr_get,
	  .arg = SYSV_MSG_ID },
	{ .name = NULL },
};

const struct ipc_kind sysv_msg_kind = {
	.name = "msg",
	.path = "sysv/msg",
	SYSV_KIND_OPS(sysv_msg),
	.init = sysv_msg_init,
	.fini = sysv_msg_fini,
	.create = sysv_msg_create,
	.files = sysv_msg_files,
};

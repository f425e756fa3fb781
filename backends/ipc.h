/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ipc.h - the contract between the fs layer and the kinds of IPC object.
 *
 * A kind (backends/mq.c, ...) exports one `struct ipc_kind`: how to list,
 * create, remove and describe its objects, and a table of the files each
 * object directory holds. Objects are named by their full POSIX name
 * ("/PREFIXNAME"), or as the kind's name_in says; fs/ adds and strips the
 * mount's prefix for the kinds it applies to, so no kind knows about it.
 * An engine (backends/local.c) is a table of kinds.
 *
 * Every operation returns >= 0 or -errno and never sleeps. One that would
 * block returns -EAGAIN and fills a `struct ipc_wait`: the wait queue to park
 * on and the readiness to await (POLLIN or POLLOUT). fs/ answers EAGAIN to
 * O_NONBLOCK callers; it parks everybody else and calls the operation again
 * when the wait queue fires. Wait queues are embedded in the kind's objects,
 * as wait_queue_head_t is in the kernel's.
 */
#ifndef IPCFS_IPC_H
#define IPCFS_IPC_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

struct fs_park;
struct ipc_watch;

/*
 * A wait queue. `fd` is a descriptor the event loop polls (an mq
 * descriptor), or -1 when only ipc_wake() signals the queue. `idle` is the
 * kind's to set; the rest is fs/park.c's: the requests and pollers parked
 * here.
 */
struct ipc_waitq {
	int fd;
	struct fs_park *parked[2]; /* 0: awaiting POLLIN, 1: POLLOUT */
	struct fs_park **tail[2];
	struct fs_pollh *pollers;
	unsigned int armed;    /* events registered with epoll */
	unsigned int retrying; /* events whose requests are out being retried */
	unsigned int pending;  /* events to retry, set by ipc_wake() */
	bool pending_all;      /* retry every waiter, not just the first */
	bool seen;	       /* the event loop may hold a pointer to it */
	struct ipc_waitq *next_pending;
	/* The kind's: called when the last parked request left unserved. */
	void (*idle)(struct ipc_waitq *wq);
	void (*watch)(struct ipc_waitq *wq); /* see fs_park_watch() */
	struct ipc_waitq *next_watch;
};

void ipc_waitq_init(struct ipc_waitq *wq, int fd);
/* Call with no request parked on wq, and without holding the kind's locks. */
void ipc_waitq_destroy(struct ipc_waitq *wq);
/*
 * Retry the waiters for `events` in arrival order until one still blocks:
 * for waiters that are all alike (any reader of a queue will do). Cheap
 * when nobody waits: it then does nothing.
 */
void ipc_wake(struct ipc_waitq *wq, unsigned int events);
/* Retry every waiter: the state changed for all of them (removed, EOF). */
void ipc_wake_all(struct ipc_waitq *wq);
/*
 * Call gone("/NAME") from the event loop whenever an entry NAME of the
 * directory dirfd is removed, by anybody (inotify): how a kind learns that
 * another program unlinked an object its waiters wait on. gone must not
 * block.
 */
struct ipc_watch *ipc_watch_unlinks(int dirfd, void (*gone)(const char *name));
void ipc_unwatch(struct ipc_watch *w);
/* Who waits on wq now: IPC_WQ_PARKED requests, IPC_WQ_POLLED pollers. */
unsigned int ipc_waitq_active(struct ipc_waitq *wq);
#define IPC_WQ_PARKED 0x1
#define IPC_WQ_POLLED 0x2

struct ipc_wait {
	struct ipc_waitq *wq;
	unsigned int events;
};

/* Who asks: the caller of mkdir, whose object it becomes. */
struct ipc_caller {
	uid_t uid;
	gid_t gid;
	pid_t pid; /* 0: unknown */
	int ngroups;
	gid_t *groups; /* supplementary groups */
};

/*
 * Run fn(arg) as the caller would natively: in a child of the daemon with
 * the caller's uid, gid and groups and the smaller of its and our
 * RLIMIT_MSGQUEUE, so the kernel checks, owns and charges what fn makes as
 * the caller's. fn returns 0 or -errno, and must do nothing but system
 * calls (the child of a threaded daemon may not take a lock). Waits only
 * for that child.
 */
int ipc_as_caller(const struct ipc_caller *c, int (*fn)(void *arg), void *arg);

/*
 * A data file: one handle per open file description. `open` never blocks;
 * `acquire`, if present, is what an open waits for (a semaphore unit) and
 * `release` gives it back. `read` and `write` return a byte count; a write that returns less than asked would block for
 * the rest, and fills *w (fs/ parks the rest unless O_NONBLOCK). `unread`
 * undoes the last read of this handle (which returned len bytes, maybe
 * none) when the reply could not be delivered (interrupted meanwhile), so an
 * interrupted read takes nothing. `poll` returns the ready events and the wait queue that will
 * signal a change.
 */
struct ipc_stream_ops {
	int (*open)(const char *name, int flags, void **fh);
	int (*acquire)(void *fh, struct ipc_wait *w);
	void (*release)(void *fh);
	ssize_t (*read)(void *fh, char *buf, size_t size, off_t off,
			struct ipc_wait *w);
	void (*unread)(void *fh, const char *buf, size_t len);
	ssize_t (*write)(void *fh, const char *buf, size_t size, off_t off,
			 struct ipc_wait *w);
	unsigned int (*poll)(void *fh, struct ipc_waitq **wq);
	int (*truncate)(const char *name, off_t size);
	int (*size)(const char *name, off_t *size);
	unsigned int flags;
};

/*
 * The file may park a writer: give every lookup an inode of its own, so a
 * parked writer never holds the inode lock another writer needs (DESIGN §3).
 */
#define IPC_OWN_INODE 0x1
/* Offsets mean nothing: the file reads like a pipe (nonseekable). */
#define IPC_STREAM 0x2

/*
 * A file of an object directory. Attribute files have get (and set, if
 * writable): get formats "value\n" into buf and returns its length, given
 * the entry's arg (say, which field to show: one getter serves several
 * files); set parses one write. Data files have ops instead.
 */
struct ipc_file {
	const char *name;
	mode_t mode; /* the permission bits the file allows at most */
	/*
	 * What native use needs of the caller on the object beyond the
	 * file's own bits (R_OK|W_OK: sem_open() opens read-write), checked
	 * at open.
	 */
	int need;
	int (*get)(const char *name, size_t arg, char *buf, size_t size);
	size_t arg;
	int (*set)(const char *name, const char *buf, size_t len);
	const struct ipc_stream_ops *ops;
};

/* A mount option of the kind's: -o NAME=N with min <= N <= max. */
struct ipc_option {
	const char *name;
	long *value;
	long min, max;
	const char *help;
};

struct ipc_kind {
	const char *name; /* directory under the root, unless path says */
	/*
	 * Where the kind's directory sits, if not at the root: "sysv/msg".
	 * The directories above it ("sysv") are fs/'s own, read-only, and
	 * there for as long as some kind sits under them.
	 */
	const char *path;
	size_t name_max; /* longest object name, not counting the '/' */
	/*
	 * How a directory name maps to the object's name and back, when not
	 * by the POSIX rule ("jobs" <-> "/jobs", at most name_max characters
	 * after the '/'). name_in writes the object name for DIRNAME into
	 * obj (size bytes: name_max + 2) or returns -EINVAL (no object can
	 * have that name) or -ENAMETOOLONG; name_out writes the directory
	 * name of object OBJ, or returns non-zero to hide the object. fs/
	 * has already refused "", ".", ".." and names with a '/'.
	 */
	int (*name_in)(const char *dirname, char *obj, size_t size);
	int (*name_out)(const char *obj, char *dirname, size_t size);
	/*
	 * The mount's -o prefix= applies: directory NAME is object PREFIXNAME
	 * (mapped as above), and objects outside the prefix are not listed.
	 */
	bool prefixed;
	int (*init)(void);
	void (*fini)(void);
	/* Calls fill for each object's name; stops when fill is non-zero. */
	int (*list)(int (*fill)(void *ctx, const char *name), void *ctx);
	int (*create)(const char *name, mode_t mode,
		      const struct ipc_caller *caller);
	int (*remove)(const char *name);
	/* Owner, group, permission bits and times of the object; -ENOENT. */
	int (*stat)(const char *name, struct stat *st);
	int (*chmod)(const char *name, mode_t mode);
	int (*chown)(const char *name, uid_t uid, gid_t gid);
	const struct ipc_file *files;	  /* ends with a NULL name */
	const struct ipc_option *options; /* ends with a NULL name */
};

/*
 * Where the objects live: a table of kinds and what the whole table needs
 * set up first (a connection). `-o engine=NAME` picks one at start; fs/
 * walks the chosen engine's kinds and names none of them.
 */
struct ipc_engine {
	const char *name;
	const struct ipc_kind *const *kinds; /* NULL-terminated, root order */
	int (*init)(void);
	void (*fini)(void);
};

/* backends/engines.c: every engine, the default first, NULL-terminated. */
extern const struct ipc_engine *const ipc_engines[];

/* backends/local.c: the kinds of this host's IPC (backends/local.def). */
extern const struct ipc_engine local_engine;

/* Log a message on the daemon's stderr (or syslog once daemonized). */
void ipc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Block the signals sent to the daemon, not the faults; *old: the mask. */
void ipc_block_signals(sigset_t *old);

/* Parse a whole decimal number, optionally followed by one newline. */
int ipc_parse_long(const char *buf, size_t len, long *val);

#endif /* IPCFS_IPC_H */

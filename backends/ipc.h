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
 * when the wait queue fires. A kind keeps one wait queue per object.
 */
#ifndef IPCFS_IPC_H
#define IPCFS_IPC_H

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

struct ipc_waitq;  /* fs/park.c's */
struct ipc_watch;  /* fs/watch.c's */
struct ipc_helper; /* fs/helper.c's */

/*
 * A wait queue. fd is a descriptor the event loop polls for its waiters (an
 * mq descriptor), or -1 when only ipc_wake() signals it. NULL: no memory.
 */
struct ipc_waitq *ipc_waitq_new(int fd);
/* Call with nobody parked or polling on wq, and without the kind's locks. */
void ipc_waitq_free(struct ipc_waitq *wq);
/*
 * Retry the waiters for `events` in arrival order until one still blocks:
 * for waiters that are all alike (any reader of a queue will do). Cheap
 * when nobody waits: it then does nothing.
 */
void ipc_wake(struct ipc_waitq *wq, unsigned int events);
/*
 * Retry every waiter for `events`, whether those before it still block:
 * for waiters that are not alike (writers of messages of different
 * lengths: room for a short one is none for a long one ahead of it).
 */
void ipc_wake_every(struct ipc_waitq *wq, unsigned int events);
/* Retry every waiter: the state changed for all of them (removed, EOF). */
void ipc_wake_all(struct ipc_waitq *wq);

/*
 * The daemon's own work that must wait (a message given back to a full
 * queue): run(arg, false) is called from the event loop whenever wq fires
 * for `events`, ahead of the requests parked for them, until it returns
 * anything but -EAGAIN; it must not block. If the daemon stops first,
 * run(arg, true) is called once, with the loop stopped (it may then wait a
 * little). run may drop the last reference to wq's object: fs/ frees the
 * queue only once the loop's round is over.
 */
int ipc_job_park(struct ipc_waitq *wq, unsigned int events,
		 int (*run)(void *arg, bool stopping), void *arg);

/*
 * Call gone("/NAME") from the event loop whenever an entry NAME of the
 * directory dirfd is removed, by anybody (inotify): how a kind learns that
 * another program unlinked an object its waiters wait on. gone must not
 * block.
 */
struct ipc_watch *ipc_watch_unlinks(int dirfd, void (*gone)(const char *name));
void ipc_unwatch(struct ipc_watch *w);

/*
 * A descriptor of a kind's or an engine's own as a wake source of the event
 * loop (a database connection's socket, a timerfd): ready(arg) runs on the
 * loop's thread whenever fd is readable, and must not block. Calls to
 * ipc_wake() from ready are retried at the end of that round.
 * ipc_source_del() returns once the loop holds no pointer to it.
 */
struct ipc_source;
struct ipc_source *ipc_source_add(int fd, void (*ready)(void *arg), void *arg);
void ipc_source_del(struct ipc_source *s);
/* Is this the event loop's thread (where a parked request is retried)? */
bool ipc_in_loop(void);

/*
 * The wait source of what has no descriptor (a semaphore, a System V
 * queue): while requests wait on wq (obj's, or another of obj's), a helper
 * thread makes blocking calls for them, and banks what each brings; a
 * waiter's retry claims one banked item. So waiting costs one thread per
 * wait queue that has waiters, never one per waiter.
 *
 * block(arg, deadline) makes one blocking call (sem_clockwait() on
 * CLOCK_MONOTONIC) and returns 1 when it got an item, 0 when it did not
 * (interrupted, timed out), -errno to give up: every waiter is then retried
 * and must see the error. The helper blocks only while nothing is banked,
 * holds a reference to obj meanwhile (ipc_obj_hold), and runs with every
 * signal blocked but the one fs/helper.c owns, which interrupts the call
 * when the last waiter leaves; a call that takes no deadline (msgrcv) says
 * IPC_HELPER_UNTIMED, and that signal also ends it at the deadline.
 * give_back(arg) returns one banked item nobody claimed. peek(arg) returns
 * the events (POLLIN, POLLOUT) whose waiters could go on now, without
 * taking anything: while only pollers wait, or when there is nothing to
 * block on (block NULL: writers to a full System V queue), there is no
 * event to wait for, so the helper peeks every IPC_HELPER_PERIOD_MS and
 * wakes them. When obj is removed, the helper retries wq's waiters once.
 */
#define IPC_HELPER_PERIOD_MS 100
#define IPC_HELPER_UNTIMED 0x1
/* Its waiters are not alike: a peek's wake retries each (ipc_wake_every). */
#define IPC_HELPER_UNALIKE 0x2
struct ipc_obj;
struct ipc_registry;
struct ipc_helper_ops {
	int (*block)(void *arg, const struct timespec *deadline);
	void (*give_back)(void *arg);
	unsigned int (*peek)(void *arg);
	unsigned int flags;
};
struct ipc_helper *ipc_helper_new(struct ipc_obj *obj, struct ipc_waitq *wq,
				  const struct ipc_helper_ops *ops, void *arg);
void ipc_helper_free(struct ipc_helper *h);
/* A waiter is about to park (or a poller to poll): make sure it is served. */
int ipc_helper_start(struct ipc_helper *h);
/* Take one banked item: true if there was one. */
bool ipc_helper_claim(struct ipc_helper *h);
/* Items banked now (a poller's readiness). */
unsigned int ipc_helper_banked(struct ipc_helper *h);

/* What a request that would block waits for: wq to fire for events. */
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
 * In a data file's open op: the process that opens it (0: unknown). What a
 * kind records of a holder that other mounts must see (the PostgreSQL
 * engine's holders); fs/'s own holders need no kind to know it.
 */
pid_t ipc_opener_pid(void);

/*
 * A data file: one handle per open file description. `open` never blocks;
 * `acquire`, if present, is what an open waits for (a semaphore unit) and
 * `release` gives it back. `read` and `write` return a byte count; a write
 * that returns less than asked would block for the rest, and fills *w (fs/
 * parks the rest unless O_NONBLOCK). `unread` undoes the last read of this
 * handle (which returned len bytes, maybe none) when the reply could not be
 * delivered (interrupted meanwhile), so an interrupted read takes nothing.
 * `poll` returns the ready events and the wait queue that will signal a
 * change. `truncate` and `size` act on the object by name.
 *
 * What a NULL op means, decided here and in fs/file.c only (fs/ refuses a
 * table that breaks these rules at start, fs_kind_check()):
 *   open, release  required: a data file has a handle.
 *   acquire        the open never waits.
 *   read           end-of-file at once (a file whose open is the act: hold).
 *   unread         reads take nothing (a segment), so there is nothing to
 *                  give back. Required when read takes: say so with
 *                  IPC_READ_TAKES.
 *   write          EPERM (the file's mode should not let a writer open it).
 *   poll           always ready for reading and writing: nothing waits.
 *   truncate       success, nothing changes: a stream has no size to set,
 *                  and `echo x > data` truncates before it writes.
 *   size           st_size 0.
 *   peek, take     read copies into fs/'s buffer, which the reply copies
 *                  again. With them, the reply goes out of the object's
 *                  own memory, and nothing is taken before it went out:
 *                  peek returns how many bytes (at off, as read) iov (at
 *                  most two) points at, holding the handle's object locked
 *                  (when it returns >= 0), or -errno (-EAGAIN with *w, as
 *                  read); take(fh, n) takes the first n (0: the reply could
 *                  not go out; a kind whose reads take nothing takes
 *                  nothing) and unlocks. Both or neither; read and unread
 *                  stay required for IPC_READ_TAKES (fs/ uses peek).
 */
struct ipc_stream_ops {
	int (*open)(const char *name, int flags, void **fh);
	int (*acquire)(void *fh, struct ipc_wait *w);
	void (*release)(void *fh);
	ssize_t (*read)(void *fh, char *buf, size_t size, off_t off,
			struct ipc_wait *w);
	void (*unread)(void *fh, const char *buf, size_t len);
	ssize_t (*peek)(void *fh, size_t size, off_t off, struct iovec iov[2],
			int *niov, struct ipc_wait *w);
	void (*take)(void *fh, size_t n);
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
/* A read takes what it returns (a message, bytes, a unit): unread needed. */
#define IPC_READ_TAKES 0x4

/*
 * A file of an object directory. Attribute files have get (and set, if
 * writable): get formats "value\n" into buf and returns its length, given
 * the entry's arg (say, which field to show: one getter serves several
 * files); set parses one write, made by WHO (uid, gid and pid only; NULL
 * when not known: a unit test's). Data files have ops instead.
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
	int (*set)(const char *name, const char *buf, size_t len,
		   const struct ipc_caller *who);
	const struct ipc_stream_ops *ops;
};

/*
 * A mount option of a kind's or an engine's: -o NAME=N with min <= N <=
 * max; or, with `string` instead of `value`, -o NAME=TEXT (the option
 * owns the copy).
 */
struct ipc_option {
	const char *name;
	long *value;
	long min, max;
	const char *help;
	char **string;
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
	/*
	 * list, create, remove and stat are required (fs_kind_check());
	 * without init or fini there is nothing to set up; without chmod or
	 * chown, changing the mode or owner is EPERM.
	 */
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
	/*
	 * True while no object can go unnoticed: any other program's removal
	 * reaches ipc_object_removed() (a watch), or none can remove one (a
	 * daemon's own). The kernel may then keep the entries of the
	 * objects' directories: a path through one costs no lookup of the
	 * object. Without it (NULL, false) every path asks afresh.
	 */
	bool (*watched)(void);
};

/*
 * Another program removed KIND's object NAME (a watch saw it): the kernel
 * forgets the entry of its directory now. For kinds with `watched`.
 */
void ipc_object_removed(const struct ipc_kind *kind, const char *name);
/* kind->watched of kinds whose objects are the daemon's: only rmdir removes. */
bool ipc_daemon_owned(void);

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
	const struct ipc_option *options; /* ends with a NULL name */
};

/* backends/engines.c: every engine, the default first, NULL-terminated. */
extern const struct ipc_engine *const ipc_engines[];

/* backends/local.c: the kinds of this host's IPC (backends/local.def). */
extern const struct ipc_engine local_engine;
/* backends/pg/engine.c: the same tree in a PostgreSQL database. */
extern const struct ipc_engine pg_engine;

/*
 * backends/object.c: the objects a kind has open, by name, shared by all
 * the open files of the tree. One ownership rule for every kind: the
 * registry holds one reference to each object it lists and each user one
 * more; removal (ipc_obj_gone) takes the object out of the registry, marks
 * it removed, retries all its waiters (they see end-of-file or EIDRM) and
 * drops the registry's reference; the last reference frees it.
 */
struct ipc_obj {
	struct ipc_obj *next;
	struct ipc_registry *reg;
	unsigned int refs; /* under reg->lock */
	bool removed;	   /* under reg->lock */
	struct ipc_waitq *wq;
	char *name;
};

struct ipc_registry {
	pthread_mutex_t lock;
	struct ipc_obj *objs;
	/*
	 * The kind's: open the native object NAME into a new object (or
	 * NULL: objects exist only once added, as channels); is o no longer
	 * the object called so (removed or replaced natively); free it.
	 */
	int (*open)(const char *name, struct ipc_obj **o);
	bool (*stale)(struct ipc_obj *o);
	void (*free)(struct ipc_obj *o);
	const char *fenced; /* a name its kind makes again: opens get EBUSY */
};

#define IPC_REGISTRY_INIT(open_, stale_, free_)                                \
	{                                                                      \
		.lock = PTHREAD_MUTEX_INITIALIZER, .open = open_,              \
		.stale = stale_, .free = free_                                 \
	}

/* Fill in the common part of a new object: a wait queue on fd (or -1). */
int ipc_obj_init(struct ipc_obj *o, const char *name, int fd);
/* NAME's object, counted, if the registry has it open; else NULL. */
struct ipc_obj *ipc_obj_find(struct ipc_registry *r, const char *name);
/* NAME's object, counted: found, else opened; NULL with *err. */
struct ipc_obj *ipc_obj_get(struct ipc_registry *r, const char *name, int *err);
int ipc_obj_add(struct ipc_registry *r, struct ipc_obj *o); /* -EEXIST */
/* Free an object ipc_obj_init() made that was never added. */
void ipc_obj_discard(struct ipc_registry *r, struct ipc_obj *o);
void ipc_obj_hold(struct ipc_obj *o);
void ipc_obj_put(struct ipc_obj *o);
bool ipc_obj_removed(struct ipc_obj *o);
/* NAME was removed (by rmdir or anybody): retire its object if stale. */
void ipc_obj_gone(struct ipc_registry *r, const char *name);
/*
 * Retire every object stale says is no longer its name's: for kinds that
 * learn of no removal (System V's), else their registry keeps what was
 * removed natively until somebody opens the name again.
 */
void ipc_obj_prune(struct ipc_registry *r);
/* Retire o whatever stale says; -ENOENT if it was already. */
int ipc_obj_remove(struct ipc_obj *o);
int ipc_obj_list(struct ipc_registry *r,
		 int (*fill)(void *ctx, const char *name), void *ctx);
/* Retry every waiter of every object r has open (their wake-ups were lost). */
void ipc_obj_wake_all(struct ipc_registry *r);
/*
 * What the daemon keeps for an object it owns (a channel, a topic), which
 * no native object could tell: owner, mode, times. Under the kind's lock.
 */
struct ipc_meta {
	mode_t mode;
	uid_t uid;
	gid_t gid;
	struct timespec atime, mtime, ctime;
};

/* Made by CALLER with MODE (umask applied), now. */
void ipc_meta_init(struct ipc_meta *m, mode_t mode,
		   const struct ipc_caller *caller);
void ipc_meta_stat(const struct ipc_meta *m, struct stat *st);
void ipc_meta_chmod(struct ipc_meta *m, mode_t mode);
/* (uid_t)-1 or (gid_t)-1: that one unchanged, as chown(2). */
void ipc_meta_chown(struct ipc_meta *m, uid_t uid, gid_t gid);
/* A time of m (&m->atime, &m->mtime): now. */
void ipc_meta_touch(struct timespec *ts);

/*
 * Keep the tree's opens off NAME (-EBUSY) while its kind makes the object
 * again (queues' maxmsg); -EBUSY if a file of the tree has it open now, or
 * another name is fenced. NAME must live until ipc_obj_unfence().
 */
int ipc_obj_fence(struct ipc_registry *r, const char *name);
void ipc_obj_unfence(struct ipc_registry *r);
/* At exit: drop the registry's references. */
void ipc_obj_clear(struct ipc_registry *r);

/*
 * The one lister of objects that are files in a directory (the mqueue file
 * system, /dev/shm): calls fill("/OBJECT") for each entry but . and ..,
 * where object(dirfd, de) names the entry's object, or NULL when the entry
 * is none (NULL object: the entry's name). Stops when fill is non-zero.
 */
struct dirent;
int ipc_list_dir(int dirfd,
		 const char *(*object)(int dirfd, const struct dirent *de),
		 int (*fill)(void *ctx, const char *name), void *ctx);

/* Log a message on the daemon's stderr (or syslog once daemonized). */
void ipc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Block the signals sent to the daemon, not the faults; *old: the mask. */
void ipc_block_signals(sigset_t *old);

/*
 * The longest message a kind takes from one write(2) (queues' msgsize,
 * topics): FUSE splits a write into requests of at most 1 MiB and 256
 * pages of the caller's buffer, so a buffer that does not start a page
 * gets less than 1 MiB in the first request. Up to 1 MiB less a page, a
 * write always comes whole; a longer one might come in pieces a kind could
 * not tell from messages, but its first piece is longer than this too, so
 * refusing that refuses the whole write (EMSGSIZE). The same on reads: a
 * reply that fills its request makes the kernel ask for more in the same
 * read(2), which a shorter message never does.
 */
#define IPC_MSG_MAX ((1L << 20) - 4096)

/* Parse a whole decimal number, optionally followed by one newline. */
int ipc_parse_long(const char *buf, size_t len, long *val);

/*
 * How many units one write to a semaphore's post file posts (sem/,
 * sysv/sem/, every engine): 1 for an empty line, N for a decimal N with an
 * optional newline. *n is 0 to max; -EOVERFLOW for a number past max (more
 * digits than a long takes too: still a number), -EINVAL for other text.
 */
int ipc_parse_post(const char *buf, size_t len, long max, long *n);

/*
 * The next line of a writer's bytes buf[0..len), which continue a line of
 * which `held` bytes came before; no line may be longer than max bytes, its
 * newline included. Returns 1 when the line ends in buf (*take bytes of buf
 * complete it, the newline included), 0 when buf holds no newline and all
 * of it still fits (*take = len: hold it), -EMSGSIZE when the line is
 * longer than max (*take bytes of buf are its, through its newline if it
 * ends in buf). Reads nothing past len.
 */
int ipc_line_next(const char *buf, size_t len, size_t held, size_t max,
		  size_t *take);

/*
 * A message with its priority as bytes (queues' framed file, for every
 * engine): "PRIO\tMESSAGE", PRIO 1 to IPC_FRAME_DIGITS decimal digits
 * (leading zeros allowed) of a value 0 to IPC_FRAME_PRIO_MAX, one tab, then
 * the message's bytes, any bytes (a tab or a newline among them too), none
 * for an empty message.
 */
#define IPC_FRAME_PRIO_MAX 32767 /* Linux's MQ_PRIO_MAX - 1 */
#define IPC_FRAME_DIGITS 5
#define IPC_FRAME_HEAD_MAX (IPC_FRAME_DIGITS + 1) /* "32767\t" */

/*
 * The head of the frame buf[0..len): its length (PRIO and the tab: the
 * message is buf + that) and *prio, or -EINVAL (no tab after 1 to 5
 * digits, or a priority past IPC_FRAME_PRIO_MAX). Reads nothing past len.
 */
int ipc_frame_parse(const char *buf, size_t len, unsigned int *prio);
/* Write the head "PRIO\t" into head (IPC_FRAME_HEAD_MAX bytes): its length. */
size_t ipc_frame_head(unsigned int prio, char *head);

#endif /* IPCFS_IPC_H */

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fs.h - the FUSE layer's own declarations: nodes, open files, parking.
 *
 * The tree has four levels: the root, one directory per kind, one per
 * object, and the object's files; a kind's path may put read-only
 * directories between the root and its own ("sysv" above "sysv/msg"). A
 * node names one of them. Directories and attribute files keep one node
 * (and node id) for as long as the kernel remembers them; files that can
 * park a writer get a node per lookup (IPC_OWN_INODE), so no two opens
 * share the kernel's inode lock.
 */
#ifndef IPCFS_FS_H
#define IPCFS_FS_H

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdint.h>

#include "ipc.h"

#define FS_MAX_WRITE (1 << 20)

struct fs_conf {
	const char *prefix;
	size_t prefix_len;
	const char *engine_name;	 /* -o engine=NAME */
	const char *log;		 /* -o log=FILE */
	const struct ipc_engine *engine; /* its kinds are the tree's */
	const char *mountpoint;
	const char *source;
	int default_permissions;
	long max_user_files;  /* open files one uid may have */
	long max_files;	      /* open files of everybody */
	long max_user_parked; /* bytes of parked writes one uid may have */
	int show_help;
	int show_version;
};

extern struct fs_conf fs_conf;

/* options.c */
int fs_options_parse(struct fuse_args *args);
void fs_options_help(const char *progname);
void fs_options_free(void);

/* notify.c */
int fs_notify_start(struct fuse_session *se);
void fs_notify_stop(void);
void fs_notify_forget_name(fuse_ino_t parent, const char *name);

/* node.c */
struct fs_node {
	/*
	 * Its bucket's list. Nodes of their own share their path's bucket
	 * (one per open data file, thousands with as many waiters): a
	 * FORGET unlinks in constant time.
	 */
	struct fs_node *hnext, **hprev;
	uint64_t nlookup;
	uint64_t ino; /* st_ino: the same for every node of a path */
	const struct ipc_kind *kind; /* NULL: the root, or above kinds */
	const struct ipc_file *file; /* NULL: a directory */
	/*
	 * An IPC_OWN_INODE file's node has one open file at most that may
	 * write (DESIGN §3; readers may share it): a lookup finds it again
	 * only when idle, neither open nor handed out by a lookup that no
	 * open has followed yet.
	 */
	bool own;
	pid_t handed_to;    /* own: the thread it went to, unopened; 0: none */
	unsigned int opens; /* own: files open on it */
	unsigned int writers; /* own: of which for writing */
	bool retired; /* not findable: its object was removed by rmdir */
	/*
	 * The object's name; "" for the root and kind directories; the path
	 * of a directory above kinds ("sysv").
	 */
	char name[];
};

int fs_node_init(void);
void fs_node_fini(void);
struct fs_node *fs_node_get(fuse_ino_t id);
fuse_ino_t fs_node_id(const struct fs_node *n);
struct fs_node *fs_node_kind(const struct ipc_kind *kind);
/* The files of kind's objects: its table and fs/'s own (show.c). */
const struct ipc_file *fs_node_files(const struct ipc_kind *kind);
struct fs_node *fs_node_child(const struct fs_node *dir, const char *name);
int fs_node_children(const struct fs_node *dir,
		     int (*fill)(void *ctx, const char *name,
				 const struct fs_node *n),
		     void *ctx);
struct fs_node *fs_node_hold(const struct ipc_kind *kind, const char *pname,
			     const struct ipc_file *file, pid_t who);
void fs_node_forget(struct fs_node *n, uint64_t nlookup);
/* One more lookup of n, ours: fs_node_forget(n, 1) drops it. */
void fs_node_ref(struct fs_node *n);
void fs_node_retire(const struct ipc_kind *kind, const char *pname);
/* A file opens on n (keeping a lookup of it), or is gone. */
int fs_node_open(struct fs_node *n, pid_t who, bool writing);
void fs_node_close(struct fs_node *n, bool writing);
void fs_node_parked(const struct fs_node *n);
uint64_t fs_node_ino(const struct ipc_kind *kind, const char *pname,
		     const struct ipc_file *file);
int fs_node_stat(const struct fs_node *n, struct stat *st);

/* park.c: requests waiting on ipc_waitqs, served by the event loop. */
struct fs_park {
	struct fs_park *next, **pprev; /* in its wait queue */
	struct fs_park *all_next, **all_pprev;
	fuse_req_t req;
	struct ipc_wait wait;
	/*
	 * Try the operation once. Either reply, free and return 0, or return
	 * -EAGAIN with wait filled in.
	 */
	int (*attempt)(struct fs_park *p);
	/*
	 * Reply to an interrupted request and free it. Called settled: from
	 * the interrupt callback itself, or after fs_park_settle().
	 */
	void (*cancel)(struct fs_park *p);
	unsigned char state;
	bool interrupted;
	bool registered;
};

/*
 * show.c: the requests parked on an object and the opens holding a unit
 * of it, for its waiters and holders files (DESIGN §4).
 */
struct fs_shown {
	struct fs_shown *next, *prev; /* under show.c's lock */
	struct fs_node *node;	      /* a lookup of it is ours while listed */
	uint64_t obj;		      /* the object directory's st_ino */
	ino_t id;		      /* holders: the object's own, or 0 */
	const char *file;	      /* "data", "wait", ... */
	pid_t pid;		      /* the thread FUSE names */
	pid_t process;		      /* its process, once looked up */
	bool listed;		      /* only its owner looks */
};

struct ipc_file *fs_show_files(const struct ipc_kind *kind);
bool fs_show_is(const struct ipc_file *file);
bool fs_show_reserved(const struct ipc_file *file);
pid_t fs_show_process(pid_t tid);
void fs_show_waiting(struct fs_shown *s, struct fs_node *n,
		     const struct ipc_file *file, pid_t pid);
void fs_show_holding(struct fs_shown *s, struct fs_node *n,
		     const struct ipc_file *file, pid_t pid);
void fs_show_done(struct fs_shown *s);
int fs_show_format(const struct fs_node *n, char **val, int *len);

/* loop.c: the event loop thread and its wake sources. */
struct fs_source {
	int fd;
	/* Called from the loop with POLLIN and/or POLLOUT: fd is ready. */
	void (*fire)(struct fs_source *src, unsigned int events);
	unsigned int armed; /* the events epoll reports */
	bool seen;	    /* the loop may hold a pointer to it */
};

/* A wait queue: the requests and pollers waiting on one thing of a kind's. */
struct ipc_waitq {
	struct fs_source src;	   /* fd: the kind's descriptor, or -1 */
	struct fs_park *parked[2]; /* 0: awaiting POLLIN, 1: POLLOUT */
	struct fs_park **tail[2];
	struct fs_pollh *pollers;
	unsigned int retrying; /* events whose requests are out being retried */
	unsigned int pending;  /* events to retry, set by ipc_wake() */
	bool pending_all;      /* retry every waiter, not just the first */
	struct ipc_waitq *next_pending;
	void (*idle)(void *arg); /* the last parked request left */
	void *idle_arg;
	bool freed; /* ipc_waitq_free()d: the loop frees it after its round */
};

struct fs_pollh {
	struct fs_pollh *next;
	struct ipc_waitq *wq;
	struct fuse_pollhandle *ph;
	unsigned int events;
};

int fs_park_start_loop(void);
void fs_park_stop_loop(void);
void fs_park_submit(struct fs_park *p);
bool fs_park_settle(struct fs_park *p);
void fs_park_poll(struct fs_pollh *h, struct ipc_waitq *wq,
		  struct fuse_pollhandle *ph, unsigned int events);
void fs_park_unpoll(struct fs_pollh *h);
/* Who waits on wq now: FS_WQ_PARKED requests, FS_WQ_POLLED pollers. */
unsigned int fs_waitq_active(struct ipc_waitq *wq);
#define FS_WQ_PARKED 0x1
#define FS_WQ_POLLED 0x2
/* Call idle(arg) when the last parked request leaves, served or not. */
void fs_waitq_on_idle(struct ipc_waitq *wq, void (*idle)(void *arg), void *arg);

/* loop.c */
int fs_loop_init(void);
void fs_loop_fini(void);
int fs_loop_start(void (*round)(void));
void fs_loop_stop(void);
void fs_loop_arm(struct fs_source *src, unsigned int events);
void fs_loop_forget(struct fs_source *src);
void fs_loop_kick(void);
bool fs_loop_in_thread(void);
void fs_loop_defer(void (*fn)(void *), void *arg);

/* helper.c */
void fs_helpers_drain(void);

/* file.c: open files. */
void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi);
void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
	      off_t off, struct fuse_file_info *fi);
void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
	     struct fuse_pollhandle *ph);
void fs_files_release_all(void);
int fs_kind_check(const struct ipc_kind *kind);

/* ops.c */
extern const struct fuse_lowlevel_ops fs_ops;
void fs_dirs_release_all(void);

/*
 * util.c: what the daemon must release at exit if the kernel never sends
 * the release (open files, directory listings), linked first in each.
 */
struct fs_link {
	struct fs_link *next, **pprev;
};

struct fs_links {
	pthread_mutex_t lock;
	struct fs_link *head;
};

#define FS_LINKS_INIT                                                          \
	{                                                                      \
		.lock = PTHREAD_MUTEX_INITIALIZER                              \
	}

void fs_links_add(struct fs_links *l, struct fs_link *e);
void fs_links_del(struct fs_links *l, struct fs_link *e); /* once added */
struct fs_link *fs_links_first(struct fs_links *l);

/* util.c */
int fs_log_open(const char *path);
void fs_log_daemonized(void);
void fs_log_started(const char *mnt);
const char *fs_log_where(void);
void fs_log_close(void);
int fs_object_pname(const struct ipc_kind *kind, const char *name,
		    char **pname);
int fs_caller(fuse_req_t req, struct ipc_caller *c);
void fs_caller_free(struct ipc_caller *c);
int fs_caller_may(fuse_req_t req, const struct stat *st, int need);
const char *fs_display_name(const struct ipc_kind *kind, const char *pname,
			    char *buf, size_t size);
char *fs_buf(size_t size);
int fs_reply_copy(fuse_req_t req, const char *buf, size_t len);

#endif /* IPCFS_FS_H */

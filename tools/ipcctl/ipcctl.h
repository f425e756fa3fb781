/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ipcctl.h - what the parts of ipcctl share: the verbs, the helpers of
 * ipcctl.c, the walk of a mounted tree (tree.c) and the tables libsmartcols
 * prints (table.c).
 *
 * ls learns the kinds, their objects and the objects' files from the tree;
 * only -Q -C -M -S -T name root directories (ls.c), and ls -g reads
 * queues/ and channels/ (limits.c). Both read only the attribute files of
 * tree.c's allow-list, never a file that consumes or waits.
 */
#ifndef IPCCTL_H
#define IPCCTL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

/* Exit statuses, as timeout(1) and env(1) have them. */
#define IPCCTL_OK 0
#define IPCCTL_FAIL 1
#define IPCCTL_USAGE 2
#define IPCCTL_TIMEDOUT 124
#define IPCCTL_CANNOT_EXEC 126
#define IPCCTL_NOT_FOUND 127

/* getopt_long's value of --timeout, which has no short option */
#define IPCCTL_OPT_TIMEOUT 256

struct ipcctl_verb {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the verb */
	const char *synopsis;		   /* the lines after "usage: " */
	const char *help;		   /* what VERB --help adds */
};

extern const struct ipcctl_verb ls_verb, mkdir_verb, queue_send_verb,
	queue_recv_verb, semaphore_wait_verb, semaphore_post_verb,
	semaphore_hold_verb, topic_publish_verb, topic_subscribe_verb;

/* ipcctl.c */
int ipcctl_usage(const struct ipcctl_verb *verb, FILE *out);
int ipcctl_error(const char *path);
int ipcctl_parse_number(const char *text, long long *val);
int ipcctl_xattr_number(const char *path, const char *name, long long *val);
int ipcctl_parse_timeout(const char *arg, struct timespec *ts);

/* A timer whose SIGALRM interrupts a blocking call: see ipcctl.c. */
struct ipcctl_timer {
	bool armed;
	timer_t id;
	struct sigaction action; /* SIGALRM's, as ipcctl was given it */
	sigset_t mask;		 /* the signal mask ipcctl was given */
};

int ipcctl_timer_start(struct ipcctl_timer *tm, const struct timespec *timeout);
void ipcctl_timer_stop(struct ipcctl_timer *tm);

/* tree.c: the objects of a mounted tree and their attribute files */
enum tree_attr {
	TREE_COUNT,
	TREE_MAXMSG,
	TREE_MSGSIZE,
	TREE_BYTES,
	TREE_CAPACITY,
	TREE_READERS,
	TREE_WRITERS,
	TREE_SIZE,
	TREE_VALUE,
	TREE_WAITERS,
	TREE_HOLDERS,
	TREE_SUBSCRIBERS,
	TREE_PUBLISHED,
	TREE_DROPPED,
	TREE_BACKLOG,
	TREE_ID,
	TREE_NSEMS,
	TREE_NATTRS
};

#define TREE_ATTR(a) (1u << (a))

struct tree_object {
	const char *kind; /* its directory's path under the root: "queues" */
	size_t kind_seq;  /* that directory's place in the tree's order */
	char *name;
	struct stat st;	  /* of the object's directory */
	unsigned int has; /* TREE_ATTR()s read into val */
	long long val[TREE_NATTRS];
};

struct tree {
	const char *mnt;	  /* set by tree_walk() */
	long long pid;		  /* the daemon's: the root's user.ipcfs.pid */
	unsigned int want;	  /* TREE_ATTR()s to read */
	const char *const *roots; /* kinds to walk: "queues", "sysv/msg" */
	size_t nroots;		  /* 0: all of them */
	struct tree_object *objs;
	size_t nobjs, cap;
	char **kinds;
	size_t nkinds;
	bool failed; /* an error other than a vanishing object was told */
};

int tree_find_mount(const char *fstype, char ***list);
int tree_walk(struct tree *t, const char *mnt);
void tree_free(struct tree *t);

/* table.c: the columns a verb offers, and its libsmartcols table */
struct table_column {
	const char *name;
	const char *help;
	double whint;
	int flags; /* SCOLS_FL_* */
	int json;  /* SCOLS_JSON_* */
	int what;  /* the verb's: where a cell comes from */
};

struct table_opts {
	bool json;
	bool raw;
	bool noheadings;
	const char *output; /* -o LIST, or NULL */
};

#define TABLE_COLUMNS_MAX 64

struct table {
	struct libscols_table *tb;
	const struct table_column
		*cols[TABLE_COLUMNS_MAX]; /* chosen, in order */
	size_t ncols;
};

int table_new(struct table *t, const char *name, const struct table_opts *o,
	      const struct table_column *all, size_t nall, const char *dflt);
struct libscols_line *table_line(struct table *t);
int table_set(struct table *t, struct libscols_line *ln, size_t i,
	      const char *data);
int table_set_number(struct table *t, struct libscols_line *ln, size_t i,
		     long long v);
int table_print(struct table *t);
void table_free(struct table *t);
void table_help_columns(FILE *out, const struct table_column *all, size_t nall);

/* limits.c: ls -g, and the limits mkdir's hints name */
enum limits_resource {
	LIMITS_MQUEUES,	 /* queues of the system: fs.mqueue.queues_max */
	LIMITS_MQMSGS,	 /* messages per queue: fs.mqueue.msg_max */
	LIMITS_MQSIZE,	 /* message size: fs.mqueue.msgsize_max */
	LIMITS_MQBYTES,	 /* RLIMIT_MSGQUEUE, the kernel's charge of queues */
	LIMITS_CHANMEM,	 /* -o chan_max_total, the channels' capacity */
	LIMITS_TOPICMEM, /* -o topic_max_total; what is used is not shown */
	/* System V: kernel.msg*, shm*, sem; rows where the tree has the kind */
	LIMITS_MSGMNI, /* queues of the system */
	LIMITS_MSGMAX, /* message size */
	LIMITS_MSGMNB, /* a new queue's qbytes; more needs CAP_SYS_RESOURCE */
	LIMITS_SHMMAX, /* segment size */
	LIMITS_SHMALL, /* pages of all segments */
	LIMITS_SHMMNI, /* segments of the system */
	LIMITS_SEMMSL, /* semaphores per set */
	LIMITS_SEMMNS, /* semaphores of the system */
	LIMITS_SEMOPM, /* operations per semop */
	LIMITS_SEMMNI, /* sets of the system */
	LIMITS_NROWS
};

struct limits_row {
	const char *resource;
	const char *description;
	bool absent; /* a row of a kind the mount has not: not listed */
	bool has_limit, has_used;
	unsigned long long limit; /* shmmax's default is 2^64 - 2^24 - 1 */
	long long used;
};

int limits_collect(const char *mnt, struct limits_row *rows);
long long limits_queue_charge(long long maxmsg, long long msgsize);
bool limits_sysctl(const char *path, long long *val);
int limits_list(const char *mnt, const struct table_opts *o);
void limits_help(FILE *out);

#endif /* IPCCTL_H */

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * limits.c - ipcctl ls -g: the limits users of a mount run into, with
 * lsipc -g's columns, and how much of each is used where that can be known
 * (an unknown cell is empty, null in JSON).
 *
 *   $ ipcctl ls -g
 *   RESOURCE DESCRIPTION                          LIMIT   USED USE%
 *   MQUEUES  POSIX message queues, system-wide      256      3 1.17%
 *   ...
 *
 * The system's limits come from /proc/sys/fs/mqueue and /proc/sys/kernel
 * (msg*, shm*, sem: ipcctl's IPC namespace, which is the daemon's unless
 * one of them was started in another), the daemon's from the mount's root
 * (user.ipcfs.pid, user.ipcfs.option.*), what is used from the tree's
 * queues, channels and System V objects (nothing tells what the topics
 * hold).
 */
#include <dirent.h>
#include <errno.h>
#include <libsmartcols.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipcctl.h"

enum limits_what {
	LIMITS_RESOURCE,
	LIMITS_DESCRIPTION,
	LIMITS_LIMIT,
	LIMITS_USED,
	LIMITS_USE,
};

static const struct table_column limits_columns[] = {
	{ "RESOURCE", "the resource", 0, 0, SCOLS_JSON_STRING,
	  LIMITS_RESOURCE },
	{ "DESCRIPTION", "what it is", 0, SCOLS_FL_TRUNC, SCOLS_JSON_STRING,
	  LIMITS_DESCRIPTION },
	{ "LIMIT", "how much there may be", 0, SCOLS_FL_RIGHT,
	  SCOLS_JSON_NUMBER, LIMITS_LIMIT },
	{ "USED", "how much there is", 0, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	  LIMITS_USED },
	{ "USE%", "USED in percent of LIMIT", 0, SCOLS_FL_RIGHT,
	  SCOLS_JSON_STRING, LIMITS_USE },
};

#define LIMITS_NCOLUMNS (sizeof(limits_columns) / sizeof(limits_columns[0]))
#define LIMITS_DEFAULT "RESOURCE,DESCRIPTION,LIMIT,USED,USE%"

static const char *const limits_names[LIMITS_NROWS][2] = {
	[LIMITS_MQUEUES] = { "MQUEUES", "POSIX message queues, system-wide" },
	[LIMITS_MQMSGS] = { "MQMSGS", "messages per queue" },
	[LIMITS_MQSIZE] = { "MQSIZE", "message size" },
	[LIMITS_MQBYTES] = { "MQBYTES", "queue bytes per user" },
	[LIMITS_CHANMEM] = { "CHANMEM", "channel memory of the mount" },
	[LIMITS_TOPICMEM] = { "TOPICMEM", "topic memory of the mount" },
	[LIMITS_MSGMNI] = { "MSGMNI", "System V message queues, system-wide" },
	[LIMITS_MSGMAX] = { "MSGMAX", "System V message size" },
	[LIMITS_MSGMNB] = { "MSGMNB", "bytes per System V queue (qbytes)" },
	[LIMITS_SHMMAX] = { "SHMMAX", "System V segment size" },
	[LIMITS_SHMALL] = { "SHMALL",
			    "System V shared memory pages, system-wide" },
	[LIMITS_SHMMNI] = { "SHMMNI", "System V segments, system-wide" },
	[LIMITS_SEMMSL] = { "SEMMSL", "semaphores per System V set" },
	[LIMITS_SEMMNS] = { "SEMMNS", "System V semaphores, system-wide" },
	[LIMITS_SEMOPM] = { "SEMOPM", "operations per semop call" },
	[LIMITS_SEMMNI] = { "SEMMNI", "System V semaphore sets, system-wide" },
};

/*
 * The System V rows: the kind they are of (no row where the tree has not
 * its directory), where the limit is (field FIELD of a /proc/sys/kernel
 * file: sem holds four), and whether the tree tells what is used.
 */
static const struct {
	enum limits_resource row;
	const char *kind;
	const char *sysctl;
	int field;
	bool used;
} limits_sysv[] = {
	{ LIMITS_MSGMNI, "sysv/msg", "/proc/sys/kernel/msgmni", 0, true },
	{ LIMITS_MSGMAX, "sysv/msg", "/proc/sys/kernel/msgmax", 0, false },
	{ LIMITS_MSGMNB, "sysv/msg", "/proc/sys/kernel/msgmnb", 0, true },
	{ LIMITS_SHMMAX, "sysv/shm", "/proc/sys/kernel/shmmax", 0, true },
	{ LIMITS_SHMALL, "sysv/shm", "/proc/sys/kernel/shmall", 0, true },
	{ LIMITS_SHMMNI, "sysv/shm", "/proc/sys/kernel/shmmni", 0, true },
	{ LIMITS_SEMMSL, "sysv/sem", "/proc/sys/kernel/sem", 0, true },
	{ LIMITS_SEMMNS, "sysv/sem", "/proc/sys/kernel/sem", 1, true },
	{ LIMITS_SEMOPM, "sysv/sem", "/proc/sys/kernel/sem", 2, false },
	{ LIMITS_SEMMNI, "sysv/sem", "/proc/sys/kernel/sem", 3, true },
};

#define LIMITS_NSYSV (sizeof(limits_sysv) / sizeof(limits_sysv[0]))

/* The kernel's charge of a queue, against its creator's RLIMIT_MSGQUEUE. */
#define LIMITS_MSG_MSG 48   /* sizeof(struct msg_msg), 64-bit */
#define LIMITS_TREE_NODE 48 /* sizeof(struct posix_msg_tree_node), 64-bit */
#define LIMITS_MQ_PRIO_MAX 32768

/*
 * What the kernel charges the creator of a queue of MAXMSG messages of
 * MSGSIZE bytes (ipc/mqueue.c, mqueue_get_inode): its messages with their
 * headers, and the priority tree's nodes.
 */
long long limits_queue_charge(long long maxmsg, long long msgsize)
{
	return maxmsg * (msgsize + LIMITS_MSG_MSG) +
	       (maxmsg < LIMITS_MQ_PRIO_MAX ? maxmsg : LIMITS_MQ_PRIO_MAX) *
		       LIMITS_TREE_NODE;
}

/*
 * Number FIELD (from 0) of a file of /proc/sys holding numbers apart by
 * blanks, as kernel/sem does. Unsigned: kernel/shmmax and shmall are
 * 2^64 - 2^24 - 1 by default.
 */
static bool limits_sysctl_field(const char *path, int field,
				unsigned long long *val)
{
	FILE *f = fopen(path, "re");
	char buf[128], *tok, *save, *end;
	bool ok = false;

	tok = f && fgets(buf, sizeof(buf), f) ? strtok_r(buf, " \t\n", &save)
					      : NULL;
	for (; tok && field > 0; field--)
		tok = strtok_r(NULL, " \t\n", &save);
	if (tok && *tok >= '0' && *tok <= '9') {
		errno = 0;
		*val = strtoull(tok, &end, 10);
		ok = !errno && !*end;
	}
	if (f)
		fclose(f);
	return ok;
}

/* A file of /proc/sys holding one number. */
bool limits_sysctl(const char *path, long long *val)
{
	unsigned long long v;
	bool ok;

	ok = limits_sysctl_field(path, 0, &v) && v <= LLONG_MAX;
	if (ok)
		*val = v;
	return ok;
}

/*
 * The soft RLIMIT_MSGQUEUE of the daemon of PID (its root's user.ipcfs.pid):
 * /proc/PID/limits's "Max msgqueue size" line. "unlimited" is no limit.
 */
static bool limits_daemon_msgqueue(long long pid, long long *val)
{
	static const char key[] = "Max msgqueue size";
	char path[64], *line = NULL, soft[32];
	size_t cap = 0;
	bool ok = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%lld/limits", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!ok && getline(&line, &cap, f) > 0) {
		if (strncmp(line, key, sizeof(key) - 1) != 0 ||
		    sscanf(line + sizeof(key) - 1, "%31s", soft) != 1)
			continue;
		ok = ipcctl_parse_number(soft, val) == 0;
		break;
	}
	free(line);
	fclose(f);
	return ok;
}

/* A limit read as a signed number (an xattr, /proc/PID/limits) into R. */
static void limits_set(struct limits_row *r, bool ok, const long long *v)
{
	r->has_limit = ok && *v >= 0;
	if (r->has_limit)
		r->limit = *v;
}

/*
 * What queues made through the tree may reserve for you: the daemon makes
 * them as its caller, with the smaller of its own RLIMIT_MSGQUEUE and the
 * caller's (backends/caller.c), so the smaller of the daemon's and ours.
 */
static void limits_msgqueue(long long pid, struct limits_row *r)
{
	struct rlimit own;
	long long v;

	limits_set(r, limits_daemon_msgqueue(pid, &v), &v);
	if (getrlimit(RLIMIT_MSGQUEUE, &own) < 0 ||
	    own.rlim_cur == RLIM_INFINITY)
		return;
	if (!r->has_limit || own.rlim_cur < r->limit)
		r->limit = own.rlim_cur;
	r->has_limit = true;
}

/* Queues of the system: the entries of an mqueue file system, if mounted. */
static bool limits_system_queues(long long *val)
{
	struct dirent *de;
	char **list;
	int n, i;
	DIR *d;

	n = tree_find_mount("mqueue", &list);
	d = n > 0 ? opendir(list[0]) : NULL;
	for (*val = 0; d && (de = readdir(d));)
		*val += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	if (d)
		closedir(d);
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return d != NULL;
}

/* R's used grows to attribute A of O, if O has it. */
static void limits_max(struct limits_row *r, const struct tree_object *o,
		       enum tree_attr a)
{
	if (o->has & TREE_ATTR(a) && o->val[a] > r->used)
		r->used = o->val[a];
}

/* What POSIX queue O uses of MQMSGS, MQSIZE and (yours) MQBYTES. */
static void limits_queue(const struct tree_object *o, struct limits_row *r)
{
	unsigned int mq = TREE_ATTR(TREE_MAXMSG) | TREE_ATTR(TREE_MSGSIZE);

	limits_max(&r[LIMITS_MQMSGS], o, TREE_MAXMSG);
	limits_max(&r[LIMITS_MQSIZE], o, TREE_MSGSIZE);
	/* The MQBYTES row counts the queues of the user running ipcctl. */
	if (o->st.st_uid == getuid() && (o->has & mq) == mq)
		r[LIMITS_MQBYTES].used += limits_queue_charge(
			o->val[TREE_MAXMSG], o->val[TREE_MSGSIZE]);
}

/*
 * What System V object O uses of its kind's limits: one of the kind's
 * objects, its qbytes, its size in bytes and in pages, its semaphores.
 */
static void limits_sysv_object(const struct tree_object *o,
			       struct limits_row *r)
{
	long long page = sysconf(_SC_PAGESIZE);

	if (strcmp(o->kind, "sysv/msg") == 0) {
		r[LIMITS_MSGMNI].used++;
		limits_max(&r[LIMITS_MSGMNB], o, TREE_CAPACITY);
	} else if (strcmp(o->kind, "sysv/shm") == 0) {
		r[LIMITS_SHMMNI].used++;
		limits_max(&r[LIMITS_SHMMAX], o, TREE_SIZE);
		if (o->has & TREE_ATTR(TREE_SIZE))
			r[LIMITS_SHMALL].used +=
				(o->val[TREE_SIZE] + page - 1) / page;
	} else if (strcmp(o->kind, "sysv/sem") == 0) {
		r[LIMITS_SEMMNI].used++;
		limits_max(&r[LIMITS_SEMMSL], o, TREE_NSEMS);
		if (o->has & TREE_ATTR(TREE_NSEMS))
			r[LIMITS_SEMMNS].used += o->val[TREE_NSEMS];
	}
}

/* The System V rows of the kinds the mount at MNT has, the others absent. */
static void limits_sysv_rows(const char *mnt, struct limits_row *r)
{
	struct limits_row *row;
	char path[PATH_MAX];
	struct stat st;
	size_t i;

	for (i = 0; i < LIMITS_NSYSV; i++) {
		row = &r[limits_sysv[i].row];
		snprintf(path, sizeof(path), "%s/%s", mnt, limits_sysv[i].kind);
		row->absent = stat(path, &st) < 0 || !S_ISDIR(st.st_mode);
		row->has_used = limits_sysv[i].used;
		row->has_limit =
			limits_sysctl_field(limits_sysv[i].sysctl,
					    limits_sysv[i].field, &row->limit);
	}
}

static void limits_rows(const char *mnt, const struct tree *t,
			struct limits_row *r)
{
	const struct tree_object *o;
	long long queues = 0, v;
	size_t i;

	for (i = 0; i < LIMITS_NROWS; i++)
		r[i] = (struct limits_row){ .resource = limits_names[i][0],
					    .description = limits_names[i][1] };
	r[LIMITS_MQMSGS].has_used = r[LIMITS_MQSIZE].has_used = true;
	r[LIMITS_MQBYTES].has_used = r[LIMITS_CHANMEM].has_used = true;
	for (i = 0; i < t->nobjs; i++) {
		o = &t->objs[i];
		if (strcmp(o->kind, "channels") == 0 &&
		    (o->has & TREE_ATTR(TREE_CAPACITY)))
			r[LIMITS_CHANMEM].used += o->val[TREE_CAPACITY];
		if (strcmp(o->kind, "queues") == 0) {
			queues++;
			limits_queue(o, r);
		}
		limits_sysv_object(o, r);
	}
	r[LIMITS_MQUEUES].has_limit = limits_sysctl_field(
		"/proc/sys/fs/mqueue/queues_max", 0, &r[LIMITS_MQUEUES].limit);
	r[LIMITS_MQUEUES].has_used = true;
	if (!limits_system_queues(&r[LIMITS_MQUEUES].used))
		r[LIMITS_MQUEUES].used = queues;
	r[LIMITS_MQMSGS].has_limit = limits_sysctl_field(
		"/proc/sys/fs/mqueue/msg_max", 0, &r[LIMITS_MQMSGS].limit);
	r[LIMITS_MQSIZE].has_limit = limits_sysctl_field(
		"/proc/sys/fs/mqueue/msgsize_max", 0, &r[LIMITS_MQSIZE].limit);
	limits_msgqueue(t->pid, &r[LIMITS_MQBYTES]);
	limits_set(&r[LIMITS_CHANMEM],
		   ipcctl_xattr_number(mnt, "user.ipcfs.option.chan_max_total",
				       &v) == 0,
		   &v);
	/*
	 * The bytes the topics hold now are in no file of the tree (only
	 * the daemon knows which messages its readers still share), so
	 * USED stays unknown. A mount without topics/ has no such option:
	 * no row.
	 */
	limits_set(&r[LIMITS_TOPICMEM],
		   ipcctl_xattr_number(mnt, "user.ipcfs.option.topic_max_total",
				       &v) == 0,
		   &v);
	r[LIMITS_TOPICMEM].absent = !r[LIMITS_TOPICMEM].has_limit;
	limits_sysv_rows(mnt, r);
}

static int limits_row(struct table *t, const struct limits_row *r)
{
	struct libscols_line *ln = table_line(t);
	char use[32];
	size_t i;
	int ret = 0;

	if (!ln)
		return -ENOMEM;
	for (i = 0; i < t->ncols && ret == 0; i++) {
		switch (t->cols[i]->what) {
		case LIMITS_RESOURCE:
			ret = table_set(t, ln, i, r->resource);
			break;
		case LIMITS_DESCRIPTION:
			ret = table_set(t, ln, i, r->description);
			break;
		case LIMITS_LIMIT:
			if (r->has_limit) {
				snprintf(use, sizeof(use), "%llu", r->limit);
				ret = table_set(t, ln, i, use);
			}
			break;
		case LIMITS_USED:
			if (r->has_used)
				ret = table_set_number(t, ln, i, r->used);
			break;
		default:
			if (!r->has_limit || !r->has_used || r->limit == 0)
				break;
			snprintf(use, sizeof(use), "%.2f%%",
				 (double)r->used * 100 / r->limit);
			ret = table_set(t, ln, i, use);
			break;
		}
	}
	return ret;
}

/*
 * The rows of ls -g of the mount at MNT into ROWS (LIMITS_NROWS of them):
 * 0, 1 if something was told on the way but the rows are there, or -1
 * (told) when MNT is no ipcfs mount or cannot be read. mkdir's hints
 * read them too.
 */
int limits_collect(const char *mnt, struct limits_row *rows)
{
	static const char *const roots[] = { "queues", "channels", "sysv/msg",
					     "sysv/shm", "sysv/sem" };
	struct tree tree = {
		.roots = roots,
		.nroots = sizeof(roots) / sizeof(roots[0]),
		.want = TREE_ATTR(TREE_MAXMSG) | TREE_ATTR(TREE_MSGSIZE) |
			TREE_ATTR(TREE_CAPACITY) | TREE_ATTR(TREE_SIZE) |
			TREE_ATTR(TREE_NSEMS),
	};
	int ret;

	ret = tree_walk(&tree, mnt);
	if (ret == 0) {
		limits_rows(mnt, &tree, rows);
		ret = tree.failed;
	}
	tree_free(&tree);
	return ret;
}

/* ls -g of the mount at MNT: the table of O's columns. */
int limits_list(const char *mnt, const struct table_opts *o)
{
	struct limits_row rows[LIMITS_NROWS];
	struct table t;
	bool failed;
	size_t i;
	int ret;

	ret = table_new(&t, "limits", o, limits_columns, LIMITS_NCOLUMNS,
			LIMITS_DEFAULT);
	if (ret < 0)
		return ret == -EINVAL ? IPCCTL_USAGE : IPCCTL_FAIL;
	ret = limits_collect(mnt, rows);
	failed = ret != 0;
	for (i = 0; ret >= 0 && i < LIMITS_NROWS; i++)
		if (!rows[i].absent)
			ret = limits_row(&t, &rows[i]);
	if (ret >= 0)
		ret = table_print(&t);
	ret = ret < 0 || failed ? IPCCTL_FAIL : IPCCTL_OK;
	table_free(&t);
	return ret;
}

void limits_help(FILE *out)
{
	fprintf(out, "\nColumns of -g (default: %s):\n", LIMITS_DEFAULT);
	table_help_columns(out, limits_columns, LIMITS_NCOLUMNS);
	fprintf(out,
		"\nRows of -g:\n"
		"      MQUEUES  queues of the system (fs/mqueue/queues_max)\n"
		"       MQMSGS  messages per queue (fs/mqueue/msg_max), the largest MAXMSG\n"
		"       MQSIZE  message size (fs/mqueue/msgsize_max), the largest MSGSIZE\n"
		"      MQBYTES  the smaller RLIMIT_MSGQUEUE of the daemon's and yours\n"
		"               (queues are made as you), the kernel's charge of\n"
		"               the tree's queues that are yours\n"
		"      CHANMEM  -o chan_max_total, the capacity of the channels\n"
		"     TOPICMEM  -o topic_max_total; USED unknown (the bytes topics\n"
		"               hold are in no file); no row without topics/\n"
		"System V (kernel/msg*, shm*, sem; rows only where the mount has the\n"
		"kind; USED: of the objects sysv/ shows):\n"
		"       MSGMNI  queues of the system (kernel/msgmni), how many\n"
		"       MSGMAX  message size (kernel/msgmax)\n"
		"       MSGMNB  a new queue's qbytes (kernel/msgmnb), the largest CAPACITY\n"
		"       SHMMAX  segment size (kernel/shmmax), the largest SIZE\n"
		"       SHMALL  pages of all segments (kernel/shmall), their pages\n"
		"       SHMMNI  segments of the system (kernel/shmmni), how many\n"
		"       SEMMSL  semaphores per set (kernel/sem), the largest set\n"
		"       SEMMNS  semaphores of the system (kernel/sem), how many\n"
		"       SEMOPM  operations per semop call (kernel/sem)\n"
		"       SEMMNI  sets of the system (kernel/sem), how many\n");
}

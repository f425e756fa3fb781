// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * util.c - small services the fs layer offers everybody: logging, number
 * parsing, and the mapping between directory names and object names
 * ("jobs" <-> "/PREFIXjobs", or as the kind says).
 *
 * Messages go to -o log=FILE if given (foreground or not; while the daemon
 * starts, to stderr as well); else to stderr until the daemon detaches,
 * then to syslog if /dev/log is there, else to /run/ipcfs/ipcfs.PID.log,
 * which a container without syslog keeps. A line of a file has a
 * timestamp and the PID, as syslog's have.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"

#define UTIL_LOG_DIR "/run/ipcfs"

static bool util_syslog;
static int util_log_fd = -1; /* -o log=, or the default file */
static char *util_log_path;  /* its path, for user.ipcfs.log */
static bool util_started;    /* serving: stderr is no longer the caller's */
static pthread_key_t util_buf_key;
static pthread_once_t util_buf_once = PTHREAD_ONCE_INIT;

struct util_buf {
	size_t cap;
	char data[];
};

static int util_log_file(const char *path)
{
	int fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY | O_CLOEXEC,
		  0644);
	if (fd < 0)
		return -errno;
	util_log_path = realpath(path, NULL);
	if (!util_log_path) {
		int err = errno;

		close(fd);
		return -err;
	}
	util_log_fd = fd;
	return 0;
}

/*
 * -o log=PATH: messages go there from now on, appended. At start, before
 * anything is mounted: a file that cannot be opened is refused (told).
 */
int fs_log_open(const char *path)
{
	int ret = util_log_file(path);

	if (ret < 0)
		fprintf(stderr, "ipcfs: -o log=%s: cannot open it: %s\n", path,
			strerror(-ret));
	return ret;
}

static bool util_have_syslog(void)
{
	struct stat st;

	return stat("/dev/log", &st) == 0 && S_ISSOCK(st.st_mode);
}

/*
 * About to detach, stderr still the caller's: choose where messages go, and
 * say so there. Without -o log=: syslog if /dev/log is a socket, else
 * UTIL_LOG_DIR/ipcfs.PID.log; else, nowhere, and say that too.
 */
void fs_log_daemonized(void)
{
	char path[64];
	int ret = 0;

	if (util_log_fd < 0 && !util_have_syslog()) {
		snprintf(path, sizeof(path), UTIL_LOG_DIR "/ipcfs.%d.log",
			 (int)getpid());
		ret = mkdir(UTIL_LOG_DIR, 0755) < 0 && errno != EEXIST
			      ? -errno
			      : util_log_file(path);
		if (ret < 0)
			fprintf(stderr,
				"ipcfs: cannot open %s (%s) and there is no syslog (/dev/log): messages are lost; -o log=FILE keeps them\n",
				path, strerror(-ret));
	}
	if (util_log_fd >= 0) {
		fprintf(stderr, "ipcfs: messages go to %s\n", util_log_path);
		return;
	}
	util_syslog = true;
	openlog("ipcfs", LOG_PID, LOG_DAEMON);
	if (ret == 0)
		fprintf(stderr, "ipcfs: messages go to syslog\n");
}

/* Where messages go now: a file's path, "syslog" or "stderr". */
const char *fs_log_where(void)
{
	return util_log_fd >= 0 ? util_log_path
	       : util_syslog	? "syslog"
				: "stderr";
}

/*
 * One line to the log file, in one write(2) of an O_APPEND file: lines of
 * several threads (or daemons sharing the file) never mix. As syslog has
 * it: "2026-12-02T14:11:26+0000 ipcfs[1234]: what".
 */
static void util_log_line(const char *fmt, va_list ap)
{
	char stamp[64], *msg = NULL, *line = NULL;
	struct tm tm;
	time_t now = time(NULL);
	int len;

	if (!localtime_r(&now, &tm) ||
	    !strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S%z", &tm))
		strcpy(stamp, "-");
	if (vasprintf(&msg, fmt, ap) < 0)
		return;
	len = asprintf(&line, "%s ipcfs[%d]: %s\n", stamp, (int)getpid(), msg);
	if (len > 0 && write(util_log_fd, line, len) < 0) {
		/* Nowhere left to say it. */
	}
	free(line);
	free(msg);
}

/*
 * Mounted on MNT and serving: from now on, a log file is the only place.
 * A log of its own (a file, syslog) is told which daemon this is.
 */
void fs_log_started(const char *mnt)
{
	util_started = true;
	if (util_log_fd >= 0 || util_syslog)
		ipc_log("ipcfs %s on %s", IPCFS_VERSION, mnt);
}

/*
 * To the log file, and while the daemon starts to stderr too, where who
 * started it sees why it would not start; else to syslog, or stderr.
 */
void ipc_log(const char *fmt, ...)
{
	va_list ap, again;

	va_start(ap, fmt);
	if (util_log_fd >= 0) {
		va_copy(again, ap);
		util_log_line(fmt, again);
		va_end(again);
	}
	if (util_syslog) {
		vsyslog(LOG_WARNING, fmt, ap);
	} else if (util_log_fd < 0 || !util_started) {
		fputs("ipcfs: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

void fs_log_close(void)
{
	if (util_log_fd >= 0)
		close(util_log_fd);
	util_log_fd = -1;
	free(util_log_path);
	util_log_path = NULL;
}

/*
 * Block, in the calling thread (and so in the threads it starts), every
 * signal that is sent to the daemon; not the faults a thread raises itself:
 * a blocked SIGBUS kills, and devshm.c catches a cut mapping's.
 */
void ipc_block_signals(sigset_t *old)
{
	sigset_t set;

	sigfillset(&set);
	sigdelset(&set, SIGBUS);
	sigdelset(&set, SIGSEGV);
	sigdelset(&set, SIGFPE);
	sigdelset(&set, SIGILL);
	pthread_sigmask(SIG_SETMASK, &set, old);
}

/*
 * Attribute files follow the sysfs rule (one value and a newline), so a
 * write of "42\n" is as good as "42": an optional '-', digits, and one
 * optional newline. Anything else is EINVAL, a number too large for a long
 * included: every attribute answers alike. The buffer is a write's, not a
 * string: nothing past len is read.
 */
int ipc_parse_long(const char *buf, size_t len, long *val)
{
	unsigned long n = 0, max;
	bool neg;
	size_t i;
	int d;

	if (len && buf[len - 1] == '\n')
		len--;
	neg = len && buf[0] == '-';
	max = neg ? (unsigned long)LONG_MAX + 1 : LONG_MAX;
	if (len == (size_t)neg)
		return -EINVAL;
	for (i = neg; i < len; i++) {
		d = buf[i] - '0';
		if (d < 0 || d > 9 || n > (max - d) / 10)
			return -EINVAL;
		n = n * 10 + d;
	}
	*val = neg && n ? -(long)(n - 1) - 1 : (long)n;
	return 0;
}

/* Is buf[0..len) digits only, with an optional newline? */
static bool util_digits(const char *buf, size_t len)
{
	if (len && buf[len - 1] == '\n')
		len--;
	if (!len)
		return false;
	while (len--)
		if (buf[len] < '0' || buf[len] > '9')
			return false;
	return true;
}

int ipc_parse_post(const char *buf, size_t len, long max, long *n)
{
	int ret = 0;

	*n = 1;
	if (len > 1 || (len == 1 && buf[0] != '\n'))
		ret = ipc_parse_long(buf, len, n);
	if (ret < 0 && util_digits(buf, len))
		return -EOVERFLOW;
	if (ret < 0 || *n < 0)
		return -EINVAL;
	return *n > max ? -EOVERFLOW : 0;
}

/*
 * A line is a message (queues' lines): the bytes up to and including a
 * newline, held across writes until it comes. Pure, so that it can be
 * fuzzed (tests/fuzz/fuzz_lines.c).
 */
int ipc_line_next(const char *buf, size_t len, size_t held, size_t max,
		  size_t *take)
{
	const char *nl = len ? memchr(buf, '\n', len) : NULL;
	size_t n = nl ? (size_t)(nl - buf) + 1 : len;

	*take = n;
	if (held > max || n > max - held)
		return -EMSGSIZE;
	return nl ? 1 : 0;
}

/*
 * A frame is a message and its priority (queues' framed): pure, and shared
 * by the engines, so that every one of them reads and writes the same
 * bytes.
 */
int ipc_frame_parse(const char *buf, size_t len, unsigned int *prio)
{
	unsigned int n = 0;
	size_t i;

	for (i = 0; i < len && i <= IPC_FRAME_DIGITS; i++) {
		if (buf[i] == '\t')
			break;
		if (buf[i] < '0' || buf[i] > '9' || i == IPC_FRAME_DIGITS)
			return -EINVAL;
		n = n * 10 + (buf[i] - '0');
	}
	if (i == 0 || i == len || buf[i] != '\t' || n > IPC_FRAME_PRIO_MAX)
		return -EINVAL;
	*prio = n;
	return i + 1;
}

size_t ipc_frame_head(unsigned int prio, char *head)
{
	char digits[IPC_FRAME_DIGITS];
	size_t n = 0, len;

	if (prio > IPC_FRAME_PRIO_MAX) /* not a message's */
		prio = IPC_FRAME_PRIO_MAX;
	do {
		digits[n++] = '0' + prio % 10;
		prio /= 10;
	} while (prio);
	for (len = 0; len < n; len++)
		head[len] = digits[n - 1 - len];
	head[len++] = '\t';
	return len;
}

/* The POSIX rule: directory NAME is object "/NAME", NAME not too long. */
static int util_name_in(const char *name, char *obj, size_t size)
{
	size_t len = strlen(name);

	if (len + 2 > size)
		return -ENAMETOOLONG;
	obj[0] = '/';
	memcpy(obj + 1, name, len + 1);
	return 0;
}

static const char *util_prefix(const struct ipc_kind *kind)
{
	return kind->prefixed ? fs_conf.prefix : "";
}

/*
 * The object name for directory NAME of a kind, or -errno: names no
 * directory can have (empty, ".", "..", a '/') are EINVAL; then the kind's
 * name_in, or the POSIX rule, decides on PREFIX NAME (the prefix only for
 * kinds it applies to): EINVAL for names its objects cannot carry,
 * ENAMETOOLONG for one longer than they may be. Nothing is made either way.
 */
int fs_object_pname(const struct ipc_kind *kind, const char *name, char **pname)
{
	size_t size = (kind->name_max ? kind->name_max : NAME_MAX) + 2;
	char *full = NULL;
	int ret;

	*pname = NULL;
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strchr(name, '/'))
		return -EINVAL;
	if (asprintf(&full, "%s%s", util_prefix(kind), name) < 0)
		return -ENOMEM;
	*pname = malloc(size);
	if (!*pname)
		ret = -ENOMEM;
	else if (kind->name_in)
		ret = kind->name_in(full, *pname, size);
	else
		ret = util_name_in(full, *pname, size);
	free(full);
	if (ret < 0) {
		free(*pname);
		*pname = NULL;
	}
	return ret < 0 ? ret : 0;
}

/*
 * Who sent req: uid, gid, pid and supplementary groups (from /proc; none if
 * the process is gone). Free with fs_caller_free().
 */
int fs_caller(fuse_req_t req, struct ipc_caller *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int n = 32, ret;
	gid_t *g;

	*c = (struct ipc_caller){ .uid = ctx->uid,
				  .gid = ctx->gid,
				  .pid = ctx->pid };
	for (;;) {
		g = realloc(c->groups, n * sizeof(*g));
		if (!g) {
			fs_caller_free(c);
			return -ENOMEM;
		}
		c->groups = g;
		ret = fuse_req_getgroups(req, n, g);
		if (ret <= n)
			break;
		n = ret; /* more than we had room for: again */
	}
	c->ngroups = ret > 0 ? ret : 0;
	return 0;
}

void fs_caller_free(struct ipc_caller *c)
{
	free(c->groups);
	c->groups = NULL;
}

/* Is gid one of the caller's supplementary groups? 1, 0 or -errno. */
static int util_in_groups(fuse_req_t req, gid_t gid)
{
	struct ipc_caller c;
	int i, ret;

	ret = fs_caller(req, &c);
	for (i = 0; ret == 0 && i < c.ngroups; i++)
		ret = c.groups[i] == gid;
	fs_caller_free(&c);
	return ret;
}

/*
 * May the sender of req do what `need` (R_OK|W_OK|X_OK) says to an object
 * of owner, group and mode st, as the kernel would decide natively? Root
 * may. The groups are read (from /proc) only when they decide: when the
 * group's bits and the others' give different answers.
 */
int fs_caller_may(fuse_req_t req, const struct stat *st, int need)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	bool group = ((st->st_mode >> 3) & need) == need;
	bool other = (st->st_mode & need) == need;
	bool may;
	int in;

	if (ctx->uid == 0)
		may = true;
	else if (ctx->uid == st->st_uid)
		may = ((st->st_mode >> 6) & need) == need;
	else if (ctx->gid == st->st_gid)
		may = group;
	else if (group == other)
		may = other;
	else if ((in = util_in_groups(req, st->st_gid)) < 0)
		may = false; /* the groups cannot be read: refuse */
	else
		may = in ? group : other;
	return may ? 0 : -EACCES;
}

/*
 * The directory name of object PNAME: the kind's name_out, or the POSIX
 * rule ("/NAME"), then the prefix stripped for kinds it applies to. NULL
 * hides the object: outside the prefix, or no name a directory can have.
 * The answer is in pname or in buf (size bytes).
 */
const char *fs_display_name(const struct ipc_kind *kind, const char *pname,
			    char *buf, size_t size)
{
	const char *prefix = util_prefix(kind), *name = pname + 1;
	size_t plen = strlen(prefix);

	if (kind->name_out) {
		if (kind->name_out(pname, buf, size) != 0)
			return NULL;
		buf[size - 1] = '\0';
		name = buf;
	} else if (pname[0] != '/') {
		return NULL;
	}
	if (strncmp(name, prefix, plen) != 0)
		return NULL;
	name += plen;
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strchr(name, '/'))
		return NULL;
	return name;
}

static void util_buf_init(void)
{
	pthread_key_create(&util_buf_key, free);
}

/*
 * A per-thread buffer for replies. A reply must not come from memory another
 * thread may free: the kernel can finish the request, and the caller close
 * its file (RELEASE, on another worker), before our writev() returns.
 */
char *fs_buf(size_t size)
{
	struct util_buf *b;

	pthread_once(&util_buf_once, util_buf_init);
	b = pthread_getspecific(util_buf_key);
	if (!b || b->cap < size) {
		free(b);
		b = malloc(sizeof(*b) + size);
		pthread_setspecific(util_buf_key, b);
		if (!b)
			return NULL;
		b->cap = size;
	}
	return b->data;
}

/* Reply with a copy of len bytes at buf (see fs_buf). */
int fs_reply_copy(fuse_req_t req, const char *buf, size_t len)
{
	char *copy = len ? fs_buf(len) : NULL;

	if (len && !copy)
		return fuse_reply_err(req, ENOMEM);
	if (len)
		memcpy(copy, buf, len);
	return fuse_reply_buf(req, copy, len);
}

void fs_links_add(struct fs_links *l, struct fs_link *e)
{
	pthread_mutex_lock(&l->lock);
	e->next = l->head;
	e->pprev = &l->head;
	if (l->head)
		l->head->pprev = &e->next;
	l->head = e;
	pthread_mutex_unlock(&l->lock);
}

void fs_links_del(struct fs_links *l, struct fs_link *e)
{
	pthread_mutex_lock(&l->lock);
	if (e->pprev) {
		*e->pprev = e->next;
		if (e->next)
			e->next->pprev = e->pprev;
		e->pprev = NULL;
	}
	pthread_mutex_unlock(&l->lock);
}

struct fs_link *fs_links_first(struct fs_links *l)
{
	struct fs_link *e;

	pthread_mutex_lock(&l->lock);
	e = l->head;
	pthread_mutex_unlock(&l->lock);
	return e;
}

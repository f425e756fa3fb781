// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mkdir.c - ipcctl mkdir: an object with its own parameters, in one step,
 * through the tree: mkdir(2), then a write to each parameter file the
 * options name (DESIGN.md §4). A parameter the object will not take
 * removes it again: nothing half-made stays.
 *
 *   $ ipcctl mkdir --maxmsg 100 --msgsize 512 /mnt/ipc/queues/jobs
 *   $ ipcctl mkdir --value 0 -m 600 /mnt/ipc/sem/ready
 *
 * The kind is DIR's parent's path under the mount's root ("queues"), and
 * an option that is not that kind's is bad usage, told before anything is
 * made. When the kernel or the daemon refuses for a limit (EMFILE, ENOSPC,
 * EINVAL of a queue), a hint names the limit and how to raise it, with the
 * figures of ls -g (limits.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "ipcctl.h"

#define MKDIR_FUSE_MAGIC 0x65735546

/* The parameters, in the order their options are told in --help. */
enum mkdir_param {
	MKDIR_MAXMSG,
	MKDIR_MSGSIZE,
	MKDIR_CAPACITY,
	MKDIR_SIZE,
	MKDIR_VALUE,
	MKDIR_NPARAMS
};

/* Each parameter: its option, the kind it is for, the file it writes. */
static const struct {
	const char *option, *kind, *file;
} mkdir_params[MKDIR_NPARAMS] = {
	[MKDIR_MAXMSG] = { "maxmsg", "queues", "maxmsg" },
	[MKDIR_MSGSIZE] = { "msgsize", "queues", "msgsize" },
	[MKDIR_CAPACITY] = { "capacity", "channels", "capacity" },
	[MKDIR_SIZE] = { "size", "shm", "size" },
	[MKDIR_VALUE] = { "value", "sem", "value" },
};

static const struct option mkdir_options[] = {
	{ "maxmsg", required_argument, NULL, 256 + MKDIR_MAXMSG },
	{ "msgsize", required_argument, NULL, 256 + MKDIR_MSGSIZE },
	{ "capacity", required_argument, NULL, 256 + MKDIR_CAPACITY },
	{ "size", required_argument, NULL, 256 + MKDIR_SIZE },
	{ "value", required_argument, NULL, 256 + MKDIR_VALUE },
	{ "mode", required_argument, NULL, 'm' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct mkdir_opts {
	bool has[MKDIR_NPARAMS];
	long long val[MKDIR_NPARAMS];
	bool has_mode;
	mode_t mode;
};

/* Where DIR goes: its mount's root, and its kind, the path below that. */
struct mkdir_where {
	char *parent; /* realpath of DIR's parent */
	char *root;   /* the mount's root */
	const char *kind;
};

/* An option's N: a decimal count, never negative. */
static int mkdir_number(const char *opt, const char *arg, long long *val)
{
	if (ipcctl_parse_number(arg, val) < 0 || *val < 0 ||
	    strchr(arg, '\n')) {
		fprintf(stderr, "ipcctl: bad --%s '%s' (a count, 0 or more)\n",
			opt, arg);
		return IPCCTL_USAGE;
	}
	return IPCCTL_OK;
}

/* -m MODE: octal, as chmod(1) takes it (no symbolic modes). */
static int mkdir_mode(const char *arg, mode_t *mode)
{
	unsigned long m;
	char *end;

	errno = 0;
	m = strtoul(arg, &end, 8);
	if (*arg < '0' || *arg > '7' || *end || errno || m > 07777) {
		fprintf(stderr, "ipcctl: bad mode '%s' (octal, e.g. 600)\n",
			arg);
		return IPCCTL_USAGE;
	}
	*mode = m;
	return IPCCTL_OK;
}

static int mkdir_parse(int argc, char **argv, struct mkdir_opts *o)
{
	int opt, ret = IPCCTL_OK;

	*o = (struct mkdir_opts){ 0 };
	while (ret == IPCCTL_OK &&
	       (opt = getopt_long(argc, argv, "m:h", mkdir_options, NULL)) !=
		       -1) {
		if (opt >= 256 && opt < 256 + MKDIR_NPARAMS) {
			o->has[opt - 256] = true;
			ret = mkdir_number(mkdir_params[opt - 256].option,
					   optarg, &o->val[opt - 256]);
		} else if (opt == 'm') {
			o->has_mode = true;
			ret = mkdir_mode(optarg, &o->mode);
		} else if (opt == 'h') {
			ipcctl_usage(&mkdir_verb, stdout);
			ret = -1; /* told: done */
		} else {
			ret = ipcctl_usage(&mkdir_verb, stderr);
		}
	}
	if (ret == IPCCTL_OK && argc - optind != 1)
		ret = ipcctl_usage(&mkdir_verb, stderr);
	return ret;
}

/*
 * DIR's parent, its mount's root (the highest directory above it on the
 * same device) and the kind. Returns IPCCTL_OK, or IPCCTL_FAIL (told) when
 * the parent cannot be found or is in no ipcfs mount: there, the parameter
 * files would be plain files made in a plain directory.
 */
static int mkdir_locate(const char *dir, struct mkdir_where *w)
{
	char *copy = strdup(dir), *up = NULL;
	struct statfs sfs;
	struct stat st, ust;
	long long pid;
	size_t len;
	int ret = IPCCTL_FAIL;

	*w = (struct mkdir_where){ 0 };
	if (!copy) {
		errno = ENOMEM;
		goto out_error;
	}
	w->parent = realpath(dirname(copy), NULL);
	if (!w->parent || stat(w->parent, &st) < 0)
		goto out_error;
	w->root = strdup(w->parent);
	if (!w->root)
		goto out_error;
	/* Up while the device stays: the mount point is the last one. */
	while (strcmp(w->root, "/") != 0) {
		free(up);
		up = strdup(w->root);
		if (!up)
			goto out_error;
		if (stat(dirname(up), &ust) < 0 || ust.st_dev != st.st_dev)
			break;
		strcpy(w->root, up);
	}
	if (statfs(w->root, &sfs) < 0)
		goto out_error;
	if (sfs.f_type != MKDIR_FUSE_MAGIC ||
	    ipcctl_xattr_number(w->root, "user.ipcfs.pid", &pid) < 0) {
		fprintf(stderr, "ipcctl: %s: not in an ipcfs mount\n", dir);
		goto out;
	}
	len = strlen(w->root);
	w->kind = w->parent + len + (w->parent[len] == '/');
	if (strcmp(w->root, "/") == 0)
		w->kind = w->parent + 1;
	ret = IPCCTL_OK;
	goto out;
out_error:
	ret = ipcctl_error(dir);
out:
	free(up);
	free(copy);
	return ret;
}

static void mkdir_where_free(struct mkdir_where *w)
{
	free(w->parent);
	free(w->root);
}

/* Every option given is one of the kind's, else bad usage (told). */
static int mkdir_check_kind(const struct mkdir_opts *o,
			    const struct mkdir_where *w)
{
	size_t i;

	for (i = 0; i < MKDIR_NPARAMS; i++) {
		if (!o->has[i] || strcmp(w->kind, mkdir_params[i].kind) == 0)
			continue;
		fprintf(stderr,
			"ipcctl mkdir: --%s is for %s/, and this is %s%s\n",
			mkdir_params[i].option, mkdir_params[i].kind,
			*w->kind ? w->kind : "the root", *w->kind ? "/" : "");
		return ipcctl_usage(&mkdir_verb, stderr);
	}
	return IPCCTL_OK;
}

/* The number in attribute file PATH: 0, -errno, or -EINVAL for no number. */
static int mkdir_read_number(const char *path, long long *val)
{
	char buf[32];
	ssize_t n;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	ret = n < 0 ? -errno : 0;
	close(fd);
	if (ret == 0) {
		buf[n] = '\0';
		ret = ipcctl_parse_number(buf, val);
	}
	return ret;
}

/*
 * The messages and message size a queue made now gets, or asks for: the
 * options, else the mount's -o mq_maxmsg/mq_msgsize, else the system's
 * defaults. 0: unknown.
 */
static void mkdir_queue_shape(const struct mkdir_opts *o,
			      const struct mkdir_where *w, long long *maxmsg,
			      long long *msgsize)
{
	static const char *const opt[2] = { "user.ipcfs.option.mq_maxmsg",
					    "user.ipcfs.option.mq_msgsize" };
	static const char *const dflt[2] = {
		"/proc/sys/fs/mqueue/msg_default",
		"/proc/sys/fs/mqueue/msgsize_default"
	};
	long long *v[2] = { maxmsg, msgsize };
	int i;

	for (i = 0; i < 2; i++) {
		*v[i] = 0;
		if (o->has[MKDIR_MAXMSG + i])
			*v[i] = o->val[MKDIR_MAXMSG + i];
		else if (ipcctl_xattr_number(w->root, opt[i], v[i]) < 0 ||
			 *v[i] <= 0)
			*v[i] = limits_sysctl(dflt[i], v[i]) ? *v[i] : 0;
	}
}

static void mkdir_hint_queues(int err, const struct mkdir_opts *o,
			      const struct mkdir_where *w,
			      const struct limits_row *r)
{
	const struct limits_row *q = &r[LIMITS_MQUEUES],
				*b = &r[LIMITS_MQBYTES];
	static const char *const sysctl[2] = { "msg_max", "msgsize_max" };
	static const int rows[2] = { LIMITS_MQMSGS, LIMITS_MQSIZE };
	long long maxmsg, msgsize, v, pid = 0;
	int i;

	mkdir_queue_shape(o, w, &maxmsg, &msgsize);
	ipcctl_xattr_number(w->root, "user.ipcfs.pid", &pid);
	if (err == ENOSPC) {
		fprintf(stderr,
			"ipcctl: hint: fs.mqueue.queues_max is used up: the queues the system may have");
		if (q->has_limit && q->has_used)
			fprintf(stderr, " (%llu, %lld exist)", q->limit,
				q->used);
		fprintf(stderr,
			".\nipcctl: hint: remove queues, or raise it as root: sysctl fs.mqueue.queues_max=N\n"
			"ipcctl: hint: (or echo N > /proc/sys/fs/mqueue/queues_max)\n");
	} else if (err == EMFILE) {
		fprintf(stderr,
			"ipcctl: hint: RLIMIT_MSGQUEUE is used up: the bytes all queues of a user may\n"
			"ipcctl: hint: reserve (made through the tree: the smaller of yours and the\n"
			"ipcctl: hint: daemon's");
		if (b->has_limit)
			fprintf(stderr, ", %llu", b->limit);
		fprintf(stderr, ")");
		if (b->has_used)
			fprintf(stderr, "; your queues here reserve %lld",
				b->used);
		if (maxmsg && msgsize)
			fprintf(stderr,
				";\nipcctl: hint: this one, %lld messages of %lld bytes, would reserve %lld",
				maxmsg, msgsize,
				limits_queue_charge(maxmsg, msgsize));
		fprintf(stderr,
			".\nipcctl: hint: remove queues, make smaller ones (--maxmsg N --msgsize N), or\n"
			"ipcctl: hint: raise it: `ulimit -q BYTES` in your shell, and the daemon's:\n"
			"ipcctl: hint: prlimit --msgqueue=BYTES --pid %lld\n",
			pid);
	} else if (err == EINVAL) {
		v = maxmsg;
		for (i = 0; i < 2; i++, v = msgsize) {
			if (!r[rows[i]].has_limit || v <= 0 ||
			    (unsigned long long)v <= r[rows[i]].limit)
				continue;
			fprintf(stderr,
				"ipcctl: hint: %s %lld is more than fs.mqueue.%s (%llu).\n"
				"ipcctl: hint: ask for less, or raise it as root: sysctl fs.mqueue.%s=N\n",
				i ? "msgsize" : "maxmsg", v, sysctl[i],
				r[rows[i]].limit, sysctl[i]);
		}
	}
}

static void mkdir_hint_channels(const struct limits_row *r)
{
	const struct limits_row *c = &r[LIMITS_CHANMEM];

	fprintf(stderr,
		"ipcctl: hint: chan_max_total is used up: the bytes the channels of this mount\n"
		"ipcctl: hint: may buffer in all");
	if (c->has_limit && c->has_used)
		fprintf(stderr, " (%llu, %lld reserved)", c->limit, c->used);
	fprintf(stderr,
		".\nipcctl: hint: remove channels, make smaller ones (--capacity N), or mount\n"
		"ipcctl: hint: with a larger -o chan_max_total=N\n");
}

/*
 * After ERR, a mkdir's or a parameter's: the limit that refused, its
 * figures, how to raise it. Only where ERR names a limit for the kind.
 */
static void mkdir_hint(int err, const struct mkdir_opts *o,
		       const struct mkdir_where *w)
{
	struct limits_row rows[LIMITS_NROWS];
	bool queues = strcmp(w->kind, "queues") == 0;
	bool channels = strcmp(w->kind, "channels") == 0;

	if (!(queues && (err == EMFILE || err == ENOSPC || err == EINVAL)) &&
	    !(channels && err == ENOSPC))
		return;
	if (limits_collect(w->root, rows) < 0)
		return;
	if (queues)
		mkdir_hint_queues(err, o, w, rows);
	else
		mkdir_hint_channels(rows);
}

/* One write of "N\n" to DIR/FILE: 0 or -errno. */
static int mkdir_write(const char *dir, const char *file, long long n)
{
	char path[PATH_MAX], buf[32];
	int fd, len, ret = 0;
	ssize_t wrote;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	len = snprintf(buf, sizeof(buf), "%lld\n", n);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	wrote = write(fd, buf, len);
	if (wrote != len) /* short: the value torn */
		ret = wrote < 0 ? -errno : -EIO;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	return ret;
}

/*
 * The semaphore of DIR from what it was made with to VALUE: post the
 * difference, or take units one by one through `wait` (O_NONBLOCK: a unit
 * somebody else took is an error, not a wait). 0 or -errno; *FILE is the
 * file that failed.
 */
static int mkdir_sem_value(const char *dir, long long value, const char **file)
{
	char path[PATH_MAX], c;
	long long cur;
	int fd, ret = 0;

	*file = "value";
	snprintf(path, sizeof(path), "%s/value", dir);
	ret = mkdir_read_number(path, &cur);
	if (ret < 0)
		return ret;
	*file = "post";
	if (value > cur)
		return mkdir_write(dir, "post", value - cur);
	*file = "wait";
	snprintf(path, sizeof(path), "%s/wait", dir);
	for (; ret == 0 && cur > value; cur--) {
		fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (read(fd, &c, 1) < 0)
			ret = -errno;
		close(fd);
	}
	return ret;
}

/*
 * The parameters of the queue of DIR: maxmsg and msgsize each re-create
 * it, so the one that makes the queue in between smaller goes first (from
 * 10 x 8192 to 1000 x 64, msgsize first: 1000 x 8192 would not fit
 * RLIMIT_MSGQUEUE). 0 or -errno; *FILE is the file that failed.
 */
static int mkdir_queue(const char *dir, const struct mkdir_opts *o,
		       const char **file)
{
	long long maxmsg = 0, msgsize = 0;
	char path[PATH_MAX];
	int order[2] = { MKDIR_MAXMSG, MKDIR_MSGSIZE }, i, ret = 0;

	if (!o->has[MKDIR_MAXMSG] && !o->has[MKDIR_MSGSIZE])
		return 0;
	snprintf(path, sizeof(path), "%s/maxmsg", dir);
	mkdir_read_number(path, &maxmsg);
	snprintf(path, sizeof(path), "%s/msgsize", dir);
	mkdir_read_number(path, &msgsize);
	if (o->has[MKDIR_MAXMSG] && o->has[MKDIR_MSGSIZE] &&
	    (double)o->val[MKDIR_MAXMSG] * msgsize >
		    (double)maxmsg * o->val[MKDIR_MSGSIZE]) {
		order[0] = MKDIR_MSGSIZE;
		order[1] = MKDIR_MAXMSG;
	}
	for (i = 0; ret == 0 && i < 2; i++) {
		if (!o->has[order[i]])
			continue;
		*file = mkdir_params[order[i]].file;
		ret = mkdir_write(dir, *file, o->val[order[i]]);
	}
	return ret;
}

/* The parameters of the options, in DIR just made: 0 or -errno. */
static int mkdir_params_write(const char *dir, const struct mkdir_opts *o,
			      const char **file)
{
	int ret = 0;

	ret = mkdir_queue(dir, o, file);
	if (ret == 0 && o->has[MKDIR_CAPACITY]) {
		*file = "capacity";
		ret = mkdir_write(dir, *file, o->val[MKDIR_CAPACITY]);
	}
	if (ret == 0 && o->has[MKDIR_SIZE]) {
		*file = "size";
		ret = mkdir_write(dir, *file, o->val[MKDIR_SIZE]);
	}
	if (ret == 0 && o->has[MKDIR_VALUE])
		ret = mkdir_sem_value(dir, o->val[MKDIR_VALUE], file);
	return ret;
}

static int mkdir_run(int argc, char **argv)
{
	struct mkdir_where w = { 0 };
	struct mkdir_opts o;
	const char *dir, *file = NULL;
	char path[PATH_MAX];
	mode_t old;
	int err, ret;

	ret = mkdir_parse(argc, argv, &o);
	if (ret != IPCCTL_OK) {
		ret = ret < 0 ? IPCCTL_OK : ret; /* -1: --help was told */
		goto out;
	}
	dir = argv[optind];
	ret = mkdir_locate(dir, &w);
	if (ret == IPCCTL_OK)
		ret = mkdir_check_kind(&o, &w);
	if (ret != IPCCTL_OK)
		goto out;
	/* -m: exactly MODE, as mkdir(1) -m; else what mkdir(1) gives. */
	if (o.has_mode) {
		old = umask(0);
		err = mkdir(dir, o.mode) < 0 ? errno : 0;
		umask(old);
	} else {
		err = mkdir(dir, 0777) < 0 ? errno : 0;
	}
	if (err) {
		errno = err;
		ret = ipcctl_error(dir);
		mkdir_hint(err, &o, &w);
		goto out;
	}
	err = -mkdir_params_write(dir, &o, &file);
	if (err) {
		snprintf(path, sizeof(path), "%s/%s", dir, file);
		errno = err;
		ret = ipcctl_error(path);
		if (rmdir(dir) < 0) {
			fprintf(stderr, "ipcctl: %s: cannot remove it: %s\n",
				dir, strerror(errno));
		}
		/* The figures without the object that was not to be. */
		mkdir_hint(err, &o, &w);
	}
out:
	mkdir_where_free(&w);
	return ret;
}

const struct ipcctl_verb mkdir_verb = {
	.name = "mkdir",
	.run = mkdir_run,
	.synopsis =
		"mkdir [--maxmsg N] [--msgsize N] [--capacity N] [--size N] [--value N] [-m MODE] DIR",
	.help = "Make the object DIR (KIND/NAME in an ipcfs mount) with its own\n"
		"parameters, in one step: mkdir(2), then each parameter's file.\n"
		"A parameter it will not take removes the object again.\n"
		"\n"
		"      --maxmsg N       queues/: messages the queue holds\n"
		"      --msgsize N      queues/: the largest message, in bytes\n"
		"      --capacity N     channels/: bytes the channel buffers\n"
		"      --size N         shm/: the segment's size in bytes\n"
		"      --value N        sem/: the semaphore's value, set before\n"
		"                       anybody uses it (posted, or taken)\n"
		"  -m, --mode MODE      permissions, octal (default: 777 less\n"
		"                       the umask, as mkdir(1))\n"
		"  -h, --help           this text\n"
		"\n"
		"An option of another kind is bad usage (exit 2), told before\n"
		"anything is made. When a limit refuses the object (queues:\n"
		"EMFILE, ENOSPC, EINVAL; channels: ENOSPC), hints name it and\n"
		"how to raise it.\n",
};

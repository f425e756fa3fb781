// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * queue.c - ipcctl send and recv: a message with its priority, or with
 * its type on a System V queue (sysv/msg/KEY).
 *
 * Both go through the queue directory's `framed` file, which carries the
 * priority (the type) in the bytes "PRIO\tMESSAGE" both ways, so they work
 * on every engine (a PostgreSQL one has no native queue to open) and never
 * reach past the mount: send is one write of the frame (it waits while the
 * queue is full, as a write of data does); recv opens framed with
 * O_NONBLOCK, and reads when poll(2) says a message is there, so a timeout
 * ends a wait that has taken nothing. A removed queue ends the read with
 * end-of-file: recv says "Identifier removed".
 *
 * The one exception is recv -t TYPE: a read cannot say which type it wants,
 * so it calls msgrcv(2) itself on the queue's id (its `id` file), which
 * works only in the daemon's IPC namespace; a timer's signal ends the wait
 * having taken nothing.
 *
 *   $ ipcctl send -p 7 /mnt/ipc/queues/jobs urgent
 *   $ ipcctl recv -v --timeout 2 /mnt/ipc/queues/jobs
 *   7	urgent
 *   $ ipcctl send -t 7 /mnt/ipc/sysv/msg/0x0000162e hello
 *   $ ipcctl recv -t -9 /mnt/ipc/sysv/msg/0x0000162e   # lowest type <= 9
 *   hello
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ipcctl.h"

/* A frame's priorities: 0 to 32767 (IPC_FRAME_PRIO_MAX, backends/ipc.h). */
#define QUEUE_PRIO_MAX 32767
/*
 * More than the largest frame: a message of 1 MiB less 4 KiB (the largest
 * msgsize, IPC_MSG_MAX) after "32767\t".
 */
#define QUEUE_FRAME_MAX (1 << 20)
/* How long a wait goes without a read: a lost wake-up costs this, no more. */
#define QUEUE_LOOK_MS 1000

/* A System V message's buffer for msgrcv(2), at first: kernel.msgmax */
#define QUEUE_MSGMAX_PATH "/proc/sys/kernel/msgmax"
#define QUEUE_MSGMAX_DEFAULT 8192

static const struct option queue_send_options[] = {
	{ "priority", required_argument, NULL, 'p' },
	{ "type", required_argument, NULL, 't' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option queue_recv_options[] = {
	{ "type", required_argument, NULL, 't' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "timeout", required_argument, NULL, IPCCTL_OPT_TIMEOUT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/*
 * Open DIR/framed with FLAGS: a descriptor, or -1 (told: DIR's error, or
 * that DIR is no queue's directory).
 */
static int queue_open(const char *dir, int flags)
{
	char path[PATH_MAX];
	struct stat st;
	int fd = -1;

	if ((size_t)snprintf(path, sizeof(path), "%s/framed", dir) >=
	    sizeof(path))
		errno = ENAMETOOLONG;
	else
		fd = open(path, flags | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (errno == ENOENT && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		fprintf(stderr, "ipcctl: %s: not a queue (no framed file)\n",
			dir);
	else
		ipcctl_error(dir);
	return -1;
}

/*
 * -p PRIO (0 to QUEUE_PRIO_MAX) or -t TYPE (MIN to LONG_MAX: send's 1,
 * recv's LONG_MIN): the head of a frame. Else 2, the status of bad usage.
 */
static int queue_head(int opt, const char *arg, long long min, long long *v)
{
	long long max = opt == 'p' ? QUEUE_PRIO_MAX : LONG_MAX;
	int ret = IPCCTL_OK;

	if (ipcctl_parse_number(arg, v) < 0 || *v < min || *v > max) {
		fprintf(stderr, "ipcctl: bad %s '%s' (%lld to %lld)\n",
			opt == 'p' ? "priority" : "type", arg, min, max);
		ret = IPCCTL_USAGE;
	}
	return ret;
}

/*
 * Whether DIR is a System V queue's (sysv/msg/KEY: it has an `id`), and
 * whether OPT, the head's option given ('p', 't' or 0), is its: -t is of
 * System V queues, -p of POSIX ones. Returns IPCCTL_OK, or 2 (told).
 */
static int queue_kind(const char *dir, int opt, bool *sysv)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/id", dir);
	*sysv = stat(path, &st) == 0 && S_ISREG(st.st_mode);
	if (opt == 't' && !*sysv)
		fprintf(stderr,
			"ipcctl: %s: -t TYPE is for System V queues "
			"(sysv/msg/KEY); -p PRIO for this one\n",
			dir);
	else if (opt == 'p' && *sysv)
		fprintf(stderr,
			"ipcctl: %s: a System V queue has types, not "
			"priorities: -t TYPE\n",
			dir);
	else
		return IPCCTL_OK;
	return IPCCTL_USAGE;
}

/* One write of "HEAD\tMESSAGE" to DIR/framed: IPCCTL_OK, or told. */
static int queue_put(const char *dir, long long head, const char *msg)
{
	size_t len = strlen(msg), n;
	char *frame = malloc(len + 24);
	int fd, ret = IPCCTL_OK;
	ssize_t done;

	if (!frame)
		return ipcctl_error(dir);
	n = sprintf(frame, "%lld\t", head);
	memcpy(frame + n, msg, len);
	n += len;
	fd = queue_open(dir, O_WRONLY);
	if (fd < 0) {
		free(frame);
		return IPCCTL_FAIL;
	}
	/* One write, one message: framed takes it whole or not at all. */
	done = write(fd, frame, n);
	if (done >= 0 && (size_t)done != n)
		errno = EIO;
	if (done < 0 || (size_t)done != n)
		ret = ipcctl_error(dir);
	if (close(fd) < 0 && ret == IPCCTL_OK)
		ret = ipcctl_error(dir);
	free(frame);
	return ret;
}

static int queue_send(int argc, char **argv)
{
	long long head = 0;
	int opt, given = 0, ret = IPCCTL_OK;
	bool sysv;

	while ((opt = getopt_long(argc, argv, "p:t:h", queue_send_options,
				  NULL)) != -1) {
		switch (opt) {
		case 'p':
		case 't':
			ret = queue_head(opt, optarg, opt == 'p' ? 0 : 1,
					 &head);
			given = opt;
			if (ret != IPCCTL_OK)
				goto out;
			break;
		case 'h':
			ret = ipcctl_usage(&queue_send_verb, stdout);
			goto out;
		default:
			ret = ipcctl_usage(&queue_send_verb, stderr);
			goto out;
		}
	}
	if (argc - optind != 2) {
		ret = ipcctl_usage(&queue_send_verb, stderr);
		goto out;
	}
	ret = queue_kind(argv[optind], given, &sysv);
	if (ret != IPCCTL_OK)
		goto out;
	/* As a write of data: priority 0, or type 1 (types start at 1). */
	if (!given && sysv)
		head = 1;
	ret = queue_put(argv[optind], head, argv[optind + 1]);
out:
	return ret;
}

/* WHEN = now + TIMEOUT, on CLOCK_MONOTONIC. */
static void queue_deadline(const struct timespec *timeout,
			   struct timespec *when)
{
	clock_gettime(CLOCK_MONOTONIC, when);
	when->tv_sec += timeout->tv_sec;
	when->tv_nsec += timeout->tv_nsec;
	if (when->tv_nsec >= 1000000000) {
		when->tv_sec++;
		when->tv_nsec -= 1000000000;
	}
}

/* Milliseconds from now to WHEN (CLOCK_MONOTONIC), 0 if past. */
static long queue_ms_left(const struct timespec *when)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (when->tv_sec - now.tv_sec) * 1000 +
	     (when->tv_nsec - now.tv_nsec + 999999) / 1000000;
	return ms > 0 ? ms : 0;
}

/*
 * Take one frame into buf (size bytes) from FD, DIR/framed opened
 * O_NONBLOCK: its length; or -ETIMEDOUT once the deadline WHEN (NULL: none)
 * has passed with nothing taken, -EIDRM when the queue was removed (the
 * first read's end-of-file), -errno. A read that finds the queue empty has
 * taken nothing: the wait is in poll(2), which a timeout or a signal may
 * end at no cost; a message another reader took first sends it back there.
 */
static ssize_t queue_take(int fd, char *buf, size_t size,
			  const struct timespec *when)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len;
	ssize_t n;
	long ms;

	for (;;) {
		n = read(fd, buf, size);
		if (n > 0)
			break;
		if (n == 0)
			return -EIDRM;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		ms = QUEUE_LOOK_MS;
		if (when && queue_ms_left(when) < ms)
			ms = queue_ms_left(when);
		if (when && ms == 0)
			return -ETIMEDOUT;
		poll(&pfd, 1, ms);
	}
	/* This open file has its message now: the rest of it, to its end. */
	len = n;
	while (len < size) {
		n = read(fd, buf + len, size - len);
		if (n == 0)
			return len;
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			len += n;
	}
	return -EMSGSIZE; /* more than any frame */
}

/* HEAD (NULL: none) and the N bytes of MSG on stdout, as they are. */
static int queue_print(const char *head, const char *msg, size_t n)
{
	int ret = IPCCTL_OK;

	if (head)
		fputs(head, stdout);
	if (fflush(stdout) != 0 || write(STDOUT_FILENO, msg, n) != (ssize_t)n)
		ret = ipcctl_error("standard output");
	return ret;
}

/* recv through DIR/framed, until WHEN (NULL: no deadline). */
static int queue_recv_framed(const char *dir, bool verbose,
			     const struct timespec *when)
{
	char *buf = NULL, *msg;
	ssize_t n;
	int fd, ret;

	fd = queue_open(dir, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return IPCCTL_FAIL;
	buf = malloc(QUEUE_FRAME_MAX);
	if (!buf)
		goto out_err;
	n = queue_take(fd, buf, QUEUE_FRAME_MAX, when);
	if (n == -ETIMEDOUT) {
		ret = IPCCTL_TIMEDOUT;
		goto out_close;
	}
	if (n < 0) {
		errno = -n;
		goto out_err;
	}
	/* "PRIO\t" first: -v prints it, as the frame has it. */
	msg = memchr(buf, '\t', n);
	if (!msg) {
		errno = EPROTO;
		goto out_err;
	}
	if (verbose)
		msg = buf;
	else
		msg++;
	ret = queue_print(NULL, msg, n - (msg - buf));
	goto out_close;
out_err:
	ret = ipcctl_error(dir);
out_close:
	free(buf);
	close(fd);
	return ret;
}

/* The key of directory name NAME ("0x0000162e"), if it is one. */
static bool queue_key_of(const char *name, key_t *key)
{
	char *end;

	if (strncmp(name, "0x", 2) != 0)
		return false;
	errno = 0;
	*key = (key_t)strtoul(name + 2, &end, 16);
	return !errno && !*end && end != name + 2;
}

/*
 * The kernel id of DIR's System V queue (its `id` file), checked against
 * IPC_STAT: ids are of an IPC namespace, and in another one the number is
 * nobody's or another queue's. Returns the id, or -1 (told).
 */
static int queue_sysv_id(const char *dir)
{
	const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
	char path[PATH_MAX];
	struct msqid_ds ds;
	long long id;
	key_t key;

	snprintf(path, sizeof(path), "%s/id", dir);
	/* A file of one number, as the sysctls are. */
	errno = 0;
	if (!limits_sysctl(path, &id) || id < 0 || id > INT_MAX) {
		if (errno == 0)
			errno = EPROTO;
		return ipcctl_error(path), -1;
	}
	if (msgctl(id, IPC_STAT, &ds) < 0) {
		if (errno == EACCES)
			return ipcctl_error(dir), -1;
	} else if (!queue_key_of(name, &key) || ds.msg_perm.__key == key) {
		return id;
	}
	fprintf(stderr,
		"ipcctl: %s: queue id %lld is not this queue here: -t needs "
		"the daemon's IPC namespace\n",
		dir, id);
	return -1;
}

/* A System V message: its type, then its bytes (msgrcv(2)'s msgp). */
struct queue_msg {
	long mtype;
	char mtext[];
};

/*
 * msgrcv(2) of type TYPE into *M, of room for *SIZE bytes, made larger while
 * the message is (E2BIG takes nothing: msgmax may have been lowered since it
 * was sent). Its length, or -errno.
 */
static ssize_t queue_msgrcv(int id, long type, struct queue_msg **m,
			    size_t *size)
{
	struct queue_msg *bigger;
	ssize_t n;

	for (;;) {
		n = msgrcv(id, *m, *size, type, 0);
		if (n >= 0 || errno != E2BIG || *size > INT_MAX / 2)
			return n < 0 ? -errno : n;
		bigger = realloc(*m, sizeof(**m) + *size * 2);
		if (!bigger)
			return -ENOMEM;
		*m = bigger;
		*size *= 2;
	}
}

/*
 * recv -t TYPE: msgrcv(2) on DIR's queue, whose types a read of framed cannot
 * choose. The timer's signal (TIMEOUT, NULL: none) ends the call having
 * taken nothing: msgrcv is never restarted after a handler.
 */
static int queue_recv_type(const char *dir, long type, bool verbose,
			   const struct timespec *timeout)
{
	struct ipcctl_timer tm;
	struct queue_msg *m;
	long long msgmax;
	char head[32];
	size_t size;
	ssize_t n;
	int id, ret;

	id = queue_sysv_id(dir);
	if (id < 0)
		return IPCCTL_FAIL;
	if (!limits_sysctl(QUEUE_MSGMAX_PATH, &msgmax) || msgmax <= 0 ||
	    msgmax > INT_MAX)
		msgmax = QUEUE_MSGMAX_DEFAULT;
	size = msgmax;
	m = malloc(sizeof(*m) + size);
	if (!m)
		return ipcctl_error(dir);
	ret = ipcctl_timer_start(&tm, timeout);
	if (ret < 0) {
		errno = -ret;
		free(m);
		return ipcctl_error("timer");
	}
	n = queue_msgrcv(id, type, &m, &size);
	ipcctl_timer_stop(&tm);
	if (n == -EINTR && timeout) {
		ret = IPCCTL_TIMEDOUT;
	} else if (n < 0) {
		errno = -n;
		ret = ipcctl_error(dir);
	} else {
		snprintf(head, sizeof(head), "%ld\t", m->mtype);
		ret = queue_print(verbose ? head : NULL, m->mtext, n);
	}
	free(m);
	return ret;
}

static int queue_recv(int argc, char **argv)
{
	struct timespec timeout, when;
	bool verbose = false, timed = false, sysv;
	long long type = 0;
	int opt, given = 0, ret;

	while ((opt = getopt_long(argc, argv, "t:vh", queue_recv_options,
				  NULL)) != -1) {
		switch (opt) {
		case 't':
			ret = queue_head(opt, optarg, LONG_MIN, &type);
			given = opt;
			if (ret != IPCCTL_OK)
				goto out;
			break;
		case 'v':
			verbose = true;
			break;
		case IPCCTL_OPT_TIMEOUT:
			if (ipcctl_parse_timeout(optarg, &timeout) < 0) {
				ret = IPCCTL_USAGE;
				goto out;
			}
			timed = true;
			break;
		case 'h':
			ret = ipcctl_usage(&queue_recv_verb, stdout);
			goto out;
		default:
			ret = ipcctl_usage(&queue_recv_verb, stderr);
			goto out;
		}
	}
	if (argc - optind != 1) {
		ret = ipcctl_usage(&queue_recv_verb, stderr);
		goto out;
	}
	ret = queue_kind(argv[optind], given, &sysv);
	if (ret != IPCCTL_OK)
		goto out;
	/* Type 0 is any type: what a read of framed takes. */
	if (type != 0) {
		ret = queue_recv_type(argv[optind], type, verbose,
				      timed ? &timeout : NULL);
		goto out;
	}
	if (timed)
		queue_deadline(&timeout, &when);
	ret = queue_recv_framed(argv[optind], verbose, timed ? &when : NULL);
out:
	return ret;
}

const struct ipcctl_verb queue_send_verb = {
	.name = "send",
	.run = queue_send,
	.synopsis = "send [-p PRIO | -t TYPE] QUEUE_DIR MESSAGE",
	.help = "Send MESSAGE to the queue of QUEUE_DIR (queues/NAME, or\n"
		"sysv/msg/KEY): one write of \"PRIO<TAB>MESSAGE\" (\"TYPE<TAB>...\")\n"
		"to QUEUE_DIR/framed. It waits while the queue is full.\n"
		"\n"
		"  -p, --priority PRIO  its priority, 0 to 32767 (default 0)\n"
		"  -t, --type TYPE      of a System V queue: its type, 1 to 2^63 - 1\n"
		"                       (default 1)\n"
		"  -h, --help           this text\n",
};

const struct ipcctl_verb queue_recv_verb = {
	.name = "recv",
	.run = queue_recv,
	.synopsis = "recv [-v] [-t TYPE] [--timeout SECONDS] QUEUE_DIR",
	.help = "Wait for and take one message of the queue of QUEUE_DIR\n"
		"(queues/NAME, or sysv/msg/KEY), and print it as it is. It reads\n"
		"QUEUE_DIR/framed, which shows the message after its priority (its\n"
		"type) and a tab. The wait ends, exit 1, when the queue is removed.\n"
		"\n"
		"  -v, --verbose        print its priority (type) and a tab first\n"
		"  -t, --type TYPE      of a System V queue, as msgrcv(2) has it: 0 any\n"
		"                       type (the default), N the first of type N, -N\n"
		"                       the first of the lowest type up to N. Not 0:\n"
		"                       msgrcv on the queue's id, which needs the\n"
		"                       daemon's IPC namespace\n"
		"      --timeout S      wait S seconds at most (S may be 0 or 2.5):\n"
		"                       then take nothing and exit 124\n"
		"  -h, --help           this text\n",
};

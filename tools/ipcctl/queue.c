// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * queue.c - ipcctl send and recv: a message with its priority.
 *
 * They reach the queue natively, by the POSIX name the mount shows in the
 * object directory's user.ipcfs.name attribute: that is how a message gets
 * a priority and a reader sees it, while `data` stays plain bytes.
 *
 *   $ ipcctl send -p 7 /mnt/ipc/queues/jobs urgent
 *   $ ipcctl recv -v --timeout 2 /mnt/ipc/queues/jobs
 *   7	urgent
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <mqueue.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "ipcctl.h"

#define NAME_SIZE 512

static const struct option queue_send_options[] = {
	{ "priority", required_argument, NULL, 'p' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option queue_recv_options[] = {
	{ "verbose", no_argument, NULL, 'v' },
	{ "timeout", required_argument, NULL, IPCCTL_OPT_TIMEOUT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/*
 * The queue of object directory DIR, by its POSIX name (into name, of
 * NAME_SIZE bytes); -1: told.
 */
static mqd_t queue_open(const char *dir, int flags, char *name)
{
	ssize_t len;
	mqd_t mqd;

	mqd = (mqd_t)-1;
	len = getxattr(dir, "user.ipcfs.name", name, NAME_SIZE - 1);
	if (len >= 0) {
		name[len] = '\0';
		mqd = mq_open(name, flags | O_CLOEXEC);
	}
	if (mqd == (mqd_t)-1)
		ipcctl_error(dir);
	return mqd;
}

/*
 * -p PRIO: 0 to sysconf(_SC_MQ_PRIO_MAX) - 1 (32767 on Linux), else 2, the
 * status of bad usage. mq_send takes an unsigned int: unchecked,
 * 4294967303 would be sent as 7.
 */
static int queue_priority(const char *arg, unsigned int *prio)
{
	long max = sysconf(_SC_MQ_PRIO_MAX);
	int ret = IPCCTL_OK;
	long long v;

	if (max <= 0) /* unknown: what POSIX promises */
		max = _POSIX_MQ_PRIO_MAX;
	if (ipcctl_parse_number(arg, &v) < 0 || v < 0 || v >= max) {
		fprintf(stderr, "ipcctl: bad priority '%s' (0 to %ld)\n", arg,
			max - 1);
		ret = IPCCTL_USAGE;
	}
	*prio = v;
	return ret;
}

static int queue_send(int argc, char **argv)
{
	char name[NAME_SIZE];
	unsigned int prio = 0;
	mqd_t mqd;
	int opt, ret = IPCCTL_OK;

	while ((opt = getopt_long(argc, argv, "p:h", queue_send_options,
				  NULL)) != -1) {
		switch (opt) {
		case 'p':
			ret = queue_priority(optarg, &prio);
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
	mqd = queue_open(argv[optind], O_WRONLY, name);
	if (mqd == (mqd_t)-1) {
		ret = IPCCTL_FAIL;
		goto out;
	}
	if (mq_send(mqd, argv[optind + 1], strlen(argv[optind + 1]), prio) < 0)
		ret = ipcctl_error(argv[optind]);
	mq_close(mqd);
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
	     (when->tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? ms : 0;
}

/*
 * Is the queue MQD was opened as gone: unlinked (rmdir, mq_unlink), or its
 * name another queue's now? An unlink does not end a receive that waits on
 * the old queue, so the waiting receive looks every second.
 */
static bool queue_removed(const char *name, mqd_t mqd)
{
	struct stat was, now;
	bool gone;
	mqd_t cur;

	cur = mq_open(name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (cur == (mqd_t)-1)
		return errno == ENOENT;
	gone = fstat(mqd, &was) == 0 && fstat(cur, &now) == 0 &&
	       (was.st_ino != now.st_ino || was.st_dev != now.st_dev);
	mq_close(cur);
	return gone;
}

/*
 * Take one message into buf (size bytes) from MQD, opened O_NONBLOCK:
 * waiting in poll(2) until one comes, the deadline WHEN passes (-ETIMEDOUT;
 * NULL: none) or the queue is removed (-EIDRM, as `data` ends a reader with
 * end-of-file then), which it looks for every second of waiting, also
 * while other readers keep taking what wakes it.
 */
static ssize_t queue_take(const char *name, mqd_t mqd, char *buf, size_t size,
			  unsigned int *prio, const struct timespec *when)
{
	struct pollfd pfd = { .fd = mqd, .events = POLLIN };
	struct timespec look;
	ssize_t n;
	long ms;

	queue_deadline(&(struct timespec){ .tv_sec = 1 }, &look);
	for (;;) {
		n = mq_receive(mqd, buf, size, prio);
		if (n >= 0 || errno != EAGAIN)
			return n < 0 ? -errno : n;
		if (queue_ms_left(&look) == 0) {
			if (queue_removed(name, mqd))
				return -EIDRM;
			queue_deadline(&(struct timespec){ .tv_sec = 1 },
				       &look);
		}
		ms = queue_ms_left(&look);
		if (when && queue_ms_left(when) < ms)
			ms = queue_ms_left(when);
		if (when && ms == 0)
			return -ETIMEDOUT;
		poll(&pfd, 1, ms);
	}
}

static int queue_recv(int argc, char **argv)
{
	struct timespec timeout, when;
	char name[NAME_SIZE];
	bool verbose = false, timed = false;
	struct mq_attr attr;
	unsigned int prio;
	char *buf = NULL;
	ssize_t n;
	mqd_t mqd;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "vh", queue_recv_options,
				  NULL)) != -1) {
		switch (opt) {
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
	mqd = queue_open(argv[optind], O_RDONLY | O_NONBLOCK, name);
	if (mqd == (mqd_t)-1) {
		ret = IPCCTL_FAIL;
		goto out;
	}
	if (mq_getattr(mqd, &attr) < 0)
		goto out_err;
	buf = malloc(attr.mq_msgsize);
	if (!buf)
		goto out_err;
	if (timed)
		queue_deadline(&timeout, &when);
	n = queue_take(name, mqd, buf, attr.mq_msgsize, &prio,
		       timed ? &when : NULL);
	if (n == -ETIMEDOUT) {
		ret = IPCCTL_TIMEDOUT;
		goto out_close;
	}
	if (n < 0) {
		errno = -n;
		goto out_err;
	}
	if (verbose)
		printf("%u\t", prio);
	ret = IPCCTL_OK;
	if (fflush(stdout) != 0 || write(STDOUT_FILENO, buf, n) != n)
		ret = ipcctl_error("standard output");
	goto out_close;
out_err:
	ret = ipcctl_error(argv[optind]);
out_close:
	free(buf);
	mq_close(mqd);
out:
	return ret;
}

const struct ipcctl_verb queue_send_verb = {
	.name = "send",
	.run = queue_send,
	.synopsis = "send [-p PRIO] QUEUE_DIR MESSAGE",
	.help = "Send MESSAGE to the queue of QUEUE_DIR (queues/NAME), natively.\n"
		"\n"
		"  -p, --priority PRIO  its priority, 0 to 32767 (default 0)\n"
		"  -h, --help           this text\n",
};

const struct ipcctl_verb queue_recv_verb = {
	.name = "recv",
	.run = queue_recv,
	.synopsis = "recv [-v] [--timeout SECONDS] QUEUE_DIR",
	.help = "Wait for and take one message of the queue of QUEUE_DIR\n"
		"(queues/NAME), and print it as it is.\n"
		"\n"
		"  -v, --verbose        print its priority and a tab first\n"
		"      --timeout S      wait S seconds at most (S may be 0 or 2.5):\n"
		"                       then take nothing and exit 124\n"
		"The wait ends, exit 1, when the queue is removed (within a second).\n"
		"  -h, --help           this text\n",
};

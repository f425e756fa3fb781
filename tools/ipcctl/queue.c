// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * queue.c - ipcctl send and recv: a message with its priority.
 *
 * Both go through the queue directory's `framed` file, which carries the
 * priority in the bytes "PRIO\tMESSAGE" both ways, so they work on every
 * engine (a PostgreSQL one has no native queue to open) and never reach
 * past the mount: send is one write of the frame (it waits while the
 * queue is full, as a write of data does); recv opens framed with
 * O_NONBLOCK, and reads when poll(2) says a message is there, so a timeout
 * ends a wait that has taken nothing. A removed queue ends the read with
 * end-of-file: recv says "Identifier removed".
 *
 *   $ ipcctl send -p 7 /mnt/ipc/queues/jobs urgent
 *   $ ipcctl recv -v --timeout 2 /mnt/ipc/queues/jobs
 *   7	urgent
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
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

/* -p PRIO: 0 to QUEUE_PRIO_MAX, else 2, the status of bad usage. */
static int queue_priority(const char *arg, unsigned int *prio)
{
	int ret = IPCCTL_OK;
	long long v;

	if (ipcctl_parse_number(arg, &v) < 0 || v < 0 || v > QUEUE_PRIO_MAX) {
		fprintf(stderr, "ipcctl: bad priority '%s' (0 to %d)\n", arg,
			QUEUE_PRIO_MAX);
		ret = IPCCTL_USAGE;
	}
	*prio = v;
	return ret;
}

/* One write of "PRIO\tMESSAGE" to DIR/framed: IPCCTL_OK, or told. */
static int queue_put(const char *dir, unsigned int prio, const char *msg)
{
	size_t len = strlen(msg), n;
	char *frame = malloc(len + 16);
	int fd, ret = IPCCTL_OK;
	ssize_t done;

	if (!frame)
		return ipcctl_error(dir);
	n = sprintf(frame, "%u\t", prio);
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
	unsigned int prio = 0;
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
	ret = queue_put(argv[optind], prio, argv[optind + 1]);
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

static int queue_recv(int argc, char **argv)
{
	struct timespec timeout, when;
	bool verbose = false, timed = false;
	char *buf = NULL, *msg;
	ssize_t n;
	int fd, opt, ret;

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
	if (timed)
		queue_deadline(&timeout, &when);
	fd = queue_open(argv[optind], O_RDONLY | O_NONBLOCK);
	if (fd < 0) {
		ret = IPCCTL_FAIL;
		goto out;
	}
	buf = malloc(QUEUE_FRAME_MAX);
	if (!buf)
		goto out_err;
	n = queue_take(fd, buf, QUEUE_FRAME_MAX, timed ? &when : NULL);
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
	if (!verbose) {
		n -= msg + 1 - buf;
		memmove(buf, msg + 1, n);
	}
	ret = IPCCTL_OK;
	if (fflush(stdout) != 0 || write(STDOUT_FILENO, buf, n) != n)
		ret = ipcctl_error("standard output");
	goto out_close;
out_err:
	ret = ipcctl_error(argv[optind]);
out_close:
	free(buf);
	close(fd);
out:
	return ret;
}

const struct ipcctl_verb queue_send_verb = {
	.name = "send",
	.run = queue_send,
	.synopsis = "send [-p PRIO] QUEUE_DIR MESSAGE",
	.help = "Send MESSAGE to the queue of QUEUE_DIR (queues/NAME): one write\n"
		"of \"PRIO<TAB>MESSAGE\" to QUEUE_DIR/framed. It waits while the\n"
		"queue is full.\n"
		"\n"
		"  -p, --priority PRIO  its priority, 0 to 32767 (default 0)\n"
		"  -h, --help           this text\n",
};

const struct ipcctl_verb queue_recv_verb = {
	.name = "recv",
	.run = queue_recv,
	.synopsis = "recv [-v] [--timeout SECONDS] QUEUE_DIR",
	.help = "Wait for and take one message of the queue of QUEUE_DIR\n"
		"(queues/NAME), and print it as it is. It reads QUEUE_DIR/framed,\n"
		"which shows the message after its priority and a tab. The wait\n"
		"ends, exit 1, when the queue is removed.\n"
		"\n"
		"  -v, --verbose        print its priority and a tab first\n"
		"      --timeout S      wait S seconds at most (S may be 0 or 2.5):\n"
		"                       then take nothing and exit 124\n"
		"  -h, --help           this text\n",
};

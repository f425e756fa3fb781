// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * topic.c - ipcctl publish and subscribe: a topic through its data file.
 *
 * publish is one write(2) of MESSAGE to TOPIC_DIR/data: one message, to
 * every reader the topic has at that moment. subscribe opens TOPIC_DIR/data
 * for reading (from then on it gets every message), and prints each
 * message as one read(2) returns it, a newline after one that ends in
 * none, flushed at once: for pipelines.
 *
 *   $ ipcctl subscribe --count 1 /mnt/ipc/topics/reload &
 *   $ ipcctl publish /mnt/ipc/topics/reload now
 *   now
 *
 * Both make sure TOPIC_DIR is a topic (it has `subscribers`) before they
 * open its data: a queue's or a channel's data would take what was not
 * theirs to take.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipcctl.h"

/*
 * More than a topic's largest message (1 MiB less 4 KiB, IPC_MSG_MAX in
 * backends/ipc.h): one read, one message.
 */
#define TOPIC_MSG_MAX (1 << 20)

static const struct option topic_publish_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option topic_subscribe_options[] = {
	{ "count", required_argument, NULL, 'c' },
	{ "timeout", required_argument, NULL, IPCCTL_OPT_TIMEOUT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/*
 * TOPIC_DIR/data into PATH, once TOPIC_DIR is seen to be a topic:
 * IPCCTL_OK, or IPCCTL_FAIL (told).
 */
static int topic_data(char *path, size_t size, const char *dir)
{
	struct stat st;
	int ret = IPCCTL_OK;

	if ((size_t)snprintf(path, size, "%s/subscribers", dir) >= size) {
		errno = ENAMETOOLONG;
		ret = ipcctl_error(dir);
	} else if (stat(path, &st) < 0) {
		if (errno == ENOENT && stat(dir, &st) == 0) {
			fprintf(stderr, "ipcctl: %s: not a topic\n", dir);
			ret = IPCCTL_FAIL;
		} else {
			ret = ipcctl_error(dir);
		}
	} else {
		snprintf(path, size, "%s/data", dir);
	}
	return ret;
}

static int topic_publish(int argc, char **argv)
{
	const char *msg;
	char path[4096];
	size_t len;
	ssize_t n;
	int fd, opt, ret = IPCCTL_OK;

	/* "+": MESSAGE may look like an option ("-1"), after TOPIC_DIR. */
	while ((opt = getopt_long(argc, argv, "+h", topic_publish_options,
				  NULL)) != -1) {
		ret = ipcctl_usage(&topic_publish_verb,
				   opt == 'h' ? stdout : stderr);
		goto out;
	}
	if (argc - optind != 2) {
		ret = ipcctl_usage(&topic_publish_verb, stderr);
		goto out;
	}
	msg = argv[optind + 1];
	len = strlen(msg);
	/* A write of nothing is no message; a read of nothing is the end. */
	if (len == 0) {
		fprintf(stderr,
			"ipcctl: an empty message cannot be published\n");
		ret = IPCCTL_USAGE;
		goto out;
	}
	ret = topic_data(path, sizeof(path), argv[optind]);
	if (ret != IPCCTL_OK)
		goto out;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = ipcctl_error(path);
		goto out;
	}
	/* One write, one message: a short one would have split it. */
	n = write(fd, msg, len);
	if (n >= 0 && (size_t)n != len)
		errno = EIO;
	if (n < 0 || (size_t)n != len)
		ret = ipcctl_error(path);
	if (close(fd) < 0 && ret == IPCCTL_OK)
		ret = ipcctl_error(path);
out:
	return ret;
}

/* --count N: a positive count, else 2 (told). */
static int topic_count(const char *arg, long long *count)
{
	int ret = IPCCTL_OK;

	if (ipcctl_parse_number(arg, count) < 0 || *count <= 0 ||
	    strchr(arg, '\n')) {
		fprintf(stderr, "ipcctl: bad count '%s' (1 or more)\n", arg);
		ret = IPCCTL_USAGE;
	}
	return ret;
}

/* All of BUF (LEN bytes) to standard output, whatever interrupts it. */
static int topic_print(const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(STDOUT_FILENO, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ipcctl_error("standard output");
		buf += n;
		len -= n;
	}
	return IPCCTL_OK;
}

/* Has the deadline WHEN (CLOCK_MONOTONIC) passed? */
static bool topic_past(const struct timespec *when)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > when->tv_sec ||
	       (now.tv_sec == when->tv_sec && now.tv_nsec >= when->tv_nsec);
}

/*
 * Plain blocking reads of data: a waiting subscriber is a waiter like any
 * other (`waiters` lists it), and the timer's SIGALRM ends a read that
 * waits, which then took nothing. --timeout is the whole run's, as
 * timeout(1)'s: a message that came meanwhile is printed, and the status
 * is 124 whenever the time ran out before COUNT messages or the end.
 */
static int topic_subscribe(int argc, char **argv)
{
	struct timespec timeout = { 0 }, when;
	long long count = 0, got = 0;
	struct ipcctl_timer tm;
	bool timed = false;
	char path[4096], *buf;
	ssize_t n = 0;
	int fd, err = 0, opt, ret = IPCCTL_OK;

	while ((opt = getopt_long(argc, argv, "c:h", topic_subscribe_options,
				  NULL)) != -1) {
		switch (opt) {
		case 'c':
			ret = topic_count(optarg, &count);
			if (ret != IPCCTL_OK)
				goto out;
			break;
		case IPCCTL_OPT_TIMEOUT:
			if (ipcctl_parse_timeout(optarg, &timeout) < 0) {
				ret = IPCCTL_USAGE;
				goto out;
			}
			timed = true;
			break;
		case 'h':
			ret = ipcctl_usage(&topic_subscribe_verb, stdout);
			goto out;
		default:
			ret = ipcctl_usage(&topic_subscribe_verb, stderr);
			goto out;
		}
	}
	if (argc - optind != 1) {
		ret = ipcctl_usage(&topic_subscribe_verb, stderr);
		goto out;
	}
	ret = topic_data(path, sizeof(path), argv[optind]);
	if (ret != IPCCTL_OK)
		goto out;
	buf = malloc(TOPIC_MSG_MAX + 1);
	if (!buf) {
		ret = ipcctl_error(path);
		goto out;
	}
	if (timed) {
		clock_gettime(CLOCK_MONOTONIC, &when);
		when.tv_sec += timeout.tv_sec;
		when.tv_nsec += timeout.tv_nsec;
		if (when.tv_nsec >= 1000000000) {
			when.tv_sec++;
			when.tv_nsec -= 1000000000;
		}
	}
	ret = ipcctl_timer_start(&tm, timed ? &timeout : NULL);
	if (ret < 0) {
		errno = -ret;
		ret = ipcctl_error("timer");
		goto out_free;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		err = errno;
	while (fd >= 0 && (!count || got < count)) {
		/* A steady flow would end every read before the timer could. */
		if (timed && topic_past(&when)) {
			err = EINTR;
			break;
		}
		n = read(fd, buf, TOPIC_MSG_MAX + 1);
		if (n <= 0) {
			err = n < 0 ? errno : 0;
			break;
		}
		got++;
		if (n > TOPIC_MSG_MAX) { /* more than a message: no topic's */
			err = EMSGSIZE;
			break;
		}
		if (buf[n - 1] != '\n')
			buf[n++] = '\n';
		ret = topic_print(buf, n);
		if (ret != IPCCTL_OK)
			break;
	}
	ipcctl_timer_stop(&tm);
	if (fd >= 0)
		close(fd);
	if (ret != IPCCTL_OK) {
		/* standard output failed: told */
	} else if (err == EINTR && timed) {
		ret = IPCCTL_TIMEDOUT;
	} else if (err) {
		errno = err;
		ret = ipcctl_error(path);
	}
out_free:
	free(buf);
out:
	return ret;
}

const struct ipcctl_verb topic_publish_verb = {
	.name = "publish",
	.run = topic_publish,
	.synopsis = "publish TOPIC_DIR MESSAGE",
	.help = "Publish MESSAGE to the topic of TOPIC_DIR (topics/NAME): one\n"
		"write of exactly its bytes (no newline added) to its data, which\n"
		"every subscriber of that moment receives. It never waits.\n"
		"Options go before TOPIC_DIR: MESSAGE may begin with '-'.\n"
		"\n"
		"  -h, --help           this text\n",
};

const struct ipcctl_verb topic_subscribe_verb = {
	.name = "subscribe",
	.run = topic_subscribe,
	.synopsis = "subscribe [--count N] [--timeout SECONDS] TOPIC_DIR",
	.help = "Subscribe to the topic of TOPIC_DIR (topics/NAME): print every\n"
		"message published from now on, each followed by a newline if it\n"
		"ends in none, flushed at once. Ends, exit 0, when the topic is\n"
		"removed.\n"
		"\n"
		"  -c, --count N        exit 0 after N messages\n"
		"      --timeout S      exit 124 once S seconds have passed in all\n"
		"                       (S may be 0 or 2.5), as timeout(1) would;\n"
		"                       what came before is printed\n"
		"  -h, --help           this text\n",
};

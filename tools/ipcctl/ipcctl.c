// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ipcctl - inspect and drive an ipcfs mount.
 *
 *   $ ipcctl ls
 *   KIND   NAME OWNER PERMS     MSGS BYTES SIZE VALUE WAITERS HOLDERS
 *   queues jobs root  rw-------    3                        0
 *   $ ipcctl send -p 7 /mnt/ipc/queues/jobs urgent
 *
 * This file is the verb table, the usage texts and what the verbs share;
 * ls.c and limits.c list (on libsmartcols, through table.c, from the walk
 * of tree.c), mkdir.c makes objects with their parameters, queue.c sends
 * and receives, semaphore.c waits, posts and holds.
 *
 * Exit status: 0 done, 1 failed, 2 bad usage, 124 timed out.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>

#include "ipcctl.h"

/* After TIMEOUT, the timer rings again this often (ns): see ipcctl_timer. */
#define IPCCTL_RING_AGAIN 10000000

#ifndef IPCFS_VERSION
#define IPCFS_VERSION "unknown"
#endif

static const struct ipcctl_verb *const ipcctl_verbs[] = {
	&ls_verb,
	&mkdir_verb,
	&queue_send_verb,
	&queue_recv_verb,
	&semaphore_wait_verb,
	&semaphore_post_verb,
	&semaphore_hold_verb,
	&topic_publish_verb,
	&topic_subscribe_verb,
	NULL,
};

/* The synopsis of each line of VERB's, under "usage: " or aligned with it. */
static void ipcctl_synopsis(const struct ipcctl_verb *verb, FILE *out,
			    bool *first)
{
	const char *s = verb->synopsis, *nl;

	for (; *s; s = *nl ? nl + 1 : nl) {
		nl = strchrnul(s, '\n');
		fprintf(out, "%s ipcctl %.*s\n", *first ? "usage:" : "      ",
			(int)(nl - s), s);
		*first = false;
	}
}

/*
 * VERB's usage, or everybody's (VERB NULL): on stdout for --help (exit 0),
 * on stderr after bad usage (exit 2).
 */
int ipcctl_usage(const struct ipcctl_verb *verb, FILE *out)
{
	const struct ipcctl_verb *const *v;
	bool first = true;

	if (verb) {
		ipcctl_synopsis(verb, out, &first);
		if (out == stdout)
			fprintf(out, "\n%s", verb->help);
		else
			fprintf(out, "Try 'ipcctl %s --help'.\n", verb->name);
	} else {
		for (v = ipcctl_verbs; *v; v++)
			ipcctl_synopsis(*v, out, &first);
		fprintf(out, "       ipcctl --help | --version\n"
			     "       ipcctl VERB --help\n");
		if (out == stdout)
			fprintf(out,
				"\n"
				"ls         list the objects of an ipcfs mount, or its limits (-g)\n"
				"mkdir      make an object with its own parameters\n"
				"send       send a message to a queue\n"
				"recv       receive a message from a queue\n"
				"wait       take one unit of a semaphore\n"
				"post       give units to a semaphore\n"
				"hold       run a command holding one unit of a semaphore\n"
				"publish    publish a message to a topic\n"
				"subscribe  print the messages of a topic as they come\n"
				"\n"
				"Exit status: 0 done, 1 failed, 2 bad usage, 124 timed out.\n");
	}
	return out == stdout ? IPCCTL_OK : IPCCTL_USAGE;
}

/* "ipcctl: PATH: what errno says"; returns 1, the status of a failure. */
int ipcctl_error(const char *path)
{
	fprintf(stderr, "ipcctl: %s: %s\n", path, strerror(errno));
	return IPCCTL_FAIL;
}

/*
 * TEXT, a decimal number with nothing around it but a last newline (as
 * the tree's files, /proc's and /proc/sys's end one), into *VAL. Returns 0,
 * or -EINVAL for anything else: strtoll alone would take leading blanks,
 * a '+', and stop quietly at junk or at its limits.
 */
int ipcctl_parse_number(const char *text, long long *val)
{
	char *end;
	int ret = 0;

	errno = 0;
	*val = strtoll(text, &end, 10);
	if ((*text != '-' && (*text < '0' || *text > '9')) || errno ||
	    end == text || (*end && strcmp(end, "\n") != 0))
		ret = -EINVAL;
	return ret;
}

/*
 * The number in extended attribute NAME of PATH (the mount's root: the
 * daemon's PID, its options), into *VAL. Returns 0, -errno, or -EINVAL
 * for what is no number.
 */
int ipcctl_xattr_number(const char *path, const char *name, long long *val)
{
	char buf[32];
	ssize_t n;
	int ret;

	n = getxattr(path, name, buf, sizeof(buf) - 1);
	if (n < 0) {
		ret = -errno;
	} else {
		buf[n] = '\0';
		ret = ipcctl_parse_number(buf, val);
	}
	return ret;
}

/*
 * --timeout S: decimal seconds, maybe fractional, never negative. strtod
 * would take "1e3", "0x10", "inf" and "-0": a timeout is none of those.
 */
int ipcctl_parse_timeout(const char *arg, struct timespec *ts)
{
	const char *p = arg;
	long long sec = 0;
	long nsec = 0, scale = 100000000;
	bool digits = false;

	for (; *p >= '0' && *p <= '9'; p++, digits = true) {
		sec = sec * 10 + (*p - '0');
		if (sec > INT_MAX)
			goto out_bad;
	}
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, digits = true) {
			nsec += (*p - '0') * scale;
			scale /= 10;
		}
	if (*p || !digits)
		goto out_bad;
	ts->tv_sec = sec;
	ts->tv_nsec = nsec;
	return 0;
out_bad:
	fprintf(stderr, "ipcctl: bad timeout '%s' (seconds, e.g. 2.5)\n", arg);
	return -1;
}

static void ipcctl_ring(int sig)
{
	/* Nothing to do: the signal is there to interrupt a call. */
}

/*
 * Arm *TM: after TIMEOUT (NULL: never), SIGALRM interrupts the blocking
 * call that follows (the open of `hold`, the read of `wait`), which fails
 * with EINTR having taken nothing (DESIGN.md §2). The handler has no
 * SA_RESTART, and the signal is unblocked, whatever ipcctl was given: an
 * ignored or blocked SIGALRM would let the call wait for ever. The timer
 * rings again every IPCCTL_RING_AGAIN ns, in case a ring came before the
 * call began to wait. Returns 0 or -errno, with nothing changed.
 */
int ipcctl_timer_start(struct ipcctl_timer *tm, const struct timespec *timeout)
{
	struct sigaction sa = { .sa_handler = ipcctl_ring };
	struct sigevent sev = {
		.sigev_notify = SIGEV_SIGNAL,
		.sigev_signo = SIGALRM,
	};
	struct itimerspec its = {
		.it_interval = { 0, IPCCTL_RING_AGAIN },
	};
	sigset_t alrm;
	int ret = 0;

	tm->armed = false;
	if (!timeout)
		goto out;
	its.it_value = *timeout;
	if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
		its.it_value.tv_nsec = 1; /* 0 would disarm it */
	sigemptyset(&sa.sa_mask);
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	if (sigaction(SIGALRM, &sa, &tm->action) < 0) {
		ret = -errno;
		goto out;
	}
	if (sigprocmask(SIG_UNBLOCK, &alrm, &tm->mask) < 0) {
		ret = -errno;
		goto out_action;
	}
	if (timer_create(CLOCK_MONOTONIC, &sev, &tm->id) < 0) {
		ret = -errno;
		goto out_mask;
	}
	if (timer_settime(tm->id, 0, &its, NULL) < 0) {
		ret = -errno;
		goto out_timer;
	}
	tm->armed = true;
	goto out;
out_timer:
	timer_delete(tm->id);
out_mask:
	sigprocmask(SIG_SETMASK, &tm->mask, NULL);
out_action:
	sigaction(SIGALRM, &tm->action, NULL);
out:
	return ret;
}

/*
 * Disarm *TM, and give SIGALRM back the disposition and the mask ipcctl
 * was given (what CMD of hold starts with). A ring still pending was
 * delivered on the way out of timer_delete: it was unblocked, and ipcctl
 * has one thread, so none is left to meet the old disposition.
 */
void ipcctl_timer_stop(struct ipcctl_timer *tm)
{
	if (tm->armed) {
		timer_delete(tm->id);
		sigaction(SIGALRM, &tm->action, NULL);
		sigprocmask(SIG_SETMASK, &tm->mask, NULL);
		tm->armed = false;
	}
}

int main(int argc, char **argv)
{
	const struct ipcctl_verb *const *v;
	char prog[32];
	int ret;

	if (argc < 2) {
		ret = ipcctl_usage(NULL, stderr);
		goto out;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		ret = ipcctl_usage(NULL, stdout);
		goto out;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("ipcctl version %s\n", IPCFS_VERSION);
		ret = IPCCTL_OK;
		goto out;
	}
	for (v = ipcctl_verbs; *v && strcmp((*v)->name, argv[1]) != 0; v++)
		;
	if (!*v) {
		fprintf(stderr, "ipcctl: unknown verb '%s'\n", argv[1]);
		ret = ipcctl_usage(NULL, stderr);
		goto out;
	}
	/* getopt names its program in its messages: "ipcctl wait: ...". */
	snprintf(prog, sizeof(prog), "ipcctl %s", (*v)->name);
	argv[1] = prog;
	ret = (*v)->run(argc - 1, argv + 1);
out:
	/* Output that could not be written is a failure too (a full disk). */
	if ((fflush(stdout) != 0 || ferror(stdout)) && ret == IPCCTL_OK)
		ret = ipcctl_error("standard output");
	return ret;
}

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * semaphore.c - ipcctl wait, post and hold: a semaphore through its tree.
 *
 * wait reads SEM_DIR/wait (a read that returns took one unit), post writes
 * SEM_DIR/post. hold runs a command holding a unit, as flock(1) runs one
 * holding a lock: its child opens SEM_DIR/hold (the open takes one unit;
 * the last close of that open file gives it back) and execs the command,
 * which so owns the unit, and is the PID that `holders` shows.
 *
 *   $ ipcctl hold --timeout 5 /mnt/ipc/sem/lock -- make install
 *   $ ipcctl post /mnt/ipc/sem/lock 2
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipcctl.h"

/* wait's and hold's */
static const struct option semaphore_timeout_options[] = {
	{ "timeout", required_argument, NULL, IPCCTL_OPT_TIMEOUT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option semaphore_post_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* SEM_DIR/FILE into PATH: IPCCTL_OK, or IPCCTL_FAIL if too long (told). */
static int semaphore_path(char *path, size_t size, const char *dir,
			  const char *file)
{
	int ret = IPCCTL_OK;

	if ((size_t)snprintf(path, size, "%s/%s", dir, file) >= size) {
		errno = ENAMETOOLONG;
		ret = ipcctl_error(dir);
	}
	return ret;
}

/* What the options of wait and hold ask for. */
struct semaphore_opts {
	bool help;		 /* --help: the caller answers it */
	bool timed;		 /* --timeout S */
	struct timespec timeout; /* S */
};

/*
 * The options of VERB, of OPTSTRING, into *O. Returns IPCCTL_OK, or
 * IPCCTL_USAGE for a bad one (told).
 */
static int semaphore_options(const struct ipcctl_verb *verb,
			     const char *optstring, int argc, char **argv,
			     struct semaphore_opts *o)
{
	int opt, ret = IPCCTL_OK;

	*o = (struct semaphore_opts){ 0 };
	while (ret == IPCCTL_OK && !o->help &&
	       (opt = getopt_long(argc, argv, optstring,
				  semaphore_timeout_options, NULL)) != -1) {
		switch (opt) {
		case IPCCTL_OPT_TIMEOUT:
			if (ipcctl_parse_timeout(optarg, &o->timeout) < 0)
				ret = IPCCTL_USAGE;
			o->timed = true;
			break;
		case 'h':
			o->help = true;
			break;
		default:
			ret = ipcctl_usage(verb, stderr);
			break;
		}
	}
	return ret;
}

/*
 * A plain blocking read of `wait`, timed or not: it is a waiter like any
 * other (`waiters` lists it, in its turn), and a read the timer interrupts
 * took nothing. The open is timed too: the daemon could be slow to answer.
 */
static int semaphore_wait(int argc, char **argv)
{
	struct semaphore_opts o;
	struct ipcctl_timer tm;
	char path[4096], c;
	int fd, err, ret;

	ret = semaphore_options(&semaphore_wait_verb, "h", argc, argv, &o);
	if (ret != IPCCTL_OK)
		goto out;
	if (o.help) {
		ret = ipcctl_usage(&semaphore_wait_verb, stdout);
		goto out;
	}
	if (argc - optind != 1) {
		ret = ipcctl_usage(&semaphore_wait_verb, stderr);
		goto out;
	}
	ret = semaphore_path(path, sizeof(path), argv[optind], "wait");
	if (ret != IPCCTL_OK)
		goto out;
	ret = ipcctl_timer_start(&tm, o.timed ? &o.timeout : NULL);
	if (ret < 0) {
		errno = -ret;
		ret = ipcctl_error("timer");
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	err = fd < 0 ? errno : 0;
	if (fd >= 0 && read(fd, &c, 1) < 0)
		err = errno;
	ipcctl_timer_stop(&tm);
	if (fd >= 0)
		close(fd);
	if (err == EINTR && o.timed) {
		ret = IPCCTL_TIMEDOUT;
	} else if (err) {
		errno = err;
		ret = ipcctl_error(path);
	}
out:
	return ret;
}

/* N is the daemon's to judge: it refuses what is no count (EINVAL). */
static int semaphore_post(int argc, char **argv)
{
	char path[4096], *buf;
	const char *n = "";
	int fd, opt, len, ret;

	/* "+": N may look like an option ("-1"); it is the daemon's. */
	opt = getopt_long(argc, argv, "+h", semaphore_post_options, NULL);
	if (opt != -1) {
		ret = ipcctl_usage(&semaphore_post_verb,
				   opt == 'h' ? stdout : stderr);
		goto out;
	}
	if (argc - optind != 1 && argc - optind != 2) {
		ret = ipcctl_usage(&semaphore_post_verb, stderr);
		goto out;
	}
	if (argc - optind == 2)
		n = argv[optind + 1];
	if (strchr(n, '\n')) {
		fprintf(stderr, "ipcctl: bad count '%s'\n", n);
		ret = IPCCTL_USAGE;
		goto out;
	}
	ret = semaphore_path(path, sizeof(path), argv[optind], "post");
	if (ret != IPCCTL_OK)
		goto out;
	/* One write: "N\n" posts N times, "\n" once. */
	len = asprintf(&buf, "%s\n", n);
	if (len < 0) {
		errno = ENOMEM;
		ret = ipcctl_error(path);
		goto out;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = ipcctl_error(path);
		goto out_free;
	}
	if (write(fd, buf, len) != len)
		ret = ipcctl_error(path);
	if (close(fd) < 0 && ret == IPCCTL_OK)
		ret = ipcctl_error(path);
out_free:
	free(buf);
out:
	return ret;
}

/*
 * hold's child: take the unit, then become CMD with it (not O_CLOEXEC).
 * The PID that opened `hold`, the one `holders` names, is then CMD's, and
 * the unit stays CMD's whatever becomes of ipcctl. CMD starts with the
 * signal mask and dispositions ipcctl was given: SIGCHLD's is in *CHLD.
 */
static _Noreturn void semaphore_hold_child(const char *path, char **cmd,
					   const struct timespec *timeout,
					   const struct sigaction *chld)
{
	struct ipcctl_timer tm;
	int fd, err, status;

	status = ipcctl_timer_start(&tm, timeout);
	if (status < 0) {
		errno = -status;
		status = ipcctl_error("timer");
		goto out;
	}
	fd = open(path, O_RDONLY);
	err = errno;
	ipcctl_timer_stop(&tm);
	if (fd < 0 && err == EINTR && timeout) {
		status = IPCCTL_TIMEDOUT;
		goto out;
	}
	if (fd < 0) {
		errno = err;
		status = ipcctl_error(path);
		goto out;
	}
	sigaction(SIGCHLD, chld, NULL);
	execvp(cmd[0], cmd);
	status = errno == ENOENT ? IPCCTL_NOT_FOUND : IPCCTL_CANNOT_EXEC;
	ipcctl_error(cmd[0]);
out:
	_exit(status);
}

/*
 * Fork first: the child takes the unit and execs CMD (semaphore_hold_child);
 * we wait for it and exit with its status as the shell has it, whichever
 * of them ended it (124 at the timeout, 126, 127, 1 before CMD ran).
 */
static int semaphore_hold(int argc, char **argv)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL }, chld;
	struct semaphore_opts o;
	char path[4096];
	const char *dir;
	int ret, status;
	pid_t pid, w;

	/* "+": the options end at SEM_DIR; CMD's are its own. */
	ret = semaphore_options(&semaphore_hold_verb, "+h", argc, argv, &o);
	if (ret != IPCCTL_OK)
		goto out;
	if (o.help) {
		ret = ipcctl_usage(&semaphore_hold_verb, stdout);
		goto out;
	}
	if (optind == argc) {
		ret = ipcctl_usage(&semaphore_hold_verb, stderr);
		goto out;
	}
	dir = argv[optind++];
	/* SEM_DIR -- CMD: the "--" may be left out, as flock(1) has it. */
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (optind == argc) {
		ret = ipcctl_usage(&semaphore_hold_verb, stderr);
		goto out;
	}
	ret = semaphore_path(path, sizeof(path), dir, "hold");
	if (ret != IPCCTL_OK)
		goto out;
	/* An ignored SIGCHLD would reap the child before waitpid sees it. */
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGCHLD, &dfl, &chld);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		ret = ipcctl_error("fork");
		goto out;
	}
	if (pid == 0)
		semaphore_hold_child(path, argv + optind,
				     o.timed ? &o.timeout : NULL, &chld);
	do
		w = waitpid(pid, &status, 0);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		ret = ipcctl_error("waitpid");
	else if (WIFSIGNALED(status))
		ret = 128 + WTERMSIG(status);
	else
		ret = WEXITSTATUS(status);
out:
	return ret;
}

const struct ipcctl_verb semaphore_wait_verb = {
	.name = "wait",
	.run = semaphore_wait,
	.synopsis = "wait [--timeout SECONDS] SEM_DIR",
	.help = "Wait for and take one unit of the semaphore of SEM_DIR (sem/NAME).\n"
		"\n"
		"      --timeout S      wait S seconds at most (S may be 0 or 2.5):\n"
		"                       then take nothing and exit 124\n"
		"  -h, --help           this text\n",
};

const struct ipcctl_verb semaphore_post_verb = {
	.name = "post",
	.run = semaphore_post,
	.synopsis = "post SEM_DIR [N]",
	.help = "Give N units (default 1) to the semaphore of SEM_DIR (sem/NAME).\n"
		"\n"
		"  -h, --help           this text\n",
};

const struct ipcctl_verb semaphore_hold_verb = {
	.name = "hold",
	.run = semaphore_hold,
	.synopsis = "hold [--timeout SECONDS] SEM_DIR -- CMD [ARG...]",
	.help = "Take one unit of the semaphore of SEM_DIR (sem/NAME), waiting for\n"
		"one, and run CMD holding it: CMD's process opens SEM_DIR/hold (its\n"
		"PID is the one `holders` shows) and keeps the unit until it, and\n"
		"whatever it handed the descriptor on to, ends, however it ends.\n"
		"The exit status is CMD's (128+N if a signal N ended it; 126: it\n"
		"cannot run, 127: not found).\n"
		"\n"
		"      --timeout S      wait S seconds at most (S may be 0 or 2.5):\n"
		"                       then take nothing, run nothing, exit 124\n"
		"  -h, --help           this text\n",
};

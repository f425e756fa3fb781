// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * caller.c - doing a thing as the caller of a request would do it natively.
 *
 * The daemon runs as root, so what it makes is root's unless told
 * otherwise, and what it makes is charged to root: every queue made through
 * the tree used to eat root's RLIMIT_MSGQUEUE (800 KiB), so one user could
 * fill it for everybody, and a user whose own limit forbids queues got them
 * anyway. Making the object in a child that has become the caller puts it
 * back where native use would: the kernel checks the caller's rights,
 * makes the caller the owner, and charges the caller's user, against the
 * caller's own limit.
 *
 *   $ ulimit -q 0; mkdir /mnt/ipc/queues/x
 *   mkdir: cannot create directory '/mnt/ipc/queues/x': Too many open files
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc.h"

/*
 * Ours, or the caller's RLIMIT_MSGQUEUE if it is smaller. prlimit() on
 * another user's process needs CAP_SYS_RESOURCE, which a daemon in a
 * container may lack; /proc/PID/limits shows it to anybody.
 */
static void caller_msgqueue_limit(pid_t pid, struct rlimit *rl)
{
	char path[64], line[256];
	unsigned long long cur;
	FILE *f;

	if (getrlimit(RLIMIT_MSGQUEUE, rl) < 0)
		rl->rlim_cur = rl->rlim_max = RLIM_INFINITY;
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	f = pid > 0 ? fopen(path, "re") : NULL;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Max msgqueue size %llu", &cur) == 1 &&
		    cur < rl->rlim_cur)
			rl->rlim_cur = cur;
	if (f)
		fclose(f);
}

/*
 * In the child. Raw system calls: glibc's set*id() would try to reach the
 * daemon's other threads, which the child does not have.
 */
static int caller_become(const struct ipc_caller *c, const struct rlimit *rl)
{
	if (setrlimit(RLIMIT_MSGQUEUE, rl) < 0 ||
	    syscall(SYS_setgroups, c->ngroups, c->groups) < 0 ||
	    syscall(SYS_setresgid, c->gid, c->gid, c->gid) < 0 ||
	    syscall(SYS_setresuid, c->uid, c->uid, c->uid) < 0)
		return -errno;
	return 0;
}

int ipc_as_caller(const struct ipc_caller *c, int (*fn)(void *arg), void *arg)
{
	struct rlimit rl;
	int ret, status, fds[2];
	ssize_t n;
	pid_t pid;

	caller_msgqueue_limit(c->pid, &rl);
	/*
	 * The answer comes through a pipe, not the exit status, which a tool
	 * wrapping the daemon may change (valgrind's leak check of the child).
	 */
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		close(fds[0]);
		close(fds[1]);
		return ret;
	}
	if (pid == 0) {
		/*
		 * System calls only, here and in fn and the atfork handlers:
		 * the allocator's locks may be held by threads the child
		 * does not have.
		 */
		close(fds[0]);
		ret = caller_become(c, &rl);
		if (ret == 0)
			ret = fn(arg);
		(void)!write(fds[1], &ret, sizeof(ret));
		_exit(0);
	}
	close(fds[1]);
	do
		n = read(fds[0], &ret, sizeof(ret));
	while (n < 0 && errno == EINTR);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			break;
	return n == sizeof(ret) ? ret : -EIO;
}

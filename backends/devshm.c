// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * devshm.c - the one way kinds reach the files of /dev/shm: segments
 * (shm/NAME is /dev/shm/NAME) and glibc's named semaphores (sem/NAME is
 * /dev/shm/sem.NAME).
 *
 * /dev/shm is writable by everybody, so any user can put a symlink, a FIFO
 * or a directory where an object's file should be, or swap one in between
 * two calls of ours. The daemon acts as root: a chmod that followed a link
 * would change whatever file the link names. So every change of an
 * object's file opens it here with O_PATH|O_NOFOLLOW (which neither follows
 * a link nor opens a device or FIFO), checks that what it got is a regular
 * file, and works on that descriptor only: what was checked is what is
 * changed; a semaphore is mapped from such a descriptor too (opened
 * O_NOFOLLOW, checked, then mapped). Looks use fstatat() without following
 * links. Anything that is not a regular file is no object (ENOENT).
 *
 *   $ ln -s /etc/shadow /dev/shm/sem.x; ls /mnt/ipc/sem     # no "x"
 *
 * A mapping of a file there (a semaphore) can be cut
 * short by whoever may write the file: the next touch of it raises SIGBUS,
 * which would kill the daemon for every user. Touches of such mappings run
 * under a guard (devshm_guard_begin/end): a SIGBUS inside the guarded range
 * puts a blank page in place of the lost one, and the guard reports -EIO.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devshm.h"

static int devshm_dirfd = -1;
static unsigned int devshm_users; /* kinds that called devshm_init() */
static uintptr_t devshm_page;	  /* the page size, for the handler */
static __thread struct devshm_guard *devshm_guarded; /* this thread's */
static struct sigaction devshm_prev; /* SIGBUS's handler before ours */

/*
 * SIGBUS in a guarded range: map a blank page over the one the file lost
 * and let the instruction run again on it. Elsewhere it is a real fault:
 * it goes to the handler we replaced (a sanitizer's), or kills.
 */
static void devshm_sigbus(int sig, siginfo_t *si, void *uc)
{
	struct devshm_guard *g = devshm_guarded;
	uintptr_t a = (uintptr_t)si->si_addr;

	if (!g || a < (uintptr_t)g->addr || a >= (uintptr_t)g->addr + g->len ||
	    mmap((void *)(a & ~(devshm_page - 1)), devshm_page,
		 PROT_READ | PROT_WRITE,
		 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1,
		 0) == MAP_FAILED) {
		/* Whoever handled it before (a sanitizer), or the default. */
		sigaction(SIGBUS, &devshm_prev, NULL);
		return;
	}
	g->faulted = 1;
}

void devshm_guard_begin(struct devshm_guard *g, void *addr, size_t len)
{
	g->addr = addr;
	g->len = len;
	g->faulted = 0;
	devshm_guarded = g;
}

int devshm_guard_end(struct devshm_guard *g)
{
	devshm_guarded = NULL;
	return g->faulted ? -EIO : 0;
}

/*
 * glibc's shm_open() and sem_open() need /dev/shm as much as we do: without
 * it the kinds that live there stay empty, but the others are still worth
 * a mount.
 */
void devshm_init(void)
{
	struct sigaction sa = { .sa_sigaction = devshm_sigbus,
				.sa_flags = SA_SIGINFO };

	if (devshm_users++ == 0) {
		devshm_page = sysconf(_SC_PAGESIZE);
		sigemptyset(&sa.sa_mask);
		sigaction(SIGBUS, &sa, &devshm_prev);
		devshm_dirfd =
			open(DEVSHM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (devshm_dirfd < 0)
			ipc_log("cannot open %s (%s): shm/ and sem/ stay empty",
				DEVSHM_DIR, strerror(errno));
	}
}

void devshm_fini(void)
{
	if (devshm_users && --devshm_users == 0 && devshm_dirfd >= 0) {
		close(devshm_dirfd);
		devshm_dirfd = -1;
	}
}

int devshm_fd(void)
{
	return devshm_dirfd;
}

bool devshm_is_sem(const char *file)
{
	return strncmp(file, DEVSHM_SEM, strlen(DEVSHM_SEM)) == 0;
}

/* The file in /dev/shm of POSIX name NAME: "NAME", or "sem.NAME". */
const char *devshm_file(const char *name, bool sem, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", sem ? DEVSHM_SEM : "", name + 1);
	return buf;
}

/*
 * An O_PATH descriptor of FILE and its stat, if FILE is a regular file:
 * it stays the file checked, whatever is renamed or linked there later.
 */
static int devshm_open_path(const char *file, struct stat *st)
{
	int fd, ret;

	if (devshm_dirfd < 0)
		return -ENOENT;
	fd = openat(devshm_dirfd, file, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -ENOENT : -errno;
	ret = fstat(fd, st) < 0 ? -errno : S_ISREG(st->st_mode) ? 0 : -ENOENT;
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * Map semaphore FILE as sem_open() would (MAP_SHARED, the size of a sem_t),
 * but only a regular file, not followed, at least that long: the file
 * checked is the file mapped. *st: its stat. devshm_unmap_sem() undoes it.
 */
sem_t *devshm_map_sem(const char *file, struct stat *st)
{
	sem_t *sem = MAP_FAILED;
	int fd;

	if (devshm_dirfd < 0) {
		errno = ENOENT;
		return NULL;
	}
	/* O_NONBLOCK: a FIFO planted there must not hold us in open. */
	fd = openat(devshm_dirfd, file,
		    O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP)
			errno = ENOENT;
		return NULL;
	}
	if (fstat(fd, st) == 0) {
		if (!S_ISREG(st->st_mode))
			errno = ENOENT;
		else if (st->st_size < (off_t)sizeof(sem_t))
			errno = EINVAL; /* too short to hold one: would fault */
		else
			sem = mmap(NULL, sizeof(sem_t), PROT_READ | PROT_WRITE,
				   MAP_SHARED, fd, 0);
	}
	close(fd);
	return sem == MAP_FAILED ? NULL : sem;
}

void devshm_unmap_sem(sem_t *sem)
{
	munmap(sem, sizeof(sem_t));
}

/*
 * A look needs no descriptor: what fstatat() finds there without following
 * a link is what a later look would be checked against anyway.
 */
int devshm_stat(const char *file, struct stat *st)
{
	if (devshm_dirfd < 0)
		return -ENOENT;
	if (fstatat(devshm_dirfd, file, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return S_ISREG(st->st_mode) ? 0 : -ENOENT;
}

/*
 * chmod has no way to act on an O_PATH descriptor but its /proc link,
 * which names the very inode the descriptor holds (not a path looked up
 * again).
 */
int devshm_chmod(const char *file, mode_t mode)
{
	char proc[32];
	struct stat st;
	int fd, ret = 0;

	fd = devshm_open_path(file, &st);
	if (fd < 0)
		return fd;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (chmod(proc, mode) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int devshm_chown(const char *file, uid_t uid, gid_t gid)
{
	struct stat st;
	int fd, ret = 0;

	fd = devshm_open_path(file, &st);
	if (fd < 0)
		return fd;
	if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Is the entry a regular file? d_type says so on tmpfs; ask otherwise. */
static bool devshm_regular(int dirfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_REG;
	return fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode);
}

/* "sem.NAME" is semaphore "/NAME", any other regular file segment "/FILE". */
static const char *devshm_object(int dirfd, const struct dirent *de, bool sem)
{
	size_t skip = sem ? strlen(DEVSHM_SEM) : 0;

	if (devshm_is_sem(de->d_name) != sem || !de->d_name[skip] ||
	    !devshm_regular(dirfd, de))
		return NULL;
	return de->d_name + skip;
}

static const char *devshm_sem_object(int dirfd, const struct dirent *de)
{
	return devshm_object(dirfd, de, true);
}

static const char *devshm_segment_object(int dirfd, const struct dirent *de)
{
	return devshm_object(dirfd, de, false);
}

/* Call fill with the POSIX name of each semaphore (sem) or segment (!sem). */
int devshm_list(bool sem, int (*fill)(void *ctx, const char *name), void *ctx)
{
	if (devshm_dirfd < 0)
		return 0;
	return ipc_list_dir(devshm_dirfd,
			    sem ? devshm_sem_object : devshm_segment_object,
			    fill, ctx);
}

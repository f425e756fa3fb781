// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * holds.c - a journal of the semaphore units that sem/NAME/hold files hold.
 *
 * The daemon takes a unit for each open `hold` and gives it back when the
 * file is released, however the holder dies. If the daemon itself dies, its
 * open files die with it and nobody gives those units back: the semaphore
 * would stay low for good. So each daemon notes what it holds in
 * /run/ipcfs/holds.PID, and any later daemon gives back the units of a
 * journal whose daemon is gone.
 *
 *   $ exec 9<sem/lock/hold; kill -9 $(pgrep ipcfs)      # value 0, for now
 *   $ fusermount3 -u /mnt/ipc; ipcfs /mnt/ipc; cat /mnt/ipc/sem/lock/value
 *   1
 *
 * A line is "+ INO LEN NAME" (taken) or "- INO LEN NAME" (given back); the
 * inode tells a semaphore from a later one of the same name. The journal is
 * emptied whenever nothing is held. A unit is noted after it is taken and
 * before it is given back, so a crash between the two can only lose it, as
 * without the journal, never post it twice.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devshm.h"
#include "holds.h"
#include "ipc.h"

#define HOLDS_DIR "/run/ipcfs"
#define HOLDS_DYING_MS 5000	    /* how long a killed daemon may take */
#define HOLDS_PF_EXITING 0x00000004 /* linux/sched.h: in do_exit() */

struct holds_entry {
	char name[NAME_MAX + 2];
	unsigned long ino;
	long count;
};

static pthread_mutex_t holds_lock = PTHREAD_MUTEX_INITIALIZER;
static int holds_fd = -1;     /* our journal, opened at the first hold */
static pid_t holds_pid;	      /* whose journal holds_fd is */
static unsigned long holds_n; /* units held now */
static bool holds_warned;

static unsigned long holds_ino(const char *name)
{
	char file[DEVSHM_FILE_MAX];
	struct stat st;

	devshm_file(name, true, file, sizeof(file));
	return devshm_stat(file, &st) == 0 ? st.st_ino : 0;
}

/* Add one line of a journal to the tally in *e (n entries). */
static int holds_tally(FILE *f, struct holds_entry **e, size_t *n)
{
	struct holds_entry *grown, *it;
	char op, name[NAME_MAX + 2];
	unsigned long ino;
	size_t len, i;

	if (fscanf(f, "%c %lu %zu ", &op, &ino, &len) != 3 || len == 0 ||
	    len > NAME_MAX + 1 || fread(name, 1, len, f) != len ||
	    fgetc(f) != '\n' || (op != '+' && op != '-'))
		return -1;
	name[len] = '\0';
	for (i = 0; i < *n; i++)
		if ((*e)[i].ino == ino && strcmp((*e)[i].name, name) == 0)
			break;
	if (i == *n) {
		grown = realloc(*e, (*n + 1) * sizeof(**e));
		if (!grown)
			return -1;
		*e = grown;
		it = &grown[(*n)++];
		memcpy(it->name, name, len + 1);
		it->ino = ino;
		it->count = 0;
	}
	(*e)[i].count += op == '+' ? 1 : -1;
	return 0;
}

/* Give back what the journal f (a dead daemon's, ours now) holds. */
static void holds_give_back(FILE *f, const char *whose)
{
	struct holds_entry *e = NULL;
	struct devshm_guard g;
	size_t n = 0, i;
	sem_t *sem;
	long k;
	int ret;

	while (holds_tally(f, &e, &n) == 0)
		;
	for (i = 0; i < n; i++) {
		if (e[i].count <= 0 || holds_ino(e[i].name) != e[i].ino)
			continue; /* none held, or the semaphore was remade */
		sem = sem_open(e[i].name, 0);
		if (sem == SEM_FAILED)
			continue;
		/* Its file may be cut short under us (devshm.c). */
		devshm_guard_begin(&g, sem, sizeof(sem_t));
		for (k = 0; k < e[i].count; k++)
			sem_post(sem);
		ret = devshm_guard_end(&g);
		sem_close(sem);
		if (ret < 0) {
			ipc_log("%s: its file in /dev/shm was cut short: no semaphore to give units back to",
				e[i].name);
			continue;
		}
		ipc_log("gave back %ld unit(s) of %s held through ipcfs %s, which died",
			e[i].count, e[i].name, whose);
	}
	free(e);
}

/*
 * Is process pid on its way out (or gone) though it still holds a lock?
 * Killed, it keeps its files for a moment after kill() returns: a SIGKILL
 * pending, or PF_EXITING set, says the lock is about to be released.
 */
static bool holds_dying(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long pending;
	unsigned int flags = 0;
	char state = 'R';
	bool dying = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return true; /* the lock is a leftover child's: it ends soon */
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		sscanf(p + 1, " %c %*d %*d %*d %*d %*d %u", &state, &flags);
	fclose(f);
	if (state == 'Z' || state == 'X' || (flags & HOLDS_PF_EXITING))
		return true;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "re");
	while (f && fgets(buf, sizeof(buf), f))
		if ((sscanf(buf, "SigPnd: %llx", &pending) == 1 ||
		     sscanf(buf, "ShdPnd: %llx", &pending) == 1) &&
		    (pending & (1ULL << (SIGKILL - 1))))
			dying = true;
	if (f)
		fclose(f);
	return dying;
}

/*
 * Take the lock of a journal: 0 if we have it (its daemon is dead), -1 if
 * its daemon lives. A daemon that is being killed is waited for, a while:
 * whether it is dead must not depend on how soon we look.
 */
static int holds_lock_journal(int fd, long pid)
{
	int waited;

	for (waited = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; waited += 10) {
		if (errno != EWOULDBLOCK || waited >= HOLDS_DYING_MS ||
		    !holds_dying(pid))
			return -1;
		usleep(10 * 1000);
	}
	return 0;
}

/*
 * At start: take over the journals of daemons that are gone. A live daemon
 * holds a lock on its journal, which dies with it, however it dies: a
 * zombie nobody reaps still answers kill(pid, 0), but holds no lock.
 */
void holds_replay(void)
{
	char path[PATH_MAX];
	struct stat st, now;
	struct dirent *de;
	DIR *d = opendir(HOLDS_DIR);
	FILE *f;
	long pid;
	char *end;
	int fd;

	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, "holds.", 6) != 0)
			continue;
		pid = strtol(de->d_name + 6, &end, 10);
		/* Ours is made at our first hold: one of our pid is a dead one. */
		if (*end || pid <= 0)
			continue;
		snprintf(path, sizeof(path), HOLDS_DIR "/%s", de->d_name);
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		/*
		 * Of two daemons starting at once, one takes the lock and
		 * unlinks the journal before letting go: the other then finds
		 * it unlinked, and leaves it.
		 */
		if (holds_lock_journal(fd, pid) < 0 || fstat(fd, &st) < 0 ||
		    st.st_nlink == 0 || stat(path, &now) < 0 ||
		    now.st_ino != st.st_ino) {
			close(fd);
			continue;
		}
		f = fdopen(fd, "re");
		if (!f) {
			close(fd);
			continue;
		}
		holds_give_back(f, de->d_name + 6);
		unlink(path);
		fclose(f); /* and the lock */
	}
	if (d)
		closedir(d);
}

/*
 * Under holds_lock: our journal, opened once we know our pid for good. It
 * is made and locked under another name, then renamed: nobody ever sees a
 * journal of ours that is not locked.
 */
static int holds_open(void)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int fd;

	if (holds_fd >= 0 && holds_pid == getpid())
		return holds_fd;
	holds_pid = getpid();
	snprintf(path, sizeof(path), HOLDS_DIR "/holds.%d", (int)holds_pid);
	snprintf(tmp, sizeof(tmp), HOLDS_DIR "/new.%d", (int)holds_pid);
	if (mkdir(HOLDS_DIR, 0700) < 0 && errno != EEXIST)
		goto out_warn;
	fd = open(tmp,
		  O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW |
			  O_CLOEXEC,
		  0600);
	if (fd < 0)
		goto out_warn;
	if (flock(fd, LOCK_EX) < 0 || rename(tmp, path) < 0) {
		close(fd);
		unlink(tmp);
		goto out_warn;
	}
	holds_fd = fd;
	return holds_fd;
out_warn:
	if (!holds_warned)
		ipc_log("cannot journal held units in %s (%s): if ipcfs dies while a hold is open, that unit is lost",
			HOLDS_DIR, strerror(errno));
	holds_warned = true;
	return -1;
}

/* delta units of name (inode ino) were taken (+1) or are given back (-1). */
void holds_note(const char *name, ino_t ino, int delta)
{
	char line[NAME_MAX + 64];
	int len;

	len = snprintf(line, sizeof(line), "%c %lu %zu %s\n",
		       delta > 0 ? '+' : '-', (unsigned long)ino, strlen(name),
		       name);
	pthread_mutex_lock(&holds_lock);
	holds_n += delta;
	if (holds_open() >= 0) {
		/* Nothing held: start afresh rather than grow forever. */
		if (holds_n == 0 ? ftruncate(holds_fd, 0) < 0
				 : write(holds_fd, line, len) != len)
			ipc_log("cannot journal a held unit of %s: %s", name,
				strerror(errno));
	}
	pthread_mutex_unlock(&holds_lock);
}

/* A clean exit has given everything back. */
void holds_fini(void)
{
	char path[PATH_MAX];

	pthread_mutex_lock(&holds_lock);
	if (holds_fd >= 0 && holds_n == 0) {
		snprintf(path, sizeof(path), HOLDS_DIR "/holds.%d",
			 (int)holds_pid);
		unlink(path);
	}
	if (holds_fd >= 0)
		close(holds_fd);
	holds_fd = -1;
	pthread_mutex_unlock(&holds_lock);
}

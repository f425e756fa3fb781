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
#include <sys/stat.h>
#include <unistd.h>

#include "holds.h"
#include "ipc.h"

#define HOLDS_DIR "/run/ipcfs"

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
	char path[NAME_MAX + 16];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/shm/sem.%s", name + 1);
	return stat(path, &st) == 0 ? st.st_ino : 0;
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

/* Give back what the journal at path (a dead daemon's, ours now) holds. */
static void holds_give_back(const char *path, const char *whose)
{
	struct holds_entry *e = NULL;
	FILE *f = fopen(path, "re");
	size_t n = 0, i;
	sem_t *sem;
	long k;

	while (f && holds_tally(f, &e, &n) == 0)
		;
	for (i = 0; i < n; i++) {
		if (e[i].count <= 0 || holds_ino(e[i].name) != e[i].ino)
			continue; /* none held, or the semaphore was remade */
		sem = sem_open(e[i].name, 0);
		if (sem == SEM_FAILED)
			continue;
		for (k = 0; k < e[i].count; k++)
			sem_post(sem);
		sem_close(sem);
		ipc_log("gave back %ld unit(s) of %s held through ipcfs %s, which died",
			e[i].count, e[i].name, whose);
	}
	if (f)
		fclose(f);
	free(e);
	unlink(path);
}

/* At start: take over the journals of daemons that are gone. */
void holds_replay(void)
{
	char path[PATH_MAX], mine[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(HOLDS_DIR);
	long pid;
	char *end;

	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, "holds.", 6) != 0)
			continue;
		pid = strtol(de->d_name + 6, &end, 10);
		if (*end || pid <= 0 ||
		    (pid != getpid() && (kill(pid, 0) == 0 || errno != ESRCH)))
			continue;
		/* Claim it: of two daemons starting at once, one renames it. */
		snprintf(path, sizeof(path), HOLDS_DIR "/%s", de->d_name);
		snprintf(mine, sizeof(mine), HOLDS_DIR "/replay.%d",
			 (int)getpid());
		if (rename(path, mine) == 0)
			holds_give_back(mine, de->d_name + 6);
	}
	if (d)
		closedir(d);
}

/* Under holds_lock: our journal, opened once we know our pid for good. */
static int holds_open(void)
{
	char path[PATH_MAX];

	if (holds_fd >= 0 && holds_pid == getpid())
		return holds_fd;
	holds_pid = getpid();
	snprintf(path, sizeof(path), HOLDS_DIR "/holds.%d", (int)holds_pid);
	if (mkdir(HOLDS_DIR, 0700) < 0 && errno != EEXIST)
		goto out_warn;
	holds_fd =
		open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
		     0600);
	if (holds_fd >= 0)
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

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * holds.c - a journal of the semaphore units the daemon keeps.
 *
 * The daemon takes a unit for each open `hold` and gives it back when the
 * file is released, however the holder dies; and its semaphore helpers take
 * units for waiters before the waiters claim them (sem.c). If the daemon
 * itself dies, nobody gives those units back: the semaphore would stay low
 * for good. So each daemon keeps a count of its units per semaphore in
 * /run/ipcfs/holds.PID, which it keeps locked (flock) while it lives, and
 * any later daemon that can take the lock gives back what that journal
 * counts: the lock goes with the daemon's last descriptor, however it dies.
 *
 *   $ exec 9<sem/lock/hold; kill -9 $(pgrep ipcfs)      # value 0, for now
 *   $ fusermount3 -u /mnt/ipc; ipcfs /mnt/ipc; cat /mnt/ipc/sem/lock/value
 *   1
 *
 * The journal is a table of slots (inode, count, name) mapped shared, at an
 * address that never moves: each semaphore the daemon has open pins its
 * slot when it is opened (holds_pin), and a count changes with one atomic
 * add to memory (holds_add), which the kernel keeps when the daemon is
 * killed, so the window between taking a unit and counting it is the
 * return from sem_wait(), not a lock, a search or a system call. The inode
 * tells a semaphore from a later one of the same name. A unit is counted
 * after it is taken and uncounted before it is given back, so a crash
 * between the two can only lose it, as without the journal, never post it
 * twice.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devshm.h"
#include "holds.h"
#include "ipc.h"

#define HOLDS_DIR "/run/ipcfs"
#define HOLDS_MAGIC "ipcfs holds 2\n" /* the slot table below */
#define HOLDS_SLOTS 64		      /* at first; doubled when full */
#define HOLDS_SLOTS_MAX (1 << 16)   /* mapped at once: the table never moves */
#define HOLDS_DYING_MS 5000	    /* how long a killed daemon may take */
#define HOLDS_PF_EXITING 0x00000004 /* linux/sched.h: in do_exit() */

/* One semaphore's units kept by a daemon; count 0: a free slot. */
struct holds_slot {
	uint64_t ino;
	int64_t count;
	char name[NAME_MAX + 2];
};

struct holds_table {
	char magic[16];
	struct holds_slot slot[];
};

static pthread_mutex_t holds_lock = PTHREAD_MUTEX_INITIALIZER;
static int holds_fd = -1;	    /* our journal, made before any unit */
static pid_t holds_pid;		    /* whose journal holds_fd is */
static struct holds_table *holds_t; /* mapped, shared; set before any pin */
static size_t holds_nslots;
static unsigned int *holds_pins; /* per slot: semaphores of ours using it */
static long holds_n;		 /* units kept now (atomic) */
static bool holds_warned;

static size_t holds_size(size_t nslots)
{
	return sizeof(struct holds_table) + nslots * sizeof(struct holds_slot);
}

/* Post n units of name back, if it is still the semaphore of inode ino. */
static void holds_post(const char *name, uint64_t ino, long n,
		       const char *whose)
{
	char file[DEVSHM_FILE_MAX];
	struct devshm_guard g;
	struct stat st;
	sem_t *sem;
	long k;
	int ret;

	sem = devshm_map_sem(devshm_file(name, true, file, sizeof(file)), &st);
	if (!sem)
		return;
	if (st.st_ino != ino) {
		devshm_unmap_sem(sem);
		return; /* the semaphore was removed, or remade */
	}
	/* Its file may be cut short under us (devshm.c). */
	devshm_guard_begin(&g, sem, sizeof(sem_t));
	for (k = 0; k < n; k++)
		sem_post(sem);
	ret = devshm_guard_end(&g);
	devshm_unmap_sem(sem);
	if (ret < 0)
		ipc_log("%s: its file in /dev/shm was cut short: no semaphore to give units back to",
			name);
	else
		ipc_log("gave back %ld unit(s) of %s kept by ipcfs %s, which died",
			n, name, whose);
}

/*
 * Give back what the journal fd (a dead daemon's, ours now) counts: 0, or
 * -1 if it is no journal we can read (an older ipcfs's), to be left alone.
 */
static int holds_give_back(int fd, const char *whose)
{
	struct holds_table *t;
	struct stat st;
	size_t i, n;

	if (fstat(fd, &st) < 0)
		return -1;
	if (st.st_size == 0)
		return 0; /* made, never mapped: holds nothing */
	if ((size_t)st.st_size < holds_size(0))
		return -1;
	t = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (t == MAP_FAILED)
		return -1;
	if (memcmp(t->magic, HOLDS_MAGIC, sizeof(HOLDS_MAGIC)) != 0) {
		munmap(t, st.st_size);
		ipc_log("ipcfs %s left a journal this ipcfs cannot read; left as it is",
			whose);
		return -1;
	}
	n = (st.st_size - holds_size(0)) / sizeof(struct holds_slot);
	for (i = 0; i < n; i++) {
		if (t->slot[i].count <= 0 ||
		    !memchr(t->slot[i].name, '\0', sizeof(t->slot[i].name)))
			continue;
		holds_post(t->slot[i].name, t->slot[i].ino, t->slot[i].count,
			   whose);
	}
	munmap(t, st.st_size);
	return 0;
}

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

static void holds_unlink_unborn(const char *file)
{
	char path[PATH_MAX];
	long pid;
	char *end;
	int fd;

	if (strncmp(file, "new.", 4) != 0)
		return;
	pid = strtol(file + 4, &end, 10);
	if (*end || pid <= 0)
		return;
	snprintf(path, sizeof(path), HOLDS_DIR "/%s", file);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
		unlink(path);
	if (fd >= 0)
		close(fd);
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
	long pid;
	char *end;
	int fd;

	while (d && (de = readdir(d))) {
		holds_unlink_unborn(de->d_name);
		if (strncmp(de->d_name, "holds.", 6) != 0)
			continue;
		pid = strtol(de->d_name + 6, &end, 10);
		/* Ours is made after this: one of our pid is a dead one. */
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
		if (holds_lock_journal(fd, pid) == 0 && fstat(fd, &st) == 0 &&
		    st.st_nlink > 0 && stat(path, &now) == 0 &&
		    now.st_ino == st.st_ino &&
		    holds_give_back(fd, de->d_name + 6) == 0)
			unlink(path);
		close(fd); /* and the lock */
	}
	if (d)
		closedir(d);
}

static void holds_unmap(void)
{
	if (holds_t)
		munmap(holds_t, holds_size(HOLDS_SLOTS_MAX));
	holds_t = NULL;
	free(holds_pins);
	holds_pins = NULL;
	holds_nslots = 0;
}

/*
 * Under holds_lock: make the first nslots slots of our journal usable. The
 * whole table's address range is mapped at the first call, so a slot never
 * moves while holds_add() stores to it without the lock; the file grows
 * under it (only slots inside the file are touched).
 */
static int holds_map(size_t nslots)
{
	unsigned int *pins;
	void *t;

	if (nslots > HOLDS_SLOTS_MAX) {
		errno = ENOSPC;
		return -1;
	}
	pins = realloc(holds_pins, nslots * sizeof(*pins));
	if (!pins)
		return -1;
	memset(pins + holds_nslots, 0, (nslots - holds_nslots) * sizeof(*pins));
	holds_pins = pins;
	if (ftruncate(holds_fd, holds_size(nslots)) < 0)
		return -1;
	if (!holds_t) {
		t = mmap(NULL, holds_size(HOLDS_SLOTS_MAX),
			 PROT_READ | PROT_WRITE, MAP_SHARED, holds_fd, 0);
		if (t == MAP_FAILED)
			return -1;
		holds_t = t;
	}
	holds_nslots = nslots;
	return 0;
}

/*
 * In the child of a fork: the journal is the parent's. Forgotten here, so
 * that holds_open() need not ask getpid() at every note (a system call in
 * the moment between taking a unit and counting it). System calls only, no
 * free(): the child of a threaded daemon (ipc_as_caller) may find the
 * allocator locked by a thread it does not have. ASan's is, now and then,
 * and the child spun for ever with a mkdir waiting on it.
 */
static void holds_forked(void)
{
	if (holds_t)
		munmap(holds_t, holds_size(HOLDS_SLOTS_MAX));
	holds_t = NULL;
	holds_pins = NULL; /* the parent's memory, gone at _exit() */
	holds_nslots = 0;
	if (holds_fd >= 0)
		close(holds_fd);
	holds_fd = -1;
	holds_n = 0;
}

/*
 * Under holds_lock: our journal, made once we know our pid for good. It is
 * made and locked under another name, then renamed: nobody ever sees a
 * journal of ours that is not locked and whole.
 */
static int holds_open(void)
{
	char path[PATH_MAX], tmp[PATH_MAX];

	if (holds_fd >= 0)
		return 0; /* no getpid() here: see holds_forked() */
	if (!holds_pid)
		pthread_atfork(NULL, NULL, holds_forked);
	holds_pid = getpid();
	snprintf(path, sizeof(path), HOLDS_DIR "/holds.%d", (int)holds_pid);
	snprintf(tmp, sizeof(tmp), HOLDS_DIR "/new.%d", (int)holds_pid);
	if (mkdir(HOLDS_DIR, 0755) < 0 && errno != EEXIST)
		goto out_warn;
	holds_fd = open(
		tmp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (holds_fd < 0)
		goto out_warn;
	if (flock(holds_fd, LOCK_EX) < 0 || holds_map(HOLDS_SLOTS) < 0)
		goto out_close;
	memcpy(holds_t->magic, HOLDS_MAGIC, sizeof(HOLDS_MAGIC));
	if (rename(tmp, path) < 0)
		goto out_close;
	return 0;
out_close:
	holds_unmap();
	close(holds_fd);
	holds_fd = -1;
	unlink(tmp);
out_warn:
	if (!holds_warned)
		ipc_log("cannot journal kept units in %s (%s): if ipcfs dies while it keeps a unit (a hold is open), that unit is lost",
			HOLDS_DIR, strerror(errno));
	holds_warned = true;
	return -1;
}

/*
 * Under holds_lock: the slot of (name, ino), or if make, a free one to make
 * it. A slot is in use while it counts units or a semaphore pins it.
 */
static long holds_slot(const char *name, ino_t ino, bool make)
{
	struct holds_slot *s;
	long i, free = -1;

	for (i = 0; i < (long)holds_nslots; i++) {
		s = &holds_t->slot[i];
		if (!s->count && !holds_pins[i]) {
			if (free < 0)
				free = i;
		} else if (s->ino == ino && strcmp(s->name, name) == 0) {
			return i;
		}
	}
	if (!make)
		return -1;
	if (free < 0 && holds_map(2 * holds_nslots) == 0)
		free = i;
	if (free >= 0) {
		/* Named before it counts: a reader sees it whole or free. */
		holds_t->slot[free].ino = ino;
		snprintf(holds_t->slot[free].name,
			 sizeof(holds_t->slot[free].name), "%s", name);
	}
	return free;
}

/*
 * The slot semaphore name (inode ino) counts its kept units in, from its
 * open to holds_unpin(), or -1 (told: its units cannot be journalled). The
 * journal is made here, before any unit is taken (a kill while making it
 * at the first unit would lose that unit).
 */
int holds_pin(const char *name, ino_t ino)
{
	long i = -1;

	pthread_mutex_lock(&holds_lock);
	if (holds_open() == 0)
		i = holds_slot(name, ino, true);
	if (i >= 0)
		holds_pins[i]++;
	else if (holds_fd >= 0)
		ipc_log("cannot journal the kept units of %s: %s", name,
			strerror(errno));
	pthread_mutex_unlock(&holds_lock);
	return (int)i;
}

void holds_unpin(int slot)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&holds_lock);
	if (holds_pins)
		holds_pins[slot]--;
	pthread_mutex_unlock(&holds_lock);
}

/*
 * delta units of the slot's semaphore were taken (+1, right after) or are
 * given back (-1, right before): one atomic add, no lock.
 */
void holds_add(int slot, int delta)
{
	if (slot < 0 || !holds_t)
		return;
	__atomic_add_fetch(&holds_t->slot[slot].count, delta, __ATOMIC_RELEASE);
	__atomic_add_fetch(&holds_n, delta, __ATOMIC_RELAXED);
}

/* A clean exit has given everything back. */
void holds_fini(void)
{
	char path[PATH_MAX];

	pthread_mutex_lock(&holds_lock);
	if (holds_fd >= 0 && __atomic_load_n(&holds_n, __ATOMIC_RELAXED) == 0) {
		snprintf(path, sizeof(path), HOLDS_DIR "/holds.%d",
			 (int)holds_pid);
		unlink(path);
	}
	holds_unmap();
	if (holds_fd >= 0)
		close(holds_fd);
	holds_fd = -1;
	pthread_mutex_unlock(&holds_lock);
}

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Classic pattern: pi by 10 processes over POSIX shared memory under a
 * semaphore, in C. pi^2 / 8 is the sum of 1 / (2k + 1)^2; each of 10
 * forked children sums a tenth of the first 10,000,000 terms and, holding
 * the semaphore, adds its part to the double in the segment. The parent
 * waits for them and prints sqrt(8 * total).
 *
 * Three ways, one result (pi_sem.py prints the same number):
 *   pi_sem tree MNT    the tree through plain files: mkdir MNT/shm/pi and
 *                      MNT/sem/pi; a child opens sem/pi/hold (P; the close
 *                      is V, and so is its death), then pread/pwrite of
 *                      shm/pi/data.
 *   pi_sem native MNT  the same objects, made by mkdir in the tree, used
 *                      with the native API: their POSIX names from the
 *                      user.ipcfs.name attribute, shm_open + mmap,
 *                      sem_open + sem_wait/sem_post.
 *   pi_sem pipe        no IPC object at all: the children write their
 *                      parts to a pipe(2), the parent adds them. The
 *                      reference.
 * Each part is rounded to a multiple of 2^-52, so that every sum of parts
 * is an exact double (all are below 2) and the total does not depend on
 * the order the children add in: the three print the same bits.
 *
 *   cc -Wall -Werror -O2 -o pi_sem pi_sem.c -lrt -pthread -lm
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define N 10000000L
#define CHILDREN 10

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static double part(long lo, long hi)
{
	double s = 0.0;

	for (long k = lo; k < hi; k++)
		s += 1.0 / (2 * k + 1) / (2 * k + 1);
	return ldexp(nearbyint(ldexp(s, 52)), -52);
}

static char shm_dir[4096], sem_dir[4096], data[4200], hold[4200];

/* mkdir MNT/shm/pi and MNT/sem/pi: the segment and its semaphore. */
static void make_objects(const char *mnt)
{
	double zero = 0.0;
	int fd;

	snprintf(shm_dir, sizeof(shm_dir), "%s/shm/pi", mnt);
	snprintf(sem_dir, sizeof(sem_dir), "%s/sem/pi", mnt);
	snprintf(data, sizeof(data), "%s/data", shm_dir);
	snprintf(hold, sizeof(hold), "%s/hold", sem_dir);
	if (mkdir(shm_dir, 0600) < 0)
		die(shm_dir);
	if (mkdir(sem_dir, 0600) < 0) /* value 1: the mount's sem_value */
		die(sem_dir);
	fd = open(data, O_WRONLY); /* never O_TRUNC */
	if (fd < 0 || pwrite(fd, &zero, sizeof(zero), 0) != sizeof(zero))
		die(data);
	close(fd);
}

static void remove_objects(void)
{
	if (rmdir(shm_dir) < 0)
		die(shm_dir);
	if (rmdir(sem_dir) < 0)
		die(sem_dir);
}

/* The POSIX name of the object at DIR in the tree ("/PREFIXpi"). */
static void posix_name(const char *dir, char *name, size_t size)
{
	ssize_t n = getxattr(dir, "user.ipcfs.name", name, size - 1);

	if (n < 0)
		die(dir);
	name[n] = '\0';
}

/* Through the tree: hold, pread, add, pwrite, release. */
static void add_by_files(double s)
{
	double total;
	int lock, fd;

	lock = open(hold, O_RDONLY); /* P: waits for the unit */
	if (lock < 0)
		die(hold);
	fd = open(data, O_RDWR);
	if (fd < 0 || pread(fd, &total, sizeof(total), 0) != sizeof(total))
		die(data);
	total += s;
	if (pwrite(fd, &total, sizeof(total), 0) != sizeof(total))
		die(data);
	close(fd);
	close(lock); /* V */
}

static double *mem; /* native: the mapped segment */
static sem_t *sem;

static void add_natively(double s)
{
	while (sem_wait(sem) < 0)
		if (errno != EINTR)
			die("sem_wait");
	*mem += s;
	if (sem_post(sem) < 0)
		die("sem_post");
}

static void open_natively(void)
{
	char name[256];
	int fd;

	posix_name(shm_dir, name, sizeof(name));
	fd = shm_open(name, O_RDWR, 0);
	if (fd < 0)
		die(name);
	mem = mmap(NULL, sizeof(*mem), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   0);
	if (mem == MAP_FAILED)
		die("mmap");
	close(fd);
	posix_name(sem_dir, name, sizeof(name));
	sem = sem_open(name, 0);
	if (sem == SEM_FAILED)
		die(name);
}

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "";
	long unit = N / CHILDREN;
	int p[2], failed = 0;
	double total = 0.0;
	pid_t pids[CHILDREN];

	if (!strcmp(how, "tree") && argc == 3) {
		make_objects(argv[2]);
	} else if (!strcmp(how, "native") && argc == 3) {
		make_objects(argv[2]);
		open_natively();
	} else if (!strcmp(how, "pipe") && argc == 2) {
		if (pipe(p) < 0)
			die("pipe");
	} else {
		fprintf(stderr,
			"usage: pi_sem tree|native MNT | pi_sem pipe\n");
		return 2;
	}
	fflush(stdout);
	for (int i = 0; i < CHILDREN; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			die("fork");
		if (pids[i] == 0) {
			double s = part(unit * i, unit * (i + 1));

			if (!strcmp(how, "tree"))
				add_by_files(s);
			else if (!strcmp(how, "native"))
				add_natively(s);
			else if (write(p[1], &s, sizeof(s)) != sizeof(s))
				die("write to the pipe");
			_exit(0);
		}
	}
	if (!strcmp(how, "pipe")) {
		double s;

		close(p[1]);
		while (read(p[0], &s, sizeof(s)) == sizeof(s))
			total += s;
	}
	for (int i = 0; i < CHILDREN; i++) {
		int status;

		if (waitpid(pids[i], &status, 0) < 0 || status != 0)
			failed = 1;
	}
	if (!strcmp(how, "tree")) {
		int fd = open(data, O_RDONLY);

		if (fd < 0 ||
		    pread(fd, &total, sizeof(total), 0) != sizeof(total))
			die(data);
		close(fd);
	} else if (!strcmp(how, "native")) {
		total = *mem;
		munmap(mem, sizeof(*mem));
		sem_close(sem);
	}
	if (strcmp(how, "pipe"))
		remove_objects();
	if (failed) {
		fprintf(stderr, "pi_sem: a child failed\n");
		return 1;
	}
	printf("%.17g\n", sqrt(total * 8));
	return 0;
}

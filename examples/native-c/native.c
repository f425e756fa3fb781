// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Classic pattern: a C program on POSIX IPC (mq_overview(7),
 * shm_overview(7), sem_overview(7)): mq_open/mq_receive/mq_send,
 * shm_open + mmap, sem_open/sem_post.
 *
 * Through ipcfs: the objects are made in the tree (mkdir queues/box,
 * shm/board, sem/gate) and this program uses them with the native API
 * only; the shell (check) talks to it through the files. Directory NAME
 * is the POSIX object /PREFIXNAME, which the attribute user.ipcfs.name
 * gives (`getfattr -n user.ipcfs.name queues/box`). The program
 *   1. waits in mq_receive for the shell's `echo ... > queues/box/data`,
 *   2. reads what the shell wrote at offset 0 of the segment (dd
 *      conv=notrunc) and writes its answer at offset 64, through mmap,
 *   3. sends three messages with priorities 1, 9 and 5,
 *   4. posts the semaphore, which ends the shell's `cat sem/gate/wait`.
 *
 *   cc -Wall -Werror -o native native.c -lrt -pthread
 *   usage: native MNT
 */
#include <fcntl.h>
#include <mqueue.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* The POSIX name of MNT/KIND/NAME, e.g. "/PREFIXbox". */
static void posix_name(const char *mnt, const char *obj, char *name,
		       size_t size)
{
	char path[4096];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", mnt, obj);
	n = getxattr(path, "user.ipcfs.name", name, size - 1);
	if (n < 0)
		die(path);
	name[n] = '\0';
}

int main(int argc, char **argv)
{
	static const struct {
		const char *text;
		unsigned int prio;
	} sends[] = { { "low\n", 1 }, { "high\n", 9 }, { "mid\n", 5 } };
	char name[256], *msg, *mem;
	struct mq_attr attr;
	unsigned int prio;
	struct stat st;
	ssize_t n;
	mqd_t mq;
	sem_t *sem;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: native MNT\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* 1. The queue: receive the shell's message. */
	posix_name(argv[1], "queues/box", name, sizeof(name));
	mq = mq_open(name, O_RDWR);
	if (mq == (mqd_t)-1 || mq_getattr(mq, &attr) < 0)
		die(name);
	msg = malloc(attr.mq_msgsize);
	if (!msg)
		die("malloc");
	n = mq_receive(mq, msg, attr.mq_msgsize, &prio);
	if (n < 0)
		die("mq_receive");
	printf("mq_receive: %.*s", (int)n, msg);

	/* 2. The segment: read the shell's word, write an answer. */
	posix_name(argv[1], "shm/board", name, sizeof(name));
	fd = shm_open(name, O_RDWR, 0);
	if (fd < 0 || fstat(fd, &st) < 0)
		die(name);
	printf("shm size: %lld\n", (long long)st.st_size);
	mem = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	close(fd);
	printf("shm at 0: %s\n", mem);
	snprintf(mem + 64, st.st_size - 64, "pong from C\n");
	munmap(mem, st.st_size);

	/* 3. Three messages, priorities 1, 9, 5. */
	for (size_t i = 0; i < sizeof(sends) / sizeof(sends[0]); i++)
		if (mq_send(mq, sends[i].text, strlen(sends[i].text),
			    sends[i].prio) < 0)
			die("mq_send");
	mq_close(mq);
	free(msg);

	/* 4. The semaphore: tell the shell we are done. */
	posix_name(argv[1], "sem/gate", name, sizeof(name));
	sem = sem_open(name, 0);
	if (sem == SEM_FAILED)
		die(name);
	if (sem_post(sem) < 0)
		die("sem_post");
	sem_close(sem);
	printf("posted sem/gate\n");
	return 0;
}

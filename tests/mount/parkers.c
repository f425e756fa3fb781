// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * parkers - N threads that each open a file of the tree and read it once,
 * for test_scale.py: thousands of requests parked in the daemon at once,
 * from one small process (a thread of 64 KiB stack each; Python threads,
 * woken by thousands at once, spend seconds queueing for their lock).
 *
 *	parkers N PATH...	thread i reads PATH[i % count]
 *
 * Prints "opened K" once every open is done (K of them succeeded), then,
 * when every thread has ended, one line per outcome ("read 0: 7500",
 * "read -EIDRM: 2500", "open -EMFILE: 3") and "last NS": the
 * CLOCK_MONOTONIC time at which the last read returned.
 */
/* strerrorname_np: _GNU_SOURCE comes from meson.build */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define PARKERS_OUTCOMES 64

struct parker {
	pthread_t thread;
	const char *path;
	long ret; /* bytes read, or -errno */
	bool opened;
	unsigned long long end; /* ns */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long opens_done;

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void *parker_main(void *arg)
{
	struct parker *p = arg;
	char buf[8192];
	int fd = open(p->path, O_RDONLY);
	ssize_t n;

	p->opened = fd >= 0;
	p->ret = fd >= 0 ? 0 : -errno;
	pthread_mutex_lock(&lock);
	opens_done++;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf));
	p->end = now_ns();
	p->ret = n >= 0 ? n : -errno;
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	struct {
		bool opened;
		long ret;
		long count;
	} out[PARKERS_OUTCOMES];
	unsigned long long last = 0;
	struct parker *p;
	pthread_attr_t attr;
	struct rlimit rl;
	long n, i, j, nout = 0, opened = 0;

	if (argc < 3 || (n = atol(argv[1])) <= 0) {
		fprintf(stderr, "usage: parkers N PATH...\n");
		return 2;
	}
	/* Every thread holds a descriptor: as many as we may. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	p = calloc(n, sizeof(*p));
	if (!p)
		return 1;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (i = 0; i < n; i++) {
		p[i].path = argv[2 + i % (argc - 2)];
		if (pthread_create(&p[i].thread, &attr, parker_main, &p[i])) {
			fprintf(stderr, "parkers: thread %ld: cannot start\n",
				i);
			return 1;
		}
	}
	pthread_mutex_lock(&lock);
	while (opens_done < n)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	for (i = 0; i < n; i++)
		opened += p[i].opened;
	printf("opened %ld\n", opened);
	fflush(stdout);
	for (i = 0; i < n; i++) {
		pthread_join(p[i].thread, NULL);
		if (p[i].end > last)
			last = p[i].end;
		for (j = 0; j < nout; j++)
			if (out[j].opened == p[i].opened &&
			    out[j].ret == p[i].ret)
				break;
		if (j == nout && nout < PARKERS_OUTCOMES)
			out[nout++] =
				(typeof(out[0])){ p[i].opened, p[i].ret, 0 };
		if (j < nout)
			out[j].count++;
	}
	for (j = 0; j < nout; j++) {
		if (out[j].ret < 0)
			printf("%s -%s: %ld\n", out[j].opened ? "read" : "open",
			       strerrorname_np(-out[j].ret), out[j].count);
		else
			printf("read %ld: %ld\n", out[j].ret, out[j].count);
	}
	printf("last %llu\n", last);
	free(p);
	return 0;
}

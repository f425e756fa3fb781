/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cases.c - what bench measures: for each row pair of its table, a put and
 * a get, done through ipcfs, through nullfs and with the native API.
 *
 * An implementation (struct bench_impl) is a setup, a put, a get and a
 * teardown over one object: a queue's files or mq_send, a System V queue's
 * files or msgsnd, a channel or a pipe, a segment, a semaphore, nullfs's
 * one file. bench_cases[], at the bottom,
 * pairs three of them into a case, with its row labels, message size and
 * targets. bench.c runs, checks and times the cases and knows no more of
 * them than bench.h says.
 *
 *	$ tools/bench --smoke			# every case, a few hundred ops
 *	$ tools/bench --pin 1			# the full table, on one CPU
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2, F_SETPIPE_SZ */
#endif
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <unistd.h>

#include "bench.h"

/* ------------------------------------------------------------------ */
/* Files: write(2)/read(2) on open descriptors, or open+op+close.      */

struct cases_files {
	const char *path[2]; /* put and get */
	int fd[2];	     /* -1: open for every operation */
};

/* Open the put and get paths whose bits (1 << BENCH_PUT, ...) are in keep. */
static int cases_files_new(const char *put, const char *get, unsigned int keep,
			   void **priv)
{
	struct cases_files *f;
	int ret = 0;

	f = calloc(1, sizeof(*f));
	if (!f) {
		ret = -ENOMEM;
		goto out;
	}
	f->path[BENCH_PUT] = put;
	f->path[BENCH_GET] = get;
	f->fd[BENCH_PUT] = f->fd[BENCH_GET] = -1;
	if (keep & 1u << BENCH_PUT) {
		f->fd[BENCH_PUT] = open(put, O_WRONLY);
		if (f->fd[BENCH_PUT] < 0) {
			ret = bench_err("open", put, errno);
			goto out_free;
		}
	}
	if (keep & 1u << BENCH_GET) {
		f->fd[BENCH_GET] = open(get, O_RDONLY);
		if (f->fd[BENCH_GET] < 0) {
			ret = bench_err("open", get, errno);
			goto out_close;
		}
	}
	goto out;

out_close:
	if (f->fd[BENCH_PUT] >= 0)
		close(f->fd[BENCH_PUT]);
out_free:
	free(f);
	f = NULL;
out:
	*priv = f;
	return ret;
}

static int cases_files_teardown(struct bench *b, void *priv)
{
	struct cases_files *f = priv;
	int i;

	for (i = 0; i < 2; i++)
		if (f->fd[i] >= 0)
			close(f->fd[i]);
	free(f);
	return 0;
}

#define CASES_KEEP_BOTH (1u << BENCH_PUT | 1u << BENCH_GET)

static int cases_queue_fd_setup(struct bench *b, void **priv)
{
	return cases_files_new(b->data, b->stream, CASES_KEEP_BOTH, priv);
}

static int cases_sysv_fd_setup(struct bench *b, void **priv)
{
	return cases_files_new(b->svdata, b->svstream, CASES_KEEP_BOTH, priv);
}

static int cases_queue_file_setup(struct bench *b, void **priv)
{
	return cases_files_new(b->data, b->data, 0, priv);
}

static int cases_channel_fd_setup(struct bench *b, void **priv)
{
	/* The writer first: the reader has seen one, so it waits, not ends. */
	return cases_files_new(b->chdata, b->chdata, CASES_KEEP_BOTH, priv);
}

static int cases_shm_fd_setup(struct bench *b, void **priv)
{
	return cases_files_new(b->shmdata, b->shmdata, CASES_KEEP_BOTH, priv);
}

static int cases_null_fd_setup(struct bench *b, void **priv)
{
	return cases_files_new(b->nullfile, b->nullfile, CASES_KEEP_BOTH, priv);
}

static int cases_null_file_setup(struct bench *b, void **priv)
{
	return cases_files_new(b->nullfile, b->nullfile, 0, priv);
}

/* As the semaphore rows: puts on an open file, gets open it each time. */
static int cases_null_post_setup(struct bench *b, void **priv)
{
	return cases_files_new(b->nullfile, b->nullfile, 1u << BENCH_PUT, priv);
}

/* A kernel pipe as large as the channel, so both take 1 MiB a write. */
static int cases_pipe_setup(struct bench *b, void **priv)
{
	struct cases_files *f;
	int fds[2], ret;

	ret = cases_files_new("pipe", "pipe", 0, priv);
	if (ret < 0)
		goto out;
	f = *priv;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		ret = bench_err("pipe2", "", errno);
		goto out_free;
	}
	f->fd[BENCH_PUT] = fds[1];
	f->fd[BENCH_GET] = fds[0];
	if (fcntl(fds[1], F_SETPIPE_SZ, BENCH_MIB) < 0) {
		ret = bench_err("fcntl F_SETPIPE_SZ", "pipe", errno);
		goto out_free;
	}
	goto out;

out_free:
	cases_files_teardown(b, f);
	*priv = NULL;
out:
	return ret;
}

/* The segment ipcfs shows as shm/S, opened as ipcfs opens it. */
static int cases_shm_native_setup(struct bench *b, void **priv)
{
	struct cases_files *f;
	int ret;

	ret = cases_files_new(b->shmname, b->shmname, 0, priv);
	if (ret < 0)
		goto out;
	f = *priv;
	f->fd[BENCH_PUT] = shm_open(b->shmname, O_RDWR, 0);
	if (f->fd[BENCH_PUT] < 0) {
		ret = bench_err("shm_open", b->shmname, errno);
		goto out_free;
	}
	f->fd[BENCH_GET] = shm_open(b->shmname, O_RDONLY, 0);
	if (f->fd[BENCH_GET] < 0) {
		ret = bench_err("shm_open", b->shmname, errno);
		goto out_free;
	}
	goto out;

out_free:
	cases_files_teardown(b, f);
	*priv = NULL;
out:
	return ret;
}

static ssize_t cases_fd_put(struct bench *b, void *priv, const char *msg,
			    size_t len)
{
	struct cases_files *f = priv;
	ssize_t ret;

	ret = write(f->fd[BENCH_PUT], msg, len);
	if (ret < 0)
		ret = bench_err("write", f->path[BENCH_PUT], errno);
	return ret;
}

static ssize_t cases_fd_get(struct bench *b, void *priv, char *buf, size_t len)
{
	struct cases_files *f = priv;
	ssize_t ret;

	ret = read(f->fd[BENCH_GET], buf, len);
	if (ret < 0)
		ret = bench_err("read", f->path[BENCH_GET], errno);
	return ret;
}

/* At offset 0, over and over: the segment stays one message large. */
static ssize_t cases_pfd_put(struct bench *b, void *priv, const char *msg,
			     size_t len)
{
	struct cases_files *f = priv;
	ssize_t ret;

	ret = pwrite(f->fd[BENCH_PUT], msg, len, 0);
	if (ret < 0)
		ret = bench_err("pwrite", f->path[BENCH_PUT], errno);
	return ret;
}

static ssize_t cases_pfd_get(struct bench *b, void *priv, char *buf, size_t len)
{
	struct cases_files *f = priv;
	ssize_t ret;

	ret = pread(f->fd[BENCH_GET], buf, len, 0);
	if (ret < 0)
		ret = bench_err("pread", f->path[BENCH_GET], errno);
	return ret;
}

/* What `echo > data` does: O_CREAT|O_TRUNC as the shell opens, one write. */
static ssize_t cases_file_put(struct bench *b, void *priv, const char *msg,
			      size_t len)
{
	struct cases_files *f = priv;
	const char *path = f->path[BENCH_PUT];
	ssize_t ret;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (fd < 0) {
		ret = bench_err("open", path, errno);
		goto out;
	}
	ret = write(fd, msg, len);
	if (ret < 0)
		ret = bench_err("write", path, errno);
	if (close(fd) < 0 && ret >= 0)
		ret = bench_err("close", path, errno);
out:
	return ret;
}

/* What `cat data` does, but for the read that would see end-of-file. */
static ssize_t cases_file_get(struct bench *b, void *priv, char *buf,
			      size_t len)
{
	struct cases_files *f = priv;
	const char *path = f->path[BENCH_GET];
	ssize_t ret;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0) {
		ret = bench_err("open", path, errno);
		goto out;
	}
	ret = read(fd, buf, len);
	if (ret < 0)
		ret = bench_err("read", path, errno);
	if (close(fd) < 0 && ret >= 0)
		ret = bench_err("close", path, errno);
out:
	return ret;
}

/* ------------------------------------------------------------------ */
/* Native POSIX message queue, the one ipcfs shows as queues/Q.        */

struct cases_mq {
	mqd_t mq; /* (mqd_t)-1: open for every operation */
};

static int cases_mq_new(struct bench *b, bool keep_open, void **priv)
{
	struct cases_mq *m;
	int ret = 0;

	m = calloc(1, sizeof(*m));
	if (!m) {
		ret = -ENOMEM;
		goto out;
	}
	m->mq = (mqd_t)-1;
	if (keep_open) {
		m->mq = mq_open(b->mqname, O_RDWR);
		if (m->mq == (mqd_t)-1) {
			ret = bench_err("mq_open", b->mqname, errno);
			free(m);
			m = NULL;
		}
	}
out:
	*priv = m;
	return ret;
}

static int cases_mq_setup(struct bench *b, void **priv)
{
	return cases_mq_new(b, true, priv);
}

static int cases_mq_open_setup(struct bench *b, void **priv)
{
	return cases_mq_new(b, false, priv);
}

static int cases_mq_teardown(struct bench *b, void *priv)
{
	struct cases_mq *m = priv;

	if (m->mq != (mqd_t)-1)
		mq_close(m->mq);
	free(m);
	return 0;
}

static ssize_t cases_mq_send(struct bench *b, mqd_t mq, const char *msg,
			     size_t len)
{
	ssize_t ret = len;

	if (mq_send(mq, msg, len, 0) < 0)
		ret = bench_err("mq_send", b->mqname, errno);
	return ret;
}

/* mq_receive wants room for the largest message; `buf` has it. */
static ssize_t cases_mq_receive(struct bench *b, mqd_t mq, char *buf)
{
	ssize_t ret;

	ret = mq_receive(mq, buf, b->msgsize, NULL);
	if (ret < 0)
		ret = bench_err("mq_receive", b->mqname, errno);
	return ret;
}

static ssize_t cases_mq_put(struct bench *b, void *priv, const char *msg,
			    size_t len)
{
	struct cases_mq *m = priv;

	return cases_mq_send(b, m->mq, msg, len);
}

static ssize_t cases_mq_get(struct bench *b, void *priv, char *buf, size_t len)
{
	struct cases_mq *m = priv;

	return cases_mq_receive(b, m->mq, buf);
}

static ssize_t cases_mq_open_put(struct bench *b, void *priv, const char *msg,
				 size_t len)
{
	ssize_t ret;
	mqd_t mq;

	mq = mq_open(b->mqname, O_WRONLY);
	if (mq == (mqd_t)-1) {
		ret = bench_err("mq_open", b->mqname, errno);
	} else {
		ret = cases_mq_send(b, mq, msg, len);
		mq_close(mq);
	}
	return ret;
}

static ssize_t cases_mq_open_get(struct bench *b, void *priv, char *buf,
				 size_t len)
{
	ssize_t ret;
	mqd_t mq;

	mq = mq_open(b->mqname, O_RDONLY);
	if (mq == (mqd_t)-1) {
		ret = bench_err("mq_open", b->mqname, errno);
	} else {
		ret = cases_mq_receive(b, mq, buf);
		mq_close(mq);
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* Native System V message queue, the one ipcfs shows as sysv/msg/KEY.  */

/* msgsnd's and msgrcv's buffer: a type, then the bytes. */
struct cases_msg {
	long mtype;
	char mtext[BENCH_MAXLEN];
};

static int cases_msg_setup(struct bench *b, void **priv)
{
	*priv = malloc(sizeof(struct cases_msg));
	return *priv ? 0 : -ENOMEM;
}

static int cases_msg_teardown(struct bench *b, void *priv)
{
	free(priv);
	return 0;
}

/* Of type 1, as a write of data sends. */
static ssize_t cases_msg_put(struct bench *b, void *priv, const char *msg,
			     size_t len)
{
	struct cases_msg *m = priv;
	ssize_t ret = len;

	m->mtype = 1;
	memcpy(m->mtext, msg, len);
	if (msgsnd(b->svid, m, len, 0) < 0)
		ret = bench_err("msgsnd", b->svdir, errno);
	return ret;
}

/* The first message of any type, as a read of stream receives. */
static ssize_t cases_msg_get(struct bench *b, void *priv, char *buf, size_t len)
{
	struct cases_msg *m = priv;
	ssize_t ret;

	ret = msgrcv(b->svid, m, len, 0, 0);
	if (ret < 0)
		ret = bench_err("msgrcv", b->svdir, errno);
	else
		memcpy(buf, m->mtext, ret);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Semaphores: a post puts the message "\n", a wait gets it back.      */

struct cases_sem {
	sem_t *sem;		   /* the one ipcfs shows as sem/S */
	int value;		   /* at setup: a run takes what it posts */
	struct cases_files *files; /* ipcfs: post kept open, wait per get */
};

/*
 * Waits end with no bytes, so only the value can tell that each took its
 * unit: it is read natively before and after the run, for ipcfs too.
 */
static int cases_sem_new(struct bench *b, struct cases_sem **sp)
{
	struct cases_sem *s;
	int ret = 0;

	s = calloc(1, sizeof(*s));
	if (!s) {
		ret = -ENOMEM;
		goto out;
	}
	s->sem = sem_open(b->semname, 0);
	if (s->sem == SEM_FAILED) {
		ret = bench_err("sem_open", b->semname, errno);
		goto out_free;
	}
	if (sem_getvalue(s->sem, &s->value) < 0) {
		ret = bench_err("sem_getvalue", b->semname, errno);
		goto out_close;
	}
	goto out;

out_close:
	sem_close(s->sem);
out_free:
	free(s);
	s = NULL;
out:
	*sp = s;
	return ret;
}

static int cases_sem_setup(struct bench *b, void **priv)
{
	struct cases_sem *s;
	int ret;

	ret = cases_sem_new(b, &s);
	*priv = s;
	return ret;
}

static int cases_sem_files_setup(struct bench *b, void **priv)
{
	struct cases_sem *s;
	void *files;
	int ret;

	ret = cases_sem_new(b, &s);
	if (ret < 0)
		goto out;
	ret = cases_files_new(b->sempost, b->semwait, 1u << BENCH_PUT, &files);
	if (ret < 0) {
		sem_close(s->sem);
		free(s);
		s = NULL;
		goto out;
	}
	s->files = files;
out:
	*priv = s;
	return ret;
}

static int cases_sem_teardown(struct bench *b, void *priv)
{
	struct cases_sem *s = priv;
	int value, ret = 0;

	if (s->files)
		cases_files_teardown(b, s->files);
	if (sem_getvalue(s->sem, &value) < 0) {
		ret = bench_err("sem_getvalue", b->semname, errno);
	} else if (value != s->value) {
		fprintf(stderr,
			"bench: %s: value %d after a run, %d before: a post "
			"or a wait went astray\n",
			b->semname, value, s->value);
		ret = -EIO;
	}
	sem_close(s->sem);
	free(s);
	return ret;
}

/* write(2) on the open post file. */
static ssize_t cases_sem_files_put(struct bench *b, void *priv, const char *msg,
				   size_t len)
{
	struct cases_sem *s = priv;

	return cases_fd_put(b, s->files, msg, len);
}

/* cat sem/S/wait: end-of-file once it took its unit, the "\n" posted. */
static ssize_t cases_sem_files_get(struct bench *b, void *priv, char *buf,
				   size_t len)
{
	struct cases_sem *s = priv;
	ssize_t ret;

	ret = cases_file_get(b, s->files, buf, len);
	if (ret > 0) {
		fprintf(stderr, "bench: read %s: %zd bytes, want none\n",
			b->semwait, ret);
		ret = -EIO;
	} else if (ret == 0) {
		memset(buf, '\n', len);
		ret = len;
	}
	return ret;
}

static ssize_t cases_sem_put(struct bench *b, void *priv, const char *msg,
			     size_t len)
{
	struct cases_sem *s = priv;
	ssize_t ret = len;

	if (sem_post(s->sem) < 0)
		ret = bench_err("sem_post", b->semname, errno);
	return ret;
}

static ssize_t cases_sem_get(struct bench *b, void *priv, char *buf, size_t len)
{
	struct cases_sem *s = priv;
	ssize_t ret = len;

	if (sem_wait(s->sem) < 0)
		ret = bench_err("sem_wait", b->semname, errno);
	else
		memset(buf, '\n', len);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Fan-out: one writer, readers each with their own open file.         */

/* A reader's own read-only descriptor on `path`. */
static int cases_reader_open(const char *path, void **rpriv)
{
	return cases_files_new(path, path, 1u << BENCH_GET, rpriv);
}

static void cases_reader_close(struct bench *b, void *rpriv)
{
	cases_files_teardown(b, rpriv);
}

/* Writes go to queues/Q/data, the one reader reads queues/Q/stream. */
static int cases_queue_fan_setup(struct bench *b, void **priv)
{
	return cases_files_new(b->data, b->stream, 1u << BENCH_PUT, priv);
}

static int cases_queue_fan_reader(struct bench *b, void *priv, void **rpriv)
{
	return cases_reader_open(b->stream, rpriv);
}

static int cases_null_fan_setup(struct bench *b, void **priv)
{
	return cases_files_new(b->nullfile, b->nullfile, 1u << BENCH_PUT, priv);
}

static int cases_null_fan_reader(struct bench *b, void *priv, void **rpriv)
{
	return cases_reader_open(b->nullfile, rpriv);
}

static int cases_mq_fan_reader(struct bench *b, void *priv, void **rpriv)
{
	return cases_mq_new(b, true, rpriv);
}

static void cases_mq_fan_close(struct bench *b, void *rpriv)
{
	cases_mq_teardown(b, rpriv);
}

/* A topic's writer, and its `dropped` when the run began. */
struct cases_topic {
	struct cases_files *files;
	long dropped;
};

/* topics/T/dropped, a decimal count that may be 0. */
static int cases_topic_dropped(struct bench *b, long *val)
{
	const char *path = b->topicdropped;
	char buf[32], *end;
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_RDONLY);
	if (fd < 0) {
		ret = bench_err("open", path, errno);
		goto out;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		ret = bench_err("read", path, errno);
		goto out_close;
	}
	buf[n] = '\0';
	errno = 0;
	*val = strtol(buf, &end, 10);
	if (errno || end == buf || strcmp(end, "\n") != 0 || *val < 0)
		ret = bench_err("parse", path, EINVAL);
out_close:
	close(fd);
out:
	return ret;
}

static int cases_topic_setup(struct bench *b, void **priv)
{
	struct cases_topic *t;
	void *files = NULL;
	int ret;

	t = calloc(1, sizeof(*t));
	if (!t) {
		ret = -ENOMEM;
		goto out;
	}
	ret = cases_topic_dropped(b, &t->dropped);
	if (ret >= 0)
		ret = cases_files_new(b->topicdata, b->topicdata,
				      1u << BENCH_PUT, &files);
	if (ret < 0) {
		free(t);
		t = NULL;
		goto out;
	}
	t->files = files;
out:
	*priv = t;
	return ret;
}

static int cases_topic_reader(struct bench *b, void *priv, void **rpriv)
{
	return cases_reader_open(b->topicdata, rpriv);
}

/* A message a reader lost would fail its checks; `dropped` says so too. */
static int cases_topic_teardown(struct bench *b, void *priv)
{
	struct cases_topic *t = priv;
	long dropped;
	int ret;

	cases_files_teardown(b, t->files);
	ret = cases_topic_dropped(b, &dropped);
	if (ret >= 0 && dropped != t->dropped) {
		fprintf(stderr,
			"bench: %s: %ld after a run, %ld before: a reader "
			"fell behind by more than the backlog\n",
			b->topicdropped, dropped, t->dropped);
		ret = -EIO;
	}
	free(t);
	return ret;
}

static ssize_t cases_topic_put(struct bench *b, void *priv, const char *msg,
			       size_t len)
{
	struct cases_topic *t = priv;

	return cases_fd_put(b, t->files, msg, len);
}

/* ------------------------------------------------------------------ */
/* The implementations and the table of cases.                         */

static const struct bench_impl cases_queue_fd = {
	.what = { "write(2) on open queues/Q/data",
		  "read(2) on open queues/Q/stream" },
	.setup = cases_queue_fd_setup,
	.put = cases_fd_put,
	.get = cases_fd_get,
	.teardown = cases_files_teardown,
	.echoes = true,
	.queued = true,
};

static const struct bench_impl cases_sysv_fd = {
	.what = { "write(2) on open sysv/msg/KEY/data",
		  "read(2) on open sysv/msg/KEY/stream" },
	.setup = cases_sysv_fd_setup,
	.put = cases_fd_put,
	.get = cases_fd_get,
	.teardown = cases_files_teardown,
	.echoes = true,
};

static const struct bench_impl cases_msg = {
	.what = { "msgsnd", "msgrcv" },
	.setup = cases_msg_setup,
	.put = cases_msg_put,
	.get = cases_msg_get,
	.teardown = cases_msg_teardown,
	.echoes = true,
};

static const struct bench_impl cases_queue_file = {
	.what = { "open+write+close queues/Q/data",
		  "open+read+close queues/Q/data" },
	.setup = cases_queue_file_setup,
	.put = cases_file_put,
	.get = cases_file_get,
	.teardown = cases_files_teardown,
	.echoes = true,
	.queued = true,
};

static const struct bench_impl cases_channel_fd = {
	.what = { "write(2) on open channels/C/data",
		  "read(2) on open channels/C/data" },
	.setup = cases_channel_fd_setup,
	.put = cases_fd_put,
	.get = cases_fd_get,
	.teardown = cases_files_teardown,
	.echoes = true,
};

static const struct bench_impl cases_shm_fd = {
	.what = { "pwrite(2) at 0 on open shm/S/data",
		  "pread(2) at 0 on open shm/S/data" },
	.setup = cases_shm_fd_setup,
	.put = cases_pfd_put,
	.get = cases_pfd_get,
	.teardown = cases_files_teardown,
	.echoes = true,
};

static const struct bench_impl cases_sem_files = {
	.what = { "write(2) \"\\n\" on open sem/S/post",
		  "open+read+close sem/S/wait" },
	.setup = cases_sem_files_setup,
	.put = cases_sem_files_put,
	.get = cases_sem_files_get,
	.teardown = cases_sem_teardown,
	.echoes = true,
};

static const struct bench_impl cases_null_fd = {
	.what = { "write(2) on open file", "read(2) on open file" },
	.setup = cases_null_fd_setup,
	.put = cases_fd_put,
	.get = cases_fd_get,
	.teardown = cases_files_teardown,
};

static const struct bench_impl cases_null_pfd = {
	.what = { "pwrite(2) at 0 on open file", "pread(2) at 0 on open file" },
	.setup = cases_null_fd_setup,
	.put = cases_pfd_put,
	.get = cases_pfd_get,
	.teardown = cases_files_teardown,
};

static const struct bench_impl cases_null_file = {
	.what = { "open+write+close file", "open+read+close file" },
	.setup = cases_null_file_setup,
	.put = cases_file_put,
	.get = cases_file_get,
	.teardown = cases_files_teardown,
};

static const struct bench_impl cases_null_post = {
	.what = { "write(2) on open file", "open+read+close file" },
	.setup = cases_null_post_setup,
	.put = cases_fd_put,
	.get = cases_file_get,
	.teardown = cases_files_teardown,
};

static const struct bench_impl cases_mq = {
	.what = { "mq_send", "mq_receive" },
	.setup = cases_mq_setup,
	.put = cases_mq_put,
	.get = cases_mq_get,
	.teardown = cases_mq_teardown,
	.echoes = true,
	.queued = true,
};

static const struct bench_impl cases_mq_open = {
	.what = { "mq_open+mq_send+mq_close", "mq_open+mq_receive+mq_close" },
	.setup = cases_mq_open_setup,
	.put = cases_mq_open_put,
	.get = cases_mq_open_get,
	.teardown = cases_mq_teardown,
	.echoes = true,
	.queued = true,
};

static const struct bench_impl cases_pipe = {
	.what = { "write(2) on a pipe", "read(2) on a pipe" },
	.setup = cases_pipe_setup,
	.put = cases_fd_put,
	.get = cases_fd_get,
	.teardown = cases_files_teardown,
	.echoes = true,
};

static const struct bench_impl cases_shm_native = {
	.what = { "pwrite(2) at 0 on the shm_open()ed segment",
		  "pread(2) at 0 on the shm_open()ed segment" },
	.setup = cases_shm_native_setup,
	.put = cases_pfd_put,
	.get = cases_pfd_get,
	.teardown = cases_files_teardown,
	.echoes = true,
};

static const struct bench_impl cases_sem = {
	.what = { "sem_post", "sem_wait" },
	.setup = cases_sem_setup,
	.put = cases_sem_put,
	.get = cases_sem_get,
	.teardown = cases_sem_teardown,
	.echoes = true,
};

static const struct bench_impl cases_queue_fan = {
	.what = { "write(2) on open queues/Q/data",
		  "read(2) on open queues/Q/stream" },
	.setup = cases_queue_fan_setup,
	.put = cases_fd_put,
	.get = cases_fd_get,
	.teardown = cases_files_teardown,
	.reader = cases_queue_fan_reader,
	.reader_close = cases_reader_close,
	.echoes = true,
	.queued = true,
};

static const struct bench_impl cases_null_fan = {
	.what = { "write(2) on open file",
		  "read(2) on file, each reader its own open" },
	.setup = cases_null_fan_setup,
	.put = cases_fd_put,
	.get = cases_fd_get,
	.teardown = cases_files_teardown,
	.reader = cases_null_fan_reader,
	.reader_close = cases_reader_close,
};

static const struct bench_impl cases_mq_fan = {
	.what = { "mq_send", "mq_receive" },
	.setup = cases_mq_setup,
	.put = cases_mq_put,
	.get = cases_mq_get,
	.teardown = cases_mq_teardown,
	.reader = cases_mq_fan_reader,
	.reader_close = cases_mq_fan_close,
	.echoes = true,
	.queued = true,
};

static const struct bench_impl cases_topic_fan = {
	.what = { "write(2) on open topics/T/data",
		  "read(2) on topics/T/data, each reader its own open" },
	.setup = cases_topic_setup,
	.put = cases_topic_put,
	.get = cases_fd_get,
	.teardown = cases_topic_teardown,
	.reader = cases_topic_reader,
	.reader_close = cases_reader_close,
	.echoes = true,
};

const struct bench_case bench_cases[] = {
	{
		.row = { "queue send 64 B", "queue receive 64 B" },
		.len = 64,
		.target = { 0.8, 0.8 },
		.vs = BENCH_NULL,
		.impl = { &cases_queue_fd, &cases_null_fd, &cases_mq },
	},
	{
		.row = { "sysv msg send 64 B", "sysv msg receive 64 B" },
		.len = 64,
		.needs = BENCH_NEEDS_SYSV_MSG,
		.target = { 0.8, 0.8 },
		.vs = BENCH_NULL,
		.impl = { &cases_sysv_fd, &cases_null_fd, &cases_msg },
	},
	{
		.row = { "echo > data, 64 B", "cat data, 64 B" },
		.len = 64,
		/* The shell's idioms (issue 14): not met yet. */
		.target = { 0.7, 0.7 },
		.vs = BENCH_NULL,
		.impl = { &cases_queue_file, &cases_null_file, &cases_mq_open },
	},
	{
		.row = { "channel write 64 B", "channel read 64 B" },
		.len = 64,
		.target = { 0.8, 0.8 },
		.vs = BENCH_NULL,
		.impl = { &cases_channel_fd, &cases_null_fd, &cases_pipe },
	},
	{
		.row = { "sem post", "sem wait (cat wait)" },
		.len = 1,
		.msg = "\n",
		.target = { 0.8, 0 },
		.vs = BENCH_NULL,
		.impl = { &cases_sem_files, &cases_null_post, &cases_sem },
	},
	{
		.row = { "channel bulk, writer", "channel bulk, reader" },
		.len = BENCH_MIB,
		.scale = 50,
		.stream = true,
		.bandwidth = true,
		/* A kernel pipe's speed (issue 14): not met yet. */
		.target = { 0.8, 0.8 },
		.vs = BENCH_NATIVE,
		.note = "one thread writes 1 MiB at a time while another reads "
			"(1 MiB asked) and checks every byte; each row is "
			"timed from the start to its thread's last call, so "
			"the reader's is end to end",
		.impl = { &cases_channel_fd, &cases_null_fd, &cases_pipe },
	},
	{
		.row = { "shm pwrite 1 MiB", "shm pread 1 MiB" },
		.len = BENCH_MIB,
		.batch = 1,
		.scale = 50,
		.bandwidth = true,
		.target = { 0.6, 0.6 },
		.vs = BENCH_NULL,
		.impl = { &cases_shm_fd, &cases_null_pfd, &cases_shm_native },
	},
	{
		.row = { "queue 64 B, 1 reader", "queue 64 B, 1 reader" },
		.len = 64,
		.readers = 1,
		.base = true,
		.note = "one thread sends while another receives and checks "
			"every byte, as a producer and a consumer do; the "
			"fan-out rows are compared with this one",
		.impl = { &cases_queue_fan, &cases_null_fan, &cases_mq_fan },
	},
	{
		.row = { "topic 64 B, 1 reader", "topic 64 B, 1 reader" },
		.len = 64,
		.readers = 1,
		.needs = BENCH_NEEDS_TOPICS,
		.note = "one thread publishes while every reader thread, "
			"subscribed before the first message, reads each "
			"message and checks every byte; the backlog holds a "
			"whole run and `dropped` must not move",
		.impl = { &cases_topic_fan, &cases_null_fan, NULL },
	},
	{
		.row = { "topic 64 B, 10 readers", "topic 64 B, 10 readers" },
		.len = 64,
		.readers = 10,
		.needs = BENCH_NEEDS_TOPICS,
		.target = { 0, 5 },
		.vs = BENCH_BASE,
		.impl = { &cases_topic_fan, &cases_null_fan, NULL },
	},
	{
		.row = { "topic 64 B, 100 readers", "topic 64 B, 100 readers" },
		.len = 64,
		.readers = 100,
		.needs = BENCH_NEEDS_TOPICS,
		.impl = { &cases_topic_fan, &cases_null_fan, NULL },
	},
};

const size_t bench_ncases = sizeof(bench_cases) / sizeof(bench_cases[0]);

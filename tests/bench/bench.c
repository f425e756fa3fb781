/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench.c - how fast ipcfs's data paths are, next to the floor FUSE itself
 * sets and the kernel primitive each path wraps.
 *
 * Each row pair of the table is one benchmark case (struct bench_case): a
 * "put" and a "get" operation, done three ways (struct bench_impl): through
 * ipcfs, through nullfs (tests/bench/nullfs.c, a FUSE file system that does
 * nothing, built from the same libfuse), and with the native API (mq_send,
 * write(2) on a pipe, ...). A run puts a batch of messages, as many as the
 * queue holds, then gets them back, and again until it has done the row's
 * count; puts and gets are timed apart, and every message got is checked
 * against the one put (zeros for nullfs), so a wrong byte fails the run
 * (exit 1). A streaming case puts and gets at once instead, in two threads,
 * as a producer and a consumer do, and checks every byte of the stream. A
 * row shows the median of the runs; runs of all cases are interleaved, so
 * drift hits all alike. Ratios are throughput ratios: ipcfs's ops/s over
 * nullfs's or native's.
 *
 *	$ tools/bench --smoke			# mounts both, runs this, unmounts
 *	$ bench [--smoke] MNT NULLMNT		# MNT/queues/q etc. exist already
 *
 * This file is the harness: options, setting the objects up, runs, checks,
 * medians and the table. The cases themselves, the bench_impls and
 * bench_cases[], are in cases.c; a new row is three bench_impls and one
 * entry there, and nothing here knows what a case measures.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* CPU_COUNT */
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <mqueue.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#ifndef IPCFS_VERSION
#define IPCFS_VERSION "unknown"
#endif

#define BENCH_MAXRUNS 101
#define BENCH_TEXT 4096 /* of a message, readable; then words */
/* Messages a streaming writer cycles through: the stream's period. */
#define BENCH_STREAM_BUFS 8
/* No batch (or streaming run) may take longer: a lost byte must not hang. */
#define BENCH_WATCHDOG 30

static const char *const bench_sys_names[BENCH_NSYS] = {
	[BENCH_IPCFS] = "ipcfs",
	[BENCH_NULL] = "null",
	[BENCH_NATIVE] = "native",
};

/* What nullfs's reads return. */
static const char bench_zeros[BENCH_MAXLEN];

static volatile sig_atomic_t bench_timed_out;

static void bench_alarm(int sig)
{
	bench_timed_out = 1;
}

/* Nothing to do: the signal is there to end a blocked write with EINTR. */
static void bench_kick(int sig)
{
}

static int64_t bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int bench_err(const char *what, const char *path, int err)
{
	fprintf(stderr, "bench: %s %s: %s\n", what, path, strerror(err));
	return -err;
}

/*
 * Message number `seq`: "ipcfs-bench SEQ " then letters, then a newline, so
 * that a wrong one reads well in an error. Past BENCH_TEXT bytes come 64-bit
 * words counting up from seq << 32: made a byte at a time, a 1 MiB message
 * would cost more to make than to move.
 */
static void bench_fill(char *buf, size_t len, unsigned long seq)
{
	size_t text = len < BENCH_TEXT ? len : BENCH_TEXT;
	uint64_t w = (uint64_t)seq << 32;
	char head[32];
	size_t i, n;

	n = snprintf(head, sizeof(head), "ipcfs-bench %lu ", seq);
	for (i = 0; i < text; i++)
		buf[i] = i < n ? head[i] : 'a' + (seq + i) % 26;
	for (; i + sizeof(w) <= len; i += sizeof(w), w++)
		memcpy(buf + i, &w, sizeof(w));
	for (; i < len; i++)
		buf[i] = 'z';
	if (len > n)
		buf[len - 1] = '\n';
}

/* ------------------------------------------------------------------ */
/* Running.                                                            */

static void bench_show(FILE *f, const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		fputc(buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '.', f);
}

/* Says where `got` first differs from `want`, and shows both there. */
static void bench_diff(const struct bench_case *c, int sys, const char *what,
		       const char *got, const char *want, size_t len)
{
	size_t at = 0, from, n;

	while (at < len && got[at] == want[at])
		at++;
	from = len <= 64 || at < 16 ? 0 : at - 16;
	n = len - from < 64 ? len - from : 64;
	fprintf(stderr,
		"bench: %s (%s): %s is wrong from byte %zu\n"
		"  got  \"",
		c->row[BENCH_GET], bench_sys_names[sys], what, at);
	bench_show(stderr, got + from, n);
	fprintf(stderr, "\"\n  want \"");
	bench_show(stderr, want + from, n);
	fprintf(stderr, "\"%s\n", from || n < len ? " (part)" : "");
}

/* Whether message `seq`, got in `got`, is right; says what is wrong if not. */
static bool bench_check(const struct bench_case *c, int sys, const char *sent,
			const char *got, unsigned long seq)
{
	const char *want = c->impl[sys]->echoes ? sent : bench_zeros;
	bool ok = memcmp(got, want, c->len) == 0;
	char what[48];

	if (!ok) {
		snprintf(what, sizeof(what), "message %lu", seq);
		bench_diff(c, sys, what, got, want, c->len);
	}
	return ok;
}

/* Whether one operation moved the whole message; says so if not. */
static bool bench_moved(const struct bench_case *c, int sys, int op, ssize_t n)
{
	bool ok = n == (ssize_t)c->len;

	if (!ok && n >= 0)
		fprintf(stderr, "bench: %s (%s): %zd of %zu bytes\n",
			c->row[op], bench_sys_names[sys], n, c->len);
	return ok;
}

/* Message number `seq` of case `c`. */
static void bench_message(const struct bench_case *c, char *buf,
			  unsigned long seq)
{
	if (c->msg)
		memcpy(buf, c->msg, c->len);
	else
		bench_fill(buf, c->len, seq);
}

/*
 * Do `nops` puts and as many gets of case `c` the way `sys` does them, in
 * batches the queue can hold; add the nanoseconds spent to ns[put], ns[get].
 */
static int bench_case_run(struct bench *b, const struct bench_case *c, int sys,
			  long nops, double ns[2])
{
	const struct bench_impl *im = c->impl[sys];
	size_t stride = c->len > (size_t)b->msgsize ? c->len : b->msgsize;
	long batch = c->batch ? c->batch : b->maxmsg;
	char *sent, *got;
	void *priv;
	long done, i, k;
	bool ok = true;
	int ret = -ENOMEM, err;

	sent = malloc(batch * c->len);
	got = calloc(batch, stride);
	if (!sent || !got)
		goto out;
	ret = im->setup(b, &priv);
	if (ret < 0)
		goto out;
	for (done = 0; done < nops && ret >= 0; done += k) {
		int64_t t0, t1, t2;

		k = nops - done < batch ? nops - done : batch;
		for (i = 0; i < k; i++)
			bench_message(c, sent + i * c->len, b->seq + i);
		alarm(BENCH_WATCHDOG);
		t0 = bench_now();
		for (i = 0; i < k && ok; i++)
			ok = bench_moved(
				c, sys, BENCH_PUT,
				im->put(b, priv, sent + i * c->len, c->len));
		t1 = bench_now();
		for (i = 0; i < k && ok; i++)
			ok = bench_moved(
				c, sys, BENCH_GET,
				im->get(b, priv, got + i * stride, c->len));
		t2 = bench_now();
		alarm(0);
		ret = ok ? 0 : -EIO;
		for (i = 0; i < k && ret >= 0; i++)
			if (!bench_check(c, sys, sent + i * c->len,
					 got + i * stride, b->seq + i))
				ret = -EIO;
		ns[BENCH_PUT] += t1 - t0;
		ns[BENCH_GET] += t2 - t1;
		b->seq += k;
	}
	if (bench_timed_out)
		fprintf(stderr, "bench: %s (%s): no progress in %d s\n",
			c->row[BENCH_PUT], bench_sys_names[sys],
			BENCH_WATCHDOG);
	err = im->teardown(b, priv);
	if (ret >= 0)
		ret = err;
out:
	free(sent);
	free(got);
	return ret;
}

/* The writing half of a streaming run; the main thread reads. */
struct bench_writer {
	struct bench *b;
	const struct bench_case *c;
	int sys;
	void *priv;
	const char *bufs; /* BENCH_STREAM_BUFS messages, written in turn */
	long nops;
	pthread_barrier_t go;
	atomic_bool stop; /* the reader failed: give up */
	atomic_bool done;
	int64_t end; /* when the last write returned */
	int ret;
};

static void *bench_writer(void *arg)
{
	struct bench_writer *w = arg;
	const struct bench_impl *im = w->c->impl[w->sys];
	size_t len = w->c->len;
	bool ok = true;
	long i;

	pthread_barrier_wait(&w->go);
	for (i = 0; i < w->nops && ok && !atomic_load(&w->stop); i++)
		ok = bench_moved(w->c, w->sys, BENCH_PUT,
				 im->put(w->b, w->priv,
					 w->bufs + i % BENCH_STREAM_BUFS * len,
					 len));
	w->end = bench_now();
	w->ret = ok ? 0 : -EIO;
	atomic_store(&w->done, true);
	return NULL;
}

/*
 * Whether the n bytes got at offset `off` of the stream are those written
 * there (zeros for nullfs); says what is wrong if not.
 */
static bool bench_stream_check(const struct bench_case *c, int sys,
			       const char *bufs, uint64_t off, const char *got,
			       size_t n)
{
	size_t at, m;
	const char *want;
	char what[64];

	for (; n > 0; off += m, got += m, n -= m) {
		at = off % c->len;
		m = c->len - at < n ? c->len - at : n;
		want = c->impl[sys]->echoes
			       ? bufs +
					 off / c->len % BENCH_STREAM_BUFS *
						 c->len +
					 at
			       : bench_zeros;
		if (memcmp(got, want, m) != 0) {
			snprintf(what, sizeof(what), "the stream at %llu",
				 (unsigned long long)off);
			bench_diff(c, sys, what, got, want, m);
			return false;
		}
	}
	return true;
}

/*
 * Wait for the writer. When the reader failed, the writer may be blocked in
 * a write nobody will make room for: interrupt it until it gives up. One
 * that ignores that for BENCH_WATCHDOG seconds still uses our buffers, so
 * the process ends there.
 */
static void bench_writer_join(struct bench_writer *w, pthread_t t, bool failed)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	long i;

	if (failed) {
		atomic_store(&w->stop, true);
		for (i = 0; i < BENCH_WATCHDOG * 100 && !atomic_load(&w->done);
		     i++) {
			pthread_kill(t, SIGUSR1);
			nanosleep(&tick, NULL);
		}
		if (!atomic_load(&w->done)) {
			fprintf(stderr, "bench: %s (%s): the writer is stuck\n",
				w->c->row[BENCH_PUT], bench_sys_names[w->sys]);
			exit(1);
		}
	}
	pthread_join(t, NULL);
}

/*
 * Do `nops` puts in a writer thread while this thread gets the bytes as
 * they come and checks them; add to ns[put] and ns[get] the time from the
 * start to that side's last call.
 */
static int bench_stream_run(struct bench *b, const struct bench_case *c,
			    int sys, long nops, double ns[2])
{
	const struct bench_impl *im = c->impl[sys];
	size_t room = c->len > (size_t)b->msgsize ? c->len : b->msgsize;
	uint64_t total = (uint64_t)nops * c->len, off = 0;
	struct bench_writer w = { .b = b, .c = c, .sys = sys, .nops = nops };
	sigset_t alrm, old;
	char *bufs, *got;
	int64_t t0, t1;
	pthread_t t;
	size_t want;
	ssize_t n;
	long i;
	int ret = -ENOMEM, err;

	bufs = malloc(BENCH_STREAM_BUFS * c->len);
	got = malloc(room);
	if (!bufs || !got)
		goto out;
	for (i = 0; i < BENCH_STREAM_BUFS; i++)
		bench_message(c, bufs + i * c->len, b->seq + i);
	b->seq += BENCH_STREAM_BUFS;
	w.bufs = bufs;
	ret = im->setup(b, &w.priv);
	if (ret < 0)
		goto out;
	pthread_barrier_init(&w.go, NULL, 2);
	/* The watchdog interrupts the reader; the reader stops the writer. */
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &alrm, &old);
	err = pthread_create(&t, NULL, bench_writer, &w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		ret = bench_err("pthread_create", c->row[BENCH_PUT], err);
		goto out_teardown;
	}
	alarm(BENCH_WATCHDOG);
	t0 = bench_now();
	pthread_barrier_wait(&w.go);
	while (off < total && ret >= 0) {
		want = total - off < c->len ? total - off : c->len;
		n = im->get(b, w.priv, got, want);
		if (n == 0 || n > (ssize_t)want) {
			fprintf(stderr,
				"bench: %s (%s): %zd bytes for %zu at %llu\n",
				c->row[BENCH_GET], bench_sys_names[sys], n,
				want, (unsigned long long)off);
			ret = -EIO;
		} else if (n < 0) {
			ret = n;
		} else if (!bench_stream_check(c, sys, bufs, off, got, n)) {
			ret = -EIO;
		} else {
			off += n;
		}
	}
	t1 = bench_now();
	alarm(0);
	if (bench_timed_out)
		fprintf(stderr, "bench: %s (%s): no progress in %d s\n",
			c->row[BENCH_GET], bench_sys_names[sys],
			BENCH_WATCHDOG);
	bench_writer_join(&w, t, ret < 0);
	if (ret >= 0)
		ret = w.ret;
	ns[BENCH_PUT] += w.end - t0;
	ns[BENCH_GET] += t1 - t0;
out_teardown:
	pthread_barrier_destroy(&w.go);
	err = im->teardown(b, w.priv);
	if (ret >= 0)
		ret = err;
out:
	free(bufs);
	free(got);
	return ret;
}

/*
 * A fan-out run: one writer thread puts `nops` messages while each of
 * c->readers reader threads gets every one of them on its own files (all
 * opened before the first put) and checks every byte. The main thread only
 * starts them and waits.
 */
struct bench_fan {
	struct bench *b;
	const struct bench_case *c;
	int sys;
	void *priv;
	const char *bufs; /* BENCH_STREAM_BUFS messages, written in turn */
	long nops;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	bool go;	     /* start; with stop: end at once */
	int ndone;	     /* threads that have ended */
	bool failed;	     /* one of them failed */
	atomic_bool stop;    /* give up */
};

struct bench_fan_thread {
	struct bench_fan *f;
	pthread_t t;
	void *rpriv; /* a reader's files; NULL: the writer */
	bool started;
	atomic_bool done;
	atomic_ulong got; /* a reader's bytes so far, for the watchdog */
	int64_t end;	  /* when its last call returned */
	int ret;
};

/* All readers' bytes so far. */
static unsigned long bench_fan_progress(struct bench_fan_thread *th, int nth)
{
	unsigned long sum = 0;
	int k;

	for (k = 1; k < nth; k++)
		sum += atomic_load_explicit(&th[k].got, memory_order_relaxed);
	return sum;
}

static void bench_fan_wait_go(struct bench_fan *f)
{
	pthread_mutex_lock(&f->lock);
	while (!f->go)
		pthread_cond_wait(&f->cond, &f->lock);
	pthread_mutex_unlock(&f->lock);
}

static void bench_fan_end(struct bench_fan_thread *th)
{
	struct bench_fan *f = th->f;

	th->end = bench_now();
	atomic_store(&th->done, true);
	pthread_mutex_lock(&f->lock);
	f->ndone++;
	f->failed |= th->ret < 0;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static void *bench_fan_writer(void *arg)
{
	struct bench_fan_thread *th = arg;
	struct bench_fan *f = th->f;
	const struct bench_impl *im = f->c->impl[f->sys];
	size_t len = f->c->len;
	bool ok = true;
	long i;

	bench_fan_wait_go(f);
	for (i = 0; i < f->nops && ok && !atomic_load(&f->stop); i++)
		ok = bench_moved(f->c, f->sys, BENCH_PUT,
				 im->put(f->b, f->priv,
					 f->bufs + i % BENCH_STREAM_BUFS * len,
					 len));
	th->ret = ok ? 0 : -EIO;
	bench_fan_end(th);
	return NULL;
}

static void *bench_fan_reader(void *arg)
{
	struct bench_fan_thread *th = arg;
	struct bench_fan *f = th->f;
	const struct bench_case *c = f->c;
	const struct bench_impl *im = c->impl[f->sys];
	uint64_t total = (uint64_t)f->nops * c->len, off = 0;
	size_t room = c->len > (size_t)f->b->msgsize ? c->len : f->b->msgsize;
	size_t want;
	ssize_t n;
	char *got;
	int ret = 0;

	got = malloc(room);
	if (!got)
		ret = -ENOMEM;
	bench_fan_wait_go(f);
	while (off < total && ret >= 0 && !atomic_load(&f->stop)) {
		want = total - off < c->len ? total - off : c->len;
		n = im->get(f->b, th->rpriv, got, want);
		if (n == 0 || n > (ssize_t)want) {
			fprintf(stderr,
				"bench: %s (%s): %zd bytes for %zu at %llu\n",
				c->row[BENCH_GET], bench_sys_names[f->sys], n,
				want, (unsigned long long)off);
			ret = -EIO;
		} else if (n < 0) {
			ret = n;
		} else if (!bench_stream_check(c, f->sys, f->bufs, off, got,
					       n)) {
			ret = -EIO;
		} else {
			off += n;
			atomic_store_explicit(&th->got, off,
					      memory_order_relaxed);
		}
	}
	if (off < total && ret >= 0)
		ret = -ECANCELED;
	free(got);
	th->ret = ret;
	bench_fan_end(th);
	return NULL;
}

/*
 * Stop every thread still running: interrupt it until it gives up (a reader
 * may wait for a message that will not come, a writer for room nobody
 * makes). One that ignores that for BENCH_WATCHDOG seconds still uses our
 * buffers, so the process ends there.
 */
static void bench_fan_stop(struct bench_fan *f, struct bench_fan_thread *th,
			   int nth)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	bool all;
	long i;
	int k;

	atomic_store(&f->stop, true);
	for (i = 0; i < BENCH_WATCHDOG * 100; i++) {
		all = true;
		for (k = 0; k < nth; k++) {
			if (!th[k].started || atomic_load(&th[k].done))
				continue;
			all = false;
			pthread_kill(th[k].t, SIGUSR1);
		}
		if (all)
			return;
		nanosleep(&tick, NULL);
	}
	fprintf(stderr, "bench: %s (%s): a thread is stuck\n", f->c->row[0],
		bench_sys_names[f->sys]);
	exit(1);
}

/*
 * Do `nops` puts in a writer thread while c->readers threads each get all of
 * them; add to ns[put] the time from the start to the writer's last put, to
 * ns[get] that to the last reader's last get.
 */
static int bench_fan_run(struct bench *b, const struct bench_case *c, int sys,
			 long nops, double ns[2])
{
	const struct bench_impl *im = c->impl[sys];
	struct bench_fan f = { .b = b, .c = c, .sys = sys, .nops = nops };
	struct bench_fan_thread *th;
	pthread_condattr_t ca;
	struct timespec dl;
	int64_t t0, last = 0;
	unsigned long seen = 0;
	char *bufs;
	int nth = c->readers + 1, k, err, ret = -ENOMEM;

	bufs = malloc(BENCH_STREAM_BUFS * c->len);
	th = calloc(nth, sizeof(*th));
	if (!bufs || !th)
		goto out;
	for (k = 0; k < BENCH_STREAM_BUFS; k++)
		bench_message(c, bufs + k * c->len, b->seq + k);
	b->seq += BENCH_STREAM_BUFS;
	f.bufs = bufs;
	pthread_mutex_init(&f.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f.cond, &ca);
	pthread_condattr_destroy(&ca);
	ret = im->setup(b, &f.priv);
	if (ret < 0)
		goto out_cond;
	/* th[0] writes; every reader subscribes before the first put. */
	for (k = 1; k < nth && ret >= 0; k++)
		ret = im->reader(b, f.priv, &th[k].rpriv);
	for (k = 0; k < nth && ret >= 0; k++) {
		th[k].f = &f;
		err = pthread_create(&th[k].t, NULL,
				     k ? bench_fan_reader : bench_fan_writer,
				     &th[k]);
		if (err)
			ret = bench_err("pthread_create", c->row[0], err);
		else
			th[k].started = true;
	}
	if (ret < 0)
		atomic_store(&f.stop, true);
	t0 = bench_now();
	pthread_mutex_lock(&f.lock);
	f.go = true;
	pthread_cond_broadcast(&f.cond);
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += BENCH_WATCHDOG;
	err = 0;
	while (ret >= 0 && f.ndone < nth && !f.failed && !err) {
		err = pthread_cond_timedwait(&f.cond, &f.lock, &dl);
		/* A long run is fine as long as messages arrive. */
		if (err == ETIMEDOUT && bench_fan_progress(th, nth) != seen) {
			seen = bench_fan_progress(th, nth);
			dl.tv_sec += BENCH_WATCHDOG;
			err = 0;
		}
	}
	pthread_mutex_unlock(&f.lock);
	if (err == ETIMEDOUT)
		fprintf(stderr, "bench: %s (%s): no progress in %d s\n",
			c->row[0], bench_sys_names[sys], BENCH_WATCHDOG);
	if (ret < 0 || err || f.failed)
		bench_fan_stop(&f, th, nth);
	for (k = 0; k < nth; k++) {
		if (!th[k].started)
			continue;
		pthread_join(th[k].t, NULL);
		if (ret >= 0)
			ret = th[k].ret;
		if (k && th[k].end > last)
			last = th[k].end;
	}
	if (ret >= 0 && err)
		ret = -ETIMEDOUT;
	if (ret >= 0) {
		ns[BENCH_PUT] += th[0].end - t0;
		ns[BENCH_GET] += last - t0;
	}
	for (k = 1; k < nth; k++)
		if (th[k].rpriv)
			im->reader_close(b, th[k].rpriv);
	err = im->teardown(b, f.priv);
	if (ret >= 0)
		ret = err;
out_cond:
	pthread_cond_destroy(&f.cond);
	pthread_mutex_destroy(&f.lock);
out:
	free(bufs);
	free(th);
	return ret;
}

/* Operations per run of case `c` (run -1: the warm-up). */
static long bench_case_ops(const struct bench *b, const struct bench_case *c,
			   long run)
{
	long n = run < 0 ? b->warmup : b->ops;

	if (c->scale > 1)
		n /= c->scale;
	return n > 0 ? n : 1;
}

static double *bench_sample(double *samples, struct bench *b, size_t ci,
			    int sys, int op, long run)
{
	return &samples[((ci * BENCH_NSYS + sys) * 2 + op) * b->runs + run];
}

/* Whether --rows names case `c` (no --rows: every case). */
static bool bench_case_named(const struct bench *b, const struct bench_case *c)
{
	const char *w, *end;
	size_t n;
	int op;

	if (!b->rows)
		return true;
	for (w = b->rows; *w; w = *end ? end + 1 : end) {
		end = strchrnul(w, ',');
		n = end - w;
		for (op = 0; op < 2 && n; op++)
			if (memmem(c->row[op], strlen(c->row[op]), w, n))
				return true;
	}
	return false;
}

/* Whether case `c` runs: --rows names it and its kind is in the tree. */
static bool bench_case_selected(const struct bench *b,
				const struct bench_case *c)
{
	return bench_case_named(b, c) && (c->needs & ~b->has) == 0;
}

/* Warm every path up, then time `runs` runs of every case, interleaved. */
static int bench_all(struct bench *b, double *samples)
{
	size_t ci;
	long run;
	int ret = 0, sys, op;

	for (run = -1; run < b->runs && ret >= 0; run++) {
		for (ci = 0; ci < bench_ncases && ret >= 0; ci++) {
			const struct bench_case *c = &bench_cases[ci];

			for (sys = 0; sys < BENCH_NSYS && ret >= 0; sys++) {
				double ns[2] = { 0, 0 };
				long n = bench_case_ops(b, c, run);

				if (!c->impl[sys] || !(b->only & 1u << sys) ||
				    !bench_case_selected(b, c))
					continue;
				if (c->readers)
					ret = bench_fan_run(b, c, sys, n, ns);
				else if (c->stream)
					ret = bench_stream_run(b, c, sys, n,
							       ns);
				else
					ret = bench_case_run(b, c, sys, n, ns);
				for (op = 0; run >= 0 && op < 2; op++) {
					/* fan-out gets: per message delivered */
					long per = op == BENCH_GET && c->readers
							   ? n * c->readers
							   : n;

					*bench_sample(samples, b, ci, sys, op,
						      run) = ns[op] / per;
					if (b->verbose)
						fprintf(stderr,
							"run %ld: %-24s %-6s "
							"%9.3f us/op\n",
							run, c->row[op],
							bench_sys_names[sys],
							ns[op] / per / 1e3);
				}
			}
		}
	}
	return ret;
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double bench_median(const double *v, long n)
{
	double s[BENCH_MAXRUNS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), bench_cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/*
 * The rows of the cases shown in ops/s, or those in MiB/s; returns whether
 * one is below its target.
 */
static bool bench_print_rows(struct bench *b, double *samples, bool bandwidth)
{
	bool below = false, any = false;
	size_t ci;
	int sys, op;

	for (ci = 0; ci < bench_ncases; ci++)
		any |= bench_cases[ci].bandwidth == bandwidth &&
		       !bench_cases[ci].readers &&
		       bench_case_selected(b, &bench_cases[ci]);
	if (!any)
		return false;
	/* Columns: 24 for the row, 20 per system, 8 per ratio. */
	printf("%-24s %19s %19s %19s %6s  %6s\n", "", "------ ipcfs ------",
	       "----- null fs -----", "----- native ------", "ipcfs/",
	       "ipcfs/");
	printf("%-24s", "");
	for (sys = 0; sys < BENCH_NSYS; sys++) /* µ: 2 bytes */
		printf(" %10s %9s", bandwidth ? "MiB/s" : "ops/s",
		       bandwidth ? "µs/MiB" : "µs/op");
	printf(" %6s  %6s\n", "null", "native");
	for (ci = 0; ci < bench_ncases; ci++) {
		const struct bench_case *c = &bench_cases[ci];

		if (c->bandwidth != bandwidth || c->readers ||
		    !bench_case_selected(b, c))
			continue;
		for (op = 0; op < 2; op++) {
			double med[BENCH_NSYS] = { 0 };
			double per = c->len / (double)BENCH_MIB;

			printf("%-24s", c->row[op]);
			for (sys = 0; sys < BENCH_NSYS; sys++) {
				if (!c->impl[sys] || !(b->only & 1u << sys)) {
					printf(" %10s %8s", "-", "-");
					continue;
				}
				med[sys] = bench_median(bench_sample(samples, b,
								     ci, sys,
								     op, 0),
							b->runs);
				if (bandwidth)
					printf(" %10.0f %8.1f",
					       per * 1e9 / med[sys],
					       med[sys] / per / 1e3);
				else
					printf(" %10.0f %8.2f", 1e9 / med[sys],
					       med[sys] / 1e3);
			}
			for (sys = BENCH_NULL; sys < BENCH_NSYS; sys++) {
				double r = med[BENCH_IPCFS]
						   ? med[sys] / med[BENCH_IPCFS]
						   : 0;
				bool low = c->target[op] && sys == c->vs && r &&
					   r < c->target[op];

				if (r)
					printf(" %6.2f%c", r, low ? '*' : ' ');
				else
					printf(" %6s ", "-");
				below |= low;
			}
			printf("\n");
		}
	}
	printf("\n");
	return below;
}

/*
 * The fan-out rows: messages delivered per second in total, and ratios to
 * the other systems and to ipcfs on the base row (the queue); returns
 * whether one is below its target, or whether there are none (-1).
 */
static int bench_print_fanout(struct bench *b, double *samples)
{
	double base = 0;
	bool below = false, any = false;
	size_t ci;
	int sys;

	for (ci = 0; ci < bench_ncases; ci++)
		if (bench_cases[ci].readers && bench_cases[ci].base &&
		    bench_case_selected(b, &bench_cases[ci]) &&
		    b->only & 1u << BENCH_IPCFS)
			base = bench_median(bench_sample(samples, b, ci,
							 BENCH_IPCFS, BENCH_GET,
							 0),
					    b->runs);
	for (ci = 0; ci < bench_ncases; ci++) {
		const struct bench_case *c = &bench_cases[ci];
		double med[BENCH_NSYS + 1] = { 0 };

		if (!c->readers || !bench_case_selected(b, c))
			continue;
		if (!any) {
			printf("%-24s %19s %19s %19s %6s  %6s  %6s\n",
			       "one writer, N readers", "------ ipcfs ------",
			       "----- null fs -----", "----- native ------",
			       "ipcfs/", "ipcfs/", "ipcfs/");
			printf("%-24s", "messages delivered");
			for (sys = 0; sys < BENCH_NSYS; sys++)
				printf(" %10s %9s", "msgs/s", "µs/msg");
			printf(" %6s  %6s  %6s\n", "null", "native", "queue");
			any = true;
		}
		printf("%-24s", c->row[BENCH_GET]);
		for (sys = 0; sys < BENCH_NSYS; sys++) {
			if (!c->impl[sys] || !(b->only & 1u << sys)) {
				printf(" %10s %8s", "-", "-");
				continue;
			}
			med[sys] = bench_median(
				bench_sample(samples, b, ci, sys, BENCH_GET, 0),
				b->runs);
			printf(" %10.0f %8.3f", 1e9 / med[sys], med[sys] / 1e3);
		}
		med[BENCH_BASE] = base;
		for (sys = BENCH_NULL; sys <= BENCH_BASE; sys++) {
			double r = med[BENCH_IPCFS] && med[sys]
					   ? med[sys] / med[BENCH_IPCFS]
					   : 0;
			bool low = c->target[BENCH_GET] && sys == c->vs && r &&
				   r < c->target[BENCH_GET];

			if (r)
				printf(" %6.2f%c", r, low ? '*' : ' ');
			else
				printf(" %6s ", "-");
			below |= low;
		}
		printf("\n");
	}
	if (any)
		printf("\n");
	return any ? below : -1;
}

static void bench_print(struct bench *b, double *samples)
{
	struct utsname u;
	cpu_set_t cpus;
	bool below;
	size_t ci;
	long big = 0;
	int sys, op, fan, ncpus = 0;

	uname(&u);
	if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0)
		ncpus = CPU_COUNT(&cpus);
	for (ci = 0; ci < bench_ncases && !big; ci++)
		if (bench_cases[ci].bandwidth)
			big = bench_case_ops(b, &bench_cases[ci], 0);
	printf("ipcfs %s benchmark%s\n%ld ops per row and run (%ld for the "
	       "1 MiB ones), median of %ld runs;\nputs and gets alternate in "
	       "batches of %ld (the queue's capacity), of 1 MiB\none by one; "
	       "queue %s; Linux %s; %d of %ld CPUs usable\n\n",
	       IPCFS_VERSION,
	       b->smoke ? " (smoke: few ops, noisy numbers)" : "", b->ops, big,
	       b->runs, b->maxmsg, b->mqname, u.release, ncpus,
	       sysconf(_SC_NPROCESSORS_ONLN));
	below = bench_print_rows(b, samples, false);
	below |= bench_print_rows(b, samples, true);
	fan = bench_print_fanout(b, samples);
	below |= fan > 0;
	printf("Ratios are throughput ratios (ipcfs's ops/s or MiB/s over "
	       "the other's%s).%s\n",
	       fan >= 0 ? ";\nthe fan-out rows' last: over ipcfs's on the "
			  "queue row"
			: "",
	       below ? " *: below the row's target." : "");
	for (ci = 0; ci < bench_ncases; ci++) {
		const struct bench_case *c = &bench_cases[ci];

		if (!bench_case_selected(b, c))
			continue;
		if (c->readers) {
			printf("%s:", c->row[BENCH_GET]);
			for (sys = 0; sys < BENCH_NSYS; sys++)
				if (c->impl[sys])
					printf("%s %s: %s, %s", sys ? ";" : "",
					       bench_sys_names[sys],
					       c->impl[sys]->what[BENCH_PUT],
					       c->impl[sys]->what[BENCH_GET]);
			if (c->target[BENCH_GET])
				printf("; target: ipcfs/%s >= %.1f",
				       c->vs == BENCH_BASE
					       ? "queue"
					       : bench_sys_names[c->vs],
				       c->target[BENCH_GET]);
			printf(".\n");
			if (c->note)
				printf("(%s: %s.)\n", c->row[0], c->note);
			continue;
		}
		for (op = 0; op < 2; op++) {
			printf("%s:", c->row[op]);
			for (sys = 0; sys < BENCH_NSYS; sys++)
				if (c->impl[sys])
					printf("%s %s: %s", sys ? ";" : "",
					       bench_sys_names[sys],
					       c->impl[sys]->what[op]);
			if (c->target[op])
				printf("; target: ipcfs/%s >= %.1f",
				       bench_sys_names[c->vs], c->target[op]);
			printf(".\n");
		}
		if (c->note)
			printf("(%s: %s.)\n", c->row[0], c->note);
	}
}

/* ------------------------------------------------------------------ */
/* Setting up.                                                         */

static int bench_read_long(const char *path, long *val)
{
	char buf[64], *end;
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
	if (errno || end == buf || (*end && strcmp(end, "\n") != 0) ||
	    *val <= 0)
		ret = bench_err("parse", path, EINVAL);
out_close:
	close(fd);
out:
	return ret;
}

/* `echo VAL > path`, in one write. */
static int bench_write_str(const char *path, const char *val)
{
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_WRONLY);
	if (fd < 0) {
		ret = bench_err("open", path, errno);
		goto out;
	}
	n = write(fd, val, strlen(val));
	if (n < 0)
		ret = bench_err("write", path, errno);
	else if ((size_t)n != strlen(val))
		ret = bench_err("write", path, EIO);
	if (close(fd) < 0 && ret >= 0)
		ret = bench_err("close", path, errno);
out:
	return ret;
}

/* An object's POSIX name, from its directory's user.ipcfs.name. */
static int bench_posix_name(const char *dir, char *name, size_t size)
{
	ssize_t n;
	int ret = 0;

	n = getxattr(dir, "user.ipcfs.name", name, size - 1);
	if (n < 0) {
		ret = bench_err("getxattr user.ipcfs.name", dir, errno);
		goto out;
	}
	while (n > 0 && (name[n - 1] == '\n' || name[n - 1] == 0))
		n--;
	name[n] = '\0';
	if (name[0] != '/')
		ret = bench_err("getxattr user.ipcfs.name", dir, EINVAL);
out:
	return ret;
}

/*
 * Learn the queue's name and capacity, check that the tree and mq_getattr
 * agree, and empty the queue: a run checks every message it gets.
 */
static int bench_queue_init(struct bench *b)
{
	struct mq_attr a;
	char path[PATH_MAX + 16], junk[1 << 16];
	long v;
	mqd_t mq;
	int ret = 0;

	if (b->only & 1u << BENCH_IPCFS || !b->mqname[0])
		ret = bench_posix_name(b->qdir, b->mqname, sizeof(b->mqname));
	if (ret < 0)
		goto out;
	mq = mq_open(b->mqname, O_RDONLY | O_NONBLOCK);
	if (mq == (mqd_t)-1) {
		ret = bench_err("mq_open", b->mqname, errno);
		goto out;
	}
	if (mq_getattr(mq, &a) < 0) {
		ret = bench_err("mq_getattr", b->mqname, errno);
		goto out_close;
	}
	b->maxmsg = a.mq_maxmsg;
	b->msgsize = a.mq_msgsize;
	if (a.mq_curmsgs)
		fprintf(stderr, "bench: %s holds %ld messages; dropping them\n",
			b->mqname, a.mq_curmsgs);
	while (a.mq_msgsize <= (long)sizeof(junk) &&
	       mq_receive(mq, junk, sizeof(junk), NULL) >= 0)
		;
	if (!(b->only & 1u << BENCH_IPCFS))
		goto out_close;
	snprintf(path, sizeof(path), "%s/maxmsg", b->qdir);
	ret = bench_read_long(path, &v);
	if (ret >= 0 && v != b->maxmsg) {
		fprintf(stderr, "bench: %s says %ld, mq_getattr %ld\n", path, v,
			b->maxmsg);
		ret = -EINVAL;
	}
	if (ret < 0)
		goto out_close;
	snprintf(path, sizeof(path), "%s/msgsize", b->qdir);
	ret = bench_read_long(path, &v);
	if (ret >= 0 && v != b->msgsize) {
		fprintf(stderr, "bench: %s says %ld, mq_getattr %ld\n", path, v,
			b->msgsize);
		ret = -EINVAL;
	}
out_close:
	mq_close(mq);
out:
	return ret;
}

/*
 * Empty the channel (a run checks every byte it reads) and make its buffer
 * 1 MiB, so that a bulk write goes in whole once the reader has drained the
 * last one, as on a pipe of that size.
 */
static int bench_channel_init(struct bench *b)
{
	char path[PATH_MAX + 16], junk[1 << 16];
	ssize_t n;
	size_t dropped = 0;
	long v;
	int fd, ret = 0;

	if (!(b->only & 1u << BENCH_IPCFS))
		goto out;
	/* Without a writer, a reader that has seen none gets EAGAIN. */
	fd = open(b->chdata, O_RDONLY | O_NONBLOCK);
	if (fd < 0) {
		ret = bench_err("open", b->chdata, errno);
		goto out;
	}
	while ((n = read(fd, junk, sizeof(junk))) > 0)
		dropped += n;
	close(fd);
	if (dropped)
		fprintf(stderr, "bench: %s held %zu bytes; dropped them\n",
			b->chdata, dropped);
	snprintf(path, sizeof(path), "%s/capacity", b->chdir);
	ret = bench_write_str(path, "1048576\n");
	if (ret >= 0)
		ret = bench_read_long(path, &v);
	if (ret >= 0 && v != BENCH_MIB) {
		fprintf(stderr, "bench: %s says %ld after writing %d\n", path,
			v, BENCH_MIB);
		ret = -EINVAL;
	}
out:
	return ret;
}

/*
 * Whether a case --rows names needs NEED, and MNT has DIR, its kind's
 * directory: then its rows run (b->has). A tree without the kind skips
 * them, so that bench runs on either.
 */
static bool bench_kind_wanted(struct bench *b, unsigned int need,
			      const char *dir)
{
	char path[PATH_MAX + 16];
	bool wanted = false;
	struct stat st;
	size_t ci;

	for (ci = 0; ci < bench_ncases; ci++)
		wanted |= (bench_cases[ci].needs & need) &&
			  bench_case_named(b, &bench_cases[ci]);
	if (!wanted)
		return false;
	snprintf(path, sizeof(path), "%s/%s", b->mnt, dir);
	if (stat(path, &st) < 0 && errno == ENOENT) {
		fprintf(stderr,
			"bench: %s/: not in this tree; skipping its "
			"rows\n",
			dir);
		return false;
	}
	b->has |= need;
	return true;
}

/*
 * If MNT has topics/, let a reader fall behind by a whole run: a run
 * checks every message, and a dropped one would fail it.
 */
static int bench_topic_init(struct bench *b)
{
	char path[PATH_MAX + 16], val[32];
	long v, want = b->ops > 100000 ? b->ops : 100000;
	int ret = 0;

	if (!bench_kind_wanted(b, BENCH_NEEDS_TOPICS, "topics"))
		goto out;
	snprintf(path, sizeof(path), "%s/backlog", b->topicdir);
	snprintf(val, sizeof(val), "%ld\n", want);
	ret = bench_write_str(path, val);
	if (ret >= 0)
		ret = bench_read_long(path, &v);
	if (ret >= 0 && v != want) {
		fprintf(stderr, "bench: %s says %ld after writing %ld\n", path,
			v, want);
		ret = -EINVAL;
	}
out:
	return ret;
}

/*
 * If MNT has sysv/msg/, learn the queue's id (native rows call msgsnd and
 * msgrcv on it) and empty it: a run checks every message it gets.
 */
static int bench_sysv_init(struct bench *b)
{
	char path[PATH_MAX + 16];
	struct {
		long mtype;
		char mtext[1 << 16];
	} *junk = NULL;
	long dropped = 0, v;
	int ret = 0;

	if (!bench_kind_wanted(b, BENCH_NEEDS_SYSV_MSG, "sysv/msg"))
		goto out;
	snprintf(path, sizeof(path), "%s/id", b->svdir);
	ret = bench_read_long(path, &v);
	if (ret < 0)
		goto out;
	b->svid = v;
	junk = malloc(sizeof(*junk));
	if (!junk) {
		ret = -ENOMEM;
		goto out;
	}
	while (msgrcv(b->svid, junk, sizeof(junk->mtext), 0,
		      IPC_NOWAIT | MSG_NOERROR) >= 0)
		dropped++;
	if (errno != ENOMSG)
		ret = bench_err("msgrcv", path, errno);
	else if (dropped)
		fprintf(stderr, "bench: %s held %ld messages; dropped them\n",
			b->svdir, dropped);
	free(junk);
out:
	return ret;
}

static int bench_path(char *dst, const char *root, const char *kind,
		      const char *rest)
{
	int ret = 0;

	if (snprintf(dst, PATH_MAX, "%s/%s%s%s", root, kind, *kind ? "/" : "",
		     rest) >= PATH_MAX)
		ret = bench_err("path", root, ENAMETOOLONG);
	return ret;
}

static int bench_paths(struct bench *b)
{
	int ret;

	ret = bench_path(b->qdir, b->mnt, "queues", b->queue);
	if (ret >= 0)
		ret = bench_path(b->data, b->qdir, "", "data");
	if (ret >= 0)
		ret = bench_path(b->stream, b->qdir, "", "stream");
	if (ret >= 0)
		ret = bench_path(b->chdir, b->mnt, "channels", b->channel);
	if (ret >= 0)
		ret = bench_path(b->chdata, b->chdir, "", "data");
	if (ret >= 0)
		ret = bench_path(b->shmdir, b->mnt, "shm", b->segment);
	if (ret >= 0)
		ret = bench_path(b->shmdata, b->shmdir, "", "data");
	if (ret >= 0)
		ret = bench_path(b->semdir, b->mnt, "sem", b->semaphore);
	if (ret >= 0)
		ret = bench_path(b->sempost, b->semdir, "", "post");
	if (ret >= 0)
		ret = bench_path(b->semwait, b->semdir, "", "wait");
	if (ret >= 0)
		ret = bench_path(b->topicdir, b->mnt, "topics", b->topic);
	if (ret >= 0)
		ret = bench_path(b->topicdata, b->topicdir, "", "data");
	if (ret >= 0)
		ret = bench_path(b->topicdropped, b->topicdir, "", "dropped");
	if (ret >= 0)
		ret = bench_path(b->svdir, b->mnt, "sysv/msg", b->sysvmsg);
	if (ret >= 0)
		ret = bench_path(b->svdata, b->svdir, "", "data");
	if (ret >= 0)
		ret = bench_path(b->svstream, b->svdir, "", "stream");
	if (ret >= 0)
		ret = bench_path(b->nullfile, b->nullmnt, "", "file");
	return ret;
}

/* Whether a case's messages fit where its implementations put them. */
static int bench_case_fits(const struct bench *b, const struct bench_case *c)
{
	bool queued = false;
	int sys, ret = 0;

	for (sys = 0; sys < BENCH_NSYS; sys++)
		queued |= c->impl[sys] && c->impl[sys]->queued;
	if (c->len > BENCH_MAXLEN || (queued && c->len > (size_t)b->msgsize)) {
		fprintf(stderr,
			"bench: %s: %zu-byte messages do not fit the queue "
			"(msgsize %ld) or bench (%d)\n",
			c->row[0], c->len, b->msgsize, BENCH_MAXLEN);
		ret = -EMSGSIZE;
	}
	return ret;
}

static int bench_init(struct bench *b)
{
	/* No SA_RESTART: a stuck read(2) must come back with EINTR. */
	struct sigaction sa = { .sa_handler = bench_alarm };
	struct sigaction kick = { .sa_handler = bench_kick };
	bool ipcfs = b->only & 1u << BENCH_IPCFS;
	size_t ci;
	int ret;

	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGUSR1, &kick, NULL);
	ret = bench_paths(b);
	if (ret >= 0)
		ret = bench_queue_init(b);
	if (ret >= 0)
		ret = bench_channel_init(b);
	if (ret >= 0 && (ipcfs || !b->shmname[0]))
		ret = bench_posix_name(b->shmdir, b->shmname,
				       sizeof(b->shmname));
	if (ret >= 0 && (ipcfs || !b->semname[0]))
		ret = bench_posix_name(b->semdir, b->semname,
				       sizeof(b->semname));
	if (ret >= 0 && ipcfs)
		ret = bench_topic_init(b);
	if (ret >= 0)
		ret = bench_sysv_init(b);
	for (ci = 0; ci < bench_ncases && ret >= 0; ci++)
		ret = bench_case_fits(b, &bench_cases[ci]);
	return ret;
}

static void bench_usage(FILE *f)
{
	fprintf(f,
		"usage: bench [--smoke] [OPTIONS] MNT NULLMNT\n"
		"Time ipcfs's data paths on MNT/queues/Q, channels/C, shm/S, "
		"sem/S\nand topics/T against the nullfs mounted at NULLMNT "
		"and against the\nnative API, and print a table. Normally "
		"run by tools/bench, which mounts\nboth and makes the "
		"objects.\n\n"
		"  --smoke          a few hundred ops per row: seconds, not "
		"minutes\n"
		"  --ops N          ops per row and run (20000; smoke 200); "
		"1 MiB rows\n"
		"                   do a fiftieth of it\n"
		"  --runs N         runs per row, the median is shown (7; "
		"smoke 5)\n"
		"  --queue NAME     the queue directory, MNT/queues/NAME (q)\n"
		"  --channel NAME   the channel directory, MNT/channels/NAME "
		"(c); its\n"
		"                   capacity is set to 1 MiB\n"
		"  --segment NAME   the segment directory, MNT/shm/NAME (s)\n"
		"  --semaphore NAME the semaphore directory, MNT/sem/NAME (s)\n"
		"  --topic NAME     the topic directory, MNT/topics/NAME (t); "
		"its\n"
		"                   backlog is set to 100000 (or --ops); "
		"without\n"
		"                   MNT/topics the topic rows are skipped\n"
		"  --sysv-msg KEY   the System V queue directory, "
		"MNT/sysv/msg/KEY\n"
		"                   (0x1bec0000); without MNT/sysv/msg its "
		"rows are\n"
		"                   skipped\n"
		"  --rows LIST      only the cases with a row label containing "
		"one of\n"
		"                   these comma-separated words (all)\n"
		"  --only LIST      systems to time: ipcfs,null,native (all)\n"
		"  --mq /NAME       POSIX queue for native when ipcfs is not "
		"timed\n"
		"  --shm /NAME      POSIX segment for native, likewise\n"
		"  --sem /NAME      POSIX semaphore for native, likewise\n"
		"  -v, --verbose    print every run on stderr\n"
		"  -h, --help       this text\n"
		"  -V, --version    the version\n"
		"Exit status: 0 done, 1 a path failed or returned wrong "
		"data, 2 usage.\n");
}

static int bench_parse_count(const char *arg, long max, long *val)
{
	char *end;
	int ret = 0;

	errno = 0;
	*val = strtol(arg, &end, 10);
	if (errno || *end || end == arg || *val < 1 || *val > max) {
		fprintf(stderr, "bench: bad count '%s' (1..%ld)\n", arg, max);
		ret = -EINVAL;
	}
	return ret;
}

static int bench_parse_only(const char *arg, unsigned int *only)
{
	char *copy, *tok, *save;
	int sys, ret = 0;

	*only = 0;
	copy = strdup(arg);
	for (tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && ret >= 0;
	     tok = strtok_r(NULL, ",", &save)) {
		for (sys = 0; sys < BENCH_NSYS; sys++)
			if (strcmp(tok, bench_sys_names[sys]) == 0)
				break;
		if (sys < BENCH_NSYS) {
			*only |= 1u << sys;
		} else {
			fprintf(stderr, "bench: unknown system '%s'\n", tok);
			ret = -EINVAL;
		}
	}
	free(copy);
	if (!*only)
		ret = -EINVAL;
	return ret;
}

/* Returns 0 to go on, or the exit status + 1 (help, version, bad usage). */
static int bench_parse(struct bench *b, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "smoke", no_argument, NULL, 's' },
		{ "ops", required_argument, NULL, 'n' },
		{ "runs", required_argument, NULL, 'r' },
		{ "queue", required_argument, NULL, 'q' },
		{ "channel", required_argument, NULL, 'c' },
		{ "segment", required_argument, NULL, 'g' },
		{ "semaphore", required_argument, NULL, 'p' },
		{ "topic", required_argument, NULL, 't' },
		{ "sysv-msg", required_argument, NULL, 'k' },
		{ "rows", required_argument, NULL, 'R' },
		{ "only", required_argument, NULL, 'o' },
		{ "mq", required_argument, NULL, 'm' },
		{ "shm", required_argument, NULL, 'M' },
		{ "sem", required_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	long ops = 0, runs = 0;
	int c, ret = 0;

	while (ret == 0 &&
	       (c = getopt_long(argc, argv, "vhV", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			b->smoke = true;
			break;
		case 'n':
			if (bench_parse_count(optarg, 100000000, &ops) < 0)
				ret = 3;
			break;
		case 'r':
			if (bench_parse_count(optarg, BENCH_MAXRUNS, &runs) < 0)
				ret = 3;
			break;
		case 'q':
			b->queue = optarg;
			break;
		case 'c':
			b->channel = optarg;
			break;
		case 'g':
			b->segment = optarg;
			break;
		case 'p':
			b->semaphore = optarg;
			break;
		case 't':
			b->topic = optarg;
			break;
		case 'k':
			b->sysvmsg = optarg;
			break;
		case 'R':
			b->rows = optarg;
			break;
		case 'o':
			if (bench_parse_only(optarg, &b->only) < 0)
				ret = 3;
			break;
		case 'm':
			snprintf(b->mqname, sizeof(b->mqname), "%s", optarg);
			break;
		case 'M':
			snprintf(b->shmname, sizeof(b->shmname), "%s", optarg);
			break;
		case 'P':
			snprintf(b->semname, sizeof(b->semname), "%s", optarg);
			break;
		case 'v':
			b->verbose = true;
			break;
		case 'h':
			bench_usage(stdout);
			ret = 1;
			break;
		case 'V':
			printf("bench (ipcfs) %s\n", IPCFS_VERSION);
			ret = 1;
			break;
		default:
			ret = 3;
			break;
		}
	}
	if (ret == 0 && argc - optind != 2) {
		fprintf(stderr, "bench: want MNT and NULLMNT\n");
		ret = 3;
	}
	if (ret == 3)
		bench_usage(stderr);
	if (ret == 0) {
		b->mnt = argv[optind];
		b->nullmnt = argv[optind + 1];
		b->ops = ops ? ops : b->smoke ? 200 : 20000;
		b->runs = runs ? runs : b->smoke ? 5 : 7;
		/* enough for libfuse to have started its worker threads */
		b->warmup = b->ops < 2000 ? b->ops : 2000;
	}
	return ret;
}

int main(int argc, char **argv)
{
	struct bench b = {
		.queue = "q",
		.channel = "c",
		.segment = "s",
		.semaphore = "s",
		.topic = "t",
		.sysvmsg = "0x1bec0000",
		.only = (1u << BENCH_NSYS) - 1,
	};
	double *samples = NULL;
	int status;

	/* bench_parse's 1..3 are exit statuses 0..2 */
	status = bench_parse(&b, argc, argv) - 1;
	if (status >= 0)
		goto out;
	status = 1;
	if (bench_init(&b) < 0)
		goto out;
	samples = calloc(bench_ncases * BENCH_NSYS * 2 * b.runs,
			 sizeof(*samples));
	if (!samples)
		goto out;
	if (bench_all(&b, samples) < 0)
		goto out;
	bench_print(&b, samples);
	status = 0;
out:
	free(samples);
	return status;
}

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_mq.c - unit tests of queues/NAME (backends/mq.c), no mount.
 *
 * Each test calls mqueue_kind's operations directly (create, remove, stat, chmod,
 * list, and the ops and getters of its file table) and checks the result on
 * the other side with the native API: mq_open, mq_timedsend,
 * mq_timedreceive, mq_getattr, fstat. Exact bytes, priorities and errno
 * values are asserted. Operations never block: where one would, it must
 * return -EAGAIN and name the wait queue and the event to await.
 *
 *   $ ninja -C build && build/tests/test_mq
 *   [==========] 23 test(s) run.
 *
 * The machine allows a user about nine default-sized queues (RLIMIT_MSGQUEUE,
 * 800 KiB, even for root), so every queue here is small (4 x 128 bytes unless
 * a test needs bigger messages), mqueue_kind.create is set up to make such queues
 * through its mount options, and every queue a test names is unlinked in its
 * teardown, whatever the test did. Names are /ut<pid>_<n>.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs.h"

extern const struct ipc_kind mqueue_kind;

#define TEST_MQ_MAXMSG 4
#define TEST_MQ_MSGSIZE 128
#define TEST_MQ_NAMES 4
#define TEST_MQ_HANDLES 8
#define TEST_MQ_MQDS 4

/* What a test made, so that its teardown can undo it if an assertion fails. */
struct test_mq_fixture {
	char names[TEST_MQ_NAMES][32];
	int nnames;
	struct {
		const struct ipc_stream_ops *ops;
		void *fh;
	} handles[TEST_MQ_HANDLES];
	mqd_t mqds[TEST_MQ_MQDS];
	int nmqds;
};

static struct test_mq_fixture test_mq_fix;
static unsigned int test_mq_seq;
static long test_mq_saved_opts[2];

/* A mount option of mqueue_kind's, by name. */
static long *test_mq_option(const char *name)
{
	const struct ipc_option *o;

	for (o = mqueue_kind.options; o->name; o++)
		if (strcmp(o->name, name) == 0)
			return o->value;
	fail_msg("mqueue_kind has no option %s", name);
	return NULL;
}

/* A file of a queue's directory, by name. */
static const struct ipc_file *test_mq_file(const char *name)
{
	const struct ipc_file *f;

	for (f = mqueue_kind.files; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	fail_msg("mqueue_kind has no file %s", name);
	return NULL;
}

static const struct ipc_stream_ops *test_mq_ops(const char *file)
{
	const struct ipc_stream_ops *ops = test_mq_file(file)->ops;

	assert_non_null(ops);
	return ops;
}

/* A fresh queue name, unlinked by the teardown. */
static const char *test_mq_name(void)
{
	struct test_mq_fixture *f = &test_mq_fix;
	char *name;

	assert_true(f->nnames < TEST_MQ_NAMES);
	name = f->names[f->nnames++];
	snprintf(name, sizeof(f->names[0]), "/ut%ld_%u", (long)getpid(),
		 test_mq_seq++);
	return name;
}

/* A deadline a second from now: no native call here waits longer. */
static struct timespec test_mq_deadline(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	return ts;
}

static mqd_t test_mq_track(mqd_t mqd)
{
	struct test_mq_fixture *f = &test_mq_fix;

	assert_true(f->nmqds < TEST_MQ_MQDS);
	f->mqds[f->nmqds++] = mqd;
	return mqd;
}

/* Make queue NAME natively; returns a blocking O_RDWR descriptor to it. */
static mqd_t test_mq_native(const char *name, long maxmsg, long msgsize,
			    mode_t mode)
{
	struct mq_attr attr = { .mq_maxmsg = maxmsg, .mq_msgsize = msgsize };
	mqd_t mqd;

	mqd = mq_open(name, O_RDWR | O_CREAT | O_EXCL, mode, &attr);
	if (mqd == (mqd_t)-1)
		fail_msg("mq_open %s: %s", name, strerror(errno));
	return test_mq_track(mqd);
}

static mqd_t test_mq_native_small(const char *name)
{
	return test_mq_native(name, TEST_MQ_MAXMSG, TEST_MQ_MSGSIZE, 0600);
}

/* Open an existing queue natively (made by mqueue_kind.create). */
static mqd_t test_mq_native_open(const char *name)
{
	mqd_t mqd = mq_open(name, O_RDWR);

	if (mqd == (mqd_t)-1)
		fail_msg("mq_open %s: %s", name, strerror(errno));
	return test_mq_track(mqd);
}

static void test_mq_send(mqd_t mqd, const void *buf, size_t len,
			 unsigned int prio)
{
	struct timespec ts = test_mq_deadline();

	if (mq_timedsend(mqd, buf, len, prio, &ts) < 0)
		fail_msg("mq_timedsend: %s", strerror(errno));
}

/* The next message must be exactly LEN bytes of BUF, of priority PRIO. */
static void test_mq_expect(mqd_t mqd, const void *buf, size_t len,
			   unsigned int prio)
{
	struct timespec ts = test_mq_deadline();
	char msg[8192];
	unsigned int got_prio = ~0u;
	ssize_t n;

	n = mq_timedreceive(mqd, msg, sizeof(msg), &got_prio, &ts);
	if (n < 0)
		fail_msg("mq_timedreceive: %s", strerror(errno));
	assert_int_equal(n, len);
	assert_memory_equal(msg, buf, len);
	assert_int_equal(got_prio, prio);
}

static long test_mq_curmsgs(mqd_t mqd)
{
	struct mq_attr attr;

	assert_int_equal(mq_getattr(mqd, &attr), 0);
	return attr.mq_curmsgs;
}

/* Open FILE ("data", "stream") of queue NAME; released by the teardown. */
static void *test_mq_open(const char *file, const char *name)
{
	struct test_mq_fixture *f = &test_mq_fix;
	const struct ipc_stream_ops *ops = test_mq_ops(file);
	void *fh = NULL;
	int i;

	for (i = 0; i < TEST_MQ_HANDLES && f->handles[i].fh; i++)
		;
	assert_true(i < TEST_MQ_HANDLES);
	assert_int_equal(ops->open(name, O_RDWR, &fh), 0);
	assert_non_null(fh);
	f->handles[i].ops = ops;
	f->handles[i].fh = fh;
	return fh;
}

static void test_mq_release(void *fh)
{
	struct test_mq_fixture *f = &test_mq_fix;
	int i;

	for (i = 0; i < TEST_MQ_HANDLES; i++) {
		if (f->handles[i].fh == fh) {
			f->handles[i].ops->release(fh);
			f->handles[i].fh = NULL;
			return;
		}
	}
	fail_msg("releasing a handle the test did not open");
}

/* 1000 bytes no two neighbouring chunks of 100 share. */
static void test_mq_pattern(char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (char)(i * 7 + i / 100);
}

static int test_mq_group_setup(void **state)
{
	long *maxmsg = test_mq_option("mq_maxmsg");
	long *msgsize = test_mq_option("mq_msgsize");

	/* Modes must come out as asked, as under the daemon (main.c). */
	umask(0);
	test_mq_saved_opts[0] = *maxmsg;
	test_mq_saved_opts[1] = *msgsize;
	*maxmsg = TEST_MQ_MAXMSG;
	*msgsize = TEST_MQ_MSGSIZE;
	return mqueue_kind.init();
}

static int test_mq_group_teardown(void **state)
{
	mqueue_kind.fini();
	*test_mq_option("mq_maxmsg") = test_mq_saved_opts[0];
	*test_mq_option("mq_msgsize") = test_mq_saved_opts[1];
	return 0;
}

static int test_mq_setup(void **state)
{
	memset(&test_mq_fix, 0, sizeof(test_mq_fix));
	return 0;
}

/* Release handles first: a handle holds the daemon's descriptor open. */
static int test_mq_teardown(void **state)
{
	struct test_mq_fixture *f = &test_mq_fix;
	int i;

	for (i = 0; i < TEST_MQ_HANDLES; i++)
		if (f->handles[i].fh)
			f->handles[i].ops->release(f->handles[i].fh);
	for (i = 0; i < f->nmqds; i++)
		mq_close(f->mqds[i]);
	for (i = 0; i < f->nnames; i++)
		mq_unlink(f->names[i]);
	memset(f, 0, sizeof(*f));
	return 0;
}

/* create makes a queue of the configured size and the requested mode. */
static void test_mq_create(void **state)
{
	const char *name = test_mq_name();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	struct mq_attr attr;
	struct stat st;
	mqd_t mqd;

	assert_int_equal(mqueue_kind.create(name, 0640, &caller), 0);
	mqd = test_mq_native_open(name);
	assert_int_equal(mq_getattr(mqd, &attr), 0);
	assert_int_equal(attr.mq_maxmsg, TEST_MQ_MAXMSG);
	assert_int_equal(attr.mq_msgsize, TEST_MQ_MSGSIZE);
	assert_int_equal(attr.mq_curmsgs, 0);
	assert_int_equal(fstat(mqd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(st.st_uid, caller.uid);
	assert_int_equal(st.st_gid, caller.gid);

	memset(&st, 0, sizeof(st));
	assert_int_equal(mqueue_kind.stat(name, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(st.st_uid, caller.uid);
}

static void test_mq_create_exists(void **state)
{
	const char *name = test_mq_name();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };

	assert_int_equal(mqueue_kind.create(name, 0600, &caller), 0);
	assert_int_equal(mqueue_kind.create(name, 0600, &caller), -EEXIST);
	/* A native queue of that name is as good as one made through us. */
	name = test_mq_name();
	test_mq_native_small(name);
	assert_int_equal(mqueue_kind.create(name, 0600, &caller), -EEXIST);
}

static void test_mq_stat_missing(void **state)
{
	const char *name = test_mq_name();
	struct stat st;

	assert_int_equal(mqueue_kind.stat(name, &st), -ENOENT);
	assert_int_equal(mqueue_kind.chmod(name, 0600), -ENOENT);
	assert_int_equal(
		test_mq_ops("data")->open(name, O_RDWR, &(void *){ NULL }),
		-ENOENT);
}

static void test_mq_remove(void **state)
{
	const char *name = test_mq_name();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	struct stat st;

	assert_int_equal(mqueue_kind.create(name, 0600, &caller), 0);
	assert_int_equal(mqueue_kind.remove(name), 0);
	assert_int_equal(mq_open(name, O_RDONLY), (mqd_t)-1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(mqueue_kind.stat(name, &st), -ENOENT);
	assert_int_equal(mqueue_kind.remove(name), -ENOENT);
}

static void test_mq_chmod(void **state)
{
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native_small(name);
	struct stat st;

	assert_int_equal(fstat(mqd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(mqueue_kind.chmod(name, 0604), 0);
	assert_int_equal(fstat(mqd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0604);
	assert_int_equal(mqueue_kind.stat(name, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0604);
}

struct test_mq_seen {
	const char *want;
	int found;
	int calls;
	int stop; /* what fill returns */
};

static int test_mq_fill(void *ctx, const char *name)
{
	struct test_mq_seen *s = ctx;

	s->calls++;
	if (strcmp(name, s->want) == 0)
		s->found++;
	return s->stop;
}

/* list sees queues made natively, by their full POSIX name. */
static void test_mq_list(void **state)
{
	const char *name = test_mq_name();
	struct test_mq_seen seen = { .want = name };

	test_mq_native_small(name);
	assert_int_equal(mqueue_kind.list(test_mq_fill, &seen), 0);
	assert_int_equal(seen.found, 1);

	/* A non-zero fill stops the walk, and list returns what fill did. */
	seen = (struct test_mq_seen){ .want = name, .stop = 42 };
	assert_int_equal(mqueue_kind.list(test_mq_fill, &seen), 42);
	assert_int_equal(seen.calls, 1);
}

/* One write is one message of priority 0, byte for byte (NULs too). */
static void test_mq_data_write(void **state)
{
	static const char msg[] = "ab\0\ncd\n";
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native_small(name);
	const struct ipc_stream_ops *ops = test_mq_ops("data");
	void *fh = test_mq_open("data", name);
	struct ipc_wait w = { 0 };

	assert_int_equal(ops->write(fh, msg, sizeof(msg), 0, &w), sizeof(msg));
	assert_int_equal(ops->write(fh, "x", 1, 0, &w), 1);
	assert_int_equal(test_mq_curmsgs(mqd), 2);
	test_mq_expect(mqd, msg, sizeof(msg), 0);
	test_mq_expect(mqd, "x", 1, 0);
	assert_null(w.wq);
	/*
	 * `echo x > data` truncates first: no truncate op, which fs/ takes
	 * for success doing nothing (ipc.h).
	 */
	assert_null(ops->truncate);
}

static void test_mq_data_write_too_big(void **state)
{
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native_small(name);
	const struct ipc_stream_ops *ops = test_mq_ops("data");
	void *fh = test_mq_open("data", name);
	char big[TEST_MQ_MSGSIZE + 1];
	struct ipc_wait w = { 0 };

	memset(big, 'b', sizeof(big));
	assert_int_equal(ops->write(fh, "a", 1, 0, &w), 1);
	assert_int_equal(ops->write(fh, big, sizeof(big), 0, &w), -EMSGSIZE);
	assert_int_equal(test_mq_curmsgs(mqd), 1);
	/* Exactly msgsize still fits. */
	assert_int_equal(ops->write(fh, big, TEST_MQ_MSGSIZE, 0, &w),
			 TEST_MQ_MSGSIZE);
	test_mq_expect(mqd, "a", 1, 0);
	test_mq_expect(mqd, big, TEST_MQ_MSGSIZE, 0);
}

static void test_mq_data_write_full(void **state)
{
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native_small(name);
	const struct ipc_stream_ops *ops = test_mq_ops("data");
	void *fh = test_mq_open("data", name);
	struct ipc_waitq *pwq = NULL;
	struct ipc_wait w = { 0 };
	int i;

	for (i = 0; i < TEST_MQ_MAXMSG; i++)
		assert_int_equal(ops->write(fh, "m", 1, 0, &w), 1);
	assert_null(w.wq);
	assert_int_equal(ops->write(fh, "n", 1, 0, &w), -EAGAIN);
	assert_non_null(w.wq);
	assert_int_equal(w.events, POLLOUT);
	ops->poll(fh, &pwq);
	assert_ptr_equal(w.wq, pwq);
	assert_int_equal(test_mq_curmsgs(mqd), TEST_MQ_MAXMSG);
	for (i = 0; i < TEST_MQ_MAXMSG; i++)
		test_mq_expect(mqd, "m", 1, 0);
	/* Room again: the retry the fs layer makes goes through. */
	w = (struct ipc_wait){ 0 };
	assert_int_equal(ops->write(fh, "n", 1, 0, &w), 1);
	test_mq_expect(mqd, "n", 1, 0);
}

/* A data handle takes one message and serves it by offset, then EOF. */
static void test_mq_data_read(void **state)
{
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native_small(name);
	const struct ipc_stream_ops *ops = test_mq_ops("data");
	struct ipc_wait w = { 0 };
	char buf[100];
	void *fh, *fh2;

	test_mq_send(mqd, "hello", 5, 0);
	test_mq_send(mqd, "world!", 6, 0);
	fh = test_mq_open("data", name);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 0, &w), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 5, &w), 0);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 6, &w), 0);
	/* pread at 0 again reads the same message, takes no other. */
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 0, &w), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(test_mq_curmsgs(mqd), 1);
	assert_null(w.wq);

	fh2 = test_mq_open("data", name);
	assert_int_equal(ops->read(fh2, buf, sizeof(buf), 0, &w), 6);
	assert_memory_equal(buf, "world!", 6);
	assert_int_equal(ops->read(fh2, buf, sizeof(buf), 6, &w), 0);
	assert_int_equal(test_mq_curmsgs(mqd), 0);
}

static void test_mq_data_read_empty(void **state)
{
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native_small(name);
	const struct ipc_stream_ops *ops = test_mq_ops("data");
	void *fh = test_mq_open("data", name);
	struct ipc_waitq *pwq = NULL;
	struct ipc_wait w = { 0 };
	char buf[100];

	assert_int_equal(ops->read(fh, buf, sizeof(buf), 0, &w), -EAGAIN);
	assert_non_null(w.wq);
	assert_int_equal(w.events, POLLIN);
	/* The queue's own descriptor is what the event loop polls. */
	assert_true(w.wq->src.fd >= 0);
	ops->poll(fh, &pwq);
	assert_ptr_equal(w.wq, pwq);

	/* The retry once a message came in gets it. */
	test_mq_send(mqd, "late", 4, 0);
	w = (struct ipc_wait){ 0 };
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 0, &w), 4);
	assert_memory_equal(buf, "late", 4);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 4, &w), 0);
	assert_null(w.wq);
}

static void test_mq_data_read_small(void **state)
{
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native_small(name);
	const struct ipc_stream_ops *ops = test_mq_ops("data");
	void *fh = test_mq_open("data", name);
	struct ipc_wait w = { 0 };
	char buf[2];

	test_mq_send(mqd, "hello", 5, 0);
	test_mq_send(mqd, "next", 4, 0);
	assert_int_equal(ops->read(fh, buf, 2, 0, &w), 2);
	assert_memory_equal(buf, "he", 2);
	assert_int_equal(ops->read(fh, buf, 2, 2, &w), 2);
	assert_memory_equal(buf, "ll", 2);
	assert_int_equal(ops->read(fh, buf, 2, 4, &w), 1);
	assert_memory_equal(buf, "o", 1);
	assert_int_equal(ops->read(fh, buf, 2, 5, &w), 0);
	/* Short reads took one message, not one per read. */
	assert_int_equal(test_mq_curmsgs(mqd), 1);
	test_mq_expect(mqd, "next", 4, 0);
}

/* Highest priority first, one message per data handle. */
static void test_mq_priority(void **state)
{
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native_small(name);
	const struct ipc_stream_ops *ops = test_mq_ops("data");
	static const char *const want[] = { "five", "three", "one" };
	struct ipc_wait w = { 0 };
	char buf[100];
	void *fh;
	int i;

	test_mq_send(mqd, "one", 3, 1);
	test_mq_send(mqd, "five", 4, 5);
	test_mq_send(mqd, "three", 5, 3);
	for (i = 0; i < 3; i++) {
		fh = test_mq_open("data", name);
		assert_int_equal(ops->read(fh, buf, sizeof(buf), 0, &w),
				 strlen(want[i]));
		assert_memory_equal(buf, want[i], strlen(want[i]));
		test_mq_release(fh);
	}
	assert_int_equal(test_mq_curmsgs(mqd), 0);
}

/* stream: a long message in chunks, then the next message, then EAGAIN. */
static void test_mq_stream_read(void **state)
{
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native(name, TEST_MQ_MAXMSG, 1024, 0600);
	const struct ipc_stream_ops *ops = test_mq_ops("stream");
	void *fh = test_mq_open("stream", name);
	char msg[1000], buf[100];
	struct ipc_wait w = { 0 };
	off_t off = 0;
	int i;

	test_mq_pattern(msg, sizeof(msg));
	test_mq_send(mqd, msg, sizeof(msg), 0);
	test_mq_send(mqd, "next", 4, 0);
	for (i = 0; i < 10; i++) {
		assert_int_equal(ops->read(fh, buf, sizeof(buf), off, &w), 100);
		assert_memory_equal(buf, msg + i * 100, 100);
		off += 100;
	}
	assert_int_equal(ops->read(fh, buf, sizeof(buf), off, &w), 4);
	assert_memory_equal(buf, "next", 4);
	assert_null(w.wq);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), off + 4, &w), -EAGAIN);
	assert_non_null(w.wq);
	assert_int_equal(w.events, POLLIN);
	assert_int_equal(test_mq_curmsgs(mqd), 0);
}

/* An empty message: EOF for data (it is the whole message); stream skips it. */
static void test_mq_empty_message(void **state)
{
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native_small(name);
	const struct ipc_stream_ops *data = test_mq_ops("data");
	const struct ipc_stream_ops *stream = test_mq_ops("stream");
	void *dfh = test_mq_open("data", name);
	void *sfh = test_mq_open("stream", name);
	struct ipc_wait w = { 0 };
	char buf[100];

	test_mq_send(mqd, "", 0, 0);
	assert_int_equal(data->read(dfh, buf, sizeof(buf), 0, &w), 0);
	assert_int_equal(test_mq_curmsgs(mqd), 0);
	test_mq_send(mqd, "", 0, 0);
	test_mq_send(mqd, "a", 1, 0);
	assert_int_equal(stream->read(sfh, buf, sizeof(buf), 0, &w), 1);
	assert_memory_equal(buf, "a", 1);
	assert_int_equal(test_mq_curmsgs(mqd), 0);
}

/* An interrupted first read of data gives the message back, priority kept. */
static void test_mq_unread_data(void **state)
{
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native_small(name);
	const struct ipc_stream_ops *ops = test_mq_ops("data");
	void *fh = test_mq_open("data", name);
	struct ipc_wait w = { 0 };
	char buf[100];
	ssize_t n;

	test_mq_send(mqd, "later", 5, 2);
	test_mq_send(mqd, "urgent", 6, 7);
	n = ops->read(fh, buf, sizeof(buf), 0, &w);
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "urgent", 6);
	assert_int_equal(test_mq_curmsgs(mqd), 1);
	ops->unread(fh, buf, n);
	assert_int_equal(test_mq_curmsgs(mqd), 2);
	test_mq_expect(mqd, "urgent", 6, 7);
	test_mq_expect(mqd, "later", 5, 2);

	/* The handle no longer holds it: its next read takes a new message. */
	test_mq_send(mqd, "again", 5, 0);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 0, &w), 5);
	assert_memory_equal(buf, "again", 5);
}

/*
 * A later read of data did not receive anything: giving its bytes back puts
 * nothing in the queue, and the handle still serves them by offset.
 */
static void test_mq_unread_data_later(void **state)
{
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native_small(name);
	const struct ipc_stream_ops *ops = test_mq_ops("data");
	void *fh = test_mq_open("data", name);
	struct ipc_wait w = { 0 };
	char buf[2];

	test_mq_send(mqd, "hello", 5, 0);
	assert_int_equal(ops->read(fh, buf, 2, 0, &w), 2);
	assert_int_equal(ops->read(fh, buf, 2, 2, &w), 2);
	assert_memory_equal(buf, "ll", 2);
	ops->unread(fh, buf, 2);
	assert_int_equal(test_mq_curmsgs(mqd), 0);
	assert_int_equal(ops->read(fh, buf, 2, 2, &w), 2);
	assert_memory_equal(buf, "ll", 2);
	assert_int_equal(ops->read(fh, buf, 2, 4, &w), 1);
	assert_memory_equal(buf, "o", 1);
}

/* stream: bytes given back are the next read's, fresh message or not. */
static void test_mq_unread_stream(void **state)
{
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native(name, TEST_MQ_MAXMSG, 1024, 0600);
	const struct ipc_stream_ops *ops = test_mq_ops("stream");
	void *fh = test_mq_open("stream", name);
	char msg[1000], buf[100];
	struct ipc_wait w = { 0 };
	int i;

	test_mq_pattern(msg, sizeof(msg));
	test_mq_send(mqd, msg, sizeof(msg), 3);
	/* The read that received the message. */
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 0, &w), 100);
	assert_memory_equal(buf, msg, 100);
	ops->unread(fh, buf, 100);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 0, &w), 100);
	assert_memory_equal(buf, msg, 100);
	/* A read from the message the handle holds. */
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 0, &w), 100);
	assert_memory_equal(buf, msg + 100, 100);
	ops->unread(fh, buf, 100);
	assert_int_equal(test_mq_curmsgs(mqd), 0);
	for (i = 1; i < 10; i++) {
		assert_int_equal(ops->read(fh, buf, sizeof(buf), 0, &w), 100);
		assert_memory_equal(buf, msg + i * 100, 100);
	}
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 0, &w), -EAGAIN);
}

/* The loop's side of test_mq_give_back_full: what ran, and when. */
struct test_mq_loop_job {
	const struct ipc_stream_ops *ops;
	void *fh;
	const char *buf;
	size_t len;
	struct timespec done; /* written by the loop thread */
	int started, ran;     /* atomic */
};

static long test_mq_ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* From the loop thread, as fs/file.c does when a reply is refused. */
static int test_mq_loop_unread(void *arg, bool stopping)
{
	struct test_mq_loop_job *j = arg;

	__atomic_store_n(&j->started, 1, __ATOMIC_RELEASE);
	j->ops->unread(j->fh, j->buf, j->len);
	clock_gettime(CLOCK_MONOTONIC, &j->done);
	__atomic_store_n(&j->ran, 1, __ATOMIC_RELEASE);
	return 0;
}

/* Another object's waiter: answered when its queue fires. */
static int test_mq_loop_waiter(void *arg, bool stopping)
{
	struct test_mq_loop_job *j = arg;

	clock_gettime(CLOCK_MONOTONIC, &j->done);
	__atomic_store_n(&j->ran, 1, __ATOMIC_RELEASE);
	return 0;
}

/* Wait at most ms for the loop to run j. */
static bool test_mq_loop_ran(struct test_mq_loop_job *j, long ms)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!__atomic_load_n(&j->ran, __ATOMIC_ACQUIRE)) {
		if (test_mq_ms_since(&t0) > ms)
			return false;
		usleep(1000);
	}
	return true;
}

/*
 * A reader's message given back while the queue is full (a writer took
 * the room meanwhile) never makes the event loop wait: the loop answers
 * another object's waiter within 50 ms, and the message goes back once a
 * receive makes room. Nothing is lost or duplicated.
 */
static void test_mq_give_back_full(void **state)
{
	const char *name = test_mq_name();
	struct mq_attr attr = { .mq_maxmsg = 1, .mq_msgsize = 64 };
	const struct ipc_stream_ops *ops = test_mq_ops("data");
	struct test_mq_loop_job give = { 0 }, other = { 0 };
	struct ipc_waitq *mine = ipc_waitq_new(-1);
	struct ipc_waitq *theirs = ipc_waitq_new(-1);
	struct ipc_wait w = { 0 };
	struct timespec t0, ts;
	char buf[64];
	mqd_t mqd;
	void *fh;
	ssize_t n;

	mqd = test_mq_track(
		mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr));
	assert_true(mqd != (mqd_t)-1);
	assert_non_null(mine);
	assert_non_null(theirs);
	fh = test_mq_open("data", name);
	test_mq_send(mqd, "first", 5, 3);
	n = ops->read(fh, buf, sizeof(buf), 0, &w);
	assert_int_equal(n, 5);
	test_mq_send(mqd, "second", 6, 0); /* full again */

	assert_int_equal(fs_loop_init(), 0);
	assert_int_equal(fs_park_start_loop(), 0);
	give = (struct test_mq_loop_job){
		.ops = ops, .fh = fh, .buf = buf, .len = n
	};
	/* Parking a job retries it at once: the loop gives the message back. */
	assert_int_equal(ipc_job_park(mine, POLLIN, test_mq_loop_unread, &give),
			 0);
	while (!__atomic_load_n(&give.started, __ATOMIC_ACQUIRE))
		usleep(100);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(
		ipc_job_park(theirs, POLLIN, test_mq_loop_waiter, &other), 0);
	/* The give-back did not hold the loop: the other waiter was served. */
	assert_true(test_mq_loop_ran(&other, 2000));
	assert_true(test_mq_ms_since(&t0) < 50);
	assert_true(test_mq_loop_ran(&give, 1000));
	assert_int_equal(test_mq_curmsgs(mqd), 1);

	/* Room: the loop sends it back, with its priority. */
	test_mq_expect(mqd, "second", 6, 0);
	ts = test_mq_deadline();
	ts.tv_sec += 1;
	n = mq_timedreceive(mqd, buf, sizeof(buf), NULL, &ts);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "first", 5);
	assert_int_equal(test_mq_curmsgs(mqd), 0);

	fs_park_stop_loop();
	fs_loop_fini();
	ipc_waitq_free(mine);
	ipc_waitq_free(theirs);
}

/*
 * The give-back job may hold the last reference to its queue: the reader
 * closed, and rmdir dropped the registry's. The job, run by the loop when
 * the removal wakes the queue, frees the queue inside the loop's retry of
 * that very queue: fs/ must free the wait queue only after the round (run
 * under AddressSanitizer, build-asan, this was a use after free).
 */
static void test_mq_give_back_last_ref(void **state)
{
	const char *name = test_mq_name();
	struct mq_attr attr = { .mq_maxmsg = 1, .mq_msgsize = 64 };
	const struct ipc_stream_ops *ops = test_mq_ops("data");
	struct ipc_wait w = { 0 };
	struct timespec ts;
	char buf[64];
	mqd_t mqd;
	void *fh;
	ssize_t n;

	mqd = test_mq_track(
		mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr));
	assert_true(mqd != (mqd_t)-1);
	fh = test_mq_open("data", name);
	test_mq_send(mqd, "first", 5, 3);
	n = ops->read(fh, buf, sizeof(buf), 0, &w);
	assert_int_equal(n, 5);
	test_mq_send(mqd, "second", 6, 0); /* full again */
	assert_int_equal(fs_loop_init(), 0);
	assert_int_equal(fs_park_start_loop(), 0);
	ops->unread(fh, buf, n); /* full: a job keeps it */
	test_mq_release(fh);
	assert_int_equal(mqueue_kind.remove(name), 0);
	/* The queue is gone: the job drops the message and its reference. */
	ts = test_mq_deadline();
	assert_int_equal(mq_timedreceive(mqd, buf, sizeof(buf), NULL, &ts), 6);
	usleep(100 * 1000); /* a round or more of the loop */
	fs_park_stop_loop();
	fs_loop_fini();
	assert_int_equal(test_mq_curmsgs(mqd), 0);
}

/* rmdir: readers see EOF, writers EIDRM, waiters are woken. */
static void test_mq_remove_wakes(void **state)
{
	const char *name = test_mq_name();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	const struct ipc_stream_ops *data = test_mq_ops("data");
	const struct ipc_stream_ops *stream = test_mq_ops("stream");
	struct ipc_waitq *wq = NULL, *wq2 = NULL;
	struct ipc_wait w = { 0 };
	void *dfh, *sfh, *fh2;
	char buf[100];
	mqd_t mqd;

	assert_int_equal(mqueue_kind.create(name, 0600, &caller), 0);
	dfh = test_mq_open("data", name);
	sfh = test_mq_open("stream", name);
	assert_int_equal(data->read(dfh, buf, sizeof(buf), 0, &w), -EAGAIN);
	assert_non_null(w.wq);
	wq = w.wq;
	assert_false(wq->pending_all);

	assert_int_equal(mqueue_kind.remove(name), 0);
	/* Every waiter is retried (fs/park.c marks the queue pending). */
	assert_true(wq->pending_all);
	w = (struct ipc_wait){ 0 };
	assert_int_equal(data->read(dfh, buf, sizeof(buf), 0, &w), 0);
	assert_int_equal(data->write(dfh, "x", 1, 0, &w), -EIDRM);
	assert_int_equal(stream->read(sfh, buf, sizeof(buf), 0, &w), 0);
	assert_null(w.wq);
	assert_int_equal(data->poll(dfh, &wq2), POLLIN | POLLOUT | POLLHUP);
	assert_ptr_equal(wq2, wq);

	/* A queue made anew under that name is another one. */
	assert_int_equal(mqueue_kind.create(name, 0600, &caller), 0);
	fh2 = test_mq_open("data", name);
	assert_int_equal(data->write(fh2, "new", 3, 0, &w), 3);
	assert_int_equal(data->write(dfh, "x", 1, 0, &w), -EIDRM);
	mqd = test_mq_native_open(name);
	test_mq_expect(mqd, "new", 3, 0);
	test_mq_release(dfh);
	test_mq_release(sfh);
}

static void test_mq_poll(void **state)
{
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native_small(name);
	const struct ipc_stream_ops *data = test_mq_ops("data");
	const struct ipc_stream_ops *stream = test_mq_ops("stream");
	void *dfh = test_mq_open("data", name);
	void *sfh = test_mq_open("stream", name);
	struct ipc_waitq *wq = NULL;
	unsigned int ev;
	int i;

	ev = data->poll(dfh, &wq);
	assert_non_null(wq);
	assert_false(ev & POLLIN);
	assert_true(ev & POLLOUT);
	ev = stream->poll(sfh, &wq);
	assert_false(ev & POLLIN);

	test_mq_send(mqd, "m", 1, 0);
	ev = data->poll(dfh, &wq);
	assert_true(ev & POLLIN);
	assert_true(ev & POLLOUT);
	assert_true(stream->poll(sfh, &wq) & POLLIN);

	for (i = 1; i < TEST_MQ_MAXMSG; i++)
		test_mq_send(mqd, "m", 1, 0);
	ev = data->poll(dfh, &wq);
	assert_true(ev & POLLIN);
	assert_false(ev & POLLOUT);
	assert_false(ev & POLLHUP);
}

/* count, maxmsg, msgsize: "N\n", as sysfs. */
static void test_mq_attrs(void **state)
{
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native(name, 3, 100, 0600);
	const struct ipc_file *count = test_mq_file("count");
	const struct ipc_file *maxmsg = test_mq_file("maxmsg");
	const struct ipc_file *msgsize = test_mq_file("msgsize");
	char buf[32];

	assert_non_null(count->get);
	assert_non_null(maxmsg->get);
	assert_non_null(msgsize->get);
	assert_int_equal(count->get(name, count->arg, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "0\n");
	test_mq_send(mqd, "a", 1, 0);
	test_mq_send(mqd, "b", 1, 0);
	assert_int_equal(count->get(name, count->arg, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "2\n");
	assert_int_equal(maxmsg->get(name, maxmsg->arg, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "3\n");
	assert_int_equal(msgsize->get(name, msgsize->arg, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "100\n");
	/* Reading the attributes takes no message. */
	assert_int_equal(test_mq_curmsgs(mqd), 2);

	name = test_mq_name();
	assert_int_equal(count->get(name, count->arg, buf, sizeof(buf)),
			 -ENOENT);
}

/*
 * A queue unlinked and made again natively (a program restarting) while the
 * tree still has the old one open: new opens must reach the new queue.
 *
 * KNOWN BUG in backends/mq.c, this test fails until it is fixed: mq_get()
 * finds the daemon's descriptor by name alone, so while any handle keeps the
 * old (unlinked) queue open, every new open of data/stream gets that ghost:
 * writes vanish from the native side's view and readers never see the new
 * queue's messages. Fails at "assert_int_equal(test_mq_curmsgs(mqd), 1)"
 * with 0 != 0x1.
 */
static void test_mq_native_recreate(void **state)
{
	const char *name = test_mq_name();
	const struct ipc_stream_ops *ops = test_mq_ops("data");
	struct ipc_wait w = { 0 };
	void *old, *fh;
	mqd_t mqd;

	test_mq_native_small(name);
	old = test_mq_open("data", name);
	assert_int_equal(mq_unlink(name), 0);
	mqd = test_mq_native_small(name);
	fh = test_mq_open("data", name);
	assert_int_equal(ops->write(fh, "new", 3, 0, &w), 3);
	assert_int_equal(test_mq_curmsgs(mqd), 1);
	test_mq_expect(mqd, "new", 3, 0);
	test_mq_release(old);
}

/* stat and chmod by a daemon that is not root, results sent up PIPEFD. */
static void test_mq_meta_child(const char *name, int pipefd)
{
	struct mq_attr attr = { .mq_maxmsg = 1, .mq_msgsize = 16 };
	struct stat st;
	int ret[3] = { -1, -1, -1 };
	mqd_t mqd;

	if (getuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
		goto out;
	/* The daemon's user owns it, with permissions that allow no read. */
	mqd = mq_open(name, O_WRONLY | O_CREAT | O_EXCL, 0200, &attr);
	if (mqd == (mqd_t)-1)
		goto out;
	ret[0] = 0;
	ret[1] = mqueue_kind.stat(name, &st);
	ret[2] = mqueue_kind.chmod(name, 0600);
	mq_close(mqd);
out:
	if (write(pipefd, ret, sizeof(ret)) != sizeof(ret))
		_exit(1);
}

/*
 * An owner may stat and chmod its queue whatever its permission bits (as
 * with stat/chmod of /dev/mqueue/NAME): `chmod 200 q; ls -l` must work.
 *
 * KNOWN BUG in backends/mq.c, this test fails until it is fixed: mq_meta()
 * reaches the queue through mq_open(name, O_RDONLY), which needs read
 * permission, so a daemon that is not root gets EACCES for stat and chmod
 * of its own queue of mode 0200 (or 0000: then chmod can never restore it).
 * Root bypasses the check, hence the child dropping to uid 65534. Fails at
 * "assert_int_equal(ret[1], 0)" with 0xfffffffffffffff3 (-EACCES) != 0.
 */
static void test_mq_meta_write_only(void **state)
{
	const char *name = test_mq_name();
	int ret[3], fds[2], status;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		test_mq_meta_child(name, fds[1]);
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], ret, sizeof(ret)), sizeof(ret));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(ret[0], 0); /* the child made its queue */
	assert_int_equal(ret[1], 0);
	assert_int_equal(ret[2], 0);
}

/* lines: one message per line, however the writes cut them. */
static void test_mq_lines_split(void **state)
{
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native_small(name);
	const struct ipc_stream_ops *ops = test_mq_ops("lines");
	void *fh = test_mq_open("lines", name);
	struct ipc_wait w = { 0 };

	assert_true(ops->flags & IPC_OWN_INODE); /* its writers park */
	assert_null(ops->read);
	/* A line split over writes is one message, sent when it ends. */
	assert_int_equal(ops->write(fh, "ab", 2, 0, &w), 2);
	assert_int_equal(test_mq_curmsgs(mqd), 0);
	assert_int_equal(ops->write(fh, "c\nd", 3, 0, &w), 3);
	assert_int_equal(test_mq_curmsgs(mqd), 1);
	test_mq_expect(mqd, "abc\n", 4, 0);
	/* Several lines in one write, an empty one among them. */
	assert_int_equal(ops->write(fh, "\n\ne\n", 4, 0, &w), 4);
	assert_int_equal(test_mq_curmsgs(mqd), 3);
	test_mq_expect(mqd, "d\n", 2, 0);
	test_mq_expect(mqd, "\n", 1, 0);
	test_mq_expect(mqd, "e\n", 2, 0);
	assert_null(w.wq);
	/* Nothing held: the release sends nothing. */
	test_mq_release(fh);
	assert_int_equal(test_mq_curmsgs(mqd), 0);
}

/* An unterminated last line is sent when the file is released. */
static void test_mq_lines_release(void **state)
{
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native_small(name);
	const struct ipc_stream_ops *ops = test_mq_ops("lines");
	void *fh = test_mq_open("lines", name);
	struct ipc_wait w = { 0 };
	char full[TEST_MQ_MSGSIZE];

	assert_int_equal(ops->write(fh, "x\nta", 4, 0, &w), 4);
	assert_int_equal(ops->write(fh, "il", 2, 0, &w), 2);
	assert_int_equal(test_mq_curmsgs(mqd), 1);
	test_mq_release(fh);
	test_mq_expect(mqd, "x\n", 2, 0);
	test_mq_expect(mqd, "tail", 4, 0);
	/* An unended line may be msgsize long: it goes without a newline. */
	memset(full, 'f', sizeof(full));
	fh = test_mq_open("lines", name);
	assert_int_equal(ops->write(fh, full, sizeof(full), 0, &w),
			 sizeof(full));
	test_mq_release(fh);
	test_mq_expect(mqd, full, sizeof(full), 0);
}

/*
 * A line longer than msgsize (its newline counted): EMSGSIZE, nothing of
 * it sent; lines before it in the same write go, and count.
 */
static void test_mq_lines_too_long(void **state)
{
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native_small(name);
	const struct ipc_stream_ops *ops = test_mq_ops("lines");
	void *fh = test_mq_open("lines", name);
	char buf[2 + 2 * TEST_MQ_MSGSIZE];
	struct ipc_wait w = { 0 };

	/* Exactly msgsize with the newline fits; one more does not. */
	memset(buf, 'a', sizeof(buf));
	buf[TEST_MQ_MSGSIZE - 1] = '\n';
	assert_int_equal(ops->write(fh, buf, TEST_MQ_MSGSIZE, 0, &w),
			 TEST_MQ_MSGSIZE);
	test_mq_expect(mqd, buf, TEST_MQ_MSGSIZE, 0);
	buf[TEST_MQ_MSGSIZE - 1] = 'a';
	buf[TEST_MQ_MSGSIZE] = '\n';
	assert_int_equal(ops->write(fh, buf, TEST_MQ_MSGSIZE + 1, 0, &w),
			 -EMSGSIZE);
	/* Its end was seen: the file goes on. */
	assert_int_equal(ops->write(fh, "ok\n", 3, 0, &w), 3);
	test_mq_expect(mqd, "ok\n", 3, 0);

	/* A line before the long one: a short count, the error next time. */
	memcpy(buf, "a\n", 2);
	memset(buf + 2, 'b', sizeof(buf) - 2);
	assert_int_equal(ops->write(fh, buf, sizeof(buf), 0, &w), 2);
	assert_int_equal(ops->write(fh, buf + 2, sizeof(buf) - 2, 0, &w),
			 -EMSGSIZE);
	/*
	 * Its end unseen: the rest of it must not become a message. Writes
	 * of only that rest fail too; the one that ends it goes on after it.
	 */
	assert_int_equal(ops->write(fh, "bb", 2, 0, &w), -EMSGSIZE);
	assert_int_equal(ops->write(fh, "b\nc\n", 4, 0, &w), 4);
	assert_null(w.wq);
	test_mq_release(fh);
	test_mq_expect(mqd, "a\n", 2, 0);
	test_mq_expect(mqd, "c\n", 2, 0);
	assert_int_equal(test_mq_curmsgs(mqd), 0);

	/* A held line that grows past msgsize: EMSGSIZE at once. */
	fh = test_mq_open("lines", name);
	assert_int_equal(ops->write(fh, buf + 2, 100, 0, &w), 100);
	assert_int_equal(ops->write(fh, buf + 2, 100, 0, &w), -EMSGSIZE);
	test_mq_release(fh);
	assert_int_equal(test_mq_curmsgs(mqd), 0);
}

/* Full queue: the lines sent so far count, the rest waits for room. */
static void test_mq_lines_full(void **state)
{
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native_small(name);
	const struct ipc_stream_ops *ops = test_mq_ops("lines");
	void *fh = test_mq_open("lines", name);
	struct ipc_wait w = { 0 };
	char msg[16];
	int i;

	assert_int_equal(ops->write(fh, "1\n2\n3\n4\n5\n6\n", 12, 0, &w), 8);
	assert_non_null(w.wq);
	assert_int_equal(w.events, POLLOUT);
	w = (struct ipc_wait){ 0 };
	assert_int_equal(ops->write(fh, "5\n6\n", 4, 0, &w), -EAGAIN);
	assert_non_null(w.wq);
	test_mq_expect(mqd, "1\n", 2, 0);
	/* One slot: one line goes, the write stops before the next. */
	w = (struct ipc_wait){ 0 };
	assert_int_equal(ops->write(fh, "5\n6\n", 4, 0, &w), 2);
	assert_non_null(w.wq);
	assert_int_equal(test_mq_curmsgs(mqd), TEST_MQ_MAXMSG);
	/* A held part and a full queue: the part stays as it was. */
	w = (struct ipc_wait){ 0 };
	assert_int_equal(ops->write(fh, "x", 1, 0, &w), 1);
	assert_int_equal(ops->write(fh, "y\n", 2, 0, &w), -EAGAIN);
	for (i = 2; i <= 5; i++) {
		snprintf(msg, sizeof(msg), "%d\n", i);
		test_mq_expect(mqd, msg, 2, 0);
	}
	w = (struct ipc_wait){ 0 };
	assert_int_equal(ops->write(fh, "y\n", 2, 0, &w), 2);
	assert_null(w.wq);
	test_mq_expect(mqd, "xy\n", 3, 0);
}

/* maxmsg and msgsize: written, the queue is made again with the value. */
static void test_mq_attr_set(void **state)
{
	const char *name = test_mq_name();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	const struct ipc_file *maxmsg = test_mq_file("maxmsg");
	const struct ipc_file *msgsize = test_mq_file("msgsize");
	struct mq_attr attr;
	struct stat st;
	mqd_t mqd;

	assert_non_null(maxmsg->set);
	assert_non_null(msgsize->set);
	assert_int_equal(mqueue_kind.create(name, 0640, &caller), 0);
	assert_int_equal(maxmsg->set(name, "3\n", 2, NULL), 0);
	assert_int_equal(msgsize->set(name, "64", 2, NULL), 0);
	mqd = test_mq_native_open(name);
	assert_int_equal(mq_getattr(mqd, &attr), 0);
	assert_int_equal(attr.mq_maxmsg, 3);
	assert_int_equal(attr.mq_msgsize, 64);
	assert_int_equal(fstat(mqd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(st.st_uid, caller.uid);
	assert_int_equal(st.st_gid, caller.gid);
	/* The same value: nothing done, so a native user keeps its queue. */
	test_mq_send(mqd, "m", 1, 0);
	assert_int_equal(maxmsg->set(name, "3", 1, NULL), 0);
	assert_int_equal(test_mq_curmsgs(mqd), 1);
}

static void test_mq_attr_set_busy(void **state)
{
	const char *name = test_mq_name();
	const struct ipc_file *maxmsg = test_mq_file("maxmsg");
	mqd_t mqd = test_mq_native_small(name);
	struct mq_attr attr;
	char buf[TEST_MQ_MSGSIZE];
	void *fh;

	/* A message waits: it would be lost. */
	test_mq_send(mqd, "m", 1, 0);
	assert_int_equal(maxmsg->set(name, "2", 1, NULL), -EBUSY);
	assert_int_equal(mq_receive(mqd, buf, sizeof(buf), NULL), 1);
	/* A file of the tree has it open: it would keep the old queue. */
	fh = test_mq_open("data", name);
	assert_int_equal(maxmsg->set(name, "2", 1, NULL), -EBUSY);
	test_mq_release(fh);
	fh = test_mq_open("lines", name);
	assert_int_equal(maxmsg->set(name, "2", 1, NULL), -EBUSY);
	test_mq_release(fh);
	/* Unchanged, and usable: mqd is the same queue still. */
	assert_int_equal(mq_getattr(mqd, &attr), 0);
	assert_int_equal(attr.mq_maxmsg, TEST_MQ_MAXMSG);
	assert_int_equal(maxmsg->set(name, "2", 1, NULL), 0);
	assert_int_equal(mq_getattr(test_mq_native_open(name), &attr), 0);
	assert_int_equal(attr.mq_maxmsg, 2);
}

/*
 * The fence a rewrite puts on its name (object.c): the tree's opens of it
 * get EBUSY meanwhile, also one that was opening the old queue as the
 * fence went up; a name in use cannot be fenced. On a registry of its own,
 * whose open can fence in the middle of an open, as another thread can.
 */
static struct ipc_registry test_mq_reg;
static bool test_mq_fence_in_open;

static int test_mq_reg_open(const char *name, struct ipc_obj **o)
{
	*o = calloc(1, sizeof(**o));
	assert_non_null(*o);
	assert_int_equal(ipc_obj_init(*o, name, -1), 0);
	if (test_mq_fence_in_open)
		assert_int_equal(ipc_obj_fence(&test_mq_reg, name), 0);
	return 0;
}

static void test_mq_reg_free(struct ipc_obj *o)
{
	free(o);
}

static void test_mq_fence(void **state)
{
	struct ipc_obj *a, *b;
	int err = 0;

	test_mq_reg = (struct ipc_registry)IPC_REGISTRY_INIT(
		test_mq_reg_open, NULL, test_mq_reg_free);
	a = ipc_obj_get(&test_mq_reg, "a", &err);
	assert_non_null(a);
	assert_int_equal(ipc_obj_fence(&test_mq_reg, "a"), -EBUSY); /* open */
	ipc_obj_put(a);
	assert_int_equal(ipc_obj_fence(&test_mq_reg, "a"), 0);
	assert_null(ipc_obj_get(&test_mq_reg, "a", &err));
	assert_int_equal(err, -EBUSY);
	b = ipc_obj_get(&test_mq_reg, "b", &err); /* other names are free */
	assert_non_null(b);
	assert_int_equal(ipc_obj_fence(&test_mq_reg, "c"), -EBUSY); /* one */
	ipc_obj_unfence(&test_mq_reg);
	a = ipc_obj_get(&test_mq_reg, "a", &err);
	assert_non_null(a);
	ipc_obj_put(a);
	ipc_obj_put(b);
	/* Fenced while opening: what it opened may be the old object. */
	test_mq_fence_in_open = true;
	assert_null(ipc_obj_get(&test_mq_reg, "d", &err));
	assert_int_equal(err, -EBUSY);
	test_mq_fence_in_open = false;
	ipc_obj_unfence(&test_mq_reg);
	ipc_obj_clear(&test_mq_reg);
}

/* Bad values: EINVAL, from us or from mq_open; the queue stays as it was. */
static void test_mq_attr_set_invalid(void **state)
{
	static const char *const bad[] = {
		"abc", "0", "-1", "", "\n", "1x", "99999999999999999999"
	};
	const char *name = test_mq_name();
	const struct ipc_file *maxmsg = test_mq_file("maxmsg");
	const struct ipc_file *msgsize = test_mq_file("msgsize");
	struct mq_attr attr;
	struct stat st;
	size_t i;

	test_mq_native(name, TEST_MQ_MAXMSG, TEST_MQ_MSGSIZE, 0604);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
			maxmsg->set(name, bad[i], strlen(bad[i]), NULL),
			-EINVAL);
		assert_int_equal(
			msgsize->set(name, bad[i], strlen(bad[i]), NULL),
			-EINVAL);
	}
	/* Over what the kernel allows (HARD_MSGMAX), or a FUSE write holds. */
	assert_int_equal(maxmsg->set(name, "100000", 6, NULL), -EINVAL);
	assert_int_equal(msgsize->set(name, "2000000", 7, NULL), -EINVAL);
	assert_int_equal(mq_getattr(test_mq_native_open(name), &attr), 0);
	assert_int_equal(attr.mq_maxmsg, TEST_MQ_MAXMSG);
	assert_int_equal(attr.mq_msgsize, TEST_MQ_MSGSIZE);
	assert_int_equal(mqueue_kind.stat(name, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0604);
	/* And a queue that does not exist. */
	assert_int_equal(maxmsg->set(test_mq_name(), "2", 1, NULL), -ENOENT);
}

/*
 * The frame of every engine's framed file (fs/util.c): 1 to 5 digits of at
 * most 32767, a tab; the head's length, or EINVAL.
 */
static void test_mq_frame_parse(void **state)
{
	static const struct {
		const char *frame;
		int head;
		unsigned int prio;
	} ok[] = {
		{ "0\t", 2, 0 },	  { "7\tx", 2, 7 },
		{ "32767\tx", 6, 32767 }, { "00007\t\ty", 6, 7 },
		{ "12\ta\tb\n", 3, 12 },
	};
	static const char *const bad[] = {
		"",
		"\t",
		"x",
		"7",
		"7x\t",
		" 7\t",
		"+7\t",
		"-1\t",
		"32768\t",
		"99999\t",
		"000007\t",
		"123456\t",
		"4294967303\t",
		"7 \t",
	};
	char head[IPC_FRAME_HEAD_MAX];
	unsigned int prio;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		prio = ~0u;
		assert_int_equal(ipc_frame_parse(ok[i].frame,
						 strlen(ok[i].frame), &prio),
				 ok[i].head);
		assert_int_equal(prio, ok[i].prio);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ipc_frame_parse(bad[i], strlen(bad[i]), &prio),
				 -EINVAL);
	/* Nothing past len is read: the tab after it does not count. */
	assert_int_equal(ipc_frame_parse("7\t", 1, &prio), -EINVAL);
	assert_int_equal(ipc_frame_head(0, head), 2);
	assert_memory_equal(head, "0\t", 2);
	assert_int_equal(ipc_frame_head(32767, head), 6);
	assert_memory_equal(head, "32767\t", 6);
}

/*
 * framed: a write "PRIO\tMESSAGE" sends MESSAGE with PRIO; a bad head is
 * EINVAL and a message past msgsize EMSGSIZE, nothing sent; full: EAGAIN
 * with the queue's wait, as data.
 */
static void test_mq_framed_write(void **state)
{
	static const char msg[] = "9\tab\0\tcd\n";
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native_small(name);
	const struct ipc_stream_ops *ops = test_mq_ops("framed");
	void *fh = test_mq_open("framed", name);
	char big[2 + TEST_MQ_MSGSIZE + 1];
	struct ipc_wait w = { 0 };
	int i;

	assert_int_equal(ops->write(fh, msg, sizeof(msg), 0, &w), sizeof(msg));
	assert_int_equal(ops->write(fh, "0\t", 2, 0, &w), 2);
	assert_int_equal(ops->write(fh, "x", 1, 0, &w), -EINVAL);
	assert_int_equal(ops->write(fh, "32768\tx", 7, 0, &w), -EINVAL);
	memcpy(big, "1\t", 2);
	memset(big + 2, 'b', sizeof(big) - 2);
	assert_int_equal(ops->write(fh, big, sizeof(big), 0, &w), -EMSGSIZE);
	assert_int_equal(test_mq_curmsgs(mqd), 2);
	assert_int_equal(ops->write(fh, big, sizeof(big) - 1, 0, &w),
			 sizeof(big) - 1);
	assert_null(w.wq);
	test_mq_expect(mqd, msg + 2, sizeof(msg) - 2, 9);
	test_mq_expect(mqd, big + 2, TEST_MQ_MSGSIZE, 1);
	test_mq_expect(mqd, "", 0, 0);
	for (i = 0; i < TEST_MQ_MAXMSG; i++)
		assert_int_equal(ops->write(fh, "3\tm", 3, 0, &w), 3);
	assert_int_equal(ops->write(fh, "3\tn", 3, 0, &w), -EAGAIN);
	assert_non_null(w.wq);
	assert_int_equal(w.events, POLLOUT);
	assert_int_equal(test_mq_curmsgs(mqd), TEST_MQ_MAXMSG);
}

/*
 * framed: an open file receives one message and shows it after its
 * priority and a tab, by offset, then end-of-file; given back (an
 * interrupted read), it goes back as it came, with its priority.
 */
static void test_mq_framed_read(void **state)
{
	const char *name = test_mq_name();
	mqd_t mqd = test_mq_native_small(name);
	const struct ipc_stream_ops *ops = test_mq_ops("framed");
	struct ipc_wait w = { 0 };
	char buf[100];
	void *fh;
	ssize_t n;

	fh = test_mq_open("framed", name);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 0, &w), -EAGAIN);
	assert_int_equal(w.events, POLLIN);
	test_mq_send(mqd, "later", 5, 2);
	test_mq_send(mqd, "urgent", 6, 32767);
	w = (struct ipc_wait){ 0 };
	n = ops->read(fh, buf, 3, 0, &w);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "327", 3);
	ops->unread(fh, buf, n);
	assert_int_equal(test_mq_curmsgs(mqd), 2);
	assert_int_equal(ops->read(fh, buf, 4, 0, &w), 4);
	assert_memory_equal(buf, "3276", 4);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 4, &w), 8);
	assert_memory_equal(buf, "7\turgent", 8);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 12, &w), 0);
	assert_int_equal(test_mq_curmsgs(mqd), 1);
	test_mq_release(fh);

	test_mq_send(mqd, "", 0, 0);
	fh = test_mq_open("framed", name);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 0, &w), 7);
	assert_memory_equal(buf, "2\tlater", 7);
	test_mq_release(fh);
	fh = test_mq_open("framed", name);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 0, &w), 2);
	assert_memory_equal(buf, "0\t", 2);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 2, &w), 0);
	assert_null(w.wq);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define TEST_MQ_CASE(fn)                                                       \
	cmocka_unit_test_setup_teardown(fn, test_mq_setup, test_mq_teardown)
		TEST_MQ_CASE(test_mq_create),
		TEST_MQ_CASE(test_mq_create_exists),
		TEST_MQ_CASE(test_mq_stat_missing),
		TEST_MQ_CASE(test_mq_remove),
		TEST_MQ_CASE(test_mq_chmod),
		TEST_MQ_CASE(test_mq_list),
		TEST_MQ_CASE(test_mq_data_write),
		TEST_MQ_CASE(test_mq_data_write_too_big),
		TEST_MQ_CASE(test_mq_data_write_full),
		TEST_MQ_CASE(test_mq_data_read),
		TEST_MQ_CASE(test_mq_data_read_empty),
		TEST_MQ_CASE(test_mq_data_read_small),
		TEST_MQ_CASE(test_mq_priority),
		TEST_MQ_CASE(test_mq_stream_read),
		TEST_MQ_CASE(test_mq_empty_message),
		TEST_MQ_CASE(test_mq_unread_data),
		TEST_MQ_CASE(test_mq_unread_data_later),
		TEST_MQ_CASE(test_mq_unread_stream),
		TEST_MQ_CASE(test_mq_give_back_full),
		TEST_MQ_CASE(test_mq_give_back_last_ref),
		TEST_MQ_CASE(test_mq_remove_wakes),
		TEST_MQ_CASE(test_mq_poll),
		TEST_MQ_CASE(test_mq_attrs),
		TEST_MQ_CASE(test_mq_native_recreate),
		TEST_MQ_CASE(test_mq_meta_write_only),
		TEST_MQ_CASE(test_mq_frame_parse),
		TEST_MQ_CASE(test_mq_framed_write),
		TEST_MQ_CASE(test_mq_framed_read),
		TEST_MQ_CASE(test_mq_lines_split),
		TEST_MQ_CASE(test_mq_lines_release),
		TEST_MQ_CASE(test_mq_lines_too_long),
		TEST_MQ_CASE(test_mq_lines_full),
		TEST_MQ_CASE(test_mq_attr_set),
		TEST_MQ_CASE(test_mq_attr_set_busy),
		TEST_MQ_CASE(test_mq_fence),
		TEST_MQ_CASE(test_mq_attr_set_invalid),
#undef TEST_MQ_CASE
	};

	return cmocka_run_group_tests_name("mq", tests, test_mq_group_setup,
					   test_mq_group_teardown);
}

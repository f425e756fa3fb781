// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_topic.c - unit tests of topics/NAME (backends/topic.c), no mount.
 *
 * Each test calls topic_kind's operations directly (create, remove, stat,
 * chmod, chown, list, and the ops and attribute files of its file table).
 * A topic lives only in the daemon, so its state is checked through the
 * kind itself: exact bytes each reader reads back in order, the
 * subscribers/published/dropped/backlog files, poll, and the wait a
 * blocked read names. Nothing blocks: where a read would, it must return
 * -EAGAIN and name the topic's wait queue and POLLIN.
 *
 *   $ ninja -C build && build/tests/test_topic
 *   [==========] 18 test(s) run.
 *
 * Names are /ut<pid>_tp_<n>; the teardown releases every handle a test
 * opened, removes every topic it named and restores the mount options
 * (topic_backlog, topic_max_total) whatever the test did. The memory bound
 * is mount-wide, so the tests of it measure the room there is
 * (test_topic_room) rather than trust earlier tests to have left nothing
 * stored: that is also how they see memory come back. Run under ASan, a
 * message never freed shows as a leak.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs.h"

extern const struct ipc_kind topic_kind;

#define TEST_TOPIC_NAMES 8
#define TEST_TOPIC_HANDLES 16
/* Bytes of a message at most: 1 MiB less a page (topic.c says why). */
#define TEST_TOPIC_MSG_MAX IPC_MSG_MAX
#define TEST_TOPIC_MSG_MIN 64 /* what a message is charged at least */
#define TEST_TOPIC_CHUNK 4096 /* the message size the room is measured in */

/* What a test made, so that its teardown can undo it if an assertion fails. */
struct test_topic_fixture {
	char names[TEST_TOPIC_NAMES][32];
	int nnames;
	void *handles[TEST_TOPIC_HANDLES];
};

static struct test_topic_fixture test_topic_fix;
static unsigned int test_topic_seq;
static long test_topic_saved_backlog, test_topic_saved_max_total;

/* Room for the largest message a test publishes, and one byte more. */
static char test_topic_in[(1L << 20) + 2];
static char test_topic_out[(1L << 20) + 2];

static long *test_topic_option(const char *name)
{
	const struct ipc_option *o;

	for (o = topic_kind.options; o->name; o++)
		if (strcmp(o->name, name) == 0)
			return o->value;
	fail_msg("topic_kind has no option %s", name);
	return NULL;
}

static const struct ipc_file *test_topic_file(const char *name)
{
	const struct ipc_file *f;

	for (f = topic_kind.files; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	fail_msg("topic_kind has no file %s", name);
	return NULL;
}

static const struct ipc_stream_ops *test_topic_ops(void)
{
	const struct ipc_stream_ops *ops = test_topic_file("data")->ops;

	assert_non_null(ops);
	return ops;
}

/* A fresh name, removed by the teardown. */
static const char *test_topic_name(void)
{
	struct test_topic_fixture *f = &test_topic_fix;
	char *name;

	assert_true(f->nnames < TEST_TOPIC_NAMES);
	name = f->names[f->nnames++];
	snprintf(name, sizeof(f->names[0]), "/ut%ld_tp_%u", (long)getpid(),
		 test_topic_seq++);
	return name;
}

static const char *test_topic_make(void)
{
	const char *name = test_topic_name();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };

	assert_int_equal(topic_kind.create(name, 0600, &caller), 0);
	return name;
}

/* Open data of topic NAME with FLAGS; released by the teardown. */
static void *test_topic_open(const char *name, int flags)
{
	struct test_topic_fixture *f = &test_topic_fix;
	void *fh = NULL;
	int i;

	for (i = 0; i < TEST_TOPIC_HANDLES && f->handles[i]; i++)
		;
	assert_true(i < TEST_TOPIC_HANDLES);
	assert_int_equal(test_topic_ops()->open(name, flags, &fh), 0);
	assert_non_null(fh);
	f->handles[i] = fh;
	return fh;
}

static void test_topic_release(void *fh)
{
	struct test_topic_fixture *f = &test_topic_fix;
	int i;

	for (i = 0; i < TEST_TOPIC_HANDLES; i++) {
		if (f->handles[i] == fh) {
			test_topic_ops()->release(fh);
			f->handles[i] = NULL;
			return;
		}
	}
	fail_msg("releasing a handle the test did not open");
}

/* The number attribute FILE of topic NAME holds, checked to be "N\n". */
static long test_topic_attr(const char *name, const char *file)
{
	const struct ipc_file *f = test_topic_file(file);
	char buf[32], *end;
	long val;
	int n;

	assert_non_null(f->get);
	n = f->get(name, f->arg, buf, sizeof(buf));
	if (n < 0)
		fail_msg("get %s of %s: %s", file, name, strerror(-n));
	assert_true(n >= 2 && n < (int)sizeof(buf));
	assert_int_equal(strlen(buf), n);
	assert_int_equal(buf[n - 1], '\n');
	val = strtol(buf, &end, 10);
	assert_ptr_equal(end, buf + n - 1);
	return val;
}

static int test_topic_set(const char *name, const char *file, const char *str)
{
	const struct ipc_file *f = test_topic_file(file);

	assert_non_null(f->set);
	return f->set(name, str, strlen(str), NULL);
}

/* write(2) of LEN bytes: its result; it must never name a wait. */
static ssize_t test_topic_publish(void *fh, const char *buf, size_t len)
{
	struct ipc_wait w = { 0 };
	ssize_t n = test_topic_ops()->write(fh, buf, len, 0, &w);

	assert_null(w.wq);
	return n;
}

static void test_topic_write(void *fh, const char *buf, size_t len)
{
	assert_int_equal(test_topic_publish(fh, buf, len), len);
}

static void test_topic_puts(void *fh, const char *s)
{
	test_topic_write(fh, s, strlen(s));
}

/* A read of SIZE bytes must return exactly BUF (LEN bytes). */
static void test_topic_expect_n(void *fh, size_t size, const char *buf,
				size_t len)
{
	struct ipc_wait w = { 0 };
	ssize_t n;

	assert_true(size <= sizeof(test_topic_out));
	n = test_topic_ops()->read(fh, test_topic_out, size, 0, &w);
	if (n < 0)
		fail_msg("read: %s", strerror(-n));
	assert_int_equal(n, len);
	assert_memory_equal(test_topic_out, buf, len);
	assert_null(w.wq);
}

/* The next read (with a roomy buffer) returns the message S. */
static void test_topic_expect(void *fh, const char *s)
{
	test_topic_expect_n(fh, 4096, s, strlen(s));
}

static void test_topic_expect_eof(void *fh)
{
	struct ipc_wait w = { 0 };
	char buf[16];

	assert_int_equal(test_topic_ops()->read(fh, buf, sizeof(buf), 0, &w),
			 0);
	assert_null(w.wq);
}

/* A read of FH must wait for a message (POLLIN) on the topic's queue. */
static void test_topic_expect_wait(void *fh)
{
	struct ipc_wait w = { 0 };
	struct ipc_waitq *wq = NULL;
	char buf[16];

	assert_int_equal(test_topic_ops()->read(fh, buf, sizeof(buf), 0, &w),
			 -EAGAIN);
	assert_non_null(w.wq);
	assert_int_equal(w.events, POLLIN);
	test_topic_ops()->poll(fh, &wq);
	assert_ptr_equal(w.wq, wq);
}

static unsigned int test_topic_poll(void *fh)
{
	struct ipc_waitq *wq = NULL;
	unsigned int ev = test_topic_ops()->poll(fh, &wq);

	assert_non_null(wq);
	return ev;
}

static void test_topic_pattern(char *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (char)(i * 7 + i / 100 + seed * 31);
}

/*
 * The room left under the bound, in messages of TEST_TOPIC_CHUNK bytes: a
 * topic of its own with one reader that never reads takes them until
 * ENOSPC, then all of it goes again (the reader closes, the topic goes).
 */
static long test_topic_room(void)
{
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	char name[32];
	void *r = NULL, *w = NULL;
	long n = 0;
	ssize_t ret;

	snprintf(name, sizeof(name), "/ut%ld_tp_room", (long)getpid());
	assert_int_equal(topic_kind.create(name, 0600, &caller), 0);
	assert_int_equal(test_topic_set(name, "backlog", "1000000"), 0);
	assert_int_equal(test_topic_ops()->open(name, O_RDONLY, &r), 0);
	assert_int_equal(test_topic_ops()->open(name, O_WRONLY, &w), 0);
	while ((ret = test_topic_publish(w, test_topic_in, TEST_TOPIC_CHUNK)) ==
	       TEST_TOPIC_CHUNK)
		n++;
	assert_int_equal(ret, -ENOSPC);
	assert_int_equal(test_topic_attr(name, "published"), n);
	test_topic_ops()->release(r);
	test_topic_ops()->release(w);
	assert_int_equal(topic_kind.remove(name), 0);
	return n;
}

static int test_topic_group_setup(void **state)
{
	test_topic_saved_backlog = *test_topic_option("topic_backlog");
	test_topic_saved_max_total = *test_topic_option("topic_max_total");
	return topic_kind.init ? topic_kind.init() : 0;
}

static int test_topic_group_teardown(void **state)
{
	topic_kind.fini();
	*test_topic_option("topic_backlog") = test_topic_saved_backlog;
	*test_topic_option("topic_max_total") = test_topic_saved_max_total;
	return 0;
}

static int test_topic_setup(void **state)
{
	memset(&test_topic_fix, 0, sizeof(test_topic_fix));
	return 0;
}

static int test_topic_teardown(void **state)
{
	struct test_topic_fixture *f = &test_topic_fix;
	int i;

	for (i = 0; i < TEST_TOPIC_HANDLES; i++)
		if (f->handles[i])
			test_topic_ops()->release(f->handles[i]);
	for (i = 0; i < f->nnames; i++)
		topic_kind.remove(f->names[i]);
	memset(f, 0, sizeof(*f));
	*test_topic_option("topic_backlog") = test_topic_saved_backlog;
	*test_topic_option("topic_max_total") = test_topic_saved_max_total;
	return 0;
}

/* The table names the files DESIGN.md lists, with their modes. */
static void test_topic_table(void **state)
{
	const struct ipc_file *data = test_topic_file("data");

	assert_string_equal(topic_kind.name, "topics");
	assert_null(topic_kind.path);
	assert_true(topic_kind.prefixed);
	assert_non_null(data->ops);
	assert_int_equal(data->mode, 0666);
	assert_true(data->ops->flags & IPC_STREAM);
	assert_true(data->ops->flags & IPC_OWN_INODE);
	assert_true(data->ops->flags & IPC_READ_TAKES);
	assert_non_null(data->ops->unread);
	assert_non_null(data->ops->poll);
	assert_int_equal(test_topic_file("backlog")->mode, 0666);
	assert_non_null(test_topic_file("backlog")->set);
	assert_int_equal(test_topic_file("subscribers")->mode, 0444);
	assert_null(test_topic_file("subscribers")->set);
	assert_int_equal(test_topic_file("published")->mode, 0444);
	assert_int_equal(test_topic_file("dropped")->mode, 0444);
	assert_int_equal(fs_kind_check(&topic_kind), 0);
	assert_int_equal(test_topic_saved_backlog, 1024);
	assert_int_equal(test_topic_saved_max_total, 64L << 20);
}

/* create: a new topic with -o topic_backlog; EEXIST after; stat, chmod. */
static void test_topic_create_stat(void **state)
{
	const char *name = test_topic_name();
	struct ipc_caller caller = { .uid = 1234, .gid = 5678 };
	struct stat st;

	assert_int_equal(topic_kind.create(name, 0640, &caller), 0);
	assert_int_equal(topic_kind.create(name, 0600, &caller), -EEXIST);
	assert_int_equal(test_topic_attr(name, "backlog"), 1024);
	assert_int_equal(test_topic_attr(name, "subscribers"), 0);
	assert_int_equal(test_topic_attr(name, "published"), 0);
	assert_int_equal(test_topic_attr(name, "dropped"), 0);
	memset(&st, 0, sizeof(st));
	assert_int_equal(topic_kind.stat(name, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	assert_int_equal(topic_kind.chmod(name, 0604), 0);
	assert_int_equal(topic_kind.chown(name, (uid_t)-1, 42), 0);
	assert_int_equal(topic_kind.stat(name, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0604);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 42);

	*test_topic_option("topic_backlog") = 7;
	name = test_topic_make();
	assert_int_equal(test_topic_attr(name, "backlog"), 7);
}

static int test_topic_list_fill(void *ctx, const char *name)
{
	const char *want = ctx;

	if (strcmp(name, want) == 0)
		return 1;
	return 0;
}

/* list shows it until removed; nothing answers for a missing topic. */
static void test_topic_list_remove(void **state)
{
	const char *name = test_topic_make();
	void *fh = NULL;
	struct stat st;

	assert_int_equal(topic_kind.list(test_topic_list_fill, (void *)name),
			 1);
	assert_int_equal(topic_kind.remove(name), 0);
	assert_int_equal(topic_kind.list(test_topic_list_fill, (void *)name),
			 0);
	assert_int_equal(topic_kind.remove(name), -ENOENT);
	assert_int_equal(topic_kind.stat(name, &st), -ENOENT);
	assert_int_equal(topic_kind.chmod(name, 0600), -ENOENT);
	assert_int_equal(test_topic_ops()->open(name, O_RDONLY, &fh), -ENOENT);
	assert_int_equal(test_topic_file("published")
				 ->get(name, test_topic_file("published")->arg,
				       (char[32]){ 0 }, 32),
			 -ENOENT);
	assert_int_equal(test_topic_set(name, "backlog", "5"), -ENOENT);
}

/* Every reader gets every message, in order, one per read. */
static void test_topic_every_reader(void **state)
{
	const char *name = test_topic_make();
	void *w = test_topic_open(name, O_WRONLY);
	void *r[3];
	char msg[32];
	int i, j;

	for (j = 0; j < 3; j++)
		r[j] = test_topic_open(name, O_RDONLY);
	for (i = 0; i < 100; i++) {
		snprintf(msg, sizeof(msg), "message %d\n", i);
		test_topic_puts(w, msg);
	}
	for (j = 0; j < 3; j++) {
		for (i = 0; i < 100; i++) {
			snprintf(msg, sizeof(msg), "message %d\n", i);
			test_topic_expect(r[j], msg);
		}
		test_topic_expect_wait(r[j]);
	}
	assert_int_equal(test_topic_attr(name, "published"), 100);
	assert_int_equal(test_topic_attr(name, "dropped"), 0);
}

/* A reader gets what comes after it opened, not before. */
static void test_topic_late_reader(void **state)
{
	const char *name = test_topic_make();
	void *w = test_topic_open(name, O_WRONLY);
	void *r1, *r2;

	test_topic_puts(w, "to nobody");
	r1 = test_topic_open(name, O_RDONLY);
	test_topic_expect_wait(r1);
	test_topic_puts(w, "one");
	r2 = test_topic_open(name, O_RDONLY);
	test_topic_puts(w, "two");
	test_topic_expect(r1, "one");
	test_topic_expect(r1, "two");
	test_topic_expect(r2, "two");
	test_topic_expect_wait(r1);
	test_topic_expect_wait(r2);
	assert_int_equal(test_topic_attr(name, "published"), 3);
}

/* A short buffer: the rest of the message on the next reads, first. */
static void test_topic_short_buffer(void **state)
{
	const char *name = test_topic_make();
	void *w = test_topic_open(name, O_WRONLY);
	void *r = test_topic_open(name, O_RDONLY);
	void *r2 = test_topic_open(name, O_RDONLY);

	test_topic_puts(w, "abcdefghij");
	test_topic_puts(w, "next");
	test_topic_expect_n(r, 4, "abcd", 4);
	test_topic_expect_n(r, 4, "efgh", 4);
	test_topic_expect_n(r, 4, "ij", 2);
	test_topic_expect_n(r, 4, "next", 4);
	test_topic_expect_wait(r);
	/* The other reader's position is its own. */
	test_topic_expect_n(r2, 1, "a", 1);
	test_topic_expect(r2, "bcdefghij");
	test_topic_expect(r2, "next");
}

/* Nothing to read: EAGAIN naming the topic's queue; poll says so too. */
static void test_topic_wait_poll(void **state)
{
	const char *name = test_topic_make();
	void *w = test_topic_open(name, O_WRONLY);
	void *r = test_topic_open(name, O_RDONLY);
	void *rw = test_topic_open(name, O_RDWR);
	struct ipc_waitq *wq = NULL;

	test_topic_expect_wait(r);
	assert_int_equal(test_topic_poll(r), POLLOUT);
	assert_int_equal(test_topic_poll(w), POLLOUT);
	test_topic_puts(w, "x");
	assert_int_equal(test_topic_poll(r), POLLIN | POLLOUT);
	assert_int_equal(test_topic_poll(rw), POLLIN | POLLOUT);
	assert_int_equal(test_topic_poll(w), POLLOUT); /* no reader */
	test_topic_expect(r, "x");
	assert_int_equal(test_topic_poll(r), POLLOUT);
	/* A reader and writer hears itself. */
	test_topic_puts(rw, "y");
	test_topic_expect(rw, "x");
	test_topic_expect(rw, "y");
	test_topic_expect(r, "y");
	test_topic_ops()->poll(r, &wq);
	assert_int_equal(wq->src.fd, -1); /* only ipc_wake() signals it */
}

/* A publish wakes every parked reader: they are not alike. */
static void test_topic_wakes(void **state)
{
	const char *name = test_topic_make();
	void *w = test_topic_open(name, O_WRONLY);
	void *r = test_topic_open(name, O_RDONLY);
	struct ipc_waitq *wq = NULL;

	test_topic_ops()->poll(r, &wq);
	assert_false(wq->pending_all);
	test_topic_puts(w, "a");
	assert_true(wq->pending_all);

	/* rmdir wakes them all too (ipc_obj_remove). */
	name = test_topic_make();
	r = test_topic_open(name, O_RDONLY);
	test_topic_ops()->poll(r, &wq);
	assert_false(wq->pending_all);
	assert_int_equal(topic_kind.remove(name), 0);
	assert_true(wq->pending_all);
}

/*
 * An interrupted read takes nothing: what it read is first again for that
 * reader, whether it ended the message (freed meanwhile by the others) or
 * not, and the other readers are not touched.
 */
static void test_topic_unread(void **state)
{
	const char *name = test_topic_make();
	void *w = test_topic_open(name, O_WRONLY);
	void *r = test_topic_open(name, O_RDONLY);
	void *r2 = test_topic_open(name, O_RDONLY);
	struct ipc_wait wt = { 0 };
	char buf[16];

	test_topic_puts(w, "first");
	test_topic_puts(w, "second");
	/* The whole message: given back. */
	assert_int_equal(test_topic_ops()->read(r, buf, 16, 0, &wt), 5);
	test_topic_ops()->unread(r, buf, 5);
	test_topic_expect(r2, "first"); /* the message is freed now */
	test_topic_expect(r, "first");
	/* Part of one: the same part again. */
	assert_int_equal(test_topic_ops()->read(r, buf, 3, 0, &wt), 3);
	test_topic_ops()->unread(r, buf, 3);
	test_topic_expect_n(r, 4, "seco", 4);
	/* The rest of one, after a first part that was delivered. */
	assert_int_equal(test_topic_ops()->read(r, buf, 16, 0, &wt), 2);
	assert_memory_equal(buf, "nd", 2);
	test_topic_ops()->unread(r, buf, 2);
	test_topic_expect_n(r, 1, "n", 1);
	/* Given back bytes read in parts themselves. */
	assert_int_equal(test_topic_ops()->read(r, buf, 16, 0, &wt), 1);
	test_topic_ops()->unread(r, buf, 1);
	test_topic_expect(r, "d");
	test_topic_expect_wait(r);
	test_topic_expect(r2, "second");
	/* An empty read takes nothing. */
	test_topic_ops()->unread(r, buf, 0);
	test_topic_expect_wait(r);
	assert_int_equal(test_topic_attr(name, "dropped"), 0);
}

/*
 * Past backlog, a slow reader loses its oldest, each counted in dropped;
 * the others lose nothing.
 */
static void test_topic_backlog_drop(void **state)
{
	const char *name = test_topic_make();
	void *w = test_topic_open(name, O_WRONLY);
	void *slow = test_topic_open(name, O_RDONLY);
	void *slow2 = test_topic_open(name, O_RDONLY);
	void *fast = test_topic_open(name, O_RDONLY);
	char msg[16];
	int i;

	assert_int_equal(test_topic_set(name, "backlog", "3\n"), 0);
	assert_int_equal(test_topic_attr(name, "backlog"), 3);
	for (i = 0; i < 10; i++) {
		snprintf(msg, sizeof(msg), "m%d", i);
		test_topic_puts(w, msg);
		test_topic_expect(fast, msg);
		if (i == 1)
			test_topic_expect_n(slow2, 1, "m", 1); /* half of m0 */
	}
	/* slow lost m0..m6 (7), slow2 lost m1..m6 and the rest of m0 (7). */
	assert_int_equal(test_topic_attr(name, "dropped"), 14);
	test_topic_expect(slow, "m7");
	test_topic_expect(slow2, "m7");
	test_topic_expect(slow, "m8");
	test_topic_expect(slow, "m9");
	test_topic_expect_wait(slow);
	test_topic_expect_wait(fast);
	/* Lowering it drops at once. */
	test_topic_puts(w, "a");
	test_topic_puts(w, "b");
	test_topic_puts(w, "c");
	assert_int_equal(test_topic_set(name, "backlog", "1"), 0);
	/* a, b, c made slow2 lose m8, m9 (2); "1" drops a, b for all (6). */
	assert_int_equal(test_topic_attr(name, "dropped"), 22);
	test_topic_expect(slow, "c");
	test_topic_expect(slow2, "c");
	test_topic_expect(fast, "c");
	assert_int_equal(test_topic_attr(name, "published"), 13);
}

/* backlog takes a positive decimal; anything else EINVAL, unchanged. */
static void test_topic_backlog_bad(void **state)
{
	const char *name = test_topic_make();
	const char *bad[] = { "0",
			      "-1",
			      "",
			      "\n",
			      "abc",
			      "1x",
			      " 5",
			      "5 ",
			      "1.5",
			      "0x10",
			      "99999999999999999999" };
	size_t i;

	assert_int_equal(test_topic_set(name, "backlog", "17"), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (test_topic_set(name, "backlog", bad[i]) != -EINVAL)
			fail_msg("backlog \"%s\" was not EINVAL", bad[i]);
		assert_int_equal(test_topic_attr(name, "backlog"), 17);
	}
	assert_int_equal(test_topic_set(name, "backlog", "9223372036854775807"),
			 0);
	assert_int_equal(test_topic_attr(name, "backlog"),
			 9223372036854775807L);
}

/* subscribers: files open for reading now; published: messages since made. */
static void test_topic_counts(void **state)
{
	const char *name = test_topic_make();
	void *w, *r, *rw;

	w = test_topic_open(name, O_WRONLY);
	assert_int_equal(test_topic_attr(name, "subscribers"), 0);
	r = test_topic_open(name, O_RDONLY);
	rw = test_topic_open(name, O_RDWR);
	assert_int_equal(test_topic_attr(name, "subscribers"), 2);
	test_topic_puts(w, "a");
	test_topic_puts(rw, "b");
	assert_int_equal(test_topic_attr(name, "published"), 2);
	test_topic_release(r);
	test_topic_release(rw);
	assert_int_equal(test_topic_attr(name, "subscribers"), 0);
	/* No reader: it goes to nobody, and still counts. */
	test_topic_puts(w, "c");
	assert_int_equal(test_topic_attr(name, "published"), 3);
	assert_int_equal(test_topic_attr(name, "dropped"), 0);
	/* An empty write publishes nothing. */
	assert_int_equal(test_topic_publish(w, "", 0), 0);
	assert_int_equal(test_topic_attr(name, "published"), 3);
}

/* Up to 1 MiB less a page; longer: EMSGSIZE, nothing published. */
static void test_topic_msgsize(void **state)
{
	const char *name = test_topic_make();
	void *w = test_topic_open(name, O_WRONLY);
	void *r = test_topic_open(name, O_RDONLY);

	test_topic_pattern(test_topic_in, TEST_TOPIC_MSG_MAX + 1, 5);
	assert_int_equal(
		test_topic_publish(w, test_topic_in, TEST_TOPIC_MSG_MAX + 1),
		-EMSGSIZE);
	assert_int_equal(test_topic_publish(w, test_topic_in, 1L << 30),
			 -EMSGSIZE);
	assert_int_equal(test_topic_attr(name, "published"), 0);
	test_topic_expect_wait(r);
	test_topic_write(w, test_topic_in, TEST_TOPIC_MSG_MAX);
	test_topic_expect_n(r, sizeof(test_topic_out), test_topic_in,
			    TEST_TOPIC_MSG_MAX);
	assert_int_equal(test_topic_attr(name, "published"), 1);
}

/*
 * The bound: past topic_max_total ENOSPC, nothing published; the memory
 * comes back when every reader has read a message, when it is dropped,
 * when the last reader that had it closes, and when the topic goes.
 */
static void test_topic_nospc(void **state)
{
	const char *name = test_topic_make();
	void *w = test_topic_open(name, O_WRONLY);
	void *r = test_topic_open(name, O_RDONLY);
	void *r2 = test_topic_open(name, O_RDONLY);
	long room, n, i;

	test_topic_pattern(test_topic_in, TEST_TOPIC_CHUNK, 1);
	*test_topic_option("topic_max_total") = 1L << 20;
	room = test_topic_room();
	assert_true(room > 16);
	/* Bring the room down to 10 chunks exactly. */
	*test_topic_option("topic_max_total") -= (room - 10) * TEST_TOPIC_CHUNK;
	assert_int_equal(test_topic_room(), 10);
	assert_int_equal(test_topic_set(name, "backlog", "100"), 0);

	/* A message is stored once, whatever the readers. */
	for (i = 0; i < 10; i++)
		test_topic_write(w, test_topic_in, TEST_TOPIC_CHUNK);
	assert_int_equal(test_topic_publish(w, test_topic_in, TEST_TOPIC_CHUNK),
			 -ENOSPC);
	assert_int_equal(test_topic_publish(w, test_topic_in, 1), -ENOSPC);
	assert_int_equal(test_topic_attr(name, "published"), 10);
	assert_int_equal(test_topic_room(), 0);

	/* Read by one reader only: still held. */
	for (i = 0; i < 3; i++)
		test_topic_expect_n(r, TEST_TOPIC_CHUNK, test_topic_in,
				    TEST_TOPIC_CHUNK);
	assert_int_equal(test_topic_room(), 0);
	/* Read by both: freed. */
	for (i = 0; i < 3; i++)
		test_topic_expect_n(r2, TEST_TOPIC_CHUNK, test_topic_in,
				    TEST_TOPIC_CHUNK);
	assert_int_equal(test_topic_room(), 3);
	/* Dropped: freed. */
	assert_int_equal(test_topic_set(name, "backlog", "5"), 0);
	assert_int_equal(test_topic_attr(name, "dropped"), 4);
	assert_int_equal(test_topic_room(), 5);
	/*
	 * Full again, with backlog reached: what the drop of the oldest
	 * frees counts, and makes room for the next (a small message costs
	 * TEST_TOPIC_MSG_MIN, still less than a chunk).
	 */
	assert_int_equal(test_topic_set(name, "backlog", "10"), 0);
	for (i = 0; i < 5; i++)
		test_topic_write(w, test_topic_in, TEST_TOPIC_CHUNK);
	assert_int_equal(test_topic_room(), 0);
	assert_int_equal(test_topic_attr(name, "dropped"), 4);
	test_topic_write(w, test_topic_in, TEST_TOPIC_CHUNK);
	assert_int_equal(test_topic_attr(name, "dropped"), 6);
	test_topic_write(w, "small", 5);
	assert_int_equal(test_topic_attr(name, "dropped"), 8);
	assert_int_equal(test_topic_room(), 0);
	/* The last reader that had them closes: freed. */
	test_topic_release(r);
	assert_int_equal(test_topic_room(), 0);
	test_topic_release(r2);
	assert_int_equal(test_topic_room(), 10);

	/* A removed topic's messages go when its readers do. */
	r = test_topic_open(name, O_RDONLY);
	for (i = 0; i < 4; i++)
		test_topic_write(w, test_topic_in, TEST_TOPIC_CHUNK);
	assert_int_equal(topic_kind.remove(name), 0);
	assert_int_equal(test_topic_room(), 6);
	test_topic_release(r);
	test_topic_release(w);
	n = test_topic_room();
	assert_int_equal(n, 10);
}

/* Small messages are charged TEST_TOPIC_MSG_MIN bytes: memory stays bounded. */
static void test_topic_small_messages(void **state)
{
	const char *name = test_topic_make();
	void *w = test_topic_open(name, O_WRONLY);
	void *r = test_topic_open(name, O_RDONLY);
	long room, i;

	*test_topic_option("topic_max_total") = 1L << 20;
	room = test_topic_room();
	assert_int_equal(test_topic_set(name, "backlog", "1000000"), 0);
	for (i = 0; test_topic_publish(w, "x", 1) == 1; i++)
		assert_true(i < 1000000);
	assert_int_equal(i, room * TEST_TOPIC_CHUNK / TEST_TOPIC_MSG_MIN);
	test_topic_release(r);
	assert_int_equal(test_topic_room(), room);
}

/* An unread past the bound is kept (not lost), and given back after. */
static void test_topic_unread_nospc(void **state)
{
	const char *name = test_topic_make();
	void *w = test_topic_open(name, O_WRONLY);
	void *r = test_topic_open(name, O_RDONLY);
	void *r2 = test_topic_open(name, O_RDONLY);
	struct ipc_wait wt = { 0 };
	long room, i;

	test_topic_pattern(test_topic_in, TEST_TOPIC_CHUNK, 3);
	*test_topic_option("topic_max_total") = 1L << 20;
	room = test_topic_room();
	assert_int_equal(test_topic_set(name, "backlog", "1000000"), 0);
	test_topic_write(w, test_topic_in, TEST_TOPIC_CHUNK);
	assert_int_equal(test_topic_ops()->read(r, test_topic_out,
						TEST_TOPIC_CHUNK, 0, &wt),
			 TEST_TOPIC_CHUNK);
	for (i = 1; i < room; i++)
		test_topic_write(w, test_topic_in, TEST_TOPIC_CHUNK);
	test_topic_ops()->unread(r, test_topic_out, TEST_TOPIC_CHUNK);
	for (i = 0; i < room; i++)
		test_topic_expect_n(r, TEST_TOPIC_CHUNK, test_topic_in,
				    TEST_TOPIC_CHUNK);
	test_topic_expect_wait(r);
	test_topic_release(r2);
	assert_int_equal(test_topic_room(), room);
	/* Given back and never read again: freed at close. */
	test_topic_write(w, "zz", 2);
	assert_int_equal(test_topic_ops()->read(r, test_topic_out, 16, 0, &wt),
			 2);
	test_topic_ops()->unread(r, test_topic_out, 2);
	test_topic_release(r);
	assert_int_equal(test_topic_room(), room);
}

/* rmdir: readers read what they have, then end-of-file; writers EIDRM. */
static void test_topic_remove_open(void **state)
{
	const char *name = test_topic_make();
	void *w = test_topic_open(name, O_WRONLY);
	void *r = test_topic_open(name, O_RDONLY);
	void *r2 = test_topic_open(name, O_RDONLY);
	void *fh = NULL;

	test_topic_puts(w, "last");
	assert_int_equal(topic_kind.remove(name), 0);
	assert_int_equal(test_topic_publish(w, "more", 4), -EIDRM);
	assert_int_equal(test_topic_poll(r), POLLIN | POLLOUT | POLLHUP);
	test_topic_expect(r, "last");
	test_topic_expect_eof(r);
	test_topic_expect_eof(r);
	assert_int_equal(test_topic_poll(r), POLLIN | POLLOUT | POLLHUP);
	test_topic_expect(r2, "last");
	test_topic_expect_eof(r2);
	/* A removed topic has no name: no more opens. */
	assert_int_equal(test_topic_ops()->open(name, O_RDONLY, &fh), -ENOENT);
}

/* A topic nobody removes: the group teardown's fini must free it. */
static void test_topic_left_for_fini(void **state)
{
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	char name[32];
	void *r = NULL, *w = NULL;

	snprintf(name, sizeof(name), "/ut%ld_tp_fini", (long)getpid());
	assert_int_equal(topic_kind.create(name, 0600, &caller), 0);
	assert_int_equal(test_topic_ops()->open(name, O_RDONLY, &r), 0);
	assert_int_equal(test_topic_ops()->open(name, O_WRONLY, &w), 0);
	test_topic_puts(w, "left");
	test_topic_ops()->release(w);
	test_topic_ops()->release(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define TEST_TOPIC_CASE(fn)                                                    \
	cmocka_unit_test_setup_teardown(fn, test_topic_setup,                  \
					test_topic_teardown)
		TEST_TOPIC_CASE(test_topic_table),
		TEST_TOPIC_CASE(test_topic_create_stat),
		TEST_TOPIC_CASE(test_topic_list_remove),
		TEST_TOPIC_CASE(test_topic_every_reader),
		TEST_TOPIC_CASE(test_topic_late_reader),
		TEST_TOPIC_CASE(test_topic_short_buffer),
		TEST_TOPIC_CASE(test_topic_wait_poll),
		TEST_TOPIC_CASE(test_topic_wakes),
		TEST_TOPIC_CASE(test_topic_unread),
		TEST_TOPIC_CASE(test_topic_backlog_drop),
		TEST_TOPIC_CASE(test_topic_backlog_bad),
		TEST_TOPIC_CASE(test_topic_counts),
		TEST_TOPIC_CASE(test_topic_msgsize),
		TEST_TOPIC_CASE(test_topic_nospc),
		TEST_TOPIC_CASE(test_topic_small_messages),
		TEST_TOPIC_CASE(test_topic_unread_nospc),
		TEST_TOPIC_CASE(test_topic_remove_open),
		/* Last: the topic it leaves is fini's to free. */
		TEST_TOPIC_CASE(test_topic_left_for_fini),
#undef TEST_TOPIC_CASE
	};

	return cmocka_run_group_tests_name("topic", tests,
					   test_topic_group_setup,
					   test_topic_group_teardown);
}

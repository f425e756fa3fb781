// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_channel.c - unit tests of channels/NAME (backends/channel.c), no mount.
 *
 * Each test calls channel_kind's operations directly (create, remove, stat,
 * chmod, chown, list, and the ops and attribute files of its file table).
 * A channel lives only in the daemon, so its state is checked through the
 * kind itself: exact bytes read back in order, the bytes/readers/writers/
 * capacity files, poll, and the wait a blocked operation names. Nothing
 * blocks: where an operation would, it must return -EAGAIN and name the
 * channel's wait queue and the event to await (POLLIN, POLLOUT).
 *
 *   $ ninja -C build && build/tests/test_channel
 *   [==========] 31 test(s) run.
 *
 * Names are /ut<pid>_ch_<n>; the teardown releases every handle a test
 * opened, removes every channel it named and restores the mount options
 * (chan_capacity, chan_max_total) whatever the test did. The mount-wide
 * reserve is global and a bug can leave it off, so the tests of it first
 * measure what is free (test_channel_free_exactly) rather than trust that
 * earlier tests left nothing reserved; small rings are made through
 * -o chan_capacity, not by resizing.
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

extern const struct ipc_kind channel_kind;

#define TEST_CHANNEL_NAMES 8
#define TEST_CHANNEL_HANDLES 8
/* PIPE_BUF: the smallest capacity, and the largest write never split */
#define TEST_CHANNEL_ATOMIC 4096
/* -o chan_capacity's default */
#define TEST_CHANNEL_DEFAULT 65536
#define TEST_CHANNEL_PROBE_MAX (4L << 20) /* measuring the reserve */

/* What a test made, so that its teardown can undo it if an assertion fails. */
struct test_channel_fixture {
	char names[TEST_CHANNEL_NAMES][32];
	int nnames;
	void *handles[TEST_CHANNEL_HANDLES];
};

static struct test_channel_fixture test_channel_fix;
static unsigned int test_channel_seq;
static long test_channel_saved_capacity, test_channel_saved_max_total;

/* Room for the largest transfer a test makes. */
static char test_channel_in[16384], test_channel_out[16384];

/* A mount option of channel_kind's, by name. */
static long *test_channel_option(const char *name)
{
	const struct ipc_option *o;

	for (o = channel_kind.options; o->name; o++)
		if (strcmp(o->name, name) == 0)
			return o->value;
	fail_msg("channel_kind has no option %s", name);
	return NULL;
}

/* A file of a channel's directory, by name. */
static const struct ipc_file *test_channel_file(const char *name)
{
	const struct ipc_file *f;

	for (f = channel_kind.files; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	fail_msg("channel_kind has no file %s", name);
	return NULL;
}

static const struct ipc_stream_ops *test_channel_ops(void)
{
	const struct ipc_stream_ops *ops = test_channel_file("data")->ops;

	assert_non_null(ops);
	return ops;
}

/* A fresh name, removed by the teardown. */
static const char *test_channel_name(void)
{
	struct test_channel_fixture *f = &test_channel_fix;
	char *name;

	assert_true(f->nnames < TEST_CHANNEL_NAMES);
	name = f->names[f->nnames++];
	snprintf(name, sizeof(f->names[0]), "/ut%ld_ch_%u", (long)getpid(),
		 test_channel_seq++);
	return name;
}

static long test_channel_attr(const char *name, const char *file);

/* A fresh channel of the configured capacity, owned by us. */
static const char *test_channel_make(void)
{
	const char *name = test_channel_name();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };

	assert_int_equal(channel_kind.create(name, 0600, &caller), 0);
	return name;
}

/*
 * A fresh channel of CAP bytes, made so through -o chan_capacity rather than
 * by resizing: a resize upsets the mount-wide reserve (see
 * test_channel_capacity_reserve), which the tests that need a small ring
 * should neither depend on nor disturb.
 */
static const char *test_channel_make_cap(long cap)
{
	long *opt = test_channel_option("chan_capacity");
	long saved = *opt;
	const char *name;

	*opt = cap;
	name = test_channel_make();
	*opt = saved;
	assert_int_equal(test_channel_attr(name, "capacity"), cap);
	return name;
}

/* Open data of channel NAME with FLAGS; released by the teardown. */
static void *test_channel_open(const char *name, int flags)
{
	struct test_channel_fixture *f = &test_channel_fix;
	void *fh = NULL;
	int i;

	for (i = 0; i < TEST_CHANNEL_HANDLES && f->handles[i]; i++)
		;
	assert_true(i < TEST_CHANNEL_HANDLES);
	assert_int_equal(test_channel_ops()->open(name, flags, &fh), 0);
	assert_non_null(fh);
	f->handles[i] = fh;
	return fh;
}

static void test_channel_release(void *fh)
{
	struct test_channel_fixture *f = &test_channel_fix;
	int i;

	for (i = 0; i < TEST_CHANNEL_HANDLES; i++) {
		if (f->handles[i] == fh) {
			test_channel_ops()->release(fh);
			f->handles[i] = NULL;
			return;
		}
	}
	fail_msg("releasing a handle the test did not open");
}

/* The number attribute FILE of channel NAME holds, checked to be "N\n". */
static long test_channel_attr(const char *name, const char *file)
{
	const struct ipc_file *f = test_channel_file(file);
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

/* Write STR (no NUL) to attribute FILE of channel NAME: set's result. */
static int test_channel_set(const char *name, const char *file, const char *str)
{
	const struct ipc_file *f = test_channel_file(file);

	assert_non_null(f->set);
	return f->set(name, str, strlen(str), NULL);
}

/* The whole of a write of LEN bytes must go in, and nothing wait. */
static void test_channel_write(void *fh, const char *buf, size_t len)
{
	struct ipc_wait w = { 0 };

	assert_int_equal(test_channel_ops()->write(fh, buf, len, 0, &w), len);
	assert_null(w.wq);
}

/* A read of LEN bytes must return exactly BUF. */
static void test_channel_expect(void *fh, const char *buf, size_t len)
{
	struct ipc_wait w = { 0 };
	ssize_t n;

	assert_true(len <= sizeof(test_channel_out));
	n = test_channel_ops()->read(fh, test_channel_out, len, 0, &w);
	if (n < 0)
		fail_msg("read: %s", strerror(-n));
	assert_int_equal(n, len);
	assert_memory_equal(test_channel_out, buf, len);
	assert_null(w.wq);
}

/* A read of FH must return end-of-file. */
static void test_channel_expect_eof(void *fh)
{
	struct ipc_wait w = { 0 };
	char buf[16];

	assert_int_equal(test_channel_ops()->read(fh, buf, sizeof(buf), 0, &w),
			 0);
	assert_null(w.wq);
}

static unsigned int test_channel_poll(void *fh)
{
	struct ipc_waitq *wq = NULL;
	unsigned int ev = test_channel_ops()->poll(fh, &wq);

	assert_non_null(wq);
	return ev;
}

/* W names the wait queue FH's poll names, and EVENTS. */
static void test_channel_assert_wait(void *fh, const struct ipc_wait *w,
				     unsigned int events)
{
	struct ipc_waitq *wq = NULL;

	assert_non_null(w->wq);
	assert_int_equal(w->events, events);
	test_channel_ops()->poll(fh, &wq);
	assert_ptr_equal(w->wq, wq);
}

/* A read of FH must wait for bytes (POLLIN), taking nothing. */
static void test_channel_expect_wait(void *fh)
{
	struct ipc_wait w = { 0 };
	char buf[16];

	assert_int_equal(test_channel_ops()->read(fh, buf, sizeof(buf), 0, &w),
			 -EAGAIN);
	test_channel_assert_wait(fh, &w, POLLIN);
}

/* LEN bytes no two neighbouring chunks of 100 share, different per SEED. */
static void test_channel_pattern(char *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (char)(i * 7 + i / 100 + seed * 31);
}

/*
 * How many bytes of the mount-wide reserve are free now, to the byte: the
 * largest channel mkdir can make (up to twice chan_max_total, so that a
 * reserve that counts too little shows). Each probe is made and removed
 * whole, never resized, so probing leaves the reserve as it found it even
 * if resizing or unread do not. mkdir's ENOSPC complaints are silenced.
 */
static long test_channel_reserve_free(void)
{
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	long *capacity = test_channel_option("chan_capacity");
	long saved = *capacity, lo = 0, hi, mid;
	const char *probe = test_channel_name();
	int ret = 0, err, null;

	hi = 2 * *test_channel_option("chan_max_total") + 1;
	fflush(stderr);
	err = dup(STDERR_FILENO);
	null = open("/dev/null", O_WRONLY);
	assert_true(err >= 0 && null >= 0);
	dup2(null, STDERR_FILENO);
	close(null);
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		*capacity = mid;
		ret = channel_kind.create(probe, 0600, &caller);
		if (ret == 0) {
			lo = mid;
			ret = channel_kind.remove(probe);
		} else if (ret == -ENOSPC) {
			hi = mid;
			ret = 0;
		}
		if (ret < 0)
			break;
	}
	fflush(stderr);
	dup2(err, STDERR_FILENO);
	close(err);
	*capacity = saved;
	if (ret < 0)
		fail_msg("probing the reserve: %s", strerror(-ret));
	return lo;
}

/*
 * Set chan_max_total so that exactly BYTES of the reserve are free now,
 * whatever earlier tests (or bugs) left reserved.
 */
static void test_channel_free_exactly(long bytes)
{
	long *max_total = test_channel_option("chan_max_total");
	long reserved;

	*max_total = TEST_CHANNEL_PROBE_MAX;
	reserved = *max_total - test_channel_reserve_free();
	if (reserved >= *max_total)
		fail_msg("more than %ld bytes are reserved already",
			 *max_total);
	*max_total = reserved + bytes;
}

static int test_channel_group_setup(void **state)
{
	test_channel_saved_capacity = *test_channel_option("chan_capacity");
	test_channel_saved_max_total = *test_channel_option("chan_max_total");
	return channel_kind.init();
}

static int test_channel_group_teardown(void **state)
{
	channel_kind.fini();
	*test_channel_option("chan_capacity") = test_channel_saved_capacity;
	*test_channel_option("chan_max_total") = test_channel_saved_max_total;
	return 0;
}

static int test_channel_setup(void **state)
{
	memset(&test_channel_fix, 0, sizeof(test_channel_fix));
	return 0;
}

static int test_channel_teardown(void **state)
{
	struct test_channel_fixture *f = &test_channel_fix;
	int i;

	for (i = 0; i < TEST_CHANNEL_HANDLES; i++)
		if (f->handles[i])
			test_channel_ops()->release(f->handles[i]);
	for (i = 0; i < f->nnames; i++)
		channel_kind.remove(f->names[i]);
	memset(f, 0, sizeof(*f));
	*test_channel_option("chan_capacity") = test_channel_saved_capacity;
	*test_channel_option("chan_max_total") = test_channel_saved_max_total;
	return 0;
}

/* The table names the files DESIGN.md lists, with their modes. */
static void test_channel_table(void **state)
{
	const struct ipc_file *data = test_channel_file("data");

	assert_string_equal(channel_kind.name, "channels");
	assert_non_null(data->ops);
	assert_int_equal(data->mode, 0666);
	assert_true(data->ops->flags & IPC_STREAM);
	assert_true(data->ops->flags & IPC_OWN_INODE);
	assert_int_equal(test_channel_file("capacity")->mode, 0666);
	assert_non_null(test_channel_file("capacity")->set);
	assert_int_equal(test_channel_file("bytes")->mode, 0444);
	assert_null(test_channel_file("bytes")->set);
	assert_int_equal(test_channel_file("readers")->mode, 0444);
	assert_int_equal(test_channel_file("writers")->mode, 0444);
	assert_int_equal(test_channel_file("eof")->mode, 0666);
}

/* create: a new empty channel of the default capacity; EEXIST after. */
static void test_channel_create(void **state)
{
	const char *name = test_channel_name();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };

	assert_int_equal(channel_kind.create(name, 0600, &caller), 0);
	assert_int_equal(test_channel_attr(name, "capacity"),
			 TEST_CHANNEL_DEFAULT);
	assert_int_equal(test_channel_attr(name, "bytes"), 0);
	assert_int_equal(test_channel_attr(name, "readers"), 0);
	assert_int_equal(test_channel_attr(name, "writers"), 0);
	assert_int_equal(channel_kind.create(name, 0600, &caller), -EEXIST);
	assert_int_equal(channel_kind.create(name, 0644, &caller), -EEXIST);

	/* -o chan_capacity is what a new channel buffers. */
	*test_channel_option("chan_capacity") = 3 * TEST_CHANNEL_ATOMIC;
	name = test_channel_make();
	assert_int_equal(test_channel_attr(name, "capacity"),
			 3 * TEST_CHANNEL_ATOMIC);
}

/* Nothing answers for a channel that does not exist. */
static void test_channel_missing(void **state)
{
	const char *name = test_channel_name();
	const char *names[] = { "capacity", "bytes", "readers", "writers" };
	char buf[32];
	struct stat st;
	void *fh = NULL;
	size_t i;

	assert_int_equal(channel_kind.stat(name, &st), -ENOENT);
	assert_int_equal(channel_kind.chmod(name, 0600), -ENOENT);
	assert_int_equal(channel_kind.chown(name, 0, 0), -ENOENT);
	assert_int_equal(channel_kind.remove(name), -ENOENT);
	assert_int_equal(test_channel_ops()->open(name, O_RDWR, &fh), -ENOENT);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_int_equal(test_channel_file(names[i])->get(
					 name, test_channel_file(names[i])->arg,
					 buf, sizeof(buf)),
				 -ENOENT);
	assert_int_equal(test_channel_set(name, "capacity", "8192"), -ENOENT);
}

static void test_channel_remove(void **state)
{
	const char *name = test_channel_make();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	struct stat st;

	assert_int_equal(channel_kind.remove(name), 0);
	assert_int_equal(channel_kind.stat(name, &st), -ENOENT);
	assert_int_equal(channel_kind.remove(name), -ENOENT);
	/* The name is free again, for a new empty channel. */
	assert_int_equal(channel_kind.create(name, 0600, &caller), 0);
	assert_int_equal(test_channel_attr(name, "bytes"), 0);
}

struct test_channel_seen {
	const char *want[2];
	int found[2];
	int calls;
	int stop; /* what fill returns */
};

static int test_channel_fill(void *ctx, const char *name)
{
	struct test_channel_seen *s = ctx;
	int i;

	s->calls++;
	for (i = 0; i < 2; i++)
		if (strcmp(name, s->want[i]) == 0)
			s->found[i]++;
	return s->stop;
}

/* list: every channel once, by its full POSIX name; fill can stop it. */
static void test_channel_list(void **state)
{
	struct test_channel_seen seen = { 0 };

	seen.want[0] = test_channel_make();
	seen.want[1] = test_channel_make();
	assert_int_equal(channel_kind.list(test_channel_fill, &seen), 0);
	assert_int_equal(seen.found[0], 1);
	assert_int_equal(seen.found[1], 1);

	seen.found[0] = seen.found[1] = seen.calls = 0;
	seen.stop = 42;
	assert_int_equal(channel_kind.list(test_channel_fill, &seen), 42);
	assert_int_equal(seen.calls, 1);

	assert_int_equal(channel_kind.remove(seen.want[0]), 0);
	seen.found[0] = seen.found[1] = seen.calls = 0;
	seen.stop = 0;
	assert_int_equal(channel_kind.list(test_channel_fill, &seen), 0);
	assert_int_equal(seen.found[0], 0);
	assert_int_equal(seen.found[1], 1);
}

/* stat: the mode mkdir asked for, owned by mkdir's caller. */
static void test_channel_stat(void **state)
{
	const char *name = test_channel_name();
	struct ipc_caller caller = { .uid = 1234, .gid = 5678 };
	struct stat st;

	assert_int_equal(channel_kind.create(name, 0640, &caller), 0);
	memset(&st, 0, sizeof(st));
	assert_int_equal(channel_kind.stat(name, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	assert_true(st.st_ctim.tv_sec > 0);
	assert_true(st.st_mtim.tv_sec > 0);
	assert_true(st.st_atim.tv_sec > 0);

	/* Only permission bits are kept from mkdir's mode. */
	name = test_channel_name();
	assert_int_equal(channel_kind.create(name, S_IFDIR | 0750, &caller), 0);
	assert_int_equal(channel_kind.stat(name, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
}

static void test_channel_chmod_chown(void **state)
{
	const char *name = test_channel_name();
	struct ipc_caller caller = { .uid = 1234, .gid = 5678 };
	struct stat st;

	assert_int_equal(channel_kind.create(name, 0600, &caller), 0);
	assert_int_equal(channel_kind.chmod(name, 0604), 0);
	assert_int_equal(channel_kind.stat(name, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0604);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);

	/* -1 leaves that id as it is, as chown(2). */
	assert_int_equal(channel_kind.chown(name, 4321, (gid_t)-1), 0);
	assert_int_equal(channel_kind.stat(name, &st), 0);
	assert_int_equal(st.st_uid, 4321);
	assert_int_equal(st.st_gid, 5678);
	assert_int_equal(channel_kind.chown(name, (uid_t)-1, 8765), 0);
	assert_int_equal(channel_kind.stat(name, &st), 0);
	assert_int_equal(st.st_uid, 4321);
	assert_int_equal(st.st_gid, 8765);
	assert_int_equal(channel_kind.chown(name, 0, 0), 0);
	assert_int_equal(channel_kind.stat(name, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, 0);
	assert_int_equal(st.st_mode & 07777, 0604);
}

/* readers, writers: open descriptions of data by access mode; bytes. */
static void test_channel_counts(void **state)
{
	const char *name = test_channel_make();
	void *r, *w, *rw, *wn;

	r = test_channel_open(name, O_RDONLY);
	assert_int_equal(test_channel_attr(name, "readers"), 1);
	assert_int_equal(test_channel_attr(name, "writers"), 0);
	w = test_channel_open(name, O_WRONLY);
	assert_int_equal(test_channel_attr(name, "readers"), 1);
	assert_int_equal(test_channel_attr(name, "writers"), 1);
	rw = test_channel_open(name, O_RDWR);
	assert_int_equal(test_channel_attr(name, "readers"), 2);
	assert_int_equal(test_channel_attr(name, "writers"), 2);
	/* Flags other than the access mode count for nothing. */
	wn = test_channel_open(name, O_WRONLY | O_NONBLOCK | O_APPEND);
	assert_int_equal(test_channel_attr(name, "readers"), 2);
	assert_int_equal(test_channel_attr(name, "writers"), 3);

	assert_int_equal(test_channel_attr(name, "bytes"), 0);
	test_channel_write(w, "hello", 5);
	assert_int_equal(test_channel_attr(name, "bytes"), 5);
	test_channel_write(rw, "!", 1);
	assert_int_equal(test_channel_attr(name, "bytes"), 6);
	test_channel_expect(r, "he", 2);
	assert_int_equal(test_channel_attr(name, "bytes"), 4);

	test_channel_release(wn);
	assert_int_equal(test_channel_attr(name, "writers"), 2);
	test_channel_release(rw);
	assert_int_equal(test_channel_attr(name, "readers"), 1);
	assert_int_equal(test_channel_attr(name, "writers"), 1);
	test_channel_release(r);
	assert_int_equal(test_channel_attr(name, "readers"), 0);
	assert_int_equal(test_channel_attr(name, "writers"), 1);
	test_channel_release(w);
	assert_int_equal(test_channel_attr(name, "readers"), 0);
	assert_int_equal(test_channel_attr(name, "writers"), 0);
	/* Bytes outlive every handle. */
	assert_int_equal(test_channel_attr(name, "bytes"), 4);
}

/* read: what is buffered, up to the request, never waiting to fill it. */
static void test_channel_read_partial(void **state)
{
	const char *name = test_channel_make();
	void *w = test_channel_open(name, O_WRONLY);
	void *r = test_channel_open(name, O_RDONLY);
	void *r2 = test_channel_open(name, O_RDONLY);
	struct ipc_wait wt = { 0 };
	char buf[100];

	test_channel_write(w, "hello world", 11);
	assert_int_equal(test_channel_ops()->read(r, buf, sizeof(buf), 0, &wt),
			 11);
	assert_memory_equal(buf, "hello world", 11);
	assert_null(wt.wq);
	assert_int_equal(test_channel_attr(name, "bytes"), 0);

	/* Several writes read as one stream; readers compete for bytes. */
	test_channel_write(w, "abc", 3);
	test_channel_write(w, "\0de\n", 4);
	test_channel_expect(r, "ab", 2);
	assert_int_equal(test_channel_ops()->read(r2, buf, sizeof(buf), 0, &wt),
			 5);
	assert_memory_equal(buf, "c\0de\n", 5);
	test_channel_expect_wait(r);
	test_channel_expect_wait(r2);

	/*
	 * `echo x > data` truncates first: no truncate op, which fs/ takes
	 * for success doing nothing (ipc.h).
	 */
	assert_null(test_channel_ops()->truncate);
}

/* The ring wraps: bytes come out exactly, in order, across the end. */
static void test_channel_wrap(void **state)
{
	const char *name = test_channel_make_cap(4096);
	void *w = test_channel_open(name, O_WRONLY);
	void *r = test_channel_open(name, O_RDONLY);
	char *a = test_channel_in, *b = test_channel_in + 3000;
	struct ipc_wait wt = { 0 };

	test_channel_pattern(a, 3000, 1);
	test_channel_pattern(b, 3000, 2);

	test_channel_write(w, a, 3000);
	test_channel_expect(r, a, 2000);
	/* 1096 bytes up to the end of the ring, 1904 from its start. */
	test_channel_write(w, b, 3000);
	assert_int_equal(test_channel_attr(name, "bytes"), 4000);
	assert_int_equal(test_channel_ops()->read(r, test_channel_out,
						  sizeof(test_channel_out), 0,
						  &wt),
			 4000);
	assert_memory_equal(test_channel_out, a + 2000, 4000);
	assert_null(wt.wq);
	assert_int_equal(test_channel_attr(name, "bytes"), 0);
	test_channel_expect_wait(r);

	/* Again, the head now past the end: many laps stay in order. */
	test_channel_write(w, a, 3000);
	test_channel_expect(r, a, 1500);
	test_channel_write(w, b, 2500);
	test_channel_expect(r, a + 1500, 1500);
	test_channel_expect(r, b, 2500);
	assert_int_equal(test_channel_attr(name, "bytes"), 0);
}

/*
 * peek points at what a read would return, across the ring's end in two
 * pieces, and takes nothing; take takes that many; peek on an empty one
 * waits (POLLIN) without holding the lock, at the end returns 0.
 */
static void test_channel_peek_take(void **state)
{
	const struct ipc_stream_ops *ops = test_channel_ops();
	const char *name = test_channel_make_cap(4096);
	void *w = test_channel_open(name, O_WRONLY);
	void *r = test_channel_open(name, O_RDONLY);
	char *a = test_channel_in, *b = test_channel_in + 3000;
	struct ipc_wait wt = { 0 };
	struct iovec iov[2];
	int niov = 0;

	test_channel_pattern(a, 3000, 1);
	test_channel_pattern(b, 3000, 2);
	test_channel_write(w, a, 3000);
	test_channel_expect(r, a, 2000);
	test_channel_write(w, b, 3000); /* 1096 to the end, 1904 from 0 */

	assert_int_equal(ops->peek(r, 65536, 0, iov, &niov, &wt), 4000);
	assert_int_equal(niov, 2);
	assert_int_equal(iov[0].iov_len + iov[1].iov_len, 4000);
	assert_memory_equal(iov[0].iov_base, a + 2000, 1000);
	assert_memory_equal(iov[0].iov_base + 1000, b, iov[0].iov_len - 1000);
	assert_memory_equal(iov[1].iov_base, b + iov[0].iov_len - 1000,
			    iov[1].iov_len);
	ops->take(r, 0); /* the reply could not go out */
	assert_int_equal(test_channel_attr(name, "bytes"), 4000);

	assert_int_equal(ops->peek(r, 1500, 0, iov, &niov, &wt), 1500);
	assert_int_equal(niov, 1);
	ops->take(r, 1500);
	assert_int_equal(test_channel_attr(name, "bytes"), 2500);
	test_channel_expect(r, b + 500, 2500); /* a's 1000, b's first 500 */
	assert_null(wt.wq);

	assert_int_equal(ops->peek(r, 65536, 0, iov, &niov, &wt), -EAGAIN);
	test_channel_assert_wait(r, &wt, POLLIN);
	/* The lock is not held: a write goes in. */
	test_channel_write(w, "x", 1);
	test_channel_release(w);
	assert_int_equal(ops->peek(r, 65536, 0, iov, &niov, &wt), 1);
	ops->take(r, 1);
	assert_int_equal(ops->peek(r, 65536, 0, iov, &niov, &wt), 0);
	ops->take(r, 0);
	test_channel_release(r);
}

/* A write of at most 4096 bytes goes in whole or waits (POLLOUT) whole. */
static void test_channel_write_atomic(void **state)
{
	const char *name = test_channel_make_cap(4096);
	void *w = test_channel_open(name, O_WRONLY);
	void *r = test_channel_open(name, O_RDONLY);
	char *a = test_channel_in, *b = test_channel_in + 3000;
	struct ipc_wait wt = { 0 };

	test_channel_pattern(a, 3000, 3);
	test_channel_pattern(b, 4096, 4);

	test_channel_write(w, a, 3000);
	assert_int_equal(test_channel_ops()->write(w, b, 2000, 0, &wt),
			 -EAGAIN);
	test_channel_assert_wait(w, &wt, POLLOUT);
	assert_int_equal(test_channel_attr(name, "bytes"), 3000);
	/* ATOMIC bytes with one byte of room short: nothing goes in either. */
	test_channel_expect(r, a, 1);
	wt = (struct ipc_wait){ 0 };
	assert_int_equal(test_channel_ops()->write(w, b, 4096, 0, &wt),
			 -EAGAIN);
	test_channel_assert_wait(w, &wt, POLLOUT);
	assert_int_equal(test_channel_attr(name, "bytes"), 2999);
	/* What fits exactly goes in. */
	test_channel_write(w, b, 1097);
	assert_int_equal(test_channel_attr(name, "bytes"), 4096);
	wt = (struct ipc_wait){ 0 };
	assert_int_equal(test_channel_ops()->write(w, "z", 1, 0, &wt), -EAGAIN);
	test_channel_assert_wait(w, &wt, POLLOUT);

	test_channel_expect(r, a + 1, 2999);
	test_channel_expect(r, b, 1097);
	/* The retry the fs layer makes once there is room goes through. */
	test_channel_write(w, b, 4096);
	test_channel_expect(r, b, 4096);
}

/* A write of more than 4096 bytes takes what fits and waits for the rest. */
static void test_channel_write_large(void **state)
{
	const char *name = test_channel_make_cap(4096);
	void *w = test_channel_open(name, O_WRONLY);
	void *r = test_channel_open(name, O_RDONLY);
	char *a = test_channel_in, *b = test_channel_in + 3000;
	struct ipc_wait wt = { 0 };

	test_channel_pattern(a, 3000, 5);
	test_channel_pattern(b, 9000, 6);

	test_channel_write(w, a, 3000);
	assert_int_equal(test_channel_ops()->write(w, b, 5000, 0, &wt), 1096);
	test_channel_assert_wait(w, &wt, POLLOUT);
	assert_int_equal(test_channel_attr(name, "bytes"), 4096);
	/* Full: nothing fits, whatever the size. */
	wt = (struct ipc_wait){ 0 };
	assert_int_equal(test_channel_ops()->write(w, b + 1096, 3904, 0, &wt),
			 -EAGAIN);
	test_channel_assert_wait(w, &wt, POLLOUT);
	wt = (struct ipc_wait){ 0 };
	assert_int_equal(test_channel_ops()->write(w, b + 1096, 7904, 0, &wt),
			 -EAGAIN);
	test_channel_assert_wait(w, &wt, POLLOUT);

	/* 3000 bytes of room: the small write still waits, the large fills it. */
	test_channel_expect(r, a, 3000);
	wt = (struct ipc_wait){ 0 };
	assert_int_equal(test_channel_ops()->write(w, b + 1096, 3904, 0, &wt),
			 -EAGAIN);
	test_channel_assert_wait(w, &wt, POLLOUT);
	assert_int_equal(test_channel_attr(name, "bytes"), 1096);
	wt = (struct ipc_wait){ 0 };
	assert_int_equal(test_channel_ops()->write(w, b + 1096, 7904, 0, &wt),
			 3000);
	test_channel_assert_wait(w, &wt, POLLOUT);
	assert_int_equal(test_channel_attr(name, "bytes"), 4096);

	/* The retries after each read carry on where the last one stopped. */
	test_channel_expect(r, b, 4096);
	wt = (struct ipc_wait){ 0 };
	assert_int_equal(test_channel_ops()->write(w, b + 4096, 4904, 0, &wt),
			 4096);
	test_channel_expect(r, b + 4096, 4096);
	test_channel_write(w, b + 8192, 808);
	test_channel_expect(r, b + 8192, 808);
	assert_int_equal(test_channel_attr(name, "bytes"), 0);
}

/*
 * A write that would not block returns at once, and one of nothing is
 * nothing (write(2) of 0 bytes on a pipe returns 0, even when it is full).
 *
 * KNOWN BUG in backends/channel.c, this test fails until it is fixed:
 * channel_write() answers a write of 0 bytes with -EAGAIN ("n ? n :
 * -EAGAIN") and fills no struct ipc_wait, against ipc.h's contract (an op
 * that would block names the wait queue); fs/ would park it on a NULL
 * queue. FUSE does not send empty writes today, so it is latent. Fails at
 * the first "assert_int_equal(...write(w, "", 0, 0, &wt), 0)" with
 * 0xfffffffffffffff5 (-EAGAIN) != 0.
 */
static void test_channel_write_empty(void **state)
{
	const char *name = test_channel_make_cap(4096);
	void *w = test_channel_open(name, O_WRONLY);
	struct ipc_wait wt = { 0 };

	assert_int_equal(test_channel_ops()->write(w, "", 0, 0, &wt), 0);
	assert_null(wt.wq);
	memset(test_channel_in, 'f', 4096);
	test_channel_write(w, test_channel_in, 4096);
	assert_int_equal(test_channel_ops()->write(w, "", 0, 0, &wt), 0);
	assert_int_equal(test_channel_attr(name, "bytes"), 4096);
}

/* capacity: a whole number, at least 4096, never below what is buffered. */
static void test_channel_capacity(void **state)
{
	const char *name = test_channel_make();
	void *w = test_channel_open(name, O_WRONLY);
	void *r = test_channel_open(name, O_RDONLY);
	const char *bad[] = { "",
			      "\n",
			      "abc",
			      "4096x",
			      " 4096",
			      "+4096",
			      "4095",
			      "0",
			      "-4096",
			      "40 96",
			      "99999999999999999999999" };
	char *a = test_channel_in;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = test_channel_set(name, "capacity", bad[i]);

		if (ret != -EINVAL && ret != -ERANGE)
			fail_msg("capacity \"%s\": %d, not -EINVAL", bad[i],
				 ret);
		assert_int_equal(test_channel_attr(name, "capacity"),
				 TEST_CHANNEL_DEFAULT);
	}
	assert_int_equal(test_channel_set(name, "capacity", "4095"), -EINVAL);
	assert_int_equal(test_channel_set(name, "capacity", ""), -EINVAL);
	assert_int_equal(test_channel_set(name, "capacity", "4096\n"), 0);
	assert_int_equal(test_channel_attr(name, "capacity"), 4096);
	assert_int_equal(test_channel_set(name, "capacity", "10000"), 0);
	assert_int_equal(test_channel_attr(name, "capacity"), 10000);

	/* Resizing keeps the bytes, in order, even wrapped round the end. */
	test_channel_pattern(a, 16384, 7);
	test_channel_write(w, a, 4000);
	test_channel_expect(r, a, 4000);
	test_channel_write(w, a, 4096);
	test_channel_write(w, a + 4096, 4000); /* wraps at 10000 */
	assert_int_equal(test_channel_set(name, "capacity", "8096"), 0);
	assert_int_equal(test_channel_attr(name, "bytes"), 8096);

	/* Never below what is buffered: EBUSY, and nothing changes. */
	assert_int_equal(test_channel_set(name, "capacity", "8095"), -EBUSY);
	assert_int_equal(test_channel_set(name, "capacity", "4096"), -EBUSY);
	assert_int_equal(test_channel_attr(name, "capacity"), 8096);
	assert_int_equal(test_channel_attr(name, "bytes"), 8096);
	test_channel_expect(r, a, 5000);
	assert_int_equal(test_channel_set(name, "capacity", "4096"), 0);
	assert_int_equal(test_channel_attr(name, "capacity"), 4096);
	test_channel_expect(r, a + 5000, 3096);
	assert_int_equal(test_channel_attr(name, "bytes"), 0);

	/* Above the mount-wide cap: ENOSPC, and nothing changes. */
	*test_channel_option("chan_max_total") = 32 * TEST_CHANNEL_ATOMIC;
	assert_int_equal(test_channel_set(name, "capacity", "131073"), -ENOSPC);
	assert_int_equal(test_channel_set(name, "capacity", "1099511627776"),
			 -ENOSPC);
	assert_int_equal(test_channel_attr(name, "capacity"), 4096);
}

/*
 * The cap is shared: what other channels reserve is not available to a
 * resize, and what a resize gives up is.
 *
 * KNOWN BUG in backends/channel.c, this test fails until it is fixed:
 * channel_capacity_set() updates the reserve with "channel_reserved -
 * ch->cap + cap" after channel_ring_resize() has already set ch->cap = cap,
 * so the reserve never changes on a resize. Shrinking leaks what it gave up
 * (for good: rmdir then subtracts the smaller capacity, and mkdir fails
 * with ENOSPC forever after enough of them); growing reserves nothing, so
 * channels can hold any multiple of chan_max_total. Fails at the first
 * "assert_int_equal(test_channel_set(a, "capacity", "126976"), 0)" with
 * 0xffffffffffffffe4 (-ENOSPC) != 0.
 */
static void test_channel_capacity_reserve(void **state)
{
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	const char *a, *b, *c;

	test_channel_free_exactly(2 * TEST_CHANNEL_DEFAULT);
	a = test_channel_make();
	b = test_channel_make();
	assert_int_equal(test_channel_set(a, "capacity", "65537"), -ENOSPC);
	assert_int_equal(test_channel_attr(a, "capacity"),
			 TEST_CHANNEL_DEFAULT);
	assert_int_equal(test_channel_set(b, "capacity", "4096"), 0);
	assert_int_equal(test_channel_set(a, "capacity", "126977"), -ENOSPC);
	assert_int_equal(test_channel_attr(a, "capacity"),
			 TEST_CHANNEL_DEFAULT);
	assert_int_equal(test_channel_set(a, "capacity", "126976"), 0);
	assert_int_equal(test_channel_attr(a, "capacity"), 126976);

	/* Grown, A holds what is left: not one channel more fits. */
	*test_channel_option("chan_capacity") = TEST_CHANNEL_ATOMIC;
	c = test_channel_name();
	assert_int_equal(channel_kind.create(c, 0600, &caller), -ENOSPC);
	/* Shrinking gives the reserve back, to B and to mkdir. */
	assert_int_equal(test_channel_set(a, "capacity", "4096"), 0);
	assert_int_equal(test_channel_set(b, "capacity", "126976"), 0);
	assert_int_equal(test_channel_set(b, "capacity", "4096"), 0);
	assert_int_equal(channel_kind.create(c, 0600, &caller), 0);
	assert_int_equal(channel_kind.remove(a), 0);
	assert_int_equal(channel_kind.remove(b), 0);
	assert_int_equal(channel_kind.remove(c), 0);
	assert_int_equal(test_channel_reserve_free(), 2 * TEST_CHANNEL_DEFAULT);
}

/* mkdir beyond the mount-wide cap: ENOSPC, nothing made; rmdir frees it. */
static void test_channel_create_nospc(void **state)
{
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	struct test_channel_seen seen = { 0 };
	const char *a, *c;
	struct stat st;

	test_channel_free_exactly(2 * TEST_CHANNEL_DEFAULT);
	a = test_channel_make();
	test_channel_make();
	c = test_channel_name();
	assert_int_equal(channel_kind.create(c, 0600, &caller), -ENOSPC);
	assert_int_equal(channel_kind.stat(c, &st), -ENOENT);
	seen.want[0] = c;
	seen.want[1] = a;
	assert_int_equal(channel_kind.list(test_channel_fill, &seen), 0);
	assert_int_equal(seen.found[0], 0);
	assert_int_equal(seen.found[1], 1);

	assert_int_equal(channel_kind.remove(a), 0);
	assert_int_equal(channel_kind.create(c, 0600, &caller), 0);
	/* To the byte: a channel one byte bigger than what is left does not fit. */
	assert_int_equal(channel_kind.remove(c), 0);
	*test_channel_option("chan_capacity") = TEST_CHANNEL_DEFAULT + 1;
	assert_int_equal(channel_kind.create(c, 0600, &caller), -ENOSPC);
}

/* init refuses options under which no channel could be made. */
static void test_channel_init_options(void **state)
{
	*test_channel_option("chan_capacity") = 2 * TEST_CHANNEL_DEFAULT;
	*test_channel_option("chan_max_total") = TEST_CHANNEL_DEFAULT;
	assert_int_equal(channel_kind.init(), -EINVAL);
	*test_channel_option("chan_max_total") = 2 * TEST_CHANNEL_DEFAULT;
	assert_int_equal(channel_kind.init(), 0);
}

/* A reader that came first waits for a writer, then sees its end. */
static void test_channel_eof_idle(void **state)
{
	const char *name = test_channel_make();
	void *r = test_channel_open(name, O_RDONLY);
	void *w;

	test_channel_expect_wait(r);
	assert_false(test_channel_poll(r) & POLLIN);
	w = test_channel_open(name, O_WRONLY);
	test_channel_expect_wait(r);
	test_channel_release(w);
	test_channel_expect_eof(r);
	assert_true(test_channel_poll(r) & POLLIN);
	test_channel_expect_eof(r);

	/* A producer that writes and goes: its bytes, then the end. */
	name = test_channel_make();
	r = test_channel_open(name, O_RDONLY);
	test_channel_expect_wait(r);
	w = test_channel_open(name, O_WRONLY);
	test_channel_write(w, "abc", 3);
	test_channel_release(w);
	test_channel_expect(r, "abc", 3);
	test_channel_expect_eof(r);
}

/* A reader opened while a writer had it open ends once it is gone. */
static void test_channel_eof_writer_open(void **state)
{
	const char *name = test_channel_make();
	void *w = test_channel_open(name, O_WRONLY);
	void *r = test_channel_open(name, O_RDONLY);

	test_channel_expect_wait(r);
	test_channel_release(w);
	test_channel_expect_eof(r);

	/* Bytes still buffered come first. */
	name = test_channel_make();
	w = test_channel_open(name, O_WRONLY);
	r = test_channel_open(name, O_RDONLY);
	test_channel_write(w, "xyz", 3);
	test_channel_release(w);
	test_channel_expect(r, "xy", 2);
	test_channel_expect(r, "z", 1);
	test_channel_expect_eof(r);
}

/* `producer > data; cat data`: a reader finding bytes drains, then ends. */
static void test_channel_eof_bytes_waiting(void **state)
{
	const char *name = test_channel_make();
	void *w = test_channel_open(name, O_WRONLY);
	void *r, *late;

	test_channel_write(w, "hello", 5);
	test_channel_release(w);
	r = test_channel_open(name, O_RDONLY);
	test_channel_expect(r, "hello", 5);
	test_channel_expect_eof(r);

	/* Later the channel is idle again: a new reader waits (a FIFO). */
	late = test_channel_open(name, O_RDONLY);
	test_channel_expect_wait(late);
	assert_false(test_channel_poll(late) & POLLIN);
}

/* The eof file of channel NAME: "close\n" or "rmdir\n". */
static void test_channel_expect_eof_mode(const char *name, const char *want)
{
	const struct ipc_file *f = test_channel_file("eof");
	char buf[16];

	assert_int_equal(f->get(name, f->arg, buf, sizeof(buf)), strlen(want));
	assert_string_equal(buf, want);
}

/*
 * eof rmdir: readers wait across writers that come and go (the pi program
 * whose children open the channel themselves), and end at rmdir; back to
 * close, a reader that has seen a writer ends at once. Bad values: EINVAL,
 * nothing changed.
 */
static void test_channel_eof_rmdir(void **state)
{
	const char *name = test_channel_make();
	const struct ipc_file *f = test_channel_file("eof");
	void *r, *w;
	int i;

	assert_int_equal(f->mode, 0666);
	test_channel_expect_eof_mode(name, "close\n");
	assert_int_equal(test_channel_set(name, "eof", "rmdir\n"), 0);
	test_channel_expect_eof_mode(name, "rmdir\n");
	assert_int_equal(test_channel_set(name, "eof", "Rmdir"), -EINVAL);
	assert_int_equal(test_channel_set(name, "eof", "rmdir\n\n"), -EINVAL);
	assert_int_equal(test_channel_set(name, "eof", ""), -EINVAL);
	test_channel_expect_eof_mode(name, "rmdir\n");

	r = test_channel_open(name, O_RDONLY);
	for (i = 0; i < 3; i++) {
		w = test_channel_open(name, O_WRONLY);
		test_channel_write(w, "ab", 2);
		test_channel_release(w);
		test_channel_expect(r, "ab", 2);
		/* No writer, one seen: a FIFO would end here; this waits. */
		test_channel_expect_wait(r);
		assert_false(test_channel_poll(r) & POLLIN);
	}
	/*
	 * Back to close: the reader is at its end (that it is woken to see
	 * it, the mount test checks: the writers' releases have already
	 * marked the queue here, with no loop to clear it).
	 */
	assert_int_equal(test_channel_set(name, "eof", "close"), 0);
	test_channel_expect_eof(r);
	test_channel_release(r);

	/* rmdir ends a reader waiting under eof rmdir. */
	assert_int_equal(test_channel_set(name, "eof", "rmdir"), 0);
	r = test_channel_open(name, O_RDONLY);
	w = test_channel_open(name, O_WRONLY);
	test_channel_release(w);
	test_channel_expect_wait(r);
	assert_int_equal(channel_kind.remove(name), 0);
	test_channel_expect_eof(r);
	assert_true(test_channel_poll(r) & POLLIN);
	assert_int_equal(test_channel_set(name, "eof", "close"), -ENOENT);
}

/* Empty with a writer open: wait for bytes (POLLIN), O_RDWR included. */
static void test_channel_empty_writer(void **state)
{
	const char *name = test_channel_make();
	void *w = test_channel_open(name, O_WRONLY);
	void *r = test_channel_open(name, O_RDONLY);
	void *rw = test_channel_open(name, O_RDWR);

	test_channel_expect_wait(r);
	test_channel_expect_wait(rw);
	test_channel_write(w, "q", 1);
	test_channel_expect(r, "q", 1);
	test_channel_expect_wait(r);

	/* An O_RDWR handle is a writer: alone it still waits, no EOF. */
	test_channel_release(w);
	test_channel_expect_wait(r);
	test_channel_expect_wait(rw);
	test_channel_write(rw, "me", 2);
	test_channel_expect(rw, "me", 2);
	test_channel_release(rw);
	test_channel_expect_eof(r);
}

/* Wakes: bytes in wake readers, room wakes writers, the end wakes all. */
static void test_channel_wakes(void **state)
{
	const char *name = test_channel_make();
	void *w = test_channel_open(name, O_WRONLY);
	void *w2 = test_channel_open(name, O_WRONLY);
	void *r = test_channel_open(name, O_RDONLY);
	struct ipc_waitq *wq = NULL;

	test_channel_ops()->poll(r, &wq);
	assert_non_null(wq);
	assert_int_equal(wq->src.fd, -1); /* only ipc_wake() signals it */
	assert_int_equal(wq->pending, 0);
	assert_false(wq->pending_all);
	/* Nobody waits: the event loop is left alone. */
	test_channel_write(w, "a", 1);
	test_channel_expect(r, "a", 1);
	assert_int_equal(wq->pending, 0);
	/*
	 * A parked reader and writer (faked: park.c never follows these
	 * pointers without its event loop) are woken by bytes and by room.
	 */
	wq->parked[0] = wq->parked[1] = (struct fs_park *)wq;
	test_channel_write(w, "a", 1);
	assert_int_equal(wq->pending, POLLIN);
	test_channel_expect(r, "a", 1);
	assert_int_equal(wq->pending, POLLIN | POLLOUT);
	assert_false(wq->pending_all);
	test_channel_release(w2);
	assert_false(wq->pending_all);
	test_channel_release(w); /* the last writer: readers reach their end */
	assert_true(wq->pending_all);
	wq->parked[0] = wq->parked[1] = NULL;
}

/* An interrupted read gives its bytes back to the front. */
static void test_channel_unread(void **state)
{
	const char *name = test_channel_make();
	void *w = test_channel_open(name, O_WRONLY);
	void *r = test_channel_open(name, O_RDONLY);
	void *r2 = test_channel_open(name, O_RDONLY);
	struct ipc_wait wt = { 0 };
	char buf[8];

	test_channel_write(w, "abcdef", 6);
	assert_int_equal(test_channel_ops()->read(r, buf, 3, 0, &wt), 3);
	assert_memory_equal(buf, "abc", 3);
	test_channel_ops()->unread(r, buf, 3);
	assert_int_equal(test_channel_attr(name, "bytes"), 6);
	/* Any reader gets them next: they are the channel's again. */
	test_channel_expect(r2, "abcdef", 6);

	/* Bytes written meanwhile come after them. */
	test_channel_write(w, "123", 3);
	assert_int_equal(test_channel_ops()->read(r, buf, 2, 0, &wt), 2);
	test_channel_write(w, "45", 2);
	test_channel_ops()->unread(r, buf, 2);
	test_channel_expect(r, "12345", 5);

	/* Giving back nothing changes nothing. */
	test_channel_ops()->unread(r, buf, 0);
	assert_int_equal(test_channel_attr(name, "bytes"), 0);
	test_channel_expect_wait(r);
}

/* Given back across the end of the ring, the bytes come out in order. */
static void test_channel_unread_wrap(void **state)
{
	const char *name = test_channel_make_cap(4096);
	void *w = test_channel_open(name, O_WRONLY);
	void *r = test_channel_open(name, O_RDONLY);
	char *a = test_channel_in, *b = test_channel_in + 3000;
	struct ipc_wait wt = { 0 };
	char buf[500];

	test_channel_pattern(a, 3000, 8);
	test_channel_pattern(b, 3000, 9);
	test_channel_write(w, a, 3000);
	test_channel_expect(r, a, 2000);
	test_channel_write(w, b, 3000);
	test_channel_expect(r, a + 2000, 2000); /* the head is at 4000 */
	/* 96 bytes from the end of the ring, 404 from its start. */
	assert_int_equal(test_channel_ops()->read(r, buf, 500, 0, &wt), 500);
	assert_memory_equal(buf, b + 1000, 500);
	test_channel_ops()->unread(r, buf, 500);
	assert_int_equal(test_channel_attr(name, "bytes"), 2000);
	test_channel_expect(r, b + 1000, 2000);
	assert_int_equal(test_channel_attr(name, "capacity"), 4096);
}

/*
 * A writer filled the room an interrupted read freed: the bytes given back
 * are not lost, and still come first.
 */
static void test_channel_unread_full(void **state)
{
	const char *name = test_channel_make_cap(4096);
	void *w = test_channel_open(name, O_WRONLY);
	void *r = test_channel_open(name, O_RDONLY);
	char *a = test_channel_in, *b = test_channel_in + 4096;
	struct ipc_wait wt = { 0 };
	char buf[1000];

	test_channel_pattern(a, 4096, 10);
	test_channel_pattern(b, 1000, 11);
	test_channel_write(w, a, 4096);
	assert_int_equal(test_channel_ops()->read(r, buf, 1000, 0, &wt), 1000);
	test_channel_write(w, b, 1000);
	assert_int_equal(test_channel_attr(name, "bytes"), 4096);
	test_channel_ops()->unread(r, buf, 1000);
	assert_int_equal(test_channel_attr(name, "bytes"), 5096);
	test_channel_expect(r, a, 4096);
	test_channel_expect(r, b, 1000);
	assert_int_equal(test_channel_attr(name, "bytes"), 0);
}

/* rmdir: readers drain and see the end, writers get EPIPE, all woken. */
static void test_channel_remove_open(void **state)
{
	const char *name = test_channel_make();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	void *w = test_channel_open(name, O_WRONLY);
	void *r = test_channel_open(name, O_RDONLY);
	void *idle = test_channel_open(name, O_RDONLY);
	void *rw = test_channel_open(name, O_RDWR);
	struct ipc_waitq *wq = NULL;
	struct ipc_wait wt = { 0 };
	void *fresh;

	test_channel_write(w, "xyz", 3);
	test_channel_expect(idle, "x", 1);
	test_channel_ops()->poll(r, &wq);
	assert_false(wq->pending_all);

	assert_int_equal(channel_kind.remove(name), 0);
	assert_true(wq->pending_all);
	assert_int_equal(test_channel_ops()->write(w, "a", 1, 0, &wt), -EPIPE);
	assert_null(wt.wq);
	assert_int_equal(test_channel_poll(r), POLLIN | POLLOUT | POLLHUP);
	test_channel_expect(r, "yz", 2);
	test_channel_expect_eof(r);
	test_channel_expect_eof(idle);
	/* Even an O_RDWR handle, a writer itself, ends; and cannot write. */
	test_channel_expect_eof(rw);
	assert_int_equal(test_channel_ops()->write(rw, "a", 1, 0, &wt), -EPIPE);

	/* A channel made anew under that name is another one. */
	assert_int_equal(channel_kind.create(name, 0600, &caller), 0);
	assert_int_equal(test_channel_attr(name, "writers"), 0);
	assert_int_equal(test_channel_attr(name, "readers"), 0);
	fresh = test_channel_open(name, O_RDWR);
	test_channel_write(fresh, "new", 3);
	assert_int_equal(test_channel_ops()->write(w, "a", 1, 0, &wt), -EPIPE);
	test_channel_expect_eof(r);
	test_channel_expect(fresh, "new", 3);
	test_channel_release(w);
	test_channel_release(r);
	test_channel_release(idle);
	test_channel_release(rw);
}

/* poll: POLLIN when a read would not wait, POLLOUT when 4096 bytes fit. */
static void test_channel_poll_events(void **state)
{
	const char *name = test_channel_make_cap(8192);
	void *r = test_channel_open(name, O_RDONLY);
	void *w = test_channel_open(name, O_WRONLY);
	char *a = test_channel_in;
	unsigned int ev;

	memset(a, 'p', 8192);
	assert_int_equal(test_channel_poll(r), POLLOUT);
	assert_int_equal(test_channel_poll(w), POLLOUT);
	test_channel_write(w, a, 1);
	assert_int_equal(test_channel_poll(r), POLLIN | POLLOUT);
	/* Exactly 4096 bytes of room, then one fewer. */
	test_channel_write(w, a, 4095);
	assert_int_equal(test_channel_poll(w), POLLIN | POLLOUT);
	test_channel_write(w, a, 1);
	ev = test_channel_poll(w);
	assert_true(ev & POLLIN);
	assert_false(ev & POLLOUT);
	test_channel_write(w, a, 4095);
	assert_int_equal(test_channel_poll(r), POLLIN);
	test_channel_expect(r, a, 8192);
	assert_int_equal(test_channel_poll(r), POLLOUT);

	/* At the end: readable (a read returns 0 at once), never a hangup. */
	test_channel_release(w);
	assert_int_equal(test_channel_poll(r), POLLIN | POLLOUT);
	test_channel_expect_eof(r);
}

/*
 * Bytes given back may grow the ring past its capacity "for a while"; once
 * a reader has taken them, the channel buffers its capacity again and no
 * more, or every interrupted read on a full channel would raise the memory
 * it holds for good, past chan_max_total (DESIGN.md §3: memory is bounded).
 *
 * KNOWN BUG in backends/channel.c, this test fails until it is fixed:
 * channel_unread() grows the ring to len + given-back bytes and nothing
 * ever shrinks it, so cap stays 5096 here: a writer fits 5096 bytes and
 * the capacity file reads 5096. Fails at "assert_int_equal(...write(w, "z",
 * 1, 0, &wt), -EAGAIN)" with 0x1 != 0xfffffffffffffff5.
 */
static void test_channel_unread_grow_ends(void **state)
{
	const char *name = test_channel_make_cap(4096);
	void *w = test_channel_open(name, O_WRONLY);
	void *r = test_channel_open(name, O_RDONLY);
	char *a = test_channel_in;
	struct ipc_wait wt = { 0 };
	char buf[1000];

	test_channel_pattern(a, 5096, 12);
	test_channel_write(w, a, 4096);
	assert_int_equal(test_channel_ops()->read(r, buf, 1000, 0, &wt), 1000);
	test_channel_write(w, a + 4096, 1000);
	test_channel_ops()->unread(r, buf, 1000);
	test_channel_expect(r, a, 5096);

	test_channel_write(w, a, 4096);
	assert_int_equal(test_channel_ops()->write(w, "z", 1, 0, &wt), -EAGAIN);
	test_channel_assert_wait(w, &wt, POLLOUT);
	assert_int_equal(test_channel_attr(name, "capacity"), 4096);
}

/*
 * The mount-wide reserve comes back whole when a channel goes, whatever
 * interrupted reads did to its ring meanwhile.
 *
 * KNOWN BUG in backends/channel.c, this test fails until it is fixed:
 * channel_unread() grows ch->cap without adding to channel_reserved, and
 * channel_remove() (and channel_capacity_set(), channel_fini()) subtracts
 * the grown ch->cap, so the reserve loses track by the growth: here 1000
 * bytes more are free than the cap allows (with no other channel,
 * channel_reserved wraps below zero). Fails at "assert_int_equal(
 * channel_kind.create(big, 0600, &caller), -ENOSPC)" with
 * 0 != 0xffffffffffffffe4.
 */
static void test_channel_unread_reserve(void **state)
{
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	const char *name, *big;
	void *w, *r;
	char *a = test_channel_in;
	struct ipc_wait wt = { 0 };
	char buf[1000];

	test_channel_free_exactly(4 * TEST_CHANNEL_ATOMIC);
	name = test_channel_make_cap(TEST_CHANNEL_ATOMIC);
	w = test_channel_open(name, O_WRONLY);
	r = test_channel_open(name, O_RDONLY);
	test_channel_pattern(a, 5096, 13);
	test_channel_write(w, a, 4096);
	assert_int_equal(test_channel_ops()->read(r, buf, 1000, 0, &wt), 1000);
	test_channel_write(w, a + 4096, 1000);
	test_channel_ops()->unread(r, buf, 1000);
	test_channel_expect(r, a, 5096);
	test_channel_release(w);
	test_channel_release(r);
	assert_int_equal(channel_kind.remove(name), 0);

	/* All of the reserve is free again, and not a byte more. */
	*test_channel_option("chan_capacity") = 4 * TEST_CHANNEL_ATOMIC + 1;
	big = test_channel_name();
	assert_int_equal(channel_kind.create(big, 0600, &caller), -ENOSPC);
	*test_channel_option("chan_capacity") = 4 * TEST_CHANNEL_ATOMIC;
	assert_int_equal(channel_kind.create(big, 0600, &caller), 0);
}

/* A channel nobody removes: the group teardown's fini must free it. */
static void test_channel_left_for_fini(void **state)
{
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	char name[32];
	void *fh = NULL;

	snprintf(name, sizeof(name), "/ut%ld_ch_fini", (long)getpid());
	assert_int_equal(channel_kind.create(name, 0600, &caller), 0);
	assert_int_equal(test_channel_ops()->open(name, O_WRONLY, &fh), 0);
	test_channel_write(fh, "left", 4);
	test_channel_ops()->release(fh);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define TEST_CHANNEL_CASE(fn)                                                  \
	cmocka_unit_test_setup_teardown(fn, test_channel_setup,                \
					test_channel_teardown)
		TEST_CHANNEL_CASE(test_channel_table),
		TEST_CHANNEL_CASE(test_channel_create),
		TEST_CHANNEL_CASE(test_channel_missing),
		TEST_CHANNEL_CASE(test_channel_remove),
		TEST_CHANNEL_CASE(test_channel_list),
		TEST_CHANNEL_CASE(test_channel_stat),
		TEST_CHANNEL_CASE(test_channel_chmod_chown),
		TEST_CHANNEL_CASE(test_channel_counts),
		TEST_CHANNEL_CASE(test_channel_read_partial),
		TEST_CHANNEL_CASE(test_channel_wrap),
		TEST_CHANNEL_CASE(test_channel_peek_take),
		TEST_CHANNEL_CASE(test_channel_write_atomic),
		TEST_CHANNEL_CASE(test_channel_write_large),
		TEST_CHANNEL_CASE(test_channel_write_empty),
		TEST_CHANNEL_CASE(test_channel_create_nospc),
		TEST_CHANNEL_CASE(test_channel_capacity),
		TEST_CHANNEL_CASE(test_channel_capacity_reserve),
		TEST_CHANNEL_CASE(test_channel_init_options),
		TEST_CHANNEL_CASE(test_channel_eof_idle),
		TEST_CHANNEL_CASE(test_channel_eof_writer_open),
		TEST_CHANNEL_CASE(test_channel_eof_bytes_waiting),
		TEST_CHANNEL_CASE(test_channel_eof_rmdir),
		TEST_CHANNEL_CASE(test_channel_empty_writer),
		TEST_CHANNEL_CASE(test_channel_wakes),
		TEST_CHANNEL_CASE(test_channel_unread),
		TEST_CHANNEL_CASE(test_channel_unread_wrap),
		TEST_CHANNEL_CASE(test_channel_remove_open),
		TEST_CHANNEL_CASE(test_channel_poll_events),
		TEST_CHANNEL_CASE(test_channel_unread_full),
		TEST_CHANNEL_CASE(test_channel_unread_grow_ends),
		TEST_CHANNEL_CASE(test_channel_unread_reserve),
		/* Last: the channel it leaves is fini's to free. */
		TEST_CHANNEL_CASE(test_channel_left_for_fini),
#undef TEST_CHANNEL_CASE
	};

	return cmocka_run_group_tests_name("channel", tests,
					   test_channel_group_setup,
					   test_channel_group_teardown);
}

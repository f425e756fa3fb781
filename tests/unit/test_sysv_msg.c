// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_sysv_msg.c - unit tests of sysv/msg/KEY (backends/sysv_msg.c), no
 * mount.
 *
 * Each test calls sysv_msg_kind's operations directly (create, remove,
 * stat, list, the ops and getters of its file table) and checks the result
 * on the other side with the native API: msgget, msgsnd, msgrcv and
 * msgctl, always IPC_NOWAIT. Exact bytes, types and errno values are
 * asserted. Operations never block: where one would, it must return -EAGAIN
 * and name the wait queue and the event to await.
 *
 *   $ ninja -C build && build/tests/test_sysv_msg
 *
 * The wait queues work without their event loop, as in test_sem.c: a
 * -EAGAIN starts a helper thread, which with nobody parked ends within a
 * period or two, and the teardown waits for helpers (fs_helpers_drain()).
 * Keys are 0x1ce<pid>N, 16 per process, and every queue a test made or
 * noted is removed by its teardown, whatever the test did.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs.h"
#include "sysv.h"

extern const struct ipc_kind sysv_msg_kind;

#define TEST_MSG_KEYS 16
#define TEST_MSG_HANDLES 8
#define TEST_MSG_MAX 8192 /* read buffers: msgmax here */

/* What a test made, so that its teardown can undo it if an assertion fails. */
struct test_msg_fixture {
	int ids[TEST_MSG_KEYS]; /* queues to remove: 0 none */
	int nids;
	struct {
		const struct ipc_stream_ops *ops;
		void *fh;
	} handles[TEST_MSG_HANDLES];
	struct ipc_waitq *faked; /* a wait queue given a pretend waiter */
	bool loop;		 /* the event loop runs */
};

static struct test_msg_fixture test_msg_fix;
static unsigned int test_msg_seq;
static char test_msg_fake_park; /* a pretend parked request, never used */

static const struct ipc_file *test_msg_file(const char *name)
{
	const struct ipc_file *f;

	for (f = sysv_msg_kind.files; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	fail_msg("sysv_msg_kind has no file %s", name);
	return NULL;
}

static const struct ipc_stream_ops *test_msg_ops(const char *file)
{
	const struct ipc_stream_ops *ops = test_msg_file(file)->ops;

	assert_non_null(ops);
	return ops;
}

/* A key of this process's that names no queue now. */
static key_t test_msg_key(void)
{
	key_t key;

	do {
		assert_true(test_msg_seq < TEST_MSG_KEYS * 16);
		key = (key_t)(0x1ce00000 | (getpid() & 0xffff) << 4 |
			      (test_msg_seq++ % 16));
	} while (msgget(key, 0) >= 0);
	return key;
}

/* The directory name of KEY: one buffer per call site's copy. */
static const char *test_msg_name(key_t key, char *buf, size_t size)
{
	snprintf(buf, size, "0x%08x", (uint32_t)key);
	return buf;
}

/* Note queue ID for the teardown. */
static int test_msg_track(int id)
{
	struct test_msg_fixture *f = &test_msg_fix;

	assert_true(id >= 0);
	assert_true(f->nids < TEST_MSG_KEYS);
	f->ids[f->nids++] = id + 1;
	return id;
}

/* Make a queue natively: its id. KEY may be IPC_PRIVATE. */
static int test_msg_native(key_t key, mode_t mode)
{
	int id = msgget(key, IPC_CREAT | IPC_EXCL | (int)mode);

	if (id < 0)
		fail_msg("msgget: %s", strerror(errno));
	return test_msg_track(id);
}

struct test_msg_buf {
	long type;
	char text[TEST_MSG_MAX];
};

static void test_msg_send(int id, long type, const void *buf, size_t len)
{
	struct test_msg_buf m = { .type = type };

	memcpy(m.text, buf, len);
	if (msgsnd(id, &m, len, IPC_NOWAIT) < 0)
		fail_msg("msgsnd: %s", strerror(errno));
}

/* The next message must be exactly LEN bytes of BUF, of type TYPE. */
static void test_msg_expect(int id, long type, const void *buf, size_t len)
{
	struct test_msg_buf m;
	ssize_t n = msgrcv(id, &m, sizeof(m.text), 0, IPC_NOWAIT);

	if (n < 0)
		fail_msg("msgrcv: %s", strerror(errno));
	assert_int_equal(n, len);
	assert_memory_equal(m.text, buf, len);
	assert_int_equal(m.type, type);
}

static struct msqid_ds test_msg_ds(int id)
{
	struct msqid_ds ds;

	assert_int_equal(msgctl(id, IPC_STAT, &ds), 0);
	return ds;
}

/* Wait up to MS milliseconds for queue ID to hold N messages. */
static unsigned long test_msg_qnum_settle(int id, unsigned long n, long ms)
{
	unsigned long now = test_msg_ds(id).msg_qnum;

	for (; now != n && ms > 0; ms -= 10) {
		usleep(10 * 1000);
		now = test_msg_ds(id).msg_qnum;
	}
	return now;
}

/* Open FILE of queue NAME; released by the teardown. */
static void *test_msg_open(const char *file, const char *name)
{
	struct test_msg_fixture *f = &test_msg_fix;
	const struct ipc_stream_ops *ops = test_msg_ops(file);
	void *fh = NULL;
	int i;

	for (i = 0; i < TEST_MSG_HANDLES && f->handles[i].fh; i++)
		;
	assert_true(i < TEST_MSG_HANDLES);
	assert_int_equal(ops->open(name, O_RDWR, &fh), 0);
	assert_non_null(fh);
	f->handles[i].ops = ops;
	f->handles[i].fh = fh;
	return fh;
}

static void test_msg_release(void *fh)
{
	struct test_msg_fixture *f = &test_msg_fix;
	int i;

	for (i = 0; i < TEST_MSG_HANDLES; i++) {
		if (f->handles[i].fh == fh) {
			f->handles[i].ops->release(fh);
			f->handles[i].fh = NULL;
			return;
		}
	}
	fail_msg("releasing a handle the test did not open");
}

static ssize_t test_msg_read(const char *file, void *fh, char *buf, size_t size,
			     off_t off, struct ipc_wait *w)
{
	*w = (struct ipc_wait){ 0 };
	return test_msg_ops(file)->read(fh, buf, size, off, w);
}

static ssize_t test_msg_write(const char *file, void *fh, const char *buf,
			      size_t len, struct ipc_wait *w)
{
	*w = (struct ipc_wait){ 0 };
	return test_msg_ops(file)->write(fh, buf, len, 0, w);
}

static int test_msg_get(const char *file, const char *name, char *buf,
			size_t size)
{
	const struct ipc_file *f = test_msg_file(file);

	return f->get(name, f->arg, buf, size);
}

static int test_msg_set(const char *file, const char *name, const char *buf)
{
	return test_msg_file(file)->set(name, buf, strlen(buf), NULL);
}

/* Pretend a request is parked on wq (test_sem.c's way): helpers serve it. */
static void test_msg_fake_waiter(struct ipc_waitq *wq, bool on)
{
	__atomic_store_n(&wq->parked[0],
			 on ? (struct fs_park *)&test_msg_fake_park : NULL,
			 __ATOMIC_SEQ_CST);
	test_msg_fix.faked = on ? wq : NULL;
}

static int test_msg_group_setup(void **state)
{
	/* Modes must come out as asked, as under the daemon (main.c). */
	umask(0);
	return 0;
}

static int test_msg_setup(void **state)
{
	memset(&test_msg_fix, 0, sizeof(test_msg_fix));
	return 0;
}

static int test_msg_teardown(void **state)
{
	struct test_msg_fixture *f = &test_msg_fix;
	int i;

	if (f->faked)
		test_msg_fake_waiter(f->faked, false);
	for (i = 0; i < TEST_MSG_HANDLES; i++)
		if (f->handles[i].fh)
			f->handles[i].ops->release(f->handles[i].fh);
	if (f->loop) {
		fs_park_stop_loop(); /* ends the jobs: they give back */
		fs_loop_fini();
	}
	for (i = 0; i < f->nids; i++)
		msgctl(f->ids[i] - 1, IPC_RMID, NULL);
	memset(f, 0, sizeof(*f));
	/* No helper outlives its test. */
	fs_helpers_drain();
	sysv_msg_kind.fini();
	return 0;
}

/* mkdir: a queue of the mode asked, the caller's; only a key names one. */
static void test_msg_create(void **state)
{
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	key_t key = test_msg_key();
	char name[16];
	struct msqid_ds ds;
	struct stat st;
	int id;

	test_msg_name(key, name, sizeof(name));
	assert_int_equal(sysv_msg_kind.create(name, 0640, &caller), 0);
	id = test_msg_track(msgget(key, 0));
	ds = test_msg_ds(id);
	assert_int_equal(ds.msg_perm.mode & 0777, 0640);
	assert_int_equal(ds.msg_perm.uid, caller.uid);
	assert_int_equal(sysv_msg_kind.stat(name, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_ino, (ino_t)id + 1);
	assert_int_equal(sysv_msg_kind.create(name, 0600, &caller), -EEXIST);

	assert_int_equal(sysv_msg_kind.create("0x00000000", 0600, &caller),
			 -EINVAL);
	assert_int_equal(sysv_msg_kind.create("id.5", 0600, &caller), -EINVAL);
	assert_string_equal(sysv_msg_kind.path, "sysv/msg");
	assert_false(sysv_msg_kind.prefixed);
}

/* The new queue is the caller's, whoever the daemon is (root here). */
static void test_msg_create_owner(void **state)
{
	struct ipc_caller caller = { .uid = 4321, .gid = 5432 };
	key_t key = test_msg_key();
	struct msqid_ds ds;
	char name[16];

	if (geteuid() != 0)
		skip();
	test_msg_name(key, name, sizeof(name));
	assert_int_equal(sysv_msg_kind.create(name, 0600, &caller), 0);
	ds = test_msg_ds(test_msg_track(msgget(key, 0)));
	assert_int_equal(ds.msg_perm.uid, 4321);
	assert_int_equal(ds.msg_perm.gid, 5432);
	assert_int_equal(ds.msg_perm.cuid, 4321);
}

struct test_msg_seen {
	const char *want[2];
	int found[2];
};

static int test_msg_fill(void *ctx, const char *name)
{
	struct test_msg_seen *s = ctx;
	int i;

	for (i = 0; i < 2; i++)
		if (strcmp(name, s->want[i]) == 0)
			s->found[i]++;
	return 0;
}

/* list: keyed queues by key, private ones as id.N; rmdir removes. */
static void test_msg_list_remove(void **state)
{
	key_t key = test_msg_key();
	int pid = test_msg_native(IPC_PRIVATE, 0600);
	char name[16], priv[SYSV_NAME_MAX + 1];
	struct test_msg_seen seen = { .want = { name, priv } };
	struct stat st;

	test_msg_native(key, 0600);
	test_msg_name(key, name, sizeof(name));
	snprintf(priv, sizeof(priv), "id.%d", pid);
	assert_int_equal(sysv_msg_kind.list(test_msg_fill, &seen), 0);
	assert_int_equal(seen.found[0], 1);
	assert_int_equal(seen.found[1], 1);

	assert_int_equal(sysv_msg_kind.stat(priv, &st), 0);
	assert_int_equal(sysv_msg_kind.remove(priv), 0);
	assert_int_equal(msgctl(pid, IPC_STAT, &(struct msqid_ds){ 0 }), -1);
	assert_int_equal(sysv_msg_kind.remove(name), 0);
	assert_int_equal(msgget(key, 0), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(sysv_msg_kind.remove(name), -ENOENT);
	assert_int_equal(sysv_msg_kind.stat(name, &st), -ENOENT);
}

/* data: a write is one message of type 1; a read takes one of any type. */
static void test_msg_data(void **state)
{
	key_t key = test_msg_key();
	int id = test_msg_native(key, 0600);
	char name[16], buf[TEST_MSG_MAX];
	struct ipc_wait w;
	void *fh;

	fh = test_msg_open("data", test_msg_name(key, name, sizeof(name)));
	assert_int_equal(test_msg_write("data", fh, "hello\n", 6, &w), 6);
	test_msg_expect(id, 1, "hello\n", 6);

	test_msg_send(id, 7, "seven", 5);
	test_msg_send(id, 2, "two", 3);
	assert_int_equal(test_msg_read("data", fh, buf, sizeof(buf), 0, &w), 5);
	assert_memory_equal(buf, "seven", 5);
	/* Then end-of-file for this open file, served by offset. */
	assert_int_equal(test_msg_read("data", fh, buf, sizeof(buf), 2, &w), 3);
	assert_memory_equal(buf, "ven", 3);
	assert_int_equal(test_msg_read("data", fh, buf, sizeof(buf), 5, &w), 0);
	assert_int_equal(test_msg_ds(id).msg_qnum, 1);
	/* One message per open: the next open file takes the next one. */
	test_msg_release(fh);
	fh = test_msg_open("data", name);
	assert_int_equal(test_msg_read("data", fh, buf, sizeof(buf), 0, &w), 3);
	assert_memory_equal(buf, "two", 3);
	assert_int_equal(test_msg_ds(id).msg_qnum, 0);
	assert_int_equal(test_msg_ds(id).msg_lspid, getpid());
}

/* stream: one message per read, an empty one skipped; writes as data. */
static void test_msg_stream(void **state)
{
	key_t key = test_msg_key();
	int id = test_msg_native(key, 0600);
	char name[16], buf[TEST_MSG_MAX];
	struct ipc_wait w;
	void *fh;

	fh = test_msg_open("stream", test_msg_name(key, name, sizeof(name)));
	test_msg_send(id, 3, "one", 3);
	test_msg_send(id, 4, "", 0);
	test_msg_send(id, 5, "two", 3);
	assert_int_equal(test_msg_read("stream", fh, buf, sizeof(buf), 0, &w),
			 3);
	assert_memory_equal(buf, "one", 3);
	assert_int_equal(test_msg_read("stream", fh, buf, sizeof(buf), 3, &w),
			 3);
	assert_memory_equal(buf, "two", 3);
	assert_int_equal(test_msg_ds(id).msg_qnum, 0);
	assert_int_equal(test_msg_write("stream", fh, "w", 1, &w), 1);
	test_msg_expect(id, 1, "w", 1);
}

/* framed: "TYPE\tMESSAGE" both ways, TYPE 1 to LONG_MAX. */
static void test_msg_framed(void **state)
{
	key_t key = test_msg_key();
	int id = test_msg_native(key, 0600);
	char name[16], buf[TEST_MSG_MAX], frame[64];
	struct ipc_wait w;
	void *fh, *fh2;
	int n;

	test_msg_name(key, name, sizeof(name));
	fh = test_msg_open("framed", name);
	assert_int_equal(test_msg_write("framed", fh, "7\turgent", 8, &w), 8);
	test_msg_expect(id, 7, "urgent", 6);
	/* Leading zeros, a tab and a newline in the message. */
	assert_int_equal(test_msg_write("framed", fh, "007\ta\tb\n", 8, &w), 8);
	test_msg_expect(id, 7, "a\tb\n", 4);
	n = snprintf(frame, sizeof(frame), "%ld\tmax", LONG_MAX);
	assert_int_equal(test_msg_write("framed", fh, frame, n, &w), n);
	test_msg_expect(id, LONG_MAX, "max", 3);
	assert_int_equal(test_msg_write("framed", fh, "1\t", 2, &w), 2);
	test_msg_expect(id, 1, "", 0);

	test_msg_send(id, 42, "answer", 6);
	assert_int_equal(test_msg_read("framed", fh, buf, sizeof(buf), 0, &w),
			 9);
	assert_memory_equal(buf, "42\tanswer", 9);
	assert_int_equal(test_msg_read("framed", fh, buf, sizeof(buf), 9, &w),
			 0);
	/* A buffer the message fits but not its head: the rest reads on. */
	test_msg_send(id, 42, "answer", 6);
	fh2 = test_msg_open("framed", name);
	assert_int_equal(test_msg_read("framed", fh2, buf, 6, 0, &w), 6);
	assert_memory_equal(buf, "42\tans", 6);
	assert_int_equal(test_msg_read("framed", fh2, buf, 6, 6, &w), 3);
	assert_memory_equal(buf, "wer", 3);
}

/* A malformed head: EINVAL, nothing sent. */
static void test_msg_framed_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"urgent",
		"\tm",
		"x\tm",
		"0\tm",
		"-1\tm",
		"+1\tm",
		" 1\tm",
		"1 \tm",
		"1\n\tm",
		"12",
		"9223372036854775808\tm",  /* LONG_MAX + 1 */
		"00000000000000000001\tm", /* 20 digits */
		NULL,
	};
	key_t key = test_msg_key();
	int id = test_msg_native(key, 0600);
	const char *const *b;
	char name[16];
	struct ipc_wait w;
	void *fh;

	fh = test_msg_open("framed", test_msg_name(key, name, sizeof(name)));
	for (b = bad; *b; b++) {
		assert_int_equal(
			test_msg_write("framed", fh, *b, strlen(*b), &w),
			-EINVAL);
		assert_null(w.wq);
	}
	assert_int_equal(test_msg_ds(id).msg_qnum, 0);
}

/*
 * Oversize, as the kernel says: a write past msgmax is EINVAL; a stream
 * buffer shorter than the message E2BIG, nothing taken. data serves its
 * message by offset: a short buffer reads the start.
 */
static void test_msg_oversize(void **state)
{
	key_t key = test_msg_key();
	int id = test_msg_native(key, 0600);
	char name[16], *big;
	struct ipc_wait w;
	void *fh, *sfh;
	size_t max;
	FILE *f;

	f = fopen("/proc/sys/kernel/msgmax", "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%zu", &max), 1);
	fclose(f);
	big = calloc(1, max + 1);
	assert_non_null(big);
	fh = test_msg_open("data", test_msg_name(key, name, sizeof(name)));
	assert_int_equal(test_msg_write("data", fh, big, max + 1, &w), -EINVAL);
	assert_int_equal(test_msg_ds(id).msg_qnum, 0);

	test_msg_send(id, 9, "0123456789", 10);
	sfh = test_msg_open("stream", name);
	assert_int_equal(test_msg_read("stream", sfh, big, 9, 0, &w), -E2BIG);
	assert_int_equal(test_msg_ds(id).msg_qnum, 1);
	assert_int_equal(test_msg_read("data", fh, big, 9, 0, &w), 9);
	assert_memory_equal(big, "012345678", 9);
	assert_int_equal(test_msg_read("data", fh, big, 9, 9, &w), 1);
	assert_memory_equal(big, "9", 1);
	assert_int_equal(test_msg_ds(id).msg_qnum, 0);
	free(big);
}

/* Nothing there: -EAGAIN, on the object's queue for POLLIN. */
static void test_msg_read_empty(void **state)
{
	key_t key = test_msg_key();
	char name[16], buf[16];
	struct ipc_wait w;
	void *fh;

	test_msg_native(key, 0600);
	fh = test_msg_open("data", test_msg_name(key, name, sizeof(name)));
	assert_int_equal(test_msg_read("data", fh, buf, sizeof(buf), 0, &w),
			 -EAGAIN);
	assert_non_null(w.wq);
	assert_int_equal(w.events, POLLIN);
	/* Before a message, an offset past 0 is refused, nothing taken. */
	assert_int_equal(test_msg_read("data", fh, buf, sizeof(buf), 3, &w),
			 -EINVAL);
}

/*
 * A full queue: -EAGAIN on a wait queue of the writers' own (not the
 * readers'), for POLLOUT; a message past qbytes but within msgmax waits too.
 */
static void test_msg_write_full(void **state)
{
	key_t key = test_msg_key();
	int id = test_msg_native(key, 0600);
	char name[16], buf[16];
	struct ipc_wait w, r;
	void *fh;

	test_msg_name(key, name, sizeof(name));
	assert_int_equal(test_msg_set("qbytes", name, "8"), 0);
	fh = test_msg_open("data", name);
	assert_int_equal(test_msg_write("data", fh, "12345678", 8, &w), 8);
	assert_int_equal(test_msg_write("data", fh, "x", 1, &w), -EAGAIN);
	assert_non_null(w.wq);
	assert_int_equal(w.events, POLLOUT);
	assert_int_equal(test_msg_read("data", test_msg_open("data", name), buf,
				       sizeof(buf), 0, &r),
			 8);
	assert_int_equal(test_msg_read("data", test_msg_open("data", name), buf,
				       sizeof(buf), 0, &r),
			 -EAGAIN);
	assert_true(r.wq != w.wq);
	assert_int_equal(test_msg_write("data", fh, "123456789", 9, &w),
			 -EAGAIN);
	assert_int_equal(test_msg_ds(id).msg_qnum, 0);
}

/* An interrupted read gives its message back, with its type (to the tail). */
static void test_msg_unread(void **state)
{
	key_t key = test_msg_key();
	int id = test_msg_native(key, 0600);
	const struct ipc_stream_ops *data = test_msg_ops("data");
	char name[16], buf[TEST_MSG_MAX];
	struct ipc_wait w;
	void *fh;

	test_msg_name(key, name, sizeof(name));
	test_msg_send(id, 3, "first", 5);
	test_msg_send(id, 5, "second", 6);
	fh = test_msg_open("data", name);
	assert_int_equal(test_msg_read("data", fh, buf, sizeof(buf), 0, &w), 5);
	data->unread(fh, buf, 5);
	test_msg_expect(id, 5, "second", 6);
	test_msg_expect(id, 3, "first", 5);
	/* The file took nothing: its next read takes anew. */
	test_msg_send(id, 8, "again", 5);
	assert_int_equal(test_msg_read("data", fh, buf, sizeof(buf), 0, &w), 5);
	assert_memory_equal(buf, "again", 5);
	/* A read past the first took nothing: nothing to give back. */
	assert_int_equal(test_msg_read("data", fh, buf, sizeof(buf), 5, &w), 0);
	data->unread(fh, buf, 0);
	assert_int_equal(test_msg_ds(id).msg_qnum, 0);

	/* framed: the message goes back as it came, not with its head. */
	fh = test_msg_open("framed", name);
	test_msg_send(id, 12, "body", 4);
	assert_int_equal(test_msg_read("framed", fh, buf, sizeof(buf), 0, &w),
			 7);
	test_msg_ops("framed")->unread(fh, buf, 7);
	test_msg_expect(id, 12, "body", 4);
}

/*
 * The helper: with a reader parked, it receives for it and banks what it
 * gets, which the reader's retry claims; once the reader has left, what it
 * banked goes back with its type.
 */
static void test_msg_helper(void **state)
{
	key_t key = test_msg_key();
	int id = test_msg_native(key, 0600);
	char name[16], buf[TEST_MSG_MAX];
	struct ipc_waitq *wq;
	struct ipc_wait w;
	void *fh;

	fh = test_msg_open("data", test_msg_name(key, name, sizeof(name)));
	assert_int_equal(test_msg_read("data", fh, buf, sizeof(buf), 0, &w),
			 -EAGAIN);
	wq = w.wq;
	test_msg_fake_waiter(wq, true);
	test_msg_send(id, 6, "banked", 6);
	/* The helper's msgrcv took it out of the queue. */
	assert_int_equal(test_msg_qnum_settle(id, 0, 1000), 0);
	test_msg_send(id, 7, "queued", 6);
	assert_int_equal(test_msg_read("data", fh, buf, sizeof(buf), 0, &w), 6);
	assert_memory_equal(buf, "banked", 6); /* the oldest first */

	/* The next is banked too; its waiter leaves: back it goes. */
	assert_int_equal(test_msg_qnum_settle(id, 0, 1000), 0);
	test_msg_fake_waiter(wq, false);
	assert_int_equal(test_msg_qnum_settle(id, 1, 1000), 1);
	test_msg_expect(id, 7, "queued", 6);
}

/*
 * The helper's banked message is longer than a stream reader's buffer:
 * E2BIG, and it stays banked for a buffer it fits.
 */
static void test_msg_helper_e2big(void **state)
{
	key_t key = test_msg_key();
	int id = test_msg_native(key, 0600);
	char name[16], buf[TEST_MSG_MAX];
	struct ipc_wait w;
	void *fh;

	fh = test_msg_open("stream", test_msg_name(key, name, sizeof(name)));
	assert_int_equal(test_msg_read("stream", fh, buf, sizeof(buf), 0, &w),
			 -EAGAIN);
	test_msg_fake_waiter(w.wq, true);
	test_msg_send(id, 6, "longer", 6);
	assert_int_equal(test_msg_qnum_settle(id, 0, 1000), 0);
	assert_int_equal(test_msg_read("stream", fh, buf, 5, 0, &w), -E2BIG);
	assert_int_equal(test_msg_read("stream", fh, buf, 6, 0, &w), 6);
	assert_memory_equal(buf, "longer", 6);
}

/*
 * A message given back to a queue that is full meanwhile waits in a job of
 * the event loop, and goes back once a native reader makes room (the
 * writers' helper sees it within a period or two). Nothing is lost.
 */
static void test_msg_give_back_full(void **state)
{
	key_t key = test_msg_key();
	int id = test_msg_native(key, 0600);
	char name[16], buf[TEST_MSG_MAX];
	struct ipc_wait w;
	void *fh;

	test_msg_name(key, name, sizeof(name));
	/* Room for two of "full", not for "taken" with both. */
	assert_int_equal(test_msg_set("qbytes", name, "9"), 0);
	test_msg_send(id, 4, "taken", 5);
	fh = test_msg_open("data", name);
	assert_int_equal(test_msg_read("data", fh, buf, sizeof(buf), 0, &w), 5);
	test_msg_send(id, 2, "full", 4);
	test_msg_send(id, 2, "full", 4);
	assert_int_equal(fs_loop_init(), 0);
	assert_int_equal(fs_park_start_loop(), 0);
	test_msg_fix.loop = true;
	test_msg_ops("data")->unread(fh, buf, 5);
	usleep(300 * 1000);
	assert_int_equal(test_msg_ds(id).msg_qnum, 2); /* still full */
	test_msg_expect(id, 2, "full", 4);
	assert_int_equal(test_msg_qnum_settle(id, 2, 1000), 2);
	test_msg_expect(id, 2, "full", 4);
	test_msg_expect(id, 4, "taken", 5);
}

/* rmdir: readers see end-of-file, writers EIDRM; so does a native ipcrm. */
static void test_msg_removed(void **state)
{
	key_t key = test_msg_key();
	int id = test_msg_native(key, 0600);
	char name[16], buf[16];
	struct ipc_waitq *wq;
	struct ipc_wait w;
	void *fh;

	test_msg_name(key, name, sizeof(name));
	fh = test_msg_open("data", name);
	assert_int_equal(test_msg_read("data", fh, buf, sizeof(buf), 0, &w),
			 -EAGAIN);
	assert_int_equal(sysv_msg_kind.remove(name), 0);
	assert_int_equal(test_msg_read("data", fh, buf, sizeof(buf), 0, &w), 0);
	assert_int_equal(test_msg_write("data", fh, "x", 1, &w), -EIDRM);
	assert_int_equal(test_msg_ops("data")->poll(fh, &wq),
			 POLLIN | POLLOUT | POLLHUP);

	/* Natively: the next call finds it gone. */
	id = test_msg_native(key, 0600);
	fh = test_msg_open("stream", name);
	assert_int_equal(msgctl(id, IPC_RMID, NULL), 0);
	assert_int_equal(test_msg_read("stream", fh, buf, sizeof(buf), 0, &w),
			 0);
	assert_int_equal(test_msg_write("stream", fh, "x", 1, &w), -EIDRM);
	/* A queue made anew under the key is another one. */
	id = test_msg_native(key, 0600);
	fh = test_msg_open("data", name);
	assert_int_equal(test_msg_write("data", fh, "new", 3, &w), 3);
	test_msg_expect(id, 1, "new", 3);
}

static void test_msg_poll(void **state)
{
	key_t key = test_msg_key();
	int id = test_msg_native(key, 0600);
	const struct ipc_stream_ops *ops = test_msg_ops("data");
	struct ipc_waitq *wq = NULL;
	char name[16];
	void *fh;

	test_msg_name(key, name, sizeof(name));
	fh = test_msg_open("data", name);
	assert_int_equal(ops->poll(fh, &wq), POLLOUT);
	assert_non_null(wq);
	test_msg_send(id, 1, "m", 1);
	assert_int_equal(ops->poll(fh, &wq), POLLIN | POLLOUT);
	assert_int_equal(test_msg_set("qbytes", name, "1"), 0);
	assert_int_equal(ops->poll(fh, &wq), POLLIN);
}

/* count, bytes, qbytes, lspid, lrpid, id: "N\n", as IPC_STAT says. */
static void test_msg_attrs(void **state)
{
	key_t key = test_msg_key();
	int id = test_msg_native(key, 0600);
	char name[16], buf[32], want[32];
	struct ipc_wait w;
	void *fh;

	test_msg_name(key, name, sizeof(name));
	test_msg_send(id, 1, "abc", 3);
	test_msg_send(id, 2, "de", 2);
	assert_int_equal(test_msg_get("count", name, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "2\n");
	assert_int_equal(test_msg_get("bytes", name, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "5\n");
	snprintf(want, sizeof(want), "%lu\n", test_msg_ds(id).msg_qbytes);
	test_msg_get("qbytes", name, buf, sizeof(buf));
	assert_string_equal(buf, want);
	snprintf(want, sizeof(want), "%d\n", (int)getpid());
	test_msg_get("lspid", name, buf, sizeof(buf));
	assert_string_equal(buf, want);
	test_msg_get("lrpid", name, buf, sizeof(buf));
	assert_string_equal(buf, "0\n");
	fh = test_msg_open("data", name);
	assert_int_equal(test_msg_read("data", fh, buf, sizeof(buf), 0, &w), 3);
	test_msg_get("lrpid", name, buf, sizeof(buf));
	assert_string_equal(buf, want);
	snprintf(want, sizeof(want), "%d\n", id);
	test_msg_get("id", name, buf, sizeof(buf));
	assert_string_equal(buf, want);
	assert_int_equal(test_msg_get("count", "0x7ffffff0", buf, sizeof(buf)),
			 -ENOENT);
}

/* qbytes: IPC_SET; bad text EINVAL; past msgmnb EPERM without the cap. */
static void test_msg_qbytes_set(void **state)
{
	key_t key = test_msg_key();
	int id = test_msg_native(key, 0600);
	static const char *const bad[] = { "", "x", "-1", "1k", "1 ", NULL };
	const char *const *b;
	struct msqid_ds ds;
	char name[16], big[32];
	long mnb;
	FILE *f;

	test_msg_name(key, name, sizeof(name));
	assert_int_equal(test_msg_set("qbytes", name, "100\n"), 0);
	assert_int_equal(test_msg_ds(id).msg_qbytes, 100);
	for (b = bad; *b; b++)
		assert_int_equal(test_msg_set("qbytes", name, *b), -EINVAL);
	assert_int_equal(test_msg_ds(id).msg_qbytes, 100);

	f = fopen("/proc/sys/kernel/msgmnb", "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld", &mnb), 1);
	fclose(f);
	/* Whether this process may: then so may the tree in its shoes. */
	ds = test_msg_ds(id);
	ds.msg_qbytes = mnb + 1;
	snprintf(big, sizeof(big), "%ld", mnb + 1);
	if (msgctl(id, IPC_SET, &ds) == 0)
		assert_int_equal(test_msg_set("qbytes", name, big), 0);
	else
		assert_int_equal(test_msg_set("qbytes", name, big), -EPERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define TEST_MSG_CASE(fn)                                                      \
	cmocka_unit_test_setup_teardown(fn, test_msg_setup, test_msg_teardown)
		TEST_MSG_CASE(test_msg_create),
		TEST_MSG_CASE(test_msg_create_owner),
		TEST_MSG_CASE(test_msg_list_remove),
		TEST_MSG_CASE(test_msg_data),
		TEST_MSG_CASE(test_msg_stream),
		TEST_MSG_CASE(test_msg_framed),
		TEST_MSG_CASE(test_msg_framed_bad),
		TEST_MSG_CASE(test_msg_oversize),
		TEST_MSG_CASE(test_msg_read_empty),
		TEST_MSG_CASE(test_msg_write_full),
		TEST_MSG_CASE(test_msg_unread),
		TEST_MSG_CASE(test_msg_helper),
		TEST_MSG_CASE(test_msg_helper_e2big),
		TEST_MSG_CASE(test_msg_give_back_full),
		TEST_MSG_CASE(test_msg_removed),
		TEST_MSG_CASE(test_msg_poll),
		TEST_MSG_CASE(test_msg_attrs),
		TEST_MSG_CASE(test_msg_qbytes_set),
#undef TEST_MSG_CASE
	};

	return cmocka_run_group_tests_name("sysv_msg", tests,
					   test_msg_group_setup, NULL);
}

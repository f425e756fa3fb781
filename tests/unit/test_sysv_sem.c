// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_sysv_sem.c - unit tests of sysv/sem/KEY (backends/sysv_sem.c), no
 * mount.
 *
 * Each test calls sysv_sem_kind's operations directly (create, the values,
 * nsems, id and post files, the wait and hold handles) and checks them
 * against the native API: semget, semop, GETVAL, GETALL. Exact values and
 * errno values are asserted. Operations never block: where one would, it
 * returns -EAGAIN with the wait queue to park on, and starts the set's
 * helper thread, which a pretend waiter (as in test_sem.c) keeps serving.
 *
 * SEM_UNDO is checked where it shows: in a child process that ends, whose
 * undo list the kernel applies then (a hold not released is given back; a
 * wait that claimed a banked unit keeps nothing to give back).
 *
 * Keys come from a range of the test process's own, 0x1cd?????; the
 * teardown removes every set of that range whatever the test did.
 *
 *   $ ninja -C build && build/tests/test_sysv_sem
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
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs.h"
#include "sysv.h"

extern const struct ipc_kind sysv_sem_kind;

#define TEST_SEM_KEYS 256
#define TEST_SEM_HANDLES 8

struct test_sem_fixture {
	struct {
		const struct ipc_stream_ops *ops;
		void *fh;
	} handles[TEST_SEM_HANDLES];
	int private_id;		 /* an IPC_PRIVATE set to remove, or -1 */
	struct ipc_waitq *faked; /* a wait queue given a pretend waiter */
};

static struct test_sem_fixture test_sem_fix;
static key_t test_sem_base;
static unsigned int test_sem_seq;
static long test_sem_saved_value;
static char test_sem_fake_park; /* never dereferenced by fs/park.c */

static long *test_sem_option(void)
{
	const struct ipc_option *o = &sysv_sem_kind.options[0];

	assert_string_equal(o->name, "sem_value");
	return o->value;
}

static const struct ipc_file *test_sem_file(const char *name)
{
	const struct ipc_file *f;

	for (f = sysv_sem_kind.files; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	fail_msg("sysv_sem_kind has no file %s", name);
	return NULL;
}

static const struct ipc_stream_ops *test_sem_ops(const char *file)
{
	return test_sem_file(file)->ops;
}

/* A fresh key of the range, as its directory name. */
static const char *test_sem_name(key_t *key)
{
	static char name[SYSV_NAME_MAX + 1];

	assert_true(test_sem_seq < TEST_SEM_KEYS);
	*key = test_sem_base + (key_t)test_sem_seq++;
	snprintf(name, sizeof(name), "0x%08x", (unsigned int)*key);
	return name;
}

/* Set NAME made by the kind with value VALUE: its id. */
static int test_sem_make(const char *name, long value)
{
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	key_t key;

	*test_sem_option() = value;
	assert_int_equal(sysv_sem_kind.create(name, 0600, &caller), 0);
	assert_true(sysv_key_of(name, &key));
	return semget(key, 0, 0);
}

static int test_sem_value(int id)
{
	return semctl(id, 0, GETVAL);
}

static void test_sem_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int test_sem_value_settle(int id, int val, long ms)
{
	int now = test_sem_value(id);

	for (; now != val && ms > 0; ms -= 10) {
		test_sem_sleep_ms(10);
		now = test_sem_value(id);
	}
	return now;
}

static void test_sem_native_op(int id, short op)
{
	struct sembuf b = { 0, op, IPC_NOWAIT };

	assert_int_equal(semop(id, &b, 1), 0);
}

static void *test_sem_open(const char *file, const char *name)
{
	struct test_sem_fixture *f = &test_sem_fix;
	void *fh = NULL;
	int i;

	for (i = 0; i < TEST_SEM_HANDLES && f->handles[i].fh; i++)
		;
	assert_true(i < TEST_SEM_HANDLES);
	assert_int_equal(test_sem_ops(file)->open(name, O_RDONLY, &fh), 0);
	f->handles[i].ops = test_sem_ops(file);
	f->handles[i].fh = fh;
	return fh;
}

static void test_sem_release(void *fh)
{
	struct test_sem_fixture *f = &test_sem_fix;
	int i;

	for (i = 0; i < TEST_SEM_HANDLES; i++) {
		if (f->handles[i].fh == fh) {
			f->handles[i].ops->release(fh);
			f->handles[i].fh = NULL;
			return;
		}
	}
	fail_msg("releasing a handle the test did not open");
}

static ssize_t test_sem_read(void *fh, struct ipc_wait *w)
{
	char buf[16];

	*w = (struct ipc_wait){ 0 };
	return test_sem_ops("wait")->read(fh, buf, sizeof(buf), 0, w);
}

static int test_sem_acquire(void *fh, struct ipc_wait *w)
{
	*w = (struct ipc_wait){ 0 };
	return test_sem_ops("hold")->acquire(fh, w);
}

static int test_sem_post(const char *name, const char *text)
{
	return test_sem_file("post")->set(name, text, strlen(text), NULL);
}

/* Attribute file FILE of NAME: its text (one buffer). */
static const char *test_sem_attr(const char *name, const char *file)
{
	static char buf[256];
	const struct ipc_file *f = test_sem_file(file);
	int len = f->get(name, f->arg, buf, sizeof(buf));

	assert_true(len > 0 && len < (int)sizeof(buf));
	return buf;
}

/* A request parked on wq, as fs/park.c would have it (test_sem.c's). */
static void test_sem_fake_waiter(struct ipc_waitq *wq, bool on)
{
	__atomic_store_n(&wq->parked[0],
			 on ? (struct fs_park *)&test_sem_fake_park : NULL,
			 __ATOMIC_SEQ_CST);
	test_sem_fix.faked = on ? wq : NULL;
}

/* Wait up to MS milliseconds for wait handle FH to poll EV. */
static unsigned int test_sem_poll_settle(void *fh, unsigned int ev, long ms)
{
	struct ipc_waitq *wq;
	unsigned int now = test_sem_ops("wait")->poll(fh, &wq);

	for (; now != ev && ms > 0; ms -= 10) {
		test_sem_sleep_ms(10);
		now = test_sem_ops("wait")->poll(fh, &wq);
	}
	return now;
}

static int test_sem_group_setup(void **state)
{
	umask(0);
	test_sem_base = (key_t)(0x1cd00000 | (getpid() & 0xfff) << 8);
	test_sem_saved_value = *test_sem_option();
	return 0;
}

static int test_sem_setup(void **state)
{
	memset(&test_sem_fix, 0, sizeof(test_sem_fix));
	test_sem_fix.private_id = -1;
	return 0;
}

static int test_sem_teardown(void **state)
{
	struct test_sem_fixture *f = &test_sem_fix;
	unsigned int i;
	int id;

	if (f->faked)
		test_sem_fake_waiter(f->faked, false);
	for (i = 0; i < TEST_SEM_HANDLES; i++)
		if (f->handles[i].fh)
			f->handles[i].ops->release(f->handles[i].fh);
	if (f->private_id >= 0)
		semctl(f->private_id, 0, IPC_RMID);
	for (i = 0; i < test_sem_seq; i++)
		if ((id = semget(test_sem_base + (key_t)i, 0, 0)) >= 0)
			semctl(id, 0, IPC_RMID);
	*test_sem_option() = test_sem_saved_value;
	/* No helper outlives its test. */
	fs_helpers_drain();
	sysv_sem_kind.fini();
	return 0;
}

/* mkdir: one semaphore of sem_value, the mode asked, the caller's. */
static void test_sem_create(void **state)
{
	struct ipc_caller caller = { .uid = 4321, .gid = 5432 };
	key_t key;
	const char *name = test_sem_name(&key);
	struct semid_ds ds;
	struct stat st;
	int id;

	assert_int_equal(*test_sem_option(), 1);
	assert_int_equal(sysv_sem_kind.create(name, 0640, &caller), 0);
	id = semget(key, 0, 0);
	assert_true(id >= 0);
	assert_int_equal(semctl(id, 0, IPC_STAT, &ds), 0);
	assert_int_equal(ds.sem_nsems, 1);
	assert_int_equal(ds.sem_perm.mode & 0777, 0640);
	assert_int_equal(ds.sem_perm.cuid, 4321);
	assert_int_equal(test_sem_value(id), 1);
	assert_int_equal(sysv_sem_kind.stat(name, &st), 0);
	assert_int_equal(st.st_uid, 4321);
	assert_int_equal(st.st_gid, 5432);
	assert_int_equal(sysv_sem_kind.create(name, 0600, &caller), -EEXIST);
	assert_string_equal(test_sem_attr(name, "values"), "1\n");
	assert_string_equal(test_sem_attr(name, "nsems"), "1\n");
}

/* A mode that denies the owner alter permission still gets its value. */
static void test_sem_create_read_only(void **state)
{
	struct ipc_caller caller = { .uid = 4321, .gid = 5432 };
	key_t key;
	const char *name = test_sem_name(&key);
	struct semid_ds ds;
	int id;

	*test_sem_option() = 3;
	assert_int_equal(sysv_sem_kind.create(name, 0400, &caller), 0);
	id = semget(key, 0, 0);
	assert_int_equal(semctl(id, 0, IPC_STAT, &ds), 0);
	assert_int_equal(ds.sem_perm.mode & 0777, 0400);
	assert_int_equal(test_sem_value(id), 3);
}

/* Past SEMVMX: the kernel's ERANGE, and no set left behind. */
static void test_sem_create_range(void **state)
{
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	key_t key;
	const char *name = test_sem_name(&key);

	*test_sem_option() = 32768;
	assert_int_equal(sysv_sem_kind.create(name, 0600, &caller), -ERANGE);
	assert_int_equal(semget(key, 0, 0), -1);
	assert_int_equal(errno, ENOENT);
	test_sem_make(name, 32767);
	assert_string_equal(test_sem_attr(name, "values"), "32767\n");
}

/* values: every semaphore of a native set; nsems, id. */
static void test_sem_values(void **state)
{
	unsigned short set[3] = { 4, 0, 32767 };
	key_t key;
	const char *name = test_sem_name(&key);
	const struct ipc_file *f = test_sem_file("values");
	char want[32], small[4];
	int id;

	id = semget(key, 3, IPC_CREAT | IPC_EXCL | 0600);
	assert_true(id >= 0);
	assert_int_equal(semctl(id, 0, SETALL, set), 0);
	assert_string_equal(test_sem_attr(name, "values"), "4 0 32767\n");
	assert_string_equal(test_sem_attr(name, "nsems"), "3\n");
	snprintf(want, sizeof(want), "%d\n", id);
	assert_string_equal(test_sem_attr(name, "id"), want);
	/* Too small a buffer: the length it needs, as snprintf. */
	assert_int_equal(f->get(name, f->arg, small, sizeof(small)), 10);
	assert_memory_equal(small, "4 0", 4);
}

/* post: all N in one semop, or nothing; sem/'s text rules. */
static void test_sem_post_text(void **state)
{
	key_t key;
	const char *name = test_sem_name(&key);
	int id = test_sem_make(name, 0);

	assert_int_equal(test_sem_post(name, ""), 0);
	assert_int_equal(test_sem_post(name, "\n"), 0);
	assert_int_equal(test_sem_value(id), 2);
	assert_int_equal(test_sem_post(name, "5\n"), 0);
	assert_int_equal(test_sem_post(name, "0"), 0);
	assert_int_equal(test_sem_value(id), 7);
	assert_int_equal(test_sem_post(name, "32767"), -ERANGE);
	assert_int_equal(test_sem_post(name, "32768"), -ERANGE);
	assert_int_equal(test_sem_post(name, "99999999999999999999999"),
			 -ERANGE);
	assert_int_equal(test_sem_value(id), 7);
	assert_int_equal(test_sem_post(name, "32760"), 0);
	assert_int_equal(test_sem_value(id), 32767);
	assert_int_equal(test_sem_post(name, "abc"), -EINVAL);
	assert_int_equal(test_sem_post(name, "-1"), -EINVAL);
	assert_int_equal(test_sem_post(name, "1 "), -EINVAL);
	assert_int_equal(test_sem_post(name, "\n\n"), -EINVAL);
	assert_int_equal(test_sem_value(id), 32767);
}

/* wait: the first read takes a unit, the next ones nothing; unread gives
 * it back. */
static void test_sem_wait(void **state)
{
	key_t key;
	const char *name = test_sem_name(&key);
	struct ipc_wait w;
	void *fh, *fh2;
	int id = test_sem_make(name, 1);

	fh = test_sem_open("wait", name);
	assert_int_equal(test_sem_read(fh, &w), 0);
	assert_int_equal(test_sem_value(id), 0);
	/* Its reader never learnt it: the unit goes back. */
	test_sem_ops("wait")->unread(fh, NULL, 0);
	assert_int_equal(test_sem_value(id), 1);
	assert_int_equal(test_sem_read(fh, &w), 0);
	assert_int_equal(test_sem_value(id), 0);
	assert_int_equal(test_sem_read(fh, &w), 0);
	test_sem_ops("wait")->unread(fh, NULL, 0); /* that read took none */
	assert_int_equal(test_sem_value(id), 0);
	fh2 = test_sem_open("wait", name);
	assert_int_equal(test_sem_ops("wait")->poll(fh2, &w.wq), 0);
	assert_int_equal(test_sem_read(fh2, &w), -EAGAIN);
	assert_non_null(w.wq);
	assert_int_equal(w.events, POLLIN);
	test_sem_release(fh); /* consumed: nothing back */
	assert_int_equal(test_sem_value(id), 0);
	test_sem_native_op(id, +1);
	assert_int_equal(test_sem_poll_settle(fh2, POLLIN, 500), POLLIN);
}

/* hold: the open takes a unit, the release gives it back. */
static void test_sem_hold(void **state)
{
	key_t key;
	const char *name = test_sem_name(&key);
	struct ipc_wait w;
	void *a, *b;
	int id = test_sem_make(name, 1);

	a = test_sem_open("hold", name);
	b = test_sem_open("hold", name);
	assert_int_equal(test_sem_acquire(a, &w), 0);
	assert_int_equal(test_sem_value(id), 0);
	assert_int_equal(test_sem_acquire(b, &w), -EAGAIN);
	assert_non_null(w.wq);
	test_sem_release(a);
	assert_int_equal(test_sem_value(id), 1);
	test_sem_release(b); /* took nothing: gives nothing */
	assert_int_equal(test_sem_value(id), 1);
}

/*
 * Run fn(name) in a child that then exits without releasing anything: the
 * kernel applies its undo list. The child's status.
 */
static int test_sem_in_child(void (*fn)(const char *name), const char *name)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		fn(name);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void test_sem_child_hold(const char *name)
{
	struct ipc_wait w;
	void *fh = NULL;

	if (test_sem_ops("hold")->open(name, O_RDONLY, &fh) < 0 ||
	    test_sem_ops("hold")->acquire(fh, &w) < 0)
		_exit(1);
}

/* A holder that dies without a release (the daemon, kill -9): SEM_UNDO. */
static void test_sem_hold_undo(void **state)
{
	key_t key;
	const char *name = test_sem_name(&key);
	int id = test_sem_make(name, 1);

	assert_int_equal(test_sem_in_child(test_sem_child_hold, name), 0);
	assert_int_equal(test_sem_value(id), 1);
}

/* In a child: a wait parks, a native post comes, the helper banks it and
 * the retry claims it. The child then exits with the unit consumed. */
static void test_sem_child_wait_banked(const char *name)
{
	struct ipc_wait w;
	void *fh = NULL;
	key_t key;
	int id, i;

	if (!sysv_key_of(name, &key) || (id = semget(key, 0, 0)) < 0 ||
	    test_sem_ops("wait")->open(name, O_RDONLY, &fh) < 0 ||
	    test_sem_read(fh, &w) != -EAGAIN || !w.wq)
		_exit(1);
	test_sem_fake_waiter(w.wq, true);
	test_sem_native_op(id, +1);
	for (i = 0; i < 100 && test_sem_read(fh, &w) != 0; i++)
		test_sem_sleep_ms(10);
	_exit(i < 100 && test_sem_value(id) == 0 ? 0 : 2);
}

/* A wait that claims a banked unit keeps no undo of it. */
static void test_sem_wait_banked(void **state)
{
	key_t key;
	const char *name = test_sem_name(&key);
	int id = test_sem_make(name, 0);

	assert_int_equal(test_sem_in_child(test_sem_child_wait_banked, name),
			 0);
	assert_int_equal(test_sem_value(id), 0);
}

/* The helper takes for a waiter, and what nobody claims goes back. */
static void test_sem_helper(void **state)
{
	key_t key;
	const char *name = test_sem_name(&key);
	struct ipc_waitq *wq;
	struct ipc_wait w;
	void *fh, *hold;
	int id = test_sem_make(name, 0);

	fh = test_sem_open("wait", name);
	hold = test_sem_open("hold", name);
	assert_int_equal(test_sem_read(fh, &w), -EAGAIN);
	wq = w.wq;
	test_sem_fake_waiter(wq, true);
	test_sem_native_op(id, +1);
	assert_int_equal(test_sem_value_settle(id, 0, 1000), 0);
	assert_int_equal(test_sem_poll_settle(fh, POLLIN, 1000), POLLIN);
	/* A hold claims it as it is: with undo, given back at release. */
	assert_int_equal(test_sem_acquire(hold, &w), 0);
	assert_int_equal(test_sem_value(id), 0);
	/* Given back, and banked again for the waiter still there. */
	test_sem_release(hold);
	assert_int_equal(test_sem_value_settle(id, 0, 1000), 0);
	/* Banked for a waiter that left: back to the set. */
	test_sem_fake_waiter(wq, false);
	assert_int_equal(test_sem_value_settle(id, 1, 1000), 1);
	assert_int_equal(test_sem_read(fh, &w), 0);
	assert_int_equal(test_sem_value(id), 0);
}

/* ipcrm -s: the helper's semtimedop ends with EIDRM, waiters see it. */
static void test_sem_removed_natively(void **state)
{
	key_t key;
	const char *name = test_sem_name(&key);
	struct ipc_waitq *wq;
	struct ipc_wait w;
	void *fh, *hold;
	int id = test_sem_make(name, 0), i;

	fh = test_sem_open("wait", name);
	hold = test_sem_open("hold", name);
	assert_int_equal(test_sem_read(fh, &w), -EAGAIN);
	wq = w.wq;
	test_sem_fake_waiter(wq, true);
	test_sem_sleep_ms(50); /* the helper in its semtimedop */
	assert_int_equal(semctl(id, 0, IPC_RMID), 0);
	for (i = 0;
	     i < 100 && !__atomic_load_n(&wq->pending_all, __ATOMIC_SEQ_CST);
	     i++)
		test_sem_sleep_ms(10);
	assert_true(i < 50); /* well within a second */
	assert_int_equal(test_sem_read(fh, &w), -EIDRM);
	assert_int_equal(test_sem_acquire(hold, &w), -EIDRM);
	assert_int_equal(test_sem_post(name, ""), -ENOENT);
	assert_int_equal(sysv_sem_kind.remove(name), -ENOENT);
}

/* rmdir: IPC_RMID, and the tree's waiters see EIDRM at once. */
static void test_sem_remove(void **state)
{
	key_t key;
	const char *name = test_sem_name(&key);
	struct ipc_wait w;
	void *fh;

	test_sem_make(name, 0);
	fh = test_sem_open("wait", name);
	assert_int_equal(test_sem_read(fh, &w), -EAGAIN);
	assert_int_equal(sysv_sem_kind.remove(name), 0);
	assert_int_equal(semget(key, 0, 0), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(test_sem_read(fh, &w), -EIDRM);
	assert_int_equal(test_sem_ops("wait")->poll(fh, &w.wq), POLLIN);
}

/* IPC_PRIVATE: id.N, usable. */
static void test_sem_private(void **state)
{
	char name[SYSV_NAME_MAX + 1];
	struct ipc_wait w;
	void *fh;
	int id;

	id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	assert_true(id >= 0);
	test_sem_fix.private_id = id;
	snprintf(name, sizeof(name), "id.%d", id);
	assert_string_equal(test_sem_attr(name, "values"), "0 0\n");
	assert_int_equal(test_sem_post(name, "2"), 0);
	fh = test_sem_open("wait", name);
	assert_int_equal(test_sem_read(fh, &w), 0);
	assert_string_equal(test_sem_attr(name, "values"), "1 0\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define TEST_SEM_CASE(fn)                                                      \
	cmocka_unit_test_setup_teardown(fn, test_sem_setup, test_sem_teardown)
		TEST_SEM_CASE(test_sem_create),
		TEST_SEM_CASE(test_sem_create_read_only),
		TEST_SEM_CASE(test_sem_create_range),
		TEST_SEM_CASE(test_sem_values),
		TEST_SEM_CASE(test_sem_post_text),
		TEST_SEM_CASE(test_sem_wait),
		TEST_SEM_CASE(test_sem_hold),
		TEST_SEM_CASE(test_sem_hold_undo),
		TEST_SEM_CASE(test_sem_wait_banked),
		TEST_SEM_CASE(test_sem_helper),
		TEST_SEM_CASE(test_sem_removed_natively),
		TEST_SEM_CASE(test_sem_remove),
		TEST_SEM_CASE(test_sem_private),
#undef TEST_SEM_CASE
	};

	return cmocka_run_group_tests_name("sysv_sem", tests,
					   test_sem_group_setup, NULL);
}

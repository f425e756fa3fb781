// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_sem.c - unit tests of sem/NAME (backends/sem.c), no mount.
 *
 * Each test calls semaphore_kind's operations directly (create, remove, stat,
 * chmod, chown, list, the value and post attribute files, the wait and hold
 * handles) and checks the result on the other side with the native API:
 * sem_open, sem_getvalue, sem_post, and /dev/shm/sem.NAME itself. Exact
 * values, modes and errno values are asserted. Operations never block:
 * where one would, it must return -EAGAIN and name the wait queue and the
 * event to await.
 *
 *   $ ninja -C build && build/tests/test_sem
 *   [==========] 23 test(s) run.
 *
 * The wait queue machinery (fs/park.c) works without its event loop: a
 * -EAGAIN starts the semaphore's helper thread, which with nobody parked
 * ends within a period or two (100 ms each), and fs_helpers_drain() waits
 * for helpers. Threads are counted in /proc/self/task. Every name a test makes
 * is /ut<pid>_sem_<n>; the teardown unlinks it as a semaphore and as a shm
 * segment, whatever the test did.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs.h"

extern const struct ipc_kind semaphore_kind;

#define TEST_SEM_NAMES 4
#define TEST_SEM_HANDLES 16
#define TEST_SEM_NATIVES 4

/* What a test made, so that its teardown can undo it if an assertion fails. */
struct test_sem_fixture {
	char names[TEST_SEM_NAMES][NAME_MAX + 2];
	int nnames;
	struct {
		const struct ipc_stream_ops *ops;
		void *fh;
	} handles[TEST_SEM_HANDLES];
	sem_t *natives[TEST_SEM_NATIVES];
	int nnatives;
	struct ipc_waitq *faked; /* a wait queue given a pretend waiter */
};

static struct test_sem_fixture test_sem_fix;
static unsigned int test_sem_seq;
static long test_sem_saved_value;
static int test_sem_base_threads; /* before any helper ran */

/* Stands in for a request parked in fs/park.c; never dereferenced there. */
static char test_sem_fake_park;

/* The sem_value mount option: the value mkdir gives. */
static long *test_sem_option(void)
{
	const struct ipc_option *o = &semaphore_kind.options[0];

	assert_non_null(o->name);
	assert_string_equal(o->name, "sem_value");
	return o->value;
}

/* A file of a semaphore's directory, by name. */
static const struct ipc_file *test_sem_file(const char *name)
{
	const struct ipc_file *f;

	for (f = semaphore_kind.files; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	fail_msg("semaphore_kind has no file %s", name);
	return NULL;
}

static const struct ipc_stream_ops *test_sem_ops(const char *file)
{
	const struct ipc_stream_ops *ops = test_sem_file(file)->ops;

	assert_non_null(ops);
	return ops;
}

/* A fresh name, unlinked by the teardown. */
static const char *test_sem_name(void)
{
	struct test_sem_fixture *f = &test_sem_fix;
	char *name;

	assert_true(f->nnames < TEST_SEM_NAMES);
	name = f->names[f->nnames++];
	snprintf(name, sizeof(f->names[0]), "/ut%ld_sem_%u", (long)getpid(),
		 test_sem_seq++);
	return name;
}

/* /dev/shm/sem.NAME, where glibc keeps semaphore NAME: one buffer. */
static const char *test_sem_path(const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "/dev/shm/sem.%s", name + 1);
	return path;
}

static sem_t *test_sem_track(sem_t *sem)
{
	struct test_sem_fixture *f = &test_sem_fix;

	assert_true(f->nnatives < TEST_SEM_NATIVES);
	f->natives[f->nnatives++] = sem;
	return sem;
}

/* Make semaphore NAME natively, of VALUE. */
static sem_t *test_sem_native(const char *name, mode_t mode, unsigned int value)
{
	sem_t *sem = sem_open(name, O_CREAT | O_EXCL, mode, value);

	if (sem == SEM_FAILED)
		fail_msg("sem_open %s: %s", name, strerror(errno));
	return test_sem_track(sem);
}

/* Open an existing semaphore natively (made by semaphore_kind.create). */
static sem_t *test_sem_native_open(const char *name)
{
	sem_t *sem = sem_open(name, 0);

	if (sem == SEM_FAILED)
		fail_msg("sem_open %s: %s", name, strerror(errno));
	return test_sem_track(sem);
}

static int test_sem_value(sem_t *sem)
{
	int val = -1;

	assert_int_equal(sem_getvalue(sem, &val), 0);
	return val;
}

/* Open FILE ("wait", "hold") of semaphore NAME; released by the teardown. */
static void *test_sem_open(const char *file, const char *name)
{
	struct test_sem_fixture *f = &test_sem_fix;
	const struct ipc_stream_ops *ops = test_sem_ops(file);
	void *fh = NULL;
	int i;

	for (i = 0; i < TEST_SEM_HANDLES && f->handles[i].fh; i++)
		;
	assert_true(i < TEST_SEM_HANDLES);
	assert_int_equal(ops->open(name, O_RDONLY, &fh), 0);
	assert_non_null(fh);
	f->handles[i].ops = ops;
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

/* One read of a wait handle into a small buffer. */
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

static int test_sem_post(const char *name, const char *buf)
{
	return test_sem_file("post")->set(name, buf, strlen(buf), NULL);
}

static int test_sem_threads(void)
{
	struct dirent *de;
	DIR *d = opendir("/proc/self/task");
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void test_sem_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Wait up to MS milliseconds for the process to have N threads. */
static int test_sem_threads_settle(int n, long ms)
{
	int now = test_sem_threads();

	for (; now != n && ms > 0; ms -= 10) {
		test_sem_sleep_ms(10);
		now = test_sem_threads();
	}
	return now;
}

/* Wait up to MS milliseconds for SEM's value to be VAL. */
static int test_sem_value_settle(sem_t *sem, int val, long ms)
{
	int now = test_sem_value(sem);

	for (; now != val && ms > 0; ms -= 10) {
		test_sem_sleep_ms(10);
		now = test_sem_value(sem);
	}
	return now;
}

/* Wait up to MS milliseconds for wait handle FH to poll EV. */
static unsigned int test_sem_poll_settle(void *fh, unsigned int ev, long ms)
{
	const struct ipc_stream_ops *ops = test_sem_ops("wait");
	struct ipc_waitq *wq;
	unsigned int now = ops->poll(fh, &wq);

	for (; now != ev && ms > 0; ms -= 10) {
		test_sem_sleep_ms(10);
		now = ops->poll(fh, &wq);
	}
	return now;
}

/*
 * Pretend a request is parked on wq, as fs/park.c would have it after a
 * -EAGAIN: the helper then takes units and banks them. The teardown undoes
 * it, or the helper would never end.
 */
static void test_sem_fake_waiter(struct ipc_waitq *wq, bool on)
{
	__atomic_store_n(&wq->parked[0],
			 on ? (struct fs_park *)&test_sem_fake_park : NULL,
			 __ATOMIC_SEQ_CST);
	test_sem_fix.faked = on ? wq : NULL;
}

static int test_sem_group_setup(void **state)
{
	/* Modes must come out as asked, as under the daemon (main.c). */
	umask(0);
	test_sem_saved_value = *test_sem_option();
	test_sem_base_threads = test_sem_threads();
	return semaphore_kind.init();
}

static int test_sem_group_teardown(void **state)
{
	fs_helpers_drain();
	semaphore_kind.fini();
	*test_sem_option() = test_sem_saved_value;
	return 0;
}

static int test_sem_setup(void **state)
{
	memset(&test_sem_fix, 0, sizeof(test_sem_fix));
	/* A helper fini() waited for may still be leaving the kernel. */
	if (test_sem_threads_settle(test_sem_base_threads, 1000) !=
	    test_sem_base_threads)
		return -1;
	return 0;
}

static int test_sem_teardown(void **state)
{
	struct test_sem_fixture *f = &test_sem_fix;
	int i;

	if (f->faked)
		test_sem_fake_waiter(f->faked, false);
	for (i = 0; i < TEST_SEM_HANDLES; i++)
		if (f->handles[i].fh)
			f->handles[i].ops->release(f->handles[i].fh);
	for (i = 0; i < f->nnatives; i++)
		sem_close(f->natives[i]);
	for (i = 0; i < f->nnames; i++) {
		sem_unlink(f->names[i]);
		shm_unlink(f->names[i]);
	}
	*test_sem_option() = test_sem_saved_value;
	memset(f, 0, sizeof(*f));
	/* No helper outlives its test: thread counts start afresh. */
	fs_helpers_drain();
	semaphore_kind.fini();
	return semaphore_kind.init();
}

/* create makes a semaphore of value 1 (the default), the mode asked. */
static void test_sem_create(void **state)
{
	const char *name = test_sem_name();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	struct stat st;
	sem_t *sem;

	assert_int_equal(*test_sem_option(), 1);
	assert_int_equal(semaphore_kind.create(name, 0640, &caller), 0);
	sem = test_sem_native_open(name);
	assert_int_equal(test_sem_value(sem), 1);
	assert_int_equal(stat(test_sem_path(name), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, caller.uid);
	assert_int_equal(st.st_gid, caller.gid);

	memset(&st, 0, sizeof(st));
	assert_int_equal(semaphore_kind.stat(name, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, caller.uid);
}

/* -o sem_value=N: mkdir makes semaphores of value N. */
static void test_sem_create_value(void **state)
{
	const char *name = test_sem_name();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	const struct ipc_option *o = &semaphore_kind.options[0];

	assert_int_equal(o->min, 0);
	assert_int_equal(o->max, SEM_VALUE_MAX);
	*test_sem_option() = 5;
	assert_int_equal(semaphore_kind.create(name, 0600, &caller), 0);
	assert_int_equal(test_sem_value(test_sem_native_open(name)), 5);

	name = test_sem_name();
	*test_sem_option() = 0;
	assert_int_equal(semaphore_kind.create(name, 0600, &caller), 0);
	assert_int_equal(test_sem_value(test_sem_native_open(name)), 0);
	*test_sem_option() = test_sem_saved_value;
}

/* The new semaphore is the caller's, whoever the daemon is (root here). */
static void test_sem_create_owner(void **state)
{
	const char *name = test_sem_name();
	struct ipc_caller caller = { .uid = 4321, .gid = 5432 };
	struct stat st;

	if (geteuid() != 0)
		skip();
	assert_int_equal(semaphore_kind.create(name, 0600, &caller), 0);
	assert_int_equal(stat(test_sem_path(name), &st), 0);
	assert_int_equal(st.st_uid, 4321);
	assert_int_equal(st.st_gid, 5432);
}

static void test_sem_create_exists(void **state)
{
	const char *name = test_sem_name();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	sem_t *sem;

	assert_int_equal(semaphore_kind.create(name, 0600, &caller), 0);
	sem = test_sem_native_open(name);
	assert_int_equal(sem_post(sem), 0);
	*test_sem_option() = 7;
	assert_int_equal(semaphore_kind.create(name, 0644, &caller), -EEXIST);
	/* The refused mkdir left it alone. */
	assert_int_equal(test_sem_value(sem), 2);
	/* A native semaphore of that name is as good as one made through us. */
	name = test_sem_name();
	test_sem_native(name, 0600, 0);
	assert_int_equal(semaphore_kind.create(name, 0600, &caller), -EEXIST);
}

/* The longest name the kind allows fits /dev/shm's NAME_MAX. */
static void test_sem_create_name_max(void **state)
{
	char *name = (char *)test_sem_name();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	size_t len = strlen(name);

	assert_int_equal(semaphore_kind.name_max, NAME_MAX - 4);
	memset(name + len, 'n', semaphore_kind.name_max - (len - 1));
	name[semaphore_kind.name_max + 1] = '\0';
	assert_int_equal(strlen(name), semaphore_kind.name_max + 1);
	assert_int_equal(semaphore_kind.create(name, 0600, &caller), 0);
	assert_int_equal(access(test_sem_path(name), F_OK), 0);
	assert_int_equal(test_sem_value(test_sem_native_open(name)), 1);
}

static void test_sem_missing(void **state)
{
	const char *name = test_sem_name();
	struct stat st;
	char buf[16];

	assert_int_equal(semaphore_kind.stat(name, &st), -ENOENT);
	assert_int_equal(semaphore_kind.chmod(name, 0600), -ENOENT);
	assert_int_equal(semaphore_kind.chown(name, getuid(), getgid()),
			 -ENOENT);
	assert_int_equal(semaphore_kind.remove(name), -ENOENT);
	assert_int_equal(
		test_sem_ops("wait")->open(name, O_RDONLY, &(void *){ NULL }),
		-ENOENT);
	assert_int_equal(
		test_sem_ops("hold")->open(name, O_RDONLY, &(void *){ NULL }),
		-ENOENT);
	assert_int_equal(test_sem_file("value")->get(name, 0, buf, sizeof(buf)),
			 -ENOENT);
	assert_int_equal(test_sem_post(name, "\n"), -ENOENT);
	/* Nothing was made on the way. */
	assert_int_equal(access(test_sem_path(name), F_OK), -1);
}

static void test_sem_remove(void **state)
{
	const char *name = test_sem_name();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	struct stat st;

	assert_int_equal(semaphore_kind.create(name, 0600, &caller), 0);
	assert_int_equal(semaphore_kind.remove(name), 0);
	assert_ptr_equal(sem_open(name, 0), SEM_FAILED);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(access(test_sem_path(name), F_OK), -1);
	assert_int_equal(semaphore_kind.stat(name, &st), -ENOENT);
	assert_int_equal(semaphore_kind.remove(name), -ENOENT);
}

static void test_sem_chmod(void **state)
{
	const char *name = test_sem_name();
	struct stat st;

	test_sem_native(name, 0600, 0);
	assert_int_equal(semaphore_kind.chmod(name, 0604), 0);
	assert_int_equal(stat(test_sem_path(name), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0604);
	assert_int_equal(semaphore_kind.stat(name, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0604);
	assert_int_equal(semaphore_kind.chown(name, getuid(), getgid()), 0);
	if (geteuid() == 0) {
		assert_int_equal(semaphore_kind.chown(name, 1234, 2345), 0);
		assert_int_equal(stat(test_sem_path(name), &st), 0);
		assert_int_equal(st.st_uid, 1234);
		assert_int_equal(st.st_gid, 2345);
	}
}

struct test_sem_seen {
	const char *want;
	const char *unwanted;
	int found;
	int found_unwanted;
	int calls;
	int stop; /* what fill returns */
};

static int test_sem_fill(void *ctx, const char *name)
{
	struct test_sem_seen *s = ctx;

	s->calls++;
	if (strcmp(name, s->want) == 0)
		s->found++;
	if (s->unwanted && strcmp(name, s->unwanted) == 0)
		s->found_unwanted++;
	/* Every name is a POSIX name: no "sem." left on it. */
	if (name[0] != '/' || strncmp(name + 1, "sem.", 4) == 0)
		s->found_unwanted++;
	return s->stop;
}

/* list sees semaphores made natively, by their full POSIX name, not shm. */
static void test_sem_list(void **state)
{
	const char *name = test_sem_name();
	const char *seg = test_sem_name();
	struct test_sem_seen seen = { .want = name, .unwanted = seg };
	int fd;

	test_sem_native(name, 0600, 0);
	fd = shm_open(seg, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(semaphore_kind.list(test_sem_fill, &seen), 0);
	assert_int_equal(seen.found, 1);
	assert_int_equal(seen.found_unwanted, 0);

	/* A non-zero fill stops the walk, and list returns what fill did. */
	seen = (struct test_sem_seen){ .want = name, .stop = 42 };
	assert_int_equal(semaphore_kind.list(test_sem_fill, &seen), 42);
	assert_int_equal(seen.calls, 1);

	/* Gone once unlinked. */
	assert_int_equal(sem_unlink(name), 0);
	seen = (struct test_sem_seen){ .want = name };
	assert_int_equal(semaphore_kind.list(test_sem_fill, &seen), 0);
	assert_int_equal(seen.found, 0);
}

/* value: "N\n", as sysfs; reading it takes nothing. */
static void test_sem_value_get(void **state)
{
	const char *name = test_sem_name();
	const struct ipc_file *value = test_sem_file("value");
	sem_t *sem = test_sem_native(name, 0600, 0);
	char buf[32];

	assert_non_null(value->get);
	assert_null(test_sem_file("value")->set);
	assert_int_equal(test_sem_file("value")->mode, 0444);
	assert_int_equal(value->get(name, value->arg, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "0\n");
	assert_int_equal(sem_post(sem), 0);
	assert_int_equal(sem_post(sem), 0);
	assert_int_equal(sem_post(sem), 0);
	assert_int_equal(value->get(name, value->arg, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "3\n");
	assert_int_equal(test_sem_value(sem), 3);

	/* A native semaphore made with a value shows it. */
	name = test_sem_name();
	test_sem_native(name, 0600, 1234);
	assert_int_equal(value->get(name, value->arg, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "1234\n");
}

/* post: an empty line posts once, a decimal N posts N times. */
static void test_sem_post_set(void **state)
{
	const char *name = test_sem_name();
	sem_t *sem = test_sem_native(name, 0600, 0);

	assert_null(test_sem_file("post")->get);
	assert_null(test_sem_file("post")->ops);
	assert_int_equal(test_sem_file("post")->mode, 0222);
	assert_int_equal(test_sem_post(name, "\n"), 0);
	assert_int_equal(test_sem_value(sem), 1);
	assert_int_equal(test_sem_post(name, "3"), 0);
	assert_int_equal(test_sem_value(sem), 4);
	assert_int_equal(test_sem_post(name, "2\n"), 0);
	assert_int_equal(test_sem_value(sem), 6);
	assert_int_equal(test_sem_post(name, "0\n"), 0);
	assert_int_equal(test_sem_value(sem), 6);
	assert_int_equal(test_sem_post(name, "1000\n"), 0);
	assert_int_equal(test_sem_value(sem), 1006);
}

/* Anything but an empty line or a decimal: EINVAL, nothing posted. */
static void test_sem_post_invalid(void **state)
{
	static const char *const bad[] = {
		"abc", "abc\n", "-1",  "-1\n", "3x",	"x3",  " 3",   "3 ",
		"+3",  "0x3",	"1.5", "\n\n", "3\n\n", "1 2", "\t\n", "3\n4",
	};
	const char *name = test_sem_name();
	sem_t *sem = test_sem_native(name, 0600, 2);
	size_t i;
	int ret;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ret = test_sem_post(name, bad[i]);
		if (ret != -EINVAL)
			fail_msg("post of \"%s\": %d, expected -EINVAL", bad[i],
				 ret);
		assert_int_equal(test_sem_value(sem), 2);
	}
}

/* N above SEM_VALUE_MAX, or past it with the value now: EOVERFLOW. */
static void test_sem_post_overflow(void **state)
{
	const char *name = test_sem_name();
	sem_t *sem = test_sem_native(name, 0600, 0);
	char buf[32];

	assert_int_equal(test_sem_post(name, "99999999999"), -EOVERFLOW);
	assert_int_equal(test_sem_post(name, "99999999999\n"), -EOVERFLOW);
	assert_int_equal(test_sem_post(name, "99999999999999999999999"),
			 -EOVERFLOW);
	snprintf(buf, sizeof(buf), "%ld\n", (long)SEM_VALUE_MAX + 1);
	assert_int_equal(test_sem_post(name, buf), -EOVERFLOW);
	assert_int_equal(test_sem_value(sem), 0);

	/* Near the top: what would pass it posts nothing. */
	name = test_sem_name();
	sem = test_sem_native(name, 0600, SEM_VALUE_MAX - 2);
	assert_int_equal(test_sem_post(name, "3\n"), -EOVERFLOW);
	assert_int_equal(test_sem_value(sem), SEM_VALUE_MAX - 2);
	assert_int_equal(test_sem_post(name, "2\n"), 0);
	assert_int_equal(test_sem_value(sem), SEM_VALUE_MAX);
	assert_int_equal(test_sem_post(name, "\n"), -EOVERFLOW);
	assert_int_equal(test_sem_post(name, "1"), -EOVERFLOW);
	assert_int_equal(test_sem_post(name, "0"), 0);
	assert_int_equal(test_sem_value(sem), SEM_VALUE_MAX);
}

/* wait: the first read takes one unit and returns 0 (EOF); later reads 0. */
static void test_sem_wait_read(void **state)
{
	const char *name = test_sem_name();
	sem_t *sem = test_sem_native(name, 0600, 2);
	const struct ipc_file *file = test_sem_file("wait");
	struct ipc_wait w;
	void *fh, *fh2;

	assert_int_equal(file->mode, 0444);
	assert_null(file->ops->write);
	assert_null(file->ops->acquire);
	fh = test_sem_open("wait", name);
	/* Opening takes nothing. */
	assert_int_equal(test_sem_value(sem), 2);
	assert_int_equal(test_sem_read(fh, &w), 0);
	assert_null(w.wq);
	assert_int_equal(test_sem_value(sem), 1);
	assert_int_equal(test_sem_read(fh, &w), 0);
	assert_int_equal(test_sem_read(fh, &w), 0);
	assert_null(w.wq);
	assert_int_equal(test_sem_value(sem), 1);

	fh2 = test_sem_open("wait", name);
	assert_int_equal(test_sem_read(fh2, &w), 0);
	assert_int_equal(test_sem_value(sem), 0);
	/* The unit is consumed: releasing the file does not give it back. */
	test_sem_release(fh);
	test_sem_release(fh2);
	assert_int_equal(test_sem_value(sem), 0);
}

/* wait at 0: -EAGAIN, POLLIN on the semaphore's queue; the retry takes. */
static void test_sem_wait_empty(void **state)
{
	const char *name = test_sem_name();
	sem_t *sem = test_sem_native(name, 0600, 0);
	const struct ipc_stream_ops *ops = test_sem_ops("wait");
	struct ipc_waitq *pwq = NULL;
	struct ipc_wait w;
	void *fh = test_sem_open("wait", name);
	void *fh2 = test_sem_open("wait", name);

	assert_int_equal(test_sem_read(fh, &w), -EAGAIN);
	assert_non_null(w.wq);
	assert_int_equal(w.events, POLLIN);
	/* No descriptor: the helper wakes it. */
	assert_int_equal(w.wq->src.fd, -1);
	ops->poll(fh, &pwq);
	assert_ptr_equal(pwq, w.wq);
	assert_int_equal(test_sem_value(sem), 0);
	/* Still nothing: -EAGAIN again, and nothing taken. */
	assert_int_equal(test_sem_read(fh, &w), -EAGAIN);
	assert_int_equal(test_sem_read(fh2, &w), -EAGAIN);
	assert_int_equal(test_sem_value(sem), 0);

	/* The retry once a unit came takes it; the other still waits. */
	assert_int_equal(sem_post(sem), 0);
	assert_int_equal(test_sem_read(fh, &w), 0);
	assert_null(w.wq);
	assert_int_equal(test_sem_value(sem), 0);
	assert_int_equal(test_sem_read(fh2, &w), -EAGAIN);
	assert_int_equal(test_sem_read(fh, &w), 0);
	assert_int_equal(test_sem_value(sem), 0);
}

/* unread: the reader never learnt it took the unit, so it goes back. */
static void test_sem_wait_unread(void **state)
{
	const char *name = test_sem_name();
	sem_t *sem = test_sem_native(name, 0600, 1);
	const struct ipc_stream_ops *ops = test_sem_ops("wait");
	struct ipc_wait w;
	void *fh = test_sem_open("wait", name);

	assert_int_equal(test_sem_read(fh, &w), 0);
	assert_int_equal(test_sem_value(sem), 0);
	ops->unread(fh, NULL, 0);
	assert_int_equal(test_sem_value(sem), 1);
	/* The handle holds nothing now: its next read takes again. */
	assert_int_equal(test_sem_read(fh, &w), 0);
	assert_int_equal(test_sem_value(sem), 0);
	/* A later read took nothing: giving it back posts nothing. */
	assert_int_equal(test_sem_read(fh, &w), 0);
	ops->unread(fh, NULL, 0);
	assert_int_equal(test_sem_value(sem), 0);
	/* Nor does a read that failed. */
	fh = test_sem_open("wait", name);
	assert_int_equal(test_sem_read(fh, &w), -EAGAIN);
	ops->unread(fh, NULL, 0);
	assert_int_equal(test_sem_value(sem), 0);
	test_sem_release(fh);
	assert_int_equal(test_sem_value(sem), 0);
}

/* hold: acquiring takes a unit, releasing gives it back. */
static void test_sem_hold(void **state)
{
	const char *name = test_sem_name();
	sem_t *sem = test_sem_native(name, 0600, 1);
	const struct ipc_file *file = test_sem_file("hold");
	struct ipc_waitq *wq;
	struct ipc_wait w;
	void *a, *b;

	assert_int_equal(file->mode, 0444);
	assert_non_null(file->ops->acquire);
	assert_non_null(file->ops->release);
	assert_null(file->ops->write);
	a = test_sem_open("hold", name);
	assert_int_equal(test_sem_value(sem), 1);
	assert_int_equal(test_sem_acquire(a, &w), 0);
	assert_null(w.wq);
	assert_int_equal(test_sem_value(sem), 0);

	b = test_sem_open("hold", name);
	assert_int_equal(test_sem_acquire(b, &w), -EAGAIN);
	assert_non_null(w.wq);
	assert_int_equal(w.events, POLLIN);
	wq = w.wq;
	assert_int_equal(test_sem_value(sem), 0);

	test_sem_release(a);
	assert_int_equal(test_sem_value(sem), 1);
	assert_int_equal(test_sem_acquire(b, &w), 0);
	assert_int_equal(test_sem_value(sem), 0);
	test_sem_release(b);
	assert_int_equal(test_sem_value(sem), 1);

	/* A hold whose acquire failed gives back nothing it did not take. */
	a = test_sem_open("hold", name);
	b = test_sem_open("hold", name);
	assert_int_equal(test_sem_acquire(a, &w), 0);
	assert_int_equal(test_sem_acquire(b, &w), -EAGAIN);
	assert_ptr_equal(w.wq, wq);
	test_sem_release(b);
	assert_int_equal(test_sem_value(sem), 0);
	test_sem_release(a);
	assert_int_equal(test_sem_value(sem), 1);
}

/* poll on wait: POLLIN when a read would not block. */
static void test_sem_poll(void **state)
{
	const char *name = test_sem_name();
	sem_t *sem = test_sem_native(name, 0600, 0);
	const struct ipc_stream_ops *ops = test_sem_ops("wait");
	struct ipc_waitq *wq = NULL, *wq2 = NULL;
	struct ipc_wait w;
	void *fh = test_sem_open("wait", name);
	void *fh2 = test_sem_open("wait", name);

	assert_int_equal(ops->poll(fh, &wq), 0);
	assert_non_null(wq);
	assert_int_equal(ops->poll(fh2, &wq2), 0);
	assert_ptr_equal(wq, wq2);
	assert_int_equal(sem_post(sem), 0);
	assert_int_equal(ops->poll(fh, &wq), POLLIN);
	assert_int_equal(ops->poll(fh2, &wq), POLLIN);
	/* Polling took nothing. */
	assert_int_equal(test_sem_value(sem), 1);
	assert_int_equal(test_sem_read(fh, &w), 0);
	/* fh took its unit: its next read returns at once. */
	assert_int_equal(ops->poll(fh, &wq), POLLIN);
	assert_int_equal(ops->poll(fh2, &wq), 0);
	assert_int_equal(test_sem_read(fh2, &w), -EAGAIN);
}

/*
 * The helper thread: one per semaphore that has waiters, none per waiter,
 * and it ends within a slice or two of the waiters going.
 */
static void test_sem_helper_thread(void **state)
{
	const char *name = test_sem_name();
	sem_t *sem = test_sem_native(name, 0600, 0);
	struct ipc_wait w;
	int before = test_sem_threads(), i;
	void *fh[8];

	for (i = 0; i < 8; i++) {
		fh[i] = test_sem_open(i % 2 ? "hold" : "wait", name);
		if (i % 2)
			assert_int_equal(test_sem_acquire(fh[i], &w), -EAGAIN);
		else
			assert_int_equal(test_sem_read(fh[i], &w), -EAGAIN);
	}
	assert_int_equal(test_sem_threads(), before + 1);
	for (i = 0; i < 8; i++)
		test_sem_release(fh[i]);
	assert_int_equal(test_sem_threads_settle(before, 400), before);
	assert_int_equal(test_sem_value(sem), 0);

	/* A second semaphore gets its own. */
	fh[0] = test_sem_open("wait", name);
	assert_int_equal(test_sem_read(fh[0], &w), -EAGAIN);
	name = test_sem_name();
	test_sem_native(name, 0600, 0);
	fh[1] = test_sem_open("wait", name);
	assert_int_equal(test_sem_read(fh[1], &w), -EAGAIN);
	assert_int_equal(test_sem_threads(), before + 2);
	/* The handle need not go first: nobody parked, the helper ends. */
	assert_int_equal(test_sem_threads_settle(before, 400), before);
	test_sem_release(fh[0]);
	test_sem_release(fh[1]);
}

/*
 * fs_helpers_drain() (main.c calls it before the kinds' fini) waits for the
 * helpers, so none outlives the daemon's cleanup.
 */
static void test_sem_fini_waits(void **state)
{
	const char *name = test_sem_name();
	struct ipc_wait w;
	int before = test_sem_threads();
	void *fh;

	test_sem_native(name, 0600, 0);
	fh = test_sem_open("wait", name);
	assert_int_equal(test_sem_read(fh, &w), -EAGAIN);
	test_sem_release(fh);
	assert_int_equal(test_sem_threads(), before + 1);
	fs_helpers_drain();
	semaphore_kind.fini();
	/* The helper has said it is done; its thread ends at once. */
	assert_int_equal(test_sem_threads_settle(before, 30), before);
	assert_int_equal(semaphore_kind.init(), 0);
}

/*
 * While a request is parked, the helper takes units for it and banks them;
 * the retry gets the banked one. A unit banked for a waiter that went away
 * (interrupted) goes back to the semaphore: the wait took nothing.
 */
static void test_sem_helper_banks(void **state)
{
	const char *name = test_sem_name();
	sem_t *sem = test_sem_native(name, 0600, 0);
	const struct ipc_stream_ops *ops = test_sem_ops("wait");
	struct ipc_waitq *wq = NULL;
	struct ipc_wait w;
	void *fh = test_sem_open("wait", name);
	void *fh2 = test_sem_open("wait", name);
	int before = test_sem_threads();

	assert_int_equal(test_sem_read(fh, &w), -EAGAIN);
	wq = w.wq;
	test_sem_fake_waiter(wq, true);
	assert_int_equal(test_sem_threads(), before + 1);
	assert_int_equal(sem_post(sem), 0);
	/* The helper takes it within a slice and wakes the queue. */
	assert_int_equal(test_sem_value_settle(sem, 0, 1000), 0);
	assert_int_equal(test_sem_poll_settle(fh2, POLLIN, 1000), POLLIN);
	assert_true(__atomic_load_n(&wq->pending, __ATOMIC_SEQ_CST) & POLLIN);
	/* The retry gets the banked unit. */
	assert_int_equal(test_sem_read(fh, &w), 0);
	assert_int_equal(ops->poll(fh2, &wq), 0);
	test_sem_sleep_ms(250);
	assert_int_equal(test_sem_value(sem), 0);

	/* Banked for a waiter that is gone: back to the semaphore. */
	assert_int_equal(test_sem_read(fh2, &w), -EAGAIN);
	assert_int_equal(sem_post(sem), 0);
	assert_int_equal(test_sem_value_settle(sem, 0, 1000), 0);
	assert_int_equal(test_sem_poll_settle(fh2, POLLIN, 1000), POLLIN);
	test_sem_fake_waiter(wq, false);
	assert_int_equal(test_sem_value_settle(sem, 1, 1000), 1);
	assert_int_equal(test_sem_threads_settle(before, 1000), before);
	assert_int_equal(test_sem_value(sem), 1);
	assert_int_equal(test_sem_read(fh2, &w), 0);
	assert_int_equal(test_sem_value(sem), 0);
}

/* rmdir: every waiter is retried and gets EIDRM. */
static void test_sem_remove_wakes(void **state)
{
	const char *name = test_sem_name();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	const struct ipc_stream_ops *wait = test_sem_ops("wait");
	struct ipc_waitq *wq, *wq2 = NULL;
	struct ipc_wait w;
	void *wfh, *hfh, *held, *fresh;
	sem_t *sem;

	*test_sem_option() = 0;
	assert_int_equal(semaphore_kind.create(name, 0600, &caller), 0);
	wfh = test_sem_open("wait", name);
	hfh = test_sem_open("hold", name);
	assert_int_equal(test_sem_read(wfh, &w), -EAGAIN);
	wq = w.wq;
	assert_non_null(wq);
	assert_int_equal(test_sem_acquire(hfh, &w), -EAGAIN);
	assert_ptr_equal(w.wq, wq);
	assert_false(wq->pending_all);

	assert_int_equal(semaphore_kind.remove(name), 0);
	/* Every waiter is retried (fs/park.c marks the queue pending). */
	assert_true(wq->pending_all);
	assert_int_equal(test_sem_read(wfh, &w), -EIDRM);
	assert_null(w.wq);
	assert_int_equal(test_sem_acquire(hfh, &w), -EIDRM);
	assert_null(w.wq);
	/* A removed semaphore polls ready: the read would not block. */
	assert_int_equal(wait->poll(wfh, &wq2), POLLIN);
	assert_ptr_equal(wq2, wq);

	/* One made anew under that name is another one. */
	*test_sem_option() = 1;
	assert_int_equal(semaphore_kind.create(name, 0600, &caller), 0);
	held = test_sem_open("hold", name);
	assert_int_equal(test_sem_acquire(held, &w), 0);
	assert_int_equal(test_sem_read(wfh, &w), -EIDRM);
	fresh = test_sem_open("wait", name);
	assert_int_equal(test_sem_read(fresh, &w), -EAGAIN);
	assert_ptr_not_equal(w.wq, wq);
	sem = test_sem_native_open(name);
	test_sem_release(held);
	assert_int_equal(test_sem_value(sem), 1);
	test_sem_release(wfh);
	test_sem_release(hfh);
	assert_int_equal(test_sem_value(sem), 1);
}

/*
 * A semaphore unlinked and made again natively (a program restarting)
 * while the tree has the old one open: new opens reach the new one.
 */
struct test_sem_reader {
	void *fh;
	pthread_barrier_t *start;
	ssize_t ret;
};

static void *test_sem_reader_main(void *arg)
{
	struct test_sem_reader *r = arg;
	struct ipc_wait w = { 0 };

	pthread_barrier_wait(r->start);
	r->ret = test_sem_read(r->fh, &w);
	return NULL;
}

/*
 * Threads sharing one open wait file (forked children, threads of one
 * program) read it at once: it still takes one unit, however they race.
 */
static void test_sem_wait_shared_file(void **state)
{
	const char *name = test_sem_name();
	sem_t *sem = test_sem_native(name, 0600, 200);
	struct test_sem_reader r[8];
	pthread_barrier_t start;
	pthread_t th[8];
	int i, round;

	for (round = 0; round < 100; round++) {
		void *fh = test_sem_open("wait", name);

		pthread_barrier_init(&start, NULL, 8);
		for (i = 0; i < 8; i++) {
			r[i] = (struct test_sem_reader){ .fh = fh,
							 .start = &start };
			assert_int_equal(pthread_create(&th[i], NULL,
							test_sem_reader_main,
							&r[i]),
					 0);
		}
		for (i = 0; i < 8; i++) {
			pthread_join(th[i], NULL);
			assert_int_equal(r[i].ret, 0);
		}
		pthread_barrier_destroy(&start);
		assert_int_equal(test_sem_value(sem), 200 - round - 1);
		test_sem_release(fh);
	}
}

static void test_sem_native_recreate(void **state)
{
	const char *name = test_sem_name();
	struct ipc_wait w;
	char buf[16];
	void *old, *fh;
	sem_t *sem;

	test_sem_native(name, 0600, 1);
	old = test_sem_open("hold", name);
	assert_int_equal(test_sem_acquire(old, &w), 0);
	assert_int_equal(sem_unlink(name), 0);
	sem = test_sem_native(name, 0600, 2);
	assert_int_equal(test_sem_file("value")->get(name, 0, buf, sizeof(buf)),
			 2);
	assert_string_equal(buf, "2\n");
	fh = test_sem_open("wait", name);
	assert_int_equal(test_sem_read(fh, &w), 0);
	assert_int_equal(test_sem_value(sem), 1);
	assert_int_equal(test_sem_post(name, "3\n"), 0);
	assert_int_equal(test_sem_value(sem), 4);
	/* The old hold gives its unit back to the old semaphore. */
	test_sem_release(old);
	assert_int_equal(test_sem_value(sem), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define TEST_SEM_CASE(fn)                                                      \
	cmocka_unit_test_setup_teardown(fn, test_sem_setup, test_sem_teardown)
		TEST_SEM_CASE(test_sem_create),
		TEST_SEM_CASE(test_sem_create_value),
		TEST_SEM_CASE(test_sem_create_owner),
		TEST_SEM_CASE(test_sem_create_exists),
		TEST_SEM_CASE(test_sem_create_name_max),
		TEST_SEM_CASE(test_sem_missing),
		TEST_SEM_CASE(test_sem_remove),
		TEST_SEM_CASE(test_sem_chmod),
		TEST_SEM_CASE(test_sem_list),
		TEST_SEM_CASE(test_sem_value_get),
		TEST_SEM_CASE(test_sem_post_set),
		TEST_SEM_CASE(test_sem_post_invalid),
		TEST_SEM_CASE(test_sem_post_overflow),
		TEST_SEM_CASE(test_sem_wait_read),
		TEST_SEM_CASE(test_sem_wait_empty),
		TEST_SEM_CASE(test_sem_wait_unread),
		TEST_SEM_CASE(test_sem_wait_shared_file),
		TEST_SEM_CASE(test_sem_hold),
		TEST_SEM_CASE(test_sem_poll),
		TEST_SEM_CASE(test_sem_helper_thread),
		TEST_SEM_CASE(test_sem_fini_waits),
		TEST_SEM_CASE(test_sem_helper_banks),
		TEST_SEM_CASE(test_sem_remove_wakes),
		TEST_SEM_CASE(test_sem_native_recreate),
#undef TEST_SEM_CASE
	};

	return cmocka_run_group_tests_name("sem", tests, test_sem_group_setup,
					   test_sem_group_teardown);
}

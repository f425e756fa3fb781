// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_sysv_shm.c - unit tests of sysv/shm/KEY (backends/sysv_shm.c), no
 * mount.
 *
 * Each test calls sysv_shm_kind's operations directly (create, remove,
 * stat, list, the data handle, the attribute files) and checks them against
 * the native API: shmget, shmat, IPC_STAT. Exact values and errno values
 * are asserted. Keys come from a range of the test process's own,
 * 0x1ce?????; the teardown removes every segment of that range, and the
 * private ones a test noted, whatever the test did.
 *
 *   $ ninja -C build && build/tests/test_sysv_shm
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
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sysv.h"

extern const struct ipc_kind sysv_shm_kind;

#define TEST_SHM_KEYS 256
#define TEST_SHM_HANDLES 8

struct test_shm_fixture {
	void *handles[TEST_SHM_HANDLES];
	int private_id; /* an IPC_PRIVATE segment to remove, or -1 */
	void *attached; /* a native attachment to undo, or NULL */
};

static struct test_shm_fixture test_shm_fix;
static key_t test_shm_base;
static unsigned int test_shm_seq;
static long test_shm_saved_size;

static long *test_shm_option(void)
{
	const struct ipc_option *o = &sysv_shm_kind.options[0];

	assert_string_equal(o->name, "sysv_shm_size");
	return o->value;
}

static const struct ipc_file *test_shm_file(const char *name)
{
	const struct ipc_file *f;

	for (f = sysv_shm_kind.files; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	fail_msg("sysv_shm_kind has no file %s", name);
	return NULL;
}

static const struct ipc_stream_ops *test_shm_data(void)
{
	return test_shm_file("data")->ops;
}

/* A fresh key of the range, as its directory name ("0x1ce..."). */
static const char *test_shm_name(key_t *key)
{
	static char name[SYSV_NAME_MAX + 1];

	assert_true(test_shm_seq < TEST_SHM_KEYS);
	*key = test_shm_base + (key_t)test_shm_seq++;
	snprintf(name, sizeof(name), "0x%08x", (unsigned int)*key);
	return name;
}

/* Segment NAME made by the kind, as the calling user: its id. */
static int test_shm_make(const char *name, mode_t mode)
{
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	key_t key;

	assert_int_equal(sysv_shm_kind.create(name, mode, &caller), 0);
	assert_true(sysv_key_of(name, &key));
	return shmget(key, 0, 0);
}

static void *test_shm_open(const char *name, int flags)
{
	void *fh = NULL;
	int i;

	for (i = 0; i < TEST_SHM_HANDLES && test_shm_fix.handles[i]; i++)
		;
	assert_true(i < TEST_SHM_HANDLES);
	assert_int_equal(test_shm_data()->open(name, flags, &fh), 0);
	test_shm_fix.handles[i] = fh;
	return fh;
}

static void test_shm_release(void *fh)
{
	int i;

	for (i = 0; i < TEST_SHM_HANDLES; i++) {
		if (test_shm_fix.handles[i] == fh) {
			test_shm_data()->release(fh);
			test_shm_fix.handles[i] = NULL;
			return;
		}
	}
	fail_msg("releasing a handle the test did not open");
}

static char *test_shm_attach(int id)
{
	char *addr = shmat(id, NULL, 0);

	assert_ptr_not_equal(addr, (void *)-1);
	test_shm_fix.attached = addr;
	return addr;
}

static struct shmid_ds test_shm_ds(int id)
{
	struct shmid_ds ds;

	assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
	return ds;
}

/* Attribute file FILE of NAME: its text (one buffer). */
static const char *test_shm_attr(const char *name, const char *file)
{
	static char buf[64];
	const struct ipc_file *f = test_shm_file(file);
	int len = f->get(name, f->arg, buf, sizeof(buf));

	assert_true(len > 0 && len < (int)sizeof(buf));
	return buf;
}

static int test_shm_list_fill(void *ctx, const char *name)
{
	const char *want = ctx;

	return strcmp(name, want) == 0;
}

static bool test_shm_listed(const char *name)
{
	return sysv_shm_kind.list(test_shm_list_fill, (void *)name) == 1;
}

static int test_shm_group_setup(void **state)
{
	umask(0);
	test_shm_base = (key_t)(0x1ce00000 | (getpid() & 0xfff) << 8);
	test_shm_saved_size = *test_shm_option();
	return 0;
}

static int test_shm_setup(void **state)
{
	memset(&test_shm_fix, 0, sizeof(test_shm_fix));
	test_shm_fix.private_id = -1;
	return 0;
}

static int test_shm_teardown(void **state)
{
	struct test_shm_fixture *f = &test_shm_fix;
	unsigned int i;
	int id;

	for (i = 0; i < TEST_SHM_HANDLES; i++)
		if (f->handles[i])
			test_shm_data()->release(f->handles[i]);
	if (f->attached)
		shmdt(f->attached);
	if (f->private_id >= 0)
		shmctl(f->private_id, IPC_RMID, NULL);
	for (i = 0; i < test_shm_seq; i++)
		if ((id = shmget(test_shm_base + (key_t)i, 0, 0)) >= 0)
			shmctl(id, IPC_RMID, NULL);
	*test_shm_option() = test_shm_saved_size;
	return 0;
}

/* mkdir: a segment of the option's size, the mode asked, the caller's. */
static void test_shm_create(void **state)
{
	struct ipc_caller caller = { .uid = 4321, .gid = 5432 };
	key_t key;
	const char *name = test_shm_name(&key);
	struct shmid_ds ds;
	struct stat st;
	int id;

	assert_int_equal(*test_shm_option(), 65536);
	assert_int_equal(sysv_shm_kind.create(name, 0640, &caller), 0);
	id = shmget(key, 0, 0);
	assert_true(id >= 0);
	ds = test_shm_ds(id);
	assert_int_equal(ds.shm_segsz, 65536);
	assert_int_equal(ds.shm_perm.mode & 0777, 0640);
	assert_int_equal(ds.shm_perm.uid, 4321);
	assert_int_equal(ds.shm_perm.cuid, 4321);
	assert_int_equal(sysv_shm_kind.stat(name, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(st.st_uid, 4321);
	assert_int_equal(st.st_gid, 5432);
	assert_int_equal(sysv_shm_kind.create(name, 0600, &caller), -EEXIST);
	assert_true(test_shm_listed(name));
}

static void test_shm_create_size(void **state)
{
	key_t key;
	const char *name = test_shm_name(&key);
	off_t size = 0;
	int id;

	*test_shm_option() = 100;
	id = test_shm_make(name, 0600);
	assert_int_equal(test_shm_ds(id).shm_segsz, 100);
	assert_string_equal(test_shm_attr(name, "size"), "100\n");
	assert_int_equal(test_shm_data()->size(name, &size), 0);
	assert_int_equal(size, 100);
}

/* Only a key's one spelling: no id.N, no key 0, nothing else. */
static void test_shm_bad_names(void **state)
{
	static const char *const bad[] = { "0x00000000", "id.5",
					   "0x1CE00000", "0x1ce0000",
					   "1ce00000",	 "0x1ce000000" };
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sysv_shm_kind.create(bad[i], 0600, &caller),
				 -EINVAL);
}

/* data: both ways with a native attachment; fixed size. */
static void test_shm_data_coherent(void **state)
{
	key_t key;
	const char *name = test_shm_name(&key);
	const struct ipc_stream_ops *ops = test_shm_data();
	struct ipc_wait w = { 0 };
	char buf[16], *addr;
	void *fh;
	int id;

	*test_shm_option() = 4096;
	id = test_shm_make(name, 0600);
	addr = test_shm_attach(id);
	fh = test_shm_open(name, O_RDWR);
	memcpy(addr + 10, "native", 6);
	assert_int_equal(ops->read(fh, buf, 6, 10, &w), 6);
	assert_memory_equal(buf, "native", 6);
	assert_int_equal(ops->write(fh, "tree", 4, 100, &w), 4);
	assert_memory_equal(addr + 100, "tree", 4);
	/* The end: end-of-file, a short read before it, ENOSPC past it. */
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 4096, &w), 0);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 5000, &w), 0);
	memcpy(addr + 4093, "xyz", 3);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 4093, &w), 3);
	assert_memory_equal(buf, "xyz", 3);
	assert_int_equal(ops->write(fh, "abcd", 4, 4093, &w), -ENOSPC);
	assert_memory_equal(addr + 4093, "xyz", 3);
	assert_int_equal(ops->write(fh, "abcd", 4, 4096, &w), -ENOSPC);
	assert_int_equal(ops->write(fh, "abc", 3, 4093, &w), 3);
	assert_memory_equal(addr + 4093, "abc", 3);
	assert_int_equal(ops->write(fh, "", 0, 4096, &w), 0);
	assert_null(w.wq);
	/* The size is fixed: nothing to truncate. */
	assert_null(ops->truncate);
}

/* One attachment per open file: nattch says so; lpid is the opener's. */
static void test_shm_nattch(void **state)
{
	key_t key;
	const char *name = test_shm_name(&key);
	void *a, *b;
	char want[32];
	int id;

	id = test_shm_make(name, 0600);
	assert_string_equal(test_shm_attr(name, "nattch"), "0\n");
	a = test_shm_open(name, O_RDONLY);
	b = test_shm_open(name, O_WRONLY);
	assert_int_equal(test_shm_ds(id).shm_nattch, 2);
	assert_string_equal(test_shm_attr(name, "nattch"), "2\n");
	snprintf(want, sizeof(want), "%d\n", (int)getpid());
	assert_string_equal(test_shm_attr(name, "lpid"), want);
	test_shm_release(a);
	assert_string_equal(test_shm_attr(name, "nattch"), "1\n");
	test_shm_release(b);
	assert_int_equal(test_shm_ds(id).shm_nattch, 0);
	snprintf(want, sizeof(want), "%d\n", id);
	assert_string_equal(test_shm_attr(name, "id"), want);
	snprintf(want, sizeof(want), "%d\n", (int)test_shm_ds(id).shm_cpid);
	assert_string_equal(test_shm_attr(name, "cpid"), want);
}

/* The permissions of the attachment of key in /proc/self/maps ("r--s"). */
static const char *test_shm_mapped(key_t key)
{
	static char line[512], perms[8];
	char want[32];
	FILE *f = fopen("/proc/self/maps", "re");

	assert_non_null(f);
	snprintf(want, sizeof(want), "SYSV%08x", (unsigned int)key);
	perms[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (strstr(line, want) && sscanf(line, "%*s %7s", perms) == 1)
			break;
	fclose(f);
	return perms;
}

/* A reader's attachment is read-only: the daemon's rights are not its. */
static void test_shm_read_only(void **state)
{
	key_t key;
	const char *name = test_shm_name(&key);
	struct ipc_wait w = { 0 };
	char buf[4];
	void *fh;

	test_shm_make(name, 0600);
	fh = test_shm_open(name, O_RDONLY);
	assert_string_equal(test_shm_mapped(key), "r--s");
	assert_int_equal(test_shm_data()->read(fh, buf, 4, 0, &w), 4);
	test_shm_release(fh);
	fh = test_shm_open(name, O_RDWR);
	assert_string_equal(test_shm_mapped(key), "rw-s");
}

/* rmdir: IPC_RMID; an open file keeps its attachment, as natively. */
static void test_shm_remove(void **state)
{
	key_t key;
	const char *name = test_shm_name(&key);
	struct ipc_wait w = { 0 };
	char buf[4];
	off_t size;
	void *fh;

	test_shm_make(name, 0600);
	fh = test_shm_open(name, O_RDWR);
	assert_int_equal(test_shm_data()->write(fh, "live", 4, 0, &w), 4);
	assert_int_equal(sysv_shm_kind.remove(name), 0);
	assert_int_equal(shmget(key, 0, 0), -1);
	assert_int_equal(errno, ENOENT);
	assert_false(test_shm_listed(name));
	assert_int_equal(sysv_shm_kind.remove(name), -ENOENT);
	assert_int_equal(test_shm_data()->size(name, &size), -ENOENT);
	assert_int_equal(test_shm_data()->read(fh, buf, 4, 0, &w), 4);
	assert_memory_equal(buf, "live", 4);
	assert_int_equal(test_shm_data()->open(name, O_RDWR, &fh), -ENOENT);
}

/* IPC_PRIVATE: listed as id.N and usable under that name. */
static void test_shm_private(void **state)
{
	char name[SYSV_NAME_MAX + 1], want[32];
	struct ipc_wait w = { 0 };
	struct stat st;
	char *addr;
	void *fh;
	int id;

	id = shmget(IPC_PRIVATE, 512, IPC_CREAT | 0600);
	assert_true(id >= 0);
	test_shm_fix.private_id = id;
	snprintf(name, sizeof(name), "id.%d", id);
	assert_true(test_shm_listed(name));
	assert_int_equal(sysv_shm_kind.stat(name, &st), 0);
	assert_string_equal(test_shm_attr(name, "size"), "512\n");
	snprintf(want, sizeof(want), "%d\n", id);
	assert_string_equal(test_shm_attr(name, "id"), want);
	addr = test_shm_attach(id);
	fh = test_shm_open(name, O_RDWR);
	assert_int_equal(test_shm_data()->write(fh, "priv", 4, 508, &w), 4);
	assert_memory_equal(addr + 508, "priv", 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define TEST_SHM_CASE(fn)                                                      \
	cmocka_unit_test_setup_teardown(fn, test_shm_setup, test_shm_teardown)
		TEST_SHM_CASE(test_shm_create),
		TEST_SHM_CASE(test_shm_create_size),
		TEST_SHM_CASE(test_shm_bad_names),
		TEST_SHM_CASE(test_shm_data_coherent),
		TEST_SHM_CASE(test_shm_nattch),
		TEST_SHM_CASE(test_shm_read_only),
		TEST_SHM_CASE(test_shm_remove),
		TEST_SHM_CASE(test_shm_private),
#undef TEST_SHM_CASE
	};

	return cmocka_run_group_tests_name("sysv_shm", tests,
					   test_shm_group_setup, NULL);
}

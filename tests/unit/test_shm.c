// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_shm.c - unit tests of shm/NAME (backends/shm.c), no mount.
 *
 * Each test calls segment_kind's operations directly (create, remove, stat,
 * chmod, chown, list, and the ops and attribute files of its file table)
 * and checks the result on the other side with the native API: shm_open,
 * fstat, mmap, sem_open, and /dev/shm itself. Exact bytes, sizes, modes and
 * errno values are asserted. Nothing here may block: a segment never makes
 * anyone wait, so no operation may answer -EAGAIN.
 *
 *   $ ninja -C build && build/tests/test_shm
 *   [==========] 21 test(s) run.
 *
 * Every name a test makes is /ut<pid>_shm_<n>; the teardown removes it
 * whatever the test did: as a segment, a semaphore, or a directory or
 * symlink planted in /dev/shm.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipc.h"

extern const struct ipc_kind segment_kind;

#define TEST_SHM_NAMES 4
#define TEST_SHM_HANDLES 4
#define TEST_SHM_FDS 4

/* What a test made, so that its teardown can undo it if an assertion fails. */
struct test_shm_fixture {
	char names[TEST_SHM_NAMES][64];
	int nnames;
	void *handles[TEST_SHM_HANDLES];
	int fds[TEST_SHM_FDS];
	int nfds;
	void *map;
	size_t maplen;
};

static struct test_shm_fixture test_shm_fix;
static unsigned int test_shm_seq;

/* A file of a segment's directory, by name. */
static const struct ipc_file *test_shm_file(const char *name)
{
	const struct ipc_file *f;

	for (f = segment_kind.files; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	fail_msg("segment_kind has no file %s", name);
	return NULL;
}

static const struct ipc_stream_ops *test_shm_ops(void)
{
	const struct ipc_stream_ops *ops = test_shm_file("data")->ops;

	assert_non_null(ops);
	return ops;
}

/* A fresh name, removed by the teardown. */
static const char *test_shm_name(void)
{
	struct test_shm_fixture *f = &test_shm_fix;
	char *name;

	assert_true(f->nnames < TEST_SHM_NAMES);
	name = f->names[f->nnames++];
	snprintf(name, sizeof(f->names[0]), "/ut%ld_shm_%u", (long)getpid(),
		 test_shm_seq++);
	return name;
}

/* /dev/shm/NAME, for looking at a segment from outside the kind: one buffer. */
static const char *test_shm_path(const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "/dev/shm%s", name);
	return path;
}

static int test_shm_track(int fd)
{
	struct test_shm_fixture *f = &test_shm_fix;

	assert_true(f->nfds < TEST_SHM_FDS);
	f->fds[f->nfds++] = fd;
	return fd;
}

/* Make segment NAME natively; returns an O_RDWR descriptor to it. */
static int test_shm_native(const char *name, mode_t mode, off_t size)
{
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, mode);

	if (fd < 0)
		fail_msg("shm_open %s: %s", name, strerror(errno));
	test_shm_track(fd);
	if (ftruncate(fd, size) < 0)
		fail_msg("ftruncate %s: %s", name, strerror(errno));
	return fd;
}

static int test_shm_native_open(const char *name)
{
	int fd = shm_open(name, O_RDWR, 0);

	if (fd < 0)
		fail_msg("shm_open %s: %s", name, strerror(errno));
	return test_shm_track(fd);
}

static off_t test_shm_native_size(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return st.st_size;
}

/* The size the kind reports, through its size op. */
static off_t test_shm_size(const char *name)
{
	off_t size = -1;

	assert_int_equal(test_shm_ops()->size(name, &size), 0);
	return size;
}

/* Open data of segment NAME; released by the teardown. */
static void *test_shm_open(const char *name, int flags)
{
	struct test_shm_fixture *f = &test_shm_fix;
	void *fh = NULL;
	int i;

	for (i = 0; i < TEST_SHM_HANDLES && f->handles[i]; i++)
		;
	assert_true(i < TEST_SHM_HANDLES);
	assert_int_equal(test_shm_ops()->open(name, flags, &fh), 0);
	assert_non_null(fh);
	f->handles[i] = fh;
	return fh;
}

static int test_shm_group_setup(void **state)
{
	/* Modes must come out as asked, as under the daemon (main.c). */
	umask(0);
	return segment_kind.init();
}

static int test_shm_group_teardown(void **state)
{
	segment_kind.fini();
	return 0;
}

static int test_shm_setup(void **state)
{
	memset(&test_shm_fix, 0, sizeof(test_shm_fix));
	return 0;
}

static int test_shm_teardown(void **state)
{
	struct test_shm_fixture *f = &test_shm_fix;
	int i;

	for (i = 0; i < TEST_SHM_HANDLES; i++)
		if (f->handles[i])
			test_shm_ops()->release(f->handles[i]);
	for (i = 0; i < f->nfds; i++)
		close(f->fds[i]);
	if (f->map)
		munmap(f->map, f->maplen);
	for (i = 0; i < f->nnames; i++) {
		shm_unlink(f->names[i]);
		sem_unlink(f->names[i]);
		rmdir(test_shm_path(f->names[i]));
	}
	memset(f, 0, sizeof(*f));
	return 0;
}

/* create makes an empty segment of the requested mode, the caller's. */
static void test_shm_create(void **state)
{
	const char *name = test_shm_name();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	struct stat st;
	int fd;

	assert_int_equal(segment_kind.create(name, 0640, &caller), 0);
	fd = test_shm_native_open(name);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, caller.uid);
	assert_int_equal(st.st_gid, caller.gid);
	assert_int_equal(st.st_size, 0);

	memset(&st, 0, sizeof(st));
	assert_int_equal(segment_kind.stat(name, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, caller.uid);
	assert_int_equal(test_shm_size(name), 0);
}

/* The new segment is the caller's, whoever the daemon is (root here). */
static void test_shm_create_owner(void **state)
{
	const char *name = test_shm_name();
	struct ipc_caller caller = { .uid = 4321, .gid = 5432 };
	struct stat st;

	if (geteuid() != 0)
		skip();
	assert_int_equal(segment_kind.create(name, 0600, &caller), 0);
	assert_int_equal(stat(test_shm_path(name), &st), 0);
	assert_int_equal(st.st_uid, 4321);
	assert_int_equal(st.st_gid, 5432);
}

static void test_shm_create_exists(void **state)
{
	const char *name = test_shm_name();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	int fd;

	assert_int_equal(segment_kind.create(name, 0600, &caller), 0);
	fd = test_shm_native_open(name);
	assert_int_equal(write(fd, "keep", 4), 4);
	assert_int_equal(segment_kind.create(name, 0644, &caller), -EEXIST);
	/* The refused mkdir left it alone. */
	assert_int_equal(test_shm_native_size(fd), 4);
	/* A native segment of that name is as good as one made through us. */
	name = test_shm_name();
	test_shm_native(name, 0600, 0);
	assert_int_equal(segment_kind.create(name, 0600, &caller), -EEXIST);
}

static void test_shm_missing(void **state)
{
	const char *name = test_shm_name();
	const struct ipc_stream_ops *ops = test_shm_ops();
	struct stat st;
	off_t size;
	char buf[16];

	assert_int_equal(segment_kind.stat(name, &st), -ENOENT);
	assert_int_equal(segment_kind.chmod(name, 0600), -ENOENT);
	assert_int_equal(segment_kind.chown(name, getuid(), getgid()), -ENOENT);
	assert_int_equal(segment_kind.remove(name), -ENOENT);
	assert_int_equal(ops->open(name, O_RDWR, &(void *){ NULL }), -ENOENT);
	assert_int_equal(ops->truncate(name, 0), -ENOENT);
	assert_int_equal(ops->size(name, &size), -ENOENT);
	assert_int_equal(test_shm_file("size")->get(name, 0, buf, sizeof(buf)),
			 -ENOENT);
	assert_int_equal(test_shm_file("size")->set(name, "1\n", 2, NULL),
			 -ENOENT);
	/* Nothing was made on the way. */
	assert_int_equal(access(test_shm_path(name), F_OK), -1);
}

static void test_shm_remove(void **state)
{
	const char *name = test_shm_name();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	struct stat st;

	assert_int_equal(segment_kind.create(name, 0600, &caller), 0);
	assert_int_equal(segment_kind.remove(name), 0);
	assert_int_equal(shm_open(name, O_RDONLY, 0), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(segment_kind.stat(name, &st), -ENOENT);
	assert_int_equal(segment_kind.remove(name), -ENOENT);
}

/* An open file keeps a removed segment, as a native descriptor would. */
static void test_shm_remove_open(void **state)
{
	const char *name = test_shm_name();
	const struct ipc_stream_ops *ops = test_shm_ops();
	struct ipc_wait w = { 0 };
	void *fh;
	char buf[8];

	test_shm_native(name, 0600, 0);
	fh = test_shm_open(name, O_RDWR);
	assert_int_equal(segment_kind.remove(name), 0);
	assert_int_equal(ops->write(fh, "still", 5, 0, &w), 5);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 0, &w), 5);
	assert_memory_equal(buf, "still", 5);
}

static void test_shm_chmod(void **state)
{
	const char *name = test_shm_name();
	int fd = test_shm_native(name, 0600, 0);
	struct stat st;

	assert_int_equal(segment_kind.chmod(name, 0604), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0604);
	assert_int_equal(segment_kind.stat(name, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0604);
	/* The owner may chown to what it already is, root to anyone. */
	assert_int_equal(segment_kind.chown(name, getuid(), getgid()), 0);
	if (geteuid() == 0) {
		assert_int_equal(segment_kind.chown(name, 1234, 2345), 0);
		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal(st.st_uid, 1234);
		assert_int_equal(st.st_gid, 2345);
		assert_int_equal(segment_kind.chown(name, (uid_t)-1, 3456), 0);
		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal(st.st_uid, 1234);
		assert_int_equal(st.st_gid, 3456);
	}
}

struct test_shm_seen {
	const char *want[3];
	int found[3];
	int calls;
	int stop; /* what fill returns */
};

static int test_shm_fill(void *ctx, const char *name)
{
	struct test_shm_seen *s = ctx;
	int i;

	s->calls++;
	for (i = 0; i < 3; i++)
		if (s->want[i] && strcmp(name, s->want[i]) == 0)
			s->found[i]++;
	return s->stop;
}

/* list sees segments made natively, by their full POSIX name. */
static void test_shm_list(void **state)
{
	const char *name = test_shm_name();
	const char *other = test_shm_name();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	struct test_shm_seen seen = { .want = { name, other } };

	test_shm_native(name, 0600, 10);
	assert_int_equal(segment_kind.create(other, 0600, &caller), 0);
	assert_int_equal(segment_kind.list(test_shm_fill, &seen), 0);
	assert_int_equal(seen.found[0], 1);
	assert_int_equal(seen.found[1], 1);

	/* A non-zero fill stops the walk, and list returns what fill did. */
	seen = (struct test_shm_seen){ .want = { name }, .stop = 42 };
	assert_int_equal(segment_kind.list(test_shm_fill, &seen), 42);
	assert_int_equal(seen.calls, 1);
}

/*
 * glibc keeps semaphore NAME in /dev/shm as sem.NAME: it is not a segment,
 * so it is neither listed nor found, and no segment may take such a name.
 */
static void test_shm_sem_not_listed(void **state)
{
	const char *name = test_shm_name();
	const char *shadow = test_shm_name();
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	struct test_shm_seen seen = { 0 };
	char semname[80];
	struct stat st;
	sem_t *sem;

	sem = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
	if (sem == SEM_FAILED)
		fail_msg("sem_open %s: %s", name, strerror(errno));
	sem_close(sem);
	snprintf(semname, sizeof(semname), "/sem.%s", name + 1);
	assert_int_equal(stat(test_shm_path(semname), &st), 0);

	seen.want[0] = semname;
	seen.want[1] = name;
	assert_int_equal(segment_kind.list(test_shm_fill, &seen), 0);
	assert_int_equal(seen.found[0], 0);
	assert_int_equal(seen.found[1], 0);
	assert_int_equal(segment_kind.stat(semname, &st), -ENOENT);
	assert_int_equal(segment_kind.stat(name, &st), -ENOENT);
	assert_int_equal(segment_kind.remove(semname), -ENOENT);
	assert_int_equal(
		test_shm_ops()->open(semname, O_RDWR, &(void *){ NULL }),
		-ENOENT);
	/* The semaphore is untouched. */
	assert_int_equal(stat(test_shm_path(semname), &st), 0);

	/* mkdir shm/sem.X would make something sem/ takes for a semaphore. */
	snprintf(semname, sizeof(semname), "/sem.%s", shadow + 1);
	assert_int_equal(segment_kind.create(semname, 0600, &caller), -EINVAL);
	assert_int_equal(access(test_shm_path(semname), F_OK), -1);
}

/* Only regular files of /dev/shm are segments: not directories, symlinks. */
static void test_shm_not_regular(void **state)
{
	const char *dir = test_shm_name();
	const char *link = test_shm_name();
	const char *seg = test_shm_name();
	struct test_shm_seen seen = { .want = { dir, link, seg } };
	char target[PATH_MAX];
	struct stat st;

	test_shm_native(seg, 0600, 0);
	if (mkdir(test_shm_path(dir), 0700) < 0)
		fail_msg("mkdir %s: %s", test_shm_path(dir), strerror(errno));
	snprintf(target, sizeof(target), "%s", test_shm_path(seg));
	if (symlink(target, test_shm_path(link)) < 0)
		fail_msg("symlink %s: %s", test_shm_path(link),
			 strerror(errno));
	assert_int_equal(segment_kind.list(test_shm_fill, &seen), 0);
	assert_int_equal(seen.found[0], 0);
	assert_int_equal(seen.found[1], 0);
	assert_int_equal(seen.found[2], 1);
	assert_int_equal(segment_kind.stat(dir, &st), -ENOENT);
	assert_int_equal(segment_kind.stat(link, &st), -ENOENT);
	/* chmod through the symlink must not reach the segment. */
	assert_int_equal(segment_kind.chmod(link, 0666), -ENOENT);
	assert_int_equal(segment_kind.stat(seg, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

/* pread/pwrite at any offset, byte for byte, NULs too. */
static void test_shm_read_write(void **state)
{
	static const char msg[] = "ab\0\ncd\n";
	const char *name = test_shm_name();
	int fd = test_shm_native(name, 0600, 0);
	const struct ipc_stream_ops *ops = test_shm_ops();
	void *fh = test_shm_open(name, O_RDWR);
	struct ipc_wait w = { 0 };
	char buf[64];

	assert_int_equal(ops->write(fh, msg, sizeof(msg), 0, &w), sizeof(msg));
	assert_int_equal(pread(fd, buf, sizeof(buf), 0), sizeof(msg));
	assert_memory_equal(buf, msg, sizeof(msg));
	/* Overwrite in the middle. */
	assert_int_equal(ops->write(fh, "XY", 2, 3, &w), 2);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 0, &w), sizeof(msg));
	assert_memory_equal(buf, "ab\0XYd\n", sizeof(msg));
	assert_int_equal(ops->read(fh, buf, 3, 2, &w), 3);
	assert_memory_equal(buf, "\0XY", 3);
	/* Reads end at the end of the segment. */
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 6, &w), 2);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), sizeof(msg), &w), 0);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 1 << 20, &w), 0);
	/* Native writes are seen at once. */
	assert_int_equal(pwrite(fd, "N", 1, 0), 1);
	assert_int_equal(ops->read(fh, buf, 1, 0, &w), 1);
	assert_memory_equal(buf, "N", 1);
	/* A segment never makes anyone wait. */
	assert_null(w.wq);
	assert_int_equal(test_shm_native_size(fd), sizeof(msg));
}

/* A write past the end grows the segment; the hole reads as zeros. */
static void test_shm_write_grows(void **state)
{
	const char *name = test_shm_name();
	int fd = test_shm_native(name, 0600, 0);
	const struct ipc_stream_ops *ops = test_shm_ops();
	void *fh = test_shm_open(name, O_RDWR);
	struct ipc_wait w = { 0 };
	char buf[4096 + 5], zero[4096] = { 0 };

	assert_int_equal(ops->write(fh, "tail!", 5, 4096, &w), 5);
	assert_int_equal(test_shm_size(name), 4096 + 5);
	assert_int_equal(test_shm_native_size(fd), 4096 + 5);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 0, &w), 4096 + 5);
	assert_memory_equal(buf, zero, 4096);
	assert_memory_equal(buf + 4096, "tail!", 5);
	/* A write inside does not shrink it. */
	assert_int_equal(ops->write(fh, "a", 1, 0, &w), 1);
	assert_int_equal(test_shm_size(name), 4096 + 5);
}

/* O_APPEND writes go to the live end, whatever offset the kernel thought. */
static void test_shm_append(void **state)
{
	const char *name = test_shm_name();
	int fd = test_shm_native(name, 0600, 0);
	const struct ipc_stream_ops *ops = test_shm_ops();
	void *fh = test_shm_open(name, O_WRONLY | O_APPEND);
	struct ipc_wait w = { 0 };
	char buf[16];

	assert_int_equal(pwrite(fd, "abc", 3, 0), 3);
	assert_int_equal(ops->write(fh, "de", 2, 0, &w), 2);
	assert_int_equal(test_shm_native_size(fd), 5);
	assert_int_equal(pread(fd, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "abcde", 5);
}

/* A large write goes in whole: fs/ would take a short count for a block. */
static void test_shm_write_large(void **state)
{
	const char *name = test_shm_name();
	int fd = test_shm_native(name, 0600, 0);
	const struct ipc_stream_ops *ops = test_shm_ops();
	void *fh = test_shm_open(name, O_RDWR);
	struct ipc_wait w = { 0 };
	size_t len = 1 << 20, i;
	char *in = malloc(len), *out = malloc(len);

	assert_non_null(in);
	assert_non_null(out);
	for (i = 0; i < len; i++)
		in[i] = (char)(i * 7 + i / 4096);
	assert_int_equal(ops->write(fh, in, len, 100, &w), len);
	assert_int_equal(test_shm_native_size(fd), len + 100);
	assert_int_equal(ops->read(fh, out, len, 100, &w), len);
	assert_memory_equal(in, out, len);
	free(in);
	free(out);
}

/* truncate resizes both ways; `echo x > data` truncates to 0 first. */
static void test_shm_truncate(void **state)
{
	const char *name = test_shm_name();
	int fd = test_shm_native(name, 0600, 0);
	const struct ipc_stream_ops *ops = test_shm_ops();
	char buf[8];

	assert_int_equal(pwrite(fd, "abcdef", 6, 0), 6);
	assert_int_equal(ops->truncate(name, 100), 0);
	assert_int_equal(test_shm_native_size(fd), 100);
	assert_int_equal(test_shm_size(name), 100);
	assert_int_equal(pread(fd, buf, 8, 0), 8);
	assert_memory_equal(buf, "abcdef\0\0", 8);
	assert_int_equal(ops->truncate(name, 3), 0);
	assert_int_equal(test_shm_native_size(fd), 3);
	assert_int_equal(ops->truncate(name, 0), 0);
	assert_int_equal(test_shm_native_size(fd), 0);
	assert_int_equal(ops->truncate(name, -1), -EINVAL);
	assert_int_equal(test_shm_native_size(fd), 0);
}

/* size: "N\n", as sysfs; writing N resizes; anything else is EINVAL. */
static void test_shm_size_attr(void **state)
{
	static const char *const bad[] = { "abc", "abc\n", "-1",   "-1\n",
					   "",	  "\n",	   "12ab", " 12",
					   "+12", "1 2",   "0x10", NULL };
	const char *name = test_shm_name();
	int fd = test_shm_native(name, 0600, 0);
	const struct ipc_file *file = test_shm_file("size");
	char buf[32];
	int i;

	assert_non_null(file->get);
	assert_non_null(file->set);
	assert_null(file->ops);
	assert_true(file->mode & 0200);
	assert_int_equal(file->get(name, file->arg, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "0\n");
	assert_int_equal(file->set(name, "8192\n", 5, NULL), 0);
	assert_int_equal(test_shm_native_size(fd), 8192);
	assert_int_equal(file->get(name, file->arg, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "8192\n");
	assert_int_equal(file->set(name, "100", 3, NULL), 0);
	assert_int_equal(test_shm_native_size(fd), 100);
	for (i = 0; bad[i]; i++) {
		if (file->set(name, bad[i], strlen(bad[i]), NULL) != -EINVAL)
			fail_msg("size set \"%s\" is not -EINVAL", bad[i]);
		assert_int_equal(test_shm_native_size(fd), 100);
	}
	assert_int_equal(file->get(name, file->arg, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "100\n");
	assert_int_equal(file->set(name, "0\n", 2, NULL), 0);
	assert_int_equal(test_shm_native_size(fd), 0);
}

/* Bytes written through data are in a native mapping, and the reverse. */
static void test_shm_coherent_mmap(void **state)
{
	struct test_shm_fixture *f = &test_shm_fix;
	const char *name = test_shm_name();
	int fd = test_shm_native(name, 0600, 8192);
	const struct ipc_stream_ops *ops = test_shm_ops();
	void *fh = test_shm_open(name, O_RDWR);
	struct ipc_wait w = { 0 };
	char *map, buf[16];

	map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(map != MAP_FAILED);
	f->map = map;
	f->maplen = 8192;
	assert_int_equal(ops->write(fh, "through", 7, 5000, &w), 7);
	assert_memory_equal(map + 5000, "through", 7);
	memcpy(map + 100, "mapped", 6);
	assert_int_equal(ops->read(fh, buf, 6, 100, &w), 6);
	assert_memory_equal(buf, "mapped", 6);
}

/*
 * A read takes nothing from a segment: no unread op (ipc.h), and the next
 * read sees the same bytes.
 */
static void test_shm_unread(void **state)
{
	const char *name = test_shm_name();
	int fd = test_shm_native(name, 0600, 0);
	const struct ipc_stream_ops *ops = test_shm_ops();
	void *fh = test_shm_open(name, O_RDWR);
	struct ipc_wait w = { 0 };
	char buf[8];

	assert_int_equal(pwrite(fd, "hello", 5, 0), 5);
	assert_null(ops->unread);
	assert_false(ops->flags & IPC_READ_TAKES);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 0, &w), 5);
	assert_int_equal(test_shm_native_size(fd), 5);
	assert_int_equal(ops->read(fh, buf, sizeof(buf), 0, &w), 5);
	assert_memory_equal(buf, "hello", 5);
}

/*
 * A large read by peek and take points into the segment itself, at the
 * offset asked, cut at the end; the segment grown, peek sees the new
 * bytes (a new mapping); past the end, nothing. Take gives the handle
 * back: a second peek does not deadlock.
 */
static void test_shm_peek(void **state)
{
	const char *name = test_shm_name();
	int fd = test_shm_native(name, 0600, 0);
	const struct ipc_stream_ops *ops = test_shm_ops();
	void *fh = test_shm_open(name, O_RDONLY);
	struct ipc_wait w = { 0 };
	struct iovec iov[2];
	int niov = 0;

	assert_non_null(ops->peek);
	assert_int_equal(pwrite(fd, "0123456789", 10, 0), 10);
	assert_int_equal(ops->peek(fh, 65536, 4, iov, &niov, &w), 6);
	assert_int_equal(niov, 1);
	assert_int_equal(iov[0].iov_len, 6);
	assert_memory_equal(iov[0].iov_base, "456789", 6);
	ops->take(fh, 6);
	assert_int_equal(pwrite(fd, "grown", 5, 70000), 5);
	assert_int_equal(ops->peek(fh, 65536, 69998, iov, &niov, &w), 7);
	assert_memory_equal(iov[0].iov_base, "\0\0grown", 7);
	ops->take(fh, 7);
	assert_int_equal(ops->peek(fh, 65536, 70005, iov, &niov, &w), 0);
	ops->take(fh, 0);
	assert_int_equal(ops->peek(fh, 3, 0, iov, &niov, &w), 3);
	assert_memory_equal(iov[0].iov_base, "012", 3);
	ops->take(fh, 3);
}

/*
 * data never parks: no poll (fs/ answers POLLIN|POLLOUT), no inode of its
 * own, seekable; st_size comes from the size op.
 */
static void test_shm_table(void **state)
{
	const struct ipc_stream_ops *ops = test_shm_ops();

	assert_string_equal(segment_kind.name, "shm");
	assert_int_equal(segment_kind.name_max, NAME_MAX);
	assert_null(ops->poll);
	assert_null(ops->acquire);
	assert_int_equal(ops->flags, 0);
	assert_non_null(ops->size);
	assert_non_null(ops->truncate);
	assert_int_equal(test_shm_file("data")->mode, 0666);
}

/*
 * What a daemon that is not root gets for a segment of its own with mode
 * 0444 (data read-only, written not), and one of mode 0 (stat and chmod
 * still work: they need no right to open it). Results go up PIPEFD.
 */
static void test_shm_perm_child(const char *ro, const char *none, int pipefd)
{
	const struct ipc_stream_ops *ops = test_shm_ops();
	struct ipc_wait w = { 0 };
	struct stat st;
	int ret[6] = { -1, -1, -1, -1, -1, -1 };
	void *fh = NULL;
	char buf[8];
	int fd;

	if (getuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
		goto out;
	fd = shm_open(ro, O_RDWR | O_CREAT | O_EXCL, 0444);
	if (fd < 0 || write(fd, "ro", 2) != 2)
		goto out;
	close(fd);
	fd = shm_open(none, O_RDWR | O_CREAT | O_EXCL, 0);
	if (fd < 0)
		goto out;
	close(fd);
	ret[0] = ops->open(ro, O_RDONLY, &fh);
	if (ret[0] == 0) {
		ret[1] = ops->read(fh, buf, sizeof(buf), 0, &w);
		ops->release(fh);
	}
	fh = NULL;
	ret[2] = ops->open(ro, O_RDWR, &fh);
	if (ret[2] == 0)
		ops->release(fh);
	ret[3] = segment_kind.stat(none, &st);
	ret[4] = segment_kind.chmod(none, 0600);
	ret[5] = segment_kind.stat(none, &st) == 0 ? (int)(st.st_mode & 07777)
						   : -1;
out:
	if (write(pipefd, ret, sizeof(ret)) != sizeof(ret))
		_exit(1);
}

static void test_shm_perm(void **state)
{
	const char *ro = test_shm_name();
	const char *none = test_shm_name();
	int ret[6], fds[2], status;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		test_shm_perm_child(ro, none, fds[1]);
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], ret, sizeof(ret)), sizeof(ret));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(ret[0], 0);
	assert_int_equal(ret[1], 2);
	assert_int_equal(ret[2], -EACCES);
	assert_int_equal(ret[3], 0);
	assert_int_equal(ret[4], 0);
	assert_int_equal(ret[5], 0600);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define TEST_SHM_CASE(fn)                                                      \
	cmocka_unit_test_setup_teardown(fn, test_shm_setup, test_shm_teardown)
		TEST_SHM_CASE(test_shm_create),
		TEST_SHM_CASE(test_shm_create_owner),
		TEST_SHM_CASE(test_shm_create_exists),
		TEST_SHM_CASE(test_shm_missing),
		TEST_SHM_CASE(test_shm_remove),
		TEST_SHM_CASE(test_shm_remove_open),
		TEST_SHM_CASE(test_shm_chmod),
		TEST_SHM_CASE(test_shm_list),
		TEST_SHM_CASE(test_shm_sem_not_listed),
		TEST_SHM_CASE(test_shm_not_regular),
		TEST_SHM_CASE(test_shm_read_write),
		TEST_SHM_CASE(test_shm_write_grows),
		TEST_SHM_CASE(test_shm_append),
		TEST_SHM_CASE(test_shm_write_large),
		TEST_SHM_CASE(test_shm_truncate),
		TEST_SHM_CASE(test_shm_size_attr),
		TEST_SHM_CASE(test_shm_coherent_mmap),
		TEST_SHM_CASE(test_shm_unread),
		TEST_SHM_CASE(test_shm_peek),
		TEST_SHM_CASE(test_shm_table),
		TEST_SHM_CASE(test_shm_perm),
#undef TEST_SHM_CASE
	};

	return cmocka_run_group_tests_name("shm", tests, test_shm_group_setup,
					   test_shm_group_teardown);
}

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_show.c - unit tests of waiters and holders (fs/show.c), no mount.
 *
 * The lists are driven as fs/file.c drives them (a request's first park,
 * its reply; a held open, its release) and read back through
 * fs_show_format() for a node, as an open of the file would: exact text,
 * oldest first, only the object asked about, nothing after the end.
 *
 *   $ ninja -C build && build/tests/test_show
 *   [==========] 8 test(s) run.
 */
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs.h"

extern const struct ipc_kind mqueue_kind, semaphore_kind;

/*
 * The made-up PIDs below are above PID_MAX_LIMIT (4194304): no thread has
 * one, so show.c's look-up of a thread's process in /proc leaves them be.
 */

/* A node of fs/node.c's, as a lookup makes it: test_show_put() drops it. */
static struct fs_node *test_show_node(const struct ipc_kind *kind,
				      const char *name,
				      const struct ipc_file *file)
{
	struct fs_node *n = fs_node_hold(kind, name, file, 0);

	assert_non_null(n);
	return n;
}

static void test_show_put(struct fs_node *n)
{
	fs_node_forget(n, 1);
}

static const struct ipc_file *test_show_file(const struct ipc_file *files,
					     const char *name)
{
	for (; files->name; files++)
		if (strcmp(files->name, name) == 0)
			return files;
	return NULL;
}

/* The text an open of kind/name/file would read now. */
static void test_show_expect(const struct ipc_file *files,
			     const struct ipc_kind *kind, const char *name,
			     const char *file, const char *want)
{
	struct fs_node *n =
		test_show_node(kind, name, test_show_file(files, file));
	char *val = NULL;
	int len = -1;

	assert_true(fs_show_is(n->file));
	assert_int_equal(fs_show_format(n, &val, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(val, want, len);
	free(val);
	test_show_put(n);
}

static void test_show_files_added(void **state)
{
	struct ipc_file *q = fs_show_files(&mqueue_kind);
	struct ipc_file *s = fs_show_files(&semaphore_kind);

	/* Every object has waiters; holders only where an open holds. */
	assert_non_null(test_show_file(q, "waiters"));
	assert_null(test_show_file(q, "holders"));
	assert_non_null(test_show_file(s, "waiters"));
	assert_non_null(test_show_file(s, "holders"));
	/* The kind's own files stay first, as they were, and are its own. */
	assert_string_equal(q[0].name, mqueue_kind.files[0].name);
	assert_false(fs_show_is(test_show_file(q, "data")));
	assert_int_equal(test_show_file(q, "waiters")->mode, 0444);
	free(q);
	free(s);
}

static void test_show_waiters_oldest_first(void **state)
{
	struct ipc_file *files = fs_show_files(&mqueue_kind);
	struct fs_node *data = test_show_node(&mqueue_kind, "/a",
					      test_show_file(files, "data"));
	struct fs_node *stream = test_show_node(
		&mqueue_kind, "/a", test_show_file(files, "stream"));
	struct fs_shown w[3] = { 0 };

	test_show_expect(files, &mqueue_kind, "/a", "waiters", "");
	fs_show_waiting(&w[0], data, data->file, 9000101);
	fs_show_waiting(&w[1], stream, stream->file, 9000102);
	fs_show_waiting(&w[2], data, data->file, 9000103);
	test_show_expect(files, &mqueue_kind, "/a", "waiters",
			 "9000101 data\n9000102 stream\n9000103 data\n");
	/* The middle one is answered: the others keep their order. */
	fs_show_done(&w[1]);
	test_show_expect(files, &mqueue_kind, "/a", "waiters",
			 "9000101 data\n9000103 data\n");
	fs_show_done(&w[0]);
	fs_show_done(&w[2]);
	test_show_expect(files, &mqueue_kind, "/a", "waiters", "");
	test_show_put(data);
	test_show_put(stream);
	free(files);
}

/* Waiters of another object, or of another kind's object of that name. */
static void test_show_only_this_object(void **state)
{
	struct ipc_file *qf = fs_show_files(&mqueue_kind);
	struct ipc_file *sf = fs_show_files(&semaphore_kind);
	struct fs_node *qa =
		test_show_node(&mqueue_kind, "/a", test_show_file(qf, "data"));
	struct fs_node *qb =
		test_show_node(&mqueue_kind, "/b", test_show_file(qf, "data"));
	struct fs_node *sa = test_show_node(&semaphore_kind, "/a",
					    test_show_file(sf, "wait"));
	struct fs_shown w[3] = { 0 };

	fs_show_waiting(&w[0], qb, qb->file, 9000007);
	fs_show_waiting(&w[1], sa, sa->file, 9000008);
	fs_show_waiting(&w[2], qa, qa->file, 9000009);
	test_show_expect(qf, &mqueue_kind, "/a", "waiters", "9000009 data\n");
	test_show_expect(qf, &mqueue_kind, "/b", "waiters", "9000007 data\n");
	test_show_expect(sf, &semaphore_kind, "/a", "waiters",
			 "9000008 wait\n");
	test_show_expect(sf, &semaphore_kind, "/a", "holders", "");
	fs_show_done(&w[0]);
	fs_show_done(&w[1]);
	fs_show_done(&w[2]);
	test_show_put(qa);
	test_show_put(qb);
	test_show_put(sa);
	free(qf);
	free(sf);
}

static void test_show_holders(void **state)
{
	struct ipc_file *files = fs_show_files(&semaphore_kind);
	struct fs_node *hold = test_show_node(&semaphore_kind, "/l",
					      test_show_file(files, "hold"));
	struct fs_shown h[2] = { 0 }, w = { 0 };

	fs_show_holding(&h[0], hold, hold->file, 9000031);
	fs_show_holding(&h[1], hold, hold->file, 9000032);
	/* A blocked hold open is a waiter, not a holder. */
	fs_show_waiting(&w, hold, hold->file, 9000033);
	test_show_expect(files, &semaphore_kind, "/l", "holders",
			 "9000031\n9000032\n");
	test_show_expect(files, &semaphore_kind, "/l", "waiters",
			 "9000033 hold\n");
	fs_show_done(&h[0]);
	test_show_expect(files, &semaphore_kind, "/l", "holders", "9000032\n");
	fs_show_done(&h[1]);
	fs_show_done(&w);
	test_show_expect(files, &semaphore_kind, "/l", "holders", "");
	test_show_put(hold);
	free(files);
}

/* Done twice, or never listed: nothing happens (file.c calls it always). */
static void test_show_done_unlisted(void **state)
{
	struct ipc_file *files = fs_show_files(&mqueue_kind);
	struct fs_node *data = test_show_node(&mqueue_kind, "/d",
					      test_show_file(files, "data"));
	struct fs_shown never = { 0 }, once = { 0 };

	fs_show_done(&never);
	fs_show_waiting(&once, data, data->file, 9000005);
	fs_show_done(&once);
	fs_show_done(&once);
	test_show_expect(files, &mqueue_kind, "/d", "waiters", "");
	test_show_put(data);
	free(files);
}

/* Thousands of waiters: every line, in order, and no limit of a buffer. */
static void test_show_many(void **state)
{
	enum { N = 5000 };
	struct ipc_file *files = fs_show_files(&mqueue_kind);
	struct fs_node *data = test_show_node(&mqueue_kind, "/m",
					      test_show_file(files, "data"));
	struct fs_node *n = test_show_node(&mqueue_kind, "/m",
					   test_show_file(files, "waiters"));
	struct fs_shown *w = calloc(N, sizeof(*w));
	char *val = NULL, *line;
	int i, len;

	assert_non_null(w);
	for (i = 0; i < N; i++)
		fs_show_waiting(&w[i], data, data->file, 9001000 + i);
	assert_int_equal(fs_show_format(n, &val, &len), 0);
	for (i = 0, line = val; i < N; i++) {
		assert_int_equal(strtol(line, &line, 10), 9001000 + i);
		assert_memory_equal(line, " data\n", 6);
		line += 6;
	}
	assert_int_equal(line - val, len);
	for (i = 0; i < N; i++)
		fs_show_done(&w[i]);
	free(val);
	free(w);
	test_show_put(n);
	test_show_put(data);
	free(files);
}

/*
 * A semaphore removed and made again under its name (by rmdir and mkdir,
 * or natively) has none of the old one's holders.
 */
static char test_show_sem[64]; /* removed by the teardown, however it went */

static int test_show_unlink(void **state)
{
	if (*test_show_sem)
		sem_unlink(test_show_sem);
	*test_show_sem = '\0';
	return 0;
}

static void test_show_holders_of_a_remade_object(void **state)
{
	struct ipc_file *files = fs_show_files(&semaphore_kind);
	const char *name = test_show_sem;
	struct fs_node *hold;
	struct fs_shown h = { 0 };
	char buf[80];
	sem_t *sem;

	assert_int_equal(semaphore_kind.init(), 0); /* its /dev/shm */
	snprintf(test_show_sem, sizeof(test_show_sem), "/ut%d_show_remade",
		 (int)getpid());
	sem = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
	assert_true(sem != SEM_FAILED);
	sem_close(sem);
	hold = test_show_node(&semaphore_kind, name,
			      test_show_file(files, "hold"));
	fs_show_holding(&h, hold, hold->file, getpid());
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	test_show_expect(files, &semaphore_kind, name, "holders", buf);
	sem_unlink(name);
	sem = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
	assert_true(sem != SEM_FAILED);
	sem_close(sem);
	test_show_expect(files, &semaphore_kind, name, "holders", "");
	fs_show_done(&h);
	test_show_put(hold);
	free(files);
	semaphore_kind.fini();
}

static void *test_show_thread(void *arg)
{
	int *fds = arg;
	char c;

	if (write(fds[1], &(pid_t){ gettid() }, sizeof(pid_t)) < 0 ||
	    read(fds[2], &c, 1) < 0)
		return NULL;
	return NULL;
}

/* FUSE names the thread that asks; waiters shows its process. */
static void test_show_thread_is_its_process(void **state)
{
	struct ipc_file *files = fs_show_files(&mqueue_kind);
	struct fs_node *data = test_show_node(&mqueue_kind, "/t",
					      test_show_file(files, "data"));
	struct fs_shown w = { 0 };
	int fds[4]; /* 0, 1: its tid to us; 2, 3: "end" to it */
	char buf[64];
	pthread_t th;
	pid_t tid;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(pipe(fds + 2), 0);
	assert_int_equal(pthread_create(&th, NULL, test_show_thread, fds), 0);
	assert_int_equal(read(fds[0], &tid, sizeof(tid)), sizeof(tid));
	assert_int_not_equal(tid, getpid());
	fs_show_waiting(&w, data, data->file, tid);
	snprintf(buf, sizeof(buf), "%d data\n", (int)getpid());
	test_show_expect(files, &mqueue_kind, "/t", "waiters", buf);
	fs_show_done(&w);
	assert_int_equal(write(fds[3], "x", 1), 1);
	pthread_join(th, NULL);
	close(fds[0]);
	close(fds[1]);
	close(fds[2]);
	close(fds[3]);
	test_show_put(data);
	free(files);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_show_files_added),
		cmocka_unit_test(test_show_waiters_oldest_first),
		cmocka_unit_test(test_show_only_this_object),
		cmocka_unit_test(test_show_holders),
		cmocka_unit_test(test_show_done_unlisted),
		cmocka_unit_test(test_show_many),
		cmocka_unit_test_teardown(test_show_holders_of_a_remade_object,
					  test_show_unlink),
		cmocka_unit_test(test_show_thread_is_its_process),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

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
 *   [==========] 6 test(s) run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fs.h"

extern const struct ipc_kind mqueue_kind, semaphore_kind;

/* A node as fs/node.c makes them: kind, object name, file. */
static struct fs_node *test_show_node(const struct ipc_kind *kind,
				      const char *name,
				      const struct ipc_file *file)
{
	struct fs_node *n = calloc(1, sizeof(*n) + strlen(name) + 1);

	assert_non_null(n);
	n->kind = kind;
	n->file = file;
	strcpy(n->name, name);
	n->ino = fs_node_ino(kind, name, file);
	return n;
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
	free(n);
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
	fs_show_waiting(&w[0], data, data->file, 101);
	fs_show_waiting(&w[1], stream, stream->file, 102);
	fs_show_waiting(&w[2], data, data->file, 103);
	test_show_expect(files, &mqueue_kind, "/a", "waiters",
			 "101 data\n102 stream\n103 data\n");
	/* The middle one is answered: the others keep their order. */
	fs_show_done(&w[1]);
	test_show_expect(files, &mqueue_kind, "/a", "waiters",
			 "101 data\n103 data\n");
	fs_show_done(&w[0]);
	fs_show_done(&w[2]);
	test_show_expect(files, &mqueue_kind, "/a", "waiters", "");
	free(data);
	free(stream);
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

	fs_show_waiting(&w[0], qb, qb->file, 7);
	fs_show_waiting(&w[1], sa, sa->file, 8);
	fs_show_waiting(&w[2], qa, qa->file, 9);
	test_show_expect(qf, &mqueue_kind, "/a", "waiters", "9 data\n");
	test_show_expect(qf, &mqueue_kind, "/b", "waiters", "7 data\n");
	test_show_expect(sf, &semaphore_kind, "/a", "waiters", "8 wait\n");
	test_show_expect(sf, &semaphore_kind, "/a", "holders", "");
	fs_show_done(&w[0]);
	fs_show_done(&w[1]);
	fs_show_done(&w[2]);
	free(qa);
	free(qb);
	free(sa);
	free(qf);
	free(sf);
}

static void test_show_holders(void **state)
{
	struct ipc_file *files = fs_show_files(&semaphore_kind);
	struct fs_node *hold = test_show_node(&semaphore_kind, "/l",
					      test_show_file(files, "hold"));
	struct fs_shown h[2] = { 0 }, w = { 0 };

	fs_show_holding(&h[0], hold, hold->file, 31);
	fs_show_holding(&h[1], hold, hold->file, 32);
	/* A blocked hold open is a waiter, not a holder. */
	fs_show_waiting(&w, hold, hold->file, 33);
	test_show_expect(files, &semaphore_kind, "/l", "holders", "31\n32\n");
	test_show_expect(files, &semaphore_kind, "/l", "waiters", "33 hold\n");
	fs_show_done(&h[0]);
	test_show_expect(files, &semaphore_kind, "/l", "holders", "32\n");
	fs_show_done(&h[1]);
	fs_show_done(&w);
	test_show_expect(files, &semaphore_kind, "/l", "holders", "");
	free(hold);
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
	fs_show_waiting(&once, data, data->file, 5);
	fs_show_done(&once);
	fs_show_done(&once);
	test_show_expect(files, &mqueue_kind, "/d", "waiters", "");
	free(data);
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
		fs_show_waiting(&w[i], data, data->file, 1000 + i);
	assert_int_equal(fs_show_format(n, &val, &len), 0);
	for (i = 0, line = val; i < N; i++) {
		assert_int_equal(strtol(line, &line, 10), 1000 + i);
		assert_memory_equal(line, " data\n", 6);
		line += 6;
	}
	assert_int_equal(line - val, len);
	for (i = 0; i < N; i++)
		fs_show_done(&w[i]);
	free(val);
	free(w);
	free(n);
	free(data);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

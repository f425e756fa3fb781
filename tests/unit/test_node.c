// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_node.c - unit tests of node ids (fs/node.c), no mount.
 *
 * A file whose writers park (IPC_OWN_INODE) gets a node per open file
 * (DESIGN §3): driven here as ops.c and file.c drive it (a lookup by a
 * thread, the open that follows, its release, the kernel's forget), with
 * a queue's `data` and its `count` beside it.
 *
 *   $ ninja -C build && build/tests/test_node
 *   [==========] 7 test(s) run.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs.h"

extern const struct ipc_kind mqueue_kind;

/* Threads that exist (node.c asks whether the one a node went to does). */
#define T1 getpid()
#define T2 getppid()

static const struct ipc_file *test_node_file(const char *name)
{
	const struct ipc_file *f;

	for (f = mqueue_kind.files; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static struct fs_node *test_node_lookup(const char *file, pid_t who)
{
	struct fs_node *n =
		fs_node_hold(&mqueue_kind, "/q", test_node_file(file), who);

	assert_non_null(n);
	return n;
}

/* Attribute files are interned: one node, whoever looks, open or not. */
static void test_node_attr_interned(void **state)
{
	struct fs_node *a = test_node_lookup("count", T1);
	struct fs_node *b;

	assert_int_equal(fs_node_open(a, T1, false), 0);
	b = test_node_lookup("count", T2);
	assert_ptr_equal(a, b);
	fs_node_close(a, false);
	fs_node_forget(a, 2);
}

/* Opens one after the other share one node: one lookup each. */
static void test_node_reused_once_closed(void **state)
{
	struct fs_node *a = test_node_lookup("data", T1);
	struct fs_node *b;

	assert_true(a->own);
	assert_int_equal(fs_node_open(a, T1, true), 0);
	fs_node_close(a, true);
	b = test_node_lookup("data", T2);
	assert_ptr_equal(a, b);
	assert_int_equal(a->nlookup, 2);
	fs_node_forget(a, 2);
}

/* While a file is open on a node, every other lookup gets another. */
static void test_node_open_is_its_own(void **state)
{
	struct fs_node *a = test_node_lookup("data", T1);
	struct fs_node *b, *c;

	assert_int_equal(fs_node_open(a, T1, true), 0);
	b = test_node_lookup("data", T2);
	assert_ptr_not_equal(a, b);
	assert_int_equal(a->ino, b->ino); /* the same st_ino shown */
	assert_int_equal(fs_node_open(b, T2, true), 0);
	c = test_node_lookup("data", T1);
	assert_ptr_not_equal(c, a);
	assert_ptr_not_equal(c, b);
	fs_node_close(a, true);
	fs_node_close(b, true);
	fs_node_forget(a, 1);
	fs_node_forget(b, 1);
	fs_node_forget(c, 1);
}

/*
 * Handed out and not opened yet: another thread's lookup (racing to open)
 * gets a node of its own; the same thread's next lookup, whose call came
 * after (a stat, then an open), gets it again.
 */
static void test_node_handed_out(void **state)
{
	struct fs_node *a = test_node_lookup("data", T1);
	struct fs_node *b = test_node_lookup("data", T2);
	struct fs_node *c = test_node_lookup("data", T1);
	struct fs_node *d, *e;

	assert_ptr_not_equal(a, b);
	assert_ptr_equal(a, c);
	/* A thread the kernel could not name (0) matches nobody. */
	d = test_node_lookup("data", 0);
	e = test_node_lookup("data", 0);
	assert_ptr_not_equal(d, a);
	assert_ptr_not_equal(d, b);
	assert_ptr_not_equal(e, d);
	fs_node_forget(a, 2);
	fs_node_forget(b, 1);
	fs_node_forget(d, 1);
	fs_node_forget(e, 1);
}

/* Handed out to a process that is gone: its call is over, the node idle. */
static void test_node_handed_to_the_gone(void **state)
{
	pid_t child = fork();
	struct fs_node *a, *b;

	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	assert_int_equal(waitpid(child, NULL, 0), child);
	a = test_node_lookup("data", child); /* a `stat data` that ended */
	b = test_node_lookup("data", T2);
	assert_ptr_equal(a, b);
	fs_node_forget(a, 2);
}

/*
 * An open file keeps its node after the kernel forgot it: a release that
 * comes late still finds it, and frees it.
 */
static void test_node_outlives_forget(void **state)
{
	struct fs_node *a = test_node_lookup("data", T1);

	assert_int_equal(fs_node_open(a, T1, true), 0);
	fs_node_forget(a, 1);
	assert_int_equal(a->opens, 1);
	assert_int_equal(a->nlookup, 1);
	fs_node_close(a, true); /* frees it: ASan and valgrind see the rest */
}

/*
 * The kernel keeps a data entry, so an open may come with no lookup before
 * it: of an idle node, by anyone. A writer that would share an inode with
 * another fails with ESTALE (the kernel then looks the path up again): a
 * node open for writing already, or handed out to another thread's lookup,
 * whose open comes next. Readers share.
 */
static void test_node_writers_share_no_inode(void **state)
{
	struct fs_node *a = test_node_lookup("data", T1);
	struct fs_node *b;

	assert_int_equal(fs_node_open(a, T2, true), -ESTALE); /* went to T1 */
	assert_int_equal(fs_node_open(a, T1, true), 0);
	assert_int_equal(fs_node_open(a, T2, false), 0); /* a reader shares */
	assert_int_equal(fs_node_open(a, T2, true), -ESTALE); /* a writer's */
	/* The kernel's retry looks the path up: T2 gets b, handed to it. */
	b = test_node_lookup("data", T2);
	assert_ptr_not_equal(a, b);
	assert_int_equal(fs_node_open(b, T1, true), -ESTALE);
	assert_int_equal(fs_node_open(b, T2, true), 0);
	fs_node_close(b, true);
	fs_node_forget(b, 1);
	fs_node_close(a, false);
	fs_node_close(a, true);
	assert_int_equal(fs_node_open(a, T2, true), 0); /* idle: entry kept */
	/*
	 * A retry back at the node it was refused, with no lookup between,
	 * came through a link to an open file (/dev/stdout): it shares.
	 */
	assert_int_equal(fs_node_open(a, T1, true), -ESTALE);
	assert_int_equal(fs_node_open(a, T1, true), 0);
	assert_int_equal(a->writers, 2);
	fs_node_close(a, true);
	fs_node_close(a, true);
	fs_node_forget(a, 1);
	/* A thread the kernel could not name (0) may open what went to one. */
	a = test_node_lookup("data", 0);
	assert_int_equal(fs_node_open(a, 0, true), 0);
	fs_node_close(a, true);
	fs_node_forget(a, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_attr_interned),
		cmocka_unit_test(test_node_reused_once_closed),
		cmocka_unit_test(test_node_open_is_its_own),
		cmocka_unit_test(test_node_handed_out),
		cmocka_unit_test(test_node_handed_to_the_gone),
		cmocka_unit_test(test_node_outlives_forget),
		cmocka_unit_test(test_node_writers_share_no_inode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

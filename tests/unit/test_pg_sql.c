// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_pg_sql.c - unit tests of the PostgreSQL engine's SQL functions
 * (backends/pg/schema.sql), through libpq against a real server; no mount,
 * no daemon.
 *
 * The server comes from libpq's environment (PGHOST, PGPORT, PGUSER,
 * PGDATABASE); without PGHOST the test starts nothing and exits 77
 * (skipped). Each test drops schema ipcfs and runs schema.sql again (from
 * $IPCFS_SCHEMA, else the source tree's), in one PQexec as the daemon does,
 * so it refuses to run on a database where a live mount is attached. Every
 * session has a statement_timeout, and every wait here (a notification, a
 * session's end) has a deadline: a test fails, it never hangs.
 *
 *   $ env $(tools/pg-server start /tmp/pg) build/tests/test_pg_sql
 *   [==========] 26 test(s) run.
 *   $ tools/pg-server stop /tmp/pg
 *
 * Values are asserted exactly, errors by their SQLSTATE (IPnnn, nnn the
 * errno), and the result column types the C side reads are pinned.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#ifndef IPCFS_SCHEMA_PATH
#define IPCFS_SCHEMA_PATH "backends/pg/schema.sql"
#endif

#define TEST_PG_CONNS 8
#define TEST_PG_WAIT_MS 5000 /* a notification, a session's end */

/* Type oids (pg_type.h is server-side): what the C side's readers see. */
#define TEST_PG_BOOL 16
#define TEST_PG_BYTEA 17
#define TEST_PG_INT8 20
#define TEST_PG_INT4 23
#define TEST_PG_TEXT 25
#define TEST_PG_FLOAT8 701

/* The sessions a test opened, closed by the teardown whatever happened. */
static PGconn *test_pg_conns[TEST_PG_CONNS];
static char *test_pg_schema; /* schema.sql's text */

/* Two mounts' ids, as a daemon makes them. */
static const char test_pg_m1[] = "11111111-1111-4111-8111-111111111111";
static const char test_pg_m2[] = "22222222-2222-4222-8222-222222222222";

static void test_pg_quiet(void *arg, const char *message)
{
}

/* A new session, bounded: no statement or lock wait outlives the test. */
static PGconn *test_pg_connect(void)
{
	static const char *const keys[] = { "connect_timeout", "options",
					    "application_name", NULL };
	static const char *const vals[] = {
		"10", "-c statement_timeout=20000 -c lock_timeout=15000",
		"test_pg_sql", NULL
	};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	int i;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect: %s", PQerrorMessage(c));
	PQsetNoticeProcessor(c, test_pg_quiet, NULL);
	for (i = 0; i < TEST_PG_CONNS; i++) {
		if (!test_pg_conns[i]) {
			test_pg_conns[i] = c;
			return c;
		}
	}
	PQfinish(c);
	fail_msg("more than %d sessions", TEST_PG_CONNS);
	return NULL;
}

/* End a session early (a mount that dies), so the teardown skips it. */
static int test_pg_disconnect(PGconn *c)
{
	int i, pid = PQbackendPID(c);

	for (i = 0; i < TEST_PG_CONNS; i++)
		if (test_pg_conns[i] == c)
			test_pg_conns[i] = NULL;
	PQfinish(c);
	return pid;
}

/*
 * Run sql with n parameters: vals[i] NULL is SQL null; lens NULL or
 * lens[i] < 0: text, else binary of lens[i] bytes. Binary results if
 * `binary`. The caller PQclear()s.
 */
static PGresult *test_pg_run(PGconn *c, int binary, const char *sql, int n,
			     const char *const *vals, const int *lens)
{
	int fmts[8] = { 0 }, blens[8] = { 0 }, i;

	assert_true(n <= 8);
	for (i = 0; i < n; i++) {
		if (lens && lens[i] >= 0) {
			fmts[i] = 1;
			blens[i] = lens[i];
		}
	}
	return PQexecParams(c, sql, n, NULL, vals, blens, fmts, binary);
}

static PGresult *test_pg_ok_v(PGconn *c, int binary, const char *sql, int n,
			      const char *const *vals, const int *lens)
{
	PGresult *r = test_pg_run(c, binary, sql, n, vals, lens);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	return r;
}

/* Parameters as a list of strings: T(c, sql, "a", NULL, "b"). */
#define TEST_PG_ARGS(...)                                                      \
	(int)(sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(const char *)), \
		(const char *const[])                                          \
	{                                                                      \
		__VA_ARGS__                                                    \
	}
/* Succeed, text results. */
#define T_OK(c, sql, ...)                                                      \
	test_pg_ok_v(c, 0, sql, TEST_PG_ARGS(__VA_ARGS__), NULL)
/* Succeed with no parameters. */
#define T_OK0(c, sql) test_pg_ok_v(c, 0, sql, 0, NULL, NULL)

/* Run for the effect. */
static void test_pg_exec(PGconn *c, const char *sql)
{
	PQclear(T_OK0(c, sql));
}

/* The one value of a query, as text (NULL for SQL null), in buf. */
static const char *test_pg_val_v(PGconn *c, char *buf, size_t size,
				 const char *sql, int n,
				 const char *const *vals)
{
	PGresult *r = test_pg_ok_v(c, 0, sql, n, vals, NULL);
	const char *v = NULL;

	if (PQntuples(r) != 1 || PQnfields(r) < 1)
		fail_msg("%s: %d rows, %d columns", sql, PQntuples(r),
			 PQnfields(r));
	if (!PQgetisnull(r, 0, 0)) {
		snprintf(buf, size, "%s", PQgetvalue(r, 0, 0));
		v = buf;
	}
	PQclear(r);
	return v;
}

#define T_VAL(c, buf, sql, ...)                                                \
	test_pg_val_v(c, buf, sizeof(buf), sql, TEST_PG_ARGS(__VA_ARGS__))

/* The one value of a query, a number. */
static long long test_pg_num_v(PGconn *c, const char *sql, int n,
			       const char *const *vals)
{
	char buf[64];
	const char *v = test_pg_val_v(c, buf, sizeof(buf), sql, n, vals);

	if (!v)
		fail_msg("%s: null", sql);
	if (strcmp(v, "t") == 0)
		return 1;
	if (strcmp(v, "f") == 0)
		return 0;
	return strtoll(v, NULL, 10);
}

#define T_NUM(c, sql, ...) test_pg_num_v(c, sql, TEST_PG_ARGS(__VA_ARGS__))
#define T_NUM0(c, sql) test_pg_num_v(c, sql, 0, NULL)

/* Fail with SQLSTATE state. */
static void test_pg_fail_v(PGconn *c, const char *state, const char *sql, int n,
			   const char *const *vals)
{
	PGresult *r = test_pg_run(c, 0, sql, n, vals, NULL);
	const char *got = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	if (PQresultStatus(r) != PGRES_FATAL_ERROR)
		fail_msg("%s: succeeded, expected %s", sql, state);
	if (!got || strcmp(got, state) != 0)
		fail_msg("%s: %s, expected %s: %s", sql, got ? got : "?", state,
			 PQresultErrorMessage(r));
	PQclear(r);
}

#define T_FAIL(c, state, sql, ...)                                             \
	test_pg_fail_v(c, state, sql, TEST_PG_ARGS(__VA_ARGS__))

/* How many of the first n bytes of p are ch. */
static int test_pg_span(const unsigned char *p, unsigned char ch, int n)
{
	int i = 0;

	while (i < n && p[i] == ch)
		i++;
	return i;
}

static long test_pg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait up to ms for input on c; true if some came. */
static int test_pg_readable(PGconn *c, int ms)
{
	struct pollfd p = { .fd = PQsocket(c), .events = POLLIN };

	return poll(&p, 1, ms) > 0;
}

/* The next notification on c (LISTENing), within TEST_PG_WAIT_MS. */
static PGnotify *test_pg_notify(PGconn *c, int ms)
{
	long end = test_pg_now_ms() + ms;
	PGnotify *n;

	for (;;) {
		PQconsumeInput(c);
		n = PQnotifies(c);
		if (n || test_pg_now_ms() >= end)
			return n;
		test_pg_readable(c, (int)(end - test_pg_now_ms()));
	}
}

/* Expect the next notification's payload to be `want`. */
static void test_pg_expect(PGconn *l, const char *want)
{
	PGnotify *n = test_pg_notify(l, TEST_PG_WAIT_MS);

	if (!n)
		fail_msg("no notification, expected \"%s\"", want);
	assert_string_equal(n->relname, "ipcfs");
	assert_string_equal(n->extra, want);
	PQfreemem(n);
}

/* Expect no notification within a short while. */
static void test_pg_expect_none(PGconn *l)
{
	PGnotify *n = test_pg_notify(l, 200);

	if (n)
		fail_msg("unexpected notification \"%s\"", n->extra);
}

/* Attach mount id on session c, as a daemon does on its LISTEN session. */
static void test_pg_attach(PGconn *c, const char *mount, const char *host)
{
	PQclear(T_OK(c, "select ipcfs.mount_attach($1, $2, 4242)", mount,
		     host));
}

static char *test_pg_read_schema(void)
{
	const char *path = getenv("IPCFS_SCHEMA");
	FILE *f;
	char *text;
	long size;

	if (!path || !*path)
		path = IPCFS_SCHEMA_PATH;
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "test_pg_sql: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	text = malloc(size + 1);
	if (text && fread(text, 1, size, f) != (size_t)size) {
		free(text);
		text = NULL;
	}
	if (text)
		text[size] = '\0';
	fclose(f);
	return text;
}

/*
 * A fresh schema for each test. Never over a live mount: a database a
 * daemon uses is not ours to wipe.
 */
static int test_pg_setup(void **state)
{
	PGconn *c = test_pg_connect();
	PGresult *r;

	r = PQexec(c, "select count(*) from ipcfs.mounts m"
		      " join pg_stat_activity a on a.pid = m.backend_pid"
		      " and a.backend_start = m.backend_start"
		      " where a.application_name <> 'test_pg_sql'");
	if (PQresultStatus(r) == PGRES_TUPLES_OK &&
	    strcmp(PQgetvalue(r, 0, 0), "0") != 0)
		fail_msg("a live mount uses schema ipcfs of this database");
	PQclear(r);
	test_pg_exec(c, "drop schema if exists ipcfs cascade");
	r = PQexec(c, test_pg_schema);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("schema.sql: %s", PQresultErrorMessage(r));
	PQclear(r);
	*state = c;
	return 0;
}

static int test_pg_teardown(void **state)
{
	int i;

	for (i = 0; i < TEST_PG_CONNS; i++) {
		PQfinish(test_pg_conns[i]);
		test_pg_conns[i] = NULL;
	}
	return 0;
}

/* The schema: its version, and the daemon's single PQexec of it works. */
static void test_pg_version(void **state)
{
	PGconn *c = *state;
	PGresult *r;

	assert_int_equal(T_NUM0(c, "select ipcfs.version()"), 1);
	assert_int_equal(T_NUM0(c, "select version from ipcfs.meta"), 1);
	/* Running it again fails (the daemon runs it only when absent). */
	r = PQexec(c, test_pg_schema);
	assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
	PQclear(r);
	assert_int_equal(T_NUM0(c, "select count(*) from ipcfs.objects"), 0);
}

/* Every error with its SQLSTATE. */
static void test_pg_errors(void **state)
{
	PGconn *c = *state;
	char name[300];

	PQclear(T_OK0(c, "select ipcfs.mq_create('/q', 0, 0, 420, 2, 4)"));
	PQclear(T_OK0(c, "select ipcfs.channel_create('/c', 0, 0, 420, 4096)"));
	PQclear(T_OK0(c, "select ipcfs.shm_create('/s', 0, 0, 420)"));
	PQclear(T_OK0(c, "select ipcfs.sem_create('/m', 0, 0, 420, 0)"));
	PQclear(T_OK0(c, "select ipcfs.topic_create('/t', 0, 0, 420, 4)"));

	/* ENOENT */
	T_FAIL(c, "IP002", "select ipcfs.id('queues', $1)", "/nope");
	T_FAIL(c, "IP002", "select ipcfs.id('sem', $1)", "/q");
	T_FAIL(c, "IP002", "select * from ipcfs.stat('shm', $1)", "/nope");
	T_FAIL(c, "IP002", "select ipcfs.chmod('topics', $1, 0)", "/nope");
	T_FAIL(c, "IP002", "select ipcfs.chown('topics', $1, 1, 1)", "/nope");
	T_FAIL(c, "IP002", "select ipcfs.unlink('channels', $1)", "/nope");
	T_FAIL(c, "IP002", "select ipcfs.mq_send($1, 'x', 0)", "/nope");
	T_FAIL(c, "IP002", "select * from ipcfs.mq_receive($1)", "/nope");
	T_FAIL(c, "IP002", "select * from ipcfs.mq_attr($1)", "/nope");
	T_FAIL(c, "IP002", "select ipcfs.mq_set($1, 1, 1)", "/nope");
	T_FAIL(c, "IP002", "select ipcfs.channel_write($1, 'x')", "/nope");
	T_FAIL(c, "IP002", "select * from ipcfs.channel_read($1, 1)", "/nope");
	T_FAIL(c, "IP002", "select ipcfs.channel_unread($1, 'x')", "/nope");
	T_FAIL(c, "IP002", "select * from ipcfs.channel_attr($1)", "/nope");
	T_FAIL(c, "IP002", "select ipcfs.channel_set($1, 8192, null)", "/nope");
	T_FAIL(c, "IP002", "select ipcfs.shm_read($1, 0, 1)", "/nope");
	T_FAIL(c, "IP002", "select ipcfs.shm_write($1, 0, 'x')", "/nope");
	T_FAIL(c, "IP002", "select ipcfs.shm_size($1)", "/nope");
	T_FAIL(c, "IP002", "select ipcfs.shm_truncate($1, 0)", "/nope");
	T_FAIL(c, "IP002", "select ipcfs.sem_post($1, 1)", "/nope");
	T_FAIL(c, "IP002", "select ipcfs.sem_trywait($1)", "/nope");
	T_FAIL(c, "IP002", "select ipcfs.sem_value($1)", "/nope");
	T_FAIL(c, "IP002", "select * from ipcfs.sem_holders($1, null)",
	       "/nope");
	T_FAIL(c, "IP002", "select ipcfs.topic_publish($1, 'x')", "/nope");
	T_FAIL(c, "IP002", "select ipcfs.topic_subscribe($1, null)", "/nope");
	T_FAIL(c, "IP002", "select * from ipcfs.topic_read($1)", "12345");
	T_FAIL(c, "IP002", "select ipcfs.topic_unread($1, 1, 'x')", "12345");
	T_FAIL(c, "IP002", "select * from ipcfs.topic_attr($1)", "/nope");
	T_FAIL(c, "IP002", "select ipcfs.topic_set($1, 5)", "/nope");

	/* EEXIST, whatever the parameters */
	T_FAIL(c, "IP017", "select ipcfs.mq_create($1, 0, 0, 420, 1, 1)", "/q");
	T_FAIL(c, "IP017", "select ipcfs.channel_create($1, 0, 0, 420, 4096)",
	       "/c");
	T_FAIL(c, "IP017", "select ipcfs.shm_create($1, 0, 0, 420)", "/s");
	T_FAIL(c, "IP017", "select ipcfs.sem_create($1, 0, 0, 420, 3)", "/m");
	T_FAIL(c, "IP017", "select ipcfs.topic_create($1, 0, 0, 420, 1)", "/t");

	/* EINVAL: values out of range, bad names; nothing made */
	T_FAIL(c, "IP022", "select ipcfs.mq_send('/q', 'x', $1)", "-1");
	T_FAIL(c, "IP022", "select ipcfs.mq_send('/q', 'x', $1)", "32768");
	T_FAIL(c, "IP022", "select ipcfs.mq_send('/q', 'x', $1)", NULL);
	T_FAIL(c, "IP022", "select ipcfs.mq_create('/a', 0, 0, 420, $1, 1)",
	       "0");
	T_FAIL(c, "IP022", "select ipcfs.mq_create('/a', 0, 0, 420, $1, 1)",
	       "65537");
	T_FAIL(c, "IP022", "select ipcfs.mq_create('/a', 0, 0, 420, 1, $1)",
	       "0");
	T_FAIL(c, "IP022", "select ipcfs.mq_create('/a', 0, 0, 420, 1, $1)",
	       "1044481");
	T_FAIL(c, "IP022", "select ipcfs.mq_set('/q', $1, null)", "0");
	T_FAIL(c, "IP022", "select ipcfs.mq_set('/q', null, $1)", "1044481");
	T_FAIL(c, "IP022", "select ipcfs.channel_create('/a', 0, 0, 420, $1)",
	       "4095");
	T_FAIL(c, "IP022", "select ipcfs.channel_create('/a', 0, 0, 420, $1)",
	       "1073741825");
	T_FAIL(c, "IP022", "select ipcfs.channel_set('/c', $1, null)", "4095");
	T_FAIL(c, "IP022", "select ipcfs.channel_set('/c', null, $1)", "open");
	T_FAIL(c, "IP022", "select * from ipcfs.channel_read('/c', $1)", "-1");
	T_FAIL(c, "IP022", "select ipcfs.shm_read('/s', $1, 1)", "-1");
	T_FAIL(c, "IP022", "select ipcfs.shm_read('/s', 0, $1)", "-1");
	T_FAIL(c, "IP022", "select ipcfs.shm_write('/s', $1, 'x')", "-1");
	T_FAIL(c, "IP022", "select ipcfs.shm_truncate('/s', $1)", "-1");
	T_FAIL(c, "IP022", "select ipcfs.sem_create('/a', 0, 0, 420, $1)",
	       "-1");
	T_FAIL(c, "IP022", "select ipcfs.sem_post('/m', $1)", "-1");
	T_FAIL(c, "IP022", "select ipcfs.topic_create('/a', 0, 0, 420, $1)",
	       "0");
	T_FAIL(c, "IP022", "select ipcfs.topic_create('/a', 0, 0, 420, $1)",
	       "1048577");
	T_FAIL(c, "IP022", "select ipcfs.topic_set('/t', $1)", "0");
	T_FAIL(c, "IP022", "select * from ipcfs.list($1)", "sysv");
	T_FAIL(c, "IP022", "select ipcfs.shm_create($1, 0, 0, 420)", "a");
	T_FAIL(c, "IP022", "select ipcfs.shm_create($1, 0, 0, 420)", "/");
	T_FAIL(c, "IP022", "select ipcfs.shm_create($1, 0, 0, 420)", "/a/b");
	T_FAIL(c, "IP022", "select ipcfs.shm_create($1, 0, 0, 420)", "/..");
	T_FAIL(c, "IP022", "select ipcfs.shm_create($1, 0, 0, 420)", NULL);
	/* ENAMETOOLONG past NAME_MAX (255) after the '/' */
	name[0] = '/';
	memset(name + 1, 'n', 255);
	name[256] = '\0';
	PQclear(T_OK(c, "select ipcfs.shm_create($1, 0, 0, 420)", name));
	strcat(name, "n");
	T_FAIL(c, "IP036", "select ipcfs.shm_create($1, 0, 0, 420)", name);
	assert_int_equal(T_NUM0(c, "select count(*) from ipcfs.objects"), 6);

	/* EMSGSIZE, EBUSY, EOVERFLOW, EFBIG: and nothing done */
	T_FAIL(c, "IP090", "select ipcfs.mq_send('/q', $1, 0)", "12345");
	T_FAIL(c, "IP090",
	       "select ipcfs.topic_publish($1, decode(repeat('00', 1044481),"
	       " 'hex'))",
	       "/t");
	PQclear(T_OK0(c, "select ipcfs.mq_send('/q', '1', 0)"));
	T_FAIL(c, "IP016", "select ipcfs.mq_set($1, 5, null)", "/q");
	PQclear(T_OK0(c, "select ipcfs.channel_set('/c', 8192, null)"));
	PQclear(T_OK0(c, "select ipcfs.channel_write('/c',"
			 " convert_to(repeat('x', 5000), 'UTF8'))"));
	T_FAIL(c, "IP016", "select ipcfs.channel_set('/c', $1, null)", "4096");
	PQclear(T_OK0(c, "select ipcfs.sem_post('/m', 2147483647)"));
	T_FAIL(c, "IP075", "select ipcfs.sem_post('/m', $1)", "1");
	T_FAIL(c, "IP027", "select ipcfs.shm_write('/s', $1, 'x')",
	       "1099511627776");
	T_FAIL(c, "IP027", "select ipcfs.shm_truncate('/s', $1)",
	       "1099511627777");
	assert_int_equal(T_NUM0(c, "select count(*) from ipcfs.messages"), 1);
	assert_int_equal(T_NUM0(c, "select maxmsg from ipcfs.mq_attr('/q')"),
			 2);
	assert_int_equal(T_NUM0(c, "select capacity"
				   " from ipcfs.channel_attr('/c')"),
			 8192);
	assert_int_equal(T_NUM0(c, "select ipcfs.sem_value('/m')"), 2147483647);
	assert_int_equal(T_NUM0(c, "select ipcfs.shm_size('/s')"), 0);
	assert_int_equal(T_NUM0(c, "select published"
				   " from ipcfs.topic_attr('/t')"),
			 0);
}

/* list, id, stat, chmod, chown, unlink: the generic functions. */
static void test_pg_generic(void **state)
{
	PGconn *c = *state;
	PGresult *r;
	long long id;
	char buf[64];

	id = T_NUM0(c, "select ipcfs.sem_create('/b', 1000, 100, 33188, 1)");
	PQclear(T_OK0(c, "select ipcfs.sem_create('/a b', 0, 0, 384, 1)"));
	PQclear(T_OK0(c, "select ipcfs.sem_create('/C', 0, 0, 384, 1)"));
	PQclear(T_OK0(c, "select ipcfs.mq_create('/b', 0, 0, 384, 1, 1)"));

	/* Sorted bytewise; per kind. */
	r = T_OK0(c, "select * from ipcfs.list('sem')");
	assert_int_equal(PQntuples(r), 3);
	assert_string_equal(PQgetvalue(r, 0, 0), "/C");
	assert_string_equal(PQgetvalue(r, 1, 0), "/a b");
	assert_string_equal(PQgetvalue(r, 2, 0), "/b");
	PQclear(r);
	r = T_OK0(c, "select * from ipcfs.list('shm')");
	assert_int_equal(PQntuples(r), 0);
	PQclear(r);
	assert_int_equal(T_NUM0(c, "select ipcfs.id('sem', '/b')"), id);
	assert_int_not_equal(T_NUM0(c, "select ipcfs.id('queues', '/b')"), id);

	/* Mode keeps the permission bits (mkdir's whole mode may come). */
	r = T_OK0(c, "select uid, gid, mode, atime > 0, mtime >= atime - 1,"
		     " abs(ctime - extract(epoch from now())) < 60"
		     " from ipcfs.stat('sem', '/b')");
	assert_string_equal(PQgetvalue(r, 0, 0), "1000");
	assert_string_equal(PQgetvalue(r, 0, 1), "100");
	assert_string_equal(PQgetvalue(r, 0, 2), "420");
	assert_string_equal(PQgetvalue(r, 0, 3), "t");
	assert_string_equal(PQgetvalue(r, 0, 4), "t");
	assert_string_equal(PQgetvalue(r, 0, 5), "t");
	PQclear(r);

	PQclear(T_OK0(c, "select ipcfs.chmod('sem', '/b', 16832)"));
	PQclear(T_OK0(c, "select ipcfs.chown('sem', '/b', -1, 7)"));
	assert_string_equal(T_VAL(c, buf,
				  "select uid || ' ' || gid || ' ' || mode"
				  " from ipcfs.stat('sem', $1)",
				  "/b"),
			    "1000 7 448");
	PQclear(T_OK0(c, "select ipcfs.chown('sem', '/b', 5, -1)"));
	assert_string_equal(T_VAL(c, buf,
				  "select uid || ' ' || gid"
				  " from ipcfs.stat('sem', $1)",
				  "/b"),
			    "5 7");

	PQclear(T_OK0(c, "select ipcfs.unlink('sem', '/b')"));
	T_FAIL(c, "IP002", "select ipcfs.id('sem', $1)", "/b");
	T_FAIL(c, "IP002", "select ipcfs.unlink('sem', $1)", "/b");
	assert_int_equal(T_NUM0(c, "select count(*) from ipcfs.sems"), 2);
	/* The queue of the same name is another object. */
	assert_int_equal(T_NUM0(c, "select count(*) from ipcfs.list('queues')"),
			 1);
}

/* The result columns' types, which the C side's readers rely on. */
static void test_pg_types(void **state)
{
	static const struct {
		const char *sql;
		int types[6];
	} cases[] = {
		{ "select * from ipcfs.stat('queues', '/q')",
		  { TEST_PG_INT4, TEST_PG_INT4, TEST_PG_INT4, TEST_PG_FLOAT8,
		    TEST_PG_FLOAT8, TEST_PG_FLOAT8 } },
		{ "select ipcfs.id('queues', '/q')", { TEST_PG_INT8 } },
		{ "select * from ipcfs.list('queues')", { TEST_PG_TEXT } },
		{ "select ipcfs.mq_send('/q', 'x', 1)", { TEST_PG_BOOL } },
		{ "select * from ipcfs.mq_receive('/q')",
		  { TEST_PG_BYTEA, TEST_PG_INT4, TEST_PG_INT8 } },
		{ "select ipcfs.mq_send('/q', 'x', 1, '"
		  "11111111-1111-4111-8111-111111111111 1 1 0')",
		  { TEST_PG_BOOL } },
		{ "select * from ipcfs.mq_receive('/q', '"
		  "11111111-1111-4111-8111-111111111111 2 1 0')",
		  { TEST_PG_BYTEA, TEST_PG_INT4, TEST_PG_INT8 } },
		{ "select ipcfs.mq_give_back('/q', 'x', 1, 1)",
		  { TEST_PG_BOOL } },
		{ "select * from ipcfs.mq_attr('/q')",
		  { TEST_PG_INT4, TEST_PG_INT4, TEST_PG_INT4 } },
		{ "select * from ipcfs.channel_open('/c', '"
		  "11111111-1111-4111-8111-111111111111', true, true)",
		  { TEST_PG_INT8, TEST_PG_INT4, TEST_PG_INT4 } },
		{ "select ipcfs.channel_write('/c', 'x')", { TEST_PG_INT4 } },
		{ "select * from ipcfs.channel_read('/c', 1)",
		  { TEST_PG_BYTEA, TEST_PG_INT4, TEST_PG_INT8, TEST_PG_TEXT } },
		{ "select * from ipcfs.channel_attr('/c')",
		  { TEST_PG_INT4, TEST_PG_INT4, TEST_PG_INT4, TEST_PG_INT4,
		    TEST_PG_TEXT } },
		{ "select ipcfs.shm_read('/s', 0, 1)", { TEST_PG_BYTEA } },
		{ "select ipcfs.shm_write('/s', 0, 'x')", { TEST_PG_INT4 } },
		{ "select ipcfs.shm_size('/s')", { TEST_PG_INT8 } },
		{ "select ipcfs.sem_post('/m', 1)", { TEST_PG_INT4 } },
		{ "select ipcfs.sem_trywait('/m')", { TEST_PG_BOOL } },
		{ "select ipcfs.sem_value('/m')", { TEST_PG_INT4 } },
		{ "select ipcfs.sem_hold('/m', '"
		  "11111111-1111-4111-8111-111111111111', 1)",
		  { TEST_PG_INT8 } },
		{ "select * from ipcfs.sem_holders('/m', null)",
		  { TEST_PG_TEXT } },
		{ "select ipcfs.topic_subscribe('/t', null)",
		  { TEST_PG_INT8 } },
		{ "select ipcfs.topic_publish('/t', 'x')", { TEST_PG_INT8 } },
		{ "select * from ipcfs.topic_read(1)",
		  { TEST_PG_BYTEA, TEST_PG_INT8 } },
		{ "select * from ipcfs.topic_attr('/t')",
		  { TEST_PG_INT4, TEST_PG_INT8, TEST_PG_INT8, TEST_PG_INT4 } },
		{ "select ipcfs.reclaim(1)", { TEST_PG_INT4 } },
		{ "select ipcfs.version()", { TEST_PG_INT4 } },
		{ "select ipcfs.mq_create('/q2', 0, 0, 420, 1, 1)",
		  { TEST_PG_INT8 } },
	};
	PGconn *c = *state;
	PGresult *r;
	size_t i;
	int j;

	test_pg_attach(c, test_pg_m1, "h1");
	PQclear(T_OK0(c, "select ipcfs.mq_create('/q', 0, 0, 420, 10, 10)"));
	PQclear(T_OK0(c, "select ipcfs.channel_create('/c', 0, 0, 420, 4096)"));
	PQclear(T_OK0(c, "select ipcfs.shm_create('/s', 0, 0, 420)"));
	PQclear(T_OK0(c, "select ipcfs.sem_create('/m', 0, 0, 420, 1)"));
	PQclear(T_OK0(c, "select ipcfs.topic_create('/t', 0, 0, 420, 4)"));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = test_pg_ok_v(c, 1, cases[i].sql, 0, NULL, NULL);
		for (j = 0; j < 6 && cases[i].types[j]; j++) {
			if ((int)PQftype(r, j) != cases[i].types[j])
				fail_msg("%s: column %d is type %u, not %d",
					 cases[i].sql, j, PQftype(r, j),
					 cases[i].types[j]);
		}
		assert_int_equal(PQnfields(r), j);
		PQclear(r);
	}
}

/* Highest priority first, oldest first within one. */
static void test_pg_mq_priority(void **state)
{
	static const struct {
		const char *data, *prio;
	} in[] = { { "a", "0" }, { "b", "5" }, { "c", "3" },
		   { "d", "5" }, { "e", "0" }, { "f", "32767" } };
	static const char *const out[] = { "f", "b", "d", "c", "a", "e" };
	PGconn *c = *state;
	PGresult *r;
	size_t i;

	PQclear(T_OK0(c, "select ipcfs.mq_create('/q', 0, 0, 420, 10, 10)"));
	for (i = 0; i < 6; i++)
		assert_int_equal(T_NUM(c, "select ipcfs.mq_send('/q', $1, $2)",
				       in[i].data, in[i].prio),
				 1);
	assert_int_equal(T_NUM0(c, "select curmsgs from ipcfs.mq_attr('/q')"),
			 6);
	for (i = 0; i < 6; i++) {
		r = T_OK0(c, "select convert_from(data, 'UTF8'), prio, seq"
			     " from ipcfs.mq_receive('/q')");
		assert_int_equal(PQntuples(r), 1);
		assert_string_equal(PQgetvalue(r, 0, 0), out[i]);
		PQclear(r);
	}
	r = T_OK0(c, "select * from ipcfs.mq_receive('/q')");
	assert_int_equal(PQntuples(r), 0);
	PQclear(r);
	assert_int_equal(T_NUM0(c, "select curmsgs from ipcfs.mq_attr('/q')"),
			 0);
	assert_int_equal(T_NUM0(c, "select count(*) from ipcfs.messages"), 0);
}

/* A message given back is received next, before those sent after it. */
static void test_pg_mq_give_back(void **state)
{
	PGconn *c = *state;
	PGresult *r;
	char prio[16], seq[24], buf[32];

	PQclear(T_OK0(c, "select ipcfs.mq_create('/q', 0, 0, 420, 3, 10)"));
	PQclear(T_OK0(c, "select ipcfs.mq_send('/q', 'one', 1)"));
	PQclear(T_OK0(c, "select ipcfs.mq_send('/q', 'two', 1)"));
	r = T_OK0(c, "select prio, seq from ipcfs.mq_receive('/q')");
	snprintf(prio, sizeof(prio), "%s", PQgetvalue(r, 0, 0));
	snprintf(seq, sizeof(seq), "%s", PQgetvalue(r, 0, 1));
	PQclear(r);
	/* Two more arrive meanwhile and fill the queue. */
	PQclear(T_OK0(c, "select ipcfs.mq_send('/q', 'three', 1)"));
	PQclear(T_OK0(c, "select ipcfs.mq_send('/q', 'four', 1)"));
	assert_int_equal(T_NUM0(c, "select ipcfs.mq_send('/q', 'x', 1)"), 0);
	/* Back in place, even into the full queue: 4 of maxmsg 3. */
	assert_int_equal(T_NUM(c,
			       "select ipcfs.mq_give_back('/q', 'one', $1,"
			       " $2)",
			       prio, seq),
			 1);
	assert_int_equal(T_NUM0(c, "select curmsgs from ipcfs.mq_attr('/q')"),
			 4);
	/* Given back twice: stored once. */
	assert_int_equal(T_NUM(c,
			       "select ipcfs.mq_give_back('/q', 'one', $1,"
			       " $2)",
			       prio, seq),
			 1);
	assert_int_equal(T_NUM0(c, "select curmsgs from ipcfs.mq_attr('/q')"),
			 4);
	assert_string_equal(T_VAL(c, buf,
				  "select convert_from(data, 'UTF8') || seq"
				  " from ipcfs.mq_receive($1)",
				  "/q"),
			    "one1");
	/* Still full at 3: the next receive makes room. */
	assert_int_equal(T_NUM0(c, "select ipcfs.mq_send('/q', 'x', 1)"), 0);
	assert_string_equal(T_VAL(c, buf,
				  "select convert_from(data, 'UTF8')"
				  " from ipcfs.mq_receive($1)",
				  "/q"),
			    "two");
	assert_int_equal(T_NUM0(c, "select ipcfs.mq_send('/q', 'five', 1)"), 1);
	/* A queue that is gone takes nothing back. */
	PQclear(T_OK0(c, "select ipcfs.unlink('queues', '/q')"));
	assert_int_equal(T_NUM0(c, "select ipcfs.mq_give_back('/q', 'x', 0,"
				   " 1)"),
			 0);
}

/* Full: false and nothing stored; msgsize: EMSGSIZE; mq_set. */
static void test_pg_mq_limits(void **state)
{
	PGconn *c = *state;
	PGresult *r;
	char buf[32];

	PQclear(T_OK0(c, "select ipcfs.mq_create('/q', 0, 0, 420, 2, 4)"));
	assert_int_equal(T_NUM0(c, "select ipcfs.mq_send('/q', '1234', 0)"), 1);
	T_FAIL(c, "IP090", "select ipcfs.mq_send('/q', $1, 0)", "12345");
	assert_int_equal(T_NUM0(c, "select ipcfs.mq_send('/q', '', 0)"), 1);
	assert_int_equal(T_NUM0(c, "select ipcfs.mq_send('/q', 'x', 9)"), 0);
	/* Too big beats full. */
	T_FAIL(c, "IP090", "select ipcfs.mq_send('/q', $1, 0)", "12345");
	r = T_OK0(c, "select * from ipcfs.mq_attr('/q')");
	assert_string_equal(PQgetvalue(r, 0, 0), "2");
	assert_string_equal(PQgetvalue(r, 0, 1), "4");
	assert_string_equal(PQgetvalue(r, 0, 2), "2");
	PQclear(r);
	assert_int_equal(T_NUM0(c, "select count(*) from ipcfs.messages"), 2);

	/* Limits change only while no message waits. */
	T_FAIL(c, "IP016", "select ipcfs.mq_set('/q', $1, null)", "5");
	PQclear(T_OK0(c, "select ipcfs.mq_receive('/q')"));
	PQclear(T_OK0(c, "select ipcfs.mq_receive('/q')"));
	PQclear(T_OK0(c, "select ipcfs.mq_set('/q', 5, null)"));
	PQclear(T_OK0(c, "select ipcfs.mq_set('/q', null, 1044480)"));
	r = T_OK0(c, "select * from ipcfs.mq_attr('/q')");
	assert_string_equal(PQgetvalue(r, 0, 0), "5");
	assert_string_equal(PQgetvalue(r, 0, 1), "1044480");
	PQclear(r);
	assert_int_equal(T_NUM0(c, "select ipcfs.mq_send('/q',"
				   " decode(repeat('ab', 1044480), 'hex'), 0)"),
			 1);
	assert_int_equal(T_NUM0(c, "select length(data)"
				   " from ipcfs.mq_receive('/q')"),
			 1044480);
	/* Defaults when null: Linux's 10 and 8192. */
	PQclear(T_OK0(c,
		      "select ipcfs.mq_create('/d', 0, 0, 420, null, null)"));
	assert_string_equal(T_VAL(c, buf,
				  "select maxmsg || ' ' || msgsize"
				  " from ipcfs.mq_attr($1)",
				  "/d"),
			    "10 8192");
}

/*
 * Tagged calls (conn.c's pg_call): the same call again (same tag) is
 * answered from what it did; a new call of the handle is done anew; settle
 * ends handles, giving back in place what a receive took if its answer
 * never came.
 */
static void test_pg_mq_tagged(void **state)
{
	PGconn *c = *state;
	PGresult *r;
	char buf[64];

	test_pg_attach(c, test_pg_m1, "alpha");
	PQclear(T_OK0(c, "select ipcfs.mq_create('/q', 0, 0, 420, 2, 10)"));
#define TAG(k, n, sum)                                                         \
	"11111111-1111-4111-8111-111111111111 " #k " " #n " " #sum
	/* A send sent twice is sent once, answered twice alike. */
	assert_int_equal(T_NUM(c, "select ipcfs.mq_send('/q', 'a', 0, $1)",
			       TAG(1, 1, 97)),
			 1);
	assert_int_equal(T_NUM(c, "select ipcfs.mq_send('/q', 'a', 0, $1)",
			       TAG(1, 1, 97)),
			 1);
	assert_int_equal(T_NUM0(c, "select curmsgs from ipcfs.mq_attr('/q')"),
			 1);
	assert_int_equal(T_NUM(c, "select ipcfs.mq_send('/q', 'b', 0, $1)",
			       TAG(1, 2, 98)),
			 1);
	/* Full: false, and false again for the same call. */
	assert_int_equal(T_NUM(c, "select ipcfs.mq_send('/q', 'c', 0, $1)",
			       TAG(1, 3, 99)),
			 0);
	assert_int_equal(T_NUM(c, "select ipcfs.mq_send('/q', 'c', 0, $1)",
			       TAG(1, 3, 99)),
			 0);
	/* A receive sent twice takes one message, answered twice alike. */
	assert_string_equal(T_VAL(c, buf,
				  "select convert_from(data, 'UTF8') || seq"
				  " from ipcfs.mq_receive('/q', $1)",
				  TAG(2, 1, 0)),
			    "a1");
	assert_string_equal(T_VAL(c, buf,
				  "select convert_from(data, 'UTF8') || seq"
				  " from ipcfs.mq_receive('/q', $1)",
				  TAG(2, 1, 0)),
			    "a1");
	assert_int_equal(T_NUM0(c, "select curmsgs from ipcfs.mq_attr('/q')"),
			 1);
	/* Its answer never came, the handle is done: back in its place. */
	PQclear(T_OK(c, "select ipcfs.settle($1, '{2}', '{t}', '{1}')",
		     test_pg_m1));
	assert_int_equal(T_NUM0(c, "select curmsgs from ipcfs.mq_attr('/q')"),
			 2);
	assert_string_equal(T_VAL(c, buf,
				  "select convert_from(data, 'UTF8') || seq"
				  " from ipcfs.mq_receive('/q', $1)",
				  TAG(3, 1, 0)),
			    "a1");
	/* The handle's next call: the last one's message was delivered. */
	assert_string_equal(T_VAL(c, buf,
				  "select convert_from(data, 'UTF8') || seq"
				  " from ipcfs.mq_receive('/q', $1)",
				  TAG(3, 2, 0)),
			    "b2");
	r = T_OK(c, "select * from ipcfs.mq_receive('/q', $1)", TAG(3, 3, 0));
	assert_int_equal(PQntuples(r), 0);
	PQclear(r);
	/* An empty answer is not kept: the same call again runs again. */
	PQclear(T_OK0(c, "select ipcfs.mq_send('/q', 'd', 0)"));
	assert_string_equal(T_VAL(c, buf,
				  "select convert_from(data, 'UTF8')"
				  " from ipcfs.mq_receive('/q', $1)",
				  TAG(3, 3, 0)),
			    "d");
	/*
	 * Done, in doubt about a later call (4) that took nothing: what call
	 * 3 took was delivered, nothing goes back.
	 */
	PQclear(T_OK(c, "select ipcfs.settle($1, '{1,3}', '{f,t}', '{3,4}')",
		     test_pg_m1));
	assert_int_equal(T_NUM0(c, "select curmsgs from ipcfs.mq_attr('/q')"),
			 0);
	assert_int_equal(T_NUM0(c, "select count(*) from ipcfs.calls"), 0);
	/* A mount's end forgets its handles' calls. */
	PQclear(T_OK(c, "select ipcfs.mq_send('/q', 'e', 0, $1)",
		     TAG(5, 1, 101)));
	PQclear(T_OK(c, "select ipcfs.mount_detach($1)", test_pg_m1));
	assert_int_equal(T_NUM0(c, "select count(*) from ipcfs.calls"), 0);
	/* A tag that is none: refused by the casts (tag_parse is plain SQL). */
	T_FAIL(c, "22P02", "select ipcfs.mq_send('/q', 'a', 0, $1)", "1 2 3");
	T_FAIL(c, "IP002", "select ipcfs.mq_send('/nope', 'a', 0, $1)",
	       TAG(6, 1, 0));
	T_FAIL(c, "IP090", "select ipcfs.mq_send('/q', $1, 0, $2)",
	       "01234567890", TAG(6, 1, 0));
#undef TAG
}

/*
 * Exactly once under two sessions: a receiver whose transaction holds the
 * head makes the other wait, then find the queue empty; if the first rolls
 * back, the other gets the message.
 */
static void test_pg_mq_exactly_once_locked(void **state)
{
	PGconn *a = *state, *b = test_pg_connect();
	PGresult *r;
	int rows;

	PQclear(T_OK0(a, "select ipcfs.mq_create('/q', 0, 0, 420, 10, 10)"));
	PQclear(T_OK0(a, "select ipcfs.mq_send('/q', 'only', 0)"));
	for (int round = 0; round < 2; round++) {
		test_pg_exec(a, "begin");
		r = T_OK0(a, "select * from ipcfs.mq_receive('/q')");
		assert_int_equal(PQntuples(r), 1);
		PQclear(r);
		assert_int_equal(PQsendQuery(b, "select * from"
						" ipcfs.mq_receive('/q')"),
				 1);
		/* b waits for a's lock. */
		test_pg_readable(b, 300);
		PQconsumeInput(b);
		assert_int_equal(PQisBusy(b), 1);
		test_pg_exec(a, round == 0 ? "rollback" : "commit");
		r = PQgetResult(b);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		rows = PQntuples(r);
		PQclear(r);
		assert_null(PQgetResult(b));
		if (round == 0) {
			/* a gave up the message: b has it; put it back. */
			assert_int_equal(rows, 1);
			PQclear(T_OK0(a, "select ipcfs.mq_send('/q', 'only',"
					 " 0)"));
		} else {
			assert_int_equal(rows, 0);
		}
	}
	assert_int_equal(T_NUM0(a, "select curmsgs from ipcfs.mq_attr('/q')"),
			 0);
}

/*
 * Four sessions receive concurrently, round after round, from 400
 * messages: each is received exactly once, and within a round nobody
 * answers "empty" while a message waits.
 */
static void test_pg_mq_exactly_once_many(void **state)
{
	enum { N = 400, S = 4 };
	PGconn *c[S];
	unsigned char seen[N + 1] = { 0 };
	PGresult *r;
	int i, got = 0, empties;

	c[0] = *state;
	for (i = 1; i < S; i++)
		c[i] = test_pg_connect();
	PQclear(T_OK0(c[0], "select ipcfs.mq_create('/q', 0, 0, 420, 1000,"
			    " 16)"));
	PQclear(T_OK0(c[0], "select ipcfs.mq_send('/q', convert_to(g::text,"
			    " 'UTF8'), g % 3) from generate_series(1, 400) g"));
	do {
		empties = 0;
		for (i = 0; i < S; i++)
			assert_int_equal(PQsendQuery(c[i],
						     "select"
						     " convert_from(data,"
						     " 'UTF8')::int from"
						     " ipcfs.mq_receive('/q')"),
					 1);
		for (i = 0; i < S; i++) {
			r = PQgetResult(c[i]);
			assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
			if (PQntuples(r) == 1) {
				int v = atoi(PQgetvalue(r, 0, 0));

				assert_true(v >= 1 && v <= N);
				assert_int_equal(seen[v], 0);
				seen[v] = 1;
				got++;
			} else {
				empties++;
			}
			PQclear(r);
			assert_null(PQgetResult(c[i]));
		}
		/* Empty answers only once fewer than S were left. */
		if (empties)
			assert_true(N - got < S);
	} while (empties < S);
	assert_int_equal(got, N);
	assert_int_equal(T_NUM0(c[0], "select curmsgs from"
				      " ipcfs.mq_attr('/q')"),
			 0);
}

/* Writes of at most 4096 bytes whole or not at all; longer ones split. */
static void test_pg_channel_atomic(void **state)
{
	PGconn *c = *state;
	char buf[64];

	PQclear(T_OK0(c, "select ipcfs.channel_create('/c', 0, 0, 420, 8192)"));
	assert_int_equal(T_NUM0(c, "select ipcfs.channel_write('/c',"
				   " convert_to(repeat('a', 100), 'UTF8'))"),
			 100);
	assert_int_equal(T_NUM0(c, "select ipcfs.channel_write('/c',"
				   " convert_to(repeat('b', 4096), 'UTF8'))"),
			 4096);
	/* 3996 free: a 4000-byte write is refused whole. */
	assert_int_equal(T_NUM0(c, "select ipcfs.channel_write('/c',"
				   " convert_to(repeat('x', 4000), 'UTF8'))"),
			 0);
	/* A longer one puts in what fits. */
	assert_int_equal(T_NUM0(c, "select ipcfs.channel_write('/c',"
				   " convert_to(repeat('c', 5000), 'UTF8'))"),
			 3996);
	assert_int_equal(T_NUM0(c, "select ipcfs.channel_write('/c',"
				   " convert_to(repeat('d', 5000), 'UTF8'))"),
			 0);
	assert_int_equal(T_NUM0(c, "select ipcfs.channel_write('/c', 'e')"), 0);
	assert_int_equal(
		T_NUM0(c, "select bytes from ipcfs.channel_attr('/c')"), 8192);
	/* Zero bytes: nothing to do. */
	assert_int_equal(T_NUM0(c, "select ipcfs.channel_write('/c', '')"), 0);

	/* Out in order, across chunk boundaries. */
	assert_string_equal(T_VAL(c, buf,
				  "select (select string_agg(ch || n, ',')"
				  " from (select ch, count(*) n from"
				  " regexp_split_to_table(convert_from(data,"
				  " 'UTF8'), '') ch group by ch order by ch)"
				  " x) from ipcfs.channel_read($1, 4200)",
				  "/c"),
			    "a100,b4096,c4");
	assert_int_equal(T_NUM0(c, "select length(data) from"
				   " ipcfs.channel_read('/c', 100000)"),
			 3992);
	assert_int_equal(T_NUM0(c, "select length(data) from"
				   " ipcfs.channel_read('/c', 10)"),
			 0);
	assert_int_equal(
		T_NUM0(c, "select bytes from ipcfs.channel_attr('/c')"), 0);
	assert_int_equal(T_NUM0(c, "select count(*) from ipcfs.chunks"), 0);
}

/* Many small writes read in order in few reads; unread goes in front. */
static void test_pg_channel_order_unread(void **state)
{
	PGconn *c = *state;
	char buf[64];

	PQclear(T_OK0(c, "select ipcfs.channel_create('/c', 0, 0, 420, 4096)"));
	PQclear(T_OK0(c, "select ipcfs.channel_write('/c', convert_to(g::text"
			 " || ' ', 'UTF8')) from generate_series(1, 500) g"));
	assert_string_equal(T_VAL(c, buf,
				  "select md5(convert_from(data, 'UTF8')) ="
				  " md5((select string_agg(g::text || ' ', '')"
				  " from generate_series(1, 500) g))"
				  " from ipcfs.channel_read($1, 100000)",
				  "/c"),
			    "t");
	PQclear(T_OK0(c, "select ipcfs.channel_write('/c', 'abc')"));
	PQclear(T_OK0(c, "select ipcfs.channel_write('/c', 'def')"));
	assert_string_equal(T_VAL(c, buf,
				  "select convert_from(data, 'UTF8')"
				  " from ipcfs.channel_read($1, 4)",
				  "/c"),
			    "abcd");
	PQclear(T_OK0(c, "select ipcfs.channel_unread('/c', 'cd')"));
	PQclear(T_OK0(c, "select ipcfs.channel_write('/c', 'gh')"));
	assert_string_equal(T_VAL(c, buf,
				  "select convert_from(data, 'UTF8')"
				  " from ipcfs.channel_read($1, 100)",
				  "/c"),
			    "cdefgh");
	/* Onto an empty channel, then a write: the unread bytes first. */
	PQclear(T_OK0(c, "select ipcfs.channel_unread('/c', 'xy')"));
	PQclear(T_OK0(c, "select ipcfs.channel_write('/c', 'z')"));
	assert_string_equal(T_VAL(c, buf,
				  "select convert_from(data, 'UTF8')"
				  " from ipcfs.channel_read($1, 100)",
				  "/c"),
			    "xyz");
	/* An unread may pass capacity; writes then wait. */
	PQclear(T_OK0(c, "select ipcfs.channel_write('/c',"
			 " convert_to(repeat('w', 4096), 'UTF8'))"));
	PQclear(T_OK0(c, "select ipcfs.channel_unread('/c', 'uv')"));
	assert_int_equal(
		T_NUM0(c, "select bytes from ipcfs.channel_attr('/c')"), 4098);
	assert_int_equal(T_NUM0(c, "select ipcfs.channel_write('/c',"
				   " convert_to(repeat('w', 5000), 'UTF8'))"),
			 0);
	T_FAIL(c, "IP016", "select ipcfs.channel_set('/c', $1, null)", "4097");
	assert_string_equal(T_VAL(c, buf,
				  "select convert_from(data, 'UTF8')"
				  " from ipcfs.channel_read($1, 3)",
				  "/c"),
			    "uvw");
	PQclear(T_OK0(c, "select ipcfs.channel_set('/c', 8192, null)"));
	assert_int_equal(T_NUM0(c, "select ipcfs.channel_write('/c',"
				   " convert_to(repeat('w', 5000), 'UTF8'))"),
			 4097);
}

/*
 * Three sessions write 4096-byte blocks at once, each block one letter:
 * read back, every block is whole (never interleaved) and each writer's
 * blocks keep their order.
 */
static void test_pg_channel_concurrent(void **state)
{
	enum { S = 3, ROUNDS = 40, B = 4096 };
	PGconn *c[S];
	PGresult *r;
	const unsigned char *d;
	char sql[160];
	int i, k, len, next[S] = { 0 };

	c[0] = *state;
	for (i = 1; i < S; i++)
		c[i] = test_pg_connect();
	PQclear(T_OK0(c[0], "select ipcfs.channel_create('/c', 0, 0, 420,"
			    " 1048576)"));
	for (k = 0; k < ROUNDS; k++) {
		for (i = 0; i < S; i++) {
			/* Writer i's block k: letter 'a'+i, then k. */
			snprintf(sql, sizeof(sql),
				 "select ipcfs.channel_write('/c',"
				 " convert_to(repeat('%c', %d) || lpad('%d',"
				 " 4, '0'), 'UTF8'))",
				 'a' + i, B - 4, k);
			assert_int_equal(PQsendQuery(c[i], sql), 1);
		}
		for (i = 0; i < S; i++) {
			r = PQgetResult(c[i]);
			assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
			assert_string_equal(PQgetvalue(r, 0, 0), "4096");
			PQclear(r);
			assert_null(PQgetResult(c[i]));
		}
	}
	r = test_pg_ok_v(c[0], 1,
			 "select data from ipcfs.channel_read('/c', 2000000)",
			 0, NULL, NULL);
	len = PQgetlength(r, 0, 0);
	assert_int_equal(len, S * ROUNDS * B);
	d = (const unsigned char *)PQgetvalue(r, 0, 0);
	for (k = 0; k < len / B; k++, d += B) {
		i = d[0] - 'a';
		assert_true(i >= 0 && i < S);
		assert_int_equal(test_pg_span(d, d[0], B - 4), B - 4);
		assert_int_equal(atoi((const char *)d + B - 4) % 10000,
				 next[i]++);
	}
	PQclear(r);
}

/* What the EOF rule needs: writers of every mount, writer opens, eof. */
static void test_pg_channel_eof(void **state)
{
	PGconn *a = *state, *b = test_pg_connect();
	PGresult *r;

	test_pg_attach(a, test_pg_m1, "h1");
	test_pg_attach(b, test_pg_m2, "h2");
	PQclear(T_OK0(a, "select ipcfs.channel_create('/c', 0, 0, 420, 4096)"));

	/* A reader opens first: no writer, nothing buffered. */
	r = T_OK(a, "select * from ipcfs.channel_open('/c', $1, true, false)",
		 test_pg_m1);
	assert_string_equal(PQgetvalue(r, 0, 0), "0");
	assert_string_equal(PQgetvalue(r, 0, 1), "0");
	assert_string_equal(PQgetvalue(r, 0, 2), "0");
	PQclear(r);
	/* Writers on both mounts. */
	r = T_OK(b, "select * from ipcfs.channel_open('/c', $1, false, true)",
		 test_pg_m2);
	assert_string_equal(PQgetvalue(r, 0, 0), "1");
	assert_string_equal(PQgetvalue(r, 0, 1), "1");
	PQclear(r);
	r = T_OK(a, "select * from ipcfs.channel_open('/c', $1, true, true)",
		 test_pg_m1);
	assert_string_equal(PQgetvalue(r, 0, 0), "2");
	assert_string_equal(PQgetvalue(r, 0, 1), "2");
	PQclear(r);
	PQclear(T_OK0(b, "select ipcfs.channel_write('/c', 'hi')"));
	r = T_OK0(a, "select * from ipcfs.channel_attr('/c')");
	assert_string_equal(PQgetvalue(r, 0, 1), "2");
	assert_string_equal(PQgetvalue(r, 0, 2), "2");
	assert_string_equal(PQgetvalue(r, 0, 3), "2");
	assert_string_equal(PQgetvalue(r, 0, 4), "close");
	PQclear(r);
	r = T_OK0(a, "select convert_from(data, 'UTF8'), writers, writer_opens,"
		     " eof from ipcfs.channel_read('/c', 10)");
	assert_string_equal(PQgetvalue(r, 0, 0), "hi");
	assert_string_equal(PQgetvalue(r, 0, 1), "2");
	assert_string_equal(PQgetvalue(r, 0, 2), "2");
	PQclear(r);
	/* The writers go; the reader sees empty data and no writer. */
	PQclear(T_OK(b, "select ipcfs.channel_close('/c', $1, false, true)",
		     test_pg_m2));
	PQclear(T_OK(a, "select ipcfs.channel_close('/c', $1, true, true)",
		     test_pg_m1));
	r = T_OK0(a, "select length(data), writers, writer_opens"
		     " from ipcfs.channel_read('/c', 10)");
	assert_string_equal(PQgetvalue(r, 0, 0), "0");
	assert_string_equal(PQgetvalue(r, 0, 1), "0");
	assert_string_equal(PQgetvalue(r, 0, 2), "2");
	PQclear(r);
	r = T_OK0(a, "select readers, writers from ipcfs.channel_attr('/c')");
	assert_string_equal(PQgetvalue(r, 0, 0), "1");
	assert_string_equal(PQgetvalue(r, 0, 1), "0");
	PQclear(r);
	/* Closing more than was opened, or what is gone: no error. */
	PQclear(T_OK(b, "select ipcfs.channel_close('/c', $1, true, true)",
		     test_pg_m2));
	PQclear(T_OK(b, "select ipcfs.channel_close('/gone', $1, true, true)",
		     test_pg_m2));
	PQclear(T_OK0(a, "select ipcfs.channel_set('/c', null, 'rmdir')"));
	assert_int_equal(T_NUM0(a, "select eof = 'rmdir'"
				   " from ipcfs.channel_attr('/c')"),
			 1);
	/* An open needs an attached mount. */
	T_FAIL(a, "IP107",
	       "select * from ipcfs.channel_open('/c', $1, true, false)",
	       "33333333-3333-4333-8333-333333333333");
	/* A dead mount's writers stop counting when it is reclaimed. */
	PQclear(T_OK(b, "select ipcfs.channel_open('/c', $1, false, true)",
		     test_pg_m2));
	PQclear(T_OK(a, "select ipcfs.mount_detach($1)", test_pg_m2));
	assert_int_equal(T_NUM0(a, "select writers"
				   " from ipcfs.channel_attr('/c')"),
			 0);
}

/* pages: offsets across pages, holes of zeros, short reads, truncate. */
static void test_pg_shm(void **state)
{
	PGconn *c = *state;
	PGresult *r;
	char buf[128];
	unsigned char *big, *got;
	const char *vals[3];
	int lens[3] = { -1, -1, -1 }, i;
	size_t n;

	PQclear(T_OK0(c, "select ipcfs.shm_create('/s', 0, 0, 420)"));
	assert_int_equal(T_NUM0(c, "select ipcfs.shm_size('/s')"), 0);
	assert_string_equal(
		T_VAL(c, buf, "select ipcfs.shm_read($1, 0, 10)", "/s"), "\\x");
	/* Across the first page boundary. */
	assert_int_equal(T_NUM0(c, "select ipcfs.shm_write('/s', 8190,"
				   " 'abcdef')"),
			 6);
	assert_int_equal(T_NUM0(c, "select ipcfs.shm_size('/s')"), 8196);
	assert_string_equal(
		T_VAL(c, buf, "select ipcfs.shm_read($1, 8188, 100)", "/s"),
		"\\x0000616263646566");
	assert_string_equal(
		T_VAL(c, buf, "select ipcfs.shm_read($1, 8196, 1)", "/s"),
		"\\x");
	assert_string_equal(
		T_VAL(c, buf, "select ipcfs.shm_read($1, 99999, 1)", "/s"),
		"\\x");
	/* Writing nothing past the end grows nothing. */
	assert_int_equal(T_NUM0(c, "select ipcfs.shm_write('/s', 50000, '')"),
			 0);
	assert_int_equal(T_NUM0(c, "select ipcfs.shm_size('/s')"), 8196);
	/* Overwrite the middle of what is there. */
	PQclear(T_OK0(c, "select ipcfs.shm_write('/s', 8191, 'BC')"));
	assert_string_equal(
		T_VAL(c, buf, "select ipcfs.shm_read($1, 8190, 6)", "/s"),
		"\\x614243646566");
	/* A hole far out: zeros, and no page stored for it. */
	PQclear(T_OK0(c, "select ipcfs.shm_write('/s', 100000, 'z')"));
	assert_int_equal(T_NUM0(c, "select ipcfs.shm_size('/s')"), 100001);
	assert_int_equal(T_NUM0(c, "select count(*) from ipcfs.pages"), 3);
	assert_string_equal(
		T_VAL(c, buf, "select ipcfs.shm_read($1, 50000, 4)", "/s"),
		"\\x00000000");
	assert_int_equal(T_NUM0(c, "select length(ipcfs.shm_read('/s', 0,"
				   " 200000))"),
			 100001);
	/* Truncate cuts and zeroes; growing again reads zeros. */
	PQclear(T_OK0(c, "select ipcfs.shm_truncate('/s', 8191)"));
	assert_int_equal(T_NUM0(c, "select count(*) from ipcfs.pages"), 1);
	PQclear(T_OK0(c, "select ipcfs.shm_truncate('/s', 9000)"));
	assert_string_equal(
		T_VAL(c, buf, "select ipcfs.shm_read($1, 8189, 4)", "/s"),
		"\\x00610000");
	assert_int_equal(T_NUM0(c, "select ipcfs.shm_size('/s')"), 9000);
	PQclear(T_OK0(c, "select ipcfs.shm_truncate('/s', 0)"));
	assert_int_equal(T_NUM0(c, "select count(*) from ipcfs.pages"), 0);
	/* EFBIG past 2^40, nothing written. */
	T_FAIL(c, "IP027", "select ipcfs.shm_write('/s', $1, 'ab')",
	       "1099511627775");
	T_FAIL(c, "IP027", "select ipcfs.shm_truncate('/s', $1)",
	       "1099511627777");
	PQclear(T_OK0(c, "select ipcfs.shm_write('/s', 1099511627775, 'a')"));
	assert_int_equal(T_NUM0(c, "select ipcfs.shm_size('/s') ="
				   " 1099511627776"),
			 1);
	PQclear(T_OK0(c, "select ipcfs.shm_truncate('/s', 0)"));

	/* 1 MiB + 3 at an odd offset, binary both ways. */
	n = (1 << 20) + 3;
	big = malloc(n);
	assert_non_null(big);
	for (i = 0; i < (int)n; i++)
		big[i] = (unsigned char)(i * 7 + 1);
	vals[0] = "/s";
	vals[1] = "4097";
	vals[2] = (const char *)big;
	lens[2] = (int)n;
	PQclear(test_pg_ok_v(c, 0, "select ipcfs.shm_write($1, $2, $3)", 3,
			     vals, lens));
	r = test_pg_ok_v(c, 1, "select ipcfs.shm_read($1, $2, 2000000)", 2,
			 vals, NULL);
	assert_int_equal(PQgetlength(r, 0, 0), (int)n);
	got = (unsigned char *)PQgetvalue(r, 0, 0);
	assert_memory_equal(got, big, n);
	PQclear(r);
	free(big);
	r = test_pg_ok_v(c, 1, "select ipcfs.shm_read($1, 0, 4097)", 1, vals,
			 NULL);
	assert_int_equal(PQgetlength(r, 0, 0), 4097);
	got = (unsigned char *)PQgetvalue(r, 0, 0);
	for (i = 0; i < 4097; i++)
		assert_int_equal(got[i], 0);
	PQclear(r);
}

/* post, trywait, value; overflow posts nothing. */
static void test_pg_sem(void **state)
{
	PGconn *c = *state;

	PQclear(T_OK0(c, "select ipcfs.sem_create('/m', 0, 0, 420, 0)"));
	assert_int_equal(T_NUM0(c, "select ipcfs.sem_trywait('/m')"), 0);
	assert_int_equal(T_NUM0(c, "select ipcfs.sem_post('/m', 1)"), 1);
	assert_int_equal(T_NUM0(c, "select ipcfs.sem_post('/m', 0)"), 1);
	assert_int_equal(T_NUM0(c, "select ipcfs.sem_post('/m', 3)"), 4);
	assert_int_equal(T_NUM0(c, "select ipcfs.sem_trywait('/m')"), 1);
	assert_int_equal(T_NUM0(c, "select ipcfs.sem_value('/m')"), 3);
	T_FAIL(c, "IP075", "select ipcfs.sem_post('/m', $1)", "2147483645");
	assert_int_equal(T_NUM0(c, "select ipcfs.sem_value('/m')"), 3);
	assert_int_equal(T_NUM0(c, "select ipcfs.sem_post('/m', 2147483644)"),
			 2147483647);
	T_FAIL(c, "IP075", "select ipcfs.sem_post('/m', $1)", "1");
	assert_int_equal(T_NUM0(c, "select ipcfs.sem_post('/m', 0)"),
			 2147483647);
	/* Default value when null: 1. */
	PQclear(T_OK0(c, "select ipcfs.sem_create('/d', 0, 0, 420, null)"));
	assert_int_equal(T_NUM0(c, "select ipcfs.sem_value('/d')"), 1);
}

/* hold, release, holders: PID for ours, PID@HOST for others'. */
static void test_pg_sem_hold(void **state)
{
	PGconn *a = *state, *b = test_pg_connect();
	PGresult *r;
	char h1[24], h2[24], buf[24];

	test_pg_attach(a, test_pg_m1, "alpha");
	test_pg_attach(b, test_pg_m2, "beta");
	PQclear(T_OK0(a, "select ipcfs.sem_create('/m', 0, 0, 420, 2)"));
	snprintf(h1, sizeof(h1), "%s",
		 T_VAL(a, buf, "select ipcfs.sem_hold('/m', $1, 101)",
		       test_pg_m1));
	snprintf(h2, sizeof(h2), "%s",
		 T_VAL(b, buf, "select ipcfs.sem_hold('/m', $1, 202)",
		       test_pg_m2));
	/* No unit left: null, nothing recorded. */
	assert_null(T_VAL(a, buf, "select ipcfs.sem_hold('/m', $1, 303)",
			  test_pg_m1));
	assert_int_equal(T_NUM0(a, "select ipcfs.sem_value('/m')"), 0);
	r = T_OK(a, "select * from ipcfs.sem_holders('/m', $1)", test_pg_m1);
	assert_int_equal(PQntuples(r), 2);
	assert_string_equal(PQgetvalue(r, 0, 0), "101");
	assert_string_equal(PQgetvalue(r, 1, 0), "202@beta");
	PQclear(r);
	r = T_OK(b, "select * from ipcfs.sem_holders('/m', $1)", test_pg_m2);
	assert_string_equal(PQgetvalue(r, 0, 0), "101@alpha");
	assert_string_equal(PQgetvalue(r, 1, 0), "202");
	PQclear(r);
	/* Release gives the unit back; twice is nothing. */
	PQclear(T_OK(b, "select ipcfs.sem_release($1)", h1));
	PQclear(T_OK(b, "select ipcfs.sem_release($1)", h1));
	assert_int_equal(T_NUM0(a, "select ipcfs.sem_value('/m')"), 1);
	r = T_OK(a, "select * from ipcfs.sem_holders('/m', $1)", test_pg_m1);
	assert_int_equal(PQntuples(r), 1);
	assert_string_equal(PQgetvalue(r, 0, 0), "202@beta");
	PQclear(r);
	/* A hold of a removed semaphore is gone with it. */
	PQclear(T_OK0(a, "select ipcfs.unlink('sem', '/m')"));
	assert_int_equal(T_NUM0(a, "select count(*) from ipcfs.holds"), 0);
	PQclear(T_OK(b, "select ipcfs.sem_release($1)", h2));
	/* A hold needs an attached mount. */
	PQclear(T_OK0(a, "select ipcfs.sem_create('/n', 0, 0, 420, 2)"));
	T_FAIL(a, "IP107", "select ipcfs.sem_hold('/n', $1, 1)",
	       "33333333-3333-4333-8333-333333333333");
	assert_int_equal(T_NUM0(a, "select ipcfs.sem_value('/n')"), 2);
}

/* Wait (bounded) until the session of backend pid has ended. */
static void test_pg_wait_gone(PGconn *c, int pid)
{
	char p[16];
	long end = test_pg_now_ms() + TEST_PG_WAIT_MS;

	snprintf(p, sizeof(p), "%d", pid);
	while (T_NUM(c, "select count(*) from pg_stat_activity where pid = $1",
		     p) != 0) {
		if (test_pg_now_ms() > end)
			fail_msg("session %d did not end", pid);
		usleep(20000);
	}
}

/*
 * A mount's session ends (its daemon died, the server lives): reclaim
 * gives back its units, its channel opens, its subscriptions, at once.
 * While the session lives, nothing is reclaimed.
 */
static void test_pg_reclaim_dead(void **state)
{
	PGconn *a = *state, *b = test_pg_connect();
	char buf[24];
	int pid;

	test_pg_attach(a, test_pg_m1, "alpha");
	test_pg_attach(b, test_pg_m2, "beta");
	PQclear(T_OK0(a, "select ipcfs.sem_create('/m', 0, 0, 420, 1)"));
	PQclear(T_OK0(a, "select ipcfs.channel_create('/c', 0, 0, 420, 4096)"));
	PQclear(T_OK0(a, "select ipcfs.topic_create('/t', 0, 0, 420, 8)"));
	assert_non_null(T_VAL(b, buf, "select ipcfs.sem_hold('/m', $1, 7)",
			      test_pg_m2));
	PQclear(T_OK(b, "select ipcfs.channel_open('/c', $1, false, true)",
		     test_pg_m2));
	PQclear(T_OK(b, "select ipcfs.topic_subscribe('/t', $1)", test_pg_m2));
	assert_int_equal(T_NUM0(a, "select ipcfs.reclaim(30)"), 0);
	assert_int_equal(T_NUM0(a, "select ipcfs.sem_value('/m')"), 0);

	pid = test_pg_disconnect(b);
	test_pg_wait_gone(a, pid);
	assert_int_equal(T_NUM0(a, "select ipcfs.reclaim(30)"), 1);
	assert_int_equal(T_NUM0(a, "select ipcfs.sem_value('/m')"), 1);
	assert_int_equal(T_NUM0(a, "select writers"
				   " from ipcfs.channel_attr('/c')"),
			 0);
	assert_int_equal(T_NUM0(a, "select subscribers"
				   " from ipcfs.topic_attr('/t')"),
			 0);
	assert_int_equal(T_NUM0(a, "select count(*) from ipcfs.mounts"), 1);
	assert_int_equal(T_NUM0(a, "select count(*) from ipcfs.holds"), 0);
	assert_int_equal(T_NUM0(a, "select ipcfs.reclaim(30)"), 0);
}

/*
 * The server restarted since the mount attached (its server_start is not
 * this server's): the daemon may be reconnecting, so it is marked lost and
 * reclaimed only once grace seconds have passed; attaching again clears
 * the mark.
 */
static void test_pg_reclaim_grace(void **state)
{
	PGconn *a = *state, *b = test_pg_connect();
	int pid;

	test_pg_attach(a, test_pg_m1, "alpha");
	test_pg_attach(b, test_pg_m2, "beta");
	PQclear(T_OK0(a, "select ipcfs.sem_create('/m', 0, 0, 420, 1)"));
	PQclear(T_OK(b, "select ipcfs.sem_hold('/m', $1, 7)", test_pg_m2));
	pid = test_pg_disconnect(b);
	test_pg_wait_gone(a, pid);
	/* As if it had attached to the server before a restart. */
	PQclear(T_OK(a,
		     "update ipcfs.mounts set server_start = server_start"
		     " - interval '1 hour' where id = $1",
		     test_pg_m2));
	assert_int_equal(T_NUM0(a, "select ipcfs.reclaim(3600)"), 0);
	assert_int_equal(T_NUM(a,
			       "select count(*) from ipcfs.mounts"
			       " where id = $1 and lost_since is not null",
			       test_pg_m2),
			 1);
	assert_int_equal(T_NUM0(a, "select ipcfs.reclaim(3600)"), 0);
	assert_int_equal(T_NUM0(a, "select ipcfs.sem_value('/m')"), 0);
	/* The daemon comes back in time: attached again, not lost. */
	b = test_pg_connect();
	test_pg_attach(b, test_pg_m2, "beta");
	assert_int_equal(T_NUM(a,
			       "select count(*) from ipcfs.mounts"
			       " where id = $1 and lost_since is null",
			       test_pg_m2),
			 1);
	assert_int_equal(T_NUM0(a, "select count(*) from ipcfs.holds"), 1);
	/* A live mount of an older life is carried over, not marked. */
	PQclear(T_OK(a,
		     "update ipcfs.mounts set server_start = server_start"
		     " - interval '1 hour' where id = $1",
		     test_pg_m1));
	assert_int_equal(T_NUM0(a, "select ipcfs.reclaim(3600)"), 0);
	assert_int_equal(T_NUM(a,
			       "select count(*) from ipcfs.mounts where"
			       " id = $1 and lost_since is null and"
			       " server_start = ipcfs.server_start()",
			       test_pg_m1),
			 1);
	/* It does not: gone for longer than grace, reclaimed. */
	pid = test_pg_disconnect(b);
	test_pg_wait_gone(a, pid);
	PQclear(T_OK(a,
		     "update ipcfs.mounts set server_start = server_start"
		     " - interval '1 hour' where id = $1",
		     test_pg_m2));
	assert_int_equal(T_NUM0(a, "select ipcfs.reclaim(3600)"), 0);
	PQclear(T_OK(a,
		     "update ipcfs.mounts set lost_since = lost_since"
		     " - interval '2 hours' where id = $1",
		     test_pg_m2));
	assert_int_equal(T_NUM0(a, "select ipcfs.reclaim(3600)"), 1);
	assert_int_equal(T_NUM0(a, "select ipcfs.sem_value('/m')"), 1);
}

/* A reclaim running elsewhere: this one returns 0 at once. */
static void test_pg_reclaim_serialised(void **state)
{
	PGconn *a = *state, *b = test_pg_connect();
	long t0;

	test_pg_exec(b, "begin");
	assert_int_equal(T_NUM0(b, "select ipcfs.reclaim(1)"), 0);
	t0 = test_pg_now_ms();
	assert_int_equal(T_NUM0(a, "select ipcfs.reclaim(1)"), 0);
	assert_true(test_pg_now_ms() - t0 < 2000);
	assert_int_equal(T_NUM0(a, "select count(*) from pg_locks"
				   " where locktype = 'advisory'"),
			 1);
	test_pg_exec(b, "commit");
}

/* mount_detach: everything back at once; again is nothing. */
static void test_pg_mount_detach(void **state)
{
	PGconn *a = *state;

	test_pg_attach(a, test_pg_m1, "alpha");
	PQclear(T_OK0(a, "select ipcfs.sem_create('/m', 0, 0, 420, 3)"));
	PQclear(T_OK(a, "select ipcfs.sem_hold('/m', $1, 7)", test_pg_m1));
	PQclear(T_OK(a, "select ipcfs.sem_hold('/m', $1, 8)", test_pg_m1));
	assert_int_equal(T_NUM0(a, "select ipcfs.sem_value('/m')"), 1);
	PQclear(T_OK(a, "select ipcfs.mount_detach($1)", test_pg_m1));
	assert_int_equal(T_NUM0(a, "select ipcfs.sem_value('/m')"), 3);
	assert_int_equal(T_NUM0(a, "select count(*) from ipcfs.mounts"), 0);
	PQclear(T_OK(a, "select ipcfs.mount_detach($1)", test_pg_m1));
	/* attach records this session and this server. */
	test_pg_attach(a, test_pg_m1, "alpha");
	assert_int_equal(T_NUM0(a, "select count(*) from ipcfs.mounts where"
				   " backend_pid = pg_backend_pid() and"
				   " server_start = ipcfs.server_start()"
				   " and host = 'alpha' and pid = 4242"),
			 1);
}

/*
 * Topics: subscribers get what is published after they subscribed, each
 * its own copy; a message for nobody is not stored.
 */
static void test_pg_topic(void **state)
{
	PGconn *a = *state, *b = test_pg_connect();
	PGresult *r;
	char s1[24], s2[24], buf[64];

	test_pg_attach(a, test_pg_m1, "alpha");
	test_pg_attach(b, test_pg_m2, "beta");
	PQclear(T_OK0(a, "select ipcfs.topic_create('/t', 0, 0, 420, 16)"));
	assert_int_equal(T_NUM0(a, "select ipcfs.topic_publish('/t',"
				   " 'before')"),
			 1);
	assert_int_equal(T_NUM0(a, "select count(*) from ipcfs.topic_messages"),
			 0);
	snprintf(s1, sizeof(s1), "%s",
		 T_VAL(a, buf, "select ipcfs.topic_subscribe('/t', $1)",
		       test_pg_m1));
	snprintf(s2, sizeof(s2), "%s",
		 T_VAL(b, buf, "select ipcfs.topic_subscribe('/t', $1)",
		       test_pg_m2));
	r = T_OK(a, "select * from ipcfs.topic_read($1)", s1);
	assert_int_equal(PQntuples(r), 0);
	PQclear(r);
	assert_int_equal(T_NUM0(b, "select ipcfs.topic_publish('/t',"
				   " 'after')"),
			 2);
	assert_string_equal(T_VAL(a, buf,
				  "select convert_from(data, 'UTF8') || seq"
				  " from ipcfs.topic_read($1)",
				  s1),
			    "after2");
	assert_string_equal(T_VAL(b, buf,
				  "select convert_from(data, 'UTF8') || seq"
				  " from ipcfs.topic_read($1)",
				  s2),
			    "after2");
	/* Read by every subscriber: pruned at the next publish. */
	r = T_OK(a, "select * from ipcfs.topic_read($1)", s1);
	assert_int_equal(PQntuples(r), 0);
	PQclear(r);
	PQclear(T_OK0(a, "select ipcfs.topic_publish('/t', 'third')"));
	assert_int_equal(T_NUM0(a, "select count(*) from ipcfs.topic_messages"),
			 1);
	/* Unread: back to it, stored again if it was pruned. */
	PQclear(T_OK(a, "select * from ipcfs.topic_read($1)", s1));
	PQclear(T_OK(a, "select ipcfs.topic_unread($1, 2, 'after')", s1));
	assert_string_equal(T_VAL(a, buf,
				  "select convert_from(data, 'UTF8') || seq"
				  " from ipcfs.topic_read($1)",
				  s1),
			    "after2");
	assert_string_equal(T_VAL(a, buf,
				  "select convert_from(data, 'UTF8') || seq"
				  " from ipcfs.topic_read($1)",
				  s1),
			    "third3");
	r = T_OK0(a, "select * from ipcfs.topic_attr('/t')");
	assert_string_equal(PQgetvalue(r, 0, 0), "2");
	assert_string_equal(PQgetvalue(r, 0, 1), "3");
	assert_string_equal(PQgetvalue(r, 0, 2), "0");
	assert_string_equal(PQgetvalue(r, 0, 3), "16");
	PQclear(r);
	/* The last one leaves: nothing stays stored. */
	PQclear(T_OK(a, "select ipcfs.topic_unsubscribe($1)", s1));
	PQclear(T_OK(a, "select ipcfs.topic_unsubscribe($1)", s1));
	PQclear(T_OK(b, "select ipcfs.topic_unsubscribe($1)", s2));
	assert_int_equal(T_NUM0(a, "select count(*) from ipcfs.topic_messages"),
			 0);
	T_FAIL(a, "IP002", "select * from ipcfs.topic_read($1)", s1);
	/* A subscription of no mount. */
	PQclear(T_OK0(a, "select ipcfs.topic_subscribe('/t', null)"));
	T_FAIL(a, "IP107", "select ipcfs.topic_subscribe('/t', $1)",
	       "33333333-3333-4333-8333-333333333333");
	/* Removing the topic ends its subscriptions. */
	PQclear(T_OK0(a, "select ipcfs.unlink('topics', '/t')"));
	assert_int_equal(T_NUM0(a, "select count(*) from ipcfs.subscriptions"),
			 0);
}

/*
 * A subscribe and a publish at the same time: the publish that is first
 * is not the subscriber's, the one that waits for the subscription is (and
 * is stored for it).
 */
static void test_pg_topic_race(void **state)
{
	PGconn *a = *state, *b = test_pg_connect();
	PGresult *r;
	char sub[24], sub2[24], buf[64];

	PQclear(T_OK0(a, "select ipcfs.topic_create('/t', 0, 0, 420, 8)"));
	/* The publish first: its message is for nobody. */
	test_pg_exec(a, "begin");
	PQclear(T_OK0(a, "select ipcfs.topic_publish('/t', 'first')"));
	assert_int_equal(PQsendQuery(b, "select ipcfs.topic_subscribe('/t',"
					" null)"),
			 1);
	test_pg_readable(b, 300);
	PQconsumeInput(b);
	assert_int_equal(PQisBusy(b), 1);
	test_pg_exec(a, "commit");
	r = PQgetResult(b);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	snprintf(sub, sizeof(sub), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	assert_null(PQgetResult(b));
	r = T_OK(a, "select * from ipcfs.topic_read($1)", sub);
	assert_int_equal(PQntuples(r), 0);
	PQclear(r);
	/* The subscribe first: the publish waits, sees it, stores for it. */
	test_pg_exec(b, "begin");
	snprintf(sub2, sizeof(sub2), "%s",
		 T_VAL(b, buf, "select ipcfs.topic_subscribe('/t', null)"));
	assert_int_equal(PQsendQuery(a, "select ipcfs.topic_publish('/t',"
					" 'second')"),
			 1);
	test_pg_readable(a, 300);
	PQconsumeInput(a);
	assert_int_equal(PQisBusy(a), 1);
	test_pg_exec(b, "commit");
	r = PQgetResult(a);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	PQclear(r);
	assert_null(PQgetResult(a));
	assert_string_equal(T_VAL(a, buf,
				  "select convert_from(data, 'UTF8') || seq"
				  " from ipcfs.topic_read($1)",
				  sub),
			    "second2");
	assert_string_equal(T_VAL(a, buf,
				  "select convert_from(data, 'UTF8') || seq"
				  " from ipcfs.topic_read($1)",
				  sub2),
			    "second2");
}

/* A reader more than backlog behind loses its oldest, counted in dropped. */
static void test_pg_topic_backlog(void **state)
{
	PGconn *c = *state;
	char s1[24], s2[24], buf[64];

	PQclear(T_OK0(c, "select ipcfs.topic_create('/t', 0, 0, 420, 3)"));
	snprintf(s1, sizeof(s1), "%s",
		 T_VAL(c, buf, "select ipcfs.topic_subscribe('/t', null)"));
	snprintf(s2, sizeof(s2), "%s",
		 T_VAL(c, buf, "select ipcfs.topic_subscribe('/t', null)"));
	PQclear(T_OK0(c, "select ipcfs.topic_publish('/t', convert_to(g::text,"
			 " 'UTF8')) from generate_series(1, 5) g"));
	/* Only the newest 3 are kept. */
	assert_int_equal(T_NUM0(c, "select count(*) from ipcfs.topic_messages"),
			 3);
	assert_string_equal(T_VAL(c, buf,
				  "select convert_from(data, 'UTF8') || '@' ||"
				  " seq from ipcfs.topic_read($1)",
				  s1),
			    "3@3");
	assert_int_equal(
		T_NUM0(c, "select dropped from ipcfs.topic_attr('/t')"), 2);
	assert_string_equal(T_VAL(c, buf,
				  "select convert_from(data, 'UTF8')"
				  " from ipcfs.topic_read($1)",
				  s1),
			    "4");
	assert_string_equal(T_VAL(c, buf,
				  "select convert_from(data, 'UTF8')"
				  " from ipcfs.topic_read($1)",
				  s2),
			    "3");
	assert_int_equal(
		T_NUM0(c, "select dropped from ipcfs.topic_attr('/t')"), 4);
	/* A smaller backlog takes effect at the next publish and read. */
	PQclear(T_OK0(c, "select ipcfs.topic_set('/t', 1)"));
	PQclear(T_OK0(c, "select ipcfs.topic_publish('/t', '6')"));
	assert_string_equal(T_VAL(c, buf,
				  "select convert_from(data, 'UTF8')"
				  " from ipcfs.topic_read($1)",
				  s2),
			    "6");
	assert_int_equal(
		T_NUM0(c, "select dropped from ipcfs.topic_attr('/t')"), 6);
	assert_int_equal(
		T_NUM0(c, "select backlog from ipcfs.topic_attr('/t')"), 1);
	assert_int_equal(T_NUM0(c, "select count(*) from ipcfs.topic_messages"),
			 1);
}

/* Waiters learn of changes by NOTIFY ipcfs, "KIND OP ID NAME". */
static void test_pg_notify_payload(void **state)
{
	PGconn *c = *state, *l = test_pg_connect();
	char want[128];
	long long id;

	test_pg_exec(l, "listen ipcfs");
	id = T_NUM0(c, "select ipcfs.mq_create('/jobs two', 0, 0, 420, 2,"
		       " 10)");
	test_pg_expect_none(l); /* creating wakes nobody */
	PQclear(T_OK0(c, "select ipcfs.mq_send('/jobs two', 'x', 0)"));
	snprintf(want, sizeof(want), "queues c %lld /jobs two", id);
	test_pg_expect(l, want);
	/* Not empty before: no receiver can be waiting. */
	PQclear(T_OK0(c, "select ipcfs.mq_send('/jobs two', 'y', 0)"));
	test_pg_expect_none(l);
	/* Full before: senders may wait. */
	PQclear(T_OK0(c, "select ipcfs.mq_receive('/jobs two')"));
	test_pg_expect(l, want);
	PQclear(T_OK0(c, "select ipcfs.mq_receive('/jobs two')"));
	test_pg_expect_none(l);
	PQclear(T_OK0(c, "select ipcfs.mq_give_back('/jobs two', 'y', 0, 2)"));
	test_pg_expect(l, want);
	PQclear(T_OK0(c, "select ipcfs.unlink('queues', '/jobs two')"));
	snprintf(want, sizeof(want), "queues x %lld /jobs two", id);
	test_pg_expect(l, want);
	/* Notifications are sent at commit, not before. */
	id = T_NUM0(c, "select ipcfs.sem_create('/s', 0, 0, 420, 0)");
	test_pg_exec(c, "begin");
	PQclear(T_OK0(c, "select ipcfs.sem_post('/s', 2)"));
	test_pg_expect_none(l);
	test_pg_exec(c, "commit");
	snprintf(want, sizeof(want), "sem c %lld /s", id);
	test_pg_expect(l, want);
	test_pg_expect_none(l);
}

/* Which changes of the other kinds notify: those that may end a wait. */
static void test_pg_notify_kinds(void **state)
{
	PGconn *c = *state, *l = test_pg_connect();
	char want[128], buf[24], sub[24], hold[24];
	long long id;

	test_pg_attach(c, test_pg_m1, "alpha");
	test_pg_exec(l, "listen ipcfs");

	/* Channels: a write into empty, a read from nearly full, opens and
	 * closes of writers, set. */
	id = T_NUM0(c, "select ipcfs.channel_create('/c', 0, 0, 420, 8192)");
	snprintf(want, sizeof(want), "channels c %lld /c", id);
	PQclear(T_OK(c, "select ipcfs.channel_open('/c', $1, true, false)",
		     test_pg_m1));
	test_pg_expect_none(l);
	PQclear(T_OK(c, "select ipcfs.channel_open('/c', $1, false, true)",
		     test_pg_m1));
	test_pg_expect(l, want);
	PQclear(T_OK0(c, "select ipcfs.channel_write('/c', 'a')"));
	test_pg_expect(l, want);
	PQclear(T_OK0(c, "select ipcfs.channel_write('/c', 'b')"));
	test_pg_expect_none(l);
	PQclear(T_OK0(c, "select ipcfs.channel_read('/c', 1)"));
	test_pg_expect_none(l);
	PQclear(T_OK0(c, "select ipcfs.channel_write('/c',"
			 " convert_to(repeat('w', 4096), 'UTF8'))"));
	test_pg_expect_none(l);
	PQclear(T_OK0(c, "select ipcfs.channel_read('/c', 1)"));
	test_pg_expect(l, want);
	PQclear(T_OK(c, "select ipcfs.channel_close('/c', $1, false, true)",
		     test_pg_m1));
	test_pg_expect(l, want);
	PQclear(T_OK0(c, "select ipcfs.channel_set('/c', 65536, null)"));
	test_pg_expect(l, want);

	/* Semaphores: a post onto 0, a release onto 0; not a take. */
	id = T_NUM0(c, "select ipcfs.sem_create('/m', 0, 0, 420, 1)");
	snprintf(want, sizeof(want), "sem c %lld /m", id);
	snprintf(hold, sizeof(hold), "%s",
		 T_VAL(c, buf, "select ipcfs.sem_hold('/m', $1, 5)",
		       test_pg_m1));
	test_pg_expect_none(l);
	PQclear(T_OK(c, "select ipcfs.sem_release($1)", hold));
	test_pg_expect(l, want);
	PQclear(T_OK0(c, "select ipcfs.sem_post('/m', 1)"));
	test_pg_expect_none(l);
	PQclear(T_OK0(c, "select ipcfs.sem_trywait('/m')"));
	PQclear(T_OK0(c, "select ipcfs.sem_trywait('/m')"));
	test_pg_expect_none(l);
	PQclear(T_OK0(c, "select ipcfs.sem_post('/m', 1)"));
	test_pg_expect(l, want);
	PQclear(T_OK(c, "select ipcfs.sem_hold('/m', $1, 5)", test_pg_m1));
	/* (the mount's last open of /c goes first: detach notifies all) */
	PQclear(T_OK(c, "select ipcfs.channel_close('/c', $1, true, false)",
		     test_pg_m1));
	test_pg_expect_none(l);
	PQclear(T_OK(c, "select ipcfs.mount_detach($1)", test_pg_m1));
	test_pg_expect(l, want);
	test_pg_attach(c, test_pg_m1, "alpha");

	/* Topics: a publish that somebody will read. */
	id = T_NUM0(c, "select ipcfs.topic_create('/t', 0, 0, 420, 4)");
	snprintf(want, sizeof(want), "topics c %lld /t", id);
	PQclear(T_OK0(c, "select ipcfs.topic_publish('/t', 'nobody')"));
	test_pg_expect_none(l);
	snprintf(sub, sizeof(sub), "%s",
		 T_VAL(c, buf, "select ipcfs.topic_subscribe('/t', $1)",
		       test_pg_m1));
	PQclear(T_OK0(c, "select ipcfs.topic_publish('/t', 'one')"));
	test_pg_expect(l, want);
	PQclear(T_OK(c, "select ipcfs.topic_read($1)", sub));
	test_pg_expect_none(l);

	/* shm: nothing waits on it. */
	PQclear(T_OK0(c, "select ipcfs.shm_create('/s', 0, 0, 420)"));
	PQclear(T_OK0(c, "select ipcfs.shm_write('/s', 0, 'x')"));
	test_pg_expect_none(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define TEST_PG_CASE(f)                                                        \
	cmocka_unit_test_setup_teardown(f, test_pg_setup, test_pg_teardown)
		TEST_PG_CASE(test_pg_version),
		TEST_PG_CASE(test_pg_errors),
		TEST_PG_CASE(test_pg_generic),
		TEST_PG_CASE(test_pg_types),
		TEST_PG_CASE(test_pg_mq_priority),
		TEST_PG_CASE(test_pg_mq_give_back),
		TEST_PG_CASE(test_pg_mq_limits),
		TEST_PG_CASE(test_pg_mq_tagged),
		TEST_PG_CASE(test_pg_mq_exactly_once_locked),
		TEST_PG_CASE(test_pg_mq_exactly_once_many),
		TEST_PG_CASE(test_pg_channel_atomic),
		TEST_PG_CASE(test_pg_channel_order_unread),
		TEST_PG_CASE(test_pg_channel_concurrent),
		TEST_PG_CASE(test_pg_channel_eof),
		TEST_PG_CASE(test_pg_shm),
		TEST_PG_CASE(test_pg_sem),
		TEST_PG_CASE(test_pg_sem_hold),
		TEST_PG_CASE(test_pg_reclaim_dead),
		TEST_PG_CASE(test_pg_reclaim_grace),
		TEST_PG_CASE(test_pg_reclaim_serialised),
		TEST_PG_CASE(test_pg_mount_detach),
		TEST_PG_CASE(test_pg_topic),
		TEST_PG_CASE(test_pg_topic_race),
		TEST_PG_CASE(test_pg_topic_backlog),
		TEST_PG_CASE(test_pg_notify_payload),
		TEST_PG_CASE(test_pg_notify_kinds),
#undef TEST_PG_CASE
	};
	int ret;

	if (!getenv("PGHOST") || !*getenv("PGHOST")) {
		fprintf(stderr,
			"test_pg_sql: PGHOST unset: no server, skipped\n");
		return 77;
	}
	test_pg_schema = test_pg_read_schema();
	if (!test_pg_schema)
		return 1;
	ret = cmocka_run_group_tests_name("pg_sql", tests, NULL, NULL);
	free(test_pg_schema);
	return ret;
}

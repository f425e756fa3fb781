// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * conn.c - the PostgreSQL engine's connections: a small pool for the FUSE
 * workers, one for the event loop's retries, and one that LISTENs.
 *
 * libpq connections are not shared between threads, so each query takes a
 * whole connection. The pool has -o pg_pool=N (default 4) of them: FUSE
 * has at most 10 worker threads, and a query holds one for a round trip
 * only, so 4 keep the workers busy without taking a tenth of a server's
 * max_connections (100 by default) per mount. The event loop's thread has
 * a connection of its own, so a parked request's retry never waits for the
 * pool. The LISTEN connection is the mount's session: its backend's life
 * is the mount's life for the database (ipcfs.mounts), so units held by a
 * dead daemon come back (ipcfs.reclaim(), which every live mount runs each
 * second).
 *
 * Its socket is a wake source of the event loop: a notification "KIND OP
 * ID NAME" retries the waiters of that one object, or retires it. A
 * timerfd ticks twice a second: reclaim, and, while the database is
 * unreachable, reconnect with backoff. Notifications are not replayed, so
 * once back every object's waiters are retried.
 *
 * A query is I/O, not a wait: bounded by -o pg_timeout (default 10 s).
 * Outages are logged once, when they start and when they end. What the
 * kinds do alike with their objects is obj.c; calls safe to send again,
 * tags.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "pg.h"
#include "pg_schema.h"

#define PG_SCHEMA_VERSION 1
#define PG_CHANNEL "ipcfs"
#define PG_TICK_MS 500
#define PG_KINDS_MAX 8
#define PG_BACKOFF_MAX_MS 4000
/*
 * pg_run's "nothing was done, send it again" (a connection found closed
 * before sending, a session that ended before the answer): not an errno,
 * so that no SQLSTATE IPnnn can mean it.
 */
#define PG_NOT_DONE (-4096)

char pg_mount[37];
long pg_timeout = 10;
static long pg_keepalive = 10;
static long pg_pool_size = 4;
static char *pg_service;
static char pg_host[256];

struct pg_kind {
	const char *name;
	struct ipc_registry *reg;
	bool broadcast;
};
static struct pg_kind pg_kinds[PG_KINDS_MAX];
static int pg_nkinds;

/*
 * A connection of the pool or the loop's, and the statements prepared on
 * it: each call's SQL (a kind's string, known by its address) is parsed
 * and planned once per connection, not at every call.
 */
#define PG_PREPARED_MAX 64
struct pg_conn {
	PGconn *c;
	int nprepared;
	const char *prepared[PG_PREPARED_MAX];
};

/* The pool: a connection is either free or owned by one thread. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond;
static struct pg_conn *pool;
static bool *pool_busy;

static struct pg_conn loop_conn; /* the event loop's thread only */
static PGconn *listen_conn;	 /* the loop's too, once started */
static struct ipc_source *listen_src, *tick_src;
static int tick_fd = -1;
static long backoff_ms, waited_ms; /* the loop's: reconnect pacing */

/* Down: some connection found the database unreachable; one log line. */
static atomic_bool pg_down;
static atomic_bool pg_reattach; /* a call found the mount detached */
static time_t pg_down_since;
static _Atomic double pg_down_at; /* monotonic seconds */

static double pg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The first line of a libpq message, into buf. */
static const char *pg_line(const char *msg, char *buf, size_t size)
{
	snprintf(buf, size, "%.*s", (int)strcspn(msg, "\n"), msg);
	return buf;
}

static void pg_mark_down_why(const char *why)
{
	bool was = false;

	if (!atomic_compare_exchange_strong(&pg_down, &was, true))
		return;
	pg_down_since = time(NULL);
	atomic_store(&pg_down_at, pg_now());
	ipc_log("the database is unreachable (%s): requests wait up to %ld s for it, then fail with EIO; waiting ones stay parked",
		why, pg_timeout);
}

static void pg_mark_down(PGconn *c)
{
	char buf[256];

	pg_mark_down_why(c ? pg_line(PQerrorMessage(c), buf, sizeof(buf))
			   : "no connection");
}

static void pg_mark_up(void)
{
	bool was = true;

	if (atomic_compare_exchange_strong(&pg_down, &was, false))
		ipc_log("the database is reachable again after %ld s",
			(long)(time(NULL) - pg_down_since));
}

/*
 * A new connection from libpq's environment (PGHOST, PGSERVICE, ...) or
 * -o pg_service, with keepalives so that a vanished server is noticed
 * within about pg_keepalive seconds. NULL, or a connection that may be bad.
 */
static void pg_notice(void *arg, const char *message)
{
}

static PGconn *pg_connect(void)
{
	char timeout[24], idle[24], intvl[24], user_timeout[24];
	const char *keys[10], *vals[10];
	PGconn *c;
	int n = 0;

	keys[n] = "connect_timeout";
	vals[n++] = PG_NUM(timeout, pg_timeout);
	keys[n] = "keepalives_idle";
	vals[n++] = PG_NUM(idle, pg_keepalive / 3 > 0 ? pg_keepalive / 3 : 1);
	keys[n] = "keepalives_interval";
	vals[n++] = PG_NUM(intvl, pg_keepalive / 3 > 0 ? pg_keepalive / 3 : 1);
	keys[n] = "keepalives_count";
	vals[n++] = "2";
	keys[n] = "tcp_user_timeout";
	vals[n++] = PG_NUM(user_timeout, pg_keepalive * 1000);
	keys[n] = "fallback_application_name";
	vals[n++] = "ipcfs";
	if (pg_service) {
		keys[n] = "service";
		vals[n++] = pg_service;
	}
	keys[n] = NULL;
	vals[n] = NULL;
	c = PQconnectdbParams(keys, vals, 0);
	/* "terminating connection" and the like: the outage is logged once. */
	if (c)
		PQsetNoticeProcessor(c, pg_notice, NULL);
	return c;
}

static bool pg_ok(PGconn *c)
{
	return c && PQstatus(c) == CONNECTION_OK;
}

static void pg_conn_close(struct pg_conn *pc)
{
	PQfinish(pc->c);
	pc->c = NULL;
	pc->nprepared = 0;
}

/*
 * Connected now, or connected again: false if the database is away. The
 * server ends a call that runs past pg_timeout itself, undone, a second
 * before we would give up on it: so a call we gave up on is one that did
 * not happen, not one that may still commit behind our back.
 */
static bool pg_conn_open(struct pg_conn *pc)
{
	char sql[96];
	PGresult *r;

	if (pg_ok(pc->c))
		return true;
	pg_conn_close(pc);
	pc->c = pg_connect();
	if (!pg_ok(pc->c))
		return false;
	snprintf(sql, sizeof(sql), "SET statement_timeout = %ld",
		 pg_timeout * 1000);
	r = PQexec(pc->c, sql);
	PQclear(r);
	if (!pg_ok(pc->c))
		return false;
	pg_mark_up(); /* a new connection: the database is there */
	return true;
}

/*
 * The name of sql's statement on pc ("s" and its number), prepared now if
 * it is new; false: not prepared (the table is full, or it failed), send
 * the text.
 */
static bool pg_prepared(struct pg_conn *pc, const char *sql, int n,
			char name[16])
{
	PGresult *r;
	int i;

	for (i = 0; i < pc->nprepared && pc->prepared[i] != sql; i++)
		;
	snprintf(name, 16, "s%d", i);
	if (i < pc->nprepared)
		return true;
	if (i == PG_PREPARED_MAX)
		return false;
	r = PQprepare(pc->c, name, sql, n, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		PQclear(r);
		return false; /* pg_run sees a broken connection: not done */
	}
	PQclear(r);
	pc->prepared[pc->nprepared++] = sql;
	return true;
}

/*
 * The session ended under the query (FATAL: a shutdown, a crash, an
 * administrator): its transaction did not commit, since a commit comes
 * before the answer's end, which then never arrived.
 */
static bool pg_session_ended(const PGresult *r)
{
	const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	return (sev && (!strcmp(sev, "FATAL") || !strcmp(sev, "PANIC"))) ||
	       (state &&
		(!strncmp(state, "08", 2) || !strncmp(state, "57P", 3)));
}

/* SQLSTATE IPnnn: -nnn; anything else the database says: -EIO. */
static int pg_error(const PGresult *r)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	if (state && state[0] == 'I' && state[1] == 'P') {
		/* "mount not attached": the tick ties it again. */
		if (atoi(state + 2) == ENOTCONN)
			atomic_store(&pg_reattach, true);
		return -atoi(state + 2);
	}
	return -EIO;
}

/*
 * No answer by the deadline. The server's statement_timeout (pg_timeout,
 * a second before ours) should have ended the call, undone: ask it to
 * cancel, in case it still runs; the connection goes (its answer would
 * come to the next call). Said once a minute at most: a slow server is
 * not an outage.
 */
static void pg_slow(PGconn *c)
{
	static _Atomic time_t said;
	PGcancel *cancel = PQgetCancel(c);
	char buf[256];
	time_t now = time(NULL);

	if (cancel) {
		PQcancel(cancel, buf, sizeof(buf));
		PQfreeCancel(cancel);
	}
	if (now - atomic_load(&said) >= 60) {
		atomic_store(&said, now);
		ipc_log("a query got no answer within -o pg_timeout=%ld s: cancelled, its connection closed",
			pg_timeout);
	}
}

/*
 * Send and wait for the result until deadline (monotonic seconds). The
 * rows count only once the server said it is ready for the next query (the
 * transaction committed): a connection lost before that took nothing we
 * can vouch for. NULL and *err on failure; *lost when the connection is
 * unusable now.
 */
static PGresult *pg_run(struct pg_conn *pc, const char *sql, int n,
			const char *const *vals, const int *lens,
			double deadline, int *err, bool *lost)
{
	PGconn *c = pc->c;
	int fmts[8], plens[8], i, sent;
	char name[16], line[256];
	PGresult *r, *res = NULL;
	bool ended = false;
	struct pollfd pfd;
	double left;

	*lost = false;
	/*
	 * A connection the server closed meanwhile (a restart) says so to a
	 * read: find out before sending, when sending again is still safe.
	 */
	if (!PQconsumeInput(c) || !pg_ok(c)) {
		*err = PG_NOT_DONE;
		return NULL;
	}
	for (i = 0; i < n && i < 8; i++) {
		fmts[i] = lens && lens[i] >= 0;
		plens[i] = lens && lens[i] >= 0 ? lens[i] : 0;
	}
	sent = pg_prepared(pc, sql, n, name);
	if (!pg_ok(c)) { /* the prepare found it closed: nothing sent */
		*err = PG_NOT_DONE;
		return NULL;
	}
	sent = sent ? PQsendQueryPrepared(c, name, n, vals, plens, fmts, 1)
		    : PQsendQueryParams(c, sql, n, NULL, vals, plens, fmts, 1);
	if (!sent)
		goto lost;
	pfd.fd = PQsocket(c);
	pfd.events = POLLIN;
	while (PQisBusy(c)) {
		left = deadline - pg_now();
		if (left <= 0 || poll(&pfd, 1, (int)(left * 1000) + 1) == 0) {
			pg_slow(c);
			goto lost;
		}
		if (!PQconsumeInput(c))
			goto lost;
	}
	*err = 0;
	while ((r = PQgetResult(c))) {
		ExecStatusType st = PQresultStatus(r);

		if (!res && !*err &&
		    (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)) {
			res = r;
			continue;
		}
		if (st == PGRES_FATAL_ERROR && pg_session_ended(r)) {
			ended = true;
		} else if (!*err && st == PGRES_FATAL_ERROR) {
			*err = pg_error(r);
			if (*err == -EIO && pg_ok(c))
				ipc_log("database: %s",
					pg_line(PQresultErrorMessage(r), line,
						sizeof(line)));
		}
		PQclear(r);
	}
	if (ended) { /* nothing was done: send it again */
		PQclear(res);
		*err = PG_NOT_DONE;
		return NULL;
	}
	if (!pg_ok(c))
		goto lost;
	if (*err) {
		PQclear(res);
		return NULL;
	}
	return res;
lost:
	PQclear(res);
	*lost = true;
	*err = -EIO;
	return NULL;
}

/* A free connection of the pool, by deadline; -1 if none came. */
static int pool_take(double deadline)
{
	struct timespec ts;
	int i;

	ts.tv_sec = (time_t)deadline;
	ts.tv_nsec = (long)((deadline - ts.tv_sec) * 1e9);
	pthread_mutex_lock(&pool_lock);
	for (;;) {
		for (i = 0; i < pg_pool_size; i++)
			if (!pool_busy[i])
				break;
		if (i < pg_pool_size) {
			pool_busy[i] = true;
			break;
		}
		if (pthread_cond_timedwait(&pool_cond, &pool_lock, &ts) ==
		    ETIMEDOUT) {
			i = -1;
			break;
		}
	}
	pthread_mutex_unlock(&pool_lock);
	return i;
}

static void pool_give(int i)
{
	pthread_mutex_lock(&pool_lock);
	pool_busy[i] = false;
	pthread_cond_signal(&pool_cond);
	pthread_mutex_unlock(&pool_lock);
}

/* Sleep ms, but not past deadline: a worker waiting for the database. */
static void pg_pause(long ms, double deadline)
{
	double left = deadline - pg_now();
	struct timespec ts;

	if (left * 1000 < ms)
		ms = left > 0 ? (long)(left * 1000) : 0;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/*
 * A worker's query: a connection of the pool, made again as often as
 * needed until deadline. A query whose connection broke after it was sent
 * may have been done: it is sent again only if `again` (a tagged call,
 * which the database does once whatever the number of times it comes).
 */
static PGresult *pg_query_pool(const char *sql, int n, const char *const *vals,
			       const int *lens, bool again, int *err)
{
	double deadline = pg_now() + pg_timeout;
	long pause = 100;
	PGresult *r = NULL;
	bool lost;
	int i;

	/*
	 * pg_timeout from the start of an outage at most: requests that the
	 * kernel serialises (lookups of one name) would each wait it again.
	 */
	if (atomic_load(&pg_down) &&
	    atomic_load(&pg_down_at) + pg_timeout < deadline)
		deadline = atomic_load(&pg_down_at) + pg_timeout;
	i = pool_take(deadline);

	*err = -EIO;
	if (i < 0)
		return NULL;
	for (;;) {
		if (!pg_conn_open(&pool[i])) {
			pg_mark_down(pool[i].c); /* an outage: logged once */
			*err = -EIO;
		} else {
			/* Connected: the query has pg_timeout of its own. */
			r = pg_run(&pool[i], sql, n, vals, lens,
				   pg_now() + pg_timeout + 1, err, &lost);
			if (!lost && *err != PG_NOT_DONE)
				break; /* answered */
			pg_conn_close(&pool[i]);
			if (lost && !again) {
				*err = -EIO; /* it may have been done */
				break;
			}
			/* Nothing was done: at once, again. */
			if (*err == PG_NOT_DONE && pg_now() < deadline)
				continue;
		}
		if (pg_now() >= deadline) {
			*err = -EIO;
			break;
		}
		pg_pause(pause, deadline);
		pause = pause * 2 < 1000 ? pause * 2 : 1000;
	}
	pool_give(i);
	return r;
}

/* The loop's query: never waits for the database to come back. */
/*
 * The loop's query: never waits for the database to come back. A call
 * not done, or a tagged one that may have been, waits (-EAGAIN) to be made
 * again once the tick has the connection back and retries every waiter;
 * an untagged one that may have been done fails (-EIO), as a worker's.
 */
static PGresult *pg_query_loop(const char *sql, int n, const char *const *vals,
			       const int *lens, bool again, int *err)
{
	PGresult *r;
	bool lost;

	*err = -EAGAIN;
	if (!pg_ok(loop_conn.c))
		return NULL;
	r = pg_run(&loop_conn, sql, n, vals, lens, pg_now() + pg_timeout + 1,
		   err, &lost);
	if (lost || *err == PG_NOT_DONE) {
		pg_conn_close(&loop_conn);
		*err = lost && !again ? -EIO : -EAGAIN;
	}
	return r;
}

PGresult *pg_query_again(const char *sql, int n, const char *const *vals,
			 const int *lens, bool again, int *err)
{
	return ipc_in_loop() ? pg_query_loop(sql, n, vals, lens, again, err)
			     : pg_query_pool(sql, n, vals, lens, again, err);
}

PGresult *pg_query(const char *sql, int n, const char *const *vals,
		   const int *lens, int *err)
{
	return pg_query_again(sql, n, vals, lens, false, err);
}

/* Registry of the kinds, for the notifications. */
void pg_kind_register(const char *kind, struct ipc_registry *reg,
		      bool broadcast)
{
	if (pg_nkinds < PG_KINDS_MAX)
		pg_kinds[pg_nkinds++] =
			(struct pg_kind){ kind, reg, broadcast };
}

static struct pg_kind *pg_kind_find(const char *name, size_t len)
{
	int i;

	for (i = 0; i < pg_nkinds; i++)
		if (strlen(pg_kinds[i].name) == len &&
		    strncmp(pg_kinds[i].name, name, len) == 0)
			return &pg_kinds[i];
	return NULL;
}

int pg_payload_parse(const char *payload, size_t *kind_len, char *op,
		     long long *id, const char **name)
{
	const char *p = strchr(payload, ' ');
	int digits = 0;

	if (!p || p == payload || (p[1] != 'c' && p[1] != 'x') || p[2] != ' ')
		return -EINVAL;
	*kind_len = p - payload;
	*op = p[1];
	*id = 0;
	for (p += 3; *p >= '0' && *p <= '9' && digits < 18; p++, digits++)
		*id = *id * 10 + (*p - '0');
	if (!digits || *p != ' ' || p[1] != '/')
		return -EINVAL;
	*name = p + 1;
	return 0;
}

/* "KIND OP ID NAME": retry the waiters of NAME, or retire it. */
static void pg_notified(const char *payload)
{
	const char *name;
	struct pg_kind *k;
	struct ipc_obj *o;
	size_t kind_len;
	long long id;
	char op;

	if (pg_payload_parse(payload, &kind_len, &op, &id, &name) < 0)
		return; /* not ours: anybody may NOTIFY ipcfs */
	k = pg_kind_find(payload, kind_len);
	o = k ? ipc_obj_find(k->reg, name) : NULL;
	if (!o)
		return;
	if (op == 'x' && ((struct pg_obj *)o)->id == id)
		ipc_obj_remove(o);
	else if (k->broadcast)
		ipc_wake_all(o->wq);
	else
		ipc_wake(o->wq, POLLIN | POLLOUT);
	ipc_obj_put(o);
}

static void pg_wake_everybody(void)
{
	int i;

	for (i = 0; i < pg_nkinds; i++)
		ipc_obj_wake_all(pg_kinds[i].reg);
}

/*
 * The loop watches a duplicate of the LISTEN socket: libpq closes its own
 * when it finds the connection lost, before we could take it out of epoll.
 */
static int listen_fd = -1;
static void pg_listen_ready(void *arg);

static void pg_listen_watch(void)
{
	listen_fd = fcntl(PQsocket(listen_conn), F_DUPFD_CLOEXEC, 0);
	if (listen_fd >= 0)
		listen_src = ipc_source_add(listen_fd, pg_listen_ready, NULL);
	if (!listen_src)
		ipc_log("cannot watch the LISTEN connection: waiters wake only when this mount changes their object");
}

static void pg_listen_unwatch(void)
{
	ipc_source_del(listen_src);
	listen_src = NULL;
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
}

static void pg_listen_lost(void)
{
	pg_listen_unwatch();
	pg_mark_down(listen_conn);
	PQfinish(listen_conn);
	listen_conn = NULL;
}

static void pg_listen_ready(void *arg)
{
	PGnotify *n;

	if (!PQconsumeInput(listen_conn)) {
		pg_listen_lost();
		return;
	}
	while ((n = PQnotifies(listen_conn))) {
		pg_notified(n->extra);
		PQfreemem(n);
	}
	if (!pg_ok(listen_conn))
		pg_listen_lost();
}

/* Run a statement on c with text parameters: 0, or -errno. */
static int pg_session_exec(PGconn *c, const char *sql, int n,
			   const char *const *vals)
{
	char line[256];
	PGresult *r = PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);
	int ret = 0;

	if (PQresultStatus(r) != PGRES_TUPLES_OK &&
	    PQresultStatus(r) != PGRES_COMMAND_OK) {
		ret = pg_error(r);
		ipc_log("database: %s",
			pg_line(PQresultErrorMessage(r), line, sizeof(line)));
	}
	PQclear(r);
	return ret;
}

/*
 * The mount's session: LISTEN, and the session the database ties this
 * mount's holds to. The server drops it when the host vanishes, after
 * about pg_keepalive seconds (its own keepalive settings, for TCP).
 */
/*
 * Tie the mount to the session c (again: after a reconnect, a fork). If
 * the database had let it go meanwhile (its session gone while the server
 * lived: reclaimed), what its files held was given back: say so.
 */
static pid_t pg_attached_pid;
static bool pg_attached;

static int pg_attach(PGconn *c)
{
	char pid[24];
	const char *attach[] = { pg_mount, pg_host, PG_NUM(pid, getpid()) };
	PGresult *r;
	bool known = true;

	if (pg_attached) {
		r = PQexecParams(c, "SELECT 1 FROM ipcfs.mounts WHERE id = $1",
				 1, NULL, attach, NULL, NULL, 0);
		known = PQresultStatus(r) != PGRES_TUPLES_OK ||
			PQntuples(r) > 0;
		PQclear(r);
	}
	if (!known)
		ipc_log("this mount's session ended and the database gave back what its files held (units of hold, channel opens, subscriptions): holders here no longer hold, and topic readers end");
	if (pg_session_exec(c, "SELECT ipcfs.mount_attach($1, $2, $3)", 3,
			    attach) < 0)
		return -EIO;
	pg_attached = true;
	pg_attached_pid = getpid();
	return 0;
}

static int pg_session_start(PGconn *c)
{
	char ka[24], ut[24];
	const char *set[] = { PG_NUM(ka, pg_keepalive / 3 > 0 ? pg_keepalive / 3
							      : 1),
			      PG_NUM(ut, pg_keepalive * 1000) };
	int ret;

	/*
	 * No idle_session_timeout: the session is idle by design, and its
	 * end gives back what the mount holds.
	 */
	ret = pg_session_exec(
		c,
		"SELECT set_config('tcp_keepalives_idle', $1, false), set_config('tcp_keepalives_interval', $1, false), set_config('tcp_keepalives_count', '2', false), set_config('tcp_user_timeout', $2, false), set_config('idle_session_timeout', '0', false)",
		2, set);
	if (ret == 0)
		ret = pg_session_exec(c, "LISTEN " PG_CHANNEL, 0, NULL);
	if (ret == 0)
		ret = pg_attach(c);
	return ret;
}

/* The loop's connections, made again after an outage; true once both are. */
static bool pg_reconnect(void)
{
	if (!pg_conn_open(&loop_conn))
		return false;
	if (!pg_ok(listen_conn)) {
		PQfinish(listen_conn);
		listen_conn = pg_connect();
		if (!pg_ok(listen_conn) || pg_session_start(listen_conn) < 0) {
			PQfinish(listen_conn);
			listen_conn = NULL;
			return false;
		}
		PQsetnonblocking(listen_conn, 1);
		pg_listen_watch();
	}
	return true;
}

/*
 * Twice a second on the loop: while down, reconnect (backing off to every
 * 4 s); up, give back what dead mounts held. A server that restarted may
 * have mounts reconnecting: they get 3 x pg_timeout (at least 30 s) to.
 */
static void pg_tick(void *arg)
{
	char grace[24];
	const char *vals[] = { PG_NUM(
		grace, pg_timeout * 3 > 30 ? pg_timeout * 3 : 30) };
	uint64_t n;

	if (read(tick_fd, &n, sizeof(n)) < 0)
		return;
	if (!pg_ok(loop_conn.c) || !pg_ok(listen_conn)) {
		waited_ms += PG_TICK_MS;
		if (waited_ms < backoff_ms)
			return;
		waited_ms = 0;
		if (!pg_reconnect()) {
			pg_mark_down(NULL);
			backoff_ms = backoff_ms ? backoff_ms * 2 : PG_TICK_MS;
			if (backoff_ms > PG_BACKOFF_MAX_MS)
				backoff_ms = PG_BACKOFF_MAX_MS;
			return;
		}
		backoff_ms = 0;
		pg_mark_up();
		pg_wake_everybody();
	}
	/* Detached into the background (another pid), or found detached. */
	if (pg_attached_pid != getpid() ||
	    atomic_exchange(&pg_reattach, false)) {
		pg_attach(listen_conn);
		pg_listen_ready(NULL); /* what came during it */
	}
	pg_settle();
	pg_exec("SELECT ipcfs.reclaim($1)", 1, vals, NULL);
}

/*
 * A database without schema ipcfs gets it; one of another version is
 * refused, with what to do. Under an advisory lock: mounts starting
 * together make it once.
 */
static int pg_schema(PGconn *c)
{
	PGresult *r;
	int ret = 0, version;

	if (pg_session_exec(c, "SELECT pg_advisory_lock(7412061)", 0, NULL))
		return -EIO;
	r = PQexec(c, "SELECT to_regnamespace('ipcfs') IS NOT NULL");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		ret = -EIO;
	} else if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		PQclear(r);
		r = PQexec(c, pg_schema_sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK &&
		    PQresultStatus(r) != PGRES_TUPLES_OK) {
			fprintf(stderr, "ipcfs: cannot make schema ipcfs: %s",
				PQresultErrorMessage(r));
			ret = -EIO;
		}
	} else {
		PQclear(r);
		r = PQexec(c, "SELECT ipcfs.version()");
		version = PQresultStatus(r) == PGRES_TUPLES_OK
				  ? atoi(PQgetvalue(r, 0, 0))
				  : -1;
		if (version != PG_SCHEMA_VERSION) {
			fprintf(stderr,
				"ipcfs: the database's schema ipcfs is version %d, and this ipcfs uses version %d: run the same ipcfs on every host, or, to start afresh, DROP SCHEMA ipcfs CASCADE (every object in it is lost)\n",
				version, PG_SCHEMA_VERSION);
			ret = -EPROTO;
		}
	}
	PQclear(r);
	pg_session_exec(c, "SELECT pg_advisory_unlock(7412061)", 0, NULL);
	return ret;
}

static int pg_identity(void)
{
	FILE *f = fopen("/proc/sys/kernel/random/uuid", "r");
	bool ok = f && fgets(pg_mount, sizeof(pg_mount), f);

	if (f)
		fclose(f);
	if (gethostname(pg_host, sizeof(pg_host) - 1) < 0)
		strcpy(pg_host, "localhost");
	return ok && strlen(pg_mount) == 36 ? 0 : -EIO;
}

int pg_init(void)
{
	pthread_condattr_t ca;
	PGconn *c;
	int ret;

	if (pg_identity() < 0)
		return -EIO;
	c = pg_connect();
	if (!pg_ok(c)) {
		fprintf(stderr,
			"ipcfs: cannot reach the database: %s(the connection comes from libpq's environment, PGHOST, PGPORT, PGDATABASE, PGUSER, PGSERVICE..., or -o pg_service=NAME)\n",
			c ? PQerrorMessage(c) : "out of memory ");
		PQfinish(c);
		return -EHOSTUNREACH;
	}
	ret = pg_schema(c);
	if (ret == 0)
		ret = pg_session_start(c) < 0 ? -EIO : 0;
	if (ret < 0) {
		PQfinish(c);
		return ret;
	}
	listen_conn = c;
	PQsetnonblocking(listen_conn, 1);
	pg_conn_open(&loop_conn);
	pool = calloc(pg_pool_size, sizeof(*pool));
	pool_busy = calloc(pg_pool_size, sizeof(*pool_busy));
	tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!pool || !pool_busy || tick_fd < 0)
		return -ENOMEM;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pool_cond, &ca);
	pthread_condattr_destroy(&ca);
	timerfd_settime(tick_fd, 0,
			&(struct itimerspec){
				.it_interval.tv_nsec = PG_TICK_MS * 1000000L,
				.it_value.tv_nsec = PG_TICK_MS * 1000000L },
			NULL);
	pg_listen_watch();
	tick_src = ipc_source_add(tick_fd, pg_tick, NULL);
	if (!tick_src)
		return -ENOMEM;
	return 0;
}

/* A clean exit gives back what this mount held, at once. */
void pg_fini(void)
{
	const char *vals[] = { pg_mount };
	int i;

	ipc_source_del(tick_src);
	pg_listen_unwatch();
	pg_settle(); /* the files released at exit */
	pg_tags_free();
	if (pg_ok(listen_conn))
		pg_session_exec(listen_conn, "SELECT ipcfs.mount_detach($1)", 1,
				vals);
	if (tick_fd >= 0)
		close(tick_fd);
	PQfinish(listen_conn);
	pg_conn_close(&loop_conn);
	for (i = 0; pool && i < pg_pool_size; i++)
		pg_conn_close(&pool[i]);
	free(pool);
	free(pool_busy);
	free(pg_service);
	pg_service = NULL;
}

const struct ipc_option pg_options[] = {
	{ "pg_service", NULL, 0, 0,
	  "the database: a service of pg_service.conf (default: libpq's environment, PGHOST...)",
	  &pg_service },
	{ "pg_timeout", &pg_timeout, 1, 3600,
	  "seconds a query may take, and a request wait for the database (default 10)" },
	{ "pg_keepalive", &pg_keepalive, 1, 3600,
	  "seconds after which a vanished host's session ends, its holds given back (default 10)" },
	{ "pg_pool", &pg_pool_size, 1, 64,
	  "connections of the FUSE workers (default 4; one more for the event loop, one to LISTEN)" },
	{ NULL },
};

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pg.h - the PostgreSQL engine's connection layer (conn.c), which its kinds
 * (queue.c, channel.c, shm.c, sem.c, topic.c) use to call the SQL functions
 * of schema.sql. The semantics live in those functions; a kind turns a file
 * operation into one call and its result into bytes, an errno or "would
 * block".
 *
 * Waiting: every change that can end a wait NOTIFYs channel "ipcfs"
 * with "KIND OP ID NAME"; conn.c LISTENs on a connection of its own whose
 * socket is a wake source of the event loop, and wakes the waiters of the
 * object named (OP c), or retires it (OP x). A query is I/O, not a wait:
 * bounded by -o pg_timeout.
 */
#ifndef IPCFS_PG_H
#define IPCFS_PG_H

#include <libpq-fe.h>
#include <stdio.h>

#include "ipc.h"

/* This mount's id (a uuid, as text) and its host's name. */
extern char pg_mount[37];

/*
 * Run sql (a SELECT of one ipcfs function, with $1.. parameters) and return
 * its result, in binary format. Parameter i is text when lens[i] < 0 (or
 * lens is NULL): vals[i] NUL-terminated; else binary of lens[i] bytes (a
 * bytea). A worker thread takes a connection of the pool, waiting for one
 * and for the database up to pg_timeout, else -EIO. The event loop's thread
 * (a parked request's retry) has a connection of its own; while the
 * database is unreachable it gets -EAGAIN at once, and the kind parks as if
 * the call would block: every object's waiters are retried when the
 * database is back. NULL with *err: SQLSTATE IPnnn (schema.sql's errors)
 * is -nnn, anything else -EIO. The caller PQclear()s the result.
 */
PGresult *pg_query(const char *sql, int n, const char *const *vals,
		   const int *lens, int *err);
/*
 * pg_query, and with `again` a call that may be sent again over a new
 * connection after one broke under it (a tagged call: tags.c).
 */
PGresult *pg_query_again(const char *sql, int n, const char *const *vals,
			 const int *lens, bool again, int *err);
/* Hand the handles released since to the database (the tick, and at exit). */
void pg_settle(void);
void pg_tags_free(void);
/* Run sql for its effect only: 0 or -errno, as pg_query. */
int pg_exec(const char *sql, int n, const char *const *vals, const int *lens);

/*
 * A call that changes something and must happen exactly once although a
 * connection may break in the middle of it (conn.c, "Tags"): one tag per
 * file handle, whose calls are made one at a time. pg_call is pg_query
 * whose last parameter (vals[n - 1], a text) conn.c fills with the tag;
 * data, len: what the call sends (nothing: NULL, 0), which tells two calls
 * of the handle apart. pg_tag_release() when the handle is done.
 */
struct pg_tag {
	long long key, n;
	bool doubt; /* the last call was never answered: send it again */
};
void pg_tag_init(struct pg_tag *t);
PGresult *pg_call(struct pg_tag *t, const char *sql, int n, const char **vals,
		  const int *lens, const char *data, size_t len, int *err);
void pg_tag_release(struct pg_tag *t);

/* Fields of a binary result: int2/int4/int8/bool, float8, bytea/text. */
long long pg_int(const PGresult *r, int row, int col);
double pg_float(const PGresult *r, int row, int col);
const char *pg_bytes(const PGresult *r, int row, int col, int *len);

/* A number as a text parameter, in buf (char buf[24]). */
#define PG_NUM(buf, v) (snprintf(buf, sizeof(buf), "%lld", (long long)(v)), buf)

/*
 * A notification's payload, "KIND OP ID NAME" (OP c or x, ID decimal, NAME
 * from its '/' to the end): 0 and its parts (KIND is payload[0..kind_len),
 * NAME points into payload), or -EINVAL. Any client of the database may
 * NOTIFY ipcfs: this is input, and fuzzed (tests/fuzz/fuzz_notify.c).
 */
int pg_payload_parse(const char *payload, size_t *kind_len, char *op,
		     long long *id, const char **name);

/* Every pg kind's object starts with this: its row in ipcfs.objects. */
struct pg_obj {
	struct ipc_obj obj;
	long long id;
};

/*
 * Register a kind's registry under its directory name (kinds' init): its
 * objects are woken and retired by the notifications naming KIND. A change
 * retries an object's waiters in order until one still blocks (any reader
 * of a queue will do), or, with `broadcast`, all of them (every reader of a
 * topic gets every message).
 */
void pg_kind_register(const char *kind, struct ipc_registry *reg,
		      bool broadcast);
/*
 * A registry's open: a new object of `size` bytes (a struct starting with
 * struct pg_obj, zeroed) for NAME of KIND, with its id; -ENOENT if none.
 */
int pg_obj_open(const char *kind, const char *name, size_t size,
		struct ipc_obj **o);
/* Free an object pg_obj_open() made (a registry's free). */
void pg_obj_free(struct ipc_obj *o);

/* What every kind does alike, by ipcfs.list, stat, chmod, chown, unlink. */
int pg_list(const char *kind, int (*fill)(void *ctx, const char *name),
	    void *ctx);
int pg_stat(const char *kind, const char *name, struct stat *st);
int pg_chmod(const char *kind, const char *name, mode_t mode);
int pg_chown(const char *kind, const char *name, uid_t uid, gid_t gid);
/* Unlink NAME and retire its object in reg, if reg has it open. */
int pg_remove(const char *kind, struct ipc_registry *reg, const char *name);

/*
 * What every kind of the engine does alike, by its directory name KIND
 * (its objects are rows of ipcfs.objects): PG_KIND_COMMON(pfx, KIND,
 * broadcast) defines the registry pfx_objs of the objects this mount's
 * files have open and the ops pfx_init, _fini, _list, _remove, _stat,
 * _chmod and _chown; PG_KIND_OPS(pfx) puts them in the kind's table.
 */
#define PG_KIND_COMMON(pfx, KIND, broadcast)                                   \
	static int pfx##_obj_open(const char *name, struct ipc_obj **o)        \
	{                                                                      \
		return pg_obj_open(KIND, name, sizeof(struct pg_obj), o);      \
	}                                                                      \
	static struct ipc_registry pfx##_objs =                                \
		IPC_REGISTRY_INIT(pfx##_obj_open, NULL, pg_obj_free);          \
	static int pfx##_init(void)                                            \
	{                                                                      \
		pg_kind_register(KIND, &pfx##_objs, broadcast);                \
		return 0;                                                      \
	}                                                                      \
	static void pfx##_fini(void)                                           \
	{                                                                      \
		ipc_obj_clear(&pfx##_objs);                                    \
	}                                                                      \
	static int pfx##_list(int (*fill)(void *ctx, const char *name),        \
			      void *ctx)                                       \
	{                                                                      \
		return pg_list(KIND, fill, ctx);                               \
	}                                                                      \
	static int pfx##_remove(const char *name)                              \
	{                                                                      \
		return pg_remove(KIND, &pfx##_objs, name);                     \
	}                                                                      \
	static int pfx##_stat(const char *name, struct stat *st)               \
	{                                                                      \
		return pg_stat(KIND, name, st);                                \
	}                                                                      \
	static int pfx##_chmod(const char *name, mode_t mode)                  \
	{                                                                      \
		return pg_chmod(KIND, name, mode);                             \
	}                                                                      \
	static int pfx##_chown(const char *name, uid_t uid, gid_t gid)         \
	{                                                                      \
		return pg_chown(KIND, name, uid, gid);                         \
	}

#define PG_KIND_OPS(pfx)                                                       \
	.init = pfx##_init, .fini = pfx##_fini, .list = pfx##_list,            \
	.remove = pfx##_remove, .stat = pfx##_stat, .chmod = pfx##_chmod,      \
	.chown = pfx##_chown

/* -o pg_timeout: seconds a query may take (the engine's options). */
extern long pg_timeout;
extern const struct ipc_option pg_options[];
/* Connect, make or check the schema, LISTEN; and say goodbye. */
int pg_init(void);
void pg_fini(void);

#endif /* IPCFS_PG_H */

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * obj.c - what every kind of the PostgreSQL engine does alike with its
 * objects, which are rows of ipcfs.objects (kind, name, owner, mode,
 * times): open one into the registry with its id, list, stat, chmod, chown
 * and remove by the schema's generic functions. pg.h's PG_KIND_COMMON
 * turns them into each kind's ops.
 */
#include <errno.h>
#include <stdlib.h>

#include "pg.h"

int pg_obj_open(const char *kind, const char *name, size_t size,
		struct ipc_obj **o)
{
	const char *vals[] = { kind, name };
	struct pg_obj *p;
	PGresult *r;
	int err;

	r = pg_query("SELECT ipcfs.id($1, $2)", 2, vals, NULL, &err);
	if (!r)
		return err;
	p = calloc(1, size);
	if (!p || ipc_obj_init(&p->obj, name, -1) < 0) {
		free(p);
		PQclear(r);
		return -ENOMEM;
	}
	p->id = pg_int(r, 0, 0);
	PQclear(r);
	*o = &p->obj;
	return 0;
}

void pg_obj_free(struct ipc_obj *o)
{
	free(o);
}

int pg_list(const char *kind, int (*fill)(void *ctx, const char *name),
	    void *ctx)
{
	const char *vals[] = { kind };
	PGresult *r;
	int err, i, ret = 0;

	r = pg_query("SELECT ipcfs.list($1)", 1, vals, NULL, &err);
	if (!r)
		return err;
	for (i = 0; i < PQntuples(r) && ret == 0; i++)
		ret = fill(ctx, PQgetvalue(r, i, 0));
	PQclear(r);
	return ret;
}

static struct timespec pg_time(double t)
{
	struct timespec ts = { .tv_sec = (time_t)t };

	ts.tv_nsec = (long)((t - ts.tv_sec) * 1e9);
	return ts;
}

int pg_stat(const char *kind, const char *name, struct stat *st)
{
	const char *vals[] = { kind, name };
	PGresult *r;
	int err;

	r = pg_query("SELECT * FROM ipcfs.stat($1, $2)", 2, vals, NULL, &err);
	if (!r)
		return err;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return -ENOENT;
	}
	st->st_uid = pg_int(r, 0, 0);
	st->st_gid = pg_int(r, 0, 1);
	st->st_mode = (st->st_mode & S_IFMT) | (pg_int(r, 0, 2) & 07777);
	st->st_atim = pg_time(pg_float(r, 0, 3));
	st->st_mtim = pg_time(pg_float(r, 0, 4));
	st->st_ctim = pg_time(pg_float(r, 0, 5));
	PQclear(r);
	return 0;
}

int pg_chmod(const char *kind, const char *name, mode_t mode)
{
	char m[24];
	const char *vals[] = { kind, name, PG_NUM(m, mode & 07777) };

	return pg_exec("SELECT ipcfs.chmod($1, $2, $3)", 3, vals, NULL);
}

int pg_chown(const char *kind, const char *name, uid_t uid, gid_t gid)
{
	char u[24], g[24];
	const char *vals[] = { kind, name, PG_NUM(u, (int)uid),
			       PG_NUM(g, (int)gid) };

	return pg_exec("SELECT ipcfs.chown($1, $2, $3, $4)", 4, vals, NULL);
}

int pg_remove(const char *kind, struct ipc_registry *reg, const char *name)
{
	const char *vals[] = { kind, name };
	struct ipc_obj *o;
	int ret;

	ret = pg_exec("SELECT ipcfs.unlink($1, $2)", 2, vals, NULL);
	if (ret == 0 && (o = ipc_obj_find(reg, name))) {
		ipc_obj_remove(o);
		ipc_obj_put(o);
	}
	return ret;
}

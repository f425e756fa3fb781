// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * engine.c - the PostgreSQL engine: the same tree in a database that every
 * host's mount connects to (DESIGN §6). Its kinds are one KIND line each
 * in pg.def; conn.c is what they share.
 *
 *   $ PGHOST=db1 ipcfs -o engine=postgresql /mnt/ipc
 */
#include "pg.h"

/* The kinds, one KIND line each in pg.def. */
#define KIND(file, symbol) extern const struct ipc_kind symbol;
#include "pg.def"
#undef KIND

#define KIND(file, symbol) &symbol,
static const struct ipc_kind *const pg_kind_table[] = {
#include "pg.def"
	NULL,
};
#undef KIND

const struct ipc_engine pg_engine = {
	.name = "postgresql",
	.kinds = pg_kind_table,
	.init = pg_init,
	.fini = pg_fini,
	.options = pg_options,
};

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * local.c - the local engine: the kinds of this host's IPC, one line each in
 * local.def, served from this daemon's IPC namespace. It needs nothing set
 * up beyond what each kind sets up itself.
 *
 *   $ ipcfs -o engine=local /mnt/ipc     # the default
 *
 * A build may add kinds of its own with -DIPCFS_EXTRA_KINDS="file.def", a
 * file of the same KIND() lines: the test daemon adds tests/kind/ that way.
 */
#include "ipc.h"

#define KIND(file, symbol) extern const struct ipc_kind symbol;
#include "local.def"
#ifdef IPCFS_EXTRA_KINDS
#include IPCFS_EXTRA_KINDS
#endif
#undef KIND

#define KIND(file, symbol) &symbol,
static const struct ipc_kind *const local_kinds[] = {
#include "local.def"
#ifdef IPCFS_EXTRA_KINDS
#include IPCFS_EXTRA_KINDS
#endif
	NULL,
};
#undef KIND

const struct ipc_engine local_engine = {
	.name = "local",
	.kinds = local_kinds,
};

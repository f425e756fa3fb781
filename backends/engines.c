// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * engines.c - the engines -o engine=NAME chooses from, the default first.
 * Adding an engine is its table of kinds (as local.c) and one line here.
 */
#include "ipc.h"

/* clang-format off */
const struct ipc_engine *const ipc_engines[] = {
	&local_engine,
	&pg_engine,
	NULL,
};
/* clang-format on */

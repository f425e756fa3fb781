// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kinds.c - the kinds of IPC object the tree offers, in the order the root
 * lists them. Adding a kind is one file in backends/ and one line here.
 */
#include "ipc.h"

extern const struct ipc_kind mqueue_kind;
extern const struct ipc_kind channel_kind;
extern const struct ipc_kind segment_kind;
extern const struct ipc_kind semaphore_kind;

/* One line per kind. */
/* clang-format off */
const struct ipc_kind *const ipc_kinds[] = {
	&mqueue_kind,
	&channel_kind,
	&segment_kind,
	&semaphore_kind,
	NULL,
};
/* clang-format on */

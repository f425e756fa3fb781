/* SPDX-License-Identifier: GPL-2.0-or-later */
/* holds.h - the journal of held semaphore units (holds.c), for sem.c. */
#ifndef IPCFS_HOLDS_H
#define IPCFS_HOLDS_H

#include <sys/types.h>

void holds_replay(void);
int holds_pin(const char *name, ino_t ino);
void holds_unpin(int slot);
void holds_add(int slot, int delta);
void holds_fini(void);

#endif /* IPCFS_HOLDS_H */

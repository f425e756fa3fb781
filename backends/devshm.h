/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * devshm.h - the files of /dev/shm, reached without following links (see
 * devshm.c). FILE arguments are names in /dev/shm; NAME arguments POSIX
 * names ("/x").
 */
#ifndef IPCFS_DEVSHM_H
#define IPCFS_DEVSHM_H

#include <limits.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "ipc.h"

#define DEVSHM_DIR "/dev/shm"
#define DEVSHM_SEM "sem." /* glibc keeps semaphore /NAME as sem.NAME */
#define DEVSHM_FILE_MAX (NAME_MAX + 1)

void devshm_init(void);
void devshm_fini(void);
int devshm_fd(void);
bool devshm_is_sem(const char *file);
const char *devshm_file(const char *name, bool sem, char *buf, size_t size);
int devshm_stat(const char *file, struct stat *st);
sem_t *devshm_map_sem(const char *file, struct stat *st);
void devshm_unmap_sem(sem_t *sem);
int devshm_chmod(const char *file, mode_t mode);
int devshm_chown(const char *file, uid_t uid, gid_t gid);
int devshm_list(bool sem, int (*fill)(void *ctx, const char *name), void *ctx);

/* Touches of [addr, addr + len), a mapping of a file anybody may cut. */
struct devshm_guard {
	void *addr;
	size_t len;
	volatile sig_atomic_t faulted;
};

void devshm_guard_begin(struct devshm_guard *g, void *addr, size_t len);
/* 0, or -EIO if the mapping lost its file: it is a blank page now. */
int devshm_guard_end(struct devshm_guard *g);

#endif /* IPCFS_DEVSHM_H */

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sysv.h - what the System V kinds share (backends/sysv.c): names, the
 * listing, the permissions, creation and removal of message queues,
 * segments and semaphore sets alike (svipc(7)).
 *
 * An object's name is its directory's: "0x0000162e", the key as ipcs(1)
 * prints it, or "id.N" for one made with IPC_PRIVATE (N its kernel id).
 * No other spelling names an object, so a directory has one name only.
 */
#ifndef IPCFS_SYSV_H
#define IPCFS_SYSV_H

#include <stdbool.h>
#include <sys/ipc.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "ipc.h"

/* "id.2147483647": the longest name */
#define SYSV_NAME_MAX 13

/* What IPC_STAT says of any of the three, as sysv.c needs it. */
struct sysv_perm {
	key_t key;
	uid_t uid, gid; /* the owner's (IPC_SET changes them) */
	mode_t mode;	/* the nine permission bits */
	time_t atime, mtime, ctime;
};

/*
 * One System V type: its calls, and where the kernel lists its objects.
 * make(key, flags, arg) is msgget/shmget/semget with what the kind adds
 * (a size, nsems) and sets up (a value); it runs in the caller's shoes
 * (ipc_as_caller), so it makes system calls only.
 */
struct sysv_type {
	const char *proc; /* "/proc/sysvipc/msg" */
	int (*get)(key_t key);
	int (*stat)(int id, struct sysv_perm *p);
	int (*set)(int id, uid_t uid, gid_t gid, mode_t mode);
	int (*rmid)(int id);
};

extern const struct sysv_type sysv_msg, sysv_shm, sysv_sem;

/* The kinds' name_in and name_out (ipc.h): one rule for all three. */
int sysv_name_in(const char *dirname, char *obj, size_t size);
int sysv_name_out(const char *obj, char *dirname, size_t size);

/* Is NAME a key (not "id.N")? *key is it. */
bool sysv_key_of(const char *name, key_t *key);

/* The id of object NAME now, or -ENOENT (-EINVAL for a malformed name). */
int sysv_id(const struct sysv_type *t, const char *name);

/*
 * The kinds' list, stat, chmod, chown and remove, given their type. A list
 * also retires from reg (if any) the objects removed natively meanwhile.
 */
int sysv_list(const struct sysv_type *t, struct ipc_registry *reg,
	      int (*fill)(void *ctx, const char *name), void *ctx);
int sysv_stat(const struct sysv_type *t, const char *name, struct stat *st);
int sysv_chmod(const struct sysv_type *t, const char *name, mode_t mode);
int sysv_chown(const struct sysv_type *t, const char *name, uid_t uid,
	       gid_t gid);
/*
 * IPC_RMID, then ipc_obj_gone(reg, name) so the tree's waiters end; reg
 * NULL: the kind keeps no objects (sysv/shm: nothing waits).
 */
int sysv_remove(const struct sysv_type *t, struct ipc_registry *reg,
		const char *name);

/*
 * What every System V kind's table holds alike, as pg.h does for the
 * PostgreSQL kinds: SYSV_KIND_COMMON(pfx, type, reg) defines pfx_list,
 * _remove, _stat, _chmod and _chown on sysv.c's functions for type (reg:
 * the kind's registry, or NULL); SYSV_KIND_OPS(pfx) puts them, the names
 * and the rest of what every System V kind says in the kind's table.
 */
#define SYSV_KIND_COMMON(pfx, type, reg)                                       \
	static int pfx##_list(int (*fill)(void *ctx, const char *name),        \
			      void *ctx)                                       \
	{                                                                      \
		return sysv_list(&type, reg, fill, ctx);                       \
	}                                                                      \
	static int pfx##_remove(const char *name)                              \
	{                                                                      \
		return sysv_remove(&type, reg, name);                          \
	}                                                                      \
	static int pfx##_stat(const char *name, struct stat *st)               \
	{                                                                      \
		return sysv_stat(&type, name, st);                             \
	}                                                                      \
	static int pfx##_chmod(const char *name, mode_t mode)                  \
	{                                                                      \
		return sysv_chmod(&type, name, mode);                          \
	}                                                                      \
	static int pfx##_chown(const char *name, uid_t uid, gid_t gid)         \
	{                                                                      \
		return sysv_chown(&type, name, uid, gid);                      \
	}

/* Keys are global to the IPC namespace: no -o prefix= for them. */
#define SYSV_KIND_OPS(pfx)                                                     \
	.name_max = SYSV_NAME_MAX, .name_in = sysv_name_in,                    \
	.name_out = sysv_name_out, .prefixed = false, .list = pfx##_list,      \
	.remove = pfx##_remove, .stat = pfx##_stat, .chmod = pfx##_chmod,      \
	.chown = pfx##_chown

/*
 * mkdir: make(key, IPC_CREAT | IPC_EXCL | mode, arg) as the caller, so the
 * kernel owns and checks it as theirs. "id.N" and key 0 are -EINVAL.
 */
int sysv_create(const char *name, mode_t mode, const struct ipc_caller *caller,
		int (*make)(key_t key, int flags, void *arg), void *arg);

/*
 * What each kind's object starts with: the common part and the kernel id it
 * was opened at. A registry of sysv objects is stale when NAME's id is no
 * longer o's (removed, or made again under the same key).
 */
struct sysv_obj {
	struct ipc_obj obj;
	const struct sysv_type *type;
	int id;
};

/* Fill in a new object for NAME (its id looked up now): 0 or -errno. */
int sysv_obj_init(struct sysv_obj *s, const struct sysv_type *t,
		  const char *name);
bool sysv_obj_stale(struct ipc_obj *o);
/*
 * A call on s failed with err: was it because s was removed (EIDRM, or
 * EINVAL for an id that no longer exists)? Then s is retired from the
 * tree, its waiters woken, and true returned.
 */
bool sysv_obj_vanished(struct sysv_obj *s, int err);

#endif /* IPCFS_SYSV_H */

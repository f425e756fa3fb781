// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sysv.c - what sysv/msg, sysv/shm and sysv/sem do alike (sysv.h).
 *
 * The three System V types differ in their calls and their IPC_STAT
 * structures only, so each is a small table of calls (struct sysv_type)
 * and everything else is here once: the names, the listing from
 * /proc/sysvipc, stat, chmod and chown through IPC_STAT and IPC_SET,
 * creation in the caller's shoes, removal, and the objects' staleness.
 *
 * Keys are global to the IPC namespace: the mount's -o prefix= does not
 * apply to them (there is no name to put it in front of).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include "sysv.h"

#define SYSV_KEY_DIGITS 8 /* "0x" and 8 hex digits, as ipcs prints */
#define SYSV_ID_PREFIX "id."

static int sysv_msg_get(key_t key)
{
	return msgget(key, 0);
}

static void sysv_perm_of(const struct ipc_perm *ip, struct sysv_perm *p)
{
	p->key = ip->__key;
	p->uid = ip->uid;
	p->gid = ip->gid;
	p->mode = ip->mode & 0777;
}

static int sysv_msg_stat(int id, struct sysv_perm *p)
{
	struct msqid_ds ds;

	if (msgctl(id, IPC_STAT, &ds) < 0)
		return -errno;
	sysv_perm_of(&ds.msg_perm, p);
	p->atime = ds.msg_rtime;
	p->mtime = ds.msg_stime;
	p->ctime = ds.msg_ctime;
	return 0;
}

/* IPC_SET sets uid, gid and mode together: read them, change some. */
static int sysv_msg_set(int id, uid_t uid, gid_t gid, mode_t mode)
{
	struct msqid_ds ds;

	if (msgctl(id, IPC_STAT, &ds) < 0)
		return -errno;
	ds.msg_perm.uid = uid;
	ds.msg_perm.gid = gid;
	ds.msg_perm.mode = mode;
	return msgctl(id, IPC_SET, &ds) < 0 ? -errno : 0;
}

static int sysv_msg_rmid(int id)
{
	return msgctl(id, IPC_RMID, NULL) < 0 ? -errno : 0;
}

const struct sysv_type sysv_msg = {
	.proc = "/proc/sysvipc/msg",
	.get = sysv_msg_get,
	.stat = sysv_msg_stat,
	.set = sysv_msg_set,
	.rmid = sysv_msg_rmid,
};

static int sysv_shm_get(key_t key)
{
	return shmget(key, 0, 0);
}

static int sysv_shm_stat(int id, struct sysv_perm *p)
{
	struct shmid_ds ds;

	if (shmctl(id, IPC_STAT, &ds) < 0)
		return -errno;
	sysv_perm_of(&ds.shm_perm, p);
	p->atime = ds.shm_atime;
	p->mtime = ds.shm_dtime;
	p->ctime = ds.shm_ctime;
	return 0;
}

static int sysv_shm_set(int id, uid_t uid, gid_t gid, mode_t mode)
{
	struct shmid_ds ds;

	if (shmctl(id, IPC_STAT, &ds) < 0)
		return -errno;
	ds.shm_perm.uid = uid;
	ds.shm_perm.gid = gid;
	ds.shm_perm.mode = mode;
	return shmctl(id, IPC_SET, &ds) < 0 ? -errno : 0;
}

static int sysv_shm_rmid(int id)
{
	return shmctl(id, IPC_RMID, NULL) < 0 ? -errno : 0;
}

const struct sysv_type sysv_shm = {
	.proc = "/proc/sysvipc/shm",
	.get = sysv_shm_get,
	.stat = sysv_shm_stat,
	.set = sysv_shm_set,
	.rmid = sysv_shm_rmid,
};

static int sysv_sem_get(key_t key)
{
	return semget(key, 0, 0);
}

static int sysv_sem_stat(int id, struct sysv_perm *p)
{
	struct semid_ds ds;

	if (semctl(id, 0, IPC_STAT, &ds) < 0)
		return -errno;
	sysv_perm_of(&ds.sem_perm, p);
	p->atime = ds.sem_otime;
	p->mtime = ds.sem_otime;
	p->ctime = ds.sem_ctime;
	return 0;
}

static int sysv_sem_set(int id, uid_t uid, gid_t gid, mode_t mode)
{
	struct semid_ds ds;

	if (semctl(id, 0, IPC_STAT, &ds) < 0)
		return -errno;
	ds.sem_perm.uid = uid;
	ds.sem_perm.gid = gid;
	ds.sem_perm.mode = mode;
	return semctl(id, 0, IPC_SET, &ds) < 0 ? -errno : 0;
}

static int sysv_sem_rmid(int id)
{
	return semctl(id, 0, IPC_RMID) < 0 ? -errno : 0;
}

const struct sysv_type sysv_sem = {
	.proc = "/proc/sysvipc/sem",
	.get = sysv_sem_get,
	.stat = sysv_sem_stat,
	.set = sysv_sem_set,
	.rmid = sysv_sem_rmid,
};

/* n lowercase hex digits and nothing else: *val their value. */
static bool sysv_hex(const char *s, size_t n, uint32_t *val)
{
	*val = 0;
	for (; n; n--, s++) {
		if (*s >= '0' && *s <= '9')
			*val = *val << 4 | (uint32_t)(*s - '0');
		else if (*s >= 'a' && *s <= 'f')
			*val = *val << 4 | (uint32_t)(*s - 'a' + 10);
		else
			return false;
	}
	return *s == '\0';
}

/* "id.N", N as the kernel prints an id (no sign, no leading zero): N. */
static int sysv_id_of(const char *name)
{
	const char *d = name + strlen(SYSV_ID_PREFIX);
	long n = 0;

	if (strncmp(name, SYSV_ID_PREFIX, strlen(SYSV_ID_PREFIX)) != 0 ||
	    *d < '0' || *d > '9' || (*d == '0' && d[1]))
		return -EINVAL;
	for (; *d >= '0' && *d <= '9' && n <= INT32_MAX; d++)
		n = n * 10 + (*d - '0');
	return *d || n > INT32_MAX ? -EINVAL : (int)n;
}

bool sysv_key_of(const char *name, key_t *key)
{
	uint32_t val;

	if (strncmp(name, "0x", 2) != 0 ||
	    !sysv_hex(name + 2, SYSV_KEY_DIGITS, &val))
		return false;
	*key = (key_t)val;
	return true;
}

/* Only the one spelling of each name: the one readdir shows. */
int sysv_name_in(const char *dirname, char *obj, size_t size)
{
	key_t key;

	if (strlen(dirname) > SYSV_NAME_MAX)
		return -ENAMETOOLONG;
	if ((!sysv_key_of(dirname, &key) || key == IPC_PRIVATE) &&
	    sysv_id_of(dirname) < 0)
		return -EINVAL;
	snprintf(obj, size, "%s", dirname);
	return 0;
}

int sysv_name_out(const char *obj, char *dirname, size_t size)
{
	return snprintf(dirname, size, "%s", obj) >= (int)size;
}

/* A private object by its id; a keyed one by its key, never by its id. */
int sysv_id(const struct sysv_type *t, const char *name)
{
	struct sysv_perm p;
	key_t key;
	int id;

	if (sysv_key_of(name, &key))
		return key == IPC_PRIVATE	? -ENOENT
		       : (id = t->get(key)) < 0 ? -errno
						: id;
	id = sysv_id_of(name);
	if (id < 0)
		return id;
	if (t->stat(id, &p) < 0 || p.key != IPC_PRIVATE)
		return -ENOENT;
	return id;
}

/* The name of the object of /proc/sysvipc's line: key and id come first. */
int sysv_list(const struct sysv_type *t, struct ipc_registry *reg,
	      int (*fill)(void *ctx, const char *name), void *ctx)
{
	char line[512], name[SYSV_NAME_MAX + 1];
	int key, id, ret = 0;
	FILE *f;

	if (reg)
		ipc_obj_prune(reg);
	f = fopen(t->proc, "re");
	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f)) /* the header */
		line[0] = '\0';
	while (ret == 0 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%d %d", &key, &id) != 2)
			continue;
		if (key == IPC_PRIVATE)
			snprintf(name, sizeof(name), SYSV_ID_PREFIX "%d", id);
		else
			snprintf(name, sizeof(name), "0x%08x", (uint32_t)key);
		ret = fill(ctx, name);
	}
	fclose(f);
	return ret;
}

static int sysv_perm(const struct sysv_type *t, const char *name,
		     struct sysv_perm *p, int *idp)
{
	int id = sysv_id(t, name);

	if (id < 0)
		return id == -EINVAL ? -ENOENT : id;
	if (idp)
		*idp = id;
	/* Removed between the two calls: as if it had been before. */
	return t->stat(id, p) < 0 ? -ENOENT : 0;
}

int sysv_stat(const struct sysv_type *t, const char *name, struct stat *st)
{
	struct sysv_perm p;
	int id, ret = sysv_perm(t, name, &p, &id);

	if (ret < 0)
		return ret;
	st->st_ino = (ino_t)id + 1; /* the object's identity (fs/show.c) */
	st->st_uid = p.uid;
	st->st_gid = p.gid;
	st->st_mode = p.mode;
	st->st_atim.tv_sec = p.atime;
	st->st_mtim.tv_sec = p.mtime;
	st->st_ctim.tv_sec = p.ctime;
	return 0;
}

int sysv_chmod(const struct sysv_type *t, const char *name, mode_t mode)
{
	struct sysv_perm p;
	int id, ret = sysv_perm(t, name, &p, &id);

	return ret < 0 ? ret : t->set(id, p.uid, p.gid, mode & 0777);
}

int sysv_chown(const struct sysv_type *t, const char *name, uid_t uid,
	       gid_t gid)
{
	struct sysv_perm p;
	int id, ret = sysv_perm(t, name, &p, &id);

	if (ret < 0)
		return ret;
	return t->set(id, uid == (uid_t)-1 ? p.uid : uid,
		      gid == (gid_t)-1 ? p.gid : gid, p.mode);
}

int sysv_remove(const struct sysv_type *t, struct ipc_registry *reg,
		const char *name)
{
	int id = sysv_id(t, name), ret;

	if (id < 0)
		return id == -EINVAL ? -ENOENT : id;
	ret = t->rmid(id);
	if (ret == -EINVAL || ret == -EIDRM)
		ret = -ENOENT; /* removed meanwhile by somebody else */
	if (reg)
		ipc_obj_gone(reg, name);
	return ret;
}

struct sysv_create_arg {
	key_t key;
	int flags;
	int (*make)(key_t key, int flags, void *arg);
	void *arg;
};

static int sysv_create_as(void *arg)
{
	struct sysv_create_arg *a = arg;

	return a->make(a->key, a->flags, a->arg);
}

int sysv_create(const char *name, mode_t mode, const struct ipc_caller *caller,
		int (*make)(key_t key, int flags, void *arg), void *arg)
{
	struct sysv_create_arg a = {
		.flags = IPC_CREAT | IPC_EXCL | (int)(mode & 0777),
		.make = make,
		.arg = arg,
	};

	if (!sysv_key_of(name, &a.key) || a.key == IPC_PRIVATE)
		return -EINVAL;
	return ipc_as_caller(caller, sysv_create_as, &a);
}

int sysv_obj_init(struct sysv_obj *s, const struct sysv_type *t,
		  const char *name)
{
	int id = sysv_id(t, name);

	if (id < 0)
		return id == -EINVAL ? -ENOENT : id;
	s->type = t;
	s->id = id;
	return ipc_obj_init(&s->obj, name, -1);
}

bool sysv_obj_stale(struct ipc_obj *o)
{
	struct sysv_obj *s = (struct sysv_obj *)o; /* obj comes first */

	return sysv_id(s->type, o->name) != s->id;
}

bool sysv_obj_vanished(struct sysv_obj *s, int err)
{
	struct sysv_perm p;

	if (err != -EIDRM && err != -EINVAL)
		return false;
	if (err == -EINVAL && s->type->stat(s->id, &p) == 0)
		return false; /* the call's arguments, not the object */
	ipc_obj_remove(&s->obj);
	return true;
}

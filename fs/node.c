// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * node.c - node ids and what they name.
 *
 * A node id is the address of a struct fs_node (FUSE_ROOT_ID is the root),
 * as in libfuse's passthrough_ll.c. Directories and attribute files are
 * interned in a hash table, so a path keeps its id while the kernel
 * remembers it (a shell's cwd must survive revalidation). A file flagged
 * IPC_OWN_INODE gets a node per writing open file (DESIGN §3): a lookup
 * is answered with an idle node of its path (none open, none handed out
 * to a lookup not yet followed by its open), else a new one. The kernel
 * keeps the entry, so opens one after the other share one node and one
 * inode, and look nothing up; an open for writing that would share a node
 * with another writer fails with ESTALE, on which the kernel looks the
 * path up again and gets a node, and an inode, of its own (readers share:
 * they take no inode lock). A node handed out to a thread that never
 * opened it (stat) is idle again once that thread's system call is over.
 * All nodes of one path show the same st_ino. A node lives until the
 * kernel forgets every lookup of it.
 *
 * The directories above objects are fixed at start, from the chosen
 * engine's kinds: the root, one per kind, and those a kind's path puts in
 * between ("sysv" for "sysv/msg"), which live as long as the mount.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs.h"

#define NODE_BUCKETS 4096

/* A directory of the fixed part of the tree, and where it sits. */
struct node_dir {
	struct fs_node *node;
	const struct fs_node *parent;
	const char *leaf; /* its name in parent */
	size_t leaf_len;
	struct ipc_file *files; /* a kind's: its objects' files (show.c) */
};

static pthread_mutex_t node_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fs_node *node_table[NODE_BUCKETS]; /* under node_lock */
static struct fs_node node_root;
static struct node_dir *node_dirs; /* kind directories and those above */
static size_t node_ndirs;
static struct timespec node_born; /* times of the fixed directories */

/* FNV-1a, over the kind, the name and the file: stable across mounts. */
static uint64_t node_hash(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (h ^ '/') * 0x100000001b3ULL;
}

uint64_t fs_node_ino(const struct ipc_kind *kind, const char *pname,
		     const struct ipc_file *file)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	if (!kind)
		return FUSE_ROOT_ID;
	/* The path: unique in the tree, where two kinds may share a name. */
	h = node_hash(h, kind->path ? kind->path : kind->name);
	h = node_hash(h, pname);
	if (file)
		h = node_hash(h, file->name);
	return h <= FUSE_ROOT_ID ? h + 2 : h;
}

static struct fs_node *node_new(const struct ipc_kind *kind, const char *pname,
				const struct ipc_file *file)
{
	size_t len = strlen(pname);
	struct fs_node *n = calloc(1, sizeof(*n) + len + 1);

	if (!n)
		return NULL;
	n->kind = kind;
	n->file = file;
	n->ino = fs_node_ino(kind, pname, file);
	memcpy(n->name, pname, len + 1);
	return n;
}

/* A directory above kinds: its path ("sysv") hashed apart from any kind. */
static struct fs_node *node_new_above(const char *path, size_t len)
{
	struct fs_node *n = calloc(1, sizeof(*n) + len + 1);

	if (!n)
		return NULL;
	memcpy(n->name, path, len);
	n->ino = node_hash(node_hash(0xcbf29ce484222325ULL, "/"), n->name);
	if (n->ino <= FUSE_ROOT_ID)
		n->ino += 2;
	return n;
}

static struct node_dir *node_dir_child(const struct fs_node *parent,
				       const char *leaf, size_t len)
{
	size_t i;

	for (i = 0; i < node_ndirs; i++)
		if (node_dirs[i].parent == parent &&
		    node_dirs[i].leaf_len == len &&
		    strncmp(node_dirs[i].leaf, leaf, len) == 0)
			return &node_dirs[i];
	return NULL;
}

static void node_dir_add(struct fs_node *n, const struct fs_node *parent,
			 const char *leaf, size_t len)
{
	node_dirs[node_ndirs++] = (struct node_dir){
		.node = n,
		.parent = parent,
		.leaf = leaf,
		.leaf_len = len,
	};
}

/*
 * The directories from the root down to KIND's, made where missing. A path
 * is components with one '/' between them; no directory may be both a
 * kind's and above one, nor two kinds'.
 */
static int node_dirs_add_kind(const struct ipc_kind *kind)
{
	const char *path = kind->path ? kind->path : kind->name;
	const struct fs_node *parent = &node_root;
	const char *leaf = path, *slash;
	struct node_dir *d;
	struct fs_node *n;
	size_t len;

	for (;;) {
		slash = strchr(leaf, '/');
		len = slash ? (size_t)(slash - leaf) : strlen(leaf);
		if (len == 0)
			goto out_bad;
		d = node_dir_child(parent, leaf, len);
		if (!slash)
			break;
		if (d && d->node->kind)
			goto out_bad;
		if (!d) {
			n = node_new_above(path, slash - path);
			if (!n)
				return -ENOMEM;
			/* The leaf is in the node: path may be the kind's. */
			node_dir_add(n, parent, n->name + (leaf - path), len);
			d = &node_dirs[node_ndirs - 1];
		}
		parent = d->node;
		leaf = slash + 1;
	}
	if (d)
		goto out_bad;
	n = node_new(kind, "", NULL);
	if (!n)
		return -ENOMEM;
	node_dir_add(n, parent, leaf, len);
	node_dirs[node_ndirs - 1].files = fs_show_files(kind);
	return node_dirs[node_ndirs - 1].files ? 0 : -ENOMEM;
out_bad:
	ipc_log("kind %s: bad path '%s'", kind->name, path);
	return -EINVAL;
}

/* The fixed directories, from the chosen engine's kinds. */
int fs_node_init(void)
{
	const struct ipc_kind *const *k;
	size_t max = 0;
	const char *c;
	int ret = 0;

	node_root.ino = FUSE_ROOT_ID;
	clock_gettime(CLOCK_REALTIME, &node_born);
	/* At most one directory per component of every path. */
	for (k = fs_conf.engine->kinds; *k; k++)
		for (max++, c = (*k)->path; c && *c; c++)
			max += *c == '/';
	node_dirs = calloc(max + 1, sizeof(*node_dirs));
	if (!node_dirs)
		return -ENOMEM;
	for (k = fs_conf.engine->kinds; *k && ret == 0; k++)
		ret = node_dirs_add_kind(*k);
	return ret;
}

void fs_node_fini(void)
{
	struct fs_node *n, *next;
	size_t i;

	for (i = 0; i < NODE_BUCKETS; i++) {
		for (n = node_table[i]; n; n = next) {
			next = n->hnext;
			free(n);
		}
		node_table[i] = NULL;
	}
	for (i = 0; i < node_ndirs; i++) {
		free(node_dirs[i].node);
		free(node_dirs[i].files);
	}
	free(node_dirs);
	node_dirs = NULL;
	node_ndirs = 0;
}

struct fs_node *fs_node_get(fuse_ino_t id)
{
	if (id == FUSE_ROOT_ID)
		return &node_root;
	return (struct fs_node *)(uintptr_t)id;
}

fuse_ino_t fs_node_id(const struct fs_node *n)
{
	if (n == &node_root)
		return FUSE_ROOT_ID;
	return (fuse_ino_t)(uintptr_t)n;
}

struct fs_node *fs_node_kind(const struct ipc_kind *kind)
{
	size_t i;

	for (i = 0; i < node_ndirs; i++)
		if (node_dirs[i].node->kind == kind)
			return node_dirs[i].node;
	return NULL;
}

const struct ipc_file *fs_node_files(const struct ipc_kind *kind)
{
	size_t i;

	for (i = 0; i < node_ndirs; i++)
		if (node_dirs[i].node->kind == kind)
			return node_dirs[i].files;
	return NULL;
}

/* The directory NAME in DIR, the root or one above kinds; NULL: none. */
struct fs_node *fs_node_child(const struct fs_node *dir, const char *name)
{
	struct node_dir *d = node_dir_child(dir, name, strlen(name));

	return d ? d->node : NULL;
}

/* Calls fill for each directory in DIR, in the kinds' order. */
int fs_node_children(const struct fs_node *dir,
		     int (*fill)(void *ctx, const char *name,
				 const struct fs_node *n),
		     void *ctx)
{
	char leaf[NAME_MAX + 1];
	size_t i;
	int ret = 0;

	for (i = 0; i < node_ndirs && ret == 0; i++) {
		if (node_dirs[i].parent != dir)
			continue;
		snprintf(leaf, sizeof(leaf), "%.*s", (int)node_dirs[i].leaf_len,
			 node_dirs[i].leaf);
		ret = fill(ctx, leaf, node_dirs[i].node);
	}
	return ret;
}

/*
 * A thread's id for hand-outs and refusals: -1 for one the kernel could not
 * name (0: in another pid namespace).
 */
static pid_t node_tid(pid_t who)
{
	return who ? who : -1;
}

/*
 * Has the thread a node was handed to ended its call? Yes if it asks again
 * (a thread makes one call at a time), or if it is gone (`stat data` is a
 * process of its own). -1 is a thread the kernel could not name.
 */
static bool node_call_over(pid_t handed_to, pid_t who)
{
	return handed_to == who ||
	       (handed_to > 0 && kill(handed_to, 0) < 0 && errno == ESRCH);
}

/*
 * The last open each thread was refused (by its id, modulo): one more open
 * of that node that comes next from that thread, with no lookup between,
 * is the kernel's retry of a link to an open file (under node_lock).
 */
#define NODE_REFUSALS 256
struct node_refusal {
	pid_t who;
	const struct fs_node *n;
};
static struct node_refusal node_refusals[NODE_REFUSALS];

static struct node_refusal *node_refusal(pid_t who)
{
	return &node_refusals[(unsigned int)who % NODE_REFUSALS];
}

/* A lookup by WHO came between: its next open retries no refused one. */
static void node_looked_up(pid_t who)
{
	struct node_refusal *r = node_refusal(who);

	if (r->who == who)
		r->n = NULL;
}

/* A node of its path, not retired, a lookup for thread WHO may answer with. */
static bool node_findable(const struct fs_node *n, pid_t who)
{
	if (!n->own)
		return true;
	/* Idle: not open, and handed out to nobody, or to a call now over. */
	return !n->opens &&
	       (!n->handed_to || node_call_over(n->handed_to, who));
}

/*
 * How many nodes of its own path a lookup looks at for an idle one. A node
 * that goes idle moves to the front of its bucket, new ones are put there,
 * so an idle one is among the first; behind them are the busy ones, which
 * may be thousands (as many as parked readers): never walked.
 */
#define NODE_IDLE_LOOKS 4

/* The findable node of (kind, pname, file), or NULL (under node_lock). */
static struct fs_node *node_find(const struct ipc_kind *kind, const char *pname,
				 const struct ipc_file *file, pid_t who)
{
	uint64_t ino = fs_node_ino(kind, pname, file);
	struct fs_node *n;
	int looks = 0;

	for (n = node_table[ino % NODE_BUCKETS]; n; n = n->hnext) {
		if (n->kind != kind || n->file != file || n->retired ||
		    strcmp(n->name, pname) != 0)
			continue;
		if (node_findable(n, who))
			break;
		if (n->own && ++looks == NODE_IDLE_LOOKS)
			return NULL;
	}
	return n;
}

/* Put n first in its bucket (under node_lock). */
static void node_to_front(struct fs_node *n)
{
	struct fs_node **bucket = &node_table[n->ino % NODE_BUCKETS];

	if (*bucket == n)
		return;
	*n->hprev = n->hnext;
	if (n->hnext)
		n->hnext->hprev = n->hprev;
	n->hnext = *bucket;
	n->hprev = bucket;
	(*bucket)->hprev = &n->hnext;
	*bucket = n;
}

/*
 * One more lookup of the node for (kind, pname, file), by thread WHO: the
 * interned one, for IPC_OWN_INODE files an idle one, else a new one. Kind
 * directories are static.
 */
struct fs_node *fs_node_hold(const struct ipc_kind *kind, const char *pname,
			     const struct ipc_file *file, pid_t who)
{
	uint64_t ino = fs_node_ino(kind, pname, file);
	struct fs_node *n, **bucket = &node_table[ino % NODE_BUCKETS];

	if (!*pname)
		return fs_node_kind(kind);
	pthread_mutex_lock(&node_lock);
	node_looked_up(node_tid(who));
	n = node_find(kind, pname, file, who);
	if (!n) {
		n = node_new(kind, pname, file);
		if (n) {
			n->own = file && file->ops &&
				 (file->ops->flags & IPC_OWN_INODE);
			n->hnext = *bucket;
			n->hprev = bucket;
			if (*bucket)
				(*bucket)->hprev = &n->hnext;
			*bucket = n;
		}
	}
	if (n) {
		n->nlookup++;
		if (n->own)
			n->handed_to = node_tid(who);
	}
	pthread_mutex_unlock(&node_lock);
	return n;
}

/*
 * The object PNAME was removed by rmdir. The kernel has marked its
 * directory's inode dead; a new object of that name must get new node ids,
 * or the kernel would reuse the dead inode (a directory nothing can list).
 * The old nodes live on, unfindable, until the kernel forgets them.
 */
static void node_retire(const struct ipc_kind *kind, const char *pname,
			const struct ipc_file *file) /* under node_lock */
{
	uint64_t ino = fs_node_ino(kind, pname, file);
	struct fs_node *n;

	for (n = node_table[ino % NODE_BUCKETS]; n; n = n->hnext)
		if (n->kind == kind && n->file == file &&
		    strcmp(n->name, pname) == 0)
			n->retired = true;
}

void fs_node_retire(const struct ipc_kind *kind, const char *pname)
{
	const struct ipc_file *f;

	pthread_mutex_lock(&node_lock);
	node_retire(kind, pname, NULL);
	for (f = fs_node_files(kind); f->name; f++)
		node_retire(kind, pname, f);
	pthread_mutex_unlock(&node_lock);
}

/*
 * Would an open for writing by thread WHO share node N's inode with a
 * writer that may park, holding the inode's lock (DESIGN §3)? Yes if a
 * file is open on it for writing, or a lookup handed it to another thread,
 * whose open comes next (under node_lock).
 */
static bool node_write_shared(const struct fs_node *n, pid_t who)
{
	return n->writers ||
	       (n->handed_to && !node_call_over(n->handed_to, who));
}

/*
 * An open of node N by thread WHO. A writer must not share an own node's
 * inode with another: the open fails with ESTALE, and the kernel walks the
 * path once more, looking every component up (LOOKUP_REVAL), which gives
 * it an idle node, handed to it. A retry that comes back to the same node
 * looked nothing up: the path was a link to an open file (/dev/stdout,
 * /proc/self/fd/N), whose inode it must share; so it may. Readers take no
 * lock: they share. An open file keeps a lookup of its node, which its
 * release may need after the kernel forgot the node.
 */
int fs_node_open(struct fs_node *n, pid_t who, bool writing)
{
	struct node_refusal *r;
	int ret = 0;

	who = node_tid(who);
	pthread_mutex_lock(&node_lock);
	r = node_refusal(who);
	if (n->own && writing && node_write_shared(n, who) &&
	    !(r->who == who && r->n == n)) {
		*r = (struct node_refusal){ who, n };
		ret = -ESTALE;
	} else {
		n->nlookup++;
		if (n->own) {
			n->opens++;
			n->writers += writing;
			if (node_call_over(n->handed_to, who))
				n->handed_to = 0;
		}
		if (r->who == who)
			*r = (struct node_refusal){ 0, NULL };
	}
	pthread_mutex_unlock(&node_lock);
	return ret;
}

void fs_node_close(struct fs_node *n, bool writing)
{
	pthread_mutex_lock(&node_lock);
	if (n->own) {
		n->writers -= writing;
		if (--n->opens == 0 && !n->retired)
			node_to_front(n);
	}
	pthread_mutex_unlock(&node_lock);
	fs_node_forget(n, 1);
}

/*
 * A write parked on own node N and holds its inode's lock in the kernel:
 * have the kernel forget the entry that leads there, so that whoever uses
 * the path next (an open, touch, truncate) looks it up and gets a node of
 * its own instead of an inode whose lock it would wait for, unkillable.
 */
void fs_node_parked(const struct fs_node *n)
{
	struct fs_node *dir;
	fuse_ino_t id = 0;

	pthread_mutex_lock(&node_lock);
	dir = node_find(n->kind, n->name, NULL, 0);
	if (dir)
		id = fs_node_id(dir);
	pthread_mutex_unlock(&node_lock);
	if (id)
		fs_notify_forget_name(id, n->file->name);
}

void fs_node_ref(struct fs_node *n)
{
	if (!n->kind || !*n->name)
		return; /* a fixed directory */
	pthread_mutex_lock(&node_lock);
	n->nlookup++;
	pthread_mutex_unlock(&node_lock);
}

void fs_node_forget(struct fs_node *n, uint64_t nlookup)
{
	if (!n->kind || !*n->name)
		return; /* a fixed directory */
	pthread_mutex_lock(&node_lock);
	n->nlookup -= nlookup;
	if (n->nlookup == 0) {
		*n->hprev = n->hnext;
		if (n->hnext)
			n->hnext->hprev = n->hprev;
		free(n);
	}
	pthread_mutex_unlock(&node_lock);
}

/*
 * The attributes of a node. Object directories and files show the object's
 * owner, group, mode and times; a directory adds x wherever the object has
 * r, so whoever may read the object may enter its directory.
 */
int fs_node_stat(const struct fs_node *n, struct stat *st)
{
	struct stat obj;
	int ret;

	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_atim = st->st_mtim = st->st_ctim = node_born;
	if (!n->kind) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (!*n->name) {
		/* Like /dev/mqueue and /dev/shm: anyone may create, sticky. */
		st->st_mode = S_IFDIR | 01777;
		st->st_nlink = 2;
		return 0;
	}
	memset(&obj, 0, sizeof(obj));
	ret = n->kind->stat(n->name, &obj);
	if (ret < 0)
		return ret;
	st->st_uid = obj.st_uid;
	st->st_gid = obj.st_gid;
	st->st_atim = obj.st_atim;
	st->st_mtim = obj.st_mtim;
	st->st_ctim = obj.st_ctim;
	if (!n->file) {
		st->st_mode = S_IFDIR | (obj.st_mode & 07777) |
			      ((obj.st_mode & 0444) >> 2);
		st->st_nlink = 2;
		return 0;
	}
	st->st_mode = S_IFREG | (obj.st_mode & n->file->mode);
	st->st_nlink = 1;
	if (n->file->ops && n->file->ops->size) {
		ret = n->file->ops->size(n->name, &st->st_size);
		if (ret < 0)
			return ret;
	}
	return 0;
}

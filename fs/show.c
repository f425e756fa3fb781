// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * show.c - who waits and who holds: files fs/ adds to every kind's objects.
 *
 * Every request that parks is listed here from its first park to its
 * reply, and every open file whose open took a unit (a semaphore's hold)
 * from then to its release; `waiters` and `holders` read those lists, so
 * no kind writes code for them (DESIGN §4). Lists keep arrival order: a
 * file shows the oldest first. Pollers never park, so they are not waiters.
 *
 *   $ cat queues/jobs/waiters
 *   4242 data
 *   $ cat sem/lock/holders
 *   4245
 *
 * An entry keeps a lookup of its open file's node (fs_node_ref), so the
 * object's name it matches on lives as long as the entry, and matches by
 * the object directory's inode number first (a hash: cheap), then kind and
 * name. A holder also remembers which object it holds (the kind's st_ino):
 * a semaphore removed and made again under the same name has none of the
 * old one's holders. The PID shown is the process's: FUSE gives a thread's.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

/*
 * The files. fs_show_files() copies these entries into each kind's table;
 * the name pointers survive the copy, and are how show_list_of() knows
 * them (fs_kind_check() refuses a kind's own file of either name).
 */
static const struct ipc_file show_waiters = { .name = "waiters", .mode = 0444 };
static const struct ipc_file show_holders = { .name = "holders", .mode = 0444 };

static pthread_mutex_t show_lock = PTHREAD_MUTEX_INITIALIZER;
/* head.next: the oldest */
static struct fs_shown show_waiting = { .next = &show_waiting,
					.prev = &show_waiting };
static struct fs_shown show_holding = { .next = &show_holding,
					.prev = &show_holding };

/*
 * Does kind have a file whose open takes something (a hold), and no
 * holders of its own? A kind whose holders this mount cannot list alone
 * (the PostgreSQL engine's: other hosts hold too) has its own.
 */
static bool show_kind_holds(const struct ipc_kind *kind)
{
	const struct ipc_file *f;
	bool holds = false;

	for (f = kind->files; f->name; f++) {
		if (strcmp(f->name, show_holders.name) == 0)
			return false;
		if (f->ops && f->ops->acquire)
			holds = true;
	}
	return holds;
}

/*
 * The files of kind's object directories: its own table, then waiters, and
 * holders where an open can hold. Free the result.
 */
struct ipc_file *fs_show_files(const struct ipc_kind *kind)
{
	struct ipc_file *all;
	size_t n = 0;

	while (kind->files[n].name)
		n++;
	all = calloc(n + 3, sizeof(*all));
	if (!all)
		return NULL;
	memcpy(all, kind->files, n * sizeof(*all));
	all[n++] = show_waiters;
	if (show_kind_holds(kind))
		all[n++] = show_holders;
	return all;
}

/*
 * Which list a file of fs_show_files() shows, or NULL: the kind's own. The
 * linker may merge a kind's "holders" with ours, so the name's pointer
 * alone does not tell: a kind's own has a getter (fs_show_reserved).
 */
static struct fs_shown *show_list_of(const struct ipc_file *file)
{
	if (file->get || file->ops)
		return NULL;
	if (file->name == show_waiters.name)
		return &show_waiting;
	if (file->name == show_holders.name)
		return &show_holding;
	return NULL;
}

bool fs_show_is(const struct ipc_file *file)
{
	return show_list_of(file) != NULL;
}

/*
 * A kind's own file may not take the name of one of these, but for a
 * holders attribute file, which then replaces fs/'s (show_kind_holds).
 */
bool fs_show_reserved(const struct ipc_file *file)
{
	if (strcmp(file->name, show_holders.name) == 0)
		return file->ops || !file->get || (file->mode & 0222);
	return strcmp(file->name, show_waiters.name) == 0;
}

/* The identity of n's object now (its st_ino), or 0: unknown. */
static ino_t show_object_id(const struct fs_node *n)
{
	struct stat st = { 0 };

	return n->kind->stat(n->name, &st) == 0 ? st.st_ino : 0;
}

/* Only s's owner (the request's, the open file's) calls these. */
static void show_add(struct fs_shown *l, struct fs_shown *s, struct fs_node *n,
		     const struct ipc_file *file, pid_t pid)
{
	fs_node_ref(n);
	s->node = n;
	s->obj = fs_node_ino(n->kind, n->name, NULL);
	s->file = file->name;
	s->pid = pid;
	s->process = 0;
	s->listed = true;
	pthread_mutex_lock(&show_lock);
	s->prev = l->prev;
	s->next = l;
	l->prev->next = s;
	l->prev = s;
	pthread_mutex_unlock(&show_lock);
}

/* A request from pid parks on n's object, waiting on file (first park). */
void fs_show_waiting(struct fs_shown *s, struct fs_node *n,
		     const struct ipc_file *file, pid_t pid)
{
	if (!s->listed)
		show_add(&show_waiting, s, n, file, pid);
}

/* pid's open of file holds a unit of n's object now. */
void fs_show_holding(struct fs_shown *s, struct fs_node *n,
		     const struct ipc_file *file, pid_t pid)
{
	s->id = show_object_id(n);
	show_add(&show_holding, s, n, file, pid);
}

/* No longer waiting or holding; nothing if s is not listed. */
void fs_show_done(struct fs_shown *s)
{
	if (!s->listed)
		return;
	pthread_mutex_lock(&show_lock);
	s->prev->next = s->next;
	s->next->prev = s->prev;
	pthread_mutex_unlock(&show_lock);
	s->listed = false;
	fs_node_forget(s->node, 1);
}

/*
 * The process of thread tid, as /proc says (FUSE names the thread that
 * asks); tid itself when /proc cannot tell (the thread has ended).
 */
pid_t fs_show_process(pid_t tid)
{
	char path[32], line[64];
	pid_t pid = tid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return tid;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &pid) == 1)
			break;
	fclose(f);
	return pid;
}

/*
 * The text of n's waiters or holders file now, into *val (malloc'd) and
 * *len: "PID FILE" lines, or "PID" lines for holders.
 */
int fs_show_format(const struct fs_node *n, char **val, int *len)
{
	struct fs_shown *l = show_list_of(n->file);
	uint64_t obj = fs_node_ino(n->kind, n->name, NULL);
	ino_t id = l == &show_holding ? show_object_id(n) : 0;
	struct fs_shown *s;
	size_t size = 0;
	FILE *out;
	int ret = 0;

	out = open_memstream(val, &size);
	if (!out)
		return -ENOMEM;
	pthread_mutex_lock(&show_lock);
	for (s = l->next; s != l; s = s->next) {
		if (s->obj != obj || s->node->kind != n->kind ||
		    strcmp(s->node->name, n->name) != 0 ||
		    (s->id && id && s->id != id))
			continue;
		/*
		 * Once an entry's: a file of 1000 waiters read again and
		 * again (a watch, a test's polling) would read /proc 1000
		 * times each, 80 ms under show_lock.
		 */
		if (!s->process)
			s->process = fs_show_process(s->pid);
		fprintf(out, "%d", (int)s->process);
		if (l == &show_waiting)
			fprintf(out, " %s", s->file);
		fputc('\n', out);
	}
	pthread_mutex_unlock(&show_lock);
	if (fclose(out) != 0 || size > INT_MAX) {
		ret = -ENOMEM;
		free(*val);
		*val = NULL;
	}
	*len = ret < 0 ? 0 : (int)size;
	return ret;
}

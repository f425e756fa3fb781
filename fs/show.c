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
 * Entries name their object by the node of the open file, which the kernel
 * keeps while the file is open; they are matched by the object directory's
 * inode number first (a hash: cheap) and its kind and name after.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

/* The files: their table entries are fs/'s, recognized by address. */
static const struct ipc_file show_waiters = { .name = "waiters", .mode = 0444 };
static const struct ipc_file show_holders = { .name = "holders", .mode = 0444 };

struct show_list {
	struct fs_shown head; /* head.next: the oldest */
};

static pthread_mutex_t show_lock = PTHREAD_MUTEX_INITIALIZER;
static struct show_list show_waiting = { { .next = &show_waiting.head,
					   .prev = &show_waiting.head } };
static struct show_list show_holding = { { .next = &show_holding.head,
					   .prev = &show_holding.head } };

/* Does kind have a file whose open takes something (a hold)? */
static bool show_kind_holds(const struct ipc_kind *kind)
{
	const struct ipc_file *f;

	for (f = kind->files; f->name; f++)
		if (f->ops && f->ops->acquire)
			return true;
	return false;
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

/* Which list a file of fs_show_files() shows, or NULL: the kind's own. */
static struct show_list *show_list_of(const struct ipc_file *file)
{
	if (file->ops || file->get)
		return NULL;
	if (strcmp(file->name, show_waiters.name) == 0)
		return &show_waiting;
	if (strcmp(file->name, show_holders.name) == 0)
		return &show_holding;
	return NULL;
}

bool fs_show_is(const struct ipc_file *file)
{
	return show_list_of(file) != NULL;
}

static void show_add(struct show_list *l, struct fs_shown *s,
		     const struct fs_node *n, const struct ipc_file *file,
		     pid_t pid)
{
	s->kind = n->kind;
	s->name = n->name;
	s->obj = fs_node_ino(n->kind, n->name, NULL);
	s->file = file->name;
	s->pid = pid;
	pthread_mutex_lock(&show_lock);
	s->prev = l->head.prev;
	s->next = &l->head;
	l->head.prev->next = s;
	l->head.prev = s;
	pthread_mutex_unlock(&show_lock);
}

/* A request from pid parks on n's object, waiting on file (first park). */
void fs_show_waiting(struct fs_shown *s, const struct fs_node *n,
		     const struct ipc_file *file, pid_t pid)
{
	show_add(&show_waiting, s, n, file, pid);
}

/* pid's open of file holds a unit of n's object now. */
void fs_show_holding(struct fs_shown *s, const struct fs_node *n,
		     const struct ipc_file *file, pid_t pid)
{
	show_add(&show_holding, s, n, file, pid);
}

/* No longer waiting or holding; nothing if s was never listed. */
void fs_show_done(struct fs_shown *s)
{
	if (!s->next)
		return;
	pthread_mutex_lock(&show_lock);
	s->prev->next = s->next;
	s->next->prev = s->prev;
	pthread_mutex_unlock(&show_lock);
	s->next = s->prev = NULL;
}

/*
 * The text of n's waiters or holders file now, into *val (malloc'd) and
 * *len: "PID FILE" lines, or "PID" lines for holders.
 */
int fs_show_format(const struct fs_node *n, char **val, int *len)
{
	struct show_list *l = show_list_of(n->file);
	uint64_t obj = fs_node_ino(n->kind, n->name, NULL);
	const struct fs_shown *s;
	size_t size = 0;
	FILE *out;
	int ret = 0;

	out = open_memstream(val, &size);
	if (!out)
		return -ENOMEM;
	pthread_mutex_lock(&show_lock);
	for (s = l->head.next; s != &l->head; s = s->next) {
		if (s->obj != obj || s->kind != n->kind ||
		    strcmp(s->name, n->name) != 0)
			continue;
		if (l == &show_waiting)
			fprintf(out, "%d %s\n", (int)s->pid, s->file);
		else
			fprintf(out, "%d\n", (int)s->pid);
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

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ls.c - ipcctl ls: one table of every object of a mount, as lsipc(1) has
 * it. The cells come from the object directory (KIND, NAME, OWNER, GROUP,
 * PERMS) and from its attribute files (tree.c): a column whose file the
 * object has not is empty, null in JSON. ls -g is limits.c's.
 *
 *   $ ipcctl ls -Q -o name,msgs,maxmsg /mnt/ipc
 *   NAME MSGS MAXMSG
 *   jobs    3     10
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <libsmartcols.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipcctl.h"

/* Where a cell comes from: below TREE_NATTRS, that attribute file. */
enum ls_what {
	LS_KIND = TREE_NATTRS,
	LS_NAME,
	LS_OWNER,
	LS_GROUP,
	LS_PERMS,
};

#define LS_STRING(n, w, h)                                                     \
	{                                                                      \
		.name = n, .help = h, .json = SCOLS_JSON_STRING, .what = w     \
	}
#define LS_NUMBER(n, w, h)                                                     \
	{                                                                      \
		.name = n, .help = h, .flags = SCOLS_FL_RIGHT,                 \
		.json = SCOLS_JSON_NUMBER, .what = w                           \
	}

static const struct table_column ls_columns[] = {
	LS_STRING("KIND", LS_KIND, "the kind's directory under the root"),
	LS_STRING("NAME", LS_NAME, "the object's directory"),
	LS_STRING("OWNER", LS_OWNER, "its owner's name (or number)"),
	LS_STRING("GROUP", LS_GROUP, "its group's name (or number)"),
	LS_STRING("PERMS", LS_PERMS, "its permissions, as rw-r-----"),
	LS_NUMBER("ID", TREE_ID, "a System V object's kernel id (id)"),
	LS_NUMBER("MSGS", TREE_COUNT, "messages in a queue (count)"),
	LS_NUMBER("MAXMSG", TREE_MAXMSG, "messages a queue holds (maxmsg)"),
	LS_NUMBER("MSGSIZE", TREE_MSGSIZE,
		  "largest message of a queue (msgsize)"),
	LS_NUMBER("BYTES", TREE_BYTES,
		  "bytes in a channel or a System V queue (bytes)"),
	LS_NUMBER("CAPACITY", TREE_CAPACITY,
		  "bytes a channel or System V queue holds (capacity, qbytes)"),
	LS_NUMBER("READERS", TREE_READERS, "a channel's readers (readers)"),
	LS_NUMBER("WRITERS", TREE_WRITERS, "a channel's writers (writers)"),
	LS_NUMBER("SIZE", TREE_SIZE, "a segment's size (size)"),
	LS_NUMBER("VALUE", TREE_VALUE,
		  "a semaphore's value (value; of a set, semaphore 0's)"),
	LS_NUMBER("SUBSCRIBERS", TREE_SUBSCRIBERS,
		  "a topic's readers of data (subscribers)"),
	LS_NUMBER("PUBLISHED", TREE_PUBLISHED,
		  "messages published to a topic (published)"),
	LS_NUMBER("DROPPED", TREE_DROPPED,
		  "messages a topic dropped for slow readers (dropped)"),
	LS_NUMBER("BACKLOG", TREE_BACKLOG,
		  "messages a topic's reader may fall behind (backlog)"),
	LS_NUMBER("WAITERS", TREE_WAITERS,
		  "requests waiting on it (lines of waiters)"),
	LS_NUMBER("HOLDERS", TREE_HOLDERS,
		  "units held through hold (lines of holders)"),
};

#define LS_NCOLUMNS (sizeof(ls_columns) / sizeof(ls_columns[0]))
/*
 * One column of each kind's state: a topic holds no messages for long,
 * who listens is what it is (ipcctl(1), COLUMNS).
 */
#define LS_DEFAULT                                                             \
	"KIND,NAME,OWNER,PERMS,MSGS,BYTES,SIZE,VALUE,SUBSCRIBERS,WAITERS,"     \
	"HOLDERS"

/*
 * -Q -C -M -S -T: the kinds they keep, POSIX and System V alike (at most
 * LS_KINDS_MAX each).
 */
#define LS_KINDS_MAX 2
static const struct {
	int opt;
	const char *kinds[LS_KINDS_MAX];
} ls_only[] = {
	{ 'Q', { "queues", "sysv/msg" } },
	{ 'C', { "channels" } },
	{ 'M', { "shm", "sysv/shm" } },
	{ 'S', { "sem", "sysv/sem" } },
	{ 'T', { "topics" } },
};

#define LS_NONLY (sizeof(ls_only) / sizeof(ls_only[0]))

static const struct option ls_options[] = {
	{ "json", no_argument, NULL, 'J' },
	{ "raw", no_argument, NULL, 'r' },
	{ "noheadings", no_argument, NULL, 'n' },
	{ "output", required_argument, NULL, 'o' },
	{ "queues", no_argument, NULL, 'Q' },
	{ "channels", no_argument, NULL, 'C' },
	{ "shmems", no_argument, NULL, 'M' },
	{ "semaphores", no_argument, NULL, 'S' },
	{ "topics", no_argument, NULL, 'T' },
	{ "global", no_argument, NULL, 'g' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/*
 * A user's or group's name, or its number: objects mostly share an owner,
 * so the last answer is kept (a lookup may read /etc/passwd each time).
 */
struct ls_names {
	bool group; /* names of groups, not of users */
	bool valid;
	unsigned int id;
	char name[64];
};

static const char *ls_name(struct ls_names *c, unsigned int id)
{
	const char *name = NULL;
	struct passwd *pw;
	struct group *gr;

	if (!c->valid || c->id != id) {
		if (c->group) {
			gr = getgrgid(id);
			name = gr ? gr->gr_name : NULL;
		} else {
			pw = getpwuid(id);
			name = pw ? pw->pw_name : NULL;
		}
		if (name && strlen(name) < sizeof(c->name))
			strcpy(c->name, name);
		else
			snprintf(c->name, sizeof(c->name), "%u", id);
		c->id = id;
		c->valid = true;
	}
	return c->name;
}

/*
 * rw-r-----: the directory's mode & 0666. The tree gives a directory x
 * wherever it gives r (to list it); an IPC object has no x of its own.
 */
static void ls_perms(mode_t mode, char perms[10])
{
	int i;

	for (i = 0; i < 9; i++)
		perms[i] = mode & 0666 & (0400 >> i) ? "rwxrwxrwx"[i] : '-';
	perms[9] = '\0';
}

static int ls_row(struct table *t, const struct tree_object *o,
		  struct ls_names *users, struct ls_names *groups)
{
	struct libscols_line *ln = table_line(t);
	const char *data;
	char perms[10];
	size_t i;
	int what, ret = 0;

	if (!ln)
		return -1;
	for (i = 0; i < t->ncols && ret == 0; i++) {
		what = t->cols[i]->what;
		if (what < TREE_NATTRS) {
			if (o->has & TREE_ATTR(what))
				ret = table_set_number(t, ln, i, o->val[what]);
			continue;
		}
		switch (what) {
		case LS_KIND:
			data = o->kind;
			break;
		case LS_NAME:
			data = o->name;
			break;
		case LS_OWNER:
			data = ls_name(users, o->st.st_uid);
			break;
		case LS_GROUP:
			data = ls_name(groups, o->st.st_gid);
			break;
		default:
			ls_perms(o->st.st_mode, perms);
			data = perms;
			break;
		}
		ret = table_set(t, ln, i, data);
	}
	return ret;
}

/* Every object under MNT, of ONLY[] if any: the table of O's columns. */
static int ls_objects(const char *mnt, const struct table_opts *o,
		      const char *const *only, size_t nonly)
{
	struct ls_names users = { .group = false }, groups = { .group = true };
	struct tree tree = { .roots = only, .nroots = nonly };
	struct table t;
	size_t i;
	int ret;

	ret = table_new(&t, "objects", o, ls_columns, LS_NCOLUMNS, LS_DEFAULT);
	if (ret < 0)
		return ret == -EINVAL ? IPCCTL_USAGE : IPCCTL_FAIL;
	/* Only the files the chosen columns show are opened. */
	for (i = 0; i < t.ncols; i++)
		if (t.cols[i]->what < TREE_NATTRS)
			tree.want |= TREE_ATTR(t.cols[i]->what);
	ret = tree_walk(&tree, mnt);
	for (i = 0; ret == 0 && i < tree.nobjs; i++)
		ret = ls_row(&t, &tree.objs[i], &users, &groups);
	if (ret == 0)
		ret = table_print(&t);
	ret = ret < 0 || tree.failed ? IPCCTL_FAIL : IPCCTL_OK;
	tree_free(&tree);
	table_free(&t);
	return ret;
}

/* Without MOUNTPOINT: the one ipcfs mount there is. */
static int ls_find_mount(char **mnt)
{
	char **list;
	int n, i, ret = IPCCTL_FAIL;

	n = tree_find_mount("fuse.ipcfs", &list);
	if (n == 0)
		fprintf(stderr,
			"ipcctl: no ipcfs mount found (/proc/self/mountinfo)\n");
	if (n > 1) {
		fprintf(stderr, "ipcctl: several ipcfs mounts, name one:");
		for (i = 0; i < n; i++)
			fprintf(stderr, " %s", list[i]);
		fprintf(stderr, "\n");
	}
	if (n == 1) {
		*mnt = list[0];
		list[0] = NULL;
		ret = IPCCTL_OK;
	}
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return ret;
}

static int ls_run(int argc, char **argv)
{
	struct table_opts o = { 0 };
	const char *only[LS_NONLY * LS_KINDS_MAX];
	size_t nonly = 0, i, k;
	unsigned int chosen = 0;
	bool global = false;
	char *found = NULL;
	const char *mnt;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "Jrno:QCMSTgh", ls_options,
				  NULL)) != -1) {
		switch (opt) {
		case 'J':
			o.json = true;
			break;
		case 'r':
			o.raw = true;
			break;
		case 'n':
			o.noheadings = true;
			break;
		case 'o':
			o.output = optarg;
			break;
		case 'Q':
		case 'C':
		case 'M':
		case 'S':
		case 'T':
			for (i = 0; ls_only[i].opt != opt; i++)
				;
			/* -Q -Q is -Q: each kind once */
			for (k = 0; !(chosen & 1u << i) && k < LS_KINDS_MAX &&
				    ls_only[i].kinds[k];
			     k++)
				only[nonly++] = ls_only[i].kinds[k];
			chosen |= 1u << i;
			break;
		case 'g':
			global = true;
			break;
		case 'h':
			ret = ipcctl_usage(&ls_verb, stdout);
			printf("\nColumns (default: %s):\n", LS_DEFAULT);
			table_help_columns(stdout, ls_columns, LS_NCOLUMNS);
			limits_help(stdout);
			goto out;
		default:
			ret = ipcctl_usage(&ls_verb, stderr);
			goto out;
		}
	}
	if (global && nonly)
		fprintf(stderr, "ipcctl: ls -g lists no objects: "
				"-Q -C -M -S -T do not go with it\n");
	if (argc - optind > 1 || (global && nonly)) {
		ret = ipcctl_usage(&ls_verb, stderr);
		goto out;
	}
	if (optind < argc) {
		mnt = argv[optind];
	} else {
		ret = ls_find_mount(&found);
		if (ret != IPCCTL_OK)
			goto out;
		mnt = found;
	}
	if (global)
		ret = limits_list(mnt, &o);
	else
		ret = ls_objects(mnt, &o, only, nonly);
	free(found);
out:
	return ret;
}

const struct ipcctl_verb ls_verb = {
	.name = "ls",
	.run = ls_run,
	.synopsis =
		"ls [-J] [-r] [-n] [-o LIST] [-Q] [-C] [-M] [-S] [-T] [MOUNTPOINT]\n"
		"ls -g [-J] [-r] [-n] [-o LIST] [MOUNTPOINT]",
	.help = "List the objects of an ipcfs mount, or (-g) the limits they run\n"
		"into. Only attribute files are read: never one that consumes or\n"
		"waits. Without MOUNTPOINT: the one ipcfs mount of\n"
		"/proc/self/mountinfo.\n"
		"\n"
		"  -J, --json          JSON: {\"objects\": [...]} ({\"limits\": [...]})\n"
		"  -r, --raw           cells apart by one space, not aligned\n"
		"  -n, --noheadings    no line of headings\n"
		"  -o, --output LIST   these columns, comma-separated, in this order;\n"
		"                      +LIST: the default ones, then these\n"
		"  -Q, --queues        only queues, POSIX and System V (-Q -C -M -S\n"
		"                      -T add up)\n"
		"  -C, --channels      only channels\n"
		"  -M, --shmems        only shared memory segments, POSIX and System V\n"
		"  -S, --semaphores    only semaphores and System V semaphore sets\n"
		"  -T, --topics        only topics\n"
		"  -g, --global        the limits, and how much of each is used\n"
		"  -h, --help          this text\n",
};

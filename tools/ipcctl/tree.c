// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tree.c - the objects of a mounted ipcfs tree, learnt from the tree alone.
 *
 * A directory that holds regular files is an object; one that holds
 * directories is a kind's (queues/) or one above kinds (sysv/ above
 * sysv/msg/): readdir's d_type tells them apart. An object's kind is its
 * directory's path under the root. Every request costs the daemon a round
 * trip, so the walk lists only the first object of a kind directory: the
 * others have the same files, and are reached by O_PATH (one LOOKUP), their
 * attribute files then opened and read once each.
 *
 * Of an object's files only those of tree_files[] are ever opened, and only
 * the ones the caller wants: never data, stream, framed, wait, hold, post
 * or any file a later kind adds, which may consume or wait (a topic's data
 * does both, and an open of it for reading is a subscriber). Objects come and go
 * while we walk: one that vanishes (ENOENT, ESTALE, EIDRM) is left out; a
 * file we may not read (EACCES) leaves its value unknown.
 *
 *   $ ipcctl ls -o KIND,NAME,MSGS    # opens queues/NAME/count, nothing else
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "ipcctl.h"

/* statfs(2)'s f_type of every FUSE file system */
#define TREE_FUSE_MAGIC 0x65735546
/* Directories between the root and an object: "sysv", "sysv/msg", ... */
#define TREE_DEPTH_MAX 8
/* A number file holds "VALUE\n". */
#define TREE_NUMBER_MAX 64

/* How a file's text becomes its attribute's value. */
enum tree_form {
	TREE_NUMBER, /* "VALUE\n" */
	TREE_LINES,  /* one line per entry: how many lines */
	TREE_FIRST,  /* "VALUE VALUE ...\n": the first */
};

/*
 * The allow-list: the only files ipcctl opens in an object directory, and
 * the attribute each gives. Kinds name alike things differently (a
 * channel's capacity is a System V queue's qbytes; a set of semaphores has
 * values, not a value): an object has one file of an attribute at most.
 */
static const struct tree_file {
	const char *name;
	enum tree_attr attr;
	enum tree_form form;
} tree_files[] = {
	{ "count", TREE_COUNT, TREE_NUMBER },
	{ "maxmsg", TREE_MAXMSG, TREE_NUMBER },
	{ "msgsize", TREE_MSGSIZE, TREE_NUMBER },
	{ "bytes", TREE_BYTES, TREE_NUMBER },
	{ "capacity", TREE_CAPACITY, TREE_NUMBER },
	{ "qbytes", TREE_CAPACITY, TREE_NUMBER }, /* sysv/msg */
	{ "readers", TREE_READERS, TREE_NUMBER },
	{ "writers", TREE_WRITERS, TREE_NUMBER },
	{ "size", TREE_SIZE, TREE_NUMBER },
	{ "value", TREE_VALUE, TREE_NUMBER },
	{ "values", TREE_VALUE, TREE_FIRST }, /* sysv/sem: semaphore 0's */
	{ "waiters", TREE_WAITERS, TREE_LINES },
	{ "holders", TREE_HOLDERS, TREE_LINES },
	{ "subscribers", TREE_SUBSCRIBERS, TREE_NUMBER },
	{ "published", TREE_PUBLISHED, TREE_NUMBER },
	{ "dropped", TREE_DROPPED, TREE_NUMBER },
	{ "backlog", TREE_BACKLOG, TREE_NUMBER },
	{ "id", TREE_ID, TREE_NUMBER },	      /* the System V kinds */
	{ "nsems", TREE_NSEMS, TREE_NUMBER }, /* sysv/sem */
};

#define TREE_NFILES (sizeof(tree_files) / sizeof(tree_files[0]))
/* A set of tree_files[] indexes: an object's allow-listed files. */
#define TREE_FILE(f) (1u << (f))

static int tree_file_of(const char *name)
{
	size_t f;

	for (f = 0; f < TREE_NFILES; f++)
		if (strcmp(name, tree_files[f].name) == 0)
			return f;
	return -1;
}

/* Of the files in FILES (TREE_FILE()s), those that give attributes WANT. */
static unsigned int tree_files_wanted(unsigned int files, unsigned int want)
{
	unsigned int keep = 0;
	size_t f;

	for (f = 0; f < TREE_NFILES; f++)
		if (want & TREE_ATTR(tree_files[f].attr))
			keep |= TREE_FILE(f);
	return files & keep;
}

/* The object went while we looked: it is left out, silently. */
static bool tree_vanished(int err)
{
	return err == ENOENT || err == ESTALE || err == EIDRM;
}

/* /proc/self/mountinfo escapes space, tab, newline and backslash: \ooo. */
static void tree_unescape(char *s)
{
	char *o = s;

	for (; *s; s++, o++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				    (s[3] - '0'));
			s += 3;
		} else {
			*o = *s;
		}
	}
	*o = '\0';
}

/*
 * The mount points of file system type FSTYPE in /proc/self/mountinfo, in
 * its order, into *LIST (the caller frees each and the list). Returns how
 * many, or -1 (told).
 */
int tree_find_mount(const char *fstype, char ***list)
{
	static const char mountinfo[] = "/proc/self/mountinfo";
	char *line = NULL, *mnt, *type, *save, **nlist;
	size_t cap = 0;
	int n = 0, i;
	FILE *f;

	*list = NULL;
	f = fopen(mountinfo, "re");
	if (!f) {
		ipcctl_error(mountinfo);
		return -1;
	}
	while (getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAG...] - TYPE ... */
		mnt = strtok_r(line, " ", &save);
		for (i = 0; mnt && i < 4; i++)
			mnt = strtok_r(NULL, " ", &save);
		do
			type = strtok_r(NULL, " ", &save);
		while (type && strcmp(type, "-") != 0);
		type = type ? strtok_r(NULL, " ", &save) : NULL;
		if (!mnt || !type || strcmp(type, fstype) != 0)
			continue;
		nlist = realloc(*list, (n + 1) * sizeof(**list));
		if (!nlist)
			break;
		*list = nlist;
		tree_unescape(mnt);
		(*list)[n] = strdup(mnt);
		if (!(*list)[n])
			break;
		n++;
	}
	free(line);
	fclose(f);
	return n;
}

/* Something other than a vanishing object went wrong: say so, go on. */
static void tree_warn(struct tree *t, const char *kind, const char *name,
		      const char *file, int err)
{
	fprintf(stderr, "ipcctl: %s%s%s%s%s%s%s: %s\n", t->mnt,
		*kind ? "/" : "", kind, name ? "/" : "", name ? name : "",
		file ? "/" : "", file ? file : "", strerror(err));
	t->failed = true;
}

/*
 * Read allow-listed file F of the object open at DFD into *VAL: a number,
 * the first of a list of numbers, or how many lines it has. The files are
 * regular: a read shorter than asked is their end, which spares the daemon
 * the request that would find it.
 */
static int tree_read_file(int dfd, const struct tree_file *f, long long *val)
{
	bool lines = f->form == TREE_LINES;
	char buf[4096], last = '\n';
	size_t len = 0, max = lines ? sizeof(buf) : TREE_NUMBER_MAX, ask, i;
	ssize_t n;
	int fd, ret = 0;

	fd = openat(dfd, f->name,
		    O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	*val = 0;
	do {
		ask = max - 1 - len;
		n = read(fd, buf + len, ask);
		if (n <= 0)
			break;
		if (lines) {
			for (i = 0; i < (size_t)n; i++)
				*val += buf[i] == '\n';
			last = buf[n - 1];
		} else {
			len += n;
		}
	} while ((size_t)n == ask && len < max - 1);
	if (n < 0) {
		ret = -errno;
	} else if (lines) {
		*val += last != '\n'; /* a last line without its newline */
	} else {
		buf[len] = '\0';
		if (f->form == TREE_FIRST)
			buf[strcspn(buf, " ")] = '\0';
		ret = ipcctl_parse_number(buf, val);
	}
	close(fd);
out:
	return ret;
}

/* The index of kind directory KIND in t->kinds, added if new. */
static int tree_kind(struct tree *t, const char *kind, size_t *k)
{
	char **nkinds;

	for (*k = 0; *k < t->nkinds; (*k)++)
		if (strcmp(t->kinds[*k], kind) == 0)
			return 0;
	nkinds = realloc(t->kinds, (t->nkinds + 1) * sizeof(*t->kinds));
	if (!nkinds)
		return -ENOMEM;
	t->kinds = nkinds;
	t->kinds[t->nkinds] = strdup(kind);
	if (!t->kinds[t->nkinds])
		return -ENOMEM;
	t->nkinds++;
	return 0;
}

/* What a directory holds: files make it an object, directories a kind's. */
struct tree_listing {
	bool files;
	bool dirs;
	unsigned int allowed; /* TREE_FILE()s: the allow-listed files */
};

static int tree_list(DIR *d, struct tree_listing *l)
{
	struct dirent *de;
	struct stat st;
	int f;

	for (errno = 0; (de = readdir(d)); errno = 0) {
		if (de->d_type == DT_UNKNOWN &&
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
			    0)
			de->d_type = IFTODT(st.st_mode);
		if (de->d_type == DT_REG) {
			l->files = true;
			f = tree_file_of(de->d_name);
			if (f >= 0)
				l->allowed |= TREE_FILE(f);
		} else if (de->d_type == DT_DIR && strcmp(de->d_name, ".") &&
			   strcmp(de->d_name, "..")) {
			l->dirs = true;
		}
	}
	return -errno;
}

/*
 * Only the first object of a kind directory is listed (tree_dir): another
 * that lacks a file of the first reads as ENOENT, as if it were gone. List
 * the object open at DFD to tell: does it lack file F (tree_files[])?
 */
static bool tree_lacks(int dfd, size_t f)
{
	struct tree_listing l = { 0 };
	bool lacks = false;
	int fd;
	DIR *d;

	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return false;
	}
	lacks = tree_list(d, &l) == 0 && !(l.allowed & TREE_FILE(f));
	closedir(d);
	return lacks;
}

/*
 * Object NAME of kind KIND, its directory open at DFD, and those of its
 * allow-listed files in FILES (TREE_FILE()s): read them and keep the
 * object, unless it vanishes meanwhile. Returns 0 or -ENOMEM.
 */
static int tree_object(struct tree *t, int dfd, const char *kind,
		       const char *name, const struct stat *st,
		       unsigned int files)
{
	struct tree_object o = { .st = *st }, *nobjs;
	enum tree_attr a;
	size_t f;
	int ret;

	for (f = 0; f < TREE_NFILES; f++) {
		if (!(files & TREE_FILE(f)))
			continue;
		a = tree_files[f].attr;
		ret = tree_read_file(dfd, &tree_files[f], &o.val[a]);
		if (ret == 0) {
			o.has |= TREE_ATTR(a);
		} else if (ret == -ENOENT && tree_lacks(dfd, f)) {
			continue; /* this one has no such file */
		} else if (tree_vanished(-ret)) {
			ret = 0; /* it is left out, silently */
			goto out;
		} else if (ret != -EACCES && ret != -EPERM && ret != -EINVAL) {
			tree_warn(t, kind, name, tree_files[f].name, -ret);
		}
	}
	ret = tree_kind(t, kind, &o.kind_seq);
	if (ret < 0)
		goto out;
	if (t->nobjs == t->cap) {
		nobjs = realloc(t->objs,
				(t->cap ? 2 * t->cap : 64) * sizeof(*t->objs));
		if (!nobjs) {
			ret = -ENOMEM;
			goto out;
		}
		t->objs = nobjs;
		t->cap = t->cap ? 2 * t->cap : 64;
	}
	o.kind = t->kinds[o.kind_seq];
	o.name = strdup(name);
	if (!o.name) {
		ret = -ENOMEM;
		goto out;
	}
	t->objs[t->nobjs++] = o;
out:
	return ret;
}

/*
 * What the walk learnt of a directory's entries from the first it listed:
 * objects, and which files they have (their kind's: every object of a kind
 * has the same), or directories of their own.
 */
struct tree_entries {
	enum { TREE_UNKNOWN, TREE_OBJECTS, TREE_DIRS } are;
	unsigned int files; /* TREE_FILE()s */
};

static int tree_dir(struct tree *t, DIR *d, const char *path, int depth);

/* Directory NAME under directory PATH (open at D), which it holds. */
static int tree_subdir(struct tree *t, DIR *d, const char *path,
		       const char *name, int depth)
{
	char *sub;
	int ret;

	if (asprintf(&sub, "%s%s%s", path, *path ? "/" : "", name) < 0)
		return -ENOMEM;
	rewinddir(d);
	ret = tree_dir(t, d, sub, depth);
	free(sub);
	return ret;
}

/*
 * Entry NAME of directory PATH (open at PFD), not known yet: list it. An
 * object, or a directory of them, or above them: *E learns which.
 */
static int tree_entry_list(struct tree *t, int pfd, const char *path,
			   const char *name, int depth, struct tree_entries *e)
{
	struct tree_listing l = { 0 };
	struct stat st;
	int fd, ret;
	DIR *d;

	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		/*
		 * Kinds' directories are everybody's: one kept from us is an
		 * object, whose files we cannot know.
		 */
		if (ret == -EACCES &&
		    fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			ret = tree_object(t, -1, path, name, &st, 0);
		goto out;
	}
	d = fdopendir(fd);
	if (!d) {
		ret = -errno;
		close(fd);
		goto out;
	}
	ret = tree_list(d, &l);
	if (ret == 0 && fstat(fd, &st) < 0)
		ret = -errno;
	if (ret == 0 && l.files) {
		*e = (struct tree_entries){ TREE_OBJECTS, l.allowed };
		ret = tree_object(t, fd, path, name, &st,
				  tree_files_wanted(l.allowed, t->want));
	} else if (ret == 0 && l.dirs) {
		e->are = TREE_DIRS;
		if (depth < TREE_DEPTH_MAX)
			ret = tree_subdir(t, d, path, name, depth + 1);
	}
	closedir(d);
out:
	return ret;
}

/*
 * Object NAME of directory PATH (open at PFD), one of several: its files
 * are E's. O_PATH: its directory is neither opened nor listed, which spares
 * the daemon three requests an object.
 */
static int tree_entry_object(struct tree *t, int pfd, const char *path,
			     const char *name, const struct tree_entries *e)
{
	struct stat st;
	int fd, ret;

	fd = openat(pfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		ret = -errno;
	else
		ret = tree_object(t, fd, path, name, &st,
				  tree_files_wanted(e->files, t->want));
	close(fd);
	return ret;
}

/*
 * Entry NAME of directory PATH (open at PFD). Returns 0 or -ENOMEM; other
 * errors are told here.
 */
static int tree_entry(struct tree *t, int pfd, const char *path,
		      const char *name, int depth, struct tree_entries *e)
{
	int ret;

	if (e->are == TREE_OBJECTS)
		ret = tree_entry_object(t, pfd, path, name, e);
	else
		ret = tree_entry_list(t, pfd, path, name, depth, e);
	if (ret < 0 && ret != -ENOMEM && !tree_vanished(-ret) &&
	    ret != -ENOTDIR)
		tree_warn(t, path, name, NULL, -ret);
	return ret == -ENOMEM ? ret : 0;
}

/*
 * Whether entry NAME of directory PATH is walked: with t->roots, only the
 * roots ("sysv/msg"), the directories above them (sysv/) and what is below
 * them (its objects).
 */
static bool tree_wanted(const struct tree *t, const char *path,
			const char *name)
{
	char full[PATH_MAX];
	size_t i, n, r;

	if (t->nroots == 0)
		return true;
	n = snprintf(full, sizeof(full), "%s%s%s", path, *path ? "/" : "",
		     name);
	for (i = 0; i < t->nroots && n < sizeof(full); i++) {
		r = strlen(t->roots[i]);
		if (strncmp(full, t->roots[i], n < r ? n : r) != 0)
			continue;
		if (n == r || (n > r && full[r] == '/') ||
		    (n < r && t->roots[i][n] == '/'))
			return true;
	}
	return false;
}

/* Every directory in directory PATH (under the root), open as D. */
static int tree_dir(struct tree *t, DIR *d, const char *path, int depth)
{
	struct tree_entries e = { TREE_UNKNOWN, 0 };
	struct dirent *de;
	int ret = 0;

	for (errno = 0; ret == 0 && (de = readdir(d)); errno = 0) {
		if ((de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) ||
		    strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (!tree_wanted(t, path, de->d_name))
			continue;
		ret = tree_entry(t, dirfd(d), path, de->d_name, depth, &e);
	}
	if (ret == 0 && errno && !tree_vanished(errno))
		tree_warn(t, path, NULL, NULL, errno);
	return ret;
}

/* Kinds in the tree's order (the order the walk met them), then names. */
static int tree_cmp(const void *a, const void *b)
{
	const struct tree_object *x = a, *y = b;

	if (x->kind_seq != y->kind_seq)
		return x->kind_seq < y->kind_seq ? -1 : 1;
	return strcmp(x->name, y->name);
}

/*
 * Whether the root open at FD is an ipcfs mount's: a FUSE file system whose
 * root names its daemon in user.ipcfs.pid (kept in t->pid, for ls -g).
 * Walking another tree would open any file named "size". Returns 0,
 * -ENODATA when it is not one, or another -errno.
 */
static int tree_root(struct tree *t, int fd)
{
	struct statfs sfs;
	int ret;

	ret = fstatfs(fd, &sfs) < 0 ? -errno : 0;
	if (ret == 0 && sfs.f_type != TREE_FUSE_MAGIC)
		ret = -ENODATA;
	if (ret == 0)
		ret = ipcctl_xattr_number(t->mnt, "user.ipcfs.pid", &t->pid);
	/* No xattrs at all (ENOTSUP), or no PID in this one: not ipcfs. */
	if (ret == -ENOTSUP || ret == -EINVAL || (ret == 0 && t->pid <= 0))
		ret = -ENODATA;
	return ret;
}

/*
 * Every object under mount point MNT (of t->roots only, if any), with the
 * attribute files of t->want, sorted. Returns 0, or -1 (told) when MNT is
 * no ipcfs mount, its root cannot be read or memory runs out. Other errors
 * are told, set t->failed, and leave out what they hid.
 */
int tree_walk(struct tree *t, const char *mnt)
{
	DIR *d;
	int ret;

	t->mnt = mnt;
	d = opendir(mnt);
	if (!d) {
		ret = -errno;
		goto out;
	}
	ret = tree_root(t, dirfd(d));
	if (ret == 0)
		ret = tree_dir(t, d, "", 0);
	if (ret == 0 && t->nobjs) /* no array to sort in an empty tree */
		qsort(t->objs, t->nobjs, sizeof(*t->objs), tree_cmp);
	closedir(d);
out:
	if (ret == -ENODATA) {
		fprintf(stderr, "ipcctl: %s: not an ipcfs mount\n", mnt);
	} else if (ret < 0) {
		errno = -ret;
		ipcctl_error(mnt);
	}
	return ret < 0 ? -1 : 0;
}

void tree_free(struct tree *t)
{
	size_t i;

	for (i = 0; i < t->nobjs; i++)
		free(t->objs[i].name);
	for (i = 0; i < t->nkinds; i++)
		free(t->kinds[i]);
	free(t->objs);
	free(t->kinds);
}

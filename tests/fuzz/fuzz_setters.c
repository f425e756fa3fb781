// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_setters.c - libFuzzer target for every writable attribute file of
 * every kind (channels/NAME/capacity, shm/NAME/size, sem/NAME/post,
 * topics/NAME/backlog, ...), found through the kind table as fs/ finds
 * them: the default engine's kinds (ipc_engines[0]), then each kind's files
 * with a set op. No mount: as in tests/unit, the kinds' ops
 * are called directly, and fs/park.c's event loop is never started.
 *
 * At start every kind is initialised and one object made per kind, named
 * /fz<pid>_<kind>, or, for a kind that names its objects by key (sysv/),
 * 0x1cd<pid><kind>; an atexit handler removes them and finalises the
 * kinds, and the next run removes what a crashed one (whose pid is gone)
 * left of the named ones.
 * The first byte of an input picks the (kind, file) pair; the rest is the
 * buffer of one write, passed as it is (not NUL-terminated). Checked: the
 * setter returns 0 or one of the errno values a write may give (EINVAL,
 * EOVERFLOW, ERANGE, ENOSPC, EBUSY, EFBIG, ENOMEM, ENOENT, EPERM, EACCES);
 * the
 * object is still there after it; and a file that reads back what it sets
 * (one with a get op too) shows the number just written. A violation
 * aborts.
 *
 * Runs stay fast: a post of N units posts N times, so posts of more than
 * FUZZ_SETTERS_POSTS_MAX units that the semaphore could take are skipped
 * (bigger ones, refused with EOVERFLOW, are not), and a semaphore whose
 * value passes that bound is made afresh. A segment resized to an
 * enormous size costs nothing: nothing touches its pages.
 *
 *   $ build-fuzz/tests/fuzz/fuzz_setters -runs=100000 tests/fuzz/corpus/setters
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_SETTERS_MAX 64
#define FUZZ_SETTERS_POSTS_MAX 1000

struct fuzz_setters_obj {
	const struct ipc_kind *kind;
	char pname[NAME_MAX + 2];
	bool made;
};

struct fuzz_setters_pair {
	struct fuzz_setters_obj *obj;
	const struct ipc_file *file;
};

static struct fuzz_setters_obj fuzz_setters_objs[FUZZ_SETTERS_MAX];
static int fuzz_setters_nobjs;
static struct fuzz_setters_pair fuzz_setters_pairs[FUZZ_SETTERS_MAX];
static int fuzz_setters_npairs;

static void fuzz_setters_make(struct fuzz_setters_obj *o)
{
	struct ipc_caller caller = { .uid = getuid(), .gid = getgid() };
	int ret;

	ret = o->kind->create(o->pname, 0600, &caller);
	if (ret < 0) {
		fprintf(stderr, "fuzz_setters: cannot make %s/%s: %s\n",
			o->kind->name, o->pname, strerror(-ret));
		abort();
	}
	o->made = true;
}

static void fuzz_setters_cleanup(void)
{
	struct fuzz_setters_obj *o;
	int i;

	for (i = 0; i < fuzz_setters_nobjs; i++) {
		o = &fuzz_setters_objs[i];
		if (o->made)
			o->kind->remove(o->pname);
		o->made = false;
	}
	for (i = 0; ipc_engines[0]->kinds[i]; i++)
		if (ipc_engines[0]->kinds[i]->fini)
			ipc_engines[0]->kinds[i]->fini();
}

/* Names of objects a crashed run left (a crash skips the atexit handler). */
struct fuzz_setters_stale {
	char names[FUZZ_SETTERS_MAX][NAME_MAX + 2];
	int n;
};

static int fuzz_setters_stale_fill(void *ctx, const char *name)
{
	struct fuzz_setters_stale *st = ctx;
	long pid;
	int end = 0;

	if (sscanf(name, "/fz%ld_%*[a-z]%n", &pid, &end) == 1 &&
	    name[end] == '\0' && pid > 0 && kill(pid, 0) < 0 &&
	    errno == ESRCH && st->n < FUZZ_SETTERS_MAX)
		snprintf(st->names[st->n++], sizeof(st->names[0]), "%s", name);
	return 0;
}

/* Listed first, removed after: a kind may list under its lock. */
static void fuzz_setters_sweep(const struct ipc_kind *kind)
{
	static struct fuzz_setters_stale st;
	int i;

	st.n = 0;
	if (!kind->list || kind->list(fuzz_setters_stale_fill, &st) < 0)
		return;
	for (i = 0; i < st.n; i++)
		kind->remove(st.names[i]);
}

/*
 * Object o's name: the POSIX rule's, or a key's where the kind maps names
 * its own way (name_in: sysv/'s keys), from our pid and the kind's index.
 */
static void fuzz_setters_name(struct fuzz_setters_obj *o, int i)
{
	char name[NAME_MAX + 1];

	snprintf(o->pname, sizeof(o->pname), "/fz%ld_%s", (long)getpid(),
		 o->kind->name);
	if (!o->kind->name_in)
		return;
	snprintf(name, sizeof(name), "0x1cd%05x",
		 (unsigned int)((getpid() & 0xffff) << 4 | (i & 0xf)));
	if (o->kind->name_in(name, o->pname, sizeof(o->pname)) < 0)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct ipc_kind *kind;
	const struct ipc_file *f;
	struct fuzz_setters_obj *o;
	int i;

	/* Modes come out as asked, as under the daemon (main.c). */
	umask(0);
	for (i = 0; (kind = ipc_engines[0]->kinds[i]); i++) {
		if (kind->init && kind->init() < 0)
			abort();
		fuzz_setters_sweep(kind);
		if (fuzz_setters_nobjs == FUZZ_SETTERS_MAX)
			abort();
		o = &fuzz_setters_objs[fuzz_setters_nobjs++];
		o->kind = kind;
		fuzz_setters_name(o, i);
		for (f = kind->files; f->name; f++) {
			if (!f->set)
				continue;
			if (fuzz_setters_npairs == FUZZ_SETTERS_MAX)
				abort();
			fuzz_setters_pairs[fuzz_setters_npairs++] =
				(struct fuzz_setters_pair){ o, f };
		}
	}
	atexit(fuzz_setters_cleanup);
	for (i = 0; i < fuzz_setters_nobjs; i++)
		fuzz_setters_make(&fuzz_setters_objs[i]);
	if (fuzz_setters_npairs == 0)
		abort();
	return 0;
}

/* The number in buf, read as strtol() does, from a NUL-terminated copy. */
static long fuzz_setters_number(const char *buf, size_t len)
{
	char *copy = strndup(buf, len);
	long val;

	if (!copy)
		abort();
	val = strtol(copy, NULL, 10);
	free(copy);
	return val;
}

/* The value of the first run of digits in buf, saturated at LONG_MAX. */
static long fuzz_setters_digits(const char *buf, size_t len)
{
	size_t i = 0;
	long val = 0;

	while (i < len && (buf[i] < '0' || buf[i] > '9'))
		i++;
	for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++)
		val = val > (LONG_MAX - 9) / 10 ? LONG_MAX
						: val * 10 + (buf[i] - '0');
	return val;
}

/* An attribute's value, read through its get op. */
static long fuzz_setters_get(const struct fuzz_setters_obj *o,
			     const struct ipc_file *f)
{
	char buf[64];
	int ret;

	ret = f->get(o->pname, f->arg, buf, sizeof(buf));
	if (ret < 0 || ret >= (int)sizeof(buf))
		abort();
	return fuzz_setters_number(buf, ret);
}

/* A semaphore too high to post to quickly is made afresh. */
static void fuzz_setters_settle(struct fuzz_setters_obj *o)
{
	const struct ipc_file *f;

	for (f = o->kind->files; f->name; f++) {
		if (strcmp(f->name, "value") || !f->get)
			continue;
		if (fuzz_setters_get(o, f) <= FUZZ_SETTERS_POSTS_MAX)
			return;
		if (o->kind->remove(o->pname) < 0)
			abort();
		o->made = false;
		fuzz_setters_make(o);
		return;
	}
}

static bool fuzz_setters_errno_ok(int ret)
{
	switch (-ret) {
	case EINVAL:
	case EOVERFLOW:
	case ERANGE: /* semop()'s, past a System V semaphore's SEMVMX */
	case ENOSPC:
	case EBUSY:
	case EFBIG:
	case ENOMEM:
	case ENOENT:
	case EPERM:
	case EACCES:
		return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fuzz_setters_pair *p;
	const char *buf = (const char *)data + 1;
	size_t len = size - 1;
	struct stat st;
	long n;
	int ret;

	if (size == 0)
		return -1;
	p = &fuzz_setters_pairs[data[0] % fuzz_setters_npairs];
	if (strcmp(p->file->name, "post") == 0) {
		n = fuzz_setters_digits(buf, len);
		if (n > FUZZ_SETTERS_POSTS_MAX && n <= SEM_VALUE_MAX)
			return -1;
	}
	ret = p->file->set(p->obj->pname, buf, len, NULL);
	if (ret != 0 && !fuzz_setters_errno_ok(ret))
		abort();
	if (p->obj->kind->stat(p->obj->pname, &st) < 0)
		abort();
	if (ret == 0 && p->file->get &&
	    fuzz_setters_get(p->obj, p->file) != fuzz_setters_number(buf, len))
		abort();
	fuzz_setters_settle(p->obj);
	return 0;
}

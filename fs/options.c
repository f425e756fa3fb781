// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * options.c - the command line: ipcfs's own options, the engine, the options
 * of the engine's kinds (from their tables), and whatever libfuse knows. A
 * bad value is refused here, before anything is mounted, with a message
 * that names the option.
 *
 *   $ ipcfs -o mq_maxmsg=lots /mnt/ipc
 *   ipcfs: -o mq_maxmsg=lots: expected a whole number from 1 to 65536
 *
 * The engine is read first, in a pass of its own: which kinds' options
 * there are depends on it, wherever it is on the command line.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

#define OPTIONS_PREFIX_MAX 200

/* fuse_opt frees a string option's old value: prefix starts NULL. */
struct fs_conf fs_conf = {
	.default_permissions = 1,
	.max_user_parked = 256L << 20,
};

enum {
	OPTIONS_KEY_HELP,
	OPTIONS_KEY_VERSION,
};

static const struct fuse_opt options_spec[] = {
	{ "prefix=%s", offsetof(struct fs_conf, prefix), 0 },
	{ "engine=%s", offsetof(struct fs_conf, engine_name), 0 },
	{ "log=%s", offsetof(struct fs_conf, log), 0 },
	{ "no_default_permissions",
	  offsetof(struct fs_conf, default_permissions), 0 },
	FUSE_OPT_KEY("-h", OPTIONS_KEY_HELP),
	FUSE_OPT_KEY("--help", OPTIONS_KEY_HELP),
	FUSE_OPT_KEY("-V", OPTIONS_KEY_VERSION),
	FUSE_OPT_KEY("--version", OPTIONS_KEY_VERSION),
	FUSE_OPT_END
};

/* The numeric options of the fs layer's own, read like the kinds'. */
static const struct ipc_option options_numbers[] = {
	{ "max_user_files", &fs_conf.max_user_files, 1, 1L << 30,
	  "open files one user may have (default: a quarter of the daemon's descriptors)" },
	{ "max_user_parked", &fs_conf.max_user_parked, 0, 1L << 40,
	  "bytes of blocked writes the daemon keeps for one user (default 256 MiB)" },
	{ NULL },
};

/* -o NAME=VALUE if NAME is in table o: 1 if it was, -1 if the value is bad. */
static int options_number(const struct ipc_option *o, const char *arg,
			  size_t len)
{
	const char *val = arg + len + 1;
	long n;

	for (; o && o->name; o++) {
		if (strlen(o->name) != len || strncmp(o->name, arg, len))
			continue;
		if (o->string) {
			free(*o->string);
			*o->string = strdup(val);
			return *o->string ? 1 : -1;
		}
		if (ipc_parse_long(val, strlen(val), &n) < 0 || n < o->min ||
		    n > o->max) {
			fprintf(stderr,
				"ipcfs: -o %s: expected a whole number from %ld to %ld\n",
				arg, o->min, o->max);
			return -1;
		}
		*o->value = n;
		return 1;
	}
	return 0;
}

/* -o NAME=VALUE for a numeric option of ours or of a kind's. */
static int options_kind(const char *arg)
{
	const struct ipc_kind *const *k;
	const char *eq = strchr(arg, '=');
	int ret;

	if (!eq)
		return 0;
	ret = options_number(options_numbers, arg, eq - arg);
	if (ret == 0)
		ret = options_number(fs_conf.engine->options, arg, eq - arg);
	/* Kinds may share an option (sem_value: sem/ and sysv/sem/). */
	for (k = fs_conf.engine->kinds; ret >= 0 && *k; k++) {
		int r = options_number((*k)->options, arg, eq - arg);

		ret = r ? r : ret;
	}
	return ret;
}

static int options_proc(void *data, const char *arg, int key,
			struct fuse_args *outargs)
{
	int ret;

	switch (key) {
	case OPTIONS_KEY_HELP:
		fs_conf.show_help = 1;
		return 0;
	case OPTIONS_KEY_VERSION:
		fs_conf.show_version = 1;
		return 0;
	case FUSE_OPT_KEY_NONOPT:
		/* "ipcfs MOUNTPOINT", or "ipcfs SOURCE MOUNTPOINT" from mount(8) */
		if (fs_conf.source) {
			fprintf(stderr, "ipcfs: unexpected argument '%s'\n",
				arg);
			return -1;
		}
		if (fs_conf.mountpoint)
			fs_conf.source = fs_conf.mountpoint;
		fs_conf.mountpoint = arg;
		return 0;
	case FUSE_OPT_KEY_OPT:
		ret = options_kind(arg);
		return ret < 0 ? -1 : ret ? 0 : 1;
	}
	return 1;
}

static const struct fuse_opt options_engine_spec[] = {
	{ "engine=%s", offsetof(struct fs_conf, engine_name), 0 }, FUSE_OPT_END
};

/* The first pass: -o engine= only; everything else is left for the next. */
static int options_keep(void *data, const char *arg, int key,
			struct fuse_args *outargs)
{
	return 1;
}

static void options_engines(FILE *out)
{
	const struct ipc_engine *const *e;

	for (e = ipc_engines; *e; e++)
		fprintf(out, "%s%s", e == ipc_engines ? "" : ", ", (*e)->name);
}

/* fs_conf.engine: the one -o engine= names, or the default. */
static int options_engine(struct fuse_args *args)
{
	struct fuse_args copy = FUSE_ARGS_INIT(args->argc, args->argv);
	const struct ipc_engine *const *e;
	int ret;

	ret = fuse_opt_parse(&copy, &fs_conf, options_engine_spec,
			     options_keep);
	fuse_opt_free_args(&copy);
	if (ret < 0)
		return -1;
	fs_conf.engine = ipc_engines[0];
	if (!fs_conf.engine_name)
		return 0;
	for (e = ipc_engines; *e; e++)
		if (strcmp((*e)->name, fs_conf.engine_name) == 0)
			break;
	fs_conf.engine = *e;
	if (*e)
		return 0;
	fprintf(stderr, "ipcfs: -o engine=%s: unknown engine; known engines: ",
		fs_conf.engine_name);
	options_engines(stderr);
	fprintf(stderr, "\n");
	return -1;
}

int fs_options_parse(struct fuse_args *args)
{
	if (options_engine(args) < 0)
		return -1;
	if (fuse_opt_parse(args, &fs_conf, options_spec, options_proc) < 0)
		return -1;
	if (!fs_conf.prefix)
		fs_conf.prefix = strdup("");
	if (!fs_conf.prefix)
		return -1;
	fs_conf.prefix_len = strlen(fs_conf.prefix);
	if (strchr(fs_conf.prefix, '/') ||
	    fs_conf.prefix_len > OPTIONS_PREFIX_MAX) {
		fprintf(stderr,
			"ipcfs: -o prefix=%s: a prefix has at most %d characters and no '/'\n",
			fs_conf.prefix, OPTIONS_PREFIX_MAX);
		return -1;
	}
	return 0;
}

void fs_options_free(void)
{
	free((char *)fs_conf.prefix);
	fs_conf.prefix = NULL;
	free((char *)fs_conf.engine_name);
	fs_conf.engine_name = NULL;
	free((char *)fs_conf.log);
	fs_conf.log = NULL;
}

static void options_help_line(const struct ipc_option *o)
{
	const char *arg = o->string ? "TEXT" : "N";

	printf("    -o %s=%s%*s%s\n", o->name, arg,
	       (int)(21 - strlen(o->name) - strlen(arg)), "", o->help);
}

void fs_options_help(const char *progname)
{
	const struct ipc_kind *const *k;
	const struct ipc_option *o;

	printf("usage: %s [options] MOUNTPOINT\n\n"
	       "Mounts IPC objects as a tree: every object a directory, every\n"
	       "operation on it a file operation.\n\n"
	       "ipcfs options:\n"
	       "    -o prefix=PREFIX       show and create only objects named /PREFIX...\n"
	       "    -o no_default_permissions\n"
	       "                           let the daemon, not the kernel, check access\n"
	       "    -o log=FILE            the daemon's messages go to FILE, appended (default:\n"
	       "                           stderr in the foreground; detached, syslog if\n"
	       "                           /dev/log exists, else /run/ipcfs/ipcfs.PID.log)\n"
	       "    -o engine=NAME         where the objects live: ",
	       progname);
	options_engines(stdout);
	printf(" (default %s)\n", ipc_engines[0]->name);
	for (o = options_numbers; o->name; o++)
		options_help_line(o);
	for (o = fs_conf.engine->options; o && o->name; o++)
		options_help_line(o);
	printf("\nkinds of the %s engine:", fs_conf.engine->name);
	for (k = fs_conf.engine->kinds; *k; k++)
		printf(" %s/", (*k)->path ? (*k)->path : (*k)->name);
	printf("\n");
	for (k = fs_conf.engine->kinds; *k; k++)
		for (o = (*k)->options; o && o->name; o++)
			options_help_line(o);
	printf("\n");
}

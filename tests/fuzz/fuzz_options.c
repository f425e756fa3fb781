// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_options.c - libFuzzer target for fs_options_parse() (fs/options.c):
 * ipcfs's command line, its own options, the engine, the kinds' -o NAME=N
 * options (every engine's kinds) and whatever it hands on to libfuse.
 *
 * An input is split at its NUL bytes into arguments, after "ipcfs":
 * "-o\0prefix=x,mq_maxmsg=5" is `ipcfs -o prefix=x,mq_maxmsg=5`. The parser
 * may accept or refuse; what is checked is that it neither crashes nor
 * leaks (ASan's leak check stays on), that an accepted prefix has no '/',
 * and that every kind's option it accepts is within the option's bounds.
 * After each input the global state is put back: the prefix freed, fs_conf
 * as at start, the kinds' option values as they were. The parser's
 * complaints go to /dev/null; libFuzzer's and the sanitizers' do not.
 *
 *   $ build-fuzz/tests/fuzz/fuzz_options -runs=100000 tests/fuzz/corpus/options
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_OPTIONS_MAX 64 /* kinds' options, all told */

static long *fuzz_options_value[FUZZ_OPTIONS_MAX];
static long fuzz_options_saved[FUZZ_OPTIONS_MAX];
static const struct ipc_option *fuzz_options_opt[FUZZ_OPTIONS_MAX];
static int fuzz_options_n;
static struct fs_conf fuzz_options_conf;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct ipc_engine *const *e;
	const struct ipc_kind *const *k;
	const struct ipc_option *o;
	FILE *null;

	for (e = ipc_engines; *e; e++) {
		for (k = (*e)->kinds; *k; k++) {
			for (o = (*k)->options; o && o->name; o++) {
				if (fuzz_options_n == FUZZ_OPTIONS_MAX)
					abort();
				fuzz_options_opt[fuzz_options_n] = o;
				fuzz_options_value[fuzz_options_n] = o->value;
				fuzz_options_saved[fuzz_options_n++] =
					*o->value;
			}
		}
	}
	fuzz_options_conf = fs_conf;
	/*
	 * Quiet the parser's complaints and libfuse's, which print through
	 * stdio's stderr, but not file descriptor 2: libFuzzer's reports and
	 * the sanitizers' go there (libFuzzer kept its own FILE at start).
	 */
	null = fopen("/dev/null", "w");
	if (!null)
		abort();
	stderr = null;
	return 0;
}

/* What an accepted command line must have left. */
static void fuzz_options_check(void)
{
	int i;

	if (!fs_conf.prefix || strchr(fs_conf.prefix, '/') ||
	    strlen(fs_conf.prefix) != fs_conf.prefix_len)
		abort();
	for (i = 0; i < fuzz_options_n; i++)
		if (*fuzz_options_value[i] < fuzz_options_opt[i]->min ||
		    *fuzz_options_value[i] > fuzz_options_opt[i]->max)
			if (*fuzz_options_value[i] != fuzz_options_saved[i])
				abort();
}

static void fuzz_options_reset(void)
{
	int i;

	fs_options_free();
	fs_conf = fuzz_options_conf;
	for (i = 0; i < fuzz_options_n; i++)
		*fuzz_options_value[i] = fuzz_options_saved[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuse_args args;
	char *buf, **argv;
	size_t i, argc = 2;

	/* One argument per NUL-separated piece: at most size + 1 of them. */
	buf = malloc(size + 1);
	argv = calloc(size + 3, sizeof(*argv));
	if (!buf || !argv)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[0] = (char *)"ipcfs";
	argv[1] = buf;
	for (i = 0; i < size; i++)
		if (buf[i] == '\0')
			argv[argc++] = buf + i + 1;
	args = (struct fuse_args)FUSE_ARGS_INIT((int)argc, argv);
	if (fs_options_parse(&args) == 0)
		fuzz_options_check();
	fuse_opt_free_args(&args);
	fuzz_options_reset();
	free(argv);
	free(buf);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_names.c - libFuzzer target for fs_object_pname() (fs/util.c), which
 * turns the name of a mkdir, rmdir or lookup under a kind's directory into
 * the object's POSIX name, or refuses it.
 *
 * The first byte of an input picks the kind (of the default engine) and the
 * mount's prefix (none, a short one, or the longest allowed); the rest, up to
 * its first NUL, is the name, as the kernel hands it over. The contract
 * checked:
 * the answer is 0, -EINVAL, -ENAMETOOLONG or -ENOMEM; on 0 the POSIX name
 * is "/" PREFIX NAME, with no other '/' and at most name_max characters
 * after its '/'; on -ENAMETOOLONG the prefix and the name together are
 * longer than name_max. A kind with a mapping of its own (name_in) is held
 * to the answers only, and the prefix counts only for kinds it applies to.
 * A violation aborts.
 *
 *   $ build-fuzz/tests/fuzz/fuzz_names -runs=100000 tests/fuzz/corpus/names
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

#define FUZZ_NAMES_PREFIX_MAX 200 /* options.c's OPTIONS_PREFIX_MAX */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_names_long[FUZZ_NAMES_PREFIX_MAX + 1];
static const char *fuzz_names_prefixes[] = { "", "fz", fuzz_names_long };
static size_t fuzz_names_nkinds;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	memset(fuzz_names_long, 'p', FUZZ_NAMES_PREFIX_MAX);
	while (ipc_engines[0]->kinds[fuzz_names_nkinds])
		fuzz_names_nkinds++;
	return 0;
}

static void fuzz_names_check(const struct ipc_kind *kind, const char *name)
{
	size_t plen = kind->prefixed ? fs_conf.prefix_len : 0;
	size_t len = strlen(name);
	char *pname = NULL;
	int ret;

	ret = fs_object_pname(kind, name, &pname);
	switch (ret) {
	case 0:
		if (!pname)
			abort();
		/* A kind's own mapping is its own: only the POSIX rule's. */
		if (!kind->name_in &&
		    (pname[0] != '/' || strchr(pname + 1, '/') ||
		     strlen(pname) > kind->name_max + 1 ||
		     strlen(pname) != 1 + plen + len ||
		     strncmp(pname + 1, fs_conf.prefix, plen) ||
		     strcmp(pname + 1 + plen, name)))
			abort();
		free(pname);
		break;
	case -ENAMETOOLONG:
		if (!kind->name_in && plen + len <= kind->name_max)
			abort();
		break;
	case -EINVAL:
	case -ENOMEM:
		break;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *prefix;
	char *name;
	size_t pick;

	if (size == 0)
		return -1;
	pick = data[0];
	prefix = fuzz_names_prefixes[(pick / fuzz_names_nkinds) % 3];
	fs_conf.prefix = prefix;
	fs_conf.prefix_len = strlen(prefix);
	name = strndup((const char *)data + 1, size - 1);
	if (!name)
		abort();
	fuzz_names_check(ipc_engines[0]->kinds[pick % fuzz_names_nkinds], name);
	free(name);
	fs_conf.prefix = NULL;
	fs_conf.prefix_len = 0;
	return 0;
}

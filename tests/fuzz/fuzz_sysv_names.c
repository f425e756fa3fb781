// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_sysv_names.c - libFuzzer target for sysv_name_in() and
 * sysv_key_of() (backends/sysv.c): the directory names of sysv/'s objects,
 * which anybody may look up or mkdir.
 *
 * Input: a directory name (cut at its first NUL). The contract checked: a
 * name is accepted exactly when it is "0x" and 8 lowercase hex digits of a
 * key other than 0, or "id." and the decimal digits of an int as the kernel
 * prints an id (no sign, no leading zero); then the object name written is
 * the directory name itself, and name_out gives it back. Anything else is
 * -EINVAL or, past SYSV_NAME_MAX characters, -ENAMETOOLONG. A violation
 * aborts.
 *
 *   $ build-fuzz/tests/fuzz/fuzz_sysv_names -runs=100000 tests/fuzz/corpus/sysv_names
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sysv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool fuzz_hex8(const char *s)
{
	size_t i;

	for (i = 0; i < 8; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[8] == '\0' && strcmp(s, "00000000") != 0;
}

static bool fuzz_id(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 10 || (s[0] == '0' && n > 1))
		return false;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return strtoll(s, NULL, 10) <= INT_MAX;
}

/* The rule alone: 0 for a good name, else the errno. */
static int fuzz_expect(const char *name)
{
	if (strlen(name) > SYSV_NAME_MAX)
		return -ENAMETOOLONG;
	if (strncmp(name, "0x", 2) == 0 && fuzz_hex8(name + 2))
		return 0;
	if (strncmp(name, "id.", 3) == 0 && fuzz_id(name + 3))
		return 0;
	return -EINVAL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = strndup((const char *)data, size);
	char obj[SYSV_NAME_MAX + 2], dir[SYSV_NAME_MAX + 2];
	key_t key;
	int ret, want;

	if (!name)
		return 0;
	ret = sysv_name_in(name, obj, sizeof(obj));
	want = fuzz_expect(name);
	if (ret != want)
		abort();
	if (ret == 0 && (strcmp(obj, name) != 0 ||
			 sysv_name_out(obj, dir, sizeof(dir)) != 0 ||
			 strcmp(dir, name) != 0))
		abort();
	if (sysv_key_of(name, &key) !=
	    (strncmp(name, "0x", 2) == 0 && strlen(name) == 10 &&
	     (fuzz_hex8(name + 2) || strcmp(name + 2, "00000000") == 0)))
		abort();
	free(name);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_parse_long.c - libFuzzer target for ipc_parse_long() (fs/util.c),
 * the parser behind every numeric attribute file and mount option.
 *
 * Each input is passed as it is, not NUL-terminated (ASan sees a read past
 * its end), as the buffer of one write to an attribute file. The contract
 * checked: the parser returns 0 or -EINVAL; on 0 the input was an optional
 * '-', one or more digits and at most one trailing newline, and the value is
 * the one strtol() reads from those digits, in range (a number too large
 * for a long is -EINVAL). On -EINVAL nothing is assumed. A violation aborts.
 *
 *   $ build-fuzz/tests/fuzz/fuzz_parse_long -runs=100000 tests/fuzz/corpus/parse_long
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Length of the number in buf: '-'? digit+ '\n'?, the whole of it, or 0. */
static size_t fuzz_parse_long_digits(const char *buf, size_t len)
{
	size_t i = 0, start;

	if (len && buf[len - 1] == '\n')
		len--;
	if (i < len && buf[i] == '-')
		i++;
	start = i;
	while (i < len && buf[i] >= '0' && buf[i] <= '9')
		i++;
	return i == len && i > start ? len : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	char *copy, back[32];
	long val = 0x5a5a5a5a, want;
	size_t n;
	int ret;

	ret = ipc_parse_long(buf, size, &val);
	if (ret == -EINVAL)
		return 0;
	if (ret != 0)
		abort();
	n = fuzz_parse_long_digits(buf, size);
	copy = n ? strndup(buf, n) : NULL;
	if (!copy)
		abort();
	errno = 0;
	want = strtol(copy, NULL, 10);
	if (errno == ERANGE || want != val)
		abort();
	free(copy);
	/* And the value prints back as a number that reads the same. */
	snprintf(back, sizeof(back), "%ld", val);
	if (strtol(back, NULL, 10) != val)
		abort();
	return 0;
}

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_lines.c - libFuzzer target for ipc_line_next() (fs/util.c), the
 * splitter behind queues/NAME/lines: a writer's bytes, cut into writes of
 * any sizes, become one message per line.
 *
 * Input: byte 0 picks the longest line (1..64 bytes), byte 1 how the rest
 * is cut into writes (sizes 1..17); the rest is what the writer writes.
 * Each write is split as backends/mq.c's lines file splits it, holding an
 * unended line across writes. The contract checked: every line handed out
 * is exactly the next line of the whole stream (its bytes up to and
 * including the next newline, never more than the longest), *take stays
 * within the write, the bytes held are the unended rest of the stream, and
 * -EMSGSIZE comes exactly when the line being made is longer than the
 * longest. A violation aborts.
 *
 *   $ build-fuzz/tests/fuzz/fuzz_lines -runs=100000 tests/fuzz/corpus/lines
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Length of the line of s[0..len) from its start: through '\n', or all. */
static size_t fuzz_lines_line(const char *s, size_t len)
{
	const char *nl = len ? memchr(s, '\n', len) : NULL;

	return nl ? (size_t)(nl - s) + 1 : len;
}

/* One write of buf[at..at+len): false once a line was too long. */
static bool fuzz_lines_write(const char *buf, size_t at, size_t len, size_t max,
			     size_t *start)
{
	size_t pos = at, end = at + len, take, line;
	int ret;

	while (pos < end) {
		take = (size_t)-1;
		ret = ipc_line_next(buf + pos, end - pos, pos - *start, max,
				    &take);
		if (take == 0 || take > end - pos)
			abort();
		/* The line from its start, in the whole stream. */
		line = fuzz_lines_line(buf + *start, end - *start);
		if (ret == -EMSGSIZE) {
			if (line <= max || pos + take != *start + line)
				abort();
			return false;
		}
		if (line > max || pos + take != *start + line)
			abort();
		if (ret == 1 && buf[pos + take - 1] != '\n')
			abort();
		if (ret == 0 && pos + take != end)
			abort();
		if (ret != 0 && ret != 1)
			abort();
		pos += take;
		if (ret == 1)
			*start = pos; /* the next line starts here */
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data + 2;
	size_t max, seed, at = 0, len, start = 0, n;
	unsigned int i = 0;

	if (size < 2)
		return 0;
	max = 1 + data[0] % 64;
	seed = data[1];
	n = size - 2;
	while (at < n) {
		len = 1 + (seed * ++i) % 17;
		if (len > n - at)
			len = n - at;
		if (!fuzz_lines_write(buf, at, len, max, &start))
			return 0;
		at += len;
	}
	/* What is held at the end is the unended last line, if any. */
	if (start > n || fuzz_lines_line(buf + start, n - start) != n - start ||
	    (n > start && buf[n - 1] == '\n'))
		abort();
	return 0;
}

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_frame.c - libFuzzer target for ipc_frame_parse() and
 * ipc_frame_head() (fs/util.c), the frame of queues' framed file on every
 * engine: "PRIO\tMESSAGE".
 *
 * Input: a writer's bytes, parsed as one write. The contract checked: a
 * head is accepted exactly when the bytes start with 1 to 5 decimal digits
 * of a value of at most IPC_FRAME_PRIO_MAX followed by a tab; then its
 * length is those digits and the tab, *prio their value, and the head
 * ipc_frame_head() writes for that priority parses back to it, as long as
 * the digits without their leading zeros. Otherwise -EINVAL, *prio
 * untouched. A violation aborts.
 *
 *   $ build-fuzz/tests/fuzz/fuzz_frame -runs=100000 tests/fuzz/corpus/frame
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the head should be, by the rule alone: its length, or -EINVAL. */
static int fuzz_frame_expect(const char *buf, size_t len, unsigned long *val)
{
	size_t i;

	*val = 0;
	for (i = 0; i < len && buf[i] >= '0' && buf[i] <= '9'; i++)
		if (i < IPC_FRAME_DIGITS)
			*val = *val * 10 + (buf[i] - '0');
	if (i == 0 || i > IPC_FRAME_DIGITS || i == len || buf[i] != '\t' ||
	    *val > IPC_FRAME_PRIO_MAX)
		return -EINVAL;
	return i + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	char head[IPC_FRAME_HEAD_MAX];
	unsigned int prio = 0xdeadbeef, again;
	unsigned long val;
	size_t n, zeros;
	int ret, want;

	ret = ipc_frame_parse(buf, size, &prio);
	want = fuzz_frame_expect(buf, size, &val);
	if (ret != want)
		abort();
	if (ret < 0) {
		if (prio != 0xdeadbeef)
			abort();
		return 0;
	}
	if (prio != val)
		abort();
	n = ipc_frame_head(prio, head);
	for (zeros = 0; zeros < (size_t)ret - 2 && buf[zeros] == '0'; zeros++)
		;
	if (n < 2 || n > IPC_FRAME_HEAD_MAX || n != (size_t)ret - zeros ||
	    memcmp(head, buf + zeros, n) != 0 ||
	    ipc_frame_parse(head, n, &again) != (int)n || again != prio)
		abort();
	return 0;
}

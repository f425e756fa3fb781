// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_notify.c - libFuzzer target for pg_payload_parse() (backends/pg/
 * conn.c): the payload of a notification on channel "ipcfs", which any
 * client of the database may send, so the daemon reads it as input.
 *
 * The contract checked: a payload taken is exactly "KIND OP ID NAME" put
 * together again from its parts (KIND not empty and without a space, OP c
 * or x, ID at most 18 digits, NAME starting with '/'); nothing is read
 * past the payload's end. A violation aborts.
 *
 *   $ build-fuzz/tests/fuzz/fuzz_notify -runs=100000 tests/fuzz/corpus/notify
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *payload = malloc(size + 1), *again;
	const char *name;
	size_t kind_len;
	long long id;
	char op;
	int len;

	if (!payload)
		return 0;
	memcpy(payload, data, size);
	payload[size] = '\0';
	if (pg_payload_parse(payload, &kind_len, &op, &id, &name) == 0) {
		if (!kind_len || memchr(payload, ' ', kind_len) ||
		    (op != 'c' && op != 'x') || id < 0 || *name != '/' ||
		    name < payload || name > payload + strlen(payload))
			abort();
		len = asprintf(&again, "%.*s %c %lld %s", (int)kind_len,
			       payload, op, id, name);
		/* Leading zeros of ID are the one thing not kept. */
		if (len < 0 ||
		    (strcmp(again, payload) != 0 && !strstr(payload, " 0")))
			abort();
		free(again);
	}
	free(payload);
	return 0;
}

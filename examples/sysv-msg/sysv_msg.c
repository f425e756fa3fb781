/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sysv_msg.c - the classic System V message queue program (msgget, msgsnd
 * with a type, msgrcv of one type), on a queue that mkdir made in the
 * tree: sysv/msg/KEY is msgget(KEY). It sends a message of type 7, which
 * the shell receives with `cat data` (the first message, any type), then
 * waits for a message of type 1, which the shell sends with `echo > data`
 * (a write sends type 1).
 *
 *   $ mkdir sysv/msg/0x7e570001; ./sysv_msg 0x7e570001 &
 *   $ cat sysv/msg/0x7e570001/data
 *   hello from msgsnd, type 7
 *   $ echo "hello from the shell" > sysv/msg/0x7e570001/data
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>

struct message {
	long mtype;
	char mtext[256];
};

int main(int argc, char **argv)
{
	struct message out = { 7, "hello from msgsnd, type 7\n" }, in;
	key_t key;
	ssize_t n;
	int id;

	if (argc != 2) {
		fprintf(stderr, "usage: sysv_msg KEY\n");
		return 2;
	}
	key = (key_t)strtoul(argv[1], NULL, 16);
	id = msgget(key, 0); /* the queue mkdir made */
	if (id < 0)
		return perror("msgget"), 1;
	if (msgsnd(id, &out, strlen(out.mtext), 0) < 0)
		return perror("msgsnd"), 1;
	n = msgrcv(id, &in, sizeof(in.mtext), 1, 0); /* type 1 only */
	if (n < 0)
		return perror("msgrcv"), 1;
	printf("msgrcv type %ld: %.*s", in.mtype, (int)n, in.mtext);
	return 0;
}

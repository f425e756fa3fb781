// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tags.c - the PostgreSQL engine's tagged calls: a queue handle's sends
 * and receives, made safe to send again over a new connection.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

/*
 * Tags: a call that changes something, made safe to send again. The tag,
 * "MOUNT KEY N SUM", names the file handle (KEY, a number of this mount's),
 * the handle's call (N: the next one only once this one was answered) and
 * what it sends (SUM). The database remembers per handle what its last
 * call did (ipcfs.calls): the same call again is answered from that (a
 * message is not sent twice; a receive returns the message it took, which
 * the database keeps until the handle's next call or its end, and gives
 * back in its place if that call was never answered). So a
 * connection that breaks in the middle of a call loses and doubles
 * nothing: a worker sends the call again once connected, within
 * pg_timeout; a retry from the loop is the same call again later.
 */
static atomic_llong pg_tag_keys;
static pthread_mutex_t settle_lock = PTHREAD_MUTEX_INITIALIZER;
/*
 * The handles done since the last tick, as the arrays of ipcfs.settle:
 * keys, doubts, their last calls' numbers ("{1,2}", "{f,t}", "{3,9}").
 */
struct pg_array {
	char *s;
	size_t len;
};
static struct pg_array settle_arrays[3]; /* under settle_lock */

void pg_tag_init(struct pg_tag *t)
{
	*t = (struct pg_tag){ .key = atomic_fetch_add(&pg_tag_keys, 1) + 1 };
}

/*
 * A hash of the length and all the bytes, 8 at a time (FNV-1a's step on
 * words): tells a handle's two calls apart, at a few GB/s.
 */
static unsigned long long pg_sum(const char *data, size_t len)
{
	unsigned long long h = 14695981039346656037ULL ^ len, w;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, data + i, 8);
		h = (h ^ w) * 1099511628211ULL;
		h ^= h >> 29;
	}
	for (; i < len; i++)
		h = (h ^ (unsigned char)data[i]) * 1099511628211ULL;
	return h;
}

PGresult *pg_call(struct pg_tag *t, const char *sql, int n, const char **vals,
		  const int *lens, const char *data, size_t len, int *err)
{
	char tag[96];
	PGresult *r;

	if (!t->doubt)
		t->n++;
	snprintf(tag, sizeof(tag), "%s %lld %lld %llu", pg_mount, t->key, t->n,
		 pg_sum(data, len) >> 1);
	vals[n - 1] = tag;
	r = pg_query_again(sql, n, vals, lens, true, err);
	t->doubt = !r && (*err == -EIO || *err == -EAGAIN);
	return r;
}

/*
 * Append x[i] to each growing "{a,b" (closed by pg_settle): to all three
 * or, without the memory, to none (the handle is then forgotten: its row
 * goes with the mount).
 */
static void pg_arrays_add(struct pg_array a[3], const char *const x[3])
{
	char *grown;
	int i;

	for (i = 0; i < 3; i++) {
		grown = realloc(a[i].s, a[i].len + strlen(x[i]) + 3);
		if (!grown)
			return;
		a[i].s = grown;
	}
	for (i = 0; i < 3; i++)
		a[i].len += sprintf(a[i].s + a[i].len, "%c%s",
				    a[i].len ? ',' : '{', x[i]);
}

/*
 * The handle is done: what its last call took is delivered (or given back
 * in its place, if that call was never answered). Batched for the tick.
 */
void pg_tag_release(struct pg_tag *t)
{
	char key[24], n[24];
	const char *x[3] = { PG_NUM(key, t->key), t->doubt ? "t" : "f",
			     PG_NUM(n, t->n) };

	if (!t->n)
		return;
	pthread_mutex_lock(&settle_lock);
	pg_arrays_add(settle_arrays, x);
	pthread_mutex_unlock(&settle_lock);
}

void pg_settle(void)
{
	struct pg_array a[3];
	const char *vals[4] = { pg_mount };
	int i;

	pthread_mutex_lock(&settle_lock);
	memcpy(a, settle_arrays, sizeof(a));
	memset(settle_arrays, 0, sizeof(settle_arrays));
	pthread_mutex_unlock(&settle_lock);
	if (!a[0].s || !a[1].s || !a[2].s)
		goto out;
	for (i = 0; i < 3; i++) {
		strcpy(a[i].s + a[i].len, "}");
		vals[i + 1] = a[i].s;
	}
	if (pg_exec("SELECT ipcfs.settle($1, $2, $3, $4)", 4, vals, NULL) < 0) {
		/* Again at the next tick: put them back. */
		const char *x[3];

		for (i = 0; i < 3; i++) {
			a[i].s[a[i].len] = 0;
			x[i] = a[i].s + 1;
		}
		pthread_mutex_lock(&settle_lock);
		pg_arrays_add(settle_arrays, x);
		pthread_mutex_unlock(&settle_lock);
	}
out:
	for (i = 0; i < 3; i++)
		free(a[i].s);
}

int pg_exec(const char *sql, int n, const char *const *vals, const int *lens)
{
	PGresult *r;
	int err;

	r = pg_query(sql, n, vals, lens, &err);
	PQclear(r);
	return r ? 0 : err;
}

/* Binary results are in network byte order, of the column's own width. */
long long pg_int(const PGresult *r, int row, int col)
{
	const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
	int len = PQgetlength(r, row, col), i;
	unsigned long long v = 0;

	if (PQgetisnull(r, row, col) || len <= 0 || len > 8)
		return 0;
	for (i = 0; i < len; i++)
		v = v << 8 | p[i];
	if (len < 8 && p[0] & 0x80 && len > 1) /* sign-extend int2/int4 */
		v |= ~0ULL << (len * 8);
	return (long long)v;
}

double pg_float(const PGresult *r, int row, int col)
{
	long long bits = pg_int(r, row, col);
	double d;

	memcpy(&d, &bits, sizeof(d));
	return PQgetlength(r, row, col) == 8 ? d : 0;
}

const char *pg_bytes(const PGresult *r, int row, int col, int *len)
{
	*len = PQgetlength(r, row, col);
	return PQgetvalue(r, row, col);
}

/* At exit: what could not be settled goes with the mount (mount_detach). */
void pg_tags_free(void)
{
	int i;

	for (i = 0; i < 3; i++) {
		free(settle_arrays[i].s);
		settle_arrays[i] = (struct pg_array){ 0 };
	}
}

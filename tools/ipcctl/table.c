// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * table.c - the columns a listing offers, -o LIST, and its libsmartcols
 * table: libsmartcols aligns, prints raw (-r) and JSON (-J), where a number
 * column's cells are JSON numbers and a cell never set is null.
 *
 *   $ ipcctl ls -o +GROUP         # the default columns, then GROUP
 *   $ ipcctl ls -J -o kind,name   # {"objects": [{"kind": ..., "name": ...}]}
 */
#include <errno.h>
#include <libsmartcols.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ipcctl.h"

static bool table_chosen(const struct table *t, const struct table_column *c)
{
	size_t i;

	for (i = 0; i < t->ncols; i++)
		if (t->cols[i] == c)
			return true;
	return false;
}

/*
 * Add the columns of comma-separated LIST, by name in any case, to T. A
 * column asked for twice (-o kind,kind, or -o +KIND) is shown once, where
 * it was first asked for: JSON has no two keys alike.
 */
static int table_choose(struct table *t, const struct table_column *all,
			size_t nall, const char *list)
{
	const char *s = list, *end;
	size_t i, len;

	for (; *s; s = *end ? end + 1 : end) {
		end = strchrnul(s, ',');
		len = end - s;
		for (i = 0; i < nall; i++)
			if (strlen(all[i].name) == len &&
			    strncasecmp(all[i].name, s, len) == 0)
				break;
		if (i == nall) {
			fprintf(stderr, "ipcctl: unknown column '%.*s'\n",
				(int)len, s);
			return -EINVAL;
		}
		if (table_chosen(t, &all[i]))
			continue;
		if (t->ncols == TABLE_COLUMNS_MAX) {
			fprintf(stderr, "ipcctl: too many columns in '%s'\n",
				list);
			return -EINVAL;
		}
		t->cols[t->ncols++] = &all[i];
	}
	return 0;
}

/*
 * A table named NAME (the key of JSON's list) of the columns o->output
 * picks from ALL ("+LIST": DFLT's, then LIST's). Returns 0, -EINVAL for a
 * bad -o (told: exit 2), or -ENOMEM (told).
 */
int table_new(struct table *t, const char *name, const struct table_opts *o,
	      const struct table_column *all, size_t nall, const char *dflt)
{
	const struct table_column *c;
	struct libscols_column *cl;
	size_t i;
	int ret;

	memset(t, 0, sizeof(*t));
	if (!o->output || o->output[0] == '+')
		ret = table_choose(t, all, nall, dflt);
	else
		ret = 0;
	if (ret == 0 && o->output)
		ret = table_choose(t, all, nall,
				   o->output + (o->output[0] == '+'));
	if (ret == 0 && t->ncols == 0) {
		fprintf(stderr, "ipcctl: no columns in '%s'\n", o->output);
		ret = -EINVAL;
	}
	if (ret < 0)
		goto out;
	t->tb = scols_new_table();
	if (!t->tb)
		goto out_nomem;
	scols_table_set_name(t->tb, name);
	scols_table_enable_json(t->tb, o->json);
	scols_table_enable_raw(t->tb, o->raw);
	scols_table_enable_noheadings(t->tb, o->noheadings);
	for (i = 0; i < t->ncols; i++) {
		c = t->cols[i];
		cl = scols_table_new_column(t->tb, c->name, c->whint, c->flags);
		if (!cl)
			goto out_nomem;
		scols_column_set_json_type(cl, c->json);
	}
	goto out;
out_nomem:
	table_free(t);
	errno = ENOMEM;
	ipcctl_error("libsmartcols");
	ret = -ENOMEM;
out:
	return ret;
}

struct libscols_line *table_line(struct table *t)
{
	struct libscols_line *ln = scols_table_new_line(t->tb, NULL);

	if (!ln) {
		errno = ENOMEM;
		ipcctl_error("libsmartcols");
	}
	return ln;
}

/*
 * Cell I of line LN. A cell left alone (DATA NULL) prints empty in a table
 * and null in JSON, whatever its column's type: "not applicable".
 */
int table_set(struct table *t, struct libscols_line *ln, size_t i,
	      const char *data)
{
	if (!data)
		return 0;
	if (scols_line_set_data(ln, i, data) < 0) {
		errno = ENOMEM;
		ipcctl_error("libsmartcols");
		return -ENOMEM;
	}
	return 0;
}

int table_set_number(struct table *t, struct libscols_line *ln, size_t i,
		     long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	return table_set(t, ln, i, buf);
}

int table_print(struct table *t)
{
	int ret = scols_print_table(t->tb);

	if (ret < 0) {
		errno = -ret;
		ipcctl_error("standard output");
	}
	return ret;
}

void table_free(struct table *t)
{
	scols_unref_table(t->tb);
	t->tb = NULL;
}

/* For --help: each column, and what it says. */
void table_help_columns(FILE *out, const struct table_column *all, size_t nall)
{
	size_t i;

	for (i = 0; i < nall; i++)
		fprintf(out, " %12s  %s\n", all[i].name, all[i].help);
}

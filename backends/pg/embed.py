#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""embed.py SQL HEADER - write schema.sql as a C string, pg_schema_sql[],
which the daemon runs in a database that has no schema ipcfs yet."""
import sys

with open(sys.argv[1], encoding="utf-8") as f:
    sql = f.read()
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write("/* Generated from backends/pg/schema.sql by embed.py. */\n")
    out.write("static const char pg_schema_sql[] =\n")
    for line in sql.splitlines():
        esc = line.replace("\\", "\\\\").replace('"', '\\"')
        out.write('\t"%s\\n"\n' % esc)
    out.write("\t;\n")

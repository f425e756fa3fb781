#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/man.sh - the man pages are lint-clean: `mandoc -T lint -W warning`
# and `groff -ww -z -man` print nothing for each. Skipped (exit 77)
# without mandoc; without groff only mandoc checks.
#
#   $ tests/man.sh man/ipcfs.8 man/ipcctl.1
#   ok man/ipcfs.8
#   ok man/ipcctl.1
set -u

if ! command -v mandoc >/dev/null; then
	echo "mandoc is not installed (apt-get install mandoc): skipped"
	exit 77
fi
groff=$(command -v groff) || echo "groff is not installed: mandoc only"

status=0
for page in "$@"; do
	out=$(mandoc -T lint -W warning "$page" 2>&1)
	[ -n "$groff" ] && out+=$("$groff" -ww -z -man "$page" 2>&1)
	if [ -n "$out" ]; then
		printf 'not ok %s\n%s\n' "$page" "$out"
		status=1
	else
		echo "ok $page"
	fi
done
exit $status

# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# examples/lib.sh - sourced by each examples/NAME/check.
#
# A check gets the mount point in $IPCFS_MNT (mounted, under a prefix of
# its own), ipcctl in $IPCCTL and a scratch directory in $TMPDIR_EX; by
# hand only IPCFS_MNT is needed. It registers every object it or its
# programs make (made KIND/NAME); whatever is left of them at exit is
# removed with rmdir. Every program runs under `timeout`.

: "${IPCFS_MNT:?set IPCFS_MNT to an ipcfs mount point (tools/ipcfs-up)}"
for kind in queues channels shm sem; do
	if [ ! -d "$IPCFS_MNT/$kind" ]; then
		echo "$IPCFS_MNT: no $kind/: not an ipcfs mount" >&2
		exit 2
	fi
done
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
if [ -z "${IPCCTL:-}" ]; then
	IPCCTL=$(command -v ipcctl || echo "$top/build/ipcctl")
fi
own_tmp=
if [ -z "${TMPDIR_EX:-}" ]; then
	TMPDIR_EX=$(mktemp -d)
	own_tmp=$TMPDIR_EX
fi
export IPCFS_MNT IPCCTL TMPDIR_EX
# shellcheck disable=SC2034 # the checks' bound on one program, in seconds
T=${EXAMPLE_TIMEOUT:-30}

made=()
made() { # KIND/NAME...: objects to remove at exit, if still there
	made+=("$@")
}

cleanup() {
	local o
	for o in ${made[@]+"${made[@]}"}; do
		if [ -d "$IPCFS_MNT/$o" ]; then
			rmdir "$IPCFS_MNT/$o" || echo "cannot remove $o" >&2
		fi
	done
	[ -z "$own_tmp" ] || rm -rf "$own_tmp"
}
trap cleanup EXIT

# is_pi FILE: what every pi program prints (the seeds' series in 10 parts,
# each rounded to a multiple of 2^-52), so that two runs that printed the
# same nothing, or the same wrong number, cannot pass.
is_pi() {
	if [ "$(cat "$1")" != 3.1415926217588828 ]; then
		echo "$1: not the pi sum: $(head -c 100 "$1")" >&2
		exit 1
	fi
	echo "ok - $1 is 3.1415926217588828"
}

# sysv_key [N]: a System V key of this check's, as the tree spells it.
# Keys have no prefix, so the examples take theirs from 0x7e57XXXX (from
# the check's PID; N, 0 to 15, for more than one), which
# tests/mount/test_examples.py knows as theirs.
sysv_key() {
	printf '0x7e57%04x' $(((($$ & 0xfff) << 4 | ${1:-0}) & 0xffff))
}

# same WHAT WANT GOT: the two files must be byte for byte the same.
same() {
	if ! cmp -s "$2" "$3"; then
		echo "$1: differs (want $2, got $3):" >&2
		diff -u "$2" "$3" >&2 || true
		exit 1
	fi
	echo "ok - $1"
}

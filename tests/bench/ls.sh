#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# tests/bench/ls.sh - how long `ipcctl ls -J` takes on a thousand objects.
#
# Builds what is missing, mounts ipcfs (under its own prefix, with small
# queues so that 250 fit in one user's RLIMIT_MSGQUEUE) on a fresh
# temporary mount point, makes 250 objects of each kind through the tree,
# and times `ipcctl ls -J` (the median of 5 runs) against `ls -l` of the
# same objects where the system shows them natively: segments and
# semaphores in /dev/shm, queues in an mqueue file system (/dev/mqueue, or
# one mounted for the run); channels have no native listing. It checks that
# ipcctl listed every object, and always removes the objects, unmounts,
# stops the daemon and removes the mount points, however it ends. Every
# wait is bounded. Exit status: 0 done, 1 failed, 2 usage; 77: no usable
# /dev/fuse, for meson's "skipped".
#
#	$ tests/bench/ls.sh --smoke	# 10 objects of each kind, seconds
#	$ tests/bench/ls.sh build	# 250 of each, the figures

# cleanup and the functions it calls run from traps:
# shellcheck disable=SC2317

set -u

prog=tests/bench/${0##*/}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

usage() {
	cat <<EOF2
usage: $prog [--smoke] [--per-kind N] [--runs N] [BUILD_DIR]
Mount ipcfs on a temporary mount point, make N objects of each kind
(default 250), and time BUILD_DIR/ipcctl ls -J (the median of the runs)
against ls -l of /dev/shm and of an mqueue file system. BUILD_DIR defaults
to $src/build; it is set up and built when it or the binaries are missing.

  --smoke        10 objects of each kind, 3 runs
  --per-kind N   N objects of each kind
  --runs N       time each listing N times (default 5)
  -h, --help     this text
  --version      the version
Exit status: 0 done, 1 failed, 2 usage, 77 when /dev/fuse is unusable.
EOF2
}

per_kind=250
runs=5
build=
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) per_kind=10 runs=3 ;;
	--per-kind | --runs)
		if [ $# -lt 2 ] || ! [[ $2 =~ ^[1-9][0-9]*$ ]]; then
			echo "$prog: $1 wants a number" >&2
			exit 2
		fi
		if [ "$1" = --runs ]; then runs=$2; else per_kind=$2; fi
		shift
		;;
	-h | --help) usage; exit 0 ;;
	--version) echo "$prog (ipcfs)"; exit 0 ;;
	-*) echo "$prog: unknown option $1" >&2; usage >&2; exit 2 ;;
	*)
		if [ -n "$build" ]; then
			echo "$prog: one BUILD_DIR only" >&2
			exit 2
		fi
		build=$1
		;;
	esac
	shift
done

# Seconds per mount, daemon, mkdir/rmdir batch or listing step.
step=30

if ! [ -c /dev/fuse ] || ! [ -r /dev/fuse ] || ! [ -w /dev/fuse ]; then
	echo "$prog: /dev/fuse is not usable here; skipping" >&2
	exit 77
fi

# --- build -------------------------------------------------------------

bins=(ipcfs ipcctl)
missing=
if [ -z "$build" ]; then
	build=$src/build
	missing=yes	# always let ninja check that they are up to date
fi
for b in "${bins[@]}"; do
	[ -x "$build/$b" ] || missing=yes
done
if [ -n "$missing" ]; then
	if ! [ -f "$build/build.ninja" ]; then
		meson setup "$build" "$src" >&2 || exit 1
	fi
	ninja -C "$build" "${bins[@]}" >&2 || exit 1
fi

# --- mount, time, and always clean up ----------------------------------

prefix=lsbench$$_
kinds=(queues channels shm sem)
mnt=
mqdir=		# an mqueue file system: /dev/mqueue, or ours
mqmnt=		# ours, to unmount
logs=
ipcfs_pid=

is_mounted() {
	[ -n "$1" ] && grep -q "^[^ ]* $1 " /proc/self/mounts
}

# alive_within PID SECONDS: whether PID still runs after waiting that long
alive_within() {
	local pid=$1 tenths=$(($2 * 10))

	while kill -0 "$pid" 2>/dev/null; do
		[ "$tenths" -gt 0 ] || return 0
		tenths=$((tenths - 1))
		sleep 0.1
	done
	return 1
}

# stop PID GRACE: let PID end by itself for GRACE seconds, then make it end
stop() {
	local pid=$1

	[ -n "$pid" ] || return 0
	if alive_within "$pid" "$2"; then
		kill -TERM "$pid" 2>/dev/null
		if alive_within "$pid" 5; then
			echo "$prog: pid $pid ignores SIGTERM; killing it" >&2
			kill -KILL "$pid" 2>/dev/null
			alive_within "$pid" 5 && return 0
		fi
	fi
	wait "$pid" 2>/dev/null
}

unmount() {
	local m=$1

	is_mounted "$m" || return 0
	timeout 10 fusermount3 -u "$m" 2>/dev/null ||
		timeout 10 umount -l "$m" ||
		echo "$prog: cannot unmount $m" >&2
}

cleanup() {
	local status=$? k

	trap - EXIT INT TERM
	if is_mounted "$mnt"; then
		for k in "${kinds[@]}"; do
			# One rmdir a kind: the glob stays itself when empty.
			timeout "$step" rmdir "$mnt/$k/"o* 2>/dev/null
		done
	fi
	# Queues, segments and semaphores outlive the mount; remove them
	# natively if rmdir could not (channels live in the daemon).
	rm -f /dev/shm/"$prefix"* /dev/shm/sem."$prefix"*
	[ -n "$mqdir" ] && rm -f "$mqdir/$prefix"*
	unmount "$mnt"
	stop "$ipcfs_pid" 5
	if [ -n "$mqmnt" ] && is_mounted "$mqmnt"; then
		timeout 10 umount "$mqmnt" || echo "$prog: cannot unmount $mqmnt" >&2
	fi
	if [ -n "$logs" ] && [ -s "$logs/ipcfs.log" ]; then
		echo "$prog: ipcfs wrote on stderr:" >&2
		sed 's/^/  /' "$logs/ipcfs.log" >&2
	fi
	for d in "$mnt" "$mqmnt"; do
		[ -n "$d" ] && ! is_mounted "$d" && rmdir "$d" 2>/dev/null
	done
	[ -n "$logs" ] && rm -rf "$logs"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_mounted DIR PID: up to $step seconds, while the daemon lives
wait_mounted() {
	local dir=$1 pid=$2 tenths=$((step * 10))

	until is_mounted "$dir"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$prog: the daemon for $dir exited" >&2
			return 1
		fi
		if [ "$tenths" -le 0 ]; then
			echo "$prog: $dir not mounted after $step s" >&2
			return 1
		fi
		tenths=$((tenths - 1))
		sleep 0.1
	done
}

# median_ms RUNS CMD...: run CMD (output discarded) RUNS times, print the
# median wall time in milliseconds.
median_ms() {
	local n=$1 i t0 t1 times=()

	shift
	for ((i = 0; i < n; i++)); do
		t0=$EPOCHREALTIME
		if ! timeout "$step" "$@" >/dev/null; then
			echo "$prog: $* failed" >&2
			return 1
		fi
		t1=$EPOCHREALTIME
		times+=("$(((${t1/./} - ${t0/./}) / 1000))")
	done
	printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((n + 1) / 2))p"
}

logs=$(mktemp -d "${TMPDIR:-/tmp}/ipcfs-lsbench-logs.XXXXXX") || exit 1
mnt=$(mktemp -d "${TMPDIR:-/tmp}/ipcfs-lsbench.XXXXXX") || exit 1

# Queues of one message of 64 bytes: the kernel charges each 160 bytes of
# the caller's RLIMIT_MSGQUEUE (800 KiB by default), not 80 KiB.
"$build/ipcfs" -f -o "prefix=$prefix,mq_maxmsg=1,mq_msgsize=64" "$mnt" \
	2>"$logs/ipcfs.log" &
ipcfs_pid=$!
wait_mounted "$mnt" "$ipcfs_pid" || exit 1

mqdir=$(awk '$3 == "mqueue" { print $2; exit }' /proc/self/mounts)
if [ -z "$mqdir" ]; then
	mqmnt=$(mktemp -d "${TMPDIR:-/tmp}/ipcfs-lsbench-mq.XXXXXX") || exit 1
	if timeout 10 mount -t mqueue none "$mqmnt" 2>/dev/null; then
		mqdir=$mqmnt
	else
		echo "$prog: no mqueue file system, and none can be mounted: queues go unlisted natively" >&2
	fi
fi

for k in "${kinds[@]}"; do
	names=()
	for ((i = 1; i <= per_kind; i++)); do
		names+=("$mnt/$k/o$i")
	done
	if ! timeout "$step" mkdir "${names[@]}"; then
		echo "$prog: cannot make the objects of $mnt/$k" >&2
		exit 1
	fi
done
total=$((4 * per_kind))

# Every object, once, in each kind: ls -J is what is timed; this checks it.
# sysv/ shows the host's System V objects, other programs' too (keys take
# no prefix): only the kinds made here are counted.
listed=$(timeout "$step" "$build/ipcctl" ls -r -n -o KIND "$mnt" |
	grep -v '^sysv/' | sort | uniq -c |
	awk '{ printf "%s%s=%s", sep, $2, $1; sep = " " }')
want="channels=$per_kind queues=$per_kind sem=$per_kind shm=$per_kind"
if [ "$listed" != "$want" ]; then
	echo "$prog: ipcctl ls listed $listed, not $want" >&2
	exit 1
fi
if ! timeout "$step" "$build/ipcctl" ls -J "$mnt" | grep -q '"objects": \['; then
	echo "$prog: ipcctl ls -J printed no objects" >&2
	exit 1
fi

ipcctl_ms=$(median_ms "$runs" "$build/ipcctl" ls -J "$mnt") || exit 1
shm_ms=$(median_ms "$runs" ls -l /dev/shm) || exit 1
mq_ms=0
[ -n "$mqdir" ] && { mq_ms=$(median_ms "$runs" ls -l "$mqdir") || exit 1; }
native_ms=$((shm_ms + mq_ms))
shm_n=$(find /dev/shm -mindepth 1 -maxdepth 1 | wc -l)
mq_n=0
[ -n "$mqdir" ] && mq_n=$(find "$mqdir" -mindepth 1 -maxdepth 1 | wc -l)

printf '%s: %d objects (%d of each kind), prefix %s, median of %d runs\n' \
	"$prog" "$total" "$per_kind" "$prefix" "$runs"
printf '  %-40s %6d ms\n' "ipcctl ls -J $mnt" "$ipcctl_ms"
printf '  %-40s %6d ms  (%d entries)\n' "ls -l /dev/shm" "$shm_ms" "$shm_n"
[ -n "$mqdir" ] &&
	printf '  %-40s %6d ms  (%d entries)\n' "ls -l $mqdir" "$mq_ms" "$mq_n"
awk -v a="$ipcctl_ms" -v b="$native_ms" 'BEGIN {
	if (b > 0) printf "  ipcctl / native: %.1fx\n", a / b
	else printf "  ipcctl / native: (native under 1 ms)\n"
}'
exit 0

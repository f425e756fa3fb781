#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# run_fuzz.sh - run one libFuzzer target for a few seconds over a copy of its
# seed corpus, so the checked-in corpus is never written to; what the run
# finds new is thrown away with the copy. A crash, leak or timeout fails
# (libFuzzer's own exit code, 77, would read as "skipped" to meson) and
# leaves the input in ARTIFACTS.
#
#   $ tests/fuzz/run_fuzz.sh build-fuzz/tests/fuzz/fuzz_names \
#         tests/fuzz/corpus/names 5 /tmp/artifacts
set -euo pipefail

if [ $# -ne 4 ]; then
	echo "usage: run_fuzz.sh TARGET SEEDS SECONDS ARTIFACTS" >&2
	exit 2
fi
target=$1 seeds=$2 seconds=$3 artifacts=$4

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
work=$(mktemp -d "${TMPDIR:-/tmp}/ipcfs-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -R "$seeds/." "$work/"
mkdir -p "$artifacts"
"$target" -max_total_time="$seconds" -timeout=10 -error_exitcode=1 \
	-timeout_exitcode=1 -print_final_stats=1 \
	-artifact_prefix="$artifacts/" "$work"

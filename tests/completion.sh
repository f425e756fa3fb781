#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/completion.sh - the bash completion of ipcctl, with bash-completion
# loaded as in an interactive shell: the function is called with
# COMP_WORDS/COMP_CWORD set as bash would set them, and COMPREPLY checked.
# Skipped (exit 77) without bash-completion.
#
#   $ tests/completion.sh tools/ipcctl.bash-completion
#   ok 1 - verbs
#   ...
set -u

comp=${1:-$(dirname "$0")/../tools/ipcctl.bash-completion}
bc=
for f in "${BASH_COMPLETION:-}" /usr/share/bash-completion/bash_completion \
	/usr/local/share/bash-completion/bash_completion; do
	if [ -n "$f" ] && [ -r "$f" ]; then
		bc=$f
		break
	fi
done
if [ -z "$bc" ]; then
	echo "bash-completion is not installed: skipped"
	exit 77
fi
# shellcheck disable=SC1090
. "$bc"
# shellcheck disable=SC1090
. "$comp" || exit 1
# Outside a real completion compopt can only complain: what it would set
# (nospace, filenames) is not what is checked here.
compopt() { :; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/queues/jobs" "$tmp/sem/lock" "$tmp/topics/news"
: >"$tmp/queues/jobs/data"
cd "$tmp" || exit 1

n=0 failed=0
# complete WORD... : COMPREPLY for the last word, words as bash splits them
# (a final "" completes an empty word).
complete_words() {
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="${COMP_WORDS[*]}"
	COMP_LINE=${COMP_LINE// = /=}
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_ipcctl ipcctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
}

# check NAME "EXPECTED REPLIES" WORD...: COMPREPLY, sorted, is exactly that.
check() {
	local name=$1 want=$2 got
	shift 2
	complete_words "$@"
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ')
	# shellcheck disable=SC2086
	want=$(printf '%s\n' $want | sed '/^$/d' | sort | tr '\n' ' ')
	n=$((n + 1))
	if [ "$got" = "$want" ]; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name: completing '$*' gave '$got', expected '$want'"
		failed=$((failed + 1))
	fi
}

# has NAME REPLY WORD...: REPLY is among the completions.
has() {
	local name=$1 want=$2 r
	shift 2
	complete_words "$@"
	n=$((n + 1))
	for r in "${COMPREPLY[@]}"; do
		if [ "$r" = "$want" ]; then
			echo "ok $n - $name"
			return
		fi
	done
	echo "not ok $n - $name: completing '$*' gave '${COMPREPLY[*]}', no '$want'"
	failed=$((failed + 1))
}

check "verbs" "ls mkdir send recv wait post hold publish subscribe" ipcctl ""
check "verb prefix" "send" ipcctl se
check "global flags" "--help --version" ipcctl --
check "verb prefix p" "post publish" ipcctl p
check "ls long flags" "--json --raw --noheadings --output --queues --channels
	--shmems --semaphores --topics --global --help" ipcctl ls --
check "recv flags" "-v --verbose -t --type --timeout -h --help" ipcctl recv -
check "send flags" "-p --priority -t --type -h --help" ipcctl send -
check "send: no value for -t" "" ipcctl send -t ""
check "recv: DIR after --type" "queues/jobs" ipcctl recv --type -3 queues/
check "-o +ID" "+ID" ipcctl ls -o +I
check "wait flags" "--timeout -h --help" ipcctl wait -
check "mkdir flags" "--maxmsg --msgsize --capacity --size --value -m --mode
	-h --help" ipcctl mkdir -
check "mkdir long flags after one" "--maxmsg --mode --msgsize" ipcctl mkdir --maxmsg 10 --m
check "mkdir: no value for --capacity" "" ipcctl mkdir --capacity ""
check "mkdir -m modes" "600 640 644 660 666" ipcctl mkdir -m ""
check "mkdir --mode prefix" "640 644" ipcctl mkdir --mode 64
check "mkdir: DIR after options" "queues/jobs" ipcctl mkdir --maxmsg 5 -m 600 queues/
check "mkdir: nothing after DIR" "" ipcctl mkdir sem/lock ""
check "hold flags" "--timeout -h --help" ipcctl hold -
check "publish flags" "-h --help" ipcctl publish -
check "subscribe flags" "-c --count --timeout -h --help" ipcctl subscribe -
check "subscribe: no value for --count" "" ipcctl subscribe --count ""
check "subscribe: no value for -c" "" ipcctl subscribe -c ""
check "subscribe: DIR after options" "topics/news" ipcctl subscribe -c 2 --timeout 5 topics/
check "subscribe: nothing after DIR" "" ipcctl subscribe topics/news ""
check "publish: DIR" "topics/news" ipcctl publish topics/n
check "publish: no completion for MESSAGE" "" ipcctl publish topics/news ""
check "-o topic columns" "SUBSCRIBERS SIZE" ipcctl ls -o S
check "-o +topic column" "+DROPPED" ipcctl ls -o +D
check "-o BACKLOG and BYTES" "BACKLOG BYTES" ipcctl ls -T -o b
check "-To columns" "PERMS PUBLISHED" ipcctl ls -To P
check "-o columns" "MSGS MSGSIZE" ipcctl ls -o MS
check "-o lower case" "MAXMSG" ipcctl ls -o max
check "-o comma list" "KIND,MSGS KIND,MSGSIZE" ipcctl ls -o KIND,MS
check "-o no column twice" "name,msgs,MSGSIZE" ipcctl ls -J -o name,msgs,ms
check "-o +list" "+WAITERS +WRITERS" ipcctl ls -o +W
check "--output= value" "HOLDERS" ipcctl ls --output = HOL
check "-g columns" "USED USE%" ipcctl ls -g -o US
check "no value for --timeout" "" ipcctl recv --timeout ""
check "DIR: directories" "queues sem topics" ipcctl recv ""
check "DIR: under a path" "queues/jobs" ipcctl send queues/
check "DIR: files not offered" "" ipcctl send queues/jobs/
check "DIR after option" "sem/lock" ipcctl wait --timeout 3 sem/
check "send: no completion for MESSAGE" "" ipcctl send -p 3 queues/jobs ""
check "hold: -- after DIR" "--" ipcctl hold sem/lock ""
check "hold: -- among flags after DIR" "-- --timeout --help" ipcctl hold sem/lock --
has "hold: command after --" "bash" ipcctl hold sem/lock -- bas
has "hold: timeout then command" "bash" ipcctl hold --timeout 1 sem/lock -- bas
has "hold: the command's arguments" "sem" ipcctl hold sem/lock -- ls se

echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]

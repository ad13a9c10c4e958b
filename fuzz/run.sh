#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build and run tcptrace's libFuzzer targets (clang, ASan + UBSan), TAP out.
#
#   fuzz/run.sh [--seconds N] [TARGET...]    (make fuzz / make fuzz-long)
#   fuzz/run.sh --corpus                     rewrite fuzz/corpus/ (seeds) and
#                                            fuzz/regress/ (from mkcorpus.c)
#
# Targets (fuzz/fuzz_TARGET.c):
#   options  the TCP option parser, module/options.c, with invariants
#   record   the record walker tt_next_record(), module/record.c
#   cli      the CLI's decode and print path, tools/*.c, every mode
#   wire     SYN/SYN-ACK bytes -> module parser -> handshake record -> CLI
#
# For each target: build; run every input of fuzz/regress/TARGET/ (inputs
# that once crashed) and fuzz/corpus/TARGET/ (seeds) once; then fuzz for
# N seconds (default: FUZZ_SECONDS, else 30) from the seeds and the corpus
# grown by earlier runs (build/fuzz/corpus/TARGET/).  Then the real CLI,
# built with ASan + UBSan, decodes every record seed, regression input and
# (up to FUZZ_CLI_FILES, 100) grown corpus file with -r in seven modes
# (metrics too); it must exit 0 or 3 (corrupt data), never with a
# sanitizer report.
#
# Any crash, sanitizer report, invariant failure, leak or timeout (-timeout,
# 10 s per input: the record walker must never loop) fails the run; the
# input is saved in build/fuzz/artifacts/TARGET/ and the report's first
# lines are printed.  Reproduce:  build/fuzz/fuzz_TARGET FILE
# Ends with "# N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${FUZZ_OUT:-$ROOT/build/fuzz}
SECONDS_PER=${FUZZ_SECONDS:-30}
CLI_FILES=${FUZZ_CLI_FILES:-100}
ALL_TARGETS=(options record cli wire)

targets=()
corpus_only=0
while [ $# -gt 0 ]; do
	case $1 in
	--seconds)
		SECONDS_PER=$2
		shift 2
		;;
	--corpus)
		corpus_only=1
		shift
		;;
	-h | --help)
		sed -n '3,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"
		exit 0
		;;
	*)
		targets+=("$1")
		shift
		;;
	esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")
[[ $SECONDS_PER =~ ^[0-9]+$ ]] || {
	echo "fuzz/run.sh: --seconds wants a number" >&2
	exit 2
}

# --- toolchain: clang with libFuzzer and the sanitizer runtimes ---------
PKGS=(clang libclang-rt-14-dev)
need_pkgs() {
	local p
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed$' || echo "$p"
	done
}
mapfile -t missing < <(need_pkgs)
if [ ${#missing[@]} -gt 0 ]; then
	echo "# installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	{ apt-get -y -q install --no-install-recommends "${missing[@]}" ||
		{ apt-get -y -q update &&
			apt-get -y -q install --no-install-recommends "${missing[@]}"; }; } \
		</dev/null >&2
fi
CC=${FUZZ_CC:-clang}

mkdir -p "$OUT"
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=all
	-fno-omit-frame-pointer)
CFLAGS=(-g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Wno-unused-function
	-DTCPTRACE_VERSION='"fuzz"' -I"$ROOT/module" -I"$ROOT/module/uapi")

if [ $corpus_only = 1 ]; then
	"$CC" "${CFLAGS[@]}" "${SAN[@]}" -o "$OUT/mkcorpus" fuzz/mkcorpus.c \
		module/options.c || exit 1
	rm -rf fuzz/corpus fuzz/regress/*/[!R]*
	"$OUT/mkcorpus" fuzz/corpus fuzz/regress || exit 1
	find fuzz/corpus fuzz/regress -type f | sort | sed 's/^/wrote /'
	exit 0
fi

# --- TAP -----------------------------------------------------------------
n=0
passed=0
failed=0
echo "TAP version 13"
ok() {
	n=$((n + 1))
	passed=$((passed + 1))
	echo "ok $n $*"
}
notok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n $*"
}
# show FILE: the first lines of a sanitizer / libFuzzer report
show() {
	grep -a -E 'ERROR|SUMMARY|runtime error|invariant failed|#[0-9]+ 0x[0-9a-f]+ in |Test unit written|deadly signal|timeout' "$1" |
		grep -v -E 'in (fuzzer::|__libc_start|_start|main )' |
		head -n 20 | sed 's/^/# /'
}

# the CLI's files but the one with main()
CLI_OBJS=
for f in tools/*.c; do
	[ "$f" = tools/tcpwhy.c ] || CLI_OBJS+="$f "
done

sources_of() {
	case $1 in
	options) echo "module/options.c" ;;
	record) echo "module/record.c" ;;
	cli) echo "module/record.c $CLI_OBJS" ;;
	wire) echo "module/record.c module/options.c $CLI_OBJS" ;;
	esac
}

LOG=$OUT/logs
mkdir -p "$LOG"
for t in "${targets[@]}"; do
	if [ ! -f "fuzz/fuzz_$t.c" ]; then
		notok "build $t: no fuzz/fuzz_$t.c"
		continue
	fi
	bin=$OUT/fuzz_$t
	# shellcheck disable=SC2046 # word splitting of the source list
	if "$CC" "${CFLAGS[@]}" "${SAN[@]}" -fsanitize=fuzzer -o "$bin" \
		"fuzz/fuzz_$t.c" $(sources_of "$t") >"$LOG/build-$t.log" 2>&1; then
		ok "build $t"
	else
		sed 's/^/# /' "$LOG/build-$t.log" | head -n 30
		notok "build $t"
		continue
	fi

	# every saved input once: regressions first, then the seeds
	mapfile -t inputs < <(find "fuzz/regress/$t" "fuzz/corpus/$t" -type f \
		! -name 'README*' 2>/dev/null | sort)
	bad=()
	for f in "${inputs[@]}"; do
		if ! "$bin" -timeout=10 "$f" >"$LOG/regress-$t.log" 2>&1; then
			bad+=("$f")
			show "$LOG/regress-$t.log"
		fi
	done
	if [ ${#bad[@]} -eq 0 ]; then
		ok "regress $t (${#inputs[@]} inputs)"
	else
		printf '# fails: %s\n' "${bad[@]}"
		notok "regress $t (${#bad[@]} of ${#inputs[@]} inputs fail)"
	fi

	# fuzz: new inputs go to the work corpus (first dir), seeds are read
	work=$OUT/corpus/$t
	art=$OUT/artifacts/$t
	mkdir -p "$work" "$art"
	t0=$SECONDS
	"$bin" -max_total_time="$SECONDS_PER" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/" \
		"$work" "fuzz/corpus/$t" >"$LOG/fuzz-$t.log" 2>&1
	rc=$?
	runs=$(grep -a -o 'stat::number_of_executed_units: [0-9]*' \
		"$LOG/fuzz-$t.log" | tail -n1 | awk '{print $2}')
	cov=$(grep -a -o 'cov: [0-9]*' "$LOG/fuzz-$t.log" | tail -n1 |
		awk '{print $2}')
	if [ $rc -eq 0 ]; then
		ok "fuzz $t (${runs:-?} runs in $((SECONDS - t0)) s, cov ${cov:-?}, corpus $(find "$work" -type f | wc -l))"
	else
		show "$LOG/fuzz-$t.log"
		newest=$(ls -t "$art" 2>/dev/null | head -n1)
		[ -z "$newest" ] || echo "# reproduce: $bin $art/$newest"
		notok "fuzz $t (exit $rc after ${runs:-?} runs; log $LOG/fuzz-$t.log)"
	fi
done

# --- the real CLI, ASan + UBSan, over every saved record stream --------
asan_cli=$OUT/tcptrace-asan
# shellcheck disable=SC2086 # word splitting of the source list
if "$CC" "${CFLAGS[@]}" "${SAN[@]}" -o "$asan_cli" tools/tcpwhy.c \
	$CLI_OBJS module/record.c >"$LOG/build-cli-asan.log" 2>&1; then
	ok "build tools/tcpwhy with ASan+UBSan"
else
	sed 's/^/# /' "$LOG/build-cli-asan.log" | head -n 30
	notok "build tools/tcpwhy with ASan+UBSan"
fi
if [ -x "$asan_cli" ]; then
	tmp=$(mktemp -d "$OUT/cli-inputs.XXXXXX")
	files=()
	while IFS= read -r f; do files+=("$f"); done < <(
		find fuzz/corpus/record fuzz/regress/record -type f \
			! -name 'README*' 2>/dev/null | sort
		find "$OUT/corpus/record" -type f 2>/dev/null | sort |
			head -n "$CLI_FILES")
	# cli-target inputs: the option byte first, records after it
	i=0
	while IFS= read -r f; do
		i=$((i + 1))
		tail -c +2 "$f" >"$tmp/cli-$i"
		files+=("$tmp/cli-$i")
	done < <({
		find fuzz/corpus/cli fuzz/regress/cli -type f ! -name 'README*' \
			2>/dev/null | sort
		find "$OUT/corpus/cli" -type f 2>/dev/null | sort |
			head -n "$CLI_FILES"
	})
	modes=("-r" "-j -r" "--handshakes -r" "--diag -j -r" "conns -r"
		"conns -j -r" "metrics -r")
	export ASAN_OPTIONS=exitcode=86:detect_leaks=1
	export UBSAN_OPTIONS=halt_on_error=1:exitcode=86:print_stacktrace=1
	bad=0
	runs=0
	for f in "${files[@]}"; do
		for m in "${modes[@]}"; do
			runs=$((runs + 1))
			# shellcheck disable=SC2086 # $m is several words
			"$asan_cli" $m "$f" >/dev/null 2>"$LOG/cli-asan.err"
			rc=$?
			case $rc in
			0 | 3) ;;
			*)
				bad=$((bad + 1))
				if [ $bad -le 5 ]; then
					echo "# tcptrace $m $f: exit $rc"
					show "$LOG/cli-asan.err"
				fi
				;;
			esac
		done
	done
	if [ $bad -eq 0 ]; then
		ok "tcpwhy -r (ASan+UBSan) on ${#files[@]} record files x ${#modes[@]} modes"
	else
		notok "tcpwhy -r (ASan+UBSan): $bad of $runs runs failed"
	fi

	# -r reads in chunks: a stream of many MiB, records cut at every
	# chunk boundary, with and without the -w capture header, decodes
	# to exactly N copies of one conversation
	one=fuzz/corpus/record/conversation
	copies=1500
	for _ in $(seq $copies); do cat "$one"; done >"$tmp/big"
	{ printf 'TCPTRACE\001\000\000\000\000\000\000\000'; cat "$tmp/big"; } \
		>"$tmp/big-capture"
	bad=0
	for f in "$tmp/big" "$tmp/big-capture"; do
		for m in "-r" "-j -r"; do
			# shellcheck disable=SC2086 # $m is several words
			per=$("$asan_cli" $m "$one" | wc -l)
			# shellcheck disable=SC2086
			got=$("$asan_cli" $m "$f" 2>"$LOG/cli-asan.err" | wc -l)
			rc=${PIPESTATUS[0]}
			if [ "$rc" -ne 0 ] || [ "$got" -ne $((per * copies)) ]; then
				echo "# tcptrace $m ${f##*/}: exit $rc, $got lines, want $((per * copies))"
				show "$LOG/cli-asan.err"
				bad=$((bad + 1))
			fi
		done
	done
	if [ $bad -eq 0 ]; then
		ok "tcpwhy -r streams $(($(stat -c %s "$tmp/big") >> 10)) KiB in chunks: $copies conversations, exact"
	else
		notok "tcpwhy -r streaming: $bad of 4 runs wrong"
	fi
	rm -rf "$tmp"
fi

echo "1..$n"
echo "# $passed passed, $failed failed"
[ $failed -eq 0 ]

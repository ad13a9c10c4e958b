#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make check`: every test.  Host-side tests first (CLI decoder, style,
# KUnit), then, for every supported kernel (6.1, 6.1-rt and 6.12
# installed; 5.10 and 7.x fetched), build the module and run the module
# tests in a QEMU guest booting that kernel; beside them the stress
# guests, the fuzzers, the packaging test, bench-quick, and the same
# suites under the debug kernel (selftests/debug/check.sh).  Ends with
# "N passed, N failed"; exits non-zero on any failure.
#
#   selftests/run.sh [TEST ...]     (TEST: a guest test name, to run only it)
#
# The guests are single-threaded (TCG, one vCPU), so two workers, one per
# CPU of the machines this runs on (TCPTRACE_WORKERS=1 for one), share
# the jobs: each takes its own queue in order and then the other's from
# its end.  Each job's output goes to selftests/out/NAME.tap and is
# printed, in queue order, at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/selftests/out
mkdir -p "$OUT"
passed=0
failed=0

# shellcheck source=selftests/tally.sh
. "$ROOT/selftests/tally.sh"

suite() {	# suite NAME CMD...: run it here, output shown as it comes
	local name=$1 rc t0=$SECONDS
	shift
	echo "# === $name ($(date +%T))"
	"$@" 2>&1 | tee "$OUT/$name.tap"
	rc=${PIPESTATUS[0]}
	tally "$name" "$rc" "$OUT/$name.tap"
	echo "# $name: $((SECONDS - t0)) s"
}

make -s cli || { echo "not ok - building the CLI"; echo "0 passed, 1 failed"; exit 1; }
export TCPTRACE_CLI=$ROOT/tools/tcpwhy

# The job queues, a file each ("NAME COMMAND" lines); NAME.claim is made
# by the worker that runs it, NAME.done holds "EXIT SECONDS".
JOBS=$OUT/jobs
rm -rf "$JOBS"
mkdir -p "$JOBS"
: >"$JOBS/main"
: >"$JOBS/debug"
# a debug setup failure (the kernel build) is counted once
export TCPTRACE_DEBUG_CLAIMS=$JOBS

job() {	# job QUEUE NAME CMD...
	local q=$1 name=$2
	shift 2
	printf '%s %s\n' "$name" "$(printf '%q ' "$@")" >>"$JOBS/$q"
}

run_job() {	# run_job NAME WORKER CMD
	local name=$1 t0=$SECONDS rc
	mkdir "$JOBS/$name.claim" 2>/dev/null || return 0
	echo "# $(date +%T) $name: started (worker $2)"
	eval "$3" >"$OUT/$name.tap" 2>&1 </dev/null
	rc=$?
	echo "$rc $((SECONDS - t0))" >"$JOBS/$name.done"
	echo "# $(date +%T) $name: exit $rc after $((SECONDS - t0)) s (worker $2)"
}

worker() {	# worker OWN OTHER
	local name cmd
	while read -r name cmd; do
		run_job "$name" "$1" "$cmd"
	done <"$JOBS/$1"
	# the other queue is complete once it is marked ready
	while [ ! -e "$JOBS/$2.ready" ]; do sleep 5; done
	while read -r name cmd; do
		run_job "$name" "$1" "$cmd"
	done < <(tac "$JOBS/$2")
}

# The debug kernel's pieces, longest first.  The worker that takes them
# starts first, so that on a fresh machine the debug kernel builds while
# the host-side suites run and the stock kernels are fetched and built
# for.
debug_pid=
if [ $# -eq 0 ]; then
	for p in kmemleak diag topology stress foundation handshake; do
		job debug "debug-$p" selftests/debug/check.sh --piece "$p"
	done
	touch "$JOBS/debug.ready"
	if [ "${TCPTRACE_WORKERS:-2}" -gt 1 ]; then
		worker debug main &
		debug_pid=$!
		# should this script die first, the worker goes with it
		trap 'kill "$debug_pid" 2>/dev/null' EXIT
	fi
else
	touch "$JOBS/debug.ready"
fi

# The host-side suites, beside the debug worker's first job (on a fresh
# machine: the debug kernel's build, which takes the longest to start).
suite cli python3 selftests/cli/test_cli.py
suite style selftests/style.sh
[ $# -gt 0 ] || suite kunit selftests/kunit/run.sh

# A guest suite takes about 5 minutes; beside a cold build of the debug
# kernel (a fresh machine) it took 13.  The bound catches hangs.
guest_timeout=${VM_TIMEOUT:-1800}

# Debian's Prometheus for test_metrics, extracted into the cache, never
# installed: the package would start a server on the host.  Named in each
# guest job's command: the debug worker, which also takes guest jobs, was
# started before this and has no such variable.
if prom=$(selftests/vm/fetch-kernel.sh --package bookworm prometheus \
	2>"$OUT/fetch-prometheus.log"); then
	prom=$prom/usr/bin
else
	prom=
	echo "# cannot fetch prometheus: test_metrics fails (see $OUT/fetch-prometheus.log)"
fi

kernels=$(selftests/vm/kernels.sh)
nk=$(echo "$kernels" | grep -c .)
if [ "$nk" -lt 3 ] || ! grep -q -- '-rt-' <<<"$kernels"; then
	echo "not ok - need 6.1, 6.1-rt and 6.12 kernels installed, found: $kernels"
	failed=$((failed + 1))
fi

# build KVER: the module for it, before any job uses it (the jobs build
# too, but find it up to date, so two of them never build at once)
build() {
	make -s module KVER="$1" >"$OUT/build-$1.log" 2>&1 && return 0
	cat "$OUT/build-$1.log"
	echo "not ok - build module for $1"
	failed=$((failed + 1))
	return 1
}

# The PREEMPT_RT kernel runs every suite but test_topology: its NAT,
# bridge and forwarding cases take the module paths they take on 6.1, and
# the debug kernel (PREEMPT_RT with lockdep) runs DNAT, forwarding and a
# bridge (selftests/debug/check.sh).
RT_SUITES=(test_foundation test_handshake test_diag test_edges test_reasons
	test_metrics)
# the guest suites' jobs, queued here and put in the main queue below
: >"$JOBS/guests"
for k in $kernels; do
	suites=("$@")
	if [ $# -eq 0 ] && [[ $k == *-rt-* ]]; then
		suites=("${RT_SUITES[@]}")
	fi
	build "$k" || continue
	job guests "guest-$k" env TCPTRACE_KO="$ROOT/build/$k/tcptrace.ko" \
		TCPTRACE_PROMETHEUS="$prom" \
		VM_TIMEOUT="$guest_timeout" selftests/vm/run-vm.sh "$k" \
		"$ROOT/selftests/guest.sh" "${suites[@]}"
done

# Kernels of other Debian releases, fetched into a cache, never installed
# (selftests/vm/extra-kernels.sh): Debian 11's 5.10, Debian 13's newest 7.x
# (built in a trixie chroot, selftests/vm/build-chroot.sh).
mapfile -t extra < <(selftests/vm/extra-kernels.sh)
# the stress jobs take the same ones: a newer 7.x published meanwhile
# would be a kernel nothing was built for
extra_kernels=$(printf '%s\n' "${extra[@]}")
for line in "${extra[@]}"; do
	read -r k root <<<"$line"
	if [ "$root" = - ]; then
		echo "not ok - fetch kernel $k"
		failed=$((failed + 1))
		continue
	fi
	build "$k" || continue
	job guests "guest-$k" env VM_KERNEL_ROOT="$root" \
		TCPTRACE_KO="$ROOT/build/$k/tcptrace.ko" VM_TIMEOUT="$guest_timeout" \
		TCPTRACE_PROMETHEUS="$prom" \
		selftests/vm/run-vm.sh "$k" "$ROOT/selftests/guest.sh" "$@"
done

# The main queue: long jobs first, short ones last, where the debug
# worker, done with its own, takes them from (a warm run's seconds:
# guest suites 250-420, stress guests 470-515 with 1 vCPU and 140 with 2,
# packaging 510, fuzz 300, bench-quick 85).
stress() {	# stress PART
	job main "stress-$1" env STRESS_BUILD="build/stress-$1" \
		TCPTRACE_EXTRA_KERNELS="$extra_kernels" \
		selftests/stress/run.sh --quick --part "$1"
}
if [ $# -eq 0 ]; then
	stress newest
	stress oldest
fi
cat "$JOBS/guests" >>"$JOBS/main"
if [ $# -eq 0 ]; then
	job main packaging selftests/packaging/run.sh
	job main fuzz ./fuzz/run.sh --seconds 20
	stress newest-smp2
	stress rt
	job main bench-quick selftests/bench/bench.sh --quick
fi
touch "$JOBS/main.ready"
echo "# $(date +%T) the stock kernels' modules built after $SECONDS s"
worker main debug

if [ -n "$debug_pid" ]; then
	echo "# waiting for the other worker"
	wait "$debug_pid"
fi

# Every job's output and count, in queue order.
while read -r name _; do
	echo "# === $name"
	if [ ! -e "$JOBS/$name.done" ]; then
		echo "not ok - $name: never ran"
		failed=$((failed + 1))
		continue
	fi
	read -r rc secs <"$JOBS/$name.done"
	cat "$OUT/$name.tap"
	echo "# $name: $secs s"
	tally "$name" "$rc" "$OUT/$name.tap"
done < <(cat "$JOBS/main" "$JOBS/debug")

echo "# make check: $SECONDS s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

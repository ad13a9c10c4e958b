#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Stress and robustness tests of the module, in QEMU guests booted with
# slub_debug=FZPU (SLUB checks redzones, poison and free lists; the tests
# also validate every cache): quick on the oldest and the newest kernel of
# the matrix, and 2 vCPUs on the PREEMPT_RT one; long on all of them.
#
#   selftests/stress/run.sh [--quick | --long] [--kernel KVER]... [--smp N]
#                           [SUITE[:TEST,...]...]
#
#   --quick   (default; make stress-quick, part of make check) the short
#             variant: on the oldest and the newest kernel one guest
#             with 1 vCPU runs every suite (the oldest, of test_packets
#             only the random flood); on the newest and the RT
#             kernel one with 2 vCPUs the overflow and killed/racing
#             reader tests
#   --long    (make stress) TCPTRACE_STRESS=long: 100 load/unload cycles,
#             3 minutes of overflow (twice), 10x the fuzz counts; the
#             2-vCPU guest runs all of test_overflow, test_concurrency and
#             test_lifecycle
#   --kernel  only this kernel (repeatable); default: the oldest, the
#             newest and the -rt one of selftests/vm/kernels.sh and
#             extra-kernels.sh (--long: all of them)
#   --part P  quick: only one of its four guests (oldest, rt, newest,
#             newest-smp2), so that make check can run them side by side
#
# Environment: TCPTRACE_KDIR, the kernel build tree (default: the
# installed kernel's); TCPTRACE_GUEST_WRAP, a guest script that runs the
# stress guest script (selftests/debug/guest.sh: kmemleak); VM_KERNEL_ROOT
# (see run-vm.sh); STRESS_TAG, appended to the guests' names; STRESS_BUILD,
# where the private copies of the module and the CLI go (build/stress);
# TCPTRACE_EXTRA_KERNELS, extra-kernels.sh's output, when known already.
#   SUITE     run only these suites (test_device, test_lifecycle, ...; or
#             only some tests: test_overflow:overflow_without_reader_exact)
#             in one guest with --smp N vCPUs (default 1)
#             test_findings (not run by default) reproduces open findings
#             about the module, see Documentation/security.rst
#
# Suites (selftests/stress/test_*.py, TAP each): test_device (ioctl/read/
# write abuse), test_lifecycle (load/unload cycles under a storm, memory
# back to baseline), test_overflow (exact loss accounting), test_conntable
# (table exhaustion), test_concurrency (readers killed, racing, scoped),
# test_packets (crafted and random malformed packets).
#
# A 2-vCPU TCG guest now and then dies while booting: such a guest (no
# .script-started marker in its result dir) is booted again, up to 3
# times, and the retry is reported ("# boot retry").  A failure after the
# script started is never retried.  Results: selftests/out/stress/
# (NAME.tap, and vm-NAME/ with console.log and dmesg.txt).  Ends with
# "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/selftests/out/stress
MODE=quick
SMP=1
PART=
kernels=()
suites=()
while [ $# -gt 0 ]; do
	case $1 in
	--quick) MODE=quick ;;
	--long) MODE=long ;;
	--kernel)
		kernels+=("$2")
		shift
		;;
	--smp)
		SMP=$2
		shift
		;;
	--part)
		PART=$2
		shift
		;;
	-h | --help)
		sed -n '3,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"
		exit 0
		;;
	*) suites+=("$1") ;;
	esac
	shift
done
# The kernels: installed ones (kernels.sh) and other releases' fetched ones
# (extra-kernels.sh), as "KVER ROOT" (ROOT: VM_KERNEL_ROOT, "" when
# installed).  Quick: the oldest, the newest and the PREEMPT_RT one (the
# 6.12 debug kernel, RT with lockdep, runs a subset too: debug/check.sh);
# long: all.
declare -A root_of=()
while read -r k; do root_of[$k]=; done < <(selftests/vm/kernels.sh)
given_root=${VM_KERNEL_ROOT:-}
need_extra=0
[ ${#kernels[@]} -gt 0 ] || need_extra=1
for k in "${kernels[@]}"; do
	[ -n "${root_of[$k]+set}" ] || need_extra=1
done
if [ -z "$given_root" ] && [ "$need_extra" = 1 ]; then
	# make check found them once for all its jobs
	while read -r k r; do
		[ -z "$k" ] || [ "$r" = - ] || root_of[$k]=$r
	done < <(if [ -n "${TCPTRACE_EXTRA_KERNELS+set}" ]; then
		printf '%s\n' "$TCPTRACE_EXTRA_KERNELS"
	else
		selftests/vm/extra-kernels.sh
	fi)
fi
if [ ${#kernels[@]} -eq 0 ]; then
	[ ${#root_of[@]} -gt 0 ] || { echo "not ok - no kernel to test"; echo "0 passed, 1 failed"; exit 1; }
	mapfile -t all < <(printf '%s\n' "${!root_of[@]}" | sort -V)
	if [ "$MODE" = long ] || [ ${#all[@]} -le 3 ]; then
		kernels=("${all[@]}")
	else
		rt=$(printf '%s\n' "${all[@]}" | grep -- '-rt-' | tail -n1)
		kernels=("${all[0]}" ${rt:+"$rt"} "${all[-1]}")
	fi
fi
# where the 2-vCPU guests run in quick mode: the RT kernel and the newest
newest=$(printf '%s\n' "${kernels[@]}" | sort -V | tail -n1)
mkdir -p "$OUT"
# private copies of the module and the CLI (see below)
SB=${STRESS_BUILD:-build/stress}
passed=0
failed=0

# what the 2-vCPU guest runs: where a second CPU changes something
# (per-CPU buffers and counters, readers racing producers)
if [ "$MODE" = long ]; then
	timeout=${VM_TIMEOUT:-10800}
	SMP2_SUITES=(test_overflow test_concurrency test_scope
		test_lifecycle:load_unload_cycles_under_storm)
else
	timeout=${VM_TIMEOUT:-1800}
	SMP2_SUITES=(
		test_overflow:overflow_with_stopped_cli,overflow_without_reader_exact
		test_concurrency:readers_killed_while_blocked
		test_scope:scoped_reader_bounded_under_storm,scoped_reader_loss_exact
	)
fi

# what the oldest kernel runs in quick mode: every suite, but of
# test_packets only the random flood (the fixed sets of malformed options
# go through the parser, the same code on every kernel: the newest runs
# them, and KUnit and the ASan fuzzers cover it)
OLDEST_SUITES=(test_device test_lifecycle test_overflow test_conntable
	test_concurrency test_scope test_packets:random_packet_flood)

# shellcheck source=selftests/tally.sh
. "$ROOT/selftests/tally.sh"

# guest NAME KVER SMP SUITE...: one guest run, retried when it dies at boot
guest() {
	local name=$1 k=$2 smp=$3 rc try dir t0
	shift 3
	dir=$OUT/vm-$name
	for try in 1 2 3; do
		echo "# === $name (kernel $k, $smp vCPU, $MODE, boot $try)"
		t0=$SECONDS
		VM_OUT_DIR=$dir VM_SMP=$smp VM_TIMEOUT=$timeout \
			VM_APPEND="slub_debug=FZPU ${VM_APPEND:-}" \
			TCPTRACE_KO=$ROOT/$SB/$k/tcptrace.ko \
			TCPTRACE_CLI=$ROOT/$SB/tcpwhy \
			TCPTRACE_STRESS=$MODE \
			selftests/vm/run-vm.sh "$k" ${TCPTRACE_GUEST_WRAP:+"$TCPTRACE_GUEST_WRAP"} \
			"$ROOT/selftests/stress/guest.sh" "$@" 2>&1 | tee "$OUT/$name.tap"
		rc=${PIPESTATUS[0]}
		echo "# $name: exit $rc after $((SECONDS - t0)) s"
		if [ "$rc" -ne 0 ] && [ ! -e "$dir/.script-started" ] &&
			[ "$try" -lt 3 ]; then
			echo "# boot retry: $name died before its script started" \
				"(exit $rc), booting again"
			continue
		fi
		break
	done
	case $rc in
	97) echo "not ok - $name: guest timed out (${timeout}s), see $dir" ;;
	98) echo "not ok - $name: guest crashed or hung, see $dir" ;;
	99) echo "not ok - $name: kernel splat in the guest log, see $dir" ;;
	esac | tee -a "$OUT/$name.tap"
	tally "$name" "$rc" "$OUT/$name.tap"
}

selftests/vm/deps.sh || { echo "not ok - installing the test dependencies"; echo "0 passed, 1 failed"; exit 1; }
make -s cli || { echo "not ok - building the CLI"; echo "0 passed, 1 failed"; exit 1; }
mkdir -p "$SB"
# private copies: a concurrent build cannot swap them under a running guest
cp tools/tcpwhy "$SB/tcpwhy"

# part ROLE: this run runs that guest (all of them without --part)
part() { [ -z "$PART" ] || [ "$PART" = "$1" ]; }
# the --part a kernel serves, in quick mode
part_of() {
	if [ "$1" = "$newest" ]; then
		part newest || part newest-smp2
	elif [[ $1 == *-rt-* ]]; then
		part rt
	else
		part oldest
	fi
}
case $PART in
'' | oldest | rt | newest | newest-smp2) ;;
*) echo "not ok - unknown --part $PART"; echo "0 passed, 1 failed"; exit 1 ;;
esac

T0=$SECONDS
for k in "${kernels[@]}"; do
	[ ${#suites[@]} -gt 0 ] || [ "$MODE" = long ] || part_of "$k" || continue
	mkdir -p "$SB/$k"
	export VM_KERNEL_ROOT=${root_of[$k]-$given_root}
	if ! make -s module KVER="$k" ${TCPTRACE_KDIR:+KDIR="$TCPTRACE_KDIR"} \
		>"$OUT/build-$k.log" 2>&1 ||
		! cp "build/$k/tcptrace.ko" "$SB/$k/tcptrace.ko"; then
		cat "$OUT/build-$k.log"
		echo "not ok - build module for $k"
		failed=$((failed + 1))
		continue
	fi
	if [ ${#suites[@]} -gt 0 ]; then
		guest "$k-smp$SMP${STRESS_TAG:-}" "$k" "$SMP" "${suites[@]}"
	else
		# quick: the RT kernel where preemption and a second CPU meet
		# only (every suite runs on RT with lockdep under the debug
		# kernel, debug/check.sh)
		if [ "$MODE" = long ] || [ ${#kernels[@]} -eq 1 ] ||
			[ "$k" = "$newest" ]; then
			! part newest || guest "$k-smp1" "$k" 1
		elif [[ $k != *-rt-* ]]; then
			guest "$k-smp1" "$k" 1 "${OLDEST_SUITES[@]}"
		fi
		if [ "$MODE" = long ] || [ "$k" = "$newest" ] ||
			[[ $k == *-rt-* ]]; then
			{ [ "$k" = "$newest" ] && ! part newest-smp2; } ||
				guest "$k-smp2" "$k" 2 "${SMP2_SUITES[@]}"
		fi
	fi
done

echo "# stress ($MODE): $((SECONDS - T0)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

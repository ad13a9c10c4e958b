#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make debug-check`: the guest suites and a stress subset under the debug
# kernel (selftests/debug/kernel.sh: PREEMPT_RT, lockdep, atomic-sleep,
# PROVE_RCU, KASAN, kmemleak).  Any report of those, a soft lockup or an
# RCU stall in the guest's log fails the guest (run-vm.sh), a suspected
# leak after unload fails its kmemleak test (selftests/debug/guest.sh).
# Ends with "N passed, N failed".
#
#   selftests/debug/check.sh [GUEST-SUITE ...]
#   selftests/debug/check.sh --steal
#
# The work is five pieces, each one guest (see PIECES below).  A run takes
# them in order; with TCPTRACE_DEBUG_CLAIMS naming a directory shared with
# a --steal run (selftests/run.sh: once the rest of make check is done), a
# piece is run by whichever of the two claims it first (mkdir there), the
# stealer taking them from the end.  Two CPUs then share the debug work.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/selftests/out/debug
mkdir -p "$OUT"
passed=0
failed=0
steal=0
if [ "${1:-}" = --steal ]; then
	steal=1
	shift
fi
claims=${TCPTRACE_DEBUG_CLAIMS:-}
if [ -z "$claims" ]; then
	[ "$steal" = 0 ] || { echo "# nothing to steal without TCPTRACE_DEBUG_CLAIMS"; echo "0 passed, 0 failed"; exit 0; }
	claims=$(mktemp -d)
	trap 'rm -rf "$claims"' EXIT
fi

# shellcheck source=selftests/tally.sh
. "$ROOT/selftests/tally.sh"

# setup_failed WHAT: one failure, counted once: the other run finds the
# marker and does not try again
setup_failed() {
	echo "not ok - $1"
	touch "$claims/.setup-failed"
	echo "0 passed, 1 failed"
	exit 1
}
if [ -e "$claims/.setup-failed" ]; then
	echo "# the other debug run failed to set up: nothing to run here"
	echo "0 passed, 0 failed"
	exit 0
fi

t0=$SECONDS
tree=$(selftests/debug/kernel.sh | tail -n1) && [ -d "$tree" ] ||
	setup_failed "building the debug kernel"
root=${tree%/build}
k=$(cat "$root/release")
echo "# debug kernel $k ($tree), ready after $((SECONDS - t0)) s" \
	"(cold build: $(cat "$root/build-seconds") s)"
# one build at a time: the stealer may come while the other run builds
exec 8>"$OUT/.build.lock"
flock 8
make -s cli || setup_failed "building the CLI"
if ! make -s module KVER="$k" KDIR="$tree" >"$OUT/build.log" 2>&1; then
	cat "$OUT/build.log"
	setup_failed "build module for $k"
fi
# private copies, per run: a guest of the other run may be reading its own
sb=build/debug-$steal
mkdir -p "$sb"
cp "build/$k/tcptrace.ko" "$sb/tcptrace.ko" && cp tools/tcptrace "$sb/tcptrace" ||
	setup_failed "copying the module and the CLI"
flock -u 8
export VM_KERNEL_ROOT=$root TCPTRACE_KDIR=$tree STRESS_BUILD=build/stress-debug-$steal

# Under TCG the debug kernel is slow: kmemleak alone (a stack trace per
# allocation) makes it 2.5 times slower than with the other checks only.
# So the guest suites (in three guests) and the stress subset
# below with kmemleak off (lockdep, atomic-sleep, PROVE_RCU, KASAN and the
# lockup and stall detectors on), and the tests that load, fail, unload
# and leave namespaces behind with kmemleak on.
# (the kmemleak guest runs the lifecycle and container tests: all the
# other checks are on there too, so they are not run twice)
# (scoped_reader_bounded_under_storm takes the scoped read path that
# scoped_reader_loss_exact takes: 114 s more here, stock kernels only)
# (test_packets' flagged_ and ignored_malformations send fixed sets of
# malformed options through the parser that KUnit and the ASan fuzzers
# cover; 250 s here.  random_packet_flood takes the same packet paths.)
STRESS_SUITES=(
	test_scope:scoped_reader_loss_exact
	test_packets:random_packet_flood
	test_device:read_sizes_alignment_and_faults,fault_leftover_stays_in_its_namespace
	test_concurrency:readers_killed_while_blocked
	test_overflow:overflow_without_reader_exact
	test_conntable:syn_flood_exhausts_table
)
LEAK_SUITES=(
	test_lifecycle:init_failures_with_racing_opener,namespaces_die_in_time_wait_then_unload
	test_scope:container_reader_never_sees_host_tasks
)
export VM_TIMEOUT=${VM_TIMEOUT:-3600}
# the tests' time bounds and long loops, scaled (selftests/tcptrace/lib.py)
export TCPTRACE_SLOWDOWN=5

# stress_run NAME KMEMLEAK SUITE...: a stress guest; its "N passed, N
# failed" counts.
stress_run() {
	local name=$1 leak=$2 rc sum f t0=$SECONDS
	shift 2
	# kmemleak saves a stack trace per allocation: storms paced there
	STRESS_TAG=-$name VM_APPEND=$([ "$leak" = 1 ] || echo kmemleak=off) \
		TCPTRACE_STORM_RATE=$([ "$leak" = 1 ] && echo 50 || echo 0) \
		TCPTRACE_GUEST_WRAP=$ROOT/selftests/debug/guest.sh \
		selftests/stress/run.sh --quick --kernel "$k" "$@" 2>&1 |
		tee "$OUT/$name.tap"
	rc=${PIPESTATUS[0]}
	sum=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$OUT/$name.tap" | tail -n1)
	if [ -n "$sum" ]; then
		passed=$((passed + ${sum%% passed*}))
		f=${sum#*passed, }
		failed=$((failed + ${f%% failed}))
	elif [ "$rc" -ne 0 ]; then
		echo "not ok - debug $name: exited with $rc"
		failed=$((failed + 1))
	fi
	echo "# debug $name: $((SECONDS - t0)) s"
}

# guest_run NAME SUITE...: guest suites in one guest, kmemleak off
guest_run() {
	local name=$1 rc t0=$SECONDS
	shift
	VM_OUT_DIR=$OUT/vm-$name VM_APPEND=kmemleak=off \
		TCPTRACE_KO=$ROOT/$sb/tcptrace.ko \
		TCPTRACE_CLI=$ROOT/$sb/tcptrace \
		selftests/vm/run-vm.sh "$k" "$ROOT/selftests/debug/guest.sh" \
		"$ROOT/selftests/guest.sh" "$@" 2>&1 | tee "$OUT/$name.tap"
	rc=${PIPESTATUS[0]}
	[ "$rc" -ne 99 ] || echo "not ok - kernel report in the debug guest's log, see $OUT/vm-$name" | tee -a "$OUT/$name.tap"
	tally "debug-$name" "$rc" "$OUT/$name.tap"
	echo "# debug $name: $((SECONDS - t0)) s"
}

# test_handshake's option variants (window scaling, SACK, MSS, ECN,
# malformed options: 6 minutes here) take the option parser, which KUnit
# and the ASan fuzzers cover; under this kernel its handshake, refusal
# and namespace paths run.
HANDSHAKE_SUBSET=test_handshake:loopback_ipv4_defaults,loopback_ipv6_defaults,veth_between_namespaces_v4_and_v6,refused_handshake_is_reported_on_both_ends,namespace_churn_leaves_no_table_entries
# test_topology's NAT variants (IPVS, REDIRECT, masquerade) take the same
# hooks and table paths as its published-port DNAT, and its PAWS case the
# TIME_WAIT paths test_diag takes: 100 s each here.  Its spoofed SYNs
# on an established connection (the challenge-ACK case, 108 s here) run
# on the five stock kernels only.  Under this kernel, DNAT, forwarding
# and a bridge (br_netfilter).
TOPOLOGY_SUBSET=test_topology:published_port_dnat,forwarded_rst_and_fin,bridge_br_netfilter_off_and_on
DROPS_SUBSET=test_reasons:receive_buffer_full,path_mtu_black_hole

# The pieces.  test_reasons (drop reasons of SYNs, through the same drop
# and LOCAL_IN paths test_diag takes here) runs on the stock kernels only:
# 10 minutes under this one; but its two tests of drops after the
# handshake run here too, for the episode path (the table entry made in
# the drop probe, the socket lookup there) and the rx notes' namespace
# teardown (DROPS_SUBSET, in the foundation piece: the last, which the
# stealer takes first, stays the shortest).  Long ones first, short ones last: the
# stealer takes from the end, and a short piece there lets the two runs
# end together (in a make check run: diag 1036 s, kmemleak 1075 s,
# stress 1275 s with all of test_packets, foundation 293 s, handshake
# 276 s, boots included).
PIECES=(diag kmemleak stress foundation handshake)
piece() {
	case $1 in
	diag) guest_run diag test_diag "$TOPOLOGY_SUBSET" test_edges ;;
	stress) stress_run stress 0 "${STRESS_SUITES[@]}" ;;
	kmemleak) stress_run kmemleak 1 "${LEAK_SUITES[@]}" ;;
	foundation) guest_run foundation test_foundation "$DROPS_SUBSET" ;;
	handshake) guest_run handshake "$HANDSHAKE_SUBSET" ;;
	esac
}

if [ $# -gt 0 ]; then
	guest_run guest "$@"
else
	order=("${PIECES[@]}")
	if [ "$steal" = 1 ]; then
		order=()
		for p in "${PIECES[@]}"; do order=("$p" "${order[@]}"); done
	fi
	for p in "${order[@]}"; do
		mkdir "$claims/$p" 2>/dev/null || continue
		echo "# === debug piece $p ($([ "$steal" = 1 ] && echo stolen || echo in turn))"
		piece "$p"
	done
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tcptrace's benchmark: what tracing costs a connection storm and a bulk
# transfer, side by side with bpftrace and tcpdump, all in one guest boot.
#
#   selftests/bench/bench.sh          `make bench`: every configuration,
#                                     5 rounds; writes BENCHMARKS.md
#   selftests/bench/bench.sh --quick  `make bench-quick`: untraced against
#                                     tcptrace, 3 rounds, plus the overflow
#                                     burst; TAP verdicts, exit 1 on failure
#
# The guest is QEMU TCG with "-icount shift=0,sleep=off": the guest's clock
# counts instructions (1 ns each) and jumps over idle time, so repeated
# runs agree to ~0.5% whatever else the host is doing, and a slowdown is
# an instruction count.  One vCPU: under icount every vCPU shares that one
# clock anyway, so the tracer's reader competes with the workload for the
# same CPU, as it would on a single busy core.
#
# Environment (all optional):
#   BENCH_KVER=...        kernel to boot (default: the installed 6.12)
#   BENCH_ROUNDS=N        rounds (default 5, quick 3)
#   BENCH_CONNS=N         connections per storm (default 2000)
#   BENCH_CLIENTS=N       client processes of the concurrent storm (4)
#   BENCH_BYTES=N         bytes per bulk transfer (default 64 MiB)
#   BENCH_BURST=N         connections of the overflow burst (default 1000)
#   BENCH_CONFIGS=...     configurations, of: untraced floor tcptrace-null
#                         tcptrace-json tcptrace-raw bpftrace tcpdump
#   BENCH_WORKLOADS=...   of: storm-seq storm-conc bulk
#   BENCH_OUT=FILE        report (default BENCHMARKS.md at the top)
#   BENCH_PROFILE=0|1     profile a traced storm with perf (full: 1)
#   BENCH_QUICK_MAX_DROP=PCT   quick: largest storm throughput drop
#                         allowed with tcptrace's reader draining (45:
#                         measured 34% on one vCPU, so a regression of
#                         about a third more tracing cost fails)
#   BENCH_QUICK_MAX_LOST=N     quick: records the storm may lose (0)
# Raw results and guest logs: selftests/bench/out/MODE-KVER/.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
BENCH=$ROOT/selftests/bench
QUICK=0
[ "${1:-}" = --quick ] && QUICK=1
T0=$(date +%s)

log() { echo "bench: $*" >&2; }
die() {
	echo "bench: ERROR: $*" >&2
	if [ "$QUICK" = 1 ]; then
		echo "not ok 1 benchmark ran"
		echo "# 0 passed, 1 failed"
	fi
	exit 1
}

# -- packages: the VM selftests' set, plus the tracers compared ----------
"$ROOT/selftests/vm/deps.sh" >&2 || die "selftests/vm/deps.sh failed"
PKGS=(bpftrace tcpdump gcc python3 linux-perf)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
		grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]}"
	[ "$(id -u)" -eq 0 ] || die "need root to install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	APT=(-y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef
		-o Dpkg::Options::=--force-confold)
	apt-get "${APT[@]}" update </dev/null >&2 || die "apt-get update failed"
	apt-get "${APT[@]}" install --no-install-recommends "${missing[@]}" \
		</dev/null >&2 || die "apt-get install ${missing[*]} failed"
fi

# -- kernel, module, CLI, workload tool ----------------------------------
KVER=${BENCH_KVER:-$("$ROOT/selftests/vm/kernels.sh" | grep '^6\.12\.' | tail -n1)}
[ -n "$KVER" ] || die "no 6.12 kernel installed (selftests/vm/deps.sh installs it)"
make -s -C "$ROOT" cli >&2 || die "make cli failed"
make -s -C "$ROOT" module KVER="$KVER" >&2 || die "make module KVER=$KVER failed"
OUT=$BENCH/out/$([ "$QUICK" = 1 ] && echo quick || echo full)-$KVER
mkdir -p "$OUT"
gcc -O2 -g -Wall -Wextra -std=gnu11 -o "$BENCH/out/tcpbench" \
	"$BENCH/tcpbench.c" || die "cannot build tcpbench"
# the floor module, built out of the tree
FLOOR_BUILD=$BENCH/out/floor-$KVER
mkdir -p "$FLOOR_BUILD"
cp "$BENCH/floor/Kbuild" "$BENCH/floor/floor.c" "$FLOOR_BUILD/"
make -s -C "/lib/modules/$KVER/build" M="$FLOOR_BUILD" modules >&2 ||
	die "cannot build the floor module"

# -- the guest run ----------------------------------------------------------
if [ "$QUICK" = 1 ]; then
	export TCPTRACE_BENCH_CONFIGS=${BENCH_CONFIGS:-untraced tcptrace-null}
	export TCPTRACE_BENCH_WORKLOADS=${BENCH_WORKLOADS:-storm-seq}
	export TCPTRACE_BENCH_ROUNDS=${BENCH_ROUNDS:-3}
	export TCPTRACE_BENCH_PROFILE=${BENCH_PROFILE:-0}
	timeout=900
else
	export TCPTRACE_BENCH_CONFIGS=${BENCH_CONFIGS:-untraced floor tcptrace-null tcptrace-json tcptrace-raw bpftrace tcpdump}
	export TCPTRACE_BENCH_WORKLOADS=${BENCH_WORKLOADS:-storm-seq storm-conc bulk}
	export TCPTRACE_BENCH_ROUNDS=${BENCH_ROUNDS:-5}
	export TCPTRACE_BENCH_PROFILE=${BENCH_PROFILE:-1}
	timeout=5400
fi
export TCPTRACE_BENCH_CONNS=${BENCH_CONNS:-2000}
export TCPTRACE_BENCH_CLIENTS=${BENCH_CLIENTS:-4}
export TCPTRACE_BENCH_BYTES=${BENCH_BYTES:-67108864}
export TCPTRACE_BENCH_BURST=${BENCH_BURST:-1000}
export TCPTRACE_BENCH_KO=$ROOT/build/$KVER/tcptrace.ko
export TCPTRACE_BENCH_CLI=$ROOT/tools/tcpwhy
export TCPTRACE_BENCH_TOOL=$BENCH/out/tcpbench
export TCPTRACE_BENCH_BT=$BENCH/inet_sock_set_state.bt
export TCPTRACE_BENCH_FLOOR=$FLOOR_BUILD/tcptrace_floor.ko

QEMU_ARGS="-icount shift=0,sleep=off"
log "booting $KVER with $QEMU_ARGS: ${TCPTRACE_BENCH_CONFIGS} x ${TCPTRACE_BENCH_WORKLOADS}, ${TCPTRACE_BENCH_ROUNDS} rounds"
rc=0
VM_QEMU_ARGS=$QEMU_ARGS VM_SMP=1 VM_MEM=2048 VM_TIMEOUT=${VM_TIMEOUT:-$timeout} \
	VM_OUT_DIR=$OUT "$ROOT/selftests/vm/run-vm.sh" "$KVER" \
	"$BENCH/guest.sh" >"$OUT/run-vm.log" 2>&1 || rc=$?
T1=$(date +%s)
if [ "$rc" -ne 0 ]; then
	grep -v '^\[' "$OUT/run-vm.log" | tail -n 30 >&2
	die "guest run failed (exit $rc); see $OUT/"
fi

# -- the report ---------------------------------------------------------------
args=(--results "$OUT/results.jsonl" --profile-dir "$OUT" --kver "$KVER" --qemu-args "$QEMU_ARGS"
	--qemu "$(qemu-system-x86_64 --version | head -n1)"
	--host-cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	--guest-seconds $((T1 - T0))
	--rev "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)")
if [ "$QUICK" = 1 ]; then
	python3 "$BENCH/report.py" --quick "${args[@]}" \
		--max-drop "${BENCH_QUICK_MAX_DROP:-45}" \
		--max-lost "${BENCH_QUICK_MAX_LOST:-0}"
	exit $?
fi
REPORT=${BENCH_OUT:-$ROOT/BENCHMARKS.md}
python3 "$BENCH/report.py" "${args[@]}" \
	--command "make bench${BENCH_KVER:+ BENCH_KVER=$BENCH_KVER}" >"$REPORT.tmp" ||
	die "report.py failed"
mv "$REPORT.tmp" "$REPORT"
log "wrote $REPORT ($((T1 - T0)) s)"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The benchmark, inside the guest (started by selftests/bench/bench.sh
# through selftests/vm/run-vm.sh, which boots the guest with
# "-icount shift=0,sleep=off": guest time is instruction count, 1 ns per
# instruction, and idle time costs nothing).
#
#   guest.sh
#
# Everything comes from the environment (TCPTRACE_BENCH_*, set by bench.sh):
#   _KO _CLI _TOOL _BT    module, CLI, tcpbench binary, bpftrace script
#   _FLOOR                the floor module (selftests/bench/floor/)
#   _CONFIGS              configurations to compare, space separated, of
#                         untraced floor tcptrace-null tcptrace-json
#                         tcptrace-raw bpftrace tcpdump
#   _WORKLOADS            of storm-seq storm-conc bulk
#   _ROUNDS               rounds; round r runs the configurations rotated
#                         by r, each with every workload
#   _CONNS _CLIENTS       connections per storm, client processes of
#                         storm-conc
#   _BYTES                bytes per bulk transfer
#   _BURST                connections of the overflow burst (0: skip it)
#   _PROFILE              1: also profile a storm traced by tcptrace (perf)
#
# Results: one JSON object per line in $VM_OUT/results.jsonl; the tracers'
# own messages in $VM_OUT/logs/.
set -uo pipefail

KO=$TCPTRACE_BENCH_KO
CLI=$TCPTRACE_BENCH_CLI
TOOL=$TCPTRACE_BENCH_TOOL
BT=$TCPTRACE_BENCH_BT
FLOOR=${TCPTRACE_BENCH_FLOOR:-}
read -r -a CONFIGS <<<"${TCPTRACE_BENCH_CONFIGS:-untraced tcptrace-null tcptrace-json bpftrace tcpdump}"
read -r -a WORKLOADS <<<"${TCPTRACE_BENCH_WORKLOADS:-storm-seq storm-conc bulk}"
ROUNDS=${TCPTRACE_BENCH_ROUNDS:-5}
CONNS=${TCPTRACE_BENCH_CONNS:-2000}
CLIENTS=${TCPTRACE_BENCH_CLIENTS:-4}
BYTES=${TCPTRACE_BENCH_BYTES:-67108864}
BURST=${TCPTRACE_BENCH_BURST:-1000}

RES=$VM_OUT/results.jsonl
LOGS=$VM_OUT/logs
W=/tmp/bench
mkdir -p "$LOGS" "$W"
: >"$RES"

NS_A=tb-a
NS_B=tb-b
# TEST-NET-1 (RFC 5737), on a veth pair that exists only in this guest
ADDR_A=192.0.2.1
ADDR_B=192.0.2.2
port=20000

log() { echo "bench: $*" >&2; }
die() {
	echo "bench: FATAL: $*" >&2
	emit "{\"kind\":\"fatal\",\"msg\":\"$*\"}"
	exit 1
}
emit() { echo "$1" >>"$RES"; }

# runtime PID: CPU time (ns) of every thread of PID so far
runtime() {
	local t sum=0 v
	for t in /proc/"$1"/task/*/schedstat; do
		read -r v _ <"$t" 2>/dev/null || continue
		sum=$((sum + v))
	done
	echo "$sum"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' /proc/"$1"/status 2>/dev/null || echo 0; }

meminfo() {	# meminfo: "MemFree Slab VmallocUsed Percpu" in kB
	awk '/^(MemFree|Slab|VmallocUsed|Percpu):/ { v[$1] = $2 }
	     END { print v["MemFree:"], v["Slab:"], v["VmallocUsed:"], v["Percpu:"] }' /proc/meminfo
}

# wait_for CMD...: retry CMD every 0.05 s for up to 60 s of guest time
wait_for() {
	local i
	for ((i = 0; i < 1200; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

has_dev_open() {
	local fd
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd")" = /dev/tcptrace ] && return 0
	done
	return 1
}

# ---------------------------------------------------------------------------
# Setup
# ---------------------------------------------------------------------------

for f in "$KO" "$CLI" "$TOOL"; do
	[ -e "$f" ] || die "$f missing"
done
case " ${CONFIGS[*]} " in
*" floor "*) [ -e "$FLOOR" ] || die "floor module ${FLOOR:-(unset)} missing" ;;
esac
lsmod | grep -q '^tcptrace ' && rmmod tcptrace

# Closed connections skip TIME_WAIT (tcp_time_wait() still moves them to
# CLOSE), so no run leaves sockets behind that would slow the next one.
sysctl -qw net.ipv4.tcp_max_tw_buckets=0
{ ip netns add "$NS_A" && ip netns add "$NS_B"; } || die "ip netns add"
ip link add va netns "$NS_A" type veth peer name vb netns "$NS_B" ||
	die "veth"
ip -n "$NS_A" addr add "$ADDR_A/24" dev va
ip -n "$NS_B" addr add "$ADDR_B/24" dev vb
for ns in "$NS_A" "$NS_B"; do
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv4.tcp_max_tw_buckets=0
done
ip -n "$NS_A" link set va up
ip -n "$NS_B" link set vb up

{
	printf '{"kind":"env","kernel":"%s","cpus":%d,' "$(uname -r)" "$(nproc)"
	printf '"cpu_model":"%s",' "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	printf '"mem_kb":%d,' "$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
	printf '"clocksource":"%s",' "$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
	printf '"hz":"%s",' "$(grep -E '^CONFIG_HZ=' "/boot/config-$(uname -r)" 2>/dev/null | cut -d= -f2)"
	printf '"bpftrace":"%s","tcpdump":"%s",' \
		"$(bpftrace --version 2>/dev/null | head -n1)" \
		"$(tcpdump --version 2>&1 | head -n1)"
	printf '"configs":"%s","workloads":"%s","rounds":%d,' \
		"${CONFIGS[*]}" "${WORKLOADS[*]}" "$ROUNDS"
	printf '"conns":%d,"clients":%d,"bytes":%d,"burst":%d}\n' \
		"$CONNS" "$CLIENTS" "$BYTES" "$BURST"
} >>"$RES"

# ---------------------------------------------------------------------------
# Workloads: each prints tcpbench's JSON line.  They run in a subshell, so
# the caller picks the port: next_port before each.
# ---------------------------------------------------------------------------

next_port() { port=$((port + 1)); }

workload() {	# workload NAME
	case $1 in
	storm-seq)
		"$TOOL" storm -a 127.0.0.1 -p "$port" -n "$CONNS" -P 1
		;;
	storm-conc)
		"$TOOL" storm -a 127.0.0.1 -p "$port" -n "$CONNS" -P "$CLIENTS"
		;;
	bulk)
		ip netns exec "$NS_B" "$TOOL" bulk-recv -a "$ADDR_B" -p "$port" \
			>/dev/null &
		local rpid=$!
		ip netns exec "$NS_A" "$TOOL" bulk-send -a "$ADDR_B" -p "$port" \
			-b "$BYTES"
		local rc=$?
		wait "$rpid" || rc=1
		return $rc
		;;
	*)
		die "unknown workload $1"
		;;
	esac
}

# the interface the workload's packets cross, and the namespace it is in
workload_if() {
	case $1 in
	bulk) echo "$NS_B vb" ;;
	*) echo "- lo" ;;
	esac
}

# ---------------------------------------------------------------------------
# Tracers.  start_tracer CONFIG WORKLOAD sets TPID (0: none) once the
# tracer is attached; stop_tracer CONFIG stops it and sets EXTRA to the
# JSON fields it contributes (events recorded, lost, ...).
# ---------------------------------------------------------------------------

TPID=0
EXTRA=
MEM=

load_module() {
	local before after size
	before=$(meminfo)
	insmod "$KO" || die "insmod $KO"
	after=$(meminfo)
	size=$(awk '$1 == "tcptrace" { print $2 }' /proc/modules)
	# shellcheck disable=SC2086 # word splitting is the point
	MEM=$(set -- $before $after
		printf '"module_size":%d,"d_memfree_kb":%d,"d_slab_kb":%d,"d_vmalloc_kb":%d,"d_percpu_kb":%d' \
			"$size" $(($1 - $5)) $(($6 - $2)) $(($7 - $3)) $(($8 - $4)))
}

start_tracer() {	# start_tracer CONFIG WORKLOAD
	local ns ifc
	read -r ns ifc <<<"$(workload_if "$2")"
	TPID=0
	case $1 in
	untraced) ;;
	floor)
		insmod "$FLOOR" || die "insmod $FLOOR"
		;;
	tcptrace-null | tcptrace-json | tcptrace-raw)
		load_module
		if [ "$1" = tcptrace-null ]; then
			"$CLI" >/dev/null 2>"$W/tracer.err" &
		elif [ "$1" = tcptrace-json ]; then
			"$CLI" -j >"$W/trace.json" 2>"$W/tracer.err" &
		else
			"$CLI" -w "$W/trace.raw" 2>"$W/tracer.err" &
		fi
		TPID=$!
		wait_for has_dev_open "$TPID" || die "tcptrace CLI did not open the device"
		;;
	bpftrace)
		rm -f "$W/bpftrace.ready"
		bpftrace --unsafe "$BT" >"$W/trace.bt" 2>"$W/tracer.err" &
		TPID=$!
		wait_for test -e "$W/bpftrace.ready" ||
			die "bpftrace did not attach: $(cat "$W/tracer.err")"
		# BEGIN can run before the tracepoint's program is attached:
		# give it time (idle, so free) before the workload starts
		sleep 2
		;;
	tcpdump)
		local pre=()
		[ "$ns" = - ] || pre=(ip netns exec "$ns")
		"${pre[@]}" tcpdump -n -i "$ifc" -w "$W/trace.pcap" \
			'tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0' \
			2>"$W/tracer.err" &
		TPID=$!
		wait_for grep -q 'listening on' "$W/tracer.err" ||
			die "tcpdump did not start: $(cat "$W/tracer.err")"
		;;
	*)
		die "unknown configuration $1"
		;;
	esac
}

# poke: one TCP state change (a refused connect), to wake a tracer
poke() { (exec 3<>/dev/tcp/127.0.0.1/1) 2>/dev/null; }

# stop PID: SIGINT, and wait; returns 1 if it had to be killed
stop_pid() {
	local pid=$1 i
	kill -INT "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		# bpftrace 0.17 can miss a SIGINT that arrives just before
		# it blocks in epoll_wait(): an event wakes it up
		if [ $((i % 20)) -eq 19 ]; then
			poke
			kill -INT "$pid" 2>/dev/null
		fi
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		wait "$pid" 2>/dev/null
		return 1
	fi
	wait "$pid" 2>/dev/null
	return 0
}

# stop_tracer CONFIG WORKLOAD CPU0 CPU1: CPU0 and CPU1 are the tracer's CPU
# time when the workload started and ended
stop_tracer() {
	local cfg=$1 cpu0=$3 cpu1=$4 tail rss killed=false stats lines lost n
	EXTRA=
	if [ "$cfg" = floor ]; then
		rmmod tcptrace_floor || die "rmmod tcptrace_floor"
		return 0
	fi
	[ "$TPID" -ne 0 ] || return 0
	# Let the tracer catch up with what the workload left behind.  Idle
	# time is free under sleep=off; tcpdump's capture buffer hands over
	# a block when it fills or after 1 s.
	sleep 2
	tail=$(($(runtime "$TPID") - cpu1))
	rss=$(rss_kb "$TPID")
	stop_pid "$TPID" || killed=true
	EXTRA="\"tracer_cpu_ns\":$((cpu1 - cpu0)),\"tracer_tail_ns\":$tail,\"tracer_rss_kb\":${rss:-0},\"tracer_killed\":$killed"
	case $cfg in
	tcptrace-*)
		stats=$("$CLI" --stats -j) || die "tcpwhy --stats failed"
		EXTRA+=",\"stats\":$stats,\"mem\":{$MEM}"
		if [ "$cfg" = tcptrace-json ]; then
			lines=$(wc -l <"$W/trace.json")
			lost=$(awk -F'"count":' '/"type":"lost"/ { split($2, a, /[,}]/); s += a[1] } END { print s + 0 }' "$W/trace.json")
			EXTRA+=",\"lines\":$lines,\"lost_reported\":$lost,\"file_bytes\":$(stat -c %s "$W/trace.json")"
			rm -f "$W/trace.json"
		elif [ "$cfg" = tcptrace-raw ]; then
			EXTRA+=",\"file_bytes\":$(stat -c %s "$W/trace.raw")"
			rm -f "$W/trace.raw"
		fi
		rmmod tcptrace || die "rmmod tcptrace"
		;;
	bpftrace)
		# lines of this workload's connections (not the pokes')
		n=$(grep -c -E ":$port( |$)" "$W/trace.bt")
		lost=$(cat "$W/trace.bt" "$W/tracer.err" |
			awk '/Lost [0-9]+ events/ { for (i = 1; i <= NF; i++) if ($i == "Lost") s += $(i + 1) } END { print s + 0 }')
		EXTRA+=",\"events\":$n,\"lost\":$lost,\"file_bytes\":$(stat -c %s "$W/trace.bt")"
		rm -f "$W/trace.bt"
		;;
	tcpdump)
		n=$(awk '/packets captured/ { print $1 }' "$W/tracer.err")
		lost=$(awk '/packets dropped by kernel/ { print $1 }' "$W/tracer.err")
		EXTRA+=",\"events\":${n:-0},\"lost\":${lost:-0},\"file_bytes\":$(stat -c %s "$W/trace.pcap")"
		rm -f "$W/trace.pcap"
		;;
	esac
	cp "$W/tracer.err" "$LOGS/$cfg-$2.err" 2>/dev/null
	TPID=0
}

# one measurement: ROUND SLOT CONFIG WORKLOAD
measure() {
	local round=$1 slot=$2 cfg=$3 wl=$4 out cpu0=0 cpu1=0
	next_port
	start_tracer "$cfg" "$wl"
	[ "$TPID" -eq 0 ] || cpu0=$(runtime "$TPID")
	out=$(workload "$wl") || die "workload $wl failed under $cfg: $out"
	[ "$TPID" -eq 0 ] || cpu1=$(runtime "$TPID")
	stop_tracer "$cfg" "$wl" "$cpu0" "$cpu1"
	out=${out%\}}
	emit "{\"kind\":\"run\",\"round\":$round,\"slot\":$slot,\"config\":\"$cfg\",\"name\":\"$wl\",\"port\":$port,${out#\{}${EXTRA:+,$EXTRA}}"
	log "round $round $cfg $wl: $(tail -n1 "$RES" | cut -c1-160)"
}

# ---------------------------------------------------------------------------
# Burst: overflow the default buffer on purpose
# ---------------------------------------------------------------------------

burst() {
	local out stats pid lines lost
	[ "$BURST" -gt 0 ] || return 0

	# 1. no reader at all: the buffer keeps the first records, drops the rest
	load_module
	next_port
	out=$(CONNS=$BURST workload storm-seq) || die "burst workload failed"
	stats=$("$CLI" --stats -j) || die "--stats failed"
	out=${out%\}}
	emit "{\"kind\":\"burst\",\"reader\":\"none\",\"port\":$port,${out#\{},\"stats\":$stats}"
	rmmod tcptrace

	# 2. a reader that is stopped (SIGSTOP) during the burst, then resumes:
	#    it must be told, in-band, exactly how many records it missed
	load_module
	"$CLI" -j >"$W/burst.json" 2>"$W/burst.err" &
	pid=$!
	wait_for has_dev_open "$pid" || die "CLI did not open the device"
	kill -STOP "$pid"
	next_port
	out=$(CONNS=$BURST workload storm-seq) || die "burst workload failed"
	kill -CONT "$pid"
	sleep 2
	out=${out%\}}
	stop_pid "$pid"
	stats=$("$CLI" --stats -j) || die "--stats failed"
	lines=$(grep -c -v '"type":"lost"' "$W/burst.json")
	lost=$(awk -F'"count":' '/"type":"lost"/ { split($2, a, /[,}]/); s += a[1] } END { print s + 0 }' "$W/burst.json")
	emit "{\"kind\":\"burst\",\"reader\":\"stopped\",\"port\":$port,${out#\{},\"stats\":$stats,\"lines\":$lines,\"lost_reported\":$lost}"
	rmmod tcptrace
	rm -f "$W/burst.json"
}

# ---------------------------------------------------------------------------
# Profile: where a traced storm's time goes (perf's cpu-clock samples fire
# on guest time, so they sample instructions)
# ---------------------------------------------------------------------------

profile() {
	local pid
	[ "${TCPTRACE_BENCH_PROFILE:-0}" = 1 ] || return 0
	if ! perf version >/dev/null 2>&1; then
		log "no perf: skipping the profile"
		return 0
	fi
	sysctl -qw kernel.kptr_restrict=0 kernel.perf_event_paranoid=-1
	load_module
	"$CLI" >/dev/null 2>/dev/null &
	pid=$!
	wait_for has_dev_open "$pid" || die "CLI did not open the device"
	next_port
	perf record -q -a -g -e cpu-clock -F 10000 -o "$W/perf.data" -- \
		"$TOOL" storm -a 127.0.0.1 -p "$port" -n "$CONNS" -P 1 \
		>"$VM_OUT/profile-run.json" 2>"$LOGS/perf-record.err" ||
		log "perf record failed"
	stop_pid "$pid"
	# while the module is loaded: its symbols come from /proc/kallsyms
	perf report -i "$W/perf.data" --children --sort sym -g none \
		--percent-limit 0.2 --stdio >"$VM_OUT/profile-children.txt" \
		2>"$LOGS/perf-report.err"
	perf report -i "$W/perf.data" --no-children --sort comm -g none \
		--stdio >"$VM_OUT/profile-comm.txt" 2>>"$LOGS/perf-report.err"
	perf report -i "$W/perf.data" --no-children --comms tcpwhy \
		--sort dso,sym -g none --percent-limit 0.5 --stdio \
		>"$VM_OUT/profile-cli.txt" 2>>"$LOGS/perf-report.err"
	rmmod tcptrace
}

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

# warm-up, not recorded: the first run after boot is ~3% slower
for wl in "${WORKLOADS[@]}"; do
	next_port
	workload "$wl" >/dev/null || die "warm-up $wl failed"
done

n=${#CONFIGS[@]}
for ((r = 0; r < ROUNDS; r++)); do
	for ((s = 0; s < n; s++)); do
		cfg=${CONFIGS[$(((s + r) % n))]}
		for wl in "${WORKLOADS[@]}"; do
			measure "$((r + 1))" "$s" "$cfg" "$wl"
		done
	done
done

burst
profile
emit '{"kind":"done"}'
log "done"

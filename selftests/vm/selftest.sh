#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Self-test of the VM harness (run-vm.sh) itself.
#
# Usage: selftests/vm/selftest.sh [KVER...]   (default: every kernel that
#                                             kernels.sh lists)
# Boots each kernel a few times (~5 s per boot under TCG) and checks exit
# status propagation, output, module loading, environment/cwd passing, the
# result dir, crash/splat/timeout detection and signal cleanup.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUNVM=$HERE/run-vm.sh

if [ $# -gt 0 ]; then
	KERNELS=("$@")
else
	mapfile -t KERNELS < <("$HERE/kernels.sh")
fi
[ "${#KERNELS[@]}" -gt 0 ] || {
	echo "selftest: no supported kernel installed (run deps.sh)" >&2
	exit 1
}

PASS=0
FAIL=0
TMP=$(mktemp -d /tmp/tcptrace-vm-selftest.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

ok() {
	PASS=$((PASS + 1))
	echo "ok   - $*"
}
not_ok() {
	FAIL=$((FAIL + 1))
	echo "FAIL - $*"
}

# vm NAME EXPECTED_RC KVER CMD...: run CMD in the VM (no stdin, output kept
# in $TMP/NAME.out) and check the exit status.  Returns 0 when it matched.
vm() {
	local name=$1 want=$2 rc=0
	shift 2
	# Result dirs go under $TMP (cleaned up) unless the test picked one.
	VM_OUT_DIR=${VM_OUT_DIR:-$TMP/result-$name} \
		"$RUNVM" "$@" </dev/null >"$TMP/$name.out" 2>&1 || rc=$?
	if [ "$rc" -eq "$want" ]; then
		ok "$name: exit $rc"
		return 0
	fi
	not_ok "$name: exit $rc, expected $want; output:"
	sed 's/^/    | /' "$TMP/$name.out"
	return 1
}

# expect NAME PATTERN: the output of run NAME contains PATTERN (grep -E).
expect() {
	if grep -qE -- "$2" "$TMP/$1.out"; then
		ok "$1: output has '$2'"
	else
		not_ok "$1: output lacks '$2'"
	fi
}

# expect_line NAME LINE: the output of run NAME has exactly LINE as a line.
expect_line() {
	if tr -d '\r' <"$TMP/$1.out" | grep -qxF -- "$2"; then
		ok "$1: output has line '$2'"
	else
		not_ok "$1: output lacks line '$2'"
	fi
}

# --- splat detection on fake logs (no VM) ----------------------------------
fake=$TMP/fake
mkdir -p "$fake"
printf '[    1.000000] Linux version 6.1.0\n[    2.000000] veth: loaded\n' >"$fake/dmesg.txt"
printf 'hello\nWARNING: this is the test talking, not the kernel\n' >"$fake/console.log"
if "$RUNVM" --check-logs "$fake/dmesg.txt" "$fake/console.log" 2>/dev/null; then
	ok "check-logs: clean logs pass (user-space 'WARNING:' on the console ignored)"
else
	not_ok "check-logs: clean logs flagged"
fi
for splat in \
	'WARNING: CPU: 0 PID: 42 at net/ipv4/tcp.c:123 tcp_foo+0x1/0x2 [tcptrace]' \
	'BUG: kernel NULL pointer dereference, address: 0000000000000008' \
	'Oops: 0002 [#1] PREEMPT SMP NOPTI' \
	'general protection fault, probably for non-canonical address' \
	'Kernel panic - not syncing: Fatal exception' \
	'BUG: KASAN: slab-use-after-free in tcp_foo' \
	'UBSAN: shift-out-of-bounds in net/foo.c:1:2' \
	' Call Trace:'; do
	cp "$fake/dmesg.txt" "$fake/dmesg-bad.txt"
	printf '[    3.000000] %s\n' "$splat" >>"$fake/dmesg-bad.txt"
	rc=0
	"$RUNVM" --check-logs "$fake/dmesg-bad.txt" 2>/dev/null || rc=$?
	if [ "$rc" -eq 99 ]; then ok "check-logs: detects '$splat'"; else not_ok "check-logs: missed '$splat' (rc $rc)"; fi
done
# Kernel lines on the serial console count, wherever they start.
printf 'test output\nsome text[   12.345678] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x0/0x1\r\n' >"$fake/console.log"
rc=0
"$RUNVM" --check-logs "$fake/console.log" 2>/dev/null || rc=$?
if [ "$rc" -eq 99 ]; then ok "check-logs: detects a kernel WARNING on the console"; else not_ok "check-logs: missed console WARNING"; fi
rc=0
VM_SPLAT_IGNORE='x\.c:1' "$RUNVM" --check-logs "$fake/console.log" 2>/dev/null || rc=$?
if [ "$rc" -eq 0 ]; then ok "check-logs: VM_SPLAT_IGNORE works"; else not_ok "check-logs: VM_SPLAT_IGNORE ignored"; fi

# --- per kernel ------------------------------------------------------------
first=1
for K in "${KERNELS[@]}"; do
	echo "# kernel $K"

	# The brief's basic test: exit status, uname, netns, modprobe, python.
	# shellcheck disable=SC2016
	if vm "basic-$K" 3 "$K" /bin/sh -c 'uname -r; ip link set lo up; ip netns add a && ip netns list; modprobe veth && echo veth-ok; python3 -c "print(42)"; exit 3'; then
		expect_line "basic-$K" "$K"
		expect "basic-$K" '^a'
		expect "basic-$K" '^veth-ok'
		expect "basic-$K" '^42'
		expect "basic-$K" "boot-to-script [0-9.]+s"
		grep -hE 'boot-to-script' "$TMP/basic-$K.out" | sed 's/^/    /'
	fi

	# Environment, cwd under /tmp, writes anywhere, result dir, autoload.
	work=$TMP/work-$K
	mkdir -p "$work/sub"
	cat >"$work/t.sh" <<'EOF'
#!/bin/sh
set -e
echo "cwd=$(pwd)"
echo "x=[$TCPTRACE_X]"
echo "ci=[${CI-unset}] other=[${OTHER_VAR-unset}] home=$HOME term=$TERM"
echo "args=[$1][$2]"
echo "path=$PATH"
grep -o 'tcptrace_selftest=1' /proc/cmdline
echo guest >/etc/tcptrace-vm-selftest
echo guest >"$VM_OUT/from-guest"
echo here >./written-in-cwd
ip link add v0 type veth peer name v1 && echo autoload-ok
mountpoint -q /sys/kernel/tracing && echo tracefs-ok
echo tmp-ok >/tmp/x && cat /tmp/x
EOF
	chmod +x "$work/t.sh"
	rm -rf "$TMP/out-$K"
	cd "$work/sub"
	env_rc=0
	TCPTRACE_X="it's a \"test\" \$HOME" CI=true OTHER_VAR=1 \
		VM_OUT_DIR="$TMP/out-$K" VM_APPEND=tcptrace_selftest=1 VM_QEMU_ARGS='-name selftest' \
		vm "env-$K" 0 "$K" "$work/t.sh" 'a b' "c'd" || env_rc=$?
	cd "$HERE"
	if [ "$env_rc" -eq 0 ]; then
		expect_line "env-$K" "cwd=$work/sub"
		expect "env-$K" "^x=\[it's a \"test\" \\\$HOME\]\$"
		expect "env-$K" '^ci=\[true\] other=\[unset\] home=/root term=dumb$'
		expect "env-$K" "^args=\[a b\]\[c'd\]\$"
		expect "env-$K" '^path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin$'
		expect "env-$K" '^tcptrace_selftest=1$'
		expect "env-$K" '^autoload-ok$'
		expect "env-$K" '^tracefs-ok$'
		expect "env-$K" '^tmp-ok$'
		if [ "$(cat "$TMP/out-$K/from-guest" 2>/dev/null)" = guest ] &&
			[ -s "$TMP/out-$K/dmesg.txt" ] && [ "$(cat "$TMP/out-$K/exit-code")" = 0 ]; then
			ok "env-$K: result dir has from-guest, dmesg.txt, exit-code"
		else
			not_ok "env-$K: result dir incomplete: $(cd "$TMP/out-$K" && echo * .??*)"
		fi
		if [ ! -e /etc/tcptrace-vm-selftest ] && [ ! -e "$work/sub/written-in-cwd" ]; then
			ok "env-$K: guest writes stayed in the guest"
		else
			not_ok "env-$K: guest writes leaked to the host"
		fi
	fi

	# A kernel crash: no exit code -> 98.
	vm "crash-$K" 98 "$K" /bin/sh -c 'echo c >/proc/sysrq-trigger; sleep 5; exit 0' &&
		expect "crash-$K" 'guest did not report an exit code'

	# A kernel warning in dmesg (injected through /dev/kmsg) -> 99, even
	# though the command succeeded.
	vm "warn-$K" 99 "$K" /bin/sh -c 'echo "<4>WARNING: CPU: 0 PID: 1 at fake/selftest.c:1 fake+0x0/0x10" >/dev/kmsg; exit 0' &&
		expect "warn-$K" 'kernel splat in .*dmesg.txt'

	if [ "$first" = 1 ]; then
		first=0
		# Timeout -> 97, promptly.
		start=$SECONDS
		VM_TIMEOUT=12 vm "timeout-$K" 97 "$K" /bin/sleep 600 &&
			expect "timeout-$K" 'TIMEOUT'
		if [ $((SECONDS - start)) -lt 40 ]; then ok "timeout-$K: took $((SECONDS - start))s"; else not_ok "timeout-$K: took $((SECONDS - start))s"; fi

		# SIGTERM to run-vm.sh kills qemu too.
		sigout=$TMP/sigterm-out
		VM_OUT_DIR=$sigout "$RUNVM" "$K" /bin/sleep 600 </dev/null >"$TMP/sigterm.out" 2>&1 &
		pid=$!
		for _ in $(seq 100); do
			[ -e "$sigout/.script-started" ] && break
			sleep 0.2
		done
		kill -TERM "$pid"
		rc=0
		wait "$pid" || rc=$?
		sleep 1
		# Any qemu still serving this result dir?
		# (pattern from a file, so this grep does not match itself)
		printf '%s\n' "$sigout" >"$TMP/sigout.pat"
		left=$(grep -lsFf "$TMP/sigout.pat" /proc/[0-9]*/cmdline 2>/dev/null | grep -v "^/proc/$$/" || true)
		if [ "$rc" -ne 0 ] && [ -z "$left" ]; then
			ok "sigterm: run-vm.sh exited $rc, no qemu left"
		else
			not_ok "sigterm: rc=$rc, leftover: $left"
		fi
	fi
done

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]

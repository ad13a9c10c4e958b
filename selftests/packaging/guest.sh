#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the guest (selftests/vm/run-vm.sh), after selftests/packaging/
# run.sh installed the tcptrace-dkms and tcpwhy packages on the host: the
# DKMS-built module of the kernel the guest booted, with the packaged CLI,
# udev rule and modprobe.d example.
#
#   guest.sh VERSION
#
# Writes one "ok NAME" or "not ok NAME" line per check to $VM_OUT/results
# (lines starting with "#" are diagnostics); run.sh numbers them into its
# TAP.
set -uo pipefail

VERSION=$1
RESULTS=$VM_OUT/results
KVER=$(uname -r)
CLI=/usr/sbin/tcpwhy
DEV=/dev/tcptrace
: >"$RESULTS"
echo "# guest kernel $KVER"

pass() { echo "ok $KVER: $1" | tee -a "$RESULTS"; }
fail() {
	local name=$1
	shift
	echo "not ok $KVER: $name" | tee -a "$RESULTS"
	local l
	for l in "$@"; do
		printf '%s\n' "$l" | sed 's/^/#   /' | tee -a "$RESULTS"
	done
}
# check NAME CMD...: pass if CMD succeeds, else fail with its output
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$name"
	else
		fail "$name" "$out"
	fi
}

perm() { stat -c '%a %U %G %F' "$DEV" 2>&1; }

udevd_pid=
stop_udevd() {
	if [ -n "$udevd_pid" ]; then
		udevadm control --exit 2>/dev/null || kill "$udevd_pid" 2>/dev/null
		udevd_pid=
	fi
}
trap stop_udevd EXIT

# --- the module DKMS installed --------------------------------------------

if ! out=$(modprobe tcptrace 2>&1); then
	fail "modprobe tcptrace" "$out"
	exit 1
fi
pass "modprobe tcptrace"

path=$(modinfo -n tcptrace 2>&1)
case $path in
"/lib/modules/$KVER/updates/dkms/tcptrace.ko"*) pass "module loaded from the DKMS location" ;;
*) fail "module loaded from the DKMS location" "modinfo -n tcptrace: $path" ;;
esac

v=$(cat /sys/module/tcptrace/version 2>&1)
if [ "$v" = "$VERSION" ]; then
	pass "module version is $VERSION"
else
	fail "module version is $VERSION" "/sys/module/tcptrace/version: $v"
fi

# No udevd yet: this is the mode the module itself gives the node.
p=$(perm)
if [ "$p" = "600 root root character special file" ]; then
	pass "/dev/tcptrace is 0600 root:root (module)"
else
	fail "/dev/tcptrace is 0600 root:root (module)" "$p"
fi

ok=1
msg=()
for want in buf_size=262144 conn_table_size=4096 hs_timeout=180; do
	f=/sys/module/tcptrace/parameters/${want%%=*}
	got=$(cat "$f" 2>&1)
	if [ "$got" != "${want#*=}" ]; then
		ok=0
		msg+=("$f: $got, want ${want#*=}")
	fi
done
if [ "$ok" = 1 ]; then
	pass "parameters buf_size, conn_table_size, hs_timeout at their defaults"
else
	fail "parameters buf_size, conn_table_size, hs_timeout at their defaults" "${msg[@]}"
fi

# Every parameter the module has is documented where operators look.
man_src=$(zcat /usr/share/man/man8/tcpwhy.8.gz 2>/dev/null)
example=/usr/share/doc/tcptrace-dkms/examples/modprobe.d/tcptrace.conf
missing=()
for f in /sys/module/tcptrace/parameters/*; do
	p=${f##*/}
	grep -q "$p" <<<"$man_src" || missing+=("$p: not in tcpwhy(8)")
	grep -q "$p" "$example" || missing+=("$p: not in $example")
done
if [ "${#missing[@]}" -eq 0 ]; then
	pass "every module parameter is documented"
else
	fail "every module parameter is documented" "${missing[@]}"
fi

out=$("$CLI" -V 2>&1)
if [[ $out == "tcpwhy $VERSION,"* ]]; then
	pass "packaged CLI is version $VERSION"
else
	fail "packaged CLI is version $VERSION" "$out"
fi

# --- events through the packaged CLI ----------------------------------------

# wait_open PID: until PID has the device open (max 10 s)
wait_open() {
	local fd
	for _ in $(seq 100); do
		for fd in /proc/"$1"/fd/*; do
			[ "$(readlink "$fd" 2>/dev/null)" = "$DEV" ] && return 0
		done
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# A port nothing listens on: bind one, close it.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
refused() {
	python3 - "$port" <<'EOF'
import socket
import sys
s = socket.socket()
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except ConnectionRefusedError:
    sys.exit(0)
print("connect did not fail with ECONNREFUSED")
sys.exit(1)
EOF
}

tmp=$(mktemp -d)
"$CLI" -j -c 2 -P "$port" >"$tmp/events" 2>"$tmp/err" &
cli=$!
if wait_open "$cli"; then
	refused >"$tmp/conn" 2>&1
	for _ in $(seq 100); do
		kill -0 "$cli" 2>/dev/null || break
		sleep 0.1
	done
	kill "$cli" 2>/dev/null
fi
wait "$cli"
rc=$?
if out=$(python3 - "$port" "$tmp/events" <<'EOF' 2>&1
import json
import sys
import jsonschema
port = int(sys.argv[1])
lines = open(sys.argv[2]).read().splitlines()
assert len(lines) == 2, "want 2 lines, got %d: %r" % (len(lines), lines)
ev = [json.loads(x) for x in lines]
# the schema the package installs describes what it prints
schema = json.load(open("/usr/share/tcpwhy/tcpwhy.schema.json"))
for e in ev:
    jsonschema.Draft202012Validator(schema).validate(e)
for e in ev:
    assert port in (e.get("sport"), e.get("dport")), "port %d not in %r" % (port, e)
first = ev[0]
assert first["type"] == "state", first
assert (first["old"], first["new"]) == ("CLOSE", "SYN_SENT"), first
assert first["comm"] == "python3", first
assert first["daddr"] == "127.0.0.1" and first["dport"] == port, first
print("\n".join(lines))
EOF
); then
	if [ "$rc" -eq 0 ]; then
		pass "tcpwhy -j -c 2 reports the refused connection, as its schema says"
		sed 's/^/# /' <<<"$out" | tee -a "$RESULTS"
	else
		fail "tcpwhy -j -c 2 reports the refused connection, as its schema says" "exit $rc" "$(cat "$tmp/err")"
	fi
else
	fail "tcpwhy -j -c 2 reports the refused connection, as its schema says" "exit $rc" "$out" \
		"$(cat "$tmp/err" "$tmp/conn")"
fi

# What tcpwhy-export.service relies on: with stdout not a terminal, lines
# arrive while tcptrace runs, and SIGTERM ends it with status 0.
"$CLI" -j -P "$port" >"$tmp/stream" 2>"$tmp/err" &
cli=$!
streamed=0
if wait_open "$cli"; then
	refused >/dev/null 2>&1
	for _ in $(seq 100); do
		if [ "$(grep -c '"SYN_SENT"' "$tmp/stream")" -ge 2 ]; then
			streamed=1
			break
		fi
		sleep 0.1
	done
fi
kill -TERM "$cli" 2>/dev/null
wait "$cli"
rc=$?
if [ "$streamed" = 1 ] && [ "$rc" -eq 0 ]; then
	pass "JSON lines stream to a non-tty stdout; SIGTERM exits 0"
else
	fail "JSON lines stream to a non-tty stdout; SIGTERM exits 0" \
		"streamed=$streamed exit=$rc" "$(cat "$tmp/stream" "$tmp/err")"
fi

# What the logrotate example relies on: records made while no reader has
# the device open wait for the next reader (an exporter restart loses
# nothing).
refused >/dev/null 2>&1
out=$("$CLI" -j -d 2 -P "$port" 2>&1)
if [ "$(grep -c '"SYN_SENT"' <<<"$out")" -ge 2 ]; then
	pass "records made with no reader are delivered to the next reader"
else
	fail "records made with no reader are delivered to the next reader" "$out"
fi

# One reader at a time (documented in tcpwhy(8)).
"$CLI" -j >/dev/null 2>&1 &
cli=$!
if wait_open "$cli"; then
	out=$("$CLI" --stats 2>&1)
	rc=$?
	if [ "$rc" -eq 1 ] && [[ $out == *busy* ]]; then
		pass "a second reader is refused as busy (exit 1)"
	else
		fail "a second reader is refused as busy (exit 1)" "exit $rc: $out"
	fi
else
	fail "a second reader is refused as busy (exit 1)" "first reader never opened $DEV"
fi
kill "$cli" 2>/dev/null
wait "$cli" 2>/dev/null

check "tcpwhy --stats" "$CLI" --stats

# --- the udev rule, with a real udevd ---------------------------------------

rules=/usr/lib/udev/rules.d/60-tcptrace.rules
out=$(udevadm test /sys/class/misc/tcptrace 2>&1)
if grep -q "60-tcptrace.rules:.* MODE 0600" <<<"$out" &&
	grep -q "60-tcptrace.rules:.* OWNER 0" <<<"$out" &&
	grep -q "60-tcptrace.rules:.* GROUP 0" <<<"$out"; then
	pass "udevadm test: $rules sets root:root 0600"
else
	fail "udevadm test: $rules sets root:root 0600" "$(grep -i tcptrace <<<"$out")"
fi

# reload_module: reload, wait for udev to process the new node
reload_module() {
	modprobe -r tcptrace && modprobe tcptrace && udevadm settle -t 10
}

/lib/systemd/systemd-udevd --daemon >"$tmp/udevd.log" 2>&1
udevd_pid=$(pgrep -x systemd-udevd | head -n1)
if [ -z "$udevd_pid" ] || ! udevadm control --ping -t 10 >/dev/null 2>&1; then
	fail "udevd runs in the guest" "$(cat "$tmp/udevd.log")"
else
	reload_module
	p=$(perm)
	if [ "$p" = "600 root root character special file" ]; then
		pass "with udevd: /dev/tcptrace is 0600 root:root"
	else
		fail "with udevd: /dev/tcptrace is 0600 root:root" "$p"
	fi

	# The documented way to open it to a group: the example rule, same
	# name, in /etc/udev/rules.d.
	groupadd --system tcptrace
	cp /usr/share/doc/tcptrace-dkms/examples/udev/60-tcptrace.rules \
		/etc/udev/rules.d/60-tcptrace.rules
	udevadm control --reload
	reload_module
	p=$(perm)
	if [ "$p" = "640 root tcptrace character special file" ]; then
		pass "udev group example: /dev/tcptrace is 0640 root:tcptrace"
	else
		fail "udev group example: /dev/tcptrace is 0640 root:tcptrace" "$p"
	fi
	rm -f /etc/udev/rules.d/60-tcptrace.rules
	udevadm control --reload
	udevadm settle -t 10
	# udevd reads its rules again when it next looks: on a loaded guest
	# the first add event after the reload may still meet the old ones
	for try in 1 2 3; do
		reload_module
		p=$(perm)
		[ "$p" != "600 root root character special file" ] || break
		echo "# try $try: $p, udevd's rules may still be the old ones"
		sleep 1
	done
	if [ "$p" = "600 root root character special file" ]; then
		pass "without the override: back to 0600 root:root"
	else
		fail "without the override: back to 0600 root:root" "$p"
	fi
	stop_udevd
fi

# --- modprobe.d example ------------------------------------------------------

sed 's/^#options /options /' "$example" >/etc/modprobe.d/tcptrace.conf
want=$(sed -n 's/^options tcptrace //p' /etc/modprobe.d/tcptrace.conf)
if [ -z "$want" ]; then
	fail "modprobe.d example applies" "no '#options tcptrace' line in $example"
elif ! out=$(modprobe -r tcptrace 2>&1 && modprobe tcptrace 2>&1); then
	fail "modprobe.d example applies" "$out"
else
	msg=()
	for kv in $want; do
		got=$(cat "/sys/module/tcptrace/parameters/${kv%%=*}" 2>&1)
		[ "$got" = "${kv#*=}" ] || msg+=("${kv%%=*}: $got, want ${kv#*=}")
	done
	if [ "${#msg[@]}" -eq 0 ]; then
		pass "modprobe.d example applies ($want)"
	else
		fail "modprobe.d example applies ($want)" "${msg[@]}"
	fi
fi
rm -f /etc/modprobe.d/tcptrace.conf

modprobe -r tcptrace
if out=$(modprobe tcptrace buf_size=1 2>&1); then
	fail "out-of-range buf_size refuses to load" "modprobe succeeded"
	modprobe -r tcptrace
elif dmesg | tail -n 20 | grep -q 'tcptrace: buf_size=1 out of range'; then
	pass "out-of-range buf_size refuses to load, reason in the kernel log"
else
	fail "out-of-range buf_size refuses to load, reason in the kernel log" \
		"$out" "$(dmesg | tail -n 5)"
fi

check "modprobe -r tcptrace" sh -c 'modprobe tcptrace && modprobe -r tcptrace && ! grep -q "^tcptrace " /proc/modules'
rm -rf "$tmp"
exit 0

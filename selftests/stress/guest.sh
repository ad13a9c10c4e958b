#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the guest (selftests/vm/run-vm.sh): the stress suites for the
# kernel the guest booted.  TCPTRACE_KO, TCPTRACE_CLI and TCPTRACE_STRESS
# (quick or long) come from selftests/stress/run.sh.
#   guest.sh [SUITE[:TEST,TEST...] ...]   (default: every suite, all tests)
set -uo pipefail
cd "$(dirname "$0")"
echo "# guest kernel $(uname -r), $(nproc) CPU(s), ${TCPTRACE_STRESS:-quick}," \
	"$(grep -o 'slub_debug=[^ ]*' /proc/cmdline || echo 'no slub_debug')"
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(test_device test_lifecycle test_overflow
	test_conntable test_concurrency test_scope test_packets)
rc=0
for s in "${suites[@]}"; do
	tests=()
	if [[ $s == *:* ]]; then
		IFS=, read -r -a tests <<<"${s#*:}"
		s=${s%%:*}
	fi
	echo "# suite $s ${tests[*]}"
	t0=$SECONDS
	python3 "$s.py" "${tests[@]}" || rc=1
	echo "# suite $s: $((SECONDS - t0)) s"
done
exit $rc

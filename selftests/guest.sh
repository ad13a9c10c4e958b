#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the guest (selftests/vm/run-vm.sh): the module tests for the
# kernel the guest booted.  TCPTRACE_KO and TCPTRACE_CLI come from run.sh.
#   guest.sh [SUITE[:TEST,...] ...]    (default: every test_*.py, in order)
set -uo pipefail
cd "$(dirname "$0")/tcptrace"
echo "# guest kernel $(uname -r)"
suites=("$@")
[ ${#suites[@]} -gt 0 ] ||
	suites=(test_foundation test_handshake test_diag test_topology test_edges
		test_reasons test_metrics)
rc=0
for s in "${suites[@]}"; do
	echo "# suite $s"
	tests=()
	[[ $s != *:* ]] || IFS=, read -ra tests <<<"${s#*:}"
	python3 "${s%%:*}.py" "${tests[@]}" || rc=1
done
exit $rc

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the guest (selftests/vm/run-vm.sh): the module tests for the
# kernel the guest booted.  TCPTRACE_KO and TCPTRACE_CLI come from run.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
echo "# guest kernel $(uname -r)"
python3 selftests/tcptrace/test_foundation.py "$@"

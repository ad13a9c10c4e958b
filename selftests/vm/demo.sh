#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make demo`: build the module and CLI, boot a guest (this host's kernel
# need not load modules), load tcptrace there and show a live trace of real
# connections.  TCPTRACE_DEMO_KVER picks the kernel (default: newest).
set -euo pipefail
cd "$(dirname "$0")/../.."
k=${TCPTRACE_DEMO_KVER:-$(selftests/vm/kernels.sh | tail -n1)}
[ -n "$k" ] || { echo "demo: no supported kernel installed (make deps)" >&2; exit 1; }
make -s cli module KVER="$k"
echo "== booting Debian $k in a guest (QEMU TCG, ~10 s)"
TCPTRACE_KO=$PWD/build/$k/tcptrace.ko TCPTRACE_CLI=$PWD/tools/tcpwhy \
	exec selftests/vm/run-vm.sh "$k" "$PWD/selftests/vm/demo-guest.sh"

# SPDX-License-Identifier: GPL-2.0
#
# tcptrace's benchmark, included from the top-level Makefile (also works
# alone: make -f bench.mk bench).
#
#   make bench           boot one guest (QEMU TCG, -icount shift=0,sleep=off),
#                        compare untraced, tcptrace (text to /dev/null, JSON
#                        to a file), bpftrace and tcpdump on a connection
#                        storm, a concurrent storm and a veth bulk transfer,
#                        5 rounds each, plus an overflow burst; writes
#                        BENCHMARKS.md
#   make bench-quick     the regression check: untraced against tcptrace on
#                        the storm, 3 rounds, plus the burst; TAP output,
#                        fails if the storm drops more than
#                        BENCH_QUICK_MAX_DROP percent (45) or loses more
#                        than BENCH_QUICK_MAX_LOST records (0)
#
# Variables (environment or command line): BENCH_KVER (default: the
# installed 6.12 kernel), BENCH_ROUNDS, BENCH_CONNS, BENCH_CLIENTS,
# BENCH_BYTES, BENCH_BURST, BENCH_CONFIGS, BENCH_WORKLOADS, BENCH_OUT;
# see selftests/bench/bench.sh.

# Included before the Makefile's first target, this must not become the
# default goal: remember it, put it back at the end.
BENCH_SAVED_GOAL := $(.DEFAULT_GOAL)

BENCH_VARS := BENCH_KVER BENCH_ROUNDS BENCH_CONNS BENCH_CLIENTS BENCH_BYTES \
	BENCH_BURST BENCH_CONFIGS BENCH_WORKLOADS BENCH_OUT \
	BENCH_QUICK_MAX_DROP BENCH_QUICK_MAX_LOST
# pass command-line settings (make bench BENCH_KVER=...) to the script
BENCH_ENV = $(foreach v,$(BENCH_VARS),$(if $(filter command line,$(origin $(v))),$(v)='$($(v))'))

.PHONY: bench bench-quick

bench:
	$(BENCH_ENV) ./selftests/bench/bench.sh

bench-quick:
	$(BENCH_ENV) ./selftests/bench/bench.sh --quick

.DEFAULT_GOAL := $(BENCH_SAVED_GOAL)

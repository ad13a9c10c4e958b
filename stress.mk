# SPDX-License-Identifier: GPL-2.0
#
# tcptrace's stress and robustness tests, included from the top-level
# Makefile (also works alone: make -f stress.mk stress-quick).  QEMU guests
# booted with slub_debug=FZPU: quick on 5.10 and 7.3 (1 vCPU), 7.3 and
# 6.1-rt (2 vCPUs), long on every kernel of the matrix; see
# selftests/stress/run.sh.
#
#   make stress-quick    the short variant (part of make check): ioctl and
#                        read() abuse, 20 load/unload cycles under a
#                        connection storm, 10 s of buffer overflow, table
#                        exhaustion, readers killed, malformed packets
#   make stress          the long variant: 100 cycles, 3 minutes of
#                        overflow (twice), 10x the fuzz counts
#
# STRESS_KERNEL=KVER limits either to one kernel.

STRESS_SAVED_GOAL := $(.DEFAULT_GOAL)

STRESS_KERNEL ?=
STRESS_ARGS = $(if $(STRESS_KERNEL),--kernel $(STRESS_KERNEL))

.PHONY: stress stress-quick

stress:
	./selftests/stress/run.sh --long $(STRESS_ARGS)

stress-quick:
	./selftests/stress/run.sh --quick $(STRESS_ARGS)

.DEFAULT_GOAL := $(STRESS_SAVED_GOAL)

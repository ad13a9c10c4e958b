# SPDX-License-Identifier: GPL-2.0
#
# tcptrace: the module, and tcpwhy, the CLI that reads it.
#
#   make                 module for KVER (default: running kernel, else the
#                        newest installed headers) and the CLI
#   make demo            boot a guest, load the module, trace real connections
#   make check           every test, on every supported kernel, in guests
#   make kunit | fuzz | stress-quick   one part of make check
#   make debug-kernel    build (or reuse) the debug guest kernel: RT,
#                        lockdep, KASAN, kmemleak; prints its build tree
#   make debug-check     the guest suites and stress-quick under it
#   make stress | fuzz-long            the long variants
#   make bench | bench-quick           the cost, next to bpftrace and tcpdump
#                                      (not in make check: see BENCHMARKS.md)
#   sudo make load       insmod on this host (needs module support)

KVER ?= $(shell if [ -d /lib/modules/$$(uname -r)/build ]; then uname -r; \
	else ls -1d /lib/modules/*/build 2>/dev/null | sort -V | tail -n1 | \
	cut -d/ -f4; fi)
KDIR ?= /lib/modules/$(KVER)/build
BUILD := $(CURDIR)/build/$(KVER)
MODSRC := Kbuild VERSION module/compat.mk \
	$(wildcard module/*.c module/*.h module/uapi/*.h)

CC ?= cc
CLI_CFLAGS := -DTCPTRACE_VERSION=\"$(shell cat VERSION)\" -O2 -g -Wall -Wextra -Wno-unused-parameter -std=gnu11 \
	-D_GNU_SOURCE -Imodule $(CFLAGS)
# tools/tcpwhy.c holds main(); the fuzzers link the other files
CLI_SRC := $(wildcard tools/*.c) module/record.c
CLI_HDR := module/record.h module/uapi/tcptrace.h $(wildcard tools/*.h)

.PHONY: all module cli clean load unload demo check deps checkpatch sparse \
	kunit debug-kernel debug-check

all: module cli

cli: tools/tcpwhy

tools/tcpwhy: $(CLI_SRC) $(CLI_HDR)
	$(CC) $(CLI_CFLAGS) -o $@ $(CLI_SRC)

# Each kernel gets its own build tree, so 6.1 and 6.12 objects never mix.
# 7.x headers want gcc-14 and a newer glibc: on a host without gcc-14
# (Debian 12), built in a trixie chroot.
# Headers of another Debian release unpacked by selftests/vm/fetch-kernel.sh
# are found in its cache.
KCACHE := /var/cache/tcptrace/kernels/$(KVER)/root/usr/src/linux-headers-$(KVER)
ifeq ($(wildcard $(KDIR)),)
ifneq ($(wildcard $(KCACHE)),)
KDIR := $(KCACHE)
endif
endif
ifneq ($(filter 7.%,$(KVER)),)
ifeq ($(shell command -v gcc-14),)
CHROOT_BUILD := 1
endif
endif
ifdef CHROOT_BUILD
$(BUILD)/tcptrace.ko: $(MODSRC)
	./selftests/vm/build-chroot.sh $(KVER) $(BUILD)
else
$(BUILD)/tcptrace.ko: $(MODSRC)
	@test -d $(KDIR) || { echo "no kernel headers for $(KVER) in $(KDIR):" \
		"apt-get install linux-headers-$(KVER), or for another" \
		"Debian release: selftests/vm/fetch-kernel.sh SUITE $(KVER)" >&2; \
		exit 1; }
	mkdir -p $(BUILD)/module/uapi
	cp Kbuild VERSION $(BUILD)/
	cp module/*.c module/*.h module/compat.mk $(BUILD)/module/
	cp module/uapi/*.h $(BUILD)/module/uapi/
	$(MAKE) -C $(KDIR) M=$(BUILD) W=1 $(if $(C),C=$(C)) \
		$(if $(filter 5.10.%,$(KVER)),CC=gcc) modules
endif

module: $(BUILD)/tcptrace.ko

load: module
	insmod $(BUILD)/tcptrace.ko $(PARAMS)

unload:
	rmmod tcptrace

clean:
	rm -rf build tools/tcpwhy tools/tcptrace selftests/out

deps:
	./selftests/vm/deps.sh

demo: deps
	./selftests/vm/demo.sh

check: deps
	./selftests/run.sh

# KUnit suite of the module's pure logic, on a UML kernel built from the
# newest kernel source Debian has (trixie-backports' linux-source-7.3,
# fetched; bookworm's 6.1 as a fallback), cached in /var/cache/tcptrace/kunit.
kunit: deps
	./selftests/kunit/run.sh

# Debian's linux-source-6.12 with PREEMPT_RT, PROVE_LOCKING,
# DEBUG_ATOMIC_SLEEP, PROVE_RCU, KASAN and kmemleak (cached in
# /var/cache/tcptrace/debug-kernel); debug-check is part of make check.
debug-kernel: deps
	./selftests/debug/kernel.sh

debug-check: deps
	./selftests/debug/check.sh

# Style gates: checkpatch from the kernel tree, sparse via kbuild (C=2).
checkpatch: deps
	./selftests/style.sh checkpatch

sparse: deps
	./selftests/style.sh sparse

include packaging.mk
include fuzz.mk
include stress.mk
include bench.mk

# SPDX-License-Identifier: GPL-2.0
#
# tcptrace's fuzzers, included from the top-level Makefile (also works
# alone: make -f fuzz.mk fuzz).  clang + libFuzzer, ASan + UBSan; installs
# clang and libclang-rt-14-dev when missing.  See fuzz/run.sh.
#
#   make fuzz            every target (options, record, cli, wire) for
#                        FUZZ_QUICK_SECONDS (30) each, after replaying the
#                        seeds and saved crashes; then the CLI built with
#                        ASan+UBSan decodes every saved record stream.
#                        TAP, fails on any crash: the check in make check
#   make fuzz-long       the same, FUZZ_SECONDS (600) per target; e.g.
#                        make fuzz-long FUZZ_SECONDS=3600 FUZZ_TARGETS=cli
#   make fuzz-corpus     rewrite fuzz/corpus/ and fuzz/regress/ from
#                        fuzz/mkcorpus.c
#
# Grown corpora, crash inputs and logs: build/fuzz/.

FUZZ_SAVED_GOAL := $(.DEFAULT_GOAL)

FUZZ_QUICK_SECONDS ?= 30
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?=

.PHONY: fuzz fuzz-long fuzz-corpus

fuzz:
	./fuzz/run.sh --seconds $(FUZZ_QUICK_SECONDS) $(FUZZ_TARGETS)

fuzz-long:
	./fuzz/run.sh --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-corpus:
	./fuzz/run.sh --corpus

.DEFAULT_GOAL := $(FUZZ_SAVED_GOAL)

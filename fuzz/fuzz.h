/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the libFuzzer targets share: an invariant that must hold, or the
 * run aborts (libFuzzer saves the input that broke it).
 */
#ifndef TCPTRACE_FUZZ_H
#define TCPTRACE_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "invariant failed: %s (%s:%d)\n",	\
			#cond, __FILE__, __LINE__);			\
		abort();						\
	}								\
} while (0)

#endif /* TCPTRACE_FUZZ_H */

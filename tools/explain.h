/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a kernel drop or reset reason means, in words an operator can act
 * on, and what to check next.  Keyed by the reason's name as the running
 * kernel spells it (the module copies it from the kernel's own list), so
 * a name this table does not know is still shown, as it is.
 */
#ifndef TCPTRACE_EXPLAIN_H
#define TCPTRACE_EXPLAIN_H

#include <stddef.h>
#include <stdio.h>

struct tt_explain {
	const char *name;	/* SKB_DROP_REASON_ / SK_RST_REASON_ less */
	const char *meaning;	/* what happened, one clause */
	const char *check;	/* the next thing to look at */
};

/* NULL when @name (not necessarily NUL-terminated, up to @len) is unknown */
const struct tt_explain *tt_explain_drop(const char *name, size_t len);
const struct tt_explain *tt_explain_reset(const char *name, size_t len);

/*
 * The sysctls (space-separated, nsfacts.h) whose current values the
 * reader shows beside a drop reason's explanation; NULL when none.
 */
const char *tt_explain_drop_facts(const char *name, size_t len);

/* Both tables as reStructuredText, for Documentation/diagnosing.rst. */
void tt_explain_rst(FILE *f);

#endif /* TCPTRACE_EXPLAIN_H */

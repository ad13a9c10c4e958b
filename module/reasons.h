/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tcptrace: names of the kernel's own reason codes.
 */
#ifndef _TCPTRACE_REASONS_H
#define _TCPTRACE_REASONS_H

#include <linux/types.h>

/*
 * Write the name of skb drop reason @reason into @buf (@len bytes, always
 * NUL-terminated), e.g. "NETFILTER_DROP".  The table is generated at build
 * time from the target kernel's DEFINE_DROP_REASON list.
 */
void tcptrace_drop_reason_name(unsigned int reason, char *buf, size_t len);

/*
 * The same for reset reason @reason (enum sk_rst_reason, 6.10+), e.g.
 * "TCP_ABORT_ON_LINGER".  False, and nothing written, on a kernel that
 * gives no reset reasons.
 */
bool tcptrace_rst_reason_name(unsigned int reason, char *buf, size_t len);

enum tcptrace_drop_class {
	TCPTRACE_DROP_OTHER,	/* not reported, beyond a SYN's */
	TCPTRACE_DROP_DATA,	/* an established connection's segment lost */
	TCPTRACE_DROP_FORWARD,	/* a forwarded packet lost */
};

/*
 * Sort the running kernel's drop reasons into those classes, by name;
 * says so in the log where the kernel names none.
 */
void tcptrace_reasons_init(void);
/* The class of drop reason @reason: a bit test, for the drop probe. */
u8 tcptrace_drop_class(unsigned int reason);

#endif /* _TCPTRACE_REASONS_H */

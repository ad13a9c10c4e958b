// SPDX-License-Identifier: GPL-2.0
/*
 * tcptrace: names of the kernel's own reason codes, generated at build time
 * from the target kernel's headers (never a hand-written table), so they
 * are right for the kernel the module runs on.
 */
#include <linux/kernel.h>
#include <linux/string.h>
#include <net/dropreason.h>

#include "reasons.h"

struct tcptrace_name {
	unsigned int	code;
	const char	*name;
};

#define TCPTRACE_DROP_NAME(r)	{ SKB_DROP_REASON_##r, #r },

static const struct tcptrace_name tcptrace_drop_names[] = {
	DEFINE_DROP_REASON(TCPTRACE_DROP_NAME, TCPTRACE_DROP_NAME)
};

/* Called only when a diagnosis is made: a scan of ~100 entries is fine. */
void tcptrace_drop_reason_name(unsigned int reason, char *buf, size_t len)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(tcptrace_drop_names); i++) {
		if (tcptrace_drop_names[i].code == reason) {
			strscpy(buf, tcptrace_drop_names[i].name, len);
			return;
		}
	}
	snprintf(buf, len, "REASON_%u", reason);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * tcptrace: names of the kernel's own reason codes, generated at build time
 * from the target kernel's headers (never a hand-written table), so they
 * are right for the kernel the module runs on.
 */
#include <linux/kernel.h>
#include <linux/string.h>
#ifdef TCPTRACE_HAVE_DROP_REASON_NAMES
#include <net/dropreason.h>
#endif
#ifdef TCPTRACE_HAVE_RST_REASON
#include <net/rstreason.h>
#endif

#include "reasons.h"

struct tcptrace_name {
	unsigned int	code;
	const char	*name;
};

#ifdef TCPTRACE_HAVE_DROP_REASON_NAMES
#define TCPTRACE_DROP_NAME(r)	{ SKB_DROP_REASON_##r, #r },

static const struct tcptrace_name tcptrace_drop_names[] = {
	DEFINE_DROP_REASON(TCPTRACE_DROP_NAME, TCPTRACE_DROP_NAME)
};
#endif

#ifdef TCPTRACE_HAVE_RST_REASON
#define TCPTRACE_RST_NAME(r)	{ SK_RST_REASON_##r, #r },

static const struct tcptrace_name tcptrace_rst_names[] = {
	DEFINE_RST_REASON(TCPTRACE_RST_NAME, TCPTRACE_RST_NAME)
};
#endif

static void tcptrace_name(const struct tcptrace_name *tab, unsigned int n,
			  unsigned int code, char *buf, size_t len)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (tab[i].code == code) {
			strscpy(buf, tab[i].name, len);
			return;
		}
	}
	snprintf(buf, len, "REASON_%u", code);
}

/* Called only when a diagnosis is made: a scan of ~100 entries is fine. */
void tcptrace_drop_reason_name(unsigned int reason, char *buf, size_t len)
{
#ifdef TCPTRACE_HAVE_DROP_REASON_NAMES
	tcptrace_name(tcptrace_drop_names, ARRAY_SIZE(tcptrace_drop_names),
		      reason, buf, len);
#else
	/* reasons without their list (5.17 .. 5.19): the number */
	tcptrace_name(NULL, 0, reason, buf, len);
#endif
}

bool tcptrace_rst_reason_name(unsigned int reason, char *buf, size_t len)
{
#ifdef TCPTRACE_HAVE_RST_REASON
	tcptrace_name(tcptrace_rst_names, ARRAY_SIZE(tcptrace_rst_names),
		      reason, buf, len);
	return true;
#else
	return false;
#endif
}

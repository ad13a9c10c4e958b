// SPDX-License-Identifier: GPL-2.0
/*
 * tcptrace: names of the kernel's own reason codes, generated at build time
 * from the target kernel's headers (never a hand-written table), so they
 * are right for the kernel the module runs on.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt
#include <linux/kernel.h>
#include <linux/bitmap.h>
#include <linux/cache.h>
#include <linux/printk.h>
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

/* core reasons only: subsystems' (6.4+) have high bits set */
#define TCPTRACE_CLASSED	256

static DECLARE_BITMAP(tcptrace_data_bits, TCPTRACE_CLASSED) __read_mostly;
static DECLARE_BITMAP(tcptrace_forward_bits, TCPTRACE_CLASSED) __read_mostly;

#ifdef TCPTRACE_HAVE_DROP_REASON_NAMES
/*
 * The drops reported beyond a SYN's, by name, so that a kernel without
 * one of them simply has fewer: an established connection's segment the
 * receiver had no room for or a rule or checksum refused (not TCP's own
 * discards of duplicates and old ACKs, which are no loss), and a
 * forwarded packet too big for the next hop.
 */
static const char *const tcptrace_data_drops[] = {
	"PROTO_MEM", "SOCKET_RCVBUFF", "SOCKET_BACKLOG", "TCP_ZEROWINDOW",
	"TCP_OFO_QUEUE_PRUNE", "NETFILTER_DROP", "TCP_CSUM",
};

static const char *const tcptrace_forward_drops[] = {
	"PKT_TOO_BIG",
};

static void tcptrace_class_set(unsigned long *bits, const char *const *names,
			       unsigned int n)
{
	unsigned int i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < ARRAY_SIZE(tcptrace_drop_names); j++)
			if (tcptrace_drop_names[j].code < TCPTRACE_CLASSED &&
			    !strcmp(tcptrace_drop_names[j].name, names[i]))
				__set_bit(tcptrace_drop_names[j].code, bits);
}
#endif

void tcptrace_reasons_init(void)
{
#ifdef TCPTRACE_HAVE_DROP_REASON_NAMES
	tcptrace_class_set(tcptrace_data_bits, tcptrace_data_drops,
			   ARRAY_SIZE(tcptrace_data_drops));
	tcptrace_class_set(tcptrace_forward_bits, tcptrace_forward_drops,
			   ARRAY_SIZE(tcptrace_forward_drops));
#else
	pr_info("this kernel names no drop reasons: segments dropped on established connections and forwarded packets dropped as too big are not reported\n");
#endif
}

u8 tcptrace_drop_class(unsigned int reason)
{
	if (reason >= TCPTRACE_CLASSED)
		return TCPTRACE_DROP_OTHER;
	if (test_bit(reason, tcptrace_data_bits))
		return TCPTRACE_DROP_DATA;
	if (test_bit(reason, tcptrace_forward_bits))
		return TCPTRACE_DROP_FORWARD;
	return TCPTRACE_DROP_OTHER;
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

// SPDX-License-Identifier: GPL-2.0
/*
 * tcptrace: walking and naming records (see record.h).
 */
#include "record.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif
#ifndef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif

/*
 * Smallest valid size of each record type we know, in layout @version
 * (>= 1): its layout's size.  Newer versions than we know have at least
 * the newest layout we know.
 */
static unsigned long tt_min_size(unsigned int type, unsigned int version)
{
	switch (type) {
	case TCPTRACE_REC_STATE:
		if (version < TT_CGROUP_VERSION)
			return offsetof(struct tcptrace_state_rec, cgroup_id);
		if (version < TT_PIDNS_VERSION)
			return offsetof(struct tcptrace_state_rec, pidns_ino);
		return sizeof(struct tcptrace_state_rec);
	case TCPTRACE_REC_LOST:
		return sizeof(struct tcptrace_lost_rec);
	case TCPTRACE_REC_HANDSHAKE:
		if (version < TT_CGROUP_VERSION)
			return offsetof(struct tcptrace_handshake_rec, cgroup_id);
		return sizeof(struct tcptrace_handshake_rec);
	case TCPTRACE_REC_DIAG:
		if (version < TT_CGROUP_VERSION)
			return offsetof(struct tcptrace_diag_rec, cgroup_id);
		if (version < TT_DIAG_IFINDEX_VERSION)
			return offsetof(struct tcptrace_diag_rec, in_ifindex);
		if (version < TT_DIAG_MTU_VERSION)
			return offsetof(struct tcptrace_diag_rec, mtu);
		return sizeof(struct tcptrace_diag_rec);
	case TCPTRACE_REC_CONN:
		if (version < TT_CGROUP_VERSION)
			return offsetof(struct tcptrace_conn_rec, cgroup_id);
		return sizeof(struct tcptrace_conn_rec);
	default:
		return 0;
	}
}

enum tt_decode tt_next_record(const void *buf, unsigned long len,
			      unsigned long *off,
			      const struct tcptrace_hdr **rec)
{
	const struct tcptrace_hdr *hdr;
	unsigned long min;

	if (*off >= len)
		return TT_END;
	if (len - *off < sizeof(*hdr))
		return TT_TRUNCATED;
	hdr = (const void *)((const char *)buf + *off);
	if (hdr->size < sizeof(*hdr) || hdr->size % 8)
		return TT_MALFORMED;
	if (hdr->size > len - *off)
		return TT_TRUNCATED;
	min = tt_min_size(hdr->type, hdr->version);
	*rec = hdr;
	if (!min) {
		*off += hdr->size;
		return TT_SKIP;
	}
	if (hdr->size < min || hdr->version == 0)
		return TT_MALFORMED;
	*off += hdr->size;
	return TT_OK;
}

const char *tt_decode_strerror(enum tt_decode d)
{
	switch (d) {
	case TT_OK:
		return "ok";
	case TT_SKIP:
		return "unknown record type";
	case TT_END:
		return "end of buffer";
	case TT_TRUNCATED:
		return "truncated record";
	case TT_MALFORMED:
		return "malformed record";
	}
	return "?";
}

/* Numbers as in the kernel's include/net/tcp_states.h (stable ABI). */
static const char *const tt_states[] = {
	[1] = "ESTABLISHED",
	[2] = "SYN_SENT",
	[3] = "SYN_RECV",
	[4] = "FIN_WAIT1",
	[5] = "FIN_WAIT2",
	[6] = "TIME_WAIT",
	[7] = "CLOSE",
	[8] = "CLOSE_WAIT",
	[9] = "LAST_ACK",
	[10] = "LISTEN",
	[11] = "CLOSING",
	[12] = "NEW_SYN_RECV",
	[13] = "BOUND_INACTIVE",
};

const char *tt_state_name(unsigned int state)
{
	if (state < ARRAY_SIZE(tt_states))
		return tt_states[state];
	return (const char *)0;
}

/* @name equals @canon, ignoring case, with '-' for '_' */
static int tt_name_eq(const char *name, const char *canon)
{
	for (; *name && *canon; name++, canon++) {
		char c = *name;

		if (c == '-')
			c = '_';
		else if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		if (c != *canon)
			return 0;
	}
	return !*name && !*canon;
}

int tt_state_parse(const char *name)
{
	unsigned int i;

	for (i = 1; i < ARRAY_SIZE(tt_states); i++)
		if (tt_states[i] && tt_name_eq(name, tt_states[i]))
			return i;
	return -1;
}

const char *tt_ctx_name(unsigned int ctx)
{
	switch (ctx) {
	case TCPTRACE_CTX_TASK:
		return "task";
	case TCPTRACE_CTX_SOFTIRQ:
		return "softirq";
	case TCPTRACE_CTX_HARDIRQ:
		return "hardirq";
	case TCPTRACE_CTX_NMI:
		return "nmi";
	case TCPTRACE_CTX_KTHREAD:
		return "kthread";
	}
	return "unknown";
}

// SPDX-License-Identifier: GPL-2.0
/*
 * tcptrace: TCP header and option parsing (see options.h).
 */
#include "options.h"

/* TCP option kinds (IANA) */
#define TCPOPT_EOL_		0
#define TCPOPT_NOP_		1
#define TCPOPT_MSS_		2
#define TCPOPT_WSCALE_		3
#define TCPOPT_SACK_PERM_	4
#define TCPOPT_SACK_		5
#define TCPOPT_TS_		8
#define TCPOPT_MD5_		19
#define TCPOPT_MPTCP_		30
#define TCPOPT_TFO_		34
#define TCPOPT_EXP_		254
#define TCPOPT_TFO_MAGIC	0xF989

#define TCP_MAX_WSCALE_		14

static __u16 get_be16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

static __u32 get_be32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

/* Mark @bit present; a second occurrence is flagged and ignored. */
static int tcptrace_opt_once(struct tcptrace_tcpopts *o, __u16 bit)
{
	if (o->present & bit) {
		o->malformed |= TCPTRACE_MAL_DUP;
		return 0;
	}
	o->present |= bit;
	return 1;
}

static void tcptrace_opt_unknown(struct tcptrace_tcpopts *o, __u8 kind)
{
	o->present |= TCPTRACE_OPT_UNKNOWN;
	if (o->n_unknown < TCPTRACE_MAX_UNKNOWN)
		o->unknown[o->n_unknown++] = kind;
}

static void tcptrace_opt_tfo(struct tcptrace_tcpopts *o, unsigned int clen)
{
	/* cookie: 0 (a request) or an even 4..16 bytes (RFC 7413) */
	if (clen > 16 || (clen && clen < 4) || clen % 2) {
		o->malformed |= TCPTRACE_MAL_TFO;
		return;
	}
	if (tcptrace_opt_once(o, TCPTRACE_OPT_TFO))
		o->tfo_len = clen;
}

/* One option of kind @k and total length @l at @p (l >= 2, in bounds). */
static void tcptrace_opt_one(struct tcptrace_tcpopts *o, __u8 k,
			     const __u8 *p, unsigned int l)
{
	switch (k) {
	case TCPOPT_MSS_:
		if (l != 4)
			o->malformed |= TCPTRACE_MAL_MSS;
		else if (tcptrace_opt_once(o, TCPTRACE_OPT_MSS))
			o->mss = get_be16(p + 2);
		break;
	case TCPOPT_WSCALE_:
		if (l != 3 || p[2] > TCP_MAX_WSCALE_)
			o->malformed |= TCPTRACE_MAL_WSCALE;
		if (l == 3 && tcptrace_opt_once(o, TCPTRACE_OPT_WSCALE))
			o->wscale = p[2];
		break;
	case TCPOPT_SACK_PERM_:
		if (l != 2)
			o->malformed |= TCPTRACE_MAL_SACK_PERM;
		else
			tcptrace_opt_once(o, TCPTRACE_OPT_SACK_PERM);
		break;
	case TCPOPT_SACK_:
		if (l < 10 || (l - 2) % 8)
			o->malformed |= TCPTRACE_MAL_SACK;
		else if (tcptrace_opt_once(o, TCPTRACE_OPT_SACK))
			o->sack_blocks = (l - 2) / 8;
		break;
	case TCPOPT_TS_:
		if (l != 10) {
			o->malformed |= TCPTRACE_MAL_TS;
		} else if (tcptrace_opt_once(o, TCPTRACE_OPT_TS)) {
			o->ts_val = get_be32(p + 2);
			o->ts_ecr = get_be32(p + 6);
		}
		break;
	case TCPOPT_MD5_:
		if (l != 18)
			o->malformed |= TCPTRACE_MAL_MD5;
		else
			tcptrace_opt_once(o, TCPTRACE_OPT_MD5);
		break;
	case TCPOPT_MPTCP_:
		if (l < 3)
			o->malformed |= TCPTRACE_MAL_MPTCP;
		else if (tcptrace_opt_once(o, TCPTRACE_OPT_MPTCP))
			o->mptcp_subtype = p[2] >> 4;
		break;
	case TCPOPT_TFO_:
		tcptrace_opt_tfo(o, l - 2);
		break;
	case TCPOPT_EXP_:
		if (l >= 4 && get_be16(p + 2) == TCPOPT_TFO_MAGIC)
			tcptrace_opt_tfo(o, l - 4);
		else
			tcptrace_opt_unknown(o, k);
		break;
	default:
		tcptrace_opt_unknown(o, k);
		break;
	}
}

void tcptrace_parse_opts(const __u8 *p, unsigned int len,
			 struct tcptrace_tcpopts *o)
{
	unsigned int i = 0;

	while (i < len) {
		__u8 kind = p[i];
		unsigned int l;

		if (kind == TCPOPT_EOL_) {
			o->present |= TCPTRACE_OPT_EOL;
			return;		/* the rest is padding */
		}
		if (kind == TCPOPT_NOP_) {
			i++;
			continue;
		}
		if (i + 1 >= len) {
			o->malformed |= TCPTRACE_MAL_OPT_TRUNC;
			return;
		}
		l = p[i + 1];
		if (l < 2 || l > len - i) {
			/* cannot find the next option: stop here */
			o->malformed |= TCPTRACE_MAL_OPT_LEN;
			return;
		}
		tcptrace_opt_one(o, kind, p + i, l);
		i += l;
	}
}

__u8 tcptrace_parse_tcphdr(const __u8 *th, unsigned int avail,
			   struct tcptrace_tcpopts *o)
{
	unsigned int doff = (th[12] >> 4) * 4;
	__u8 flags = th[13];

	o->window = get_be16(th + 14);
	if ((flags & (TCPTRACE_TH_SYN | TCPTRACE_TH_ACK)) == TCPTRACE_TH_SYN) {
		if ((flags & (TCPTRACE_TH_ECE | TCPTRACE_TH_CWR)) ==
		    (TCPTRACE_TH_ECE | TCPTRACE_TH_CWR))
			o->present |= TCPTRACE_OPT_ECN;
	} else if (flags & TCPTRACE_TH_SYN) {
		if ((flags & (TCPTRACE_TH_ECE | TCPTRACE_TH_CWR)) ==
		    TCPTRACE_TH_ECE)
			o->present |= TCPTRACE_OPT_ECN;
	}
	if (doff < TCPTRACE_TCPHDR_LEN)
		o->malformed |= TCPTRACE_MAL_DOFF_SHORT;
	else if (doff > avail)
		o->malformed |= TCPTRACE_MAL_DOFF_PAST;
	else
		tcptrace_parse_opts(th + TCPTRACE_TCPHDR_LEN,
				    doff - TCPTRACE_TCPHDR_LEN, o);
	return flags;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tcptrace: TCP control packets, as seen by the netfilter hooks.
 */
#ifndef _TCPTRACE_PACKET_H
#define _TCPTRACE_PACKET_H

#include <linux/types.h>
#include "uapi/tcptrace.h"

struct sk_buff;

/* A TCP control packet (SYN, RST or FIN set); addresses in v4-mapped form. */
struct tcptrace_pkt {
	u8	family;		/* AF_INET or AF_INET6 */
	u8	flags;		/* TCP flags byte */
	u16	sport;
	u16	dport;
	u32	seq;		/* SYNs: the sequence number */
	int	iif;		/* received: skb_iif, the interface it came in on */
	u8	saddr[16];
	u8	daddr[16];
	struct tcptrace_tcpopts opts;	/* for SYNs: options, ttl, ip_id */
};

/*
 * Fill @pkt if @skb (network header at skb_network_offset()) carries a
 * TCP segment with SYN, RST or FIN; return false, cheaply, for anything
 * else.  Options are parsed for SYN and SYN-ACK only.
 */
bool tcptrace_parse_skb(const struct sk_buff *skb, u8 family,
			struct tcptrace_pkt *pkt);

/*
 * Fill @pkt's addresses, ports, flags and window from any TCP segment in
 * @skb (network header at skb_network_offset()); false if it is none.
 */
bool tcptrace_parse_seg(const struct sk_buff *skb, u8 family,
			struct tcptrace_pkt *pkt);

/*
 * Where conntrack has NATed @skb's connection, rewrite @pkt's addresses
 * and ports to the tuple as the local socket sees it (@out: @skb is
 * leaving, on LOCAL_OUT; else arriving, on LOCAL_IN or before).
 */
void tcptrace_pkt_socket_view(const struct sk_buff *skb,
			      struct tcptrace_pkt *pkt, bool out);

#endif /* _TCPTRACE_PACKET_H */

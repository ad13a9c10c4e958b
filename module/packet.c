// SPDX-License-Identifier: GPL-2.0
/*
 * tcptrace: find and parse TCP control packets in an sk_buff.
 *
 * Everything is read with skb_header_pointer(), so nonlinear and short
 * packets are handled and nothing past the packet is ever read.  Ordinary
 * data segments leave after reading one byte of the TCP header.
 */
#include <linux/skbuff.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/string.h>
#include <net/ip.h>
#include <net/ipv6.h>
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
#include <net/netfilter/nf_conntrack.h>
#endif

#include "compat.h"
#include "packet.h"
#include "options.h"

#define TCPTRACE_CTRL_FLAGS (TCPTRACE_TH_SYN | TCPTRACE_TH_RST | TCPTRACE_TH_FIN)

static void tcptrace_map_v4(u8 *dst, __be32 a)
{
	memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	memcpy(dst + 12, &a, 4);
}

union tcptrace_l3hdr {
	struct iphdr	v4;
	struct ipv6hdr	v6;
};

/*
 * Is @skb (the first fragment of) TCP?  *@off: its TCP header's offset
 * from skb->data (negative once TCP has pulled it); *@ip points at its IP
 * header (maybe copied into @buf).
 */
static bool tcptrace_l3(const struct sk_buff *skb, u8 family,
			union tcptrace_l3hdr *buf,
			const union tcptrace_l3hdr **ip, int *off)
{
	int nhoff = skb_network_offset(skb);

	if (family == AF_INET) {
		const struct iphdr *iph;

		iph = skb_header_pointer(skb, nhoff, sizeof(buf->v4), &buf->v4);
		if (!iph || iph->protocol != IPPROTO_TCP || iph->ihl < 5 ||
		    (iph->frag_off & htons(IP_OFFSET)))
			return false;
		*ip = (const union tcptrace_l3hdr *)iph;
		*off = nhoff + iph->ihl * 4;
		return true;
	}
#if IS_ENABLED(CONFIG_IPV6)
	if (family == AF_INET6) {
		const struct ipv6hdr *ip6;
		__be16 frag_off = 0;
		u8 nexthdr;

		ip6 = skb_header_pointer(skb, nhoff, sizeof(buf->v6), &buf->v6);
		if (!ip6)
			return false;
		nexthdr = ip6->nexthdr;
		/* -1: an error; a header TCP pulled is at -20 or before */
		*off = ipv6_skip_exthdr(skb, nhoff + sizeof(*ip6), &nexthdr,
					&frag_off);
		if (*off == -1 || nexthdr != IPPROTO_TCP ||
		    (frag_off & htons(IP6_OFFSET)))
			return false;
		*ip = (const union tcptrace_l3hdr *)ip6;
		return true;
	}
#endif
	return false;
}

static void tcptrace_l3_fill(struct tcptrace_pkt *pkt, u8 family,
			     const union tcptrace_l3hdr *ip)
{
	if (family == AF_INET) {
		tcptrace_map_v4(pkt->saddr, ip->v4.saddr);
		tcptrace_map_v4(pkt->daddr, ip->v4.daddr);
		pkt->opts.ttl = ip->v4.ttl;
		pkt->opts.ip_id = ntohs(ip->v4.id);
		return;
	}
	memcpy(pkt->saddr, &ip->v6.saddr, 16);
	memcpy(pkt->daddr, &ip->v6.daddr, 16);
	pkt->opts.ttl = ip->v6.hop_limit;
}

/* @pkt from IP header @ip and TCP header @th (its first 20 bytes) */
static void tcptrace_pkt_fill(struct tcptrace_pkt *pkt,
			      const struct sk_buff *skb, u8 family,
			      const union tcptrace_l3hdr *ip, const u8 *th)
{
	memset(pkt, 0, sizeof(*pkt));
	tcptrace_l3_fill(pkt, family, ip);
	pkt->family = family;
	pkt->sport = get_unaligned_be16(th);
	pkt->dport = get_unaligned_be16(th + 2);
	pkt->iif = skb->skb_iif;
	pkt->flags = th[13];
	pkt->opts.window = get_unaligned_be16(th + 14);
}

bool tcptrace_parse_seg(const struct sk_buff *skb, u8 family,
			struct tcptrace_pkt *pkt)
{
	const union tcptrace_l3hdr *ip;
	union tcptrace_l3hdr _ip;
	u8 _th[TCPTRACE_TCPHDR_LEN];
	const u8 *th;
	int off;

	if (!tcptrace_l3(skb, family, &_ip, &ip, &off))
		return false;
	th = skb_header_pointer(skb, off, sizeof(_th), _th);
	if (!th)
		return false;
	tcptrace_pkt_fill(pkt, skb, family, ip, th);
	return true;
}

bool tcptrace_parse_skb(const struct sk_buff *skb, u8 family,
			struct tcptrace_pkt *pkt)
{
	const union tcptrace_l3hdr *ip;
	union tcptrace_l3hdr _ip;
	u8 _th[TCPTRACE_TCPHDR_MAX];
	const u8 *th, *fl;
	unsigned int avail;
	u8 _fl;
	int off;

	if (!tcptrace_l3(skb, family, &_ip, &ip, &off))
		return false;
	/* the fast path: one byte decides, nothing else is touched */
	fl = skb_header_pointer(skb, off + 13, 1, &_fl);
	if (!fl || !(*fl & TCPTRACE_CTRL_FLAGS))
		return false;

	avail = min_t(unsigned int, skb->len - off, sizeof(_th));
	th = skb_header_pointer(skb, off, avail, _th);
	if (!th || avail < TCPTRACE_TCPHDR_LEN)
		return false;
	tcptrace_pkt_fill(pkt, skb, family, ip, th);
	if (*fl & TCPTRACE_TH_SYN) {
		pkt->seq = get_unaligned_be32(th + 4);
		pkt->flags = tcptrace_parse_tcphdr(th, avail, &pkt->opts);
	}
	return true;
}

#if IS_ENABLED(CONFIG_NF_CONNTRACK)
static void tcptrace_put_tuple_addr(u8 *dst, const union nf_inet_addr *a,
				    u8 family)
{
	if (family == AF_INET)
		tcptrace_map_v4(dst, a->ip);
	else
		memcpy(dst, &a->in6, 16);
}
#endif

/*
 * Undo NAT: the tuple as the local socket sees it.  Leaving (LOCAL_OUT,
 * last), that is the packet's own direction's tuple as conntrack first
 * saw it; arriving (LOCAL_IN, first), the other direction's tuple,
 * reversed, which already holds the destination the stack will deliver
 * to.  Only read from the skb's conntrack entry (no reference is taken, no
 * conntrack function is called, so loading tcptrace never loads
 * nf_conntrack); nothing to do unless conntrack has NATed the connection.
 */
void tcptrace_pkt_socket_view(const struct sk_buff *skb,
			      struct tcptrace_pkt *pkt, bool out)
{
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	const struct nf_conntrack_tuple *t;
	enum ip_conntrack_info ctinfo;
	const struct nf_conn *ct;
	int dir;

	ct = nf_ct_get(skb, &ctinfo);
	if (!ct || !(READ_ONCE(ct->status) & IPS_NAT_MASK))
		return;
	dir = CTINFO2DIR(ctinfo);
	if (out) {
		t = &ct->tuplehash[dir].tuple;
		tcptrace_put_tuple_addr(pkt->saddr, &t->src.u3, pkt->family);
		tcptrace_put_tuple_addr(pkt->daddr, &t->dst.u3, pkt->family);
		pkt->sport = ntohs(t->src.u.tcp.port);
		pkt->dport = ntohs(t->dst.u.tcp.port);
	} else {
		t = &ct->tuplehash[!dir].tuple;
		tcptrace_put_tuple_addr(pkt->saddr, &t->dst.u3, pkt->family);
		tcptrace_put_tuple_addr(pkt->daddr, &t->src.u3, pkt->family);
		pkt->sport = ntohs(t->dst.u.tcp.port);
		pkt->dport = ntohs(t->src.u.tcp.port);
	}
#endif
}

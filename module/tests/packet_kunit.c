// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for module/packet.c: finding TCP control packets in an
 * sk_buff.
 *
 * Linked with the module's own packet.c and options.c (see
 * selftests/kunit/), so what is tested here is what the netfilter hooks
 * run.  Packets are real sk_buffs: linear ones whose tailroom is poisoned,
 * and nonlinear ones split at every offset into page fragments, so that
 * skb_header_pointer()'s copy path is taken for every field.
 */
#include <kunit/test.h>
#include <kunit/resource.h>
#include <linux/module.h>
#include <linux/skbuff.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/socket.h>
#include <linux/string.h>
#include <net/ip.h>
#include <net/ipv6.h>

#include "../compat.h"
#include "../packet.h"
#include "../options.h"

#define TT_MAX		256	/* bytes of a test packet, L2 to payload */
#define TT_HEADROOM	64
#define TT_FRAG_OFF	100	/* where a fragment's bytes start in its page */
#define TT_POISON	0xff	/* every byte around a packet */

#define TT_V4_SRC	0xc0000201	/* 192.0.2.1 */
#define TT_V4_DST	0xc6336407	/* 198.51.100.7 */
#define TT_SPORT	50000
#define TT_DPORT	443

#define TT_SYN		TCPTRACE_TH_SYN
#define TT_ACK		TCPTRACE_TH_ACK
#define TT_RST		TCPTRACE_TH_RST
#define TT_FIN		TCPTRACE_TH_FIN
#define TT_PSH		TCPTRACE_TH_PSH
#define TT_URG		TCPTRACE_TH_URG
#define TT_ECE		TCPTRACE_TH_ECE
#define TT_CWR		TCPTRACE_TH_CWR

static const struct in6_addr tt_v6_src = {
	.s6_addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 }
};

static const struct in6_addr tt_v6_dst = {
	.s6_addr = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0x07, [15] = 0x02 }
};

/* What Linux puts in a SYN: mss 1460, sackOK, TS, nop, wscale 7. */
static const u8 tt_linux_syn_opts[] = {
	0x02, 0x04, 0x05, 0xb4,
	0x04, 0x02,
	0x08, 0x0a, 0x00, 0x1e, 0x84, 0x80, 0x00, 0x00, 0x00, 0x00,
	0x01,
	0x03, 0x03, 0x07,
};

#define TT_LINUX_SYN_PRESENT (TCPTRACE_OPT_MSS | TCPTRACE_OPT_SACK_PERM | \
			      TCPTRACE_OPT_TS | TCPTRACE_OPT_WSCALE)

/* Timestamps only, as in an RST or FIN of a connection that uses them. */
static const u8 tt_ts_opts[] = {
	0x01, 0x01,
	0x08, 0x0a, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x20, 0x00,
};

/* A packet under construction: L2 (optional), L3, extension headers, L4. */
struct tt_pkt {
	u8		b[TT_MAX];
	unsigned int	len;
	unsigned int	l3;	/* network header offset */
	unsigned int	l4;	/* transport header offset */
};

static u8 *tt_put(struct kunit *test, struct tt_pkt *p, unsigned int n)
{
	u8 *d = p->b + p->len;

	KUNIT_ASSERT_LE(test, p->len + n, (unsigned int)TT_MAX);
	memset(d, 0, n);
	p->len += n;
	return d;
}

/* @n bytes standing for a link-layer header, bytes a parser must skip. */
static void tt_l2(struct kunit *test, struct tt_pkt *p, unsigned int n)
{
	/* each would be taken for a TCP SYN if read as one */
	memset(tt_put(test, p, n), TCPTRACE_TH_SYN, n);
}

/* An IPv4 header with @ihl words (options are NOPs) carrying @proto. */
static void tt_ip4_ihl(struct kunit *test, struct tt_pkt *p, u8 ihl, u8 proto,
		       u8 ttl, u16 id, u16 frag_off)
{
	unsigned int n = max_t(unsigned int, ihl * 4, sizeof(struct iphdr));
	struct iphdr iph = {};
	u8 *d;

	p->l3 = p->len;
	d = tt_put(test, p, n);
	memset(d, IPOPT_NOOP, n);
	iph.version = 4;
	iph.ihl = ihl;
	iph.ttl = ttl;
	iph.id = htons(id);
	iph.frag_off = htons(frag_off);
	iph.protocol = proto;
	iph.saddr = htonl(TT_V4_SRC);
	iph.daddr = htonl(TT_V4_DST);
	memcpy(d, &iph, sizeof(iph));
}

static void tt_ip4(struct kunit *test, struct tt_pkt *p, u8 proto, u8 ttl,
		   u16 id, u16 frag_off)
{
	tt_ip4_ihl(test, p, 5, proto, ttl, id, frag_off);
}

static void tt_ip6(struct kunit *test, struct tt_pkt *p, u8 nexthdr,
		   u8 hop_limit)
{
	struct ipv6hdr ip6 = {};

	p->l3 = p->len;
	ip6.version = 6;
	ip6.nexthdr = nexthdr;
	ip6.hop_limit = hop_limit;
	ip6.saddr = tt_v6_src;
	ip6.daddr = tt_v6_dst;
	memcpy(tt_put(test, p, sizeof(ip6)), &ip6, sizeof(ip6));
}

/* A hop-by-hop or destination options header of @len bytes (8n), PadN. */
static void tt_ip6_opts(struct kunit *test, struct tt_pkt *p, u8 nexthdr,
			unsigned int len)
{
	u8 *d = tt_put(test, p, len);

	d[0] = nexthdr;
	d[1] = len / 8 - 1;
	d[2] = IPV6_TLV_PADN;
	d[3] = len - 4;
}

static void tt_ip6_frag(struct kunit *test, struct tt_pkt *p, u8 nexthdr,
			u16 offset, bool more)
{
	struct frag_hdr fh = {};

	fh.nexthdr = nexthdr;
	fh.frag_off = htons(offset << 3 | (more ? IP6_MF : 0));
	fh.identification = htonl(0x01020304);
	memcpy(tt_put(test, p, sizeof(fh)), &fh, sizeof(fh));
}

/* A TCP header with options @opts (a multiple of 4 bytes long). */
static void tt_tcp(struct kunit *test, struct tt_pkt *p, u8 flags, u16 window,
		   const u8 *opts, unsigned int optlen)
{
	u8 *th;

	KUNIT_ASSERT_EQ(test, optlen % 4, 0);
	p->l4 = p->len;
	th = tt_put(test, p, TCPTRACE_TCPHDR_LEN + optlen);
	put_unaligned_be16(TT_SPORT, th);
	put_unaligned_be16(TT_DPORT, th + 2);
	put_unaligned_be32(0x11223344, th + 4);
	put_unaligned_be32(flags & TT_ACK ? 0x55667788 : 0, th + 8);
	th[12] = (TCPTRACE_TCPHDR_LEN + optlen) / 4 << 4;
	th[13] = flags;
	put_unaligned_be16(window, th + 14);
	if (optlen)
		memcpy(th + TCPTRACE_TCPHDR_LEN, opts, optlen);
}

static void tt_payload(struct kunit *test, struct tt_pkt *p, unsigned int n)
{
	u8 *d = tt_put(test, p, n);
	unsigned int i;

	for (i = 0; i < n; i++)
		d[i] = i;
}

/* The L3 length fields, from what was put. */
static void tt_fix_len(struct tt_pkt *p)
{
	u8 *l3 = p->b + p->l3;

	if (p->len < p->l3 + sizeof(struct ipv6hdr))
		return;
	if (l3[0] >> 4 == 4)
		put_unaligned_be16(p->len - p->l3, l3 + 2);
	else
		put_unaligned_be16(p->len - p->l3 - sizeof(struct ipv6hdr),
				   l3 + 4);
}

static int tt_skb_res_init(struct kunit_resource *res, void *skb)
{
	res->data = skb;
	return 0;
}

static void tt_skb_res_free(struct kunit_resource *res)
{
	kfree_skb(res->data);
}

/*
 * An skb holding the first @len bytes of @p: @headlen of them in the
 * linear area, the rest in page fragments of @frag bytes (the last one
 * takes what is left; @frag 0: one fragment).  The network header is at
 * p->l3.  Everything around the packet's bytes is poisoned.  NULL if
 * memory or fragment slots ran out.
 */
static struct sk_buff *tt_skb_build(const struct tt_pkt *p, unsigned int len,
				    unsigned int headlen, unsigned int frag)
{
	struct sk_buff *skb;
	unsigned int off, n;
	int i;

	if (headlen > len || len > p->len)
		return NULL;
	skb = alloc_skb(TT_HEADROOM + headlen, GFP_KERNEL);
	if (!skb)
		return NULL;
	memset(skb->head, TT_POISON, skb_end_offset(skb));
	skb_reserve(skb, TT_HEADROOM);
	skb_put_data(skb, p->b, headlen);

	for (off = headlen, i = 0; off < len; off += n, i++) {
		struct page *page;

		n = len - off;
		if (frag && n > frag)
			n = frag;
		page = i < MAX_SKB_FRAGS ? alloc_page(GFP_KERNEL) : NULL;
		if (!page) {
			kfree_skb(skb);
			return NULL;
		}
		memset(page_address(page), TT_POISON, PAGE_SIZE);
		memcpy(page_address(page) + TT_FRAG_OFF, p->b + off, n);
		/* the skb owns the page from here */
		skb_add_rx_frag(skb, i, page, TT_FRAG_OFF, n, PAGE_SIZE);
	}
	skb_set_network_header(skb, p->l3);
	return skb;
}

/* tt_skb_build(), freed when the test ends. */
static struct sk_buff *tt_skb_part(struct kunit *test, const struct tt_pkt *p,
				   unsigned int len, unsigned int headlen,
				   unsigned int frag)
{
	struct sk_buff *skb = tt_skb_build(p, len, headlen, frag);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, skb);
	if (!kunit_alloc_resource(test, tt_skb_res_init, tt_skb_res_free,
				  GFP_KERNEL, skb)) {
		kfree_skb(skb);
		KUNIT_ASSERT_TRUE_MSG(test, false, "cannot track the skb");
	}
	KUNIT_ASSERT_EQ(test, skb->len, len);
	KUNIT_ASSERT_EQ(test, skb_headlen(skb), headlen);
	return skb;
}

/* The whole packet, linear. */
static struct sk_buff *tt_skb(struct kunit *test, struct tt_pkt *p)
{
	tt_fix_len(p);
	return tt_skb_part(test, p, p->len, p->len, 0);
}

/* Parse into a @pkt full of garbage: what the parser does not set must be 0. */
static bool tt_parse(const struct sk_buff *skb, u8 family,
		     struct tcptrace_pkt *pkt)
{
	memset(pkt, 0xa5, sizeof(*pkt));
	return tcptrace_parse_skb(skb, family, pkt);
}

static void tt_expect_mapped(struct kunit *test, const u8 *got, u32 v4)
{
	static const u8 prefix[12] = { [10] = 0xff, [11] = 0xff };
	__be32 want = htonl(v4);

	KUNIT_EXPECT_EQ(test, memcmp(got, prefix, sizeof(prefix)), 0);
	KUNIT_EXPECT_EQ(test, memcmp(got + 12, &want, 4), 0);
}

static void tt_v4_syn(struct kunit *test, struct tt_pkt *p)
{
	memset(p, 0, sizeof(*p));
	tt_ip4(test, p, IPPROTO_TCP, 64, 0xbeef, IP_DF);
	tt_tcp(test, p, TT_SYN, 64240, tt_linux_syn_opts,
	       sizeof(tt_linux_syn_opts));
}

static void tt_expect_v4_syn(struct kunit *test, const struct tcptrace_pkt *pkt)
{
	const struct tcptrace_tcpopts *o = &pkt->opts;

	KUNIT_EXPECT_EQ(test, pkt->family, AF_INET);
	KUNIT_EXPECT_EQ(test, pkt->flags, TT_SYN);
	KUNIT_EXPECT_EQ(test, pkt->sport, TT_SPORT);
	KUNIT_EXPECT_EQ(test, pkt->dport, TT_DPORT);
	tt_expect_mapped(test, pkt->saddr, TT_V4_SRC);
	tt_expect_mapped(test, pkt->daddr, TT_V4_DST);
	KUNIT_EXPECT_EQ(test, o->ttl, 64);
	KUNIT_EXPECT_EQ(test, o->ip_id, 0xbeef);
	KUNIT_EXPECT_EQ(test, o->window, 64240);
	KUNIT_EXPECT_EQ(test, o->present, TT_LINUX_SYN_PRESENT);
	KUNIT_EXPECT_EQ(test, o->malformed, 0);
	KUNIT_EXPECT_EQ(test, o->mss, 1460);
	KUNIT_EXPECT_EQ(test, o->wscale, 7);
	KUNIT_EXPECT_EQ(test, o->ts_val, 0x001e8480);
	KUNIT_EXPECT_EQ(test, o->ts_ecr, 0);
	KUNIT_EXPECT_EQ(test, o->n_unknown, 0);
	/* the time is the connection table's to fill in */
	KUNIT_EXPECT_EQ(test, o->seen_ns, 0);
}

/* An IPv6 SYN, after extension headers the caller has put (or none). */
static void tt_v6_syn_after(struct kunit *test, struct tt_pkt *p)
{
	tt_tcp(test, p, TT_SYN, 65320, tt_linux_syn_opts,
	       sizeof(tt_linux_syn_opts));
}

static void tt_expect_v6_syn(struct kunit *test, const struct tcptrace_pkt *pkt)
{
	const struct tcptrace_tcpopts *o = &pkt->opts;

	KUNIT_EXPECT_EQ(test, pkt->family, AF_INET6);
	KUNIT_EXPECT_EQ(test, pkt->flags, TT_SYN);
	KUNIT_EXPECT_EQ(test, pkt->sport, TT_SPORT);
	KUNIT_EXPECT_EQ(test, pkt->dport, TT_DPORT);
	KUNIT_EXPECT_EQ(test, memcmp(pkt->saddr, &tt_v6_src, 16), 0);
	KUNIT_EXPECT_EQ(test, memcmp(pkt->daddr, &tt_v6_dst, 16), 0);
	KUNIT_EXPECT_EQ(test, o->ttl, 57);
	KUNIT_EXPECT_EQ(test, o->ip_id, 0);
	KUNIT_EXPECT_EQ(test, o->window, 65320);
	KUNIT_EXPECT_EQ(test, o->present, TT_LINUX_SYN_PRESENT);
	KUNIT_EXPECT_EQ(test, o->malformed, 0);
	KUNIT_EXPECT_EQ(test, o->mss, 1460);
	KUNIT_EXPECT_EQ(test, o->wscale, 7);
}

/* ---- IPv4 ------------------------------------------------------------ */

static void pkt_v4_syn_linux(struct kunit *test)
{
	struct tcptrace_pkt pkt;
	struct tt_pkt p;

	tt_v4_syn(test, &p);
	KUNIT_ASSERT_TRUE(test, tt_parse(tt_skb(test, &p), AF_INET, &pkt));
	tt_expect_v4_syn(test, &pkt);
}

static void pkt_v4_network_offset(struct kunit *test)
{
	struct tcptrace_pkt pkt;
	struct tt_pkt p = {};

	/* an Ethernet header before the network header is not IP */
	tt_l2(test, &p, ETH_HLEN);
	tt_ip4(test, &p, IPPROTO_TCP, 64, 0xbeef, IP_DF);
	tt_tcp(test, &p, TT_SYN, 64240, tt_linux_syn_opts,
	       sizeof(tt_linux_syn_opts));
	KUNIT_ASSERT_TRUE(test, tt_parse(tt_skb(test, &p), AF_INET, &pkt));
	tt_expect_v4_syn(test, &pkt);
}

static void pkt_v4_ip_options(struct kunit *test)
{
	struct tcptrace_pkt pkt;
	struct tt_pkt p = {};
	u8 ihl;

	/* the TCP header starts ihl * 4 bytes in, up to 60 */
	for (ihl = 6; ihl <= 15; ihl++) {
		memset(&p, 0, sizeof(p));
		tt_ip4_ihl(test, &p, ihl, IPPROTO_TCP, 64, 0xbeef, IP_DF);
		tt_tcp(test, &p, TT_SYN, 64240, tt_linux_syn_opts,
		       sizeof(tt_linux_syn_opts));
		KUNIT_ASSERT_TRUE(test, tt_parse(tt_skb(test, &p), AF_INET,
						 &pkt));
		tt_expect_v4_syn(test, &pkt);
	}
}

static void pkt_v4_ihl_short(struct kunit *test)
{
	struct tcptrace_pkt pkt;
	struct tt_pkt p;
	u8 ihl;

	/* a SYN 20 bytes in, as if the header were 20 bytes: refused */
	for (ihl = 0; ihl < 5; ihl++) {
		memset(&p, 0, sizeof(p));
		tt_ip4_ihl(test, &p, ihl, IPPROTO_TCP, 64, 1, 0);
		tt_tcp(test, &p, TT_SYN, 1000, NULL, 0);
		KUNIT_EXPECT_FALSE_MSG(test,
				       tt_parse(tt_skb(test, &p), AF_INET, &pkt),
				       "ihl %u", ihl);
	}
}

static void pkt_v4_ip_truncated(struct kunit *test)
{
	struct tcptrace_pkt pkt;
	struct tt_pkt p;
	unsigned int len;

	tt_v4_syn(test, &p);
	tt_fix_len(&p);
	for (len = 0; len < sizeof(struct iphdr); len++)
		KUNIT_EXPECT_FALSE_MSG(test,
				       tt_parse(tt_skb_part(test, &p, len, len, 0),
						AF_INET, &pkt),
				       "%u bytes", len);
}

static void pkt_v4_synack_ecn(struct kunit *test)
{
	struct tcptrace_pkt pkt;
	struct tt_pkt p = {};

	/* SYN-ACK: ECE without CWR agrees to ECN */
	tt_ip4(test, &p, IPPROTO_TCP, 63, 0, IP_DF);
	tt_tcp(test, &p, TT_SYN | TT_ACK | TT_ECE, 65160, tt_linux_syn_opts,
	       sizeof(tt_linux_syn_opts));
	KUNIT_ASSERT_TRUE(test, tt_parse(tt_skb(test, &p), AF_INET, &pkt));
	KUNIT_EXPECT_EQ(test, pkt.flags, TT_SYN | TT_ACK | TT_ECE);
	KUNIT_EXPECT_EQ(test, pkt.opts.present,
			TT_LINUX_SYN_PRESENT | TCPTRACE_OPT_ECN);
	KUNIT_EXPECT_EQ(test, pkt.opts.ttl, 63);
	KUNIT_EXPECT_EQ(test, pkt.opts.ip_id, 0);
	KUNIT_EXPECT_EQ(test, pkt.opts.window, 65160);

	/* SYN-ACK with ECE and CWR: not an ECN answer */
	memset(&p, 0, sizeof(p));
	tt_ip4(test, &p, IPPROTO_TCP, 63, 0, IP_DF);
	tt_tcp(test, &p, TT_SYN | TT_ACK | TT_ECE | TT_CWR, 65160,
	       tt_linux_syn_opts, sizeof(tt_linux_syn_opts));
	KUNIT_ASSERT_TRUE(test, tt_parse(tt_skb(test, &p), AF_INET, &pkt));
	KUNIT_EXPECT_EQ(test, pkt.opts.present, TT_LINUX_SYN_PRESENT);

	/* SYN: ECE and CWR ask for ECN */
	memset(&p, 0, sizeof(p));
	tt_ip4(test, &p, IPPROTO_TCP, 64, 7, IP_DF);
	tt_tcp(test, &p, TT_SYN | TT_ECE | TT_CWR, 64240, tt_linux_syn_opts,
	       sizeof(tt_linux_syn_opts));
	KUNIT_ASSERT_TRUE(test, tt_parse(tt_skb(test, &p), AF_INET, &pkt));
	KUNIT_EXPECT_EQ(test, pkt.flags, TT_SYN | TT_ECE | TT_CWR);
	KUNIT_EXPECT_EQ(test, pkt.opts.present,
			TT_LINUX_SYN_PRESENT | TCPTRACE_OPT_ECN);
}

static void pkt_v4_fragments(struct kunit *test)
{
	struct tcptrace_pkt pkt;
	struct tt_pkt p = {};

	/* a later fragment: its first bytes are payload, not a header */
	tt_ip4(test, &p, IPPROTO_TCP, 64, 1, 185);
	tt_tcp(test, &p, TT_SYN, 1000, NULL, 0);
	KUNIT_EXPECT_FALSE(test, tt_parse(tt_skb(test, &p), AF_INET, &pkt));

	memset(&p, 0, sizeof(p));
	tt_ip4(test, &p, IPPROTO_TCP, 64, 1, IP_MF | 1);
	tt_tcp(test, &p, TT_RST, 1000, NULL, 0);
	KUNIT_EXPECT_FALSE(test, tt_parse(tt_skb(test, &p), AF_INET, &pkt));

	/* the first fragment has the header */
	memset(&p, 0, sizeof(p));
	tt_ip4(test, &p, IPPROTO_TCP, 64, 1, IP_MF);
	tt_tcp(test, &p, TT_SYN, 1000, NULL, 0);
	KUNIT_ASSERT_TRUE(test, tt_parse(tt_skb(test, &p), AF_INET, &pkt));
	KUNIT_EXPECT_EQ(test, pkt.flags, TT_SYN);
	KUNIT_EXPECT_EQ(test, pkt.opts.window, 1000);
}

static void pkt_udp(struct kunit *test)
{
	struct tcptrace_pkt pkt;
	struct tt_pkt p = {};
	u8 *udp;

	/* byte 13 of the UDP datagram looks like TCP flags with SYN */
	tt_ip4(test, &p, IPPROTO_UDP, 64, 1, 0);
	udp = tt_put(test, &p, 40);
	put_unaligned_be16(TT_SPORT, udp);
	put_unaligned_be16(53, udp + 2);
	put_unaligned_be16(40, udp + 4);
	udp[12] = 0x50;
	udp[13] = TT_SYN;
	KUNIT_EXPECT_FALSE(test, tt_parse(tt_skb(test, &p), AF_INET, &pkt));

	memset(&p, 0, sizeof(p));
	tt_ip6(test, &p, IPPROTO_UDP, 64);
	udp = tt_put(test, &p, 40);
	udp[13] = TT_SYN | TT_RST | TT_FIN;
	KUNIT_EXPECT_FALSE(test, tt_parse(tt_skb(test, &p), AF_INET6, &pkt));
}

static void pkt_unknown_family(struct kunit *test)
{
	struct tcptrace_pkt pkt;
	struct tt_pkt p;

	tt_v4_syn(test, &p);
	KUNIT_EXPECT_FALSE(test, tt_parse(tt_skb(test, &p), AF_UNSPEC, &pkt));
	KUNIT_EXPECT_FALSE(test, tt_parse(tt_skb(test, &p), AF_PACKET, &pkt));
}

/* ---- which TCP segments ------------------------------------------------ */

/*
 * Data segments and pure ACKs: false, and @pkt is not even written (the
 * fast path reads one TCP byte and touches nothing else).
 */
static void pkt_fast_path(struct kunit *test)
{
	static const u8 flags[] = {
		TT_ACK, TT_ACK | TT_PSH, TT_ACK | TT_URG, TT_ACK | TT_ECE,
		TT_ACK | TT_CWR, TT_ACK | TT_PSH | TT_URG | TT_ECE | TT_CWR, 0,
	};
	struct tcptrace_pkt pkt, garbage;
	struct tt_pkt p;
	unsigned int i;

	memset(&garbage, 0xa5, sizeof(garbage));

	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		/* an ACK, and a data segment with options */
		memset(&p, 0, sizeof(p));
		tt_ip4(test, &p, IPPROTO_TCP, 64, i, IP_DF);
		tt_tcp(test, &p, flags[i], 502, NULL, 0);
		KUNIT_EXPECT_FALSE_MSG(test,
				       tt_parse(tt_skb(test, &p), AF_INET, &pkt),
				       "flags %#x", flags[i]);

		memset(&p, 0, sizeof(p));
		tt_ip6(test, &p, IPPROTO_TCP, 64);
		tt_tcp(test, &p, flags[i], 502, tt_ts_opts,
		       sizeof(tt_ts_opts));
		tt_payload(test, &p, 100);
		KUNIT_EXPECT_FALSE_MSG(test,
				       tt_parse(tt_skb(test, &p), AF_INET6, &pkt),
				       "flags %#x", flags[i]);
		KUNIT_EXPECT_EQ(test, memcmp(&pkt, &garbage, sizeof(pkt)), 0);
	}
}

static void pkt_rst(struct kunit *test)
{
	struct tcptrace_pkt pkt;
	struct tt_pkt p = {};

	tt_ip4(test, &p, IPPROTO_TCP, 57, 0x4242, 0);
	tt_tcp(test, &p, TT_RST | TT_ACK, 0, tt_ts_opts, sizeof(tt_ts_opts));
	KUNIT_ASSERT_TRUE(test, tt_parse(tt_skb(test, &p), AF_INET, &pkt));
	KUNIT_EXPECT_EQ(test, pkt.family, AF_INET);
	KUNIT_EXPECT_EQ(test, pkt.flags, TT_RST | TT_ACK);
	KUNIT_EXPECT_EQ(test, pkt.sport, TT_SPORT);
	KUNIT_EXPECT_EQ(test, pkt.dport, TT_DPORT);
	tt_expect_mapped(test, pkt.saddr, TT_V4_SRC);
	tt_expect_mapped(test, pkt.daddr, TT_V4_DST);
	/* the IP facts are kept, for the RST's TTL and ID checks */
	KUNIT_EXPECT_EQ(test, pkt.opts.ttl, 57);
	KUNIT_EXPECT_EQ(test, pkt.opts.ip_id, 0x4242);
	KUNIT_EXPECT_EQ(test, pkt.opts.window, 0);
	/* options are for SYNs only */
	KUNIT_EXPECT_EQ(test, pkt.opts.present, 0);
	KUNIT_EXPECT_EQ(test, pkt.opts.malformed, 0);
	KUNIT_EXPECT_EQ(test, pkt.opts.ts_val, 0);

	/* a bare RST, in IPv6 */
	memset(&p, 0, sizeof(p));
	tt_ip6(test, &p, IPPROTO_TCP, 255);
	tt_tcp(test, &p, TT_RST, 77, NULL, 0);
	KUNIT_ASSERT_TRUE(test, tt_parse(tt_skb(test, &p), AF_INET6, &pkt));
	KUNIT_EXPECT_EQ(test, pkt.family, AF_INET6);
	KUNIT_EXPECT_EQ(test, pkt.flags, TT_RST);
	KUNIT_EXPECT_EQ(test, pkt.opts.ttl, 255);
	KUNIT_EXPECT_EQ(test, pkt.opts.window, 77);
	KUNIT_EXPECT_EQ(test, pkt.opts.present, 0);
}

static void pkt_fin(struct kunit *test)
{
	struct tcptrace_pkt pkt;
	struct tt_pkt p = {};

	tt_ip4(test, &p, IPPROTO_TCP, 64, 9, IP_DF);
	tt_tcp(test, &p, TT_FIN | TT_ACK, 501, tt_ts_opts, sizeof(tt_ts_opts));
	tt_payload(test, &p, 10);
	KUNIT_ASSERT_TRUE(test, tt_parse(tt_skb(test, &p), AF_INET, &pkt));
	KUNIT_EXPECT_EQ(test, pkt.flags, TT_FIN | TT_ACK);
	KUNIT_EXPECT_EQ(test, pkt.sport, TT_SPORT);
	KUNIT_EXPECT_EQ(test, pkt.dport, TT_DPORT);
	KUNIT_EXPECT_EQ(test, pkt.opts.window, 501);
	KUNIT_EXPECT_EQ(test, pkt.opts.present, 0);
	KUNIT_EXPECT_EQ(test, pkt.opts.malformed, 0);
}

static void pkt_syn_with_data(struct kunit *test)
{
	static const u8 full[40] = {
		0x02, 0x04, 0x05, 0xb4,
		0x22, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8,		/* TFO cookie */
		0x01, 0x01,
		0x08, 0x0a, 0x00, 0x1e, 0x84, 0x80, 0x00, 0x00, 0x00, 0x00,
		0x01, 0x03, 0x03, 0x07,
		0x04, 0x02,
		0x00,						/* EOL */
	};
	struct tcptrace_pkt pkt;
	struct tt_pkt p = {};

	/* full option space and a payload: only the header is parsed */
	tt_ip4(test, &p, IPPROTO_TCP, 64, 1, IP_DF);
	tt_tcp(test, &p, TT_SYN, 64240, full, sizeof(full));
	tt_payload(test, &p, 120);
	KUNIT_ASSERT_TRUE(test, tt_parse(tt_skb(test, &p), AF_INET, &pkt));
	KUNIT_EXPECT_EQ(test, pkt.opts.present,
			TT_LINUX_SYN_PRESENT | TCPTRACE_OPT_TFO |
			TCPTRACE_OPT_EOL);
	KUNIT_EXPECT_EQ(test, pkt.opts.malformed, 0);
	KUNIT_EXPECT_EQ(test, pkt.opts.tfo_len, 8);
	KUNIT_EXPECT_EQ(test, pkt.opts.wscale, 7);
}

static void pkt_tcp_truncated(struct kunit *test)
{
	struct tcptrace_pkt pkt;
	struct tt_pkt p;
	unsigned int len;

	/* fewer than 20 bytes of TCP: nothing, even with SYN readable */
	tt_v4_syn(test, &p);
	tt_fix_len(&p);
	for (len = p.l4; len < p.l4 + TCPTRACE_TCPHDR_LEN; len++)
		KUNIT_EXPECT_FALSE_MSG(test,
				       tt_parse(tt_skb_part(test, &p, len, len, 0),
						AF_INET, &pkt),
				       "%u bytes of TCP", len - p.l4);

	/* 20 bytes and a data offset past them */
	len = p.l4 + TCPTRACE_TCPHDR_LEN;
	KUNIT_ASSERT_TRUE(test, tt_parse(tt_skb_part(test, &p, len, len, 0),
					 AF_INET, &pkt));
	KUNIT_EXPECT_EQ(test, pkt.opts.malformed, TCPTRACE_MAL_DOFF_PAST);
	KUNIT_EXPECT_EQ(test, pkt.opts.present, 0);
}

static void pkt_doff_past(struct kunit *test)
{
	struct tcptrace_pkt pkt;
	struct tt_pkt p = {};

	/* data offset 15 (60 bytes), 24 bytes in the packet */
	tt_ip4(test, &p, IPPROTO_TCP, 64, 1, IP_DF);
	tt_tcp(test, &p, TT_SYN, 64240, tt_linux_syn_opts, 4);
	p.b[p.l4 + 12] = 15 << 4;
	KUNIT_ASSERT_TRUE(test, tt_parse(tt_skb(test, &p), AF_INET, &pkt));
	KUNIT_EXPECT_EQ(test, pkt.flags, TT_SYN);
	KUNIT_EXPECT_EQ(test, pkt.sport, TT_SPORT);
	KUNIT_EXPECT_EQ(test, pkt.opts.malformed, TCPTRACE_MAL_DOFF_PAST);
	/* options are not guessed at */
	KUNIT_EXPECT_EQ(test, pkt.opts.present, 0);
	KUNIT_EXPECT_EQ(test, pkt.opts.mss, 0);
	KUNIT_EXPECT_EQ(test, pkt.opts.window, 64240);

	/* data offset 4: shorter than the header itself */
	memset(&p, 0, sizeof(p));
	tt_ip4(test, &p, IPPROTO_TCP, 64, 1, IP_DF);
	tt_tcp(test, &p, TT_SYN, 64240, tt_linux_syn_opts,
	       sizeof(tt_linux_syn_opts));
	p.b[p.l4 + 12] = 4 << 4;
	KUNIT_ASSERT_TRUE(test, tt_parse(tt_skb(test, &p), AF_INET, &pkt));
	KUNIT_EXPECT_EQ(test, pkt.opts.malformed, TCPTRACE_MAL_DOFF_SHORT);
	KUNIT_EXPECT_EQ(test, pkt.opts.present, 0);
}

/* ---- IPv6 -------------------------------------------------------------- */

static void pkt_v6_syn(struct kunit *test)
{
	struct tcptrace_pkt pkt;
	struct tt_pkt p = {};

	tt_ip6(test, &p, IPPROTO_TCP, 57);
	tt_v6_syn_after(test, &p);
	KUNIT_ASSERT_TRUE(test, tt_parse(tt_skb(test, &p), AF_INET6, &pkt));
	tt_expect_v6_syn(test, &pkt);

	/* and the same after a link-layer header */
	memset(&p, 0, sizeof(p));
	tt_l2(test, &p, ETH_HLEN);
	tt_ip6(test, &p, IPPROTO_TCP, 57);
	tt_v6_syn_after(test, &p);
	KUNIT_ASSERT_TRUE(test, tt_parse(tt_skb(test, &p), AF_INET6, &pkt));
	tt_expect_v6_syn(test, &pkt);
}

static void pkt_v6_hop_by_hop(struct kunit *test)
{
	struct tcptrace_pkt pkt;
	struct tt_pkt p = {};

	tt_ip6(test, &p, NEXTHDR_HOP, 57);
	tt_ip6_opts(test, &p, IPPROTO_TCP, 8);
	tt_v6_syn_after(test, &p);
	KUNIT_ASSERT_TRUE(test, tt_parse(tt_skb(test, &p), AF_INET6, &pkt));
	tt_expect_v6_syn(test, &pkt);
}

static void pkt_v6_ext_chain(struct kunit *test)
{
	struct tcptrace_pkt pkt;
	struct tt_pkt p = {};

	/* hop-by-hop, 16 bytes of destination options, a first fragment */
	tt_ip6(test, &p, NEXTHDR_HOP, 57);
	tt_ip6_opts(test, &p, NEXTHDR_DEST, 8);
	tt_ip6_opts(test, &p, NEXTHDR_FRAGMENT, 16);
	tt_ip6_frag(test, &p, IPPROTO_TCP, 0, true);
	tt_v6_syn_after(test, &p);
	KUNIT_ASSERT_EQ(test, p.l4, p.l3 + 40 + 8 + 16 + 8);
	KUNIT_ASSERT_TRUE(test, tt_parse(tt_skb(test, &p), AF_INET6, &pkt));
	tt_expect_v6_syn(test, &pkt);
}

static void pkt_v6_fragment(struct kunit *test)
{
	struct tcptrace_pkt pkt;
	struct tt_pkt p = {};

	/* a later fragment starts with payload that looks like a SYN */
	tt_ip6(test, &p, NEXTHDR_FRAGMENT, 57);
	tt_ip6_frag(test, &p, IPPROTO_TCP, 185, true);
	tt_v6_syn_after(test, &p);
	KUNIT_EXPECT_FALSE(test, tt_parse(tt_skb(test, &p), AF_INET6, &pkt));

	memset(&p, 0, sizeof(p));
	tt_ip6(test, &p, NEXTHDR_FRAGMENT, 57);
	tt_ip6_frag(test, &p, IPPROTO_TCP, 1, false);
	tt_v6_syn_after(test, &p);
	KUNIT_EXPECT_FALSE(test, tt_parse(tt_skb(test, &p), AF_INET6, &pkt));
}

static void pkt_v6_no_tcp(struct kunit *test)
{
	struct tcptrace_pkt pkt;
	struct tt_pkt p = {};

	/* no next header: what follows is not TCP, whatever it looks like */
	tt_ip6(test, &p, NEXTHDR_NONE, 57);
	tt_v6_syn_after(test, &p);
	KUNIT_EXPECT_FALSE(test, tt_parse(tt_skb(test, &p), AF_INET6, &pkt));

	memset(&p, 0, sizeof(p));
	tt_ip6(test, &p, NEXTHDR_DEST, 57);
	tt_ip6_opts(test, &p, NEXTHDR_NONE, 8);
	tt_v6_syn_after(test, &p);
	KUNIT_EXPECT_FALSE(test, tt_parse(tt_skb(test, &p), AF_INET6, &pkt));
}

static void pkt_v6_ext_truncated(struct kunit *test)
{
	struct tcptrace_pkt pkt;
	struct tt_pkt p = {};
	unsigned int len;

	/* cut anywhere in the IPv6 header or the hop-by-hop header */
	tt_ip6(test, &p, NEXTHDR_HOP, 57);
	tt_ip6_opts(test, &p, IPPROTO_TCP, 8);
	tt_v6_syn_after(test, &p);
	tt_fix_len(&p);
	for (len = 0; len <= p.l4; len++)
		KUNIT_EXPECT_FALSE_MSG(test,
				       tt_parse(tt_skb_part(test, &p, len, len, 0),
						AF_INET6, &pkt),
				       "%u bytes", len);

	/* an extension header longer than the packet */
	memset(&p, 0, sizeof(p));
	tt_ip6(test, &p, NEXTHDR_DEST, 57);
	tt_ip6_opts(test, &p, IPPROTO_TCP, 8);
	p.b[p.l3 + sizeof(struct ipv6hdr) + 1] = 255;	/* 2048 bytes */
	tt_v6_syn_after(test, &p);
	KUNIT_EXPECT_FALSE(test, tt_parse(tt_skb(test, &p), AF_INET6, &pkt));

	/* one that ends exactly where the packet does */
	memset(&p, 0, sizeof(p));
	tt_ip6(test, &p, NEXTHDR_DEST, 57);
	tt_ip6_opts(test, &p, IPPROTO_TCP, 32);
	KUNIT_EXPECT_FALSE(test, tt_parse(tt_skb(test, &p), AF_INET6, &pkt));
}

/* ---- nonlinear skbs ------------------------------------------------------ */

/*
 * Parse @p linear, then split at every offset into a linear part and page
 * fragments (one, or many of each size that fits MAX_SKB_FRAGS, up to 16
 * bytes): the same answer every time, @want.
 */
static void tt_every_split(struct kunit *test, struct tt_pkt *p, u8 family,
			   bool want)
{
	unsigned int head, frag, min_frag, bad = 0, n = 0;
	struct tcptrace_pkt lin, nl;
	struct sk_buff *skb;
	bool got;

	tt_fix_len(p);
	KUNIT_ASSERT_EQ(test, tt_parse(tt_skb(test, p), family, &lin), want);
	min_frag = DIV_ROUND_UP(p->len - p->l3, MAX_SKB_FRAGS);
	for (frag = min_frag - 1; frag <= 16; frag++) {
		for (head = p->l3; head < p->len; head++) {
			/* frag == min_frag - 1: all in one fragment */
			skb = tt_skb_build(p, p->len, head,
					   frag < min_frag ? 0 : frag);
			KUNIT_ASSERT_NOT_ERR_OR_NULL(test, skb);
			KUNIT_EXPECT_EQ(test, skb->data_len, p->len - head);
			got = tt_parse(skb, family, &nl);
			kfree_skb(skb);
			if (got != want ||
			    (want && memcmp(&lin, &nl, sizeof(nl)))) {
				kunit_err(test, "split at %u, fragments of %u: differs\n",
					  head, frag);
				bad++;
			}
			n++;
		}
	}
	KUNIT_EXPECT_EQ(test, bad, 0);
	KUNIT_EXPECT_EQ(test, n, (18 - min_frag) * (p->len - p->l3));
}

static void pkt_nonlinear_v4(struct kunit *test)
{
	struct tcptrace_pkt pkt;
	struct sk_buff *skb;
	struct tt_pkt p;

	/* IP header linear, the TCP header mostly in a page fragment */
	tt_v4_syn(test, &p);
	tt_fix_len(&p);
	skb = tt_skb_part(test, &p, p.len, p.l4 + 8, 0);
	KUNIT_ASSERT_EQ(test, skb_shinfo(skb)->nr_frags, 1);
	KUNIT_ASSERT_TRUE(test, tt_parse(skb, AF_INET, &pkt));
	tt_expect_v4_syn(test, &pkt);

	/* every split, in one fragment or many */
	tt_every_split(test, &p, AF_INET, true);
}

static void pkt_nonlinear_v6_ext(struct kunit *test)
{
	struct tt_pkt p = {};

	tt_ip6(test, &p, NEXTHDR_HOP, 57);
	tt_ip6_opts(test, &p, NEXTHDR_DEST, 8);
	tt_ip6_opts(test, &p, IPPROTO_TCP, 16);
	tt_v6_syn_after(test, &p);
	tt_every_split(test, &p, AF_INET6, true);
}

static void pkt_nonlinear_not_syn(struct kunit *test)
{
	struct tt_pkt p = {};

	/* answers from a nonlinear skb: a data segment, a RST */
	tt_ip4(test, &p, IPPROTO_TCP, 64, 1, IP_DF);
	tt_tcp(test, &p, TT_ACK | TT_PSH, 500, tt_ts_opts, sizeof(tt_ts_opts));
	tt_payload(test, &p, 64);
	tt_every_split(test, &p, AF_INET, false);

	memset(&p, 0, sizeof(p));
	tt_ip6(test, &p, IPPROTO_TCP, 64);
	tt_tcp(test, &p, TT_RST | TT_ACK, 0, tt_ts_opts, sizeof(tt_ts_opts));
	tt_every_split(test, &p, AF_INET6, true);
}

static struct kunit_case tcptrace_packet_cases[] = {
	KUNIT_CASE(pkt_v4_syn_linux),
	KUNIT_CASE(pkt_v4_network_offset),
	KUNIT_CASE(pkt_v4_ip_options),
	KUNIT_CASE(pkt_v4_ihl_short),
	KUNIT_CASE(pkt_v4_ip_truncated),
	KUNIT_CASE(pkt_v4_synack_ecn),
	KUNIT_CASE(pkt_v4_fragments),
	KUNIT_CASE(pkt_udp),
	KUNIT_CASE(pkt_unknown_family),
	KUNIT_CASE(pkt_fast_path),
	KUNIT_CASE(pkt_rst),
	KUNIT_CASE(pkt_fin),
	KUNIT_CASE(pkt_syn_with_data),
	KUNIT_CASE(pkt_tcp_truncated),
	KUNIT_CASE(pkt_doff_past),
	KUNIT_CASE(pkt_v6_syn),
	KUNIT_CASE(pkt_v6_hop_by_hop),
	KUNIT_CASE(pkt_v6_ext_chain),
	KUNIT_CASE(pkt_v6_fragment),
	KUNIT_CASE(pkt_v6_no_tcp),
	KUNIT_CASE(pkt_v6_ext_truncated),
	KUNIT_CASE(pkt_nonlinear_v4),
	KUNIT_CASE(pkt_nonlinear_v6_ext),
	KUNIT_CASE(pkt_nonlinear_not_syn),
	{}
};

static struct kunit_suite tcptrace_packet_suite = {
	.name = "tcptrace_packet",
	.test_cases = tcptrace_packet_cases,
};

kunit_test_suite(tcptrace_packet_suite);

MODULE_DESCRIPTION("KUnit tests for tcptrace's sk_buff parser");
MODULE_LICENSE("GPL");

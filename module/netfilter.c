// SPDX-License-Identifier: GPL-2.0
/*
 * tcptrace: netfilter hooks, in every network namespace.
 *
 * Incoming packets are seen first on PRE_ROUTING (NF_IP_PRI_FIRST), before
 * any filter rule can drop them; outgoing ones last on POST_ROUTING
 * (NF_IP_PRI_LAST), as they leave, after every rule that could drop them.
 * Only SYN, RST and FIN segments do more than read one byte of the TCP
 * header.  The hooks never change or drop a packet.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <linux/ktime.h>

#include "tcptrace.h"
#include "compat.h"
#include "conntable.h"
#include "packet.h"

static atomic64_t tcptrace_malformed = ATOMIC64_INIT(0);

static void tcptrace_nf_packet(struct sk_buff *skb,
			       const struct nf_hook_state *state, bool out)
{
	struct tcptrace_pkt pkt;

	if (!tcptrace_parse_skb(skb, state->pf == NFPROTO_IPV4 ? AF_INET :
				AF_INET6, &pkt))
		return;
	if (unlikely(pkt.opts.malformed))
		atomic64_inc(&tcptrace_malformed);
	tcptrace_conn_packet(state->net, &pkt, skb, out);
}

static unsigned int tcptrace_nf_in(void *priv, struct sk_buff *skb,
				   const struct nf_hook_state *state)
{
	tcptrace_nf_packet(skb, state, false);
	return NF_ACCEPT;
}

static unsigned int tcptrace_nf_out(void *priv, struct sk_buff *skb,
				    const struct nf_hook_state *state)
{
	tcptrace_nf_packet(skb, state, true);
	return NF_ACCEPT;
}

static const struct nf_hook_ops tcptrace_nf_ops[] = {
	{
		.hook		= tcptrace_nf_in,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_PRE_ROUTING,
		.priority	= NF_IP_PRI_FIRST,
	}, {
		.hook		= tcptrace_nf_out,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_POST_ROUTING,
		.priority	= NF_IP_PRI_LAST,
	},
#if IS_ENABLED(CONFIG_IPV6)
	{
		.hook		= tcptrace_nf_in,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_PRE_ROUTING,
		.priority	= NF_IP6_PRI_FIRST,
	}, {
		.hook		= tcptrace_nf_out,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_POST_ROUTING,
		.priority	= NF_IP6_PRI_LAST,
	},
#endif
};

static int __net_init tcptrace_net_init(struct net *net)
{
	return nf_register_net_hooks(net, tcptrace_nf_ops,
				     ARRAY_SIZE(tcptrace_nf_ops));
}

static void __net_exit tcptrace_net_exit(struct net *net)
{
	nf_unregister_net_hooks(net, tcptrace_nf_ops,
				ARRAY_SIZE(tcptrace_nf_ops));
	tcptrace_conn_purge(tcptrace_net_cookie(net));
}

static struct pernet_operations tcptrace_net_ops = {
	.init	= tcptrace_net_init,
	.exit	= tcptrace_net_exit,
};

int tcptrace_nf_init(void)
{
	return register_pernet_subsys(&tcptrace_net_ops);
}

void tcptrace_nf_exit(void)
{
	/* unregisters the hooks of every namespace, and waits for them */
	unregister_pernet_subsys(&tcptrace_net_ops);
}

void tcptrace_nf_stats(struct tcptrace_stats *st)
{
	st->malformed = atomic64_read(&tcptrace_malformed);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * tcptrace_floor: the benchmark's floor, not part of tcptrace.
 *
 * Attaches where tcptrace attaches on a connection's hot path, with
 * handlers that do nothing: the sock:inet_sock_set_state tracepoint, and
 * netfilter LOCAL_IN and LOCAL_OUT for IPv4 and IPv6 in every
 * network namespace.  A storm traced by this module shows what any
 * tracer that sees every state change and every packet pays before it
 * does any work of its own.  (tcptrace's other probes, tcp_receive_reset
 * and kfree_skb, fire on RSTs and drops only: a storm has neither.)
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <net/net_namespace.h>
#include <trace/events/sock.h>

static struct tracepoint *floor_tp;

static void floor_find(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "inet_sock_set_state"))
		floor_tp = tp;
}

static void floor_set_state(void *data, const struct sock *sk,
			    const int oldstate, const int newstate)
{
}

static unsigned int floor_hook(void *priv, struct sk_buff *skb,
			       const struct nf_hook_state *state)
{
	return NF_ACCEPT;
}

static const struct nf_hook_ops floor_ops[] = {
	{
		.hook		= floor_hook,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_LOCAL_IN,
		.priority	= NF_IP_PRI_FIRST,
	}, {
		.hook		= floor_hook,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_LOCAL_OUT,
		.priority	= NF_IP_PRI_LAST,
	}, {
		.hook		= floor_hook,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_LOCAL_IN,
		.priority	= NF_IP6_PRI_FIRST,
	}, {
		.hook		= floor_hook,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_LOCAL_OUT,
		.priority	= NF_IP6_PRI_LAST,
	},
};

static int __net_init floor_net_init(struct net *net)
{
	return nf_register_net_hooks(net, floor_ops, ARRAY_SIZE(floor_ops));
}

static void __net_exit floor_net_exit(struct net *net)
{
	nf_unregister_net_hooks(net, floor_ops, ARRAY_SIZE(floor_ops));
}

static struct pernet_operations floor_net_ops = {
	.init	= floor_net_init,
	.exit	= floor_net_exit,
};

static int __init floor_init(void)
{
	int ret;

	for_each_kernel_tracepoint(floor_find, NULL);
	if (!floor_tp)
		return -ENOENT;
	check_trace_callback_type_inet_sock_set_state(floor_set_state);
	ret = tracepoint_probe_register(floor_tp, floor_set_state, NULL);
	if (ret)
		return ret;
	ret = register_pernet_subsys(&floor_net_ops);
	if (ret) {
		tracepoint_probe_unregister(floor_tp, floor_set_state, NULL);
		tracepoint_synchronize_unregister();
	}
	return ret;
}

static void __exit floor_exit(void)
{
	unregister_pernet_subsys(&floor_net_ops);
	tracepoint_probe_unregister(floor_tp, floor_set_state, NULL);
	tracepoint_synchronize_unregister();
}

module_init(floor_init);
module_exit(floor_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("tcptrace benchmark floor: empty hooks where tcptrace hooks");

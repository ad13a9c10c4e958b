// SPDX-License-Identifier: GPL-2.0
/*
 * tcptrace: netfilter hooks, in every network namespace.
 *
 * Only the packets of this namespace's own sockets: incoming ones on
 * LOCAL_IN, first (NF_IP_PRI_FIRST), before any INPUT rule can drop them;
 * outgoing ones on LOCAL_OUT, last (NF_IP_PRI_LAST), after every OUTPUT
 * rule.  Forwarded and bridged packets never pass either hook, so a router
 * or a container host is never taken for a party to the connections it
 * only carries.  A SYN dropped before LOCAL_IN (a PREROUTING rule, the
 * reverse-path filter) is found by the kfree_skb probe instead.
 *
 * Addresses are taken as the socket sees them: where conntrack has NATed
 * the packet (a published port's DNAT, a sidecar's REDIRECT, a local
 * connection to a DNATed address), the tuple is read back from conntrack.
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
#include <net/sock.h>

#include "tcptrace.h"
#include "compat.h"
#include "conntable.h"
#include "packet.h"
#include "options.h"

static atomic64_t tcptrace_malformed = ATOMIC64_INIT(0);

/* A SYN with malformed options, seen by the hooks or dropped before them. */
void tcptrace_nf_malformed(void)
{
	atomic64_inc(&tcptrace_malformed);
}

#if TCPTRACE_RX_NOTES
/*
 * The packet that passed LOCAL_IN last on this CPU, and its namespace.
 * skb is NULL while the note is being written, so a reader interrupted
 * by a writer sees skb change and takes nothing (its own skb, alive,
 * cannot be another's).  Read only while serving the softirq that
 * receives a packet, for the packet it delivers: one dropped later (from
 * a socket's backlog, in its task) may have an address another packet
 * noted on this CPU had before it was freed.
 */
struct tcptrace_rx_note {
	const struct sk_buff	*skb;
	const struct net	*net;
};

static DEFINE_PER_CPU(struct tcptrace_rx_note, tcptrace_rx_notes);

static void tcptrace_rx_note(const struct sk_buff *skb, const struct net *net)
{
	struct tcptrace_rx_note *n = get_cpu_ptr(&tcptrace_rx_notes);

	WRITE_ONCE(n->skb, NULL);
	barrier();
	WRITE_ONCE(n->net, net);
	barrier();
	WRITE_ONCE(n->skb, skb);
	put_cpu_ptr(&tcptrace_rx_notes);
}

const struct net *tcptrace_rx_net(const struct sk_buff *skb)
{
	struct tcptrace_rx_note *n;
	const struct net *net = NULL;

	if (!in_serving_softirq())
		return NULL;
	n = get_cpu_ptr(&tcptrace_rx_notes);
	if (READ_ONCE(n->skb) == skb) {
		barrier();
		net = READ_ONCE(n->net);
		barrier();
		if (READ_ONCE(n->skb) != skb)
			net = NULL;
	}
	put_cpu_ptr(&tcptrace_rx_notes);
	return net;
}

/* a batch of dying namespaces had notes: wait for their readers */
static bool tcptrace_rx_forgot;

/*
 * A dying namespace: no hook notes it any more (it is not live), and no
 * note may outlive it.  A probe that took one before is done after the
 * grace period its batch's exit waits for.
 */
static void tcptrace_rx_forget(const struct net *net)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct tcptrace_rx_note *n = per_cpu_ptr(&tcptrace_rx_notes,
							  cpu);

		if (READ_ONCE(n->net) == net) {
			WRITE_ONCE(n->skb, NULL);
			tcptrace_rx_forgot = true;
		}
	}
}

static void __net_exit tcptrace_net_exit_batch(struct list_head *nets)
{
	if (tcptrace_rx_forgot) {
		tcptrace_rx_forgot = false;
		synchronize_rcu();
	}
}
#else
static void tcptrace_rx_note(const struct sk_buff *skb, const struct net *net)
{
}

const struct net *tcptrace_rx_net(const struct sk_buff *skb)
{
	return NULL;
}

static void tcptrace_rx_forget(const struct net *net)
{
}

static void __net_exit tcptrace_net_exit_batch(struct list_head *nets)
{
}
#endif

static void tcptrace_nf_packet(struct sk_buff *skb,
			       const struct nf_hook_state *state, bool out)
{
	struct tcptrace_pkt pkt;

	/*
	 * A VRF sends its packets through LOCAL_OUT twice: on the VRF's own
	 * device, then on the enslaved one.  Only the second counts.
	 */
	if (out && state->out && netif_is_l3_master(state->out))
		return;
	if (!tcptrace_parse_skb(skb, state->pf == NFPROTO_IPV4 ? AF_INET :
				AF_INET6, &pkt))
		return;
	if (unlikely(pkt.opts.malformed))
		tcptrace_nf_malformed();
	if (out && (pkt.flags & (TCPTRACE_TH_SYN | TCPTRACE_TH_ACK)) ==
	    (TCPTRACE_TH_SYN | TCPTRACE_TH_ACK) && skb->sk &&
	    sk_fullsock(skb->sk))
		tcptrace_parked_synack(skb->sk);	/* TCP Fast Open */
	tcptrace_pkt_socket_view(skb, &pkt, out);
	tcptrace_conn_packet(state->net, &pkt, skb, out ? state->out : state->in,
			     out);
}

static unsigned int tcptrace_nf_in(void *priv, struct sk_buff *skb,
				   const struct nf_hook_state *state)
{
	if (check_net(state->net))
		tcptrace_rx_note(skb, state->net);
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
		.hooknum	= NF_INET_LOCAL_IN,
		.priority	= NF_IP_PRI_FIRST,
	}, {
		.hook		= tcptrace_nf_out,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_LOCAL_OUT,
		.priority	= NF_IP_PRI_LAST,
	},
#if IS_ENABLED(CONFIG_IPV6)
	{
		.hook		= tcptrace_nf_in,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_LOCAL_IN,
		.priority	= NF_IP6_PRI_FIRST,
	}, {
		.hook		= tcptrace_nf_out,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_LOCAL_OUT,
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
	tcptrace_rx_forget(net);
	tcptrace_conn_purge(tcptrace_net_cookie(net));
}

static struct pernet_operations tcptrace_net_ops = {
	.init		= tcptrace_net_init,
	.exit		= tcptrace_net_exit,
	.exit_batch	= tcptrace_net_exit_batch,
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

// SPDX-License-Identifier: GPL-2.0
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt
/*
 * tcptrace: tracepoint probes.
 *
 * The tracepoints tcptrace needs are not exported to modules, so they are
 * looked up by name with for_each_kernel_tracepoint() and attached with
 * tracepoint_probe_register().  The kernel's own trace header is included
 * and every probe is checked against its prototype at build time, so a
 * kernel that changes a prototype fails the build instead of crashing.
 */
#include <linux/tracepoint.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <net/sock.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>
#include <linux/tcp.h>
#include <trace/events/sock.h>
#include <trace/events/tcp.h>
#include <trace/events/skb.h>

#include "tcptrace.h"
#include "compat.h"
#include "conntable.h"

/*
 * An active closer "goes to CLOSE" when the kernel hands the connection
 * to a timewait socket.  Fills @tw and returns it if so, else NULL.
 */
static const struct tcptrace_tw *
tcptrace_tw_handover(const struct sock *sk, int oldstate, int newstate,
		     struct tcptrace_tw *tw)
{
	if (newstate != TCP_CLOSE ||
	    (oldstate != TCP_FIN_WAIT1 && oldstate != TCP_FIN_WAIT2 &&
	     oldstate != TCP_CLOSING))
		return NULL;
	return tcptrace_conn_tw(sk, tw) ? tw : NULL;
}

static void tcptrace_probe_set_state(void *data, const struct sock *sk,
				     const int oldstate, const int newstate)
{
	struct tcptrace_state_rec rec = {};
	const struct tcptrace_tw *tw;
	struct tcptrace_tw twbuf;
	const struct net *net;

	if (sk->sk_protocol != IPPROTO_TCP)
		return;
	if (!tcptrace_wants(TCPTRACE_REC_STATE)) {
		/* the reader wants no transitions: only the table's work */
		tcptrace_conn_state(sk, oldstate, newstate,
				    tcptrace_tw_handover(sk, oldstate, newstate,
							 &twbuf));
		return;
	}

	tcptrace_hdr_init(&rec.hdr, TCPTRACE_REC_STATE, sizeof(rec),
			  TCPTRACE_STATE_REC_VERSION);
	net = sock_net(sk);
	rec.netns_cookie = tcptrace_net_cookie(net);
	rec.netns_ino = net->ns.inum;
	tcptrace_task_ident(&rec);
	/* the socket's, not current's; a clone's is still the listener's */
	rec.cgroup_id = tcptrace_sk_cgroup_id(sk);
	rec.old_state = oldstate;
	rec.new_state = newstate;

	if (tcptrace_park(sk, &rec))
		return;
	rec.sock_cookie = tcptrace_sock_cookie(sk);
	tcptrace_state_ends(&rec, sk);
	/*
	 * A move to a timewait socket is reported as one to TIME_WAIT.  An
	 * orphaned FIN_WAIT2 goes on in one (ss still shows FIN-WAIT-2): the
	 * table reports it when the peer's FIN moves it to TIME_WAIT, or
	 * when it ends without.
	 */
	tw = tcptrace_tw_handover(sk, oldstate, newstate, &twbuf);
	if (tw && tw->substate != TCP_TIME_WAIT) {
		tcptrace_conn_state(sk, oldstate, newstate, tw);
		return;
	}
	if (tw) {
		rec.new_state = TCP_TIME_WAIT;
		rec.flags |= TCPTRACE_F_SYNTHETIC;
	}
	tcptrace_ring_emit(&rec.hdr);
	tcptrace_conn_state(sk, oldstate, newstate, tw);
}

/* A socket accepted an RST. */
static void tcptrace_probe_receive_reset(void *data, struct sock *sk)
{
	if (sk_fullsock(sk) && sk->sk_protocol == IPPROTO_TCP)
		tcptrace_conn_rst_in(sk);
}

#ifdef TCPTRACE_HAVE_RST_REASON
/*
 * The kernel sends an RST.  An answer to @skb: about to, so note why, for
 * the RST's record when it passes LOCAL_OUT.  An abort (no @skb): the
 * socket has just sent it, so report it now.
 */
static void tcptrace_probe_send_reset(void *data, const struct sock *sk,
				      const struct sk_buff *skb,
				      const enum sk_rst_reason reason)
{
	const struct tcphdr *th;

	if (skb) {
		th = tcp_hdr(skb);
		tcptrace_conn_rst_reason(ntohs(th->dest), ntohs(th->source),
					 reason);
	} else if (sk && sk_fullsock(sk) && sk->sk_protocol == IPPROTO_TCP) {
		tcptrace_conn_rst_active(sk, reason);
	}
}
#endif

/* The kernel dropped a packet: was it a SYN waiting for an answer? */
static void tcptrace_probe_kfree_skb(TCPTRACE_KFREE_SKB_PROTO)
{
	tcptrace_conn_dropped(skb, TCPTRACE_KFREE_SKB_RX_SK,
			      TCPTRACE_KFREE_SKB_REASON);
}

/* Never called: fails the build if a tracepoint prototype changes. */
static inline void __maybe_unused tcptrace_check_prototypes(void)
{
	check_trace_callback_type_inet_sock_set_state(tcptrace_probe_set_state);
	check_trace_callback_type_tcp_receive_reset(tcptrace_probe_receive_reset);
	check_trace_callback_type_kfree_skb(tcptrace_probe_kfree_skb);
#ifdef TCPTRACE_HAVE_RST_REASON
	check_trace_callback_type_tcp_send_reset(tcptrace_probe_send_reset);
#endif
}

struct tcptrace_tp {
	const char		*name;
	void			*probe;
	struct tracepoint	*tp;
	bool			registered;
};

static struct tcptrace_tp tcptrace_tps[] = {
	{ .name = "inet_sock_set_state", .probe = tcptrace_probe_set_state },
	{ .name = "tcp_receive_reset", .probe = tcptrace_probe_receive_reset },
	{ .name = "kfree_skb", .probe = tcptrace_probe_kfree_skb },
#ifdef TCPTRACE_HAVE_RST_REASON
	{ .name = "tcp_send_reset", .probe = tcptrace_probe_send_reset },
#endif
};

static void tcptrace_find_tp(struct tracepoint *tp, void *priv)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(tcptrace_tps); i++)
		if (!strcmp(tp->name, tcptrace_tps[i].name))
			tcptrace_tps[i].tp = tp;
}

static void tcptrace_unregister_all(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(tcptrace_tps); i++) {
		if (!tcptrace_tps[i].registered)
			continue;
		tracepoint_probe_unregister(tcptrace_tps[i].tp,
					    tcptrace_tps[i].probe, NULL);
		tcptrace_tps[i].registered = false;
	}
	/* no probe is running, nor will run, after this */
	tracepoint_synchronize_unregister();
}

int tcptrace_probes_init(void)
{
	int i, ret;

	for_each_kernel_tracepoint(tcptrace_find_tp, NULL);
	for (i = 0; i < ARRAY_SIZE(tcptrace_tps); i++) {
		if (!tcptrace_tps[i].tp) {
			pr_err("tracepoint %s not found in this kernel\n",
			       tcptrace_tps[i].name);
			ret = -ENOENT;
			goto fail;
		}
		ret = tracepoint_probe_register(tcptrace_tps[i].tp,
						tcptrace_tps[i].probe, NULL);
		if (ret) {
			pr_err("cannot attach to tracepoint %s: %d\n",
			       tcptrace_tps[i].name, ret);
			goto fail;
		}
		tcptrace_tps[i].registered = true;
	}
	return 0;
fail:
	tcptrace_unregister_all();
	return ret;
}

void tcptrace_probes_exit(void)
{
	tcptrace_unregister_all();
}

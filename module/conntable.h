/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tcptrace: the connection table joining a handshake's packets with the
 * socket that results from it.
 */
#ifndef _TCPTRACE_CONNTABLE_H
#define _TCPTRACE_CONNTABLE_H

#include <linux/types.h>
#include "uapi/tcptrace.h"

struct sock;
struct net;
struct tcptrace_pkt;

struct sk_buff;
struct net_device;

/* The timewait socket that took a closing connection's tuple over. */
struct tcptrace_tw {
	long	left;		/* jiffies to its timer */
	u64	cookie;		/* its socket cookie */
	int	bound_dev_if;
	u8	substate;	/* TCP_TIME_WAIT, or an orphaned TCP_FIN_WAIT2 */
};

int tcptrace_conn_init(unsigned int entries, unsigned int hs_timeout_s,
		       unsigned int syn_timeout_ms);
void tcptrace_conn_exit(void);

/*
 * A control packet @skb of a local socket in namespace @net, through
 * @dev; @out: leaving (LOCAL_OUT), else arriving (LOCAL_IN).  @pkt holds
 * the addresses as the socket sees them.
 */
void tcptrace_conn_packet(const struct net *net, const struct tcptrace_pkt *pkt,
			  const struct sk_buff *skb,
			  const struct net_device *dev, bool out);
/*
 * A socket's state transition (from the tracepoint probe); @tw: for a
 * move to CLOSE, the timewait socket that took over (tcptrace_conn_tw()),
 * else NULL.
 */
void tcptrace_conn_state(const struct sock *sk, int oldstate, int newstate,
			 const struct tcptrace_tw *tw);
/* Fill @tw if a timewait socket took over @sk's tuple; false if none. */
bool tcptrace_conn_tw(const struct sock *sk, struct tcptrace_tw *tw);
/*
 * The kernel is about to send an RST from local port @lport to @rport for
 * @reason (tracepoint tcp_send_reset, 6.10+).
 */
void tcptrace_conn_rst_reason(u16 lport, u16 rport, u32 reason);
/* Socket @sk has just sent an RST of its own (an abort), for @reason. */
void tcptrace_conn_rst_active(const struct sock *sk, u32 reason);
/* A socket accepted an RST (tracepoint tcp_receive_reset). */
void tcptrace_conn_rst_in(const struct sock *sk);
/*
 * The kernel dropped @skb for @reason (tracepoint kfree_skb); @rx_sk: the
 * receiving socket, where the kernel says (6.11+), or NULL.
 */
void tcptrace_conn_dropped(const struct sk_buff *skb, const struct sock *rx_sk,
			   unsigned int reason);
/* Forget a dying namespace's entries. */
void tcptrace_conn_purge(u64 netns_cookie);
void tcptrace_conn_stats(struct tcptrace_stats *st);

#endif /* _TCPTRACE_CONNTABLE_H */

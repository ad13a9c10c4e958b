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

int tcptrace_conn_init(unsigned int entries, unsigned int hs_timeout_s,
		       unsigned int syn_timeout_ms);
void tcptrace_conn_exit(void);

/* A control packet @skb in namespace @net; @out: leaving (POST_ROUTING). */
void tcptrace_conn_packet(const struct net *net, const struct tcptrace_pkt *pkt,
			  const struct sk_buff *skb, bool out);
/*
 * A socket's state transition (from the tracepoint probe); @tw_left: for
 * a move to CLOSE, tcptrace_conn_tw_left() of it.
 */
void tcptrace_conn_state(const struct sock *sk, int oldstate, int newstate,
			 long tw_left);
/* Jiffies left to the timewait socket that took over @sk's tuple, or -1. */
long tcptrace_conn_tw_left(const struct sock *sk);
/* A socket accepted an RST (tracepoint tcp_receive_reset). */
void tcptrace_conn_rst_in(const struct sock *sk);
/* The kernel dropped @skb for @reason (tracepoint kfree_skb). */
void tcptrace_conn_dropped(const struct sk_buff *skb, unsigned int reason);
/* Forget a dying namespace's entries. */
void tcptrace_conn_purge(u64 netns_cookie);
void tcptrace_conn_stats(struct tcptrace_stats *st);

#endif /* _TCPTRACE_CONNTABLE_H */

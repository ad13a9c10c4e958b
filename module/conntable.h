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

int tcptrace_conn_init(unsigned int entries, unsigned int hs_timeout_s);
void tcptrace_conn_exit(void);

/* A control packet in namespace @net; @out: leaving (POST_ROUTING). */
void tcptrace_conn_packet(const struct net *net, const struct tcptrace_pkt *pkt,
			  bool out);
/* A socket's state transition (from the tracepoint probe). */
void tcptrace_conn_state(const struct sock *sk, int oldstate, int newstate);
/* Forget a dying namespace's entries. */
void tcptrace_conn_purge(u64 netns_cookie);
void tcptrace_conn_stats(struct tcptrace_stats *st);

#endif /* _TCPTRACE_CONNTABLE_H */

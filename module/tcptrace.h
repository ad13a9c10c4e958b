/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tcptrace: declarations shared by the module's source files.
 */
#ifndef _TCPTRACE_H
#define _TCPTRACE_H

#include <linux/types.h>
#include <linux/compiler.h>
#include "uapi/tcptrace.h"

struct tcptrace_stats;
struct sock;
struct sk_buff;
struct net;

/*
 * What a reader may see: the network namespace (cookie; 0 for the initial
 * one: all) and the PID namespace (inode; 0 for the initial one) it
 * opened the device from.
 */
struct tcptrace_scope {
	u64	netns;
	u32	pidns;
};

/* ring.c: per-CPU record buffer */
int tcptrace_ring_init(unsigned long bytes_per_cpu);
void tcptrace_ring_exit(void);
void tcptrace_ring_emit(struct tcptrace_hdr *hdr);
bool tcptrace_ring_has_data(void);
ssize_t tcptrace_ring_read(char __user *buf, size_t count,
			   const struct tcptrace_scope *scope);
int tcptrace_ring_stats(struct tcptrace_stats *st,
			struct tcptrace_cpu_stats __user *cpus);
void tcptrace_ring_reset(void);

/* The record types the reader wants (TCPTRACE_IOC_SET_TYPES). */
extern u32 tcptrace_types;

static inline bool tcptrace_wants(unsigned int type)
{
	return READ_ONCE(tcptrace_types) & (1u << type);
}

/* chardev.c: /dev/tcptrace */
int tcptrace_dev_init(void);
void tcptrace_dev_exit(void);
void tcptrace_dev_wake(void);

/* netfilter.c: packet hooks */
int tcptrace_nf_init(void);
void tcptrace_nf_exit(void);
void tcptrace_nf_stats(struct tcptrace_stats *st);
void tcptrace_nf_malformed(void);
/*
 * The namespace packet @skb, now being dropped, was received in, if it
 * was the last to pass LOCAL_IN on this CPU (before 6.11, where TCP's
 * drops tell no socket; compat.h), else NULL.  Valid in the caller's
 * RCU read-side section (a probe's).
 */
const struct net *tcptrace_rx_net(const struct sk_buff *skb);

/* probes.c: tracepoint probes */
int tcptrace_probes_init(void);
void tcptrace_probes_exit(void);

/* parked.c: a socket's state records */
void tcptrace_state_ends(struct tcptrace_state_rec *rec, const struct sock *sk);
/*
 * Park @rec, @sk's transition, if it is a server socket's first (then
 * true: do not emit it); complete a record parked earlier on this CPU.
 */
bool tcptrace_park(const struct sock *sk, struct tcptrace_state_rec *rec);
/* A SYN-ACK leaves from full socket @sk (TCP Fast Open): complete it. */
void tcptrace_parked_synack(const struct sock *sk);

/* The context the caller runs in: enum tcptrace_ctx. */
u8 tcptrace_ctx(void);
/*
 * The task fields of @r: who made the transition, only in task context
 * (in softirq, current is whoever was interrupted).  After
 * tcptrace_hdr_init(), whose context it reads.
 */
void tcptrace_task_ident(struct tcptrace_state_rec *r);
/* Fill the common header fields of a record about to be emitted. */
void tcptrace_hdr_init(struct tcptrace_hdr *hdr, u16 type, u16 size,
		       u8 version);

#endif /* _TCPTRACE_H */

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
#include <linux/percpu.h>
#include <net/sock.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>
#include <trace/events/sock.h>
#include <trace/events/tcp.h>
#include <trace/events/skb.h>

#include "tcptrace.h"
#include "compat.h"
#include "conntable.h"

static void tcptrace_fill_endpoints(struct tcptrace_state_rec *rec,
				    const struct sock *sk)
{
	const struct inet_sock *inet = inet_sk(sk);

	rec->family = sk->sk_family;
	rec->sport = ntohs(inet->inet_sport);
	rec->dport = ntohs(inet->inet_dport);
	if (sk->sk_family == AF_INET) {
		memcpy(rec->saddr, &inet->inet_saddr, 4);
		memcpy(rec->daddr, &inet->inet_daddr, 4);
	}
#if IS_ENABLED(CONFIG_IPV6)
	else if (sk->sk_family == AF_INET6) {
		memcpy(rec->saddr, &sk->sk_v6_rcv_saddr, 16);
		memcpy(rec->daddr, &sk->sk_v6_daddr, 16);
		if (ipv6_addr_v4mapped(&sk->sk_v6_daddr))
			rec->flags |= TCPTRACE_F_V4MAPPED;
	}
#endif
}

/*
 * A server's new socket makes its first transition, LISTEN -> SYN_RECV,
 * inside inet_csk_clone_lock() while it is still a byte copy of the
 * listener: the listener's cookie and ports.  Its own identity is written
 * right after.  So that record is parked here and completed at the
 * socket's next transition (SYN_RECV -> ESTABLISHED or -> CLOSE), which
 * follows on the same CPU in the same context: softirq, or the task
 * processing the listener's backlog.  One slot per context, so a softirq
 * interrupting a task cannot clobber the task's slot.
 */
struct tcptrace_parked {
	const struct sock		*sk;	/* compared, never dereferenced */
	struct tcptrace_state_rec	rec;
};

static DEFINE_PER_CPU(struct tcptrace_parked[TCPTRACE_CTX_KTHREAD + 1],
		      tcptrace_parked);

static void tcptrace_unpark(struct tcptrace_parked *p, const struct sock *sk)
{
	if (p->sk == sk) {
		p->rec.sock_cookie = tcptrace_sock_cookie(sk);
		tcptrace_fill_endpoints(&p->rec, sk);
		p->rec.cgroup_id = tcptrace_sk_cgroup_id(sk);
	} else {
		/*
		 * the socket died without another transition: say so (its
		 * cgroup, read when parked, is the listener's)
		 */
		p->rec.flags |= TCPTRACE_F_UNRESOLVED;
	}
	p->sk = NULL;
	tcptrace_ring_emit(&p->rec.hdr);
}

/*
 * An active closer "goes to CLOSE" when the kernel hands the connection
 * to a timewait socket.  Returns the jiffies that socket has left, or -1.
 */
static long tcptrace_tw_handover(const struct sock *sk, int oldstate,
				 int newstate)
{
	if (newstate != TCP_CLOSE ||
	    (oldstate != TCP_FIN_WAIT1 && oldstate != TCP_FIN_WAIT2 &&
	     oldstate != TCP_CLOSING))
		return -1;
	return tcptrace_conn_tw_left(sk);
}

static void tcptrace_probe_set_state(void *data, const struct sock *sk,
				     const int oldstate, const int newstate)
{
	struct tcptrace_state_rec rec = {};
	struct tcptrace_parked *parked;
	const struct net *net;
	long tw_left;

	if (sk->sk_protocol != IPPROTO_TCP)
		return;
	if (!tcptrace_wants(TCPTRACE_REC_STATE)) {
		/* the reader wants no transitions: only the table's work */
		tcptrace_conn_state(sk, oldstate, newstate,
				    tcptrace_tw_handover(sk, oldstate, newstate));
		return;
	}

	tcptrace_hdr_init(&rec.hdr, TCPTRACE_REC_STATE, sizeof(rec),
			  TCPTRACE_STATE_REC_VERSION);
	net = sock_net(sk);
	rec.netns_cookie = tcptrace_net_cookie(net);
	rec.netns_ino = net->ns.inum;
	rec.pid = task_tgid_nr(current);
	rec.tid = task_pid_nr(current);
	memcpy(rec.comm, current->comm, sizeof(rec.comm));
	/* the socket's, not current's; a clone's is still the listener's */
	rec.cgroup_id = tcptrace_sk_cgroup_id(sk);
	rec.old_state = oldstate;
	rec.new_state = newstate;

	/* tracepoint probes run with preemption disabled */
	parked = this_cpu_ptr(&tcptrace_parked[rec.hdr.ctx]);
	if (unlikely(parked->sk))
		tcptrace_unpark(parked, sk);
	if (oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV) {
		parked->rec = rec;
		parked->sk = sk;
		return;
	}
	rec.sock_cookie = tcptrace_sock_cookie(sk);
	tcptrace_fill_endpoints(&rec, sk);
	/* a move to a timewait socket is reported as one to TIME_WAIT */
	tw_left = tcptrace_tw_handover(sk, oldstate, newstate);
	if (tw_left >= 0) {
		rec.new_state = TCP_TIME_WAIT;
		rec.flags |= TCPTRACE_F_SYNTHETIC;
	}
	tcptrace_ring_emit(&rec.hdr);
	tcptrace_conn_state(sk, oldstate, newstate, tw_left);
}

/* A socket accepted an RST. */
static void tcptrace_probe_receive_reset(void *data, struct sock *sk)
{
	if (sk_fullsock(sk) && sk->sk_protocol == IPPROTO_TCP)
		tcptrace_conn_rst_in(sk);
}

/* The kernel dropped a packet: was it a SYN waiting for an answer? */
static void tcptrace_probe_kfree_skb(TCPTRACE_KFREE_SKB_PROTO)
{
	tcptrace_conn_dropped(skb, reason);
}

/* Never called: fails the build if a tracepoint prototype changes. */
static inline void __maybe_unused tcptrace_check_prototypes(void)
{
	check_trace_callback_type_inet_sock_set_state(tcptrace_probe_set_state);
	check_trace_callback_type_tcp_receive_reset(tcptrace_probe_receive_reset);
	check_trace_callback_type_kfree_skb(tcptrace_probe_kfree_skb);
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

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels tcptrace builds for lives here.
 * Supported: 5.10 .. 6.12 (dkms.conf holds the range).  A new kernel should
 * only need changes in this file.  Prefer testing for a feature over
 * testing LINUX_VERSION_CODE, so distribution backports work too.
 */
#ifndef _TCPTRACE_COMPAT_H
#define _TCPTRACE_COMPAT_H

#include <linux/kconfig.h>
#include <linux/cgroup.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <net/inet_hashtables.h>
#include <net/inet6_hashtables.h>
#include <linux/sock_diag.h>

/*
 * 6.12 moved the unaligned accessors from asm/ to linux/.  Kbuild defines
 * TCPTRACE_HAVE_LINUX_UNALIGNED when the target tree has the new header.
 */
#ifdef TCPTRACE_HAVE_LINUX_UNALIGNED
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

/*
 * The per-CPU record buffer is the kernel's tracing ring buffer, which
 * allocates only once the tracing core has set up its CPU hotplug state.
 */
#if !IS_ENABLED(CONFIG_TRACING) || !IS_ENABLED(CONFIG_TRACEPOINTS)
#error "tcptrace needs a kernel with CONFIG_TRACING and CONFIG_TRACEPOINTS"
#endif

/*
 * The namespace's id in records, the table's keys and a reader's scope.
 * net->net_cookie is a plain u64, written once at netns setup, since 5.12
 * (Kbuild: TCPTRACE_HAVE_NET_COOKIE_U64).  Before, it was filled lazily,
 * by BPF only, through a function modules cannot call: there the
 * namespace's inode number stands in.  It is unique while the namespace
 * lives, and the table forgets a namespace's entries when it dies; but
 * a later namespace may get it again.  Documentation/tcptrace.rst
 * ("Kernels") says what each kernel's records carry.
 */
static inline u64 tcptrace_net_cookie(const struct net *net)
{
#ifdef TCPTRACE_HAVE_NET_COOKIE_U64
	return READ_ONCE(net->net_cookie);
#else
	return net->ns.inum;
#endif
}

/*
 * May a reader in another namespace than the initial one be scoped to
 * its own?  Only by a never reused id: with inode numbers, records still
 * buffered from a dead namespace would go to whichever container got its
 * number next.  So before 5.12 only the initial namespace reads.
 */
#ifdef TCPTRACE_HAVE_NET_COOKIE_U64
#define TCPTRACE_SCOPED_READERS	1
#else
#define TCPTRACE_SCOPED_READERS	0
#endif

/*
 * The socket cookie, exactly as getsockopt(SO_COOKIE), ss -e and BPF see
 * it: generated on first use, stable for the socket's life, never reused.
 * __sock_gen_cookie() is not exported; sock_diag_save_cookie() is, and
 * does the same thing in every supported kernel.
 */
static inline u64 tcptrace_sock_cookie(const struct sock *sk)
{
	u32 c[2];

	sock_diag_save_cookie((struct sock *)sk, c);
	return (u64)c[1] << 32 | c[0];
}

/*
 * The cgroup v2 id of a full socket, as bpf_sk_cgroup_id() reads it: the
 * cgroup its creator ran in (an accepted socket inherits the listener's),
 * set when the socket is allocated and fixed for its life, which holds a
 * reference on it.  Read from the socket, not from current: transitions
 * in softirq (SYN_RECV -> ESTABLISHED, into TIME_WAIT, ...) interrupt an
 * unrelated task.  On cgroup2 it is the cgroup directory's inode number.
 * 0 when the kernel keeps no cgroup in sockets (no
 * CONFIG_SOCK_CGROUP_DATA: no cgroup BPF, net_prio or net_cls), or for a
 * socket that never had one.
 */
static inline u64 tcptrace_sk_cgroup_id(const struct sock *sk)
{
#if IS_ENABLED(CONFIG_SOCK_CGROUP_DATA) && IS_ENABLED(CONFIG_CGROUPS)
	struct cgroup *cgrp;

	cgrp = sock_cgroup_ptr((struct sock_cgroup_data *)&sk->sk_cgrp_data);
	return cgrp ? cgroup_id(cgrp) : 0;
#else
	return 0;
#endif
}

/*
 * Tracepoint kfree_skb: 6.11 added the receiving socket (const in 7.x).
 * Kbuild defines TCPTRACE_HAVE_KFREE_SKB_RX_SK when the target's trace
 * header has it, and TCPTRACE_HAVE_KFREE_SKB_CONST_RX_SK when const.
 */
#ifdef TCPTRACE_HAVE_KFREE_SKB_CONST_RX_SK
#define TCPTRACE_KFREE_SKB_PROTO					\
	void *data, struct sk_buff *skb, void *location,		\
	enum skb_drop_reason reason, const struct sock *rx_sk
#elif defined(TCPTRACE_HAVE_KFREE_SKB_RX_SK)
#define TCPTRACE_KFREE_SKB_PROTO					\
	void *data, struct sk_buff *skb, void *location,		\
	enum skb_drop_reason reason, struct sock *rx_sk
#elif defined(TCPTRACE_HAVE_KFREE_SKB_REASON)
#define TCPTRACE_KFREE_SKB_PROTO					\
	void *data, struct sk_buff *skb, void *location,		\
	enum skb_drop_reason reason
#else
#define TCPTRACE_KFREE_SKB_PROTO					\
	void *data, struct sk_buff *skb, void *location
#endif

/*
 * The drop reason kfree_skb passes (5.17+, backported to some 5.15s), or
 * 0, "none": a SYN dropped on a kernel without them is reported with
 * TCPTRACE_DF_NO_DROP_REASON, never with a made-up reason.
 */
#ifdef TCPTRACE_HAVE_KFREE_SKB_REASON
#define TCPTRACE_KFREE_SKB_REASON	reason
#define TCPTRACE_HAVE_DROP_REASONS	1
#else
#define TCPTRACE_KFREE_SKB_REASON	0
#define TCPTRACE_HAVE_DROP_REASONS	0
#endif

/*
 * The MTU IPv6 forwarding compares a packet with, on its route:
 * ip6_dst_mtu_forward() became ip6_dst_mtu_maybe_forward() in 5.15.
 */
#if IS_ENABLED(CONFIG_IPV6)
#include <net/ip6_route.h>
#ifdef TCPTRACE_HAVE_IP6_DST_MTU_MAYBE_FORWARD
#define tcptrace_ip6_fwd_mtu(dst)	ip6_dst_mtu_maybe_forward(dst, true)
#else
#define tcptrace_ip6_fwd_mtu(dst)	ip6_dst_mtu_forward(dst)
#endif
#endif

/* in_irq() became in_hardirq() in 5.11. */
#ifndef in_hardirq
#define in_hardirq()	in_irq()
#endif

/* The irq_work initializers came in 5.11; before, the flags were atomic. */
#include <linux/irq_work.h>
#ifndef IRQ_WORK_INIT_LAZY
#define IRQ_WORK_INIT_LAZY(fn)						\
	{ .flags = ATOMIC_INIT(IRQ_WORK_LAZY), .func = (fn) }
#endif

/*
 * How old, in seconds, the last timestamp of a connection may be before
 * PAWS stops trusting it: TCP_PAWS_24DAYS until 6.10, then TCP_PAWS_WRAP
 * (shorter: INT_MAX microseconds, for microsecond timestamps).  The
 * kernel's own value, whichever it has.
 */
#ifdef TCP_PAWS_WRAP
#define TCPTRACE_PAWS_WRAP	TCP_PAWS_WRAP
#else
#define TCPTRACE_PAWS_WRAP	TCP_PAWS_24DAYS
#endif

/*
 * The receiving socket kfree_skb passes from 6.11 on, else none.  Before,
 * a segment TCP drops has neither its device nor its route left to tell
 * its namespace by: the LOCAL_IN hook notes it for the drop probe
 * (TCPTRACE_RX_NOTES, netfilter.c).
 */
#ifdef TCPTRACE_HAVE_KFREE_SKB_RX_SK
#define TCPTRACE_KFREE_SKB_RX_SK	rx_sk
#define TCPTRACE_RX_NOTES		0
#else
#define TCPTRACE_KFREE_SKB_RX_SK	NULL
#define TCPTRACE_RX_NOTES		1
#endif

/*
 * The established and listening socket lookups of TCP's receive path.
 * 7.x dropped their struct inet_hashinfo argument (Kbuild:
 * TCPTRACE_HAVE_LOOKUP{,6}_NO_HASHINFO): they find TCP's own table.
 */
static inline struct sock *
tcptrace_lookup_est4(struct net *net, struct inet_hashinfo *h,
		     __be32 raddr, __be16 rport, __be32 laddr, u16 lport,
		     int dif, int sdif)
{
#ifdef TCPTRACE_HAVE_LOOKUP_NO_HASHINFO
	return __inet_lookup_established(net, raddr, rport, laddr, lport, dif,
					 sdif);
#else
	return __inet_lookup_established(net, h, raddr, rport, laddr, lport,
					 dif, sdif);
#endif
}

static inline struct sock *
tcptrace_lookup_listener4(struct net *net, struct inet_hashinfo *h,
			  __be32 raddr, __be16 rport, __be32 laddr, u16 lport,
			  int dif, int sdif)
{
#ifdef TCPTRACE_HAVE_LOOKUP_NO_HASHINFO
	return __inet_lookup_listener(net, NULL, 0, raddr, rport, laddr,
				      lport, dif, sdif);
#else
	return __inet_lookup_listener(net, h, NULL, 0, raddr, rport, laddr,
				      lport, dif, sdif);
#endif
}

#if IS_ENABLED(CONFIG_IPV6)
static inline struct sock *
tcptrace_lookup_est6(struct net *net, struct inet_hashinfo *h,
		     const struct in6_addr *raddr, __be16 rport,
		     const struct in6_addr *laddr, u16 lport, int dif, int sdif)
{
#ifdef TCPTRACE_HAVE_LOOKUP6_NO_HASHINFO
	return __inet6_lookup_established(net, raddr, rport, laddr, lport, dif,
					  sdif);
#else
	return __inet6_lookup_established(net, h, raddr, rport, laddr, lport,
					  dif, sdif);
#endif
}

static inline struct sock *
tcptrace_lookup_listener6(struct net *net, struct inet_hashinfo *h,
			  const struct in6_addr *raddr, __be16 rport,
			  const struct in6_addr *laddr, u16 lport,
			  int dif, int sdif)
{
#ifdef TCPTRACE_HAVE_LOOKUP6_NO_HASHINFO
	return inet6_lookup_listener(net, NULL, 0, raddr, rport, laddr, lport,
				     dif, sdif);
#else
	return inet6_lookup_listener(net, h, NULL, 0, raddr, rport, laddr,
				     lport, dif, sdif);
#endif
}
#endif

/*
 * ECN agreed on a connection: TCP_ECN_OK until 7.x, whose AccECN work
 * made it a mode, RFC 3168 or AccECN (both bits: still negotiating).
 */
static inline bool tcptrace_ecn_agreed(const struct tcp_sock *tp)
{
#ifdef TCP_ECN_MODE_ANY
	return tcp_ecn_mode_rfc3168(tp) || tcp_ecn_mode_accecn(tp);
#else
	return tp->ecn_flags & TCP_ECN_OK;
#endif
}

/* The KUnit tests' way of making a socket that agreed on RFC 3168 ECN. */
static inline void tcptrace_ecn_set_agreed(struct tcp_sock *tp)
{
#ifdef TCP_ECN_MODE_ANY
	tcp_ecn_mode_set(tp, TCP_ECN_MODE_RFC3168);
#else
	tp->ecn_flags = TCP_ECN_OK;
#endif
}

#endif /* _TCPTRACE_COMPAT_H */

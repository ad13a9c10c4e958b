/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels tcptrace builds for lives here.
 * Supported: 6.1 .. 6.12 (dkms.conf holds the range).  A new kernel should
 * only need changes in this file.  Prefer testing for a feature over
 * testing LINUX_VERSION_CODE, so distribution backports work too.
 */
#ifndef _TCPTRACE_COMPAT_H
#define _TCPTRACE_COMPAT_H

#include <linux/kconfig.h>
#include <linux/cgroup.h>
#include <net/net_namespace.h>
#include <net/sock.h>
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

/* net->net_cookie is a plain u64, written once at netns setup (>= 5.14). */
static inline u64 tcptrace_net_cookie(const struct net *net)
{
	return READ_ONCE(net->net_cookie);
}

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
 * Tracepoint kfree_skb: 6.11 added the receiving socket.  Kbuild defines
 * TCPTRACE_HAVE_KFREE_SKB_RX_SK when the target's trace header has it.
 */
#ifdef TCPTRACE_HAVE_KFREE_SKB_RX_SK
#define TCPTRACE_KFREE_SKB_PROTO					\
	void *data, struct sk_buff *skb, void *location,		\
	enum skb_drop_reason reason, struct sock *rx_sk
#else
#define TCPTRACE_KFREE_SKB_PROTO					\
	void *data, struct sk_buff *skb, void *location,		\
	enum skb_drop_reason reason
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

/* The receiving socket kfree_skb passes from 6.11 on, else none. */
#ifdef TCPTRACE_HAVE_KFREE_SKB_RX_SK
#define TCPTRACE_KFREE_SKB_RX_SK	rx_sk
#else
#define TCPTRACE_KFREE_SKB_RX_SK	NULL
#endif

#endif /* _TCPTRACE_COMPAT_H */

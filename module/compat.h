/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels tcptrace builds for lives here.
 * Supported: 6.1 .. 6.12.  A new kernel should only need changes in this
 * file.
 */
#ifndef _TCPTRACE_COMPAT_H
#define _TCPTRACE_COMPAT_H

#include <linux/version.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <linux/sock_diag.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "tcptrace needs Linux 6.1 or newer"
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
 * Highest TCP state number the running kernel can report.  6.7 added
 * TCP_BOUND_INACTIVE (a pseudo-state for inet_diag only).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
#define TCPTRACE_TCP_MAX_STATE	TCP_BOUND_INACTIVE
#else
#define TCPTRACE_TCP_MAX_STATE	TCP_NEW_SYN_RECV
#endif

#endif /* _TCPTRACE_COMPAT_H */

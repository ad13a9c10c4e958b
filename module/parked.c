// SPDX-License-Identifier: GPL-2.0
/*
 * tcptrace: a socket's endpoints in its state records, and the parked
 * first transition of a server's new socket.
 *
 * A server's new socket makes its first transition, LISTEN -> SYN_RECV,
 * inside inet_csk_clone_lock() while it is still a byte copy of the
 * listener: the listener's cookie and ports.  Its own identity is written
 * right after.  So that record is parked here and completed at the
 * socket's next transition (SYN_RECV -> ESTABLISHED or -> CLOSE), which
 * follows on the same CPU in the same context: softirq, or the task
 * processing the listener's backlog; or, for a TCP Fast Open socket, whose
 * next transition waits for the client's ACK, when its SYN-ACK leaves.
 * One slot per context, so a softirq interrupting a task cannot clobber
 * the task's slot.  The pointer alone does not prove it is the same
 * socket (memory is reused): the next transition must also be one out of
 * SYN_RECV.
 */
#include <linux/percpu.h>
#include <linux/string.h>
#include <net/sock.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>
#include <net/tcp_states.h>

#include "tcptrace.h"
#include "compat.h"

struct tcptrace_parked {
	const struct sock		*sk;	/* compared, never dereferenced */
	struct tcptrace_state_rec	rec;
};

static DEFINE_PER_CPU(struct tcptrace_parked[TCPTRACE_CTX_KTHREAD + 1],
		      tcptrace_parked);

void tcptrace_state_ends(struct tcptrace_state_rec *rec, const struct sock *sk)
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

static void tcptrace_unpark(struct tcptrace_parked *p, const struct sock *sk,
			    int oldstate)
{
	if (p->sk == sk && oldstate == TCP_SYN_RECV) {
		p->rec.sock_cookie = tcptrace_sock_cookie(sk);
		tcptrace_state_ends(&p->rec, sk);
		p->rec.cgroup_id = tcptrace_sk_cgroup_id(sk);
	} else {
		/*
		 * the socket died without another transition: say so (its
		 * cookie, ends and cgroup, read when parked, are the
		 * listener's)
		 */
		p->rec.flags |= TCPTRACE_F_UNRESOLVED;
	}
	p->sk = NULL;
	tcptrace_ring_emit(&p->rec.hdr);
}

bool tcptrace_park(const struct sock *sk, struct tcptrace_state_rec *rec)
{
	struct tcptrace_parked *p = get_cpu_ptr(&tcptrace_parked[0]);
	bool parked = false;

	p += rec->hdr.ctx;
	if (unlikely(p->sk))
		tcptrace_unpark(p, sk, rec->old_state);
	if (rec->old_state == TCP_LISTEN && rec->new_state == TCP_SYN_RECV) {
		/* until resolved: the listener's, of which this is a copy */
		rec->sock_cookie = atomic64_read(&sk->sk_cookie);
		tcptrace_state_ends(rec, sk);
		p->rec = *rec;
		p->sk = sk;
		parked = true;
	}
	put_cpu_ptr(&tcptrace_parked[0]);
	return parked;
}

void tcptrace_parked_synack(const struct sock *sk)
{
	struct tcptrace_parked *p = get_cpu_ptr(&tcptrace_parked[0]);

	p += tcptrace_ctx();
	if (p->sk == sk)
		tcptrace_unpark(p, sk, TCP_SYN_RECV);
	put_cpu_ptr(&tcptrace_parked[0]);
}

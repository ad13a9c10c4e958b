// SPDX-License-Identifier: GPL-2.0
/*
 * tcptrace: the connection table.
 *
 * Joins, per connection end, what the SYN offered and the SYN-ACK answered
 * (seen by the netfilter hooks, which know no socket) with what the kernel
 * settled on (read from the socket when the state probe sees it become
 * ESTABLISHED), and emits one TCPTRACE_REC_HANDSHAKE record.
 *
 * Entries are keyed by network namespace cookie and the 4-tuple from the
 * local end's view, addresses in v4-mapped form so an AF_INET6 socket
 * talking IPv4 finds its packets.  On loopback one SYN creates two
 * entries: the client's as it leaves, the server's as it arrives.
 *
 * The table is allocated once at load: a fixed number of buckets of
 * TCPTRACE_WAYS entries, so memory is bounded and the packet path never
 * allocates.  A full bucket evicts its oldest entry (counted).
 */
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/jhash.h>
#include <linux/workqueue.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/string.h>
#include <net/tcp.h>
#include <net/inet_sock.h>

#include "tcptrace.h"
#include "compat.h"
#include "conntable.h"
#include "packet.h"
#include "options.h"

#define TCPTRACE_WAYS	4

struct tcptrace_conn_key {
	u64	netns_cookie;
	u8	laddr[16];
	u8	raddr[16];
	u16	lport;
	u16	rport;
	u32	zero;
};

struct tcptrace_conn {
	struct tcptrace_conn_key key;
	u64	born_ns;
	u32	netns_ino;
	u8	used;
	u8	role;
	u8	family;
	u8	rst_seen;
	u16	syn_retrans;
	u16	synack_retrans;
	struct tcptrace_tcpopts syn;
	struct tcptrace_tcpopts synack;
};

struct tcptrace_bucket {
	spinlock_t		lock;	/* protects e[] */
	struct tcptrace_conn	e[TCPTRACE_WAYS];
};

static struct tcptrace_bucket *tcptrace_buckets;
static unsigned int tcptrace_nbuckets;	/* power of two */
static u64 tcptrace_hs_timeout_ns;
static atomic_t tcptrace_in_use = ATOMIC_INIT(0);
static atomic64_t tcptrace_evicted = ATOMIC64_INIT(0);
static atomic64_t tcptrace_timeouts = ATOMIC64_INIT(0);

static void tcptrace_conn_scan(struct work_struct *work);
static DECLARE_DELAYED_WORK(tcptrace_scan_work, tcptrace_conn_scan);

static struct tcptrace_bucket *tcptrace_bucket(const struct tcptrace_conn_key *k)
{
	u32 h = jhash2((const u32 *)k, sizeof(*k) / sizeof(u32), 0);

	return &tcptrace_buckets[h & (tcptrace_nbuckets - 1)];
}

static struct tcptrace_conn *tcptrace_find(struct tcptrace_bucket *b,
					   const struct tcptrace_conn_key *k)
{
	int i;

	for (i = 0; i < TCPTRACE_WAYS; i++)
		if (b->e[i].used && !memcmp(&b->e[i].key, k, sizeof(*k)))
			return &b->e[i];
	return NULL;
}

/* A free way, else the oldest one, evicted. */
static struct tcptrace_conn *tcptrace_slot(struct tcptrace_bucket *b)
{
	struct tcptrace_conn *old = &b->e[0];
	int i;

	for (i = 0; i < TCPTRACE_WAYS; i++) {
		if (!b->e[i].used) {
			atomic_inc(&tcptrace_in_use);
			return &b->e[i];
		}
		if (b->e[i].born_ns < old->born_ns)
			old = &b->e[i];
	}
	atomic64_inc(&tcptrace_evicted);
	return old;
}

static void tcptrace_release(struct tcptrace_conn *c)
{
	c->used = 0;
	atomic_dec(&tcptrace_in_use);
}

static void tcptrace_put_addr(u8 *dst, const u8 *mapped, u8 family)
{
	if (family == AF_INET)
		memcpy(dst, mapped + 12, 4);
	else
		memcpy(dst, mapped, 16);
}

/* Record from a table entry (or, with @c NULL, from nothing but @k). */
static void tcptrace_hs_fill(struct tcptrace_handshake_rec *r,
			     const struct tcptrace_conn *c, u8 outcome)
{
	tcptrace_hdr_init(&r->hdr, TCPTRACE_REC_HANDSHAKE, sizeof(*r),
			  TCPTRACE_HANDSHAKE_REC_VERSION);
	r->outcome = outcome;
	r->done_ns = r->hdr.ts_ns;
	r->netns_cookie = c->key.netns_cookie;
	r->netns_ino = c->netns_ino;
	r->family = c->family;
	r->role = c->role;
	r->sport = c->key.lport;
	r->dport = c->key.rport;
	tcptrace_put_addr(r->saddr, c->key.laddr, c->family);
	tcptrace_put_addr(r->daddr, c->key.raddr, c->family);
	r->syn = c->syn;
	r->synack = c->synack;
	r->syn_retrans = c->syn_retrans;
	r->synack_retrans = c->synack_retrans;
}

void tcptrace_conn_packet(const struct net *net, const struct tcptrace_pkt *pkt,
			  bool out)
{
	struct tcptrace_handshake_rec rec;
	struct tcptrace_conn_key k = {};
	struct tcptrace_bucket *b;
	struct tcptrace_conn *c;
	unsigned long flags;
	bool emit = false;
	u8 f = pkt->flags;

	if (!(f & (TCPTRACE_TH_SYN | TCPTRACE_TH_RST)))
		return;
	k.netns_cookie = tcptrace_net_cookie(net);
	memcpy(k.laddr, out ? pkt->saddr : pkt->daddr, 16);
	memcpy(k.raddr, out ? pkt->daddr : pkt->saddr, 16);
	k.lport = out ? pkt->sport : pkt->dport;
	k.rport = out ? pkt->dport : pkt->sport;
	b = tcptrace_bucket(&k);

	spin_lock_irqsave(&b->lock, flags);
	c = tcptrace_find(b, &k);
	if ((f & (TCPTRACE_TH_SYN | TCPTRACE_TH_ACK)) == TCPTRACE_TH_SYN) {
		if (c) {
			c->syn_retrans++;
		} else {
			c = tcptrace_slot(b);
			memset(c, 0, sizeof(*c));
			c->key = k;
			c->used = 1;
			c->born_ns = ktime_get_ns();
			c->netns_ino = net->ns.inum;
			c->family = pkt->family;
			c->role = out ? TCPTRACE_ROLE_CLIENT : TCPTRACE_ROLE_SERVER;
			c->syn = pkt->opts;
			c->syn.seen_ns = c->born_ns;
		}
	} else if (f & TCPTRACE_TH_SYN) {
		if (c && c->synack.seen_ns) {
			c->synack_retrans++;
		} else if (c) {
			c->synack = pkt->opts;
			c->synack.seen_ns = ktime_get_ns();
		}
	} else if (c && !c->rst_seen) {
		/*
		 * RST during a handshake.  A server's end has no socket yet
		 * (RST to a closed port, or the client aborting): emit now.  A
		 * client's socket will go SYN_SENT -> CLOSE: remember the RST
		 * for that.
		 */
		if (c->role == TCPTRACE_ROLE_SERVER) {
			/* either way, this end's handshake is over */
			memset(&rec, 0, sizeof(rec));
			tcptrace_hs_fill(&rec, c, TCPTRACE_HS_RESET);
			tcptrace_release(c);
			emit = true;
		} else if (!out) {
			c->rst_seen = 1;
		}
	}
	spin_unlock_irqrestore(&b->lock, flags);
	if (emit)
		tcptrace_ring_emit(&rec.hdr);
}

static void tcptrace_sk_key(const struct sock *sk, struct tcptrace_conn_key *k)
{
	const struct inet_sock *inet = inet_sk(sk);

	memset(k, 0, sizeof(*k));
	k->netns_cookie = tcptrace_net_cookie(sock_net(sk));
	k->lport = ntohs(inet->inet_sport);
	k->rport = ntohs(inet->inet_dport);
	if (sk->sk_family == AF_INET) {
		k->laddr[10] = 0xff;
		k->laddr[11] = 0xff;
		memcpy(k->laddr + 12, &inet->inet_saddr, 4);
		k->raddr[10] = 0xff;
		k->raddr[11] = 0xff;
		memcpy(k->raddr + 12, &inet->inet_daddr, 4);
		return;
	}
#if IS_ENABLED(CONFIG_IPV6)
	memcpy(k->laddr, &sk->sk_v6_rcv_saddr, 16);
	memcpy(k->raddr, &sk->sk_v6_daddr, 16);
#endif
}

static void tcptrace_agreed(struct tcptrace_handshake_rec *r,
			    const struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);

	if (tp->rx_opt.wscale_ok) {
		r->agreed |= TCPTRACE_AGREED_WSCALE;
		r->snd_wscale = tp->rx_opt.snd_wscale;
		r->rcv_wscale = tp->rx_opt.rcv_wscale;
	}
	if (tp->rx_opt.tstamp_ok)
		r->agreed |= TCPTRACE_AGREED_TS;
	if (tp->rx_opt.sack_ok)
		r->agreed |= TCPTRACE_AGREED_SACK;
	if (tp->ecn_flags & TCP_ECN_OK)
		r->agreed |= TCPTRACE_AGREED_ECN;
	r->mss = tp->mss_cache;
	r->advmss = tp->advmss;
	r->peer_mss = tp->rx_opt.mss_clamp;
}

void tcptrace_conn_state(const struct sock *sk, int oldstate, int newstate)
{
	struct tcptrace_handshake_rec rec = {};
	struct tcptrace_conn_key k;
	struct tcptrace_bucket *b;
	struct tcptrace_conn *c, none = {};
	unsigned long flags;
	u8 outcome;

	if (newstate == TCP_ESTABLISHED &&
	    (oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV))
		outcome = TCPTRACE_HS_ESTABLISHED;
	else if (newstate == TCP_CLOSE && oldstate == TCP_SYN_SENT)
		outcome = TCPTRACE_HS_FAILED;
	else
		return;

	tcptrace_sk_key(sk, &k);
	b = tcptrace_bucket(&k);
	spin_lock_irqsave(&b->lock, flags);
	c = tcptrace_find(b, &k);
	if (!c) {
		/* handshake began before load, or its entry was evicted */
		none.key = k;
		none.netns_ino = sock_net(sk)->ns.inum;
		none.family = ipv6_addr_v4mapped((struct in6_addr *)k.laddr) ?
			      AF_INET : AF_INET6;
		none.role = oldstate == TCP_SYN_SENT ? TCPTRACE_ROLE_CLIENT :
						       TCPTRACE_ROLE_SERVER;
		c = &none;
	}
	if (outcome == TCPTRACE_HS_FAILED && c->rst_seen)
		outcome = TCPTRACE_HS_RESET;
	tcptrace_hs_fill(&rec, c, outcome);
	if (c != &none)
		tcptrace_release(c);
	spin_unlock_irqrestore(&b->lock, flags);

	rec.sock_cookie = tcptrace_sock_cookie(sk);
	if (outcome == TCPTRACE_HS_ESTABLISHED)
		tcptrace_agreed(&rec, sk);
	tcptrace_ring_emit(&rec.hdr);
}

/* Every second: handshakes that never completed. */
static void tcptrace_conn_scan(struct work_struct *work)
{
	u64 now = ktime_get_ns();
	unsigned int i;
	int w;

	for (i = 0; i < tcptrace_nbuckets; i++) {
		struct tcptrace_bucket *b = &tcptrace_buckets[i];
		struct tcptrace_handshake_rec rec;
		unsigned long flags;

		for (w = 0; w < TCPTRACE_WAYS; w++) {
			struct tcptrace_conn *c = &b->e[w];
			bool emit = false;

			if (!READ_ONCE(c->used))
				continue;
			spin_lock_irqsave(&b->lock, flags);
			if (c->used && now - c->born_ns > tcptrace_hs_timeout_ns) {
				memset(&rec, 0, sizeof(rec));
				tcptrace_hs_fill(&rec, c, TCPTRACE_HS_TIMEOUT);
				tcptrace_release(c);
				emit = true;
			}
			spin_unlock_irqrestore(&b->lock, flags);
			if (emit) {
				atomic64_inc(&tcptrace_timeouts);
				tcptrace_ring_emit(&rec.hdr);
			}
		}
		cond_resched();
	}
	schedule_delayed_work(&tcptrace_scan_work, HZ);
}

void tcptrace_conn_purge(u64 netns_cookie)
{
	unsigned int i;
	int w;

	for (i = 0; i < tcptrace_nbuckets; i++) {
		struct tcptrace_bucket *b = &tcptrace_buckets[i];
		unsigned long flags;

		spin_lock_irqsave(&b->lock, flags);
		for (w = 0; w < TCPTRACE_WAYS; w++)
			if (b->e[w].used &&
			    b->e[w].key.netns_cookie == netns_cookie)
				tcptrace_release(&b->e[w]);
		spin_unlock_irqrestore(&b->lock, flags);
	}
}

void tcptrace_conn_stats(struct tcptrace_stats *st)
{
	st->conn_capacity = (u64)tcptrace_nbuckets * TCPTRACE_WAYS;
	st->conn_in_use = atomic_read(&tcptrace_in_use);
	st->conn_evicted = atomic64_read(&tcptrace_evicted);
	st->conn_timeouts = atomic64_read(&tcptrace_timeouts);
}

int tcptrace_conn_init(unsigned int entries, unsigned int hs_timeout_s)
{
	unsigned int i;

	tcptrace_nbuckets = roundup_pow_of_two(DIV_ROUND_UP(entries,
							    TCPTRACE_WAYS));
	tcptrace_buckets = kvcalloc(tcptrace_nbuckets,
				    sizeof(*tcptrace_buckets), GFP_KERNEL);
	if (!tcptrace_buckets)
		return -ENOMEM;
	for (i = 0; i < tcptrace_nbuckets; i++)
		spin_lock_init(&tcptrace_buckets[i].lock);
	tcptrace_hs_timeout_ns = (u64)hs_timeout_s * NSEC_PER_SEC;
	schedule_delayed_work(&tcptrace_scan_work, HZ);
	return 0;
}

/* Called once nothing can reach the table any more (hooks and probes gone). */
void tcptrace_conn_exit(void)
{
	cancel_delayed_work_sync(&tcptrace_scan_work);
	kvfree(tcptrace_buckets);
	tcptrace_buckets = NULL;
}

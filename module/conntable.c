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
 * An entry lives through three phases: the handshake; ESTABLISHED, when
 * it remembers the peer's TTL so a later RST can be compared with it; and
 * TIME_WAIT, when it watches the kernel's timewait socket for the tuple
 * and reports how TIME_WAIT ended.  The periodic scan also reports SYNs
 * left unanswered and handshakes that never completed.
 *
 * The table is allocated once at load: a fixed number of buckets of
 * TCPTRACE_WAYS entries, so memory is bounded and the packet path never
 * allocates.  A full bucket evicts an entry, oldest established or
 * TIME_WAIT one first (counted).
 */
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/jhash.h>
#include <linux/random.h>
#include <linux/workqueue.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/string.h>
#include <linux/rcupdate.h>
#include <linux/mutex.h>
#include <net/tcp.h>
#include <net/ip.h>
#include <net/inet_sock.h>
#include <net/inet_hashtables.h>
#include <net/inet_timewait_sock.h>
#include <net/inet6_hashtables.h>
#include <net/route.h>
#include <net/addrconf.h>

#include "tcptrace.h"
#include "compat.h"
#include "conntable.h"
#include "packet.h"
#include "options.h"
#include "reasons.h"

#define TCPTRACE_WAYS	4
#define TCPTRACE_SCAN	(HZ / 4)
#define TCPTRACE_SCAN_NS (NSEC_PER_SEC / 4)

enum tcptrace_phase {
	TCPTRACE_HANDSHAKE,
	TCPTRACE_EST,
	TCPTRACE_TW,
};

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
	/*
	 * Valid while the entry is: a dying namespace purges its entries
	 * (pernet exit) before it is freed.
	 */
	const struct net *net;
	u64	born_ns;
	u64	sock_cookie;	/* EST, TW */
	u64	mib_listen;	/* namespace's listen overflows at SYN */
	u64	mib_paws;	/* ... and PAWS rejections */
	u64	rst_ns;		/* EST: when an RST arrived */
	u64	tw_end_ns;	/* TW: when the kernel's timer expires */
	u32	netns_ino;
	u32	drop_reason;	/* kernel drop reason of the SYN, 0: none */
	u8	used;
	u8	phase;		/* enum tcptrace_phase */
	u8	role;
	u8	family;
	u8	rst_seen;
	u8	syn_diag;	/* SYN_UNANSWERED reported */
	u8	peer_ttl;	/* EST: the peer's handshake TTL */
	u8	rst_ttl;	/* EST: the RST's */
	u8	tw_old;		/* TW: state it came from */
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
/*
 * Random, so a remote peer cannot pick tuples that land in the bucket of
 * a connection it wants evicted.
 */
static u32 tcptrace_hash_seed __read_mostly;
static u64 tcptrace_hs_timeout_ns;
static u64 tcptrace_syn_timeout_ns;
static atomic_t tcptrace_in_use = ATOMIC_INIT(0);
static atomic64_t tcptrace_evicted = ATOMIC64_INIT(0);
static atomic64_t tcptrace_timeouts = ATOMIC64_INIT(0);

static void tcptrace_conn_scan(struct work_struct *work);
static DECLARE_DELAYED_WORK(tcptrace_scan_work, tcptrace_conn_scan);
/* The scan against purges: an entry's net pointer outlives a scan pass. */
static DEFINE_MUTEX(tcptrace_scan_mutex);

static bool tcptrace_key_v4(const struct tcptrace_conn_key *k)
{
	return ipv6_addr_v4mapped((const struct in6_addr *)k->laddr);
}

/*
 * Keyed by the random seed and the namespace; an IPv4 tuple's mapped
 * prefixes carry nothing, so it hashes three words, not twelve.
 */
static struct tcptrace_bucket *tcptrace_bucket(const struct tcptrace_conn_key *k)
{
	u32 seed = tcptrace_hash_seed ^ (u32)k->netns_cookie ^
		   (u32)(k->netns_cookie >> 32);
	u32 a, b, h;

	if (tcptrace_key_v4(k) &&
	    ipv6_addr_v4mapped((const struct in6_addr *)k->raddr)) {
		memcpy(&a, k->laddr + 12, 4);
		memcpy(&b, k->raddr + 12, 4);
		h = jhash_3words(a, b, (u32)k->lport << 16 | k->rport, seed);
	} else {
		h = jhash2((const u32 *)k, sizeof(*k) / sizeof(u32), seed);
	}
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

/* Eviction order: lowest first.  Handshakes are kept over the rest. */
static u64 tcptrace_evict_rank(const struct tcptrace_conn *e)
{
	return (u64)(e->phase == TCPTRACE_HANDSHAKE) << 63 | e->born_ns >> 1;
}

/*
 * A free way, else one evicted: the oldest established or TIME_WAIT entry
 * if any (they only add detail), else the oldest handshake.
 */
static struct tcptrace_conn *tcptrace_slot(struct tcptrace_bucket *b)
{
	struct tcptrace_conn *old = NULL, *e;
	int i;

	for (i = 0; i < TCPTRACE_WAYS; i++) {
		e = &b->e[i];
		if (!e->used) {
			atomic_inc(&tcptrace_in_use);
			return e;
		}
		if (!old || tcptrace_evict_rank(e) < tcptrace_evict_rank(old))
			old = e;
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

/* A handshake record from table entry @c. */
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

static u64 tcptrace_mib(const struct net *net, int field)
{
	return snmp_fold_field(net->mib.net_statistics, field);
}

/*
 * The socket, full or timewait, that owns @k's tuple in @net, with a
 * reference (release with sock_gen_put()), or NULL.
 */
static struct sock *tcptrace_lookup(const struct net *net,
				    const struct tcptrace_conn_key *k)
{
	struct inet_hashinfo *h = net->ipv4.tcp_death_row.hashinfo;
	struct net *n = (struct net *)net;
	struct sock *sk = NULL;
	__be32 l4, r4;

	rcu_read_lock();
	if (tcptrace_key_v4(k)) {
		memcpy(&l4, k->laddr + 12, 4);
		memcpy(&r4, k->raddr + 12, 4);
		sk = __inet_lookup_established(n, h, r4, htons(k->rport), l4,
					       k->lport, 0, 0);
	}
#if IS_ENABLED(CONFIG_IPV6)
	else
		sk = __inet6_lookup_established(n, h,
						(const struct in6_addr *)k->raddr,
						htons(k->rport),
						(const struct in6_addr *)k->laddr,
						k->lport, 0, 0);
#endif
	rcu_read_unlock();
	return sk;
}

static void tcptrace_diag_fill(struct tcptrace_diag_rec *d,
			       const struct tcptrace_conn *c, u8 kind, u8 cause)
{
	memset(d, 0, sizeof(*d));
	tcptrace_hdr_init(&d->hdr, TCPTRACE_REC_DIAG, sizeof(*d),
			  TCPTRACE_DIAG_REC_VERSION);
	d->kind = kind;
	d->cause = cause;
	d->sock_cookie = c->sock_cookie;
	d->netns_cookie = c->key.netns_cookie;
	d->netns_ino = c->netns_ino;
	d->family = c->family;
	d->sport = c->key.lport;
	d->dport = c->key.rport;
	tcptrace_put_addr(d->saddr, c->key.laddr, c->family);
	tcptrace_put_addr(d->daddr, c->key.raddr, c->family);
}

/* A state record tcptrace makes for a move the tracepoint cannot see. */
static void tcptrace_synth_state(struct tcptrace_state_rec *r,
				 const struct tcptrace_conn *c, u8 old, u8 new)
{
	memset(r, 0, sizeof(*r));
	tcptrace_hdr_init(&r->hdr, TCPTRACE_REC_STATE, sizeof(*r),
			  TCPTRACE_STATE_REC_VERSION);
	r->sock_cookie = c->sock_cookie;
	r->netns_cookie = c->key.netns_cookie;
	r->netns_ino = c->netns_ino;
	r->family = c->family == AF_INET ? AF_INET : AF_INET6;
	r->sport = c->key.lport;
	r->dport = c->key.rport;
	tcptrace_put_addr(r->saddr, c->key.laddr, r->family);
	tcptrace_put_addr(r->daddr, c->key.raddr, r->family);
	r->old_state = old;
	r->new_state = new;
	r->flags = TCPTRACE_F_SYNTHETIC;
	if (!in_task())
		return;
	r->pid = task_tgid_nr(current);
	r->tid = task_pid_nr(current);
	memcpy(r->comm, current->comm, sizeof(r->comm));
}

/* Is @a (v4-mapped form) an address of this namespace? */
static bool tcptrace_addr_local(const struct net *net, const u8 *a)
{
	struct net *n = (struct net *)net;
	__be32 a4;

	if (ipv6_addr_v4mapped((const struct in6_addr *)a)) {
		memcpy(&a4, a + 12, 4);
		return inet_addr_type(n, a4) == RTN_LOCAL;
	}
#if IS_ENABLED(CONFIG_IPV6)
	return ipv6_chk_addr(n, (const struct in6_addr *)a, NULL, 0);
#else
	return false;
#endif
}

/*
 * Is the local end of @skb's tuple @k this host's?  A packet leaving with a
 * socket was made here, one arriving on loopback is for here; anything
 * else costs a FIB lookup.
 */
static bool tcptrace_pkt_local(const struct net *net,
			       const struct sk_buff *skb,
			       const struct tcptrace_conn_key *k, bool out)
{
	if (out && skb->sk)
		return true;
	if (!out && skb->dev && (skb->dev->flags & IFF_LOOPBACK))
		return true;
	return tcptrace_addr_local(net, k->laddr);
}

/*
 * Did the TCP stack make this RST?  A firewall rule's "reject with tcp
 * reset" forges its source (on a router: another host's address), and on
 * IPv4 sends it with no socket; the stack sends from a local address, on
 * IPv4 through its control socket.
 */
static bool tcptrace_rst_forged(const struct net *net,
				const struct tcptrace_pkt *pkt,
				const struct sk_buff *skb)
{
	if (pkt->family == AF_INET && !skb->sk)
		return true;
	return !tcptrace_addr_local(net, pkt->saddr);
}

/* What this host's RST @skb says, and why it was sent. */
static void tcptrace_rst_out(const struct net *net,
			     const struct tcptrace_pkt *pkt,
			     const struct sk_buff *skb,
			     const struct tcptrace_conn_key *k)
{
	const struct sock *sk = skb->sk;
	struct tcptrace_diag_rec d;
	struct tcptrace_conn c = {};

	c.key = *k;
	c.netns_ino = net->ns.inum;
	c.family = pkt->family;
	tcptrace_diag_fill(&d, &c, TCPTRACE_DIAG_RST_OUT, TCPTRACE_CAUSE_NONE);

	if (tcptrace_rst_forged(net, pkt, skb)) {
		d.cause = TCPTRACE_CAUSE_REJECT;
	} else if (sk && sk_fullsock(sk) && sk->sk_type == SOCK_STREAM &&
		   sk->sk_protocol == IPPROTO_TCP) {
		/* sent by the socket itself: an abort */
		d.sock_cookie = tcptrace_sock_cookie(sk);
		d.state = sk->sk_state;
		d.cause = sock_flag(sk, SOCK_LINGER) && !sk->sk_lingertime ?
			  TCPTRACE_CAUSE_LINGER : TCPTRACE_CAUSE_ABORT;
	} else if (pkt->flags & TCPTRACE_TH_ACK) {
		/* answers a segment without ACK, a SYN: nobody listens */
		d.cause = TCPTRACE_CAUSE_NO_SOCKET;
	} else {
		/* answers a segment with ACK: whose connection is it? */
		struct sock *owner = tcptrace_lookup(net, k);

		if (owner) {
			d.state = owner->sk_state;
			if (sk_fullsock(owner))
				d.sock_cookie = tcptrace_sock_cookie(owner);
			d.cause = TCPTRACE_CAUSE_BAD_SEGMENT;
			sock_gen_put(owner);
		} else {
			d.cause = TCPTRACE_CAUSE_HALF_OPEN;
		}
	}
	tcptrace_ring_emit(&d.hdr);
}

static void tcptrace_tw_end(struct tcptrace_conn *c, u8 cause, u64 now)
{
	struct tcptrace_state_rec st;
	struct tcptrace_diag_rec d;

	tcptrace_synth_state(&st, c, TCP_TIME_WAIT, TCP_CLOSE);
	tcptrace_diag_fill(&d, c, TCPTRACE_DIAG_TIME_WAIT_END, cause);
	d.state = TCP_TIME_WAIT;
	d.duration_ns = now - c->born_ns;
	tcptrace_ring_emit(&st.hdr);
	tcptrace_ring_emit(&d.hdr);
}

static void tcptrace_conn_start(struct tcptrace_conn *c,
				const struct tcptrace_conn_key *k,
				const struct net *net,
				const struct tcptrace_pkt *pkt, bool out)
{
	memset(c, 0, sizeof(*c));
	c->key = *k;
	c->net = net;
	c->used = 1;
	c->phase = TCPTRACE_HANDSHAKE;
	c->born_ns = ktime_get_ns();
	c->netns_ino = net->ns.inum;
	c->family = pkt->family;
	c->role = out ? TCPTRACE_ROLE_CLIENT : TCPTRACE_ROLE_SERVER;
	c->syn = pkt->opts;
	c->syn.seen_ns = c->born_ns;
	if (c->role == TCPTRACE_ROLE_SERVER) {
		c->mib_listen = tcptrace_mib(net, LINUX_MIB_LISTENOVERFLOWS);
		c->mib_paws = tcptrace_mib(net, LINUX_MIB_PAWSESTABREJECTED) +
			      tcptrace_mib(net, LINUX_MIB_PAWSACTIVEREJECTED);
	}
}

void tcptrace_conn_packet(const struct net *net, const struct tcptrace_pkt *pkt,
			  const struct sk_buff *skb, bool out)
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

	if ((f & TCPTRACE_TH_RST) && out)
		tcptrace_rst_out(net, pkt, skb, &k);
	/*
	 * Handshakes of this host's own sockets only: a router forwarding
	 * a SYN is not a server.
	 */
	if ((f & TCPTRACE_TH_SYN) && !tcptrace_pkt_local(net, skb, &k, out))
		return;

	spin_lock_irqsave(&b->lock, flags);
	c = tcptrace_find(b, &k);
	if ((f & (TCPTRACE_TH_SYN | TCPTRACE_TH_ACK)) == TCPTRACE_TH_SYN) {
		if (c && c->phase == TCPTRACE_HANDSHAKE) {
			c->syn_retrans++;
		} else {
			if (c && c->phase == TCPTRACE_TW) {
				/* a new connection takes the tuple over */
				tcptrace_tw_end(c, TCPTRACE_CAUSE_REUSED,
						ktime_get_ns());
			} else if (!c) {
				c = tcptrace_slot(b);
			}
			tcptrace_conn_start(c, &k, net, pkt, out);
		}
	} else if (f & TCPTRACE_TH_SYN) {
		if (c && c->phase == TCPTRACE_HANDSHAKE) {
			if (c->synack.seen_ns) {
				c->synack_retrans++;
			} else {
				c->synack = pkt->opts;
				c->synack.seen_ns = ktime_get_ns();
			}
		}
	} else if (c && c->phase == TCPTRACE_EST && !out) {
		/* for tcptrace_conn_rst_in(), when the socket accepts it */
		c->rst_ttl = pkt->opts.ttl;
		c->rst_ns = ktime_get_ns();
	} else if (c && c->phase == TCPTRACE_HANDSHAKE && !c->rst_seen) {
		/*
		 * RST during a handshake.  A server's end has no socket yet
		 * (RST to a closed port, or the client aborting): emit now.  A
		 * client's socket will go SYN_SENT -> CLOSE: remember the RST
		 * for that.
		 */
		if (c->role == TCPTRACE_ROLE_SERVER) {
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

/* The connection's totals as its socket closes. */
static void tcptrace_conn_totals(const struct sock *sk, int oldstate,
				 const struct tcptrace_conn_key *k)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	struct tcptrace_conn_rec r = {};

	if (!tcptrace_wants(TCPTRACE_REC_CONN))
		return;
	tcptrace_hdr_init(&r.hdr, TCPTRACE_REC_CONN, sizeof(r),
			  TCPTRACE_CONN_REC_VERSION);
	r.sock_cookie = tcptrace_sock_cookie(sk);
	r.netns_cookie = k->netns_cookie;
	r.netns_ino = sock_net(sk)->ns.inum;
	r.family = sk->sk_family;
	r.old_state = oldstate;
	r.sport = k->lport;
	r.dport = k->rport;
	if (sk->sk_family == AF_INET) {
		memcpy(r.saddr, k->laddr + 12, 4);
		memcpy(r.daddr, k->raddr + 12, 4);
	} else {
		memcpy(r.saddr, k->laddr, 16);
		memcpy(r.daddr, k->raddr, 16);
	}
	r.total_retrans = tp->total_retrans;
	/* the kernel's counters are sequence space: take out the FIN */
	r.bytes_sent = tp->bytes_sent - tp->bytes_retrans;
	r.bytes_received = tp->bytes_received -
			   (sock_flag(sk, SOCK_DONE) ? 1 : 0);
	r.segs_out = tp->segs_out;
	r.segs_in = tp->segs_in;
	r.cgroup_id = tcptrace_sk_cgroup_id(sk);
	tcptrace_ring_emit(&r.hdr);
}

/*
 * An active closer's socket goes to CLOSE when the kernel hands the
 * connection to a timewait socket.  Does one own the tuple now?  Returns
 * the jiffies it has left, or -1.
 */
long tcptrace_conn_tw_left(const struct sock *sk)
{
	struct tcptrace_conn_key k;
	struct sock *tw;
	long left = -1;

	tcptrace_sk_key(sk, &k);
	tw = tcptrace_lookup(sock_net(sk), &k);
	if (!tw)
		return -1;
	if (tw->sk_state == TCP_TIME_WAIT)
		left = max((long)inet_twsk(tw)->tw_timer.expires - (long)jiffies,
			   0L);
	sock_gen_put(tw);
	return left;
}

/* The connection went into TIME_WAIT: watch it, and say so. */
static void tcptrace_enter_tw(const struct sock *sk, int oldstate, long left,
			      struct tcptrace_bucket *b, struct tcptrace_conn *c,
			      const struct tcptrace_conn_key *k)
{
	const struct net *net = sock_net(sk);
	struct tcptrace_diag_rec d;
	unsigned long flags;

	spin_lock_irqsave(&b->lock, flags);
	if (!c || !c->used || memcmp(&c->key, k, sizeof(*k))) {
		c = tcptrace_slot(b);
		memset(c, 0, sizeof(*c));
		c->key = *k;
		c->used = 1;
		c->family = tcptrace_key_v4(k) ? AF_INET : AF_INET6;
		c->netns_ino = net->ns.inum;
	}
	c->net = net;
	c->phase = TCPTRACE_TW;
	c->tw_old = oldstate;
	c->sock_cookie = tcptrace_sock_cookie(sk);
	c->born_ns = ktime_get_ns();
	c->tw_end_ns = c->born_ns + jiffies_to_nsecs(left);
	tcptrace_diag_fill(&d, c, TCPTRACE_DIAG_TIME_WAIT, TCPTRACE_CAUSE_NONE);
	d.state = oldstate;
	d.duration_ns = c->tw_end_ns - c->born_ns;
	spin_unlock_irqrestore(&b->lock, flags);
	tcptrace_ring_emit(&d.hdr);
}

static void tcptrace_simple_diag(const struct sock *sk,
				 const struct tcptrace_conn_key *k, u8 kind)
{
	struct tcptrace_diag_rec d;
	struct tcptrace_conn c = {};

	c.key = *k;
	c.netns_ino = sock_net(sk)->ns.inum;
	c.family = tcptrace_key_v4(k) ? AF_INET : AF_INET6;
	c.sock_cookie = tcptrace_sock_cookie(sk);
	tcptrace_diag_fill(&d, &c, kind, TCPTRACE_CAUSE_NONE);
	d.state = sk->sk_state;
	tcptrace_ring_emit(&d.hdr);
}

static void tcptrace_handshake_done(const struct sock *sk, int oldstate,
				    u8 outcome, struct tcptrace_bucket *b,
				    const struct tcptrace_conn_key *k)
{
	struct tcptrace_handshake_rec rec = {};
	struct tcptrace_diag_rec d;
	struct tcptrace_conn *c, none = {};
	bool no_synack = false;
	unsigned long flags;

	spin_lock_irqsave(&b->lock, flags);
	c = tcptrace_find(b, k);
	if (c && c->phase != TCPTRACE_HANDSHAKE)
		c = NULL;	/* a stale entry of an earlier connection */
	if (!c) {
		/* handshake began before load, or its entry was evicted */
		none.key = *k;
		none.netns_ino = sock_net(sk)->ns.inum;
		none.family = tcptrace_key_v4(k) ? AF_INET : AF_INET6;
		none.role = oldstate == TCP_SYN_SENT ? TCPTRACE_ROLE_CLIENT :
						       TCPTRACE_ROLE_SERVER;
		c = &none;
	}
	if (outcome == TCPTRACE_HS_FAILED && c->rst_seen)
		outcome = TCPTRACE_HS_RESET;
	tcptrace_hs_fill(&rec, c, outcome);
	rec.sock_cookie = tcptrace_sock_cookie(sk);
	if (outcome == TCPTRACE_HS_FAILED && c != &none &&
	    !c->synack.seen_ns) {
		/* the client gave up: nothing ever came back */
		no_synack = true;
		c->sock_cookie = rec.sock_cookie;
		tcptrace_diag_fill(&d, c, TCPTRACE_DIAG_NO_SYNACK,
				   TCPTRACE_CAUSE_UNANSWERED);
		d.state = TCP_SYN_SENT;
		d.count = c->syn_retrans + 1;
		d.duration_ns = rec.done_ns - c->born_ns;
	}
	if (c != &none) {
		if (outcome == TCPTRACE_HS_ESTABLISHED) {
			/* keep it: a later RST is compared with the peer */
			c->phase = TCPTRACE_EST;
			c->sock_cookie = rec.sock_cookie;
			c->peer_ttl = c->role == TCPTRACE_ROLE_CLIENT ?
				      c->synack.ttl : c->syn.ttl;
		} else {
			tcptrace_release(c);
		}
	}
	spin_unlock_irqrestore(&b->lock, flags);

	if (outcome == TCPTRACE_HS_ESTABLISHED)
		tcptrace_agreed(&rec, sk);
	tcptrace_ring_emit(&rec.hdr);
	if (no_synack)
		tcptrace_ring_emit(&d.hdr);
}

/*
 * The transitions the table acts on.  The others (half of a connection's:
 * FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, a server's new socket) cost
 * no key and no hash.
 */
static bool tcptrace_conn_cares(int oldstate, int newstate)
{
	switch (newstate) {
	case TCP_ESTABLISHED:
		return oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV;
	case TCP_SYN_RECV:
		return oldstate == TCP_SYN_SENT;	/* simultaneous open */
	case TCP_CLOSING:
		return oldstate == TCP_FIN_WAIT1;	/* simultaneous close */
	case TCP_CLOSE:
		return oldstate != TCP_LISTEN;
	}
	return false;
}

void tcptrace_conn_state(const struct sock *sk, int oldstate, int newstate,
			 long tw_left)
{
	struct tcptrace_conn_key k;
	struct tcptrace_bucket *b;
	struct tcptrace_conn *c;
	unsigned long flags;

	if (!tcptrace_conn_cares(oldstate, newstate))
		return;
	tcptrace_sk_key(sk, &k);
	b = tcptrace_bucket(&k);

	if (newstate == TCP_ESTABLISHED &&
	    (oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV)) {
		tcptrace_handshake_done(sk, oldstate, TCPTRACE_HS_ESTABLISHED,
					b, &k);
		return;
	}
	if (newstate == TCP_SYN_RECV && oldstate == TCP_SYN_SENT) {
		tcptrace_simple_diag(sk, &k, TCPTRACE_DIAG_SIM_OPEN);
		return;
	}
	if (newstate == TCP_CLOSING && oldstate == TCP_FIN_WAIT1) {
		tcptrace_simple_diag(sk, &k, TCPTRACE_DIAG_SIM_CLOSE);
		return;
	}
	if (oldstate == TCP_SYN_SENT) {
		/* the handshake's end first: the totals close the story */
		tcptrace_handshake_done(sk, oldstate, TCPTRACE_HS_FAILED, b, &k);
		tcptrace_conn_totals(sk, oldstate, &k);
		return;
	}
	tcptrace_conn_totals(sk, oldstate, &k);
	spin_lock_irqsave(&b->lock, flags);
	c = tcptrace_find(b, &k);
	if (c && c->phase != TCPTRACE_EST)
		c = NULL;
	spin_unlock_irqrestore(&b->lock, flags);
	if (tw_left >= 0) {
		tcptrace_enter_tw(sk, oldstate, tw_left, b, c, &k);
		return;
	}
	if (c) {
		spin_lock_irqsave(&b->lock, flags);
		if (c->used && c->phase == TCPTRACE_EST &&
		    !memcmp(&c->key, &k, sizeof(k)))
			tcptrace_release(c);
		spin_unlock_irqrestore(&b->lock, flags);
	}
}

void tcptrace_conn_rst_in(const struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	struct tcptrace_conn_key k;
	struct tcptrace_diag_rec d;
	struct tcptrace_bucket *b;
	struct tcptrace_conn *c, none = {};
	unsigned long flags;
	u64 now = ktime_get_ns();

	tcptrace_sk_key(sk, &k);
	b = tcptrace_bucket(&k);
	none.key = k;
	none.netns_ino = sock_net(sk)->ns.inum;
	none.family = tcptrace_key_v4(&k) ? AF_INET : AF_INET6;
	none.sock_cookie = tcptrace_sock_cookie(sk);

	spin_lock_irqsave(&b->lock, flags);
	c = tcptrace_find(b, &k);
	tcptrace_diag_fill(&d, c ? c : &none, TCPTRACE_DIAG_RST_IN,
			   TCPTRACE_CAUSE_NONE);
	d.sock_cookie = none.sock_cookie;
	if (c && c->phase == TCPTRACE_EST && c->rst_ns &&
	    now - c->rst_ns < NSEC_PER_SEC) {
		d.ttl_seen = c->rst_ttl;
		d.ttl_expected = c->peer_ttl;
		if (c->rst_ttl != c->peer_ttl)
			d.flags |= TCPTRACE_DF_MIDDLEBOX;
	}
	spin_unlock_irqrestore(&b->lock, flags);

	d.state = sk->sk_state;
	/* RST in answer to our unacknowledged data: the peer lost us */
	if (sk->sk_state == TCP_ESTABLISHED && tp->snd_una != tp->snd_nxt)
		d.cause = TCPTRACE_CAUSE_HALF_OPEN;
	tcptrace_ring_emit(&d.hdr);
}

void tcptrace_conn_dropped(const struct sk_buff *skb, unsigned int reason)
{
	struct tcptrace_conn_key k = {};
	struct tcptrace_bucket *b;
	struct tcptrace_conn *c;
	struct tcptrace_pkt pkt;
	unsigned long flags;
	u8 family;

	if (!skb->dev)
		return;
	if (skb->protocol == htons(ETH_P_IP))
		family = AF_INET;
	else if (skb->protocol == htons(ETH_P_IPV6))
		family = AF_INET6;
	else
		return;
	if (!tcptrace_parse_skb(skb, family, &pkt) ||
	    (pkt.flags & (TCPTRACE_TH_SYN | TCPTRACE_TH_ACK)) != TCPTRACE_TH_SYN)
		return;
	/* an incoming SYN: the server's entry */
	k.netns_cookie = tcptrace_net_cookie(dev_net(skb->dev));
	memcpy(k.laddr, pkt.daddr, 16);
	memcpy(k.raddr, pkt.saddr, 16);
	k.lport = pkt.dport;
	k.rport = pkt.sport;
	b = tcptrace_bucket(&k);
	spin_lock_irqsave(&b->lock, flags);
	c = tcptrace_find(b, &k);
	if (c && c->phase == TCPTRACE_HANDSHAKE &&
	    c->role == TCPTRACE_ROLE_SERVER && !c->drop_reason)
		c->drop_reason = reason;
	spin_unlock_irqrestore(&b->lock, flags);
}

/* Why did this server end send nothing back?  Best reason we have. */
static void tcptrace_syn_unanswered(struct tcptrace_diag_rec *d,
				    const struct tcptrace_conn *c, u64 now)
{
	u64 paws;

	tcptrace_diag_fill(d, c, TCPTRACE_DIAG_SYN_UNANSWERED,
			   TCPTRACE_CAUSE_UNANSWERED);
	d->duration_ns = now - c->born_ns;
	d->count = c->syn_retrans + 1;
	paws = tcptrace_mib(c->net, LINUX_MIB_PAWSESTABREJECTED) +
	       tcptrace_mib(c->net, LINUX_MIB_PAWSACTIVEREJECTED);
	if (c->drop_reason) {
		d->cause = TCPTRACE_CAUSE_DROP_REASON;
		d->reason_code = c->drop_reason;
		tcptrace_drop_reason_name(c->drop_reason, d->reason,
					  sizeof(d->reason));
	} else if (tcptrace_mib(c->net, LINUX_MIB_LISTENOVERFLOWS) !=
		   c->mib_listen) {
		d->cause = TCPTRACE_CAUSE_LISTEN_OVERFLOW;
	} else if (paws != c->mib_paws) {
		d->cause = TCPTRACE_CAUSE_PAWS;
	}
}

/* How did the TIME_WAIT of @c end, if it did?  0: it goes on. */
static u8 tcptrace_tw_check(const struct tcptrace_conn *c, u64 now)
{
	struct sock *sk = tcptrace_lookup(c->net, &c->key);
	u8 cause = 0;

	if (!sk)
		return now + TCPTRACE_SCAN_NS >= c->tw_end_ns ?
		       TCPTRACE_CAUSE_EXPIRED : TCPTRACE_CAUSE_KILLED;
	if (sk->sk_state != TCP_TIME_WAIT ||
	    atomic64_read(&sk->sk_cookie) != c->sock_cookie)
		cause = TCPTRACE_CAUSE_REUSED;
	sock_gen_put(sk);
	return cause;
}

/*
 * TIME_WAIT entries: the lookup runs outside the bucket lock (it may drop
 * the last reference of a socket); the entry is ended only if it is still
 * the same one.  c->net stays valid: purges wait for the scan.
 */
static void tcptrace_scan_tw(struct tcptrace_bucket *b, struct tcptrace_conn *c,
			     u64 now)
{
	struct tcptrace_conn copy;
	unsigned long flags;
	u8 cause;

	spin_lock_irqsave(&b->lock, flags);
	if (!c->used || c->phase != TCPTRACE_TW || c->born_ns > now) {
		spin_unlock_irqrestore(&b->lock, flags);
		return;
	}
	copy = *c;
	spin_unlock_irqrestore(&b->lock, flags);

	cause = tcptrace_tw_check(&copy, now);
	if (!cause)
		return;
	spin_lock_irqsave(&b->lock, flags);
	if (c->used && c->phase == TCPTRACE_TW && c->born_ns == copy.born_ns &&
	    !memcmp(&c->key, &copy.key, sizeof(copy.key))) {
		tcptrace_tw_end(c, cause, now);
		tcptrace_release(c);
	}
	spin_unlock_irqrestore(&b->lock, flags);
}

/* A handshake entry's checks, under its bucket's lock. */
static int tcptrace_scan_hs(struct tcptrace_conn *c, u64 now,
			    struct tcptrace_handshake_rec *rec,
			    struct tcptrace_diag_rec *d)
{
	/* an entry made on another CPU since the scan began is not due */
	if (!c->used || c->phase != TCPTRACE_HANDSHAKE || c->born_ns > now)
		return 0;
	if (now - c->born_ns > tcptrace_hs_timeout_ns) {
		memset(rec, 0, sizeof(*rec));
		tcptrace_hs_fill(rec, c, TCPTRACE_HS_TIMEOUT);
		tcptrace_release(c);
		return 1;
	}
	if (c->role == TCPTRACE_ROLE_SERVER && !c->syn_diag &&
	    !c->synack.seen_ns && now - c->born_ns >= tcptrace_syn_timeout_ns) {
		c->syn_diag = 1;
		tcptrace_syn_unanswered(d, c, now);
		return 2;
	}
	return 0;
}

/* A few times a second: time-outs, unanswered SYNs, ends of TIME_WAIT. */
static void tcptrace_conn_scan(struct work_struct *work)
{
	struct tcptrace_handshake_rec rec;
	struct tcptrace_diag_rec d;
	u64 now = ktime_get_ns();
	unsigned int i;
	int w, what;

	mutex_lock(&tcptrace_scan_mutex);
	for (i = 0; i < tcptrace_nbuckets; i++) {
		struct tcptrace_bucket *b = &tcptrace_buckets[i];
		unsigned long flags;

		for (w = 0; w < TCPTRACE_WAYS; w++) {
			struct tcptrace_conn *c = &b->e[w];

			if (!READ_ONCE(c->used))
				continue;
			if (READ_ONCE(c->phase) == TCPTRACE_TW) {
				tcptrace_scan_tw(b, c, now);
				continue;
			}
			spin_lock_irqsave(&b->lock, flags);
			what = tcptrace_scan_hs(c, now, &rec, &d);
			spin_unlock_irqrestore(&b->lock, flags);
			if (what == 1) {
				atomic64_inc(&tcptrace_timeouts);
				tcptrace_ring_emit(&rec.hdr);
			} else if (what == 2) {
				tcptrace_ring_emit(&d.hdr);
			}
		}
		if (!(i % 64))
			cond_resched();
	}
	mutex_unlock(&tcptrace_scan_mutex);
	schedule_delayed_work(&tcptrace_scan_work, TCPTRACE_SCAN);
}

void tcptrace_conn_purge(u64 netns_cookie)
{
	unsigned int i;
	int w;

	mutex_lock(&tcptrace_scan_mutex);
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
	mutex_unlock(&tcptrace_scan_mutex);
}

void tcptrace_conn_stats(struct tcptrace_stats *st)
{
	st->conn_capacity = (u64)tcptrace_nbuckets * TCPTRACE_WAYS;
	st->conn_in_use = atomic_read(&tcptrace_in_use);
	st->conn_evicted = atomic64_read(&tcptrace_evicted);
	st->conn_timeouts = atomic64_read(&tcptrace_timeouts);
}

int tcptrace_conn_init(unsigned int entries, unsigned int hs_timeout_s,
		       unsigned int syn_timeout_ms)
{
	unsigned int i;

	tcptrace_hash_seed = get_random_u32();
	tcptrace_nbuckets = roundup_pow_of_two(DIV_ROUND_UP(entries,
							    TCPTRACE_WAYS));
	tcptrace_buckets = kvcalloc(tcptrace_nbuckets,
				    sizeof(*tcptrace_buckets), GFP_KERNEL);
	if (!tcptrace_buckets)
		return -ENOMEM;
	for (i = 0; i < tcptrace_nbuckets; i++)
		spin_lock_init(&tcptrace_buckets[i].lock);
	tcptrace_hs_timeout_ns = (u64)hs_timeout_s * NSEC_PER_SEC;
	tcptrace_syn_timeout_ns = (u64)syn_timeout_ms * NSEC_PER_MSEC;
	schedule_delayed_work(&tcptrace_scan_work, TCPTRACE_SCAN);
	return 0;
}

/* Called once nothing can reach the table any more (hooks and probes gone). */
void tcptrace_conn_exit(void)
{
	cancel_delayed_work_sync(&tcptrace_scan_work);
	kvfree(tcptrace_buckets);
	tcptrace_buckets = NULL;
}

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
 * left unanswered and handshakes that never completed.  Established
 * entries, and entries of flows a namespace forwards, also count the
 * drops of their packets (see tcptrace_dd_count()).
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
#include <linux/percpu.h>
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
/*
 * The TIME_WAIT entries of a window of the table's buckets are looked up
 * in each scan even though nothing is due, the window moving on by its
 * size each time: a socket that ended early (killed) is found within
 * TCPTRACE_SCAN_TW_ROUND scans (8 s), and a table of 100k TIME_WAIT
 * entries costs about 100k / 32 lookups a scan, not 100k.  Entries due
 * to expire, taken over by a new SYN or still an orphaned FIN_WAIT2 are
 * looked up every scan.
 */
#define TCPTRACE_SCAN_TW_ROUND	32
#define TCPTRACE_SCAN_TW_WINDOW_MIN	256
/* A SYN from the peer of our own SYN_SENT socket: a simultaneous open. */
#define TCPTRACE_SYN_SIM_OPEN	0xff

enum tcptrace_phase {
	TCPTRACE_HANDSHAKE,
	TCPTRACE_EST,
	TCPTRACE_TW,
	TCPTRACE_FWD,	/* a forwarded flow's drops: source first in the key */
};

/*
 * An episode of drops ends once none came for TCPTRACE_DD_QUIET_NS, or
 * TCPTRACE_DD_MAX_NS after its first, or with its connection.
 */
#define TCPTRACE_DD_QUIET_NS	NSEC_PER_SEC
#define TCPTRACE_DD_MAX_NS	(5 * NSEC_PER_SEC)

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
	u64	tw_sk_cookie;	/* TW: the timewait socket's */
	u64	cgroup_id;	/* the socket's, or the listener's, cgroup */
	u64	rst_ns;		/* EST: when an RST arrived */
	u64	tw_end_ns;	/* TW: when the kernel's timer expires */
	u32	netns_ino;
	u32	drop_reason;	/* kernel drop reason of the SYN, 0: none */
	int	bound_dev_if;	/* TW: the socket's device (VRF, scope) */
	int	syn_iif;	/* server: the interface the SYN came in on */
	u8	used;
	u8	phase;		/* enum tcptrace_phase */
	u8	role;
	u8	family;
	u8	rst_seen;
	u8	syn_diag;	/* SYN_UNANSWERED reported */
	u8	peer_ttl;	/* EST: the peer's handshake TTL */
	u8	rst_ttl;	/* EST: the RST's */
	u8	tw_old;		/* TW: state it came from */
	u8	tw_fw2;		/* TW: still an orphaned FIN_WAIT2 */
	u8	tw_taken;	/* TW: its socket let a new SYN take over */
	u8	pre_in;		/* server: SYNs seen only dropped, before LOCAL_IN */
	u8	no_listener;	/* server: nothing listens: an RST, or nothing */
	u8	queues_full;	/* server: TCPTRACE_Q_* a SYN met at the listener */
	u8	syn_cause;	/* server: a SYN the kernel will not answer */
	u8	syn_state;	/* ... because of a socket in this state */
	u8	dd_made;	/* EST: made for drops, no handshake seen */
	u16	syn_retrans;
	u16	synack_retrans;
	/*
	 * EST, FWD: an episode of drops; dd_count 0: none.  dd_reason: its
	 * first drop's, dd_other: drops for other reasons in it.
	 */
	u32	dd_count;
	u32	dd_other;
	u32	dd_reason;
	u64	dd_first_ns;
	u64	dd_last_ns;
	int	dd_iif;
	int	dd_oif;		/* FWD: the route's device, and its MTU */
	u32	dd_mtu;
	struct tcptrace_tcpopts syn;
	struct tcptrace_tcpopts synack;
};

struct tcptrace_bucket {
	raw_spinlock_t		lock;	/* protects e[]; never sleeps, on RT too */
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
static void tcptrace_sk_key(const struct sock *sk, struct tcptrace_conn_key *k);
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

/*
 * The entry of @k's tuple in @phase.  A tuple can have two: its TIME_WAIT
 * and a new handshake that the kernel may or may not let take it over.
 */
static struct tcptrace_conn *tcptrace_find(struct tcptrace_bucket *b,
					   const struct tcptrace_conn_key *k,
					   u8 phase)
{
	int i;

	for (i = 0; i < TCPTRACE_WAYS; i++)
		if (b->e[i].used && b->e[i].phase == phase &&
		    !memcmp(&b->e[i].key, k, sizeof(*k)))
			return &b->e[i];
	return NULL;
}

/* Eviction order: lowest first.  Handshakes are kept over the rest. */
static u64 tcptrace_evict_rank(const struct tcptrace_conn *e)
{
	return (u64)(e->phase == TCPTRACE_HANDSHAKE) << 63 | e->born_ns >> 1;
}

/*
 * A free way, else one evicted: the oldest established, TIME_WAIT or
 * forwarded flow's entry if any (they only add detail), else the oldest
 * handshake, unless @spare_handshakes (then NULL).
 */
static struct tcptrace_conn *tcptrace_slot_pick(struct tcptrace_bucket *b,
						bool spare_handshakes)
{
	struct tcptrace_conn *old = NULL, *e;
	int i;

	for (i = 0; i < TCPTRACE_WAYS; i++) {
		e = &b->e[i];
		if (!e->used) {
			atomic_inc(&tcptrace_in_use);
			return e;
		}
		if (spare_handshakes && e->phase == TCPTRACE_HANDSHAKE)
			continue;
		if (!old || tcptrace_evict_rank(e) < tcptrace_evict_rank(old))
			old = e;
	}
	if (old)
		atomic64_inc(&tcptrace_evicted);
	return old;
}

static struct tcptrace_conn *tcptrace_slot(struct tcptrace_bucket *b)
{
	return tcptrace_slot_pick(b, false);
}

/*
 * The same, but NULL rather than evict a handshake: drops never push out
 * what a SYN's diagnosis needs.
 */
static struct tcptrace_conn *tcptrace_slot_minor(struct tcptrace_bucket *b)
{
	return tcptrace_slot_pick(b, true);
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
	r->cgroup_id = c->cgroup_id;
}

/*
 * The socket, full, request or timewait, that owns @k's tuple in @net,
 * with a reference (release with sock_gen_put()), or NULL.  @dif and
 * @sdif as in the kernel's own receive path: a socket bound to a device
 * or a VRF matches only through them.
 */
static struct sock *tcptrace_lookup(const struct net *net,
				    const struct tcptrace_conn_key *k,
				    int dif, int sdif)
{
	struct inet_hashinfo *h = net->ipv4.tcp_death_row.hashinfo;
	struct net *n = (struct net *)net;
	struct sock *sk = NULL;
	__be32 l4, r4;

	rcu_read_lock();
	if (tcptrace_key_v4(k)) {
		memcpy(&l4, k->laddr + 12, 4);
		memcpy(&r4, k->raddr + 12, 4);
		sk = tcptrace_lookup_est4(n, h, r4, htons(k->rport), l4,
					  k->lport, dif, sdif);
	}
#if IS_ENABLED(CONFIG_IPV6)
	else
		sk = tcptrace_lookup_est6(n, h,
					  (const struct in6_addr *)k->raddr,
					  htons(k->rport),
					  (const struct in6_addr *)k->laddr,
					  k->lport, dif, sdif);
#endif
	rcu_read_unlock();
	return sk;
}

/*
 * Full queues of a listener, as tcp_conn_request() will find them, in
 * the order it looks: the SYN queue (with SYN cookies off), the accept
 * queue, then (cookies off again) the namespace's SYN backlog.
 */
#define TCPTRACE_Q_SYN		0x01	/* SYN queue full, no SYN cookies */
#define TCPTRACE_Q_ACCEPT	0x02	/* accept queue: a listen overflow */
#define TCPTRACE_Q_BACKLOG	0x04	/* tcp_max_syn_backlog 3/4 used */

/*
 * Does a listener of @net take SYNs for @k's tuple, as the kernel's own
 * receive path would find it?  (The answer is no for a SYN that IPVS or
 * a NAT rule took elsewhere, or a closed port.)
 */
static bool tcptrace_listener(const struct net *net,
			      const struct tcptrace_conn_key *k,
			      int dif, int sdif, u64 *cgroup_id,
			      u8 *queues_full)
{
	struct inet_hashinfo *h = net->ipv4.tcp_death_row.hashinfo;
	struct net *n = (struct net *)net;
	struct sock *sk = NULL;
	__be32 l4, r4;

	rcu_read_lock();
	if (tcptrace_key_v4(k)) {
		memcpy(&l4, k->laddr + 12, 4);
		memcpy(&r4, k->raddr + 12, 4);
		sk = tcptrace_lookup_listener4(n, h, r4, htons(k->rport), l4,
					       k->lport, dif, sdif);
	}
#if IS_ENABLED(CONFIG_IPV6)
	else
		sk = tcptrace_lookup_listener6(n, h,
					       (const struct in6_addr *)k->raddr,
					       htons(k->rport),
					       (const struct in6_addr *)k->laddr,
					       k->lport, dif, sdif);
#endif
	/* listeners are freed after an RCU grace period */
	if (IS_ERR_OR_NULL(sk)) {
		rcu_read_unlock();
		return false;
	}
	*cgroup_id = tcptrace_sk_cgroup_id(sk);
	/*
	 * TCP drops a SYN to a listener whose accept queue is full (and
	 * counts a listen overflow): this listener's queue, not a
	 * namespace-wide counter that any other listener moves.  With SYN
	 * cookies off it also drops one that finds the SYN queue full, or
	 * the namespace's SYN backlog three quarters full (for a peer not
	 * proven by an earlier connection; this cannot tell: best evidence).
	 */
	*queues_full = sk_acceptq_is_full(sk) ? TCPTRACE_Q_ACCEPT : 0;
	if (!READ_ONCE(net->ipv4.sysctl_tcp_syncookies)) {
		int max = READ_ONCE(net->ipv4.sysctl_max_syn_backlog);

		if (inet_csk_reqsk_queue_is_full(sk))
			*queues_full |= TCPTRACE_Q_SYN;
		if (max - inet_csk_reqsk_queue_len(sk) < (max >> 2))
			*queues_full |= TCPTRACE_Q_BACKLOG;
	}
	rcu_read_unlock();
	return true;
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
	d->cgroup_id = c->cgroup_id;
}

/*
 * The episode of drops of @c as a record in @d, if it has one, and end
 * it; an entry made for them alone is let go.  Under the bucket's lock;
 * tcptrace_dd_emit() @d after it.
 */
static bool tcptrace_dd_take(struct tcptrace_conn *c,
			     struct tcptrace_diag_rec *d)
{
	if (!c->dd_count)
		return false;
	tcptrace_diag_fill(d, c, c->phase == TCPTRACE_FWD ?
			   TCPTRACE_DIAG_FWD_DROPPED :
			   TCPTRACE_DIAG_DATA_DROPPED,
			   TCPTRACE_CAUSE_DROP_REASON);
	d->count = c->dd_count;
	d->count_other = c->dd_other;
	d->duration_ns = c->dd_last_ns - c->dd_first_ns;
	d->in_ifindex = c->dd_iif;
	d->out_ifindex = c->dd_oif;
	d->mtu = c->dd_mtu;
	d->reason_code = c->dd_reason;
	c->dd_count = 0;
	c->dd_other = 0;
	if (c->phase == TCPTRACE_FWD || c->dd_made)
		tcptrace_release(c);
	return true;
}

/* Name @d's reason (outside the lock) and emit it. */
static void tcptrace_dd_emit(struct tcptrace_diag_rec *d)
{
	tcptrace_drop_reason_name(d->reason_code, d->reason,
				  sizeof(d->reason));
	tcptrace_ring_emit(&d->hdr);
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
	r->cgroup_id = c->cgroup_id;
	tcptrace_task_ident(r);
}

/*
 * May an entry of @net be made?  Not once the namespace is dying: its
 * pernet exit purges its entries after an RCU grace period, which waits
 * for every probe and hook that saw it alive, and none sees it alive
 * after (its count stays 0).  Sockets of a dying namespace still change
 * state; they make records, not entries.
 */
static bool tcptrace_net_live(const struct net *net)
{
	return check_net(net);
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
 * The interface indexes a socket lookup for packet @skb, through @dev,
 * needs: arriving, exactly those TCP's own receive path uses; leaving,
 * the device's and its VRF's.
 */
static void tcptrace_dev_ifs(const struct sk_buff *skb,
			     const struct net_device *dev, bool out,
			     int *dif, int *sdif)
{
	if (!out && skb && skb->protocol == htons(ETH_P_IP)) {
		*dif = inet_iif(skb);
		/* const from 5.11 on */
		*sdif = inet_sdif((struct sk_buff *)skb);
		return;
	}
#if IS_ENABLED(CONFIG_IPV6)
	if (!out && skb && skb->protocol == htons(ETH_P_IPV6)) {
		*dif = inet6_iif(skb);
		*sdif = inet6_sdif(skb);
		return;
	}
#endif
	*dif = dev ? dev->ifindex : 0;
	*sdif = dev ? l3mdev_master_ifindex_rcu(dev) : 0;
}

/*
 * The kernel's reasons for its RSTs (tracepoint tcp_send_reset, 6.10+).
 * An answer to a segment: the tracepoint comes first, its reason is noted
 * here for the RST when it passes LOCAL_OUT right after, on the same CPU
 * in the same context; matched by ports, so a note whose RST never left is
 * not given to another.  A socket's own abort: the tracepoint comes after
 * sending, so the record is held here from LOCAL_OUT (an RST an OUTPUT
 * rule dropped never gets there) until it, or else the next RST on this
 * CPU and context, whichever first.
 */
struct tcptrace_rst_note {
	u16	lport;
	u16	rport;
	u32	reason;
	bool	valid;
	bool	held;
	struct tcptrace_diag_rec d;	/* held: an abort's */
};

static DEFINE_PER_CPU(struct tcptrace_rst_note[2], tcptrace_rst_notes);

/* Emit the abort record held in @n, if any, with @reason if it has one. */
static void tcptrace_rst_release(struct tcptrace_rst_note *n, bool reason,
				 u32 code)
{
	if (!n->held)
		return;
	n->held = false;
	if (reason) {
		n->d.flags |= TCPTRACE_DF_RST_REASON;
		n->d.reason_code = code;
		tcptrace_rst_reason_name(code, n->d.reason,
					 sizeof(n->d.reason));
	}
	tcptrace_ring_emit(&n->d.hdr);
}

void tcptrace_conn_rst_reason(u16 lport, u16 rport, u32 reason)
{
	struct tcptrace_rst_note *n = get_cpu_ptr(&tcptrace_rst_notes[0]);

	n += !in_task();
	tcptrace_rst_release(n, false, 0);
	n->lport = lport;
	n->rport = rport;
	n->reason = reason;
	n->valid = true;
	put_cpu_ptr(&tcptrace_rst_notes[0]);
}

void tcptrace_conn_rst_active(const struct sock *sk, u32 reason)
{
	struct tcptrace_rst_note *n = get_cpu_ptr(&tcptrace_rst_notes[0]);

	n += !in_task();
	/* inet_num is 0 by now if the port was released (tcp_set_state) */
	tcptrace_rst_release(n, n->held &&
			     n->d.sport == ntohs(inet_sk(sk)->inet_sport) &&
			     n->d.dport == ntohs(inet_sk(sk)->inet_dport), reason);
	put_cpu_ptr(&tcptrace_rst_notes[0]);
}

/* Hold @d, a socket's abort, for its reason. */
static void tcptrace_rst_hold(const struct tcptrace_diag_rec *d)
{
	struct tcptrace_rst_note *n = get_cpu_ptr(&tcptrace_rst_notes[0]);

	n += !in_task();
	tcptrace_rst_release(n, false, 0);
	n->d = *d;
	n->held = true;
	put_cpu_ptr(&tcptrace_rst_notes[0]);
}

/* Fill in the kernel's reason for @d's RST, or say there is none. */
static void tcptrace_rst_reason_take(struct tcptrace_diag_rec *d)
{
	struct tcptrace_rst_note *n;
	u32 reason = 0;
	bool found = false;

	if (!tcptrace_rst_reason_name(0, d->reason, sizeof(d->reason))) {
		d->flags |= TCPTRACE_DF_NO_RST_REASON;
		return;
	}
	memset(d->reason, 0, sizeof(d->reason));
	n = get_cpu_ptr(&tcptrace_rst_notes[0]);
	n += !in_task();
	tcptrace_rst_release(n, false, 0);
	if (n->valid && n->lport == d->sport && n->rport == d->dport) {
		reason = n->reason;
		found = true;
	}
	n->valid = false;
	put_cpu_ptr(&tcptrace_rst_notes[0]);
	if (!found)
		return;
	d->flags |= TCPTRACE_DF_RST_REASON;
	d->reason_code = reason;
	tcptrace_rst_reason_name(reason, d->reason, sizeof(d->reason));
}

/* Is @sk a TCP socket of an application (not a raw or control socket)? */
static bool tcptrace_tcp_sock(const struct sock *sk)
{
	return sk && sk_fullsock(sk) && sk->sk_type == SOCK_STREAM &&
	       sk->sk_protocol == IPPROTO_TCP;
}

/* An RST a socket sent itself: why it aborted. */
static void tcptrace_rst_abort(struct tcptrace_diag_rec *d,
			       const struct sock *sk)
{
	d->sock_cookie = tcptrace_sock_cookie(sk);
	d->cgroup_id = tcptrace_sk_cgroup_id(sk);
	d->state = sk->sk_state;
	d->cause = sock_flag(sk, SOCK_LINGER) && !sk->sk_lingertime ?
		   TCPTRACE_CAUSE_LINGER : TCPTRACE_CAUSE_ABORT;
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
			     const struct net_device *dev,
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
		tcptrace_ring_emit(&d.hdr);
		return;
	}
	if (tcptrace_tcp_sock(sk)) {
		/*
		 * Sent by the socket itself: an abort.  Where the kernel
		 * gives reasons, it does so only after sending: held until
		 * then (tcptrace_conn_rst_active()).
		 */
		tcptrace_rst_abort(&d, sk);
		if (tcptrace_rst_reason_name(0, d.reason, sizeof(d.reason))) {
			memset(d.reason, 0, sizeof(d.reason));
			tcptrace_rst_hold(&d);
			return;
		}
		d.flags |= TCPTRACE_DF_NO_RST_REASON;
		tcptrace_ring_emit(&d.hdr);
		return;
	}
	tcptrace_rst_reason_take(&d);
	if (pkt->flags & TCPTRACE_TH_ACK) {
		/* answers a segment without ACK, a SYN: nobody listens */
		d.cause = TCPTRACE_CAUSE_NO_SOCKET;
	} else {
		/* answers a segment with ACK: whose connection is it? */
		struct sock *owner;
		int dif, sdif;

		tcptrace_dev_ifs(skb, dev, true, &dif, &sdif);
		owner = tcptrace_lookup(net, k, dif, sdif);

		if (owner) {
			d.state = owner->sk_state;
			if (sk_fullsock(owner)) {
				d.sock_cookie = tcptrace_sock_cookie(owner);
				d.cgroup_id = tcptrace_sk_cgroup_id(owner);
			}
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

	if (c->tw_fw2) {
		/* the peer never closed its side: no TIME_WAIT at all */
		tcptrace_synth_state(&st, c, TCP_FIN_WAIT2, TCP_CLOSE);
		st.flags |= TCPTRACE_F_TW_ORPHAN;
		tcptrace_ring_emit(&st.hdr);
		return;
	}
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
	if (!out)
		c->syn_iif = pkt->iif;
}

/*
 * Would the kernel's PAWS check (RFC 7323) reject a segment with
 * timestamp @tsval, against the last one @ts_recent (taken at second
 * @stamp) of the connection, allowing @win of disorder?  As
 * tcp_paws_check(): no recent timestamp, or one too old, never rejects.
 */
static bool tcptrace_paws_rejects(u32 ts_recent, s32 stamp, u32 tsval,
				  int win)
{
	if (!ts_recent || (s32)(ts_recent - tsval) <= win)
		return false;
	return time_before32(ktime_get_seconds(), stamp + TCPTRACE_PAWS_WRAP);
}

/*
 * A SYN arrived for a tuple some socket of this namespace already owns.
 * The kernel will answer it with an ACK, never a SYN-ACK, when the owner
 * is a timewait socket that PAWS or the sequence check refuses it to, or
 * a connection.  Returns the cause (0: a handshake may follow) and sets
 * *@state to the owner's state.
 */
static u8 tcptrace_syn_owner(const struct sock *owner,
			     const struct tcptrace_pkt *pkt, u8 *state)
{
	bool ts = pkt->opts.present & TCPTRACE_OPT_TS;

	*state = owner->sk_state;
	if (owner->sk_state == TCP_TIME_WAIT) {
		const struct tcp_timewait_sock *tw = tcp_twsk(owner);
		u32 rcv_nxt = READ_ONCE(tw->tw_rcv_nxt);
		u32 recent = READ_ONCE(tw->tw_ts_recent);
		s32 stamp = READ_ONCE(tw->tw_ts_recent_stamp);

		if (inet_twsk(owner)->tw_substate != TCP_TIME_WAIT) {
			*state = inet_twsk(owner)->tw_substate;
			return TCPTRACE_CAUSE_TW_REFUSED;
		}
		if (ts && stamp &&
		    tcptrace_paws_rejects(recent, stamp, pkt->opts.ts_val, 0))
			return TCPTRACE_CAUSE_PAWS;
		if (after(pkt->seq, rcv_nxt) ||
		    (ts && stamp && (s32)(recent - pkt->opts.ts_val) < 0))
			return 0;
		return TCPTRACE_CAUSE_TW_REFUSED;
	}
	if (owner->sk_state == TCP_NEW_SYN_RECV || !sk_fullsock(owner))
		return 0;	/* a handshake under way: a retransmission */
	if (owner->sk_state == TCP_SYN_SENT)
		return TCPTRACE_SYN_SIM_OPEN;
	if (ts && tcp_sk(owner)->rx_opt.tstamp_ok &&
	    tcptrace_paws_rejects(READ_ONCE(tcp_sk(owner)->rx_opt.ts_recent),
				  READ_ONCE(tcp_sk(owner)->rx_opt.ts_recent_stamp),
				  pkt->opts.ts_val, TCP_PAWS_WINDOW))
		return TCPTRACE_CAUSE_PAWS;
	return TCPTRACE_CAUSE_CHALLENGE_ACK;
}

/* A SYN for an existing connection: say so, once per SYN. */
static void tcptrace_syn_on_conn(const struct net *net,
				 const struct tcptrace_pkt *pkt,
				 const struct tcptrace_conn_key *k,
				 const struct sock *owner, u8 cause)
{
	struct tcptrace_diag_rec d;
	struct tcptrace_conn c = {};

	c.key = *k;
	c.netns_ino = net->ns.inum;
	c.family = pkt->family;
	c.sock_cookie = tcptrace_sock_cookie(owner);
	c.cgroup_id = tcptrace_sk_cgroup_id(owner);
	tcptrace_diag_fill(&d, &c, TCPTRACE_DIAG_SYN_ON_CONN, cause);
	d.state = owner->sk_state;
	d.count = 1;
	tcptrace_ring_emit(&d.hdr);
}

/*
 * A SYN arriving: a new handshake's server end, or one more try of one.
 * What owns the tuple decides: nothing or a request socket (a handshake
 * under way), a connection (no handshake: a duplicate, stale or forged
 * SYN, answered with an ACK), the local end's own SYN_SENT socket (a
 * simultaneous open: the peer's SYN is not a retransmission of ours), or
 * a timewait socket (that the SYN may take over, or be refused by).
 */
static void tcptrace_syn_in(const struct net *net,
			    const struct tcptrace_pkt *pkt,
			    const struct sk_buff *skb,
			    const struct net_device *dev,
			    const struct tcptrace_conn_key *k,
			    struct tcptrace_bucket *b)
{
	struct tcptrace_conn *c;
	struct sock *owner;
	unsigned long flags;
	u8 cause = 0, state = 0;
	bool no_listener = false;
	u8 queues_full = 0;
	u64 cgroup_id = 0;
	int dif, sdif;

	tcptrace_dev_ifs(skb, dev, false, &dif, &sdif);
	owner = tcptrace_lookup(net, k, dif, sdif);
	if (owner) {
		bool conn = sk_fullsock(owner);

		cause = tcptrace_syn_owner(owner, pkt, &state);
		if (conn && cause != TCPTRACE_SYN_SIM_OPEN)
			tcptrace_syn_on_conn(net, pkt, k, owner, cause);
		sock_gen_put(owner);
		if (conn)
			return;
	}
	/*
	 * A SYN that no socket owns goes to a listener.  Without one the
	 * kernel answers an RST, or a timewait socket an ACK; and IPVS or a
	 * NAT rule may take it elsewhere after this hook: then this is no
	 * server end, and its silence is not reported.
	 */
	if ((!owner || !cause) &&
	    !tcptrace_listener(net, k, dif, sdif, &cgroup_id,
			       &queues_full)) {
		if (owner)
			cause = TCPTRACE_CAUSE_TW_REFUSED;
		else
			no_listener = true;
	}

	/* a SYN taking over a TIME_WAIT tuple skips the SYN queue limits */
	if (owner && !cause)
		queues_full &= TCPTRACE_Q_ACCEPT;
	raw_spin_lock_irqsave(&b->lock, flags);
	if (owner && !cause) {
		/* the timewait socket gives the tuple to the new connection */
		c = tcptrace_find(b, k, TCPTRACE_TW);
		if (c)
			c->tw_taken = 1;
	}
	c = tcptrace_find(b, k, TCPTRACE_HANDSHAKE);
	if (c && c->role == TCPTRACE_ROLE_SERVER) {
		c->syn_retrans++;
		c->pre_in = 0;
	} else if (!c) {
		c = tcptrace_slot(b);
		tcptrace_conn_start(c, k, net, pkt, false);
	} else {
		c = NULL;	/* our own SYN_SENT's entry */
	}
	if (c) {
		c->cgroup_id = cgroup_id;
		c->syn_cause = cause;
		c->syn_state = state;
		c->no_listener = no_listener;
		/* any SYN of it: the retransmissions met the queue too */
		c->queues_full |= queues_full;
	}
	raw_spin_unlock_irqrestore(&b->lock, flags);
}

/* Our SYN: a connect(), or one more try of it.  Under the bucket's lock. */
static void tcptrace_syn_out(struct tcptrace_bucket *b,
			     const struct tcptrace_conn_key *k,
			     const struct net *net,
			     const struct tcptrace_pkt *pkt,
			     const struct sock *sk)
{
	struct tcptrace_conn *c = tcptrace_find(b, k, TCPTRACE_TW);

	if (c)
		c->tw_taken = 1;	/* tcp_tw_reuse let it */
	c = tcptrace_find(b, k, TCPTRACE_HANDSHAKE);
	if (c && c->role == TCPTRACE_ROLE_CLIENT) {
		c->syn_retrans++;
		return;
	}
	if (!c)
		c = tcptrace_slot(b);
	tcptrace_conn_start(c, k, net, pkt, true);
	c->cgroup_id = tcptrace_sk_cgroup_id(sk);
}

/* A SYN-ACK, from the server's end to the client's.  Under the lock. */
static void tcptrace_synack(struct tcptrace_bucket *b,
			    const struct tcptrace_conn_key *k,
			    const struct tcptrace_pkt *pkt, bool out)
{
	struct tcptrace_conn *c = tcptrace_find(b, k, TCPTRACE_HANDSHAKE);
	bool server = c && c->role == TCPTRACE_ROLE_SERVER;

	if (!c || out != server)
		return;
	if (c->synack.seen_ns) {
		c->synack_retrans++;
	} else {
		c->synack = pkt->opts;
		c->synack.seen_ns = ktime_get_ns();
	}
}

/* @pkt's key in @net, its source the local end if @src_local. */
static void tcptrace_pkt_key(struct tcptrace_conn_key *k, const struct net *net,
			     const struct tcptrace_pkt *pkt, bool src_local)
{
	k->netns_cookie = tcptrace_net_cookie(net);
	memcpy(k->laddr, src_local ? pkt->saddr : pkt->daddr, 16);
	memcpy(k->raddr, src_local ? pkt->daddr : pkt->saddr, 16);
	k->lport = src_local ? pkt->sport : pkt->dport;
	k->rport = src_local ? pkt->dport : pkt->sport;
}

/*
 * An RST, under the bucket's lock.  Returns true if it ended a server's
 * handshake: @rec is to be emitted.
 */
static bool tcptrace_rst_pkt(struct tcptrace_bucket *b,
			     const struct tcptrace_conn_key *k,
			     const struct tcptrace_pkt *pkt, bool out,
			     struct tcptrace_handshake_rec *rec)
{
	struct tcptrace_conn *c = out ? NULL :
				  tcptrace_find(b, k, TCPTRACE_EST);

	if (c) {
		/* for tcptrace_conn_rst_in(), when the socket accepts it */
		c->rst_ttl = pkt->opts.ttl;
		c->rst_ns = ktime_get_ns();
		return false;
	}
	c = tcptrace_find(b, k, TCPTRACE_HANDSHAKE);
	if (!c || c->rst_seen)
		return false;
	/*
	 * RST during a handshake.  A server's end has no socket yet (RST to
	 * a closed port, or the client aborting): emit now.  A client's
	 * socket will go SYN_SENT -> CLOSE: remember the RST for that.
	 */
	if (c->role == TCPTRACE_ROLE_SERVER) {
		memset(rec, 0, sizeof(*rec));
		tcptrace_hs_fill(rec, c, TCPTRACE_HS_RESET);
		tcptrace_release(c);
		return true;
	}
	if (!out)
		c->rst_seen = 1;
	return false;
}

void tcptrace_conn_packet(const struct net *net, const struct tcptrace_pkt *pkt,
			  const struct sk_buff *skb,
			  const struct net_device *dev, bool out)
{
	struct tcptrace_handshake_rec rec;
	struct tcptrace_conn_key k = {};
	struct tcptrace_bucket *b;
	unsigned long flags;
	bool emit = false;
	u8 f = pkt->flags;
	bool syn = (f & (TCPTRACE_TH_SYN | TCPTRACE_TH_ACK | TCPTRACE_TH_RST)) ==
		   TCPTRACE_TH_SYN;

	if (!(f & (TCPTRACE_TH_SYN | TCPTRACE_TH_RST)) || !tcptrace_net_live(net))
		return;
	tcptrace_pkt_key(&k, net, pkt, out);
	b = tcptrace_bucket(&k);

	if ((f & TCPTRACE_TH_RST) && out)
		tcptrace_rst_out(net, pkt, skb, dev, &k);
	if (syn && !out) {
		tcptrace_syn_in(net, pkt, skb, dev, &k, b);
		return;
	}
	if (syn && !tcptrace_tcp_sock(skb->sk))
		return;	/* crafted on a raw socket (a scanner): no connect() */
	raw_spin_lock_irqsave(&b->lock, flags);
	if (syn)
		tcptrace_syn_out(b, &k, net, pkt, skb->sk);
	else if ((f & (TCPTRACE_TH_SYN | TCPTRACE_TH_ACK | TCPTRACE_TH_RST)) ==
		 (TCPTRACE_TH_SYN | TCPTRACE_TH_ACK))
		tcptrace_synack(b, &k, pkt, out);
	else
		emit = tcptrace_rst_pkt(b, &k, pkt, out, &rec);
	raw_spin_unlock_irqrestore(&b->lock, flags);
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
	if (tcptrace_ecn_agreed(tp))
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
 * connection to a timewait socket.  Does one own the tuple now?  Fills
 * @tw and returns true if so.  The kernel also uses timewait sockets for
 * an orphaned FIN_WAIT2 (tw_substate), which is not TIME_WAIT.
 */
bool tcptrace_conn_tw(const struct sock *sk, struct tcptrace_tw *tw)
{
	struct tcptrace_conn_key k;
	struct sock *t;
	int bound = READ_ONCE(sk->sk_bound_dev_if);

	tcptrace_sk_key(sk, &k);
	t = tcptrace_lookup(sock_net(sk), &k, bound, bound);
	if (!t)
		return false;
	if (t->sk_state != TCP_TIME_WAIT) {
		sock_gen_put(t);
		return false;
	}
	tw->substate = inet_twsk(t)->tw_substate;
	tw->left = max((long)inet_twsk(t)->tw_timer.expires - (long)jiffies,
		       0L);
	tw->bound_dev_if = bound;
	/*
	 * The timewait socket copied the cookie when it was made; if none
	 * was generated by then, it gets its own now, as ss -e would give it.
	 */
	tw->cookie = tcptrace_sock_cookie(t);
	sock_gen_put(t);
	return true;
}

/* The connection went into TIME_WAIT: watch it, and say so. */
static void tcptrace_enter_tw(const struct sock *sk, int oldstate,
			      const struct tcptrace_tw *tw,
			      struct tcptrace_bucket *b, struct tcptrace_conn *c,
			      const struct tcptrace_conn_key *k)
{
	const struct net *net = sock_net(sk);
	struct tcptrace_diag_rec d, dd;
	unsigned long flags;
	bool drops = false;

	if (!tcptrace_net_live(net))
		return;
	raw_spin_lock_irqsave(&b->lock, flags);
	if (c && c->used && c->phase == TCPTRACE_EST &&
	    !memcmp(&c->key, k, sizeof(*k)))
		drops = tcptrace_dd_take(c, &dd);
	if (!c || !c->used || c->phase != TCPTRACE_EST ||
	    memcmp(&c->key, k, sizeof(*k))) {
		c = tcptrace_slot(b);
		memset(c, 0, sizeof(*c));
		c->key = *k;
		c->used = 1;
		c->family = tcptrace_key_v4(k) ? AF_INET : AF_INET6;
		c->netns_ino = net->ns.inum;
	}
	c->net = net;
	c->phase = TCPTRACE_TW;
	c->dd_made = 0;
	c->tw_old = oldstate;
	c->sock_cookie = tcptrace_sock_cookie(sk);
	c->cgroup_id = tcptrace_sk_cgroup_id(sk);
	c->born_ns = ktime_get_ns();
	c->tw_sk_cookie = tw->cookie;
	c->bound_dev_if = tw->bound_dev_if;
	c->tw_end_ns = c->born_ns + jiffies_to_nsecs(tw->left);
	c->tw_fw2 = tw->substate != TCP_TIME_WAIT;
	tcptrace_diag_fill(&d, c, TCPTRACE_DIAG_TIME_WAIT, TCPTRACE_CAUSE_NONE);
	d.state = oldstate;
	d.duration_ns = c->tw_end_ns - c->born_ns;
	raw_spin_unlock_irqrestore(&b->lock, flags);
	if (drops)
		tcptrace_dd_emit(&dd);
	/* an orphaned FIN_WAIT2 enters TIME_WAIT when the peer's FIN comes */
	if (tw->substate == TCP_TIME_WAIT)
		tcptrace_ring_emit(&d.hdr);
}

/*
 * The peer's FIN came to an orphaned FIN_WAIT2's timewait socket: now it
 * is in TIME_WAIT, for @left jiffies.  Under the bucket's lock.
 */
static void tcptrace_fw2_to_tw(struct tcptrace_conn *c, long left, u64 now)
{
	struct tcptrace_state_rec st;
	struct tcptrace_diag_rec d;

	tcptrace_synth_state(&st, c, TCP_FIN_WAIT2, TCP_TIME_WAIT);
	c->tw_fw2 = 0;
	c->born_ns = now;
	c->tw_end_ns = now + jiffies_to_nsecs(left);
	tcptrace_diag_fill(&d, c, TCPTRACE_DIAG_TIME_WAIT, TCPTRACE_CAUSE_NONE);
	d.state = TCP_FIN_WAIT2;
	d.duration_ns = c->tw_end_ns - now;
	tcptrace_ring_emit(&st.hdr);
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
	c.cgroup_id = tcptrace_sk_cgroup_id(sk);
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

	raw_spin_lock_irqsave(&b->lock, flags);
	c = tcptrace_find(b, k, TCPTRACE_HANDSHAKE);
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
	/* the socket's own cgroup, for the end's records from now on */
	c->cgroup_id = tcptrace_sk_cgroup_id(sk);
	tcptrace_hs_fill(&rec, c, outcome);
	rec.sock_cookie = tcptrace_sock_cookie(sk);
	if (outcome == TCPTRACE_HS_FAILED && c != &none &&
	    c->role == TCPTRACE_ROLE_CLIENT && !c->synack.seen_ns) {
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
	raw_spin_unlock_irqrestore(&b->lock, flags);

	if (outcome == TCPTRACE_HS_ESTABLISHED)
		tcptrace_agreed(&rec, sk);
	tcptrace_ring_emit(&rec.hdr);
	if (no_synack)
		tcptrace_ring_emit(&d.hdr);
}

/*
 * Does another socket own @sk's tuple?  Two CPUs can make a server socket
 * from one request at once; the loser dies in SYN_RECV, the winner goes
 * on: the handshake did not fail.
 */
static bool tcptrace_other_owner(const struct sock *sk,
				 const struct tcptrace_conn_key *k)
{
	int bound = READ_ONCE(sk->sk_bound_dev_if);
	struct sock *o = tcptrace_lookup(sock_net(sk), k, bound, bound);
	bool other = o && o != sk;

	if (o)
		sock_gen_put(o);
	return other;
}

/* Is a handshake of @k's tuple still open (no RST ended it)? */
static bool tcptrace_has_handshake(struct tcptrace_bucket *b,
				   const struct tcptrace_conn_key *k)
{
	unsigned long flags;
	bool ret;

	raw_spin_lock_irqsave(&b->lock, flags);
	ret = tcptrace_find(b, k, TCPTRACE_HANDSHAKE);
	raw_spin_unlock_irqrestore(&b->lock, flags);
	return ret;
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
	case TCP_FIN_WAIT1:
		return oldstate == TCP_SYN_RECV;	/* Fast Open, closed */
	case TCP_CLOSE:
		return oldstate != TCP_LISTEN;
	}
	return false;
}

void tcptrace_conn_state(const struct sock *sk, int oldstate, int newstate,
			 const struct tcptrace_tw *tw)
{
	struct tcptrace_conn_key k;
	struct tcptrace_diag_rec d;
	struct tcptrace_bucket *b;
	struct tcptrace_conn *c;
	unsigned long flags;
	bool drops = false;

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
	/*
	 * A Fast Open server socket, in use since the SYN, that its
	 * application closes before the client's ACK: its handshake went
	 * through.  A server socket dying in SYN_RECV: it did not.
	 */
	if (oldstate == TCP_SYN_RECV && newstate == TCP_FIN_WAIT1) {
		tcptrace_handshake_done(sk, oldstate, TCPTRACE_HS_ESTABLISHED,
					b, &k);
		return;
	}
	if (oldstate == TCP_SYN_RECV && newstate == TCP_CLOSE &&
	    tcptrace_has_handshake(b, &k) && !tcptrace_other_owner(sk, &k))
		tcptrace_handshake_done(sk, oldstate, TCPTRACE_HS_FAILED, b, &k);
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
	raw_spin_lock_irqsave(&b->lock, flags);
	c = tcptrace_find(b, &k, TCPTRACE_EST);
	raw_spin_unlock_irqrestore(&b->lock, flags);
	if (tw) {
		tcptrace_enter_tw(sk, oldstate, tw, b, c, &k);
		return;
	}
	if (c) {
		raw_spin_lock_irqsave(&b->lock, flags);
		if (c->used && c->phase == TCPTRACE_EST &&
		    !memcmp(&c->key, &k, sizeof(k))) {
			drops = tcptrace_dd_take(c, &d);
			if (c->used)
				tcptrace_release(c);
		}
		raw_spin_unlock_irqrestore(&b->lock, flags);
		if (drops)
			tcptrace_dd_emit(&d);
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
	none.cgroup_id = tcptrace_sk_cgroup_id(sk);

	raw_spin_lock_irqsave(&b->lock, flags);
	c = tcptrace_find(b, &k, TCPTRACE_EST) ?:
	    tcptrace_find(b, &k, TCPTRACE_HANDSHAKE);
	tcptrace_diag_fill(&d, c ? c : &none, TCPTRACE_DIAG_RST_IN,
			   TCPTRACE_CAUSE_NONE);
	d.sock_cookie = none.sock_cookie;
	d.cgroup_id = none.cgroup_id;
	/* an entry made for drops (no handshake seen) knows no TTL */
	if (c && c->phase == TCPTRACE_EST && c->rst_ns && c->peer_ttl &&
	    now - c->rst_ns < NSEC_PER_SEC) {
		d.ttl_seen = c->rst_ttl;
		d.ttl_expected = c->peer_ttl;
		if (c->rst_ttl != c->peer_ttl)
			d.flags |= TCPTRACE_DF_MIDDLEBOX;
	}
	raw_spin_unlock_irqrestore(&b->lock, flags);

	d.state = sk->sk_state;
	/* RST in answer to our unacknowledged data: the peer lost us */
	if (sk->sk_state == TCP_ESTABLISHED && tp->snd_una != tp->snd_nxt)
		d.cause = TCPTRACE_CAUSE_HALF_OPEN;
	tcptrace_ring_emit(&d.hdr);
}

/*
 * The namespace a dropped packet was in: its device's; inside TCP, where
 * the device is gone, the receiving socket's (6.11+ passes it) or the
 * route's; where TCP dropped the route too (before 6.11), the one
 * LOCAL_IN noted for it.
 */
static const struct net *tcptrace_drop_net(const struct sk_buff *skb,
					   const struct sock *rx_sk)
{
	const struct dst_entry *dst;

	if (skb->dev)
		return dev_net(skb->dev);
	if (rx_sk)
		return sock_net(rx_sk);
	dst = skb_dst(skb);
	return dst && dst->dev ? dev_net(dst->dev) : tcptrace_rx_net(skb);
}

/*
 * The socket the kernel names (6.11+) as the receiver of a dropped
 * segment, if it is a connection's: its cookie and cgroup.  No lookup
 * before 6.11: one from the drop probe could drop a closing socket's
 * last reference there (a free, in atomic context); those kernels count
 * drops of connections whose handshake the table saw only.
 */
static bool tcptrace_dd_socket(const struct net *net, const struct sock *sk,
			       u64 *cookie, u64 *cgroup_id)
{
	if (!sk || !sk_fullsock(sk) || sk->sk_protocol != IPPROTO_TCP ||
	    !net_eq(sock_net(sk), net) ||
	    !((1 << READ_ONCE(sk->sk_state)) &
	      (TCPF_ESTABLISHED | TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2 |
	       TCPF_CLOSE_WAIT | TCPF_CLOSING | TCPF_LAST_ACK)))
		return false;
	*cookie = tcptrace_sock_cookie(sk);
	*cgroup_id = tcptrace_sk_cgroup_id(sk);
	return true;
}

/* The MTU the kernel's forwarding compared @skb with, on its route @dst. */
static u32 tcptrace_fwd_mtu(const struct sk_buff *skb,
			    const struct dst_entry *dst)
{
#if IS_ENABLED(CONFIG_IPV6)
	if (skb->protocol == htons(ETH_P_IPV6))
		return max_t(u32, tcptrace_ip6_fwd_mtu(dst), IPV6_MIN_MTU);
#endif
	return ip_dst_mtu_maybe_forward(dst, true);
}

/*
 * Count a drop of @pkt, for @reason, into the episode of its entry in
 * @net: an established connection's (@fwd false: @pkt as its socket sees
 * it, arriving), made here for one the table did not see begin if the
 * kernel names its socket; or a forwarded flow's (@fwd: @skb is being
 * forwarded, its route is the one it did not fit).  One record an
 * episode, however many packets a storm loses, for whatever reasons:
 * the first drop's is named, the others counted.
 */
static void tcptrace_dd_count(const struct net *net,
			      const struct sk_buff *skb,
			      const struct sock *rx_sk,
			      const struct tcptrace_pkt *pkt,
			      unsigned int reason, bool fwd)
{
	u8 phase = fwd ? TCPTRACE_FWD : TCPTRACE_EST;
	const struct dst_entry *dst = skb_dst(skb);
	struct tcptrace_conn_key k = {};
	u64 cookie = 0, cgroup_id = 0;
	struct tcptrace_bucket *b;
	struct tcptrace_conn *c;
	unsigned long flags;
	bool known = fwd;
	int oif = 0;
	u32 mtu = 0;
	u64 now;

	if (!fwd)
		known = tcptrace_dd_socket(net, rx_sk, &cookie, &cgroup_id);
	if (fwd && dst && dst->dev) {
		oif = dst->dev->ifindex;
		mtu = tcptrace_fwd_mtu(skb, dst);
	}
	tcptrace_pkt_key(&k, net, pkt, fwd);
	b = tcptrace_bucket(&k);
	raw_spin_lock_irqsave(&b->lock, flags);
	c = tcptrace_find(b, &k, phase);
	/* its handshake's entry becomes the established one */
	if (!c && (!known || (!fwd && tcptrace_find(b, &k,
						    TCPTRACE_HANDSHAKE)))) {
		raw_spin_unlock_irqrestore(&b->lock, flags);
		return;
	}
	now = ktime_get_ns();
	if (!c) {
		c = tcptrace_slot_minor(b);
		if (!c) {
			raw_spin_unlock_irqrestore(&b->lock, flags);
			return;
		}
		memset(c, 0, sizeof(*c));
		c->key = k;
		c->net = net;
		c->used = 1;
		c->phase = phase;
		c->dd_made = !fwd;
		c->born_ns = now;
		c->netns_ino = net->ns.inum;
		c->family = pkt->family;
		c->sock_cookie = cookie;
		c->cgroup_id = cgroup_id;
	}
	if (!c->dd_count) {
		c->dd_reason = reason;
		c->dd_first_ns = now;
		c->dd_iif = pkt->iif;
		c->dd_oif = oif;
		c->dd_mtu = mtu;
	} else if (reason != c->dd_reason && c->dd_other < U32_MAX) {
		c->dd_other++;
	}
	if (c->dd_count < U32_MAX)
		c->dd_count++;
	c->dd_last_ns = now;
	raw_spin_unlock_irqrestore(&b->lock, flags);
}

/*
 * A drop of a class reported beyond SYNs (tcptrace_drop_class()): a
 * segment that arrived for a connection of this host, or a packet being
 * forwarded (received, not for a socket of its namespace, with its
 * route).  False for a SYN: its own diagnosis takes it.  (A SYN-ACK
 * arriving makes no entry: its socket is not connected yet.)
 */
static bool tcptrace_dd_dropped(const struct sk_buff *skb,
				const struct sock *rx_sk, unsigned int reason,
				u8 class, u8 family)
{
	bool fwd = class == TCPTRACE_DROP_FORWARD;
	struct tcptrace_pkt pkt;
	const struct net *net;

	if (!tcptrace_parse_seg(skb, family, &pkt))
		return true;
	if ((pkt.flags & (TCPTRACE_TH_SYN | TCPTRACE_TH_ACK)) ==
	    TCPTRACE_TH_SYN)
		return false;
	/* leaving (no skb_iif) is not arriving */
	if (!skb->skb_iif || (fwd && (skb->sk || !skb->dev || !skb_dst(skb))))
		return true;
	net = tcptrace_drop_net(skb, rx_sk);
	if (!net || !tcptrace_net_live(net))
		return true;
	if (!fwd)
		tcptrace_pkt_socket_view(skb, &pkt, false);
	tcptrace_dd_count(net, skb, rx_sk, &pkt, reason, fwd);
	return true;
}

void tcptrace_conn_dropped(const struct sk_buff *skb, const struct sock *rx_sk,
			   unsigned int reason)
{
	struct tcptrace_conn_key k = {};
	struct tcptrace_bucket *b;
	struct tcptrace_conn *c;
	struct tcptrace_pkt pkt;
	const struct net *net;
	unsigned long flags;
	u64 cgroup_id = 0;
	bool known;
	u8 queues_full;
	u8 family;
	u8 class;

	if (skb->protocol == htons(ETH_P_IP))
		family = AF_INET;
	else if (skb->protocol == htons(ETH_P_IPV6))
		family = AF_INET6;
	else
		return;
	class = tcptrace_drop_class(reason);
	if (class != TCPTRACE_DROP_OTHER &&
	    tcptrace_dd_dropped(skb, rx_sk, reason, class, family))
		return;
	if (!tcptrace_parse_skb(skb, family, &pkt) ||
	    (pkt.flags & (TCPTRACE_TH_SYN | TCPTRACE_TH_ACK)) != TCPTRACE_TH_SYN)
		return;
	net = tcptrace_drop_net(skb, rx_sk);
	if (!net || !tcptrace_net_live(net))
		return;
	/* an incoming SYN: the server's entry */
	tcptrace_pkt_socket_view(skb, &pkt, false);
	k.netns_cookie = tcptrace_net_cookie(net);
	memcpy(k.laddr, pkt.daddr, 16);
	memcpy(k.raddr, pkt.saddr, 16);
	k.lport = pkt.dport;
	k.rport = pkt.sport;
	b = tcptrace_bucket(&k);
	raw_spin_lock_irqsave(&b->lock, flags);
	c = tcptrace_find(b, &k, TCPTRACE_HANDSHAKE);
	known = c;
	if (c && c->role == TCPTRACE_ROLE_SERVER) {
		/* one more SYN that never reached LOCAL_IN */
		if (c->pre_in) {
			c->syn_retrans++;
			if (pkt.opts.malformed)
				tcptrace_nf_malformed();
		}
		if (!c->drop_reason)
			c->drop_reason = reason;
	}
	raw_spin_unlock_irqrestore(&b->lock, flags);
	/*
	 * Dropped on its way in before LOCAL_IN (a PREROUTING rule, the
	 * reverse-path filter, no route): the hooks never saw it.  Until the
	 * stack delivers it to TCP past LOCAL_IN, a packet's data starts at
	 * its IP header.  Only a received SYN for a listener of this
	 * namespace makes a server end; one being forwarded, or leaving, or
	 * refused by TCP itself, or for an address that NAT would have
	 * changed (dropped before it, as by a full conntrack table), does
	 * not.
	 */
	if (known || !skb->dev || !skb->skb_iif || skb->sk ||
	    skb_network_offset(skb) != 0 ||
	    !tcptrace_addr_local(net, k.laddr) ||
	    !tcptrace_listener(net, &k, skb->dev->ifindex,
			       l3mdev_master_ifindex_rcu(skb->dev), &cgroup_id,
			       &queues_full))
		return;
	raw_spin_lock_irqsave(&b->lock, flags);
	if (!tcptrace_find(b, &k, TCPTRACE_HANDSHAKE)) {
		c = tcptrace_slot(b);
		tcptrace_conn_start(c, &k, net, &pkt, false);
		c->cgroup_id = cgroup_id;
		c->pre_in = 1;
		c->drop_reason = reason;
		if (pkt.opts.malformed)
			tcptrace_nf_malformed();
	}
	raw_spin_unlock_irqrestore(&b->lock, flags);
}

/*
 * Why did this server end send nothing back?  Best reason we have: what
 * the tuple's owner made the kernel answer instead (matched on this very
 * SYN), then the kernel's drop reason for it, then the listener's queue.
 */
static void tcptrace_syn_unanswered(struct tcptrace_diag_rec *d,
				    const struct tcptrace_conn *c, u64 now)
{
	tcptrace_diag_fill(d, c, TCPTRACE_DIAG_SYN_UNANSWERED,
			   TCPTRACE_CAUSE_UNANSWERED);
	d->in_ifindex = c->syn_iif;
	d->duration_ns = now - c->born_ns;
	d->count = c->syn_retrans + 1;
	if (c->syn_cause) {
		d->cause = c->syn_cause;
		d->state = c->syn_state;
	} else if (c->drop_reason) {
		d->cause = TCPTRACE_CAUSE_DROP_REASON;
		d->reason_code = c->drop_reason;
		tcptrace_drop_reason_name(c->drop_reason, d->reason,
					  sizeof(d->reason));
	} else if (c->queues_full & TCPTRACE_Q_SYN) {
		/* in tcp_conn_request()'s order */
		d->cause = TCPTRACE_CAUSE_SYN_QUEUE_FULL;
	} else if (c->queues_full & TCPTRACE_Q_ACCEPT) {
		d->cause = TCPTRACE_CAUSE_LISTEN_OVERFLOW;
	} else if (c->queues_full & TCPTRACE_Q_BACKLOG) {
		d->cause = TCPTRACE_CAUSE_SYN_QUEUE_FULL;
	} else if (!TCPTRACE_HAVE_DROP_REASONS) {
		d->flags |= TCPTRACE_DF_NO_DROP_REASON;
	}
}

/* How did the TIME_WAIT of @c end, if it did?  0: it goes on. */
/*
 * How did the TIME_WAIT of @c end, if it did?  0: it goes on; then, for
 * an orphaned FIN_WAIT2, *@left is -1 until its timewait socket moves on
 * to TIME_WAIT, and the jiffies that has left after.
 */
static u8 tcptrace_tw_check(const struct tcptrace_conn *c, u64 now, long *left)
{
	struct sock *sk = tcptrace_lookup(c->net, &c->key, c->bound_dev_if,
					  c->bound_dev_if);
	u8 cause = 0;

	*left = -1;
	if (!sk)
		return now + TCPTRACE_SCAN_NS >= c->tw_end_ns ?
		       TCPTRACE_CAUSE_EXPIRED : TCPTRACE_CAUSE_KILLED;
	if (sk->sk_state != TCP_TIME_WAIT ||
	    atomic64_read(&sk->sk_cookie) != c->tw_sk_cookie)
		cause = TCPTRACE_CAUSE_REUSED;
	else if (c->tw_fw2 && inet_twsk(sk)->tw_substate == TCP_TIME_WAIT)
		*left = max((long)inet_twsk(sk)->tw_timer.expires -
			    (long)jiffies, 0L);
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
	long left;
	u8 cause;

	raw_spin_lock_irqsave(&b->lock, flags);
	if (!c->used || c->phase != TCPTRACE_TW || c->born_ns > now) {
		raw_spin_unlock_irqrestore(&b->lock, flags);
		return;
	}
	copy = *c;
	raw_spin_unlock_irqrestore(&b->lock, flags);

	cause = tcptrace_tw_check(&copy, now, &left);
	if (!cause && left < 0)
		return;
	raw_spin_lock_irqsave(&b->lock, flags);
	if (!cause && c->used && c->phase == TCPTRACE_TW &&
	    c->born_ns == copy.born_ns && c->tw_fw2 &&
	    !memcmp(&c->key, &copy.key, sizeof(copy.key))) {
		tcptrace_fw2_to_tw(c, left, now);
	} else if (cause && c->used && c->phase == TCPTRACE_TW &&
		   c->born_ns == copy.born_ns &&
		   !memcmp(&c->key, &copy.key, sizeof(copy.key))) {
		/* gone early, after it let a new SYN take the tuple over */
		if (cause == TCPTRACE_CAUSE_KILLED && c->tw_taken)
			cause = TCPTRACE_CAUSE_REUSED;
		tcptrace_tw_end(c, cause, now);
		tcptrace_release(c);
	}
	raw_spin_unlock_irqrestore(&b->lock, flags);
}

/*
 * An entry's episode of drops, once over: reported (and an entry made
 * for it alone let go).
 */
static void tcptrace_scan_dd(struct tcptrace_bucket *b,
			     struct tcptrace_conn *c, u64 now)
{
	struct tcptrace_diag_rec d;
	unsigned long flags;
	bool emit = false;

	raw_spin_lock_irqsave(&b->lock, flags);
	if (c->used && c->dd_count && c->dd_last_ns <= now &&
	    (now - c->dd_last_ns >= TCPTRACE_DD_QUIET_NS ||
	     now - c->dd_first_ns >= TCPTRACE_DD_MAX_NS)) {
		emit = tcptrace_dd_take(c, &d);
	}
	raw_spin_unlock_irqrestore(&b->lock, flags);
	if (emit)
		tcptrace_dd_emit(&d);
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
	if (c->role == TCPTRACE_ROLE_SERVER && c->no_listener &&
	    !c->drop_reason && now - c->born_ns >= tcptrace_syn_timeout_ns) {
		/* taken elsewhere (IPVS, NAT), or an RST we did not see */
		tcptrace_release(c);
		return 0;
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
/*
 * Does TIME_WAIT entry @c need a look at its socket in this scan?  Read
 * without the bucket's lock: a stale answer only moves the look to the
 * next scan.
 */
static bool tcptrace_tw_due(const struct tcptrace_conn *c, u64 now,
			    bool window)
{
	return window || READ_ONCE(c->tw_taken) || READ_ONCE(c->tw_fw2) ||
	       now + TCPTRACE_SCAN_NS >= READ_ONCE(c->tw_end_ns);
}

/*
 * Might handshake entry @c be due for tcptrace_scan_hs()?  Read without
 * the bucket's lock, so that a table full of young or already reported
 * handshakes (a SYN flood) costs no lock per entry; when in doubt, yes:
 * the lock holder decides.
 */
static bool tcptrace_hs_due(const struct tcptrace_conn *c, u64 now)
{
	u64 born = READ_ONCE(c->born_ns);

	/* established entries: nothing for the scan */
	if (READ_ONCE(c->phase) != TCPTRACE_HANDSHAKE || born > now)
		return false;
	if (now - born > tcptrace_hs_timeout_ns)
		return true;
	if (now - born < tcptrace_syn_timeout_ns ||
	    READ_ONCE(c->role) != TCPTRACE_ROLE_SERVER)
		return false;
	return READ_ONCE(c->no_listener) || !READ_ONCE(c->syn_diag);
}

static void tcptrace_conn_scan(struct work_struct *work)
{
	static unsigned int window_start;
	struct tcptrace_handshake_rec rec;
	struct tcptrace_diag_rec d;
	u64 now = ktime_get_ns();
	unsigned int i, window_end;
	bool window;
	int w, what;

	mutex_lock(&tcptrace_scan_mutex);
	window_start &= tcptrace_nbuckets - 1;
	window_end = window_start +
		     max(tcptrace_nbuckets / TCPTRACE_SCAN_TW_ROUND,
			 TCPTRACE_SCAN_TW_WINDOW_MIN);
	for (i = 0; i < tcptrace_nbuckets; i++) {
		struct tcptrace_bucket *b = &tcptrace_buckets[i];
		unsigned long flags;

		/* the window may wrap around the end of the table */
		window = (i >= window_start && i < window_end) ||
			 i + tcptrace_nbuckets < window_end;
		for (w = 0; w < TCPTRACE_WAYS; w++) {
			struct tcptrace_conn *c = &b->e[w];

			if (!READ_ONCE(c->used))
				continue;
			if (READ_ONCE(c->phase) == TCPTRACE_TW) {
				if (tcptrace_tw_due(c, now, window))
					tcptrace_scan_tw(b, c, now);
				continue;
			}
			if (READ_ONCE(c->dd_count)) {
				tcptrace_scan_dd(b, c, now);
				continue;
			}
			if (!tcptrace_hs_due(c, now))
				continue;
			raw_spin_lock_irqsave(&b->lock, flags);
			what = tcptrace_scan_hs(c, now, &rec, &d);
			raw_spin_unlock_irqrestore(&b->lock, flags);
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
	window_start = window_end;
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

		raw_spin_lock_irqsave(&b->lock, flags);
		for (w = 0; w < TCPTRACE_WAYS; w++)
			if (b->e[w].used &&
			    b->e[w].key.netns_cookie == netns_cookie)
				tcptrace_release(&b->e[w]);
		raw_spin_unlock_irqrestore(&b->lock, flags);
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
		raw_spin_lock_init(&tcptrace_buckets[i].lock);
	tcptrace_hs_timeout_ns = (u64)hs_timeout_s * NSEC_PER_SEC;
	tcptrace_syn_timeout_ns = (u64)syn_timeout_ms * NSEC_PER_MSEC;
	schedule_delayed_work(&tcptrace_scan_work, TCPTRACE_SCAN);
	return 0;
}

/* Called once nothing can reach the table any more (hooks and probes gone). */
void tcptrace_conn_exit(void)
{
	int cpu, i;

	cancel_delayed_work_sync(&tcptrace_scan_work);
	/* no probe runs any more: aborts still held go out without reason */
	for_each_possible_cpu(cpu)
		for (i = 0; i < 2; i++)
			tcptrace_rst_release(&per_cpu(tcptrace_rst_notes, cpu)[i],
					     false, 0);
	kvfree(tcptrace_buckets);
	tcptrace_buckets = NULL;
}

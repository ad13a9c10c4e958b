// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for module/conntable.c: the connection table.
 *
 * Linked with the module's own conntable.c and what it needs (ring.c,
 * chardev.c, netfilter.c, packet.c, options.c, reasons.c; see
 * selftests/kunit/), so what is tested here is what the module runs.
 * Nothing is registered: no device, no probes, no netfilter hooks.  Each
 * test gets a fresh record buffer and table and feeds the table what the
 * hooks and probes would: parsed packets (struct tcptrace_pkt), socket
 * state changes of real, unconnected kernel sockets whose endpoints the
 * test sets, and drop notifications.  What comes out is checked in the
 * table's counters and in the records, read with tcptrace_ring_read()
 * into user memory of an address space the test thread borrows.
 *
 * The table tracks handshakes of the namespace's own addresses only, so
 * the suite brings init_net's loopback device up (127.0.0.0/8 and ::1
 * become local) and the connections are between loopback addresses.  A
 * second, real network namespace is made where one is needed.
 */
#include <kunit/test.h>
#include <kunit/resource.h>
#include <linux/module.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/skbuff.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/uaccess.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/user_namespace.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <net/inet_sock.h>
#include <net/tcp.h>
#include <net/dropreason.h>

#include "../tcptrace.h"
#include "../compat.h"
#include "../conntable.h"
#include "../packet.h"
#include "../options.h"
#include "../reasons.h"

#define TT_ENTRIES	64		/* 16 buckets of 4 */
#define TT_WAYS		4
#define TT_HS_TIMEOUT	3600		/* s: no time-outs during a test */
#define TT_SYN_TIMEOUT	60000		/* ms */
#define TT_RING_BYTES	(64 * 1024)	/* per CPU */
#define TT_READ_BYTES	(64 * 1024)

#define TT_CLIENT	0x7f000101	/* 127.0.1.1 */
#define TT_SERVER	0x7f000202	/* 127.0.2.2 */
#define TT_LOOPBACK	0x7f000001	/* 127.0.0.1 */
#define TT_REMOTE	0xc0000201	/* 192.0.2.1: not this host's */
#define TT_CPORT	40000
#define TT_SPORT	443

#define TT_SYN		TCPTRACE_TH_SYN
#define TT_ACK		TCPTRACE_TH_ACK
#define TT_RST		TCPTRACE_TH_RST
#define TT_FIN		TCPTRACE_TH_FIN

struct tt_ctx {
	bool		ring_up;
	bool		table_up;
	u64		evicted0;	/* the counters are the module's: deltas */
	u64		timeouts0;
	struct sk_buff	*skb;		/* handed along with every packet */
	struct net	*other;		/* a second namespace, if made */
};

/* ---- setup --------------------------------------------------------------- */

static u64 tt_cookie(void)
{
	return tcptrace_net_cookie(&init_net);
}

static void tt_table_down(struct tt_ctx *ctx)
{
	if (!ctx->table_up)
		return;
	/* the in-use count is not reset by init: leave it at 0 */
	tcptrace_conn_purge(tt_cookie());
	if (ctx->other)
		tcptrace_conn_purge(tcptrace_net_cookie(ctx->other));
	tcptrace_conn_exit();
	ctx->table_up = false;
}

static int tt_table_up(struct tt_ctx *ctx, unsigned int entries,
		       unsigned int hs_timeout_s, unsigned int syn_timeout_ms)
{
	struct tcptrace_stats st = {};
	int ret;

	ret = tcptrace_conn_init(entries, hs_timeout_s, syn_timeout_ms);
	if (ret)
		return ret;
	ctx->table_up = true;
	tcptrace_conn_stats(&st);
	ctx->evicted0 = st.conn_evicted;
	ctx->timeouts0 = st.conn_timeouts;
	return st.conn_in_use ? -EBUSY : 0;
}

/* Bring @net's loopback device up; *@was_down: it was not up before. */
static int tt_lo_up(struct net *net, bool *was_down)
{
	struct net_device *lo = net->loopback_dev;
	int ret = 0;

	rtnl_lock();
	*was_down = !(lo->flags & IFF_UP);
	if (*was_down)
		ret = dev_open(lo, NULL);
	rtnl_unlock();
	return ret;
}

static bool tt_lo_was_down;

static int tt_suite_init(struct kunit_suite *suite)
{
	tcptrace_reasons_init();
	return tt_lo_up(&init_net, &tt_lo_was_down);
}

static void tt_suite_exit(struct kunit_suite *suite)
{
	if (!tt_lo_was_down)
		return;
	rtnl_lock();
	dev_close(init_net.loopback_dev);
	rtnl_unlock();
}

static int tt_init(struct kunit *test)
{
	struct tt_ctx *ctx;
	int ret;

	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	test->priv = ctx;
	ctx->skb = alloc_skb(0, GFP_KERNEL);
	if (!ctx->skb)
		return -ENOMEM;
	ret = tcptrace_ring_init(TT_RING_BYTES);
	if (ret)
		return ret;
	ctx->ring_up = true;
	tcptrace_ring_reset();
	return tt_table_up(ctx, TT_ENTRIES, TT_HS_TIMEOUT, TT_SYN_TIMEOUT);
}

static void tt_exit(struct kunit *test)
{
	struct tt_ctx *ctx = test->priv;

	if (!ctx)
		return;
	tt_table_down(ctx);
	if (ctx->ring_up)
		tcptrace_ring_exit();
	if (ctx->skb)
		ctx->skb->sk = NULL;	/* a test's socket, not the skb's */
	kfree_skb(ctx->skb);
}

/* A fresh table of @entries; the old one's entries are gone. */
static void tt_table(struct kunit *test, unsigned int entries,
		     unsigned int hs_timeout_s, unsigned int syn_timeout_ms)
{
	struct tt_ctx *ctx = test->priv;

	tt_table_down(ctx);
	KUNIT_ASSERT_EQ(test, tt_table_up(ctx, entries, hs_timeout_s,
					  syn_timeout_ms), 0);
}

/* ---- counters ------------------------------------------------------------ */

struct tt_stats {
	u64	capacity;
	u64	in_use;
	u64	evicted;	/* since the table was made */
	u64	timeouts;	/* since the table was made */
	u64	produced;	/* records written since the test began */
	u64	buffered;	/* records not read yet */
};

static struct tt_stats tt_stats(struct kunit *test)
{
	struct tt_ctx *ctx = test->priv;
	struct tcptrace_stats st = {};
	struct tt_stats s;

	KUNIT_EXPECT_EQ(test, tcptrace_ring_stats(&st, NULL), 0);
	tcptrace_conn_stats(&st);
	s.capacity = st.conn_capacity;
	s.in_use = st.conn_in_use;
	s.evicted = st.conn_evicted - ctx->evicted0;
	s.timeouts = st.conn_timeouts - ctx->timeouts0;
	s.produced = st.produced;
	s.buffered = st.buffered;
	return s;
}

static u64 tt_in_use(struct kunit *test)
{
	return tt_stats(test).in_use;
}

/* ---- reading records ----------------------------------------------------- */

/*
 * tcptrace_ring_read() copies to user memory.  Give this kernel thread an
 * address space of its own for the call, as kunit_vm_mmap() of later
 * kernels does, read into an anonymous mapping, and copy out of it.
 */
static ssize_t tt_ring_read(void *kbuf, size_t size, u64 netns)
{
	struct mm_struct *mm;
	unsigned long ubuf;
	ssize_t n;

	if (current->mm)
		return -EBUSY;
	mm = mm_alloc();
	if (!mm)
		return -ENOMEM;
	mm->task_size = TASK_SIZE;
	arch_pick_mmap_layout(mm, &current->signal->rlim[RLIMIT_STACK]);
	kthread_use_mm(mm);
	ubuf = vm_mmap(NULL, 0, PAGE_ALIGN(size), PROT_READ | PROT_WRITE,
		       MAP_ANONYMOUS | MAP_PRIVATE, 0);
	if (IS_ERR_VALUE(ubuf)) {
		n = (long)ubuf;
	} else {
		struct tcptrace_scope scope = { .netns = netns };

		n = tcptrace_ring_read((char __user *)ubuf, size, &scope);
		if (n > 0 && copy_from_user(kbuf, (void __user *)ubuf, n))
			n = -EFAULT;
		vm_munmap(ubuf, PAGE_ALIGN(size));
	}
	kthread_unuse_mm(mm);
	mmput(mm);
	return n;
}

#define TT_MAX_RECS	64

struct tt_recs {
	unsigned int			n;
	const struct tcptrace_hdr	*r[TT_MAX_RECS];
};

/*
 * Every record a reader scoped to @netns (0: all) gets now, oldest first,
 * checked for a sane header.
 */
static struct tt_recs *tt_read(struct kunit *test, u64 netns)
{
	struct tt_recs *recs;
	size_t off = 0;
	ssize_t len;
	u8 *buf;

	buf = kunit_kzalloc(test, TT_READ_BYTES, GFP_KERNEL);
	recs = kunit_kzalloc(test, sizeof(*recs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, buf);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, recs);
	len = tt_ring_read(buf, TT_READ_BYTES, netns);
	KUNIT_ASSERT_GE_MSG(test, len, 0, "tcptrace_ring_read: %zd", len);

	while (off < len) {
		const struct tcptrace_hdr *h = (const void *)(buf + off);

		KUNIT_ASSERT_LE(test, off + sizeof(*h), (size_t)len);
		KUNIT_ASSERT_GE(test, h->size, (u16)sizeof(*h));
		KUNIT_ASSERT_EQ(test, h->size % 8, 0);
		KUNIT_ASSERT_LE(test, off + h->size, (size_t)len);
		KUNIT_ASSERT_LT(test, recs->n, (unsigned int)TT_MAX_RECS);
		KUNIT_EXPECT_EQ(test, h->reserved, 0);
		recs->r[recs->n++] = h;
		off += h->size;
	}
	/* one read took everything */
	KUNIT_EXPECT_EQ(test, tt_stats(test).buffered, 0);
	return recs;
}

/* Record @i of @recs, which must be of @type. */
static const void *tt_rec(struct kunit *test, const struct tt_recs *recs,
			  unsigned int i, u16 type, u16 size)
{
	const struct tcptrace_hdr *h;

	KUNIT_ASSERT_LT(test, i, recs->n);
	h = recs->r[i];
	KUNIT_ASSERT_EQ(test, h->type, type);
	KUNIT_ASSERT_EQ(test, h->size, size);
	return h;
}

#define TT_HS(test, recs, i)						\
	((const struct tcptrace_handshake_rec *)tt_rec(test, recs, i,	\
		TCPTRACE_REC_HANDSHAKE,					\
		sizeof(struct tcptrace_handshake_rec)))
#define TT_DIAG(test, recs, i)						\
	((const struct tcptrace_diag_rec *)tt_rec(test, recs, i,	\
		TCPTRACE_REC_DIAG, sizeof(struct tcptrace_diag_rec)))
#define TT_STATE(test, recs, i)						\
	((const struct tcptrace_state_rec *)tt_rec(test, recs, i,	\
		TCPTRACE_REC_STATE, sizeof(struct tcptrace_state_rec)))
#define TT_CONN(test, recs, i)						\
	((const struct tcptrace_conn_rec *)tt_rec(test, recs, i,	\
		TCPTRACE_REC_CONN, sizeof(struct tcptrace_conn_rec)))

static void tt_expect_v4(struct kunit *test, const u8 *got, u32 want)
{
	__be32 a = htonl(want);

	KUNIT_EXPECT_EQ(test, memcmp(got, &a, 4), 0);
}

/* ---- packets -------------------------------------------------------------- */

static void tt_map(u8 *dst, u32 v4)
{
	__be32 a = htonl(v4);

	memset(dst, 0, 16);
	dst[10] = 0xff;
	dst[11] = 0xff;
	memcpy(dst + 12, &a, 4);
}

/* A parsed IPv4 control packet, as tcptrace_parse_skb() makes them. */
static struct tcptrace_pkt *tt_pkt(struct tcptrace_pkt *p, u8 flags,
				   u32 src, u16 sport, u32 dst, u16 dport)
{
	memset(p, 0, sizeof(*p));
	p->family = AF_INET;
	p->flags = flags;
	p->sport = sport;
	p->dport = dport;
	tt_map(p->saddr, src);
	tt_map(p->daddr, dst);
	p->opts.ttl = 64;
	p->opts.window = 64240;
	if (flags & TT_SYN) {
		p->opts.present = TCPTRACE_OPT_MSS;
		p->opts.mss = 1460;
	}
	return p;
}

/* Client to server and back, for the usual pair of ends. */
static struct tcptrace_pkt *tt_c2s(struct tcptrace_pkt *p, u8 flags, u16 cport)
{
	return tt_pkt(p, flags, TT_CLIENT, cport, TT_SERVER, TT_SPORT);
}

static struct tcptrace_pkt *tt_s2c(struct tcptrace_pkt *p, u8 flags, u16 cport)
{
	return tt_pkt(p, flags, TT_SERVER, TT_SPORT, TT_CLIENT, cport);
}

static struct sock *tt_kern_sock(struct kunit *test, int type, int proto);

/*
 * @p leaves this host (LOCAL_OUT), or arrives (LOCAL_IN).  A SYN leaving
 * comes from a TCP socket's connect(), unless a test says otherwise.
 */
static void tt_out_net(struct kunit *test, struct net *net,
		       const struct tcptrace_pkt *p)
{
	struct tt_ctx *ctx = test->priv;
	bool syn = (p->flags & (TT_SYN | TT_ACK)) == TT_SYN;

	if (syn && !ctx->skb->sk)
		ctx->skb->sk = tt_kern_sock(test, SOCK_STREAM, IPPROTO_TCP);
	else
		syn = false;
	tcptrace_conn_packet(net, p, ctx->skb, NULL, true);
	if (syn)
		ctx->skb->sk = NULL;
}

static void tt_out(struct kunit *test, const struct tcptrace_pkt *p)
{
	tt_out_net(test, &init_net, p);
}

static void tt_in(struct kunit *test, const struct tcptrace_pkt *p)
{
	struct tt_ctx *ctx = test->priv;

	tcptrace_conn_packet(&init_net, p, ctx->skb, NULL, false);
}

/* ---- sockets -------------------------------------------------------------- */

static int tt_sock_res_init(struct kunit_resource *res, void *sock)
{
	res->data = sock;
	return 0;
}

static void tt_sock_res_free(struct kunit_resource *res)
{
	struct socket *sock = res->data;
	struct sock *sk = sock->sk;

	/* back to an unconnected socket's state before it is closed */
	sk->sk_state = TCP_CLOSE;
	sock_reset_flag(sk, SOCK_DONE);
	sock_release(sock);
}

/* A kernel socket of init_net, released when the test ends. */
static struct sock *tt_kern_sock(struct kunit *test, int type, int protocol)
{
	struct socket *sock;
	int ret;

	ret = sock_create_kern(&init_net, AF_INET, type, protocol, &sock);
	KUNIT_ASSERT_EQ(test, ret, 0);
	if (!kunit_alloc_resource(test, tt_sock_res_init, tt_sock_res_free,
				  GFP_KERNEL, sock)) {
		sock_release(sock);
		KUNIT_ASSERT_TRUE_MSG(test, false, "cannot track the socket");
	}
	return sock->sk;
}

/*
 * An unconnected TCP socket of init_net that says it is @laddr:@lport
 * talking to @raddr:@rport, as the probes would see it.  Released when
 * the test ends.
 */
static struct sock *tt_sock(struct kunit *test, u32 laddr, u16 lport,
			    u32 raddr, u16 rport)
{
	struct sock *sk = tt_kern_sock(test, SOCK_STREAM, IPPROTO_TCP);
	struct inet_sock *inet = inet_sk(sk);

	inet->inet_saddr = htonl(laddr);
	inet->inet_daddr = htonl(raddr);
	inet->inet_sport = htons(lport);
	inet->inet_dport = htons(rport);
	return sk;
}

/* What the kernel settled on, in the socket, as a handshake ends. */
static void tt_sock_agree(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	tp->rx_opt.wscale_ok = 1;
	tp->rx_opt.snd_wscale = 7;
	tp->rx_opt.rcv_wscale = 9;
	tp->rx_opt.tstamp_ok = 1;
	tp->rx_opt.sack_ok = TCP_SACK_SEEN;
	tcptrace_ecn_set_agreed(tp);
	tp->mss_cache = 1448;
	tp->advmss = 1460;
	tp->rx_opt.mss_clamp = 1400;
}

/* ---- the tests ------------------------------------------------------------ */

static void conn_capacity_rounding(struct kunit *test)
{
	static const struct {
		unsigned int	entries;
		u64		capacity;
	} cases[] = {
		{ 1, 4 }, { 4, 4 }, { 5, 8 }, { 8, 8 }, { 9, 16 },
		{ 63, 64 }, { 64, 64 }, { 65, 128 }, { 100, 128 },
		{ 1000, 1024 }, { 4096, 4096 }, { 4097, 8192 },
	};
	unsigned int i;

	/* the default table of the suite */
	KUNIT_EXPECT_EQ(test, tt_stats(test).capacity, (u64)TT_ENTRIES);
	KUNIT_EXPECT_EQ(test, tt_stats(test).in_use, 0);

	/* entries / 4 buckets, rounded up to a power of two, 4 ways each */
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		tt_table(test, cases[i].entries, TT_HS_TIMEOUT, TT_SYN_TIMEOUT);
		KUNIT_EXPECT_EQ_MSG(test, tt_stats(test).capacity,
				    cases[i].capacity, "entries %u",
				    cases[i].entries);
		KUNIT_EXPECT_EQ(test, tt_stats(test).in_use, 0);
	}
}

static void conn_loopback_syn_two_ends(struct kunit *test)
{
	const struct tcptrace_handshake_rec *hs;
	const struct tcptrace_diag_rec *d;
	struct tcptrace_pkt p;
	struct tt_recs *recs;

	/* one SYN on loopback: the client's end as it leaves, ... */
	tt_pkt(&p, TT_SYN, TT_LOOPBACK, TT_CPORT, TT_LOOPBACK, 8080);
	tt_out(test, &p);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 1);
	/* ... the server's as it arrives */
	tt_in(test, &p);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 2);
	KUNIT_EXPECT_EQ(test, tt_stats(test).produced, 0);

	/*
	 * The server's end answers with an RST: its entry is done at once,
	 * the client's waits for its socket to close.
	 */
	tt_pkt(&p, TT_RST | TT_ACK, TT_LOOPBACK, 8080, TT_LOOPBACK, TT_CPORT);
	tt_out(test, &p);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 1);
	tt_in(test, &p);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 1);
	KUNIT_EXPECT_EQ(test, tt_stats(test).evicted, 0);

	recs = tt_read(test, 0);
	KUNIT_ASSERT_EQ(test, recs->n, 2);
	/* the RST leaving, without a socket: made by a firewall rule */
	d = TT_DIAG(test, recs, 0);
	KUNIT_EXPECT_EQ(test, d->kind, TCPTRACE_DIAG_RST_OUT);
	KUNIT_EXPECT_EQ(test, d->cause, TCPTRACE_CAUSE_REJECT);
	KUNIT_EXPECT_EQ(test, d->sport, 8080);
	KUNIT_EXPECT_EQ(test, d->dport, TT_CPORT);
	/* the server's handshake, from its end */
	hs = TT_HS(test, recs, 1);
	KUNIT_EXPECT_EQ(test, hs->role, TCPTRACE_ROLE_SERVER);
	KUNIT_EXPECT_EQ(test, hs->outcome, TCPTRACE_HS_RESET);
	KUNIT_EXPECT_EQ(test, hs->family, AF_INET);
	KUNIT_EXPECT_EQ(test, hs->sport, 8080);
	KUNIT_EXPECT_EQ(test, hs->dport, TT_CPORT);
	KUNIT_EXPECT_EQ(test, hs->sock_cookie, 0);
	KUNIT_EXPECT_EQ(test, hs->netns_cookie, tt_cookie());
	KUNIT_EXPECT_EQ(test, hs->netns_ino, init_net.ns.inum);
	tt_expect_v4(test, hs->saddr, TT_LOOPBACK);
	tt_expect_v4(test, hs->daddr, TT_LOOPBACK);
	KUNIT_EXPECT_EQ(test, hs->syn.mss, 1460);
	KUNIT_EXPECT_NE(test, hs->syn.seen_ns, 0);
	KUNIT_EXPECT_EQ(test, hs->synack.seen_ns, 0);
}

static void conn_syn_retransmission(struct kunit *test)
{
	const struct tcptrace_handshake_rec *hs;
	struct tcptrace_pkt p;
	struct tt_recs *recs;
	unsigned int i;

	/* a server's end sees the SYN three times */
	for (i = 0; i < 3; i++) {
		tt_c2s(&p, TT_SYN, TT_CPORT);
		p.opts.mss = 1460 - i;
		p.opts.ttl = 50;
		tt_in(test, &p);
		KUNIT_EXPECT_EQ(test, tt_in_use(test), 1);
	}
	/* and a client's end sends its SYN twice */
	tt_c2s(&p, TT_SYN, TT_CPORT + 1);
	tt_out(test, &p);
	tt_out(test, &p);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 2);

	tt_in(test, tt_c2s(&p, TT_RST, TT_CPORT));
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 1);
	recs = tt_read(test, 0);
	KUNIT_ASSERT_EQ(test, recs->n, 1);
	hs = TT_HS(test, recs, 0);
	KUNIT_EXPECT_EQ(test, hs->role, TCPTRACE_ROLE_SERVER);
	KUNIT_EXPECT_EQ(test, hs->outcome, TCPTRACE_HS_RESET);
	KUNIT_EXPECT_EQ(test, hs->syn_retrans, 2);
	KUNIT_EXPECT_EQ(test, hs->synack_retrans, 0);
	/* the first SYN's options are kept */
	KUNIT_EXPECT_EQ(test, hs->syn.mss, 1460);
	KUNIT_EXPECT_EQ(test, hs->syn.ttl, 50);
	/* from the server's view */
	KUNIT_EXPECT_EQ(test, hs->sport, TT_SPORT);
	KUNIT_EXPECT_EQ(test, hs->dport, TT_CPORT);
	tt_expect_v4(test, hs->saddr, TT_SERVER);
	tt_expect_v4(test, hs->daddr, TT_CLIENT);
}

static void conn_synack_recorded(struct kunit *test)
{
	const struct tcptrace_handshake_rec *hs;
	struct tcptrace_pkt p;
	struct tt_recs *recs;

	/* a SYN-ACK nobody asked for makes no entry */
	tt_in(test, tt_s2c(&p, TT_SYN | TT_ACK, TT_CPORT + 7));
	tt_out(test, &p);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 0);

	tt_in(test, tt_c2s(&p, TT_SYN, TT_CPORT));
	tt_s2c(&p, TT_SYN | TT_ACK, TT_CPORT);
	p.opts.present |= TCPTRACE_OPT_WSCALE | TCPTRACE_OPT_ECN;
	p.opts.mss = 1400;
	p.opts.wscale = 9;
	tt_out(test, &p);
	/* retransmitted, with other options: the first one counts */
	p.opts.mss = 1000;
	tt_out(test, &p);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 1);

	/* the client aborts */
	tt_in(test, tt_c2s(&p, TT_RST, TT_CPORT));
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 0);
	recs = tt_read(test, 0);
	KUNIT_ASSERT_EQ(test, recs->n, 1);
	hs = TT_HS(test, recs, 0);
	KUNIT_EXPECT_EQ(test, hs->outcome, TCPTRACE_HS_RESET);
	KUNIT_EXPECT_EQ(test, hs->syn.mss, 1460);
	KUNIT_EXPECT_EQ(test, hs->synack.mss, 1400);
	KUNIT_EXPECT_EQ(test, hs->synack.wscale, 9);
	KUNIT_EXPECT_EQ(test, hs->synack.present,
			TCPTRACE_OPT_MSS | TCPTRACE_OPT_WSCALE |
			TCPTRACE_OPT_ECN);
	KUNIT_EXPECT_GE(test, hs->synack.seen_ns, hs->syn.seen_ns);
	KUNIT_EXPECT_LE(test, hs->synack.seen_ns, hs->done_ns);
	KUNIT_EXPECT_EQ(test, hs->syn_retrans, 0);
	KUNIT_EXPECT_EQ(test, hs->synack_retrans, 1);
}

static void conn_rst_releases_server_entry(struct kunit *test)
{
	const struct tcptrace_handshake_rec *hs;
	struct tcptrace_pkt p;
	struct tt_recs *recs;

	/* SYN in, RST back out: a closed port */
	tt_in(test, tt_c2s(&p, TT_SYN, TT_CPORT));
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 1);
	tt_out(test, tt_s2c(&p, TT_RST | TT_ACK, TT_CPORT));
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 0);
	/* a second RST finds nothing */
	tt_out(test, &p);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 0);

	recs = tt_read(test, 0);
	KUNIT_ASSERT_EQ(test, recs->n, 3);
	KUNIT_EXPECT_EQ(test, TT_DIAG(test, recs, 0)->kind,
			TCPTRACE_DIAG_RST_OUT);
	hs = TT_HS(test, recs, 1);
	KUNIT_EXPECT_EQ(test, hs->role, TCPTRACE_ROLE_SERVER);
	KUNIT_EXPECT_EQ(test, hs->outcome, TCPTRACE_HS_RESET);
	KUNIT_EXPECT_GE(test, hs->done_ns, hs->syn.seen_ns);
	KUNIT_EXPECT_EQ(test, TT_DIAG(test, recs, 2)->kind,
			TCPTRACE_DIAG_RST_OUT);

	/* the same tuple can start over */
	tt_in(test, tt_c2s(&p, TT_SYN, TT_CPORT));
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 1);
}

static void conn_rst_keeps_client_entry(struct kunit *test)
{
	struct tcptrace_pkt p;

	/* a client's RST is for its socket's close to report */
	tt_out(test, tt_c2s(&p, TT_SYN, TT_CPORT));
	tt_in(test, tt_s2c(&p, TT_RST | TT_ACK, TT_CPORT));
	tt_in(test, &p);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 1);
	KUNIT_EXPECT_EQ(test, tt_stats(test).produced, 0);
}

static void conn_rst_out_without_socket(struct kunit *test)
{
	const struct tcptrace_diag_rec *d;
	struct tcptrace_pkt p;
	struct tt_recs *recs;

	/* no entry, no socket: an IPv4 RST only a rule can have made */
	tt_out(test, tt_s2c(&p, TT_RST, TT_CPORT));
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 0);
	recs = tt_read(test, 0);
	KUNIT_ASSERT_EQ(test, recs->n, 1);
	d = TT_DIAG(test, recs, 0);
	KUNIT_EXPECT_EQ(test, d->kind, TCPTRACE_DIAG_RST_OUT);
	KUNIT_EXPECT_EQ(test, d->cause, TCPTRACE_CAUSE_REJECT);
	KUNIT_EXPECT_EQ(test, d->sock_cookie, 0);
	KUNIT_EXPECT_EQ(test, d->state, 0);
	KUNIT_EXPECT_EQ(test, d->family, AF_INET);
	KUNIT_EXPECT_EQ(test, d->sport, TT_SPORT);
	KUNIT_EXPECT_EQ(test, d->dport, TT_CPORT);
	tt_expect_v4(test, d->saddr, TT_SERVER);
	tt_expect_v4(test, d->daddr, TT_CLIENT);
	KUNIT_EXPECT_EQ(test, d->netns_cookie, tt_cookie());
	KUNIT_EXPECT_EQ(test, d->hdr.version, TCPTRACE_DIAG_REC_VERSION);
	KUNIT_EXPECT_EQ(test, d->hdr.ctx, TCPTRACE_CTX_KTHREAD);
}

/* An IPv6 control packet between @src and @dst. */
static struct tcptrace_pkt *tt_pkt6(struct tcptrace_pkt *p, u8 flags,
				    const struct in6_addr *src, u16 sport,
				    const struct in6_addr *dst, u16 dport)
{
	memset(p, 0, sizeof(*p));
	p->family = AF_INET6;
	p->flags = flags;
	p->sport = sport;
	p->dport = dport;
	memcpy(p->saddr, src, 16);
	memcpy(p->daddr, dst, 16);
	p->opts.ttl = 64;
	return p;
}

static const struct in6_addr tt_remote6 = {
	.s6_addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 }
};

/* Why this host sent an RST, from the skb's socket and the addresses. */
static void conn_rst_out_causes(struct kunit *test)
{
	struct tt_ctx *ctx = test->priv;
	static const u8 want[] = {
		TCPTRACE_CAUSE_ABORT, TCPTRACE_CAUSE_LINGER,
		TCPTRACE_CAUSE_NO_SOCKET, TCPTRACE_CAUSE_HALF_OPEN,
		TCPTRACE_CAUSE_NO_SOCKET, TCPTRACE_CAUSE_REJECT,
	};
	const struct tcptrace_diag_rec *d;
	struct sock *sk, *ctl;
	struct tcptrace_pkt p;
	struct tt_recs *recs;
	unsigned int i;

	/* a TCP socket's own RST: an abort, or close() with linger 0 */
	sk = tt_sock(test, TT_CLIENT, TT_CPORT, TT_SERVER, TT_SPORT);
	ctx->skb->sk = sk;
	tt_out(test, tt_c2s(&p, TT_RST | TT_ACK, TT_CPORT));
	sock_set_flag(sk, SOCK_LINGER);
	sk->sk_lingertime = 0;
	tt_out(test, &p);
	sock_reset_flag(sk, SOCK_LINGER);

	/*
	 * From the stack's control socket (raw, as IPv4's is): an answer to
	 * a SYN (RST with ACK) means nobody listens; one to a segment with
	 * ACK (RST without) that no socket owns, a half-open connection.
	 */
	ctl = tt_kern_sock(test, SOCK_RAW, IPPROTO_TCP);
	ctx->skb->sk = ctl;
	tt_out(test, tt_s2c(&p, TT_RST | TT_ACK, TT_CPORT));
	tt_out(test, tt_s2c(&p, TT_RST, TT_CPORT));
	ctx->skb->sk = NULL;

	/* IPv6 needs no socket, only a local source address */
	tt_out(test, tt_pkt6(&p, TT_RST | TT_ACK, &in6addr_loopback, TT_SPORT,
			     &in6addr_loopback, TT_CPORT));
	tt_out(test, tt_pkt6(&p, TT_RST | TT_ACK, &tt_remote6, TT_SPORT,
			     &in6addr_loopback, TT_CPORT));
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 0);

	recs = tt_read(test, 0);
	KUNIT_ASSERT_EQ(test, recs->n, ARRAY_SIZE(want));
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		d = TT_DIAG(test, recs, i);
		KUNIT_EXPECT_EQ(test, d->kind, TCPTRACE_DIAG_RST_OUT);
		KUNIT_EXPECT_EQ_MSG(test, d->cause, want[i], "RST %u", i);
		KUNIT_EXPECT_EQ(test, d->family, i < 4 ? AF_INET : AF_INET6);
		/* only a TCP socket's own RST names it */
		KUNIT_EXPECT_EQ(test, d->sock_cookie,
				i < 2 ? tcptrace_sock_cookie(sk) : 0);
		KUNIT_EXPECT_EQ(test, d->state, i < 2 ? sk->sk_state : 0);
	}
	KUNIT_EXPECT_EQ(test, TT_DIAG(test, recs, 0)->sport, TT_CPORT);
	KUNIT_EXPECT_EQ(test, TT_DIAG(test, recs, 2)->sport, TT_SPORT);
	d = TT_DIAG(test, recs, 4);
	KUNIT_EXPECT_EQ(test, memcmp(d->saddr, &in6addr_loopback, 16), 0);
}

static void conn_not_control(struct kunit *test)
{
	struct tcptrace_pkt p;

	/* FINs, ACKs: no entry, no record */
	tt_out(test, tt_c2s(&p, TT_FIN | TT_ACK, TT_CPORT));
	tt_in(test, &p);
	tt_out(test, tt_c2s(&p, TT_ACK, TT_CPORT));
	tt_in(test, &p);
	tt_out(test, tt_c2s(&p, TT_FIN, TT_CPORT));
	tt_in(test, &p);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 0);
	KUNIT_EXPECT_EQ(test, tt_stats(test).produced, 0);

	/* and they leave a handshake alone */
	tt_in(test, tt_c2s(&p, TT_SYN, TT_CPORT));
	tt_in(test, tt_c2s(&p, TT_FIN | TT_ACK, TT_CPORT));
	tt_out(test, tt_s2c(&p, TT_FIN | TT_ACK, TT_CPORT));
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 1);
	KUNIT_EXPECT_EQ(test, tt_stats(test).produced, 0);
}

static void conn_ipv6(struct kunit *test)
{
	const struct in6_addr *lo6 = &in6addr_loopback;
	const struct tcptrace_handshake_rec *hs;
	struct tcptrace_pkt p;
	struct tt_recs *recs;

	/* ::1 talking to itself: both ends */
	tt_pkt6(&p, TT_SYN, lo6, TT_CPORT, lo6, TT_SPORT);
	p.opts.ttl = 61;
	tt_out(test, &p);
	tt_in(test, &p);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 2);
	/* an IPv4 packet of the same ports is another connection */
	tt_in(test, tt_pkt(&p, TT_RST, TT_LOOPBACK, TT_CPORT, TT_LOOPBACK,
			   TT_SPORT));
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 2);

	/* the client aborts: the server's end is reset */
	tt_in(test, tt_pkt6(&p, TT_RST, lo6, TT_CPORT, lo6, TT_SPORT));
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 1);

	recs = tt_read(test, 0);
	KUNIT_ASSERT_EQ(test, recs->n, 1);
	hs = TT_HS(test, recs, 0);
	KUNIT_EXPECT_EQ(test, hs->family, AF_INET6);
	KUNIT_EXPECT_EQ(test, hs->role, TCPTRACE_ROLE_SERVER);
	KUNIT_EXPECT_EQ(test, hs->sport, TT_SPORT);
	KUNIT_EXPECT_EQ(test, hs->dport, TT_CPORT);
	KUNIT_EXPECT_EQ(test, memcmp(hs->saddr, lo6, 16), 0);
	KUNIT_EXPECT_EQ(test, memcmp(hs->daddr, lo6, 16), 0);
	KUNIT_EXPECT_EQ(test, hs->syn.ttl, 61);
}

/* A 1-bucket table: every key is in the same bucket. */
static void conn_bucket_evicts_oldest(struct kunit *test)
{
	struct tcptrace_pkt p;
	struct tt_recs *recs;
	unsigned int i;

	tt_table(test, TT_WAYS, TT_HS_TIMEOUT, TT_SYN_TIMEOUT);
	KUNIT_ASSERT_EQ(test, tt_stats(test).capacity, TT_WAYS);

	for (i = 0; i < TT_WAYS; i++)
		tt_in(test, tt_c2s(&p, TT_SYN, TT_CPORT + i));
	KUNIT_EXPECT_EQ(test, tt_in_use(test), TT_WAYS);
	KUNIT_EXPECT_EQ(test, tt_stats(test).evicted, 0);

	/* a fifth pushes the oldest out */
	tt_in(test, tt_c2s(&p, TT_SYN, TT_CPORT + TT_WAYS));
	KUNIT_EXPECT_EQ(test, tt_in_use(test), TT_WAYS);
	KUNIT_EXPECT_EQ(test, tt_stats(test).evicted, 1);

	/* the oldest is gone: its RST finds nothing */
	tt_in(test, tt_c2s(&p, TT_RST, TT_CPORT));
	KUNIT_EXPECT_EQ(test, tt_in_use(test), TT_WAYS);
	KUNIT_EXPECT_EQ(test, tt_stats(test).produced, 0);
	/* the others are there */
	for (i = 1; i <= TT_WAYS; i++)
		tt_in(test, tt_c2s(&p, TT_RST, TT_CPORT + i));
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 0);
	recs = tt_read(test, 0);
	KUNIT_ASSERT_EQ(test, recs->n, TT_WAYS);
	for (i = 0; i < TT_WAYS; i++)
		KUNIT_EXPECT_EQ(test, TT_HS(test, recs, i)->dport,
				TT_CPORT + 1 + i);
}

/* In the 16-bucket table: the first eviction comes when a bucket is full. */
static void conn_bucket_overflow(struct kunit *test)
{
	struct tt_stats st = {};
	struct tcptrace_pkt p;
	unsigned int n;

	for (n = 1; n <= TT_ENTRIES + 1; n++) {
		tt_out(test, tt_c2s(&p, TT_SYN, TT_CPORT + n));
		st = tt_stats(test);
		if (st.evicted)
			break;
		KUNIT_ASSERT_EQ(test, st.in_use, n);
	}
	/* pigeonholes: not before one bucket can hold 5, at most 65 */
	KUNIT_EXPECT_EQ(test, st.evicted, 1);
	KUNIT_EXPECT_GT(test, n, TT_WAYS);
	KUNIT_EXPECT_LE(test, n, TT_ENTRIES + 1);
	/* the new entry took an old one's place */
	KUNIT_EXPECT_EQ(test, st.in_use, n - 1);
	kunit_info(test, "first eviction at entry %u of %u\n", n, TT_ENTRIES);
}

static void conn_table_exhaustion(struct kunit *test)
{
	struct tcptrace_pkt p;
	unsigned int i, total = 10 * TT_ENTRIES, over = 0;

	for (i = 0; i < total; i++) {
		tt_pkt(&p, TT_SYN, TT_CLIENT + i / 1000, 1024 + i % 1000,
		       TT_SERVER, TT_SPORT);
		tt_in(test, &p);
		if (tt_in_use(test) > TT_ENTRIES)
			over++;
	}
	KUNIT_EXPECT_EQ(test, over, 0);
	/* every bucket full, everything beyond that evicted */
	KUNIT_EXPECT_EQ(test, tt_in_use(test), TT_ENTRIES);
	KUNIT_EXPECT_EQ(test, tt_stats(test).evicted, total - TT_ENTRIES);
	KUNIT_EXPECT_EQ(test, tt_stats(test).produced, 0);
}

static int tt_net_res_init(struct kunit_resource *res, void *net)
{
	res->data = net;
	return 0;
}

static void tt_net_res_free(struct kunit_resource *res)
{
	/* after tt_exit(): the table has forgotten the namespace */
	put_net(res->data);
}

/* A new network namespace, loopback up; gone when the test ends. */
static struct net *tt_other_net(struct kunit *test)
{
	struct tt_ctx *ctx = test->priv;
	struct net *net;
	bool was_down;

	KUNIT_ASSERT_NULL(test, ctx->other);
	net = copy_net_ns(CLONE_NEWNET, &init_user_ns, &init_net);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, net);
	if (!kunit_alloc_resource(test, tt_net_res_init, tt_net_res_free,
				  GFP_KERNEL, net)) {
		put_net(net);
		KUNIT_ASSERT_TRUE_MSG(test, false, "cannot track the namespace");
	}
	ctx->other = net;
	KUNIT_ASSERT_EQ(test, tt_lo_up(net, &was_down), 0);
	KUNIT_ASSERT_NE(test, tcptrace_net_cookie(net), tt_cookie());
	return net;
}

static void conn_purge(struct kunit *test)
{
	struct tt_ctx *ctx = test->priv;
	struct tcptrace_pkt p;
	struct net *other;
	unsigned int i;

	/* room enough for no bucket to overflow */
	tt_table(test, 4096, TT_HS_TIMEOUT, TT_SYN_TIMEOUT);
	other = tt_other_net(test);
	for (i = 0; i < 10; i++) {
		tt_out(test, tt_c2s(&p, TT_SYN, TT_CPORT + i));
		tt_in(test, &p);
		/* the very same tuples, in the other namespace */
		tt_out_net(test, other, &p);
		tcptrace_conn_packet(other, &p, ctx->skb, NULL, false);
	}
	KUNIT_ASSERT_EQ(test, tt_in_use(test), 40);
	KUNIT_ASSERT_EQ(test, tt_stats(test).evicted, 0);

	/* a namespace without entries */
	tcptrace_conn_purge(tt_cookie() ^ tcptrace_net_cookie(other));
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 40);

	tcptrace_conn_purge(tcptrace_net_cookie(other));
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 20);
	tcptrace_conn_purge(tt_cookie());
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 0);
	KUNIT_EXPECT_EQ(test, tt_stats(test).produced, 0);

	/* purged entries are gone: their RSTs find nothing */
	tt_in(test, tt_c2s(&p, TT_RST, TT_CPORT));
	tcptrace_conn_packet(other, &p, ctx->skb, NULL, false);
	KUNIT_EXPECT_EQ(test, tt_stats(test).produced, 0);

	/* and their ways are free again */
	tt_table(test, TT_WAYS, TT_HS_TIMEOUT, TT_SYN_TIMEOUT);
	for (i = 0; i < TT_WAYS; i++)
		tt_in(test, tt_c2s(&p, TT_SYN, TT_CPORT + i));
	tcptrace_conn_purge(tt_cookie());
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 0);
	for (i = 0; i < TT_WAYS; i++)
		tt_in(test, tt_c2s(&p, TT_SYN, TT_CPORT + TT_WAYS + i));
	KUNIT_EXPECT_EQ(test, tt_in_use(test), TT_WAYS);
	KUNIT_EXPECT_EQ(test, tt_stats(test).evicted, 0);
}

static void conn_scoped_reader(struct kunit *test)
{
	struct tt_ctx *ctx = test->priv;
	struct tcptrace_pkt p;
	struct tt_recs *recs;
	struct net *other = tt_other_net(test);

	/* one RST leaving each namespace */
	tt_out(test, tt_s2c(&p, TT_RST, TT_CPORT));
	tt_s2c(&p, TT_RST, TT_CPORT + 1);
	tcptrace_conn_packet(other, &p, ctx->skb, NULL, true);
	KUNIT_ASSERT_EQ(test, tt_stats(test).produced, 2);

	/* a reader in the other namespace gets its own only */
	recs = tt_read(test, tcptrace_net_cookie(other));
	KUNIT_ASSERT_EQ(test, recs->n, 1);
	KUNIT_EXPECT_EQ(test, TT_DIAG(test, recs, 0)->netns_cookie,
			tcptrace_net_cookie(other));
	KUNIT_EXPECT_EQ(test, TT_DIAG(test, recs, 0)->netns_ino,
			other->ns.inum);
	KUNIT_EXPECT_EQ(test, TT_DIAG(test, recs, 0)->dport, TT_CPORT + 1);
}

/* Both ends of a loopback connection, from the SYN to ESTABLISHED. */
static void conn_established(struct kunit *test)
{
	const struct tcptrace_handshake_rec *hs;
	struct sock *csk, *ssk;
	struct tcptrace_pkt p;
	struct tt_recs *recs;
	unsigned int i;

	csk = tt_sock(test, TT_LOOPBACK, TT_CPORT, TT_LOOPBACK, 8080);
	ssk = tt_sock(test, TT_LOOPBACK, 8080, TT_LOOPBACK, TT_CPORT);
	tt_sock_agree(csk);
	tt_sock_agree(ssk);

	tt_pkt(&p, TT_SYN, TT_LOOPBACK, TT_CPORT, TT_LOOPBACK, 8080);
	p.opts.present |= TCPTRACE_OPT_TS;
	p.opts.ts_val = 1234;
	tt_out(test, &p);
	tt_in(test, &p);
	tt_pkt(&p, TT_SYN | TT_ACK, TT_LOOPBACK, 8080, TT_LOOPBACK, TT_CPORT);
	p.opts.mss = 1400;
	p.opts.ttl = 63;
	tt_out(test, &p);
	tt_in(test, &p);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 2);

	tcptrace_conn_state(ssk, TCP_SYN_RECV, TCP_ESTABLISHED, NULL);
	tcptrace_conn_state(csk, TCP_SYN_SENT, TCP_ESTABLISHED, NULL);
	/* the entries stay, for RSTs to come */
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 2);

	recs = tt_read(test, 0);
	KUNIT_ASSERT_EQ(test, recs->n, 2);
	for (i = 0; i < 2; i++) {
		struct sock *sk = i ? csk : ssk;

		hs = TT_HS(test, recs, i);
		KUNIT_EXPECT_EQ(test, hs->role, i ? TCPTRACE_ROLE_CLIENT :
						    TCPTRACE_ROLE_SERVER);
		KUNIT_EXPECT_EQ(test, hs->outcome, TCPTRACE_HS_ESTABLISHED);
		KUNIT_EXPECT_EQ(test, hs->sock_cookie,
				tcptrace_sock_cookie(sk));
		KUNIT_EXPECT_NE(test, hs->sock_cookie, 0);
		KUNIT_EXPECT_EQ(test, hs->sport, i ? TT_CPORT : 8080);
		KUNIT_EXPECT_EQ(test, hs->dport, i ? 8080 : TT_CPORT);
		/* both saw the same SYN and SYN-ACK */
		KUNIT_EXPECT_EQ(test, hs->syn.mss, 1460);
		KUNIT_EXPECT_EQ(test, hs->syn.ts_val, 1234);
		KUNIT_EXPECT_EQ(test, hs->syn.present,
				TCPTRACE_OPT_MSS | TCPTRACE_OPT_TS);
		KUNIT_EXPECT_EQ(test, hs->synack.mss, 1400);
		KUNIT_EXPECT_NE(test, hs->synack.seen_ns, 0);
		/* and what their sockets say */
		KUNIT_EXPECT_EQ(test, hs->agreed,
				TCPTRACE_AGREED_WSCALE | TCPTRACE_AGREED_TS |
				TCPTRACE_AGREED_SACK | TCPTRACE_AGREED_ECN);
		KUNIT_EXPECT_EQ(test, hs->snd_wscale, 7);
		KUNIT_EXPECT_EQ(test, hs->rcv_wscale, 9);
		KUNIT_EXPECT_EQ(test, hs->mss, 1448);
		KUNIT_EXPECT_EQ(test, hs->advmss, 1460);
		KUNIT_EXPECT_EQ(test, hs->peer_mss, 1400);
	}
}

/* An RST for an established connection, then its socket taking it. */
static void conn_established_rst(struct kunit *test)
{
	const struct tcptrace_diag_rec *d;
	struct tcptrace_pkt p;
	struct tt_recs *recs;
	struct sock *sk;

	sk = tt_sock(test, TT_CLIENT, TT_CPORT, TT_SERVER, TT_SPORT);
	tt_out(test, tt_c2s(&p, TT_SYN, TT_CPORT));
	tt_s2c(&p, TT_SYN | TT_ACK, TT_CPORT);
	p.opts.ttl = 52;
	tt_in(test, &p);
	tcptrace_conn_state(sk, TCP_SYN_SENT, TCP_ESTABLISHED, NULL);

	/* an RST with another TTL than the SYN-ACK's: a middlebox */
	tt_s2c(&p, TT_RST, TT_CPORT);
	p.opts.ttl = 60;
	tt_in(test, &p);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 1);
	sk->sk_state = TCP_ESTABLISHED;
	tcp_sk(sk)->snd_una = 1000;
	tcp_sk(sk)->snd_nxt = 2000;
	tcptrace_conn_rst_in(sk);

	recs = tt_read(test, 0);
	KUNIT_ASSERT_EQ(test, recs->n, 2);
	KUNIT_EXPECT_EQ(test, TT_HS(test, recs, 0)->outcome,
			TCPTRACE_HS_ESTABLISHED);
	d = TT_DIAG(test, recs, 1);
	KUNIT_EXPECT_EQ(test, d->kind, TCPTRACE_DIAG_RST_IN);
	KUNIT_EXPECT_EQ(test, d->ttl_seen, 60);
	KUNIT_EXPECT_EQ(test, d->ttl_expected, 52);
	KUNIT_EXPECT_EQ(test, d->flags, TCPTRACE_DF_MIDDLEBOX);
	KUNIT_EXPECT_EQ(test, d->state, TCP_ESTABLISHED);
	/* our data was not acknowledged: the peer lost the connection */
	KUNIT_EXPECT_EQ(test, d->cause, TCPTRACE_CAUSE_HALF_OPEN);
	KUNIT_EXPECT_EQ(test, d->sock_cookie, tcptrace_sock_cookie(sk));
	KUNIT_EXPECT_EQ(test, d->sport, TT_CPORT);
	tt_expect_v4(test, d->daddr, TT_SERVER);

	/* same TTL: no middlebox */
	tt_s2c(&p, TT_RST, TT_CPORT);
	p.opts.ttl = 52;
	tt_in(test, &p);
	tcp_sk(sk)->snd_una = 2000;
	tcptrace_conn_rst_in(sk);
	recs = tt_read(test, 0);
	KUNIT_ASSERT_EQ(test, recs->n, 1);
	d = TT_DIAG(test, recs, 0);
	KUNIT_EXPECT_EQ(test, d->flags, 0);
	KUNIT_EXPECT_EQ(test, d->ttl_seen, 52);
	KUNIT_EXPECT_EQ(test, d->cause, TCPTRACE_CAUSE_NONE);
}

/* A socket closing: its totals, and its entry is released. */
static void conn_close_totals(struct kunit *test)
{
	const struct tcptrace_conn_rec *c;
	struct tcptrace_pkt p;
	struct tt_recs *recs;
	struct tcp_sock *tp;
	struct sock *sk;

	sk = tt_sock(test, TT_CLIENT, TT_CPORT, TT_SERVER, TT_SPORT);
	tt_out(test, tt_c2s(&p, TT_SYN, TT_CPORT));
	tt_in(test, tt_s2c(&p, TT_SYN | TT_ACK, TT_CPORT));
	tcptrace_conn_state(sk, TCP_SYN_SENT, TCP_ESTABLISHED, NULL);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 1);

	tp = tcp_sk(sk);
	tp->bytes_sent = 10000;
	tp->bytes_retrans = 1500;
	tp->bytes_received = 5001;	/* and a FIN */
	sock_set_flag(sk, SOCK_DONE);
	tp->total_retrans = 2;
	tp->segs_out = 12;
	tp->segs_in = 9;
	tcptrace_conn_state(sk, TCP_CLOSE_WAIT, TCP_CLOSE, NULL);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 0);

	recs = tt_read(test, 0);
	KUNIT_ASSERT_EQ(test, recs->n, 2);
	TT_HS(test, recs, 0);
	c = TT_CONN(test, recs, 1);
	KUNIT_EXPECT_EQ(test, c->sock_cookie, tcptrace_sock_cookie(sk));
	KUNIT_EXPECT_EQ(test, c->old_state, TCP_CLOSE_WAIT);
	KUNIT_EXPECT_EQ(test, c->family, AF_INET);
	KUNIT_EXPECT_EQ(test, c->sport, TT_CPORT);
	KUNIT_EXPECT_EQ(test, c->dport, TT_SPORT);
	tt_expect_v4(test, c->saddr, TT_CLIENT);
	tt_expect_v4(test, c->daddr, TT_SERVER);
	KUNIT_EXPECT_EQ(test, c->bytes_sent, 8500);
	KUNIT_EXPECT_EQ(test, c->bytes_received, 5000);
	KUNIT_EXPECT_EQ(test, c->total_retrans, 2);
	KUNIT_EXPECT_EQ(test, c->segs_out, 12);
	KUNIT_EXPECT_EQ(test, c->segs_in, 9);
}

/* A client that gave up: SYN_SENT -> CLOSE. */
static void conn_client_gave_up(struct kunit *test)
{
	const struct tcptrace_handshake_rec *hs;
	const struct tcptrace_diag_rec *d;
	struct tcptrace_pkt p;
	struct tt_recs *recs;
	struct sock *sk;

	/* nothing came back to three SYNs */
	sk = tt_sock(test, TT_CLIENT, TT_CPORT, TT_SERVER, TT_SPORT);
	tt_c2s(&p, TT_SYN, TT_CPORT);
	tt_out(test, &p);
	tt_out(test, &p);
	tt_out(test, &p);
	tcptrace_conn_state(sk, TCP_SYN_SENT, TCP_CLOSE, NULL);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 0);
	recs = tt_read(test, 0);
	KUNIT_ASSERT_EQ(test, recs->n, 3);
	hs = TT_HS(test, recs, 0);
	KUNIT_EXPECT_EQ(test, hs->outcome, TCPTRACE_HS_FAILED);
	KUNIT_EXPECT_EQ(test, hs->role, TCPTRACE_ROLE_CLIENT);
	KUNIT_EXPECT_EQ(test, hs->syn_retrans, 2);
	d = TT_DIAG(test, recs, 1);
	KUNIT_EXPECT_EQ(test, d->kind, TCPTRACE_DIAG_NO_SYNACK);
	KUNIT_EXPECT_EQ(test, d->cause, TCPTRACE_CAUSE_UNANSWERED);
	KUNIT_EXPECT_EQ(test, d->count, 3);
	KUNIT_EXPECT_EQ(test, d->sock_cookie, tcptrace_sock_cookie(sk));
	TT_CONN(test, recs, 2);

	/* an RST came back: reset, not failed, and no diagnosis */
	tt_out(test, tt_c2s(&p, TT_SYN, TT_CPORT));
	tt_in(test, tt_s2c(&p, TT_RST | TT_ACK, TT_CPORT));
	tcptrace_conn_state(sk, TCP_SYN_SENT, TCP_CLOSE, NULL);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 0);
	recs = tt_read(test, 0);
	KUNIT_ASSERT_EQ(test, recs->n, 2);
	KUNIT_EXPECT_EQ(test, TT_HS(test, recs, 0)->outcome,
			TCPTRACE_HS_RESET);
	TT_CONN(test, recs, 1);
}

/* A full bucket gives up an established entry before any handshake. */
static void conn_evicts_established_first(struct kunit *test)
{
	struct tcptrace_pkt p;
	struct tt_recs *recs;
	struct sock *sk;
	unsigned int i;

	tt_table(test, TT_WAYS, TT_HS_TIMEOUT, TT_SYN_TIMEOUT);
	for (i = 1; i < TT_WAYS; i++)
		tt_in(test, tt_c2s(&p, TT_SYN, TT_CPORT + i));
	/* the youngest entry, established */
	sk = tt_sock(test, TT_CLIENT, TT_CPORT, TT_SERVER, TT_SPORT);
	tt_out(test, tt_c2s(&p, TT_SYN, TT_CPORT));
	tt_in(test, tt_s2c(&p, TT_SYN | TT_ACK, TT_CPORT));
	tcptrace_conn_state(sk, TCP_SYN_SENT, TCP_ESTABLISHED, NULL);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), TT_WAYS);

	tt_in(test, tt_c2s(&p, TT_SYN, TT_CPORT + TT_WAYS));
	KUNIT_EXPECT_EQ(test, tt_stats(test).evicted, 1);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), TT_WAYS);
	/* the established one went: closing it releases nothing */
	tcptrace_conn_state(sk, TCP_ESTABLISHED, TCP_CLOSE, NULL);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), TT_WAYS);
	/* every handshake is still there */
	for (i = 1; i <= TT_WAYS; i++)
		tt_in(test, tt_c2s(&p, TT_RST, TT_CPORT + i));
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 0);
	recs = tt_read(test, 0);
	/* ESTABLISHED, the totals, TT_WAYS resets */
	KUNIT_ASSERT_EQ(test, recs->n, 2 + TT_WAYS);
	for (i = 0; i < TT_WAYS; i++)
		KUNIT_EXPECT_EQ(test, TT_HS(test, recs, 2 + i)->outcome,
				TCPTRACE_HS_RESET);
}

/* Wait up to 10 s for the table's scan to bring in_use down to @want. */
static bool tt_wait_in_use(struct kunit *test, u64 want)
{
	int i;

	for (i = 0; i < 200; i++) {
		if (tt_in_use(test) == want)
			return true;
		msleep(50);
	}
	return false;
}

/* A timewait socket in TIME_WAIT with @left jiffies to go. */
static const struct tcptrace_tw *tt_tw(struct tcptrace_tw *tw, long left)
{
	memset(tw, 0, sizeof(*tw));
	tw->left = left;
	tw->substate = TCP_TIME_WAIT;
	return tw;
}

static void conn_time_wait(struct kunit *test)
{
	struct tcptrace_tw tw;
	const struct tcptrace_state_rec *st;
	const struct tcptrace_diag_rec *d;
	struct tcptrace_pkt p;
	struct tt_recs *recs;
	struct sock *sk;

	sk = tt_sock(test, TT_CLIENT, TT_CPORT, TT_SERVER, TT_SPORT);
	tt_out(test, tt_c2s(&p, TT_SYN, TT_CPORT));
	tt_in(test, tt_s2c(&p, TT_SYN | TT_ACK, TT_CPORT));
	tcptrace_conn_state(sk, TCP_SYN_SENT, TCP_ESTABLISHED, NULL);
	/* the kernel's timewait socket has 1 jiffy left */
	tcptrace_conn_state(sk, TCP_FIN_WAIT2, TCP_CLOSE, tt_tw(&tw, 1));
	/* the scan finds no timewait socket: it expired */
	KUNIT_ASSERT_TRUE(test, tt_wait_in_use(test, 0));

	recs = tt_read(test, 0);
	KUNIT_ASSERT_EQ(test, recs->n, 5);
	TT_HS(test, recs, 0);
	TT_CONN(test, recs, 1);
	d = TT_DIAG(test, recs, 2);
	KUNIT_EXPECT_EQ(test, d->kind, TCPTRACE_DIAG_TIME_WAIT);
	KUNIT_EXPECT_EQ(test, d->state, TCP_FIN_WAIT2);
	KUNIT_EXPECT_EQ(test, d->duration_ns, jiffies_to_nsecs(1));
	KUNIT_EXPECT_EQ(test, d->sock_cookie, tcptrace_sock_cookie(sk));
	st = TT_STATE(test, recs, 3);
	KUNIT_EXPECT_EQ(test, st->old_state, TCP_TIME_WAIT);
	KUNIT_EXPECT_EQ(test, st->new_state, TCP_CLOSE);
	KUNIT_EXPECT_EQ(test, st->flags, TCPTRACE_F_SYNTHETIC);
	KUNIT_EXPECT_EQ(test, st->sock_cookie, tcptrace_sock_cookie(sk));
	KUNIT_EXPECT_EQ(test, st->sport, TT_CPORT);
	d = TT_DIAG(test, recs, 4);
	KUNIT_EXPECT_EQ(test, d->kind, TCPTRACE_DIAG_TIME_WAIT_END);
	KUNIT_EXPECT_EQ(test, d->cause, TCPTRACE_CAUSE_EXPIRED);

	/* a minute left, and no timewait socket: it was killed early */
	tcptrace_conn_state(sk, TCP_FIN_WAIT2, TCP_CLOSE, tt_tw(&tw, 60 * HZ));
	KUNIT_ASSERT_TRUE(test, tt_wait_in_use(test, 0));
	recs = tt_read(test, 0);
	KUNIT_ASSERT_EQ(test, recs->n, 4);
	TT_CONN(test, recs, 0);
	d = TT_DIAG(test, recs, 1);
	KUNIT_EXPECT_EQ(test, d->kind, TCPTRACE_DIAG_TIME_WAIT);
	KUNIT_EXPECT_EQ(test, d->duration_ns, jiffies_to_nsecs(60 * HZ));
	TT_STATE(test, recs, 2);
	d = TT_DIAG(test, recs, 3);
	KUNIT_EXPECT_EQ(test, d->kind, TCPTRACE_DIAG_TIME_WAIT_END);
	KUNIT_EXPECT_EQ(test, d->cause, TCPTRACE_CAUSE_KILLED);
	KUNIT_EXPECT_LT(test, d->duration_ns, jiffies_to_nsecs(60 * HZ));
}

/* An incoming SYN skb, for tcptrace_conn_dropped(). */
static struct sk_buff *tt_syn_skb(struct kunit *test, u16 cport)
{
	struct sk_buff *skb;
	struct iphdr *iph;
	u8 *th;

	skb = alloc_skb(128, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, skb);
	skb_reset_network_header(skb);
	iph = skb_put_zero(skb, sizeof(*iph));
	iph->version = 4;
	iph->ihl = 5;
	iph->ttl = 64;
	iph->protocol = IPPROTO_TCP;
	iph->saddr = htonl(TT_CLIENT);
	iph->daddr = htonl(TT_SERVER);
	iph->tot_len = htons(sizeof(*iph) + TCPTRACE_TCPHDR_LEN);
	th = skb_put_zero(skb, TCPTRACE_TCPHDR_LEN);
	put_unaligned_be16(cport, th);
	put_unaligned_be16(TT_SPORT, th + 2);
	th[12] = 5 << 4;
	th[13] = TT_SYN;
	skb->protocol = htons(ETH_P_IP);
	skb->dev = init_net.loopback_dev;
	return skb;
}

/*
 * The hooks see only this namespace's own packets (LOCAL_IN, LOCAL_OUT).
 * A SYN dropped before LOCAL_IN makes a server end only if it was
 * received for an address of this namespace, and not yet given to TCP.
 */
static void conn_dropped_before_local_in(struct kunit *test)
{
	struct sk_buff *skb;

	tt_table(test, TT_ENTRIES, 2, 100);
	/* being forwarded: not this host's address */
	skb = tt_syn_skb(test, TT_CPORT);
	ip_hdr(skb)->daddr = htonl(TT_REMOTE);
	skb->skb_iif = skb->dev->ifindex;
	tcptrace_conn_dropped(skb, NULL, SKB_DROP_REASON_NETFILTER_DROP);
	kfree_skb(skb);
	/* leaving, not received */
	skb = tt_syn_skb(test, TT_CPORT);
	tcptrace_conn_dropped(skb, NULL, SKB_DROP_REASON_NETFILTER_DROP);
	kfree_skb(skb);
	/* past LOCAL_IN: TCP's own drop of a SYN the hooks saw */
	skb = tt_syn_skb(test, TT_CPORT);
	skb->skb_iif = skb->dev->ifindex;
	skb_pull(skb, sizeof(struct iphdr));
	tcptrace_conn_dropped(skb, NULL, SKB_DROP_REASON_NO_SOCKET);
	kfree_skb(skb);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 0);

	/*
	 * Dropped in PREROUTING, for this host's address, but no listener
	 * (the guest tests cover one with a listener: a server end, with
	 * the reason): a SYN that NAT or IPVS would have taken elsewhere.
	 */
	skb = tt_syn_skb(test, TT_CPORT + 1);
	skb->skb_iif = skb->dev->ifindex;
	tcptrace_conn_dropped(skb, NULL, SKB_DROP_REASON_NETFILTER_DROP);
	kfree_skb(skb);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 0);
	KUNIT_EXPECT_EQ(test, tt_stats(test).produced, 0);
}

/*
 * A SYN no listener takes: the RST of a closed port ends it, as before;
 * with no RST (IPVS or NAT took the SYN elsewhere after the hook), it is
 * not this namespace's, and its silence is not reported.
 */
static void conn_no_listener_is_silent(struct kunit *test)
{
	const struct tcptrace_handshake_rec *hs;
	struct tcptrace_pkt p;
	struct tt_recs *recs;

	tt_table(test, TT_ENTRIES, 2, 100);
	tt_in(test, tt_c2s(&p, TT_SYN, TT_CPORT));
	tt_in(test, tt_c2s(&p, TT_SYN, TT_CPORT + 1));
	tt_out(test, tt_s2c(&p, TT_RST | TT_ACK, TT_CPORT + 1));
	KUNIT_ASSERT_TRUE(test, tt_wait_in_use(test, 0));
	KUNIT_EXPECT_EQ(test, tt_stats(test).timeouts, 0);
	recs = tt_read(test, 0);
	/* the closed port's RST and its handshake, nothing of the other */
	KUNIT_ASSERT_EQ(test, recs->n, 2);
	KUNIT_EXPECT_EQ(test, TT_DIAG(test, recs, 0)->kind,
			TCPTRACE_DIAG_RST_OUT);
	hs = TT_HS(test, recs, 1);
	KUNIT_EXPECT_EQ(test, hs->outcome, TCPTRACE_HS_RESET);
	KUNIT_EXPECT_EQ(test, hs->dport, TT_CPORT + 1);
}

/* A data segment from @cport's client, received, as TCP drops it. */
static struct sk_buff *tt_data_skb(struct kunit *test, u16 cport)
{
	struct sk_buff *skb = tt_syn_skb(test, cport);

	skb->data[sizeof(struct iphdr) + 13] = TT_ACK;
	skb->skb_iif = skb->dev->ifindex;
	/* TCP has pulled both headers */
	skb_pull(skb, sizeof(struct iphdr) + TCPTRACE_TCPHDR_LEN);
	return skb;
}

static void tt_drop(struct kunit *test, u16 cport, unsigned int reason)
{
	struct sk_buff *skb = tt_data_skb(test, cport);

	tcptrace_conn_dropped(skb, NULL, reason);
	kfree_skb(skb);
}

/*
 * Segments of an established connection that TCP drops, its receive
 * buffer full: one record of the episode when the connection ends, the
 * first drop's reason named and the others counted.  TCP's discard of a
 * duplicate is no loss; a tuple no entry has, with no socket named,
 * makes nothing.
 */
static void conn_data_drops(struct kunit *test)
{
	const struct tcptrace_diag_rec *d;
	struct tcptrace_pkt p;
	struct tt_recs *recs;
	struct sock *sk;
	int i;

	/* no entry, no socket named: nothing made */
	tt_drop(test, TT_CPORT, SKB_DROP_REASON_PROTO_MEM);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 0);
	sk = tt_sock(test, TT_SERVER, TT_SPORT, TT_CLIENT, TT_CPORT);
	tt_in(test, tt_c2s(&p, TT_SYN, TT_CPORT));
	tt_out(test, tt_s2c(&p, TT_SYN | TT_ACK, TT_CPORT));
	tcptrace_conn_state(sk, TCP_SYN_RECV, TCP_ESTABLISHED, NULL);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 1);

	for (i = 0; i < 3; i++)
		tt_drop(test, TT_CPORT, SKB_DROP_REASON_PROTO_MEM);
	tt_drop(test, TT_CPORT + 1, SKB_DROP_REASON_PROTO_MEM);
	tt_drop(test, TT_CPORT, SKB_DROP_REASON_TCP_OLD_DATA);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 1);
	tt_drop(test, TT_CPORT, SKB_DROP_REASON_TCP_ZEROWINDOW);
	tcptrace_conn_state(sk, TCP_ESTABLISHED, TCP_CLOSE, NULL);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 0);

	recs = tt_read(test, 0);
	KUNIT_ASSERT_EQ(test, recs->n, 3);
	TT_HS(test, recs, 0);
	TT_CONN(test, recs, 1);
	d = TT_DIAG(test, recs, 2);
	KUNIT_EXPECT_EQ(test, d->kind, TCPTRACE_DIAG_DATA_DROPPED);
	KUNIT_EXPECT_EQ(test, d->cause, TCPTRACE_CAUSE_DROP_REASON);
	KUNIT_EXPECT_EQ(test, d->count, 4);
	KUNIT_EXPECT_EQ(test, d->count_other, 1);
	KUNIT_EXPECT_EQ(test, d->reason_code, SKB_DROP_REASON_PROTO_MEM);
	KUNIT_EXPECT_STREQ(test, d->reason, "PROTO_MEM");
	KUNIT_EXPECT_EQ(test, d->sock_cookie, tcptrace_sock_cookie(sk));
	KUNIT_EXPECT_EQ(test, d->sport, TT_SPORT);
	KUNIT_EXPECT_EQ(test, d->dport, TT_CPORT);
	tt_expect_v4(test, d->saddr, TT_SERVER);
	KUNIT_EXPECT_EQ(test, d->in_ifindex, init_net.loopback_dev->ifindex);
}

/* The scan: SYNs nobody answered, handshakes that never completed. */
static void conn_scan_timeouts(struct kunit *test)
{
	const struct tcptrace_handshake_rec *hs;
	const struct tcptrace_diag_rec *d;
	struct tcptrace_pkt p;
	struct tt_recs *recs;
	struct sk_buff *skb;
	unsigned int i, ndiag = 0, nhs = 0;

	/*
	 * Give up on handshakes after 2 s, on unanswered SYNs after 100 ms:
	 * the scan (every 250 ms) reports the SYNs long before the time-out,
	 * even on a slow host.
	 */
	tt_table(test, TT_ENTRIES, 2, 100);
	/* the first came in on interface 7: its diagnosis says so */
	tt_c2s(&p, TT_SYN, TT_CPORT)->iif = 7;
	tt_in(test, &p);
	tt_in(test, tt_c2s(&p, TT_SYN, TT_CPORT + 1));
	tt_out(test, tt_c2s(&p, TT_SYN, TT_CPORT + 2));
	/* the kernel dropped the second SYN: that is why */
	skb = tt_syn_skb(test, TT_CPORT + 1);
	tcptrace_conn_dropped(skb, NULL, SKB_DROP_REASON_NETFILTER_DROP);
	kfree_skb(skb);
	/* an skb without a device has no namespace: not the first's reason */
	skb = tt_syn_skb(test, TT_CPORT);
	skb->dev = NULL;
	tcptrace_conn_dropped(skb, NULL, SKB_DROP_REASON_NO_SOCKET);
	kfree_skb(skb);
	KUNIT_EXPECT_EQ(test, tt_in_use(test), 3);

	KUNIT_ASSERT_TRUE(test, tt_wait_in_use(test, 0));
	/*
	 * No listener here (kernel listeners in this test kernel hang a
	 * later case, at random): the first SYN, neither answered nor
	 * dropped, was taken elsewhere; the dropped one is reported.
	 */
	KUNIT_EXPECT_EQ(test, tt_stats(test).timeouts, 2);

	recs = tt_read(test, 0);
	KUNIT_ASSERT_EQ(test, recs->n, 3);
	for (i = 0; i < recs->n; i++) {
		if (recs->r[i]->type == TCPTRACE_REC_DIAG) {
			/* first: the server end's SYN, unanswered */
			KUNIT_EXPECT_LT(test, i, 1);
			d = TT_DIAG(test, recs, i);
			KUNIT_EXPECT_EQ(test, d->kind,
					TCPTRACE_DIAG_SYN_UNANSWERED);
			KUNIT_EXPECT_EQ(test, d->count, 1);
			KUNIT_EXPECT_GE(test, d->duration_ns,
					100 * NSEC_PER_MSEC);
			KUNIT_EXPECT_LT(test, d->duration_ns,
					2 * NSEC_PER_SEC);
			if (d->dport == TT_CPORT + 1) {
				KUNIT_EXPECT_EQ(test, d->cause,
						TCPTRACE_CAUSE_DROP_REASON);
				KUNIT_EXPECT_EQ(test, d->reason_code,
						SKB_DROP_REASON_NETFILTER_DROP);
				KUNIT_EXPECT_STREQ(test, d->reason,
						   "NETFILTER_DROP");
				KUNIT_EXPECT_EQ(test, d->in_ifindex, 0);
			} else {
				KUNIT_EXPECT_EQ(test, d->dport, TT_CPORT);
				KUNIT_EXPECT_EQ(test, d->cause,
						TCPTRACE_CAUSE_UNANSWERED);
				KUNIT_EXPECT_STREQ(test, d->reason, "");
				KUNIT_EXPECT_EQ(test, d->in_ifindex, 7);
			}
			KUNIT_EXPECT_EQ(test, d->hdr.ctx, TCPTRACE_CTX_KTHREAD);
			ndiag++;
		} else {
			hs = TT_HS(test, recs, i);
			KUNIT_EXPECT_EQ(test, hs->outcome,
					TCPTRACE_HS_TIMEOUT);
			KUNIT_EXPECT_GT(test, hs->done_ns - hs->syn.seen_ns,
					2 * (u64)NSEC_PER_SEC);
			nhs++;
		}
	}
	/* the client's end gets no SYN_UNANSWERED */
	KUNIT_EXPECT_EQ(test, ndiag, 1);
	KUNIT_EXPECT_EQ(test, nhs, 2);
}

static struct kunit_case tcptrace_conntable_cases[] = {
	KUNIT_CASE(conn_capacity_rounding),
	KUNIT_CASE(conn_loopback_syn_two_ends),
	KUNIT_CASE(conn_syn_retransmission),
	KUNIT_CASE(conn_synack_recorded),
	KUNIT_CASE(conn_rst_releases_server_entry),
	KUNIT_CASE(conn_rst_keeps_client_entry),
	KUNIT_CASE(conn_rst_out_without_socket),
	KUNIT_CASE(conn_rst_out_causes),
	KUNIT_CASE(conn_dropped_before_local_in),
	KUNIT_CASE(conn_not_control),
	KUNIT_CASE(conn_ipv6),
	KUNIT_CASE(conn_bucket_evicts_oldest),
	KUNIT_CASE(conn_bucket_overflow),
	KUNIT_CASE(conn_table_exhaustion),
	KUNIT_CASE(conn_purge),
	KUNIT_CASE(conn_scoped_reader),
	KUNIT_CASE(conn_established),
	KUNIT_CASE(conn_established_rst),
	KUNIT_CASE(conn_close_totals),
	KUNIT_CASE(conn_client_gave_up),
	KUNIT_CASE(conn_evicts_established_first),
	KUNIT_CASE(conn_time_wait),
	KUNIT_CASE(conn_scan_timeouts),
	KUNIT_CASE(conn_no_listener_is_silent),
	KUNIT_CASE(conn_data_drops),
	{}
};

static struct kunit_suite tcptrace_conntable_suite = {
	.name = "tcptrace_conntable",
	.suite_init = tt_suite_init,
	.suite_exit = tt_suite_exit,
	.init = tt_init,
	.exit = tt_exit,
	.test_cases = tcptrace_conntable_cases,
};

kunit_test_suite(tcptrace_conntable_suite);

MODULE_DESCRIPTION("KUnit tests for tcptrace's connection table");
MODULE_LICENSE("GPL");

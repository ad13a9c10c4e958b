// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for module/record.c: walking and naming the records of the
 * /dev/tcptrace ABI.  The CLI decodes with the same file, so these tests
 * check what the CLI will make of what the module writes.
 */
#include <kunit/test.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <net/tcp_states.h>

#include "../record.h"

/* A record type no version of the ABI will know (types count up from 1) */
#define TT_UNKNOWN_TYPE	0x7777

/* Room for a few records; u64 so records are as aligned as read()'s. */
#define TT_BUF_WORDS	128

struct tt_buf {
	u64 w[TT_BUF_WORDS];
	unsigned long len;
};

/* Fill the header fields the way the module's tcptrace_hdr_init() does. */
static void tt_hdr(struct tcptrace_hdr *hdr, u16 type, u16 size, u8 version)
{
	hdr->type = type;
	hdr->size = size;
	hdr->version = version;
	hdr->ctx = TCPTRACE_CTX_SOFTIRQ;
	hdr->cpu = 1;
	hdr->lost_before = 0;
	hdr->reserved = 0;
	hdr->ts_ns = 1000000000ULL;
}

/* Append @size bytes at the end of @b; returns where they start. */
static void *tt_put(struct kunit *test, struct tt_buf *b, const void *rec,
		    unsigned long size)
{
	void *at = (u8 *)b->w + b->len;

	KUNIT_ASSERT_LE(test, b->len + size, sizeof(b->w));
	memcpy(at, rec, size);
	b->len += size;
	return at;
}

static void *tt_put_state(struct kunit *test, struct tt_buf *b, u8 from,
			  u8 to, u64 cookie)
{
	struct tcptrace_state_rec r = {};

	tt_hdr(&r.hdr, TCPTRACE_REC_STATE, sizeof(r),
	       TCPTRACE_STATE_REC_VERSION);
	r.sock_cookie = cookie;
	r.netns_cookie = 1;
	r.netns_ino = 4026531840U;
	r.pid = 4242;
	r.tid = 4243;
	r.family = 2;		/* AF_INET */
	r.sport = 50000;
	r.dport = 443;
	r.old_state = from;
	r.new_state = to;
	r.saddr[0] = 10;
	r.saddr[3] = 1;
	r.daddr[0] = 192;
	r.daddr[1] = 0;
	r.daddr[2] = 2;
	r.daddr[3] = 7;
	strscpy(r.comm, "curl", sizeof(r.comm));
	r.cgroup_id = 4026532001ULL;
	return tt_put(test, b, &r, sizeof(r));
}

/* The size of layout version 1 of state and conn records. */
#define TT_STATE_V1_SIZE	offsetof(struct tcptrace_state_rec, cgroup_id)
#define TT_CONN_V1_SIZE		offsetof(struct tcptrace_conn_rec, cgroup_id)

static void *tt_put_conn(struct kunit *test, struct tt_buf *b, u64 cookie,
			 u64 cgroup_id)
{
	struct tcptrace_conn_rec r = {};

	tt_hdr(&r.hdr, TCPTRACE_REC_CONN, sizeof(r),
	       TCPTRACE_CONN_REC_VERSION);
	r.sock_cookie = cookie;
	r.family = 2;
	r.sport = 50000;
	r.dport = 443;
	r.bytes_sent = 5;
	r.cgroup_id = cgroup_id;
	return tt_put(test, b, &r, sizeof(r));
}

static void *tt_put_lost(struct kunit *test, struct tt_buf *b, u64 count)
{
	struct tcptrace_lost_rec r = {};

	tt_hdr(&r.hdr, TCPTRACE_REC_LOST, sizeof(r),
	       TCPTRACE_LOST_REC_VERSION);
	r.hdr.ctx = TCPTRACE_CTX_TASK;
	r.count = count;
	return tt_put(test, b, &r, sizeof(r));
}

static void *tt_put_handshake(struct kunit *test, struct tt_buf *b)
{
	struct tcptrace_handshake_rec r = {};

	tt_hdr(&r.hdr, TCPTRACE_REC_HANDSHAKE, sizeof(r),
	       TCPTRACE_HANDSHAKE_REC_VERSION);
	r.sock_cookie = 77;
	r.family = 2;
	r.role = TCPTRACE_ROLE_CLIENT;
	r.outcome = TCPTRACE_HS_ESTABLISHED;
	r.agreed = TCPTRACE_AGREED_WSCALE | TCPTRACE_AGREED_TS |
		   TCPTRACE_AGREED_SACK;
	r.snd_wscale = 7;
	r.rcv_wscale = 7;
	r.syn.present = TCPTRACE_OPT_MSS | TCPTRACE_OPT_WSCALE;
	r.syn.mss = 1460;
	r.syn.wscale = 7;
	r.synack.present = TCPTRACE_OPT_MSS;
	r.synack.mss = 1400;
	r.mss = 1388;
	r.syn_retrans = 1;
	return tt_put(test, b, &r, sizeof(r));
}

/* A record of @type with @size bytes, @size - 24 of them 0xab. */
static void *tt_put_raw(struct kunit *test, struct tt_buf *b, u16 type,
			u16 size, u8 version)
{
	u64 rec[32];

	KUNIT_ASSERT_LE(test, (unsigned int)size, sizeof(rec));
	memset(rec, 0xab, sizeof(rec));
	tt_hdr((struct tcptrace_hdr *)rec, type, size, version);
	return tt_put(test, b, rec, max_t(unsigned int, size,
					  sizeof(struct tcptrace_hdr)));
}

static struct tt_buf *tt_buf_new(struct kunit *test)
{
	struct tt_buf *b = kunit_kzalloc(test, sizeof(*b), GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, b);
	return b;
}

/* Expect one record of @want at @expect_at, and @off advanced to @next. */
static void tt_expect_next(struct kunit *test, const struct tt_buf *b,
			   unsigned long *off, enum tt_decode want,
			   const void *expect_at, unsigned long next)
{
	const struct tcptrace_hdr *rec = NULL;
	enum tt_decode d;

	d = tt_next_record(b->w, b->len, off, &rec);
	KUNIT_EXPECT_EQ_MSG(test, d, want, "got \"%s\", expected \"%s\"",
			    tt_decode_strerror(d), tt_decode_strerror(want));
	if (expect_at)
		KUNIT_EXPECT_PTR_EQ(test, (const void *)rec, expect_at);
	KUNIT_EXPECT_EQ(test, *off, next);
}

/* ---- the ABI ------------------------------------------------------------ */

static void rec_abi_layout(struct kunit *test)
{
	/* what the CLI and the module agree on; changing it breaks readers */
	KUNIT_EXPECT_EQ(test, sizeof(struct tcptrace_hdr), 24);
	KUNIT_EXPECT_EQ(test, sizeof(struct tcptrace_state_rec), 136);
	KUNIT_EXPECT_EQ(test, sizeof(struct tcptrace_lost_rec), 32);
	KUNIT_EXPECT_EQ(test, sizeof(struct tcptrace_tcpopts), 40);
	KUNIT_EXPECT_EQ(test, sizeof(struct tcptrace_handshake_rec), 200);
	KUNIT_EXPECT_EQ(test, offsetof(struct tcptrace_hdr, size), 2);
	KUNIT_EXPECT_EQ(test, offsetof(struct tcptrace_hdr, ts_ns), 16);
	KUNIT_EXPECT_EQ(test, offsetof(struct tcptrace_state_rec, comm), 96);
	KUNIT_EXPECT_EQ(test, offsetof(struct tcptrace_handshake_rec, syn), 88);
	KUNIT_EXPECT_EQ(test,
			offsetof(struct tcptrace_handshake_rec, synack), 128);
	KUNIT_EXPECT_EQ(test, sizeof(struct tcptrace_diag_rec), 160);
	KUNIT_EXPECT_EQ(test, sizeof(struct tcptrace_conn_rec), 120);
	/* version 2 added cgroup_id at the end of the version 1 layouts */
	KUNIT_EXPECT_EQ(test, TT_STATE_V1_SIZE, 112);
	/* and state records' version 3 the task's PID namespace after it */
	KUNIT_EXPECT_EQ(test, offsetof(struct tcptrace_state_rec, pidns_ino),
			120);
	KUNIT_EXPECT_EQ(test, TCPTRACE_STATE_REC_VERSION, TT_PIDNS_VERSION);
	KUNIT_EXPECT_EQ(test, TT_CONN_V1_SIZE, 112);
	KUNIT_EXPECT_EQ(test, offsetof(struct tcptrace_handshake_rec,
				       cgroup_id), 192);
	KUNIT_EXPECT_EQ(test, offsetof(struct tcptrace_diag_rec, cgroup_id),
			136);
	/* and diag records' version 3 the SYN's interface after it */
	KUNIT_EXPECT_EQ(test, offsetof(struct tcptrace_diag_rec, in_ifindex),
			144);
	/* and version 4 the forwarding route's device (a pad before) and MTU */
	KUNIT_EXPECT_EQ(test, offsetof(struct tcptrace_diag_rec, out_ifindex),
			148);
	KUNIT_EXPECT_EQ(test, offsetof(struct tcptrace_diag_rec, mtu), 152);
	KUNIT_EXPECT_EQ(test, offsetof(struct tcptrace_diag_rec, count_other),
			156);
	KUNIT_EXPECT_EQ(test, TCPTRACE_DIAG_REC_VERSION, TT_DIAG_MTU_VERSION);
	KUNIT_EXPECT_GT(test, TT_DIAG_MTU_VERSION, TT_DIAG_IFINDEX_VERSION);
	KUNIT_EXPECT_GE(test, TCPTRACE_HANDSHAKE_REC_VERSION,
			TT_CGROUP_VERSION);
	KUNIT_EXPECT_GE(test, TCPTRACE_DIAG_REC_VERSION, TT_CGROUP_VERSION);
	KUNIT_EXPECT_EQ(test, TT_CGROUP_VERSION, 2);
	KUNIT_EXPECT_GE(test, TCPTRACE_STATE_REC_VERSION, TT_CGROUP_VERSION);
	KUNIT_EXPECT_GE(test, TCPTRACE_CONN_REC_VERSION, TT_CGROUP_VERSION);
	/* a scoped reader finds the namespace cookie at the same place */
	KUNIT_EXPECT_EQ(test, offsetof(struct tcptrace_state_rec,
				       netns_cookie), TCPTRACE_NETNS_OFFSET);
	KUNIT_EXPECT_EQ(test, offsetof(struct tcptrace_handshake_rec,
				       netns_cookie), TCPTRACE_NETNS_OFFSET);
	KUNIT_EXPECT_EQ(test, offsetof(struct tcptrace_diag_rec,
				       netns_cookie), TCPTRACE_NETNS_OFFSET);
	KUNIT_EXPECT_EQ(test, offsetof(struct tcptrace_conn_rec,
				       netns_cookie), TCPTRACE_NETNS_OFFSET);
	/* every record is a whole number of 8-byte words */
	KUNIT_EXPECT_EQ(test, sizeof(struct tcptrace_diag_rec) % 8, 0);
	KUNIT_EXPECT_EQ(test, sizeof(struct tcptrace_conn_rec) % 8, 0);
	KUNIT_EXPECT_EQ(test, sizeof(struct tcptrace_state_rec) % 8, 0);
	KUNIT_EXPECT_EQ(test, sizeof(struct tcptrace_lost_rec) % 8, 0);
	KUNIT_EXPECT_EQ(test, sizeof(struct tcptrace_handshake_rec) % 8, 0);
}

/* ---- walking ------------------------------------------------------------ */

static void rec_empty(struct kunit *test)
{
	struct tt_buf *b = tt_buf_new(test);
	unsigned long off = 0;

	tt_expect_next(test, b, &off, TT_END, NULL, 0);
}

static void rec_roundtrip(struct kunit *test)
{
	const struct tcptrace_handshake_rec *hs;
	const struct tcptrace_state_rec *st;
	const struct tcptrace_lost_rec *lost;
	struct tt_buf *b = tt_buf_new(test);
	void *r1, *r2, *r3, *r4;
	unsigned long off = 0;

	r1 = tt_put_state(test, b, TCP_SYN_SENT, TCP_ESTABLISHED, 0x1234);
	r2 = tt_put_lost(test, b, 7);
	r3 = tt_put_handshake(test, b);
	r4 = tt_put_state(test, b, TCP_ESTABLISHED, TCP_FIN_WAIT1, 0x1234);
	KUNIT_ASSERT_EQ(test, b->len, 136UL + 32 + 200 + 136);

	tt_expect_next(test, b, &off, TT_OK, r1, 136);
	tt_expect_next(test, b, &off, TT_OK, r2, 136 + 32);
	tt_expect_next(test, b, &off, TT_OK, r3, 136 + 32 + 200);
	tt_expect_next(test, b, &off, TT_OK, r4, b->len);
	tt_expect_next(test, b, &off, TT_END, NULL, b->len);
	/* and stays at the end */
	tt_expect_next(test, b, &off, TT_END, NULL, b->len);

	/* what the CLI reads back is what was written */
	st = r1;
	KUNIT_EXPECT_EQ(test, st->hdr.type, TCPTRACE_REC_STATE);
	KUNIT_EXPECT_EQ(test, st->sock_cookie, 0x1234ULL);
	KUNIT_EXPECT_STREQ(test, tt_state_name(st->old_state), "SYN_SENT");
	KUNIT_EXPECT_STREQ(test, tt_state_name(st->new_state), "ESTABLISHED");
	KUNIT_EXPECT_STREQ(test, tt_ctx_name(st->hdr.ctx), "softirq");
	KUNIT_EXPECT_STREQ(test, st->comm, "curl");
	KUNIT_EXPECT_EQ(test, tt_state_cgroup_id(st), 4026532001ULL);
	lost = r2;
	KUNIT_EXPECT_EQ(test, lost->count, 7ULL);
	KUNIT_EXPECT_STREQ(test, tt_ctx_name(lost->hdr.ctx), "task");
	hs = r3;
	KUNIT_EXPECT_EQ(test, hs->syn.mss, 1460);
	KUNIT_EXPECT_EQ(test, hs->synack.mss, 1400);
	KUNIT_EXPECT_EQ(test, hs->syn_retrans, 1);
	st = r4;
	KUNIT_EXPECT_STREQ(test, tt_state_name(st->new_state), "FIN_WAIT1");
}

static void rec_walk_loop(struct kunit *test)
{
	const struct tcptrace_hdr *rec;
	struct tt_buf *b = tt_buf_new(test);
	unsigned long off = 0;
	unsigned int n_state = 0, n_lost = 0, n_other = 0;
	enum tt_decode d;

	/* the CLI's loop: until TT_END, counting what it sees */
	tt_put_lost(test, b, 1);
	tt_put_state(test, b, TCP_CLOSE, TCP_SYN_SENT, 1);
	tt_put_raw(test, b, TT_UNKNOWN_TYPE, 40, 1);
	tt_put_state(test, b, TCP_SYN_SENT, TCP_ESTABLISHED, 1);
	tt_put_lost(test, b, 2);
	while ((d = tt_next_record(b->w, b->len, &off, &rec)) != TT_END) {
		if (d == TT_SKIP) {
			n_other++;
			continue;
		}
		KUNIT_ASSERT_EQ(test, d, TT_OK);
		if (rec->type == TCPTRACE_REC_STATE)
			n_state++;
		else if (rec->type == TCPTRACE_REC_LOST)
			n_lost++;
	}
	KUNIT_EXPECT_EQ(test, n_state, 2);
	KUNIT_EXPECT_EQ(test, n_lost, 2);
	KUNIT_EXPECT_EQ(test, n_other, 1);
	KUNIT_EXPECT_EQ(test, off, b->len);
}

static void rec_unknown_type_skipped(struct kunit *test)
{
	struct tt_buf *b = tt_buf_new(test);
	unsigned long off = 0;
	void *r1, *r2, *r3;

	r1 = tt_put_state(test, b, TCP_LISTEN, TCP_SYN_RECV, 9);
	r2 = tt_put_raw(test, b, TT_UNKNOWN_TYPE, 48, 1);
	r3 = tt_put_lost(test, b, 3);

	tt_expect_next(test, b, &off, TT_OK, r1, 136);
	tt_expect_next(test, b, &off, TT_SKIP, r2, 136 + 48);
	tt_expect_next(test, b, &off, TT_OK, r3, 136 + 48 + 32);
	tt_expect_next(test, b, &off, TT_END, NULL, b->len);
}

static void rec_unknown_type_any_version(struct kunit *test)
{
	struct tt_buf *b = tt_buf_new(test);
	unsigned long off = 0;
	void *r1, *r2, *r3;

	/*
	 * Nothing is known about them but the header: any version goes.
	 * Type 0 is never used, 0xffff is the largest.
	 */
	r1 = tt_put_raw(test, b, 0, 24, 0);
	r2 = tt_put_raw(test, b, 0xffff, 32, 0);
	r3 = tt_put_raw(test, b, TT_UNKNOWN_TYPE, 24, 255);
	tt_expect_next(test, b, &off, TT_SKIP, r1, 24);
	tt_expect_next(test, b, &off, TT_SKIP, r2, 24 + 32);
	tt_expect_next(test, b, &off, TT_SKIP, r3, 24 + 32 + 24);
	tt_expect_next(test, b, &off, TT_END, NULL, b->len);
}

static void rec_truncated_header(struct kunit *test)
{
	struct tt_buf *b = tt_buf_new(test);
	unsigned long off = 0, len;

	/* fewer bytes than a header: nothing can be said about the size */
	tt_put_lost(test, b, 1);
	for (len = 1; len < sizeof(struct tcptrace_hdr); len++) {
		b->len = len;
		off = 0;
		tt_expect_next(test, b, &off, TT_TRUNCATED, NULL, 0);
	}

	/* after a whole record */
	b->len = 0;
	tt_put_lost(test, b, 1);
	tt_put_lost(test, b, 2);
	b->len -= 16;
	off = 0;
	tt_expect_next(test, b, &off, TT_OK, b->w, 32);
	tt_expect_next(test, b, &off, TT_TRUNCATED, NULL, 32);
}

static void rec_truncated_body(struct kunit *test)
{
	struct tt_buf *b = tt_buf_new(test);
	unsigned long off = 0;

	/* the header fits, the size it announces does not */
	tt_put_state(test, b, TCP_CLOSE, TCP_SYN_SENT, 1);
	b->len = 104;
	tt_expect_next(test, b, &off, TT_TRUNCATED, NULL, 0);
	b->len = 111;
	tt_expect_next(test, b, &off, TT_TRUNCATED, NULL, 0);
	/* a version 2 record cut where version 1 would end */
	b->len = TT_STATE_V1_SIZE;
	tt_expect_next(test, b, &off, TT_TRUNCATED, NULL, 0);
	b->len = sizeof(struct tcptrace_hdr);
	tt_expect_next(test, b, &off, TT_TRUNCATED, NULL, 0);

	/* also for a type we do not know: its size still must fit */
	b->len = 0;
	tt_put_raw(test, b, TT_UNKNOWN_TYPE, 64, 1);
	b->len = 56;
	tt_expect_next(test, b, &off, TT_TRUNCATED, NULL, 0);
}

static void rec_size_below_header(struct kunit *test)
{
	struct tt_buf *b = tt_buf_new(test);
	unsigned long off;
	unsigned int size;

	/* size 0 in particular: advancing by it would loop forever */
	for (size = 0; size < sizeof(struct tcptrace_hdr); size += 8) {
		b->len = 0;
		tt_put_raw(test, b, TCPTRACE_REC_LOST, size, 1);
		tt_put_lost(test, b, 1);
		off = 0;
		tt_expect_next(test, b, &off, TT_MALFORMED, NULL, 0);
		b->len = 0;
		tt_put_raw(test, b, TT_UNKNOWN_TYPE, size, 1);
		off = 0;
		tt_expect_next(test, b, &off, TT_MALFORMED, NULL, 0);
	}
}

static void rec_size_not_multiple_of_8(struct kunit *test)
{
	struct tt_buf *b = tt_buf_new(test);
	unsigned long off;
	unsigned int size;

	for (size = 113; size < 120; size++) {
		b->len = 0;
		tt_put_raw(test, b, TCPTRACE_REC_STATE, size, 1);
		b->len = 128;
		off = 0;
		tt_expect_next(test, b, &off, TT_MALFORMED, NULL, 0);
	}
	/* unknown types too: the next record would be misaligned */
	b->len = 0;
	tt_put_raw(test, b, TT_UNKNOWN_TYPE, 36, 1);
	b->len = 40;
	off = 0;
	tt_expect_next(test, b, &off, TT_MALFORMED, NULL, 0);
}

static void rec_size_below_type(struct kunit *test)
{
	/* a record alone in the buffer, shorter than its version's layout */
	static const struct {
		u16 type, size;
		u8 version;
		enum tt_decode want;
	} cases[] = {
		{ TCPTRACE_REC_STATE, 104, 1, TT_MALFORMED },
		{ TCPTRACE_REC_LOST, 24, 1, TT_MALFORMED },
		{ TCPTRACE_REC_HANDSHAKE, 184, 1, TT_MALFORMED },
		/* a handshake record the size of a state record */
		{ TCPTRACE_REC_HANDSHAKE, 112, 1, TT_MALFORMED },
		{ TCPTRACE_REC_DIAG, 128, 1, TT_MALFORMED },
		{ TCPTRACE_REC_CONN, 104, 1, TT_MALFORMED },
		/* version 2 with version 1's size: cgroup_id outside it */
		{ TCPTRACE_REC_STATE, TT_STATE_V1_SIZE, 2, TT_MALFORMED },
		{ TCPTRACE_REC_CONN, TT_CONN_V1_SIZE, 2, TT_MALFORMED },
		/* and any later version too */
		{ TCPTRACE_REC_STATE, TT_STATE_V1_SIZE, 3, TT_MALFORMED },
		/* a version 3 diag record holds in_ifindex; version 2 not */
		{ TCPTRACE_REC_DIAG, 144, 3, TT_MALFORMED },
		{ TCPTRACE_REC_DIAG, 144, 2, TT_OK },
		/* a version 4 one holds the MTU; version 3 ends before it */
		{ TCPTRACE_REC_DIAG, 152, 4, TT_MALFORMED },
		{ TCPTRACE_REC_DIAG, 152, 3, TT_OK },
	};
	struct tt_buf *b = tt_buf_new(test);
	unsigned long off, next;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		b->len = 0;
		tt_put_raw(test, b, cases[i].type, cases[i].size,
			   cases[i].version);
		off = 0;
		/* past it when good, untouched when not */
		next = 0;
		if (cases[i].want == TT_OK)
			next = cases[i].size;
		tt_expect_next(test, b, &off, cases[i].want, NULL, next);
	}
}

static void rec_old_version_layout(struct kunit *test)
{
	const struct tcptrace_state_rec *st;
	const struct tcptrace_conn_rec *cr;
	struct tt_buf *b = tt_buf_new(test);
	struct tcptrace_hdr *h;
	unsigned long off = 0;
	void *r1, *r2, *r3, *r4;

	/*
	 * What an older module writes: version 1 state and conn records,
	 * which end where cgroup_id would start.  Each is followed by
	 * another record whose first bytes are where cgroup_id would be.
	 */
	r1 = tt_put_state(test, b, TCP_SYN_SENT, TCP_ESTABLISHED, 7);
	h = r1;
	h->version = 1;
	h->size = TT_STATE_V1_SIZE;
	b->len -= sizeof(struct tcptrace_state_rec) - TT_STATE_V1_SIZE;
	r2 = tt_put_conn(test, b, 7, 99);
	h = r2;
	h->version = 1;
	h->size = TT_CONN_V1_SIZE;
	b->len -= sizeof(struct tcptrace_conn_rec) - TT_CONN_V1_SIZE;
	r3 = tt_put_lost(test, b, 1);
	/* version 1, but longer: the version says cgroup_id is not there */
	r4 = tt_put_state(test, b, TCP_ESTABLISHED, TCP_FIN_WAIT1, 7);
	h = r4;
	h->version = 1;

	tt_expect_next(test, b, &off, TT_OK, r1, 112);
	tt_expect_next(test, b, &off, TT_OK, r2, 112 + 112);
	tt_expect_next(test, b, &off, TT_OK, r3, 112 + 112 + 32);
	tt_expect_next(test, b, &off, TT_OK, r4, b->len);
	tt_expect_next(test, b, &off, TT_END, NULL, b->len);

	st = r1;
	KUNIT_EXPECT_EQ(test, st->sock_cookie, 7ULL);
	KUNIT_EXPECT_STREQ(test, st->comm, "curl");
	KUNIT_EXPECT_EQ(test, tt_state_cgroup_id(st), 0ULL);
	cr = r2;
	KUNIT_EXPECT_EQ(test, cr->bytes_sent, 5ULL);
	KUNIT_EXPECT_EQ(test, tt_conn_cgroup_id(cr), 0ULL);
	st = r4;
	KUNIT_EXPECT_EQ(test, st->cgroup_id, 4026532001ULL);
	KUNIT_EXPECT_EQ(test, tt_state_cgroup_id(st), 0ULL);

	/* version 2: there */
	b->len = 0;
	off = 0;
	r1 = tt_put_conn(test, b, 8, 4026532002ULL);
	tt_expect_next(test, b, &off, TT_OK, r1, 120);
	cr = r1;
	KUNIT_EXPECT_EQ(test, tt_conn_cgroup_id(cr), 4026532002ULL);
}

static void rec_version_zero(struct kunit *test)
{
	struct tt_buf *b = tt_buf_new(test);
	struct tcptrace_hdr *h;
	unsigned long off;

	h = tt_put_state(test, b, TCP_CLOSE, TCP_SYN_SENT, 1);
	h->version = 0;
	off = 0;
	tt_expect_next(test, b, &off, TT_MALFORMED, NULL, 0);

	b->len = 0;
	h = tt_put_lost(test, b, 1);
	h->version = 0;
	off = 0;
	tt_expect_next(test, b, &off, TT_MALFORMED, NULL, 0);

	b->len = 0;
	h = tt_put_handshake(test, b);
	h->version = 0;
	off = 0;
	tt_expect_next(test, b, &off, TT_MALFORMED, NULL, 0);
}

static void rec_newer_version_prefix(struct kunit *test)
{
	const struct tcptrace_state_rec *st;
	const struct tcptrace_lost_rec *lost;
	struct tt_buf *b = tt_buf_new(test);
	struct tcptrace_state_rec s = {};
	struct tcptrace_lost_rec l = {};
	u8 grown[sizeof(struct tcptrace_state_rec) + 16];
	unsigned long off = 0;
	void *r1, *r2, *r3;

	/* a state record one version newer, with 16 more bytes at its end */
	tt_hdr(&s.hdr, TCPTRACE_REC_STATE, sizeof(grown),
	       TCPTRACE_STATE_REC_VERSION + 1);
	s.old_state = TCP_SYN_RECV;
	s.new_state = TCP_ESTABLISHED;
	s.sport = 80;
	s.cgroup_id = 12345;
	memset(grown, 0xcd, sizeof(grown));
	memcpy(grown, &s, sizeof(s));
	r1 = tt_put(test, b, grown, sizeof(grown));

	/* a lost record v9 of 48 bytes */
	tt_hdr(&l.hdr, TCPTRACE_REC_LOST, 48, 9);
	l.count = 5;
	r2 = tt_put(test, b, &l, sizeof(l));
	tt_put(test, b, grown, 16);

	r3 = tt_put_lost(test, b, 6);

	tt_expect_next(test, b, &off, TT_OK, r1, 152);
	tt_expect_next(test, b, &off, TT_OK, r2, 152 + 48);
	tt_expect_next(test, b, &off, TT_OK, r3, 152 + 48 + 32);
	tt_expect_next(test, b, &off, TT_END, NULL, b->len);

	/* the known prefix reads as before */
	st = r1;
	KUNIT_EXPECT_EQ(test, st->sport, 80);
	KUNIT_EXPECT_STREQ(test, tt_state_name(st->new_state), "ESTABLISHED");
	KUNIT_EXPECT_EQ(test, tt_state_cgroup_id(st), 12345ULL);
	lost = r2;
	KUNIT_EXPECT_EQ(test, lost->count, 5ULL);
}

static void rec_off_at_or_past_end(struct kunit *test)
{
	struct tt_buf *b = tt_buf_new(test);
	unsigned long off;

	tt_put_lost(test, b, 1);
	off = b->len;
	tt_expect_next(test, b, &off, TT_END, NULL, b->len);
	off = b->len + 8;
	tt_expect_next(test, b, &off, TT_END, NULL, b->len + 8);
	off = ULONG_MAX;
	tt_expect_next(test, b, &off, TT_END, NULL, ULONG_MAX);
}

static void rec_walk_garbage_terminates(struct kunit *test)
{
	struct tt_buf *b = tt_buf_new(test);
	const struct tcptrace_hdr *rec;
	unsigned int round, i, steps;
	unsigned long off, prev;
	enum tt_decode d;
	u32 x = 2463534242U;

	/* headers with random types, sizes and versions, and random bytes */
	for (round = 0; round < 2000; round++) {
		for (i = 0; i < 64; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			b->w[i] = x;
			b->w[i] = b->w[i] << 32 | (x * 2654435761U);
		}
		for (i = 0; i < 64; i += 1 + (x >> (i % 24)) % 6) {
			struct tcptrace_hdr *h = (void *)&b->w[i];

			h->type = (x >> (i % 32)) % 5;
			h->size = ((x >> (i % 16)) % 40) * 8;
			h->version = (x >> (i % 8)) % 3;
		}
		b->len = (x % 512) + 1;
		off = 0;
		steps = 0;
		while ((d = tt_next_record(b->w, b->len, &off, &rec)) == TT_OK ||
		       d == TT_SKIP) {
			/* a whole record inside the buffer, and progress */
			KUNIT_ASSERT_GE(test, (unsigned long)rec->size,
					sizeof(*rec));
			KUNIT_ASSERT_PTR_EQ(test, (const u8 *)rec + rec->size,
					    (const u8 *)b->w + off);
			KUNIT_ASSERT_LE(test, off, b->len);
			KUNIT_ASSERT_LT(test, ++steps, 64U);
		}
		prev = off;
		/* an error does not move, and says the same again */
		KUNIT_ASSERT_EQ(test, tt_next_record(b->w, b->len, &off, &rec),
				d);
		KUNIT_ASSERT_EQ(test, off, prev);
	}
}

static void rec_strerror(struct kunit *test)
{
	static const enum tt_decode all[] = {
		TT_OK, TT_SKIP, TT_END, TT_TRUNCATED, TT_MALFORMED,
	};
	unsigned int i, j;

	KUNIT_EXPECT_STREQ(test, tt_decode_strerror(TT_OK), "ok");
	KUNIT_EXPECT_STREQ(test, tt_decode_strerror(TT_TRUNCATED),
			   "truncated record");
	KUNIT_EXPECT_STREQ(test, tt_decode_strerror(TT_MALFORMED),
			   "malformed record");
	for (i = 0; i < ARRAY_SIZE(all); i++) {
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, tt_decode_strerror(all[i]));
		for (j = 0; j < i; j++)
			KUNIT_EXPECT_STRNEQ(test, tt_decode_strerror(all[i]),
					    tt_decode_strerror(all[j]));
	}
	KUNIT_EXPECT_STREQ(test, tt_decode_strerror((enum tt_decode)42), "?");
}

/* ---- names -------------------------------------------------------------- */

static const char *const tt_expected_states[] = {
	[TCP_ESTABLISHED]	= "ESTABLISHED",
	[TCP_SYN_SENT]		= "SYN_SENT",
	[TCP_SYN_RECV]		= "SYN_RECV",
	[TCP_FIN_WAIT1]		= "FIN_WAIT1",
	[TCP_FIN_WAIT2]		= "FIN_WAIT2",
	[TCP_TIME_WAIT]		= "TIME_WAIT",
	[TCP_CLOSE]		= "CLOSE",
	[TCP_CLOSE_WAIT]	= "CLOSE_WAIT",
	[TCP_LAST_ACK]		= "LAST_ACK",
	[TCP_LISTEN]		= "LISTEN",
	[TCP_CLOSING]		= "CLOSING",
	[TCP_NEW_SYN_RECV]	= "NEW_SYN_RECV",
	[13]			= "BOUND_INACTIVE",	/* since 6.7 */
};

static void state_names(struct kunit *test)
{
	unsigned int i;

	/* numbered as in this kernel's include/net/tcp_states.h */
	KUNIT_EXPECT_EQ(test, TCP_ESTABLISHED, 1);
	KUNIT_EXPECT_EQ(test, TCP_NEW_SYN_RECV, 12);
	for (i = 1; i < ARRAY_SIZE(tt_expected_states); i++) {
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, tt_state_name(i));
		KUNIT_EXPECT_STREQ(test, tt_state_name(i),
				   tt_expected_states[i]);
	}
	KUNIT_EXPECT_STREQ(test, tt_state_name(13), "BOUND_INACTIVE");
}

static void state_names_unknown(struct kunit *test)
{
	KUNIT_EXPECT_NULL(test, tt_state_name(0));
	KUNIT_EXPECT_NULL(test, tt_state_name(14));
	KUNIT_EXPECT_NULL(test, tt_state_name(255));
	KUNIT_EXPECT_NULL(test, tt_state_name(256));
	KUNIT_EXPECT_NULL(test, tt_state_name(UINT_MAX));
}

static void state_parse_canonical(struct kunit *test)
{
	unsigned int i;

	for (i = 1; i < ARRAY_SIZE(tt_expected_states); i++)
		KUNIT_EXPECT_EQ_MSG(test, tt_state_parse(tt_expected_states[i]),
				    (int)i, "%s", tt_expected_states[i]);
}

static void state_parse_any_case(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, tt_state_parse("established"), TCP_ESTABLISHED);
	KUNIT_EXPECT_EQ(test, tt_state_parse("Established"), TCP_ESTABLISHED);
	KUNIT_EXPECT_EQ(test, tt_state_parse("eStAbLiShEd"), TCP_ESTABLISHED);
	KUNIT_EXPECT_EQ(test, tt_state_parse("syn_sent"), TCP_SYN_SENT);
	KUNIT_EXPECT_EQ(test, tt_state_parse("Time_Wait"), TCP_TIME_WAIT);
	KUNIT_EXPECT_EQ(test, tt_state_parse("fin_wait2"), TCP_FIN_WAIT2);
	KUNIT_EXPECT_EQ(test, tt_state_parse("bound_inactive"), 13);
}

static void state_parse_dash(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, tt_state_parse("syn-sent"), TCP_SYN_SENT);
	KUNIT_EXPECT_EQ(test, tt_state_parse("SYN-RECV"), TCP_SYN_RECV);
	KUNIT_EXPECT_EQ(test, tt_state_parse("fin-wait1"), TCP_FIN_WAIT1);
	KUNIT_EXPECT_EQ(test, tt_state_parse("close-wait"), TCP_CLOSE_WAIT);
	KUNIT_EXPECT_EQ(test, tt_state_parse("last-ack"), TCP_LAST_ACK);
	KUNIT_EXPECT_EQ(test, tt_state_parse("new-syn_recv"), TCP_NEW_SYN_RECV);
	KUNIT_EXPECT_EQ(test, tt_state_parse("Bound-Inactive"), 13);
}

static void state_parse_prefixes(struct kunit *test)
{
	/* names that are prefixes of others match only themselves */
	KUNIT_EXPECT_EQ(test, tt_state_parse("close"), TCP_CLOSE);
	KUNIT_EXPECT_EQ(test, tt_state_parse("close_wait"), TCP_CLOSE_WAIT);
	KUNIT_EXPECT_EQ(test, tt_state_parse("closing"), TCP_CLOSING);
	KUNIT_EXPECT_EQ(test, tt_state_parse("syn_recv"), TCP_SYN_RECV);
	KUNIT_EXPECT_EQ(test, tt_state_parse("new_syn_recv"),
			TCP_NEW_SYN_RECV);
	KUNIT_EXPECT_EQ(test, tt_state_parse("CLOSE_"), -1);
	KUNIT_EXPECT_EQ(test, tt_state_parse("CLOS"), -1);
}

static void state_parse_rejects(struct kunit *test)
{
	static const char *const bad[] = {
		"", "ESTAB", "ESTABLISHEDX", "ESTABLISHED ", " ESTABLISHED",
		"SYN SENT", "SYN__SENT", "SYNSENT", "SYN_SENT\n", "_SYN_SENT",
		"1", "0", "unknown", "TIME_WAIT2", "FIN_WAIT", "-", "_",
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		KUNIT_EXPECT_EQ_MSG(test, tt_state_parse(bad[i]), -1,
				    "\"%s\"", bad[i]);
}

static void ctx_names(struct kunit *test)
{
	KUNIT_EXPECT_STREQ(test, tt_ctx_name(TCPTRACE_CTX_TASK), "task");
	KUNIT_EXPECT_STREQ(test, tt_ctx_name(TCPTRACE_CTX_SOFTIRQ), "softirq");
	KUNIT_EXPECT_STREQ(test, tt_ctx_name(TCPTRACE_CTX_HARDIRQ), "hardirq");
	KUNIT_EXPECT_STREQ(test, tt_ctx_name(TCPTRACE_CTX_NMI), "nmi");
	KUNIT_EXPECT_STREQ(test, tt_ctx_name(TCPTRACE_CTX_KTHREAD), "kthread");
	/* contexts are added upwards from 0: these will stay unknown */
	KUNIT_EXPECT_STREQ(test, tt_ctx_name(200), "unknown");
	KUNIT_EXPECT_STREQ(test, tt_ctx_name(255), "unknown");
	KUNIT_EXPECT_STREQ(test, tt_ctx_name(UINT_MAX), "unknown");
}

static struct kunit_case tcptrace_record_cases[] = {
	KUNIT_CASE(rec_abi_layout),
	KUNIT_CASE(rec_empty),
	KUNIT_CASE(rec_roundtrip),
	KUNIT_CASE(rec_walk_loop),
	KUNIT_CASE(rec_unknown_type_skipped),
	KUNIT_CASE(rec_unknown_type_any_version),
	KUNIT_CASE(rec_truncated_header),
	KUNIT_CASE(rec_truncated_body),
	KUNIT_CASE(rec_size_below_header),
	KUNIT_CASE(rec_size_not_multiple_of_8),
	KUNIT_CASE(rec_size_below_type),
	KUNIT_CASE(rec_old_version_layout),
	KUNIT_CASE(rec_version_zero),
	KUNIT_CASE(rec_newer_version_prefix),
	KUNIT_CASE(rec_off_at_or_past_end),
	KUNIT_CASE(rec_walk_garbage_terminates),
	KUNIT_CASE(rec_strerror),
	KUNIT_CASE(state_names),
	KUNIT_CASE(state_names_unknown),
	KUNIT_CASE(state_parse_canonical),
	KUNIT_CASE(state_parse_any_case),
	KUNIT_CASE(state_parse_dash),
	KUNIT_CASE(state_parse_prefixes),
	KUNIT_CASE(state_parse_rejects),
	KUNIT_CASE(ctx_names),
	{}
};

static struct kunit_suite tcptrace_record_suite = {
	.name = "tcptrace_record",
	.test_cases = tcptrace_record_cases,
};

kunit_test_suite(tcptrace_record_suite);

MODULE_DESCRIPTION("KUnit tests for tcptrace's record walker and names");
MODULE_LICENSE("GPL");

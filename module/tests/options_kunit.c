// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for module/options.c: TCP header and option parsing.
 *
 * Linked with the module's own options.c (see selftests/kunit/), so what
 * is tested here is what the module runs.
 *
 * Every input is parsed from buffers that end exactly where it ends (a
 * kmalloc() of exactly that size, the end of a vmalloc()ed page whose next
 * page is unmapped) and from copies followed by poison bytes: a parser
 * reading past its length gives a different result or faults, and either
 * fails the run even without KASAN (see tt_parse_checked()).
 */
#include <kunit/test.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "../options.h"

#define OPT_SPACE	(TCPTRACE_TCPHDR_MAX - TCPTRACE_TCPHDR_LEN)

/* Bytes put after the input: each would change the result if read. */
static const u8 tt_poison[] = { 0x00, 0x01, 0x02, 0x04, 0x08, 0x0a, 0xff };

/* Parse @len bytes at @p into a zeroed @o, as the module does. */
static u8 tt_run(bool hdr, const u8 *p, unsigned int len,
		 struct tcptrace_tcpopts *o)
{
	memset(o, 0, sizeof(*o));
	if (hdr)
		return tcptrace_parse_tcphdr(p, len, o);
	tcptrace_parse_opts(p, len, o);
	return 0;
}

/*
 * Parse @len bytes of options (or, if @hdr, a TCP header of which @len
 * bytes are available) into @o and return the flags of a header, checking
 * that the result depends on nothing past @len:
 *  - from a kmalloc() of exactly @len bytes (KASAN, where enabled, traps);
 *  - followed by each of tt_poison[]: an overread changes the result, and
 *    the test fails with its name;
 *  - at the very end of a vmalloc()ed page, followed by its unmapped guard
 *    page: an overread that no poison revealed faults (under UML the
 *    kernel hangs, and kunit.py's timeout fails the run).
 */
static u8 tt_parse_checked(struct kunit *test, bool hdr, const u8 *bytes,
			   unsigned int len, struct tcptrace_tcpopts *o)
{
	struct tcptrace_tcpopts o2;
	unsigned int i, bad = 0;
	u8 *buf, *page, flags, flags2;

	KUNIT_ASSERT_LE(test, len, (unsigned int)PAGE_SIZE);

	buf = kmalloc(len, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, buf);
	memcpy(buf, bytes, len);
	flags = tt_run(hdr, buf, len, o);
	kfree(buf);

	page = vmalloc(PAGE_SIZE);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, page);
	for (i = 0; i < ARRAY_SIZE(tt_poison); i++) {
		memset(page, tt_poison[i], PAGE_SIZE);
		memcpy(page, bytes, len);
		flags2 = tt_run(hdr, page, len, &o2);
		if (flags2 != flags || memcmp(o, &o2, sizeof(o2)))
			bad++;
	}
	KUNIT_EXPECT_EQ_MSG(test, bad, 0,
			    "the result of parsing %u bytes depends on the bytes after them",
			    len);
	if (!bad) {
		memcpy(page + PAGE_SIZE - len, bytes, len);
		flags2 = tt_run(hdr, page + PAGE_SIZE - len, len, &o2);
		KUNIT_EXPECT_EQ(test, flags2, flags);
		KUNIT_EXPECT_EQ(test, memcmp(o, &o2, sizeof(o2)), 0);
	}
	vfree(page);
	return flags;
}

static void parse_opts(struct kunit *test, const u8 *bytes, unsigned int len,
		       struct tcptrace_tcpopts *o)
{
	tt_parse_checked(test, false, bytes, len, o);
}

/* A 20-byte TCP header with data offset @doff (in 32-bit words). */
static void tt_tcphdr(u8 *th, u8 doff, u8 flags, u16 window)
{
	memset(th, 0, TCPTRACE_TCPHDR_LEN);
	th[0] = 0xc3;		/* source port 50000 */
	th[1] = 0x50;
	th[2] = 0x01;		/* destination port 443 */
	th[3] = 0xbb;
	th[4] = 0x12;		/* sequence number */
	th[5] = 0x34;
	th[6] = 0x56;
	th[7] = 0x78;
	th[12] = doff << 4;
	th[13] = flags;
	th[14] = window >> 8;
	th[15] = window & 0xff;
}

/* Parse the first @avail bytes of @seg as a TCP header; the flags. */
static u8 parse_hdr(struct kunit *test, const u8 *seg, unsigned int avail,
		    struct tcptrace_tcpopts *o)
{
	return tt_parse_checked(test, true, seg, avail, o);
}

#define PARSE(test, o, ...) do {					\
	static const u8 __opts[] = { __VA_ARGS__ };			\
	parse_opts(test, __opts, sizeof(__opts), o);			\
} while (0)

/* A macro, so that a failure names the line of the test. */
#define EXPECT_CLEAN(test, o, want) do {				\
	struct kunit *__t = (test);					\
	const struct tcptrace_tcpopts *__o = (o);			\
									\
	KUNIT_EXPECT_EQ(__t, __o->present, want);			\
	KUNIT_EXPECT_EQ(__t, __o->malformed, 0);			\
} while (0)

/* ---- well-formed options ---------------------------------------------- */

static void opts_empty(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	parse_opts(test, NULL, 0, &o);
	EXPECT_CLEAN(test, &o, 0);
	KUNIT_EXPECT_EQ(test, o.n_unknown, 0);
}

static void opts_eol_only(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	PARSE(test, &o, 0);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_EOL);
}

static void opts_nops_only(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	PARSE(test, &o, 1, 1, 1, 1);
	EXPECT_CLEAN(test, &o, 0);
}

static void opts_nops_fill_option_space(struct kunit *test)
{
	struct tcptrace_tcpopts o;
	u8 nops[OPT_SPACE];

	memset(nops, 1, sizeof(nops));
	parse_opts(test, nops, sizeof(nops), &o);
	EXPECT_CLEAN(test, &o, 0);
}

static void opts_mss(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	PARSE(test, &o, 2, 4, 0x05, 0xb4);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_MSS);
	KUNIT_EXPECT_EQ(test, o.mss, 1460);

	/* network byte order, full 16 bits */
	PARSE(test, &o, 2, 4, 0xff, 0xfe);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_MSS);
	KUNIT_EXPECT_EQ(test, o.mss, 65534);

	PARSE(test, &o, 2, 4, 0, 0);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_MSS);
	KUNIT_EXPECT_EQ(test, o.mss, 0);
}

static void opts_wscale(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	PARSE(test, &o, 3, 3, 7);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_WSCALE);
	KUNIT_EXPECT_EQ(test, o.wscale, 7);

	PARSE(test, &o, 3, 3, 0);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_WSCALE);
	KUNIT_EXPECT_EQ(test, o.wscale, 0);

	/* 14 is the largest valid shift (RFC 7323) */
	PARSE(test, &o, 3, 3, 14);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_WSCALE);
	KUNIT_EXPECT_EQ(test, o.wscale, 14);
}

static void opts_sack_perm(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	PARSE(test, &o, 4, 2);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_SACK_PERM);
	KUNIT_EXPECT_EQ(test, o.sack_blocks, 0);
}

static void opts_sack_blocks(struct kunit *test)
{
	struct tcptrace_tcpopts o;
	u8 opt[2 + 4 * 8];
	unsigned int n, i;

	for (n = 1; n <= 4; n++) {
		opt[0] = 5;
		opt[1] = 2 + 8 * n;
		for (i = 2; i < opt[1]; i++)
			opt[i] = i * 7;
		parse_opts(test, opt, opt[1], &o);
		EXPECT_CLEAN(test, &o, TCPTRACE_OPT_SACK);
		KUNIT_EXPECT_EQ_MSG(test, o.sack_blocks, n, "%u blocks", n);
	}
}

static void opts_sack_after_nops_with_ts(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	/* what Linux sends: nop,nop,TS,nop,nop,sack 3 blocks (40 bytes) */
	PARSE(test, &o,
	      1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2,
	      1, 1, 5, 26,
	      0, 0, 0x10, 0, 0, 0, 0x20, 0,
	      0, 0, 0x30, 0, 0, 0, 0x40, 0,
	      0, 0, 0x50, 0, 0, 0, 0x60, 0);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_TS | TCPTRACE_OPT_SACK);
	KUNIT_EXPECT_EQ(test, o.sack_blocks, 3);
	KUNIT_EXPECT_EQ(test, o.ts_val, 1);
	KUNIT_EXPECT_EQ(test, o.ts_ecr, 2);
}

static void opts_timestamps(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	PARSE(test, &o, 8, 10, 0x37, 0xa3, 0xff, 0x7f, 0xde, 0xad, 0xbe, 0xef);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_TS);
	KUNIT_EXPECT_EQ(test, o.ts_val, 933494655U);
	KUNIT_EXPECT_EQ(test, o.ts_ecr, 0xdeadbeefU);
}

static void opts_tfo_cookie(struct kunit *test)
{
	struct tcptrace_tcpopts o;
	u8 opt[2 + 16];
	unsigned int clen;

	/* every valid cookie length: even, 4..16 (RFC 7413) */
	for (clen = 4; clen <= 16; clen += 2) {
		memset(opt, 0xa5, sizeof(opt));
		opt[0] = 34;
		opt[1] = 2 + clen;
		parse_opts(test, opt, 2 + clen, &o);
		EXPECT_CLEAN(test, &o, TCPTRACE_OPT_TFO);
		KUNIT_EXPECT_EQ_MSG(test, o.tfo_len, clen, "cookie %u", clen);
	}
}

static void opts_tfo_request(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	PARSE(test, &o, 34, 2);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_TFO);
	KUNIT_EXPECT_EQ(test, o.tfo_len, 0);
}

static void opts_tfo_experimental(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	/* kind 254, magic 0xF989, 8-byte cookie (RFC 7413 section 4.1.1) */
	PARSE(test, &o, 254, 12, 0xf9, 0x89, 1, 2, 3, 4, 5, 6, 7, 8);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_TFO);
	KUNIT_EXPECT_EQ(test, o.tfo_len, 8);
	KUNIT_EXPECT_EQ(test, o.n_unknown, 0);

	/* the same as a cookie request */
	PARSE(test, &o, 254, 4, 0xf9, 0x89);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_TFO);
	KUNIT_EXPECT_EQ(test, o.tfo_len, 0);
}

static void opts_experimental_other(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	/* 254 with another magic is just an unknown option */
	PARSE(test, &o, 254, 4, 0x12, 0x34);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_UNKNOWN);
	KUNIT_EXPECT_EQ(test, o.n_unknown, 1);
	KUNIT_EXPECT_EQ(test, o.unknown[0], 254);

	/* too short to hold a magic */
	PARSE(test, &o, 254, 2, 253, 4, 0xf9, 0x89);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_UNKNOWN);
	KUNIT_EXPECT_EQ(test, o.n_unknown, 2);
	KUNIT_EXPECT_EQ(test, o.unknown[0], 254);
	KUNIT_EXPECT_EQ(test, o.unknown[1], 253);
}

static void opts_md5(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	PARSE(test, &o, 19, 18, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
	      14, 15);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_MD5);
}

static void opts_mptcp(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	/* MP_CAPABLE v1 on a SYN: subtype 0, version 1 */
	PARSE(test, &o, 30, 4, 0x01, 0x81);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_MPTCP);
	KUNIT_EXPECT_EQ(test, o.mptcp_subtype, 0);

	/* MP_JOIN: subtype 1, the flags in the low nibble are ignored */
	PARSE(test, &o, 30, 12, 0x1e, 0x01, 1, 2, 3, 4, 5, 6, 7, 8);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_MPTCP);
	KUNIT_EXPECT_EQ(test, o.mptcp_subtype, 1);

	/* the smallest valid one: kind, length, subtype byte */
	PARSE(test, &o, 30, 3, 0xf0);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_MPTCP);
	KUNIT_EXPECT_EQ(test, o.mptcp_subtype, 15);
}

static void opts_unknown_kinds(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	PARSE(test, &o, 6, 6, 1, 2, 3, 4, 1, 69, 3, 0, 28, 4, 0, 0);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_UNKNOWN);
	KUNIT_EXPECT_EQ(test, o.n_unknown, 3);
	KUNIT_EXPECT_EQ(test, o.unknown[0], 6);
	KUNIT_EXPECT_EQ(test, o.unknown[1], 69);
	KUNIT_EXPECT_EQ(test, o.unknown[2], 28);
}

static void opts_unknown_kinds_overflow(struct kunit *test)
{
	struct tcptrace_tcpopts o;
	unsigned int i;

	/* 12 unknown options, then an MSS: 8 kinds kept, parsing goes on */
	PARSE(test, &o, 100, 2, 101, 2, 102, 2, 103, 2, 104, 2, 105, 2,
	      106, 2, 107, 2, 108, 2, 109, 2, 110, 2, 111, 2,
	      2, 4, 0x05, 0xb4);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_UNKNOWN | TCPTRACE_OPT_MSS);
	KUNIT_EXPECT_EQ(test, o.n_unknown, TCPTRACE_MAX_UNKNOWN);
	for (i = 0; i < TCPTRACE_MAX_UNKNOWN; i++)
		KUNIT_EXPECT_EQ(test, o.unknown[i], 100 + i);
	KUNIT_EXPECT_EQ(test, o.mss, 1460);
}

static void opts_unknown_repeated(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	/* an unknown kind twice is not a duplicate: we cannot know */
	PARSE(test, &o, 200, 2, 200, 2);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_UNKNOWN);
	KUNIT_EXPECT_EQ(test, o.n_unknown, 2);
}

/* Linux: mss 1460,sackOK,TS val 3180283102 ecr 0,nop,wscale 7 */
static const u8 tt_linux_syn[] = {
	2, 4, 0x05, 0xb4,
	4, 2,
	8, 10, 0xbd, 0x8f, 0x44, 0xde, 0, 0, 0, 0,
	1,
	3, 3, 7,
};

static void opts_linux_syn(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	parse_opts(test, tt_linux_syn, sizeof(tt_linux_syn), &o);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_MSS | TCPTRACE_OPT_SACK_PERM |
			TCPTRACE_OPT_TS | TCPTRACE_OPT_WSCALE);
	KUNIT_EXPECT_EQ(test, o.mss, 1460);
	KUNIT_EXPECT_EQ(test, o.ts_val, 3180283102U);
	KUNIT_EXPECT_EQ(test, o.ts_ecr, 0);
	KUNIT_EXPECT_EQ(test, o.wscale, 7);
	KUNIT_EXPECT_EQ(test, o.sack_blocks, 0);
	KUNIT_EXPECT_EQ(test, o.n_unknown, 0);
}

static void opts_macos_syn(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	/* [mss 1460,nop,wscale 5,nop,nop,TS val 933494655 ecr 0,sackOK,eol] */
	PARSE(test, &o,
	      2, 4, 0x05, 0xb4,
	      1,
	      3, 3, 5,
	      1, 1,
	      8, 10, 0x37, 0xa3, 0xff, 0x7f, 0, 0, 0, 0,
	      4, 2,
	      0, 0);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_MSS | TCPTRACE_OPT_WSCALE |
			TCPTRACE_OPT_TS | TCPTRACE_OPT_SACK_PERM |
			TCPTRACE_OPT_EOL);
	KUNIT_EXPECT_EQ(test, o.mss, 1460);
	KUNIT_EXPECT_EQ(test, o.wscale, 5);
	KUNIT_EXPECT_EQ(test, o.ts_val, 933494655U);
	KUNIT_EXPECT_EQ(test, o.ts_ecr, 0);
}

static void opts_every_prefix_in_bounds(struct kunit *test)
{
	struct tcptrace_tcpopts o;
	unsigned int len;

	/* every truncation of a real SYN's options: never reads past it */
	for (len = 0; len <= sizeof(tt_linux_syn); len++) {
		parse_opts(test, tt_linux_syn, len, &o);
		KUNIT_EXPECT_EQ_MSG(test, !!(o.present & TCPTRACE_OPT_MSS),
				    len >= 4, "len %u", len);
		KUNIT_EXPECT_EQ_MSG(test, !!(o.present & TCPTRACE_OPT_WSCALE),
				    len == sizeof(tt_linux_syn), "len %u", len);
	}
	/* cut inside the TS option: its length runs past the end */
	parse_opts(test, tt_linux_syn, 10, &o);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_OPT_LEN);
	/* cut after the TS kind byte: no length byte */
	parse_opts(test, tt_linux_syn, 7, &o);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_OPT_TRUNC);
}

static void opts_exact_kmalloc(struct kunit *test)
{
	struct tcptrace_tcpopts o = {};
	const unsigned int len = sizeof(tt_linux_syn);
	u8 *p;

	/* the options are the very last bytes of the allocation */
	p = kunit_kmalloc(test, len, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	memcpy(p, tt_linux_syn, len);
	tcptrace_parse_opts(p, len, &o);
	KUNIT_EXPECT_EQ(test, o.wscale, 7);
	KUNIT_EXPECT_EQ(test, o.malformed, 0);

	/* one byte: a kind without a length */
	p = kunit_kmalloc(test, 1, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	p[0] = 2;
	memset(&o, 0, sizeof(o));
	tcptrace_parse_opts(p, 1, &o);
	KUNIT_EXPECT_EQ(test, o.present, 0);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_OPT_TRUNC);
}

/* ---- malformed options ------------------------------------------------ */

static void mal_length_zero(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	/* cannot step over it: stop, the MSS after it is not seen */
	PARSE(test, &o, 69, 0, 2, 4, 0x05, 0xb4);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_OPT_LEN);
	KUNIT_EXPECT_EQ(test, o.present, 0);
	KUNIT_EXPECT_EQ(test, o.mss, 0);

	/* also for a known kind */
	PARSE(test, &o, 2, 0, 0x05, 0xb4);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_OPT_LEN);
	KUNIT_EXPECT_EQ(test, o.present, 0);
}

static void mal_length_one(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	PARSE(test, &o, 2, 4, 0x05, 0xb4, 3, 1, 7, 4, 2);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_OPT_LEN);
	KUNIT_EXPECT_EQ(test, o.present, TCPTRACE_OPT_MSS);
	KUNIT_EXPECT_EQ(test, o.mss, 1460);
}

static void mal_length_past_end(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	PARSE(test, &o, 2, 4, 0x05);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_OPT_LEN);
	KUNIT_EXPECT_EQ(test, o.present, 0);

	/* TS needs 10, 9 are left */
	PARSE(test, &o, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_OPT_LEN);
	KUNIT_EXPECT_EQ(test, o.present, 0);

	/* the largest length byte */
	PARSE(test, &o, 99, 255, 0, 0);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_OPT_LEN);
	KUNIT_EXPECT_EQ(test, o.n_unknown, 0);
}

static void mal_kind_without_length(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	PARSE(test, &o, 1, 1, 1, 2);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_OPT_TRUNC);
	KUNIT_EXPECT_EQ(test, o.present, 0);

	PARSE(test, &o, 4, 2, 8);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_OPT_TRUNC);
	KUNIT_EXPECT_EQ(test, o.present, TCPTRACE_OPT_SACK_PERM);

	PARSE(test, &o, 200);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_OPT_TRUNC);
	KUNIT_EXPECT_EQ(test, o.n_unknown, 0);
}

static void mal_mss_length(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	/* MSS of length 3: flagged, skipped, the next option still parsed */
	PARSE(test, &o, 2, 3, 0x05, 4, 2);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_MSS);
	KUNIT_EXPECT_EQ(test, o.present, TCPTRACE_OPT_SACK_PERM);
	KUNIT_EXPECT_EQ(test, o.mss, 0);

	PARSE(test, &o, 2, 6, 0x05, 0xb4, 0, 0);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_MSS);
	KUNIT_EXPECT_EQ(test, o.present, 0);

	PARSE(test, &o, 2, 2);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_MSS);
	KUNIT_EXPECT_EQ(test, o.present, 0);
}

static void mal_wscale_length(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	PARSE(test, &o, 3, 2, 2, 4, 0x05, 0xb4);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_WSCALE);
	KUNIT_EXPECT_EQ(test, o.present, TCPTRACE_OPT_MSS);

	PARSE(test, &o, 3, 4, 7, 0);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_WSCALE);
	KUNIT_EXPECT_EQ(test, o.present, 0);
	KUNIT_EXPECT_EQ(test, o.wscale, 0);
}

static void mal_wscale_too_big(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	/*
	 * Flagged; the shift on the wire is still reported (the peer will
	 * use 14, RFC 7323 section 2.3, but a trace shows what was sent).
	 */
	PARSE(test, &o, 3, 3, 15);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_WSCALE);
	KUNIT_EXPECT_EQ(test, o.present, TCPTRACE_OPT_WSCALE);
	KUNIT_EXPECT_EQ(test, o.wscale, 15);

	PARSE(test, &o, 3, 3, 255);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_WSCALE);
	KUNIT_EXPECT_EQ(test, o.wscale, 255);
}

static void mal_sack_perm_length(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	PARSE(test, &o, 4, 3, 0);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_SACK_PERM);
	KUNIT_EXPECT_EQ(test, o.present, 0);
}

static void mal_ts_length(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	PARSE(test, &o, 8, 8, 1, 2, 3, 4, 5, 6);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_TS);
	KUNIT_EXPECT_EQ(test, o.present, 0);
	KUNIT_EXPECT_EQ(test, o.ts_val, 0);

	PARSE(test, &o, 8, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_TS);
	KUNIT_EXPECT_EQ(test, o.present, 0);
}

static void mal_sack_length(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	/* no block */
	PARSE(test, &o, 5, 2);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_SACK);
	KUNIT_EXPECT_EQ(test, o.present, 0);

	/* not 2 + 8n */
	PARSE(test, &o, 5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 3);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_SACK);
	KUNIT_EXPECT_EQ(test, o.present, 0);
	KUNIT_EXPECT_EQ(test, o.sack_blocks, 0);

	PARSE(test, &o, 5, 6, 0, 0, 0, 1);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_SACK);
	KUNIT_EXPECT_EQ(test, o.present, 0);
}

static void mal_md5_length(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	PARSE(test, &o, 19, 16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_MD5);
	KUNIT_EXPECT_EQ(test, o.present, 0);

	PARSE(test, &o, 19, 2);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_MD5);
	KUNIT_EXPECT_EQ(test, o.present, 0);
}

static void mal_mptcp_length(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	PARSE(test, &o, 30, 2, 4, 2);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_MPTCP);
	KUNIT_EXPECT_EQ(test, o.present, TCPTRACE_OPT_SACK_PERM);
	KUNIT_EXPECT_EQ(test, o.mptcp_subtype, 0);
}

static void mal_tfo_cookie(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	/* odd */
	PARSE(test, &o, 34, 7, 1, 2, 3, 4, 5);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_TFO);
	KUNIT_EXPECT_EQ(test, o.present, 0);
	KUNIT_EXPECT_EQ(test, o.tfo_len, 0);

	/* shorter than 4 */
	PARSE(test, &o, 34, 4, 1, 2);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_TFO);
	KUNIT_EXPECT_EQ(test, o.present, 0);

	/* longer than 16 */
	PARSE(test, &o, 34, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	      15, 16, 17, 18);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_TFO);
	KUNIT_EXPECT_EQ(test, o.present, 0);

	/* the same rules for the experimental option */
	PARSE(test, &o, 254, 9, 0xf9, 0x89, 1, 2, 3, 4, 5);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_TFO);
	KUNIT_EXPECT_EQ(test, o.present, 0);
	KUNIT_EXPECT_EQ(test, o.n_unknown, 0);
}

static void mal_duplicate(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	/* the first one counts */
	PARSE(test, &o, 2, 4, 0x05, 0xb4, 2, 4, 0x02, 0x18);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_DUP);
	KUNIT_EXPECT_EQ(test, o.present, TCPTRACE_OPT_MSS);
	KUNIT_EXPECT_EQ(test, o.mss, 1460);

	PARSE(test, &o, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2,
	      8, 10, 0, 0, 0, 3, 0, 0, 0, 4);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_DUP);
	KUNIT_EXPECT_EQ(test, o.ts_val, 1);
	KUNIT_EXPECT_EQ(test, o.ts_ecr, 2);

	PARSE(test, &o, 3, 3, 7, 3, 3, 2);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_DUP);
	KUNIT_EXPECT_EQ(test, o.wscale, 7);

	/* TFO and experimental TFO are the same option */
	PARSE(test, &o, 34, 2, 254, 4, 0xf9, 0x89);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_DUP);
	KUNIT_EXPECT_EQ(test, o.present, TCPTRACE_OPT_TFO);

	PARSE(test, &o, 4, 2, 4, 2);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_DUP);
	KUNIT_EXPECT_EQ(test, o.present, TCPTRACE_OPT_SACK_PERM);
}

static void mal_eol_in_middle(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	/* EOL ends the list: what follows is padding, even if it parses */
	PARSE(test, &o, 2, 4, 0x05, 0xb4, 0, 3, 3, 7, 4, 2);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_MSS | TCPTRACE_OPT_EOL);
	KUNIT_EXPECT_EQ(test, o.wscale, 0);

	/* garbage after the EOL is not looked at */
	PARSE(test, &o, 0, 2, 0, 5, 1, 99);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_EOL);
}

static void mal_flags_accumulate(struct kunit *test)
{
	struct tcptrace_tcpopts o;

	/* several problems in one SYN are all reported */
	PARSE(test, &o, 2, 3, 0, 3, 3, 20, 8, 6, 0, 0, 0, 0, 30, 2, 5, 2);
	KUNIT_EXPECT_EQ(test, o.malformed,
			TCPTRACE_MAL_MSS | TCPTRACE_MAL_WSCALE |
			TCPTRACE_MAL_TS | TCPTRACE_MAL_MPTCP |
			TCPTRACE_MAL_SACK);
}

/* ---- the TCP header --------------------------------------------------- */

static void hdr_no_options(struct kunit *test)
{
	struct tcptrace_tcpopts o;
	u8 th[TCPTRACE_TCPHDR_LEN];

	tt_tcphdr(th, 5, TCPTRACE_TH_ACK | TCPTRACE_TH_PSH, 0xfaf0);
	KUNIT_EXPECT_EQ(test, parse_hdr(test, th, sizeof(th), &o),
			TCPTRACE_TH_ACK | TCPTRACE_TH_PSH);
	EXPECT_CLEAN(test, &o, 0);
	KUNIT_EXPECT_EQ(test, o.window, 0xfaf0);
}

static void hdr_linux_syn(struct kunit *test)
{
	struct tcptrace_tcpopts o;
	u8 seg[TCPTRACE_TCPHDR_LEN + sizeof(tt_linux_syn) + 8];

	memset(seg, 0xee, sizeof(seg));		/* payload after the header */
	tt_tcphdr(seg, 10, TCPTRACE_TH_SYN, 64240);
	memcpy(seg + TCPTRACE_TCPHDR_LEN, tt_linux_syn, sizeof(tt_linux_syn));

	/* header alone, and followed by bytes that are not options */
	KUNIT_EXPECT_EQ(test, parse_hdr(test, seg, 40, &o), TCPTRACE_TH_SYN);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_MSS | TCPTRACE_OPT_SACK_PERM |
			TCPTRACE_OPT_TS | TCPTRACE_OPT_WSCALE);
	KUNIT_EXPECT_EQ(test, o.window, 64240);
	KUNIT_EXPECT_EQ(test, o.mss, 1460);
	KUNIT_EXPECT_EQ(test, o.wscale, 7);

	KUNIT_EXPECT_EQ(test, parse_hdr(test, seg, sizeof(seg), &o),
			TCPTRACE_TH_SYN);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_MSS | TCPTRACE_OPT_SACK_PERM |
			TCPTRACE_OPT_TS | TCPTRACE_OPT_WSCALE);
}

static void hdr_full_option_space(struct kunit *test)
{
	struct tcptrace_tcpopts o;
	u8 seg[TCPTRACE_TCPHDR_MAX];

	/* data offset 15: 40 bytes of options, all NOPs but a final MSS */
	tt_tcphdr(seg, 15, TCPTRACE_TH_SYN, 1024);
	memset(seg + TCPTRACE_TCPHDR_LEN, 1, OPT_SPACE);
	seg[56] = 2;
	seg[57] = 4;
	seg[58] = 0x02;
	seg[59] = 0x18;
	parse_hdr(test, seg, sizeof(seg), &o);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_MSS);
	KUNIT_EXPECT_EQ(test, o.mss, 536);
}

static void hdr_doff_short(struct kunit *test)
{
	struct tcptrace_tcpopts o;
	u8 seg[32];
	u8 doff;

	for (doff = 0; doff < 5; doff++) {
		memset(seg, 2, sizeof(seg));	/* would parse as options */
		tt_tcphdr(seg, doff, TCPTRACE_TH_SYN, 512);
		KUNIT_EXPECT_EQ(test, parse_hdr(test, seg, sizeof(seg), &o),
				TCPTRACE_TH_SYN);
		KUNIT_EXPECT_EQ_MSG(test, o.malformed,
				    TCPTRACE_MAL_DOFF_SHORT, "doff %u", doff);
		KUNIT_EXPECT_EQ(test, o.present, 0);
		KUNIT_EXPECT_EQ(test, o.window, 512);
	}
}

static void hdr_doff_past_avail(struct kunit *test)
{
	struct tcptrace_tcpopts o;
	u8 seg[TCPTRACE_TCPHDR_MAX];

	memset(seg, 1, sizeof(seg));
	tt_tcphdr(seg, 15, TCPTRACE_TH_SYN, 512);
	seg[20] = 2;
	seg[21] = 4;
	seg[22] = 0x05;
	seg[23] = 0xb4;

	/* 60 bytes of header announced, 59 captured: options skipped */
	KUNIT_EXPECT_EQ(test, parse_hdr(test, seg, 59, &o), TCPTRACE_TH_SYN);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_DOFF_PAST);
	KUNIT_EXPECT_EQ(test, o.present, 0);
	KUNIT_EXPECT_EQ(test, o.window, 512);

	parse_hdr(test, seg, TCPTRACE_TCPHDR_LEN, &o);
	KUNIT_EXPECT_EQ(test, o.malformed, TCPTRACE_MAL_DOFF_PAST);

	/* exactly the announced size is fine */
	parse_hdr(test, seg, 60, &o);
	EXPECT_CLEAN(test, &o, TCPTRACE_OPT_MSS);
	KUNIT_EXPECT_EQ(test, o.mss, 1460);
}

static u16 tt_ecn_of(struct kunit *test, u8 flags)
{
	struct tcptrace_tcpopts o;
	u8 th[TCPTRACE_TCPHDR_LEN];

	tt_tcphdr(th, 5, flags, 65535);
	KUNIT_EXPECT_EQ(test, parse_hdr(test, th, sizeof(th), &o), flags);
	return o.present & TCPTRACE_OPT_ECN;
}

#define TT_SYN	TCPTRACE_TH_SYN
#define TT_ACK	TCPTRACE_TH_ACK
#define TT_ECE	TCPTRACE_TH_ECE
#define TT_CWR	TCPTRACE_TH_CWR

static void hdr_ecn_syn(struct kunit *test)
{
	/* RFC 3168: an ECN-setup SYN has ECE and CWR */
	KUNIT_EXPECT_EQ(test, tt_ecn_of(test, TT_SYN | TT_ECE | TT_CWR),
			TCPTRACE_OPT_ECN);
	KUNIT_EXPECT_EQ(test, tt_ecn_of(test, TT_SYN | TT_ECE), 0);
	KUNIT_EXPECT_EQ(test, tt_ecn_of(test, TT_SYN | TT_CWR), 0);
	KUNIT_EXPECT_EQ(test, tt_ecn_of(test, TT_SYN), 0);
}

static void hdr_ecn_synack(struct kunit *test)
{
	/* an ECN-setup SYN-ACK has ECE and not CWR */
	KUNIT_EXPECT_EQ(test, tt_ecn_of(test, TT_SYN | TT_ACK | TT_ECE),
			TCPTRACE_OPT_ECN);
	KUNIT_EXPECT_EQ(test, tt_ecn_of(test, TT_SYN | TT_ACK | TT_ECE | TT_CWR),
			0);
	KUNIT_EXPECT_EQ(test, tt_ecn_of(test, TT_SYN | TT_ACK | TT_CWR), 0);
	KUNIT_EXPECT_EQ(test, tt_ecn_of(test, TT_SYN | TT_ACK), 0);
}

static void hdr_ecn_not_syn(struct kunit *test)
{
	/* ECE/CWR on other segments are congestion signals, not setup */
	KUNIT_EXPECT_EQ(test, tt_ecn_of(test, TT_ACK | TT_ECE), 0);
	KUNIT_EXPECT_EQ(test, tt_ecn_of(test, TT_ACK | TT_ECE | TT_CWR), 0);
	KUNIT_EXPECT_EQ(test, tt_ecn_of(test, TT_ECE | TT_CWR), 0);
	KUNIT_EXPECT_EQ(test, tt_ecn_of(test, TCPTRACE_TH_RST | TT_ECE | TT_CWR),
			0);
}

static void hdr_flags_and_window(struct kunit *test)
{
	struct tcptrace_tcpopts o;
	u8 th[TCPTRACE_TCPHDR_LEN];
	unsigned int f;

	/* every flags byte comes back as is */
	for (f = 0; f <= 0xff; f++) {
		tt_tcphdr(th, 5, f, 0x0102);
		memset(&o, 0, sizeof(o));
		KUNIT_EXPECT_EQ(test, tcptrace_parse_tcphdr(th, sizeof(th), &o),
				f);
		KUNIT_EXPECT_EQ(test, o.window, 0x0102);
	}
}

static void hdr_keeps_other_fields(struct kunit *test)
{
	struct tcptrace_tcpopts o;
	u8 th[TCPTRACE_TCPHDR_LEN];

	/* IP facts and the time are filled by the caller: left alone */
	memset(&o, 0, sizeof(o));
	o.seen_ns = 123456789;
	o.ttl = 64;
	o.ip_id = 4242;
	tt_tcphdr(th, 5, TT_SYN, 100);
	tcptrace_parse_tcphdr(th, sizeof(th), &o);
	KUNIT_EXPECT_EQ(test, o.seen_ns, 123456789ULL);
	KUNIT_EXPECT_EQ(test, o.ttl, 64);
	KUNIT_EXPECT_EQ(test, o.ip_id, 4242);
	KUNIT_EXPECT_EQ(test, o.window, 100);
}

static struct kunit_case tcptrace_options_cases[] = {
	KUNIT_CASE(opts_empty),
	KUNIT_CASE(opts_eol_only),
	KUNIT_CASE(opts_nops_only),
	KUNIT_CASE(opts_nops_fill_option_space),
	KUNIT_CASE(opts_mss),
	KUNIT_CASE(opts_wscale),
	KUNIT_CASE(opts_sack_perm),
	KUNIT_CASE(opts_sack_blocks),
	KUNIT_CASE(opts_sack_after_nops_with_ts),
	KUNIT_CASE(opts_timestamps),
	KUNIT_CASE(opts_tfo_cookie),
	KUNIT_CASE(opts_tfo_request),
	KUNIT_CASE(opts_tfo_experimental),
	KUNIT_CASE(opts_experimental_other),
	KUNIT_CASE(opts_md5),
	KUNIT_CASE(opts_mptcp),
	KUNIT_CASE(opts_unknown_kinds),
	KUNIT_CASE(opts_unknown_kinds_overflow),
	KUNIT_CASE(opts_unknown_repeated),
	KUNIT_CASE(opts_linux_syn),
	KUNIT_CASE(opts_macos_syn),
	KUNIT_CASE(opts_every_prefix_in_bounds),
	KUNIT_CASE(opts_exact_kmalloc),
	KUNIT_CASE(mal_length_zero),
	KUNIT_CASE(mal_length_one),
	KUNIT_CASE(mal_length_past_end),
	KUNIT_CASE(mal_kind_without_length),
	KUNIT_CASE(mal_mss_length),
	KUNIT_CASE(mal_wscale_length),
	KUNIT_CASE(mal_wscale_too_big),
	KUNIT_CASE(mal_sack_perm_length),
	KUNIT_CASE(mal_ts_length),
	KUNIT_CASE(mal_sack_length),
	KUNIT_CASE(mal_md5_length),
	KUNIT_CASE(mal_mptcp_length),
	KUNIT_CASE(mal_tfo_cookie),
	KUNIT_CASE(mal_duplicate),
	KUNIT_CASE(mal_eol_in_middle),
	KUNIT_CASE(mal_flags_accumulate),
	KUNIT_CASE(hdr_no_options),
	KUNIT_CASE(hdr_linux_syn),
	KUNIT_CASE(hdr_full_option_space),
	KUNIT_CASE(hdr_doff_short),
	KUNIT_CASE(hdr_doff_past_avail),
	KUNIT_CASE(hdr_ecn_syn),
	KUNIT_CASE(hdr_ecn_synack),
	KUNIT_CASE(hdr_ecn_not_syn),
	KUNIT_CASE(hdr_flags_and_window),
	KUNIT_CASE(hdr_keeps_other_fields),
	{}
};

static struct kunit_suite tcptrace_options_suite = {
	.name = "tcptrace_options",
	.test_cases = tcptrace_options_cases,
};

kunit_test_suite(tcptrace_options_suite);

MODULE_DESCRIPTION("KUnit tests for tcptrace's TCP option parser");
MODULE_LICENSE("GPL");

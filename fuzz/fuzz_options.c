// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the TCP header and option parser, module/options.c,
 * the very file the module builds (no copy).
 *
 * Input: the bytes of a TCP segment from its header on, as the module's
 * netfilter hook would see them.  The module hands the parser at most 60
 * bytes (TCPTRACE_TCPHDR_MAX) and at least 20, so does this target; each
 * buffer is copied to a heap block of exactly its size, so any read past
 * it is an AddressSanitizer report.  The parsed struct is a heap block of
 * exactly its size too: a write past unknown[] is caught the same way.
 *
 * Invariants checked beyond memory safety (a violation aborts):
 *  - only known present/malformed bits; n_unknown <= TCPTRACE_MAX_UNKNOWN,
 *    and OPT_UNKNOWN is set exactly when an unknown kind was seen;
 *  - a data offset below 5 or past the segment flags DOFF_* and parses no
 *    option at all;
 *  - at most 4 SACK blocks in a header (40 option bytes), >= 1 if present;
 *  - fields of absent options stay zero; a window scale above 14 is
 *    flagged; a TFO cookie length is 0 or even 4..16; MPTCP subtype < 16;
 *  - window and flags are the header's; the ECN setup bit follows the
 *    flags (SYN: ECE+CWR, SYN-ACK: ECE alone);
 *  - parse_tcphdr() equals parse_opts() on the header's option area;
 *  - parsing is deterministic.
 * tcptrace_parse_opts() is also run on the whole input (option areas up
 * to any length, as a future caller could pass).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "fuzz.h"

#define OPT_KNOWN	0x07ff
#define MAL_KNOWN	0x1fff
#define MAL_DOFF	(TCPTRACE_MAL_DOFF_SHORT | TCPTRACE_MAL_DOFF_PAST)

static int known_kind(unsigned int k)
{
	switch (k) {
	case 0: case 1: case 2: case 3: case 4: case 5: case 8: case 19:
	case 30: case 34:
		return 1;
	}
	return 0;
}

/* What must hold for any parse result, from a header or not. */
static void check_common(const struct tcptrace_tcpopts *o)
{
	unsigned int i;

	CHECK(!(o->present & ~OPT_KNOWN));
	CHECK(!(o->malformed & ~MAL_KNOWN));
	CHECK(o->n_unknown <= TCPTRACE_MAX_UNKNOWN);
	CHECK(!!(o->present & TCPTRACE_OPT_UNKNOWN) == (o->n_unknown > 0));
	for (i = 0; i < o->n_unknown; i++)
		CHECK(!known_kind(o->unknown[i]));
	for (i = o->n_unknown; i < TCPTRACE_MAX_UNKNOWN; i++)
		CHECK(o->unknown[i] == 0);
	if (!(o->present & TCPTRACE_OPT_MSS))
		CHECK(o->mss == 0);
	if (!(o->present & TCPTRACE_OPT_WSCALE))
		CHECK(o->wscale == 0);
	if (o->wscale > 14)
		CHECK(o->malformed & TCPTRACE_MAL_WSCALE);
	if (!(o->present & TCPTRACE_OPT_TS))
		CHECK(o->ts_val == 0 && o->ts_ecr == 0);
	CHECK(!!(o->present & TCPTRACE_OPT_SACK) == (o->sack_blocks > 0));
	if (o->present & TCPTRACE_OPT_TFO)
		CHECK(o->tfo_len == 0 ||
		      (o->tfo_len >= 4 && o->tfo_len <= 16 && !(o->tfo_len % 2)));
	else
		CHECK(o->tfo_len == 0);
	CHECK(o->mptcp_subtype < 16);
	if (!(o->present & TCPTRACE_OPT_MPTCP))
		CHECK(o->mptcp_subtype == 0);
	/* never touched by the parser: the module fills them from IP/time */
	CHECK(o->seen_ns == 0 && o->ttl == 0 && o->ip_id == 0);
}

static struct tcptrace_tcpopts *new_opts(void)
{
	struct tcptrace_tcpopts *o = malloc(sizeof(*o));

	if (!o)
		abort();
	memset(o, 0, sizeof(*o));
	return o;
}

static void check_header(const uint8_t *th, unsigned int avail)
{
	struct tcptrace_tcpopts *o = new_opts(), *o2 = new_opts();
	struct tcptrace_tcpopts *ref = new_opts();
	unsigned int doff = (th[12] >> 4) * 4;
	uint8_t flags, syn_ack;

	flags = tcptrace_parse_tcphdr(th, avail, o);
	CHECK(flags == th[13]);
	check_common(o);
	CHECK(o->window == (th[14] << 8 | th[15]));

	/* ECN setup: SYN with ECE+CWR, or SYN-ACK with ECE alone */
	syn_ack = flags & (TCPTRACE_TH_SYN | TCPTRACE_TH_ACK);
	if (syn_ack == TCPTRACE_TH_SYN)
		CHECK(!!(o->present & TCPTRACE_OPT_ECN) ==
		      ((flags & 0xc0) == 0xc0));
	else if (flags & TCPTRACE_TH_SYN)
		CHECK(!!(o->present & TCPTRACE_OPT_ECN) ==
		      ((flags & 0xc0) == TCPTRACE_TH_ECE));
	else
		CHECK(!(o->present & TCPTRACE_OPT_ECN));

	if (doff < TCPTRACE_TCPHDR_LEN || doff > avail) {
		/* a lying data offset: flagged, and no option is read */
		CHECK(o->malformed & MAL_DOFF);
		CHECK(!(o->present & ~TCPTRACE_OPT_ECN));
		CHECK((o->malformed & ~MAL_DOFF) == 0);
		CHECK(o->n_unknown == 0 && o->mss == 0 && o->wscale == 0 &&
		      o->sack_blocks == 0 && o->ts_val == 0);
		CHECK(!!(o->malformed & TCPTRACE_MAL_DOFF_SHORT) ==
		      (doff < TCPTRACE_TCPHDR_LEN));
	} else {
		uint8_t *opts;
		unsigned int olen = doff - TCPTRACE_TCPHDR_LEN;

		CHECK(!(o->malformed & MAL_DOFF));
		/* at most 40 option bytes: at most 4 SACK blocks */
		CHECK(o->sack_blocks <= 4);
		/* same as parsing the option area alone, exactly sized */
		opts = malloc(olen ? olen : 1);
		if (!opts)
			abort();
		memcpy(opts, th + TCPTRACE_TCPHDR_LEN, olen);
		ref->window = o->window;
		ref->present = o->present & TCPTRACE_OPT_ECN;
		tcptrace_parse_opts(opts, olen, ref);
		CHECK(!memcmp(o, ref, sizeof(*o)));
		free(opts);
	}

	/* deterministic */
	CHECK(tcptrace_parse_tcphdr(th, avail, o2) == flags);
	CHECK(!memcmp(o, o2, sizeof(*o)));
	free(o);
	free(o2);
	free(ref);
}

static void check_opts(const uint8_t *p, size_t len)
{
	struct tcptrace_tcpopts *o = new_opts();

	tcptrace_parse_opts(p, len, o);
	check_common(o);
	CHECK(o->window == 0);
	CHECK(!(o->present & TCPTRACE_OPT_ECN));
	CHECK(!(o->malformed & MAL_DOFF));
	/* a SACK option is at most 255 bytes: 31 blocks */
	CHECK(o->sack_blocks <= (len >= 2 ? (len - 2) / 8 : 0));
	free(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;
	size_t avail;

	/* the option area alone, any length (data is exactly sized) */
	check_opts(data, size);

	/* a header, as the module sees it: 20..60 bytes */
	if (size < TCPTRACE_TCPHDR_LEN)
		return 0;
	avail = size < TCPTRACE_TCPHDR_MAX ? size : TCPTRACE_TCPHDR_MAX;
	buf = malloc(avail);
	if (!buf)
		abort();
	memcpy(buf, data, avail);
	check_header(buf, avail);
	free(buf);
	return 0;
}

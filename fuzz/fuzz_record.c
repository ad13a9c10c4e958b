// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: walking records with tt_next_record(), module/record.c
 * as the CLI, the KUnit suite and this fuzzer share it.
 *
 * Input: a buffer as read() or `tcpwhy -r FILE` would hand it to the
 * decoder, copied to an 8-byte aligned heap block of exactly its size
 * (the CLI's buffers are u64 arrays): a read past it is an ASan report.
 *
 * Invariants (a violation aborts):
 *  - the walk ends: at most len / 8 + 1 steps, each TT_OK or TT_SKIP
 *    advancing the offset by exactly hdr.size (>= 24, a multiple of 8),
 *    never past the buffer;
 *  - TT_OK only for a known type with version != 0 and at least the size
 *    of that type's layout in that version (records of version 1 end
 *    before cgroup_id); every byte of the record it returns
 *    is readable (they are all touched, so ASan sees a record claimed past
 *    the buffer), and so is every field the CLI reads: the cgroup
 *    accessors read cgroup_id only when it is inside the record;
 *  - TT_END only at the end; TT_TRUNCATED / TT_MALFORMED leave the offset
 *    alone; an offset at or past the end is TT_END;
 *  - the naming helpers return a string (or NULL for an unknown state)
 *    for any value; tt_state_parse() of any string is -1 or a state whose
 *    name parses back to it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "fuzz.h"

static unsigned long min_size(unsigned int type, unsigned int version)
{
	switch (type) {
	case TCPTRACE_REC_STATE:
		/* version 2 added cgroup_id, 3 the task's PID namespace */
		if (version == 1)
			return sizeof(struct tcptrace_state_rec) - 24;
		if (version == 2)
			return sizeof(struct tcptrace_state_rec) - 16;
		return sizeof(struct tcptrace_state_rec);
	case TCPTRACE_REC_LOST:
		return sizeof(struct tcptrace_lost_rec);
	case TCPTRACE_REC_HANDSHAKE:
		if (version == 1)
			return sizeof(struct tcptrace_handshake_rec) - 8;
		return sizeof(struct tcptrace_handshake_rec);
	case TCPTRACE_REC_DIAG:
		/*
		 * version 2 added cgroup_id, 3 the SYN's interface (and a
		 * pad), 4 the MTU (and a pad)
		 */
		if (version == 1)
			return sizeof(struct tcptrace_diag_rec) - 24;
		if (version == 2)
			return sizeof(struct tcptrace_diag_rec) - 16;
		if (version == 3)
			return sizeof(struct tcptrace_diag_rec) - 8;
		return sizeof(struct tcptrace_diag_rec);
	case TCPTRACE_REC_CONN:
		if (version == 1)
			return sizeof(struct tcptrace_conn_rec) - 8;
		return sizeof(struct tcptrace_conn_rec);
	}
	return 0;
}

/*
 * The accessors of later fields: 0 before their version, the field itself
 * from it on.
 */
static void check_cgroup(const struct tcptrace_hdr *h)
{
	const struct tcptrace_state_rec *s = (const void *)h;
	const struct tcptrace_conn_rec *c = (const void *)h;
	const struct tcptrace_handshake_rec *hs = (const void *)h;
	const struct tcptrace_diag_rec *d = (const void *)h;
	uint64_t id;

	if (h->type == TCPTRACE_REC_STATE) {
		id = tt_state_cgroup_id(s);
		CHECK(h->version >= 2 ? id == s->cgroup_id : id == 0);
	} else if (h->type == TCPTRACE_REC_CONN) {
		id = tt_conn_cgroup_id(c);
		CHECK(h->version >= 2 ? id == c->cgroup_id : id == 0);
	} else if (h->type == TCPTRACE_REC_HANDSHAKE) {
		id = tt_hs_cgroup_id(hs);
		CHECK(h->version >= 2 ? id == hs->cgroup_id : id == 0);
	} else if (h->type == TCPTRACE_REC_DIAG) {
		id = tt_diag_cgroup_id(d);
		CHECK(h->version >= 2 ? id == d->cgroup_id : id == 0);
		id = tt_diag_in_ifindex(d);
		CHECK(h->version >= 3 ? id == d->in_ifindex : id == 0);
		id = tt_diag_out_ifindex(d);
		CHECK(h->version >= 4 ? id == d->out_ifindex : id == 0);
		id = tt_diag_mtu(d);
		CHECK(h->version >= 4 ? id == d->mtu : id == 0);
		id = tt_diag_count_other(d);
		CHECK(h->version >= 4 ? id == d->count_other : id == 0);
	}
}

static volatile uint8_t sink;

static void walk(const uint8_t *buf, size_t len)
{
	unsigned long off = 0, steps = 0;
	const struct tcptrace_hdr *h;
	enum tt_decode d;

	for (;;) {
		unsigned long before = off;
		uint8_t x = 0;
		size_t i;

		h = NULL;
		d = tt_next_record(buf, len, &off, &h);
		CHECK(++steps <= len / 8 + 1);
		CHECK(tt_decode_strerror(d) != NULL);
		if (d == TT_END) {
			CHECK(off == before && before >= len);
			break;
		}
		if (d == TT_TRUNCATED || d == TT_MALFORMED) {
			CHECK(off == before && before < len);
			/* the CLI stops here (exit 3); so do we */
			break;
		}
		CHECK(d == TT_OK || d == TT_SKIP);
		CHECK((const uint8_t *)h == buf + before);
		CHECK(h->size >= sizeof(*h) && h->size % 8 == 0);
		CHECK(off == before + h->size && off <= len);
		if (d == TT_OK) {
			CHECK(min_size(h->type, h->version) != 0);
			CHECK(h->size >= min_size(h->type, h->version));
			CHECK(h->version != 0);
			check_cgroup(h);
		} else {
			CHECK(min_size(h->type, 1) == 0);
		}
		for (i = 0; i < h->size; i++)
			x ^= ((const uint8_t *)h)[i];
		sink = x;
	}
	/* past the end: always TT_END, offset untouched */
	off = len + (len & 7);
	CHECK(tt_next_record(buf, len, &off, &h) == TT_END);
	CHECK(off == len + (len & 7));
}

static void names(const uint8_t *data, size_t size)
{
	unsigned int v = 0;
	char *s;
	int st;

	if (size >= 4)
		memcpy(&v, data, 4);
	(void)tt_state_name(v);
	(void)tt_state_name(v & 0xff);
	CHECK(tt_ctx_name(v) != NULL);
	CHECK(tt_ctx_name(v & 0xff) != NULL);
	CHECK(tt_decode_strerror((enum tt_decode)(v & 7)) != NULL);

	/* the input as a state name (--state) */
	s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	st = tt_state_parse(s);
	if (st != -1) {
		const char *n = tt_state_name(st);

		CHECK(st > 0 && n != NULL);
		CHECK(tt_state_parse(n) == st);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;

	/* malloc() is 16-byte aligned; an empty input gets a 1-byte block */
	buf = malloc(size ? size : 1);
	if (!buf)
		abort();
	memcpy(buf, data, size);
	walk(buf, size);
	free(buf);
	names(data, size);
	return 0;
}

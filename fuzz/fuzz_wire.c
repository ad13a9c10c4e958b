// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: from the wire to the screen.  The bytes a remote peer
 * controls (a SYN's and a SYN-ACK's TCP header and options) go through the
 * module's parser, module/options.c, into a handshake record exactly as
 * the module fills it; the CLI (its files linked in, all but main's)
 * then decodes and prints that record, as text and as JSON.
 *
 * Unlike the cli target, whose records may hold values the module never
 * writes, every record here is one the module can really produce: a crash
 * here is one a remote peer can trigger in `tcpwhy` by sending a SYN.
 *
 * Input: byte 0 picks the outcome and family, then up to 60 bytes of the
 * SYN's header, then the SYN-ACK's (split in the middle of the rest).
 * The JSON output is captured and checked to be one line, printable ASCII.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "record.h"
#include "../tools/cli.h"
#include "../tools/output.h"

#include "options.h"

#include "fuzz.h"

static const char *capture;
static size_t capture_len;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	mono_to_real_ns = 1700000000LL * 1000000000LL;
	return 0;
}

/* Parse one header (20..60 bytes, exactly sized) into @o as the module. */
static void parse(const uint8_t *p, size_t n, struct tcptrace_tcpopts *o)
{
	uint8_t *th;

	if (n < TCPTRACE_TCPHDR_LEN)
		return;			/* the module ignores such a segment */
	if (n > TCPTRACE_TCPHDR_MAX)
		n = TCPTRACE_TCPHDR_MAX;
	th = malloc(n);
	if (!th)
		abort();
	memcpy(th, p, n);
	tcptrace_parse_tcphdr(th, n, o);
	free(th);
	o->seen_ns = 1000;
	o->ttl = 64;
	o->ip_id = 0x1234;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tcptrace_handshake_rec *r;
	size_t half, i;

	if (size < 1)
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		abort();
	r->hdr.type = TCPTRACE_REC_HANDSHAKE;
	r->hdr.size = sizeof(*r);
	r->hdr.version = TCPTRACE_HANDSHAKE_REC_VERSION;
	r->hdr.ts_ns = 5000;
	r->sock_cookie = 42;
	r->family = data[0] & 1 ? AF_INET6 : AF_INET;
	r->role = data[0] & 2 ? TCPTRACE_ROLE_SERVER : TCPTRACE_ROLE_CLIENT;
	r->outcome = 1 + ((data[0] >> 2) & 3);
	r->agreed = data[0] >> 4;
	r->saddr[15] = r->daddr[15] = 1;
	r->sport = 8080;
	r->dport = 41532;
	data++;
	size--;
	half = size / 2;
	parse(data, half, &r->syn);
	parse(data + half, size - half, &r->synack);
	r->done_ns = 9000;

	for (i = 0; i < 2; i++) {
		opt.json = i;
		opt.mode = MODE_HANDSHAKES;
		/* the CLI formats into its output buffer: look there */
		ob.n = 0;
		tt_handle_buffer(r, sizeof(*r), NULL);
		capture = ob.buf;
		capture_len = ob.n;
		/* one line, printable, whatever the peer sent */
		CHECK(capture_len > 0 && capture[capture_len - 1] == '\n');
		CHECK(memchr(capture, '\n', capture_len) ==
		      capture + capture_len - 1);
		for (size_t j = 0; j + 1 < capture_len; j++)
			CHECK(capture[j] >= 0x20 && capture[j] < 0x7f);
		ob.n = 0;
	}
	free(r);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Writes the fuzzers' seed corpora (fuzz/corpus/<target>/): small,
 * hand-made inputs, each named for what it is.  Record sizes come from the
 * UAPI header, so the seeds follow the ABI.
 *
 *   mkcorpus SEEDS REGRESS   (fuzz/run.sh --corpus: fuzz/corpus fuzz/regress)
 *
 * REGRESS gets the inputs that once crashed a target (see the bugs named
 * at regress_corpus()); they are run before every fuzzing run.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "uapi/tcptrace.h"
#include "options.h"

static const char *root;

static void put(const char *target, const char *name, const void *p,
		size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, target);
	if (mkdir(path, 0755) && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
		perror(path);
		exit(1);
	}
}

/* --- TCP headers ------------------------------------------------------ */

#define SYN 0x02
#define ACK 0x10
#define ECE 0x40
#define CWR 0x80

/* A TCP header with @olen option bytes @opts (padded to 4 with EOL). */
static size_t tcp(uint8_t *out, uint8_t flags, const uint8_t *opts,
		  size_t olen)
{
	size_t pad = (4 - olen % 4) % 4, n = 20 + olen + pad;

	memset(out, 0, n);
	out[0] = 0xa2; out[1] = 0x3c;		/* sport 41532 */
	out[2] = 0x1f; out[3] = 0x90;		/* dport 8080 */
	out[4] = 0x12; out[5] = 0x34; out[6] = 0x56; out[7] = 0x78;
	if (flags & ACK)
		out[11] = 1;
	out[12] = (uint8_t)(n / 4) << 4;
	out[13] = flags;
	out[14] = 0xfa; out[15] = 0xf0;		/* window 64240 */
	if (olen)
		memcpy(out + 20, opts, olen);
	return n;
}

static void hdr(const char *name, uint8_t flags, const uint8_t *opts,
		size_t olen)
{
	uint8_t b[80], w[1 + 2 * 80];
	size_t n = tcp(b, flags, opts, olen);

	put("options", name, b, n);
	/* wire: the same header as SYN and (with ACK) as SYN-ACK */
	w[0] = 0x10 | (flags & ECE ? 0x80 : 0);	/* established, agreed */
	memcpy(w + 1, b, n);
	memcpy(w + 1 + n, b, n);
	w[1 + n + 13] |= ACK;
	put("wire", name, w, 1 + 2 * n);
}

/* a header whose data offset field says @doff (words), @len bytes sent */
static void hdr_doff(const char *name, unsigned int doff, size_t len)
{
	uint8_t b[80] = { 0 };

	tcp(b, SYN, NULL, 0);
	b[12] = (uint8_t)(doff << 4);
	put("options", name, b, len);
}

#define O(...) ((const uint8_t[]){ __VA_ARGS__ })
#define HDR(name, flags, ...) \
	hdr(name, flags, O(__VA_ARGS__), sizeof(O(__VA_ARGS__)))

#define TSV 0x00, 0x3b, 0x9a, 0xca	/* TS val 3906250 */

static void options_corpus(void)
{
	uint8_t many[40];
	int i;

	HDR("no-options", SYN);
	/* Linux SYN: mss 1460,sackOK,TS val 3906250 ecr 0,nop,wscale 7 */
	HDR("linux-syn", SYN, 2, 4, 0x05, 0xb4, 4, 2, 8, 10, TSV, 0, 0, 0, 0,
	    1, 3, 3, 7);
	HDR("linux-synack", SYN | ACK, 2, 4, 0x05, 0xb4, 4, 2, 8, 10, TSV,
	    0, 0, 0, 1, 1, 3, 3, 7);
	HDR("linux-syn-ecn", SYN | ECE | CWR, 2, 4, 0xff, 0xd7, 4, 2, 8, 10,
	    TSV, 0, 0, 0, 0, 1, 3, 3, 7);
	HDR("linux-synack-ecn", SYN | ACK | ECE, 2, 4, 0xff, 0xd7, 4, 2, 8,
	    10, TSV, 0, 0, 0, 1, 1, 3, 3, 7);
	/* macOS: mss 1460,nop,wscale 5,nop,nop,TS val ecr 0,sackOK,eol */
	HDR("macos-syn", SYN, 2, 4, 0x05, 0xb4, 1, 3, 3, 5, 1, 1, 8, 10, TSV,
	    0, 0, 0, 0, 4, 2, 0, 0);
	/* Windows: mss 1460,nop,wscale 8,nop,nop,sackOK */
	HDR("windows-syn", SYN, 2, 4, 0x05, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2);
	HDR("mss-only", SYN, 2, 4, 0x02, 0x18);
	HDR("sack-1-block", ACK, 1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2);
	HDR("sack-3-blocks-ts", ACK, 1, 1, 8, 10, TSV, 0, 0, 0, 1, 5, 26,
	    0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0,
	    0, 6);
	HDR("sack-4-blocks", ACK, 1, 1, 5, 34, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0,
	    0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 8);
	HDR("tfo-cookie", SYN, 2, 4, 0x05, 0xb4, 34, 10, 1, 2, 3, 4, 5, 6, 7,
	    8);
	HDR("tfo-request", SYN, 2, 4, 0x05, 0xb4, 34, 2);
	HDR("tfo-exp-request", SYN, 2, 4, 0x05, 0xb4, 254, 4, 0xf9, 0x89);
	HDR("tfo-exp-cookie", SYN, 254, 12, 0xf9, 0x89, 1, 2, 3, 4, 5, 6, 7,
	    8);
	HDR("exp-other", SYN, 254, 6, 0x12, 0x34, 0, 0);
	HDR("md5", SYN, 19, 18, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	    15, 16);
	HDR("mptcp-capable", SYN, 2, 4, 0x05, 0xb4, 30, 12, 0x01, 0x81, 1, 2,
	    3, 4, 5, 6, 7, 8);
	HDR("unknown-kinds", SYN, 6, 2, 7, 3, 0, 9, 2, 10, 3, 0, 253, 2);
	/* more unknown kinds than kept (8) */
	for (i = 0; i < 20; i++) {
		many[2 * i] = 40 + i;
		many[2 * i + 1] = 2;
	}
	hdr("unknown-20-kinds", SYN, many, sizeof(many));
	HDR("nops-then-eol", SYN, 1, 1, 1, 1, 1, 1, 1, 0, 2, 4, 5, 0xb4);

	/* every malformation the parser flags */
	HDR("mal-len-0", SYN, 2, 0, 0x05, 0xb4);
	HDR("mal-len-1", SYN, 2, 4, 0x05, 0xb4, 8, 1);
	HDR("mal-len-past", SYN, 2, 4, 0x05, 0xb4, 8, 30, 0, 0);
	HDR("mal-trunc", SYN, 1, 1, 1, 8);
	HDR("mal-mss-len", SYN, 2, 3, 0x05, 1, 1, 1);
	HDR("mal-wscale-len", SYN, 3, 4, 7, 0);
	HDR("mal-wscale-15", SYN, 1, 3, 3, 15);
	HDR("mal-sackok-len", SYN, 4, 3, 0, 1);
	HDR("mal-ts-len", SYN, 8, 9, TSV, 0, 0, 0, 1, 1, 1);
	HDR("mal-sack-len", ACK, 1, 1, 5, 9, 0, 0, 0, 1, 0, 0, 0);
	HDR("mal-sack-len-11", ACK, 5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1);
	HDR("mal-tfo-odd", SYN, 34, 7, 1, 2, 3, 4, 5, 1);
	HDR("mal-tfo-short", SYN, 34, 4, 1, 2);
	HDR("mal-tfo-long", SYN, 34, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
	    12, 13, 14, 15, 16, 17, 18);
	HDR("mal-tfo-exp-odd", SYN, 254, 7, 0xf9, 0x89, 1, 2, 3, 1);
	HDR("mal-md5-len", SYN, 19, 17, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
	    13, 14, 15, 1, 1, 1);
	HDR("mal-mptcp-len", SYN, 30, 2, 1, 1);
	HDR("mal-dup-mss", SYN, 2, 4, 0x05, 0xb4, 2, 4, 0x02, 0x18);
	HDR("mal-dup-ts", SYN, 8, 10, TSV, 0, 0, 0, 0, 8, 10, TSV, 0, 0, 0,
	    0, 1, 1);
	hdr_doff("mal-doff-0", 0, 20);
	hdr_doff("mal-doff-4", 4, 20);
	hdr_doff("mal-doff-15-past", 15, 20);
	hdr_doff("mal-doff-6-past", 6, 23);
	hdr_doff("doff-15-full", 15, 60);
}

/* --- records ---------------------------------------------------------- */

static uint8_t stream[8192] __attribute__((aligned(8)));
static size_t slen;

static void *add(size_t size, uint16_t type, uint8_t version)
{
	struct tcptrace_hdr *h = (void *)(stream + slen);

	memset(h, 0, size);
	h->type = type;
	h->size = (uint16_t)size;
	h->version = version;
	h->ctx = TCPTRACE_CTX_SOFTIRQ;
	h->ts_ns = 1000000000ull + slen * 1000;
	slen += size;
	return h;
}

static void v4(uint8_t *a, uint8_t last)
{
	a[0] = 127; a[1] = 0; a[2] = 0; a[3] = last;
}

static struct tcptrace_state_rec *state(uint64_t sock, uint8_t from,
					 uint8_t to, uint16_t sport,
					 uint16_t dport)
{
	struct tcptrace_state_rec *r = add(sizeof(*r), TCPTRACE_REC_STATE,
					   TCPTRACE_STATE_REC_VERSION);

	r->sock_cookie = sock;
	r->netns_cookie = 1;
	r->netns_ino = 4026531840u;
	r->pid = r->tid = 1234;
	r->family = 2;			/* AF_INET */
	r->sport = sport;
	r->dport = dport;
	r->old_state = from;
	r->new_state = to;
	v4(r->saddr, 1);
	v4(r->daddr, 1);
	memcpy(r->comm, "curl", 5);
	r->hdr.ctx = TCPTRACE_CTX_TASK;
	r->cgroup_id = 1;		/* the root cgroup */
	return r;
}

static void linux_opts(struct tcptrace_tcpopts *o, uint64_t seen)
{
	o->seen_ns = seen;
	o->present = TCPTRACE_OPT_MSS | TCPTRACE_OPT_WSCALE |
		     TCPTRACE_OPT_SACK_PERM | TCPTRACE_OPT_TS;
	o->mss = 65495;
	o->wscale = 7;
	o->ts_val = 3906250;
	o->window = 65495;
	o->ttl = 64;
	o->ip_id = 0x1234;
}

static void handshake(uint64_t sock, uint8_t role, uint8_t outcome)
{
	struct tcptrace_handshake_rec *r = add(sizeof(*r),
					       TCPTRACE_REC_HANDSHAKE,
					       TCPTRACE_HANDSHAKE_REC_VERSION);

	r->sock_cookie = sock;
	r->netns_cookie = 1;
	r->netns_ino = 4026531840u;
	r->family = 2;
	r->role = role;
	r->outcome = outcome;
	r->sport = role == TCPTRACE_ROLE_CLIENT ? 41532 : 8080;
	r->dport = role == TCPTRACE_ROLE_CLIENT ? 8080 : 41532;
	v4(r->saddr, 1);
	v4(r->daddr, 1);
	linux_opts(&r->syn, 1000);
	if (outcome == TCPTRACE_HS_ESTABLISHED) {
		linux_opts(&r->synack, 2000);
		r->agreed = TCPTRACE_AGREED_WSCALE | TCPTRACE_AGREED_TS |
			    TCPTRACE_AGREED_SACK;
		r->snd_wscale = r->rcv_wscale = 7;
		r->mss = 32741;
		r->advmss = r->peer_mss = 65483;
	}
	r->done_ns = 3000;
	r->cgroup_id = 1;
}

static struct tcptrace_diag_rec *diag(uint64_t sock, uint8_t kind,
				      uint8_t cause, const char *reason)
{
	struct tcptrace_diag_rec *r = add(sizeof(*r), TCPTRACE_REC_DIAG,
					  TCPTRACE_DIAG_REC_VERSION);

	r->sock_cookie = sock;
	r->netns_cookie = 1;
	r->netns_ino = 4026531840u;
	r->family = 2;
	r->kind = kind;
	r->cause = cause;
	r->sport = 41532;
	r->dport = 8080;
	r->state = 2;
	v4(r->saddr, 1);
	v4(r->daddr, 1);
	r->duration_ns = 1000000000;
	r->count = 3;
	if (reason) {
		r->reason_code = 2;
		strncpy(r->reason, reason, sizeof(r->reason));
	}
	r->cgroup_id = 1;
	return r;
}

static void conn(uint64_t sock, uint8_t from)
{
	struct tcptrace_conn_rec *r = add(sizeof(*r), TCPTRACE_REC_CONN,
					  TCPTRACE_CONN_REC_VERSION);

	r->sock_cookie = sock;
	r->netns_cookie = 1;
	r->netns_ino = 4026531840u;
	r->family = 2;
	r->old_state = from;
	r->sport = 41532;
	r->dport = 8080;
	v4(r->saddr, 1);
	v4(r->daddr, 1);
	r->bytes_sent = 5;
	r->bytes_received = 5;
	r->segs_out = 4;
	r->segs_in = 3;
	r->cgroup_id = 1;
}

/* What a module before cgroup ids wrote: the record cut at cgroup_id. */
static void to_v1(struct tcptrace_hdr *h)
{
	h->version = 1;
	h->size -= 8;
	slen -= 8;
}

static void lost(uint64_t n)
{
	struct tcptrace_lost_rec *r = add(sizeof(*r), TCPTRACE_REC_LOST,
					  TCPTRACE_LOST_REC_VERSION);

	r->count = n;
	r->hdr.ctx = TCPTRACE_CTX_TASK;
}

/* a connection's life: client connects, talks, closes; refused connect */
static void conversation(void)
{
	state(11, 7, 2, 0, 8080);
	state(12, 10, 3, 8080, 41532)->hdr.ctx = TCPTRACE_CTX_SOFTIRQ;
	state(12, 3, 1, 8080, 41532);
	state(11, 2, 1, 41532, 8080);
	handshake(11, TCPTRACE_ROLE_CLIENT, TCPTRACE_HS_ESTABLISHED);
	handshake(12, TCPTRACE_ROLE_SERVER, TCPTRACE_HS_ESTABLISHED);
	state(11, 1, 4, 41532, 8080);
	state(12, 1, 8, 8080, 41532);
	state(11, 4, 5, 41532, 8080);
	state(11, 5, 6, 41532, 8080)->flags = TCPTRACE_F_SYNTHETIC;
	diag(11, TCPTRACE_DIAG_TIME_WAIT, TCPTRACE_CAUSE_NONE, NULL);
	conn(11, 5);
	state(12, 8, 9, 8080, 41532);
	state(12, 9, 7, 8080, 41532);
	conn(12, 9);
}

static void flush(const char *name)
{
	uint8_t b[sizeof(stream) + 1];

	put("record", name, stream, slen);
	/* the CLI target: option byte first (JSON, all; text; conns -j) */
	b[0] = 1;
	memcpy(b + 1, stream, slen);
	put("cli", name, b, slen + 1);
	b[0] = 0;
	if (!strcmp(name, "conversation")) {
		put("cli", "conversation-text", b, slen + 1);
		b[0] = 7;			/* conns, JSON */
		put("cli", "conversation-conns-json", b, slen + 1);
		b[0] = 6;			/* conns, text */
		put("cli", "conversation-conns-text", b, slen + 1);
		b[0] = 0x3b;			/* JSON, all, port+v4+addr */
		put("cli", "conversation-filters", b, slen + 1);
	}
	slen = 0;
}

static void record_corpus(void)
{
	struct tcptrace_state_rec *s;
	struct tcptrace_diag_rec *d;
	struct tcptrace_handshake_rec *h;
	struct tcptrace_hdr *x;

	flush("empty");
	conversation();
	flush("conversation");

	/* refused connect: SYN_SENT -> CLOSE, RST diagnoses, handshakes */
	state(21, 7, 2, 0, 9);
	state(21, 2, 7, 50000, 9);
	handshake(21, TCPTRACE_ROLE_CLIENT, TCPTRACE_HS_RESET);
	handshake(0, TCPTRACE_ROLE_SERVER, TCPTRACE_HS_RESET);
	diag(21, TCPTRACE_DIAG_RST_IN, TCPTRACE_CAUSE_NO_SOCKET, NULL);
	diag(0, TCPTRACE_DIAG_RST_OUT, TCPTRACE_CAUSE_NO_SOCKET, NULL);
	conn(21, 2);
	flush("refused");

	/* every diagnosis kind, with a drop reason */
	diag(31, TCPTRACE_DIAG_SYN_UNANSWERED, TCPTRACE_CAUSE_DROP_REASON,
	     "NETFILTER_DROP");
	diag(31, TCPTRACE_DIAG_NO_SYNACK, TCPTRACE_CAUSE_UNANSWERED, NULL);
	diag(32, TCPTRACE_DIAG_RST_IN, TCPTRACE_CAUSE_HALF_OPEN, NULL);
	diag(33, TCPTRACE_DIAG_SIM_OPEN, TCPTRACE_CAUSE_NONE, NULL);
	diag(33, TCPTRACE_DIAG_SIM_CLOSE, TCPTRACE_CAUSE_NONE, NULL);
	diag(34, TCPTRACE_DIAG_TIME_WAIT_END, TCPTRACE_CAUSE_EXPIRED, NULL);
	diag(35, TCPTRACE_DIAG_SYN_UNANSWERED,
	     TCPTRACE_CAUSE_LISTEN_OVERFLOW, NULL);
	diag(36, TCPTRACE_DIAG_RST_OUT, TCPTRACE_CAUSE_REJECT, NULL);
	d = diag(37, TCPTRACE_DIAG_DATA_DROPPED, TCPTRACE_CAUSE_DROP_REASON,
		 "PROTO_MEM");
	d->in_ifindex = 2;
	d->count_other = 1;
	d = diag(0, TCPTRACE_DIAG_FWD_DROPPED, TCPTRACE_CAUSE_DROP_REASON,
		 "PKT_TOO_BIG");
	d->in_ifindex = 2;
	d->out_ifindex = 3;
	d->mtu = 1280;
	flush("diagnoses");

	/* IPv6 and v4-mapped ends, unresolved listener record */
	s = state(41, 10, 3, 8080, 50000);
	s->family = 10;
	s->flags = TCPTRACE_F_UNRESOLVED;
	memset(s->saddr, 0, 16);
	s->saddr[15] = 1;
	memcpy(s->daddr, s->saddr, 16);
	s = state(42, 2, 1, 50001, 8080);
	s->family = 10;
	s->flags = TCPTRACE_F_V4MAPPED;
	memset(s->saddr, 0, 16);
	s->saddr[10] = s->saddr[11] = 0xff;
	v4(s->saddr + 12, 1);
	memcpy(s->daddr, s->saddr, 16);
	flush("ipv6-and-mapped");

	/* losses: a LOST record and lost_before on the next record */
	lost(17);
	state(51, 7, 2, 0, 80)->hdr.lost_before = 5;
	flush("lost");

	/* malformed options flagged on a handshake */
	handshake(61, TCPTRACE_ROLE_SERVER, TCPTRACE_HS_TIMEOUT);
	h = (void *)stream;
	h->syn.malformed = TCPTRACE_MAL_OPT_LEN | TCPTRACE_MAL_DUP;
	h->syn.present |= TCPTRACE_OPT_UNKNOWN | TCPTRACE_OPT_TFO |
			  TCPTRACE_OPT_MPTCP | TCPTRACE_OPT_ECN;
	h->syn.n_unknown = 2;
	h->syn.unknown[0] = 6;
	h->syn.unknown[1] = 253;
	h->syn.tfo_len = 8;
	h->syn.mptcp_subtype = 0;
	flush("handshake-malformed");

	/* a newer module: an unknown type, and a longer state record */
	x = add(48, 99, 1);
	(void)x;
	s = state(71, 7, 10, 8080, 0);
	s->hdr.version = TCPTRACE_STATE_REC_VERSION + 1;
	s->hdr.size = sizeof(*s) + 16;
	slen += 16;
	flush("future-types");

	/* an older module: state and conn records of version 1 */
	to_v1(&state(72, 7, 2, 0, 8080)->hdr);
	to_v1(&state(72, 2, 1, 41532, 8080)->hdr);
	conn(72, 1);
	to_v1((struct tcptrace_hdr *)(stream + slen -
				      sizeof(struct tcptrace_conn_rec)));
	lost(1);
	flush("old-module");

	/* what the walker must refuse */
	state(81, 7, 2, 0, 80);
	slen -= 8;
	flush("truncated-tail");
	state(82, 7, 2, 0, 80)->hdr.size = 20;
	flush("size-not-multiple-of-8");
	state(83, 7, 2, 0, 80)->hdr.version = 0;
	flush("version-0");
	x = add(sizeof(struct tcptrace_hdr), TCPTRACE_REC_HANDSHAKE, 1);
	flush("handshake-too-short");
}

/*
 * Inputs that crashed a target once (all fixed; see Documentation/
 * security.rst, "Findings fixed").
 *
 * A SYN whose options made the CLI (text output) format a longer line
 * than its buffer: fmt_opts() then read out[n - 1] with n past the end
 * of offered[160] (stack-buffer-overflow read).  40 option bytes: TFO
 * cookie request, window scale 255, SACK-permitted twice, 8 unknown
 * kinds, then one malformed instance of each of sackOK, TS, SACK, MD5,
 * MPTCP, MSS and a zero length; SYN with ECE+CWR.
 */
static const uint8_t long_opts[40] = {
	34, 2, 3, 3, 255, 4, 2, 4, 2,
	200, 2, 201, 2, 202, 2, 203, 2, 204, 2, 205, 2, 206, 2, 207, 2,
	4, 3, 0, 8, 2, 5, 2, 19, 2, 30, 2, 2, 2, 9, 0,
};

static void regress_corpus(void)
{
	struct tcptrace_handshake_rec *h;
	struct tcptrace_state_rec *s;
	uint8_t b[80], w[1 + 2 * 80], c[1 + sizeof(stream)];
	size_t n;

	/* wire: the long-options SYN, as SYN and as SYN-ACK */
	n = tcp(b, SYN | ECE | CWR, long_opts, sizeof(long_opts));
	w[0] = 0;
	memcpy(w + 1, b, n);
	memcpy(w + 1 + n, b, n);
	put("wire", "remote-syn-long-options", w, 1 + 2 * n);

	/* the same, as the module would record it: tcpwhy -r shows it */
	handshake(91, TCPTRACE_ROLE_SERVER, TCPTRACE_HS_TIMEOUT);
	h = (void *)stream;
	memset(&h->syn, 0, sizeof(h->syn));
	tcptrace_parse_tcphdr(b, n, &h->syn);
	h->syn.seen_ns = 1000;
	h->syn.ttl = 64;
	put("record", "remote-syn-long-options", stream, slen);
	slen = 0;

	/*
	 * n_unknown was trusted by the CLI: 255 indexed unknown[8] past its
	 * end, and past the record (and buffer) when it is the last one.
	 */
	handshake(92, TCPTRACE_ROLE_CLIENT, TCPTRACE_HS_ESTABLISHED);
	h = (void *)stream;
	h->synack.n_unknown = 255;
	h->synack.present |= TCPTRACE_OPT_UNKNOWN;
	put("record", "n-unknown-255", stream, slen);
	c[0] = 1;			/* JSON */
	memcpy(c + 1, stream, slen);
	put("cli", "n-unknown-255-json", c, slen + 1);
	c[0] = 0;			/* text */
	put("cli", "n-unknown-255-text", c, slen + 1);
	slen = 0;

	/* ts_ns near 2^63: signed overflow adding the wall-clock offset */
	s = state(93, 7, 2, 0, 80);
	s->hdr.ts_ns = 0x7fffffffffffff00ull;
	put("record", "ts-ns-overflow", stream, slen);
	c[0] = 0;
	memcpy(c + 1, stream, slen);
	put("cli", "ts-ns-overflow", c, slen + 1);
	slen = 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: mkcorpus SEEDS REGRESS\n");
		return 2;
	}
	root = argv[1];
	if (mkdir(root, 0755) && errno != EEXIST) {
		perror(root);
		return 1;
	}
	options_corpus();
	record_corpus();
	root = argv[2];
	if (mkdir(root, 0755) && errno != EEXIST) {
		perror(root);
		return 1;
	}
	regress_corpus();
	return 0;
}

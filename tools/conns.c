// SPDX-License-Identifier: GPL-2.0
/*
 * tcpwhy conns: one line per finished connection, joined from its state,
 * handshake and diagnosis records and the module's end-of-connection
 * record: how long, bytes, retransmissions, time in each state and how it
 * ended.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "record.h"
#include "cli.h"
#include "cgroup.h"
#include "output.h"

#define NSTATES 14

struct conn {
	uint64_t cookie;
	uint64_t first_ns, since_ns;
	uint64_t in_state[NSTATES];
	unsigned int cur;
	int role;			/* 0 unknown */
	bool established, have_agreed;
	struct tcptrace_handshake_rec hs;
	unsigned int diags;		/* bit per kind */
	unsigned int rst_out_cause;
	struct conn *next;
};

#define CONNTAB 4096
static struct conn *conntab[CONNTAB];

static struct conn **conn_slot(uint64_t cookie)
{
	struct conn **p = &conntab[(cookie * 0x9E3779B97F4A7C15ull) >> 52];

	while (*p && (*p)->cookie != cookie)
		p = &(*p)->next;
	return p;
}

static struct conn *conn_get(uint64_t cookie, uint64_t ts)
{
	struct conn **p = conn_slot(cookie);

	if (!*p) {
		*p = calloc(1, sizeof(**p));
		if (!*p)
			die(EX_RUNTIME, "out of memory");
		(*p)->cookie = cookie;
		(*p)->first_ns = ts;
		(*p)->since_ns = ts;
	}
	return *p;
}

void conn_state(const struct tcptrace_state_rec *r)
{
	struct conn *c;

	/* listeners (CLOSE -> LISTEN -> CLOSE) are not connections */
	if (!r->sock_cookie || r->new_state == 10 ||
	    (r->old_state == 10 && r->new_state == 7))
		return;
	/* the end of TIME_WAIT comes after the connection's line */
	if (r->old_state == 6)
		return;
	c = conn_get(r->sock_cookie, r->hdr.ts_ns);
	/* a role from the states, for connections whose handshake we missed */
	if (!c->role && r->old_state == 7 && r->new_state == 2)
		c->role = TCPTRACE_ROLE_CLIENT;		/* CLOSE -> SYN_SENT */
	else if (!c->role && (r->old_state == 3 || r->old_state == 12))
		c->role = TCPTRACE_ROLE_SERVER;		/* from SYN_RECV */
	if (c->cur && c->cur < NSTATES && r->hdr.ts_ns >= c->since_ns)
		c->in_state[c->cur] += r->hdr.ts_ns - c->since_ns;
	c->cur = r->new_state;
	c->since_ns = r->hdr.ts_ns;
	if (r->new_state == 1)
		c->established = true;
}

enum {
	END_FIN, END_RST_IN, END_RST_OUT, END_ABORTED, END_REFUSED,
	END_TIMEOUT, END_FAILED, END_KINDS,
};

static const char *const end_names[END_KINDS] = {
	[END_FIN] = "fin", [END_RST_IN] = "rst_in", [END_RST_OUT] = "rst_out",
	[END_ABORTED] = "aborted", [END_REFUSED] = "refused",
	[END_TIMEOUT] = "timeout", [END_FAILED] = "failed",
};

const char *conn_end_name(unsigned int e)
{
	return e < END_KINDS ? end_names[e] : NULL;
}

static unsigned int conn_end(const struct conn *c,
			     const struct tcptrace_conn_rec *r)
{
	bool handshake = r->old_state == 2;	/* closed from SYN_SENT */

	if (c->diags & (1u << TCPTRACE_DIAG_NO_SYNACK))
		return END_TIMEOUT;
	if (c->diags & (1u << TCPTRACE_DIAG_RST_IN))
		return handshake ? END_REFUSED : END_RST_IN;
	if (c->diags & (1u << TCPTRACE_DIAG_RST_OUT))
		return c->rst_out_cause == TCPTRACE_CAUSE_ABORT ||
		       c->rst_out_cause == TCPTRACE_CAUSE_LINGER ?
		       END_ABORTED : END_RST_OUT;
	if (handshake)
		return END_FAILED;
	return END_FIN;
}

/* States a connection lives through, in lifecycle order. */
static const unsigned char conn_states[] = {
	/*
	 * SYN_SENT SYN_RECV ESTABLISHED FIN_WAIT1 FIN_WAIT2 CLOSE_WAIT
	 * LAST_ACK CLOSING
	 */
	2, 3, 1, 4, 5, 8, 9, 11,
};

bool print_conn(const struct tcptrace_conn_rec *r)
{
	struct conn **p = conn_slot(r->sock_cookie), *c = *p;
	struct ends e = ENDS_OF(r);
	unsigned int i;
	bool first = true, shown;

	if (!c)
		c = conn_get(r->sock_cookie, r->hdr.ts_ns);
	if (c->cur && c->cur < NSTATES && r->hdr.ts_ns >= c->since_ns)
		c->in_state[c->cur] += r->hdr.ts_ns - c->since_ns;
	shown = ends_match(&e) && owner_match(r->sock_cookie) &&
		(!opt.f.conn_ends || opt.f.conn_ends & (1u << conn_end(c, r))) &&
		cg_match(tt_conn_cgroup_id(r));
	if (shown && opt.hist) {
		hist_conn(c->role, r, r->hdr.ts_ns - c->first_ns);
	} else if (shown) {
		const char *end = end_names[conn_end(c, r)];

		ob_line();
		if (opt.json) {
			OB_LIT("{\"type\":\"conn\",\"schema\":"
			       TCPWHY_SCHEMA_STR ",\"ts_ns\":");
			ob_u64(r->hdr.ts_ns);
			ob_realtime(r->hdr.ts_ns);
			OB_LIT(",\"sock\":");
			ob_u64(r->sock_cookie);
			OB_LIT(",\"netns\":");
			ob_u64(r->netns_ino);
			OB_LIT(",\"netns_cookie\":");
			ob_u64(r->netns_cookie);
			OB_LIT(",\"family\":");
			ob_chr(r->family == AF_INET ? '4' : '6');
			OB_LIT(",\"role\":");
			if (c->role) {
				ob_chr('"');
				ob_str(role_name(c->role));
				ob_chr('"');
			} else {
				OB_LIT("null");
			}
			ob_json_ends(r->family, r->saddr, r->sport, r->daddr,
				     r->dport);
			OB_LIT(",\"duration_ns\":");
			ob_u64(r->hdr.ts_ns - c->first_ns);
			OB_LIT(",\"states\":{");
			for (i = 0; i < sizeof(conn_states); i++) {
				unsigned int k = conn_states[i];

				if (!c->in_state[k])
					continue;
				if (!first)
					ob_chr(',');
				ob_chr('"');
				ob_state(k);
				OB_LIT("\":");
				ob_u64(c->in_state[k]);
				first = false;
			}
			OB_LIT("},\"bytes_sent\":");
			ob_u64(r->bytes_sent);
			OB_LIT(",\"bytes_received\":");
			ob_u64(r->bytes_received);
			OB_LIT(",\"segs_out\":");
			ob_u64(r->segs_out);
			OB_LIT(",\"segs_in\":");
			ob_u64(r->segs_in);
			OB_LIT(",\"retrans\":");
			ob_u64(r->total_retrans);
			OB_LIT(",\"syn_retrans\":");
			ob_u64(c->have_agreed ? c->hs.syn_retrans : 0);
			OB_LIT(",\"end\":\"");
			ob_str(end);
			OB_LIT("\",\"agreed\":");
			if (c->have_agreed)
				ob_printf("{\"snd_wscale\":%d,\"rcv_wscale\":%d,"
					  "\"ts\":%s,\"sack\":%s,\"ecn\":%s,"
					  "\"mss\":%u}",
					  c->hs.agreed & TCPTRACE_AGREED_WSCALE ?
					  c->hs.snd_wscale : -1,
					  c->hs.agreed & TCPTRACE_AGREED_WSCALE ?
					  c->hs.rcv_wscale : -1,
					  c->hs.agreed & TCPTRACE_AGREED_TS ?
					  "true" : "false",
					  c->hs.agreed & TCPTRACE_AGREED_SACK ?
					  "true" : "false",
					  c->hs.agreed & TCPTRACE_AGREED_ECN ?
					  "true" : "false", c->hs.mss);
			else
				OB_LIT("null");
			OB_LIT(",\"diags\":[");
			first = true;
			for (i = 1; i < 32; i++) {
				if (!(c->diags & (1u << i)))
					continue;
				if (!first)
					ob_chr(',');
				ob_chr('"');
				ob_str(diag_name(i));
				ob_chr('"');
				first = false;
			}
			ob_chr(']');
			ob_json_cgroup(tt_conn_cgroup_id(r),
				       cg_lookup(tt_conn_cgroup_id(r)));
			OB_LIT("}\n");
		} else {
			/*
			 * "%.3f ms, sent %llu B, received %llu B, %u retrans,
			 * end: %s", then time in each state and the diagnoses
			 */
			const char *who = c->role ? role_name(c->role) : "?";

			ob_text_head(r->hdr.ts_ns, r->netns_ino, who,
				     strlen(who), 6, r->family, r->saddr,
				     r->sport, r->daddr, r->dport);
			ob_ms3(r->hdr.ts_ns - c->first_ns);
			OB_LIT(" ms, sent ");
			ob_u64(r->bytes_sent);
			OB_LIT(" B, received ");
			ob_u64(r->bytes_received);
			OB_LIT(" B, ");
			ob_u64(r->total_retrans);
			OB_LIT(" retrans, end: ");
			ob_str(end);
			for (i = 0; i < sizeof(conn_states); i++) {
				unsigned int k = conn_states[i];

				if (!c->in_state[k])
					continue;
				if (first)
					OB_LIT(" | ");
				else
					OB_LIT(", ");
				ob_state(k);
				ob_chr(' ');
				ob_ms3(c->in_state[k]);
				OB_LIT("ms");
				first = false;
			}
			for (i = 1; i < 32; i++) {
				if (c->diags & (1u << i)) {
					OB_LIT(" [");
					ob_str(diag_name(i));
					ob_chr(']');
				}
			}
			ob_chr('\n');
		}
	}
	*conn_slot(r->sock_cookie) = c->next;
	free(c);
	return shown;
}

void conn_handshake(const struct tcptrace_handshake_rec *r)
{
	struct conn *c;

	if (!r->sock_cookie)
		return;
	c = conn_get(r->sock_cookie, r->hdr.ts_ns);
	c->role = r->role;
	c->hs = *r;
	if (opt.hist && ends_match(&ENDS_OF(r)) &&
	    owner_match(r->sock_cookie) && cg_match(tt_hs_cgroup_id(r)))
		hist_handshake(r);
	c->have_agreed = r->outcome == TCPTRACE_HS_ESTABLISHED;
}

void conn_diag(const struct tcptrace_diag_rec *d)
{
	struct conn *c;

	if (!d->sock_cookie || d->kind >= 32)
		return;
	c = conn_get(d->sock_cookie, d->hdr.ts_ns);
	c->diags |= 1u << d->kind;
	if (d->kind == TCPTRACE_DIAG_RST_OUT)
		c->rst_out_cause = d->cause;
}

void conns_reset(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(conntab); i++) {
		while (conntab[i]) {
			struct conn *c = conntab[i];

			conntab[i] = c->next;
			free(c);
		}
	}
}

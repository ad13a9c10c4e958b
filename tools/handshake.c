// SPDX-License-Identifier: GPL-2.0
/*
 * Handshake records: the TCP options each end offered and answered, what
 * was agreed, how long it took and how it ended.
 */
#include <string.h>
#include <sys/socket.h>

#include "record.h"
#include "cli.h"
#include "cgroup.h"
#include "output.h"

static const char *const mal_names[] = {
	"opt-len", "opt-trunc", "mss-len", "wscale", "sackok-len", "ts-len",
	"sack-len", "tfo-len", "md5-len", "mptcp-len", "doff-short",
	"doff-past", "dup",
};

#define NMAL ARRAY_SIZE(mal_names)

/* unknown[] holds at most TCPTRACE_MAX_UNKNOWN, whatever a record says */
static unsigned int n_unknown(const struct tcptrace_tcpopts *o)
{
	return o->n_unknown < TCPTRACE_MAX_UNKNOWN ? o->n_unknown :
						     TCPTRACE_MAX_UNKNOWN;
}

/* tcpdump's spelling where it has one: "mss 1460,sackOK,TS,wscale 7" */
static void ob_opts(const struct tcptrace_tcpopts *o)
{
	size_t start = ob.n;
	unsigned int i;

#define SEP() do { if (ob.n != start) ob_chr(','); } while (0)
	if (o->present & TCPTRACE_OPT_MSS) {
		OB_LIT("mss ");
		ob_u64(o->mss);
	}
	if (o->present & TCPTRACE_OPT_SACK_PERM) {
		SEP();
		OB_LIT("sackOK");
	}
	if (o->present & TCPTRACE_OPT_TS) {
		SEP();
		OB_LIT("TS");
	}
	if (o->present & TCPTRACE_OPT_WSCALE) {
		SEP();
		OB_LIT("wscale ");
		ob_u64(o->wscale);
	}
	if (o->present & TCPTRACE_OPT_SACK) {
		SEP();
		OB_LIT("sack ");
		ob_u64(o->sack_blocks);
	}
	if (o->present & TCPTRACE_OPT_TFO) {
		SEP();
		if (o->tfo_len)
			OB_LIT("tfo cookie");
		else
			OB_LIT("tfo cookiereq");
	}
	if (o->present & TCPTRACE_OPT_MD5) {
		SEP();
		OB_LIT("md5");
	}
	if (o->present & TCPTRACE_OPT_MPTCP) {
		SEP();
		OB_LIT("mptcp ");
		ob_u64(o->mptcp_subtype);
	}
	for (i = 0; i < n_unknown(o); i++) {
		SEP();
		OB_LIT("opt-");
		ob_u64(o->unknown[i]);
	}
	if (o->present & TCPTRACE_OPT_ECN) {
		SEP();
		OB_LIT("ECN");
	}
	if (o->malformed) {
		const char *msep = "";

		SEP();
		OB_LIT("MALFORMED(");
		for (i = 0; i < NMAL; i++) {
			if (o->malformed & (1u << i)) {
				ob_str(msep);
				ob_str(mal_names[i]);
				msep = " ";
			}
		}
		ob_chr(')');
	}
#undef SEP
	if (ob.n == start)
		OB_LIT("none");
	/* the text format has always cut this at 255 bytes */
	if (ob.n - start > 255)
		ob.n = start + 255;
}

static void json_opts(const char *name, const struct tcptrace_tcpopts *o,
		      int family)
{
	unsigned int i;
	bool first = true;

	OB_LIT(",\"");
	ob_str(name);
	OB_LIT("\":");
	if (!o->seen_ns) {
		OB_LIT("null");
		return;
	}
	OB_LIT("{\"seen_ns\":");
	ob_u64(o->seen_ns);
	OB_LIT(",\"mss\":");
	if (o->present & TCPTRACE_OPT_MSS)
		ob_u64(o->mss);
	else
		OB_LIT("null");
	OB_LIT(",\"wscale\":");
	if (o->present & TCPTRACE_OPT_WSCALE)
		ob_u64(o->wscale);
	else
		OB_LIT("null");
	OB_LIT(",\"sack_perm\":");
	ob_bool(o->present & TCPTRACE_OPT_SACK_PERM);
	if (o->present & TCPTRACE_OPT_TS) {
		OB_LIT(",\"ts_val\":");
		ob_u64(o->ts_val);
		OB_LIT(",\"ts_ecr\":");
		ob_u64(o->ts_ecr);
	} else {
		OB_LIT(",\"ts_val\":null,\"ts_ecr\":null");
	}
	if (o->present & TCPTRACE_OPT_TFO) {
		OB_LIT(",\"tfo\":{\"cookie_len\":");
		ob_u64(o->tfo_len);
		ob_chr('}');
	} else {
		OB_LIT(",\"tfo\":null");
	}
	OB_LIT(",\"md5\":");
	ob_bool(o->present & TCPTRACE_OPT_MD5);
	if (o->present & TCPTRACE_OPT_MPTCP) {
		OB_LIT(",\"mptcp\":{\"subtype\":");
		ob_u64(o->mptcp_subtype);
		ob_chr('}');
	} else {
		OB_LIT(",\"mptcp\":null");
	}
	OB_LIT(",\"ecn\":");
	ob_bool(o->present & TCPTRACE_OPT_ECN);
	OB_LIT(",\"sack_blocks\":");
	ob_u64(o->sack_blocks);
	OB_LIT(",\"eol\":");
	ob_bool(o->present & TCPTRACE_OPT_EOL);
	OB_LIT(",\"unknown\":[");
	for (i = 0; i < n_unknown(o); i++) {
		if (i)
			ob_chr(',');
		ob_u64(o->unknown[i]);
	}
	OB_LIT("],\"malformed\":");
	ob_bool(o->malformed);
	OB_LIT(",\"malformed_why\":[");
	for (i = 0; i < NMAL; i++) {
		if (!(o->malformed & (1u << i)))
			continue;
		if (!first)
			ob_chr(',');
		ob_chr('"');
		ob_str(mal_names[i]);
		ob_chr('"');
		first = false;
	}
	OB_LIT("],\"ttl\":");
	ob_u64(o->ttl);
	OB_LIT(",\"window\":");
	ob_u64(o->window);
	if (family == AF_INET) {
		OB_LIT(",\"ip_id\":");
		ob_u64(o->ip_id);
		ob_chr('}');
	} else {
		OB_LIT(",\"ip_id\":null}");
	}
}

const char *outcome_name(unsigned int o)
{
	switch (o) {
	case TCPTRACE_HS_ESTABLISHED:
		return "established";
	case TCPTRACE_HS_RESET:
		return "reset";
	case TCPTRACE_HS_FAILED:
		return "failed";
	case TCPTRACE_HS_TIMEOUT:
		return "timeout";
	}
	return "unknown";
}

int64_t hs_latency_ns(const struct tcptrace_handshake_rec *r)
{
	if (r->outcome != TCPTRACE_HS_ESTABLISHED || !r->syn.seen_ns ||
	    r->done_ns < r->syn.seen_ns)
		return -1;
	return r->done_ns - r->syn.seen_ns;
}

const char *role_name(unsigned int r)
{
	return r == TCPTRACE_ROLE_CLIENT ? "client" :
	       r == TCPTRACE_ROLE_SERVER ? "server" : "unknown";
}

void print_handshake(const struct tcptrace_handshake_rec *r)
{
	bool est = r->outcome == TCPTRACE_HS_ESTABLISHED;

	ob_line();
	if (opt.json) {
		ob_json_head("handshake", NULL, &r->hdr, r->netns_ino,
			     r->netns_cookie, r->sock_cookie, r->family);
		OB_LIT(",\"role\":\"");
		ob_str(role_name(r->role));
		OB_LIT("\",\"outcome\":\"");
		ob_str(outcome_name(r->outcome));
		ob_chr('"');
		ob_json_ends(r->family, r->saddr, r->sport, r->daddr,
			     r->dport);
		json_opts("syn_opts", &r->syn, r->family);
		json_opts("synack_opts", &r->synack, r->family);
		if (est) {
			OB_LIT(",\"agreed\":{\"mss\":");
			ob_u64(r->mss);
			OB_LIT(",\"advmss\":");
			ob_u64(r->advmss);
			OB_LIT(",\"peer_mss\":");
			ob_u64(r->peer_mss);
			if (r->agreed & TCPTRACE_AGREED_WSCALE) {
				OB_LIT(",\"snd_wscale\":");
				ob_u64(r->snd_wscale);
				OB_LIT(",\"rcv_wscale\":");
				ob_u64(r->rcv_wscale);
			} else {
				OB_LIT(",\"snd_wscale\":null,\"rcv_wscale\":null");
			}
			OB_LIT(",\"ts\":");
			ob_bool(r->agreed & TCPTRACE_AGREED_TS);
			OB_LIT(",\"sack\":");
			ob_bool(r->agreed & TCPTRACE_AGREED_SACK);
			OB_LIT(",\"ecn\":");
			ob_bool(r->agreed & TCPTRACE_AGREED_ECN);
			ob_chr('}');
		} else {
			OB_LIT(",\"agreed\":null");
		}
		OB_LIT(",\"done_ns\":");
		ob_u64(r->done_ns);
		OB_LIT(",\"syn_retrans\":");
		ob_u64(r->syn_retrans);
		OB_LIT(",\"synack_retrans\":");
		ob_u64(r->synack_retrans);
		ob_json_cgroup(tt_hs_cgroup_id(r),
			       cg_lookup(tt_hs_cgroup_id(r)));
		OB_LIT("}\n");
		return;
	}

	/*
	 * "handshake %s%s%s%s: offered: %s | answered: %s%s": outcome, how
	 * long, retransmissions, both ends' options, what was agreed
	 */
	ob_text_head(r->hdr.ts_ns, r->netns_ino, role_name(r->role),
		     strlen(role_name(r->role)), 22, r->family, r->saddr,
		     r->sport, r->daddr, r->dport);
	OB_LIT("handshake ");
	ob_color(est ? OB_GREEN : OB_RED);
	ob_str(outcome_name(r->outcome));
	ob_color(OB_PLAIN);
	if (r->syn.seen_ns && r->done_ns >= r->syn.seen_ns) {
		OB_LIT(" in ");
		ob_ms3(r->done_ns - r->syn.seen_ns);
		OB_LIT(" ms");
	}
	if (r->syn_retrans)
		OB_LIT(" (SYN retransmitted)");
	if (r->synack_retrans)
		OB_LIT(" (SYN-ACK retransmitted)");
	OB_LIT(": offered: ");
	if (r->syn.seen_ns)
		ob_opts(&r->syn);
	else
		OB_LIT("(not seen)");
	OB_LIT(" | answered: ");
	if (r->synack.seen_ns)
		ob_opts(&r->synack);
	else
		OB_LIT("(none)");
	if (est) {
		OB_LIT(" | agreed: ");
		if (r->agreed & TCPTRACE_AGREED_WSCALE) {
			OB_LIT("wscale ");
			ob_u64(r->snd_wscale);
			ob_chr('/');
			ob_u64(r->rcv_wscale);
		} else {
			OB_LIT("wscale-off");
		}
		if (r->agreed & TCPTRACE_AGREED_TS)
			OB_LIT(" ts");
		else
			OB_LIT(" ts-off");
		if (r->agreed & TCPTRACE_AGREED_SACK)
			OB_LIT(" sack");
		else
			OB_LIT(" sack-off");
		if (r->agreed & TCPTRACE_AGREED_ECN)
			OB_LIT(" ecn");
		else
			OB_LIT(" ecn-off");
		OB_LIT(" mss ");
		ob_u64(r->mss);
	}
	ob_chr('\n');
}

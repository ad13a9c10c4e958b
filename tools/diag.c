// SPDX-License-Identifier: GPL-2.0
/*
 * Diagnosis records in plain words: unanswered SYNs, resets and why,
 * half-open connections, TIME_WAIT, simultaneous open and close, dropped
 * segments; with the namespace's settings that bear on them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "record.h"
#include "cli.h"
#include "cgroup.h"
#include "output.h"
#include "explain.h"
#include "nsfacts.h"

static const char *const diag_names[] = {
	[TCPTRACE_DIAG_SYN_UNANSWERED] = "syn_unanswered",
	[TCPTRACE_DIAG_NO_SYNACK] = "no_synack",
	[TCPTRACE_DIAG_RST_OUT] = "rst_out",
	[TCPTRACE_DIAG_RST_IN] = "rst_in",
	[TCPTRACE_DIAG_SIM_OPEN] = "simultaneous_open",
	[TCPTRACE_DIAG_SIM_CLOSE] = "simultaneous_close",
	[TCPTRACE_DIAG_TIME_WAIT] = "time_wait",
	[TCPTRACE_DIAG_TIME_WAIT_END] = "time_wait_end",
	[TCPTRACE_DIAG_SYN_ON_CONN] = "syn_on_connection",
	[TCPTRACE_DIAG_DATA_DROPPED] = "data_dropped",
	[TCPTRACE_DIAG_FWD_DROPPED] = "fwd_dropped",
};

static const char *const cause_names[] = {
	[TCPTRACE_CAUSE_NONE] = "none",
	[TCPTRACE_CAUSE_DROP_REASON] = "drop_reason",
	[TCPTRACE_CAUSE_LISTEN_OVERFLOW] = "listen_overflow",
	[TCPTRACE_CAUSE_PAWS] = "paws",
	[TCPTRACE_CAUSE_UNANSWERED] = "unanswered",
	[TCPTRACE_CAUSE_NO_SOCKET] = "no_socket",
	[TCPTRACE_CAUSE_HALF_OPEN] = "half_open",
	[TCPTRACE_CAUSE_LINGER] = "linger_abort",
	[TCPTRACE_CAUSE_ABORT] = "abort",
	[TCPTRACE_CAUSE_BAD_SEGMENT] = "bad_segment",
	[TCPTRACE_CAUSE_EXPIRED] = "expired",
	[TCPTRACE_CAUSE_REUSED] = "reused",
	[TCPTRACE_CAUSE_KILLED] = "killed",
	[TCPTRACE_CAUSE_REJECT] = "firewall_reject",
	[TCPTRACE_CAUSE_TW_REFUSED] = "time_wait_refused",
	[TCPTRACE_CAUSE_CHALLENGE_ACK] = "challenge_ack",
	[TCPTRACE_CAUSE_SYN_QUEUE_FULL] = "syn_queue_full",
};

#define NAME_OR(tab, i, dflt) \
	((i) < ARRAY_SIZE(tab) && (tab)[i] ? (tab)[i] : (dflt))

const char *diag_name(unsigned int k)
{
	return NAME_OR(diag_names, k, "unknown");
}

const char *cause_name(unsigned int c)
{
	return NAME_OR(cause_names, c, "unknown");
}

/*
 * Segments of a connection, or packets this namespace forwards, dropped
 * for one reason, @secs from the first to the last.
 */
static void diag_drops_explain(const struct tcptrace_diag_rec *d, char *out,
			       size_t len, double secs)
{
	const struct tt_explain *ex = tt_explain_drop(d->reason,
						      sizeof(d->reason));
	const char *s = d->count == 1 ? "" : "s";
	char what[768], src[INET6_ADDRSTRLEN], other[64] = "";
	unsigned int n = tt_diag_count_other(d);
	const char *them = d->count == 1 ? "it" : n ? "the first" : "them";

	if (n)
		snprintf(other, sizeof(other), "; %u of them for other reasons "
			 "than the first's", n);
	if (d->kind == TCPTRACE_DIAG_DATA_DROPPED) {
		snprintf(what, sizeof(what), "%u segment%s of this connection "
			 "dropped on the way in (%.1fs%s)", d->count, s, secs,
			 other);
	} else if (tt_diag_mtu(d)) {
		fmt_addr(d->family, d->saddr, src, sizeof(src));
		snprintf(what, sizeof(what), "%u packet%s from %s dropped "
			 "while forwarding (%.1fs%s): larger than the MTU %u of "
			 "the route out, with Don't Fragment set; the sender "
			 "is told to send smaller ones (ICMP fragmentation "
			 "needed). %s", d->count, s, src, secs, other,
			 tt_diag_mtu(d), secs >= 1.0 ? "They kept coming at "
			 "full size: the sender does not get that ICMP "
			 "(filtered on the way back: a path MTU black hole)" :
			 "If they keep coming at full size, that ICMP does not "
			 "reach the sender (a path MTU black hole)");
	} else {
		snprintf(what, sizeof(what), "%u packet%s of this flow dropped "
			 "while forwarding (%.1fs%s)", d->count, s, secs, other);
	}
	if (ex)
		snprintf(out, len, "%s: the kernel dropped %s: %.32s: %s. "
			 "Check: %s", what, them, d->reason, ex->meaning,
			 ex->check);
	else
		snprintf(out, len, "%s: the kernel dropped %s: %.32s", what,
			 them, d->reason);
}

/* The one-line plain explanation of a diagnosis, without its suffixes. */
static void diag_explain_base(const struct tcptrace_diag_rec *d, char *out,
			      size_t len)
{
	const struct tt_explain *ex;
	char st[24];
	double secs = d->duration_ns / 1e9;

	state_str(d->state, st, sizeof(st));
	switch (d->kind) {
	case TCPTRACE_DIAG_SYN_UNANSWERED:
		switch (d->cause) {
		case TCPTRACE_CAUSE_DROP_REASON:
			ex = tt_explain_drop(d->reason, sizeof(d->reason));
			if (ex)
				snprintf(out, len, "SYN arrived, no SYN-ACK "
					 "left (%.1fs): the kernel dropped it: "
					 "%.32s: %s. Check: %s", secs,
					 d->reason, ex->meaning, ex->check);
			else
				snprintf(out, len, "SYN arrived, no SYN-ACK "
					 "left (%.1fs): the kernel dropped it: "
					 "%.32s", secs, d->reason);
			return;
		case TCPTRACE_CAUSE_LISTEN_OVERFLOW:
			snprintf(out, len, "SYN arrived, no SYN-ACK left "
				 "(%.1fs): the listener's accept queue is full "
				 "(the SYN met it full): the application is "
				 "not calling accept() fast enough, or its "
				 "listen() backlog (capped by "
				 "net.core.somaxconn) is too small", secs);
			return;
		case TCPTRACE_CAUSE_SYN_QUEUE_FULL:
			snprintf(out, len, "SYN arrived, no SYN-ACK left "
				 "(%.1fs): the listener's SYN queue (handshakes "
				 "not finished yet) is full and SYN cookies are "
				 "off (net.ipv4.tcp_syncookies=0): a SYN flood, "
				 "or clients that never finish handshakes. "
				 "Check: turn tcp_syncookies on (1), or raise "
				 "the listen() backlog and "
				 "net.ipv4.tcp_max_syn_backlog", secs);
			return;
		case TCPTRACE_CAUSE_PAWS:
			snprintf(out, len, "SYN on a tuple still in %s here, "
				 "with an older timestamp than that "
				 "connection's last (PAWS): the server answered "
				 "with an ACK, not a SYN-ACK (%u SYN%s, %.1fs). "
				 "Typical of several clients behind one NAT; "
				 "turning off tcp_timestamps hides it", st,
				 d->count, d->count == 1 ? "" : "s", secs);
			return;
		case TCPTRACE_CAUSE_TW_REFUSED:
			if (d->state != 6)	/* TCP_TIME_WAIT */
				snprintf(out, len, "SYN on a tuple whose old "
					 "connection is still closing here "
					 "(orphaned %s): answered with an ACK "
					 "or RST, not a SYN-ACK (%u SYN%s, "
					 "%.1fs)", st, d->count,
					 d->count == 1 ? "" : "s", secs);
			else
				snprintf(out, len, "SYN on a tuple still in "
					 "TIME_WAIT here, its sequence number "
					 "not above that connection's and no "
					 "newer timestamp: taken for an old "
					 "duplicate, answered with an ACK, not "
					 "a SYN-ACK (%u SYN%s, %.1fs). The "
					 "client reuses ports faster than "
					 "TIME_WAIT ends", d->count,
					 d->count == 1 ? "" : "s", secs);
			return;
		default:
			snprintf(out, len, "SYN arrived, no SYN-ACK left "
				 "(%.1fs): seen on the way in, never answered, "
				 "no drop reason recorded", secs);
			return;
		}
	case TCPTRACE_DIAG_NO_SYNACK:
		snprintf(out, len, "no SYN-ACK after %u tr%s (%.1fs): the SYN "
			 "or its answer is lost on the way (firewall, route, "
			 "server down)", d->count, d->count == 1 ? "y" : "ies",
			 secs);
		return;
	case TCPTRACE_DIAG_RST_OUT:
		switch (d->cause) {
		case TCPTRACE_CAUSE_NO_SOCKET:
			snprintf(out, len, "RST sent: nothing listens on port "
				 "%u (closed port, no socket)", d->sport);
			return;
		case TCPTRACE_CAUSE_HALF_OPEN:
			snprintf(out, len, "RST sent: a segment for a "
				 "connection this host does not know (half-open: "
				 "this end lost its state, the peer did not)");
			return;
		case TCPTRACE_CAUSE_REJECT:
			snprintf(out, len, "RST sent by a firewall rule on this "
				 "host (reject with tcp reset), in the name of "
				 "the other end: the endpoint never sent it");
			return;
		case TCPTRACE_CAUSE_LINGER:
			snprintf(out, len, "RST sent in %s: close() with "
				 "SO_LINGER {1, 0} aborts the connection", st);
			return;
		case TCPTRACE_CAUSE_ABORT:
			snprintf(out, len, "RST sent in %s: the connection was "
				 "aborted (unread data at close, ss -K, or an "
				 "error)", st);
			return;
		default:
			snprintf(out, len, "RST sent: reply to a segment not "
				 "valid for the socket in %s", st);
			return;
		}
	case TCPTRACE_DIAG_RST_IN:
		if (d->flags & TCPTRACE_DF_MIDDLEBOX)
			snprintf(out, len, "RST received in %s: RST likely "
				 "injected by a middlebox (TTL %u vs %u of the "
				 "peer's packets)", st, d->ttl_seen,
				 d->ttl_expected);
		else if (d->cause == TCPTRACE_CAUSE_HALF_OPEN)
			snprintf(out, len, "RST received in %s: the peer does "
				 "not know this connection (half-open: it "
				 "answered our data with RST, it lost its "
				 "state)", st);
		else if (d->state == 2)	/* TCP_SYN_SENT */
			snprintf(out, len, "RST received in SYN_SENT: "
				 "connection refused");
		else
			snprintf(out, len, "RST received in %s", st);
		return;
	case TCPTRACE_DIAG_SIM_OPEN:
		snprintf(out, len, "simultaneous open: both ends sent a SYN "
			 "(normal, not an error)");
		return;
	case TCPTRACE_DIAG_SIM_CLOSE:
		snprintf(out, len, "simultaneous close: both ends sent a FIN "
			 "(normal, not an error)");
		return;
	case TCPTRACE_DIAG_TIME_WAIT:
		snprintf(out, len, "entered TIME_WAIT from %s for %.0fs: this "
			 "address/port pair stays busy until then (bind() "
			 "without SO_REUSEADDR fails: Address already in use)",
			 st, secs);
		return;
	case TCPTRACE_DIAG_TIME_WAIT_END:
		snprintf(out, len, "left TIME_WAIT after %.1fs: %s", secs,
			 d->cause == TCPTRACE_CAUSE_EXPIRED ? "expired" :
			 d->cause == TCPTRACE_CAUSE_REUSED ?
			 "reused by a new connection" : "killed early");
		return;
	case TCPTRACE_DIAG_SYN_ON_CONN:
		if (d->cause == TCPTRACE_CAUSE_PAWS)
			snprintf(out, len, "SYN for a connection still %s "
				 "here, with an older timestamp than its last "
				 "(PAWS): dropped, answered with an ACK, not a "
				 "SYN-ACK. Another client behind the same NAT, "
				 "or the peer reconnecting from a port this "
				 "host still has open", st);
		else
			snprintf(out, len, "SYN for a connection still %s "
				 "here: answered with a challenge ACK, not a "
				 "SYN-ACK (RFC 5961). A duplicate or forged "
				 "SYN, or the peer lost the connection and "
				 "reconnects from the same port (half-open)",
				 st);
		return;
	case TCPTRACE_DIAG_DATA_DROPPED:
	case TCPTRACE_DIAG_FWD_DROPPED:
		diag_drops_explain(d, out, len, secs);
		return;
	}
	snprintf(out, len, "diagnosis %u", d->kind);
}

/*
 * The one-line plain explanation of a diagnosis; for an RST this host
 * sent, the kernel's own reset reason, or that the kernel gives none.
 */
static void diag_explain(const struct tcptrace_diag_rec *d, char *out,
			 size_t len)
{
	const struct tt_explain *ex;
	size_t n;

	diag_explain_base(d, out, len);
	n = strlen(out);
	if (d->flags & TCPTRACE_DF_NO_DROP_REASON)
		snprintf(out + n, len - n, " [this kernel gives no drop "
			 "reasons: before Linux 5.17]");
	if (d->kind != TCPTRACE_DIAG_RST_OUT)
		return;
	n = strlen(out);
	ex = tt_explain_reset(d->reason, sizeof(d->reason));
	if ((d->flags & TCPTRACE_DF_RST_REASON) && ex)
		snprintf(out + n, len - n, " [kernel reset reason: %.32s: %s. "
			 "Check: %s]", d->reason, ex->meaning, ex->check);
	else if (d->flags & TCPTRACE_DF_RST_REASON)
		snprintf(out + n, len - n, " [kernel reset reason: %.32s]",
			 d->reason);
	else if (d->flags & TCPTRACE_DF_NO_RST_REASON)
		snprintf(out + n, len - n, " [no kernel reset reason before "
			 "Linux 6.10]");
}

/* The explanation of the kernel's reason a diagnosis names, if known. */
static const struct tt_explain *
diag_reason_explained(const struct tcptrace_diag_rec *d)
{
	if ((d->kind == TCPTRACE_DIAG_SYN_UNANSWERED ||
	     d->kind == TCPTRACE_DIAG_DATA_DROPPED ||
	     d->kind == TCPTRACE_DIAG_FWD_DROPPED) &&
	    d->cause == TCPTRACE_CAUSE_DROP_REASON)
		return tt_explain_drop(d->reason, sizeof(d->reason));
	if (d->kind == TCPTRACE_DIAG_RST_OUT &&
	    (d->flags & TCPTRACE_DF_RST_REASON))
		return tt_explain_reset(d->reason, sizeof(d->reason));
	return NULL;
}

/* printf to the end of the string in @buf (@len bytes in all) */
static void __attribute__((format(printf, 3, 4)))
str_append(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

/*
 * The sysctls whose values an explanation calls for, or NULL: a drop
 * reason's (explain.c), or those the causes the module finds name.
 */
static const char *diag_facts_names(const struct tcptrace_diag_rec *d)
{
	if (d->kind == TCPTRACE_DIAG_DATA_DROPPED ||
	    d->kind == TCPTRACE_DIAG_FWD_DROPPED)
		return tt_explain_drop_facts(d->reason, sizeof(d->reason));
	if (d->kind != TCPTRACE_DIAG_SYN_UNANSWERED)
		return NULL;
	switch (d->cause) {
	case TCPTRACE_CAUSE_DROP_REASON:
		return tt_explain_drop_facts(d->reason, sizeof(d->reason));
	case TCPTRACE_CAUSE_UNANSWERED:
		/* no drop reason from this kernel: the usual suspects' */
		if (d->flags & TCPTRACE_DF_NO_DROP_REASON)
			return "net.netfilter.nf_conntrack_count "
			       "net.netfilter.nf_conntrack_max "
			       "stat:nf_conntrack:invalid "
			       "mib:netstat:TcpExt:IPReversePathFilter "
			       "net.ipv4.conf.*.rp_filter "
			       "net.ipv4.tcp_syncookies";
		break;
	case TCPTRACE_CAUSE_LISTEN_OVERFLOW:
		return "net.core.somaxconn mib:netstat:TcpExt:ListenOverflows "
		       "mib:netstat:TcpExt:ListenDrops";
	case TCPTRACE_CAUSE_SYN_QUEUE_FULL:
		return "net.ipv4.tcp_syncookies net.ipv4.tcp_max_syn_backlog "
		       "net.core.somaxconn mib:netstat:TcpExt:TCPReqQFullDrop";
	case TCPTRACE_CAUSE_PAWS:
		return "net.ipv4.tcp_timestamps";
	case TCPTRACE_CAUSE_TW_REFUSED:
		return "net.ipv4.tcp_tw_reuse";
	}
	return NULL;
}

/*
 * A SYN that got no SYN-ACK, dropped by the kernel or with no reason
 * known (the kernel gives none where it finds no route for the SYN-ACK):
 * the route back to the client is worth a look.
 */
static bool diag_wants_route(const struct tcptrace_diag_rec *d)
{
	return d->kind == TCPTRACE_DIAG_SYN_UNANSWERED &&
	       (d->cause == TCPTRACE_CAUSE_UNANSWERED ||
		d->cause == TCPTRACE_CAUSE_DROP_REASON);
}

/*
 * Those values and that route now, in the record's namespace: live
 * traces only (a capture file's namespaces are another moment's).
 */
static const struct tt_nsfacts *diag_facts(const struct tcptrace_diag_rec *d)
{
	static const uint8_t zero[sizeof(d->daddr)];
	const char *names = diag_facts_names(d);
	const struct tt_nsfacts *f;
	struct tt_nsquery q = { 0 };

	if (opt.input)
		return NULL;
	if (d->kind == TCPTRACE_DIAG_SYN_UNANSWERED ||
	    d->kind == TCPTRACE_DIAG_DATA_DROPPED ||
	    d->kind == TCPTRACE_DIAG_FWD_DROPPED)
		q.iif = tt_diag_in_ifindex(d);
	if (d->kind == TCPTRACE_DIAG_FWD_DROPPED)
		q.oif = tt_diag_out_ifindex(d);
	if (d->family == AF_INET || d->family == AF_INET6) {
		q.family = d->family;
		memcpy(q.local, d->saddr, sizeof(q.local));
		memcpy(q.remote, d->daddr, sizeof(q.remote));
		q.sport = d->sport;
		q.dport = d->dport;
	}
	/* a peer of 0.0.0.0 or :: (a martian) has no route to ask about */
	q.route = q.family && diag_wants_route(d) &&
		  memcmp(d->daddr, zero, sizeof(zero));
	/* a listener's queues, where they are the cause */
	if (q.family && d->kind == TCPTRACE_DIAG_SYN_UNANSWERED &&
	    (d->cause == TCPTRACE_CAUSE_LISTEN_OVERFLOW ||
	     d->cause == TCPTRACE_CAUSE_SYN_QUEUE_FULL))
		q.lport = d->sport;
	if (!names && !q.route && !q.iif && !q.oif && !q.lport)
		return NULL;
	/* the ends only where asked about: else they would split the cache */
	if (!q.route && !q.lport) {
		q.family = 0;
		memset(q.local, 0, sizeof(q.local));
		memset(q.remote, 0, sizeof(q.remote));
		q.sport = 0;
		q.dport = 0;
	}
	f = tt_nsfacts(d->netns_ino, d->netns_cookie, names, &q);
	if (tt_nsfacts_stuck())
		die(EX_RUNTIME, "%s: %s", tt_nsfacts_stuck(), strerror(errno));
	return f;
}

static int diag_color(unsigned int kind)
{
	switch (kind) {
	case TCPTRACE_DIAG_TIME_WAIT:
	case TCPTRACE_DIAG_TIME_WAIT_END:
	case TCPTRACE_DIAG_SIM_OPEN:
	case TCPTRACE_DIAG_SIM_CLOSE:
		return OB_PLAIN;
	case TCPTRACE_DIAG_SYN_UNANSWERED:
	case TCPTRACE_DIAG_NO_SYNACK:
		return OB_YELLOW;
	}
	return OB_RED;
}

void print_diag(const struct tcptrace_diag_rec *d)
{
	const struct tt_nsfacts *facts;
	const struct tt_explain *ex;
	char why[1024], peer[INET6_ADDRSTRLEN], local[INET6_ADDRSTRLEN];
	const char *sep;
	int i, nf;

	diag_explain(d, why, sizeof(why));
	facts = diag_facts(d);
	if (facts) {
		str_append(why, sizeof(why), " [now in its netns:");
		sep = " ";
		if (facts->iif_name[0]) {
			str_append(why, sizeof(why), " %s in on %s",
				   d->kind == TCPTRACE_DIAG_SYN_UNANSWERED ?
				   "SYN came" : "came", facts->iif_name);
			sep = ", ";
		}
		if (facts->oif_name[0]) {
			str_append(why, sizeof(why), "%sroute out by %s", sep,
				   facts->oif_name);
			sep = ", ";
		}
		if (facts->have_listener) {
			str_append(why, sizeof(why), "%slistener: %u in its "
				   "accept queue, listen() backlog %u", sep,
				   facts->accept_queue, facts->backlog);
			sep = ", ";
		}
		for (i = 0; i < facts->n; i++, sep = ", ")
			str_append(why, sizeof(why), "%s%s=%s", sep,
				   facts->f[i].name, facts->f[i].value);
		fmt_addr(d->family, d->daddr, peer, sizeof(peer));
		if (facts->route[0])
			str_append(why, sizeof(why), "%sroute back to %s: %s",
				   sep, peer, facts->route);
		str_append(why, sizeof(why), "]");
	}
	nf = facts ? facts->n : 0;
	/* the kernel gives no reason when the SYN-ACK has no route out */
	if (facts && !strncmp(facts->route, "none", 4) &&
	    d->cause == TCPTRACE_CAUSE_UNANSWERED) {
		fmt_addr(d->family, d->saddr, local, sizeof(local));
		str_append(why, sizeof(why), ": no route leads back to the "
			   "client, so no SYN-ACK can leave (unless an ip "
			   "rule by fwmark or uid routes it). Check: ip route "
			   "get %s from %s in that netns (a missing return "
			   "or default route, ip rule)", peer, local);
	}
	ob_line();
	if (!opt.json) {
		ob_text_head(d->hdr.ts_ns, d->netns_ino, "[diag]", 6, 22,
			     d->family, d->saddr, d->sport, d->daddr,
			     d->dport);
		/* what went wrong stands out; what is normal does not */
		ob_color(diag_color(d->kind));
		ob_str(why);
		ob_color(OB_PLAIN);
		ob_chr('\n');
		return;
	}
	ob_json_head("diag", diag_name(d->kind), &d->hdr, d->netns_ino,
		     d->netns_cookie, d->sock_cookie, d->family);
	ob_json_ends(d->family, d->saddr, d->sport, d->daddr,
		     d->dport);
	OB_LIT(",\"state\":");
	if (d->state) {
		ob_chr('"');
		ob_state(d->state);
		ob_chr('"');
	} else {
		OB_LIT("null");
	}
	OB_LIT(",\"cause\":\"");
	ob_str(cause_name(d->cause));
	OB_LIT("\",\"reason\":");
	if (d->reason[0])
		ob_jstr(d->reason, sizeof(d->reason));
	else
		OB_LIT("null");
	OB_LIT(",\"count\":");
	ob_u64(d->count);
	OB_LIT(",\"duration_ns\":");
	ob_u64(d->duration_ns);
	OB_LIT(",\"no_drop_reason\":");
	ob_bool(d->flags & TCPTRACE_DF_NO_DROP_REASON);
	OB_LIT(",\"middlebox\":");
	ob_bool(d->flags & TCPTRACE_DF_MIDDLEBOX);
	if (d->ttl_seen) {
		OB_LIT(",\"ttl_seen\":");
		ob_u64(d->ttl_seen);
		OB_LIT(",\"ttl_expected\":");
		ob_u64(d->ttl_expected);
	} else {
		OB_LIT(",\"ttl_seen\":null,\"ttl_expected\":null");
	}
	ex = diag_reason_explained(d);
	OB_LIT(",\"meaning\":");
	if (ex)
		ob_jstr(ex->meaning, strlen(ex->meaning));
	else
		OB_LIT("null");
	OB_LIT(",\"check\":");
	if (ex)
		ob_jstr(ex->check, strlen(ex->check));
	else
		OB_LIT("null");
	OB_LIT(",\"sysctls\":");
	if (!nf)
		OB_LIT("null");
	for (i = 0; i < nf; i++) {
		ob_chr(i ? ',' : '{');
		ob_jstr(facts->f[i].name, sizeof(facts->f[i].name));
		ob_chr(':');
		ob_jstr(facts->f[i].value, sizeof(facts->f[i].value));
	}
	if (nf)
		ob_chr('}');
	OB_LIT(",\"in_ifindex\":");
	ob_u64_or_null(tt_diag_in_ifindex(d));
	OB_LIT(",\"in_dev\":");
	if (facts && facts->iif_name[0])
		ob_jstr(facts->iif_name, sizeof(facts->iif_name));
	else
		OB_LIT("null");
	OB_LIT(",\"out_ifindex\":");
	ob_u64_or_null(tt_diag_out_ifindex(d));
	OB_LIT(",\"out_dev\":");
	if (facts && facts->oif_name[0])
		ob_jstr(facts->oif_name, sizeof(facts->oif_name));
	else
		OB_LIT("null");
	OB_LIT(",\"mtu\":");
	ob_u64_or_null(tt_diag_mtu(d));
	OB_LIT(",\"count_other\":");
	ob_u64(tt_diag_count_other(d));
	OB_LIT(",\"listener\":");
	if (facts && facts->have_listener) {
		OB_LIT("{\"accept_queue\":");
		ob_u64(facts->accept_queue);
		OB_LIT(",\"backlog\":");
		ob_u64(facts->backlog);
		ob_chr('}');
	} else {
		OB_LIT("null");
	}
	OB_LIT(",\"route_back\":");
	if (facts && facts->route[0])
		ob_jstr(facts->route, sizeof(facts->route));
	else
		OB_LIT("null");
	OB_LIT(",\"explain\":");
	ob_jstr(why, sizeof(why));
	ob_json_cgroup(tt_diag_cgroup_id(d), cg_lookup(tt_diag_cgroup_id(d)));
	OB_LIT("}\n");
}

// SPDX-License-Identifier: GPL-2.0
/*
 * From a buffer of records to lines: the walk over the records, which of
 * them this run shows (mode, filters, -c), and lost-record notices.
 */
#include <stdio.h>
#include <string.h>

#include "record.h"
#include "cli.h"
#include "cgroup.h"
#include "output.h"

long tt_printed;
uint64_t tt_total_lost;

void print_lost(unsigned int cpu, uint64_t ts, uint64_t count)
{
	tt_total_lost += count;
	ob_line();
	if (opt.json) {
		OB_LIT("{\"type\":\"lost\",\"schema\":" TCPWHY_SCHEMA_STR
		       ",\"ts_ns\":");
		ob_u64(ts);
		ob_realtime(ts);
		OB_LIT(",\"cpu\":");
		ob_u64(cpu);
		OB_LIT(",\"count\":");
		ob_u64(count);
		OB_LIT("}\n");
		return;
	}
	ob_when(ts);
	ob_color(OB_RED);
	OB_LIT(" *** lost ");
	ob_u64(count);
	OB_LIT(" record");
	if (count != 1)
		ob_chr('s');
	OB_LIT(" on cpu ");
	ob_u64(cpu);
	OB_LIT(": buffer full (raise buf_size or read faster) ***");
	ob_color(OB_PLAIN);
	ob_chr('\n');
}

/* A state record teaches which sockets matching tasks act on. */
static void owner_learn(const struct tcptrace_state_rec *r)
{
	if (r->hdr.ctx == TCPTRACE_CTX_TASK &&
	    task_match(state_pid(r), r->comm))
		owner_add(r->sock_cookie, r->hdr.ts_ns);
	if (r->new_state == 7)		/* TCP_CLOSE */
		owner_closed(r->sock_cookie, r->hdr.ts_ns);
}

static bool state_match(const struct tcptrace_state_rec *r)
{
	struct ends e = ENDS_OF(r);

	e.v4mapped = r->flags & TCPTRACE_F_V4MAPPED;
	return opt.mode == MODE_ALL && ends_match(&e) &&
	       (!opt.f.states || (r->new_state < 32 &&
				  opt.f.states & (1u << r->new_state))) &&
	       owner_match(r->sock_cookie) &&
	       cg_match(tt_state_cgroup_id(r));
}

/* Count a printed record; false when -c is reached. */
static bool count_one(void)
{
	return !(opt.count > 0 && ++tt_printed >= opt.count);
}

/*
 * Call @fn for each record in @buf, in order, until it returns false
 * (then false).  With @used, a record cut at the end of @buf is left for
 * the next call and *@used says how far decoding got; bytes that are no
 * record end the program.
 */
bool tt_each_record(const void *buf, size_t len, size_t *used,
		    bool (*fn)(const struct tcptrace_hdr *h))
{
	const struct tcptrace_hdr *h;
	enum tt_decode d;
	unsigned long off = 0;

	if (used)
		*used = len;
	while ((d = tt_next_record(buf, len, &off, &h)) != TT_END) {
		if (d == TT_SKIP)
			continue;
		if (d == TT_TRUNCATED && used) {
			*used = off;
			return true;
		}
		if (d != TT_OK)
			die(EX_DATA, "%s at byte %lu of a %zu-byte read: "
			    "module and tcpwhy disagree about the record "
			    "format", tt_decode_strerror(d), off, len);
		if (!fn(h))
			return false;
	}
	return true;
}

/* Print one record; false when the requested count has been reached. */
static bool handle_record(const struct tcptrace_hdr *h)
{
	if (h->lost_before)
		print_lost(h->cpu, h->ts_ns, h->lost_before);
	if (h->type == TCPTRACE_REC_STATE && filter_by_task(&opt.f))
		owner_learn((const void *)h);
	if (h->type == TCPTRACE_REC_LOST) {
		const struct tcptrace_lost_rec *l = (const void *)h;

		print_lost(h->cpu, h->ts_ns, l->count);
	} else if (opt.mode == MODE_CONNS) {
		if (h->type == TCPTRACE_REC_STATE) {
			conn_state((const void *)h);
		} else if (h->type == TCPTRACE_REC_HANDSHAKE) {
			conn_handshake((const void *)h);
		} else if (h->type == TCPTRACE_REC_DIAG) {
			conn_diag((const void *)h);
		} else if (h->type == TCPTRACE_REC_CONN) {
			if (print_conn((const void *)h) && !count_one())
				return false;
		}
	} else if (h->type == TCPTRACE_REC_HANDSHAKE) {
		const struct tcptrace_handshake_rec *r = (const void *)h;

		if (opt.mode == MODE_DIAG || opt.f.states ||
		    (opt.f.outcomes &&
		     !(r->outcome < 32 && opt.f.outcomes & (1u << r->outcome))) ||
		    !ends_match(&ENDS_OF(r)) || !owner_match(r->sock_cookie) ||
		    !cg_match(tt_hs_cgroup_id(r)))
			return true;
		print_handshake(r);
		if (!count_one())
			return false;
	} else if (h->type == TCPTRACE_REC_DIAG) {
		const struct tcptrace_diag_rec *r = (const void *)h;

		if (opt.mode == MODE_HANDSHAKES || opt.f.states ||
		    (opt.f.diag_kinds &&
		     !(r->kind < 32 && opt.f.diag_kinds & (1u << r->kind))) ||
		    !ends_match(&ENDS_OF(r)) || !owner_match(r->sock_cookie) ||
		    !cg_match(tt_diag_cgroup_id(r)))
			return true;
		print_diag(r);
		if (!count_one())
			return false;
	} else if (h->type == TCPTRACE_REC_STATE) {
		const struct tcptrace_state_rec *r = (const void *)h;

		if (!state_match(r)) {
			/* still track time-in-state */
			state_seen(r);
			return true;
		}
		print_state(r);
		if (!count_one())
			return false;
	}
	return true;
}

/*
 * Decode and print the records in @buf.  Returns false when the requested
 * count has been reached.  @used: as for tt_each_record().
 */
bool tt_handle_buffer(const void *buf, size_t len, size_t *used)
{
	return tt_each_record(buf, len, used, handle_record);
}

void tt_reset(void)
{
	state_reset();
	conns_reset();
	owner_reset();
	hist_reset();
	cg_reset();
	tt_total_lost = 0;
	tt_printed = 0;
}

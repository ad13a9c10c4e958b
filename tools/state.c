// SPDX-License-Identifier: GPL-2.0
/*
 * State records: one line per TCP state transition, with how long the
 * socket spent in the state it left.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "record.h"
#include "cli.h"
#include "cgroup.h"
#include "output.h"

/* Per socket: when did it enter its current state. */
struct sockent {
	uint64_t cookie;
	uint64_t since_ns;
	struct sockent *next;
};

#define SOCKTAB_BITS 12
static struct sockent *socktab[1 << SOCKTAB_BITS];

static struct sockent **sock_slot(uint64_t cookie)
{
	uint64_t h = cookie * 0x9E3779B97F4A7C15ull;
	struct sockent **p = &socktab[h >> (64 - SOCKTAB_BITS)];

	while (*p && (*p)->cookie != cookie)
		p = &(*p)->next;
	return p;
}

/* Returns the time spent in the previous state, or -1 when unknown. */
static int64_t sock_transition(uint64_t cookie, uint64_t ts, bool closed)
{
	struct sockent **p = sock_slot(cookie), *e = *p;
	int64_t dt = -1;

	if (e) {
		dt = ts >= e->since_ns ? (int64_t)(ts - e->since_ns) : 0;
		if (closed) {
			*p = e->next;
			free(e);
			return dt;
		}
		e->since_ns = ts;
		return dt;
	}
	if (closed)
		return dt;
	e = calloc(1, sizeof(*e));
	if (!e)
		die(EX_RUNTIME, "out of memory");
	e->cookie = cookie;
	e->since_ns = ts;
	*p = e;
	return dt;
}

uint32_t state_pid(const struct tcptrace_state_rec *r)
{
	/* a reader in a container gets its own PID namespace's numbers */
	return r->pid ? r->pid : tt_state_pidns(r) ? r->vpid : 0;
}

void print_state(const struct tcptrace_state_rec *r)
{
	bool closed = r->new_state == 7;	/* TCP_CLOSE */
	int64_t in_old = sock_transition(r->sock_cookie, r->hdr.ts_ns, closed);
	bool task = r->hdr.ctx == TCPTRACE_CTX_TASK;
	uint32_t pidns = tt_state_pidns(r);
	uint32_t pid = state_pid(r);
	uint32_t tid = r->pid ? r->tid : pidns ? r->vtid : 0;
	uint64_t cgid = tt_state_cgroup_id(r);
	const struct cgent *cg;
	char who[40];
	size_t who_len;

	ob_line();
	if (opt.json) {
		ob_json_head("state", NULL, &r->hdr, r->netns_ino,
			     r->netns_cookie, r->sock_cookie, r->family);
		OB_LIT(",\"v4mapped\":");
		ob_bool(r->flags & TCPTRACE_F_V4MAPPED);
		OB_LIT(",\"unresolved\":");
		ob_bool(r->flags & TCPTRACE_F_UNRESOLVED);
		OB_LIT(",\"synthetic\":");
		ob_bool(r->flags & TCPTRACE_F_SYNTHETIC);
		OB_LIT(",\"orphan_fin_wait2\":");
		ob_bool(r->flags & TCPTRACE_F_TW_ORPHAN);
		ob_json_ends(r->family, r->saddr, r->sport, r->daddr,
			     r->dport);
		OB_LIT(",\"old\":\"");
		ob_state(r->old_state);
		OB_LIT("\",\"new\":\"");
		ob_state(r->new_state);
		OB_LIT("\",");
		if (task && pid) {
			OB_LIT("\"pid\":");
			ob_u64(pid);
			OB_LIT(",\"tid\":");
			ob_u64(tid);
			OB_LIT(",\"comm\":");
			ob_jstr(r->comm, sizeof(r->comm));
		} else {
			OB_LIT("\"pid\":null,\"tid\":null,\"comm\":null");
		}
		/* the task's own PID namespace and its numbers there */
		OB_LIT(",\"pidns\":");
		if (task && pidns) {
			ob_u64(pidns);
			OB_LIT(",\"vpid\":");
			ob_u64(r->vpid);
			OB_LIT(",\"vtid\":");
			ob_u64(r->vtid);
		} else {
			OB_LIT("null,\"vpid\":null,\"vtid\":null");
		}
		OB_LIT(",\"ctx\":\"");
		ob_str(tt_ctx_name(r->hdr.ctx));
		OB_LIT("\",\"in_old_ns\":");
		if (in_old >= 0)
			ob_u64(in_old);
		else
			OB_LIT("null");
		ob_json_cgroup(cgid, cg_lookup(cgid));
		OB_LIT("}\n");
		return;
	}

	/* "%s netns:%-10u %-22s %s > %s  %s -> %s%s\n" */
	if (task && pid) {
		who_len = fmt_u64(who, pid);
		who[who_len++] = '/';
		memcpy(who + who_len, r->comm, sizeof(r->comm));
		who_len += strnlen(r->comm, sizeof(r->comm));
	} else {
		/* a task of another PID namespace than the reader's: "[task]" */
		const char *ctx = tt_ctx_name(r->hdr.ctx);

		who_len = strlen(ctx) + 2;
		who[0] = '[';
		memcpy(who + 1, ctx, who_len - 2);
		who[who_len - 1] = ']';
	}
	ob_text_head(r->hdr.ts_ns, r->netns_ino, who, who_len, 22, r->family,
		     r->saddr, r->sport, r->daddr, r->dport);
	ob_state(r->old_state);
	OB_LIT(" -> ");
	ob_state(r->new_state);
	if (in_old >= 0) {
		OB_LIT("  (");
		ob_ms3(in_old);
		OB_LIT(" ms in ");
		ob_state(r->old_state);
		ob_chr(')');
	}
	if (r->flags & TCPTRACE_F_TW_ORPHAN)
		OB_LIT("  (orphaned FIN_WAIT2: the peer never closed its side "
		       "within tcp_fin_timeout)");
	/* the socket's cgroup, when known and not the root */
	cg = cgid ? cg_lookup(cgid) : NULL;
	if (cg && !cg->root) {
		OB_LIT(" cgroup:");
		ob_put(cg->text, cg->tlen);
	}
	ob_chr('\n');
}

void state_seen(const struct tcptrace_state_rec *r)
{
	sock_transition(r->sock_cookie, r->hdr.ts_ns, r->new_state == 7);
}

void state_reset(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(socktab); i++) {
		while (socktab[i]) {
			struct sockent *e = socktab[i];

			socktab[i] = e->next;
			free(e);
		}
	}
}

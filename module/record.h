/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tcptrace: walking and naming records of the /dev/tcptrace ABI.
 *
 * Pure C on byte buffers, shared by the CLI (tools/), the KUnit suite and
 * the fuzzers, so what the module writes and what the CLI reads are
 * checked by the same code.
 */
#ifndef _TCPTRACE_RECORD_H
#define _TCPTRACE_RECORD_H

#include <linux/types.h>
#include "uapi/tcptrace.h"

enum tt_decode {
	TT_OK = 0,		/* *rec points at a whole, known record */
	TT_SKIP,		/* whole record of a type we do not know */
	TT_END,			/* no bytes left */
	TT_TRUNCATED,		/* header or body runs past the buffer */
	TT_MALFORMED,		/* size field impossible for its type */
};

/*
 * Look at the record at @buf[@*off]; on TT_OK or TT_SKIP advance @*off past
 * it.  A record newer than we know (higher hdr.version, larger size) is
 * decoded by its known prefix: records only grow at their end.  An older
 * one (lower hdr.version) must be as long as its version's layout; the
 * fields it lacks are read through the accessors below.
 */
enum tt_decode tt_next_record(const void *buf, unsigned long len,
			      unsigned long *off,
			      const struct tcptrace_hdr **rec);

const char *tt_decode_strerror(enum tt_decode d);

/*
 * The layout version of state, conn, handshake and diag records that
 * added cgroup_id: older records end before it.
 */
#define TT_CGROUP_VERSION	2

/*
 * The socket's cgroup v2 id of a record tt_next_record() returned as
 * TT_OK (which checked that its version's layout fits); 0 when the record
 * predates the field or the module did not know the cgroup.
 */
static inline __u64 tt_state_cgroup_id(const struct tcptrace_state_rec *r)
{
	return r->hdr.version >= TT_CGROUP_VERSION ? r->cgroup_id : 0;
}

static inline __u64 tt_conn_cgroup_id(const struct tcptrace_conn_rec *r)
{
	return r->hdr.version >= TT_CGROUP_VERSION ? r->cgroup_id : 0;
}

static inline __u64 tt_hs_cgroup_id(const struct tcptrace_handshake_rec *r)
{
	return r->hdr.version >= TT_CGROUP_VERSION ? r->cgroup_id : 0;
}

static inline __u64 tt_diag_cgroup_id(const struct tcptrace_diag_rec *r)
{
	return r->hdr.version >= TT_CGROUP_VERSION ? r->cgroup_id : 0;
}

/*
 * The state record layout that added the task's own PID namespace
 * (pidns_ino, vpid, vtid); older records end before it.
 */
#define TT_PIDNS_VERSION	3

/* The task's PID namespace inode of a TT_OK state record; 0: none. */
static inline __u32 tt_state_pidns(const struct tcptrace_state_rec *r)
{
	return r->hdr.version >= TT_PIDNS_VERSION ? r->pidns_ino : 0;
}

/* The diag record layout that added in_ifindex; older ones end before. */
#define TT_DIAG_IFINDEX_VERSION	3

/* The ingress interface of a TT_OK diag record; 0: none or not known. */
static inline __u32 tt_diag_in_ifindex(const struct tcptrace_diag_rec *r)
{
	return r->hdr.version >= TT_DIAG_IFINDEX_VERSION ? r->in_ifindex : 0;
}

/*
 * The diag record layout that added out_ifindex and mtu (version 3 has
 * the first as a pad, 0); older ones end before mtu.
 */
#define TT_DIAG_MTU_VERSION	4

/* The route's device and its MTU of a TT_OK fwd_dropped record; 0: none. */
static inline __u32 tt_diag_out_ifindex(const struct tcptrace_diag_rec *r)
{
	return r->hdr.version >= TT_DIAG_MTU_VERSION ? r->out_ifindex : 0;
}

static inline __u32 tt_diag_mtu(const struct tcptrace_diag_rec *r)
{
	return r->hdr.version >= TT_DIAG_MTU_VERSION ? r->mtu : 0;
}

/* Of a dropped-packets episode's count, those for other reasons. */
static inline __u32 tt_diag_count_other(const struct tcptrace_diag_rec *r)
{
	return r->hdr.version >= TT_DIAG_MTU_VERSION ? r->count_other : 0;
}

/* "ESTABLISHED", "SYN_SENT", ...; NULL if unknown */
const char *tt_state_name(unsigned int state);
/* parse a state name (any case, '-' or '_'), -1 if unknown */
int tt_state_parse(const char *name);

/* "task", "softirq", ... */
const char *tt_ctx_name(unsigned int ctx);

#endif /* _TCPTRACE_RECORD_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tcptrace: TCP header and option parsing.
 *
 * Pure functions on byte buffers: no sk_buff, no locks, no allocation.  The
 * same file builds into the module, the KUnit suite and the userspace
 * fuzzer.
 */
#ifndef _TCPTRACE_OPTIONS_H
#define _TCPTRACE_OPTIONS_H

#include <linux/types.h>
#include "uapi/tcptrace.h"

#define TCPTRACE_TCPHDR_LEN	20	/* without options */
#define TCPTRACE_TCPHDR_MAX	60

/* TCP flag bits in byte 13 of the header */
#define TCPTRACE_TH_FIN		0x01
#define TCPTRACE_TH_SYN		0x02
#define TCPTRACE_TH_RST		0x04
#define TCPTRACE_TH_PSH		0x08
#define TCPTRACE_TH_ACK		0x10
#define TCPTRACE_TH_URG		0x20
#define TCPTRACE_TH_ECE		0x40
#define TCPTRACE_TH_CWR		0x80

/*
 * Parse the options area of a TCP header: @p[0..@len) are the bytes after
 * the fixed 20-byte header.  Fills the option fields of @o (present,
 * malformed, mss, wscale, ts_*, sack_blocks, tfo_len, mptcp_subtype,
 * unknown kinds).  Never reads outside @p[0..@len).
 */
void tcptrace_parse_opts(const __u8 *p, unsigned int len,
			 struct tcptrace_tcpopts *o);

/*
 * Parse a TCP header: @th points at @avail bytes of the segment (header
 * and possibly more).  Fills @o from the header and its options (window,
 * ECN setup, options) and returns the flags byte.  A data offset below 5
 * or past @avail is flagged in o->malformed and its options are skipped.
 * @avail must be at least TCPTRACE_TCPHDR_LEN.
 */
__u8 tcptrace_parse_tcphdr(const __u8 *th, unsigned int avail,
			   struct tcptrace_tcpopts *o);

#endif /* _TCPTRACE_OPTIONS_H */

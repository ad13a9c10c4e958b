/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * tcptrace record ABI: what /dev/tcptrace hands to userspace.
 *
 * Included by the kernel module and by the tcptrace CLI; nothing else
 * defines the layout of a record.
 *
 * A read() returns a sequence of whole records.  Every record starts with
 * struct tcptrace_hdr; hdr.size is the size of the whole record in bytes
 * (a multiple of 8), so a reader can skip record types it does not know.
 * A record type only ever grows at its end; hdr.version says which layout
 * of that type the record has.  A record is at least as long as its
 * version's layout; fields added by later versions are absent (not zero)
 * in it, so check hdr.version before reading them.
 */
#ifndef _UAPI_LINUX_TCPTRACE_H
#define _UAPI_LINUX_TCPTRACE_H

#include <linux/types.h>
#include <linux/ioctl.h>

/* Bumped on any incompatible change of the header or an existing record. */
#define TCPTRACE_ABI_VERSION	1

#define TCPTRACE_DEVICE		"/dev/tcptrace"

/* A read() buffer smaller than this gets -EINVAL. */
#define TCPTRACE_READ_MIN	256

enum tcptrace_rec_type {
	TCPTRACE_REC_STATE	= 1,	/* struct tcptrace_state_rec */
	TCPTRACE_REC_LOST	= 2,	/* struct tcptrace_lost_rec */
	TCPTRACE_REC_HANDSHAKE	= 3,	/* struct tcptrace_handshake_rec */
	TCPTRACE_REC_DIAG	= 4,	/* struct tcptrace_diag_rec */
	TCPTRACE_REC_CONN	= 5,	/* struct tcptrace_conn_rec */
};

/* hdr.ctx: where the event was produced. */
enum tcptrace_ctx {
	TCPTRACE_CTX_TASK	= 0,	/* process context: pid/comm are real */
	TCPTRACE_CTX_SOFTIRQ	= 1,	/* softirq: pid/comm are whoever ran */
	TCPTRACE_CTX_HARDIRQ	= 2,
	TCPTRACE_CTX_NMI	= 3,
	TCPTRACE_CTX_KTHREAD	= 4,	/* a kernel thread (tcptrace's own scan) */
};

struct tcptrace_hdr {
	__u16	type;		/* enum tcptrace_rec_type */
	__u16	size;		/* whole record, bytes, multiple of 8 */
	__u8	version;	/* layout version of this type */
	__u8	ctx;		/* enum tcptrace_ctx */
	__u16	cpu;		/* CPU that produced the record */
	/*
	 * Records this CPU had to drop (buffer full) just before this one.
	 * Together with TCPTRACE_REC_LOST records this accounts for every
	 * dropped record exactly once.
	 */
	__u32	lost_before;
	__u32	reserved;	/* zero */
	__u64	ts_ns;		/* CLOCK_MONOTONIC, ns */
};

/*
 * Every record about a connection has the socket cookie at byte 24 and
 * the network namespace cookie at byte 32 (a reader scoped to one
 * namespace is given only its own).
 */
#define TCPTRACE_NETNS_OFFSET	32

/* tcptrace_state_rec.flags */
#define TCPTRACE_F_V4MAPPED	0x01	/* AF_INET6 socket, v4-mapped peers */
/*
 * LISTEN -> SYN_RECV of a socket that died before its own identity was
 * known: cookie and endpoints are the listener's.
 */
#define TCPTRACE_F_UNRESOLVED	0x02
/*
 * A transition as tcptrace, not the state tracepoint, saw it: the move
 * into TIME_WAIT (the tracepoint shows the full socket going to CLOSE as
 * the kernel hands the connection to a timewait socket) and the end of
 * TIME_WAIT (no tracepoint at all).
 */
#define TCPTRACE_F_SYNTHETIC	0x04
/*
 * FIN_WAIT2 -> CLOSE of an orphaned socket (closed by its application),
 * whose FIN_WAIT2 the kernel went on with in a timewait socket: the peer
 * never closed its side within tcp_fin_timeout (or reset).  Synthetic.
 * Had its FIN come, FIN_WAIT2 -> TIME_WAIT would have been reported.
 */
#define TCPTRACE_F_TW_ORPHAN	0x08

/* One TCP state transition (tracepoint sock:inet_sock_set_state). */
struct tcptrace_state_rec {
	struct tcptrace_hdr hdr;
	__u64	sock_cookie;	/* stable per-socket id (SO_COOKIE value) */
	__u64	netns_cookie;	/* network namespace cookie */
	__u32	netns_ino;	/* network namespace inode (ip netns ids) */
	/*
	 * The task that made the transition, in the initial PID namespace:
	 * 0 in softirq and hardirq context (hdr.ctx; before version 3,
	 * whoever was interrupted) and for a reader in another PID
	 * namespace.  A kernel thread (hdr.ctx kthread) is named.
	 */
	__u32	pid;		/* tgid */
	__u32	tid;
	__u16	family;		/* AF_INET or AF_INET6 */
	__u16	sport;		/* host byte order */
	__u16	dport;		/* host byte order */
	__u8	old_state;	/* TCP_ESTABLISHED ... as in the kernel */
	__u8	new_state;
	__u8	flags;		/* TCPTRACE_F_* */
	__u8	pad[3];
	__u8	saddr[16];	/* network byte order; v4 in first 4 bytes */
	__u8	daddr[16];
	char	comm[16];
	/*
	 * Version 2.  The socket's cgroup v2 id: the cgroup of the task that
	 * created the socket (an accepted socket: the listener's), read from
	 * the socket, so right in softirq too.  On the cgroup2 mount it is
	 * the cgroup directory's inode number.  0: unknown.  Version 1
	 * records end before it.
	 */
	__u64	cgroup_id;
	/*
	 * Version 3.  The task again, numbered in its own (innermost) PID
	 * namespace, whose inode is pidns_ino (ls -l /proc/PID/ns/pid).  A
	 * reader in a PID namespace other than the initial one gets them,
	 * and comm, only for tasks of that very namespace; otherwise they
	 * and comm are zero.  0 in softirq and hardirq context.
	 */
	__u32	pidns_ino;
	__u32	vpid;
	__u32	vtid;
	__u32	pad2;
};

#define TCPTRACE_STATE_REC_VERSION	3

/* Records dropped on one CPU not yet reported via hdr.lost_before. */
struct tcptrace_lost_rec {
	struct tcptrace_hdr hdr;
	__u64	count;
};

#define TCPTRACE_LOST_REC_VERSION	1

/* tcptrace_tcpopts.present: what a SYN or SYN-ACK carried */
#define TCPTRACE_OPT_MSS	0x0001
#define TCPTRACE_OPT_WSCALE	0x0002
#define TCPTRACE_OPT_SACK_PERM	0x0004
#define TCPTRACE_OPT_TS		0x0008
#define TCPTRACE_OPT_SACK	0x0010	/* SACK blocks */
#define TCPTRACE_OPT_TFO	0x0020	/* kind 34 or experimental 254/0xF989 */
#define TCPTRACE_OPT_MD5	0x0040
#define TCPTRACE_OPT_MPTCP	0x0080
#define TCPTRACE_OPT_EOL	0x0100
#define TCPTRACE_OPT_ECN	0x0200	/* SYN: ECE+CWR; SYN-ACK: ECE, no CWR */
#define TCPTRACE_OPT_UNKNOWN	0x0400	/* see unknown[] */

/* tcptrace_tcpopts.malformed: what was wrong; parsing never reads past it */
#define TCPTRACE_MAL_OPT_LEN	0x0001	/* length 0 or 1, or past the header */
#define TCPTRACE_MAL_OPT_TRUNC	0x0002	/* kind byte without a length byte */
#define TCPTRACE_MAL_MSS	0x0004	/* MSS length != 4 */
#define TCPTRACE_MAL_WSCALE	0x0008	/* length != 3, or shift > 14 */
#define TCPTRACE_MAL_SACK_PERM	0x0010	/* length != 2 */
#define TCPTRACE_MAL_TS		0x0020	/* length != 10 */
#define TCPTRACE_MAL_SACK	0x0040	/* length not 2 + 8n, n >= 1 */
#define TCPTRACE_MAL_TFO	0x0080	/* cookie length odd or > 16 */
#define TCPTRACE_MAL_MD5	0x0100	/* length != 18 */
#define TCPTRACE_MAL_MPTCP	0x0200	/* length < 3 */
#define TCPTRACE_MAL_DOFF_SHORT	0x0400	/* data offset < 5 */
#define TCPTRACE_MAL_DOFF_PAST	0x0800	/* data offset past the packet */
#define TCPTRACE_MAL_DUP	0x1000	/* same option twice */

#define TCPTRACE_MAX_UNKNOWN	8

/* The TCP options and IP facts of one SYN or SYN-ACK. */
struct tcptrace_tcpopts {
	__u64	seen_ns;	/* CLOCK_MONOTONIC; 0: not seen */
	__u32	ts_val;
	__u32	ts_ecr;
	__u16	present;	/* TCPTRACE_OPT_* */
	__u16	malformed;	/* TCPTRACE_MAL_* */
	__u16	mss;
	__u16	window;		/* raw header field (never scaled in SYNs) */
	__u16	ip_id;		/* IPv4 ID; 0 for IPv6 */
	__u8	wscale;
	__u8	ttl;		/* IPv4 TTL or IPv6 hop limit */
	__u8	sack_blocks;
	__u8	tfo_len;	/* TFO cookie bytes, 0 = cookie request */
	__u8	mptcp_subtype;
	__u8	n_unknown;	/* kinds kept in unknown[] */
	__u8	unknown[TCPTRACE_MAX_UNKNOWN];
};

enum tcptrace_role {
	TCPTRACE_ROLE_CLIENT	= 1,	/* sent the SYN */
	TCPTRACE_ROLE_SERVER	= 2,	/* received the SYN */
};

enum tcptrace_outcome {
	TCPTRACE_HS_ESTABLISHED	= 1,	/* handshake completed */
	TCPTRACE_HS_RESET	= 2,	/* answered by RST */
	TCPTRACE_HS_FAILED	= 3,	/* client gave up without an RST */
	TCPTRACE_HS_TIMEOUT	= 4,	/* no completion within hs_timeout */
};

/* tcptrace_handshake_rec.agreed: what the kernel settled on */
#define TCPTRACE_AGREED_WSCALE	0x01
#define TCPTRACE_AGREED_TS	0x02
#define TCPTRACE_AGREED_SACK	0x04
#define TCPTRACE_AGREED_ECN	0x08

/*
 * One per connection and end: what the SYN offered, what the SYN-ACK
 * answered and, once ESTABLISHED, what the kernel agreed.  Endpoints are
 * from this end's view (saddr = local).
 */
struct tcptrace_handshake_rec {
	struct tcptrace_hdr hdr;
	__u64	sock_cookie;	/* 0: no socket (e.g. RST to a closed port) */
	__u64	netns_cookie;
	__u32	netns_ino;
	__u16	family;		/* of the packets: AF_INET or AF_INET6 */
	__u8	role;		/* enum tcptrace_role */
	__u8	outcome;	/* enum tcptrace_outcome */
	__u16	sport;
	__u16	dport;
	__u8	agreed;		/* TCPTRACE_AGREED_*, valid if ESTABLISHED */
	__u8	snd_wscale;	/* shift we apply to the peer's window */
	__u8	rcv_wscale;	/* shift the peer applies to ours */
	__u8	pad;
	__u8	saddr[16];	/* IPv4 as the first 4 bytes */
	__u8	daddr[16];
	struct tcptrace_tcpopts syn;
	struct tcptrace_tcpopts synack;
	__u64	done_ns;	/* ESTABLISHED, RST or give-up time */
	__u16	mss;		/* effective MSS (mss_cache) */
	__u16	advmss;		/* MSS this end announced */
	__u16	peer_mss;	/* MSS the peer announced, clamped */
	__u16	syn_retrans;	/* SYNs seen beyond the first */
	__u16	synack_retrans;
	__u8	pad2[6];
	/*
	 * Version 2: the cgroup v2 id of the end's socket (a server end
	 * without one yet: its listener's), as in tcptrace_state_rec; 0:
	 * unknown.  Version 1 records end before it.
	 */
	__u64	cgroup_id;
};

#define TCPTRACE_HANDSHAKE_REC_VERSION	2

enum tcptrace_diag_kind {
	TCPTRACE_DIAG_SYN_UNANSWERED	= 1,	/* server: SYN in, nothing out */
	TCPTRACE_DIAG_NO_SYNACK		= 2,	/* client: gave up in SYN_SENT */
	TCPTRACE_DIAG_RST_OUT		= 3,	/* this host sent an RST */
	TCPTRACE_DIAG_RST_IN		= 4,	/* a socket accepted an RST */
	TCPTRACE_DIAG_SIM_OPEN		= 5,	/* SYN_SENT -> SYN_RECV */
	TCPTRACE_DIAG_SIM_CLOSE		= 6,	/* FIN_WAIT1 -> CLOSING */
	TCPTRACE_DIAG_TIME_WAIT		= 7,	/* entered TIME_WAIT */
	TCPTRACE_DIAG_TIME_WAIT_END	= 8,	/* left TIME_WAIT */
	/* a SYN for a connection of this host: no handshake, an ACK back */
	TCPTRACE_DIAG_SYN_ON_CONN	= 9,
	/*
	 * Segments of an established connection of this host dropped on
	 * their way in (the receiver out of room, a rule, a bad checksum):
	 * how many (count), the first one's reason, from the first to the
	 * last (duration_ns), the interface they came in on (in_ifindex)
	 */
	TCPTRACE_DIAG_DATA_DROPPED	= 10,
	/*
	 * TCP packets this namespace forwards, dropped (too big for the
	 * next hop, with Don't Fragment set: out_ifindex, mtu),
	 * counted as DATA_DROPPED's.  saddr/sport are their source, not a
	 * local end.
	 */
	TCPTRACE_DIAG_FWD_DROPPED	= 11,
};

enum tcptrace_diag_cause {
	TCPTRACE_CAUSE_NONE		= 0,
	TCPTRACE_CAUSE_DROP_REASON	= 1,	/* reason[]: kernel drop reason */
	TCPTRACE_CAUSE_LISTEN_OVERFLOW	= 2,	/* accept queue full */
	TCPTRACE_CAUSE_PAWS		= 3,	/* timestamp (PAWS) check */
	TCPTRACE_CAUSE_UNANSWERED	= 4,	/* no reason known */
	TCPTRACE_CAUSE_NO_SOCKET	= 5,	/* RST: SYN to a closed port */
	TCPTRACE_CAUSE_HALF_OPEN	= 6,	/* RST: one end lost the state */
	TCPTRACE_CAUSE_LINGER		= 7,	/* RST: close() with SO_LINGER 0 */
	TCPTRACE_CAUSE_ABORT		= 8,	/* RST: other aborts */
	TCPTRACE_CAUSE_BAD_SEGMENT	= 9,	/* RST: reply to a bad segment */
	TCPTRACE_CAUSE_EXPIRED		= 10,	/* TIME_WAIT ran out */
	TCPTRACE_CAUSE_REUSED		= 11,	/* TIME_WAIT taken by a new conn */
	TCPTRACE_CAUSE_KILLED		= 12,	/* TIME_WAIT ended early */
	TCPTRACE_CAUSE_REJECT		= 13,	/* RST: made by a firewall rule */
	/* SYN: the tuple's timewait socket took it for an old duplicate */
	TCPTRACE_CAUSE_TW_REFUSED	= 14,
	/* SYN on a connection: RFC 5961 challenge ACK */
	TCPTRACE_CAUSE_CHALLENGE_ACK	= 15,
	/* SYN: the listener's SYN queue full and SYN cookies off */
	TCPTRACE_CAUSE_SYN_QUEUE_FULL	= 16,
};

/* tcptrace_diag_rec.flags */
#define TCPTRACE_DF_MIDDLEBOX	0x01	/* RST in: TTL/hop limit differs */
#define TCPTRACE_DF_IPID	0x02	/* RST in: IPv4 ID out of pattern */
/* RST out: reason[] and reason_code are the kernel's reset reason */
#define TCPTRACE_DF_RST_REASON	0x04
/* RST out: this kernel gives no reset reasons (before 6.10) */
#define TCPTRACE_DF_NO_RST_REASON 0x08
/*
 * SYN_UNANSWERED with no reason found, on a kernel that gives no drop
 * reasons (before 5.17): one may have been dropped for a reason the
 * kernel does not say.
 */
#define TCPTRACE_DF_NO_DROP_REASON 0x10

#define TCPTRACE_REASON_LEN	32

/* One diagnosis: what happened to a connection, in a few fields. */
struct tcptrace_diag_rec {
	struct tcptrace_hdr hdr;
	__u64	sock_cookie;	/* 0 when no socket is involved */
	__u64	netns_cookie;
	__u32	netns_ino;
	__u16	family;
	__u8	kind;		/* enum tcptrace_diag_kind */
	__u8	cause;		/* enum tcptrace_diag_cause */
	__u16	sport;		/* local end */
	__u16	dport;
	__u8	state;		/* socket state then; 0: no socket */
	__u8	flags;		/* TCPTRACE_DF_* */
	__u8	ttl_seen;	/* RST in: its TTL/hop limit */
	__u8	ttl_expected;	/* RST in: the peer's earlier packets' */
	__u8	saddr[16];
	__u8	daddr[16];
	__u64	duration_ns;	/* waited, or time in TIME_WAIT */
	__u32	count;		/* SYN tries, ... */
	__u32	reason_code;	/* the kernel's enum value, for reason[] */
	char	reason[TCPTRACE_REASON_LEN];	/* from the running kernel */
	/* version 2: as in tcptrace_handshake_rec; version 1 ends before it */
	__u64	cgroup_id;
	/*
	 * version 3: for syn_unanswered, the interface the SYN came in on
	 * (its ifindex in the record's namespace; 0: not known); version 2
	 * ends before it
	 */
	__u32	in_ifindex;
	/*
	 * version 4: for fwd_dropped, the interface the route sends the
	 * packets out of and its MTU (0: not known).  Version 3 records end
	 * before mtu: out_ifindex's place was their pad, always 0.
	 */
	__u32	out_ifindex;
	__u32	mtu;
	/*
	 * version 4: for data_dropped and fwd_dropped, how many of count
	 * were dropped for another reason than reason[] (the first drop's)
	 */
	__u32	count_other;
};

#define TCPTRACE_DIAG_REC_VERSION	4

/* A connection's totals, when its socket closes. */
struct tcptrace_conn_rec {
	struct tcptrace_hdr hdr;
	__u64	sock_cookie;
	__u64	netns_cookie;
	__u32	netns_ino;
	__u16	family;
	__u8	old_state;	/* state it closed from */
	__u8	pad;
	__u16	sport;
	__u16	dport;
	__u32	total_retrans;	/* segments retransmitted */
	__u8	saddr[16];
	__u8	daddr[16];
	__u64	bytes_sent;	/* payload, each byte once */
	__u64	bytes_received;	/* payload */
	__u32	segs_out;
	__u32	segs_in;
	/* version 2: as in tcptrace_state_rec; version 1 ends before it */
	__u64	cgroup_id;
};

#define TCPTRACE_CONN_REC_VERSION	2

/* Counters of one CPU, since load or the last TCPTRACE_IOC_RESET. */
struct tcptrace_cpu_stats {
	__u32	cpu;
	__u32	pad;
	__u64	produced;	/* records written to the buffer */
	__u64	lost;		/* records dropped: buffer full */
	/* records consumed by read(), incl. ones a scoped reader skipped */
	__u64	delivered;
	__u64	buffered;	/* records in the buffer now */
	__u64	buffer_bytes;	/* size of this CPU's buffer */
};

struct tcptrace_stats {
	__u32	abi_version;	/* out: TCPTRACE_ABI_VERSION */
	__u32	nr_cpus;	/* in: room in cpus[]; out: CPUs reported */
	__u64	cpus;		/* in: user pointer to tcptrace_cpu_stats[] */
	__u64	produced;	/* out: sums over all CPUs */
	__u64	lost;
	__u64	delivered;
	__u64	buffered;
	__u64	conn_capacity;	/* connection table entries */
	__u64	conn_in_use;
	__u64	conn_evicted;	/* entries pushed out by newer ones */
	__u64	conn_timeouts;	/* handshakes that never completed */
	__u64	malformed;	/* SYN/SYN-ACKs with malformed TCP options */
};

#define TCPTRACE_IOC_MAGIC	0xE7
/* ABI version of the loaded module (__u32). */
#define TCPTRACE_IOC_VERSION	_IOR(TCPTRACE_IOC_MAGIC, 1, __u32)
/* Counters; per-CPU detail when stats.cpus is set. */
#define TCPTRACE_IOC_STATS	_IOWR(TCPTRACE_IOC_MAGIC, 2, struct tcptrace_stats)
/* Start counting produced/lost/delivered from zero again. */
#define TCPTRACE_IOC_RESET	_IO(TCPTRACE_IOC_MAGIC, 3)
/*
 * The record types this reader wants (__u32, bit 1 << type; loss reports
 * always come): the module does not make the others, which costs nothing
 * on the traced path.  Every open() starts with all types.  Unknown bits
 * or no type at all: -EINVAL.  A module without it answers -ENOTTY.
 */
#define TCPTRACE_IOC_SET_TYPES	_IOW(TCPTRACE_IOC_MAGIC, 4, __u32)
#define TCPTRACE_TYPES_ALL	((1u << TCPTRACE_REC_STATE) |		\
				 (1u << TCPTRACE_REC_LOST) |		\
				 (1u << TCPTRACE_REC_HANDSHAKE) |	\
				 (1u << TCPTRACE_REC_DIAG) |		\
				 (1u << TCPTRACE_REC_CONN))

#endif /* _UAPI_LINUX_TCPTRACE_H */

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
 * of that type the record has.
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
};

/* hdr.ctx: where the event was produced. */
enum tcptrace_ctx {
	TCPTRACE_CTX_TASK	= 0,	/* process context: pid/comm are real */
	TCPTRACE_CTX_SOFTIRQ	= 1,	/* softirq: pid/comm are whoever ran */
	TCPTRACE_CTX_HARDIRQ	= 2,
	TCPTRACE_CTX_NMI	= 3,
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

/* tcptrace_state_rec.flags */
#define TCPTRACE_F_V4MAPPED	0x01	/* AF_INET6 socket, v4-mapped peers */
/*
 * LISTEN -> SYN_RECV of a socket that died before its own identity was
 * known: cookie and endpoints are the listener's.
 */
#define TCPTRACE_F_UNRESOLVED	0x02

/* One TCP state transition (tracepoint sock:inet_sock_set_state). */
struct tcptrace_state_rec {
	struct tcptrace_hdr hdr;
	__u64	sock_cookie;	/* stable per-socket id (SO_COOKIE value) */
	__u64	netns_cookie;	/* network namespace cookie */
	__u32	netns_ino;	/* network namespace inode (ip netns ids) */
	__u32	pid;		/* tgid of current; see hdr.ctx */
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
};

#define TCPTRACE_STATE_REC_VERSION	1

/* Records dropped on one CPU not yet reported via hdr.lost_before. */
struct tcptrace_lost_rec {
	struct tcptrace_hdr hdr;
	__u64	count;
};

#define TCPTRACE_LOST_REC_VERSION	1

/* Counters of one CPU, since load or the last TCPTRACE_IOC_RESET. */
struct tcptrace_cpu_stats {
	__u32	cpu;
	__u32	pad;
	__u64	produced;	/* records written to the buffer */
	__u64	lost;		/* records dropped: buffer full */
	__u64	delivered;	/* records handed to read() */
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
};

#define TCPTRACE_IOC_MAGIC	0xE7
/* ABI version of the loaded module (__u32). */
#define TCPTRACE_IOC_VERSION	_IOR(TCPTRACE_IOC_MAGIC, 1, __u32)
/* Counters; per-CPU detail when stats.cpus is set. */
#define TCPTRACE_IOC_STATS	_IOWR(TCPTRACE_IOC_MAGIC, 2, struct tcptrace_stats)
/* Start counting produced/lost/delivered from zero again. */
#define TCPTRACE_IOC_RESET	_IO(TCPTRACE_IOC_MAGIC, 3)

#endif /* _UAPI_LINUX_TCPTRACE_H */

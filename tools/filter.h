/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which connections a run of trace, conns or timewait shows: ports,
 * address, family, network namespace (filter.c); the cgroup filter is
 * cgroup.h's.
 */
#ifndef TCPWHY_FILTER_H
#define TCPWHY_FILTER_H

#include <stdbool.h>
#include <stdint.h>

enum { PORTS_ANY, PORTS_LOCAL, PORTS_REMOTE, PORTS_KINDS };

struct filter {
	bool have_ports[PORTS_KINDS];
	/* bit per port: -P (either end), --lport, --rport */
	uint8_t ports[PORTS_KINDS][65536 / 8];
	int family;		/* 0, 4 or 6 */
	bool have_addr;
	int addr_family;
	unsigned int addr_bits;	/* the prefix length of --addr */
	unsigned char addr[16];
	bool have_netns;
	uint64_t netns;
	/* -p, --comm: sockets a matching task acted on (owner_*()) */
	unsigned int n_pids;
	uint32_t pids[64];
	const char *comm;
	/* --state: transitions into these states */
	uint32_t states;
	/* bit per diagnosis kind, handshake outcome, end of a connection */
	uint32_t diag_kinds, outcomes, conn_ends;
};

/* What the filters look at, for any record with endpoints. */
struct ends {
	int family;		/* AF_INET or AF_INET6 */
	bool v4mapped;
	const uint8_t *saddr, *daddr;
	unsigned int sport, dport;
	uint32_t netns_ino;
	uint64_t netns_cookie;
};

/* The filterable view of any record that has endpoints. */
#define ENDS_OF(r) ((struct ends){					\
	.family = (r)->family,						\
	.saddr = (r)->saddr, .daddr = (r)->daddr,			\
	.sport = (r)->sport, .dport = (r)->dport,			\
	.netns_ino = (r)->netns_ino, .netns_cookie = (r)->netns_cookie,	\
})

/* Does @e pass the filter of this run (opt.f)? */
bool ends_match(const struct ends *e);

/* getopt's codes of the filter options without a short form */
enum {
	FILTER_O_ADDR = 0x200, FILTER_O_NETNS, FILTER_O_LPORT, FILTER_O_RPORT,
	FILTER_O_COMM, FILTER_O_STATE, FILTER_O_OUTCOME, FILTER_O_END,
};

/* --diag=KINDS: the diagnosis kinds to show; dies on an unknown one */
void filter_diag_kinds(const char *arg);

/*
 * Set opt.f from filter option @c (-P, --lport, --rport, -4, -6, --addr,
 * --netns, -p, --comm, --state) and its argument; dies on a bad one.
 * False: @c is no filter option.
 */
bool filter_option(int c, const char *arg);

/* Any port filter at all? */
bool filter_has_ports(void);
/* Is there a filter by task (-p, --comm)? */
static inline bool filter_by_task(const struct filter *f)
{
	return f->n_pids || f->comm;
}

/* Does a task with @pid and @comm (16 bytes at most) pass -p and --comm? */
bool task_match(uint32_t pid, const char *comm);

/*
 * The sockets a task that passes -p and --comm acted on: their records
 * pass from then on, whatever context makes them.  @now: the record's
 * time.
 */
void owner_add(uint64_t cookie, uint64_t now);
bool owner_has(uint64_t cookie);
void owner_closed(uint64_t cookie, uint64_t now);
void owner_reset(void);
/* -p and --comm: did a matching task act on socket @cookie (or none set)? */
bool owner_match(uint64_t cookie);

#endif /* TCPWHY_FILTER_H */

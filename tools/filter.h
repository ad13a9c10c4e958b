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

struct filter {
	int port;		/* -1: any */
	int family;		/* 0, 4 or 6 */
	bool have_addr;
	int addr_family;
	unsigned char addr[16];
	bool have_netns;
	uint64_t netns;
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
enum { FILTER_O_ADDR = 0x200, FILTER_O_NETNS };

/*
 * Set opt.f from filter option @c (-p, -4, -6, --addr, --netns) and its
 * argument; dies on a bad one.  False: @c is no filter option.
 */
bool filter_option(int c, const char *arg);

#endif /* TCPWHY_FILTER_H */

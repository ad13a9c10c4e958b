/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The context of a diagnosis that the reader, not the module, fetches:
 * the current values of the sysctls its explanation names, read in the
 * network namespace the record came from.  Nothing of it runs on the
 * traced path.  Live traces only: the namespaces behind a capture file
 * are another moment's, maybe another host's.
 */
#ifndef TCPTRACE_NSFACTS_H
#define TCPTRACE_NSFACTS_H

#include <stddef.h>
#include <stdint.h>

#define TT_NSFACTS_MAX	8	/* values per diagnosis */

struct tt_nsfact {
	char name[80];		/* net.ipv4.tcp_syncookies */
	char value[48];		/* whitespace runs as one space */
};

/*
 * What else is asked, of a connection of @family between @local and
 * @remote: the route back (ip route get @remote from @local) when @route
 * is set; the name of interface @iif, when set; the queue of the listener
 * on @local port @lport, when set.
 */
struct tt_nsquery {
	int family;		/* AF_INET, AF_INET6; 0: nothing of these */
	int route;
	int iif;		/* an ifindex there; 0: none */
	int oif;		/* another one, named apart; 0: none */
	int lport;		/* a listener's port; 0: none */
	uint8_t local[16];	/* IPv4: the first 4 bytes */
	uint8_t remote[16];
	uint16_t sport, dport;	/* of the route back (ip rule may match) */
};

struct tt_nsfacts {
	int n;
	struct tt_nsfact f[TT_NSFACTS_MAX];
	/*
	 * "dev d0 via 10.0.0.1"; "none (ERROR)" only when the kernel says
	 * there is no route (unreachable, prohibited); "" when not known
	 */
	char route[96];
	char iif_name[16];	/* IF_NAMESIZE; "" */
	char oif_name[16];
	int have_listener;	/* found: its accept queue now, and backlog */
	unsigned int accept_queue, backlog;
};

/*
 * Reads, in the network namespace whose inode is @netns_ino and cookie
 * @netns_cookie, the sysctls @names lists (space-separated dotted names;
 * one component may be "*": every entry there, shown when not "0", and
 * "all" always, read after the plain names; a name "stat:FILE:COLUMN" is
 * the sum over CPUs of that /proc/net/stat/FILE column, one
 * "mib:FILE:SECTION:FIELD" a /proc/net/netstat or snmp counter, named as
 * nstat names it) and what @q asks for.  Where the kernel tells a
 * namespace's cookie (SO_NETNS_COOKIE, 5.14), a namespace that has the
 * inode number but not the cookie (a later one that got the number
 * again) is not read.
 *
 * NULL when the namespace is gone or out of reach (no process or
 * /run/netns name holds it, or no right to enter it) or nothing was
 * read; else valid until the next call.  Results are kept for a second,
 * and at most 32 fresh reads are made a second: past that, only the
 * sysctls read for the namespace in that second, if any.
 */
const struct tt_nsfacts *tt_nsfacts(uint32_t netns_ino, uint64_t netns_cookie,
				    const char *names,
				    const struct tt_nsquery *q);

/*
 * Non-NULL (what failed) once the reader could not return to its own
 * namespace: everything after would look at another; the caller stops.
 */
const char *tt_nsfacts_stuck(void);

#endif /* TCPTRACE_NSFACTS_H */

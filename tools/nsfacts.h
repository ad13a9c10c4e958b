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
	int lport;		/* a listener's port; 0: none */
	uint8_t local[16];	/* IPv4: the first 4 bytes */
	uint8_t remote[16];
};

struct tt_nsfacts {
	int n;
	struct tt_nsfact f[TT_NSFACTS_MAX];
	char route[96];		/* "dev d0 via 10.0.0.1", "none (...)"; "" */
	char iif_name[16];	/* IF_NAMESIZE; "" */
	int have_listener;	/* found: its accept queue now, and backlog */
	unsigned int accept_queue, backlog;
};

/*
 * Reads, in the network namespace whose inode is @netns_ino, the sysctls
 * @names lists (space-separated dotted names; one component may be "*":
 * every entry there, shown when not "0", and "all" always; a name
 * "stat:FILE:COLUMN" is the sum over CPUs of that /proc/net/stat/FILE
 * column) and what @q asks for.  NULL when the namespace is gone or out of
 * reach (no process or /run/netns name holds it, or no right to enter
 * it), nothing was read, or more than 32 fresh reads were asked for in
 * this second; else valid until the next call.  Results are kept for a
 * second: a storm of diagnoses reads them once.
 */
const struct tt_nsfacts *tt_nsfacts(uint32_t netns_ino, const char *names,
				    const struct tt_nsquery *q);

#endif /* TCPTRACE_NSFACTS_H */

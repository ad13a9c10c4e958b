// SPDX-License-Identifier: GPL-2.0
/*
 * The plain-words explanations of the kernel's drop and reset reasons.
 * The names are the kernel's (include/net/dropreason-core.h and
 * include/net/rstreason.h, without their prefixes); they differ between
 * kernels, so a table may hold names a given kernel does not have.
 * Documentation/diagnosing.rst's table is this file's output
 * (tcpwhy explain rst); a CLI test keeps the two equal.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "explain.h"

static const struct tt_explain drops[] = {
	{ "NETFILTER_DROP",
	  "a firewall rule (nftables or iptables) dropped it, or conntrack "
	  "did (a full table, a packet in INVALID state dropped by a rule)",
	  "nft list ruleset or iptables-save -c (the rule whose counter "
	  "rises); net.netfilter.nf_conntrack_count against "
	  "nf_conntrack_max" },
	{ "IP_RPFILTER",
	  "the reverse-path filter: the route back to the sender does not "
	  "leave by the interface the packet came in on (asymmetric routing)",
	  "net.ipv4.conf.all.rp_filter and that interface's (the higher "
	  "applies; 2 is loose mode), and ip route get to the sender" },
	{ "IP_INNOROUTES",
	  "no route for it on the way in",
	  "ip route get DEST from SOURCE iif INTERFACE, and the policy "
	  "rules (ip rule)" },
	{ "IP_OUTNOROUTES",
	  "no route out for it",
	  "ip route get to the peer: a missing default route, or a VRF or "
	  "policy rule that sends it elsewhere" },
	{ "IP_INVALID_SOURCE",
	  "a martian source: the sender's address cannot come from there "
	  "(zero, multicast, loopback, or a broadcast address)",
	  "net.ipv4.conf.all.log_martians=1 logs them; what rewrites or "
	  "spoofs that source on the way" },
	{ "IP_LOCAL_SOURCE",
	  "the sender's address is one of this host's own",
	  "a routing loop, a NAT rule rewriting to a local address, or "
	  "spoofing; net.ipv4.conf.INTERFACE.accept_local" },
	{ "IP_INVALID_DEST",
	  "its destination cannot be delivered to (zero, broadcast, or a "
	  "martian destination)",
	  "the address the client uses, and the NAT in front of this host" },
	{ "IP_LOCALNET",
	  "a 127.0.0.0/8 address arrived on an interface other than "
	  "loopback",
	  "net.ipv4.conf.INTERFACE.route_localnet, and what sends to "
	  "127.0.0.1 from outside" },
	{ "IP_CSUM",
	  "bad IPv4 header checksum",
	  "the NIC or a middlebox corrupting packets (ip -s link: errors)" },
	{ "TCP_CSUM",
	  "bad TCP checksum",
	  "a broken NIC, driver or middlebox on the path; checksum "
	  "offload settings on both ends (ethtool -k: rx/tx-checksumming)" },
	{ "SKB_CSUM",
	  "bad checksum found while copying it",
	  "a broken NIC, driver or middlebox on the path; checksum "
	  "offload settings (ethtool -k)" },
	{ "SOCKET_FILTER",
	  "a socket filter (SO_ATTACH_FILTER, a BPF program on the "
	  "socket) rejected it",
	  "the application's own filter on that socket (ss -0 -p, "
	  "bpftool prog)" },
	{ "XFRM_POLICY",
	  "an IPsec (XFRM) policy rejected it: a block policy, or no "
	  "security association for it",
	  "ip xfrm policy, ip xfrm state, /proc/net/xfrm_stat" },
	{ "SECURITY_HOOK",
	  "a security module (SELinux, AppArmor, Smack) refused it",
	  "the audit log (ausearch -m avc) for the service's label" },
	{ "TCP_LISTEN_OVERFLOW",
	  "the listener's accept queue was full",
	  "the application not calling accept() fast enough, its "
	  "listen() backlog and net.core.somaxconn (ss -lnt: Recv-Q "
	  "against Send-Q)" },
	{ "SOCKET_RCVBUFF",
	  "the socket's receive buffer was full",
	  "the application not reading; net.ipv4.tcp_rmem, SO_RCVBUF" },
	{ "PROTO_MEM",
	  "no memory to queue it: the socket's receive buffer was full "
	  "(TCPRcvQDrop: its application not reading fast enough), or TCP "
	  "as a whole was over its memory limit",
	  "the connection's Recv-Q (ss -tnm), the application's reads, "
	  "net.ipv4.tcp_rmem or its SO_RCVBUF; /proc/net/sockstat (TCP "
	  "mem) against net.ipv4.tcp_mem" },
	{ "TCP_ZEROWINDOW",
	  "the receiver's window was zero (its receive buffer full, the "
	  "application not reading) and the peer sent data anyway",
	  "the application's reads (ss -tnm: Recv-Q), net.ipv4.tcp_rmem "
	  "or its SO_RCVBUF; a peer ignoring the window" },
	{ "TCP_OFO_QUEUE_PRUNE",
	  "out-of-order data thrown away to make room: the receive buffer "
	  "was full while waiting for lost segments",
	  "loss on the path (retransmissions), the application's reads, "
	  "net.ipv4.tcp_rmem" },
	{ "SOCKET_BACKLOG",
	  "the socket's backlog (packets queued while the application "
	  "holds the socket) overflowed",
	  "an application holding its socket busy; its receive buffer "
	  "(net.ipv4.tcp_rmem)" },
	{ "PKT_TOO_BIG",
	  "too big for the path's MTU, with Don't Fragment set",
	  "the MTU along the path (tracepath, ip route get), tunnels, "
	  "ICMP 'fragmentation needed' being filtered; clamp the MSS" },
	{ "NO_SOCKET",
	  "no socket for it: nothing listens on that port, or the "
	  "connection is already gone",
	  "ss -lnt for the port; the service's state" },
	{ "TCP_INVALID_SYN",
	  "a SYN the connection's state does not allow",
	  "both ends' idea of the connection; a client reusing a port" },
	{ "TCP_FLAGS",
	  "TCP flags the socket's state does not accept",
	  "a middlebox rewriting flags, or a client bug" },
	{ "TCP_RFC7323_PAWS",
	  "PAWS: its TCP timestamp is older than the connection's last",
	  "clients behind one NAT with different clocks; "
	  "net.ipv4.tcp_timestamps" },
	{ "TCP_RFC7323_TW_PAWS",
	  "PAWS against a TIME_WAIT socket: its timestamp is older than "
	  "that connection's last",
	  "clients behind one NAT reusing ports; net.ipv4.tcp_timestamps" },
	{ "TCP_MD5NOTFOUND",
	  "no TCP-MD5 signature where the socket expects one",
	  "the MD5 keys of both ends (BGP peers' configuration)" },
	{ "TCP_MD5UNEXPECTED",
	  "a TCP-MD5 signature the socket does not expect",
	  "the MD5 keys of both ends (BGP peers' configuration)" },
	{ "TCP_MD5FAILURE",
	  "a wrong TCP-MD5 signature",
	  "the MD5 keys of both ends (BGP peers' configuration)" },
	{ "TCP_AONOTFOUND",
	  "no TCP-AO option where the socket expects one",
	  "the TCP-AO keys of both ends" },
	{ "TCP_AOUNEXPECTED",
	  "a TCP-AO option the socket does not expect",
	  "the TCP-AO keys of both ends" },
	{ "TCP_AOKEYNOTFOUND",
	  "a TCP-AO key id the socket does not have",
	  "the TCP-AO keys of both ends" },
	{ "TCP_AOFAILURE",
	  "a wrong TCP-AO MAC",
	  "the TCP-AO keys of both ends" },
	{ "TCP_MINTTL",
	  "its TTL is below the socket's minimum (IP_MINTTL, GTSM)",
	  "the hop count to the peer and the socket's IP_MINTTL" },
	{ "OTHERHOST",
	  "not addressed to this host's link-layer address",
	  "the interface's MAC address, bridges, promiscuous mode" },
	{ "CPU_BACKLOG",
	  "the per-CPU input queue was full",
	  "net.core.netdev_max_backlog, softnet_stat's drops, RPS" },
	{ "QDISC_DROP",
	  "a traffic-control queue dropped it",
	  "tc -s qdisc show (drops, overlimits)" },
	{ "TC_INGRESS",
	  "a tc filter on the way in dropped it",
	  "tc filter show dev INTERFACE ingress" },
	{ "TC_EGRESS",
	  "a tc filter on the way out dropped it",
	  "tc filter show dev INTERFACE egress" },
	{ "XDP",
	  "an XDP program dropped it",
	  "ip link show (xdp), bpftool net" },
	{ "BPF_CGROUP_EGRESS",
	  "a cgroup BPF program dropped it on its way out",
	  "bpftool cgroup tree" },
	{ "NEIGH_FAILED",
	  "the next hop's link-layer address could not be resolved "
	  "(ARP or neighbour discovery failed)",
	  "ip neigh show; the next hop's reachability" },
	{ "NEIGH_QUEUEFULL",
	  "too many packets waiting for the next hop's address",
	  "ip neigh show; net.ipv4.neigh.default.unres_qlen_bytes" },
	{ "IPV6DISABLED",
	  "IPv6 is disabled on the interface",
	  "net.ipv6.conf.INTERFACE.disable_ipv6" },
	{ "NOMEM",
	  "the kernel could not allocate memory for it",
	  "free memory and the kernel log" },
	{ "NOT_SPECIFIED",
	  "the kernel gave no specific reason",
	  "nstat -az (TcpExt and IpExt counters that moved)" },
};

static const struct tt_explain resets[] = {
	{ "NO_SOCKET",
	  "nothing listens on that port, or the connection is gone",
	  "ss -lnt for the port; the service's state" },
	{ "NOT_SPECIFIED",
	  "the kernel gave no specific reason",
	  "nstat -az (TcpExt counters that moved)" },
	{ "TCP_INVALID_ACK_SEQUENCE",
	  "the peer acknowledged data never sent on this connection",
	  "a half-open connection, or a middlebox rewriting sequence "
	  "numbers" },
	{ "TCP_RFC7323_PAWS",
	  "PAWS rejected the peer's segment (an older timestamp)",
	  "clients behind one NAT; net.ipv4.tcp_timestamps" },
	{ "TCP_TOO_OLD_ACK",
	  "the peer acknowledged data older than anything outstanding",
	  "a half-open connection or a replayed segment" },
	{ "TCP_ACK_UNSENT_DATA",
	  "the peer acknowledged data not yet sent",
	  "a half-open connection or a middlebox" },
	{ "TCP_FLAGS",
	  "TCP flags the socket's state does not accept",
	  "a middlebox rewriting flags, or a client bug" },
	{ "TCP_OLD_ACK",
	  "an ACK for an old connection on this tuple",
	  "a client reusing ports quickly" },
	{ "TCP_ABORT_ON_DATA",
	  "data arrived after the application closed its socket",
	  "the application closing before reading everything" },
	{ "TCP_TIMEWAIT_SOCKET",
	  "a segment for a connection in TIME_WAIT that TIME_WAIT "
	  "rejects",
	  "clients reusing ports faster than TIME_WAIT ends" },
	{ "INVALID_SYN",
	  "a SYN the socket's state does not allow",
	  "a client reusing a port of a live connection" },
	{ "TCP_ABORT_ON_CLOSE",
	  "the application closed with unread data",
	  "the application's protocol: read everything before close()" },
	{ "TCP_ABORT_ON_LINGER",
	  "close() with SO_LINGER {1, 0}",
	  "the application's SO_LINGER use" },
	{ "TCP_ABORT_ON_MEMORY",
	  "TCP ran out of memory for the socket",
	  "/proc/net/sockstat against net.ipv4.tcp_mem; orphan sockets "
	  "(net.ipv4.tcp_max_orphans)" },
	{ "TCP_STATE",
	  "an abortive close: the socket was closed or reset in a state "
	  "that calls for an RST (SO_LINGER {1, 0}, connect(AF_UNSPEC), "
	  "ss -K)",
	  "what closed it: the application's close() and SO_LINGER, or "
	  "operations (ss -K)" },
	{ "TCP_KEEPALIVE_TIMEOUT",
	  "keepalive probes went unanswered: the peer is gone",
	  "the path to the peer, NAT and firewall idle timeouts" },
	{ "TCP_DISCONNECT_WITH_DATA",
	  "the application disconnected with data still unsent or unread",
	  "the application's close or disconnect path" },
	{ "ERROR",
	  "an error on the connection",
	  "the application's socket errors and the kernel log" },
};

/*
 * Drop reasons whose check is a sysctl's value: the reader shows it
 * (nsfacts.h; "stat:FILE:COLUMN" is a /proc/net/stat counter,
 * "mib:FILE:SECTION:FIELD" one of /proc/net/netstat or snmp).
 */
static const struct {
	const char *name;
	const char *facts;
} drop_facts[] = {
	{ "NETFILTER_DROP",
	  "net.netfilter.nf_conntrack_count net.netfilter.nf_conntrack_max "
	  "stat:nf_conntrack:invalid" },
	{ "IP_RPFILTER",
	  "mib:netstat:TcpExt:IPReversePathFilter net.ipv4.conf.*.rp_filter" },
	{ "IP_LOCAL_SOURCE", "net.ipv4.conf.*.accept_local" },
	{ "IP_LOCALNET", "net.ipv4.conf.*.route_localnet" },
	{ "TCP_LISTEN_OVERFLOW",
	  "net.core.somaxconn mib:netstat:TcpExt:ListenOverflows" },
	{ "TCP_CSUM", "mib:snmp:Tcp:InCsumErrors" },
	{ "SOCKET_RCVBUFF", "net.ipv4.tcp_rmem" },
	{ "PROTO_MEM",
	  "net.ipv4.tcp_rmem net.ipv4.tcp_mem mib:netstat:TcpExt:TCPRcvQDrop" },
	{ "TCP_ZEROWINDOW",
	  "net.ipv4.tcp_rmem mib:netstat:TcpExt:TCPZeroWindowDrop" },
	{ "TCP_OFO_QUEUE_PRUNE", "net.ipv4.tcp_rmem mib:netstat:TcpExt:OfoPruned" },
	{ "PKT_TOO_BIG", "mib:snmp:Ip:FragFails" },
	{ "TCP_RFC7323_PAWS", "net.ipv4.tcp_timestamps" },
	{ "IPV6DISABLED", "net.ipv6.conf.*.disable_ipv6" },
};

static const struct tt_explain *find(const struct tt_explain *t, size_t n,
				     const char *name, size_t len)
{
	size_t i, l = strnlen(name, len);

	for (i = 0; i < n; i++)
		if (strlen(t[i].name) == l && !memcmp(t[i].name, name, l))
			return &t[i];
	return NULL;
}

const struct tt_explain *tt_explain_drop(const char *name, size_t len)
{
	return find(drops, ARRAY_SIZE(drops), name, len);
}

const struct tt_explain *tt_explain_reset(const char *name, size_t len)
{
	return find(resets, ARRAY_SIZE(resets), name, len);
}

/* "a b" as "``a``, ``b``" */
static void facts_rst(FILE *f, const char *facts)
{
	const char *p = facts, *end;

	char file[32], col[32], sec[16];

	while (p && *p) {
		end = strchrnul(p, ' ');
		fputs(p == facts ? " " : ", ", f);
		if (sscanf(p, "stat:%31[a-z_]:%31[a-z_]", file, col) == 2)
			fprintf(f, "``%s`` in ``/proc/net/stat/%s``", col, file);
		else if (sscanf(p, "mib:%31[a-z6]:%15[A-Za-z6]:%31[A-Za-z0-9]",
				file, sec, col) == 3)
			fprintf(f, "``%s%s`` (nstat)", sec, col);
		else
			fprintf(f, "``%.*s``", (int)(end - p), p);
		p = *end ? end + 1 : end;
	}
}

const char *tt_explain_drop_facts(const char *name, size_t len)
{
	size_t i, l = strnlen(name, len);

	for (i = 0; i < ARRAY_SIZE(drop_facts); i++)
		if (strlen(drop_facts[i].name) == l &&
		    !memcmp(drop_facts[i].name, name, l))
			return drop_facts[i].facts;
	return NULL;
}

static void rst_table(FILE *f, const char *title,
		      const struct tt_explain *t, size_t n, bool drops)
{
	size_t i;

	fprintf(f, ".. list-table:: %s\n   :header-rows: 1\n\n", title);
	fprintf(f, "   * - Reason\n     - Meaning\n     - What to check\n%s",
		drops ? "     - Values shown (live, in its namespace)\n" : "");
	for (i = 0; i < n; i++) {
		fprintf(f, "   * - ``%s``\n     - %s\n     - %s\n",
			t[i].name, t[i].meaning, t[i].check);
		if (!drops)
			continue;
		fputs("     -", f);
		facts_rst(f, tt_explain_drop_facts(t[i].name,
						   strlen(t[i].name)));
		fputc('\n', f);
	}
	fputc('\n', f);
}

void tt_explain_rst(FILE *f)
{
	rst_table(f, "Kernel drop reasons", drops, ARRAY_SIZE(drops), true);
	rst_table(f, "Kernel reset reasons (6.10 and later)", resets,
		  ARRAY_SIZE(resets), false);
}

/*
 * tcpwhy explain NAME...: what the kernel's drop and reset reasons mean
 * and what to check; "rst" prints the tables of
 * Documentation/diagnosing.rst.
 */
int explain_main(int argc, char **argv)
{
	const struct tt_explain *d, *r;
	int i, rc = EX_OK;

	if (argc == 2 && (!strcmp(argv[1], "-h") ||
			  !strcmp(argv[1], "--help"))) {
		puts("usage: tcpwhy explain NAME...   what a drop or reset "
		     "reason means, what to check\n"
		     "       tcpwhy explain rst       both tables, as "
		     "Documentation/diagnosing.rst has them\n"
		     "\n"
		     "example: tcpwhy explain NETFILTER_DROP TCP_ABORT_ON_DATA");
		return EX_OK;
	}
	if (argc == 2 && !strcmp(argv[1], "rst")) {
		tt_explain_rst(stdout);
		return EX_OK;
	}
	for (i = 1; i < argc; i++) {
		d = tt_explain_drop(argv[i], strlen(argv[i]));
		r = tt_explain_reset(argv[i], strlen(argv[i]));
		if (d)
			printf("%s (drop reason): %s. Check: %s\n", d->name,
			       d->meaning, d->check);
		if (r)
			printf("%s (reset reason): %s. Check: %s\n", r->name,
			       r->meaning, r->check);
		if (!d && !r) {
			fprintf(stderr, "tcpwhy: no explanation of '%s' "
				"(names as in tcpwhy's output, e.g. "
				"IP_RPFILTER)\n", argv[i]);
			rc = EX_DATA;
		}
	}
	if (argc < 2) {
		fprintf(stderr, "usage: tcpwhy explain NAME... | "
			"tcpwhy explain rst\n");
		rc = EX_USAGE;
	}
	return rc;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * tcpwhy timewait (also `tcpwhy conns --state time-wait`): the TIME_WAIT
 * sockets of this network namespace right now, with the time each has
 * left, from the kernel's sock_diag interface (what ss uses).  Explains
 * "Address already in use".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "record.h"
#include "cli.h"
#include "output.h"

static int tw_dump(int nl, int family)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} q = {
		.nlh = {
			.nlmsg_len = sizeof(q),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		},
		.req = {
			.sdiag_family = family,
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_states = 1 << 6,		/* TCP_TIME_WAIT */
		},
	};
	static char buf[32768];
	int n = 0;

	if (send(nl, &q, sizeof(q), 0) < 0)
		die(EX_RUNTIME, "sock_diag: %s", strerror(errno));
	for (;;) {
		ssize_t len = recv(nl, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (len < 0)
			die(EX_RUNTIME, "sock_diag: %s", strerror(errno));
		for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			struct inet_diag_msg *m = NLMSG_DATA(h);
			uint8_t sa[16] = {}, da[16] = {};
			char src[64], dst[64];
			struct ends e = {
				.family = family, .saddr = sa, .daddr = da,
			};

			if (h->nlmsg_type == NLMSG_DONE)
				return n;
			if (h->nlmsg_type == NLMSG_ERROR)
				die(EX_RUNTIME, "sock_diag: error reply");
			memcpy(sa, m->id.idiag_src, family == AF_INET ? 4 : 16);
			memcpy(da, m->id.idiag_dst, family == AF_INET ? 4 : 16);
			e.sport = ntohs(m->id.idiag_sport);
			e.dport = ntohs(m->id.idiag_dport);
			if (!ends_match(&e))
				continue;
			fmt_addr(family, sa, src, sizeof(src));
			fmt_addr(family, da, dst, sizeof(dst));
			if (opt.json)
				printf("{\"type\":\"time_wait\",\"schema\":%d,"
				       "\"family\":%d,"
				       "\"saddr\":\"%s\",\"sport\":%u,"
				       "\"daddr\":\"%s\",\"dport\":%u,"
				       "\"remaining_ms\":%u}\n",
				       TCPWHY_SCHEMA,
				       family == AF_INET ? 4 : 6, src, e.sport,
				       dst, e.dport, m->idiag_expires);
			else
				printf("TIME_WAIT %s%s%s:%u > %s%s%s:%u  %.1fs "
				       "left: port %u on %s is busy until then\n",
				       family == AF_INET ? "" : "[", src,
				       family == AF_INET ? "" : "]", e.sport,
				       family == AF_INET ? "" : "[", dst,
				       family == AF_INET ? "" : "]", e.dport,
				       m->idiag_expires / 1000.0, e.sport, src);
			n++;
		}
	}
}

int tt_timewait(void)
{
	int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	int n;

	if (nl < 0)
		die(EX_RUNTIME, "sock_diag socket: %s", strerror(errno));
	n = tw_dump(nl, AF_INET) + tw_dump(nl, AF_INET6);
	close(nl);
	if (!n && !opt.json)
		printf("no TIME_WAIT sockets%s in this network namespace\n",
		       filter_has_ports() || opt.f.have_addr ? " match" : "");
	return EX_OK;
}

static const char timewait_usage[] =
	"usage: tcpwhy timewait [-j] [-4|-6] [-P PORTS] [--addr ADDR[/BITS]]\n"
	"The TIME_WAIT sockets of this network namespace now, with the time\n"
	"each has left: why a bind() or connect() gets \"Address already in\n"
	"use\".\n"
	"\n"
	"  -j, --json            JSON lines\n"
	"  -P, --port PORTS      only sockets with one of PORTS at either end:\n"
	"                        80,443 or 8000-8080 or https\n"
	"      --lport PORTS     only sockets with one of PORTS at this end\n"
	"      --rport PORTS     only sockets with one of PORTS at the other\n"
	"      --addr ADDR[/BITS]  only sockets with ADDR (or in the prefix)\n"
	"                        at either end\n"
	"  -4, -6                only IPv4 / only IPv6\n"
	"  -h, --help            this text\n"
	"\n"
	"example: tcpwhy timewait -P 8080\n";

int timewait_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "port", required_argument, NULL, 'P' },
		{ "lport", required_argument, NULL, FILTER_O_LPORT },
		{ "rport", required_argument, NULL, FILTER_O_RPORT },
		{ "addr", required_argument, NULL, FILTER_O_ADDR },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "jP:46h", lo, NULL)) != -1) {
		if (filter_option(c, optarg))
			continue;
		switch (c) {
		case 'j':
			opt.json = true;
			break;
		case 'h':
			fputs(timewait_usage, stdout);
			return EX_OK;
		default:
			tt_usage_error("timewait");
		}
	}
	if (optind < argc)
		die(EX_USAGE, "timewait: unexpected argument '%s' (see tcpwhy "
		    "timewait --help)", argv[optind]);
	return tt_timewait();
}

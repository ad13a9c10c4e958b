// SPDX-License-Identifier: GPL-2.0
/*
 * The filters of a run: port, family, address and network namespace
 * (filter.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "filter.h"

static bool addr_match(const struct ends *e, const uint8_t *a)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (opt.f.addr_family == AF_INET) {
		if (e->family == AF_INET)
			return !memcmp(a, opt.f.addr, 4);
		return !memcmp(a, mapped, 12) && !memcmp(a + 12, opt.f.addr, 4);
	}
	return e->family == AF_INET6 && !memcmp(a, opt.f.addr, 16);
}

bool ends_match(const struct ends *e)
{
	const struct filter *f = &opt.f;
	bool v4 = e->family == AF_INET || e->v4mapped;

	if (f->port >= 0 && e->sport != (unsigned int)f->port &&
	    e->dport != (unsigned int)f->port)
		return false;
	if ((f->family == 4 && !v4) || (f->family == 6 && v4))
		return false;
	if (f->have_addr && !addr_match(e, e->saddr) &&
	    !addr_match(e, e->daddr))
		return false;
	if (f->have_netns && e->netns_ino != f->netns &&
	    e->netns_cookie != f->netns)
		return false;
	return true;
}

static void filter_set_addr(const char *arg)
{
	if (inet_pton(AF_INET, arg, opt.f.addr) == 1)
		opt.f.addr_family = AF_INET;
	else if (inet_pton(AF_INET6, arg, opt.f.addr) == 1)
		opt.f.addr_family = AF_INET6;
	else
		die(EX_USAGE, "bad address '%s'", arg);
	opt.f.have_addr = true;
}

static void filter_set_netns(const char *arg)
{
	char *end;

	errno = 0;
	opt.f.netns = strtoull(arg, &end, 0);
	if (errno || *end || end == arg)
		die(EX_USAGE, "bad netns '%s' (inode or cookie)", arg);
	opt.f.have_netns = true;
}

bool filter_option(int c, const char *arg)
{
	switch (c) {
	case 'p':
		opt.f.port = tt_parse_num(arg, "port", 0, 65535);
		return true;
	case '4':
		opt.f.family = 4;
		return true;
	case '6':
		opt.f.family = 6;
		return true;
	case FILTER_O_ADDR:
		filter_set_addr(arg);
		return true;
	case FILTER_O_NETNS:
		filter_set_netns(arg);
		return true;
	}
	return false;
}

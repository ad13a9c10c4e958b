// SPDX-License-Identifier: GPL-2.0
/*
 * The filters of a run: ports, family, address and prefix, network
 * namespace, task and state (filter.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <stdio.h>
#include <sys/socket.h>

#include "record.h"
#include "cli.h"
#include "filter.h"

/* Do the first @bits bits of @a and @b agree? */
static bool prefix_match(const uint8_t *a, const uint8_t *b,
			 unsigned int bits)
{
	unsigned int n = bits / 8;

	if (memcmp(a, b, n))
		return false;
	return !(bits % 8) || !((a[n] ^ b[n]) & (0xff00 >> (bits % 8)));
}

static bool addr_match(const struct ends *e, const uint8_t *a)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	const struct filter *f = &opt.f;

	if (f->addr_family == AF_INET) {
		if (e->family == AF_INET)
			return prefix_match(a, f->addr, f->addr_bits);
		return !memcmp(a, mapped, 12) &&
		       prefix_match(a + 12, f->addr, f->addr_bits);
	}
	return e->family == AF_INET6 && prefix_match(a, f->addr, f->addr_bits);
}

static bool port_in(unsigned int kind, unsigned int port)
{
	return port < 65536 && opt.f.ports[kind][port / 8] & (1u << (port % 8));
}

bool ends_match(const struct ends *e)
{
	const struct filter *f = &opt.f;
	bool v4 = e->family == AF_INET || e->v4mapped;

	if (f->have_ports[PORTS_ANY] && !port_in(PORTS_ANY, e->sport) &&
	    !port_in(PORTS_ANY, e->dport))
		return false;
	if (f->have_ports[PORTS_LOCAL] && !port_in(PORTS_LOCAL, e->sport))
		return false;
	if (f->have_ports[PORTS_REMOTE] && !port_in(PORTS_REMOTE, e->dport))
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

bool filter_has_ports(void)
{
	const struct filter *f = &opt.f;

	return f->have_ports[PORTS_ANY] || f->have_ports[PORTS_LOCAL] ||
	       f->have_ports[PORTS_REMOTE];
}

/* A port: a number or a service name of /etc/services ("https"). */
static unsigned int parse_port(const char *s, size_t len)
{
	char name[64];
	struct servent *se;
	char *end;
	long v;

	if (!len || len >= sizeof(name))
		die(EX_USAGE, "bad port '%.*s'", (int)len, s);
	memcpy(name, s, len);
	name[len] = '\0';
	errno = 0;
	v = strtol(name, &end, 10);
	if (!errno && !*end && v >= 0 && v <= 65535)
		return v;
	se = getservbyname(name, "tcp");
	if (*end && se)
		return ntohs(se->s_port);
	die(EX_USAGE, "bad port '%s' (0..65535 or a service name, as in "
	    "/etc/services)", name);
}

/* PORT[-PORT][,...] into the ports of @kind */
static void add_ports(unsigned int kind, const char *arg)
{
	const char *s = arg;

	do {
		size_t len = strcspn(s, ",");
		const char *dash = memchr(s, '-', len);
		unsigned int lo, hi, p;
		char name[64];

		/* a service name may hold a dash: http-alt */
		if (dash && len < sizeof(name)) {
			memcpy(name, s, len);
			name[len] = '\0';
			if (getservbyname(name, "tcp"))
				dash = NULL;
		}
		lo = parse_port(s, dash ? (size_t)(dash - s) : len);
		hi = dash ? parse_port(dash + 1, len - (dash + 1 - s)) : lo;
		if (hi < lo)
			die(EX_USAGE, "bad port range '%.*s'", (int)len, s);
		for (p = lo; p <= hi; p++)
			opt.f.ports[kind][p / 8] |= 1u << (p % 8);
		s += len;
	} while (*s++ == ',');
	opt.f.have_ports[kind] = true;
}

/* ADDR or ADDR/BITS, v4 or v6 */
static void filter_set_addr(const char *arg)
{
	char a[INET6_ADDRSTRLEN];
	const char *slash = strchr(arg, '/');
	size_t len = slash ? (size_t)(slash - arg) : strlen(arg);
	unsigned int max;

	if (len >= sizeof(a))
		die(EX_USAGE, "bad address '%s'", arg);
	memcpy(a, arg, len);
	a[len] = '\0';
	if (inet_pton(AF_INET, a, opt.f.addr) == 1)
		opt.f.addr_family = AF_INET;
	else if (inet_pton(AF_INET6, a, opt.f.addr) == 1)
		opt.f.addr_family = AF_INET6;
	else
		die(EX_USAGE, "bad address '%s'", arg);
	max = opt.f.addr_family == AF_INET ? 32 : 128;
	opt.f.addr_bits = slash ? tt_parse_num(slash + 1, "prefix length", 0,
					       max) : max;
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

/* PID[,PID...] */
static void add_pids(const char *arg)
{
	const char *s = arg;
	char num[16];

	do {
		size_t len = strcspn(s, ",");

		if (opt.f.n_pids == ARRAY_SIZE(opt.f.pids))
			die(EX_USAGE, "-p: at most %zu PIDs",
			    ARRAY_SIZE(opt.f.pids));
		if (!len || len >= sizeof(num))
			die(EX_USAGE, "bad PID '%s'", arg);
		memcpy(num, s, len);
		num[len] = '\0';
		/* decimal, as ps and /proc write them: 010 is ten */
		while (num[0] == '0' && num[1])
			memmove(num, num + 1, strlen(num));
		if (num[strspn(num, "0123456789")])
			die(EX_USAGE, "bad PID '%.*s'", (int)len, s);
		opt.f.pids[opt.f.n_pids++] = tt_parse_num(num, "PID", 1,
							  INT32_MAX);
		s += len;
	} while (*s++ == ',');
}

/* STATE[,STATE...], names as the records print them */
static void add_states(const char *arg)
{
	const char *s = arg;
	char name[32];
	int st;

	do {
		size_t len = strcspn(s, ",");

		if (len >= sizeof(name))
			len = sizeof(name) - 1;
		memcpy(name, s, len);
		name[len] = '\0';
		st = tt_state_parse(name);
		if (st < 0)
			die(EX_USAGE, "bad state '%s' (e.g. established, "
			    "syn-sent, time-wait)", name);
		opt.f.states |= 1u << st;
		s += strcspn(s, ",");
	} while (*s++ == ',');
}

/* NAME[,NAME...] of @name(@lo..@hi) into a bit mask */
static uint32_t parse_names(const char *arg, const char *what,
			    const char *(*name)(unsigned int), unsigned int lo,
			    unsigned int hi)
{
	const char *s = arg;
	uint32_t mask = 0;
	unsigned int i;

	do {
		size_t len = strcspn(s, ",");

		for (i = lo; i <= hi; i++) {
			const char *n = name(i);

			if (n && strlen(n) == len && !strncmp(s, n, len))
				break;
		}
		if (i > hi) {
			fprintf(stderr, "tcpwhy: bad %s '%.*s'; one of:", what,
				(int)len, s);
			for (i = lo; i <= hi; i++)
				fprintf(stderr, " %s", name(i));
			fputc('\n', stderr);
			exit(EX_USAGE);
		}
		mask |= 1u << i;
		s += len;
	} while (*s++ == ',');
	return mask;
}

void filter_diag_kinds(const char *arg)
{
	opt.f.diag_kinds |= parse_names(arg, "diagnosis", diag_name,
					TCPTRACE_DIAG_SYN_UNANSWERED,
					TCPTRACE_DIAG_FWD_DROPPED);
}

bool filter_option(int c, const char *arg)
{
	switch (c) {
	case 'P':
		add_ports(PORTS_ANY, arg);
		return true;
	case FILTER_O_LPORT:
		add_ports(PORTS_LOCAL, arg);
		return true;
	case FILTER_O_RPORT:
		add_ports(PORTS_REMOTE, arg);
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
	case 'p':
		add_pids(arg);
		return true;
	case FILTER_O_COMM:
		if (!*arg || strlen(arg) > 15)
			die(EX_USAGE, "bad --comm '%s' (a task name is 1 to "
			    "15 characters)", arg);
		opt.f.comm = arg;
		return true;
	case FILTER_O_STATE:
		add_states(arg);
		return true;
	case FILTER_O_OUTCOME:
		opt.f.outcomes |= parse_names(arg, "outcome", outcome_name,
					      TCPTRACE_HS_ESTABLISHED,
					      TCPTRACE_HS_TIMEOUT);
		return true;
	case FILTER_O_END:
		opt.f.conn_ends |= parse_names(arg, "end", conn_end_name, 0,
					       6);
		return true;
	}
	return false;
}

bool task_match(uint32_t pid, const char *comm)
{
	const struct filter *f = &opt.f;
	unsigned int i;

	if (f->comm && strncmp(comm, f->comm, 16))
		return false;
	if (!f->n_pids)
		return true;
	for (i = 0; i < f->n_pids; i++)
		if (f->pids[i] == pid)
			return true;
	return false;
}

/* --- the sockets of matching tasks ----------------------------------- */

/*
 * Kept until 2 s (record clock) after the socket closed: the records of
 * an abort (its RST) come after the close's.
 */
#define OWNER_BITS	12
#define OWNER_LINGER_NS	2000000000ull
#define OWNER_SWEEP	1024

struct owner {
	uint64_t cookie;
	uint64_t closed_ns;	/* 0: open */
	struct owner *next;
};

static struct owner *owners[1 << OWNER_BITS];
static unsigned int owner_adds;

static struct owner **owner_slot(uint64_t cookie)
{
	struct owner **p = &owners[(cookie * 0x9E3779B97F4A7C15ull) >>
				   (64 - OWNER_BITS)];

	while (*p && (*p)->cookie != cookie)
		p = &(*p)->next;
	return p;
}

/* Forget the sockets closed long enough before @now. */
static void owner_sweep(uint64_t now)
{
	struct owner **p, *o;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(owners); i++) {
		for (p = &owners[i]; (o = *p);) {
			if (o->closed_ns && now > o->closed_ns + OWNER_LINGER_NS) {
				*p = o->next;
				free(o);
			} else {
				p = &o->next;
			}
		}
	}
}

void owner_add(uint64_t cookie, uint64_t now)
{
	struct owner **p = owner_slot(cookie);

	if (*p || !cookie)
		return;
	if (++owner_adds % OWNER_SWEEP == 0) {
		owner_sweep(now);
		p = owner_slot(cookie);
	}
	*p = calloc(1, sizeof(**p));
	if (!*p)
		die(EX_RUNTIME, "out of memory");
	(*p)->cookie = cookie;
}

bool owner_has(uint64_t cookie)
{
	return cookie && *owner_slot(cookie);
}

void owner_closed(uint64_t cookie, uint64_t now)
{
	struct owner *o = *owner_slot(cookie);

	if (o && !o->closed_ns)
		o->closed_ns = now ? now : 1;
}

bool owner_match(uint64_t cookie)
{
	return !filter_by_task(&opt.f) || owner_has(cookie);
}

void owner_reset(void)
{
	unsigned int i;
	struct owner *o;

	for (i = 0; i < ARRAY_SIZE(owners); i++) {
		while ((o = owners[i])) {
			owners[i] = o->next;
			free(o);
		}
	}
	owner_adds = 0;
}

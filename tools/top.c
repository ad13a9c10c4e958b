// SPDX-License-Identifier: GPL-2.0
/*
 * tcpwhy top: a live table, redrawn in place: resets by direction, cause
 * and peer; unanswered SYNs by port and reason; handshake latency p50
 * and p99 by service port; TIME_WAIT sockets; lost records.  Counted
 * since the start; -r FILE prints the table of a capture once.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "record.h"
#include "cli.h"
#include "output.h"

#define TOP_ROWS	64	/* kept per table; the busiest are shown */
#define TOP_SHOWN	10
#define TOP_SAMPLES	4096	/* handshake latencies kept per port */

struct row {
	char key[96];		/* what the row counts, as shown */
	uint64_t count;
};

static struct row resets[TOP_ROWS], syns[TOP_ROWS];
static uint64_t resets_other, syns_other;

struct latency {
	unsigned int port, role;
	uint64_t count;
	uint32_t n;		/* samples kept, the latest TOP_SAMPLES */
	uint64_t us[TOP_SAMPLES];
};

static struct latency lat[TOP_ROWS];
static uint64_t tw_entered, tw_ended, lost, records;

/* Count one more of @key in @t (its overflow in @other). */
static void count(struct row *t, uint64_t *other, const char *key)
{
	unsigned int i;

	for (i = 0; i < TOP_ROWS && t[i].count; i++) {
		if (!strcmp(t[i].key, key)) {
			t[i].count++;
			return;
		}
	}
	if (i == TOP_ROWS) {
		(*other)++;
		return;
	}
	snprintf(t[i].key, sizeof(t[i].key), "%s", key);
	t[i].count = 1;
}

/* A diagnosis's reason, or its cause when it names none */
static const char *why(const struct tcptrace_diag_rec *d, char *buf,
		       size_t len)
{
	if (d->reason[0]) {
		snprintf(buf, len, "%.*s", (int)strnlen(d->reason,
							sizeof(d->reason)),
			 d->reason);
		return buf;
	}
	return cause_name(d->cause);
}

static void top_diag(const struct tcptrace_diag_rec *d)
{
	char key[96], peer[64], reason[40];

	switch (d->kind) {
	case TCPTRACE_DIAG_RST_IN:
	case TCPTRACE_DIAG_RST_OUT:
		fmt_addr(d->family, d->daddr, peer, sizeof(peer));
		snprintf(key, sizeof(key), "%-4s %-20.20s %s",
			 d->kind == TCPTRACE_DIAG_RST_IN ? "in" : "out",
			 cause_name(d->cause), peer);
		count(resets, &resets_other, key);
		break;
	case TCPTRACE_DIAG_SYN_UNANSWERED:
		snprintf(key, sizeof(key), "%-6u %s", d->sport,
			 why(d, reason, sizeof(reason)));
		count(syns, &syns_other, key);
		break;
	case TCPTRACE_DIAG_TIME_WAIT:
		tw_entered++;
		break;
	case TCPTRACE_DIAG_TIME_WAIT_END:
		tw_ended++;
		break;
	}
}

static void top_handshake(const struct tcptrace_handshake_rec *r)
{
	unsigned int port = r->role == TCPTRACE_ROLE_SERVER ? r->sport :
							      r->dport;
	int64_t ns = hs_latency_ns(r);
	struct latency *l;
	unsigned int i;

	if (ns < 0)
		return;
	for (i = 0; i < TOP_ROWS && lat[i].count; i++)
		if (lat[i].port == port && lat[i].role == r->role)
			break;
	if (i == TOP_ROWS)
		return;
	l = &lat[i];
	l->port = port;
	l->role = r->role;
	l->us[l->count++ % TOP_SAMPLES] = ns / 1000;
	if (l->n < TOP_SAMPLES)
		l->n++;
}

static bool top_record(const struct tcptrace_hdr *h)
{
	const struct tcptrace_handshake_rec *hs = (const void *)h;
	const struct tcptrace_diag_rec *d = (const void *)h;

	records++;
	lost += h->lost_before;
	if (h->type == TCPTRACE_REC_LOST)
		lost += ((const struct tcptrace_lost_rec *)h)->count;
	else if (h->type == TCPTRACE_REC_DIAG && ends_match(&ENDS_OF(d)))
		top_diag(d);
	else if (h->type == TCPTRACE_REC_HANDSHAKE &&
		 ends_match(&ENDS_OF(hs)))
		top_handshake(hs);
	return true;
}

static bool top_buffer(const void *buf, size_t len, size_t *used)
{
	return tt_each_record(buf, len, used, top_record);
}

static int by_count(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return x->count < y->count ? 1 : x->count > y->count ? -1 :
	       strcmp(x->key, y->key);
}

static int by_us(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void table(const char *title, const char *head, struct row *t,
		  uint64_t other)
{
	unsigned int i, n;

	for (n = 0; n < TOP_ROWS && t[n].count; n++)
		;
	qsort(t, n, sizeof(*t), by_count);
	ob_printf("\n%s\n  %-44s %10s\n", title, head, "count");
	if (!n)
		ob_printf("  %-44s\n", "(none)");
	for (i = 0; i < n && i < TOP_SHOWN; i++)
		ob_printf("  %-44s %10llu\n", t[i].key, ULL(t[i].count));
	if (n > TOP_SHOWN || other) {
		uint64_t rest = other;

		for (; i < n; i++)
			rest += t[i].count;
		ob_printf("  %-44s %10llu\n", "(others)", ULL(rest));
	}
}

/* The nearest-rank @pct percentile's index among @n sorted samples */
static unsigned int rank(unsigned int n, unsigned int pct)
{
	return (n * pct + 99) / 100 - 1;
}

static void latencies(void)
{
	static uint64_t sorted[TOP_SAMPLES];
	unsigned int i;

	ob_printf("\nHANDSHAKE LATENCY (ms, the last %u per port)\n"
		  "  %-6s %-7s %10s %10s %10s\n", TOP_SAMPLES, "port", "role",
		  "count", "p50", "p99");
	if (!lat[0].count)
		ob_printf("  (none)\n");
	for (i = 0; i < TOP_ROWS && lat[i].count && i < TOP_SHOWN * 2; i++) {
		const struct latency *l = &lat[i];

		memcpy(sorted, l->us, l->n * sizeof(sorted[0]));
		qsort(sorted, l->n, sizeof(sorted[0]), by_us);
		ob_printf("  %-6u %-7s %10llu %10.3f %10.3f\n", l->port,
			  role_name(l->role), ULL(l->count),
			  sorted[rank(l->n, 50)] / 1e3,
			  sorted[rank(l->n, 99)] / 1e3);
	}
}

static void draw(bool tty, uint64_t start_ns)
{
	time_t now = time(NULL);
	struct tm tm;
	char when[16];

	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (tty)
		OB_LIT("\033[H\033[2J");
	ob_printf("tcpwhy top  %s  %llu s, %llu records, lost %llu\n", when,
		  ULL((tt_now_ns(CLOCK_MONOTONIC) - start_ns) / 1000000000),
		  ULL(records), ULL(lost));
	table("RESETS", "dir  cause                peer", resets,
	      resets_other);
	table("UNANSWERED SYNS", "port   reason", syns, syns_other);
	latencies();
	ob_printf("\nTIME_WAIT  now %lld, entered %llu\n",
		  tw_entered >= tw_ended ? (long long)(tw_entered - tw_ended) :
					   0LL, ULL(tw_entered));
	if (!tty)
		ob_chr('\n');
	ob_flush();
}

static void on_signal(int sig)
{
	tt_stop = 1;
}

static const char top_usage[] =
	"usage: tcpwhy top [-i TIME] [-n FRAMES] [-d TIME] [filters]\n"
	"       tcpwhy top -r FILE [filters]\n"
	"A table redrawn in place: resets by direction, cause and peer;\n"
	"unanswered SYNs by port and reason; handshake latency p50/p99 by\n"
	"port; TIME_WAIT sockets; lost records.  Counted since the start.\n"
	"\n"
	"  -i, --interval TIME   redraw every TIME (default 2s)\n"
	"  -n, --frames N        exit after N tables\n"
	"  -d, --duration TIME   exit after TIME\n"
	"  -P, --port PORTS      only these ports (80,443, 8000-8080, https)\n"
	"      --addr ADDR[/BITS], --netns ID, -4, -6  as in trace\n"
	"  -D, --device PATH     read PATH instead of " TCPTRACE_DEVICE "\n"
	"  -r, --read FILE       the table of a capture (-w), once\n"
	"  -h, --help            this text\n"
	"\n"
	"example: tcpwhy top -i 5s -P 443\n";

int top_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "frames", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'P' },
		{ "addr", required_argument, NULL, FILTER_O_ADDR },
		{ "netns", required_argument, NULL, FILTER_O_NETNS },
		{ "device", required_argument, NULL, 'D' },
		{ "read", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct sigaction sa = { .sa_handler = on_signal };
	static uint64_t buf[65536 / 8];
	uint64_t start, next, end = 0, interval = 2000000000ull;
	long frames = -1, drawn;
	bool tty = isatty(STDOUT_FILENO);
	int c, fd;

	while ((c = getopt_long(argc, argv, "i:n:d:P:46D:r:h", lo, NULL)) !=
	       -1) {
		if (filter_option(c, optarg) || tt_source_option(c, optarg))
			continue;
		switch (c) {
		case 'i':
			interval = (uint64_t)(tt_parse_duration(optarg,
								"interval") * 1e9);
			break;
		case 'n':
			frames = tt_parse_num(optarg, "frames", 1, LONG_MAX);
			break;
		case 'h':
			fputs(top_usage, stdout);
			return EX_OK;
		default:
			tt_usage_error("top");
		}
	}
	if (optind < argc)
		die(EX_USAGE, "top: unexpected argument '%s' (see tcpwhy top "
		    "--help)", argv[optind]);
	if (interval < 100000000ull)
		die(EX_USAGE, "top: --interval of at least 100ms");
	start = tt_now_ns(CLOCK_MONOTONIC);
	if (opt.input) {
		tt_read_capture(opt.input, top_buffer);
		draw(false, start);
		return EX_OK;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fd = tt_open_device(opt.device);
	tt_set_types(fd, 1u << TCPTRACE_REC_HANDSHAKE | 1u << TCPTRACE_REC_DIAG);
	if (opt.duration > 0)
		end = start + (uint64_t)(opt.duration * 1e9);
	next = start + interval;
	draw(tty, start);
	drawn = 1;
	while (!tt_stop && (frames < 0 || drawn < frames)) {
		uint64_t now = tt_now_ns(CLOCK_MONOTONIC);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (end && now >= end)
			break;
		if (now >= next) {
			draw(tty, start);
			drawn++;
			next += interval;
			continue;
		}
		if (poll(&p, 1, (next - now) / 1000000 + 1) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			die(EX_RUNTIME, "read %s: %s", opt.device,
			    strerror(errno));
		if (n > 0)
			top_buffer(buf, n, NULL);
	}
	if (frames < 0)
		draw(tty, start);
	return EX_OK;
}

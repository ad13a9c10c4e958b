// SPDX-License-Identifier: GPL-2.0
/*
 * --hist: log2 histograms, per service port, of handshake latency (from
 * the SYN to the handshake's end, established handshakes) and of
 * connection duration (from the first record of a connection to its
 * end), printed when the run ends, in the style of bcc's tools.  The
 * service port is the server's: the remote port of a client, the local
 * port of a server.
 */
#include <stdio.h>
#include <string.h>

#include "record.h"
#include "cli.h"
#include "output.h"

#define HIST_SLOTS	64
#define HIST_PORTS	64	/* ports with their own histograms */
#define HIST_OTHER	-1	/* the ports past those */

enum { H_HANDSHAKE, H_DURATION, H_KINDS };

static const struct {
	const char *what;	/* JSON */
	const char *title;	/* text */
	const char *unit;
	uint64_t ns_per_unit;
} kinds[H_KINDS] = {
	[H_HANDSHAKE] = { "handshake_latency", "handshake latency", "usecs",
			  1000 },
	[H_DURATION] = { "duration", "connection duration", "msecs",
			 1000000 },
};

struct hist {
	int port;		/* HIST_OTHER: all the others */
	unsigned int role;	/* TCPTRACE_ROLE_*, 0: unknown */
	uint64_t total;
	uint64_t slot[HIST_SLOTS];
};

static struct hist hists[H_KINDS][HIST_PORTS + 1];
static unsigned int n_hists[H_KINDS];

static struct hist *hist_of(unsigned int kind, int port, unsigned int role)
{
	struct hist *h = hists[kind];
	unsigned int i;

	for (i = 0; i < n_hists[kind]; i++)
		if (h[i].port == port && h[i].role == role)
			return &h[i];
	/* the last one is for all the ports past the first HIST_PORTS */
	if (n_hists[kind] >= HIST_PORTS && port != HIST_OTHER)
		return hist_of(kind, HIST_OTHER, 0);
	h = &h[n_hists[kind]++];
	h->port = port;
	h->role = role;
	return h;
}

/* The slot of @v: 0 for 0 and 1, then one per power of two */
static unsigned int slot_of(uint64_t v)
{
	return v < 2 ? 0 : 63 - __builtin_clzll(v);
}

static void hist_add(unsigned int kind, unsigned int role,
		     unsigned int sport, unsigned int dport, uint64_t ns)
{
	struct hist *h;

	/* the service port is known only with the end's role */
	if (role == TCPTRACE_ROLE_SERVER)
		h = hist_of(kind, sport, role);
	else if (role == TCPTRACE_ROLE_CLIENT)
		h = hist_of(kind, dport, role);
	else
		h = hist_of(kind, HIST_OTHER, 0);

	h->slot[slot_of(ns / kinds[kind].ns_per_unit)]++;
	h->total++;
}

void hist_handshake(const struct tcptrace_handshake_rec *r)
{
	int64_t ns = hs_latency_ns(r);

	if (ns >= 0)
		hist_add(H_HANDSHAKE, r->role, r->sport, r->dport, ns);
}

void hist_conn(unsigned int role, const struct tcptrace_conn_rec *r,
	       uint64_t duration_ns)
{
	hist_add(H_DURATION, role, r->sport, r->dport, duration_ns);
}

static const char *role_or_any(unsigned int role)
{
	return role ? role_name(role) : "unknown";
}

/* "     usecs               : count     distribution" and its rows */
static void print_text(unsigned int kind, const struct hist *h)
{
	unsigned int i, hi = 0, stars;
	uint64_t max = 0;

	for (i = 0; i < HIST_SLOTS; i++) {
		if (!h->slot[i])
			continue;
		hi = i;
		max = h->slot[i] > max ? h->slot[i] : max;
	}
	if (h->port == HIST_OTHER)
		ob_printf("\n%s, other ports (or role not seen): %llu\n",
			  kinds[kind].title, ULL(h->total));
	else
		ob_printf("\n%s, port %d (%s): %llu\n", kinds[kind].title,
			  h->port, role_or_any(h->role), ULL(h->total));
	ob_printf("     %-19s : count     distribution\n", kinds[kind].unit);
	for (i = 0; i <= hi; i++) {
		uint64_t from = i ? 1ull << i : 0;
		uint64_t to = i ? (1ull << i << 1) - 1 : 1;
		char bar[41];

		stars = max ? (unsigned int)(h->slot[i] * 40 / max) : 0;
		memset(bar, '*', stars);
		memset(bar + stars, ' ', 40 - stars);
		bar[40] = '\0';
		ob_line();
		ob_printf("%10llu -> %-10llu : %-8llu |%s|\n", ULL(from),
			  ULL(to), ULL(h->slot[i]), bar);
	}
}

static void print_json(unsigned int kind, const struct hist *h)
{
	unsigned int i;
	bool first = true;

	ob_line();
	ob_printf("{\"type\":\"hist\",\"schema\":%d,\"what\":\"%s\","
		  "\"unit\":\"%s\",\"port\":", TCPWHY_SCHEMA, kinds[kind].what,
		  kinds[kind].unit);
	if (h->port == HIST_OTHER)
		OB_LIT("null,\"role\":null");
	else
		ob_printf("%d,\"role\":\"%s\"", h->port, role_or_any(h->role));
	ob_printf(",\"count\":%llu,\"buckets\":[", ULL(h->total));
	for (i = 0; i < HIST_SLOTS; i++) {
		if (!h->slot[i])
			continue;
		ob_printf("%s{\"from\":%llu,\"to\":%llu,\"count\":%llu}",
			  first ? "" : ",", ULL(i ? 1ull << i : 0),
			  ULL(i ? (1ull << i << 1) - 1 : 1), ULL(h->slot[i]));
		first = false;
	}
	OB_LIT("]}\n");
}

void hist_print(void)
{
	unsigned int kind, i;

	for (kind = 0; kind < H_KINDS; kind++) {
		if (!n_hists[kind] && !opt.json) {
			ob_printf("\n%s: none seen\n", kinds[kind].title);
			continue;
		}
		for (i = 0; i < n_hists[kind]; i++) {
			if (opt.json)
				print_json(kind, &hists[kind][i]);
			else
				print_text(kind, &hists[kind][i]);
		}
	}
	ob_flush();
}

void hist_reset(void)
{
	memset(hists, 0, sizeof(hists));
	memset(n_hists, 0, sizeof(n_hists));
}

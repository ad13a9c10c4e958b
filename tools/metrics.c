// SPDX-License-Identifier: GPL-2.0
/*
 * tcpwhy metrics: counts what /dev/tcptrace's records say, per network
 * namespace, cgroup and service port, and serves the counts in
 * Prometheus' text exposition format (0.0.4) over HTTP, or writes them to
 * a file for node_exporter's textfile collector.
 *
 * Counters start at zero when this starts (tcptrace_exporter_start_time_
 * seconds says when); records the module still buffers then are counted,
 * so a restart loses nothing the module holds.  Cardinality is bounded:
 * the first --top-ports service ports seen get their own label, the rest
 * port="other"; past --max-series label sets, new ones go to netns and
 * cgroup "other".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "record.h"
#include "cli.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* the port tcpwhy metrics listens on without --listen */
#define METRICS_PORT		"10083"

#define PORT_NONE		-1	/* the metric has no port label */
#define PORT_OTHER		65536	/* past --top-ports */
#define NETNS_OTHER		UINT32_MAX	/* past --max-series */
#define CGROUP_OTHER		UINT64_MAX

enum metric {
	M_HANDSHAKES,
	M_HS_SECONDS,
	M_SYN_UNANSWERED,
	M_RST,
	M_PAWS,
	M_TW_ENTERED,
	M_TW_ENDED,
	M_CLOSED,
	M_CONN_SECONDS,
	M_BYTES_SENT,
	M_BYTES_RECEIVED,
	M_RETRANS,
	M_SEGS_DROPPED,
	NR_METRICS
};

static const double hs_bounds[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

static const double conn_bounds[] = {
	0.001, 0.01, 0.1, 1, 10, 60, 300, 1800, 3600, 21600, 86400,
};

/*
 * One metric: its name, HELP text and the names of its two small labels
 * (a and b: an enum each, named by the table below), its buckets if it
 * is a histogram.
 */
static const struct metric_desc {
	const char *name, *help, *type;
	const char *a, *b;		/* label names, NULL: none */
	bool reason;			/* has a reason label */
	const double *bounds;
	unsigned int nbounds;
} mdesc[NR_METRICS] = {
	[M_HANDSHAKES] = { "tcptrace_handshakes_total",
		"TCP handshakes by this host's role and how they ended.",
		"counter", "role", "outcome" },
	[M_HS_SECONDS] = { "tcptrace_handshake_duration_seconds",
		"From the SYN to the handshake's end, of established ones.",
		"histogram", "role", NULL, false, hs_bounds,
		ARRAY_SIZE(hs_bounds) },
	[M_SYN_UNANSWERED] = { "tcptrace_syns_unanswered_total",
		"SYNs that got no SYN-ACK: in (role server) or sent (client), by cause and the kernel's drop reason.",
		"counter", "role", "cause", true },
	[M_RST] = { "tcptrace_resets_total",
		"RSTs sent by this host or accepted by its sockets, by cause; suspected_middlebox: the RST's TTL or IP ID did not fit the peer's.",
		"counter", "direction", "cause", true },
	[M_PAWS] = { "tcptrace_paws_rejects_total",
		"Segments or SYNs rejected by the timestamp (PAWS) check.",
		"counter" },
	[M_TW_ENTERED] = { "tcptrace_time_wait_entered_total",
		"Connections that entered TIME_WAIT.", "counter" },
	[M_TW_ENDED] = { "tcptrace_time_wait_ended_total",
		"TIME_WAIT entries that ended, by cause.", "counter", "cause" },
	[M_CLOSED] = { "tcptrace_connections_closed_total",
		"Connections closed, by how they ended.", "counter", "end" },
	[M_CONN_SECONDS] = { "tcptrace_connection_duration_seconds",
		"From the SYN to the close, of connections whose handshake was seen.",
		"histogram", NULL, NULL, false, conn_bounds,
		ARRAY_SIZE(conn_bounds) },
	[M_BYTES_SENT] = { "tcptrace_sent_bytes_total",
		"Payload bytes sent, of closed connections.", "counter" },
	[M_BYTES_RECEIVED] = { "tcptrace_received_bytes_total",
		"Payload bytes received, of closed connections.", "counter" },
	[M_RETRANS] = { "tcptrace_retransmitted_segments_total",
		"Segments retransmitted, of closed connections.", "counter" },
	[M_SEGS_DROPPED] = { "tcptrace_dropped_segments_total",
		"Segments of established or forwarded connections dropped on their way in or through, by the kernel's reason.",
		"counter", "path", NULL, true },
};

/* The values of the a and b labels. */
static const char *const role_v[] = { "", "client", "server" };
static const char *const outcome_v[] = {
	"", "established", "reset", "failed", "timeout",
};

static const char *const dir_v[] = { "sent", "received" };
static const char *const path_v[] = { "local", "forwarded" };
static const char *const cause_v[] = {
	"none", "drop_reason", "listen_overflow", "paws", "unanswered",
	"no_socket", "half_open", "linger", "abort", "bad_segment",
	"expired", "reused", "killed", "reject", "tw_refused",
	"challenge_ack", "syn_queue_full",
};

static const char *const end_v[] = {
	"fin", "rst_in", "rst_out", "aborted", "refused", "timeout",
	"failed",
};

enum { END_FIN, END_RST_IN, END_RST_OUT, END_ABORTED, END_REFUSED,
	END_TIMEOUT, END_FAILED };

#define LABEL_UNKNOWN	255	/* a value this exporter has no name for */

static const char *const *label_table(const char *name, unsigned int *n)
{
#define TAB(tab) (*n = ARRAY_SIZE(tab), tab)
	if (!strcmp(name, "role"))
		return TAB(role_v);
	if (!strcmp(name, "outcome"))
		return TAB(outcome_v);
	if (!strcmp(name, "direction"))
		return TAB(dir_v);
	if (!strcmp(name, "path"))
		return TAB(path_v);
	if (!strcmp(name, "end"))
		return TAB(end_v);
	return TAB(cause_v);
#undef TAB
}

static const char *label_value(const char *name, unsigned int v)
{
	unsigned int n;
	const char *const *tab = label_table(name, &n);

	return v < n ? tab[v] : "unknown";
}

/* @v, or LABEL_UNKNOWN: all unnamed values are one series */
static unsigned int label_clamp(const char *name, unsigned int v)
{
	unsigned int n;

	if (!name)
		return 0;
	label_table(name, &n);
	return v < n ? v : LABEL_UNKNOWN;
}

struct series {
	struct series *next;	/* hash chain */
	struct series *mnext;	/* this metric's series, newest first */
	uint64_t cgroup;
	uint32_t netns;
	int port;
	uint8_t metric, a, b;
	bool middlebox;
	uint16_t reason;	/* index in reasons[], 0: none */
	uint64_t count;
	double sum;
	uint64_t *buckets;	/* histograms: per bucket, not cumulative */
};

#define SERIES_BITS	14
static struct series *stab[1 << SERIES_BITS];
static struct series *mlist[NR_METRICS];
static unsigned long nseries;

/* the kernel's reason names seen, interned (a few hundred at most) */
#define MAX_REASONS	1024
static char *reasons[MAX_REASONS] = { "" };
static unsigned int nreasons = 1;

/* the service ports with their own label */
static unsigned char port_named[65536];
static unsigned int nports;

/*
 * What a connection's later records need: when its SYN was seen, its
 * service port, its role, and the diagnoses that say how it ended.  A
 * closed one waits a second (closed != NULL, on the closed_conns list in
 * the order read): an abort's RST (close() with unread data, SO_LINGER 0)
 * comes after the close.
 */
struct conn {
	struct conn *next;
	uint64_t cookie;
	uint64_t syn_ns;	/* 0: handshake not seen */
	int port;
	uint8_t role;
	uint8_t end;		/* END_* from diagnoses, or END_FIN */
	struct tcptrace_conn_rec *closed;	/* its totals, once closed */
	struct conn *cnext;	/* the closed ones, to count, oldest first */
};

#define CONN_BITS	16
static struct conn *ctab[1 << CONN_BITS];
static unsigned long nconns;
static struct conn *closed_conns, **closed_tail = &closed_conns;
static uint64_t newest_ns;	/* the newest record's time */

static struct {
	const char *device;
	const char *input;
	const char *listen;
	const char *textfile;
	double interval;
	unsigned int top_ports;
	unsigned long max_series;
	unsigned long max_conns;
	bool once;
} mo = {
	.device = TCPTRACE_DEVICE,
	.listen = "localhost:" METRICS_PORT,
	.interval = 15,
	.top_ports = 20,
	.max_series = 20000,
	.max_conns = 262144,
};

/* the exporter's own counters */
static struct {
	uint64_t records, lost_reported, untracked, series_over;
	double start;
	int fd;			/* the device; -1: reading a file */
} ex = { .fd = -1 };

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x9E3779B97F4A7C15ull;
}

/*
 * The label a service port gets: its own while fewer than --top-ports
 * have one (the first seen keep theirs: a port's counters never move to
 * another series), else "other".
 */
static int port_label(int port)
{
	if (port < 0)
		return PORT_NONE;
	if (port_named[port])
		return port;
	if (nports < mo.top_ports) {
		port_named[port] = 1;
		nports++;
		return port;
	}
	return PORT_OTHER;
}

/*
 * The service port of a connection end: the local one for a server, the
 * peer's for a client; not knowing, the one outside Linux's default
 * ephemeral range (32768-60999), or the lower.
 */
static int service_port(unsigned int role, unsigned int sport,
			unsigned int dport)
{
	bool seph = sport >= 32768 && sport <= 60999;
	bool deph = dport >= 32768 && dport <= 60999;

	if (role == TCPTRACE_ROLE_SERVER)
		return sport;
	if (role == TCPTRACE_ROLE_CLIENT)
		return dport;
	if (seph != deph)
		return seph ? dport : sport;
	return sport < dport ? sport : dport;
}

static uint16_t intern_reason(const char *s, size_t max)
{
	size_t len = strnlen(s, max);
	unsigned int i;

	if (!len)
		return 0;
	for (i = 1; i < nreasons; i++)
		if (strlen(reasons[i]) == len && !memcmp(reasons[i], s, len))
			return i;
	if (nreasons == MAX_REASONS)
		return 0;
	reasons[nreasons] = strndup(s, len);
	if (!reasons[nreasons])
		die(EX_RUNTIME, "out of memory");
	return nreasons++;
}

/*
 * cgroup paths, interned when a series is made: a series keeps its path
 * after the cgroup is gone, and two cgroup ids of one path (a unit
 * restarted) are one series.  0 is "" (not known).
 */
#define MAX_CGPATHS	65536
#define CGHASH_BITS	12
struct cgname {
	struct cgname *next;	/* hash chain, by path */
	char *path;
	size_t len;
	uint32_t idx;
};

struct cgid {
	struct cgid *next;
	uint64_t id;
	uint32_t idx;
};

static struct cgname **cgnames;	/* by index */
static unsigned int ncgnames = 1;
static struct cgname *cgnhash[1 << CGHASH_BITS];
static struct cgid *cgidhash[1 << CGHASH_BITS];
static unsigned long ncgids;

static uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t h = 0;

	while (n--)
		h = mix(h, (unsigned char)*p++);
	return h;
}

/* The index of @path, interned if new; CGROUP_OTHER past MAX_CGPATHS. */
static uint64_t cg_intern(const char *path, size_t len)
{
	struct cgname **p = &cgnhash[hash_bytes(path, len) >>
				     (64 - CGHASH_BITS)];

	for (; *p; p = &(*p)->next)
		if ((*p)->len == len && !memcmp((*p)->path, path, len))
			return (*p)->idx;
	if (ncgnames >= MAX_CGPATHS)
		return CGROUP_OTHER;
	if (!cgnames)
		cgnames = calloc(MAX_CGPATHS, sizeof(*cgnames));
	*p = calloc(1, sizeof(**p));
	if (*p)
		(*p)->path = malloc(len + 1);
	if (!cgnames || !*p || !(*p)->path)
		die(EX_RUNTIME, "out of memory");
	memcpy((*p)->path, path, len);
	(*p)->path[len] = '\0';
	(*p)->len = len;
	(*p)->idx = ncgnames;
	cgnames[ncgnames] = *p;
	return ncgnames++;
}

/* The label index of cgroup @id: its path's, 0 while not known. */
static uint64_t cgroup_label(uint64_t id)
{
	struct cgid **p = &cgidhash[mix(0, id) >> (64 - CGHASH_BITS)];
	const char *path;
	size_t len = 0;
	uint64_t idx;

	if (!id || id == CGROUP_OTHER)
		return id ? CGROUP_OTHER : 0;
	for (; *p; p = &(*p)->next)
		if ((*p)->id == id)
			return (*p)->idx;
	/* not known now (new since the last walk, or gone): "", not kept */
	path = tt_cgroup_path(id, &len);
	if (!path)
		return 0;
	idx = cg_intern(path, len);
	if (idx == CGROUP_OTHER || ncgids >= MAX_CGPATHS)
		return idx;
	*p = calloc(1, sizeof(**p));
	if (!*p)
		die(EX_RUNTIME, "out of memory");
	(*p)->id = id;
	(*p)->idx = idx;
	ncgids++;
	return idx;
}

/* The series of these labels, made if new (within --max-series). */
static struct series *series_get(enum metric m, uint32_t netns,
				 uint64_t cgroup, int port, unsigned int a,
				 unsigned int b, bool mb, uint16_t reason)
{
	struct series **p, *s;
	uint64_t h;

	a = label_clamp(mdesc[m].a, a);
	b = label_clamp(mdesc[m].b, b);
	cgroup = cgroup_label(cgroup);
	for (;;) {
		h = mix(mix(mix(mix(mix(m, netns), cgroup), (uint64_t)port),
			    a << 8 | b | (uint64_t)mb << 16), reason);
		p = &stab[h >> (64 - SERIES_BITS)];
		for (; *p; p = &(*p)->next) {
			s = *p;
			if (s->metric == m && s->netns == netns &&
			    s->cgroup == cgroup && s->port == port &&
			    s->a == a && s->b == b && s->middlebox == mb &&
			    s->reason == reason)
				return s;
		}
		if (nseries < mo.max_series || netns == NETNS_OTHER)
			break;
		/* full: the namespace and cgroup give way, not the event */
		ex.series_over++;
		netns = NETNS_OTHER;
		cgroup = CGROUP_OTHER;
	}
	s = calloc(1, sizeof(*s));
	if (s && mdesc[m].nbounds)
		s->buckets = calloc(mdesc[m].nbounds + 1, sizeof(uint64_t));
	if (!s || (mdesc[m].nbounds && !s->buckets))
		die(EX_RUNTIME, "out of memory");
	s->metric = m;
	s->netns = netns;
	s->cgroup = cgroup;
	s->port = port;
	s->a = a;
	s->b = b;
	s->middlebox = mb;
	s->reason = reason;
	*p = s;
	s->mnext = mlist[m];
	mlist[m] = s;
	nseries++;
	return s;
}

static void count(enum metric m, uint32_t netns, uint64_t cgroup, int port,
		  unsigned int a, unsigned int b, bool mb, uint16_t reason,
		  uint64_t n)
{
	series_get(m, netns, cgroup, port_label(port), a, b, mb, reason)
		->count += n;
}

static void observe(enum metric m, uint32_t netns, uint64_t cgroup,
		    int port, unsigned int a, double v)
{
	struct series *s = series_get(m, netns, cgroup, port_label(port), a,
				      0, false, 0);
	unsigned int i;

	for (i = 0; i < mdesc[m].nbounds && v > mdesc[m].bounds[i]; i++)
		;
	s->buckets[i]++;
	s->count++;
	s->sum += v;
}

static struct conn **conn_slot(uint64_t cookie)
{
	struct conn **p = &ctab[mix(0, cookie) >> (64 - CONN_BITS)];

	while (*p && (*p)->cookie != cookie)
		p = &(*p)->next;
	return p;
}

/* @cookie's entry, made if new; NULL: no socket, or the table is full */
static struct conn *conn_get(uint64_t cookie)
{
	struct conn **p, *c;

	if (!cookie)
		return NULL;
	p = conn_slot(cookie);
	if (*p)
		return *p;
	if (nconns >= mo.max_conns) {
		ex.untracked++;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		die(EX_RUNTIME, "out of memory");
	c->cookie = cookie;
	c->port = -1;
	*p = c;
	nconns++;
	return c;
}

static void on_handshake(const struct tcptrace_handshake_rec *r)
{
	uint64_t cg = tt_hs_cgroup_id(r);
	int port = service_port(r->role, r->sport, r->dport);
	struct conn *c;

	count(M_HANDSHAKES, r->netns_ino, cg, port, r->role, r->outcome,
	      false, 0, 1);
	if (r->outcome != TCPTRACE_HS_ESTABLISHED)
		return;
	if (r->syn.seen_ns && r->done_ns >= r->syn.seen_ns)
		observe(M_HS_SECONDS, r->netns_ino, cg, port, r->role,
			(r->done_ns - r->syn.seen_ns) / 1e9);
	c = conn_get(r->sock_cookie);
	if (c) {
		c->syn_ns = r->syn.seen_ns ? r->syn.seen_ns : r->done_ns;
		c->port = port;
		c->role = r->role;
	}
}

static void on_diag(const struct tcptrace_diag_rec *d)
{
	uint64_t cg = tt_diag_cgroup_id(d);
	uint16_t reason = intern_reason(d->reason, sizeof(d->reason));
	unsigned int role = d->kind == TCPTRACE_DIAG_NO_SYNACK ?
			    TCPTRACE_ROLE_CLIENT : TCPTRACE_ROLE_SERVER;
	struct conn *c = NULL;
	int port;

	switch (d->kind) {
	case TCPTRACE_DIAG_SYN_UNANSWERED:
	case TCPTRACE_DIAG_NO_SYNACK:
		port = service_port(role, d->sport, d->dport);
		count(M_SYN_UNANSWERED, d->netns_ino, cg, port, role,
		      d->cause, false, reason, 1);
		if (d->kind == TCPTRACE_DIAG_NO_SYNACK)
			c = conn_get(d->sock_cookie);
		if (c)
			c->end = END_TIMEOUT;
		break;
	case TCPTRACE_DIAG_RST_OUT:
	case TCPTRACE_DIAG_RST_IN:
		/*
		 * A refusal, sent for a closed port or received in SYN_SENT:
		 * the port the SYN went to is the service.
		 */
		if (d->kind == TCPTRACE_DIAG_RST_OUT)
			role = d->cause == TCPTRACE_CAUSE_NO_SOCKET ?
			       TCPTRACE_ROLE_SERVER : 0;
		else
			role = d->state == 2 /* TCP_SYN_SENT */ ?
			       TCPTRACE_ROLE_CLIENT : 0;
		c = d->sock_cookie ? *conn_slot(d->sock_cookie) : NULL;
		port = c && c->port >= 0 ? c->port :
		       service_port(role, d->sport, d->dport);
		count(M_RST, d->netns_ino, cg, port,
		      d->kind == TCPTRACE_DIAG_RST_IN, d->cause,
		      d->flags & (TCPTRACE_DF_MIDDLEBOX | TCPTRACE_DF_IPID),
		      reason, 1);
		/*
		 * A received RST comes before its socket's close: remember
		 * it.  One sent comes after an abort's close (the entry
		 * waits, closed) or belongs to no connection followed.
		 */
		if (d->kind == TCPTRACE_DIAG_RST_IN)
			c = conn_get(d->sock_cookie);
		if (c && c->end == END_FIN) {
			if (d->kind == TCPTRACE_DIAG_RST_IN)
				c->end = END_RST_IN;
			else if (d->cause == TCPTRACE_CAUSE_ABORT ||
				 d->cause == TCPTRACE_CAUSE_LINGER)
				c->end = END_ABORTED;
			else
				c->end = END_RST_OUT;
		}
		break;
	case TCPTRACE_DIAG_TIME_WAIT:
		count(M_TW_ENTERED, d->netns_ino, cg, PORT_NONE, 0, 0, false,
		      0, 1);
		break;
	case TCPTRACE_DIAG_TIME_WAIT_END:
		count(M_TW_ENDED, d->netns_ino, cg, PORT_NONE, d->cause, 0,
		      false, 0, 1);
		break;
	case TCPTRACE_DIAG_DATA_DROPPED:
	case TCPTRACE_DIAG_FWD_DROPPED: {
		/* reason[] is the first drop's; count_other had others */
		unsigned int other = tt_diag_count_other(d);

		if (other > d->count)
			other = d->count;
		port = service_port(0, d->sport, d->dport);
		count(M_SEGS_DROPPED, d->netns_ino, cg, port,
		      d->kind == TCPTRACE_DIAG_FWD_DROPPED, 0, false, reason,
		      d->count - other);
		if (other)
			count(M_SEGS_DROPPED, d->netns_ino, cg, port,
			      d->kind == TCPTRACE_DIAG_FWD_DROPPED, 0, false,
			      intern_reason("other", 5), other);
		break;
	}
	}
	if (d->cause == TCPTRACE_CAUSE_PAWS)
		count(M_PAWS, d->netns_ino, cg,
		      service_port(0, d->sport, d->dport), 0, 0, false, 0, 1);
}

/* A closed connection's counts, its end known now. */
static void count_close(const struct tcptrace_conn_rec *r,
			const struct conn *c)
{
	uint64_t cg = tt_conn_cgroup_id(r);
	bool handshake = r->old_state == 2;	/* closed from SYN_SENT */
	unsigned int end = c ? c->end : END_FIN;
	/* closed from SYN_SENT: a client's end, whose peer is the service */
	int port = c && c->port >= 0 ? c->port :
		   service_port(handshake ? TCPTRACE_ROLE_CLIENT : 0,
				r->sport, r->dport);

	if (handshake && end == END_RST_IN)
		end = END_REFUSED;
	else if (handshake && end == END_FIN)
		end = END_FAILED;
	count(M_CLOSED, r->netns_ino, cg, port, end, 0, false, 0, 1);
	count(M_BYTES_SENT, r->netns_ino, cg, port, 0, 0, false, 0,
	      r->bytes_sent);
	count(M_BYTES_RECEIVED, r->netns_ino, cg, port, 0, 0, false, 0,
	      r->bytes_received);
	count(M_RETRANS, r->netns_ino, cg, port, 0, 0, false, 0,
	      r->total_retrans);
	if (c && c->syn_ns && r->hdr.ts_ns >= c->syn_ns)
		observe(M_CONN_SECONDS, r->netns_ino, cg, port, 0,
			(r->hdr.ts_ns - c->syn_ns) / 1e9);
}

/*
 * A close waits, for the RST of an abort that follows it: the module
 * writes that RST's record after the close's, in the same system call,
 * and on a preemptible kernel this reader can run in between.  A close
 * is counted once it is CLOSE_HOLD_NS old and the device has been read
 * dry after that.  With no room to wait, it is counted now.
 */
#define CLOSE_HOLD_NS	1000000000ULL

static void on_conn(const struct tcptrace_conn_rec *r)
{
	struct conn *c = conn_get(r->sock_cookie);

	if (c && !c->closed) {
		c->closed = malloc(sizeof(*r));
		if (c->closed) {
			memcpy(c->closed, r, sizeof(*r));
			c->cnext = NULL;
			*closed_tail = c;
			closed_tail = &c->cnext;
			return;
		}
	}
	count_close(r, c);
}

/*
 * Count the connections closed at or before @upto (CLOCK_MONOTONIC ns;
 * UINT64_MAX: all), and forget them.  The list is in the order read, so
 * the walk stops at the first one not due: one that another CPU's buffer
 * delivered out of order waits behind it a little longer, and a drain
 * costs only what it counts.
 */
static void count_closed(uint64_t upto)
{
	struct conn *c, **p;

	while ((c = closed_conns) && c->closed->hdr.ts_ns <= upto) {
		closed_conns = c->cnext;
		if (!closed_conns)
			closed_tail = &closed_conns;
		count_close(c->closed, c);
		p = conn_slot(c->cookie);
		*p = c->next;
		free(c->closed);
		free(c);
		nconns--;
	}
}

/* Count one record. */
static bool metrics_record(const struct tcptrace_hdr *h)
{
	ex.records++;
	if (h->ts_ns > newest_ns)
		newest_ns = h->ts_ns;
	ex.lost_reported += h->lost_before;
	switch (h->type) {
	case TCPTRACE_REC_LOST:
		ex.lost_reported +=
			((const struct tcptrace_lost_rec *)h)->count;
		break;
	case TCPTRACE_REC_HANDSHAKE:
		on_handshake((const void *)h);
		break;
	case TCPTRACE_REC_DIAG:
		on_diag((const void *)h);
		break;
	case TCPTRACE_REC_CONN:
		on_conn((const void *)h);
		break;
	}
	return true;
}

static bool metrics_records(const void *buf, size_t len, size_t *used)
{
	return tt_each_record(buf, len, used, metrics_record);
}

/*
 * A capture's records, read as fast as the disk gives them: a close is
 * due once a record CLOSE_HOLD_NS newer has been read, so a long capture
 * holds one second of connections, not all of them.
 */
static bool capture_records(const void *buf, size_t len, size_t *used)
{
	bool ok = metrics_records(buf, len, used);

	if (newest_ns > CLOSE_HOLD_NS)
		count_closed(newest_ns - CLOSE_HOLD_NS);
	return ok;
}

/* --- rendering ------------------------------------------------------ */

struct out {
	char *buf;
	size_t len, cap;
};

static void out_grow(struct out *o, size_t n)
{
	if (o->len + n <= o->cap)
		return;
	o->cap = (o->len + n) * 2 + 4096;
	o->buf = realloc(o->buf, o->cap);
	if (!o->buf)
		die(EX_RUNTIME, "out of memory");
}

static void __attribute__((format(printf, 2, 3)))
outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			die(EX_RUNTIME, "formatting metrics: %s",
			    strerror(errno));
		if ((size_t)n < o->cap - o->len)
			break;
		out_grow(o, n + 1);
	}
	o->len += n;
}

/* The length of the valid UTF-8 sequence at @s (of @n bytes), 0: none */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong, a surrogate, or past U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/*
 * A label value: backslash, double quote and newline escaped, and what
 * is not UTF-8 (a cgroup's name can be any bytes) as U+FFFD, or
 * Prometheus would refuse the whole scrape.
 */
static void out_value(struct out *o, const char *s, size_t len)
{
	size_t i, n;

	out_grow(o, 3 * len + 1);
	for (i = 0; i < len; i++) {
		n = utf8_seq((const unsigned char *)s + i, len - i);
		if (!n) {
			memcpy(o->buf + o->len, "\xef\xbf\xbd", 3);
			o->len += 3;
			continue;
		}
		if (n > 1) {
			memcpy(o->buf + o->len, s + i, n);
			o->len += n;
			i += n - 1;
			continue;
		}
		if (s[i] == '\\' || s[i] == '"') {
			o->buf[o->len++] = '\\';
			o->buf[o->len++] = s[i];
		} else if (s[i] == '\n') {
			o->buf[o->len++] = '\\';
			o->buf[o->len++] = 'n';
		} else {
			o->buf[o->len++] = s[i];
		}
	}
}

/* {netns="...",cgroup="...",port="...",a="...",...} without the brace */
static void out_labels(struct out *o, const struct series *s)
{
	const struct metric_desc *md = &mdesc[s->metric];

	if (s->netns == NETNS_OTHER)
		outf(o, "netns=\"other\",cgroup=\"other\"");
	else
		outf(o, "netns=\"%u\",cgroup=\"", s->netns);
	if (s->netns != NETNS_OTHER) {
		/* past MAX_CGPATHS paths, the cgroup alone is "other" */
		if (s->cgroup == CGROUP_OTHER)
			outf(o, "other");
		else if (s->cgroup)
			out_value(o, cgnames[s->cgroup]->path,
				  cgnames[s->cgroup]->len);
		outf(o, "\"");
	}
	if (s->port == PORT_OTHER)
		outf(o, ",port=\"other\"");
	else if (s->port != PORT_NONE)
		outf(o, ",port=\"%d\"", s->port);
	if (md->a)
		outf(o, ",%s=\"%s\"", md->a, label_value(md->a, s->a));
	if (md->b)
		outf(o, ",%s=\"%s\"", md->b, label_value(md->b, s->b));
	if (s->metric == M_RST)
		outf(o, ",suspected_middlebox=\"%s\"",
		     s->middlebox ? "true" : "false");
	if (md->reason) {
		outf(o, ",reason=\"");
		out_value(o, reasons[s->reason], strlen(reasons[s->reason]));
		outf(o, "\"");
	}
}

static void out_metric(struct out *o, enum metric m)
{
	const struct metric_desc *md = &mdesc[m];
	const struct series *s;
	uint64_t cum;
	unsigned int i;
	size_t base = strlen(md->name);

	outf(o, "# HELP %s %s\n# TYPE %s %s\n", md->name, md->help,
	     md->name, md->type);
	for (s = mlist[m]; s; s = s->mnext) {
		if (!md->nbounds) {
			outf(o, "%s{", md->name);
			out_labels(o, s);
			outf(o, "} %llu\n", (unsigned long long)s->count);
			continue;
		}
		for (cum = 0, i = 0; i <= md->nbounds; i++) {
			cum += s->buckets[i];
			outf(o, "%s_bucket{", md->name);
			out_labels(o, s);
			if (i < md->nbounds)
				outf(o, ",le=\"%g\"} %llu\n", md->bounds[i],
				     (unsigned long long)cum);
			else
				outf(o, ",le=\"+Inf\"} %llu\n",
				     (unsigned long long)cum);
		}
		outf(o, "%.*s_sum{", (int)base, md->name);
		out_labels(o, s);
		outf(o, "} %.9g\n%.*s_count{", s->sum, (int)base, md->name);
		out_labels(o, s);
		outf(o, "} %llu\n", (unsigned long long)s->count);
	}
}

static void out_plain(struct out *o, const char *name, const char *type,
		      const char *help, unsigned long long v)
{
	outf(o, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name,
	     type, name, v);
}

static void out_module(struct out *o)
{
	struct tcptrace_stats st = { 0 };
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} f[] = {
#define F(n, t, h, m) { n, t, h, offsetof(struct tcptrace_stats, m) }
		F("tcptrace_module_records_produced_total", "counter",
		  "Records the module made (since load or tcpwhy --reset-stats).",
		  produced),
		F("tcptrace_module_records_lost_total", "counter",
		  "Records the module dropped: its buffer was full.", lost),
		F("tcptrace_module_records_delivered_total", "counter",
		  "Records readers took from the module.", delivered),
		F("tcptrace_module_records_buffered", "gauge",
		  "Records in the module's buffer now.", buffered),
		F("tcptrace_module_table_entries", "gauge",
		  "Connection table entries in use.", conn_in_use),
		F("tcptrace_module_table_capacity", "gauge",
		  "Connection table entries (conn_table_size).", conn_capacity),
		F("tcptrace_module_table_evictions_total", "counter",
		  "Connection table entries pushed out by newer ones.",
		  conn_evicted),
		F("tcptrace_module_handshake_timeouts_total", "counter",
		  "Handshakes that never completed within hs_timeout.",
		  conn_timeouts),
		F("tcptrace_module_malformed_options_total", "counter",
		  "SYNs and SYN-ACKs with malformed TCP options.", malformed),
#undef F
	};
	unsigned int i;

	if (ex.fd < 0 || ioctl(ex.fd, TCPTRACE_IOC_STATS, &st) < 0)
		return;
	for (i = 0; i < ARRAY_SIZE(f); i++)
		out_plain(o, f[i].name, f[i].type, f[i].help,
			  *(const unsigned long long *)((const char *)&st +
							  f[i].off));
}

static void render(struct out *o)
{
	unsigned int m;

	o->len = 0;
	out_grow(o, 1);
	for (m = 0; m < NR_METRICS; m++)
		out_metric(o, m);
	out_module(o);
	outf(o, "# HELP tcptrace_exporter_start_time_seconds When this "
	     "exporter started: its counters count from then.\n"
	     "# TYPE tcptrace_exporter_start_time_seconds gauge\n"
	     "tcptrace_exporter_start_time_seconds %.3f\n", ex.start);
	out_plain(o, "tcptrace_exporter_records_total", "counter",
		  "Records this exporter read.", ex.records);
	out_plain(o, "tcptrace_exporter_records_lost_total", "counter",
		  "Records the module reported lost to this exporter (its "
		  "buffer was full).", ex.lost_reported);
	out_plain(o, "tcptrace_exporter_series", "gauge",
		  "Label sets this exporter holds, of --max-series.", nseries);
	out_plain(o, "tcptrace_exporter_series_overflow_total", "counter",
		  "Events counted under netns and cgroup \"other\": "
		  "--max-series reached.", ex.series_over);
	out_plain(o, "tcptrace_exporter_untracked_connections_total",
		  "counter", "Connections whose duration and end were not "
		  "followed: too many open at once.", ex.untracked);
}

/* --- serving -------------------------------------------------------- */

static int listen_on(const char *spec)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE,
	}, *ai, *a;
	char host[256];
	const char *port = strrchr(spec, ':');
	size_t hlen;
	int fd = -1, one = 1, err;

	if (!port || !port[1])
		die(EX_USAGE, "--listen %s: expected ADDR:PORT, [ADDR]:PORT or :PORT",
		    spec);
	hlen = port - spec;
	if (hlen >= sizeof(host))
		die(EX_USAGE, "--listen %s: address too long", spec);
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
	}
	err = getaddrinfo(*host ? host : NULL, port + 1, &hints, &ai);
	if (err)
		die(EX_USAGE, "--listen %s: %s", spec, gai_strerror(err));
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family,
			    a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!bind(fd, a->ai_addr, a->ai_addrlen) && !listen(fd, 16))
			break;
		err = errno;
		close(fd);
		fd = -1;
		errno = err;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		die(EX_RUNTIME, "--listen %s: %s", spec, strerror(errno));
	return fd;
}

/*
 * Wait until @fd is ready for @events, or CLOCK_MONOTONIC reaches
 * @deadline (ns); false: not ready by then.
 */
static bool wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	uint64_t now;
	int r;

	for (;;) {
		now = tt_now_ns(CLOCK_MONOTONIC);
		if (now >= deadline)
			return false;
		r = poll(&p, 1, (deadline - now) / 1000000 + 1);
		if (r > 0)
			return true;
		if (r < 0 && errno != EINTR)
			return false;
	}
}

/*
 * Write all of @p to @fd (the textfile: blocking; a scraper: not, by
 * @deadline).  A scraper that went away or is too slow gets no more.
 */
static void write_all(int fd, const char *p, size_t n, uint64_t deadline)
{
	ssize_t w;

	while (n) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN && wait_fd(fd, POLLOUT, deadline))
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= w;
	}
}

/*
 * One request on @fd: GET /metrics gets the exposition, anything else a
 * 404 or 405.  The connection is closed after the answer (HTTP/1.0).
 */
static void serve(int fd, struct out *o)
{
	/*
	 * One thread reads the device and answers: a client holds the reads
	 * up for 1 s at most to send its request, 3 s to take the answer.
	 */
	uint64_t deadline = tt_now_ns(CLOCK_MONOTONIC) + 1000000000ull;
	char req[4096], head[256];
	size_t have = 0;
	ssize_t n;
	int status = 200;

	while (have < sizeof(req) - 1) {
		n = read(fd, req + have, sizeof(req) - 1 - have);
		if (n < 0 && (errno == EINTR ||
			      (errno == EAGAIN &&
			       wait_fd(fd, POLLIN, deadline))))
			continue;
		if (n <= 0)
			return;
		have += n;
		req[have] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	if (strncmp(req, "GET ", 4))
		status = 405;
	else if (strncmp(req + 4, "/metrics", 8) ||
		 (req[12] != ' ' && req[12] != '?'))
		status = 404;
	if (status == 200) {
		render(o);
		snprintf(head, sizeof(head),
			 "HTTP/1.0 200 OK\r\n"
			 "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 o->len);
		deadline += 3000000000ull;
		write_all(fd, head, strlen(head), deadline);
		write_all(fd, o->buf, o->len, deadline);
		return;
	}
	snprintf(head, sizeof(head),
		 "HTTP/1.0 %d %s\r\nContent-Type: text/plain\r\n"
		 "Connection: close\r\n\r\ntcpwhy metrics: GET /metrics\n",
		 status, status == 404 ? "Not Found" : "Method Not Allowed");
	write_all(fd, head, strlen(head), deadline + 3000000000ull);
}

/* The textfile collector's file, replaced whole (never seen half-written). */
static void write_textfile(struct out *o)
{
	char tmp[4096];
	int fd;

	render(o);
	if (snprintf(tmp, sizeof(tmp), "%s.%d.tmp", mo.textfile,
		     (int)getpid()) >= (int)sizeof(tmp))
		die(EX_USAGE, "--textfile %s: path too long", mo.textfile);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die(EX_RUNTIME, "%s: %s", tmp, strerror(errno));
	write_all(fd, o->buf, o->len, UINT64_MAX);
	if (fsync(fd) || close(fd) || rename(tmp, mo.textfile))
		die(EX_RUNTIME, "%s: %s", mo.textfile, strerror(errno));
}

static void drain(int fd)
{
	static uint64_t buf[65536 / 8];
	/* what was written before this, this drain reads */
	uint64_t start = tt_now_ns(CLOCK_MONOTONIC);
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			die(EX_RUNTIME, "read %s: %s", mo.device,
			    strerror(errno));
		if (!n)
			break;
		metrics_records(buf, n, NULL);
	}
	if (start > CLOSE_HOLD_NS)
		count_closed(start - CLOSE_HOLD_NS);
}

static int metrics_loop(void)
{
	struct out o = { 0 };
	int lfd = mo.textfile ? -1 : listen_on(mo.listen);
	uint64_t next = 0, now;
	uint32_t types = 1u << TCPTRACE_REC_HANDSHAKE |
			 1u << TCPTRACE_REC_DIAG | 1u << TCPTRACE_REC_CONN;
	sigset_t block, orig;

	/* SIGINT and SIGTERM arrive only in ppoll(): none is missed */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);
	if (ioctl(ex.fd, TCPTRACE_IOC_SET_TYPES, &types) < 0 &&
	    errno != ENOTTY)
		die(EX_RUNTIME, "%s: choosing record types: %s", mo.device,
		    strerror(errno));
	while (!stop) {
		struct pollfd p[2] = {
			{ .fd = ex.fd, .events = POLLIN },
			{ .fd = lfd, .events = POLLIN },
		};
		struct timespec ts, *tsp = NULL;
		int r;

		if (mo.textfile) {
			now = tt_now_ns(CLOCK_MONOTONIC);
			if (now >= next) {
				drain(ex.fd);
				write_textfile(&o);
				next = now + (uint64_t)(mo.interval * 1e9);
			}
			ts.tv_sec = (next - now) / 1000000000;
			ts.tv_nsec = (next - now) % 1000000000;
			tsp = &ts;
		}
		r = ppoll(p, lfd < 0 ? 1 : 2, tsp, &orig);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die(EX_RUNTIME, "poll: %s", strerror(errno));
		if (p[0].revents)
			drain(ex.fd);
		if (lfd >= 0 && p[1].revents & POLLIN) {
			int c = accept4(lfd, NULL, NULL,
					SOCK_CLOEXEC | SOCK_NONBLOCK);

			if (c >= 0) {
				/* count what came before the scrape */
				drain(ex.fd);
				serve(c, &o);
				close(c);
			}
		}
	}
	if (mo.textfile) {
		drain(ex.fd);
		count_closed(UINT64_MAX);
		write_textfile(&o);
	}
	free(o.buf);
	return EX_OK;
}

static const char metrics_help[] =
	"usage: tcpwhy metrics [options]\n"
	"Serve counts of handshakes, unanswered SYNs, RSTs, PAWS rejects,\n"
	"TIME_WAIT, connection ends, durations and bytes, per network\n"
	"namespace, cgroup and service port, in Prometheus' text format.\n"
	"\n"
	"  -l, --listen ADDR:PORT  serve GET /metrics there (default\n"
	"                          localhost:" METRICS_PORT "; :" METRICS_PORT
	" for every address)\n"
	"      --textfile FILE     instead, write FILE every --interval, for\n"
	"                          node_exporter's textfile collector\n"
	"      --interval SEC      (default 15)\n"
	"      --once              count what the module holds, print the\n"
	"                          metrics, exit\n"
	"      --top-ports N       service ports with their own label, the\n"
	"                          first N seen (default 20); others: \"other\"\n"
	"      --max-series N      label sets at most (default 20000); past it\n"
	"                          netns and cgroup are \"other\"\n"
	"  -D, --device PATH       read PATH instead of " TCPTRACE_DEVICE "\n"
	"  -r, --read FILE         count the records of FILE (written by -w),\n"
	"                          print the metrics, exit\n"
	"  -h, --help              this text\n";

static double parse_pos(const char *s, const char *what, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || end == s || !(v > 0) || v > hi)
		die(EX_USAGE, "bad %s '%s' (expected a number above 0, up to %g)",
		    what, s, hi);
	return v;
}

int metrics_main(int argc, char **argv)
{
	enum { O_TEXTFILE = 256, O_INTERVAL, O_ONCE, O_TOP, O_MAXSERIES };
	static const struct option lo[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "textfile", required_argument, NULL, O_TEXTFILE },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "once", no_argument, NULL, O_ONCE },
		{ "top-ports", required_argument, NULL, O_TOP },
		{ "max-series", required_argument, NULL, O_MAXSERIES },
		{ "device", required_argument, NULL, 'D' },
		{ "read", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct sigaction sa = { .sa_handler = on_signal };
	struct timespec ts;
	struct out o = { 0 };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "l:D:r:h", lo, NULL)) != -1) {
		switch (c) {
		case 'l':
			mo.listen = optarg;
			break;
		case O_TEXTFILE:
			mo.textfile = optarg;
			break;
		case O_INTERVAL:
			mo.interval = parse_pos(optarg, "--interval", 86400);
			break;
		case O_ONCE:
			mo.once = true;
			break;
		case O_TOP:
			mo.top_ports = parse_pos(optarg, "--top-ports", 65536);
			break;
		case O_MAXSERIES:
			mo.max_series = parse_pos(optarg, "--max-series", 1e7);
			break;
		case 'D':
			mo.device = optarg;
			break;
		case 'r':
			mo.input = optarg;
			break;
		case 'h':
			fputs(metrics_help, stdout);
			return EX_OK;
		default:
			tt_usage_error("metrics");
		}
	}
	if (optind < argc)
		die(EX_USAGE, "metrics: unexpected argument '%s'", argv[optind]);
	if (mo.textfile && (mo.once || mo.input))
		die(EX_USAGE, "--textfile does not go with --once or --read");
	clock_gettime(CLOCK_REALTIME, &ts);
	ex.start = ts.tv_sec + ts.tv_nsec / 1e9;
	if (mo.input) {
		tt_read_capture(mo.input, capture_records);
		count_closed(UINT64_MAX);
		render(&o);
		fwrite(o.buf, 1, o.len, stdout);
		free(o.buf);
		return EX_OK;
	}
	ex.fd = tt_open_device(mo.device);
	if (mo.once) {
		drain(ex.fd);
		count_closed(UINT64_MAX);
		render(&o);
		fwrite(o.buf, 1, o.len, stdout);
		free(o.buf);
		return EX_OK;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return metrics_loop();
}

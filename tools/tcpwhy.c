// SPDX-License-Identifier: GPL-2.0
/*
 * tcpwhy - read TCP connection traces from /dev/tcptrace.
 *
 * Exit codes: 0 ok, 1 runtime error (device, permission), 2 usage,
 * 3 incompatible or corrupt data (ABI mismatch, malformed record).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <limits.h>
#include <linux/inet_diag.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "record.h"
#include "cli.h"
#include "explain.h"
#include "nsfacts.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* __u64 is unsigned long long in every ABI tcptrace builds for */
#define ULL(x) ((unsigned long long)(x))

#ifndef TCPTRACE_VERSION
#define TCPTRACE_VERSION "dev"
#endif

struct filter {
	int port;		/* -1: any */
	int family;		/* 0, 4 or 6 */
	bool have_addr;
	int addr_family;
	unsigned char addr[16];
	bool have_netns;
	uint64_t netns;
};

static struct {
	bool json;
	enum { MODE_ALL, MODE_HANDSHAKES, MODE_DIAG, MODE_CONNS } mode;
	int tw_list;			/* conns --state time-wait */
	const char *device;
	const char *input;
	const char *write_path;		/* -w: raw records to a file */
	FILE *wfile;
	long count;		/* <0: unlimited */
	double duration;	/* <=0: unlimited */
	struct filter f;
} opt = {
	.device = TCPTRACE_DEVICE,
	.count = -1,
	.f = { .port = -1 },
};

static volatile sig_atomic_t stop;
static int64_t mono_to_real_ns;
static uint64_t total_lost;
static long printed;

static void ob_flush(void);

void die(int code, const char *fmt, ...)
{
	va_list ap;

	ob_flush();
	fflush(stdout);
	fputs("tcpwhy: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

/* --- per-socket memory: when did it enter its current state ---------- */

struct sockent {
	uint64_t cookie;
	uint64_t since_ns;
	struct sockent *next;
};

#define SOCKTAB_BITS 12
static struct sockent *socktab[1 << SOCKTAB_BITS];

static struct sockent **sock_slot(uint64_t cookie)
{
	uint64_t h = cookie * 0x9E3779B97F4A7C15ull;
	struct sockent **p = &socktab[h >> (64 - SOCKTAB_BITS)];

	while (*p && (*p)->cookie != cookie)
		p = &(*p)->next;
	return p;
}

/* Returns the time spent in the previous state, or -1 when unknown. */
static int64_t sock_transition(uint64_t cookie, uint64_t ts, bool closed)
{
	struct sockent **p = sock_slot(cookie), *e = *p;
	int64_t dt = -1;

	if (e) {
		dt = ts >= e->since_ns ? (int64_t)(ts - e->since_ns) : 0;
		if (closed) {
			*p = e->next;
			free(e);
			return dt;
		}
		e->since_ns = ts;
		return dt;
	}
	if (closed)
		return dt;
	e = calloc(1, sizeof(*e));
	if (!e)
		die(EX_RUNTIME, "out of memory");
	e->cookie = cookie;
	e->since_ns = ts;
	*p = e;
	return dt;
}

/* --- output -------------------------------------------------------- */

/*
 * Records are formatted straight into one buffer and written with write(2)
 * once per batch: the reader shares a CPU with the traffic it traces, and
 * printf and inet_ntop cost several times what these appenders do.  Every
 * function here produces exactly what the printf format in its comment
 * would.
 */
static struct {
	char buf[1 << 16];
	size_t n;
} ob;

static void ob_flush(void)
{
	size_t off = 0;

	while (off < ob.n) {
		ssize_t w = write(STDOUT_FILENO, ob.buf + off, ob.n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EPIPE)
			exit(EX_OK);	/* the reader left: tcptrace | head */
		if (w < 0) {
			ob.n = 0;
			die(EX_RUNTIME, "write: %s", strerror(errno));
		}
		off += w;
	}
	ob.n = 0;
}

/*
 * Called at the start of every line: a line (at most a few KiB, even for
 * crafted records) then never straddles a flush, so offsets into the
 * buffer taken within the line stay valid.
 */
#define OB_LINE_MAX 8192

static void ob_line(void)
{
	if (sizeof(ob.buf) - ob.n < OB_LINE_MAX)
		ob_flush();
}

static __always_inline void ob_put(const char *s, size_t len)
{
	if (sizeof(ob.buf) - ob.n < len) {
		ob_flush();
		if (len > sizeof(ob.buf))
			len = sizeof(ob.buf);
	}
	memcpy(ob.buf + ob.n, s, len);
	ob.n += len;
}

#define OB_LIT(s) ob_put(s, sizeof(s) - 1)

static void ob_str(const char *s)
{
	ob_put(s, strlen(s));
}

static void ob_chr(char c)
{
	if (ob.n == sizeof(ob.buf))
		ob_flush();
	ob.buf[ob.n++] = c;
}

/* "%s" of "true" or "false" */
static void ob_bool(bool b)
{
	if (b)
		OB_LIT("true");
	else
		OB_LIT("false");
}

/* Decimal digits of @v. */
static size_t n_digits(uint64_t v)
{
	static const uint64_t pow10[] = {
		1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
		10000000ull, 100000000ull, 1000000000ull, 10000000000ull,
		100000000000ull, 1000000000000ull, 10000000000000ull,
		100000000000000ull, 1000000000000000ull,
		10000000000000000ull, 100000000000000000ull,
		1000000000000000000ull, 10000000000000000000ull,
	};
	/* bits * log10(2), with log10(2) ~ 1233 / 4096: exact or one short */
	uint64_t x = v | 1;
	size_t n = (64 - __builtin_clzll(x)) * 1233 >> 12;

	return n + (x >= pow10[n]);
}

/* "00" to "99": two digits per division */
static char digit_pairs[200];

static void fill_digit_pairs(void)
{
	int i;

	for (i = 0; i < 100; i++) {
		digit_pairs[2 * i] = '0' + i / 10;
		digit_pairs[2 * i + 1] = '0' + i % 10;
	}
}

/* "%llu" into @out (room for 20 digits); returns the length */
static size_t fmt_u64(char *out, uint64_t v)
{
	size_t len = n_digits(v), i = len;
	uint32_t w;

	if (__builtin_expect(!digit_pairs[0], 0))
		fill_digit_pairs();
	/* in 32 bits once the value fits */
	for (; v > UINT32_MAX; v /= 100) {
		i -= 2;
		memcpy(out + i, digit_pairs + 2 * (v % 100), 2);
	}
	for (w = v; w >= 100; w /= 100) {
		i -= 2;
		memcpy(out + i, digit_pairs + 2 * (w % 100), 2);
	}
	if (w >= 10)
		memcpy(out, digit_pairs + 2 * w, 2);
	else
		out[0] = '0' + w;
	return len;
}

static void ob_u64(uint64_t v)
{
	if (sizeof(ob.buf) - ob.n < 20)
		ob_flush();
	ob.n += fmt_u64(ob.buf + ob.n, v);
}

/* @v, or null where 0 means "none" or "not known" */
static void ob_u64_or_null(uint64_t v)
{
	if (v)
		ob_u64(v);
	else
		OB_LIT("null");
}

/* "%-Ns": pad what was written since @start with spaces to @width */
static void ob_pad(size_t start, size_t width)
{
	size_t len = ob.n >= start ? ob.n - start : width;

	if (len >= width)
		return;
	len = width - len;
	if (sizeof(ob.buf) - ob.n < len)
		ob_flush();
	memset(ob.buf + ob.n, ' ', len);
	ob.n += len;
}

/* For the rare and the complicated. */
static void __attribute__((format(printf, 1, 2)))
ob_printf(const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(ob.buf + ob.n, sizeof(ob.buf) - ob.n, fmt, ap);
	va_end(ap);
	if (r >= 0 && (size_t)r >= sizeof(ob.buf) - ob.n) {
		ob_flush();
		va_start(ap, fmt);
		r = vsnprintf(ob.buf, sizeof(ob.buf), fmt, ap);
		va_end(ap);
		if (r >= 0 && (size_t)r >= sizeof(ob.buf))
			r = sizeof(ob.buf) - 1;
	}
	if (r > 0)
		ob.n += r;
}

/* "%.3f" of @ns / 1e6 */
static void ob_ms3(uint64_t ns)
{
	uint64_t us;

	/*
	 * Integer rounding is printf's except at an exact tie, where the
	 * binary double decides, and where a double no longer holds every
	 * nanosecond.
	 */
	if (ns % 1000 == 500 || ns >= 1000000000000000ull) {
		ob_printf("%.3f", ns / 1e6);
		return;
	}
	us = (ns + 500) / 1000;
	ob_u64(us / 1000);
	ob_chr('.');
	ob_chr('0' + us % 1000 / 100);
	ob_chr('0' + us % 100 / 10);
	ob_chr('0' + us % 10);
}

static void fmt_addr(int family, const uint8_t *a, char *out, size_t len)
{
	if (!inet_ntop(family == AF_INET ? AF_INET : AF_INET6, a, out, len))
		snprintf(out, len, "?");
}

/* "%x" */
static void ob_hex16(unsigned int w)
{
	static const char hex[] = "0123456789abcdef";
	int shift = 12;

	while (shift && !(w >> shift))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		ob_chr(hex[w >> shift & 0xf]);
}

/*
 * inet_ntop()'s text (RFC 5952: the longest run of two or more zero
 * words, the first of equals, becomes "::"; ::ffff:a.b.c.d and ::a.b.c.d
 * end in dotted quad), without its sprintf per word.
 */
static void ob_addr_fmt(int family, const uint8_t *a)
{
	int i, run = 0, base = -1, len = 0;
	unsigned int w[8];

	if (family == AF_INET) {
		for (i = 0; i < 4; i++) {
			if (i)
				ob_chr('.');
			ob_u64(a[i]);
		}
		return;
	}
	for (i = 0; i < 8; i++) {
		w[i] = a[2 * i] << 8 | a[2 * i + 1];
		run = w[i] ? 0 : run + 1;
		if (run > len) {
			len = run;
			base = i + 1 - run;
		}
	}
	if (len < 2)
		base = -1;
	for (i = 0; i < 8; i++) {
		if (base >= 0 && i >= base && i < base + len) {
			if (i == base)
				ob_chr(':');
			continue;
		}
		if (i)
			ob_chr(':');
		if (i == 6 && base == 0 &&
		    (len == 6 || (len == 5 && w[5] == 0xffff))) {
			ob_addr_fmt(AF_INET, a + 12);
			return;
		}
		ob_hex16(w[i]);
	}
	if (base >= 0 && base + len == 8)
		ob_chr(':');
}

/*
 * A connection's lines repeat its two addresses: the last two formatted
 * are kept as text.
 */
static struct addr_text {
	int family;
	uint8_t a[16];
	char text[INET6_ADDRSTRLEN];
	size_t len;
} addr_cache[2];
static unsigned int addr_cache_next;

static void ob_addr(int family, const uint8_t *a)
{
	size_t n = family == AF_INET ? 4 : 16, start;
	struct addr_text *c;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(addr_cache); i++) {
		c = &addr_cache[i];
		if (c->len && c->family == family && !memcmp(c->a, a, n)) {
			ob_put(c->text, c->len);
			return;
		}
	}
	start = ob.n;
	ob_addr_fmt(family, a);
	if (ob.n < start || ob.n - start > sizeof(c->text))
		return;		/* a flush came in between: keep nothing */
	c = &addr_cache[addr_cache_next++ % ARRAY_SIZE(addr_cache)];
	c->family = family;
	memcpy(c->a, a, n);
	c->len = ob.n - start;
	memcpy(c->text, ob.buf + start, c->len);
}

/* "%s:%u" for IPv4, "[%s]:%u" for IPv6 */
static void ob_endpoint(int family, const uint8_t *a, unsigned int port)
{
	if (family == AF_INET) {
		ob_addr(family, a);
	} else {
		ob_chr('[');
		ob_addr(family, a);
		ob_chr(']');
	}
	ob_chr(':');
	ob_u64(port);
}

/* "%02d:%02d:%02d.%06ld" of the local time of a record's timestamp */
static void ob_when(uint64_t mono_ns)
{
	static char hms[16];
	static size_t hms_len;
	static time_t hms_sec = -1;
	/* unsigned: a crafted timestamp wraps instead of overflowing */
	int64_t real = (int64_t)(mono_ns + (uint64_t)mono_to_real_ns);
	uint64_t us;
	time_t sec;
	char t[6];
	int i;

	if (real < 0)
		real = 0;
	sec = real / 1000000000;
	if (sec != hms_sec) {
		struct tm tm = {};

		localtime_r(&sec, &tm);
		hms_len = snprintf(hms, sizeof(hms), "%02d:%02d:%02d.",
				   tm.tm_hour, tm.tm_min, tm.tm_sec);
		hms_len = hms_len < sizeof(hms) ? hms_len : sizeof(hms) - 1;
		hms_sec = sec;
	}
	ob_put(hms, hms_len);
	us = (real % 1000000000) / 1000;
	for (i = 5; i > 0; i -= 2, us /= 100) {
		t[i] = '0' + us % 10;
		t[i - 1] = '0' + us / 10 % 10;
	}
	ob_put(t, sizeof(t));
}

/* The start of a text line: "%s netns:%-10u %-Ns %s > %s  " */
static void ob_text_head(uint64_t ts, uint32_t netns_ino, const char *who,
			 size_t who_len, size_t width, int family,
			 const uint8_t *saddr,
			 unsigned int sport, const uint8_t *daddr,
			 unsigned int dport)
{
	static char ino_text[24];
	static uint32_t ino_cached;
	static size_t ino_len;
	size_t start;

	ob_when(ts);
	OB_LIT(" netns:");
	/* "%-10u ", of a namespace that rarely changes */
	if (!ino_len || netns_ino != ino_cached) {
		ino_len = fmt_u64(ino_text, netns_ino);
		while (ino_len < 10)
			ino_text[ino_len++] = ' ';
		ino_text[ino_len++] = ' ';
		ino_cached = netns_ino;
	}
	ob_put(ino_text, ino_len);
	start = ob.n;
	ob_put(who, who_len);
	ob_pad(start, width);
	ob_chr(' ');
	ob_endpoint(family, saddr, sport);
	OB_LIT(" > ");
	ob_endpoint(family, daddr, dport);
	OB_LIT("  ");
}

/* ,"saddr":"%s","sport":%u,"daddr":"%s","dport":%u */
static void ob_json_ends(int family, const uint8_t *saddr, unsigned int sport,
			 const uint8_t *daddr, unsigned int dport)
{
	OB_LIT(",\"saddr\":\"");
	ob_addr(family, saddr);
	OB_LIT("\",\"sport\":");
	ob_u64(sport);
	OB_LIT(",\"daddr\":\"");
	ob_addr(family, daddr);
	OB_LIT("\",\"dport\":");
	ob_u64(dport);
}

/* {"type":"%s",["diag":"%s",]"ts_ns":%llu,"cpu":%u,"netns":%u,... */
static void ob_json_head(const char *type, const char *diag,
			 const struct tcptrace_hdr *h, uint32_t netns_ino,
			 uint64_t netns_cookie, uint64_t sock, int family)
{
	OB_LIT("{\"type\":\"");
	ob_str(type);
	if (diag) {
		OB_LIT("\",\"diag\":\"");
		ob_str(diag);
	}
	OB_LIT("\",\"ts_ns\":");
	ob_u64(h->ts_ns);
	OB_LIT(",\"cpu\":");
	ob_u64(h->cpu);
	OB_LIT(",\"netns\":");
	ob_u64(netns_ino);
	OB_LIT(",\"netns_cookie\":");
	ob_u64(netns_cookie);
	OB_LIT(",\"sock\":");
	ob_u64(sock);
	OB_LIT(",\"family\":");
	ob_chr(family == AF_INET ? '4' : '6');
}

/* a state's name, or "STATE_%u" */
static void ob_state(unsigned int st)
{
	const char *n = tt_state_name(st);

	if (n) {
		ob_str(n);
	} else {
		OB_LIT("STATE_");
		ob_u64(st);
	}
}

static void state_str(unsigned int st, char *out, size_t len)
{
	const char *n = tt_state_name(st);

	if (n)
		snprintf(out, len, "%s", n);
	else
		snprintf(out, len, "STATE_%u", st);
}

/* A JSON string of at most @max bytes of @s. */
static void ob_jstr(const char *s, size_t max)
{
	size_t i;

	ob_chr('"');
	for (i = 0; i < max && s[i]; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\') {
			ob_chr('\\');
			ob_chr(c);
		} else if (c < 0x20 || c >= 0x7f) {
			ob_printf("\\u%04x", c);
		} else {
			ob_chr(c);
		}
	}
	ob_chr('"');
}

static void print_lost(unsigned int cpu, uint64_t ts, uint64_t count)
{
	total_lost += count;
	ob_line();
	if (opt.json) {
		OB_LIT("{\"type\":\"lost\",\"ts_ns\":");
		ob_u64(ts);
		OB_LIT(",\"cpu\":");
		ob_u64(cpu);
		OB_LIT(",\"count\":");
		ob_u64(count);
		OB_LIT("}\n");
		return;
	}
	ob_when(ts);
	OB_LIT(" *** lost ");
	ob_u64(count);
	OB_LIT(" record");
	if (count != 1)
		ob_chr('s');
	OB_LIT(" on cpu ");
	ob_u64(cpu);
	OB_LIT(": buffer full (raise buf_size or read faster) ***\n");
}

/* --- cgroups: a socket's cgroup v2 id -> its path ------------------- */

/*
 * Every record about a connection carries its socket's cgroup v2 id, the
 * inode number of the cgroup's directory on the cgroup2 mount (64-bit
 * hosts).  Its path is found by walking that tree: at the first id seen,
 * then again when an id is not in the map (cgroups come and go), at most
 * once a second.  A hit is a hash look-up: no syscall, no allocation.
 */
#define CG_MOUNT	"/sys/fs/cgroup"
#define CG_BITS		10
#define CG_MAX_DEPTH	64
#define CG_REWALK_NS	1000000000ull
/* a path's JSON form; longer ones stay unnamed: lines stay a few KiB */
#define CG_JSON_MAX	3072

struct cgent {
	uint64_t id;
	struct cgent *next;
	bool known;		/* false: not found by a walk after it was seen */
	bool root;		/* the mount itself, "/" */
	bool match;		/* --cgroup: that cgroup or one below it */
	size_t tlen, jlen;
	char *text;		/* the path, control characters as '?' */
	char *json;		/* the path as a JSON string, quotes included */
};

static struct {
	struct cgent *tab[1 << CG_BITS];
	const char *mount;	/* NULL: not looked for yet; "": none */
	const char *filter;	/* --cgroup, below the mount: "/a/b" */
	size_t filter_len;
	uint64_t walked_ns;	/* CLOCK_MONOTONIC of the last walk, 0: none */
	uint64_t last_id;	/* the last look-up, for runs of one cgroup */
	const struct cgent *last;
	char path[PATH_MAX];
} cgmap;

/*
 * The cgroup2 mount: $TCPTRACE_CGROUP_ROOT, else /sys/fs/cgroup (or its
 * unified/ on a hybrid cgroup v1 host) when it is cgroup2.
 */
static const char *cg_mount(void)
{
	const char *env = getenv("TCPTRACE_CGROUP_ROOT");
	struct statfs sf;

	if (cgmap.mount)
		return cgmap.mount;
	if (env && *env)
		cgmap.mount = env;
	else if (!statfs(CG_MOUNT, &sf) && sf.f_type == CGROUP2_SUPER_MAGIC)
		cgmap.mount = CG_MOUNT;
	else if (!statfs(CG_MOUNT "/unified", &sf) &&
		 sf.f_type == CGROUP2_SUPER_MAGIC)
		cgmap.mount = CG_MOUNT "/unified";
	else
		cgmap.mount = "";
	return cgmap.mount;
}

static struct cgent **cg_slot(uint64_t id)
{
	uint64_t h = id * 0x9E3779B97F4A7C15ull;
	struct cgent **p = &cgmap.tab[h >> (64 - CG_BITS)];

	while (*p && (*p)->id != id)
		p = &(*p)->next;
	return p;
}

/*
 * The JSON string of @len bytes of @s, quotes included, as ob_jstr()
 * writes it, into @out; returns its length (only that if @out is NULL).
 */
static size_t json_escape(char *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, n = 2;

	if (!out) {
		for (i = 0; i < len; i++) {
			unsigned char c = s[i];

			n += c == '"' || c == '\\' ? 2 :
			     c < 0x20 || c >= 0x7f ? 6 : 1;
		}
		return n;
	}
	n = 0;
	out[n++] = '"';
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = c;
		} else if (c < 0x20 || c >= 0x7f) {
			memcpy(out + n, "\\u00", 4);
			out[n + 4] = hex[c >> 4];
			out[n + 5] = hex[c & 0xf];
			n += 6;
		} else {
			out[n++] = c;
		}
	}
	out[n++] = '"';
	return n;
}

/* Map @id to @path (@len bytes); a negative entry when @path is NULL. */
static void cg_add(uint64_t id, const char *path, size_t len, bool root,
		   bool match)
{
	struct cgent **p = cg_slot(id), *e;
	size_t i;

	if (*p)
		return;		/* seen twice (a bind mount): keep the first */
	e = calloc(1, sizeof(*e) + (path ? len + 1 + 6 * len + 2 : 0));
	if (!e)
		die(EX_RUNTIME, "out of memory");
	e->id = id;
	if (path) {
		e->known = true;
		e->root = root;
		e->match = match;
		e->text = (char *)(e + 1);
		for (i = 0; i < len; i++) {
			unsigned char c = path[i];

			e->text[i] = c < 0x20 || c == 0x7f ? '?' : c;
		}
		e->tlen = len;
		e->json = e->text + len + 1;
		e->jlen = json_escape(e->json, path, len);
	}
	*p = e;
}

static void cg_clear(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cgmap.tab); i++) {
		while (cgmap.tab[i]) {
			struct cgent *e = cgmap.tab[i];

			cgmap.tab[i] = e->next;
			free(e);
		}
	}
	cgmap.last_id = 0;
	cgmap.last = NULL;
}

/* Is the path of @len bytes in cgmap.path the --cgroup one? */
static bool cg_is_filter(size_t len)
{
	return cgmap.filter && len == cgmap.filter_len &&
	       !memcmp(cgmap.path, cgmap.filter, len);
}

/*
 * Map the directories below @fd, whose path is cgmap.path[0..@len), @jlen
 * bytes in JSON; @match: --cgroup matches it.
 */
static void cg_walk_dir(int fd, dev_t dev, size_t len, size_t jlen,
			bool match, int depth)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;

	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		size_t nlen = strlen(n), plen = len + 1 + nlen, pjlen;
		struct stat st;
		bool m;
		int cfd;

		if (n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2])))
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		/* too long to name: so are the ones below it */
		if (plen >= CG_JSON_MAX)
			continue;
		pjlen = jlen + 1 + json_escape(NULL, n, nlen) - 2;
		if (pjlen > CG_JSON_MAX)
			continue;
		cfd = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			     O_CLOEXEC);
		if (cfd < 0)
			continue;
		/* another file system mounted in it: its inodes are no ids */
		if (fstat(cfd, &st) || st.st_dev != dev) {
			close(cfd);
			continue;
		}
		cgmap.path[len] = '/';
		memcpy(cgmap.path + len + 1, n, nlen + 1);
		m = match || cg_is_filter(plen);
		cg_add(st.st_ino, cgmap.path, plen, false, m);
		if (depth < CG_MAX_DEPTH)
			cg_walk_dir(cfd, dev, plen, pjlen, m, depth + 1);
		else
			close(cfd);
		cgmap.path[len] = '\0';
	}
	closedir(d);
}

/* Forget the map and build it again from the cgroup2 mount. */
static void cg_walk(uint64_t now)
{
	const char *mount = cg_mount();
	struct stat st;
	bool m;
	int fd;

	cg_clear();
	cgmap.walked_ns = now;
	if (!*mount)
		return;
	fd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st)) {
		close(fd);
		return;
	}
	cgmap.path[0] = '/';
	m = cg_is_filter(1);
	cg_add(st.st_ino, cgmap.path, 1, true, m);
	cgmap.path[0] = '\0';
	cg_walk_dir(fd, st.st_dev, 0, 2, m, 1);
}

static uint64_t now_ns(clockid_t c);

/* The cgroup with id @id, NULL when unknown (0, removed, not visible). */
static const struct cgent *cg_lookup(uint64_t id)
{
	struct cgent *e;
	uint64_t now;

	if (!id)
		return NULL;
	if (id == cgmap.last_id)
		return cgmap.last;
	e = *cg_slot(id);
	if (!e) {
		/* new since the last walk, or gone: walk again, not too often */
		now = now_ns(CLOCK_MONOTONIC);
		if (cgmap.walked_ns && now - cgmap.walked_ns < CG_REWALK_NS)
			return NULL;
		cg_walk(now);
		e = *cg_slot(id);
		if (!e) {
			/*
			 * The socket was in it when the record was made, before
			 * this walk: it is gone, or outside this mount.
			 */
			cg_add(id, NULL, 0, false, false);
			e = *cg_slot(id);
		}
	}
	cgmap.last_id = id;
	cgmap.last = e->known ? e : NULL;
	return cgmap.last;
}

/* Does --cgroup let a record of cgroup @id through? */
static bool cg_match(uint64_t id)
{
	const struct cgent *e;

	if (!cgmap.filter)
		return true;
	e = cg_lookup(id);
	return e && e->match;
}

/* --cgroup PATH: below the mount ("/a/b", "a/b"), or the full path. */
static void cg_set_filter(const char *arg)
{
	const char *mount = cg_mount(), *s = arg;
	size_t mlen = strlen(mount);
	char *f, *o;

	if (!*mount)
		die(EX_RUNTIME, "--cgroup: no cgroup2 file system at " CG_MOUNT
		    " (set TCPTRACE_CGROUP_ROOT to its mount point)");
	while (mlen > 1 && mount[mlen - 1] == '/')
		mlen--;
	if (!strncmp(s, mount, mlen) && (s[mlen] == '/' || !s[mlen]))
		s += mlen;
	f = malloc(strlen(s) + 2);
	if (!f)
		die(EX_RUNTIME, "out of memory");
	o = f;
	*o++ = '/';
	for (; *s; s++)
		if (*s != '/' || o[-1] != '/')
			*o++ = *s;
	if (o - f > 1 && o[-1] == '/')
		o--;
	*o = '\0';
	cgmap.filter = f;
	cgmap.filter_len = o - f;
	/* a typo would only show as silence: say so, then trace anyway */
	if (snprintf(cgmap.path, sizeof(cgmap.path), "%.*s%s", (int)mlen,
		     mount, f) < (int)sizeof(cgmap.path) &&
	    access(cgmap.path, F_OK))
		fprintf(stderr, "tcpwhy: --cgroup %s: no such cgroup (yet) in "
			"%s\n", f, mount);
}

const char *tt_cgroup_path(uint64_t id, size_t *len)
{
	const struct cgent *e = cg_lookup(id);

	if (!e)
		return NULL;
	*len = e->tlen;
	return e->text;
}

/* ,"cgroup_id":%llu,"cgroup":"%s" or null */
static void ob_json_cgroup(uint64_t id, const struct cgent *e)
{
	OB_LIT(",\"cgroup_id\":");
	ob_u64(id);
	OB_LIT(",\"cgroup\":");
	if (e)
		ob_put(e->json, e->jlen);
	else
		OB_LIT("null");
}

/* --- filtering ----------------------------------------------------- */

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

static bool ends_match(const struct ends *e)
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

static bool state_match(const struct tcptrace_state_rec *r)
{
	struct ends e = ENDS_OF(r);

	e.v4mapped = r->flags & TCPTRACE_F_V4MAPPED;
	return opt.mode == MODE_ALL && ends_match(&e) &&
	       cg_match(tt_state_cgroup_id(r));
}

/* --- records ------------------------------------------------------- */

static void print_state(const struct tcptrace_state_rec *r)
{
	bool closed = r->new_state == 7;	/* TCP_CLOSE */
	int64_t in_old = sock_transition(r->sock_cookie, r->hdr.ts_ns, closed);
	bool task = r->hdr.ctx == TCPTRACE_CTX_TASK;
	uint32_t pidns = tt_state_pidns(r);
	/* a reader in a container gets its own PID namespace's numbers */
	uint32_t pid = r->pid ? r->pid : pidns ? r->vpid : 0;
	uint32_t tid = r->pid ? r->tid : pidns ? r->vtid : 0;
	uint64_t cgid = tt_state_cgroup_id(r);
	const struct cgent *cg;
	char who[40];
	size_t who_len;

	ob_line();
	if (opt.json) {
		ob_json_head("state", NULL, &r->hdr, r->netns_ino,
			     r->netns_cookie, r->sock_cookie, r->family);
		OB_LIT(",\"v4mapped\":");
		ob_bool(r->flags & TCPTRACE_F_V4MAPPED);
		OB_LIT(",\"unresolved\":");
		ob_bool(r->flags & TCPTRACE_F_UNRESOLVED);
		OB_LIT(",\"synthetic\":");
		ob_bool(r->flags & TCPTRACE_F_SYNTHETIC);
		OB_LIT(",\"orphan_fin_wait2\":");
		ob_bool(r->flags & TCPTRACE_F_TW_ORPHAN);
		ob_json_ends(r->family, r->saddr, r->sport, r->daddr,
			     r->dport);
		OB_LIT(",\"old\":\"");
		ob_state(r->old_state);
		OB_LIT("\",\"new\":\"");
		ob_state(r->new_state);
		OB_LIT("\",");
		if (task && pid) {
			OB_LIT("\"pid\":");
			ob_u64(pid);
			OB_LIT(",\"tid\":");
			ob_u64(tid);
			OB_LIT(",\"comm\":");
			ob_jstr(r->comm, sizeof(r->comm));
		} else {
			OB_LIT("\"pid\":null,\"tid\":null,\"comm\":null");
		}
		/* the task's own PID namespace and its numbers there */
		OB_LIT(",\"pidns\":");
		if (task && pidns) {
			ob_u64(pidns);
			OB_LIT(",\"vpid\":");
			ob_u64(r->vpid);
			OB_LIT(",\"vtid\":");
			ob_u64(r->vtid);
		} else {
			OB_LIT("null,\"vpid\":null,\"vtid\":null");
		}
		OB_LIT(",\"ctx\":\"");
		ob_str(tt_ctx_name(r->hdr.ctx));
		OB_LIT("\",\"in_old_ns\":");
		if (in_old >= 0)
			ob_u64(in_old);
		else
			OB_LIT("null");
		ob_json_cgroup(cgid, cg_lookup(cgid));
		OB_LIT("}\n");
		return;
	}

	/* "%s netns:%-10u %-22s %s > %s  %s -> %s%s\n" */
	if (task && pid) {
		who_len = fmt_u64(who, pid);
		who[who_len++] = '/';
		memcpy(who + who_len, r->comm, sizeof(r->comm));
		who_len += strnlen(r->comm, sizeof(r->comm));
	} else {
		/* a task of another PID namespace than the reader's: "[task]" */
		const char *ctx = tt_ctx_name(r->hdr.ctx);

		who_len = strlen(ctx) + 2;
		who[0] = '[';
		memcpy(who + 1, ctx, who_len - 2);
		who[who_len - 1] = ']';
	}
	ob_text_head(r->hdr.ts_ns, r->netns_ino, who, who_len, 22, r->family,
		     r->saddr, r->sport, r->daddr, r->dport);
	ob_state(r->old_state);
	OB_LIT(" -> ");
	ob_state(r->new_state);
	if (in_old >= 0) {
		OB_LIT("  (");
		ob_ms3(in_old);
		OB_LIT(" ms in ");
		ob_state(r->old_state);
		ob_chr(')');
	}
	if (r->flags & TCPTRACE_F_TW_ORPHAN)
		OB_LIT("  (orphaned FIN_WAIT2: the peer never closed its side "
		       "within tcp_fin_timeout)");
	/* the socket's cgroup, when known and not the root */
	cg = cgid ? cg_lookup(cgid) : NULL;
	if (cg && !cg->root) {
		OB_LIT(" cgroup:");
		ob_put(cg->text, cg->tlen);
	}
	ob_chr('\n');
}

/* --- handshakes ----------------------------------------------------- */

static const char *const mal_names[] = {
	"opt-len", "opt-trunc", "mss-len", "wscale", "sackok-len", "ts-len",
	"sack-len", "tfo-len", "md5-len", "mptcp-len", "doff-short",
	"doff-past", "dup",
};

#define NMAL ARRAY_SIZE(mal_names)

/* unknown[] holds at most TCPTRACE_MAX_UNKNOWN, whatever a record says */
static unsigned int n_unknown(const struct tcptrace_tcpopts *o)
{
	return o->n_unknown < TCPTRACE_MAX_UNKNOWN ? o->n_unknown :
						     TCPTRACE_MAX_UNKNOWN;
}

/* tcpdump's spelling where it has one: "mss 1460,sackOK,TS,wscale 7" */
static void ob_opts(const struct tcptrace_tcpopts *o)
{
	size_t start = ob.n;
	unsigned int i;

#define SEP() do { if (ob.n != start) ob_chr(','); } while (0)
	if (o->present & TCPTRACE_OPT_MSS) {
		OB_LIT("mss ");
		ob_u64(o->mss);
	}
	if (o->present & TCPTRACE_OPT_SACK_PERM) {
		SEP();
		OB_LIT("sackOK");
	}
	if (o->present & TCPTRACE_OPT_TS) {
		SEP();
		OB_LIT("TS");
	}
	if (o->present & TCPTRACE_OPT_WSCALE) {
		SEP();
		OB_LIT("wscale ");
		ob_u64(o->wscale);
	}
	if (o->present & TCPTRACE_OPT_SACK) {
		SEP();
		OB_LIT("sack ");
		ob_u64(o->sack_blocks);
	}
	if (o->present & TCPTRACE_OPT_TFO) {
		SEP();
		if (o->tfo_len)
			OB_LIT("tfo cookie");
		else
			OB_LIT("tfo cookiereq");
	}
	if (o->present & TCPTRACE_OPT_MD5) {
		SEP();
		OB_LIT("md5");
	}
	if (o->present & TCPTRACE_OPT_MPTCP) {
		SEP();
		OB_LIT("mptcp ");
		ob_u64(o->mptcp_subtype);
	}
	for (i = 0; i < n_unknown(o); i++) {
		SEP();
		OB_LIT("opt-");
		ob_u64(o->unknown[i]);
	}
	if (o->present & TCPTRACE_OPT_ECN) {
		SEP();
		OB_LIT("ECN");
	}
	if (o->malformed) {
		const char *msep = "";

		SEP();
		OB_LIT("MALFORMED(");
		for (i = 0; i < NMAL; i++) {
			if (o->malformed & (1u << i)) {
				ob_str(msep);
				ob_str(mal_names[i]);
				msep = " ";
			}
		}
		ob_chr(')');
	}
#undef SEP
	if (ob.n == start)
		OB_LIT("none");
	/* the text format has always cut this at 255 bytes */
	if (ob.n - start > 255)
		ob.n = start + 255;
}

static void json_opts(const char *name, const struct tcptrace_tcpopts *o,
		      int family)
{
	unsigned int i;
	bool first = true;

	OB_LIT(",\"");
	ob_str(name);
	OB_LIT("\":");
	if (!o->seen_ns) {
		OB_LIT("null");
		return;
	}
	OB_LIT("{\"seen_ns\":");
	ob_u64(o->seen_ns);
	OB_LIT(",\"mss\":");
	if (o->present & TCPTRACE_OPT_MSS)
		ob_u64(o->mss);
	else
		OB_LIT("null");
	OB_LIT(",\"wscale\":");
	if (o->present & TCPTRACE_OPT_WSCALE)
		ob_u64(o->wscale);
	else
		OB_LIT("null");
	OB_LIT(",\"sack_perm\":");
	ob_bool(o->present & TCPTRACE_OPT_SACK_PERM);
	if (o->present & TCPTRACE_OPT_TS) {
		OB_LIT(",\"ts_val\":");
		ob_u64(o->ts_val);
		OB_LIT(",\"ts_ecr\":");
		ob_u64(o->ts_ecr);
	} else {
		OB_LIT(",\"ts_val\":null,\"ts_ecr\":null");
	}
	if (o->present & TCPTRACE_OPT_TFO) {
		OB_LIT(",\"tfo\":{\"cookie_len\":");
		ob_u64(o->tfo_len);
		ob_chr('}');
	} else {
		OB_LIT(",\"tfo\":null");
	}
	OB_LIT(",\"md5\":");
	ob_bool(o->present & TCPTRACE_OPT_MD5);
	if (o->present & TCPTRACE_OPT_MPTCP) {
		OB_LIT(",\"mptcp\":{\"subtype\":");
		ob_u64(o->mptcp_subtype);
		ob_chr('}');
	} else {
		OB_LIT(",\"mptcp\":null");
	}
	OB_LIT(",\"ecn\":");
	ob_bool(o->present & TCPTRACE_OPT_ECN);
	OB_LIT(",\"sack_blocks\":");
	ob_u64(o->sack_blocks);
	OB_LIT(",\"eol\":");
	ob_bool(o->present & TCPTRACE_OPT_EOL);
	OB_LIT(",\"unknown\":[");
	for (i = 0; i < n_unknown(o); i++) {
		if (i)
			ob_chr(',');
		ob_u64(o->unknown[i]);
	}
	OB_LIT("],\"malformed\":");
	ob_bool(o->malformed);
	OB_LIT(",\"malformed_why\":[");
	for (i = 0; i < NMAL; i++) {
		if (!(o->malformed & (1u << i)))
			continue;
		if (!first)
			ob_chr(',');
		ob_chr('"');
		ob_str(mal_names[i]);
		ob_chr('"');
		first = false;
	}
	OB_LIT("],\"ttl\":");
	ob_u64(o->ttl);
	OB_LIT(",\"window\":");
	ob_u64(o->window);
	if (family == AF_INET) {
		OB_LIT(",\"ip_id\":");
		ob_u64(o->ip_id);
		ob_chr('}');
	} else {
		OB_LIT(",\"ip_id\":null}");
	}
}

static const char *outcome_name(unsigned int o)
{
	switch (o) {
	case TCPTRACE_HS_ESTABLISHED:
		return "established";
	case TCPTRACE_HS_RESET:
		return "reset";
	case TCPTRACE_HS_FAILED:
		return "failed";
	case TCPTRACE_HS_TIMEOUT:
		return "timeout";
	}
	return "unknown";
}

static const char *role_name(unsigned int r)
{
	return r == TCPTRACE_ROLE_CLIENT ? "client" :
	       r == TCPTRACE_ROLE_SERVER ? "server" : "unknown";
}

static void print_handshake(const struct tcptrace_handshake_rec *r)
{
	bool est = r->outcome == TCPTRACE_HS_ESTABLISHED;

	ob_line();
	if (opt.json) {
		ob_json_head("handshake", NULL, &r->hdr, r->netns_ino,
			     r->netns_cookie, r->sock_cookie, r->family);
		OB_LIT(",\"role\":\"");
		ob_str(role_name(r->role));
		OB_LIT("\",\"outcome\":\"");
		ob_str(outcome_name(r->outcome));
		ob_chr('"');
		ob_json_ends(r->family, r->saddr, r->sport, r->daddr,
			     r->dport);
		json_opts("syn_opts", &r->syn, r->family);
		json_opts("synack_opts", &r->synack, r->family);
		if (est) {
			OB_LIT(",\"agreed\":{\"mss\":");
			ob_u64(r->mss);
			OB_LIT(",\"advmss\":");
			ob_u64(r->advmss);
			OB_LIT(",\"peer_mss\":");
			ob_u64(r->peer_mss);
			if (r->agreed & TCPTRACE_AGREED_WSCALE) {
				OB_LIT(",\"snd_wscale\":");
				ob_u64(r->snd_wscale);
				OB_LIT(",\"rcv_wscale\":");
				ob_u64(r->rcv_wscale);
			} else {
				OB_LIT(",\"snd_wscale\":null,\"rcv_wscale\":null");
			}
			OB_LIT(",\"ts\":");
			ob_bool(r->agreed & TCPTRACE_AGREED_TS);
			OB_LIT(",\"sack\":");
			ob_bool(r->agreed & TCPTRACE_AGREED_SACK);
			OB_LIT(",\"ecn\":");
			ob_bool(r->agreed & TCPTRACE_AGREED_ECN);
			ob_chr('}');
		} else {
			OB_LIT(",\"agreed\":null");
		}
		OB_LIT(",\"done_ns\":");
		ob_u64(r->done_ns);
		OB_LIT(",\"syn_retrans\":");
		ob_u64(r->syn_retrans);
		OB_LIT(",\"synack_retrans\":");
		ob_u64(r->synack_retrans);
		ob_json_cgroup(tt_hs_cgroup_id(r),
			       cg_lookup(tt_hs_cgroup_id(r)));
		OB_LIT("}\n");
		return;
	}

	/*
	 * "handshake %s%s%s%s: offered: %s | answered: %s%s": outcome, how
	 * long, retransmissions, both ends' options, what was agreed
	 */
	ob_text_head(r->hdr.ts_ns, r->netns_ino, role_name(r->role),
		     strlen(role_name(r->role)), 22, r->family, r->saddr,
		     r->sport, r->daddr, r->dport);
	OB_LIT("handshake ");
	ob_str(outcome_name(r->outcome));
	if (r->syn.seen_ns && r->done_ns >= r->syn.seen_ns) {
		OB_LIT(" in ");
		ob_ms3(r->done_ns - r->syn.seen_ns);
		OB_LIT(" ms");
	}
	if (r->syn_retrans)
		OB_LIT(" (SYN retransmitted)");
	if (r->synack_retrans)
		OB_LIT(" (SYN-ACK retransmitted)");
	OB_LIT(": offered: ");
	if (r->syn.seen_ns)
		ob_opts(&r->syn);
	else
		OB_LIT("(not seen)");
	OB_LIT(" | answered: ");
	if (r->synack.seen_ns)
		ob_opts(&r->synack);
	else
		OB_LIT("(none)");
	if (est) {
		OB_LIT(" | agreed: ");
		if (r->agreed & TCPTRACE_AGREED_WSCALE) {
			OB_LIT("wscale ");
			ob_u64(r->snd_wscale);
			ob_chr('/');
			ob_u64(r->rcv_wscale);
		} else {
			OB_LIT("wscale-off");
		}
		if (r->agreed & TCPTRACE_AGREED_TS)
			OB_LIT(" ts");
		else
			OB_LIT(" ts-off");
		if (r->agreed & TCPTRACE_AGREED_SACK)
			OB_LIT(" sack");
		else
			OB_LIT(" sack-off");
		if (r->agreed & TCPTRACE_AGREED_ECN)
			OB_LIT(" ecn");
		else
			OB_LIT(" ecn-off");
		OB_LIT(" mss ");
		ob_u64(r->mss);
	}
	ob_chr('\n');
}

/* --- diagnoses ------------------------------------------------------ */

static const char *const diag_names[] = {
	[TCPTRACE_DIAG_SYN_UNANSWERED] = "syn_unanswered",
	[TCPTRACE_DIAG_NO_SYNACK] = "no_synack",
	[TCPTRACE_DIAG_RST_OUT] = "rst_out",
	[TCPTRACE_DIAG_RST_IN] = "rst_in",
	[TCPTRACE_DIAG_SIM_OPEN] = "simultaneous_open",
	[TCPTRACE_DIAG_SIM_CLOSE] = "simultaneous_close",
	[TCPTRACE_DIAG_TIME_WAIT] = "time_wait",
	[TCPTRACE_DIAG_TIME_WAIT_END] = "time_wait_end",
	[TCPTRACE_DIAG_SYN_ON_CONN] = "syn_on_connection",
	[TCPTRACE_DIAG_DATA_DROPPED] = "data_dropped",
	[TCPTRACE_DIAG_FWD_DROPPED] = "fwd_dropped",
};

static const char *const cause_names[] = {
	[TCPTRACE_CAUSE_NONE] = "none",
	[TCPTRACE_CAUSE_DROP_REASON] = "drop_reason",
	[TCPTRACE_CAUSE_LISTEN_OVERFLOW] = "listen_overflow",
	[TCPTRACE_CAUSE_PAWS] = "paws",
	[TCPTRACE_CAUSE_UNANSWERED] = "unanswered",
	[TCPTRACE_CAUSE_NO_SOCKET] = "no_socket",
	[TCPTRACE_CAUSE_HALF_OPEN] = "half_open",
	[TCPTRACE_CAUSE_LINGER] = "linger_abort",
	[TCPTRACE_CAUSE_ABORT] = "abort",
	[TCPTRACE_CAUSE_BAD_SEGMENT] = "bad_segment",
	[TCPTRACE_CAUSE_EXPIRED] = "expired",
	[TCPTRACE_CAUSE_REUSED] = "reused",
	[TCPTRACE_CAUSE_KILLED] = "killed",
	[TCPTRACE_CAUSE_REJECT] = "firewall_reject",
	[TCPTRACE_CAUSE_TW_REFUSED] = "time_wait_refused",
	[TCPTRACE_CAUSE_CHALLENGE_ACK] = "challenge_ack",
	[TCPTRACE_CAUSE_SYN_QUEUE_FULL] = "syn_queue_full",
};

#define NAME_OR(tab, i, dflt) \
	((i) < ARRAY_SIZE(tab) && (tab)[i] ? (tab)[i] : (dflt))

static const char *diag_name(unsigned int k)
{
	return NAME_OR(diag_names, k, "unknown");
}

static const char *cause_name(unsigned int c)
{
	return NAME_OR(cause_names, c, "unknown");
}

/*
 * Segments of a connection, or packets this namespace forwards, dropped
 * for one reason, @secs from the first to the last.
 */
static void diag_drops_explain(const struct tcptrace_diag_rec *d, char *out,
			       size_t len, double secs)
{
	const struct tt_explain *ex = tt_explain_drop(d->reason,
						      sizeof(d->reason));
	const char *s = d->count == 1 ? "" : "s";
	char what[768], src[INET6_ADDRSTRLEN], other[64] = "";
	unsigned int n = tt_diag_count_other(d);
	const char *them = d->count == 1 ? "it" : n ? "the first" : "them";

	if (n)
		snprintf(other, sizeof(other), "; %u of them for other reasons "
			 "than the first's", n);
	if (d->kind == TCPTRACE_DIAG_DATA_DROPPED) {
		snprintf(what, sizeof(what), "%u segment%s of this connection "
			 "dropped on the way in (%.1fs%s)", d->count, s, secs,
			 other);
	} else if (tt_diag_mtu(d)) {
		fmt_addr(d->family, d->saddr, src, sizeof(src));
		snprintf(what, sizeof(what), "%u packet%s from %s dropped "
			 "while forwarding (%.1fs%s): larger than the MTU %u of "
			 "the route out, with Don't Fragment set; the sender "
			 "is told to send smaller ones (ICMP fragmentation "
			 "needed). %s", d->count, s, src, secs, other,
			 tt_diag_mtu(d), secs >= 1.0 ? "They kept coming at "
			 "full size: the sender does not get that ICMP "
			 "(filtered on the way back: a path MTU black hole)" :
			 "If they keep coming at full size, that ICMP does not "
			 "reach the sender (a path MTU black hole)");
	} else {
		snprintf(what, sizeof(what), "%u packet%s of this flow dropped "
			 "while forwarding (%.1fs%s)", d->count, s, secs, other);
	}
	if (ex)
		snprintf(out, len, "%s: the kernel dropped %s: %.32s: %s. "
			 "Check: %s", what, them, d->reason, ex->meaning,
			 ex->check);
	else
		snprintf(out, len, "%s: the kernel dropped %s: %.32s", what,
			 them, d->reason);
}

/* The one-line plain explanation of a diagnosis, without its suffixes. */
static void diag_explain_base(const struct tcptrace_diag_rec *d, char *out,
			      size_t len)
{
	const struct tt_explain *ex;
	char st[24];
	double secs = d->duration_ns / 1e9;

	state_str(d->state, st, sizeof(st));
	switch (d->kind) {
	case TCPTRACE_DIAG_SYN_UNANSWERED:
		switch (d->cause) {
		case TCPTRACE_CAUSE_DROP_REASON:
			ex = tt_explain_drop(d->reason, sizeof(d->reason));
			if (ex)
				snprintf(out, len, "SYN arrived, no SYN-ACK "
					 "left (%.1fs): the kernel dropped it: "
					 "%.32s: %s. Check: %s", secs,
					 d->reason, ex->meaning, ex->check);
			else
				snprintf(out, len, "SYN arrived, no SYN-ACK "
					 "left (%.1fs): the kernel dropped it: "
					 "%.32s", secs, d->reason);
			return;
		case TCPTRACE_CAUSE_LISTEN_OVERFLOW:
			snprintf(out, len, "SYN arrived, no SYN-ACK left "
				 "(%.1fs): the listener's accept queue is full "
				 "(the SYN met it full): the application is "
				 "not calling accept() fast enough, or its "
				 "listen() backlog (capped by "
				 "net.core.somaxconn) is too small", secs);
			return;
		case TCPTRACE_CAUSE_SYN_QUEUE_FULL:
			snprintf(out, len, "SYN arrived, no SYN-ACK left "
				 "(%.1fs): the listener's SYN queue (handshakes "
				 "not finished yet) is full and SYN cookies are "
				 "off (net.ipv4.tcp_syncookies=0): a SYN flood, "
				 "or clients that never finish handshakes. "
				 "Check: turn tcp_syncookies on (1), or raise "
				 "the listen() backlog and "
				 "net.ipv4.tcp_max_syn_backlog", secs);
			return;
		case TCPTRACE_CAUSE_PAWS:
			snprintf(out, len, "SYN on a tuple still in %s here, "
				 "with an older timestamp than that "
				 "connection's last (PAWS): the server answered "
				 "with an ACK, not a SYN-ACK (%u SYN%s, %.1fs). "
				 "Typical of several clients behind one NAT; "
				 "turning off tcp_timestamps hides it", st,
				 d->count, d->count == 1 ? "" : "s", secs);
			return;
		case TCPTRACE_CAUSE_TW_REFUSED:
			if (d->state != 6)	/* TCP_TIME_WAIT */
				snprintf(out, len, "SYN on a tuple whose old "
					 "connection is still closing here "
					 "(orphaned %s): answered with an ACK "
					 "or RST, not a SYN-ACK (%u SYN%s, "
					 "%.1fs)", st, d->count,
					 d->count == 1 ? "" : "s", secs);
			else
				snprintf(out, len, "SYN on a tuple still in "
					 "TIME_WAIT here, its sequence number "
					 "not above that connection's and no "
					 "newer timestamp: taken for an old "
					 "duplicate, answered with an ACK, not "
					 "a SYN-ACK (%u SYN%s, %.1fs). The "
					 "client reuses ports faster than "
					 "TIME_WAIT ends", d->count,
					 d->count == 1 ? "" : "s", secs);
			return;
		default:
			snprintf(out, len, "SYN arrived, no SYN-ACK left "
				 "(%.1fs): seen on the way in, never answered, "
				 "no drop reason recorded", secs);
			return;
		}
	case TCPTRACE_DIAG_NO_SYNACK:
		snprintf(out, len, "no SYN-ACK after %u tr%s (%.1fs): the SYN "
			 "or its answer is lost on the way (firewall, route, "
			 "server down)", d->count, d->count == 1 ? "y" : "ies",
			 secs);
		return;
	case TCPTRACE_DIAG_RST_OUT:
		switch (d->cause) {
		case TCPTRACE_CAUSE_NO_SOCKET:
			snprintf(out, len, "RST sent: nothing listens on port "
				 "%u (closed port, no socket)", d->sport);
			return;
		case TCPTRACE_CAUSE_HALF_OPEN:
			snprintf(out, len, "RST sent: a segment for a "
				 "connection this host does not know (half-open: "
				 "this end lost its state, the peer did not)");
			return;
		case TCPTRACE_CAUSE_REJECT:
			snprintf(out, len, "RST sent by a firewall rule on this "
				 "host (reject with tcp reset), in the name of "
				 "the other end: the endpoint never sent it");
			return;
		case TCPTRACE_CAUSE_LINGER:
			snprintf(out, len, "RST sent in %s: close() with "
				 "SO_LINGER {1, 0} aborts the connection", st);
			return;
		case TCPTRACE_CAUSE_ABORT:
			snprintf(out, len, "RST sent in %s: the connection was "
				 "aborted (unread data at close, ss -K, or an "
				 "error)", st);
			return;
		default:
			snprintf(out, len, "RST sent: reply to a segment not "
				 "valid for the socket in %s", st);
			return;
		}
	case TCPTRACE_DIAG_RST_IN:
		if (d->flags & TCPTRACE_DF_MIDDLEBOX)
			snprintf(out, len, "RST received in %s: RST likely "
				 "injected by a middlebox (TTL %u vs %u of the "
				 "peer's packets)", st, d->ttl_seen,
				 d->ttl_expected);
		else if (d->cause == TCPTRACE_CAUSE_HALF_OPEN)
			snprintf(out, len, "RST received in %s: the peer does "
				 "not know this connection (half-open: it "
				 "answered our data with RST, it lost its "
				 "state)", st);
		else if (d->state == 2)	/* TCP_SYN_SENT */
			snprintf(out, len, "RST received in SYN_SENT: "
				 "connection refused");
		else
			snprintf(out, len, "RST received in %s", st);
		return;
	case TCPTRACE_DIAG_SIM_OPEN:
		snprintf(out, len, "simultaneous open: both ends sent a SYN "
			 "(normal, not an error)");
		return;
	case TCPTRACE_DIAG_SIM_CLOSE:
		snprintf(out, len, "simultaneous close: both ends sent a FIN "
			 "(normal, not an error)");
		return;
	case TCPTRACE_DIAG_TIME_WAIT:
		snprintf(out, len, "entered TIME_WAIT from %s for %.0fs: this "
			 "address/port pair stays busy until then (bind() "
			 "without SO_REUSEADDR fails: Address already in use)",
			 st, secs);
		return;
	case TCPTRACE_DIAG_TIME_WAIT_END:
		snprintf(out, len, "left TIME_WAIT after %.1fs: %s", secs,
			 d->cause == TCPTRACE_CAUSE_EXPIRED ? "expired" :
			 d->cause == TCPTRACE_CAUSE_REUSED ?
			 "reused by a new connection" : "killed early");
		return;
	case TCPTRACE_DIAG_SYN_ON_CONN:
		if (d->cause == TCPTRACE_CAUSE_PAWS)
			snprintf(out, len, "SYN for a connection still %s "
				 "here, with an older timestamp than its last "
				 "(PAWS): dropped, answered with an ACK, not a "
				 "SYN-ACK. Another client behind the same NAT, "
				 "or the peer reconnecting from a port this "
				 "host still has open", st);
		else
			snprintf(out, len, "SYN for a connection still %s "
				 "here: answered with a challenge ACK, not a "
				 "SYN-ACK (RFC 5961). A duplicate or forged "
				 "SYN, or the peer lost the connection and "
				 "reconnects from the same port (half-open)",
				 st);
		return;
	case TCPTRACE_DIAG_DATA_DROPPED:
	case TCPTRACE_DIAG_FWD_DROPPED:
		diag_drops_explain(d, out, len, secs);
		return;
	}
	snprintf(out, len, "diagnosis %u", d->kind);
}

/*
 * The one-line plain explanation of a diagnosis; for an RST this host
 * sent, the kernel's own reset reason, or that the kernel gives none.
 */
static void diag_explain(const struct tcptrace_diag_rec *d, char *out,
			 size_t len)
{
	const struct tt_explain *ex;
	size_t n;

	diag_explain_base(d, out, len);
	n = strlen(out);
	if (d->flags & TCPTRACE_DF_NO_DROP_REASON)
		snprintf(out + n, len - n, " [this kernel gives no drop "
			 "reasons: before Linux 5.17]");
	if (d->kind != TCPTRACE_DIAG_RST_OUT)
		return;
	n = strlen(out);
	ex = tt_explain_reset(d->reason, sizeof(d->reason));
	if ((d->flags & TCPTRACE_DF_RST_REASON) && ex)
		snprintf(out + n, len - n, " [kernel reset reason: %.32s: %s. "
			 "Check: %s]", d->reason, ex->meaning, ex->check);
	else if (d->flags & TCPTRACE_DF_RST_REASON)
		snprintf(out + n, len - n, " [kernel reset reason: %.32s]",
			 d->reason);
	else if (d->flags & TCPTRACE_DF_NO_RST_REASON)
		snprintf(out + n, len - n, " [no kernel reset reason before "
			 "Linux 6.10]");
}

/* The explanation of the kernel's reason a diagnosis names, if known. */
static const struct tt_explain *
diag_reason_explained(const struct tcptrace_diag_rec *d)
{
	if ((d->kind == TCPTRACE_DIAG_SYN_UNANSWERED ||
	     d->kind == TCPTRACE_DIAG_DATA_DROPPED ||
	     d->kind == TCPTRACE_DIAG_FWD_DROPPED) &&
	    d->cause == TCPTRACE_CAUSE_DROP_REASON)
		return tt_explain_drop(d->reason, sizeof(d->reason));
	if (d->kind == TCPTRACE_DIAG_RST_OUT &&
	    (d->flags & TCPTRACE_DF_RST_REASON))
		return tt_explain_reset(d->reason, sizeof(d->reason));
	return NULL;
}

/* printf to the end of the string in @buf (@len bytes in all) */
static void __attribute__((format(printf, 3, 4)))
str_append(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

/*
 * The sysctls whose values an explanation calls for, or NULL: a drop
 * reason's (explain.c), or those the causes the module finds name.
 */
static const char *diag_facts_names(const struct tcptrace_diag_rec *d)
{
	if (d->kind == TCPTRACE_DIAG_DATA_DROPPED ||
	    d->kind == TCPTRACE_DIAG_FWD_DROPPED)
		return tt_explain_drop_facts(d->reason, sizeof(d->reason));
	if (d->kind != TCPTRACE_DIAG_SYN_UNANSWERED)
		return NULL;
	switch (d->cause) {
	case TCPTRACE_CAUSE_DROP_REASON:
		return tt_explain_drop_facts(d->reason, sizeof(d->reason));
	case TCPTRACE_CAUSE_UNANSWERED:
		/* no drop reason from this kernel: the usual suspects' */
		if (d->flags & TCPTRACE_DF_NO_DROP_REASON)
			return "net.netfilter.nf_conntrack_count "
			       "net.netfilter.nf_conntrack_max "
			       "stat:nf_conntrack:invalid "
			       "mib:netstat:TcpExt:IPReversePathFilter "
			       "net.ipv4.conf.*.rp_filter "
			       "net.ipv4.tcp_syncookies";
		break;
	case TCPTRACE_CAUSE_LISTEN_OVERFLOW:
		return "net.core.somaxconn mib:netstat:TcpExt:ListenOverflows "
		       "mib:netstat:TcpExt:ListenDrops";
	case TCPTRACE_CAUSE_SYN_QUEUE_FULL:
		return "net.ipv4.tcp_syncookies net.ipv4.tcp_max_syn_backlog "
		       "net.core.somaxconn mib:netstat:TcpExt:TCPReqQFullDrop";
	case TCPTRACE_CAUSE_PAWS:
		return "net.ipv4.tcp_timestamps";
	case TCPTRACE_CAUSE_TW_REFUSED:
		return "net.ipv4.tcp_tw_reuse";
	}
	return NULL;
}

/*
 * A SYN that got no SYN-ACK, dropped by the kernel or with no reason
 * known (the kernel gives none where it finds no route for the SYN-ACK):
 * the route back to the client is worth a look.
 */
static bool diag_wants_route(const struct tcptrace_diag_rec *d)
{
	return d->kind == TCPTRACE_DIAG_SYN_UNANSWERED &&
	       (d->cause == TCPTRACE_CAUSE_UNANSWERED ||
		d->cause == TCPTRACE_CAUSE_DROP_REASON);
}

/*
 * Those values and that route now, in the record's namespace: live
 * traces only (a capture file's namespaces are another moment's).
 */
static const struct tt_nsfacts *diag_facts(const struct tcptrace_diag_rec *d)
{
	static const uint8_t zero[sizeof(d->daddr)];
	const char *names = diag_facts_names(d);
	const struct tt_nsfacts *f;
	struct tt_nsquery q = { 0 };

	if (opt.input)
		return NULL;
	if (d->kind == TCPTRACE_DIAG_SYN_UNANSWERED ||
	    d->kind == TCPTRACE_DIAG_DATA_DROPPED ||
	    d->kind == TCPTRACE_DIAG_FWD_DROPPED)
		q.iif = tt_diag_in_ifindex(d);
	if (d->kind == TCPTRACE_DIAG_FWD_DROPPED)
		q.oif = tt_diag_out_ifindex(d);
	if (d->family == AF_INET || d->family == AF_INET6) {
		q.family = d->family;
		memcpy(q.local, d->saddr, sizeof(q.local));
		memcpy(q.remote, d->daddr, sizeof(q.remote));
		q.sport = d->sport;
		q.dport = d->dport;
	}
	/* a peer of 0.0.0.0 or :: (a martian) has no route to ask about */
	q.route = q.family && diag_wants_route(d) &&
		  memcmp(d->daddr, zero, sizeof(zero));
	/* a listener's queues, where they are the cause */
	if (q.family && d->kind == TCPTRACE_DIAG_SYN_UNANSWERED &&
	    (d->cause == TCPTRACE_CAUSE_LISTEN_OVERFLOW ||
	     d->cause == TCPTRACE_CAUSE_SYN_QUEUE_FULL))
		q.lport = d->sport;
	if (!names && !q.route && !q.iif && !q.oif && !q.lport)
		return NULL;
	/* the ends only where asked about: else they would split the cache */
	if (!q.route && !q.lport) {
		q.family = 0;
		memset(q.local, 0, sizeof(q.local));
		memset(q.remote, 0, sizeof(q.remote));
		q.sport = 0;
		q.dport = 0;
	}
	f = tt_nsfacts(d->netns_ino, d->netns_cookie, names, &q);
	if (tt_nsfacts_stuck())
		die(EX_RUNTIME, "%s: %s", tt_nsfacts_stuck(), strerror(errno));
	return f;
}

static void print_diag(const struct tcptrace_diag_rec *d)
{
	const struct tt_nsfacts *facts;
	const struct tt_explain *ex;
	char why[1024], peer[INET6_ADDRSTRLEN], local[INET6_ADDRSTRLEN];
	const char *sep;
	int i, nf;

	diag_explain(d, why, sizeof(why));
	facts = diag_facts(d);
	if (facts) {
		str_append(why, sizeof(why), " [now in its netns:");
		sep = " ";
		if (facts->iif_name[0]) {
			str_append(why, sizeof(why), " %s in on %s",
				   d->kind == TCPTRACE_DIAG_SYN_UNANSWERED ?
				   "SYN came" : "came", facts->iif_name);
			sep = ", ";
		}
		if (facts->oif_name[0]) {
			str_append(why, sizeof(why), "%sroute out by %s", sep,
				   facts->oif_name);
			sep = ", ";
		}
		if (facts->have_listener) {
			str_append(why, sizeof(why), "%slistener: %u in its "
				   "accept queue, listen() backlog %u", sep,
				   facts->accept_queue, facts->backlog);
			sep = ", ";
		}
		for (i = 0; i < facts->n; i++, sep = ", ")
			str_append(why, sizeof(why), "%s%s=%s", sep,
				   facts->f[i].name, facts->f[i].value);
		fmt_addr(d->family, d->daddr, peer, sizeof(peer));
		if (facts->route[0])
			str_append(why, sizeof(why), "%sroute back to %s: %s",
				   sep, peer, facts->route);
		str_append(why, sizeof(why), "]");
	}
	nf = facts ? facts->n : 0;
	/* the kernel gives no reason when the SYN-ACK has no route out */
	if (facts && !strncmp(facts->route, "none", 4) &&
	    d->cause == TCPTRACE_CAUSE_UNANSWERED) {
		fmt_addr(d->family, d->saddr, local, sizeof(local));
		str_append(why, sizeof(why), ": no route leads back to the "
			   "client, so no SYN-ACK can leave (unless an ip "
			   "rule by fwmark or uid routes it). Check: ip route "
			   "get %s from %s in that netns (a missing return "
			   "or default route, ip rule)", peer, local);
	}
	ob_line();
	if (!opt.json) {
		ob_text_head(d->hdr.ts_ns, d->netns_ino, "[diag]", 6, 22,
			     d->family, d->saddr, d->sport, d->daddr,
			     d->dport);
		ob_str(why);
		ob_chr('\n');
		return;
	}
	ob_json_head("diag", diag_name(d->kind), &d->hdr, d->netns_ino,
		     d->netns_cookie, d->sock_cookie, d->family);
	ob_json_ends(d->family, d->saddr, d->sport, d->daddr,
		     d->dport);
	OB_LIT(",\"state\":");
	if (d->state) {
		ob_chr('"');
		ob_state(d->state);
		ob_chr('"');
	} else {
		OB_LIT("null");
	}
	OB_LIT(",\"cause\":\"");
	ob_str(cause_name(d->cause));
	OB_LIT("\",\"reason\":");
	if (d->reason[0])
		ob_jstr(d->reason, sizeof(d->reason));
	else
		OB_LIT("null");
	OB_LIT(",\"count\":");
	ob_u64(d->count);
	OB_LIT(",\"duration_ns\":");
	ob_u64(d->duration_ns);
	OB_LIT(",\"no_drop_reason\":");
	ob_bool(d->flags & TCPTRACE_DF_NO_DROP_REASON);
	OB_LIT(",\"middlebox\":");
	ob_bool(d->flags & TCPTRACE_DF_MIDDLEBOX);
	if (d->ttl_seen) {
		OB_LIT(",\"ttl_seen\":");
		ob_u64(d->ttl_seen);
		OB_LIT(",\"ttl_expected\":");
		ob_u64(d->ttl_expected);
	} else {
		OB_LIT(",\"ttl_seen\":null,\"ttl_expected\":null");
	}
	ex = diag_reason_explained(d);
	OB_LIT(",\"meaning\":");
	if (ex)
		ob_jstr(ex->meaning, strlen(ex->meaning));
	else
		OB_LIT("null");
	OB_LIT(",\"check\":");
	if (ex)
		ob_jstr(ex->check, strlen(ex->check));
	else
		OB_LIT("null");
	OB_LIT(",\"sysctls\":");
	if (!nf)
		OB_LIT("null");
	for (i = 0; i < nf; i++) {
		ob_chr(i ? ',' : '{');
		ob_jstr(facts->f[i].name, sizeof(facts->f[i].name));
		ob_chr(':');
		ob_jstr(facts->f[i].value, sizeof(facts->f[i].value));
	}
	if (nf)
		ob_chr('}');
	OB_LIT(",\"in_ifindex\":");
	ob_u64_or_null(tt_diag_in_ifindex(d));
	OB_LIT(",\"in_dev\":");
	if (facts && facts->iif_name[0])
		ob_jstr(facts->iif_name, sizeof(facts->iif_name));
	else
		OB_LIT("null");
	OB_LIT(",\"out_ifindex\":");
	ob_u64_or_null(tt_diag_out_ifindex(d));
	OB_LIT(",\"out_dev\":");
	if (facts && facts->oif_name[0])
		ob_jstr(facts->oif_name, sizeof(facts->oif_name));
	else
		OB_LIT("null");
	OB_LIT(",\"mtu\":");
	ob_u64_or_null(tt_diag_mtu(d));
	OB_LIT(",\"count_other\":");
	ob_u64(tt_diag_count_other(d));
	OB_LIT(",\"listener\":");
	if (facts && facts->have_listener) {
		OB_LIT("{\"accept_queue\":");
		ob_u64(facts->accept_queue);
		OB_LIT(",\"backlog\":");
		ob_u64(facts->backlog);
		ob_chr('}');
	} else {
		OB_LIT("null");
	}
	OB_LIT(",\"route_back\":");
	if (facts && facts->route[0])
		ob_jstr(facts->route, sizeof(facts->route));
	else
		OB_LIT("null");
	OB_LIT(",\"explain\":");
	ob_jstr(why, sizeof(why));
	ob_json_cgroup(tt_diag_cgroup_id(d), cg_lookup(tt_diag_cgroup_id(d)));
	OB_LIT("}\n");
}

/* --- tcpwhy conns: one line per finished connection ---------------- */

#define NSTATES 14

struct conn {
	uint64_t cookie;
	uint64_t first_ns, since_ns;
	uint64_t in_state[NSTATES];
	unsigned int cur;
	int role;			/* 0 unknown */
	bool established, have_agreed;
	struct tcptrace_handshake_rec hs;
	unsigned int diags;		/* bit per kind */
	unsigned int rst_out_cause;
	struct conn *next;
};

#define CONNTAB 4096
static struct conn *conntab[CONNTAB];

static struct conn **conn_slot(uint64_t cookie)
{
	struct conn **p = &conntab[(cookie * 0x9E3779B97F4A7C15ull) >> 52];

	while (*p && (*p)->cookie != cookie)
		p = &(*p)->next;
	return p;
}

static struct conn *conn_get(uint64_t cookie, uint64_t ts)
{
	struct conn **p = conn_slot(cookie);

	if (!*p) {
		*p = calloc(1, sizeof(**p));
		if (!*p)
			die(EX_RUNTIME, "out of memory");
		(*p)->cookie = cookie;
		(*p)->first_ns = ts;
		(*p)->since_ns = ts;
	}
	return *p;
}

static void conn_state(const struct tcptrace_state_rec *r)
{
	struct conn *c;

	/* listeners (CLOSE -> LISTEN -> CLOSE) are not connections */
	if (!r->sock_cookie || r->new_state == 10 ||
	    (r->old_state == 10 && r->new_state == 7))
		return;
	/* the end of TIME_WAIT comes after the connection's line */
	if (r->old_state == 6)
		return;
	c = conn_get(r->sock_cookie, r->hdr.ts_ns);
	if (c->cur && c->cur < NSTATES && r->hdr.ts_ns >= c->since_ns)
		c->in_state[c->cur] += r->hdr.ts_ns - c->since_ns;
	c->cur = r->new_state;
	c->since_ns = r->hdr.ts_ns;
	if (r->new_state == 1)
		c->established = true;
}

static const char *conn_end(const struct conn *c,
			    const struct tcptrace_conn_rec *r)
{
	bool handshake = r->old_state == 2;	/* closed from SYN_SENT */

	if (c->diags & (1u << TCPTRACE_DIAG_NO_SYNACK))
		return "timeout";
	if (c->diags & (1u << TCPTRACE_DIAG_RST_IN))
		return handshake ? "refused" : "rst_in";
	if (c->diags & (1u << TCPTRACE_DIAG_RST_OUT))
		return c->rst_out_cause == TCPTRACE_CAUSE_ABORT ||
		       c->rst_out_cause == TCPTRACE_CAUSE_LINGER ?
		       "aborted" : "rst_out";
	if (handshake)
		return "failed";
	return "fin";
}

/* States a connection lives through, in lifecycle order. */
static const unsigned char conn_states[] = {
	/*
	 * SYN_SENT SYN_RECV ESTABLISHED FIN_WAIT1 FIN_WAIT2 CLOSE_WAIT
	 * LAST_ACK CLOSING
	 */
	2, 3, 1, 4, 5, 8, 9, 11,
};

static void print_conn(const struct tcptrace_conn_rec *r)
{
	struct conn **p = conn_slot(r->sock_cookie), *c = *p;
	struct ends e = ENDS_OF(r);
	unsigned int i;
	bool first = true;

	if (!c)
		c = conn_get(r->sock_cookie, r->hdr.ts_ns);
	if (c->cur && c->cur < NSTATES && r->hdr.ts_ns >= c->since_ns)
		c->in_state[c->cur] += r->hdr.ts_ns - c->since_ns;
	if (ends_match(&e) && cg_match(tt_conn_cgroup_id(r))) {
		const char *end = conn_end(c, r);

		ob_line();
		if (opt.json) {
			OB_LIT("{\"type\":\"conn\",\"ts_ns\":");
			ob_u64(r->hdr.ts_ns);
			OB_LIT(",\"sock\":");
			ob_u64(r->sock_cookie);
			OB_LIT(",\"netns\":");
			ob_u64(r->netns_ino);
			OB_LIT(",\"netns_cookie\":");
			ob_u64(r->netns_cookie);
			OB_LIT(",\"family\":");
			ob_chr(r->family == AF_INET ? '4' : '6');
			OB_LIT(",\"role\":");
			if (c->role) {
				ob_chr('"');
				ob_str(role_name(c->role));
				ob_chr('"');
			} else {
				OB_LIT("null");
			}
			ob_json_ends(r->family, r->saddr, r->sport, r->daddr,
				     r->dport);
			OB_LIT(",\"duration_ns\":");
			ob_u64(r->hdr.ts_ns - c->first_ns);
			OB_LIT(",\"states\":{");
			for (i = 0; i < sizeof(conn_states); i++) {
				unsigned int k = conn_states[i];

				if (!c->in_state[k])
					continue;
				if (!first)
					ob_chr(',');
				ob_chr('"');
				ob_state(k);
				OB_LIT("\":");
				ob_u64(c->in_state[k]);
				first = false;
			}
			OB_LIT("},\"bytes_sent\":");
			ob_u64(r->bytes_sent);
			OB_LIT(",\"bytes_received\":");
			ob_u64(r->bytes_received);
			OB_LIT(",\"segs_out\":");
			ob_u64(r->segs_out);
			OB_LIT(",\"segs_in\":");
			ob_u64(r->segs_in);
			OB_LIT(",\"retrans\":");
			ob_u64(r->total_retrans);
			OB_LIT(",\"syn_retrans\":");
			ob_u64(c->have_agreed ? c->hs.syn_retrans : 0);
			OB_LIT(",\"end\":\"");
			ob_str(end);
			OB_LIT("\",\"agreed\":");
			if (c->have_agreed)
				ob_printf("{\"snd_wscale\":%d,\"rcv_wscale\":%d,"
					  "\"ts\":%s,\"sack\":%s,\"ecn\":%s,"
					  "\"mss\":%u}",
					  c->hs.agreed & TCPTRACE_AGREED_WSCALE ?
					  c->hs.snd_wscale : -1,
					  c->hs.agreed & TCPTRACE_AGREED_WSCALE ?
					  c->hs.rcv_wscale : -1,
					  c->hs.agreed & TCPTRACE_AGREED_TS ?
					  "true" : "false",
					  c->hs.agreed & TCPTRACE_AGREED_SACK ?
					  "true" : "false",
					  c->hs.agreed & TCPTRACE_AGREED_ECN ?
					  "true" : "false", c->hs.mss);
			else
				OB_LIT("null");
			OB_LIT(",\"diags\":[");
			first = true;
			for (i = 1; i < 32; i++) {
				if (!(c->diags & (1u << i)))
					continue;
				if (!first)
					ob_chr(',');
				ob_chr('"');
				ob_str(diag_name(i));
				ob_chr('"');
				first = false;
			}
			ob_chr(']');
			ob_json_cgroup(tt_conn_cgroup_id(r),
				       cg_lookup(tt_conn_cgroup_id(r)));
			OB_LIT("}\n");
		} else {
			/*
			 * "%.3f ms, sent %llu B, received %llu B, %u retrans,
			 * end: %s", then time in each state and the diagnoses
			 */
			const char *who = c->role ? role_name(c->role) : "?";

			ob_text_head(r->hdr.ts_ns, r->netns_ino, who,
				     strlen(who), 6, r->family, r->saddr,
				     r->sport, r->daddr, r->dport);
			ob_ms3(r->hdr.ts_ns - c->first_ns);
			OB_LIT(" ms, sent ");
			ob_u64(r->bytes_sent);
			OB_LIT(" B, received ");
			ob_u64(r->bytes_received);
			OB_LIT(" B, ");
			ob_u64(r->total_retrans);
			OB_LIT(" retrans, end: ");
			ob_str(end);
			for (i = 0; i < sizeof(conn_states); i++) {
				unsigned int k = conn_states[i];

				if (!c->in_state[k])
					continue;
				if (first)
					OB_LIT(" | ");
				else
					OB_LIT(", ");
				ob_state(k);
				ob_chr(' ');
				ob_ms3(c->in_state[k]);
				OB_LIT("ms");
				first = false;
			}
			for (i = 1; i < 32; i++) {
				if (c->diags & (1u << i)) {
					OB_LIT(" [");
					ob_str(diag_name(i));
					ob_chr(']');
				}
			}
			ob_chr('\n');
		}
	}
	*conn_slot(r->sock_cookie) = c->next;
	free(c);
}

static void conn_handshake(const struct tcptrace_handshake_rec *r)
{
	struct conn *c;

	if (!r->sock_cookie)
		return;
	c = conn_get(r->sock_cookie, r->hdr.ts_ns);
	c->role = r->role;
	c->hs = *r;
	c->have_agreed = r->outcome == TCPTRACE_HS_ESTABLISHED;
}

static void conn_diag(const struct tcptrace_diag_rec *d)
{
	struct conn *c;

	if (!d->sock_cookie || d->kind >= 32)
		return;
	c = conn_get(d->sock_cookie, d->hdr.ts_ns);
	c->diags |= 1u << d->kind;
	if (d->kind == TCPTRACE_DIAG_RST_OUT)
		c->rst_out_cause = d->cause;
}

/* Count a printed record; false when -c is reached. */
static bool count_one(void)
{
	return !(opt.count > 0 && ++printed >= opt.count);
}

/*
 * Call @fn for each record in @buf, in order, until it returns false
 * (then false).  With @used, a record cut at the end of @buf is left for
 * the next call and *@used says how far decoding got; bytes that are no
 * record end the program.
 */
bool tt_each_record(const void *buf, size_t len, size_t *used,
		    bool (*fn)(const struct tcptrace_hdr *h))
{
	const struct tcptrace_hdr *h;
	enum tt_decode d;
	unsigned long off = 0;

	if (used)
		*used = len;
	while ((d = tt_next_record(buf, len, &off, &h)) != TT_END) {
		if (d == TT_SKIP)
			continue;
		if (d == TT_TRUNCATED && used) {
			*used = off;
			return true;
		}
		if (d != TT_OK)
			die(EX_DATA, "%s at byte %lu of a %zu-byte read: "
			    "module and tcpwhy disagree about the record "
			    "format", tt_decode_strerror(d), off, len);
		if (!fn(h))
			return false;
	}
	return true;
}

/* Print one record; false when the requested count has been reached. */
static bool handle_record(const struct tcptrace_hdr *h)
{
	if (h->lost_before)
		print_lost(h->cpu, h->ts_ns, h->lost_before);
	if (h->type == TCPTRACE_REC_LOST) {
		const struct tcptrace_lost_rec *l = (const void *)h;

		print_lost(h->cpu, h->ts_ns, l->count);
	} else if (opt.mode == MODE_CONNS) {
		if (h->type == TCPTRACE_REC_STATE) {
			conn_state((const void *)h);
		} else if (h->type == TCPTRACE_REC_HANDSHAKE) {
			conn_handshake((const void *)h);
		} else if (h->type == TCPTRACE_REC_DIAG) {
			conn_diag((const void *)h);
		} else if (h->type == TCPTRACE_REC_CONN) {
			print_conn((const void *)h);
			if (!count_one())
				return false;
		}
	} else if (h->type == TCPTRACE_REC_HANDSHAKE) {
		const struct tcptrace_handshake_rec *r = (const void *)h;

		if (opt.mode == MODE_DIAG || !ends_match(&ENDS_OF(r)) ||
		    !cg_match(tt_hs_cgroup_id(r)))
			return true;
		print_handshake(r);
		if (!count_one())
			return false;
	} else if (h->type == TCPTRACE_REC_DIAG) {
		const struct tcptrace_diag_rec *r = (const void *)h;

		if (opt.mode == MODE_HANDSHAKES ||
		    !ends_match(&ENDS_OF(r)) ||
		    !cg_match(tt_diag_cgroup_id(r)))
			return true;
		print_diag(r);
		if (!count_one())
			return false;
	} else if (h->type == TCPTRACE_REC_STATE) {
		const struct tcptrace_state_rec *r = (const void *)h;

		if (!state_match(r)) {
			/* still track time-in-state */
			sock_transition(r->sock_cookie, h->ts_ns,
					r->new_state == 7);
			return true;
		}
		print_state(r);
		if (!count_one())
			return false;
	}
	return true;
}

/*
 * Decode and print the records in @buf.  Returns false when the requested
 * count has been reached.  @used: as for tt_each_record().
 */
static bool handle_buffer(const void *buf, size_t len, size_t *used)
{
	return tt_each_record(buf, len, used, handle_record);
}

/* --- device -------------------------------------------------------- */

int tt_open_device(const char *path)
{
	uint32_t abi = 0;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		switch (errno) {
		case ENOENT:
		case ENODEV:
		case ENXIO:
			die(EX_RUNTIME, "%s: no such device: is the tcptrace "
			    "module loaded? (modprobe tcptrace)", path);
			break;
		case EACCES:
		case EPERM:
			die(EX_RUNTIME, "%s: permission denied: run as root "
			    "(needs CAP_NET_ADMIN)", path);
			break;
		case EBUSY:
			die(EX_RUNTIME, "%s: busy: another tcpwhy reader has "
			    "it open (one reader at a time)", path);
			break;
		case EOPNOTSUPP:
			die(EX_RUNTIME, "%s: readers in a container need "
			    "Linux 5.12 or later (network namespace cookies); "
			    "read from the host", path);
			break;
		default:
			die(EX_RUNTIME, "%s: %s", path, strerror(errno));
		}
	}
	if (ioctl(fd, TCPTRACE_IOC_VERSION, &abi) < 0)
		die(EX_DATA, "%s: not a tcptrace device (version ioctl: %s)",
		    path, strerror(errno));
	if (abi != TCPTRACE_ABI_VERSION)
		die(EX_DATA, "ABI version mismatch: module speaks v%u, this "
		    "tcpwhy speaks v%u: install matching module and CLI",
		    abi, TCPTRACE_ABI_VERSION);
	return fd;
}

static int open_device(void)
{
	return tt_open_device(opt.device);
}

/*
 * Ask the module for the record types this run prints or needs, so it
 * does not make the rest; -w keeps everything.  A module older than the
 * ioctl sends everything, and handle_buffer() skips what it does not show.
 */
static void want_types(int fd)
{
	uint32_t types = TCPTRACE_TYPES_ALL;

	if (opt.write_path)
		return;
	switch (opt.mode) {
	case MODE_ALL:
		types = 1u << TCPTRACE_REC_STATE | 1u << TCPTRACE_REC_HANDSHAKE |
			1u << TCPTRACE_REC_DIAG;
		break;
	case MODE_HANDSHAKES:
		types = 1u << TCPTRACE_REC_HANDSHAKE;
		break;
	case MODE_DIAG:
		types = 1u << TCPTRACE_REC_DIAG;
		break;
	case MODE_CONNS:
		break;
	}
	if (ioctl(fd, TCPTRACE_IOC_SET_TYPES, &types) < 0 && errno != ENOTTY)
		die(EX_RUNTIME, "%s: choosing record types: %s", opt.device,
		    strerror(errno));
}

/*
 * tcpwhy conns --state time-wait: the TIME_WAIT sockets of this network
 * namespace right now, with the time each has left, from the kernel's
 * sock_diag interface (what ss uses).  Explains "Address already in use".
 */
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
				printf("{\"type\":\"time_wait\",\"family\":%d,"
				       "\"saddr\":\"%s\",\"sport\":%u,"
				       "\"daddr\":\"%s\",\"dport\":%u,"
				       "\"remaining_ms\":%u}\n",
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

static int list_time_wait(void)
{
	int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	int n;

	if (nl < 0)
		die(EX_RUNTIME, "sock_diag socket: %s", strerror(errno));
	n = tw_dump(nl, AF_INET) + tw_dump(nl, AF_INET6);
	close(nl);
	if (!n && !opt.json)
		printf("no TIME_WAIT sockets%s in this network namespace\n",
		       opt.f.port >= 0 || opt.f.have_addr ? " match" : "");
	return EX_OK;
}

static int do_stats(bool reset)
{
	struct tcptrace_cpu_stats cs[1024];
	struct tcptrace_stats st = {
		.nr_cpus = 1024,
		.cpus = (uintptr_t)cs,
	};
	int fd = open_device();
	uint32_t i;

	if (reset) {
		if (ioctl(fd, TCPTRACE_IOC_RESET, 0) < 0)
			die(EX_RUNTIME, "reset: %s", strerror(errno));
		close(fd);
		return EX_OK;
	}
	if (ioctl(fd, TCPTRACE_IOC_STATS, &st) < 0)
		die(EX_RUNTIME, "stats: %s", strerror(errno));
	close(fd);
	if (opt.json) {
		printf("{\"type\":\"stats\",\"abi\":%u,\"produced\":%llu,"
		       "\"lost\":%llu,\"delivered\":%llu,\"buffered\":%llu,"
		       "\"conn_capacity\":%llu,\"conn_in_use\":%llu,"
		       "\"conn_evicted\":%llu,\"conn_timeouts\":%llu,"
		       "\"malformed\":%llu,\"cpus\":[", st.abi_version,
		       ULL(st.produced), ULL(st.lost), ULL(st.delivered),
		       ULL(st.buffered), ULL(st.conn_capacity),
		       ULL(st.conn_in_use), ULL(st.conn_evicted),
		       ULL(st.conn_timeouts), ULL(st.malformed));
		for (i = 0; i < st.nr_cpus; i++)
			printf("%s{\"cpu\":%u,\"produced\":%llu,\"lost\":%llu,"
			       "\"delivered\":%llu,\"buffered\":%llu,"
			       "\"buffer_bytes\":%llu}", i ? "," : "",
			       cs[i].cpu, (unsigned long long)cs[i].produced,
			       (unsigned long long)cs[i].lost,
			       (unsigned long long)cs[i].delivered,
			       (unsigned long long)cs[i].buffered,
			       (unsigned long long)cs[i].buffer_bytes);
		printf("]}\n");
		return EX_OK;
	}
	printf("tcptrace module ABI v%u\n", st.abi_version);
	printf("%-5s %12s %12s %12s %10s %12s\n", "cpu", "produced", "lost",
	       "delivered", "buffered", "buffer");
	for (i = 0; i < st.nr_cpus; i++) {
		if (!cs[i].buffer_bytes)
			continue;	/* possible but never online */
		printf("%-5u %12llu %12llu %12llu %10llu %11lluK\n", cs[i].cpu,
		       (unsigned long long)cs[i].produced,
		       (unsigned long long)cs[i].lost,
		       (unsigned long long)cs[i].delivered,
		       (unsigned long long)cs[i].buffered,
		       (unsigned long long)cs[i].buffer_bytes / 1024);
	}
	printf("%-5s %12llu %12llu %12llu %10llu\n", "total",
	       (unsigned long long)st.produced, (unsigned long long)st.lost,
	       (unsigned long long)st.delivered,
	       (unsigned long long)st.buffered);
	printf("connection table: %llu of %llu in use, %llu evicted, "
	       "%llu handshakes timed out\n", ULL(st.conn_in_use),
	       ULL(st.conn_capacity), ULL(st.conn_evicted),
	       ULL(st.conn_timeouts));
	printf("SYN/SYN-ACKs with malformed TCP options: %llu\n",
	       ULL(st.malformed));
	return EX_OK;
}

uint64_t tt_now_ns(int c)
{
	return now_ns(c);
}

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* How many whole records @buf holds (for -c with -w). */
static long count_records(const void *buf, size_t len)
{
	const struct tcptrace_hdr *h;
	unsigned long off = 0;
	long n = 0;

	while (tt_next_record(buf, len, &off, &h) <= TT_SKIP)
		n++;
	return n;
}

static int trace_loop(int fd, bool is_device)
{
	static uint64_t buf[65536 / 8];
	uint64_t deadline = 0;
	unsigned long long written = 0;

	if (opt.duration > 0)
		deadline = now_ns(CLOCK_MONOTONIC) +
			   (uint64_t)(opt.duration * 1e9);
	while (!stop) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int timeout = -1;
		ssize_t n;

		if (deadline) {
			uint64_t now = now_ns(CLOCK_MONOTONIC);

			if (now >= deadline)
				break;
			timeout = (deadline - now) / 1000000 + 1;
		}
		if (is_device) {
			int r = poll(&p, 1, timeout);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				die(EX_RUNTIME, "poll: %s", strerror(errno));
			if (r == 0)
				continue;
		}
		n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die(EX_RUNTIME, "read %s: %s", opt.device,
			    strerror(errno));
		}
		if (n == 0) {
			if (is_device)
				continue;
			break;
		}
		if (opt.write_path) {
			if (fwrite(buf, 1, n, opt.wfile) != (size_t)n)
				die(EX_RUNTIME, "%s: %s", opt.write_path,
				    strerror(errno));
			written += n;
			if (opt.count > 0) {
				printed += count_records(buf, n);
				if (printed >= opt.count)
					break;
			}
			continue;
		}
		if (!handle_buffer(buf, n, NULL)) {
			ob_flush();
			break;
		}
		ob_flush();
	}
	ob_flush();
	if (opt.write_path) {
		if (fclose(opt.wfile))
			die(EX_RUNTIME, "%s: %s", opt.write_path,
			    strerror(errno));
		fprintf(stderr, "tcpwhy: %llu bytes of records written to %s "
			"(read them with -r)\n", written, opt.write_path);
	}
	if (total_lost && !opt.json)
		fprintf(stderr, "tcpwhy: %" PRIu64 " records lost\n",
			total_lost);
	return EX_OK;
}

/*
 * A file written by -w starts with this header; -r also takes a bare
 * stream of records (e.g. saved straight from the device).  Records carry
 * CLOCK_MONOTONIC, which means nothing on another boot: the header keeps
 * the writer's offset to CLOCK_REALTIME, so -r shows the times of day the
 * records were made.
 */
#define CAPTURE_MAGIC "TCPTRACE"
#define CAPTURE_HDR_FIRST 16	/* the first captures: no len, no offset */

struct capture_hdr {
	char magic[8];
	uint32_t abi;
	uint32_t len;			/* of this header; 0 in the first */
	int64_t mono_to_real_ns;	/* writer's REALTIME - MONOTONIC */
};

static void open_capture(const char *path)
{
	struct capture_hdr h = {
		.abi = TCPTRACE_ABI_VERSION,
		.len = sizeof(h),
		.mono_to_real_ns = mono_to_real_ns,
	};

	memcpy(h.magic, CAPTURE_MAGIC, sizeof(h.magic));
	opt.wfile = strcmp(path, "-") ? fopen(path, "wb") : stdout;
	if (!opt.wfile)
		die(EX_RUNTIME, "%s: %s", path, strerror(errno));
	if (fwrite(&h, sizeof(h), 1, opt.wfile) != 1)
		die(EX_RUNTIME, "%s: %s", path, strerror(errno));
}

int tt_read_capture(const char *path, tt_records_fn handle_buffer)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	static uint64_t buf[(1 << 20) / 8];
	size_t have = 0, n, used;
	bool first = true;

	if (!f)
		die(EX_RUNTIME, "%s: %s", path, strerror(errno));
	for (;;) {
		n = fread((char *)buf + have, 1, sizeof(buf) - have, f);
		if (ferror(f))
			die(EX_RUNTIME, "%s: read error", path);
		have += n;
		if (first && have >= CAPTURE_HDR_FIRST &&
		    !memcmp(buf, CAPTURE_MAGIC, 8)) {
			const struct capture_hdr *h = (const void *)buf;
			size_t len = h->len ? h->len : CAPTURE_HDR_FIRST;

			if (h->abi != TCPTRACE_ABI_VERSION)
				die(EX_DATA, "%s: written with record ABI v%u, "
				    "this tcpwhy reads v%u", path, h->abi,
				    TCPTRACE_ABI_VERSION);
			if (len < CAPTURE_HDR_FIRST || len % 8 || len > have)
				die(EX_DATA, "%s: bad capture header (%u bytes)",
				    path, h->len);
			if (len >= sizeof(*h))
				mono_to_real_ns = h->mono_to_real_ns;
			have -= len;
			memmove(buf, (char *)buf + len, have);
		}
		first = false;
		if (!n) {
			/* at the end, a cut record is an error */
			handle_buffer(buf, have, NULL);
			break;
		}
		if (!handle_buffer(buf, have, &used))
			break;
		have -= used;
		memmove(buf, (char *)buf + used, have);
	}
	ob_flush();
	return EX_OK;
}

static void on_signal(int sig)
{
	stop = 1;
}

static const char help_text[] =
	"usage: tcpwhy [options]\n"
	"       tcpwhy conns [options]            one line per finished connection\n"
	"       tcpwhy conns --state time-wait    TIME_WAIT sockets now, time left\n"
	"       tcpwhy explain NAME...            what a drop or reset reason means,\n"
	"                                         what to check\n"
	"Trace TCP connections from /dev/tcptrace: one line per state transition,\n"
	"and one per handshake with the TCP options each side used.\n"
	"\n"
	"  -j, --json            JSON lines (schema: tcpwhy(8), Documentation/tcptrace.rst)\n"
	"  -p, --port PORT       only sockets with PORT at either end\n"
	"      --addr ADDR       only sockets with ADDR (v4 or v6) at either end\n"
	"      --netns ID        only network namespace ID (inode or cookie)\n"
	"      --cgroup PATH     only sockets of cgroup PATH (below " CG_MOUNT ")\n"
	"                        and its descendants; diagnoses and handshakes\n"
	"                        are not filtered by it\n"
	"  -4, -6                only IPv4 (incl. v4-mapped) / only IPv6\n"
	"      --diag            only diagnoses: unanswered SYNs, RSTs and why,\n"
	"                        half-open connections, TIME_WAIT, simultaneous\n"
	"                        open/close\n"
	"      --handshakes      only handshake records: options offered,\n"
	"                        answered and agreed, per connection end\n"
	"  -c, --count N         exit after N records\n"
	"  -d, --duration SEC    exit after SEC seconds\n"
	"      --stats           print buffer counters (incl. lost records), exit\n"
	"      --reset-stats     zero the counters, exit\n"
	"  -D, --device PATH     read PATH instead of " TCPTRACE_DEVICE "\n"
	"  -w, --write FILE      save raw records to FILE (- for stdout), the\n"
	"                        cheapest way to record: decode later with -r\n"
	"  -r, --read FILE       decode records saved with -w (or raw)\n"
	"  -V, --version         print versions, exit\n"
	"  -h, --help            this text\n";

static void print_help(FILE *out)
{
	fputs(help_text, out);
}

/*
 * tcpwhy explain [NAME...]: what the kernel's drop and reset reasons
 * mean and what to check; "rst" prints the tables of
 * Documentation/diagnosing.rst.
 */
static int explain_cmd(int argc, char **argv)
{
	const struct tt_explain *d, *r;
	int i, rc = EX_OK;

	if (argc == 1 && !strcmp(argv[0], "rst")) {
		tt_explain_rst(stdout);
		return EX_OK;
	}
	for (i = 0; i < argc; i++) {
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
	if (!argc) {
		fprintf(stderr, "usage: tcpwhy explain NAME... | "
			"tcpwhy explain rst\n");
		rc = EX_USAGE;
	}
	return rc;
}

static long parse_num(const char *s, const char *what, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || *end || end == s || v < lo || v > hi)
		die(EX_USAGE, "bad %s '%s' (expected %ld..%ld)", what, s, lo,
		    hi);
	return v;
}

int main(int argc, char **argv)
{
	enum { O_ADDR = 256, O_NETNS, O_STATS, O_RESET, O_HANDSHAKES, O_DIAG,
	       O_STATE, O_CGROUP };
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "port", required_argument, NULL, 'p' },
		{ "addr", required_argument, NULL, O_ADDR },
		{ "netns", required_argument, NULL, O_NETNS },
		{ "cgroup", required_argument, NULL, O_CGROUP },
		{ "count", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "stats", no_argument, NULL, O_STATS },
		{ "handshakes", no_argument, NULL, O_HANDSHAKES },
		{ "diag", no_argument, NULL, O_DIAG },
		{ "state", required_argument, NULL, O_STATE },
		{ "reset-stats", no_argument, NULL, O_RESET },
		{ "device", required_argument, NULL, 'D' },
		{ "read", required_argument, NULL, 'r' },
		{ "write", required_argument, NULL, 'w' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	bool stats = false, reset = false;
	struct sigaction sa = { .sa_handler = on_signal };
	char *end;
	int c, fd;

	if (argc > 1 && !strcmp(argv[1], "metrics"))
		return metrics_main(argc - 1, argv + 1);
	while ((c = getopt_long(argc, argv, "jp:c:d:D:r:w:46Vh", lo, NULL)) !=
	       -1) {
		switch (c) {
		case 'j':
			opt.json = true;
			break;
		case 'p':
			opt.f.port = parse_num(optarg, "port", 0, 65535);
			break;
		case O_ADDR:
			if (inet_pton(AF_INET, optarg, opt.f.addr) == 1)
				opt.f.addr_family = AF_INET;
			else if (inet_pton(AF_INET6, optarg, opt.f.addr) == 1)
				opt.f.addr_family = AF_INET6;
			else
				die(EX_USAGE, "bad address '%s'", optarg);
			opt.f.have_addr = true;
			break;
		case O_NETNS:
			errno = 0;
			opt.f.netns = strtoull(optarg, &end, 0);
			if (errno || *end || end == optarg)
				die(EX_USAGE, "bad netns '%s' (inode or cookie)",
				    optarg);
			opt.f.have_netns = true;
			break;
		case O_CGROUP:
			cg_set_filter(optarg);
			break;
		case '4':
			opt.f.family = 4;
			break;
		case '6':
			opt.f.family = 6;
			break;
		case 'c':
			opt.count = parse_num(optarg, "count", 1, LONG_MAX);
			break;
		case 'd':
			opt.duration = strtod(optarg, &end);
			if (*end || end == optarg || opt.duration <= 0)
				die(EX_USAGE, "bad duration '%s'", optarg);
			break;
		case O_STATS:
			stats = true;
			break;
		case O_RESET:
			reset = true;
			break;
		case O_HANDSHAKES:
			opt.mode = MODE_HANDSHAKES;
			break;
		case O_DIAG:
			opt.mode = MODE_DIAG;
			break;
		case O_STATE:
			if (tt_state_parse(optarg) != 6)	/* TIME_WAIT */
				die(EX_USAGE, "--state: only time-wait is "
				    "supported");
			opt.tw_list = 1;
			break;
		case 'D':
			opt.device = optarg;
			break;
		case 'r':
			opt.input = optarg;
			break;
		case 'w':
			opt.write_path = optarg;
			break;
		case 'V':
			printf("tcpwhy %s, record ABI v%u\n",
			       TCPTRACE_VERSION, TCPTRACE_ABI_VERSION);
			return EX_OK;
		case 'h':
			print_help(stdout);
			return EX_OK;
		default:
			print_help(stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc && !strcmp(argv[optind], "explain"))
		return explain_cmd(argc - optind - 1, argv + optind + 1);
	if (optind < argc && !strcmp(argv[optind], "conns")) {
		opt.mode = MODE_CONNS;
		optind++;
	}
	if (optind < argc) {
		print_help(stderr);
		die(EX_USAGE, "unexpected argument '%s'", argv[optind]);
	}
	if (opt.tw_list && opt.mode != MODE_CONNS)
		die(EX_USAGE, "--state goes with 'tcpwhy conns'");
	if (opt.tw_list && cgmap.filter)
		die(EX_USAGE, "--cgroup does not apply to --state");
	if (opt.tw_list)
		return list_time_wait();

	mono_to_real_ns = (int64_t)(now_ns(CLOCK_REALTIME) -
				    now_ns(CLOCK_MONOTONIC));
	if (stats || reset)
		return do_stats(reset);
	if (opt.input)
		return tt_read_capture(opt.input, handle_buffer);

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fd = open_device();
	want_types(fd);
	if (opt.write_path)
		open_capture(opt.write_path);
	if (isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOLBF, 0);
	return trace_loop(fd, true);
}

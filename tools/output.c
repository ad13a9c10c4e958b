// SPDX-License-Identifier: GPL-2.0
/*
 * The output buffer and the appenders of tcpwhy's text and JSON lines
 * (output.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "record.h"
#include "cli.h"
#include "output.h"

struct tt_outbuf ob;
int64_t mono_to_real_ns;
bool mono_to_real_known;

char tt_digit_pairs[200];

static void __attribute__((constructor)) fill_digit_pairs(void)
{
	int i;

	for (i = 0; i < 100; i++) {
		tt_digit_pairs[2 * i] = '0' + i / 10;
		tt_digit_pairs[2 * i + 1] = '0' + i % 10;
	}
}

void ob_flush(void)
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

void ob_line(void)
{
	if (sizeof(ob.buf) - ob.n < OB_LINE_MAX)
		ob_flush();
}

/* "%s" of "true" or "false" */
void ob_bool(bool b)
{
	if (b)
		OB_LIT("true");
	else
		OB_LIT("false");
}

/* @v, or null where 0 means "none" or "not known" */
void ob_u64_or_null(uint64_t v)
{
	if (v)
		ob_u64(v);
	else
		OB_LIT("null");
}

/* "%-Ns": pad what was written since @start with spaces to @width */
void ob_pad(size_t start, size_t width)
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
void ob_printf(const char *fmt, ...)
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
void ob_ms3(uint64_t ns)
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

void fmt_addr(int family, const uint8_t *a, char *out, size_t len)
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

void ob_addr(int family, const uint8_t *a)
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
void ob_endpoint(int family, const uint8_t *a, unsigned int port)
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

bool ob_colored;

bool ob_set_color(const char *when)
{
	const char *no = getenv("NO_COLOR"), *term = getenv("TERM");

	if (!strcmp(when, "always")) {
		ob_colored = true;
	} else if (!strcmp(when, "never")) {
		ob_colored = false;
	} else if (!strcmp(when, "auto")) {
		/* https://no-color.org: set and not empty means none */
		ob_colored = isatty(STDOUT_FILENO) && !(no && *no) &&
			     !(term && !strcmp(term, "dumb"));
	} else {
		return false;
	}
	return true;
}

static enum { T_ABS, T_DATE, T_ISO, T_UNIX, T_REL, T_DELTA } time_format;
/* ob_when()'s text of the second it formatted last, in time_format */
static time_t text_sec = -1;

bool ob_set_time_format(const char *name)
{
	static const char *const names[] = {
		[T_ABS] = "abs", [T_DATE] = "date", [T_ISO] = "iso",
		[T_UNIX] = "unix", [T_REL] = "rel", [T_DELTA] = "delta",
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcmp(name, names[i])) {
			time_format = i;
			text_sec = -1;
			return true;
		}
	}
	return false;
}

/* ".%06u" of the microseconds in @ns */
static void ob_us6(uint64_t ns)
{
	uint64_t us = ns % 1000000000 / 1000;
	char t[7];
	int i;

	t[0] = '.';
	for (i = 6; i > 0; i -= 2, us /= 100) {
		t[i] = '0' + us % 10;
		t[i - 1] = '0' + us / 10 % 10;
	}
	ob_put(t, sizeof(t));
}

/* "%llu.%06u" of @ns: rel and delta */
static void ob_secs(uint64_t ns)
{
	ob_u64(ns / 1000000000);
	ob_us6(ns);
}

/*
 * A record's time as -T says: the local time of day by default,
 * "%02d:%02d:%02d.%06ld"; the part above the second is formatted once a
 * second.
 */
void ob_realtime(uint64_t mono_ns)
{
	int64_t real = (int64_t)(mono_ns + (uint64_t)mono_to_real_ns);

	OB_LIT(",\"realtime_ns\":");
	if (mono_to_real_known)
		ob_u64(real > 0 ? real : 0);
	else
		OB_LIT("null");
}

void ob_when(uint64_t mono_ns)
{
	static char text[48], zone[8];
	static size_t text_len, zone_len;
	static uint64_t first_ns, prev_ns;
	static bool seen;
	/* unsigned: a crafted timestamp wraps instead of overflowing */
	int64_t real = (int64_t)(mono_ns + (uint64_t)mono_to_real_ns);
	struct tm tm = {};
	time_t sec;

	if (time_format == T_REL || time_format == T_DELTA) {
		if (!seen) {
			first_ns = mono_ns;
			prev_ns = mono_ns;
			seen = true;
		}
		if (time_format == T_REL)
			ob_secs(mono_ns >= first_ns ? mono_ns - first_ns : 0);
		else
			ob_secs(mono_ns >= prev_ns ? mono_ns - prev_ns : 0);
		prev_ns = mono_ns;
		return;
	}
	if (real < 0)
		real = 0;
	sec = real / 1000000000;
	if (sec != text_sec) {
		localtime_r(&sec, &tm);
		text_len = strftime(text, sizeof(text),
				    time_format == T_ABS ? "%H:%M:%S" :
				    time_format == T_DATE ? "%Y-%m-%d %H:%M:%S" :
				    time_format == T_ISO ? "%Y-%m-%dT%H:%M:%S" :
				    "%s", &tm);
		/* ISO 8601's offset: +hh:mm */
		zone_len = strftime(zone, sizeof(zone), "%z", &tm);
		if (zone_len == 5) {
			memmove(zone + 4, zone + 3, 3);
			zone[3] = ':';
			zone_len = 6;
		}
		text_sec = sec;
	}
	ob_put(text, text_len);
	ob_us6(real);
	if (time_format == T_ISO)
		ob_put(zone, zone_len);
}

/* The start of a text line: "%s netns:%-10u %-Ns %s > %s  " */
void ob_text_head(uint64_t ts, uint32_t netns_ino, const char *who,
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
void ob_json_ends(int family, const uint8_t *saddr, unsigned int sport,
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

/* {"type":"%s",["diag":"%s",]"schema":1,"ts_ns":%llu,"cpu":%u,... */
void ob_json_head(const char *type, const char *diag,
		  const struct tcptrace_hdr *h, uint32_t netns_ino,
		  uint64_t netns_cookie, uint64_t sock, int family)
{
	OB_LIT("{\"type\":\"");
	ob_str(type);
	if (diag) {
		OB_LIT("\",\"diag\":\"");
		ob_str(diag);
	}
	OB_LIT("\",\"schema\":" TCPWHY_SCHEMA_STR ",\"ts_ns\":");
	ob_u64(h->ts_ns);
	ob_realtime(h->ts_ns);
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
void ob_state(unsigned int st)
{
	const char *n = tt_state_name(st);

	if (n) {
		ob_str(n);
	} else {
		OB_LIT("STATE_");
		ob_u64(st);
	}
}

void state_str(unsigned int st, char *out, size_t len)
{
	const char *n = tt_state_name(st);

	if (n)
		snprintf(out, len, "%s", n);
	else
		snprintf(out, len, "STATE_%u", st);
}

/* A JSON string of at most @max bytes of @s. */
void ob_jstr(const char *s, size_t max)
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

/*
 * The JSON string of @len bytes of @s, quotes included, as ob_jstr()
 * writes it, into @out; returns its length (only that if @out is NULL).
 */
size_t json_escape(char *out, const char *s, size_t len)
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


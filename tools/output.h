/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The CLI's one output path: records are formatted straight into one
 * buffer and written with write(2) once per batch.  The reader shares a
 * CPU with the traffic it traces, and printf and inet_ntop cost several
 * times what these appenders do.  Every function here produces exactly
 * what the printf format in its comment would.  The appenders every
 * field goes through are inline here; the rest is in output.c.
 */
#ifndef TCPWHY_OUTPUT_H
#define TCPWHY_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct tcptrace_hdr;

struct tt_outbuf {
	char buf[1 << 16];
	size_t n;
};

extern struct tt_outbuf ob;
/* "00" to "99": two digits per division */
extern char tt_digit_pairs[200];
/* CLOCK_REALTIME - CLOCK_MONOTONIC of the records' writer */
extern int64_t mono_to_real_ns;
/* false: read from a capture without it (realtime_ns is null) */
extern bool mono_to_real_known;

/* Write what the buffer holds to stdout; a reader gone (EPIPE) exits 0. */
void ob_flush(void);
/* Called at the start of every line, so that no line straddles a flush. */
void ob_line(void);

static inline __attribute__((always_inline)) void ob_put(const char *s, size_t len)
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

static inline void ob_str(const char *s)
{
	ob_put(s, strlen(s));
}

static inline void ob_chr(char c)
{
	if (ob.n == sizeof(ob.buf))
		ob_flush();
	ob.buf[ob.n++] = c;
}

/* "%s" of "true" or "false" */
void ob_bool(bool b);

/* Decimal digits of @v. */
static inline size_t n_digits(uint64_t v)
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

/* "%llu" into @out (room for 20 digits); returns the length */
static inline size_t fmt_u64(char *out, uint64_t v)
{
	size_t len = n_digits(v), i = len;
	uint32_t w;

	/* in 32 bits once the value fits */
	for (; v > UINT32_MAX; v /= 100) {
		i -= 2;
		memcpy(out + i, tt_digit_pairs + 2 * (v % 100), 2);
	}
	for (w = v; w >= 100; w /= 100) {
		i -= 2;
		memcpy(out + i, tt_digit_pairs + 2 * (w % 100), 2);
	}
	if (w >= 10)
		memcpy(out, tt_digit_pairs + 2 * w, 2);
	else
		out[0] = '0' + w;
	return len;
}

static inline void ob_u64(uint64_t v)
{
	if (sizeof(ob.buf) - ob.n < 20)
		ob_flush();
	ob.n += fmt_u64(ob.buf + ob.n, v);
}

void ob_u64_or_null(uint64_t v);
void ob_pad(size_t start, size_t width);
void ob_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ob_ms3(uint64_t ns);
void fmt_addr(int family, const uint8_t *a, char *out, size_t len);
void ob_addr(int family, const uint8_t *a);
void ob_endpoint(int family, const uint8_t *a, unsigned int port);
/*
 * --color: SGR codes around what an operator looks for first, on text
 * lines only.  ob_color() starts one (OB_RED...), ob_color(OB_PLAIN)
 * ends it; both write nothing when colour is off.
 */
enum { OB_PLAIN = 0, OB_RED = 31, OB_GREEN = 32, OB_YELLOW = 33 };
extern bool ob_colored;
/* auto, always or never; false: none of those */
bool ob_set_color(const char *when);
static inline void ob_color(int sgr)
{
	if (!ob_colored)
		return;
	if (sgr == OB_PLAIN) {
		ob_put("\033[0m", 4);
	} else {
		ob_put("\033[1;", 4);
		ob_chr('0' + sgr / 10);
		ob_chr('0' + sgr % 10);
		ob_chr('m');
	}
}

/* -T: abs, date, iso, unix, rel or delta; false: no such format */
bool ob_set_time_format(const char *name);
void ob_when(uint64_t mono_ns);
/* ,"realtime_ns":%llu: CLOCK_REALTIME of a record's CLOCK_MONOTONIC */
void ob_realtime(uint64_t mono_ns);
void ob_text_head(uint64_t ts, uint32_t netns_ino, const char *who,
		  size_t who_len, size_t width, int family,
		  const uint8_t *saddr, unsigned int sport,
		  const uint8_t *daddr, unsigned int dport);
void ob_json_ends(int family, const uint8_t *saddr, unsigned int sport,
		  const uint8_t *daddr, unsigned int dport);
void ob_json_head(const char *type, const char *diag,
		  const struct tcptrace_hdr *h, uint32_t netns_ino,
		  uint64_t netns_cookie, uint64_t sock, int family);
void ob_state(unsigned int st);
void state_str(unsigned int st, char *out, size_t len);
void ob_jstr(const char *s, size_t max);
size_t json_escape(char *out, const char *s, size_t len);

#endif /* TCPWHY_OUTPUT_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the CLI's files share: exit codes, dying with a message, the
 * options of `trace` and `conns`, the device, capture files, the record
 * printers and the subcommands (tools/tcpwhy.c dispatches to them).
 */
#ifndef TCPTRACE_CLI_H
#define TCPTRACE_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "filter.h"

#ifndef TCPTRACE_VERSION
#define TCPTRACE_VERSION "dev"
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* __u64 is unsigned long long in every ABI tcptrace builds for */
#define ULL(x) ((unsigned long long)(x))

enum { EX_OK = 0, EX_RUNTIME = 1, EX_USAGE = 2, EX_DATA = 3 };

void die(int code, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));

/* A number in lo..hi, or a usage error naming @what. */
long tt_parse_num(const char *s, const char *what, long lo, long hi);
/* Seconds in @s: "10", "2.5s", "500ms", "5m", "2h"; a usage error else */
double tt_parse_duration(const char *s, const char *what);
/* -d TIME, -D DEVICE, -r FILE: where records come from, for how long */
bool tt_source_option(int c, const char *arg);
/* A bad option of subcommand @cmd (getopt said which): exit 2. */
void tt_usage_error(const char *cmd) __attribute__((noreturn));

/*
 * The version of the JSON lines' layout, in every line as "schema":
 * Documentation/tcpwhy.schema.json describes it.  Adding a field keeps
 * it; removing or changing one raises it.
 */
#define TCPWHY_SCHEMA 1
#define TCPWHY_SCHEMA_STR "1"

/* What a run of `trace` or `conns` prints. */
enum tt_mode { MODE_ALL, MODE_HANDSHAKES, MODE_DIAG, MODE_CONNS };

struct tt_opts {
	bool json;
	enum tt_mode mode;
	const char *device;
	const char *input;
	const char *write_path;		/* -w: raw records to a file */
	FILE *wfile;
	bool hist;		/* --hist: histograms at the end */
	long count;		/* <0: unlimited */
	double duration;	/* <=0: unlimited */
	struct filter f;
};

extern struct tt_opts opt;
extern volatile sig_atomic_t tt_stop;
/* records printed (or written, with -w and -c) and lost so far */
extern long tt_printed;
extern uint64_t tt_total_lost;

static inline uint64_t tt_now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* @path opened non-blocking, its ABI version checked; dies otherwise */
int tt_open_device(const char *path);
/* Ask the module for the record types that opt says are wanted. */
void tt_want_types(int fd);
/* ... for @types, a bit per TCPTRACE_REC_*; a module without it sends all */
void tt_set_types(int fd, uint32_t types);
/* Read @fd until -c, -d or a signal: print the records, or save them. */
int tt_read_device(int fd);

/*
 * Decodes the records of a buffer: returns false to stop; with @used, a
 * record cut at the end is left for the next call and *@used says how
 * far decoding got.
 */
typedef bool (*tt_records_fn)(const void *buf, size_t len, size_t *used);

/* Feed the records of a file written by -w (or a raw stream) to @fn. */
int tt_read_capture(const char *path, tt_records_fn fn);
/* Start opt.write_path: a capture header, then raw records. */
void tt_open_capture(const char *path);

struct tcptrace_hdr;
/* @fn for each record of @buf: the walk a tt_records_fn makes */
bool tt_each_record(const void *buf, size_t len, size_t *used,
		    bool (*fn)(const struct tcptrace_hdr *h));
/* Print the records of @buf as opt says: the tt_records_fn of trace */
bool tt_handle_buffer(const void *buf, size_t len, size_t *used);
/* Forget every connection and socket seen (the fuzzers, between inputs) */
void tt_reset(void);

/* The path of cgroup v2 id @id below the cgroup2 mount; NULL: unknown. */
const char *tt_cgroup_path(uint64_t id, size_t *len);

/* The record printers, one file each; conns joins the others' records. */
struct tcptrace_state_rec;
struct tcptrace_handshake_rec;
struct tcptrace_diag_rec;
struct tcptrace_conn_rec;
void print_state(const struct tcptrace_state_rec *r);
/* time-in-state bookkeeping of a state record that is not printed */
void state_seen(const struct tcptrace_state_rec *r);
/* The PID of the task of @r, as this reader's PID namespace sees it */
uint32_t state_pid(const struct tcptrace_state_rec *r);
void print_handshake(const struct tcptrace_handshake_rec *r);
void print_diag(const struct tcptrace_diag_rec *d);
void print_lost(unsigned int cpu, uint64_t ts, uint64_t count);
void conn_state(const struct tcptrace_state_rec *r);
void conn_handshake(const struct tcptrace_handshake_rec *r);
void conn_diag(const struct tcptrace_diag_rec *d);
/* false: filtered out */
bool print_conn(const struct tcptrace_conn_rec *r);
void state_reset(void);
void conns_reset(void);

/* --hist: what a run adds, printed when it ends */
void hist_handshake(const struct tcptrace_handshake_rec *r);
void hist_conn(unsigned int role, const struct tcptrace_conn_rec *r,
	       uint64_t duration_ns);
void hist_print(void);
void hist_reset(void);

const char *role_name(unsigned int r);
/* SYN to established, ns; -1: not an established handshake with its SYN */
int64_t hs_latency_ns(const struct tcptrace_handshake_rec *r);
const char *cause_name(unsigned int c);
/* "established", "reset", "failed", "timeout"; "unknown" past them */
const char *outcome_name(unsigned int o);
/* how a connection ended: "fin", "rst_in"...; NULL past them */
const char *conn_end_name(unsigned int e);
const char *diag_name(unsigned int k);

/* `stats` and `timewait`, with opt already set */
int tt_stats(bool reset);
int tt_timewait(void);

/* The subcommands: main() of each, called with argv[0] its name. */
int trace_main(int argc, char **argv);
void trace_help(FILE *out);
int conns_main(int argc, char **argv);
int stats_main(int argc, char **argv);
int timewait_main(int argc, char **argv);
int explain_main(int argc, char **argv);
int metrics_main(int argc, char **argv);
int top_main(int argc, char **argv);

#endif

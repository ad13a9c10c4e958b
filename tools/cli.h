/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the CLI's files share: exit codes, dying with a message, the
 * device, capture files and cgroup paths (tools/tcpwhy.c).
 */
#ifndef TCPTRACE_CLI_H
#define TCPTRACE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { EX_OK = 0, EX_RUNTIME = 1, EX_USAGE = 2, EX_DATA = 3 };

void die(int code, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));

/* @path opened non-blocking, its ABI version checked; dies otherwise */
int tt_open_device(const char *path);

/*
 * Decodes the records of a buffer: returns false to stop; with @used, a
 * record cut at the end is left for the next call and *@used says how
 * far decoding got.
 */
typedef bool (*tt_records_fn)(const void *buf, size_t len, size_t *used);

/* Feed the records of a file written by -w (or a raw stream) to @fn. */
int tt_read_capture(const char *path, tt_records_fn fn);
struct tcptrace_hdr;
/* @fn for each record of @buf: the walk a tt_records_fn makes */
bool tt_each_record(const void *buf, size_t len, size_t *used,
		    bool (*fn)(const struct tcptrace_hdr *h));

/* The path of cgroup v2 id @id below the cgroup2 mount; NULL: unknown. */
const char *tt_cgroup_path(uint64_t id, size_t *len);

uint64_t tt_now_ns(int clock);

int metrics_main(int argc, char **argv);

#endif

// SPDX-License-Identifier: GPL-2.0
/*
 * What every subcommand shares: the options of a run, numbers from the
 * command line, and ending with a message and an exit code.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "cli.h"
#include "output.h"

struct tt_opts opt = {
	.device = TCPTRACE_DEVICE,
	.count = -1,
	.f = { .port = -1 },
};

volatile sig_atomic_t tt_stop;

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

long tt_parse_num(const char *s, const char *what, long lo, long hi)
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

void tt_usage_error(const char *cmd)
{
	if (!strcmp(cmd, "trace"))
		fputs("Try 'tcpwhy --help'.\n", stderr);
	else
		fprintf(stderr, "Try 'tcpwhy %s --help'.\n", cmd);
	exit(EX_USAGE);
}

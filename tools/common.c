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

bool tt_source_option(int c, const char *arg)
{
	switch (c) {
	case 'd':
		opt.duration = tt_parse_duration(arg, "duration");
		return true;
	case 'D':
		opt.device = arg;
		return true;
	case 'r':
		opt.input = arg;
		return true;
	}
	return false;
}

double tt_parse_duration(const char *s, const char *what)
{
	static const struct {
		const char *unit;
		double secs;
	} units[] = {
		{ "", 1 }, { "s", 1 }, { "ms", 0.001 }, { "us", 0.000001 },
		{ "m", 60 }, { "min", 60 }, { "h", 3600 }, { "d", 86400 },
	};
	unsigned int i;
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	/* up to 30 years: in ns, that still fits 64 bits */
	if (!errno && end != s && v > 0 && v < 1e9) {
		for (i = 0; i < ARRAY_SIZE(units); i++)
			if (!strcmp(end, units[i].unit) &&
			    v * units[i].secs <= 1e9)
				return v * units[i].secs;
	}
	die(EX_USAGE, "bad %s '%s' (a number of seconds, or with a unit: "
	    "500ms, 10s, 5m, 2h)", what, s);
}

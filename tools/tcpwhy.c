// SPDX-License-Identifier: GPL-2.0
/*
 * tcpwhy: trace TCP connections from /dev/tcptrace and say, per
 * connection and in plain words, why they fail.  This file holds main()
 * and the subcommands' table; common.c what all of them share.
 */
#include <stdio.h>
#include <string.h>

#include "record.h"
#include "cli.h"

static const struct subcommand {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *what;
} subcommands[] = {
	{ "trace", trace_main,
	  "state transitions, handshakes and diagnoses as they happen "
	  "(the default)" },
	{ "conns", conns_main, "one line per finished connection" },
	{ "top", top_main,
	  "a live table: resets, unanswered SYNs, handshake latency, "
	  "TIME_WAIT" },
	{ "timewait", timewait_main,
	  "TIME_WAIT sockets now, and the time each has left" },
	{ "stats", stats_main,
	  "the module's counters: records made and lost, table use" },
	{ "explain", explain_main,
	  "what a drop or reset reason means, what to check" },
	{ "metrics", metrics_main,
	  "Prometheus metrics of the records, over HTTP" },
};

static void print_help(FILE *out)
{
	unsigned int i;

	fputs("usage: tcpwhy [SUBCOMMAND] [options]\n\n", out);
	for (i = 0; i < ARRAY_SIZE(subcommands); i++)
		fprintf(out, "  %-9s %s\n", subcommands[i].name,
			subcommands[i].what);
	fputs("\n'tcpwhy SUBCOMMAND --help' shows its options.  Without a "
	      "subcommand:\n\n", out);
	trace_help(out);
}

int main(int argc, char **argv)
{
	unsigned int i;

	if (argc > 1 && (!strcmp(argv[1], "help") ||
			 !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		print_help(stdout);
		return EX_OK;
	}
	for (i = 0; argc > 1 && i < ARRAY_SIZE(subcommands); i++) {
		if (!strcmp(argv[1], subcommands[i].name)) {
			/* getopt's messages name the subcommand */
			argv[1] = argv[0];
			return subcommands[i].main(argc - 1, argv + 1);
		}
	}
	return trace_main(argc, argv);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * tcpwhy [trace] and tcpwhy conns: their options, then the records of the
 * device (or of a capture) printed as the options say.  The two share
 * every option; conns prints one line per finished connection.
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"
#include "cli.h"
#include "cgroup.h"
#include "output.h"

static const char trace_usage[] =
	"usage: tcpwhy [trace] [options]\n"
	"       tcpwhy conns [options]\n"
	"Trace TCP connections from " TCPTRACE_DEVICE ": one line per state\n"
	"transition, one per handshake with the TCP options each side used,\n"
	"and one per diagnosis. `conns`: one line per finished connection.\n"
	"\n"
	"What to show:\n"
	"      --diag[=KINDS]    only diagnoses: unanswered SYNs, RSTs and why,\n"
	"                        half-open connections, TIME_WAIT, simultaneous\n"
	"                        open/close; KINDS: rst_in,syn_unanswered...\n"
	"      --handshakes      only handshake records: options offered,\n"
	"                        answered and agreed, per connection end\n"
	"Filters (each narrows; lists take commas):\n"
	"  -P, --port PORTS      sockets with one of PORTS at either end:\n"
	"                        443 or 80,443 or 8000-8080 or https\n"
	"      --lport PORTS     ... at this end (the socket's own port)\n"
	"      --rport PORTS     ... at the other end\n"
	"      --addr ADDR[/BITS]  sockets with ADDR, or an address in the\n"
	"                        prefix, at either end (v4 or v6)\n"
	"  -4, -6                only IPv4 (incl. v4-mapped) / only IPv6\n"
	"  -p, --pid PIDS        sockets these processes acted on (connect,\n"
	"                        listen, close...), from that moment on\n"
	"      --comm NAME       sockets tasks named NAME acted on, likewise\n"
	"      --outcome LIST    handshakes that ended so: established, reset,\n"
	"                        failed, timeout\n"
	"      --end LIST        (conns) connections that ended so: fin,\n"
	"                        rst_in, rst_out, aborted, refused, timeout,\n"
	"                        failed\n"
	"      --state STATES    only transitions into STATES (established,\n"
	"                        syn-sent, time-wait...); no other records\n"
	"      --netns ID        only network namespace ID (inode or cookie)\n"
	"      --cgroup PATH     only sockets of cgroup PATH (below " CG_MOUNT ")\n"
	"                        and its descendants\n"
	"Output:\n"
	"  -j, --json            JSON lines (schema: tcpwhy(8), Documentation/tcptrace.rst)\n"
	"      --hist            at the end, log2 histograms per service port\n"
	"                        of handshake latency and connection duration\n"
	"  -T, --time FORMAT     timestamps of text lines: abs (time of day,\n"
	"                        the default), date, iso, unix, rel (since the\n"
	"                        first record), delta (since the previous line)\n"
	"      --color WHEN      colour what went wrong: auto (a terminal,\n"
	"                        unless NO_COLOR is set; the default), always,\n"
	"                        never\n"
	"  -c, --count N         exit after N records\n"
	"  -d, --duration TIME   exit after TIME: 30 (seconds), 10s, 5m, 2h\n"
	"  -D, --device PATH     read PATH instead of " TCPTRACE_DEVICE "\n"
	"  -w, --write FILE      save raw records to FILE (- for stdout), the\n"
	"                        cheapest way to record: decode later with -r\n"
	"  -r, --read FILE       decode records saved with -w (or raw; - for\n"
	"                        stdin)\n"
	"  -V, --version         versions of tcpwhy and of its record ABI\n"
	"  -h, --help            this text\n"
	"\n"
	"examples:\n"
	"  tcpwhy --diag                  why connections fail, as they fail\n"
	"  tcpwhy -P https --handshakes   options negotiated on port 443\n"
	"  tcpwhy -p 1234 -T iso          what process 1234's sockets do\n"
	"  tcpwhy conns -j -d 1m          a minute of finished connections\n"
	"  tcpwhy --hist -P 443 -d 1m     latency and duration on port 443\n"
	"  tcpwhy --addr 10.0.0.0/8 -P 5432 --diag\n"
	"                                 failures of PostgreSQL from 10/8\n"
	"  ssh web1 tcpwhy -w - | tcpwhy -r - --diag\n"
	"                                 another host's diagnoses, here\n";

void trace_help(FILE *out)
{
	fputs(trace_usage, out);
}

static void on_signal(int sig)
{
	tt_stop = 1;
}

/* Parse the options of trace and conns into opt; returns the next index. */
static int trace_options(int argc, char **argv, const char *cmd,
			 bool *stats, bool *reset, bool *tw_list)
{
	enum { O_STATS = 256, O_RESET, O_HANDSHAKES, O_DIAG, O_CGROUP, O_HIST,
	       O_COLOR };
	static const struct option lo[] = {
		{ "port", required_argument, NULL, 'P' },
		{ "lport", required_argument, NULL, FILTER_O_LPORT },
		{ "rport", required_argument, NULL, FILTER_O_RPORT },
		{ "addr", required_argument, NULL, FILTER_O_ADDR },
		{ "netns", required_argument, NULL, FILTER_O_NETNS },
		{ "pid", required_argument, NULL, 'p' },
		{ "comm", required_argument, NULL, FILTER_O_COMM },
		{ "state", required_argument, NULL, FILTER_O_STATE },
		{ "json", no_argument, NULL, 'j' },
		{ "time", required_argument, NULL, 'T' },
		{ "color", required_argument, NULL, O_COLOR },
		{ "colour", required_argument, NULL, O_COLOR },
		{ "cgroup", required_argument, NULL, O_CGROUP },
		{ "count", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "stats", no_argument, NULL, O_STATS },
		{ "handshakes", no_argument, NULL, O_HANDSHAKES },
		{ "diag", optional_argument, NULL, O_DIAG },
		{ "outcome", required_argument, NULL, FILTER_O_OUTCOME },
		{ "end", required_argument, NULL, FILTER_O_END },
		{ "hist", no_argument, NULL, O_HIST },
		{ "reset-stats", no_argument, NULL, O_RESET },
		{ "device", required_argument, NULL, 'D' },
		{ "read", required_argument, NULL, 'r' },
		{ "write", required_argument, NULL, 'w' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;

	ob_set_color("auto");
	while ((c = getopt_long(argc, argv, "jp:P:T:c:d:D:r:w:46Vh", lo,
				NULL)) != -1) {
		/* the older spelling of tcpwhy timewait */
		if (c == FILTER_O_STATE && opt.mode == MODE_CONNS) {
			if (tt_state_parse(optarg) != 6)	/* TIME_WAIT */
				die(EX_USAGE, "conns --state: only time-wait "
				    "(the same as tcpwhy timewait)");
			*tw_list = true;
			continue;
		}
		if (filter_option(c, optarg) || tt_source_option(c, optarg))
			continue;
		switch (c) {
		case 'j':
			opt.json = true;
			break;
		case O_CGROUP:
			cg_set_filter(optarg);
			break;
		case 'c':
			opt.count = tt_parse_num(optarg, "count", 1, LONG_MAX);
			break;

		case O_COLOR:
			if (!ob_set_color(optarg))
				die(EX_USAGE, "bad --color '%s' (auto, always or "
				    "never)", optarg);
			break;
		case 'T':
			if (!ob_set_time_format(optarg))
				die(EX_USAGE, "bad --time '%s' (abs, date, iso, "
				    "unix, rel or delta)", optarg);
			break;
		case O_STATS:
			*stats = true;
			break;
		case O_RESET:
			*reset = true;
			break;
		case O_HANDSHAKES:
			if (opt.mode != MODE_CONNS)
				opt.mode = MODE_HANDSHAKES;
			break;
		case O_DIAG:
			if (opt.mode != MODE_CONNS)
				opt.mode = MODE_DIAG;
			if (optarg)
				filter_diag_kinds(optarg);
			break;
		case O_HIST:
			opt.hist = true;
			break;

		case 'w':
			opt.write_path = optarg;
			break;
		case 'V':
			printf("tcpwhy %s, record ABI v%u\n",
			       TCPTRACE_VERSION, TCPTRACE_ABI_VERSION);
			exit(EX_OK);
		case 'h':
			trace_help(stdout);
			exit(EX_OK);
		default:
			tt_usage_error(cmd);
		}
	}
	return optind;
}

static int trace_run(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int fd, rc;

	mono_to_real_ns = (int64_t)(tt_now_ns(CLOCK_REALTIME) -
				    tt_now_ns(CLOCK_MONOTONIC));
	if (opt.input) {
		rc = tt_read_capture(opt.input, tt_handle_buffer);
		if (opt.hist)
			hist_print();
		return rc;
	}
	mono_to_real_known = true;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fd = tt_open_device(opt.device);
	tt_want_types(fd);
	if (opt.write_path)
		tt_open_capture(opt.write_path);
	if (isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOLBF, 0);
	rc = tt_read_device(fd);
	if (opt.hist)
		hist_print();
	return rc;
}

/*
 * What the options chose besides a trace: the older spellings of the
 * stats and timewait subcommands (--stats, --reset-stats and
 * conns --state time-wait) still work.
 */
static int trace_or_other(bool stats, bool reset, bool tw_list)
{
	if (tw_list && (cg_have_filter() || filter_by_task(&opt.f) ||
			opt.f.have_netns || opt.input || opt.write_path))
		die(EX_USAGE, "conns --state time-wait lists the sockets of "
		    "now, of this namespace: only -j, -4, -6, -P, --lport, "
		    "--rport and --addr apply");
	if (tw_list)
		return tt_timewait();
	if ((stats || reset) && (opt.input || opt.write_path))
		die(EX_USAGE, "--stats and --reset-stats are the module's "
		    "counters: not with -r or -w");
	if (stats || reset)
		return tt_stats(reset);
	if (opt.input && opt.write_path)
		die(EX_USAGE, "-r and -w: a capture is read with -r and "
		    "written with -w, not both");
	if (opt.input &&
	    (opt.duration > 0 || strcmp(opt.device, TCPTRACE_DEVICE)))
		die(EX_USAGE, "-r reads a capture: -d and -D are for the "
		    "device");
	if (opt.hist &&
	    (opt.write_path || opt.f.states ||
	     (opt.mode != MODE_ALL && opt.mode != MODE_CONNS)))
		die(EX_USAGE, "--hist sums up connections: not with -w, "
		    "--state, --diag or --handshakes");
	/* the histograms come from the connections' records */
	if (opt.hist)
		opt.mode = MODE_CONNS;
	if (opt.f.outcomes &&
	    (opt.mode == MODE_DIAG || opt.mode == MODE_CONNS || opt.hist))
		die(EX_USAGE, "--outcome chooses handshake lines: not with "
		    "--diag, conns or --hist");
	if (opt.f.conn_ends && (opt.mode != MODE_CONNS || opt.hist))
		die(EX_USAGE, "--end chooses connection lines: with conns, "
		    "not --hist");
	if (opt.f.diag_kinds && opt.mode != MODE_DIAG)
		die(EX_USAGE, "--diag=KINDS shows diagnoses: not with conns or "
		    "--hist");
	if (opt.f.states && opt.mode != MODE_ALL)
		die(EX_USAGE, "--state shows transitions: not with --diag or "
		    "--handshakes");
	if (opt.write_path && opt.json)
		die(EX_USAGE, "-w saves raw records: -j applies when they "
		    "are read back with -r");
	return trace_run();
}

int conns_main(int argc, char **argv)
{
	bool stats = false, reset = false, tw_list = false;
	int i;

	opt.mode = MODE_CONNS;
	i = trace_options(argc, argv, "conns", &stats, &reset, &tw_list);
	if (i < argc)
		die(EX_USAGE, "conns: unexpected argument '%s' (see tcpwhy "
		    "--help)", argv[i]);
	return trace_or_other(stats, reset, tw_list);
}

int trace_main(int argc, char **argv)
{
	bool stats = false, reset = false, tw_list = false;
	int i;

	i = trace_options(argc, argv, "trace", &stats, &reset, &tw_list);
	/*
	 * Options may come before a subcommand (tcpwhy -j conns): getopt
	 * has moved the words that are no options to the end.
	 */
	if (i < argc && !strcmp(argv[i], "conns")) {
		opt.mode = MODE_CONNS;
		i++;
		/* tcpwhy -j conns --state time-wait: parsed before conns */
		if (opt.f.states == 1u << 6) {		/* TIME_WAIT */
			opt.f.states = 0;
			tw_list = true;
		} else if (opt.f.states) {
			die(EX_USAGE, "conns --state: only time-wait (the same "
			    "as tcpwhy timewait)");
		}
	} else if (i < argc && !strcmp(argv[i], "explain")) {
		return explain_main(argc - i, argv + i);
	} else if (i + 1 == argc && !strcmp(argv[i], "stats")) {
		return tt_stats(reset);			/* tcpwhy -j stats */
	} else if (i + 1 == argc && !strcmp(argv[i], "timewait")) {
		tw_list = true;
		opt.mode = MODE_CONNS;
		i++;
	}
	if (i < argc) {
		trace_help(stderr);
		die(EX_USAGE, "unexpected argument '%s'", argv[i]);
	}
	return trace_or_other(stats, reset, tw_list);
}

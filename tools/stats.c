// SPDX-License-Identifier: GPL-2.0
/*
 * tcpwhy stats [--reset]: the module's counters: records made, lost,
 * delivered and buffered per CPU, the connection table's use and the
 * malformed option blocks seen.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "record.h"
#include "cli.h"

int tt_stats(bool reset)
{
	struct tcptrace_cpu_stats cs[1024];
	struct tcptrace_stats st = {
		.nr_cpus = 1024,
		.cpus = (uintptr_t)cs,
	};
	int fd = tt_open_device(opt.device);
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
		printf("{\"type\":\"stats\",\"schema\":%d,\"abi\":%u,"
		       "\"produced\":%llu,\"lost\":%llu,\"delivered\":%llu,"
		       "\"buffered\":%llu,\"conn_capacity\":%llu,"
		       "\"conn_in_use\":%llu,\"conn_evicted\":%llu,"
		       "\"conn_timeouts\":%llu,\"malformed\":%llu,"
		       "\"cpus\":[", TCPWHY_SCHEMA, st.abi_version,
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

static const char stats_usage[] =
	"usage: tcpwhy stats [-j] [--reset] [-D PATH]\n"
	"The module's counters: records made, lost, delivered and buffered\n"
	"per CPU; the connection table; malformed TCP option blocks.\n"
	"\n"
	"  -j, --json            one JSON object\n"
	"      --reset           zero the counters\n"
	"  -D, --device PATH     read PATH instead of " TCPTRACE_DEVICE "\n"
	"  -h, --help            this text\n"
	"\n"
	"example: tcpwhy stats -j | jq .lost\n";

int stats_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "reset", no_argument, NULL, 'r' },
		{ "device", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	bool reset = false;
	int c;

	while ((c = getopt_long(argc, argv, "jD:h", lo, NULL)) != -1) {
		switch (c) {
		case 'j':
			opt.json = true;
			break;
		case 'r':
			reset = true;
			break;
		case 'D':
			opt.device = optarg;
			break;
		case 'h':
			fputs(stats_usage, stdout);
			return EX_OK;
		default:
			tt_usage_error("stats");
		}
	}
	if (optind < argc)
		die(EX_USAGE, "stats: unexpected argument '%s' (see tcpwhy "
		    "stats --help)", argv[optind]);
	return tt_stats(reset);
}

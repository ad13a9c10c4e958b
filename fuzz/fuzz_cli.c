// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the CLI's whole decode and print path,
 * tt_handle_buffer() and what it calls (the CLI's files are linked in,
 * all but the one with main()), in every output mode: text and JSON; all records, --handshakes, --diag
 * and `conns`; with and without filters.
 *
 * Input: byte 0 picks the options (bit 0 JSON, bits 1-2 the mode, bit 3 a
 * port filter, bit 4 a family filter, bit 5 an address filter, bit 6 a
 * netns and a PID filter); the rest is a buffer of records, as read() or
 * `tcpwhy -r FILE` would give it, copied to an exactly sized, 8-byte
 * aligned heap block.  A buffer the record walker rejects makes the CLI
 * exit 3 ("module and tcpwhy disagree"), which is right but would end
 * the fuzzer: only the prefix of whole records is handed over.
 *
 * Output goes to /dev/null; the CLI's per-socket and per-connection tables
 * and its cgroup map are emptied after each input, so each run starts from
 * the CLI's initial state and every crash reproduces alone.  Cgroup ids
 * are looked up in an empty directory, not the host's cgroup tree: the
 * same answers (none) on every host, and no walk of a large tree per
 * input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "record.h"
#include "../tools/cli.h"
#include "../tools/output.h"

static char cgroot[] = "/tmp/tcptrace-fuzz-cgroup.XXXXXX";

static void remove_cgroot(void)
{
	rmdir(cgroot);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (!freopen("/dev/null", "w", stdout))
		abort();
	/* a fixed clock offset: output does not depend on when we run */
	mono_to_real_ns = 1700000000LL * 1000000000LL;
	if (!mkdtemp(cgroot))
		abort();
	atexit(remove_cgroot);
	setenv("TCPTRACE_CGROUP_ROOT", cgroot, 1);
	return 0;
}

static void set_options(uint8_t sel)
{
	memset(&opt.f, 0, sizeof(opt.f));
	opt.json = sel & 1;
	switch ((sel >> 1) & 3) {
	case 0:
		opt.mode = MODE_ALL;
		break;
	case 1:
		opt.mode = MODE_HANDSHAKES;
		break;
	case 2:
		opt.mode = MODE_DIAG;
		break;
	default:
		opt.mode = MODE_CONNS;
		break;
	}
	if (sel & 8)
		filter_option('P', "8080,40000-40010");
	if (sel & 16)
		filter_option(sel & 128 ? '6' : '4', NULL);
	if (sel & 32)
		filter_option(FILTER_O_ADDR, sel & 128 ? "::ffff:127.0.0.0/104" :
				       "127.0.0.1");
	if (sel & 64) {
		/* the initial netns, and the sockets task 1234 acted on */
		filter_option(FILTER_O_NETNS, "4026531840");
		filter_option('p', "1234");
	}
	/* conns with a port filter: as --hist, histograms instead */
	opt.hist = opt.mode == MODE_CONNS && (sel & 8);
	opt.count = -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct tcptrace_hdr *h;
	unsigned long off = 0, good = 0;
	enum tt_decode d;
	uint64_t *buf;
	size_t len;

	if (size < 1)
		return 0;
	set_options(data[0]);
	len = size - 1;
	buf = malloc(len ? len : 1);
	if (!buf)
		abort();
	memcpy(buf, data + 1, len);

	/* the prefix of whole records (the CLI exits on the rest) */
	while ((d = tt_next_record(buf, len, &off, &h)) == TT_OK ||
	       d == TT_SKIP)
		good = off;

	tt_handle_buffer(buf, good, NULL);
	if (opt.hist)
		hist_print();
	fflush(stdout);
	free(buf);
	tt_reset();
	return 0;
}

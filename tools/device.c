// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/tcptrace: opening it (and saying why not), choosing the record
 * types, and the read loop of trace and conns, which prints the records
 * or saves them raw (-w).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "record.h"
#include "cli.h"
#include "output.h"

int tt_open_device(const char *path)
{
	uint32_t abi = 0;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		switch (errno) {
		case ENOENT:
		case ENODEV:
		case ENXIO:
			die(EX_RUNTIME, "%s: no such device: is the tcptrace "
			    "module loaded? (modprobe tcptrace)", path);
			break;
		case EACCES:
		case EPERM:
			die(EX_RUNTIME, "%s: permission denied: run as root "
			    "(needs CAP_NET_ADMIN)", path);
			break;
		case EBUSY:
			die(EX_RUNTIME, "%s: busy: another tcpwhy reader has "
			    "it open (one reader at a time)", path);
			break;
		case EOPNOTSUPP:
			die(EX_RUNTIME, "%s: readers in a container need "
			    "Linux 5.12 or later (network namespace cookies); "
			    "read from the host", path);
			break;
		default:
			die(EX_RUNTIME, "%s: %s", path, strerror(errno));
		}
	}
	if (ioctl(fd, TCPTRACE_IOC_VERSION, &abi) < 0)
		die(EX_DATA, "%s: not a tcptrace device (version ioctl: %s)",
		    path, strerror(errno));
	if (abi != TCPTRACE_ABI_VERSION)
		die(EX_DATA, "ABI version mismatch: module speaks v%u, this "
		    "tcpwhy speaks v%u: install matching module and CLI",
		    abi, TCPTRACE_ABI_VERSION);
	return fd;
}

/*
 * Ask the module for the record types this run prints or needs, so it
 * does not make the rest; -w keeps everything.  A module older than the
 * ioctl sends everything, and tt_handle_buffer() skips what it does not show.
 */
void tt_want_types(int fd)
{
	uint32_t types = TCPTRACE_TYPES_ALL;

	if (opt.write_path)
		return;
	switch (opt.mode) {
	case MODE_ALL:
		types = 1u << TCPTRACE_REC_STATE | 1u << TCPTRACE_REC_HANDSHAKE |
			1u << TCPTRACE_REC_DIAG;
		break;
	case MODE_HANDSHAKES:
		types = 1u << TCPTRACE_REC_HANDSHAKE;
		break;
	case MODE_DIAG:
		types = 1u << TCPTRACE_REC_DIAG;
		break;
	case MODE_CONNS:
		break;
	}
	/* --state shows transitions only */
	if (opt.f.states && opt.mode != MODE_CONNS)
		types = 1u << TCPTRACE_REC_STATE;
	/* -p and --comm learn the sockets of a task from its transitions */
	if (filter_by_task(&opt.f))
		types |= 1u << TCPTRACE_REC_STATE;
	tt_set_types(fd, types);
}

void tt_set_types(int fd, uint32_t types)
{
	if (ioctl(fd, TCPTRACE_IOC_SET_TYPES, &types) < 0 && errno != ENOTTY)
		die(EX_RUNTIME, "%s: choosing record types: %s", opt.device,
		    strerror(errno));
}

/* How many whole records @buf holds (for -c with -w). */
static long count_records(const void *buf, size_t len)
{
	const struct tcptrace_hdr *h;
	unsigned long off = 0;
	long n = 0;

	while (tt_next_record(buf, len, &off, &h) <= TT_SKIP)
		n++;
	return n;
}

int tt_read_device(int fd)
{
	static uint64_t buf[65536 / 8];
	uint64_t deadline = 0;
	unsigned long long written = 0;

	if (opt.duration > 0)
		deadline = tt_now_ns(CLOCK_MONOTONIC) +
			   (uint64_t)(opt.duration * 1e9);
	while (!tt_stop) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int timeout = -1, r;
		ssize_t n;

		if (deadline) {
			uint64_t now = tt_now_ns(CLOCK_MONOTONIC);

			if (now >= deadline)
				break;
			timeout = (deadline - now) / 1000000 + 1;
		}
		r = poll(&p, 1, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die(EX_RUNTIME, "poll: %s", strerror(errno));
		if (r == 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die(EX_RUNTIME, "read %s: %s", opt.device,
			    strerror(errno));
		}
		if (n == 0)
			continue;
		if (opt.write_path) {
			/* flushed per read: -w - | tcpwhy -r - streams */
			if (fwrite(buf, 1, n, opt.wfile) != (size_t)n ||
			    fflush(opt.wfile))
				die(EX_RUNTIME, "%s: %s", opt.write_path,
				    strerror(errno));
			written += n;
			if (opt.count > 0) {
				tt_printed += count_records(buf, n);
				if (tt_printed >= opt.count)
					break;
			}
			continue;
		}
		if (!tt_handle_buffer(buf, n, NULL)) {
			ob_flush();
			break;
		}
		ob_flush();
	}
	ob_flush();
	if (opt.write_path) {
		if (fclose(opt.wfile))
			die(EX_RUNTIME, "%s: %s", opt.write_path,
			    strerror(errno));
		fprintf(stderr, "tcpwhy: %llu bytes of records written to %s "
			"(read them with -r)\n", written, opt.write_path);
	}
	if (tt_total_lost && !opt.json)
		fprintf(stderr, "tcpwhy: %" PRIu64 " records lost\n",
			tt_total_lost);
	return EX_OK;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Capture files: what -w writes and -r reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "record.h"
#include "cli.h"
#include "output.h"

/*
 * A file written by -w starts with this header; -r also takes a bare
 * stream of records (e.g. saved straight from the device).  Records carry
 * CLOCK_MONOTONIC, which means nothing on another boot: the header keeps
 * the writer's offset to CLOCK_REALTIME, so -r shows the times of day the
 * records were made.
 */
#define CAPTURE_MAGIC "TCPTRACE"
#define CAPTURE_HDR_FIRST 16	/* the first captures: no len, no offset */

struct capture_hdr {
	char magic[8];
	uint32_t abi;
	uint32_t len;			/* of this header; 0 in the first */
	int64_t mono_to_real_ns;	/* writer's REALTIME - MONOTONIC */
};

void tt_open_capture(const char *path)
{
	struct capture_hdr h = {
		.abi = TCPTRACE_ABI_VERSION,
		.len = sizeof(h),
		.mono_to_real_ns = mono_to_real_ns,
	};

	memcpy(h.magic, CAPTURE_MAGIC, sizeof(h.magic));
	opt.wfile = strcmp(path, "-") ? fopen(path, "wb") : stdout;
	if (!opt.wfile)
		die(EX_RUNTIME, "%s: %s", path, strerror(errno));
	if (fwrite(&h, sizeof(h), 1, opt.wfile) != 1)
		die(EX_RUNTIME, "%s: %s", path, strerror(errno));
}

/*
 * Take the header off the @have bytes of @buf, if they start with one.
 * False: the header is longer than what has arrived, read more (@eof:
 * nothing more will come).
 */
static bool capture_header(const char *path, uint64_t *buf, size_t *have,
			   bool eof)
{
	const struct capture_hdr *h = (const void *)buf;
	size_t len;

	if (*have < CAPTURE_HDR_FIRST || memcmp(buf, CAPTURE_MAGIC, 8))
		return true;		/* a bare stream of records */
	len = h->len ? h->len : CAPTURE_HDR_FIRST;
	if (h->abi != TCPTRACE_ABI_VERSION)
		die(EX_DATA, "%s: written with record ABI v%u, this tcpwhy "
		    "reads v%u", path, h->abi, TCPTRACE_ABI_VERSION);
	if (len < CAPTURE_HDR_FIRST || len % 8 || len > 4096 ||
	    (len > *have && eof))
		die(EX_DATA, "%s: bad capture header (%u bytes)", path,
		    h->len);
	if (len > *have)
		return false;
	if (len >= sizeof(*h)) {
		mono_to_real_ns = h->mono_to_real_ns;
		mono_to_real_known = true;
	}
	*have -= len;
	memmove(buf, (char *)buf + len, *have);
	return true;
}

/*
 * Records are handed on as they arrive, so that a pipe streams:
 * ssh host tcpwhy -w - | tcpwhy -r -.
 */
int tt_read_capture(const char *path, tt_records_fn handle_buffer)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) :
				     STDIN_FILENO;
	static uint64_t buf[(1 << 20) / 8];
	size_t have = 0, used;
	bool first = true;
	ssize_t n;

	if (fd < 0)
		die(EX_RUNTIME, "%s: %s", path, strerror(errno));
	for (;;) {
		n = read(fd, (char *)buf + have, sizeof(buf) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die(EX_RUNTIME, "%s: %s", path, strerror(errno));
		have += n;
		if (first) {
			/* a pipe may hand the header over in pieces */
			if (n && have < sizeof(struct capture_hdr))
				continue;
			if (!capture_header(path, buf, &have, n == 0))
				continue;
			first = false;
		}
		if (!n) {
			/* at the end, a cut record is an error */
			handle_buffer(buf, have, NULL);
			break;
		}
		if (!handle_buffer(buf, have, &used))
			break;
		ob_flush();
		have -= used;
		memmove(buf, (char *)buf + used, have);
	}
	ob_flush();
	if (fd != STDIN_FILENO)
		close(fd);
	return EX_OK;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Capture files: what -w writes and -r reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "record.h"
#include "cli.h"
#include "output.h"

/*
 * A file written by -w starts with this header; -r also takes a bare
 * stream of records (e.g. saved straight from the device).  Records carry
 * CLOCK_MONOTONIC, which means nothing on another boot: the header keeps
 * the writer's offset to CLOCK_REALTIME, so -r shows the times of day the
 * records were made; and which host, boot and kernel wrote it.  Its
 * format is in Documentation/tcptrace.rst ("Capture files").  A reader
 * skips the part of a longer header it does not know: len says where the
 * records start.
 */
#define CAPTURE_MAGIC "TCPTRACE"
#define CAPTURE_HDR_FIRST 16	/* the first captures: no len, no offset */
#define CAPTURE_HDR_OFFSET 24	/* up to mono_to_real_ns */

struct capture_hdr {
	char magic[8];
	uint32_t abi;
	uint32_t len;			/* of this header; 0 in the first */
	int64_t mono_to_real_ns;	/* writer's REALTIME - MONOTONIC */
	/* since 208-byte headers; NUL-terminated, NUL-padded */
	char boot_id[40];		/* /proc/sys/kernel/random/boot_id */
	char hostname[72];		/* uname -n */
	char release[72];		/* uname -r */
};

/* The writer's boot id, hostname and kernel release into @h. */
static void capture_identity(struct capture_hdr *h)
{
	struct utsname u;
	ssize_t n = -1;
	int fd;

	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, h->boot_id, sizeof(h->boot_id) - 1);
		close(fd);
	}
	h->boot_id[n > 0 ? strcspn(h->boot_id, "\n") : 0] = '\0';
	if (!uname(&u)) {
		snprintf(h->hostname, sizeof(h->hostname), "%s", u.nodename);
		snprintf(h->release, sizeof(h->release), "%s", u.release);
	}
}

void tt_open_capture(const char *path)
{
	struct capture_hdr h = {
		.abi = TCPTRACE_ABI_VERSION,
		.len = sizeof(h),
		.mono_to_real_ns = mono_to_real_ns,
	};

	memcpy(h.magic, CAPTURE_MAGIC, sizeof(h.magic));
	capture_identity(&h);
	opt.wfile = strcmp(path, "-") ? fopen(path, "wb") : stdout;
	if (!opt.wfile)
		die(EX_RUNTIME, "%s: %s", path, strerror(errno));
	if (fwrite(&h, sizeof(h), 1, opt.wfile) != 1)
		die(EX_RUNTIME, "%s: %s", path, strerror(errno));
}

/* @src (@len bytes, maybe without a NUL) as text a terminal shows as is */
static const char *printable(char *dst, const char *src, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && src[i]; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
	return dst;
}

/*
 * Take the header off the @have bytes of @buf, if they start with one.
 * False: the header is longer than what has arrived, read more (@eof:
 * nothing more will come).
 */
static bool capture_header(const char *path, uint64_t *buf, size_t *have,
			   bool eof, bool say)
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
	if (len >= CAPTURE_HDR_OFFSET) {
		mono_to_real_ns = h->mono_to_real_ns;
		mono_to_real_known = true;
	}
	/* say whose records these are, once, where it does not mix in */
	if (len >= sizeof(*h) && say && !opt.json) {
		char host[sizeof(h->hostname)], rel[sizeof(h->release)];
		char boot[sizeof(h->boot_id)];

		fprintf(stderr, "tcpwhy: %s: written on %s (Linux %s, boot %s)\n",
			path, printable(host, h->hostname, sizeof(host)),
			printable(rel, h->release, sizeof(rel)),
			printable(boot, h->boot_id, sizeof(boot)));
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
			if (n && have < CAPTURE_HDR_OFFSET)
				continue;
			if (!capture_header(path, buf, &have, n == 0,
					    handle_buffer == tt_handle_buffer))
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

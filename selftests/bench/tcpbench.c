// SPDX-License-Identifier: GPL-2.0
/*
 * tcpbench - the workloads of tcptrace's benchmark (selftests/bench/).
 *
 *   tcpbench storm [-a ADDR] [-p PORT] [-n CONNS] [-P CLIENTS]
 *	A listener and CLIENTS client processes (default 1) make CONNS
 *	connections in all, one after another per client: connect, wait
 *	for the server's close (EOF), close.  The server accepts and closes
 *	at once, so every connection takes the same path through the TCP
 *	state machine: 5 transitions on each end.
 *
 *   tcpbench bulk-recv [-a ADDR] [-p PORT]
 *	Accept one connection, read until EOF, close.
 *
 *   tcpbench bulk-send -a ADDR [-p PORT] [-b BYTES]
 *	Connect, write BYTES, shut down the write side, wait for the
 *	receiver's close; the time from connect() to that EOF is the
 *	transfer time.  Retries the connect for a few seconds, so it can
 *	be started right after bulk-recv.
 *
 * Each prints one JSON line on stdout: what it did and how long it took
 * in CLOCK_MONOTONIC nanoseconds.  Exit status 0 on success, 1 on any
 * failure (with a message on stderr), 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS	64
#define CHUNK		(128 * 1024)

struct opts {
	const char *addr;
	int port;
	long conns;
	int clients;
	unsigned long long bytes;
};

static void fail(const char *what)
{
	fprintf(stderr, "tcpbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* An IPv4 or IPv6 socket address for ADDR:PORT. */
static socklen_t make_addr(const char *addr, int port,
			   struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		return sizeof(*sin);
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		return sizeof(*sin6);
	}
	fprintf(stderr, "tcpbench: bad address '%s'\n", addr);
	exit(2);
}

static int listener(const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(addr, port, &ss);
	int one = 1;
	int fd;

	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		fail("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		fail("SO_REUSEADDR");
	if (bind(fd, (struct sockaddr *)&ss, len))
		fail("bind");
	if (listen(fd, 1024))
		fail("listen");
	return fd;
}

/* One storm client: @n connections, each waiting for the server's FIN. */
static int storm_client(const struct sockaddr_storage *ss, socklen_t len,
			long n)
{
	char c;
	long i;

	for (i = 0; i < n; i++) {
		int fd = socket(ss->ss_family, SOCK_STREAM, 0);
		ssize_t r;

		if (fd < 0)
			fail("socket");
		if (connect(fd, (const struct sockaddr *)ss, len))
			fail("connect");
		do
			r = read(fd, &c, 1);
		while (r < 0 && errno == EINTR);
		if (r != 0) {
			fprintf(stderr, "tcpbench: expected EOF, read %zd\n", r);
			return 1;
		}
		close(fd);
	}
	return 0;
}

static int run_storm(const struct opts *o)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(o->addr, o->port, &ss);
	pid_t pids[MAX_CLIENTS];
	uint64_t t0, t1;
	int lfd, i, st, bad = 0;
	long done;

	lfd = listener(o->addr, o->port);
	t0 = now_ns();
	for (i = 0; i < o->clients; i++) {
		long n = o->conns / o->clients +
			 (i < o->conns % o->clients ? 1 : 0);

		pids[i] = fork();
		if (pids[i] < 0)
			fail("fork");
		if (pids[i] == 0) {
			close(lfd);
			_exit(storm_client(&ss, len, n));
		}
	}
	/* The server: accept and close, so the server end closes first. */
	for (done = 0; done < o->conns; done++) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR) {
				done--;
				continue;
			}
			fail("accept");
		}
		close(fd);
	}
	for (i = 0; i < o->clients; i++) {
		if (waitpid(pids[i], &st, 0) < 0)
			fail("waitpid");
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad++;
	}
	t1 = now_ns();
	close(lfd);
	if (bad) {
		fprintf(stderr, "tcpbench: %d storm client(s) failed\n", bad);
		return 1;
	}
	printf("{\"workload\":\"storm\",\"clients\":%d,\"conns\":%ld,\"ns\":%llu}\n",
	       o->clients, o->conns, (unsigned long long)(t1 - t0));
	return 0;
}

static int bulk_recv(const struct opts *o)
{
	static char buf[CHUNK];
	unsigned long long total = 0;
	uint64_t t0, t1;
	int lfd, fd;
	ssize_t r;

	lfd = listener(o->addr, o->port);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		fail("accept");
	close(lfd);
	t0 = now_ns();
	for (;;) {
		r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			fail("read");
		if (r == 0)
			break;
		total += r;
	}
	t1 = now_ns();
	close(fd);
	printf("{\"workload\":\"bulk-recv\",\"bytes\":%llu,\"ns\":%llu}\n",
	       total, (unsigned long long)(t1 - t0));
	return 0;
}

static int bulk_send(const struct opts *o)
{
	static char buf[CHUNK];
	struct sockaddr_storage ss;
	socklen_t len = make_addr(o->addr, o->port, &ss);
	unsigned long long left = o->bytes;
	uint64_t t0, t1;
	int fd, tries;
	ssize_t r;

	memset(buf, 'x', sizeof(buf));
	/* the receiver may still be starting: retry for about 5 s */
	for (tries = 0;; tries++) {
		fd = socket(ss.ss_family, SOCK_STREAM, 0);
		if (fd < 0)
			fail("socket");
		t0 = now_ns();
		if (!connect(fd, (struct sockaddr *)&ss, len))
			break;
		if (errno != ECONNREFUSED || tries >= 500)
			fail("connect");
		close(fd);
		usleep(10000);
	}
	while (left) {
		size_t n = left < sizeof(buf) ? left : sizeof(buf);

		r = write(fd, buf, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			fail("write");
		left -= r;
	}
	if (shutdown(fd, SHUT_WR))
		fail("shutdown");
	do
		r = read(fd, buf, sizeof(buf));
	while (r < 0 && errno == EINTR);
	if (r != 0) {
		fprintf(stderr, "tcpbench: expected EOF from the receiver\n");
		return 1;
	}
	t1 = now_ns();
	close(fd);
	printf("{\"workload\":\"bulk\",\"bytes\":%llu,\"ns\":%llu}\n",
	       o->bytes, (unsigned long long)(t1 - t0));
	return 0;
}

static void bad_usage(void)
{
	fputs("usage: tcpbench storm [-a ADDR] [-p PORT] [-n CONNS] [-P CLIENTS]\n"
	      "       tcpbench bulk-recv [-a ADDR] [-p PORT]\n"
	      "       tcpbench bulk-send -a ADDR [-p PORT] [-b BYTES]\n",
	      stderr);
	exit(2);
}

static long num(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || *end || end == s || v < lo || v > hi)
		bad_usage();
	return v;
}

int main(int argc, char **argv)
{
	struct opts o = {
		.addr = "127.0.0.1",
		.port = 5201,
		.conns = 1000,
		.clients = 1,
		.bytes = 64ull << 20,
	};
	const char *cmd;
	int c;

	if (argc < 2)
		bad_usage();
	cmd = argv[1];
	optind = 2;
	while ((c = getopt(argc, argv, "a:p:n:P:b:")) != -1) {
		switch (c) {
		case 'a':
			o.addr = optarg;
			break;
		case 'p':
			o.port = num(optarg, 1, 65535);
			break;
		case 'n':
			o.conns = num(optarg, 1, 100000000);
			break;
		case 'P':
			o.clients = num(optarg, 1, MAX_CLIENTS);
			break;
		case 'b':
			o.bytes = num(optarg, 1, 1l << 40);
			break;
		default:
			bad_usage();
		}
	}
	if (optind != argc)
		bad_usage();
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "storm"))
		return run_storm(&o);
	if (!strcmp(cmd, "bulk-recv"))
		return bulk_recv(&o);
	if (!strcmp(cmd, "bulk-send"))
		return bulk_send(&o);
	bad_usage();
	return 2;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Sysctl values in a diagnosis's network namespace (nsfacts.h).
 *
 * /proc/sys/net shows the namespace of the task that looks, so the reader
 * enters the record's namespace (setns), reads, and returns to its own.
 * It finds the namespace by the record's inode number among the names
 * ip-netns keeps in /run/netns and the namespaces of running processes
 * (a container's), and keeps no descriptor to it: holding one would keep
 * a deleted namespace alive.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>

#include "nsfacts.h"

#define CACHE_SLOTS	16
#define KEEP_NS		1000000000ull	/* a second */
/*
 * Fresh reads a second, at most: a storm of diagnoses from many clients
 * (a SYN flood a firewall drops) would otherwise cost a read each, and
 * the reader's time is what loses records.  Past it, no values (null).
 */
#define READS_PER_SEC	32
#define NS_SLOTS	16
#define NS_KEEP_NS	10000000000ull	/* where a namespace is: 10 s */

struct slot {
	uint32_t ino;
	const char *names;	/* the caller's constant: compared by address */
	struct tt_nsquery q;	/* family 0: no route asked */
	uint64_t at_ns;
	struct tt_nsfacts v;
};

static struct slot cache[CACHE_SLOTS];
static unsigned int next_slot;

/* where a namespace was found (a /proc scan costs ms on a busy host) */
static struct {
	uint32_t ino;
	uint64_t at_ns;
	char path[64];		/* "": not found */
} where[NS_SLOTS];
static unsigned int next_where;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint32_t ino_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (uint32_t)st.st_ino;
}

/* A path naming the namespace @ino: an ip-netns name, else a process's. */
static int scan_ns(uint32_t ino, char *path, size_t len)
{
	static const char *const dirs[] = { "/run/netns", "/proc" };
	struct dirent *e;
	unsigned int i;
	DIR *d;

	for (i = 0; i < 2; i++) {
		d = opendir(dirs[i]);
		if (!d)
			continue;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.' ||
			    (i == 1 && !isdigit((unsigned char)e->d_name[0])))
				continue;
			snprintf(path, len, i ? "/proc/%s/ns/net" : "/run/netns/%s",
				 e->d_name);
			if (ino_of(path) == ino) {
				closedir(d);
				return 0;
			}
		}
		closedir(d);
	}
	return -1;
}

/* scan_ns(), remembered for NS_KEEP_NS, a path checked again on use */
static int find_ns(uint32_t ino, char *path, size_t len, uint64_t now)
{
	unsigned int i;

	for (i = 0; i < NS_SLOTS; i++) {
		if (where[i].ino != ino || now - where[i].at_ns >= NS_KEEP_NS)
			continue;
		if (!where[i].path[0])
			return -1;
		if (ino_of(where[i].path) == ino) {
			snprintf(path, len, "%s", where[i].path);
			return 0;
		}
		break;		/* moved: scan again */
	}
	i = next_where++ % NS_SLOTS;
	where[i].ino = ino;
	where[i].at_ns = now;
	where[i].path[0] = '\0';
	if (scan_ns(ino, path, len))
		return -1;
	snprintf(where[i].path, sizeof(where[i].path), "%s", path);
	return 0;
}

/* The value in @path, its whitespace runs as one space; -1 if none. */
static int read_value(const char *path, char *v, size_t len)
{
	char buf[128];
	size_t i, o = 0;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return -1;
	for (i = 0; i < (size_t)r && o + 1 < len; i++) {
		if (isspace((unsigned char)buf[i])) {
			if (o && v[o - 1] != ' ')
				v[o++] = ' ';
		} else {
			v[o++] = buf[i];
		}
	}
	while (o && v[o - 1] == ' ')
		o--;
	v[o] = '\0';
	return 0;
}

static int add(struct tt_nsfact *out, int n, int max, const char *name,
	       const char *path)
{
	if (n >= max || read_value(path, out[n].value, sizeof(out[n].value)))
		return n;
	snprintf(out[n].name, sizeof(out[n].name), "%s", name);
	return n + 1;
}

/* "a.b.*.c": "all" first, then every other entry whose value is not 0 */
static int add_glob(struct tt_nsfact *out, int n, int max, const char *pre,
		    size_t prelen, const char *post)
{
	char dir[96], path[256], name[80];
	struct dirent *e;
	DIR *d;
	size_t i;
	int at;

	snprintf(dir, sizeof(dir), "/proc/sys/%.*s", (int)prelen, pre);
	for (i = 10; dir[i]; i++)
		if (dir[i] == '.')
			dir[i] = '/';
	if (snprintf(name, sizeof(name), "%.*sall%s", (int)prelen, pre,
		     post) < (int)sizeof(name) &&
	    snprintf(path, sizeof(path), "%sall/%s", dir, post + 1) <
	    (int)sizeof(path))
		n = add(out, n, max, name, path);
	d = opendir(dir);
	if (!d)
		return n;
	while (n < max && (e = readdir(d))) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "all") ||
		    !strcmp(e->d_name, "default"))
			continue;
		if (snprintf(name, sizeof(name), "%.*s%s%s", (int)prelen, pre,
			     e->d_name, post) >= (int)sizeof(name) ||
		    snprintf(path, sizeof(path), "%s%s/%s", dir, e->d_name,
			     post + 1) >= (int)sizeof(path))
			continue;
		at = add(out, n, max, name, path);
		if (at > n && strcmp(out[n].value, "0"))
			n = at;
	}
	closedir(d);
	return n;
}

/*
 * "stat:FILE:COLUMN": the sum over CPUs of a /proc/net/stat/FILE column
 * (hexadecimal, one row per CPU under a header of column names), as
 * the namespace the task is in now counts it.
 */
static int add_stat(struct tt_nsfact *out, int n, int max, const char *tok)
{
	char file[32], col[32], path[64], line[512], *p, *save;
	unsigned long long sum = 0;
	int want = -1, i;
	FILE *f;

	if (n >= max || sscanf(tok, "stat:%31[a-z_]:%31[a-z_]", file, col) != 2)
		return n;
	snprintf(path, sizeof(path), "/proc/thread-self/net/stat/%s", file);
	f = fopen(path, "re");
	if (!f)
		return n;
	if (fgets(line, sizeof(line), f))
		for (i = 0, p = strtok_r(line, " \t\n", &save); p;
		     i++, p = strtok_r(NULL, " \t\n", &save))
			if (!strcmp(p, col))
				want = i;
	while (want >= 0 && fgets(line, sizeof(line), f)) {
		for (i = 0, p = strtok_r(line, " \t\n", &save); p && i < want;
		     i++)
			p = strtok_r(NULL, " \t\n", &save);
		if (p)
			sum += strtoull(p, NULL, 16);
	}
	fclose(f);
	if (want < 0)
		return n;
	snprintf(out[n].name, sizeof(out[n].name), "/proc/net/stat/%s %s",
		 file, col);
	snprintf(out[n].value, sizeof(out[n].value), "%llu", sum);
	return n + 1;
}

/* Every sysctl of @names, read in the namespace the task is in now. */
static int read_all(const char *names, struct tt_nsfact *out, int max)
{
	char name[80], path[96];
	const char *p = names, *end, *star;
	size_t l, i;
	int n = 0;

	while (*p && n < max) {
		end = strchrnul(p, ' ');
		l = end - p;
		star = memchr(p, '*', l);
		if (l >= sizeof(name)) {
			/* no such name: skipped */
		} else if (!strncmp(p, "stat:", 5)) {
			snprintf(name, sizeof(name), "%.*s", (int)l, p);
			n = add_stat(out, n, max, name);
		} else if (star && star > p && star[-1] == '.' &&
			   star + 1 < end && star[1] == '.') {
			snprintf(name, sizeof(name), "%.*s", (int)(end - star - 1),
				 star + 1);
			n = add_glob(out, n, max, p, star - p, name);
		} else if (!star) {
			snprintf(name, sizeof(name), "%.*s", (int)l, p);
			snprintf(path, sizeof(path), "/proc/sys/%s", name);
			for (i = 10; path[i]; i++)
				if (path[i] == '.')
					path[i] = '/';
			n = add(out, n, max, name, path);
		}
		p = *end ? end + 1 : end;
	}
	return n;
}

static void rta_add(struct nlmsghdr *n, int type, const void *data,
		    int len)
{
	struct rtattr *rta = (void *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/*
 * The route the namespace the task is in would send to @q->remote from
 * @q->local by (RTM_GETROUTE, as ip route get), in words, into @out.
 */
static void route_back(const struct tt_nsquery *q, char *out, size_t len)
{
	int alen = q->family == AF_INET ? 4 : 16, fd, l, oif = 0;
	struct timeval tv = { .tv_sec = 1 };
	char dev[IF_NAMESIZE] = "?", gw[INET6_ADDRSTRLEN] = "";
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct {
		struct nlmsghdr n;
		struct rtmsg r;
		char attrs[64];
	} req = { 0 };
	char buf[4096];
	struct nlmsghdr *h = (void *)buf;
	struct rtattr *a;

	out[0] = '\0';
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.n.nlmsg_type = RTM_GETROUTE;
	req.n.nlmsg_flags = NLM_F_REQUEST;
	req.r.rtm_family = q->family;
	req.r.rtm_dst_len = alen * 8;
	req.r.rtm_src_len = alen * 8;
	rta_add(&req.n, RTA_DST, q->remote, alen);
	rta_add(&req.n, RTA_SRC, q->local, alen);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	l = -1;
	if (sendto(fd, &req, req.n.nlmsg_len, 0, (void *)&sa,
		   sizeof(sa)) >= 0)
		l = recv(fd, buf, sizeof(buf), 0);
	if (l < (int)sizeof(*h) || !NLMSG_OK(h, (unsigned int)l)) {
		close(fd);
		return;
	}
	if (h->nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr *e = NLMSG_DATA(h);

		if (e->error)
			snprintf(out, len, "none (%s)", strerror(-e->error));
		close(fd);
		return;
	}
	l = RTM_PAYLOAD(h);
	for (a = RTM_RTA(NLMSG_DATA(h)); RTA_OK(a, l); a = RTA_NEXT(a, l)) {
		if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) >= 4)
			memcpy(&oif, RTA_DATA(a), 4);
		else if (a->rta_type == RTA_GATEWAY &&
			 RTA_PAYLOAD(a) == (unsigned int)alen)
			inet_ntop(q->family, RTA_DATA(a), gw, sizeof(gw));
	}
	/* the interface's name, as this namespace knows it */
	if (oif)
		if_indextoname(oif, dev);
	snprintf(out, len, "dev %s%s%s", dev, gw[0] ? " via " : "", gw);
	close(fd);
}

/* Does listener @m, of @family, take connections to @q->local? */
static int listens_for(const struct inet_diag_msg *m, int family,
		       const struct tt_nsquery *q)
{
	static const uint8_t any[16];
	int alen = family == AF_INET ? 4 : 16;

	if (!memcmp(m->id.idiag_src, any, alen))
		return 1;	/* a wildcard: IPv6's takes IPv4 too */
	return family == q->family && !memcmp(m->id.idiag_src, q->local, alen);
}

/*
 * The listener on @q->lport, as ss -lnt shows it: its accept queue now
 * (Recv-Q) and its listen() backlog (Send-Q), from sock_diag.
 */
static void listener_queue(const struct tt_nsquery *q, struct tt_nsfacts *v)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct {
		struct nlmsghdr n;
		struct inet_diag_req_v2 r;
	} req = {
		.n = {
			.nlmsg_len = sizeof(req),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		},
		.r = {
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_states = 1 << 10,	/* TCP_LISTEN */
		},
	};
	struct timeval tv = { .tv_sec = 1 };
	const struct inet_diag_msg *m;
	struct nlmsghdr *h;
	unsigned int i;
	char buf[8192];
	int fd, l, done;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (i = 0; i < 2; i++) {
		req.r.sdiag_family = families[i];
		if (send(fd, &req, sizeof(req), 0) < 0)
			break;
		for (done = 0; !done;) {
			l = recv(fd, buf, sizeof(buf), 0);
			if (l <= 0)
				break;
			for (h = (void *)buf; NLMSG_OK(h, (unsigned int)l);
			     h = NLMSG_NEXT(h, l)) {
				if (h->nlmsg_type == NLMSG_DONE ||
				    h->nlmsg_type == NLMSG_ERROR) {
					done = 1;
					break;
				}
				m = NLMSG_DATA(h);
				if (v->have_listener ||
				    ntohs(m->id.idiag_sport) != q->lport ||
				    !listens_for(m, families[i], q))
					continue;
				v->have_listener = 1;
				v->accept_queue = m->idiag_rqueue;
				v->backlog = m->idiag_wqueue;
			}
		}
		if (!done)
			break;
	}
	close(fd);
}

/* Everything @s asks for, read in the namespace the task is in now. */
static void read_here(struct slot *s)
{
	s->v.n = read_all(s->names, s->v.f, TT_NSFACTS_MAX);
	s->v.route[0] = '\0';
	s->v.iif_name[0] = '\0';
	s->v.have_listener = 0;
	if (s->q.family && s->q.route)
		route_back(&s->q, s->v.route, sizeof(s->v.route));
	if (s->q.family && s->q.lport)
		listener_queue(&s->q, &s->v);
	/* as this namespace names it */
	if (s->q.iif && !if_indextoname(s->q.iif, s->v.iif_name))
		s->v.iif_name[0] = '\0';
}

static void read_in(struct slot *s, uint64_t now)
{
	static int self = -2;
	char path[64];
	struct stat st;
	int fd;

	s->v.n = 0;
	s->v.route[0] = '\0';
	s->v.iif_name[0] = '\0';
	s->v.have_listener = 0;
	if (self == -2)
		self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0 || fstat(self, &st))
		return;
	if ((uint32_t)st.st_ino == s->ino) {
		read_here(s);
		return;
	}
	if (find_ns(s->ino, path, sizeof(path), now))
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	/* the name may have moved to another namespace since */
	if (fstat(fd, &st) || (uint32_t)st.st_ino != s->ino ||
	    setns(fd, CLONE_NEWNET)) {
		close(fd);
		return;
	}
	close(fd);
	read_here(s);
	if (setns(self, CLONE_NEWNET)) {
		/* everything after this would look at the wrong namespace */
		perror("tcptrace: returning to its own network namespace");
		exit(1);
	}
}

const struct tt_nsfacts *tt_nsfacts(uint32_t netns_ino, const char *names,
				    const struct tt_nsquery *q)
{
	static const struct tt_nsquery none;
	static uint64_t window_ns;
	static unsigned int reads;
	uint64_t now = now_ns();
	struct slot *s;
	unsigned int i;

	if (!q)
		q = &none;
	if (!names)
		names = "";
	for (i = 0; i < CACHE_SLOTS; i++) {
		s = &cache[i];
		if (s->names == names && s->ino == netns_ino &&
		    !memcmp(&s->q, q, sizeof(*q)) && now - s->at_ns < KEEP_NS)
			goto found;
	}
	if (now - window_ns >= KEEP_NS) {
		window_ns = now;
		reads = 0;
	}
	if (++reads > READS_PER_SEC)
		return NULL;
	s = &cache[next_slot++ % CACHE_SLOTS];
	s->ino = netns_ino;
	s->names = names;
	s->q = *q;
	s->at_ns = now;
	read_in(s, now);
found:
	if (!s->v.n && !s->v.route[0] && !s->v.iif_name[0] &&
	    !s->v.have_listener)
		return NULL;
	return &s->v;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * A socket's cgroup v2 id -> its path, for the records' "cgroup" field
 * and the --cgroup filter (cgroup.h).
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "cli.h"
#include "cgroup.h"
#include "output.h"

/*
 * Every record about a connection carries its socket's cgroup v2 id, the
 * inode number of the cgroup's directory on the cgroup2 mount (64-bit
 * hosts).  Its path is found by walking that tree: at the first id seen,
 * then again when an id is not in the map (cgroups come and go), at most
 * once a second.  A hit is a hash look-up: no syscall, no allocation.
 */
#define CG_BITS		10
#define CG_MAX_DEPTH	64
#define CG_REWALK_NS	1000000000ull
/* a path's JSON form; longer ones stay unnamed: lines stay a few KiB */
#define CG_JSON_MAX	3072

static struct {
	struct cgent *tab[1 << CG_BITS];
	const char *mount;	/* NULL: not looked for yet; "": none */
	const char *filter;	/* --cgroup, below the mount: "/a/b" */
	size_t filter_len;
	uint64_t walked_ns;	/* CLOCK_MONOTONIC of the last walk, 0: none */
	uint64_t last_id;	/* the last look-up, for runs of one cgroup */
	const struct cgent *last;
	char path[PATH_MAX];
} cgmap;

/*
 * The cgroup2 mount: $TCPTRACE_CGROUP_ROOT, else /sys/fs/cgroup (or its
 * unified/ on a hybrid cgroup v1 host) when it is cgroup2.
 */
static const char *cg_mount(void)
{
	const char *env = getenv("TCPTRACE_CGROUP_ROOT");
	struct statfs sf;

	if (cgmap.mount)
		return cgmap.mount;
	if (env && *env)
		cgmap.mount = env;
	else if (!statfs(CG_MOUNT, &sf) && sf.f_type == CGROUP2_SUPER_MAGIC)
		cgmap.mount = CG_MOUNT;
	else if (!statfs(CG_MOUNT "/unified", &sf) &&
		 sf.f_type == CGROUP2_SUPER_MAGIC)
		cgmap.mount = CG_MOUNT "/unified";
	else
		cgmap.mount = "";
	return cgmap.mount;
}

static struct cgent **cg_slot(uint64_t id)
{
	uint64_t h = id * 0x9E3779B97F4A7C15ull;
	struct cgent **p = &cgmap.tab[h >> (64 - CG_BITS)];

	while (*p && (*p)->id != id)
		p = &(*p)->next;
	return p;
}

/* Map @id to @path (@len bytes); a negative entry when @path is NULL. */
static void cg_add(uint64_t id, const char *path, size_t len, bool root,
		   bool match)
{
	struct cgent **p = cg_slot(id), *e;
	size_t i;

	if (*p)
		return;		/* seen twice (a bind mount): keep the first */
	e = calloc(1, sizeof(*e) + (path ? len + 1 + 6 * len + 2 : 0));
	if (!e)
		die(EX_RUNTIME, "out of memory");
	e->id = id;
	if (path) {
		e->known = true;
		e->root = root;
		e->match = match;
		e->text = (char *)(e + 1);
		for (i = 0; i < len; i++) {
			unsigned char c = path[i];

			e->text[i] = c < 0x20 || c == 0x7f ? '?' : c;
		}
		e->tlen = len;
		e->json = e->text + len + 1;
		e->jlen = json_escape(e->json, path, len);
	}
	*p = e;
}

static void cg_clear(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cgmap.tab); i++) {
		while (cgmap.tab[i]) {
			struct cgent *e = cgmap.tab[i];

			cgmap.tab[i] = e->next;
			free(e);
		}
	}
	cgmap.last_id = 0;
	cgmap.last = NULL;
}

/* Is the path of @len bytes in cgmap.path the --cgroup one? */
static bool cg_is_filter(size_t len)
{
	return cgmap.filter && len == cgmap.filter_len &&
	       !memcmp(cgmap.path, cgmap.filter, len);
}

/*
 * Map the directories below @fd, whose path is cgmap.path[0..@len), @jlen
 * bytes in JSON; @match: --cgroup matches it.
 */
static void cg_walk_dir(int fd, dev_t dev, size_t len, size_t jlen,
			bool match, int depth)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;

	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		size_t nlen = strlen(n), plen = len + 1 + nlen, pjlen;
		struct stat st;
		bool m;
		int cfd;

		if (n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2])))
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		/* too long to name: so are the ones below it */
		if (plen >= CG_JSON_MAX)
			continue;
		pjlen = jlen + 1 + json_escape(NULL, n, nlen) - 2;
		if (pjlen > CG_JSON_MAX)
			continue;
		cfd = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			     O_CLOEXEC);
		if (cfd < 0)
			continue;
		/* another file system mounted in it: its inodes are no ids */
		if (fstat(cfd, &st) || st.st_dev != dev) {
			close(cfd);
			continue;
		}
		cgmap.path[len] = '/';
		memcpy(cgmap.path + len + 1, n, nlen + 1);
		m = match || cg_is_filter(plen);
		cg_add(st.st_ino, cgmap.path, plen, false, m);
		if (depth < CG_MAX_DEPTH)
			cg_walk_dir(cfd, dev, plen, pjlen, m, depth + 1);
		else
			close(cfd);
		cgmap.path[len] = '\0';
	}
	closedir(d);
}

/* Forget the map and build it again from the cgroup2 mount. */
static void cg_walk(uint64_t now)
{
	const char *mount = cg_mount();
	struct stat st;
	bool m;
	int fd;

	cg_clear();
	cgmap.walked_ns = now;
	if (!*mount)
		return;
	fd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st)) {
		close(fd);
		return;
	}
	cgmap.path[0] = '/';
	m = cg_is_filter(1);
	cg_add(st.st_ino, cgmap.path, 1, true, m);
	cgmap.path[0] = '\0';
	cg_walk_dir(fd, st.st_dev, 0, 2, m, 1);
}

/* The cgroup with id @id, NULL when unknown (0, removed, not visible). */
const struct cgent *cg_lookup(uint64_t id)
{
	struct cgent *e;
	uint64_t now;

	if (!id)
		return NULL;
	if (id == cgmap.last_id)
		return cgmap.last;
	e = *cg_slot(id);
	if (!e) {
		/* new since the last walk, or gone: walk again, not too often */
		now = tt_now_ns(CLOCK_MONOTONIC);
		if (cgmap.walked_ns && now - cgmap.walked_ns < CG_REWALK_NS)
			return NULL;
		cg_walk(now);
		e = *cg_slot(id);
		if (!e) {
			/*
			 * The socket was in it when the record was made, before
			 * this walk: it is gone, or outside this mount.
			 */
			cg_add(id, NULL, 0, false, false);
			e = *cg_slot(id);
		}
	}
	cgmap.last_id = id;
	cgmap.last = e->known ? e : NULL;
	return cgmap.last;
}

/* Does --cgroup let a record of cgroup @id through? */
bool cg_match(uint64_t id)
{
	const struct cgent *e;

	if (!cgmap.filter)
		return true;
	e = cg_lookup(id);
	return e && e->match;
}

/* --cgroup PATH: below the mount ("/a/b", "a/b"), or the full path. */
void cg_set_filter(const char *arg)
{
	const char *mount = cg_mount(), *s = arg;
	size_t mlen = strlen(mount);
	char *f, *o;

	if (!*mount)
		die(EX_RUNTIME, "--cgroup: no cgroup2 file system at " CG_MOUNT
		    " (set TCPTRACE_CGROUP_ROOT to its mount point)");
	while (mlen > 1 && mount[mlen - 1] == '/')
		mlen--;
	if (!strncmp(s, mount, mlen) && (s[mlen] == '/' || !s[mlen]))
		s += mlen;
	f = malloc(strlen(s) + 2);
	if (!f)
		die(EX_RUNTIME, "out of memory");
	o = f;
	*o++ = '/';
	for (; *s; s++)
		if (*s != '/' || o[-1] != '/')
			*o++ = *s;
	if (o - f > 1 && o[-1] == '/')
		o--;
	*o = '\0';
	cgmap.filter = f;
	cgmap.filter_len = o - f;
	/* a typo would only show as silence: say so, then trace anyway */
	if (snprintf(cgmap.path, sizeof(cgmap.path), "%.*s%s", (int)mlen,
		     mount, f) < (int)sizeof(cgmap.path) &&
	    access(cgmap.path, F_OK))
		fprintf(stderr, "tcpwhy: --cgroup %s: no such cgroup (yet) in "
			"%s\n", f, mount);
}

const char *tt_cgroup_path(uint64_t id, size_t *len)
{
	const struct cgent *e = cg_lookup(id);

	if (!e)
		return NULL;
	*len = e->tlen;
	return e->text;
}

/* ,"cgroup_id":%llu,"cgroup":"%s" or null */
void ob_json_cgroup(uint64_t id, const struct cgent *e)
{
	OB_LIT(",\"cgroup_id\":");
	ob_u64(id);
	OB_LIT(",\"cgroup\":");
	if (e)
		ob_put(e->json, e->jlen);
	else
		OB_LIT("null");
}

bool cg_have_filter(void)
{
	return cgmap.filter;
}

void cg_reset(void)
{
	cg_clear();
	cgmap.walked_ns = 0;
}

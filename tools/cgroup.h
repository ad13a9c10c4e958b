/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A socket's cgroup v2 id -> its path, and the --cgroup filter
 * (cgroup.c).
 */
#ifndef TCPWHY_CGROUP_H
#define TCPWHY_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CG_MOUNT	"/sys/fs/cgroup"

struct cgent {
	uint64_t id;
	struct cgent *next;
	bool known;		/* false: not found by a walk after it was seen */
	bool root;		/* the mount itself, "/" */
	bool match;		/* --cgroup: that cgroup or one below it */
	size_t tlen, jlen;
	char *text;		/* the path, control characters as '?' */
	char *json;		/* the path as a JSON string, quotes included */
};

/* The cgroup with id @id, NULL when unknown (0, removed, not visible). */
const struct cgent *cg_lookup(uint64_t id);
/* Does --cgroup let a record of cgroup @id through? */
bool cg_match(uint64_t id);
/* --cgroup PATH: below the mount ("/a/b", "a/b"), or the full path. */
void cg_set_filter(const char *arg);
bool cg_have_filter(void);
/* Forget every path: the next look-up walks the tree again. */
void cg_reset(void);
/* ,"cgroup_id":%llu,"cgroup":"%s" or null */
void ob_json_cgroup(uint64_t id, const struct cgent *e);

#endif /* TCPWHY_CGROUP_H */

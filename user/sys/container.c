// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sys/container.h"
#include "sys/procfs.h"

#define ID_LEN 64

static const struct {
	const char *marker; /* text just before the id in a path component */
	const char *runtime;
} layouts[] = {
	{ "docker-", "docker" },	  { "/docker/", "docker" },
	{ "cri-containerd-", "containerd" }, { "crio-", "cri-o" },
	{ "libpod-", "podman" },	  { "/libpod_parent/", "podman" },
	{ "/kubepods", "containerd" }, /* /kubepods/.../<pod>/<id> */
};

static bool hex_run(const char *s, size_t avail)
{
	if (avail < ID_LEN)
		return false;
	for (int i = 0; i < ID_LEN; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	/* exactly 64: not part of a longer hex word */
	return avail == ID_LEN || !isxdigit((unsigned char)s[ID_LEN]);
}

/* The last 64-hex run in path that starts a component or follows '-'. */
static const char *find_id(const char *path, size_t len)
{
	const char *found = NULL;

	for (size_t i = 0; i + ID_LEN <= len; i++) {
		if (i && path[i - 1] != '/' && path[i - 1] != '-')
			continue;
		if (hex_run(path + i, len - i))
			found = path + i;
	}
	return found;
}

static void runtime_of(const char *path, struct container_info *ci)
{
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		if (strstr(path, layouts[i].marker)) {
			snprintf(ci->runtime, sizeof(ci->runtime), "%s",
				 layouts[i].runtime);
			return;
		}
	}
	ci->runtime[0] = '\0';
}

void container_parse_cgroup(const char *text, size_t len,
			    struct container_info *ci)
{
	char v2[sizeof(ci->cgroup)] = "", v1[sizeof(ci->cgroup)] = "";
	const char *p = text, *end = text + len;
	int lines = 0;

	ci->id[0] = '\0';
	ci->runtime[0] = '\0';
	while (p < end && lines++ < 256) {
		const char *nl = memchr(p, '\n', end - p);
		const char *le = nl ? nl : end;
		const char *c1 = memchr(p, ':', le - p), *c2, *path;
		size_t plen;

		if (!c1 || !(c2 = memchr(c1 + 1, ':', le - c1 - 1)))
			goto next;
		path = c2 + 1;
		plen = le - path;
		if (plen >= sizeof(v2))
			plen = sizeof(v2) - 1;
		/* "0::/path" is the unified (v2) hierarchy. */
		if (c1 - p == 1 && p[0] == '0' && c2 == c1 + 1) {
			memcpy(v2, path, plen);
			v2[plen] = '\0';
		} else if (!v1[0] && !(plen == 1 && path[0] == '/')) {
			memcpy(v1, path, plen);
			v1[plen] = '\0';
		}
		if (!ci->id[0]) {
			const char *id = find_id(path, plen);

			if (id) {
				char tmp[sizeof(v2)];

				memcpy(ci->id, id, ID_LEN);
				ci->id[ID_LEN] = '\0';
				memcpy(tmp, path, plen);
				tmp[plen] = '\0';
				runtime_of(tmp, ci);
			}
		}
next:
		p = nl ? nl + 1 : end;
	}
	snprintf(ci->cgroup, sizeof(ci->cgroup), "%s",
		 v2[0] ? v2 : v1[0] ? v1 : "/");
}

int container_read(pid_t pid, struct container_info *ci)
{
	char buf[8192], *l;
	ssize_t n;

	memset(ci, 0, sizeof(*ci));
	ci->nspid = pid;
	n = procfs_read(pid, "cgroup", buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	container_parse_cgroup(buf, (size_t)n, ci);

	if (procfs_read(pid, "status", buf, sizeof(buf)) <= 0)
		return 0;
	l = strstr(buf, "\nNSpid:");
	if (l) {
		/* "NSpid:\t<host>\t...\t<innermost>" */
		char *e = strchr(l + 1, '\n'), *last = NULL, *t;

		if (e)
			*e = '\0';
		for (t = l + 7; *t; t++)
			if (*t == '\t' || *t == ' ')
				last = t + 1;
		if (last && *last) {
			long v = strtol(last, NULL, 10);

			if (v > 0)
				ci->nspid = (pid_t)v;
		}
	}
	return 0;
}

const char *container_label(const struct container_info *ci, char *buf,
			    size_t len)
{
	if (ci->id[0]) {
		snprintf(buf, len, "container %.12s", ci->id);
		return buf;
	}
	if (strcmp(ci->cgroup, "/") && ci->cgroup[0]) {
		snprintf(buf, len, "cgroup %s", ci->cgroup);
		return buf;
	}
	return NULL;
}

bool container_matches_id(const struct container_info *ci, const char *prefix)
{
	size_t l = strlen(prefix);

	return ci->id[0] && l && l <= ID_LEN && !strncmp(ci->id, prefix, l);
}

bool container_matches_cgroup(const struct container_info *ci,
			      const char *path)
{
	size_t l = strlen(path);

	while (l > 1 && path[l - 1] == '/')
		l--;
	return !strncmp(ci->cgroup, path, l) &&
	       (ci->cgroup[l] == '\0' || ci->cgroup[l] == '/' || l == 1);
}

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_CONTAINER_H
#define PYROGRAPH_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Where a process lives, from /proc/PID/cgroup and /proc/PID/status. */
struct container_info {
	char id[65];	   /* 64-hex container id, "" when none */
	char runtime[16];  /* docker, containerd, cri-o, podman, "" */
	char cgroup[256];  /* cgroup v2 path (or the first v1 path), "/" for none */
	pid_t nspid;	   /* pid in the innermost pid namespace (== pid on the host) */
};

/*
 * Parses the text of /proc/PID/cgroup: the container id comes from the
 * docker (/docker/ID, docker-ID.scope), containerd (cri-containerd-ID.scope,
 * /kubepods/.../ID), cri-o (crio-ID.scope) and podman (libpod-ID.scope)
 * layouts. Pure function, for tests and fuzzing; bounded on any input.
 */
void container_parse_cgroup(const char *text, size_t len,
			    struct container_info *ci);

/* Reads pid's cgroup and NSpid. Returns 0 or a negative errno. */
int container_read(pid_t pid, struct container_info *ci);

/* "container 0123456789ab" / "cgroup /a/b" / NULL when on the host root. */
const char *container_label(const struct container_info *ci, char *buf,
			    size_t len);

/* Filters: --container ID-PREFIX (id or runtime-less prefix) and --cgroup PATH. */
bool container_matches_id(const struct container_info *ci, const char *prefix);
bool container_matches_cgroup(const struct container_info *ci,
			      const char *path);

#endif

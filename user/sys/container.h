/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_CONTAINER_H
#define PYROGRAPH_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * What a container's users call it, from its runtime's state on the host
 * (sys/ctrnames.c); "" where unknown. Only [A-Za-z0-9._-] (and, in an
 * image reference, ":/@+"), so a root frame's text can be taken apart again.
 */
struct container_names {
	char name[128];	 /* docker/podman name; Kubernetes: the container's
			  * name in its pod */
	char image[256]; /* as the user named it (python:3.13-slim) */
	char pod[254];	 /* Kubernetes only */
	char ns[64];	 /* Kubernetes namespace */
};

/* Where a process lives, from /proc/PID/cgroup and /proc/PID/status. */
struct container_info {
	char id[65];	   /* 64-hex container id, "" when none */
	char runtime[16];  /* docker, containerd, cri-o, podman, "" */
	char cgroup[256];  /* cgroup v2 path (or the first v1 path), "/" for none */
	pid_t nspid;	   /* pid in the innermost pid namespace (== pid on the host) */
	struct container_names names; /* filled by ctrnames_get() */
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

/*
 * The root frame of a process in a container, one line of text:
 *   container NAME (ID12, IMAGE)                 docker, podman
 *   pod NS/POD container NAME (ID12, IMAGE)      Kubernetes
 *   container ID12                               the runtime's state has no name
 *   cgroup PATH                                  not a container, not the root
 * (", IMAGE" only when known). NULL when the process is in the root cgroup.
 * CONTAINER_LABEL_MAX holds any of them (a cgroup path is cut to fit).
 */
#define CONTAINER_LABEL_MAX 1024
const char *container_label(const struct container_info *ci, char *buf,
			    size_t len);

/* A container root frame's text taken apart: pointers into it, lengths. */
struct container_label_parts {
	const char *name, *id, *image, *pod, *ns, *cgroup;
	size_t name_len, id_len, image_len, pod_len, ns_len, cgroup_len;
};
/*
 * The inverse of container_label, for outputs that only have the frame
 * (pprof labels, the agent's): any text gives parts (text that is not of
 * these forms is all name). Bounded; pure.
 */
void container_label_parse(const char *s, size_t len,
			   struct container_label_parts *p);
/* parts -> the text, each part cleaned as the names are; the length it
 * needed. */
size_t container_label_format(const struct container_label_parts *p,
			      char *buf, size_t len);

/* s[0..slen) cleaned into dst: a name's characters ([A-Za-z0-9._-], an
 * image's also ":/@+"), others '_', at most dlen - 1 bytes. */
void container_clean(char *dst, size_t dlen, const char *s, size_t slen,
		     bool image);

/*
 * --container SEL: SEL is a prefix of the id, or the container's name, or
 * (Kubernetes) POD, NS/POD or NS/POD/NAME.
 */
bool container_matches(const struct container_info *ci, const char *sel);
/* --cgroup PATH: that cgroup or below */
bool container_matches_cgroup(const struct container_info *ci,
			      const char *path);

#endif

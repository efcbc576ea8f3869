/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_CTRNAMES_H
#define PYROGRAPH_CTRNAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "sys/container.h"

/*
 * Containers by the names their users use, read from the runtimes' own
 * state on the host (never their command-line tools or sockets): see
 * ctrnames.c for the files. A name is looked up once per container id and
 * kept (CTRNAMES_FOUND_MS), so a container started during a recording is
 * named when its first process is seen.
 */
struct ctrnames;

/* A resolver reading the state under root ("" or NULL: the host's; the
 * tests give a directory laid out as a host is). NULL when out of memory. */
struct ctrnames *ctrnames_new(const char *root);
void ctrnames_free(struct ctrnames *r);

#define CTRNAMES_FOUND_MS   60000 /* a name is looked up again after this */
#define CTRNAMES_MISSING_MS 2000  /* and a container without one after this */

/*
 * The names of container id (64 hex digits) into *out, from the cache or
 * the state of its runtime (runtime: container_info's hint, tried first;
 * the others after). now_ms: a monotonic clock. Returns true when a name
 * was found; *out is zeroed otherwise.
 */
bool ctrnames_get(struct ctrnames *r, const char *id, const char *runtime,
		  unsigned long long now_ms, struct container_names *out);

/*
 * The parsers, pure (for the tests and the fuzzer), bounded on any input.
 * Each returns 0 when it found a name, -ENOENT when the file has none,
 * -EINVAL when it is not what it should be, -ESTALE when it is another
 * container's.
 *
 * docker's containers/ID/config.v2.json; id (NULL: not checked) must be
 * its "ID".
 */
int ctrnames_parse_docker(const char *text, size_t len, const char *id,
			  struct container_names *out);
/* An OCI bundle's config.json (containerd's CRI, cri-o): its annotations. */
int ctrnames_parse_oci(const char *text, size_t len,
		       struct container_names *out);
/* containers/storage's containers.json (podman): each(id, names, ctx) for
 * every entry with an id and a name. Returns how many, or -EINVAL. */
int ctrnames_parse_storage(const char *text, size_t len,
			   void (*each)(const char *id,
					const struct container_names *n,
					void *ctx),
			   void *ctx);
/* /etc/docker/daemon.json: its "data-root" into dir (absolute), or -ENOENT. */
int ctrnames_parse_daemon_json(const char *text, size_t len, char *dir,
			       size_t dlen);
/* /etc/containers/storage.conf (TOML): graphroot, runroot and driver of its
 * [storage] table, each left as it was when absent. */
void ctrnames_parse_storage_conf(const char *text, size_t len, char *graphroot,
				 size_t glen, char *runroot, size_t rlen,
				 char *driver, size_t dlen);

#endif

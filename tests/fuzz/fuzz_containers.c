// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The container runtimes' state files (user/sys/ctrnames.c) and the text
 * around them (user/sys/container.c) fed hostile input: names are chosen
 * by whoever starts a container, and a root frame's text comes back from
 * folded and pprof files. The whole input goes to every parser, as an
 * exact-length copy (a read past its end is caught); what they find is
 * formatted as a root frame, taken apart and formatted again, which must
 * give the same text. A cgroup file's container id is 64 lowercase hex or
 * nothing.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys/container.h"
#include "sys/ctrnames.h"

static void round_trip(const struct container_names *n)
{
	struct container_info ci = { 0 };
	struct container_label_parts p;
	char text[1024], again[1024];

	snprintf(ci.id, sizeof(ci.id), "%064d", 7);
	ci.names = *n;
	container_label(&ci, text, sizeof(text));
	container_label_parse(text, strlen(text), &p);
	container_label_format(&p, again, sizeof(again));
	if (strcmp(text, again)) {
		fprintf(stderr, "'%s' came back as '%s'\n", text, again);
		abort();
	}
	container_matches(&ci, n->name);
}

/* What the rest of pyrograph relies on after container_parse_cgroup(). */
static void cgroup_invariants(const struct container_info *ci)
{
	if (!memchr(ci->id, 0, sizeof(ci->id)) || !memchr(ci->runtime, 0, sizeof(ci->runtime)) ||
	    !memchr(ci->cgroup, 0, sizeof(ci->cgroup)))
		abort();
	if (ci->id[0] && strlen(ci->id) != 64)
		abort();
	for (size_t i = 0; ci->id[i]; i++)
		if (!isxdigit((unsigned char)ci->id[i]) || isupper((unsigned char)ci->id[i]))
			abort();
}

static void each(const char *id, const struct container_names *n, void *ctx)
{
	(void)id;
	(void)ctx;
	round_trip(n);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char *t = malloc(n ? n : 1), s1[64], s2[64], s3[16], dir[64];
	struct container_label_parts p;
	struct container_info ci;
	struct container_names cn;

	if (!t)
		return 0;
	memcpy(t, d, n);
	if (!ctrnames_parse_docker(t, n, NULL, &cn))
		round_trip(&cn);
	if (!ctrnames_parse_oci(t, n, &cn))
		round_trip(&cn);
	ctrnames_parse_storage(t, n, each, NULL);
	ctrnames_parse_daemon_json(t, n, dir, sizeof(dir));
	s1[0] = s2[0] = s3[0] = '\0';
	ctrnames_parse_storage_conf(t, n, s1, sizeof(s1), s2, sizeof(s2), s3,
				    sizeof(s3));
	memset(&ci, 0x5a, sizeof(ci));
	container_parse_cgroup(t, n, &ci);
	cgroup_invariants(&ci);
	container_label_parse(t, n, &p);
	container_label_format(&p, dir, sizeof(dir));
	free(t);
	return 0;
}

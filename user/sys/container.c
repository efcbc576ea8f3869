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

/*
 * The first 64-hex run in path that starts a component or follows '-':
 * the outermost container, the one the host's runtime knows (docker in
 * docker: /docker/OUTER/docker/INNER), and one a container cannot trade
 * for another's by making a nested cgroup named after it.
 */
static const char *find_id(const char *path, size_t len)
{
	for (size_t i = 0; i + ID_LEN <= len; i++) {
		if (i && path[i - 1] != '/' && path[i - 1] != '-')
			continue;
		if (hex_run(path + i, len - i))
			return path + i;
	}
	return NULL;
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

static bool name_char(char c, bool image)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
	       (image && (c == ':' || c == '/' || c == '@' || c == '+'));
}

void container_clean(char *dst, size_t dlen, const char *s, size_t slen,
		     bool image)
{
	size_t k = 0;

	if (!dlen)
		return;
	for (size_t i = 0; i < slen && k + 1 < dlen; i++)
		dst[k++] = name_char(s[i], image) ? s[i] : '_';
	dst[k] = '\0';
}

enum clean_as { AS_NAME, AS_IMAGE, AS_PATH, AS_TEXT };

/* Appends s[0..n) to buf at *k, bounded, cleaned as a name or an image or,
 * for a cgroup path, of only what would break a line or a folded stack;
 * *k counts what was needed. */
static void put(char *buf, size_t len, size_t *k, const char *s, size_t n,
		enum clean_as as)
{
	for (size_t i = 0; i < n; i++, (*k)++) {
		char c = s[i];

		if (as == AS_NAME || as == AS_IMAGE)
			c = name_char(c, as == AS_IMAGE) ? c : '_';
		else if (as == AS_PATH)
			c = c == ';' || (unsigned char)c < 0x20 ? '_' : c;
		if (*k + 1 < len)
			buf[*k] = c;
	}
	if (len)
		buf[*k + 1 < len ? *k : len - 1] = '\0';
}

size_t container_label_format(const struct container_label_parts *p,
			      char *buf, size_t len)
{
	size_t k = 0;
	bool bare;

#define PUT(s, n, as) put(buf, len, &k, s, n, as)
#define LIT(lit) put(buf, len, &k, lit, sizeof(lit) - 1, AS_TEXT)
	if (len)
		buf[0] = '\0';
	if (p->cgroup) {
		LIT("cgroup ");
		PUT(p->cgroup, p->cgroup_len, AS_PATH);
		return k;
	}
	if (p->pod_len) {
		LIT("pod ");
		if (p->ns_len) {
			PUT(p->ns, p->ns_len, AS_NAME);
			LIT("/");
		}
		PUT(p->pod, p->pod_len, AS_NAME);
		LIT(" ");
	}
	LIT("container ");
	if (p->name_len)
		PUT(p->name, p->name_len, AS_NAME);
	else
		PUT(p->id, p->id_len, AS_NAME);
	/* an unnamed container is its id alone, as before names were read */
	bare = !p->image_len && !p->pod_len &&
	       (!p->name_len || (p->name_len == p->id_len &&
				 !memcmp(p->name, p->id, p->id_len)));
	if (p->id_len && !bare) {
		LIT(" (");
		PUT(p->id, p->id_len, AS_NAME);
		if (p->image_len) {
			LIT(", ");
			PUT(p->image, p->image_len, AS_IMAGE);
		}
		LIT(")");
	}
#undef PUT
#undef LIT
	return k;
}

const char *container_label(const struct container_info *ci, char *buf,
			    size_t len)
{
	const struct container_names *n = &ci->names;
	struct container_label_parts p = { 0 };

	if (!ci->id[0]) {
		if (!ci->cgroup[0] || !strcmp(ci->cgroup, "/"))
			return NULL;
		p.cgroup = ci->cgroup;
		p.cgroup_len = strlen(ci->cgroup);
	} else {
		p.id = ci->id;
		p.id_len = 12;
		p.name = n->name;
		p.name_len = strlen(n->name);
		p.image = n->image;
		p.image_len = strlen(n->image);
		p.pod = n->pod;
		p.pod_len = strlen(n->pod);
		p.ns = n->ns;
		p.ns_len = strlen(n->ns);
	}
	container_label_format(&p, buf, len);
	return buf;
}

static bool starts(const char *s, size_t len, const char *lit)
{
	size_t l = strlen(lit);

	return len >= l && !memcmp(s, lit, l);
}

static bool hex12(const char *s, size_t len)
{
	if (len != 12)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* "NAME", "NAME (ID12)" or "NAME (ID12, IMAGE)" */
static void parse_container(const char *s, size_t len,
			    struct container_label_parts *p)
{
	const char *sp = memchr(s, ' ', len), *in, *comma;
	size_t inlen;

	p->name = s;
	p->name_len = len;
	if (!sp) {
		if (hex12(s, len)) {
			p->id = s;
			p->id_len = len;
		}
		return;
	}
	if (len - (size_t)(sp - s) < 4 || sp[1] != '(' || s[len - 1] != ')')
		return;
	p->name_len = (size_t)(sp - s);
	in = sp + 2;
	inlen = (size_t)(s + len - 1 - in);
	comma = memchr(in, ',', inlen);
	p->id = in;
	p->id_len = comma ? (size_t)(comma - in) : inlen;
	if (comma && (size_t)(comma - in) + 2 <= inlen && comma[1] == ' ') {
		p->image = comma + 2;
		p->image_len = inlen - (size_t)(comma - in) - 2;
	}
}

void container_label_parse(const char *s, size_t len,
			   struct container_label_parts *p)
{
	memset(p, 0, sizeof(*p));
	if (starts(s, len, "cgroup ")) {
		p->cgroup = s + 7;
		p->cgroup_len = len - 7;
		return;
	}
	if (starts(s, len, "pod ")) {
		const char *t = s + 4, *sp = memchr(t, ' ', len - 4), *slash;

		if (sp && starts(sp, (size_t)(s + len - sp), " container ")) {
			slash = memchr(t, '/', (size_t)(sp - t));
			p->pod = slash ? slash + 1 : t;
			p->pod_len = (size_t)(sp - p->pod);
			if (slash) {
				p->ns = t;
				p->ns_len = (size_t)(slash - t);
			}
			parse_container(sp + 11, (size_t)(s + len - sp - 11), p);
			return;
		}
	} else if (starts(s, len, "container ")) {
		parse_container(s + 10, len - 10, p);
		return;
	}
	p->name = s;
	p->name_len = len;
}

bool container_matches(const struct container_info *ci, const char *sel)
{
	const struct container_names *n = &ci->names;
	size_t l = strlen(sel);
	char buf[sizeof(n->ns) + sizeof(n->pod) + sizeof(n->name) + 2];

	if (!ci->id[0] || !l)
		return false;
	if (l <= ID_LEN && !strncmp(ci->id, sel, l))
		return true;
	if (n->name[0] && !strcmp(n->name, sel))
		return true;
	if (!n->pod[0])
		return false;
	if (!strcmp(n->pod, sel))
		return true;
	snprintf(buf, sizeof(buf), "%s/%s", n->ns, n->pod);
	if (!strcmp(buf, sel))
		return true;
	snprintf(buf, sizeof(buf), "%s/%s/%s", n->ns, n->pod, n->name);
	return !strcmp(buf, sel);
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

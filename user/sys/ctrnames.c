// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Container names from the runtimes' own state on the host. A profiler
 * does not run `docker inspect` or ask a daemon's socket: that would block
 * on a busy daemon, cost a process per container, and let whoever answers
 * on the socket steer us. The files, by runtime (formats in the tests'
 * fixtures, tests/unit/data/containers):
 *
 *  docker      DATA/containers/ID/config.v2.json: "Name" ("/web"),
 *              "Config"."Image", and kubelet's dockershim labels
 *              io.kubernetes.{pod.name,pod.namespace,container.name} in
 *              "Config"."Labels". DATA: "data-root" of
 *              /etc/docker/daemon.json, else /var/lib/docker.
 *  containerd  /run/containerd/io.containerd.runtime.v2.task/k8s.io/ID/
 *              config.json, the OCI bundle of a CRI container: annotations
 *              io.kubernetes.cri.{container-name,sandbox-name,
 *              sandbox-namespace,image-name}.
 *  cri-o       RUNROOT/overlay-containers/ID/userdata/config.json (and the
 *              same under GRAPHROOT): annotations io.kubernetes.{container.
 *              name,pod.name,pod.namespace} (older releases: inside the JSON
 *              string io.kubernetes.cri-o.Labels), io.kubernetes.cri-o.
 *              ImageName.
 *  podman      GRAPHROOT/DRIVER-containers/containers.json, containers/
 *              storage's list of its containers: "names"[0], and
 *              "image-name" in the JSON string "metadata". Its bundle's
 *              config.json has no name. (GRAPHROOT, RUNROOT, DRIVER: the
 *              [storage] table of /etc/containers/storage.conf, else
 *              /var/lib/containers/storage, /run/containers/storage,
 *              overlay.) Rootless podman keeps its state in each user's
 *              home: not read, those containers keep their ids.
 *
 * The files are root's, but the names in them are chosen by users: each
 * file is opened without following a symlink, only if it is a regular file
 * of root (or ours, for the tests), read up to a bound, parsed by json-c
 * with a depth limit, and the values are cleaned (container_clean).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "sys/ctrnames.h"

#define JSON_DEPTH	 32
#define CONFIG_MAX	 (1 << 20) /* a config.v2.json, an OCI config.json */
#define STORAGE_MAX	 (8 << 20) /* containers.json: ~600 bytes a container */
#define SETTINGS_MAX	 (64 << 10) /* daemon.json, storage.conf */
#define STORAGE_ENTRIES	 100000
#define CONF_LINES	 4096
#define SLOTS		 256 /* cached containers; a power of 2 */
#define PROBE		 8

struct slot {
	char id[65];
	bool found;
	unsigned long long at_ms;
	struct container_names n;
};

struct ctrnames {
	char root[PATH_MAX];
	bool configured;
	char docker[PATH_MAX]; /* docker's data root */
	char graphroot[PATH_MAX], runroot[PATH_MAX], driver[32];
	struct slot slots[SLOTS];
};

/* --- parsers --- */

static struct json_object *json_parse(const char *text, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (len > INT_MAX)
		return NULL;
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* o's member key, if o is an object and the member of type t. */
static struct json_object *member(struct json_object *o, const char *key,
				  enum json_type t)
{
	struct json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t))
		return NULL;
	return v;
}

/* Sets dst (cleaned) from the first non-empty string member of o among
 * keys, unless dst is set already. */
static void take(char *dst, size_t dlen, struct json_object *o, bool image,
		 const char *const *keys)
{
	for (; *keys && !dst[0]; keys++) {
		struct json_object *v = member(o, *keys, json_type_string);
		const char *s = v ? json_object_get_string(v) : NULL;
		int n = v ? json_object_get_string_len(v) : 0;

		if (s && n > 0)
			container_clean(dst, dlen, s, (size_t)n, image);
	}
}

#define KEYS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* kubelet's labels of a container: docker's Config.Labels, cri-o's
 * annotations */
static void kubelet_labels(struct container_names *out, struct json_object *o)
{
	take(out->name, sizeof(out->name), o, false,
	     KEYS("io.kubernetes.container.name"));
	take(out->pod, sizeof(out->pod), o, false, KEYS("io.kubernetes.pod.name"));
	take(out->ns, sizeof(out->ns), o, false,
	     KEYS("io.kubernetes.pod.namespace"));
}

int ctrnames_parse_docker(const char *text, size_t len, const char *id,
			  struct container_names *out)
{
	struct json_object *root = json_parse(text, len), *v, *config;
	int ret = -ENOENT;

	memset(out, 0, sizeof(*out));
	if (!root || !json_object_is_type(root, json_type_object)) {
		ret = -EINVAL;
		goto out;
	}
	v = member(root, "ID", json_type_string);
	if (id && v && strcmp(json_object_get_string(v), id)) {
		ret = -ESTALE;
		goto out;
	}
	config = member(root, "Config", json_type_object);
	/* a pod's container under dockershim: its name in the pod, not
	 * k8s_NAME_POD_NS_UID_N */
	kubelet_labels(out, member(config, "Labels", json_type_object));
	v = member(root, "Name", json_type_string);
	if (!out->name[0] && v) {
		const char *s = json_object_get_string(v);
		int n = json_object_get_string_len(v);

		/* "/web": the leading slash is docker's, not the user's */
		if (n > 0 && s[0] == '/')
			s++, n--;
		if (n > 0)
			container_clean(out->name, sizeof(out->name), s,
					(size_t)n, false);
	}
	take(out->image, sizeof(out->image), config, true, KEYS("Image"));
	if (out->name[0])
		ret = 0;
out:
	json_object_put(root);
	return ret;
}

int ctrnames_parse_oci(const char *text, size_t len,
		       struct container_names *out)
{
	struct json_object *root = json_parse(text, len), *ann, *v;
	int ret = -ENOENT;

	memset(out, 0, sizeof(*out));
	if (!root || !json_object_is_type(root, json_type_object)) {
		ret = -EINVAL;
		goto out;
	}
	ann = member(root, "annotations", json_type_object);
	/* containerd's CRI plugin */
	take(out->name, sizeof(out->name), ann, false,
	     KEYS("io.kubernetes.cri.container-name"));
	take(out->pod, sizeof(out->pod), ann, false,
	     KEYS("io.kubernetes.cri.sandbox-name"));
	take(out->ns, sizeof(out->ns), ann, false,
	     KEYS("io.kubernetes.cri.sandbox-namespace"));
	/* cri-o: kubelet's labels as annotations, or (older) as a JSON string */
	kubelet_labels(out, ann);
	v = member(ann, "io.kubernetes.cri-o.Labels", json_type_string);
	if (!out->name[0] && v) {
		struct json_object *labels =
			json_parse(json_object_get_string(v),
				   (size_t)json_object_get_string_len(v));

		kubelet_labels(out, labels);
		json_object_put(labels);
	}
	take(out->image, sizeof(out->image), ann, true,
	     KEYS("io.kubernetes.cri.image-name", "io.kubernetes.cri-o.ImageName"));
	if (out->name[0])
		ret = 0;
out:
	json_object_put(root);
	return ret;
}

static bool id64(const char *s, size_t len)
{
	if (len != 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int ctrnames_parse_storage(const char *text, size_t len,
			   void (*each)(const char *id,
					const struct container_names *n,
					void *ctx),
			   void *ctx)
{
	struct json_object *root = json_parse(text, len);
	size_t n;
	int found = 0;

	if (!root || !json_object_is_type(root, json_type_array)) {
		json_object_put(root);
		return -EINVAL;
	}
	n = json_object_array_length(root);
	for (size_t i = 0; i < n && i < STORAGE_ENTRIES; i++) {
		struct json_object *e = json_object_array_get_idx(root, i);
		struct json_object *id = member(e, "id", json_type_string);
		struct json_object *names = member(e, "names", json_type_array);
		struct json_object *meta = member(e, "metadata", json_type_string);
		struct json_object *first, *m;
		struct container_names cn = { 0 };

		if (!id || !id64(json_object_get_string(id),
				 (size_t)json_object_get_string_len(id)) ||
		    !names || !json_object_array_length(names))
			continue;
		first = json_object_array_get_idx(names, 0);
		if (!json_object_is_type(first, json_type_string) ||
		    !json_object_get_string_len(first))
			continue;
		container_clean(cn.name, sizeof(cn.name),
				json_object_get_string(first),
				(size_t)json_object_get_string_len(first), false);
		/* "metadata" is podman's own JSON, kept as a string */
		m = meta ? json_parse(json_object_get_string(meta),
				      (size_t)json_object_get_string_len(meta)) :
			   NULL;
		take(cn.image, sizeof(cn.image), m, true, KEYS("image-name"));
		json_object_put(m);
		each(json_object_get_string(id), &cn, ctx);
		found++;
	}
	json_object_put(root);
	return found;
}

/* s[0..n) into dst when it is an absolute path that fits */
static int set_path(char *dst, size_t dlen, const char *s, size_t n)
{
	if (!n || s[0] != '/' || n >= dlen || memchr(s, '\0', n))
		return -EINVAL;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

int ctrnames_parse_daemon_json(const char *text, size_t len, char *dir,
			       size_t dlen)
{
	struct json_object *root = json_parse(text, len), *v;
	int ret = -ENOENT;

	v = member(root, "data-root", json_type_string);
	if (v)
		ret = set_path(dir, dlen, json_object_get_string(v),
			       (size_t)json_object_get_string_len(v));
	json_object_put(root);
	return ret;
}

/* One `key = "value"` line of storage.conf's [storage] table. */
static void conf_line(const char *p, const char *le, char *graphroot,
		      size_t glen, char *runroot, size_t rlen, char *driver,
		      size_t dlen)
{
	static const char *const keys[] = { "graphroot", "runroot", "driver" };
	char *dst[] = { graphroot, runroot, driver };
	size_t dl[] = { glen, rlen, dlen };

	for (int i = 0; i < 3; i++) {
		size_t kl = strlen(keys[i]);
		const char *v, *q;
		char quote;

		if ((size_t)(le - p) <= kl || memcmp(p, keys[i], kl) ||
		    (p[kl] != ' ' && p[kl] != '=' && p[kl] != '\t'))
			continue;
		for (v = p + kl; v < le && (*v == ' ' || *v == '\t'); v++)
			;
		if (v == le || *v++ != '=')
			return;
		while (v < le && (*v == ' ' || *v == '\t'))
			v++;
		if (v == le || (*v != '"' && *v != '\''))
			return;
		quote = *v++;
		q = memchr(v, quote, (size_t)(le - v));
		if (!q)
			return;
		if (i == 2) {
			if ((size_t)(q - v) < dl[i] && q > v)
				container_clean(dst[i], dl[i], v, (size_t)(q - v),
						false);
		} else {
			set_path(dst[i], dl[i], v, (size_t)(q - v));
		}
		return;
	}
}

void ctrnames_parse_storage_conf(const char *text, size_t len, char *graphroot,
				 size_t glen, char *runroot, size_t rlen,
				 char *driver, size_t dlen)
{
	const char *p = text, *end = text + len;
	bool in_storage = false;

	for (int lines = 0; p < end && lines < CONF_LINES; lines++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		while (p < le && (*p == ' ' || *p == '\t'))
			p++;
		if (p < le && *p == '[')
			in_storage = (size_t)(le - p) >= 9 &&
				     !memcmp(p, "[storage]", 9);
		else if (in_storage)
			conf_line(p, le, graphroot, glen, runroot, rlen, driver,
				  dlen);
		p = nl ? nl + 1 : end;
	}
}

/* --- the files --- */

/* The whole of path (NUL-terminated) if it is a regular file of root or
 * ours of at most max bytes; NULL otherwise. */
static char *slurp(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
				    O_NOCTTY);
	struct stat st;
	char *buf = NULL;
	size_t n = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) || st.st_size < 0 ||
	    (size_t)st.st_size > max)
		goto out;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		goto out;
	/* a file rewritten meanwhile ends short: the parser says so */
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*len = n;
out:
	close(fd);
	return buf;
}

/* root, then the path made of fmt; false when it does not fit */
static bool __attribute__((format(printf, 4, 5)))
path_of(const struct ctrnames *r, char *buf, size_t len, const char *fmt, ...)
{
	size_t k = (size_t)snprintf(buf, len, "%s", r->root);
	va_list ap;
	int n;

	if (k >= len)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(buf + k, len - k, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < len - k;
}

/* Where docker and containers/storage keep their state, read once. */
static void configure(struct ctrnames *r)
{
	char path[PATH_MAX], *text;
	size_t len;

	r->configured = true;
	snprintf(r->docker, sizeof(r->docker), "/var/lib/docker");
	snprintf(r->graphroot, sizeof(r->graphroot), "/var/lib/containers/storage");
	snprintf(r->runroot, sizeof(r->runroot), "/run/containers/storage");
	snprintf(r->driver, sizeof(r->driver), "overlay");
	if (path_of(r, path, sizeof(path), "/etc/docker/daemon.json") &&
	    (text = slurp(path, SETTINGS_MAX, &len))) {
		ctrnames_parse_daemon_json(text, len, r->docker, sizeof(r->docker));
		free(text);
	}
	if (path_of(r, path, sizeof(path), "/etc/containers/storage.conf") &&
	    (text = slurp(path, SETTINGS_MAX, &len))) {
		ctrnames_parse_storage_conf(text, len, r->graphroot,
					    sizeof(r->graphroot), r->runroot,
					    sizeof(r->runroot), r->driver,
					    sizeof(r->driver));
		free(text);
	}
}

/* Parses the file at path with one of the per-container parsers. */
static int parse_file(const char *path, const char *id, bool docker,
		      struct container_names *out)
{
	size_t len;
	char *text = slurp(path, CONFIG_MAX, &len);
	int ret;

	if (!text)
		return -ENOENT;
	ret = docker ? ctrnames_parse_docker(text, len, id, out) :
		       ctrnames_parse_oci(text, len, out);
	free(text);
	return ret;
}

static int from_docker(struct ctrnames *r, const char *id,
		       struct container_names *out)
{
	char path[PATH_MAX];

	if (!path_of(r, path, sizeof(path), "%s/containers/%s/config.v2.json",
		     r->docker, id))
		return -ENAMETOOLONG;
	return parse_file(path, id, true, out);
}

static int from_containerd(struct ctrnames *r, const char *id,
			   struct container_names *out)
{
	char path[PATH_MAX];

	if (!path_of(r, path, sizeof(path),
		     "/run/containerd/io.containerd.runtime.v2.task/k8s.io/%s/config.json",
		     id))
		return -ENAMETOOLONG;
	return parse_file(path, id, false, out);
}

static struct slot *slot_for(struct ctrnames *r, const char *id);

/* containers.json's entries, cached as they come; the one asked for kept */
struct storage_walk {
	struct ctrnames *r;
	unsigned long long now_ms;
	const char *want;
	struct container_names *out;
	bool found;
};

static void storage_entry(const char *id, const struct container_names *n,
			  void *ctx)
{
	struct storage_walk *w = ctx;
	struct slot *s = slot_for(w->r, id);

	snprintf(s->id, sizeof(s->id), "%s", id);
	s->n = *n;
	s->found = true;
	s->at_ms = w->now_ms;
	if (!strcmp(id, w->want)) {
		*w->out = *n;
		w->found = true;
	}
}

/*
 * cri-o's bundle (in RUNROOT, then GRAPHROOT), else containers.json, whose
 * every entry is cached on the way: one read names all of a host's podman
 * containers.
 */
static int from_storage(struct ctrnames *r, const char *id,
			unsigned long long now_ms, struct container_names *out)
{
	const char *dirs[] = { r->runroot, r->graphroot };
	struct storage_walk w = { r, now_ms, id, out, false };
	char path[PATH_MAX], *text;
	size_t len;
	int ret;

	for (int i = 0; i < 2; i++) {
		if (!path_of(r, path, sizeof(path),
			     "%s/%s-containers/%s/userdata/config.json", dirs[i],
			     r->driver, id))
			return -ENAMETOOLONG;
		ret = parse_file(path, id, false, out);
		if (!ret)
			return 0;
	}
	if (!path_of(r, path, sizeof(path), "%s/%s-containers/containers.json",
		     r->graphroot, r->driver))
		return -ENAMETOOLONG;
	text = slurp(path, STORAGE_MAX, &len);
	if (!text)
		return -ENOENT;
	ret = ctrnames_parse_storage(text, len, storage_entry, &w);
	free(text);
	if (ret < 0)
		return ret;
	return w.found ? 0 : -ENOENT;
}

/* --- the cache --- */

static unsigned int hash_id(const char *id)
{
	unsigned int h = 0;

	for (int i = 0; i < 8 && id[i]; i++)
		h = h * 16 + (unsigned int)(id[i] <= '9' ? id[i] - '0' : id[i] - 'a' + 10);
	return h;
}

/* id's slot if cached, else the one to put it in: a free one, or the
 * least recently filled of its probe window */
static struct slot *slot_for(struct ctrnames *r, const char *id)
{
	unsigned int h = hash_id(id);
	struct slot *victim = NULL;

	for (unsigned int i = 0; i < PROBE; i++) {
		struct slot *s = &r->slots[(h + i) & (SLOTS - 1)];

		if (!strcmp(s->id, id))
			return s;
		if (!victim || (victim->id[0] &&
				(!s->id[0] || s->at_ms < victim->at_ms)))
			victim = s;
	}
	return victim;
}

struct ctrnames *ctrnames_new(const char *root)
{
	struct ctrnames *r = calloc(1, sizeof(*r));

	if (r && root)
		snprintf(r->root, sizeof(r->root), "%s", root);
	return r;
}

void ctrnames_free(struct ctrnames *r)
{
	free(r);
}

bool ctrnames_get(struct ctrnames *r, const char *id, const char *runtime,
		  unsigned long long now_ms, struct container_names *out)
{
	/* each runtime's files, the hinted one first */
	enum { DOCKER, CONTAINERD, STORAGE, NSOURCES };
	const char *rt = runtime ? runtime : "";
	int first = !strcmp(rt, "containerd")			      ? CONTAINERD :
		    !strcmp(rt, "cri-o") || !strcmp(rt, "podman") ? STORAGE :
								    DOCKER;
	struct slot *s;
	int ret = -ENOENT;

	memset(out, 0, sizeof(*out));
	if (!id64(id, strlen(id)))
		return false;
	s = slot_for(r, id);
	if (!strcmp(s->id, id) &&
	    now_ms - s->at_ms < (s->found ? CTRNAMES_FOUND_MS : CTRNAMES_MISSING_MS)) {
		*out = s->n;
		return s->found;
	}
	if (!r->configured)
		configure(r);
	for (int i = 0; i < NSOURCES && ret; i++) {
		switch ((first + i) % NSOURCES) {
		case DOCKER:
			ret = from_docker(r, id, out);
			break;
		case CONTAINERD:
			ret = from_containerd(r, id, out);
			break;
		default:
			ret = from_storage(r, id, now_ms, out);
		}
	}
	if (ret)
		memset(out, 0, sizeof(*out));
	/* containers.json may have taken the slot: look again */
	s = slot_for(r, id);
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->n = *out;
	s->found = !ret;
	s->at_ms = now_ms;
	return !ret;
}

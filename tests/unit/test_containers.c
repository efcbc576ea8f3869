// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Containers by name: user/sys/container.c (cgroup layouts, the root
 * frame's text and its inverse, --container) and user/sys/ctrnames.c (the
 * runtimes' state files) on the fixtures of tests/unit/data/containers,
 * hosts laid out as docker, containerd, cri-o and podman leave them (see
 * the README there), copied to a scratch directory so that they are ours.
 * Hostile files: a symlink, another container's file, a FIFO (an alarm
 * fails the test if an open blocks), an oversized file, garbage, deep
 * nesting.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys/container.h"
#include "sys/ctrnames.h"

#include "check.h"

CHECK_COUNTERS;

/* the fixtures' container ids (sha256 of a word: see the README) */
#define ID_DOCKER_WEB	 "f31f384749f9115acf01fcf82f5a966b59dcc0a4cbd7c9740888c0bf32aa2bbb"
#define ID_DOCKER_K8S	 "89016fc1ebe735d5d6bfa8fa9b5c0431890483da9035da7f4031b4fd87aff831"
#define ID_DOCKER_WRONG	 "0a645a7b7e337cfb9a57b867b0652007f7f8e6f78a7adc3bc866daf3dd608bb0"
#define ID_DOCKER_LINK	 "ae4523af86fe37624fdddae4f52515a54c98dd2fb13968ad5241bdc15dbe71ea"
#define ID_CTRD_WORKER	 "d8328e7459d803a4e66d61c4659550d2a133e95c0b41b6c3c28283e371071bdd"
#define ID_CTRD_PAUSE	 "6f7ce9e7a35f3759080852227b1dad63aa2b9b1631ac6d2bda8652cb591e8d41"
#define ID_CRIO_NEW	 "7242ae1039e744d086eb2ab9f3c77785bec8aef89da49c4b8f7d5cbc6539991c"
#define ID_CRIO_OLD	 "c1749c56c1d7c78aae21b9ec5bfaa294ebdd919d0f364a377c445606245e89ab"
#define ID_PODMAN_API	 "236afc24ae3e0fe15428343bd8b1f2c2cf3220c70f338d091f29166681157bcf"
#define ID_PODMAN_WORKER "60d54d0299f44d165e3f0455a83c28116ac02c136a3909ed6b83cbf9a02e146e"
#define ID_PODMAN_EVIL	 "ebe1347dede670ad7b05c56339db7867990aa261bf49b31376aa14c7c31c8c45"
#define ID_DOCKER_CUSTOM "b6f3a917663d13d697296050b780403f503564f37bc44482fa2d4a03e422df72"
#define ID_PODMAN_CUSTOM "295725ac77b838b07584ee233a2ad0fde2139cbd767c434a78198ec46e64b95a"
#define ID_NOTHING	 "1785cfc3bc6ac7738e8b38cdccd1af12563c2b9070e07af336a1bf8c0f772b6a"

/* a string literal and its length */
#define S(lit) lit, sizeof(lit) - 1

static char scratch[] = "/tmp/test_containers.XXXXXX";

static char *at(const char *fmt, const char *a)
{
	static char buf[4][PATH_MAX];
	static int i;
	char *p = buf[i++ % 4];
	int n = snprintf(p, PATH_MAX, "%s/", scratch);

	snprintf(p + n, PATH_MAX - n, fmt, a);
	return p;
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	if (!f || fwrite(text, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(2);
	}
}

static void on_alarm(int sig)
{
	(void)sig;
	fprintf(stderr, "FAIL: an open or read blocked\n");
	_exit(1);
}

/* --- /proc/PID/cgroup --- */

static void test_cgroup_layouts(void)
{
	static const struct {
		const char *text, *id, *runtime;
	} cases[] = {
		/* podman 4.3 on Debian 12 (cgroupfs, hybrid v1/v2), as read on
		 * the CI machine */
		{ "9:name=systemd:/libpod_parent/libpod-" ID_PODMAN_API "\n"
		  "8:pids:/libpod_parent/libpod-" ID_PODMAN_API "\n"
		  "0::/libpod_parent/libpod-" ID_PODMAN_API "\n",
		  ID_PODMAN_API, "podman" },
		{ "0::/system.slice/docker-" ID_DOCKER_WEB ".scope\n", ID_DOCKER_WEB, "docker" },
		{ "12:memory:/docker/" ID_DOCKER_WEB "\n0::/\n", ID_DOCKER_WEB, "docker" },
		{ "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5e6f7a8b_9c0d_4e1f_8a2b_3c4d5e6f7a8b.slice/cri-containerd-" ID_CTRD_WORKER ".scope\n",
		  ID_CTRD_WORKER, "containerd" },
		{ "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod9a8b7c6d_5e4f_4a3b_2c1d_0e9f8a7b6c5d.slice/crio-" ID_CRIO_NEW ".scope\n",
		  ID_CRIO_NEW, "cri-o" },
		{ "11:cpu:/kubepods/besteffort/pod5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b/" ID_CRIO_OLD "\n",
		  ID_CRIO_OLD, "containerd" },
		/* docker in docker: the outer container, the one the host's
		 * runtime knows; a nested cgroup named after another
		 * container does not make a process that container */
		{ "0::/docker/" ID_DOCKER_WEB "/docker/" ID_DOCKER_K8S "\n", ID_DOCKER_WEB, "docker" },
		{ "0::/user.slice/user-1000.slice/session-3.scope\n", "", "" },
		{ "0::/docker/" ID_DOCKER_WEB "0\n", "", "docker" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct container_info ci;

		container_parse_cgroup(cases[i].text, strlen(cases[i].text), &ci);
		CHECK(!strcmp(ci.id, cases[i].id), "case %zu: id %s", i, ci.id);
		if (cases[i].id[0])
			CHECK(!strcmp(ci.runtime, cases[i].runtime),
			      "case %zu: runtime %s", i, ci.runtime);
	}
}

/* --- the root frame's text --- */

static const char *label_of(const char *id, const char *name, const char *image,
			    const char *pod, const char *ns, char *buf, size_t len)
{
	struct container_info ci = { 0 };

	snprintf(ci.id, sizeof(ci.id), "%s", id);
	snprintf(ci.cgroup, sizeof(ci.cgroup), "/docker/%s", id);
	snprintf(ci.names.name, sizeof(ci.names.name), "%s", name);
	snprintf(ci.names.image, sizeof(ci.names.image), "%s", image);
	snprintf(ci.names.pod, sizeof(ci.names.pod), "%s", pod);
	snprintf(ci.names.ns, sizeof(ci.names.ns), "%s", ns);
	return container_label(&ci, buf, len);
}

static bool part_is(const char *p, size_t len, const char *want)
{
	return len == strlen(want) && (!len || !memcmp(p, want, len));
}

static void check_parts(const char *text, const char *name, const char *id,
			const char *image, const char *pod, const char *ns)
{
	struct container_label_parts p;
	char again[512];

	container_label_parse(text, strlen(text), &p);
	CHECK(!p.cgroup, "%s: not a cgroup", text);
	CHECK(part_is(p.name, p.name_len, name), "%s: name %.*s", text,
	      (int)p.name_len, p.name);
	CHECK(part_is(p.id, p.id_len, id), "%s: id %.*s", text, (int)p.id_len, p.id);
	CHECK(part_is(p.image, p.image_len, image), "%s: image %.*s", text,
	      (int)p.image_len, p.image);
	CHECK(part_is(p.pod, p.pod_len, pod), "%s: pod %.*s", text, (int)p.pod_len,
	      p.pod);
	CHECK(part_is(p.ns, p.ns_len, ns), "%s: ns %.*s", text, (int)p.ns_len, p.ns);
	/* and back: the same text */
	container_label_format(&p, again, sizeof(again));
	CHECK(!strcmp(again, text), "%s: formatted back as %s", text, again);
}

static void test_labels(void)
{
	char buf[512], small[24];
	struct container_info ci = { 0 };
	struct container_label_parts p;
	size_t need;

	CHECK(!strcmp(label_of(ID_DOCKER_WEB, "web", "python:3.13-slim", "", "", buf, sizeof(buf)),
		      "container web (f31f384749f9, python:3.13-slim)"),
	      "%s", buf);
	check_parts(buf, "web", "f31f384749f9", "python:3.13-slim", "", "");
	CHECK(!strcmp(label_of(ID_CTRD_WORKER, "worker", "docker.io/library/python:3.12",
			       "jobs-7f9c4d8b5-q8w2e", "batch", buf, sizeof(buf)),
		      "pod batch/jobs-7f9c4d8b5-q8w2e container worker (d8328e7459d8, docker.io/library/python:3.12)"),
	      "%s", buf);
	check_parts(buf, "worker", "d8328e7459d8", "docker.io/library/python:3.12",
		    "jobs-7f9c4d8b5-q8w2e", "batch");
	/* no name in the runtime's state: the id, as before names */
	CHECK(!strcmp(label_of(ID_NOTHING, "", "", "", "", buf, sizeof(buf)),
		      "container 1785cfc3bc6a"),
	      "%s", buf);
	check_parts(buf, "1785cfc3bc6a", "1785cfc3bc6a", "", "", "");
	CHECK(!strcmp(label_of(ID_DOCKER_WEB, "web", "", "", "", buf, sizeof(buf)),
		      "container web (f31f384749f9)"),
	      "%s", buf);
	check_parts(buf, "web", "f31f384749f9", "", "", "");
	/* the text can always be taken apart: what would break it is cleaned */
	CHECK(!strcmp(label_of(ID_DOCKER_WEB, "a b;c (d),e", "img x;y", "p q", "n/s", buf,
			       sizeof(buf)),
		      "pod n_s/p_q container a_b_c__d__e (f31f384749f9, img_x_y)"),
	      "%s", buf);
	/* bounded: the length it needed, a terminated prefix */
	label_of(ID_DOCKER_WEB, "web", "python:3.13-slim", "", "", small, sizeof(small));
	container_label_parse(buf, strlen(buf), &p);
	need = container_label_format(&p, small, sizeof(small));
	CHECK(need == strlen(buf) && strlen(small) == sizeof(small) - 1 &&
		      !strncmp(small, buf, sizeof(small) - 1),
	      "%zu %s", need, small);
	CHECK(container_label_format(&p, small, 0) == need, "len 0");
	/* the longest names fit the frame's buffer */
	memset(&ci.names, 'a', sizeof(ci.names));
	ci.names.name[sizeof(ci.names.name) - 1] = ci.names.image[sizeof(ci.names.image) - 1] = '\0';
	ci.names.pod[sizeof(ci.names.pod) - 1] = ci.names.ns[sizeof(ci.names.ns) - 1] = '\0';
	snprintf(ci.id, sizeof(ci.id), "%s", ID_DOCKER_WEB);
	{
		char big[CONTAINER_LABEL_MAX];

		container_label(&ci, big, sizeof(big));
		CHECK(strlen(big) < sizeof(big) - 1 && big[strlen(big) - 1] == ')', "%zu", strlen(big));
	}
	memset(&ci, 0, sizeof(ci));
	/* a cgroup and the root cgroup */
	snprintf(ci.cgroup, sizeof(ci.cgroup), "/system.slice/app;1.service");
	CHECK(!strcmp(container_label(&ci, buf, sizeof(buf)), "cgroup /system.slice/app_1.service"),
	      "%s", buf);
	container_label_parse(buf, strlen(buf), &p);
	CHECK(part_is(p.cgroup, p.cgroup_len, "/system.slice/app_1.service"), "cgroup");
	snprintf(ci.cgroup, sizeof(ci.cgroup), "/");
	CHECK(!container_label(&ci, buf, sizeof(buf)), "root cgroup");
	/* text of another form is all name; no reads past its end */
	{
		static const char *odd[] = { "container ", "container x (", "container x ()",
					     "pod ", "pod a/b container", "pod a/b container ",
					     "container x (y, ", "container x (y,)", "weird" };

		for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
			size_t l = strlen(odd[i]);
			char *c = (char *)dup_exact((const unsigned char *)odd[i], l);

			container_label_parse(c, l, &p);
			CHECK(p.name_len <= l && p.id_len <= l && p.image_len <= l, "%s", odd[i]);
			free(c);
		}
	}
}

static void test_matches(void)
{
	struct container_info ci = { 0 };

	snprintf(ci.id, sizeof(ci.id), "%s", ID_CTRD_WORKER);
	snprintf(ci.names.name, sizeof(ci.names.name), "worker");
	snprintf(ci.names.pod, sizeof(ci.names.pod), "jobs-7f9c4d8b5-q8w2e");
	snprintf(ci.names.ns, sizeof(ci.names.ns), "batch");
	CHECK(container_matches(&ci, "d8328e"), "id prefix");
	CHECK(container_matches(&ci, ID_CTRD_WORKER), "whole id");
	CHECK(container_matches(&ci, "worker"), "name");
	CHECK(container_matches(&ci, "jobs-7f9c4d8b5-q8w2e"), "pod");
	CHECK(container_matches(&ci, "batch/jobs-7f9c4d8b5-q8w2e"), "ns/pod");
	CHECK(container_matches(&ci, "batch/jobs-7f9c4d8b5-q8w2e/worker"), "ns/pod/name");
	CHECK(!container_matches(&ci, "work"), "a name is whole");
	CHECK(!container_matches(&ci, "batch"), "not the namespace alone");
	CHECK(!container_matches(&ci, "d8328f"), "another id");
	CHECK(!container_matches(&ci, ""), "empty");
	ci.id[0] = '\0';
	CHECK(!container_matches(&ci, "worker"), "not in a container");
}

/* --- the runtimes' state --- */

static void expect(struct ctrnames *r, const char *id, const char *runtime,
		   const char *name, const char *image, const char *pod,
		   const char *ns)
{
	struct container_names n;
	bool found = ctrnames_get(r, id, runtime, 1000, &n);

	CHECK(found == (name[0] != '\0'), "%.12s: found %d", id, found);
	CHECK(!strcmp(n.name, name), "%.12s: name '%s' want '%s'", id, n.name, name);
	CHECK(!strcmp(n.image, image), "%.12s: image '%s' want '%s'", id, n.image, image);
	CHECK(!strcmp(n.pod, pod), "%.12s: pod '%s' want '%s'", id, n.pod, pod);
	CHECK(!strcmp(n.ns, ns), "%.12s: ns '%s' want '%s'", id, n.ns, ns);
}

static void test_host(void)
{
	struct ctrnames *r = ctrnames_new(at("%s", "host"));

	expect(r, ID_DOCKER_WEB, "docker", "web", "python:3.13-slim", "", "");
	/* a pod's container under dockershim: its name in the pod */
	expect(r, ID_DOCKER_K8S, "containerd", "app",
	       "registry.example.com/shop/web@sha256:a8d4ee5dc521259ca6f33ebbe908ffab002113851bbb009c9cf090407d2c101e",
	       "web-5d8f7c9b6-x2x7q", "shop");
	expect(r, ID_DOCKER_WRONG, "docker", "", "", "", "");
	expect(r, ID_DOCKER_LINK, "docker", "", "", "", "");
	expect(r, ID_CTRD_WORKER, "containerd", "worker", "docker.io/library/python:3.12",
	       "jobs-7f9c4d8b5-q8w2e", "batch");
	/* the hint is only where to look first */
	ctrnames_free(r);
	r = ctrnames_new(at("%s", "host"));
	expect(r, ID_CTRD_WORKER, "docker", "worker", "docker.io/library/python:3.12",
	       "jobs-7f9c4d8b5-q8w2e", "batch");
	expect(r, ID_CTRD_PAUSE, "containerd", "", "", "", "");
	expect(r, ID_CRIO_NEW, "cri-o", "api", "quay.io/billing/api:2.7.1",
	       "payments-6c9d7f5b4-zk4lm", "billing");
	expect(r, ID_CRIO_OLD, "containerd", "cron",
	       "registry.example.com/analytics/reports:2026.11", "reports-28391040-7hx2d",
	       "analytics");
	expect(r, ID_PODMAN_API, "podman", "api", "localhost/api:latest", "", "");
	expect(r, ID_PODMAN_WORKER, "podman", "worker-2", "docker.io/library/python:3.13", "", "");
	expect(r, ID_PODMAN_EVIL, "podman", "evil_name__x__", "localhost/x_y:latest", "", "");
	expect(r, ID_NOTHING, "", "", "", "", "");
	ctrnames_free(r);

	r = ctrnames_new(at("%s", "host-custom"));
	expect(r, ID_DOCKER_CUSTOM, "docker", "batch-runner", "python:3.11", "", "");
	expect(r, ID_PODMAN_CUSTOM, "podman", "nightly", "localhost/nightly:2026-11-30", "", "");
	/* not where the defaults would be */
	expect(r, ID_DOCKER_WEB, "docker", "", "", "", "");
	ctrnames_free(r);
}

/* Names are kept per id; one read of containers.json names all of podman's. */
static void test_cache(void)
{
	struct ctrnames *r = ctrnames_new(at("%s", "host"));
	const char *store = at("%s", "host/var/lib/containers/storage/overlay-containers/containers.json");
	const char *web = at("host/var/lib/docker/containers/%s/config.v2.json", ID_DOCKER_WEB);
	const char *late = at("host/var/lib/docker/containers/%s", ID_NOTHING);
	char path[PATH_MAX], text[512];
	struct container_names n;
	int len;

	CHECK(ctrnames_get(r, ID_PODMAN_API, "podman", 1000, &n) && !strcmp(n.name, "api"), "api");
	CHECK(!unlink(store), "unlink %s", store);
	CHECK(ctrnames_get(r, ID_PODMAN_WORKER, "podman", 1500, &n) &&
		      !strcmp(n.name, "worker-2"),
	      "worker from the same read: %s", n.name);

	/* renamed: the old name until it is looked up again */
	CHECK(ctrnames_get(r, ID_DOCKER_WEB, "docker", 1000, &n) && !strcmp(n.name, "web"), "web");
	len = snprintf(text, sizeof(text), "{\"ID\":\"%s\",\"Name\":\"/web-renamed\",\"Config\":{}}",
		       ID_DOCKER_WEB);
	write_file(web, text, (size_t)len);
	CHECK(ctrnames_get(r, ID_DOCKER_WEB, "docker", 1000 + CTRNAMES_FOUND_MS - 1, &n) &&
		      !strcmp(n.name, "web"),
	      "cached: %s", n.name);
	CHECK(ctrnames_get(r, ID_DOCKER_WEB, "docker", 1000 + CTRNAMES_FOUND_MS, &n) &&
		      !strcmp(n.name, "web-renamed"),
	      "looked up again: %s", n.name);

	/* a container without a name is looked at again, sooner */
	CHECK(!ctrnames_get(r, ID_NOTHING, "docker", 1000, &n) && !n.name[0], "nothing yet");
	CHECK(!mkdir(late, 0700), "mkdir %s", late);
	snprintf(path, sizeof(path), "%s/config.v2.json", late);
	len = snprintf(text, sizeof(text), "{\"ID\":\"%s\",\"Name\":\"/late\"}", ID_NOTHING);
	write_file(path, text, (size_t)len);
	CHECK(!ctrnames_get(r, ID_NOTHING, "docker", 1000 + CTRNAMES_MISSING_MS - 1, &n),
	      "missing is cached");
	CHECK(ctrnames_get(r, ID_NOTHING, "docker", 1000 + CTRNAMES_MISSING_MS, &n) &&
		      !strcmp(n.name, "late"),
	      "then found: %s", n.name);
	/* more containers than the cache holds: each still named */
	for (int i = 0; i < 2000; i++) {
		char id[65];

		snprintf(id, sizeof(id), "%064x", i);
		ctrnames_get(r, id, "", 5000, &n);
	}
	CHECK(ctrnames_get(r, ID_NOTHING, "docker", 5000, &n) && !strcmp(n.name, "late"),
	      "after 2000 others: %s", n.name);
	CHECK(!ctrnames_get(r, "not-an-id", "docker", 5000, &n), "not an id");
	ctrnames_free(r);
}

static void test_hostile_files(void)
{
	const char *dir = at("host/var/lib/docker/containers/%s", ID_DOCKER_K8S);
	char path[PATH_MAX], *big;
	struct container_names n;
	struct ctrnames *r;
	size_t len = (1 << 20) + 16;
	int ret;

	signal(SIGALRM, on_alarm);
	alarm(20);
	snprintf(path, sizeof(path), "%s/config.v2.json", dir);
	/* a FIFO: never opened for reading (that would block) */
	unlink(path);
	CHECK(!mkfifo(path, 0600), "mkfifo");
	r = ctrnames_new(at("%s", "host"));
	CHECK(!ctrnames_get(r, ID_DOCKER_K8S, "docker", 1000, &n), "fifo");
	ctrnames_free(r);
	unlink(path);
	/* more than a config can be: not read */
	big = malloc(len);
	memset(big, ' ', len);
	ret = snprintf(big, len, "{\"Name\":\"/big\"}");
	big[ret] = ' ';
	write_file(path, big, len);
	r = ctrnames_new(at("%s", "host"));
	CHECK(!ctrnames_get(r, ID_DOCKER_K8S, "docker", 1000, &n), "oversized");
	ctrnames_free(r);
	/* deep nesting, garbage, a truncated file */
	memset(big, '[', len);
	CHECK(ctrnames_parse_docker(big, 1 << 19, NULL, &n) == -EINVAL, "deep");
	CHECK(ctrnames_parse_oci(big, 1 << 19, &n) == -EINVAL, "deep oci");
	CHECK(ctrnames_parse_storage(big, 1 << 19, NULL, NULL) == -EINVAL, "deep storage");
	CHECK(ctrnames_parse_docker(S("\x01\xff{"), NULL, &n) == -EINVAL, "garbage");
	CHECK(ctrnames_parse_docker(S("{\"Name\":\"/web\""), NULL, &n) == -EINVAL, "truncated");
	CHECK(ctrnames_parse_docker(S("{\"Name\":\"/web\"}"), NULL, &n) == 0 &&
		      !strcmp(n.name, "web"),
	      "minimal");
	CHECK(ctrnames_parse_docker(S("{\"Name\":\"/\",\"Config\":[]}"), NULL, &n) == -ENOENT,
	      "empty name");
	CHECK(ctrnames_parse_docker(S("{\"Name\":7}"), NULL, &n) == -ENOENT, "wrong type");
	CHECK(ctrnames_parse_oci(S("{\"annotations\":[]}"), &n) == -ENOENT, "wrong type oci");
	CHECK(ctrnames_parse_oci(S("{\"annotations\":{\"io.kubernetes.cri-o.Labels\":\"[[[\"}}"),
				 &n) == -ENOENT,
	      "bad labels");
	free(big);
	alarm(0);
}

static void test_settings(void)
{
	char g[64] = "g", r[64] = "r", d[8] = "d";
	char dir[16] = "";
	static const char conf[] = "[storage]\n"
				   "  driver = \"overlay2_and_a_long_tail\"\n"
				   "runroot=\"relative/is/refused\"\n"
				   "graphroot = \"/unterminated\n"
				   "[storage.options.overlay]\n"
				   "runroot = \"/not/here\"\n";

	ctrnames_parse_storage_conf(conf, sizeof(conf) - 1, g, sizeof(g), r, sizeof(r), d,
				    sizeof(d));
	CHECK(!strcmp(g, "g") && !strcmp(r, "r") && !strcmp(d, "d"), "%s %s %s", g, r, d);
	CHECK(ctrnames_parse_daemon_json(S("{\"data-root\":\"/a/very/long/path/indeed\"}"), dir,
					 sizeof(dir)) == -EINVAL &&
		      !dir[0],
	      "too long");
	CHECK(ctrnames_parse_daemon_json(S("{\"data-root\":\"rel\"}"), dir, sizeof(dir)) == -EINVAL,
	      "relative");
	CHECK(ctrnames_parse_daemon_json(S("{}"), dir, sizeof(dir)) == -ENOENT, "none");
}

int main(int argc, char **argv)
{
	char cmd[PATH_MAX * 2 + 64];

	if (argc < 2) {
		fprintf(stderr, "usage: %s tests/unit/data\n", argv[0]);
		return 2;
	}
	if (!mkdtemp(scratch)) {
		perror("mkdtemp");
		return 2;
	}
	/* a copy of our own: the resolver reads files of root or ours only,
	 * and the tests change some */
	snprintf(cmd, sizeof(cmd), "cp -R '%s/containers/host' '%s/containers/host-custom' '%s/'",
		 argv[1], argv[1], scratch);
	if (system(cmd)) {
		fprintf(stderr, "cannot copy the fixtures: %s\n", cmd);
		return 2;
	}
	test_cgroup_layouts();
	test_labels();
	test_matches();
	test_host();
	test_settings();
	test_cache();
	test_hostile_files();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", scratch);
	return CHECK_SUMMARY();
}

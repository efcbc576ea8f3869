// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph agent: record host-wide without end and, every period, send
 * each process's profile as pprof to a Pyroscope-compatible ingest
 * endpoint (POST /ingest?name=SERVICE.cpu{labels}&from=&until=&format=pprof).
 * The queue of uploads, its spool and its retries are net/upload.c.
 *
 * With --metrics-listen it also (or only) serves /metrics for Prometheus:
 * the session then runs the asyncio and memory features (event-loop timing,
 * stalls, blocking calls, await latency, collections) and
 * report/metrics_sink.c feeds them to the exposition; the HTTP side is
 * polled from the session's loop (net/httpd.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/options.h"
#include "model/stacks.h"
#include "net/http.h"
#include "net/httpd.h"
#include "net/upload.h"
#include "output/output.h"
#include "output/pprof.h"
#include "report/labels.h"
#include "report/metrics.h"
#include "report/metrics_sink.h"
#include "sys/clock.h"
#include "sys/container.h"
#include "sys/log.h"

#define MAX_PROCS 1024
#define BACKOFF_MAX_MS 60000

struct agent {
	struct http_client *http;
	struct upload_queue *up; /* --server */
	unsigned int period;
	const char *spool_dir;
	size_t queue_max; /* bytes, in memory or on disk */
	bool quiet;
	char host[256];
	unsigned long long cut;
	unsigned long long unencoded; /* profiles that could not be encoded */
	bool uploading; /* --server given */
	bool upload_started;
	/* --metrics-listen */
	struct metrics *metrics;
	struct httpd *httpd;
	struct metrics_sink ms;
	/* the session and this period's profile (--server) */
	struct session_opts so;
	struct frame_table *ft;
	struct profile prof;
	unsigned long long period_start_ns;
	double hz;
	unsigned int sites;
};

static int a_poll(void *ctx)
{
	struct agent *a = ctx;

	/* started here, after the session dropped the capabilities */
	if (!a->upload_started) {
		a->upload_started = true;
		upload_start(a->up);
	}
	return 0;
}

/* A process's labels from its root frames: [container;] cmd (pid). */
struct proc_labels {
	char service[64], container[128], pod[128], ns[64], pid[16];
};

static void proc_labels(struct agent *a, const frame_id *f, uint32_t nroot,
			struct proc_labels *l)
{
	snprintf(l->service, sizeof(l->service), "python");
	l->container[0] = l->pod[0] = l->ns[0] = '\0';
	snprintf(l->pid, sizeof(l->pid), "0");
	for (uint32_t i = 0; i < nroot; i++) {
		const struct frame *fr = frames_get(a->ft, f[i]);
		const char *name = frame_name(a->ft, f[i]);

		if (fr->kind == FRAME_CONTAINER) {
			/* the container's name (else its short id), its pod */
			struct container_label_parts p;

			container_label_parse(name, strlen(name), &p);
			if (p.cgroup)
				labels_value(l->container, sizeof(l->container),
					     p.cgroup, p.cgroup_len);
			else
				labels_value(l->container, sizeof(l->container),
					     p.name, p.name_len);
			labels_value(l->pod, sizeof(l->pod), p.pod, p.pod_len);
			labels_value(l->ns, sizeof(l->ns), p.ns, p.ns_len);
		} else if (fr->kind == FRAME_PROCESS) {
			labels_service(name, strlen(name), l->service,
				       sizeof(l->service));
			snprintf(l->pid, sizeof(l->pid), "%d", fr->pid);
		}
	}
}

/* One process's profile as a queued upload. */
static void queue_profile(struct agent *a, struct profile *p, const frame_id *root,
			  uint32_t nroot, long long until, double seconds)
{
	struct proc_labels l;
	char q[2048], pod[256] = "";
	struct profile_data d = {
		.prof = p,
		.hz = a->hz,
		.start_ns = (unsigned long long)(until - seconds) * 1000000000ULL,
		.duration_ns = (unsigned long long)(seconds * 1e9),
		.timed = a->so.offcpu || a->so.gil,
		.title = "pyrograph agent",
	};
	unsigned char *body;
	char *query;
	size_t len;

	if (pprof_encode(&d, &body, &len)) {
		a->unencoded++;
		return;
	}
	proc_labels(a, root, nroot, &l);
	if (l.pod[0])
		snprintf(pod, sizeof(pod), "%%2Cpod%%3D%s%%2Cnamespace%%3D%s",
			 l.pod, l.ns);
	/* name=SERVICE.cpu{host=,service=,pid=,container=,pod=,namespace=}:
	 * braces, commas and '=' percent-encoded */
	snprintf(q, sizeof(q),
		 "/ingest?name=%s.cpu%%7Bhost%%3D%s%%2Cservice%%3D%s%%2Cpid%%3D%s%s%s%s%%7D"
		 "&from=%lld&until=%lld&format=pprof&sampleRate=%.0f&spyName=pyrograph",
		 l.service, a->host, l.service, l.pid,
		 l.container[0] ? "%2Ccontainer%3D" : "", l.container, pod,
		 until - (long long)(seconds + 0.5), until, a->hz);
	query = strdup(q);
	if (!query) {
		free(body);
		a->unencoded++;
		return;
	}
	a->cut++;
	upload_add(a->up, query, body, len);
}

/* Where stack f's root frames end: after its process frame (0: none). */
static uint32_t proc_end(struct agent *a, const frame_id *f, uint32_t n)
{
	for (uint32_t i = 0; i < n && frame_is_root(a->ft, f[i]); i++)
		if (frames_get(a->ft, f[i])->kind == FRAME_PROCESS)
			return i + 1;
	return 0;
}

/* Cuts this period's stacks into one pprof per process and queues them. */
static void agent_cut(struct agent *a)
{
	struct profile *procs = calloc(MAX_PROCS, sizeof(*procs));
	struct timespec ts;
	double seconds = (clock_mono_ns() - a->period_start_ns) / 1e9;
	int np = 0;

	a->period_start_ns = clock_mono_ns();
	if (!procs)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	for (stack_id i = 0; i < profile_count(&a->prof); i++) {
		uint32_t n, k, end;
		const frame_id *f = stacks_get(&a->prof.st, i, &n);

		end = proc_end(a, f, n);
		if (!end)
			continue;
		/* the processes of one period: a linear look is enough */
		for (k = 0; k < (uint32_t)np; k++) {
			uint32_t pn;
			const frame_id *pf = stacks_get(&procs[k].st, 0, &pn);

			if (pn >= end && !memcmp(pf, f, end * sizeof(*f)))
				break;
		}
		if (k == (uint32_t)np) {
			if (np == MAX_PROCS)
				continue;
			profile_init(&procs[np++], a->ft);
		}
		profile_add(&procs[k], f, n, a->prof.w[i].value, a->prof.w[i].count);
	}
	for (int k = 0; k < np; k++) {
		uint32_t n;
		const frame_id *f = stacks_get(&procs[k].st, 0, &n);

		queue_profile(a, &procs[k], f, proc_end(a, f, n), ts.tv_sec, seconds);
		profile_free(&procs[k]);
	}
	free(procs);
	profile_free(&a->prof);
	profile_init(&a->prof, a->ft);
	if (!a->quiet) {
		struct upload_stats st;

		upload_stats(a->up, &st);
		pr_info("cut %d profile%s; sent %llu, queued %zu (%zu KiB), dropped %llu",
			np, np == 1 ? "" : "s", st.sent, st.nqueued,
			st.queued_bytes / 1024, st.dropped);
	}
}

static int a_sample(void *ctx, const struct session_sample *s)
{
	struct agent *a = ctx;
	bool wall = a->so.offcpu || a->so.gil;
	unsigned long long us = (s->ns + 500) / 1000;

	if (!s->oncpu)
		return wall && us ? profile_add(&a->prof, s->frames, s->n, us, 1) : 0;
	return profile_add(&a->prof, s->frames, s->n, wall ? us : s->count, s->count);
}

/* Every second: the period's profiles, when due. */
static int a_tick(void *ctx, const struct session_health *h)
{
	struct agent *a = ctx;

	a->hz = h->hz;
	if (clock_mono_ns() - a->period_start_ns >= a->period * 1000000000ULL)
		agent_cut(a);
	return 0;
}

/* The end: what was recorded since the last cut goes too. */
static void a_done(void *ctx, const struct session_health *h)
{
	struct agent *a = ctx;

	a->hz = h->hz;
	agent_cut(a);
}

/* The upload figures for the metrics' agent health. */
static void upload_health(void *ctx, struct metrics_health *mh)
{
	struct agent *a = ctx;
	struct upload_stats st;

	mh->uploading = a->up != NULL;
	mh->unencoded = a->unencoded;
	if (!a->up)
		return;
	upload_stats(a->up, &st);
	mh->sent = st.sent;
	mh->rejected = st.failed;
	mh->dropped = st.dropped;
	mh->queued_bytes = st.queued_bytes;
	memcpy(mh->upload_failures, st.failures, sizeof(mh->upload_failures));
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pyrograph agent --server URL [OPTIONS] [record's target options]\n"
		"       pyrograph agent --metrics-listen [HOST:]PORT [OPTIONS] [...]\n"
		"\n"
		"Profiles every Python process on the host (or the selected ones) without\n"
		"end and, every period, sends one pprof profile per process to a\n"
		"Pyroscope-compatible server: POST URL/ingest?name=SERVICE.cpu{host=H,\n"
		"service=SERVICE,pid=P,container=C}&from=&until=&format=pprof (C: the\n"
		"container's name, else its short id; a Kubernetes pod's container adds\n"
		"pod= and namespace=). SERVICE is\n"
		"derived from the command line (python app.py -> app, python -m celery ->\n"
		"celery, else the program). Failed uploads are retried with exponential\n"
		"backoff (1 s to 60 s); the queue is bounded, oldest profiles dropped first.\n"
		"A failure's cause (connection refused, certificate expired, host name\n"
		"mismatch, unknown CA, HTTP 401...) is said once, until it changes. HTTP\n"
		"413 and other 4xx answers drop that profile (retrying cannot help), but\n"
		"401, 403, 407, 408 and 429, retried like network failures. https:// is\n"
		"checked against the system's CAs (or --cacert); proxies come from\n"
		"HTTPS_PROXY, http_proxy, ALL_PROXY and NO_PROXY.\n"
		"\n"
		"With --metrics-listen (with or without --server) it serves Prometheus\n"
		"metrics at http://ADDR/metrics, labelled host, container (its name), pod\n"
		"and namespace (Kubernetes), service, pid:\n"
		"  pyrograph_asyncio_loop_lag_seconds           histogram per event loop (tid)\n"
		"  pyrograph_asyncio_stalls_total, _stalled_seconds_total   per event loop\n"
		"  pyrograph_asyncio_blocking_seconds_total     off-CPU in iterations, by kind\n"
		"  pyrograph_asyncio_await_latency_seconds      histogram per await site\n"
		"                                               (busiest N, rest site=\"other\")\n"
		"  pyrograph_asyncio_request_seconds            histogram of task lives per\n"
		"                                               endpoint (the same bound)\n"
		"  pyrograph_python_gc_pause_seconds            histogram per generation (USDT)\n"
		"  pyrograph_process_resident_memory_bytes, _growth_bytes_per_second,\n"
		"  pyrograph_process_cpu_seconds_total          per process\n"
		"  pyrograph_agent_*                            samples, drops by reason, CPU,\n"
		"                                               targets, uploads, upload\n"
		"                                               failures by reason, series\n"
		"Histogram buckets are the kernel's log2 buckets (le = 2, 4, 8 ... us). A\n"
		"process's series go away when it exits. Event-loop timing runs at the epoll\n"
		"syscalls' tracepoints (tracefs is mounted if it is not: see `pyrograph async\n"
		"--help`) and task-await probes trap into the kernel once per task step\n"
		"(--no-await skips them; the measured cost is in the README).\n"
		"\n"
		"Options:\n"
		"  -S, --server URL      ingest endpoint base: http:// or https://, with a\n"
		"                        path prefix if any (https://USER@HOST names the\n"
		"                        user of --basic-auth-file; a password in the URL\n"
		"                        works, but ps shows it)\n"
		"      --basic-auth-file FILE  basic auth: USER:PASSWORD in FILE, or only the\n"
		"                        password when the URL names the user\n"
		"      --bearer-token-file FILE  Authorization: Bearer with the token in FILE\n"
		"                        (secret files: read once at start, one line, at\n"
		"                        most 8 KiB; keep them chmod 600)\n"
		"      --tenant ID       X-Scope-OrgID: ID, the tenant of a multi-tenant\n"
		"                        Pyroscope\n"
		"      --cacert FILE     trust the CA certificates in FILE (PEM) instead of\n"
		"                        the system's\n"
		"      --insecure        do not check the server's certificate or host name\n"
		"                        (a warning says so at every start)\n"
		"  -P, --period SEC      seconds per profile (default 60)\n"
		"      --spool DIR       keep queued profiles in DIR (survive restarts)\n"
		"      --queue-max SIZE  queue bound, in memory or in DIR: 64M (default),\n"
		"                        512K...; the oldest profiles are dropped first\n"
		"      --metrics-listen ADDR  serve /metrics on ADDR: PORT (127.0.0.1:PORT),\n"
		"                        HOST:PORT or [V6]:PORT; anything but loopback must be\n"
		"                        written out (0.0.0.0:9464); no authentication\n"
		"      --stall TIME      an event-loop iteration this long is a stall\n"
		"                        (default 100ms)\n"
		"      --await-sites N   await sites (and, apart, endpoints) per process\n"
		"                        with their own series (default 10, at most 256)\n"
		"      --no-await        no await-latency or request histograms (no\n"
		"                        task-step probes)\n"
		"  -q, --quiet           no per-period status lines\n"
		"  -h, --help            this help\n"
		"At least one of --server and --metrics-listen is needed.\n"
		"Target and sampling options of `pyrograph record` apply (default -a;\n"
		"-r, --container, --cgroup, -p ...).\n"
		"\n"
		"Examples:\n"
		"  pyrograph agent --server http://pyroscope:4040\n"
		"  Grafana Cloud Profiles: the stack's Profiles URL, and a file (chmod 600)\n"
		"  holding INSTANCE_ID:TOKEN, the stack's Profiles instance id (a number)\n"
		"  and an access policy token with the profiles:write scope:\n"
		"    pyrograph agent --server https://profiles-prod-001.grafana.net \\\n"
		"        --basic-auth-file /etc/pyrograph/grafana-cloud\n"
		"  A self-hosted multi-tenant Pyroscope, behind a private CA:\n"
		"    pyrograph agent --server https://pyroscope.internal:4040 --tenant team-a \\\n"
		"        --cacert /etc/pyrograph/ca.pem\n"
		"  pyrograph agent --server http://127.0.0.1:4040 --period 10 --spool /var/spool/pyrograph\n"
		"  pyrograph agent --metrics-listen 9464        (scrape 127.0.0.1:9464/metrics)\n"
		"  systemctl enable --now pyrograph-agent   (scripts/pyrograph-agent.service)\n");
}

static int metrics_setup(struct agent *a, const char *listen)
{
	const char *why;
	int err = httpd_listen(listen, &a->httpd, &why);

	if (err) {
		pr_err("--metrics-listen %s: %s", listen, why);
		return err;
	}
	a->metrics = metrics__new(a->host, a->sites);
	if (!a->metrics)
		return -ENOMEM;
	/* event loops, read every tick: without end, dead threads must go;
	 * the profiles to upload are every thread's samples */
	a->so.async.on = true;
	a->so.async.reap_loops = true;
	a->so.async.sample_all = a->uploading;
	/* collections only: RSS comes from /proc */
	a->so.mem.on = true;
	/* the agent's own lines say what happens; the session's live
	 * status line would interleave with them */
	a->so.quiet = true;
	if (!httpd_loopback(a->httpd))
		pr_warn("serving metrics on %s, beyond this host, without authentication",
			httpd_address(a->httpd));
	pr_info("agent: metrics at http://%s/metrics", httpd_address(a->httpd));
	return 0;
}

enum { A_SERVER = 'S', A_PERIOD = 'P', A_LISTEN = 256, A_STALL, A_SITES,
       A_NO_AWAIT, A_SPOOL, A_QUEUE_MAX, A_CACERT, A_INSECURE, A_BASIC_AUTH,
       A_BEARER, A_TENANT };

static const struct cmd_opt agent_opts[] = {
	{ "server", 'S', true, A_SERVER },
	{ "period", 'P', true, A_PERIOD },
	{ "metrics-listen", 0, true, A_LISTEN },
	{ "stall", 0, true, A_STALL },
	{ "await-sites", 0, true, A_SITES },
	{ "no-await", 0, false, A_NO_AWAIT },
	{ "spool", 0, true, A_SPOOL },
	{ "queue-max", 0, true, A_QUEUE_MAX },
	{ "cacert", 0, true, A_CACERT },
	{ "insecure", 0, false, A_INSECURE },
	{ "basic-auth-file", 0, true, A_BASIC_AUTH },
	{ "bearer-token-file", 0, true, A_BEARER },
	{ "tenant", 0, true, A_TENANT },
	{ NULL },
};

struct agent_args {
	struct agent *a;
	const char *server, *listen;
	struct http_options http; /* the upload client's, but the URL */
};

static int parse_queue_max(const char *val, size_t *out)
{
	char *end;
	unsigned long long q = strtoull(val, &end, 10);

	if (q && (*end == 'k' || *end == 'K'))
		q <<= 10, end++;
	else if (q && (*end == 'm' || *end == 'M' || !*end))
		q <<= 20, end += !!*end;
	if (!q || *end || q > (64ULL << 30) || val[0] == '-') {
		pr_err("--queue-max: a size such as 64M or 512K");
		return -EINVAL;
	}
	*out = q;
	return 0;
}

static int agent_opt(void *ctx, int id, const char *val)
{
	struct agent_args *x = ctx;
	struct agent *a = x->a;
	unsigned long v;

	switch (id) {
	case A_SERVER:
		x->server = val;
		return 0;
	case A_LISTEN:
		x->listen = val;
		return 0;
	case A_STALL:
		if (parse_time(val, 1e6, 1e6, 3600e9, &a->so.async.stall_ns)) {
			pr_err("--stall: a time such as 100ms (1ms to 3600s)");
			return -EINVAL;
		}
		return 0;
	case A_SITES:
		if (parse_uint(val, "--await-sites", 0, METRICS_MAX_SITES, &v))
			return -EINVAL;
		a->sites = (unsigned int)v;
		return 0;
	case A_NO_AWAIT:
		a->so.async.steps = false;
		return 0;
	case A_PERIOD:
		if (parse_uint(val, "--period", 1, 86400, &v))
			return -EINVAL;
		a->period = (unsigned int)v;
		return 0;
	case A_SPOOL:
		a->spool_dir = val;
		return 0;
	case A_QUEUE_MAX:
		return parse_queue_max(val, &a->queue_max);
	case A_CACERT:
		x->http.cacert = val;
		return 0;
	case A_INSECURE:
		x->http.insecure = true;
		return 0;
	case A_BASIC_AUTH:
		x->http.basic_auth_file = val;
		return 0;
	case A_BEARER:
		x->http.bearer_token_file = val;
		return 0;
	case A_TENANT:
		x->http.tenant = val;
		return 0;
	}
	return -EINVAL;
}

static const struct cmd_def agent_def = {
	.name = "agent",
	.groups = OPT_RECORDING | OPT_SUBPROC | OPT_RATE | OPT_WALL | OPT_NATIVE,
	.opts = agent_opts,
	.opt = agent_opt,
	.usage = usage,
};

/* Server, spool and host; 0 or -EINVAL after saying why. */
static int agent_setup(struct agent *a, struct agent_args *x)
{
	const char *server = x->server, *listen = x->listen;
	struct http_options *h = &x->http;
	char why[512];

	if (listen && (a->so.offcpu || a->so.gil)) {
		/* event-loop timing owns the off-CPU path: the profiles would
		 * silently lose their off-CPU time */
		pr_err("%s cannot be combined with --metrics-listen",
		       a->so.offcpu ? "--idle" : "--gil");
		return -EINVAL;
	}
	if (!server && (h->cacert || h->basic_auth_file || h->bearer_token_file ||
			h->tenant || h->insecure)) {
		pr_err("--cacert, --insecure, --tenant and the credential files go with --server");
		return -EINVAL;
	}
	if (!server && !listen) {
		usage(stderr);
		pr_err("agent: give --server URL, --metrics-listen ADDR, or both");
		return -EINVAL;
	}
	h->url = server;
	/* the secrets are read here, once */
	if (server && http_client_new(h, &a->http, why, sizeof(why))) {
		pr_err("%s", why);
		return -EINVAL;
	}
	a->uploading = server;
	if (server) {
		if (a->spool_dir && mkdir(a->spool_dir, 0700) && errno != EEXIST) {
			pr_err("--spool %s: %s", a->spool_dir, strerror(errno));
			return -EINVAL;
		}
		a->up = upload_new(a->http, a->spool_dir, a->queue_max);
		if (!a->up)
			return -ENOMEM;
		if (a->spool_dir)
			upload_load_spool(a->up);
	}
	if (gethostname(a->host, sizeof(a->host)))
		snprintf(a->host, sizeof(a->host), "localhost");
	labels_value(a->host, sizeof(a->host), a->host, strlen(a->host));
	return listen ? metrics_setup(a, listen) : 0;
}

static int agent_run(struct agent *a)
{
	struct session_sink up = {
		.ctx = a, .sample = a_sample, .tick = a_tick, .poll = a_poll,
		.done = a_done,
	}, ms;
	struct session *s;
	int ret = session_open(&s, &a->so);

	if (ret)
		return ret;
	a->ft = session_frames(s);
	profile_init(&a->prof, a->ft);
	a->period_start_ns = clock_mono_ns();
	if (a->metrics) {
		metrics_sink_init(&ms, &a->ms, a->metrics, a->httpd, a->ft);
		a->ms.uploads = upload_health;
		a->ms.uploads_ctx = a;
		ret = session_add_sink(s, &ms);
	}
	if (!ret && a->up)
		ret = session_add_sink(s, &up);
	if (!ret)
		ret = session_run(s);
	profile_free(&a->prof);
	session_close(s);
	return ret;
}

int cmd_agent(int argc, char **argv)
{
	struct agent a = { .period = 60, .queue_max = 64 << 20, .sites = 10 };
	struct agent_args x = { .a = &a };
	enum opts_result res;
	int ret = 1;

	session_opts_init(&a.so);
	a.so.async.stall_ns = 100000000ULL;
	a.so.async.steps = true;
	res = options_parse(&agent_def, argc, argv, &a.so, &x, NULL);
	if (res != OPTS_OK) {
		ret = res == OPTS_HELP ? 0 : res == OPTS_REFUSED ? 2 : 1;
		goto out;
	}
	a.quiet = a.so.quiet;
	/* one root frame per container and process, as the labels are */
	a.so.group = GROUP_CONTAINER;
	a.so.threads = false;
	if (agent_setup(&a, &x))
		goto out;
	if (!a.quiet && x.server)
		pr_info("agent: sending to %s every %u s%s%s", http_client_url(a.http),
			a.period, x.http.tenant ? " as tenant " : "",
			x.http.tenant ? x.http.tenant : "");
	ret = agent_run(&a) ? 1 : 0;
	if (a.up) {
		struct upload_stats st;

		upload_finish(a.up);
		upload_stats(a.up, &st);
		if (!a.quiet)
			pr_info("agent: sent %llu profiles, %llu rejected, %llu dropped, %zu left queued (%zu bytes)%s",
				st.sent, st.failed, st.dropped, st.nqueued, st.queued_bytes,
				a.spool_dir && st.nqueued ? " (spooled)" : "");
	}
out:
	upload_free(a.up);
	httpd_free(a.httpd);
	http_client_free(a.http);
	metrics__free(a.metrics);
	return ret;
}

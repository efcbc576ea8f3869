// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph agent: record host-wide without end and, every period, send
 * each process's profile as pprof to a Pyroscope-compatible ingest
 * endpoint (POST /ingest?name=SERVICE.cpu{labels}&from=&until=&format=pprof).
 * Uploads that fail are retried with exponential backoff; the queue is
 * bounded in memory (oldest dropped, counted) or, with --spool, kept on
 * disk (bounded too) so profiles survive a backend outage and a restart.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "frames.h"
#include "http.h"
#include "log.h"
#include "output.h"
#include "pprof.h"
#include "record.h"
#include "stackagg.h"

#define MAX_PROCS 1024
#define BACKOFF_MAX_MS 60000

struct item {
	char *query;	  /* path and query after the URL's path */
	unsigned char *body;
	size_t len;
	char *spool;	  /* file holding body (then body is NULL) */
	struct item *next;
};

struct agent {
	struct http_url url;
	unsigned int period;
	const char *spool_dir;
	size_t queue_max; /* bytes, in memory or on disk */
	bool quiet;
	char host[256];
	struct item *head, *tail;
	size_t queued_bytes, nqueued;
	unsigned long long sent, failed, dropped, cut;
	long long next_try_ms;
	unsigned int backoff_ms;
	unsigned long long spool_seq;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Label values: Pyroscope allows a restricted character set. */
static void label_value(char *out, size_t olen, const char *s, size_t len)
{
	size_t k = 0;

	for (size_t i = 0; i < len && k + 1 < olen; i++) {
		char c = s[i];

		out[k++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
					   (c >= '0' && c <= '9') || c == '-' ||
					   c == '_' || c == '.' ?
				   c :
				   '_';
	}
	out[k] = '\0';
}

/*
 * A service name from the command line: the script or module a Python
 * interpreter runs (python3 app.py -> app, python -m celery -> celery),
 * otherwise the program (gunicorn, uvicorn).
 */
static void service_name(const char *cmd, size_t len, char *out, size_t olen)
{
	char buf[512], *tok, *save = NULL, *prog = NULL, *pick = NULL;
	bool python, module = false;

	snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) ? len : sizeof(buf) - 1), cmd);
	tok = strtok_r(buf, " ", &save);
	if (!tok) {
		snprintf(out, olen, "python");
		return;
	}
	prog = strrchr(tok, '/') ? strrchr(tok, '/') + 1 : tok;
	python = !strncmp(prog, "python", 6);
	while (python && (tok = strtok_r(NULL, " ", &save))) {
		if (module) {
			pick = tok;
			break;
		}
		if (!strcmp(tok, "-m")) {
			module = true;
			continue;
		}
		if (tok[0] == '-')
			continue;
		pick = strrchr(tok, '/') ? strrchr(tok, '/') + 1 : tok;
		if (strlen(pick) > 3 && !strcmp(pick + strlen(pick) - 3, ".py"))
			pick[strlen(pick) - 3] = '\0';
		break;
	}
	label_value(out, olen, pick ? pick : prog, strlen(pick ? pick : prog));
}

static void item_free(struct item *it)
{
	if (it->spool)
		unlink(it->spool);
	free(it->spool);
	free(it->query);
	free(it->body);
	free(it);
}

static void drop_oldest(struct agent *a)
{
	struct item *it = a->head;

	if (!it)
		return;
	a->head = it->next;
	if (!a->head)
		a->tail = NULL;
	a->queued_bytes -= it->len;
	a->nqueued--;
	a->dropped++;
	item_free(it);
}

static void queue_push(struct agent *a, struct item *it)
{
	it->next = NULL;
	if (a->tail)
		a->tail->next = it;
	else
		a->head = it;
	a->tail = it;
	a->queued_bytes += it->len;
	a->nqueued++;
}

static void enqueue(struct agent *a, struct item *it)
{
	if (it->len > a->queue_max) {
		a->dropped++;
		item_free(it);
		return;
	}
	while (a->queued_bytes + it->len > a->queue_max)
		drop_oldest(a);
	if (a->spool_dir && it->body) {
		char path[PATH_MAX];
		FILE *f;

		/* name: sequence number, then the query (URL-safe already) */
		snprintf(path, sizeof(path), "%s/%020llu.pprof", a->spool_dir,
			 a->spool_seq++);
		f = fopen(path, "wxe");
		if (f && fprintf(f, "%s\n", it->query) > 0 &&
		    fwrite(it->body, 1, it->len, f) == it->len && !fclose(f)) {
			it->spool = strdup(path);
			free(it->body);
			it->body = NULL;
		} else {
			if (f)
				fclose(f);
			unlink(path);
			pr_warn("cannot spool to %s: %s (kept in memory)", path,
				strerror(errno));
		}
	}
	queue_push(a, it);
}

/* Profiles spooled by an earlier run go first. */
static void load_spool(struct agent *a)
{
	struct dirent **names = NULL;
	int n = scandir(a->spool_dir, &names, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		char path[PATH_MAX], q[2048];
		struct item *it;
		unsigned long long seq;
		struct stat st;
		FILE *f;

		if (sscanf(names[i]->d_name, "%llu.pprof", &seq) != 1) {
			free(names[i]);
			continue;
		}
		if (seq >= a->spool_seq)
			a->spool_seq = seq + 1;
		snprintf(path, sizeof(path), "%s/%s", a->spool_dir, names[i]->d_name);
		free(names[i]);
		f = fopen(path, "re");
		if (!f || !fgets(q, sizeof(q), f) || fstat(fileno(f), &st)) {
			if (f)
				fclose(f);
			continue;
		}
		q[strcspn(q, "\n")] = '\0';
		it = calloc(1, sizeof(*it));
		if (it) {
			it->query = strdup(q);
			it->spool = strdup(path);
			it->len = st.st_size - ftell(f);
		}
		fclose(f);
		if (!it || !it->query || !it->spool) {
			if (it)
				item_free(it);
			continue;
		}
		queue_push(a, it);
	}
	free(names);
	while (a->queued_bytes > a->queue_max)
		drop_oldest(a);
}

static int item_body(struct item *it, unsigned char **b)
{
	FILE *f;
	char skip[2048];

	if (it->body) {
		*b = it->body;
		return 0;
	}
	f = fopen(it->spool, "re");
	if (!f)
		return -errno;
	*b = malloc(it->len ? it->len : 1);
	if (!*b || !fgets(skip, sizeof(skip), f) ||
	    fread(*b, 1, it->len, f) != it->len) {
		free(*b);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	return 0;
}

/* Sends what is due; stops at the first failure and backs off. */
static void flush(struct agent *a)
{
	while (a->head && now_ms() >= a->next_try_ms) {
		struct item *it = a->head;
		unsigned char *b;
		int st;

		if (item_body(it, &b)) {
			drop_oldest(a);
			continue;
		}
		st = http_post(&a->url, it->query, "application/octet-stream", b,
			       it->len, 5000);
		if (b != it->body)
			free(b);
		if (st >= 200 && st < 300) {
			a->sent++;
		} else if (st >= 400 && st < 500 && st != 408 && st != 429) {
			/* the backend refuses this one: retrying cannot help */
			a->failed++;
			pr_warn("upload rejected: HTTP %d for %s", st, it->query);
		} else {
			a->backoff_ms = a->backoff_ms ? a->backoff_ms * 2 : 1000;
			if (a->backoff_ms > BACKOFF_MAX_MS)
				a->backoff_ms = BACKOFF_MAX_MS;
			a->next_try_ms = now_ms() + a->backoff_ms;
			if (!a->quiet)
				pr_warn("upload failed (%s); %zu profiles queued, retrying in %u s",
					st < 0 ? strerror(-st) : "server error",
					a->nqueued, a->backoff_ms / 1000);
			return;
		}
		a->backoff_ms = 0;
		a->head = it->next;
		if (!a->head)
			a->tail = NULL;
		a->queued_bytes -= it->len;
		a->nqueued--;
		item_free(it);
	}
}

static int agent_input(void *ctx)
{
	flush(ctx);
	return 0;
}

/* Cuts this period's stacks into one pprof per process and queues them. */
static int agent_refresh(void *ctx, const struct stack_count *stacks, size_t n,
			 double hz, double seconds, unsigned int nprocs)
{
	struct agent *a = ctx;
	struct {
		char key[300];
		struct stackagg *agg;
		char service[64], container[64], pid[16];
	} *procs = calloc(MAX_PROCS, sizeof(*procs));
	int np = 0;
	struct timespec ts;
	long long until;

	(void)nprocs;
	if (!procs)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	until = ts.tv_sec;
	for (size_t i = 0; i < n; i++) {
		const char *s = stacks[i].stack, *p = s;
		char container[64] = "", service[64] = "python", pid[16] = "0";
		size_t keylen = 0;
		int k;

		/* root frames: [container ...;] cmd (pid) */
		for (int depth = 0; depth < 2; depth++) {
			const char *semi = strchr(p, ';');
			size_t len = semi ? (size_t)(semi - p) : strlen(p);
			struct frame_parts fp;

			frame_parse(p, len, true, &fp);
			if (fp.kind == FRAME_CONTAINER) {
				label_value(container, sizeof(container),
					    fp.name + (fp.name[0] == 'c' && fp.name[1] == 'o' ? 10 : 7),
					    fp.name_len - (fp.name[0] == 'c' && fp.name[1] == 'o' ? 10 : 7));
			} else if (fp.kind == FRAME_PROCESS) {
				service_name(fp.name, fp.name_len, service,
					     sizeof(service));
				snprintf(pid, sizeof(pid), "%ld", fp.pid);
				keylen = (size_t)(p - s) + len;
				break;
			}
			if (!semi)
				break;
			p = semi + 1;
		}
		if (!keylen)
			continue;
		for (k = 0; k < np; k++)
			if (strlen(procs[k].key) == keylen &&
			    !strncmp(procs[k].key, s, keylen))
				break;
		if (k == np) {
			if (np == MAX_PROCS)
				continue;
			snprintf(procs[k].key, sizeof(procs[k].key), "%.*s",
				 (int)keylen, s);
			procs[k].agg = stackagg__new();
			snprintf(procs[k].service, sizeof(procs[k].service), "%s", service);
			snprintf(procs[k].container, sizeof(procs[k].container), "%s", container);
			snprintf(procs[k].pid, sizeof(procs[k].pid), "%s", pid);
			np++;
		}
		if (procs[k].agg)
			stackagg__add(procs[k].agg, s, stacks[i].count);
	}
	for (int k = 0; k < np; k++) {
		struct profile_data d = {
			.agg = procs[k].agg,
			.hz = hz,
			.start_ns = (unsigned long long)(until - seconds) * 1000000000ULL,
			.duration_ns = (unsigned long long)(seconds * 1e9),
			.title = "pyrograph agent",
		};
		struct item *it = calloc(1, sizeof(*it));
		char q[1024];

		if (!it || !procs[k].agg ||
		    pprof_encode(&d, &it->body, &it->len)) {
			free(it);
			a->dropped++;
			continue;
		}
		/* name=SERVICE.cpu{host=,container=,pid=}: braces, commas and
		 * '=' percent-encoded */
		snprintf(q, sizeof(q),
			 "/ingest?name=%s.cpu%%7Bhost%%3D%s%%2Cservice%%3D%s%%2Cpid%%3D%s%s%s%%7D"
			 "&from=%lld&until=%lld&format=pprof&sampleRate=%.0f&spyName=pyrograph",
			 procs[k].service, a->host, procs[k].service, procs[k].pid,
			 procs[k].container[0] ? "%2Ccontainer%3D" : "",
			 procs[k].container, until - (long long)(seconds + 0.5), until, hz);
		it->query = strdup(q);
		if (!it->query) {
			item_free(it);
			continue;
		}
		a->cut++;
		enqueue(a, it);
	}
	for (int k = 0; k < np; k++)
		stackagg__free(procs[k].agg);
	free(procs);
	if (!a->quiet)
		pr_info("cut %d profile%s; sent %llu, queued %zu (%zu KiB), dropped %llu",
			np, np == 1 ? "" : "s", a->sent, a->nqueued,
			a->queued_bytes / 1024, a->dropped);
	flush(a);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pyrograph agent --server URL [OPTIONS] [record's target options]\n"
		"\n"
		"Profiles every Python process on the host (or the selected ones) without\n"
		"end and, every period, sends one pprof profile per process to a\n"
		"Pyroscope-compatible server: POST URL/ingest?name=SERVICE.cpu{host=H,\n"
		"service=SERVICE,pid=P,container=C}&from=&until=&format=pprof. SERVICE is\n"
		"derived from the command line (python app.py -> app, python -m celery ->\n"
		"celery, else the program). Failed uploads are retried with exponential\n"
		"backoff (1 s to 60 s); the queue is bounded, oldest profiles dropped first.\n"
		"\n"
		"Options:\n"
		"  -S, --server URL      ingest endpoint base, http:// only (required)\n"
		"  -P, --period SEC      seconds per profile (default 60)\n"
		"      --spool DIR       keep queued profiles in DIR (survive restarts)\n"
		"      --queue-max SIZE  queue bound, in memory or in DIR: 64M (default),\n"
		"                        512K...; the oldest profiles are dropped first\n"
		"  -q, --quiet           no per-period status lines\n"
		"  -h, --help            this help\n"
		"Target and sampling options of `pyrograph record` apply (default -a;\n"
		"-r, --container, --cgroup, -p ...).\n"
		"\n"
		"Examples:\n"
		"  pyrograph agent --server http://pyroscope:4040\n"
		"  pyrograph agent --server http://127.0.0.1:4040 --period 10 --spool /var/spool/pyrograph\n"
		"  systemctl enable --now pyrograph-agent   (scripts/pyrograph-agent.service)\n");
}

int cmd_agent(int argc, char **argv)
{
	struct agent a = { .period = 60, .queue_max = 64 << 20 };
	struct live_view v = {
		.ctx = &a,
		.refresh = agent_refresh,
		.input = agent_input,
		.group_container = true,
		.refresh_on_exit = true,
	};
	char **rargv = calloc(argc + 2, sizeof(*rargv));
	const char *server = NULL, *why;
	int rargc = 0, ret;

	if (!rargv)
		return 1;
	rargv[rargc++] = argv[0];
	/* agent's own options; everything else goes to record's parser */
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
			usage(stdout);
			free(rargv);
			return 0;
		} else if (!strcmp(o, "-S") || !strcmp(o, "--server")) {
			server = val;
			i++;
		} else if (!strcmp(o, "-P") || !strcmp(o, "--period")) {
			if (!val || atoi(val) < 1 || atoi(val) > 86400) {
				pr_err("--period: 1..86400 seconds");
				free(rargv);
				return 1;
			}
			a.period = atoi(val);
			i++;
		} else if (!strcmp(o, "--spool")) {
			a.spool_dir = val;
			i++;
		} else if (!strcmp(o, "--queue-max")) {
			char *end;
			unsigned long long q = val ? strtoull(val, &end, 10) : 0;

			if (q && (*end == 'k' || *end == 'K'))
				q <<= 10, end++;
			else if (q && (*end == 'm' || *end == 'M' || !*end))
				q <<= 20, end += !!*end;
			if (!q || *end || q > (64ULL << 30)) {
				pr_err("--queue-max: a size such as 64M or 512K");
				free(rargv);
				return 1;
			}
			a.queue_max = q;
			i++;
		} else {
			if (!strcmp(o, "-q") || !strcmp(o, "--quiet"))
				a.quiet = true;
			rargv[rargc++] = argv[i];
		}
	}
	if (!server) {
		usage(stderr);
		free(rargv);
		return 1;
	}
	if (http_url_parse(server, &a.url, &why)) {
		pr_err("--server %s: %s", server, why);
		free(rargv);
		return 1;
	}
	if (a.spool_dir) {
		if (mkdir(a.spool_dir, 0700) && errno != EEXIST) {
			pr_err("--spool %s: %s", a.spool_dir, strerror(errno));
			free(rargv);
			return 1;
		}
		load_spool(&a);
	}
	if (gethostname(a.host, sizeof(a.host)))
		snprintf(a.host, sizeof(a.host), "localhost");
	label_value(a.host, sizeof(a.host), a.host, strlen(a.host));
	v.interval_ms = a.period * 1000;
	if (!a.quiet)
		pr_info("agent: sending to %s every %u s", server, a.period);
	ret = record_main(rargc, rargv, &v);
	flush(&a);
	if (!a.quiet)
		pr_info("agent: sent %llu profiles, %llu rejected, %llu dropped, %zu left queued (%zu bytes)%s",
			a.sent, a.failed, a.dropped, a.nqueued, a.queued_bytes,
			a.spool_dir && a.nqueued ? " (spooled)" : "");
	/* spooled items stay on disk for the next run */
	while (a.head) {
		struct item *it = a.head;

		a.head = it->next;
		free(it->spool);
		it->spool = NULL;
		item_free(it);
	}
	free(rargv);
	return ret;
}

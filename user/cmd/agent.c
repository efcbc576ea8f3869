// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph agent: record host-wide without end and, every period, send
 * each process's profile as pprof to a Pyroscope-compatible ingest
 * endpoint (POST /ingest?name=SERVICE.cpu{labels}&from=&until=&format=pprof).
 * Uploads that fail are retried with exponential backoff; the queue is
 * bounded in memory (oldest dropped, counted) or, with --spool, kept on
 * disk (bounded too) so profiles survive a backend outage and a restart.
 *
 * With --metrics-listen it also (or only) serves /metrics for Prometheus:
 * the session then runs the asyncio and memory features (event-loop timing,
 * stalls, blocking calls, await latency, collections) and this sink feeds
 * them to report/metrics.c; the HTTP side is polled from the session's
 * loop (net/httpd.c).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/options.h"
#include "core/profiler.h"
#include "model/stacks.h"
#include "net/http.h"
#include "net/httpd.h"
#include "output/output.h"
#include "output/pprof.h"
#include "report/metrics.h"
#include "sys/clock.h"
#include "sys/container.h"
#include "sys/log.h"
#include "sys/procfs.h"

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
	struct http_client *http;
	unsigned int period;
	const char *spool_dir;
	size_t queue_max; /* bytes, in memory or on disk */
	bool quiet;
	char host[256];
	struct item *head, *tail;
	size_t queued_bytes, nqueued;
	unsigned long long sent, failed, dropped, cut;
	unsigned long long unencoded; /* profiles that could not be encoded */
	long long next_try_ms;
	unsigned int backoff_ms;
	unsigned long long spool_seq;
	bool uploading; /* --server given */
	/* failed tries by reason; the last cause said, to say each once */
	unsigned long long failures[HTTP_FAIL_N];
	int said_fail, said_status; /* -1: none since the last success */
	/*
	 * The uploader thread sends the queue: a POST can take its whole
	 * timeout when the backend hangs, and the recording loop must keep
	 * draining the ring buffers and answering /metrics meanwhile. The lock
	 * guards the queue, the backoff and the upload counters; the item
	 * being sent is out of the queue (so dropping the oldest cannot free
	 * it) but still counted in queued_bytes and nqueued.
	 */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool thread_tried, thread_started, stop;
	/* --metrics-listen */
	struct metrics *metrics;
	struct httpd *httpd;
	long clk_tck;
	/* the session and this period's profile (--server) */
	struct session_opts so;
	struct frame_table *ft;
	struct profile prof;
	unsigned long long period_start_ns;
	double hz;
	unsigned int sites;
	bool listen_wall; /* --idle or --gil asked for */
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

/* Takes the oldest item out of the list; its bytes still count. */
static struct item *queue_unlink_head(struct agent *a)
{
	struct item *it = a->head;

	if (it) {
		a->head = it->next;
		if (!a->head)
			a->tail = NULL;
	}
	return it;
}

/* An unlinked item is done with (sent, refused or dropped). */
static void queue_forget(struct agent *a, struct item *it)
{
	a->queued_bytes -= it->len;
	a->nqueued--;
	item_free(it);
}

static void drop_oldest(struct agent *a)
{
	struct item *it = queue_unlink_head(a);

	if (!it)
		return;
	a->dropped++;
	queue_forget(a, it);
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
	while (a->queued_bytes + it->len > a->queue_max && a->head)
		drop_oldest(a);
	if (a->queued_bytes + it->len > a->queue_max) {
		/* the profile being sent fills the budget by itself */
		a->dropped++;
		item_free(it);
		return;
	}
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

/*
 * Sends the queue's head. Called with the lock held, which is let go for
 * the POST (up to 5 s). Returns false when the upload failed and the
 * agent backs off.
 */
static bool send_head(struct agent *a)
{
	struct item *it = queue_unlink_head(a);
	unsigned char *b = NULL;
	struct http_result r;
	bool final;
	int err;

	pthread_mutex_unlock(&a->lock);
	err = item_body(it, &b);
	if (!err) {
		err = http_post(a->http, it->query, "application/octet-stream", b,
				it->len, 5000, &r) ? -EIO : 0;
		if (b != it->body)
			free(b);
	} else {
		/* the spool file is gone or unreadable */
		r.fail = HTTP_FAIL_N;
	}
	pthread_mutex_lock(&a->lock);
	if (err && r.fail == HTTP_FAIL_N) {
		a->dropped++;
		queue_forget(a, it);
		return true;
	}
	if (!err) {
		a->sent++;
		a->backoff_ms = 0;
		if (a->said_fail >= 0)
			pr_info("upload: sending again");
		a->said_fail = a->said_status = -1;
		queue_forget(a, it);
		return true;
	}
	a->failures[r.fail]++;
	/* the backend refuses this one: retrying cannot help. Credentials,
	 * rate limits and the server's own failures can mend: retried. */
	final = r.fail == HTTP_FAIL_413 || r.fail == HTTP_FAIL_4XX;
	if (final) {
		a->failed++;
		a->backoff_ms = 0;
	} else {
		a->backoff_ms = a->backoff_ms ? a->backoff_ms * 2 : 1000;
		if (a->backoff_ms > BACKOFF_MAX_MS)
			a->backoff_ms = BACKOFF_MAX_MS;
		a->next_try_ms = now_ms() + a->backoff_ms;
	}
	/* once per cause, not per try: an outage is one line */
	if ((int)r.fail != a->said_fail || r.status != a->said_status) {
		if (final)
			pr_warn("upload rejected: %s; profile dropped (%s); the same again is counted, not repeated here",
				r.cause, it->query);
		else
			pr_warn("upload failed: %s; %zu profile%s queued, retrying with backoff (up to %d s); said again when the cause changes",
				r.cause, a->nqueued, a->nqueued == 1 ? "" : "s",
				BACKOFF_MAX_MS / 1000);
		a->said_fail = (int)r.fail;
		a->said_status = r.status;
	}
	if (final) {
		queue_forget(a, it);
		return true;
	}
	/* first again, for the next try */
	it->next = a->head;
	a->head = it;
	if (!a->tail)
		a->tail = it;
	return false;
}

static void *uploader(void *arg)
{
	struct agent *a = arg;

	pthread_mutex_lock(&a->lock);
	while (!a->stop) {
		long long wait = a->head ? a->next_try_ms - now_ms() : 1000;
		struct timespec ts;

		if (wait <= 0) {
			send_head(a);
			continue;
		}
		if (wait > 1000)
			wait = 1000;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += wait / 1000;
		ts.tv_nsec += (wait % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&a->wake, &a->lock, &ts);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/* Started from the loop, after setup dropped the capabilities (a thread
 * started before would keep them); signals stay with the main thread. */
static void uploader_start(struct agent *a)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&a->thread, NULL, uploader, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!err)
		pthread_setname_np(a->thread, "pyrograph-send");
	if (err)
		pr_warn("cannot start the uploader thread: %s; profiles are sent at exit",
			strerror(err));
	a->thread_started = !err;
}

/* At exit: stop the thread, then send what is due from here. */
static void uploader_finish(struct agent *a)
{
	if (a->thread_started) {
		pthread_mutex_lock(&a->lock);
		a->stop = true;
		pthread_cond_signal(&a->wake);
		pthread_mutex_unlock(&a->lock);
		pthread_join(a->thread, NULL);
		a->thread_started = false;
	}
	pthread_mutex_lock(&a->lock);
	while (a->head && now_ms() >= a->next_try_ms && send_head(a))
		;
	pthread_mutex_unlock(&a->lock);
}

static int m_serve(void *ctx, const char *path, FILE *f, const char **ctype);

static int a_poll(void *ctx)
{
	struct agent *a = ctx;

	if (a->uploading && !a->thread_tried) {
		a->thread_tried = true;
		uploader_start(a);
	}
	if (a->httpd)
		httpd_poll(a->httpd, m_serve, a);
	return 0;
}

/* A process's labels from its root frames: [container;] cmd (pid). */
static void proc_labels(struct agent *a, const frame_id *f, uint32_t nroot,
			char *service, size_t slen, char *container, size_t clen,
			char *pid, size_t plen)
{
	snprintf(service, slen, "python");
	container[0] = '\0';
	snprintf(pid, plen, "0");
	for (uint32_t i = 0; i < nroot; i++) {
		const struct frame *fr = frames_get(a->ft, f[i]);
		const char *name = frame_name(a->ft, f[i]);

		if (fr->kind == FRAME_CONTAINER) {
			size_t skip = !strncmp(name, "container ", 10) ? 10 : 7;

			label_value(container, clen, name + skip, strlen(name) - skip);
		} else if (fr->kind == FRAME_PROCESS) {
			service_name(name, strlen(name), service, slen);
			snprintf(pid, plen, "%d", fr->pid);
		}
	}
}

/* One process's profile as a queued upload. */
static void queue_profile(struct agent *a, struct profile *p, const frame_id *root,
			  uint32_t nroot, long long until, double seconds)
{
	char service[64], container[64], pid[16], q[1024];
	struct profile_data d = {
		.prof = p,
		.hz = a->hz,
		.start_ns = (unsigned long long)(until - seconds) * 1000000000ULL,
		.duration_ns = (unsigned long long)(seconds * 1e9),
		.timed = a->so.offcpu || a->so.gil,
		.title = "pyrograph agent",
	};
	struct item *it = calloc(1, sizeof(*it));

	if (!it || pprof_encode(&d, &it->body, &it->len)) {
		free(it);
		a->unencoded++;
		return;
	}
	proc_labels(a, root, nroot, service, sizeof(service), container,
		    sizeof(container), pid, sizeof(pid));
	/* name=SERVICE.cpu{host=,container=,pid=}: braces, commas and '='
	 * percent-encoded */
	snprintf(q, sizeof(q),
		 "/ingest?name=%s.cpu%%7Bhost%%3D%s%%2Cservice%%3D%s%%2Cpid%%3D%s%s%s%%7D"
		 "&from=%lld&until=%lld&format=pprof&sampleRate=%.0f&spyName=pyrograph",
		 service, a->host, service, pid, container[0] ? "%2Ccontainer%3D" : "",
		 container, until - (long long)(seconds + 0.5), until, a->hz);
	it->query = strdup(q);
	if (!it->query) {
		item_free(it);
		return;
	}
	a->cut++;
	pthread_mutex_lock(&a->lock);
	enqueue(a, it);
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
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
		pthread_mutex_lock(&a->lock);
		pr_info("cut %d profile%s; sent %llu, queued %zu (%zu KiB), dropped %llu",
			np, np == 1 ? "" : "s", a->sent, a->nqueued,
			a->queued_bytes / 1024, a->dropped);
		pthread_mutex_unlock(&a->lock);
	}
}

/* --- metrics: what the recording loop hands over --------------------- */

static void a_found(void *ctx, const struct session_target *t)
{
	struct agent *a = ctx;
	char cmd[512], service[64], cbuf[80] = "";
	ssize_t n;

	if (!a->metrics)
		return;
	n = procfs_read(t->pid, "cmdline", cmd, sizeof(cmd));
	for (ssize_t i = 0; i < n; i++)
		if (!cmd[i])
			cmd[i] = ' ';
	service_name(cmd, n > 0 ? (size_t)n : 0, service, sizeof(service));
	/* the container's short id, as docker ps shows it */
	if (t->ci->id[0])
		snprintf(cbuf, sizeof(cbuf), "%.12s", t->ci->id);
	metrics__proc(a->metrics, t->pid, service, cbuf);
	metrics__proc_gc(a->metrics, t->pid,
			 t->mem_probes > 0 && (t->mem_probes & PROFILER_MEM_GC));
}

static int a_sample(void *ctx, const struct session_sample *s)
{
	struct agent *a = ctx;
	bool wall = a->so.offcpu || a->so.gil;
	unsigned long long us = (s->ns + 500) / 1000;

	/* off the CPU inside an iteration: the leaf is why ("[sleep]") */
	if (a->metrics && !s->oncpu && s->in_loop && s->n)
		metrics__blocking(a->metrics, s->pid, s->tid,
				  frame_text(a->ft, s->frames[s->n - 1]), s->ns);
	if (!a->uploading)
		return 0;
	if (!s->oncpu)
		return wall && us ? profile_add(&a->prof, s->frames, s->n, us, 1) : 0;
	return profile_add(&a->prof, s->frames, s->n, wall ? us : 1, 1);
}

static void a_stall(void *ctx, const struct stall_event *e)
{
	struct agent *a = ctx;

	if (a->metrics)
		metrics__stall(a->metrics, e->pid, e->tid, e->ns);
}

/*
 * The site is the innermost coroutine frame that is not asyncio's own
 * (asyncio.sleep, wait_for, Queue.get...): the application's await. A
 * chain made only of asyncio frames keeps its innermost.
 */
static void a_resume(void *ctx, const struct session_resume *r)
{
	struct agent *a = ctx;
	frame_id site;

	if (!a->metrics || !r->n)
		return;
	site = r->chain[r->n - 1];
	for (uint32_t i = r->n; i-- > 0;) {
		const char *file = frame_file(a->ft, r->chain[i]);

		if (!file || !strstr(file, "/asyncio/")) {
			site = r->chain[i];
			break;
		}
	}
	metrics__await(a->metrics, r->pid, frame_text(a->ft, site), r->ns);
}

static int a_loop(void *ctx, __u32 tid, const struct loop_state *ls)
{
	struct agent *a = ctx;

	if (a->metrics)
		metrics__loop(a->metrics, (pid_t)tid, ls);
	return 0;
}

static void a_mem(void *ctx, const struct session_mem_event *m)
{
	struct agent *a = ctx;

	if (a->metrics && m->type == EV_GC && m->value >= 0)
		metrics__gc(a->metrics, m->pid, (int)m->aux0, (unsigned long long)m->value);
}

static bool thread_alive(void *ctx, pid_t pid, pid_t tid)
{
	char path[64];

	(void)ctx;
	snprintf(path, sizeof(path), "/proc/%d/task/%d", pid, tid);
	return !access(path, F_OK);
}

/* RSS and CPU of one process; a process gone without an exit event (lost
 * in a full ring buffer) is forgotten here, and its loop threads that
 * exited. */
static void m_usage(void *ctx, pid_t pid)
{
	struct agent *a = ctx;
	struct proc_stat st;
	long long rss = -1;
	struct timespec ts;

	if (procfs_stat(pid, &st) || st.state == 'Z' || st.state == 'X' ||
	    (rss = procfs_rss_bytes(pid)) < 0) {
		metrics__forget(a->metrics, pid);
		return;
	}
	metrics__prune(a->metrics, pid, thread_alive, NULL);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	metrics__usage(a->metrics, pid, rss, (double)st.cpu_ticks / a->clk_tck,
		       ts.tv_sec * 1000000000ULL + ts.tv_nsec);
}

static int m_tick(struct agent *a, const struct session_health *h)
{
	struct metrics_health mh = {
		.rec = *h,
		.uploading = a->uploading,
		.unencoded = a->unencoded,
	};
	struct rusage ru;

	pthread_mutex_lock(&a->lock);
	mh.sent = a->sent;
	mh.rejected = a->failed;
	mh.dropped = a->dropped;
	mh.queued_bytes = a->queued_bytes;
	memcpy(mh.upload_failures, a->failures, sizeof(mh.upload_failures));
	pthread_mutex_unlock(&a->lock);

	if (!getrusage(RUSAGE_SELF, &ru))
		mh.cpu_seconds = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
				 (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	metrics__each_proc(a->metrics, m_usage, a);
	metrics__health(a->metrics, &mh);
	return 0;
}

static void a_gone(void *ctx, pid_t pid)
{
	struct agent *a = ctx;

	if (a->metrics)
		metrics__forget(a->metrics, pid);
}

/* Every second: the metrics' figures, and the period's profiles when due. */
static int a_tick(void *ctx, const struct session_health *h)
{
	struct agent *a = ctx;

	a->hz = h->hz;
	if (a->uploading && clock_mono_ns() - a->period_start_ns >=
				    a->period * 1000000000ULL)
		agent_cut(a);
	return a->metrics ? m_tick(a, h) : 0;
}

/* The end: what was recorded since the last cut goes too. */
static void a_done(void *ctx, const struct session_health *h)
{
	struct agent *a = ctx;

	a->hz = h->hz;
	if (a->uploading)
		agent_cut(a);
}

static int m_serve(void *ctx, const char *path, FILE *f, const char **ctype)
{
	struct agent *a = ctx;

	if (!strcmp(path, "/metrics")) {
		*ctype = "text/plain; version=0.0.4; charset=utf-8";
		return metrics__write(a->metrics, f) ? 500 : 200;
	}
	if (!strcmp(path, "/")) {
		fprintf(f, "pyrograph agent: Prometheus metrics at /metrics\n");
		return 200;
	}
	return 404;
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
		"service=SERVICE,pid=P,container=C}&from=&until=&format=pprof. SERVICE is\n"
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
		"metrics at http://ADDR/metrics, labelled host, container, service, pid:\n"
		"  pyrograph_asyncio_loop_lag_seconds           histogram per event loop (tid)\n"
		"  pyrograph_asyncio_stalls_total, _stalled_seconds_total   per event loop\n"
		"  pyrograph_asyncio_blocking_seconds_total     off-CPU in iterations, by kind\n"
		"  pyrograph_asyncio_await_latency_seconds      histogram per await site\n"
		"                                               (busiest N, rest site=\"other\")\n"
		"  pyrograph_python_gc_pause_seconds            histogram per generation (USDT)\n"
		"  pyrograph_process_resident_memory_bytes, _growth_bytes_per_second,\n"
		"  pyrograph_process_cpu_seconds_total          per process\n"
		"  pyrograph_agent_*                            samples, drops by reason, CPU,\n"
		"                                               targets, uploads, upload\n"
		"                                               failures by reason, series\n"
		"Histogram buckets are the kernel's log2 buckets (le = 2, 4, 8 ... us). A\n"
		"process's series go away when it exits. Event-loop timing runs on every\n"
		"syscall host-wide and task-await probes trap into the kernel once per task\n"
		"step (see `pyrograph async --help` for the measured cost; --no-await skips\n"
		"the await probes).\n"
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
		"      --await-sites N   await sites per process with their own series\n"
		"                        (default 10, at most 256)\n"
		"      --no-await        no await-latency histograms (no task-step probes)\n"
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
	a->clk_tck = sysconf(_SC_CLK_TCK);
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
	if (a->spool_dir && server) {
		if (mkdir(a->spool_dir, 0700) && errno != EEXIST) {
			pr_err("--spool %s: %s", a->spool_dir, strerror(errno));
			return -EINVAL;
		}
		load_spool(a);
	}
	if (gethostname(a->host, sizeof(a->host)))
		snprintf(a->host, sizeof(a->host), "localhost");
	label_value(a->host, sizeof(a->host), a->host, strlen(a->host));
	return listen ? metrics_setup(a, listen) : 0;
}

static int agent_run(struct agent *a)
{
	struct session_sink sink = {
		.ctx = a, .found = a_found, .gone = a_gone, .sample = a_sample,
		.stall = a_stall, .resume = a_resume, .mem = a_mem, .loop = a_loop,
		.tick = a_tick, .poll = a_poll, .done = a_done,
	};
	struct session *s;
	int ret = session_open(&s, &a->so);

	if (ret)
		return ret;
	a->ft = session_frames(s);
	profile_init(&a->prof, a->ft);
	a->period_start_ns = clock_mono_ns();
	ret = session_add_sink(s, &sink);
	if (!ret)
		ret = session_run(s);
	profile_free(&a->prof);
	session_close(s);
	return ret;
}

int cmd_agent(int argc, char **argv)
{
	struct agent a = { .period = 60, .queue_max = 64 << 20, .sites = 10,
			   .said_fail = -1, .said_status = -1 };
	struct agent_args x = { .a = &a };
	pthread_condattr_t cattr;
	enum opts_result res;
	int ret = 1;

	pthread_mutex_init(&a.lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&a.wake, &cattr);
	pthread_condattr_destroy(&cattr);
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
	if (x.server) {
		uploader_finish(&a);
		if (!a.quiet)
			pr_info("agent: sent %llu profiles, %llu rejected, %llu dropped, %zu left queued (%zu bytes)%s",
				a.sent, a.failed, a.dropped, a.nqueued, a.queued_bytes,
				a.spool_dir && a.nqueued ? " (spooled)" : "");
	}
out:
	/* spooled items stay on disk for the next run */
	while (a.head) {
		struct item *it = a.head;

		a.head = it->next;
		free(it->spool);
		it->spool = NULL;
		item_free(it);
	}
	httpd_free(a.httpd);
	http_client_free(a.http);
	metrics__free(a.metrics);
	pthread_cond_destroy(&a.wake);
	pthread_mutex_destroy(&a.lock);
	return ret;
}

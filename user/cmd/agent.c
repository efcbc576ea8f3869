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
 * the recording loop then runs async's and mem's hooks (event-loop timing,
 * stalls, blocking calls, await latency, collections) and feeds them to
 * user/metrics.c; the HTTP side is polled from the loop (user/httpd.c).
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
#include "sys/container.h"
#include "model/folded.h"
#include "model/frames.h"
#include "net/http.h"
#include "net/httpd.h"
#include "sys/log.h"
#include "report/metrics.h"
#include "sys/procfs.h"
#include "core/profiler.h"
#include "output/output.h"
#include "output/pprof.h"
#include "core/record.h"
#include "model/stackagg.h"

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
	unsigned long long unencoded; /* profiles that could not be encoded */
	long long next_try_ms;
	unsigned int backoff_ms;
	unsigned long long spool_seq;
	bool uploading; /* --server given */
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
	struct async_hooks ah;
	struct mem_hooks mh;
	long clk_tck;
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
	int st = -EIO, err;

	pthread_mutex_unlock(&a->lock);
	err = item_body(it, &b);
	if (!err) {
		st = http_post(&a->url, it->query, "application/octet-stream", b,
			       it->len, 5000);
		if (b != it->body)
			free(b);
	}
	pthread_mutex_lock(&a->lock);
	if (err) {
		/* the spool file is gone or unreadable */
		a->dropped++;
	} else if (st >= 200 && st < 300) {
		a->sent++;
		a->backoff_ms = 0;
	} else if (st >= 400 && st < 500 && st != 408 && st != 429) {
		/* the backend refuses this one: retrying cannot help */
		a->failed++;
		a->backoff_ms = 0;
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
		/* first again, for the next try */
		it->next = a->head;
		a->head = it;
		if (!a->tail)
			a->tail = it;
		return false;
	}
	queue_forget(a, it);
	return true;
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

static int agent_input(void *ctx)
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

/* One process's stacks of the period and what its upload is labelled with. */
struct agent_proc {
	frame_id container, process; /* its root frames: the key */
	struct profile prof;
	bool failed; /* out of memory: not sent */
	char service[64], container_label[64], pid[16];
};

/*
 * The process a stack belongs to: its leading frames [container;] process.
 * Returns its index in procs (added if new), -1 for a stack of no process
 * or when MAX_PROCS are taken.
 */
static int agent_proc_of(struct agent_proc *procs, int *np, struct frame_table *ft,
			 const frame_id *f, uint32_t n)
{
	frame_id container = FRAME_NONE, process = FRAME_NONE;
	int k;

	for (uint32_t depth = 0; depth < 2 && depth < n; depth++) {
		enum frame_kind kind = frames_get(ft, f[depth])->kind;

		if (kind == FRAME_CONTAINER) {
			container = f[depth];
		} else if (kind == FRAME_PROCESS) {
			process = f[depth];
			break;
		}
	}
	if (process == FRAME_NONE)
		return -1;
	for (k = 0; k < *np; k++)
		if (procs[k].process == process && procs[k].container == container)
			return k;
	if (*np == MAX_PROCS)
		return -1;
	procs[k].container = container;
	procs[k].process = process;
	profile_init(&procs[k].prof, ft);
	service_name(frame_name(ft, process), strlen(frame_name(ft, process)),
		     procs[k].service, sizeof(procs[k].service));
	snprintf(procs[k].pid, sizeof(procs[k].pid), "%d", frames_get(ft, process)->pid);
	if (container != FRAME_NONE) {
		/* "container ID" or "cgroup PATH": the label is what follows */
		const char *c = frame_name(ft, container);
		size_t skip = !strncmp(c, "container ", 10) ? 10 : !strncmp(c, "cgroup ", 7) ? 7 : 0;

		label_value(procs[k].container_label, sizeof(procs[k].container_label), c + skip,
			    strlen(c + skip));
	}
	(*np)++;
	return k;
}

/* Cuts this period's stacks into one pprof per process and queues them. */
static int agent_refresh(void *ctx, const struct stack_count *stacks, size_t n,
			 double hz, double seconds, unsigned int nprocs)
{
	struct agent *a = ctx;
	struct agent_proc *procs = calloc(MAX_PROCS, sizeof(*procs));
	struct frame_table ft;
	struct folded_buf fb = { 0 };
	int np = 0;
	struct timespec ts;
	long long until;

	(void)nprocs;
	if (!procs)
		return 0;
	frames_init(&ft);
	clock_gettime(CLOCK_REALTIME, &ts);
	until = ts.tv_sec;
	for (size_t i = 0; i < n; i++) {
		long nf = folded_frames(&ft, stacks[i].stack, strlen(stacks[i].stack), &fb);
		int k = nf > 0 ? agent_proc_of(procs, &np, &ft, fb.f, (uint32_t)nf) : -1;

		if (k >= 0 && profile_add(&procs[k].prof, fb.f, (uint32_t)nf, stacks[i].count, 1))
			procs[k].failed = true;
	}
	for (int k = 0; k < np; k++) {
		struct profile_data d = {
			.prof = &procs[k].prof,
			.hz = hz,
			.start_ns = (unsigned long long)(until - seconds) * 1000000000ULL,
			.duration_ns = (unsigned long long)(seconds * 1e9),
			.title = "pyrograph agent",
		};
		struct item *it = calloc(1, sizeof(*it));
		char q[1024];

		if (!it || procs[k].failed ||
		    pprof_encode(&d, &it->body, &it->len)) {
			free(it);
			a->unencoded++;
			continue;
		}
		/* name=SERVICE.cpu{host=,container=,pid=}: braces, commas and
		 * '=' percent-encoded */
		snprintf(q, sizeof(q),
			 "/ingest?name=%s.cpu%%7Bhost%%3D%s%%2Cservice%%3D%s%%2Cpid%%3D%s%s%s%%7D"
			 "&from=%lld&until=%lld&format=pprof&sampleRate=%.0f&spyName=pyrograph",
			 procs[k].service, a->host, procs[k].service, procs[k].pid,
			 procs[k].container_label[0] ? "%2Ccontainer%3D" : "",
			 procs[k].container_label, until - (long long)(seconds + 0.5), until, hz);
		it->query = strdup(q);
		if (!it->query) {
			item_free(it);
			continue;
		}
		a->cut++;
		pthread_mutex_lock(&a->lock);
		enqueue(a, it);
		pthread_cond_signal(&a->wake);
		pthread_mutex_unlock(&a->lock);
	}
	for (int k = 0; k < np; k++)
		profile_free(&procs[k].prof);
	free(procs);
	folded_buf_free(&fb);
	frames_free(&ft);
	if (!a->quiet) {
		pthread_mutex_lock(&a->lock);
		pr_info("cut %d profile%s; sent %llu, queued %zu (%zu KiB), dropped %llu",
			np, np == 1 ? "" : "s", a->sent, a->nqueued,
			a->queued_bytes / 1024, a->dropped);
		pthread_mutex_unlock(&a->lock);
	}
	return 0;
}

/* --- metrics: what the recording loop hands over --------------------- */

static void m_proc(void *ctx, pid_t pid, const char *label)
{
	struct agent *a = ctx;
	char cmd[512], service[64], cbuf[80] = "";
	struct container_info ci;
	ssize_t n = procfs_read(pid, "cmdline", cmd, sizeof(cmd));

	(void)label;
	for (ssize_t i = 0; i < n; i++)
		if (!cmd[i])
			cmd[i] = ' ';
	service_name(cmd, n > 0 ? (size_t)n : 0, service, sizeof(service));
	/* the container's short id, as docker ps shows it */
	if (!container_read(pid, &ci) && ci.id[0])
		snprintf(cbuf, sizeof(cbuf), "%.12s", ci.id);
	metrics__proc(a->metrics, pid, service, cbuf);
}

static void m_stack(void *ctx, pid_t pid, pid_t tid, const char *stack, bool oncpu,
		    unsigned long long start, unsigned long long ns)
{
	struct agent *a = ctx;
	const char *leaf = strrchr(stack, ';');

	(void)start;
	/* off the CPU inside an iteration: the leaf is why ("[sleep]") */
	if (!oncpu)
		metrics__blocking(a->metrics, pid, tid, leaf ? leaf + 1 : stack, ns);
}

static void m_stall(void *ctx, const struct stall_event *e)
{
	struct agent *a = ctx;

	metrics__stall(a->metrics, e->pid, e->tid, e->ns);
}

static void m_resume(void *ctx, pid_t pid, pid_t tid, unsigned long long coro,
		     const char *chain, unsigned long long at, unsigned long long ns)
{
	struct agent *a = ctx;
	const char *end = chain + strlen(chain), *innermost = NULL;
	char buf[512];

	(void)tid, (void)coro, (void)at;
	/*
	 * The site is the innermost coroutine frame that is not asyncio's own
	 * (asyncio.sleep, wait_for, Queue.get...): the application's await.
	 * A chain made only of asyncio frames keeps its innermost.
	 */
	for (;;) {
		const char *semi = memrchr(chain, ';', (size_t)(end - chain));
		const char *site = semi ? semi + 1 : chain;

		if (!innermost)
			innermost = site;
		if (!memmem(site, (size_t)(end - site), "/asyncio/", 9)) {
			snprintf(buf, sizeof(buf), "%.*s", (int)(end - site), site);
			metrics__await(a->metrics, pid, buf, ns);
			return;
		}
		if (!semi)
			break;
		end = semi;
	}
	metrics__await(a->metrics, pid, innermost, ns);
}

static int m_loop(void *ctx, __u32 tid, const struct loop_state *ls)
{
	struct agent *a = ctx;

	metrics__loop(a->metrics, (pid_t)tid, ls);
	return 0;
}

static void m_mem_proc(void *ctx, pid_t pid, const char *label, const char *version,
		       int probes)
{
	struct agent *a = ctx;

	(void)label, (void)version;
	metrics__proc_gc(a->metrics, pid, probes > 0 && (probes & PROFILER_MEM_GC));
}

static void m_mem_event(void *ctx, pid_t pid, __u32 type, const char *stack, long long value,
			long long aux0, long long aux1, unsigned long long ktime)
{
	struct agent *a = ctx;

	(void)stack, (void)aux1, (void)ktime;
	if (type == EV_GC && value >= 0)
		metrics__gc(a->metrics, pid, (int)aux0, (unsigned long long)value);
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

static int m_tick(void *ctx, const struct record_health *h)
{
	struct agent *a = ctx;
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
	pthread_mutex_unlock(&a->lock);

	if (!getrusage(RUSAGE_SELF, &ru))
		mh.cpu_seconds = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
				 (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	metrics__each_proc(a->metrics, m_usage, a);
	metrics__health(a->metrics, &mh);
	return 0;
}

static void m_gone(void *ctx, pid_t pid)
{
	struct agent *a = ctx;

	if (a->metrics)
		metrics__forget(a->metrics, pid);
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
		"                                               targets, uploads, series\n"
		"Histogram buckets are the kernel's log2 buckets (le = 2, 4, 8 ... us). A\n"
		"process's series go away when it exits. Event-loop timing runs on every\n"
		"syscall host-wide and task-await probes trap into the kernel once per task\n"
		"step (see `pyrograph async --help` for the measured cost; --no-await skips\n"
		"the await probes).\n"
		"\n"
		"Options:\n"
		"  -S, --server URL      ingest endpoint base, http:// only\n"
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
		"  pyrograph agent --server http://127.0.0.1:4040 --period 10 --spool /var/spool/pyrograph\n"
		"  pyrograph agent --metrics-listen 9464        (scrape 127.0.0.1:9464/metrics)\n"
		"  systemctl enable --now pyrograph-agent   (scripts/pyrograph-agent.service)\n");
}

static int metrics_setup(struct agent *a, const char *listen, unsigned long long stall_ns,
			 unsigned int sites, bool no_await, struct live_view *v)
{
	const char *why;
	int err = httpd_listen(listen, &a->httpd, &why);

	if (err) {
		pr_err("--metrics-listen %s: %s", listen, why);
		return err;
	}
	a->metrics = metrics__new(a->host, sites);
	if (!a->metrics)
		return -ENOMEM;
	a->clk_tck = sysconf(_SC_CLK_TCK);
	a->ah = (struct async_hooks){
		.ctx = a,
		.stall_ns = stall_ns,
		.no_steps = no_await,
		/* read every tick; without end, dead threads must go */
		.reap_loops = true,
		/* the profiles to upload are every thread's samples */
		.sample_all = a->uploading,
		.proc = m_proc,
		.stack = m_stack,
		.stall = m_stall,
		.resume = m_resume,
		.loop = m_loop,
	};
	a->mh = (struct mem_hooks){
		.ctx = a,
		.gc_only = true,
		.proc = m_mem_proc,
		.event = m_mem_event,
	};
	v->async = &a->ah;
	v->mem = &a->mh;
	v->tick = m_tick;
	v->gone = m_gone;
	if (!httpd_loopback(a->httpd))
		pr_warn("serving metrics on %s, beyond this host, without authentication",
			httpd_address(a->httpd));
	pr_info("agent: metrics at http://%s/metrics", httpd_address(a->httpd));
	return 0;
}

int cmd_agent(int argc, char **argv)
{
	struct agent a = { .period = 60, .queue_max = 64 << 20 };
	struct live_view v = {
		.ctx = &a,
		.input = agent_input,
		.group_container = true,
		.refresh_on_exit = true,
	};
	char **rargv = calloc(argc + 3, sizeof(*rargv));
	const char *server = NULL, *listen = NULL, *why, *wall = NULL;
	unsigned long long stall_ns = 100000000ULL;
	unsigned int sites = 10;
	bool no_await = false;
	pthread_condattr_t cattr;
	int rargc = 0, ret = 1;

	if (!rargv)
		return 1;
	pthread_mutex_init(&a.lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&a.wake, &cattr);
	pthread_condattr_destroy(&cattr);
	rargv[rargc++] = argv[0];
	/* agent's own options; everything else goes to record's parser */
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(o, "--")) {
			/* a command to run and watch: record's, to the end */
			while (i < argc)
				rargv[rargc++] = argv[i++];
			break;
		} else if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
			usage(stdout);
			ret = 0;
			goto out;
		} else if (!strcmp(o, "-S") || !strcmp(o, "--server")) {
			server = val;
			i++;
		} else if (!strcmp(o, "--metrics-listen")) {
			if (!val) {
				pr_err("--metrics-listen: an address, e.g. 9464 or 127.0.0.1:9464");
				goto out;
			}
			listen = val;
			i++;
		} else if (!strcmp(o, "--stall")) {
			if (!val || parse_time(val, 1e6, 1e6, 3600e9, &stall_ns)) {
				pr_err("--stall: a time such as 100ms (1ms to 3600s)");
				goto out;
			}
			i++;
		} else if (!strcmp(o, "--await-sites")) {
			char *end;
			long n = val ? strtol(val, &end, 10) : -1;

			if (!val || *end || n < 0 || n > METRICS_MAX_SITES) {
				pr_err("--await-sites: 0..%d", METRICS_MAX_SITES);
				goto out;
			}
			sites = (unsigned int)n;
			i++;
		} else if (!strcmp(o, "--no-await")) {
			no_await = true;
		} else if (!strcmp(o, "-P") || !strcmp(o, "--period")) {
			if (!val || atoi(val) < 1 || atoi(val) > 86400) {
				pr_err("--period: 1..86400 seconds");
				goto out;
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
				goto out;
			}
			a.queue_max = q;
			i++;
		} else {
			if (!strcmp(o, "-q") || !strcmp(o, "--quiet"))
				a.quiet = true;
			if (!strcmp(o, "--idle") || !strcmp(o, "-i") || !strcmp(o, "--gil"))
				wall = o;
			rargv[rargc++] = argv[i];
		}
	}
	if (listen && wall) {
		/* event-loop timing owns the off-CPU path: the profiles would
		 * silently lose their off-CPU time */
		pr_err("%s cannot be combined with --metrics-listen", wall);
		goto out;
	}
	if (!server && !listen) {
		usage(stderr);
		goto out;
	}
	if (server && http_url_parse(server, &a.url, &why)) {
		pr_err("--server %s: %s", server, why);
		goto out;
	}
	a.uploading = server;
	if (a.spool_dir && server) {
		if (mkdir(a.spool_dir, 0700) && errno != EEXIST) {
			pr_err("--spool %s: %s", a.spool_dir, strerror(errno));
			goto out;
		}
		load_spool(&a);
	}
	if (gethostname(a.host, sizeof(a.host)))
		snprintf(a.host, sizeof(a.host), "localhost");
	label_value(a.host, sizeof(a.host), a.host, strlen(a.host));
	if (server) {
		v.refresh = agent_refresh;
		v.interval_ms = a.period * 1000;
	}
	if (listen) {
		if (metrics_setup(&a, listen, stall_ns, sites, no_await, &v))
			goto out;
		/* the agent's own lines say what happens; record's live status
		 * line would interleave with them (before any "-- COMMAND") */
		memmove(rargv + 2, rargv + 1, (rargc - 1) * sizeof(*rargv));
		rargv[1] = "-q";
		rargc++;
	}
	if (!a.quiet && server)
		pr_info("agent: sending to %s every %u s", server, a.period);
	ret = record_main(rargc, rargv, &v);
	if (server) {
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
	metrics__free(a.metrics);
	pthread_cond_destroy(&a.wake);
	pthread_mutex_destroy(&a.lock);
	free(rargv);
	return ret;
}

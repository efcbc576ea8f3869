// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The agent's upload queue: profiles waiting to be POSTed, bounded in
 * bytes (oldest dropped, counted), in memory or spooled to disk, sent by a
 * thread of their own with exponential backoff. A POST can take its whole
 * timeout when the backend hangs, and the recording loop must keep
 * draining the ring buffers and answering /metrics meanwhile.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net/upload.h"
#include "sys/clock.h"
#include "sys/log.h"

#define BACKOFF_MAX_MS 60000

struct item {
	char *query;	  /* path and query after the URL's path */
	unsigned char *body;
	size_t len;
	char *spool;	  /* file holding body (then body is NULL) */
	struct item *next;
};

struct upload_queue {
	struct http_client *http;
	const char *spool_dir;
	size_t queue_max; /* bytes, in memory or on disk */
	struct item *head, *tail;
	size_t queued_bytes, nqueued;
	unsigned long long sent, failed, dropped;
	long long next_try_ms;
	unsigned int backoff_ms;
	unsigned long long spool_seq;
	/* failed tries by reason; the last cause said, to say each once */
	unsigned long long failures[HTTP_FAIL_N];
	int said_fail, said_status; /* -1: none since the last success */
	/*
	 * The lock guards the queue, the backoff and the counters; the item
	 * being sent is out of the queue (so dropping the oldest cannot free
	 * it) but still counted in queued_bytes and nqueued.
	 */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool thread_started, stop;
};

static long long now_ms(void)
{
	return (long long)(clock_mono_ns() / 1000000);
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
static struct item *queue_unlink_head(struct upload_queue *u)
{
	struct item *it = u->head;

	if (it) {
		u->head = it->next;
		if (!u->head)
			u->tail = NULL;
	}
	return it;
}

/* An unlinked item is done with (sent, refused or dropped). */
static void queue_forget(struct upload_queue *u, struct item *it)
{
	u->queued_bytes -= it->len;
	u->nqueued--;
	item_free(it);
}

static void drop_oldest(struct upload_queue *u)
{
	struct item *it = queue_unlink_head(u);

	if (!it)
		return;
	u->dropped++;
	queue_forget(u, it);
}

static void queue_push(struct upload_queue *u, struct item *it)
{
	it->next = NULL;
	if (u->tail)
		u->tail->next = it;
	else
		u->head = it;
	u->tail = it;
	u->queued_bytes += it->len;
	u->nqueued++;
}

static void enqueue(struct upload_queue *u, struct item *it)
{
	if (it->len > u->queue_max) {
		u->dropped++;
		item_free(it);
		return;
	}
	while (u->queued_bytes + it->len > u->queue_max && u->head)
		drop_oldest(u);
	if (u->queued_bytes + it->len > u->queue_max) {
		/* the profile being sent fills the budget by itself */
		u->dropped++;
		item_free(it);
		return;
	}
	if (u->spool_dir && it->body) {
		char path[PATH_MAX];
		FILE *f;

		/* name: sequence number, then the query (URL-safe already) */
		snprintf(path, sizeof(path), "%s/%020llu.pprof", u->spool_dir,
			 u->spool_seq++);
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
	queue_push(u, it);
}

int upload_load_spool(struct upload_queue *u)
{
	struct dirent **names = NULL;
	int n = scandir(u->spool_dir, &names, NULL, alphasort);

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
		if (seq >= u->spool_seq)
			u->spool_seq = seq + 1;
		snprintf(path, sizeof(path), "%s/%s", u->spool_dir, names[i]->d_name);
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
		queue_push(u, it);
	}
	free(names);
	while (u->queued_bytes > u->queue_max)
		drop_oldest(u);
	return 0;
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
static bool send_head(struct upload_queue *u)
{
	struct item *it = queue_unlink_head(u);
	unsigned char *b = NULL;
	struct http_result r;
	bool final;
	int err;

	pthread_mutex_unlock(&u->lock);
	err = item_body(it, &b);
	if (!err) {
		err = http_post(u->http, it->query, "application/octet-stream", b,
				it->len, 5000, &r) ? -EIO : 0;
		if (b != it->body)
			free(b);
	} else {
		/* the spool file is gone or unreadable */
		r.fail = HTTP_FAIL_N;
	}
	pthread_mutex_lock(&u->lock);
	if (err && r.fail == HTTP_FAIL_N) {
		u->dropped++;
		queue_forget(u, it);
		return true;
	}
	if (!err) {
		u->sent++;
		u->backoff_ms = 0;
		if (u->said_fail >= 0)
			pr_info("upload: sending again");
		u->said_fail = u->said_status = -1;
		queue_forget(u, it);
		return true;
	}
	u->failures[r.fail]++;
	/* the backend refuses this one: retrying cannot help. Credentials,
	 * rate limits and the server's own failures can mend: retried. */
	final = r.fail == HTTP_FAIL_413 || r.fail == HTTP_FAIL_4XX;
	if (final) {
		u->failed++;
		u->backoff_ms = 0;
	} else {
		u->backoff_ms = u->backoff_ms ? u->backoff_ms * 2 : 1000;
		if (u->backoff_ms > BACKOFF_MAX_MS)
			u->backoff_ms = BACKOFF_MAX_MS;
		u->next_try_ms = now_ms() + u->backoff_ms;
	}
	/* once per cause, not per try: an outage is one line */
	if ((int)r.fail != u->said_fail || r.status != u->said_status) {
		if (final)
			pr_warn("upload rejected: %s; profile dropped (%s); the same again is counted, not repeated here",
				r.cause, it->query);
		else
			pr_warn("upload failed: %s; %zu profile%s queued, retrying with backoff (up to %d s); said again when the cause changes",
				r.cause, u->nqueued, u->nqueued == 1 ? "" : "s",
				BACKOFF_MAX_MS / 1000);
		u->said_fail = (int)r.fail;
		u->said_status = r.status;
	}
	if (final) {
		queue_forget(u, it);
		return true;
	}
	/* first again, for the next try */
	it->next = u->head;
	u->head = it;
	if (!u->tail)
		u->tail = it;
	return false;
}

static void *uploader(void *arg)
{
	struct upload_queue *u = arg;

	pthread_mutex_lock(&u->lock);
	while (!u->stop) {
		long long wait = u->head ? u->next_try_ms - now_ms() : 1000;
		struct timespec ts;

		if (wait <= 0) {
			send_head(u);
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
		pthread_cond_timedwait(&u->wake, &u->lock, &ts);
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

void upload_start(struct upload_queue *u)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&u->thread, NULL, uploader, u);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!err)
		pthread_setname_np(u->thread, "pyrograph-send");
	if (err)
		pr_warn("cannot start the uploader thread: %s; profiles are sent at exit",
			strerror(err));
	u->thread_started = !err;
}

void upload_finish(struct upload_queue *u)
{
	if (u->thread_started) {
		pthread_mutex_lock(&u->lock);
		u->stop = true;
		pthread_cond_signal(&u->wake);
		pthread_mutex_unlock(&u->lock);
		pthread_join(u->thread, NULL);
		u->thread_started = false;
	}
	pthread_mutex_lock(&u->lock);
	while (u->head && now_ms() >= u->next_try_ms && send_head(u))
		;
	pthread_mutex_unlock(&u->lock);
}

struct upload_queue *upload_new(struct http_client *http, const char *spool_dir,
				size_t queue_max)
{
	struct upload_queue *u = calloc(1, sizeof(*u));
	pthread_condattr_t cattr;

	if (!u)
		return NULL;
	u->http = http;
	u->spool_dir = spool_dir;
	u->queue_max = queue_max;
	u->said_fail = u->said_status = -1;
	pthread_mutex_init(&u->lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&u->wake, &cattr);
	pthread_condattr_destroy(&cattr);
	return u;
}

void upload_add(struct upload_queue *u, char *query, unsigned char *body,
		size_t len)
{
	struct item *it = calloc(1, sizeof(*it));

	if (!it) {
		free(query);
		free(body);
		pthread_mutex_lock(&u->lock);
		u->dropped++;
		pthread_mutex_unlock(&u->lock);
		return;
	}
	it->query = query;
	it->body = body;
	it->len = len;
	pthread_mutex_lock(&u->lock);
	enqueue(u, it);
	pthread_cond_signal(&u->wake);
	pthread_mutex_unlock(&u->lock);
}

void upload_stats(struct upload_queue *u, struct upload_stats *st)
{
	pthread_mutex_lock(&u->lock);
	st->sent = u->sent;
	st->failed = u->failed;
	st->dropped = u->dropped;
	st->queued_bytes = u->queued_bytes;
	st->nqueued = u->nqueued;
	memcpy(st->failures, u->failures, sizeof(st->failures));
	pthread_mutex_unlock(&u->lock);
}

void upload_free(struct upload_queue *u)
{
	if (!u)
		return;
	/* spooled items stay on disk for the next run */
	while (u->head) {
		struct item *it = u->head;

		u->head = it->next;
		free(it->spool);
		it->spool = NULL;
		item_free(it);
	}
	pthread_cond_destroy(&u->wake);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

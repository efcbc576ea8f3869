// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/profiler.h"
#include "report/await_site.h"
#include "report/labels.h"
#include "report/metrics_sink.h"
#include "sys/clock.h"
#include "sys/container.h"
#include "sys/procfs.h"

static void found(void *ctx, const struct session_target *t)
{
	struct metrics_sink *ms = ctx;
	const struct container_names *cn = &t->ci->names;
	char cmd[512], service[64], cbuf[128] = "";
	ssize_t n;

	n = procfs_read(t->pid, "cmdline", cmd, sizeof(cmd));
	for (ssize_t i = 0; i < n; i++)
		if (!cmd[i])
			cmd[i] = ' ';
	labels_service(cmd, n > 0 ? (size_t)n : 0, service, sizeof(service));
	/* the container's name, else its short id as docker ps shows it */
	if (cn->name[0])
		snprintf(cbuf, sizeof(cbuf), "%s", cn->name);
	else if (t->ci->id[0])
		snprintf(cbuf, sizeof(cbuf), "%.12s", t->ci->id);
	metrics__proc(ms->m, t->pid, service, cbuf);
	if (cn->pod[0])
		metrics__proc_pod(ms->m, t->pid, cn->ns, cn->pod);
	metrics__proc_gc(ms->m, t->pid,
			 t->mem_probes > 0 && (t->mem_probes & PROFILER_MEM_GC));
}

static void gone(void *ctx, pid_t pid)
{
	struct metrics_sink *ms = ctx;

	metrics__forget(ms->m, pid);
}

/* off the CPU inside an iteration: the leaf is why ("[sleep]") */
static int sample(void *ctx, const struct session_sample *s)
{
	struct metrics_sink *ms = ctx;

	if (!s->oncpu && s->in_loop && s->n)
		metrics__blocking(ms->m, s->pid, s->tid,
				  frame_text(ms->ft, s->frames[s->n - 1]), s->ns);
	return 0;
}

static void stall(void *ctx, const struct stall_event *e)
{
	struct metrics_sink *ms = ctx;

	metrics__stall(ms->m, e->pid, e->tid, e->ns);
}

/* A task followed from its first step seen: its endpoint so far. */
#define METRICS_TASKS 16384
#define SITE_NAME_MAX 1024
struct metrics_task {
	unsigned long long coro;
	pid_t pid;
	frame_id endpoint;
};

static struct metrics_task *task_of(struct metrics_sink *ms, pid_t pid,
				    unsigned long long coro)
{
	struct metrics_task *t;

	if (!ms->tasks && !(ms->tasks = calloc(METRICS_TASKS, sizeof(*ms->tasks))))
		return NULL;
	t = &ms->tasks[((coro >> 4) ^ (unsigned long long)pid * 0x9e3779b1ULL) %
		       METRICS_TASKS];
	/* a slot shared by two tasks keeps the newer one */
	if (t->coro != coro || t->pid != pid)
		*t = (struct metrics_task){ .coro = coro, .pid = pid,
					    .endpoint = FRAME_NONE };
	return t;
}

/*
 * The site is the chain's innermost application frame (await_site.h): the
 * user's coroutine that awaited, whatever framework is above it and
 * library below it; a chain without one keeps its innermost Python frame.
 * The chain also names the task's endpoint (await_site_entry()).
 */
static void resume(void *ctx, const struct session_resume *r)
{
	struct metrics_sink *ms = ctx;
	struct metrics_task *t;
	struct await_site st;
	uint32_t entry;

	await_site_find(ms->ft, r->chain, r->n, &st);
	if (st.site >= r->n)
		return;
	metrics__await(ms->m, r->pid, frame_text(ms->ft, r->chain[st.site]), r->ns);
	entry = await_site_entry(ms->ft, r->chain, r->n);
	if (entry < r->n && (t = task_of(ms, r->pid, r->coro)))
		t->endpoint = r->chain[entry];
}

/* A task ended: its life by endpoint ("func (file)"; a task that never
 * awaited: its coroutine's). Tasks that began unseen have no life. */
static void step(void *ctx, const struct session_step *s)
{
	struct metrics_sink *ms = ctx;
	struct metrics_task *t;
	frame_id ep;
	char name[SITE_NAME_MAX];

	if (s->result != 0)
		return;
	t = task_of(ms, s->pid, s->coro);
	ep = t && t->endpoint != FRAME_NONE ? t->endpoint : s->code;
	if (t)
		t->coro = 0;
	if (!s->born || s->start + s->ns < s->born || ep == FRAME_NONE)
		return;
	snprintf(name, sizeof(name), "%s (%s)", frame_name(ms->ft, ep),
		 frame_file(ms->ft, ep) ? frame_file(ms->ft, ep) : "");
	metrics__request(ms->m, s->pid, name, s->start + s->ns - s->born);
}

static void done(void *ctx, const struct session_health *h)
{
	struct metrics_sink *ms = ctx;

	(void)h;
	free(ms->tasks);
	ms->tasks = NULL;
}

static int loop(void *ctx, __u32 tid, const struct loop_state *ls)
{
	struct metrics_sink *ms = ctx;

	metrics__loop(ms->m, (pid_t)tid, ls);
	return 0;
}

static void mem(void *ctx, const struct session_mem_event *m)
{
	struct metrics_sink *ms = ctx;

	if (m->type == EV_GC && m->value >= 0)
		metrics__gc(ms->m, m->pid, (int)m->aux0, (unsigned long long)m->value);
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
static void usage_of(void *ctx, pid_t pid)
{
	struct metrics_sink *ms = ctx;
	struct proc_stat st;
	long long rss = -1;

	if (procfs_stat(pid, &st) || st.state == 'Z' || st.state == 'X' ||
	    (rss = procfs_rss_bytes(pid)) < 0) {
		metrics__forget(ms->m, pid);
		return;
	}
	metrics__prune(ms->m, pid, thread_alive, NULL);
	metrics__usage(ms->m, pid, rss, (double)st.cpu_ticks / ms->clk_tck,
		       clock_mono_ns());
}

static int tick(void *ctx, const struct session_health *h)
{
	struct metrics_sink *ms = ctx;
	struct metrics_health mh = { .rec = *h };
	struct rusage ru;

	if (ms->uploads)
		ms->uploads(ms->uploads_ctx, &mh);
	if (!getrusage(RUSAGE_SELF, &ru))
		mh.cpu_seconds = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
				 (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	metrics__each_proc(ms->m, usage_of, ms);
	metrics__health(ms->m, &mh);
	return 0;
}

static int serve(void *ctx, const char *path, FILE *f, const char **ctype)
{
	struct metrics_sink *ms = ctx;

	if (!strcmp(path, "/metrics")) {
		*ctype = "text/plain; version=0.0.4; charset=utf-8";
		return metrics__write(ms->m, f) ? 500 : 200;
	}
	if (!strcmp(path, "/")) {
		fprintf(f, "pyrograph agent: Prometheus metrics at /metrics\n");
		return 200;
	}
	return 404;
}

static int poll_http(void *ctx)
{
	struct metrics_sink *ms = ctx;

	httpd_poll(ms->httpd, serve, ms);
	return 0;
}

void metrics_sink_init(struct session_sink *sink, struct metrics_sink *ms,
		       struct metrics *m, struct httpd *httpd, struct frame_table *ft)
{
	*ms = (struct metrics_sink){
		.m = m, .httpd = httpd, .ft = ft, .clk_tck = sysconf(_SC_CLK_TCK),
	};
	*sink = (struct session_sink){
		.ctx = ms,
		.found = found,
		.gone = gone,
		.sample = sample,
		.stall = stall,
		.resume = resume,
		.step = step,
		.done = done,
		.loop = loop,
		.mem = mem,
		.tick = tick,
		.poll = poll_http,
	};
}

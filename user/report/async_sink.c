// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/stacks.h"
#include "report/async_sink.h"
#include "sys/clock.h"
#include "sys/procfs.h"
#include "sys/targetfile.h"

/* Does the process have uvloop's compiled loop module mapped? */
static bool has_uvloop(pid_t pid)
{
	const struct proc_mapping *m;
	struct procfs_maps it;
	bool found = false;

	if (procfs_maps_open(&it, pid))
		return false;
	while (!found && (m = procfs_maps_next(&it)))
		found = strstr(m->path, "/uvloop/loop.") != NULL;
	procfs_maps_close(&it);
	return found;
}

static void found(void *ctx, const struct session_target *t)
{
	struct async_sink *as = ctx;

	asyncrep__proc(as->rep, t->pid, t->where, t->root, t->nroot,
		       has_uvloop(t->pid));
}

/* stacks of loop threads inside iterations: what stalls are made of */
static int sample(void *ctx, const struct session_sample *s)
{
	struct async_sink *as = ctx;

	if (!s->in_loop)
		return 0;
	asyncrep__stack(as->rep, s->pid, s->tid, s->frames, s->n, s->oncpu,
			s->start, s->ns);
	return 0;
}

static void stall(void *ctx, const struct stall_event *e)
{
	struct async_sink *as = ctx;

	asyncrep__stall(as->rep, e);
}

static int loop(void *ctx, __u32 tid, const struct loop_state *ls)
{
	struct async_sink *as = ctx;
	char path[96], comm[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/task/%u/comm", ls->pid, tid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	/* uvloop may have been imported after the process was found */
	if (has_uvloop(ls->pid))
		asyncrep__proc_uvloop(as->rep, ls->pid);
	return asyncrep__loop(as->rep, tid, comm[0] ? comm : NULL, ls);
}

/* The sampling rate, for stalls that should have had a CPU sample. */
static void done(void *ctx, const struct session_health *h)
{
	struct async_sink *as = ctx;

	asyncrep__set_rate(as->rep, h->hz);
}

static void step(void *ctx, const struct session_step *s)
{
	struct async_sink *as = ctx;

	struct asyncrep_step st = {
		.pid = s->pid, .coro = s->coro, .code = s->code,
		.start = s->start, .ns = s->ns, .born = s->born,
		.off_ns = s->off_ns, .preempt_ns = s->preempt_ns,
		.result = s->result,
	};

	asyncrep__step_at(as->rep, &st);
}

static void resume(void *ctx, const struct session_resume *r)
{
	struct async_sink *as = ctx;

	asyncrep__resume_at(as->rep, r->pid, r->coro, r->chain, r->n, r->ns,
			    r->queued_ns);
}

/*
 * A source line as process pid sees its file (through its root, so a
 * container's files are its own). The file is the target's: bounded in
 * lines read and bytes kept.
 */
static int source_line(void *ctx, pid_t pid, const char *file, long line,
		       char *buf, size_t len)
{
	struct target_file tf;
	char text[4096];
	unsigned long long total = 0;
	const char *p;
	long n = 0;
	FILE *f;
	int ret;

	(void)ctx;
	if (line <= 0 || line > 1000000 || file[0] != '/' || !len)
		return -EINVAL;
	ret = targetfile_open_in_root(pid, file, 64 << 20, &tf);
	if (ret)
		return ret;
	f = fdopen(tf.fd, "r");
	if (!f) {
		targetfile_close(&tf);
		return -ENOMEM;
	}
	while (total < (64ULL << 20) && fgets(text, sizeof(text), f)) {
		size_t l = strlen(text);

		total += l + 1;
		/* a line longer than the buffer continues in the next read */
		if (l && text[l - 1] != '\n' && !feof(f))
			continue;
		if (++n == line)
			break;
	}
	fclose(f); /* and tf.fd with it */
	if (n != line)
		return -ENOENT;
	text[strcspn(text, "\r\n")] = '\0';
	for (p = text; *p == ' ' || *p == '\t'; p++)
		;
	snprintf(buf, len, "%s", p);
	return 0;
}

void async_sink_init(struct session_sink *sink, struct async_sink *as,
		     struct asyncrep *rep)
{
	*as = (struct async_sink){ .rep = rep };
	*sink = (struct session_sink){
		.ctx = as,
		.found = found,
		.sample = sample,
		.stall = stall,
		.loop = loop,
		.done = done,
		.step = step,
		.resume = resume,
	};
	asyncrep__set_source(rep, source_line, NULL);
	asyncrep__set_clock(rep, clock_mono_ns(), clock_real_ns());
}

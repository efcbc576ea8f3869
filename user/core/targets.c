// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The session's process table: which processes are Python, their layout
 * for BPF, their symbol caches and root frames. Processes are found by a
 * /proc scan at start and by exec/exit/fork and "unknown process sampled"
 * events from BPF; a young process whose libpython is not mapped yet is
 * looked at again every RETRY_MS for up to YOUNG_MS of its life.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/session_int.h"
#include "model/stacks.h"
#include "native/mixed.h"
#include "native/unwind.h"
#include "python/symcache.h"
#include "sys/ctrnames.h"
#include "sys/log.h"
#include "sys/procfs.h"

/* A process this young may still be loading libpython: look again. */
#define YOUNG_MS 2000
#define RETRY_MS 20

static struct tracked **bucket(struct session *s, pid_t pid)
{
	return &s->buckets[(unsigned int)pid % TRACKED_BUCKETS];
}

struct tracked *targets_find(struct session *s, pid_t pid)
{
	for (struct tracked *t = *bucket(s, pid); t; t = t->next)
		if (t->pid == pid)
			return t;
	return NULL;
}

void targets_drop(struct session *s, pid_t pid)
{
	struct tracked **pp = bucket(s, pid), *t;

	/* its probes (task steps, collections, allocators) go with it */
	if (s->prof)
		profiler__detach_steps(s->prof, pid);
	while ((t = *pp)) {
		if (t->pid == pid) {
			*pp = t->next;
			if (t->python && s->nprocs_live)
				s->nprocs_live--;
			if (t->python && s->running)
				SINKS_CALL(s, gone, pid);
			if (s->unwinder) {
				unwinder_forget(s->unwinder, pid);
				mixed_forget(pid);
			}
			symcache__free(t->sc);
			threadnames_free(t);
			tasks_view_free(t);
			free(t);
			return;
		}
		pp = &t->next;
	}
}

void targets_drop_all(struct session *s)
{
	for (int i = 0; i < TRACKED_BUCKETS; i++)
		while (s->buckets[i])
			targets_drop(s, s->buckets[i]->pid);
}

static void pending_add(struct session *s, pid_t pid, int tries, bool execed)
{
	for (int i = 0; i < s->npending; i++)
		if (s->pending[i].pid == pid)
			return;
	if (s->npending >= PENDING_MAX)
		return;
	s->pending[s->npending++] = (struct pending){
		.pid = pid, .due_ms = session_now_ms() + RETRY_MS,
		.tries = tries, .execed = execed
	};
}

/* "argv0-without-dir args" and the pids of the process frame. */
static frame_id process_frame(struct session *s, const struct tracked *t)
{
	const char *full = t->info.cmd[0] ? t->info.cmd : "?";
	const char *sp = strchr(full, ' '), *slash = full, *q;
	char cmd[128];
	size_t l;

	/* argv[0] without its directory: the arguments are what tell apart
	 * processes of one interpreter. */
	for (q = full; *q && (!sp || q < sp); q++)
		if (*q == '/')
			slash = q + 1;
	snprintf(cmd, sizeof(cmd), "%s", slash);
	l = strlen(cmd);
	if (l >= sizeof(cmd) - 1)
		memcpy(cmd + sizeof(cmd) - 4, "...", 4);
	/* host pid, and the pid the process sees when it is in a namespace */
	return frames_process(&s->ft, cmd, t->pid,
			      t->ci.nspid && t->ci.nspid != t->pid ? t->ci.nspid : -1);
}

/* The nearest ancestor that is itself a tracked Python process (-s). */
static struct tracked *python_ancestor(struct session *s, pid_t pid)
{
	for (int depth = 0; depth < 64; depth++) {
		struct proc_stat ps;
		struct tracked *up;

		if (procfs_stat(pid, &ps) || ps.ppid <= 1)
			return NULL;
		pid = ps.ppid;
		up = targets_find(s, pid);
		if (up && up->python)
			return up;
	}
	return NULL;
}

/*
 * Root frames of t's stacks. With --subprocesses a process sits under the
 * nearest ancestor that is itself a tracked Python process, so a pool's
 * workers appear under their parent.
 */
static int make_root(struct session *s, struct tracked *t)
{
	frame_id proc = process_frame(s, t);
	struct tracked *up = s->o.subprocesses ? python_ancestor(s, t->pid) : NULL;
	char cbuf[CONTAINER_LABEL_MAX];
	const char *c;

	t->nroot = 0;
	if (proc == FRAME_NONE)
		return -ENOMEM;
	if (up && up->nroot < ROOT_MAX) {
		memcpy(t->root, up->root, up->nroot * sizeof(*t->root));
		t->nroot = up->nroot;
	} else if (s->o.group == GROUP_CONTAINER &&
		   (c = container_label(&t->ci, cbuf, sizeof(cbuf)))) {
		t->root[t->nroot] = frames_container(&s->ft, c);
		if (t->root[t->nroot++] == FRAME_NONE)
			return -ENOMEM;
	}
	if (s->o.group != GROUP_NONE || up)
		t->root[t->nroot++] = proc;
	stacks_text(&s->ft, t->root, t->nroot, t->label, sizeof(t->label));
	return 0;
}

/* The names of ci's container, from its runtime's state: read when the
 * container is first seen, then cached per id (sys/ctrnames.c). */
static void resolve_names(struct session *s, struct container_info *ci)
{
	if (!ci->id[0] || ci->names.name[0])
		return;
	if (!s->names && !(s->names = ctrnames_new(NULL)))
		return;
	if (!ctrnames_get(s->names, ci->id, ci->runtime, session_now_ms(),
			  &ci->names))
		pr_debug("container %.12s: no name in its runtime's state (%s)",
			 ci->id, ci->runtime[0] ? ci->runtime : "runtime unknown");
}

static bool selected(struct session *s, struct container_info *ci)
{
	if (s->o.container) {
		resolve_names(s, ci);
		if (!container_matches(ci, s->o.container))
			return false;
	}
	if (s->o.cgroup && !container_matches_cgroup(ci, s->o.cgroup))
		return false;
	return true;
}

static struct tracked *tracked_new(struct session *s, pid_t pid)
{
	struct tracked *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->pid = pid;
	t->next = *bucket(s, pid);
	*bucket(s, pid) = t;
	return t;
}

/* A Python process is tracked now: features attach, sinks are told. */
static void announce(struct session *s, struct tracked *t)
{
	char cbuf[CONTAINER_LABEL_MAX];
	struct session_target st = {
		.pid = t->pid,
		.version = t->info.version,
		.binary = t->info.binary,
		.cmd = t->info.cmd,
		.ci = &t->ci,
		.where = container_label(&t->ci, cbuf, sizeof(cbuf)),
		.root = t->root,
		.nroot = t->nroot,
		.label = t->label,
		.mem_probes = 0,
	};

	for (int i = 0; i < s->nfeatures; i++)
		if (s->features[i]->attach)
			s->features[i]->attach(s, t);
	st.mem_probes = t->mem_probes;
	SINKS_CALL(s, found, &st);
}

/* Every feature can attach now (a young process may still be mapping the
 * libraries a feature probes). */
static bool features_ready(struct session *s, pid_t pid)
{
	for (int i = 0; i < s->nfeatures; i++)
		if (s->features[i]->ready && !s->features[i]->ready(s, pid))
			return false;
	return true;
}

/* An unsupported build is counted in BPF (runtime 0): its samples show as
 * drops. */
static void unsupported(struct session *s, pid_t pid, const char *why)
{
	struct py_proc none = { 0 };

	profiler__add_proc(s->prof, pid, &none);
	s->nunsupported++;
	pr_warn("%s", why);
}

bool targets_detect(struct session *s, pid_t pid, int tries, bool execed)
{
	struct tracked *t = targets_find(s, pid);
	struct pyproc_info info;
	struct container_info ci;
	char err[512];
	int ret;

	if (t && t->python)
		return true;
	if (container_read(pid, &ci))
		return true; /* gone */
	if (!selected(s, &ci)) {
		s->nfiltered++;
		return true;
	}
	ret = pyproc_detect(pid, &info, err, sizeof(err));
	if (ret == -ESRCH)
		return true;
	if (ret == -ENOEXEC) {
		long long age = procfs_age_ms(pid);

		/* An exec'd process keeps its start time but is as new as a
		 * fresh one: its libpython may not be mapped yet either. */
		if (tries < TARGETS_RETRY_MAX &&
		    (execed || (age >= 0 && age < YOUNG_MS))) {
			pending_add(s, pid, tries + 1, execed);
			return false;
		}
		return true;
	}
	if (ret == -ENOTSUP) {
		unsupported(s, pid, err);
		return true;
	}
	if (ret) {
		pr_debug("process %d: %s", pid, err);
		return true;
	}
	if (!features_ready(s, pid)) {
		long long age = procfs_age_ms(pid);

		if (tries < TARGETS_RETRY_MAX &&
		    (execed || (age >= 0 && age < YOUNG_MS))) {
			pending_add(s, pid, tries + 1, execed);
			return false;
		}
	}
	if (!t && !(t = tracked_new(s, pid)))
		return true;
	resolve_names(s, &ci);
	t->info = info;
	t->ci = ci;
	t->sc = symcache__new(pid, &info.bpf.off);
	if (!t->sc || make_root(s, t)) {
		targets_drop(s, pid);
		return true;
	}
	if (profiler__add_proc(s->prof, pid, &info.bpf)) {
		pr_warn("cannot track process %d (%s): too many processes (--max-procs)",
			pid, info.cmd);
		targets_drop(s, pid);
		return true;
	}
	t->python = true;
	s->nprocs_seen++;
	s->nprocs_live++;
	announce(s, t);
	pr_debug("tracking %s: Python %s (%s)", t->label, info.version,
		 info.binary);
	return true;
}

void targets_run_pending(struct session *s)
{
	unsigned long long now = session_now_ms();
	int i = 0;

	while (i < s->npending) {
		struct pending p = s->pending[i];

		if (p.due_ms > now) {
			i++;
			continue;
		}
		s->pending[i] = s->pending[--s->npending];
		targets_detect(s, p.pid, p.tries, p.execed);
	}
}

void targets_scan(struct session *s)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t self = getpid();

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || pid == self)
			continue;
		targets_detect(s, (pid_t)pid, TARGETS_RETRY_MAX, false);
	}
	closedir(d);
}

bool targets_alive(struct session *s)
{
	if (s->nprocs_live || s->npending)
		return true;
	for (int i = 0; i < s->o.npids; i++) {
		struct proc_stat ps;

		/* a zombie is gone for us, though its parent has not reaped it */
		if (!procfs_stat(s->o.pids[i], &ps) && ps.state != 'Z' &&
		    ps.state != 'X')
			return true;
	}
	return false;
}

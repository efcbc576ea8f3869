// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph dump: every thread's Python stack, once, like py-spy dump, but
 * without stopping the process. Thread states and frames are read with
 * process_vm_readv (user/pystack.c); a BPF task iterator pairs each thread
 * state with its kernel thread through the fs base; /proc says whether a
 * thread runs and what it waits in (the same classifier as record --idle).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sys/caps.h"
#include "cmd/cmd.h"
#include "cmd/options.h"
#include "core/tasklist.h"
#include "model/json.h"
#include "sys/log.h"
#include "sys/procfs.h"
#include "python/pyproc.h"
#include "python/pystack.h"
#include "python/pythreads.h"
#include "python/symcache.h"
#include "native/waitreason.h"

#define MAX_THREADS 1024
#define MAX_TASKS 65536
#define KSTACK_MAX 32

struct thread_view {
	const struct py_thread *py;
	const struct task_entry *task; /* NULL: no kernel thread matched */
	const char *name;	       /* threading's name for it, or NULL */
	char state;		       /* from /proc: R, S, D, ... */
	const char *reason;	       /* NULL while running */
	char reason_buf[64];
	const char *syscall;	       /* name of the syscall it waits in */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pyrograph dump -p PID [--json]\n"
		"\n"
		"Prints the current Python stack of every thread of a running process,\n"
		"innermost frame first, with the thread's name (the one the program gave\n"
		"it with threading, else the OS name) and id, whether it holds\n"
		"the GIL, and whether it is running or waiting - and on what ([sleep],\n"
		"[lock], [GIL wait], [disk I/O], [network], [poll], ...). The process is\n"
		"not stopped: each thread's stack is read as it is at that moment.\n"
		"\n"
		"Options:\n"
		"  -p, --pid PID   the process (required)\n"
		"  -j, --json      one JSON object instead of text\n"
		"      --tasks     asyncio task trees instead of threads, of one or\n"
		"                  more processes (-p PID..., -a, --container NAME):\n"
		"                  pyrograph dump --tasks --help\n"
		"  -v, --verbose   debug messages\n"
		"  -h, --help      this help\n"
		"\n"
		"Examples:\n"
		"  pyrograph dump -p 1234\n"
		"  pyrograph dump -p 1234 --json | jq '.threads[] | select(.holds_gil)'\n"
		"  pyrograph dump --tasks -p 1234\n");
}

/* The process's threads with their fs base, from the BPF task iterator. */
static int list_tasks(pid_t pid, struct task_entry **out)
{
	struct tasklist *tl;
	int n = tasklist_open(&tl);

	if (n)
		return n;
	n = tasklist_read(tl, pid, out, MAX_TASKS);
	tasklist_close(tl);
	return n;
}

/* Kernel stack of a waiting thread from /proc/PID/task/TID/stack. */
static size_t kstack_funcs(pid_t pid, pid_t tid, char names[][64], size_t max)
{
	char path[64], buf[4096];
	size_t n = 0;
	char *line, *save = NULL;

	snprintf(path, sizeof(path), "task/%d/stack", tid);
	if (procfs_read(pid, path, buf, sizeof(buf)) <= 0)
		return 0;
	for (line = strtok_r(buf, "\n", &save); line && n < max;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' '), *plus;

		if (!sp)
			continue;
		plus = strchr(++sp, '+');
		if (plus)
			*plus = '\0';
		snprintf(names[n++], 64, "%s", sp);
	}
	return n;
}

static void classify(pid_t pid, const struct py_proc *pp, struct thread_view *v)
{
	char path[64], buf[256], names[KSTACK_MAX][64], target[256];
	const char *fn[KSTACK_MAX];
	struct wait_info w = { .syscall = -1 };
	pid_t tid = v->task->tid;
	long long nr;
	unsigned long long arg = 0;

	snprintf(path, sizeof(path), "task/%d/stat", tid);
	if (procfs_read(pid, path, buf, sizeof(buf)) > 0) {
		char *rp = strrchr(buf, ')');

		if (rp && rp[1] == ' ')
			v->state = rp[2];
	}
	if (v->state == 'R' || !v->state)
		return;
	snprintf(path, sizeof(path), "task/%d/syscall", tid);
	/* The thread keeps moving: read the syscall before and after the
	 * kernel stack and only trust a pair that agrees. */
	for (int tries = 0; tries < 5; tries++) {
		char again[256];

		if (procfs_read(pid, path, buf, sizeof(buf)) <= 0)
			return;
		w.nkfuncs = kstack_funcs(pid, tid, names, KSTACK_MAX);
		if (procfs_read(pid, path, again, sizeof(again)) > 0 &&
		    !strcmp(buf, again))
			break;
	}
	if (sscanf(buf, "%lld %llx", &nr, &arg) >= 1 && nr >= 0) {
		w.syscall = (int)nr;
		w.sysarg = arg;
		v->syscall = syscall_name(w.syscall);
	} else {
		/* "running" now, although stat said otherwise a moment ago */
		v->state = 'R';
		return;
	}
	if (syscall_io_fd(w.syscall) && arg < INT_MAX) {
		ssize_t l;

		snprintf(path, sizeof(path), "/proc/%d/fd/%llu", pid, arg);
		l = readlink(path, target, sizeof(target) - 1);
		if (l > 0) {
			target[l] = '\0';
			w.fd_target = target;
		}
	}
	for (size_t i = 0; i < w.nkfuncs; i++)
		fn[i] = names[i];
	w.kfuncs = fn;
	w.gil = w.syscall == 202 && pp->gil_addr && arg >= pp->gil_addr &&
		arg < pp->gil_addr + pp->gil_size;
	v->reason = wait_reason(&w, v->reason_buf, sizeof(v->reason_buf));
}

/* threading's names of pid's threads (*out: malloc'd); how many. On
 * 3.14+, and before the program imports threading, none: the OS names. */
static int read_names(pid_t pid, const struct py_proc *p,
		      struct py_thread_name **out)
{
	struct pythreads *pt = pythreads_new(pid, p);
	int n = 0;

	*out = NULL;
	if (pt && (*out = calloc(PYTHREADS_MAX, sizeof(**out))))
		n = pythreads_read(pt, *out, PYTHREADS_MAX);
	if (n < 0)
		pr_debug("no thread names from threading: %s", strerror(-n));
	pythreads_free(pt);
	return n > 0 ? n : 0;
}

static void print_text(const struct pyproc_info *info, struct symcache *sc,
		       struct thread_view *v, int n)
{
	printf("Process %d: %s\nPython %s (%s)\n", info->pid, info->cmd,
	       info->version, info->binary);
	for (int i = 0; i < n; i++) {
		const struct py_thread *t = v[i].py;
		char frame[2048];

		putchar('\n');
		if (v[i].task && v[i].name)
			printf("Thread %u (%s)", v[i].task->tid, v[i].name);
		else if (v[i].task)
			printf("Thread %u (%.*s)", v[i].task->tid, TASK_COMM_LEN,
			       v[i].task->comm);
		else if (v[i].name)
			printf("Thread 0x%llx (%s; no kernel thread found)",
			       t->thread_id, v[i].name);
		else
			printf("Thread 0x%llx (no kernel thread found)",
			       t->thread_id);
		if (v[i].state == 'R')
			printf(" running");
		else if (v[i].reason)
			printf(" idle: %s%s%s", v[i].reason,
			       v[i].syscall ? " in " : "",
			       v[i].syscall ? v[i].syscall : "");
		if (t->holds_gil)
			printf(", holds the GIL");
		putchar('\n');
		if (!t->nframes)
			printf("    (no Python frames)\n");
		for (__u32 k = 0; k < t->nframes; k++) {
			symcache__frame(sc, &t->frames[k], frame, sizeof(frame));
			printf("    %s\n", frame);
		}
		if (t->flags & SAMPLE_TRUNCATED)
			printf("    [truncated]\n");
		else if (t->flags & SAMPLE_READ_ERROR)
			printf("    [unreadable frames: the chain broke off]\n");
	}
}

/* frames as a JSON array under key: function, file, line (null when
 * unknown); dump's threads and dump --tasks' tasks. */
void dump_json_frames(struct json *j, const char *key, struct symcache *sc,
		      const struct py_frame *frames, unsigned int n)
{
	json_arr(j, key);
	for (unsigned int k = 0; k < n; k++) {
		const char *name, *file;
		int line;

		json_obj(j, NULL);
		if (symcache__resolve(sc, &frames[k], &name, &file, &line)) {
			json_null(j, "function");
			json_null(j, "file");
			json_null(j, "line");
		} else {
			json_s(j, "function", name);
			json_s(j, "file", file);
			if (line > 0)
				json_i(j, "line", line);
			else
				json_null(j, "line");
		}
		json_end(j);
	}
	json_end(j);
}

static void print_json(const struct pyproc_info *info, struct symcache *sc,
		       struct thread_view *v, int n)
{
	struct json j;
	char id[32];

	json_init(&j, stdout);
	json_obj(&j, NULL);
	json_i(&j, "pid", info->pid);
	json_s(&j, "command", info->cmd);
	json_s(&j, "python", info->version);
	json_s(&j, "binary", info->binary);
	json_arr(&j, "threads");
	for (int i = 0; i < n; i++) {
		const struct py_thread *t = v[i].py;
		char comm[TASK_COMM_LEN + 1] = "";
		bool idle = v[i].state != 'R';

		if (v[i].task)
			snprintf(comm, sizeof(comm), "%.*s", TASK_COMM_LEN,
				 v[i].task->comm);
		json_obj(&j, NULL);
		if (v[i].task)
			json_u(&j, "tid", v[i].task->tid);
		else
			json_null(&j, "tid");
		/* the program's name for it; the OS one where it gave none */
		json_s(&j, "name", v[i].name ? v[i].name : v[i].task ? comm : NULL);
		json_s(&j, "os_name", v[i].task ? comm : NULL);
		snprintf(id, sizeof(id), "0x%llx", t->thread_id);
		json_s(&j, "thread_id", id);
		json_b(&j, "holds_gil", t->holds_gil);
		json_s(&j, "state", idle ? "idle" : "running");
		json_s(&j, "reason", idle ? v[i].reason : NULL);
		json_s(&j, "syscall", idle ? v[i].syscall : NULL);
		json_b(&j, "truncated", t->flags & SAMPLE_TRUNCATED);
		dump_json_frames(&j, "frames", sc, t->frames, t->nframes);
		json_end(&j);
	}
	json_end(&j);
	json_end(&j);
	fputc('\n', stdout);
}

enum { D_PID = 'p', D_JSON = 'j' };

static const struct cmd_opt dump_opts[] = {
	{ "pid", 'p', true, D_PID },
	{ "json", 'j', false, D_JSON },
	{ NULL },
};

struct dump_args {
	pid_t pid;
	bool json;
};

static int dump_opt(void *ctx, int id, const char *arg)
{
	struct dump_args *d = ctx;
	unsigned long v;

	if (id == D_JSON) {
		d->json = true;
		return 0;
	}
	if (parse_uint(arg, "pid", 1, INT_MAX, &v))
		return -EINVAL;
	d->pid = (pid_t)v;
	return 0;
}

static const struct cmd_def dump_def = {
	.name = "dump",
	.opts = dump_opts,
	.opt = dump_opt,
	.usage = usage,
};

int cmd_dump(int argc, char **argv)
{
	struct session_opts unused;
	struct dump_args args = { 0 };
	struct pyproc_info info;
	struct task_entry *tasks = NULL;
	struct py_thread *threads = NULL;
	struct thread_view *views = NULL;
	struct py_thread_name *names = NULL;
	struct symcache *sc = NULL;
	enum opts_result res;
	pid_t pid;
	char err[512];
	int c, n, ntasks, nnames, ret = 1;

	if (dump_tasks_wanted(argc, argv))
		return cmd_dump_tasks(argc, argv);
	session_opts_init(&unused);
	res = options_parse(&dump_def, argc, argv, &unused, &args, NULL);
	if (res != OPTS_OK)
		return res == OPTS_HELP ? 0 : res == OPTS_REFUSED ? 2 : 1;
	pid = args.pid;
	if (!pid) {
		usage(stderr);
		return 1;
	}
	if (check_privileges())
		return 1;
	if (pyproc_detect_young(pid, &info, err, sizeof(err))) {
		pr_err("%s", err);
		return 1;
	}
	ntasks = list_tasks(pid, &tasks);
	if (ntasks < 0) {
		pr_err("cannot list the threads of %d: %s", pid,
		       strerror(-ntasks));
		goto out;
	}
	/* The task iterator was the privileged part. */
	c = drop_capabilities(false);
	if (c)
		pr_warn("could not drop capabilities: %s", strerror(-c));
	threads = calloc(MAX_THREADS, sizeof(*threads));
	views = calloc(MAX_THREADS, sizeof(*views));
	sc = symcache__new(pid, &info.bpf.off);
	if (!threads || !views || !sc) {
		pr_err("out of memory");
		goto out;
	}
	n = pystack_read(pid, &info.bpf, threads, MAX_THREADS);
	if (n < 0) {
		pr_err("cannot read the thread states of %d: %s", pid,
		       strerror(-n));
		goto out;
	}
	nnames = read_names(pid, &info.bpf, &names);
	for (int i = 0; i < n; i++) {
		views[i].py = &threads[i];
		for (int k = 0; k < nnames; k++)
			if (names[k].ident == threads[i].thread_id)
				views[i].name = names[k].name;
		for (int k = 0; k < ntasks; k++)
			if (tasks[k].fsbase == threads[i].thread_id) {
				views[i].task = &tasks[k];
				break;
			}
		if (views[i].task)
			classify(pid, &info.bpf, &views[i]);
	}
	if (args.json)
		print_json(&info, sc, views, n);
	else
		print_text(&info, sc, views, n);
	ret = fflush(stdout) ? 1 : 0;
out:
	symcache__free(sc);
	free(names);
	free(views);
	free(threads);
	free(tasks);
	pyproc_cache_free();
	return ret;
}

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph dump --tasks: every asyncio task of every loop of the chosen
 * processes, as a tree of who awaits whom: each task's name, state,
 * coroutine stack and what it waits on, its awaited tasks under the
 * coroutine frame that awaits them (the shape of `python3.14 -m asyncio
 * pstree`, for 3.11+). Read from the processes' memory (python/pytasks.c)
 * without stopping them.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/options.h"
#include "model/json.h"
#include "python/pyproc.h"
#include "python/pytasks.h"
#include "python/symcache.h"
#include "sys/caps.h"
#include "sys/container.h"
#include "sys/ctrnames.h"
#include "sys/log.h"

#define DUMP_PROCS_MAX 4096
#define PREFIX_MAX     512 /* tree indentation, in bytes of box drawing */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pyrograph dump --tasks [-p PID]... | -a | --container NAME [--json]\n"
		"\n"
		"Prints every asyncio task of every event loop of the processes, as a tree\n"
		"of who awaits whom: each task's name, state (running, waiting, ready),\n"
		"coroutine stack (outermost first; a waiting task's innermost frame is\n"
		"where it awaits), what it waits on (another task, a gather of tasks, a\n"
		"future), and under the frame that awaits them the tasks it waits for.\n"
		"CPython 3.11 to 3.15, asyncio's C Task (its default; uvloop's loop too).\n"
		"The processes are not stopped: the tasks are read as they are then.\n"
		"\n"
		"Targets (default: -a):\n"
		"  -p, --pid PID          this process (repeatable)\n"
		"  -a, --all              every Python process on the host (in text,\n"
		"                         those with asyncio tasks)\n"
		"      --container NAME   only processes in that container: its name, an id\n"
		"                         prefix, or its pod (POD, NS/POD, NS/POD/NAME)\n"
		"      --cgroup PATH      only processes in cgroup PATH (v2 path) or below\n"
		"\n"
		"Options:\n"
		"  -j, --json             one JSON object: {\"processes\": [{\"pid\", \"tasks\":\n"
		"                         [{\"id\", \"name\", \"state\", \"awaits\", \"awaited_by\",\n"
		"                         \"stack\"}]}]}\n"
		"  -v, --verbose          debug messages\n"
		"  -h, --help             this help\n"
		"\n"
		"Examples:\n"
		"  pyrograph dump --tasks -p 1234\n"
		"  pyrograph dump --tasks --container web --json | jq '.processes[].tasks | length'\n");
}

enum { T_TASKS = 1, T_JSON = 'j' };

static const struct cmd_opt tasks_opts[] = {
	{"tasks", 0, false, T_TASKS},
	{"json", 'j', false, T_JSON},
	{NULL},
};

static int tasks_opt(void *ctx, int id, const char *arg)
{
	(void)arg;
	if (id == T_JSON)
		*(bool *)ctx = true;
	return 0;
}

static const struct cmd_def tasks_def = {
	.name = "dump",
	.groups = OPT_TARGETS,
	.opts = tasks_opts,
	.opt = tasks_opt,
	.usage = usage,
};

bool dump_tasks_wanted(int argc, char **argv)
{
	/* --tasks=X too: this parser says what is wrong with it */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--tasks") ||
		    !strncmp(argv[i], "--tasks=", 8))
			return true;
	return false;
}

/* The Python processes -a, --container or --cgroup select. */
static int select_all(const struct session_opts *so, pid_t *out, int max)
{
	struct ctrnames *names = NULL;
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)) && n < max) {
		struct container_info ci;
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || pid == getpid() ||
		    container_read((pid_t)pid, &ci))
			continue;
		if (so->container) {
			if (ci.id[0] && !names)
				names = ctrnames_new(NULL);
			if (ci.id[0] && names)
				ctrnames_get(names, ci.id, ci.runtime, 0,
					     &ci.names);
			if (!container_matches(&ci, so->container))
				continue;
		}
		if (so->cgroup && !container_matches_cgroup(&ci, so->cgroup))
			continue;
		out[n++] = (pid_t)pid;
	}
	closedir(d);
	ctrnames_free(names);
	return n;
}

/* One process's tasks, read. */
struct proc_tasks {
	struct pyproc_info info;
	struct symcache *sc;
	int n; /* tasks, or -errno */
	const char *why;
	struct pytasks_stats st;
	/* the tables, of PYTASKS_MAX each, reused from process to process:
	 * the tasks, and the tree: first child, next sibling (sorted by
	 * name), shown */
	struct py_task *t;
	int *first, *next;
	bool *shown;
};

static const char *state_name(const struct py_task *t)
{
	return t->state == PYTASK_RUNNING ? "running" :
	       t->state == PYTASK_WAITING ? "waiting" :
					    "ready";
}

static const char *short_type(const char *type)
{
	return strncmp(type, "_asyncio.", 9) ? type : type + 9;
}

/* What t waits on, in words. */
static void awaits_text(const struct proc_tasks *p, const struct py_task *t,
			char *buf, size_t len)
{
	switch (t->state == PYTASK_WAITING ? t->awaits : PYAWAIT_NONE) {
	case PYAWAIT_TASK:
		for (int i = 0; i < p->n; i++)
			if (p->t[i].addr == t->waiter) {
				snprintf(buf, len, "waiting on task %s",
					 p->t[i].name);
				return;
			}
		snprintf(buf, len, "waiting on a task");
		return;
	case PYAWAIT_GATHER:
		snprintf(buf, len, "waiting on a gather of %u task%s",
			 t->nawaiting, t->nawaiting == 1 ? "" : "s");
		return;
	case PYAWAIT_FUTURE:
		snprintf(buf, len, "waiting on a %s",
			 short_type(t->waiter_type));
		return;
	}
	snprintf(buf, len, "%s",
		 t->state == PYTASK_RUNNING ? "running" : "ready to run");
}

static void link_children(struct proc_tasks *p)
{
	for (int i = p->n; i-- > 0;) {
		int *head = NULL, parent;

		if (!p->t[i].nawaited_by)
			continue;
		parent = p->t[i].awaited_by[0];
		head = &p->first[parent];
		while (*head >= 0 &&
		       strverscmp(p->t[*head].name, p->t[i].name) < 0)
			head = &p->next[*head];
		p->next[i] = *head;
		*head = i;
	}
}

struct printer {
	struct proc_tasks *p;
	char prefix[PREFIX_MAX];
	size_t plen;
};

/* One more level of indentation under a node (the last of its siblings or
 * not); false when the tree is too deep to indent further. */
static bool indent(struct printer *pr, bool last)
{
	const char *add = last ? "    " : "\u2502   ";
	size_t len = strlen(add);

	if (pr->plen + len >= sizeof(pr->prefix))
		return false;
	memcpy(pr->prefix + pr->plen, add, len);
	pr->plen += len;
	return true;
}

static void line(const struct printer *pr, bool last, const char *text,
		 const char *note)
{
	printf("%.*s%s %s%s\n", (int)pr->plen, pr->prefix,
	       last ? "\u2514\u2500\u2500" : "\u251c\u2500\u2500", text, note);
}

static void print_task(struct printer *pr, int i, bool last)
{
	struct proc_tasks *p = pr->p;
	const struct py_task *t = &p->t[i];
	size_t saved = pr->plen;
	char text[PYTASK_NAME_MAX + 256], what[128], frame[1024];
	size_t pos;

	p->shown[i] = true;
	awaits_text(p, t, what, sizeof(what));
	pos = snprintf(text, sizeof(text), "task %s (%s", t->name, what);
	for (int a = 1; a < t->nawaited_by && pos < sizeof(text); a++)
		pos += snprintf(text + pos, sizeof(text) - pos,
				"; also awaited by %s",
				p->t[t->awaited_by[a]].name);
	line(pr, last, text, ")");
	if (!indent(pr, last))
		goto deep;
	for (unsigned int k = 0; k < t->nframes; k++) {
		bool inner = k + 1 == t->nframes;

		symcache__frame(p->sc, &t->frames[k], frame, sizeof(frame));
		line(pr, true, frame,
		     !inner ? "" :
		     (t->flags & PYTASK_TRUNCATED) ?
			      " [deeper frames not read]" :
		     (t->flags & PYTASK_UNREADABLE) ?
			      " [the stack broke off here]" :
			      "");
		if (!indent(pr, true))
			goto deep;
	}
	for (int c = p->first[i]; c >= 0; c = p->next[c]) {
		int after = p->next[c];

		while (after >= 0 && p->shown[after])
			after = p->next[after];
		if (!p->shown[c])
			print_task(pr, c, after < 0);
	}
	pr->plen = saved;
	return;
deep:
	printf("%.*s    [deeper levels not shown]\n", (int)pr->plen,
	       pr->prefix);
	pr->plen = saved;
}

static void print_text(struct proc_tasks *p)
{
	struct printer pr = {.p = p};
	unsigned int count[3] = {0};
	unsigned long long loop = 0;
	bool several = false;

	printf("Process %d: %s\n", p->info.pid, p->info.cmd);
	if (p->n < 0) {
		printf("Python %s: no asyncio tasks read: %s\n\n",
		       p->info.version, p->why);
		return;
	}
	for (int i = 0; i < p->n; i++) {
		count[p->t[i].state]++;
		several |= i && p->t[i].loop != p->t[0].loop;
	}
	printf("Python %s: %d asyncio task%s (%u running, %u waiting, %u ready)%s\n",
	       p->info.version, p->n, p->n == 1 ? "" : "s",
	       count[PYTASK_RUNNING], count[PYTASK_WAITING],
	       count[PYTASK_READY],
	       p->st.dropped ? " [more not read: too many]" : "");
	/* roots, by loop; then whatever a cycle of awaits left out */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < p->n; i++) {
			const struct py_task *t = &p->t[i];

			if (p->shown[i] || (pass == 0 && t->nawaited_by))
				continue;
			if (pass == 0 && several && (t->loop != loop || !i)) {
				loop = t->loop;
				printf("\nEvent loop 0x%llx:\n", loop);
			} else if (pass == 1 && !loop++) {
				printf("\nAwaiting one another in a cycle:\n");
			}
			print_task(&pr, i, true);
		}
		if (pass == 0)
			loop = 0;
	}
	putchar('\n');
}

static void json_task(struct json *j, const struct proc_tasks *p,
		      const struct py_task *t)
{
	static const char *const kinds[] = {NULL, "task", "gather", "future"};
	char id[32];

	json_obj(j, NULL);
	snprintf(id, sizeof(id), "0x%llx", t->addr);
	json_s(j, "id", id);
	json_s(j, "name", t->name);
	json_s(j, "state", state_name(t));
	snprintf(id, sizeof(id), "0x%llx", t->loop);
	json_s(j, "loop", id);
	if (t->state == PYTASK_WAITING && t->awaits) {
		json_obj(j, "awaits");
		json_s(j, "kind", kinds[t->awaits]);
		json_s(j, "type", short_type(t->waiter_type));
		snprintf(id, sizeof(id), "0x%llx", t->waiter);
		json_s(j, "id", id);
		json_u(j, "tasks", t->nawaiting);
		json_end(j);
	} else {
		json_null(j, "awaits");
	}
	json_arr(j, "awaited_by");
	for (int a = 0; a < t->nawaited_by; a++) {
		snprintf(id, sizeof(id), "0x%llx", p->t[t->awaited_by[a]].addr);
		json_s(j, NULL, id);
	}
	json_end(j);
	dump_json_frames(j, "stack", p->sc, t->frames, t->nframes);
	json_b(j, "truncated", t->flags & PYTASK_TRUNCATED);
	json_b(j, "unreadable", t->flags & PYTASK_UNREADABLE);
	json_end(j);
}

static void json_proc(struct json *j, const struct proc_tasks *p)
{
	json_obj(j, NULL);
	json_i(j, "pid", p->info.pid);
	json_s(j, "command", p->info.cmd);
	json_s(j, "python", p->info.version);
	json_s(j, "error", p->n < 0 ? p->why : NULL);
	json_arr(j, "tasks");
	for (int i = 0; i < p->n; i++)
		json_task(j, p, &p->t[i]);
	json_end(j);
	json_b(j, "more_tasks", p->st.dropped);
	json_u(j, "reads", p->st.reads);
	json_f(j, "read_ms", "%.3f", p->st.ns / 1e6);
	json_end(j);
}

/* Reads pid's tasks into p (p->t is the caller's table). */
static int read_proc(pid_t pid, struct proc_tasks *p, bool named)
{
	struct pytasks *pt;
	char err[512];
	int ret = named ? pyproc_detect_young(pid, &p->info, err, sizeof(err)) :
			  pyproc_detect(pid, &p->info, err, sizeof(err));

	if (ret) {
		if (named)
			pr_err("%s", err);
		return ret;
	}
	pt = pytasks_new(pid, &p->info);
	p->sc = symcache__new(pid, &p->info.bpf.off);
	if (!pt || !p->sc) {
		pytasks_free(pt);
		return -ENOMEM;
	}
	p->n = pytasks_read(pt, p->t, PYTASKS_MAX, &p->st);
	if (p->n < 0)
		p->why = strdup(pytasks_why(pt));
	pytasks_free(pt);
	pr_debug("process %d: %d tasks, %llu reads, %.2f ms", pid, p->n,
		 p->st.reads, p->st.ns / 1e6);
	return 0;
}

/* One process, in text or JSON: 0, 1 when left out of the text (no task
 * in a process found by -a), or a negative errno. */
static int show_proc(pid_t pid, struct proc_tasks *p, bool named,
		     struct json *j)
{
	int ret;

	memset(p, 0, offsetof(struct proc_tasks, t));
	ret = read_proc(pid, p, named);
	if (ret)
		return ret;
	/* -a: a tree of every Python process would bury the ones using
	 * asyncio (JSON has them all, each with its reason) */
	if (!j && !named && p->n <= 0) {
		symcache__free(p->sc);
		free((char *)p->why);
		return 1;
	}
	for (int i = 0; i < PYTASKS_MAX; i++) {
		p->first[i] = p->next[i] = -1;
		p->shown[i] = false;
	}
	if (p->n > 0)
		link_children(p);
	if (j)
		json_proc(j, p);
	else
		print_text(p);
	symcache__free(p->sc);
	free((char *)p->why);
	return 0;
}

int cmd_dump_tasks(int argc, char **argv)
{
	static pid_t pids[DUMP_PROCS_MAX];
	struct session_opts so;
	struct proc_tasks p = {0};
	struct json j;
	bool json = false;
	int n, ret = 1, shown = 0, quiet = 0;

	session_opts_init(&so);
	switch (options_parse(&tasks_def, argc, argv, &so, &json, NULL)) {
	case OPTS_OK:
		break;
	case OPTS_HELP:
		return 0;
	case OPTS_REFUSED:
		return 2;
	default:
		return 1;
	}
	if (so.cmd) {
		pr_err("dump --tasks reads running processes: -p PID, -a or --container, not a command");
		return 2;
	}
	if (check_privileges())
		return 1;
	/* reading the targets' memory and files is all that is left to do */
	n = drop_capabilities(false);
	if (n)
		pr_warn("could not drop capabilities: %s", strerror(-n));
	n = so.npids;
	memcpy(pids, so.pids, n * sizeof(pids[0]));
	if (so.all && (n = select_all(&so, pids, DUMP_PROCS_MAX)) < 0) {
		pr_err("cannot list the processes: %s", strerror(-n));
		return 1;
	}
	p.t = calloc(PYTASKS_MAX, sizeof(*p.t));
	p.first = calloc(PYTASKS_MAX, sizeof(int));
	p.next = calloc(PYTASKS_MAX, sizeof(int));
	p.shown = calloc(PYTASKS_MAX, sizeof(bool));
	if (!p.t || !p.first || !p.next || !p.shown) {
		pr_err("out of memory");
		goto out;
	}
	if (json) {
		json_init(&j, stdout);
		json_obj(&j, NULL);
		json_arr(&j, "processes");
	}
	for (int i = 0; i < n; i++) {
		int err = show_proc(pids[i], &p, !so.all, json ? &j : NULL);

		if (err < 0 && !so.all)
			goto out;
		shown += !err;
		quiet += err == 1;
	}
	if (json) {
		json_end(&j);
		json_end(&j);
		fputc('\n', stdout);
	} else if (so.all && !shown) {
		printf("No Python process%s has asyncio tasks%s.\n",
		       so.container || so.cgroup ?
			       " in the selected containers" :
			       "",
		       quiet ? "" : " (no Python process found)");
	}
	if (!json && so.all && shown && quiet)
		printf("%d more Python process%s without asyncio tasks.\n",
		       quiet, quiet == 1 ? "" : "es");
	ret = fflush(stdout) ? 1 : 0;
out:
	free(p.t);
	free(p.first);
	free(p.next);
	free(p.shown);
	pyproc_cache_free();
	return ret;
}
